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


# ---------------------------------------------------------------------- Conv1d, Conv3d and the transposed convolutions
def _ntuple(layer, name, value, d):
    """An int or a sequence of ``d`` non-negative ints as a d-tuple, or an error naming the layer and argument."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * d
    if len(items) != d or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in items):
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {d} non-negative ints, got {value!r}")
    return tuple(int(v) for v in items)


class _ConvNd(Module):
    """What Conv1d/Conv3d and ConvTranspose1d/2d/3d share with PyTorch's ``_ConvNd``: the arguments kept as
    attributes, the weight (out, in/groups, *k), or (in, out/groups, *k) when transposed, its initialisation and
    the repr."""

    _dims = 1
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None, output_padding=0):
        super().__init__()
        name, d = type(self).__name__, self._dims
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups != 0:
            raise ValueError(f"{name}: in_channels must be divisible by groups, got in_channels={in_channels} and "
                             f"groups={groups}")
        if out_channels % groups != 0:
            raise ValueError(f"{name}: out_channels must be divisible by groups, got out_channels={out_channels} "
                             f"and groups={groups}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, d)
        self.stride = _ntuple(name, "stride", stride, d)
        self.dilation = _ntuple(name, "dilation", dilation, d)
        if 0 in self.kernel_size or 0 in self.stride or 0 in self.dilation:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got kernel_size="
                             f"{self.kernel_size}, stride={self.stride}, dilation={self.dilation}")
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
            if padding not in ("valid", "same"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(name, "padding", padding, d)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        self.output_padding = _ntuple(name, "output_padding", output_padding, d)
        if self.padding == "same":
            pads = []
            for dl, k in reversed(list(zip(self.dilation, self.kernel_size, strict=True))):
                total = dl * (k - 1)
                pads += [total // 2, total - total // 2]
        elif self.padding == "valid":
            pads = [0, 0] * d
        else:
            pads = [p for p in reversed(self.padding) for _ in range(2)]
        self._reversed_padding_repeated_twice = tuple(pads)
        shape = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        self.weight = _empty_parameter(shape + self.kernel_size, dtype)
        if bias:
            self.bias = _empty_parameter((out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): draw the weight and bias again from their default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        d = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _conv_forward(self, input, weight, bias):
        conv = F.conv1d if self._dims == 1 else F.conv3d
        if self.padding_mode != "zeros":
            mode = self.padding_mode
            return conv(F.pad(input, self._reversed_padding_repeated_twice, mode=mode), weight, bias, self.stride, 0,
                        self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_ConvNd):
    """Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros', device=None, dtype=None)

    1-D convolution over (N, C_in, L) or (C_in, L) inputs; weight (out_channels, in_channels // groups, k) and
    bias initialised as PyTorch's (kaiming_uniform_ with a=sqrt(5); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))).

    >>> import tapegrad as tg
    >>> conv = tg.nn.Conv1d(2, 4, 3, padding=1)
    >>> conv
    Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=(1,))
    >>> conv(tg.ones(5, 2, 7)).shape
    tapegrad.Size([5, 4, 7])
    """

    _dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)


class Conv3d(_ConvNd):
    """Conv3d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros', device=None, dtype=None)

    3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W) inputs.

    >>> import tapegrad as tg
    >>> tg.nn.Conv3d(1, 2, 3, padding=1)(tg.ones(1, 1, 4, 4, 4)).shape
    tapegrad.Size([1, 2, 4, 4, 4])
    """

    _dims = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding=output_padding)

    def _output_padding(self, input, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None):
        """The output_padding that gives ``output_size`` (PyTorch's ``_ConvTransposeNd._output_padding``)."""
        if output_size is None:
            return self.output_padding
        name, d = type(self).__name__, num_spatial_dims
        non_spatial = 2 if input.dim() == d + 2 else 1
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) == non_spatial + d:
            output_size = output_size[non_spatial:]
        if len(output_size) != d:
            raise ValueError(f"{name}: output_size must have {d} or {non_spatial + d} elements (got "
                             f"{len(output_size)})")
        result = []
        for i in range(d):
            low = ((input.shape[i + non_spatial] - 1) * stride[i] - 2 * padding[i]
                   + (dilation[i] if dilation is not None else 1) * (kernel_size[i] - 1) + 1)
            high = low + stride[i] - 1
            if not low <= output_size[i] <= high:
                raise ValueError(f"{name}: requested an output size of {output_size}, but valid sizes range from "
                                 f"{low} to {high} (for an input of {tuple(input.shape[non_spatial:])})")
            result.append(output_size[i] - low)
        return tuple(result)

    def forward(self, input, output_size=None):
        d = self._dims
        op = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, d, self.dilation)
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[d - 1]
        return fn(input, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1, padding_mode='zeros', device=None, dtype=None)

    Transposed 1-D convolution; weight (in_channels, out_channels // groups, k). ``forward(input, output_size=None)``
    may ask for an output length, which picks the output_padding.

    >>> import tapegrad as tg
    >>> tg.nn.ConvTranspose1d(2, 3, 3, stride=2)(tg.ones(1, 2, 4)).shape
    tapegrad.Size([1, 3, 9])
    """

    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1, padding_mode='zeros', device=None, dtype=None)

    Transposed 2-D convolution (DCGAN's generator layer); weight (in_channels, out_channels // groups, kH, kW).

    >>> import tapegrad as tg
    >>> up = tg.nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, bias=False)
    >>> up
    ConvTranspose2d(4, 2, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)
    >>> up(tg.ones(1, 4, 8, 8)).shape
    tapegrad.Size([1, 2, 16, 16])
    """

    _dims = 2


class ConvTranspose3d(_ConvTransposeNd):
    """ConvTranspose3d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1, padding_mode='zeros', device=None, dtype=None)

    Transposed 3-D convolution; weight (in_channels, out_channels // groups, kD, kH, kW).

    >>> import tapegrad as tg
    >>> tg.nn.ConvTranspose3d(1, 1, 2, stride=2)(tg.ones(1, 1, 2, 2, 2)).shape
    tapegrad.Size([1, 1, 4, 4, 4])
    """

    _dims = 3


__all__ += ["Conv1d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
