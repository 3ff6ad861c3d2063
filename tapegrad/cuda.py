"""torch.cuda as a CPU-only library answers it: no CUDA device is available.

Scripts written for PyTorch can keep their ``device = "cuda" if torch.cuda.is_available() else "cpu"`` lines.

>>> import tapegrad as tg
>>> tg.cuda.is_available(), tg.cuda.device_count()
(False, 0)
"""

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all"]


def is_available():
    """is_available() -> False: tapegrad computes on the CPU with numpy."""
    return False


def device_count():
    """device_count() -> 0: the number of CUDA devices."""
    return 0


def manual_seed(seed):
    """manual_seed(seed): seeds CUDA's generator in PyTorch; without CUDA, silently ignored (as PyTorch)."""


def manual_seed_all(seed):
    """manual_seed_all(seed): seeds every CUDA device's generator in PyTorch; here silently ignored."""
