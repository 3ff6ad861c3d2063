"""``torch.nn.modules.sparse``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.sparse import Embedding
>>> Embedding is tg.nn.Embedding
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("sparse")
