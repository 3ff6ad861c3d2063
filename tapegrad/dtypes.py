"""dtypes as PyTorch names them, and PyTorch's type-promotion rules on top of numpy's.

A tapegrad dtype *is* a numpy dtype, so ``x.dtype == tapegrad.float32`` and ``x.numpy().dtype`` agree.
``bfloat16`` is ml_dtypes' numpy dtype (``pip install 'tapegrad[bfloat16]'``); numpy gives it the kind ``'V'``,
so code asks ``is_floating(d)`` (True for it) rather than ``d.kind == 'f'``. It is made on first use
(``tapegrad.bfloat16``): importing ml_dtypes costs many times what importing numpy does.
"""

import numpy as np

from ._optional import missing

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001 - PyTorch's name

_BFLOAT16_MISSING = str(missing("bfloat16", "ml_dtypes", "bfloat16"))


class _MissingDtype:
    """``tapegrad.bfloat16`` when ml_dtypes is not installed: a name a dtype table can hold; making a tensor of
    it (or asking numpy for it) raises an ImportError naming the extra."""

    def __init__(self, name, message):
        self.name, self._message = name, message

    def __repr__(self):
        return f"tapegrad.{self.name}"

    @property
    def dtype(self):  # numpy asks for this when it converts the object to a dtype
        raise ImportError(self._message)

    @property
    def itemsize(self):
        raise ImportError(self._message)


_bfloat16: list = []


def _load_bfloat16():
    """ml_dtypes' bfloat16, or without ml_dtypes a name that says which extra to install."""
    if not _bfloat16:
        try:
            import ml_dtypes
        except ImportError:
            _bfloat16.append(_MissingDtype("bfloat16", _BFLOAT16_MISSING))
        else:
            _bfloat16.append(np.dtype(ml_dtypes.bfloat16))
    return _bfloat16[0]


def __getattr__(name):  # bfloat16 on first use; then a plain module attribute
    if name == "bfloat16":
        globals()["bfloat16"] = value = _load_bfloat16()
        return value
    raise AttributeError(f"module 'tapegrad.dtypes' has no attribute {name!r}")


def _is_bfloat16(d):
    return d.kind == "V" and d.name == "bfloat16"

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
    if isinstance(d, _MissingDtype):
        raise ImportError(d._message)
    if isinstance(d, str) and d.startswith(("torch.", "tapegrad.")):  # x.type("torch.FloatTensor")
        name = d.split(".", 1)[1]
        d = _LEGACY_NAMES.get(name, name)
    if isinstance(d, str) and d == "bfloat16":
        d = _load_bfloat16()
        if isinstance(d, _MissingDtype):
            raise ImportError(d._message)
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"not a dtype: {given!r}") from None


builtins_float, builtins_int, builtins_bool = (1.0).__class__, (1).__class__, True.__class__
_LEGACY_NAMES = {"FloatTensor": float32, "DoubleTensor": float64, "HalfTensor": float16, "LongTensor": int64,
                 "IntTensor": int32, "ShortTensor": int16, "CharTensor": int8, "ByteTensor": uint8,
                 "BoolTensor": bool, "BFloat16Tensor": "bfloat16"}


def category(d):
    """0 for bool, 1 for integers, 2 for floating point: PyTorch promotes by category first."""
    k = d.kind
    return 2 if k == "f" or _is_bfloat16(d) else (0 if k == "b" else 1)


def is_floating(d):
    """Whether ``d`` is a floating-point dtype (bfloat16 included, whose numpy kind is 'V')."""
    return d.kind == "f" or _is_bfloat16(d)


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
    src, dst = as_dtype(src), as_dtype(dst)
    if is_floating(src) and not is_floating(dst):
        return False
    return not (dst.kind == "b" and src.kind != "b")


def scalar_dtype(value, tensor_dtype):
    """The result dtype of a tensor of ``tensor_dtype`` combined with a Python scalar ``value``."""
    if isinstance(value, builtins_bool):
        return tensor_dtype
    if isinstance(value, builtins_int):
        return int64 if tensor_dtype.kind == "b" else tensor_dtype
    if isinstance(value, builtins_float):
        return tensor_dtype if is_floating(tensor_dtype) else _default[0]
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
        if not is_floating(d):
            raise TypeError(f"finfo: expected a floating point dtype, got {d}; use iinfo for integer types")
        if d.kind == "f":
            info = np.finfo(d)
        else:
            import ml_dtypes  # bfloat16 exists, so ml_dtypes is installed

            info = ml_dtypes.finfo(d)
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


def tensor_bfloat16(self, memory_format=None):
    """bfloat16(): the values as bfloat16 (``x.to(tapegrad.bfloat16)``; needs ``pip install 'tapegrad[bfloat16]'``).

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 1 / 3]).bfloat16()
    tensor([1, 0.333984], dtype=tapegrad.bfloat16)
    """
    return self.to(as_dtype("bfloat16"))
