"""``torch.nn.modules.conv``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.conv import Conv2d
>>> Conv2d is tg.nn.Conv2d
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("conv")
