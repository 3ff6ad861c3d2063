"""Grad mode: whether operations record themselves on the tape (thread-local, like PyTorch's)."""

import functools
import threading


class _GradState(threading.local):
    enabled = True


state = _GradState()


def is_grad_enabled():
    """is_grad_enabled() -> bool: whether operations are being recorded in this thread."""
    return state.enabled


class set_grad_enabled:
    """set_grad_enabled(mode): turn recording on or off, as a function call, context manager or decorator.

    >>> import tapegrad as tg
    >>> with tg.set_grad_enabled(False):
    ...     (tg.ones(2, requires_grad=True) * 2).requires_grad
    False
    """

    def __init__(self, mode=None):
        self.prev = state.enabled
        if mode is not None:
            state.enabled = bool(mode)
        self.mode = mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        state.enabled = self.prev  # used as a decorator: construction must not leave the mode changed
        return wrapper


class no_grad(set_grad_enabled):
    """no_grad(): nothing inside records a graph; usable as ``with no_grad():`` or ``@no_grad()``.

    >>> import tapegrad as tg
    >>> with tg.no_grad():
    ...     (tg.ones(2, requires_grad=True) * 2).requires_grad
    False
    """

    def __new__(cls, fn=None):
        if fn is not None and callable(fn):  # used bare, as ``@no_grad``
            return cls()(fn)
        return super().__new__(cls)

    def __init__(self, fn=None):
        self.prev = state.enabled
        self.mode = False

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False
        return self

    def __call__(self, fn=None):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """enable_grad(): record again inside a ``no_grad`` region; context manager or decorator."""

    def __init__(self, fn=None):
        self.prev = state.enabled
        self.mode = True

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = True
        return self

    def __call__(self, fn=None):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with enable_grad():
                return fn(*args, **kwargs)

        return wrapper


class inference_mode(no_grad):
    """inference_mode(mode=True): in tapegrad, the same as ``no_grad`` (nothing is recorded)."""

    def __init__(self, mode=True):
        self.prev = state.enabled
        self.mode = not mode

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = self.mode
        return self
