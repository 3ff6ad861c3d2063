"""``torch.nn.modules.normalization``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.normalization import LayerNorm
>>> LayerNorm is tg.nn.LayerNorm
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("normalization")
