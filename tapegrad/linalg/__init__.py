"""tapegrad.linalg: PyTorch's torch.linalg on numpy, with PyTorch's gradient formulas.

Matrices are the last two dimensions; leading dimensions are a batch (broadcast where PyTorch broadcasts them).
Inputs are real floating-point tensors: tapegrad has no complex dtype, so functions whose PyTorch results are
complex (``eig``, ``eigvals``) raise NotImplementedError. Singular or non positive-definite inputs raise
``LinAlgError`` (a RuntimeError) with PyTorch's message. See docs/coverage/linalg_namespace.md.

>>> import tapegrad as tg
>>> A = tg.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
>>> tg.linalg.det(A)
tensor(5., grad_fn=<LinalgDetBackward0>)
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd.declare import Tensor, cast, named, record, wrap
from ..autograd.inplace import unview as _unview
from ..ops import linalg as _products
from ..ops import reduce as _reduce
from ..ops import shape as _shape
from . import _core, _householder
from ._core import LinAlgError, check_float, check_matrix, check_same_dtype, expect_tensor, lapack_cast, several

__all__ = ["LinAlgError", "vector_norm", "matrix_norm", "norm", "inv", "inv_ex", "det", "slogdet", "solve",
           "solve_ex", "cholesky", "cholesky_ex", "qr", "svd", "svdvals", "eigh", "eigvalsh", "eig", "eigvals",
           "lstsq", "pinv", "matrix_power", "matrix_rank", "cross", "multi_dot", "vecdot", "vander", "diagonal",
           "matmul", "tensorinv", "tensorsolve", "householder_product", "solve_triangular", "matrix_exp", "cond",
           "lu_factor", "lu_factor_ex", "lu", "lu_solve", "ldl_factor", "ldl_factor_ex", "ldl_solve"]

linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
linalg_inv_ex = namedtuple("linalg_inv_ex", ["inverse", "info"])
linalg_solve_ex = namedtuple("linalg_solve_ex", ["result", "info"])
linalg_cholesky_ex = namedtuple("linalg_cholesky_ex", ["L", "info"])
linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def _no_out(op, out):
    if out is not None:
        raise TypeError(f"{op}: out= is not supported; use the returned tensor")


# ---------------------------------------------------------------------- norms
def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None): the ord-norm of ``x`` over ``dim``
    (all elements when None), any real ``ord`` including inf, -inf and 0. PyTorch's gradients: 0 at a zero
    vector for ord 2, shared equally between tied maxima for ord inf.

    >>> import tapegrad as tg
    >>> tg.linalg.vector_norm(tg.tensor([3.0, -4.0]))
    tensor(5.)
    >>> tg.linalg.vector_norm(tg.tensor([3.0, -4.0]), ord=float("inf"))
    tensor(4.)
    """
    op = "linalg.vector_norm"
    _no_out(op, out)
    expect_tensor(op, x, "x")
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        check_float(op, x, low_precision=True)
        x = cast(x, dtype)
    check_float(op, x, low_precision=True)
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"{op}: ord must be a number, got {ord!r}")
    ord = float(ord)
    axes = _reduce.normalize_dims(op, dim, x.ndim)
    a = x._data
    if math.isinf(ord) and any(a.shape[i] == 0 for i in axes) and (a.size == 0):
        raise RuntimeError(f"{op}: cannot compute the {ord} norm on an empty tensor because the operation does "
                           "not have an identity")
    kept = _reduce.kept_shape(a.shape, axes)
    absa = np.abs(a)
    if ord == 2:
        value = np.sqrt(np.add.reduce(absa * absa, axis=axes, keepdims=True))
    elif ord == math.inf:
        value = np.maximum.reduce(absa, axis=axes, keepdims=True, initial=0) if a.size else np.zeros(kept, a.dtype)
    elif ord == -math.inf:
        value = np.minimum.reduce(absa, axis=axes, keepdims=True)
    elif ord == 0:
        value = np.add.reduce(a != 0, axis=axes, keepdims=True).astype(a.dtype)
    elif ord == 1:
        value = np.add.reduce(absa, axis=axes, keepdims=True)
    else:
        with np.errstate(divide="ignore"):
            value = np.add.reduce(absa ** ord, axis=axes, keepdims=True) ** (1.0 / ord)
    value = value.astype(a.dtype, copy=False)
    if not keepdim:
        value = value.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))
    return record(value, (x,), _vector_norm_rule(ord, axes, kept), "LinalgVectorNormBackward0")


def _vector_norm_rule(p, axes, kept):
    """PyTorch's norm_backward."""

    def rule(xp, g, out, x):
        g, out = g.reshape(kept), out.reshape(kept)
        if p == 0:
            return x * 0.0
        if p == 1:
            return xp.sign(x) * g
        if p == 2:
            return _core.safe_div(xp, x, out) * g
        if math.isinf(p):
            mask = (xp.abs(x) == out) * xp.ones_like(x)
            return xp.sign(x) * (g / mask.sum(axis=axes, keepdims=True)) * mask
        if p < 1:
            scaled = xp.where(x == 0, 0.0, xp.sign(x) * xp.abs(x) ** (p - 1))
            return scaled * g * out ** (1 - p)
        scaled = xp.sign(x) * xp.abs(x) ** (p - 1) if p < 2 else x * xp.abs(x) ** (p - 2)
        return scaled * _core.safe_div(xp, g, out ** (p - 1))

    return rule


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """matrix_norm(A, ord='fro', dim=(-2, -1), keepdim=False, *, dtype=None): a matrix norm of each matrix:
    'fro', 'nuc' (sum of singular values), 2 / -2 (largest / smallest singular value), 1 / -1 (max / min
    column sum of absolute values), inf / -inf (max / min row sum).

    >>> import tapegrad as tg
    >>> tg.linalg.matrix_norm(tg.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1)
    tensor(6.)
    """
    op = "linalg.matrix_norm"
    _no_out(op, out)
    expect_tensor(op, A)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        check_float(op, A, low_precision=True)
        A = cast(A, dtypes.as_dtype(dtype))
    check_float(op, A, low_precision=True)
    if ord not in _MATRIX_ORDS or isinstance(ord, bool):
        raise RuntimeError(f"{op}: Order {ord} not supported.")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    d0, d1 = (_reduce.normalize_dims(op, d, A.ndim)[0] for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        moved = _shape.movedim(A, (d0, d1), (-2, -1))
        s = svdvals(moved)
        result = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                result = result.unsqueeze(d)
        return result
    if ord in (math.inf, -math.inf):
        d0, d1 = d1, d0
    if not keepdim and d0 < d1:
        d1 -= 1
    sums = vector_norm(A, 1, d0, keepdim)
    return sums.amax(d1, keepdim) if ord > 0 else sums.amin(d1, keepdim)


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """norm(A, ord=None, dim=None, keepdim=False, *, dtype=None): a vector norm (``dim`` an int, or ``A``
    1-D) or a matrix norm (``dim`` a 2-tuple, or ``A`` 2-D with ``ord`` given); without ``ord`` and ``dim``,
    the 2-norm of all elements.

    >>> import tapegrad as tg
    >>> tg.linalg.norm(tg.tensor([[3.0, 0.0], [0.0, 4.0]]))
    tensor(5.)
    >>> tg.linalg.norm(tg.tensor([[3.0, 0.0], [0.0, 4.0]]), ord=2)
    tensor(4.)
    """
    op = "linalg.norm"
    _no_out(op, out)
    expect_tensor(op, A)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            if isinstance(ord, str):
                raise RuntimeError(f"{op}: Order {ord} not supported for vector norms (dim={dim}).")
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) != 2:
            raise RuntimeError(f"{op}: If dim is specified, it must be of length 1 or 2. Got {list(dims)}")
        return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A.ndim}D.")
    if A.ndim == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"{op}: Order {ord} not supported for vector norms.")
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)


# ---------------------------------------------------------------------- inverse and solve
def inv_ex(A: Tensor, *, check_errors: bool = False, out=None):
    """inv_ex(A, *, check_errors=False) -> (inverse, info): the inverse of each matrix and LAPACK's info (0, or
    the 1-based index of the zero pivot of a singular matrix, whose ``inverse`` is then LAPACK's getrs with that
    pivot: inf/nan entries).

    >>> import tapegrad as tg
    >>> tg.linalg.inv_ex(tg.tensor([[2.0, 0.0], [0.0, 4.0]])).inverse
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    op = "linalg.inv_ex"
    _no_out(op, out)
    check_matrix(op, A, square=True)
    a = A._data
    value, info = _inverse(op, a, check_errors)
    result = record(_core.column_major(value.astype(a.dtype, copy=False)), (A,), _core._inv_rule,
                    "LinalgInvExBackward0")
    return linalg_inv_ex(result, wrap(info))


def _inverse(op, a, check_errors):
    """(inverse, info) of each matrix of ``a``: numpy's inverse of the finite nonsingular ones;
    PyTorch's own computation of those with an inf/nan (its inv_ex is linalg_solve_ex(A, I): LAPACK's getrf of
    A, then getrs on the identity; _core.inv_lapack), so that NaN reaches the entries it reaches in PyTorch and a
    zero pivot of that LU is a singular matrix (``check_errors``: LinAlgError naming it); and of numerically
    singular ones (``near_singular``, as det and solve's adjoint), whose values are that LU's rounding and where
    getrs' products may overflow (a float32 column of 3e38 times 1e4: inf in PyTorch, finite in numpy's order)."""
    if a.size and np.isfinite(a).all() and _core.near_singular(a):
        value, info = _core.inv_lapack(a)
        if check_errors and info.any():
            raise _core.singular_error(op, a)
        return value, info
    bad = ~np.isfinite(a).all(axis=(-2, -1))
    if bad.any():
        value, info = np.empty_like(a), np.zeros(a.shape[:-2], np.int32)
        value[bad], info[bad] = _core.inv_lapack(a[bad])
        good = ~bad
        if good.any():
            value[good], info[good] = _inverse(op, a[good], False)
        if check_errors and info.any():
            raise _core.singular_error(op, a)
        return value, info
    try:
        with lapack_cast(a):
            value = np.linalg.inv(a)
        info = np.zeros(a.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        if check_errors:
            raise _core.singular_error(op, a) from None
        lapack, info = _core.inv_lapack(a)  # a singular matrix: getrs' inf/nan from the zero pivot
        ok = np.where(info[..., None, None] == 0, a, np.eye(a.shape[-1], dtype=a.dtype))
        try:
            with lapack_cast(a):
                value = np.where(info[..., None, None] == 0, np.linalg.inv(ok), lapack)
        except np.linalg.LinAlgError:  # numpy's LU meets a zero pivot where MKL's (fused) leaves a residue
            value = lapack
    return value, info


def inv(A: Tensor, *, out=None) -> Tensor:
    """inv(A): the inverse of each square matrix of ``A`` (..., n, n); LinAlgError if one is singular.
    Gradient: -A^-T g A^-T.

    >>> import tapegrad as tg
    >>> tg.linalg.inv(tg.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    op = "linalg.inv"
    _no_out(op, out)
    check_matrix(op, A, square=True)
    value = _core.column_major(_inverse(op, A._data, True)[0].astype(A._data.dtype, copy=False))
    return record(value, (A,), _core._inv_rule, "LinalgInvExBackward0")



def _solve(op, A, B, left, check_errors):
    check_matrix(op, A, square=True)
    expect_tensor(op, B, "B")
    check_float(op, B)
    check_same_dtype(op, A, B)
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if not left:
        if vector:
            raise RuntimeError(f"{op}: Vector broadcasting of the left hand side is not supported for left=False. "
                               "In this case linalg.solve is equivalent to B / A.squeeze(-1)")
        result, info = _solve(op, A.mT, B.mT, True, check_errors)
        return result.mT, info
    rows = B.shape[-1] if vector else (B.shape[-2] if B.ndim >= 2 else None)
    if rows != n:
        shape_b = f"{B.shape[-1]}x1" if vector or B.ndim < 2 else f"{B.shape[-2]}x{B.shape[-1]}"
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B ({n}x{n} and {shape_b})")
    a, b = A._data, B._data
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-1] if vector else b.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: cannot broadcast the batch dimensions of A {tuple(a.shape)} and B "
                           f"{tuple(b.shape)}") from None
    bm = b[..., None] if vector else b
    info = np.zeros(batch, np.int32)
    try:
        with lapack_cast(a):
            value = np.linalg.solve(a, bm)
    except np.linalg.LinAlgError:
        lu_a, pivots_a, info_a = _core.lu_factor_array(a)
        info = np.broadcast_to(info_a, batch).copy()
        if check_errors or op.startswith("torch.linalg.solve") and not op.endswith("_ex"):
            if info.any():
                raise LinAlgError(f"{op}: The solver failed because the input matrix is singular.") from None
        ok = np.where(info_a[..., None, None] == 0, a, np.eye(n, dtype=a.dtype))
        try:
            with lapack_cast(a):
                solved = np.linalg.solve(ok, bm)
        except np.linalg.LinAlgError:  # numpy's LU meets a zero pivot where MKL's (fused) leaves a residue
            solved = _core.getrs_array(lu_a, pivots_a, bm)
        value = np.where(np.broadcast_to(info_a, batch)[..., None, None] == 0, solved, np.nan)
    value = _core.column_major(value.astype(a.dtype, copy=False))  # getrs' layout (left=False: its transpose)
    if vector:
        return record(value[..., 0], (A, B), _core.solve_vector_rule, "LinalgSolveExBackward0"), info
    return record(value, (A, B), _core._solve_rule, "LinalgSolveExBackward0"), info


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """solve(A, B, *, left=True): X with A X = B (``left=False``: X A = B). ``B`` is (..., n, k), or a batch of
    vectors (..., n); batch dims broadcast. LinAlgError if A is singular.

    >>> import tapegrad as tg
    >>> tg.linalg.solve(tg.tensor([[2.0, 0.0], [0.0, 4.0]]), tg.tensor([2.0, 2.0]))
    tensor([1.0000, 0.5000])
    """
    _no_out("linalg.solve", out)
    return _solve("torch.linalg.solve", A, B, left, True)[0]


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False, out=None):
    """solve_ex(A, B, *, left=True, check_errors=False) -> (result, info): solve with LAPACK's info (nan
    results where a matrix is singular, unless ``check_errors``).

    >>> import tapegrad as tg
    >>> tg.linalg.solve_ex(tg.eye(2), tg.ones(2)).info
    tensor(0, dtype=tapegrad.int32)
    """
    _no_out("linalg.solve_ex", out)
    result, info = _solve("torch.linalg.solve_ex", A, B, left, check_errors)
    return linalg_solve_ex(result, wrap(np.asarray(info)))


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False,
                     out=None) -> Tensor:
    """solve_triangular(A, B, *, upper, left=True, unitriangular=False): X with A X = B (``left=False``:
    X A = B) for triangular A; only its ``upper`` or lower triangle is read (and not its diagonal when
    ``unitriangular``). Batch dims broadcast. A zero on the diagonal gives inf/nan, as LAPACK's trsm.

    >>> import tapegrad as tg
    >>> tg.linalg.solve_triangular(tg.tensor([[2.0, 1.0], [0.0, 1.0]]), tg.ones(2, 1), upper=True)
    tensor([[0.],
            [1.]])
    """
    op = "linalg.solve_triangular"
    _no_out(op, out)
    check_matrix(op, A, square=True)
    expect_tensor(op, B, "B")
    if B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    check_float(op, B)
    check_same_dtype(op, A, B)
    if not left:  # X A = B as A^T X^T = B^T; PyTorch's trsm writes X in column-major order, so X^T is row-major
        return _solve_triangular(A.mT, B.mT, not upper, unitriangular, column_major=False).mT
    return _solve_triangular(A, B, upper, unitriangular)


def _solve_triangular(A, B, upper, unitriangular, column_major=True):
    op = "linalg.solve_triangular"
    n = A.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B ({n}x{n} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    try:
        np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: cannot broadcast the batch dimensions of A {tuple(A.shape)} and B "
                           f"{tuple(B.shape)}") from None
    value = _core.triangular_solve_array(A._data, B._data, bool(upper), bool(unitriangular))
    value = _core.column_major(value) if column_major else np.ascontiguousarray(value)
    rule = _triangular(bool(upper), bool(unitriangular))
    return record(value, (A, B), rule, "LinalgSolveTriangularBackward0")


def _triangular(upper, unit):
    def rule(xp, need, g, out, a, b):
        return _core._triangular_rule(xp, need, g, out, a, b, upper=upper, unit=unit)

    return rule


# ---------------------------------------------------------------------- determinants
def det(A: Tensor, *, out=None) -> Tensor:
    """det(A): the determinant of each square matrix. Its gradient is the cofactor matrix det(A) A^-T, solved
    with A's LU factors as PyTorch's; from the SVD at a singular A (where PyTorch's create_graph path takes it).

    >>> import tapegrad as tg
    >>> tg.linalg.det(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(-2.)
    """
    op = "linalg.det"
    _no_out(op, out)
    check_matrix(op, A, square=True)
    a = A._data
    use_t = A.is_contiguous()
    with np.errstate(all="ignore"):
        value = np.linalg.det(a).astype(a.dtype, copy=False)
    if _lapack_det_needed(a, value):
        value = _core.det_lapack(a, use_t)
    return record(value, (A,), _core.det_rule(use_t), "LinalgDetBackward0")


def _lapack_det_needed(a, det):
    """Whether det/slogdet take PyTorch's own LU (det_lapack): for matrices with inf/nan (numpy's LU spreads
    NaN otherwise), for a determinant beyond the dtype's range (float32 LU's overflow, its sign) and for a
    determinant at the level of rounding noise (|det| below 2**10 n eps times
    Hadamard's bound, the product of the columns' norms: a numerically singular matrix, whose determinant, sign
    and log are MKL's rounding in PyTorch, which det_lapack reproduces in the matrix's dtype; numpy's LU rounds
    otherwise, in float64 for a float32 matrix)."""
    if a.size == 0:
        return False
    return not np.isfinite(a).all() or not np.isfinite(det).all() or _core.near_singular(a, det)


def slogdet(A: Tensor, *, out=None):
    """slogdet(A) -> (sign, logabsdet): the sign and the log of the absolute value of the determinant
    (sign 0 and logabsdet -inf for a singular matrix). ``logabsdet`` has the gradient A^-T.

    >>> import tapegrad as tg
    >>> tg.linalg.slogdet(tg.tensor([[-2.0, 0.0], [0.0, 1.0]]))
    linalg_slogdet(sign=tensor(-1.), logabsdet=tensor(0.6931))
    """
    op = "linalg.slogdet"
    _no_out(op, out)
    check_matrix(op, A, square=True)
    a = A._data
    use_t = A.is_contiguous()
    with np.errstate(all="ignore"):
        sign, logabs = np.linalg.slogdet(a)
    with np.errstate(all="ignore"):
        det = sign * np.exp(logabs)
    if _lapack_det_needed(a, det):
        sign, logabs = _core.slogdet_lapack(a, use_t)
    dt = a.dtype
    # the sign is an output of the same node in PyTorch: it requires grad, and its gradient is none (None)
    return linalg_slogdet(record(np.asarray(sign, dt), (A,), _core.no_grad_rule, "LinalgSlogdetBackward0"),
                          record(np.asarray(logabs, dt), (A,), _core.logabsdet_rule(use_t),
                                 "LinalgSlogdetBackward0"))


# ---------------------------------------------------------------------- cholesky
def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None):
    """cholesky_ex(A, *, upper=False, check_errors=False) -> (L, info): the Cholesky factor and LAPACK's info
    (0, or the order of the first leading minor that is not positive-definite; that matrix's L is nan).

    >>> import tapegrad as tg
    >>> tg.linalg.cholesky_ex(tg.tensor([[4.0, 0.0], [0.0, -1.0]])).info
    tensor(2, dtype=tapegrad.int32)
    """
    op = "linalg.cholesky_ex"
    _no_out(op, out)
    return _cholesky(op, A, upper, check_errors)


def _cholesky(op, A, upper, check_errors):
    check_matrix(op, A, square=True)
    a = A._data
    info = np.zeros(a.shape[:-2], np.int32)
    try:
        value = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        info = _core.cholesky_info(a)
        if check_errors:
            raise _core.not_positive_definite(op, info) from None
        ok = np.where(info[..., None, None] == 0, a, np.eye(a.shape[-1], dtype=a.dtype))
        value = np.where(info[..., None, None] == 0, np.linalg.cholesky(ok), np.nan)
    pivots = np.isnan(np.diagonal(value, axis1=-2, axis2=-1))
    if pivots.any():  # a NaN pivot: LAPACK's potrf stops there (DISNAN(AJJ)); numpy's OpenBLAS goes on
        info = np.where((info == 0) & pivots.any(axis=-1), pivots.argmax(axis=-1) + 1, info).astype(np.int32)
        if check_errors:
            raise _core.not_positive_definite(op, info)
        value = np.where(info[..., None, None] == 0, value, np.nan)
    value = value.astype(a.dtype, copy=False)
    # PyTorch's potrf result is column-major: L's, or U's (upper), which is L.mT here, so L row-major then
    L = record(value if upper else _core.column_major(value), (A,), _core.cholesky_rule, "LinalgCholeskyExBackward0")
    return linalg_cholesky_ex(L.mT if upper else L, wrap(info))


def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """cholesky(A, *, upper=False): L lower-triangular with A = L L^T (``upper``: U = L^T, A = U^T U) for
    symmetric positive-definite A; LinAlgError otherwise. The gradient is PyTorch's (symmetric).

    >>> import tapegrad as tg
    >>> tg.linalg.cholesky(tg.tensor([[4.0, 2.0], [2.0, 2.0]]))
    tensor([[2., 0.],
            [1., 1.]])
    """
    _no_out("linalg.cholesky", out)
    return _cholesky("linalg.cholesky", A, upper, True).L


# ---------------------------------------------------------------------- decompositions
def svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """svd(A, full_matrices=True, *, driver=None) -> (U, S, Vh): A = U diag(S) Vh, S descending. Singular
    vectors are unique up to sign: differentiate gauge-invariant quantities. Gradients follow PyTorch's
    svd_backward (undefined for repeated singular values when U or Vh is used).

    >>> import tapegrad as tg
    >>> tg.linalg.svd(tg.tensor([[3.0, 0.0], [0.0, -4.0]])).S
    tensor([4., 3.])
    """
    op = "linalg.svd"
    _no_out(op, out)
    check_matrix(op, A)
    _check_driver(op, driver)
    U, S, Vh = _core.svd_arrays(A._data, full_matrices)
    arrays = [_core.column_major(U), S, _core.column_major(Vh)]  # gesdd's layout
    return linalg_svd(*several((A,), arrays, _core.svd_rule(full_matrices), "LinalgSvdBackward0"))


def _check_driver(op, driver):
    if driver is not None:
        raise RuntimeError(f"{op}: keyword argument `driver=` is only supported on CUDA inputs with cuSOLVER "
                           f"backend.")


def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """svdvals(A, *, driver=None): the singular values of each matrix, descending. Gradient: U diag(g) Vh.

    >>> import tapegrad as tg
    >>> tg.linalg.svdvals(tg.tensor([[3.0, 0.0], [0.0, -4.0]]))
    tensor([4., 3.])
    """
    op = "linalg.svdvals"
    _no_out(op, out)
    check_matrix(op, A)
    _check_driver(op, driver)
    arrays = _core.svd_arrays(A._data, False)
    return several((A,), arrays, _core.svd_rule(False), "LinalgSvdBackward0")[1]


def _eigh(op, A, UPLO):
    check_matrix(op, A, square=True)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    with lapack_cast(A._data):
        lam, v = np.linalg.eigh(A._data, UPLO=UPLO)
    dt = A._data.dtype
    return several((A,), [lam.astype(dt, copy=False), _core.column_major(v.astype(dt, copy=False))],
                   _core.eigh_rule(), "LinalgEighBackward0")


def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """eigh(A, UPLO='L') -> (eigenvalues, eigenvectors) of symmetric matrices (only the ``UPLO`` triangle is
    read), eigenvalues ascending. Eigenvectors are unique up to sign; PyTorch's eigh backward.

    >>> import tapegrad as tg
    >>> tg.linalg.eigh(tg.tensor([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    tensor([1., 2.])
    """
    _no_out("linalg.eigh", out)
    return linalg_eigh(*_eigh("linalg.eigh", A, UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """eigvalsh(A, UPLO='L'): the eigenvalues of symmetric matrices, ascending. Gradient: V diag(g) V^T.

    >>> import tapegrad as tg
    >>> tg.linalg.eigvalsh(tg.tensor([[2.0, 1.0], [1.0, 2.0]]))
    tensor([1., 3.])
    """
    _no_out("linalg.eigvalsh", out)
    return _eigh("linalg.eigvalsh", A, UPLO)[0]


def _no_complex(op):
    raise NotImplementedError(f"{op}: PyTorch returns complex eigenvalues and eigenvectors, and tapegrad has no "
                              "complex dtype; for symmetric matrices use linalg.eigh / linalg.eigvalsh")


def eig(A: Tensor, *, out=None):
    """eig(A): not available: PyTorch's results are complex and tapegrad has no complex dtype (NotImplementedError).
    Use ``eigh`` for symmetric matrices.

    >>> import tapegrad as tg
    >>> tg.linalg.eig(tg.eye(2))
    Traceback (most recent call last):
    NotImplementedError: linalg.eig: PyTorch returns complex eigenvalues and eigenvectors, ...
    """
    _no_complex("linalg.eig")


def eigvals(A: Tensor, *, out=None):
    """eigvals(A): not available: PyTorch's result is complex and tapegrad has no complex dtype
    (NotImplementedError). Use ``eigvalsh`` for symmetric matrices."""
    _no_complex("linalg.eigvals")


def qr(A: Tensor, mode: str = "reduced", *, out=None):
    """qr(A, mode='reduced') -> (Q, R): A = Q R, Q with orthonormal columns, R upper-triangular. ``mode``:
    'reduced', 'complete', or 'r' (Q empty). PyTorch's linalg_qr_backward (not differentiable for mode='r',
    nor for 'complete' with more rows than columns).

    >>> import tapegrad as tg
    >>> Q, R = tg.linalg.qr(tg.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> tg.allclose(Q @ R, tg.tensor([[3.0, 1.0], [4.0, 2.0]]))
    True
    """
    op = "linalg.qr"
    _no_out(op, out)
    check_matrix(op, A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"{op}: qr received unrecognized mode '{mode}' but expected one of 'reduced' "
                           "(default), 'r', or 'complete'")
    a = A._data
    # NOTE: + 0.0 makes -0.0 entries +0.0: a Householder step at a -0.0 pivot then reflects to -norm, as
    # PyTorch's LAPACK (whose sign(-0.0) is +); numpy's LAPACK reflects it to +norm (Q's column and R's row negated)
    with lapack_cast(a):
        q, r = np.linalg.qr(a + np.zeros((), a.dtype), mode="complete" if mode == "complete" else "reduced")
    dt = a.dtype
    q, r = _core.column_major(q.astype(dt, copy=False)), _core.column_major(r.astype(dt, copy=False))  # geqrf's
    Q, R = several((A,), [q, r], _core.qr_rule(mode), "LinalgQrBackward0")
    if mode == "r":
        Q = wrap(np.zeros((0,), dt))
    return linalg_qr(Q, R)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, rcond=None, out=None) -> Tensor:
    """pinv(A, *, atol=None, rtol=None, hermitian=False): the Moore-Penrose pseudo-inverse; singular values
    at most max(atol, rtol * largest) are treated as 0 (default rtol: eps * max(m, n)). ``rcond`` is PyTorch's
    older name of rtol. PyTorch's pinv_backward.

    >>> import tapegrad as tg
    >>> tg.linalg.pinv(tg.tensor([[2.0, 0.0], [0.0, 0.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.0000]])
    """
    op = "linalg.pinv"
    _no_out(op, out)
    check_matrix(op, A, square=hermitian)
    if rcond is not None:
        if rtol is not None:
            raise RuntimeError(f"{op}: rcond and rtol cannot be given together (rcond is the old name of rtol)")
        rtol = rcond
    return _core.pinv_record(A, atol, rtol, hermitian)


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """lstsq(A, B, rcond=None, *, driver=None) -> (solution, residuals, rank, singular_values): the least
    squares solution of A X = B. The solution is pinv(A) B (the minimum-norm solution, as driver 'gelsd'; for
    full-rank A every driver agrees), with PyTorch's gradient (through pinv). ``rank`` is computed for the
    drivers gelsy (the default), gelsd and gelss, ``singular_values`` for gelsd and gelss, ``residuals`` (the
    squared residuals of each column) when m > n, every matrix has full rank and the driver is not gelsy;
    otherwise they are empty, as PyTorch's.

    >>> import tapegrad as tg
    >>> round(float(tg.linalg.lstsq(tg.tensor([[1.0], [1.0]]), tg.tensor([[1.0], [3.0]])).solution), 4)
    2.0
    """
    op = "torch.linalg.lstsq"
    check_matrix(op, A)
    expect_tensor(op, B, "B")
    check_float(op, B)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{op}: Expected input and other to have the same dtype, but got input's dtype "
                           f"{_core.torch_dtype_name(A._data.dtype)} and other's dtype "
                           f"{_core.torch_dtype_name(B._data.dtype)}")
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    vector = B.ndim == A.ndim - 1
    if not vector and B.ndim < A.ndim:
        raise RuntimeError(f"{op}: input.dim() must be greater or equal to other.dim() and (input.dim() - "
                           "other.dim()) <= 1")
    Bm = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2], A.shape[-1]
    if Bm.shape[-2] != m:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2)" if not vector else
                           f"{op}: input.size(-2) should match other.size(-1)")
    a = A._data
    rtol = rcond if rcond is not None else None
    P = _core.pinv_record(A, None, rtol, False)
    X = P @ Bm
    with lapack_cast(a):
        s = np.linalg.svd(a, compute_uv=False)
    at, rt = _core.tolerances(op, a, None, rtol)
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), a.dtype)
    rank = np.sum(s > np.maximum(at, rt * smax), axis=-1).astype(np.int64)
    empty = wrap(np.zeros((0,), a.dtype))
    residuals = empty
    if driver != "gelsy" and m > n and np.all(rank == n):
        residuals = ((A @ X - Bm) ** 2).sum(-2)
    if vector:
        X = X.squeeze(-1)
        if residuals is not empty:
            residuals = residuals.squeeze(-1)
    else:  # column-major, as PyTorch's solution (the first n rows of LAPACK's column-major B)
        X = X.mT.contiguous().mT
    rank_t = wrap(rank) if driver != "gels" else wrap(np.zeros((0,), np.int64))
    sv = wrap(s.astype(a.dtype, copy=False)) if driver in ("gelsd", "gelss") else empty
    # PyTorch's one node LinalgLstsqBackward0 of the solution and the residuals (which require grad when empty too)
    X = named(_unview(X), "LinalgLstsqBackward0", (A, B))
    if residuals is empty:
        residuals = record(np.zeros((0,), a.dtype), (A, B), _no_residuals_rule, "LinalgLstsqBackward0")
    else:
        residuals = named(_unview(residuals), "LinalgLstsqBackward0", (A, B))
    return linalg_lstsq(X, residuals, rank_t, sv)


def _no_residuals_rule(xp, need, g, out, a, b):
    return xp.zeros_like(a) if need[0] else None, xp.zeros_like(b) if need[1] else None


def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None, out=None) -> Tensor:
    """matrix_rank(A, *, atol=None, rtol=None, hermitian=False): the number of singular values (absolute
    eigenvalues if ``hermitian``) greater than max(atol, rtol * largest); default rtol eps * max(m, n). ``tol``
    is PyTorch's older name of atol. An int64 tensor.

    >>> import tapegrad as tg
    >>> tg.linalg.matrix_rank(tg.tensor([[1.0, 2.0], [2.0, 4.0]]))
    tensor(1)
    """
    op = "linalg.matrix_rank"
    _no_out(op, out)
    check_matrix(op, A, square=hermitian)
    if tol is not None:
        atol = tol
    a = A._data
    with lapack_cast(a):
        s = np.abs(np.linalg.eigvalsh(a)) if hermitian else _core.svd_lapack(a, full_matrices=False)[1]
    at, rt = _core.tolerances(op, a, atol, rtol)
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), a.dtype)
    return wrap(np.asarray(np.sum(s > np.maximum(at, rt * smax), axis=-1), np.int64))


def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """cond(A, p=None): the condition number of each matrix in the norm ``p``: for None/2 (-2) the ratio of
    the largest to the smallest (smallest to largest) singular value; for 'fro', 'nuc', inf, -inf, 1, -1 the
    product matrix_norm(A, p) * matrix_norm(inv(A), p) (square invertible A).

    >>> import tapegrad as tg
    >>> tg.linalg.cond(tg.tensor([[2.0, 0.0], [0.0, 0.5]]))
    tensor(4.)
    """
    op = "linalg.cond"
    _no_out(op, out)
    check_matrix(op, A, square=p not in (None, 2, -2))
    if A.shape[-1] == 0 or A.shape[-2] == 0:  # as PyTorch: the condition number of an empty matrix is 0
        return wrap(np.zeros(tuple(A.shape[:-2]), A._data.dtype))
    # NOTE: PyTorch's composition (linalg_cond, BatchLinearAlgebra.cpp), so the nodes and the values at a singular
    # matrix are its own: the largest and smallest singular values as (..., 1) slices, divided, then squeezed
    if p in (None, 2, -2):
        s = svdvals(A)
        s_max, s_min = _shape.narrow(s, -1, 0, 1), _shape.narrow(s, -1, -1, 1)
        return (s_min / s_max if p == -2 else s_max / s_min).squeeze(-1)
    if p not in _MATRIX_ORDS:
        raise RuntimeError(f"{op}: Order {p} not supported.")
    if p == "nuc":  # the nuclear norms from the singular values (matrix_norm's 'nuc' refuses an inf)
        s = svdvals(A)
        return s.sum(-1) * s.reciprocal().sum(-1)
    # a singular matrix's inverse is all inf (inv_ex's info), and 0 * inf in the product is inf, not NaN
    inverse, info = inv_ex(A)
    inverse = inverse.masked_fill(wrap(info._data[..., None, None] > 0), math.inf)
    return (matrix_norm(A, p) * matrix_norm(inverse, p)).nan_to_num(math.inf, math.inf, -math.inf)


# ---------------------------------------------------------------------- products and friends
def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """matrix_power(A, n): A multiplied by itself n times (by repeated squaring); A^0 is the identity and a
    negative n is a power of inv(A).

    >>> import tapegrad as tg
    >>> tg.linalg.matrix_power(tg.tensor([[1.0, 1.0], [0.0, 1.0]]), 3)
    tensor([[1., 3.],
            [0., 1.]])
    """
    op = "linalg.matrix_power"
    _no_out(op, out)
    expect_tensor(op, A)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{op}: n must be an int, got {type(n).__name__}")
    if n == 0:  # PyTorch copies the identity into a clone of A: a zero gradient flows back to A
        eye = np.broadcast_to(np.eye(A.shape[-1], dtype=A._data.dtype), A.shape).copy()
        return record(eye, (A,), _core.zero_grad_rule, "torch::autograd::CopyBackwards")
    if n < 0:
        A, n = inv(A), -n
        if n == 1:  # PyTorch returns the inverse itself
            return A
    if n == 1:
        return A.clone()
    if n == 3:  # PyTorch's fast path: (A @ A) @ A (the order decides where inf * 0 makes NaN)
        return (A @ A) @ A
    result, square = None, A
    while n:
        if n & 1:
            result = square if result is None else result @ square
        n >>= 1
        if n:
            square = square @ square
    return result  # type: ignore[return-value]  # n >= 2 here: the loop sets result


def multi_dot(tensors, *, out=None) -> Tensor:
    """multi_dot(tensors): the product of two or more matrices in the cheapest order; the first may be a 1-D
    row vector and the last a 1-D column vector.

    >>> import tapegrad as tg
    >>> tg.linalg.multi_dot([tg.ones(2), tg.ones(2, 3), tg.ones(3)])
    tensor(6.)
    """
    op = "linalg.multi_dot"
    _no_out(op, out)
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        expect_tensor(op, t, f"tensors[{i}]")
        allowed = (1, 2) if i in (0, len(tensors) - 1) else (2,)
        if t.ndim not in allowed:
            where = "first" if i == 0 else ("last" if i == len(tensors) - 1 else None)
            raise RuntimeError(f"multi_dot(): the {where} tensor must be 1D or 2D but got {t.ndim}D" if where else
                               f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    dt = tensors[0]._data.dtype
    for i, t in enumerate(tensors):
        if t._data.dtype != dt:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{_core.torch_dtype_name(dt)} and tensor {i} {_core.torch_dtype_name(t._data.dtype)}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {tuple(tensors[i].shape)} and "
                               f"{tuple(tensors[i + 1].shape)} cannot be multiplied")
    sizes = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    if len(mats) == 3:  # PyTorch's rule for three: (A B) C unless A (B C) costs less (a tie is (A B) C)
        a, b, c, d = sizes
        split = [[0, 0, 0 if a * c * (b + d) > b * d * (a + c) else 1], [0, 0, 1], [0, 0, 0]]
    else:
        split = _chain_order(sizes)
    out_shape = tuple(tensors[0].shape[:1] if not first_vec else ()) + tuple(
        tensors[-1].shape[1:] if not last_vec else ())
    return _chain(mats, split, 0, len(mats) - 1).view(out_shape)  # a view of the product, as PyTorch's


def _chain_order(p):
    """The split table of the cheapest parenthesization of a chain of matrices of sizes p (dynamic program)."""
    n = len(p) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return _products.mm(_chain(mats, split, i, k), _chain(mats, split, k + 1, j))


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """vecdot(x, y, *, dim=-1): the dot products of the vectors along ``dim``, operands broadcast.

    >>> import tapegrad as tg
    >>> tg.linalg.vecdot(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), tg.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    op = "linalg.vecdot"
    _no_out(op, out)
    expect_tensor(op, x, "x")
    expect_tensor(op, y, "y")
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(f"{op}: Expected x and y to have the same dtype, but found x of type "
                           f"{_core.torch_dtype_name(x._data.dtype)} and y of type "
                           f"{_core.torch_dtype_name(y._data.dtype)} instead")
    return (x * y).sum(dim)


def cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """cross(input, other, *, dim=-1): the cross product of 3-vectors along ``dim``, operands broadcast.

    >>> import tapegrad as tg
    >>> tg.linalg.cross(tg.tensor([1.0, 0.0, 0.0]), tg.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.])
    """
    op = "linalg.cross"
    _no_out(op, out)
    expect_tensor(op, input, "input")
    expect_tensor(op, other, "other")
    if input.ndim != other.ndim:
        raise RuntimeError(f"{op}: inputs dimension {input.ndim} does not match other dimension {other.ndim}")
    if not -input.ndim <= dim < max(input.ndim, 1):
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-input.ndim}, "
                         f"{input.ndim - 1}], but got {dim})")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"{op}: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and "
                           f"{other.shape[dim]}")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{op}: expected both inputs to have the same dtype, got "
                           f"{_core.torch_dtype_name(input._data.dtype)} and "
                           f"{_core.torch_dtype_name(other._data.dtype)}")
    try:
        np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    except ValueError:
        raise RuntimeError(f"{op}: cannot broadcast shapes {tuple(input.shape)} and {tuple(other.shape)}") from None
    a, b = input._data, other._data
    value = _core.cross_array(a, b, dim)
    return record(value, (input, other), _cross(dim), "LinalgCrossBackward0")


def _cross(dim):
    def rule(xp, need, g, out, a, b):
        return _core._cross_rule(xp, need, g, out, a, b, axis=dim)

    return rule


def vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """vander(x, *, N=None): the Vandermonde matrix of ``x`` (..., n): columns x^0, x^1, ..., x^(N-1)
    (N defaults to n, and must be greater than 1).

    >>> import tapegrad as tg
    >>> tg.linalg.vander(tg.tensor([1, 2, 3]))
    tensor([[1, 1, 1],
            [1, 2, 4],
            [1, 3, 9]])
    """
    op = "linalg.vander"
    expect_tensor(op, x, "x")
    if x.ndim < 1:
        raise RuntimeError(f"{op}: x must have at least one dimension.")
    if x._data.dtype.kind == "b":
        raise RuntimeError(f"{op}: does not support bool input")
    if N is None:
        N = x.shape[-1]
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    ones = wrap(np.ones(tuple(x.shape) + (1,), x._data.dtype))
    powers = x.unsqueeze(-1).expand(tuple(x.shape) + (N - 1,)).cumprod(-1)
    return _shape.cat([ones, powers], -1)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """diagonal(A, *, offset=0, dim1=-2, dim2=-1): the diagonals of the matrices of ``A`` (a view).

    >>> import tapegrad as tg
    >>> tg.linalg.diagonal(tg.eye(2))
    tensor([1., 1.])
    """
    return A.diagonal(offset, dim1, dim2)


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """matmul(input, other): alias of tapegrad.matmul.

    >>> import tapegrad as tg
    >>> tg.linalg.matmul(tg.ones(2, 3), tg.ones(3)).shape
    tapegrad.Size([2])
    """
    _no_out("linalg.matmul", out)
    return _products.matmul(input, other)


def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """tensorinv(A, ind=2): the inverse of A for tensordot over ``ind`` dims: prod(shape[:ind]) must equal
    prod(shape[ind:]); the result has shape shape[ind:] + shape[:ind].

    >>> import tapegrad as tg
    >>> tg.linalg.tensorinv(tg.eye(4).reshape(4, 2, 2), ind=1).shape
    tapegrad.Size([2, 2, 4])
    """
    op = "linalg.tensorinv"
    _no_out(op, out)
    expect_tensor(op, A)
    if ind <= 0:
        raise RuntimeError(f"{op}: Expected a strictly positive integer for 'ind', but got {ind}")
    shape = tuple(A.shape)
    rows, cols = math.prod(shape[:ind]), math.prod(shape[ind:])
    if rows != cols:
        raise RuntimeError(f"{op}: Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape((rows, cols))).reshape(shape[ind:] + shape[:ind])


def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """tensorsolve(A, B, dims=None): X with tensordot(A, X, X.ndim) = B; ``dims`` are dims of A moved to the
    end first. X has shape A.shape[B.ndim:].

    >>> import tapegrad as tg
    >>> tg.linalg.tensorsolve(tg.eye(6).reshape(2, 3, 6), tg.ones(2, 3)).shape
    tapegrad.Size([6])
    """
    op = "linalg.tensorsolve"
    _no_out(op, out)
    expect_tensor(op, A)
    expect_tensor(op, B, "B")
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = _shape.movedim(A, tuple(dims), tuple(range(A.ndim - len(dims), A.ndim)))
    result_shape = tuple(A.shape)[B.ndim:]
    rows, cols = math.prod(tuple(B.shape)), math.prod(result_shape)
    if tuple(A.shape)[:B.ndim] != tuple(B.shape) or rows != cols:
        raise RuntimeError(f"{op}: Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return solve(A.reshape((rows, cols)), B.reshape((rows,))).reshape(result_shape)


def householder_product(A: Tensor, tau: Tensor, *, out=None) -> Tensor:
    """householder_product(A, tau): the first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i the
    i-th column of A below the diagonal with a 1 on it (LAPACK's orgqr). A (..., m, n), tau (..., k), k <= n <= m.

    >>> import tapegrad as tg
    >>> tg.linalg.householder_product(tg.zeros(2, 2), tg.zeros(2))  # -0.0 = -tau * 0.0, as LAPACK's
    tensor([[1., 0.],
            [-0., 1.]])
    """
    op = "torch.linalg.householder_product"
    _no_out(op, out)
    expect_tensor(op, A)
    expect_tensor(op, tau, "tau")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1] if tau.ndim else 0
    if m < n:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if k > n:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if A.ndim - tau.ndim != 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{tuple(tau.shape[:-1])}")
    check_float(op, A, low_precision=True)
    check_same_dtype(op, A, tau, ("input", "tau"))
    _core.check_lapack_dtype("orgqr_cpu", A)  # as PyTorch: no float16/bfloat16 kernel
    dt = A._data.dtype
    Q = wrap(np.broadcast_to(np.eye(m, n, dtype=dt), tuple(A.shape)).copy())
    if A._data.size == 0 or tau._data.size == 0:  # as PyTorch: a node whose inputs get no gradient (None)
        return record(Q._data, (A, tau), _core.no_grads_rule, "LinalgHouseholderProductBackward0")
    if (A.requires_grad or tau.requires_grad) and dt.kind == "f" and _householder.nonfinite(A._data, tau._data, k):
        # an inf/nan input: PyTorch's householder_product_backward, from the result (see _householder_rule)
        value = _core.column_major(_householder.householder_product_value(A._data, tau._data))
        return record(value, (A, tau), _householder_rule, "LinalgHouseholderProductBackward0")
    V = A.tril(-1) + wrap(np.eye(m, n, dtype=dt))
    for i in range(k - 1, -1, -1):
        v = V[..., :, i:i + 1]
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * (v @ (v.mT @ Q))
    return _householder.with_value(  # orgqr's column-major layout
        Q, lambda: _core.column_major(_householder.householder_product_value(A._data, tau._data)),
        "LinalgHouseholderProductBackward0")


def _householder_rule(xp, need, g, out, a, tau):
    """The rule of householder_product's node at an inf/nan input: PyTorch's householder_product_backward
    (FunctionsManual.cpp) step by step from the result, on arrays (first order) and, with create_graph, on
    tensors (differentiable again, its out-of-place reflections as PyTorch's under grad mode). Finite inputs keep
    the formulas' graph, exact to every order."""
    a_grad, tau_grad = _householder.householder_product_backward(xp, g, out, a, tau)
    return a_grad if need[0] else None, tau_grad if need[1] else None


def matrix_exp(A: Tensor) -> Tensor:
    """matrix_exp(A): the matrix exponential of each square matrix (scaling and squaring with a degree-13
    Pade approximant, Higham 2005). Its gradient is that of the computation.

    >>> import tapegrad as tg
    >>> tg.linalg.matrix_exp(tg.zeros(2, 2))
    tensor([[1., 0.],
            [0., 1.]])
    """
    op = "linalg.matrix_exp"
    check_matrix(op, A, square=True)
    n = A.shape[-1]
    a = A._data
    if n == 0 or a.size == 0:
        return named(A.clone(), "LinalgMatrixExpBackward0")
    if n == 1:  # exp; as PyTorch's, the gradient is computed from the input (a later write to the result is fine)
        with np.errstate(over="ignore"):
            return record(np.exp(a), (A,), _matrix_exp_1x1_rule, "LinalgMatrixExpBackward0")
    R = _matrix_exp_balanced(A)
    if not np.isfinite(R._data).all():
        R = _matrix_exp_overflowed(A, R)
    # PyTorch's one node LinalgMatrixExpBackward0, here the composition's last
    return named(_matrix_exp_unresolved(A, R), "LinalgMatrixExpBackward0", (A,))


def _matrix_exp_unresolved(A, R):
    """NaN (PyTorch's value) for the exponential of a finite matrix that turns faster than its dtype can resolve:
    an eigenvalue whose imaginary part times the dtype's epsilon exceeds pi leaves no digit of the rotation's
    angle ([[0, 1e20], [-1e20, 0]]; the squarings gave zeros or infinities). Only for 1-norms above 2**40 (the
    balanced path): every other input is returned as it is."""
    a = A._data
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.abs(a).sum(axis=-2).max(axis=-1)
        big = np.isfinite(a).all(axis=(-2, -1)) & (norms > 2.0 ** 40)
    if not big.any():
        return R
    eps = float(np.finfo(a.dtype).eps)
    lost = np.zeros(big.shape, dtype=bool)
    lost[big] = np.abs(np.linalg.eigvals(a[big].astype(np.float64)).imag).max(axis=-1) * eps > np.pi
    if not lost.any():
        return R
    from ..ops.elementwise import where as _where

    return _where(wrap(np.broadcast_to(lost[..., None, None], a.shape).copy()), wrap(np.full((), np.nan, a.dtype)), R)


def _matrix_exp_balanced(A):
    d = _balancing(A._data)
    if d is None:
        return _matrix_exp_scaled(A)
    # exp(A) = D exp(D^-1 A D) D^-1, computed on the balanced matrix (D in powers of two: exact)
    dt = A._data.dtype
    return wrap(d[..., :, None].astype(dt)) * _matrix_exp_scaled(A * wrap((d[..., None, :] / d[..., :, None]).astype(
        dt))) * wrap((1 / d[..., None, :]).astype(dt))


def _balancing(a):
    """For badly scaled finite matrices (balancing shrinks the 1-norm 16-fold or more, and scaling by 2**-s would
    round the small entries' products away: [[1e5, -0.25], [-3e38, 1e-7]], whose exponential overflows, came out
    finite), the diagonal D in powers of two that balances each matrix's rows and columns (Parlett and Reinsch,
    LAPACK's gebal without permutations; Ward's preprocessing for expm), in float64, of A's shape without the last
    axis (ones for the matrices left as they are); None when no matrix needs it (computed as before)."""
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.abs(a).sum(axis=-2).max(axis=-1)
        cand = np.isfinite(a).all(axis=(-2, -1)) & (norms > 5.371920351148152)
    if not cand.any():
        return None
    m = np.abs(a[cand].astype(np.float64))
    n = a.shape[-1]
    m[:, np.arange(n), np.arange(n)] = 0
    d = np.ones(m.shape[:2])
    with np.errstate(all="ignore"):
        for _ in range(64):
            changed = False
            for i in range(n):
                c, r = m[:, :, i].sum(axis=-1), m[:, i, :].sum(axis=-1)
                f = np.where((c > 0) & (r > 0), 2.0 ** np.round(np.log2(np.sqrt(r / c))), 1.0)
                f = np.where((f != 1) & (c * f + r / f < 0.95 * (c + r)) & (np.abs(np.log2(d[:, i] * f)) <= 100),
                             f, 1.0)
                if (f != 1).any():
                    m[:, :, i] *= f[:, None]
                    m[:, i, :] /= f[:, None]
                    d[:, i] *= f
                    changed = True
            if not changed:
                break
        m[:, np.arange(n), np.arange(n)] = np.abs(a[cand]).astype(np.float64)[:, np.arange(n), np.arange(n)]
        worth = m.sum(axis=-2).max(axis=-1) * 16 <= norms[cand]
    if not worth.any():
        return None
    d[~worth] = 1
    full = np.ones(a.shape[:-1])
    full[cand] = d
    return full


def _matrix_exp_overflowed(A, R):
    """The entries of exp(A) that came out inf or NaN for a finite A (the squaring overflowed): with the trace
    shift mu = tr(A) / n, exp(A) = e^mu exp(A - mu I) (Ward's preprocessing), so such an entry is
    sign(E) exp(log|E| + mu) with E = exp(A - mu I) in float64: +-inf with the exponential's sign where it is beyond
    the range, or its finite value; NaN where E itself is not finite (a rotation too fast to resolve). No gradient
    flows through those entries."""
    a, r = A._data, R._data
    bad = ~np.isfinite(r) & np.isfinite(a).all(axis=(-2, -1), keepdims=True)
    if not bad.any():
        return R
    which = bad.any(axis=(-2, -1))
    sub = a[which].astype(np.float64)
    n = a.shape[-1]
    mu = (sub.trace(axis1=-2, axis2=-1) / n)[:, None, None]
    with np.errstate(all="ignore"):
        e = _matrix_exp_balanced(wrap(sub - mu * np.eye(n))).numpy()
        # (an entry beyond even float64's range is that infinity)
        value = np.where(np.isfinite(e), np.sign(e) * np.exp(np.log(np.abs(e)) + mu), np.where(np.isinf(e), e, np.nan))
    fixed = r.copy()
    fixed[which] = np.where(bad[which], value, r[which])
    from ..ops.elementwise import where as _where

    return _where(wrap(bad), wrap(fixed.astype(r.dtype)), R)


def _matrix_exp_scaled(A):
    """exp of each matrix of A (n >= 2): scaling and squaring with a degree-13 Pade approximant."""
    a = A._data
    n = A.shape[-1]
    with np.errstate(invalid="ignore"):  # a matrix with inf or nan gives nan (as PyTorch's)
        norms = np.max(np.add.reduce(np.abs(a), axis=-2), axis=-1)
    # NOTE: each matrix has its own scaling (as PyTorch's, which picks the degree and scaling per matrix): one
    # shared by the batch squares a small matrix's exponential hundreds of times beside a large one (zeros)
    theta = 5.371920351148152
    with np.errstate(invalid="ignore", divide="ignore"):
        steps = np.where(np.isfinite(norms) & (norms > theta), np.ceil(np.log2(norms / theta)), 0).astype(np.int64)
    s = int(steps.max()) if steps.size else 0
    X = A * wrap(np.ldexp(np.ones(steps.shape, a.dtype), -steps)[..., None, None]) if s else A
    b = _PADE13
    eye = wrap(np.eye(n, dtype=a.dtype))
    X2 = X @ X
    X4 = X2 @ X2
    X6 = X4 @ X2
    U = X @ (X6 @ (b[13] * X6 + b[11] * X4 + b[9] * X2) + b[7] * X6 + b[5] * X4 + b[3] * X2 + b[1] * eye)
    V = X6 @ (b[12] * X6 + b[10] * X4 + b[8] * X2) + b[6] * X6 + b[4] * X4 + b[2] * X2 + b[0] * eye
    R = solve(V - U, V + U)
    if not s:  # NOTE: PyTorch's backward reads the input only (linalg_matrix_exp_differential); solve's reads its
        # result, so without a squaring after it the result handed out is a copy: an in-place write to it (under
        # no_grad) leaves backward possible, as in PyTorch
        return R.clone()
    for k in range(s):
        if (steps > k).all():
            R = R @ R
        else:  # the matrices whose own scaling is done keep their R
            from ..ops.elementwise import where as _where

            R = _where(wrap(np.broadcast_to((steps > k)[..., None, None], tuple(R.shape)).copy()), R @ R, R)
    return R


def _matrix_exp_1x1_rule(xp, g, out, a):
    # PyTorch's backward of matrix_exp is linalg_matrix_exp_differential (FunctionsManual.cpp): the exponential
    # of the block matrix [[A^T, G], [0, A^T]], whose Pade approximant is NaN when A is inf or NaN; for a finite
    # 1x1 A its corner is g e^a
    finite = xp.isfinite(a)
    return xp.where(finite, g * xp.exp(xp.where(finite, a, 0.0)), np.nan)


_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0,
           1.0)


# ---------------------------------------------------------------------- LU
linalg_lu_factor = namedtuple("linalg_lu_factor", ["LU", "pivots"])
linalg_lu_factor_ex = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
linalg_lu = namedtuple("linalg_lu", ["P", "L", "U"])


def _lu_checks(op, A, pivot):
    check_matrix(op, A)
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out=None):
    """lu_factor_ex(A, *, pivot=True, check_errors=False) -> (LU, pivots, info): the LU factorization with
    partial pivoting of each (..., m, n) matrix, packed as LAPACK's getrf (L's strict lower part and U in one
    matrix, 1-based row swaps ``pivots``, int32), and ``info`` (the 1-based index of the first zero pivot).
    Differentiable (PyTorch's linalg_lu_backward).

    >>> import tapegrad as tg
    >>> tg.linalg.lu_factor_ex(tg.tensor([[1.0, 2.0], [2.0, 4.0]])).info
    tensor(2, dtype=tapegrad.int32)
    """
    op = "linalg.lu_factor_ex"
    _no_out(op, out)
    _lu_checks("linalg.lu_factor", A, pivot)
    lu, pivots, info = _core.lu_factor_array(A._data)
    if check_errors and info.any():
        raise _lu_error("torch.linalg.lu_factor_ex", info)
    p = _core.permutation_array(pivots, A.shape[-2], A._data.dtype)
    LU = record(_core.column_major(lu), (A,), _core.lu_factor_rule(p), "LinalgLuFactorExBackward0")
    return linalg_lu_factor_ex(LU, wrap(pivots), wrap(info))


def _lu_error(op, info):
    flat = info.reshape(-1)
    index = np.flatnonzero(flat)[0]
    return RuntimeError(f"{op}: {_core.batch_prefix(index, info.ndim > 0)}U[{flat[index]},{flat[index]}] is zero "
                        "and using it on lu_solve would result in a division by zero. If you still want to perform "
                        "the factorization, consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A: Tensor, *, pivot: bool = True, out=None):
    """lu_factor(A, *, pivot=True) -> (LU, pivots): lu_factor_ex, raising RuntimeError when U has a zero on its
    diagonal (lu_solve would divide by it).

    >>> import tapegrad as tg
    >>> tg.linalg.lu_factor(tg.tensor([[1.0, 2.0], [3.0, 4.0]])).pivots
    tensor([2, 2], dtype=tapegrad.int32)
    """
    op = "torch.linalg.lu_factor"
    _no_out(op, out)
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    if info._data.any():
        raise _lu_error(op, info._data)
    return linalg_lu_factor(LU, pivots)


def lu(A: Tensor, *, pivot: bool = True, out=None):
    """lu(A, *, pivot=True) -> (P, L, U): A = P L U with P a permutation, L (..., m, k) unit lower-triangular and
    U (..., k, n) upper-triangular, k = min(m, n). PyTorch's linalg_lu_backward.

    >>> import tapegrad as tg
    >>> P, L, U = tg.linalg.lu(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> U
    tensor([[3.0000, 4.0000],
            [0.0000, 0.6667]])
    """
    op = "linalg.lu"
    _no_out(op, out)
    _lu_checks(op, A, pivot)
    a = A._data
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    lu_array, pivots, _ = _core.lu_factor_array(a)
    p = _core.permutation_array(pivots, m, a.dtype)
    lower = np.tril(lu_array, -1)[..., :, :k] + np.eye(m, k, dtype=a.dtype)
    upper = np.triu(lu_array)[..., :k, :]
    L, U = several((A,), [lower, upper], _core.lu_rule(p), "LinalgLuBackward0")
    return linalg_lu(wrap(p), L, U)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False, out=None):
    """lu_solve(LU, pivots, B, *, left=True, adjoint=False): X with A X = B (A^T X = B with ``adjoint``;
    X A = B with ``left=False``) from lu_factor's (LU, pivots) of A. Differentiable in LU and B.

    >>> import tapegrad as tg
    >>> A = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> tg.linalg.lu_solve(*tg.linalg.lu_factor(A), A)
    tensor([[1., 0.],
            [0., 1.]])
    """
    op = "torch.linalg.lu_solve"
    _no_out(op, out)
    check_matrix(op, LU, square=True)
    expect_tensor(op, B, "B")
    expect_tensor(op, pivots, "pivots")
    if B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    check_same_dtype(op, LU, B, ("LU", "B"))
    n = LU.shape[-1]
    if B.shape[-2 if left else -1] != n:
        if not left:  # PyTorch checks X A = B as A^H X^H = B^H
            raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {'A' if adjoint else 'A^H'}X "
                               f"= B ({n}x{n} and {B.shape[-1]}x{B.shape[-2]})")
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {'A^H' if adjoint else 'A'}X = B "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if pivots._data.dtype != np.int32 or tuple(pivots.shape) != tuple(LU.shape[:-1]):
        raise RuntimeError(f"{op}: Expected pivots to be int32 of shape {tuple(LU.shape[:-1])}, got "
                           f"{pivots._data.dtype} of shape {tuple(pivots.shape)}")
    piv = pivots._data
    value = _core.lu_solve_array(LU._data, piv, B._data, bool(left), bool(adjoint))
    # getrs' layout: column-major (left=False solves the transposed system: X^T column-major, X row-major)
    value = _core.column_major(value) if left else np.ascontiguousarray(value)
    return record(value, (LU, B), _lu_solve_rule(piv, bool(left), bool(adjoint)), "LinalgLuSolveBackward0")


def _lu_solve_rule(pivots, left, adjoint):
    """lu_solve's rule (a closure, so the engine sees it reads LU and the result, not B), PyTorch's backward."""
    def rule(xp, need, g, out, lu, b):
        return _core._lu_solve_rule(xp, need, g, out, lu, None, pivots=pivots, left=left, adjoint=adjoint)

    return rule


# ---------------------------------------------------------------------- LDL
linalg_ldl_factor = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
linalg_ldl_factor_ex = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False, out=None):
    """ldl_factor_ex(A, *, hermitian=False, check_errors=False) -> (LD, pivots, info): the LDL^T factorization
    of symmetric matrices (their lower triangle) with Bunch-Kaufman pivoting, packed as LAPACK's sytrf: L's
    strict lower part and the 1x1/2x2 blocks of D in LD; ``pivots`` (int32) 1-based, negative for 2x2 blocks;
    ``info`` > 0 where D is exactly singular. Not differentiable, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.linalg.ldl_factor_ex(tg.tensor([[0.0, 1.0], [1.0, 0.0]])).pivots
    tensor([-2, -2], dtype=tapegrad.int32)
    """
    op = "torch.linalg.ldl_factor_ex"
    _no_out(op, out)
    check_matrix(op, A, square=True)
    a = A._data
    flat = _core.flat_batch(a, 2)
    ld = np.zeros_like(flat)
    pivots = np.zeros(flat.shape[:-1], np.int32)
    info = np.zeros(flat.shape[0], np.int32)
    for i, m in enumerate(flat):
        ld[i], pivots[i], info[i] = _core.ldl_factor_matrix(m)
    info = info.reshape(a.shape[:-2])
    if check_errors and info.any():
        raise _ldl_error(op, info)
    LD = record(_core.column_major(ld.reshape(a.shape)), (A,), _core.not_implemented_rule("linalg_ldl_factor_ex"),
                "torch::autograd::NotImplemented")
    return linalg_ldl_factor_ex(LD, wrap(pivots.reshape(a.shape[:-1])), wrap(info))


def _ldl_error(op, info):
    flat = info.reshape(-1)
    index = np.flatnonzero(flat)[0]
    return LinAlgError(f"{op}: {_core.batch_prefix(index, info.ndim > 0)}D[{flat[index]},{flat[index]}] is exactly "
                       "zero: the block diagonal factor D is singular")


def ldl_factor(A: Tensor, *, hermitian: bool = False, out=None):
    """ldl_factor(A, *, hermitian=False) -> (LD, pivots): ldl_factor_ex, raising LinAlgError where D is singular
    (PyTorch 2.13 fails there with an internal assertion).

    >>> import tapegrad as tg
    >>> tg.linalg.ldl_factor(tg.tensor([[4.0, 2.0], [2.0, 3.0]])).LD
    tensor([[4.0000, 0.0000],
            [0.5000, 2.0000]])
    """
    op = "torch.linalg.ldl_factor"
    _no_out(op, out)
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    if info._data.any():
        raise _ldl_error(op, info._data)
    return linalg_ldl_factor(LD, pivots)


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False, out=None) -> Tensor:
    """ldl_solve(LD, pivots, B, *, hermitian=False): X with A X = B from ldl_factor's (LD, pivots) of A
    (LAPACK's sytrs); B is (..., n, k), batch dims broadcast. Not differentiable, as in PyTorch.

    >>> import tapegrad as tg
    >>> A = tg.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> tg.linalg.ldl_solve(*tg.linalg.ldl_factor(A), tg.tensor([[1.0], [2.0]]))
    tensor([[2.],
            [1.]])
    """
    op = "torch.linalg.ldl_solve"
    _no_out(op, out)
    check_matrix(op, LD, square=True)
    expect_tensor(op, B, "B")
    if B.ndim < 2:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [-1, 0], but got -2): B must "
                         "have at least 2 dimensions")
    n = LD.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {op}: each A matrix is {n} by {n} but each b matrix is "
                           f"{B.shape[-2]} by {B.shape[-1]}")
    check_same_dtype(op, LD, B, ("LD", "B"))
    if pivots._data.dtype != np.int32 or tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(f"{op}: Expected pivots to be int32 of shape {tuple(LD.shape[:-1])}, got "
                           f"{pivots._data.dtype} of shape {tuple(pivots.shape)}")
    batch = np.broadcast_shapes(tuple(LD.shape[:-2]), tuple(B.shape[:-2]))
    ld = _core.flat_batch(np.broadcast_to(LD._data, batch + (n, n)), 2)
    piv = _core.flat_batch(np.broadcast_to(pivots._data, batch + (n,)), 1)
    b = _core.flat_batch(np.broadcast_to(B._data, batch + tuple(B.shape[-2:])), 2)
    x = np.stack([_core.ldl_solve_matrix(ld[i], piv[i], b[i]) for i in range(b.shape[0])]) if b.shape[0] else b
    return record(x.reshape(batch + tuple(B.shape[-2:])), (LD, B), _core.not_implemented_rule("linalg_ldl_solve"),
                  "torch::autograd::NotImplemented")
