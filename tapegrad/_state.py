"""The state every layer of tapegrad reads: grad mode, the write clock and anomaly mode.

This module imports nothing from tapegrad, so the tensor, the tape, the engine and the ops can all depend on it
without an import cycle. Code above the tape changes this state only through its public doors:
``tapegrad.no_grad`` & co. (``autograd/grad_mode.py``), the in-place ops and
``tapegrad.autograd.graph.increment_version`` (``autograd/inplace.py``), ``tapegrad.autograd.detect_anomaly``.
"""

import threading


class _GradMode(threading.local):
    """Whether ops record themselves on the tape, per thread (as PyTorch's grad mode)."""

    enabled = True


grad = _GradMode()


class _Clock:
    """The global write clock. A tensor's ``_version`` is the time of its last in-place write and a node's
    ``_stamp`` the time it was recorded, so one comparison tells whether an input changed after its use."""

    # NOTE: an instance with a slot, not a class attribute: every in-place write ticks it, and writing a class
    # attribute costs twice as much and invalidates the interpreter's caches of every read of it.
    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 1


clock = _Clock()


class anomaly:
    """Anomaly mode (``tapegrad.autograd.detect_anomaly``): off by default, and then free: the tape checks
    ``anomaly.enabled`` once per op it records."""

    enabled = False
    check_nan = True
    warned: set = set()  # op names already warned about in this anomaly-mode block


# Instruments watching backward passes (tapegrad.viz.BackwardTrace): each is called with every node a backward
# processes, its gradient and the gradients its rule returned. Empty, the engine does nothing more.
observers: list = []
