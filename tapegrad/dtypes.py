"""dtypes as PyTorch names them, and PyTorch's type-promotion rules on top of numpy's.

A tapegrad dtype *is* a numpy dtype, so ``x.dtype == tapegrad.float32`` and ``x.numpy().dtype`` agree.
"""

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001 - PyTorch's name

_default = [float32]


def get_default_dtype():
    """get_default_dtype() -> dtype: the dtype Python floats become (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d):
    """set_default_dtype(d): make Python floats become ``d`` (float32 or float64)."""
    d = np.dtype(d)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default[0] = d


def as_dtype(d):
    """Turn a tapegrad/numpy dtype, a numpy type or a Python type into a numpy dtype."""
    if d is None:
        return None
    if d is builtins_float:  # as in PyTorch: dtype=float means float64, not the default dtype
        return float64
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"not a dtype: {d!r}") from None


builtins_float, builtins_int, builtins_bool = (1.0).__class__, (1).__class__, True.__class__


def category(d):
    """0 for bool, 1 for integers, 2 for floating point: PyTorch promotes by category first."""
    k = d.kind
    return 2 if k == "f" else (0 if k == "b" else 1)


def is_floating(d):
    return d.kind == "f"


def promote(a, b):
    """The result dtype of a binary op on arrays ``a`` and ``b`` under PyTorch's rules.

    A higher category wins outright (int64 + float32 -> float32); within a category, a 0-d operand
    does not promote a dimensioned one (float32 tensor + 0-d float64 -> float32); otherwise numpy's
    promotion (float32 + float64 -> float64).
    """
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    ca, cb = category(da), category(db)
    if ca != cb:
        return da if ca > cb else db
    if a.ndim == 0 and b.ndim != 0:
        return db
    if b.ndim == 0 and a.ndim != 0:
        return da
    return np.promote_types(da, db)


def scalar_dtype(value, tensor_dtype):
    """The result dtype of a tensor of ``tensor_dtype`` combined with a Python scalar ``value``."""
    if isinstance(value, builtins_bool):
        return tensor_dtype
    if isinstance(value, builtins_int):
        return int64 if tensor_dtype.kind == "b" else tensor_dtype
    if isinstance(value, builtins_float):
        return tensor_dtype if tensor_dtype.kind == "f" else _default[0]
    raise TypeError(f"unsupported scalar type {type(value).__name__}")
