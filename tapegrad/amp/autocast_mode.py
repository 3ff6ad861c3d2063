"""autocast: PyTorch's mixed-precision regions, kept as state; tapegrad's ops still compute in float32.

``with torch.autocast(device_type="cpu", dtype=torch.float16):`` (or ``bfloat16``) turns autocast on for the
CPU as in PyTorch: ``is_autocast_enabled("cpu")`` is True and ``get_autocast_dtype("cpu")`` is the dtype inside
the region. tapegrad has no reduced-precision kernels, so the ops inside run in the dtypes of their inputs
(float32 for a float32 model): the first such region warns once, naming the difference. Everything PyTorch
itself refuses is refused the same way: another dtype on the CPU warns and disables the region, and
``device_type="cuda"`` warns that CUDA is not available and disables it.

>>> import tapegrad as tg
>>> with tg.autocast("cpu", dtype=tg.float16):
...     tg.is_autocast_enabled("cpu"), tg.get_autocast_dtype("cpu")
(True, dtype('float16'))
>>> tg.is_autocast_enabled("cpu")
False
"""

import functools
import threading
import warnings

import numpy as np

from .. import dtypes

__all__ = ["autocast", "autocast_decorator", "is_autocast_available", "custom_fwd", "custom_bwd"]

# Device types PyTorch parses, and the default autocast dtype of those that have autocast.
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                 "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_REDUCED = "bfloat16"
_DEFAULT_DTYPE = {"cpu": _REDUCED, "cuda": "float16", "mps": "float16", "xpu": "float16", "ipu": "float16",
                  "mtia": "float16", "hpu": _REDUCED, "xla": _REDUCED, "maia": _REDUCED}


def _dtype_named(name):
    # NOTE: without ml_dtypes (the bfloat16 extra) tapegrad.bfloat16 cannot make tensors; where PyTorch's default
    # is bfloat16 we then report float16, the other 16-bit float that autocast accepts (both run in float32 here).
    dtype = getattr(dtypes, name)
    return dtype if isinstance(dtype, np.dtype) else dtypes.float16


def _supported_dtypes():
    return [d for d in (dtypes.bfloat16, dtypes.float16) if isinstance(d, np.dtype)]


def _check_device_type(device_type):
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: "
                           f"{device_type}")
    if device_type not in _DEFAULT_DTYPE:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")


class _State(threading.local):
    def __init__(self):
        self.enabled = {}
        self.dtype = {}
        self.cache_enabled = True
        self.nesting = 0


_state = _State()


def is_autocast_available(device_type: str) -> bool:
    """is_autocast_available(device_type) -> bool: whether autocast accepts ``device_type`` (as PyTorch)."""
    if device_type not in _DEVICE_TYPES:
        _check_device_type(device_type)
    return device_type in _DEFAULT_DTYPE


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """is_autocast_enabled(device_type=None) -> bool: whether an autocast region is on for ``device_type``.

    Without an argument it answers for CUDA, as PyTorch does (always False in tapegrad).
    """
    device_type = "cuda" if device_type is None else device_type
    _check_device_type(device_type)
    return _state.enabled.get(device_type, False)


def set_autocast_enabled(device_type, enabled=None):
    """set_autocast_enabled(device_type, enabled): turn autocast on or off for ``device_type`` (low level)."""
    if enabled is None:  # the legacy one-argument form set CUDA's flag
        device_type, enabled = "cuda", device_type
    _check_device_type(device_type)
    _state.enabled[device_type] = bool(enabled)


def get_autocast_dtype(device_type: str):
    """get_autocast_dtype(device_type) -> dtype: the dtype autocast uses on ``device_type``.

    The defaults are PyTorch's: float16 for CUDA; bfloat16 for the CPU (float16 when ml_dtypes, the bfloat16
    extra, is not installed).
    """
    if device_type not in _DEFAULT_DTYPE:
        if device_type not in _DEVICE_TYPES:
            _check_device_type(device_type)
        raise RuntimeError("unsupported scalarType")
    if device_type in _state.dtype:
        return _state.dtype[device_type]
    return _dtype_named(_DEFAULT_DTYPE[device_type])


def set_autocast_dtype(device_type, dtype):
    """set_autocast_dtype(device_type, dtype): the dtype autocast uses on ``device_type`` (low level)."""
    _check_device_type(device_type)
    _state.dtype[device_type] = dtype


def is_autocast_cache_enabled() -> bool:
    """is_autocast_cache_enabled() -> bool: whether autocast's weight-cast cache is on (True by default)."""
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    """set_autocast_cache_enabled(enabled): kept for PyTorch's API; tapegrad casts nothing, so caches nothing."""
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache():
    """clear_autocast_cache(): nothing to clear in tapegrad."""


def autocast_increment_nesting() -> int:
    """autocast_increment_nesting() -> int: the depth of nested autocast regions, after entering one."""
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting() -> int:
    """autocast_decrement_nesting() -> int: the depth of nested autocast regions, after leaving one."""
    _state.nesting -= 1
    return _state.nesting


def _warn_cpu_deprecated(name, new):
    warnings.warn(f"torch.{name}() is deprecated. Please use torch.{new} instead.", DeprecationWarning, stacklevel=3)


def is_autocast_cpu_enabled():
    """is_autocast_cpu_enabled(): deprecated in PyTorch; ``is_autocast_enabled('cpu')``."""
    _warn_cpu_deprecated("is_autocast_cpu_enabled", "is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    """get_autocast_cpu_dtype(): deprecated in PyTorch; ``get_autocast_dtype('cpu')``."""
    _warn_cpu_deprecated("get_autocast_cpu_dtype", "get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


_warned_float32 = False


def _warn_runs_in_float32(device_type, dtype):
    global _warned_float32
    if not _warned_float32:
        _warned_float32 = True
        warnings.warn(f"autocast(device_type={device_type!r}, dtype={dtype}): tapegrad has no float16/bfloat16 "
                      "kernels, so the ops in this region run in the dtypes of their inputs (float32 for a float32 "
                      "model): the results are those of a run without autocast, not PyTorch's reduced-precision "
                      "ones. This warning is shown once.", UserWarning, stacklevel=3)


def autocast_decorator(autocast_instance, func):
    """The function ``func`` run inside ``autocast_instance`` (what ``@autocast(...)`` returns)."""
    @functools.wraps(func)
    def decorate_autocast(*args, **kwargs):
        with autocast_instance:
            return func(*args, **kwargs)

    return decorate_autocast


class autocast:
    """autocast(device_type, dtype=None, enabled=True, cache_enabled=None): a mixed-precision region.

    A context manager or a decorator, as ``torch.autocast`` (also ``torch.amp.autocast``). The state it sets is
    PyTorch's (``is_autocast_enabled``, ``get_autocast_dtype``), but tapegrad's ops keep computing in their
    inputs' dtypes: float16 or bfloat16 on the CPU is accepted and runs in float32, with a one-time warning.
    Other dtypes on the CPU warn and disable the region, and ``device_type="cuda"`` warns that CUDA is not
    available and disables it, exactly as a CPU-only PyTorch does.

    >>> import tapegrad as tg
    >>> @tg.autocast(device_type="cpu", enabled=False)
    ... def f(x):
    ...     return x * 2, tg.is_autocast_enabled("cpu")
    >>> f(tg.ones(1))
    (tensor([2.]), False)
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if enabled:
            if device_type == "cpu":
                if not (isinstance(self.fast_dtype, np.dtype) and self.fast_dtype in _supported_dtypes()):
                    warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                                  "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                                  stacklevel=2)
                    enabled = False
            elif device_type == "cuda":
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
                enabled = False
            else:
                warnings.warn(f"autocast: device_type {device_type!r} is not available in tapegrad (CPU only). "
                              "Disabling autocast.", stacklevel=2)
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        if self._enabled:
            _warn_runs_in_float32(self.device, self.fast_dtype)
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                            "Did you mean to use autocast as a context manager? For example:\n"
                            "    with torch.autocast(device_type=...):\n"
                            "        output = model(input)")
        return autocast_decorator(self, func)


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """custom_fwd(fwd=None, *, device_type, cast_inputs=None): decorator for a custom Function's ``forward``.

    Records on ``ctx`` whether autocast was on (``ctx._fwd_used_autocast``, ``ctx._dtype``) as PyTorch does.
    With ``cast_inputs`` PyTorch casts floating-point inputs and runs ``forward`` with autocast off; tapegrad's
    autocast computes in float32 everywhere, so the inputs are left as they are and autocast is turned off.
    """
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        args[0]._fwd_used_autocast = False
        if is_autocast_enabled(device_type):
            with autocast(device_type=device_type, enabled=False):
                return fwd(*args, **kwargs)
        return fwd(*args, **kwargs)

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """custom_bwd(bwd=None, *, device_type): decorator for a custom Function's ``backward``: runs it with the
    autocast state its ``forward`` (decorated with ``custom_fwd``) saw."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)

    return decorate_bwd
