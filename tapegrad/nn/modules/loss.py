"""``torch.nn.modules.loss``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.loss import CrossEntropyLoss
>>> CrossEntropyLoss is tg.nn.CrossEntropyLoss
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("loss")
