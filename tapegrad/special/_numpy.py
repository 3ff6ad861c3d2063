"""Array implementations of the special functions (numpy; scipy.special for what numpy cannot do in a few lines).

``lgamma``, ``digamma``, ``polygamma``, ``erfinv`` and ``xlogy`` are computed here in numpy (Lanczos and Stirling
series, recurrences with asymptotic series, Newton steps on erf) to float64 precision; the rest (incomplete gamma,
Bessel functions, erfcx, ndtri, zeta, ...) come from ``scipy.special``, the optional extra ``tapegrad[special]``.
"""

from __future__ import annotations

import math

import numpy as np

from .._optional import require


def scipy_special():
    """scipy.special, or an ImportError naming the extra that brings it."""
    return require("scipy.special", feature="tapegrad.special", extra="special", package="scipy")


_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_EULER = 0.57721566490153286


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
        # NOTE: Gamma(x) Gamma(1 - x) = pi / sin(pi x) gives x < 0.5 from 1 - x > 0.5; |sin(pi x)| is computed
        # from x's distance to the nearest integer (exact), so it keeps its digits next to the poles (-1e-30)
        sin = np.abs(np.sin(math.pi * (x64 - np.round(x64))))
        out = np.where(reflect, math.log(math.pi) - np.log(sin) - pos, pos)
        tiny = np.abs(x64) < 1e-8  # NOTE: -log|x| - gamma x (error x^2): pi x would lose digits as a subnormal
        out = np.where(tiny, -np.log(np.abs(x64)) - _EULER * x64, out)
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
        # NOTE: psi(1 - x) - psi(x) = pi cot(pi x): reflect x < 0.5, with tan of the distance to the nearest
        # integer (exact; tan has period pi), so the digits are kept next to the poles (-1e-30)
        out = np.where(reflect, out - math.pi / np.tan(math.pi * (x64 - np.round(x64))), out)
        out = np.where(reflect & (x64 == np.floor(x64)), np.nan, out)
        out = np.where(x64 == 0, np.copysign(np.inf, -x64), out)  # PyTorch: -inf at +0, +inf at -0
        out = np.where(x64 == np.inf, np.inf, out)
    return _back(out, x)


# Bernoulli numbers B_2k for the asymptotic series of polygamma
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def _np_polygamma(n, x):
    """The n-th derivative of digamma (n >= 1), by recurrence up to x >= 20 and the asymptotic series; PyTorch's
    values at the poles (x = 0, -1, ..., -inf: +inf for odd n, -inf for even) and nan at +inf."""
    if n == 0:
        return _np_digamma(x)
    if n == 1:
        return _back(_pt_trigamma(_float64(x)), x)
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
        out = np.where((x64 <= 0) & (x64 == np.floor(x64)), np.inf if n % 2 else -np.inf, out)
        out = np.where(x64 == np.inf, np.nan, out)
    return _back(out, x)


def _np_erfinv(y):
    """erfinv(y): Giles' approximation refined by Newton steps on erf (or erfc in the tails)."""
    from ..creation import from_numpy
    from ..ops.elementwise import erf, erfc

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
        out = np.where(y64 == 0, y64, np.sign(y64) * x)  # erfinv(-0.0) is -0.0
        out = np.where(a == 1, np.sign(y64) * np.inf, out)
        out = np.where(a > 1, np.nan, out)
    return _back(out, y)


def _np_xlogy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(x * np.log(y))
        return np.where((x == 0) & ~np.isnan(y), np.zeros((), out.dtype), out)


def _np_xlog1py(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(x * np.log1p(y))
        return np.where((x == 0) & ~np.isnan(y), np.zeros((), out.dtype), out)


def _np_entr(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1)), np.where(x == 0, 0, -np.inf))
        return np.where(np.isnan(x), x, out).astype(x.dtype, copy=False)


def _np_sinc(x):
    """sin(pi x) / (pi x), 1 at 0, computed as PyTorch's kernel: the product pi x rounded in the opmath dtype
    (float32 for float16 and float32). NOTE: the sine of that rounded product is taken in float64 and rounded once
    (numpy's float32 sin loses digits at huge arguments, where PyTorch's SLEEF sin is accurate to an ulp)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        op = np.float64 if x.dtype == np.float64 else np.float32
        px = x.astype(op, copy=False) * op(math.pi)
        sin = np.sin(px.astype(np.float64)).astype(op, copy=False)
        out = np.where(x == 0, op(1), sin / np.where(x == 0, op(1), px))
        return out.astype(x.dtype, copy=False)


def _np_logit(x, eps=None):
    with np.errstate(divide="ignore", invalid="ignore"):
        if eps is not None:
            x = np.clip(x, eps, 1 - eps)
        return np.log(x / (1 - x))


def _scipy(name):
    """The array function ``scipy.special.<name>`` in the input's float dtype (scipy is imported on first use)."""

    def fn(*arrays):
        with np.errstate(all="ignore"):
            out = np.asarray(getattr(scipy_special(), name)(*arrays))
        return _back(out, np.empty(0, np.result_type(*arrays)))

    fn.__name__ = name
    return fn



def _np_gammainc(a, x):
    """P(a, x) with PyTorch's values at the edges (calc_igamma), scipy elsewhere."""
    out = _scipy("gammainc")(a, x)
    with np.errstate(invalid="ignore"):
        conds = [(x < 0) | (a < 0), a == 0, x == 0, np.isinf(a), np.isinf(x)]
        values = [np.nan, np.where(x > 0, 1.0, np.nan), 0.0, np.where(np.isinf(x), np.nan, 0.0), 1.0]
        return np.select(conds, values, out).astype(out.dtype, copy=False)


def _np_gammaincc(a, x):
    """Q(a, x) with PyTorch's values at the edges (calc_igammac), scipy elsewhere."""
    out = _scipy("gammaincc")(a, x)
    with np.errstate(invalid="ignore"):
        conds = [(x < 0) | (a < 0), a == 0, x == 0, np.isinf(a), np.isinf(x)]
        values = [np.nan, np.where(x > 0, 0.0, np.nan), 1.0, np.where(np.isinf(x), np.nan, 1.0), 0.0]
        return np.select(conds, values, out).astype(out.dtype, copy=False)


def _np_zeta(x, q):
    """Hurwitz zeta, nan at q = inf as PyTorch's (scipy gives 0 there)."""
    out = _scipy("zeta")(x, q)
    return np.where(np.isposinf(q) & (x > 1), np.nan, out).astype(out.dtype, copy=False)


def _pt_trigamma(x):
    """polygamma(1, x) by PyTorch's series (calc_trigamma): reflection below 0.5, six recurrence steps and the
    asymptotic series; but sin(pi x) of the reflection is computed from x's distance to the nearest integer, so the
    poles (0, -1, -2, ...) give +inf (scipy's value; PyTorch's sin(pi x) is not 0 there: 1.3e15 for float32 -1)."""
    with np.errstate(all="ignore"):
        reflect = x < 0.5
        s = np.sin(math.pi * (x - np.round(x)))
        result = np.where(reflect, -(math.pi * math.pi) / (s * s), 0.0)
        y = np.where(reflect, 1 - x, x)
        for _ in range(6):
            result = result + 1 / (y * y)
            y = y + 1
        ixx = 1 / (y * y)
        result = result + (1 + 1 / (2 * y) + ixx * (1 / 6 - ixx * (1 / 30 - ixx * (1 / 42)))) / y
        return np.where(reflect, -result, result)
