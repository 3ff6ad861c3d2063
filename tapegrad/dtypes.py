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
    given = d
    if isinstance(d, str) and d.startswith(("torch.", "tapegrad.")):  # x.type("torch.FloatTensor")
        name = d.split(".", 1)[1]
        d = _LEGACY_NAMES.get(name, name)
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"not a dtype: {given!r}") from None


builtins_float, builtins_int, builtins_bool = (1.0).__class__, (1).__class__, True.__class__
_LEGACY_NAMES = {"FloatTensor": float32, "DoubleTensor": float64, "HalfTensor": float16, "LongTensor": int64,
                 "IntTensor": int32, "ShortTensor": int16, "CharTensor": int8, "ByteTensor": uint8,
                 "BoolTensor": bool}


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


def can_cast(src, dst):
    """PyTorch's ``can_cast`` for in-place results: a value of dtype ``src`` may be written into a tensor of dtype
    ``dst`` unless that would turn a float into an integer or bool, or a non-bool into bool (integers of other
    widths and signs wrap, as ``x += tensor([-1])`` on uint8).

    >>> can_cast(int64, uint8), can_cast(float32, int64), can_cast(int8, bool)
    (True, False, False)
    """
    src, dst = np.dtype(src), np.dtype(dst)
    if src.kind == "f" and dst.kind != "f":
        return False
    return not (dst.kind == "b" and src.kind != "b")


def scalar_dtype(value, tensor_dtype):
    """The result dtype of a tensor of ``tensor_dtype`` combined with a Python scalar ``value``."""
    if isinstance(value, builtins_bool):
        return tensor_dtype
    if isinstance(value, builtins_int):
        return int64 if tensor_dtype.kind == "b" else tensor_dtype
    if isinstance(value, builtins_float):
        return tensor_dtype if tensor_dtype.kind == "f" else _default[0]
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


class finfo:
    """finfo(type=None): the numerical properties of a floating point dtype (the default dtype if omitted).

    Attributes as PyTorch's (Python numbers): ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (=
    ``smallest_normal``), ``resolution`` and ``dtype`` (its name, a string).

    >>> import tapegrad as tg
    >>> tg.finfo(tg.float32).eps, tg.finfo(tg.float16).max
    (1.1920928955078125e-07, 65504.0)
    """

    def __init__(self, type=None):
        d = get_default_dtype() if type is None else as_dtype(type)
        if d.kind != "f":
            raise TypeError(f"finfo: expected a floating point dtype, got {d}; use iinfo for integer types")
        info = np.finfo(d)
        self.bits = builtins_int(info.bits)
        self.eps = builtins_float(info.eps)
        self.max = builtins_float(info.max)
        self.min = builtins_float(info.min)
        self.tiny = self.smallest_normal = builtins_float(info.smallest_normal)
        self.resolution = 10.0 ** -builtins_int(info.precision)
        self.dtype = str(d)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """iinfo(type): the numerical properties of an integer dtype: ``bits``, ``max``, ``min`` (ints), ``dtype``.

    >>> import tapegrad as tg
    >>> tg.iinfo(tg.int8).min, tg.iinfo(tg.uint8).max
    (-128, 255)
    """

    def __init__(self, type):
        d = as_dtype(type)
        if d.kind not in "iu":
            raise TypeError(f"iinfo: expected an integer dtype, got {d}; use finfo for floating point types")
        info = np.iinfo(d)
        self.bits, self.max, self.min = builtins_int(info.bits), builtins_int(info.max), builtins_int(info.min)
        self.dtype = str(d)

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
