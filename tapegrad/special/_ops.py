"""The special functions as differentiable ops, with PyTorch's gradients (tools/autograd/derivatives.yaml) and
node names. Rules use ``xp.NAME`` (the array side is registered here, beside the ops), so the same rule gives
every order with ``create_graph=True``. Integer and bool inputs are computed in the default float dtype.

The Tensor methods and top-level names PyTorch has for them (``lgamma``, ``digamma``, ``polygamma``, ``erfinv``,
``i0``, ``xlogy``, ``logit``, ``sinc``, ``mvlgamma``, ``igamma``, ``igammac`` and their in-place forms) are
declared here too; ``tapegrad.special`` and ``tapegrad`` re-export them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..autograd.declare import (
    Tensor,
    binary,
    broadcast_error,
    expected_tensor,
    named,
    op,
    operands,
    record,
    unary,
    wrap,
)
from ..autograd.xp import numpy_xp
from ..ops.elementwise import xlogy_given_rule as _xlogy_given_rule
from ..ops.elementwise import xlogy_rule as _xlogy_rule
from . import _numpy as N

__all__ = ["lgamma", "digamma", "polygamma", "erfinv", "xlogy", "xlog1py", "gammainc", "gammaincc", "i0",
           "special_i0e", "special_i1", "special_i1e", "erfcx", "ndtri", "log_ndtr", "ndtr", "entr", "sinc",
           "logit", "zeta", "multigammaln", "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
           "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0", "chebyshev_polynomial_t",
           "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "hermite_polynomial_h",
           "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p", "shifted_chebyshev_polynomial_t",
           "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)

# the array side of the names the rules call (``xp.digamma`` on arrays); the tensor side is the ops below
numpy_xp.gammaln = N._np_lgamma
numpy_xp.digamma = N._np_digamma
numpy_xp.polygamma = N._np_polygamma
numpy_xp.erfinv = N._np_erfinv
numpy_xp.xlogy = N._np_xlogy
numpy_xp.special_xlog1py = N._np_xlog1py
numpy_xp.gammainc = N._np_gammainc
numpy_xp.gammaincc = N._np_gammaincc
numpy_xp.special_i0 = N._scipy("i0")
numpy_xp.special_i0e = N._scipy("i0e")
numpy_xp.special_i1 = N._scipy("i1")
numpy_xp.special_i1e = N._scipy("i1e")
numpy_xp.special_erfcx = N._scipy("erfcx")
numpy_xp.special_ndtri = N._scipy("ndtri")
numpy_xp.special_log_ndtr = N._scipy("log_ndtr")
numpy_xp.special_zeta = N._np_zeta
numpy_xp.special_entr = N._np_entr
numpy_xp.sinc = N._np_sinc


def _float_array(op_name: str, input) -> np.ndarray:
    """``input``'s array; integer and bool inputs in the default float dtype (PyTorch's special functions)."""
    if not isinstance(input, Tensor):
        raise expected_tensor(op_name, input)
    x = input.detach().numpy()
    return x if x.dtype.kind == "f" else x.astype(dtypes.get_default_dtype())


# ---------------------------------------------------------------------- gamma family
@unary(grad=lambda xp, g, out, x: g * xp.digamma(x), xp_name="gammaln")
def lgamma(input):
    """lgamma(input) -> log |Gamma(input)| (``torch.special.gammaln``; inf at 0 and the negative integers).

    >>> import tapegrad as tg
    >>> tg.lgamma(tg.tensor([1.0, 5.0, 0.5]))
    tensor([0.0000, 3.1781, 0.5724])
    """
    return N._np_lgamma(input)


@unary(grad=lambda xp, g, out, x: g * xp.polygamma(1, x), xp_name="digamma")
def digamma(input):
    """digamma(input) -> d/dx lgamma(x) (``torch.special.psi``; -inf at 0, nan at the negative integers).

    >>> import tapegrad as tg
    >>> tg.digamma(tg.tensor([1.0, 0.0]))
    tensor([-0.5772,    -inf])
    """
    return N._np_digamma(input)


@op(methods=(), xp_name="polygamma")
def polygamma(n: int, input: Tensor) -> Tensor:
    """polygamma(n, input) -> the n-th derivative of digamma (``polygamma(0, x)`` is ``digamma(x)``).

    >>> import tapegrad as tg
    >>> tg.polygamma(1, tg.tensor([1.0]))  # pi^2 / 6
    tensor([1.6449])
    """
    return _polygamma(n, input, "PolygammaBackward0")


def _polygamma(n, input, node):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    n = int(n)
    x = _float_array("polygamma", input)

    def rule(xp, g, out, x):
        return g * xp.polygamma(n + 1, x)

    return record(N._np_polygamma(n, x), (input,), rule, node)


@op(methods=("polygamma",), xp_name=False)
def _polygamma_method(self, n):
    """Tensor.polygamma(n) -> polygamma(n, self)."""
    return polygamma(n, self)


def _polygamma_inplace(self, n):
    """Tensor.polygamma_(n): self takes polygamma(n, self), recorded as PyTorch's PolygammaBackward1."""
    return _polygamma(n, self, "PolygammaBackward1")


_polygamma_inplace.__name__ = "polygamma"  # (the in-place method's docstring names it)
op(methods=(), xp_name=False, inplace="polygamma_")(_polygamma_inplace)


def _mvlgamma_rule(p):
    def rule(xp, g, out, x):
        # NOTE: PyTorch's mvlgamma_backward adds x to arange(-(p - 1) / 2, 0.5, 0.5): its last term is
        # digamma(0.0 + x), so at x = -0.0 it is digamma(+0.0) = -inf
        total = xp.digamma(x + 0.0)
        for j in range(1, p):
            total = total + xp.digamma(x - j / 2)
        return g * total

    return rule


@op(methods=("mvlgamma",), xp_name=False, inplace="mvlgamma_")
def multigammaln(input: Tensor, p: int) -> Tensor:
    """multigammaln(input, p) -> the log of the multivariate gamma function of dimension ``p``
    (``torch.mvlgamma``): ``p (p - 1) / 4 log(pi) + sum_j lgamma(input - j / 2)`` for j < p.

    >>> import tapegrad as tg
    >>> tg.special.multigammaln(tg.tensor([2.5]), 2)
    tensor([0.8570])
    """
    if not isinstance(p, (int, np.integer)) or isinstance(p, bool):
        raise TypeError(f"multigammaln(): argument 'p' must be int, not {type(p).__name__}")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    p = int(p)
    if isinstance(input, Tensor) and input.dtype == dtypes.bool:
        raise RuntimeError("mvlgamma: The input tensor may not be a boolean tensor.")
    x = _float_array("multigammaln", input)
    out = np.full_like(x, p * (p - 1) / 4 * math.log(math.pi))
    for j in range(p):
        out = out + N._np_lgamma(x - j / 2)
    return record(out.astype(x.dtype, copy=False), (input,), _mvlgamma_rule(p), "MvlgammaBackward0")


@op(inplace=True, elementwise=True)
def xlogy(input: Tensor | float, other: Tensor | float) -> Tensor:
    """xlogy(input, other) -> input * log(other), 0 where input == 0 (unless other is nan).

    >>> import tapegrad as tg
    >>> tg.xlogy(tg.tensor([0.0, 2.0]), tg.tensor([0.0, 1.0]))
    tensor([0., 0.])
    """
    # PyTorch's overloads and their nodes: (Tensor, Tensor), (Number, Tensor) and (Tensor, Number)
    if isinstance(input, Tensor):
        return (_xlogy_tensors if isinstance(other, Tensor) else _xlogy_number_other)(input, other)
    return _xlogy_number_self(input, other)


def _xlogy_overload(node):
    """xlogy recorded as ``node`` (errors name xlogy)."""
    def xlogy(input, other):
        pass

    return binary(N._np_xlogy, grad=_xlogy_rule, floats=True, name=node, methods=(), xp_name=False,
                  inplace=False, given=_xlogy_given_rule)(xlogy)


_xlogy_tensors, _xlogy_number_self, _xlogy_number_other = (
    _xlogy_overload(f"XlogyBackward{k}") for k in range(3))


def _xlog1py_rule(xp, need, g, out, x, y):
    gx = gy = None
    if need[0]:
        zero = (x == 0) & (y <= -1)
        gx = xp.where(zero, 0.0, g * xp.log1p(xp.where(zero, 0.0, y)))
    if need[1]:
        gy = g * x / (1 + y)
    return gx, gy


@binary(grad=_xlog1py_rule, floats=True, methods=(), inplace=False, xp_name="special_xlog1py",
        name="SpecialXlog1PyBackward0")
def xlog1py(input, other):
    """xlog1py(input, other) -> input * log1p(other), 0 where input == 0 (unless other is nan).

    >>> import tapegrad as tg
    >>> tg.special.xlog1py(tg.tensor([0.0, 2.0]), tg.tensor([-1.0, 0.0]))
    tensor([0., 0.])
    """
    return N._np_xlog1py(input, other)


def _floats_only(name, kernel, a):
    if a.dtype.kind != "f":
        raise NotImplementedError(f'{name}: "{kernel}_cpu" not implemented for {a.dtype} tensors (PyTorch\'s '
                                  f"{name} takes floating-point tensors)")


def _gammainc_rule(xp, need, g, out, a, x):
    if need[0]:
        raise NotImplementedError("the derivative for 'igamma: input' is not implemented.")
    return None, g * xp.exp((a - 1) * xp.log(x) - x - xp.gammaln(a))


@binary(grad=_gammainc_rule, tensors=True, methods=("igamma",), inplace="igamma_",
        xp_name="gammainc", name="IgammaBackward0")
def gammainc(input, other):
    """gammainc(input, other) -> the regularized lower incomplete gamma function P(input, other) (``igamma``).
    Differentiable in ``other`` only, as PyTorch's. Needs scipy (``tapegrad[special]``).

    >>> import tapegrad as tg
    >>> tg.special.gammainc(tg.tensor([1.0]), tg.tensor([1.0]))  # 1 - e^-1
    tensor([0.6321])
    """
    _floats_only("gammainc", "igamma", input)
    return numpy_xp.gammainc(input, other)


def _gammaincc_rule(xp, need, g, out, a, x):
    if need[0]:
        raise NotImplementedError("the derivative for 'igammac: input' is not implemented.")
    return None, -g * xp.exp((a - 1) * xp.log(x) - x - xp.gammaln(a))


@binary(grad=_gammaincc_rule, tensors=True, methods=("igammac",), inplace="igammac_",
        xp_name="gammaincc", name="IgammacBackward0")
def gammaincc(input, other):
    """gammaincc(input, other) -> the regularized upper incomplete gamma function Q(input, other) (``igammac``).
    Differentiable in ``other`` only, as PyTorch's. Needs scipy (``tapegrad[special]``).

    >>> import tapegrad as tg
    >>> tg.special.gammaincc(tg.tensor([1.0]), tg.tensor([1.0]))  # e^-1
    tensor([0.3679])
    """
    _floats_only("gammaincc", "igammac", input)
    return numpy_xp.gammaincc(input, other)


def _zeta_rule(xp, need, g, out, x, q):
    if need[0]:
        raise NotImplementedError("the derivative for 'zeta' is not implemented.")
    return None, g * -x * xp.special_zeta(x + 1, q)


@binary(grad=_zeta_rule, floats=True, methods=(), inplace=False, xp_name="special_zeta", name="SpecialZetaBackward0")
def zeta(input, other):
    """zeta(input, other) -> the Hurwitz zeta function sum_k (k + other) ** -input. Differentiable in ``other``
    only, as PyTorch's. Needs scipy (``tapegrad[special]``).

    >>> import tapegrad as tg
    >>> tg.special.zeta(tg.tensor([2.0]), tg.tensor([1.0]))  # pi^2 / 6
    tensor([1.6449])
    """
    return numpy_xp.special_zeta(input, other)


# ---------------------------------------------------------------------- error function family
# NOTE: the rule recomputes erfinv(x) from the input, as PyTorch's (it saves the input, not the result): an in-place
# write to the result before backward is then allowed, as in PyTorch
@unary(grad=lambda xp, g, out, x: g * (_SQRT_PI / 2) * xp.exp(xp.erfinv(x) ** 2), xp_name="erfinv")
def erfinv(input):
    """erfinv(input) -> the inverse of erf on (-1, 1) (+-inf at +-1, nan outside).

    >>> import tapegrad as tg
    >>> tg.erfinv(tg.tensor([0.0, 0.5]))
    tensor([0.0000, 0.4769])
    """
    return N._np_erfinv(input)


@unary(grad=lambda xp, g, out, x: g * (2 * x * out - 2 / _SQRT_PI), methods=(), inplace=False,
       xp_name="special_erfcx", name="SpecialErfcxBackward0")
def erfcx(input):
    """erfcx(input) -> exp(input ** 2) * erfc(input), the scaled complementary error function. Needs scipy.

    >>> import tapegrad as tg
    >>> tg.special.erfcx(tg.tensor([0.0, 10.0]))
    tensor([1.0000, 0.0561])
    """
    return numpy_xp.special_erfcx(input)


@unary(grad=lambda xp, g, out, x: g * _SQRT_2PI * xp.exp(out * out / 2), methods=(), inplace=False,
       xp_name="special_ndtri", name="SpecialNdtriBackward0")
def ndtri(input):
    """ndtri(input) -> the inverse of the standard normal CDF (``ndtr``). Needs scipy.

    >>> import tapegrad as tg
    >>> tg.special.ndtri(tg.tensor([0.5, 0.975]))
    tensor([0.0000, 1.9600])
    """
    return numpy_xp.special_ndtri(input)


@unary(grad=lambda xp, g, out, x: g * xp.exp(-x * x / 2 - out) / _SQRT_2PI, methods=(), inplace=False,
       xp_name="special_log_ndtr", name="SpecialLogNdtrBackward0")
def log_ndtr(input):
    """log_ndtr(input) -> log of the standard normal CDF, accurate far in the left tail. Needs scipy.

    >>> import tapegrad as tg
    >>> tg.special.log_ndtr(tg.tensor([0.0, -10.0]))
    tensor([ -0.6931, -53.2313])
    """
    return numpy_xp.special_log_ndtr(input)


def special_round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """round(input, *, decimals=0): ``tapegrad.round`` (as PyTorch's special_round, which passes ``decimals``: its
    node is round's with decimals, RoundBackward1).

    >>> import tapegrad as tg
    >>> tg.special.round(tg.tensor([0.5, 1.5, 2.7]))
    tensor([0., 2., 3.])
    """
    from ..ops.elementwise import round as _round

    return _round(input, decimals=decimals)


def ndtr(input: Tensor) -> Tensor:
    """ndtr(input) -> the standard normal CDF, ``0.5 * erfc(-input / sqrt(2))`` (composite, as PyTorch's).

    >>> import tapegrad as tg
    >>> tg.special.ndtr(tg.tensor([0.0, 1.0]))
    tensor([0.5000, 0.8413])
    """
    from ..ops.elementwise import erfc

    if not isinstance(input, Tensor):
        raise expected_tensor("ndtr", input)
    x = input if input.is_floating_point() else input.to(dtypes.get_default_dtype())
    return named(erfc(x * -math.sqrt(0.5)) * 0.5, "MulBackward1")  # (PyTorch's last node: mul of a Scalar)


# ---------------------------------------------------------------------- Bessel functions with gradients
@unary(grad=lambda xp, g, out, x: g * xp.special_i1(x), xp_name="special_i0")
def i0(input):
    """i0(input) -> the modified Bessel function of the first kind of order 0. Needs scipy.

    >>> import tapegrad as tg
    >>> tg.i0(tg.tensor([0.0, 1.0]))
    tensor([1.0000, 1.2661])
    """
    return numpy_xp.special_i0(input)


@unary(grad=lambda xp, g, out, x: g * (xp.special_i1e(x) - xp.sign(x) * out), methods=(), inplace=False,
       xp_name="special_i0e", name="SpecialI0EBackward0")
def special_i0e(input):
    """i0e(input) -> exp(-|input|) * i0(input). Needs scipy.

    >>> import tapegrad as tg
    >>> tg.special.i0e(tg.tensor([0.0, 1.0]))
    tensor([1.0000, 0.4658])
    """
    return numpy_xp.special_i0e(input)


def _not_tiny(x):
    """PyTorch's i1/i1e backward: |x| > eps, else (0, tiny or nan) the gradient is the limit 0.5 at 0."""
    return abs(x) > np.finfo(x.dtype).eps


def _i1_rule(xp, g, out, x):
    big = _not_tiny(x)
    safe = xp.where(big, x, 1.0)
    return g * xp.where(big, xp.special_i0(safe) - out / safe, 0.5)


@unary(grad=_i1_rule, methods=(), inplace=False, xp_name="special_i1", name="SpecialI1Backward0")
def special_i1(input):
    """i1(input) -> the modified Bessel function of the first kind of order 1. Needs scipy.

    >>> import tapegrad as tg
    >>> tg.special.i1(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.5652])
    """
    return numpy_xp.special_i1(input)


def _i1e_rule(xp, g, out, x):
    big = _not_tiny(x)
    safe = xp.where(big, x, 1.0)
    return g * xp.where(big, xp.special_i0e(safe) - out * (xp.sign(safe) + 1 / safe), 0.5)


@unary(grad=_i1e_rule, methods=(), inplace=False, xp_name="special_i1e", name="SpecialI1EBackward0")
def special_i1e(input):
    """i1e(input) -> exp(-|input|) * i1(input). Needs scipy.

    >>> import tapegrad as tg
    >>> tg.special.i1e(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.2079])
    """
    return numpy_xp.special_i1e(input)


# ---------------------------------------------------------------------- elementary
@unary(grad=lambda xp, g, out, x: g * -(1 + xp.log(x)), methods=(), inplace=False, xp_name="special_entr",
       name="SpecialEntrBackward0")
def entr(input):
    """entr(input) -> -input * log(input) for input > 0, 0 at 0, -inf below.

    >>> import tapegrad as tg
    >>> tg.special.entr(tg.tensor([0.0, 0.5, -1.0]))
    tensor([0.0000, 0.3466,   -inf])
    """
    return N._np_entr(input)


def _times_pi(xp, a):
    if a.dtype == np.float16:  # NOTE: PyTorch multiplies a float16 tensor by pi in float32 and rounds once
        return xp.astype(a * np.float32(math.pi), np.float16)
    return a * math.pi


def _sinc_rule(xp, g, out, x):
    # PyTorch's sinc_backward: 0 where pi * x * x underflows to 0
    with np.errstate(all="ignore"):
        sq = _times_pi(xp, x * x)
        zero = sq == 0
        px = _times_pi(xp, x)
        # (grad * numerator) / denominator, in PyTorch's order (each op rounds to float16 there too)
        return xp.where(zero, 0.0, g * (px * xp.cos(px) - xp.sin(px)) / xp.where(zero, 1.0, sq))


@unary(grad=_sinc_rule, xp_name="sinc")
def sinc(input):
    """sinc(input) -> sin(pi * input) / (pi * input), 1 at 0.

    >>> import tapegrad as tg
    >>> tg.sinc(tg.tensor([0.0, 0.5]))
    tensor([1.0000, 0.6366])
    """
    return N._np_sinc(input)


@op(methods=("logit",), xp_name=False, inplace=True)
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """logit(input, eps=None) -> log(input / (1 - input)), with ``input`` first clamped to [eps, 1 - eps] when
    ``eps`` is given (the gradient is then 0 outside that interval).

    >>> import tapegrad as tg
    >>> tg.logit(tg.tensor([0.5, 0.0]), eps=1e-6)
    tensor([  0.0000, -13.8155])
    """
    x = _float_array("logit", input)
    if eps is not None:
        eps = float(eps)

    def rule(xp, g, out, x):
        if eps is None:
            return xp.where((x < 0) | (x > 1), math.nan, g / (x * (1 - x)))
        return xp.where((x < eps) | (x > 1 - eps), 0.0, g / (x * (1 - x)))

    return record(N._np_logit(x, eps).astype(x.dtype, copy=False), (input,), rule, "LogitBackward0")


# ---------------------------------------------------------------------- not differentiable in PyTorch
def _not_differentiable(name: str, scipy_name: str, doc: str):
    array_fn = N._scipy(scipy_name)

    def fn(input: Tensor) -> Tensor:
        x = _float_array(name, input)
        return wrap(array_fn(x))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _airy_array(x):
    return N._back(N.scipy_special().airy(x)[0], x)


def airy_ai(input: Tensor) -> Tensor:
    """airy_ai(input) -> the Airy function Ai. Not differentiable (as PyTorch's). Needs scipy.

    >>> import tapegrad as tg
    >>> tg.special.airy_ai(tg.tensor([0.0]))
    tensor([0.3550])
    """
    return wrap(_airy_array(_float_array("airy_ai", input)))


def _spherical_j0_array(x):
    with np.errstate(all="ignore"):
        out = np.where(x == 0, 1.0, np.sin(x) / np.where(x == 0, 1.0, x))
        out = np.where(np.isinf(x), 0.0, out)
    return out.astype(x.dtype, copy=False)


def spherical_bessel_j0(input: Tensor) -> Tensor:
    """spherical_bessel_j0(input) -> sin(input) / input, 1 at 0. Not differentiable (as PyTorch's).

    >>> import tapegrad as tg
    >>> tg.special.spherical_bessel_j0(tg.tensor([0.0]))
    tensor([1.])
    """
    return wrap(_spherical_j0_array(_float_array("spherical_bessel_j0", input)))


def _doc(signature, what, value):
    name = signature.split("(")[0]
    return (f"{signature} -> {what}. Not differentiable (as PyTorch's). Needs scipy.\n\n"
            f"    >>> import tapegrad as tg\n    >>> tg.special.{name}(tg.tensor([1.0]))\n    {value}\n    ")


bessel_j0 = _not_differentiable("bessel_j0", "j0", _doc("bessel_j0(input)", "the Bessel function J0",
                                                        "tensor([0.7652])"))
bessel_j1 = _not_differentiable("bessel_j1", "j1", _doc("bessel_j1(input)", "the Bessel function J1",
                                                        "tensor([0.4401])"))
bessel_y0 = _not_differentiable("bessel_y0", "y0", _doc("bessel_y0(input)", "the Bessel function Y0",
                                                        "tensor([0.0883])"))
bessel_y1 = _not_differentiable("bessel_y1", "y1", _doc("bessel_y1(input)", "the Bessel function Y1",
                                                        "tensor([-0.7812])"))
modified_bessel_i0 = _not_differentiable("modified_bessel_i0", "i0", _doc(
    "modified_bessel_i0(input)", "the modified Bessel function I0", "tensor([1.2661])"))
modified_bessel_i1 = _not_differentiable("modified_bessel_i1", "i1", _doc(
    "modified_bessel_i1(input)", "the modified Bessel function I1", "tensor([0.5652])"))
modified_bessel_k0 = _not_differentiable("modified_bessel_k0", "k0", _doc(
    "modified_bessel_k0(input)", "the modified Bessel function K0", "tensor([0.4210])"))
modified_bessel_k1 = _not_differentiable("modified_bessel_k1", "k1", _doc(
    "modified_bessel_k1(input)", "the modified Bessel function K1", "tensor([0.6019])"))
scaled_modified_bessel_k0 = _not_differentiable("scaled_modified_bessel_k0", "k0e", _doc(
    "scaled_modified_bessel_k0(input)", "exp(input) * K0(input)", "tensor([1.1445])"))
scaled_modified_bessel_k1 = _not_differentiable("scaled_modified_bessel_k1", "k1e", _doc(
    "scaled_modified_bessel_k1(input)", "exp(input) * K1(input)", "tensor([1.6362])"))


# ---------------------------------------------------------------------- orthogonal polynomials (not differentiable)
def _poly_operands(name, input, n):
    """``input`` and ``n`` as arrays of PyTorch's result dtype (integers: the default float dtype), broadcast, and
    ``n`` truncated to an integer as PyTorch's kernels do (``static_cast<int64_t>(n)``)."""
    a, b = operands(name, input, n)
    x, m = a.detach().numpy(), b.detach().numpy()
    if x.dtype.kind != "f":
        x, m = x.astype(dtypes.get_default_dtype()), m.astype(dtypes.get_default_dtype())
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError:
        raise broadcast_error(name, a, b) from None
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name}: the degree n must be finite, got {m[~np.isfinite(m)].ravel()[0]}")
    return x, np.trunc(m).astype(x.dtype)


def _iterate(x, n, q1, step):
    """p = 1, q = q1, then ``r = step(j, p, q)`` for j = 1 .. n - 1 (each element stops at its own n)."""
    p, q = np.ones_like(x), np.array(q1, dtype=x.dtype, copy=True)
    with np.errstate(all="ignore"):
        for j in range(1, int(n.max(initial=0))):
            r = step(j, p, q)
            active = j < n
            p, q = np.where(active, q, p), np.where(active, r, q)
    return q


def _polynomial(name, kernel, doc):
    def fn(input, n):
        x, m = _poly_operands(name, input, n)
        with np.errstate(all="ignore"):
            out = kernel(x, m)
        return wrap(np.asarray(out).astype(x.dtype, copy=False))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _sign_n(n, pos, neg):
    return np.where(n % 2 == 0, pos, neg)


def _cheb_t(x, n):
    ax = np.abs(x)
    return np.select(
        [n < 0, ax == 1, (n > 6) & (ax < 1), n == 0, n == 1],
        [0.0, np.where((x > 0) | (n % 2 == 0), 1.0, -1.0), np.cos(n * np.arccos(x)), 1.0, x],
        _iterate(x, n, x, lambda j, p, q: (x + x) * q - p))


def _cheb_u(x, n):
    ax, t = np.abs(x), np.arccos(x)
    trig = (n > 8) & (ax < 1)
    return np.select(
        [n < 0, ax == 1, trig & (np.sin(t) != 0), trig, n == 0, n == 1],
        [0.0, np.where((x > 0) | (n % 2 == 0), n + 1, -(n + 1)), np.sin((n + 1) * t) / np.sin(t),
         (n + 1) * np.cos((n + 1) * t) / x, 1.0, x + x],
        _iterate(x, n, x + x, lambda j, p, q: (x + x) * q - p))


def _cheb_v(x, n):
    ax, t = np.abs(x), np.arccos(x)
    trig = (n > 8) & (ax < 1)
    odd_even = _sign_n(n, n + n + 1, -(n + n + 1))
    return np.select(
        [n < 0, ax == 1, trig & (np.sin(t / 2) != 1), trig, n == 0, n == 1],
        [0.0, np.where(x > 0, 1.0, odd_even), np.cos((n + 0.5) * t) / np.cos(t / 2), odd_even, 1.0, x + x - 1],
        _iterate(x, n, x + x - 1, lambda j, p, q: (x + x) * q - p))


def _cheb_w(x, n):
    ax, t = np.abs(x), np.arccos(x)
    trig = (n > 8) & (ax < 1)
    edge = np.where(x > 0, n + n + 1, _sign_n(n, 1.0, -1.0))
    return np.select(
        [n < 0, ax == 1, trig & (np.cos(t / 2) != 1), trig, n == 0, n == 1],
        [0.0, edge, np.sin((n + 0.5) * t) / np.sin(t / 2), edge, 1.0, x + x + 1],
        _iterate(x, n, x + x + 1, lambda j, p, q: (x + x) * q - p))


def _hermite_h(x, n):
    return np.select([n < 0, n == 0, n == 1], [0.0, 1.0, x + x],
                     _iterate(x, n, x + x, lambda j, p, q: (x + x) * q - 2 * j * p))


def _hermite_he(x, n):
    return np.select([n < 0, n == 0, n == 1], [0.0, 1.0, x], _iterate(x, n, x, lambda j, p, q: x * q - j * p))


def _laguerre_l(x, n):
    return np.select([n < 0, np.abs(x) == 0, n == 0, n == 1], [0.0, 1.0, 1.0, 1 - x],
                     _iterate(x, n, 1 - x, lambda j, p, q: ((j + j) + (1 - x)) * q / (j + 1) - j * p / (j + 1)))


def _legendre_p(x, n):
    return np.select([n < 0, np.abs(x) == 1, n == 0, n == 1],
                     [0.0, np.where((x > 0) | (n % 2 == 0), 1.0, -1.0), 1.0, x],
                     _iterate(x, n, x, lambda j, p, q: ((j + j + 1) * x * q - j * p) / (j + 1)))


def _shifted(kernel):
    return lambda x, n: kernel(x + x - 1, n)


def _pdoc(name, what, value):
    return (f"{name}(input, n) -> {what} of degree ``n`` (truncated to an integer; 0 for negative n) at ``input``, "
            f"by PyTorch's recurrences and edge values. Not differentiable (as PyTorch's).\n\n"
            f"    >>> import tapegrad as tg\n    >>> tg.special.{name}(tg.tensor([0.5]), 3)\n    {value}\n    ")


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", _cheb_t, _pdoc(
    "chebyshev_polynomial_t", "the Chebyshev polynomial of the first kind T_n", "tensor([-1.])"))
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", _cheb_u, _pdoc(
    "chebyshev_polynomial_u", "the Chebyshev polynomial of the second kind U_n", "tensor([-1.])"))
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", _cheb_v, _pdoc(
    "chebyshev_polynomial_v", "the Chebyshev polynomial of the third kind V_n", "tensor([-1.])"))
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", _cheb_w, _pdoc(
    "chebyshev_polynomial_w", "the Chebyshev polynomial of the fourth kind W_n", "tensor([-1.])"))
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", _shifted(_cheb_t), _pdoc(
    "shifted_chebyshev_polynomial_t", "T_n(2 x - 1)", "tensor([-0.])"))
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", _shifted(_cheb_u), _pdoc(
    "shifted_chebyshev_polynomial_u", "U_n(2 x - 1)", "tensor([-0.])"))
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", _shifted(_cheb_v), _pdoc(
    "shifted_chebyshev_polynomial_v", "V_n(2 x - 1)", "tensor([1.])"))
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", _shifted(_cheb_w), _pdoc(
    "shifted_chebyshev_polynomial_w", "W_n(2 x - 1)", "tensor([-1.])"))
hermite_polynomial_h = _polynomial("hermite_polynomial_h", _hermite_h, _pdoc(
    "hermite_polynomial_h", "the physicists' Hermite polynomial H_n", "tensor([-5.])"))
hermite_polynomial_he = _polynomial("hermite_polynomial_he", _hermite_he, _pdoc(
    "hermite_polynomial_he", "the probabilists' Hermite polynomial He_n", "tensor([-1.3750])"))
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", _laguerre_l, _pdoc(
    "laguerre_polynomial_l", "the Laguerre polynomial L_n", "tensor([-0.1458])"))
legendre_polynomial_p = _polynomial("legendre_polynomial_p", _legendre_p, _pdoc(
    "legendre_polynomial_p", "the Legendre polynomial P_n", "tensor([-0.4375])"))
