"""Hypothesis strategies for tensors, shapes, dims and indices."""

import numpy as np

from .._optional import require

st = require("hypothesis.strategies", feature="tapegrad.testing's strategies", extra="test", package="hypothesis")
hnp = require("hypothesis.extra.numpy", feature="tapegrad.testing's strategies", extra="test", package="hypothesis")


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes (tuples of ints)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together (some dims stretched, some missing)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(lambda r: r.input_shapes)


def arrays(shape=None, dtype=np.float64, min_value=-3.0, max_value=3.0, **shape_kwargs):
    """numpy arrays of ``dtype`` with finite values in [min_value, max_value]; ``shape`` may be a strategy."""
    if shape is None:
        shape = shapes(**shape_kwargs)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                             width=64 if dtype == np.float64 else 32)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        elements = st.integers(int(min_value), int(max_value))
    return hnp.arrays(dtype, shape, elements=elements)


def tensors(shape=None, dtype=np.float32, min_value=-3.0, max_value=3.0, requires_grad=False, **shape_kwargs):
    """tapegrad tensors built from :func:`arrays`."""
    from ..creation import tensor

    return arrays(shape, dtype, min_value, max_value, **shape_kwargs).map(
        lambda a: tensor(a, requires_grad=requires_grad and a.dtype.kind == "f"))


def valid_dims(ndim, allow_none=True, allow_tuple=True):
    """A ``dim`` argument valid for a tensor of ``ndim`` dims: None, an int (maybe negative) or a tuple."""
    n = max(ndim, 1)
    single = st.integers(-n, n - 1)
    options = [single]
    if allow_none:
        options.append(st.none())
    if allow_tuple and ndim > 0:
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return st.one_of(*options)


@st.composite
def dims_and_shape(draw, min_dims=1, max_dims=3, **kw):
    """(shape, dim) pairs where ``dim`` is valid for ``shape``."""
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, **kw))
    return shape, draw(valid_dims(len(shape)))


def index_arrays(size, min_len=1, max_len=6, negative=True):
    """int64 index arrays into an axis of ``size``, with repeats (and negative indices if allowed)."""
    low = -size if negative else 0
    return st.lists(st.integers(low, size - 1), min_size=min_len, max_size=max_len).map(
        lambda v: np.array(v, dtype=np.int64))


def boolean_masks(shape):
    """Boolean arrays of ``shape``."""
    return hnp.arrays(np.bool_, shape, elements=st.booleans())
