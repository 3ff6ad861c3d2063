"""torch.accelerator as a CPU-only PyTorch answers it: nothing available, device access raises."""

import doctest

import pytest

import tapegrad as tg
from tapegrad import accelerator

RAISING = ["current_device_index", "synchronize", "empty_cache", "empty_host_cache", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_stats",
           "reset_accumulated_memory_stats", "reset_peak_memory_stats", "get_memory_info", "get_device_capability",
           "current_stream"]


def test_no_accelerator():
    assert accelerator.is_available() is False and accelerator.device_count() == 0
    assert accelerator.current_accelerator() is None and accelerator.current_accelerator(check_available=True) is None
    device = accelerator.current_accelerator() if accelerator.is_available() else "cpu"
    assert tg.zeros(2, device=device).device == tg.device("cpu")  # the script idiom


@pytest.mark.parametrize("name", RAISING)
def test_device_access_raises_as_pytorch(name):
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available."):
        getattr(accelerator, name)()


def test_setters_and_deprecated_spellings():
    with pytest.raises(RuntimeError, match="none is available"):
        accelerator.set_device_index(0)
    with pytest.warns(FutureWarning, match="Use `current_device_index` instead."), pytest.raises(RuntimeError):
        accelerator.current_device_idx()
    with pytest.warns(FutureWarning, match="Use `set_device_index` instead."), pytest.raises(RuntimeError):
        accelerator.set_device_idx(0)
    with accelerator.device_index(None):
        pass
    with pytest.raises(RuntimeError, match="none is available"), accelerator.device_index(0):
        pass


def test_doctests():
    assert doctest.testmod(accelerator, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert sorted(accelerator.__all__) == sorted(n for n in torch.accelerator.__all__ if n not in ("Graph",
                                                                                                    "set_stream"))
    assert torch.accelerator.is_available() is accelerator.is_available()
    assert torch.accelerator.current_accelerator() is None and torch.accelerator.device_count() == 0
    for name in RAISING:
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available."):
            getattr(torch.accelerator, name)()
