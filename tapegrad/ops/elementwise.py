"""Elementwise ops: arithmetic with broadcasting, unary math, rounding, selection, comparisons and logic.

Each forward sits beside its gradient rule. Rules follow ``rule(xp, grad, out, *inputs)`` (see
``tapegrad/autograd/xp.py``); the engine reduces broadcast gradients and casts dtypes, so rules here never
unbroadcast. Gradients follow PyTorch's conventions at kinks and ties (relu and clamp bounds, maximum ties,
pow at 0), and dtypes follow PyTorch's promotion (``tapegrad/dtypes.py``): Python and numpy scalars are weak
(``float32_tensor * 2.5`` stays float32), integer tensors give float results for true division and float math.

A binary op chooses its rule at forward time from which inputs require grad, so ``x * 2`` never computes the
gradient of the constant in backward: ``_binary_rules`` builds the (first only, second only, both) variants.
"""

import math

import numpy as np

from .. import dtypes
from .._tensor import Tensor, _inplace, _record, _wrap, as_tensor_operand, tensor_method

__all__ = [
    # arithmetic
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "neg", "negative", "positive", "abs", "absolute", "reciprocal", "square", "pow",
    "sqrt", "rsqrt", "lerp",
    # unary math
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "sinh", "cosh", "asin",
    "arcsin", "acos", "arccos", "atan", "arctan", "atan2", "arctan2", "tanh", "sigmoid", "relu", "erf",
    "erfc",
    # rounding and sign
    "floor", "ceil", "round", "trunc", "fix", "frac", "sign", "sgn",
    # selection
    "clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "where",
    # comparisons and logic
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal",
    "equal",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isclose", "allclose", "logical_and", "logical_or",
    "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
]

_default_dtype = dtypes.get_default_dtype
_ndarray = np.ndarray


# ---------------------------------------------------------------------- operands and the binary skeleton
def _expected_tensor(op, x):
    return TypeError(f"{op}: expected a Tensor as input, got {type(x).__name__}")


def _operand(op, x, like):
    """A non-tensor operand as a constant tensor. Python and numpy scalars are weak, as in PyTorch: they take
    the tensor's dtype within its category (int tensor + 2.5 -> the default float dtype)."""
    kind = type(x)
    if kind is not float and kind is not int and kind is not bool:
        if not (isinstance(x, np.generic) and x.dtype.kind in "biuf"):
            return as_tensor_operand(x, like, op)  # arrays and lists; TypeError for anything else
        x = x.item()
        kind = type(x)
    dt = like._data.dtype
    if kind is float:
        if dt.kind != "f":
            dt = _default_dtype()
    elif kind is int and dt.kind == "b":
        dt = dtypes.int64
    try:
        return _wrap(np.array(x, dtype=dt))
    except OverflowError:  # e.g. -1 for a uint8 tensor: wrap around, as PyTorch does
        return _wrap(np.array(x).astype(dt))


def operands(op, a, b):
    """Both operands of a binary op as tensors of PyTorch's result dtype."""
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = _operand(op, b, a)
    elif isinstance(b, Tensor):
        a = _operand(op, a, b)
    else:
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    da, db = a._data.dtype, b._data.dtype
    if da != db:
        dt = dtypes.promote(a._data, b._data)
        if da != dt:
            a = a.type(dt)
        if db != dt:
            b = b.type(dt)
    return a, b


def broadcast_error(op, *tensors):
    shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
    return ValueError(f"{op}: cannot broadcast shapes {shapes} together (sizes must be equal or 1, aligned "
                      f"from the right)")


def _binary_rules(name, grad_a, grad_b, both=None):
    """The backward rules of a binary op, indexed by ``a.requires_grad + 2 * b.requires_grad``.

    ``grad_a(xp, g, out, a, b)`` and ``grad_b(...)`` give each input's gradient; only the needed ones run.
    ``both``, given for the commonest ops, returns the two at once: one Python call per node instead of three.
    """

    if both is None:
        def both(xp, g, out, a, b):
            return grad_a(xp, g, out, a, b), grad_b(xp, g, out, a, b)

    def backward_a(xp, g, out, a, b):
        return grad_a(xp, g, out, a, b), None

    def backward_b(xp, g, out, a, b):
        return None, grad_b(xp, g, out, a, b)

    for f in (both, backward_a, backward_b):
        f.__qualname__ = f"{name}.<locals>.backward"  # the node's name: MulBackward, ...
    return (None, backward_a, backward_b, both)


def _binary(op, ufunc, a, b, rules):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a._data.dtype is b._data.dtype):
        a, b = operands(op, a, b)
    try:
        out = ufunc(a._data, b._data)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    except TypeError:  # numpy refuses the dtype (bool - bool, ...)
        raise _dtype_error(op, a._data.dtype) from None
    if out.__class__ is not _ndarray:  # NOTE: numpy returns scalars for 0-d inputs; tensors hold arrays
        out = np.asarray(out)
    return _record(out, (a, b), rules[a.requires_grad + 2 * b.requires_grad])


def _dtype_error(op, dtype):
    hint = {"sub": "; use the ^ or logical_xor() operator instead",
            "neg": "; to invert a mask use the ~ or logical_not() operator instead"}.get(op, "")
    return RuntimeError(f"{op}: not supported for {dtype} tensors{hint}")


def _zero_rule(name):
    """The backward rule of a piecewise-constant op: a zero gradient (PyTorch's; not None)."""

    def backward(xp, g, out, x):
        return (xp.zeros_like(g),)

    backward.__qualname__ = f"{name}.<locals>.backward"
    return backward


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
    return _binary("add", np.add, input, other, _ADD)


_ADD = _binary_rules("add", lambda xp, g, out, a, b: g, lambda xp, g, out, a, b: g,
                     both=lambda xp, g, out, a, b: (g, g))


@tensor_method("sub", "subtract", "__sub__")
def sub(input, other, *, alpha=1):
    """sub(input, other, *, alpha=1) -> input - alpha * other, with broadcasting.

    >>> import tapegrad as tg
    >>> 1 - tg.tensor([1.0, 2.0])
    tensor([ 0., -1.])
    """
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if (isinstance(input, Tensor) and input._data.dtype.kind == "b"
            or isinstance(other, Tensor) and other._data.dtype.kind == "b"):
        raise _dtype_error("sub", dtypes.bool)
    return _binary("sub", np.subtract, input, other, _SUB)


subtract = sub
_SUB = _binary_rules("sub", lambda xp, g, out, a, b: g, lambda xp, g, out, a, b: -g,
                     both=lambda xp, g, out, a, b: (g, -g))


@tensor_method()
def __rsub__(self, other):
    """other - self, for a number or array on the left."""
    return sub(other, self)


@tensor_method()
def rsub(input, other, *, alpha=1):
    """rsub(input, other, *, alpha=1) -> other - alpha * input.

    >>> import tapegrad as tg
    >>> tg.rsub(tg.tensor([1.0]), 5)
    tensor([4.])
    """
    return sub(other, input, alpha=alpha)


@tensor_method("mul", "multiply", "__mul__", "__rmul__")
def mul(input, other):
    """mul(input, other) -> input * other, with broadcasting.

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 2.0]) * tg.tensor([[1.0], [3.0]])
    tensor([[1., 2.],
            [3., 6.]])
    """
    return _binary("mul", np.multiply, input, other, _MUL)


multiply = mul
_MUL = _binary_rules("mul", lambda xp, g, out, a, b: g * b, lambda xp, g, out, a, b: g * a,
                     both=lambda xp, g, out, a, b: (g * b, g * a))


@tensor_method("div", "divide", "true_divide", "__truediv__")
def div(input, other, *, rounding_mode=None):
    """div(input, other, *, rounding_mode=None) -> input / other.

    True division (integers give the default float dtype) unless ``rounding_mode`` is ``'trunc'`` (round
    toward zero) or ``'floor'`` (round down); the rounded forms keep integer dtypes and have zero gradient.

    >>> import tapegrad as tg
    >>> tg.div(tg.tensor([7, -7]), 2)
    tensor([ 3.5000, -3.5000])
    >>> tg.div(tg.tensor([7, -7]), 2, rounding_mode='floor')
    tensor([ 3, -4])
    """
    if rounding_mode is not None:
        return _rounded_div("div", input, other, rounding_mode)
    if isinstance(input, Tensor) and isinstance(other, Tensor) and input._data.dtype is other._data.dtype:
        a, b = input, other
    else:
        a, b = operands("div", input, other)
    if a._data.dtype.kind != "f":
        a, b = a.type(_default_dtype()), b.type(_default_dtype())
    try:
        out = np.divide(a._data, b._data)
    except ValueError:
        raise broadcast_error("div", a, b) from None
    if out.__class__ is not _ndarray:
        out = np.asarray(out)
    return _record(out, (a, b), _DIV[a.requires_grad + 2 * b.requires_grad])


divide = true_divide = div
# PyTorch's formulas: d/da = g / b, d/db = -g * ((a / b) / b)
_DIV = _binary_rules("div", lambda xp, g, out, a, b: g / b, lambda xp, g, out, a, b: -g * (out / b),
                     both=lambda xp, g, out, a, b: (g / b, -g * (out / b)))


@tensor_method()
def __rtruediv__(self, other):
    """other / self, for a number or array on the left."""
    return div(other, self)


def _rounded_div(op, input, other, rounding_mode):
    """Division rounded toward zero ('trunc') or down ('floor'); integers stay integer; zero gradient."""
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"{op}: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    a, b = operands(op, input, other)
    x, y = a._data, b._data
    kind = x.dtype.kind
    if kind == "b":
        raise _dtype_error(op + f" (rounding_mode={rounding_mode!r})", x.dtype)
    _check_int_zero_division(op, kind, y)
    try:
        if kind == "f" and rounding_mode == "trunc":
            out = np.trunc(np.divide(x, y))
        else:
            out = np.floor_divide(x, y)
            if rounding_mode == "trunc":  # integers: floor and trunc differ where the quotient is negative
                out = out + ((out < 0) & (out * y != x))
    except ValueError:
        raise broadcast_error(op, a, b) from None
    if out.__class__ is not _ndarray:
        out = np.asarray(out)
    return _record(out, (a, b), _div_rounded_backward)


def _div_rounded_backward(xp, g, out, a, b):
    return xp.zeros_like(g), xp.zeros_like(g)


def _check_int_zero_division(op, kind, divisor):
    if kind in "iu" and not divisor.all():
        raise RuntimeError(f"{op}: integer division by zero (ZeroDivisionError)")


@tensor_method("floor_divide", "__floordiv__")
def floor_divide(input, other):
    """floor_divide(input, other) -> input // other, rounded down (Python's //); zero gradient.

    PyTorch raises on backward through floor_divide; tapegrad gives zero gradients, as div(..., 'floor').

    >>> import tapegrad as tg
    >>> tg.tensor([7, -7]) // 2
    tensor([ 3, -4])
    """
    return _rounded_div("floor_divide", input, other, "floor")


@tensor_method()
def __rfloordiv__(self, other):
    """other // self, for a number or array on the left."""
    return floor_divide(other, self)


@tensor_method("remainder", "__mod__")
def remainder(input, other):
    """remainder(input, other) -> input % other, with the sign of ``other`` (Python's %).

    >>> import tapegrad as tg
    >>> tg.tensor([5.0, -5.0]) % 3
    tensor([2., 1.])
    """
    return _modulo("remainder", np.remainder, input, other, _REMAINDER)


# d/db (a - b * floor(a / b)) = -floor(a / b)
_REMAINDER = _binary_rules("remainder", lambda xp, g, out, a, b: g,
                           lambda xp, g, out, a, b: -g * xp.floor_divide(a, b))


@tensor_method()
def __rmod__(self, other):
    """other % self, for a number or array on the left."""
    return remainder(other, self)


@tensor_method()
def fmod(input, other):
    """fmod(input, other): the remainder of division rounded toward zero, with the sign of ``input`` (C fmod).

    >>> import tapegrad as tg
    >>> tg.fmod(tg.tensor([5.0, -5.0]), 3)
    tensor([ 2., -2.])
    """
    return _modulo("fmod", np.fmod, input, other, _FMOD)


_FMOD = _binary_rules("fmod", lambda xp, g, out, a, b: g, lambda xp, g, out, a, b: -g * xp.trunc(a / b))


def _modulo(op, ufunc, input, other, rules):
    a, b = operands(op, input, other)
    kind = a._data.dtype.kind
    if kind == "b":
        raise _dtype_error(op, a._data.dtype)
    _check_int_zero_division(op, kind, b._data)
    return _binary(op, ufunc, a, b, rules)


@tensor_method("neg", "negative", "__neg__")
def neg(input):
    """neg(input) -> -input.

    >>> import tapegrad as tg
    >>> -tg.tensor([1.0, -2.0])
    tensor([-1.,  2.])
    """
    x = _data_of("neg", input)
    if x.dtype.kind == "b":
        raise _dtype_error("neg", x.dtype)
    return _record(_array(np.negative(x)), (input,), _neg_backward)


negative = neg


def _neg_backward(xp, g, out, x):
    return (-g,)


@tensor_method("positive", "__pos__")
def positive(input):
    """positive(input) -> input (the same tensor, as PyTorch's unary +).

    >>> import tapegrad as tg
    >>> +tg.tensor([1.0])
    tensor([1.])
    """
    if _data_of("positive", input).dtype.kind == "b":
        raise _dtype_error("positive", input._data.dtype)
    return input


@tensor_method("abs", "absolute", "__abs__")
def abs(input):
    """abs(input) -> |input|. The gradient is sign(input): 0 at 0, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.abs(tg.tensor([-1.5, 0.0, 2.0]))
    tensor([1.5000, 0.0000, 2.0000])
    """
    x = _data_of("abs", input)
    if x.dtype.kind == "b":
        raise _dtype_error("abs", x.dtype)
    return _record(_array(np.abs(x)), (input,), _abs_backward)


absolute = abs


def _abs_backward(xp, g, out, x):
    return (g * xp.sign(x),)


@tensor_method()
def reciprocal(input):
    """reciprocal(input) -> 1 / input (integers give the default float dtype).

    >>> import tapegrad as tg
    >>> tg.reciprocal(tg.tensor([2, 4]))
    tensor([0.5000, 0.2500])
    """
    return _unary("reciprocal", np.reciprocal, input, _reciprocal_backward)


def _reciprocal_backward(xp, g, out, x):
    return (-g * (out * out),)


@tensor_method()
def square(input):
    """square(input) -> input * input (integers and bools give int64, like ``input ** 2``).

    >>> import tapegrad as tg
    >>> tg.square(tg.tensor([-2.0, 3.0]))
    tensor([4., 9.])
    """
    return pow(input, 2)


# ---------------------------------------------------------------------- powers and roots
@tensor_method("pow", "__pow__")
def pow(input, exponent):
    """pow(input, exponent) -> input ** exponent, for a number or tensor exponent, or a number base.

    Integer tensors to integer powers stay integer (a negative number exponent raises, as in PyTorch; with a
    tensor exponent, integer ``b ** -n`` is 0 unless ``b`` is 1 or -1). The gradient at ``input == 0``
    follows PyTorch: 0 for exponent 0, and d/d(exponent) is 0 where the base is 0 and the exponent >= 0.

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 2.0, 3.0]) ** 2
    tensor([1., 4., 9.])
    >>> 2 ** tg.tensor([0, 1, 2])
    tensor([1, 2, 4])
    """
    if isinstance(exponent, np.generic) and exponent.dtype.kind in "biuf":
        exponent = exponent.item()
    if not (isinstance(input, Tensor) and isinstance(exponent, (int, float))):
        return _tensor_pow(input, exponent)
    e = exponent
    x = input
    kind = x._data.dtype.kind
    if kind != "f":
        x = x.type(dtypes.scalar_dtype(e, x._data.dtype)) if kind == "b" or isinstance(e, float) else x
        if x._data.dtype.kind != "f" and e < 0:
            raise RuntimeError(f"pow: integers to negative integer powers are not allowed (a {x._data.dtype} "
                               f"tensor to the power {e})")
    data = x._data
    # The special cases PyTorch computes without pow() (faster, and its exact numbers)
    if e == 2:
        out = data * data
    elif e == 0.5:
        out = np.sqrt(data)
    elif e == 3:
        out = data * data * data
    elif e == -1:
        out = 1 / data
    elif e == -2:
        out = 1 / (data * data)
    elif e == -0.5:
        out = 1 / np.sqrt(data)
    else:
        out = np.power(data, e)

    def backward(xp, g, out, x):
        if e == 0:
            return (xp.zeros_like(g),)
        if e == 2:
            return (g * (2 * x),)
        return (g * (e * x ** (e - 1)),)

    return _record(_array(out), (x,), backward)


def _tensor_pow(input, exponent):
    a, b = operands("pow", input, exponent)
    x, e = a._data, b._data
    kind = x.dtype.kind
    if kind == "b":
        raise _dtype_error("pow", x.dtype)
    if kind == "f":
        return _binary("pow", np.power, a, b, _POW)
    try:
        negative_e = e < 0
        if not negative_e.any():
            return _wrap(_array(np.power(x, e)))
        # NOTE: integer b ** -n truncates: 1 for b == 1, +-1 for b == -1, else 0 (PyTorch's integer pow)
        out = np.power(x, np.where(negative_e, 0, e))
        inverse = np.where(x == 1, 1, np.where(x == -1, 1 - 2 * (e & 1), 0))
        return _wrap(_array(np.where(negative_e, inverse, out).astype(x.dtype)))
    except ValueError:
        raise broadcast_error("pow", a, b) from None


def _pow_grad_base(xp, g, out, a, b):
    # NOTE: exponent 0 gives gradient 0 even at a == 0, where b * a ** (b - 1) would be 0 * inf = nan
    return xp.where(b == 0, 0, g * (b * a ** (b - 1)))


def _pow_grad_exponent(xp, g, out, a, b):
    # NOTE: a ** b * log(a) is taken as 0 at a == 0 with b >= 0 (PyTorch's convention), not 0 * -inf = nan
    return g * xp.where((a == 0) & (b >= 0), 0, out * xp.log(a))


_POW = _binary_rules("pow", _pow_grad_base, _pow_grad_exponent)


@tensor_method()
def __rpow__(self, other):
    """other ** self, for a number base: ``2 ** x``."""
    return pow(other, self)


@tensor_method()
def sqrt(input):
    """sqrt(input) -> the square root (nan below 0; the gradient at 0 is inf, as in PyTorch).

    >>> import tapegrad as tg
    >>> tg.sqrt(tg.tensor([4.0, 9.0]))
    tensor([2., 3.])
    """
    return _unary("sqrt", np.sqrt, input, _sqrt_backward)


def _sqrt_backward(xp, g, out, x):
    return (g / (2 * out),)


@tensor_method()
def rsqrt(input):
    """rsqrt(input) -> 1 / sqrt(input).

    >>> import tapegrad as tg
    >>> tg.rsqrt(tg.tensor([4.0, 0.25]))
    tensor([0.5000, 2.0000])
    """
    return _unary("rsqrt", _np_rsqrt, input, _rsqrt_backward)


def _np_rsqrt(x):
    return 1 / np.sqrt(x)


def _rsqrt_backward(xp, g, out, x):
    return (-0.5 * g * (out * out * out),)


# ---------------------------------------------------------------------- unary math
def _data_of(op, input):
    try:
        return input._data
    except AttributeError:
        raise _expected_tensor(op, input) from None


def _array(out):
    return out if out.__class__ is _ndarray else np.asarray(out)


def _unary(op, fn, input, backward):
    """A floating-point function of one tensor (integer and bool inputs give the default float dtype)."""
    try:
        x = input._data
    except AttributeError:
        raise _expected_tensor(op, input) from None
    if x.dtype.kind != "f":
        x = x.astype(_default_dtype())  # such inputs never require grad: nothing to record
    out = fn(x)
    if out.__class__ is not _ndarray:
        out = np.asarray(out)
    return _record(out, (input,), backward)


@tensor_method()
def exp(input):
    """exp(input) -> e ** input (inf beyond the dtype's range, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.exp(tg.tensor([0.0, 1.0]))
    tensor([1.0000, 2.7183])
    """
    return _unary("exp", np.exp, input, _exp_backward)


def _exp_backward(xp, g, out, x):
    return (g * out,)


@tensor_method()
def exp2(input):
    """exp2(input) -> 2 ** input.

    >>> import tapegrad as tg
    >>> tg.exp2(tg.tensor([0.0, 3.0]))
    tensor([1., 8.])
    """
    return _unary("exp2", np.exp2, input, _exp2_backward)


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _exp2_backward(xp, g, out, x):
    return (g * out * _LN2,)


@tensor_method()
def expm1(input):
    """expm1(input) -> exp(input) - 1, accurate near 0.

    >>> import tapegrad as tg
    >>> tg.expm1(tg.tensor([0.0, 1e-10], dtype=tg.float64))
    tensor([0.0000e+00, 1.0000e-10], dtype=tapegrad.float64)
    """
    return _unary("expm1", np.expm1, input, _expm1_backward)


def _expm1_backward(xp, g, out, x):
    return (g * (out + 1),)


@tensor_method()
def log(input):
    """log(input) -> the natural logarithm (-inf at 0 and nan below, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.log(tg.tensor([1.0, 100.0]))
    tensor([0.0000, 4.6052])
    """
    return _unary("log", np.log, input, _log_backward)


def _log_backward(xp, g, out, x):
    return (g / x,)


@tensor_method()
def log2(input):
    """log2(input) -> the base-2 logarithm.

    >>> import tapegrad as tg
    >>> tg.log2(tg.tensor([1.0, 8.0]))
    tensor([0., 3.])
    """
    return _unary("log2", np.log2, input, _log2_backward)


def _log2_backward(xp, g, out, x):
    return (g / (x * _LN2),)


@tensor_method()
def log10(input):
    """log10(input) -> the base-10 logarithm.

    >>> import tapegrad as tg
    >>> tg.log10(tg.tensor([1.0, 100.0]))
    tensor([0., 2.])
    """
    return _unary("log10", _log10, input, _log10_backward)


def _log10(x):
    # numpy's float32 log10 is off by an ulp at exact powers of ten on some CPUs (2.0000002 for 100); through
    # float64 it rounds correctly, as PyTorch's does.
    if x.dtype == np.float32:
        return np.log10(x, dtype=np.float64).astype(np.float32)
    return np.log10(x)


def _log10_backward(xp, g, out, x):
    return (g / (x * _LN10),)


@tensor_method()
def log1p(input):
    """log1p(input) -> log(1 + input), accurate near 0.

    >>> import tapegrad as tg
    >>> tg.log1p(tg.tensor([0.0, 1e-10], dtype=tg.float64))
    tensor([0.0000e+00, 1.0000e-10], dtype=tapegrad.float64)
    """
    return _unary("log1p", np.log1p, input, _log1p_backward)


def _log1p_backward(xp, g, out, x):
    return (g / (x + 1),)


@tensor_method()
def sin(input):
    """sin(input), in radians.

    >>> import tapegrad as tg
    >>> tg.sin(tg.tensor([0.0]))
    tensor([0.])
    """
    return _unary("sin", np.sin, input, _sin_backward)


def _sin_backward(xp, g, out, x):
    return (g * xp.cos(x),)


@tensor_method()
def cos(input):
    """cos(input), in radians.

    >>> import tapegrad as tg
    >>> tg.cos(tg.tensor([0.0]))
    tensor([1.])
    """
    return _unary("cos", np.cos, input, _cos_backward)


def _cos_backward(xp, g, out, x):
    return (g * -xp.sin(x),)


@tensor_method()
def tan(input):
    """tan(input), in radians.

    >>> import tapegrad as tg
    >>> tg.tan(tg.tensor([0.0]))
    tensor([0.])
    """
    return _unary("tan", np.tan, input, _tan_backward)


def _tan_backward(xp, g, out, x):
    return (g * (1 + out * out),)


@tensor_method()
def sinh(input):
    """sinh(input): the hyperbolic sine.

    >>> import tapegrad as tg
    >>> tg.sinh(tg.tensor([0.0]))
    tensor([0.])
    """
    return _unary("sinh", np.sinh, input, _sinh_backward)


def _sinh_backward(xp, g, out, x):
    return (g * xp.cosh(x),)


@tensor_method()
def cosh(input):
    """cosh(input): the hyperbolic cosine.

    >>> import tapegrad as tg
    >>> tg.cosh(tg.tensor([0.0]))
    tensor([1.])
    """
    return _unary("cosh", np.cosh, input, _cosh_backward)


def _cosh_backward(xp, g, out, x):
    return (g * xp.sinh(x),)


@tensor_method("asin", "arcsin")
def asin(input):
    """asin(input): the inverse sine (nan outside [-1, 1]).

    >>> import tapegrad as tg
    >>> tg.asin(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 1.5708])
    """
    return _unary("asin", np.arcsin, input, _asin_backward)


arcsin = asin


def _asin_backward(xp, g, out, x):
    return (g / xp.sqrt(1 - x * x),)


@tensor_method("acos", "arccos")
def acos(input):
    """acos(input): the inverse cosine (nan outside [-1, 1]).

    >>> import tapegrad as tg
    >>> tg.acos(tg.tensor([1.0, 0.0]))
    tensor([0.0000, 1.5708])
    """
    return _unary("acos", np.arccos, input, _acos_backward)


arccos = acos


def _acos_backward(xp, g, out, x):
    return (-g / xp.sqrt(1 - x * x),)


@tensor_method("atan", "arctan")
def atan(input):
    """atan(input): the inverse tangent.

    >>> import tapegrad as tg
    >>> tg.atan(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7854])
    """
    return _unary("atan", np.arctan, input, _atan_backward)


arctan = atan


def _atan_backward(xp, g, out, x):
    return (g / (x * x + 1),)


@tensor_method("atan2", "arctan2")
def atan2(input, other):
    """atan2(input, other): the angle of the point (other, input), in (-pi, pi].

    >>> import tapegrad as tg
    >>> tg.atan2(tg.tensor([1.0]), tg.tensor([-1.0]))
    tensor([2.3562])
    """
    a, b = operands("atan2", input, other)
    if a._data.dtype.kind != "f":
        a, b = a.type(_default_dtype()), b.type(_default_dtype())
    return _binary("atan2", np.arctan2, a, b, _ATAN2)


arctan2 = atan2
_ATAN2 = _binary_rules("atan2", lambda xp, g, out, a, b: g * b / (a * a + b * b),
                       lambda xp, g, out, a, b: g * -a / (a * a + b * b))


@tensor_method()
def tanh(input):
    """tanh(input): the hyperbolic tangent.

    >>> import tapegrad as tg
    >>> tg.tanh(tg.tensor([0.0, 100.0]))
    tensor([0., 1.])
    """
    return _unary("tanh", np.tanh, input, _tanh_backward)


def _tanh_backward(xp, g, out, x):
    return (g * (1 - out * out),)


@tensor_method()
def sigmoid(input):
    """sigmoid(input) -> 1 / (1 + exp(-input)), without overflow for any input.

    >>> import tapegrad as tg
    >>> tg.sigmoid(tg.tensor([-1e4, 0.0, 1e4]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    return _unary("sigmoid", _np_sigmoid, input, _sigmoid_backward)


def _np_sigmoid(x):
    # NOTE: exp(-|x|) never overflows: sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1, e)
    out /= 1 + e
    return out


def _sigmoid_backward(xp, g, out, x):
    return (g * (1 - out) * out,)


@tensor_method()
def relu(input):
    """relu(input) -> max(input, 0); integers stay integer. NOTE: the gradient at 0 is 0, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.relu(tg.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    """
    x = _data_of("relu", input)
    if x.dtype.kind == "b":
        raise _dtype_error("relu", x.dtype)
    return _record(_array(np.maximum(x, 0, dtype=x.dtype)), (input,), _relu_backward)


def _relu_backward(xp, g, out, x):
    return (g * (out > 0),)


# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969): the
# coefficients of his CALERF (netlib specfun), near-minimax to about 18 significant digits.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
          1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
          8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
          2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
          3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
          6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
          2.33520497626869185e-3)
_INV_SQRT_PI = 0.56418958354775628695
_TWO_OVER_SQRT_PI = 2 * _INV_SQRT_PI


def _cody_erf(x, complement):
    """erf(x), or erfc(x) if ``complement``, in float64 by Cody's three rational approximations.

    |x| <= 0.46875: erf = x R(x^2); up to 4: erfc = exp(-x^2) R(|x|); beyond: erfc = exp(-x^2)/|x| (1/sqrt(pi)
    - R(1/x^2)/x^2). erf(-x) = -erf(x) and erfc(-x) = 2 - erfc(x) give negative arguments.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    out = np.empty_like(y)
    small = y <= 0.46875
    xs = x[small]
    r = _rational(xs * xs, _ERF_A, _ERF_B)
    r *= xs
    out[small] = 1 - r if complement else r

    large = ~small  # includes nan, which the formulas below propagate
    y = np.minimum(y[large], 28.0)  # erfc(28) underflows to 0: the same result, without inf - inf
    ec = np.empty_like(y)
    mid = y <= 4
    ec[mid] = _rational(y[mid], _ERF_C, _ERF_D)
    tail = ~mid
    t = y[tail]
    z = 1 / (t * t)
    r = _rational(z, _ERF_P, _ERF_Q)
    r *= z
    np.subtract(_INV_SQRT_PI, r, out=r)
    r /= t
    ec[tail] = r
    # NOTE: exp(-y^2) as exp(-h^2) exp(-(y - h)(y + h)) with h = y rounded down to 1/16: y^2 is inexact
    h = np.trunc(y * 16) / 16
    ec *= np.exp(-h * h)
    ec *= np.exp(-(y - h) * (y + h))
    negative = x[large] < 0
    if complement:
        out[large] = np.where(negative, 2 - ec, ec)
    else:
        out[large] = np.where(negative, ec - 1, 1 - ec)
    return out


def _rational(t, num, den):
    """Cody's rational form ((num[-1] t + num[0]) t + ... + num[-2]) / ((t + den[0]) t + ... + den[-1]), by
    Horner's rule in place (``num`` has one more coefficient than ``den``)."""
    p = num[-1] * t
    q = t.copy()
    for a, b in zip(num[:-2], den[:-1], strict=True):
        p += a
        p *= t
        q += b
        q *= t
    p += num[-2]
    q += den[-1]
    p /= q
    return p


def _np_erf(x):
    return _cody_erf(x, False).astype(x.dtype, copy=False)


def _np_erfc(x):
    return _cody_erf(x, True).astype(x.dtype, copy=False)


@tensor_method()
def erf(input):
    """erf(input): the error function, 2/sqrt(pi) * integral of exp(-t^2) from 0 to input (float64-accurate).

    >>> import tapegrad as tg
    >>> tg.erf(tg.tensor([0.0, 1.0, -3.0]))
    tensor([ 0.0000,  0.8427, -1.0000])
    """
    return _unary("erf", _np_erf, input, _erf_backward)


def _erf_backward(xp, g, out, x):
    return (_TWO_OVER_SQRT_PI * xp.exp(-(x * x)) * g,)


@tensor_method()
def erfc(input):
    """erfc(input) -> 1 - erf(input), accurate where erf is close to 1.

    >>> import tapegrad as tg
    >>> tg.erfc(tg.tensor([0.0, 10.0], dtype=tg.float64))
    tensor([1.0000e+00, 2.0885e-45], dtype=tapegrad.float64)
    """
    return _unary("erfc", _np_erfc, input, _erfc_backward)


def _erfc_backward(xp, g, out, x):
    return (-_TWO_OVER_SQRT_PI * xp.exp(-(x * x)) * g,)


# ---------------------------------------------------------------------- rounding and sign (zero gradient)
def _rounding(op, fn, input):
    """A piecewise-constant function: integers are returned as they are (a copy); the gradient is zero."""
    x = _data_of(op, input)
    kind = x.dtype.kind
    if kind == "b":
        raise _dtype_error(op, x.dtype)
    if kind != "f":
        return _wrap(x.copy())
    return _record(_array(fn(x)), (input,), _ZERO_RULES[op])


_ZERO_RULES = {op: _zero_rule(op) for op in ("floor", "ceil", "trunc", "round", "sign")}


@tensor_method()
def floor(input):
    """floor(input): round down to an integer value (gradient 0).

    >>> import tapegrad as tg
    >>> tg.floor(tg.tensor([-1.5, 1.5]))
    tensor([-2.,  1.])
    """
    return _rounding("floor", np.floor, input)


@tensor_method()
def ceil(input):
    """ceil(input): round up to an integer value (gradient 0).

    >>> import tapegrad as tg
    >>> tg.ceil(tg.tensor([-1.5, 1.5]))
    tensor([-1.,  2.])
    """
    return _rounding("ceil", np.ceil, input)


@tensor_method("trunc", "fix")
def trunc(input):
    """trunc(input): round toward zero (gradient 0).

    >>> import tapegrad as tg
    >>> tg.trunc(tg.tensor([-1.5, 1.5]))
    tensor([-1.,  1.])
    """
    return _rounding("trunc", np.trunc, input)


fix = trunc


@tensor_method()
def round(input, *, decimals=0):
    """round(input, *, decimals=0): round half to even, to ``decimals`` decimal places (gradient 0).

    >>> import tapegrad as tg
    >>> tg.round(tg.tensor([0.5, 1.5, 2.5]))
    tensor([0., 2., 2.])
    >>> tg.round(tg.tensor([1.2345]), decimals=2)
    tensor([1.2300])
    """
    if decimals != 0 and _data_of("round", input).dtype.kind != "f":
        raise RuntimeError(f"round: decimals is only supported for floating-point tensors, got "
                           f"{input._data.dtype}")
    return _rounding("round", lambda x: np.round(x, decimals), input)


@tensor_method()
def frac(input):
    """frac(input) -> input - trunc(input), the fractional part with the sign of input (gradient 1).

    >>> import tapegrad as tg
    >>> tg.frac(tg.tensor([-1.5, 2.25]))
    tensor([-0.5000,  0.2500])
    """
    x = _data_of("frac", input)
    if x.dtype.kind != "f":
        raise _dtype_error("frac", x.dtype)
    return _record(_array(x - np.trunc(x)), (input,), _frac_backward)


def _frac_backward(xp, g, out, x):
    return (g,)


@tensor_method("sign", "sgn")
def sign(input):
    """sign(input): -1, 0 or 1 by the sign of input (0 for nan and -0.0, as PyTorch); gradient 0.

    >>> import tapegrad as tg
    >>> tg.sign(tg.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    x = _data_of("sign", input)
    kind = x.dtype.kind
    if kind == "b":
        return _wrap(x.copy())
    if kind != "f":
        return _wrap(_array(np.sign(x)))
    return _record(_array(np.subtract(x > 0, x < 0, dtype=x.dtype)), (input,), _ZERO_RULES["sign"])


sgn = sign


# ---------------------------------------------------------------------- selection
@tensor_method("clamp", "clip")
def clamp(input, min=None, max=None):
    """clamp(input, min=None, max=None): limit values to [min, max] (numbers or broadcastable tensors).

    The gradient is 1 where min <= input <= max (bounds included) and 0 where clipped; a tensor bound gets the
    gradient where it is the result (PyTorch's rules, including min > max, where the result is max).

    >>> import tapegrad as tg
    >>> tg.clamp(tg.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
    tensor([0.0000, 0.5000, 1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    _data_of("clamp", input)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensors(input, min, max)
    min, max = (v.item() if isinstance(v, np.generic) else v for v in (min, max))
    x = input
    for bound in (min, max):
        if bound is not None:
            if not isinstance(bound, (int, float)):
                raise TypeError(f"clamp: min and max must be numbers or Tensors, got {type(bound).__name__}")
            dt = dtypes.scalar_dtype(bound, x._data.dtype)
            if dt != x._data.dtype:
                x = x.type(dt)
    data = x._data
    out = data if min is None else np.maximum(data, min)
    out = out if max is None else np.minimum(out, max)

    def backward(xp, g, out, x):
        if min is None:
            return (g * (x <= max),)
        if max is None:
            return (g * (x >= min),)
        return (g * ((x >= min) & (x <= max)),)

    backward.__qualname__ = "clamp.<locals>.backward"
    return _record(_array(out), (x,), backward)


clip = clamp


def _clamp_tensors(input, min, max):
    x, lo, hi = input, min, max
    if lo is not None:
        x, lo = operands("clamp", x, lo)
    if hi is not None:
        x, hi = operands("clamp", x, hi)
        if lo is not None and lo._data.dtype != x._data.dtype:
            lo = lo.type(x._data.dtype)
    try:
        out = x._data if lo is None else np.maximum(x._data, lo._data)
        out = out if hi is None else np.minimum(out, hi._data)
    except ValueError:
        raise broadcast_error("clamp", *(t for t in (x, lo, hi) if t is not None)) from None
    parents = (x,) + tuple(t for t in (lo, hi) if t is not None)
    need_lo = lo is not None and lo.requires_grad
    need_hi = hi is not None and hi.requires_grad
    has_lo, has_hi = lo is not None, hi is not None

    def backward(xp, g, out, x, *bounds):
        lo = bounds[0] if has_lo else None
        hi = bounds[-1] if has_hi else None
        if lo is None:
            grads = [g * (x <= hi)]
        elif hi is None:
            grads = [g * (x >= lo)]
        else:
            grads = [g * ((x >= lo) & (x <= hi))]
        if has_lo:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            grads.append(g * below if need_lo else None)
        if has_hi:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            grads.append(g * above if need_hi else None)
        return tuple(grads)

    backward.__qualname__ = "clamp.<locals>.backward"
    return _record(_array(out), parents, backward)


@tensor_method()
def clamp_min(input, min):
    """clamp_min(input, min) -> clamp(input, min=min).

    >>> import tapegrad as tg
    >>> tg.clamp_min(tg.tensor([-1.0, 2.0]), 0)
    tensor([0., 2.])
    """
    return clamp(input, min=min)


@tensor_method()
def clamp_max(input, max):
    """clamp_max(input, max) -> clamp(input, max=max).

    >>> import tapegrad as tg
    >>> tg.clamp_max(tg.tensor([-1.0, 2.0]), 0)
    tensor([-1.,  0.])
    """
    return clamp(input, max=max)


@tensor_method()
def maximum(input, other):
    """maximum(input, other): the elementwise maximum (nan if either is nan); at ties each input gets half the
    gradient, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.maximum(tg.tensor([1.0, 5.0]), tg.tensor([3.0, 2.0]))
    tensor([3., 5.])
    """
    return _binary("maximum", np.maximum, input, other, _MAXIMUM)


_MAXIMUM = _binary_rules("maximum", lambda xp, g, out, a, b: xp.where(a == b, g * 0.5, xp.where(a < b, 0, g)),
                         lambda xp, g, out, a, b: xp.where(a == b, g * 0.5, xp.where(b < a, 0, g)))


@tensor_method()
def minimum(input, other):
    """minimum(input, other): the elementwise minimum (nan if either is nan); ties split the gradient in half.

    >>> import tapegrad as tg
    >>> tg.minimum(tg.tensor([1.0, 5.0]), tg.tensor([3.0, 2.0]))
    tensor([1., 2.])
    """
    return _binary("minimum", np.minimum, input, other, _MINIMUM)


_MINIMUM = _binary_rules("minimum", lambda xp, g, out, a, b: xp.where(a == b, g * 0.5, xp.where(a > b, 0, g)),
                         lambda xp, g, out, a, b: xp.where(a == b, g * 0.5, xp.where(b > a, 0, g)))


def where(condition, input=None, other=None):
    """where(condition, input, other): ``input`` where ``condition`` is True, else ``other`` (broadcast).

    ``input`` and ``other`` may be tensors or Python numbers. ``where(condition)`` alone is
    ``condition.nonzero(as_tuple=True)``.

    >>> import tapegrad as tg
    >>> x = tg.tensor([-1.0, 2.0])
    >>> tg.where(x > 0, x, 0.0)
    tensor([0., 2.])
    """
    if isinstance(condition, Tensor):
        cond = condition._data
    elif isinstance(condition, (np.ndarray, np.bool_, bool, list, tuple)):
        cond = np.asarray(condition)
    else:
        raise TypeError(f"where: expected condition to be a bool Tensor, got {type(condition).__name__}")
    if cond.dtype.kind != "b":
        raise RuntimeError(f"where: expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{cond.dtype}")
    if input is None and other is None:
        return tuple(_wrap(i) for i in np.nonzero(cond))
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = _wrap(np.array(input, dtype=_scalars_dtype("where", input, other)))
    a, b = operands("where", input, other)
    try:
        out = np.where(cond, a._data, b._data)
    except ValueError:
        raise broadcast_error("where", _wrap(cond), a, b) from None
    need_a, need_b = a.requires_grad, b.requires_grad

    def backward(xp, g, out, a, b):
        return (xp.where(cond, g, 0) if need_a else None, xp.where(cond, 0, g) if need_b else None)

    backward.__qualname__ = "where.<locals>.backward"
    return _record(_array(out), (a, b), backward)


def _scalars_dtype(op, *values):
    """The dtype of an op on Python numbers only: the default float if any is a float, int64 if any is an
    int, else bool."""
    for v in values:
        if not isinstance(v, (int, float, np.generic)):
            raise TypeError(f"{op}: unsupported operand type {type(v).__name__} (expected a Tensor or a "
                            "number)")
    if any(isinstance(v, (float, np.floating)) for v in values):
        return _default_dtype()
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return dtypes.bool
    return dtypes.int64


@tensor_method("where")
def _where_method(self, condition, other):
    """x.where(condition, other) -> where(condition, x, other)."""
    return where(condition, self, other)


@tensor_method()
def lerp(input, end, weight):
    """lerp(input, end, weight) -> input + weight * (end - input), with a number or tensor weight.

    Floating point only, and the tensors must share a dtype (as in PyTorch).

    >>> import tapegrad as tg
    >>> tg.lerp(tg.tensor([0.0, 10.0]), tg.tensor([10.0, 20.0]), 0.25)
    tensor([ 2.5000, 12.5000])
    """
    _data_of("lerp", input)
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp: expected end to be a Tensor, got {type(end).__name__}")
    dt = input._data.dtype
    if dt.kind != "f":
        raise _dtype_error("lerp", dt)
    named = (("end", end),) + ((("weight", weight),) if isinstance(weight, Tensor) else ())
    for name, t in named:
        if t._data.dtype != dt:
            raise RuntimeError(f"lerp: expected dtype {dt} for `{name}` but got dtype {t._data.dtype}")
    x, e = input._data, end._data
    try:
        if isinstance(weight, Tensor):
            w = weight._data
            # NOTE: PyTorch's two-sided form: exact at both ends (weight 0 gives input, weight 1 gives end)
            out = np.where(np.abs(w) < 0.5, x + w * (e - x), e - (e - x) * (1 - w))
        else:
            w = float(weight)
            out = x + w * (e - x) if -0.5 < w < 0.5 else e - (e - x) * (1 - w)
    except ValueError:
        raise broadcast_error("lerp", *(t for t in (input, end, weight) if isinstance(t, Tensor))) from None
    if not isinstance(weight, Tensor):
        def backward(xp, g, out, a, b):
            return g * (1 - w), g * w

        backward.__qualname__ = "lerp.<locals>.backward"
        return _record(_array(out), (input, end), backward)

    def backward(xp, g, out, a, b, w):
        return g * (1 - w), g * w, g * (b - a)

    backward.__qualname__ = "lerp.<locals>.backward"
    return _record(_array(out), (input, end, weight), backward)


# ---------------------------------------------------------------------- comparisons (bool results, no grad)
def _compare(op, ufunc, symbol):
    def compare(input, other):
        a, b = operands(op, input, other)
        try:
            return _wrap(_array(ufunc(a._data, b._data)))
        except ValueError:
            raise broadcast_error(op, a, b) from None

    compare.__name__ = compare.__qualname__ = op
    example = np.array2string(ufunc(np.array([1, 2, 3]), 2), separator=", ")
    compare.__doc__ = (f"{op}(input, other) -> bool tensor of input {symbol} other, elementwise, with "
                       f"broadcasting (no gradient).\n\n    >>> import tapegrad as tg\n"
                       f"    >>> tg.{op}(tg.tensor([1, 2, 3]), 2)\n    tensor({example})\n    ")
    return compare


eq = tensor_method("eq")(_compare("eq", np.equal, "=="))
ne = not_equal = tensor_method("ne", "not_equal")(_compare("ne", np.not_equal, "!="))
lt = less = tensor_method("lt", "less", "__lt__")(_compare("lt", np.less, "<"))
le = less_equal = tensor_method("le", "less_equal", "__le__")(_compare("le", np.less_equal, "<="))
gt = greater = tensor_method("gt", "greater", "__gt__")(_compare("gt", np.greater, ">"))
ge = greater_equal = tensor_method("ge", "greater_equal", "__ge__")(_compare("ge", np.greater_equal, ">="))

_COMPARABLE = (Tensor, int, float, np.ndarray, np.generic, list, tuple)


@tensor_method()
def __eq__(self, other):
    """self == other, elementwise; for other types Python falls back to identity (x == None is False), as in
    PyTorch."""
    return eq(self, other) if isinstance(other, _COMPARABLE) else NotImplemented


@tensor_method()
def __ne__(self, other):
    """self != other, elementwise; True for other types (x != None), as in PyTorch."""
    return ne(self, other) if isinstance(other, _COMPARABLE) else NotImplemented


def equal(input, other):
    """equal(input, other) -> bool: True if both have the same shape and the same values.

    >>> import tapegrad as tg
    >>> tg.equal(tg.tensor([1, 2]), tg.tensor([1.0, 2.0]))
    True
    """
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
        raise TypeError(f"equal: expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


Tensor.equal = equal


@tensor_method()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool tensor of
    |input - other| <= atol + rtol * |other| (equal infinities are close; the dtypes must match, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.isclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0 + 1e-7, 2.1]))
    tensor([ True, False])
    """
    a, b = _same_dtype("isclose", input, other)
    try:
        return _wrap(_array(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)))
    except ValueError:
        raise broadcast_error("isclose", input, other) from None


@tensor_method()
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool: isclose everywhere.

    >>> import tapegrad as tg
    >>> tg.allclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.0 + 1e-6]))
    True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def _same_dtype(op, input, other):
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
        raise TypeError(f"{op}: expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    a, b = input._data, other._data
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: the dtypes must match, got {a.dtype} and {b.dtype}")
    return a, b


def _predicate(op, fn, constant, doc):
    def predicate(input):
        x = _data_of(op, input)
        if x.dtype.kind != "f":  # integers and bools are finite
            return _wrap(np.full(x.shape, constant))
        return _wrap(_array(fn(x)))

    predicate.__name__ = predicate.__qualname__ = op
    predicate.__doc__ = doc
    return tensor_method(op)(predicate)


isnan = _predicate("isnan", np.isnan, False, """isnan(input) -> bool tensor, True where input is nan.

    >>> import tapegrad as tg
    >>> tg.isnan(tg.tensor([1.0, float('nan')]))
    tensor([False,  True])
    """)
isinf = _predicate("isinf", np.isinf, False, """isinf(input) -> bool tensor, True where input is +inf or -inf.

    >>> import tapegrad as tg
    >>> tg.isinf(tg.tensor([1.0, float('-inf')]))
    tensor([False,  True])
    """)
isposinf = _predicate("isposinf", np.isposinf, False, """isposinf(input) -> bool tensor, True where +inf.

    >>> import tapegrad as tg
    >>> tg.isposinf(tg.tensor([float('inf'), float('-inf')]))
    tensor([ True, False])
    """)
isneginf = _predicate("isneginf", np.isneginf, False, """isneginf(input) -> bool tensor, True where -inf.

    >>> import tapegrad as tg
    >>> tg.isneginf(tg.tensor([float('inf'), float('-inf')]))
    tensor([False,  True])
    """)
isfinite = _predicate("isfinite", np.isfinite, True, """isfinite(input) -> bool tensor, True where input is
    neither inf nor nan.

    >>> import tapegrad as tg
    >>> tg.isfinite(tg.tensor([1.0, float('inf'), float('nan')]))
    tensor([ True, False, False])
    """)


# ---------------------------------------------------------------------- logic and bits
def _logical(op, ufunc):
    def logical(input, other):
        if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
            raise TypeError(f"{op}: expected two Tensors, got {type(input).__name__} and "
                            f"{type(other).__name__}")
        try:
            return _wrap(_array(ufunc(input._data, other._data)))
        except ValueError:
            raise broadcast_error(op, input, other) from None

    logical.__name__ = logical.__qualname__ = op
    example = np.array2string(ufunc([True, False], [1, 1]), separator=", ")
    logical.__doc__ = (f"{op}(input, other) -> bool tensor: {op} of the truth values (nonzero is True).\n\n"
                       f"    >>> import tapegrad as tg\n"
                       f"    >>> tg.{op}(tg.tensor([True, False]), tg.tensor([1, 1]))\n"
                       f"    tensor({example})\n    ")
    return tensor_method(op)(logical)


logical_and = _logical("logical_and", np.logical_and)
logical_or = _logical("logical_or", np.logical_or)
logical_xor = _logical("logical_xor", np.logical_xor)


@tensor_method()
def logical_not(input):
    """logical_not(input) -> bool tensor, True where input is zero (or False).

    >>> import tapegrad as tg
    >>> tg.logical_not(tg.tensor([0.0, 2.0]))
    tensor([ True, False])
    """
    return _wrap(_array(np.logical_not(_data_of("logical_not", input))))


def _bitwise(op, ufunc, symbol):
    def bitwise(input, other):
        a, b = operands(op, input, other)
        if a._data.dtype.kind not in "biu":
            raise RuntimeError(f"{op}: only integer and bool tensors are supported, got {a._data.dtype}")
        try:
            return _wrap(_array(ufunc(a._data, b._data)))
        except ValueError:
            raise broadcast_error(op, a, b) from None

    def reflected(self, other):
        return bitwise(other, self)

    bitwise.__name__ = bitwise.__qualname__ = op
    bitwise.__doc__ = (f"{op}(input, other) -> input {symbol} other: bitwise for integers, logical for bools."
                       f"\n\n    >>> import tapegrad as tg\n    >>> tg.{op}(tg.tensor([12]), 10)\n"
                       f"    tensor([{ufunc(12, 10)}])\n    ")
    name = {"&": "and", "|": "or", "^": "xor"}[symbol]
    reflected.__name__ = reflected.__qualname__ = f"__r{name}__"
    reflected.__doc__ = f"other {symbol} self, for a number on the left."
    tensor_method(op, f"__{name}__")(bitwise)
    tensor_method(f"__r{name}__")(reflected)
    return bitwise


bitwise_and = _bitwise("bitwise_and", np.bitwise_and, "&")
bitwise_or = _bitwise("bitwise_or", np.bitwise_or, "|")
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor, "^")


@tensor_method("bitwise_not", "__invert__")
def bitwise_not(input):
    """bitwise_not(input) -> ~input: logical not for bools, bitwise not for integers.

    >>> import tapegrad as tg
    >>> ~tg.tensor([True, False])
    tensor([False,  True])
    """
    x = _data_of("bitwise_not", input)
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: ~ is only implemented on integer and bool tensors, got {x.dtype}")
    return _wrap(_array(np.invert(x)))


# ---------------------------------------------------------------------- in place
def _inplace_method(name, fn):
    def method(self, *args, **kwargs):
        return _inplace(self, name, fn, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{name}(...): {name[:-1]} in place."
    return method


for _fn in (abs, reciprocal, square, sqrt, rsqrt, exp, exp2, expm1, log, log2, log10, log1p, sin, cos, tan,
            sinh, cosh, asin, acos, atan, atan2, tanh, sigmoid, relu, erf, erfc, floor, ceil, round, trunc,
            frac, sign, floor_divide, remainder, fmod, lerp, clamp_min, clamp_max, bitwise_and, bitwise_or,
            bitwise_xor, bitwise_not, logical_and, logical_or, logical_xor, logical_not):
    if not hasattr(Tensor, _fn.__name__ + "_"):
        setattr(Tensor, _fn.__name__ + "_", _inplace_method(_fn.__name__ + "_", _fn))
Tensor.absolute_ = Tensor.abs_
Tensor.fix_ = Tensor.trunc_
Tensor.__ifloordiv__ = Tensor.floor_divide_
Tensor.__imod__ = Tensor.remainder_
Tensor.__iand__ = Tensor.bitwise_and_
Tensor.__ior__ = Tensor.bitwise_or_
Tensor.__ixor__ = Tensor.bitwise_xor_


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

