"""Sorting along a dim: sort, argsort, topk.

The values are the input gathered at a permutation of each slice (the first ``k`` of it for topk), so the
gradient is the incoming gradient scattered back to the elements' original places, with zeros for the elements
topk did not select: a linear map whose adjoint is the gather (``reduce.scatter_back``), so it is
differentiable again.

NaN counts as larger than every number, as in PyTorch: last in an ascending sort, first in a descending one.
"""

from __future__ import annotations

import numpy as np

from ..autograd.declare import Tensor, op, record
from ..autograd.declare import check_dim as _check_dim
from ..autograd.declare import wrap as _wrap
from .reduce import return_types, scatter_back

__all__ = ["sort", "argsort", "topk"]


def _check_tensor(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")


def _order(x, d, descending):
    """The stable sorting permutation of ``x`` along axis ``d`` (int64); equal elements keep their order.

    NOTE: descending is the ascending stable sort of the slice reversed, reversed back: numpy puts nan last,
    so nan comes first, and equal elements come out in their original order (a sort of -x would move nan).
    """
    if not descending:
        return np.argsort(x, axis=d, kind="stable")
    n = x.shape[d]
    order = np.argsort(np.flip(x, d), axis=d, kind="stable")
    return (n - 1) - np.flip(order, d)


def _sorted_along(op, input, dim, k, descending, name):
    """(values, indices): the first ``k`` elements of each slice along ``dim`` in sorted order, recorded as the
    node ``name``."""
    x = input._data
    if x.ndim == 0:
        _check_dim(op, dim, 0)
        return record(x.copy(), (input,), _identity_rule, name), _wrap(np.zeros((), dtype=np.int64))
    d = _check_dim(op, dim, x.ndim)
    n = x.shape[d]
    order = _order(x, d, descending)
    index = order if k == n else np.take(order, np.arange(k), axis=d)
    values = np.take_along_axis(x, index, d)
    return record(values, (input,), scatter_back(index, d, x.shape), name), _wrap(index.astype(np.int64, copy=False))


def _identity_rule(xp, g, out, x):
    return g


@op
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """sort(input, dim=-1, descending=False, stable=False) -> (values, indices): each slice along ``dim``
    sorted; ``indices`` say where each value came from.

    The sort is always stable (equal elements keep their order), which ``stable=False`` allows. NaN sorts as
    the largest value. The gradient flows back to the elements' original places.

    >>> import tapegrad as tg
    >>> tg.sort(tg.tensor([3.0, 1.0, 2.0]))
    sort(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
    """
    _check_tensor("sort", input)
    n = input._data.shape[_check_dim("sort", dim, input._data.ndim)] if input._data.ndim else 1
    return return_types.sort(*_sorted_along("sort", input, dim, n, descending, "SortBackward0"))


@op
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """argsort(input, dim=-1, descending=False, stable=False): the int64 indices that sort each slice along
    ``dim`` (``sort(...).indices``); stable, with NaN as the largest value.

    >>> import tapegrad as tg
    >>> tg.tensor([[3.0, 1.0, 2.0]]).argsort(dim=1, descending=True)
    tensor([[0, 2, 1]])
    """
    _check_tensor("argsort", input)
    x = input._data
    if x.ndim == 0:
        _check_dim("argsort", dim, 0)
        return _wrap(np.zeros((), dtype=np.int64))
    return _wrap(_order(x, _check_dim("argsort", dim, x.ndim), descending).astype(np.int64, copy=False))


@op
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """topk(input, k, dim=-1, largest=True, sorted=True) -> (values, indices): the ``k`` largest (or, with
    ``largest=False``, smallest) elements of each slice along ``dim``, in sorted order.

    The gradient goes to the selected elements; the others get 0. NaN counts as the largest value. The result
    is sorted also when ``sorted=False`` (which leaves the order unspecified).

    >>> import tapegrad as tg
    >>> tg.topk(tg.tensor([1.0, 5.0, 3.0, 4.0]), 2)
    topk(values=tensor([5., 4.]), indices=tensor([1, 3]))
    """
    _check_tensor("topk", input)
    x = input._data
    if x.dtype.kind == "b":
        raise RuntimeError("topk: does not support bool input, as PyTorch (cast it with .long() or .float() first)")
    d = _check_dim("topk", dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int, got {type(k).__name__} {k!r}")
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k={k} is out of range for dim {dim} of size {n} (input shape "
                           f"{tuple(x.shape)}); expected 0 <= k <= {n}")
    return return_types.topk(*_sorted_along("topk", input, dim, int(k), largest, "TopkBackward0"))
