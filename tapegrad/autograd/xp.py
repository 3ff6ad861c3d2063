"""The two namespaces a backward rule is evaluated with.

A rule is written once, ``rule(xp, grad, out, *inputs)``, using Python operators (``+ - * / ** @``,
comparisons), the methods ``.sum(axis=, keepdims=)``, ``.reshape()``, ``.mT`` and ``.shape``, which numpy arrays
and tensors share, and functions ``xp.NAME`` with numpy's names and signatures:

- ``numpy_xp`` is numpy itself plus a few functional helpers numpy lacks: first-order backward, on arrays.
- ``tensor_xp`` maps the same names onto tapegrad's differentiable ops: with ``create_graph=True`` the
  backward pass is recorded, so gradients of gradients come from the same rules.

The ops are above this module: each declaration registers its op in ``tensor_xp`` (``register_tensor_xp``),
under its own name unless an adapter below already gives numpy's signature for that name.

``xp.mul`` and ``xp.div`` are PyTorch's names, not numpy's: the product and true quotient in PyTorch's result dtype
(a 0-d operand does not widen a tensor with dims, a float16 result takes a one-element second operand at its own
value in float32), on arrays as tapegrad's ``mul``/``div`` on tensors (``ops/elementwise.py``). A formula whose
operands may differ in dtype (derivatives.yaml's for addcmul, on the tensors as given) uses them, not ``*``/``/``,
whose promotion on arrays is numpy's.
"""

import types

import numpy as np

from .._tensor import Tensor, wrap
from .scatter import scatter_add_array
from .tape import record


class _NumpyXP(types.SimpleNamespace):
    def __getattr__(self, name):  # numpy's submodules (linalg, fft, ...): imported when a rule first asks
        value = getattr(np, name)
        setattr(self, name, value)
        return value


_SUBMODULES = getattr(np, "__numpy_submodules__", {"linalg", "fft", "random", "polynomial", "f2py", "testing"})
numpy_xp = _NumpyXP(**{k: getattr(np, k) for k in dir(np) if not k.startswith("_") and k not in _SUBMODULES})


def _np_astype(a, dtype):
    return a.astype(dtype, copy=False)


def _np_linear(apply, adjoint, x, name=None):
    """``apply(x)`` for a linear map of arrays (its adjoint is only needed when the map is recorded)."""
    return apply(x)


def _np_sign(a):
    """sign with 0 at NaN, as tapegrad's (and PyTorch's) sign, so a rule gives the same answer in both namespaces."""
    out = np.sign(a)
    return np.where(np.isnan(out), 0, out).astype(out.dtype, copy=False) if out.dtype.kind == "f" else out


def _np_cumprod(a, axis=None):
    """cumprod as tapegrad's (and PyTorch's CPU scan): the running product kept in float64 for float32 (float32 for
    float16), each output rounded, so [3e38, 3e38, 0] gives [3e38, inf, 0] on arrays as on tensors, not nan."""
    acc = np.float64 if a.dtype == np.float32 else np.float32 if a.dtype == np.float16 else None
    if axis is None:
        a, axis = a.reshape(-1), 0
    # (the ufunc's own method, called from here: numpy's overflow warnings are then filtered as tapegrad's)
    return np.multiply.accumulate(a, axis=axis, dtype=acc).astype(a.dtype, copy=False)


def _np_sum(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    """np.sum, with the ufunc's reduce called from here, so numpy's overflow and inf - inf warnings are filtered as
    tapegrad's (np.sum calls it from numpy's module)."""
    return np.add.reduce(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kwargs)


def _np_cumsum(a, axis=None, dtype=None, out=None):
    """np.cumsum as the array's method, called from here (filtered as tapegrad's, as ``_np_sum``)."""
    return np.asarray(a).cumsum(axis=axis, dtype=dtype, out=out)


def _np_pow(a, e):
    """a ** e as tapegrad's (and PyTorch's) pow: for an exponent tensor (an array, or the numpy scalar a 0-d array's
    arithmetic gives), C's pow everywhere, where numpy's
    loop takes sqrt for an exponent of 0.5 it broadcasts (stride 0) and gives -0.0 and nan at -0.0 and -inf, C's
    pow +0.0 and +inf. (A number exponent of 0.5 is sqrt in PyTorch too: numpy's fast path is right there.)"""
    out = np.power(a, e)
    if isinstance(e, (np.ndarray, np.generic)) and out.dtype.kind == "f" and (e == 0.5).any():
        edge = (e == 0.5) & ((a == 0) | (a == -np.inf))
        if edge.any():
            out = np.where(edge, np.where(a == 0, 0, np.inf).astype(out.dtype), out)
    return out


numpy_xp.sign = _np_sign
numpy_xp.pow = _np_pow
numpy_xp.cumprod = _np_cumprod
numpy_xp.sum = _np_sum
numpy_xp.cumsum = _np_cumsum
numpy_xp.add_at = scatter_add_array  # a zero array of shape with values added at index (repeats accumulate)
numpy_xp.astype = _np_astype
numpy_xp.linear = _np_linear


class _TensorXP:
    """numpy's names over tapegrad ops: the adapters below, and the ops registered by their declarations."""

    def __getattr__(self, name):
        raise AttributeError(f"create_graph: no differentiable tapegrad op is registered for numpy's {name!r}")

    @staticmethod
    def sum(a, axis=None, keepdims=False):
        return a.sum(dim=axis, keepdim=keepdims)

    @staticmethod
    def mean(a, axis=None, keepdims=False):
        return a.mean(dim=axis, keepdim=keepdims)

    @staticmethod
    def broadcast_to(a, shape):
        return a.expand(shape)  # a tuple or an int, as numpy

    @staticmethod
    def transpose(a, axes=None):
        axes = tuple(reversed(range(a.ndim))) if axes is None else axes
        return a.permute(tuple(axes))  # one sequence: permute() without dims is an error, as in PyTorch

    @staticmethod
    def swapaxes(a, axis1, axis2):
        return a.transpose(axis1, axis2)

    @staticmethod
    def amax(a, axis=None, keepdims=False):
        return a.amax(dim=() if axis is None else axis, keepdim=keepdims)

    @staticmethod
    def moveaxis(a, source, destination):
        return a.movedim(source, destination)

    @staticmethod
    def expand_dims(a, axis):
        if not isinstance(axis, (tuple, list)):
            return a.unsqueeze(axis)
        n = a.ndim + len(axis)
        for d in sorted(d % n for d in axis):  # numpy's axes are positions in the result
            a = a.unsqueeze(d)
        return a

    @staticmethod
    def squeeze(a, axis=None):
        return a.squeeze() if axis is None else a.squeeze(axis)

    @staticmethod
    def reshape(a, shape):
        return a.reshape(shape)

    @staticmethod
    def concatenate(arrays, axis=0):
        return _OPS["cat"](list(arrays), dim=axis)

    @staticmethod
    def take_along_axis(a, indices, axis):
        return _OPS["take_along_dim"](a, _const(indices), dim=axis)

    @staticmethod
    def cumsum(a, axis):
        return a.cumsum(dim=axis)

    @staticmethod
    def flip(a, axis=None):
        if axis is None:
            axis = tuple(range(a.ndim))
        return a.flip(axis if isinstance(axis, (tuple, list)) else (axis,))

    @staticmethod
    def zeros_like(a, dtype=None):
        return _const(np.zeros_like(a._data, dtype=dtype))

    @staticmethod
    def ones_like(a, dtype=None):
        return _const(np.ones_like(a._data, dtype=dtype))

    @staticmethod
    def astype(a, dtype):
        return a.type(dtype)

    @staticmethod
    def linear(apply, adjoint, x, name="LinearMapBackward0"):
        """``apply(x)`` for a linear map ``apply`` of arrays whose adjoint is ``adjoint``, recorded: its gradient
        is ``adjoint`` (recorded in turn, with ``apply`` as its adjoint), so a rule written with ``xp.linear``
        has gradients of every order."""
        def rule(xp, g, out, x):
            return xp.linear(adjoint, apply, g, name)

        return record(apply(x._data), (x,), rule, name)


    # numpy signatures (keywords, defaults) for shape ops whose PyTorch names differ in arguments or meaning
    @staticmethod
    def roll(a, shift, axis=None):
        return a.roll(shift, axis)

    @staticmethod
    def tril(m, k=0):
        return m.tril(k)

    @staticmethod
    def triu(m, k=0):
        return m.triu(k)

    @staticmethod
    def diagonal(a, offset=0, axis1=0, axis2=1):
        return a.diagonal(offset, axis1, axis2)

    @staticmethod
    def stack(arrays, axis=0):
        return _OPS["stack"](list(arrays), dim=axis)

    @staticmethod
    def repeat(a, repeats, axis=None):  # numpy's repeat repeats elements (PyTorch's repeat_interleave)
        if not isinstance(repeats, int):
            raise NotImplementedError("create_graph: xp.repeat supports an int number of repeats only")
        if axis is None:
            a, axis = a.reshape(-1), 0
        axis %= a.ndim
        shape = tuple(a.shape)
        wide = shape[:axis + 1] + (repeats,) + shape[axis + 1:]
        long = shape[:axis] + (shape[axis] * repeats,) + shape[axis + 1:]
        return a.unsqueeze(axis + 1).expand(wide).reshape(long)

    @staticmethod
    def split(ary, indices_or_sections, axis=0):  # numpy's: a number of equal pieces, or split points
        n = ary.shape[axis]
        if isinstance(indices_or_sections, int):
            if n % indices_or_sections:
                raise ValueError("array split does not result in an equal division")
            return list(ary.split(n // indices_or_sections, axis))
        bounds = [0] + [min(max(i + n if i < 0 else i, 0), n) for i in indices_or_sections] + [n]
        return [ary.narrow(axis, a, max(b - a, 0)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    @staticmethod
    def maximum(a, b):  # numpy's takes numbers too; PyTorch's maximum takes two tensors (with a number: clamp)
        if not isinstance(b, Tensor):
            return a.clamp(min=b)
        return b.clamp(min=a) if not isinstance(a, Tensor) else _OPS["maximum"](a, b)

    @staticmethod
    def minimum(a, b):
        if not isinstance(b, Tensor):
            return a.clamp(max=b)
        return b.clamp(max=a) if not isinstance(a, Tensor) else _OPS["minimum"](a, b)

    @staticmethod
    def take(a, indices, axis=None):
        if axis is None:
            return a.reshape(-1)[_const(indices)]
        return a[(slice(None),) * (axis % a.ndim) + (_const(indices),)]


def _const(a):
    return a if isinstance(a, Tensor) else wrap(np.asarray(a))


tensor_xp = _TensorXP()
_OPS: dict = {}  # every registered op by its tapegrad name (the adapters above call some of them)


def register_tensor_xp(name, fn):
    """Make ``fn`` (a differentiable op) ``tensor_xp.<name>``, unless an adapter above already defines the name."""
    _OPS[name] = fn
    if not hasattr(_TensorXP, name):
        setattr(tensor_xp, name, fn)
