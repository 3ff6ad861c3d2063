"""Elementwise ops: arithmetic with broadcasting, unary math, rounding, selection, comparisons and logic.

Each op is declared with its gradient rule beside it (``autograd/declare.py``): an op of one tensor by
``@unary``, an op of two operands by ``@binary``, and the rest by hand with ``@op`` and ``record``. The engine
reduces broadcast gradients and casts dtypes, so no rule here unbroadcasts. Gradients follow PyTorch's
conventions at kinks and ties (relu and clamp bounds, maximum ties, pow at 0), and dtypes follow PyTorch's
promotion (``tapegrad/dtypes.py``): Python and numpy scalars are weak (``float32_tensor * 2.5`` stays
float32), integer tensors give float results for true division and float math.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import _state, dtypes
from ..autograd.declare import (
    NOT_GIVEN,
    Tensor,
    binary,
    broadcast_error,
    bump,
    cast,
    dtype_error,
    expected_tensor,
    inplace,
    inplace_method,
    named,
    numpy_xp,
    op,
    operand,
    operands,
    overlap_error,
    partial_overlap,
    plain_write,
    record,
    record_given,
    unary,
    wrap,
)
from ..autograd.xp import register_tensor_xp
from ._fused import fma as _fma

__all__ = [
    # arithmetic
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "neg", "negative", "positive", "abs", "absolute", "reciprocal", "square", "pow",
    "sqrt", "rsqrt", "lerp",
    # unary math
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "sinh", "cosh", "asin",
    "arcsin", "acos", "arccos", "atan", "arctan", "atan2", "arctan2", "deg2rad", "rad2deg", "tanh", "sigmoid",
    "relu", "erf", "erfc",
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
_grad = _state.grad
_clock = _state.clock
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _data_of(op_name, input):
    try:
        return input._data
    except AttributeError:
        raise expected_tensor(op_name, input) from None


def _fast_inplace(self, name, ufunc, other, op_fn, alpha=1, **kwargs):
    """``self.<name>(other)`` for an arithmetic op: with nothing to record, numpy writes straight into self's
    memory (an optimizer's ``p -= lr * p.grad``); otherwise, or when numpy refuses, the general door."""
    kind = other.__class__
    if kind is Tensor and (other._data.base is not None or self._data.base is not None) \
            and partial_overlap(self._data, other._data):
        raise overlap_error(name)  # as PyTorch's TensorIterator (two arrays that own their memory never overlap)
    if not kwargs and not ((self._requires_grad or kind is Tensor and other._requires_grad) and _grad.enabled):
        if kind is Tensor and other._data.dtype is self._data.dtype:
            value = other._data
        elif kind is float or kind is int:
            value = other if self._data.dtype is not _HALF else None  # float16: PyTorch's opmath, in the op
        else:
            value = None  # numpy scalars, bools, arrays: the general path applies PyTorch's rules to them
        if value is not None and (alpha.__class__ is int or alpha.__class__ is float):  # not bool: checked
            data = self._data
            try:
                if not (alpha.__class__ is int and alpha == 1):
                    if not -128 <= alpha <= 127 and _overflows(alpha, data.dtype):  # the general path refuses it
                        raise OverflowError
                    if kind is not Tensor and data.dtype.kind == "f":  # multiplied in the tensor's dtype, as sub()
                        value = data.dtype.type(value)
                    # as PyTorch: sub is add with -alpha (an int alpha of 0 stays +0, so -0.0 - 0 * -0.0 is -0.0)
                    # (an alpha out of an integer tensor's range: numpy's OverflowError, then the general path's)
                    if (data.dtype is _FLOAT32 or data.dtype is _FLOAT64) and not -1 <= alpha <= 1:
                        # one fused multiply-add, as add(): only an |alpha| above 1 can overflow the product
                        np.copyto(data, _plus_scaled(data, value, -alpha if ufunc is np.subtract else alpha))
                        ufunc = None
                    else:
                        value, ufunc = (value * -alpha, np.add) if ufunc is np.subtract else (value * alpha, ufunc)
                if ufunc is not None:
                    ufunc(data, value, data)  # out=data; numpy casts "same_kind" by default
            except (TypeError, ValueError, OverflowError):
                pass  # the general path says what is wrong (dtype, shape, read-only) in PyTorch's terms
            else:
                if self._base is None and self._extra is None:  # bump(self), inlined for the common case
                    _clock.now += 1
                    self._version = _clock.now
                else:
                    bump(self)
                return self
    if not (alpha.__class__ is int and alpha == 1):
        kwargs["alpha"] = alpha
    return inplace(self, name, op_fn, other, **kwargs)


# ---------------------------------------------------------------------- + - * /
def _alpha_operands(op_name, input, other, alpha):
    """Operands of add/sub promoted as PyTorch does, with ``alpha`` checked against the result dtype (it
    multiplies ``other`` after promotion, so ``add(f32, uint8, alpha=2)`` cannot overflow in uint8)."""
    a, b = operands(op_name, input, other)
    if not (alpha.__class__ is int and alpha == 1):
        kind = a._data.dtype.kind
        if kind != "b" and isinstance(alpha, (bool, np.bool_)):
            raise RuntimeError(f"{op_name}: boolean alpha only supported for boolean results, got alpha={alpha!r} "
                               f"for a {a._data.dtype} result")
        if kind in "iub" and isinstance(alpha, (float, np.floating)):
            raise RuntimeError(f"{op_name}: for integral input tensors, argument alpha must not be a floating "
                               f"point number, got alpha={alpha!r}")
        if isinstance(alpha, (int, float)) and _overflows(alpha, a._data.dtype):
            raise RuntimeError(f"{op_name}: alpha={alpha!r} cannot be converted to {a._data.dtype} without overflow")
    return a, b


@op(methods=("add", "__radd__"))
def add(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    """add(input, other, *, alpha=1) -> input + alpha * other, with broadcasting.

    >>> import tapegrad as tg
    >>> tg.add(tg.tensor([1.0, 2.0]), 10)
    tensor([11., 12.])
    """
    plain = alpha.__class__ is int and alpha == 1  # not True: a bool alpha is checked
    if plain and input.__class__ is Tensor:
        return _add_operator(input, other)
    a, b = _alpha_operands("add", input, other, alpha)
    x, y = a._data, b._data
    try:
        out = np.add(x, y) if plain else (np.logical_or(x, y & bool(alpha)) if x.dtype.kind == "b"
                                          else _plus_scaled(x, y, alpha))
    except ValueError:
        raise broadcast_error("add", a, b) from None
    return record(out, (a, b), _add_rule if plain else _scaled_rule(alpha), "AddBackward0")


def _plus_scaled(x, y, alpha):
    """``x + alpha * y`` with alpha in x's dtype. PyTorch's add kernel is one fused multiply-add for float32 and
    float64: where the rounded product overflows, the fused sum may not (-3e38 - 2 * -3e38 is 3e38, not inf), so
    there tapegrad takes the fused multiply-add too (elsewhere the last bit may differ: the fused form everywhere
    costs 10x in float32, 90x in float64). float16 and integers round the product first (PyTorch's scalar loop)."""
    alpha = np.asarray(alpha).astype(x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = x + y * alpha
        # (with |alpha| <= 1 the product cannot overflow, and where the rounded sum does, the fused one does too)
        if (x.dtype is _FLOAT32 or x.dtype is _FLOAT64) and not -1 <= alpha <= 1 and not np.isfinite(out).all():
            y = np.asarray(y, x.dtype)
            # (fma64 takes the overflowing product as inf: in halves, exact but for a subnormal x, then negligible)
            fused = _fma(y, alpha, x) if x.dtype is _FLOAT32 else 2 * _fma(y * 0.5, alpha, x * 0.5)
            out = np.where(np.isfinite(out), out, fused)
    return out


def _add_operator(self: Tensor, other: Tensor | float) -> Tensor:
    """``self + other``: ``add`` without ``alpha``, the operator's case.

    NOTE: its own function, not ``add``: a call that fills a keyword-only default costs ~600 instructions more
    per ``x + y``, a tenth of the whole 0-d op."""
    if other.__class__ is Tensor and self._data.dtype is other._data.dtype:
        a, b = self, other
    else:
        a, b = _alpha_operands("add", self, other, 1)
    try:
        out = np.add(a._data, b._data)
    except ValueError:
        raise broadcast_error("add", a, b) from None
    return record(out, (a, b), _add_rule, "AddBackward0")


_add_operator.__name__ = "add"  # NOTE: the op it is, for the tools that name ops by function (the ONNX tracer)
Tensor.__add__ = _add_operator


def _add_rule(xp, need, g, out, a, b):
    return g if need[0] else None, g if need[1] else None


def _scaled_rule(alpha):
    def rule(xp, need, g, out, a, b):
        return g if need[0] else None, g * alpha if need[1] else None

    return rule


@op(methods=("sub", "subtract", "__sub__"))
def sub(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    """sub(input, other, *, alpha=1) -> input - alpha * other, with broadcasting.

    >>> import tapegrad as tg
    >>> 1 - tg.tensor([1.0, 2.0])
    tensor([ 0., -1.])
    """
    plain = alpha.__class__ is int and alpha == 1
    if plain and input.__class__ is Tensor and other.__class__ is Tensor \
            and input._data.dtype is other._data.dtype and input._data.dtype.kind != "b":
        a, b = input, other
    else:
        if any(isinstance(v, (bool, np.bool_)) or isinstance(v, Tensor) and v._data.dtype.kind == "b"
               for v in (input, other)):
            raise dtype_error("sub", dtypes.bool)
        a, b = _alpha_operands("sub", input, other, alpha)
    try:
        # NOTE: as PyTorch, sub is add with -alpha (an int alpha of 0 stays +0: -0.0 - 0 * -0.0 is -0.0)
        out = np.subtract(a._data, b._data) if plain else _plus_scaled(a._data, b._data, -alpha)
    except ValueError:
        raise broadcast_error("sub", a, b) from None
    return record(out, (a, b), _sub_rule if plain else _scaled_rule(-alpha), "SubBackward0")


def _sub_rule(xp, need, g, out, a, b):
    return g if need[0] else None, -g if need[1] else None


subtract = sub


def __rsub__(self, other):
    """other - self, for a number or array on the left (PyTorch's rsub of a number: RsubBackward1)."""
    return named(sub(other, self), "RsubBackward1", (self,))


Tensor.__rsub__ = __rsub__


def rsub(input: Tensor, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    """rsub(input, other, *, alpha=1) -> other - alpha * input (a function only, as in PyTorch).

    >>> import tapegrad as tg
    >>> tg.rsub(tg.tensor([1.0]), 5)
    tensor([4.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    # PyTorch's nodes: rsub.Tensor RsubBackward0, rsub.Scalar RsubBackward1
    return named(sub(other, input, alpha=alpha), "RsubBackward0" if isinstance(other, Tensor) else "RsubBackward1",
                 (input,))


@op(methods=("mul", "multiply", "__mul__"))
def mul(input: Tensor | float, other: Tensor | float) -> Tensor:
    """mul(input, other) -> input * other, with broadcasting.

    A float16 tensor times a number or a 0-d tensor of another dtype is computed in float32 with the number at
    float32 precision, as PyTorch's "opmath" (``x * 1e5`` is not inf for small ``x``).

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 2.0]) * tg.tensor([[1.0], [3.0]])
    tensor([[1., 2.],
            [3., 6.]])
    """
    if input.__class__ is Tensor and other.__class__ is Tensor:  # the common case first: one check each
        if input._data.dtype is not other._data.dtype:
            if input._data.dtype is _HALF and _half_scalar(input, other):
                return _half_opmath("mul", np.multiply, input, other, _mul_rule, "MulBackward0")
            if other._data.dtype is _HALF and _half_scalar(other, input):
                return _half_scalar_first(input, other)
            input, other = operands("mul", input, other)
    elif input.__class__ is Tensor and (other.__class__ is float or other.__class__ is int) \
            and input._data.dtype.char in "fd" and not (input._requires_grad and _grad.enabled):
        # NOTE: a float tensor and a Python number, nothing to record (``lr * p.grad`` in an update): numpy's
        # weak scalars give PyTorch's dtype, and no tensor needs to be made for the number (float16: opmath below)
        return wrap(np.multiply(input._data, other))
    elif other.__class__ is Tensor and (input.__class__ is float or input.__class__ is int) \
            and other._data.dtype.kind == "f" and not (other._requires_grad and _grad.enabled):
        return wrap(np.multiply(input, other._data))  # the number on the left: PyTorch rounds it to float16 too
    else:
        if _half_scalar(input, other):
            return _half_opmath("mul", np.multiply, input, other, _mul_rule, "MulBackward0")
        input, other = operands("mul", input, other)
    try:
        out = np.multiply(input._data, other._data)
    except ValueError:
        raise broadcast_error("mul", input, other) from None
    except TypeError:
        raise dtype_error("mul", input._data.dtype) from None
    return record(out, (input, other), _mul_rule, "MulBackward0")


def __rmul__(self: Tensor, other: Tensor | float) -> Tensor:
    """other * self, for a number or array on the left: ``mul(self, other)``.

    The hand-written update's ``lr * p.grad`` (a Python number, nothing to record) is checked first."""
    if (other.__class__ is float or other.__class__ is int) and self.__class__ is Tensor \
            and self._data.dtype.char in "fd" and not (self._requires_grad and _grad.enabled):
        return wrap(np.multiply(self._data, other))  # (mul's own path for this case)
    return mul(self, other)


Tensor.__rmul__ = __rmul__


def _mul_rule(xp, need, g, out, a, b):
    return g * b if need[0] else None, g * a if need[1] else None


def _half_scalar_first(input, other):
    """``input * other`` of a one-element ``input`` of another dtype and a float16 ``other``: PyTorch's kernel rounds
    input to float16 (only a second operand is its opmath scalar), but the gradient formula of other, ``grad * self``,
    has it second: other's gradient is computed in float32 with input's own value (0 * -3e38 is -0.0 there, not
    0 * its float16 -inf), so input is recorded as given."""
    with np.errstate(over="ignore"):
        out = np.multiply(input._data.astype(_HALF), other._data)
    return record(out, (input, other), _mul_scalar_first_rule, "MulBackward0")


def _mul_scalar_first_rule(xp, need, g, out, a, b):
    return g * b if need[0] else None, xp.mul(g, a) if need[1] else None


_HALF = np.dtype(np.float16)
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)
_FLOAT = np.dtype(np.float32)


def _half_scalar(input, other):
    """Whether ``input <op> other`` is PyTorch's float16 "opmath" case: a float16 result and, second, a number or
    a one-element tensor of another dtype (BinaryOpsKernel.cpp: ``iter.is_scalar(2)`` of a reduced float
    dtype; the kernel computes in float32 with the second operand's own value, ``original_scalar_value``): a 0-d
    float tensor beside a float16 one with dims, or an integer or bool tensor of one element."""
    if input.__class__ is not Tensor or input._data.dtype is not _HALF:
        return False
    if isinstance(other, Tensor):
        b = other._data
        return b.size == 1 and b.dtype is not _HALF and (
            b.dtype.kind in "biu" or b.ndim == 0 and input._data.ndim > 0)
    return isinstance(other, (int, float, np.integer, np.floating, np.bool_))


def _opmath_operand(other):
    """The second operand of a float16 opmath op as a float32 0-d tensor (a float tensor's gradient flows
    back through the cast)."""
    if isinstance(other, Tensor):
        if other._data.dtype.kind == "f":
            return cast(other, _FLOAT)
        return wrap(other._data.astype(_FLOAT))
    with np.errstate(over="ignore"):
        return wrap(np.array(float(other), dtype=_FLOAT))


def _half_opmath(op_name, fn, input, other, rule, node):
    """``fn(input, other)`` computed in float32 for a float16 ``input`` and a scalar ``other`` (PyTorch's
    opmath), rounded to float16 once. ``rule`` sees the float32 scalar, so the gradient is computed the same way
    (the engine rounds it to the input's dtype)."""
    b = _opmath_operand(other)
    with np.errstate(all="ignore"):
        out = fn(input._data.astype(_FLOAT), b._data).astype(_HALF)
    return record(out, (input, b), rule, node)


def _as_pytorch(fn, a, b, true_division):
    """``fn(a, b)`` for an array ``a`` and an array or Python number ``b`` as PyTorch's mul (``fn`` multiply) or
    div (divide, ``true_division``) computes ``a <op> b``: in its result dtype (``dtypes.promote``: a 0-d operand
    or a number does not widen a tensor with dims of its category; integers divide in the default float dtype),
    and a float16 result with a one-element ``b`` of another dtype in float32 with b's own value, rounded once (as
    :func:`_half_scalar`). No floating point warnings, as PyTorch's, where the dtypes differ."""
    if a.__class__ is np.ndarray and (b.__class__ is np.ndarray and b.dtype is a.dtype and a.dtype.kind == "f" or (
            b.__class__ is float or b.__class__ is int) and a.dtype.char in "fd"):
        return fn(a, b)  # (the common case, quickly: numpy's arithmetic in one float dtype is PyTorch's)
    a = np.asarray(a)  # (numpy's 0-d results are scalars: 0-d arrays again)
    if b.__class__ is float or b.__class__ is int or b.__class__ is bool:  # a number (np.float64 is an array's)
        dt = dtypes.scalar_dtype(b, a.dtype)
        b = np.asarray(b)
    else:
        b = np.asarray(b)
        dt = a.dtype if a.dtype == b.dtype else dtypes.promote(a, b)
    if true_division and dt.kind != "f":
        dt = _default_dtype()
    with np.errstate(all="ignore"):
        if dt == _HALF and b.dtype != _HALF and b.size == 1:
            return np.asarray(fn(a.astype(_FLOAT), b.astype(_FLOAT)).astype(_HALF))
        return np.asarray(fn(a.astype(dt, copy=False), b.astype(dt, copy=False)))


def _mul_arrays(a, b):
    """PyTorch's ``mul(a, b)`` on arrays (``xp.mul`` of rules evaluated on arrays; tapegrad's ``mul`` on tensors):
    a derivative formula that multiplies operands of different dtypes, as derivatives.yaml's."""
    return _as_pytorch(np.multiply, a, b, False)


def _div_arrays(a, b):
    """PyTorch's true ``div(a, b)`` on arrays (``xp.div``; tapegrad's ``div`` on tensors)."""
    return _as_pytorch(np.divide, a, b, True)


numpy_xp.mul, numpy_xp.div = _mul_arrays, _div_arrays


def _add_arrays(a, b):
    """PyTorch's ``add(a, b)`` on arrays (``xp.add_promoted``): both in the result dtype, then added (add has no
    float16 opmath case: a float32 0-d operand is rounded to float16 first)."""
    a, b = np.asarray(a), np.asarray(b)
    dt = a.dtype if a.dtype == b.dtype else dtypes.promote(a, b)
    with np.errstate(all="ignore"):
        return np.asarray(np.add(a.astype(dt, copy=False), b.astype(dt, copy=False)))


def _div_trunc_arrays(a, b):
    """PyTorch's ``div(a, b, rounding_mode='trunc')`` on arrays (``xp.div_trunc``): float16 by a one-element operand
    of another dtype truncated in float32 with its own value, as the kernel's opmath."""
    return _as_pytorch(_trunc_divide, a, b, False)


def _div_floor_arrays(a, b):
    """PyTorch's ``div(a, b, rounding_mode='floor')`` on arrays (``xp.div_floor``), as :func:`_div_trunc_arrays`."""
    return _as_pytorch(np.floor_divide, a, b, False)


numpy_xp.add_promoted, numpy_xp.div_trunc, numpy_xp.div_floor = _add_arrays, _div_trunc_arrays, _div_floor_arrays
register_tensor_xp("add_promoted", lambda a, b: a + b)
register_tensor_xp("div_trunc", lambda a, b: div(a, b, rounding_mode="trunc"))
register_tensor_xp("div_floor", lambda a, b: div(a, b, rounding_mode="floor"))

multiply = mul


@op(methods=("div", "divide", "__truediv__"))
def div(input: Tensor | float, other: Tensor | float, *, rounding_mode: str | None = NOT_GIVEN) -> Tensor:
    """div(input, other, *, rounding_mode=None) -> input / other.

    True division (integers give the default float dtype) unless ``rounding_mode`` is ``'trunc'`` (round
    toward zero) or ``'floor'`` (round down); the rounded forms keep integer dtypes and have zero gradient.

    >>> import tapegrad as tg
    >>> tg.div(tg.tensor([7, -7]), 2)
    tensor([ 3.5000, -3.5000])
    >>> tg.div(tg.tensor([7, -7]), 2, rounding_mode='floor')
    tensor([ 3, -4])
    """
    if rounding_mode is not NOT_GIVEN:
        if rounding_mode is not None:
            return _rounded_div("div", input, other, rounding_mode)
        # an explicit None: PyTorch's div.Tensor_mode, the same true division, with the node DivBackward2
        return named(div(input, other), "DivBackward2", (input, other))
    if input.__class__ is Tensor and other.__class__ is Tensor and input._data.dtype is other._data.dtype \
            and input._data.dtype.kind == "f":
        a, b = input, other
    else:
        if _half_scalar(input, other):
            return _half_opmath("div", np.divide, input, other, _div_out_rule, "DivBackward0")
        a, b = _true_div_operands("div", input, other)
    try:
        out = np.divide(a._data, b._data)
    except ValueError:
        raise broadcast_error("div", a, b) from None
    # NOTE: as PyTorch's DivBackward0, the dividend is kept (read) only if the divisor needs its gradient, and
    # the result never is: either may be changed in place before backward when the formula does not need it
    return record(out, (a, b), _div_rule if b._requires_grad else _div_by_constant_rule, "DivBackward0")


def _true_div_operands(op_name, input, other):
    """Operands of a true division: integers go to the default float dtype from their own values (PyTorch does
    not first cast ``tensor(-1)`` to a uint8 dividend's dtype)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{op_name}: expected at least one Tensor, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    like = input if isinstance(input, Tensor) else other
    if like._data.dtype.kind in "biu":  # a number next to an integer tensor goes to float as it is (-3, not 253)
        input, other = (float(v) if isinstance(v, (int, np.integer)) else v for v in (input, other))
    a = input if isinstance(input, Tensor) else operand(op_name, input, like)
    b = other if isinstance(other, Tensor) else operand(op_name, other, like)
    dt = dtypes.promote(a._data, b._data)
    if dt.kind != "f":
        dt = _default_dtype()
    return cast(a, dt), cast(b, dt)


def _div_rule(xp, need, g, out, a, b):
    # PyTorch's formulas: d/da = g / b, d/db = -g * ((a / b) / b)
    return g / b if need[0] else None, -g * ((a / b) / b) if need[1] else None


def _div_by_constant_rule(xp, need, g, out, a, b):  # b does not need its gradient: a is not read
    return g / b if need[0] else None, None


def _div_out_rule(xp, need, g, out, a, b):
    # float16 by a scalar (b: its float32 value): PyTorch's formulas, grad / other and -grad * ((self / other) /
    # other), each step float16 computed in float32 with the scalar's value (its opmath), as the forward; recomputed
    # from a, so the result may be written in place before backward
    return xp.div(g, b) if need[0] else None, xp.mul(-g, xp.div(xp.div(a, b), b)) if need[1] else None


divide = div


@op
def true_divide(input: Tensor | float, other: Tensor | float) -> Tensor:
    """true_divide(input, other) -> input / other: ``div`` without ``rounding_mode`` (PyTorch's alias takes none).

    >>> import tapegrad as tg
    >>> tg.true_divide(tg.tensor([7, -7]), 2)
    tensor([ 3.5000, -3.5000])
    """
    return div(input, other)


def __rtruediv__(self, other):
    """other / self, for a number or array on the left: as PyTorch, ``self.reciprocal() * other`` for a
    number (so a float16 tensor's reciprocal is rounded, then multiplied in float32)."""
    if isinstance(other, (int, float, np.number, np.bool_)):
        return mul(reciprocal(self), other)
    return div(other, self)


Tensor.__rtruediv__ = __rtruediv__


def _rounded_div(op_name, input, other, rounding_mode):
    """Division rounded toward zero ('trunc') or down ('floor'); integers stay integer; zero gradient."""
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"{op_name}: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    if _half_scalar(input, other):
        fn = _trunc_divide if rounding_mode == "trunc" else np.floor_divide
        return _half_opmath(op_name, fn, input, other, _zero_rule2, "DivBackward2")
    a, b = operands(op_name, input, other)
    x, y = a._data, b._data
    kind = x.dtype.kind
    if kind == "b":
        raise dtype_error(op_name + f" (rounding_mode={rounding_mode!r})", x.dtype)
    if kind in "iu" and x.size and y.size and not y.all():
        raise RuntimeError(f"{op_name}: integer division by zero (ZeroDivisionError)")
    try:
        if kind == "f" and rounding_mode == "trunc":
            out = np.trunc(np.divide(x, y))
        else:
            out = np.floor_divide(x, y)
            if rounding_mode == "trunc" and kind != "f":  # integers: floor and trunc differ below zero
                out = out + ((out < 0) & (out * y != x))
    except ValueError:
        raise broadcast_error(op_name, a, b) from None
    return record(out, (a, b), _zero_rule2, "DivBackward2")


def _trunc_divide(x, y):
    return np.trunc(np.divide(x, y))


def _zero_rule2(xp, need, g, out, a, b):
    return xp.zeros_like(g) if need[0] else None, xp.zeros_like(g) if need[1] else None


@op(methods=("floor_divide", "__floordiv__"))
def floor_divide(input: Tensor | float, other: Tensor | float) -> Tensor:
    """floor_divide(input, other) -> input // other, rounded down (Python's //); zero gradient.

    >>> import tapegrad as tg
    >>> tg.tensor([7, -7]) // 2
    tensor([ 3, -4])
    """
    return _rounded_div("floor_divide", input, other, "floor")


def __rfloordiv__(self, other):
    """other // self, for a number or array on the left."""
    return floor_divide(other, self)


Tensor.__rfloordiv__ = __rfloordiv__


def _modulo(op_name, ufunc, input, other, rule, node, given=None):
    if given is not None and input.__class__ is Tensor and other.__class__ is Tensor \
            and input._data.dtype is not other._data.dtype and input._data.dtype.kind == other._data.dtype.kind == "f":
        return record_given(op_name, ufunc, input, other, given, node)
    a, b = operands(op_name, input, other)
    x, y = a._data, b._data
    kind = x.dtype.kind
    if kind == "b":
        raise dtype_error(op_name, x.dtype)
    if kind in "iu" and x.size and y.size and not y.all():
        raise RuntimeError(f"{op_name}: integer division by zero (ZeroDivisionError)")
    try:
        out = ufunc(x, y)
    except ValueError:
        raise broadcast_error(op_name, a, b) from None
    return record(out, (a, b), rule, node)


@op(methods=("remainder", "__mod__"))
def remainder(input: Tensor | float, other: Tensor | float) -> Tensor:
    """remainder(input, other) -> input % other, with the sign of ``other`` (Python's %).

    >>> import tapegrad as tg
    >>> tg.tensor([5.0, -5.0]) % 3
    tensor([2., 1.])
    """
    # PyTorch's nodes: remainder.Scalar (a number divisor) RemainderBackward0, remainder.Tensor RemainderBackward1
    node = "RemainderBackward1" if isinstance(other, Tensor) else "RemainderBackward0"
    return _modulo("remainder", _np_remainder, input, other, _remainder_rule, node, _remainder_given_rule)


def _np_remainder(a, b):
    if a.dtype.kind != "f":
        return np.remainder(a, b)
    # NOTE: PyTorch's formula, fmod plus the divisor where the signs differ: -1 % 1 is -0.0 (numpy's is 0.0)
    r = np.fmod(a, b)
    return np.where((r != 0) & ((r < 0) != (b < 0)), r + b, r)


def _remainder_rule(xp, need, g, out, a, b):
    # d/db (a - b * floor(a / b)) = -floor(a / b)
    return g if need[0] else None, -g * xp.floor_divide(a, b) if need[1] else None


def _remainder_given_rule(xp, need, g, out, a, b):
    # operands of different float dtypes, as given: derivatives.yaml's -grad * self.div(other, rounding_mode="floor")
    return g if need[0] else None, xp.mul(-g, xp.div_floor(a, b)) if need[1] else None


def __rmod__(self, other):
    """other % self, for a number or array on the left."""
    return remainder(other, self)


Tensor.__rmod__ = __rmod__


@op
def fmod(input: Tensor, other: Tensor | float) -> Tensor:
    """fmod(input, other): the remainder of division rounded toward zero, with the sign of ``input`` (C fmod).

    >>> import tapegrad as tg
    >>> tg.fmod(tg.tensor([5.0, -5.0]), 3)
    tensor([ 2., -2.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"fmod: argument 'input' (position 1) must be a Tensor, not {type(input).__name__}")
    if other.__class__ is Tensor:
        # NOTE: PyTorch's fmod kernel divides by a float32 0-d divisor rounded to float16, but the gradient's
        # div(rounding_mode='trunc') is float16 opmath, with the divisor's own value: the given rule sees that
        return _modulo("fmod", np.fmod, input, other, _fmod_rule, "FmodBackward1", _fmod_given_rule)
    return _modulo("fmod", np.fmod, input, other, _fmod_rule, "FmodBackward0")


def _fmod_rule(xp, need, g, out, a, b):
    # PyTorch's FmodBackward1: other gets -grad * self.div(other, rounding_mode="trunc")
    return g if need[0] else None, -g * xp.trunc(a / b) if need[1] else None


def _fmod_given_rule(xp, need, g, out, a, b):
    # operands of different float dtypes, as given: -grad * self.div(other, rounding_mode="trunc") promoted per step
    return g if need[0] else None, xp.mul(-g, xp.div_trunc(a, b)) if need[1] else None


@unary(np.negative, grad=lambda xp, g, out, x: -g, ints="keep", bools="error", methods=("neg", "negative", "__neg__"))
def neg(input):
    """neg(input) -> -input.

    >>> import tapegrad as tg
    >>> -tg.tensor([1.0, -2.0])
    tensor([-1.,  2.])
    """


negative = neg


@op(methods=("positive", "__pos__"))
def positive(input: Tensor) -> Tensor:
    """positive(input) -> input (the same tensor, as PyTorch's unary +).

    >>> import tapegrad as tg
    >>> +tg.tensor([1.0])
    tensor([1.])
    """
    if _data_of("positive", input).dtype.kind == "b":
        raise dtype_error("positive", input._data.dtype)
    return input


@unary(np.abs, grad=lambda xp, g, out, x: xp.where(x > 0, g, xp.where(x < 0, -g, g * 0)), ints="keep",
       bools="error", methods=("abs", "absolute", "__abs__"))
def abs(input):
    """abs(input) -> |input|. The gradient is PyTorch's g * sign(input): 0 at 0 and at NaN (NaN at 0 for an
    infinite g, 0 * inf).

    >>> import tapegrad as tg
    >>> tg.abs(tg.tensor([-1.5, 0.0, 2.0]))
    tensor([1.5000, 0.0000, 2.0000])
    """


absolute = abs
Tensor.absolute_ = Tensor.abs_


@unary(np.reciprocal, grad=lambda xp, g, out, x: -g * (out * out))
def reciprocal(input):
    """reciprocal(input) -> 1 / input (integers give the default float dtype; 1 / -0.0 is -inf).

    >>> import tapegrad as tg
    >>> tg.reciprocal(tg.tensor([2, 4]))
    tensor([0.5000, 0.2500])
    """


@op(inplace=True)
def square(input: Tensor) -> Tensor:
    """square(input) -> input * input (integers and bools give int64, like ``input ** 2``).

    >>> import tapegrad as tg
    >>> tg.square(tg.tensor([-2.0, 3.0]))
    tensor([4., 9.])
    """
    return pow(input, 2)


# ---------------------------------------------------------------------- powers and roots
@op(methods=("pow", "__pow__"), inplace=True, elementwise=True)
def pow(input: Tensor | float, exponent: Tensor | float) -> Tensor:
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
    if kind == "b" and isinstance(e, bool):  # PyTorch: bool ** True is the bool tensor, bool ** False all True
        return wrap(x._data.copy() if e else np.ones_like(x._data))
    if kind != "f":
        x = cast(x, dtypes.scalar_dtype(e, x._data.dtype)) if kind == "b" or isinstance(e, float) else x
        if x._data.dtype.kind != "f" and e < 0:
            raise RuntimeError(f"pow: integers to negative integer powers are not allowed (a {x._data.dtype} "
                               f"tensor to the power {e})")
        if x._data.dtype.kind in "iu" and not np.iinfo(x._data.dtype).min <= e <= np.iinfo(x._data.dtype).max:
            raise RuntimeError(f"pow: value {e} cannot be converted to type {x._data.dtype} without overflow")
    data = x._data
    if data.dtype is _HALF and not -65504.0 <= e <= 65504.0 and not math.isinf(e) and e == e:
        # PyTorch converts the exponent to the tensor's dtype with c10's check: float16 cannot hold it
        raise RuntimeError(f"pow: value {e} cannot be converted to type float16 without overflow")
    # The special cases PyTorch computes without pow() (faster, and its exact numbers)
    half = data.dtype is _HALF
    if half:
        # NOTE: PyTorch's float16 pow has none of these: C's pow in float32 for every exponent (numpy's float16
        # power too), so (-inf) ** 0.5 is +inf and (-0.0) ** 0.5 is +0.0 there, not sqrt's nan and -0.0
        out = np.power(data, e)
    elif e == 2:
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

    def pow_rule(xp, g, out, x):
        if e == 0:
            return xp.zeros_like(g)
        if e == 2:
            return g * (2 * x)
        if e == 0.5 and not half:  # PyTorch's x.pow(-0.5) is 1 / sqrt(x): -inf at -0.0 and nan at -inf (C's pow,
            # float16's: inf and 0)
            return g * (0.5 / xp.sqrt(x))
        return g * (e * xp.pow(x, e - 1))  # (numpy's float16 x ** 0.5 would take sqrt's fast path)

    return record(out, (x,), pow_rule, "PowBackward0")


def _tensor_pow(input, exponent):
    name = "PowBackward1" if isinstance(input, Tensor) else "PowBackward2"  # x ** y, or 2 ** x
    if input.__class__ is Tensor and exponent.__class__ is Tensor and input._data.dtype is not exponent._data.dtype \
            and input._data.dtype.kind == exponent._data.dtype.kind == "f":
        return record_given("pow", numpy_xp.pow, input, exponent, _pow_given_rule, name)
    a, b = operands("pow", input, exponent)
    x, e = a._data, b._data
    kind = x.dtype.kind
    if kind == "b":
        raise dtype_error("pow", x.dtype)
    try:
        if kind == "f":
            out = numpy_xp.pow(x, e)  # (C's pow where numpy's loop would take sqrt)
            if not isinstance(input, Tensor) and isinstance(input, (int, float)):
                return record(out, (a, b), _scalar_base_pow_rule(input), name)
            return record(out, (a, b), _pow_rule, name)
        negative_e = e < 0
        if not negative_e.any():
            return wrap(np.power(x, e))
        # NOTE: integer b ** -n truncates: 1 for b == 1, +-1 for b == -1, else 0 (PyTorch's integer pow)
        out = np.power(x, np.where(negative_e, 0, e))
        inverse = np.where(x == 1, 1, np.where(x == -1, 1 - 2 * (e & 1), 0))
        return wrap(np.where(negative_e, inverse, out).astype(x.dtype))
    except ValueError:
        raise broadcast_error("pow", a, b) from None


def _pow_rule(xp, need, g, out, a, b):
    # NOTE: exponent 0 gives gradient 0 even at a == 0, where b * a ** (b - 1) would be 0 * inf = nan; and
    # a ** b * log(a) is taken as 0 at a == 0 with b >= 0 (PyTorch's convention), not 0 * -inf = nan.
    return (xp.where(b == 0, 0, g * (b * xp.pow(a, b - 1))) if need[0] else None,
            g * xp.where((a == 0) & (b >= 0), 0, out * xp.log(a)) if need[1] else None)


def _pow_given_rule(xp, need, g, out, a, b):
    # operands of different float dtypes, as given: pow_backward_self's where(exponent == 0, 0, grad * (exponent *
    # self.pow(exponent - 1))) and pow_backward_exponent's grad * where(self == 0 & exponent >= 0, 0, result *
    # log(self in the result dtype)), each step promoted (the exponent's own value in its tests and product)
    dt = out.dtype
    ga = gb = None
    if need[0]:
        power = xp.pow(xp.astype(a, dt), xp.astype(b - 1, dt))
        ga = xp.where(b == 0, 0, xp.mul(g, xp.mul(b, power)))
    if need[1]:
        gb = xp.mul(g, xp.where((a == 0) & (b >= 0), 0, out * xp.log(xp.astype(a, dt))))
    return ga, gb


def _scalar_base_pow_rule(base):
    """The gradient of ``base ** exponent`` for a number ``base``, as PyTorch's pow_backward_exponent with a Scalar
    base (FunctionsManual.cpp): ``grad * (result * log(base))`` with log taken in double precision and multiplied
    into the result in its dtype (float16 in float32), not log of the base rounded to the exponent's dtype
    (1e30 is inf in float16: its log would be inf, and 0 * inf nan); base 0: grad times 0 where the exponent is
    >= 0 (NaN for an inf or NaN grad)."""
    with np.errstate(all="ignore"):
        log = float(np.log(np.float64(base)))  # (a negative base: nan, as C's log)

    def scalar_base_pow_rule(xp, need, g, out, a, b):
        if need[0]:  # (a number base never requires grad; kept for the protocol)
            return _pow_rule(xp, need, g, out, a, b)
        dt = out.dtype
        scaled = (out.astype(np.float32) * np.float32(log)).astype(dt) if dt == np.float16 else out * dt.type(log)
        if base == 0:  # grad times the masked factor, as PyTorch: an inf or NaN gradient gives NaN there too
            return None, g * xp.where(b >= 0, 0, scaled)
        return None, g * scaled

    return scalar_base_pow_rule


def __rpow__(self, other):
    """other ** self, for a number base: ``2 ** x``."""
    return pow(other, self)


Tensor.__rpow__ = __rpow__


@unary(np.sqrt, grad=lambda xp, g, out, x: g / (2 * out))
def sqrt(input):
    """sqrt(input) -> the square root (nan below 0; the gradient at 0 is inf, as in PyTorch).

    >>> import tapegrad as tg
    >>> tg.sqrt(tg.tensor([4.0, 9.0]))
    tensor([2., 3.])
    """


@unary(grad=lambda xp, g, out, x: -0.5 * g * (out * out * out))
def rsqrt(input):
    """rsqrt(input) -> 1 / sqrt(input) (inf at 0, -inf at -0.0, nan below 0, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.rsqrt(tg.tensor([4.0, 0.25]))
    tensor([0.5000, 2.0000])
    """
    return 1 / np.sqrt(input)


# ---------------------------------------------------------------------- unary math
@unary(np.exp, grad=lambda xp, g, out, x: g * out)
def exp(input):
    """exp(input) -> e ** input (inf beyond the dtype's range, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.exp(tg.tensor([0.0, 1.0]))
    tensor([1.0000, 2.7183])
    """


@unary(np.exp2, grad=lambda xp, g, out, x: g * out * _LN2)
def exp2(input):
    """exp2(input) -> 2 ** input.

    >>> import tapegrad as tg
    >>> tg.exp2(tg.tensor([0.0, 3.0]))
    tensor([1., 8.])
    """


@unary(np.expm1, grad=lambda xp, g, out, x: g * (out + 1))
def expm1(input):
    """expm1(input) -> exp(input) - 1, accurate near 0.

    >>> import tapegrad as tg
    >>> tg.expm1(tg.tensor([0.0, 1e-10], dtype=tg.float64))
    tensor([0.0000e+00, 1.0000e-10], dtype=tapegrad.float64)
    """


@unary(np.log, grad=lambda xp, g, out, x: g / x)
def log(input):
    """log(input) -> the natural logarithm (-inf at 0 and nan below, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.log(tg.tensor([1.0, 100.0]))
    tensor([0.0000, 4.6052])
    """


@unary(np.log2, grad=lambda xp, g, out, x: g / (x * _LN2))
def log2(input):
    """log2(input) -> the base-2 logarithm.

    >>> import tapegrad as tg
    >>> tg.log2(tg.tensor([1.0, 8.0]))
    tensor([0., 3.])
    """


@unary(grad=lambda xp, g, out, x: g / (x * _LN10))
def log10(input):
    """log10(input) -> the base-10 logarithm.

    >>> import tapegrad as tg
    >>> tg.log10(tg.tensor([1.0, 100.0]))
    tensor([0., 2.])
    """
    # NOTE: numpy's float32 log10 is off by an ulp at exact powers of ten on some CPUs (2.0000002 for 100);
    # through float64 it rounds correctly, as PyTorch's does.
    if input.dtype == np.float32:
        return np.log10(input, dtype=np.float64).astype(np.float32)
    return np.log10(input)


@unary(np.log1p, grad=lambda xp, g, out, x: g / (x + 1))
def log1p(input):
    """log1p(input) -> log(1 + input), accurate near 0.

    >>> import tapegrad as tg
    >>> tg.log1p(tg.tensor([0.0, 1e-10], dtype=tg.float64))
    tensor([0.0000e+00, 1.0000e-10], dtype=tapegrad.float64)
    """


@unary(np.sin, grad=lambda xp, g, out, x: g * xp.cos(x))
def sin(input):
    """sin(input), in radians.

    >>> import tapegrad as tg
    >>> tg.sin(tg.tensor([0.0]))
    tensor([0.])
    """


@unary(np.cos, grad=lambda xp, g, out, x: g * -xp.sin(x))
def cos(input):
    """cos(input), in radians.

    >>> import tapegrad as tg
    >>> tg.cos(tg.tensor([0.0]))
    tensor([1.])
    """


@unary(np.tan, grad=lambda xp, g, out, x: g * (1 + out * out))
def tan(input):
    """tan(input), in radians.

    >>> import tapegrad as tg
    >>> tg.tan(tg.tensor([0.0]))
    tensor([0.])
    """


@unary(np.sinh, grad=lambda xp, g, out, x: g * xp.cosh(x))
def sinh(input):
    """sinh(input): the hyperbolic sine.

    >>> import tapegrad as tg
    >>> tg.sinh(tg.tensor([0.0]))
    tensor([0.])
    """


@unary(np.cosh, grad=lambda xp, g, out, x: g * xp.sinh(x))
def cosh(input):
    """cosh(input): the hyperbolic cosine.

    >>> import tapegrad as tg
    >>> tg.cosh(tg.tensor([0.0]))
    tensor([1.])
    """


@unary(np.arcsin, grad=lambda xp, g, out, x: g / xp.sqrt(1 - x * x), methods=("asin", "arcsin"))
def asin(input):
    """asin(input): the inverse sine (nan outside [-1, 1]).

    >>> import tapegrad as tg
    >>> tg.asin(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 1.5708])
    """


@unary(np.arccos, grad=lambda xp, g, out, x: -g / xp.sqrt(1 - x * x), methods=("acos", "arccos"))
def acos(input):
    """acos(input): the inverse cosine (nan outside [-1, 1]).

    >>> import tapegrad as tg
    >>> tg.acos(tg.tensor([1.0, 0.0]))
    tensor([0.0000, 1.5708])
    """


@unary(grad=lambda xp, g, out, x: g / (x * x + 1), methods=("atan", "arctan"))
def atan(input):
    """atan(input): the inverse tangent.

    >>> import tapegrad as tg
    >>> tg.atan(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7854])
    """
    return np.arctan(input)


arcsin, arccos, arctan = asin, acos, atan
Tensor.arcsin_, Tensor.arccos_, Tensor.arctan_ = Tensor.asin_, Tensor.acos_, Tensor.atan_


def _atan2_rule(xp, need, g, out, a, b):
    # NOTE: at (0, 0) the gradient is g * 0, as PyTorch's (its reciprocal of a*a + b*b is 0 there); where a*a + b*b
    # is infinite it is the limit g * 0 where PyTorch's formula gives inf * 0 = nan for an overflowing g * a (a
    # documented difference, README), not 0/0 or inf/inf = nan. g * 0, not 0: an inf or NaN incoming gradient
    # gives NaN there, as PyTorch's
    r = a * a + b * b
    edge = (r == 0) | xp.isinf(r)
    r = xp.where(edge, 1, r)
    return (xp.where(edge, g * 0, g * b / r) if need[0] else None,
            xp.where(edge, g * 0, g * -a / r) if need[1] else None)


def _atan2_given_rule(xp, need, g, out, a, b):
    # operands of different float dtypes, as given: PyTorch's atan2_backward promoted per step, recip = 1 / (a * a +
    # b * b) (0 where that is 0), then grad * other * recip and grad * -self * recip (a float16 a * a may overflow
    # beside a float32 b: recip 0, and the gradients signed zeros)
    r = xp.add_promoted(xp.mul(a, a), xp.mul(b, b))
    zero = r == 0
    recip = xp.where(zero, 0, 1 / xp.where(zero, 1, r))
    return (xp.mul(xp.mul(g, b), recip) if need[0] else None,
            xp.mul(xp.mul(g, -a), recip) if need[1] else None)


@binary(np.arctan2, grad=_atan2_rule, floats=True, tensors=True, methods=("atan2", "arctan2"), given=_atan2_given_rule)
def atan2(input, other):
    """atan2(input, other): the angle of the point (other, input), in (-pi, pi].

    >>> import tapegrad as tg
    >>> tg.atan2(tg.tensor([1.0]), tg.tensor([-1.0]))
    tensor([2.3562])
    """


arctan2 = atan2
Tensor.arctan2_ = Tensor.atan2_


@unary(grad=lambda xp, g, out, x: g * (math.pi / 180))
def deg2rad(input):
    """deg2rad(input): angles in degrees converted to radians.

    >>> import tapegrad as tg
    >>> tg.deg2rad(tg.tensor([180.0, 90.0]))
    tensor([3.1416, 1.5708])
    """
    return input * np.asarray(math.pi / 180, input.dtype)


@unary(grad=lambda xp, g, out, x: g * (180 / math.pi))
def rad2deg(input):
    """rad2deg(input): angles in radians converted to degrees.

    >>> import tapegrad as tg
    >>> tg.rad2deg(tg.tensor([3.14159265]))
    tensor([180.])
    """
    return input * np.asarray(180 / math.pi, input.dtype)


@unary(np.tanh, grad=lambda xp, g, out, x: g * (1 - out * out))
def tanh(input):
    """tanh(input): the hyperbolic tangent.

    >>> import tapegrad as tg
    >>> tg.tanh(tg.tensor([0.0, 100.0]))
    tensor([0., 1.])
    """


@unary(grad=lambda xp, g, out, x: g * (1 - out) * out)
def sigmoid(input):
    """sigmoid(input) -> 1 / (1 + exp(-input)), without overflow for any input.

    >>> import tapegrad as tg
    >>> tg.sigmoid(tg.tensor([-1e4, 0.0, 1e4]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    # NOTE: exp(-|x|) never overflows: sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0
    e = np.exp(-np.abs(input))
    out = np.where(input >= 0, 1, e).astype(input.dtype, copy=False)
    out /= 1 + e
    return out


def xlogy_rule(xp, need, g, out, x, y):
    """The gradients of xlogy(x, y) = x * log(y) (``special.xlogy`` and kl_div's target term), PyTorch's:
    xlogy(grad, y) for x (0 where grad == 0, unless y is NaN; 0 where x == 0 and y <= 0), grad * x / y for y."""
    with np.errstate(divide="ignore", invalid="ignore"):
        gx = gy = None
        if need[0]:
            zero = (x == 0) & (y <= 0)
            gx = xp.where(zero | ((g == 0) & (y == y)), 0.0, g * xp.log(xp.where(zero, 1.0, y)))
        if need[1]:
            gy = g * x / y
    return gx, gy


def xlogy_given_rule(xp, need, g, out, x, y):
    """xlogy's gradients for operands of different float dtypes, as given (derivatives.yaml's formulas promoted per
    step): xlogy(grad, y) in their common dtype (a float32 0-d y beside float16 gradients: rounded to float16), and
    grad * x / y."""
    gx = gy = None
    if need[0]:
        dt = dtypes.promote(g, y)
        gx, _ = xlogy_rule(xp, (True, False), xp.astype(g, dt), out, xp.astype(x, dt), xp.astype(y, dt))
    if need[1]:
        gy = xp.div(xp.mul(g, x), y)
    return gx, gy


def masked_grad(xp, g, block):
    """``g`` where ``block`` is False, 0 where it is True: PyTorch's select (``block ? 0 : grad``) for the ops that
    block some elements (relu, hardtanh, threshold, the shrinks), so an inf or NaN gradient in a blocked place
    gives 0, not 0 * inf = NaN.

    NOTE: a product unless ``g`` has an inf or NaN (a check that costs a quarter of the product), since ``where``
    costs ten times the product. The product's blocked zeros may be -0.0 where PyTorch's are +0.0.
    """
    if bool(xp.isfinite(g).all()):
        return g * ~block
    return xp.where(block, 0, g)


@unary(grad=lambda xp, g, out, x: masked_grad(xp, g, out <= 0), ints="keep", bools="error")
def relu(input, out=None):
    """relu(input) -> max(input, 0); integers stay integer. NOTE: the gradient at 0 is 0 and at NaN 1, and -0.0
    stays -0.0, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.relu(tg.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    """
    if input.dtype is _HALF:  # numpy's float16 maximum keeps the first argument of a tie (+0 for -0.0)
        if out is None:
            return np.where(input < 0, np.float16(0), input)
        np.copyto(out, np.where(input < 0, np.float16(0), input))
        return out
    return np.maximum(0, input, dtype=input.dtype, out=out)  # NOTE: numpy keeps the second argument of a tie (-0.0)


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


@unary(grad=lambda xp, g, out, x: _TWO_OVER_SQRT_PI * xp.exp(-(x * x)) * g)
def erf(input):
    """erf(input): the error function, 2/sqrt(pi) * integral of exp(-t^2) from 0 to input (float64-accurate).

    >>> import tapegrad as tg
    >>> tg.erf(tg.tensor([0.0, 1.0, -3.0]))
    tensor([ 0.0000,  0.8427, -1.0000])
    """
    return _cody_erf(input, False).astype(input.dtype, copy=False)


@unary(grad=lambda xp, g, out, x: -_TWO_OVER_SQRT_PI * xp.exp(-(x * x)) * g)
def erfc(input):
    """erfc(input) -> 1 - erf(input), accurate where erf is close to 1.

    >>> import tapegrad as tg
    >>> tg.erfc(tg.tensor([0.0, 10.0], dtype=tg.float64))
    tensor([1.0000e+00, 2.0885e-45], dtype=tapegrad.float64)
    """
    return _cody_erf(input, True).astype(input.dtype, copy=False)


# ---------------------------------------------------------------------- rounding and sign (zero gradient)
def _zero(xp, g, out, x):
    return xp.zeros_like(g)  # a piecewise-constant function: gradient 0 (PyTorch's; not None)


def _rounding(fn):
    """Declare a rounding op: integers are returned as they are (a copy); bool is refused; gradient 0."""

    def rounded(input):
        return input.copy() if input.dtype.kind in "iu" else fn(input)

    rounded.__name__, rounded.__doc__ = fn.__name__, fn.__doc__
    return unary(grad=_zero, ints="keep", bools="error")(rounded)


@_rounding
def floor(input):
    """floor(input): round down to an integer value (gradient 0).

    >>> import tapegrad as tg
    >>> tg.floor(tg.tensor([-1.5, 1.5]))
    tensor([-2.,  1.])
    """
    return np.floor(input)


@_rounding
def ceil(input):
    """ceil(input): round up to an integer value (gradient 0).

    >>> import tapegrad as tg
    >>> tg.ceil(tg.tensor([-1.5, 1.5]))
    tensor([-1.,  2.])
    """
    return np.ceil(input)


@_rounding
def trunc(input):
    """trunc(input): round toward zero (gradient 0).

    >>> import tapegrad as tg
    >>> tg.trunc(tg.tensor([-1.5, 1.5]))
    tensor([-1.,  1.])
    """
    return np.trunc(input)


fix = trunc
Tensor.fix, Tensor.fix_ = trunc, Tensor.trunc_


@op(inplace=True)
def round(input: Tensor, *, decimals: int | None = None) -> Tensor:
    """round(input, *, decimals=0): round half to even, to ``decimals`` decimal places (gradient 0).

    >>> import tapegrad as tg
    >>> tg.round(tg.tensor([0.5, 1.5, 2.5]))
    tensor([0., 2., 2.])
    >>> tg.round(tg.tensor([1.2345]), decimals=2)
    tensor([1.2300])
    """
    x = _data_of("round", input)
    kind = x.dtype.kind
    if kind == "b":
        raise dtype_error("round", x.dtype)
    if kind != "f":
        if decimals is not None:  # PyTorch's overload with decimals (even 0) has no integer kernel
            raise NotImplementedError(f"round: decimals= is not implemented for {x.dtype} tensors (as PyTorch)")
        return wrap(x.copy())
    if x.dtype is _HALF and decimals:  # PyTorch scales in float32 (its opmath): 60000 * 1000 is not inf there
        out = x.astype(_FLOAT).round(decimals).astype(_HALF)
    else:  # (np.round's method, called from here: the overflow of x * 10**decimals is filtered as tapegrad's)
        out = x.round(decimals or 0)
    return record(out, (input,), _zero, "RoundBackward0" if decimals is None else "RoundBackward1")


@unary(grad=lambda xp, g, out, x: g, ints="error")
def frac(input):
    """frac(input) -> input - trunc(input), the fractional part with the sign of input (gradient 1).

    >>> import tapegrad as tg
    >>> tg.frac(tg.tensor([-1.5, 2.25]))
    tensor([-0.5000,  0.2500])
    """
    return input - np.trunc(input)


@unary(grad=_zero, ints="keep")
def sign(input):
    """sign(input): -1, 0 or 1 by the sign of input (0 for nan and -0.0, as PyTorch); gradient 0.

    >>> import tapegrad as tg
    >>> tg.sign(tg.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    if input.dtype.kind == "b":
        return input.copy()
    return np.subtract(input > 0, input < 0, dtype=input.dtype)


@unary(sign.numpy, grad=_zero, ints="keep")
def sgn(input):
    """sgn(input): ``sign`` extended to complex numbers (the same values for real tensors); gradient 0.

    PyTorch's node of its own, SgnBackward0.

    >>> import tapegrad as tg
    >>> tg.sgn(tg.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """


# ---------------------------------------------------------------------- selection
@op(methods=("clamp", "clip"), inplace=True, elementwise=True)
def clamp(input: Tensor, min: Tensor | float | None = None, max: Tensor | float | None = None) -> Tensor:
    """clamp(input, min=None, max=None): limit values to [min, max] (numbers or broadcastable tensors).

    The gradient is 1 where min <= input <= max (bounds included) and 0 where clipped; a tensor bound gets the
    gradient where it is the result (PyTorch's rules, including min > max, where the result is max).

    >>> import tapegrad as tg
    >>> tg.clamp(tg.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
    tensor([0.0000, 0.5000, 1.0000])
    """
    return _clamp(input, min, max, "ClampBackward1")


def _clamp(input, min, max, name, tensors_name="ClampBackward0"):
    """clamp with number bounds (the node ``name``) or tensor bounds (``tensors_name``: PyTorch's overloads)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    _data_of("clamp", input)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if (min is None or isinstance(min, Tensor)) and (max is None or isinstance(max, Tensor)):
            return _clamp_tensors(input, min, max, tensors_name)
        # NOTE: a number and a tensor: PyTorch takes a 0-d tensor as a number there (its value only: the
        # number overload's promotion and no gradient to it) and refuses a tensor with dims
        for bound_name, bound in (("min", min), ("max", max)):
            if isinstance(bound, Tensor) and (bound._data.ndim or bound._requires_grad):
                what = (f"a {bound._data.ndim}-d tensor ({bound_name} of shape {tuple(bound.shape)})"
                        if bound._data.ndim else f"a 0-d tensor that requires grad ({bound_name})")
                raise TypeError(f"clamp: got a number and {what} as bounds; PyTorch's clamp/clip take both bounds "
                                f"as numbers (0-d tensors that do not require grad allowed) or both as tensors")
        min, max = (v._data.item() if isinstance(v, Tensor) else v for v in (min, max))
    min, max = (v.item() if isinstance(v, np.generic) else v for v in (min, max))
    x = input
    for bound in (min, max):
        if bound is not None:
            if not isinstance(bound, (int, float)):
                raise TypeError(f"clamp: min and max must be numbers or Tensors, got {type(bound).__name__}")
            dt = dtypes.scalar_dtype(bound, x._data.dtype)
            if dt != x._data.dtype:
                x = cast(x, dt)
    nan_bound = min is not None and max is not None and (min != min or max != max)  # PyTorch fills NaN at once
    for bound in (min, max):
        if bound is not None and not nan_bound and _overflows(bound, x._data.dtype):
            raise RuntimeError(f"clamp: the bound {bound!r} cannot be converted to {x._data.dtype} without "
                               f"overflow")
    data = x._data
    if data.dtype.kind == "b":
        raise RuntimeError("clamp: not implemented for bool tensors (with bool or no bounds)")
    # Bounds in the tensor's dtype: integers wrap into an integer tensor's range, as PyTorch's scalars do.
    with np.errstate(over="ignore"):  # only next to a NaN bound, whose result is NaN anyway
        lo = None if min is None else operand("clamp", min, x)._data
        hi = None if max is None else operand("clamp", max, x)._data
    # NOTE: x < lo ? lo : x (not numpy's maximum) keeps -0.0 against a bound of 0.0, as PyTorch; a NaN bound
    # makes every value NaN, as PyTorch's.
    out = data if lo is None else np.where(data < lo, lo, data) if lo == lo else np.full_like(data, lo)
    out = out if hi is None else np.where(out > hi, hi, out) if hi == hi else np.full_like(data, hi)
    if out is data:
        out = data.copy()

    def clamp_rule(xp, g, out, x):
        # NOTE: select, not multiply by the mask: an infinite gradient where the value was clipped gives 0
        if min is None:
            return xp.where(x <= max, g, 0)
        if max is None:
            return xp.where(x >= min, g, 0)
        return xp.where((x >= min) & (x <= max), g, 0)

    return record(out, (x,), clamp_rule, name)


from numpy._core.umath import clip as _clip_ufunc  # type: ignore[attr-defined]  # noqa: E402 - np.clip's ufunc, without its Python wrapper


@plain_write(clamp)
def _clamp_write(data, min=None, max=None):
    """clamp_ with number bounds on a floating-point tensor, with nothing to record: each bound is one ufunc into
    the tensor, with ``clamp``'s values (-0.0 stays against a bound of 0.0, NaN stays NaN, min > max gives max)."""
    if data.dtype.kind != "f" or min is None and max is None:
        return False
    for bound in (min, max):
        if bound is not None and not ((bound.__class__ is float or bound.__class__ is int) and bound == bound
                                      and (-128 <= bound <= 127 or not _overflows(bound, data.dtype))):
            return False  # tensors, NaN, numpy scalars, bools, overflow: the op decides (and explains)
    # NOTE: PyTorch's x < lo ? lo : x keeps x at a tie (-0.0 against a bound of 0.0). numpy's float32/float64
    # maximum and minimum keep their second argument at a tie, so the tensor goes second; float16's keep the
    # first, so there a bound of 0 is a masked copy. Read-only memory: numpy refuses before the first write.
    try:
        if data.dtype is _HALF:
            if min is not None:
                np.copyto(data, min, where=data < min)
            if max is not None:
                np.copyto(data, max, where=data > max)
        elif min is not None and max is not None and min != 0 and max != 0:
            _clip_ufunc(data, min, max, out=data)  # one pass (np.clip without its Python wrapper); no zero ties
        else:
            if min is not None:
                np.maximum(min, data, out=data)
            if max is not None:
                np.minimum(max, data, out=data)
    except ValueError:
        return False  # the door explains
    return True


clip = clamp
Tensor.clip_ = Tensor.clamp_


def _overflows(value, dtype):
    """Whether PyTorch refuses to convert the number ``value`` to ``dtype`` (c10's ``overflows``): a finite
    float beyond the dtype's largest value; an integer out of the dtype's range (unsigned dtypes let negative
    numbers down to minus their maximum wrap around, as ``uint8`` -1 is 255)."""
    if -128 <= value <= 127:  # fits every dtype: the common bounds cost two comparisons
        return False
    kind = dtype.kind
    if kind == "f":
        return math.isfinite(value) and math.fabs(value) > float(np.finfo(dtype).max)
    if kind in "iu" and isinstance(value, int) and not isinstance(value, bool):
        info = np.iinfo(dtype)
        low = -int(info.max) if kind == "u" else int(info.min)
        return not low <= value <= int(info.max)
    return False


def _clamp_tensors(input, min, max, name):
    tensors = [t for t in (input, min, max) if t is not None]
    dt = _result_type(*(t._data for t in tensors))
    if dt.kind == "b" and min is not None and max is not None:  # PyTorch's kernel of both bounds has no bool
        raise RuntimeError("clamp: not implemented for bool tensors with both a min and a max tensor")
    x, lo, hi = (None if t is None else cast(t, dt) for t in (input, min, max))
    try:
        shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
    except ValueError:
        raise broadcast_error("clamp", *tensors) from None
    # NOTE: PyTorch's kernels, min(max(x, lo), hi) with C++'s std::max/std::min: x where it ties with a bound
    # (-0.0 clamped to 0.0 stays -0.0), NaN where x or a bound is NaN
    data = x._data
    out = data
    if lo is not None:
        out = np.where(out < lo._data, lo._data, out)
        if dt.kind == "f":
            out = np.where(np.isnan(lo._data), lo._data, out)
    if hi is not None:
        out = np.where(hi._data < out, hi._data, out)
        if dt.kind == "f":
            out = np.where(np.isnan(hi._data), hi._data, out)
    if out is data or out.shape != shape:
        out = np.array(np.broadcast_to(out, shape))
    inputs = (x,) + tuple(t for t in (lo, hi) if t is not None)
    has_lo, has_hi = lo is not None, hi is not None

    def clamp_rule(xp, need, g, out, x, *bounds):
        lo = bounds[0] if has_lo else None
        hi = bounds[-1] if has_hi else None
        if lo is None:
            grads = [xp.where(x <= hi, g, 0) if need[0] else None]
        elif hi is None:
            grads = [xp.where(x >= lo, g, 0) if need[0] else None]
        else:
            grads = [xp.where((x >= lo) & (x <= hi), g, 0) if need[0] else None]
        if has_lo:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            grads.append(xp.where(below, g, 0) if need[1] else None)
        if has_hi:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            grads.append(xp.where(above, g, 0) if need[-1] else None)
        return tuple(grads)

    return record(out, inputs, clamp_rule, name)


def _result_type(*arrays):
    """PyTorch's result dtype of several tensors: the dimensioned ones promote each other, the 0-d ones each
    other, and the 0-d result counts only if its category (bool < int < float) is higher."""
    dims = [a.dtype for a in arrays if a.ndim]
    zero = [a.dtype for a in arrays if not a.ndim]
    one = np.empty((1,), np.int8)

    def fold(dts):
        out = dts[0]
        for d in dts[1:]:
            out = dtypes.promote(one.astype(out), one.astype(d))
        return out

    if not dims:
        return fold(zero)
    d = fold(dims)
    if zero:
        z = fold(zero)
        if dtypes.category(z) > dtypes.category(d):
            return z
    return d


@op(inplace=True, elementwise=True)
def clamp_min(input: Tensor, min: Tensor | float) -> Tensor:
    """clamp_min(input, min) -> clamp(input, min=min).

    >>> import tapegrad as tg
    >>> tg.clamp_min(tg.tensor([-1.0, 2.0]), 0)
    tensor([0., 2.])
    """
    return _clamp(input, min, None, "ClampMinBackward0", "ClampMinBackward1")


@op(inplace=True, elementwise=True)
def clamp_max(input: Tensor, max: Tensor | float) -> Tensor:
    """clamp_max(input, max) -> clamp(input, max=max).

    >>> import tapegrad as tg
    >>> tg.clamp_max(tg.tensor([-1.0, 2.0]), 0)
    tensor([-1.,  0.])
    """
    return _clamp(input, None, max, "ClampMaxBackward0", "ClampMaxBackward1")


@binary(grad=lambda xp, need, g, out, a, b: (
    xp.where(a == b, g * 0.5, xp.where(a < b, 0, g)) if need[0] else None,
    xp.where(a == b, g * 0.5, xp.where(b < a, 0, g)) if need[1] else None), tensors=True, inplace=False)
def maximum(input, other):
    """maximum(input, other): the elementwise maximum (nan if either is nan); at ties each input gets half the
    gradient, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.maximum(tg.tensor([1.0, 5.0]), tg.tensor([3.0, 2.0]))
    tensor([3., 5.])
    """
    # NOTE: a < b ? b : a (PyTorch's): maximum(-0.0, 0.0) is -0.0; a NaN in either operand gives NaN
    if input.dtype.kind != "f":
        return np.maximum(input, other)
    return np.where(np.isnan(other) | (input < other), other, input)


@binary(grad=lambda xp, need, g, out, a, b: (
    xp.where(a == b, g * 0.5, xp.where(a > b, 0, g)) if need[0] else None,
    xp.where(a == b, g * 0.5, xp.where(b > a, 0, g)) if need[1] else None), tensors=True, inplace=False)
def minimum(input, other):
    """minimum(input, other): the elementwise minimum (nan if either is nan); ties split the gradient in half.

    >>> import tapegrad as tg
    >>> tg.minimum(tg.tensor([1.0, 5.0]), tg.tensor([3.0, 2.0]))
    tensor([1., 2.])
    """
    if input.dtype.kind != "f":
        return np.minimum(input, other)
    return np.where(np.isnan(other) | (input > other), other, input)


@op(methods=())
def where(condition: Tensor, input: Tensor | float | None = None, other: Tensor | float | None = None):
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
    if input is None and other is None:  # where(condition) is nonzero(as_tuple=True), of any dtype
        return wrap(np.argwhere(np.atleast_1d(cond)).astype(np.int64)).unbind(1)  # views, as nonzero_numpy's
    if cond.dtype == np.uint8:
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated (as in PyTorch); use "
                      "a boolean condition instead", UserWarning, stacklevel=2)
        cond = cond.astype(bool)
    if cond.dtype.kind != "b":
        raise RuntimeError(f"where: expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{cond.dtype}")
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = wrap(np.array(input, dtype=_scalars_dtype("where", input, other)))
    a, b = operands("where", input, other)
    if input.__class__ is not Tensor or other.__class__ is not Tensor:
        # a number is converted to the result's dtype with c10's check: where(mask, int8_t, 300) is refused, not
        # wrapped (float16 takes any float, as PyTorch's)
        from .index import _scalar

        for number, t in ((input, a), (other, b)):
            if isinstance(number, (int, float, np.number, np.bool_)):  # (arrays and lists are operands' business)
                _scalar("where", number, t._data.dtype, half=False)
    try:
        out = np.where(cond, a._data, b._data)
    except ValueError:
        raise broadcast_error("where", wrap(cond), a, b) from None

    def where_rule(xp, need, g, out, a, b):
        return xp.where(cond, g, 0) if need[0] else None, xp.where(cond, 0, g) if need[1] else None

    return record(out, (a, b), where_rule, "WhereBackward0")


def _scalars_dtype(op_name, *values):
    """The dtype of an op on Python numbers only: the default float if any is a float, int64 if any is an
    int, else bool."""
    for v in values:
        if not isinstance(v, (int, float, np.generic)):
            raise TypeError(f"{op_name}: unsupported operand type {type(v).__name__} (expected a Tensor or a "
                            "number)")
    if any(isinstance(v, (float, np.floating)) for v in values):
        return _default_dtype()
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return dtypes.bool
    return dtypes.int64


def _where_method(self, condition, other):
    """x.where(condition, other) -> where(condition, x, other)."""
    return where(condition, self, other)


Tensor.where = _where_method


@op(inplace=True, elementwise=True)
def lerp(input: Tensor, end: Tensor, weight: Tensor | float) -> Tensor:
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
    exact = given = None
    if dt.kind != "f":
        raise dtype_error("lerp", dt)
    if isinstance(weight, Tensor) and weight._data.ndim == 0 and weight._data.dtype != dt \
            and isinstance(end, Tensor) and end._data.dtype == dt:
        # NOTE: PyTorch skips the dtype check for a 0-d weight: it takes part in the promotion (all 0-d: a float64
        # weight makes a float64 result; an integer weight is a number), its gradient flows back in its dtype
        # (input and end are recorded as they are, as PyTorch saves them: an in-place write to them is seen)
        dt = _result_type(input._data, end._data, weight._data)
        if weight._data.dtype.kind in "iub":  # NOTE: PyTorch's backward multiplies by the integer itself (a CPU
            # scalar, read at opmath precision): 0 * (1 - 2 ** 63) is 0, not 0 * inf in float16; kept in float64
            exact = weight._data.astype(np.float64)
        else:  # a float weight is recorded as given: its formulas multiply by it in PyTorch's promotion
            given = weight
        weight = cast(weight, dt)
    named = (("end", end, input._data.dtype),) + ((("weight", weight, dt),) if isinstance(weight, Tensor) else ())
    for name, t, want in named:
        if t._data.dtype != want:
            raise RuntimeError(f"lerp: expected dtype {want} for `{name}` but got dtype {t._data.dtype}")
    x, e = input._data.astype(dt, copy=False), end._data.astype(dt, copy=False)
    if dt is _HALF:
        return _half_lerp(input, end, weight, exact, given)
    if not isinstance(weight, Tensor) and isinstance(weight, (int, float)) and _overflows(weight, dt):
        raise RuntimeError(f"lerp: weight={weight!r} cannot be converted to type {dt} without overflow")
    w = weight._data if isinstance(weight, Tensor) else np.asarray(weight, dt)  # a number: rounded to the dtype
    try:
        out = _lerp_array(x, e, w)
    except ValueError:
        raise broadcast_error("lerp", *(t for t in (input, end, weight) if isinstance(t, Tensor))) from None
    if not isinstance(weight, Tensor):
        w = float(weight)  # type: ignore[assignment]  # (the rule's number, at the gradient's precision)

        def lerp_rule(xp, need, g, out, a, b):
            return g * (1 - w) if need[0] else None, g * w if need[1] else None

        return record(out, (input, end), lerp_rule, "LerpBackward0")
    return _lerp_tensor_record(out, input, end, weight, exact, given)


def _lerp_array(x, e, w):
    """PyTorch's lerp kernel (aten/src/ATen/native/Lerp.h): the two-sided form, exact at both ends (weight 0 gives
    x, weight 1 gives e), each side one fused multiply-add as compiled: ``x + w (e - x)`` for ``|w| < 0.5``,
    ``e - (e - x) (1 - w)`` otherwise. (Unfused, the product would overflow: lerp(-1, 3e38, -1) is -3e38 in float32,
    not -inf.) Arrays of one float dtype, float32 or float64 (float16 is computed in float32, as PyTorch's opmath).
    NOTE: as its scalar loop's fnmadd, which negates the product, not a NaN: ``(e - x) (w - 1) + e``, with -0.0 for
    w - 1 at w = 1, so a zero product has the sign of -(e - x) (its vectorized loop computes fma(w - 1, e - x, e),
    +0.0 there: KNOWN lerp-weight-one-vectorized-zero)."""
    with np.errstate(all="ignore"):
        d = e - x
        if w.ndim == 0:  # (a number: one side for every element)
            return _fma(w, d, x) if np.abs(w) < 0.5 else _fma(d, w - 1 if w != 1 else -w.dtype.type(0), e)
        small = np.abs(w) < 0.5
        return _fma(np.where(small, w, np.where(w == 1, -0.0, w - 1)).astype(w.dtype), d, np.where(small, x, e))


def _lerp_tensor_record(out, input, end, weight, exact, given=None):
    """The node of lerp with a tensor weight; ``given``: a 0-d float weight of another dtype, as given (``weight``
    is its cast), recorded so that its formulas multiply by it in PyTorch's promotion; ``exact``: an integer
    weight's float64 value."""
    if given is not None:
        return record(out, (input, end, given), _lerp_given_weight_rule, "LerpBackward1")
    if exact is None:
        return record(out, (input, end, weight), _lerp_tensor_rule, "LerpBackward1")

    def rule(xp, need, g, out, a, b):  # an integer weight (no gradient of its own), multiplied in float64
        g = xp.astype(g, np.float64)
        return g * (1 - exact) if need[0] else None, g * exact if need[1] else None

    return record(out, (input, end), rule, "LerpBackward1")


@plain_write(lerp)
def _lerp_write(data, end, weight):
    """lerp_ of a float32 or float64 tensor toward a tensor of its dtype by a number, with nothing to record:
    ``lerp``'s arithmetic, written into the tensor (an exponential moving average's update)."""
    if not (weight.__class__ is float or weight.__class__ is int) or end.__class__ is not Tensor \
            or end._data.dtype is not data.dtype or data.dtype.char not in "fd" \
            or not -128 <= weight <= 127 and _overflows(weight, data.dtype):
        return False
    e = end._data  # (the method refused a partly overlapping end already)
    if data.dtype is _FLOAT32 and e.shape == data.shape and data.flags.writeable:
        # (_lerp_array's float32 arithmetic, written straight into the tensor: the fused multiply-add's float64
        # sum is rounded to float32 by the copy, one pass fewer than a float32 result and a copy)
        # (no errstate, as the other plain writes: numpy may warn at infinities, where PyTorch is silent)
        w = np.float32(weight)
        d = e - data
        if -0.5 < w < 0.5:
            s = np.multiply(w, d, dtype=np.float64)
            s += data
        else:
            s = np.multiply(d, w - 1 if w != 1 else np.float32(-0.0), dtype=np.float64)
            s += e
        np.copyto(data, s, casting="same_kind")
        return True
    try:
        out = _lerp_array(data, e, np.asarray(weight, data.dtype))
    except ValueError:
        return False  # shapes that do not broadcast: the op explains
    if np.shape(out) != data.shape:
        return False
    try:  # (read-only memory: numpy refuses before writing, and the door explains)
        np.copyto(data, out)
    except ValueError:
        return False
    return True


def _half_lerp(input, end, weight, exact=None, given=None):
    """lerp of float16 tensors as PyTorch's kernel: in float32 (a number weight at float32 precision), each side
    of the two-sided form one fused multiply-add (emulated in float64), rounded to float16 at the end."""
    x, e = input._data.astype(_FLOAT), end._data.astype(_FLOAT)
    w = weight._data.astype(_FLOAT) if isinstance(weight, Tensor) else np.float32(weight)
    try:
        with np.errstate(over="ignore"):
            out = _lerp_array(x, e, w).astype(_HALF)
    except ValueError:
        raise broadcast_error("lerp", *(t for t in (input, end, weight) if isinstance(t, Tensor))) from None
    if not isinstance(weight, Tensor):
        def lerp_rule(xp, need, g, out, a, b):
            return g * (1 - w) if need[0] else None, g * w if need[1] else None

        return record(out, (input, end), lerp_rule, "LerpBackward0")
    return _lerp_tensor_record(out, input, end, weight, exact, given)


def _lerp_tensor_rule(xp, need, g, out, a, b, w):
    return g * (1 - w) if need[0] else None, g * w if need[1] else None, g * (b - a) if need[2] else None


def _lerp_given_weight_rule(xp, need, g, out, a, b, w):
    # derivatives.yaml's lerp.Tensor on the weight as given, promoted as PyTorch's: a 0-d float32 weight of float16
    # tensors multiplies the float16 gradient in float32 (2 * 1e-7 is 1.8e-7 in float16, not 2 * its float16 1.2e-7)
    return (xp.mul(g, 1 - w) if need[0] else None, xp.mul(g, w) if need[1] else None,
            xp.mul(g, b - a) if need[2] else None)


# ---------------------------------------------------------------------- comparisons (bool results, no grad)
def _compare(name, ufunc, symbol, methods):
    def compare(input, other):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: argument 'input' (position 1) must be a Tensor, not {type(input).__name__}")
        a, b = operands(name, input, other)
        try:
            return wrap(ufunc(a._data, b._data))
        except ValueError:
            raise broadcast_error(name, a, b) from None

    def compared(input, other):
        """The value ``input.<name>_(other)`` writes: as PyTorch, a node with a zero gradient when ``input`` or
        ``other`` requires grad (``EqBackward1`` for a tensor ``other``, ``EqBackward0`` for a number), so the written
        tensor requires grad."""
        out = compare(input, other)
        other_grad = isinstance(other, Tensor) and other._requires_grad
        if not (_grad.enabled and (input._requires_grad or other_grad)):
            return out
        node = f"{name.capitalize()}Backward{1 if isinstance(other, Tensor) else 0}"
        if other_grad:
            return record(out._data.astype(input._data.dtype), (input, other), _zero_rules, node)
        return record(out._data.astype(input._data.dtype), (input,), _zero_rule, node)

    compare.__name__ = compare.__qualname__ = name
    example = np.array2string(ufunc(np.array([1, 2, 3]), 2), separator=", ")
    compare.__doc__ = (f"{name}(input, other) -> bool tensor of input {symbol} other, elementwise, with "
                       f"broadcasting (no gradient).\n\n    >>> import tapegrad as tg\n"
                       f"    >>> tg.{name}(tg.tensor([1, 2, 3]), 2)\n    tensor({example})\n    ")
    setattr(Tensor, name + "_", inplace_method(name + "_", compared, elementwise=True))
    return op(compare, methods=methods, inplace=False)


def _zero_rule(xp, g, out, x):
    return xp.zeros_like(x)


def _zero_rules(xp, need, g, out, a, b):
    return xp.zeros_like(a) if need[0] else None, xp.zeros_like(b) if need[1] else None


eq = _compare("eq", np.equal, "==", ("eq",))
ne = not_equal = _compare("ne", np.not_equal, "!=", ("ne", "not_equal"))
lt = less = _compare("lt", np.less, "<", ("lt", "less", "__lt__"))
le = less_equal = _compare("le", np.less_equal, "<=", ("le", "less_equal", "__le__"))
gt = greater = _compare("gt", np.greater, ">", ("gt", "greater", "__gt__"))
ge = greater_equal = _compare("ge", np.greater_equal, ">=", ("ge", "greater_equal", "__ge__"))

_COMPARABLE = (Tensor, int, float, np.ndarray, np.generic, list, tuple)


def __eq__(self, other):
    """self == other, elementwise; for other types Python falls back to identity (x == None is False), as in
    PyTorch."""
    return eq(self, other) if isinstance(other, _COMPARABLE) else NotImplemented


def __ne__(self, other):
    """self != other, elementwise; True for other types (x != None), as in PyTorch."""
    return ne(self, other) if isinstance(other, _COMPARABLE) else NotImplemented


Tensor.__eq__, Tensor.__ne__ = __eq__, __ne__


@op(xp_name=False)
def equal(input: Tensor, other: Tensor) -> bool:
    """equal(input, other) -> bool: True if both have the same shape and the same values.

    >>> import tapegrad as tg
    >>> tg.equal(tg.tensor([1, 2]), tg.tensor([1.0, 2.0]))
    True
    """
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
        raise TypeError(f"equal: expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


@op
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool tensor of
    |input - other| <= atol + rtol * |other| (equal infinities are close; the dtypes must match, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.isclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0 + 1e-7, 2.1]))
    tensor([ True, False])
    """
    a, b = _same_dtype("isclose", input, other)
    try:
        return wrap(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        raise broadcast_error("isclose", input, other) from None


@op
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool: isclose everywhere.

    >>> import tapegrad as tg
    >>> tg.allclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.0 + 1e-6]))
    True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def _same_dtype(op_name, input, other):
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
        raise TypeError(f"{op_name}: expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    a, b = input._data, other._data
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op_name}: the dtypes must match, got {a.dtype} and {b.dtype}")
    return a, b


def _predicate(name, fn, constant, doc):
    def predicate(input):
        x = _data_of(name, input)
        if x.dtype.kind != "f":  # integers and bools are finite
            return wrap(np.full(x.shape, constant))
        return wrap(fn(x))

    predicate.__name__ = predicate.__qualname__ = name
    predicate.__doc__ = doc
    return op(predicate)


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
def _logical(name, ufunc):
    def logical(input, other):
        if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
            raise TypeError(f"{name}: expected two Tensors, got {type(input).__name__} and "
                            f"{type(other).__name__}")
        a, b = input._data, other._data
        if a.dtype != b.dtype:
            # NOTE: PyTorch's logical ops take the truth of both operands in their common dtype (a comparison_op
            # TensorIterator): a 0-d int64 256 beside an int8 tensor is int8 0, False; a float64 1e-10 beside a
            # float16 tensor is 0
            dt = dtypes.promote(a, b)
            a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        try:
            return wrap(ufunc(a, b))
        except ValueError:
            raise broadcast_error(name, input, other) from None

    logical.__name__ = logical.__qualname__ = name
    example = repr(wrap(ufunc([True, False], [1, 1])))  # (the tensor's repr: PyTorch's layout)
    logical.__doc__ = (f"{name}(input, other) -> bool tensor: {name} of the truth values (nonzero is True).\n\n"
                       f"    >>> import tapegrad as tg\n"
                       f"    >>> tg.{name}(tg.tensor([True, False]), tg.tensor([1, 1]))\n"
                       f"    {example}\n    ")
    return op(logical, inplace=True, elementwise=True)  # (a partly overlapping operand is refused)


logical_and = _logical("logical_and", np.logical_and)
logical_or = _logical("logical_or", np.logical_or)
logical_xor = _logical("logical_xor", np.logical_xor)


@op(inplace=True)
def logical_not(input: Tensor) -> Tensor:
    """logical_not(input) -> bool tensor, True where input is zero (or False).

    >>> import tapegrad as tg
    >>> tg.logical_not(tg.tensor([0.0, 2.0]))
    tensor([ True, False])
    """
    return wrap(np.logical_not(_data_of("logical_not", input)))


def _bitwise(name, ufunc, symbol):
    def bitwise(input, other):
        a, b = operands(name, input, other)
        if a._data.dtype.kind not in "biu":
            raise RuntimeError(f"{name}: only integer and bool tensors are supported, got {a._data.dtype}")
        try:
            return wrap(ufunc(a._data, b._data))
        except ValueError:
            raise broadcast_error(name, a, b) from None

    bitwise.__name__ = bitwise.__qualname__ = name
    bitwise.__doc__ = (f"{name}(input, other) -> input {symbol} other: bitwise for integers, logical for bools."
                       f"\n\n    >>> import tapegrad as tg\n    >>> tg.{name}(tg.tensor([12]), 10)\n"
                       f"    tensor([{ufunc(12, 10)}])\n    ")
    dunder = {"&": "and", "|": "or", "^": "xor"}[symbol]

    def reflected(self, other):
        return bitwise(other, self)

    reflected.__name__ = reflected.__qualname__ = f"__r{dunder}__"
    reflected.__doc__ = f"other {symbol} self, for a number on the left."
    setattr(Tensor, f"__r{dunder}__", reflected)
    op(bitwise, methods=(name, f"__{dunder}__"), inplace=True, elementwise=True)
    setattr(Tensor, f"__i{dunder}__", getattr(Tensor, name + "_"))
    return bitwise


bitwise_and = _bitwise("bitwise_and", np.bitwise_and, "&")
bitwise_or = _bitwise("bitwise_or", np.bitwise_or, "|")
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor, "^")


@op(methods=("bitwise_not", "__invert__"), inplace=True)
def bitwise_not(input: Tensor) -> Tensor:
    """bitwise_not(input) -> ~input: logical not for bools, bitwise not for integers.

    >>> import tapegrad as tg
    >>> ~tg.tensor([True, False])
    tensor([False,  True])
    """
    x = _data_of("bitwise_not", input)
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: ~ is only implemented on integer and bool tensors, got {x.dtype}")
    return wrap(np.invert(x))


# ---------------------------------------------------------------------- arithmetic in place
def _arithmetic_inplace(name, ufunc, op_fn):
    def method(self: Tensor, other: Tensor | float, **kwargs: Any) -> Tensor:
        return _fast_inplace(self, name, ufunc, other, op_fn, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{name}(other) -> self: ``{op_fn.__name__}`` in place."
    return method


Tensor.add_ = _arithmetic_inplace("add_", np.add, add)
Tensor.sub_ = Tensor.subtract_ = _arithmetic_inplace("sub_", np.subtract, sub)
Tensor.mul_ = Tensor.multiply_ = _arithmetic_inplace("mul_", np.multiply, mul)
Tensor.div_ = Tensor.divide_ = _arithmetic_inplace("div_", np.divide, div)


def true_divide_(self: Tensor, other: Tensor | float) -> Tensor:
    """true_divide_(other) -> self: ``div_`` without ``rounding_mode`` (as PyTorch's)."""
    return self.div_(other)


Tensor.true_divide_ = true_divide_
Tensor.floor_divide_ = inplace_method("floor_divide_", floor_divide, elementwise=True)
Tensor.remainder_ = inplace_method("remainder_", remainder, elementwise=True)
Tensor.fmod_ = inplace_method("fmod_", fmod, elementwise=True)
Tensor.negative_ = Tensor.neg_


# The augmented assignments: ``x += y`` is ``x.add_(y)``, and so on.
def __ifloordiv__(self: Tensor, other: Tensor | float) -> Tensor:
    return self.floor_divide_(other)


def __imod__(self: Tensor, other: Tensor | float) -> Tensor:
    return self.remainder_(other)


def __ipow__(self: Tensor, other: Tensor | float) -> Tensor:
    return self.pow_(other)


for _dunder in (__ifloordiv__, __imod__, __ipow__):
    setattr(Tensor, _dunder.__name__, _dunder)


def _augmented(name, ufunc, op_fn):
    """``x op= y`` (``__isub__`` & co.): ``x.<name>(y)``, with the hand-written update's case first.

    ``p -= lr * p.grad`` under ``no_grad`` is every hand-written training loop's inner statement: a tensor of
    the same dtype, nothing to record, and a parameter that is no view. That case is one numpy call into ``p``'s
    memory and a new version; everything else goes through :func:`_fast_inplace`, which handles the rest.
    """

    def method(self: Tensor, other: Tensor | float) -> Tensor:
        if other.__class__ is Tensor and self._base is None and self._extra is None \
                and not ((self._requires_grad or other._requires_grad) and _grad.enabled):
            data, value = self._data, other._data
            if value.dtype is data.dtype and not ((data.base is not None or value.base is not None)
                                                  and partial_overlap(data, value)):
                try:
                    ufunc(data, value, data)
                except (TypeError, ValueError):
                    pass  # shapes that do not broadcast, read-only memory, int / int: the general path says so
                else:
                    _clock.now += 1
                    self._version = _clock.now
                    return self
        return _fast_inplace(self, name, ufunc, other, op_fn)

    method.__name__ = method.__qualname__ = f"__i{name.rstrip('_')}__"
    method.__doc__ = f"{method.__name__}(other) -> self: ``self.{name}(other)``."
    return method


Tensor.__iadd__ = _augmented("add_", np.add, add)
Tensor.__isub__ = _augmented("sub_", np.subtract, sub)
Tensor.__imul__ = _augmented("mul_", np.multiply, mul)
Tensor.__itruediv__ = _augmented("div_", np.divide, div)
