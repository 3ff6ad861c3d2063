"""How an op is declared: everything an op module needs from the autograd layer, in one place.

    from ..autograd.declare import Tensor, binary, op, record, unary, wrap

- ``unary`` and ``binary`` declare an elementwise op from its numpy function and its gradient rule: the op, its
  PyTorch node name, its Tensor method and in-place method, and its name for create_graph rules, in one place.
- ``op`` declares an op written by hand: its body computes the array and calls ``record`` with its rule and
  node name (a result that shares its input's memory becomes its view there).
- ``backward_op`` declares the first-order backward of a fused op as an op of its own, and ``xp.linear``
  records a linear map with its adjoint: with them a rule never asks whether it runs on arrays or tensors.
- ``inplace`` is the door every in-place op goes through; ``no_record`` tells an op's fast in-place path when
  it is a plain write, which ``bump`` then announces.
- ``operands`` turns the operands of a binary op into tensors of PyTorch's result dtype.

Rules are described in ``autograd/tape.py``; CONTRIBUTING.md shows how to add an op.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _state, dtypes
from .._tensor import Size, Tensor, check_device, check_dim, to_array, type_name, wrap
from .grad_mode import is_grad_enabled
from .inplace import any_requires_grad as _any_requires_grad
from .inplace import apply as inplace
from .inplace import (
    bump,
    check_overlaps,
    dense,
    increment_version,
    no_record,
    overlap,
    overlap_error,
    partial_overlap,
)
from .tape import named, node_name, record
from .xp import numpy_xp, register_tensor_xp

_grad = _state.grad
_clock = _state.clock

__all__ = ["Tensor", "Size", "wrap", "record", "named", "node_name", "NOT_GIVEN", "unary", "binary", "op", "inplace",
           "inplace_method", "plain_write", "backward_op", "no_record", "bump", "increment_version", "operands",
           "operand", "cast", "dense", "overlap", "partial_overlap", "overlap_error",
           "broadcast_error", "dtype_error", "expected_tensor", "check_dim", "check_device", "to_array",
           "type_name", "is_grad_enabled", "numpy_xp"]


class _NotGiven:
    """The default of an argument whose explicit None is another PyTorch overload, with a node of its own:
    ``x.sum()`` records SumBackward0, ``x.sum(None)`` (sum.dim_IntList) SumBackward1. It reads as None."""

    __slots__ = ()

    def __repr__(self):
        return "None"


NOT_GIVEN: Any = _NotGiven()


# ---------------------------------------------------------------------- operands
def expected_tensor(op: str, x) -> TypeError:
    return TypeError(f"{op}: expected a Tensor as input, got {type(x).__name__}")


def broadcast_error(op: str, *tensors) -> ValueError:
    shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
    return ValueError(f"{op}: cannot broadcast shapes {shapes} together (sizes must be equal or 1, aligned "
                      f"from the right)")


def dtype_error(op: str, dtype) -> RuntimeError:
    hint = {"sub": "; use the ^ or logical_xor() operator instead",
            "neg": "; to invert a mask use the ~ or logical_not() operator instead"}.get(op, "")
    return RuntimeError(f"{op}: not supported for {dtype} tensors{hint}")


def cast(t: Tensor, dtype) -> Tensor:
    """``t`` in ``dtype``; the gradient flows back between floating-point dtypes (``ToCopyBackward0``)."""
    dtype = dtypes.as_dtype(dtype)
    if t._data.dtype == dtype:
        return t
    out = t._data.astype(dtype)
    if dtype.kind != "f":
        return wrap(out)
    return record(out, (t,), _cast_rule, "ToCopyBackward0")


def _cast_rule(xp, g, out, x):
    return g  # the engine casts the gradient back to x's dtype


def operand(op: str, x, like: Tensor) -> Tensor:
    """A non-tensor operand as a constant tensor. Python and numpy scalars are weak, as in PyTorch: they take
    the tensor's dtype within its category (int tensor + 2.5 -> the default float dtype)."""
    kind = type(x)
    if kind is not float and kind is not int and kind is not bool:
        if isinstance(x, np.generic) and x.dtype.kind in "biuf":
            x = x.item()  # a numpy scalar behaves as a Python scalar: it does not promote a float32 tensor
            kind = type(x)
        elif isinstance(x, (np.ndarray, np.generic)):
            return wrap(to_array(x))
        elif isinstance(x, numbers.Number):
            return wrap(np.asarray(x, dtype=dtypes.scalar_dtype(x, like._data.dtype)))
        else:
            raise TypeError(f"{op}: unsupported operand type {type(x).__name__} (expected a Tensor or a number)")
    dt = like._data.dtype
    if kind is float:
        if not dtypes.is_floating(dt):  # (bfloat16 is a float: a 0-d bfloat16 * 0.1 stays bfloat16)
            dt = dtypes.get_default_dtype()
    elif kind is int and dt.kind == "b":
        dt = dtypes.int64
    try:
        return wrap(np.array(x, dtype=dt))
    except OverflowError:  # e.g. -1 for a uint8 tensor: wrap around, as PyTorch does
        return wrap(np.array(x).astype(dt))


def operands(op: str, a, b) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors of PyTorch's result dtype."""
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = operand(op, b, a)
    elif isinstance(b, Tensor):
        a = operand(op, a, b)
    else:
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    da, db = a._data.dtype, b._data.dtype
    if da != db:
        dt = dtypes.promote(a._data, b._data)
        if da != dt:
            a = cast(a, dt)
        if db != dt:
            b = cast(b, dt)
    return a, b


# ---------------------------------------------------------------------- declarations
_NAME_AND_DOC = ("__module__", "__name__", "__qualname__", "__doc__")  # the op keeps its own signature
def op(fn: Callable | None = None, *, methods: Sequence[str] | None = None, xp_name: str | bool | None = None,
       inplace: str | bool = False, elementwise: bool = False):
    """Declare an op written by hand (it calls ``record`` itself): make it a Tensor method under ``methods``
    (default: its own name; ``()`` for none), give create_graph rules ``xp.<xp_name>`` (default: its own name;
    ``False`` for none), and with ``inplace`` also the in-place method (``True``: its name plus ``_``), which,
    for an ``elementwise`` op, refuses an operand that partly overlaps the written tensor, as PyTorch.

    >>> @op(methods=("sum",))            # doctest: +SKIP
    ... def sum(input, dim=None, keepdim=False): ...
    """
    if fn is None:
        return functools.partial(op, methods=methods, xp_name=xp_name, inplace=inplace, elementwise=elementwise)
    _register(fn, methods, xp_name, inplace, elementwise=elementwise)
    return fn


def unary(compute: Callable | None = None, *, grad: Callable, name: str | None = None, ints: str = "float",
          bools: str | None = None, methods: Sequence[str] | None = None, xp_name: str | bool | None = None,
          inplace: str | bool = True, inplace_name: str | None = None):
    """Declare an elementwise op of one tensor from its numpy function and its gradient rule.

    The declaration makes the op that takes a tensor, records ``grad`` (``lambda xp, g, out, x: ...``) under
    ``name`` (default: PyTorch's, from the function's name), and registers the Tensor method and its in-place
    form (``x.exp_()``). The array is computed by ``compute`` (a numpy function), or, without it, by the
    decorated function's body, which then computes on the array. ``ints`` says what integer inputs do:
    ``"float"`` (computed in the default float dtype, as PyTorch's float math) or ``"keep"`` (computed as they
    are); ``bools`` the same for bool inputs (default: as ``ints``), or ``"error"``. ``inplace_name``: the node
    of the in-place form where PyTorch's differs (``acosh_`` records ``AcoshBackward1``).

    >>> @unary(np.exp, grad=lambda xp, g, out, x: g * out)   # doctest: +SKIP
    ... def exp(input):
    ...     '''exp(input) -> e ** input'''
    """
    return functools.partial(_declare_unary, compute=compute, grad=grad, name=name, ints=ints, bools=bools,
                             methods=methods, xp_name=xp_name, inplace=inplace, inplace_name=inplace_name)


def _declare_unary(fn, *, compute, grad, name, ints, bools, methods, xp_name, inplace, inplace_name):
    array_fn = compute or fn
    forward = _unary_forward(fn, array_fn, grad, name or node_name(fn.__name__), ints, bools or ints)
    forward.rule, forward.numpy = grad, array_fn  # type: ignore[attr-defined]  # its rule, and its numpy function
    in_place = None
    if inplace_name:
        in_place = _unary_forward(fn, array_fn, grad, inplace_name, ints, bools or ints)
        in_place.rule, in_place.numpy = grad, array_fn  # type: ignore[attr-defined]
    _register(forward, methods, xp_name, inplace, _unary_write(array_fn), elementwise=True, inplace_fn=in_place)
    return forward


def _unary_forward(fn, array_fn, grad, node, ints, bools):
    """The op of ``fn`` that records its result as the node ``node``."""
    op_name = fn.__name__
    default_float = dtypes.get_default_dtype

    @functools.wraps(fn, assigned=_NAME_AND_DOC, updated=())
    def forward(input: Tensor) -> Tensor:
        try:
            x = input._data
        except AttributeError:
            raise expected_tensor(op_name, input) from None
        kind = x.dtype.kind
        if kind != "f":
            policy = bools if kind == "b" else ints
            if policy == "float":
                # such inputs never require grad: nothing to record. NOTE: numpy's astype of a broadcast array
                # puts the stretched dims innermost; PyTorch's result of an expanded input is contiguous
                x = x.astype(default_float(), order="A" if 0 in x.strides else "K")
            elif policy == "error":
                raise RuntimeError(f"{op_name}: not supported for {x.dtype} tensors")
        return record(array_fn(x), (input,), grad, node)

    del forward.__wrapped__  # the op's signature is its own (it takes tensors), not that of ``fn``
    return forward


def _unary_write(array_fn):
    """The plain write of a unary op on a floating-point tensor (what the forward computes for one): into the
    array with ``out=`` when the numpy function is a ufunc that keeps each float dtype or a function that takes
    ``out`` (relu), else its result copied."""
    takes_out = isinstance(array_fn, np.ufunc) and _keeps_float_dtypes(array_fn) or \
        not isinstance(array_fn, np.ufunc) and "out" in inspect.signature(array_fn).parameters
    if takes_out:
        def write(data):
            if data.dtype.kind != "f":
                return False
            try:
                array_fn(data, out=data)
            except ValueError:  # read-only memory: the door says so
                return False
            return True
    else:
        def write(data):
            if data.dtype.kind != "f" or not data.flags.writeable:
                return False
            new = array_fn(data)
            if new.dtype != data.dtype or new.shape != data.shape:
                return False
            np.copyto(data, new)
            return True
    return write


def _keeps_float_dtypes(ufunc) -> bool:
    with np.errstate(all="ignore"):
        return all(ufunc(np.zeros(1, dt)).dtype == dt for dt in (np.float16, np.float32, np.float64))


def binary(compute: Callable | None = None, *, grad: Callable, name: str | None = None, floats: bool = False,
           tensors: bool = False, methods: Sequence[str] | None = None, xp_name: str | bool | None = None,
           inplace: str | bool = True, reflected: str | None = None, given: Callable | None = None):
    """Declare an elementwise op of two operands (tensors or numbers, broadcast, promoted as PyTorch does) from
    its numpy function ``compute`` (or the decorated function's body, on arrays) and its rule
    ``grad(xp, need, g, out, a, b) -> (ga, gb)``.

    ``floats``: integer operands are computed in the default float dtype (atan2, hypot). ``tensors``: both
    operands must be tensors (PyTorch's signature of maximum, atan2). ``reflected``: the name of the reflected
    operator method (``__rmul__``), which takes the operands the other way round. ``given``: the rule for two
    tensors of different float dtypes, recorded as given (not cast to the result dtype): derivatives.yaml's
    formula with PyTorch's promotion at each step (``xp.mul``, ``xp.div``), as a float32 0-d operand beside
    float16 tensors is there.
    """
    return functools.partial(_declare_binary, compute=compute, grad=grad, name=name, floats=floats,
                             tensors=tensors, methods=methods, xp_name=xp_name, inplace=inplace,
                             reflected=reflected, given=given)


def _declare_binary(fn, *, compute, grad, name, floats, tensors, methods, xp_name, inplace, reflected, given):
    op_name = fn.__name__
    node = name or node_name(op_name)
    default_float = dtypes.get_default_dtype
    array_fn = compute or fn

    @functools.wraps(fn, assigned=_NAME_AND_DOC, updated=())
    def forward(input: Tensor | float, other: Tensor | float) -> Tensor:
        if tensors and not (isinstance(input, Tensor) and isinstance(other, Tensor)):
            position, value = (1, input) if not isinstance(input, Tensor) else (2, other)
            raise TypeError(f"{op_name}: argument '{('input', 'other')[position - 1]}' (position {position}) must "
                            f"be a Tensor, not {type(value).__name__} (PyTorch's {op_name} takes two tensors)")
        if floats:
            originals = input, other
        if input.__class__ is Tensor and other.__class__ is Tensor:  # the common case first: one check each
            a, b = input._data, other._data
            if a.dtype is not b.dtype:
                if given is not None and a.dtype.kind == "f" and b.dtype.kind == "f":
                    return record_given(op_name, array_fn, input, other, given, node)
                input, other = operands(op_name, input, other)
                a, b = input._data, other._data
        elif input.__class__ is Tensor and (other.__class__ is float or other.__class__ is int) and not floats \
                and input._data.dtype.kind == "f" and not (input._requires_grad and _grad.enabled):
            # NOTE: a float tensor and a Python number, nothing to record (``lr * p.grad`` in an update): numpy's
            # weak scalars give PyTorch's dtype, and no tensor needs to be made for the number.
            return wrap(array_fn(input._data, other))
        elif other.__class__ is Tensor and (input.__class__ is float or input.__class__ is int) and not floats \
                and other._data.dtype.kind == "f" and not (other._requires_grad and _grad.enabled):
            return wrap(array_fn(input, other._data))  # the same, the number on the left (``lr * p.grad``)
        else:
            input, other = operands(op_name, input, other)
            a, b = input._data, other._data
        if floats and a.dtype.kind != "f":
            # NOTE: each integer operand goes to the float dtype from its own values, as PyTorch (a uint8 tensor and
            # -1: log(-1), not log(255)), not through the operands' common integer dtype
            a, b = (np.asarray(v._data if isinstance(v, Tensor) else v).astype(default_float()) for v in originals)
        try:
            out = array_fn(a, b)
        except ValueError:
            raise broadcast_error(op_name, input, other) from None
        except TypeError:  # numpy refuses the dtype (bool - bool, ...)
            raise dtype_error(op_name, a.dtype) from None
        return record(out, (input, other), grad, node)

    forward.rule, forward.numpy = grad, array_fn  # type: ignore[attr-defined]
    del forward.__wrapped__
    _register(forward, methods, xp_name, inplace, elementwise=True)
    if reflected:
        def reflect(self, other):
            return forward(other, self)

        reflect.__name__ = reflect.__qualname__ = reflected
        reflect.__doc__ = f"{reflected}(self, other): {op_name}(other, self), for a number or array on the left."
        setattr(Tensor, reflected, reflect)
    return forward


def record_given(op_name, array_fn, input, other, rule, node):
    """``array_fn`` of two float tensors of different dtypes computed in PyTorch's result dtype, recorded with the
    tensors as given for ``rule`` (see :func:`binary`'s ``given``)."""
    dt = dtypes.promote(input._data, other._data)
    try:
        with np.errstate(all="ignore"):
            out = array_fn(input._data.astype(dt, copy=False), other._data.astype(dt, copy=False))
    except ValueError:
        raise broadcast_error(op_name, input, other) from None
    return record(out, (input, other), rule, node)


def backward_op(fn: Callable | None = None, *, grad: Callable, name: str | None = None):
    """Declare the first-order backward of a fused op as an op of its own, so the fused op's rule needs no
    branch on how it is evaluated (PyTorch's ``gelu_backward`` & co.).

    The decorated function computes on arrays, ``fn(*arrays, **constants) -> array``. Rules then call
    ``xp.<its name>(g, x, ..., **constants)``: on arrays that is ``fn`` itself (first order, fast: it may use
    values cached by the forward, passed as constants); on tensors (``create_graph``) it is recorded with the
    rule ``grad(xp, need, gg, out, g, x, ..., **constants)``, which must not rely on cached values.
    """
    if fn is None:
        return functools.partial(backward_op, grad=grad, name=name)
    node = name or node_name(fn.__name__)

    def recorded(*inputs, **constants):
        rule = functools.partial(grad, **constants) if constants else grad
        return record(fn(*[t._data for t in inputs], **constants), inputs, rule, node)

    recorded.__name__ = recorded.__qualname__ = fn.__name__
    recorded.__doc__ = fn.__doc__
    setattr(numpy_xp, fn.__name__, fn)
    register_tensor_xp(fn.__name__, recorded)
    return fn


def _register(fn, methods, xp_name, inplace, write=None, elementwise=False, inplace_fn=None):
    for method in (fn.__name__,) if methods is None else methods:
        setattr(Tensor, method, fn)
    if xp_name is not False:
        register_tensor_xp(xp_name or fn.__name__, fn)
    if inplace:
        name = inplace if isinstance(inplace, str) else fn.__name__ + "_"
        setattr(Tensor, name, inplace_method(name, inplace_fn or fn, write, elementwise))


def plain_write(fn: Callable, name: str | None = None) -> Callable:
    """Declare the plain write of the op ``fn``'s in-place method ``name`` (default: its name plus ``_``): the
    decorated ``write(array, *args, **kwargs) -> bool`` computes into the array when there is nothing to record,
    or returns False, having written nothing, for the general door (see :func:`inplace_method`).

    Every hand-written update loop runs these (``p.clamp_(-c, c)`` under ``no_grad``): one numpy call into the
    parameter's memory instead of the op's out-of-place result and a copy. Keep the values the op's: compute
    with the same numpy calls, in the same order.
    """
    method_name = name or fn.__name__ + "_"

    def declare(write: Callable) -> Callable:
        method = getattr(Tensor, method_name)
        setattr(Tensor, method_name, inplace_method(method_name, fn, write, method.elementwise))
        return write

    return declare


def inplace_method(name: str, fn: Callable, write: Callable | None = None, elementwise: bool = False) -> Callable:
    """The in-place method ``name`` of the op ``fn``: ``x.exp_()`` is ``x`` taking the values of ``exp(x)``.
    ``elementwise``: a tensor operand that partly overlaps ``x`` is refused, as PyTorch's TensorIterator.

    ``write(array, *args, **kwargs) -> bool``, if given, is the op's plain write: when there is nothing to record
    (under ``no_grad``, or nothing involved requires grad) it writes the op's values straight into the array and
    returns True, or returns False, having written nothing, for the door to handle (and explain) the case.
    """
    if write is None and not elementwise:
        def method(self, *args, **kwargs):
            return inplace(self, name, fn, *args, **kwargs)
    elif write is None:
        def method(self, *args, **kwargs):
            if args or kwargs:
                check_overlaps(name, self, args, kwargs)
            return inplace(self, name, fn, *args, **kwargs)
    else:
        def method(self, *args, **kwargs):
            data = self._data
            if elementwise:  # check_overlaps, inlined: two arrays that own their memory never overlap
                for a in args:
                    if (a.__class__ is Tensor or isinstance(a, Tensor)) \
                            and (a._data.base is not None or data.base is not None) \
                            and overlap(data, a._data) == "partial":
                        raise overlap_error(name)
                if kwargs:
                    for a in kwargs.values():
                        if a.__class__ is not float and a.__class__ is not int and isinstance(a, Tensor) \
                                and (a._data.base is not None or data.base is not None) \
                                and overlap(data, a._data) == "partial":
                            raise overlap_error(name)
            if (not _grad.enabled or not (self._requires_grad or _any_requires_grad(args, kwargs))) \
                    and write(data, *args, **kwargs):
                if self._base is None and self._extra is None:  # bump(self), inlined for the common case
                    _clock.now += 1
                    self._version = _clock.now
                else:
                    bump(self)
                return self
            return inplace(self, name, fn, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{name}(...) -> self: ``{fn.__name__}`` in place."
    # what it computes, its plain write, and whether it refuses overlapping operands
    method.op, method.write, method.elementwise = fn, write, elementwise  # type: ignore[attr-defined]
    return method
