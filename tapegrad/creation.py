"""Creating tensors: from data, filled, ranges, and random."""

import numpy as np

from . import dtypes
from . import random as _random
from ._tensor import Tensor, _to_array, _wrap

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like", "arange", "linspace", "eye", "randn", "rand", "randint", "randn_like",
           "rand_like", "randint_like", "is_tensor", "numel"]


def _finish(array, requires_grad):
    t = _wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _sizes(size):
    """Accept ``zeros(2, 3)``, ``zeros((2, 3))`` and ``zeros([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be a tuple of ints, got {type(s).__name__} {s!r}")
        if s < 0:
            raise RuntimeError(f"negative dimension {s} in size {tuple(size)}")
    return tuple(int(s) for s in size)


def _float_dtype(dtype):
    return dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()


def tensor(data, dtype=None, device=None, requires_grad=False):
    """tensor(data, dtype=None, requires_grad=False): a new tensor holding a copy of ``data``.

    Python floats become float32, ints int64, bools bool; numpy arrays keep their dtype.

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2]).dtype, tg.tensor([1.5]).dtype
    (dtype('int64'), dtype('float32'))
    """
    arr = _to_array(data, dtype)
    if isinstance(data, np.ndarray) and arr is data:
        arr = arr.copy()
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """as_tensor(data, dtype=None): like ``tensor`` but shares memory with a numpy array or tensor when it can."""
    if isinstance(data, Tensor) and (dtype is None or dtypes.as_dtype(dtype) == data.dtype):
        return data
    return _wrap(_to_array(data, dtype) if not isinstance(data, np.ndarray) or dtype else data)


def from_numpy(array):
    """from_numpy(array): a tensor sharing memory with a numpy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return _wrap(_to_array(array))


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """zeros(*size, dtype=None, requires_grad=False): a tensor of zeros (float32 by default)."""
    return _finish(np.zeros(_sizes(size), _float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """ones(*size, dtype=None, requires_grad=False): a tensor of ones (float32 by default)."""
    return _finish(np.ones(_sizes(size), _float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """empty(*size, dtype=None): an uninitialized tensor (here: zeros, so nothing is ever garbage)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """full(size, fill_value, dtype=None): a tensor filled with ``fill_value`` (its dtype follows the value)."""
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value, dtypes.bool)
    return _finish(np.full(_sizes((size,)), fill_value, dtypes.as_dtype(dtype)), requires_grad)


def _like(fill):
    def like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
        dt = dtypes.as_dtype(dtype) if dtype is not None else input.dtype
        return _finish(fill(input.shape, dt), requires_grad)

    return like


zeros_like = _like(np.zeros)
zeros_like.__doc__ = "zeros_like(input, dtype=None): zeros with the shape (and dtype) of ``input``."
ones_like = _like(np.ones)
ones_like.__doc__ = "ones_like(input, dtype=None): ones with the shape (and dtype) of ``input``."
empty_like = zeros_like


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    dt = dtypes.as_dtype(dtype) if dtype is not None else input.dtype
    return _finish(np.full(input.shape, fill_value, dt), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """arange(start=0, end, step=1, dtype=None): values in [start, end); int64 if all arguments are ints."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    return _finish(np.arange(start, end, step).astype(dtypes.as_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """linspace(start, end, steps, dtype=None): ``steps`` evenly spaced values from start to end inclusive."""
    return _finish(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """eye(n, m=None, dtype=None): the identity matrix."""
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """randn(*size, generator=None, dtype=None): standard normal samples."""
    rng = _random.rng(generator)
    return _finish(rng.standard_normal(_sizes(size)).astype(_float_dtype(dtype)), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """rand(*size, generator=None, dtype=None): uniform samples from [0, 1)."""
    rng = _random.rng(generator)
    return _finish(rng.random(_sizes(size)).astype(_float_dtype(dtype)), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """randint(low=0, high, size, *, generator=None, dtype=int64): integers in [low, high)."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    rng = _random.rng(generator)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    return _finish(rng.integers(low, high, _sizes((size,))).astype(dt), requires_grad)


def randn_like(input, dtype=None, generator=None, requires_grad=False):
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype, requires_grad=requires_grad)


def rand_like(input, dtype=None, generator=None, requires_grad=False):
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, generator=None):
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype)
