"""``F.fractional_max_pool2d``: max pooling over pseudo-random, overlapping windows (Graham's fractional max
pooling), as PyTorch's kernel (aten/src/ATen/native/FractionalMaxPool2d.cpp): the same window starts from the same
``_random_samples``, the same picks (first strict maximum; the last NaN), one node whose gradient adds each output's
gradient at the input element it picked (a linear map, so every order follows)."""

from __future__ import annotations

import numpy as np

from ..autograd.declare import Tensor, expected_tensor, op, record, wrap
from ..random import rng as _rng

__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices"]


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(u) for u in v)


def _intervals(sample, input_size, output_size, pool_size):
    """The start of each window along one axis, for each plane's ``sample`` in [0, 1) (PyTorch's
    generate_intervals, in the input's dtype)."""
    seq = np.empty(sample.shape + (output_size,), np.int64)
    if output_size > 1:
        dt = sample.dtype.type
        alpha = dt(input_size - pool_size) / dt(output_size - 1)
        i = np.arange(output_size - 1, dtype=sample.dtype)
        first = (sample * alpha).astype(np.int64)
        seq[..., :-1] = ((i + sample[..., None]) * alpha).astype(np.int64) - first[..., None]
    if output_size > 0:
        seq[..., -1] = input_size - pool_size
    return seq


@op(methods=())
def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                                       return_indices: bool = False, _random_samples: Tensor | None = None):
    """fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
    return_indices=False, _random_samples=None) -> (output, indices): see ``fractional_max_pool2d``
    (``return_indices`` is accepted for PyTorch's signature; both are always returned)."""
    if not isinstance(input, Tensor):
        raise expected_tensor("fractional_max_pool2d", "input", input)
    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool2d requires specifying either an output_size or an output_ratio")
    x = input._data
    if x.ndim not in (3, 4):
        raise RuntimeError(f"fractional_max_pool2d(): Expected 3D or 4D tensor, but got: {tuple(x.shape)}")
    if 0 in x.shape[1:]:  # as PyTorch: the first dim (a batch, or the channels of an unbatched input) may be empty
        raise RuntimeError("fractional_max_pool2d(): Expected input to have non-zero size for non-batch dimensions, "
                           f"but got {tuple(x.shape)}")
    if output_size is None:
        ratio = (float(output_ratio),) * 2 if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        if len(ratio) > 2:
            raise ValueError("fractional_max_pool2d requires output_ratio to either be a single Int or tuple of "
                             "Ints.")
        output_size = (int(x.shape[-2] * ratio[0]), int(x.shape[-1] * ratio[1]))
    kh, kw = _pair(kernel_size)
    oh, ow = _pair(output_size)
    if kh < 1 or kw < 1 or oh < 0 or ow < 0:
        raise RuntimeError(f"fractional_max_pool2d(): kernel_size must be positive and output_size non-negative, "
                           f"got kernel_size={(kh, kw)}, output_size={(oh, ow)}")
    x4 = x[None] if x.ndim == 3 else x
    n, c, h, w = x4.shape
    if oh + kh - 1 > h:
        raise RuntimeError(f"fractional_max_pool2d(): pool height {kh} too large relative to input height {h}")
    if ow + kw - 1 > w:
        raise RuntimeError(f"fractional_max_pool2d(): pool width {kw} too large relative to input width {w}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"fractional_max_pool2d: not implemented for {x.dtype} tensors")
    if _random_samples is None:
        samples = _rng(None).random((n, c, 2), dtype=np.float64 if x.dtype == np.float64 else np.float32)
        samples = samples.astype(x.dtype, copy=False)
    else:
        samples = np.asarray(_random_samples._data if isinstance(_random_samples, Tensor) else _random_samples)
        if samples.shape != (n, c, 2):
            raise RuntimeError(f"fractional_max_pool2d(): expected _random_samples of shape {(n, c, 2)}, got "
                               f"{tuple(samples.shape)}")
        samples = samples.astype(x.dtype, copy=False)
    starts_w = _intervals(samples[..., 0], w, ow, kw)  # (n, c, ow): PyTorch draws width from sample 0
    starts_h = _intervals(samples[..., 1], h, oh, kh)
    rows = starts_h[..., :, None] + np.arange(kh)  # (n, c, oh, kh)
    cols = starts_w[..., :, None] + np.arange(kw)  # (n, c, ow, kw)
    flat = (rows[..., :, None, :, None] * w + cols[..., None, :, None, :]).reshape(n, c, oh, ow, kh * kw)
    planes = x4.reshape(n, c, h * w)
    windows = np.take_along_axis(planes, flat.reshape(n, c, oh * ow * kh * kw), 2).reshape(flat.shape)
    nan = np.isnan(windows)
    pick = np.where(nan.any(-1), kh * kw - 1 - np.argmax(nan[..., ::-1], -1), np.argmax(windows, -1))
    indices = np.take_along_axis(flat, pick[..., None], -1)[..., 0]  # (n, c, oh, ow), into each h * w plane
    values = np.take_along_axis(planes, indices.reshape(n, c, oh * ow), 2).reshape(n, c, oh, ow)
    out_shape = values.shape[1:] if x.ndim == 3 else values.shape
    spread = (np.arange(n * c) * (h * w))[:, None] + indices.reshape(n * c, oh * ow)  # into the flat input

    def scatter(g):  # the gradient: each output's at the element it picked (repeats add)
        summed = np.bincount(spread.ravel(), weights=g.reshape(-1).astype(np.float64), minlength=n * c * h * w)
        return summed.astype(g.dtype, copy=False).reshape(x.shape)

    def gather(gx):  # its adjoint
        return gx.reshape(-1)[spread.ravel()].reshape(out_shape)

    def fractional_max_pool2d_rule(xp, g, out, x):
        return xp.linear(scatter, gather, g, "FractionalMaxPool2DBackwardBackward0")

    out = record(values.reshape(out_shape), (input,), fractional_max_pool2d_rule, "FractionalMaxPool2DBackward0")
    return out, wrap(indices.reshape(out_shape))


@op(methods=())
def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
    _random_samples=None): the maximum over ``kernel_size`` windows whose starts step pseudo-randomly, so that the
    output has ``output_size`` (or ``output_ratio`` times the input's size). ``_random_samples`` (N, C, 2) in
    [0, 1) fixes the windows (PyTorch's draw of them differs from tapegrad's).

    >>> import tapegrad as tg
    >>> x = tg.arange(16.0).reshape(1, 1, 4, 4)
    >>> tg.nn.functional.fractional_max_pool2d(x, 2, output_size=2, _random_samples=tg.zeros(1, 1, 2))
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    out, indices = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio,
                                                      return_indices, _random_samples)
    return (out, indices) if return_indices else out
