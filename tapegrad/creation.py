"""Creating tensors: from data, filled, ranges, and random."""

import math
import warnings

import numpy as np

from . import dtypes, memory_formats
from . import random as _random
from ._tensor import Size
from .autograd.declare import Tensor, op
from .autograd.declare import to_array as _to_array
from .autograd.declare import wrap as _wrap
from .autograd.inplace import foreign
from .autograd.xp import register_tensor_xp
from .ops import copy as _copy
from .ops._fused import fma

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like", "arange", "linspace", "eye", "randn", "rand", "randint", "randn_like",
           "rand_like", "randint_like", "is_tensor", "is_floating_point", "numel", "FloatTensor", "DoubleTensor",
           "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
__all__ += ["from_dlpack"]


def _finish(array, requires_grad):
    t = _wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _sizes(size, keyword=None, op="zeros"):
    """Accept ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])`` and ``zeros(size=(2, 3))``; a 0-d size is
    ``()`` or ``[]``: ``zeros()`` is refused, as PyTorch's signatures do."""
    if keyword is None and not size:
        raise TypeError(f"{op}() missing 1 required positional arguments: \"size\" (a 0-d tensor is {op}(()))")
    if keyword is not None:
        if size:
            raise TypeError(f"{op}: got the size both as positional arguments {size} and as size={keyword!r}")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}: size must be a tuple of ints, got {type(s).__name__} {s!r}")
        if s < 0:
            raise RuntimeError(f"{op}: negative dimension {s} in size {tuple(size)}")
    return tuple(int(s) for s in size)


def _checked_value(value, dtype, op, shape=None):
    """``value`` (a Python number) converted to an integer ``dtype`` as PyTorch does: refused when it overflows
    (a float out of range, NaN, inf; an int beyond the type, except that an unsigned type takes negative ints down
    to -max, which wrap), truncated toward zero otherwise. Bools are returned unchanged, and floats too unless
    ``shape`` is given: then a float dtype refuses a finite value beyond its range (fill_'s check: 1e40 into
    float32; 1e5 into float16, except for one element, which PyTorch's fill leaves unchecked)."""
    dt = np.dtype(dtypes.as_dtype(dtype))
    if dt.kind == "f" and shape is not None and not isinstance(value, (bool, np.bool_)) and isinstance(
            value, (int, float, np.number)) and not -65504.0 <= value <= 65504.0:
        from .ops.copy import checked_number  # (the ops import this module)

        try:
            return checked_number(value, np.broadcast_to(np.empty((), dt), shape))
        except RuntimeError:
            raise RuntimeError(f"{op}: value {value!r} cannot be converted to type {dt} without overflow") from None
    if dt.kind not in "iu" or isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return value
    info = np.iinfo(dt)
    if isinstance(value, (float, np.floating)):
        bad = not np.isfinite(value) or value < int(info.min) or value > int(info.max)
        value = 0 if bad else int(value)
    else:
        value = int(value)
        bad = value > int(info.max) or value < (-int(info.max) if dt.kind == "u" else int(info.min))
    if bad:
        raise RuntimeError(f"{op}: value cannot be converted to type {dt} without overflow")
    return value % (int(info.max) + 1) if dt.kind == "u" else value


def _float_dtype(dtype):
    return dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()


def tensor(data, dtype=None, device=None, requires_grad=False):
    """tensor(data, dtype=None, requires_grad=False): a new tensor holding a copy of ``data``.

    Python floats become float32, ints int64, bools bool; numpy arrays keep their dtype.

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2]).dtype, tg.tensor([1.5]).dtype
    (dtype('int64'), dtype('float32'))
    """
    if isinstance(data, (list, tuple)):
        dtype = _dtype_of_tensors_in(data, dtype)
    if dtype is not None and np.dtype(dtypes.as_dtype(dtype)).kind in "iu" and isinstance(data, (int, float, list,
                                                                                              tuple)):
        _check_numbers(data, dtype)  # as PyTorch: Python numbers out of an integer dtype's range are refused
    arr = _to_array(data, dtype)
    if isinstance(data, np.ndarray) and arr is data:
        arr = arr.copy()
    return _finish(arr, requires_grad)


def _leaves(data):
    for item in data:
        if isinstance(item, (list, tuple)):
            yield from _leaves(item)
        else:
            yield item


def _dtype_of_tensors_in(data, dtype):
    """The dtype of ``tensor(data)`` when the sequence holds tensors: as PyTorch, their dtypes and the Python
    numbers' (int64, the default float, bool) promoted together (``tensor([t_f64, t_f64])`` is float64); a float
    tensor converted to an integer or bool dtype is refused, as PyTorch refuses it."""
    leaves = list(_leaves(data))
    tensors = [x for x in leaves if isinstance(x, Tensor)]
    if not tensors:
        return dtype
    if dtype is not None:
        if np.dtype(dtypes.as_dtype(dtype)).kind in "iub" and any(t._data.dtype.kind == "f" for t in tensors):
            raise TypeError("tensor: only integer tensors of a single element can be converted to an index (a "
                            "floating-point tensor in the data of an integer or bool tensor, as PyTorch)")
        return dtype
    out = None
    for x in leaves:
        if isinstance(x, Tensor):
            d = x._data.dtype
        elif isinstance(x, (bool, np.bool_)):
            d = np.dtype(bool)
        elif isinstance(x, (int, np.integer)):
            d = np.dtype(np.int64)
        elif isinstance(x, (float, np.floating)):
            d = np.dtype(dtypes.as_dtype(dtypes.get_default_dtype()))
        else:
            return None  # anything else: the usual conversion decides
        out = d if out is None else dtypes.promote(np.zeros(1, out), np.zeros(1, d))
    return out


def _check_numbers(data, dtype, op="tensor"):
    if isinstance(data, (list, tuple)):
        for item in data:
            _check_numbers(item, dtype, op)
    elif isinstance(data, (int, float)):
        _checked_value(data, dtype, op)
    elif isinstance(data, Tensor) and data._data.size == 1 and data._data.dtype.kind in "iu":
        # a one-element tensor in the data is read as a number (its item), checked as one: tensor([t], dtype=uint8)
        # refuses t = 300, as PyTorch (while tensor(t, dtype=uint8) converts the tensor itself, wrapping)
        _checked_value(int(data._data.reshape(-1)[0]), dtype, op)


def as_tensor(data, dtype=None, device=None):
    """as_tensor(data, dtype=None): like ``tensor`` but shares memory with a numpy array or tensor when it can."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)  # as PyTorch: a differentiable cast of the tensor
    if not isinstance(data, np.ndarray):
        if dtype is not None and np.dtype(dtypes.as_dtype(dtype)).kind in "iu" and isinstance(
                data, (int, float, list, tuple)):
            _check_numbers(data, dtype, "as_tensor")  # out of range is refused, not wrapped (as tensor())
        return _wrap(_to_array(data, dtype))
    array = _to_array(data, dtype) if dtype else data
    return _wrap(foreign(array) if array is data else array)  # shared memory: numpy's, not resizable


def from_numpy(array):
    """from_numpy(array): a tensor sharing memory with a numpy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return _wrap(foreign(_to_array(array)))


class _Capsule:
    """A bare DLPack capsule (``torch.utils.dlpack.to_dlpack``'s result) presented as a CPU producer."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)


def from_dlpack(ext_tensor):
    """from_dlpack(ext_tensor) -> Tensor: a tensor sharing memory with any object that has ``__dlpack__`` (a
    numpy array, a PyTorch or JAX CPU tensor, a tapegrad tensor) or with a DLPack capsule; no copy is made, so
    writes through either side show in the other.

    >>> import numpy as np, tapegrad as tg
    >>> a = np.arange(3, dtype=np.float32)
    >>> t = tg.from_dlpack(a)
    >>> a[0] = 7.0
    >>> t
    tensor([7., 1., 2.])
    """
    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _Capsule(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (an array or tensor) or a DLPack capsule, "
                        f"got {type(ext_tensor).__name__}")
    device = ext_tensor.__dlpack_device__() if hasattr(ext_tensor, "__dlpack_device__") else (1, 0)
    if tuple(int(d) for d in device)[:1] != (1,):
        raise BufferError(f"from_dlpack: the {type(ext_tensor).__name__} lives on DLPack device {tuple(device)}; "
                          "tapegrad runs on the CPU (device type 1): move it to the CPU first")
    return _wrap(foreign(np.from_dlpack(ext_tensor)))


def is_tensor(obj):
    """is_tensor(obj) -> bool: whether ``obj`` is a tapegrad Tensor (or a Parameter).

    >>> import tapegrad as tg
    >>> tg.is_tensor(tg.zeros(1)), tg.is_tensor([0.0])
    (True, False)
    """
    return isinstance(obj, Tensor)


def is_floating_point(input):
    """is_floating_point(input) -> bool: whether the tensor's dtype is a floating point type.

    >>> import tapegrad as tg
    >>> tg.is_floating_point(tg.zeros(1)), tg.is_floating_point(tg.arange(3))
    (True, False)
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"is_floating_point: expected a Tensor, got {type(input).__name__}")
    return input._data.dtype.kind == "f"


def numel(input):
    """numel(input) -> int: the number of elements of the tensor.

    >>> import tapegrad as tg
    >>> tg.numel(tg.zeros(2, 3))
    6
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"numel: expected a Tensor, got {type(input).__name__}")
    return input.numel()


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    """zeros(*size, dtype=None, requires_grad=False): a tensor of zeros (float32 by default).

    The size is given as ints, one sequence, or the keyword ``size=``, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).shape == tg.zeros((2, 3)).shape == tg.zeros(size=[2, 3]).shape
    True
    """
    return _finish(np.zeros(_sizes(sizes, size, "zeros"), _float_dtype(dtype)), requires_grad)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    """ones(*size, dtype=None, requires_grad=False): a tensor of ones (float32 by default)."""
    return _finish(np.ones(_sizes(sizes, size, "ones"), _float_dtype(dtype)), requires_grad)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False,
          memory_format=memory_formats.contiguous_format):
    """empty(*size, dtype=None, memory_format=contiguous_format): an uninitialized tensor (here: zeros, so nothing
    is ever garbage), laid out in ``memory_format`` as PyTorch's.

    >>> import tapegrad as tg
    >>> tg.empty(2, 3, 4, 5, memory_format=tg.channels_last).stride()
    (60, 1, 15, 3)
    """
    shape = _sizes(sizes, size, "empty")
    fmt = memory_formats.checked("empty", memory_format, none=memory_formats.contiguous_format)
    return _finish(memory_formats.empty("empty", shape, _float_dtype(dtype), fmt), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """full(size, fill_value, dtype=None): a tensor filled with ``fill_value`` (its dtype follows the value)."""
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value, dtypes.bool)
    shape = _sizes((size,), op="full")
    fill_value = _checked_value(fill_value, dtype, "full", shape)
    return _finish(np.full(shape, fill_value, dtypes.as_dtype(dtype)), requires_grad)


def _like_array(op, input, dtype, memory_format):
    """Zeros of ``input``'s shape in ``dtype`` (its dtype if None), laid out as PyTorch's
    ``empty_like(input, memory_format=...)``: preserve_format keeps a dense input's strides (else its order)."""
    x = input._data
    dt = dtypes.as_dtype(dtype) if dtype is not None else x.dtype
    fmt = memory_formats.checked(op, memory_format, none=memory_formats.preserve_format)
    if fmt is memory_formats.preserve_format:
        return _copy.empty_like_preserved(x, dt)
    return memory_formats.empty(op, x.shape, dt, fmt)


def _laid_out_like(op, input, values, memory_format):
    """``values`` (of ``input``'s shape) in the layout ``_like_array`` gives: a copy only where it is not
    row-major."""
    out = _like_array(op, input, values.dtype, memory_format)
    if out.strides == values.strides:
        return values
    out[...] = values
    return out


def _like(name, value):
    def like(input, dtype=None, device=None, requires_grad=False, memory_format=memory_formats.preserve_format):
        out = _like_array(name, input, dtype, memory_format)
        if value:
            out.fill(value)
        return _finish(out, requires_grad)

    like.__name__ = like.__qualname__ = name
    return like


zeros_like = _like("zeros_like", 0)
zeros_like.__doc__ = """zeros_like(input, dtype=None, memory_format=preserve_format): zeros with the shape (and
dtype) of ``input``, laid out as it (or in ``memory_format``)."""
ones_like = _like("ones_like", 1)
ones_like.__doc__ = """ones_like(input, dtype=None, memory_format=preserve_format): ones with the shape (and dtype)
of ``input``, laid out as it (or in ``memory_format``)."""
empty_like = _like("empty_like", 0)
empty_like.__doc__ = """empty_like(input, dtype=None, memory_format=preserve_format): an uninitialized tensor (here:
zeros) with the shape (and dtype) of ``input``, laid out as it (or in ``memory_format``)."""


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False,
              memory_format=memory_formats.preserve_format):
    """full_like(input, fill_value, dtype=None, memory_format=preserve_format): ``fill_value`` everywhere, with the
    shape (and dtype) of ``input``, laid out as it (or in ``memory_format``)."""
    out = _like_array("full_like", input, dtype, memory_format)
    out[...] = _checked_value(fill_value, out.dtype, "full_like", tuple(input.shape))
    return _finish(out, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """arange(start=0, end, step=1, dtype=None): values in [start, end); int64 if all arguments are ints."""
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    dt = np.dtype(dtypes.as_dtype(dtype))
    if dt.kind == "b":
        raise NotImplementedError("arange: not implemented for bool, as PyTorch (\"arange_cpu\" not implemented for "
                                  "'Bool')")
    if not (np.isfinite(start) and np.isfinite(end)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end}")
    if dt == np.int64:  # NOTE: as PyTorch, int64 takes start, end and step as int64 first (truncated)
        start, end, step = int(start), int(end), int(step)
        if step == 0:
            raise ValueError("arange: step must be nonzero (the step was truncated to 0 as an int64)")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign (start={start}, "
                           f"end={end}, step={step})")
    if dt.kind in "iu" and dt != np.int64:
        # NOTE: the other integer dtypes count the elements in double precision, then step from the truncated
        # start by the truncated step (PyTorch: arange(0, 2.5, 0.5, dtype=int16) is five zeros)
        n = int(np.ceil((end - start) / step))
        values = int(start) + np.arange(n, dtype=np.int64) * int(step)
        return _finish(values.astype(dt), requires_grad)
    return _finish(np.arange(start, end, step).astype(dt), requires_grad)


def float_linspace(start, end, steps, dtype):
    """PyTorch's CPU linspace values in a float numpy ``dtype``: the ends converted to the dtype, step = (end -
    start) / (steps - 1) in it, then start + step * i for the first half and end - step * (steps - 1 - i) for
    the second (RangeFactoriesKernel.cpp), each a fused multiply-add in float32/float64 (as PyTorch's build
    contracts it) and separately rounded float16 operations in float16."""
    dt = np.dtype(dtype)
    t = dt.type
    with np.errstate(all="ignore"):
        s, e = t(start), t(end)
        if steps <= 1:
            return np.full(steps, s, dt)
        step = (e - s) / t(steps - 1)
        i = np.arange(steps)
        up, down = i.astype(dt), (steps - 1 - i).astype(dt)
        if dt.itemsize < 4:
            first, second = s + step * up, e - step * down
        else:
            first = fma(np.full(steps, step, dt), up, s)
            second = fma(np.full(steps, -step, dt), down, e)
        return np.where(i < steps // 2, first, second).astype(dt)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """linspace(start, end, steps, dtype=None): ``steps`` evenly spaced values from start to end inclusive."""
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    out_dtype = np.dtype(_float_dtype(dtype))
    if out_dtype.kind == "b":
        if steps <= 1:  # PyTorch's linspace_out: no kernel for 0 steps, a fill_(start) for 1 (bool(nan) is True)
            return _finish(np.full(steps, bool(start)), requires_grad)
        raise NotImplementedError("linspace: \"linspace_cpu\" not implemented for 'Bool', as PyTorch")
    if out_dtype.kind in "iu" and steps == 1:  # PyTorch's fill_(start): the end is never converted (nan is fine)
        start = end = int(_checked_value(start, out_dtype, "linspace"))
    elif out_dtype.kind in "iu" and steps:  # as PyTorch's kernel: the ends are converted to the integer dtype first,
        # with c10's checked conversion (1e30 into int64 is refused; -1 into uint8 wraps to 255)
        start, end = (int(_checked_value(v, out_dtype, "linspace")) for v in (start, end))
    if out_dtype.kind == "f":
        if steps == 1:  # PyTorch's fill_(start), with fill_'s check
            _checked_value(start, out_dtype, "linspace", (1,))
        elif steps > 1:  # the kernel's checked conversion of both ends (Scalar.to<scalar_t>)
            for v in (start, end):
                if math.isfinite(v) and abs(v) > float(np.finfo(out_dtype).max):
                    raise RuntimeError(f"linspace: value {v!r} cannot be converted to type {out_dtype} without "
                                       f"overflow")
        return _finish(float_linspace(start, end, steps, out_dtype), requires_grad)
    if steps == 1:
        values = np.array([start], dtype=np.float64)
    else:
        # NOTE: PyTorch's formula: the first half steps up from start, the second half down from end (so inf
        # endpoints give nan where i * inf meets 0 * inf, and -inf in between, as PyTorch)
        with np.errstate(all="ignore"):
            step = (np.float64(end) - np.float64(start)) / (steps - 1) if steps > 1 else 0.0
            i = np.arange(steps, dtype=np.float64)
            values = np.where(i < steps // 2, np.float64(start) + step * i, np.float64(end) - step * (steps - 1 - i))
    return _finish(values.astype(out_dtype), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """eye(n, m=None, dtype=None): the identity matrix."""
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def _random_float_dtype(dtype, op):
    dt = _float_dtype(dtype)
    if np.dtype(dt).kind != "f":
        raise NotImplementedError(f"{op}: random values of dtype {dt} are not implemented (floating point only), as "
                                  f"in PyTorch")
    return dt


def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """randn(*size, generator=None, dtype=None): standard normal samples (``size=`` as a keyword too)."""
    shape = _sizes(sizes, size, "randn")
    if dtype is not None and 0 in shape and np.dtype(_float_dtype(dtype)).kind != "f":
        # PyTorch's normal kernel, and its dtype check, skip an empty tensor (DistributionTemplates.h)
        return _finish(np.zeros(shape, _float_dtype(dtype)), requires_grad)
    dtype = _random_float_dtype(dtype, "randn")
    rng = _random.rng(generator)
    return _finish(rng.standard_normal(shape).astype(_float_dtype(dtype)), requires_grad)


def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """rand(*size, generator=None, dtype=None): uniform samples from [0, 1) (``size=`` as a keyword too)."""
    dtype = _random_float_dtype(dtype, "rand")
    shape = _sizes(sizes, size, "rand")
    rng = _random.rng(generator)
    return _finish(rng.random(shape).astype(_float_dtype(dtype)), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """randint(low=0, high, size, *, generator=None, dtype=int64): integers in [low, high)."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if low >= high:  # refused even for an empty size, as PyTorch
        raise RuntimeError(f"randint: random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    rng = _random.rng(generator)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    _random.check_bounds("randint", dt, low, high - 1)
    return _finish(rng.integers(low, high, _sizes((size,), op="randint")).astype(dt), requires_grad)


def randn_like(input, dtype=None, generator=None, requires_grad=False,
               memory_format=memory_formats.preserve_format):
    """randn_like(input, dtype=None, memory_format=preserve_format): ``randn`` of ``input``'s shape (and dtype),
    laid out as it (or in ``memory_format``)."""
    values = randn(tuple(input.shape), generator=generator, dtype=dtype or input.dtype)._data
    return _finish(_laid_out_like("randn_like", input, values, memory_format), requires_grad)


def rand_like(input, dtype=None, generator=None, requires_grad=False, memory_format=memory_formats.preserve_format):
    """rand_like(input, dtype=None, memory_format=preserve_format): ``rand`` of ``input``'s shape (and dtype), laid
    out as it (or in ``memory_format``)."""
    values = rand(tuple(input.shape), generator=generator, dtype=dtype or input.dtype)._data
    return _finish(_laid_out_like("rand_like", input, values, memory_format), requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, generator=None, device=None, requires_grad=False,
                 memory_format=memory_formats.preserve_format):
    """randint_like(input, high) or randint_like(input, low, high): integers in [low, high) of input's shape and
    dtype (unless ``dtype``), laid out as it (or in ``memory_format``), as PyTorch.

    >>> import tapegrad as tg
    >>> tg.randint_like(tg.zeros(3), 1).tolist()
    [0.0, 0.0, 0.0]
    """
    if high is None:  # randint_like(input, high)
        low, high = 0, low
    values = randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype)._data
    return _finish(_laid_out_like("randint_like", input, values, memory_format), requires_grad)


# ---------------------------------------------------------------------- tensors like another: Tensor.new_*
@op
def new_zeros(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
    """new_zeros(size, *, dtype=None, requires_grad=False): zeros with this tensor's dtype (unless ``dtype``).

    >>> import tapegrad as tg
    >>> tg.zeros(2, dtype=tg.float64).new_zeros(3).dtype
    dtype('float64')
    """
    dt = dtypes.as_dtype(dtype) if dtype is not None else self._data.dtype
    return _finish(np.zeros(_sizes(sizes, size, "new_zeros"), dt), requires_grad)


@op
def new_ones(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
    """new_ones(size, *, dtype=None, requires_grad=False): ones with this tensor's dtype (unless ``dtype``).

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2]).new_ones(2)
    tensor([1, 1])
    """
    dt = dtypes.as_dtype(dtype) if dtype is not None else self._data.dtype
    return _finish(np.ones(_sizes(sizes, size, "new_ones"), dt), requires_grad)


@op
def new_empty(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
    """new_empty(size, *, dtype=None): an uninitialized tensor with this tensor's dtype (here: zeros)."""
    dt = dtypes.as_dtype(dtype) if dtype is not None else self._data.dtype
    return _finish(np.zeros(_sizes(sizes, size, "new_empty"), dt), requires_grad)


@op
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """new_full(size, fill_value, *, dtype=None): ``fill_value`` everywhere, in this tensor's dtype (not the
    value's, unlike ``full``) unless ``dtype`` is given.

    >>> import tapegrad as tg
    >>> tg.zeros(1).new_full((2,), 7)
    tensor([7., 7.])
    """
    dt = dtypes.as_dtype(dtype) if dtype is not None else self._data.dtype
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    shape = _sizes((size,), op="new_full")
    fill_value = _checked_value(fill_value, dt, "new_full", shape)
    return _finish(np.full(shape, fill_value, dt), requires_grad)


@op
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    """new_tensor(data, *, dtype=None, requires_grad=False): a copy of ``data`` (a leaf, cut from any graph) in
    this tensor's dtype unless ``dtype`` is given.

    >>> import tapegrad as tg
    >>> tg.zeros(1, dtype=tg.float64).new_tensor([1, 2])
    tensor([1., 2.], dtype=tapegrad.float64)
    """
    if isinstance(data, Tensor):
        warnings.warn("new_tensor: to copy a tensor, data.detach().clone() is recommended (as in PyTorch)",
                      UserWarning, stacklevel=2)
    dt = dtypes.as_dtype(dtype) if dtype is not None else self._data.dtype
    if np.dtype(dt).kind in "iu" and isinstance(data, (int, float, list, tuple)):
        _check_numbers(data, dt, "new_tensor")  # as tensor(): out of range is refused, not wrapped
    arr = _to_array(data, dt)
    if arr is data or isinstance(data, Tensor) and arr is data._data:
        arr = arr.copy()
    return _finish(arr, requires_grad)


# ---------------------------------------------------------------------- legacy typed constructors
class _LegacyTensorType(type):
    """``FloatTensor`` and friends: ``FloatTensor(2, 3)`` makes a (2, 3) tensor (zeros here, uninitialized in
    PyTorch), ``FloatTensor([1, 2])`` a tensor of that data; ``isinstance(t, FloatTensor)`` checks the dtype."""

    def __call__(cls, *args, device=None):
        name = cls.__name__
        if not args:
            return _wrap(np.zeros((0,), cls.dtype))
        if len(args) == 1:
            data = args[0]
            if isinstance(data, Tensor):
                if data._data.dtype != cls.dtype:
                    raise TypeError(f"{name}: expected a tensor of dtype {cls.dtype}, got {data._data.dtype}; "
                                    f"use .to({cls.dtype}) to convert it")
                return data.view(data._data.shape)  # an alias, as in PyTorch
            if isinstance(data, (tuple, list, np.ndarray)) and not isinstance(data, Size):
                if isinstance(data, (tuple, list)) and np.dtype(cls.dtype).kind in "iu":
                    _check_numbers(data, cls.dtype, name)  # out of range is refused, not wrapped (as PyTorch)
                return _wrap(_to_array(data, cls.dtype))  # shares a numpy array's memory when the dtype fits
        return _wrap(np.zeros(_sizes(args, op=name), cls.dtype))

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype

    def __repr__(cls):
        return f"<class 'tapegrad.{cls.__name__}'>"


def _legacy(name, dtype, doc):
    return _LegacyTensorType(name, (), {"dtype": dtype, "__doc__": doc, "__module__": __name__})


FloatTensor = _legacy("FloatTensor", dtypes.float32, """FloatTensor(*sizes) or FloatTensor(data): a float32 tensor.

    The legacy constructor: ints give a tensor of that shape (zeros; PyTorch leaves it uninitialized), a list
    or array gives a tensor holding that data. Also usable as ``x.type(FloatTensor)`` and in ``isinstance``.

    >>> import tapegrad as tg
    >>> tg.FloatTensor(2, 3).shape, tg.FloatTensor([1, 2])
    (tapegrad.Size([2, 3]), tensor([1., 2.]))
    """)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64, "DoubleTensor(*sizes) or DoubleTensor(data): float64.")
HalfTensor = _legacy("HalfTensor", dtypes.float16, "HalfTensor(*sizes) or HalfTensor(data): float16.")
LongTensor = _legacy("LongTensor", dtypes.int64, "LongTensor(*sizes) or LongTensor(data): int64.")
IntTensor = _legacy("IntTensor", dtypes.int32, "IntTensor(*sizes) or IntTensor(data): int32.")
ShortTensor = _legacy("ShortTensor", dtypes.int16, "ShortTensor(*sizes) or ShortTensor(data): int16.")
CharTensor = _legacy("CharTensor", dtypes.int8, "CharTensor(*sizes) or CharTensor(data): int8.")
ByteTensor = _legacy("ByteTensor", dtypes.uint8, "ByteTensor(*sizes) or ByteTensor(data): uint8.")
BoolTensor = _legacy("BoolTensor", dtypes.bool, "BoolTensor(*sizes) or BoolTensor(data): bool.")


for _name in __all__:  # creation functions are available to create_graph rules as ``xp.<name>``
    register_tensor_xp(_name, globals()[_name])
