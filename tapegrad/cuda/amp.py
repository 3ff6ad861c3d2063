"""torch.cuda.amp: PyTorch's deprecated CUDA spellings of ``torch.amp``; they warn as PyTorch 2.13 does.

Without CUDA, ``GradScaler()`` and ``autocast()`` also warn that CUDA is not available and disable themselves
(a CPU-only PyTorch does the same), so ``scaler.scale(loss)`` returns the loss unchanged.

>>> import warnings, tapegrad as tg
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     tg.cuda.amp.GradScaler().is_enabled()
False
"""

import functools
import warnings

from .. import dtypes
from ..amp import autocast_mode as _autocast_mode
from ..amp import grad_scaler as _grad_scaler
from ..amp.grad_scaler import OptState  # noqa: F401  (PyTorch keeps this name here)

__all__ = ["amp_definitely_not_available", "autocast", "custom_bwd", "custom_fwd", "GradScaler"]


def _deprecated(old, new):
    warnings.warn(f"`torch.cuda.amp.{old}(args...)` is deprecated. Please use `{new}` instead.", FutureWarning,
                  stacklevel=3)


def amp_definitely_not_available():
    """amp_definitely_not_available() -> True: CUDA is not available."""
    return True


class GradScaler(_grad_scaler.GradScaler):
    """GradScaler(init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
    deprecated; ``torch.amp.GradScaler("cuda", ...)``, which without CUDA warns and disables itself."""

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        _deprecated("GradScaler", "torch.amp.GradScaler('cuda', args...)")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)


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
