"""``torch.nn.modules.lazy``: PyTorch's path to the layers it defines there, resolved in ``tapegrad.nn``.
"""

from ._lazy import attach

__getattr__, __dir__ = attach("lazy")
