"""Sorting along a dim: sort, argsort, topk.

The values are the input gathered at a permutation of each slice (the first ``k`` of it for topk), so the
gradient is the incoming gradient scattered back to the elements' original places, with zeros for the elements
topk did not select: a linear map whose adjoint is the gather (``reduce.scatter_back``), so it is
differentiable again.

NaN counts as larger than every number, as in PyTorch: last in an ascending sort, first in a descending one.
"""

from __future__ import annotations

import operator

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


_UNSET = object()  # stable= not given: PyTorch's first overload, sort(input, dim=-1, descending=False)


def _sort_args(op, args, dim, descending, stable, stable_may_be_none):
    """(dim, descending, stable given) from PyTorch's two overloads: ``op(input, dim=-1, descending=False)`` and
    ``op(input, *, stable, dim=-1, descending=False)``, where dim and descending are keywords only."""
    if len(args) > 2:
        raise TypeError(f"{op}: takes at most 3 positional arguments (input, dim, descending), got {len(args) + 1}")
    given = stable is not _UNSET
    if given:
        if args:
            raise TypeError(f"{op}: with stable=, dim and descending are keywords only: "
                            f"{op}(input, *, stable, dim=-1, descending=False)")
        if not (isinstance(stable, (bool, np.bool_)) or (stable is None and stable_may_be_none)):
            raise TypeError(f"{op}: stable must be a bool, got {type(stable).__name__}")
    for name, value in zip(("dim", "descending"), args, strict=False):
        if (dim if name == "dim" else descending) is not None:
            raise TypeError(f"{op}: got multiple values for argument {name!r}")
        if name == "dim":
            dim = value
        else:
            descending = value
    return (-1 if dim is None else dim), bool(descending), given


@op
def sort(input: Tensor, *args, dim: int | None = None, descending: bool | None = None, stable=_UNSET):
    """sort(input, dim=-1, descending=False) or sort(input, *, stable, dim=-1, descending=False) ->
    (values, indices): each slice along ``dim`` sorted; ``indices`` say where each value came from.

    The sort is always stable (equal elements keep their order), which ``stable=False`` or None allows. NaN
    sorts as the largest value: last in an ascending sort, first in a descending one. The gradient flows back
    to the elements' original places (node ``SortBackward0``; ``SortBackward1`` with ``stable=``, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.sort(tg.tensor([3.0, 1.0, 2.0]))
    sort(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
    """
    _check_tensor("sort", input)
    dim, descending, stable_given = _sort_args("sort", args, dim, descending, stable, True)
    n = input._data.shape[_check_dim("sort", dim, input._data.ndim)] if input._data.ndim else 1
    name = "SortBackward1" if stable_given else "SortBackward0"
    return return_types.sort(*_sorted_along("sort", input, dim, n, descending, name))


@op
def argsort(input: Tensor, *args, dim: int | None = None, descending: bool | None = None,
            stable=_UNSET) -> Tensor:
    """argsort(input, dim=-1, descending=False) or argsort(input, *, stable, dim=-1, descending=False): the
    int64 indices that sort each slice along ``dim`` (``sort(...).indices``); stable, with NaN as the largest
    value.

    >>> import tapegrad as tg
    >>> tg.tensor([[3.0, 1.0, 2.0]]).argsort(dim=1, descending=True)
    tensor([[0, 2, 1]])
    """
    _check_tensor("argsort", input)
    dim, descending, _ = _sort_args("argsort", args, dim, descending, stable, False)
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
    k = _count_of("topk", k)
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k={k} is out of range for dim {dim} of size {n} (input shape "
                           f"{tuple(x.shape)}); expected 0 <= k <= {n}")
    return return_types.topk(*_sorted_along("topk", input, dim, k, largest, "TopkBackward0"))


def _count_of(op, k):
    """``k`` as an int: a Python or numpy int, or an integer tensor of one element (PyTorch's SymInt); not a bool
    or a float."""
    if isinstance(k, (bool, np.bool_)) or (isinstance(k, Tensor) and k._data.dtype.kind not in "iu"):
        raise TypeError(f"{op}: k must be an int, got {type(k).__name__} {k!r}")
    try:
        return operator.index(k)
    except TypeError:
        raise TypeError(f"{op}: k must be an int, got {type(k).__name__} {k!r}") from None
