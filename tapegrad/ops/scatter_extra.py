"""Writes into copies: select_scatter, slice_scatter, diagonal_scatter, masked_scatter, put, scatter_reduce,
index_reduce; and narrow_copy, the unsafe split forms, nonzero_static, fill_diagonal_, tensordot.

The scatters that copy values (select/slice/diagonal_scatter, put) write into a contiguous copy of the input at
the flat positions the view would cover, one node with PyTorch's name whose rule indexes the gradient there.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..autograd.declare import Tensor, check_dim, inplace, is_grad_enabled, named, op, record, wrap
from ..autograd.inplace import unsafe_pieces
from ..autograd.scatter import reduce_at_wide
from . import copy as C
from . import elementwise as E
from . import index as I
from . import linalg as L

__all__ = ["select_scatter", "slice_scatter", "diagonal_scatter", "masked_scatter", "put", "scatter_reduce",
           "index_reduce", "narrow_copy", "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes",
           "nonzero_static", "tensordot"]


def _tensor(op_name, x, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op_name}: argument '{what}' must be a Tensor, not {type(x).__name__}")
    return x


def _write_at(op_name, input, positions, src, name, accumulate=False):
    """A new tensor laid out as ``input.clone()``: ``input`` with the elements at flat ``positions`` (an array
    shaped as the view) replaced by ``src`` (with ``accumulate``, increased by it, one addition after another). Its
    node ``name`` is PyTorch's; the gradient of input is g with the written positions zeroed (all of g when
    accumulating), src's is g at the positions."""
    _tensor(op_name, src, "src")
    if tuple(src.shape) != positions.shape:
        raise RuntimeError(f"{op_name}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(positions.shape)}")
    if src._data.dtype != input._data.dtype:  # as PyTorch: src is copied in, cast to input's dtype
        src = src.to(input.dtype)
    flat = positions.reshape(-1)
    out = C._copy_like(input._data)  # PyTorch's input.clone() (preserve_format), never a view of input
    # the positions are row-major; the copy may be laid out otherwise (a 0-d one is viewed as one element)
    target, where = (out.reshape(1), flat) if out.ndim == 0 else (out, np.unravel_index(flat, out.shape))
    if accumulate:
        np.add.at(target, where, src._data.reshape(-1))
    else:
        target[where] = src._data.reshape(-1)
    if out.dtype.kind != "f":
        return wrap(out)
    written = None
    if not accumulate:
        written = np.zeros(target.shape, dtype=bool)
        written[where] = True
        written = written.reshape(out.shape)
    s_shape = tuple(src.shape)

    def rule(xp, need, g, out, x, s):
        gx = (g if written is None else xp.where(written, 0, g)) if need[0] else None
        return gx, g.reshape(-1)[flat].reshape(s_shape) if need[1] else None

    return record(out, (input, src), rule, name)


def _positions(input):
    return np.arange(input.numel(), dtype=np.int64).reshape(tuple(input.shape))


@op
def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """select_scatter(input, src, dim, index): a copy of ``input`` whose ``select(dim, index)`` is ``src``.

    >>> import tapegrad as tg
    >>> tg.select_scatter(tg.zeros(2, 2), tg.ones(2), 0, 0)
    tensor([[1., 1.],
            [0., 0.]])
    """
    d = check_dim("select_scatter", dim, _tensor("select_scatter", input).ndim)
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select_scatter: index {index} is out of bounds for dimension {dim} with size {n}")
    return _write_at("select_scatter", input, np.take(_positions(input), index, axis=d), src, "SelectScatterBackward0")


@op
def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """slice_scatter(input, src, dim=0, start=None, end=None, step=1): a copy of ``input`` whose slice
    ``start:end:step`` along ``dim`` is ``src``.

    >>> import tapegrad as tg
    >>> tg.slice_scatter(tg.zeros(4), tg.ones(2), start=1, step=2)
    tensor([0., 1., 0., 1.])
    """
    d = check_dim("slice_scatter", dim, _tensor("slice_scatter", input).ndim)
    if step <= 0:
        raise RuntimeError(f"slice_scatter: slice step must be positive, got {step}")
    where = (slice(None),) * d + (slice(start, end, step),)
    return _write_at("slice_scatter", input, _positions(input)[where], src, "SliceScatterBackward0")


@op
def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """diagonal_scatter(input, src, offset=0, dim1=0, dim2=1): a copy of ``input`` whose
    ``diagonal(offset, dim1, dim2)`` is ``src``.

    >>> import tapegrad as tg
    >>> tg.diagonal_scatter(tg.zeros(2, 3), tg.ones(2), 1)
    tensor([[0., 1., 0.],
            [0., 0., 1.]])
    """
    nd = _tensor("diagonal_scatter", input).ndim
    d1, d2 = check_dim("diagonal_scatter", dim1, nd), check_dim("diagonal_scatter", dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal_scatter: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _write_at("diagonal_scatter", input, np.diagonal(_positions(input), offset, d1, d2), src,
                     "DiagonalScatterBackward0")


@op(inplace=True)
def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """masked_scatter(input, mask, source): a copy of ``input`` with the elements where the boolean ``mask``
    (broadcast) is True taken from ``source`` in order (row-major).

    >>> import tapegrad as tg
    >>> tg.masked_scatter(tg.zeros(4), tg.tensor([True, False, True, False]), tg.tensor([1.0, 2.0, 3.0]))
    tensor([1., 0., 2., 0.])
    """
    _tensor("masked_scatter", input), _tensor("masked_scatter", mask, "mask"), _tensor("masked_scatter", source,
                                                                                        "source")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{mask._data.dtype}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{input._data.dtype} and {source._data.dtype}")
    try:
        shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    except ValueError:
        raise RuntimeError(f"masked_scatter: mask of shape {tuple(mask.shape)} cannot broadcast with input of "
                           f"shape {tuple(input.shape)}") from None
    x = input.expand(shape) if tuple(input.shape) != shape else input
    positions = np.flatnonzero(np.broadcast_to(mask._data, shape))
    k = positions.shape[0]
    if k > source.numel():
        raise RuntimeError(f"masked_scatter: expected source to have at least {k} elements (the number of True "
                           f"values in mask), got {source.numel()}")
    picked = source.reshape(-1)[:k]
    flat = I.index_copy(x.reshape(-1), 0, wrap(positions.astype(np.int64)), picked)
    out = flat.reshape(shape).clone() if len(shape) != 1 else flat  # a new tensor, not a view (as PyTorch's)
    return named(out, "MaskedScatterBackward0", (input,))


@op(inplace=True)
def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """put(input, index, source, accumulate=False): a copy of ``input`` (seen flattened) with the elements at
    ``index`` set to ``source``'s (or, with ``accumulate``, increased by them).

    >>> import tapegrad as tg
    >>> tg.put(tg.zeros(2, 2), tg.tensor([0, 3]), tg.tensor([1.0, 2.0]))
    tensor([[1., 0.],
            [0., 2.]])
    """
    _tensor("put", input), _tensor("put", index, "index"), _tensor("put", source, "source")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"put: expected index to be an int64 tensor, got {index._data.dtype}")
    if index.numel() != source.numel():
        raise RuntimeError(f"put: expected source and index to have the same number of elements, but got "
                           f"{source.numel()} and {index.numel()}")
    n = input.numel()
    idx = index._data.reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"put: index out of range for a tensor of {n} elements")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"put: expected self and source to have the same dtype, got {input._data.dtype} and "
                           f"{source._data.dtype}")
    positions = np.where(idx < 0, idx + n, idx).astype(np.int64).reshape(tuple(source.shape))
    return _write_at("put", input, positions, source, "PutBackward0", accumulate=accumulate)


# ---------------------------------------------------------------------- reductions into copies
_REDUCTIONS = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def _reduce_into(op_name, input, d, targets, values, reduce, include_self, wide):
    """``input`` (array) with ``values`` reduced into ``targets`` (index arrays) by ``reduce``; a float16 product
    in float32 if ``wide`` (as ``scatter_add_in``)."""
    out = input.copy()
    touched = np.zeros(out.shape, dtype=bool)
    touched[targets] = True
    ufunc = _REDUCTIONS[reduce]
    if not include_self:
        identity = {"prod": 1}.get(reduce)
        if identity is None:
            # the first value written into a place starts it (PyTorch: self is not included)
            flat_t = np.ravel_multi_index(tuple(np.broadcast_arrays(*targets)), out.shape).reshape(-1)
            order = np.unique(flat_t, return_index=True)[1]
            out.reshape(-1)[flat_t[order]] = values.reshape(-1)[order]
        else:
            out[touched] = identity
    if wide and ufunc is np.multiply:
        reduce_at_wide(ufunc, out, targets, values)
    else:
        ufunc.at(out, targets, values)
    return out


@op(inplace=True)
def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """scatter_reduce(input, dim, index, src, reduce, *, include_self=True): ``src`` reduced into a copy of
    ``input`` at ``index`` along ``dim`` (as scatter_add) with reduce ``'sum'``, ``'prod'``, ``'mean'``,
    ``'amax'`` or ``'amin'``; with ``include_self=False`` the input's values at the written places are left
    out. Differentiable for every reduce, with PyTorch's gradients (ties of 'amax'/'amin' share evenly).

    >>> import tapegrad as tg
    >>> tg.scatter_reduce(tg.zeros(3), 0, tg.tensor([0, 0, 2]), tg.tensor([1.0, 5.0, 3.0]), "amax")
    tensor([5., 0., 3.])
    """
    return _scatter_reduce(input, dim, index, src, reduce, include_self, wide=True)


def _scatter_reduce(input, dim, index, src, reduce, include_self, wide):
    """scatter_reduce, its float16 and bfloat16 sums and products kept in float32 (PyTorch's scatter kernels:
    ``wide``) or each rounded to the tensor's dtype (PyTorch's index_reduce, built on this)."""
    _tensor("scatter_reduce", input), _tensor("scatter_reduce", index, "index"), _tensor("scatter_reduce", src,
                                                                                          "src")
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"scatter_reduce: reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"scatter_reduce(): Expected dtype int64 for index, got {index._data.dtype}")
    if src._data.dtype != input._data.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, got "
                           f"{input._data.dtype} and {src._data.dtype}")
    if reduce == "mean" and input._data.dtype == np.bool_:
        raise NotImplementedError("scatter_reduce: reduce='mean' is not implemented for bool tensors (as PyTorch)")
    d = check_dim("scatter_reduce", dim, input.ndim)
    if input.ndim == 0 or index.ndim == 0 or src.ndim == 0:  # as PyTorch: a 0-d tensor counts as one element
        shape = tuple(input.shape)
        out = _scatter_reduce(input.reshape(-1) if input.ndim == 0 else input, d, index.reshape(-1) if index.ndim
                              == 0 else index, src.reshape(-1) if src.ndim == 0 else src, reduce, include_self, wide)
        # a new tensor, not a view, as PyTorch's
        return named(out.reshape(shape).clone() if input.ndim == 0 else out, "ScatterReduceBackward0")
    x, idx, s = input._data, index._data, src._data
    if idx.ndim != x.ndim or (idx.ndim and builtins.any(idx.shape[k] > s.shape[k] or (k != d and idx.shape[k] >
                                                                                        x.shape[k])
                                                         for k in range(idx.ndim))):
        raise RuntimeError(f"scatter_reduce: index {tuple(idx.shape)} must have as many dims as input "
                           f"{tuple(x.shape)} and src {tuple(s.shape)}, and be no larger than src in every dim "
                           f"and than input outside dim {d}")
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):  # PyTorch refuses negative indices too
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise RuntimeError(f"scatter_reduce: index {bad} is out of bounds for dimension {d} with size {n}")
    if reduce in ("sum", "mean"):
        src_part = src[tuple(slice(0, k) for k in idx.shape)] if idx.ndim else src
        if not include_self:
            mask = np.zeros(x.shape, dtype=bool)
            if x.ndim:  # only the places index writes (not put_along_axis: it broadcasts a smaller index)
                grid: list[np.ndarray] = list(np.indices(idx.shape, sparse=True))
                grid[d] = np.where(idx < 0, idx + n, idx)
                mask[tuple(grid)] = True
            base = E.where(wrap(mask), wrap(np.zeros((), x.dtype)), input)
        else:
            base = input
        total = I.scatter_add_in(base, d, index, src_part, wide=wide) if x.ndim else base + src_part
        if reduce == "sum":  # (PyTorch's one node ScatterReduceBackward0, here scatter_add's)
            return named(total, "ScatterReduceBackward0", (input,))
        counts = np.zeros(x.shape, dtype=np.int64)
        grid = list(np.indices(idx.shape, sparse=True))
        grid[d] = np.where(idx < 0, idx + n, idx)
        np.add.at(counts, tuple(grid), 1)
        counts = counts + (1 if include_self else 0)
        if x.dtype.kind != "f":
            return wrap(np.floor_divide(total._data, np.maximum(counts, 1)).astype(x.dtype))
        return named(total / wrap(np.maximum(counts, 1).astype(x.dtype)), "ScatterReduceBackward0")
    grid = list(np.indices(idx.shape, sparse=True))
    grid[d] = np.where(idx < 0, idx + n, idx)
    cells = tuple(grid)
    part = tuple(slice(0, k) for k in idx.shape)
    values = s[part]
    result = _reduce_into("scatter_reduce", x, d, cells, values, reduce, include_self, wide)
    if not (is_grad_enabled() and (input.requires_grad or src.requires_grad)):
        return wrap(result)
    return record(result, (input, src), _extreme_rule(x, s, cells, part, values, result, reduce, include_self, wide),
                  "ScatterReduceBackward0")


def _extreme_rule(x, s, grid, part, values, result, reduce, include_self, wide):
    """PyTorch's scatter_reduce_backward for 'prod', 'amax' and 'amin' (FunctionsManual.cpp): ties share the
    gradient of an extreme evenly; prod's gradient is the product of the others (a single zero handled apart)."""
    touched = np.zeros(x.shape, dtype=bool)
    touched[grid] = True

    def gather(a):  # a (input's shape) -> index's shape
        return a[grid]

    def scatter(b):  # adjoint of gather
        z = np.zeros(x.shape, dtype=b.dtype)
        np.add.at(z, grid, b)
        return z

    def pad(b):  # index's shape -> src's shape (zeros beyond the index)
        z = np.zeros(s.shape, dtype=b.dtype)
        z[part] = b
        return z

    def unpad(a):
        return a[part]

    with np.errstate(all="ignore"):
        if reduce in ("amax", "amin"):
            value = gather(result)
            self_is = (x == result).astype(x.dtype)
            src_is = (values == value).astype(x.dtype)
            count = self_is + scatter(src_is)

            def rule(xp, need, g, out, a, b):
                with np.errstate(all="ignore"):  # 0 * inf = nan where no tie holds the extreme, as PyTorch
                    return _extreme_grads(xp, need, g)

            def _extreme_grads(xp, need, g):
                share = g / count
                gs = gb = None
                if need[0]:
                    gs = share * self_is
                    if not include_self:
                        gs = xp.where(touched, 0, gs)
                if need[1]:
                    gb = xp.linear(pad, unpad, xp.linear(gather, scatter, share) * src_is)
                return gs, gb
            return rule
        masked_self = np.where(x == 0, 1, x).astype(x.dtype)
        masked_self_result = _reduce_into("scatter_reduce", masked_self, 0, grid, values, reduce, include_self, wide)
        src_zero = values == 0
        zeros_at = scatter(src_zero.astype(np.int64))
        single_zero = src_zero & (gather(zeros_at) == 1)
        masked_src = np.where(single_zero, 1, values).astype(x.dtype)
        masked_src_result = _reduce_into("scatter_reduce", x, 0, grid, masked_src, reduce, include_self, wide)
        src_filled = np.where(src_zero, 1, values).astype(x.dtype)

        def prod_rule(xp, need, g, out, a, b):
            with np.errstate(all="ignore"):
                return _prod_grads(xp, need, g)

        def _prod_grads(xp, need, g):
            gs = gb = None
            if need[0]:
                gs = g * masked_self_result / masked_self
                if not include_self:
                    gs = xp.where(touched, 0, gs)
            if need[1]:
                small = xp.where(single_zero, xp.linear(gather, scatter, g * masked_src_result),
                                 xp.linear(gather, scatter, g * result) / src_filled)
                gb = xp.linear(pad, unpad, small)
            return gs, gb
        return prod_rule


@op(inplace=True)
def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """index_reduce(input, dim, index, source, reduce, *, include_self=True): the slices of ``source`` reduced
    into a copy of ``input`` at positions ``index`` of ``dim`` with reduce ``'prod'``, ``'mean'``, ``'amax'``
    or ``'amin'``. Differentiable, with PyTorch's gradients.

    >>> import tapegrad as tg
    >>> tg.index_reduce(tg.ones(3), 0, tg.tensor([0, 0]), tg.tensor([2.0, 3.0]), "prod")
    tensor([6., 1., 1.])
    """
    _tensor("index_reduce", input), _tensor("index_reduce", index, "index"), _tensor("index_reduce", source,
                                                                                      "source")
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
                           f"{reduce}.")
    x, idx = input._data, index._data
    if x.dtype == np.bool_:  # PyTorch's bool kernels: prod, amax and amin including self only
        if not include_self:
            raise NotImplementedError("index_reduce(): \"index_reduce_func_exclude_input_init\" not implemented for "
                                      "'Bool' (include_self=False of a bool tensor)")
        if x.ndim <= 1:  # PyTorch's one-dimensional kernel has no bool at all
            raise NotImplementedError("index_reduce(): \"index_func_\" not implemented for 'Bool' (a bool tensor of "
                                      f"{x.ndim} dimension{'s' if x.ndim != 1 else ''})")
        if reduce == "mean" and idx.size:
            raise NotImplementedError("index_reduce(): \"div_floor_cpu\" not implemented for 'Bool' (reduce='mean' "
                                      "of a bool tensor)")
    d = check_dim("index_reduce", dim, x.ndim)
    if x.ndim == 0:  # as PyTorch: a 0-d input takes a 0-d source and one index, as one element
        if source.ndim != 0 or idx.size != 1:
            raise RuntimeError(f"index_reduce(): source tensor shape must match self tensor shape, excluding the "
                               f"specified dimension: a 0-d input takes a 0-d source and one index, got source "
                               f"{tuple(source.shape)} and index {tuple(idx.shape)}")
        out = index_reduce(input.reshape(1), 0, index.reshape(1), source.reshape(1), reduce,
                           include_self=include_self)
        return named(out.reshape(()).clone(), "IndexReduceBackward0")  # a new tensor, not a view, as PyTorch's
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(f"index_reduce(): Index should have dimension 1 or 0 and an integer dtype, got "
                         f"{tuple(idx.shape)} of {idx.dtype}")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    want = x.shape[:d] + idx.shape + x.shape[d + 1:]
    if source._data.shape != want:
        raise RuntimeError(f"index_reduce(): source must have the shape {want} (input's, with len(index) in dim "
                           f"{d}), got {tuple(source.shape)}")
    if source._data.dtype != x.dtype:
        raise RuntimeError(f"index_reduce(): self ({x.dtype}) and source ({source._data.dtype}) must have the "
                           f"same scalar type")
    if idx.size and (idx.min() < 0 or idx.max() >= n):  # PyTorch refuses negative indices too
        raise IndexError(f"index_reduce(): index out of range in self (dimension {d} has size {n}, got indices "
                         f"from {idx.min()} to {idx.max()})")
    if reduce == "mean" and not idx.size and x.dtype == np.bool_:  # nothing to average (its kernel would refuse)
        return input.clone()
    full = np.broadcast_to(np.expand_dims(idx, tuple(k for k in range(x.ndim) if k != d)), want).astype(np.int64)
    # PyTorch's index_reduce combines in the tensor's dtype, each step rounded (not its scatter kernels' float32)
    out = _scatter_reduce(input, d, wrap(full), source, reduce, include_self, wide=False)
    return named(out, "IndexReduceBackward0")  # (PyTorch's one node; here scatter_reduce's)


# ---------------------------------------------------------------------- copies and unsafe forms
@op
def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """narrow_copy(input, dim, start, length): ``narrow`` as a new tensor (not a view).

    >>> import tapegrad as tg
    >>> tg.narrow_copy(tg.arange(5), 0, 1, 2)
    tensor([1, 2])
    """
    return named(_tensor("narrow_copy", input).narrow(dim, start, length).clone(), "NarrowCopyBackward0")


@op
def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0):
    """unsafe_chunk(input, chunks, dim=0): ``chunk``, its pieces new tensors to autograd (see ``unsafe_split``).

    >>> import tapegrad as tg
    >>> len(tg.unsafe_chunk(tg.arange(4), 2))
    2
    """
    out = _tensor("unsafe_chunk", input).chunk(chunks, dim)
    # PyTorch's unsafe_chunk is its unsafe_split, or, along a dim of size 0, its unsafe_split_with_sizes
    empty = input.ndim and input.shape[check_dim("unsafe_chunk", dim, input.ndim)] == 0
    unsafe_pieces(out, "UnsafeSplitWithSizesBackward0" if empty else "UnsafeSplitBackward0")
    return out


@op
def unsafe_split(input: Tensor, split_size, dim: int = 0):
    """unsafe_split(input, split_size, dim=0): ``split``, its pieces new tensors to autograd.

    The pieces share ``input``'s memory, as PyTorch's: an in-place write into a piece (allowed under grad mode,
    also of a leaf) is recorded on the piece alone, so ``input``'s gradient ignores it, and moves only the
    piece's version.

    >>> import tapegrad as tg
    >>> [t.tolist() for t in tg.unsafe_split(tg.arange(3), 2)]
    [[0, 1], [2]]
    """
    out = _tensor("unsafe_split", input).split(split_size, dim)
    unsafe_pieces(out, "UnsafeSplitBackward0")
    return out


@op
def unsafe_split_with_sizes(input: Tensor, split_sizes, dim: int = 0):
    """unsafe_split_with_sizes(input, split_sizes, dim=0): ``split_with_sizes``, its pieces new tensors to autograd
    (see ``unsafe_split``).

    >>> import tapegrad as tg
    >>> [t.tolist() for t in tg.unsafe_split_with_sizes(tg.arange(3), [1, 2])]
    [[0], [1, 2]]
    """
    from .combine import split_with_sizes

    out = split_with_sizes(input, split_sizes, dim)
    unsafe_pieces(out, "UnsafeSplitWithSizesBackward0")
    return out


@op
def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """nonzero_static(input, *, size, fill_value=-1): ``nonzero(input)`` with exactly ``size`` rows: truncated,
    or padded with ``fill_value``.

    >>> import tapegrad as tg
    >>> tg.nonzero_static(tg.tensor([0, 3, 4]), size=3)
    tensor([[ 1],
            [ 2],
            [-1]])
    """
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be a non-negative integer, got {size}")
    found = np.argwhere(_tensor("nonzero_static", input)._data).astype(np.int64)[:size]
    out = np.full((size, input.ndim), fill_value, dtype=np.int64)
    out[:found.shape[0]] = found
    return wrap(out)


# ---------------------------------------------------------------------- fill_diagonal_
def _diagonal_mask(x, wrap_):
    """The elements fill_diagonal_ writes (as PyTorch's as_strided views of the diagonal)."""
    if x.ndim < 2:
        raise RuntimeError(f"fill_diagonal_: dimensions must larger than 1, got {x.ndim}")
    if x.ndim > 2 and len(set(x.shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal length, got {tuple(x.shape)}")
    mask = np.zeros(x.shape, dtype=bool)
    if x.ndim == 2:
        rows, cols = x.shape
        n = builtins.min(rows, cols)
        r = np.arange(n)
        mask[r, r] = True
        if wrap_ and rows > cols + 1:
            step = cols + 1  # numpy's fill_diagonal(wrap=True): the diagonal restarts after a blank row
            flat = np.arange(0, rows * cols, step)
            mask.reshape(-1)[flat] = True
    else:
        r = np.arange(x.shape[0])
        mask[(r,) * x.ndim] = True
    return mask


def _filled_diagonal(self, fill_value, wrap_=False):
    x = self._data
    mask = _diagonal_mask(x, wrap_)
    if isinstance(fill_value, (int, float)):
        # as PyTorch's fill_diagonal_ (fill_ of the diagonal's view): c10's checked conversion to the tensor's
        # dtype: -1.5 -> -1 in int32, -1 -> 255 in uint8; 300 into int8, nan into int32, 1e40 into float32 raise
        # (and 1e5 into float16, except through one element: fill_'s unchecked one-element float16 fill)
        try:
            fill_value = C.checked_number(fill_value, np.empty(builtins.min(x.shape), x.dtype))
        except RuntimeError as e:
            raise RuntimeError(str(e).replace("fill_:", "fill_diagonal_:", 1)) from None
        if x.dtype.kind in "iub":
            fill_value = wrap(np.array(fill_value).astype(x.dtype))
    # PyTorch fills an as_strided view of the diagonal: its write through a view is recorded on self as CopySlices
    return named(E.where(wrap(mask), fill_value, self), "torch::autograd::CopySlices", (self,))


def _fill_diagonal_(self, fill_value, wrap=False):
    """fill_diagonal_(fill_value, wrap=False) -> self: the main diagonal set to ``fill_value`` in place (for
    a tall matrix, ``wrap`` restarts it every ``cols + 1`` rows, as numpy's fill_diagonal).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).fill_diagonal_(5.0)
    tensor([[5., 0., 0.],
            [0., 5., 0.]])
    """
    if not self._data.flags.writeable and self._data.size:
        # elements sharing memory (expand, meshgrid): PyTorch fills the diagonal's memory locations (fill_ of an
        # as_strided view, with no overlap check), so every element at one of them takes the value
        x = self._data
        mask = _diagonal_mask(x, wrap)
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        try:
            value = C.checked_number(fill_value, np.empty(builtins.min(x.shape), x.dtype))
        except RuntimeError as e:
            raise RuntimeError(str(e).replace("fill_:", "fill_diagonal_:", 1)) from None
        return C.fill_overlapping(self, value, "fill_diagonal_", where=mask)
    return inplace(self, "fill_diagonal_", _filled_diagonal, fill_value, wrap)


_fill_diagonal_.__name__ = _fill_diagonal_.__qualname__ = "fill_diagonal_"
Tensor.fill_diagonal_ = _fill_diagonal_


# ---------------------------------------------------------------------- products
def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """tensordot(a, b, dims=2): the sum of products over the last ``dims`` dims of ``a`` and the first of
    ``b`` (an int), or over the dims listed in ``dims = (dims_a, dims_b)``.

    >>> import tapegrad as tg
    >>> tg.tensordot(tg.ones(2, 3), tg.ones(3, 4), dims=1).shape
    tapegrad.Size([2, 4])
    """
    _tensor("tensordot", a, "a"), _tensor("tensordot", b, "b")
    if out is not None:
        raise TypeError("tensordot: out= is not supported in tapegrad")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > builtins.min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {da} and {db}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"tensordot: both inputs should have same dtype, got {a.dtype} and {b.dtype}")
    da = [check_dim("tensordot", d, a.ndim) for d in da]
    db = [check_dim("tensordot", d, b.ndim) for d in db]
    # as PyTorch: a contracted dim of size 1 on one side is broadcast, the other side's dim summed away first
    # (keepdim, in its own dtype; a sum starts from +0.0, so -0.0 there becomes +0.0); then one mm whose inner
    # size is the product of the remaining contracted sizes (1: a one-term gemm, which keeps the products' signs)
    ta, tb, k = a, b, 1
    for i, j in zip(da, db, strict=True):
        s1, s2 = a.shape[i], b.shape[j]
        if s2 == 1:
            ta = ta.sum(i, keepdim=True, dtype=ta.dtype)
        elif s1 == 1:
            tb = tb.sum(j, keepdim=True, dtype=tb.dtype)
        elif s1 != s2:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {s1} in dim {i} "
                               f"and second has size {s2} in dim {j}")
        else:
            k *= s1
    for dims in (da, db):
        for d in dims:
            if dims.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    sa, sb = [ta.shape[d] for d in fa], [tb.shape[d] for d in fb]
    am = ta.permute(fa + da).reshape(int(np.prod(sa)), k)
    bm = tb.permute(db + fb).reshape(k, int(np.prod(sb)))
    return L.mm(am, bm).reshape(sa + sb)


# ---------------------------------------------------------------------- in-place forms refuse an overlapping source
def _no_overlap(name, self, other, what):
    """PyTorch's assert_no_overlap: an in-place write whose ``other`` operand is ``self`` itself (even empty) or a
    dense view of memory ``self`` (dense) uses is refused (the one rule of tapegrad/ops/index.py's ``_overlap``)."""
    if isinstance(other, Tensor) and I._overlap(self._data, other._data, other is self):
        raise RuntimeError(f"{name}: unsupported operation: some elements of the input tensor and the "
                           f"written-to tensor refer to a single memory location ({what} overlaps the tensor "
                           f"written in place); please clone() the {what} first")


def _checked_inplace(name, method, where):
    def checked(self, *args, **kwargs):
        for position, what in where:
            other = kwargs.get(what, args[position] if len(args) > position else None)
            _no_overlap(name, self, other, what)
        return method(self, *args, **kwargs)

    checked.__name__ = checked.__qualname__ = name
    checked.__doc__ = method.__doc__
    return checked


Tensor.put_ = _checked_inplace("put_", Tensor.put_, ((0, "index"), (1, "source")))
Tensor.scatter_reduce_ = _checked_inplace("scatter_reduce_", Tensor.scatter_reduce_, ((1, "index"), (2, "src")))
Tensor.index_reduce_ = _checked_inplace("index_reduce_", Tensor.index_reduce_, ((1, "index"), (2, "source")))
