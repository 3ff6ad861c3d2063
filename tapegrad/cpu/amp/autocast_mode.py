"""``torch.cpu.amp.autocast_mode``: the deprecated ``autocast`` (``torch.amp.autocast("cpu", ...)``)."""

from ...amp import autocast_mode as _autocast_mode
from .grad_scaler import _deprecated

__all__ = ["autocast"]


class autocast(_autocast_mode.autocast):
    """autocast(enabled=True, dtype=torch.bfloat16, cache_enabled=True): deprecated;
    ``torch.amp.autocast("cpu", ...)``. (The default dtype is float16 until tapegrad has bfloat16.)"""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        _deprecated("autocast", "torch.amp.autocast('cpu', args...)")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)
