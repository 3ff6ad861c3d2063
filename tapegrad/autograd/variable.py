"""Variable: PyTorch's pre-0.4 wrapper, kept (as PyTorch keeps it) so old scripts run.

``Variable(t, requires_grad=True)`` is ``t.detach().requires_grad_(True)``: a plain Tensor, sharing ``t``'s
memory. ``isinstance(x, Variable)`` is true for every tensor.
"""

import warnings

import numpy as np

from .. import dtypes
from .._tensor import Tensor
from .._tensor import wrap as _wrap
from .engine import queue_callback


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class _ExecutionEngine:
    """``Variable._execution_engine``: where PyTorch code reaches the engine (``queue_callback``)."""

    queue_callback = staticmethod(queue_callback)


class Variable(metaclass=_VariableMeta):
    """Variable(data, requires_grad=False, volatile=False): ``data.detach()`` with ``requires_grad`` set.

    >>> import tapegrad as tg
    >>> from tapegrad.autograd import Variable
    >>> x = Variable(tg.ones(2), requires_grad=True)
    >>> type(x).__name__, x.requires_grad, isinstance(x, Variable)
    ('Tensor', True, True)
    """

    _execution_engine = _ExecutionEngine()

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn("Variable: volatile was removed and now has no effect; use `with tapegrad.no_grad():` "
                          "instead", UserWarning, stacklevel=2)
            if requires_grad:
                raise ValueError("Variable: can't be volatile and require grad at the same time")
        if data is None:
            t = _wrap(np.zeros((0,), dtypes.get_default_dtype()))
        elif isinstance(data, Tensor):
            t = data.detach()
        else:
            raise TypeError(f"Variable: data has to be a tensor, but got {type(data).__name__}")
        if requires_grad:
            t.requires_grad_(True)
        return t
