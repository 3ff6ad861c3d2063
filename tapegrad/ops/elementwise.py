"""Elementwise ops: arithmetic with broadcasting, and unary math. Each forward sits beside its gradient rule.

Rules follow ``rule(xp, grad, out, *inputs)`` (see ``tapegrad/autograd/xp.py``); the engine reduces broadcast
gradients and casts dtypes, so rules here never call unbroadcast themselves.
"""

import numpy as np

from .. import dtypes
from .._tensor import Tensor, _record, _wrap, as_tensor_operand, tensor_method

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "neg", "negative", "pow",
           "exp", "log", "tanh", "relu", "clamp", "clip", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less",
           "greater_equal", "less_equal", "not_equal", "equal"]


def operands(op, a, b):
    """Both operands of a binary op as tensors of PyTorch's result dtype."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
        a = as_tensor_operand(a, b, op)
    elif not isinstance(b, Tensor):
        b = as_tensor_operand(b, a, op)
    da, db = a._data.dtype, b._data.dtype
    if da != db:
        dt = dtypes.promote(a._data, b._data)
        if da != dt:
            a = a.type(dt)
        if db != dt:
            b = b.type(dt)
    return a, b


def broadcast_error(op, a, b):
    return ValueError(f"{op}: cannot broadcast shapes {tuple(a.shape)} and {tuple(b.shape)} together "
                      f"(sizes must be equal or 1, aligned from the right)")


def _binary(op, ufunc, a, b, backward):
    a, b = operands(op, a, b)
    try:
        out = ufunc(a._data, b._data)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    return _record(out, (a, b), backward)


# ---------------------------------------------------------------------- + - * /
@tensor_method("add", "__add__", "__radd__")
def add(input, other, *, alpha=1):
    """add(input, other, *, alpha=1) -> input + alpha * other, with broadcasting.

    >>> import tapegrad as tg
    >>> tg.add(tg.tensor([1.0, 2.0]), 10)
    tensor([11., 12.])
    """
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _binary("add", np.add, input, other, _add_backward)


def _add_backward(xp, g, out, a, b):
    return g, g


@tensor_method("sub", "subtract", "__sub__")
def sub(input, other, *, alpha=1):
    """sub(input, other, *, alpha=1) -> input - alpha * other, with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _binary("sub", np.subtract, input, other, _sub_backward)


subtract = sub


def _sub_backward(xp, g, out, a, b):
    return g, -g


@tensor_method()
def __rsub__(self, other):
    return sub(other, self)


@tensor_method("mul", "multiply", "__mul__", "__rmul__")
def mul(input, other):
    """mul(input, other) -> input * other, with broadcasting."""
    return _binary("mul", np.multiply, input, other, _mul_backward)


multiply = mul


def _mul_backward(xp, g, out, a, b):
    return g * b, g * a


@tensor_method("div", "divide", "true_divide", "__truediv__")
def div(input, other, *, rounding_mode=None):
    """div(input, other, *, rounding_mode=None) -> input / other (true division: integers give floats)."""
    if rounding_mode is not None:
        from .elementwise_more import _rounded_div  # floor/trunc division: no gradient

        return _rounded_div(input, other, rounding_mode)
    a, b = operands("div", input, other)
    if a._data.dtype.kind != "f":
        a, b = a.type(dtypes.get_default_dtype()), b.type(dtypes.get_default_dtype())
    try:
        out = np.divide(a._data, b._data)
    except ValueError:
        raise broadcast_error("div", a, b) from None
    return _record(out, (a, b), _div_backward)


divide = true_divide = div


def _div_backward(xp, g, out, a, b):
    gb = g / b
    return gb, -gb * out


@tensor_method()
def __rtruediv__(self, other):
    return div(other, self)


@tensor_method("neg", "negative", "__neg__")
def neg(input):
    """neg(input) -> -input."""
    return _record(np.negative(input._data), (input,), _neg_backward)


negative = neg


def _neg_backward(xp, g, out, x):
    return (-g,)


@tensor_method()
def __pos__(self):
    return self


# ---------------------------------------------------------------------- powers
@tensor_method("pow", "__pow__")
def pow(input, exponent):
    """pow(input, exponent): input ** exponent, for a number or tensor exponent (or a number base)."""
    if not isinstance(input, Tensor):
        return _binary("pow", np.power, input, exponent, _pow_backward)
    if isinstance(exponent, Tensor):
        return _binary("pow", np.power, input, exponent, _pow_backward)
    e = exponent
    x = input
    if x._data.dtype.kind != "f" and isinstance(e, float):
        x = x.type(dtypes.get_default_dtype())
    if x._data.dtype.kind in "iu" and e < 0:
        raise RuntimeError("pow: integers to negative integer powers are not allowed")
    data = x._data
    out = data * data if e == 2 else np.power(data, e)

    def backward(xp, g, out, x):
        if e == 0:
            return (g * 0,)
        if e == 2:
            return (g * 2 * x,)
        return (g * e * x ** (e - 1),)

    backward.__qualname__ = "pow.<locals>.backward"
    return _record(out, (x,), backward)


def _pow_backward(xp, g, out, a, b):
    # NOTE: d/db a**b = a**b * log(a) is taken as 0 at a == 0 (PyTorch's convention), not 0 * -inf = nan.
    log_a = xp.log(xp.where(a == 0, 1, a))
    return g * b * a ** (b - 1), g * out * log_a


@tensor_method()
def __rpow__(self, other):
    return pow(other, self)


# ---------------------------------------------------------------------- unary math
@tensor_method()
def exp(input):
    """exp(input) -> e ** input, elementwise."""
    return _record(np.exp(input._data), (input,), _exp_backward)


def _exp_backward(xp, g, out, x):
    return (g * out,)


@tensor_method()
def log(input):
    """log(input) -> natural logarithm, elementwise (-inf at 0, nan below, as PyTorch)."""
    return _record(np.log(_float(input)._data), (_float(input),), _log_backward)


def _log_backward(xp, g, out, x):
    return (g / x,)


@tensor_method()
def tanh(input):
    """tanh(input), elementwise."""
    return _record(np.tanh(_float(input)._data), (_float(input),), _tanh_backward)


def _tanh_backward(xp, g, out, x):
    return (g * (1 - out * out),)


@tensor_method()
def relu(input):
    """relu(input) -> max(input, 0). NOTE: the gradient at exactly 0 is 0, as in PyTorch."""
    x = input._data
    return _record(np.maximum(x, 0, dtype=x.dtype), (input,), _relu_backward)


def _relu_backward(xp, g, out, x):
    return (g * (out > 0),)


@tensor_method("clamp", "clip")
def clamp(input, min=None, max=None):
    """clamp(input, min=None, max=None): limit values to [min, max]; the gradient is 1 inside, 0 where clipped."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    lo = min._data if isinstance(min, Tensor) else min
    hi = max._data if isinstance(max, Tensor) else max
    x = input._data
    out = np.clip(x, lo, hi)
    if out.dtype != x.dtype and isinstance(lo, (int, float, type(None))) and isinstance(hi, (int, float, type(None))):
        out = out.astype(np.result_type(x, *(v for v in (lo, hi) if v is not None)))

    def backward(xp, g, out, x):
        inside = (x >= lo) if lo is not None else None
        if hi is not None:
            inside = (x <= hi) if inside is None else inside & (x <= hi)
        return (g * inside,)

    return _record(out, (input,), backward)


clip = clamp


def _float(t):
    return t if t._data.dtype.kind == "f" else t.type(dtypes.get_default_dtype())


def _copy_into(dst, src):
    """The value ``copy_`` writes: ``src`` broadcast to ``dst``'s shape and cast to its dtype."""
    try:
        data = np.broadcast_to(src._data, dst._data.shape)
    except ValueError:
        raise RuntimeError(f"copy_: cannot broadcast a source of shape {tuple(src.shape)} to the destination "
                           f"shape {tuple(dst.shape)}") from None
    data = data.astype(dst._data.dtype)

    def backward(xp, g, out, d, s):
        return None, g

    backward.__qualname__ = "copy.<locals>.backward"
    return _record(data, (dst, src), backward)


# ---------------------------------------------------------------------- comparisons (no gradient)
def _compare(op, ufunc):
    def compare(input, other):
        a, b = operands(op, input, other)
        try:
            return _wrap(ufunc(a._data, b._data))
        except ValueError:
            raise broadcast_error(op, a, b) from None

    compare.__name__ = compare.__qualname__ = op
    compare.__doc__ = f"{op}(input, other) -> bool tensor of input {ufunc.__name__} other, elementwise (no grad)."
    return compare


eq = tensor_method("eq", "__eq__")(_compare("eq", np.equal))
ne = not_equal = tensor_method("ne", "not_equal", "__ne__")(_compare("ne", np.not_equal))
lt = less = tensor_method("lt", "less", "__lt__")(_compare("lt", np.less))
le = less_equal = tensor_method("le", "less_equal", "__le__")(_compare("le", np.less_equal))
gt = greater = tensor_method("gt", "greater", "__gt__")(_compare("gt", np.greater))
ge = greater_equal = tensor_method("ge", "greater_equal", "__ge__")(_compare("ge", np.greater_equal))


def equal(input, other):
    """equal(input, other) -> bool: True if both have the same shape and elements."""
    return tuple(input.shape) == tuple(other.shape) and bool(np.array_equal(input._data, other._data))


@tensor_method("__and__")
def _and(self, other):
    a, b = operands("and", self, other)
    return _wrap(np.bitwise_and(a._data, b._data))


@tensor_method("__or__")
def _or(self, other):
    a, b = operands("or", self, other)
    return _wrap(np.bitwise_or(a._data, b._data))


@tensor_method("__invert__", "logical_not")
def _invert(self):
    return _wrap(np.logical_not(self._data) if self._data.dtype.kind == "b" else np.invert(self._data))
