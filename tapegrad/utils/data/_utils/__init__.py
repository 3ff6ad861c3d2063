"""The DataLoader's internals (``torch.utils.data._utils``): collation, fetching, and the worker processes."""

import atexit
import multiprocessing.util  # noqa: F401 (imported first, so that its exit handler runs after ours)
import sys

IS_WINDOWS = sys.platform == "win32"

MP_STATUS_CHECK_INTERVAL = 5.0
"""Seconds between a worker's checks that its main process is still alive (when no task arrives), as PyTorch."""

python_exit_status = False
"""Set when the interpreter starts exiting: from then on, iterators leave their (daemonic) workers to
multiprocessing's own exit handler, which terminates them, instead of talking to them."""


def _set_python_exit_flag():
    global python_exit_status
    python_exit_status = True


atexit.register(_set_python_exit_flag)

from . import collate, fetch, transport, worker  # noqa: E402, F401
