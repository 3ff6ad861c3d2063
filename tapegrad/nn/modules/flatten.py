"""``torch.nn.modules.flatten``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.flatten import Flatten
>>> Flatten is tg.nn.Flatten
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("flatten")
