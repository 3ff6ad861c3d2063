"""Parameter: a tensor that a Module registers as one of its learnable weights (``torch.nn.Parameter``)."""

import numpy as np

from .. import dtypes
from .._tensor import _init_leaf
from ..autograd.declare import Tensor
from ..autograd.declare import to_array as _to_array


class Parameter(Tensor):
    """Parameter(data=None, requires_grad=True): a leaf tensor that modules register as a learnable weight.

    It shares ``data``'s array (no copy), as PyTorch's does; assigning one to a Module attribute registers it.

    >>> import tapegrad as tg
    >>> p = tg.nn.Parameter(tg.ones(2))
    >>> p
    Parameter containing:
    tensor([1., 1.], requires_grad=True)
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = np.empty((0,), dtype=dtypes.get_default_dtype())
        elif isinstance(data, Tensor):
            array = data._data
        elif isinstance(data, np.ndarray):
            array = data
        else:
            array = _to_array(data)
        _init_leaf(self, array)
        if requires_grad:
            if array.dtype.kind != "f":
                raise RuntimeError(f"Parameter: only Tensors of floating point dtype can require gradients, got "
                                   f"dtype {array.dtype} (pass requires_grad=False to hold integers)")
            self._requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._data, self.requires_grad, self.grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        import copy

        result = Parameter(self._data.copy(), self.requires_grad)
        if self.grad is not None:
            result.grad = copy.deepcopy(self.grad, memo)
        memo[id(self)] = result
        return result


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(data, requires_grad)
    p.grad = grad
    return p
