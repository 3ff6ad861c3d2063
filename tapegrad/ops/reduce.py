"""Reductions over ``dim`` (an int, a tuple, or None for all) with ``keepdim``."""

import numpy as np

from .._tensor import Tensor, _check_dim, _record, tensor_method

__all__ = ["sum", "mean"]


def normalize_dims(op, dim, ndim):
    """``dim`` as a sorted tuple of non-negative axes (None -> all axes)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted(_check_dim(op, d, ndim) for d in dim))
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {tuple(dim)} names an axis more than once")
        return axes if ndim else ()
    return (_check_dim(op, dim, ndim),) if ndim else ()


def dim_args(op, dim, keepdim, axis, keepdims):
    """Accept numpy's ``axis``/``keepdims`` spellings beside PyTorch's ``dim``/``keepdim`` (PyTorch does too)."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as 1s: the shape a reduced gradient broadcasts back from."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


@tensor_method()
def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """sum(input, dim=None, keepdim=False, *, dtype=None): the sum over ``dim`` (all elements by default).

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0)
    tensor([4., 6.])
    """
    dim, keepdim = dim_args("sum", dim, keepdim, axis, keepdims)
    x = input._data
    axes = normalize_dims("sum", dim, x.ndim)
    if dtype is not None:
        input = input.type(dtype)
        x = input._data
    out = x.sum(axis=axes, keepdims=keepdim)
    if x.dtype.kind in "biu":
        return Tensor(np.asarray(out, dtype=np.int64))
    out = np.asarray(out, dtype=x.dtype)
    shape = kept_shape(x.shape, axes)

    def backward(xp, g, out, x):
        return (xp.broadcast_to(g.reshape(shape), x.shape),)

    return _record(out, (input,), backward)


@tensor_method()
def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """mean(input, dim=None, keepdim=False, *, dtype=None): the mean over ``dim`` (floating point only)."""
    dim, keepdim = dim_args("mean", dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.type(dtype)
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"mean: input dtype must be floating point, got {x.dtype}; cast with .float() first")
    axes = normalize_dims("mean", dim, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    out = np.asarray(x.mean(axis=axes, keepdims=keepdim), dtype=x.dtype)
    shape = kept_shape(x.shape, axes)

    def backward(xp, g, out, x):
        return (xp.broadcast_to(g.reshape(shape) / n, x.shape),)

    return _record(out, (input,), backward)
