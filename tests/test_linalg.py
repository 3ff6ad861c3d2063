"""Linear algebra: matmul over every shape combination, mm/bmm/mv/dot/outer/inner, and einsum."""

import math
import re

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd import gradgradcheck
from tapegrad.testing import arrays, assert_forward, assert_gradients, broadcastable_shapes


def value_error(pattern):
    return pytest.raises(ValueError, match=pattern)


# ---------------------------------------------------------------------- matmul
@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) for matmul: vectors, matrices, batches, and batches that broadcast (some missing)."""
    batch_a, batch_b = draw(broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a = (k,) if draw(st.booleans()) else tuple(batch_a) + (m, k)
    b = (k,) if draw(st.booleans()) else tuple(batch_b) + (k, n)
    return a, b


SHAPE_PAIRS = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)),
               ((2, 1, 2, 3), (5, 3, 4)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,)), ((2, 2, 3), (3, 4)),
               ((2, 3), (2, 3, 4)), ((1, 2, 3), (4, 3, 2)), ((2, 4, 2, 3), (3, 1))]


@given(matmul_shapes(), st.data())
def test_matmul_gradient_over_shape_combinations(shapes, data):
    a = data.draw(arrays(shapes[0]))
    b = data.draw(arrays(shapes[1]))
    assert_gradients(tg.matmul, a, b)
    assert_gradients(lambda x, y: x @ y, a, b, wrt=(0,))
    assert_gradients(lambda x, y: x @ y, a, b, wrt=(1,))


@given(matmul_shapes(), st.data())
def test_matmul_forward_matches_numpy(shapes, data):
    a = data.draw(arrays(shapes[0]))
    b = data.draw(arrays(shapes[1]))
    for dtype in (np.float32, np.float64):
        assert_forward(tg.matmul, np.matmul, a, b, dtype=dtype, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_matmul_each_shape_combination_first_and_second_order(shapes):
    rng = np.random.default_rng(0)
    a, b = (tg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes)
    out = a @ b
    assert out.shape == np.matmul(a.detach().numpy(), b.detach().numpy()).shape
    assert gradgradcheck(tg.matmul, (a, b))


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_matmul_dtypes(dtype):
    a = tg.ones(2, 3, dtype=dtype, requires_grad=True)
    b = tg.ones(3, 4, dtype=dtype, requires_grad=True)
    out = a @ b
    assert out.dtype == dtype
    out.sum().backward()
    assert a.grad.dtype == dtype and b.grad.dtype == dtype
    ints = tg.tensor([[1, 2]]) @ tg.tensor([[3], [4]])
    assert ints.dtype == tg.int64 and ints.tolist() == [[11]]


MIXED_DTYPES = {
    "matmul": lambda a, b: tg.matmul(a, b),
    "@": lambda a, b: a @ b,
    "Tensor.matmul": lambda a, b: a.matmul(b),
    "mm": lambda a, b: tg.mm(a, b),
    "bmm": lambda a, b: tg.bmm(a.unsqueeze(0), b.unsqueeze(0)),
    "mv": lambda a, b: tg.mv(a, b[:, 0]),
    "dot": lambda a, b: tg.dot(a[0], b[:, 0]),
}


@pytest.mark.parametrize("name", sorted(MIXED_DTYPES))
@pytest.mark.parametrize("dtypes", [(tg.float32, tg.float64), (tg.float64, tg.float32), (tg.float32, tg.int64),
                                    (tg.int32, tg.int64)], ids=lambda d: f"{d[0]}-{d[1]}")
def test_matrix_products_refuse_mixed_dtypes_as_pytorch(name, dtypes):
    # PyTorch: "expected m1 and m2 to have the same dtype, but got: float != double" (no promotion)
    a, b = tg.ones(2, 2, dtype=dtypes[0]), tg.ones(2, 2, dtype=dtypes[1])
    op = {"@": "matmul", "Tensor.matmul": "matmul"}.get(name, name)
    with pytest.raises(RuntimeError, match=rf"^{op}: expected both operands to have the same dtype, got "
                                           rf"{dtypes[0]} and {dtypes[1]}"):
        MIXED_DTYPES[name](a, b)
    assert MIXED_DTYPES[name](a, b.to(dtypes[0])).dtype == dtypes[0]  # after a cast it works


def test_matmul_computes_only_the_needed_gradients():
    a = tg.ones(4, 2, 3, requires_grad=True)
    w = tg.ones(3, 5)
    (a @ w).sum().backward()
    assert a.grad.tolist() == np.full((4, 2, 3), 5.0).tolist() and w.grad is None
    b = tg.ones(3, 5, requires_grad=True)
    (tg.ones(4, 2, 3) @ b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.full((3, 5), 8.0))


def test_matmul_operator_forms():
    a = np.arange(6.0).reshape(2, 3)
    x = tg.tensor(a)
    np.testing.assert_allclose((x @ x.T).numpy(), a @ a.T)
    np.testing.assert_allclose((a.T @ x).numpy(), a.T @ a)  # numpy array @ Tensor -> Tensor.__rmatmul__
    np.testing.assert_allclose(x.matmul(tg.tensor(a.T)).numpy(), a @ a.T)
    assert (tg.ones(3) @ tg.ones(3)).shape == ()


def test_matmul_errors_name_op_and_shapes():
    with value_error(r"^matmul: cannot multiply \(2, 3\) by \(4, 5\): inner sizes 3 and 4 "
                                         r"differ$"):
        tg.ones(2, 3) @ tg.ones(4, 5)
    with value_error(r"matmul: cannot multiply \(3,\) by \(4,\): inner sizes 3 and 4"):
        tg.matmul(tg.ones(3), tg.ones(4))
    with value_error(r"matmul: cannot multiply \(2, 3\) by \(2,\): inner sizes 3 and 2"):
        tg.matmul(tg.ones(2, 3), tg.ones(2))
    with value_error(r"matmul: both arguments need at least 1 dimension, got shapes \(\) "
                                         r"and \(3,\)"):
        tg.matmul(tg.tensor(2.0), tg.ones(3))
    with value_error(r"matmul: cannot broadcast the batch dimensions of \(2, 2, 3\) and "
                                         r"\(3, 3, 4\)"):
        tg.ones(2, 2, 3) @ tg.ones(3, 3, 4)


# ---------------------------------------------------------------------- mm, bmm, mv
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.data())
def test_mm_forward_and_gradient(n, m, p, data):
    a = data.draw(arrays((n, m)))
    b = data.draw(arrays((m, p)))
    assert_gradients(tg.mm, a, b)
    assert_forward(lambda x, y: x.mm(y), np.matmul, a, b, dtype=np.float32, rtol=1e-5, atol=1e-5)


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.data())
def test_bmm_forward_and_gradient(batch, n, m, p, data):
    a = data.draw(arrays((batch, n, m)))
    b = data.draw(arrays((batch, m, p)))
    assert_gradients(tg.bmm, a, b)
    assert_forward(lambda x, y: x.bmm(y), np.matmul, a, b, dtype=np.float32, rtol=1e-5, atol=1e-5)


@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_mv_forward_and_gradient(n, m, data):
    a = data.draw(arrays((n, m)))
    v = data.draw(arrays((m,)))
    assert_gradients(tg.mv, a, v)
    assert_forward(lambda x, y: x.mv(y), np.matmul, a, v, dtype=np.float64)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_mm_bmm_dtypes_and_second_order(dtype):
    assert tg.mm(tg.ones(2, 3, dtype=dtype), tg.ones(3, 2, dtype=dtype)).dtype == dtype
    assert tg.bmm(tg.ones(1, 2, 3, dtype=dtype), tg.ones(1, 3, 2, dtype=dtype)).dtype == dtype
    assert tg.mv(tg.ones(2, 3, dtype=dtype), tg.ones(3, dtype=dtype)).dtype == dtype
    x = tg.ones(2, 3, dtype=dtype, requires_grad=True)
    tg.bmm(x[None], x.mT[None]).sum().backward()
    assert x.grad.dtype == dtype
    rng = np.random.default_rng(1)
    a = tg.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    assert gradgradcheck(tg.bmm, (a, b))
    assert gradgradcheck(lambda x, y: tg.mm(x[0], y[1]), (a, b))


def test_mm_bmm_mv_errors():
    with value_error(r"^mm: expected two 2-D matrices, got shapes \(3,\) and \(3, 4\)$"):
        tg.mm(tg.ones(3), tg.ones(3, 4))
    with value_error(r"mm: expected two 2-D matrices, got shapes \(2, 2, 3\) and \(3, 4\)"):
        tg.mm(tg.ones(2, 2, 3), tg.ones(3, 4))
    with value_error(r"^mm: cannot multiply \(2, 3\) by \(4, 5\): inner sizes 3 and 4 differ$"):
        tg.mm(tg.ones(2, 3), tg.ones(4, 5))
    with value_error(r"bmm: expected two 3-D batches of matrices, got shapes \(2, 3\) and "
                                         r"\(2, 3, 4\)"):
        tg.bmm(tg.ones(2, 3), tg.ones(2, 3, 4))
    with value_error(r"bmm: cannot multiply \(2, 2, 3\) by \(3, 3, 4\): batch sizes 2 and 3 "
                                         r"differ"):
        tg.bmm(tg.ones(2, 2, 3), tg.ones(3, 3, 4))
    with value_error(r"bmm: cannot multiply \(2, 2, 3\) by \(2, 4, 4\): inner sizes 3 and 4"):
        tg.bmm(tg.ones(2, 2, 3), tg.ones(2, 4, 4))
    with value_error(r"mv: expected a 2-D matrix and a 1-D vector, got shapes \(2, 3\) and "
                                         r"\(3, 1\)"):
        tg.mv(tg.ones(2, 3), tg.ones(3, 1))
    with value_error(r"mv: cannot multiply \(2, 3\) by \(4,\): inner sizes 3 and 4 differ"):
        tg.mv(tg.ones(2, 3), tg.ones(4))


# ---------------------------------------------------------------------- dot, outer/ger, inner
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_dot_outer_forward_and_gradient(n, m, data):
    a = data.draw(arrays((n,)))
    b = data.draw(arrays((n,)))
    c = data.draw(arrays((m,)))
    assert_gradients(tg.dot, a, b)
    assert_gradients(tg.outer, a, c)
    assert_gradients(lambda x, y: x.ger(y), a, c, wrt=(1,))
    for dtype in (np.float32, np.float64):
        assert_forward(tg.dot, np.dot, a, b, dtype=dtype, rtol=1e-5, atol=1e-5)
        assert_forward(lambda x, y: x.outer(y), np.outer, a, c, dtype=dtype)
        assert_forward(tg.ger, np.outer, a, c, dtype=dtype)


@given(broadcastable_shapes(num_shapes=2, max_dims=2), st.integers(1, 4), st.data())
def test_inner_forward_and_gradient(lead, k, data):
    a = data.draw(arrays(tuple(lead[0]) + (k,)))
    b = data.draw(arrays(tuple(lead[1]) + (k,)))
    assert_gradients(tg.inner, a, b)
    for dtype in (np.float32, np.float64):
        assert_forward(lambda x, y: x.inner(y), np.inner, a, b, dtype=dtype, rtol=1e-5, atol=1e-5)


def test_inner_with_a_scalar_multiplies():
    assert tg.inner(tg.tensor(2.0), tg.ones(2, 3)).tolist() == [[2.0] * 3] * 2


def test_vector_products_dtypes_and_second_order():
    for dtype in (tg.float32, tg.float64):
        assert tg.dot(tg.ones(3, dtype=dtype), tg.ones(3, dtype=dtype)).dtype == dtype
        assert tg.outer(tg.ones(3, dtype=dtype), tg.ones(2, dtype=dtype)).dtype == dtype
    assert tg.dot(tg.tensor([1, 2]), tg.tensor([3, 4])).item() == 11
    rng = np.random.default_rng(2)
    a = tg.tensor(rng.standard_normal(3), requires_grad=True)
    b = tg.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradgradcheck(lambda x, y: tg.dot(x, y) ** 2, (a, b))
    assert gradgradcheck(tg.outer, (a, b))


def test_vector_product_errors():
    with value_error(r"^dot: expected two 1-D tensors, got shapes \(2, 3\) and \(3,\)$"):
        tg.dot(tg.ones(2, 3), tg.ones(3))
    with value_error(r"^dot: cannot multiply \(3,\) by \(4,\): sizes 3 and 4 differ$"):
        tg.dot(tg.ones(3), tg.ones(4))
    with value_error(r"outer: expected two 1-D tensors, got shapes \(3,\) and \(2, 2\)"):
        tg.outer(tg.ones(3), tg.ones(2, 2))
    with value_error(r"inner: cannot multiply \(2, 3\) by \(4,\): last sizes 3 and 4 differ"):
        tg.inner(tg.ones(2, 3), tg.ones(4))


# ---------------------------------------------------------------------- empty operands
@st.composite
def empty_products(draw):
    """(op name, operand shapes) of a product with at least one size-0 dimension."""
    name = draw(st.sampled_from(["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "einsum"]))
    side = st.integers(0, 2)
    m, k, n = draw(side), draw(side), draw(side)
    batch = draw(st.lists(side, max_size=2))
    if name == "matmul":
        a = (k,) if draw(st.booleans()) else tuple(batch) + (m, k)
        b = (k,) if draw(st.booleans()) else tuple(draw(st.lists(side, max_size=2))[-len(batch):]) + (k, n)
        shapes = [a, b]
    else:
        shapes = {"mm": [(m, k), (k, n)], "bmm": [(m, n, k), (m, k, n)], "mv": [(m, k), (k,)],
                  "dot": [(k,), (k,)], "inner": [tuple(batch) + (k,), (m, k)], "outer": [(m,), (n,)],
                  "einsum": [(m, k), (k, n)]}[name]
    assume(0 in sum(shapes, ()))
    return name, shapes


def _call(lib, name, tensors):
    if name == "einsum":
        return lib.einsum("ij,jk->ik", *tensors)
    return getattr(lib, name)(*tensors)


EMPTY_EDGES = [("matmul", [(2, 2, 0), (0, 2)]),  # the folded (N, k) @ (k, n) path with k = 0
               ("matmul", [(2, 0, 2), (2, 0)]),  # ... with N = 0: its backward crashed
               ("matmul", [(0, 2, 2), (2, 3)]), ("inner", [(2, 2, 0), (2, 0)])]


def _examples(cases):
    def pin(test):
        for case in cases:
            test = example(case)(test)
        return test

    return pin


@given(empty_products())
@_examples(EMPTY_EDGES)
def test_products_of_empty_operands_compute_zeros(case):
    name, shapes = case
    arrays = [np.ones(s) for s in shapes]
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    try:
        want = _call(np, "matmul" if name in ("mm", "bmm", "mv", "dot", "einsum") else name, arrays)
    except ValueError:  # numpy refuses these shapes (broadcast batches): so must tapegrad
        with pytest.raises(ValueError):
            _call(tg, name, xs)
        return
    y = _call(tg, name, xs)
    np.testing.assert_array_equal(y.detach().numpy(), want)
    y.backward(tg.ones_like(y))
    for x, a in zip(xs, arrays, strict=True):
        assert x.grad.shape == a.shape
        if y.numel() == 0 or name != "outer" and 0 in a.shape[-1:]:  # nothing flows back: zeros
            np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(a))


@given(empty_products())
@_examples(EMPTY_EDGES)
def test_products_of_empty_operands_as_pytorch(case):
    torch = pytest.importorskip("torch")
    name, shapes = case
    arrays = [np.ones(s) for s in shapes]
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    try:
        out = _call(torch, name, ts)
    except RuntimeError:
        with pytest.raises((ValueError, RuntimeError)):
            _call(tg, name, xs)
        return
    y = _call(tg, name, xs)
    out.backward(torch.ones_like(out))
    y.backward(tg.ones_like(y))
    np.testing.assert_array_equal(y.detach().numpy(), out.detach().numpy())
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


# ---------------------------------------------------------------------- dtypes PyTorch refuses
PRODUCTS = {  # op: (call, shapes of its operands)
    "matmul": (tg.matmul, [(2, 3), (3, 4)]),
    "mm": (tg.mm, [(2, 3), (3, 4)]),
    "bmm": (tg.bmm, [(2, 2, 3), (2, 3, 4)]),
    "mv": (tg.mv, [(2, 3), (3,)]),
    "dot": (tg.dot, [(3,), (3,)]),
    "inner": (tg.inner, [(2, 3), (4, 3)]),
}


@given(matmul_shapes())
@example(((3,), (3,)))
@example(((2, 3), (3,)))
@example(((1, 3), (2, 3, 4)))
def test_bool_matmul_is_refused_for_every_shape_combination(shapes):
    a, b = (tg.ones(*s, dtype=tg.bool) for s in shapes)
    with pytest.raises(NotImplementedError, match=r"^matmul: not implemented for bool tensors \(got bool and "
                                                    rf"bool, shapes {re.escape(str(tuple(shapes[0])))}"):
        a @ b
    assert (a.int() @ b.int()).dtype == tg.int32  # after a cast it works


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_bool_products_are_refused_as_pytorch(name):
    fn, shapes = PRODUCTS[name]
    with pytest.raises(NotImplementedError, match=rf"^{name}: not implemented for bool tensors"):
        fn(*[tg.ones(*s, dtype=tg.bool) for s in shapes])
    assert tg.outer(tg.tensor([True, False]), tg.tensor([True])).tolist() == [[True], [False]]  # a product
    torch = pytest.importorskip("torch")
    with pytest.raises(NotImplementedError):
        getattr(torch, name)(*[torch.ones(*s, dtype=torch.bool) for s in shapes])


def test_inner_refuses_mixed_dtypes_but_a_scalar_operand_promotes_as_pytorch():
    with pytest.raises(RuntimeError, match=r"^inner: expected both operands to have the same dtype, got float32 "
                                           r"and float64"):
        tg.inner(tg.zeros(2), tg.zeros(2, dtype=tg.float64))
    assert tg.inner(tg.tensor(2.0), tg.ones(2, dtype=tg.float64)).dtype == tg.float64
    assert tg.inner(tg.tensor(True), tg.tensor([True, False])).tolist() == [True, False]
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.inner(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    assert torch.inner(torch.tensor(2.0), torch.ones(2, dtype=torch.float64)).dtype == torch.float64


# ---------------------------------------------------------------------- einsum
EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]),
    ("ij->i", [(2, 3)]), ("ij->j", [(2, 3)]), ("i,j->ij", [(2,), (3,)]), ("i,i->", [(3,), (3,)]),
    ("i,i->i", [(3,), (3,)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]), ("iij->j", [(2, 2, 3)]),
    ("iii->i", [(2, 2, 2)]), ("ii,i->i", [(3, 3), (3,)]), ("ij,ij->ij", [(2, 1), (2, 3)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("bij,bkj->bik", [(2, 2, 3), (2, 4, 3)]),
    ("...ij,...jk", [(2, 2, 3), (3, 4)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("...i->i", [(2, 3, 4)]), ("i...->...", [(2, 3, 4)]), ("a...,...b", [(2, 3), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("i,i,i->", [(3,), (3,), (3,)]),
    ("ijk,ikl->ijl", [(2, 3, 2), (2, 2, 4)]), ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 4, 2)]),
    (" i j -> j i ", [(2, 3)]), ("Ab,bc", [(2, 3), (3, 4)]),
    ("ij,j", [(2, 3), (3,)]), ("ijkl->lkji", [(1, 2, 3, 2)]), ("ij,kl->ijkl", [(2, 1), (1, 3)]),
]


@pytest.mark.parametrize("equation,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_forward_gradient_and_dtype(equation, shapes):
    rng = np.random.default_rng(len(equation))
    xs = [rng.standard_normal(s) for s in shapes]
    assert_gradients(lambda *t: tg.einsum(equation, *t), *xs)
    if "..." in equation and "->" in equation and "..." not in equation.split("->")[1]:
        return  # PyTorch sums '...' dims left out of the output; numpy refuses this equation
    for dtype in (np.float32, np.float64):
        assert_forward(lambda *t: tg.einsum(equation, *t),
                       lambda *a: np.einsum(equation.replace(" ", ""), *a), *xs, dtype=dtype, rtol=1e-5,
                       atol=1e-5)


@pytest.mark.parametrize("equation,shapes", [e for e in EQUATIONS if e[0] in (
    "ij,jk->ik", "ii", "ii->i", "iij->j", "ij->i", "ij,ij->ij", "...ij,...jk", "ij,jk,kl->il", "i,i,i->")],
    ids=str)
def test_einsum_gradgradcheck(equation, shapes):
    rng = np.random.default_rng(3)
    xs = [tg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert gradgradcheck(lambda *t: tg.einsum(equation, *t), tuple(xs))


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.data())
def test_einsum_batched_matmul_property(b, m, k, data):
    x = data.draw(arrays((b, m, k)))
    y = data.draw(arrays((b, k, 2)))
    assert_gradients(lambda p, q: tg.einsum("bmk,bkn->bmn", p, q), x, y)
    assert_gradients(lambda p: tg.einsum("bmk->kb", p), x)


def test_einsum_argument_forms():
    a, b = tg.ones(2, 3), tg.ones(3)
    assert tg.einsum("ij,j->i", [a, b]).tolist() == [3.0, 3.0]  # operands as one list
    assert tg.einsum(a, [0, 1], b, [1], [0]).tolist() == [3.0, 3.0]  # numpy's sublist form
    assert tg.einsum(a, [Ellipsis, 1], b, [1]).tolist() == [3.0, 3.0]
    # sublist integers 0-25 are A-Z and 26-51 a-z (numpy's and PyTorch's), so an implicit output orders them
    assert tg.einsum(tg.ones(2, 3), [26, 0]).shape == (3, 2) and tg.einsum(tg.ones(2, 3), [0, 26]).shape == (2, 3)
    assert tg.einsum("bB,Ba", tg.ones(2, 3), tg.ones(3, 4)).shape == (4, 2)  # implicit output: sorted
    mixed = tg.einsum("i,j->ij", tg.ones(3), tg.ones(2, dtype=tg.float64))  # a product: promoted
    assert mixed.dtype == tg.float64
    with pytest.raises(RuntimeError, match="einsum: 'i,i->' contracts operands of dtypes float32 and float64"):
        tg.einsum("i,i->", tg.ones(3), tg.ones(3, dtype=tg.float64))  # a contraction: PyTorch refuses
    assert tg.einsum("i,i->", tg.tensor([1, 2]), tg.tensor([3, 4])).item() == 11
    assert tg.einsum("ij,jk->ik", tg.ones(64, 64), tg.ones(64, 1200)).shape == (64, 1200)  # optimized path


EINSUM_DTYPES = [tg.bool, tg.uint8, tg.int8, tg.int16, tg.int32, tg.int64, tg.float16, tg.float32, tg.float64]


def _einsum_dtype_or_error(lib, equation, shapes, dts):
    ops = [lib.tensor((np.arange(int(np.prod(s))) % 3).reshape(s)).to(getattr(lib, str(d).split(".")[-1]))
           for s, d in zip(shapes, dts, strict=True)]
    try:
        return str(lib.einsum(equation, *ops).dtype).split(".")[-1]
    except NotImplementedError:
        return "NotImplementedError"
    except RuntimeError:
        return "RuntimeError"


@st.composite
def einsum_dtype_cases(draw):
    equation, shapes = draw(st.sampled_from(EQUATIONS))
    dts = draw(st.lists(st.sampled_from(EINSUM_DTYPES), min_size=len(shapes), max_size=len(shapes)))
    if draw(st.booleans()):
        dts = [dts[0]] * len(dts)
    return equation, shapes, dts


EINSUM_DTYPE_EDGES = [
    ("i->", [(2,)], [tg.int32], "int64"),  # a sum of integers is int64 (was int32)
    ("ii", [(2, 2)], [tg.bool], "int64"),
    ("ij,j->", [(2, 3), (3,)], [tg.int32, tg.int32], "RuntimeError"),  # i summed first (int64), then int64 @ int32
    ("ij,k->i", [(2, 3), (4,)], [tg.int32, tg.int32], "int64"),  # both summed first, then multiplied
    ("i,i->", [(3,), (3,)], [tg.int32, tg.int32], "int32"),  # a contraction keeps the dtype
    ("i,i->", [(3,), (3,)], [tg.bool, tg.bool], "NotImplementedError"),  # a contraction of bools
    ("i,i->", [(3,), (3,)], [tg.int32, tg.bool], "RuntimeError"),  # ... of two dtypes
    ("i,i->", [(3,), (3,)], [tg.bool, tg.int32], "NotImplementedError"),  # the first operand's dtype is checked first
    ("i,i->i", [(3,), (3,)], [tg.bool, tg.bool], "bool"),  # a product of bools: bool
    ("i,j->ij", [(2,), (3,)], [tg.int8, tg.uint8], "int16"),  # a product promotes
    ("i,i,i->", [(3,), (3,), (3,)], [tg.uint8, tg.uint8, tg.int8], "RuntimeError"),
]


@pytest.mark.parametrize("equation, shapes, dts, want", EINSUM_DTYPE_EDGES, ids=lambda v: str(v))
def test_einsum_dtypes_follow_pytorchs_contraction_steps(equation, shapes, dts, want):
    assert _einsum_dtype_or_error(tg, equation, shapes, dts) == want


@given(einsum_dtype_cases())
def test_einsum_dtypes_are_pytorchs(case):
    torch = pytest.importorskip("torch")
    equation, shapes, dts = case
    assert _einsum_dtype_or_error(tg, equation, shapes, dts) == _einsum_dtype_or_error(torch, equation, shapes, dts)


def test_einsum_of_two_float_dtypes_promotes_a_product_and_sends_gradients_back_in_each_dtype():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0, 5.0], dtype=tg.float64, requires_grad=True)
    out = tg.einsum("i,j->ij", a, b)
    assert out.dtype == tg.float64
    out.sum().backward()
    assert a.grad.dtype == tg.float32 and a.grad.tolist() == [12.0, 12.0]
    assert b.grad.dtype == tg.float64 and b.grad.tolist() == [3.0, 3.0, 3.0]
    assert tg.einsum("i->", tg.tensor([2**31 - 1, 1], dtype=tg.int32)).item() == 2**31  # summed in int64


def test_einsum_of_one_operand_without_a_sum_is_a_view_as_pytorch():
    x = tg.zeros(2, 3)
    tg.einsum("ij->ji", x)[0, 1] = 5.0  # a permutation: writes reach the operand
    d = tg.zeros(3, 3)
    tg.einsum("ii->i", d).add_(1)  # a diagonal
    assert x.tolist() == [[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]] and d.tolist() == np.eye(3).tolist()
    w = tg.ones(2, 3, requires_grad=True)
    v = w * 1
    e = tg.einsum("ij->ji", v)
    e.mul_(2)
    e.sum().backward()
    assert v.grad_fn.name() == "torch::autograd::CopySlices" and w.grad.tolist() == [[2.0] * 3] * 2  # PyTorch's numbers
    s = tg.einsum("ij->i", x)  # a sum: a new tensor
    s.add_(1)
    assert x.tolist() == [[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]]


def test_einsum_computes_only_needed_gradients():
    a = tg.ones(2, 3, requires_grad=True)
    b = tg.ones(3, 4)
    tg.einsum("ij,jk->ik", a, b).sum().backward()
    assert a.grad.tolist() == [[4.0] * 3] * 2 and b.grad is None


def test_einsum_errors():
    with value_error(r"einsum: the equation 'ij,jk' has 2 operand term\(s\) but 1 operand"):
        tg.einsum("ij,jk", tg.ones(2, 3))
    with value_error(r"einsum: subscript 'j' has size 3 in operand 0 \(shape \(2, 3\)\) but "
                                         r"size 4 in operand 1 \(shape \(4, 5\)\)"):
        tg.einsum("ij,jk->ik", tg.ones(2, 3), tg.ones(4, 5))
    with value_error(r"einsum: subscript 'i' has size 2 in operand 0 .* but size 3 in "
                                         r"operand 0"):
        tg.einsum("ii->i", tg.ones(2, 3))
    with value_error(r"einsum: operand 0 has 1 dimension\(s\) but its subscripts 'ij' name 2"):
        tg.einsum("ij->i", tg.ones(3))
    with value_error(r"einsum: operand 0 has 1 dimension\(s\) but its subscripts '...ij'"):
        tg.einsum("...ij->i", tg.ones(3))
    with value_error(r"einsum: invalid subscript '1' in 'i1->i'"):
        tg.einsum("i1->i", tg.ones(3, 1))
    with value_error(r"einsum: output subscript 'i' appears more than once"):
        tg.einsum("i->ii", tg.ones(3))
    with value_error(r"einsum: output subscript 'j' does not appear in any operand"):
        tg.einsum("i->j", tg.ones(3))
    with value_error(r"einsum: the equation 'i->i->i' has more than one '->'"):
        tg.einsum("i->i->i", tg.ones(3))
    with value_error(r"einsum: sublists hold integers 0 to 51 and Ellipsis, got \[60\]"):
        tg.einsum(tg.ones(3), [60])
    with pytest.raises(TypeError, match="einsum: operand 1 must be a Tensor, got list"):
        tg.einsum("i,i", tg.ones(3), [1.0, 2.0, 3.0])
    with value_error("einsum: at least one operand is needed"):
        tg.einsum("i")


# ---------------------------------------------------------------------- optional cross-check against PyTorch
def test_matches_pytorch_numbers():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    cases = [("matmul", s) for s in SHAPE_PAIRS] + [("einsum", e) for e in EQUATIONS]
    for kind, spec in cases:
        if kind == "matmul":
            values = [rng.standard_normal(s) for s in spec]

            def fn(lib, *t):
                return lib.matmul(*t)
        else:
            equation, shapes = spec
            values = [rng.standard_normal(s) for s in shapes]

            def fn(lib, *t, equation=equation):
                return lib.einsum(equation, *t)
        ts = [torch.tensor(a, requires_grad=True) for a in values]
        xs = [tg.tensor(a, requires_grad=True) for a in values]
        yt, yx = fn(torch, *ts), fn(tg, *xs)
        np.testing.assert_allclose(yx.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        w = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(w))
        yx.backward(tg.tensor(w))
        for t, x in zip(ts, xs, strict=True):
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_docstring_examples():
    import doctest

    import tapegrad.ops.linalg as module

    assert doctest.testmod(module).failed == 0


# ---------------------------------------------------------------------- node names
@st.composite
def product_operands(draw):
    """(a shape, b shape, a requires grad, b requires grad) for matmul, batch sizes of one included."""
    batch_a, batch_b = draw(broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    m, k, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    a = (k,) if draw(st.booleans()) else tuple(batch_a) + (m, k)
    b = (k,) if draw(st.booleans()) else tuple(batch_b) + (k, n)
    return a, b, draw(st.booleans()), draw(st.booleans())


@given(product_operands())
@example(((1, 2, 3), (4, 3, 2), True, False))  # PyTorch squeezes a's batch of one, folds, and copies back
@example(((1, 2, 3), (4, 3, 1), True, True))  # ... where the transpose is contiguous: no copy
@example(((2, 3), (4, 3, 2), True, False))
@example(((2, 3), (4, 3, 2), False, True))
def test_matmul_node_names_are_pytorchs(case):
    torch = pytest.importorskip("torch")
    sa, sb, ga, gb = case
    if not (ga or gb):
        ga = True
    ours = tg.matmul(tg.ones(*sa, requires_grad=ga), tg.ones(*sb, requires_grad=gb))
    theirs = torch.matmul(torch.ones(*sa, requires_grad=ga), torch.ones(*sb, requires_grad=gb))
    assert ours.grad_fn.name() == theirs.grad_fn.name()


@pytest.mark.parametrize("b_grad", [False, True])
def test_matmul_squeezes_bs_batch_of_one_when_b_requires_grad(b_grad):
    # PyTorch's _matmul_impl squeezes b's batch of one where b requires grad, then folds a into one gemm, whose one
    # term keeps each product's sign of zero (2.6 * -0.0 is -0.0); without grad it runs bmm, which sums from +0.0
    a = np.array([[[-2.2], [-1.9], [2.6]], [[0.05], [1.3], [0.05]]])
    b = np.array([[[-0.0, 1.0]]])
    out = tg.tensor(a).matmul(tg.tensor(b, requires_grad=b_grad))
    negative_zero = (a[..., 0] > 0) & b_grad  # a positive a times -0.0, kept only by the folded gemm
    np.testing.assert_array_equal(np.signbit(out.detach().numpy()[..., 0]), negative_zero)
    if b_grad:
        out.sum().backward()
    torch = pytest.importorskip("torch")
    t = torch.tensor(b, requires_grad=b_grad)
    want = torch.tensor(a).matmul(t)
    np.testing.assert_array_equal(np.signbit(out.detach().numpy()), np.signbit(want.detach().numpy()))


def test_product_node_names_are_pytorchs():
    torch = pytest.importorskip("torch")
    calls = [("mm", [(2, 3), (3, 4)]), ("bmm", [(2, 2, 3), (2, 3, 4)]), ("mv", [(2, 3), (3,)]),
             ("dot", [(3,), (3,)]), ("outer", [(3,), (2,)]), ("ger", [(3,), (2,)])]
    for name, shapes in calls:
        ours = getattr(tg, name)(*[tg.ones(*s, requires_grad=True) for s in shapes])
        theirs = getattr(torch, name)(*[torch.ones(*s, requires_grad=True) for s in shapes])
        assert ours.grad_fn.name() == theirs.grad_fn.name(), name
    for equation, shapes in EQUATIONS:
        ours = tg.einsum(equation, *[tg.ones(*s, requires_grad=True) for s in shapes])
        theirs = torch.einsum(equation, *[torch.ones(*s, requires_grad=True) for s in shapes])
        assert ours.grad_fn.name() == theirs.grad_fn.name(), equation


@pytest.mark.parametrize("equation, shapes", [("ii", [(3, 3)]), ("ii->i", [(2, 2)]),
                                              ("iij,jk->ik", [(2, 2, 3), (3, 2)]), ("iii", [(2, 2, 2)])])
@pytest.mark.parametrize("fill", [float("inf"), -float("inf"), float("nan"), -2.0])
def test_einsum_diagonal_gradient_is_plus_zero_off_the_diagonal(equation, shapes, fill):
    # as PyTorch's diagonal backward: g is written into zeros, never multiplied by the identity's zeros
    # (inf * 0 = nan, -2 * 0 = -0.0 there before)
    ops = [tg.tensor(np.arange(np.prod(s), dtype=np.float64).reshape(s), requires_grad=True) for s in shapes]
    out = tg.einsum(equation, *ops)
    out.backward(tg.full(out.shape, fill, dtype=tg.float64))
    g = ops[0].grad.numpy()
    repeats = equation.split("->")[0].split(",")[0].count("i")
    eye = np.zeros(shapes[0], dtype=bool)
    for i in range(shapes[0][0]):
        eye[(i,) * repeats] = True
    off = g[~eye]
    assert (off == 0).all() and not np.signbit(off).any()
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(o.detach().numpy(), requires_grad=True) for o in ops]
    tout = torch.einsum(equation, *ts)
    tout.backward(torch.full(tout.shape, fill, dtype=torch.float64))
    np.testing.assert_array_equal(g, ts[0].grad.numpy())


@given(lead=st.sampled_from([(), (1,), (2,), (2, 3)]), data=st.data())
@example(lead=(2, 1), data=None)
def test_inner_of_size_one_reads_a_sum_of_input_not_input(lead, data):
    """PyTorch's inner is tensordot, which sums a contracted dim of size 1 of ``other`` away in ``input`` before
    its mm (aten/src/ATen/native/Linear.cpp): ``other``'s gradient reads that sum, a new tensor, so writing into
    ``input`` after the forward leaves the backward as it was; writing into ``other`` (read by ``input``'s
    gradient) refuses it."""
    a0 = (np.arange(math.prod(lead), dtype=np.float64).reshape(lead + (1,)) - 1.5 if data is None
          else data.draw(arrays(lead + (1,), np.float64)))
    a = tg.tensor(a0)
    b = tg.tensor([0.5], dtype=tg.float64, requires_grad=True)
    y = tg.inner(a, b)
    with tg.no_grad():
        a.fill_(-3)
    y.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [(a0 + 0.0).sum()])
    a = tg.tensor(a0, requires_grad=True)
    y = tg.inner(a, b)
    with tg.no_grad():
        b.fill_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_inner_of_size_one_written_after_forward_as_pytorch():
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (tg, torch):
        a = lib.tensor([[[0.0]], [[2.0]]], dtype=lib.float32)
        b = lib.tensor([0.5], dtype=lib.float32, requires_grad=True)
        y = lib.inner(a, b)
        assert y.grad_fn.name() == "ViewBackward0"
        a.fill_(-3)
        (y * lib.tensor([[2.0], [0.25]])).sum().backward()
        grads.append(b.grad.numpy())
    np.testing.assert_array_equal(*grads)


@pytest.mark.parametrize("ash,bsh", [((1, 2), (2, 2, 2)), ((2, 2), (3, 2, 2)), ((1, 3, 2), (4, 2, 3)),
                                     ((3, 2), (2, 2, 1))])
@pytest.mark.parametrize("b_grad", [False, True])
def test_matmul_matrix_times_batch_keeps_the_folded_copy(ash, bsh, b_grad):
    # PyTorch folds a matrix that requires grad times a batch as (b.mT @ a.mT).mT with b.mT reshaped to one matrix
    # (LinearAlgebra.cpp should_fold): a copy unless that reshape is a view; its backward saves the copy, so a
    # later in-place write into b neither stops the backward nor changes a's gradient. Where the reshape is a view
    # (b of shape (2, 2, 1) here), the write is seen: the backward raises, as PyTorch's
    a_np = np.arange(math.prod(ash), dtype=np.float64).reshape(ash)
    b_np = np.arange(math.prod(bsh), dtype=np.float64).reshape(bsh)
    a, b0, y = _matmul_then_write_b(tg, a_np, b_np, b_grad)
    copies = bsh[-1] != 1 and bsh[-2] != 1
    if not copies:
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            y.sum().backward()
        return
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), (np.ones(y.shape) @ np.swapaxes(b_np, -1, -2)).sum(axis=0).reshape(ash))
    if b_grad:
        np.testing.assert_allclose(b0.grad.numpy(), np.swapaxes(a_np, -1, -2) @ np.ones(y.shape))
    torch = pytest.importorskip("torch")
    ta, _, ty = _matmul_then_write_b(torch, a_np, b_np, b_grad)
    ty.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    assert y.grad_fn.name() == ty.grad_fn.name()


@pytest.mark.parametrize("ash,bsh", [((1, 2), (0, 2, 3)), ((1, 2), (3, 2, 3)), ((2, 2), (3, 2, 1)), ((0, 2), (3, 2, 3)),
                                     ((2, 2), (0, 2, 3)), ((1, 1, 2), (3, 2, 3)), ((2, 2), (3, 2, 3)),
                                     ((1, 2, 2), (1, 2, 3))])
@pytest.mark.parametrize("lib_name", ["tapegrad", "torch"])
def test_matmul_matrix_times_batch_is_a_view_where_the_folded_transpose_is_contiguous(ash, bsh, lib_name):
    # PyTorch folds a matrix that requires grad times a batch as (b.mT @ a.mT).mT and makes that contiguous: where
    # the transpose is contiguous already (a row or a column of a, an empty result), it is the result itself, a
    # view of the product (UnsafeViewBackward0): detach_() refuses it, and a write into it reaches a's gradient
    lib = pytest.importorskip(lib_name)
    view = ash[-2] <= 1 or bsh[-1] <= 1 or 0 in bsh[:-2]
    view = view and (len(ash) == 2 or ash[0] == 1 != bsh[0])
    a = lib.tensor(np.arange(math.prod(ash), dtype=np.float64).reshape(ash), requires_grad=True)
    b = lib.tensor(np.arange(math.prod(bsh), dtype=np.float64).reshape(bsh))
    y = a @ b
    assert y.grad_fn.name() == ("TransposeBackward0" if view else "UnsafeViewBackward0" if len(ash) == 3
                                else "CloneBackward0")
    if view:
        with pytest.raises(RuntimeError, match="(?i)can't detach views in.place"):
            y.detach_()
    y.mul_(lib.arange(y.shape[-1], dtype=lib.float64))  # a write through the view reaches the product's node
    y.sum().backward()
    weights = np.broadcast_to(np.arange(bsh[-1], dtype=np.float64), y.shape)
    full = weights @ np.swapaxes(b.detach().numpy(), -1, -2)
    want = full.sum(axis=tuple(range(full.ndim - 2))).reshape(ash)
    np.testing.assert_allclose(a.grad.numpy(), want)


def _matmul_then_write_b(lib, a_np, b_np, b_grad):
    """``y = a @ b`` in ``lib``, then ``b`` doubled in place under no_grad; returns (a, b's leaf, y)."""
    a = lib.tensor(a_np, requires_grad=True)
    b0 = lib.tensor(b_np, requires_grad=b_grad)
    b = b0 * 1 if b_grad else b0
    y = a @ b
    with lib.no_grad():
        b.mul_(2)
    return a, b0, y


@pytest.mark.parametrize("bsh", [(3, 2, 2), (2, 3, 2, 4), (1, 2, 2), (3, 2, 1)])
def test_matmul_vector_times_batch_keeps_the_folded_copy(bsh):
    # as a matrix: PyTorch folds a vector that requires grad times a batch as b.mT reshaped to one matrix times the
    # vector (LinearAlgebra.cpp should_fold(tensor2, tensor1)); its backward saves that copy, so a later in-place
    # write into b (arccos_ in the differential driver's program) does not stop the backward; where the reshape is a
    # view ((1, 2, 2), (3, 2, 1)) the backward raises, as PyTorch's
    b_np = np.arange(math.prod(bsh), dtype=np.float64).reshape(bsh) / 7
    a = tg.tensor([1.0, -2.0], dtype=tg.float64, requires_grad=True)
    b = tg.tensor(b_np)
    y = a @ b
    b.arccos_()
    copies = bsh[0] != 1 and bsh[-1] != 1
    if not copies:
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            y.sum().backward()
    else:
        y.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b_np.sum(axis=-1).reshape(-1, 2).sum(axis=0))
    torch = pytest.importorskip("torch")
    ta = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b_np)
    ty = ta @ tb
    tb.arccos_()
    if not copies:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            ty.sum().backward()
        return
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-15)  # (their order of summation)
    assert y.grad_fn.name() == ty.grad_fn.name()


@pytest.mark.parametrize("equation, shapes, view", [
    ("i,i->", [(3,), (3,)], True), ("ij,jk->ik", [(2, 3), (3, 4)], True), ("ij,k->ik", [(2, 3), (4,)], True),
    ("i,i,i->", [(3,), (3,), (3,)], True), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)], True),
    ("i,j->ij", [(2,), (3,)], False), ("i,i->i", [(3,), (3,)], False), ("ij,jk->ikj", [(2, 3), (3, 4)], False),
])
def test_einsum_of_several_operands_with_a_sum_is_a_view_as_pytorch(equation, shapes, view):
    # PyTorch's einsum contracts through a batched product and views it as the result (Linear.cpp,
    # sumproduct_pair), so detach_() refuses the result (driver seed 137698); outer and elementwise products are
    # new tensors
    rng = np.random.default_rng(0)
    arrays_ = [rng.standard_normal(s) for s in shapes]
    out = tg.einsum(equation, *[tg.tensor(a, requires_grad=True) for a in arrays_])
    np.testing.assert_allclose(out.detach().numpy(), np.einsum(equation, *arrays_), rtol=1e-6)
    if view:
        with pytest.raises(RuntimeError, match="can't detach views"):
            out.detach_()
    else:
        assert not out.detach_().requires_grad
    assert_gradients(lambda *ts: tg.einsum(equation, *ts), *arrays_)
    torch = pytest.importorskip("torch")
    assert torch.einsum(equation, *[torch.from_numpy(a) for a in arrays_])._is_view() == view


_A = [[2.0, -2.5, 0.0], [0.5, 3.0, 1.0], [0.0, 0.25, 4.0]]
_B = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]]
_LAPACK_RESULTS = {  # name: (function of the library, A, B and the Cholesky factor L; PyTorch's layout)
    "inverse": (lambda lib, a, b, l: a.inverse(), "F"), "linalg.inv": (lambda lib, a, b, l: lib.linalg.inv(a), "F"),
    "linalg.inv_ex": (lambda lib, a, b, l: lib.linalg.inv_ex(a).inverse, "F"),
    "matrix_power(-1)": (lambda lib, a, b, l: a.matrix_power(-1), "F"),
    "linalg.solve": (lambda lib, a, b, l: lib.linalg.solve(a, b), "F"),
    "linalg.solve(left=False)": (lambda lib, a, b, l: lib.linalg.solve(a, b.mT, left=False), "C"),
    "linalg.lu_solve": (lambda lib, a, b, l: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b), "F"),
    "linalg.lu_solve(left=False)": (lambda lib, a, b, l: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b.mT,
                                                                              left=False), "C"),
    "linalg.lu_factor": (lambda lib, a, b, l: lib.linalg.lu_factor(a).LU, "F"),
    "linalg.cholesky": (lambda lib, a, b, l: l, "F"),
    "linalg.cholesky(upper=True)": (lambda lib, a, b, l: lib.linalg.cholesky(l @ l.mT, upper=True), "F"),
    "cholesky_solve": (lambda lib, a, b, l: lib.cholesky_solve(b, l), "F"),
    "cholesky_inverse": (lambda lib, a, b, l: lib.cholesky_inverse(l), "F"),
    "triangular_solve": (lambda lib, a, b, l: lib.triangular_solve(b, l, upper=False).solution, "F"),
    "triangular_solve.cloned_coefficient": (lambda lib, a, b, l: lib.triangular_solve(b, l, upper=False)[1], "F"),
    "linalg.solve_triangular": (lambda lib, a, b, l: lib.linalg.solve_triangular(l, b, upper=False), "F"),
    "linalg.solve_triangular(left=False)": (lambda lib, a, b, l: lib.linalg.solve_triangular(l, b.mT, upper=False,
                                                                                             left=False), "F"),
    "linalg.qr.Q": (lambda lib, a, b, l: lib.linalg.qr(b).Q, "F"),
    "linalg.qr.R": (lambda lib, a, b, l: lib.linalg.qr(b).R, "F"),
    "linalg.svd.U": (lambda lib, a, b, l: lib.linalg.svd(b).U, "F"),
    "linalg.svd.Vh": (lambda lib, a, b, l: lib.linalg.svd(b, full_matrices=False).Vh, "F"),
    "svd.V": (lambda lib, a, b, l: b.svd().V, "C"),
    "linalg.eigh.eigenvectors": (lambda lib, a, b, l: lib.linalg.eigh(l @ l.mT).eigenvectors, "F"),
    "linalg.householder_product": (lambda lib, a, b, l: lib.linalg.householder_product(b, lib.tensor([0.5, 0.25],
                                                                                        dtype=lib.float64)), "F"),
    "linalg.ldl_factor": (lambda lib, a, b, l: lib.linalg.ldl_factor(l @ l.mT).LD, "F"),
    "linalg.lstsq": (lambda lib, a, b, l: lib.linalg.lstsq(a, b).solution, "F"),
}


@pytest.mark.parametrize("lib_name", ["tapegrad", "torch"])
@pytest.mark.parametrize("name", sorted(_LAPACK_RESULTS))
def test_lapack_results_have_pytorchs_column_major_layout(lib_name, name):
    # PyTorch returns LAPACK's results in LAPACK's column-major layout (strides (1, m), batched (m * n, 1, m); the
    # transposed systems, left=False, their transpose), which ops that follow the layout see: kron's final view
    # and view() fail on them in both libraries
    lib = pytest.importorskip(lib_name)
    f, layout = _LAPACK_RESULTS[name]
    a, b = lib.tensor(_A, dtype=lib.float64), lib.tensor(_B, dtype=lib.float64)
    out = f(lib, a, b, lib.linalg.cholesky(a @ a.mT + lib.eye(3, dtype=lib.float64)))
    rows, cols = out.shape[-2:]
    assert tuple(out.stride()) == ((1, rows) if layout == "F" else (cols, 1)), tuple(out.stride())
    if layout == "F":
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            lib.kron(out, lib.ones(2, 2, dtype=lib.float64))
    if layout == "F" and name not in ("linalg.householder_product", "linalg.lstsq"):
        batched = f(lib, a.expand(2, 3, 3), b.expand(2, 3, 2),
                    lib.linalg.cholesky((a @ a.mT + lib.eye(3, dtype=lib.float64)).expand(2, 3, 3)))
        assert tuple(batched.stride()) == (rows * cols, 1, rows)


@pytest.mark.parametrize("lib_name", ["tapegrad", "torch"])
@pytest.mark.parametrize("name", ["inverse", "linalg.inv", "linalg.inv_ex"])
def test_inverse_is_column_major_as_lapacks_result(lib_name, name):
    # PyTorch's inverse is getrs' result on the identity: LAPACK's column-major layout, strides (1, n) and batched
    # (n * n, 1, n), which ops that follow the layout see (kron's final view of it fails in both libraries)
    lib = pytest.importorskip(lib_name)
    f = {"inverse": lambda a: a.inverse(), "linalg.inv": lib.linalg.inv,
         "linalg.inv_ex": lambda a: lib.linalg.inv_ex(a).inverse}[name]
    a = lib.tensor([[2.0, -2.5, 0.0], [0.5, 3.0, 1.0], [0.0, 0.25, 4.0]], dtype=lib.float64)
    assert tuple(f(a).stride()) == (1, 3) and not f(a).is_contiguous()
    assert tuple(f(a.expand(2, 3, 3)).stride()) == (9, 1, 3)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        lib.kron(f(a), lib.ones(2, 2, dtype=lib.float64))


@pytest.mark.parametrize("lib_name", ["tapegrad", "torch"])
@pytest.mark.parametrize("ash,bsh", [((2, 4), (3, 4)), ((1, 2, 4), (0, 4)), ((4,), (4,)), ((2, 1), (3, 1))])
@pytest.mark.parametrize("grad", [False, True])
def test_inner_is_a_view_of_its_product(lib_name, ash, bsh, grad):
    # PyTorch's inner is tensordot, which reshapes its mm product to the result's shape: a view (ViewBackward0 over
    # MmBackward0), also under no_grad, so detach_() refuses it
    lib = pytest.importorskip(lib_name)
    a = lib.ones(ash, requires_grad=grad)
    y = lib.inner(a, lib.ones(bsh))
    if grad:
        assert y.grad_fn.name() == "ViewBackward0"
    with pytest.raises(RuntimeError, match="(?i)can't detach views in.place"):
        y.detach_()


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (2, 1, 1), (2, 3, 3)])
@pytest.mark.parametrize("transposed", [False, True])
def test_triangular_solve_cloned_coefficient_never_shares_a(shape, transposed):
    """The cloned coefficient is a copy of A in LAPACK's layout; where A has that layout already (1 x 1, or A^T of
    a row-major matrix) taking the layout must still copy: writing into it changed A (the differential driver's
    le_ of a 1 x 1 cloned coefficient wrote into A)."""
    rng = np.random.default_rng(0)
    a = np.triu(rng.standard_normal(shape)) + 3 * np.eye(shape[-1])
    A = tg.tensor(np.swapaxes(a, -1, -2).copy()).mT if transposed else tg.tensor(a)
    before = A.numpy().copy()
    _, cloned = tg.triangular_solve(tg.ones(shape[:-1] + (1,), dtype=tg.float64), A)
    cloned.fill_(7.0)
    np.testing.assert_array_equal(A.numpy(), before)
