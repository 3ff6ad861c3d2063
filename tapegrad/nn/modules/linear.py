"""``torch.nn.modules.linear``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.linear import Linear
>>> Linear is tg.nn.Linear
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("linear")
