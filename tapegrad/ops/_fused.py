"""Fused multiply-adds, rounded once, as PyTorch's compiled kernels compute them (a leaf: numpy only).

``fma`` takes any float dtype (float32 and float16 in float64, where their products are exact); ``fma64``
emulates float64's with error-free transformations; ``sum_to_odd`` is a float64 sum that a later rounding to
float32 or float16 rounds once. Used by addcmul, lerp, logaddexp2, cross, the LU updates and interpolate's
sums.
"""

import numpy as np


def fma(x, y, z):
    """``x * y + z`` rounded once, as the fused multiply-adds of PyTorch's compiled kernels: float32 and float16
    in float64, where their product is exact, summed rounded to odd so that the rounding to the dtype is the only
    one; float64 by Dekker's product and Knuth's sum."""
    if x.dtype == np.float64 or y.dtype == np.float64 or z.dtype == np.float64:
        return fma64(x, y, z)
    return add_rounded_once(np.multiply(x, y, dtype=np.float64), z, np.result_type(x, y, z))


# float64's bits below half of float32's (float16's) last place: all zero in every halfway point of the dtype, in its
# subnormal range too (halfway points there lie higher up, at multiples of 2 ** -150 or 2 ** -25)
_BELOW_HALFWAY = {np.dtype(np.float32): (1 << 28) - 1, np.dtype(np.float16): (1 << 41) - 1}


def add_rounded_once(a, b, dtype, out=None):
    """a + b of float64 arrays (or numbers) rounded once to float32 or float16: ``sum_to_odd(a, b).astype(dtype)``,
    computed as the plain float64 sum and its rounding, with the exact sum taken only where the two can differ.
    They differ only where the float64 sum lands exactly halfway between two neighbours in ``dtype`` (the first
    rounding can make a tie the exact sum was not): elsewhere the exact sum and its float64 rounding lie on the
    same side of every halfway point, a float64 value. A halfway point has its float64 bits below the dtype's
    half-last-place bit zero: one integer pass and a count find the (few) sums with such short endings, numbers of
    the dtype included, which alone are summed again. ``out``: an array of ``dtype`` and the sum's shape to round
    into (in-place writes: one pass fewer than a new array and a copy)."""
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.asarray(np.add(a, b, dtype=np.float64))
        low = s.view(np.int64) & _BELOW_HALFWAY[np.dtype(dtype)]
        if np.count_nonzero(low) != low.size:  # (count_nonzero: a third of ndarray.all's time)
            short = np.flatnonzero(low == 0)
            a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
            s.flat[short] = sum_to_odd(a.flat[short], b.flat[short])
        if out is not None:
            np.copyto(out, s, casting="same_kind")  # (the same rounding as astype)
            return out
        return np.asarray(s.astype(dtype))  # (an overflow to inf, as PyTorch's, without numpy's warning)


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
