"""Attention: ``scaled_dot_product_attention`` as one fused node, its forward beside its backward.

    out = dropout(softmax(q @ k^T * scale + mask)) @ v

The forward keeps the attention probabilities P it computed (as PyTorch's math path saves them); the rule is
written once with ``xp`` (arrays for a first-order backward, tensors with ``create_graph``):

    dv = P_d^T g          dP = (g v^T) * D          dS = P * (dP - rowsum(dP * P))
    dq = dS k * scale     dk = dS^T q * scale       dmask = dS

P itself comes from the backward op ``attention_softmax``: on arrays it is the forward's cached P; recorded, it is
a node whose own rule is the softmax VJP above (reading its output P), so gradients of every order are exact.
Grouped-query attention (``enable_gqa``) never copies key or value: the query's heads are folded into its rows,
(..., Hk * r, L, E) -> (..., Hk, r * L, E), so one matrix product per group also sums the group's gradients.

``nn.functional`` exports ``scaled_dot_product_attention``; PyTorch has no ``torch.scaled_dot_product_attention``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd.declare import Tensor, backward_op, cast, expected_tensor, op, record
from ..random import rng as _rng

__all__: list[str] = []  # exported by tapegrad.nn.functional, as in PyTorch

_NODE = "ScaledDotProductFlashAttentionForCpuBackward0"  # PyTorch's CPU node for the fused kernel


class _Heads:
    """How query heads map to key and value heads (``enable_gqa``), the scale, and the constant mask."""

    __slots__ = ("H", "L", "rk", "rv", "scale", "masked")

    def __init__(self, H, L, rk, rv, scale, masked):
        self.H, self.L, self.rk, self.rv, self.scale = H, L, rk, rv, scale
        self.masked = masked  # a bool array (True: -inf) broadcastable to the scores, or None

    def group(self, x, r):
        """(..., H, L, D) -> (..., H / r, r * L, D): r query heads that share one key/value head, as rows."""
        if r == 1:
            return x
        shape = tuple(x.shape)
        return x.reshape(shape[:-3] + (shape[-3] // r, r * shape[-2], shape[-1]))

    def ungroup(self, x, r):
        """(..., H / r, r * L, D) -> (..., H, L, D)."""
        if r == 1:
            return x
        shape = tuple(x.shape)
        return x.reshape(shape[:-3] + (self.H, self.L, shape[-1]))


def _probabilities(q, k, mask, c):
    """softmax(q k^T * scale + mask) over the last axis, on arrays; a row with every score -inf (fully masked)
    is 0, as PyTorch 2.13's CPU kernels give (its math path's ``_safe_softmax`` and its flash kernel)."""
    s = c.ungroup(np.matmul(c.group(q, c.rk), np.swapaxes(k, -1, -2)), c.rk)
    s *= s.dtype.type(c.scale)
    if mask is not None:
        s += mask  # checked: the mask broadcasts to the scores' shape
    if c.masked is not None:
        np.copyto(s, -np.inf, where=c.masked)
    if s.size == 0 or s.shape[-1] == 0:
        return np.zeros(s.shape, s.dtype)
    # NOTE: subtract the row max so exp cannot overflow; a fully masked row (max -inf) subtracts 0 instead of
    # -inf (which would give nan), so its exps are all 0 and it divides by 1: the row is 0.
    top = s.max(axis=-1, keepdims=True)
    top[top == -np.inf] = 0
    s -= top
    np.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    s /= total
    return s


def _softmax_vjp(xp, need, dP, P, q, k, c):
    """The gradients of (q, k, mask) through P = softmax(q k^T * scale + mask), given dP = dL/dP."""
    dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))
    gq = gk = None
    if need[0]:
        gq = c.ungroup(c.group(dS, c.rk) @ k, c.rk) * c.scale
    if need[1]:
        gk = (c.group(dS, c.rk).mT @ c.group(q, c.rk)) * c.scale
    return gq, gk, dS if need[2] else None


def _attention_softmax_rule(xp, need, gP, out, q, k, *mask, c, cached=None):
    gq, gk, gm = _softmax_vjp(xp, (need[0], need[1], bool(mask) and need[2]), gP, out, q, k, c)
    return (gq, gk, gm) if mask else (gq, gk)


@backward_op(grad=_attention_softmax_rule, name="ScaledDotProductFlashAttentionForCpuBackwardBackward0")
def attention_softmax(q, k, *mask, c, cached=None):
    """The attention probabilities softmax(q k^T * scale + mask) (``cached``: the forward's, when given)."""
    return cached if cached is not None else _probabilities(q, k, mask[0] if mask else None, c)


def _check(q, k, v, attn_mask, dropout_p, is_causal, enable_gqa):
    name = "scaled_dot_product_attention"
    for t in (q, k, v):
        if not isinstance(t, Tensor):
            raise expected_tensor(name, t)
    dq, dk, dv = q._data.dtype, k._data.dtype, v._data.dtype
    if not dq == dk == dv:
        raise RuntimeError(f"{name}: expected query, key and value to have the same dtype, but got query.dtype: "
                           f"{dq}, key.dtype: {dk} and value.dtype: {dv} instead")
    if dq.kind != "f":
        raise RuntimeError(f"{name}: expected floating-point query, key and value, got {dq} (cast them with "
                           ".float())")
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError(f"{name}: expected query, key, and value to all be at least 2 dimensional, but got "
                           f"query.dim: {q.ndim} key.dim: {k.ndim} and value.dim: {v.ndim} instead")
    qs, ks, vs = tuple(q.shape), tuple(k.shape), tuple(v.shape)
    if qs[-1] != ks[-1]:
        raise RuntimeError(f"{name}: query's last dimension {qs[-1]} (shape {qs}) must equal key's {ks[-1]} "
                           f"(shape {ks}): scores are dot products of query and key rows")
    if ks[-2] != vs[-2]:
        raise RuntimeError(f"{name}: key and value must have the same sequence length (dimension -2), got key "
                           f"shape {ks} and value shape {vs}")
    if not isinstance(dropout_p, numbers.Real) or not 0 <= dropout_p <= 1:
        raise RuntimeError(f"{name}: dropout probability has to be between 0 and 1, but got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{name}: Explicit attn_mask should not be set when is_causal=True")
    rk = rv = 1
    if enable_gqa:
        if min(len(qs), len(ks), len(vs)) < 3:
            raise IndexError(f"{name}: enable_gqa=True needs a head dimension (-3) in query, key and value, got "
                             f"shapes {qs}, {ks} and {vs}")
        H = qs[-3]
        for what, shape in (("key", ks), ("value", vs)):
            if shape[-3] == 0 or H % shape[-3]:
                raise RuntimeError(f"{name}: with enable_gqa=True the number of heads in {what} ({shape[-3]}) "
                                   f"must divide the number of heads in query ({H}); shapes {qs}, {ks}, {vs}")
        rk, rv = H // ks[-3], H // vs[-3]
        ks, vs = ks[:-3] + (H,) + ks[-2:], vs[:-3] + (H,) + vs[-2:]
    try:
        scores = np.broadcast_shapes(qs[:-2], ks[:-2]) + (qs[-2], ks[-2])
        np.broadcast_shapes(scores[:-2], vs[:-2])
    except ValueError:
        raise RuntimeError(f"{name}: the batch dimensions of query {tuple(q.shape)}, key {tuple(k.shape)} and value "
                           f"{tuple(v.shape)} do not broadcast"
                           + ("" if enable_gqa else " (pass enable_gqa=True for fewer key/value heads)")) from None
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{name}: attn_mask must be a Tensor or None, got {type(attn_mask).__name__}")
        dm = attn_mask._data.dtype
        if dm.kind != "b" and dm != np.float32 and dm != dq:
            raise RuntimeError(f"{name}: expected attn_mask dtype to be bool or float or to match query dtype, but "
                               f"got attn_mask.dtype: {dm} and query.dtype: {dq} instead")
        try:
            fits = np.broadcast_shapes(tuple(attn_mask.shape), scores) == scores
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"{name}: attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to the "
                               f"attention scores' shape {scores} (query {qs}, key {tuple(k.shape)})")
    return rk, rv


@op(methods=(), xp_name=False)
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
    scale=None, enable_gqa=False) -> Tensor

    softmax(query @ key^T * scale + mask) @ value over the last two dimensions; the leading ones broadcast.
    ``query`` is (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev); the result is (..., L, Ev).
    ``scale`` defaults to 1 / sqrt(E). ``attn_mask``: a bool mask (True takes part) or a float mask added to
    the scores, broadcastable to (..., L, S). ``is_causal``: query i attends to keys 0..i (top-left aligned).
    ``dropout_p`` is always applied (pass 0.0 in eval mode). ``enable_gqa``: key and value may have fewer heads
    (dim -3) than query, each shared by consecutive query heads. A fully masked row gives zeros (and zero
    gradients), as PyTorch 2.13 on the CPU. One node with a fused backward.

    >>> import tapegrad as tg
    >>> q = k = v = tg.eye(2).reshape(1, 1, 2, 2)
    >>> tg.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    tensor([[[[1.0000, 0.0000],
              [0.3302, 0.6698]]]])
    """
    rk, rv = _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    q, k, v = query._data, key._data, value._data
    dtype = q.dtype
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    masked = None
    inputs: tuple = (query, key, value)
    mask = None
    if is_causal:
        masked = ~np.tri(L, S, dtype=bool)
    elif attn_mask is not None:
        if attn_mask._data.dtype.kind == "b":
            masked = ~attn_mask._data
        else:
            attn_mask = cast(attn_mask, dtype)
            inputs = (query, key, value, attn_mask)
            mask = attn_mask._data
    c = _Heads(q.shape[-3] if q.ndim >= 3 else 1, L, rk, rv, scale, masked)
    P = _probabilities(q, k, mask, c)
    keep = None
    if dropout_p > 0:
        if dropout_p == 1:
            keep = np.zeros(P.shape, dtype)
        else:
            u = _rng().random(P.shape, dtype=np.float64 if dtype == np.float64 else np.float32)
            # NOTE: inverted dropout: the survivors are scaled by 1/(1-p), so the expectation is unchanged.
            keep = (u >= dropout_p) * dtype.type(1 / (1 - dropout_p))
    Pd = P if keep is None else P * keep
    out = c.ungroup(np.matmul(c.group(Pd, rv), v), rv)

    def sdpa_rule(xp, need, g, out, q, k, v, *mask):
        P_ = xp.attention_softmax(q, k, *mask, c=c, cached=P)
        gq = gk = gv = gm = None
        if need[2]:
            gv = c.group(P_ if keep is None else P_ * keep, rv).mT @ c.group(g, rv)
        want_mask = bool(mask) and need[3]
        if need[0] or need[1] or want_mask:
            dP = c.ungroup(c.group(g, rv) @ v.mT, rv)
            if keep is not None:
                dP = dP * keep
            gq, gk, gm = _softmax_vjp(xp, (need[0], need[1], want_mask), dP, P_, q, k, c)
        return (gq, gk, gv, gm) if mask else (gq, gk, gv)

    return record(out, inputs, sdpa_rule, _NODE)
