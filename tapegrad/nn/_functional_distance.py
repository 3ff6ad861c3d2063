"""Distances of ``torch.nn.functional``: ``pairwise_distance`` (composed as PyTorch's) and ``pdist`` (one node,
PyTorch's ``PdistBackward0``)."""

from __future__ import annotations

import numpy as np

from ..autograd.declare import Tensor, expected_tensor, named, op, record

__all__ = ["pairwise_distance", "pdist"]


@op(methods=())
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False) -> ||x1 - x2 + eps||_p over the last dimension.

    ``x1`` and ``x2`` broadcast together; composed as PyTorch's (``(x1 - x2 + eps).norm(p, -1, keepdim)``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.pairwise_distance(tg.tensor([[0.0, 0.0]]), tg.tensor([[3.0, 4.0]]), eps=0.0)
    tensor([5.])
    """
    for x in (x1, x2):
        if not isinstance(x, Tensor):
            raise expected_tensor("pairwise_distance", x)
    last = max(x1.dim(), x2.dim()) - 1
    # PyTorch's composition ends in at::norm, whose node is NormBackward1 (Tensor.norm's is the linalg one)
    return named((x1 - x2 + eps).norm(p, last, keepdim), "NormBackward1")


@op(methods=())
def pdist(input: Tensor, p: float = 2) -> Tensor:
    """pdist(input, p=2) -> the p-norm distances between the rows of an (N, M) input, for each pair i < j, in
    the order of the upper triangle (N * (N - 1) / 2 values).

    The gradient is PyTorch's (0 for a pair at distance 0; for p < 1 also where coordinates are equal).

    >>> import tapegrad as tg
    >>> tg.nn.functional.pdist(tg.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    tensor([5.0000, 1.0000, 4.2426])
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("pdist", input)
    x = input._data
    if x.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.ndim}D (input of shape {tuple(x.shape)})")
    if x.dtype.kind != "f":
        raise RuntimeError(f"pdist only supports floating-point dtypes, got {x.dtype}")
    if not p >= 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got {p}")
    if x.dtype == np.float16 and x.shape[0] > 1 and x.shape[1] > 0:  # PyTorch's kernel: float32/float64 only
        raise NotImplementedError("\"pdist\" not implemented for 'Half' (float16 input of shape "
                                  f"{tuple(x.shape)}; PyTorch's CPU kernel takes float32 and float64)")
    rows, cols = np.triu_indices(x.shape[0], 1)
    d = x[rows] - x[cols]
    dist = _norm(np, d, p).astype(x.dtype, copy=False)

    def pdist_rule(xp, g, out, x):
        if x.dtype == np.float16:  # PyTorch's _pdist_backward dispatches on float32/float64 before any shape check
            raise NotImplementedError("\"pdist_backward\" not implemented for 'Half' (the backward of pdist of a "
                                      f"float16 input of shape {tuple(x.shape)}, as PyTorch, even when empty)")
        diff = x[rows] - x[cols]
        with np.errstate(invalid="ignore", over="ignore"):  # (0 * inf where PyTorch's kernel gives NaN too)
            gd = _norm_grad(xp, diff, out, p, g[:, None])
        return xp.add_at(x.shape, rows, gd) - xp.add_at(x.shape, cols, gd)

    return record(dist, (input,), pdist_rule, "PdistBackward0")


def _norm(xp, d, p):
    a = xp.abs(d)
    if p == 0:
        return (a != 0).sum(axis=-1).astype(d.dtype)
    if p == np.inf:
        return a.max(axis=-1, initial=0) if d.shape[-1] == 0 else a.max(axis=-1)
    if p == 1:
        return a.sum(axis=-1)
    if p == 2:
        return xp.sqrt((d * d).sum(axis=-1))
    return (a ** p).sum(axis=-1) ** (1 / p)


def _norm_grad(xp, d, dist, p, g):
    """``g`` times d ||d||_p / d d for each row of ``d``, as PyTorch's pdist backward kernels
    (DistanceOpsKernel.cpp): a pair at distance 0 gets 0, and for p < 1 so does a coordinate where the rows are
    equal, selected after the product with ``g`` (so an inf or NaN incoming gradient gives 0 there too); p = 1 and
    p = inf are plain products (0 * inf is NaN there, as PyTorch's), p = 0 has no gradient."""
    if p == 0 or d.shape[0] == 0:
        return d * 0
    if p == 1:
        return xp.sign(d) * g
    if p == np.inf:
        return xp.sign(d) * (xp.abs(d) == dist[:, None]) * g
    dist = dist[:, None]
    zero = dist == 0
    safe = xp.where(zero, 1, dist)
    if p == 2:
        out = d * g / safe
    else:
        a = xp.abs(d)
        # NOTE: |d| ** (p - 1) is inf at d == 0 for p < 1; PyTorch gives those coordinates 0
        a_safe = xp.where(a == 0, 1, a)
        out = xp.sign(d) * a_safe ** (p - 1) * g / safe ** (p - 1)
        if p < 1:
            out = xp.where(a == 0, 0, out)
    return xp.where(zero, 0, out)
