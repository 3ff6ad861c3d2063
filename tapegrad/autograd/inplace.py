"""Writes: in-place ops, views, and the versions that keep gradients honest.

Every in-place op goes through ``apply`` (the door), and every write into a tensor's memory made outside an op
(an optimizer's update on the arrays) is announced with ``increment_version``. Both move versions on the global
write clock (``_state.clock``), so the engine can tell whether a value a recorded op used has changed since.

**Aliases.** Tensors can share memory: a view (``x[0]``, ``x.t()``, ``x.view(-1)``, ...) shares its base's, and
``x.detach()`` shares ``x``'s. A view knows its base (``_base``) and a base keeps weak references to the tensors
that share its memory (``_extra["aliases"]``; ``record`` registers every op result that numpy says is a view
of the op's input), so that a write into any of them is a write into all of them: their versions move
together, and under grad mode their places in the graph too.

**Under no_grad** (or when nothing involved requires grad) a write overwrites the memory and moves the
versions; a recorded op whose rule reads a value that was overwritten then refuses to backward (the engine
names it), as in PyTorch.

**Under grad mode** tapegrad does better than PyTorch's error: every tensor sharing the memory first gets an
*earlier self* holding its values before the write (a copy) and its place in the graph, and the ops recorded
before the write are pointed at those earlier selves; so every earlier use back-propagates through the values
it really used. Then the write is recorded:

- on a tensor that is nobody's view: it becomes the node of the op, whose input is its earlier self;
- through a view: the base becomes a ``CopySlices`` node (its earlier self outside the view, the op's result
  inside), as in PyTorch;
- every view of the base becomes an ``AsStridedBackward0`` node over the new base (it sees the new values,
  and gradients through it reach what was written), again as in PyTorch.

When nothing else holds the memory (no alias, and no numpy array from ``numpy()``: its reference count tells),
the written tensor simply takes the op's result array and its earlier self keeps the old one: no copy.
"""

from __future__ import annotations

import math
import sys
import warnings
import weakref

import numpy as np

from .. import _state, dtypes
from .. import _tensor as _tensor_module
from .._tensor import Tensor, wrap
from .tape import members as _members
from .tape import record

__all__ = ["apply", "no_record", "bump", "increment_version", "alias", "group", "recorded_at",
           "mark_multi_output", "unsafe_pieces", "any_requires_grad", "apply_view", "dense", "overlap",
           "partial_overlap", "overlap_error", "check_overlaps", "resize", "foreign", "unview",
           "internal_overlap", "writable", "overlapping_write", "overlapping_error",
           "same_layout", "OverlappingWrite", "check_multi_output"]

_grad = _state.grad
_clock = _state.clock


# ---------------------------------------------------------------------- versions
def bump(t: Tensor) -> None:
    """A write into ``t``'s memory happened: ``t`` and everything sharing its memory get a new version."""
    _clock.now += 1
    now = _clock.now
    if t._base is None and t._extra is None:
        t._version = now
        return
    members = group(t)
    if len(members) == 1 and t._base is None and t._extra is not None and t._extra.keys() <= _ALIAS_BOOKKEEPING:
        # NOTE: every alias that was registered (``p.detach()`` once, to log it) has died: t owns its memory alone
        # again, and its next writes take the fast paths (which test ``_extra is None``)
        t._extra = None
    for m in members:
        m._version = now
    for m in members:
        if m._backward is not None and m._base is not None and m._base._requires_grad and (
                m._extra is None or "multi_output" not in m._extra) and m._data.dtype == m._base._data.dtype \
                and _root(m._data) is _root(m._base._data):  # (not a base given new memory: module.double())
            _regenerate(m, now)


_ALIAS_BOOKKEEPING = frozenset(("aliases", "aliases_kept"))


def _regenerate(view, now):
    """A view that requires grad, whose memory was written without a record (under ``no_grad``, or through a
    tensor that does not require grad): its node becomes a view of its base as the base is now, as PyTorch's
    (whose version check regenerates it as ``AsStridedBackward0``). The gradient is routed as before: the base
    kept its node."""
    prev = _grad.enabled
    _grad.enabled = True
    try:
        _become(view, _regenerated_view(view._base, view._data), now)
    finally:
        _grad.enabled = prev


def increment_version(*tensors: Tensor) -> None:
    """increment_version(tensor): tell autograd that ``tensor`` was written in place by code it does not see
    (``torch.autograd.graph.increment_version``): an optimizer updating ``p.numpy()``, say. A recorded op that
    saved its old values will then refuse to backward instead of using the new ones.

    >>> import tapegrad as tg
    >>> w = tg.ones(2, requires_grad=True)
    >>> y = (w * w).sum()
    >>> w.detach().numpy()[:] = 5
    >>> tg.autograd.graph.increment_version(w)
    """
    _clock.now += 1  # one tick for all of them (an optimizer's step announces every parameter at once)
    now = _clock.now
    for t in tensors:
        if not isinstance(t, Tensor):  # (one C call, for a Parameter too)
            raise TypeError(f"increment_version: expected Tensors, got {type(t).__name__}")
        if t._base is None and t._extra is None:  # bump(t), inlined for the common case
            t._version = now
        else:
            bump(t)


def recorded_at(t: Tensor) -> int:
    """The time ``t`` was recorded on the write clock (also after backward freed it: freed stamps are negative)."""
    stamp = t._stamp
    return stamp if stamp >= 0 else -1 - stamp


# ---------------------------------------------------------------------- aliases
def alias(t: Tensor) -> Tensor:
    """``t.detach()``: a leaf sharing ``t``'s memory and versions (writes into either are seen by both)."""
    d = wrap(t._data)
    d._version = t._version
    owner = _owner(t)
    d._extra = {"shares": owner}
    _members(owner).append(weakref.ref(d))
    return d


def _owner(t):
    """The tensor whose alias list holds everything sharing ``t``'s memory."""
    while True:
        if t._base is not None:
            t = t._base
        elif t._extra is not None and "shares" in t._extra:
            t = t._extra["shares"]
        else:
            return t


def unview(t: Tensor) -> Tensor:
    """Make the op result ``t`` a new tensor for autograd although numpy made its array a view of an input's
    (PyTorch's ``_unsafe_view``, ``unsafe_split``, and ops whose result is a view of a temporary of their own):
    ``t._base`` is None (so ``detach_()`` takes it and an in-place op writes into it as into any tensor, without
    a ``CopySlices``), and it leaves the alias list of the input's memory, so its versions move alone. Returns
    ``t``."""
    base = t._base
    if base is None:
        return t
    t._base = None
    refs = base._extra.get("aliases") if base._extra is not None else None
    if refs:
        refs[:] = [r for r in refs if r() is not t]
    if t._extra is not None:
        t._extra.pop("multi_output", None)
    return t


def group(t: Tensor) -> list[Tensor]:
    """Every live tensor sharing ``t``'s memory, the owner first."""
    owner = _owner(t)
    out = [owner]
    stack = [owner]
    while stack:
        m = stack.pop()
        for r in m._extra.get("aliases", ()) if m._extra is not None else ():
            a = r()
            if a is not None:
                out.append(a)
                if a._extra is not None and "aliases" in a._extra:
                    stack.append(a)
    return out


# ---------------------------------------------------------------------- resize
_FOREIGN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id -> an array another library owns


def foreign(array: np.ndarray) -> np.ndarray:
    """Note that ``array``'s memory belongs to another library (``from_numpy``, ``from_dlpack``): ``resize_`` keeps
    to its span and never grows it, as PyTorch's storage of a numpy array is "not resizable"."""
    _FOREIGN[id(array)] = array
    return array


def resize(t: Tensor, size: tuple, name: str = "resize_") -> Tensor:
    """``t.resize_(size)``: ``t`` becomes a contiguous tensor of ``size`` starting where it starts in its memory
    block (PyTorch's *storage*: the array that owns the memory, or the array another library handed over),
    reading the block's elements in memory order.

    If the block is too small it grows, as PyTorch's storage does: a new block holds the old one's elements (the
    rest are zeros, where PyTorch's are uninitialized) and every tensor sharing the memory (views, detached
    aliases) is moved onto it at its place, so they still share. Refused, naming the reason, where growing would
    silently split memory that something else holds (another library's array, an array taken with ``.numpy()``,
    ``.data``), and where a view would end up outside the tensor it views. The version of everything sharing the
    memory moves (unless the sizes are ``t``'s own: then nothing changes): a recorded op that read ``t`` refuses to
    backward.
    """
    if t._requires_grad:
        raise RuntimeError(f"{name}: cannot resize variables that require grad")
    x = t._data
    if x.shape == tuple(size):  # as PyTorch: the same sizes leave the tensor (strides, version) as it is
        return t
    item = x.itemsize
    block = x
    while _FOREIGN.get(id(block)) is not block and isinstance(block.base, np.ndarray):
        block = block.base
    foreign_block = _FOREIGN.get(id(block)) is block
    if not (block.flags.c_contiguous or block.flags.f_contiguous):
        raise RuntimeError(f"{name}: the memory of this tensor (shape {tuple(x.shape)}) is an array that does not "
                           "own contiguous memory; clone() the tensor first")
    start = _start(block)
    offset = min(max((_start(x) - start) // item, 0), block.nbytes // item)
    n = math.prod(size)
    steps = []
    step = item
    for d in reversed(size):
        steps.append(step)
        step *= max(d, 1)
    strides = tuple(reversed(steps))
    sharing = group(t)
    grow = n and (offset + n) * item > block.nbytes
    if grow:
        if foreign_block:
            raise RuntimeError(f"{name}: Trying to resize storage that is not resizable: this tensor's memory is "
                               f"another library's array (from_numpy, from_dlpack) of {block.nbytes // item} "
                               "elements; clone() it first")
        held = 3 if x is block else 2  # this function's own references (block, x, getrefcount's argument)
        for m in sharing:
            a = m._data
            if _root(a) is not block:
                raise RuntimeError(f"{name}: a tensor sharing this memory is not a view of its block; clone() "
                                   "before resizing")
            held += 1 if a is block or a.base is block else 0
        del a
        if sys.getrefcount(block) > held:
            raise RuntimeError(f"{name}: cannot grow this tensor's memory: something other than its tensors holds "
                               "it (an array from .numpy(), a .data or Parameter made from it); clone() first")
    new_place = (offset * item, tuple(size), strides)
    for m in sharing:  # every view stays inside the tensor it views (gradients and writes map view to base)
        b = m._base
        if b is None:
            continue
        inner = new_place if m is t else _place(m._data, start)
        outer = new_place if b is t else _place(b._data, start)
        if not np.isin(_addresses(*inner), _addresses(*outer)).all():
            raise RuntimeError(f"{name}: resizing to {list(size)} would leave a view of shape "
                               f"{tuple(m._data.shape)} outside the tensor of shape {tuple(b._data.shape)} it "
                               "views (tapegrad keeps views inside their base; PyTorch allows it); clone() first")
    if grow:  # PyTorch reallocates the storage, keeping its bytes
        grown = np.zeros(max(offset + n, -(-block.nbytes // item)), dtype=x.dtype)
        grown.view(np.uint8)[:block.nbytes] = block.ravel(order="K").view(np.uint8)
        for m in sharing:
            if m is not t:
                a = m._data
                moved = np.ndarray(a.shape, a.dtype, buffer=grown, strides=a.strides, offset=_start(a) - start)
                moved.flags.writeable = a.flags.writeable
                m._data = moved
        block = grown
    t._data = np.ndarray(size, x.dtype, buffer=block, offset=offset * item, strides=strides)
    bump(t)
    return t


def _start(a):
    return a.__array_interface__["data"][0]


def _root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _place(a, start):
    """``a``'s layout in bytes from ``start``: (offset, shape, strides)."""
    return _start(a) - start, a.shape, a.strides


def _addresses(offset, shape, strides):
    """The byte offsets of every element of a layout."""
    grid = np.zeros((), dtype=np.int64)
    for n, st in zip(shape, strides, strict=True):
        grid = grid[..., None] + np.arange(n, dtype=np.int64) * st
    return (offset + grid).reshape(-1)


# ---------------------------------------------------------------------- overlap
def dense(a: np.ndarray) -> bool:
    """PyTorch's is_non_overlapping_and_dense: the elements fill one block of memory exactly, the dims in some
    order (those of size 1 ignored); a permuted contiguous tensor is dense, a sliced or expanded one is not."""
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return True
    need = a.itemsize
    for stride, n in sorted((st, n) for st, n in zip(a.strides, a.shape) if n != 1):
        if stride != need:
            return False
        need *= n
    return True


def overlap(a: np.ndarray, b: np.ndarray, same: bool = False) -> str | None:
    """PyTorch's ``get_overlap_status`` (MemoryOverlap.cpp) of the written array ``a`` and an operand's array
    ``b``, the one rule of every writing op: "full" when the operand is the written tensor itself (``same``:
    PyTorch's same TensorImpl, empty or not) or a dense view of the same memory with the same strides (all of them,
    those of size-1 dims too); "partial" when dense views' memory ranges otherwise intersect; None when either is
    empty, the memory is apart, or either is not dense (PyTorch cannot tell then, and lets the write through).
    Ops that refuse any overlap (index_put_, scatter_, put_, index_*_) raise on both; elementwise in-place ops
    and copy_ (PyTorch's TensorIterator) on "partial" only (:func:`partial_overlap`)."""
    if same:
        return "full"
    if not (a.size and b.size and np.may_share_memory(a, b)):  # numpy compares the memory bounds: cheap
        return None
    if not (dense(a) and dense(b)):
        return None
    pa, pb = a.__array_interface__["data"][0], b.__array_interface__["data"][0]
    if pa == pb and a.nbytes == b.nbytes:  # PyTorch compares element strides, as tuples
        full = a.ndim == b.ndim and all(s // a.itemsize == t // b.itemsize for s, t in zip(a.strides, b.strides))
        return "full" if full else "partial"
    return "partial" if pa < pb + b.nbytes and pb < pa + a.nbytes else None


def internal_overlap(a: np.ndarray) -> bool:
    """PyTorch's ``has_internal_overlap(t) == MemOverlap::Yes`` (MemoryOverlap.cpp): a dim of size > 1 with stride
    0 (expand, broadcast_to), so several elements are one memory location. Elementwise in-place ops and copy_
    (TensorIterator's ``assert_no_internal_overlap``), index_copy_, index_add_, scatter_, put_ and
    masked_scatter_ refuse such a tensor; fill_, zero_, index_put_, masked_fill_ and index_fill_ write into it
    (the last three with a deprecation warning). Any other layout PyTorch calls "too hard" and writes."""
    return any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape)) and not dense(a)


def writable(a: np.ndarray) -> np.ndarray | None:
    """An array over ``a``'s memory with ``a``'s layout that numpy lets write (numpy makes views whose elements
    share memory, and every view of them, read-only), or None where the memory itself is read-only."""
    if a.flags.writeable:
        return a
    root = _root(a)
    if not root.flags.writeable or not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None
    if not a.size:
        return np.empty(a.shape, a.dtype)
    flat = root.reshape(-1, order="A")
    return np.lib.stride_tricks.as_strided(flat[(_start(a) - _start(flat)) // a.itemsize:], a.shape, a.strides,
                                           writeable=True)


def overlapping_write(self: Tensor, name: str, write) -> Tensor:
    """``self.<name>(...)`` (index_put_, masked_fill_, index_fill_, setitem) written into a tensor numpy keeps
    read-only (elements sharing memory: expand, broadcast_to): ``write(array)`` writes into a writeable array over
    the same memory, element by element in the op's order, so where several elements are one location the last
    write stays, as PyTorch's sequential CPU kernels. Only outside autograd (nothing to record): PyTorch's
    backward through such a write fails (CopySlices copies the gradient into the expanded view)."""
    w = writable(self._data)
    if w is None:
        raise _read_only_error(name, self)
    if internal_overlap(self._data) and name != "setitem":
        warnings.warn(f"Use of {name} on expanded tensors is deprecated. Please clone() the tensor before "
                      "performing this operation. This also applies to advanced indexing e.g. tensor[indices] = "
                      "tensor", UserWarning, stacklevel=3)
    write(w)
    bump(self)
    return self


def partial_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether an elementwise in-place op writing ``a`` and reading ``b`` (as given, before broadcasting) meets
    the partial overlap PyTorch refuses (``x[:3].add_(x[1:])``). Two arrays that own their memory never overlap
    (unless they are one), so the common case costs two attribute reads."""
    return (a.base is not None or b.base is not None) and overlap(a, b) == "partial"


def overlap_error(op: str) -> RuntimeError:
    return RuntimeError(f"{op}: unsupported operation: some elements of the input tensor and the written-to tensor "
                        "refer to a single memory location; clone() the tensor first")


def check_overlaps(name: str, self: Tensor, args, kwargs) -> None:
    """Refuse, as PyTorch's TensorIterator, an elementwise in-place op whose tensor operand partly overlaps
    ``self`` (ops with their own rules, index_put_, scatter_, masked_fill_'s value, do not call this)."""
    data = self._data
    for a in (*args, *kwargs.values()) if kwargs else args:
        if isinstance(a, Tensor) and (a._data.base is not None or data.base is not None) \
                and overlap(data, a._data) == "partial":  # (two arrays that own their memory never overlap)
            raise overlap_error(name)


# ---------------------------------------------------------------------- the door
def no_record(self: Tensor, other=None) -> bool:
    """True when an in-place op on ``self`` (with ``other``) is a plain write: nothing to record."""
    return not ((self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)) and _grad.enabled)


def apply(self: Tensor, name: str, op, *args, _cast_ok: bool = False, _overlapping=None, **kwargs) -> Tensor:
    """``self.<name>(*args)``: ``self`` takes the values of ``op(self, *args)``, in place; returns ``self``.

    ``op`` is the out-of-place op. Its result must have ``self``'s shape, and a dtype that can be cast to
    ``self``'s within its kind (``_cast_ok``: any cast, as ``copy_``). ``_overlapping`` (an
    :class:`OverlappingWrite`) says how the op writes, element by element, into a view whose elements share memory
    (expand), so that under grad mode the write is recorded with each location's last writer.
    """
    if _grad.enabled and (self._requires_grad or any_requires_grad(args, kwargs)):
        return _write_recorded(self, name, op, args, kwargs, _cast_ok, _overlapping)
    return _write_plain(self, name, _unrecorded(op, self, args, kwargs), _cast_ok)


def _unrecorded(op, self, args, kwargs):
    """``op(self, *args, **kwargs)`` with grad mode off."""
    prev = _grad.enabled
    _grad.enabled = False
    try:
        return op(self, *args, **kwargs)
    finally:
        _grad.enabled = prev


def _write_plain(self, name, new, cast_ok):
    """Write ``new``'s values into ``self``'s memory (seen by every alias) and move their versions."""
    _check_result(name, self, new, cast_ok)
    data = self._data
    if not data.flags.writeable:
        if data.size:  # (an empty view of broadcast memory is read-only to numpy: nothing to write, PyTorch writes)
            _writable_target(name, self)[...] = new._data
    else:
        data[...] = new._data
    bump(self)
    return self


def _writable_target(name, t):
    """The array an elementwise in-place op writes for ``t``, whose array numpy keeps read-only: refused, as
    PyTorch's TensorIterator, where elements share memory through a stride of 0 (expand); a view of such memory
    whose elements are apart (``a[0]`` of an expanded ``a``) is written, as there."""
    a = t._data
    if internal_overlap(a):
        raise overlapping_error(name, a.shape)
    w = writable(a) if _apart(a) else None
    if w is None:
        raise _read_only_error(name, t)
    return w


def overlapping_error(name, shape):
    return RuntimeError(f"{name}: unsupported operation: more than one element of the written-to tensor refers to a "
                        f"single memory location (the tensor of shape {tuple(shape)} is a read-only view of memory "
                        "that expand or broadcast_to shares); clone() the tensor first")


def same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are the same elements of the same memory (PyTorch's copy_ then returns at once,
    before its overlap check: ``e.copy_(e)`` of an expanded ``e`` writes nothing and raises nothing)."""
    return (a.dtype == b.dtype and a.shape == b.shape and _start(a) == _start(b)
            and all(s == t for s, t, n in zip(a.strides, b.strides, a.shape) if n != 1))


def _apart(a):
    """Whether no two elements of ``a`` share a memory location (a sufficient test: each dim, by stride, steps
    past the whole extent of the dims inside it)."""
    extent = 0
    for st, n in sorted((abs(st), n) for n, st in zip(a.shape, a.strides) if n > 1):
        if st <= extent:
            return False
        extent += (n - 1) * st
    return True


def any_requires_grad(args, kwargs) -> bool:
    """Whether a tensor among an op's arguments requires grad."""
    for a in args:
        if a.__class__ is Tensor and a._requires_grad or isinstance(a, Tensor) and a._requires_grad:
            return True
    return any(isinstance(v, Tensor) and v._requires_grad for v in kwargs.values()) if kwargs else False


def mark_multi_output(views, node: str) -> None:
    """Mark the views that one op returned together (split, chunk, unbind; ``node`` is its node name): as in
    PyTorch, writing into them (or into views of them) in place under grad mode is refused."""
    for k, v in enumerate(views):
        v._extras()["multi_output"] = f"output {k} of {node}"


def unsafe_pieces(views, node: str) -> None:
    """Make the outputs of split/chunk new tensors to autograd (``unsafe_split``, ``unsafe_chunk``,
    ``unsafe_split_with_sizes``), as PyTorch's unsafe forms (TensorShape.cpp gives each piece its own version
    counter; autograd records them as outputs of one op, not as views): in-place writes into a piece under grad
    mode are taken (no multi-output check), recorded on the piece alone (its base keeps its node, a leaf base
    included), and move only the piece's version; ``detach_()`` takes a piece, and ``requires_grad_()`` on the base
    leaves the pieces alone. The memory is still shared: a write into either changes the other's values unseen (the
    user's responsibility, PyTorch's docs say). ``node`` is PyTorch's node name (``UnsafeSplitBackward0``)."""
    for v in views:
        unview(v)
        if v._backward is not None:
            v._name = node


def check_multi_output(name: str, t: Tensor, value) -> None:
    """Refuse, as PyTorch's check_inplace, an in-place write of a ``value`` that requires grad under grad mode
    into an output of split/chunk/unbind, whatever ``t``'s dtype (for ops that drop the value's gradient into
    an integer or bool ``t`` before reaching the door: masked_fill_, index_fill_, fill_ and index_put_ through
    setitem)."""
    if t._extra is not None and "multi_output" in t._extra and _grad.enabled and isinstance(value, Tensor) \
            and value._requires_grad:
        raise _multi_output_error(name, t._extra["multi_output"])


def _multi_output_error(name, what):
    return RuntimeError(f"{name}: {what} is a view and is being modified in place. This view is the output of a "
                        "function that returns multiple views (split, chunk, unbind). Such functions do not allow "
                        "the output views to be modified in place under grad mode: use an out-of-place operation "
                        "instead, or clone() the output first")


def _read_only_error(name, t):
    return RuntimeError(f"{name}: the tensor of shape {tuple(t._data.shape)} is a read-only view (several of its "
                        "elements share one memory location: from expand, broadcast_to or unfold with overlapping "
                        "windows); clone() it first")


def _check_result(name, self, new, cast_ok):
    if new._data.shape != self._data.shape:
        raise RuntimeError(f"{name}: the result of shape {tuple(new._data.shape)} does not fit the in-place "
                           f"output of shape {tuple(self._data.shape)}")
    if not cast_ok and not dtypes.can_cast(new._data.dtype, self._data.dtype):
        raise RuntimeError(f"{name}: result type {new._data.dtype} can't be cast to the output dtype "
                           f"{self._data.dtype}")


def apply_view(self: Tensor, name: str, view_op, *args, node=None) -> Tensor:
    """``self.<name>(*args)`` for an in-place view op (``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``):
    ``self`` takes the shape and strides of ``view_op(self, *args)`` over the same memory; returns ``self``.

    No value changes, so nothing is copied, but the version moves, as PyTorch's: a recorded op that read ``self``
    with its earlier shape refuses to backward. Under grad mode a non-leaf becomes the view's node over its
    earlier self, so earlier uses and later ones each get their own gradient; ``node(name)`` gives the in-place
    node's name from the view op's (PyTorch's: ``TransposeBackward0`` -> ``TransposeBackward1``).
    """
    if not (_grad.enabled and self._requires_grad):
        shape = self._data.shape
        prev = _grad.enabled
        _grad.enabled = False
        try:
            self._data = view_op(self, *args)._data
        finally:
            _grad.enabled = prev
        bump(self)
        base = self._base
        if self._backward is not None and base is not None and base._requires_grad:
            # a view that requires grad, reshaped under no_grad: its node becomes a view of its base with the new
            # layout (PyTorch's AsStridedBackward0), so the old node never gets a gradient of the new shape
            _grad.enabled = True
            try:
                _become(self, _regenerated_view(base, self._data), _clock.now)
            finally:
                _grad.enabled = prev
        elif self._backward is not None:
            # its node keeps the shape it was recorded with (PyTorch's InputMetadata): the engine sums a gradient
            # of the new shape back to it where it can (unsqueeze_(0)) and refuses it where it cannot (t_)
            extra = self._extras()
            recorded = extra.setdefault("node_shape", shape)
            if recorded == self._data.shape:
                del extra["node_shape"]
        return self
    if self._extra is not None and "multi_output" in self._extra:
        raise _multi_output_error(name, self._extra["multi_output"])
    base = self._base
    if self._backward is None or base is not None and base._backward is None:  # (self requires grad here)
        what = "a leaf tensor" if self._backward is None else "a view of a leaf tensor"
        raise RuntimeError(f"{name}: {what} that requires grad is being used in an in-place operation; wrap it in "
                           "`with tapegrad.no_grad():` or use the out-of-place form")
    old = _earlier_self(self, copy=False)  # the same memory: the values do not change
    since = recorded_at(self)
    new = view_op(old, *args)
    self._data = new._data
    _clock.now += 1
    now = _clock.now
    _become(self, new, now)
    if node is not None:
        self._name = node(new._name)
    _rebase(self, old, now)
    _reroute_recent_uses([self], {id(self): old}, since, [])
    return self


def _check_inplace(name, self):
    """PyTorch's check_inplace for a recorded write into ``self``: the error refusing it, or None."""
    if self._extra is not None and "multi_output" in self._extra and (name != "copy_" or self._data.dtype.kind == "f"):
        # PyTorch's check_inplace runs whenever an operand requires grad, whatever the dtype, except in copy_,
        # which asks first whether self's dtype is differentiable (VariableTypeManual.cpp)
        return _multi_output_error(name, self._extra["multi_output"])
    base = self if self._base is None else self._base
    # PyTorch's check_inplace: the tensor written requires grad (a view keeps what it was made with, so a view of a
    # base detached since is refused too) and it, or the base of a view, is a leaf (has no node)
    for t, what in ((self, "a leaf tensor"), (base, "a view of a leaf tensor")):
        if self._requires_grad and t._backward is None:
            return RuntimeError(f"{name}: {what} that requires grad is being used in an in-place operation; wrap "
                                "it in `with tapegrad.no_grad():` (as optimizers do) or use the out-of-place form")
    if base._requires_grad and not self._requires_grad or self._extra is not None and "no_grad_view" in self._extra:
        # a view taken under no_grad (of a tensor that requires grad: its graph does not lead to the base, so the
        # gradient of the values it overwrites would be lost): PyTorch refuses it too, by the mode it was made in
        return RuntimeError(f"{name}: a view was created in no_grad mode and is being modified in place with grad "
                            "mode enabled; take the view and write into it both inside the no_grad block (not "
                            "tracked) or both outside it (tracked)")
    return None


# In-place ops PyTorch has no derivative for (none in derivatives.yaml): under grad mode too a plain write (the
# values and the version change; no node, no check_inplace), so their operands requiring grad change nothing.
NO_DERIVATIVE = frozenset({"logical_not_", "logical_and_", "logical_or_", "logical_xor_"})


def _write_recorded(self, name, op, args, kwargs, cast_ok, overlapping=None):
    if name in NO_DERIVATIVE:
        return _write_plain(self, name, _unrecorded(op, self, args, kwargs), cast_ok)
    refused = _check_inplace(name, self)
    if refused is not None:
        raise refused
    base = self if self._base is None else self._base
    if self._data.flags.writeable or not self._data.size:
        target = self._data
    elif overlapping is not None and self._base is not None and internal_overlap(self._data):
        target = overlapping.target(name, self)
    else:
        target = _writable_target(name, self)
    members = group(self)
    # Nothing else holds the memory (no alias, no numpy view or array handed out): the write may replace it.
    functional = len(members) == 1 and self._data.base is None and sys.getrefcount(self._data) <= 2
    # A leaf that requires grad and shares the memory (``v1`` in ``v2 = v1.detach(); v2.copy_(v1)``) stays the
    # leaf its uses lead to: only its version moves, as PyTorch's shared version counter, so a rule that read its
    # old values refuses to backward instead of sending their gradient to a copy nobody holds.
    leaves = [m for m in members if m._requires_grad and m._backward is None and m is not self]
    if leaves:
        members = [m for m in members if not any(m is leaf for leaf in leaves)]
    earlier = {id(m): _earlier_self(m, copy=not functional) for m in members}
    for e in earlier.values():  # a view's earlier self is a view of its base's earlier self
        if any(id(p) in earlier for p in e._parents):
            e._parents = tuple(earlier.get(id(p), p) for p in e._parents)
    since = min(recorded_at(m) for m in members)

    old = earlier[id(self)]
    args = tuple(earlier.get(id(a), a) if isinstance(a, Tensor) else a for a in args)
    kwargs = {k: (earlier.get(id(v), v) if isinstance(v, Tensor) else v) for k, v in kwargs.items()}
    new = op(old, *args, **kwargs)
    if not new._requires_grad:  # nothing to differentiate after all (an integer result): as NO_DERIVATIVE's
        return _write_plain(self, name, new, cast_ok)
    _check_result(name, self, new, cast_ok)
    if new._data.dtype != self._data.dtype:
        new = record(new._data.astype(self._data.dtype), (new,), _cast_rule, "ToCopyBackward0")

    if functional:
        self._data = new._data
        written = new
    elif self is base:
        if target.size:  # (an empty view of broadcast memory is read-only to numpy: nothing to write)
            target[...] = new._data
        written = new
    elif target is not self._data and overlapping is not None:  # elements sharing memory: in the op's order
        value = overlapping.value
        written = overlapping.record(earlier[id(base)], earlier.get(id(value), value), base._data, self._data,
                                     target)
    else:  # through a view: the base records the write (PyTorch's CopySlices)
        if target.size:
            target[...] = new._data
        written = _copy_slices(earlier[id(base)], new, base._data, self._data)
    _clock.now += 1
    now = _clock.now
    _become(base, written, now)
    for m in members:
        if m is not base and m._base is base:  # views see the write, in values and in gradients
            _become(m, _regenerated_view(base, m._data), now)
        _rebase(m, earlier[id(m)], now)
    for leaf in leaves:
        leaf._version = now
    _reroute_recent_uses(members, earlier, since, [*args, *kwargs.values()])
    return self


def _earlier_self(t, copy):
    """A tensor that is ``t`` as it is now (its values, its node, its version): what ops recorded so far used."""
    old = wrap(t._data.copy() if copy else t._data)
    old._requires_grad, old._parents, old._backward, old._name = t._requires_grad, t._parents, t._backward, t._name
    old._stamp, old._version = t._stamp, t._version
    if t._extra is not None:
        keep = {k: t._extra[k] for k in ("rebased", "hooks", "trace", "node_shape") if k in t._extra}
        old._extra = keep or None
        t._extra.pop("hooks", None)  # hooks belong to the value they were registered on (as in PyTorch)
    return old


def cut(t: Tensor) -> None:
    """``t.detach_()``: ``t`` becomes a leaf that does not require grad. Ops recorded so far keep using the node it
    was, as PyTorch's graph keeps the old ``grad_fn``: an earlier self holds the node, and ``parents_of`` hands it to
    them (a rebase without a write: no version changes)."""
    if t._backward is not None:
        earlier = _earlier_self(t, copy=False)  # the node, with its hooks (PyTorch keeps them on the grad_fn)
        owner = _owner(t)  # an alias of t: it shares t's versions, so a later write still stops those nodes
        earlier._extras()["shares"] = owner
        _members(owner).append(weakref.ref(earlier))
        _clock.now += 1  # (so every node recorded before looks its inputs up)
        t._extras()["rebased"] = (_clock.now, earlier)
    t._parents, t._backward, t._name, t._requires_grad = (), None, None, False


def _become(t, node, now):
    """Make ``t`` the node ``node`` (its inputs, rule and name) without changing ``t``'s array."""
    t._requires_grad, t._parents, t._backward, t._name = node._requires_grad, node._parents, node._backward, node._name
    t._stamp = now if node._backward is not None else 0
    if t._extra is not None:
        t._extra.pop("node_shape", None)  # (the shape of t's earlier node: see apply_view)
    if node._extra is not None and "trace" in node._extra:
        t._extras()["trace"] = node._extra["trace"]


def _rebase(t, earlier, now):
    t._version = now
    t._extras()["rebased"] = (now, earlier)


def _cast_rule(xp, g, out, x):
    return g  # the engine casts the gradient to x's dtype


# ---------------------------------------------------------------------- views over a base, by position
def positions(base: np.ndarray, view: np.ndarray) -> np.ndarray:
    """For each element of ``view`` (an array sharing ``base``'s memory), its flat (C-order) index in ``base``.

    Found from the arrays' addresses, so it holds for any view numpy can make: this is PyTorch's as_strided
    view of a base, without strides of our own.
    """
    item = base.itemsize

    def addresses(a):
        start = a.__array_interface__["data"][0]
        grid = np.zeros((), dtype=np.int64)
        for size, stride in zip(a.shape, a.strides, strict=True):
            grid = grid[..., None] + np.arange(size, dtype=np.int64) * stride
        return start + grid

    where = addresses(base)
    low = int(where.min()) if where.size else 0
    slots = np.full((int(where.max()) - low) // item + 1 if where.size else 0, -1, dtype=np.int64)
    slots[(where.reshape(-1) - low) // item] = np.arange(base.size, dtype=np.int64)
    return slots[(addresses(view) - low) // item]


def _copy_slices(old_base, value, base_array, view_array):
    """The base after a write of ``value`` through one of its views: ``old_base`` outside the view, ``value``
    inside. Its array is ``base_array`` itself (already written)."""
    where = positions(base_array, view_array)
    keep = np.ones(base_array.size, dtype=bool)
    keep[where.reshape(-1)] = False
    keep = keep.reshape(base_array.shape)

    def copy_slices(xp, need, g, out, base, value):
        # NOTE: a select, not a product with a 0/1 mask: the overwritten places get 0 even where the incoming
        # gradient is inf or NaN (PyTorch's CopySlices zeroes the view's part of a copy of the gradient)
        return (xp.where(keep, g, 0) if need[0] else None, g.reshape(-1)[where] if need[1] else None)

    return record(base_array, (old_base, value), copy_slices, "torch::autograd::CopySlices")


class OverlappingWrite:
    """How an op (index_put_, masked_fill_, index_fill_, setitem) writes into a view whose elements share memory
    (an expanded tensor), for a recorded write: ``write(w, v)`` puts ``v`` into the writeable array ``w`` element by
    element in the op's order (the last write to a location stays, as PyTorch's sequential CPU kernels); ``v`` is
    the values the op writes, ``value`` the tensor they come from (it requires grad), ``ids`` an int64 array of
    ``v``'s shape saying which element of ``value`` each element of ``v`` is.

    The write is recorded as a ``CopySlices`` of the base over its earlier self and ``value``, with the right
    gradient where PyTorch's is not: a location's gradient goes to the one element of ``value`` whose write stayed
    there (the same write of ``ids`` into int64 memory laid out as the base's tells which), and to the earlier
    base where nothing was written; PyTorch's hands it to every element written there, overwritten ones too.
    With ``accumulate`` (index_put_'s, at ``key``) every write adds: the earlier base keeps its whole gradient and
    each element of ``value`` gets the gradient of the locations it was added to.
    """

    __slots__ = ("name", "write", "v", "value", "ids", "key")

    def __init__(self, name, write, v, value, ids, key=None):
        self.name, self.write, self.v, self.value, self.ids, self.key = name, write, v, value, ids, key

    def target(self, name, t):
        """The writeable array over ``t``'s memory (with the deprecation warning of PyTorch's kernel, ``self.name``:
        index_put_, masked_fill_ or index_fill_, which setitem calls)."""
        w = writable(t._data)
        if w is None:
            raise _read_only_error(name, t)
        warnings.warn(f"Use of {self.name} on expanded tensors is deprecated. Please clone() the tensor before "
                      "performing this operation. This also applies to advanced indexing e.g. tensor[indices] = "
                      "tensor", UserWarning, stacklevel=5)
        return w

    def record(self, old_base, value, base_array, view_array, target):
        """Write into ``target`` (the view's writeable array) and record the base's node."""
        shape, vshape, n = base_array.shape, value._data.shape, value._data.size
        if self.key is not None:  # accumulate: each write adds into its location
            picked = positions(base_array, view_array)[self.key]  # (the locations, in the index's shape)
            ids = np.broadcast_to(self.ids.reshape(self.ids.shape[max(0, self.ids.ndim - picked.ndim):]),
                                  picked.shape)
            self.write(target, self.v)

            def copy_slices_accumulate(xp, need, g, out, base, value):
                return (g if need[0] else None,
                        xp.add_at((n,), ids, g.reshape(-1)[picked]).reshape(vshape) if need[1] else None)

            return record(base_array, (old_base, value), copy_slices_accumulate, "torch::autograd::CopySlices")
        owner = _last_writers(base_array, view_array, self.write, self.ids)
        self.write(target, self.v)
        locs = np.flatnonzero(owner >= 0)
        ids = owner[locs]
        keep = (owner < 0).reshape(shape)

        def copy_slices(xp, need, g, out, base, value):
            return (xp.where(keep, g, 0) if need[0] else None,
                    xp.add_at((n,), ids, g.reshape(-1)[locs]).reshape(vshape) if need[1] else None)

        return record(base_array, (old_base, value), copy_slices, "torch::autograd::CopySlices")


def _last_writers(base_array, view_array, write, ids):
    """For each element of ``base_array`` (flat, C order), the id that ``write(w, ids)`` through ``view_array``'s
    layout leaves there, or -1: the same write into int64 memory with the same layout (in elements) as the
    base's memory, so which write stays is decided as in the op's own write."""
    item = base_array.itemsize
    start = _start(base_array)
    low = start + sum((n - 1) * st for n, st in zip(base_array.shape, base_array.strides) if st < 0)
    at_base = (_addresses(start - low, base_array.shape, base_array.strides)) // item
    memory = np.full(int(at_base.max()) + 1 if at_base.size else 0, -1, dtype=np.int64)
    if not view_array.size:
        return memory[at_base]
    tags = np.lib.stride_tricks.as_strided(memory[(_start(view_array) - low) // item:], view_array.shape,
                                           tuple(st // item * 8 for st in view_array.strides), writeable=True)
    write(tags, ids)
    return memory[at_base]


def _regenerated_view(base, view_array):
    """A view of ``base`` as a node over its current self (``AsStridedBackward0``)."""
    where = positions(base._data, view_array)
    size, shape = base._data.size, base._data.shape

    def as_strided(xp, g, out, x):
        return xp.add_at((size,), where, g).reshape(shape)

    return record(view_array, (base,), as_strided, "AsStridedBackward0")


# ---------------------------------------------------------------------- earlier uses, pointed at earlier selves
_REROUTE_BUDGET = 64


def _reroute_recent_uses(members, earlier, since, roots):
    """Point the ops recorded since ``since`` that used a written tensor, and lead to the op's arguments, at its
    earlier self.

    ``y.add_(y * 3)``: ``y * 3`` holds ``y`` as its input, and ``y`` is now the node that uses ``y * 3``; left
    alone that is a reference cycle (freed only by the cyclic garbage collector) and a lookup for the engine.
    The walk stops after a few dozen nodes; the engine's ``parents_of`` redirects whatever it did not reach.
    """
    written = {id(m) for m in members}
    stack = [r for r in roots if isinstance(r, Tensor) and r._parents and id(r) not in written]
    seen = set()
    while stack and len(seen) < _REROUTE_BUDGET:
        t = stack.pop()
        if id(t) in seen or recorded_at(t) < since:
            continue
        seen.add(id(t))
        parents = t._parents
        if any(id(p) in written for p in parents):
            t._parents = tuple(earlier[id(p)] if id(p) in written else p for p in parents)
            parents = t._parents
        stack.extend(p for p in parents if p._parents)


# ---------------------------------------------------------------------- a base that starts requiring grad
def base_requires_grad(t: Tensor) -> None:
    """``t.requires_grad_()`` on a tensor with views: the views require grad too, as nodes over ``t`` (PyTorch's
    views follow their base)."""
    if t._extra is None or "aliases" not in t._extra:
        return
    now = _clock.now
    for r in t._extra["aliases"]:
        v = r()
        if v is not None and v._base is t and not v._requires_grad:
            _become(v, _regenerated_view(t, v._data), now)


_tensor_module.on_requires_grad = base_requires_grad
