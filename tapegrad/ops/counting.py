"""Counting and searching: unique, unique_consecutive, bincount, histc, histogram, searchsorted, bucketize,
isin; and the index-constructing helpers tril_indices, triu_indices, cartesian_prod, combinations, block_diag,
vander, cov, corrcoef, cdist.

The counting ops return integers or counts and have no gradient, as in PyTorch; the constructions are written
with tapegrad's differentiable ops (their gradients, of every order, are those ops').
"""

from __future__ import annotations

import builtins
import itertools
from collections import namedtuple
from typing import Literal

import numpy as np

from .. import _threads, creation, dtypes
from ..autograd.declare import Tensor, check_dim, named, op, record, wrap
from ..autograd.inplace import unview as _unview
from . import _stdsort
from . import elementwise as E
from . import index as I
from . import linalg as L
from . import reduce as R
from . import shape as S

__all__ = ["unique", "unique_consecutive", "bincount", "histc", "histogram", "searchsorted", "bucketize", "isin",
           "tril_indices", "triu_indices", "cartesian_prod", "combinations", "block_diag", "vander", "cov",
           "corrcoef", "cdist"]

# mypy wants the variable's name; the class keeps PyTorch's (torch.return_types.histogram)
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])  # type: ignore[name-match]


def _tensor(op_name, x, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op_name}: argument '{what}' must be a Tensor, not {type(x).__name__}")
    return x


# ---------------------------------------------------------------------- unique
def _unique_along(x, dim, consecutive, inverse_wanted=True):
    """(values, inverse, counts) of the slices of ``x`` along ``dim`` (None: the elements, flattened)."""
    if dim is None:
        flat = x.reshape(-1)
        if consecutive:
            start = np.ones(flat.shape[0], dtype=bool)
            start[1:] = flat[1:] != flat[:-1]  # NaN != NaN: each NaN is a value of its own, as PyTorch
            values = flat[start]
            inverse = np.cumsum(start) - 1
        else:
            values, inverse = np.unique(flat, return_inverse=True, equal_nan=False)
            # (where each NaN goes shows only in the inverse indices)
            if flat.shape[0] > 1 and values.dtype.kind == "f" and (
                    _both_zeros(flat) or (inverse_wanted and np.isnan(values[-1]))):
                values, inverse = _unique_as_std_sort(flat)
        counts = np.bincount(inverse.reshape(-1), minlength=values.shape[0]) if flat.size else np.zeros(0, np.int64)
        return values, inverse.reshape(x.shape), counts
    moved = np.moveaxis(x, dim, 0)
    n = moved.shape[0]
    rows = moved.reshape(n, -1)
    if consecutive:
        start = np.ones(n, dtype=bool)
        start[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        picked = rows[start]
        inverse = np.cumsum(start) - 1
    else:
        if rows.dtype.kind == "f" and rows.size and np.isnan(rows).any():
            picked, inverse = _unique_rows_as_std_sort(rows)
        else:
            picked, inverse = np.unique(rows, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            if rows.dtype.kind == "f" and _both_zeros(rows):
                picked = _first_rows(rows, picked)
    counts = np.bincount(inverse, minlength=picked.shape[0]) if n else np.zeros(0, np.int64)
    values = np.moveaxis(picked.reshape((picked.shape[0],) + moved.shape[1:]), 0, dim)
    return values, inverse, counts


def _both_zeros(x):
    """Whether ``x`` holds zeros of both signs (where which one unique keeps matters)."""
    zero = x == 0
    return bool(zero.any()) and np.unique(np.signbit(x[zero])).size == 2


def _nan_last_pair_less(a, b):
    """PyTorch's KeyValueCompAsc on (value, index) pairs: ``a < b``, or NaN after every number."""
    return a[0] < b[0] or (b[0] != b[0] and a[0] == a[0])


def _unique_as_std_sort(flat):
    """(values, inverse) as PyTorch's CPU unique makes them: it sorts (value, index) pairs with ``std::sort``
    (not stable: up to 16 elements an insertion sort, beyond that libstdc++'s introsort moves equal values), keeps
    the first element of each run of equal values (so which zero of 0.0 and -0.0) and numbers each NaN apart, in
    the order the sort left them (aten/src/ATen/native/Unique.cpp, unique_cpu_sorted_template;
    cpu/SortingKernel.cpp). Python speed: only called with zeros of both signs or a NaN."""
    pairs = _stdsort.std_sort(list(zip(flat.tolist(), range(flat.shape[0]))), _nan_last_pair_less)
    keep, inverse, prev = [], np.empty(flat.shape[0], np.int64), None
    for v, i in pairs:
        if not keep or v != prev:  # NaN != NaN: each NaN a value of its own
            keep.append(v)
        prev = v
        inverse[i] = len(keep) - 1
    return np.array(keep, flat.dtype), inverse


def _lexicographic_less(lists):
    """_unique_dim_cpu_template's comparator on slice indices: the first element where ``<`` or ``>`` holds
    decides (NaN compares neither way, so it is skipped)."""
    def less(a, b):
        for x, y in zip(lists[a], lists[b]):
            if x < y:
                return True
            if x > y:
                return False
        return False

    return less


def _unique_rows_as_std_sort(rows):
    """(slices, inverse) as PyTorch's CPU unique(dim=) makes them when a slice holds NaN: it sorts the slice
    indices with ``std::sort`` and the lexicographic ``<``, which NaN makes no strict weak order (so where a NaN
    slice lands is libstdc++'s order of moves), then keeps the first slice of each run of slices equal to it
    (``at::equal``: NaN equals nothing, so each slice with a NaN stays apart) (aten/src/ATen/native/Unique.cpp,
    _unique_dim_cpu_template, _unique_dim_cpu_impl). Python speed: only with a NaN."""
    lists = rows.tolist()
    order = _stdsort.std_sort(range(len(lists)), _lexicographic_less(lists))
    firsts, inverse = [], np.empty(len(lists), np.int64)
    for r in order:
        if not firsts or not all(x == y for x, y in zip(lists[firsts[-1]], lists[r])):
            firsts.append(r)
        inverse[r] = len(firsts) - 1
    return rows[firsts], inverse


def _first_rows(rows, picked):
    """The slices PyTorch's CPU unique(dim=) keeps where equal slices differ in the sign of a zero: it sorts the
    slice indices with ``std::sort`` and a lexicographic ``<`` and keeps the first slice of each run of equal
    ones (aten/src/ATen/native/Unique.cpp, _unique_dim_cpu_template)."""
    lists = rows.tolist()
    order = _stdsort.std_sort(range(len(lists)), _lexicographic_less(lists))
    firsts = [order[0]] + [b for a, b in zip(order, order[1:]) if lists[a] != lists[b]]
    if len(firsts) != picked.shape[0]:  # (not expected without NaN: numpy's runs are the same)
        return picked
    return rows[firsts]
def _not_differentiable(array, inputs, node, what):
    """``array`` as the result of an op PyTorch records without a derivative: it requires grad when a float input
    does (PyTorch's ``Unique2Backward0``, ``NotImplemented`` nodes), and its backward raises."""
    def rule(xp, *args):
        raise RuntimeError(f"the derivative for '{what}' is not implemented (as in PyTorch)")

    return record(array, tuple(t for t in inputs if isinstance(t, Tensor)), rule, node)


def _unique_result(op_name, input, dim, return_inverse, return_counts, consecutive):
    x = _tensor(op_name, input)._data
    if dim is not None:
        dim = check_dim(op_name, dim, x.ndim)
        if x.size == 0:  # PyTorch's checks of an empty input, then its empty results
            if x.shape.count(0) != 1:
                raise RuntimeError(f"{op_name}: Number of zero sized dimensions is more than one, so unique cannot "
                                   f"be applied (input of shape {tuple(x.shape)})")
            if x.shape[dim] != 0:
                raise RuntimeError(f"{op_name}: There are 0 sized dimensions, and they aren't selected, so unique "
                                   f"cannot be applied (input of shape {tuple(x.shape)}, dim={dim})")
    if dim is not None and x.size == 0:
        values, inverse, counts = x.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64)
    else:
        values, inverse, counts = _unique_along(x, dim, consecutive, return_inverse)
    node = "UniqueConsecutiveBackward0" if consecutive else "Unique2Backward0" if dim is None else "UniqueDimBackward0"
    what = op_name if consecutive else "_unique2" if dim is None else "unique_dim"
    if np.shares_memory(values, x):
        values = values.copy()
    # (along a dim the values keep PyTorch's layout: contiguous with that dim first, then moved back into place)
    out = [_not_differentiable(values, (input,), node, what)]
    if return_inverse:
        out.append(wrap(inverse.astype(np.int64)))
    if return_counts:
        out.append(wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@op
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim=None):
    """unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None): the distinct elements
    (or slices along ``dim``), sorted; with ``return_inverse`` where each element went, with ``return_counts``
    how often each occurs. NaNs are distinct from each other, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.unique(tg.tensor([3, 1, 3]), return_inverse=True, return_counts=True)
    (tensor([1, 3]), tensor([1, 0, 1]), tensor([1, 2]))
    """
    return _unique_result("unique", input, dim, return_inverse, return_counts, False)


@op
def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """unique_consecutive(input, return_inverse=False, return_counts=False, dim=None): each run of equal
    consecutive elements (or slices along ``dim``) reduced to one.

    >>> import tapegrad as tg
    >>> tg.unique_consecutive(tg.tensor([1, 1, 2, 2, 1]), return_counts=True)
    (tensor([1, 2, 1]), tensor([2, 2, 1]))
    """
    return _unique_result("unique_consecutive", input, dim, return_inverse, return_counts, True)


# ---------------------------------------------------------------------- counts and histograms
@op
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """bincount(input, weights=None, minlength=0): how often each value 0, 1, ... occurs in the 1-D
    non-negative integer ``input`` (int64), or the sums of ``weights`` there (float weights keep their dtype,
    integer ones give float64).

    >>> import tapegrad as tg
    >>> tg.bincount(tg.tensor([0, 2, 2]))
    tensor([1, 0, 2])
    """
    x = _tensor("bincount", input)._data
    if x.dtype == np.bool_:
        raise NotImplementedError("bincount: not implemented for bool tensors, as in PyTorch (\"bincount_cpu\" not "
                                  "implemented for 'Bool')")
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got shape {tuple(x.shape)} "
                           f"of {x.dtype}")
    if x.size and x.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs (got a negative value)")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if weights is None or x.size == 0:  # PyTorch: an empty input gives int64 zeros, weights or not
        return wrap(np.bincount(x, minlength=minlength).astype(np.int64))
    w = _tensor("bincount", weights, "weights")._data
    if w.shape != x.shape:
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input, got "
                           f"{tuple(w.shape)} and {tuple(x.shape)}")
    dtype = np.float32 if w.dtype == np.float32 else np.float64  # as PyTorch: float32 weights, else float64
    out = np.bincount(x, weights=w.astype(np.float64), minlength=minlength).astype(dtype)
    return _not_differentiable(out, (weights,), "torch::autograd::NotImplemented", "aten::bincount")


def _histc_range(x, lo, hi):
    """histc's outer edges as PyTorch picks them (Histogram.cpp, histc_select_outer_bin_edges): min = max takes
    the data's range; an empty range is widened by 1 on each side, and in float32/float64 a side that 1 cannot
    move (|x| >= 2 ** 24 in float32) by one step to the next representable value of the dtype (PyTorch 2.13;
    float16 keeps the double-precision widening, which its edges may then round away)."""
    lo, hi = float(lo), float(hi)
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        v = lo
        lo, hi = lo - 1, hi + 1
        if x.dtype != np.float16 and np.isfinite(v):
            t = x.dtype.type
            left, right = t(lo), t(hi)
            if left == t(v):
                left = np.nextafter(t(v), t(-np.inf))
            if right == t(v):
                right = np.nextafter(t(v), t(np.inf))
            lo, hi = float(left), float(right)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"histc: range of [{lo}, {hi}] is not finite")
    if not lo < hi:
        raise RuntimeError(f"histc: max must be larger than min, got min {lo} and max {hi}")
    _edges_fit("histc", lo, hi, x.dtype)
    return lo, hi


def _edges_fit(op_name, lo, hi, dtype):
    """PyTorch makes the bin edges with linspace in the input's dtype, whose checked conversion refuses an end
    beyond the dtype's range (a range of [-1, 1e30] for a float16 input)."""
    for v in (lo, hi):
        if abs(v) > float(np.finfo(dtype).max):
            raise RuntimeError(f"{op_name}: the range end {v!r} cannot be converted to the input's dtype {dtype} "
                               f"without overflow (PyTorch makes the bin edges with linspace in that dtype)")


@op
def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """histc(input, bins=100, min=0, max=0): counts of the elements in ``bins`` equal-width bins over
    [min, max] (min = max: the data's range); elements outside are ignored. Same float dtype as input.

    >>> import tapegrad as tg
    >>> tg.histc(tg.tensor([1.0, 2.0, 1.0, 5.0]), bins=4, min=0, max=4)
    tensor([0., 2., 1., 0.])
    """
    x = _tensor("histc", input)._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"histc: not implemented for {x.dtype} tensors (floating point only)")
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, got {bins}")
    if float(min) == float(max) and x.size and np.isnan(x).any():  # the range taken from the data is NaN
        raise RuntimeError("histc: range of [nan, nan] is not finite (the input has NaN and no range was given), "
                           "as PyTorch")
    lo, hi = _histc_range(x, min, max)
    # NOTE: PyTorch's histc kernel (HistogramKernel.cpp, LINEAR_INTERPOLATION) puts x in bin
    # int((x - first) * bins / (last - first)), each operation rounded to the input's dtype, with first and last
    # the ends of linspace(lo, hi, bins + 1) in that dtype (NaN when its step overflows: then nothing is counted),
    # the last bin closed; a position that is not finite (0/0 where the edges collapse in float16, an overflowing
    # product) casts to INT64_MIN, whose write lands in bin 0
    t = x.dtype.type
    with np.errstate(all="ignore"):
        first, last = t(lo), t(hi)
        if not np.isfinite((last - first) / t(bins)):  # linspace's step
            return wrap(np.zeros(bins, x.dtype))
        flat = x.reshape(-1)
        flat = flat[(flat >= first) & (flat <= last)]
        pos = (flat - first) * t(bins) / (last - first)
        bad = ~np.isfinite(pos) | (pos >= 2.0 ** 63)
        index = np.where(bad, 0, pos).astype(np.int64)
    index = np.minimum(index, bins - 1)  # the last bin holds its right edge
    if _counts_can_stall(x):
        kept = np.flatnonzero((x.reshape(-1) >= first) & (x.reshape(-1) <= last))
        return wrap(_thread_bin_sums(kept, x.size, index, np.ones(len(index), x.dtype), bins))
    return wrap(np.bincount(index, minlength=bins).astype(x.dtype))


def _density(hist, edges):
    """PyTorch's normalization (histogramdd_out_cpu_template): the bins divided by their total, then by their
    widths (``edges.diff()``), each a division in the dtype (float16's in float32, rounded once)."""
    t = hist.dtype.type
    wide = np.float32 if t is np.float16 else t
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = hist.astype(np.float64).sum().astype(t)  # NOTE: PyTorch sums in its order; exact for counts
        hist = (hist.astype(wide) / wide(total)).astype(t)
        return (hist.astype(wide) / np.diff(edges).astype(wide)).astype(t)


_GRAIN = 200  # HISTOGRAM_GRAIN_SIZE: the fewest values PyTorch's histogram kernel gives a thread


def _counts_can_stall(x):
    """Whether counting one by one in float16, as PyTorch's kernel does, can differ from the exact count: a bin
    of float16 stops growing at 2048 (2048 + 1 rounds to 2048)."""
    return x.dtype == np.float16 and x.size > 2048


def _thread_bin_sums(positions, numel, index, weights, bins):
    """The bins of PyTorch's histogram kernel (HistogramKernel.cpp): at::parallel_for splits the input's
    ``numel`` positions into one part per thread (a single part up to 200 of them, at most one per 200
    otherwise); each thread adds the weights of its part's values (``positions``, binned to ``index``) to its own
    bins one after another in the input's dtype; the threads' bins are then summed (float16 in float32)."""
    dtype = weights.dtype
    threads = _threads.get_num_threads()
    if numel <= _GRAIN or threads == 1:
        parts = [len(positions)]
    else:
        used = min(threads, -(-numel // _GRAIN))
        chunk = -(-numel // used)
        parts = np.searchsorted(positions, np.arange(chunk, numel, chunk)).tolist() + [len(positions)]
    sums = np.zeros((len(parts), bins), dtype)
    start = 0
    for row, end in zip(sums, parts):
        np.add.at(row, index[start:end], weights[start:end])  # one rounding per addition, in the dtype
        start = end
    if len(sums) == 1:
        return sums[0]
    return sums.astype(np.float32).sum(0).astype(dtype) if dtype == np.float16 else sums.sum(0)


def _histogram_weight(x, w):
    """PyTorch's checks of histogram's weight (histogramdd_check_inputs): its dtype, then its shape."""
    if w is None:
        return
    if w.dtype != x.dtype:
        raise RuntimeError(f"histogram: if weight tensor is provided, input tensor and weight tensor should have the "
                           f"same dtype, but got input({x.dtype}), and weight({w.dtype})")
    if w.shape != x.shape:
        raise RuntimeError(f"histogram: weight should have the same shape as input, got {tuple(w.shape)} and "
                           f"{tuple(x.shape)}")


@op
def histogram(input: Tensor, bins=100, *, range=None, weight: Tensor | None = None, density: bool = False):
    """histogram(input, bins, *, range=None, weight=None, density=False) -> (hist, bin_edges): a histogram
    with ``bins`` equal-width bins (an int) or the given edges (a 1-D tensor).

    >>> import tapegrad as tg
    >>> tg.histogram(tg.tensor([1.0, 2.0, 1.0, 5.0, 7.0]), bins=3).hist
    tensor([3., 0., 2.])
    """
    x = _tensor("histogram", input)._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"histogram: not implemented for {x.dtype} tensors (floating point only)")
    w = None if weight is None else _tensor("histogram", weight, "weight")._data
    flat = x.reshape(-1)
    if isinstance(bins, Tensor):
        if range is not None:
            raise TypeError("histogram(): range= is not accepted with a tensor of bin edges (PyTorch's signatures "
                            "take it with an int bins only)")
        if bins._data.dtype != x.dtype:
            raise RuntimeError(f"histogram: input tensor and bins tensors should have the same dtype, but got "
                               f"input with dtype {x.dtype} and bins with dtype {bins._data.dtype}")
        edges = bins._data
        if edges.ndim != 1 or edges.shape[0] < 2:
            raise RuntimeError("histogram: bins tensor should have one dimension and at least 2 elements")
        _histogram_weight(x, w)
    else:
        if int(bins) <= 0:
            raise RuntimeError(f"histogram: bins must be > 0, got {bins}")
        # NOTE: PyTorch infers the range from the data with a kernel of float32 and float64 only
        # (histogram_select_outer_bin_edges_impl, HistogramKernel.cpp): float16 computes with a range= or an
        # empty input, and refuses otherwise, before it checks the weight
        if range is None and flat.size and x.dtype == np.float16:
            raise NotImplementedError("\"histogramdd\" not implemented for 'Half' (histogram: PyTorch infers the "
                                      "range of a float16 input with no kernel for it; pass range=)")
        _histogram_weight(x, w)
        # the first extreme value in the input's order (PyTorch's aminmax along a dim), which picks between -0.0
        # and +0.0 where numpy's min and max may not
        lo, hi = (float(flat[flat.argmin()]), float(flat[flat.argmax()])) if range is None and flat.size else \
            (0.0, 1.0) if range is None else (float(range[0]), float(range[1]))  # empty: [0, 1], as numpy
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"histogram: the range [{lo}, {hi}] is not finite")
        if lo > hi:
            raise RuntimeError(f"histogram: min should not exceed max, got min {lo} max {hi}")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5  # numpy's and PyTorch's widening of an empty range
        _edges_fit("histogram", lo, hi, x.dtype)
        edges = creation.float_linspace(lo, hi, int(bins) + 1, x.dtype)  # PyTorch's linspace values, exactly
    e = edges.astype(np.float64)
    if w is None and not _counts_can_stall(flat):
        hist, _ = np.histogram(flat, bins=e)
    else:
        # NOTE: numpy's weighted histogram differences a cumulative sum of the sorted weights, so one infinite
        # weight (even of a value out of the range) made other bins inf - inf = nan; sum each bin's own weights,
        # as PyTorch, over the values in [first edge, last edge] (the last bin is closed)
        n = e.shape[0] - 1
        keep = (flat >= e[0]) & (flat <= e[-1])
        idx = np.minimum(np.searchsorted(e, flat[keep], side="right") - 1, n - 1)
        weights = np.ones(len(idx), x.dtype) if w is None else w.reshape(-1)[keep]
        hist = _thread_bin_sums(np.flatnonzero(keep), len(flat), idx, weights, n)
    hist = hist.astype(x.dtype)
    if density:
        hist = _density(hist, edges)
    inputs = (input, bins, weight)
    none = "torch::autograd::NotImplemented"
    return histogram_result(_not_differentiable(hist, inputs, none, "aten::histogram"),
                            _not_differentiable(np.array(edges), inputs, none, "aten::histogram"))


# ---------------------------------------------------------------------- searching
@op
def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False, side=None,
                 sorter: Tensor | None = None) -> Tensor:
    """searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None): where
    each value of ``input`` would be inserted into the innermost dim of ``sorted_sequence`` to keep it sorted
    (``right``/``side='right'``: after equal values). The leading dims of both must match, or the sequence is
    1-D. ``input`` may be a number.

    >>> import tapegrad as tg
    >>> tg.searchsorted(tg.tensor([1, 3, 5, 7]), tg.tensor([3, 6]))
    tensor([1, 3])
    """
    seq = _tensor("searchsorted", sorted_sequence, "sorted_sequence")._data
    scalar = not isinstance(input, Tensor)
    vals = np.asarray(input, dtype=np.result_type(seq.dtype, type(input))) if scalar else input._data
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted: side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted: side and right can't be set to opposites, got side of left while "
                               "right was True")
        right = side == "right"
    if sorter is not None:
        order = _tensor("searchsorted", sorter, "sorter")._data
        if order.shape != seq.shape:
            raise RuntimeError(f"searchsorted: sorter and sorted_sequence must have the same shape, got "
                               f"{tuple(order.shape)} and {tuple(seq.shape)}")
        seq = np.take_along_axis(seq, order.astype(np.int64), -1)
    if seq.ndim == 0:
        raise RuntimeError("searchsorted: sorted_sequence should have at least one dimension")
    how: Literal["left", "right"] = "right" if right else "left"
    if seq.ndim == 1:
        out = np.searchsorted(seq, vals, side=how)
    else:
        if scalar or vals.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(f"searchsorted: boundaries tensor should be 1 dimension or the first N-1 dimensions "
                               f"of boundaries tensor and input value tensor must match, but we got boundaries "
                               f"tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
        rows, vrows = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        out = np.stack([np.searchsorted(r, v, side=how) for r, v in zip(rows, vrows, strict=True)]) \
            .reshape(vals.shape) if rows.shape[0] else np.zeros(vals.shape, np.int64)
    return wrap(np.asarray(out).astype(np.int32 if out_int32 else np.int64))


@op
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """bucketize(input, boundaries, *, out_int32=False, right=False): the index of the bucket of each value
    among the 1-D sorted ``boundaries``: ``boundaries[i-1] < x <= boundaries[i]`` (``right``: ``<= x <``).

    >>> import tapegrad as tg
    >>> tg.bucketize(tg.tensor([1, 3, 6]), tg.tensor([1, 3, 5]), right=True)
    tensor([1, 2, 3])
    """
    if _tensor("bucketize", boundaries, "boundaries").ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@op
def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """isin(elements, test_elements, *, assume_unique=False, invert=False): whether each of ``elements`` is
    in ``test_elements`` (either may be a number).

    >>> import tapegrad as tg
    >>> tg.isin(tg.tensor([1, 2, 3]), tg.tensor([2, 5]))
    tensor([False,  True, False])
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin: expected at least one Tensor among elements and test_elements")
    a = elements._data if isinstance(elements, Tensor) else np.asarray(elements)
    b = test_elements._data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    return wrap(np.isin(a, b, assume_unique=assume_unique, invert=invert).reshape(a.shape))


# ---------------------------------------------------------------------- index constructions
def _triangle_indices(op_name, row, col, offset, upper, dtype):
    if row < 0 or col < 0:
        raise RuntimeError(f"{op_name}: row and col must be non-negative, got {row} and {col}")
    r, c = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    return wrap(np.stack([r, c]).astype(dtype).reshape(2, -1))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    """tril_indices(row, col, offset=0, *, dtype=int64): the (2, N) coordinates of the lower triangle of a
    row-by-col matrix (with its ``offset`` diagonal), row by row.

    >>> import tapegrad as tg
    >>> tg.tril_indices(3, 3)
    tensor([[0, 1, 1, 2, 2, 2],
            [0, 0, 1, 0, 1, 2]])
    """
    return _triangle_indices("tril_indices", row, col, offset, False, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    """triu_indices(row, col, offset=0, *, dtype=int64): the (2, N) coordinates of the upper triangle.

    >>> import tapegrad as tg
    >>> tg.triu_indices(2, 3, 1)
    tensor([[0, 0, 1],
            [1, 2, 2]])
    """
    return _triangle_indices("triu_indices", row, col, offset, True, dtype)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """cartesian_prod(*tensors): the cartesian product of 1-D tensors, one combination per row (a single
    tensor is returned as it is).

    >>> import tapegrad as tg
    >>> tg.cartesian_prod(tg.tensor([1, 2]), tg.tensor([3, 4]))
    tensor([[1, 3],
            [1, 4],
            [2, 3],
            [2, 4]])
    """
    for t in tensors:
        if _tensor("cartesian_prod", t, "tensors").ndim != 1:
            raise RuntimeError(f"cartesian_prod: expects one-dimensional tensors, got shape {tuple(t.shape)}")
    if not tensors:
        raise RuntimeError("cartesian_prod: expects a non-empty list of tensors")
    if len(tensors) == 1:
        return tensors[0]
    grids = S.meshgrid(*tensors, indexing="ij")
    return S.stack([g.reshape(-1) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """combinations(input, r=2, with_replacement=False): the length-``r`` combinations of the 1-D ``input``'s
    elements (as itertools.combinations), one per row.

    >>> import tapegrad as tg
    >>> tg.combinations(tg.tensor([1, 2, 3]))
    tensor([[1, 2],
            [1, 3],
            [2, 3]])
    """
    if _tensor("combinations", input).ndim != 1:
        raise RuntimeError(f"combinations: expect a 1D vector, but got shape {tuple(input.shape)}")
    if r < 0:
        raise RuntimeError(f"combinations: expect a non-negative number, but got {r}")
    if r == 0:
        return wrap(np.zeros(0, dtype=input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    # PyTorch's composition ends in a stack (StackBackward0): a new tensor, not a view of this one's temporary
    return named(_unview(I.index_select(input, 0, wrap(index.reshape(-1))).reshape(-1, r)), "StackBackward0")


def block_diag(*tensors: Tensor) -> Tensor:
    """block_diag(*tensors): a block-diagonal matrix of the given tensors (0-d, 1-d as a row, or 2-d).

    >>> import tapegrad as tg
    >>> tg.block_diag(tg.tensor([[1, 2]]), tg.tensor([[3], [4]]))
    tensor([[1, 2, 0],
            [0, 0, 3],
            [0, 0, 4]])
    """
    mats = []
    for t in tensors:
        _tensor("block_diag", t, "tensors")
        if t.ndim > 2:
            raise RuntimeError(f"block_diag: Input tensors must have 2 or fewer dimensions. Input has {t.ndim} "
                               f"dimensions")
        mats.append(t.reshape(1, -1) if t.ndim < 2 else t)
    if not mats:
        return wrap(np.zeros((1, 0), dtype=dtypes.get_default_dtype()))
    # PyTorch's promotion: the highest category present (bool < integer < float), widest dtype within it
    category = builtins.max("biuf".index(m._data.dtype.kind) // 1 for m in mats)
    kinds = {0: "b", 1: "iu", 2: "iu", 3: "f"}[category]
    dtype = None
    for m in mats:
        if m._data.dtype.kind in kinds:
            dtype = m._data.dtype if dtype is None else np.promote_types(dtype, m._data.dtype)
    rows = builtins.sum(m.shape[0] for m in mats)
    cols = builtins.sum(m.shape[1] for m in mats)
    pieces, c = [], 0
    for m in mats:
        m = m.to(dtype) if m._data.dtype != dtype else m
        pieces.append(S.cat([wrap(np.zeros((m.shape[0], c), dtype)), m,
                             wrap(np.zeros((m.shape[0], cols - c - m.shape[1]), dtype))], 1))
        c += m.shape[1]
    # PyTorch's one node BlockDiagBackward0 (a new tensor, not a view of this composition's cat)
    return named(_unview(S.cat(pieces, 0).reshape(rows, cols)), "BlockDiagBackward0")


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """vander(x, N=None, increasing=False): the Vandermonde matrix of the 1-D ``x``: columns ``x ** (N-1)``, ...,
    ``x ** 0`` (or increasing powers).

    >>> import tapegrad as tg
    >>> tg.vander(tg.tensor([1, 2, 3]), N=3)
    tensor([[1, 1, 1],
            [4, 2, 1],
            [9, 3, 1]])
    """
    if _tensor("vander", x, "x").ndim != 1:
        raise RuntimeError(f"vander: x must be a one-dimensional tensor, got shape {tuple(x.shape)}")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"vander: N must be non-negative, got {N}")
    work = x.to(dtypes.int64) if x._data.dtype.kind in "biu" else x
    if n == 0:
        return wrap(np.zeros((x.shape[0], 0), dtype=work._data.dtype))
    cols = [wrap(np.ones(work._data.shape, dtype=work._data.dtype))]
    for _ in range(1, n):
        cols.append(cols[-1] * work)
    out = S.stack(cols, 1)
    return out if increasing else out.flip(1)


@op
def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None, aweights: Tensor | None = None
        ) -> Tensor:
    """cov(input, *, correction=1, fweights=None, aweights=None): the covariance matrix of the variables in the
    rows of ``input`` (observations in columns), as numpy.cov.

    >>> import tapegrad as tg
    >>> tg.cov(tg.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    _tensor("cov", input)
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    if input._data.dtype == np.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    x_int = x._data
    if x._data.dtype.kind != "f":
        x = x.to(dtypes.get_default_dtype())
    if isinstance(aweights, Tensor) and aweights._data.dtype.kind == "f":
        if x.shape[1] == 1 and fweights is None:
            # NOTE: as PyTorch: one observation with aweights alone takes a path that zeroes the input (integers
            # become float32) and multiplies mm(x, (x * aweights).t()) without promoting x: mixed dtypes fail
            base = x_int.dtype if x_int.dtype.kind == "f" else np.dtype(np.float32)
            wide = dtypes.promote(np.zeros(1, base), aweights._data)
            if wide != base:
                raise RuntimeError(f"cov(): expected m1 and m2 to have the same dtype, but got: {base} != {wide} "
                                   f"(one observation with {aweights._data.dtype} aweights of a {x_int.dtype} "
                                   f"input, as PyTorch's mm)")
            x = x.to(dtypes.promote(x._data, aweights._data))
        elif x_int.dtype.kind != "f":  # PyTorch's (x * aweights) of integers takes the weights' float dtype
            x = x.to(aweights._data.dtype)
        else:
            x = x.to(dtypes.promote(x._data, aweights._data))  # PyTorch's (x * aweights) promotes
    n = x.shape[1]
    w = None
    if fweights is not None:
        f = _tensor("cov", fweights, "fweights")
        if f._data.dtype.kind not in "iu" or f.ndim > 1 or f.numel() != n:
            raise RuntimeError(f"cov(): expected fweights to be a 1-D integer tensor with {n} elements")
        if (f._data < 0).any():
            raise RuntimeError("cov(): fweights cannot be negative")
        w = f.to(x.dtype)
    if aweights is not None:
        a = _tensor("cov", aweights, "aweights")
        if a._data.dtype.kind != "f" or a.ndim > 1 or a.numel() != n:
            raise RuntimeError(f"cov(): expected aweights to be a 1-D floating point tensor with {n} elements")
        if (a._data < 0).any():
            raise RuntimeError("cov(): aweights cannot be negative")
        w = a.to(x.dtype) if w is None else w * a.to(x.dtype)
    if w is None:
        total = float(n)
        if input._data.dtype.kind in "iu":
            # NOTE: as PyTorch, the integers are summed exactly (int64) before the division in float: a mean of
            # values beyond float32's exact range is not that of their float32 roundings
            with np.errstate(over="ignore"):
                sums = x_int.sum(axis=1, keepdims=True, dtype=np.int64)
            mean = wrap((sums.astype(x._data.dtype) / x._data.dtype.type(n)).astype(x._data.dtype))
        else:  # PyTorch's sum, rounded to the dtype, then divided by n (not mean's one rounding: float16 differs)
            mean = x.sum(1, keepdim=True) / wrap(np.asarray(n, np.int64))
        norm = total - correction
    else:
        total = w.sum()
        if not total._data.any():
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        mean = (x * w).sum(1, keepdim=True) / total
        if correction == 0:
            norm = total
        elif aweights is None:
            norm = total - correction
        else:
            norm = total - correction * (w * aweights.to(x.dtype)).sum() / total
    xm = x - mean
    xw = xm if w is None else xm * w
    c = L.matmul(xw, xm.t())
    norm_t = norm if isinstance(norm, Tensor) else wrap(np.asarray(norm, dtype=x._data.dtype))
    norm_t = E.clamp_min(norm_t, 0)
    out = c / norm_t
    return out.squeeze()  # as PyTorch: one variable gives a 0-d variance


@op
def corrcoef(input: Tensor) -> Tensor:
    """corrcoef(input): the Pearson correlation coefficients of the variables in the rows of ``input``
    (clipped to [-1, 1]), as numpy.corrcoef.

    >>> import tapegrad as tg
    >>> tg.corrcoef(tg.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    std = E.sqrt(d)
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return E.clamp(c, -1, 1)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"
          ) -> Tensor:
    """cdist(x1, x2, p=2.0, compute_mode=...): the p-norm distances between each row of ``x1`` (..., P, M) and
    each row of ``x2`` (..., R, M): (..., P, R); batch dims broadcast.

    >>> import tapegrad as tg
    >>> tg.cdist(tg.tensor([[0.0, 0.0]]), tg.tensor([[3.0, 4.0], [1.0, 0.0]]))
    tensor([[5., 1.]])
    """
    _tensor("cdist", x1, "x1"), _tensor("cdist", x2, "x2")
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: "
                           f"{x2.shape[-1]}")
    if x1._data.dtype.kind != "f" or x2._data.dtype.kind != "f":
        raise RuntimeError("cdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 0:  # the count of differing coordinates: PyTorch's node CdistBackward0 with a zero gradient
        count = (diff._data != 0).sum(-1).astype(x1._data.dtype)
        return record(count, (x1, x2), _cdist_zero_rule, "CdistBackward0")
    if p == 2:
        # NOTE: sqrt(sum of squares) with gradient 0 where the distance is 0 (PyTorch's cdist backward)
        sq = (diff * diff).sum(-1)
        zero = sq == 0
        out = E.where(zero, 0.0, E.sqrt(E.where(zero, 1.0, sq)))
        rows = builtins.max(x1.shape[-2], x2.shape[-2])
        if compute_mode == "use_mm_for_euclid_dist" or compute_mode == "use_mm_for_euclid_dist_if_necessary" \
                and rows > 25:
            return out  # (PyTorch's matrix-product form there is a composition of its own, ending in a view)
    else:
        out = R.norm(diff, p, -1)
    return named(out, "CdistBackward0")  # PyTorch's one node of _cdist_forward


def _cdist_zero_rule(xp, need, g, out, a, b):
    return xp.zeros_like(a) if need[0] else None, xp.zeros_like(b) if need[1] else None
