"""Dropout (``torch.nn.Dropout``)."""

import numbers

from . import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class Dropout(Module):
    """Dropout(p=0.5, inplace=False): in training mode zero each element with probability ``p`` and scale the
    rest by 1 / (1 - p); in eval mode return the input unchanged.

    >>> import tapegrad as tg
    >>> drop = tg.nn.Dropout(0.5).eval()
    >>> drop(tg.ones(3))
    tensor([1., 1., 1.])
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class _DropoutNd(Dropout):
    """The dropout modules that differ only in the function they call (PyTorch's ``_DropoutNd``)."""

    _function = staticmethod(F.dropout)

    def forward(self, input):
        return type(self)._function(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Dropout1d(p=0.5, inplace=False): zero whole channels of (N, C, L) or (C, L) inputs in training mode.

    >>> import tapegrad as tg
    >>> tg.nn.Dropout1d(0.5).eval()(tg.ones(1, 2, 3)).shape
    tapegrad.Size([1, 2, 3])
    """

    _function = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Dropout2d(p=0.5, inplace=False): zero whole channels of (N, C, H, W) inputs in training mode."""

    _function = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Dropout3d(p=0.5, inplace=False): zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""

    _function = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """AlphaDropout(p=0.5, inplace=False): dropout that keeps SELU's mean 0 and variance 1 (training mode only).

    >>> import tapegrad as tg
    >>> tg.nn.AlphaDropout(0.2).eval()(tg.ones(2))
    tensor([1., 1.])
    """

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """FeatureAlphaDropout(p=0.5, inplace=False): alpha dropout of whole channels (dim 1)."""

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training)
