"""Convolution layers: Conv2d (``torch.nn.Conv2d``)."""

import math

import numpy as np

from . import functional as F
from . import init
from .linear import _empty_parameter
from .module import Module

__all__ = ["Conv2d"]


def _pair(op, name, value):
    """An int or a pair of ints as a pair of non-negative ints, or an error naming the argument."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0
                             for v in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of non-negative ints, got {value!r}")
    return tuple(int(v) for v in pair)


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv2d(Module):
    """Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros', device=None, dtype=None)

    2-D convolution (cross-correlation) over (N, C_in, H, W) inputs. ``padding`` may be an int, a pair, or
    ``'valid'``/``'same'``; ``padding_mode`` is 'zeros', 'reflect', 'replicate' or 'circular'. The weight
    (out_channels, in_channels // groups, kH, kW) and bias start as in PyTorch (kaiming_uniform_ with
    a=sqrt(5); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))).

    >>> import tapegrad as tg
    >>> conv = tg.nn.Conv2d(1, 2, 3, padding=1)
    >>> conv
    Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> conv(tg.ones(4, 1, 5, 5)).shape
    tapegrad.Size([4, 2, 5, 5])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(f"Conv2d: groups must be a positive integer, got {groups!r}")
        if in_channels % groups != 0:
            raise ValueError(f"Conv2d: in_channels must be divisible by groups, got in_channels={in_channels}"
                             f" and groups={groups}")
        if out_channels % groups != 0:
            raise ValueError(f"Conv2d: out_channels must be divisible by groups, got "
                             f"out_channels={out_channels} and groups={groups}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair("Conv2d", "kernel_size", kernel_size)
        self.stride = _pair("Conv2d", "stride", stride)
        self.dilation = _pair("Conv2d", "dilation", dilation)
        if 0 in self.kernel_size or 0 in self.stride or 0 in self.dilation:
            raise ValueError(f"Conv2d: kernel_size, stride and dilation must be positive, got "
                             f"kernel_size={self.kernel_size}, stride={self.stride}, "
                             f"dilation={self.dilation}")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: invalid padding string {padding!r}, should be one of "
                                 f"{{'valid', 'same'}}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _pair("Conv2d", "padding", padding)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode={padding_mode!r}")
        self.padding_mode = padding_mode
        self.groups = groups
        self.output_padding = (0, 0)
        self.transposed = False
        # (left, right, top, bottom), as F.pad takes it: asymmetric for padding='same' with an even kernel.
        if self.padding == "same":
            pads = []
            for d, k in reversed(list(zip(self.dilation, self.kernel_size, strict=True))):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
        elif self.padding == "valid":
            pads = [0, 0, 0, 0]
        else:
            pads = [self.padding[1], self.padding[1], self.padding[0], self.padding[0]]
        self._reversed_padding_repeated_twice = tuple(pads)
        self.weight = _empty_parameter((out_channels, in_channels // groups, *self.kernel_size), dtype)
        if bias:
            self.bias = _empty_parameter((out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): draw the weight and bias again from their default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        pads = self._reversed_padding_repeated_twice
        left, right, top, bottom = pads
        if self.padding_mode == "zeros" and left == right and top == bottom:
            return F.conv2d(input, self.weight, self.bias, self.stride, (top, left), self.dilation,
                            self.groups)
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        return F.conv2d(F.pad(input, pads, mode=mode), self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
