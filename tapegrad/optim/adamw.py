"""``torch.optim.adamw``: PyTorch's module path to ``AdamW`` (tapegrad defines it beside Adam, in adam.py).

>>> import tapegrad as tg
>>> from tapegrad.optim.adamw import AdamW
>>> AdamW is tg.optim.AdamW
True
"""

from .adam import AdamW

__all__ = ["AdamW"]
