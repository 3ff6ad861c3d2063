"""torch.backends as a CPU-only library answers it: no MPS or cuDNN; their flags are accepted and kept.

>>> import tapegrad as tg
>>> tg.backends.mps.is_available()
False
>>> tg.backends.cudnn.benchmark = True  # accepted (and has no effect)
"""

from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
