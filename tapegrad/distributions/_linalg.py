"""The linear algebra the distributions need, as differentiable ops (private until ``tapegrad.linalg``).

``cholesky`` and ``solve_triangular`` with PyTorch's gradient formulas (``cholesky_backward``,
``linalg_solve_triangular``'s derivative) and node names; ``cholesky_inverse`` and ``diag_embed`` are
compositions of ops. The rules call ``xp.solve_triangular`` and so run on tensors too (``create_graph``).
"""

from __future__ import annotations

import numpy as np

from ..autograd.declare import Tensor, op, record
from ..autograd.xp import numpy_xp, register_tensor_xp

__all__ = ["LinAlgError", "cholesky", "solve_triangular", "cholesky_inverse", "diag_embed"]


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a factorization or solve that cannot be completed."""


def _triangle(a, upper, unitriangular=False):
    a = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        a = a.copy()
        idx = np.arange(a.shape[-1])
        a[..., idx, idx] = 1
    return a


def _solve_triangular_array(A, B, upper, left=True, unitriangular=False):
    """X with A X = B (left) or X A = B (right), reading only A's upper or lower triangle."""
    A = _triangle(A, upper, unitriangular)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return np.swapaxes(_solve_triangular_array(np.swapaxes(A, -1, -2), np.swapaxes(B, -1, -2), not upper),
                           -1, -2)
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = np.broadcast_to(A, batch + A.shape[-2:])
    B = np.broadcast_to(B, batch + B.shape[-2:])
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            return np.linalg.solve(A, B)
        except np.linalg.LinAlgError:  # a zero on the diagonal: PyTorch returns inf/nan, it does not raise
            return np.linalg.pinv(A) @ B * np.nan


numpy_xp.solve_triangular = _solve_triangular_array


def _check_matrix(name, t, what="A"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor as {what}, got {type(t).__name__}")
    if t.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {what} must have at least 2 dimensions.")
    if t.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point tensor as input. Got {t.dtype}")


@op(methods=(), xp_name="solve_triangular")
def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False) -> Tensor:
    """solve_triangular(A, B, *, upper, left=True, unitriangular=False) -> X with A X = B (or X A = B).

    Only the upper or lower triangle of ``A`` is read, as ``torch.linalg.solve_triangular``.

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._linalg import solve_triangular
    >>> solve_triangular(tg.tensor([[2.0, 0.0], [1.0, 1.0]]), tg.tensor([[2.0], [3.0]]), upper=False)
    tensor([[1.],
            [2.]])
    """
    _check_matrix("linalg.solve_triangular", A)
    _check_matrix("linalg.solve_triangular", B, "B")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.solve_triangular: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    k = B.shape[-2] if left else B.shape[-1]
    if k != A.shape[-1]:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({'x'.join(map(str, A.shape[-2:]))} and "
                           f"{'x'.join(map(str, B.shape[-2:]))})")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, but found A of type "
                           f"{A.dtype} and B of type {B.dtype} instead")
    X = _solve_triangular_array(A._data, B._data, upper, left, unitriangular)

    def rule(xp, need, g, out, A, B):
        # PyTorch: gB = A^-H gX (solved on the same side); gA = -gB X^H (left) or -X^H gB (right), on A's triangle
        gB = xp.solve_triangular(A.mT, g, upper=not upper, left=left, unitriangular=unitriangular)
        gA = None
        if need[0]:
            gA = -(gB @ out.mT) if left else -(out.mT @ gB)
            gA = xp.triu(gA, 1 if unitriangular else 0) if upper else xp.tril(gA, -1 if unitriangular else 0)
        return gA, (gB if need[1] else None)

    return record(X.astype(A.dtype, copy=False), (A, B), rule, "LinalgSolveTriangularBackward0")


def _failing_order(a):
    """The order of the first leading minor whose Cholesky pivot is not positive (LAPACK's potrf info)."""
    n = a.shape[-1]
    L = np.zeros_like(a)
    for k in range(n):
        d = a[k, k] - L[k, :k] @ L[k, :k]
        if not d > 0:
            return k + 1
        L[k, k] = np.sqrt(d)
        L[k + 1:, k] = (a[k + 1:, k] - L[k + 1:, :k] @ L[k, :k]) / L[k, k]
    return n


@op(methods=(), xp_name="cholesky")
def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """cholesky(A, *, upper=False) -> L with A = L L^H (``torch.linalg.cholesky``; reads A's lower triangle).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._linalg import cholesky
    >>> cholesky(tg.tensor([[4.0, 2.0], [2.0, 2.0]]))
    tensor([[2., 0.],
            [1., 1.]])
    """
    _check_matrix("linalg.cholesky", A)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.cholesky: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    a = np.tril(A._data)
    a = a + np.swapaxes(np.tril(a, -1), -1, -2)  # the symmetric matrix of the lower triangle, as LAPACK reads it
    L = np.zeros_like(a)
    flat, out = a.reshape((-1,) + a.shape[-2:]), L.reshape((-1,) + a.shape[-2:])
    for i in range(flat.shape[0]):
        try:
            out[i] = np.linalg.cholesky(flat[i])
            failed = not np.all(np.diagonal(out[i]) > 0)  # NaN passes numpy's check but not LAPACK's pivots
        except np.linalg.LinAlgError:
            failed = True
        if failed:
            order = _failing_order(flat[i])
            where = f"(Batch element {i}): " if A.ndim > 2 else ""
            raise LinAlgError(f"linalg.cholesky: {where}The factorization could not be completed because the input "
                              f"is not positive-definite (the leading minor of order {order} is not "
                              f"positive-definite).") from None
    if upper:
        L = np.swapaxes(L, -1, -2)

    def rule(xp, g, out, A):
        # PyTorch's cholesky_backward (Iain Murray, arXiv 1602.07527): L^-H Phi(L^H gL) L^-1
        L, gL = (out.mT, g.mT) if upper else (out, g)
        gA = xp.tril(L.mT @ gL)
        gA = 0.5 * (gA + xp.tril(gA, -1).mT)
        gA = xp.solve_triangular(L.mT, gA, upper=True, left=True)
        return xp.solve_triangular(L, gA, upper=False, left=False)

    return record(np.ascontiguousarray(L), (A,), rule, "LinalgCholeskyExBackward0")


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """cholesky_inverse(L, upper=False) -> (L L^H)^-1 from its Cholesky factor (composed of differentiable ops).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._linalg import cholesky_inverse
    >>> cholesky_inverse(tg.tensor([[2.0, 0.0], [0.0, 1.0]]))
    tensor([[0.2500, 0.0000],
            [0.0000, 1.0000]])
    """
    from ..creation import eye
    n = L.shape[-1]
    Linv = solve_triangular(L, eye(n, dtype=L.dtype), upper=upper)
    return Linv @ Linv.mT if upper else Linv.mT @ Linv


def diag_embed(input: Tensor) -> Tensor:
    """diag_embed(input): the last dimension of ``input`` as the diagonals of matrices.

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._linalg import diag_embed
    >>> diag_embed(tg.tensor([1.0, 2.0]))
    tensor([[1., 0.],
            [0., 2.]])
    """
    from ..creation import eye
    n = input.shape[-1]
    return input.unsqueeze(-1) * eye(n, dtype=input.dtype)


register_tensor_xp("solve_triangular", solve_triangular)
