import os
import signal

# A signal before the command's own handlers are in place (while it imports) ends it as
# they would, without a traceback: nothing has been written yet.
signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))
signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(143))

from fnnet.cli.main import entry  # noqa: E402

entry()
