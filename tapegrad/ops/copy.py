"""Copies and conversions: casts between dtypes, clone, detach, and the writes copy_, fill_ and zero_.

A cast between floating-point dtypes is differentiable (the gradient is cast back by the engine); a cast to an
integer or bool dtype gives a tensor that does not require grad, as in PyTorch. ``detach`` shares memory and
versions with its source (``autograd/inplace.py``), ``clone`` copies.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes, memory_formats
from ..autograd import inplace as _inplace
from ..autograd.declare import (
    Tensor,
    bump,
    cast,
    check_device,
    inplace,
    no_record,
    op,
    overlap_error,
    partial_overlap,
    record,
    type_name,
    wrap,
)
from ._perm import innermost_first

__all__ = ["clone"]


@op(methods=("type",), xp_name=False)
def type_(input: Tensor, dtype=None) -> Tensor | str:
    """type(dtype=None): a copy cast to ``dtype`` (the same tensor if it has that dtype already); without an
    argument, the legacy type name (``'tapegrad.FloatTensor'``).

    >>> import tapegrad as tg
    >>> tg.tensor([1.5, 2.5]).type(tg.int64)
    tensor([1, 2])
    """
    if dtype is None:
        return type_name(input.dtype)
    return cast(input, dtypes.as_dtype(dtype))


def _caster(name, dtype, doc):
    def method(self: Tensor, *, memory_format=memory_formats.preserve_format) -> Tensor:
        if memory_format is memory_formats.preserve_format and _row_major(self._data):
            return cast(self, dtype)
        return to(self, dtype, memory_format=memory_format)  # (PyTorch's x.float() is x.to(float32))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc + " ``memory_format=`` lays the result out so, as ``to``."
    setattr(Tensor, name, method)


_caster("float", dtypes.float32, "float(): the values as float32.")
_caster("double", dtypes.float64, "double(): the values as float64.")
_caster("half", dtypes.float16, "half(): the values as float16.")
_caster("long", dtypes.int64, "long(): the values as int64 (no gradient).")
_caster("int", dtypes.int32, "int(): the values as int32 (no gradient).")
_caster("short", dtypes.int16, "short(): the values as int16 (no gradient).")
_caster("char", dtypes.int8, "char(): the values as int8 (no gradient).")
_caster("byte", dtypes.uint8, "byte(): the values as uint8 (no gradient).")
_caster("bool", dtypes.bool, "bool(): the values as bool (no gradient).")


@op(xp_name=False)
def to(input: Tensor, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False,
       memory_format=None) -> Tensor:
    """to(dtype) / to(device) / to(other) / to(device, dtype), and ``memory_format=``: cast to a dtype, lay out
    in a memory format; only the CPU exists.

    As PyTorch's, the tensor itself is returned when nothing changes: the same dtype, no ``copy``, and the memory
    format preserve_format or the one its strides suggest (``suggest_memory_format``, so a transposed matrix is
    returned as it is for ``contiguous_format``).

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2]).to(tg.float32)
    tensor([1., 2.])
    >>> tg.zeros(1, 3, 2, 2).to(memory_format=tg.channels_last).stride()
    (12, 1, 6, 3)
    """
    from .._tensor import device as device_type

    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device_type)):
            check_device(a)
        else:
            dtype = a
    if device is not None:
        check_device(device)
    x = input._data
    target = x.dtype if dtype is None else dtypes.as_dtype(dtype)
    fmt = memory_formats.checked("to", memory_format, none=memory_formats.preserve_format)
    if fmt is not memory_formats.preserve_format and (
            target != x.dtype or copy or memory_formats.suggest(x.shape, memory_formats.visible_strides(x)) is not fmt):
        out = memory_formats.copy("to", x, fmt, target)
        return record(out, (input,), _to_rule, "ToCopyBackward0") if target.kind == "f" else wrap(out)
    if target == x.dtype:
        return clone(input) if copy else input
    if _row_major(x):
        return cast(input, target)
    out = _copy_like(x, target)  # _to_copy's preserve_format: a dense input's strides, else its order
    return record(out, (input,), _to_rule, "ToCopyBackward0") if target.kind == "f" else wrap(out)


def _to_rule(xp, g, out, x):
    return g  # the engine casts the gradient back to x's dtype


@op(xp_name=False)
def type_as(input: Tensor, other: Tensor) -> Tensor:
    """type_as(other): this tensor cast to ``other``'s dtype; the cast is differentiable between float types.

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2]).type_as(tg.zeros(1))
    tensor([1., 2.])
    """
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as: expected a Tensor to take the dtype of, got {type(other).__name__}")
    return cast(input, other._data.dtype)


@op
def clone(input: Tensor, *, memory_format=memory_formats.preserve_format) -> Tensor:
    """clone(input, *, memory_format=preserve_format): a copy of the values; the gradient flows back to ``input``.

    Laid out as PyTorch's: with preserve_format a dense input's strides are kept (``x.t().clone()`` is
    column-major), a sliced input's copy is dense in the same order; another format lays the copy out in it.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0, 2.0])
    >>> y = x.clone()
    >>> y.add_(1); x
    tensor([2., 3.])
    tensor([1., 2.])
    >>> tg.zeros(1, 2, 2, 3).clone(memory_format=tg.channels_last).stride()
    (12, 1, 6, 2)
    """
    fmt = memory_formats.checked("clone", memory_format, none=memory_formats.preserve_format)
    x = input._data
    out = _copy_like(x) if fmt is memory_formats.preserve_format else memory_formats.copy("clone", x, fmt)
    return record(out, (input,), _clone_rule, "CloneBackward0")


def _copy_like(x, dtype=None):
    """A copy of ``x`` (cast to ``dtype``) laid out as PyTorch's ``empty_like(x, preserve_format)``."""
    if _row_major(x):
        return x.astype(dtype, copy=True) if dtype is not None else x.copy()
    out = empty_like_preserved(x, dtype)
    out[...] = x
    return out


def _row_major(x):
    """Row-major with numpy's own strides, so that numpy's copy keeps them (a size-1 dim's stride counts)."""
    return x.flags.c_contiguous and x.size and (
        1 not in x.shape or memory_formats.visible_strides(x) == memory_formats.strides("", x.shape,
                                                                                       memory_formats.contiguous_format))


def empty_like_preserved(x, dtype=None):
    """A zero-filled array of ``x``'s shape laid out as PyTorch's ``empty_like(x, preserve_format)``: a dense
    ``x``'s strides exactly (a size-1 dim's too; an empty ``x``'s as it shows them), else infer_dense_strides:
    dense, its dims in ``x``'s memory order (sorted by stride, back to front; a stride of 0 says nothing, so an
    expanded dim keeps its place), so a sliced ``x`` keeps its order."""
    dtype = x.dtype if dtype is None else dtype
    if _row_major(x):
        return np.zeros(x.shape, dtype)
    visible = memory_formats.visible_strides(x)
    if memory_formats.is_non_overlapping_and_dense(x.shape, visible) or not x.size:
        return memory_formats.empty_strided(x.shape, visible, dtype)
    steps = x.strides

    def should_swap(d0, d1):
        s0, s1 = steps[d0], steps[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return -1 if s0 < s1 else 1
        return 1 if x.shape[d0] > x.shape[d1] else 0

    order = innermost_first(x.ndim, should_swap)[::-1]  # outermost first
    return np.zeros([x.shape[d] for d in order], dtype).transpose(np.argsort(order))


def _clone_rule(xp, g, out, x):
    return g


@op(xp_name=False)
def detach(input: Tensor) -> Tensor:
    """detach(): the same values, cut from the graph. It shares memory and versions with ``input``: a write
    into either is seen by both (and a backward that needed the old values refuses, as in PyTorch).

    >>> import tapegrad as tg
    >>> x = tg.ones(2, requires_grad=True)
    >>> x.detach().requires_grad
    False
    """
    return _inplace.alias(input)


@op(methods=("detach_",), xp_name=False)
def detach_(input: Tensor) -> Tensor:
    """detach_(): cut this tensor from the graph, in place (it becomes a leaf that does not require grad)."""
    if input._base is not None:
        raise RuntimeError("detach_: can't detach views in place; use detach() instead")
    _inplace.cut(input)
    return input


# ---------------------------------------------------------------------- writes
def _filled(input, value, name="FillBackward2"):
    # NOTE: a node even though no gradient flows back (zeros): the result still requires grad, as in PyTorch.
    return record(np.full_like(input._data, value), (input,), _zeros_rule, name)


def _zeros_rule(xp, g, out, x):
    return xp.zeros_like(g)


@op(methods=("fill_",), xp_name=False)
def fill_(input: Tensor, value) -> Tensor:
    """fill_(value): set every element to ``value`` (a number or a 0-d tensor), in place.

    A number is converted as PyTorch converts it (c10's checked conversion): an integer tensor takes integers in
    its range (an unsigned one also -max..-1, which wrap: ``uint8`` -1 is 255) and floats whose integer part fits;
    anything else raises. A 0-d tensor is cast as ``copy_`` casts (wrapping). Every element gets the same value, so
    an expanded view (several elements at one memory location) can be filled, as in PyTorch. A ``value`` that
    requires grad makes the gradient flow to it (summed over the elements), as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.zeros(3).fill_(2)
    tensor([2., 2., 2.])
    >>> tg.zeros(2, dtype=tg.uint8).fill_(-1)
    tensor([255, 255], dtype=tapegrad.uint8)
    """
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"fill_: only supports a 0-dimension value tensor, but got a tensor with "
                               f"{value._data.ndim} dimensions")
        if value._requires_grad:
            return inplace(input, "fill_", _fill_with_tensor, value)
        with np.errstate(invalid="ignore", over="ignore"):  # PyTorch's copy_ cast: NaN and overflow wrap
            value = value._data.astype(input._data.dtype)[()]
    else:
        value = checked_number(value, input._data)
    data = input._data
    if not data.flags.writeable:
        if isinstance(value, np.generic) and input._base is not None:
            # PyTorch's copy_ (which fill_ with a tensor is) checks the overlap of the written memory
            raise RuntimeError("fill_: unsupported operation: more than one element of the written-to tensor "
                               "refers to a single memory location; clone() the tensor before filling it with a "
                               "tensor value")
        return fill_overlapping(input, value, "fill_")
    if no_record(input):
        data.fill(value)
        bump(input)
        return input
    return inplace(input, "fill_", _filled, value)


def checked_number(value, data):
    """``value`` (a Python number) as PyTorch's fill_ converts it to ``data``'s dtype, or the error it raises."""
    if isinstance(value, np.generic):
        value = value.item()
    dtype = data.dtype
    kind = dtype.kind
    if value.__class__ is float:
        if kind == "f":
            if math.isfinite(value) and abs(value) > _FLOAT_MAX.get(dtype.itemsize, math.inf):
                if dtype.itemsize == 2 and data.size == 1:  # PyTorch's one-element fill of float16 is unchecked
                    return _half(value)
                raise _fill_overflow(value, dtype)
            return value
        if kind == "b":
            return bool(value)
        info = np.iinfo(dtype)
        if not (math.isfinite(value) and info.min <= value <= info.max):
            raise _fill_overflow(value, dtype)
        return int(value)
    if isinstance(value, bool):
        return value
    if not isinstance(value, int):
        if isinstance(value, (numbers.Real, complex)):
            return checked_number(float(value) if isinstance(value, numbers.Real) else value, data)
        raise TypeError(f"fill_: expected a number or a 0-d tensor as the value, got {type(value).__name__}")
    if not -2 ** 63 <= value < 2 ** 64:
        raise OverflowError(f"fill_: value {value} does not fit in 64 bits")
    if kind == "b":
        return bool(value)
    if kind == "f":
        if abs(value) > _FLOAT_MAX.get(dtype.itemsize, math.inf):
            if dtype.itemsize == 2 and data.size == 1:
                return _half(value)
            raise _fill_overflow(value, dtype)
        return value
    info = np.iinfo(dtype)
    top = int(info.max)
    if info.min == 0:  # unsigned: -max..-1 wrap around (c10's overflows lets two's complement through)
        if not -top <= value <= top:
            raise _fill_overflow(value, dtype)
        return value % (top + 1)
    if not int(info.min) <= value <= top:
        raise _fill_overflow(value, dtype)
    return value


def _half(value):
    """A number rounded to float16 as C++'s static_cast does (inf beyond 65520), without numpy's warning."""
    with np.errstate(over="ignore"):
        return np.float16(value)


_FLOAT_MAX = {2: float(np.finfo(np.float16).max), 4: float(np.finfo(np.float32).max)}


def _fill_overflow(value, dtype):
    return RuntimeError(f"fill_: value {value!r} cannot be converted to type {dtype} without overflow")


def fill_overlapping(input, value, name, where=None):
    """fill_/zero_ (and fill_diagonal_, of the elements ``where`` is True) of a view whose elements share memory
    locations (expand, unfold with overlapping windows): every element gets the same value, so PyTorch allows it
    (its fill skips the overlap check). The write goes to the base's positions the view covers (a masked_fill_ of
    the base, which records the write under grad mode)."""
    base = input._base
    if base is None or not base._data.flags.writeable:
        raise RuntimeError(f"{name}: the tensor of shape {tuple(input._data.shape)} is a read-only array that "
                           "shares no writeable memory; clone() it first")
    if base._requires_grad and base._backward is None and _grad_enabled():
        raise RuntimeError(f"{name}: a view of a leaf tensor that requires grad is being used in an in-place "
                           "operation; wrap it in `with tapegrad.no_grad():` or use the out-of-place form")
    mask = np.zeros(base._data.size, dtype=bool)
    at = _inplace.positions(base._data, input._data)
    mask[(at if where is None else at[where]).reshape(-1)] = True
    base.masked_fill_(wrap(mask.reshape(base._data.shape)), value)
    return input


def _grad_enabled():
    from .. import _state

    return _state.grad.enabled


def _fill_with_tensor(input, value):
    out = np.broadcast_to(value._data.astype(input._data.dtype), input._data.shape).copy()
    return record(out, (input, value), _fill_rule, "FillBackward3")


def _fill_rule(xp, need, g, out, input, value):
    return (xp.zeros_like(g) if need[0] else None, g.sum() if need[1] else None)


@op(methods=("zero_",), xp_name=False)
def zero_(input: Tensor) -> Tensor:
    """zero_(): set every element to zero, in place.

    >>> import tapegrad as tg
    >>> tg.ones(2).zero_()
    tensor([0., 0.])
    """
    if not input._data.flags.writeable:
        return fill_overlapping(input, 0, "zero_")
    if no_record(input):
        input._data.fill(0)
        bump(input)
        return input
    return inplace(input, "zero_", _zeroed)


def _zeroed(input):
    return _filled(input, 0, "ZeroBackward0")


@op(methods=("copy_",), xp_name=False)
def copy_(input: Tensor, src, non_blocking: bool = False) -> Tensor:
    """copy_(src): copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor, in place.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 2).copy_(tg.tensor([1, 2]))
    tensor([[1., 2.],
            [1., 2.]])
    """
    if not isinstance(src, Tensor):
        src = wrap(np.asarray(src))
    if no_record(input, src):
        data = input._data
        if data.flags.writeable:
            if partial_overlap(data, src._data):
                raise overlap_error("copy_")
            if src._data.ndim > data.ndim:  # numpy would drop a source's leading 1s; PyTorch's expand refuses
                raise _copy_error(src, input)
            try:
                np.copyto(data, src._data, casting="unsafe")  # broadcasts src to data's shape (only that way)
            except ValueError:
                raise _copy_error(src, input) from None
            bump(input)
            return input
        if data.size and _inplace.same_layout(data, src._data):  # e.copy_(e) of an expanded e: PyTorch's copy_
            bump(input)  # returns before its overlap check
            return input
    return inplace(input, "copy_", _copy_into, src, _cast_ok=True)


def _copy_error(src, dst):
    return RuntimeError(f"copy_: cannot broadcast a source of shape {tuple(src.shape)} to the destination "
                        f"shape {tuple(dst.shape)}")


def _copy_into(dst, src):
    """The value ``copy_`` writes: ``src`` broadcast to ``dst``'s shape and cast to its dtype."""
    try:
        data = np.broadcast_to(src._data, dst._data.shape)
    except ValueError:
        raise _copy_error(src, dst) from None
    return record(data.astype(dst._data.dtype), (dst, src), _copy_rule, "torch::autograd::CopyBackwards")


def _copy_rule(xp, need, g, out, dst, src):
    return (xp.zeros_like(g) if need[0] else None, g if need[1] else None)
