"""Tensor: a numpy array that remembers how it was made.

This module holds what a tensor *is*: its array, its place on the tape (the slots below) and the methods that
read them. What a tensor *does* is declared with the ops, one family per module of ``tapegrad/ops/``, each op
beside its gradient rule; the declarations also make the ops Tensor methods (``x.exp()``). The stub
``_tensor.pyi`` lists the whole class for editors and type checkers (``tools/gen_stub.py`` writes it; a test
checks that it matches the runtime class).

A tensor made by an op while grad mode is on and an input requires grad is a *node* of the tape: it keeps its
inputs (``_parents``), the rule that sends its gradient back to them (``_backward``) and the rule's PyTorch
name (``_name``). ``tapegrad/autograd/tape.py`` records nodes; ``tapegrad/autograd/engine.py`` walks them back.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _printing, dtypes, memory_formats

_new_object = object.__new__


def on_requires_grad(t) -> None:
    """Called when a tensor with aliases starts requiring grad; the autograd layer replaces it at import."""


class Tensor:
    """Tensor: an n-dimensional array with automatic differentiation.

    Build tensors with :func:`tapegrad.tensor`, :func:`tapegrad.zeros` and friends.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    # _data: the values (a numpy array, never a numpy scalar); grad: the accumulated gradient of a leaf;
    # _requires_grad: read by the tape and the engine (``requires_grad`` is the checked public door);
    # _parents, _backward, _name: the node (inputs, gradient rule, PyTorch's name for it), empty for a leaf;
    # _version: time of the last in-place write; _stamp: time the node was recorded (negative once freed);
    # _base: for a view, the tensor whose memory it shares (None otherwise); _extra: rare things (hooks,
    # earlier selves after in-place writes, the views of a base), None for almost every tensor.
    __slots__ = ("_data", "grad", "_requires_grad", "_parents", "_backward", "_name", "_version", "_stamp",
                 "_base", "_extra", "__weakref__")
    __array_priority__ = 1000  # numpy defers `ndarray * Tensor` to Tensor.__rmul__

    def __init__(self, *data, requires_grad=False, dtype=None, device=None):
        """Tensor(data) / Tensor(*sizes): PyTorch's legacy constructor, always of the default float dtype.

        ``tapegrad.tensor(data)`` is the constructor to use: it keeps integer and float64 data as they are.
        """
        if device is not None:
            check_device(device)
        dtype = dtype if dtype is not None else dtypes.get_default_dtype()
        if not data:
            array = np.empty(0, dtype=dtypes.as_dtype(dtype))
        elif all(isinstance(n, numbers.Integral) and not isinstance(n, (bool, np.bool_)) for n in data):
            array = np.zeros(data, dtype=dtypes.as_dtype(dtype))  # Tensor(2, 3): a 2x3 tensor (zeros)
        elif len(data) == 1:
            array = to_array(data[0], dtype)
        else:
            raise TypeError(f"Tensor: expected sizes (ints) or one sequence of data, got {len(data)} arguments "
                            f"of types {', '.join(type(d).__name__ for d in data)}")
        _init_leaf(self, array)
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ identity and metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        """size(dim=None): the shape, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        if not self._data.ndim:  # as PyTorch: a 0-d tensor has no dimension to ask about
            raise IndexError(f"size: dimension specified as {dim} but the tensor has no dimensions (it is 0-d)")
        return self._data.shape[check_dim("size", dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> device:
        return device("cpu")

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (or not requiring grad); False for results of recorded ops."""
        return self._backward is None

    def _is_view(self) -> bool:
        """Whether this tensor is a view of another (PyTorch's ``Tensor._is_view``): it then has a ``_base``."""
        return self._base is not None

    @property
    def grad_fn(self) -> GradFn | None:
        """The recorded operation that made this tensor, or None for a leaf."""
        return None if self._backward is None else GradFn(self)

    @property
    def data(self) -> Tensor:
        """The same values as a leaf cut from the graph; it shares memory, and writes into it are not tracked
        (as PyTorch's ``.data``: prefer ``detach()``, whose writes are)."""
        return wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return self._data.itemsize

    # ------------------------------------------------------------------ requires_grad: the checked door
    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded (only floating-point tensors can require grad)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value, op="requires_grad")

    def requires_grad_(self, requires_grad: bool = True, *, op: str = "requires_grad_") -> Tensor:
        """requires_grad_(requires_grad=True): start (or stop) recording operations on this leaf."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"{op}: only Tensors of floating point dtype can require gradients, got dtype "
                               f"{self._data.dtype}")
        if self._backward is not None and not requires_grad:
            raise RuntimeError(f"{op}: you can only change requires_grad flags of leaf tensors; use detach() "
                               "to get a tensor that does not require grad")
        self._requires_grad = bool(requires_grad)
        if requires_grad and self._extra is not None:
            on_requires_grad(self)  # views of it follow (autograd/inplace.py sets this)
        return self

    def retain_grad(self) -> None:
        """retain_grad(): keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that does not require grad")
        if self._backward is not None:
            self._extras()["retains_grad"] = True

    @property
    def retains_grad(self) -> bool:
        return bool(self._extra and self._extra.get("retains_grad"))

    def register_hook(self, hook) -> HookHandle:
        """register_hook(hook): call ``hook(grad)`` when this tensor's gradient is computed.

        If the hook returns a tensor, it replaces the gradient. Returns a handle with ``remove()``.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        hooks = self._extras().setdefault("hooks", [])
        hooks.append(hook)
        return HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> HookHandle:
        """register_post_accumulate_grad_hook(hook): call ``hook(tensor)`` after a backward has accumulated
        into this leaf's ``.grad`` (optimizers in backward, DistributedDataParallel's gradient buckets).

        Returns a handle with ``remove()``.
        """
        if not self._requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                               "does not require grad")
        if self._backward is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
                               "registered on non-leaf tensors")
        hooks = self._extras().setdefault("post_accumulate_hooks", [])
        hooks.append(hook)
        return HookHandle(hooks, hook)

    def _extras(self) -> dict:
        if self._extra is None:
            self._extra = {}
        return self._extra

    # ------------------------------------------------------------------ conversion to Python and numpy
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """numpy(): the values as a numpy array (sharing memory, like PyTorch's).

        Writes through that array bypass version tracking (as in PyTorch).
        """
        if self._requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use detach().numpy()")
        return self._data

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if dtype is not None:
            return self._data.astype(dtype, copy=False)
        return self._data

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None): a DLPack capsule of this
        tensor's memory (zero-copy: ``np.from_dlpack(t)`` and ``torch.from_dlpack(t)`` share it, so writes through
        either side show in the other). Refused for a tensor that requires grad, as in PyTorch: export
        ``t.detach()``."""
        if self._requires_grad:
            raise BufferError("__dlpack__: Can't export tensors that require gradient, use tensor.detach()")
        if stream is not None and (not isinstance(stream, int) or isinstance(stream, bool)):
            raise TypeError(f"__dlpack__: stream must be None or an int on the CPU, got {type(stream).__name__}")
        if dl_device is not None and tuple(dl_device) != (1, 0):
            raise BufferError(f"__dlpack__: tapegrad tensors live on the CPU (device (1, 0)); cannot export to "
                              f"device {tuple(dl_device)}")
        kwargs = {k: v for k, v in (("max_version", max_version), ("copy", copy)) if v is not None}
        array = self._data
        if not array.flags.writeable and copy is None and (max_version is None or max_version < (1, 0)):
            array = array.copy()  # a read-only view (expand) cannot be flagged read-only in DLPack < 1.0
        return array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        """__dlpack_device__() -> (1, 0): DLPack's code for the CPU, device 0."""
        return (1, 0)

    def item(self) -> bool | int | float:
        """item(): the value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"item: a Tensor with {self._data.size} elements cannot be converted to a scalar")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def is_contiguous(self, *, memory_format=memory_formats.contiguous_format) -> bool:
        """is_contiguous(*, memory_format=contiguous_format): whether the elements are dense in row-major order
        (or in ``memory_format``'s order), a size-1 dim's stride not counting, as PyTorch.

        >>> import tapegrad as tg
        >>> x = tg.zeros(2, 3, 4, 5).contiguous(memory_format=tg.channels_last)
        >>> x.is_contiguous(), x.is_contiguous(memory_format=tg.channels_last)
        (False, True)
        """
        if memory_format is memory_formats.contiguous_format:
            return self._data.flags.c_contiguous
        fmt = memory_formats.checked("is_contiguous", memory_format)
        x = self._data
        return memory_formats.is_contiguous(x.shape, memory_formats.visible_strides(x), fmt)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args, **kwargs):
        raise RuntimeError("cuda: tapegrad runs on the CPU only (numpy); no CUDA device is available")

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"bool: the truth value of a Tensor with {self._data.size} elements is ambiguous")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # NOTE: identity, as PyTorch's ``id(self)``, but hashed in C: the engine and optimizers key dicts by tensors
    __hash__ = object.__hash__

    def __init_subclass__(cls, **kwargs):
        # A subclass that defines __eq__ without __hash__ gets Python's __hash__ = None; it stays hashable by
        # identity here, as the engine keys its dicts by tensors (README: PyTorch's would be unhashable)
        super().__init_subclass__(**kwargs)
        if "__eq__" in cls.__dict__ and cls.__dict__.get("__hash__", 0) is None:
            cls.__hash__ = object.__hash__  # type: ignore[assignment]

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        return _format(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 or self._data.size == 1 and spec:
            return format(self.item(), spec)
        return repr(self)


class Size(tuple):
    """Size: a tensor's shape, a tuple of ints (``torch.Size``)."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"tapegrad.Size({list(self)})"

    # Slicing, concatenating and repeating a Size give a Size, as torch.Size's do (a tuple's would give tuples).
    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__


class device:
    """device(type): accepted for PyTorch compatibility; only ``"cpu"`` exists."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type = type.type
        check_device(type)
        self.type = "cpu"
        self.index = index

    def __eq__(self, other):
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self):
        return hash("cpu")

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"


def check_device(d) -> None:
    name = d.type if isinstance(d, device) else str(d)
    if name.split(":")[0] != "cpu":
        raise RuntimeError(f"to: device {name!r} is not available; tapegrad runs on the CPU only")


class GradFn:
    """The view of a recorded operation that ``tensor.grad_fn`` returns (``name()``, ``next_functions``)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor

    def name(self) -> str:
        return self.tensor._name

    @property
    def next_functions(self):
        """((node, 0), ...) for the inputs: their GradFn, an AccumulateGrad for a leaf that requires grad, or
        None (PyTorch's form)."""
        return tuple((p.grad_fn if p._backward is not None else (AccumulateGrad(p) if p._requires_grad else None), 0)
                     for p in self.tensor._parents)

    def __eq__(self, other):
        return isinstance(other, GradFn) and other.tensor is self.tensor

    def __hash__(self):
        return id(self.tensor)

    def __repr__(self):
        return f"<{self.name()} object at {id(self.tensor):#x}>"


class AccumulateGrad:
    """The node that accumulates into a leaf's ``.grad``, as ``grad_fn.next_functions`` shows it: ``.variable`` is
    the leaf."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self):
        return ()

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self.variable):#x}>"


class HookHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again."""

    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


_TYPE_NAMES = {dtypes.float32: "FloatTensor", dtypes.float64: "DoubleTensor", dtypes.int64: "LongTensor",
               dtypes.int32: "IntTensor", dtypes.bool: "BoolTensor", dtypes.float16: "HalfTensor",
               dtypes.uint8: "ByteTensor"}


def type_name(dtype) -> str:
    """PyTorch's legacy type name of a dtype: ``tapegrad.FloatTensor`` for float32."""
    return "tapegrad." + _TYPE_NAMES.get(dtype, str(dtype))


# ---------------------------------------------------------------------- making tensors
def _init_leaf(t, array):
    t._data = array
    t.grad = None
    t._requires_grad = False
    t._parents = ()
    t._backward = None
    t._name = None
    t._version = 0
    t._stamp = 0
    t._base = None
    t._extra = None


def wrap(array) -> Tensor:
    """A leaf tensor around ``array`` (no copy, no checks): the fast constructor ops use."""
    if array.__class__ is not np.ndarray:  # numpy ufuncs on 0-d arrays return (read-only) numpy scalars
        array = np.array(array)
    t = _new_object(Tensor)
    t._data = array
    t.grad = None
    t._requires_grad = False
    t._parents = ()
    t._backward = None
    t._name = None
    t._version = 0
    t._stamp = 0
    t._base = None
    t._extra = None
    return t


def to_array(data, dtype=None) -> np.ndarray:
    """Convert user data to an array with PyTorch's dtype defaults (Python floats -> float32)."""
    dtype = dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data._data
        return arr.astype(dtype) if dtype is not None and dtype != arr.dtype else arr.copy()
    if isinstance(data, np.ndarray):
        arr = data
    else:
        if isinstance(data, (list, tuple)) and _contains_tensor(data):
            data = _tensors_to_scalars(data)
        arr = np.asarray(data)
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(dtypes.get_default_dtype())
        elif arr.dtype.kind == "f" and dtype is not None and dtype.kind in "iu" and isinstance(data, (list, tuple)):
            # PyTorch stores each number into the integer dtype: an int beside a float stays exact (numpy's
            # float64 array rounded 2**63 - 1 up, out of int64's range)
            arr = np.asarray(_truncated(data))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor: cannot make a tensor from data of type {arr.dtype} "
                        f"(supported: bool, integers, floating point)")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _truncated(seq):
    """A nested list of numbers with its finite floats truncated to ints (C's conversion to an integer type)."""
    return [_truncated(x) if isinstance(x, (list, tuple))
            else int(x) if isinstance(x, (float, np.floating)) and math.isfinite(x) else x for x in seq]


def _contains_tensor(seq) -> bool:
    return any(isinstance(x, Tensor) or (isinstance(x, (list, tuple)) and _contains_tensor(x)) for x in seq)


def _tensors_to_scalars(seq):
    """Tensors inside a nested list become Python numbers, as PyTorch converts them: one element only."""
    out = []
    for x in seq:
        if isinstance(x, Tensor):
            if x._data.size != 1:
                raise ValueError(f"tensor: only one element tensors can be converted to Python scalars; the "
                                 f"data holds a tensor of shape {tuple(x._data.shape)} (use torch.stack to "
                                 "join tensors)")
            x = x._data.reshape(()).item()
        elif isinstance(x, (list, tuple)):
            x = _tensors_to_scalars(x)
        out.append(x)
    return out


def check_dim(op: str, dim, ndim: int) -> int:
    """``dim`` as a non-negative dimension of a tensor of ``ndim`` dims (a 0-d tensor takes -1 and 0, as PyTorch),
    or an IndexError naming ``op``."""
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimension(s) "
                         f"(expected {-n} to {n - 1})")
    return dim % n if ndim else 0


# ---------------------------------------------------------------------- printing
def _format(t):
    a = t._data
    extras = []
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:  # as PyTorch: tensor([]) but tensor([], size=(0, 3))
            extras.append(f"size={tuple(a.shape)}")
        if a.dtype != dtypes.get_default_dtype():  # no element shows that it is int64 or bool: PyTorch names it
            extras.append(f"dtype=tapegrad.{a.dtype}")
    else:
        body = _printing.tensor_str(a, len("tensor("))
        if a.dtype not in (dtypes.get_default_dtype() if a.dtype.kind == "f" else dtypes.int64, dtypes.bool):
            extras.append(f"dtype=tapegrad.{a.dtype}")
    if t._backward is not None:
        extras.append(f"grad_fn=<{t._name}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
