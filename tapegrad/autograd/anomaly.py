"""Anomaly mode: find the op that produced a NaN or an infinity, forward or backward.

    with tapegrad.autograd.detect_anomaly():
        loss = model(x).sum()      # each op records where it was called; an op whose output became non-finite
        loss.backward()            # from finite inputs is named in an AnomalyWarning, with that traceback

As PyTorch's: a backward rule that returns NaN (or an infinity) raises a RuntimeError naming the node
(``SqrtBackward0``), with the traceback of the forward call that recorded it; ``check_nan=False`` keeps only the
tracebacks (an error raised inside a rule then carries the forward traceback of its op). Beyond PyTorch, forward
outputs are checked too: the first op whose output became non-finite from finite inputs is where a NaN was born
(an overflow, log(0), 0/0), and the backward error names it as well.

Off by default, and then free: the tape checks one flag per op.
"""

from __future__ import annotations

import functools
import traceback
import warnings

import numpy as np

from .. import _state
from .._tensor import Tensor

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "AnomalyWarning"]


class AnomalyWarning(RuntimeWarning):
    """An op's output became non-finite (NaN or an infinity) from finite inputs, under anomaly mode."""


def is_anomaly_enabled() -> bool:
    return _state.anomaly.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return _state.anomaly.check_nan


class detect_anomaly:
    """detect_anomaly(check_nan=True): anomaly mode inside a ``with`` block, or around a decorated function.

    >>> import tapegrad as tg
    >>> x = tg.tensor([0.0, 1.0], requires_grad=True)
    >>> with tg.autograd.detect_anomaly():
    ...     try:
    ...         x.sqrt().sum().backward()
    ...     except RuntimeError as e:
    ...         print(str(e).splitlines()[0])
    Function 'SqrtBackward0' returned non-finite values (inf) in its 0th output.
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (_state.anomaly.enabled, _state.anomaly.check_nan)
        _state.anomaly.enabled, _state.anomaly.check_nan = True, self.check_nan
        _state.anomaly.warned = set()
        return self

    def __exit__(self, *exc):
        _state.anomaly.enabled, _state.anomaly.check_nan = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """set_detect_anomaly(mode, check_nan=True): turn anomaly mode on or off, now or inside a ``with`` block."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (_state.anomaly.enabled, _state.anomaly.check_nan)
        _state.anomaly.enabled, _state.anomaly.check_nan = bool(mode), bool(check_nan)
        _state.anomaly.warned = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.anomaly.enabled, _state.anomaly.check_nan = self.prev
        return False


# ---------------------------------------------------------------------- called by the tape and the engine
def _non_finite(a) -> str | None:
    a = a._data if isinstance(a, Tensor) else a
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.size == 0:
        return None
    if np.isfinite(a).all():
        return None
    return "nan" if np.isnan(a).any() else "inf"


def check_forward(t: Tensor, inputs: tuple, name: str) -> None:
    """An op's output: warn (once per op name) if it became non-finite while every input was finite."""
    if not _state.anomaly.check_nan:
        return
    kind = _non_finite(t._data)
    if kind is None or any(_non_finite(p) is not None for p in inputs):
        return
    trace = traceback.extract_stack()[:-3]
    t._extras()["anomaly"] = (name, kind, trace)
    if name not in _state.anomaly.warned:
        _state.anomaly.warned.add(name)
        warnings.warn(f"anomaly mode: {name} produced {kind} values from finite inputs (shape "
                      f"{tuple(t._data.shape)}), at:\n{_format(trace)}", AnomalyWarning, stacklevel=4)


def check_backward(node: Tensor, g, grads) -> None:
    """A node's gradients: raise if a rule returned NaN or an infinity, naming the node and where it was made."""
    if not _state.anomaly.check_nan or node._backward is None:
        return
    for k, g in enumerate(grads):
        if g is None:
            continue
        kind = _non_finite(g)
        if kind is not None:
            raise RuntimeError(f"Function '{node._name}' returned non-finite values ({kind}) in its {k}th output."
                               + _origin(node))


def forward_trace_note(node: Tensor) -> str:
    """The note added to an error raised in ``node``'s rule under anomaly mode."""
    return f"anomaly mode: the error came from {node._name}." + _origin(node)


def _origin(node):
    text = ""
    trace = node._extra.get("trace") if node._extra is not None else None
    if trace:
        text += f"\nTraceback of the forward call that recorded {node._name}:\n{_format(trace)}"
    first = _first_non_finite(node)
    if first is not None:
        name, kind, trace = first
        text += f"\nThe first op whose output became {kind} from finite inputs: {name}, at:\n{_format(trace)}"
    return text


def _first_non_finite(node):
    """The earliest op below ``node`` that anomaly mode saw make a non-finite output from finite inputs."""
    found, seen, stack = None, set(), [node]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        record = t._extra.get("anomaly") if t._extra is not None else None
        if record is not None and (found is None or t._stamp < found[0]):
            found = (t._stamp, record)
        stack.extend(t._parents)
    return None if found is None else found[1]


_PACKAGE = __file__.rsplit("autograd", 1)[0]


def _format(trace) -> str:
    """The user's frames of a forward traceback (tapegrad's own frames at its end dropped), the last eight."""
    frames = list(trace)
    while frames and frames[-1].filename.startswith(_PACKAGE):
        frames.pop()
    return "".join(traceback.format_list(frames[-8:])).rstrip()
