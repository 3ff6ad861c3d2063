"""``torch.cuda.amp.grad_scaler``: the deprecated ``GradScaler`` (``torch.amp.GradScaler("cuda", ...)``)."""

from ...amp import grad_scaler as _grad_scaler
from ...amp.grad_scaler import OptState  # noqa: F401  (PyTorch keeps this name here)
from .common import _deprecated

__all__ = ["GradScaler"]


class GradScaler(_grad_scaler.GradScaler):
    """GradScaler(init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
    deprecated; ``torch.amp.GradScaler("cuda", ...)``, which without CUDA warns and disables itself."""

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        _deprecated("GradScaler", "torch.amp.GradScaler('cuda', args...)")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)
