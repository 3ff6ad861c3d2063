"""Tracing for the ONNX exporter: every call of a public op during one forward, with its arguments.

While a trace is active in this thread, tapegrad's public functions (``tapegrad.*``, ``tapegrad.nn.functional.*``)
and the Tensor methods and operators are wrapped (``patched``): a call at the top level (not inside another op)
that touches a traced value (an input, a parameter, a buffer, or the result of an earlier traced call) is
recorded as an event with its arguments, so the exporter sees each op with its real attributes (``dim``,
``stride``, ``negative_slope``) instead of guessing them from the tape. Ops inside an op (``linear`` calling
``matmul``) run untouched. A call the exporter has no translation for raises ``UnsupportedOperatorError`` naming it.

The tape is the safety net: floating-point inputs are traced with ``requires_grad=True``, so a value computed
by something the tracer did not see (a function bound under another name before the export began, numpy) is a
tape node that is neither a traced value nor a parameter; using it raises, naming its node (``ExpBackward0``).
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import types
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd.declare import NOT_GIVEN


class OnnxExporterError(RuntimeError):
    """Errors raised by ``tapegrad.onnx.export`` (PyTorch's ``torch.onnx.OnnxExporterError``)."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op the ONNX exporter cannot translate (PyTorch's ``torch.onnx.errors.UnsupportedOperatorError``)."""


class V:
    """A traced value in an event's arguments: its index in the trace."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __repr__(self):
        return f"V({self.index})"


class C:
    """A constant tensor in an event's arguments (made in forward, or an attribute that is not a buffer)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array


class Sym:
    """An integer that differs between the two traces: it depends on the size of a dynamic axis."""

    __slots__ = ("pair",)

    def __init__(self, a: int, b: int):
        self.pair = (a, b)

    def __repr__(self):
        return f"Sym{self.pair}"


class Event:
    __slots__ = ("name", "args", "out")

    def __init__(self, name, args, out):
        self.name, self.args, self.out = name, args, out


# Calls that read metadata or print: never recorded, whatever they are called on.
PASSTHROUGH = {"size", "dim", "ndimension", "numel", "nelement", "is_floating_point", "is_complex",
               "element_size", "__repr__", "__str__", "__format__", "__len__", "__hash__", "is_tensor",
               "stride", "is_contiguous", "get_device", "storage_offset", "data_ptr", "register_hook",
               "retain_grad", "requires_grad_", "is_grad_enabled", "is_inference_mode_enabled", "is_storage",
               "is_nonzero", "result_type", "can_cast", "promote_types", "_reverse_dims_shape", "__dlpack_device__"}
# Calls that read values: a traced model cannot depend on them.
DATA_DEPENDENT = {"__bool__", "__float__", "__int__", "__index__", "__complex__", "item", "tolist", "numpy",
                  "__array__", "__iter__", "__dlpack__", "__setitem__", "backward"}
# Composite functions written with public ops only: traced through, op by op.
TRANSPARENT = {"multi_head_attention_forward"}
# Random ops: refused during a trace (their values would become constants of the graph).
RANDOM = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like", "randn_like",
          "randint_like", "poisson", "normal_", "uniform_", "bernoulli_", "exponential_", "random_"}
# Calls recorded even when they touch no traced value, because their integers may be symbolic.
CREATION = {"arange", "zeros", "ones", "full"}
_DUNDERS = {"__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
            "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__abs__", "__getitem__",
            "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__iadd__", "__isub__", "__imul__",
            "__itruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__and__", "__or__", "__invert__",
            "__xor__"} | {n for n in DATA_DEPENDENT if n.startswith("__")}

_local = threading.local()
_lock = threading.RLock()


def active() -> bool:
    return getattr(_local, "trace", None) is not None


class Trace:
    """One traced forward: its values (inputs and parameters first) and its events."""

    def __init__(self, handled: set):
        self.values: dict[int, int] = {}
        self.tensors: list[Tensor] = []
        self.events: list[Event] = []
        self.handled = handled
        self.depth = 0

    def add(self, t: Tensor) -> int:
        index = len(self.tensors)
        self.tensors.append(t)  # kept alive, so ids are never reused during the trace
        self.values[id(t)] = index
        return index

    def touches(self, obj) -> bool:
        if isinstance(obj, Tensor):
            return id(obj) in self.values
        if isinstance(obj, (tuple, list)):
            return any(self.touches(o) for o in obj)
        if isinstance(obj, dict):
            return any(self.touches(o) for o in obj.values())
        if isinstance(obj, slice):
            return False
        return False

    def check_seen(self, obj, op: str):
        """Raise if ``obj`` holds a tensor computed by an op the tracer did not see (a tape node, not traced)."""
        if isinstance(obj, Tensor):
            if id(obj) not in self.values and obj.requires_grad and obj.grad_fn is not None:
                raise _unseen(op, obj)
        elif isinstance(obj, (tuple, list)):
            for o in obj:
                self.check_seen(o, op)
        elif isinstance(obj, dict):
            for o in obj.values():
                self.check_seen(o, op)

    def describe(self, obj, op: str):
        """``obj`` with traced tensors as V, other tensors as C, containers recursively."""
        if isinstance(obj, Tensor):
            index = self.values.get(id(obj))
            if index is not None:
                return V(index)
            if obj.requires_grad and obj.grad_fn is not None:
                raise _unseen(op, obj)
            return C(obj.detach().numpy().copy())
        if isinstance(obj, np.ndarray):
            return C(obj.copy())
        if isinstance(obj, tuple) and type(obj) is not tuple and hasattr(obj, "_fields"):
            return tuple(self.describe(o, op) for o in obj)
        if isinstance(obj, (tuple, list)):
            return type(obj)(self.describe(o, op) for o in obj) if type(obj) in (tuple, list) else \
                tuple(self.describe(o, op) for o in obj)
        if isinstance(obj, dict):
            return {k: self.describe(v, op) for k, v in obj.items()}
        return obj

    def register(self, out):
        if isinstance(out, Tensor):
            return V(self.add(out))
        if isinstance(out, (tuple, list)):
            return tuple(self.register(o) for o in out)
        return out


def _unseen(op, t):
    return UnsupportedOperatorError(
        f"tapegrad.onnx.export: {op} uses a value computed by {t.grad_fn.name()}, an op the exporter did not see "
        f"(called through a name bound before the export began, or outside tapegrad's public ops); call it as "
        f"tapegrad.X, F.X or a Tensor method")


def _bind(sig, args, kwargs):
    if sig is None:
        return {"args": args, **kwargs}
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return {"args": args, **kwargs}
    bound.apply_defaults()
    return {k: None if v is NOT_GIVEN else v for k, v in bound.arguments.items()}  # (sum's dim=None overload &c.)


_WRAPPERS: dict = {}  # (function, name) -> its wrapper: wrappers hold no state, so exports reuse them


def _wrap(fn, name):
    wrapper = _WRAPPERS.get((fn, name))
    if wrapper is None:
        wrapper = _WRAPPERS[(fn, name)] = _make_wrapper(fn, name)
    return wrapper


@functools.cache
def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _make_wrapper(fn, name):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        trace = getattr(_local, "trace", None)
        if trace is None or trace.depth:
            return fn(*args, **kwargs)
        if name in PASSTHROUGH:
            return _untraced(trace, fn, args, kwargs)
        if name in TRANSPARENT:
            return fn(*args, **kwargs)  # its body calls public ops: they are traced one by one
        touched = trace.touches(args) or trace.touches(kwargs)
        if not touched:
            trace.check_seen((args, kwargs), name)
        if name in RANDOM:
            raise UnsupportedOperatorError(f"tapegrad.onnx.export: the random op '{name}' is not supported (its "
                                           f"values would be frozen into the graph as constants)")
        if not touched and name not in CREATION:
            return _untraced(trace, fn, args, kwargs)
        if touched and name in DATA_DEPENDENT:
            what = "writes into a traced tensor in place" if name == "__setitem__" else \
                "reads the values of a traced tensor, so the model's behaviour depends on its data"
            raise OnnxExporterError(f"tapegrad.onnx.export: {name} {what}, which a static ONNX graph cannot "
                                    f"express")
        if name not in trace.handled:
            raise UnsupportedOperatorError(f"tapegrad.onnx.export: the op '{name}' is not supported by the ONNX "
                                           f"exporter (see docs/onnx.md for the supported ops)")
        trace.depth += 1
        try:
            described = trace.describe(_bind(_signature(fn), args, kwargs), name)
        finally:
            trace.depth -= 1
        out = _untraced(trace, fn, args, kwargs)
        trace.events.append(Event(name, described, trace.register(out)))
        return out

    wrapper.__wrapped_for_onnx__ = fn  # type: ignore[attr-defined]
    return wrapper


def _untraced(trace, fn, args, kwargs):
    trace.depth += 1
    try:
        return fn(*args, **kwargs)
    finally:
        trace.depth -= 1


def _public_functions():
    """{function: name} of the ops to watch: the public functions of the namespaces models call ops from
    (read from ``sys.modules``: they are loaded, and this layer must not import the package above it)."""
    found: dict[Any, str] = {}
    for module_name in _NAMESPACES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name, value in vars(module).items():
            if isinstance(value, types.FunctionType) and not name.startswith("_") \
                    and (value.__module__ or "").startswith(_OP_MODULES):
                found.setdefault(value, value.__name__ if value.__name__ != "<lambda>" else name)
    return found


_OP_MODULES = ("tapegrad.ops.", "tapegrad.creation", "tapegrad.nn.")  # not the machinery (record, grad mode)
_NAMESPACES = ("tapegrad", "tapegrad.nn.functional", "tapegrad.special", "tapegrad.linalg", "tapegrad.fft")


class patched:
    """Within the ``with``, the public ops are wrapped for tracing (in every module that holds them)."""

    def __init__(self):
        self.undo: list = []

    def __enter__(self):
        _lock.acquire()
        try:
            self._patch()
        except BaseException:
            self._restore()
            _lock.release()
            raise
        return self

    def _patch(self):
        functions = _public_functions()
        wrappers = {}
        for klass in Tensor.__mro__:
            if klass is object:
                continue
            for name, value in list(vars(klass).items()):
                if name.startswith("_") and name not in _DUNDERS and name not in ("_softmax_method",
                                                                                 "_log_softmax_method"):
                    continue
                if isinstance(value, types.FunctionType):
                    key = name if name in DATA_DEPENDENT or name in PASSTHROUGH else value.__name__
                    w = wrappers.get(value) or _wrap(value, key)
                    wrappers[value] = w
                    self.undo.append((klass, name, value))
                    setattr(klass, name, w)
                elif isinstance(value, property) and name in ("T", "mT", "H", "mH", "data"):
                    self.undo.append((klass, name, value))
                    setattr(klass, name, property(_wrap(value.fget, name), value.fset, value.fdel, value.__doc__))
        for fn, name in functions.items():
            if fn not in wrappers:
                wrappers[fn] = _wrap(fn, name)
        by_id = {id(fn): (fn, w) for fn, w in wrappers.items()}  # NOTE: ids, so no value's __hash__ or __eq__ runs
        for module_name, module in list(sys.modules.items()):
            # NOTE: sys.modules may hold objects that are not modules (some packages put their own there)
            if not isinstance(module, types.ModuleType) or module_name.startswith("tapegrad.onnx"):
                continue
            d = module.__dict__
            for name, value in list(d.items()):
                found = by_id.get(id(value))
                if found is not None and found[0] is value:
                    self.undo.append((module, name, value))
                    setattr(module, name, found[1])

    def _restore(self):
        for owner, name, value in reversed(self.undo):
            setattr(owner, name, value)
        self.undo.clear()

    def __exit__(self, *exc):
        try:
            self._restore()
        finally:
            _lock.release()


class tracing:
    """Within the ``with``, this thread records onto ``trace``."""

    def __init__(self, trace: Trace):
        self.trace = trace

    def __enter__(self):
        _local.trace = self.trace
        return self.trace

    def __exit__(self, *exc):
        _local.trace = None
