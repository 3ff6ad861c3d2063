"""``torch.accelerator``: the device-agnostic accelerator API, answered as a CPU-only PyTorch answers it.

Scripts written for PyTorch 2.6+ pick their device with
``device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else "cpu"``; on tapegrad
there is no accelerator, so they run on the CPU. What would touch an accelerator device raises PyTorch's
RuntimeError.

>>> import tapegrad as tg
>>> tg.accelerator.is_available(), tg.accelerator.current_accelerator(), tg.accelerator.device_count()
(False, None, 0)
"""

import contextlib
import warnings

__all__ = ["current_accelerator", "current_device_idx", "current_device_index", "current_stream", "device_count",
           "device_index", "empty_cache", "empty_host_cache", "get_device_capability", "get_memory_info",
           "is_available", "max_memory_allocated", "max_memory_reserved", "memory_allocated", "memory_reserved",
           "memory_stats", "reset_accumulated_memory_stats", "reset_peak_memory_stats", "set_device_idx",
           "set_device_index", "synchronize"]

_NONE = "Cannot access accelerator device when none is available."


def _no_device():
    raise RuntimeError(_NONE)


def is_available():
    """is_available() -> False: tapegrad computes on the CPU, which is not an accelerator."""
    return False


def current_accelerator(check_available=False):
    """current_accelerator(check_available=False) -> None: there is no accelerator device type."""
    return None


def device_count():
    """device_count() -> 0: the number of accelerator devices."""
    return 0


def current_device_index():
    """current_device_index() -> int: raises RuntimeError, as PyTorch without an accelerator."""
    _no_device()


def current_device_idx():
    """current_device_idx(): PyTorch's deprecated spelling of :func:`current_device_index` (warns, then raises)."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_index(device, /):
    """set_device_index(device, /): raises RuntimeError, as PyTorch without an accelerator."""
    _no_device()


def set_device_idx(device, /):
    """set_device_idx(device, /): PyTorch's deprecated spelling of :func:`set_device_index` (warns, then raises)."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    return set_device_index(device)


@contextlib.contextmanager
def device_index(device, /):
    """device_index(device, /): a context manager; ``None`` does nothing, an index raises RuntimeError (no
    accelerator), as PyTorch's."""
    if device is not None:
        _no_device()
    yield


def _device_function(name, doc_args="device_index=None, /"):
    def function(device_index=None, /):
        _no_device()

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"{name}({doc_args}): raises RuntimeError, as PyTorch without an accelerator."
    return function


synchronize = _device_function("synchronize", "device=None, /")
current_stream = _device_function("current_stream", "device=None, /")
get_device_capability = _device_function("get_device_capability", "device=None, /")
get_memory_info = _device_function("get_memory_info")
memory_allocated = _device_function("memory_allocated")
max_memory_allocated = _device_function("max_memory_allocated")
memory_reserved = _device_function("memory_reserved")
max_memory_reserved = _device_function("max_memory_reserved")
memory_stats = _device_function("memory_stats")
reset_accumulated_memory_stats = _device_function("reset_accumulated_memory_stats")
reset_peak_memory_stats = _device_function("reset_peak_memory_stats")


def empty_cache():
    """empty_cache(): raises RuntimeError, as PyTorch without an accelerator."""
    _no_device()


def empty_host_cache():
    """empty_host_cache(): raises RuntimeError, as PyTorch without an accelerator."""
    _no_device()
