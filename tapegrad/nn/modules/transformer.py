"""``torch.nn.modules.transformer``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.transformer import Transformer
>>> Transformer is tg.nn.Transformer
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("transformer")
