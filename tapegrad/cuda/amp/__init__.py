"""torch.cuda.amp: PyTorch's deprecated CUDA spellings of ``torch.amp``; they warn as PyTorch 2.13 does.

Without CUDA, ``GradScaler()`` and ``autocast()`` also warn that CUDA is not available and disable themselves
(a CPU-only PyTorch does the same), so ``scaler.scale(loss)`` returns the loss unchanged.

>>> import warnings, tapegrad as tg
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     tg.cuda.amp.GradScaler().is_enabled()
False
"""

from .autocast_mode import autocast, custom_bwd, custom_fwd
from .common import amp_definitely_not_available
from .grad_scaler import GradScaler, OptState  # noqa: F401  (PyTorch keeps OptState here)

__all__ = ["amp_definitely_not_available", "autocast", "custom_bwd", "custom_fwd", "GradScaler"]
