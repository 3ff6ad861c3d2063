"""Bilinear (``torch.nn.Bilinear``): y = x1^T A x2 + b."""

import math

from . import functional as F
from . import init
from .linear import _check_features, _empty_parameter
from .module import Module

__all__ = ["Bilinear"]


class Bilinear(Module):
    """Bilinear(in1_features, in2_features, out_features, bias=True, device=None, dtype=None)

    y_k = x1 A_k x2 + b_k with weight (out_features, in1_features, in2_features); weight and bias start as
    U(-1/sqrt(in1_features), 1/sqrt(in1_features)), as PyTorch's.

    >>> import tapegrad as tg
    >>> m = tg.nn.Bilinear(2, 3, 4)
    >>> m
    Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)
    >>> m(tg.ones(5, 2), tg.ones(5, 3)).shape
    tapegrad.Size([5, 4])
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _check_features("Bilinear", in1_features=in1_features, in2_features=in2_features, out_features=out_features)
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = _empty_parameter((out_features, in1_features, in2_features), dtype)
        if bias:
            self.bias = _empty_parameter((out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): weight and bias from U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
