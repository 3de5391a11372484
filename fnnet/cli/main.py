"""The ``fnnet`` command's entry: the subcommands wired to the parser, one line for any
mistake, Ctrl-C and SIGTERM leaving the run whole. Argument parsing and printing only;
the work is in ``fnnet.runs`` and ``fnnet.structure``."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from fnnet import compilation_cache, loaders
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
    if isinstance(e, OSError) and e.strerror:
        # Files are named by their errors; one that names none was the standard output.
        return f"{e.filename if e.filename is not None else 'standard output'}: {e.strerror}"
    if isinstance(e, MemoryError):
        return f"out of memory{f' ({e})' if str(e) else ''}"
    text = " ".join(str(e).split("\n"))
    # The library speaks of its keyword arguments; here they are options.
    for keyword, flag in (("header=True", "--header"), ("label_column=", "--label-column "), ("format=", "--format ")):
        text = text.replace(keyword, flag)
    return text


_terminated = []


def _terminate(signum, frame):
    # SIGTERM (`kill`, `timeout`) is handled like Ctrl-C: the run is left whole.
    _terminated.append(signum)
    raise KeyboardInterrupt


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
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        if not args.no_cache:
            compilation_cache.use_compilation_cache()
        code = args.run(args)
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
        what = "terminated" if _terminated else "interrupted"
        print(f"fnnet {args.command}: {what}{f' {e}' if str(e) else ''}", file=sys.stderr)
        return 143 if what == "terminated" else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
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
