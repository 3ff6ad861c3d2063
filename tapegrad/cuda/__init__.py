"""torch.cuda as a CPU-only library answers it: no CUDA device is available.

Scripts written for PyTorch can keep their ``device = "cuda" if torch.cuda.is_available() else "cpu"`` lines.

>>> import tapegrad as tg
>>> tg.cuda.is_available(), tg.cuda.device_count()
(False, 0)
"""

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "is_bf16_supported", "is_initialized",
           "empty_cache", "memory_allocated", "max_memory_allocated", "synchronize", "current_device",
           "get_device_name", "amp"]

_NOT_COMPILED = "Torch not compiled with CUDA enabled (tapegrad runs on the CPU only)"


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


def is_bf16_supported(including_emulation=True):
    """is_bf16_supported(including_emulation=True) -> False: no CUDA device."""
    return False


def is_initialized():
    """is_initialized() -> False: CUDA is never initialized."""
    return False


def empty_cache():
    """empty_cache(): frees CUDA's cached memory in PyTorch; without CUDA a no-op (as PyTorch)."""


def memory_allocated(device=None):
    """memory_allocated(device=None) -> 0: bytes of CUDA memory held by tensors (none)."""
    return 0


def max_memory_allocated(device=None):
    """max_memory_allocated(device=None) -> 0: the peak of ``memory_allocated`` (none)."""
    return 0


def synchronize(device=None):
    """synchronize(device=None): raises, as a CPU-only PyTorch does (there is no CUDA device to wait for)."""
    raise AssertionError(_NOT_COMPILED)


def current_device():
    """current_device(): raises, as a CPU-only PyTorch does."""
    raise AssertionError(_NOT_COMPILED)


def get_device_name(device=None):
    """get_device_name(device=None): raises, as a CPU-only PyTorch does."""
    raise AssertionError(_NOT_COMPILED)


from . import amp  # noqa: E402  (amp uses the functions above)
