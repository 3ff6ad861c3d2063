"""sort, argsort, topk: forward against numpy's stable sorts, gradients against finite differences, NaN, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
from tapegrad.autograd import gradgradcheck
from tapegrad.testing import assert_gradients, shapes


def distinct(shape):
    """Arrays whose elements are pairwise at least 0.1 apart (no ties: sorting is differentiable)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-60, 60), unique=True).map(lambda a: a / 10.0)


def with_ties(shape):
    """Small integers as floats: many ties, to check that equal elements keep their order."""
    return hnp.arrays(np.float64, shape, elements=st.integers(-2, 2).map(float))


def np_sort_indices(a, dim, descending):
    """The reference: numpy's stable argsort (of -a for descending, which keeps ties in their order)."""
    return np.argsort(-a if descending else a, axis=dim, kind="stable")


@st.composite
def array_and_dim(draw, values=with_ties):
    shape = draw(shapes(min_dims=1, max_dims=3))
    return draw(values(shape)), draw(st.integers(-len(shape), len(shape) - 1))


# ---------------------------------------------------------------------- forward
@given(array_and_dim(), st.booleans())
def test_sort_and_argsort_forward_match_numpy_stable_sorts(case, descending):
    a, dim = case
    want = np_sort_indices(a, dim, descending)
    for x in (tg.tensor(a), tg.tensor(a.astype(np.float32)), tg.tensor(a.astype(np.int64))):
        values, indices = tg.sort(x, dim, descending)
        assert indices.dtype == tg.int64 and values.dtype == x.dtype
        np.testing.assert_array_equal(indices.numpy(), want)
        np.testing.assert_array_equal(values.numpy(), np.take_along_axis(x.numpy(), want, dim))
        np.testing.assert_array_equal(x.argsort(dim=dim, descending=descending).numpy(), want)
        np.testing.assert_array_equal(tg.argsort(x, dim, descending, stable=True).numpy(), want)
        r = x.sort(dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(r.values.numpy(), values.numpy())
        np.testing.assert_array_equal(r.indices.numpy(), want)


@given(array_and_dim(), st.booleans(), st.data())
def test_topk_forward_matches_numpy(case, largest, data):
    a, dim = case
    k = data.draw(st.integers(0, a.shape[dim]))
    want = np.take(np_sort_indices(a, dim, largest), np.arange(k), axis=dim)
    for x in (tg.tensor(a), tg.tensor(a.astype(np.float32)), tg.tensor(a.astype(np.int64))):
        values, indices = tg.topk(x, k, dim, largest)
        assert indices.dtype == tg.int64 and values.dtype == x.dtype
        np.testing.assert_array_equal(indices.numpy(), want)
        np.testing.assert_array_equal(values.numpy(), np.take_along_axis(x.numpy(), want, dim))
        r = x.topk(k, dim=dim, largest=largest, sorted=False)
        np.testing.assert_array_equal(r.indices.numpy(), want)


def test_sort_defaults_to_the_last_dim_and_returns_named_tuples():
    x = tg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    r = x.sort()
    assert r.values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]] and r.indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    values, indices = x.sort(0, descending=True)
    assert values.tolist() == [[3.0, 5.0, 4.0], [0.0, 1.0, 2.0]] and indices.tolist() == [[0, 1, 1], [1, 0, 0]]
    assert type(r).__name__ == "sort" and type(x.topk(1)).__name__ == "topk"
    assert x.topk(2).values.tolist() == [[3.0, 2.0], [5.0, 4.0]]
    assert x.topk(1, largest=False).indices.tolist() == [[1], [0]]


def test_nan_sorts_as_the_largest_value_as_pytorch():
    nan = float("nan")
    x = tg.tensor([2.0, nan, -1.0, nan, 0.5])
    up, down = x.sort(), x.sort(descending=True)
    assert up.indices.tolist() == [2, 4, 0, 1, 3] and np.isnan(up.values.numpy()[3:]).all()
    assert down.indices.tolist() == [1, 3, 0, 4, 2] and np.isnan(down.values.numpy()[:2]).all()
    assert x.topk(3).indices.tolist() == [1, 3, 0]
    assert x.topk(2, largest=False).values.tolist() == [-1.0, 0.5]
    assert x.argsort(descending=True).tolist() == [1, 3, 0, 4, 2]


def test_zero_dim_and_empty_inputs():
    s = tg.tensor(3.0, requires_grad=True)
    values, indices = tg.sort(s)
    assert values.item() == 3.0 and indices.item() == 0 and indices.dim() == 0
    values.backward()
    assert s.grad.item() == 1.0
    assert tg.argsort(tg.tensor(2.0)).item() == 0
    assert tg.topk(tg.tensor(5.0), 1).values.item() == 5.0
    assert tg.topk(tg.tensor(5.0), 0).values.item() == 5.0  # PyTorch 2.13 too: a 0-d input is its own top-k
    e = tg.zeros(2, 0)
    assert tg.sort(e).values.shape == (2, 0) and tg.topk(e, 0).indices.shape == (2, 0)
    assert tg.topk(tg.zeros(3, 4), 0, dim=1).values.shape == (3, 0)


# ---------------------------------------------------------------------- gradients
@given(array_and_dim(distinct), st.booleans())
def test_sort_gradient_goes_back_to_the_original_places(case, descending):
    a, dim = case
    w = np.arange(a.size, dtype=np.float64).reshape(a.shape) + 1.0  # a different weight for every rank
    assert_gradients(lambda t: tg.sort(t, dim, descending).values * tg.tensor(w), a)
    x = tg.tensor(a, requires_grad=True)
    (tg.sort(x, dim, descending).values * tg.tensor(w)).sum().backward()
    order = np_sort_indices(a, dim, descending)
    want = np.zeros_like(a)
    np.put_along_axis(want, order, w, dim)
    np.testing.assert_array_equal(x.grad.numpy(), want)


@given(array_and_dim(distinct), st.booleans(), st.data())
def test_topk_gradient_is_scattered_to_the_selected_elements(case, largest, data):
    a, dim = case
    k = data.draw(st.integers(0, a.shape[dim]))
    assert_gradients(lambda t: tg.topk(t, k, dim, largest).values ** 2, a)
    x = tg.tensor(a, requires_grad=True)
    values, indices = x.topk(k, dim, largest)
    values.sum().backward()
    want = np.zeros_like(a)
    np.put_along_axis(want, indices.numpy(), 1.0, dim)
    np.testing.assert_array_equal(x.grad.numpy(), want)
    assert np.count_nonzero(x.grad.numpy()) == values.numel()


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_dtype_is_kept_forward_and_backward(dtype):
    for fn in (lambda t: t.sort(1).values, lambda t: t.sort(0, descending=True)[0], lambda t: t.topk(2)[0]):
        x = tg.randn(3, 4, dtype=dtype, requires_grad=True)
        out = fn(x)
        assert out.dtype == dtype and out.requires_grad and out.grad_fn is not None
        out.sum().backward()
        assert x.grad.dtype == dtype and x.grad.shape == x.shape
    assert not tg.topk(tg.arange(4), 2).values.requires_grad


@pytest.mark.parametrize("fn", [lambda t: t.sort(1).values ** 2, lambda t: t.sort(0, descending=True).values ** 3,
                                lambda t: t.topk(2, dim=1).values ** 2, lambda t: t.topk(1, 0, largest=False)[0] ** 3],
                         ids=["sort", "sort_descending", "topk", "topk_smallest"])
def test_second_order(fn):
    x = tg.tensor(np.random.default_rng(1).permutation(12).reshape(3, 4) / 4.0 - 1.0, requires_grad=True)
    assert gradgradcheck(fn, (x,))


def test_node_names():
    x = tg.ones(3, requires_grad=True)
    assert x.sort().values.grad_fn.name() == "SortBackward0"
    assert x.topk(2).values.grad_fn.name() == "TopkBackward0"


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn, exc, pattern", [
    (lambda: tg.sort(tg.zeros(2, 3), dim=2), IndexError, r"sort: dim 2 is out of range"),
    (lambda: tg.argsort(tg.zeros(2, 3), dim=-3), IndexError, r"argsort: dim -3 is out of range"),
    (lambda: tg.topk(tg.zeros(2, 3), 1, dim=5), IndexError, r"topk: dim 5 is out of range"),
    (lambda: tg.topk(tg.zeros(2, 3), 4), RuntimeError, r"topk: k=4 is out of range for dim -1 of size 3"),
    (lambda: tg.topk(tg.zeros(3), -1), RuntimeError, r"topk: k=-1 is out of range"),
    (lambda: tg.topk(tg.zeros(3), 1.5), TypeError, r"topk: k must be an int"),
    (lambda: tg.sort([3, 1, 2]), TypeError, r"sort: expected a Tensor, got list"),
    (lambda: tg.argsort(np.zeros(3)), TypeError, r"argsort: expected a Tensor, got ndarray"),
    (lambda: tg.topk((1, 2), 1), TypeError, r"topk: expected a Tensor, got tuple"),
], ids=["sort_dim", "argsort_dim", "topk_dim", "topk_k_big", "topk_k_negative", "topk_k_float", "sort_list",
        "argsort_array", "topk_tuple"])
def test_bad_input_raises_a_clear_error_naming_the_op(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_docstring_examples():
    import doctest

    import tapegrad.ops.sort as module

    assert doctest.testmod(module).failed == 0


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((3, 5))
    a[1, 2] = a[1, 4]  # a tie
    for lib_fn in (lambda L, x: L.sort(x, dim=1, descending=True, stable=True)[0],
                   lambda L, x: L.topk(x, 2, 0)[0], lambda L, x: L.topk(x, 3, largest=False)[0]):
        results = []
        for lib in (torch, tg):
            x = lib.tensor(a, requires_grad=True)
            out = lib_fn(lib, x)
            (out * lib.tensor(np.arange(out.numel()).reshape(tuple(out.shape)) + 1.0)).sum().backward()
            results.append((out.detach().numpy(), x.grad.numpy()))
        np.testing.assert_allclose(results[1][0], results[0][0])
        np.testing.assert_allclose(results[1][1], results[0][1])
