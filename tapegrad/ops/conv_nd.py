"""Convolutions of any number of spatial dims: conv1d, conv3d, the transposed convolutions, unfold and fold.

One geometry serves every rank: an input (N, C, *S) is zero-padded and unfolded into columns
(N, G, C/G * prod(K), prod(O)) with one strided copy per kernel offset (im2col); the output is one batched
matrix product per group. The input gradient is the adjoint, W^T @ g folded back with one strided add per kernel
offset (col2im); the weight gradient is g @ columns^T summed over the batch.

The three maps form one bilinear family, <conv(x, w), g> = <x, dx(g, w)> = <w, dw(x, g)>; each is declared with
``@backward_op`` and a rule made of the other two, so ``create_graph=True`` differentiates them to any order. A
transposed convolution is the input-gradient map itself (PyTorch's definition), recorded as ``ConvolutionBackward0``.
``conv2d`` keeps its own tuned kernel in ``ops/conv.py``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _cpu, _threads, memory_formats
from ..autograd.declare import Tensor, backward_op, expected_tensor, named, op, record, wrap
from .conv import TORCH_INT_NAMES

__all__ = ["conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc"]


def _onednn_dtype(dtype):
    """Whether PyTorch's CPU convolutions of this dtype run oneDNN's kernels (float32, bfloat16; float16 where the
    CPU lets oneDNN take it), whose results keep a channels-last input's layout in 3-d too."""
    return dtype.name in ("float32", "bfloat16") or (dtype == np.float16 and _cpu.onednn_takes_float16())


# ---------------------------------------------------------------------- arguments
def _tuple(op_name, name, value, d):
    """An int or a sequence of 1 or ``d`` ints, as a d-tuple (PyTorch's ``_single``/``_pair``/``_triple``)."""
    if isinstance(value, Tensor):
        value = value.tolist()
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for v in items:
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{op_name}: {name} must be an int or a tuple of {d} ints, but got {name}={value!r}")
    if len(items) == 1:
        items = items * d
    if len(items) != d:
        raise RuntimeError(f"{op_name}: expected {name} to be a single integer value or a list of {d} values to "
                           f"match the convolution dimensions, but got {name}={value!r}")
    return tuple(int(v) for v in items)


def _array(op_name, t, what="input"):
    if not isinstance(t, Tensor):
        raise expected_tensor(op_name, t)
    return t._data


class _Geometry:
    """An N-d convolution of an input (N, C, *S) with a weight (O, C/G, *K): stride, dilation, per-dim padding
    (lo, hi) and groups; ``out`` is the output's spatial size."""

    __slots__ = ("N", "C", "S", "O", "K", "G", "stride", "dil", "pads", "out", "d")

    def __init__(self, xshape, wshape, stride, pads, dilation, groups, out=None):
        self.N, self.C, self.S = xshape[0], xshape[1], tuple(xshape[2:])
        self.O, self.K = wshape[0], tuple(wshape[2:])
        self.G, self.stride, self.dil, self.pads, self.d = groups, stride, dilation, pads, len(self.S)
        self.out = tuple((s + lo + hi - dl * (k - 1) - 1) // st + 1
                         for s, (lo, hi), dl, k, st in zip(self.S, pads, dilation, self.K, stride, strict=True))
        if out is not None:  # a transposed convolution's input: output_padding leaves the last positions unread
            self.out = tuple(out)

    def __eq__(self, other):
        return isinstance(other, _Geometry) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __hash__(self):
        return hash(tuple(getattr(self, a) for a in self.__slots__))

    def windows(self):
        """(kernel offset, the slices of the padded input it multiplies), for every kernel offset."""
        for k in np.ndindex(*self.K):
            yield k, tuple(slice(ki * dl, ki * dl + st * (o - 1) + 1, st)
                           for ki, dl, st, o in zip(k, self.dil, self.stride, self.out, strict=True))

    @property
    def rows(self):
        return self.C // self.G * math.prod(self.K)


def _im2col(x, geo):
    """x (N, C, *S) -> columns (N, G, C/G*prod(K), prod(out)), rows ordered (channel, kernel offset)."""
    if any(lo or hi for lo, hi in geo.pads):
        xp = np.zeros((geo.N, geo.C) + tuple(s + lo + hi for s, (lo, hi) in zip(geo.S, geo.pads, strict=True)),
                      x.dtype)
        xp[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(geo.S, geo.pads,
                                                                                      strict=True))] = x
    else:
        xp = x
    cols = np.empty((geo.N, geo.C) + geo.K + geo.out, x.dtype)
    lead = (slice(None), slice(None))
    for k, sl in geo.windows():
        cols[lead + k] = xp[lead + sl]
    return cols.reshape(geo.N, geo.G, geo.rows, math.prod(geo.out))


def _col2im(cols, geo):
    """The adjoint of _im2col: columns -> (N, C, *S), overlapping windows summed, padding cropped."""
    cols = cols.reshape((geo.N, geo.C) + geo.K + geo.out)
    full = tuple(s + lo + hi for s, (lo, hi) in zip(geo.S, geo.pads, strict=True))
    buf = np.zeros((geo.N, geo.C) + full, cols.dtype)
    lead = (slice(None), slice(None))
    for k, sl in geo.windows():
        view = buf[lead + sl]
        np.add(view, cols[lead + k], out=view)
    return np.ascontiguousarray(buf[lead + tuple(slice(lo, lo + s) for s, (lo, _) in zip(geo.S, geo.pads,
                                                                                        strict=True))])


def _grouped_weight(w, geo):
    return w.reshape(geo.G, geo.O // geo.G, geo.rows)


def _grouped_grad(g, geo):
    return g.reshape(geo.N, geo.G, geo.O // geo.G, math.prod(geo.out))


def _conv_rule(xp, need, h, out, x, w, *, geo):
    return (xp.convolution_nd_input_grad(h, w, geo=geo) if need[0] else None,
            xp.convolution_nd_weight_grad(x, h, geo=geo) if need[1] else None)


@backward_op(grad=_conv_rule, name="ConvolutionBackward0")
def convolution_nd(x, w, *, geo):
    """conv(x, w) of the geometry ``geo``, no bias: (N, C, *S) and (O, C/G, *K) -> (N, O, *out)."""
    out = np.matmul(_grouped_weight(w, geo), _im2col(x, geo))
    return out.reshape((geo.N, geo.O) + geo.out)


def _input_grad_rule(xp, need, h, out, g, w, *, geo):
    return (xp.convolution_nd(h, w, geo=geo) if need[0] else None,
            xp.convolution_nd_weight_grad(h, g, geo=geo) if need[1] else None)


@backward_op(grad=_input_grad_rule, name="ConvolutionBackwardBackward0")
def convolution_nd_input_grad(g, w, *, geo):
    """dx(g, w): the input gradient of a convolution, (N, O, *out) -> (N, C, *S) (a transposed convolution)."""
    cols = np.matmul(_grouped_weight(w, geo).transpose(0, 2, 1), _grouped_grad(g, geo))
    return _col2im(cols, geo)


def _weight_grad_rule(xp, need, h, out, x, g, *, geo):
    return (xp.convolution_nd_input_grad(g, h, geo=geo) if need[0] else None,
            xp.convolution_nd(x, h, geo=geo) if need[1] else None)


@backward_op(grad=_weight_grad_rule, name="ConvolutionBackwardBackward0")
def convolution_nd_weight_grad(x, g, *, geo):
    """dw(x, g): the weight gradient of a convolution, (O, C/G, *K): one matrix product per image, added up image
    after image, as PyTorch's native kernels accumulate them (a gemm with beta = 1 per image): where products of
    huge values overflow a sum over the whole batch, the per-image partial sums may not (-1.9e38 + -1.1e38)."""
    cols = _im2col(x, geo)  # (N, G, R, P)
    gg = _grouped_grad(g, geo)  # (N, G, O/G, P)
    per_image = np.matmul(gg, cols.transpose(0, 1, 3, 2))  # (N, G, O/G, R)
    return np.add.reduce(per_image, axis=0).reshape((geo.O, geo.C // geo.G) + geo.K)


# ---------------------------------------------------------------------- checks
def _check(op_name, x, w, b, d, stride, dilation, groups, transposed=False):
    if x.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{op_name}: expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) input, but got input "
                           f"of shape {tuple(x.shape)}")
    if w.ndim != d + 2:
        layout = "(in_channels, out_channels/groups, *kernel)" if transposed else \
            "(out_channels, in_channels/groups, *kernel)"
        raise RuntimeError(f"{op_name}: expected a {d + 2}-D weight {layout}, but got weight of shape "
                           f"{tuple(w.shape)}")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise RuntimeError(f"{op_name}: input dtype {x.dtype}, weight dtype {w.dtype}"
                           + (f" and bias dtype {b.dtype}" if b is not None else "")
                           + " must be the same; cast with .float() or .double()")
    # PyTorch's CPU kernels: convolutions of every integer dtype (wrapping as integers do), transposed ones of
    # int64 only, never of bool
    if x.dtype.kind not in ("fiu" if not transposed else "f") and not (transposed and x.dtype == np.int64) and not (
            x.shape[-d - 1] == 0 or x.ndim == d + 2 and x.shape[0] == 0):  # (an empty batch skips it, as PyTorch)
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors, as in PyTorch; cast the input "
                                  "and weight with .float()")
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"{op_name}: groups must be an int, but got groups={groups!r}")
    if groups <= 0:
        raise RuntimeError(f"{op_name}: non-positive groups is not supported, got groups={groups}")
    if min(stride) <= 0:
        raise RuntimeError(f"{op_name}: non-positive stride is not supported, got stride={stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op_name}: dilation should be greater than zero, but got dilation={dilation}")
    if 0 in w.shape[2:]:
        raise RuntimeError(f"{op_name}: kernel size should be greater than zero, but got weight of shape "
                           f"{tuple(w.shape)}")
    channels = x.shape[-d - 1]
    if transposed:
        if channels != w.shape[0]:
            raise RuntimeError(f"{op_name}: given transposed=1, weight of size {tuple(w.shape)}, expected input "
                               f"of shape {tuple(x.shape)} to have {w.shape[0]} channels, but got {channels} "
                               "channels instead")
        if w.shape[0] % groups:
            raise RuntimeError(f"{op_name}: given groups={groups}, expected weight to be divisible by {groups} at "
                               f"dimension 0, but got weight of shape {tuple(w.shape)}")
        out_channels = w.shape[1] * groups
    else:
        if w.shape[0] < groups or w.shape[0] % groups:
            raise RuntimeError(f"{op_name}: given groups={groups}, expected weight to be divisible by {groups} at "
                               f"dimension 0, but got weight of shape {tuple(w.shape)}")
        if channels != w.shape[1] * groups:
            raise RuntimeError(f"{op_name}: given groups={groups} and weight of shape {tuple(w.shape)}, expected "
                               f"input of shape {tuple(x.shape)} to have {w.shape[1] * groups} channels, but got "
                               f"{channels} channels instead")
        out_channels = w.shape[0]
    if b is not None and b.shape != (out_channels,):
        raise RuntimeError(f"{op_name}: given weight of shape {tuple(w.shape)}, expected bias to be 1-D with "
                           f"{out_channels} elements, but got bias of shape {tuple(b.shape)}")


def _padding(op_name, padding, d, kernel, dilation, stride):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding != "same":
            raise RuntimeError(f"{op_name}: invalid padding string {padding!r} (expected 'same', 'valid', an int "
                               f"or a tuple of {d} ints)")
        if any(s != 1 for s in stride):
            raise RuntimeError(f"{op_name}: padding='same' is not supported for strided convolutions "
                               f"(stride={stride})")
        total = [dl * (k - 1) for dl, k in zip(dilation, kernel, strict=True)]
        return tuple((t // 2, t - t // 2) for t in total)
    pads = _tuple(op_name, "padding", padding, d)
    if min(pads) < 0:
        raise RuntimeError(f"{op_name}: negative padding is not supported, got padding={pads}")
    return tuple((p, p) for p in pads)


def _bias_axes(d):
    return (0,) + tuple(range(2, d + 2))


# ---------------------------------------------------------------------- convolution
def _convnd(op_name, d, input, weight, bias, stride, padding, dilation, groups):
    x, w = _array(op_name, input), _array(op_name, weight)
    b = _array(op_name, bias) if bias is not None else None
    stride, dilation = _tuple(op_name, "stride", stride, d), _tuple(op_name, "dilation", dilation, d)
    _check(op_name, x, w, b, d, stride, dilation, groups)
    pads = _padding(op_name, padding, d, w.shape[2:], dilation, stride)
    if x.ndim == d + 1:  # unbatched: the batch of one, squeezed (as PyTorch)
        return _convnd(op_name, d, input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if padding == "same":
        from .conv import same_prepad

        input, pads = same_prepad(input, pads)
        x = input._data
    geo = _Geometry(x.shape, w.shape, stride, pads, dilation, groups)
    if min(geo.out) <= 0:
        full = tuple(s + lo + hi for s, (lo, hi) in zip(geo.S, pads, strict=True))
        kern = tuple(dl * (k - 1) + 1 for dl, k in zip(dilation, geo.K, strict=True))
        raise RuntimeError(f"{op_name}: the padded input of size {full} per channel (input shape {tuple(x.shape)}) "
                           f"is smaller than the dilated kernel of size {kern} (weight shape {tuple(w.shape)}); "
                           "the kernel can't be greater than the input")
    if x.dtype.kind in "iu" and x.dtype != np.int64 and max(dilation) > 1 and x.size:
        from .conv import dilated_int_error

        raise dilated_int_error(op_name, x, dilation)
    if geo.C == 0:  # as PyTorch 2.13 (and conv2d here): no input channels give no output channels either
        return record(np.zeros((geo.N, 0) + geo.out, x.dtype), (input, weight) if bias is None else
                      (input, weight, bias), _empty_rule, "ConvolutionBackward0")
    out = convolution_nd(x, w, geo=geo)
    axes = _bias_axes(d)
    if b is not None:
        out += b.reshape((-1,) + (1,) * d)
    if d == 3 and out.dtype.kind == "f" and np.count_nonzero(out) != out.size:
        _conv3d_zero_signs(out, x, w, b, geo)
    elif d == 1 and (b is not None and not b.all() or geo.C == geo.G and geo.K[0] == 1):
        _conv1d_zero_signs(out, x, w, b, geo)

    has_bias = bias is not None

    def convolution_rule(xp, need, h, out, x, w, *b):
        gx = xp.convolution_nd_input_grad(h, w, geo=geo) if need[0] else None
        gw = xp.convolution_nd_weight_grad(x, h, geo=geo) if need[1] else None
        if not has_bias:  # NOTE: b itself is never read (PyTorch does not save the bias: a later write is fine)
            return gx, gw
        return gx, gw, (h.sum(axis=axes) if need[2] else None)

    inputs = (input, weight) if bias is None else (input, weight, bias)
    if out.ndim == 4 or _onednn_dtype(out.dtype):  # (3-d: only oneDNN's kernels write channels_last_3d)
        out = memory_formats.follow_channels_last(out, input._data, weight._data)
    return record(out, inputs, convolution_rule, "ConvolutionBackward0")


def _conv1d_zero_signs(out, x, w, b, geo):
    """Give the zeros of a conv1d's ``out`` PyTorch's signs (in place): PyTorch runs conv1d as the conv2d of the
    (N, C, 1, L) view (the same kernels, bit for bit, signs of zero included: measured on PyTorch 2.13), so they
    are conv2d's (ops/conv.py: one product per output by a 1-wide kernel, sums that start from a -0.0 bias)."""
    from . import conv as conv2d_ops

    geo2 = conv2d_ops._ConvGeometry(x.shape[:2] + (1,) + x.shape[2:], w.shape[:2] + (1,) + w.shape[2:],
                                    (1,) + geo.stride, (0, 0) + tuple(geo.pads[0]), (1,) + geo.dil, geo.G)
    conv2d_ops._zero_signs(out[:, :, None], x[:, :, None], w[:, :, None], b, geo2)


def _conv3d_zero_signs(out, x, w, b, geo):
    """Give the zeros of a conv3d's ``out`` PyTorch's signs (in place), where its native kernel computes it: no
    dilation; float64 always, float32 for one image in one group (of at most 20480 input values; its other
    float32 convolutions are oneDNN's, left as numpy sums them). Measured on PyTorch 2.13 (CPU).

    That kernel copies the bias into the output and adds the products over the zero-padded input to it, so a
    zero there is -0.0 where the bias and every product (the padding's +0.0 times the weight too) are -0.0; one
    output pixel of one group sums the products from +0.0 first (but float32's single product by a 1x1x1
    kernel over one channel is added to the bias itself), and so do float32's sums of several products into
    2 or more output channels. Without a bias, one product per output (a 1x1x1
    kernel over one channel, one group) keeps its sign where 2 or more output pixels and channels make its
    gemm a matrix product; other sums start from +0.0."""
    one_term = geo.C == geo.G and all(k == 1 for k in geo.K)
    if any(dl != 1 for dl in geo.dil):
        return
    if out.dtype == np.float32:
        if geo.G != 1 or geo.N != 1 or x.size > 20480:
            return
    elif out.dtype != np.float64:
        return
    pixels = math.prod(geo.out)
    if b is None and not (geo.G == 1 and one_term and pixels > 1 and geo.O > 1):
        return
    if b is not None and pixels < 2 and geo.G == 1 and (out.dtype == np.float64 or not one_term):
        out[out == 0] = 0.0  # one output pixel: the products summed from +0.0 first, then added to the bias
        return
    if b is not None and out.dtype == np.float32 and not one_term and geo.O > 1:
        out[out == 0] = 0.0  # float32's gemm of 2 or more output channels: from +0.0 too
        return
    zero = out == 0
    n, o, *pos = np.nonzero(zero)
    lo = [p for p, _ in geo.pads]
    negative = np.ones(n.shape, bool) if b is None else np.signbit(b[o])
    per_group = geo.C // geo.G
    first = o // (geo.O // geo.G) * per_group  # the first input channel of each output's group
    for c in range(per_group):
        for k in np.ndindex(*geo.K):
            at = [q * st + kk - pad for q, st, kk, pad in zip(pos, geo.stride, k, lo, strict=True)]
            inside = np.ones(n.shape, bool)
            for a, size in zip(at, geo.S, strict=True):
                inside &= (a >= 0) & (a < size)
            value = np.zeros(n.shape, x.dtype)  # the padding's zeros are +0.0
            value[inside] = x[(n[inside], first[inside] + c) + tuple(a[inside] for a in at)]
            p = value * w[(o, np.full(o.shape, c)) + tuple(np.full(o.shape, kk) for kk in k)]
            negative &= np.signbit(p)
    out[zero] = np.where(negative, -0.0, 0.0).astype(out.dtype)


@op(methods=())
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor

    1-D cross-correlation of an input (N, C, L) or (C, L) with a weight (O, C/groups, K); ``padding`` is an int,
    a 1-tuple, ``'valid'`` or ``'same'``. L_out = (L + 2*padding - dilation*(K-1) - 1) // stride + 1.

    >>> import tapegrad as tg
    >>> tg.conv1d(tg.ones(1, 1, 5), tg.ones(1, 1, 3), padding=1)
    tensor([[[2., 3., 3., 3., 2.]]])
    """
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@op(methods=())
def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor

    3-D cross-correlation of an input (N, C, D, H, W) or (C, D, H, W) with a weight (O, C/groups, kD, kH, kW).

    >>> import tapegrad as tg
    >>> tg.conv3d(tg.ones(1, 1, 3, 3, 3), tg.ones(2, 1, 2, 2, 2)).shape
    tapegrad.Size([1, 2, 2, 2, 2])
    """
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------- transposed convolution
def _conv_transposend(op_name, d, input, weight, bias, stride, padding, output_padding, groups, dilation):
    x, w = _array(op_name, input), _array(op_name, weight)
    b = _array(op_name, bias) if bias is not None else None
    if isinstance(padding, str):
        raise RuntimeError(f"{op_name}: padding must be an int or a tuple of {d} ints (strings such as "
                           f"{padding!r} are not supported by transposed convolutions, as in PyTorch)")
    stride, dilation = _tuple(op_name, "stride", stride, d), _tuple(op_name, "dilation", dilation, d)
    pads = _tuple(op_name, "padding", padding, d)
    opad = _tuple(op_name, "output_padding", output_padding, d)
    _check(op_name, x, w, b, d, stride, dilation, groups, transposed=True)
    if min(pads) < 0:
        raise RuntimeError(f"{op_name}: negative padding is not supported, got padding={pads}")
    for o, s, dl in zip(opad, stride, dilation, strict=True):
        if o < 0 or (o >= s and o >= dl):
            raise RuntimeError(f"{op_name}: output padding must be smaller than either stride or dilation, but "
                               f"got output_padding={opad}, stride={stride}, dilation={dilation}")
    if x.ndim == d + 1:
        return _conv_transposend(op_name, d, input.unsqueeze(0), weight, bias, stride, pads, opad, groups,
                                 dilation).squeeze(0)
    size = tuple((s - 1) * st - 2 * p + dl * (k - 1) + o + 1
                 for s, st, p, dl, k, o in zip(x.shape[2:], stride, pads, dilation, w.shape[2:], opad, strict=True))
    if min(size) <= 0:
        _check_output_size(op_name, x, w, size, stride, dilation, opad, groups)
    out_channels = w.shape[1] * groups
    if min(size) == 0:  # as PyTorch (see _check_output_size): an empty result, whose inputs get zero gradients
        return record(np.zeros((x.shape[0], out_channels) + size, dtype=x.dtype),
                      (input, weight) if bias is None else (input, weight, bias), _empty_rule, "ConvolutionBackward0")
    if d == 2 and all(o < st for o, st in zip(opad, stride, strict=True)):
        return _conv_transpose2d_tuned(input, weight, bias, x, w, b, (x.shape[0], out_channels) + size, stride, pads,
                                       dilation, groups)
    # the convolution whose input gradient this is: input (N, out_channels, *size), weight w, output x
    geo = _Geometry((x.shape[0], out_channels) + size, w.shape, stride, tuple((p, p) for p in pads), dilation,
                    groups, out=x.shape[2:])
    out = convolution_nd_input_grad(x, w, geo=geo)
    axes = _bias_axes(d)
    if b is not None:
        out += b.reshape((-1,) + (1,) * d)

    has_bias = bias is not None

    def convolution_rule(xp, need, h, out, x, w, *b):
        gx = xp.convolution_nd(h, w, geo=geo) if need[0] else None
        gw = xp.convolution_nd_weight_grad(h, x, geo=geo) if need[1] else None
        if not has_bias:  # NOTE: b itself is never read (PyTorch does not save the bias: a later write is fine)
            return gx, gw
        return gx, gw, (h.sum(axis=axes) if need[2] else None)

    inputs = (input, weight) if bias is None else (input, weight, bias)
    if out.ndim == 4 or _onednn_dtype(out.dtype):  # (3-d: only oneDNN's kernels write channels_last_3d)
        out = memory_formats.follow_channels_last(out, input._data, weight._data)
    return record(out, inputs, convolution_rule, "ConvolutionBackward0")


def _check_output_size(op_name, x, w, size, stride, dilation, opad, groups):
    """Raise as PyTorch for a transposed convolution whose output ``size`` has a dim <= 0 (the caller checked).

    PyTorch's answer depends on the CPU backend aten's ``_select_conv_backend`` picks (Convolution.cpp): with an
    empty batch (``Empty``) or through oneDNN (``MkldnnTranspose``) a size of 0 gives an empty result and only a
    negative one raises; the native kernels (``slow_conv_transpose2d/3d``, also used for 1-d through a (1, L) view)
    raise for any size < 1 ("Output size is too small"). oneDNN is chosen (``ConvParams::use_mkldnn``) for a float32
    input when no output_padding reaches its stride and there are groups, a kernel wider than 3 in both of its last
    two dims, a batch of 2 or more, or more than 20480 elements in the first four dims of the (4-d viewed) input;
    float16 is oneDNN's only where the CPU lets oneDNN take it (``_cpu.onednn_takes_float16``: AVX-512 FP16 or
    AVX-NE-CONVERT; elsewhere, an AMD EPYC say, the native kernels raise). A float32 1x1 kernel, unstrided and
    undilated, with a batch below 16 is oneDNN's only with more than one thread (``get_num_threads() > 1``)."""
    n, c = x.shape[0], x.shape[1]
    spatial = x.shape[2:] if len(size) > 1 else (1,) + x.shape[2:]  # 1-d runs as 2-d with a height of 1
    kernel = w.shape[2:] if len(size) > 1 else (1,) + w.shape[2:]
    native_1x1 = (kernel[-1] == 1 and kernel[-2] == 1 and n < 16 and all(s == 1 for s in stride)
                  and all(d == 1 for d in dilation) and _threads.get_num_threads() == 1)
    if n == 0 or ((x.dtype == np.float16 and _cpu.onednn_takes_float16()) or (x.dtype == np.float32 and (
            groups > 1 or (kernel[-1] > 3 and kernel[-2] > 3) or n > 1 or n * c * spatial[0] * spatial[1] > 20480)
            and not native_1x1)) and all(o < st for o, st in zip(opad, stride, strict=True)):
        if min(size) < 0:
            raise RuntimeError(f"{op_name}: given input of shape {tuple(x.shape)} and weight of shape "
                               f"{tuple(w.shape)}, the calculated output size {size} is negative")
        return
    shown = size if len(size) > 1 else (1,) + size
    raise RuntimeError(f"{op_name}: Given input size per channel: ({' x '.join(map(str, spatial))}). Calculated "
                       f"output size per channel: ({' x '.join(map(str, shown))}). Output size is too small")


def _empty_rule(xp, need, g, out, *inputs):
    """The gradients of an empty result: zeros for every input that needs one."""
    return tuple(xp.zeros_like(t) if n else None for t, n in zip(inputs, need, strict=True))


def _conv_transpose2d_tuned(input, weight, bias, x, w, b, shape, stride, pads, dilation, groups):
    """conv_transpose2d through conv2d's tuned kernels (ops/conv.py): the input gradient of the convolution of an
    image of ``shape`` whose output has x's size (output_padding < stride, so the sizes agree)."""
    from . import conv as tuned

    geo = tuned._ConvGeometry(shape, w.shape, stride, (pads[0], pads[0], pads[1], pads[1]), dilation, groups)
    out = tuned.convolution_input_grad(x, w, geo=geo)
    if b is not None:
        out += b.reshape(-1, 1, 1)

    has_bias = bias is not None

    def convolution_rule(xp, need, h, out, x, w, *b):
        gx = xp.convolution(h, w, geo=geo) if need[0] else None
        gw = xp.convolution_weight_grad(h, x, geo=geo) if need[1] else None
        if not has_bias:  # NOTE: b itself is never read (PyTorch does not save the bias: a later write is fine)
            return gx, gw
        return gx, gw, (h.sum(axis=(0, 2, 3)) if need[2] else None)

    inputs = (input, weight) if bias is None else (input, weight, bias)
    if out.ndim == 4 or _onednn_dtype(out.dtype):  # (3-d: only oneDNN's kernels write channels_last_3d)
        out = memory_formats.follow_channels_last(out, input._data, weight._data)
    return record(out, inputs, convolution_rule, "ConvolutionBackward0")


@op(methods=())
def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1)

    The transposed 1-D convolution ("deconvolution") of an input (N, C_in, L) or (C_in, L) with a weight
    (C_in, C_out/groups, K): the gradient of conv1d with respect to its input.
    L_out = (L - 1)*stride - 2*padding + dilation*(K - 1) + output_padding + 1.

    >>> import tapegrad as tg
    >>> tg.conv_transpose1d(tg.ones(1, 1, 3), tg.ones(1, 1, 2), stride=2)
    tensor([[[1., 1., 1., 1., 1., 1.]]])
    """
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


@op(methods=())
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1)

    The transposed 2-D convolution of an input (N, C_in, H, W) or (C_in, H, W) with a weight
    (C_in, C_out/groups, kH, kW): DCGAN's upsampling layer.

    >>> import tapegrad as tg
    >>> tg.conv_transpose2d(tg.ones(1, 1, 2, 2), tg.ones(1, 1, 2, 2), stride=2).shape
    tapegrad.Size([1, 1, 4, 4])
    """
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


@op(methods=())
def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1)

    The transposed 3-D convolution of an input (N, C_in, D, H, W) or (C_in, D, H, W) with a weight
    (C_in, C_out/groups, kD, kH, kW).

    >>> import tapegrad as tg
    >>> tg.conv_transpose3d(tg.ones(1, 1, 2, 2, 2), tg.ones(1, 3, 2, 2, 2)).shape
    tapegrad.Size([1, 3, 3, 3, 3])
    """
    return _conv_transposend("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def _new_row_major(t):
    """A new row-major tensor of ``t``'s values (PyTorch's conv_tbc kernel writes a contiguous (T, B, C_out) one;
    clone would keep a permuted layout)."""
    return t.clone() if t.is_contiguous() else t.contiguous()


@op(methods=())
def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """conv_tbc(input, weight, bias, pad=0) -> Tensor

    1-D convolution in time-batch-channel layout: input (T, B, C_in), weight (K, C_in, C_out), bias (C_out,);
    the output is (T + 2*pad - K + 1, B, C_out).

    >>> import tapegrad as tg
    >>> tg.conv_tbc(tg.ones(4, 1, 2), tg.ones(3, 2, 1), tg.zeros(1), 1)[:, 0, 0]
    tensor([4., 6., 6., 4.])
    """
    # PyTorch's one node, ConvTbcBackward0; here a composition of conv1d and copies (its last node renamed)
    return named(_conv_tbc(input, weight, bias, pad), "ConvTbcBackward0", (input, weight, bias))


def _conv_tbc(input, weight, bias, pad):
    op_name = "conv_tbc"
    x, w = _array(op_name, input), _array(op_name, weight)
    if x.ndim != 3 or w.ndim != 3:
        raise RuntimeError(f"{op_name}: expected a 3-D input (T, B, C_in) and a 3-D weight (K, C_in, C_out), but got "
                           f"input of shape {tuple(x.shape)} and weight of shape {tuple(w.shape)}")
    if x.shape[2] != w.shape[1]:
        raise RuntimeError(f"{op_name}: input has {x.shape[2]} channels but the weight expects {w.shape[1]} "
                           f"(input shape {tuple(x.shape)}, weight shape {tuple(w.shape)})")
    if _array(op_name, bias, "bias").dtype != x.dtype and x.dtype == w.dtype:
        bias = bias.to(input.dtype)  # PyTorch's kernel copies the bias into an output of the input's dtype
    if isinstance(pad, numbers.Integral) and not isinstance(pad, bool) and pad < 0:
        # PyTorch's kernel crops -pad steps from both ends of the time axis: output length T + 2*pad - K + 1
        t, k = x.shape[0], w.shape[0]
        length = t + 2 * pad - k + 1
        if length < 0:
            raise RuntimeError(f"{op_name}: pad={pad} leaves a negative output length {length} (T={t}, K={k}): "
                               "T + 2*pad - K + 1 must be non-negative")
        if length == 0:
            return _conv_tbc_empty(input, weight, bias)
        _check_tap_dtypes(x, w)
        keep = input[-pad:t + pad]
        out = conv1d(keep.permute(1, 2, 0), weight.permute(2, 1, 0), bias).permute(2, 0, 1)
        return _new_row_major(out)
    if isinstance(pad, numbers.Integral) and not isinstance(pad, bool) and x.shape[0] + 2 * pad == w.shape[0] - 1:
        # output length 0 (the kernel is one step longer than the padded input): PyTorch returns an empty result
        # (gradients zero: its kernel and backward run no tap)
        return _conv_tbc_empty(input, weight, bias)
    _check_tap_dtypes(x, w)
    if x.dtype == np.bool_ and isinstance(pad, numbers.Integral):  # an empty product of bools (the check above)
        return wrap(np.zeros((x.shape[0] + 2 * pad - w.shape[0] + 1, x.shape[1], w.shape[2]), np.bool_))
    out = _new_row_major(conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad).permute(2, 0, 1))
    if isinstance(pad, numbers.Integral) and w.dtype.kind == "f" and _tap_order_shows(x, w):
        out = _conv_tbc_taps(input, weight, bias, pad, out)
    if isinstance(pad, numbers.Integral) and pad >= w.shape[0] and len(out):
        out = _conv_tbc_bias_rows(out, bias, x.shape[0], w.shape[0], pad)
    return out


def _check_tap_dtypes(x, w):
    """PyTorch's conv_tbc runs one matrix product per tap (addmm_), which takes an input and a weight of one dtype,
    and not bool where the product has elements: its refusals, named for conv_tbc (the conv1d that computes the
    taps here is an implementation)."""
    if x.dtype != w.dtype:
        raise RuntimeError(f"conv_tbc: input and weight must have the same dtype (each tap is a matrix product), got "
                           f"{x.dtype} and {w.dtype}")
    if x.dtype == np.bool_ and x.shape[1] and w.shape[2]:  # an empty batch or no output channel: nothing to multiply
        raise NotImplementedError("conv_tbc: not implemented for bool tensors, as in PyTorch (its matrix product has "
                                  "no bool kernel); cast the input and weight with .float()")


def _conv_tbc_empty(input, weight, bias):
    """conv_tbc of output length 0: PyTorch's kernel runs no tap (ConvolutionTBC.cpp: t <= 0), nor does its
    backward, so the gradients are zeros (not the 0 * inf = NaN of a window computed and dropped). Its output is
    allocated with the input's dtype and no matrix product runs, so any dtypes of weight and bias (bool included)
    give an empty tensor of the input's dtype."""
    products = input[:0, :, :, None] * weight[0]  # (0, B, C_in, C_out): empty, but on the graph of all three
    return (products.sum(2) + bias).to(input.dtype)


def _conv_tbc_bias_rows(out, bias, t_in, k_taps, pad):
    """The output steps no tap reaches (all in the padding, pad >= K) are PyTorch's bias itself, -0.0 included: its
    kernel starts from the bias and adds only the taps inside the input (ConvolutionTBC.cpp), where the padded
    convolution adds +0.0 products to it."""
    from .elementwise import where

    steps = np.arange(out.shape[0])
    alone = (steps + k_taps - 1 < pad) | (steps - pad >= t_in)
    return where(wrap(alone[:, None, None]), bias, out)


def _tap_order_shows(x, w):
    """Whether PyTorch's order of conv_tbc's sums can show in the values: an infinite or NaN input or weight (its
    kernel skips the taps in the padding, where the padded convolution's 0 * inf is NaN), or products large enough
    that a partial sum overflows (one tap's matrix product overflowing to -inf beside another's +inf is NaN)."""
    if not (np.isfinite(x).all() and np.isfinite(w).all()):
        return True
    if not x.size or not w.size:
        return False
    bound = float(np.abs(x).max()) * float(np.abs(w).max()) * w.shape[0] * w.shape[1]
    return bound >= float(np.finfo(w.dtype).max) / 2


def _conv_tbc_taps(input, weight, bias, pad, like):
    """conv_tbc as PyTorch's kernel computes it (ConvolutionTBC.cpp): the bias, then each tap's matrix product
    input[t + k - pad] @ weight[k] added in turn (``addmm_``), over the output steps t whose input step is inside
    the input (``like``: the result of the padded form, for the shape)."""
    from .linalg import matmul
    from .shape import cat

    t_in, k_taps, length = input.shape[0], weight.shape[0], like.shape[0]
    rest = tuple(like.shape[1:])
    total = like if not k_taps else bias
    for k in range(k_taps):
        t0, t1 = max(0, pad - k), max(max(0, pad - k), min(length, t_in + pad - k))
        part = matmul(input[t0 + k - pad:t1 + k - pad], weight[k])
        dt = part._data.dtype
        part = cat([wrap(np.zeros((t0,) + rest, dt)), part, wrap(np.zeros((length - t1,) + rest, dt))])
        total = total + part
    return total


# ---------------------------------------------------------------------- unfold / fold
def _fold_args(op_name, kernel_size, dilation, padding, stride):
    kernel = _tuple(op_name, "kernel_size", kernel_size, 2)
    dilation = _tuple(op_name, "dilation", dilation, 2)
    padding = _tuple(op_name, "padding", padding, 2)
    stride = _tuple(op_name, "stride", stride, 2)
    for name, v in (("kernel_size", kernel), ("dilation", dilation), ("stride", stride)):
        if min(v) <= 0:
            raise RuntimeError(f"{op_name}: {name} should be greater than zero, but got {name}={v}")
    if min(padding) < 0:
        raise RuntimeError(f"{op_name}: padding should be non-negative, but got padding={padding}")
    return kernel, dilation, tuple((p, p) for p in padding), stride


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor

    Sliding local blocks of an input (N, C, H, W) or (C, H, W) as columns (N, C*kH*kW, L) (im2col), rows ordered
    by channel then kernel offset, L the number of blocks.

    >>> import tapegrad as tg
    >>> tg.nn.functional.unfold(tg.arange(9.0).reshape(1, 1, 3, 3), 2)
    tensor([[[0., 1., 3., 4.],
             [1., 2., 4., 5.],
             [3., 4., 6., 7.],
             [4., 5., 7., 8.]]])
    """
    op_name = "unfold"
    x = _array(op_name, input)
    if x.ndim not in (3, 4):
        raise RuntimeError(f"{op_name}: expected a 3-D (unbatched) or 4-D (batched) input, but got input of shape "
                           f"{tuple(x.shape)}")
    if 0 in x.shape[-3:]:  # PyTorch's im2col_shape_check: only a batch may be empty
        raise RuntimeError(f"{op_name}: expected a 3-D or 4-D (batch mode) input with possibly 0 batch size and "
                           f"other non-zero dimensions, but got input of shape {tuple(x.shape)}")
    batched = x.ndim == 4
    xshape = x.shape if batched else (1,) + x.shape
    kernel, dilation, pads, stride = _fold_args(op_name, kernel_size, dilation, padding, stride)
    c = xshape[1]
    geo = _Geometry(xshape, (c, c) + kernel, stride, pads, dilation, 1)
    if min(geo.out) <= 0:
        raise RuntimeError(f"{op_name}: given input with spatial size {tuple(x.shape[2:])}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, stride={stride}, the calculated shape of the "
                           f"array of sliding blocks is {geo.out}, but its components must be at least one")
    _floats_and_bool(op_name, "im2col_out_cpu", x)
    shape = (geo.N, geo.rows, math.prod(geo.out))
    out_shape = shape if batched else shape[1:]

    def apply(a):
        return _im2col(a.reshape(xshape), geo).reshape(out_shape)

    def adjoint(g):
        return _col2im(g, geo).reshape(x.shape)

    def im2col_rule(xp, g, out, x):
        return xp.linear(adjoint, apply, g, "Col2ImBackward0")

    return record(apply(x), (input,), im2col_rule, "Im2ColBackward0")


def _floats_and_bool(op_name, kernel, x):
    """PyTorch's im2col/col2im kernels take floating-point and bool tensors (Im2Col.cpp, Col2Im.cpp), after the
    shape checks, empty or not."""
    if x.dtype.kind in "iu":
        raise NotImplementedError(f"{op_name}: \"{kernel}\" not implemented for "
                                  f"'{TORCH_INT_NAMES.get(x.dtype.name, x.dtype.name)}' (a {x.dtype} input of shape "
                                  f"{tuple(x.shape)}; PyTorch's kernel takes floating-point and bool tensors)")


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor

    The adjoint of ``unfold`` (col2im): columns (N, C*kH*kW, L) or (C*kH*kW, L) summed back into an image
    (N, C, *output_size), overlapping blocks added.

    >>> import tapegrad as tg
    >>> tg.nn.functional.fold(tg.ones(1, 4, 4), (3, 3), 2)
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """
    op_name = "fold"
    x = _array(op_name, input)
    if x.ndim not in (2, 3):
        raise RuntimeError(f"{op_name}: expected a 2-D (unbatched) or 3-D (batched) input, but got input of shape "
                           f"{tuple(x.shape)}")
    batched = x.ndim == 3
    x3 = x if batched else x[None]
    size = _tuple(op_name, "output_size", output_size, 2)
    kernel, dilation, pads, stride = _fold_args(op_name, kernel_size, dilation, padding, stride)
    kk = math.prod(kernel)
    if x3.shape[1] % kk:
        raise RuntimeError(f"{op_name}: expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={x3.shape[1]} and kernel_size={kernel}")
    c = x3.shape[1] // kk
    geo = _Geometry((x3.shape[0], c) + size, (c, c) + kernel, stride, pads, dilation, 1)
    if min(geo.out) <= 0 or math.prod(geo.out) != x3.shape[2]:
        raise RuntimeError(f"{op_name}: given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={tuple(p for p, _ in pads)}, stride={stride}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks {geo.out} = "
                           f"{math.prod(geo.out)}, but got input.size(2)={x3.shape[2]}")
    _floats_and_bool(op_name, "col2im_out_cpu", x)
    out_shape = (geo.N, c) + size if batched else (c,) + size

    def apply(a):
        return _col2im(a.reshape(x3.shape), geo).reshape(out_shape)


    def adjoint(g):
        return _im2col(g.reshape((geo.N, c) + size), geo).reshape(x.shape)

    def col2im_rule(xp, g, out, x):
        return xp.linear(adjoint, apply, g, "Im2ColBackward0")

    return record(apply(x), (input,), col2im_rule, "Col2ImBackward0")
