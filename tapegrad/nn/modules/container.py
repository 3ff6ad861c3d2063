"""``torch.nn.modules.container``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.container import Sequential
>>> Sequential is tg.nn.Sequential
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("container")
