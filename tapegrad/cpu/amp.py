"""torch.cpu.amp: PyTorch's deprecated CPU spellings of ``torch.amp``; they warn as PyTorch 2.13 does.

``GradScaler(...)`` is ``torch.amp.GradScaler("cpu", ...)`` (it really scales); ``autocast(...)`` is
``torch.amp.autocast("cpu", ...)``.
"""

import warnings

from ..amp import autocast_mode as _autocast_mode
from ..amp import grad_scaler as _grad_scaler

__all__ = ["autocast", "GradScaler"]


def _deprecated(old, new):
    warnings.warn(f"`torch.cpu.amp.{old}(args...)` is deprecated. Please use `{new}` instead.", FutureWarning,
                  stacklevel=3)


class GradScaler(_grad_scaler.GradScaler):
    """GradScaler(init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
    deprecated; ``torch.amp.GradScaler("cpu", ...)``."""

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        _deprecated("GradScaler", "torch.amp.GradScaler('cpu', args...)")
        super().__init__("cpu", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)


class autocast(_autocast_mode.autocast):
    """autocast(enabled=True, dtype=torch.bfloat16, cache_enabled=True): deprecated;
    ``torch.amp.autocast("cpu", ...)``. (The default dtype is float16 until tapegrad has bfloat16.)"""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        _deprecated("autocast", "torch.amp.autocast('cpu', args...)")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)
