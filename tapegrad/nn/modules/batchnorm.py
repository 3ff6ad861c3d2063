"""``torch.nn.modules.batchnorm``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.

>>> import tapegrad as tg
>>> from tapegrad.nn.modules.batchnorm import BatchNorm1d
>>> BatchNorm1d is tg.nn.BatchNorm1d
True
"""

from ._lazy import attach

__getattr__, __dir__ = attach("batchnorm")
