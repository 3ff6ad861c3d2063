"""The special functions the distributions need, as differentiable ops (private until ``tapegrad.special``).

``lgamma``, ``digamma``, ``polygamma``, ``erfinv``, ``xlogy`` and ``gammainc`` with PyTorch's gradients and node
names. numpy has none of them: all but ``gammainc`` are computed here in numpy (Lanczos and Stirling series,
recurrences with asymptotic series, Newton steps on erf), to float64 precision (tests compare with scipy);
``gammainc`` (Gamma.cdf, Chi2.cdf) and the gamma draws' gradient come from ``scipy.special``, the optional extra
``tapegrad[special]``. Each op's gradient rule is written with ``xp.NAME`` (scipy's names) so that it also runs
on tensors with ``create_graph=True``; the array side of those names is registered here, beside the op.
"""

from __future__ import annotations

import math

import numpy as np

from .._optional import require
from ..autograd.declare import Tensor, binary, op, record, unary
from ..autograd.xp import numpy_xp, register_tensor_xp

__all__ = ["lgamma", "digamma", "polygamma", "erfinv", "xlogy", "gammainc", "scipy_special"]


def scipy_special():
    """scipy.special, or an ImportError naming the extra that brings it."""
    return require("scipy.special", feature="tapegrad.distributions (special functions)", extra="special",
                   package="scipy")


# ---------------------------------------------------------------------- numpy implementations (no scipy needed)
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _float64(x):
    return np.asarray(x, dtype=np.float64)


def _back(out, like):
    dtype = like.dtype if isinstance(like, np.ndarray) and like.dtype.kind == "f" else np.float64
    return np.asarray(out).astype(dtype, copy=False)


def _lgamma_positive(x):
    """log Gamma(x) for x >= 0.5: Lanczos (g = 7) below 10, Stirling's series above (both ~1e-15 relative)."""
    small = x < 10
    xs = np.where(small, x, 1.0) - 1
    s = np.full_like(xs, _LANCZOS[0])
    for k, c in enumerate(_LANCZOS[1:], 1):
        s = s + c / (xs + k)
    t = xs + _LANCZOS_G + 0.5
    lanczos = _HALF_LOG_2PI + (xs + 0.5) * np.log(t) - t + np.log(s)
    xl = np.where(small, 10.0, x)
    inv, inv2 = 1 / xl, 1 / (xl * xl)
    stirling = (xl - 0.5) * np.log(xl) - xl + _HALF_LOG_2PI + inv * (
        1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    return np.where(small, lanczos, stirling)


def _np_lgamma(x):
    """log |Gamma(x)| (inf at 0 and the negative integers), as torch.lgamma."""
    x64 = _float64(x)
    with np.errstate(all="ignore"):
        reflect = x64 < 0.5
        pos = _lgamma_positive(np.where(reflect, 1 - x64, x64))
        # NOTE: Gamma(x) Gamma(1 - x) = pi / sin(pi x) gives x < 0.5 from 1 - x > 0.5
        sin = np.abs(np.sin(math.pi * (x64 - np.floor(x64))))
        out = np.where(reflect, math.log(math.pi) - np.log(sin) - pos, pos)
        out = np.where(reflect & (x64 == np.floor(x64)), np.inf, out)
        out = np.where(np.isinf(x64), np.inf, out)
        out = np.where((x64 == 1) | (x64 == 2), 0.0, out)  # exact zeros, as PyTorch's
    return _back(out, x)


def _np_digamma(x):
    """digamma(x), as torch.digamma: -inf at 0, nan at the negative integers."""
    x64 = _float64(x)
    with np.errstate(all="ignore"):
        reflect = x64 < 0.5
        y = np.where(reflect, 1 - x64, x64)
        acc = np.zeros_like(y)
        for _ in range(6):  # psi(y) = psi(y + 1) - 1/y until y >= 6, then the asymptotic series
            low = y < 6
            acc = acc - np.where(low, 1 / np.where(low, y, 1.0), 0.0)
            y = np.where(low, y + 1, y)
        inv2 = 1 / (y * y)
        out = acc + np.log(y) - 0.5 / y - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (
            1 / 240 - inv2 / 132))))
        # NOTE: psi(1 - x) - psi(x) = pi cot(pi x): reflect x < 0.5, with tan of the fractional part for accuracy
        out = np.where(reflect, out - math.pi / np.tan(math.pi * (x64 - np.floor(x64))), out)
        out = np.where(reflect & (x64 == np.floor(x64)), np.nan, out)
        out = np.where(x64 == 0, -np.inf, out)
        out = np.where(x64 == np.inf, np.inf, out)
    return _back(out, x)


# Bernoulli numbers B_2k for the asymptotic series of polygamma
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def _np_polygamma(n, x):
    """The n-th derivative of digamma (n >= 1), by recurrence up to x >= 20 and the asymptotic series."""
    if n == 0:
        return _np_digamma(x)
    x64 = _float64(x)
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)^(n+1)
    with np.errstate(all="ignore"):
        y = x64.copy()
        acc = np.zeros_like(y)
        for _ in range(2000):
            low = y < 20
            if not low.any():
                break
            acc = acc + np.where(low, 1 / np.where(low, y, 1.0) ** (n + 1), 0.0)
            y = np.where(low, y + 1, y)
        acc = acc * math.factorial(n)
        series = math.factorial(n - 1) / y ** n + math.factorial(n) / (2 * y ** (n + 1))
        for k, b in enumerate(_B2K, 1):
            series = series + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / y ** (2 * k + n)
        out = sign * (acc + series)
        out = np.where((x64 <= 0) & (x64 == np.floor(x64)), np.inf if n % 2 else np.nan, out)
    return _back(out, x)


def _np_erfinv(y):
    """erfinv(y): Giles' approximation refined by Newton steps on erf (or erfc in the tails)."""
    from .. import erf, erfc, from_numpy

    y64 = _float64(y)
    with np.errstate(all="ignore"):
        a = np.abs(y64)
        w = -np.log((1 - a) * (1 + a))
        central = w < 5
        wc = w - 2.5
        pc = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
                  0.246640727, 1.50140941):
            pc = c + pc * wc
        wt = np.sqrt(np.where(central, 5.0, w)) - 3
        pt = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
                  1.00167406, 2.83297682):
            pt = c + pt * wt
        x = np.where(central, pc, pt) * a
        x = np.where(np.isfinite(x), x, 0.0)
        tail = a > 0.5
        for _ in range(4):  # Newton on erf(x) = a, or on log erfc(x) = log(1 - a) (1 - a is exact) in the tails
            t = from_numpy(np.asarray(x, dtype=np.float64))
            slope = 2 / math.sqrt(math.pi) * np.exp(-x * x)
            c = erfc(t).numpy()
            step_tail = (np.log(c) - np.log(1 - a)) * c / slope
            step_central = (erf(t).numpy() - a) / slope
            x = x + np.where(tail, step_tail, -step_central)
        out = np.sign(y64) * x
        out = np.where(a == 1, np.sign(y64) * np.inf, out)
        out = np.where(a > 1, np.nan, out)
    return _back(out, y)


def _np_xlogy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(x * np.log(y))
        return np.where((x == 0) & ~np.isnan(y), np.zeros((), out.dtype), out)


def _np_gammainc(a, x):
    out = np.asarray(scipy_special().gammainc(a, x))
    dtype = np.result_type(a, x)
    return out.astype(dtype, copy=False) if dtype.kind == "f" else out


# the array side of the names the rules below call (``xp.digamma`` on arrays); the tensor side is the ops
numpy_xp.gammaln = _np_lgamma
numpy_xp.digamma = _np_digamma
numpy_xp.polygamma = _np_polygamma
numpy_xp.erfinv = _np_erfinv
numpy_xp.xlogy = _np_xlogy
numpy_xp.gammainc = _np_gammainc


@unary(grad=lambda xp, g, out, x: g * xp.digamma(x), methods=(), inplace=False, xp_name="gammaln")
def lgamma(input):
    """lgamma(input) -> log |Gamma(input)|.

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import lgamma
    >>> lgamma(tg.tensor([1.0, 5.0]))
    tensor([0.0000, 3.1781])
    """
    return numpy_xp.gammaln(input)


@unary(grad=lambda xp, g, out, x: g * xp.polygamma(1, x), methods=(), inplace=False, xp_name="digamma")
def digamma(input):
    """digamma(input) -> d/dx lgamma(x) (PyTorch: -inf at 0).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import digamma
    >>> digamma(tg.tensor([1.0]))
    tensor([-0.5772])
    """
    return _np_digamma(input)


@op(methods=(), xp_name="polygamma")
def polygamma(n: int, input: Tensor) -> Tensor:
    """polygamma(n, input) -> the n-th derivative of digamma.

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import polygamma
    >>> polygamma(1, tg.tensor([1.0]))  # pi^2 / 6
    tensor([1.6449])
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n = {n!r}")
    x = input._data
    if x.dtype.kind != "f":
        from .. import dtypes
        x = x.astype(dtypes.get_default_dtype())

    def rule(xp, g, out, x):
        return g * xp.polygamma(n + 1, x)

    return record(_np_polygamma(n, x), (input,), rule, "PolygammaBackward0")


@unary(grad=lambda xp, g, out, x: g * (math.sqrt(math.pi) / 2) * xp.exp(out * out), methods=(), inplace=False,
       xp_name="erfinv")
def erfinv(input):
    """erfinv(input): the inverse of erf on (-1, 1) (+-inf at +-1, nan outside).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import erfinv
    >>> erfinv(tg.tensor([0.0, 0.5]))
    tensor([0.0000, 0.4769])
    """
    return numpy_xp.erfinv(input)


def _xlogy_rule(xp, need, g, out, x, y):
    gx = gy = None
    if need[0]:
        # NOTE: PyTorch's gradient is 0 where x == 0 and y <= 0 (where log(y) is -inf or nan)
        zero = (x == 0) & (y <= 0)
        gx = xp.where(zero, 0.0, g * xp.log(xp.where(zero, 1.0, y)))
    if need[1]:
        gy = g * x / y
    return gx, gy


@binary(grad=_xlogy_rule, floats=True, methods=(), inplace=False, xp_name="xlogy")
def xlogy(input, other):
    """xlogy(input, other) -> input * log(other), 0 where input == 0 (unless other is nan).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import xlogy
    >>> xlogy(tg.tensor([0.0, 2.0]), tg.tensor([0.0, 1.0]))
    tensor([0., 0.])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return numpy_xp.xlogy(input, other)


def _gammainc_rule(xp, need, g, out, a, x):
    if need[0]:
        raise NotImplementedError("the derivative for 'igamma: input' is not implemented.")
    return None, g * xp.exp((a - 1) * xp.log(x) - x - xp.gammaln(a))


@binary(grad=_gammainc_rule, floats=True, methods=(), inplace=False, xp_name="gammainc", name="IgammaBackward0")
def gammainc(input, other):
    """gammainc(input, other): the regularized lower incomplete gamma function P(input, other).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import gammainc
    >>> gammainc(tg.tensor([1.0]), tg.tensor([1.0]))  # 1 - e^-1
    tensor([0.6321])
    """
    return numpy_xp.gammainc(input, other)


register_tensor_xp("lgamma", lgamma)
