"""torch.cpu.amp: PyTorch's deprecated CPU spellings of ``torch.amp``; they warn as PyTorch 2.13 does.

``GradScaler(...)`` is ``torch.amp.GradScaler("cpu", ...)`` (it really scales); ``autocast(...)`` is
``torch.amp.autocast("cpu", ...)``.
"""

from .autocast_mode import autocast
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler"]
