"""The differentiable primitives of ``tapegrad.linalg``: each computes on numpy arrays and records PyTorch's
gradient formula (``tools/autograd/derivatives.yaml``, ``FunctionsManual.cpp``) under PyTorch's node name.

Every rule is written with ``xp`` ops and with the primitives below under their ``xp`` names
(``xp.linalg_inv_m``, ``xp.linalg_solve_m``, ...), so one rule gives first-order gradients on arrays and, with
``create_graph=True``, gradients of every order on tensors. Ops with several differentiable outputs (svd, eigh,
qr) record one node holding all outputs (``several``), from which each output is taken by a linear map: a rule
then sees every output and every incoming gradient at once, as PyTorch's do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from ..autograd.declare import Tensor, backward_op, record
from ..autograd.grad_mode import is_grad_enabled

__all__ = ["LinAlgError"]


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a linear algebra function met a singular or non positive-definite input.

    A subclass of RuntimeError, as PyTorch's.

    >>> import tapegrad as tg
    >>> issubclass(tg.linalg.LinAlgError, RuntimeError)
    True
    """


def lapack_cast(a):
    """The context for a numpy.linalg call on ``a``: it computes float32 in float64 and casts the result back in
    numpy's own module, past tapegrad's warnings filter, so a result beyond float32 (the singular values of
    [[3e38, 3e38], [3e38, -3e38]]) is inf silently, as PyTorch's, only under an errstate. float64 has no cast: a
    shared no-op context instead (an errstate costs 0.9 us, a fifth of a 3 x 3 inverse)."""
    return _NO_CAST if a.dtype.itemsize == 8 else np.errstate(over="ignore")


_NO_CAST = contextlib.nullcontext()


# ---------------------------------------------------------------------- checks
_TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double"}


def torch_dtype_name(dtype) -> str:
    return _TORCH_NAMES.get(np.dtype(dtype).name, str(dtype))


def expect_tensor(op: str, x, name: str = "A") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, not {type(x).__name__}")
    return x


def check_float(op: str, x: Tensor, low_precision: bool = False) -> None:
    """PyTorch's dtype checks of linalg functions: floating point only; float16/bfloat16 refused by most."""
    dt = x._data.dtype
    if dt.kind != "f" and dt.name != "bfloat16":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_dtype_name(dt)}")
    if not low_precision and dt.itemsize < 4:
        raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {torch_dtype_name(dt)}")


def column_major(value: np.ndarray, copy: bool = False) -> np.ndarray:
    """``value``'s matrices in LAPACK's column-major layout (strides (1, n), batched (n * k, 1, n)), as PyTorch
    returns its LAPACK results: ops that follow the layout (kron's final view, view, is_contiguous) see it.

    ``value`` itself where it has that layout already (a fresh result), unless ``copy``: a result that must not
    share the input's memory (triangular_solve's cloned coefficient of a 1 x 1 or transposed A)."""
    if value.ndim < 2:
        return value.copy() if copy else value
    swapped = np.swapaxes(value, -1, -2)
    return np.swapaxes(np.array(swapped, order="C") if copy else np.ascontiguousarray(swapped), -1, -2)


def check_lapack_dtype(kernel: str, x: Tensor) -> None:
    """PyTorch's refusal of a LAPACK kernel (``"orgqr_cpu"``) for a dtype it has no kernel for: only float32 and
    float64 (and complex) are implemented; float16, bfloat16, integers and bool raise NotImplementedError."""
    dt = x._data.dtype
    if dt.kind != "f" or dt.itemsize < 4:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{torch_dtype_name(dt)}\'')


def check_matrix(op: str, x: Tensor, square: bool = False, low_precision: bool = False) -> None:
    expect_tensor(op, x)
    if x.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    check_float(op, x, low_precision)
    if square and x.shape[-1] != x.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {x.shape[-2]} by "
                           f"{x.shape[-1]} matrices")


def check_same_dtype(op: str, a: Tensor, b: Tensor, names=("A", "B")) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{op}: Expected {names[0]} and {names[1]} to have the same dtype, but got "
                           f"{names[0]}.dtype {torch_dtype_name(a._data.dtype)} and {names[1]}.dtype "
                           f"{torch_dtype_name(b._data.dtype)}")


def batch_prefix(index, batched: bool) -> str:
    return f"(Batch element {index}): " if batched else ""


def flat_batch(a, core: int):
    """``a`` with its batch dims (all but the last ``core``) flattened into one, also when some are 0."""
    batch = a.shape[:a.ndim - core]
    return a.reshape((int(np.prod(batch, dtype=np.int64)),) + a.shape[a.ndim - core:])


# ---------------------------------------------------------------------- LU with partial pivoting (LAPACK getf2)
_FUSED_LU_ORDER = 16  # the largest order whose LU emulates MKL's fused updates


def lu_factor_array(a: np.ndarray):
    """(LU, pivots (1-based, int32), info) of ``a`` (..., m, n) as LAPACK's getrf: ``info`` is the 1-based index
    of the first zero pivot (0 when there is none). Vectorized over the batch; a loop over the columns.

    The pivot search is LAPACK's i?amax: the first entry of largest magnitude, where a NaN is never larger (so it
    is the pivot only when it comes first); the rank-one update skips nothing (0 * inf is NaN), as MKL's: the
    same pivots, signs of zero and NaNs as PyTorch's CPU LU on matrices with inf/nan entries.

    On finite matrices the rounding is MKL's (PyTorch's CPU LAPACK), bit for bit on the matrices we compared: each
    update a - l u is one fused multiply-add, and the column below a pivot is scaled by the pivot's reciprocal,
    except in a square matrix of order 4 or less, whose last column (one entry below the pivot) is divided by it.
    So a singular float64 matrix gets MKL's pivot of rounding noise (2.8e-17 for [[3, 1.5], [1, 0.5]]), not 0.
    Above order 16 the update is plain numpy (MKL's blocked getrf rounds otherwise there anyway, and the emulated
    float64 fused multiply-add would make a 256 x 256 factorization ten times slower)."""
    *batch, m, n = a.shape
    k = min(m, n)
    lu = flat_batch(np.array(a, dtype=a.dtype, copy=True), 2)
    count = lu.shape[0]
    pivots = np.zeros((count, k), np.int32)
    info = np.zeros(count, np.int32)
    rows = np.arange(count)
    fused = k <= _FUSED_LU_ORDER
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(k):
            p = j + _amax(np.abs(lu[:, j:, j]))
            pivots[:, j] = p + 1
            top = lu[rows, j].copy()
            lu[rows, j] = lu[rows, p]
            lu[rows, p] = top
            d = lu[:, j, j]
            zero = d == 0
            info[(info == 0) & zero] = j + 1
            if j + 1 < m:
                # getf2's scaling: by the reciprocal of the pivot (a division below the safe minimum, as LAPACK;
                # MKL divides the one entry below the last pivot of a square matrix of order <= 4)
                if m == n <= 4 and j == m - 2:
                    safe = np.zeros(d.shape, bool)
                else:
                    safe = np.abs(d) >= np.finfo(lu.dtype).tiny
                scale = lu[:, j + 1:, j] * (1 / np.where(safe, d, 1))[:, None]
                col = np.where(safe[:, None], scale, lu[:, j + 1:, j] / np.where(zero, 1, d)[:, None])
                col = np.where(zero[:, None], lu[:, j + 1:, j], col)
                lu[:, j + 1:, j] = col
                if fused:
                    lu[:, j + 1:, j + 1:] = _fused_update(lu[:, j + 1:, j + 1:], col[:, :, None],
                                                          lu[:, j, None, j + 1:])
                else:
                    lu[:, j + 1:, j + 1:] -= col[:, :, None] * lu[:, j, None, j + 1:]
    return (lu.reshape(a.shape), pivots.reshape(tuple(batch) + (k,)), info.reshape(tuple(batch)))


def _fused_update(a, l, u):
    """a - l u with one rounding (an FMA, as MKL's getrf update); where the fused and the plain results are both
    zero, or the fused one is not finite, the plain one (its IEEE sign of zero, its inf/nan)."""
    plain = a - l * u
    if a.dtype == np.float32:
        fused = (a.astype(np.float64) - l.astype(np.float64) * u.astype(np.float64)).astype(np.float32)
    elif a.dtype == np.float64:
        from ..ops._fused import fma64 as _fma64

        fused = _fma64(-l, u, a)
    else:
        return plain
    keep = ~np.isfinite(fused) | ((fused == 0) & (plain == 0))
    return np.where(keep, plain, fused)


def _amax(mag):
    """LAPACK's i?amax along the last axis of the magnitudes ``mag``: the first largest, a NaN never larger (the
    first entry when it is NaN). Costs one isnan check unless there is a NaN."""
    nan = np.isnan(mag)
    if not nan.any():
        return np.argmax(mag, axis=-1)
    return np.where(nan[..., 0], 0, np.argmax(np.where(nan, -1, mag), axis=-1))


def laswp_array(b, pivots, forward=True):
    """LAPACK's laswp on ``b`` (count, n, k) in place: the row swaps ``pivots`` (count, n), 1-based, in order
    (``forward``) or in reverse."""
    rows = np.arange(b.shape[0])
    n = pivots.shape[-1]
    for j in (range(n) if forward else range(n - 1, -1, -1)):
        p = pivots[:, j] - 1
        top = b[rows, j].copy()
        b[rows, j] = b[rows, p]
        b[rows, p] = top
    return b


def trsm_array(a, b, upper, trans, unit, plus_zero=False):
    """op(A) X = B in place in ``b`` (count, n, k) for triangular ``a`` (count, n, n) (only its triangle read),
    in BLAS's reference order as MKL's dtrsm computes it for the left side: without ``trans``, column by column
    of A, B(i) -= B(k) A(i, k) after B(k) *= 1 / A(k, k); with ``trans``, B(i) = (B(i) - sum_k A(k, i) B(k)) *
    (1 / A(i, i)) with the products subtracted one at a time. Nothing is skipped (a zero times inf is NaN); MKL
    multiplies by the reciprocal of the pivot. ``plus_zero`` adds +0.0 to each numerator before that (MKL's potrs
    with several right-hand sides: a zero numerator is +0.0). The subtractions into each entry are vectorized as
    they come (with one subtraction at a time the signs of zero and NaNs do not depend on their order).

    Measured against PyTorch 2.13 (MKL) on thousands of small matrices with +-0, inf and nan: the same NaN places
    and signs of zero but for about 1 in 1,000 solves, where MKL fuses a multiply-add (FMA: a cancellation leaves
    5.6e-17 where this gives 0, so 0 * inf is NaN here and inf there) or, in getrs 'T' of 4 x 4 matrices, gives a
    zero the other sign."""
    n = b.shape[-2]
    with np.errstate(all="ignore"):
        if not trans:
            for k in (range(n - 1, -1, -1) if upper else range(n)):
                if plus_zero:
                    b[:, k] += 0
                if not unit:
                    b[:, k] *= 1 / a[:, k, k, None]
                rest = slice(0, k) if upper else slice(k + 1, n)
                b[:, rest] -= b[:, k, None, :] * a[:, rest, k, None]
        else:
            for i in (range(n) if upper else range(n - 1, -1, -1)):
                if plus_zero:
                    b[:, i] += 0
                if not unit:
                    b[:, i] *= 1 / a[:, i, i, None]
                rest = slice(i + 1, n) if upper else slice(0, i)
                b[:, rest] -= a[:, i, rest, None] * b[:, i, None, :]
    return b


def getrs_array(lu, pivots, b, trans=False):
    """X with A X = B (A^T X = B with ``trans``) from getrf's (LU, pivots) of A, as LAPACK's getrs (PyTorch's
    linalg.lu_solve on the CPU): the row swaps, then the two triangular solves in trsm_array's order; a zero
    pivot gives inf/nan, not an error. Batch dims broadcast; returns a new array of the common dtype."""
    lu, pivots, b = np.asarray(lu), np.asarray(pivots), np.asarray(b)
    batch = np.broadcast_shapes(lu.shape[:-2], pivots.shape[:-1], b.shape[:-2])
    n, k = b.shape[-2:]
    x = flat_batch(np.array(np.broadcast_to(b, batch + (n, k)), dtype=np.result_type(lu, b)), 2)
    a = flat_batch(np.broadcast_to(lu, batch + (n, n)), 2)
    piv = flat_batch(np.broadcast_to(pivots, batch + (n,)), 1)
    if not trans:
        laswp_array(x, piv, True)
        trsm_array(a, x, False, False, True)
        trsm_array(a, x, True, False, False)
    else:
        trsm_array(a, x, True, True, False)
        trsm_array(a, x, False, True, True)
        laswp_array(x, piv, False)
    return x.reshape(batch + (n, k))


def potrs_array(b, u, upper):
    """X with A X = B from A's Cholesky factor ``u`` (A = L L^T, or U^T U with ``upper``), as LAPACK's potrs
    (PyTorch's cholesky_solve on the CPU): two trsm_array solves, lower: L then L^T; upper: U^T then U. Batch dims
    broadcast; returns a new array."""
    b, u = np.asarray(b), np.asarray(u)
    batch = np.broadcast_shapes(b.shape[:-2], u.shape[:-2])
    n, k = b.shape[-2:]
    x = flat_batch(np.array(np.broadcast_to(b, batch + (n, k)), dtype=np.result_type(b, u)), 2)
    a = flat_batch(np.broadcast_to(u, batch + (n, n)), 2)
    trsm_array(a, x, upper, upper, False, k > 1)
    trsm_array(a, x, upper, not upper, False, k > 1)
    return x.reshape(batch + (n, k))


def cholesky_solve_rule(upper):
    """cholesky_solve's rule for ``upper`` (a closure: the engine sees it reads the result and the factor)."""
    def rule(xp, need, g, out, b, u):
        return _cholesky_solve_rule(xp, need, g, out, None, u, upper=upper)  # b is not read

    return rule


def _cholesky_solve_rule(xp, need, g, out, b, u, upper=False):
    """PyTorch's cholesky_solve_backward: gB = cholesky_solve(g, u); the gradient of the factor is the full
    matrix's, -(C + C^T) L (upper: -U (C + C^T)) with C = gB X^T, also in the triangle the forward does not read."""
    gb = xp.linalg_cholesky_solve_m(g, u, upper=upper)
    gu = None
    if need[1]:
        common = gb @ out.mT
        common = common + common.mT
        gu = -(u @ common) if upper else -(common @ u)
    return gb if need[0] else None, gu


@backward_op(grad=_cholesky_solve_rule, name="CholeskySolveBackward0")
def linalg_cholesky_solve_m(b, u, upper=False):
    """cholesky_solve(b, u, upper) on arrays (potrs_array)."""
    return potrs_array(b, u, upper)


def singular_error(op: str, a: np.ndarray) -> LinAlgError:
    """PyTorch's error for an inversion of a singular matrix, naming the batch element and the zero pivot."""
    _, _, info = lu_factor_array(a)
    flat = info.reshape(-1)
    bad = np.flatnonzero(flat)
    if bad.size == 0:  # LAPACK found a zero pivot that this LU did not (rounding): say it without the index
        return LinAlgError(f"{op}: The inversion could not be completed because the input matrix is singular.")
    index = bad[0]
    return LinAlgError(f"{op}: {batch_prefix(index, info.ndim > 0)}The diagonal element {flat[index]} is zero, the "
                       "inversion could not be completed because the input matrix is singular.")


def cholesky_info(a: np.ndarray) -> np.ndarray:
    """The 1-based order of the first leading minor of each matrix that is not positive-definite (0 if none)."""
    *batch, n, _ = a.shape
    flat = flat_batch(a, 2)
    info = np.zeros(flat.shape[0], np.int32)
    for i, m in enumerate(flat):
        try:
            np.linalg.cholesky(m)
            continue
        except np.linalg.LinAlgError:
            pass
        for order in range(1, n + 1):
            try:
                np.linalg.cholesky(m[:order, :order])
            except np.linalg.LinAlgError:
                info[i] = order
                break
    return info.reshape(tuple(batch))


def not_positive_definite(op: str, info: np.ndarray) -> LinAlgError:
    flat = info.reshape(-1)
    index = np.flatnonzero(flat)[0]
    return LinAlgError(f"{op}: {batch_prefix(index, info.ndim > 0)}The factorization could not be completed "
                       f"because the input is not positive-definite (the leading minor of order {flat[index]} is "
                       "not positive-definite).")


# ---------------------------------------------------------------------- inverse, solve, triangular solve
def _inv_rule(xp, g, out, a):
    return -(out.mT @ g @ out.mT)


@backward_op(grad=_inv_rule, name="LinalgInvExBackward0")
def linalg_inv_m(a):
    """The inverse of each (nonsingular) matrix of ``a``."""
    with lapack_cast(a):
        return np.linalg.inv(a)


def inv_lapack(a):
    """(inverse, info) of each matrix of ``a`` (..., n, n) as PyTorch's CPU linalg.inv_ex computes it:
    linalg_solve_ex(A, I) (BatchLinearAlgebra.cpp), LAPACK's getrf of A then getrs on the identity, in reference
    LAPACK's order (lu_factor_array, getrs_array): the inf/nan of a non-finite matrix reach the entries they reach
    in PyTorch, and a zero pivot gives inf/nan and info > 0, not an error."""
    lu, pivots, info = lu_factor_array(a)
    eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return getrs_array(lu, pivots, eye).astype(a.dtype, copy=False), info


def _solve_rule(xp, need, g, out, a, b):
    gb = xp.linalg_solve_m(a.mT, g)
    return (-(gb @ out.mT) if need[0] else None, gb if need[1] else None)


@backward_op(grad=_solve_rule, name="LinalgSolveExBackward0")
def linalg_solve_m(a, b):
    """X with A X = B for batches of matrices A (..., n, n) and B (..., n, k), batch dims broadcast."""
    with lapack_cast(a):
        return np.linalg.solve(a, b)


def solve_vector_rule(xp, need, g, out, a, b):
    """solve's rule for a batch of vectors B (..., n)."""
    ga, gb = _solve_rule(xp, need, xp.expand_dims(g, -1), xp.expand_dims(out, -1), a, xp.expand_dims(b, -1))
    return ga, xp.squeeze(gb, -1) if gb is not None else None


def triangular_solve_array(a, b, upper, unit=False):
    """X with A X = B for triangular A (only its triangle is read), by substitution as LAPACK's trsm: a zero on
    the diagonal gives inf/nan, not an error. Batch dims broadcast."""
    a, b = np.asarray(a), np.asarray(b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    n, k = b.shape[-2], b.shape[-1]
    a = np.broadcast_to(a, batch + a.shape[-2:])
    x = np.array(np.broadcast_to(b, batch + (n, k)), dtype=np.result_type(a, b), copy=True)
    order = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for i in order:
            done = slice(i + 1, n) if upper else slice(0, i)
            row = x[..., i, :] - (a[..., i, None, done] @ x[..., done, :])[..., 0, :]
            x[..., i, :] = row if unit else row / a[..., i, i, None]
    return x


def _triangular_rule(xp, need, g, out, a, b, upper=False, unit=False):
    gb = xp.linalg_solve_triangular_m(a.mT, g, upper=not upper, unit=unit)
    ga = None
    if need[0]:
        ga = -(gb @ out.mT)
        ga = xp.triu(ga, 1 if unit else 0) if upper else xp.tril(ga, -1 if unit else 0)
    return ga, gb if need[1] else None


@backward_op(grad=_triangular_rule, name="LinalgSolveTriangularBackward0")
def linalg_solve_triangular_m(a, b, upper=False, unit=False):
    """X with A X = B for batches of triangular matrices A."""
    return triangular_solve_array(a, b, upper, unit)


# ---------------------------------------------------------------------- determinants
def det_lu_arrays(a, use_t):
    """The diagonal of U and det(P) (+-1) of the LU factorization PyTorch's det/slogdet take: getrf of A^T when A
    is contiguous (``use_t``; det(A^T) = det(A)), of A otherwise."""
    lu, pivots, _ = lu_factor_array(np.swapaxes(a, -1, -2) if use_t else a)
    n = a.shape[-1]
    odd = (pivots != np.arange(1, n + 1, dtype=np.int32)).sum(-1) % 2 == 1
    return lu, pivots, np.diagonal(lu, axis1=-2, axis2=-1), np.where(odd, -1, 1).astype(a.dtype)


def det_lapack(a, use_t):
    """det(A) as PyTorch's CPU computes it: det(P) * prod(diag(U)) (its signs of zero and NaNs at inf/nan)."""
    _, _, diag, det_p = det_lu_arrays(a, use_t)
    with np.errstate(all="ignore"):
        return det_p * np.prod(diag, axis=-1)


def slogdet_lapack(a, use_t):
    """(sign, logabsdet) as PyTorch's CPU computes them: prod(sgn(diag(U))) * det(P) (sgn(nan) is 0) and
    sum(log|diag(U)|)."""
    _, _, diag, det_p = det_lu_arrays(a, use_t)
    sgn = (diag > 0).astype(a.dtype) - (diag < 0).astype(a.dtype)
    with np.errstate(all="ignore"):
        return np.prod(sgn, axis=-1) * det_p, np.sum(np.log(np.abs(diag)), axis=-1)


def diag_embed_array(v):
    """The matrices (..., n, n) with the vectors ``v`` (..., n) on their diagonals and zeros elsewhere (PyTorch's
    diag_embed: a product by the identity would make inf * 0 NaN off the diagonal)."""
    n = v.shape[-1]
    out = np.zeros(v.shape + (n,), v.dtype)
    out[..., np.arange(n), np.arange(n)] = v
    return out


def cofactor_svd_array(a, g):
    """g det(A) A^-T also for singular A, as PyTorch's singular branch of linalg_det_backward computes it from the
    SVD A = U S Vh: (U * D) Vh with D_i = g det(U) det(Vh) prod_{j != i} s_j, the products of the others by
    prefix and suffix products (prod_safe_zeros_backward), not det / s_i, which is 0/0 when singular."""
    with lapack_cast(a):
        u, s, vh = np.linalg.svd(a)
        alpha = np.linalg.det(u) * np.linalg.det(vh) * g
    one = np.ones(s.shape[:-1] + (1,), s.dtype)
    acc = np.float64 if s.dtype == np.float32 else None  # PyTorch's CPU cumprod of float32 runs in float64
    before = np.concatenate([one, s[..., :-1]], -1).cumprod(-1, dtype=acc).astype(s.dtype)
    after = np.flip(np.flip(np.concatenate([s[..., 1:], one], -1), -1).cumprod(-1, dtype=acc), -1).astype(s.dtype)
    d = alpha[..., None] * (before * after)
    return ((u * d[..., None, :]) @ vh).astype(a.dtype, copy=False)


def det_rule(use_t):
    """det's rule (a closure, so the engine sees it reads A, not the result; use_t: A was contiguous)."""
    def rule(xp, g, out, a):
        return xp.linalg_det_grad_m(g, a, use_t=use_t, graph=is_grad_enabled())

    return rule


def _det_rule(xp, g, out, a, use_t=True):
    """det's rule as an op's (linalg_det_m): PyTorch's linalg_det_backward, its create_graph branches in grad mode."""
    return xp.linalg_det_grad_m(g, a, use_t=use_t, graph=is_grad_enabled())


@backward_op(grad=_det_rule, name="LinalgDetBackward0")
def linalg_det_m(a, use_t=True):
    """det(A) on arrays as PyTorch's CPU computes it (det_lapack), for the rules that need it."""
    return det_lapack(a, use_t)


def _det_grad_rule(xp, need, gg, out, g, a, use_t=True, graph=False):
    # the derivative of PyTorch's create_graph formula X = solve(A^T, diag(g det(A))), which autograd takes through
    # solve and det: with gD = A^-1 gg (getrs with solve's LU of A^T), g gets tr(gD) det(A), A gets -X gD^T and
    # det's gradient for tr(gD) g
    n = a.shape[-1]
    if n < 2:  # X = g: A gets no gradient
        return gg.sum(axis=(-2, -1)) if need[0] else None, xp.zeros_like(a) if need[1] else None
    det = xp.linalg_det_m(a, use_t=use_t)
    if (det == 0).any():
        raise LinAlgError("linalg.det: the second derivative of det at a singular matrix is not implemented "
                          "(the first derivative, the cofactor matrix, is)")
    gd = xp.linalg_solve_adjoint_m(a.mT, gg, use_t=not use_t)
    tr = (gd * np.eye(n, dtype=a.dtype)).sum(axis=(-2, -1))
    ga = None
    if need[1]:
        ga = -(out @ gd.mT) + xp.linalg_det_grad_m(tr * g, a, use_t=use_t, graph=is_grad_enabled())
    return tr * det if need[0] else None, ga


@backward_op(grad=_det_grad_rule, name="LinalgDetBackward0")
def linalg_det_grad_m(g, a, use_t=True, graph=False):
    """det's gradient g det(A) A^-T as PyTorch's linalg_det_backward computes it: the solution of
    A^T X = diag(g det(A)) by getrs with the LU factors det takes (getrf of A^T when A is contiguous, ``use_t``,
    of A otherwise) and det(A) their product, in MKL's order (lu_factor_array, getrs_array). Without
    create_graph PyTorch puts eps on the zero pivots of a singular LU; with it (``graph``) a matrix with
    |det(A)| < 100 eps takes the cofactor matrix from the SVD instead (cofactor_svd_array), and linalg.solve
    refuses a zero pivot of any other (det inf/nan: a matrix with inf/nan). A finite matrix with
    det(A) exactly 0 takes the SVD's here also without create_graph: the derivative, where PyTorch 2.13's
    lu_solve of diag(0) gives zeros. The gradient of a 1 x 1 matrix is g (PyTorch 2.13's, also at 0, inf, nan).

    A finite matrix whose det is not rounding noise (not ``near_singular``) takes the same formula with numpy's
    LAPACK (OpenBLAS): last bits of its rounding, not MKL's, five times faster than the emulated order, as inv and
    slogdet's gradient do."""
    n = a.shape[-1]
    if n < 2:
        return np.broadcast_to(unsqueeze2(np, g), a.shape).astype(a.dtype)
    if not graph and np.isfinite(a).all() and np.isfinite(g).all() and not near_singular(a):
        with np.errstate(all="ignore"):
            d = (np.broadcast_to(g, a.shape[:-2]) * np.linalg.det(a)).astype(a.dtype, copy=False)
            try:
                x = np.linalg.solve(np.swapaxes(a, -1, -2), diag_embed_array(np.repeat(d[..., None], n, -1)))
            except np.linalg.LinAlgError:
                x = None
        if x is not None and np.isfinite(x).all():
            return x.astype(a.dtype, copy=False)
    lu, pivots, diag, det_p = det_lu_arrays(a, use_t)
    g = np.broadcast_to(g, a.shape[:-2])
    eps = np.finfo(a.dtype).eps
    with np.errstate(all="ignore"):
        det = det_p * np.prod(diag, axis=-1)
        svd = (np.abs(det) < 100 * eps if graph else det == 0) & np.isfinite(a).all(axis=(-2, -1))
        if not graph:
            lu = lu + diag_embed_array(np.where(diag == 0, eps, 0).astype(a.dtype))
        elif ((diag == 0).any(axis=-1) & ~svd).any():  # linalg.solve's refusal (an inf/nan matrix, det nan)
            index = int(np.flatnonzero((diag == 0).any(axis=-1) & ~svd)[0])
            raise LinAlgError(f"torch.linalg.solve: {batch_prefix(index, a.ndim > 2)}The solver failed because the "
                              "input matrix is singular.")
        d = np.broadcast_to((g * det).astype(a.dtype, copy=False)[..., None], diag.shape)
        out = getrs_array(lu, pivots, diag_embed_array(d), not use_t)
    if svd.any():
        out[svd] = cofactor_svd_array(a[svd], g[svd])
    return out


def no_grad_rule(xp, g, out, a):
    """The rule of an output whose gradient PyTorch does not propagate (slogdet's sign): None."""
    return None


def no_grads_rule(xp, need, g, out, *inputs):
    return (None,) * len(inputs)


def zero_grad_rule(xp, g, out, a):
    """The rule of an output that does not depend on its input (matrix_power(A, 0)): a zero gradient."""
    return xp.zeros_like(a)


def unsqueeze2(xp, g):
    return g.reshape(tuple(g.shape) + (1, 1))


def logabsdet_rule(use_t):
    """PyTorch's slogdet_backward: A^-T diag(g), solved with the LU factors of A (transposed), so a singular A
    gives inf/nan where LAPACK's substitution meets the zero pivot, not an error."""
    def rule(xp, g, out, a):
        n = a.shape[-1]
        return xp.linalg_solve_adjoint_m(a, unsqueeze2(xp, g) * np.eye(n, dtype=g.dtype), use_t=use_t)

    return rule


def lu_solve_adjoint_array(a, b, use_t=True):
    """X with A^T X = B, as PyTorch's slogdet backward computes it: getrs with the LU factors slogdet takes
    (getrf of A^T when A is contiguous, ``use_t``; of A otherwise, then the transposed solve), in MKL's order
    (lu_factor_array, getrs_array) where the matrix is near singular, non-finite or the solution overflows; a zero
    pivot (a singular A) gives inf/nan, not an error. Elsewhere numpy's solver (its LAPACK's last bits), several
    times faster for small matrices and fifty times for large."""
    if np.isfinite(a).all() and np.isfinite(b).all() and not near_singular(a):
        try:
            with np.errstate(all="ignore"):
                x = np.linalg.solve(np.swapaxes(a, -1, -2), b)
            if np.isfinite(x).all():
                return x
        except np.linalg.LinAlgError:
            pass
    lu, pivots, _ = lu_factor_array(np.swapaxes(a, -1, -2) if use_t else a)
    return getrs_array(lu, pivots, b, not use_t)


def near_singular(a, det=None):
    """Whether a matrix of ``a`` (float32/float64, finite, of order <= 16) has a determinant at the level of
    rounding noise: |det| below 2**10 n eps times Hadamard's bound (the product of the columns' norms), where
    PyTorch's values are its LU's (MKL's) rounding, which lu_factor_array reproduces and numpy's LU does not.
    Larger matrices keep numpy's LU (the bound loosens with the order, and lu_factor_array loops over columns)."""
    if a.dtype != np.float64 and a.dtype != np.float32 or a.size == 0 or a.shape[-1] > 16:
        return False
    n = a.shape[-1]
    with np.errstate(all="ignore"):
        if det is None:
            det = np.linalg.det(a.astype(np.float64))
        bound = np.prod(np.sqrt(np.einsum("...ij,...ij->...j", a, a, dtype=np.float64)), axis=-1)
        return bool(np.any(np.abs(det) <= 1024 * n * np.finfo(a.dtype).eps * bound))


def _solve_adjoint_rule(xp, need, g, out, a, b, use_t=True):
    gb = xp.linalg_solve_m(a, g)
    return (-(out @ gb.mT) if need[0] else None, gb if need[1] else None)


@backward_op(grad=_solve_adjoint_rule, name="LinalgLuSolveBackward0")
def linalg_solve_adjoint_m(a, b, use_t=True):
    """X with A^T X = B for batches of square matrices A (singular ones give inf/nan, as LAPACK's getrs)."""
    return lu_solve_adjoint_array(a, b, use_t)


# ---------------------------------------------------------------------- several differentiable outputs
def several(inputs: tuple, arrays: list, rule, name: str) -> list:
    """Record an op with several differentiable outputs: one node holds them all (flattened and concatenated),
    each output is taken from it by a linear map named ``name`` too. ``rule(xp, need, grads, outs, *inputs)``
    receives the list of incoming gradients (zeros for unused outputs) and the list of outputs."""
    shapes = [tuple(a.shape) for a in arrays]
    bounds = np.cumsum([0] + [int(np.prod(s)) for s in shapes]).tolist()
    total = bounds[-1]

    def unpack(v):
        return [v[lo:hi].reshape(s) for lo, hi, s in zip(bounds[:-1], bounds[1:], shapes, strict=True)]

    packed_rule: Callable  # the rule protocol of one input, or of several
    if len(inputs) == 1:
        def packed_rule(xp, g, out, x):
            return rule(xp, (True,), unpack(g), unpack(out), x)[0]
    else:
        def packed_rule(xp, need, g, out, *xs):
            return rule(xp, need, unpack(g), unpack(out), *xs)

    dtype = np.result_type(*arrays) if arrays else np.float64
    node = record(np.concatenate([np.asarray(a, dtype).reshape(-1) for a in arrays]), tuple(inputs), packed_rule,
                  name)
    outputs = []
    for a, lo, hi, shape in zip(arrays, bounds[:-1], bounds[1:], shapes, strict=True):
        piece = node._data[lo:hi].reshape(shape)
        if a.ndim >= 2 and not a.flags.c_contiguous and np.swapaxes(a, -1, -2).flags.c_contiguous:
            piece = np.swapaxes(np.swapaxes(piece, -1, -2).copy(), -1, -2)  # a column-major output stays one
        else:
            piece = piece.copy()
        outputs.append(record(piece, (node,), _piece_rule(lo, hi, shape, total), name))
    return outputs


def _piece_rule(lo, hi, shape, total):
    def embed(g):
        full = np.zeros(g.shape[:0] + (total,), g.dtype)
        full[lo:hi] = g.reshape(-1)
        return full

    def extract(full):
        return full[lo:hi].reshape(shape)

    def piece_rule(xp, g, out, x):
        return xp.linear(embed, extract, g)

    return piece_rule


def safe_div(xp, num, den):
    """num / den, with 0 where num is 0 (a zero cotangent contributes nothing, as PyTorch's undefined gradients
    do). NOTE: the denominator is replaced where unused, so no inf reaches a gradient of this gradient."""
    zero = num == 0
    return xp.where(zero, 0.0, num) / xp.where(zero, 1.0, den)


def eye_like(x, n):
    return np.eye(n, dtype=x.dtype)


# ---------------------------------------------------------------------- svd
def svd_rule(full_matrices: bool):
    """PyTorch's svd_backward (real case) for A = U diag(S) Vh. svdvals uses it too: its U and Vh are outputs
    of the same node, so that gradients of its gradient (which read U and Vh) reach A through them."""

    def rule(xp, need, grads, outs, a):
        gu, gs, gvh = grads
        u, s, vh = outs
        m, n = a.shape[-2], a.shape[-1]
        k = min(m, n)
        if full_matrices:
            u, gu = u[..., :, :k], gu[..., :, :k]
            vh, gvh = vh[..., :k, :], gvh[..., :k, :]
        v, gv = vh.mT, gvh.mT
        uhgu = u.mT @ gu
        uhgu = uhgu - uhgu.mT
        vhgv = vh @ gv
        vhgv = vhgv - vhgv.mT
        s2 = s * s
        e = xp.expand_dims(s2, -2) - xp.expand_dims(s2, -1) + eye_like(s, k)
        ga = safe_div(xp, uhgu * xp.expand_dims(s, -2) + xp.expand_dims(s, -1) * vhgv, e)
        ga = ga + xp.expand_dims(gs, -1) * eye_like(s, k)
        if m > n:
            ga = u @ ga
            gusinv = safe_div(xp, gu, xp.expand_dims(s, -2))
            ga = ga + gusinv - u @ (u.mT @ gusinv)
            ga = ga @ vh
        elif m < n:
            ga = ga @ vh
            gvsinv = safe_div(xp, gv, xp.expand_dims(s, -2))
            ga = ga + gvsinv.mT - (gvsinv.mT @ v) @ vh
            ga = u @ ga
        else:
            ga = u @ ga @ vh
        return ga,

    return rule


def svd_lapack(a, full_matrices=True):
    """numpy's SVD (U, S, Vh) of each matrix, except that a matrix with inf/nan gets NaN factors without a call
    into LAPACK: numpy's gesdd (its bundled OpenBLAS) never returns for some (float32 [[inf, -2.5, 1],
    [0, 0.5, 3], [0.5, -inf, -1]]); PyTorch's MKL returns NaNs there (or, for some with a NaN, raises).
    Matrices of one row or column keep numpy's answer. A matrix with a NaN raises PyTorch's LinAlgError:
    LAPACK's gesdd (reference LAPACK 3.10+, MKL 2022+) returns info = -4 when the largest magnitude (dlange 'M')
    is NaN, which PyTorch's _linalg_check_errors (BatchLinearAlgebra.cpp) reports for every op that calls svd
    (svdvals, pinv, matrix_norm, matrix_rank, cond); an inf without a NaN is computed (NaN factors)."""
    m, n = a.shape[-2:]
    bad = ~np.isfinite(a).all(axis=(-2, -1))
    if bad.any():
        nan = np.isnan(a).any(axis=(-2, -1)).reshape(-1)
        if nan.any():
            index = int(np.flatnonzero(nan)[0])
            raise LinAlgError(f"linalg.svd: {batch_prefix(index, a.ndim > 2)}The algorithm failed to converge "
                              "because the input matrix contained non-finite values.")
    if not bad.any() or min(m, n) <= 1:  # one singular value: no iteration, numpy returns (pinv([[inf]]) is 0)
        with lapack_cast(a):
            return np.linalg.svd(a, full_matrices=full_matrices)
    k = min(m, n)
    batch = a.shape[:-2]
    u = np.full(batch + (m, m if full_matrices else k), np.nan, a.dtype)
    s = np.full(batch + (k,), np.nan, a.dtype)
    vh = np.full(batch + (n if full_matrices else k, n), np.nan, a.dtype)
    good = ~bad
    if good.any():
        with lapack_cast(a):
            u[good], s[good], vh[good] = np.linalg.svd(a[good], full_matrices=full_matrices)
    return u, s, vh


def svd_arrays(a, full_matrices):
    u, s, vh = svd_lapack(a, full_matrices=full_matrices)
    return [u.astype(a.dtype, copy=False), s.astype(a.dtype, copy=False), vh.astype(a.dtype, copy=False)]


# ---------------------------------------------------------------------- eigh
def eigh_rule():
    """PyTorch's linalg_eig_backward for a symmetric A = V diag(L) V^T."""

    def rule(xp, need, grads, outs, a):
        gl, gv = grads
        lam, v = outs
        n = a.shape[-1]
        vhgv = v.mT @ gv
        vhgv = 0.5 * (vhgv - vhgv.mT)
        e = xp.expand_dims(lam, -2) - xp.expand_dims(lam, -1) + eye_like(lam, n)
        ga = safe_div(xp, vhgv, e) + xp.expand_dims(gl, -1) * eye_like(lam, n)
        return v @ ga @ v.mT,

    return rule


# ---------------------------------------------------------------------- qr
def qr_rule(mode: str):
    """PyTorch's linalg_qr_backward for A = Q R (mode 'reduced', or 'complete' with m <= n)."""

    def rule(xp, need, grads, outs, a):
        gq, gr = grads
        q, r = outs
        m, n = a.shape[-2], a.shape[-1]
        if mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                               "through linalg.qr.")
        if mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        # NOTE: step by step as PyTorch's linalg_qr_backward (FunctionsManual.cpp), so that an inf or nan in the
        # incoming gradient spreads to the same entries (a qr of a wide matrix leaves the columns past the first m
        # out of the triangular solve)
        with np.errstate(all="ignore"):  # inf/nan in the gradient spread as in PyTorch, silently
            ga = gr @ r.mT - q.mT @ gq
            if m >= n:  # gA = (gQ + Q syminvadj(triu(gR R^T - Q^T gQ))) R^-T
                sym = xp.triu(ga)
                sym = (sym + sym.mT) * (1 - 0.5 * eye_like(r, n))  # X + X^T with the diagonal halved
                return _right_solve_upper_t(xp, q @ sym + gq, r),
            # m < n, A = [X | Y], R = [U | V]: gA = [Q trilImInvAdjSkew(-(gR R^T - Q^T gQ)) U^-T | 0] + Q gR
            x = -ga
            b = _right_solve_upper_t(xp, q @ xp.tril(x - x.mT), r[..., :, :m])
            qgr = q @ gr
            return xp.concatenate([b + qgr[..., :, :m], qgr[..., :, m:]], axis=-1),

    return rule


def _right_solve_upper_t(xp, b, u):
    """B U^-T for an upper triangular U (PyTorch's linalg_solve_triangular(U^T, B, upper=False, left=False)):
    U X^T = B^T by back substitution, one column of B at a time."""
    return xp.linalg_solve_triangular_m(u, b.mT, upper=True).mT


# ---------------------------------------------------------------------- cholesky
def cholesky_rule(xp, g, out, a):
    """PyTorch's cholesky_backward for A = L L^T (lower): gA = L^-T pi*(tril(L^T gL)) L^-1 with
    pi*(X) = 0.5 (X + X^T - diag(X))."""
    # NOTE: step by step as FunctionsManual.cpp's cholesky_backward: the diagonal is halved by adding the strictly
    # lower part's transpose (not by subtracting a multiple of the diagonal, which makes inf - inf = nan), and the
    # result is not symmetrised again, so an inf or nan in gL spreads to the entries PyTorch's does
    phi = xp.tril(out.mT @ g)
    phi = 0.5 * (phi + xp.tril(phi, -1).mT)
    x = xp.linalg_solve_triangular_m(out.mT, phi, upper=True)  # L^-T phi
    return xp.linalg_solve_triangular_m(out.mT, x.mT, upper=True).mT  # L^-T phi L^-1


# ---------------------------------------------------------------------- pinv
def pinv_rule(xp, g, out, a):
    """PyTorch's pinv_backward."""
    m, n = a.shape[-2], a.shape[-1]
    pinv_h, grad_h = out.mT, g.mT
    if m <= n:
        k = grad_h @ out
        k_pinv_h = k @ pinv_h
        return -(out @ k).mT + k_pinv_h - (a @ out) @ k_pinv_h + (pinv_h @ out) @ (grad_h - k @ a)
    k = out @ grad_h
    pinv_h_k = pinv_h @ k
    return -(k @ out).mT + (grad_h - a @ k) @ out @ pinv_h + pinv_h_k - pinv_h_k @ out @ a


def pinv_array(a, atol, rtol, hermitian):
    """The pseudo-inverse with PyTorch's cut-off: singular values <= max(atol, rtol * largest) are dropped."""
    if hermitian:
        with lapack_cast(a):
            lam, v = np.linalg.eigh(a)
        s = np.abs(lam)
    else:
        u, s, vh = svd_lapack(a, full_matrices=False)
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), s.dtype)
    cut = np.maximum(atol, rtol * smax)
    keep = (s > cut) & (s > 0)
    with np.errstate(divide="ignore"):
        if hermitian:
            inv = np.where(keep, 1 / np.where(keep, lam, 1), 0)
            return ((v * inv[..., None, :]) @ np.swapaxes(v, -1, -2)).astype(a.dtype, copy=False)
        inv = np.where(keep, 1 / np.where(keep, s, 1), 0)
    return (np.swapaxes(vh, -1, -2) * inv[..., None, :] @ np.swapaxes(u, -1, -2)).astype(a.dtype, copy=False)


def tolerances(op, a, atol, rtol):
    """PyTorch's (atol, rtol) defaults: rtol = eps * max(m, n) when neither is given, 0 when only atol is."""
    eps = np.finfo(a.dtype).eps
    m, n = a.shape[-2], a.shape[-1]

    def value(t):
        if isinstance(t, Tensor):
            return t._data[..., None]
        return 0.0 if t is None else float(t)

    if rtol is None:
        rtol = eps * max(m, n) if atol is None or (not isinstance(atol, Tensor) and atol <= 0) else 0.0
    return value(atol), value(rtol)


def pinv_record(a: Tensor, atol, rtol, hermitian):
    at, rt = tolerances("linalg.pinv", a._data, atol, rtol)
    return record(pinv_array(a._data, at, rt, hermitian), (a,), pinv_rule, "LinalgPinvBackward0")


# ---------------------------------------------------------------------- cross
def _cross_rule(xp, need, g, out, a, b, axis=-1):
    return (xp.linalg_cross_m(b, g, axis=axis) if need[0] else None,
            xp.linalg_cross_m(g, a, axis=axis) if need[1] else None)


@backward_op(grad=_cross_rule, name="LinalgCrossBackward0")
def linalg_cross_m(a, b, axis=-1):
    """The cross product of 3-vectors along ``axis``, operands broadcast."""
    return cross_array(a, b, axis)


def cross_array(a, b, axis=-1):
    """PyTorch's CPU cross kernel: r0 = a1 b2 - a2 b1, r1 = a2 b0 - a0 b2, r2 = a0 b1 - a1 b0
    (aten/src/ATen/native/cpu/CrossKernel.cpp), which the compiler fuses, for float32 and float64, into
    fma(a1, b2, -(a2 b1)): the first product exact, the second rounded. So the cross product of a vector with
    itself is each product's rounding error (1e-17, not 0) and, where the products overflow, -inf (not NaN).
    float16 and the integers round each product (numpy's cross)."""
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        with np.errstate(over="ignore", invalid="ignore"):  # (numpy's module multiplies: past tapegrad's filter)
            return np.cross(a, b, axis=axis)
    a, b = np.broadcast_arrays(a, b)
    a0, a1, a2 = np.moveaxis(a, axis, 0)
    b0, b1, b2 = np.moveaxis(b, axis, 0)
    return np.stack([_fms(a1, b2, a2, b1), _fms(a2, b0, a0, b2), _fms(a0, b1, a1, b0)], axis=axis)


def _fms(a, b, c, d):
    """fma(a, b, -(c d)) with c d rounded to the dtype: float32 in float64 (a b is exact there), float64 by
    Dekker's exact product (a zero has the sign of the exact a b - c d, an underflowing one's too: -0.25 * 5e-324 -
    (-0.0) is -0.0; an infinite c d wins over a finite a b)."""
    from ..ops._fused import fma64 as _fma64

    with np.errstate(all="ignore"):
        q = c * d
        if a.dtype == np.float32:
            return (a.astype(np.float64) * b.astype(np.float64) - q.astype(np.float64)).astype(np.float32)
        out = _fma64(a, b, -q)
        return np.where(np.isinf(q) & np.isfinite(a) & np.isfinite(b), -q, out)


# ---------------------------------------------------------------------- lu_solve
def lu_solve_array(lu, pivots, b, left=True, adjoint=False):
    """linalg.lu_solve's value as PyTorch's CPU computes it: LAPACK's getrs on B (on B^T with the other
    ``adjoint`` when not ``left``), its signs of zero and inf/nan."""
    if left:
        return getrs_array(lu, pivots, b, adjoint)
    return np.swapaxes(getrs_array(lu, pivots, np.swapaxes(b, -1, -2), not adjoint), -1, -2)


def _lu_solve_rule(xp, need, g, out, lu, b, pivots=None, left=True, adjoint=False):
    """PyTorch's linalg_lu_solve backward (derivatives.yaml): B's gradient lu_solve(LU, pivots, g, left,
    !adjoint); LU's FunctionsManual.cpp's linalg_lu_solve_LU, step by step (its NaN spread at inf/nan)."""
    gb = xp.linalg_lu_solve_m(lu, g, pivots=pivots, left=left, adjoint=not adjoint) if need[1] else None
    return (_lu_solve_lu_grad(xp, g, lu, pivots, out, left, adjoint) if need[0] else None), gb


def _lu_solve_lu_grad(xp, gx, lu, pivots, x, left, adjoint):
    """linalg_lu_solve_LU: with L = tril(LU, -1) + I, U = triu(LU) (lu_unpack), if left != adjoint
    gR = U^-T (-(op(gX) op(X)^T)), gL = tril(L^-T gR U^T, -1), gLU = gL + triu(gR); else
    gR = -(P^T op(X) op(gX)^T P) L^-T, gU = triu((L^T gR) U^-T), gLU = tril(gR, -1) + gU."""
    n = lu.shape[-1]
    eye = np.eye(n, dtype=lu.dtype)
    L, U = xp.tril(lu, -1) + eye, xp.triu(lu)
    if left != adjoint:
        gr = xp.linalg_solve_triangular_m(U.mT, -((gx if left else gx.mT) @ (x.mT if left else x)), upper=False)
        gl = xp.tril(xp.linalg_solve_triangular_m(L.mT, gr @ U.mT, upper=True, unit=True), -1)
        return gl + xp.triu(gr)
    P = permutation_array(np.asarray(pivots), n, eye.dtype)
    gr = -(P.mT @ (x if left else x.mT) @ (gx.mT if left else gx) @ P)
    gr = xp.linalg_solve_triangular_m(L, gr.mT, upper=False, unit=True).mT  # X L^T = gR
    gu = xp.triu(xp.linalg_solve_triangular_m(U, (L.mT @ gr).mT, upper=True).mT)  # X U^T = L^T gR
    return xp.tril(gr, -1) + gu


@backward_op(grad=_lu_solve_rule, name="LinalgLuSolveBackward0")
def linalg_lu_solve_m(lu, b, pivots=None, left=True, adjoint=False):
    """linalg.lu_solve(LU, pivots, B, left, adjoint) on arrays (lu_solve_array)."""
    return lu_solve_array(lu, pivots, b, left, adjoint)


# ---------------------------------------------------------------------- LU
def permutation_array(pivots: np.ndarray, m: int, dtype) -> np.ndarray:
    """P (..., m, m) with A = P L U, from LAPACK's 1-based sequential row swaps ``pivots`` (..., k)."""
    batch = pivots.shape[:-1]
    flat = flat_batch(pivots, 1) - 1
    perm = np.broadcast_to(np.arange(m), (flat.shape[0], m)).copy()
    rows = np.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        p = flat[:, j]
        top = perm[rows, j].copy()
        perm[rows, j] = perm[rows, p]
        perm[rows, p] = top
    P = np.zeros((flat.shape[0], m, m), dtype)
    P[rows[:, None], perm, np.arange(m)[None, :]] = 1  # P[perm[i], i] = 1: row i of L U is row perm[i] of A
    return P.reshape(batch + (m, m))


def unpack_lu(xp, lu, m, n):
    k = min(m, n)
    return xp.tril(lu, -1)[..., :, :k] + np.eye(m, k, dtype=lu.dtype), xp.triu(lu)[..., :k, :]


def _right_triangular(xp, a, b, upper, unit=False):
    """X with X A = B for triangular A."""
    return xp.linalg_solve_triangular_m(a.mT, b.mT, upper=not upper, unit=unit).mT


def lu_backward(xp, gl, gu, p, lower, upper):
    """PyTorch's linalg_lu_backward for A = P L U, L (..., m, k) unit lower, U (..., k, n) upper."""
    m, n = lower.shape[-2], upper.shape[-1]
    k = min(m, n)
    if m == n:
        ga = xp.tril(lower.mT @ gl, -1) + xp.triu(gu @ upper.mT)
        ga = _right_triangular(xp, upper.mT, ga, upper=False)
        ga = xp.linalg_solve_triangular_m(lower.mT, ga, upper=True, unit=True)
    elif m < n:
        u1, gu1, gu2 = upper[..., :, :k], gu[..., :, :k], gu[..., :, k:]
        ga = lower.mT @ gl - xp.triu(gu) @ upper.mT
        ga = _right_triangular(xp, u1.mT, xp.tril(ga, -1), upper=False)
        ga = xp.concatenate([ga + xp.triu(gu1), gu2], axis=-1)
        ga = xp.linalg_solve_triangular_m(lower.mT, ga, upper=True, unit=True)
    else:
        # NOTE: L's top k rows hold constants on and above the diagonal: their gradient is dropped first
        l1, l2, gl1, gl2 = lower[..., :k, :], lower[..., k:, :], xp.tril(gl[..., :k, :], -1), gl[..., k:, :]
        ga = gu @ upper.mT - l1.mT @ gl1 - l2.mT @ gl2
        ga = xp.linalg_solve_triangular_m(l1.mT, xp.triu(ga), upper=True, unit=True)
        ga = xp.concatenate([ga + gl1, gl2], axis=-2)
        ga = _right_triangular(xp, upper.mT, ga, upper=False)
    return p @ ga


def lu_factor_rule(p):
    def rule(xp, g, out, a):
        m, n = a.shape[-2], a.shape[-1]
        k = min(m, n)
        lower, upper = unpack_lu(xp, out, m, n)
        return lu_backward(xp, xp.tril(g[..., :, :k], -1), xp.triu(g[..., :k, :]), p, lower, upper)

    return rule


def lu_rule(p):
    def rule(xp, need, grads, outs, a):
        gl, gu = grads
        lower, upper = outs
        return lu_backward(xp, gl, gu, p, lower, upper),

    return rule


# ---------------------------------------------------------------------- LDL (LAPACK's dsytf2 and dsytrs, lower)
_BUNCH_KAUFMAN = (1 + np.sqrt(17.0)) / 8


def ldl_factor_matrix(a: np.ndarray):
    """(LD, pivots, info) of one symmetric matrix (its lower triangle), as LAPACK's dsytf2 with uplo='L'."""
    a = np.tril(np.array(a, dtype=a.dtype, copy=True))
    n = a.shape[0]
    pivots = np.zeros(n, np.int32)
    info = 0
    k = 0
    while k < n:
        step = 1
        absakk = abs(a[k, k])
        if k + 1 < n:
            imax = k + 1 + int(np.argmax(np.abs(a[k + 1:, k])))
            colmax = abs(a[imax, k])
        else:
            imax, colmax = k, 0.0
        if max(absakk, colmax) == 0 or np.isnan(absakk):
            if info == 0:
                info = k + 1
            kp = k
        else:
            if absakk >= _BUNCH_KAUFMAN * colmax:
                kp = k
            else:
                rowmax = np.max(np.abs(a[imax, k:imax]))
                if imax + 1 < n:
                    rowmax = max(rowmax, np.max(np.abs(a[imax + 1:, imax])))
                if absakk >= _BUNCH_KAUFMAN * colmax * (colmax / rowmax):
                    kp = k
                elif abs(a[imax, imax]) >= _BUNCH_KAUFMAN * rowmax:
                    kp = imax
                else:
                    kp, step = imax, 2
            kk = k + step - 1
            if kp != kk:  # interchange rows and columns kk and kp of the trailing submatrix
                a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
                segment = a[kk + 1:kp, kk].copy()
                a[kk + 1:kp, kk] = a[kp, kk + 1:kp]
                a[kp, kk + 1:kp] = segment
                a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
                if step == 2:
                    a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]
            if step == 1:
                if k + 1 < n:
                    d11 = 1 / a[k, k]
                    x = a[k + 1:, k].copy()
                    a[k + 1:, k + 1:] += np.tril(np.multiply.outer(x, -d11 * x))  # NOTE: dsyr rounds x_i (-d11 x_j)
                    a[k + 1:, k] = x * d11
            elif k + 2 < n:
                d21 = a[k + 1, k]
                d11 = a[k + 1, k + 1] / d21
                d22 = a[k, k] / d21
                t = 1 / (d11 * d22 - 1)
                d21 = t / d21
                for j in range(k + 2, n):
                    wk = d21 * (d11 * a[j, k] - a[j, k + 1])
                    wkp1 = d21 * (d22 * a[j, k + 1] - a[j, k])
                    a[j:, j] -= a[j:, k] * wk + a[j:, k + 1] * wkp1
                    a[j, k], a[j, k + 1] = wk, wkp1
        if step == 1:
            pivots[k] = kp + 1
        else:
            pivots[k] = pivots[k + 1] = -(kp + 1)
        k += step
    return a, pivots, info


def ldl_solve_matrix(ld: np.ndarray, pivots: np.ndarray, b: np.ndarray) -> np.ndarray:
    """X with A X = B from dsytf2's (LD, pivots) of A, as LAPACK's dsytrs with uplo='L'."""
    b = np.array(b, dtype=np.result_type(ld, b), copy=True)
    n = ld.shape[0]
    k = 0
    while k < n:  # L D X = B
        if pivots[k] > 0:
            kp = pivots[k] - 1
            b[[k, kp]] = b[[kp, k]]
            b[k + 1:] -= np.multiply.outer(ld[k + 1:, k], b[k])
            b[k] /= ld[k, k]
            k += 1
        else:
            kp = -pivots[k] - 1
            b[[k + 1, kp]] = b[[kp, k + 1]]
            b[k + 2:] -= np.multiply.outer(ld[k + 2:, k], b[k]) + np.multiply.outer(ld[k + 2:, k + 1], b[k + 1])
            akm1k = ld[k + 1, k]
            akm1, ak = ld[k, k] / akm1k, ld[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1
            bkm1, bk = b[k] / akm1k, b[k + 1] / akm1k
            b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:  # L^T X = B
        if pivots[k] > 0:
            b[k] -= ld[k + 1:, k] @ b[k + 1:]
            kp = pivots[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 1
        else:
            b[k] -= ld[k + 1:, k] @ b[k + 1:]
            b[k - 1] -= ld[k + 1:, k - 1] @ b[k + 1:]
            kp = -pivots[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 2
    return b


def not_implemented_rule(name):
    def rule(xp, *args):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")

    return rule


# ---------------------------------------------------------------------- cholesky_inverse as LAPACK's potri
def potri_array(a, upper):
    """(U^T U)^-1 (``upper``) or (L L^T)^-1 from the triangle of each factor in ``a`` (..., n, n), by LAPACK's
    unblocked potri: trti2 inverts the triangle, lauu2 multiplies it by its transpose, and the other triangle
    is the mirror (as PyTorch's). Its order of operations gives LAPACK's signs of zero and spread of inf/nan.
    Python loops over n: for small matrices, or where the fast formula's result has zeros or inf/nan."""
    a = flat_batch(np.array(a, copy=True), 2)
    n = a.shape[-1]
    with np.errstate(all="ignore"):
        _trti2(a, upper)
        _lauu2(a, upper)
    iu = np.triu_indices(n, 1)
    if upper:
        a[:, iu[1], iu[0]] = a[:, iu[0], iu[1]]
    else:
        a[:, iu[0], iu[1]] = a[:, iu[1], iu[0]]
    return a


def _trti2(a, upper):
    """LAPACK's dtrti2 (non-unit) in place: column j of the inverse is -inv(a_jj) T x, T the part inverted so
    far, by dtrmv (x_i += x_k t_ik, then x_k *= t_kk)."""
    n = a.shape[-1]
    cols = range(n) if upper else range(n - 1, -1, -1)
    for j in cols:
        a[:, j, j] = 1 / a[:, j, j]
        ajj = -a[:, j, j]
        part = range(j) if upper else range(n - 1, j, -1)
        for k in part:  # dtrmv: column k of T, in dtrmv's order
            temp = a[:, k, j].copy()
            for i in (range(k) if upper else range(n - 1, k, -1)):
                a[:, i, j] += temp * a[:, i, k]
            a[:, k, j] *= a[:, k, k]
        below = slice(0, j) if upper else slice(j + 1, n)
        a[:, below, j] *= ajj[:, None]


def _lauu2(a, upper):
    """LAPACK's dlauu2 in place: U U^T (``upper``) or L^T L of the inverted triangle, row i (column i) at a time:
    the diagonal by ddot, the rest by dgemv into the scaled old values."""
    n = a.shape[-1]
    for i in range(n):
        aii = a[:, i, i].copy()
        if i == n - 1:
            if upper:
                a[:, :i + 1, i] *= aii[:, None]
            else:
                a[:, i, :i + 1] *= aii[:, None]
            continue
        line = a[:, i, i:] if upper else a[:, i:, i]
        d = np.zeros_like(aii)
        for k in range(line.shape[1]):
            d = d + line[:, k] * line[:, k]
        a[:, i, i] = d
        if upper:  # dgemv 'N': y = aii y, then y += x_k A[:, k] column by column
            a[:, :i, i] *= aii[:, None]
            for k in range(i + 1, n):
                a[:, :i, i] += a[:, i, k][:, None] * a[:, :i, k]
        else:  # dgemv 'T': y_j = aii y_j + sum_k A[k, j] x_k (float32: summed into aii y_j, as MKL's sgemv)
            for j in range(i):
                if a.dtype == np.float32:
                    t = aii * a[:, i, j]
                    for k in range(i + 1, n):
                        t = t + a[:, k, j] * a[:, k, i]
                    a[:, i, j] = t
                else:
                    t = np.zeros_like(aii)
                    for k in range(i + 1, n):
                        t = t + a[:, k, j] * a[:, k, i]
                    a[:, i, j] = aii * a[:, i, j] + t
