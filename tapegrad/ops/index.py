"""Indexing: ``x[...]`` with ints, slices, None, Ellipsis, integer tensors and boolean masks."""

import numpy as np

from .._tensor import Tensor, _record, tensor_method

__all__ = ["add_at"]


def _index_arrays(index):
    """Replace tensors inside an index by their arrays, checking their dtypes."""
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    if isinstance(index, Tensor):
        index = index._data
    if isinstance(index, list):
        index = np.asarray(index)
    if isinstance(index, np.ndarray) and index.dtype.kind not in "biu":
        raise IndexError(f"getitem: tensors used as indices must be long, int or bool, got {index.dtype}")
    if isinstance(index, float):
        raise IndexError(f"getitem: only integers, slices, None, Ellipsis, and integer or boolean tensors are "
                         f"valid indices, got float {index}")
    return index


def is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice, np.integer)) for p in parts)


@tensor_method("__getitem__")
def getitem(input, index):
    """x[index]: numpy indexing. Gradients of repeated integer indices add up (scatter-add)."""
    index = _index_arrays(index)
    x = input._data
    try:
        out = x[index]
    except IndexError as e:
        raise IndexError(f"getitem: index {_describe(index)} is invalid for a tensor of shape {tuple(x.shape)}: "
                         f"{e}") from None
    if isinstance(out, np.generic):
        out = np.asarray(out)

    def backward(xp, g, out, x):
        return (xp.add_at(x.shape, index, g),)

    return _record(out, (input,), backward)


def _describe(index):
    parts = index if isinstance(index, tuple) else (index,)
    return "(" + ", ".join(f"array{p.shape}" if isinstance(p, np.ndarray) else repr(p) for p in parts) + ")"


def add_at(shape, index, values):
    """add_at(shape, index, values): zeros of ``shape`` with ``values`` added at ``index`` (repeats accumulate).

    The functional scatter-add that indexing's gradient uses; differentiable in ``values``.
    """
    out = np.zeros(shape, dtype=values._data.dtype)
    np.add.at(out, index, values._data)

    def backward(xp, g, out, v):
        return (g[index],)

    return _record(out, (values,), backward)


@tensor_method("__setitem__")
def setitem(self, index, value):
    """x[index] = value: in place; under grad mode allowed only on tensors that do not require grad."""
    from ..autograd.grad_mode import state
    from .._tensor import _bump

    if state.enabled and (self.requires_grad or isinstance(value, Tensor) and value.requires_grad):
        raise RuntimeError("setitem: in-place assignment to a tensor that requires grad (or of a value that "
                           "requires grad) is only supported under `with tapegrad.no_grad():`")
    index = _index_arrays(index)
    value = value._data if isinstance(value, Tensor) else value
    try:
        self._data[index] = value
    except (IndexError, ValueError) as e:
        raise type(e)(f"setitem: cannot assign a value of shape {np.shape(value)} at {_describe(index)} in a "
                      f"tensor of shape {tuple(self._data.shape)}: {e}") from None
    _bump(self)
