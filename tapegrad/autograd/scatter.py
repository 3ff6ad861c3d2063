"""Scatter-add on numpy arrays: the gradient of indexing (``x[index]``) and of gathers.

``numpy_xp.add_at`` (``autograd/xp.py``) is ``scatter_add_array``; the indexing ops use ``add_into`` directly.
"""

import math

import numpy as np

_FULL = slice(None)


def scatter_add_array(shape, index, values, unique=None):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated positions accumulate, each sum rounded to
    ``values``' dtype, as PyTorch's ``index_put_(..., accumulate=True)``; ``scatter_add_wide`` for its scatter kernels).

    ``unique=True`` promises that no position repeats (plain assignment is then exact); by default it is
    inferred: an index without integer arrays (ints, slices, None, Ellipsis, boolean masks) never repeats.

    >>> scatter_add_array((3,), (np.array([0, 0, 2]),), np.array([1.0, 2.0, 3.0]))
    array([3., 0., 3.])
    """
    out = np.zeros(shape, dtype=values.dtype)
    add_into(out, index, values, unique, fresh=True)
    return out


def scatter_add_wide(shape, index, values):
    """``scatter_add_array`` as PyTorch's scatter kernels add (gather's gradient is ``zeros.scatter_add``): float16
    and bfloat16 accumulate in float32, rounded once at the end (``reduce_at_wide``).

    >>> scatter_add_wide((1,), np.array([0, 0, 0]), np.array([-1, -60000, 60000], np.float16))
    array([-1.], dtype=float16)
    """
    out = np.zeros(shape, dtype=values.dtype)
    reduce_at_wide(np.add, out, index, values)
    return out


def reduce_at_wide(ufunc, out, index, values):
    """``ufunc.at(out, index, values)`` (np.add or np.multiply; add as ``add_into``) in the precision of PyTorch's
    scatter kernels (scatter_add, scatter(reduce=), scatter_reduce: ``ScatterGatherKernel.cpp``): a float16 or
    bfloat16 ``out`` is copied to a float32 buffer, the values are combined there in index order and the buffer is
    rounded back once, so ``[-1] + [-60000] + [60000]`` is -1 in float16, not 0. Other dtypes combine in place.
    (index_add, index_put and put add in the tensor's own dtype, each sum rounded: ``add_into``.)"""
    wide = out.dtype == np.float16 or out.dtype.name == "bfloat16"
    target = out.astype(np.float32) if wide else out
    if ufunc is np.add:
        add_into(target, index, values.astype(np.float32) if wide else values)
    else:
        ufunc.at(target, index, values.astype(np.float32) if wide else values)
    if wide:
        out[...] = target


def add_into(out, index, values, unique=None, fresh=False):
    """``out[index] += values`` with repeated positions accumulating, in place (``fresh``: ``out`` is zeros).

    ``np.add.at`` is slow on rows (it goes element by element through the general ufunc machinery), so the
    common integer-array indexes become flat positions, accumulated by the 1-d ``np.add.at`` that numpy runs
    on a fast path; below 1024 values the bookkeeping costs more than it saves (crossover measured at 1-2k
    values). Measured (numpy 2.4, float32, 2 cores), zeros included: 2048 rows of 64 into a (1000, 64) table,
    0.31 ms against 1.6 ms for ``np.add.at(out, idx, rows)``; 10000 rows of 16 into 10 rows, 0.43 ms against
    1.9 ms; 256 rows of 512, 0.30 ms against 1.6 ms. Sorting with ``np.add.reduceat`` and ``np.bincount`` on
    flat positions were slower than this in nearly every case (see docs/coverage/index.md).

    >>> out = np.ones(3)
    >>> add_into(out, np.array([2, 2]), np.array([1.0, 1.0]))
    >>> out
    array([1., 1., 3.])
    """
    if index.__class__ is np.ndarray and index.dtype.kind != "b" and not unique and values.size < 1024:
        np.add.at(out, index, values)  # x[idx] of a small x (an embedding's gradient): as below, sooner
        return
    parts = index if type(index) is tuple else (index,)
    arrays = [k for k, p in enumerate(parts) if type(p) is np.ndarray and p.dtype.kind != "b"]
    if unique or (unique is None and not arrays):
        if fresh:
            out[index] = values
        else:
            out[index] += values
        return
    if values.size < 1024 or not out.flags.c_contiguous:
        np.add.at(out, index, values)  # small: the flat-position bookkeeping would cost more than it saves
        return
    flat_out = out.reshape(-1)  # a view, as out is contiguous
    shape = out.shape
    if len(arrays) == 1 and all(p is Ellipsis or (type(p) is slice and p == _FULL)
                                for i, p in enumerate(parts) if i != arrays[0]):
        # One integer array along dim d, full slices elsewhere: x[idx], x[:, idx], index_select, embeddings.
        k = arrays[0]
        d = sum(out.ndim - len(parts) + 1 if p is Ellipsis else 1 for p in parts[:k])
        idx = parts[k]
        n = shape[d]
        if idx.size and idx.min() < 0:
            idx = np.where(idx < 0, idx + n, idx)
        pre, rest = math.prod(shape[:d]), math.prod(shape[d + 1:])
        want = shape[:d] + idx.shape + shape[d + 1:]
        vals = (values if values.shape == want else np.broadcast_to(values, want)).reshape(-1)
        if pre == 1:
            flat = idx if rest == 1 else idx.reshape(-1, 1) * rest + np.arange(rest)
        else:  # positions (p * n + idx[j]) * rest + r for p < pre, j < len(idx), r < rest
            flat = (np.arange(0, pre * n, n).reshape(-1, 1, 1) + idx.reshape(1, -1, 1)) * rest
            flat = flat + np.arange(rest) if rest > 1 else flat
        np.add.at(flat_out, flat.reshape(-1), vals)
    elif len(arrays) == len(parts) == out.ndim:
        # An integer array for every dim (gather, x[rows, cols]): flat positions.
        flat = np.ravel_multi_index(parts, shape, mode="wrap")
        vals = values if values.shape == flat.shape else np.broadcast_to(values, flat.shape)
        np.add.at(flat_out, flat.reshape(-1), vals.reshape(-1))
    else:
        np.add.at(out, index, values)
