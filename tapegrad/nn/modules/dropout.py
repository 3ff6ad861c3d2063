"""``torch.nn.modules.dropout``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.dropout import Dropout
>>> Dropout is tg.nn.Dropout
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("dropout")
