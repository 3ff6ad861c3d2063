"""Pooling over 1, 2 or 3 spatial dims: max (with indices), average, adaptive max/average, max-unpooling.

A window of a pooling is a box, so every pooling here is separable: it reduces one spatial axis at a time, the last
first. Along an axis, output position o reads the taps ``idx[o, t]`` (input coordinates) where ``valid[o, t]``:
fixed windows (``o*stride - padding + t*dilation`` inside the input) and adaptive ones (``floor(o*S/O)`` to
``ceil((o+1)*S/O)``) are the same data. Padding is never materialized: a tap outside the input is not valid.

The maximum follows PyTorch's CPU kernels over each window in row-major order: the first strict maximum, the last
NaN, and the first tap inside the input when every value is the least (-inf). Reducing the last axis first and
then the earlier ones picks exactly that element. Gradients are linear maps recorded with their adjoints
(``xp.linear``), so every order is available.

1-D poolings are the 2-D ones over (1, L), squeezed, as in PyTorch (``SqueezeBackward1``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import memory_formats
from ..autograd.declare import Tensor, expected_tensor, op, record, wrap
from .conv import (
    _check_grad_output,
    _ordered_window_sum,
    adaptive_avg_pool2d,
    adaptive_mean,
    adaptive_taps,
    avg_pool2d,
    max_pool2d,
)

__all__ = ["max_pool1d", "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d",
           "max_pool3d_with_indices", "avg_pool1d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
           "max_unpool1d", "max_unpool2d", "max_unpool3d"]


# ---------------------------------------------------------------------- arguments
def _tuple(op_name, name, value, d):
    if isinstance(value, Tensor):
        value = value.tolist()
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for v in items:
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{op_name}: {name} must be an int or a tuple of {d} ints, but got {name}={value!r}")
    if len(items) == 1:
        items = items * d
    if len(items) != d:
        raise RuntimeError(f"{op_name}: {name} must be a single int or a tuple of {d} ints, but got "
                           f"{name}={value!r}")
    return tuple(int(v) for v in items)


def _input(op_name, input, d, empty_ok=False, channels=True):
    if not isinstance(input, Tensor):
        raise expected_tensor(op_name, input)
    x = input._data
    # PyTorch's pool shape checks: every non-batch dim positive (an unbatched input's channels too, except for
    # adaptive max pooling: ``channels`` False)
    if x.ndim not in (d + 1, d + 2) or (not empty_ok and 0 in x.shape[x.ndim - d - (channels or x.ndim > d + 1):]):
        raise RuntimeError(f"{op_name}: expected a non-empty {d + 1}-D (unbatched) or {d + 2}-D (batched) input, "
                           f"but got input of shape {tuple(x.shape)}")
    return x


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size: floor (or ceil) division, the last window starting inside."""
    span = size + 2 * p - d * (k - 1) - 1
    n = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def _window_args(op_name, d, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _tuple(op_name, "kernel_size", kernel_size, d)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _tuple(op_name, "stride", stride, d)
    padding, dilation = _tuple(op_name, "padding", padding, d), _tuple(op_name, "dilation", dilation, d)
    if min(kernel) <= 0:
        raise RuntimeError(f"{op_name}: kernel_size must be greater than zero, but got kernel_size={kernel}")
    if min(stride) <= 0:
        raise RuntimeError(f"{op_name}: stride must be greater than zero, but got stride={stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op_name}: dilation must be greater than zero, but got dilation={dilation}")
    for p, k in zip(padding, kernel, strict=True):
        if p < 0 or p > k // 2:
            raise RuntimeError(f"{op_name}: pad should be non-negative and at most half of the kernel size, but got "
                               f"padding={padding} and kernel_size={kernel}")
    sizes = x.shape[-d:]
    out = tuple(_pool_out(n, k, s, p, dl, ceil_mode)
                for n, k, s, p, dl in zip(sizes, kernel, stride, padding, dilation, strict=True))
    if min(out) < 1:
        raise RuntimeError(f"{op_name}: given input of shape {tuple(x.shape)}, the calculated output size {out} is "
                           f"too small (kernel_size={kernel}, stride={stride}, padding={padding}, "
                           f"dilation={dilation})")
    taps = []
    for n, k, s, p, dl, o in zip(sizes, kernel, stride, padding, dilation, out, strict=True):
        idx = np.arange(o)[:, None] * s - p + np.arange(k)[None, :] * dl
        taps.append((idx, (idx >= 0) & (idx < n)))
    return kernel, stride, padding, taps


def _adaptive_size(op_name, x, output_size, d):
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * d
    if len(items) != d:
        raise RuntimeError(f"{op_name}: output_size must be an int or a tuple of {d} ints (None keeps that size), "
                           f"but got output_size={output_size!r}")
    if d == 1 and None in items:  # PyTorch's 1-d signatures take ints only
        raise TypeError(f"{op_name}(): argument 'output_size' must be tuple of ints, but found element of type "
                        f"NoneType (got {output_size!r})")
    size = tuple(x.shape[-d + i] if v is None else v for i, v in enumerate(items))
    size = _tuple(op_name, "output_size", size, d)
    if min(size) < 0:
        raise RuntimeError(f"{op_name}: output_size must be non-negative, but got {size}")
    return size


def _adaptive_taps(sizes, out):
    return [adaptive_taps(n, o) for n, o in zip(sizes, out, strict=True)]


# ---------------------------------------------------------------------- separable reductions
def _gather_taps(a, ax, idx, valid, fill):
    """a's taps along axis ``ax``: (..., O, ..., k) with the window's taps last, ``fill`` where not valid."""
    o, k = idx.shape
    w = np.take(a, np.clip(idx, 0, a.shape[ax] - 1).ravel(), axis=ax)
    w = np.moveaxis(w.reshape(a.shape[:ax] + (o, k) + a.shape[ax + 1:]), ax + 1, -1)
    if not valid.all():
        shape = (o,) + (1,) * (a.ndim - ax - 1) + (k,)
        w = np.where(valid.reshape(shape), w, np.asarray(fill, a.dtype))
    return w


def _separable_max(x, taps):
    """Values and flat indices (into each spatial plane) of the window maxima of x (B, *S), PyTorch's choice."""
    d = len(taps)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    vals, pos = x, [None] * d
    for a in reversed(range(d)):
        ax = a + 1
        idx, valid = taps[a]
        o, k = idx.shape
        w = _gather_taps(vals, ax, idx, valid, fill)
        j = np.argmax(w, axis=-1)
        m = np.take_along_axis(w, j[..., None], -1)[..., 0]
        shape = (o,) + (1,) * (vals.ndim - ax - 1)
        low = m == fill
        if low.any():  # every valid tap holds the least value: the first valid tap, as PyTorch
            first = np.argmax(valid, axis=1).reshape(shape)
            j = np.where(low, first, j)
        if x.dtype.kind == "f":
            nan = np.isnan(m)
            if nan.any():  # PyTorch's kernel takes every NaN it meets: the last one
                last = k - 1 - np.argmax(np.isnan(w)[..., ::-1], axis=-1)
                j = np.where(nan, last, j)
        o_grid = np.arange(o).reshape(shape)
        coord = idx[o_grid, j]
        for b in range(a + 1, d):  # earlier picks follow the chosen taps
            pos[b] = np.take_along_axis(pos[b], coord, axis=ax)
        vals = np.take_along_axis(vals, coord, axis=ax)
        pos[a] = coord
    sizes = x.shape[1:]
    flat = np.zeros(vals.shape, np.int64)
    for a in range(d):
        flat += pos[a] * math.prod(sizes[a + 1:])
    return vals, flat


def _separable_sum(x, taps):
    """Sums over the valid taps of every window of x (B, *S), one axis at a time."""
    out = x
    for a in reversed(range(len(taps))):
        idx, valid = taps[a]
        out = _gather_taps(out, a + 1, idx, valid, 0).sum(axis=-1, dtype=x.dtype)
    return out


def _separable_spread(g, taps, sizes):
    """The adjoint of _separable_sum: each window's value added to each of its valid taps."""
    out = g
    for a in range(len(taps)):
        idx, valid = taps[a]
        ax = a + 1
        moved = np.moveaxis(out, ax, 0)
        acc = np.zeros((sizes[a],) + moved.shape[1:], g.dtype)
        for t in range(idx.shape[1]):
            ok = valid[:, t]
            np.add.at(acc, idx[ok, t], moved[ok])
        out = np.moveaxis(acc, 0, ax)
    return out


def _scatter_to_planes(g, flat, plane):
    """(B, *O) values sent to their flat positions in (B, plane), repeats added."""
    b = g.shape[0]
    where = (np.arange(b).reshape((b,) + (1,) * (flat.ndim - 1)) * plane + flat).ravel()
    return np.bincount(where, weights=g.ravel(), minlength=b * plane).astype(g.dtype, copy=False)


def _gather_from_planes(h, flat):
    b = flat.shape[0]
    return np.take_along_axis(h.reshape(b, -1), flat.reshape(b, -1), axis=1).reshape(flat.shape)


def _record_max(input, x, d, vals, flat, lead, name, adaptive=None):
    """The pooled maximum as a node whose gradient goes to each window's maximum (``adaptive``: the op's name
    whose backward refuses an empty gradient, as PyTorch's adaptive max pooling)."""
    sizes = x.shape[-d:]
    plane = math.prod(sizes)
    out_shape = lead + vals.shape[1:]

    def scatter(g):
        return _scatter_to_planes(g.reshape(vals.shape), flat, plane).reshape(lead + sizes)

    def gather(h):
        return _gather_from_planes(h.reshape((-1,) + sizes), flat).reshape(out_shape)

    def max_pool_rule(xp, g, out, x):
        if adaptive is not None and 0 in tuple(g.shape):
            _check_grad_output(adaptive, g)
        return xp.linear(scatter, gather, g, name.replace("Backward0", "BackwardBackward0"))

    out, indices = vals.reshape(out_shape), flat.reshape(out_shape)
    if adaptive is None or d == 2:  # PyTorch's CPU adaptive_max_pool3d has no channels-last kernel
        out = memory_formats.follow_channels_last(out, x)
        indices = memory_formats.follow_channels_last(indices, x)
    return record(out, (input,), max_pool_rule, name), wrap(indices)


# ---------------------------------------------------------------------- max pooling
def _max_pool(op_name, d, input, kernel_size, stride, padding, dilation, ceil_mode, name):
    x = _input(op_name, input, d)
    if x.dtype.kind not in "iuf":
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors, as in PyTorch")
    *_, taps = _window_args(op_name, d, x, kernel_size, stride, padding, dilation, ceil_mode)
    lead = x.shape[:-d]
    vals, flat = _separable_max(x.reshape((-1,) + x.shape[-d:]), taps)
    return _record_max(input, x, d, vals, flat, lead, name)


@op(methods=())
def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)

    ``max_pool3d`` returning ``(values, indices)``, indices flat into each D*H*W volume.

    >>> import tapegrad as tg
    >>> v, i = tg.nn.functional.max_pool3d_with_indices(tg.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    >>> v.flatten(), i.flatten()
    (tensor([7.]), tensor([7]))
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     "MaxPool3DWithIndicesBackward0")


@op(methods=())
def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)

    The maximum over each (dilated) window of an input (N, C, D, H, W) or (C, D, H, W); ``stride`` defaults to
    ``kernel_size``. The gradient goes to the element ``return_indices`` names (flat in each D*H*W volume).

    >>> import tapegrad as tg
    >>> tg.nn.functional.max_pool3d(tg.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten()
    tensor([7.])
    """
    out, idx = max_pool3d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


@op(methods=())
def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)

    ``max_pool2d`` returning ``(values, indices)``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.max_pool2d_with_indices(tg.arange(4.0).reshape(1, 1, 2, 2), 2)[1]
    tensor([[[[3]]]])
    """
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


@op(methods=())
def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)

    ``max_pool1d`` returning ``(values, indices)``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.max_pool1d_with_indices(tg.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    (tensor([[3., 2.]]), tensor([[1, 2]]))
    """
    op_name = "max_pool1d"
    _input(op_name, input, 1)
    k = _tuple(op_name, "kernel_size", kernel_size, 1)[0]
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _tuple(op_name, "stride", stride, 1)[0]
    p, dl = _tuple(op_name, "padding", padding, 1)[0], _tuple(op_name, "dilation", dilation, 1)[0]
    out, idx = max_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), (1, dl), ceil_mode, True)
    return out.squeeze(-2), idx.squeeze(-2)


@op(methods=())
def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)

    The maximum over each (dilated) window of an input (N, C, L) or (C, L); ``stride`` defaults to ``kernel_size``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.max_pool1d(tg.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[3., 2.]])
    """
    out, idx = max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices and out._data.dtype.kind != "f":
        # PyTorch computes an input that does not require grad with max_pool1d_impl, which has floating kernels
        # only (its _with_indices path, taken for return_indices, has integer ones)
        raise NotImplementedError(f"max_pool1d: \"max_pool1d_impl\" not implemented for {out._data.dtype} tensors, "
                                  "as PyTorch (return_indices=True computes them)")
    if not return_indices and out._base is not None and out._backward is None:
        # max_pool1d_impl's result is a tensor of its own (the _with_indices path's, for an input that requires
        # grad, is a squeeze of a 2-d pooling: a view, as here)
        out = wrap(out._data.copy())
    return (out, idx) if return_indices else out


# ---------------------------------------------------------------------- average pooling
@op(methods=())
def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)

    The mean over each window of an input (N, C, D, H, W) or (C, D, H, W); zero padding counts in the divisor if
    ``count_include_pad`` (never the part of a window past the padding); ``divisor_override`` replaces it.

    >>> import tapegrad as tg
    >>> tg.nn.functional.avg_pool3d(tg.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten()
    tensor([3.5000])
    """
    op_name, d = "avg_pool3d", 3
    x = _input(op_name, input, d)
    if (x.dtype.kind != "f" and x.dtype != np.int64) or x.dtype == np.float16:  # PyTorch's CPU kernel has no Half
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors (float32, float64 and int64 "
                                  "are, as in PyTorch); cast with .float()")
    kernel, stride, padding, taps = _window_args(op_name, d, x, kernel_size, stride, padding, 1, ceil_mode)
    sizes, lead = x.shape[-d:], x.shape[:-d]
    if any(n < k for n, k in zip(sizes, kernel, strict=True)):  # PyTorch's avg_pool3d check (padding aside)
        raise RuntimeError(f"{op_name}: input image (T: {sizes[0]} H: {sizes[1]} W: {sizes[2]}) smaller than kernel "
                           f"size (kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]}), as PyTorch refuses")
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or isinstance(divisor_override, bool):
            raise TypeError(f"{op_name}: divisor_override must be an int, but got {divisor_override!r}")
        if divisor_override == 0:
            raise RuntimeError(f"{op_name}: divisor_override must not be zero")
        divisor = np.asarray(int(divisor_override))
    else:
        per_axis = []
        for (idx, _), n, k, p in zip(taps, sizes, kernel, padding, strict=True):
            start = idx[:, 0]
            end = np.minimum(start + k, n + p)
            if count_include_pad:
                per_axis.append(end - start)
            else:
                per_axis.append(np.minimum(end, n) - np.maximum(start, 0))
        divisor = per_axis[0]
        for v in per_axis[1:]:
            divisor = np.multiply.outer(divisor, v)
    out_shape = lead + tuple(i.shape[0] for i, _ in taps)

    def apply(a):
        with np.errstate(over="ignore", invalid="ignore"):
            # (tap by tap in PyTorch's loop order, first axis outermost: where large values cancel, the order
            # decides what is left)
            total = _ordered_window_sum(a.reshape((-1,) + sizes), taps)
        if a.dtype.kind != "f":
            return (np.sign(total) * (np.abs(total) // divisor)).astype(a.dtype).reshape(out_shape)
        mean = total / divisor.astype(a.dtype)
        np.add(mean, 0, out=mean)
        return mean.reshape(out_shape)

    if x.dtype.kind != "f":
        return wrap(apply(x))

    def adjoint(g):
        share = g.reshape((-1,) + out_shape[-d:]) / divisor.astype(g.dtype)
        return _separable_spread(share, taps, sizes).reshape(lead + sizes)

    def avg_pool3d_rule(xp, g, out, x):
        return xp.linear(adjoint, apply, g, "AvgPool3DBackwardBackward0")

    return record(apply(x), (input,), avg_pool3d_rule, "AvgPool3DBackward0")


@op(methods=())
def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True)

    The mean over each window of an input (N, C, L) or (C, L); ``stride`` defaults to ``kernel_size``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.avg_pool1d(tg.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[2., 1.]])
    """
    op_name = "avg_pool1d"
    _input(op_name, input, 1)
    k = _tuple(op_name, "kernel_size", kernel_size, 1)[0]
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _tuple(op_name, "stride", stride, 1)[0]
    p = _tuple(op_name, "padding", padding, 1)[0]
    return avg_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(-2)


# ---------------------------------------------------------------------- adaptive pooling
@op(methods=())
def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """adaptive_avg_pool1d(input, output_size) -> Tensor

    Average pooling of an input (N, C, L) or (C, L) to ``output_size`` positions: output i averages
    floor(i*L/O) to ceil((i+1)*L/O).

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_avg_pool1d(tg.tensor([[1.0, 2.0, 3.0, 5.0]]), 2)
    tensor([[1.5000, 4.0000]])
    """
    op_name = "adaptive_avg_pool1d"
    x = _input(op_name, input, 1, empty_ok=True)  # adaptive_avg_pool2d decides about empty dims, as in PyTorch
    (o,) = _adaptive_size(op_name, x, output_size, 1)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, o)).squeeze(-2)


@op(methods=())
def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """adaptive_avg_pool3d(input, output_size) -> Tensor

    Average pooling of an input (N, C, D, H, W) or (C, D, H, W) to a fixed output size (an int or a triple whose
    entries may be None to keep that size).

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_avg_pool3d(tg.ones(1, 2, 4, 5, 6), 1).shape
    tapegrad.Size([1, 2, 1, 1, 1])
    """
    op_name, d = "adaptive_avg_pool3d", 3
    x = _input(op_name, input, d, empty_ok=True)
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors; use a floating-point input")
    out = _adaptive_size(op_name, x, output_size, d)
    if out == (1, 1, 1):  # PyTorch's global pooling is a mean, of any input (NaN where a window is empty)
        return input.mean((-3, -2, -1), keepdim=True)
    if 0 in x.shape[1:]:
        raise RuntimeError(f"{op_name}: expected input to have non-zero size for non-batch dimensions (as PyTorch), "
                           f"but got input of shape {tuple(x.shape)} and output_size={out}")
    sizes, lead = x.shape[-d:], x.shape[:-d]
    taps = _adaptive_taps(sizes, out)
    def apply(a):
        return adaptive_mean(a.reshape((-1,) + sizes), taps).reshape(lead + out)

    def adjoint(g):  # (PyTorch's backward kernel: each window's grad_output / kd / kh / kw, added to its places)
        b = math.prod(lead)  # (not -1: an empty output cannot infer it)
        share = g.reshape((b,) + out)
        for a, (_, valid) in enumerate(taps):
            extent = valid.sum(axis=1).astype(g.dtype)
            share = share / extent.reshape(extent.shape + (1,) * (d - 1 - a))
        return _separable_spread(share, taps, sizes).reshape(lead + sizes)

    def adaptive_avg_pool3d_rule(xp, g, out, x):
        if 0 in tuple(g.shape):
            _check_grad_output(op_name, g)
        return xp.linear(adjoint, apply, g, "AdaptiveAvgPool3DBackwardBackward0")

    return record(apply(x), (input,), adaptive_avg_pool3d_rule, "AdaptiveAvgPool3DBackward0")


def _adaptive_max(op_name, d, input, output_size, name):
    x = _input(op_name, input, d, channels=False)
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors; use a floating-point input")
    out = _adaptive_size(op_name, x, output_size, d)  # (an output size 0 gives an empty result, as PyTorch)
    sizes, lead = x.shape[-d:], x.shape[:-d]
    vals, flat = _separable_max(x.reshape((-1,) + sizes), _adaptive_taps(sizes, out))
    return _record_max(input, x, d, vals, flat, lead, name, adaptive=f"adaptive_max_pool{d}d")


@op(methods=())
def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool2d_with_indices(input, output_size) -> (Tensor, Tensor)

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_max_pool2d_with_indices(tg.arange(4.0).reshape(1, 2, 2), 1)
    (tensor([[[3.]]]), tensor([[[3]]]))
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, "AdaptiveMaxPool2DBackward0")


@op(methods=())
def adaptive_max_pool3d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool3d_with_indices(input, output_size) -> (Tensor, Tensor)

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_max_pool3d_with_indices(tg.arange(8.0).reshape(1, 2, 2, 2), 1)[1]
    tensor([[[[7]]]])
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, "AdaptiveMaxPool3DBackward0")


@op(methods=())
def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool1d_with_indices(input, output_size) -> (Tensor, Tensor)

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_max_pool1d_with_indices(tg.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    (tensor([[3., 2.]]), tensor([[1, 2]]))
    """
    op_name = "adaptive_max_pool1d"
    x = _input(op_name, input, 1, channels=False)
    (o,) = _adaptive_size(op_name, x, output_size, 1)
    out, idx = _adaptive_max(op_name, 2, input.unsqueeze(-2), (1, o), "AdaptiveMaxPool2DBackward0")
    return out.squeeze(-2), idx.squeeze(-2)


def _maybe_indices(result, return_indices):
    return result if return_indices else result[0]


@op(methods=())
def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool1d(input, output_size, return_indices=False)

    Max pooling of an input (N, C, L) or (C, L) to ``output_size`` positions (windows as adaptive_avg_pool1d).

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_max_pool1d(tg.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[3., 2.]])
    """
    return _maybe_indices(adaptive_max_pool1d_with_indices(input, output_size), return_indices)


@op(methods=())
def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool2d(input, output_size, return_indices=False)

    Max pooling of an input (N, C, H, W) or (C, H, W) to a fixed output size (entries None keep that size).

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_max_pool2d(tg.arange(16.0).reshape(1, 4, 4), 2)
    tensor([[[ 5.,  7.],
             [13., 15.]]])
    """
    return _maybe_indices(adaptive_max_pool2d_with_indices(input, output_size), return_indices)


@op(methods=())
def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool3d(input, output_size, return_indices=False)

    Max pooling of an input (N, C, D, H, W) or (C, D, H, W) to a fixed output size.

    >>> import tapegrad as tg
    >>> tg.nn.functional.adaptive_max_pool3d(tg.ones(1, 1, 4, 4, 4), 2).shape
    tapegrad.Size([1, 1, 2, 2, 2])
    """
    return _maybe_indices(adaptive_max_pool3d_with_indices(input, output_size), return_indices)


# ---------------------------------------------------------------------- max unpooling
def _max_unpool(op_name, d, input, indices, kernel_size, stride, padding, output_size, name):
    if not isinstance(input, Tensor):
        raise expected_tensor(op_name, input)
    if not isinstance(indices, Tensor):
        raise expected_tensor(op_name, indices)
    x, ind = input._data, indices._data
    if ind.dtype != np.int64:
        raise RuntimeError(f"{op_name}: expected indices to have dtype int64, but got {ind.dtype}")
    if x.shape != ind.shape:
        raise RuntimeError(f"{op_name}: expected shape of indices to be the same as that of the input, but got "
                           f"indices of shape {tuple(ind.shape)} and input of shape {tuple(x.shape)}")
    if x.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{op_name}: expected a {d + 1}-D or {d + 2}-D input, but got input of shape "
                           f"{tuple(x.shape)}")
    for k in range(1, x.ndim):  # as PyTorch's shape check: only the first dim may be empty
        if x.shape[k] == 0:
            raise RuntimeError(f"{op_name}: expected input to have non-zero size for non-batch dimensions, but got "
                               f"input of shape {tuple(x.shape)} with dimension {k} being empty")
    kernel = _tuple(op_name, "kernel_size", kernel_size, d)
    stride = kernel if stride is None else _tuple(op_name, "stride", stride, d)
    padding = _tuple(op_name, "padding", padding, d)
    default = tuple((n - 1) * s + k - 2 * p
                    for n, s, k, p in zip(x.shape[-d:], stride, kernel, padding, strict=True))
    if output_size is None:
        size = default
    else:
        items = tuple(output_size.tolist() if isinstance(output_size, Tensor) else output_size)
        if len(items) == d + 2:  # as PyTorch's _unpool_output_size: (N, C, *spatial) or the spatial sizes only
            items = items[-d:]
        if len(items) != d:
            raise ValueError(f"{op_name}: output_size should be a sequence containing {d} or {d + 2} elements, but "
                             f"it has a length of '{len(items)}': {output_size!r}")
        size = tuple(int(v) for v in items)
        for n, low, s in zip(size, default, stride, strict=True):
            if not low - s < n < low + s:
                raise ValueError(f"{op_name}: invalid output_size {size} (dim must be between "
                                 f"{tuple(v - s + 1 for v, s in zip(default, stride, strict=True))} and "
                                 f"{tuple(v + s - 1 for v, s in zip(default, stride, strict=True))})")
    plane = math.prod(size)
    lead = x.shape[:-d]
    if x.dtype.kind != "f" and plane * math.prod(lead):
        # as PyTorch's kernels: floating point values only; an empty output skips the kernel and its dtype check
        # (aten/src/ATen/native/MaxUnpooling.cpp: `if (output.numel() != 0) max_unpool2d_kernel(...)`)
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} input values (floating point only, as "
                                  "in PyTorch); cast with .float()")
    flat = ind.reshape((-1,) + x.shape[-d:])
    if flat.size and (flat.min() < 0 or flat.max() >= plane):
        bad = int(flat.min()) if flat.min() < 0 else int(flat.max())
        raise RuntimeError(f"{op_name}: found an invalid max index {bad} (output volumes are of size "
                           f"{'x'.join(map(str, size))})")
    if d == 1:  # as PyTorch's F.max_unpool1d: max_unpool2d of input.unsqueeze(-1), squeezed back (a view, so detach_
        # refuses it, and its node is SqueezeBackward1 over MaxUnpool2DBackward0: torch/nn/functional.py)
        return _max_unpool(op_name, 2, input.unsqueeze(-1), indices.unsqueeze(-1), kernel + (1,), stride + (1,),
                           padding + (0,), size + (1,), "MaxUnpool2DBackward0").squeeze(-1)
    b = flat.shape[0]
    rows = np.arange(b).reshape((b,) + (1,) * d)

    def apply(a):
        out = np.zeros((b, plane), a.dtype)
        out[np.broadcast_to(rows, flat.shape), flat] = a.reshape(flat.shape)
        return out.reshape(lead + size)

    def adjoint(g):
        if not b:  # an empty batch: nothing to gather (numpy cannot infer the -1 of an empty reshape)
            return g.reshape(-1)[:0].reshape(x.shape) if hasattr(g, "_data") else np.zeros(x.shape, g.dtype)
        return _gather_from_planes(g.reshape((b,) + size), flat).reshape(x.shape)

    def max_unpool_rule(xp, g, out, x):
        return xp.linear(adjoint, apply, g, name.replace("Backward0", "BackwardBackward0"))

    return record(apply(x), (input,), max_unpool_rule, name)


@op(methods=())
def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor

    The partial inverse of max_pool1d: each value put back at its index, zeros elsewhere. The default length is
    (L - 1)*stride - 2*padding + kernel_size.

    >>> import tapegrad as tg
    >>> v, i = tg.nn.functional.max_pool1d(tg.tensor([[1.0, 3.0, 2.0, 0.0]]), 2, return_indices=True)
    >>> tg.nn.functional.max_unpool1d(v, i, 2)
    tensor([[0., 3., 2., 0.]])
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size, None)


@op(methods=())
def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor

    The partial inverse of max_pool2d (indices flat in each H*W plane); zeros where no maximum goes.

    >>> import tapegrad as tg
    >>> v, i = tg.nn.functional.max_pool2d(tg.arange(4.0).reshape(1, 2, 2), 2, return_indices=True)
    >>> tg.nn.functional.max_unpool2d(v, i, 2)
    tensor([[[0., 0.],
             [0., 3.]]])
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size,
                       "MaxUnpool2DBackward0")


@op(methods=())
def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor

    The partial inverse of max_pool3d (indices flat in each D*H*W volume).

    >>> import tapegrad as tg
    >>> v, i = tg.nn.functional.max_pool3d(tg.arange(8.0).reshape(1, 2, 2, 2), 2, return_indices=True)
    >>> tg.nn.functional.max_unpool3d(v, i, 2).flatten()
    tensor([0., 0., 0., 0., 0., 0., 0., 7.])
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size,
                       "MaxUnpool3DBackward0")


# ---------------------------------------------------------------------- torch.max_pool1d/2d/3d
def _top_level_max_pool(pool, name):
    """PyTorch's ``torch.max_poolNd``: ``F.max_poolNd`` without ``return_indices`` (the top-level functions have
    no such argument: it is refused as a keyword, as there)."""

    def max_pool(input: Tensor, kernel_size, stride=(), padding=0, dilation=1, ceil_mode: bool = False) -> Tensor:
        return pool(input, kernel_size, None if stride in ((), []) else stride, padding, dilation, ceil_mode)

    max_pool.__name__ = max_pool.__qualname__ = name
    max_pool.__doc__ = (f"{name}(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False): "
                        f"``nn.functional.{name}`` without ``return_indices``, as ``torch.{name}``.")
    return max_pool


def top_level_max_pools():
    """``torch.max_pool1d``, ``max_pool2d`` and ``max_pool3d`` (for the package's namespace)."""
    from .conv import max_pool2d

    return tuple(_top_level_max_pool(p, n) for p, n in ((max_pool1d, "max_pool1d"), (max_pool2d, "max_pool2d"),
                                                          (max_pool3d, "max_pool3d")))
