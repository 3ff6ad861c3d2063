"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (``torch.nn`` pooling)."""

from . import functional as F
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


class MaxPool2d(Module):
    """MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)

    The maximum over each window of a (N, C, H, W) or (C, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> import tapegrad as tg
    >>> tg.nn.MaxPool2d(2)(tg.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class _AvgPoolNd(Module):
    """The average-pooling modules with a divisor_override (PyTorch's ``_AvgPoolNd``): they differ only in the
    function their forward calls."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)

    The mean over each window of a (N, C, H, W) or (C, H, W) input; ``stride`` defaults to ``kernel_size``.

    >>> import tapegrad as tg
    >>> tg.nn.AvgPool2d(2)(tg.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """



class AdaptiveAvgPool2d(Module):
    """AdaptiveAvgPool2d(output_size): average-pool to a fixed (H_out, W_out) whatever the input size.

    ``output_size`` is an int, or a pair whose entries may be None (keep that input size).

    >>> import tapegrad as tg
    >>> tg.nn.AdaptiveAvgPool2d(1)(tg.ones(2, 3, 5, 4)).shape
    tapegrad.Size([2, 3, 1, 1])
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


# ---------------------------------------------------------------------- 1-D and 3-D, adaptive max, LP, unpooling
def _ntuple(value, d):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * d


class _MaxPoolNd(Module):
    _fn: str  # the functional F.<_fn> this module calls: each subclass names it

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return getattr(F, self._fn)(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """MaxPool1d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)

    The maximum over each window of an (N, C, L) or (C, L) input.

    >>> import tapegrad as tg
    >>> tg.nn.MaxPool1d(2)(tg.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[3., 2.]])
    """

    _fn = "max_pool1d"


class MaxPool3d(_MaxPoolNd):
    """MaxPool3d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)

    The maximum over each window of an (N, C, D, H, W) or (C, D, H, W) input.

    >>> import tapegrad as tg
    >>> tg.nn.MaxPool3d(2)(tg.ones(1, 1, 4, 4, 4)).shape
    tapegrad.Size([1, 1, 2, 2, 2])
    """

    _fn = "max_pool3d"


class AvgPool1d(Module):
    """AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True)

    The mean over each window of an (N, C, L) or (C, L) input.

    >>> import tapegrad as tg
    >>> tg.nn.AvgPool1d(2)(tg.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[2., 1.]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(_AvgPoolNd):
    """AvgPool3d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)

    The mean over each window of an (N, C, D, H, W) or (C, D, H, W) input.

    >>> import tapegrad as tg
    >>> tg.nn.AvgPool3d(2)(tg.ones(1, 1, 4, 4, 4)).shape
    tapegrad.Size([1, 1, 2, 2, 2])
    """

    def forward(self, input):  # F.avg_pool3d is attached to functional after this module is imported
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptivePool(Module):
    _fn: str  # the functional F.<_fn> this module calls: each subclass names it

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return getattr(F, self._fn)(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """AdaptiveAvgPool1d(output_size): average-pool an (N, C, L) or (C, L) input to ``output_size`` positions.

    >>> import tapegrad as tg
    >>> tg.nn.AdaptiveAvgPool1d(2)(tg.tensor([[1.0, 2.0, 3.0, 5.0]]))
    tensor([[1.5000, 4.0000]])
    """

    _fn = "adaptive_avg_pool1d"


class AdaptiveAvgPool3d(_AdaptivePool):
    """AdaptiveAvgPool3d(output_size): average-pool an (N, C, D, H, W) input to a fixed size.

    >>> import tapegrad as tg
    >>> tg.nn.AdaptiveAvgPool3d((1, 2, None))(tg.ones(1, 1, 3, 4, 5)).shape
    tapegrad.Size([1, 1, 1, 2, 5])
    """

    _fn = "adaptive_avg_pool3d"


class _AdaptiveMaxPool(Module):
    _fn: str  # the functional F.<_fn> this module calls: each subclass names it

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return getattr(F, self._fn)(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """AdaptiveMaxPool1d(output_size, return_indices=False)

    >>> import tapegrad as tg
    >>> tg.nn.AdaptiveMaxPool1d(2)(tg.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[3., 2.]])
    """

    _fn = "adaptive_max_pool1d"


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """AdaptiveMaxPool2d(output_size, return_indices=False)

    >>> import tapegrad as tg
    >>> tg.nn.AdaptiveMaxPool2d(1)(tg.arange(4.0).reshape(1, 2, 2))
    tensor([[[3.]]])
    """

    _fn = "adaptive_max_pool2d"


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """AdaptiveMaxPool3d(output_size, return_indices=False)

    >>> import tapegrad as tg
    >>> tg.nn.AdaptiveMaxPool3d(2)(tg.ones(1, 1, 4, 4, 4)).shape
    tapegrad.Size([1, 1, 2, 2, 2])
    """

    _fn = "adaptive_max_pool3d"


class _LPPool(Module):
    _fn: str  # the functional F.<_fn> this module calls: each subclass names it

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return getattr(F, self._fn)(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """LPPool1d(norm_type, kernel_size, stride=None, ceil_mode=False): the p-norm of each window of (N, C, L).

    >>> import tapegrad as tg
    >>> tg.nn.LPPool1d(2, 2)(tg.tensor([[3.0, 4.0]]))
    tensor([[5.]])
    """

    _fn = "lp_pool1d"


class LPPool2d(_LPPool):
    """LPPool2d(norm_type, kernel_size, stride=None, ceil_mode=False): the p-norm of each window of (N, C, H, W).

    >>> import tapegrad as tg
    >>> tg.nn.LPPool2d(1, 2)(tg.ones(1, 1, 2, 2))
    tensor([[[[4.]]]])
    """

    _fn = "lp_pool2d"


class LPPool3d(_LPPool):
    """LPPool3d(norm_type, kernel_size, stride=None, ceil_mode=False): the p-norm of each window of (N, C, D, H, W).

    >>> import tapegrad as tg
    >>> tg.nn.LPPool3d(1, 2)(tg.ones(1, 1, 2, 2, 2)).flatten()
    tensor([8.])
    """

    _fn = "lp_pool3d"


class _MaxUnpool(Module):
    _fn: str  # the functional F.<_fn> this module calls: each subclass names it
    _dims = 1

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, self._dims)
        self.stride = _ntuple(stride if stride is not None else kernel_size, self._dims)
        self.padding = _ntuple(padding, self._dims)

    def forward(self, input, indices, output_size=None):
        return getattr(F, self._fn)(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """MaxUnpool1d(kernel_size, stride=None, padding=0): ``forward(input, indices, output_size=None)`` puts each
    maximum of a MaxPool1d back at its index, zeros elsewhere.

    >>> import tapegrad as tg
    >>> v, i = tg.nn.MaxPool1d(2, return_indices=True)(tg.tensor([[1.0, 3.0, 2.0, 0.0]]))
    >>> tg.nn.MaxUnpool1d(2)(v, i)
    tensor([[0., 3., 2., 0.]])
    """

    _fn = "max_unpool1d"
    _dims = 1


class MaxUnpool2d(_MaxUnpool):
    """MaxUnpool2d(kernel_size, stride=None, padding=0): the partial inverse of MaxPool2d.

    >>> import tapegrad as tg
    >>> v, i = tg.nn.MaxPool2d(2, return_indices=True)(tg.arange(4.0).reshape(1, 2, 2))
    >>> tg.nn.MaxUnpool2d(2)(v, i)
    tensor([[[0., 0.],
             [0., 3.]]])
    """

    _fn = "max_unpool2d"
    _dims = 2


class MaxUnpool3d(_MaxUnpool):
    """MaxUnpool3d(kernel_size, stride=None, padding=0): the partial inverse of MaxPool3d.

    >>> import tapegrad as tg
    >>> v, i = tg.nn.MaxPool3d(2, return_indices=True)(tg.arange(8.0).reshape(1, 2, 2, 2))
    >>> tg.nn.MaxUnpool3d(2)(v, i).flatten()
    tensor([0., 0., 0., 0., 0., 0., 0., 7.])
    """

    _fn = "max_unpool3d"
    _dims = 3


__all__ += ["MaxPool1d", "MaxPool3d", "AvgPool1d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool3d",
            "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
            "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


def _pair(v):  # the module keeps pairs as PyTorch's (an int or float given once, for both sides)
    return (v, v) if isinstance(v, (int, float)) else tuple(v)


class FractionalMaxPool2d(Module):
    """FractionalMaxPool2d(kernel_size, output_size=None, output_ratio=None, return_indices=False,
    _random_samples=None): max pooling over pseudo-random overlapping windows (``F.fractional_max_pool2d``); new
    windows are drawn on every call unless ``_random_samples`` fixes them.

    >>> import tapegrad as tg
    >>> tg.nn.FractionalMaxPool2d(2, output_ratio=0.5)(tg.randn(1, 3, 8, 8)).shape
    tapegrad.Size([1, 3, 4, 4])
    """

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.output_size = _pair(output_size) if output_size is not None else None
        self.output_ratio = _pair(output_ratio) if output_ratio is not None else None
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        if output_size is None and output_ratio is None:
            raise ValueError("FractionalMaxPool2d requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return F.fractional_max_pool2d(input, self.kernel_size, self.output_size, self.output_ratio,
                                       self.return_indices, _random_samples=self._random_samples)


__all__ += ["FractionalMaxPool2d"]
