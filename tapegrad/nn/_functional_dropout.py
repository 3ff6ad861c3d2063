"""Channel-wise and self-normalizing dropout (``F.dropout1d/2d/3d``, ``alpha_dropout``, ``feature_alpha_dropout``).

PyTorch's ``_dropout_impl`` (aten/src/ATen/native/Dropout.cpp), written with tapegrad's ops: a noise tensor is
drawn (one value per channel for the feature forms), and the result is ``input * noise`` (``MulBackward0``), plus
``b`` for the alpha forms (``AddBackward0``), so gradients of every order come from ``mul`` and ``add``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.declare import Tensor, expected_tensor, is_grad_enabled, op, wrap
from ..random import rng as _rng

__all__ = ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_SELU_ALPHA = 1.7580993408473766  # SELU's alpha * scale: the value a dropped unit takes in alpha dropout


def _dropout(name, input, p, training, inplace, generator, feature, alpha):
    if not isinstance(input, Tensor):
        raise expected_tensor(name, "input", input)
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    x = input._data
    if p == 0 or not training or x.size == 0:
        return input
    if p == 1:  # before any check of the dtype or the rank, as PyTorch
        zero = wrap(np.zeros((), x.dtype))
        return input.mul_(zero) if inplace else input * zero
    if x.dtype.kind != "f":
        raise RuntimeError(f"{name}: result type float can't be cast to the input's dtype {x.dtype}")
    if feature and x.ndim < 2:
        raise RuntimeError(f"{name}: Feature dropout requires at least 2 dimensions in the input, got shape "
                           f"{tuple(x.shape)}")
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
    u = _rng(generator).random(shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    noise = (u >= p).astype(x.dtype)  # 1 where the unit is kept (probability 1 - p)
    if not alpha:
        noise *= x.dtype.type(1 / (1 - p))  # inverted dropout: the expectation is unchanged
        return input.mul_(wrap(noise)) if inplace else input * wrap(noise)
    # NOTE: a dropped unit becomes SELU's negative saturation value, and a * (.) + b restores mean 0, variance 1
    a = 1 / math.sqrt((_SELU_ALPHA * _SELU_ALPHA * p + 1) * (1 - p))
    b = (noise - 1) * (_SELU_ALPHA * a) + _SELU_ALPHA * a * p
    noise *= x.dtype.type(a)
    out = input.mul_(wrap(noise)) if inplace else input * wrap(noise)
    return out.add_(wrap(b))


def _check_unbatched_inplace(name, input):
    """PyTorch's in-place form of an unbatched input calls ``input.unsqueeze_(0)``: refused for a leaf that
    requires grad, or a view of one (whatever ``training`` and ``p`` are)."""
    if not (is_grad_enabled() and input.requires_grad):
        return
    if input.is_leaf:
        raise RuntimeError(f"{name}(inplace=True): a leaf Variable that requires grad is being used in an in-place "
                           f"operation (an unbatched input of shape {tuple(input.shape)} is unsqueezed in place, "
                           f"as in PyTorch)")
    base = input._base
    if base is not None and base.requires_grad and base.is_leaf:
        raise RuntimeError(f"{name}(inplace=True): a view of a leaf Variable that requires grad is being used in an "
                           f"in-place operation (an unbatched input of shape {tuple(input.shape)} is unsqueezed in "
                           f"place, as in PyTorch)")


def _unbatched_inplace(name, input, p, training, generator):
    """The in-place form of an unbatched input: PyTorch calls ``input.unsqueeze_(0)``, then ``feature_dropout_``
    and ``squeeze_(0)`` (torch/nn/functional.py dropout1d/dropout3d), so when the dropout raises (a 0-d input to
    dropout3d, an integer input) the input is left with the new leading dimension."""
    _check_unbatched_inplace(name, input)
    try:
        _dropout(name, input.unsqueeze(0), p, training, True, generator, True, False)
    except Exception:
        input.unsqueeze_(0)
        raise
    return input


def _check_dims(name, input, p, dims):
    """Whether ``input`` has one of the ranks ``dims`` (``p`` is checked first, as PyTorch)."""
    if not isinstance(input, Tensor):
        raise expected_tensor(name, "input", input)
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    return input.ndim in dims


@op(methods=())
def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None) -> Tensor:
    """dropout1d(input, p=0.5, training=True, inplace=False): zero whole channels of an (N, C, L) or (C, L) input
    with probability ``p``, scaling the rest by 1 / (1 - p).

    >>> import tapegrad as tg
    >>> tg.nn.functional.dropout1d(tg.ones(2, 3), 0.5, training=False)
    tensor([[1., 1., 1.],
            [1., 1., 1.]])
    """
    if not _check_dims("dropout1d", input, p, (2, 3)):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if input.ndim == 2:  # no batch dimension
        if inplace:
            return _unbatched_inplace("dropout1d", input, p, training, generator)
        return _dropout("dropout1d", input.unsqueeze(0), p, training, False, generator, True, False).squeeze(0)
    return _dropout("dropout1d", input, p, training, inplace, generator, True, False)


@op(methods=())
def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None) -> Tensor:
    """dropout2d(input, p=0.5, training=True, inplace=False): zero whole channels of an (N, C, H, W) input with
    probability ``p``, scaling the rest by 1 / (1 - p). As PyTorch, a 3-d input is taken as (N, C, L), with a
    warning, and other ranks warn and still drop channels (dim 1).

    >>> import tapegrad as tg
    >>> tg.nn.functional.dropout2d(tg.ones(1, 2, 2, 2), 1.0).sum()
    tensor(0.)
    """
    if not _check_dims("dropout2d", input, p, (3, 4)):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will result "
                      "in an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    return _dropout("dropout2d", input, p, training, inplace, generator, True, False)


@op(methods=())
def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None) -> Tensor:
    """dropout3d(input, p=0.5, training=True, inplace=False): zero whole channels of an (N, C, D, H, W) or
    (C, D, H, W) input with probability ``p``, scaling the rest by 1 / (1 - p).

    >>> import tapegrad as tg
    >>> tg.nn.functional.dropout3d(tg.ones(2, 1, 1, 1), 0.0).shape
    tapegrad.Size([2, 1, 1, 1])
    """
    if not _check_dims("dropout3d", input, p, (4, 5)):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and will result "
                      "in an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      "inputs).", stacklevel=2)
    if input.ndim != 5:  # PyTorch takes every other rank as unbatched
        if inplace:
            return _unbatched_inplace("dropout3d", input, p, training, generator)
        return _dropout("dropout3d", input.unsqueeze(0), p, training, False, generator, True, False).squeeze(0)
    return _dropout("dropout3d", input, p, training, inplace, generator, True, False)


@op(methods=())
def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False, *,
                  generator=None) -> Tensor:
    """alpha_dropout(input, p=0.5, training=False, inplace=False): dropout for SELU networks: dropped units take
    SELU's saturation value and an affine map keeps mean 0 and variance 1. ``training`` defaults to False, as in
    PyTorch.

    >>> import tapegrad as tg
    >>> tg.nn.functional.alpha_dropout(tg.ones(3), 0.5)
    tensor([1., 1., 1.])
    """
    return _dropout("alpha_dropout", input, p, training, inplace, generator, False, True)


@op(methods=())
def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False, *,
                          generator=None) -> Tensor:
    """feature_alpha_dropout(input, p=0.5, training=False, inplace=False): alpha dropout of whole channels (dim 1).

    >>> import tapegrad as tg
    >>> tg.nn.functional.feature_alpha_dropout(tg.ones(1, 2), 0.5).shape
    tapegrad.Size([1, 2])
    """
    return _dropout("feature_alpha_dropout", input, p, training, inplace, generator, True, True)
