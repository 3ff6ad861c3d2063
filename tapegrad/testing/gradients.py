"""Assertions: an op's forward equals a numpy expression; its gradient equals float64 central differences."""

import numpy as np

from .. import _tensor as _t
from ..autograd.gradcheck import gradcheck


def _as_input(x, requires_grad):
    if isinstance(x, _t.Tensor):
        x = x._data
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return _t.wrap(x.astype(np.float64)).requires_grad_(requires_grad)
    return _t.wrap(x.copy())


def assert_gradients(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4, wrt=None):
    """Assert that the gradients of ``fn(*tensors)`` match central finite differences in float64.

    ``inputs`` are arrays or tensors; floating ones become float64 tensors that require grad (or only those
    whose positions are in ``wrt``). Non-float inputs (indices, masks) are passed as constant tensors.
    On failure the message names the input, the error, and the first recorded op whose backward is wrong.

    >>> import numpy as np
    >>> assert_gradients(lambda x: (x * x).sum(), np.array([1.0, 2.0]))
    """
    tensors = tuple(_as_input(x, wrt is None or i in wrt) for i, x in enumerate(inputs))
    gradcheck(fn, tensors, eps=eps, atol=atol, rtol=rtol)


def assert_forward(fn, reference, *inputs, rtol=1e-5, atol=1e-6, dtype=None):
    """Assert ``fn(*tensors)`` equals ``reference(*arrays)`` (values, shape and, for floats, dtype).

    >>> import numpy as np
    >>> assert_forward(lambda x: x.exp(), np.exp, np.array([0.0, 1.0], dtype=np.float32))
    """
    arrays = [np.asarray(x._data if isinstance(x, _t.Tensor) else x) for x in inputs]
    if dtype is not None:
        arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    got = fn(*[_t.wrap(a.copy()) for a in arrays])
    want = reference(*arrays)
    got_arr = got._data if isinstance(got, _t.Tensor) else np.asarray(got)
    want = np.asarray(want)
    assert got_arr.shape == want.shape, f"shape {got_arr.shape} != expected {want.shape}"
    if want.dtype.kind == "f":
        assert got_arr.dtype == want.dtype, f"dtype {got_arr.dtype} != expected {want.dtype}"
    np.testing.assert_allclose(got_arr, want, rtol=rtol, atol=atol, equal_nan=True)
