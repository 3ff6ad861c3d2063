"""Resampling layers: Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle,
ChannelShuffle (``torch.nn``)."""

from . import functional as F
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
           "ChannelShuffle"]


class Upsample(Module):
    """Upsample(size=None, scale_factor=None, mode='nearest', align_corners=None, recompute_scale_factor=None)

    ``F.interpolate`` as a layer: resample the spatial dims of (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs.

    >>> import tapegrad as tg
    >>> up = tg.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> up
    Upsample(scale_factor=2.0, mode='bilinear')
    >>> up(tg.ones(1, 1, 2, 2)).shape
    tapegrad.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """UpsamplingNearest2d(size=None, scale_factor=None): nearest-neighbour upsampling of (N, C, H, W) inputs.

    >>> import tapegrad as tg
    >>> tg.nn.UpsamplingNearest2d(scale_factor=2)(tg.arange(4.0).reshape(1, 1, 2, 2))[0, 0, 0]
    tensor([0., 0., 1., 1.])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """UpsamplingBilinear2d(size=None, scale_factor=None): bilinear upsampling with align_corners=True.

    >>> import tapegrad as tg
    >>> tg.nn.UpsamplingBilinear2d(scale_factor=2)(tg.arange(4.0).reshape(1, 1, 2, 2))[0, 0, 0]
    tensor([0.0000, 0.3333, 0.6667, 1.0000])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """PixelShuffle(upscale_factor): (*, C*r*r, H, W) -> (*, C, H*r, W*r).

    >>> import tapegrad as tg
    >>> tg.nn.PixelShuffle(2)(tg.ones(1, 8, 3, 3)).shape
    tapegrad.Size([1, 2, 6, 6])
    """

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """PixelUnshuffle(downscale_factor): (*, C, H*r, W*r) -> (*, C*r*r, H, W).

    >>> import tapegrad as tg
    >>> tg.nn.PixelUnshuffle(2)(tg.ones(1, 2, 6, 6)).shape
    tapegrad.Size([1, 8, 3, 3])
    """

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """ChannelShuffle(groups): interleave the channels of (N, C, *) from ``groups`` groups (ShuffleNet).

    >>> import tapegrad as tg
    >>> tg.nn.ChannelShuffle(2)(tg.arange(4.0).reshape(1, 4, 1)).flatten()
    tensor([0., 2., 1., 3.])
    """

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
