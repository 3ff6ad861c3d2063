"""tapegrad.linalg: values, gradients (first and second order) against float64 finite differences, PyTorch's
values, gradients and errors when PyTorch is installed."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck

L = tg.linalg
INF = math.inf


# ---------------------------------------------------------------------- inputs
@st.composite
def problems(draw, max_n=4, rectangular=False):
    """(seed, batch shape, m, n): small sizes, batches of zero to two dims."""
    seed = draw(st.integers(0, 2**31 - 1))
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_n)) if rectangular else n
    return seed, batch, m, n


def well_conditioned(seed, batch, m, n=None, spread=(1.0, 3.0)):
    """Q1 diag(s) Q2 with singular values spaced in ``spread``: far from singular, distinct singular values."""
    n = m if n is None else n
    rng = np.random.default_rng(seed)
    k = min(m, n)
    q1, _ = np.linalg.qr(rng.standard_normal(batch + (m, m)))
    q2, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    s = np.linspace(spread[0], spread[1], k) * (1 + 0.1 * rng.random(batch + (k,)))
    return (q1[..., :, :k] * s[..., None, :]) @ q2[..., :k, :]


def leaf(a):
    return tg.tensor(np.asarray(a, np.float64), requires_grad=True)


def sym(a):
    return (a + a.mT) / 2


def spd(seed, batch, n):
    a = well_conditioned(seed, batch, n)
    return a @ np.swapaxes(a, -1, -2) + np.eye(n)


def check(fn, *arrays, second=False):
    inputs = tuple(leaf(a) for a in arrays)
    assert gradcheck(fn, inputs, atol=1e-6, rtol=1e-4)
    if second:
        assert gradgradcheck(fn, inputs, atol=1e-5, rtol=1e-3)


# ---------------------------------------------------------------------- values against numpy
@given(problems())
@settings(max_examples=5)
def test_values_match_numpy(p):
    seed, batch, n, _ = p
    a = well_conditioned(seed, batch, n)
    A = tg.tensor(a)
    np.testing.assert_allclose(L.inv(A).numpy(), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.det(A).numpy(), np.linalg.det(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.slogdet(A).logabsdet.numpy(), np.linalg.slogdet(a)[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.svdvals(A).numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-10)
    np.testing.assert_allclose(L.pinv(A).numpy(), np.linalg.pinv(a), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(L.matrix_norm(A, "nuc").numpy(), np.linalg.norm(a, "nuc", axis=(-2, -1)), rtol=1e-10)
    for o in (1, -1, INF, -INF, 2, -2, "fro"):
        np.testing.assert_allclose(L.matrix_norm(A, o).numpy(), np.linalg.norm(a, o, axis=(-2, -1)), rtol=1e-10)
    s = spd(seed, batch, n)
    np.testing.assert_allclose(L.cholesky(tg.tensor(s)).numpy(), np.linalg.cholesky(s), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.eigvalsh(tg.tensor(s)).numpy(), np.linalg.eigvalsh(s), rtol=1e-10)


def test_matrix_exp_matches_a_taylor_series():
    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 8.0):
        a = rng.standard_normal((2, 3, 3)) * scale / 3
        # exp(A) = exp(A / 2^k)^(2^k), the small one by its Taylor series
        k = 10
        small = a / 2**k
        term, total = np.broadcast_to(np.eye(3), a.shape).copy(), np.broadcast_to(np.eye(3), a.shape).copy()
        for i in range(1, 20):
            term = term @ small / i
            total = total + term
        for _ in range(k):
            total = total @ total
        np.testing.assert_allclose(L.matrix_exp(tg.tensor(a)).numpy(), total, rtol=1e-9, atol=1e-12)


def test_multi_dot_householder_and_vander_values():
    rng = np.random.default_rng(1)
    mats = [rng.standard_normal(s) for s in ((3,), (3, 5), (5, 2), (2, 4), (4,))]
    np.testing.assert_allclose(L.multi_dot([tg.tensor(m) for m in mats]).numpy(), np.linalg.multi_dot(mats))
    a = rng.standard_normal((5, 3))
    h, tau = np.linalg.qr(a, mode="raw")  # LAPACK's geqrf: Householder vectors below the diagonal of h.T
    q = L.householder_product(tg.tensor(h.T.copy()), tg.tensor(tau)).numpy()
    np.testing.assert_allclose(np.abs(q), np.abs(np.linalg.qr(a)[0]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.vander(tg.tensor([1.0, 2.0, 3.0]), N=4).numpy(), np.vander([1.0, 2, 3], 4, True))


# ---------------------------------------------------------------------- gradients
@given(problems())
@settings(max_examples=6)
def test_gradients_and_second_order_of_inv_det_slogdet_solve_cholesky(p):
    seed, batch, n, _ = p
    a = well_conditioned(seed, batch, n)
    b = np.random.default_rng(seed + 1).standard_normal(batch + (n, 2))
    check(L.inv, a, second=True)
    check(L.det, a, second=True)
    check(lambda x: L.slogdet(x).logabsdet, a, second=True)
    check(L.solve, a, b, second=True)
    check(lambda x, y: L.solve(x, y[..., 0]), a, b)
    check(lambda x, y: L.solve(x, y.mT, left=False), a, b)
    check(lambda x: L.cholesky(sym(x)), spd(seed, batch, n), second=True)
    check(lambda x: L.cholesky(sym(x), upper=True), spd(seed, batch, n))


def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix():
    a = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    A = leaf(a)
    L.det(A).sum().backward()
    cof = np.array([[[4.0, -2.0], [-2.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    np.testing.assert_allclose(A.grad.numpy(), cof, atol=1e-12)
    check(L.det, np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]))  # rank 2
    x = leaf(np.array([[1.0, 2.0], [2.0, 4.0]]))
    (g,) = tg.autograd.grad(L.det(x), x, create_graph=True)
    with pytest.raises(L.LinAlgError, match="second derivative of det at a singular matrix is not implemented"):
        g.sum().backward()


@given(problems(rectangular=True))
@settings(max_examples=6)
def test_gradients_of_svd_qr_pinv_and_norms(p):
    seed, batch, m, n = p
    a = well_conditioned(seed, batch, m, n)
    check(L.svdvals, a, second=True)
    check(lambda x: (lambda r: (r.U * r.S.unsqueeze(-2)) @ r.Vh)(L.svd(x, full_matrices=False)), a)
    check(lambda x: L.svd(x, full_matrices=False).U.abs(), a)
    check(lambda x: L.svd(x).Vh[..., :min(m, n), :].abs(), a)
    check(lambda x: (lambda r: r.U @ r.Vh)(L.svd(x, full_matrices=False)), a)
    check(lambda x: L.qr(x).Q, a)
    check(lambda x: L.qr(x).R, a)
    check(L.pinv, a, second=True)
    for o in ("fro", "nuc", 2, -2, 1, -1, INF, -INF):
        check(lambda x, o=o: L.matrix_norm(x, o), a)
    for o in (2, 1, 3, 0.5, INF, -INF, 0):
        check(lambda x, o=o: L.vector_norm(x, o, dim=-1), a)
    check(lambda x: L.norm(x), a)


@given(problems())
@settings(max_examples=5)
def test_gradients_of_eigh_solve_triangular_and_the_rest(p):
    seed, batch, n, _ = p
    rng = np.random.default_rng(seed)
    a = well_conditioned(seed, batch, n)
    s = spd(seed, batch, n)
    check(lambda x: L.eigvalsh(sym(x)), s, second=True)
    check(lambda x: L.eigh(sym(x)).eigenvectors.abs(), s)
    check(lambda x: (lambda r: (r.eigenvectors * r.eigenvalues.unsqueeze(-2)) @ r.eigenvectors.mT)(L.eigh(sym(x))), s)
    t = np.triu(a) + 3 * np.eye(n)
    b = rng.standard_normal(batch + (n, 2))
    check(lambda x, y: L.solve_triangular(x, y, upper=True), t, b, second=True)
    check(lambda x, y: L.solve_triangular(x.mT, y, upper=False, unitriangular=True), t, b)
    check(lambda x, y: L.solve_triangular(x, y.mT, upper=True, left=False), t, b)
    check(L.matrix_exp, a / 2)
    check(lambda x: L.matrix_power(x, 3), a)
    check(lambda x: L.matrix_power(x, -2), a)
    check(lambda x: L.cond(x), a)
    check(lambda x: L.cond(x, "fro"), a)
    check(lambda x, y: L.lstsq(x, y).solution, a, b)
    v = rng.standard_normal(batch + (4, 3))
    check(lambda x, y: L.cross(x, y), v, v[..., ::-1, :] + 1)
    check(lambda x, y: L.vecdot(x, y), v, v + 1)
    check(lambda x: L.vander(x[..., 0, :]), v)


def test_gradients_of_householder_product_tensorinv_tensorsolve_multi_dot():
    rng = np.random.default_rng(2)
    check(lambda x, t: L.householder_product(x, t), rng.standard_normal((2, 4, 3)), rng.random((2, 2)))
    check(lambda x: L.tensorinv(x.reshape(4, 2, 2), ind=1), well_conditioned(0, (), 4))
    check(lambda x, y: L.tensorsolve(x.reshape(2, 2, 4), y), well_conditioned(1, (), 4), rng.standard_normal((2, 2)))
    check(lambda x, y, z: L.multi_dot([x, y, z]), rng.standard_normal(3), rng.standard_normal((3, 4)),
          rng.standard_normal((4, 2)))
    check(lambda x, y: L.lstsq(x, y).solution, well_conditioned(3, (2,), 5, 3), rng.standard_normal((2, 5)))


def test_batch_dimensions_broadcast_in_solve():
    a = well_conditioned(0, (3, 1), 2)
    b = np.random.default_rng(0).standard_normal((4, 2, 1))
    x = L.solve(tg.tensor(a), tg.tensor(b))
    assert tuple(x.shape) == (3, 4, 2, 1)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b))
    check(L.solve, a, b)


# ---------------------------------------------------------------------- errors
def test_errors_name_the_function_and_are_pytorchs():
    with pytest.raises(L.LinAlgError, match=r"linalg.inv: \(Batch element 1\): The diagonal element 2 is zero"):
        L.inv(tg.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]]))
    with pytest.raises(RuntimeError, match="The solver failed because the input matrix is singular"):
        L.solve(tg.zeros(2, 2), tg.ones(2))
    with pytest.raises(L.LinAlgError, match="the leading minor of order 1 is not positive-definite"):
        L.cholesky(-tg.eye(3))
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3 matrices"):
        L.det(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="The input tensor A must have at least 2 dimensions"):
        L.svd(tg.ones(3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        L.inv(tg.ones(2, 2, dtype=tg.int64))
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B \(2x2 and 3x1\)"):
        L.solve(tg.eye(2), tg.ones(3))
    with pytest.raises(NotImplementedError, match="no complex dtype"):
        L.eig(tg.eye(2))
    with pytest.raises(NotImplementedError, match="no complex dtype"):
        L.eigvals(tg.eye(2))
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        L.matrix_norm(tg.eye(2), 3)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        L.qr(tg.ones(3, 2, requires_grad=True), mode="complete").Q.sum().backward()
    assert issubclass(L.LinAlgError, RuntimeError)


def test_ex_variants_report_info_instead_of_raising():
    r = L.inv_ex(tg.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]]))
    assert r.info.tolist() == [0, 2]
    # the singular one is getrs' substitution through its zero pivot (PyTorch's linalg_solve_ex(A, I)): inf there
    assert r.inverse.numpy()[1].tolist() == [[-math.inf, math.inf], [math.inf, -math.inf]]
    assert np.allclose(r.inverse.numpy()[0], np.eye(2))
    c = L.cholesky_ex(tg.tensor([[4.0, 0.0], [0.0, -1.0]]))
    assert int(c.info) == 2
    s = L.solve_ex(tg.zeros(2, 2), tg.ones(2))
    assert int(s.info) == 1
    with pytest.raises(L.LinAlgError):
        L.inv_ex(tg.zeros(2, 2), check_errors=True)


def test_docstring_examples():
    import doctest

    import tapegrad.linalg as module
    import tapegrad.linalg.aliases as aliases

    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
    assert doctest.testmod(aliases).failed == 0


# ---------------------------------------------------------------------- PyTorch
def _torch_cases():
    """(name, inputs, function of the linalg namespace and a library): gauge-invariant outputs."""
    rng = np.random.default_rng(5)
    a = well_conditioned(5, (2,), 3)
    r = well_conditioned(6, (2,), 4, 3)
    w = well_conditioned(7, (2,), 3, 4)
    s = spd(8, (2,), 3)
    b = rng.standard_normal((2, 3, 2))
    v = rng.standard_normal((2, 4, 3))
    return [
        ("inv", (a,), lambda lib, x: lib.linalg.inv(x)),
        ("det", (a,), lambda lib, x: lib.linalg.det(x)),
        ("slogdet", (a,), lambda lib, x: lib.linalg.slogdet(x)[1]),
        ("solve", (a, b), lambda lib, x, y: lib.linalg.solve(x, y)),
        ("solve_vec", (a, b[..., 0]), lambda lib, x, y: lib.linalg.solve(x, y)),
        ("solve_right", (a, b), lambda lib, x, y: lib.linalg.solve(x, y.mT, left=False)),
        ("cholesky", (s,), lambda lib, x: lib.linalg.cholesky(x)),
        ("cholesky_upper", (s,), lambda lib, x: lib.linalg.cholesky(x, upper=True)),
        ("svd_usv", (r,), lambda lib, x: (lambda q: (q[0] * q[1].unsqueeze(-2)) @ q[2])(
            lib.linalg.svd(x, full_matrices=False))),
        ("svd_abs_u", (w,), lambda lib, x: lib.linalg.svd(x, full_matrices=False)[0].abs()),
        ("svd_abs_vh", (r,), lambda lib, x: lib.linalg.svd(x)[2].abs()),
        ("svdvals", (w,), lambda lib, x: lib.linalg.svdvals(x)),
        ("eigh_values", (s,), lambda lib, x: lib.linalg.eigh(x)[0]),
        ("eigh_abs_vectors", (s,), lambda lib, x: lib.linalg.eigh(x)[1].abs()),
        ("eigvalsh", (s,), lambda lib, x: lib.linalg.eigvalsh(x)),
        ("qr_tall", (r,), lambda lib, x: lib.linalg.qr(x)[0] @ lib.linalg.qr(x)[1].abs()),
        ("qr_wide_r", (w,), lambda lib, x: lib.linalg.qr(x)[1].abs() + lib.linalg.qr(x)[0].abs().sum()),
        ("pinv", (w,), lambda lib, x: lib.linalg.pinv(x)),
        ("lstsq", (r, rng.standard_normal((2, 4, 2))), lambda lib, x, y: lib.linalg.lstsq(x, y)[0]),
        ("matrix_exp", (a,), lambda lib, x: lib.linalg.matrix_exp(x)),
        ("matrix_power", (a,), lambda lib, x: lib.linalg.matrix_power(x, -3)),
        ("solve_triangular", (a, b), lambda lib, x, y: lib.linalg.solve_triangular(x + 3 * lib.eye(3, dtype=x.dtype),
                                                                                   y, upper=False)),
        ("cross", (v, v + 1), lambda lib, x, y: lib.linalg.cross(x, y, dim=-1)),
        ("vecdot", (v, v + 1), lambda lib, x, y: lib.linalg.vecdot(x, y, dim=1)),
        ("vander", (v[:, 0],), lambda lib, x: lib.linalg.vander(x, N=5)),
        ("householder", (v, rng.random((2, 2))), lambda lib, x, t: lib.linalg.householder_product(x, t)),
        ("multi_dot", (v[0], r[0], a[0]),
         lambda lib, x, y, z: lib.linalg.multi_dot([x.mT, y, z])),
        ("cond", (a,), lambda lib, x: lib.linalg.cond(x)),
        ("matrix_rank", (a,), lambda lib, x: lib.linalg.matrix_rank(x) * x.sum()),
        ("tensorinv", (a[0].reshape(9)[:4].reshape(2, 2) + 3 * np.eye(2),),
         lambda lib, x: lib.linalg.tensorinv(x.reshape(4).reshape(2, 2), ind=1)),
    ] + [(f"vector_norm_{o}", (v,), lambda lib, x, o=o: lib.linalg.vector_norm(x, o, dim=(-2, -1)))
         for o in (2, 1, 3, 0.5, INF, -INF, 0)] + \
        [(f"matrix_norm_{o}", (r,), lambda lib, x, o=o: lib.linalg.matrix_norm(x, o))
         for o in ("fro", "nuc", 2, -2, 1, -1, INF, -INF)] + \
        [("norm_vec_dim", (v,), lambda lib, x: lib.linalg.norm(x, 3, dim=1)),
         ("norm_all", (v,), lambda lib, x: lib.linalg.norm(x)),
         ("norm_matrix", (r[0],), lambda lib, x: lib.linalg.norm(x, -2))]


@pytest.mark.parametrize("case", _torch_cases(), ids=lambda c: c[0])
def test_values_and_gradients_match_pytorch(case):
    torch = pytest.importorskip("torch")
    name, arrays, fn = case
    ours = [leaf(a) for a in arrays]
    theirs = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    out, ref = fn(tg, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-10)
    w = np.random.default_rng(0).standard_normal(tuple(ref.shape))
    if not ref.requires_grad:
        return
    (out * tg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, y in zip(ours, theirs, strict=True):
        expected = np.zeros(x.shape) if y.grad is None else y.grad.numpy()  # ord 0: PyTorch gives no gradient
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-7, atol=1e-9)


NODE_CASES = [
    ("inv", lambda m, x: m.linalg.inv(x)), ("det", lambda m, x: m.linalg.det(x)),
    ("slogdet", lambda m, x: m.linalg.slogdet(x)[1]), ("cholesky", lambda m, x: m.linalg.cholesky(x)),
    ("svd", lambda m, x: m.linalg.svd(x)[0]), ("svdvals", lambda m, x: m.linalg.svdvals(x)),
    ("eigh", lambda m, x: m.linalg.eigh(x)[1]), ("eigvalsh", lambda m, x: m.linalg.eigvalsh(x)),
    ("qr", lambda m, x: m.linalg.qr(x)[1]), ("pinv", lambda m, x: m.linalg.pinv(x)),
    ("vector_norm", lambda m, x: m.linalg.vector_norm(x)), ("solve", lambda m, x: m.linalg.solve(x, x)),
    ("cross", lambda m, x: m.linalg.cross(x, x)),
    ("solve_triangular", lambda m, x: m.linalg.solve_triangular(x, x, upper=True)),
    ("matrix_norm", lambda m, x: m.linalg.matrix_norm(x, 1)),
    ("matrix_power", lambda m, x: m.linalg.matrix_power(x, 3)),
    ("vecdot", lambda m, x: m.linalg.vecdot(x, x)), ("vander", lambda m, x: m.linalg.vander(x[0])),
    ("inv_ex", lambda m, x: m.linalg.inv_ex(x)[0]), ("cholesky_ex", lambda m, x: m.linalg.cholesky_ex(x)[0]),
    *[(f"cond_{p}", lambda m, x, p=p: m.linalg.cond(x, p)) for p in (None, -2, 1, -INF, "fro", "nuc")],
    ("multi_dot_2", lambda m, x: m.linalg.multi_dot([x, x])),
    ("multi_dot_3", lambda m, x: m.linalg.multi_dot([x, x, x])),
    ("multi_dot_vectors", lambda m, x: m.linalg.multi_dot([x[0], x, x, x[1]])),
    ("tensorinv", lambda m, x: m.linalg.tensorinv(x, ind=1)),  # inv's column-major result: reshape's alias
    ("reshape_alias", lambda m, x: x.mT.reshape(9)[None].mT.reshape(3, 3)),
]


@pytest.mark.parametrize("p", [1, -1, INF, -INF, "fro", "nuc", None])
def test_cond_of_a_singular_matrix_is_pytorchs_inf(p):
    """PyTorch's cond for 1, inf and 'fro' takes inv_ex's inverse, all inf where the matrix is singular, and turns
    the norms' product to inf (not NaN, not an error); 'nuc' divides by the zero singular value."""
    a = tg.tensor([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [0.5, 3.0]]], dtype=tg.float64)
    got = L.cond(a, p).numpy()
    assert got[0] == np.inf or (p in (None, "nuc") and got[0] > 1e15)  # (a rounded zero singular value)
    assert np.isclose(got[1], np.linalg.cond(a.numpy()[1], p))
    torch = pytest.importorskip("torch")
    want = torch.linalg.cond(torch.tensor(a.numpy()), p).numpy()
    assert want[0] == got[0] or p in (None, "nuc")
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_multi_dot_of_three_takes_pytorchs_order_at_a_tie():
    """Three matrices of equal cost either way are multiplied (A B) C, as PyTorch; the DP of four or more takes the
    first cheapest split, as PyTorch's matrix_chain_order. The rounding shows the order."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((3, 3)).astype(np.float32) for _ in range(3)]

    def orders(lib):
        a, b, c = (lib.tensor(m) for m in arrays)
        got = lib.linalg.multi_dot([a, b, c]).numpy()
        return np.array_equal(got, ((a @ b) @ c).numpy()), np.array_equal(got, (a @ (b @ c)).numpy())

    assert orders(tg) == (True, False)
    torch = pytest.importorskip("torch")
    assert orders(torch) == (True, False)  # (its gemm's last bits are the CPU's: the order is what is compared)


@pytest.mark.parametrize("case", NODE_CASES, ids=lambda c: c[0])
def test_node_names_are_pytorchs(case):
    torch = pytest.importorskip("torch")
    _, fn = case
    s = spd(0, (), 3)
    assert fn(tg, leaf(s)).grad_fn.name() == fn(torch, torch.tensor(s, requires_grad=True)).grad_fn.name()


# ---------------------------------------------------------------------- top-level functions and Tensor methods
def _alias_cases():
    rng = np.random.default_rng(9)
    a = well_conditioned(9, (2,), 3)
    neg = a.copy()
    neg[..., 0, :] *= -np.sign(np.linalg.det(a))[..., None]  # one negative determinant, one positive
    neg[1] = a[1]
    r = well_conditioned(10, (2,), 4, 3)
    s = spd(11, (2,), 3)
    b = rng.standard_normal((2, 3, 2))
    h, tau = rng.standard_normal((2, 4, 3)), rng.random((2, 2))
    c, tau3 = rng.standard_normal((2, 4, 2)), rng.random((2, 3))
    return [
        ("det", (a,), lambda lib, x: lib.det(x)),
        ("det_method", (a,), lambda lib, x: x.det()),
        ("logdet", (neg,), lambda lib, x: lib.logdet(x)),
        ("slogdet", (a,), lambda lib, x: lib.slogdet(x).logabsdet + x.slogdet()[0].sum()),
        ("inverse", (a,), lambda lib, x: x.inverse()),
        ("cholesky", (s,), lambda lib, x: lib.cholesky(x)),
        ("cholesky_upper", (s,), lambda lib, x: x.cholesky(upper=True)),
        ("cholesky_solve", (b, s), lambda lib, x, y: lib.cholesky_solve(x, lib.linalg.cholesky(y))),
        ("cholesky_solve_upper", (b, s), lambda lib, x, y: x.cholesky_solve(lib.linalg.cholesky(y).mT, upper=True)),
        ("cholesky_inverse", (s,), lambda lib, x: lib.cholesky_inverse(lib.linalg.cholesky(x))),
        ("cholesky_inverse_upper", (s,), lambda lib, x: lib.linalg.cholesky(x).mT.cholesky_inverse(upper=True)),
        ("pinverse", (r,), lambda lib, x: x.pinverse()),
        ("matrix_power", (a,), lambda lib, x: x.matrix_power(2)),
        ("matrix_exp", (a,), lambda lib, x: x.matrix_exp()),
        ("qr", (r,), lambda lib, x: lib.qr(x).Q @ x.qr().R),
        ("qr_complete", (r.swapaxes(-1, -2).copy(),), lambda lib, x: lib.qr(x, some=False).R),
        ("svd", (r,), lambda lib, x: (lambda q: (q.U * q.S.unsqueeze(-2)) @ q.V.mT)(x.svd())),
        ("svd_full_abs_u", (r,), lambda lib, x: lib.svd(x, some=False).U[..., :3].abs()),
        ("svd_no_uv", (r,), lambda lib, x: lib.svd(x, compute_uv=False).S + lib.svd(x, compute_uv=False).U.sum()),
        ("triangular_solve", (a, b), lambda lib, x, y: lib.triangular_solve(y, x + 3 * lib.eye(3, dtype=x.dtype))[0]),
        ("triangular_solve_t", (a, b), lambda lib, x, y: y.triangular_solve(x + 3 * lib.eye(3, dtype=x.dtype),
                                                                            upper=False, transpose=True).solution),
        ("orgqr", (h, tau), lambda lib, x, t: x.orgqr(t)),
        ("orgqr_full", (h, tau3), lambda lib, x, t: lib.orgqr(x, t)),
        ("ormqr", (h, tau3, c),
         lambda lib, x, t, c: lib.ormqr(x, t, c)),
        ("ormqr_t", (h, tau3, c),
         lambda lib, x, t, c: x.ormqr(t, c, transpose=True)),
        ("ormqr_right", (h, tau3, c.swapaxes(-1, -2).copy()),
         lambda lib, x, t, c: lib.ormqr(x, t, c, left=False)),
        ("ormqr_right_t", (h, tau3, c.swapaxes(-1, -2).copy()),
         lambda lib, x, t, c: lib.ormqr(x, t, c, left=False, transpose=True)),
        ("chain_matmul", (a[0], r[0].T.copy()), lambda lib, x, y: lib.chain_matmul(x, y, y.mT)),
    ]


@pytest.mark.parametrize("case", _alias_cases(), ids=lambda c: c[0])
def test_top_level_functions_and_methods_match_pytorch(case):
    torch = pytest.importorskip("torch")
    _compare(torch, case)


def _compare(torch, case):
    import warnings

    name, arrays, fn = case
    ours = [leaf(a) for a in arrays]
    theirs = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, ref = fn(tg, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-10)
    w = np.random.default_rng(0).standard_normal(tuple(ref.shape))
    (out * tg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, y in zip(ours, theirs, strict=True):
        expected = np.zeros(x.shape) if y.grad is None else y.grad.numpy()
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", _alias_cases(), ids=lambda c: c[0])
def test_gradients_of_top_level_functions(case):
    name, arrays, fn = case
    if name in ("svd_full_abs_u",):  # columns beyond min(m, n) of a full U are not determined by A
        return
    if name == "logdet":  # finite differences of nan where the determinant is negative
        arrays = (spd(0, (2,), 3),)
    if name.startswith("cholesky_solve"):  # a symmetric input, as cholesky's symmetric gradient assumes
        check(lambda x, y: fn(tg, x, sym(y)), *arrays)
        return
    if name.startswith("cholesky"):
        check(lambda x: fn(tg, sym(x)), *arrays)
        return
    check(lambda *xs: fn(tg, *xs), *arrays)


def test_removed_functions_raise_pytorchs_error():
    for name in ("eig", "symeig", "lstsq", "solve"):
        with pytest.raises(RuntimeError, match="deprecated since version 1.9 and is now removed"):
            getattr(tg, name)(tg.eye(2), tg.eye(2))
        with pytest.raises(RuntimeError, match="deprecated since version 1.9 and is now removed"):
            getattr(tg.eye(2), name)()


def test_logdet_is_nan_for_a_negative_determinant_and_minus_inf_for_zero():
    assert np.isnan(float(tg.logdet(-tg.eye(3))))
    assert float(tg.logdet(tg.zeros(2, 2))) == -INF


# ---------------------------------------------------------------------- LU
def _lu_cases():
    rng = np.random.default_rng(12)
    a = well_conditioned(12, (2,), 3)
    wide, tall = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 5, 3))
    b = rng.standard_normal((2, 3, 2))
    return [
        ("lu_factor", (a,), lambda lib, x: lib.linalg.lu_factor(x).LU),
        ("lu_factor_wide", (wide,), lambda lib, x: lib.linalg.lu_factor(x).LU),
        ("lu_factor_tall", (tall,), lambda lib, x: lib.linalg.lu_factor_ex(x).LU),
        ("lu", (a,), lambda lib, x: (lambda r: r.P @ r.L + r.U)(lib.linalg.lu(x))),
        ("lu_wide", (wide,), lambda lib, x: (lambda r: (r.P @ r.L).sum() + r.U)(lib.linalg.lu(x))),
        ("lu_tall", (tall,), lambda lib, x: (lambda r: r.P @ r.L + r.U.sum())(lib.linalg.lu(x))),
        ("lu_solve", (a, b), lambda lib, x, y: lib.linalg.lu_solve(*lib.linalg.lu_factor(x), y)),
        ("lu_solve_adjoint", (a, b), lambda lib, x, y: lib.linalg.lu_solve(*lib.linalg.lu_factor(x), y, adjoint=True)),
        ("lu_solve_right", (a, b), lambda lib, x, y: lib.linalg.lu_solve(*lib.linalg.lu_factor(x), y.mT, left=False)),
        ("lu_solve_right_adjoint", (a, b),
         lambda lib, x, y: lib.linalg.lu_solve(*lib.linalg.lu_factor(x), y.mT, left=False, adjoint=True)),
        ("torch_lu", (a,), lambda lib, x: lib.lu(x)[0] + x.lu(get_infos=True)[2].reshape(2, 1, 1)),
        ("torch_lu_solve", (a, b), lambda lib, x, y: y.lu_solve(*lib.lu(x))),
        ("lu_unpack", (tall,), lambda lib, x: (lambda r: r.P @ r.L @ r.U)(lib.lu_unpack(*lib.linalg.lu_factor(x)))),
    ]


@pytest.mark.parametrize("case", _lu_cases(), ids=lambda c: c[0])
def test_lu_values_and_gradients_match_pytorch(case):
    torch = pytest.importorskip("torch")
    _compare(torch, case)


@pytest.mark.parametrize("case", _lu_cases(), ids=lambda c: c[0])
def test_lu_gradients(case):
    _, arrays, fn = case
    check(lambda *xs: fn(tg, *xs), *arrays)


@given(problems(rectangular=True))
@settings(max_examples=5)
def test_lu_reconstructs_the_matrix_and_pivots_as_lapack(p):
    seed, batch, m, n = p
    a = np.random.default_rng(seed).standard_normal(batch + (m, n))
    P, Lo, U = L.lu(tg.tensor(a))
    np.testing.assert_allclose((P @ Lo @ U).numpy(), a, atol=1e-12)
    LU, piv, info = L.lu_factor_ex(tg.tensor(a))
    assert piv.dtype == tg.int32 and info.dtype == tg.int32 and not info.numpy().any()
    # pivots are LAPACK's: the row of largest absolute value in the remaining column
    assert np.all(np.abs(Lo.numpy()) <= 1 + 1e-12)


def test_lu_errors_are_pytorchs():
    singular = tg.tensor([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [2.0, 4.0]]])
    with pytest.raises(RuntimeError, match=r"lu_factor: \(Batch element 1\): U\[2,2\] is zero"):
        L.lu_factor(singular)
    assert L.lu_factor_ex(singular).info.tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="LU without pivoting is not implemented on the CPU"):
        L.lu(tg.eye(2), pivot=False)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        L.lu_factor(tg.ones(3))


# ---------------------------------------------------------------------- LDL
def _symmetric_indefinite(seed, batch, n):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n))
    a = a + np.swapaxes(a, -1, -2)
    a[..., np.arange(0, n, 2), np.arange(0, n, 2)] *= 0.01  # small diagonal entries: 2x2 pivots
    return a


@given(problems())
@settings(max_examples=10)
def test_ldl_solves_symmetric_indefinite_systems(p):
    seed, batch, n, _ = p
    a = _symmetric_indefinite(seed, batch, n)
    b = np.random.default_rng(seed + 1).standard_normal(batch + (n, 2))
    LD, pivots = L.ldl_factor(tg.tensor(a))
    assert pivots.dtype == tg.int32 and tuple(pivots.shape) == batch + (n,)
    x = L.ldl_solve(LD, pivots, tg.tensor(b)).numpy()
    np.testing.assert_allclose(a @ x, b, atol=1e-8 * max(1.0, np.abs(x).max()))


def test_ldl_uses_2x2_pivots_as_lapack():
    r = L.ldl_factor_ex(tg.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [0.0, 2.0, 0.1]]))
    assert r.pivots.tolist() == [-2, -2, 3] and int(r.info) == 0
    np.testing.assert_allclose(r.LD.numpy(), [[0, 0, 0], [1, 0, 0], [2, 0, 0.1]], atol=1e-15)
    r = L.ldl_factor_ex(tg.tensor([[1.0, 2, 3], [2, 0.5, 1], [3, 1, -2]]))
    assert r.pivots.tolist() == [3, 3, 3]
    np.testing.assert_allclose(r.LD.numpy(), [[-2, 0, 0], [-0.5, 5.5, 0], [-1.5, 3.5 / 5.5, 1 - 3.5**2 / 5.5]])


def test_ldl_is_not_differentiable_and_reports_singular_d():
    x = tg.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
        L.ldl_factor(x).LD.sum().backward()
    assert L.ldl_factor_ex(tg.zeros(2, 2)).info.tolist() == 1
    with pytest.raises(L.LinAlgError, match="singular"):
        L.ldl_factor(tg.zeros(2, 2))
    with pytest.raises(RuntimeError, match="Incompatible matrix sizes for torch.linalg.ldl_solve"):
        L.ldl_solve(*L.ldl_factor(tg.eye(2)), tg.ones(3, 1))


@given(problems())
@settings(max_examples=10)
def test_ldl_matches_pytorch(p):
    torch = pytest.importorskip("torch")
    seed, batch, n, _ = p
    a = _symmetric_indefinite(seed, batch, n)
    b = np.random.default_rng(seed + 1).standard_normal(batch + (n, 2))
    ours, ref = L.ldl_factor_ex(tg.tensor(a)), torch.linalg.ldl_factor_ex(torch.tensor(a))
    assert ours.pivots.tolist() == ref.pivots.tolist() and ours.info.tolist() == ref.info.tolist()
    np.testing.assert_allclose(ours.LD.numpy(), ref.LD.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(L.ldl_solve(ours.LD, ours.pivots, tg.tensor(b)).numpy(),
                               torch.linalg.ldl_solve(ref.LD, ref.pivots, torch.tensor(b)).numpy(), rtol=1e-8,
                               atol=1e-10)


# ---------------------------------------------------------------------- empty matrices and batches
EMPTY_CASES = {
    "inv": lambda m, x: m.linalg.inv(x), "det": lambda m, x: m.linalg.det(x),
    "slogdet": lambda m, x: m.linalg.slogdet(x)[1], "solve": lambda m, x: m.linalg.solve(x, x),
    "cholesky": lambda m, x: m.linalg.cholesky(x), "svdvals": lambda m, x: m.linalg.svdvals(x),
    "eigvalsh": lambda m, x: m.linalg.eigvalsh(x), "qr": lambda m, x: m.linalg.qr(x)[1],
    "pinv": lambda m, x: m.linalg.pinv(x), "matrix_norm": lambda m, x: m.linalg.matrix_norm(x),
    "matrix_exp": lambda m, x: m.linalg.matrix_exp(x), "lu_factor": lambda m, x: m.linalg.lu_factor(x)[0],
    "lu": lambda m, x: m.linalg.lu(x)[0], "lu_solve": lambda m, x: m.linalg.lu_solve(*m.linalg.lu_factor(x), x),
    "ldl_factor": lambda m, x: m.linalg.ldl_factor(x)[0], "cond": lambda m, x: m.linalg.cond(x),
    "matrix_rank": lambda m, x: m.linalg.matrix_rank(x), "solve_triangular":
        lambda m, x: m.linalg.solve_triangular(x, x, upper=False),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CASES))
@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (0, 2, 2)])
def test_empty_matrices_and_batches(name, shape):
    out = EMPTY_CASES[name](tg, tg.zeros(shape, dtype=tg.float64))
    torch = pytest.importorskip("torch")
    ref = EMPTY_CASES[name](torch, torch.zeros(shape, dtype=torch.float64))
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_second_order_of_decompositions_and_norms():
    r, w = well_conditioned(2, (), 4, 3), well_conditioned(3, (), 3, 4)
    a, s = well_conditioned(1, (2,), 3), spd(4, (2,), 3)
    for fn, x in [(lambda x: (lambda q: (q.U * q.S.unsqueeze(-2)) @ q.Vh)(L.svd(x, full_matrices=False)), r),
                  (lambda x: L.svd(x, full_matrices=False).U.abs(), w), (lambda x: L.qr(x).Q, r),
                  (lambda x: L.qr(x).R, w), (lambda x: L.eigh(sym(x)).eigenvectors.abs(), s),
                  (lambda x: L.lu(x).L, a), (lambda x: L.lu_factor(x).LU, r), (L.matrix_exp, a),
                  (lambda x: L.vector_norm(x, 3), a), (lambda x: L.vector_norm(x, INF, dim=-1), a),
                  (lambda x: L.cholesky(sym(x), upper=True), s), (lambda x: L.lstsq(x, x[..., :2]).solution, r)]:
        assert gradgradcheck(fn, (leaf(x),), atol=1e-5, rtol=1e-3)


def test_matrix_exp_of_a_nonfinite_matrix_is_nan_and_the_others_are_unchanged():
    # found by the differential test: an inf made the scaling exponent int(inf) (OverflowError); PyTorch gives nan
    good = np.array([[1.0, 2.0], [3.0, 4.0]])
    for bad in ([[3.0, 1.5], [-math.inf, 0.0]], [[3.0, math.nan], [1.0, 0.0]]):
        with np.errstate(invalid="ignore"):  # inf * 0 in the Pade products
            out = tg.linalg.matrix_exp(tg.tensor(np.stack([good, np.array(bad)]))).numpy()
        assert np.isnan(out[1]).all()
        np.testing.assert_allclose(out[0], tg.linalg.matrix_exp(tg.tensor(good)).numpy(), rtol=1e-12)
