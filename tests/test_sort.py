"""sort, argsort, topk: forward against numpy's stable sorts, gradients against finite differences, NaN, errors."""

import numpy as np
import pytest
from hypothesis import example, given
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
        np.testing.assert_array_equal(tg.argsort(x, stable=True, dim=dim, descending=descending).numpy(), want)
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
    assert x.sort(stable=True).values.grad_fn.name() == "SortBackward1"  # PyTorch's stable overload
    assert x.sort(stable=None, dim=0).values.grad_fn.name() == "SortBackward1"
    assert x.topk(2).values.grad_fn.name() == "TopkBackward0"
    s = tg.tensor(2.0, requires_grad=True)  # 0-d inputs too
    assert s.sort().values.grad_fn.name() == "SortBackward0" and s.topk(1).values.grad_fn.name() == "TopkBackward0"


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


# ---------------------------------------------------------------------- issue 9: NaN, stable, PyTorch's errors
nan_heavy = hnp.arrays(np.float64, st.integers(1, 8),
                       elements=st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.5, 2.0]))


@given(a=nan_heavy, descending=st.booleans())
@example(a=np.array([2.0, np.nan, -1.0, np.nan, 0.5]), descending=False)
@example(a=np.array([np.nan, np.inf, -np.inf, np.nan]), descending=True)
def test_nan_is_the_largest_value_and_ties_keep_their_order(a, descending):
    """PyTorch's order: NaN after +inf (last ascending, first descending), equal values (nans among them, and
    0.0 with -0.0) in their original order."""
    key = [(1, 0.0) if np.isnan(v) else (0, v) for v in a.tolist()]
    want = sorted(range(a.size), key=lambda i: key[i], reverse=False)
    if descending:  # the stable descending order: larger first, ties still in their original order
        want = sorted(range(a.size), key=lambda i: (tuple(-k for k in key[i]), i))
    x = tg.tensor(a)
    got = x.sort(stable=True, descending=descending)
    assert got.indices.tolist() == want
    np.testing.assert_array_equal(got.values.numpy(), a[want])
    assert x.argsort(stable=True, descending=descending).tolist() == want
    for k in range(a.size + 1):  # topk picks the same values (its order among ties is unspecified in PyTorch)
        top = x.topk(k, largest=descending)
        np.testing.assert_array_equal(np.sort(top.values.numpy()), np.sort(a[want[:k]]))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda x: x.sort(0, stable=True), TypeError, "sort: with stable=, dim and descending are keywords only"),
    (lambda x: tg.sort(x, 0, descending=True, stable=False), TypeError, "keywords only"),
    (lambda x: x.argsort(0, stable=True), TypeError, "argsort: with stable=, dim and descending are keywords"),
    (lambda x: x.sort(0, True, True), TypeError, "sort: takes at most 3 positional arguments"),
    (lambda x: x.argsort(0, False, True), TypeError, "argsort: takes at most 3 positional arguments"),
    (lambda x: x.sort(0, dim=0), TypeError, "sort: got multiple values for argument 'dim'"),
    (lambda x: x.sort(stable=1), TypeError, "sort: stable must be a bool, got int"),
    (lambda x: x.argsort(stable=None), TypeError, "argsort: stable must be a bool, got NoneType"),
    (lambda x: x.sort(True), TypeError, "sort: dim must be an int, got bool"),
    (lambda x: x.topk(True), TypeError, "topk: k must be an int, got bool"),
    (lambda x: x.topk(2.0), TypeError, "topk: k must be an int, got float"),
    (lambda x: x.topk(tg.tensor(2.0)), TypeError, "topk: k must be an int, got Tensor"),
    (lambda x: x.topk(4), RuntimeError, r"topk: k=4 is out of range for dim -1 of size 3"),
    (lambda x: x.topk(-1), RuntimeError, r"topk: k=-1 is out of range"),
    (lambda x: tg.tensor(1.0).topk(2), RuntimeError, r"topk: k=2 is out of range for dim -1 of size 1"),
    (lambda x: tg.tensor(1.0).sort(1), IndexError, r"sort: dim 1 is out of range .* \(expected -1 to 0\)"),
    (lambda x: tg.tensor(1.0).argsort(-2), IndexError, r"argsort: dim -2 is out of range"),
    (lambda x: tg.tensor(1.0).topk(1, 1), IndexError, r"topk: dim 1 is out of range"),
    (lambda x: x.bool().topk(1), RuntimeError, "topk: does not support bool input"),
])
def test_pytorchs_signatures_and_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(tg.tensor([3.0, 1.0, 2.0]))


def test_the_accepted_forms():
    x = tg.tensor([3.0, 1.0, 2.0])
    assert x.sort(0, True).values.tolist() == [3.0, 2.0, 1.0]
    assert x.sort(dim=0, descending=True, stable=True).indices.tolist() == [0, 2, 1]
    assert tg.sort(x, stable=None).values.tolist() == [1.0, 2.0, 3.0]
    assert x.argsort(0, True).tolist() == [0, 2, 1] and tg.argsort(x, stable=False).tolist() == [1, 2, 0]
    assert x.topk(tg.tensor(2)).values.tolist() == [3.0, 2.0]  # a one-element integer tensor is an int k
    assert x.topk(np.int64(1), largest=False).values.tolist() == [1.0]
    assert x.topk(k=1, dim=0).indices.tolist() == [0]


def test_signatures_nan_and_errors_match_pytorch():
    torch = pytest.importorskip("torch")
    calls = [lambda L, x: x.sort(0, stable=True), lambda L, x: x.sort(stable=True, dim=0, descending=True),
             lambda L, x: x.sort(0, True), lambda L, x: x.sort(stable=None), lambda L, x: x.sort(0, True, True),
             lambda L, x: x.argsort(stable=True, descending=True), lambda L, x: x.argsort(0, stable=True),
             lambda L, x: x.argsort(stable=None), lambda L, x: L.sort(x, 0, descending=True, stable=False),
             lambda L, x: x.topk(L.tensor(2)), lambda L, x: x.topk(2.0), lambda L, x: x.topk(4),
             lambda L, x: x.topk(-1), lambda L, x: x.topk(0), lambda L, x: x.sort(descending=True),
             lambda L, x: x.topk(3, largest=False)]
    inputs = [([2.0, float("nan"), -1.0, float("nan"), 0.5], "float32"), ([1.0, float("inf"), -float("inf")],
              "float64"), ([3, 1, 2], "int64"), ([True, False, True], "bool"), (1.5, "float32"), ([], "float32")]
    for fn in calls:
        for a, dtype in inputs:
            want, got = [], []
            for lib, out in ((torch, want), (tg, got)):
                x = lib.tensor(np.asarray(a), dtype=getattr(lib, dtype))
                try:
                    r = fn(lib, x)
                    out.append(("ok", (r if isinstance(r, lib.Tensor) else r[0]).tolist()))
                except Exception as e:  # noqa: BLE001
                    out.append(("raises", type(e).__name__ if not isinstance(e, RuntimeError) else "RuntimeError"))
            if want[0][0] == "ok" and got[0][0] == "ok":
                np.testing.assert_array_equal(np.asarray(got[0][1], dtype=float), np.asarray(want[0][1], dtype=float))
            else:
                assert want[0][0] == got[0][0], (want, got)


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
