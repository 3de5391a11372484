"""Named pipes for tests of code that must refuse them: should a regression open one
for reading (which blocks until a writer comes), a writer comes after a few seconds, so
that the test fails instead of hanging."""

import contextlib
import os
import threading


@contextlib.contextmanager
def fifo(path, after: float = 5.0):
    """A FIFO at ``path`` with no writer while the block runs, unless something opened it
    for reading and waited ``after`` seconds: then a writer opens and closes it at once (the
    reader meets an empty file)."""
    os.mkfifo(path)
    done = threading.Event()

    def rescue():
        if done.wait(after):
            return
        while not done.is_set():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # ENXIO: no reader (yet)
                done.wait(0.05)

    thread = threading.Thread(target=rescue, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        done.set()
        thread.join()
