"""The values of ormqr and householder_product (orgqr) in LAPACK's order of operations, as PyTorch's CPU build
(MKL) computes them: the same numbers for finite inputs up to rounding, and the same signs of zero, infinities
and NaNs at the edges (where an order that multiplies inf by a zero of v or of C spreads NaN further).

Both apply the reflectors H_i = I - tau_i v_i v_i^T one at a time, to the rows (or columns) i: only, as
LAPACK's dorm2r and dorg2r with dlarf. One reflector on C (m, n) from the left is w = C^T v, then
C[r, j] += v[r] * (-tau * w[j]); from the right w = C v, then C[r, j] += w[r] * (-tau * v[j]). Nothing is done
for tau == 0. A one-term w is the product itself (its sign of zero): a zero w is -0.0 iff every product is,
except in ormqr from the left (MKL's dot products start from +0.0: a zero w of several terms is +0.0). The
update is one fused multiply-add (MKL's): where a product underflows, the result has the exact sum's sign.
What differs between the two (measured against PyTorch 2.13 on 3,000 random matrices with -0.0, inf and NaN
entries, every one matching):

- householder_product (dlarf as netlib's reference): v's trailing zeros and C's trailing zero columns are
  left out (``lastv``, ``lastc``); ormqr leaves nothing out.
- In float32 the rank-one update C += x y^T skips the zeros of y (as netlib's ger) where y is w
  (householder_product) or v (ormqr from the right), not in ormqr from the left; float64 skips none: a float64
  column whose w is 0 is updated (0 * inf is NaN there).

The gradients are not these: callers keep the formulas' graph and give it this value.
"""

from __future__ import annotations

import numpy as np

from ..autograd.declare import record
from ..autograd.xp import numpy_xp, register_tensor_xp

__all__ = ["ormqr_value", "householder_product_value", "with_value", "householder_product_backward", "nonfinite"]


def with_value(graph, value, name):
    """The result of an op whose formulas (the tensor ``graph``, with its gradient) give other signs of zero and
    NaNs than LAPACK: ``value()`` (an array of graph's shape and dtype, computed in LAPACK's order) with graph's
    gradient, through one node named ``name`` (PyTorch's). Complex inputs keep the formulas' value."""
    dtype = graph.detach().numpy().dtype
    if dtype.kind != "f":
        return graph
    array = value()
    if array.shape != tuple(graph.shape) or array.dtype != dtype:
        return graph
    return record(np.array(array), (graph,), _pass_rule, name)


def _pass_rule(xp, g, out, x):
    return g


def _last(nonzero, size):
    """1 + the index of the last True along the last axis (0 if none), per batch."""
    return np.where(nonzero.any(-1), size - np.argmax(nonzero[..., ::-1], axis=-1), 0)


def _one_term_sum(x, rows, negative_zero=True):
    """The sums over axis -2 of x with LAPACK's signs of zero: -0.0 where every summed term is -0.0 (a sum
    that does not start from +0.0), unless not ``negative_zero`` (ormqr's sums of several rows, which MKL starts
    from +0.0: a zero w is +0.0 there). ``rows`` (..., L) marks the terms summed."""
    w = np.where(rows[..., :, None], x, 0).sum(-2)
    zero = w == 0
    if negative_zero and zero.any():
        neg = ((np.signbit(x) & (x == 0)) | ~rows[..., :, None]).all(-2) & rows.any(-1)[..., None]
        w = np.where(neg, w.dtype.type(-0.0), w)
    return w


def _fused(c, x, y):
    """c + x y as MKL's rank-one update computes it, a fused multiply-add: one rounding, so where the result is 0
    or subnormal its sign (and last bit) are those of the exact c + x y, not of c plus the rounded product
    (0.0 + (-5e-324 * 1e-323) is -0.0 fused, +0.0 rounded twice). Only those entries are recomputed, exactly."""
    out = c + x * y
    tiny = np.finfo(out.dtype).tiny
    fix = (np.abs(out) < tiny) & (x != 0) & (y != 0) & np.isfinite(x) & np.isfinite(y) & np.isfinite(c)
    if not fix.any():
        return out
    from fractions import Fraction

    cb, xb, yb = np.broadcast_arrays(c, x, y)
    out = np.array(out)
    for i in zip(*np.nonzero(fix)):
        exact = Fraction(float(cb[i])) + Fraction(float(xb[i])) * Fraction(float(yb[i]))
        out[i] = float(exact) if exact != 0 else 0.0  # an exact cancellation of nonzero terms is +0.0
    return out


def _reflect(C, v, tau, left, scan, skip_zeros):
    """H = I - tau v v^T applied to C from the left (C (..., L, n), v (..., L)) or, with ``left`` False, from
    the right to C^T given as C (..., L, m): a new array."""
    L, n = C.shape[-2:]
    if scan:  # dlarf's lastv (v's last nonzero) and lastc (the last column of C with a nonzero in those rows)
        lastv = _last(v != 0, L)
    else:
        lastv = np.full(v.shape[:-1], L)
    lastv = np.where(tau != 0, lastv, 0)
    rows = np.arange(L) < lastv[..., None]
    if scan:
        lastc = _last(((C != 0) & rows[..., :, None]).any(-2), n)
    else:
        lastc = np.where(lastv > 0, n, 0)
    cols = np.arange(n) < lastc[..., None]
    with np.errstate(all="ignore"):
        w = _one_term_sum(C * v[..., :, None], rows, scan or not left or L == 1)
        if left:
            update = _fused(C, v[..., :, None], (-tau[..., None] * w)[..., None, :])
        else:
            update = _fused(C, (-tau[..., None] * v)[..., :, None], w[..., None, :])
    mask = rows[..., :, None] & cols[..., None, :]
    if skip_zeros:  # the rank-one update skips the zeros of its second vector (w from the left, v from the right)
        mask = mask & ((w != 0)[..., None, :] if left else (v != 0)[..., :, None])
    return np.where(mask, update, C)


def ormqr_value(a, tau, c, left, transpose):
    """The value of ormqr(a, tau, c, left, transpose) (dorm2r's order), batch dims broadcast."""
    batch = np.broadcast_shapes(a.shape[:-2], tau.shape[:-1], c.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    tau = np.broadcast_to(tau, batch + tau.shape[-1:])
    C = np.array(np.broadcast_to(c, batch + c.shape[-2:]))
    k = tau.shape[-1]
    single = C.dtype == np.float32
    order = range(k) if left == transpose else range(k - 1, -1, -1)
    for i in order:
        v = np.array(a[..., i:, i])
        v[..., 0] = 1
        if left:
            C[..., i:, :] = _reflect(C[..., i:, :], v, tau[..., i], True, False, False)
        else:
            Ct = np.swapaxes(C[..., :, i:], -1, -2)
            C[..., :, i:] = np.swapaxes(_reflect(Ct, v, tau[..., i], False, False, single), -1, -2)
    return C


def householder_product_value(a, tau):
    """The value of householder_product(a, tau) (dorg2r's order)."""
    Q = np.array(np.broadcast_to(a, np.broadcast_shapes(a.shape[:-2], tau.shape[:-1]) + a.shape[-2:]))
    tau = np.broadcast_to(tau, Q.shape[:-2] + tau.shape[-1:])
    m, n = Q.shape[-2:]
    k = tau.shape[-1]
    single = Q.dtype == np.float32
    Q[..., :, k:] = 0
    for j in range(k, n):
        Q[..., j, j] = 1
    for i in range(k - 1, -1, -1):
        t = tau[..., i]
        if i < n - 1:
            v = np.array(Q[..., i:, i])
            v[..., 0] = 1
            Q[..., i:, i + 1:] = _reflect(Q[..., i:, i + 1:], v, t, True, True, single)
        with np.errstate(all="ignore"):
            if i < m - 1:
                Q[..., i + 1:, i] = -t[..., None] * Q[..., i + 1:, i]
            Q[..., i, i] = 1 - t
        Q[..., :i, i] = 0
    return Q


def _mT(x):
    return np.swapaxes(x, -1, -2)


def _reflect_k_in_place(K, v_full, t, i, left):
    """K <- H_i(t) K (``left``) or K H_i(t), touching K's rows (columns) i: only: PyTorch's
    apply_simple_transformation with modify_K_in_place, its first-order backward (grad mode off). On arrays."""
    K = np.array(K)
    v = v_full[..., i:, :]
    if left:
        K[..., i:, :] -= (t * v) * (_mT(v) @ K[..., i:, :])
    else:
        K[..., :, i:] -= (K[..., :, i:] @ (t * v)) * _mT(v)
    return K


def _reflect_k_out_of_place(K, v_full, t, i, left):
    """K - (t v) (v^T K) (``left``) or K - (K (t v)) v^T with the full v (its zeros above i too): PyTorch's
    apply_simple_transformation out of place, as it runs under grad mode (create_graph). On tensors."""
    if left:
        return K - (t * v_full) * (v_full.mT @ K)
    return K - (K @ (t * v_full)) * v_full.mT


# PyTorch's householder_product_backward updates K in place when grad mode is off and out of place when it is on
# (create_graph), which spreads an inf/nan of K through the zeros of v differently: a rule reaches the one or the
# other as xp.householder_reflect_k, on arrays (first order) or on tensors (create_graph).
numpy_xp.householder_reflect_k = _reflect_k_in_place
register_tensor_xp("householder_reflect_k", _reflect_k_out_of_place)


def householder_product_backward(xp, grad, result, a, tau, flip=False):
    """The gradients (of input ``a``, of ``tau``) through householder_product, or through ormqr (``grad`` and
    ``result`` as ormqr_backward passes them, ``flip`` its flip_order), step by step as PyTorch's
    householder_product_backward (torch/csrc/autograd/FunctionsManual.cpp): K = result grad^T, then
    K <- H_{i+1}^{-1} K H_i with H^{-1} = H(sigma), sigma = tau / (tau ||v||^2 - 1). Written with ``xp``: on arrays
    a first-order backward, on tensors (create_graph) the same formulas recorded, differentiable again. Used
    where an input is inf/nan: starting from the result, its NaNs and infinities spread as PyTorch's do."""
    m, n = a.shape[-2:]
    k = tau.shape[-1]
    V = xp.tril(a, -1) + np.eye(m, n, dtype=_dtype(a))
    Vk = V[..., :, :k]
    sigma = tau / ((tau * (Vk * Vk).sum(-2)) - 1)
    K = result @ grad.mT

    def column(x, i):  # x.narrow(-1, i, 1)
        return x[..., :, i:i + 1]

    def scalar(x, i):  # x.narrow(-1, i, 1).unsqueeze(-1) of a vector (tau, sigma)
        return x[..., i:i + 1][..., None]

    def step(i):  # PyTorch's update_grad
        v = column(V, i)[..., i:, :]
        t = scalar(tau, i)
        vHK = v.mT @ K[..., i:, :]
        Kv = K[..., :, i:] @ v
        v_grad = xp.squeeze(-t * vHK, -2) - xp.squeeze(t * Kv, -1)
        return v_grad, -xp.squeeze(vHK[..., :, i:] @ v, -1)[..., 0]

    order = list(range(k - 1, -1, -1)) if flip else list(range(k))
    K = xp.householder_reflect_k(K, column(V, order[0]), scalar(sigma, order[0]), order[0], not flip)
    a_cols, tau_cols = [None] * k, [None] * k
    for pos, i in enumerate(order):
        a_cols[i], tau_cols[i] = step(i)
        if pos < k - 1:
            nxt = order[pos + 1]
            K = xp.householder_reflect_k(K, column(V, nxt), scalar(sigma, nxt), nxt, not flip)
            K = xp.householder_reflect_k(K, column(V, i), scalar(tau, i), i, flip)
    if k < n:
        a_cols += [xp.zeros_like(a_cols[0])] * (n - k)
    return xp.tril(xp.stack(a_cols, axis=-1), -1), xp.stack(tau_cols, axis=-1)


def _dtype(x):
    return x.dtype if isinstance(x, np.ndarray) else x.detach().numpy().dtype


def nonfinite(a, tau, k, *others):
    """Whether an entry the forward reads has an inf or a NaN: tau, a's first k columns below the diagonal (its
    diagonal and upper triangle are never read), the others. Float arrays only."""
    if a.dtype.kind != "f":
        return False
    arrays = (np.tril(a[..., :, :k], -1), tau) + others
    return not all(np.isfinite(x).all() for x in arrays)
