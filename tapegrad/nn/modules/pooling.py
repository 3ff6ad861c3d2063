"""``torch.nn.modules.pooling``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.pooling import MaxPool2d
>>> MaxPool2d is tg.nn.MaxPool2d
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("pooling")
