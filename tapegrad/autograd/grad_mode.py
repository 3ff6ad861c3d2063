"""Grad mode: whether operations record themselves on the tape (thread-local, like PyTorch's)."""

import functools
import inspect
import sys
import warnings

from .._state import grad as state


def is_grad_enabled():
    """is_grad_enabled() -> bool: whether operations are being recorded in this thread."""
    return state.enabled


class _DecoratorContextManager:
    """A grad mode usable as ``with mode:`` and as a decorator ``@mode``, as PyTorch's.

    Decorating a function runs each call in a fresh copy of the mode (``clone()``). Decorating a generator
    function holds the mode inside the generator's body only, across its yields: each resume runs in the
    mode, and the caller's own mode is back in force between them (PyTorch's ``_wrap_generator``).
    """

    prev = True

    def clone(self):
        raise NotImplementedError

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False

    def __call__(self, fn):
        if inspect.isclass(fn):  # as PyTorch 2.13: deprecated, and only the construction runs in the mode
            warnings.warn(f"{type(self).__name__}: decorating classes is deprecated (as in PyTorch); decorate "
                          "__init__ or the methods instead", FutureWarning, stacklevel=2)
            fn = functools.partial(fn)  # a callable that is not a class, wrapped below like any function
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(self.clone, fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper


def _wrap_generator(mode, fn):
    """``fn``'s generator, every step of which (send, throw, close) runs under a fresh ``mode()``."""

    @functools.wraps(fn)
    def generator(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with mode():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with mode():
                        gen.close()
                    raise
                except BaseException:
                    with mode():
                        response = gen.throw(*sys.exc_info())
                else:
                    with mode():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value

    return generator


class set_grad_enabled(_DecoratorContextManager):
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

    def __call__(self, fn):
        state.enabled = self.prev  # used as a decorator: construction must not leave the mode changed
        return super().__call__(fn)

    def clone(self):
        return set_grad_enabled(self.mode)


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """A grad mode that may also be used bare, as ``@no_grad`` without parentheses."""

    # NOTE: ``with no_grad():`` opens every hand-written update loop, so making one costs a single Python call:
    # no ``*args`` to pack, no ``super()``, and no ``__init__`` (the mode is read on entering, not on making).
    def __new__(cls, fn=None, *args, **kwargs):
        if fn is None or args or kwargs or fn.__class__ is bool or not callable(fn):
            return object.__new__(cls)
        return cls()(fn)  # bare ``@no_grad``


class no_grad(_NoParamDecoratorContextManager):
    """no_grad(): nothing inside records a graph; usable as ``with no_grad():``, ``@no_grad()`` or ``@no_grad``.

    >>> import tapegrad as tg
    >>> with tg.no_grad():
    ...     (tg.ones(2, requires_grad=True) * 2).requires_grad
    False
    """

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False
        return self

    def clone(self):
        return no_grad()


class enable_grad(_NoParamDecoratorContextManager):
    """enable_grad(): record again inside a ``no_grad`` region; context manager or decorator."""

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = True
        return self

    def clone(self):
        return enable_grad()


class inference_mode(_NoParamDecoratorContextManager):
    """inference_mode(mode=True): in tapegrad, the same as ``no_grad`` (nothing is recorded).

    ``inference_mode(False)`` turns recording on, as PyTorch's does.
    """

    def __init__(self, mode=True):
        self.prev = state.enabled
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = not self.mode
        return self

    def clone(self):
        return inference_mode(self.mode)
