"""``torch.utils.hooks``: ``RemovableHandle``, what every ``register_*_hook`` returns.

>>> import tapegrad as tg
>>> from tapegrad.utils.hooks import RemovableHandle
>>> isinstance(tg.nn.Linear(2, 2).register_forward_hook(lambda m, i, o: None), RemovableHandle)
True
"""

from ..nn.module import RemovableHandle

__all__ = ["RemovableHandle"]
