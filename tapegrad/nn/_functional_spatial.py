"""nn.functional's spatial family beyond 2-D convolution and pooling: N-d convolutions and poolings (from
``ops/conv_nd.py`` and ``ops/pooling.py``), resampling, pixel and channel shuffles, instance/RMS/local response
normalization, LP pooling and bags of embeddings. Re-exported by ``nn/functional.py``."""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np

from .. import dtypes
from ..autograd.declare import Tensor, expected_tensor, named, op, record, wrap
from ..autograd.grad_mode import no_grad
from ..ops import elementwise as E
from ..ops._fused import add_rounded_once, fma64
from ..ops.conv_nd import conv1d, conv3d, conv_tbc, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold, unfold
from ..ops.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d,
    adaptive_max_pool3d_with_indices,
    avg_pool1d,
    avg_pool3d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_pool3d,
    max_pool3d_with_indices,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)

__all__ = ["conv1d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "fold",
           "unfold", "adaptive_avg_pool1d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "avg_pool1d", "avg_pool3d", "max_pool1d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d", "max_pool3d_with_indices",
           "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "interpolate", "upsample",
           "upsample_nearest", "upsample_bilinear", "instance_norm", "rms_norm", "local_response_norm",
           "embedding_bag"]



def _tensor(op_name, t):
    if not isinstance(t, Tensor):
        raise expected_tensor(op_name, t)
    return t._data


# ---------------------------------------------------------------------- LP pooling (PyTorch's composition)
def _lp_pool(avg, input, norm_type, kernel_size, stride, ceil_mode, d):
    from . import functional as F

    kernel = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * d
    if isinstance(norm_type, (int, float)) and math.isinf(norm_type):  # as PyTorch: the max (min) of |input|
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[d]
        if norm_type > 0:
            return pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        return -pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    powered = input.pow(norm_type)
    if stride is not None:
        out = avg(powered, kernel_size, stride, 0, ceil_mode)
    else:
        out = avg(powered, kernel_size, padding=0, ceil_mode=ceil_mode)
    return (out.sign() * F.relu(out.abs())).mul(math.prod(kernel)).pow(1.0 / norm_type)


@op(methods=())
def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor

    The p-norm (p = ``norm_type``) of each window of an (N, C, L) input: (sum x**p) ** (1/p).

    >>> import tapegrad as tg
    >>> tg.nn.functional.lp_pool1d(tg.tensor([[3.0, 4.0]]), 2, 2)
    tensor([[5.]])
    """
    return _lp_pool(avg_pool1d, input, norm_type, kernel_size, stride, ceil_mode, 1)


@op(methods=())
def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor

    The p-norm of each window of an (N, C, H, W) input.

    >>> import tapegrad as tg
    >>> tg.nn.functional.lp_pool2d(tg.ones(1, 1, 2, 2), 1, 2)
    tensor([[[[4.]]]])
    """
    from ..ops.conv import avg_pool2d

    return _lp_pool(avg_pool2d, input, norm_type, kernel_size, stride, ceil_mode, 2)


@op(methods=())
def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor

    The p-norm of each window of an (N, C, D, H, W) input.

    >>> import tapegrad as tg
    >>> tg.nn.functional.lp_pool3d(tg.ones(1, 1, 2, 2, 2), 1, 2).flatten()
    tensor([8.])
    """
    return _lp_pool(avg_pool3d, input, norm_type, kernel_size, stride, ceil_mode, 3)


# ---------------------------------------------------------------------- pixel and channel shuffles
def _positive_int(op_name, name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{op_name}: {name} must be an int, but got {name}={value!r}")
    if value <= 0:
        raise RuntimeError(f"{op_name}: {name} must be greater than 0, but got {name}={value}")
    return int(value)


def _record_permutation(input, apply, adjoint, name, adjoint_name):
    def rule(xp, g, out, x):
        return xp.linear(adjoint, apply, g, adjoint_name)

    # a new array, as PyTorch's result (groups=1 or a factor of 1 would otherwise give a numpy view of the input)
    return record(np.array(apply(input._data), copy=True), (input,), rule, name)


@op(methods=())
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """pixel_shuffle(input, upscale_factor) -> Tensor

    Rearrange (*, C*r*r, H, W) into (*, C, H*r, W*r) (sub-pixel convolution's upsampling).

    >>> import tapegrad as tg
    >>> tg.nn.functional.pixel_shuffle(tg.arange(4.0).reshape(1, 4, 1, 1), 2)
    tensor([[[[0., 1.],
              [2., 3.]]]])
    """
    op_name = "pixel_shuffle"
    x = _tensor(op_name, input)
    r = _positive_int(op_name, "upscale_factor", upscale_factor)
    if x.ndim < 3:
        raise RuntimeError(f"{op_name}: expected an input of at least 3 dimensions, but got input of shape "
                           f"{tuple(x.shape)}")
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise RuntimeError(f"{op_name}: expected the channel dimension of the input to be divisible by the square of "
                           f"upscale_factor, but got input of shape {tuple(x.shape)} and upscale_factor={r}")
    lead, oc = tuple(lead), c // (r * r)
    k = len(lead)

    def apply(a):
        a = a.reshape(lead + (oc, r, r, h, w))
        a = a.transpose(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
        return a.reshape(lead + (oc, h * r, w * r))

    def adjoint(g):
        g = g.reshape(lead + (oc, h, r, w, r))
        g = g.transpose(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
        return g.reshape(lead + (c, h, w))

    return _record_permutation(input, apply, adjoint, "PixelShuffleBackward0", "PixelUnshuffleBackward0")


@op(methods=())
def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """pixel_unshuffle(input, downscale_factor) -> Tensor

    The inverse of pixel_shuffle: (*, C, H*r, W*r) into (*, C*r*r, H, W).

    >>> import tapegrad as tg
    >>> tg.nn.functional.pixel_unshuffle(tg.arange(4.0).reshape(1, 1, 2, 2), 2).flatten()
    tensor([0., 1., 2., 3.])
    """
    op_name = "pixel_unshuffle"
    x = _tensor(op_name, input)
    r = _positive_int(op_name, "downscale_factor", downscale_factor)
    if x.ndim < 3:
        raise RuntimeError(f"{op_name}: expected an input of at least 3 dimensions, but got input of shape "
                           f"{tuple(x.shape)}")
    *lead, c, hr, wr = x.shape
    if hr % r or wr % r:
        raise RuntimeError(f"{op_name}: expected the height and width of the input to be divisible by "
                           f"downscale_factor, but got input of shape {tuple(x.shape)} and downscale_factor={r}")
    lead, h, w = tuple(lead), hr // r, wr // r
    k = len(lead)

    def apply(a):
        a = a.reshape(lead + (c, h, r, w, r))
        a = a.transpose(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
        return a.reshape(lead + (c * r * r, h, w))

    def adjoint(g):
        g = g.reshape(lead + (c, r, r, h, w))
        g = g.transpose(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
        return g.reshape(lead + (c, hr, wr))

    return _record_permutation(input, apply, adjoint, "PixelUnshuffleBackward0", "PixelShuffleBackward0")


@op(methods=())
def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """channel_shuffle(input, groups) -> Tensor

    Interleave the channels of (N, C, *) from ``groups`` groups (ShuffleNet): channel g*(C/groups)+i goes to
    i*groups+g.

    >>> import tapegrad as tg
    >>> tg.nn.functional.channel_shuffle(tg.arange(4.0).reshape(1, 4, 1), 2).flatten()
    tensor([0., 2., 1., 3.])
    """
    op_name = "channel_shuffle"
    x = _tensor(op_name, input)
    g = _positive_int(op_name, "groups", groups)
    if x.ndim < 3:
        raise RuntimeError(f"{op_name}: expected an input of at least 3 dimensions, but got input of shape "
                           f"{tuple(x.shape)}")
    n, c, rest = x.shape[0], x.shape[1], tuple(x.shape[2:])
    if c % g:
        raise RuntimeError(f"{op_name}: number of channels must be divisible by groups, but got {c} channels and "
                           f"groups={g}")

    def shuffle(a, groups):
        return a.reshape((n, groups, c // groups) + rest).swapaxes(1, 2).reshape(a.shape)

    return _record_permutation(input, lambda a: shuffle(a, g), lambda h: shuffle(h, c // g),
                               "ChannelShuffleBackward0", "ChannelShuffleBackward0")


native_channel_shuffle = channel_shuffle


# ---------------------------------------------------------------------- interpolation
_INTERP_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_INTERP_NAMES = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear", "bilinear": "Bilinear",
                 "bicubic": "Bicubic", "trilinear": "Trilinear"}


def _cubic_weights(t, a=-0.75, fused=True):
    """bicubic's four weights at the fractions ``t`` (float32 or float64), rounded as PyTorch 2.13's
    get_cubic_upsample_coefficients (UpSample.h) is compiled in its CPU kernels: cubic_convolution2's first two
    multiply-adds are fused, its last and cubic_convolution1's are not (measured: every weight of 37 -> 7..200 rows
    agrees bit for bit); not ``fused``: as the backward's file (UpSampleBicubic2d.cpp, built without FMA) has them."""
    a = t.dtype.type(a)
    mad = _fma_scaled if fused else (lambda p, q, r: p * q + r)

    def near(x):
        return mad(a + 2, x, -(a + 3)) * x * x + 1

    def far(x):
        return mad(mad(a, x, -5 * a), x, 8 * a) * x - 4 * a

    u = 1 - t  # NOTE: the last weight is at (1 - t) + 1, rounded twice, as PyTorch's x2 + 1.0 (not 2 - t)
    return np.stack([far(t + 1), near(t), near(u), far(u + 1)], axis=-1)


_SPLIT = 134217729.0  # 2 ** 27 + 1: Veltkamp's splitting constant for float64


def _fma_scaled(p, q, r):
    """p * q + r rounded once, elementwise, in the dtype of ``q`` (float32 or float64; ``p`` and ``r`` numbers or
    arrays; bicubic's weights). float32: the product is exact in float64. float64: Dekker's exact product
    p * q = h + e, Knuth's exact sum h + r = s + f, then s + (e + f)."""
    if q.dtype == np.float32:
        return (np.float64(p) * q.astype(np.float64) + np.float64(r)).astype(np.float32)
    p = np.float64(p)
    h = p * q
    c = _SPLIT * p
    ph = c - (c - p)
    c = _SPLIT * q
    qh = c - (c - q)
    e = ((ph * qh - h) + ph * (q - qh) + (p - ph) * qh) + (p - ph) * (q - qh)
    s = h + r
    v = s - h
    return s + (e + ((h - (s - v)) + (r - v)))


def _fused_source_index(s, x):
    """``s * x - 0.5`` rounded once, as PyTorch's ``scale * (dst_index + 0.5) - 0.5``, which its compiler fuses
    into one multiply-add (measured on 2.13: float64 s = 0.2 at x = 2.5 gives 2.8e-17, not 0, so a weight that
    is exactly 0 here is tiny there and inf * weight is inf, not nan). ``s`` is a float32 or float64 scalar and
    ``x`` an array of the same dtype of dst + 0.5 (at most 27 significant bits).

    float32: the product of two float32 values is exact in float64, and so is the difference with 0.5 where
    s * x >= 0.25 (Sterbenz; above 1 both are multiples of the product's last bit): one rounding to float32.
    float64: _fma's exact product and sum (below 0.25 too, where the index is negative and bicubic's weights
    at t = index + 1 show every bit of it)."""
    if s.dtype == np.float32:
        return (np.float64(s) * x.astype(np.float64) - 0.5).astype(np.float32)
    return _fma(np.full_like(x, s), x, np.full_like(x, -0.5))


@functools.lru_cache(maxsize=256)
def _axis_taps(mode, n_in, n_out, scale, align_corners, dtype, shortcuts=True, fused=True):
    """The taps of one axis (see _axis_taps_of), computed once per geometry: read-only arrays."""
    taps = _axis_taps_of(mode, n_in, n_out, scale, align_corners, dtype, shortcuts, fused)
    for a in taps:
        a.flags.writeable = False
    return taps


def _axis_taps_of(mode, n_in, n_out, scale, align_corners, dtype, shortcuts=True, fused=True):
    """(indices (n_out, T), weights (n_out, T)) of one axis, with PyTorch's source coordinates. ``shortcuts``:
    'nearest' copies an axis whose size is kept and halves the index of one doubled whatever the scale factor
    (nearest_idx in aten/src/ATen/native/UpSample.h, which PyTorch 2.13's 2-d kernel uses; its 1-d and 3-d kernels,
    and 'nearest-exact' in every rank, apply the scale factor's formula to every size: measured on 2.13).
    ``fused``: the source index and bicubic's weights with the CPU kernels' fused multiply-adds (not: as the bicubic
    backward's file computes them)."""
    dst = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
        if mode == "nearest" and n_out == n_in and shortcuts:
            src = dst
        elif mode == "nearest" and n_out == 2 * n_in and shortcuts:
            src = dst >> 1
        else:
            shift = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
            src = np.floor((dst.astype(np.float32) + shift) * s).astype(np.int64)
        return np.minimum(src, n_in - 1)[:, None], np.ones((n_out, 1), dtype)
    acc = np.float64 if dtype == np.float64 else np.float32
    if align_corners:
        s = acc((n_in - 1) / (n_out - 1)) if n_out > 1 else acc(0)
        src = acc(s) * dst.astype(acc)
    else:
        s = acc(1.0 / scale) if scale is not None and scale > 0 else acc(n_in) / acc(n_out)
        x = dst.astype(acc) + acc(0.5)
        src = _fused_source_index(s, x) if fused else s * x - acc(0.5)
    if mode == "bicubic":
        i, t = _index_and_lambda(src, n_in, acc)
        idx = np.clip(i[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
        return idx, _cubic_weights(t, fused=fused).astype(dtype)
    if n_out == n_in:  # PyTorch's source index of an axis whose size is kept: both taps on the same element
        same = dst.astype(np.int64)
        return np.stack([same, same], axis=1), np.stack([np.ones(n_out), np.zeros(n_out)], axis=1).astype(dtype)
    i0, lam = _index_and_lambda(np.maximum(src, acc(0)), n_in, acc)
    i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
    lam = lam.astype(dtype)  # NOTE: PyTorch stores lambda1 in the dtype, then computes lambda0 = 1 - lambda1 from it
    return np.stack([i0, i1], axis=1), np.stack([(1 - lam.astype(acc)).astype(dtype), lam], axis=1)


def _index_and_lambda(src, n_in, acc):
    """PyTorch's guard_index_and_lambda: the index is the floor of ``src`` rounded to float32 first (its
    ``floorf``: a float64 0.9999999999999999 is index 1), at most n_in - 1, and the weight src - index is clipped
    to [0, 1] (0 there, not -1.1e-16)."""
    f = np.minimum(np.floor(src if acc is np.float32 else src.astype(np.float32)), n_in - 1)
    # (src < n_in - 0.5, so src - index < 1; it is < 0 only where floorf rounded up)
    return f.astype(np.int64), np.maximum(src - f.astype(acc), acc(0))


def _aa_filter(mode, x):
    """PyTorch's antialias filters: the triangle (bilinear) and Keys' cubic with a = -0.5 (bicubic)."""
    x = np.abs(x)
    if mode == "bilinear":
        return np.where(x < 1, 1 - x, 0).astype(x.dtype)
    a = x.dtype.type(-0.5)
    # PyTorch's compiler fuses the polynomials' multiply-adds, float64 too (a x is exact: a = -0.5)
    near = _fma(_fma(np.full_like(x, a + 2), x, np.full_like(x, -(a + 3))) * x, x, np.ones_like(x))
    far = _fma(_fma(a * x - 5 * a, x, np.full_like(x, 8 * a)), x, np.full_like(x, -4 * a))
    return np.where(x < 1, near, np.where(x < 2, far, 0)).astype(x.dtype)


def _aa_axis_taps(mode, n_in, n_out, scale, align_corners, dtype):
    """(indices, weights, valid) of one axis with antialias=True: PyTorch's _compute_indices_min_size_weights_aa
    (a filter stretched by the scale when downsampling, its weights normalized to sum to 1)."""
    acc = np.float64 if dtype == np.float64 else np.float32
    if align_corners:
        s = acc((n_in - 1) / (n_out - 1)) if n_out > 1 else acc(0)
    else:
        s = acc(1.0 / scale) if scale is not None and scale > 0 else acc(n_in) / acc(n_out)
    half = acc(1 if mode == "bilinear" else 2)
    support = half * s if s >= 1 else half
    invscale = acc(1) / s if s >= 1 else acc(1)
    width = int(math.ceil(support)) * 2 + 1
    center = s * (np.arange(n_out).astype(acc) + acc(0.5))
    # NOTE: PyTorch's `+ 0.5` is a double literal: float32's sums with it and the filter's argument (times invscale)
    # are double, rounded to float32 once (the window's ends are truncated from the double)
    xmin = np.maximum(((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    xsize = np.clip(np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), n_in) - xmin, 0,
                    width)
    j = np.arange(width)
    valid = j[None, :] < xsize[:, None]
    offset = ((j[None, :] + xmin[:, None]).astype(acc) - center[:, None]).astype(np.float64) + 0.5
    w = _aa_filter(mode, (offset * np.float64(invscale)).astype(acc))
    w = np.where(valid, w, acc(0))
    total = np.zeros((n_out, 1), acc)
    for k in range(width):  # NOTE: summed left to right, as PyTorch's loop (numpy's sum is pairwise)
        total += w[:, k:k + 1]
    w = np.where(total != 0, w / np.where(total != 0, total, acc(1)), w)
    idx = np.minimum(xmin[:, None] + j[None, :], n_in - 1)
    return idx, w.astype(dtype), valid


def _resample(a, taps, separable=False):
    """Apply the per-axis tap matrices to the trailing axes of a, the last axis first (PyTorch's kernels combine
    along the width first: with inf and NaN inputs the order decides where 0 * inf shows), summing each axis's taps
    as PyTorch's CPU kernels (aten/src/ATen/native/cpu/UpSampleKernel.cpp) with their compiler's fused multiply-adds
    (measured on 2.13):

    - linear, bilinear, trilinear and bicubic (``Interpolate``, nested one dim per level, the width innermost):
      ``t0 * w0 + t1 * w1`` is fma(x0, w0, x1 w1), the first product the one fused, and each further tap (bicubic's)
      one more fused multiply-add; every output of 1..4 -> 1..8 values per dim, float32 and float64, agrees bit for
      bit with values from 1e-3 to 1e30;
    - ``separable`` (antialias: ``output = t0 * w0``, then ``output += t * w`` per tap): the first product rounded,
      then one fused multiply-add per tap (float64's compiled loop fuses some steps and not others: a window of
      two taps is fused, one of three or more mostly a plain sum; not emulated).

    float32 (and float16, whose opmath is float32): the product of two float32 values is exact in float64, so a
    fused step is ``float32(float64(acc) + x * w)``, the float64 sum rounded to odd (ops/_fused.py). A product past
    float32's range that the sum brings back stays finite, as PyTorch's."""
    d = len(taps)
    dtype = a.dtype
    opmath = np.float32 if dtype == np.float16 else dtype
    if all(tap is None for tap in taps):
        return a.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for k in reversed(range(d)):
            if taps[k] is None:  # a dim antialias keeps: copied
                continue
            idx, w = taps[k][:2]
            valid = taps[k][2] if len(taps[k]) > 2 else None  # (antialias: taps past a window's end add nothing)
            ax = a.ndim - d + k
            shape = (-1,) + (1,) * (a.ndim - ax - 1)
            w = w.astype(opmath, copy=False)
            xs = [np.take(a, idx[:, t], axis=ax) for t in range(idx.shape[1])]
            ws = [w[:, t].reshape(shape) for t in range(idx.shape[1])]
            if separable or len(xs) == 1:
                out = (xs[0].astype(opmath, copy=False) * ws[0]).astype(opmath, copy=False)
            else:  # fma(x0, w0, x1 w1)
                out = _fma(xs[0], ws[0], (xs[1].astype(opmath, copy=False) * ws[1]).astype(opmath, copy=False))
            for t in range(1 if separable else 2, len(xs)):
                total = _fma(xs[t], ws[t], out)
                if valid is not None and not valid[:, t].all():
                    # a tap past a window's end is not added at all (PyTorch's loop stops at the window's size):
                    # adding its 0 would turn a -0.0 sum into +0.0 (its first tap is always taken, as PyTorch's,
                    # weight 0 there)
                    total = np.where(valid[:, t].reshape(shape), total, out)
                out = total
            a = out
    return a.astype(dtype, copy=False)


def _fma(x, w, c):
    """``x * w + c`` rounded once (a fused multiply-add) in float32 (x float16 or float32, w and c float32) or
    float64, elementwise. float32: the product of two float32 values is exact in float64. float64: ops/_fused.py's
    fma64 (rounded once at ties too: 5e-31 * -0.09375 + 2.97e-31 is 2.5000000000000006e-31, PyTorch's)."""
    if w.dtype == np.float32:
        return add_rounded_once(c, x.astype(np.float64) * w.astype(np.float64), np.float32)
    return fma64(np.asarray(x, np.float64), np.asarray(w, np.float64), np.asarray(c, np.float64))


def _bilinear_channels_last(a, taps):
    """bilinear interpolation as PyTorch's channels-last kernel (UpSampleKernel.cpp, cpu_upsample_linear_channels_last),
    which its CPU dispatch takes for every output whose height + width is at most 128 (_use_vectorized_kernel_cond_2d):
    each output is ``x00 w00 + x01 w01 + x10 w10 + x11 w11`` with the weights ``w_pq = hlambda_p * wlambda_q``
    rounded in the opmath type (float32 for float16), summed left to right with the compiler's fused multiply-adds
    (measured on 2.13: fma(x00, w00, x01 w01) first for float32/float64, fma(x01, w01, x00 w00) for float16, whose
    products are conversions), and rounded to the dtype once."""
    (ih, lh), (iw, lw) = taps[0][:2], taps[1][:2]
    terms = [(a[..., ih[:, p][:, None], iw[:, q][None, :]], lh[:, p][:, None] * lw[:, q][None, :])
             for p in range(2) for q in range(2)]
    (x0, w0), (x1, w1), (x2, w2), (x3, w3) = terms
    with np.errstate(over="ignore", invalid="ignore"):
        if a.dtype == np.float16:
            out = _fma(x1, w1, x0.astype(np.float32) * w0)
        else:
            out = _fma(x0, w0, x1 * w1)
        out = _fma(x3, w3, _fma(x2, w2, out))
    # (numpy lays a gather over the last two dims out channels-last; the result is a new contiguous tensor, as
    # PyTorch's of a contiguous input, so that ``view`` works on it)
    return out.astype(a.dtype, order="C", copy=False)


def _kernel_adjoint(g, taps, sizes, cubic=False):
    """The input's gradient of linear, bilinear, trilinear (and ``cubic``: bicubic) interpolation as PyTorch's
    backward kernels accumulate it (measured on 2.13): output by output in memory order, each adding its taps onto
    their input elements, one fused multiply-add each, in the opmath type:

    - linear modes (cpu_upsample_linear_backward in aten/src/ATen/native/cpu/UpSampleKernel.cpp): the 2 ** d taps
      with the first dim's first tap first, ``acc += d_lambda * h_lambda * w_lambda * g``, the weights multiplied
      left to right and the last product fused with the sum;
    - bicubic (upsample_bicubic2d_backward_out_frame in UpSampleBicubic2d.cpp, a file built without FMA): the
      width's taps outer, the height's inner, ``acc += g * y_coeff * x_coeff`` rounded step by step (its taps are
      unfused too: ``_axis_taps(..., fused=False)``).

    Vectorized in rounds: round r adds every input element's r-th contribution, so within a round no element is
    written twice."""
    d = len(taps)
    opmath = np.float32 if g.dtype == np.float16 else g.dtype
    out_sizes = g.shape[g.ndim - d:]
    lead = g.shape[:g.ndim - d]
    n_out, n_in = math.prod(out_sizes), math.prod(sizes)
    # (0, .., 0), (0, .., 1), ...: PyTorch's i000, i001, ...; bicubic's (jj, ii) with ii, the width's, outer
    corners = [(jj, ii) for ii in range(4) for jj in range(4)] if cubic else list(np.ndindex(*(2,) * d))
    targets, scales, weights = [], [], []
    for corner in corners:
        flat, factors = np.zeros((1,) * d, np.int64), []
        for k, (idx, lam) in enumerate(t[:2] for t in taps):
            shape = [1] * d
            shape[k] = -1
            flat = flat * sizes[k] + idx[:, corner[k]].reshape(shape)
            factors.append(lam[:, corner[k]].astype(opmath).reshape(shape))
        scale = factors.pop(0) if cubic else np.ones((1,) * d, opmath)  # g times it first (bicubic), rounded
        w = factors[0]
        for lam in factors[1:]:
            w = w * lam
        targets.append(np.broadcast_to(flat, out_sizes).reshape(-1))
        scales.append(np.broadcast_to(scale, out_sizes).reshape(-1))
        weights.append(np.broadcast_to(w, out_sizes).reshape(-1))
    target = np.stack(targets, axis=1).reshape(-1)  # contributions in PyTorch's order: output, then corner
    scale = np.stack(scales, axis=1).reshape(-1)
    weight = np.stack(weights, axis=1).reshape(-1)
    source = np.repeat(np.arange(n_out), len(corners))
    gs = g.reshape(-1, n_out).astype(opmath, copy=False)
    keep = (weight != 0) & (scale != 0)
    if np.isfinite(gs).all() and _no_product_underflows(weight[keep] * scale[keep], gs):
        # NOTE: a tap of weight 0 adds 0 * g = +-0.0, which changes nothing unless g is inf or NaN or the sum is -0.0
        # (it starts at +0.0, x + -x is +0.0: only a product that underflows to -0.0 makes one), so it is left out:
        # half of the rounds at the borders
        target, scale, weight, source = target[keep], scale[keep], weight[keep], source[keep]
    order = np.argsort(target, kind="stable")
    first = np.searchsorted(target[order], target[order], side="left")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - first  # the how-many-th contribution to its input element
    acc = np.zeros((gs.shape[0], n_in), opmath)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for r in range(int(rank.max()) + 1 if rank.size else 0):
            now = rank == r
            t = target[now]
            gr = gs[:, source[now]] * scale[now] if cubic else gs[:, source[now]]
            acc[:, t] = acc[:, t] + gr * weight[now] if cubic else _fma(gr, weight[now], acc[:, t])
    return acc.reshape(lead + tuple(sizes)).astype(g.dtype, copy=False)


def _no_product_underflows(w, g):
    """Whether no product of a nonzero weight and a nonzero gradient rounds to zero (so none can be -0.0)."""
    g = np.abs(g[g != 0])
    if not w.size or not g.size:
        return True
    return float(np.abs(w).min()) * float(g.min()) >= float(np.finfo(w.dtype).smallest_subnormal)


def _resample_adjoint(g, taps, sizes):
    d = len(taps)
    for k in range(d):  # the forward's order, reversed
        if taps[k] is None:
            continue
        idx, w = taps[k][:2]
        # NOTE: antialias: the taps past a window's end add nothing (PyTorch's backward kernel loops over the
        # window only), so an inf or NaN gradient reaches no input through them (their weight is 0: not 0 * inf)
        valid = taps[k][2] if len(taps[k]) > 2 else None
        ax = g.ndim - d + k
        moved = np.moveaxis(g, ax, 0)
        acc = np.zeros((sizes[k],) + moved.shape[1:], g.dtype)
        extra = (1,) * (moved.ndim - 1)
        for t in range(idx.shape[1]):
            term = moved * w[:, t].reshape((-1,) + extra)
            if valid is not None and not valid[:, t].all():
                term = np.where(valid[:, t].reshape((-1,) + extra), term, 0).astype(term.dtype)
            np.add.at(acc, idx[:, t], term)
        g = np.moveaxis(acc, 0, ax)
    return g


@op(methods=())
def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """interpolate(input, size=None, scale_factor=None, mode='nearest', align_corners=None,
    recompute_scale_factor=None, antialias=False) -> Tensor

    Resample the spatial dims of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to ``size`` or by
    ``scale_factor``. Modes: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' and 'bicubic' (4-D),
    'trilinear' (5-D) and 'area' (adaptive average pooling), with PyTorch's source coordinates.

    >>> import tapegrad as tg
    >>> tg.nn.functional.interpolate(tg.tensor([[[1.0, 3.0]]]), scale_factor=2, mode="linear")
    tensor([[[1.0000, 1.5000, 2.5000, 3.0000]]])
    """
    op_name = "interpolate"
    x = _tensor(op_name, input)
    d = x.ndim - 2
    if d not in (1, 2, 3):
        raise NotImplementedError(f"{op_name}: input of shape {tuple(x.shape)}: only 3D, 4D and 5D input tensors "
                                  "are supported (N, C and one to three spatial dims)")
    modes = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
    if mode not in modes:
        raise NotImplementedError(f"{op_name}: mode must be one of {', '.join(modes)}, but got {mode!r}")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: linear | "
                             "bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"{op_name}: anti-alias option is restricted to bilinear and bicubic modes and requires a "
                         "4-D tensor as input")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = [None] * d
    if size is not None:
        requested = list(size) if isinstance(size, (tuple, list)) else [size] * d
        if len(requested) != d:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(x.shape[2:])} and output size of {list(requested)}. Please "
                             "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                             "...,oK) format.")
        out = [int(s) for s in requested]
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    else:
        factors = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * d
        if len(factors) != d:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(x.shape[2:])} and scale_factor of shape "
                             f"{list(factors)}.")
        factors = [float(f) for f in factors]
        out = [math.floor(float(n) * f) for n, f in zip(x.shape[2:], factors, strict=True)]
        scales = [None] * d if recompute_scale_factor else factors
    if mode == "area":  # PyTorch's adaptive pools decide about empty inputs and outputs
        from ..ops.conv import adaptive_avg_pool2d

        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[d - 1]
        return pool(input, tuple(out))
    if min(out) <= 0 or 0 in x.shape[2:]:
        raise RuntimeError(f"{op_name}: input and output sizes should be greater than 0, but got input "
                           f"{tuple(x.shape[2:])} and output {tuple(out)}")
    if x.shape[1] == 0:  # PyTorch's upsample kernels take an empty batch but not an empty channel dim
        raise RuntimeError(f"{op_name}: non-empty {d + 2}D data tensor expected but got a tensor with sizes "
                           f"{list(x.shape)}")
    need = _INTERP_DIMS.get(mode)
    if need is not None and need != d:
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs {need + 2}D input")
    # PyTorch's nearest kernels take uint8 (AT_DISPATCH_FLOATING_TYPES_AND3(kByte, ...) in UpSampleKernel.cpp)
    if x.dtype.kind != "f" and not (x.dtype == np.uint8 and mode in ("nearest", "nearest-exact")):
        raise NotImplementedError(f"{op_name}: mode {mode!r} is not implemented for {x.dtype} tensors; use a "
                                  "floating-point input" + (" (or uint8 with mode 'nearest')"
                                                            if mode != "nearest" else ""))
    sizes = tuple(x.shape[2:])
    # NOTE: PyTorch's antialias kernel resamples only the dims whose size changes (UpSampleKernel.cpp,
    # separable_upsample_generic_Nd_kernel_impl): a kept dim is copied, its weights never computed (no 0 * inf from
    # a zero weight), and float16, whose weights have no kernel, fails only where some dim is resized
    resized = [n != o for n, o in zip(sizes, out, strict=True)] if antialias else [True] * d
    if antialias and x.dtype == np.float16 and any(resized):  # PyTorch's antialias weights have no float16 kernel
        raise NotImplementedError(f"{op_name}: \"compute_index_ranges_weights\" not implemented for 'Half' "
                                  f"(antialias=True, mode {mode!r}, of a float16 tensor resized from "
                                  f"{sizes} to {tuple(out)})")
    axis_taps = _aa_axis_taps if antialias else _axis_taps
    direct = {} if mode != "nearest" or d == 2 else {"shortcuts": False}  # (see _axis_taps_of)
    taps = [axis_taps(mode, n, o, s, align_corners, x.dtype, **direct) if r else None
            for n, o, s, r in zip(sizes, out, scales, resized, strict=True)]
    name = f"Upsample{_INTERP_NAMES[mode]}{d}D" + ("Aa" if antialias else "")

    def apply(a):
        return _resample(a, taps, separable=antialias)

    kernel = mode in ("linear", "bilinear", "trilinear", "bicubic") and not antialias
    # float16's weights in float32, its opmath type, where PyTorch keeps them there: the backward's and the small
    # outputs' kernel (the nested forward kernel stores them in float16); bicubic's backward computes its own
    wide = taps
    if kernel and (x.dtype == np.float16 or mode == "bicubic"):
        opmath = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
        wide = [_axis_taps(mode, n, o, s, align_corners, opmath, fused=mode != "bicubic") for n, o, s in
                zip(sizes, out, scales, strict=True)]
    if mode == "bilinear" and not antialias and out[0] + out[1] <= 128:
        # NOTE: PyTorch's kernel for small outputs sums in another order

        def apply(a):  # noqa: F811 - the small outputs' kernel
            return _bilinear_channels_last(a, wide)

    def adjoint(g):
        if kernel:
            return _kernel_adjoint(g, wide, sizes, cubic=mode == "bicubic")
        return _resample_adjoint(g, taps, sizes)

    def upsample_rule(xp, g, out, x):
        if antialias and g.dtype == np.float16:  # (only a float16 input no antialias dim resizes gets here)
            raise NotImplementedError(f"{op_name}: \"upsample_{mode}{d}d_aa_backward_cpu\" not implemented for "
                                      "'Half' (the backward of antialias=True of a float16 tensor), as PyTorch")
        return xp.linear(adjoint, apply, g, name + "BackwardBackward0")

    return record(apply(x), (input,), upsample_rule, name + "Backward0")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """upsample(input, size=None, scale_factor=None, mode='nearest', align_corners=None): deprecated, as in
    PyTorch; use ``interpolate``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.upsample(tg.ones(1, 1, 2), scale_factor=2).shape  # doctest: +SKIP
    tapegrad.Size([1, 1, 4])
    """
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """upsample_nearest(input, size=None, scale_factor=None): deprecated; ``interpolate(..., mode='nearest')``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.upsample_nearest(tg.ones(1, 1, 2), scale_factor=2).shape  # doctest: +SKIP
    tapegrad.Size([1, 1, 4])
    """
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """upsample_bilinear(input, size=None, scale_factor=None): deprecated; ``interpolate(..., mode='bilinear',
    align_corners=True)``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.upsample_bilinear(tg.ones(1, 1, 2, 2), scale_factor=2).shape  # doctest: +SKIP
    tapegrad.Size([1, 1, 4, 4])
    """
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------- normalization
@op(methods=())
def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
    momentum=0.1, eps=1e-05) -> Tensor

    Normalize each channel of each sample of an (N, C, *) input over its spatial dims (biased variance), then scale
    and shift per channel. With running statistics and ``use_input_stats``, they are updated with the mean over
    the batch of the per-sample statistics; without ``use_input_stats`` they are used instead.

    >>> import tapegrad as tg
    >>> tg.nn.functional.instance_norm(tg.tensor([[[1.0, 3.0]]]))
    tensor([[[-1.0000,  1.0000]]])
    """
    from . import functional as F

    op_name = "instance_norm"
    x = _tensor(op_name, input)
    if use_input_stats and math.prod(x.shape[2:]) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(x.shape)}")
    if x.ndim < 2:  # (PyTorch: an (N, C) input is fine with the running statistics)
        raise IndexError(f"{op_name}: expected an input of at least 2 dimensions (N, C, *), but got input of shape "
                         f"{tuple(x.shape)}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError(f"{op_name}: expected running_mean and running_var to be defined when use_input_stats "
                           "is false")
    # as PyTorch (Normalization.cpp): batch_norm of the (1, N * C, *) fold with the per-channel tensors repeated
    # N times, copies (so a later write into weight or bias leaves this backward alone, as there)
    n, c = x.shape[:2]
    folded = input.reshape((1, n * c) + tuple(x.shape[2:]))
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    out = F.batch_norm(folded, rm, rv, w, b, use_input_stats, momentum, eps)
    if use_input_stats:
        with no_grad():  # (rm and rv are None only when running_mean and running_var are)
            if running_mean is not None:
                running_mean.copy_(rm.reshape(n, c).mean(0))  # type: ignore[union-attr]
            if running_var is not None:
                running_var.copy_(rv.reshape(n, c).mean(0))  # type: ignore[union-attr]
    return out.reshape(tuple(x.shape))


@op(methods=())
def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """rms_norm(input, normalized_shape, weight=None, eps=None) -> Tensor

    x / sqrt(mean(x**2 over the trailing ``normalized_shape`` dims) + eps) * weight; ``eps`` defaults to the
    machine epsilon of the input's dtype (``torch.finfo(input.dtype).eps``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.rms_norm(tg.tensor([[3.0, 4.0]]), (2,))
    tensor([[0.8485, 1.1314]])
    """
    op_name = "rms_norm"
    x = _tensor(op_name, input)
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise RuntimeError(f"{op_name}: given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size {list(x.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"{op_name}: expected weight to be of shape {list(shape)}, but got weight of shape "
                           f"{list(weight.shape)}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op_name}: expected a floating-point input, but got {x.dtype}")
    if eps is None:
        eps = float(dtypes.finfo(x.dtype).eps)
    dims = tuple(range(x.ndim - k, x.ndim))
    out = input * (input.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


@op(methods=())
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0) -> Tensor

    Normalize each element by its neighbours across channels: x / (k + alpha * mean of x**2 over ``size``
    channels around it) ** beta (AlexNet's LRN), for an (N, C, *) input.

    >>> import tapegrad as tg
    >>> tg.nn.functional.local_response_norm(tg.ones(1, 2, 1), 2, alpha=1.0, beta=1.0)
    tensor([[[0.6667],
             [0.5000]]])
    """
    from ..ops.conv import avg_pool2d
    from . import functional as F

    x = _tensor("local_response_norm", input)
    dim = x.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if x.size == 0:
        return input
    div = input.mul(input)
    if dim == 3:
        div = div.unsqueeze(1)
        div = F.pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = tuple(x.shape)
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = F.pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.reshape(sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div


# ---------------------------------------------------------------------- bags of embeddings
@op(methods=())
def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
    mode='mean', sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None) -> Tensor

    The sum, mean or max of bags of embeddings without materialising the (bag, position, dim) array: ``input`` is
    (B, L) (B bags of L indices) or 1-D with ``offsets`` giving where each bag starts. ``per_sample_weights``
    (mode 'sum' only) scales each row; entries equal to ``padding_idx`` are left out. Empty bags give zeros.

    >>> import tapegrad as tg
    >>> w = tg.arange(6.0).reshape(3, 2)
    >>> tg.nn.functional.embedding_bag(tg.tensor([0, 2, 1]), w, tg.tensor([0, 2]), mode="sum")
    tensor([[4., 6.],
            [2., 3.]])
    """
    from . import functional as F

    op_name = "embedding_bag"
    ids, wt = _tensor(op_name, input), _tensor(op_name, weight)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: expected input of an integer dtype (Long or Int), but got {ids.dtype}")
    if wt.ndim != 2:
        raise ValueError(f"{op_name}: weight has to be a 2D Tensor, but got Tensor of dimension {wt.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op_name}: mode has to be one of sum, mean or max, but got {mode!r}")
    if sparse:
        raise NotImplementedError(f"{op_name}: sparse gradients are not supported by tapegrad (sparse=True)")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      "on GitHub.")
        if tuple(per_sample_weights.shape) != tuple(ids.shape):
            raise ValueError(f"{op_name}: embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) is "
                             f"not None, then it must have the same shape as the input ({tuple(ids.shape)})")
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op_name}: if input is 2D, then offsets has to be None, as input is treated is a "
                             "mini-batch of fixed length sequences. However, found offsets of type Tensor")
        b, length = ids.shape
        if length == 0:  # PyTorch's offsets are arange(0, numel, size(1)): a zero step
            raise RuntimeError(f"{op_name}: a 2-D input needs at least one index per bag (step must be nonzero), but "
                               f"got input of shape {tuple(ids.shape)}")
        starts = np.arange(b) * length
        flat = ids.reshape(-1)
        psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    elif ids.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op_name}: offsets has to be a 1D Tensor but got None")
        off = _tensor(op_name, offsets)
        if off.ndim != 1:
            raise ValueError(f"{op_name}: offsets has to be a 1D Tensor, but got Tensor of dimension {off.ndim}")
        starts = off.astype(np.int64)
        if include_last_offset:
            if starts.size < 1:
                raise RuntimeError(f"{op_name}: include_last_offset: number of offsets should be at least 1")
            starts = starts[:-1]
        if starts.size and starts[0] != 0:
            raise RuntimeError(f"{op_name}: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to "
                               f"start from position 0. However, got {int(starts[0])}")
        if starts.size and (np.any(np.diff(starts) < 0) or starts[-1] > ids.size):
            raise RuntimeError(f"{op_name}: offsets must be non-decreasing and at most the input's length "
                               f"{ids.size}, but got {off.tolist()}")
        flat, psw, b = ids, per_sample_weights, starts.size
    else:
        raise ValueError(f"{op_name}: input has to be 1D or 2D Tensor, but got Tensor of dimension {ids.ndim}")
    n = flat.size
    num = wt.shape[0]
    if n and (flat.min() < 0 or flat.max() >= num):
        raise IndexError(f"{op_name}: index out of range in self (indices must be in [0, {num}), got "
                         f"{int(flat.min()) if flat.min() < 0 else int(flat.max())})")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError(f"{op_name}: padding_idx must be within the number of embeddings ({num}), got "
                                 f"{padding_idx}")
        padding_idx %= num
    bag = np.zeros(n, np.int64)
    if n and b:
        bag = np.searchsorted(starts, np.arange(n), side="right") - 1
    keep = np.ones(n, bool) if padding_idx is None else flat != padding_idx
    keep &= bag >= 0
    if not b:  # no bag (a single offset with include_last_offset, or none): the indices belong to none
        keep[:] = False
    rows = F.embedding(input.reshape(-1), weight, None, max_norm, norm_type, scale_grad_by_freq)
    dt = wt.dtype
    d = wt.shape[1]
    if mode in ("sum", "mean"):
        # NOTE: each bag adds its rows in order into zeros (index_add, as PyTorch's kernel), not a 0/1 matrix
        # product: an inf row must not make the other bags nan (0 * inf)
        members = np.nonzero(keep)[0]
        picked = rows.index_select(0, wrap(members))
        if psw is not None:  # only the kept rows are weighted: a padding row's inf gives its weight a 0 gradient
            picked = picked * psw.reshape(-1).index_select(0, wrap(members)).reshape(-1, 1)
        if mode == "mean":  # each row scaled by 1 / its bag's size first (the result itself is saved by no node)
            counts = np.bincount(bag[keep], minlength=b) if b else np.zeros(0, np.int64)
            picked = picked * wrap((1 / np.maximum(counts, 1)[bag[members]])[:, None].astype(dt))
        return named(weight.new_zeros((b, d)).index_add(0, wrap(bag[members]), picked), _BAG_NODE)
    # max: PyTorch's running maximum: the first row of the bag, then each later row that is strictly greater (a
    # NaN after the first row is skipped; a NaN first stays)
    if not keep.any():  # every bag empty: zeros (still linked to the weight, with a zero gradient)
        return named(weight.new_zeros((b, d)).index_add(0, wrap(np.zeros(0, np.int64)), rows[:0]), _BAG_NODE)
    values = rows.detach().numpy()
    pick = np.zeros((b, d), np.int64)
    filled = np.zeros(b, bool)
    for i in range(b):
        members = np.nonzero(keep & (bag == i))[0]
        if members.size:
            filled[i] = True
            best, at = values[members[0]].copy(), np.full(d, members[0], np.int64)
            for m in members[1:]:
                better = values[m] > best
                best, at = np.where(better, values[m], best), np.where(better, m, at)
            pick[i] = at
    out = rows.gather(0, wrap(pick))
    if not filled.all():  # empty bags are +0.0 (selected, not multiplied: -0.0 and inf stay out)
        out = E.where(wrap(np.broadcast_to(filled[:, None], (b, d)).copy()), out, wrap(np.zeros((), dt)))
    return named(out, _BAG_NODE)


_BAG_NODE = "EmbeddingBagBackward0"  # PyTorch's one node of _embedding_bag; here the composition's last
