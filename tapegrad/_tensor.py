"""Tensor: a numpy array that remembers how it was made.

A tensor made by an operation while grad mode is on and an input requires grad is a node of the tape: it keeps
its ``_parents`` (the input tensors) and a ``_backward`` rule. The rule is written once, against numpy's names
(``xp``), so the engine can run it on plain arrays (fast, first order) or on tensors (recorded, for
higher-order gradients). See ``tapegrad/autograd/engine.py`` for how the tape is walked back.
"""

import numbers
import sys

import numpy as np

from . import _printing, dtypes
from .autograd import grad_mode

_grad_state = grad_mode.state
_new_object = object.__new__


class _Clock:
    """Global write clock: versions and creation stamps are times on it, so one compare finds a stale input."""

    now = 1


_clock = _Clock


class Tensor:
    """Tensor: an n-dimensional array with automatic differentiation.

    Build tensors with :func:`tapegrad.tensor`, :func:`tapegrad.zeros` and friends.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("_data", "grad", "requires_grad", "_parents", "_backward", "_version", "_stamp", "_extra",
                 "__weakref__")
    __array_priority__ = 1000  # numpy defers `ndarray * Tensor` to Tensor.__rmul__

    def __init__(self, *data, requires_grad=False, dtype=None, device=None):
        """Tensor(data) / Tensor(*sizes): PyTorch's legacy constructor, always of the default float dtype.

        ``tapegrad.tensor(data)`` is the constructor to use: it keeps integer and float64 data as they are.
        """
        if device is not None:
            _check_device(device)
        dtype = dtype if dtype is not None else dtypes.get_default_dtype()
        if not data:
            array = np.empty(0, dtype=dtypes.as_dtype(dtype))
        elif all(isinstance(n, numbers.Integral) and not isinstance(n, (bool, np.bool_)) for n in data):
            array = np.zeros(data, dtype=dtypes.as_dtype(dtype))  # Tensor(2, 3): a 2x3 tensor (zeros)
        elif len(data) == 1:
            array = _to_array(data[0], dtype)
        else:
            raise TypeError(f"Tensor: expected sizes (ints) or one sequence of data, got {len(data)} arguments "
                            f"of types {', '.join(type(d).__name__ for d in data)}")
        self._data = array
        self.grad = None
        self.requires_grad = False
        self._parents = ()
        self._backward = None
        self._version = 0
        self._stamp = 0
        self._extra = None
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ identity and metadata
    @property
    def data(self):
        """The same values as a tensor detached from the graph (shares memory; in-place changes are untracked)."""
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        value = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._data = value

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        """size(dim=None): the shape, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_check_dim("size", dim, self._data.ndim)]

    def dim(self):
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    nelement = numel

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        return device("cpu")

    @property
    def is_leaf(self):
        """True for tensors made by the user (or not requiring grad); False for results of recorded ops."""
        return self._backward is None

    @property
    def grad_fn(self):
        """The recorded operation that made this tensor, or None for a leaf."""
        return None if self._backward is None else GradFn(self)

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def element_size(self):
        return self._data.itemsize

    def requires_grad_(self, requires_grad=True):
        """requires_grad_(requires_grad=True): start (or stop) recording operations on this leaf."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad_: only floating-point tensors can require gradients, got dtype {self._data.dtype}")
        if not requires_grad and self._backward is not None:
            raise RuntimeError("requires_grad_: you can only change requires_grad flags of leaf tensors; "
                               "use detach() to get a tensor that does not require grad")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """retain_grad(): keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that does not require grad")
        if self._backward is not None:
            self._extras()["retains_grad"] = True

    @property
    def retains_grad(self):
        return bool(self._extra and self._extra.get("retains_grad"))

    def register_hook(self, hook):
        """register_hook(hook): call ``hook(grad)`` when this tensor's gradient is computed.

        If the hook returns a tensor, it replaces the gradient. Returns a handle with ``remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        hooks = self._extras().setdefault("hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """register_post_accumulate_grad_hook(hook): call ``hook(tensor)`` after a backward has accumulated
        into this leaf's ``.grad`` (optimizers in backward, DistributedDataParallel's gradient buckets).

        Returns a handle with ``remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                               "does not require grad")
        if self._backward is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
                               "registered on non-leaf tensors")
        hooks = self._extras().setdefault("post_accumulate_hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def _extras(self):
        if self._extra is None:
            self._extra = {}
        return self._extra

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force=False):
        """numpy(): the values as a numpy array (sharing memory, like PyTorch's)."""
        if self.requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use detach().numpy()")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None:
            return self._data.astype(dtype, copy=False)
        return self._data

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None): a DLPack capsule of this
        tensor's memory (zero-copy: ``np.from_dlpack(t)`` and ``torch.from_dlpack(t)`` share it, so writes through
        either side show in the other). Refused for a tensor that requires grad, as in PyTorch: export
        ``t.detach()``."""
        if self.requires_grad:
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

    def item(self):
        """item(): the value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"item: a Tensor with {self._data.size} elements cannot be converted to a scalar")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def detach(self):
        """detach(): the same values, cut from the graph (shares memory)."""
        t = _wrap(self._data)
        t._version = self._version
        return t

    def detach_(self):
        self._parents = ()
        self._backward = None
        self.requires_grad = False
        return self

    def clone(self, memory_format=None):
        """clone(): a copy of the values; the gradient flows back to this tensor."""
        return _record(self._data.copy(), (self,), _clone_backward)

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """to(dtype) / to(device) / to(other): cast to a dtype; devices other than the CPU are not available."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, globals()["device"])):
                _check_device(a)
            else:
                dtype = a
        if device is not None:
            _check_device(device)
        if dtype is None or dtypes.as_dtype(dtype) == self._data.dtype:
            return self.clone() if copy else self
        return self.type(dtype)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        raise RuntimeError("cuda: tapegrad runs on the CPU only (numpy); no CUDA device is available")

    def type(self, dtype=None):
        """type(dtype): a copy cast to ``dtype`` (gradient flows back for float-to-float casts)."""
        if dtype is None:
            return "tapegrad." + _TYPE_NAMES.get(self.dtype, str(self.dtype))
        dtype = dtypes.as_dtype(dtype)
        if dtype == self._data.dtype:
            return self
        out = self._data.astype(dtype)
        if dtype.kind != "f":
            return _wrap(out)
        return _record(out, (self,), _cast_backward)

    def float(self):
        return self.type(dtypes.float32)

    def double(self):
        return self.type(dtypes.float64)

    def half(self):
        return self.type(dtypes.float16)

    def long(self):
        return self.type(dtypes.int64)

    def int(self):
        return self.type(dtypes.int32)

    def bool(self):
        return self.type(dtypes.bool)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"bool: the truth value of a Tensor with {self._data.size} elements is ambiguous")
        return bool(self._data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------------ printing
    def __repr__(self):
        return _format(self)

    def __format__(self, spec):
        if self._data.ndim == 0 or self._data.size == 1 and spec:
            return format(self.item(), spec)
        return repr(self)

    # ------------------------------------------------------------------ in place (see _inplace below)
    def add_(self, other, *, alpha=1):
        """add_(other, *, alpha=1): self += alpha * other, in place."""
        from .ops.elementwise import add
        return _inplace(self, "add_", add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        from .ops.elementwise import sub
        return _inplace(self, "sub_", sub, other, alpha=alpha)

    def mul_(self, other):
        from .ops.elementwise import mul
        return _inplace(self, "mul_", mul, other)

    def div_(self, other, *, rounding_mode=None):
        from .ops.elementwise import div
        return _inplace(self, "div_", div, other, rounding_mode=rounding_mode)

    def pow_(self, exponent):
        from .ops.elementwise import pow
        return _inplace(self, "pow_", pow, exponent)

    def clamp_(self, min=None, max=None):
        from .ops.elementwise import clamp
        return _inplace(self, "clamp_", lambda x: clamp(x, min, max))

    clip_ = clamp_

    def neg_(self):
        from .ops.elementwise import neg
        return _inplace(self, "neg_", neg)

    def zero_(self):
        """zero_(): fill with zeros, in place."""
        return self.fill_(0)

    def fill_(self, value):
        """fill_(value): set every element to ``value``, in place."""
        value = value.item() if isinstance(value, Tensor) else value
        return _inplace(self, "fill_", lambda x: _wrap(np.full_like(x._data, value)))

    def copy_(self, src, non_blocking=False):
        """copy_(src): copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor, in place."""
        if not isinstance(src, Tensor):
            src = _wrap(np.asarray(src))
        from .ops.elementwise import _copy_into
        return _inplace(self, "copy_", _copy_into, src, _cast_ok=True)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)


class Size(tuple):
    """Size: a tensor's shape, a tuple of ints (``torch.Size``)."""

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"tapegrad.Size({list(self)})"


class device:
    """device(type): accepted for PyTorch compatibility; only ``"cpu"`` exists."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type = type.type
        _check_device(type)
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


def _check_device(d):
    name = d.type if isinstance(d, device) else str(d)
    if name.split(":")[0] != "cpu":
        raise RuntimeError(f"to: device {name!r} is not available; tapegrad runs on the CPU only")


class GradFn:
    """The view of a recorded operation that ``tensor.grad_fn`` returns (``name()``, ``next_functions``)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor

    def name(self):
        return op_name(self.tensor._backward)

    @property
    def next_functions(self):
        return tuple((p.grad_fn if p._backward is not None else ("AccumulateGrad" if p.requires_grad else None), 0)
                     for p in self.tensor._parents)

    def __repr__(self):
        return f"<{self.name()}>"


def op_name(backward):
    """The PyTorch-style node name of a backward rule: ``_mul_backward`` or ``mul.<locals>.backward`` -> MulBackward."""
    parts = getattr(backward, "__qualname__", "op").split(".<locals>.")
    name = parts[-2] if len(parts) > 1 else parts[0]
    name = name.strip("_").rsplit(".", 1)[-1].removesuffix("_backward")
    return "".join(part[:1].upper() + part[1:] for part in name.split("_")) + "Backward"


class _HookHandle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


_TYPE_NAMES = {dtypes.float32: "FloatTensor", dtypes.float64: "DoubleTensor", dtypes.int64: "LongTensor",
               dtypes.int32: "IntTensor", dtypes.bool: "BoolTensor", dtypes.float16: "HalfTensor",
               dtypes.uint8: "ByteTensor"}


# ---------------------------------------------------------------------- making tensors
def _wrap(array):
    """A leaf tensor around ``array`` (no copy, no checks): the fast constructor ops use."""
    if array.__class__ is not np.ndarray:  # numpy ufuncs on 0-d arrays return numpy scalars
        array = np.asarray(array)
    t = _new_object(Tensor)
    t._data = array
    t.grad = None
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    t._version = 0
    t._stamp = 0
    t._extra = None
    return t


def _record(array, parents, backward):
    """The result of an op: a graph node if grad mode is on and a parent requires grad, else a plain leaf.

    ``backward(xp, grad, out, *parents)`` returns one gradient per parent (None where there is none); ``xp``
    is numpy or tapegrad's numpy-named namespace, and ``out``/``parents`` are arrays or tensors to match.
    """
    t = _new_object(Tensor)
    t._data = array
    t.grad = None
    t._version = 0
    t._extra = None
    if _grad_state.enabled:
        for p in parents:
            if p.requires_grad:
                t.requires_grad = True
                t._parents = parents
                t._backward = backward
                t._stamp = _clock.now
                return t
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    t._stamp = 0
    return t


def _to_array(data, dtype=None):
    """Convert user data to an array with PyTorch's dtype defaults (Python floats -> float32)."""
    dtype = dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data._data
        return arr.astype(dtype) if dtype is not None and dtype != arr.dtype else arr.copy()
    if isinstance(data, np.ndarray):
        arr = data
    else:
        if isinstance(data, (list, tuple)) and _contains_tensor(data):
            data = _tensors_to_lists(data)
        arr = np.asarray(data)
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(dtypes.get_default_dtype())
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor: cannot make a tensor from data of type {arr.dtype} "
                        f"(supported: bool, integers, floating point)")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _contains_tensor(seq):
    return any(isinstance(x, Tensor) or (isinstance(x, (list, tuple)) and _contains_tensor(x)) for x in seq)


def _tensors_to_lists(seq):
    return [x._data if isinstance(x, Tensor) else _tensors_to_lists(x) if isinstance(x, (list, tuple)) else x
            for x in seq]


def as_tensor_operand(x, like, op):
    """Turn the other operand of a binary op into a tensor whose dtype follows PyTorch's scalar rules."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic) and x.ndim == 0 and not isinstance(x, (np.str_, np.bytes_, np.void)):
        x = x.item()  # a numpy scalar behaves as a Python scalar: it does not promote a float32 tensor
    if isinstance(x, numbers.Number):
        return _wrap(np.asarray(x, dtype=dtypes.scalar_dtype(x, like._data.dtype)))
    if isinstance(x, (np.ndarray, np.generic)):
        return _wrap(_to_array(x))
    raise TypeError(f"{op}: unsupported operand type {type(x).__name__} (expected a Tensor or a number)")


def tensor_method(*names):
    """Decorator for op functions: also make them methods of Tensor, under the given names (or their own)."""

    def register(fn):
        for name in names or (fn.__name__,):
            setattr(Tensor, name, fn)
        return fn

    return register


def _check_dim(op, dim, ndim):
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimension(s) "
                         f"(expected {-n} to {n - 1})")
    return dim % n if ndim else 0


# ---------------------------------------------------------------------- in place
def _inplace(self, name, op, *args, _cast_ok=False, **kwargs):
    """Apply the out-of-place ``op`` and make ``self`` hold the result.

    With grad mode on and something requiring grad, ``self`` becomes the new node of the graph and its earlier
    self (with the earlier values) becomes the op's input; ops recorded before keep using the earlier self (see
    docs/architecture.md, "Versions and in-place ops"). Otherwise the values are written into ``self``'s array
    and its version moves on, so that a recorded op that saved the old values refuses to backward.
    """
    recording = _grad_state.enabled and (
        self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args))
    if recording and self.requires_grad and self._backward is None:
        raise RuntimeError(f"{name}: a leaf tensor that requires grad is being used in an in-place operation; "
                           "wrap it in `with tapegrad.no_grad():` (as optimizers do) or use the out-of-place form")
    if recording:
        view = self._extra.get("view_of") if self._extra is not None else None
        if view is not None:
            return _inplace_through_view(self, name, op, view, args, kwargs, _cast_ok)
        if (self.requires_grad and self._data.base is not None  # owning its memory, it is nobody's view
                and any(_shares_memory(self, p) for p in _engine().parents_of(self))):
            raise RuntimeError(f"{name}: an in-place operation on a view ({op_name(self._backward)}) of a tensor "
                               "that requires grad is not supported under grad mode: the base tensor would not "
                               "see the write. Use an out-of-place op (where, masked_fill, cat, index_put), "
                               "clone() the view first, or write into the base itself (base[index] = value)")
        old = _earlier_self(self)
        args = tuple(old if a is self else a for a in args)  # y += y uses the earlier y twice
        kwargs = {k: (old if v is self else v) for k, v in kwargs.items()}
        new = op(old, *args, **kwargs)
        _check_inplace_result(name, self, new, _cast_ok)
        if new._data.dtype != self._data.dtype:
            new = new.type(self._data.dtype)
        _become(self, new, old, args, kwargs)
        return self
    with grad_mode.no_grad():
        new = op(self, *args, **kwargs)
    _check_inplace_result(name, self, new, _cast_ok)
    if not self._data.flags.writeable:
        raise RuntimeError(f"{name}: this tensor is a read-only view (e.g. from expand); clone() it first")
    self._data[...] = new._data
    _bump(self)
    return self


def _inplace_through_view(self, name, op, view, args, kwargs, cast_ok):
    """An in-place op on ``base[index]`` under grad mode: ``base[index] = op(view)``, then self is the new view.

    This is PyTorch's CopySlices: the base sees the write and its graph records it, so gradients reach whatever
    the written values came from; ops recorded earlier keep the view as it was.
    """
    base, index = view[0](), view[1]
    if base is None:  # nothing else holds the base: an ordinary in-place op on this tensor
        del self._extra["view_of"]
        return _inplace(self, name, op, *args, _cast_ok=cast_ok, **kwargs)
    if base._version > _engine().recorded_at(self):
        raise RuntimeError(f"{name}: the tensor this view was indexed from was written after the view was taken, "
                           "so the view's values are stale; index the tensor again for the in-place write")
    old = _earlier_self(self)
    args = tuple(old if a is self else a for a in args)
    kwargs = {k: (old if v is self else v) for k, v in kwargs.items()}
    new = op(old, *args, **kwargs)
    _check_inplace_result(name, self, new, cast_ok)
    base[index] = new  # records base as a write of ``new`` into its earlier self
    fresh = base[index]
    _become(self, fresh, old, args, kwargs)
    self._extra["view_of"] = fresh._extra["view_of"]
    return self


def _engine():
    global _engine_module
    if _engine_module is None:  # imported late: the engine imports this module
        from .autograd import engine as _engine_module
    return _engine_module


_engine_module = None


def _earlier_self(self):
    """A tensor that is ``self`` as it is now (same array, node, version): the input of an in-place op."""
    old = _wrap(self._data)
    old.requires_grad, old._parents, old._backward = self.requires_grad, self._parents, self._backward
    old._stamp, old._version = self._stamp, self._version
    earlier = self._extra.get("rebased") if self._extra is not None else None
    old._extra = None if earlier is None else {"rebased": earlier}
    return old


def _become(self, new, old, args, kwargs):
    """Make ``self`` the node ``new`` after an in-place op on ``old`` (its earlier self) under grad mode."""
    since = _engine().recorded_at(self)
    self._data = new._data
    self.requires_grad, self._parents, self._backward = new.requires_grad, new._parents, new._backward
    _bump(self, through_views=False)  # a view's write went to its base as a recorded op
    self._stamp = _clock.now
    self._extras()["rebased"] = (self._stamp, old)
    _reroute_recent_uses(self, old, since, [*args, *kwargs.values()])


_REROUTE_BUDGET = 64


def _reroute_recent_uses(self, old, since, roots):
    """Point the ops recorded since ``since`` that used ``self`` and lead to the op's arguments at ``old``.

    ``y.add_(y * 3)``: ``y * 3`` holds ``y`` as its input, and ``y`` is now the node that uses ``y * 3``; left
    alone that is a reference cycle (freed only by the cyclic garbage collector) and a lookup for the engine.
    The walk stops after a few dozen nodes; the engine's ``parents_of`` redirects whatever it did not reach.
    """
    stack = [r for r in roots if isinstance(r, Tensor) and r is not old and r._parents]
    seen = set()
    while stack and len(seen) < _REROUTE_BUDGET:
        t = stack.pop()
        if id(t) in seen or t._stamp < since:
            continue
        seen.add(id(t))
        parents = t._parents
        if any(p is self for p in parents):
            t._parents = tuple(old if p is self else p for p in parents)
        stack.extend(p for p in parents if p is not self and p._parents)


def _shares_memory(t, other):
    return other._data is t._data or np.may_share_memory(t._data, other._data)


def _check_inplace_result(name, self, new, cast_ok):
    if new._data.shape != self._data.shape:
        raise RuntimeError(f"{name}: the result of shape {tuple(new._data.shape)} does not fit the in-place "
                           f"output of shape {tuple(self._data.shape)}")
    if not cast_ok and not np.can_cast(new._data.dtype, self._data.dtype, "same_kind"):
        raise RuntimeError(f"{name}: result type {new._data.dtype} can't be cast to the output dtype "
                           f"{self._data.dtype}")


def _bump(t, through_views=True):
    """Record an in-place write: the tensor's version becomes the time now on the write clock.

    A write into an indexed view is a write into its base too: the base's version moves with it (unless the
    base recorded the write itself, as under grad mode).
    """
    _clock.now += 1
    t._version = _clock.now
    if through_views and t._extra is not None and "view_of" in t._extra:
        base = t._extra["view_of"][0]()
        if base is not None:
            _bump(base)


def _clone_backward(xp, g, out, x):
    return (g,)


def _cast_backward(xp, g, out, x):
    return (g,)  # the engine casts the gradient back to x's dtype


# ---------------------------------------------------------------------- printing
def _float_style(a, opts):
    """PyTorch's choice of float format: integers as ``1.``; scientific when the nonzero finite magnitudes span
    more than 1000x, exceed 1e8 or (for non-integers) go below 1e-4; else fixed with ``precision`` digits."""
    magnitudes = np.abs(a[np.isfinite(a) & (a != 0)]).astype(np.float64)
    integral = bool(np.all(magnitudes == np.ceil(magnitudes)))
    with np.errstate(over="ignore"):
        sci = magnitudes.size > 0 and (magnitudes.max() / magnitudes.min() > 1000 or magnitudes.max() > 1e8
                                       or (not integral and magnitudes.min() < 1e-4))
    if opts.sci_mode is not None:
        sci = opts.sci_mode
    p = opts.precision
    if sci:
        return dict(formatter={"float_kind": _finite_or_name(lambda v: f"{v:.{p}e}")})
    if integral:  # suppress: numpy must not switch to scientific notation on its own
        return dict(precision=0, floatmode="maxprec", suppress_small=True)
    return dict(precision=p, floatmode="fixed", suppress_small=True)


def _finite_or_name(fmt):
    return lambda v: fmt(v) if np.isfinite(v) else ("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf"))


def _format(t):
    a = t._data
    extras = []
    opts = _printing.PRINT_OPTS
    layout = dict(separator=", ", prefix="tensor(", edgeitems=opts.edgeitems, max_line_width=opts.linewidth,
                  threshold=sys.maxsize if opts.threshold == float("inf") else int(opts.threshold))
    if a.dtype.kind == "f":
        body = np.array2string(a, **layout, **_float_style(a, opts))
        if a.dtype != dtypes.get_default_dtype():
            extras.append(f"dtype=tapegrad.{a.dtype}")
    else:
        body = np.array2string(a, **layout)
        if a.dtype not in (dtypes.int64, dtypes.bool):
            extras.append(f"dtype=tapegrad.{a.dtype}")
    if a.size == 0:
        body = "[]" if a.ndim == 1 else body
        if a.ndim != 1:  # as PyTorch: tensor([]) but tensor([], size=(0, 3))
            extras.append(f"size={tuple(a.shape)}")
    if t._backward is not None:
        extras.append(f"grad_fn=<{op_name(t._backward)}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
