"""Activation layers (``torch.nn`` activations): each calls its ``tapegrad.nn.functional`` form."""

import warnings

from . import functional as F
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "ELU", "Softplus", "Softmax", "LogSoftmax",
           "Hardtanh", "ReLU6", "Mish", "Softsign", "Hardswish", "Hardsigmoid", "SELU", "CELU", "LogSigmoid",
           "Softmin"]


def _inplace_str(inplace, first=False):
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class ReLU(Module):
    """ReLU(inplace=False): max(0, x).

    >>> import tapegrad as tg
    >>> tg.nn.ReLU()(tg.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class LeakyReLU(Module):
    """LeakyReLU(negative_slope=0.01, inplace=False): x if x >= 0 else negative_slope * x.

    >>> import tapegrad as tg
    >>> tg.nn.LeakyReLU(0.1)(tg.tensor([-1.0, 2.0]))
    tensor([-0.1000,  2.0000])
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + _inplace_str(self.inplace)


class Sigmoid(Module):
    """Sigmoid(): 1 / (1 + exp(-x)).

    >>> import tapegrad as tg
    >>> tg.nn.Sigmoid()(tg.zeros(2))
    tensor([0.5000, 0.5000])
    """

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """Tanh(): the hyperbolic tangent.

    >>> import tapegrad as tg
    >>> tg.nn.Tanh()(tg.zeros(2))
    tensor([0., 0.])
    """

    def forward(self, input):
        return F.tanh(input)


class GELU(Module):
    """GELU(approximate='none'): x * Phi(x) (exact, with erf), or its tanh approximation (approximate='tanh').

    >>> import tapegrad as tg
    >>> tg.nn.GELU()(tg.zeros(1))
    tensor([0.])
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """SiLU(inplace=False): x * sigmoid(x) (also called swish).

    >>> import tapegrad as tg
    >>> tg.nn.SiLU()(tg.zeros(1))
    tensor([0.])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class ELU(Module):
    """ELU(alpha=1.0, inplace=False): x if x > 0 else alpha * (exp(x) - 1).

    >>> import tapegrad as tg
    >>> tg.nn.ELU()(tg.tensor([1.0]))
    tensor([1.])
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class Softplus(Module):
    """Softplus(beta=1.0, threshold=20.0): log(1 + exp(beta * x)) / beta, and x itself where beta * x >
    threshold.

    >>> import tapegrad as tg
    >>> tg.nn.Softplus()(tg.tensor([30.0]))
    tensor([30.])
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


def _legacy_softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """Softmax(dim=None): exp(x) / sum(exp(x)) along ``dim`` (computed stably by the functional form).

    >>> import tapegrad as tg
    >>> tg.nn.Softmax(dim=-1)(tg.zeros(1, 2))
    tensor([[0.5000, 0.5000]])
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("softmax", input.dim())
        return F.softmax(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """LogSoftmax(dim=None): log(softmax(x)) along ``dim``, computed stably as x - logsumexp(x).

    >>> import tapegrad as tg
    >>> tg.nn.LogSoftmax(dim=1)(tg.zeros(1, 2))
    tensor([[-0.6931, -0.6931]])
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("log_softmax", input.dim())
        return F.log_softmax(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Hardtanh(Module):
    """Hardtanh(min_val=-1.0, max_val=1.0, inplace=False): x clamped to [min_val, max_val].

    >>> import tapegrad as tg
    >>> tg.nn.Hardtanh()(tg.tensor([-3.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_str(self.inplace)


class ReLU6(Hardtanh):
    """ReLU6(inplace=False): min(max(0, x), 6).

    >>> import tapegrad as tg
    >>> tg.nn.ReLU6()(tg.tensor([-1.0, 7.0]))
    tensor([0., 6.])
    """

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class Mish(Module):
    """Mish(inplace=False): x * tanh(softplus(x)).

    >>> import tapegrad as tg
    >>> tg.nn.Mish()(tg.zeros(1))
    tensor([0.])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.mish(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class Softsign(Module):
    """Softsign(): x / (1 + |x|).

    >>> import tapegrad as tg
    >>> tg.nn.Softsign()(tg.tensor([1.0]))
    tensor([0.5000])
    """

    def forward(self, input):
        return F.softsign(input)


class Hardswish(Module):
    """Hardswish(inplace=False): x * relu6(x + 3) / 6.

    >>> import tapegrad as tg
    >>> tg.nn.Hardswish()(tg.tensor([3.0]))
    tensor([3.])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardsigmoid(Module):
    """Hardsigmoid(inplace=False): relu6(x + 3) / 6.

    >>> import tapegrad as tg
    >>> tg.nn.Hardsigmoid()(tg.zeros(1))
    tensor([0.5000])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class SELU(Module):
    """SELU(inplace=False): scale * elu(x, alpha) with PyTorch's self-normalizing constants.

    >>> import tapegrad as tg
    >>> tg.nn.SELU()(tg.zeros(1))
    tensor([0.])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.selu(input, self.inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class CELU(Module):
    """CELU(alpha=1.0, inplace=False): max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    >>> import tapegrad as tg
    >>> tg.nn.CELU()(tg.tensor([2.0]))
    tensor([2.])
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class LogSigmoid(Module):
    """LogSigmoid(): log(sigmoid(x)), computed stably as -softplus(-x).

    >>> import tapegrad as tg
    >>> tg.nn.LogSigmoid()(tg.zeros(1))
    tensor([-0.6931])
    """

    def forward(self, input):
        return F.logsigmoid(input)


class Softmin(Module):
    """Softmin(dim=None): softmax(-x) along ``dim``.

    >>> import tapegrad as tg
    >>> tg.nn.Softmin(dim=0)(tg.zeros(2))
    tensor([0.5000, 0.5000])
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("softmin", input.dim())
        return F.softmin(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"
