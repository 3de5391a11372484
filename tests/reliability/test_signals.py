"""Ctrl-C and SIGTERM stop every command within a few seconds at any moment (importing,
compiling, training, inside one long XLA call), with exit 130 or 143, one line on stderr,
and the last checkpoint intact."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fnnet.cli import main as cli
from fnnet.runs import directories as runs
from fnnet.runs.pipeline import restore_run
from fnnet.storage import atomic
from tests.support.command import fnnet

#: A process must be gone this long after a signal (the watcher's grace, and some slack
#: for a loaded 2-core CI machine).
STOPPED_WITHIN = cli.GRACE + 4.0

#: The main thread inside one XLA call of ~20-60 s on a CPU, under the command's handlers;
#: a second thread may be writing a file through fnnet's atomic writer meanwhile.
BUSY = textwrap.dedent("""
    import os, sys, threading, time
    import jax, jax.numpy as jnp
    from fnnet.cli import main
    from fnnet.storage import atomic

    @jax.jit
    def long(x):
        return jax.lax.fori_loop(0, 400, lambda i, v: jnp.tanh(v @ v), x)

    x = jnp.ones((2000, 2000)) / 2000
    long.lower(x).compile()

    def write(path, seconds):
        with atomic.open_for_replace(path) as f:
            f.write("first half;")
            f.flush()
            print("writing", flush=True)
            time.sleep(seconds)
            f.write("second half")

    with main._Signals("probe"):
        if sys.argv[1:2] == ["write"]:
            threading.Thread(target=write, args=(sys.argv[2], float(sys.argv[3]))).start()
            time.sleep(0.2)
        elif sys.argv[1:2] == ["run"]:  # a run directory made, nothing saved in it yet
            from fnnet.runs import directories
            run = directories.create(sys.argv[2])
            atomic.write_text(run.path / directories.CONFIG, "{}")
        print("busy", flush=True)
        try:
            float(long(x).sum())  # waits for the result without looking at signals
        except KeyboardInterrupt:
            print("heard only after the call", file=sys.stderr, flush=True)
            os._exit(3)
    print("the call ended before the signal", file=sys.stderr, flush=True)
    os._exit(4)
""")


def busy(*argv):
    proc = subprocess.Popen([sys.executable, "-c", BUSY, *map(str, argv)], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    for line in proc.stdout:
        if line.strip() == "busy":
            return proc
    raise AssertionError(f"the script never got busy: {proc.communicate()}")


def stopped(proc, timeout=120):
    """``(seconds until it ended, stderr)``."""
    start = time.monotonic()
    _, err = proc.communicate(timeout=timeout)
    return time.monotonic() - start, err


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_a_signal_stops_a_main_thread_inside_one_long_xla_call(signum, code, word):
    proc = busy()
    time.sleep(0.5)
    proc.send_signal(signum)
    seconds, err = stopped(proc)
    assert proc.returncode == code, err
    assert seconds < STOPPED_WITHIN, seconds
    assert err == f"fnnet probe: {word} while busy (every file it wrote is whole)\n"


def test_a_second_ctrl_c_stops_it_at_once():
    proc = busy()
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    seconds, err = stopped(proc)
    assert proc.returncode == 130, err
    assert seconds < cli.GRACE, seconds  # not the grace: the second signal cut it short


def test_the_watcher_never_cuts_a_write(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("old")
    proc = busy("write", path, 5.0)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    seconds, err = stopped(proc)
    assert proc.returncode == 143, err
    assert seconds > 4.0, seconds  # it waited for the write, well past the grace
    assert path.read_text() == "first half;second half"
    assert not [p for p in tmp_path.iterdir() if atomic.is_temporary(p.name)]


def test_a_run_directory_that_saved_nothing_is_removed_when_the_watcher_ends_the_process(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / "new" / "run"
    proc = busy("run", out)
    assert (out / runs.CONFIG).exists()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    seconds, err = stopped(proc)
    assert proc.returncode == 143 and seconds < STOPPED_WITHIN, (err, seconds)
    assert err == "fnnet probe: terminated while busy (every file it wrote is whole)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # the run and the parent made for it


def test_a_command_that_returns_disarms_the_watcher():
    """A command run in-process (a script calling ``fnnet.cli.main.run``) leaves no watcher
    behind: a later signal is Python's again."""
    assert fnnet("worked-example") == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.set_wakeup_fd(-1) == -1


#: (seconds after the start, signal): importing, compiling, the first epochs, later ones.
#: (Not the first ~0.1 s: while Python itself starts and imports the package, before
#: ``fnnet/__main__`` runs, Ctrl-C is Python's own KeyboardInterrupt.)
MOMENTS = [(0.15, signal.SIGINT), (0.4, signal.SIGTERM), (1.2, signal.SIGINT), (2.0, signal.SIGTERM),
           (3.0, signal.SIGINT), (4.5, signal.SIGTERM)]


@pytest.mark.parametrize("after, signum", MOMENTS, ids=[f"{a}s-{signal.Signals(s).name}" for a, s in MOMENTS])
def test_train_stops_at_any_moment_and_keeps_its_last_checkpoint(tmp_path, after, signum):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "fnnet", "train", "--hidden", "64", "--epochs", "5000",
                             "--patience", "0", "--quiet", "--no-plot", "--out", str(out)],
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after)
    proc.send_signal(signum)
    seconds, err = stopped(proc)
    code, word = (143, "terminated") if signum == signal.SIGTERM else (130, "interrupted")
    # Before the interpreter has started, the signal's default action ends it (the shell
    # reports the same 130 or 143); nothing can have been written.
    assert proc.returncode == code or (proc.returncode == -signum and not out.exists()), err
    assert seconds < STOPPED_WITHIN, seconds
    assert "Traceback" not in err and err.count("\n") <= 1, err
    assert err == "" or err.startswith(f"fnnet train: {word}"), err
    if (out / runs.CHECKPOINT).exists():
        epoch = int(restore_run(out).state.epoch)
        assert f"the checkpoint of epoch {epoch} " in err or "the checkpoint written last" in err, err
        assert not [p for p in out.iterdir() if atomic.is_temporary(p.name)]
        assert fnnet("resume", out, "--epochs", "1", "--quiet", "--no-plot") == 0
    else:
        assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())


def test_a_signal_that_came_while_the_last_write_could_not_be_cut_still_ends_in_its_status(monkeypatch, capsys):
    """SIGTERM during the final report, held off while a file is written, and the command
    then done: the status still says it was terminated (143), not success."""
    import os

    def finishing(args):
        with atomic.WRITING:  # a write in progress: the handler holds the KeyboardInterrupt back
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
        return 0

    monkeypatch.setattr(cli, "worked_example_command", finishing)
    assert fnnet("worked-example") == 143
    # (or, when the held-back interrupt is raised in the moment before the command returns,
    # an interruption like any other)
    assert capsys.readouterr().err in ("fnnet worked-example: terminated as it finished (every file it wrote is "
                                       "whole)\n", "fnnet worked-example: terminated (every file it wrote is whole)\n")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
