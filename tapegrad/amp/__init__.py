"""torch.amp: automatic mixed precision, as a CPU float32 run of PyTorch behaves.

``GradScaler("cpu")`` scales for real and gives PyTorch's numbers; ``autocast`` keeps PyTorch's state but
tapegrad's ops compute in float32 (see ``autocast_mode``).

>>> import tapegrad as tg
>>> tg.amp.GradScaler("cpu", enabled=False).scale(tg.tensor(2.0))
tensor(2.)
"""

from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from .grad_scaler import GradScaler

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]
