"""Convolution and pooling over NCHW images: sliding windows and matrix products, no loops over pixels.

A convolution unfolds its zero-padded input into a column matrix of shape (C*KH*KW, N*OH*W'), one row per
(channel, kernel offset), filled with one strided copy per kernel offset ("im2col"). Then the output and the
weight gradient are each one matrix product per group; the input gradient is one product and one strided add
per kernel offset ("col2im"), so its column matrix never exists whole. Channels come first in the padded
buffer, so every copy moves whole rows; with stride 1 each output row is computed over the full padded width
(W' = padded width: a few wasted columns, cropped at the end) so that a kernel offset's window of a whole
image is one contiguous run of memory. (Inputs with few channels use per-image columns: see _ConvGeometry.)
Memory traffic, not arithmetic, is what these choices save: they were measured in a training step.

Higher-order gradients: conv2d's input gradient is a transposed convolution of the output gradient with the
weight, and its weight gradient a correlation of the input with the output gradient. The three maps are one
bilinear family, recorded as ops whose rules call each other, so ``create_graph=True`` works to any order.
Pooling gradients are linear in the output gradient; they are recorded with their adjoints the same way.
"""

import functools
import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import memory_formats
from ..autograd.declare import Tensor, backward_op, expected_tensor, op, record, wrap
from ..autograd.grad_mode import state as _grad_state

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]


# ---------------------------------------------------------------------- arguments
def _pair(op, name, value):
    """An int or a sequence of one or two ints, as a pair (PyTorch's ``_pair``). Floats and bools are a
    TypeError, as in PyTorch's argument parser; other lengths a RuntimeError."""
    if isinstance(value, Tensor):
        value = value.tolist()
    items = value if isinstance(value, (tuple, list)) else (value,)
    for v in items:
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{op}: {name} must be an int or a tuple of ints, but got {name}={value!r}")
    if not 1 <= len(items) <= 2:
        raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of 2 values to match "
                           f"the convolution dimensions, but got {name}={value!r}")
    return int(items[0]), int(items[-1])


def _tensor_input(op, input):
    if not isinstance(input, Tensor):
        raise expected_tensor(op, input)
    return input._data


def _shape(a):
    return tuple(a.shape)


# ---------------------------------------------------------------------- convolution
_PER_IMAGE_MAX_ROWS = 32  # per-image columns when C*KH*KW is at most this (see _ConvGeometry)


class _ConvGeometry:
    """Everything a convolution of an input of shape (N, C, H, W) with weight (O, C/G, KH, KW) needs.

    Two layouts for the columns, chosen by cost:

    - channels first, (G, C/G*KH*KW, N*OH*Wv): one matrix product per group for the whole batch. With stride 1
      the output rows span the padded width (Wv = Wp) so that a kernel offset's window of an image plane is
      one contiguous run of memory; the last Wp - OW columns of each row are cropped away.
    - per image, (N, C*KH*KW, OH*OW), when C*KH*KW is small (a first layer on 1 or 3 channels): the products
      are memory-bound anyway, and this layout needs no transposes in or out (groups == 1 only).
    """

    __slots__ = ("N", "C", "H", "W", "O", "G", "KH", "KW", "sh", "sw", "dh", "dw", "pt", "pb", "pl", "pr",
                 "Hp", "Wp", "OH", "OW", "Wv", "plane", "per_image")

    def __init__(self, xshape, wshape, stride, pads, dilation, groups):
        self.N, self.C, self.H, self.W = xshape
        self.O, _, self.KH, self.KW = wshape
        self.G = groups
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.pt, self.pb, self.pl, self.pr = pads
        self.Hp, self.Wp = self.H + self.pt + self.pb, self.W + self.pl + self.pr
        self.OH = (self.Hp - self.dh * (self.KH - 1) - 1) // self.sh + 1
        self.OW = (self.Wp - self.dw * (self.KW - 1) - 1) // self.sw + 1
        self.per_image = groups == 1 and self.C * self.KH * self.KW <= _PER_IMAGE_MAX_ROWS
        flat = self.sh == 1 and self.sw == 1 and not self.per_image
        self.Wv = self.Wp if flat else self.OW
        # each flat plane gets (KW-1)*dw zeros of slack, so the last row's run stays inside its own plane
        self.plane = self.Hp * self.Wp + (self.dw * (self.KW - 1) if flat else 0)

    def window(self, buf, i, j):
        """The view of the padded buffer that kernel offset (i, j) multiplies: (C, N, OH, Wv) channels first
        (a buffer (C, N, plane)), (N, C, OH, OW) per image (a buffer (N, C, Hp, Wp))."""
        if self.per_image:
            r, c = i * self.dh, j * self.dw
            rows = slice(r, r + self.sh * (self.OH - 1) + 1, self.sh)
            return buf[:, :, rows, c:c + self.sw * (self.OW - 1) + 1:self.sw]
        s0, s1, item = buf.strides[0], buf.strides[1], buf.itemsize
        return as_strided(buf[:, :, i * self.dh * self.Wp + j * self.dw:], (self.C, self.N, self.OH, self.Wv),
                          (s0, s1, self.sh * self.Wp * item, self.sw * item))

    def padded_buffer(self, dtype):
        shape = (self.N, self.C, self.Hp, self.Wp) if self.per_image else (self.C, self.N, self.plane)
        return np.zeros(shape, dtype)

    def interior(self, buf):
        """The (N, C, H, W) view of the padded buffer where the input itself lives."""
        if self.per_image:
            return buf[:, :, self.pt:self.pt + self.H, self.pl:self.pl + self.W]
        planes = buf[:, :, :self.Hp * self.Wp].reshape(self.C, self.N, self.Hp, self.Wp)
        return planes[:, :, self.pt:self.pt + self.H, self.pl:self.pl + self.W].transpose(1, 0, 2, 3)

    def columns_shape(self):
        if self.per_image:
            return (self.N, self.C, self.KH, self.KW, self.OH, self.OW)
        return (self.C, self.KH, self.KW, self.N, self.OH, self.Wv)

    def matrix_shape(self, rows):
        """Columns, products and output gradients as stacks of matrices with ``rows`` rows (per group)."""
        if self.per_image:
            return (self.N, rows, self.OH * self.OW)
        return (self.G, rows // self.G, self.N * self.OH * self.Wv)


def _unfold(x, geo):
    """im2col: x (N, C, H, W) -> columns (see _ConvGeometry), rows ordered (channel, kh, kw)."""
    buf = geo.padded_buffer(x.dtype)
    geo.interior(buf)[...] = x
    cols = np.empty(geo.columns_shape(), x.dtype)
    for i in range(geo.KH):
        for j in range(geo.KW):
            if geo.per_image:
                cols[:, :, i, j] = geo.window(buf, i, j)
            else:
                cols[:, i, j] = geo.window(buf, i, j)
    return cols.reshape(geo.matrix_shape(geo.C * geo.KH * geo.KW))


def _fold(cols, geo):
    """col2im, the adjoint of _unfold: columns -> (N, C, H, W), overlapping windows summed."""
    cols = cols.reshape(geo.columns_shape())
    buf = geo.padded_buffer(cols.dtype)
    for i in range(geo.KH):
        for j in range(geo.KW):
            view = geo.window(buf, i, j)
            np.add(view, cols[:, :, i, j] if geo.per_image else cols[:, i, j], out=view)
    return np.ascontiguousarray(geo.interior(buf))


def _spread(g, geo):
    """The output gradient (N, O, OH, OW) laid out like the products, zeros in cropped columns."""
    if geo.per_image:
        return np.ascontiguousarray(g).reshape(geo.matrix_shape(geo.O))
    if geo.Wv == geo.OW:
        return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(geo.matrix_shape(geo.O))
    ge = np.zeros((geo.O, geo.N, geo.OH, geo.Wv), g.dtype)
    ge[..., :geo.OW] = g.transpose(1, 0, 2, 3)
    return ge.reshape(geo.matrix_shape(geo.O))


def _gather_output(prod, geo, bias=None):
    """Products -> the output (N, O, OH, OW), plus the bias, in one pass."""
    if geo.per_image:
        out = prod.reshape(geo.N, geo.O, geo.OH, geo.OW)
        if bias is not None:
            out += bias.reshape(-1, 1, 1)
        return out
    view = prod.reshape(geo.O, geo.N, geo.OH, geo.Wv)[..., :geo.OW].transpose(1, 0, 2, 3)
    if bias is None:
        return np.ascontiguousarray(view)
    out = np.empty(view.shape, np.result_type(prod, bias))
    np.add(view, bias.reshape(-1, 1, 1), out=out)
    return out


def _bias_grad(ge, geo):
    return ge.sum(axis=(0, 2)) if geo.per_image else ge.reshape(geo.O, -1).sum(axis=1)


def _grouped(w, geo):
    return w.reshape(geo.G, geo.O // geo.G, geo.C // geo.G * geo.KH * geo.KW)


def _conv_np(x, w, geo):
    """The convolution of arrays: y = conv(x, w)."""
    return _gather_output(np.matmul(_grouped(w, geo), _unfold(x, geo)), geo)


def _input_grad(w, ge, geo):
    """col2im(W^T @ g). Channels first, one kernel offset at a time: each offset's (C, N*L) slab of columns
    is added into place while it is still in cache, so the whole column matrix never goes through memory."""
    if geo.per_image:
        return _fold(np.matmul(_grouped(w, geo).transpose(0, 2, 1), ge), geo)
    wk = w.reshape(geo.G, geo.O // geo.G, geo.C // geo.G, geo.KH, geo.KW)
    buf = geo.padded_buffer(ge.dtype)
    slab = np.empty((geo.G, geo.C // geo.G, ge.shape[-1]), ge.dtype)
    # NOTE: the cropped columns of ge are zeros, but an inf or NaN weight times 0 is NaN there, and those columns
    # land on real positions of the next row: zero them again (only then; the scan of w is small beside the product)
    crop = geo.Wv != geo.OW and not np.isfinite(w).all()
    for i in range(geo.KH):
        for j in range(geo.KW):
            np.matmul(wk[..., i, j].transpose(0, 2, 1), ge, out=slab)
            if crop:
                slab.reshape(geo.G, geo.C // geo.G, geo.N, geo.OH, geo.Wv)[..., geo.OW:] = 0
            view = geo.window(buf, i, j)
            np.add(view, slab.reshape(view.shape), out=view)
    return np.ascontiguousarray(geo.interior(buf))


def _weight_grad(x, ge, geo):
    # NOTE: computed transposed, columns @ g^T: OpenBLAS splits this orientation better over threads
    cols = _unfold(x, geo)
    dw = np.matmul(cols, ge.transpose(0, 2, 1))
    if geo.Wv != geo.OW and not np.isfinite(dw).all():
        # NOTE: the cropped columns hold real (wrapped) inputs that meet ge's zeros there: an inf input adds
        # inf * 0 = NaN. Only then (a scan of the small result), again without those columns
        cols.reshape(geo.columns_shape())[..., geo.OW:] = 0
        dw = np.matmul(cols, ge.transpose(0, 2, 1))
    if geo.per_image:
        dw = dw.sum(axis=0, keepdims=True)
    return dw.transpose(0, 2, 1).reshape(geo.O, geo.C // geo.G, geo.KH, geo.KW)


def _spread_once(g, geo, cache):
    """``_spread(g)``, computed once per backward pass: the backward ops of one rule share it in ``cache``."""
    if cache is None:
        return _spread(g, geo)
    ge = cache.get("spread")
    if ge is None:
        ge = cache["spread"] = _spread(g, geo)
    return ge


# The convolution and its two gradients are one bilinear family, <conv(x, w), g> = <x, dx(g, w)> =
# <w, dw(x, g)>: each map is declared as an op whose rule is made of the other two, so create_graph
# differentiates a convolution to any order. On arrays they are the fused first-order kernels above.
def _convolution_rule(xp, need, h, out, x, w, *, geo):
    return (xp.convolution_input_grad(h, w, geo=geo) if need[0] else None,
            xp.convolution_weight_grad(x, h, geo=geo) if need[1] else None)


@backward_op(grad=_convolution_rule, name="ConvolutionBackward0")
def convolution(x, w, *, geo):
    """conv(x, w) for an input (N, C, H, W) and a weight (O, C/G, KH, KW) of the geometry ``geo``, no bias."""
    return _conv_np(x, w, geo)


def _input_grad_rule(xp, need, h, out, g, w, *, geo, cache=None):
    return (xp.convolution(h, w, geo=geo) if need[0] else None,
            xp.convolution_weight_grad(h, g, geo=geo) if need[1] else None)


@backward_op(grad=_input_grad_rule, name="ConvolutionBackwardBackward0")
def convolution_input_grad(g, w, *, geo, cache=None):
    """dx(g, w): the input gradient of a convolution (a transposed convolution of g with w)."""
    return _input_grad(w, _spread_once(g, geo, cache), geo)


def _weight_grad_rule(xp, need, h, out, x, g, *, geo, cache=None):
    return (xp.convolution_input_grad(g, h, geo=geo) if need[0] else None,
            xp.convolution(x, h, geo=geo) if need[1] else None)


@backward_op(grad=_weight_grad_rule, name="ConvolutionBackwardBackward0")
def convolution_weight_grad(x, g, *, geo, cache=None):
    """dw(x, g): the weight gradient of a convolution (the correlation of x with g)."""
    return _weight_grad(x, _spread_once(g, geo, cache), geo)


def _bias_grad_rule(xp, h, out, g, *, geo, cache=None):
    return xp.broadcast_to(h.reshape((1, geo.O, 1, 1)), tuple(g.shape))


@backward_op(grad=_bias_grad_rule, name="ConvolutionBackwardBackward0")
def convolution_bias_grad(g, *, geo, cache=None):
    """The bias gradient of a convolution: g summed over everything but its channels."""
    return _bias_grad(_spread_once(g, geo, cache), geo)


def _conv_padding(op, padding, kernel, dilation, stride):
    """(top, bottom, left, right) from an int, a pair, 'valid' or 'same' (odd padding: more at the end)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding != "same":
            raise RuntimeError(f"{op}: invalid padding string {padding!r} (expected 'same', 'valid', an int "
                               "or a pair of ints)")
        if stride != (1, 1):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions "
                               f"(stride={stride})")
        th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = _pair(op, "padding", padding)
    if ph < 0 or pw < 0:
        raise RuntimeError(f"{op}: negative padding is not supported, got padding=({ph}, {pw})")
    return ph, ph, pw, pw


def same_prepad(input, pads):
    """PyTorch's padding='same' with more padding after than before (an even dilated kernel): it pads the input by
    the difference first (``constant_pad_nd``, a node of its own) and convolves with the padding before on both
    sides (Convolution.cpp, convolution_same): the convolution then saves the padded copy, not the input, so an
    in-place write to the input after the call does not stop backward. Returns (input, pads), unchanged when
    symmetric. ``pads``: ((before, after), ...) per spatial dim of an (N, C, ...) input."""
    if all(lo == hi for lo, hi in pads):
        return input, pads
    x = input._data
    out = np.pad(x, ((0, 0), (0, 0)) + tuple((0, hi - lo) for lo, hi in pads))
    keep = (slice(None), slice(None)) + tuple(slice(0, n) for n in x.shape[2:])

    def constant_pad_rule(xp, g, out, x):
        return g[keep]

    return record(out, (input,), constant_pad_rule, "ConstantPadNdBackward0"), tuple((lo, lo) for lo, _ in pads)


TORCH_INT_NAMES = {"int8": "Char", "uint8": "Byte", "int16": "Short", "int32": "Int", "int64": "Long",
                   "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64"}  # PyTorch's names of the dtypes


def dilated_int_error(op, x, dilation):
    """PyTorch runs a dilated convolution in slow_conv_dilated, whose CPU kernel takes floats and int64 only
    (aten/src/ATen/native/NaiveDilatedConvolution.cpp): other integer inputs fail, unless empty."""
    return NotImplementedError(f"{op}: \"slow_conv_dilated<>\" not implemented for "
                               f"'{TORCH_INT_NAMES.get(x.dtype.name, x.dtype.name)}' (a dilated convolution "
                               f"(dilation={tuple(dilation)}) of {x.dtype} tensors, as PyTorch; use int64 or "
                               "floating-point tensors)")


def _check_conv(op, x, w, b, stride, dilation, groups):
    if x.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected a 3-D (unbatched) or 4-D (batched) input, but got input of shape "
                           f"{_shape(x)}")
    if w.ndim != 4:
        raise RuntimeError(f"{op}: expected a 4-D weight (out_channels, in_channels/groups, kH, kW), but got "
                           f"weight of shape {_shape(w)}")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise RuntimeError(f"{op}: input dtype {x.dtype}, weight dtype {w.dtype}"
                           + (f" and bias dtype {b.dtype}" if b is not None else "")
                           + " must be the same; cast with .float() or .double()")
    if x.dtype.kind not in "iuf" and not (x.shape[-3] == 0 or x.ndim == 4 and x.shape[0] == 0):
        # (as PyTorch: an empty batch or no channels skips the kernels, and their dtype check)
        raise NotImplementedError(f"{op}: not implemented for {x.dtype} tensors, as in PyTorch; cast the input "
                                  "and weight with .float()")
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"{op}: groups must be an int, but got groups={groups!r}")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    if min(stride) <= 0:
        raise RuntimeError(f"{op}: non-positive stride is not supported, got stride={stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got dilation={dilation}")
    if w.shape[0] < groups:
        raise RuntimeError(f"{op}: given groups={groups}, expected weight to be at least {groups} at dimension 0, "
                           f"but got weight of shape {_shape(w)}")
    if 0 in w.shape[2:]:
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got weight of shape {_shape(w)}")
    channels = x.shape[-3]
    if w.shape[0] % groups:
        raise RuntimeError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of shape {_shape(w)}")
    if channels != w.shape[1] * groups:
        raise RuntimeError(f"{op}: given groups={groups} and weight of shape {_shape(w)}, expected input of "
                           f"shape {_shape(x)} to have {w.shape[1] * groups} channels, but got {channels} "
                           "channels")
    if b is not None and b.shape != (w.shape[0],):
        raise RuntimeError(f"{op}: given weight of shape {_shape(w)}, expected bias to be 1-D with "
                           f"{w.shape[0]} elements, but got bias of shape {_shape(b)}")


@op(methods=())
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor

    2-D cross-correlation (PyTorch's convolution) of an input (N, C, H, W) or (C, H, W) with a weight
    (O, C/groups, kH, kW). ``stride``, ``padding`` and ``dilation`` are ints or pairs; ``padding`` may also be
    ``'valid'`` or ``'same'``. The output is (N, O, OH, OW) with
    OH = (H + 2*pad - dil*(kH-1) - 1) // stride + 1, and OW likewise.

    >>> import tapegrad as tg
    >>> x, w = tg.ones(1, 1, 4, 4), tg.ones(2, 1, 3, 3)
    >>> tg.conv2d(x, w, padding=1)[0, 0]
    tensor([[4., 6., 6., 4.],
            [6., 9., 9., 6.],
            [6., 9., 9., 6.],
            [4., 6., 6., 4.]])
    """
    op_name = "conv2d"
    x, w = _tensor_input(op_name, input), _tensor_input(op_name, weight)
    b = _tensor_input(op_name, bias) if bias is not None else None
    stride, dilation = _pair(op_name, "stride", stride), _pair(op_name, "dilation", dilation)
    _check_conv(op_name, x, w, b, stride, dilation, groups)
    pads = _conv_padding(op_name, padding, w.shape[2:], dilation, stride)
    if x.ndim == 3:  # as PyTorch: the convolution of the batch of one, squeezed (SqueezeBackward1)
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if padding == "same" and (pads[0] != pads[1] or pads[2] != pads[3]):
        input, ((pt, _), (pl, _)) = same_prepad(input, ((pads[0], pads[1]), (pads[2], pads[3])))
        x, pads = input._data, (pt, pt, pl, pl)
    geo = _ConvGeometry(x.shape, w.shape, stride, pads, dilation, groups)
    if geo.Hp < dilation[0] * (geo.KH - 1) + 1 or geo.Wp < dilation[1] * (geo.KW - 1) + 1:
        kh, kw = dilation[0] * (geo.KH - 1) + 1, dilation[1] * (geo.KW - 1) + 1
        raise RuntimeError(f"{op_name}: the padded input of size ({geo.Hp} x {geo.Wp}) per channel (input shape "
                           f"{_shape(input)}, padding {pads}) is smaller than the dilated kernel of size "
                           f"({kh} x {kw}) (weight shape {_shape(w)}); the kernel can't be greater than the "
                           "input")
    if x.dtype.kind in "iu" and x.dtype != np.int64 and max(dilation) > 1 and x.size:
        raise dilated_int_error(op_name, x, dilation)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    if x.size == 0:
        if geo.N and geo.C:
            raise RuntimeError(f"{op_name}: only zero batch or zero channel inputs are supported (as in PyTorch), "
                               f"but got input of shape {_shape(x)}")
        if not geo.C:  # NOTE: PyTorch 2.13's result has no channels either (not out_channels of bias values)
            return record(np.zeros((geo.N, 0, geo.OH, geo.OW), x.dtype), inputs, _zeros_rule,
                          "ConvolutionBackward0")
    out = _gather_output(np.matmul(_grouped(w, geo), _unfold(x, geo)), geo, b)
    if b is not None and not b.all() or geo.C == geo.G and geo.KH == geo.KW == 1:  # (a sign PyTorch may differ in)
        out = _zero_signs(out, x, w, b, geo)
    out = memory_formats.follow_channels_last(out, x, w)

    # NOTE: the weight gradient unfolds the input again rather than keeping the forward's columns (C*KH*KW
    # times the input's size): measured faster in a training step (they come back cache-warm) and lighter.
    has_bias = b is not None

    def convolution_rule(xp, need, g, out, x, w, *b):  # NOTE: b is never read (PyTorch does not save the bias)
        cache = {}
        gx = xp.convolution_input_grad(g, w, geo=geo, cache=cache) if need[0] else None
        gw = xp.convolution_weight_grad(x, g, geo=geo, cache=cache) if need[1] else None
        gb = xp.convolution_bias_grad(g, geo=geo, cache=cache) if has_bias and need[2] else None
        cache.clear()  # recorded backward ops keep their constants: not the spread gradient
        return (gx, gw, gb) if has_bias else (gx, gw)

    return record(out, inputs, convolution_rule, "ConvolutionBackward0")


def _zero_signs(out, x, w, b, geo):
    """PyTorch's signs of the zeros of a convolution's ``out`` (in place) where its kernels give another sign
    than numpy's sums from +0.0: one product per output, or a bias of -0.0 that a kernel starts its sums from."""
    if geo.C == geo.G and geo.KH == geo.KW == 1:  # one product per output: its sign of zero may be PyTorch's
        out = _one_term_signs(out, x, w, b, geo)
    if b is None or b.all() or out.dtype.kind != "f":  # only a zero bias, -0.0, can change a sign
        return out
    if geo.G > 1 and geo.C == geo.G == geo.O:
        return _depthwise_bias_signs(out, x, w, b, geo)
    # the native kernels: float64, and float32 where PyTorch does not pick oneDNN (one image, one group, small,
    # not a kernel wider than 3 both ways) into one output channel (MKL's sgemm into more sums from +0.0)
    if out.dtype == np.float64 or (out.dtype == np.float32 and geo.N == 1 and geo.O == 1
                                   and not (geo.KH > 3 and geo.KW > 3) and x.size <= 20480):
        return _bias_start_signs(out, x, w, b, geo)
    return out


def _one_term_signs(out, x, w, b, geo):
    """The zero entries of a convolution of one input channel per group by a 1x1 kernel (sums of one product)
    as PyTorch gives them: its native kernel (float64, and float32 of one image and one group, where it does
    not use oneDNN) multiplies the columns by the weight with BLAS, into the bias: the result is the bias plus
    the product with its sign of zero where BLAS does not sum it from +0.0 (measured: 2 or more output pixels
    and, with no bias, 2 or more output channels per group too; with a bias in float32, always). Its other
    kernels sum from +0.0, as numpy's products here."""
    size = out.dtype.itemsize if out.dtype.kind == "f" else 0
    one_pixel = geo.OH * geo.OW < 2
    if geo.dh > 1 or geo.dw > 1:  # the dilated kernel: sums from +0.0 without a bias
        summed = b is None or (one_pixel and size == 8)
    else:
        summed = (one_pixel or geo.O // geo.G < 2) if b is None else (one_pixel and size == 8)
    if (size < 4 or summed or size == 4 and (geo.N > 1 or geo.G > 1 or x.size > 20480)
            or np.count_nonzero(out) == out.size):
        return out
    xp = np.pad(x, ((0, 0), (0, 0), (geo.pt, geo.pb), (geo.pl, geo.pr)))
    xs = xp[:, :, :geo.sh * (geo.OH - 1) + 1:geo.sh, :geo.sw * (geo.OW - 1) + 1:geo.sw]
    products = np.repeat(xs, geo.O // geo.G, axis=1) * w.reshape(1, geo.O, 1, 1)
    if b is not None:
        products = products + b.reshape(1, geo.O, 1, 1)
    zero = out == 0
    out[zero] = products[zero]
    return out


def _depthwise_bias_signs(out, x, w, b, geo):
    """The zero entries of a depthwise convolution (one channel per group, one filter per channel) with a bias
    as PyTorch gives them: its kernels start each sum from the bias, not from +0.0, so a zero is -0.0 where the
    bias and every product summed are -0.0. float32 (oneDNN's depthwise kernel) sums the taps inside the input
    only (measured: every stride, dilation and padding below the dilated kernel's extent; with a padding as
    large, another kernel sums from +0.0, as numpy here); float64 (the bias copied into the output, then a gemm
    over the unfolded padded input) sums the padding's zeros too, except for one output pixel (a gemv, from
    +0.0). Only channels whose bias is -0.0 can change."""
    negative = (b == 0) & np.signbit(b)
    eh, ew = geo.dh * (geo.KH - 1) + 1, geo.dw * (geo.KW - 1) + 1
    # padding='same' with more padding after than before: PyTorch pads the input by the difference (zeros that
    # are input then) and convolves with the padding before on both sides
    single = out.dtype == np.float32
    if (not negative.any() or single and (geo.pt >= eh or geo.pl >= ew or geo.pb < geo.pt or geo.pr < geo.pl)
            or not single and geo.OH * geo.OW < 2 or out.dtype.itemsize < 4 or np.count_nonzero(out) == out.size
            or single and not _onednn_depthwise(geo, eh, ew)):
        return out
    xp = np.pad(x, ((0, 0), (0, 0), (geo.pt, geo.pb), (geo.pl, geo.pr)))
    if single:
        inside = np.pad(np.ones((geo.H + geo.pb - geo.pt, geo.W + geo.pr - geo.pl), bool), ((geo.pt, geo.pt),
                                                                                             (geo.pl, geo.pl)))
    else:  # float64: the padded input's zeros are products too
        inside = np.ones(xp.shape[2:], bool)
    every = np.ones(out.shape, bool)  # every product of a tap inside the input is -0.0
    with np.errstate(all="ignore"):
        for kh in range(geo.KH):
            for kw in range(geo.KW):
                rows = slice(kh * geo.dh, kh * geo.dh + geo.sh * (geo.OH - 1) + 1, geo.sh)
                cols = slice(kw * geo.dw, kw * geo.dw + geo.sw * (geo.OW - 1) + 1, geo.sw)
                p = xp[:, :, rows, cols] * w[:, 0, kh, kw].reshape(1, -1, 1, 1)
                every &= ~inside[rows, cols] | ((p == 0) & np.signbit(p))
    out[(out == 0) & every & negative.reshape(1, -1, 1, 1)] = -0.0
    return out


def _onednn_depthwise(geo, eh, ew):
    """Does oneDNN (3.x, AVX-512) run a float32 depthwise convolution with its jit_dw kernel (which starts from the
    bias)? Its init_conf refuses a kernel wholly in the padding at an end (the end padding computed from the output
    size), or a left padding, or a right one left by the output's full blocks of ur_w = min(6, OW) columns, wider
    than ur_w; PyTorch then gets oneDNN's gemm convolution, which sums from +0.0 (measured with ONEDNN_VERBOSE).
    The input is the one PyTorch convolves: padding='same' pads it by the difference first."""
    height, width = geo.H + geo.pb - geo.pt, geo.W + geo.pr - geo.pl
    b_pad = (geo.OH - 1) * geo.sh + eh - (height + geo.pt)
    r_pad = (geo.OW - 1) * geo.sw + ew - (width + geo.pl)
    if eh <= geo.pt or eh <= b_pad or ew <= geo.pl or ew <= r_pad:
        return False
    ur = min(6, geo.OW)
    full = (geo.OW - geo.OW % ur - 1) * geo.sw + ew - (width + geo.pl)
    return geo.pl <= ur and max(0, full) <= ur


def _bias_start_signs(out, x, w, b, geo):
    """The zero entries of a convolution with a bias by PyTorch's native kernels (slow_conv2d,
    slow_conv_dilated2d; per group): they copy the bias into the output and add the gemm of the weight and the
    unfolded padded input to it, so a zero is -0.0 where the bias is -0.0 and every product is -0.0 (the
    padding's +0.0 times a negative weight too); one output pixel is a gemv summed from +0.0 first. Only channels
    whose bias is -0.0 can change (measured on PyTorch 2.13)."""
    negative = (b == 0) & np.signbit(b)
    if geo.OH * geo.OW < 2 or not negative.any() or np.count_nonzero(out) == out.size:
        return out
    xp = np.pad(x, ((0, 0), (0, 0), (geo.pt, geo.pb), (geo.pl, geo.pr)))
    per_group, outs = geo.C // geo.G, geo.O // geo.G
    every = np.broadcast_to(negative.reshape(1, -1, 1, 1), out.shape).copy()
    with np.errstate(all="ignore"):
        for kh in range(geo.KH):
            for kw in range(geo.KW):
                rows = slice(kh * geo.dh, kh * geo.dh + geo.sh * (geo.OH - 1) + 1, geo.sh)
                cols = slice(kw * geo.dw, kw * geo.dw + geo.sw * (geo.OW - 1) + 1, geo.sw)
                taps = xp[:, :, rows, cols].reshape(geo.N, geo.G, 1, per_group, geo.OH, geo.OW)
                p = taps * w[:, :, kh, kw].reshape(1, geo.G, outs, per_group, 1, 1)
                every &= ((p == 0) & np.signbit(p)).all(axis=3).reshape(out.shape)
    out[(out == 0) & every] = -0.0
    return out


def _zeros_rule(xp, need, g, out, *inputs):
    return tuple(xp.zeros_like(t) if needed else None for t, needed in zip(inputs, need, strict=True))


# ---------------------------------------------------------------------- pooling
class _PoolGeometry:
    """Windows of a 2-D pooling over the last two axes of an input (..., H, W).

    A window is a rectangle, so pooling is separable: reduce along the width (the padded input (B, Hq, Wq)
    becomes (B, Hq, OW)), then along the height (-> (B, OH, OW)). Each pass is a loop over the kernel's
    length on that axis, one strided view per tap, and gradients flow back through the passes in reverse.
    """

    __slots__ = ("H", "W", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw", "OH", "OW", "Hq", "Wq", "lead")

    def __init__(self, op, shape, kernel, stride, padding, dilation, ceil_mode):
        self.lead = shape[:-2]
        self.H, self.W = shape[-2:]
        (self.KH, self.KW), (self.sh, self.sw) = kernel, stride
        (self.ph, self.pw), (self.dh, self.dw) = padding, dilation
        self.OH = _pool_out(self.H, self.KH, self.sh, self.ph, self.dh, ceil_mode)
        self.OW = _pool_out(self.W, self.KW, self.sw, self.pw, self.dw, ceil_mode)
        if self.OH < 1 or self.OW < 1:
            raise RuntimeError(f"{op}: given input of shape {tuple(shape)}, the calculated output size "
                               f"({self.OH} x {self.OW}) is too small (kernel {kernel}, stride {stride}, "
                               f"padding {padding}, dilation {dilation})")
        # The padded extent the windows reach (ceil_mode may reach past the right padding).
        self.Hq = max(self.H + 2 * self.ph, (self.OH - 1) * self.sh + self.dh * (self.KH - 1) + 1)
        self.Wq = max(self.W + 2 * self.pw, (self.OW - 1) * self.sw + self.dw * (self.KW - 1) + 1)

    def padded(self, x, fill):
        """x as (B, Hq, Wq) with ``fill`` around it (x itself, uncopied, when no padding is needed)."""
        x = x.reshape((-1, self.H, self.W))
        if (self.Hq, self.Wq) == (self.H, self.W):
            return x
        buf = np.full((x.shape[0], self.Hq, self.Wq), fill, x.dtype)
        buf[:, self.ph:self.ph + self.H, self.pw:self.pw + self.W] = x
        return buf

    def crop(self, buf):
        inside = buf[:, self.ph:self.ph + self.H, self.pw:self.pw + self.W]
        return inside.reshape(self.lead + (self.H, self.W))

    def axis(self, axis):
        """(kernel, stride, dilation, output length, padded length) along axis 1 (height) or 2 (width)."""
        if axis == 1:
            return self.KH, self.sh, self.dh, self.OH, self.Hq
        return self.KW, self.sw, self.dw, self.OW, self.Wq

    def tap(self, a, axis, j):
        """The view of ``a`` that tap ``j`` of every window along ``axis`` reads."""
        k, s, d, n, _ = self.axis(axis)
        taps = slice(j * d, j * d + s * (n - 1) + 1, s)
        return a[:, taps] if axis == 1 else a[:, :, taps]

    def first_inside(self, axis):
        """Each window's first tap inside the input along ``axis`` (0 for a window wholly in the padding), or
        None when every tap of every window is inside."""
        k, s, d, n, _ = self.axis(axis)
        p, size = (self.ph, self.H) if axis == 1 else (self.pw, self.W)
        taps = np.arange(n)[:, None] * s + np.arange(k) * d - p
        inside = (taps >= 0) & (taps < size)
        return None if inside.all() else inside.argmax(axis=1).astype(np.int8)

    def overlapping(self, axis):
        k, s, d, _, _ = self.axis(axis)
        return s < d * (k - 1) + 1

    def out_shape(self):
        return self.lead + (self.OH, self.OW)


@functools.cache
def _first_of_equals(dtype):
    """``maximum(earlier, later, out=None)``: np.maximum, keeping the earlier of two equal values (-0.0 before
    0.0, as PyTorch's max pooling). numpy's loops break ties differently (float16's keeps its first argument,
    the SIMD loops of float32 and float64 their second), so the order is measured once per dtype; if numpy is
    not consistent, a slower exact form is used."""
    earlier, later = np.full(64, -0.0, dtype), np.zeros(64, dtype)
    kept = [np.signbit(np.maximum(e, v)) for e, v in ((earlier, later), (earlier[::2], later[1::2]))]
    if all(k.all() for k in kept):
        return lambda e, v, out=None: np.maximum(e, v, out=out)
    if not any(k.any() for k in kept):
        return lambda e, v, out=None: np.maximum(v, e, out=out)

    def exact(e, v, out=None):
        best = np.where((v > e) | np.isnan(v), v, e)
        return best if out is None else np.copyto(out, best) or out

    return exact


def _window_max(geo, a, axis, pick, nan_aware=False):
    """Max over the windows along ``axis`` (the first of equal maxima, as PyTorch: -0.0 before 0.0); with
    ``pick``, also each window's tap of the first maximum or, ``nan_aware``, of the last NaN (a NaN wins)."""
    k = geo.axis(axis)[0]
    first = geo.tap(a, axis, 0)
    if k == 1:
        return first, (np.zeros(first.shape, np.int8) if pick else None)
    maximum = _first_of_equals(a.dtype)
    best = maximum(first, geo.tap(a, axis, 1))
    which = None
    if pick:
        second = geo.tap(a, axis, 1)
        hit = (second > first) | np.isnan(second) if nan_aware else second > first
        which = hit.view(np.int8)  # taps 0 and 1: the bools are the tap numbers
    for j in range(2, k):
        v = geo.tap(a, axis, j)
        if pick:
            hit = (v > best) | np.isnan(v) if nan_aware else v > best
            which += hit * (j - which)  # NOTE: arithmetic, not where=: masked writes are slow on random masks
        maximum(best, v, out=best)
    return best, which


def _first_inside_on_ties(geo, values, which, axis, fill):
    """Where a window's maximum along ``axis`` is ``fill``, pick its first tap inside the input (in place)."""
    first = geo.first_inside(axis)
    if first is None:
        return
    if axis == 2:
        inside = values[:, geo.ph:geo.ph + geo.H]  # the rows of padding are never picked by the height pass
        mask = inside == fill
        if mask.any():
            np.copyto(which[:, geo.ph:geo.ph + geo.H], first, where=mask)
    else:
        mask = values == fill
        if mask.any():
            np.copyto(which, first[:, None], where=mask)


def _window_unpick(geo, g, which, axis):
    """The adjoint of picking: each window's gradient goes to the tap ``which`` names, along ``axis``."""
    shape = list(g.shape)
    shape[axis] = geo.axis(axis)[4]
    out = np.zeros(shape, g.dtype)
    k = geo.axis(axis)[0]
    overlapping = geo.overlapping(axis)
    finite = k == 1 or np.isfinite(g).all()
    for j in range(k):
        view = geo.tap(out, axis, j)
        if k == 1:
            view[...] = g
            continue
        # NOTE: multiplying by the mask is much faster than masked writes, but would spread a non-finite
        # gradient (inf * 0 = nan) to the taps that are not the maximum: those gradients take np.where.
        if finite and not overlapping:
            np.multiply(g, which == j, out=view)
        elif finite:
            np.add(view, g * (which == j), out=view)
        else:
            np.add(view, np.where(which == j, g, 0), out=view)
    return out


def _window_sum(geo, a, axis):
    k = geo.axis(axis)[0]
    total = geo.tap(a, axis, 0).copy()
    for j in range(1, k):
        np.add(total, geo.tap(a, axis, j), out=total)
    return total


def _window_spread(geo, g, axis):
    """The adjoint of a window sum: each window's gradient goes to all its taps, along ``axis``."""
    shape = list(g.shape)
    shape[axis] = geo.axis(axis)[4]
    out = np.zeros(shape, g.dtype)
    for j in range(geo.axis(axis)[0]):
        view = geo.tap(out, axis, j)
        np.add(view, g, out=view)
    return out


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size: floor (or ceil) division, with the last window starting inside."""
    span = size + 2 * p - d * (k - 1) - 1
    n = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def _pool_args(op, input, kernel_size, stride, padding, dilation):
    x = _tensor_input(op, input)
    if x.ndim not in (3, 4) or x.size == 0 and 0 in x.shape[-3:]:
        error = IndexError if op == "avg_pool2d" and x.ndim < 3 else RuntimeError  # PyTorch's, for each op
        raise error(f"{op}: expected a non-empty 3-D (C, H, W) or 4-D (N, C, H, W) input, but got input of "
                    f"shape {_shape(x)}")
    kernel = _pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _pair(op, "stride", stride)
    padding, dilation = _pair(op, "padding", padding), _pair(op, "dilation", dilation)
    if min(kernel) <= 0:
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got kernel_size={kernel}")
    if min(stride) <= 0:
        raise RuntimeError(f"{op}: stride must be greater than zero, but got stride={stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op}: dilation must be greater than zero, but got dilation={dilation}")
    for p, k in zip(padding, kernel, strict=True):
        if p < 0 or p > k // 2:  # NOTE: half the kernel, not the dilated kernel: PyTorch's CPU pooling checks that
            raise RuntimeError(f"{op}: pad should be non-negative and at most half of the kernel size, but got "
                               f"padding={padding} and kernel_size={kernel}")
    return kernel, stride, padding, dilation


@op(methods=())
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
    return_indices=False)

    The maximum over each (dilated) kernel window of an input (N, C, H, W) or (C, H, W); ``stride`` defaults
    to ``kernel_size`` and padding counts as -inf. The gradient goes to the first maximum of each window (the
    element ``return_indices`` names, as a flat index into each H*W plane).

    >>> import tapegrad as tg
    >>> tg.nn.functional.max_pool2d(tg.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    op_name = "max_pool2d"
    kernel, stride, padding, dilation = _pool_args(op_name, input, kernel_size, stride, padding, dilation)
    x = input._data
    if x.dtype.kind not in "iuf":
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors, as in PyTorch")
    geo = _PoolGeometry(op_name, x.shape, kernel, stride, padding, dilation, ceil_mode)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    buf = geo.padded(x, fill)
    pick = return_indices or (input.requires_grad and _grad_state.enabled)
    # Along the width, then the height: the first maximum of the first row holding the window's maximum is the
    # window's first maximum in row-major order.
    rows, col_pick = _window_max(geo, buf, 2, pick)
    best, row_pick = _window_max(geo, rows, 1, pick)
    if pick and x.dtype.kind == "f" and np.isnan(best).any():
        rows, col_pick = _window_max(geo, buf, 2, pick, nan_aware=True)
        best, row_pick = _window_max(geo, rows, 1, pick, nan_aware=True)
    if pick:
        # A window whose maximum is the fill value (-inf, or an integer dtype's least value) ties with its taps
        # in the padding: PyTorch never picks those, but the first tap inside the input.
        _first_inside_on_ties(geo, rows, col_pick, 2, fill)
        _first_inside_on_ties(geo, best, row_pick, 1, fill)
    if best.base is not None and (best.size == 0 or np.shares_memory(best, x)):
        best = best.copy()  # a 1x1 kernel, or an empty input: the output must be a new array, not a view of x
    out = memory_formats.follow_channels_last(best.reshape(geo.out_shape()), x)
    if not pick:
        return wrap(out)

    def scatter(g):
        """Send each window's gradient to its maximum."""
        per_row = _window_unpick(geo, g.reshape(row_pick.shape), row_pick, 1)
        return np.ascontiguousarray(geo.crop(_window_unpick(geo, per_row, col_pick, 2)))

    def positions():
        """Each maximum's (row, column) in the padded input."""
        k, s, d, n, _ = geo.axis(1)
        r = np.arange(n).reshape(-1, 1) * s + row_pick * d
        c = np.arange(geo.OW) * geo.sw + np.take_along_axis(col_pick, r, axis=1) * geo.dw
        return r, c

    def gather(h):
        """The adjoint of scatter: each window's maximum's entry of h."""
        r, c = positions()
        flat = (r * geo.Wq + c).reshape(r.shape[0], -1)
        hbuf = geo.padded(h, 0)
        return np.take_along_axis(hbuf.reshape(hbuf.shape[0], -1), flat, axis=1).reshape(geo.out_shape())

    def max_pool2d_rule(xp, g, out, x):
        return xp.linear(scatter, gather, g, "MaxPool2DWithIndicesBackwardBackward0")

    result = record(out, (input,), max_pool2d_rule, "MaxPool2DWithIndicesBackward0")
    if return_indices:
        r, c = positions()
        indices = ((r - geo.ph) * geo.W + c - geo.pw).astype(np.int64).reshape(geo.out_shape())
        return result, wrap(memory_formats.follow_channels_last(indices, x))
    return result


@op(methods=())
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)

    The mean over each kernel window of an input (N, C, H, W) or (C, H, W); ``stride`` defaults to
    ``kernel_size``. Zero padding counts in the divisor if ``count_include_pad`` (window parts beyond the
    padding, from ``ceil_mode``, never do); ``divisor_override`` replaces the divisor.

    >>> import tapegrad as tg
    >>> tg.nn.functional.avg_pool2d(tg.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    op_name = "avg_pool2d"
    kernel, stride, padding, _ = _pool_args(op_name, input, kernel_size, stride, padding, 1)
    x = input._data
    if x.dtype.kind != "f" and x.dtype != np.int64:
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors (PyTorch's takes floating "
                                  "point and int64 inputs); cast with .float() or .long()")
    geo = _PoolGeometry(op_name, x.shape, kernel, stride, padding, (1, 1), ceil_mode)
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or isinstance(divisor_override, bool):
            raise TypeError(f"{op_name}: divisor_override must be an int, but got {divisor_override!r}")
        if divisor_override == 0:
            raise RuntimeError(f"{op_name}: divisor_override must not be zero")
        divisor = int(divisor_override)
    else:
        divisor = _avg_divisor(geo, count_include_pad)
    integer = x.dtype.kind != "f"

    def window_sum(buf):
        # NOTE: tap by tap in row-major order, as PyTorch's cpu_avg_pool loop (AvgPoolKernel.cpp): where large values
        # cancel, the order decides what is left (lp_pool2d's x ** 3 of 3e38 and -3e38 beside -2e14 and 1)
        total = None
        for i in range(geo.axis(1)[0]):
            rows = geo.tap(buf, 1, i)
            for j in range(geo.axis(2)[0]):
                if total is None:
                    total = geo.tap(rows, 2, j).copy()
                else:
                    np.add(total, geo.tap(rows, 2, j), out=total)
        return total

    def apply(a):
        buf = geo.padded(a, 0)
        with np.errstate(over="ignore"):
            total = window_sum(buf)
        if integer:  # integer inputs: the quotient truncated toward zero, as PyTorch
            return (np.sign(total) * (np.abs(total) // divisor)).astype(a.dtype).reshape(geo.out_shape())
        d = np.asarray(divisor, a.dtype)
        mean = total / d
        if not np.isfinite(total).all():
            # NOTE: a sum of huge values can overflow where their mean does not: scale first, then add.
            mean = window_sum(buf / np.max(d)) * (np.max(d) / d)
        np.add(mean, 0, out=mean)  # NOTE: a zero mean is +0 in PyTorch, whatever the signs (0 / -1 = +0 there)
        return mean.reshape(geo.out_shape())

    def adjoint(g):
        share = g.reshape((-1, geo.OH, geo.OW)) / np.asarray(divisor, g.dtype)
        return np.ascontiguousarray(geo.crop(_window_spread(geo, _window_spread(geo, share, 1), 2)))

    out = memory_formats.follow_channels_last(apply(x), x)
    if integer:
        return wrap(out)

    def avg_pool2d_rule(xp, g, out, x):
        return xp.linear(adjoint, apply, g, "AvgPool2DBackwardBackward0")

    return record(out, (input,), avg_pool2d_rule, "AvgPool2DBackward0")


def _avg_divisor(geo, count_include_pad):
    """PyTorch's divisor per output position, shape (OH, OW) (or a number when all windows are full)."""
    def extent(n_out, s, p, k, size):
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, size + p)
        full = end - start
        return full, np.minimum(end, size) - np.maximum(start, 0)

    full_h, inside_h = extent(geo.OH, geo.sh, geo.ph, geo.KH, geo.H)
    full_w, inside_w = extent(geo.OW, geo.sw, geo.pw, geo.KW, geo.W)
    divisor = np.outer(full_h, full_w) if count_include_pad else np.outer(inside_h, inside_w)
    return int(divisor.flat[0]) if (divisor == divisor.flat[0]).all() else divisor


def _check_grad_output(op_name, g):
    """PyTorch's adaptive_pool_empty_output_check: its adaptive pooling backward refuses a gradient with an empty
    dim after the first (the batch's, or an unbatched input's channels), though the forward gave that result."""
    for i, s in enumerate(tuple(g.shape)[1:], 1):
        if s == 0:
            raise RuntimeError(f"{op_name}_backward(): Expected grad_output to have non-zero size for non-batch "
                               f"dimensions, but grad_output has sizes {list(g.shape)} with dimension {i} being "
                               "empty")


@op(methods=())
def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """adaptive_avg_pool2d(input, output_size) -> Tensor

    Average pooling to a fixed output size (an int, or a pair whose entries may be None for "keep"): output
    (i, j) averages rows floor(i*H/OH) to ceil((i+1)*H/OH) and the columns likewise, as PyTorch.

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_avg_pool2d(tg.arange(9.0).reshape(1, 1, 3, 3), 2)
    tensor([[[[2., 3.],
              [5., 6.]]]])
    """
    op_name = "adaptive_avg_pool2d"
    x = _tensor_input(op_name, input)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise RuntimeError(f"{op_name}: output_size must have 2 entries, got {output_size!r}")
        if x.ndim < 2 and None in output_size:
            raise IndexError(f"{op_name}: expected an input of at least 2 dimensions, got shape {_shape(x)}")
        size = tuple(x.shape[-2 + k] if s is None else s for k, s in enumerate(output_size))
    else:
        size = (output_size, output_size)
    oh, ow = _pair(op_name, "output_size", size)
    if oh < 0 or ow < 0:
        raise RuntimeError(f"{op_name}: output_size must be non-negative, got ({oh}, {ow})")
    if (oh, ow) == (1, 1):  # global average pooling: one mean over the last two dims, of any input (PyTorch's)
        if x.ndim < 2:
            raise IndexError(f"{op_name}: expected an input of at least 2 dimensions, got shape {_shape(x)}")
        if x.dtype.kind != "f":
            raise RuntimeError(f"{op_name}: mean of {x.dtype} values: the output dtype cannot be inferred (as in "
                               "PyTorch); use a floating-point input")
        from .reduce import mean  # (PyTorch's own call: its float16 sum in float32, the sign of a zero mean)

        return mean(input, (-2, -1), keepdim=True)
    if x.ndim not in (3, 4):
        raise RuntimeError(f"{op_name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, but got input of "
                           f"shape {_shape(x)}")
    if 0 in x.shape[-2:]:
        raise RuntimeError(f"{op_name}: expected input to have non-zero size for its height and width, but "
                           f"got input of shape {_shape(x)}")
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op_name}: not implemented for dtype {x.dtype}; use a floating-point input")
    rows, cols = _AdaptiveAxis(x.shape[-2], oh, -2), _AdaptiveAxis(x.shape[-1], ow, -1)
    taps = [adaptive_taps(x.shape[-2], oh), adaptive_taps(x.shape[-1], ow)]

    def apply(a):
        return adaptive_mean(a.reshape((-1,) + a.shape[-2:]), taps).reshape(a.shape[:-2] + (oh, ow))

    def adjoint(g):  # (PyTorch's backward kernel: each window's grad_output / kh / kw, added to its places)
        return rows.spread(cols.spread(g / rows.sizes[:, None].astype(g.dtype) / cols.sizes.astype(g.dtype)))

    def adaptive_avg_pool2d_rule(xp, g, out, x):
        if 0 in tuple(g.shape):
            _check_grad_output(op_name, g)
        return xp.linear(adjoint, apply, g, "AdaptiveAvgPool2DBackwardBackward0")

    out = memory_formats.follow_channels_last(apply(x), x)
    return record(out, (input,), adaptive_avg_pool2d_rule, "AdaptiveAvgPool2DBackward0")


def adaptive_taps(n_in, n_out):
    """Adaptive pooling's windows along one axis as taps: (idx, valid), both (n_out, k) for the widest window k;
    output i covers [floor(i*n/m), ceil((i+1)*n/m)), as PyTorch's start_index/end_index."""
    i = np.arange(n_out)
    start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
    k = int((end - start).max()) if n_out else 1
    idx = start[:, None] + np.arange(k)[None, :]
    return idx, idx < end[:, None]


def adaptive_mean(x, taps):
    """PyTorch's adaptive average (AdaptiveAvgPoolKernel.cpp) of x (B, *S) over the windows ``taps``: each window
    summed from +0.0 in the kernel's loop order, in float32 for float16/bfloat16 (its opmath type), then divided by
    its extent along each axis in turn (``sum / kh / kw``) and cast back. So a sum of huge values overflows to inf
    and a window of -0.0 gives +0, as there."""
    acc = np.float32 if x.dtype.itemsize < 4 else x.dtype
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf is NaN, as in PyTorch
        mean = _ordered_window_sum(x.astype(acc, copy=False), taps)
        for a, (_, valid) in enumerate(taps):
            extent = valid.sum(axis=1).astype(acc)
            mean /= extent.reshape(extent.shape + (1,) * (len(taps) - 1 - a))
    return mean.astype(x.dtype, copy=False)


def _ordered_window_sum(x, taps):
    """Sums over the valid taps of every window of x (B, *S) in PyTorch's adaptive-pooling loop order (the first
    axis outermost, from +0.0, in x's dtype), one tap offset at a time: its rounding where large values cancel."""
    acc = np.zeros((x.shape[0],) + tuple(idx.shape[0] for idx, _ in taps), x.dtype)
    # per axis and tap offset: the input positions (clipped where the tap is past a window) and their validity
    at = [np.clip(idx, 0, n - 1).T for (idx, _), n in zip(taps, x.shape[1:], strict=True)]
    valid = [v.T for _, v in taps]
    full = [v.all(axis=1) for v in valid]
    for offsets in np.ndindex(*(idx.shape[1] for idx, _ in taps)):
        values = x[(slice(None),) + np.ix_(*(a[t] for a, t in zip(at, offsets, strict=True)))]
        if all(f[t] for f, t in zip(full, offsets, strict=True)):
            acc += values
            continue
        mask = np.ones(acc.shape[1:], bool)
        for a, (v, t) in enumerate(zip(valid, offsets, strict=True)):
            mask &= v[t].reshape((-1,) + (1,) * (len(taps) - a - 1))
        acc += np.where(mask, values, np.zeros((), x.dtype))
    return acc


class _AdaptiveAxis:
    """Adaptive pooling's windows along one axis, for spreading gradients back: output i covers
    [floor(i*n/m), ceil((i+1)*n/m)), as PyTorch; when the windows tile the axis (n divisible by m), one repeat."""

    def __init__(self, n_in, n_out, axis):
        i = np.arange(n_out)
        self.start = (i * n_in) // n_out
        self.end = -((-(i + 1) * n_in) // n_out)
        self.sizes = self.end - self.start
        self.axis, self.n_in = axis, n_in
        self.tiles = n_out > 0 and bool((self.start[1:] == self.end[:-1]).all()) and self.end[-1] == n_in

    def spread(self, g):
        """Each window's value added to every place it covers (the adjoint of the window sums)."""
        if self.tiles:
            return np.repeat(g, self.sizes, axis=self.axis)
        shape = list(g.shape)
        shape[self.axis] = self.n_in
        out = np.zeros(shape, g.dtype)
        index = (slice(None),) * (g.ndim + self.axis)
        for i, (s, e) in enumerate(zip(self.start, self.end, strict=True)):
            view = out[index + (slice(s, e),)]
            np.add(view, g[index + (slice(i, i + 1),)], out=view)
        return out
