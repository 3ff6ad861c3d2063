"""Indexing: ``x[...]``, ``x[...] = v``, the gather/scatter family and masked ops.

Every gradient here is a scatter-add of the gradient into zeros of the input's shape, ``xp.add_at``: on arrays
(first order) numpy's fast ``scatter_add_array``, on tensors (``create_graph``) the differentiable ``add_at``
below, whose own gradient is indexing again, so indexing has gradients of every order.
"""

from __future__ import annotations

import numbers
import re

import numpy as np

from .. import _state
from ..autograd.declare import Tensor, op, record
from ..autograd.declare import bump as _bump
from ..autograd.declare import check_dim as _check_dim
from ..autograd.declare import inplace as _inplace
from ..autograd.declare import wrap as _wrap

__all__ = ["add_at", "gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
           "masked_select", "take_along_dim", "take", "nonzero", "argwhere"]

_FULL = slice(None)
_grad = _state.grad


def _records(*tensors):
    """Whether an op of these operands is recorded: grad mode is on and one of them requires grad."""
    return _grad.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in tensors)


from ..autograd.scatter import add_into, scatter_add_array  # noqa: E402,F401


def _add_at_rule(shape, index):
    """The rule of ``x[index]`` and its kin: the gradient scattered (summed) into zeros of x's shape."""

    def rule(xp, g, out, x):
        return xp.add_at(shape, index, g)

    return rule


@op
def add_at(shape, index, values: Tensor) -> Tensor:
    """add_at(shape, index, values): zeros of ``shape`` plus ``values`` at ``index`` (repeats accumulate).

    The functional scatter-add that indexing's gradient uses; differentiable in ``values`` (its gradient is
    ``grad[index]``), so gradients of indexing can be differentiated again.

    >>> import tapegrad as tg
    >>> tg.add_at((3,), tg.tensor([0, 0, 2]), tg.tensor([1.0, 2.0, 3.0]))
    tensor([3., 0., 3.])
    """
    shape = tuple(shape)
    index = _prepare("add_at", index)
    try:
        np.broadcast_to(np.empty((), dtype=bool), shape)[index]  # numpy checks the index against the shape
        out = scatter_add_array(shape, index, values._data)
    except (IndexError, ValueError) as e:
        raise _index_error("add_at", shape, index, e) from None

    def rule(xp, g, out, v):
        return g[index]  # the engine sums it back to ``values``' shape if they were broadcast

    return record(out, (values,), rule, "IndexPutBackward0")


# ---------------------------------------------------------------------- x[index]
def _prepare(op, index):
    """Tensors and lists inside an index become numpy arrays; floats, negative steps and bad dtypes raise."""
    if type(index) is tuple:
        return tuple(_component(op, p) for p in index)
    return _component(op, index)


def _component(op, p):
    if p is None or p is Ellipsis or type(p) is int:
        return p
    if type(p) is slice:
        if p.step is not None and int(p.step) <= 0:
            raise ValueError(f"{op}: slice step must be greater than zero, got {p.step} "
                             "(use flip() to reverse)")
        return p
    if isinstance(p, Tensor):
        a = p._data
    elif isinstance(p, np.ndarray):
        a = p
    elif isinstance(p, (bool, np.bool_)):
        return p
    elif isinstance(p, numbers.Integral):
        return int(p)
    elif isinstance(p, (list, tuple)):
        a = np.asarray(p)
        if a.size == 0:
            a = a.astype(np.int64)
    else:
        kind = "float " + repr(p) if isinstance(p, numbers.Real) else type(p).__name__
        raise IndexError(f"{op}: only integers, slices, None, Ellipsis, and integer or boolean tensors are "
                         f"valid indices, got {kind}")
    if a.dtype == np.uint8:
        return a.astype(bool)  # PyTorch reads byte tensors as masks
    if a.dtype.kind not in "biu":
        raise IndexError(f"{op}: tensors used as indices must be long, int or bool, got dtype {a.dtype}")
    if a.ndim == 0 and a.dtype.kind != "b":
        return int(a)  # as PyTorch: a 0-d integer tensor indexes like an int (a view, not a copy)
    return a


def _describe(index):
    parts = index if type(index) is tuple else (index,)

    def one(p):
        if isinstance(p, np.ndarray):
            return f"{'mask' if p.dtype.kind == 'b' else 'tensor'} of shape {tuple(p.shape)}"
        if type(p) is slice:
            return ":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step)).rstrip(":") or ":"
        return "..." if p is Ellipsis else repr(p)

    return "[" + ", ".join(one(p) for p in parts) + "]"


_OUT_OF_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")


def _index_error(op, shape, index, e):
    where = f"(tensor of shape {tuple(shape)}, index {_describe(index)})"
    m = _OUT_OF_BOUNDS.search(str(e))
    if m:
        return IndexError(f"{op}: index {m[1]} is out of range for dimension {m[2]} of size {m[3]} {where}")
    if isinstance(e, TypeError):
        return TypeError(f"{op}: invalid index {where}: {e}")
    return IndexError(f"{op}: invalid index {where}: {e}")


@op(methods=("__getitem__",))
def getitem(input: Tensor, index) -> Tensor:
    """x[index]: ints, slices (step > 0), None, Ellipsis, integer tensors or lists, boolean masks, combined as
    in numpy. Basic indexing gives a view. Gradients of repeated integer indices add up (scatter-add).

    >>> import tapegrad as tg
    >>> x = tg.arange(6.0).reshape(2, 3)
    >>> x[1, ::2], x[:, [0, 0]].shape
    (tensor([3., 5.]), tapegrad.Size([2, 2]))
    """
    x = input._data
    if type(index) is not int:
        index = _prepare("getitem", index)
    try:
        out = x[index]
    except (IndexError, ValueError, TypeError) as e:
        raise _index_error("getitem", x.shape, index, e) from None
    if type(out) is not np.ndarray:  # all ints: numpy gives a scalar; ask for the 0-d view PyTorch gives
        out = x[(index if type(index) is tuple else (index,)) + (Ellipsis,)]
    return record(out, (input,), _add_at_rule(x.shape, index), _view_name(index, out.base is not None))


def _view_name(index, view):
    """PyTorch's node for ``x[index]``: IndexBackward0 (advanced indexing), else the last view op applied."""
    if not view:
        return "IndexBackward0"
    parts = index if type(index) is tuple else (index,)
    for p in reversed(parts):
        if type(p) is int:
            return "SelectBackward0"
        if p is None:
            return "UnsqueezeBackward0"
        if type(p) is slice and (type(index) is not tuple or p != _FULL):
            return "SliceBackward0"
    return "AliasBackward0"


@op(methods=("__setitem__",), xp_name=False)
def setitem(self: Tensor, index, value) -> None:
    """x[index] = value: write ``value`` (broadcast, cast to x's dtype) in place.

    Under ``no_grad``, or when nothing requires grad, the values are written into x's memory (views see them).
    With grad mode on and a value that requires grad, x becomes a node of the graph (as PyTorch's CopySlices);
    a leaf that requires grad can't be written to outside ``no_grad``.

    >>> import tapegrad as tg
    >>> x = tg.zeros(2, 3)
    >>> x[:, 1] = 5
    >>> x
    tensor([[0., 5., 0.],
            [0., 5., 0.]])
    """
    index = _prepare("setitem", index)
    if _records(self, value):
        _inplace(self, "setitem", _index_put, index, value)
        return
    x = self._data
    if not x.flags.writeable:
        raise RuntimeError(f"setitem: the tensor of shape {tuple(x.shape)} is a read-only view (from expand "
                           "or diagonal, whose elements share memory); clone() it first")
    try:
        x[index] = value._data if isinstance(value, Tensor) else value
    except (IndexError, ValueError, TypeError) as e:
        raise _setitem_error(x, index, value, e) from None
    _bump(self)


def _setitem_error(x, index, value, e):
    if "could not broadcast" in str(e) or "shape mismatch" in str(e):
        return RuntimeError(f"setitem: cannot assign a value of shape {tuple(np.shape(value))} to "
                            f"x{_describe(index)} of shape {tuple(np.shape(x[index]))} (tensor of shape "
                            f"{tuple(x.shape)}): {e}")
    return _index_error("setitem", x.shape, index, e)


def _index_put(input, index, value):
    """A copy of ``input`` with ``value`` written at ``index``: the recorded form of ``x[index] = value``."""
    x = input._data
    if not isinstance(value, Tensor):
        value = _wrap(np.asarray(value, dtype=x.dtype))
    out = x.copy()
    try:
        out[index] = value._data
    except (IndexError, ValueError, TypeError) as e:
        raise _setitem_error(x, index, value._data, e) from None
    if out.dtype.kind != "f":  # integer and bool tensors never require grad
        return _wrap(out)
    written = np.zeros(x.shape, dtype=bool)
    written[index] = True
    lead = value._data.ndim - out[index].ndim  # numpy lets a value carry extra leading 1s

    def rule(xp, need, g, out, x, v):
        gv = g[index] if need[1] else None
        if lead > 0 and gv is not None:
            gv = gv.reshape((1,) * lead + tuple(gv.shape))
        return xp.where(written, 0, g) if need[0] else None, gv

    return record(out, (input, value), rule, "IndexPutBackward0")


# ---------------------------------------------------------------------- gather / scatter
def _int_index(op, index):
    a = index._data if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer (int64 or int32) index tensor, got dtype {a.dtype}")
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


@op
def gather(input: Tensor, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """gather(input, dim, index): ``out[i][j][k] = input[index[i][j][k]][j][k]`` (dim 0); shaped like index.

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2], [3, 4]]).gather(1, tg.tensor([[0, 0], [1, 0]]))
    tensor([[1, 1],
            [4, 3]])
    """
    x = input._data
    idx = _int_index("gather", index)
    if x.ndim == 0:
        return _reshape(gather(_reshape(input, (1,)), 0, _wrap(idx.reshape(-1))), idx.shape)
    d = _check_dim("gather", dim, x.ndim)
    _check_like("gather", x, idx, d)
    _check_range("gather", idx, x.shape[d], d)
    grid = _grid(idx, d)
    return record(x[grid], (input,), _add_at_rule(x.shape, grid), "GatherBackward0")


def _scatter_args(op, input, dim, index, src):
    x = input._data
    idx = _int_index(op, index)
    d = _check_dim(op, dim, x.ndim)
    _check_like(op, x, idx, d, "self")
    if src is not None:
        s = src._data
        _check_like(op, s, idx, None, "src")
        if s.dtype != x.dtype:
            raise RuntimeError(f"{op}: expected self and src of the same dtype, got {x.dtype} and {s.dtype}")
    _check_range(op, idx, x.shape[d] if x.ndim else 1, d)
    return x, idx, _grid(idx, d)


@op
def scatter(input: Tensor, dim: int, index, src=None, value=None, *, reduce: str | None = None) -> Tensor:
    """scatter(input, dim, index, src) or scatter(input, dim, index, value): a copy of input with
    ``out[index[i][j]][j] = src[i][j]`` (for dim 0), or the number ``value`` at those places.

    Differentiable in input and src (not in index); where index repeats, one write wins.

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
    if reduce is not None:
        return _scatter_reduce(input, dim, index, src, value, reduce)
    x, idx, grid = _scatter_args("scatter", input, dim, index, src)
    out = x.copy()
    written = np.zeros(x.shape, dtype=bool)
    written[grid] = True
    if src is None:
        out[grid] = value

        def rule(xp, g, out, x):
            return xp.where(written, 0, g)

        return record(out, (input,), rule, "ScatterBackward1")
    block = tuple(slice(0, s) for s in idx.shape)
    out[grid] = src._data[block]
    src_shape = src._data.shape

    def rule_src(xp, need, g, out, x, s):
        gs = g[grid] if need[1] else None
        if gs is not None and gs.shape != src_shape:
            gs = xp.add_at(src_shape, block, gs)
        return xp.where(written, 0, g) if need[0] else None, gs

    return record(out, (input, src), rule_src, "ScatterBackward0")


def _scatter_reduce(input, dim, index, src, value, reduce):
    if src is None:
        src = _wrap(np.full(_int_index("scatter", index).shape, value, dtype=input._data.dtype))
    if reduce == "add":
        return scatter_add(input, dim, index, src)
    if reduce != "multiply":
        raise RuntimeError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    if _records(input, src):
        raise RuntimeError("scatter: the derivative for reduce='multiply' is not implemented (as in PyTorch)")
    x, idx, grid = _scatter_args("scatter", input, dim, index, src)
    out = x.copy()
    np.multiply.at(out, grid, src._data[tuple(slice(0, s) for s in idx.shape)])
    return _wrap(out)


@op
def scatter_add(input: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """scatter_add(input, dim, index, src): a copy of input with ``out[index[i][j]][j] += src[i][j]``
    (for dim 0); repeated indices accumulate.

    >>> import tapegrad as tg
    >>> tg.zeros(3).scatter_add(0, tg.tensor([0, 0, 2]), tg.tensor([1.0, 2.0, 3.0]))
    tensor([3., 0., 3.])
    """
    x, idx, grid = _scatter_args("scatter_add", input, dim, index, src)
    block = tuple(slice(0, s) for s in idx.shape)
    out = x.copy()
    add_into(out, grid, src._data[block])
    src_shape = src._data.shape

    def rule(xp, need, g, out, x, s):
        gs = g[grid] if need[1] else None
        if gs is not None and gs.shape != src_shape:
            gs = xp.add_at(src_shape, block, gs)
        return g if need[0] else None, gs

    return record(out, (input, src), rule, "ScatterAddBackward0")


def _vector_index(op, index, n, d):
    idx = _int_index(op, index)
    if idx.ndim > 1:
        raise IndexError(f"{op}: index must be a vector (0-d or 1-d), got shape {tuple(idx.shape)}")
    idx = idx.reshape(-1)
    _check_range(op, idx, n, d)
    return idx


@op
def index_select(input: Tensor, dim: int, index) -> Tensor:
    """index_select(input, dim, index): the slices ``index`` (a 1-d integer tensor) of dimension ``dim``.

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2, 3], [4, 5, 6]]).index_select(1, tg.tensor([2, 0]))
    tensor([[3, 1],
            [6, 4]])
    """
    x = input._data
    d = _check_dim("index_select", dim, x.ndim)
    if x.ndim == 0:
        return _reshape(index_select(_reshape(input, (1,)), 0, index), ())
    idx = _vector_index("index_select", index, x.shape[d], d)
    rule = _add_at_rule(x.shape, (_FULL,) * d + (idx,))
    return record(np.take(x, idx, axis=d), (input,), rule, "IndexSelectBackward0")


@op
def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """index_add(input, dim, index, source, *, alpha=1): a copy of input with ``alpha * source`` added at
    positions ``index`` of dimension ``dim`` (repeated indices accumulate).

    >>> import tapegrad as tg
    >>> tg.zeros(3).index_add(0, tg.tensor([0, 0]), tg.tensor([1.0, 2.0]))
    tensor([3., 0., 0.])
    """
    x, s = input._data, source._data
    if x.ndim == 0:
        return _reshape(index_add(_reshape(input, (1,)), 0, index, _reshape(source, (-1,)), alpha=alpha), ())
    d = _check_dim("index_add", dim, x.ndim)
    idx = _vector_index("index_add", index, x.shape[d], d)
    want = x.shape[:d] + idx.shape + x.shape[d + 1:]
    if s.shape != want:
        raise RuntimeError(f"index_add: source of shape {tuple(s.shape)} should have shape {want} (input "
                           f"shape {tuple(x.shape)} with dimension {d} the length of index)")
    if s.dtype != x.dtype:
        raise RuntimeError(f"index_add: input and source must have the same dtype, got {x.dtype} and "
                           f"{s.dtype}")
    index = (_FULL,) * d + (idx,)
    out = x.copy()
    add_into(out, index, s if alpha == 1 else s * alpha)

    def rule(xp, need, g, out, x, s):
        gs = None if not need[1] else g[index] if alpha == 1 else g[index] * alpha
        return g if need[0] else None, gs

    return record(out, (input, source), rule, "IndexAddBackward0")


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
    the mask is True.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 2).masked_fill(tg.tensor([True, False]), -1.0)
    tensor([[-1.,  0.],
            [-1.,  0.]])
    """
    x = input._data
    m = _bool_mask("masked_fill", mask)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill: only supports a 0-dimensional value tensor, got a tensor of "
                               f"shape {tuple(value.shape)}")
        v = value._data.astype(x.dtype)
    else:
        v = np.asarray(value).astype(x.dtype)
    try:
        out = np.where(m, v, x)
    except ValueError:
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(m.shape)} does not broadcast with the "
                           f"input of shape {tuple(x.shape)}") from None
    if x.dtype.kind != "f":
        return _wrap(out)
    # NOTE: where, not g * ~mask, so an inf or nan gradient at a filled place gives 0, not nan (as PyTorch)
    if isinstance(value, Tensor) and value._data.dtype.kind == "f":

        def rule_value(xp, need, g, out, x, v):  # the engine sums the value's share to 0-d
            return xp.where(m, 0, g) if need[0] else None, xp.where(m, g, 0) if need[1] else None

        return record(out, (input, value), rule_value, "MaskedFillBackward1")

    def rule(xp, g, out, x):
        return xp.where(m, 0, g)

    return record(out, (input,), rule, "MaskedFillBackward0")


@op
def masked_select(input: Tensor, mask) -> Tensor:
    """masked_select(input, mask): the 1-d tensor of the elements where the boolean ``mask`` is True.

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2], [3, 4]]).masked_select(tg.tensor([True, False]))
    tensor([1, 3])
    """
    from . import shape as _shape

    x = input._data
    m = _bool_mask("masked_select", mask)
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: the mask of shape {tuple(m.shape)} does not broadcast with the "
                           f"input of shape {tuple(x.shape)}") from None
    if shape != x.shape:
        input = _shape.expand(input, shape)
    return getitem(input, np.broadcast_to(m, shape))


@op
def take_along_dim(input: Tensor, indices, dim: int | None = None) -> Tensor:
    """take_along_dim(input, indices, dim=None): pick values along ``dim`` at ``indices`` (broadcast with
    input in the other dims), as ``np.take_along_axis``; without dim, from the flattened input.

    >>> import tapegrad as tg
    >>> x = tg.tensor([[10, 30, 20], [60, 40, 50]])
    >>> tg.take_along_dim(x, x.argmax(dim=1, keepdim=True), dim=1)
    tensor([[30],
            [60]])
    """
    x = input._data
    idx = _int_index("take_along_dim", indices)
    if dim is None:
        _check_range("take_along_dim", idx, x.size, 0, negative=True)
        return getitem(_reshape(input, (-1,)), idx.reshape(-1))
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
    grid = _grid(np.broadcast_to(idx, tuple(common[:d] + [idx.shape[d]] + common[d + 1:])), d)

    # the engine sums the gradient over broadcast dims back to input's shape
    return record(np.broadcast_to(x, x_shape)[grid], (input,), _add_at_rule(x_shape, grid), "GatherBackward0")


@op
def take(input: Tensor, index) -> Tensor:
    """take(input, index): elements of the flattened input at ``index`` (negative counts from the end).

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2], [3, 4]]).take(tg.tensor([0, -1]))
    tensor([1, 4])
    """
    idx = _int_index("take", index)
    n = input._data.size
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        bad = int(idx.max()) if int(idx.max()) >= n else int(idx.min())
        raise IndexError(f"take: index {bad} is out of range for a tensor of {n} elements")
    return getitem(_reshape(input, (-1,)), idx)


@op
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """nonzero(input, *, as_tuple=False): the int64 (n, ndim) indices of non-zero elements (or its columns).

    >>> import tapegrad as tg
    >>> tg.tensor([0, 3, 0, 4]).nonzero()
    tensor([[1],
            [3]])
    """
    x = input._data
    if as_tuple:
        return tuple(_wrap(a.astype(np.int64)) for a in np.nonzero(np.atleast_1d(x)))
    return _wrap(np.argwhere(x).astype(np.int64))


@op
def argwhere(input: Tensor) -> Tensor:
    """argwhere(input): ``nonzero(input)``.

    >>> import tapegrad as tg
    >>> tg.argwhere(tg.tensor([[0, 1], [1, 0]]))
    tensor([[0, 1],
            [1, 0]])
    """
    return _wrap(np.argwhere(input._data).astype(np.int64))


def _reshape(input, shape):
    from . import shape as _shape  # shape.py imports this module

    return _shape.reshape(input, shape)


# ---------------------------------------------------------------------- in place
@op(xp_name=False)
def masked_fill_(self: Tensor, mask, value) -> Tensor:
    """masked_fill_(mask, value): in-place ``masked_fill`` (the mask must broadcast to this tensor).

    >>> import tapegrad as tg
    >>> tg.zeros(3).masked_fill_(tg.tensor([True, False, True]), 2.0)
    tensor([2., 0., 2.])
    """
    return _inplace(self, "masked_fill_", masked_fill, mask, value)


@op(xp_name=False)
def scatter_(self: Tensor, dim: int, index, src=None, value=None, *, reduce: str | None = None) -> Tensor:
    """scatter_(dim, index, src or value): in-place ``scatter``; e.g. one-hot rows.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).scatter_(1, tg.tensor([[2], [0]]), 1.0)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    return _inplace(self, "scatter_", scatter, dim, index, src, value, reduce=reduce)


@op(xp_name=False)
def scatter_add_(self: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """scatter_add_(dim, index, src): in-place ``scatter_add``.

    >>> import tapegrad as tg
    >>> tg.zeros(2).scatter_add_(0, tg.tensor([1, 1]), tg.tensor([1.0, 2.0]))
    tensor([0., 3.])
    """
    return _inplace(self, "scatter_add_", scatter_add, dim, index, src)


@op(xp_name=False)
def index_add_(self: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """index_add_(dim, index, source, *, alpha=1): in-place ``index_add``.

    >>> import tapegrad as tg
    >>> tg.zeros(2).index_add_(0, tg.tensor([0]), tg.tensor([5.0]), alpha=2)
    tensor([10.,  0.])
    """
    return _inplace(self, "index_add_", index_add, dim, index, source, alpha=alpha)
