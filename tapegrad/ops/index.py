"""Indexing: ``x[...]``, ``x[...] = v``, the gather/scatter family and masked ops.

Every gradient here is a scatter-add of the gradient into zeros of the input's shape, ``xp.add_at``: on arrays
(first order) numpy's fast ``scatter_add_array``, on tensors (``create_graph``) the differentiable ``add_at``
below, whose own gradient is indexing again, so indexing has gradients of every order.
"""

from __future__ import annotations

import math
import numbers
import operator
import re

import numpy as np

from .. import _state
from ..autograd import inplace as _views
from ..autograd.declare import Tensor, named, op, record
from ..autograd.declare import bump as _bump
from ..autograd.declare import check_dim as _check_dim
from ..autograd.declare import inplace as _inplace
from ..autograd.declare import overlap as _overlap
from ..autograd.declare import overlap_error as _overlap_error
from ..autograd.declare import wrap as _wrap

__all__ = ["add_at", "gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
           "masked_select", "take_along_dim", "take", "nonzero", "argwhere", "index_put", "index_fill", "index_copy"]

_FULL = slice(None)
_grad = _state.grad


def _records(*tensors):
    """Whether an op of these operands is recorded: grad mode is on and one of them requires grad."""
    return _grad.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in tensors)


_FLOAT_MAX = {2: float(np.finfo(np.float16).max), 4: float(np.finfo(np.float32).max)}


def _scalar(op, value, dtype, half=True):
    """A Python number as PyTorch converts it to a tensor's dtype (c10's checked conversion): bools take any
    value; an integer type takes integers in its range (an unsigned one also -max..-1, wrapping) and floats
    whose integer part fits; float32 (and float16, unless ``half`` is False, as setitem) refuses finite values
    beyond its range. Anything else is an error naming the op, the value and the dtype."""
    if value.__class__ is float and dtype.kind == "f":  # the common case, quickly
        size = dtype.itemsize
        if size == 8 or size == 2 and not half or -_FLOAT_MAX[size] <= value <= _FLOAT_MAX[size]:
            return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        value = int(value)
    kind = dtype.kind
    if kind == "b" and isinstance(value, numbers.Real):
        return bool(value)
    ok = isinstance(value, numbers.Real)
    if ok and kind == "f":
        big = isinstance(value, int) and not -2 ** 63 <= value < 2 ** 63
        ok = not big and (dtype.itemsize == 8 or dtype.itemsize == 2 and not half or not math.isfinite(value)
                          or abs(value) <= _FLOAT_MAX[dtype.itemsize])
    elif ok:
        info = np.iinfo(dtype)
        if isinstance(value, float):
            ok = math.isfinite(value) and info.min <= value <= info.max
            value = int(value) if ok else value
        else:
            ok = (info.min <= value <= info.max if info.min else -info.max <= value <= info.max)
            value = value % (info.max + 1) if ok and value < 0 and not info.min else value
    if not ok:
        raise RuntimeError(f"{op}: value {value!r} cannot be converted to {dtype} without overflow")
    return value


from ..autograd.scatter import add_into, reduce_at_wide, scatter_add_array, scatter_add_wide  # noqa: E402,F401


def _add_at_rule(shape, index):
    """The rule of ``x[index]`` and its kin: the gradient scattered (summed) into zeros of x's shape."""

    def rule(xp, g, out, x):
        return xp.add_at(shape, index, g)

    return rule


@op(methods=())
def add_at(shape, index, values: Tensor) -> Tensor:
    """add_at(shape, index, values): zeros of ``shape`` plus ``values`` at ``index`` (repeats accumulate).

    ``index`` is read as ``x[index]`` reads it, and ``values`` broadcast to the shape of ``x[index]``: this is
    the adjoint of indexing, the functional scatter-add its gradient uses (PyTorch's
    ``zeros(shape).index_put_(index, values, accumulate=True)``, node ``IndexPutBackward0``). Differentiable
    in ``values`` (its gradient is ``grad[index]``), so gradients of indexing can be differentiated again.

    >>> import tapegrad as tg
    >>> tg.add_at((3,), tg.tensor([0, 0, 2]), tg.tensor([1.0, 2.0, 3.0]))
    tensor([3., 0., 3.])
    """
    shape = tuple(shape)
    basic, _, adv, axes = _parse("add_at", index, shape)
    v = values._data
    out = np.zeros(shape, dtype=v.dtype)
    target = out if basic is None else out[basic]
    try:
        if adv is None:
            target[...] += v
        else:
            target[adv]  # numpy checks the index against the shape (add_into's fast paths do not)
            add_into(target, adv, v)
    except (IndexError, ValueError) as e:
        raise _index_error("add_at", shape, index, e, axes) from None

    if basic is None:
        def rule(xp, g, out, v):
            return g[adv]  # the engine sums it back to ``values``' shape if they were broadcast
    elif adv is None:
        def rule(xp, g, out, v):
            return g[basic]
    else:
        def rule(xp, g, out, v):
            return g[basic][adv]

    return record(out, (values,), rule, "IndexPutBackward0")


# ---------------------------------------------------------------------- x[index]: PyTorch's reading of an index
# PyTorch (torch/csrc/autograd/python_variable_indexing.cpp, aten/src/ATen/TensorIndexing.h) applies an index in
# two steps: first every int (select), slice, None (unsqueeze) and Ellipsis, giving a view; then the index
# tensors, masks and lists, all at once, to that view (``index``). So an int is never an "advanced index" the way
# numpy counts them: ``x[0, :, [1, 2]]`` has shape (3, 2) in PyTorch and (2, 3) in numpy. ``_parse`` turns an
# index into the numpy keys of those two steps.

_FULL_SLICE = slice(None)
_TRUE_INDEX = np.zeros(1, dtype=np.int64)   # a bool indexes a new dim of size 1 with [0] (True) or [] (False)
_FALSE_INDEX = np.zeros(0, dtype=np.int64)
_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))


def _parse(op, index, shape):
    """``(basic, name, adv, axes)``: ``x[index]`` is ``x[basic][adv]`` (``basic`` None: no first step, ``adv``
    None: no second), ``name`` the node of the first step (PyTorch's, from the last view op it applies) and
    ``axes`` the input dims of the first step's result, for error messages. When the index has no int or bool,
    numpy places the advanced dims as PyTorch does, and ``adv`` is one numpy key for ``x`` itself."""
    if index.__class__ is tuple:
        parts = index
    elif index.__class__ is list and _sequence_as_tuple(index):
        parts = tuple(index)
    else:
        parts = (index,)
    comps = [_component(op, p) for p in parts]
    ndim = len(shape)
    specified = 0
    for c in comps:
        if c.__class__ is np.ndarray:
            specified += c.ndim if c.dtype.kind == "b" else 1
        elif c is not None and c is not Ellipsis and c.__class__ is not bool:
            specified += 1
    if specified > ndim:
        if ndim == 0 and specified == 1 and comps[0].__class__ is int:
            raise IndexError(f"{op}: invalid index of a 0-dim tensor; use tensor.item() to convert a 0-dim tensor "
                             "to a number")
        raise _index_error(op, shape, comps, IndexError(f"too many indices for tensor of dimension {ndim}"))
    basic, adv, merged, axes = [], [], [], []
    pending = 0  # full slices owed to ``basic`` before its next entry (for Ellipsis and the dims of arrays)
    src = dim = covered = 0  # input dims consumed, dims of the first step's result, dims ``adv`` covers
    name = "AliasBackward0"
    selects = False  # an int or a bool among index arrays: then two steps
    single = index.__class__ is not tuple and len(parts) == 1  # PyTorch's 1-d path: x[:] is a slice
    for c in comps:
        kind = c.__class__
        if kind is np.ndarray:
            m = c.ndim if c.dtype.kind == "b" else 1
            adv.extend([_FULL_SLICE] * (dim - covered))
            adv.append(c)
            merged.append(c)
            axes.extend(range(src, src + m))
            pending += m
            src += m
            dim += m
            covered = dim
            continue
        if kind is bool:
            adv.extend([_FULL_SLICE] * (dim - covered))
            adv.append(_TRUE_INDEX if c else _FALSE_INDEX)
            covered = dim + 1
            selects = True
        if c is Ellipsis:
            n = ndim - specified
            merged.extend([_FULL_SLICE] * n)
            axes.extend(range(src, src + n))
            pending += n
            src += n
            dim += n
            continue
        if pending:
            basic.extend([_FULL_SLICE] * pending)
            pending = 0
        if kind is int:
            if src >= ndim:
                raise _index_error(op, shape, comps, IndexError(f"too many indices for tensor of dimension {ndim}"))
            n = shape[src]
            if not -n <= c < n:
                raise IndexError(f"{op}: index {c} is out of range for dimension {src} of size {n} "
                                 f"{_where(shape, comps)}")
            basic.append(c)
            merged.append(c)
            src += 1
            name = "SelectBackward0"
            selects = True
        elif kind is slice:
            if src >= ndim:
                raise _index_error(op, shape, comps, IndexError(f"too many indices for tensor of dimension {ndim}"))
            basic.append(c)
            merged.append(c)
            axes.append(src)
            if single or not _whole(c, shape[src]):
                name = "SliceBackward0"
            src += 1
            dim += 1
        else:  # None, or a bool: a new dim
            basic.append(None)
            merged.append(None)
            axes.append(None)
            name = "UnsqueezeBackward0"
            dim += 1
    if not adv:
        return tuple(basic) + (Ellipsis,), name, None, None
    if not selects:
        return None, "IndexBackward0", tuple(merged), None
    return tuple(basic) + (Ellipsis,), name, tuple(adv), axes


def _with_new_dims(x: np.ndarray, key: tuple) -> np.ndarray:
    """``x[key]`` for a basic key with None, each new dim with PyTorch's stride: its indexing applies None as
    ``unsqueeze`` after the parts before it, whose stride is the size times the stride of the input dim that comes
    next (one element at the end); numpy gives such a dim the stride 0. The stride of a size-1 dim is never
    stepped, but PyTorch's overlap checks and ``stride()`` compare it."""
    out = x[key]
    strides, src, dim = list(out.strides), 0, 0
    for k in key:
        if k is None:
            strides[dim] = x.shape[src] * x.strides[src] if src < x.ndim else x.itemsize
            dim += 1
        elif k.__class__ is int:
            src += 1
        elif k is not Ellipsis:  # a slice (Ellipsis only ends the key: _parse spells the dims it spans)
            src += 1
            dim += 1
    if tuple(strides) == out.strides:
        return out
    root = out
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        return np.lib.stride_tricks.as_strided(out, out.shape, strides, writeable=out.flags.writeable)
    start = out.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    view = np.ndarray(out.shape, out.dtype, buffer=root, offset=start, strides=tuple(strides))  # root is its base
    if not out.flags.writeable:
        view.flags.writeable = False
    return view


def _whole(s, n):
    """Whether the slice ``s`` takes all of a dim of size ``n`` (PyTorch then skips it: no node)."""
    return s.start in (None, 0) and (s.stop is None or s.stop >= n) and s.step in (None, 1)


def _sequence_as_tuple(index):
    """PyTorch's (and old numpy's) rule for a list as the whole index: one holding a tensor, a sequence, a
    slice, None or Ellipsis (and shorter than 32) is a tuple of indices, ``x[[[0, 1], [1, 0]]]`` is
    ``x[[0, 1], [1, 0]]``; any other list is one index."""
    if len(index) >= 32:
        return False
    for p in index:
        if p is None or p is Ellipsis or isinstance(p, (Tensor, np.ndarray, list, tuple, range, slice)):
            return True
    return False


def _component(op, p):
    """One part of an index as PyTorch reads it: an int, a slice, None, Ellipsis, a bool, or an array (int64 or
    int32 indices, or a bool mask)."""
    kind = p.__class__
    if kind is int or p is None or p is Ellipsis or kind is bool:
        return p
    if kind is slice:
        return _slice(op, p)
    if kind is Tensor or isinstance(p, Tensor):
        a = p._data
        if a.dtype not in _INDEX_DTYPES and a.dtype.kind != "b" and a.dtype != np.uint8:
            if a.ndim == 0 and a.dtype.kind in "iu":  # PyTorch reads a 0-d integer tensor of any dtype as an int
                a = a.astype(np.int64)
            else:
                raise IndexError(f"{op}: tensors used as indices must be long, int or bool, got dtype {a.dtype}")
    elif kind is np.ndarray:
        a = p
        if a.dtype.kind not in "biu":
            raise IndexError(f"{op}: tensors used as indices must be long, int or bool, got dtype {a.dtype}")
    elif kind is range:
        return np.arange(p.start, p.stop, p.step, dtype=np.int64)
    elif kind is list or kind is tuple:
        return _sequence(op, p)
    elif isinstance(p, np.bool_):
        return bool(p)
    elif isinstance(p, numbers.Integral):
        return operator.index(p)
    else:
        what = "float " + repr(p) if isinstance(p, numbers.Real) else type(p).__name__
        raise IndexError(f"{op}: only integers, slices, None, Ellipsis, and integer or boolean tensors are valid "
                         f"indices, got {what}")
    if a.dtype.kind == "b" or a.dtype == np.uint8:  # PyTorch reads byte tensors as masks
        if a.ndim == 0:
            return bool(a)
        return a if a.dtype.kind == "b" else a != 0
    if a.ndim == 0:
        return int(a)  # as PyTorch: a 0-d integer tensor indexes like an int (a view, not a copy)
    return a


def _slice(op, s):
    start, stop, step = s.start, s.stop, s.step
    if (start is None or start.__class__ is int) and (stop is None or stop.__class__ is int) and (
            step is None or step.__class__ is int and step > 0):
        return s
    if step is not None:
        step = operator.index(step)
        if step <= 0:
            raise ValueError(f"{op}: slice step must be greater than zero, got {step} (use flip() to reverse)")
    if start.__class__ is not int and start is not None:
        start = operator.index(start)
    if stop.__class__ is not int and stop is not None:
        stop = operator.index(stop)
    return slice(start, stop, step)


def _sequence(op, p):
    """A list inside an index: an index tensor (of bools: a mask), as PyTorch converts it."""
    try:
        a = np.asarray(p)
        if a.dtype == object:  # tensors inside
            a = np.asarray([q._data if isinstance(q, Tensor) else q for q in p])
    except ValueError:
        raise IndexError(f"{op}: a list used as an index must be rectangular, got {p!r}") from None
    if a.size == 0:
        return a.astype(np.int64).reshape(a.shape)
    if a.dtype.kind not in "biu":
        raise IndexError(f"{op}: tensors used as indices must be long, int or bool, got dtype {a.dtype} "
                         f"(from the list {p!r})")
    return a


def _describe(parts):
    def one(p):
        if isinstance(p, Tensor):
            p = p._data
        elif isinstance(p, (list, range)):
            p = np.asarray(p if isinstance(p, range) else [q._data if isinstance(q, Tensor) else q for q in p])
        if isinstance(p, np.ndarray) and p.ndim:
            return f"{'mask' if p.dtype.kind == 'b' else 'tensor'} of shape {tuple(p.shape)}"
        if type(p) is slice:
            return ":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step)).rstrip(":") or ":"
        return "..." if p is Ellipsis else repr(p)

    return "[" + ", ".join(one(p) for p in parts) + "]"


def _where(shape, parts):
    return f"(tensor of shape {tuple(shape)}, index {_describe(parts)})"


_OUT_OF_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")


def _index_error(op, shape, index, e, axes=None):
    """An error of numpy's indexing in PyTorch's terms; ``axes`` maps the dims of a first step's result (two-step
    indexing) to the input's dims."""
    parts = index if type(index) in (tuple, list) else (index,)
    where = _where(shape, parts)
    m = _OUT_OF_BOUNDS.search(str(e))
    if m:
        axis = int(m[2]) if axes is None or axes[int(m[2])] is None else axes[int(m[2])]
        return IndexError(f"{op}: index {m[1]} is out of range for dimension {axis} of size {m[3]} {where}")
    if isinstance(e, TypeError):
        return TypeError(f"{op}: invalid index {where}: {e}")
    return IndexError(f"{op}: invalid index {where}: {e}")


@op(methods=("__getitem__",))
def getitem(input: Tensor, index) -> Tensor:
    """x[index]: ints, slices (step > 0), None, Ellipsis, integer tensors, lists or ranges, and boolean masks,
    read as PyTorch reads them. Basic indexing gives a view; ints are applied first (as ``select``), so the
    dims of index tensors go where PyTorch puts them (``x[0, :, [1, 2]]`` has shape (3, 2), not numpy's
    (2, 3)). Gradients of repeated indices add up (scatter-add).

    >>> import tapegrad as tg
    >>> x = tg.arange(6.0).reshape(2, 3)
    >>> x[1, ::2], x[:, [0, 0]].shape
    (tensor([3., 5.]), tapegrad.Size([2, 2]))
    >>> tg.zeros(2, 3, 4)[0, :, [1, 2]].shape
    tapegrad.Size([3, 2])
    """
    x = input._data
    kind = index.__class__
    if kind is Tensor:  # x[idx]: the hot path (embeddings, batches)
        a = index._data
        if a.ndim and a.dtype in _INDEX_DTYPES:
            try:
                out = x[a]
            except IndexError as e:
                raise _index_error("getitem", x.shape, (a,), e) from None
            return record(out, (input,), _add_at_rule(x.shape, a), "IndexBackward0")
    elif kind is int and x.ndim:
        n = x.shape[0]
        if -n <= index < n:
            return record(x[index, ...], (input,), _add_at_rule(x.shape, (index, Ellipsis)), "SelectBackward0")
    elif kind is tuple:
        basic = _basic_tuple(index, x.shape)
        if basic is not None:
            return record(x[basic[0]], (input,), _add_at_rule(x.shape, basic[0]), basic[1])
    shape = x.shape
    contiguous = x.flags.c_contiguous
    basic, name, adv, axes = _parse("getitem", index, shape)
    if basic is not None:
        out = _with_new_dims(x, basic) if any(k is None for k in basic) else x[basic]
        if adv is None:
            return record(out, (input,), _add_at_rule(x.shape, basic), name)
        input = record(out, (input,), _add_at_rule(x.shape, basic), name)
        x = out
    try:
        out = x[adv]
    except (IndexError, ValueError) as e:
        raise _index_error("getitem", shape, index, e, axes) from None
    if contiguous and not out.flags.c_contiguous:
        # numpy lays the index dims out first (``x[:, [0, 2]]`` is transposed in memory); PyTorch's index of a
        # contiguous tensor is contiguous, so that ``view`` takes it
        out = np.ascontiguousarray(out)
    elif 1 in out.shape and out.flags.c_contiguous:
        out = out.reshape(-1).reshape(out.shape)  # a size-1 dim's stride as a contiguous tensor's (numpy's may be 1)
    return record(out, (input,), _add_at_rule(x.shape, adv), "IndexBackward0")


def _basic_tuple(index, shape):
    """``(key, name)`` for a tuple of ints and slices (positive steps) that fits ``shape``, the common basic
    index, which numpy and PyTorch read alike (``key`` ends with Ellipsis, so that ints give 0-d views); else
    None (``_parse`` then reads it)."""
    if len(index) > len(shape):
        return None
    name = "AliasBackward0"
    for p, n in zip(index, shape):
        kind = p.__class__
        if kind is int:
            if not -n <= p < n:
                return None
            name = "SelectBackward0"
        elif kind is slice:
            start, stop, step = p.start, p.stop, p.step
            if (start is not None and start.__class__ is not int or stop is not None and stop.__class__ is not int
                    or step is not None and (step.__class__ is not int or step <= 0)):
                return None
            if not ((start is None or start == 0) and (stop is None or stop >= n) and (step is None or step == 1)):
                name = "SliceBackward0"  # PyTorch skips a slice that takes a whole dim
        else:
            return None
    return index + (Ellipsis,), name


def _byte_mask_fill(index) -> bool:
    """Whether PyTorch's setitem fills a one-element value through ``index`` with masked_fill_, which refuses a
    uint8 mask: the index's only advanced part is a uint8 tensor (``x[m] = 5``, ``y[m, 1] = 5``; not
    ``y[m, [0]] = 5``, ``y[m, range(1)] = 5`` or ``y[m, False] = 5``, which index_put_ takes: PyTorch's indexing
    turns a sequence (list, tuple, range) and a Python bool into index tensors, torch/csrc/autograd/
    python_variable_indexing.cpp)."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) == 1 and isinstance(parts[0], list) and len(parts[0]) == 1:  # x[[m]] is x[m]
        parts = (parts[0][0],)
    advanced = [p for p in parts if isinstance(p, (Tensor, list, np.ndarray, range, tuple, bool, np.bool_))
                and not (isinstance(p, Tensor) and p._data.ndim == 0 and p._data.dtype.kind in "iu"
                         and p._data.dtype != np.uint8)]  # a 0-d integer tensor selects, as an int (applySlicing)
    return len(advanced) == 1 and isinstance(advanced[0], Tensor) and advanced[0]._data.dtype == np.uint8 \
        and advanced[0]._data.ndim > 0  # (a 0-d uint8 becomes an int64 index, as a bool does)


@op(methods=("__setitem__",), xp_name=False)
def setitem(self: Tensor, index, value) -> None:
    """x[index] = value: write ``value`` (a tensor, or a number in x's dtype) into x's elements at ``index``,
    in place, as PyTorch does: a basic index (ints, slices, None, Ellipsis) copies ``value`` into that view of x
    (broadcast, cast to x's dtype); an index with index tensors, lists or masks puts ``value`` (broadcast to
    the shape of ``x[index]``) there, and then a tensor value must have x's dtype (as PyTorch's index_put_,
    except one element under one mask).

    Under ``no_grad``, or when nothing requires grad, the values are written into x's memory (views see them).
    With grad mode on and a value that requires grad, x becomes a node of the graph (``IndexPutBackward0``, or
    through a view PyTorch's ``CopySlices``); a leaf that requires grad can't be written to outside ``no_grad``.

    >>> import tapegrad as tg
    >>> x = tg.zeros(2, 3)
    >>> x[:, 1] = 5
    >>> x
    tensor([[0., 5., 0.],
            [0., 5., 0.]])
    """
    x = self._data
    number = value.__class__ in (float, int, bool) and x.dtype.itemsize != 2
    value = _scalar("setitem", value, x.dtype) if number else _setitem_value("setitem", value, x.dtype)
    kind = index.__class__
    if kind is Tensor and index._data.ndim and index._data.dtype in _INDEX_DTYPES:  # the common cases, quickly
        basic, name, adv, axes = None, None, (index._data,), None
    elif kind is int and x.ndim and -x.shape[0] <= index < x.shape[0]:
        basic, name, adv, axes = (index, Ellipsis), "SelectBackward0", None, None
    elif kind is tuple and (key := _basic_tuple(index, x.shape)) is not None:
        basic, name, adv, axes = key[0], key[1], None, None
    elif kind is bool or index is None:  # a single bool or None: a new dim of size 1 (False: nothing)
        if index is False:
            return
        basic, name, adv, axes = (None, Ellipsis), "UnsqueezeBackward0", None, None
    else:
        basic, name, adv, axes = _parse("setitem", index, x.shape)
    if adv is not None and (number or np.size(getattr(value, "_data", value)) == 1) and _byte_mask_fill(index):
        # PyTorch fills through a uint8 mask with masked_fill_, which takes bool masks only
        raise RuntimeError(f"setitem: masked_fill_ only supports boolean masks, but got mask with dtype uint8 (a "
                           f"number or 0-d value written into a tensor of shape {tuple(x.shape)}; use a bool mask)")
    target = x if basic is None else _with_new_dims(x, basic) if any(k is None for k in basic) else x[basic]
    if number:  # a Python number, converted: nothing to check
        v = value
        if _records(self) and x.dtype.kind == "f":
            value = np.array(value, dtype=x.dtype)
    elif adv is None:
        tensor = value.__class__ is not np.ndarray  # numpy arrays are cast, not checked
        v = value._data if tensor else value
        if v.ndim:
            v = v.reshape(_strip_ones(v.shape))
        if tensor and v.shape != target.shape and v.size and target.size:
            try:  # PyTorch compares the value expanded to the view's shape
                v = np.broadcast_to(v, target.shape)
            except ValueError as e:
                raise _setitem_error(x, index, target, v, ValueError(f"could not broadcast: {e}"), axes) from None
        if tensor and v.size and target.size and np.may_share_memory(target, v) and _copy_overlap(target, value._data):
            raise _overlap_error("setitem")
    else:
        v = _put_value("setitem", x, adv, value)
        if value.__class__ is not np.ndarray and (value is self or np.may_share_memory(target, v)):
            if _masked_fill_put(adv, v):
                # PyTorch writes one value through a mask with masked_fill_ (the value read first): no overlap
                v = v.copy()
                value = value.detach().clone() if not _records(value) else value.clone()
            elif _overlap(_sliced(target, adv), v, value is self and (not value._data.ndim
                                                                     or value._data.shape[0] != 1)
                          and _same_as_self(index, x.shape)):  # a value with leading 1s is a new view of it
                raise _overlap_error("setitem")
        if v.size == 0 and v.ndim:  # numpy takes any empty value here; PyTorch broadcasts it to the result
            _check_empty_value(target, adv, v)
    if adv is not None and x.dtype.kind != "f" and (
            (index is self or (x.base is not None or index._data.base is not None)  # (two owners never share)
             and np.may_share_memory(x, index._data)) if kind is Tensor else _index_shares(self, index)):
        if not _masked_fill_put(adv, np.asarray(v)):  # an index that is x, or a view of its memory
            _index_overlap("setitem", self, index, _sliced(target, adv))
    if x.dtype.kind != "f" and self._extra is not None and (adv is not None or value.__class__ is Tensor
                                                            and not value._data.ndim and target.ndim):
        # PyTorch's index_put_, or fill_ of a 0-d value into a view of another shape (TensorIndexing.h's copy_to;
        # its copy_, which takes an integer view, for the rest)
        _views.check_multi_output("setitem", self, value)
    if _records(self, value) and x.dtype.kind == "f":  # integer and bool tensors never require grad
        if self._requires_grad and self._backward is None:
            raise RuntimeError("setitem: a leaf tensor that requires grad is being used in an in-place operation; "
                               "wrap it in `with tapegrad.no_grad():` or write into a clone")
        if basic is None or _whole_tensor(basic, x.shape):  # PyTorch skips whole slices: a write into x itself
            dst = self
        else:
            # (name is None only when basic is, on the index-tensor path: not here)
            dst = record(target, (self,), _add_at_rule(x.shape, basic), name)  # type: ignore[arg-type]
        if adv is None:
            _inplace(dst, "setitem", _copy_to, value, _cast_ok=True)
            return
        if dst._data.flags.writeable or not dst._data.size or self._requires_grad:
            _inplace(dst, "setitem", _index_put, adv, value)
        else:  # a value that requires grad into expanded memory: written in index_put_'s order, recorded
            v = _put_value("setitem", x, adv, value)
            kernel = "masked_fill_" if _masked_fill_put(adv, v) else "index_put_"
            _inplace(dst, "setitem", _index_put, adv, value, _overlapping=_views.OverlappingWrite(
                kernel, lambda w, v: w.__setitem__(adv, v), v, value, _ids(value._data.size, v.shape)))
        if dst is self and _sliced_first(index, x.shape):
            # PyTorch's index_put_ went into a view (a part of a dim, a new dim): recorded on x as CopySlices
            named(self, "torch::autograd::CopySlices")
        return
    if not x.flags.writeable:
        w = _views.writable(x) if x.size else None
        if w is None and x.size:
            raise RuntimeError(f"setitem: the tensor of shape {tuple(x.shape)} is a read-only view (from expand "
                               "or diagonal, whose elements share memory); clone() it first")
        if w is None:
            target = np.empty(target.shape, x.dtype)  # an empty view of broadcast memory: nothing to write, but
            # the index and the value are checked as for any tensor (PyTorch writes nothing and raises nothing)
        elif adv is None:  # PyTorch's copy_ into the view (select, slice): refused where its elements share memory
            if not number and v.__class__ is np.ndarray and _views.same_layout(target, v) and (
                    value.__class__ is np.ndarray or value._data.ndim):
                # the value is the view itself (x[None] = x): copy_ returns before its overlap check (a 0-d value
                # is PyTorch's fill_(tensor), which checks first)
                _bump(self)
                return
            if _views.internal_overlap(target):
                raise _views.overlapping_error("setitem", target.shape)
            target = w if basic is None else w[basic]
        else:  # PyTorch's index_put_ (masked_fill_ for one value through a mask) writes, with a deprecation warning
            name = "masked_fill_" if _masked_fill_put(adv, np.asarray(v)) else "index_put_"
            _views.overlapping_write(self, name, lambda w: _put_into(w if basic is None else w[basic], adv, v, x,
                                                                   index, target, axes))
            return
    try:
        if adv is None:
            target[...] = v
        else:
            target[adv] = v
    except (IndexError, ValueError, TypeError) as e:
        # (the target's shape is read only for a shape error: an index out of range must not be read again here)
        raise _setitem_error(x, index, target if adv is None else (lambda: target[adv]), v, e, axes) from None
    _bump(self)


def _sliced_first(index, shape):
    """Whether PyTorch's setitem with index tensors takes a view first (TensorIndexing.h's applySlicing: a slice
    that is not its whole dim, a None or a bool; an int is a view here too), its index_put_ then recorded on the
    tensor as a CopySlices."""
    key = index if index.__class__ is tuple else (index,)
    taken = [0 if k is None or k is Ellipsis or k.__class__ is bool else
             k.ndim if isinstance(k, (Tensor, np.ndarray)) and k.dtype == bool else 1 for k in key]
    dim = 0
    for k, n in zip(key, taken):
        if k is Ellipsis:
            dim += len(shape) - sum(taken)
        elif k is None or k.__class__ is bool:
            return True
        elif k.__class__ is slice and dim < len(shape) and k.indices(shape[dim]) != (0, shape[dim], 1):
            return True
        dim += n
    return False


def _put_into(target, adv, v, x, index, shown, axes):
    try:
        target[adv] = v
    except (IndexError, ValueError, TypeError) as e:
        raise _setitem_error(x, index, lambda: shown[adv], v, e, axes) from None


def _whole_tensor(basic, shape):
    """Whether the basic key ``basic`` (no Ellipsis but its last) takes all of a tensor of ``shape``."""
    for s, n in zip(basic[:-1], shape):
        if s.__class__ is not slice or not _whole(s, n):
            return False
    return len(basic) - 1 <= len(shape)


def _strip_ones(shape):
    """``shape`` without its leading 1s: PyTorch's setitem drops them from the value (``slicePrefix1sSize``)."""
    k = 0
    while k < len(shape) and shape[k] == 1:
        k += 1
    return shape[k:]


def _setitem_value(op, value, dtype):
    """The value of ``x[index] = value``: a tensor as it is, a number as a 0-d array of x's dtype (PyTorch's
    checked conversion), a numpy array cast to x's dtype; anything else is refused."""
    kind = value.__class__
    if kind is float or kind is int or kind is bool:
        value = _scalar(op, value, dtype, half=False)
        if dtype.itemsize != 2:
            return np.array(value, dtype=dtype)
        with np.errstate(over="ignore"):  # float16 takes a value beyond its range as inf (PyTorch's setitem)
            return np.array(value, dtype=dtype)
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    if isinstance(value, (numbers.Number, np.generic)) and not isinstance(value, (str, bytes)):
        with np.errstate(over="ignore"):
            return np.array(_scalar(op, value, dtype, half=False), dtype=dtype)
    raise TypeError(f"{op}: can't assign a {type(value).__name__} to a tensor of dtype {dtype} (expected a tensor "
                    "or a number)")


def _put_value(op, x, key, value):
    """The array index_put writes: ``value`` without its leading 1s; a tensor must have x's dtype (PyTorch's
    "Index put requires the source and destination dtypes match"), except one element under a single mask (then
    PyTorch fills, casting)."""
    v = value if value.__class__ is np.ndarray else value._data
    if v.dtype != x.dtype:
        masks = [p for p in key if p.__class__ is np.ndarray]
        if not (v.size == 1 and len(masks) == 1 and masks[0].dtype.kind == "b"):
            raise RuntimeError(f"{op}: index put requires the source and destination dtypes to match, got "
                               f"{x.dtype} for the destination and {v.dtype} for the source")
        # PyTorch's masked_fill_(mask, value.item()) (canDispatchToMaskedFill in TensorAdvancedIndexingUtils.h):
        # the number is converted with c10's checked conversion (300 into int8, 1e5 into float16 raise)
        _scalar(op, v.item(), x.dtype)
        v = v.astype(x.dtype)
    return v.reshape(_strip_ones(v.shape)) if v.ndim else v


def _setitem_error(x, index, target, value, e, axes, op="setitem"):
    if "could not broadcast" in str(e) or "shape mismatch" in str(e) or "setting an array element" in str(e):
        parts = index if type(index) in (tuple, list) else (index,)
        shape = np.shape(target() if callable(target) else target)
        return RuntimeError(f"{op}: cannot assign a value of shape {tuple(np.shape(value))} to "
                            f"x{_describe(parts)} of shape {tuple(shape)} (tensor of shape {tuple(x.shape)}): {e}")
    return _index_error(op, x.shape, index, e, axes)


def _copy_to(dst, value):
    """What ``x[basic] = value`` writes into the view ``dst``: ``value`` broadcast to its shape, cast to its
    dtype (PyTorch's ``copy_``, or ``fill_`` for a 0-d value)."""
    x = dst._data
    if not isinstance(value, Tensor):
        return record(np.full(x.shape, value, dtype=x.dtype), (dst,), _zeros_rule, "FillBackward3")
    v = value._data
    try:
        out = np.broadcast_to(v.reshape(_strip_ones(v.shape)), x.shape).astype(x.dtype)
    except ValueError:
        raise RuntimeError(f"setitem: cannot assign a value of shape {tuple(v.shape)} to a view of shape "
                           f"{tuple(x.shape)}") from None
    name = "torch::autograd::CopyBackwards" if v.shape == x.shape or v.ndim else "FillBackward3"
    rank = v.ndim

    def rule(xp, need, g, out, dst, value):
        gv = None
        if need[1]:  # the engine sums g to the value's shape; the value's dropped leading 1s come back here
            gv = g if g.ndim >= rank else g.reshape((1,) * (rank - g.ndim) + tuple(g.shape))
        return xp.zeros_like(g) if need[0] else None, gv

    return record(out, (dst, value), rule, name)


def _zeros_rule(xp, g, out, x):
    return xp.zeros_like(g)


def _index_put(input, key, value, accumulate=False, op="setitem"):
    """A copy of ``input`` with ``value`` put (or with ``accumulate``, added) at the advanced index ``key``: the
    recorded form of ``x[key] = value`` (which drops the value's leading 1s) and of ``index_put``."""
    x = input._data
    v = value._data if isinstance(value, Tensor) else value
    if v.dtype != x.dtype:
        v = _put_value(op, x, key, value)
    elif op == "setitem" and v.ndim:
        v = v.reshape(_strip_ones(v.shape))
    out = x.copy()
    try:
        if accumulate or op != "setitem":
            target = out[key]  # numpy checks the index (add_into's fast paths do not)
            if np.broadcast_shapes(v.shape, target.shape) != target.shape:  # no leading 1s dropped here
                raise ValueError(f"shape mismatch: value of shape {v.shape} cannot be broadcast to {target.shape}")
        if accumulate:
            add_into(out, key, np.broadcast_to(v, target.shape))
        else:
            out[key] = v
    except (IndexError, ValueError) as e:
        raise _setitem_error(x, key, lambda: x[key], v, e, None, op) from None
    if out.dtype.kind != "f":
        return _wrap(out)
    written = None
    if not accumulate:
        written = np.zeros(x.shape, dtype=bool)
        written[key] = True
    if not isinstance(value, Tensor):
        def rule(xp, g, out, x):
            return g if written is None else xp.where(written, 0, g)

        return record(out, (input,), rule, "IndexPutBackward0")
    rank = value._data.ndim

    def rule_value(xp, need, g, out, x, v):
        gv = None
        if need[1]:
            gv = g[key]  # the engine sums it to the value's shape; PyTorch's dropped leading 1s come back here
            if gv.ndim < rank:
                gv = gv.reshape((1,) * (rank - gv.ndim) + tuple(gv.shape))
        return (g if written is None else xp.where(written, 0, g)) if need[0] else None, gv

    return record(out, (input, value), rule_value, "IndexPutBackward0")


def _check_empty_value(target, adv, v):
    """PyTorch's check that an (empty) value broadcasts to the indexing result's shape."""
    try:
        res = np.broadcast_to(np.empty((), target.dtype), target.shape)[adv].shape
    except (IndexError, ValueError, TypeError):
        return  # the write itself reports a bad index
    ok = v.ndim <= len(res) and all(a in (1, b) for a, b in zip(v.shape[::-1], res[::-1]))
    if not ok:
        raise RuntimeError(f"setitem: shape mismatch: value tensor of shape {tuple(v.shape)} cannot be broadcast to "
                           f"indexing result of shape {tuple(res)}")


def _one_bool_mask(index):
    """``x[mask]`` or ``x[(mask,)]`` with one bool tensor: PyTorch's setitem of a one-element value is masked_fill_."""
    if isinstance(index, tuple):
        if len(index) != 1:
            return False
        index = index[0]
    return isinstance(index, Tensor) and index._data.dtype == np.bool_


def _copy_overlap(dst, src):
    """Whether PyTorch's ``x[basic] = value`` (``copy_to``: ``dst.copy_(src)`` when the shapes agree; a 0-d value
    fills, read first; else src without its leading 1s, expanded to dst's shape, is copied) meets the partial
    overlap its copy_ refuses. Called only when the two share memory."""
    dst, src = _unsqueezed(dst), _unsqueezed(src)
    if src.shape != dst.shape:
        if not src.ndim:
            return False
        src = src.reshape(_strip_ones(src.shape))
        if src.shape != dst.shape:
            strides, k = [0] * dst.ndim, dst.ndim - src.ndim
            for i in range(dst.ndim - 1, -1, -1):  # PyTorch's expand: a new dim's stride is the next one's extent
                if i >= k and src.shape[i - k] == dst.shape[i]:
                    strides[i] = src.strides[i - k]
                elif i < k and i + 1 < dst.ndim and dst.shape[i] == 1:
                    strides[i] = dst.shape[i + 1] * strides[i + 1]
                if strides[i] == 0 and dst.shape[i] > 1:
                    return False  # a stretched dim: not dense, PyTorch does not check
            src = np.lib.stride_tricks.as_strided(src, dst.shape, strides)
    return _overlap(dst, src) == "partial"


def _unsqueezed(a):
    """``a`` with PyTorch's strides on its new dims of size 1: numpy's ``None`` gives them stride 0, PyTorch's
    unsqueeze the extent of the next dim (1 at the end). (A writeable array: numpy's broadcasts are read-only.)"""
    if not a.flags.writeable or 0 not in a.strides:
        return a
    strides = list(a.strides)
    for i in range(a.ndim - 1, -1, -1):
        if a.shape[i] == 1 and strides[i] == 0:
            strides[i] = a.shape[i + 1] * strides[i + 1] if i + 1 < a.ndim else a.itemsize
    return np.lib.stride_tricks.as_strided(a, a.shape, strides)


def _same_as_self(index, shape):
    """Whether PyTorch's setitem puts into ``x`` itself (the same TensorImpl) with ``index``: its parts other than
    index tensors are Ellipsis and whole slices (start 0, step 1, stop at or past the end, which PyTorch skips);
    any int, None or bool makes a new view. Read only when the value or an index is ``x`` itself."""
    parts = index if index.__class__ is tuple else tuple(index) if (
        index.__class__ is list and _sequence_as_tuple(index)) else (index,)
    comps = []
    for p in parts:
        if p is None or p.__class__ in (int, bool) or isinstance(p, Tensor) and p._data.ndim == 0:
            return False
        comps.append(p if p.__class__ is slice or p is Ellipsis or isinstance(p, Tensor) else _component("", p))
    dims = [(c._data if isinstance(c, Tensor) else c) for c in comps]
    specified = sum((c.ndim if c.dtype.kind == "b" or c.dtype == np.uint8 else 1) if c.__class__ is np.ndarray
                    else int(c is not Ellipsis) for c in dims)
    d = 0
    for c in dims:
        if c is Ellipsis:
            d += len(shape) - specified
        elif c.__class__ is slice:
            try:
                if not (d < len(shape) and _whole(c, shape[d])):
                    return False
            except TypeError:
                return False
            d += 1
        else:
            d += c.ndim if c.dtype.kind == "b" or c.dtype == np.uint8 else 1
    return True


def _masked_fill_put(adv, v):
    """Whether PyTorch's index_put_ of ``v`` at ``adv`` is a masked_fill_ (one element through a single bool or
    uint8 mask and slices): then it reads the value first and checks no overlap."""
    if v.size != 1:
        return False
    arrays = [a for a in adv if a.__class__ is np.ndarray]
    return len(arrays) == 1 and (arrays[0].dtype.kind == "b" or arrays[0].dtype == np.uint8)


def _one_mask(indices):
    """Whether index_put_'s ``indices`` are one bool or uint8 tensor and Nones (PyTorch's masked_fill_ case)."""
    given = [t for t in indices if t is not None] if isinstance(indices, (tuple, list)) else [indices]
    return len(given) == 1 and isinstance(given[0], Tensor) and (given[0]._data.dtype.kind == "b"
                                                                 or given[0]._data.dtype == np.uint8)


def _index_shares(self, index):
    """Whether an index tensor among ``index``'s parts may share memory with ``self`` (numpy's bounds check)."""
    parts = index if index.__class__ is tuple else tuple(index) if index.__class__ is list else (index,)
    x = self._data
    return any(isinstance(p, Tensor) and (p is self or np.may_share_memory(x, p._data)) for p in parts)


def _sliced(target, adv):
    """The view that PyTorch's setitem hands index_put_ (``applySlicing``): ``target`` with the slices and Nones of
    the key ``adv`` applied and its indexed dims whole. Its overlap with the value and the index tensors is what
    index_put_ checks (``x[m, 5:] = x`` writes into an empty view of x: no overlap)."""
    key = []
    for c in adv:
        if c.__class__ is np.ndarray:
            key.extend([_FULL_SLICE] * (c.ndim if c.dtype.kind == "b" else 1))
        else:
            key.append(c)
    return target[tuple(key)]


def _index_overlap(op, self, index, target):
    """PyTorch's index_put_ also refuses an index tensor that overlaps the written tensor (``x[x] = 1`` on an
    integer x). An index (int or bool) shares memory only with an integer or bool tensor: callers ask for those."""
    parts = index if index.__class__ is tuple else tuple(index) if index.__class__ is list else (index,)
    for p in parts:
        if isinstance(p, Tensor) and p._data.ndim and _overlap(target, p._data,
                                                                p is self and _same_as_self(index, self._data.shape)):
            raise _overlap_error(op)


# ---------------------------------------------------------------------- gather / scatter
# PyTorch reads a 0-d input, index or src of these ops as 1-d (``ensure_nonempty_dim``), and an empty index
# writes or reads nothing, so it is not checked (its rank may differ). ``work`` shapes are those 1-d readings.
_NO_INDEX = np.zeros(0, dtype=np.intp)


def _index_tensor(op, index, long_only=False, error=RuntimeError):
    a = index._data if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype != np.int64 and (long_only or a.dtype != np.int32):
        what = "an int64" if long_only else "an integer (int64 or int32)"
        raise error(f"{op}: expected {what} index tensor, got dtype {a.dtype}")
    return a


def _check_range(op, idx, n, d, negative=False):
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if hi >= n or lo < (-n if negative else 0):
            bad = hi if hi >= n else lo
            raise IndexError(f"{op}: index {bad} is out of range for dimension {d} of size {n}")


def _grid(idx, d):
    """The integer-array index that picks ``x[..., idx[i, j, k], ...]`` (``idx`` along dim ``d``)."""
    n = idx.ndim
    return tuple(idx if i == d else np.arange(s).reshape((1,) * i + (s,) + (1,) * (n - i - 1))
                 for i, s in enumerate(idx.shape))


def _check_like(op, x, idx, d, what="input"):
    """``idx`` has x's rank and is no larger than x in any dim but ``d`` (None: in any dim)."""
    if idx.ndim != x.ndim:
        raise RuntimeError(f"{op}: index must have the same number of dimensions as {what}: {what} has shape "
                           f"{tuple(x.shape)}, index has shape {tuple(idx.shape)}")
    for i, (s, t) in enumerate(zip(x.shape, idx.shape, strict=True)):
        if t > s and i != d:
            but = "" if d is None else f" (only dimension {d} may be larger)"
            raise RuntimeError(f"{op}: index of shape {tuple(idx.shape)} is larger than {what} of shape "
                               f"{tuple(x.shape)} at dimension {i}{but}")


def _work(a):
    return a.reshape(1) if a.ndim == 0 else a


@op
def gather(input: Tensor, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """gather(input, dim, index): ``out[i][j][k] = input[index[i][j][k]][j][k]`` (dim 0); shaped like index.

    The index (int64 or int32) has input's number of dims, is no larger than input outside ``dim``, and its
    entries lie in ``[0, input.size(dim))``; an empty index gives an empty result (of its shape) unchecked.

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2], [3, 4]]).gather(1, tg.tensor([[0, 0], [1, 0]]))
    tensor([[1, 1],
            [4, 3]])
    """
    x = input._data
    idx = _index_tensor("gather", index)
    d = _check_dim("gather", dim, x.ndim)
    xs, ix = _work(x), _work(idx)
    if ix.size == 0:
        grid = (_NO_INDEX.reshape(ix.shape),) * xs.ndim
    else:
        _check_like("gather", xs, ix, d)
        _check_range("gather", ix, xs.shape[d], d)
        grid = _grid(ix, d)
    return record(xs[grid].reshape(idx.shape), (input,), _gather_rule(x.shape, xs.shape, grid, ix.shape),
                  "GatherBackward0")


def _gather_rule(shape, work, grid, gshape):
    """The rule of gather (which read ``x`` as shape ``work`` at ``grid``, shaped ``gshape``): PyTorch's
    ``zeros(shape).scatter_add(dim, index, g)``, whose float16 and bfloat16 sums are kept in float32 (as index_add's
    where it is PyTorch's scatter_add_)."""

    def scatter(g):
        return scatter_add_wide(work, grid, g.reshape(gshape)).reshape(shape)

    def rule(xp, g, out, x):
        g_shape = g.shape
        return xp.linear(scatter, lambda a: a.reshape(work)[grid].reshape(g_shape), g, "ScatterAddBackward0")

    return rule


def _reshaped_add_at_rule(shape, work, grid, gshape):
    """``_add_at_rule`` for an op that read ``x`` as shape ``work`` and gave its result as ``g``'s shape."""

    def rule(xp, g, out, x):
        return xp.add_at(work, grid, g.reshape(gshape)).reshape(shape)

    return rule


def _scatter_setup(op, x, dim, index, s):
    """(dim, index) of scatter-like ops, checked; the index's grid into x (None for an empty index) and the block
    of ``src`` it reads."""
    idx = _index_tensor(op, index)
    d = _check_dim(op, dim, x.ndim)
    xs, ix = _work(x), _work(idx)
    if ix.size == 0:
        return d, idx, None, None
    _check_like(op, xs, ix, d, "self")
    if s is not None:
        _check_like(op, _work(s), ix, None, "src")
    _check_range(op, ix, xs.shape[d], d)
    return d, idx, _grid(ix, d), tuple(slice(0, n) for n in ix.shape)


def _src_dtype(op, x, s):
    if s.dtype != x.dtype:
        raise RuntimeError(f"{op}: expected self and src of the same dtype, got {x.dtype} and {s.dtype}")


def _not_implemented(reduce):
    def rule(xp, need, g, out, *inputs):
        raise RuntimeError(f"scatter: the derivative for reduce={reduce!r} is not implemented (as in PyTorch: "
                           "derivative for aten::scatter is not implemented)")

    return rule


@op
def scatter(input: Tensor, dim: int, index, src=None, value=None, *, reduce: str | None = None) -> Tensor:
    """scatter(input, dim, index, src) or scatter(input, dim, index, value): a copy of input with
    ``out[index[i][j]][j] = src[i][j]`` (for dim 0), or the number ``value`` at those places.

    Differentiable in input and src (not in index); where index repeats, one write wins. With
    ``reduce="add"`` or ``"multiply"`` the values are added or multiplied in instead; as in PyTorch that form
    has no derivative (backward through it raises).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).scatter(1, tg.tensor([[2], [0]]), 1.0)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    if not isinstance(src, Tensor):
        if src is not None and value is not None:
            raise TypeError("scatter: pass either src (a tensor) or value (a number), not both")
        value, src = (src if src is not None else value), None
        if value is None:
            raise TypeError("scatter: expected src (a tensor) or value (a number)")
    elif value is not None:
        raise TypeError("scatter: pass either src (a tensor) or value (a number), not both")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    x = input._data
    s = None if src is None else src._data
    if s is not None:
        _src_dtype("scatter", x, s)
    d, idx, grid, block = _scatter_setup("scatter", x, dim, index, s)
    if s is None and grid is not None:  # PyTorch converts the value only to write it
        value = _scalar("scatter", value.item() if isinstance(value, Tensor) else value, x.dtype)
    out = x.copy()
    work = _work(out)
    vals = None if grid is None else np.full(idx.shape or (1,), value, x.dtype) if s is None else _work(s)[block]
    if grid is not None:
        if reduce is None:
            work[grid] = vals
        else:  # vals is None only when grid is
            reduce_at_wide(np.add if reduce == "add" else np.multiply, work, grid, vals)
    inputs = (input,) if s is None else (input, src)
    if reduce is not None:
        return record(out, inputs, _not_implemented(reduce), "torch::autograd::NotImplemented")
    written = np.zeros(x.shape, dtype=bool)
    if grid is not None:
        _work(written)[grid] = True
    if s is None:
        def rule(xp, g, out, x):
            return xp.where(written, 0, g)

        return record(out, inputs, rule, "ScatterBackward1")
    return record(out, inputs, _scatter_src_rule(written, grid, block, x.shape, s.shape, False), "ScatterBackward0")


def _scatter_src_rule(written, grid, block, shape, src_shape, add):
    """The rule of scatter (``written``: the places src overwrote) or scatter_add (``add``) from src."""
    work, src_work = shape or (1,), src_shape or (1,)

    def rule(xp, need, g, out, x, s):
        gx = (g if add else xp.where(written, 0, g)) if need[0] else None
        gs = None
        if need[1]:
            gw = g if g.ndim else g.reshape(work)
            if grid is None:  # an empty index: src reached nothing
                gs = xp.add_at(src_work, (_NO_INDEX,) * len(src_work), gw.reshape(-1)[_NO_INDEX])
            else:
                gs = gw[grid]
                if tuple(gs.shape) != src_work:
                    gs = xp.add_at(src_work, block, gs)
            if src_work != src_shape:
                gs = gs.reshape(src_shape)
        return gx, gs

    return rule


@op
def scatter_add(input: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """scatter_add(input, dim, index, src): a copy of input with ``out[index[i][j]][j] += src[i][j]``
    (for dim 0); repeated indices accumulate.

    >>> import tapegrad as tg
    >>> tg.zeros(3).scatter_add(0, tg.tensor([0, 0, 2]), tg.tensor([1.0, 2.0, 3.0]))
    tensor([3., 0., 3.])
    """
    return scatter_add_in(input, dim, index, src, wide=True)


def scatter_add_in(input, dim, index, src, *, wide):
    """scatter_add, its float16 and bfloat16 sums kept in float32 (PyTorch's scatter kernel: ``wide``) or each
    rounded to the tensor's dtype (its ``index_reduce``, built on this)."""
    x, s = input._data, src._data
    _src_dtype("scatter_add", x, s)
    d, idx, grid, block = _scatter_setup("scatter_add", x, dim, index, s)
    out = x.copy()
    if grid is not None:
        if wide:
            reduce_at_wide(np.add, _work(out), grid, _work(s)[block])
        else:
            add_into(_work(out), grid, _work(s)[block])
    rule = _scatter_src_rule(None, grid, block, x.shape, s.shape, True)
    return record(out, (input, src), rule, "ScatterAddBackward0")


def _vector_index(op, index, n, d):
    idx = _index_tensor(op, index)
    if idx.ndim > 1:
        raise IndexError(f"{op}: index must be a vector (0-d or 1-d), got shape {tuple(idx.shape)}")
    idx = idx.reshape(-1)
    _check_range(op, idx, n, d)
    return idx


@op
def index_select(input: Tensor, dim: int, index) -> Tensor:
    """index_select(input, dim, index): the slices ``index`` (a 0-d or 1-d int64 or int32 tensor) of
    dimension ``dim``.

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2, 3], [4, 5, 6]]).index_select(1, tg.tensor([2, 0]))
    tensor([[3, 1],
            [6, 4]])
    """
    x = input._data
    d = _check_dim("index_select", dim, x.ndim)
    xs = _work(x)
    idx = _vector_index("index_select", index, xs.shape[d], d)
    key = (_FULL,) * d + (idx,)
    if xs is x:
        out = np.take(x, idx, axis=d)
        # the gradient is zeros.index_add_(dim, index, g): scatter_add's float32 sums there (see index_add)
        wide = x.ndim > 1 and d in (0, x.ndim - 1) and idx.dtype == np.int64
        rule = _gather_rule(x.shape, x.shape, key, out.shape) if wide else _add_at_rule(x.shape, key)
        return record(out, (input,), rule, "IndexSelectBackward0")
    if idx.size != 1:
        raise RuntimeError(f"index_select: the index into a 0-d tensor can have only 1 value, got {idx.size}")
    return record(xs[idx].reshape(()), (input,), _reshaped_add_at_rule((), (1,), key, (1,)), "IndexSelectBackward0")


def _alpha(op, alpha, dtype):
    """``alpha`` in ``dtype``'s kind, as PyTorch converts it (c10's checked conversion, ``alpha.to<scalar_t>()``):
    truncated for integer tensors (300 into int8, nan into int32 raise; -1 into uint8 wraps), a bool for bool
    ones; a float tensor refuses a finite alpha beyond its range (1e5 for float16)."""
    if alpha.__class__ is int and alpha == 1 and dtype.kind != "b":
        return alpha
    if not isinstance(alpha, (numbers.Real, np.generic)):
        raise TypeError(f"{op}: alpha must be a number, got {type(alpha).__name__}")
    alpha = _scalar(op, alpha, dtype)
    return bool(alpha) if dtype.kind == "b" else int(alpha) if dtype.kind in "iu" else float(alpha)


@op
def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """index_add(input, dim, index, source, *, alpha=1): a copy of input with ``alpha * source`` added at
    positions ``index`` of dimension ``dim`` (repeated indices accumulate). For an integer input ``alpha`` is
    truncated to an integer first, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.zeros(3).index_add(0, tg.tensor([0, 0]), tg.tensor([1.0, 2.0]))
    tensor([3., 0., 0.])
    """
    x, s = input._data, source._data
    d = _check_dim("index_add", dim, x.ndim)
    xs = _work(x)
    ss = _work(s) if x.ndim == 0 else s  # a 0-d input takes a 0-d source
    idx = _vector_index("index_add", index, xs.shape[d], d)
    want = xs.shape[:d] + idx.shape + xs.shape[d + 1:]
    if ss.shape != want or x.ndim == 0 and s.ndim:
        raise RuntimeError(f"index_add: source of shape {tuple(s.shape)} should have shape {want} (input "
                           f"shape {tuple(x.shape)} with dimension {d} the length of index)")
    if s.dtype != x.dtype:
        raise RuntimeError(f"index_add: input and source must have the same dtype, got {x.dtype} and "
                           f"{s.dtype}")
    alpha = _alpha("index_add", alpha, x.dtype)
    key = (_FULL,) * d + (idx,)
    out = x.copy()
    if alpha == 1 and alpha is not True and x.ndim > 1 and d in (0, x.ndim - 1) and idx.dtype == np.int64:
        reduce_at_wide(np.add, out, key, ss)  # PyTorch's index_add is its scatter_add_ here: float16 sums in float32
    else:
        add_into(_work(out), key, ss if alpha == 1 and alpha is not True else ss * alpha)
    s_shape = s.shape

    def rule(xp, need, g, out, x, s):
        gs = None
        if need[1]:
            gs = (g if g.ndim else g.reshape(1))[key]
            gs = (gs if alpha == 1 else gs * alpha).reshape(s_shape)
        return g if need[0] else None, gs

    return record(out, (input, source), rule, "IndexAddBackward0")


def _put_indices(op, indices, ndim):
    """The indices of ``index_put``: a tuple (or list) of index tensors (int64 or int32, or bool masks)."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}: indices must be a tuple of tensors, got {type(indices).__name__}")
    if not indices:
        raise RuntimeError(f"{op}: expected at least one index tensor, got an empty tuple")
    key = []
    for i, t in enumerate(indices):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a tuple of tensors as indices, got {type(t).__name__} at position {i}")
        a = t._data
        if a.dtype not in _INDEX_DTYPES and a.dtype.kind != "b" and a.dtype != np.uint8:
            raise IndexError(f"{op}: tensors used as indices must be long, int or bool, got dtype {a.dtype}")
        key.append(a != 0 if a.dtype == np.uint8 else a)
    if sum(a.ndim if a.dtype.kind == "b" else 1 for a in key) > ndim:
        raise IndexError(f"{op}: too many indices for tensor of dimension {ndim} (got {len(key)})")
    return tuple(key)


@op(inplace=False)
def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """index_put(input, indices, values, accumulate=False): a copy of input with ``values`` put at
    ``input[indices]`` (``indices`` a tuple of index tensors, one per leading dim, or bool masks), or added there
    (repeats accumulate) with ``accumulate``. ``values`` broadcasts to the shape of ``input[indices]`` and has
    input's dtype (one element under a single mask may have another, as PyTorch's index_put_).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).index_put((tg.tensor([0, 1]), tg.tensor([2, 0])), tg.tensor([1.0, 2.0]))
    tensor([[0., 0., 1.],
            [2., 0., 0.]])
    >>> tg.zeros(3).index_put((tg.tensor([0, 0]),), tg.tensor(1.0), accumulate=True)
    tensor([2., 0., 0.])
    """
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put: values must be a Tensor, got {type(values).__name__}")
    x = input._data
    key = _put_indices("index_put", indices, x.ndim)
    if accumulate and values._data.dtype != x.dtype:
        raise RuntimeError(f"index_put: index put requires the source and destination dtypes to match, got "
                           f"{x.dtype} for the destination and {values._data.dtype} for the source")
    if not accumulate and values._data.size == 1 and _one_bool_mask(tuple(indices)):
        if values._data.ndim:
            values = values.reshape(())  # PyTorch fills one element through one mask with masked_fill_: any shape
    return _index_put(input, key, values, accumulate, "index_put")


def _fill_value(op, x, value):
    """``value`` of index_fill/masked_fill (a number or a 0-d tensor) in x's dtype, checked as PyTorch does."""
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"{op}: only supports a 0-dimensional value tensor, got a tensor of "
                               f"shape {tuple(value.shape)}")
        if x.dtype.kind != "f" and _records(value):
            raise RuntimeError(f"{op}: a value that requires grad can't fill a {x.dtype} tensor (integer and bool "
                               "tensors have no gradient)")
        return _scalar(op, value._data.item(), x.dtype)
    return _scalar(op, value, x.dtype)


@op(inplace=False)
def index_fill(input: Tensor, dim: int, index, value) -> Tensor:
    """index_fill(input, dim, index, value): a copy of input with the slices ``index`` (a 0-d or 1-d int64
    tensor; negative counts from the end) of dimension ``dim`` set to ``value`` (a number or a 0-d tensor, whose
    gradient is the sum of the gradient over those slices).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).index_fill(1, tg.tensor([0, 2]), 5.0)
    tensor([[5., 0., 5.],
            [5., 0., 5.]])
    """
    x = input._data
    d = _check_dim("index_fill", dim, x.ndim)
    idx = _index_tensor("index_fill", index, long_only=True, error=IndexError)
    if idx.ndim > 1:
        raise RuntimeError(f"index_fill: index has to be a vector or a scalar, got shape {tuple(idx.shape)}")
    xs = _work(x)
    idx = idx.reshape(-1)
    _check_range("index_fill", idx, xs.shape[d], d, negative=True)
    v = _fill_value("index_fill", x, value)
    out = x.copy()
    key = (_FULL,) * d + (idx,)
    _work(out)[key] = v
    if x.dtype.kind != "f":
        return _wrap(out)
    filled = np.zeros(xs.shape, dtype=bool)
    filled[key] = True
    filled = filled.reshape(x.shape)
    if isinstance(value, Tensor):
        def rule_value(xp, need, g, out, x, v):  # the engine sums the value's share to 0-d
            return xp.where(filled, 0, g) if need[0] else None, xp.where(filled, g, 0) if need[1] else None

        return record(out, (input, value), rule_value, "IndexFillBackward1")

    def rule(xp, g, out, x):
        return xp.where(filled, 0, g)

    return record(out, (input,), rule, "IndexFillBackward0")


@op(inplace=False)
def index_copy(input: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """index_copy(input, dim, index, source): a copy of input whose slices ``index`` (a 0-d or 1-d int64 tensor)
    of dimension ``dim`` are the slices of ``source`` in order (``source`` has input's shape but
    ``len(index)`` in ``dim``, and input's dtype; where index repeats, one copy wins).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).index_copy(1, tg.tensor([2, 0]), tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[2., 0., 1.],
            [4., 0., 3.]])
    """
    x, s = input._data, source._data
    d = _check_dim("index_copy", dim, x.ndim)
    idx = _index_tensor("index_copy", index, long_only=True)
    if idx.ndim > 1:
        raise IndexError(f"index_copy: index should have dimension 1 or 0, got shape {tuple(idx.shape)}")
    if s.dtype != x.dtype:
        raise RuntimeError(f"index_copy: self and source must have the same dtype, got {x.dtype} and {s.dtype}")
    idx = idx.reshape(-1)
    xs = _work(x)
    ss = s.reshape(-1) if x.ndim == 0 else _work(s)
    if ss.ndim != xs.ndim:
        raise IndexError(f"index_copy: source and destination must have the same number of dimensions when they "
                         f"are not scalars, got source shape {tuple(s.shape)} and destination shape "
                         f"{tuple(x.shape)}")
    want = xs.shape[:d] + idx.shape + xs.shape[d + 1:]
    if ss.shape != want:
        raise (IndexError if ss.shape[d] != idx.size else RuntimeError)(
            f"index_copy: source of shape {tuple(s.shape)} should have shape {want} (input shape {tuple(x.shape)}"
            f" with dimension {d} the length of index)")
    _check_range("index_copy", idx, xs.shape[d], d)
    out = x.copy()
    key = (_FULL,) * d + (idx,)
    _work(out)[key] = ss
    if x.dtype.kind != "f":
        return _wrap(out)
    copied = np.zeros(xs.shape, dtype=bool)
    copied[key] = True
    copied = copied.reshape(x.shape)
    s_shape = s.shape

    def rule(xp, need, g, out, x, s):
        gs = None
        if need[1]:
            gs = (g if g.ndim else g.reshape(1))[key].reshape(s_shape)
        return xp.where(copied, 0, g) if need[0] else None, gs

    return record(out, (input, source), rule, "IndexCopyBackward0")


# ---------------------------------------------------------------------- masks
def _bool_mask(op, mask):
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype.kind != "b":
        raise RuntimeError(f"{op}: only boolean masks are supported, got a mask of dtype {m.dtype}")
    return m


@op
def masked_fill(input: Tensor, mask, value) -> Tensor:
    """masked_fill(input, mask, value): ``value`` (a number or 0-d tensor) where the boolean ``mask`` is True.

    The mask broadcasts with input. A 0-d value tensor that requires grad gets the sum of the gradient where
    the mask is True. The value is converted to input's dtype as PyTorch converts it (out of range: an error).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 2).masked_fill(tg.tensor([True, False]), -1.0)
    tensor([[-1.,  0.],
            [-1.,  0.]])
    """
    x = input._data
    m = _bool_mask("masked_fill", mask)
    tensor_value = isinstance(value, Tensor)
    if tensor_value:
        if value._data.ndim:
            raise RuntimeError(f"masked_fill: only supports a 0-dimensional value tensor, got a tensor of "
                               f"shape {tuple(value.shape)}")
        if x.dtype.kind != "f" and _records(value):
            raise RuntimeError(f"masked_fill: a value that requires grad can't fill a {x.dtype} tensor (integer "
                               "and bool tensors have no gradient)")
        v = _scalar("masked_fill", value._data.item(), x.dtype)
    else:
        v = _scalar("masked_fill", value, x.dtype)
    try:
        out = np.where(m, np.asarray(v, dtype=x.dtype), x)
    except ValueError:
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(m.shape)} does not broadcast with the "
                           f"input of shape {tuple(x.shape)}") from None
    if x.dtype.kind != "f":
        return _wrap(out)
    # NOTE: where, not g * ~mask, so an inf or nan gradient at a filled place gives 0, not nan (as PyTorch)
    if tensor_value:
        def rule_value(xp, need, g, out, x, v):  # the engine sums the value's share to 0-d
            return xp.where(m, 0, g) if need[0] else None, xp.where(m, g, 0) if need[1] else None

        return record(out, (input, value), rule_value, "MaskedFillBackward1")

    def rule(xp, g, out, x):
        return xp.where(m, 0, g)

    return record(out, (input,), rule, "MaskedFillBackward0")


@op
def masked_select(input: Tensor, mask) -> Tensor:
    """masked_select(input, mask): the 1-d tensor of the elements where the boolean ``mask`` is True (input and
    mask broadcast together).

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2], [3, 4]]).masked_select(tg.tensor([True, False]))
    tensor([1, 3])
    """
    x = input._data
    m = _bool_mask("masked_select", mask)
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: the mask of shape {tuple(m.shape)} does not broadcast with the "
                           f"input of shape {tuple(x.shape)}") from None
    m = np.broadcast_to(m, shape)
    # the engine sums the gradient over broadcast dims back to input's shape
    return record(np.broadcast_to(x, shape)[m], (input,), _add_at_rule(shape, (m,)), "MaskedSelectBackward0")


@op
def take_along_dim(input: Tensor, indices, dim: int | None = None) -> Tensor:
    """take_along_dim(input, indices, dim=None): pick values along ``dim`` at the int64 ``indices`` (broadcast
    with input in the other dims; negative ones count from the end), as ``np.take_along_axis``; without dim,
    from the flattened input (there indices, int64 or int32, must lie in ``[0, numel)``, as PyTorch's gather).

    >>> import tapegrad as tg
    >>> x = tg.tensor([[10, 30, 20], [60, 40, 50]])
    >>> tg.take_along_dim(x, x.argmax(dim=1, keepdim=True), dim=1)
    tensor([[30],
            [60]])
    """
    x = input._data
    idx = _index_tensor("take_along_dim", indices, long_only=dim is not None)
    if dim is None:
        flat = idx.reshape(-1)
        _check_range("take_along_dim", flat, x.size, 0)
        rule = _gather_rule(x.shape, (x.size,), flat, flat.shape)
        return record(x.reshape(-1)[flat], (input,), rule, "GatherBackward0")
    if x.ndim == 0:
        raise IndexError(f"take_along_dim: dim {dim} given, but the input is 0-d (it has no dimensions)")
    d = _check_dim("take_along_dim", dim, x.ndim)
    if idx.ndim != x.ndim:
        raise RuntimeError(f"take_along_dim: input and indices should have the same number of dimensions, "
                           f"got shapes {tuple(x.shape)} and {tuple(idx.shape)}")
    _check_range("take_along_dim", idx, x.shape[d], d, negative=True)
    try:
        common = list(np.broadcast_shapes(x.shape[:d] + (1,) + x.shape[d + 1:],
                                          idx.shape[:d] + (1,) + idx.shape[d + 1:]))
    except ValueError:
        raise RuntimeError(f"take_along_dim: input of shape {tuple(x.shape)} and indices of shape "
                           f"{tuple(idx.shape)} do not broadcast outside dimension {d}") from None
    x_shape = tuple(common[:d] + [x.shape[d]] + common[d + 1:])
    i_shape = tuple(common[:d] + [idx.shape[d]] + common[d + 1:])
    grid = _grid(np.broadcast_to(idx, i_shape), d)
    # the engine sums the gradient over broadcast dims back to input's shape
    return record(np.broadcast_to(x, x_shape)[grid], (input,), _gather_rule(x_shape, x_shape, grid, i_shape),
                  "GatherBackward0")


@op
def take(input: Tensor, index) -> Tensor:
    """take(input, index): elements of the flattened input at the int64 ``index`` (negative counts from the
    end), shaped like index.

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2], [3, 4]]).take(tg.tensor([0, -1]))
    tensor([1, 4])
    """
    x = input._data
    idx = _index_tensor("take", index, long_only=True)
    n = x.size
    if idx.size and n == 0:
        raise IndexError("take: tried to take from an empty tensor")
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        bad = int(idx.max()) if int(idx.max()) >= n else int(idx.min())
        raise IndexError(f"take: index {bad} is out of range for a tensor of {n} elements")
    rule = _reshaped_add_at_rule(x.shape, (n,), idx, idx.shape)
    return record(x.reshape(-1)[idx], (input,), rule, "TakeBackward0")


@op
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """nonzero(input, *, as_tuple=False): the int64 (n, ndim) indices of non-zero elements (or its columns).

    >>> import tapegrad as tg
    >>> tg.tensor([0, 3, 0, 4]).nonzero()
    tensor([[1],
            [3]])
    """
    x = input._data
    if as_tuple:  # PyTorch's nonzero_numpy: nonzero().unbind(1), so the columns are views (detach_ refuses them)
        return _wrap(_nonzero_indices(np.atleast_1d(x))).unbind(1)
    return _wrap(_nonzero_indices(x))


def _nonzero_indices(x):
    """The (n, ndim) int64 indices of ``x``'s non-zero elements laid out as PyTorch's CPU kernel lays them out:
    column by column (strides (1, n)), so that ``view`` accepts and refuses the same shapes (``kron`` too)."""
    if not x.ndim:
        return np.argwhere(x).astype(np.int64)
    return np.stack(np.nonzero(x)).astype(np.int64, copy=False).T


@op
def argwhere(input: Tensor) -> Tensor:
    """argwhere(input): ``nonzero(input)``.

    >>> import tapegrad as tg
    >>> tg.argwhere(tg.tensor([[0, 1], [1, 0]]))
    tensor([[0, 1],
            [1, 0]])
    """
    return _wrap(_nonzero_indices(input._data))


# ---------------------------------------------------------------------- in place
def _no_overlap(op, self, *operands):
    """PyTorch's ``assert_no_overlap(self, t)`` for each tensor operand (source and index alike): refused when it
    is ``self`` itself (even empty) or a dense view of memory that ``self`` (dense) uses."""
    x = self._data
    for t in operands:
        if t.__class__ is tuple or t.__class__ is list:
            _no_overlap(op, self, *t)
        elif isinstance(t, Tensor) and _overlap(x, t._data, t is self):
            raise _overlap_error(op)


@op(xp_name=False)
def masked_fill_(self: Tensor, mask, value) -> Tensor:
    """masked_fill_(mask, value): in-place ``masked_fill`` (the mask must broadcast to this tensor).

    >>> import tapegrad as tg
    >>> tg.zeros(3).masked_fill_(tg.tensor([True, False, True]), 2.0)
    tensor([2., 0., 2.])
    """
    if isinstance(value, Tensor) and value._requires_grad and self._data.dtype.kind != "f":
        _views.check_multi_output("masked_fill_", self, value)
        value = value.detach()  # an integer or bool tensor never requires grad
    if not self._data.flags.writeable and self._data.size and not (self._requires_grad and _grad.enabled):
        plain = not _records(value)  # (expand's memory: written in place, recorded when the value requires grad)
        new = masked_fill(_wrap(self._data), mask, value if plain else _wrap(value._data))._data
        if new.shape == self._data.shape:
            written = np.broadcast_to(_bool_mask("masked_fill_", mask), new.shape)
            if plain:
                return _views.overlapping_write(self, "masked_fill_", lambda w: w.__setitem__(written, new[written]))
            return _inplace(self, "masked_fill_", masked_fill, mask, value, _overlapping=_views.OverlappingWrite(
                "masked_fill_", lambda w, v: w.__setitem__(written, v), new[written], value,
                np.zeros(int(written.sum()), np.int64)))
    return _inplace(self, "masked_fill_", masked_fill, mask, value)


@op(xp_name=False)
def scatter_(self: Tensor, dim: int, index, src=None, value=None, *, reduce: str | None = None) -> Tensor:
    """scatter_(dim, index, src or value): in-place ``scatter``; e.g. one-hot rows.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).scatter_(1, tg.tensor([[2], [0]]), 1.0)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    _no_overlap("scatter_", self, index, src)
    return _inplace(self, "scatter_", scatter, dim, index, src, value, reduce=reduce)


@op(xp_name=False)
def scatter_add_(self: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """scatter_add_(dim, index, src): in-place ``scatter_add``.

    >>> import tapegrad as tg
    >>> tg.zeros(2).scatter_add_(0, tg.tensor([1, 1]), tg.tensor([1.0, 2.0]))
    tensor([0., 3.])
    """
    _no_overlap("scatter_add_", self, index, src)
    return _inplace(self, "scatter_add_", scatter_add, dim, index, src)


@op(xp_name=False)
def index_add_(self: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """index_add_(dim, index, source, *, alpha=1): in-place ``index_add``.

    >>> import tapegrad as tg
    >>> tg.zeros(2).index_add_(0, tg.tensor([0]), tg.tensor([5.0]), alpha=2)
    tensor([10.,  0.])
    """
    _no_overlap("index_add_", self, index, source)
    x = self._data
    if not x.flags.writeable and x.size and not _views.internal_overlap(x) and not (
            self._requires_grad and _grad.enabled) and not _records(source):
        # a view whose windows overlap (unfold): PyTorch adds into the memory one element at a time, each addition
        # reading the location as the earlier ones left it (expand's stride 0 it refuses: internal_overlap)
        index_add(_wrap(x), dim, index, source, alpha=alpha)  # (its checks and errors first)
        d = _check_dim("index_add_", dim, x.ndim)
        key = (_FULL,) * d + (_vector_index("index_add_", index, x.shape[d], d),)
        alpha = _alpha("index_add_", alpha, x.dtype)
        s = source._data if alpha == 1 and alpha is not True else source._data * alpha
        return _views.overlapping_write(self, "index_add_", lambda w: np.add.at(w, key, s.astype(x.dtype)))
    return _inplace(self, "index_add_", index_add, dim, index, source, alpha=alpha)


@op(xp_name=False)
def index_put_(self: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """index_put_(indices, values, accumulate=False): in-place ``index_put``.

    >>> import tapegrad as tg
    >>> tg.zeros(3).index_put_((tg.tensor([2]),), tg.tensor(7.0))
    tensor([0., 0., 7.])
    """
    if accumulate or not (isinstance(values, Tensor) and values._data.size == 1 and _one_mask(indices)):
        _no_overlap("index_put_", self, indices, values)  # (one element through one mask: masked_fill_, unchecked)
    if not self._data.flags.writeable and self._data.size and not (self._requires_grad and _grad.enabled):
        x = self._data  # (expand's memory: written in place, recorded when the values require grad)
        plain = not _records(values)
        if index_put(_wrap(x), indices, values if plain else _wrap(values._data), accumulate)._data.shape == x.shape:
            key = _put_indices("index_put_", indices, x.ndim)  # (index_put's checks and errors came first)
            v = values._data if values._data.dtype == x.dtype else _put_value("index_put_", x, key, values)
            if plain:
                return _views.overlapping_write(self, "index_put_", lambda w: _put_at(w, key, v, accumulate))
            return _inplace(self, "index_put_", index_put, indices, values, accumulate,
                            _overlapping=_views.OverlappingWrite(
                                "index_put_", lambda w, v: _put_at(w, key, v, accumulate), v, values,
                                _ids(values._data.size, v.shape), key if accumulate else None))
    return _inplace(self, "index_put_", index_put, indices, values, accumulate)


def _ids(n, shape):
    """0, 1, ..., n - 1 in ``shape``: which element of a value each element of the array written is."""
    return np.arange(n, dtype=np.int64).reshape(shape)


def _put_at(w, key, v, accumulate):
    """index_put_ into ``w`` element by element in the index's order (the last write to a location stays; with
    ``accumulate`` each addition reads the location as the previous one left it, as PyTorch's CPU kernel)."""
    if not accumulate:
        w[key] = v
        return
    v = np.broadcast_to(v, w[key].shape)
    if not np.may_share_memory(v, w):
        np.add.at(w, key, v)
    elif isinstance(key, tuple) and len(key) == w.ndim and all(k.__class__ is np.ndarray for k in key):
        # the values are the memory written (x.index_put_(..., x) of an expanded x, a meshgrid's outputs): each
        # addition reads its value as the earlier ones left it, as PyTorch's sequential kernel (np.add.at would
        # buffer the aliased operand and write the whole copy back)
        for j, loc in enumerate(zip(*(p.ravel() for p in np.broadcast_arrays(*key)))):
            w[loc] += v.flat[j]
    else:
        np.add.at(w, key, v.copy())


@op(xp_name=False)
def index_fill_(self: Tensor, dim: int, index, value) -> Tensor:
    """index_fill_(dim, index, value): in-place ``index_fill``.

    >>> import tapegrad as tg
    >>> tg.zeros(3).index_fill_(0, tg.tensor([1]), -1.0)
    tensor([ 0., -1.,  0.])
    """
    if isinstance(value, Tensor) and value._requires_grad and self._data.dtype.kind != "f":
        _views.check_multi_output("index_fill_", self, value)
        value = value.detach()  # an integer or bool tensor never requires grad
    _no_overlap("index_fill_", self, index)
    if not self._data.flags.writeable and self._data.size and not (self._requires_grad and _grad.enabled):
        plain = not _records(value)  # (expand's memory: written in place, recorded when the value requires grad)
        new = index_fill(_wrap(self._data), dim, index, value if plain else _wrap(value._data))._data
        written = index_fill(_wrap(np.zeros(new.shape, bool)), dim, index, True)._data
        if plain:
            return _views.overlapping_write(self, "index_fill_", lambda w: w.__setitem__(written, new[written]))
        return _inplace(self, "index_fill_", index_fill, dim, index, value, _overlapping=_views.OverlappingWrite(
            "index_fill_", lambda w, v: w.__setitem__(written, v), new[written], value,
            np.zeros(int(written.sum()), np.int64)))
    return _inplace(self, "index_fill_", index_fill, dim, index, value)


@op(xp_name=False)
def index_copy_(self: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """index_copy_(dim, index, source): in-place ``index_copy``.

    >>> import tapegrad as tg
    >>> tg.zeros(3).index_copy_(0, tg.tensor([2, 0]), tg.tensor([1.0, 2.0]))
    tensor([2., 0., 1.])
    """
    _no_overlap("index_copy_", self, index, source)
    return _inplace(self, "index_copy_", index_copy, dim, index, source)
