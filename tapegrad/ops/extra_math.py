"""More elementwise math: inverse hyperbolic functions, logaddexp, hypot, copysign, fmax/fmin, float_power,
nan_to_num, integer ops (gcd, lcm, shifts), floating-point introspection (frexp, ldexp, nextafter, signbit) and
the complex-number API on real tensors (real, imag, conj, angle, ...).

Declared as the elementwise family is (``@unary``, ``@binary``, ``@op``; ``autograd/declare.py``): each op has
PyTorch's node name, its Tensor method and its in-place form where PyTorch has one. tapegrad has no complex
dtypes: the complex API behaves as PyTorch's does on real tensors.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd.declare import Tensor, binary, cast, expected_tensor, op, plain_write, record, unary, wrap
from ..autograd.grad_mode import no_grad
from ..autograd.graph import increment_version
from . import elementwise as _ew
from ._fused import fma64 as _fma64

__all__ = ["asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh", "logaddexp", "logaddexp2", "hypot",
           "copysign", "fmax", "fmin", "float_power", "nan_to_num", "heaviside", "nextafter", "ldexp", "frexp",
           "signbit", "gcd", "lcm", "bitwise_left_shift", "bitwise_right_shift", "real", "imag", "conj",
           "conj_physical", "resolve_conj", "resolve_neg", "is_conj", "is_neg", "isreal", "angle"]

# mypy wants the variable's name; the class keeps PyTorch's (torch.return_types.frexp)
frexp_result = namedtuple("frexp", ["mantissa", "exponent"])  # type: ignore[name-match]


def _floats_only(op_name):
    def check(*arrays):
        for a in arrays:
            if a.dtype.kind != "f":
                raise RuntimeError(f"{op_name}: not implemented for {a.dtype} tensors (PyTorch's {op_name} takes "
                                   f"floating-point tensors)")
    return check


# ---------------------------------------------------------------------- inverse hyperbolic functions
@unary(np.arcsinh, grad=lambda xp, g, out, x: g / xp.sqrt(x * x + 1), methods=("asinh", "arcsinh"),
        inplace_name="AsinhBackward1")
def asinh(input):
    """asinh(input): the inverse hyperbolic sine.

    >>> import tapegrad as tg
    >>> tg.asinh(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8814])
    """


@unary(np.arccosh, grad=lambda xp, g, out, x: g / xp.sqrt(x * x - 1), methods=("acosh", "arccosh"),
        inplace_name="AcoshBackward1")
def acosh(input):
    """acosh(input): the inverse hyperbolic cosine (nan below 1).

    >>> import tapegrad as tg
    >>> tg.acosh(tg.tensor([1.0, 2.0]))
    tensor([0.0000, 1.3170])
    """


@unary(np.arctanh, grad=lambda xp, g, out, x: g / (1 - x * x), methods=("atanh", "arctanh"),
        inplace_name="AtanhBackward1")
def atanh(input):
    """atanh(input): the inverse hyperbolic tangent (nan outside [-1, 1], infinite at -1 and 1).

    >>> import tapegrad as tg
    >>> tg.atanh(tg.tensor([0.0, 0.5]))
    tensor([0.0000, 0.5493])
    """


arcsinh, arccosh, arctanh = asinh, acosh, atanh
Tensor.arcsinh_, Tensor.arccosh_, Tensor.arctanh_ = Tensor.asinh_, Tensor.acosh_, Tensor.atanh_


# ---------------------------------------------------------------------- logaddexp, hypot
def _logaddexp(a, b):
    _floats_only("logaddexp")(a, b)
    return np.logaddexp(a, b)


_INV_LN2_F32 = np.float64(np.float32(1 / math.log(2)))


def _logaddexp2(a, b):
    _floats_only("logaddexp2")(a, b)
    if a.dtype.itemsize <= 4:  # float16 as PyTorch's opmath, in float32, with a fused multiply-add (the sign of a zero)
        return _logaddexp2_opmath(a, b).astype(np.result_type(a, b))
    # NOTE: float64 as PyTorch's kernel too, fma(log1p(2 ** -|a - b|), 1 / ln 2, max(a, b)): logaddexp2(-1, -1) is
    # -4.8e-17, not numpy's 0 (which decides the gradient of a copysign or sign that follows)
    with np.errstate(all="ignore"):
        m = np.maximum(a, b)
        out = _fma64(np.log1p(np.exp2(-np.abs(a - b))), _INV_LN2, m)
        return np.where(np.isinf(a) & (a == b), a, out)


_INV_LN2 = 1 / math.log(2)


def _logaddexp2_opmath(a, b):
    """PyTorch's float32 logaddexp2 of half-precision inputs: ``fma(log1p(2 ** -|a - b|), 1 / ln 2, max(a, b))``
    (so logaddexp2(-1, -1) is -1e-8 before rounding, -0.0 in float16), with inf for equal infinities."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    with np.errstate(all="ignore"):
        m = np.maximum(a, b)
        t = np.log1p(np.exp2(-np.abs(a - b)))
        out = (m.astype(np.float64) + t.astype(np.float64) * _INV_LN2_F32).astype(np.float32)  # one rounding: an fma
        return np.where(np.isinf(a) & (a == b), a, out)


@binary(_logaddexp, grad=lambda xp, need, g, out, a, b: (
    g / (1 + xp.exp(b - a)) if need[0] else None,
    g / (1 + xp.exp(a - b)) if need[1] else None), tensors=True, inplace=False)
def logaddexp(input, other):
    """logaddexp(input, other): ``log(exp(input) + exp(other))`` without overflow (floating-point tensors).

    >>> import tapegrad as tg
    >>> tg.logaddexp(tg.tensor([0.0, 1000.0]), tg.tensor([0.0, 1000.0]))
    tensor([6.9315e-01, 1.0007e+03])
    """


@binary(_logaddexp2, grad=lambda xp, need, g, out, a, b: (
    g / (1 + 2 ** (b - a)) if need[0] else None,
    g / (1 + 2 ** (a - b)) if need[1] else None), tensors=True, inplace=False)
def logaddexp2(input, other):
    """logaddexp2(input, other): ``log2(2 ** input + 2 ** other)`` without overflow.

    >>> import tapegrad as tg
    >>> tg.logaddexp2(tg.tensor([1.0]), tg.tensor([1.0]))
    tensor([2.])
    """


def _hypot(a, b):
    _floats_only("hypot")(a, b)
    return np.hypot(a, b)


@binary(_hypot, grad=lambda xp, need, g, out, a, b: (
    g * a / out if need[0] else None,
    g * b / out if need[1] else None), tensors=True, given=lambda xp, need, g, out, a, b: (  # (PyTorch's formula
    xp.div(xp.mul(g, a), out) if need[0] else None,  # promoted per step, for operands of different float dtypes)
    xp.div(xp.mul(g, b), out) if need[1] else None))
def hypot(input, other):
    """hypot(input, other): ``sqrt(input ** 2 + other ** 2)`` without overflow (floating-point tensors).

    >>> import tapegrad as tg
    >>> tg.hypot(tg.tensor([3.0]), tg.tensor([4.0]))
    tensor([5.])
    """


# ---------------------------------------------------------------------- copysign, fmax, fmin
def _copysign_rule(xp, need, g, out, a, b):
    # NOTE: PyTorch's copysign_tensor_self_backward: g * ratio with ratio = out / a filled with 0 where a is 0 (the
    # ratio first: g * out / a overflows for a large gradient and input; an inf or nan gradient at a = 0 gives nan)
    if not need[0]:
        return None, (xp.zeros_like(g) if need[1] else None)
    zero = a == 0
    return g * xp.where(zero, 0, out / xp.where(zero, 1, a)), (xp.zeros_like(g) if need[1] else None)


def _copysign_given_rule(xp, need, g, out, a, b):
    # operands of different float dtypes, as given: ratio = result / self promoted (float16 opmath by a float32 0-d
    # self), filled with 0 where self is 0, then grad * ratio
    if not need[0]:
        return None, (xp.zeros_like(g) if need[1] else None)
    zero = a == 0
    ratio = xp.div(out, xp.where(zero, 1, a))
    return xp.mul(g, xp.where(zero, 0, ratio)), (xp.zeros_like(g) if need[1] else None)


@binary(np.copysign, grad=_copysign_rule, floats=True, name="CopysignBackward0", methods=(), xp_name=False,
        inplace=False, given=_copysign_given_rule)
def _copysign_tensor(input, other):
    """copysign of two tensors (PyTorch's node CopysignBackward0)."""


@binary(np.copysign, grad=_copysign_rule, floats=True, name="CopysignBackward1", methods=(), xp_name=False,
        inplace=False)
def _copysign_scalar(input, other):
    """copysign of a tensor and a number (PyTorch's node CopysignBackward1)."""


@op(inplace=True, elementwise=True)
def copysign(input, other) -> Tensor:
    """copysign(input, other): the magnitude of ``input`` with the sign (bit) of ``other``; integers give the
    default float dtype. Differentiable in ``input`` only (0 where input is 0).

    >>> import tapegrad as tg
    >>> tg.copysign(tg.tensor([1.0, -2.0]), -0.0)
    tensor([-1., -2.])
    """
    if not isinstance(input, Tensor):  # PyTorch's signatures take (Tensor, Tensor) and (Tensor, Number) only
        raise TypeError(f"copysign(): argument 'input' must be Tensor, not {type(input).__name__}")
    return (_copysign_tensor if isinstance(other, Tensor) else _copysign_scalar)(input, other)


@binary(grad=lambda xp, need, g, out, a, b: (
    xp.where((a >= b) | (b != b), g, 0) if need[0] else None,
    xp.where((a >= b) | (b != b), 0, g) if need[1] else None), tensors=True, inplace=False)
def fmax(input, other):
    """fmax(input, other): the elementwise maximum, ignoring a NaN when the other value is a number. The gradient
    goes to ``input`` at ties, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.fmax(tg.tensor([1.0, float("nan")]), tg.tensor([float("nan"), 2.0]))
    tensor([1., 2.])
    """
    # NOTE: PyTorch's kernel is C's fmax, glibc's (x >= y || isnan(y)) ? x : y, so a tie of 0.0 and -0.0 gives
    # the first operand on every path (numpy's fmax gives either, by its SIMD path)
    if input.dtype.kind != "f":
        return np.fmax(input, other)
    return np.where((input >= other) | np.isnan(other), input, other)


@binary(grad=lambda xp, need, g, out, a, b: (
    xp.where((a <= b) | (b != b), g, 0) if need[0] else None,
    xp.where((a <= b) | (b != b), 0, g) if need[1] else None), tensors=True, inplace=False)
def fmin(input, other):
    """fmin(input, other): the elementwise minimum, ignoring a NaN when the other value is a number.

    >>> import tapegrad as tg
    >>> tg.fmin(tg.tensor([1.0, float("nan")]), tg.tensor([float("nan"), 2.0]))
    tensor([1., 2.])
    """
    if input.dtype.kind != "f":  # NOTE: glibc's fmin, (x <= y || isnan(y)) ? x : y: the first of tied zeros
        return np.fmin(input, other)
    return np.where((input <= other) | np.isnan(other), input, other)


# ---------------------------------------------------------------------- float_power
@op(inplace=False)
def float_power(input, exponent) -> Tensor:
    """float_power(input, exponent): ``input ** exponent`` computed in float64 (either may be a number).

    >>> import tapegrad as tg
    >>> tg.float_power(tg.tensor([2, 3]), 2)
    tensor([4., 9.], dtype=tapegrad.float64)
    """
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError(f"float_power: expected a Tensor as input or exponent, got {type(input).__name__} and "
                        f"{type(exponent).__name__}")
    a = input.to(dtypes.float64) if isinstance(input, Tensor) else float(input)
    b = exponent.to(dtypes.float64) if isinstance(exponent, Tensor) else float(exponent)
    return _ew.pow(a, b)


def _float_power_(self, exponent):
    if self._data.dtype != np.float64:
        raise RuntimeError(f"float_power_: the result type float64 cannot be written into a {self._data.dtype} "
                           f"tensor in place")
    return self.pow_(exponent.to(dtypes.float64) if isinstance(exponent, Tensor) else float(exponent))


_float_power_.__name__ = _float_power_.__qualname__ = "float_power_"
_float_power_.__doc__ = "float_power_(exponent) -> self: ``float_power`` in place (self must be float64)."
Tensor.float_power_ = _float_power_


# ---------------------------------------------------------------------- nan_to_num
@op(inplace=True)  # (its operands are numbers, PyTorch's Scalars: nothing to check for overlap)
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
               ) -> Tensor:
    """nan_to_num(input, nan=0.0, posinf=None, neginf=None): NaN, +inf and -inf replaced by ``nan``, ``posinf``
    (default: the dtype's largest value) and ``neginf`` (default: its lowest). The gradient is 0 at replaced
    elements.

    >>> import tapegrad as tg
    >>> tg.nan_to_num(tg.tensor([float("nan"), 1.0, float("inf")]), posinf=9.0)
    tensor([0., 1., 9.])
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("nan_to_num", input)
    x = input._data
    if x.dtype.kind != "f":
        return wrap(x.copy())
    info = np.finfo(x.dtype)
    out = np.nan_to_num(x, nan=nan, posinf=info.max if posinf is None else posinf,
                        neginf=info.min if neginf is None else neginf)
    return record(out, (input,), _nan_to_num_rule, "NanToNumBackward0")


def _nan_to_num_rule(xp, g, out, x):
    # NOTE: PyTorch's rule is grad * isfinite(self) (derivatives.yaml): an infinite or NaN gradient at a replaced
    # element gives NaN there (0 * inf), not 0
    return g * xp.isfinite(x)


_nan_to_num_float_ = Tensor.nan_to_num_


def _nan_to_num_(self: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
                 ) -> Tensor:
    """nan_to_num_(nan=0.0, posinf=None, neginf=None) -> self: ``nan_to_num`` in place."""
    if isinstance(self, Tensor) and self._data.dtype.kind != "f":
        # NOTE: PyTorch copies an integer or bool tensor into itself, which writes nothing and so refuses nothing
        # (an expanded tensor either): only the version moves
        increment_version(self)
        return self
    return _nan_to_num_float_(self, nan, posinf, neginf)


_nan_to_num_.__name__ = _nan_to_num_.__qualname__ = "nan_to_num_"
Tensor.nan_to_num_ = _nan_to_num_


# ---------------------------------------------------------------------- not differentiable
def _heaviside(a, b):
    one, zero = np.ones((), a.dtype), np.zeros((), a.dtype)
    return np.where(a == 0, b, np.where(a > 0, one, zero))


def _no_derivative(op_name):
    def rule(xp, need, g, out, a, b):
        raise RuntimeError(f"the derivative for '{op_name}' is not implemented")
    return rule


@binary(_heaviside, grad=_no_derivative("heaviside"), tensors=True, name="torch::autograd::NotImplemented", methods=(),
        inplace=False)
def _heaviside_op(input, values):
    """heaviside of two tensors of one dtype."""


@op(inplace=True, elementwise=True)
def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """heaviside(input, values): 0 where ``input`` < 0 (and at NaN), ``values`` where it is 0, 1 where > 0.
    Both tensors must have one dtype (bool included), as in PyTorch. Not differentiable, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.heaviside(tg.tensor([-1.0, 0.0, 2.0]), tg.tensor([0.5]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    for position, (name, value) in enumerate((("input", input), ("values", values)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"heaviside(): argument '{name}' (position {position}) must be Tensor, not "
                            f"{type(value).__name__}")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different dtypes ({input.dtype} and "
                           f"{values.dtype}), as in PyTorch.")
    return _heaviside_op(input, values)


def _nextafter(a, b):
    _floats_only("nextafter")(a, b)
    out = np.nextafter(a, b)
    # NOTE: where a == b the result is b, as C's nextafter (so nextafter(-0.0, 0.0) is 0.0); numpy's float16 loop
    # returns a there
    return np.where(a == b, b, out).astype(out.dtype, copy=False) if out.dtype == np.float16 else out


def _nextafter_rule(xp, need, g, out, a, b):
    # PyTorch's NextafterBackward0: the gradient passes to ``input`` where it differs from ``other`` (a tie:
    # nextafter(a, a) = a, 0), ``other`` gets zeros
    return (xp.where(a != b, g, xp.zeros_like(g)) if need[0] else None, xp.zeros_like(b) if need[1] else None)


@binary(_nextafter, grad=_nextafter_rule, tensors=True)
def nextafter(input, other):
    """nextafter(input, other): the next floating-point value after ``input`` towards ``other``.

    >>> import tapegrad as tg
    >>> tg.nextafter(tg.tensor([1.0]), tg.tensor([2.0])) > 1
    tensor([True])
    """


@op(inplace=True)  # (not elementwise: PyTorch's ldexp_ is mul_(2 ** other), a new tensor, so overlap is allowed)
def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """ldexp(input, other): ``input * 2 ** other``; integer inputs give the default float dtype. The gradient
    is ``2 ** other`` (PyTorch 2.13 gives 0 for negative integer ``other``, computing ``2 ** other`` in integers).

    >>> import tapegrad as tg
    >>> tg.ldexp(tg.tensor([1.0, 3.0]), tg.tensor([2, -1]))
    tensor([4.0000, 1.5000])
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("ldexp", input)
    if not isinstance(other, Tensor):
        raise TypeError(f"ldexp: argument 'other' must be a Tensor, not {type(other).__name__}")
    x, e = input._data, other._data
    if x.dtype.kind == "f" and e.dtype.kind in "iub":
        if e.dtype == np.bool_:
            raise NotImplementedError("ldexp: not implemented for a bool exponent ('other') of a floating-point "
                                      "input, as PyTorch (\"ldexp_cpu_exp\" not implemented for 'Bool')")
        return _ldexp_int_exponent(input, x, e)
    # NOTE: PyTorch's ldexp otherwise is input * _pow2(input, other) (aten/src/ATen/native/BinaryOps.cpp): for an
    # integer, bool or float32 input pow(2.0, other) (other's float dtype, or the default one), for a float64 or
    # float16 input full((), 2.0, input.dtype).pow(other) (a 0-d operand: other's dtype if other has dims); then
    # the product's promotion. 2 ** other is computed in float64 and rounded once, as PyTorch's pow is exact to
    # the last bit where numpy's float32 exp2 is not (2 ** 1.3 is 2.4622889, not 2.4622886)
    if x.dtype.kind in "iub" or x.dtype == np.float32:
        dt = e.dtype if e.dtype.kind == "f" else dtypes.as_dtype(dtypes.get_default_dtype())
    else:
        dt = e.dtype if e.ndim else dtypes.promote(np.empty((), x.dtype), e)
    with no_grad():  # the value; its node is PyTorch's LdexpBackward0 (below), not a product's
        power = cast(_ew.exp2(cast(other, np.dtype(np.float64))), dt)
        value = _ew.mul(input, power)
    return record(value._data, (input, other), _ldexp_rule, "LdexpBackward0")


def _ldexp_rule(xp, need, g, out, a, b):
    # NOTE: PyTorch's LdexpBackward0 (derivatives.yaml): self gets grad * 2 ** other, other grad * result * ln 2 --
    # the result, not the input times 2 ** other: at 0 * 2 ** 1e5 the result is nan, and so is other's gradient.
    # 2 ** other is a float power also for an integer exponent (PyTorch's integer power gives 0 for a negative
    # exponent and wraps on overflow: a PyTorch bug, see README)
    return (g * xp.exp2(b * 1.0) if need[0] else None, g * out * math.log(2) if need[1] else None)


def _ldexp_int_exponent(input, x, e):
    """PyTorch's kernel for a floating-point input and an integer exponent (BinaryOpsKernel.cpp, ldexp_kernel):
    ``(scalar_t) std::ldexp((double) x, (int) e)`` -- exact in float64, rounded once to the input's dtype (so
    ``ldexp(-0.0, 156)`` is -0.0 and ``ldexp(3., -150)`` the float32 denormal 2 ** -148, not 0 * ...), the
    exponent converted to C's int (an int64 wraps modulo 2 ** 32, as on x86). The result has the input's dtype."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(x.astype(np.float64), e.astype(np.int32)).astype(x.dtype)
    scale = None
    if input._requires_grad:
        with np.errstate(over="ignore", under="ignore"):
            scale = np.ldexp(np.ones((), x.dtype), e).astype(x.dtype)

    def rule(xp, g, out, x):
        return g * scale

    return record(out, (input,), rule, "LdexpBackward0")


@op(inplace=False)
def frexp(input: Tensor):
    """frexp(input) -> (mantissa, exponent): ``input = mantissa * 2 ** exponent`` with ``|mantissa|`` in
    [0.5, 1) (the exponent is int32). The mantissa's gradient is ``grad / 2 ** exponent``.

    >>> import tapegrad as tg
    >>> tg.frexp(tg.tensor([8.0, -3.5]))
    frexp(mantissa=tensor([ 0.5000, -0.8750]), exponent=tensor([4, 2], dtype=tapegrad.int32))
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("frexp", input)
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"frexp: only supports floating-point dtypes, got {x.dtype}")
    m, e = np.frexp(x)
    e = e.astype(np.int32)
    # NOTE: the gradient is grad / 2 ** exponent (PyTorch's rule), as grad * 2 ** -exponent in float64, where a power
    # of two is exact: 2 ** 22 is inf in float16 (0 * inf would be NaN; PyTorch divides in float32, 0 / 2 ** -22 is
    # 0), and 2 ** 1073 (a float64 subnormal's) is split in two factors so a zero gradient stays 0
    half = -e // 2
    scale = (np.ldexp(1.0, half), np.ldexp(1.0, -e - half)) if x.dtype == np.float64 and e.size and e.min() < -1022 \
        else np.ldexp(1.0, -e)

    def rule(xp, g, out, x):
        if isinstance(scale, tuple):
            return g * scale[0] * scale[1]
        return g * scale

    return frexp_result(record(m, (input,), rule, "FrexpBackward0"), wrap(e))


@op(inplace=False)
def signbit(input: Tensor) -> Tensor:
    """signbit(input): True where the sign bit is set (negative numbers and -0.0).

    >>> import tapegrad as tg
    >>> tg.signbit(tg.tensor([-1.0, -0.0, 2.0]))
    tensor([ True,  True, False])
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("signbit", input)
    x = input._data
    return wrap(np.signbit(x) if x.dtype.kind == "f" else (x < 0) if x.dtype.kind == "i" else np.zeros(x.shape, bool))


# ---------------------------------------------------------------------- integers
def _integers(op_name, fn):
    def compute(a, b):
        for x in (a, b):
            if x.dtype.kind not in "iu":
                raise RuntimeError(f"{op_name}: not implemented for {x.dtype} tensors (integers only)")
        return fn(a, b)
    return compute


def _gcd(a, b):
    g = np.gcd(a, b)
    if g.dtype.kind == "i" and g.size:
        low = np.iinfo(g.dtype).min
        edge = (a == low) | (b == low)
        if edge.any():
            return np.where(edge, _calc_gcd(a, b), g)
    return g


def _calc_gcd(a, b):
    """PyTorch's calc_gcd (aten/src/ATen/native/Math.h) where an operand is the dtype's minimum: ``abs`` leaves
    it negative (C's two's complement) and Euclid's loop then runs with C's truncating ``%``, so gcd(-7, INT64_MIN)
    is -1 (numpy's gcd says 1)."""
    dtype = np.result_type(a, b)
    with np.errstate(all="ignore"):
        a, b = (np.abs(np.broadcast_to(t, np.broadcast_shapes(np.shape(a), np.shape(b))).astype(dtype))
                for t in (a, b))
        while (a != 0).any():
            going = a != 0
            rest = np.fmod(b, np.where(going, a, 1))  # C's %: the sign of the dividend
            a, b = np.where(going, rest, 0).astype(dtype), np.where(going, a, b).astype(dtype)
    return b


@binary(_integers("gcd", _gcd), grad=_no_derivative("gcd"), tensors=True)
def gcd(input, other):
    """gcd(input, other): the greatest common divisor (non-negative; gcd(0, 0) = 0) of integer tensors.

    >>> import tapegrad as tg
    >>> tg.gcd(tg.tensor([4, 6, 0]), tg.tensor([6, -9, 0]))
    tensor([2, 3, 0])
    """


def _lcm(a, b):
    # NOTE: as PyTorch, |a / gcd * b| in the operands' dtype: an overflow wraps before the absolute value is taken
    # (numpy's lcm takes the absolute values first: lcm(2147483647, -2) in int32 is -2 there, 2 in PyTorch)
    # (int8, int16 and uint8 compute in C's int, so there the product does not wrap before abs)
    g = _gcd(a, b)
    dtype = np.result_type(a, b)
    if dtype.itemsize < 4:
        a, b, g = (np.asarray(t).astype(np.int32) for t in (a, b, g))
    with np.errstate(all="ignore"):
        return np.abs(np.where(g == 0, 0, a // np.where(g == 0, 1, g) * b)).astype(dtype, copy=False)


@binary(_integers("lcm", _lcm), grad=_no_derivative("lcm"), tensors=True)
def lcm(input, other):
    """lcm(input, other): the least common multiple (non-negative) of integer tensors.

    >>> import tapegrad as tg
    >>> tg.lcm(tg.tensor([4, 6, 0]), tg.tensor([6, -9, 5]))
    tensor([12, 18,  0])
    """


def _shift_compute(op_name, left):
    def compute(a, b):
        for x in (a, b):  # (both bool: refused, as PyTorch's "lshift_cpu" not implemented for 'Bool')
            if x.dtype.kind not in "iu":
                raise RuntimeError(f"{op_name}: not implemented for {x.dtype} tensors (integers only)")
        bits = a.dtype.itemsize * 8
        out_of_range = (b < 0) | (b >= bits)
        safe = np.where(out_of_range, 0, b).astype(a.dtype)
        if left:
            out = np.left_shift(a, safe)
            return np.where(out_of_range, np.zeros((), a.dtype), out).astype(a.dtype)
        out = np.right_shift(a, safe)
        # NOTE: shifting by the width or more (or by a negative amount) fills with the sign, as PyTorch's kernel
        return np.where(out_of_range, np.right_shift(a, np.asarray(bits - 1, a.dtype)) if a.dtype.kind == "i"
                        else np.zeros((), a.dtype), out).astype(a.dtype)
    return compute


@binary(_shift_compute("bitwise_left_shift", True), grad=_no_derivative("bitwise_left_shift"))
def bitwise_left_shift(input, other):
    """bitwise_left_shift(input, other) (``<<``): integers shifted left; by the bit width or more (or by a
    negative amount) the result is 0, as PyTorch's.

    >>> import tapegrad as tg
    >>> tg.bitwise_left_shift(tg.tensor([1, 3]), 2)
    tensor([ 4, 12])
    """


@binary(_shift_compute("bitwise_right_shift", False), grad=_no_derivative("bitwise_right_shift"))
def bitwise_right_shift(input, other):
    """bitwise_right_shift(input, other) (``>>``): integers shifted right arithmetically (sign-filling).

    >>> import tapegrad as tg
    >>> tg.bitwise_right_shift(tg.tensor([8, -8]), 2)
    tensor([ 2, -2])
    """


Tensor.__lshift__ = bitwise_left_shift
Tensor.__rshift__ = bitwise_right_shift
Tensor.__rlshift__ = lambda self, other: bitwise_left_shift(other, self)
Tensor.__rrshift__ = lambda self, other: bitwise_right_shift(other, self)
Tensor.__ilshift__ = Tensor.bitwise_left_shift_
Tensor.__irshift__ = Tensor.bitwise_right_shift_


# ---------------------------------------------------------------------- the complex API on real tensors
def _real_tensor(op_name, input):
    if not isinstance(input, Tensor):
        raise expected_tensor(op_name, input)
    return input


@op
def real(input: Tensor) -> Tensor:
    """real(input): the real part; tapegrad's tensors are real, so this is ``input`` itself, as PyTorch's for
    real tensors.

    >>> import tapegrad as tg
    >>> tg.real(tg.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """
    return _real_tensor("real", input)


@op
def imag(input: Tensor) -> Tensor:
    """imag(input): the imaginary part; an error for real tensors (tapegrad has no complex dtypes), as PyTorch's.

    >>> import tapegrad as tg
    >>> tg.imag(tg.tensor([1.0]))
    Traceback (most recent call last):
    ...
    RuntimeError: imag is not implemented for tensors with non-complex dtypes.
    """
    _real_tensor("imag", input)
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


# NOTE: as PyTorch's, Tensor.real and Tensor.imag are attributes (properties), not methods: x.real is x itself for a
# real tensor and x.imag raises (the ignores: assigning the property to the class is how it is defined)
Tensor.real = property(  # type: ignore[assignment]
    real, doc="The real part: the tensor itself (tapegrad's tensors are real), as PyTorch's.")
Tensor.imag = property(imag, doc="The imaginary part: an error for real tensors, as PyTorch's.")  # type: ignore[assignment]


@op
def conj(input: Tensor) -> Tensor:
    """conj(input): the complex conjugate; ``input`` itself for a real tensor.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0])
    >>> tg.conj(x) is x
    True
    """
    return _real_tensor("conj", input)


@op(inplace=True)
def conj_physical(input: Tensor) -> Tensor:
    """conj_physical(input): the complex conjugate, computed; ``input`` itself for a real tensor.

    >>> import tapegrad as tg
    >>> tg.conj_physical(tg.tensor([1.0]))
    tensor([1.])
    """
    return _real_tensor("conj_physical", input)


def _conj_physical_recorded(input: Tensor) -> Tensor:
    """The op of ``conj_physical_`` when it is recorded: PyTorch records its node ConjPhysicalBackward1 on a real
    tensor too (its kernel then returns at once), the gradient passing through unchanged."""
    out = conj_physical(input)
    if out is input and out._data.dtype.kind == "f":
        return record(input._data.copy(), (input,), _pass_through, "ConjPhysicalBackward1")
    return out


def _pass_through(xp, g, out, x):
    return g


_conj_physical_recorded.__name__ = "conj_physical"  # (the in-place method's docstring names it)


@plain_write(_conj_physical_recorded, "conj_physical_")
def _conj_physical_write(data):
    # PyTorch's conj_physical_ of a real tensor returns it at once (UnaryOps.cpp): nothing is written, so an
    # expanded tensor is no overlap error there; only its version moves
    return data.dtype.kind != "c"


@op
def resolve_conj(input: Tensor) -> Tensor:
    """resolve_conj(input): ``input`` with a lazy conjugation applied; ``input`` itself (nothing is lazy here).

    >>> import tapegrad as tg
    >>> tg.resolve_conj(tg.tensor([1.0]))
    tensor([1.])
    """
    return _real_tensor("resolve_conj", input)


@op
def resolve_neg(input: Tensor) -> Tensor:
    """resolve_neg(input): ``input`` with a lazy negation applied; ``input`` itself (nothing is lazy here).

    >>> import tapegrad as tg
    >>> tg.resolve_neg(tg.tensor([1.0]))
    tensor([1.])
    """
    return _real_tensor("resolve_neg", input)


@op
def is_conj(input: Tensor) -> bool:
    """is_conj(input): whether the conjugate bit is set: always False (no complex dtypes).

    >>> import tapegrad as tg
    >>> tg.is_conj(tg.tensor([1.0]))
    False
    """
    _real_tensor("is_conj", input)
    return False


@op
def is_neg(input: Tensor) -> bool:
    """is_neg(input): whether the negative bit is set: always False (negation is never lazy here).

    >>> import tapegrad as tg
    >>> tg.is_neg(tg.tensor([1.0]))
    False
    """
    _real_tensor("is_neg", input)
    return False


@op
def isreal(input: Tensor) -> Tensor:
    """isreal(input): True where the element is real: everywhere, for real tensors (NaN included).

    >>> import tapegrad as tg
    >>> tg.isreal(tg.tensor([1.0, float("nan")]))
    tensor([True, True])
    """
    return wrap(np.ones(_real_tensor("isreal", input)._data.shape, dtype=bool))


@op
def angle(input: Tensor) -> Tensor:
    """angle(input): the argument of each element: pi for negative numbers, 0 otherwise, NaN at NaN; integer
    inputs give the default float dtype. Its gradient is 0 for real inputs, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.angle(tg.tensor([-2.0, 3.0]))
    tensor([3.1416, 0.0000])
    """
    x = _real_tensor("angle", input)._data
    if x.dtype.kind != "f":
        x = x.astype(dtypes.get_default_dtype())
    out = np.where(x < 0, np.asarray(math.pi, x.dtype), np.zeros((), x.dtype))
    out = np.where(np.isnan(x), x, out).astype(x.dtype)
    return record(out, (input,), _angle_rule, "AngleBackward0")


def _angle_rule(xp, g, out, x):
    return xp.zeros_like(g)
