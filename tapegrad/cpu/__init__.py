"""torch.cpu: the CPU device module (always available), and its deprecated ``amp`` spellings.

>>> import tapegrad as tg
>>> tg.cpu.is_available(), tg.cpu.device_count(), tg.cpu.current_device()
(True, 1, 'cpu')
"""

__all__ = ["is_available", "is_initialized", "synchronize", "current_device", "device_count", "amp"]


def is_available():
    """is_available() -> True."""
    return True


def is_initialized():
    """is_initialized() -> True."""
    return True


def synchronize(device=None):
    """synchronize(device=None): nothing to wait for on the CPU."""


def current_device():
    """current_device() -> 'cpu'."""
    return "cpu"


def device_count():
    """device_count() -> 1."""
    return 1


from . import amp  # noqa: E402
