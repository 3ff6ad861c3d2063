"""``torch.nn.modules.activation``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.activation import ReLU
>>> ReLU is tg.nn.ReLU
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("activation")
