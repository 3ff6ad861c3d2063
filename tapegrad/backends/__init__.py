"""torch.backends as a CPU-only library answers it: no MPS or cuDNN; their flags are accepted and kept.

Also the global switches PyTorch keeps beside them: ``set_float32_matmul_precision`` (tied to
``backends.cuda.matmul.allow_tf32``) and ``use_deterministic_algorithms``. tapegrad computes float32 matrix
products in float32 and deterministically whatever they say; they are kept so scripts can set and read them.

>>> import tapegrad as tg
>>> tg.backends.mps.is_available()
False
>>> tg.backends.cudnn.benchmark = True  # accepted (and has no effect)
>>> tg.backends.cudnn.benchmark
True
>>> tg.backends.cudnn.benchmark = False
"""

import warnings

from . import _state, cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps", "set_float32_matmul_precision", "get_float32_matmul_precision",
           "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode"]


def set_float32_matmul_precision(precision: str) -> None:
    """set_float32_matmul_precision(precision): "highest", "high" or "medium" (kept; tapegrad's float32
    products are always computed in float32, i.e. "highest"). Other strings warn and change nothing, as PyTorch.

    >>> import tapegrad as tg
    >>> tg.set_float32_matmul_precision("high"); tg.backends.cuda.matmul.allow_tf32
    True
    >>> tg.set_float32_matmul_precision("highest")
    """
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", stacklevel=2)
        return
    _state.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """get_float32_matmul_precision() -> str: what ``set_float32_matmul_precision`` set ("highest" at first)."""
    return _state.matmul_precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """use_deterministic_algorithms(mode, *, warn_only=False): kept; every tapegrad op is already deterministic
    (numpy on the CPU, no atomics), so nothing ever warns or raises for nondeterminism."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'warn_only' must be bool, not "
                        f"{type(warn_only).__name__}")
    _state.deterministic, _state.deterministic_warn_only = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """are_deterministic_algorithms_enabled() -> bool: what ``use_deterministic_algorithms`` set."""
    return _state.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """is_deterministic_algorithms_warn_only_enabled() -> bool: its ``warn_only``."""
    return _state.deterministic_warn_only


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode) -> None:
    """set_deterministic_debug_mode(debug_mode): 0/"default", 1/"warn" (deterministic, warn only) or
    2/"error" (deterministic) -- the same as the matching ``use_deterministic_algorithms`` call."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, "
                               f"but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if not isinstance(debug_mode, int):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """get_deterministic_debug_mode() -> int: 0 (off), 1 (warn only) or 2 (on)."""
    if not _state.deterministic:
        return 0
    return 1 if _state.deterministic_warn_only else 2
