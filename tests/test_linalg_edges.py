"""The linear-algebra functions at their edges: which outputs require grad and which inputs get a gradient (None
vs zeros), empty factors, signs of zero, singular and non-finite matrices. Each case runs the same program with
``torch`` bound to tapegrad and, when it is installed, to PyTorch, and compares everything."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import _cpu
from tapegrad.linalg._core import near_singular
from tapegrad.testing import assert_gradients

# PyTorch's LAPACK is MKL's, which dispatches by CPU: the signs of zero (and the last bits) of its results are the
# kernel's. A test parametrized by ``signs`` compares the rest on every CPU and the signs on the reference CPU
# (tapegrad._cpu.reference_kernels); the reference's signs are pinned by tests of tapegrad alone.
SIGNS_ON_THE_REFERENCE_CPU = pytest.mark.parametrize(
    "signs", [False, pytest.param(True, marks=pytest.mark.reference_cpu)], ids=["values", "signs"])

F64 = "float64"


def _lib_dtype(lib, name):
    return getattr(lib, name)


def run(lib, program, arrays, dtype=F64):
    """Run ``program(lib, *leaves)`` on leaves requiring grad made from ``arrays``; return (outputs, grads):
    each output's values, requires_grad and is_leaf, then each leaf's gradient after a weighted backward."""
    dt = _lib_dtype(lib, dtype)
    leaves = [lib.tensor(np.asarray(a, np.float64), dtype=dt, requires_grad=True) for a in arrays]
    outs = program(lib, *leaves)
    outs = outs if isinstance(outs, tuple) else (outs,)
    summary = [(o.detach().numpy().copy(), o.requires_grad, o.is_leaf) for o in outs]
    total = None
    for k, o in enumerate(outs):
        if o.requires_grad:
            term = (o * (k + 1.5)).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    return summary, [None if x.grad is None else x.grad.numpy().copy() for x in leaves]


def same(a, b):
    """Equal values, NaN places and signs of zero."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(b), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.signbit(a[a == 0]), np.signbit(b[b == 0]))


# (name, program, arrays, expected: list of (requires_grad, is_leaf) per output, expected grads: None or "zeros"
# or "nonzero" per leaf)
RG_CASES = [
    ("slogdet_sign_only", lambda lib, a: lib.slogdet(a)[0], [[[-2.2]]], [(True, False)], [None]),
    ("slogdet_both", lambda lib, a: tuple(lib.linalg.slogdet(a)), [[[-2.2, 1.0], [0.5, 3.0]]],
     [(True, False), (True, False)], ["nonzero"]),
    ("triangular_solve_copy_b_only", lambda lib, b, a: lib.triangular_solve(b, a.detach())[1],
     [[[1.0], [2.0]], [[2.0, 1.0], [0.0, 3.0]]], [(True, False)], ["zeros", None]),
    ("triangular_solve_copy_a", lambda lib, b, a: lib.triangular_solve(b, a)[1],
     [[[1.0], [2.0]], [[2.0, 1.0], [0.0, 3.0]]], [(True, False)], ["zeros", "nonzero"]),
    ("matrix_power_0", lambda lib, a: lib.matrix_power(a, 0), [[[2.0, 1.0], [0.5, 3.0]]], [(True, False)],
     ["zeros"]),
    ("linalg_matrix_power_0", lambda lib, a: lib.linalg.matrix_power(a, 0), [np.ones((2, 3, 3))],
     [(True, False)], ["zeros"]),
    ("orgqr_empty_k", lambda lib, a, t: lib.orgqr(a, t), [np.ones((3, 2)), np.zeros(0)], [(True, False)],
     [None, None]),
    ("orgqr_empty_matrix", lambda lib, a, t: lib.orgqr(a, t), [np.zeros((2, 0)), np.zeros(0)], [(True, False)],
     [None, None]),
    ("householder_empty_batch", lambda lib, a, t: lib.linalg.householder_product(a, t),
     [np.zeros((0, 2, 2)), np.zeros((0, 2))], [(True, False)], [None, None]),
    ("ormqr_empty_k", lambda lib, a, t, c: lib.ormqr(a, t, c), [np.zeros((1, 0)), np.zeros(0), [[0.5, 1.5]]],
     [(True, False)], [None, None, "nonzero"]),
    ("ormqr_empty_batch", lambda lib, a, t, c: lib.ormqr(a, t, c),
     [np.zeros((0, 2, 2)), np.zeros((0, 2)), np.zeros((0, 2, 2))], [(True, False)], [None, None, "zeros"]),
    ("ormqr_empty_right", lambda lib, a, t, c: lib.ormqr(a, t, c, left=False),
     [np.zeros((2, 0)), np.zeros(0), np.ones((3, 2))], [(True, False)], [None, None, "nonzero"]),
]


@pytest.mark.parametrize("case", RG_CASES, ids=lambda c: c[0])
def test_outputs_require_grad_and_gradients_are_pytorchs(case):
    _, program, arrays, flags, grads = case
    summary, got = run(tg, program, arrays)
    assert [(rg, lf) for _, rg, lf in summary] == flags
    for g, want in zip(got, grads, strict=True):
        if want is None:
            assert g is None
        else:
            assert g is not None and (not g.any()) == (want == "zeros")


def test_an_empty_ormqr_result_is_not_a_leaf_and_takes_in_place_ops():
    c = tg.tensor([[0.5, 1.5]], requires_grad=True)
    out = tg.ormqr(tg.zeros((1, 0)), tg.tensor([]), c)
    assert not out.is_leaf and out is not c
    out.mul_(2)  # allowed on a non-leaf
    out.sum().backward()
    np.testing.assert_array_equal(c.grad.numpy(), [[2.0, 2.0]])


@pytest.mark.parametrize("case", RG_CASES, ids=lambda c: c[0])
def test_requires_grad_cases_match_pytorch(case):
    torch = pytest.importorskip("torch")
    _, program, arrays, _, _ = case
    ours, our_grads = run(tg, program, arrays)
    theirs, their_grads = run(torch, program, arrays)
    assert len(ours) == len(theirs)
    for (v, rg, lf), (w, trg, tlf) in zip(ours, theirs, strict=True):
        same(v, w)
        assert (rg, lf) == (trg, tlf)
    for g, h in zip(our_grads, their_grads, strict=True):
        assert (g is None) == (h is None)
        if g is not None:
            same(g, h)


# ---------------------------------------------------------------------- cholesky_inverse, cholesky_solve
def _factor(seed, n, batch=()):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_cholesky_inverse_gradient_is_the_full_matrix_formula(upper, seed):
    # PyTorch's gradient w.r.t. a triangular factor M is that of (M M^T)^-1 (upper: (M^T M)^-1) in the whole
    # matrix, also in the (zero) triangle the forward does not read
    m = np.triu(_factor(seed, 3)) if upper else np.tril(_factor(seed, 3))
    w = tg.tensor(np.random.default_rng(seed + 9).standard_normal((3, 3)))
    x = tg.tensor(m, requires_grad=True)
    (tg.cholesky_inverse(x, upper) * w).sum().backward()
    y = tg.tensor(m, requires_grad=True)
    (tg.linalg.inv(y.mT @ y if upper else y @ y.mT) * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert x.grad.numpy()[np.triu_indices(3, 1) if not upper else np.tril_indices(3, -1)].any()


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_gradients_are_the_full_matrix_formula(upper):
    m, b = _factor(2, 3, (2,)), np.random.default_rng(3).standard_normal((2, 3, 2))
    m = np.triu(m) if upper else np.tril(m)
    w = tg.tensor(np.random.default_rng(4).standard_normal((2, 3, 2)))
    x, bx = tg.tensor(m, requires_grad=True), tg.tensor(b, requires_grad=True)
    out = tg.cholesky_solve(bx, x, upper)
    assert out.grad_fn.name() == "CholeskySolveBackward0"
    (out * w).sum().backward()
    y, by = tg.tensor(m, requires_grad=True), tg.tensor(b, requires_grad=True)
    (tg.linalg.solve(y.mT @ y if upper else y @ y.mT, by) * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bx.grad.numpy(), by.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_and_solve_gradients_in_the_triangle_match_finite_differences(upper):
    from tapegrad.autograd import gradcheck, gradgradcheck

    m = tg.tensor(_factor(5, 3), requires_grad=True)
    b = tg.tensor(np.random.default_rng(6).standard_normal((3, 2)), requires_grad=True)
    tri = (lambda t: t.triu()) if upper else (lambda t: t.tril())
    assert gradcheck(lambda t: tg.cholesky_inverse(tri(t), upper), (m,))
    assert gradcheck(lambda s, t: tg.cholesky_solve(s, tri(t), upper), (b, m))
    assert gradgradcheck(lambda t: tg.cholesky_inverse(tri(t), upper), (m,))
    assert gradgradcheck(lambda s, t: tg.cholesky_solve(s, tri(t), upper), (b, m))


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_and_solve_gradients_match_pytorch(upper):
    torch = pytest.importorskip("torch")
    m, b = _factor(7, 3, (2,)), np.random.default_rng(8).standard_normal((2, 3, 2))
    w1, w2 = np.random.default_rng(9).standard_normal((2, 3, 3)), np.random.default_rng(10).standard_normal(b.shape)
    grads = []
    for lib in (tg, torch):
        x, bx = lib.tensor(m, requires_grad=True), lib.tensor(b, requires_grad=True)
        ((lib.cholesky_inverse(x, upper) * lib.tensor(w1)).sum()
         + (lib.cholesky_solve(bx, x, upper) * lib.tensor(w2)).sum()).backward()
        grads.append((x.grad.numpy(), bx.grad.numpy()))
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------- singular matrices
SINGULAR = [[[0.0]], [[-0.0]], [[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 2.0]],
            [[1.0, 0.0], [0.0, 0.0]], [[2.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 3.0, 0.5]], [[0.0, 0.0], [1.0, 0.0]]]


def _logdet_grads(lib, m):
    out = []
    for program in (lambda x: x.logdet(), lambda x: lib.linalg.slogdet(x)[1],
                    lambda x: lib.slogdet(x)[1] * 2 + lib.slogdet(x)[0]):
        x = lib.tensor(m, dtype=lib.float64, requires_grad=True)
        (program(x) * 1.5).backward()
        out.append(x.grad.numpy())
    return out


@pytest.mark.parametrize("m", SINGULAR, ids=range(len(SINGULAR)))
def test_logdet_backward_of_a_singular_matrix_is_inf_nan_not_an_error(m):
    grads = _logdet_grads(tg, m)
    for g in grads:
        assert not np.isfinite(g).all()


def test_logdet_gradient_of_a_zero_1x1_matrix_is_its_reciprocal():
    for v, want in ((0.0, math.inf), (-0.0, -math.inf)):
        x = tg.tensor([[v]], requires_grad=True)
        x.logdet().backward()
        assert x.grad.item() == want


@pytest.mark.parametrize("m", SINGULAR, ids=range(len(SINGULAR)))
def test_logdet_backward_of_a_singular_matrix_matches_pytorch(m):
    torch = pytest.importorskip("torch")
    for ours, theirs in zip(_logdet_grads(tg, m), _logdet_grads(torch, m), strict=True):
        same(ours, theirs)


def test_slogdet_gradient_of_a_regular_batch_is_a_inverse_transpose_and_twice_differentiable():
    from tapegrad.autograd import gradcheck, gradgradcheck

    a = np.random.default_rng(0).standard_normal((2, 3, 3)) + 3 * np.eye(3)
    x = tg.tensor(a, requires_grad=True)
    tg.linalg.slogdet(x)[1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.swapaxes(np.linalg.inv(a), -1, -2), rtol=1e-10)
    assert gradcheck(lambda t: tg.linalg.slogdet(t)[1], (tg.tensor(a, requires_grad=True),))
    assert gradgradcheck(lambda t: tg.logdet(t), (tg.tensor(a, requires_grad=True),))


@pytest.mark.parametrize("m", [[[0.0]], [[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [1.0, 0.0]], [[math.nan]]])
def test_torch_lu_factorizes_a_singular_matrix_without_an_error(m):
    LU, pivots = tg.lu(tg.tensor(m, dtype=tg.float64))
    ref = tg.linalg.lu_factor_ex(tg.tensor(m, dtype=tg.float64))
    same(LU.numpy(), ref.LU.numpy())
    np.testing.assert_array_equal(pivots.numpy(), ref.pivots.numpy())
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation of torch.lu
        theirs = torch.lu(torch.tensor(m, dtype=torch.float64))
    same(LU.numpy(), theirs[0].numpy())
    np.testing.assert_array_equal(pivots.numpy(), theirs[1].numpy())


# ---------------------------------------------------------------------- matrix_exp of 1x1 matrices
def test_matrix_exp_of_1x1_matrices_saves_its_input_not_its_result():
    from tapegrad.autograd import gradcheck, gradgradcheck

    x = tg.tensor([[[2.6]], [[-1.0]]], dtype=tg.float64, requires_grad=True)
    y = x.matrix_exp()
    assert y.grad_fn.name() == "LinalgMatrixExpBackward0"
    with tg.no_grad():
        y.mul_(2)  # as PyTorch: the backward does not need the result
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([[[2.6]], [[-1.0]]]), rtol=1e-12)
    assert gradcheck(tg.linalg.matrix_exp, (tg.tensor([[0.3]], dtype=tg.float64, requires_grad=True),))
    assert gradgradcheck(tg.linalg.matrix_exp, (tg.tensor([[0.3]], dtype=tg.float64, requires_grad=True),))


@given(st.sampled_from([0.1, 1.0, 3.0, 40.0]), st.sampled_from(["digamma_", "neg_", "zero_"]))
@example(1.0, "digamma_")
def test_matrix_exp_result_may_be_written_in_place_before_backward(scale, method):
    # PyTorch's LinalgMatrixExpBackward0 reads its input only (linalg_matrix_exp_differential): a write into the
    # result under no_grad leaves backward possible, with or without squarings (a norm above 5.37 squares)
    a = np.array([[-0.7, 1.1, 0.3], [-1.9, -1.9, -0.7], [-0.7, -1.9, 2.6]]) * scale / 2.6
    x = tg.tensor(a, requires_grad=True)
    y = x.matrix_exp()
    w = np.arange(9.0).reshape(3, 3) - 4
    with tg.no_grad():
        getattr(y, method)()
    (y * tg.tensor(w)).sum().backward()
    fresh = tg.tensor(a, requires_grad=True)
    (fresh.matrix_exp() * tg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), fresh.grad.numpy())
    assert_gradients(lambda t: tg.linalg.matrix_exp(t), a)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(a, requires_grad=True)
    ty = tx.matrix_exp()
    with torch.no_grad():
        getattr(ty, method)()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------- dtypes PyTorch has no kernel for
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int32", "int64", "uint8", "bool"])
def test_orgqr_and_ormqr_refuse_the_dtypes_pytorch_has_no_kernel_for(dtype):
    dt = getattr(tg, dtype)
    a, tau = tg.eye(2).to(dt), tg.zeros(2).to(dt)
    with pytest.raises((NotImplementedError, RuntimeError), match="orgqr|floating point"):
        tg.orgqr(a, tau)
    with pytest.raises(NotImplementedError, match=r'"ormqr_cpu" not implemented for'):
        tg.ormqr(a, tau, tg.eye(2).to(dt))
    with pytest.raises(NotImplementedError, match=r'"ormqr_cpu" not implemented for'):
        tg.ormqr(tg.zeros(2, 0).to(dt), tg.zeros(0).to(dt), tg.eye(2).to(dt))  # also when empty
    if dtype == "float16":
        with pytest.raises(NotImplementedError, match=r"\"orgqr_cpu\" not implemented for 'Half'"):
            tg.linalg.householder_product(a, tau)


def test_ormqr_operands_of_different_dtypes_are_refused():
    with pytest.raises(RuntimeError, match="Expected input and other to have the same dtype"):
        tg.ormqr(tg.eye(2), tg.zeros(2), tg.eye(2, dtype=tg.float64))
    with pytest.raises(RuntimeError, match="Expected input and tau to have the same dtype"):
        tg.ormqr(tg.eye(2), tg.zeros(2, dtype=tg.float64), tg.eye(2))


# ---------------------------------------------------------------------- cholesky_inverse as LAPACK's potri
SPECIAL = [-0.0, 0.0, 1.5, -2.0, 0.5, 3.0, -1.0, math.nan, math.inf, -math.inf]


def test_cholesky_inverse_keeps_lapacks_signs_of_zero_and_nans():
    out = tg.cholesky_inverse(tg.tensor([[4.0, 0.0], [-3.0, -1.0]]), True)  # potri: 0 * -1 = -0.0 off the diagonal
    assert np.signbit(out.numpy()).tolist() == [[False, True], [True, False]]
    out = tg.cholesky_inverse(tg.tensor([[math.nan, 0.0, 0.0], [math.inf, 2.5, 0.0], [0.5, 0.0, -math.inf]]), True)
    assert np.isnan(out.numpy()).tolist() == [[True] * 3, [True, False, False], [True, False, False]]


def test_cholesky_inverse_of_a_zero_diagonal_is_pytorchs_error():
    with pytest.raises(tg.linalg.LinAlgError, match=r"\(Batch element 1\): The diagonal element 2 is zero"):
        tg.cholesky_inverse(tg.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [2.0, 0.0]]]))


@SIGNS_ON_THE_REFERENCE_CPU
@pytest.mark.parametrize("seed", range(6))
def test_cholesky_inverse_matches_pytorch_with_special_values(seed, signs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n, upper = int(rng.integers(1, 5)), bool(rng.integers(0, 2))
        m = rng.choice(SPECIAL, size=(int(rng.integers(1, 3)), n, n))
        for dtype in ("float64", "float32"):
            try:
                theirs = torch.cholesky_inverse(torch.tensor(m, dtype=getattr(torch, dtype)), upper).numpy()
            except RuntimeError:
                with pytest.raises(RuntimeError, match="is zero"):
                    tg.cholesky_inverse(tg.tensor(m, dtype=getattr(tg, dtype)), upper)
                continue
            ours = tg.cholesky_inverse(tg.tensor(m, dtype=getattr(tg, dtype)), upper).numpy()
            np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
            np.testing.assert_allclose(np.nan_to_num(ours), np.nan_to_num(theirs), rtol=1e-5, atol=1e-6)
            if signs and (dtype == "float64" or upper):  # float32 lower: MKL's sgemv's own order (signs of zero)
                finite = ~np.isnan(theirs)
                np.testing.assert_array_equal(np.signbit(ours[finite]), np.signbit(theirs[finite]))


def test_cholesky_inverse_signs_of_zero_are_the_reference_machines():
    # seed 4's matrix: potri on the reference machine (Intel, AVX-512 FP16) leaves +0.0 at [1, 2] and [2, 1] (an AMD
    # EPYC's MKL -0.0)
    inf = math.inf
    m = [[1.5, -1.0, -inf, inf], [-inf, -1.0, inf, 1.5], [0.0, -0.0, 3.0, -2.0], [1.5, 0.0, -1.0, -inf]]
    out = tg.cholesky_inverse(tg.tensor(m, dtype=tg.float64)).numpy()
    assert np.isnan(out[0]).all() and np.isnan(out[:, 0]).all()
    want = [[1.0, 0.0, -0.0], [0.0, 1 / 9, 0.0], [-0.0, 0.0, 0.0]]
    np.testing.assert_array_equal(out[1:, 1:], want)
    np.testing.assert_array_equal(np.signbit(out[1:, 1:]), np.signbit(want))


# ---------------------------------------------------------------------- qr at a -0.0 pivot
@pytest.mark.parametrize("a, k", [([[-0.0, 1.5], [-1.0, 3.0], [-2.5, -0.0]], 0),
                                  ([[1.0, -0.0], [0.0, -0.0], [0.0, 2.0]], 1)])
def test_qr_reflects_a_minus_zero_pivot_as_pytorchs_lapack(a, k):
    # PyTorch's LAPACK takes sign(-0.0) = +: the pivot k (-0.0) is reflected to -norm
    Q, R = tg.linalg.qr(tg.tensor(a, dtype=tg.float64))
    assert R.numpy()[k, k] < 0
    np.testing.assert_allclose((Q @ R).numpy(), np.asarray(a), atol=1e-12)
    torch = pytest.importorskip("torch")
    Qt, Rt = torch.linalg.qr(torch.tensor(a, dtype=torch.float64))
    np.testing.assert_allclose(Q.numpy(), Qt.numpy(), atol=1e-12)
    np.testing.assert_allclose(R.numpy(), Rt.numpy(), atol=1e-12)


# ---------------------------------------------------------------------- det backward at inf/nan
@pytest.mark.parametrize("m", [[[math.nan, 1.0], [2.0, 3.0]], [[math.inf, 1.0], [2.0, 3.0]], [[math.nan]], [[math.inf]],
                               [[1.0, 2.0, 0.5], [3.0, math.nan, 1.0], [0.0, 1.0, 2.0]],
                               [[[1.0, 2.0], [3.0, 4.0]], [[math.inf, 0.0], [0.0, 3.0]]]])
def test_det_backward_at_inf_nan_is_pytorchs_not_an_svd_error(m):
    x = tg.tensor(m, dtype=tg.float64, requires_grad=True)
    tg.det(x).sum().backward()
    g = x.grad.numpy()
    if np.asarray(m).shape[-1] == 1:
        np.testing.assert_array_equal(g, np.ones_like(g))  # the cofactor of a 1x1 matrix
    torch = pytest.importorskip("torch")
    y = torch.tensor(m, dtype=torch.float64, requires_grad=True)
    torch.det(y).sum().backward()
    same(g, y.grad.numpy())


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (0, 2, 2), (0, 1, 1)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_and_solve_of_empty_matrices(shape, upper):
    x = tg.zeros(shape, dtype=tg.float64, requires_grad=True)
    out = tg.cholesky_inverse(x, upper)
    assert tuple(out.shape) == shape and out.grad_fn.name() == "CholeskyInverseBackward0"
    out.sum().backward()
    assert tuple(x.grad.shape) == shape
    b = tg.zeros(shape[:-1] + (2,), dtype=tg.float64)
    assert tuple(tg.cholesky_solve(b, x.detach(), upper).shape) == tuple(b.shape)


# ---------------------------------------------------------------------- qr backward of a non-finite gradient
_QR_ENTRIES = st.sampled_from([0.0, 1.0, -1.0, 0.5, -3.0, 1.5])
_QR_GRADS = st.sampled_from([0.0, 1.0, -2.0, 0.5, math.inf, -math.inf, math.nan])


def _qr_backward(lib, a, gq, gr):
    x = lib.tensor(np.asarray(a, np.float64), requires_grad=True)
    q, r = lib.linalg.qr(x)
    loss = (r * lib.tensor(np.asarray(gr, np.float64))).sum()
    if gq is not None:
        loss = loss + (q * lib.tensor(np.asarray(gq, np.float64))).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss.backward()
    return q.detach().numpy(), r.detach().numpy(), x.grad.numpy()


@st.composite
def _qr_problems(draw):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = min(m, n)
    a = draw(st.lists(st.lists(_QR_ENTRIES, min_size=n, max_size=n), min_size=m, max_size=m))
    gr = draw(st.lists(st.lists(_QR_GRADS, min_size=n, max_size=n), min_size=k, max_size=k))
    gq = draw(st.none() | st.lists(st.lists(_QR_GRADS, min_size=k, max_size=k), min_size=m, max_size=m))
    return a, gq, gr


@given(_qr_problems())
@example(([[-1.0, 0.5, -3.0], [0.0, -3.0, 1.5]], None, [[math.inf, 1 / 3, 0.1875], [0.75, 0.25, -1.0]]))
@example(([[1.0, 0.5], [0.0, -3.0], [1.5, 1.0]], [[0.0, math.nan], [1.0, 0.0], [0.5, -2.0]], [[1.0, 0.5], [0.0, 2.0]]))
def test_qr_backward_spreads_inf_and_nan_as_pytorch(problem):
    # PyTorch's linalg_qr_backward step by step: for a wide A = [X | Y] the columns of Y get Q gR's exactly (they
    # stay out of the triangular solve that an inf in gR's first columns turns to nan), and the first columns the
    # solve's back substitution (a qr after arctanh of R's +-1 entries: gR holds inf there)
    a, gq, gr = problem
    q, r, g = _qr_backward(tg, a, gq, gr)
    m, n = np.asarray(a).shape
    if m < n and gq is None:
        np.testing.assert_array_equal(g[:, m:], q @ np.asarray(gr)[:, m:])
    torch = pytest.importorskip("torch")
    qt, rt, gt = _qr_backward(torch, a, gq, gr)
    # rank-deficient: the factorizations may differ in sign; and which of R's entries are exactly 0 (not 1e-17) is
    # the LAPACK kernel's rounding (tapegrad's numpy's, PyTorch's MKL's for the CPU), which the solve's nans follow:
    # [[1, 1], [1, 1]] has R[1, 1] = -4.7e-17 in MKL on the reference machine, 0 (so nan gradients) on an AMD EPYC
    same_zeros = _cpu.reference_kernels() or np.array_equal(r == 0, rt == 0)
    if np.allclose(q, qt) and np.allclose(r, rt) and same_zeros:
        np.testing.assert_array_equal(np.isnan(g), np.isnan(gt))
        np.testing.assert_allclose(g, gt, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------- cholesky backward of a non-finite gradient
def _cholesky_backward(lib, a, gl, upper):
    x = lib.tensor(np.asarray(a, np.float64), requires_grad=True)
    out = lib.linalg.cholesky(x, upper=upper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (out * lib.tensor(np.asarray(gl, np.float64))).sum().backward()
    return x.grad.numpy()


@st.composite
def _cholesky_problems(draw):
    n = draw(st.integers(1, 3))
    low = np.tril(np.asarray(draw(st.lists(_QR_ENTRIES, min_size=n * n, max_size=n * n))).reshape(n, n), -1)
    low = low + np.diag(draw(st.lists(st.sampled_from([1.0, 0.5, 2.0, 3.0]), min_size=n, max_size=n)))
    gl = draw(st.lists(st.lists(_QR_GRADS, min_size=n, max_size=n), min_size=n, max_size=n))
    return (low @ low.T).tolist(), gl, draw(st.booleans())


@given(_cholesky_problems())
@example(([[7.25]], [[-math.inf]], False))  # a cholesky divided by zero: the gradient is -inf, not nan
@example(([[1.0, 0.5], [0.5, 2.0]], [[math.inf, 0.0], [1.0, -2.0]], False))
@example(([[4.0, 1.0], [1.0, 3.0]], [[1.0, math.nan], [0.0, 2.0]], True))
def test_cholesky_backward_spreads_inf_and_nan_as_pytorch(problem):
    # FunctionsManual.cpp's cholesky_backward: gA = L^-T pi*(tril(L^T gL)) L^-1, the diagonal halved as
    # 0.5 * (X + tril(X, -1)^T) (subtracting half the diagonal would make inf - inf = nan), and not symmetrised
    a, gl, upper = problem
    g = _cholesky_backward(tg, a, gl, upper)
    if np.isfinite(gl).all():
        np.testing.assert_allclose(g, g.T, rtol=1e-9, atol=1e-9)
    torch = pytest.importorskip("torch")
    gt = _cholesky_backward(torch, a, gl, upper)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(gt))
    np.testing.assert_allclose(g, gt, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------- lu_factor / lu_solve at inf/nan and -0.0
LU_SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -2.0, 0.5, 3.0, -1.5]


def _special_matrix(rng, shape, p):
    x = rng.uniform(-3, 3, shape)
    mask = rng.random(shape) < p
    x[mask] = rng.choice(LU_SPECIAL, int(mask.sum()))
    return x


def _torch_with_intel_mkl_rounding():
    """PyTorch, for the comparisons of LAPACK results bit for bit (signs of zero, pivots of rounding noise): they
    hold where PyTorch's MKL rounds as on the Intel CPUs tapegrad's LAPACK order was measured on (each update one
    fused multiply-add: the last LU pivot of [[3, 1.5], [1, 0.5]] is 2.8e-17); on others (AMD EPYC) MKL rounds
    twice and those bits differ by design (README; KNOWN mkl-lu-rounds-twice)."""
    torch = pytest.importorskip("torch")
    if torch.linalg.lu_factor_ex(torch.tensor([[3.0, 1.5], [1.0, 0.5]], dtype=torch.float64)).LU[1, 1] == 0:
        pytest.skip("this CPU's MKL rounds LAPACK's updates twice (no fused multiply-add): PyTorch's bits differ")
    return torch


def _same_bits(a, b, rtol, signs=True, zeros=True):
    """NaN and inf places equal; zeros too (unless not ``zeros``: then values within rtol of the largest), and their
    signs (unless not ``signs``); finite values within rtol (LAPACK's rounding differs by blocking)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.isinf(a) & (a > 0), np.isinf(b) & (b > 0))
    np.testing.assert_array_equal(np.isinf(a) & (a < 0), np.isinf(b) & (b < 0))
    finite = np.isfinite(a)
    if zeros:
        np.testing.assert_array_equal(a == 0, b == 0)
        if signs:
            np.testing.assert_array_equal(np.signbit(a[a == 0]), np.signbit(b[b == 0]))
        np.testing.assert_allclose(a[finite], b[finite], rtol=rtol)
    else:  # a rounding that differs may leave 1e-17 where the other gives exactly 0: within rtol of the scale
        scale = float(np.abs(b[finite]).max()) if finite.any() else 0.0
        np.testing.assert_allclose(a[finite], b[finite], rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("b, expected", [([[-0.0], [0.0]], [[-0.0], [0.0]]),
                                         ([[math.inf], [0.0]], [[math.inf], [-math.inf]]),
                                         ([[0.0], [-0.0]], [[0.0], [-0.0]])])
def test_lu_solve_substitutes_in_lapacks_order_without_spreading_nan(b, expected):
    # LU of [[2, 1], [1, 3]] is [[2, 1], [0.5, 2.5]] without row swaps: x2 = (b2 - 0.5 b1) / 2.5,
    # x1 = (b1 - x2) / 2, each product subtracted on its own (the permutation is row swaps, not a matrix product)
    lu, piv = tg.linalg.lu_factor(tg.tensor([[2.0, 1.0], [1.0, 3.0]]))
    x = tg.lu_solve(tg.tensor(b), lu, piv).numpy()
    _same_bits(x, np.float32(expected), 1e-6)
    _same_bits(tg.linalg.lu_solve(lu, piv, tg.tensor(b)).numpy(), np.float32(expected), 1e-6)


def test_lu_factor_pivot_search_never_prefers_a_nan():
    # LAPACK's i?amax: a NaN is never larger, so column 0 pivots on 3.0 (numpy's argmax would take the NaN)
    lu, piv = tg.linalg.lu_factor(tg.tensor([[1.0, 2.0], [math.nan, 1.0], [3.0, 0.5]]))
    assert piv.tolist() == [3, 2]
    assert lu.numpy()[0, 0] == 3.0
    lu, piv, _ = tg.linalg.lu_factor_ex(tg.tensor([[math.nan, 2.0], [5.0, 1.0]]))  # a NaN first is the pivot
    assert piv.tolist() == [1, 2]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", range(4))
def test_lu_factor_and_lu_solve_match_pytorch_with_special_values(dtype, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    rtol = 1e-3 if dtype == "float32" else 1e-9
    for _ in range(60):
        n, k, batch = int(rng.integers(1, 6)), int(rng.integers(1, 4)), (int(rng.integers(1, 3)),)
        a = _special_matrix(rng, batch + (n, n), 0.2).astype(dtype)
        lu_t, piv_t, _ = torch.linalg.lu_factor_ex(torch.tensor(a))
        lu, piv, _ = tg.linalg.lu_factor_ex(tg.tensor(a))
        np.testing.assert_array_equal(piv.numpy(), piv_t.numpy())
        _same_bits(lu.numpy(), lu_t.numpy(), rtol)
        # lu_solve with any LU and pivots (LAPACK checks neither)
        lu_in = _special_matrix(rng, batch + (n, n), 0.25).astype(dtype)
        piv_in = np.array([[rng.integers(i, n) + 1 for i in range(n)] for _ in range(batch[0])], np.int32)
        left, adjoint = bool(rng.integers(2)), bool(rng.integers(2))
        b = _special_matrix(rng, batch + ((n, k) if left else (k, n)), 0.3).astype(dtype)
        x_t = torch.linalg.lu_solve(torch.tensor(lu_in), torch.tensor(piv_in), torch.tensor(b), left=left,
                                    adjoint=adjoint)
        x = tg.linalg.lu_solve(tg.tensor(lu_in), tg.tensor(piv_in), tg.tensor(b), left=left, adjoint=adjoint)
        _same_bits(x.numpy(), x_t.numpy(), rtol)


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve_gradients_match_finite_differences_and_the_node_is_pytorchs(left, adjoint):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    b0 = rng.normal(size=(2, 3, 2) if left else (2, 2, 3))
    lu, piv = tg.linalg.lu_factor(tg.tensor(a))
    lu = lu.detach().requires_grad_()
    b = tg.tensor(b0, requires_grad=True)
    x = tg.linalg.lu_solve(lu, piv, b, left=left, adjoint=adjoint)
    assert x.grad_fn.name() == "LinalgLuSolveBackward0"
    w = rng.normal(size=x.shape)
    (x * tg.tensor(w)).sum().backward()

    def f(lu_arr, b_arr):
        return float((tg.linalg.lu_solve(tg.tensor(lu_arr), piv, tg.tensor(b_arr), left=left,
                                         adjoint=adjoint).numpy() * w).sum())

    for arr, grad, other in ((lu.detach().numpy(), lu.grad.numpy(), "lu"), (b0, b.grad.numpy(), "b")):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            d = np.zeros_like(arr)
            d[i] = 1e-6
            if other == "lu":
                num[i] = (f(arr + d, b0) - f(arr - d, b0)) / 2e-6
            else:
                num[i] = (f(lu.detach().numpy(), arr + d) - f(lu.detach().numpy(), arr - d)) / 2e-6
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


@st.composite
def _lu_solve_problems(draw):
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    left, adjoint = draw(st.booleans()), draw(st.booleans())
    p = draw(st.sampled_from([0.0, 0.2]))

    def matrix(shape):
        return np.array([draw(st.sampled_from(LU_SPECIAL)) if draw(st.floats(0, 1)) < p else
                         draw(st.floats(-3, 3).filter(lambda v: abs(v) > 0.25)) for _ in range(math.prod(shape))]
                        ).reshape(shape)

    lu = matrix((n, n)) + 4 * np.eye(n)
    pivots = np.array([draw(st.integers(i + 1, n)) for i in range(n)], np.int32)
    return lu, pivots, matrix((n, k) if left else (k, n)), left, adjoint


@given(_lu_solve_problems())
@example((np.array([[3.75, 0.5, 1.0], [0.8, 1.1, -1.05], [0.0, -0.9090909090909091, 5.045454545454546]]),
          np.array([1, 2, 3], np.int32), np.array([[-math.inf], [3.0], [-1.0]]), True, False))
@settings(max_examples=40, deadline=None)
def test_lu_solve_gradients_are_pytorchs_formulas_also_at_inf_nan(problem):
    # derivatives.yaml: B's gradient lu_solve(LU, pivots, g, left, !adjoint); LU's linalg_lu_solve_LU
    # (FunctionsManual.cpp): U^-T (-g X^T) spreads an inf of X to every entry as NaN (the formulas' graph
    # through the triangular solves kept inf in the first column)
    torch = pytest.importorskip("torch")
    lu, pivots, b, left, adjoint = problem
    w = (np.arange(b.size).reshape(b.shape) % 5 - 2.0) * 0.75
    results = []
    for lib in (torch, tg):
        LU, B = lib.tensor(lu, requires_grad=True), lib.tensor(b, requires_grad=True)
        with np.errstate(all="ignore"):
            x = lib.linalg.lu_solve(LU, lib.tensor(pivots), B, left=left, adjoint=adjoint)
            (x * lib.tensor(w)).sum().backward()
        results.append([x.detach().numpy(), LU.grad.numpy(), B.grad.numpy()])
    # exact zeros and their signs are MKL's rounding: compared where it rounds as the reference Intel CPU (see
    # _torch_with_intel_mkl_rounding); NaN and inf places and the values everywhere
    intel = torch.linalg.lu_factor_ex(torch.tensor([[3.0, 1.5], [1.0, 0.5]], dtype=torch.float64)).LU[1, 1] != 0
    for ours, theirs in zip(results[1], results[0], strict=True):
        _same_bits(ours, theirs, 1e-9, signs=bool(intel), zeros=bool(intel))


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve_second_order_gradients_match_finite_differences(left, adjoint):
    rng = np.random.default_rng(5)
    lu = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    b = rng.normal(size=(3, 2) if left else (2, 3))
    piv = tg.tensor([2, 2, 3], dtype=tg.int32)
    inputs = (tg.tensor(lu, requires_grad=True), tg.tensor(b, requires_grad=True))
    assert tg.autograd.gradgradcheck(lambda x, y: tg.linalg.lu_solve(x, piv, y, left=left, adjoint=adjoint), inputs)


# ---------------------------------------------------------------------- cholesky_solve as LAPACK's potrs
def test_cholesky_solve_keeps_lapacks_signs_of_zero():
    # potrs, lower: L y = b then L^T x = y, each step (b_i - sum) * (1 / l_ii); -0.0 / -inf is +0.0 and a -0.0
    # numerator stays -0.0 with one right-hand side
    inf = math.inf
    x = tg.cholesky_solve(tg.tensor([[-0.0, -inf], [-3.0, 3.0]]), tg.tensor([[3.5, 0.0], [0.0, 3.5]]))
    assert np.isnan(x.numpy()[:, 1]).all() and x.numpy()[0, 0] == 0 and not np.signbit(x.numpy()[0, 0])
    x = tg.cholesky_solve(tg.tensor([[-0.0], [1.0]]), tg.tensor([[2.0, 0.0], [0.0, 1.0]]))
    assert x.numpy()[0, 0] == 0 and np.signbit(x.numpy()[0, 0])
    # with several right-hand sides MKL's kernel adds the numerator to +0.0 first: a zero is +0.0 / l_ii
    x = tg.cholesky_solve(tg.tensor([[-0.0, 3.0], [0.0, 1.0]]), tg.tensor([[-2.0, 0.0], [0.0, 1.0]]))
    assert np.signbit(x.numpy()[0, 0])  # y0 = (-0.0 + 0) * (1 / -2) = -0.0, x0 = (-0.0 - 0 * x1 + 0) * (1 / -2)
    x = tg.cholesky_solve(tg.tensor([[-0.0, 3.0], [0.0, 1.0]]), tg.tensor([[2.0, 0.0], [0.0, 1.0]]))
    assert not np.signbit(x.numpy()[0, 0])


@SIGNS_ON_THE_REFERENCE_CPU
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", range(3))
def test_cholesky_solve_matches_pytorch_with_special_values(dtype, seed, signs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    rtol = 1e-3 if dtype == "float32" else 1e-9
    for _ in range(80):
        n, k, upper = int(rng.integers(1, 6)), int(rng.integers(1, 4)), bool(rng.integers(2))
        u = _special_matrix(rng, (2, n, n), 0.2).astype(dtype)
        u = np.triu(u) if upper else np.tril(u)
        b = _special_matrix(rng, (2, n, k), 0.3).astype(dtype)
        theirs = torch.cholesky_solve(torch.tensor(b), torch.tensor(u), upper=upper).numpy()
        _same_bits(tg.cholesky_solve(tg.tensor(b), tg.tensor(u), upper=upper).numpy(), theirs, rtol, signs)


def test_cholesky_solve_signs_of_zero_are_the_reference_machines():
    # seed 0's first difference on an AMD EPYC, whose MKL keeps -0.0 / l / l; the reference's potrs of two
    # right-hand sides starts from +0.0 (test_cholesky_solve_keeps_lapacks_signs_of_zero)
    for dtype in (tg.float32, tg.float64):
        x = tg.cholesky_solve(tg.tensor([[-1.3816717577432818, -0.0]], dtype=dtype),
                              tg.tensor([[0.6803324545208178]], dtype=dtype)).numpy()
        assert x[0, 1] == 0 and not np.signbit(x[0, 1])


# ---------------------------------------------------------------------- det / slogdet / logdet at inf/nan
def test_det_and_slogdet_at_inf_nan_take_pytorchs_lu_of_the_transpose():
    inf = math.inf
    # LU of A^T (A contiguous): a pivot of 0 * inf = nan makes the determinant nan (numpy's LU of A gave inf)
    d = tg.tensor([[[-2.5, 2.0, -3.0], [3.0, inf, 2.0], [-3.0, 0.0, -inf]]]).det()
    assert np.isnan(d.numpy()).all()
    # sign = prod(sgn(diag U)) * det(P) with sgn(nan) = 0: -1 * 0 = -0.0; logabsdet sums log|nan|
    sign, logabs = tg.slogdet(tg.tensor([[[-2.5, 0.0], [-inf, 0.5]]]))
    assert sign.numpy()[0] == 0 and np.signbit(sign.numpy()[0]) and np.isnan(logabs.numpy()[0])
    # a float64 zero determinant has the sign of LAPACK's product: -(1 * 0) for a swapped pair of rows
    d = tg.det(tg.tensor([[0.0, 1.0], [0.0, 1.0]], dtype=tg.float64))
    assert d.item() == 0 and np.signbit(d.numpy())


def test_det_backward_at_inf_solves_with_the_lu_factors_as_pytorch():
    # g det(A) A^-T by getrs on diag(g det(A)): the off-diagonal zeros of that right-hand side stay zeros
    x = tg.tensor([[math.inf, 1.25], [0.25, 1.5]], dtype=tg.float64, requires_grad=True)
    tg.det(x).backward()
    g = x.grad.numpy()
    assert np.isnan(g[0]).all() and np.isnan(g[1, 0]) and g[1, 1] == math.inf


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("transposed", [False, True])
def test_det_slogdet_logdet_with_inf_nan_match_pytorch(dtype, transposed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    rtol = 1e-3 if dtype == "float32" else 1e-9
    checked = 0
    for _ in range(120):
        n = int(rng.integers(2, 5))
        a = _special_matrix(rng, (n, n), 0.15)
        if np.isfinite(a).all():
            continue
        results = []
        for lib in (torch, tg):
            leaves = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for _ in range(3)]
            ins = [x.mT if transposed else x for x in leaves]  # a non-contiguous A: PyTorch's LU of A itself
            det, (sign, logabs), logdet = lib.det(ins[0]), lib.slogdet(ins[1]), lib.logdet(ins[2])
            (det + logabs + logdet).sum().backward()
            results.append([t.detach().numpy() for t in (det, sign, logabs, logdet)] +
                           [x.grad.numpy() for x in leaves])
        theirs, ours = results
        for o, t in zip(ours, theirs, strict=True):
            # float32 rounding noise of a cancellation (MKL's FMA): two nonzero values both below 1e-6 agree
            tiny = (np.abs(t) < 1e-6) & (t != 0) & (np.abs(o) < 1e-6) & (o != 0)
            # a non-contiguous A: PyTorch's gradient solves with the adjoint (getrs 'T'), where MKL's kernel gives
            # some zeros another sign than LAPACK's reference order (NaN and inf places still agree)
            _same_bits(np.where(tiny, t, o), t, rtol, signs=not transposed)
        checked += 1
    assert checked > 20


# ---------------------------------------------------------------------- LU rounding: MKL's (det of singular float64)
_DECIMALS = [0.05, 0.3, 0.5, 0.7, 0.85, 1.0, 1.1, 1.5, 2.6, 3.0, -1.5, -2.5]


@st.composite
def _rank_deficient(draw, orders=(2, 5)):
    """A square float64 matrix of small decimals, often a product of thinner factors (singular in exact
    arithmetic, so LU's last pivots are rounding noise: where the order of the rounding shows)."""
    n = draw(st.integers(*orders))
    r = draw(st.integers(1, n))
    left = np.array(draw(st.lists(st.sampled_from(_DECIMALS), min_size=n * r, max_size=n * r))).reshape(n, r)
    right = np.array(draw(st.lists(st.sampled_from(_DECIMALS), min_size=r * n, max_size=r * n))).reshape(r, n)
    return left @ right if r < n else left


def _exact_lu(a):
    """getf2 with PyTorch's (MKL's) rounding, in exact rational arithmetic rounded once per step: the reference
    lu_factor_array follows (each update one fused multiply-add; the reciprocal scaling, a division for the one
    entry below the last pivot of a square matrix of order <= 4)."""
    from fractions import Fraction

    a = np.array(a, dtype=np.float64)
    m, n = a.shape
    pivots = []
    for j in range(min(m, n)):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        pivots.append(p + 1)
        a[[j, p]] = a[[p, j]]
        d = a[j, j]
        if d == 0:
            continue
        for i in range(j + 1, m):
            a[i, j] = a[i, j] / d if m == n <= 4 and j == m - 2 else a[i, j] * (1 / d)
        for i in range(j + 1, m):
            for c in range(j + 1, n):
                exact = Fraction(a[i, c]) - Fraction(a[i, j]) * Fraction(a[j, c])
                a[i, c] = float(exact) if exact != 0 else a[i, c] - a[i, j] * a[j, c]
    return a, pivots


@given(_rank_deficient(), st.booleans())
@example(np.array([[3.0, 1.5], [1.0, 0.5]]), False)  # the pivot 0.5 - fl(1/3) * 1.5 is 2.8e-17 fused, 0 rounded twice
@example(np.array([[0.85, 0.85], [2.6, 2.6]]), False)  # 0.85 / 2.6 (a division) then fused: -6.2e-17
@settings(max_examples=40, deadline=None)
def test_lu_rounds_each_update_once_as_mkl(a, transposed):
    a = a.T.copy() if transposed else a
    lu, pivots, _ = tg.linalg.lu_factor_ex(tg.tensor(a))
    want, want_pivots = _exact_lu(a)
    np.testing.assert_array_equal(pivots.numpy(), want_pivots)
    np.testing.assert_array_equal(lu.numpy(), want)


@given(_rank_deficient((2, 6)), st.sampled_from(["float32", "float64"]))
@example(np.array([[3.0, 1.0], [1.5, 0.5]]), "float64")  # logdet -37.02 (MKL's pivot 2.8e-17), not -inf
@example(np.array([[0.85, 2.6], [0.85, 2.6]]), "float64")  # slogdet's sign 1 (MKL's pivot -6.2e-17, one swap), not -1
@example(np.array([[2.6, 0.05], [2.6, 0.05]]), "float32")  # logabsdet -20.1 (float32 LU's pivot 1e-9), not -inf
@settings(max_examples=40, deadline=None)
@pytest.mark.reference_cpu  # an AMD EPYC's MKL rounds getrf's update twice: its pivots of noise differ, or are 0
def test_det_slogdet_logdet_of_singular_matrices_match_pytorch(a, dtype):
    # PyTorch's det of a numerically singular matrix is its LU's rounding noise: tapegrad takes its own LU (MKL's
    # rounding, in the matrix's dtype) where numpy's determinant is below the noise level, so the value, sign and
    # log agree, and logabsdet's gradient A^-T solves with that LU
    torch = _torch_with_intel_mkl_rounding()
    rtol = 1e-9 if dtype == "float64" else 1e-5
    for m in (a.astype(dtype), np.ascontiguousarray(a.T, dtype)):
        ours = [tg.det(tg.tensor(m)), *tg.slogdet(tg.tensor(m)), tg.logdet(tg.tensor(m))]
        theirs = [torch.det(torch.tensor(m)), *torch.slogdet(torch.tensor(m)), torch.logdet(torch.tensor(m))]
        for o, t in zip(ours, theirs, strict=True):
            _same_bits(o.numpy(), t.numpy(), rtol)
    if a.shape[-1] == 2:  # a 2 x 2 matrix: one triangular solve per side (larger ones round getrs differently)
        grads = []
        for lib in (torch, tg):
            x = lib.tensor(a.astype(dtype), requires_grad=True)
            lib.slogdet(x)[1].backward()
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(grads[1], grads[0], rtol=10 * rtol)


@pytest.mark.parametrize("a, dtype, det, logabsdet", [
    ([[3.0, 1.0], [1.5, 0.5]], "float64", 8.326672684688674e-17, -37.02448264212889),
    ([[0.85, 2.6], [0.85, 2.6]], "float64", 1.6209256159527285e-16, -36.35836413395686),
    ([[2.6, 0.05], [2.6, 0.05]], "float32", 1.862645149230957e-09, -20.101268768310547),
])
def test_det_of_singular_matrices_is_the_reference_machines(a, dtype, det, logabsdet):
    # the examples above as PyTorch gave them on the reference machine (an AMD EPYC's MKL: 0, 2.9e-16 and 0); the
    # transpose's LU meets an exact 0
    m = tg.tensor(a, dtype=getattr(tg, dtype))
    assert tg.det(m).item() == det and tg.slogdet(m)[0].item() == 1.0
    assert tg.slogdet(m)[1].item() == logabsdet == tg.logdet(m).item()
    assert tg.det(m.mT.contiguous()).item() == 0 and tg.logdet(m.mT.contiguous()).item() == -math.inf


@pytest.mark.parametrize("op", ["det", "slogdet", "logdet"])
def test_det_of_a_float32_matrix_whose_determinant_overflows_is_pytorchs_lu(op):
    # numpy's determinant (in float64, rounded: +inf) against PyTorch's float32 LU, whose pivots overflow with their
    # own sign (-inf); the gradient is then PyTorch's LU branch (lu_solve on the perturbed LU), not the cofactors
    torch = pytest.importorskip("torch")
    a = np.array([[1.5, 1.0, -2.5], [1e5, 1e30, 3e38], [0.5, 0.5, 0.0]], np.float32)
    results = []
    for lib in (torch, tg):
        x = lib.tensor(a, requires_grad=True)
        with np.errstate(all="ignore"):
            y = getattr(lib, op)(x)
            y = y[1] if op == "slogdet" else y
            y.backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    for ours, theirs in zip(results[1], results[0], strict=True):
        _same_bits(ours, theirs, 1e-5)


def test_inverse_and_solve_where_only_the_fused_lu_has_a_nonzero_pivot():
    # float32 [[1, 1], [-3, -3]]: numpy's LU meets 1 - 0.33333334 * 3 = 0, MKL's fused update -3e-8 (not singular):
    # inverse and solve_ex take the fused LU's getrs (no error, info 0), as PyTorch
    a = np.array([[[1.0, 1.0], [-3.0, -3.0]], [[-1.0, math.inf], [1.0, -math.inf]]], np.float32)
    with np.errstate(all="ignore"):
        inv = tg.tensor(a).inverse().numpy()
    assert np.isfinite(inv[0]).all() and np.abs(inv[0]).max() > 1e7 and np.isnan(inv[1]).all()
    np.testing.assert_array_equal(inv[0], [[33554432.0, 11184811.0], [-33554432.0, -11184811.0]])
    x, info = tg.linalg.solve_ex(tg.tensor(a[0]), tg.tensor([[1.0], [2.0]]))
    assert info.item() == 0 and x.numpy().tolist() == [[55924056.0], [-55924056.0]]


@pytest.mark.reference_cpu  # an AMD EPYC's MKL rounds the update twice: a zero pivot, "linalg.inv: ... singular"
def test_inverse_where_only_the_fused_lu_has_a_nonzero_pivot_is_pytorchs():
    torch = pytest.importorskip("torch")
    a = np.array([[[1.0, 1.0], [-3.0, -3.0]], [[-1.0, math.inf], [1.0, -math.inf]]], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(tg.tensor(a).inverse().numpy(), torch.tensor(a).inverse().numpy())


_OVERFLOWING_SOLVE = np.array([[-3e38, -1e30, -3e38], [0.0, -3.0, 0.0], [2.0, 6e4, 0.0]], np.float32)


def test_inverse_of_a_numerically_singular_matrix_is_getrs_on_the_identity():
    # PyTorch's inverse is getrs on the identity: here x0 = (0 - u01 x1 - u02 x2) / u00 with u02 x2 = -3e38 * -1e4,
    # which overflows float32 (inf, PyTorch's; numpy's order kept it finite, 1e4); the LU is the same on any CPU
    a = tg.tensor(_OVERFLOWING_SOLVE)
    lu, piv, _ = tg.linalg.lu_factor_ex(a)
    with np.errstate(all="ignore"):
        want = tg.linalg.lu_solve(lu, piv, tg.eye(3)).numpy()
        _same_bits(a.inverse().numpy(), want, 0)
        _same_bits(tg.linalg.inv_ex(a).inverse.numpy(), want, 0)
    assert want[0, 1] == math.inf


def test_inverse_whose_substitution_overflows_matches_pytorch():
    torch = pytest.importorskip("torch")
    with np.errstate(all="ignore"):
        _same_bits(tg.tensor(_OVERFLOWING_SOLVE).inverse().numpy(), torch.tensor(_OVERFLOWING_SOLVE).inverse().numpy(),
                   0)


def _lu_sweep():
    """140 low-rank products of small decimals, float32 and float64, square and rectangular."""
    rng = np.random.default_rng(3)
    for m, n in [(3, 3), (4, 4), (6, 6), (3, 2), (2, 4), (5, 3), (8, 8)]:
        for dtype in ("float32", "float64"):
            for _ in range(10):
                r = int(rng.integers(1, min(m, n) + 1))
                yield (rng.choice(_DECIMALS, (m, r)) @ rng.choice(_DECIMALS, (r, n))).astype(dtype)


@pytest.mark.reference_cpu  # an AMD EPYC's MKL rounds 136 of the 140 differently (its update is not fused)
def test_lu_factor_matches_pytorch_bits_on_float32_and_rectangular_matrices():
    torch = pytest.importorskip("torch")
    for a in _lu_sweep():
        lu, pivots, _ = tg.linalg.lu_factor_ex(tg.tensor(a))
        t_lu, t_pivots, _ = torch.linalg.lu_factor_ex(torch.tensor(a))
        np.testing.assert_array_equal(pivots.numpy(), t_pivots.numpy())
        np.testing.assert_array_equal(lu.numpy(), t_lu.numpy())


def test_lu_factor_bits_are_the_reference_machines():
    # the sweep above, whose every bit matched PyTorch on the reference machine, pinned as one digest (tapegrad's LU
    # is numpy's elementwise arithmetic: the same on every CPU)
    import hashlib

    digest = hashlib.sha256()
    for a in _lu_sweep():
        lu, pivots, _ = tg.linalg.lu_factor_ex(tg.tensor(a))
        digest.update(lu.numpy().tobytes())
        digest.update(pivots.numpy().astype(np.int32).tobytes())
    assert digest.hexdigest() == "c97af50b58f76fa6012cc8e2d517e92c07b4f4d0132e02fe9bda43ba5438dd4a"


# ---------------------------------------------------------------------- svd / pinv at inf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_svd_and_pinv_of_a_matrix_with_inf_return_nans_and_do_not_hang(dtype):
    # numpy's gesdd never returns for this matrix; PyTorch's (MKL's) gives NaNs: tapegrad gives NaN factors
    inf = math.inf
    bad = [[inf, -2.5, 1.0], [0.0, 0.5, 3.0], [0.5, -inf, -1.0]]
    x = tg.tensor([bad, [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 4.0]]], dtype=getattr(tg, dtype))
    U, S, Vh = tg.linalg.svd(x)
    assert np.isnan(S.numpy()[0]).all() and np.isnan(U.numpy()[0]).all() and np.isnan(Vh.numpy()[0]).all()
    np.testing.assert_allclose(S.numpy()[1], [4.0, 2.0, 1.0])
    p = tg.pinverse(x).numpy()
    assert np.isnan(p[0]).all()
    np.testing.assert_allclose(p[1], np.diag([0.5, 1.0, 0.25]), rtol=1e-6)
    assert tg.linalg.svd(x, full_matrices=False).U.shape == (2, 3, 3)
    # one singular value: numpy's (and PyTorch's) answer, pinv([[inf]]) = 0 (nan is below no cut-off)
    assert tg.pinverse(tg.tensor([[inf]], dtype=getattr(tg, dtype))).tolist() == [[0.0]]


_NAN_PIVOTS = [([[4.0, 1.0, 0.0], [1.0, np.nan, 0.0], [0.0, 0.0, 2.0]], 2), ([[4.0, np.nan], [np.nan, 4.0]], 2),
               ([[np.nan, 0.0], [0.0, 1.0]], 1), ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, np.nan]], 3),
               ([[np.inf, 1.0], [1.0, 4.0]], 0), ([[4.0, 1.0], [1.0, 3.0]], 0)]


@pytest.mark.parametrize("matrix,info", _NAN_PIVOTS)
def test_cholesky_stops_at_a_nan_pivot_as_lapack(matrix, info):
    a = tg.tensor(matrix, dtype=tg.float64)
    for batched in (a, tg.stack([tg.eye(len(matrix), dtype=tg.float64), a])):
        L, got = tg.linalg.cholesky_ex(batched)
        assert got.reshape(-1)[-1].item() == info
        last = L.numpy().reshape(-1, len(matrix), len(matrix))[-1]
        assert np.isnan(last).all() == bool(info)
    if info:
        with pytest.raises(tg.linalg.LinAlgError, match=f"leading minor of order {info} is not positive-definite"):
            tg.linalg.cholesky(a)


@pytest.mark.parametrize("matrix,info", _NAN_PIVOTS)
def test_cholesky_nan_pivots_match_pytorch(matrix, info):
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        L, got = lib.linalg.cholesky_ex(lib.tensor(matrix, dtype=lib.float64))
        assert got.item() == info
# ---------------------------------------------------------------------- matrix_exp of a batch
@given(st.lists(st.sampled_from([-3.0, -2.5, 1.5, 0.25, 1e-7, 6e4, -6e4, 1e5, 1e30]), min_size=18, max_size=18),
       st.sampled_from([np.float32, np.float64]))
@example([-3.0, -3.0, -2.5, -0.25, 1e-07, -2.5, 1e30, 1.5, 1e5,
          -1.0, 1.0, 0.0, -2.5, 1.5, 3.0, 6e4, 6e4, -6e4], np.float64)  # a huge matrix beside a moderate one
def test_matrix_exp_scales_each_matrix_of_a_batch_on_its_own(vals, dtype):
    # PyTorch picks the degree and the scaling per matrix (LinearAlgebra.cpp, mexp_impl): a matrix's exponential
    # does not depend on the others in its batch (a shared scaling squared the small one's hundreds of times: 0)
    a = np.array(vals, dtype=dtype).reshape(2, 3, 3)
    with np.errstate(all="ignore"):
        both = tg.linalg.matrix_exp(tg.tensor(a)).numpy()
        each = [tg.linalg.matrix_exp(tg.tensor(m)).numpy() for m in a]
    for got, want in zip(both, each):
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    torch = pytest.importorskip("torch")
    for k, m in enumerate(a):
        want = torch.linalg.matrix_exp(torch.tensor(m)).numpy()
        if dtype == np.float64 and np.isfinite(want).all() and np.abs(want).max() < 1e30:  # (float32: its
            # own degree and rounding; nor where the exponential overflows)
            np.testing.assert_allclose(both[k], want, rtol=1e-3 if dtype == np.float32 else 1e-9,
                                       atol=1e-6 * np.abs(want).max())


def test_matrix_exp_of_a_batch_with_per_matrix_scaling_has_its_gradient():
    from tapegrad.autograd import gradcheck

    a = np.array([[[0.5, -1.0], [2.0, 0.25]], [[30.0, -1.0], [2.0, 12.0]]])
    assert gradcheck(tg.linalg.matrix_exp, (tg.tensor(a, requires_grad=True),))


@given(st.integers(2, 3), st.floats(720, 3000), st.lists(st.floats(-3, 3), min_size=9, max_size=9),
       st.sampled_from([np.float32, np.float64]))
@example(2, 750.0, [50.0, -5.0, 3.0, -50.0, 0, 0, 0, 0, 0], np.float64)  # [[800, -5], [3, 700]]
def test_matrix_exp_beyond_the_float_range_has_the_exponentials_signs(n, c, vals, dtype):
    # exp(c I + M) = e^c exp(M): beyond the range, each entry is +-inf with the sign of exp(M)'s (PyTorch 2.13:
    # NaN, from inf - inf in its squaring; KNOWN pytorch-bug matrix-exp-overflow)
    m = np.array(vals[:n * n], dtype=np.float64).reshape(n, n)
    with np.errstate(all="ignore"):
        got = tg.linalg.matrix_exp(tg.tensor(c * np.eye(n) + m, dtype=tg.float64 if dtype == np.float64 else
                                             tg.float32)).numpy()
        e = tg.linalg.matrix_exp(tg.tensor(m)).numpy()
    limit = np.log(np.finfo(dtype).max)
    for (i, j), v in np.ndenumerate(e):
        if abs(v) > 1e-6 and np.log(abs(v)) + c > limit + 1:
            assert got[i, j] == np.sign(v) * np.inf
        elif abs(v) > 1e-6 and np.log(abs(v)) + c < limit - 1:
            np.testing.assert_allclose(got[i, j], v * np.exp(c), rtol=1e-3)


def test_matrix_exp_overflowing_entry_leaves_the_others_alone():
    for dt in (tg.float32, tg.float64):
        got = tg.linalg.matrix_exp(tg.tensor([[1000.0, 0.0], [0.0, 1.0]], dtype=dt)).numpy()
        assert got[0, 0] == np.inf and got[0, 1] == 0 and got[1, 0] == 0
        np.testing.assert_allclose(got[1, 1], np.e, rtol=1e-6)
    # a rotation too fast to resolve in float64 (eigenvalues 5e4 +- 1.58e15i): NaN, as PyTorch's
    b = tg.tensor([[-3.0, -3.0, -2.5], [-0.25, 1e-07, -2.5], [1e30, 1.5, 1e5]], dtype=tg.float64)
    with np.errstate(all="ignore"):
        assert np.isnan(tg.linalg.matrix_exp(b).numpy()).all()


_HUGE_ENTRY_CASES = [  # finite matrices with an entry near the float range, and PyTorch 2.13's exponentials
    ([[100000.0, -0.25], [-3e38, 1e-7]], [[np.inf, -np.inf], [-np.inf, np.inf]]),  # eigenvalues +-8.7e18
    ([[0.0, 3e38], [-3e38, 0.0]], [[np.nan, np.nan], [np.nan, np.nan]]),  # a rotation by 3e38 rad: no digits left
    ([[0.0, 1e20], [-1e20, 0.0]], [[np.nan, np.nan], [np.nan, np.nan]]),  # (PyTorch's float64: zeros, KNOWN)
    ([[-1e12, 1.0], [0.0, -1e12]], [[0.0, 0.0], [0.0, 0.0]]),  # decays: zeros
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", range(len(_HUGE_ENTRY_CASES)))
def test_matrix_exp_of_a_matrix_with_a_huge_entry_balances_it_first(case, dtype):
    # scaling [[1e5, -0.25], [-3e38, 1e-7]] by 2**-126 rounds -0.25 * 2**-126 away, and the squarings gave the finite
    # [[1, 0], [-3e38, 1]]; balanced (D^-1 A D, D in powers of two) the off-diagonal entries are both 8.7e18 and the
    # exponential overflows as it should. A rotation faster than the dtype resolves is NaN, as PyTorch's.
    a, want = _HUGE_ENTRY_CASES[case]
    with np.errstate(all="ignore"):
        got = tg.linalg.matrix_exp(tg.tensor(a, dtype=getattr(tg, dtype))).numpy()
    np.testing.assert_array_equal(got, np.array(want, dtype=dtype))
    torch = pytest.importorskip("torch")
    if case in (1, 2) and dtype == "float64":
        return  # PyTorch's squarings give zeros for these rotations in float64 (NaN in float32): by-design difference
    np.testing.assert_array_equal(got, torch.linalg.matrix_exp(torch.tensor(a, dtype=getattr(torch, dtype))).numpy())


@given(st.integers(2, 3), st.lists(st.floats(0.25, 3), min_size=9, max_size=9),
       st.lists(st.booleans(), min_size=9, max_size=9), st.integers(40, 100))
def test_balancing_a_huge_matrix_is_a_similarity(n, vals, signs, k):
    # the balanced path computes exp(A) = D exp(D^-1 A D) D^-1: for a diagonal-similar matrix D0 M D0^-1 with D0
    # spreading the entries over 2**k, it gives D0 exp(M) D0^-1 (the unbalanced squarings lose M's digits). (M
    # without zero entries: a zero row or column cannot be balanced, and a nilpotent M's squarings amplify the
    # pivoted solve's rounding.)
    m = (np.array(vals[:n * n]) * np.where(signs[:n * n], -1, 1)).reshape(n, n)
    d0 = 2.0 ** (k * np.arange(n) / max(n - 1, 1)).round()
    a = d0[:, None] * m / d0[None, :]
    want = d0[:, None] * tg.linalg.matrix_exp(tg.tensor(m, dtype=tg.float64)).numpy() / d0[None, :]
    got = tg.linalg.matrix_exp(tg.tensor(a, dtype=tg.float64)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12 * np.abs(want).max())


# ---------------------------------------------------------------------- svd of a matrix with a NaN: PyTorch's error
_SVD_OPS = {
    "svd": lambda lib, a: lib.linalg.svd(a),
    "svd_reduced": lambda lib, a: lib.linalg.svd(a, full_matrices=False),
    "torch.svd": lambda lib, a: lib.svd(a),
    "svdvals": lambda lib, a: lib.linalg.svdvals(a),
    "pinv": lambda lib, a: lib.linalg.pinv(a),
    "pinverse": lambda lib, a: lib.pinverse(a),
    "matrix_rank": lambda lib, a: lib.linalg.matrix_rank(a),
    "matrix_norm_nuc": lambda lib, a: lib.linalg.matrix_norm(a, "nuc"),
    "matrix_norm_2": lambda lib, a: lib.linalg.matrix_norm(a, 2),
    "cond": lambda lib, a: lib.linalg.cond(a),
}


@given(st.sampled_from(sorted(_SVD_OPS)), st.integers(0, 2), st.integers(1, 3), st.integers(1, 3), st.data())
@example("svd", 0, 3, 3, None)
@example("pinverse", 2, 1, 1, None)
@example("svdvals", 1, 2, 3, None)
def test_svd_of_a_matrix_with_a_nan_raises_pytorchs_error(name, batch, m, n, data):
    # LAPACK's gesdd (reference 3.10+, MKL 2022+) returns info = -4 when dlange('M') of A is NaN, which PyTorch's
    # _linalg_check_errors (aten/src/ATen/native/BatchLinearAlgebra.cpp) reports for every op that calls svd
    shape = ((batch,) if batch else ()) + (m, n)
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) % 3 - 1.0
    index = (0,) * len(shape) if data is None else tuple(data.draw(st.integers(0, s - 1)) for s in shape)
    if data is not None and data.draw(st.booleans()):  # an inf beside the NaN changes nothing
        a[tuple(s - 1 for s in shape)] = math.inf
    a[index] = math.nan
    prefix = f"(Batch element {index[0]}): " if batch else ""
    message = (f"linalg.svd: {prefix}The algorithm failed to converge because the input matrix contained non-finite "
               "values.")
    with pytest.raises(tg.linalg.LinAlgError) as ours:
        _SVD_OPS[name](tg, tg.tensor(a))
    assert str(ours.value) == message
    torch = pytest.importorskip("torch")
    with pytest.raises(torch.linalg.LinAlgError) as theirs:
        _SVD_OPS[name](torch, torch.tensor(a))
    assert str(theirs.value) == message


@pytest.mark.parametrize("name", sorted(_SVD_OPS))
def test_svd_of_a_matrix_with_an_inf_and_no_nan_computes(name):
    a = np.array([[[1.0, 2.0], [0.5, -1.0]], [[-1.0, -1.0], [-1.0, math.inf]]])
    _SVD_OPS[name](tg, tg.tensor(a))  # no error: gesdd's norm is inf, not NaN
    _SVD_OPS[name](tg, tg.tensor(np.zeros((0, 2, 2))))


# ---------------------------------------------------------------------- inverse of a non-finite matrix
_INV_SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, -3.0, 0.5, math.inf, -math.inf, math.nan]


@st.composite
def _nonfinite_square(draw):
    n, batch = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    a = np.array(draw(st.lists(st.sampled_from(_INV_SPECIAL), min_size=batch * n * n, max_size=batch * n * n)))
    a = a.reshape(batch, n, n)
    a[draw(st.integers(0, batch - 1)), draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))] = \
        draw(st.sampled_from([math.inf, -math.inf, math.nan]))
    return a, draw(st.sampled_from(["float32", "float64"]))


@given(_nonfinite_square())
@example((np.array([[[math.nan, -0.0], [0.0, 0.5]]]), "float32"))
@example((np.array([[[math.inf, 1.5, 2.0], [2.0, math.nan, -3.0], [0.0, 0.0, -math.inf]]]), "float32"))
@example((np.array([[[0.5, -math.inf], [0.0, 0.5]]]), "float64"))
def test_inverse_of_a_non_finite_matrix_is_lu_solve_on_the_identity(case):
    # PyTorch's linalg_inv_ex is linalg_solve_ex(A, I) (BatchLinearAlgebra.cpp): getrf of A, then getrs on the
    # identity, so the inf/nan reach the entries LAPACK's substitution takes them to (numpy's inv spreads them
    # elsewhere: [[nan, -0], [0, 0.5]] gave [[nan, nan], [0, 2]], PyTorch's all NaN)
    a, dtype = case
    x = tg.tensor(a, dtype=getattr(tg, dtype))
    lu, piv, info = tg.linalg.lu_factor_ex(x)
    want = tg.linalg.lu_solve(lu, piv, tg.eye(a.shape[-1], dtype=x.dtype).expand(x.shape)).numpy()
    inv, inv_info = tg.linalg.inv_ex(x)
    _same_bits(inv.numpy(), want, 0)
    np.testing.assert_array_equal(inv_info.numpy(), info.numpy())
    if info.numpy().any():
        with pytest.raises(tg.linalg.LinAlgError, match="is zero, the inversion could not be completed"):
            tg.inverse(x)
    else:
        _same_bits(tg.inverse(x).numpy(), want, 0)
        _same_bits(tg.linalg.matrix_power(x, -1).numpy(), want, 0)


@pytest.mark.parametrize("seed", range(3))
def test_inverse_of_non_finite_matrices_matches_pytorch(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(200):
        n, dtype = int(rng.integers(1, 5)), ("float32", "float64")[int(rng.integers(2))]
        a = rng.choice(_INV_SPECIAL, size=(int(rng.integers(1, 3)), n, n),
                       p=[.15, .05, .15, .15, .1, .1, .1, .07, .07, .06]).astype(dtype)
        if np.isfinite(a).all():
            continue
        ours, info = tg.linalg.inv_ex(tg.tensor(a))
        if info.numpy().any():  # a zero pivot here: MKL's fused multiply-add may leave a residue there
            continue
        theirs = torch.linalg.inv_ex(torch.tensor(a)).inverse.numpy()
        bad = ~np.isfinite(a).all(axis=(-2, -1))  # a finite one: rounding noise of another LAPACK where 0 is exact
        _same_bits(ours.numpy()[bad], theirs[bad], 1e-4 if dtype == "float32" else 1e-9, signs=False)
        checked += 1
    assert checked > 50


# ---------------------------------------------------------------------- matrix_exp of a 1x1 inf/nan: NaN gradient
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("v", [-math.inf, math.inf, math.nan, -10.0, 0.5])
@pytest.mark.parametrize("g", [0.0, 1.5, -1.5])
def test_matrix_exp_gradient_of_a_non_finite_1x1_matrix_is_nan_as_pytorchs(v, g, dtype):
    # PyTorch's backward is linalg_matrix_exp_differential (FunctionsManual.cpp): the exponential of the block
    # matrix [[A^T, G], [0, A^T]], NaN when A holds an inf or NaN (even where e^-inf = 0 would give 0)
    a = tg.tensor([[v]], dtype=getattr(tg, dtype), requires_grad=True)
    tg.linalg.matrix_exp(a).backward(tg.tensor([[g]], dtype=a.dtype))
    got = a.grad.numpy()
    if math.isfinite(v):
        np.testing.assert_allclose(got, g * np.exp(np.float64(v)), rtol=1e-6)
    else:
        assert np.isnan(got).all()
    torch = pytest.importorskip("torch")
    b = torch.tensor([[v]], dtype=getattr(torch, dtype), requires_grad=True)
    torch.linalg.matrix_exp(b).backward(torch.tensor([[g]], dtype=b.dtype))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(b.grad.numpy()))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(b.grad.numpy()), rtol=1e-4)  # its Pade: 5e-5 off


@pytest.mark.parametrize("b_shape", [(3, 2), (4, 3, 2), (2, 3, 5)])
def test_cholesky_solve_result_has_lapacks_column_major_layout(b_shape):
    # PyTorch's cholesky_solve returns LAPACK's column-major result (strides (1, n); batched (n * k, 1, n)), a
    # layout later ops follow (kron's final view refuses it: driver seed 102164)
    x = tg.cholesky_solve(tg.ones(b_shape, dtype=tg.float64), tg.eye(3, dtype=tg.float64))
    n, k = b_shape[-2:]
    assert x.stride()[-2:] == (1, n) and not x.is_contiguous()
    np.testing.assert_array_equal(x.numpy(), np.ones(b_shape))
    torch = pytest.importorskip("torch")
    assert x.stride() == torch.cholesky_solve(torch.ones(b_shape, dtype=torch.float64),
                                              torch.eye(3, dtype=torch.float64)).stride()


# ---------------------------------------------------------------------- det's gradient: PyTorch's LU formula
_SEED_1033288 = np.array([[-0.45, -2.2, 1.3], [2.6, -2.2, 1.3], [1.1, 0.05, 1.3]])  # det 8.92, cofactor [2, 0] ~ 0


def _logabsdet(lib, x):
    return lib.linalg.slogdet(x)[1]


def _det_gradient_by_lu(lib, op, a, g, transposed):
    """det's (``op`` "det") or logabsdet's gradient as PyTorch's linalg_det_backward / slogdet_backward compute it
    without create_graph, from the library's public parts: lu_solve of diag(g det(A)) (of diag(g)) with the LU
    factors det takes, getrf of A^T for a contiguous A (of A for its transpose, then the adjoint solve), and
    det(A) = det(P) prod(diag(U)) from the same factors (det's forward)."""
    x = lib.tensor(a)
    x = x.mT if transposed else x
    lu, pivots = lib.linalg.lu_factor(x if transposed else x.mT)
    n = a.shape[-1]
    d = lib.tensor(g)
    if op == "det":
        swaps = (pivots != lib.arange(1, n + 1, dtype=pivots.dtype)).sum(-1)
        d = d * ((1 - 2 * (swaps % 2)) * lu.diagonal(dim1=-2, dim2=-1).prod(-1))
    x = lib.linalg.lu_solve(lu, pivots, lib.diag_embed(d.unsqueeze(-1).expand(*d.shape, n)), adjoint=transposed)
    return np.swapaxes(x.numpy(), -1, -2) if transposed else x.numpy()


@given(seed=st.integers(0, 2 ** 31), n=st.integers(2, 6), batch=st.sampled_from([(), (3,), (2, 2)]),
       dtype=st.sampled_from(["float32", "float64"]), transposed=st.booleans(), op=st.sampled_from(["det", "slogdet"]))
@example(seed=None, n=3, batch=(), dtype="float64", transposed=False, op="det")  # driver seed 1033288
@settings(max_examples=40, deadline=None)
def test_det_and_slogdet_gradients_solve_with_the_forwards_lu_as_pytorch(seed, n, batch, dtype, transposed, op):
    # PyTorch's det gradient g det(A) A^-T is lu_solve(LU, pivots, diag(g det(A))) with the LU its forward took
    # (FunctionsManual.cpp's linalg_det_backward; slogdet_backward solves diag(g)), so a cofactor that is 0 in exact
    # arithmetic is that LU's rounding noise, bit for bit: seed 1033288's cofactor [2, 0] beside entries of 3, which
    # pow(det, det)'s gradient scales by 1e9 (the SVD tapegrad took gave -1.6e-16 where the LU gives 2.8e-16)
    if seed is None:
        a, g = _SEED_1033288, np.array(1.0)
    else:
        rng = np.random.default_rng(seed)
        a = (rng.standard_normal(batch + (n, n)) * rng.choice([0.1, 1.0, 5.0])).astype(dtype)
        g = rng.standard_normal(batch).astype(dtype)
    libs = [tg]
    try:
        import torch

        libs.append(torch)  # the formula is PyTorch's: its own gradient equals it on every CPU
    except ImportError:
        pass
    for lib in libs:
        x = lib.tensor(a, requires_grad=True)
        y = x.mT if transposed else x
        (y.det() if op == "det" else _logabsdet(lib, y)).backward(lib.tensor(g))
        want = _det_gradient_by_lu(lib, op, a, g, transposed)
        if lib is tg and not near_singular(a):
            # tapegrad solves a finite matrix that is not near singular with numpy's LAPACK: the formula's value to
            # that solve's rounding (n eps cond(A) of the largest entry), not MKL's last bits
            cond = np.linalg.cond(a.astype(np.float64))[..., None, None]
            scale = np.abs(want).max(axis=(-2, -1), keepdims=True) * cond
            assert (np.abs(x.grad.numpy() - want) <= 8 * n * np.finfo(dtype).eps * scale).all()
        else:
            np.testing.assert_array_equal(x.grad.numpy(), want)


def test_det_gradient_at_seed_1033288_is_the_cofactor_matrix():
    # the cofactor [2, 0] is exactly 0: numpy's solve gives its rounding noise (PyTorch's MKL 2.8e-16 on Intel,
    # 4.9e-16 on an AMD EPYC: README, KNOWN det-grad-cofactor-rounding)
    x = tg.tensor(_SEED_1033288, requires_grad=True)
    tg.det(x).backward()
    assert abs(x.grad[2, 0].item()) < 1e-15
    np.testing.assert_allclose(x.grad.numpy(), [[-2.925, -1.95, 2.55], [2.925, -2.015, -2.3975], [0.0, 3.965, 6.71]],
                               rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("scale, svd", [(1.0, False), (1e-6, True)])
def test_det_gradient_with_create_graph_takes_pytorchs_branches(scale, svd):
    # with create_graph PyTorch solves A^T X = diag(g det(A)) (linalg_solve: the same LU, so the first-order bits)
    # where |det(A)| >= 100 eps, and takes the cofactor matrix from the SVD below (here det 3.4e-17); both are twice
    # differentiable
    from tapegrad.autograd import gradgradcheck

    a = np.array([[2.0, -1.0, 0.5], [1.0, 3.0, -2.0], [0.5, 1.5, 4.0]]) * scale
    x = tg.tensor(a, requires_grad=True)
    (first,) = tg.autograd.grad(tg.det(x), x)
    (graph,) = tg.autograd.grad(tg.det(x), x, create_graph=True)
    assert graph.requires_grad
    by_lu = _det_gradient_by_lu(tg, "det", a, np.array(1.0), False)
    top = np.abs(by_lu).max()
    np.testing.assert_allclose(first.numpy(), by_lu, rtol=1e-14, atol=1e-15 * top)  # (numpy's solve: its rounding)
    if svd:  # the same matrix to rounding (the zero cofactor [0, 2] is each one's noise)
        np.testing.assert_allclose(graph.detach().numpy(), by_lu, rtol=1e-12, atol=1e-15 * top)
    else:
        np.testing.assert_array_equal(graph.detach().numpy(), by_lu)
    assert gradgradcheck(lambda t: tg.det(t * scale) / scale ** 3, (tg.tensor(a / scale, requires_grad=True),))
    torch = pytest.importorskip("torch")
    y = torch.tensor(a, requires_grad=True)
    (want,) = torch.autograd.grad(torch.det(y), y, create_graph=True)
    assert (want.grad_fn.name() == "MmBackward0") == svd  # PyTorch's SVD branch: (U * D) @ Vh
    np.testing.assert_allclose(graph.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-15 * top)
    w = np.arange(9.0).reshape(3, 3) - 4
    (ours,) = tg.autograd.grad((graph * tg.tensor(w)).sum(), x)
    (theirs,) = torch.autograd.grad((want * torch.tensor(w)).sum(), y)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-9 * np.abs(theirs.numpy()).max())


def test_det_gradient_with_create_graph_refuses_a_zero_pivot_as_linalg_solve():
    # det(A) of a matrix with inf is nan, not below 100 eps: PyTorch's create_graph path solves with linalg.solve,
    # which refuses the zero pivot (without create_graph the pivot is eps and the gradient nan)
    a = np.array([[[1.0, 2.0], [3.0, 4.0]], [[math.inf, 0.0], [0.0, 0.0]]])
    x = tg.tensor(a, requires_grad=True)
    with pytest.raises(tg.linalg.LinAlgError, match=r"linalg.solve: \(Batch element 1\): The solver failed"):
        tg.autograd.grad(tg.det(x).sum(), x, create_graph=True)
    with np.errstate(all="ignore"):
        (g,) = tg.autograd.grad(tg.det(x).sum(), x)
    np.testing.assert_array_equal(g.numpy()[0], [[4.0, -3.0], [-2.0, 1.0]])
    assert np.isnan(g.numpy()[1]).all()
    torch = pytest.importorskip("torch")
    y = torch.tensor(a, requires_grad=True)
    with pytest.raises(torch.linalg.LinAlgError, match=r"linalg.solve: \(Batch element 1\): The solver failed"):
        torch.autograd.grad(torch.det(y).sum(), y, create_graph=True)
    (want,) = torch.autograd.grad(torch.det(y).sum(), y)
    same(g.numpy(), want.numpy())


@given(seed=st.integers(0, 2 ** 31), n=st.integers(1, 4), batch=st.sampled_from([(), (2,)]))
@settings(max_examples=15, deadline=None)
def test_det_gradients_of_first_and_second_order_match_finite_differences(seed, n, batch):
    from tapegrad.autograd import gradgradcheck

    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n)) + 2 * np.eye(n)
    assert_gradients(lambda t: tg.det(t), a)
    assert_gradients(lambda t: tg.det(t.mT), a)
    assert gradgradcheck(lambda t: tg.det(t), (tg.tensor(a, requires_grad=True),))
    assert gradgradcheck(lambda t: tg.det(t.mT), (tg.tensor(a, requires_grad=True),))


# ---------------------------------------------------------------------- det's gradient at an exactly singular matrix
@given(n=st.integers(2, 4), data=st.data(), k=st.sampled_from([0.0, -0.0, 1.0, -2.0]),
       dtype=st.sampled_from(["float32", "float64"]))
@example(n=2, data=None, k=-0.0, dtype="float32")  # driver seed 161102: [[1, 1], [-0, 0]]
def test_det_gradient_of_a_singular_matrix_is_its_cofactor_matrix(n, data, k, dtype):
    # the derivative of det at A is its cofactor matrix, nonzero for rank n - 1 even though det(A) = 0; PyTorch
    # 2.13's backward without create_graph gives zeros there (its lu_solve of diag(g det(A)) = 0), its
    # create_graph=True path (the SVD formula of FunctionsManual.cpp's linalg_det_backward) the cofactor
    if data is None:
        top = np.ones((1, n))
    else:  # n - 1 rows of small integers
        rows = st.lists(st.lists(st.integers(-2, 2), min_size=n, max_size=n), min_size=n - 1, max_size=n - 1)
        top = np.array(data.draw(rows), float)
    a = np.concatenate([top, k * top[:1]], axis=0)  # the last row a multiple of the first: exactly singular
    assert_gradients(lambda t: tg.det(t), a)
    x = tg.tensor(a, dtype=getattr(tg, dtype), requires_grad=True)
    tg.det(x).backward()
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
                    for i in range(n)])
    np.testing.assert_allclose(x.grad.numpy(), cof, rtol=1e-5, atol=1e-5 if dtype == "float32" else 1e-12)
    torch = pytest.importorskip("torch")
    y = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
    (want,) = torch.autograd.grad(torch.det(y), y, create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_slogdet_gradient_whose_inverse_overflows_spreads_nan_as_lapack():
    # logabsdet's gradient A^-T solved by getrs on A's LU (PyTorch's slogdet_backward): where the solution
    # overflows float32 (a subnormal pivot), the substitution meets inf * 0 and inf - inf: NaN in the second
    # column, as PyTorch's; numpy's solver gave finite values there
    a = np.array([[[0.0, 1.5], [1e-40, 3.0]]], np.float32)
    x = tg.tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):
        x.slogdet()[1].sum().backward()
    g = x.grad.numpy()
    assert np.isinf(g[..., 0]).all() and np.isnan(g[..., 1]).all()
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    t.slogdet()[1].sum().backward()
    np.testing.assert_array_equal(g, t.grad.numpy())


def test_matrix_power_3_multiplies_as_pytorchs_fast_path():
    # PyTorch computes A^3 as (A @ A) @ A: with inf and zeros the order decides where inf * 0 gives NaN (column 0
    # of rows 1 and 2 is inf that way, NaN as A @ (A @ A))
    a = np.array([[-np.inf, 0.0, 0.0], [1.0, 0.0, 0.5], [1.0, -1.0, 1.5]])
    with np.errstate(invalid="ignore"):
        got = tg.linalg.matrix_power(tg.tensor(a), 3).numpy()
        want = (a @ a) @ a
    np.testing.assert_array_equal(got, want)
    assert np.isinf(got[1:, 0]).all()
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(got, torch.linalg.matrix_power(torch.tensor(a), 3).numpy())
