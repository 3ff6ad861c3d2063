"""The in-place functional forms of the activations in ``functional.py`` (``elu_``, ``celu_``, ``selu_``,
``leaky_relu_``, ``hardtanh_``), as PyTorch's ``torch.nn.functional`` has them.

They call ``functional.py``'s ops, so ``functional.py`` cannot import this module (that would be an import cycle):
``tapegrad/nn/__init__.py`` imports it, and it attaches its functions to ``tapegrad.nn.functional``.
"""

from __future__ import annotations

from ..autograd.declare import Tensor, op
from . import functional as _F

__all__ = ["elu_", "celu_", "selu_", "leaky_relu_", "hardtanh_"]


@op(methods=(), xp_name=False)
def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """elu_(input, alpha=1.) -> input: elu in place (``EluBackward1``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.elu_(tg.tensor([1.0, 0.0]))
    tensor([1., 0.])
    """
    return _F.elu(input, alpha, inplace=True)


@op(methods=(), xp_name=False)
def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """celu_(input, alpha=1.) -> input: celu in place (``CeluBackward1``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.celu_(tg.tensor([2.0]))
    tensor([2.])
    """
    return _F.celu(input, alpha, inplace=True)


@op(methods=(), xp_name=False)
def selu_(input: Tensor) -> Tensor:
    """selu_(input) -> input: selu in place (``EluBackward1``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.selu_(tg.tensor([0.0]))
    tensor([0.])
    """
    return _F.selu(input, inplace=True)


@op(methods=(), xp_name=False)
def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """leaky_relu_(input, negative_slope=0.01) -> input: leaky_relu in place (``LeakyReluBackward1``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.leaky_relu_(tg.tensor([-2.0, 3.0]), 0.5)
    tensor([-1.,  3.])
    """
    return _F.leaky_relu(input, negative_slope, inplace=True)


@op(methods=(), xp_name=False)
def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """hardtanh_(input, min_val=-1., max_val=1.) -> input: hardtanh in place.

    Unlike ``hardtanh`` (and ``hardtanh(..., inplace=True)``), it does not check ``min_val <= max_val``, as
    PyTorch's: with ``min_val > max_val`` every element becomes ``max_val`` (``min(max_val, max(min_val, x))``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardtanh_(tg.tensor([-2.0, 0.5]))
    tensor([-1.0000,  0.5000])
    >>> tg.nn.functional.hardtanh_(tg.tensor([1.0, 3.0, -1.0]), 2.0, 1.0)
    tensor([1., 1., 1.])
    """
    return _F._inplace(input, "hardtanh_", _F._hardtanh, min_val, max_val)


for _name in __all__:
    setattr(_F, _name, globals()[_name])
_F.__all__ += [n for n in __all__ if n not in _F.__all__]
del _name
