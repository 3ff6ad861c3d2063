"""Linear layers: Linear and Identity (``torch.nn.Linear``, ``torch.nn.Identity``)."""

import math

import numpy as np

from .. import dtypes
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear"]


def _empty_parameter(shape, dtype):
    """An uninitialized Parameter (filled by the layer's reset_parameters)."""
    return Parameter(np.empty(shape, dtypes.as_dtype(dtype) or dtypes.get_default_dtype()))


def _check_features(layer, **sizes):
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{layer}: {name} must be a non-negative int, got {value!r}")


class Identity(Module):
    """Identity(*args, **kwargs): returns its input unchanged (arguments are ignored).

    >>> import tapegrad as tg
    >>> tg.nn.Identity()(tg.ones(2))
    tensor([1., 1.])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """Linear(in_features, out_features, bias=True, device=None, dtype=None): y = x W^T + b.

    ``weight`` has shape (out_features, in_features) and starts as kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(in_features), 1/sqrt(in_features)); so does ``bias``, as in PyTorch.

    >>> import tapegrad as tg
    >>> fc = tg.nn.Linear(3, 2)
    >>> fc
    Linear(in_features=3, out_features=2, bias=True)
    >>> fc(tg.ones(5, 3)).shape
    tapegrad.Size([5, 2])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _check_features("Linear", in_features=in_features, out_features=out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _empty_parameter((out_features, in_features), dtype)
        if bias:
            self.bias = _empty_parameter((out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): draw the weight and bias again from their default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
