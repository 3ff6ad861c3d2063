"""Fused multiply-adds, rounded once, as PyTorch's compiled kernels compute them (a leaf: numpy only).

``fma`` takes any float dtype (float32 and float16 in float64, where their products are exact); ``fma64``
emulates float64's with error-free transformations; ``sum_to_odd`` is a float64 sum that a later rounding to
float32 or float16 rounds once, ``rounded_once`` that sum rounded (the float64 sum where no midpoint shows).
Used by addcmul, lerp, logaddexp2, cross, the LU updates and interpolate's sums.
"""

import numpy as np


def fma(x, y, z, out=None):
    """``x * y + z`` rounded once, as the fused multiply-adds of PyTorch's compiled kernels: float32 and float16
    in float64, where their product is exact, and the sum rounded once to the dtype (``rounded_once``); float64 by
    Dekker's product and Knuth's sum. With ``out``, the result is written there (a float32 one straight from the
    float64 sum)."""
    if x.dtype == np.float64 or y.dtype == np.float64 or z.dtype == np.float64:
        result = fma64(x, y, z)
        if out is None:
            return result
        np.copyto(out, result)
        return out
    return rounded_once(np.multiply(x, y, dtype=np.float64), z, np.result_type(x, y, z), out)


# float64's bits below half the dtype's last place (float32, float16): all zero in each of its midpoints (below
# its normal range too, where the midpoints lie further up, at 2 ** -150 or 2 ** -25)
_BELOW_MIDPOINT = {np.dtype(np.float32): (1 << 28) - 1, np.dtype(np.float16): (1 << 41) - 1}


def rounded_once(a, b, dtype, out=None):
    """a + b for float64 arrays rounded once to ``dtype`` (float32 or float16), into ``out`` if given: the float64
    sum, whose rounding to the dtype is the exact sum's wherever it is not a midpoint of the dtype (rounding is
    monotonic, and the dtype's numbers and midpoints are float64 numbers); the sums whose low bits are zero (the
    dtype's numbers, its midpoints, zeros) are summed again rounded to odd (``sum_to_odd``). Two integer passes
    more than the plain sum where no sum is that short, as most are not."""
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.asarray(np.add(a, b))
    low = s.view(np.int64) & _BELOW_MIDPOINT[np.dtype(dtype)]
    if np.count_nonzero(low) != low.size:  # (count_nonzero: a third of ndarray.all's time)
        short = np.flatnonzero(low == 0)
        a, b = np.broadcast_arrays(a, b)
        s.flat[short] = sum_to_odd(a.flat[short], b.flat[short])
    if out is None:
        return s.astype(dtype)
    np.copyto(out, s, casting="same_kind")
    return out


def sum_to_odd(a, b):
    """a + b for float64 arrays rounded to odd (the neighbour with an odd last bit where the sum is inexact), so
    that rounding it to float32 or float16 rounds a + b once (Boldo and Melquiond: 53 >= 2 * 24 + 2 bits): a
    float32 multiply-add x * w + c as ``sum_to_odd(x * w, c).astype(np.float32)``, its product exact in float64,
    without the double rounding where c is too small for float64 to keep beside a product on a float32 tie."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.asarray(a + b)
        bb = s - a
        rest = (a - (s - bb)) + (b - bb)  # a + b = s + rest exactly
        even = (s.view(np.int64) & 1) == 0
        return np.where((rest != 0) & even & np.isfinite(rest), np.nextafter(s, np.copysign(np.inf, rest)), s)


def fma64(x, y, z):
    """x * y + z for float64 arrays with one rounding (a fused multiply-add): the product's rounding error by
    Dekker's exact product, the sum's by Knuth's two-sum, added back once. Where the sum is not finite, the sum.
    A result that rounds to 0 has the sign of the exact x y + z: fma(-0.25, 5e-324, 0.0) is -0.0 (the exact
    -1.2e-324 rounded), fma(-0.0, 1, -0.0) is -0.0 and fma(3, 2, -6) is +0.0 (IEEE's exact zero sum)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        out = _rounded_to_odd_sum(x, y, z)
        zero = out == 0
        if np.any(zero):
            # NOTE: the split product loses what underflows (5e-324 * -0.25), so the sign is read from the same
            # fma with each factor below 1 scaled by 2 ** 600 (exact); where that is 0 too, x y + z is an exact
            # zero sum, whose IEEE sign the plain x * y + z has (the product of two subnormals aside)
            kx = np.where(np.abs(x) < 1, 2.0 ** 600, 1.0)
            ky = np.where(np.abs(y) < 1, 2.0 ** 600, 1.0)
            scaled = _rounded_to_odd_sum(x * kx, y * ky, z * kx * ky)
            sign = np.where(np.isfinite(scaled) & (scaled != 0), np.copysign(0.0, scaled), x * y + z)
            out = np.where(zero, sign, out)
    return out


def _rounded_to_odd_sum(x, y, z):
    """Boldo and Melquiond's emulation (2008): x y = p + e exactly, p + z = s + t exactly, and s plus t + e rounded
    to odd, which the last rounding to nearest cannot round twice (a tie of s + (t + e) rounded first would)."""
    p = x * y
    c = x * 134217729.0  # 2 ** 27 + 1: x = xh + xl in 26-bit halves
    xh = c - (c - x)
    xl = x - xh
    c = y * 134217729.0
    yh = c - (c - y)
    yl = y - yh
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    s = p + z
    bb = s - p
    t = (p - (s - bb)) + (z - bb)
    v = np.asarray(t + e)
    vb = v - t
    inexact = (t - (v - vb)) + (e - vb)  # t + e = v + inexact
    even = (v.view(np.int64) & 1) == 0
    v = np.where((inexact != 0) & even, np.nextafter(v, np.copysign(np.inf, inexact)), v)  # rounded to odd
    out = s + v
    return np.where(np.isfinite(out), out, s)
