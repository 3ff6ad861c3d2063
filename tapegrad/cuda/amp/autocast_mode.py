"""``torch.cuda.amp.autocast_mode``: the deprecated ``autocast``, ``custom_fwd`` and ``custom_bwd``."""

import functools

from ... import dtypes
from ...amp import autocast_mode as _autocast_mode
from .common import _deprecated

__all__ = ["autocast", "custom_fwd", "custom_bwd"]


class autocast(_autocast_mode.autocast):
    """autocast(enabled=True, dtype=torch.float16, cache_enabled=True): deprecated;
    ``torch.amp.autocast("cuda", ...)``, which without CUDA warns and disables itself."""

    def __init__(self, enabled=True, dtype=dtypes.float16, cache_enabled=True):
        _deprecated("autocast", "torch.amp.autocast('cuda', args...)")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """custom_fwd(fwd=None, *, cast_inputs=None): deprecated; ``torch.amp.custom_fwd(..., device_type='cuda')``."""
    _deprecated("custom_fwd", "torch.amp.custom_fwd(args..., device_type='cuda')")
    return functools.partial(_autocast_mode.custom_fwd, device_type="cuda")(fwd=fwd, cast_inputs=cast_inputs)


def custom_bwd(bwd):
    """custom_bwd(bwd): deprecated; ``torch.amp.custom_bwd(bwd, device_type='cuda')``."""
    _deprecated("custom_bwd", "torch.amp.custom_bwd(args..., device_type='cuda')")
    return _autocast_mode.custom_bwd(bwd, device_type="cuda")
