"""``torch.nn.modules.module``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.module import Module
>>> Module is tg.nn.Module
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("module")
