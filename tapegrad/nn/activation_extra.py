"""More activation layers (``torch.nn`` activations): Threshold, Hardshrink, Softshrink, Tanhshrink, GLU, PReLU,
RReLU and Softmax2d, each calling its ``tapegrad.nn.functional`` form."""

from __future__ import annotations

from .. import dtypes
from . import functional as F
from . import init
from .linear import _empty_parameter
from .module import Module

__all__ = ["Threshold", "Hardshrink", "Softshrink", "Tanhshrink", "GLU", "PReLU", "RReLU", "Softmax2d"]


class Threshold(Module):
    """Threshold(threshold, value, inplace=False): x where x > threshold, else value.

    >>> import tapegrad as tg
    >>> tg.nn.Threshold(0.1, 20.0)(tg.tensor([0.0, 1.0]))
    tensor([20.,  1.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class Hardshrink(Module):
    """Hardshrink(lambd=0.5): x where |x| > lambd, else 0.

    >>> import tapegrad as tg
    >>> tg.nn.Hardshrink()(tg.tensor([0.2, -1.0]))
    tensor([ 0., -1.])
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Module):
    """Softshrink(lambd=0.5): x - lambd above lambd, x + lambd below -lambd, else 0.

    >>> import tapegrad as tg
    >>> tg.nn.Softshrink()(tg.tensor([0.2, -1.0]))
    tensor([ 0.0000, -0.5000])
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.softshrink(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Tanhshrink(Module):
    """Tanhshrink(): x - tanh(x).

    >>> import tapegrad as tg
    >>> tg.nn.Tanhshrink()(tg.tensor([0.0]))
    tensor([0.])
    """

    def forward(self, input):
        return F.tanhshrink(input)


class GLU(Module):
    """GLU(dim=-1): a * sigmoid(b) for the two halves a, b of the input along ``dim``.

    >>> import tapegrad as tg
    >>> tg.nn.GLU()(tg.tensor([[1.0, 0.0]]))
    tensor([[0.5000]])
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class PReLU(Module):
    """PReLU(num_parameters=1, init=0.25, device=None, dtype=None): x where x > 0, else weight * x, with a
    learnable ``weight`` of ``num_parameters`` elements (1, or the number of channels), filled with ``init``.

    >>> import tapegrad as tg
    >>> tg.nn.PReLU()(tg.tensor([-4.0, 2.0]))
    tensor([-1.,  2.], grad_fn=<PreluKernelBackward0>)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters = num_parameters
        self.init = init
        self.weight = _empty_parameter((num_parameters,), dtypes.as_dtype(dtype) if dtype is not None else None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): fill the weight with ``init`` again."""
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """RReLU(lower=1/8, upper=1/3, inplace=False): randomized leaky ReLU (random slopes in training, their mean
    in evaluation).

    >>> import tapegrad as tg
    >>> tg.nn.RReLU(0.5, 0.5)(tg.tensor([-2.0, 1.0]))
    tensor([-1.,  1.])
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """Softmax2d(): softmax over the channels (dimension -3) of a (N, C, H, W) or (C, H, W) input.

    >>> import tapegrad as tg
    >>> tg.nn.Softmax2d()(tg.zeros(2, 1, 1))
    tensor([[[0.5000]],
    <BLANKLINE>
            [[0.5000]]])
    """

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3, _stacklevel=5)
