"""The ``fnnet`` command's entry: the subcommands wired to the parser, one line for any
mistake, Ctrl-C and SIGTERM leaving the run whole. Argument parsing and printing only;
the work is in ``fnnet.runs`` and ``fnnet.structure``."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
import warnings

from fnnet import compilation_cache, loaders
from fnnet.runs import directories
from fnnet.storage import atomic
from fnnet.cli.evaluate import evaluate_command
from fnnet.cli.parser import make_parser
from fnnet.cli.predict import predict_command
from fnnet.cli.resume import resume_command
from fnnet.cli.search import search_command
from fnnet.cli.train import train_command
from fnnet.cli.worked_example import worked_example_command


# ---------------------------------------------------------------- errors


def _message(e: BaseException, command: str) -> str:
    """One line for a user's mistake or an environment's refusal, in the command's words."""
    if isinstance(e, loaders.FormatError):
        formats = loaders.FEATURE_FORMATS if command == "predict" else loaders.FORMATS
        return (f"{e.path}: cannot tell the format from the name ({e.suffix or 'no suffix'}); "
                f"pass --format, one of {', '.join(formats)}")
    if isinstance(e, FileNotFoundError) and e.filename is None:
        # os.getcwd() (behind every relative path) fails so when the directory was deleted: it names no file.
        try:
            os.getcwd()
        except FileNotFoundError:
            return "the current directory no longer exists (it was deleted); cd to one that does and run it again"
    if isinstance(e, OSError) and e.strerror:
        # Files are named by their errors; one that names none was the standard output.
        return f"{e.filename if e.filename is not None else 'standard output'}: {e.strerror}"
    if isinstance(e, MemoryError) and type(e).__name__ == "MemoryEstimateError":
        return str(e)  # it says what was estimated and what to shrink
    if isinstance(e, MemoryError):
        return f"out of memory{f' ({e})' if str(e) else ''}"
    text = " ".join(str(e).split("\n"))
    # The library speaks of its keyword arguments; here they are options.
    for keyword, flag in (("header=True", "--header"), ("label_column=", "--label-column "), ("format=", "--format ")):
        text = text.replace(keyword, flag)
    return text


#: Seconds the main thread has, after Ctrl-C or SIGTERM, to hear it (Python runs signal
#: handlers between bytecodes) before the watcher ends the process; and, once it has
#: heard it, to finish saving what it keeps.
GRACE = 2.0
CLEANUP = 10.0
#: Seconds the watcher waits for a write in progress to end before it ends the process.
WRITE_WAIT = 30.0


class _Signals:
    """Ctrl-C and SIGTERM (`kill`, `timeout`) while a command runs: the first raises
    KeyboardInterrupt in the main thread, whose handlers leave the run whole and say what
    was kept. Python runs that handler only between bytecodes, so a main thread inside
    one long call (XLA compiling, a device computation, an allocation that never returns,
    NumPy reading a large file) would not hear it; the signal's number also reaches a watcher thread at once (the
    interpreter writes it to ``signal.set_wakeup_fd``'s pipe from its C handler), which ends
    the process after ``GRACE`` seconds if the command has not returned, once no file is
    being written (``atomic.WRITING``), with the same status. A second signal ends it at
    once, under the same condition."""

    def __init__(self, command: str):
        self.command, self.received, self.previous = command, [], {}
        self.done = threading.Event()  # the command returned: nothing left to watch
        self.heard = threading.Event()  # the main thread raised KeyboardInterrupt
        self.pipe = self.wakeup = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._handle)
        self.previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._retry)
        self.pipe = os.pipe()
        os.set_blocking(self.pipe[1], False)
        self.wakeup = signal.set_wakeup_fd(self.pipe[1], warn_on_full_buffer=False)
        threading.Thread(target=self._watch, daemon=True, name="fnnet-signals").start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        if self.pipe is None:
            return
        signal.set_wakeup_fd(self.wakeup)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        with contextlib.suppress(OSError):
            os.write(self.pipe[1], b"\0")  # wakes the watcher, which closes its end
        os.close(self.pipe[1])

    @property
    def terminated(self) -> bool:
        return signal.SIGTERM in self.received

    def _handle(self, signum, frame):
        if signum not in self.received:
            self.received.append(signum)
        self._retry(signal.SIGALRM, frame)

    def _retry(self, signum, frame):
        if not self.received or self.heard.is_set():
            return
        if _inside_jax(frame) or atomic.writing():
            # An exception raised in Python code that JAX's C++ called where it cannot pass
            # (a garbage collector's callback) aborts the process, and a write (with what
            # records it) is never cut: raise from the next safe spot, or let the watcher end it.
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            return
        self.heard.set()
        raise KeyboardInterrupt

    def _watch(self) -> None:
        read = self.pipe[0]
        try:
            first = deadline = None  # GRACE after the first signal (CLEANUP once it is heard)
            while not self.done.is_set():
                timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                if not select.select([read], [], [], timeout)[0]:
                    if self.heard.is_set() and deadline < first + CLEANUP:
                        deadline = first + CLEANUP  # the main thread is saving what it keeps
                    else:
                        self._end()
                    continue
                got = os.read(read, 64)
                signums = [n for n in got if n in (signal.SIGINT, signal.SIGTERM)]
                if signal.SIGTERM in signums and signal.SIGTERM not in self.received:
                    self.received.append(signal.SIGTERM)
                if signums and deadline is not None or len(signums) >= 2:
                    self._end()
                elif signums:
                    first = time.monotonic()
                    deadline = first + GRACE
                elif not got:
                    return  # the write end closed
        finally:
            os.close(read)

    def _end(self) -> None:
        # Never cut a write (the lock is held until the process is gone); but a write that
        # cannot end (a pipe nobody reads) does not hold the process: its target stays whole.
        got = atomic.WRITING.acquire(timeout=WRITE_WAIT)
        if self.done.is_set():
            if got:
                atomic.WRITING.release()
            return
        with contextlib.suppress(Exception):  # a directory made for a run that saved nothing goes
            directories.abandon_unsaved()
        what = "terminated" if self.terminated else "interrupted"
        busy = "while saving what it keeps" if self.heard.is_set() else "while busy"
        last = atomic.replaced.get(directories.CHECKPOINT)
        kept = f"the checkpoint written last, {last}, is intact" if last else "every file it wrote is whole"
        print(f"fnnet {self.command}: {what} {busy} ({kept})", file=sys.stderr)
        sys.stderr.flush()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(143 if self.terminated else 130)


_JAX_PARTS = (f"{os.sep}jax{os.sep}", f"{os.sep}jaxlib{os.sep}", "<frozen importlib")


def _inside_jax(frame) -> bool:
    """Whether ``frame`` or any frame below it is JAX's own code or an import: Python code
    that JAX's C++ calls (a garbage collector's callback, a module's initialisation, the
    tracing of a jitted function) may sit above frames an exception cannot cross."""
    while frame is not None:
        name = frame.f_code.co_filename
        if any(part in name for part in _JAX_PARTS):
            return True
        frame = frame.f_back
    return False


def _hook_memory_warnings() -> None:
    """fnnet.memory's warning of a run that barely fits, as the command's one line."""
    from fnnet import memory

    shown = warnings.showwarning
    if getattr(shown, "fnnet_memory", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, memory.MemoryWarning):
            print(f"fnnet: warning: {message}", file=sys.stderr)
            return
        shown(message, category, filename, lineno, file, line)

    show.fnnet_memory = True
    warnings.showwarning = show


def build_parser():
    """The command's argument parser."""
    return make_parser({"train": train_command, "resume": resume_command, "evaluate": evaluate_command,
                        "predict": predict_command, "worked-example": worked_example_command,
                        "search": search_command},
                       "Train a digit recogniser (or a classifier of your own data), resume, evaluate and "
                       "predict with it; and the notes' worked backpropagation example.")


def run(argv=None) -> int:
    """Run the command; returns its exit status (2 for any mistake, said in one line;
    130 or 143 when interrupted or terminated)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed its one line (or the help)
        return e.code
    start = time.perf_counter()
    signals = _Signals(args.command)
    try:
        signals.__enter__()
        _hook_memory_warnings()
        if not args.no_cache:
            compilation_cache.use_compilation_cache()
        code = args.run(args)
        if signals.received:  # it came while the last steps could not be cut, and they ended
            what = "terminated" if signals.terminated else "interrupted"
            print(f"fnnet {args.command}: {what} as it finished (every file it wrote is whole)", file=sys.stderr)
            return 143 if signals.terminated else 130
        if args.command in ("train", "resume") and not getattr(args, "quiet", False):
            print(f"({time.perf_counter() - start:.1f} s)")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`fnnet ... | head`): stop quietly, as other Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (ValueError, OSError, ImportError, MemoryError) as e:
        if os.environ.get("FNNET_DEBUG"):
            raise
        print(f"fnnet {args.command}: error: {_message(e, args.command)}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # the device's memory exhausted (JAX says RESOURCE_EXHAUSTED)
        from fnnet.runs.pipeline import out_of_memory

        memory = out_of_memory(e)
        if memory is None or os.environ.get("FNNET_DEBUG"):
            raise
        print(f"fnnet {args.command}: error: {_message(memory, args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        what = "terminated" if signals.terminated else "interrupted"
        print(f"fnnet {args.command}: {what} {e if str(e) else '(every file it wrote is whole)'}", file=sys.stderr)
        return 143 if what == "terminated" else 130
    finally:
        signals.__exit__()
    return code


def entry() -> None:
    """The console script: ``run``, then an exit that skips the interpreter's teardown
    after an interrupt (which can crash while XLA is compiling)."""
    code = run()
    if code in (130, 143):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
