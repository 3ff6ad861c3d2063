"""Operations by family; each module keeps a forward beside its gradient rule and lists its names in __all__."""

from ..autograd.xp import register_tensor_xp
from . import attention, copy, elementwise, index, linalg, reduce, shape, sort  # importing declares the ops

# Every public op is available to create_graph rules as ``xp.<name>`` (adapters with numpy's signatures win).
for _module in (attention, copy, elementwise, index, linalg, reduce, shape, sort):
    for _name in _module.__all__:
        register_tensor_xp(_name, getattr(_module, _name))
from . import rnn  # noqa: E402,F401  (the recurrent layers' fused ops)
