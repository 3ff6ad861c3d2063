"""PyTorch's top-level linear algebra functions (``torch.det``, ``torch.svd``, ...) and their Tensor methods,
made from ``tapegrad.linalg``. ``import tapegrad`` exports ``__all__``."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.declare import Tensor, named, op, record, wrap
from ..autograd.inplace import unview as _unview
from ..autograd.xp import numpy_xp, register_tensor_xp
from ..ops import reduce as _reduce
from ..ops.elementwise import where as _where
from . import _core, _householder, householder_product, inv, lu_factor_ex, multi_dot, pinv, solve_triangular
from . import cholesky as _cholesky
from . import det as _det
from . import lu_solve as _lu_solve
from . import matrix_exp as _matrix_exp
from . import matrix_power as _matrix_power
from . import qr as _qr
from . import slogdet as _slogdet
from . import svd as _svd

__all__ = ["det", "logdet", "slogdet", "inverse", "cholesky", "cholesky_solve", "cholesky_inverse", "pinverse",
           "matrix_power", "matrix_exp", "qr", "svd", "triangular_solve", "orgqr", "ormqr", "chain_matmul", "eig",
           "symeig", "lstsq", "solve", "lu", "lu_solve", "lu_unpack"]

_return_types = {
    "slogdet": namedtuple("slogdet", ["sign", "logabsdet"]),
    "qr": namedtuple("qr", ["Q", "R"]),
    "svd": namedtuple("svd", ["U", "S", "V"]),
    "triangular_solve": namedtuple("triangular_solve", ["solution", "cloned_coefficient"]),
    "lu_unpack": namedtuple("lu_unpack", ["P", "L", "U"]),
}
for _name, _type in _return_types.items():
    if not hasattr(_reduce.return_types, _name):
        setattr(_reduce.return_types, _name, _type)


@op(xp_name=False)
def det(input: Tensor) -> Tensor:
    """det(input): alias of tapegrad.linalg.det.

    >>> import tapegrad as tg
    >>> tg.det(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(-2.)
    """
    return _det(input)


@op(xp_name=False)
def logdet(input: Tensor) -> Tensor:
    """logdet(input): log(det(input)): nan where the determinant is negative, -inf where it is 0.

    >>> import tapegrad as tg
    >>> tg.logdet(tg.tensor([[2.0, 0.0], [0.0, 1.0]]))
    tensor(0.6931)
    """
    sign, logabs = _slogdet(input)
    return _where(sign == -1, float("nan"), logabs)


@op(xp_name=False)
def slogdet(input: Tensor):
    """slogdet(input) -> (sign, logabsdet): alias of tapegrad.linalg.slogdet.

    >>> import tapegrad as tg
    >>> tg.slogdet(tg.eye(2))
    slogdet(sign=tensor(1.), logabsdet=tensor(0.))
    """
    return _reduce.return_types.slogdet(*_slogdet(input))


@op(xp_name=False)
def inverse(input: Tensor) -> Tensor:
    """inverse(input): alias of tapegrad.linalg.inv.

    >>> import tapegrad as tg
    >>> tg.inverse(tg.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    return inv(input)


@op(xp_name=False)
def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """cholesky(input, upper=False): tapegrad.linalg.cholesky (deprecated in PyTorch, which warns once).

    >>> import tapegrad as tg
    >>> tg.cholesky(tg.tensor([[4.0, 2.0], [2.0, 2.0]]))
    tensor([[2., 0.],
            [1., 1.]])
    """
    # PyTorch's own node CholeskyBackward0 (its U a new tensor, not a transposed view)
    return named(_unview(_cholesky(input, upper=upper)), "CholeskyBackward0", (input,))


@op(xp_name=False)
def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:
    """cholesky_solve(B, L, upper=False): X with A X = B for A = L L^T (``upper``: A = U^T U, U = ``L``).

    >>> import tapegrad as tg
    >>> tg.cholesky_solve(tg.ones(2, 1), tg.tensor([[2.0, 0.0], [0.0, 1.0]]))
    tensor([[0.2500],
            [1.0000]])
    """
    op_name = "cholesky_solve"
    _core.expect_tensor(op_name, input, "input")
    _core.expect_tensor(op_name, input2, "input2")
    if input.ndim < 2 or input2.ndim < 2:
        raise RuntimeError(f"{op_name}: b should have at least 2 dimensions, but has {input.ndim} dimensions "
                           "instead" if input.ndim < 2 else
                           f"{op_name}: u should have at least 2 dimensions, but has {input2.ndim} dimensions "
                           "instead")
    _core.check_same_dtype(op_name, input, input2, ("b", "u"))
    _core.check_float(op_name, input)
    try:
        np.broadcast_shapes(input.shape[:-2], input2.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op_name}: cannot broadcast the batch dimensions of b {tuple(input.shape)} and u "
                           f"{tuple(input2.shape)}") from None
    _core.check_matrix(op_name, input2, square=True)
    if input.shape[-2] != input2.shape[-1]:
        raise RuntimeError(f"{op_name}: Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{input2.shape[-2]} by {input2.shape[-1]} but each b matrix is {input.shape[-2]} by "
                           f"{input.shape[-1]}")
    value = _core.potrs_array(input._data, input2._data, bool(upper))  # LAPACK's order, signs of zero, inf/nan
    value = _core.column_major(value)  # PyTorch's layout
    return record(value, (input, input2), _core.cholesky_solve_rule(bool(upper)), "CholeskySolveBackward0")


@op(xp_name=False)
def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:
    """cholesky_inverse(L, upper=False): the inverse of A = L L^T (``upper``: A = U^T U) from its factor.

    >>> import tapegrad as tg
    >>> tg.cholesky_inverse(tg.tensor([[2.0, 0.0], [1.0, 1.0]]))
    tensor([[ 0.5000, -0.5000],
            [-0.5000,  1.0000]])
    """
    _core.check_matrix("cholesky_inverse", input, square=True)
    a = input._data
    zero = (np.diagonal(a, axis1=-2, axis2=-1) == 0).reshape(-1, a.shape[-1]) if a.size else np.zeros((0, 0), bool)
    if zero.any():  # as PyTorch (LAPACK's potri reports it): a zero on the factor's diagonal is an error
        index = int(np.flatnonzero(zero.any(axis=1))[0])
        raise _core.LinAlgError(f"cholesky_inverse: {_core.batch_prefix(index, a.ndim > 2)}The diagonal element "
                                f"{int(np.argmax(zero[index])) + 1} is zero, the inversion could not be completed "
                                "because the input matrix is singular.")
    if a.shape[-1] <= _POTRI_MAX:  # LAPACK's own order: its signs of zero and its spread of inf/nan
        value = _core.potri_array(a, bool(upper)).reshape(a.shape)
    else:
        factor = np.swapaxes(a, -1, -2) if upper else a  # lower triangular
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        inv_factor = _core.triangular_solve_array(factor, eye, False)
        value = np.swapaxes(inv_factor, -1, -2) @ inv_factor
    return record(value, (input,), _cholesky_inverse_rule(bool(upper)), "CholeskyInverseBackward0")


_POTRI_MAX = 16  # cholesky_inverse follows LAPACK's potri step by step up to this size (Python loops over n)


def _cholesky_inverse_rule(upper):
    """PyTorch's cholesky_inverse_backward: -(X (G + G^T) X) L (upper: -U X (G + G^T) X), X the inverse: the
    full matrix's gradient, also in the triangle the forward does not read."""
    def rule(xp, g, out, u):
        common = out @ ((g + g.mT) @ out)
        return -(u @ common) if upper else -(common @ u)

    return rule


@op(xp_name=False)
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """pinverse(input, rcond=1e-15): tapegrad.linalg.pinv with rtol=rcond.

    >>> import tapegrad as tg
    >>> tg.pinverse(tg.tensor([[2.0, 0.0], [0.0, 0.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.0000]])
    """
    return pinv(input, rtol=rcond)


@op(xp_name=False)
def matrix_power(input: Tensor, n: int) -> Tensor:
    """matrix_power(input, n): alias of tapegrad.linalg.matrix_power.

    >>> import tapegrad as tg
    >>> tg.matrix_power(tg.tensor([[1.0, 1.0], [0.0, 1.0]]), 2)
    tensor([[1., 2.],
            [0., 1.]])
    """
    return _matrix_power(input, n)


@op(xp_name=False)
def matrix_exp(input: Tensor) -> Tensor:
    """matrix_exp(input): alias of tapegrad.linalg.matrix_exp.

    >>> import tapegrad as tg
    >>> tg.matrix_exp(tg.zeros(1, 1))
    tensor([[1.]])
    """
    return _matrix_exp(input)


@op(xp_name=False)
def qr(input: Tensor, some: bool = True):
    """qr(input, some=True) -> (Q, R): tapegrad.linalg.qr with mode 'reduced' (``some``) or 'complete'.

    >>> import tapegrad as tg
    >>> tg.qr(tg.eye(2)).R
    tensor([[1., 0.],
            [0., 1.]])
    """
    return _reduce.return_types.qr(*_qr(input, "reduced" if some else "complete"))


@op(xp_name=False)
def svd(input: Tensor, some: bool = True, compute_uv: bool = True):
    """svd(input, some=True, compute_uv=True) -> (U, S, V): A = U diag(S) V^T (V, not Vh as linalg.svd);
    reduced unless ``some=False``; with ``compute_uv=False`` U and V are zero matrices of shapes (m, m), (n, n).

    >>> import tapegrad as tg
    >>> tg.svd(tg.tensor([[3.0, 0.0], [0.0, -4.0]])).S
    tensor([4., 3.])
    """
    if not compute_uv:
        from . import svdvals

        s = svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        batch = tuple(input.shape[:-2])
        dt = input._data.dtype
        return _reduce.return_types.svd(wrap(np.zeros(batch + (m, m), dt)), s, wrap(np.zeros(batch + (n, n), dt)))
    U, S, Vh = _svd(input, full_matrices=not some)
    return _reduce.return_types.svd(U, S, Vh.mT)


@op(xp_name=False)
def triangular_solve(input: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False):
    """triangular_solve(b, A, upper=True, transpose=False, unitriangular=False) -> (solution,
    cloned_coefficient): X with A X = b (A^T X = b with ``transpose``) for triangular A.

    >>> import tapegrad as tg
    >>> tg.triangular_solve(tg.ones(2, 1), tg.tensor([[2.0, 1.0], [0.0, 1.0]])).solution
    tensor([[0.],
            [1.]])
    """
    coefficient = A.mT if transpose else A
    solution = named(solve_triangular(coefficient, input, upper=upper != transpose, unitriangular=unitriangular),
                     "TriangularSolveBackward0", (input,))
    # the copy of A is an output of the same node in PyTorch: it requires grad if b does (b's gradient is zero)
    cloned = record(_core.column_major(A._data, copy=True), (A, input), _cloned_coefficient_rule,
                    "TriangularSolveBackward0")
    return _reduce.return_types.triangular_solve(solution, cloned)


def _cloned_coefficient_rule(xp, need, g, out, a, b):
    return g if need[0] else None, xp.zeros_like(b) if need[1] else None


@op(xp_name=False)
def orgqr(input: Tensor, input2: Tensor) -> Tensor:
    """orgqr(input, tau): alias of tapegrad.linalg.householder_product.

    >>> import tapegrad as tg
    >>> tg.orgqr(tg.zeros(2, 2), tg.zeros(2))
    tensor([[1., 0.],
            [-0., 1.]])
    """
    return householder_product(input, input2)


@op(xp_name=False)
def ormqr(input: Tensor, input2: Tensor, input3: Tensor, left: bool = True, transpose: bool = False) -> Tensor:
    """ormqr(input, tau, other, left=True, transpose=False): ``other`` multiplied by the full Q of
    householder_product(input, tau): Q C, Q^T C (``transpose``), or C Q, C Q^T (``left=False``).

    >>> import tapegrad as tg
    >>> tg.ormqr(tg.zeros(2, 2), tg.zeros(2), tg.eye(2))
    tensor([[1., 0.],
            [0., 1.]])
    """
    op_name = "torch.ormqr"
    for name, t in (("input", input), ("tau", input2), ("other", input3)):
        _core.expect_tensor(op_name, t, name)
    if input.ndim < 2 or input3.ndim < 2:
        raise RuntimeError(f"{op_name}: input and other must have at least 2 dimensions.")
    m = input.shape[-2]
    k = input2.shape[-1]
    rows = input3.shape[-2] if left else input3.shape[-1]
    if rows != m:
        raise RuntimeError(f"{op_name}: other.shape[{-2 if left else -1}] must be equal to input.shape[-2]")
    if k != min(rows, input.shape[-1]):
        raise RuntimeError(f"{op_name}: tau.shape[-1] must be equal to min(other.shape[{-2 if left else -1}], "
                           "input.shape[-1])")
    for name, t in (("tau", input2), ("other", input3)):
        if t._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op_name}: Expected input and {name} to have the same dtype, but input has dtype "
                               f"{_core.torch_dtype_name(input._data.dtype)} and {name} has dtype "
                               f"{_core.torch_dtype_name(t._data.dtype)}")
    _core.check_lapack_dtype("ormqr_cpu", input)  # as PyTorch: no float16/bfloat16/integer kernel
    dt = input._data.dtype
    if input._data.size == 0 or input2._data.size == 0:  # Q = I (or nothing to multiply): as PyTorch, a new node
        return record(input3._data.copy(), (input, input2, input3), _ormqr_empty_rule, "OrmqrBackward0")
    value = _householder.ormqr_value(input._data, input2._data, input3._data, left, transpose)
    # NOTE: with an inf/nan among the inputs, the gradients are PyTorch's ormqr_backward's (FunctionsManual.cpp),
    # which start from the result: other's ormqr(input, tau, grad, left, !transpose) in LAPACK's order, input's
    # and tau's householder_product_backward step by step (_ormqr_nonfinite_rule), on arrays and with create_graph
    # on tensors. Finite inputs keep the formulas' graph, exact to every order.
    if ((input.requires_grad or input2.requires_grad or input3.requires_grad)
            and _householder.nonfinite(input._data, input2._data, k, input3._data)):
        return record(value, (input, input2, input3), _ormqr_nonfinite_rule(bool(left), bool(transpose)),
                      "OrmqrBackward0")
    V = input[..., :, :k].tril(-1) + wrap(np.eye(m, k, dtype=dt))
    C = input3
    # Q = H_1 ... H_k, each H_i = I - tau_i v_i v_i^T symmetric: Q C applies H_k first, Q^T C applies H_1 first
    order = range(k) if left == transpose else range(k - 1, -1, -1)
    for i in order:
        v = V[..., :, i:i + 1]
        t = input2[..., i:i + 1].unsqueeze(-1)
        C = C - t * (v @ (v.mT @ C)) if left else C - t * ((C @ v) @ v.mT)
    return _householder.with_value(C, lambda: value, "OrmqrBackward0")


def _ormqr_nonfinite_rule(left, transpose):
    """The rule of ormqr's node at an inf/nan input (PyTorch's ormqr_backward, FunctionsManual.cpp): other gets
    ormqr(input, tau, grad, left, not transpose); input and tau get householder_product_backward from the result,
    given (grad, result) when left != transpose, else (result^T, grad^T) in flipped order. One rule: on arrays a
    first-order backward, on tensors (create_graph) the same formulas, differentiable again."""
    def rule(xp, need, g, out, a, tau, c):
        other = xp.ormqr_lapack(a, tau, g, left, not transpose) if need[2] else None
        a_grad = tau_grad = None
        if need[0] or need[1]:
            if left != transpose:
                hg, hr = (g, out) if not transpose else (g.mT, out.mT)
                a_grad, tau_grad = _householder.householder_product_backward(xp, hg, hr, a, tau)
            else:
                hg, hr = (out.mT, g.mT) if not transpose else (out, g)
                a_grad, tau_grad = _householder.householder_product_backward(xp, hg, hr, a, tau, flip=True)
        return a_grad if need[0] else None, tau_grad if need[1] else None, other

    return rule


# other's gradient: ormqr in LAPACK's order, on arrays (a first-order backward) or as the op itself on tensors
numpy_xp.ormqr_lapack = _householder.ormqr_value
register_tensor_xp("ormqr_lapack", lambda a, tau, c, left, transpose: ormqr(a, tau, c, left, transpose))


def _ormqr_empty_rule(xp, need, g, out, a, tau, c):
    return None, None, g if need[2] else None


def chain_matmul(*matrices) -> Tensor:
    """chain_matmul(*matrices): the product of 2-D matrices (deprecated in PyTorch for linalg.multi_dot).

    >>> import tapegrad as tg
    >>> tg.chain_matmul(tg.eye(2), tg.ones(2, 3)).shape
    tapegrad.Size([2, 3])
    """
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(list(matrices))


def _removed(name, replacement):
    def removed(*args, **kwargs):
        raise RuntimeError(f"This function was deprecated since version 1.9 and is now removed. {replacement}")

    removed.__name__ = removed.__qualname__ = name
    removed.__doc__ = f"{name}: removed from PyTorch in 1.9; raises RuntimeError naming the replacement."
    return op(removed, xp_name=False)


eig = _removed("eig", "`torch.linalg.eig` returns complex tensors (tapegrad has no complex dtype); for symmetric "
                      "matrices use torch.linalg.eigh / torch.linalg.eigvalsh.")
symeig = _removed("symeig", "L, V = torch.symeig(A, eigenvectors=True) should be replaced with: L, V = "
                            "torch.linalg.eigh(A, UPLO='U' if upper else 'L')")
lstsq = _removed("lstsq", "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`, which has reversed "
                          "arguments: X = torch.linalg.lstsq(A, B).solution")
solve = _removed("solve", "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has "
                          "its arguments reversed: X = torch.solve(B, A).solution should be replaced with: "
                          "X = torch.linalg.solve(A, B)")


@op(xp_name=False)
def lu(input: Tensor, pivot: bool = True, get_infos: bool = False):
    """lu(A, pivot=True, get_infos=False) -> (LU, pivots) or (LU, pivots, infos): tapegrad.linalg.lu_factor_ex
    (deprecated in PyTorch); as PyTorch 2.13's, a singular matrix is factorized without an error.

    >>> import tapegrad as tg
    >>> tg.lu(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))[1]
    tensor([2, 2], dtype=tapegrad.int32)
    """
    LU, pivots, info = lu_factor_ex(input, pivot=pivot)
    return (LU, pivots, info) if get_infos else (LU, pivots)


@op(xp_name=False)
def lu_solve(input: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """lu_solve(b, LU_data, LU_pivots): tapegrad.linalg.lu_solve(LU_data, LU_pivots, b).

    >>> import tapegrad as tg
    >>> A = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> tg.lu_solve(A, *tg.linalg.lu_factor(A))
    tensor([[1., 0.],
            [0., 1.]])
    """
    return _lu_solve(LU_data, LU_pivots, input)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True):
    """lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True) -> (P, L, U): the factors of a packed
    LU factorization (empty tensors for those not unpacked); L and U are differentiable in LU_data.

    >>> import tapegrad as tg
    >>> P, L, U = tg.lu_unpack(*tg.linalg.lu_factor(tg.tensor([[1.0, 2.0], [3.0, 4.0]])))
    >>> L
    tensor([[1.0000, 0.0000],
            [0.3333, 1.0000]])
    """
    op_name = "torch.lu_unpack"
    _core.check_matrix(op_name, LU_data, low_precision=True)
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    dt = LU_data._data.dtype
    empty = wrap(np.zeros((0,), dt))
    L = U = P = empty
    if unpack_data:
        L = LU_data[..., :, :k].tril(-1) + wrap(np.eye(m, k, dtype=dt))
        U = LU_data[..., :k, :].triu()
    if unpack_pivots:
        if tuple(LU_pivots.shape) != tuple(LU_data.shape[:-2]) + (k,):
            raise RuntimeError(f"{op_name}: Expected LU_pivots of shape {tuple(LU_data.shape[:-2]) + (k,)}, got "
                               f"{tuple(LU_pivots.shape)}")
        P = wrap(_core.permutation_array(LU_pivots._data, m, dt))
    return _reduce.return_types.lu_unpack(P, L, U)
