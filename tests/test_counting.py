"""tapegrad/ops/counting.py: unique, bincount, histograms, searchsorted, isin, index constructions, cov,
corrcoef, cdist. Values and dtypes against numpy and PyTorch, gradients against finite differences."""

import doctest
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.ops import counting
from tapegrad.testing import arrays, assert_gradients


def _same(got, want, name=""):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), name
        for g, w in zip(got, want, strict=True):
            _same(g, w, name)
        return
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], name
    assert tuple(got.shape) == tuple(want.shape), name
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7, equal_nan=True, err_msg=name)


@given(x=arrays(dtype=np.int64, min_value=-3, max_value=3, max_dims=3), data=st.data())
def test_unique_matches_numpy(x, data):
    values, inverse, counts = tg.unique(tg.tensor(x), return_inverse=True, return_counts=True)
    want, w_inv, w_counts = np.unique(x, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.numpy(), want)
    np.testing.assert_array_equal(inverse.numpy(), w_inv.reshape(x.shape))
    np.testing.assert_array_equal(counts.numpy(), w_counts)
    np.testing.assert_array_equal(values.numpy()[inverse.numpy()], x)
    if x.ndim:
        d = data.draw(st.integers(0, x.ndim - 1))
        v, inv = tg.unique(tg.tensor(x), dim=d, return_inverse=True)
        np.testing.assert_array_equal(np.take(v.numpy(), inv.numpy(), axis=d), x)


def test_counting_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ints = rng.integers(0, 4, (3, 5))
    nan = float("nan")
    floats = np.array([1.0, 2.0, 1.0, 5.0, 7.0, 2.0, 2.0])
    cases = [
        ("unique", lambda m: m.unique(m.tensor(ints), return_inverse=True, return_counts=True)),
        ("unique_nan", lambda m: m.unique(m.tensor([nan, 1.0, nan]), return_counts=True)),
        ("unique_dim", lambda m: m.unique(m.tensor(ints), dim=1, return_inverse=True, return_counts=True)),
        ("unique_method", lambda m: m.tensor(ints).unique(sorted=True)),
        ("unique_consecutive", lambda m: m.unique_consecutive(m.tensor([1, 1, 2, 2, 1, 3]), return_inverse=True,
                                                              return_counts=True)),
        ("unique_consecutive_nan", lambda m: m.unique_consecutive(m.tensor([1.0, nan, nan]), return_counts=True)),
        ("unique_consecutive_dim", lambda m: m.unique_consecutive(m.tensor([[1, 1, 2], [1, 1, 3]]), dim=1)),
        ("bincount", lambda m: m.bincount(m.tensor(ints[0]), minlength=7)),
        ("bincount_w32", lambda m: m.bincount(m.tensor(ints[0]), m.tensor(floats[:5], dtype=m.float32))),
        ("bincount_w64", lambda m: m.tensor(ints[0]).bincount(m.tensor(floats[:5]))),
        ("bincount_wint", lambda m: m.bincount(m.tensor(ints[0]), m.tensor(ints[1]))),
        ("bincount_empty", lambda m: m.bincount(m.tensor([], dtype=m.int64), minlength=2)),
        ("histc", lambda m: m.histc(m.tensor(floats), bins=4, min=0, max=3)),
        ("histc_range", lambda m: m.tensor(floats, dtype=m.float32).histc(bins=3)),
        ("histogram", lambda m: tuple(m.histogram(m.tensor(floats), bins=3))),
        ("histogram_edges", lambda m: tuple(m.histogram(m.tensor(floats), m.tensor([0.0, 1.5, 3.0], dtype=m.float64),
                                                                   density=True))),
        ("histogram_weight", lambda m: tuple(m.histogram(m.tensor(floats), 4, range=(0.0, 4.0),
                                                         weight=m.tensor(floats)))),
        ("searchsorted", lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([[0, 3], [6, 9]]))),
        ("searchsorted_right", lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([3, 7]), right=True)),
        ("searchsorted_nd", lambda m: m.searchsorted(m.tensor([[1, 3, 5], [2, 4, 6]]), m.tensor([[3], [7]]),
                                                     side="right", out_int32=True)),
        ("searchsorted_scalar", lambda m: m.searchsorted(m.tensor([1.0, 3.0, 5.0]), 3.0)),
        ("searchsorted_sorter", lambda m: m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]),
                                                         sorter=m.tensor([1, 2, 0]))),
        ("bucketize", lambda m: m.bucketize(m.tensor([[1, 3], [6, 0]]), m.tensor([1, 3, 5]))),
        ("bucketize_right", lambda m: m.bucketize(m.tensor([1.0, 3.0, 6.0]), m.tensor([1.0, 3.0, 5.0]), right=True)),
        ("isin", lambda m: m.isin(m.tensor(ints), m.tensor([1, 3]))),
        ("isin_invert", lambda m: m.isin(m.tensor(ints), 2, invert=True)),
        ("tril_indices", lambda m: m.tril_indices(3, 4, -1)),
        ("triu_indices", lambda m: m.triu_indices(4, 3, 1, dtype=m.int32)),
        ("cartesian_prod", lambda m: m.cartesian_prod(m.tensor([1, 2]), m.tensor([3, 4, 5]), m.tensor([6]))),
        ("combinations", lambda m: m.combinations(m.tensor([1, 2, 3, 4]), 3)),
        ("combinations_repl", lambda m: m.combinations(m.tensor([1.0, 2.0, 3.0]), 2, with_replacement=True)),
        ("block_diag", lambda m: m.block_diag(m.tensor([[1, 2]]), m.tensor(3.0), m.tensor([[4], [5]]))),
        ("vander", lambda m: m.vander(m.tensor([1, 2, 3]), 4)),
        ("vander_inc", lambda m: m.vander(m.tensor([1.0, 2.0, 0.5]), increasing=True)),
        ("cov", lambda m: m.cov(m.tensor(floats[:6].reshape(2, 3)))),
        ("cov_weights", lambda m: m.cov(m.tensor(floats.reshape(1, 7)).expand(2, 7) * m.tensor([[1.0], [0.5]]),
                                        correction=2, fweights=m.tensor([1, 2, 1, 1, 3, 1, 1]),
                                        aweights=m.tensor([0.5, 1.0, 1.0, 2.0, 1.0, 1.0, 0.1]))),
        ("cov_1d", lambda m: m.tensor(floats).cov()),
        ("corrcoef", lambda m: m.corrcoef(m.tensor(rng.uniform(-1, 1, (3, 5))))),
        ("cdist", lambda m: m.cdist(m.tensor(floats[:6].reshape(3, 2)), m.tensor(floats[1:5].reshape(2, 2)))),
        ("cdist_p1", lambda m: m.cdist(m.tensor(floats[:6].reshape(1, 3, 2)), m.tensor(floats[1:5].reshape(2, 2)),
                                       p=1)),
    ]
    for name, call in cases:
        rng = np.random.default_rng(1)
        want = call(torch)
        rng = np.random.default_rng(1)
        got = call(tg)
        _same(got, want, name)


@given(data=st.data())
def test_differentiable_constructions_gradients(data):
    x = data.draw(arrays((3, 4)))
    y = data.draw(arrays((2, 4)))
    assert_gradients(lambda a, b: tg.cdist(a, b), x, y + 5)
    assert_gradients(lambda a, b: tg.cdist(a, b, p=3), x, y + 5)
    assert_gradients(lambda a: tg.cov(a, correction=0), x)
    assert_gradients(lambda a: tg.corrcoef(a), x + np.arange(12).reshape(3, 4) * 0.5)
    assert_gradients(lambda a, b: tg.block_diag(a, b), x, y)
    assert_gradients(lambda a: tg.combinations(a, 2), x[0])
    assert_gradients(lambda a, b: tg.cartesian_prod(a, b), x[0], y[0])
    assert_gradients(lambda a: tg.vander(a, 3), x[0])


def test_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (2, 4))
    for name, call in [("cdist", lambda m, x, y: m.cdist(x, y)), ("cdist_same", lambda m, x, y: m.cdist(x, x)),
                       ("cov", lambda m, x, y: m.cov(x)), ("corrcoef", lambda m, x, y: m.corrcoef(x)),
                       ("block_diag", lambda m, x, y: m.block_diag(x, y))]:  # vander: PyTorch 2.13's backward fails
        tt = [torch.tensor(v, requires_grad=True) for v in (a, b)]
        gt = [tg.tensor(v, requires_grad=True) for v in (a, b)]
        want, got = call(torch, *tt), call(tg, *gt)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        w = rng.uniform(-1, 1, tuple(want.shape))
        (want * torch.tensor(w)).sum().backward()
        (got * tg.tensor(w)).sum().backward()
        for t, g in zip(tt, gt, strict=True):
            want_grad = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            got_grad = np.zeros(g.shape) if g.grad is None else g.grad.numpy()
            np.testing.assert_allclose(got_grad, want_grad, rtol=1e-8, atol=1e-10, err_msg=name)


def test_errors_name_the_op():
    cases = [(lambda: tg.bincount(tg.tensor([-1, 2])), "bincount"), (lambda: tg.bincount(tg.ones(2)), "bincount"),
             (lambda: tg.histc(tg.tensor([1, 2]), 3), "histc"), (lambda: tg.histc(tg.ones(2), 3, 2, 1), "histc"),
             (lambda: tg.searchsorted(tg.ones(2, 3), tg.ones(3, 1)), "searchsorted"),
             (lambda: tg.searchsorted(tg.ones(3), tg.ones(1), side="middle"), "searchsorted"),
             (lambda: tg.bucketize(tg.ones(1), tg.ones(2, 2)), "bucketize"),
             (lambda: tg.cartesian_prod(tg.ones(2, 2)), "cartesian_prod"),
             (lambda: tg.combinations(tg.ones(2, 2)), "combinations"),
             (lambda: tg.block_diag(tg.ones(1, 1, 1)), "block_diag"), (lambda: tg.cov(tg.ones(1, 1, 1)), "cov"),
             (lambda: tg.cdist(tg.ones(2), tg.ones(2, 2)), "cdist"),
             (lambda: tg.cdist(tg.ones(2, 3), tg.ones(2, 2)), "X1 and X2"),
             (lambda: tg.unique(tg.ones(2), dim=1), "unique"),
             (lambda: tg.histogram(tg.ones(2), tg.tensor([0.0, 1.0], dtype=tg.float64)), "histogram")]
    for call, match in cases:
        with pytest.raises((RuntimeError, IndexError), match=match):
            call()
    with pytest.raises(TypeError, match="unique"):
        tg.unique([1, 2])


def test_docstring_examples_run():
    result = doctest.testmod(counting, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 30


def test_unique_histogram_bincount_record_a_node_without_derivative_as_pytorch():
    x = tg.tensor([1.0, 2.0, 2.0], requires_grad=True)
    for out, name in ((tg.unique(x), "Unique2Backward0"), (tg.unique(x, dim=0), "UniqueDimBackward0"),
                      (tg.unique_consecutive(x), "UniqueConsecutiveBackward0"),
                      (tg.histogram(x, 2).hist, "torch::autograd::NotImplemented"),
                      (tg.histogram(x, 2).bin_edges, "torch::autograd::NotImplemented"),
                      (tg.bincount(tg.tensor([0, 1, 1]), weights=x), "torch::autograd::NotImplemented")):
        assert out.requires_grad and out.grad_fn.name() == name
        with pytest.raises(RuntimeError, match="derivative for .* is not implemented"):
            out.sum().backward()
    assert not tg.unique(tg.tensor([1.0, 2.0])).requires_grad
    assert not tg.unique(x, return_inverse=True)[1].requires_grad


def test_unique_dim_of_empty_inputs_as_pytorch():
    assert tg.unique(tg.zeros((0, 2)), dim=0).shape == (0, 2)
    vals, inv, counts = tg.unique(tg.zeros((3, 0)), dim=1, return_inverse=True, return_counts=True)
    assert vals.shape == (3, 0) and inv.shape == (0,) and counts.shape == (0,) and inv.dtype == tg.int64
    assert tg.unique_consecutive(tg.zeros((0, 2)), dim=0).shape == (0, 2)
    with pytest.raises(RuntimeError, match="aren't selected"):
        tg.unique_consecutive(tg.zeros((0, 2)), dim=1)
    with pytest.raises(RuntimeError, match="more than one"):
        tg.unique(tg.zeros((0, 0)), dim=1)


def test_cov_bincount_checks_and_shapes_as_pytorch():
    with pytest.raises(RuntimeError, match="cov\\(\\): bool dtype is not supported"):
        tg.cov(tg.tensor([[True, False]]))
    with pytest.raises(RuntimeError, match="bool dtype is not supported"):
        tg.corrcoef(tg.tensor([True]))
    with pytest.raises(NotImplementedError, match="bincount.*bool"):
        tg.bincount(tg.tensor([True, False]))
    assert tg.cov(tg.tensor([[1.0, 2.0, 4.0]])).shape == ()  # one variable: squeezed, as PyTorch
    assert tg.corrcoef(tg.tensor([[1.0, 2.0, 4.0]])).shape == ()
    got = tg.cov(tg.tensor([[2, -7, 0], [3, 1, -1]]), aweights=tg.tensor([0.0, 1.0, 0.5], dtype=tg.float64))
    assert got.dtype == tg.float64
    assert tg.cov(tg.tensor([[1.0, 2.0]], dtype=tg.float16), aweights=tg.tensor([1.0, 2.0])).dtype == tg.float32


def test_fixed_edges_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [lambda m: m.cov(m.tensor([[-2.2, -2.2, -1.9]], dtype=m.float64), correction=0),
             lambda m: m.cov(m.tensor([[2, -7, 0], [3, 1, -1]]), aweights=m.tensor([0.0, 1.0, 0.5], dtype=m.float64)),
             lambda m: m.cov(m.tensor([[1.0, 2.0]], dtype=m.float16), aweights=m.tensor([1.0, 2.0])),
             lambda m: m.corrcoef(m.tensor([[1.0, 2.0, 4.0]])),
             lambda m: m.unique(m.zeros((3, 0)), dim=1, return_inverse=True, return_counts=True),
             lambda m: m.histogram(m.tensor([1.0, 2.0, 2.0], requires_grad=True), 2)]
    for case in cases:
        got, want = case(tg), case(torch)
        got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
        for g, w in zip(got, want, strict=True):
            assert str(g.dtype).split(".")[-1] == str(w.dtype).split(".")[-1]
            assert tuple(g.shape) == tuple(w.shape) and g.requires_grad == w.requires_grad
            np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-3)


def test_bincount_and_histogram_edges_as_pytorch():
    assert tg.bincount(tg.tensor([], dtype=tg.int64), weights=tg.tensor([]), minlength=2).dtype == tg.int64
    assert tg.bincount(tg.tensor([1]), weights=tg.tensor([3.0], dtype=tg.float16)).dtype == tg.float64
    assert tg.bincount(tg.tensor([1, 1]), weights=tg.tensor([3.0, 1.0])).dtype == tg.float32
    edges = tg.histogram(tg.zeros(0), 3).bin_edges  # an empty input spans [0, 1], as numpy and PyTorch
    np.testing.assert_allclose(edges.numpy(), [0, 1 / 3, 2 / 3, 1], rtol=1e-6)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(edges.numpy(), torch.histogram(torch.zeros(0), 3).bin_edges.numpy())
    for w in (np.array([3.0], np.float16), np.array([3.0], np.float32), np.array([3]), np.zeros(0)):
        x = [1] if w.size else []
        got = tg.bincount(tg.tensor(x, dtype=tg.int64), weights=tg.tensor(w))
        want = torch.bincount(torch.tensor(x, dtype=torch.int64), weights=torch.tensor(w))
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]


@given(x=st.lists(st.sampled_from([-1.0, -0.0, 0.0, 1.0, 0.25]), min_size=1, max_size=40),
       bins=st.integers(1, 4), dtype=st.sampled_from(["float32", "float64"]))
@example(x=[-0.25, -3.0, -0.0], bins=1, dtype="float64")  # the last edge is -0.0
@example(x=[-1.0, -0.0, 0.0], bins=3, dtype="float64")  # the first zero of the maximum, not numpy's max
def test_histogram_edges_take_the_first_extreme_value_with_its_zero_sign(x, bins, dtype):
    # PyTorch infers the range with aminmax along a dim: the first minimum and the first maximum in the input's
    # order, so a -0.0 met before +0.0 is the last edge (the first edge is start + 0 * step: +0.0 either way)
    t = tg.tensor(x, dtype=getattr(tg, dtype))
    edges = tg.histogram(t, bins).bin_edges.numpy()
    hi = x[int(np.argmax(x))]
    if min(x) != hi:
        assert np.signbit(edges[-1]) == np.signbit(hi)
    torch = pytest.importorskip("torch")
    expected = torch.histogram(torch.tensor(x, dtype=getattr(torch, dtype)), bins).bin_edges.numpy()
    np.testing.assert_array_equal(edges, expected)
    np.testing.assert_array_equal(np.signbit(edges), np.signbit(expected))


def _sequential_bins(x, w, edges, dtype):
    """Each weight added to its bin one after another in the dtype: PyTorch's kernel on one thread."""
    hist = np.zeros(len(edges) - 1, dtype)
    for v, wt in zip(x, w):
        if edges[0] <= v <= edges[-1]:
            hist[min(np.searchsorted(edges, v, side="right") - 1, len(hist) - 1)] += wt
    return hist


@given(x=st.lists(st.floats(-1, 1), min_size=1, max_size=200), w=st.floats(0.01, 9.0),
       dtype=st.sampled_from(["float16", "float32", "float64"]), bins=st.integers(1, 4))
@example(x=[0.0] * 150, w=0.1, dtype="float16", bins=1)  # 15.15625 one by one, 15.0 rounded once
@example(x=[0.0] * 100, w=7.1, dtype="float32", bins=1)
def test_weighted_histogram_adds_each_weight_in_the_dtype(x, w, dtype, bins):
    # PyTorch's kernel adds weights one after another in the input's dtype (up to 200 values: one thread)
    xs = np.array(x, dtype)
    ws = np.linspace(w, 2 * w, len(x)).astype(dtype)
    got = tg.histogram(tg.tensor(xs), bins, range=(-1.0, 1.0), weight=tg.tensor(ws))
    expected = _sequential_bins(xs, ws, got.bin_edges.numpy().astype(np.float64), dtype)
    np.testing.assert_array_equal(got.hist.numpy(), expected)


@pytest.fixture
def threads():
    n = tg.get_num_threads()
    yield tg.set_num_threads
    tg.set_num_threads(n)


def test_float16_counts_stop_at_2048_in_each_threads_part(threads):
    # at::parallel_for gives each thread a part of the input (200 values at least); each part counts in float16,
    # where 2048 + 1 is 2048; the parts' bins are then summed
    x = tg.zeros(5000, dtype=tg.float16)
    for n, count in [(1, 2048.0), (2, 4096.0), (3, 5000.0), (30, 5000.0)]:  # 3 parts of 1667 do not stall
        threads(n)
        assert tg.histc(x, 2, -1, 1).tolist() == [0.0, count]
        assert tg.histogram(x, 1, range=(-1.0, 1.0)).hist.tolist() == [count]
    threads(2)
    part = _sequential_bins(np.zeros(2500, np.float16), np.full(2500, 0.1, np.float16), [-1.0, 1.0], np.float16)
    weighted = tg.histogram(x, 1, range=(-1.0, 1.0), weight=tg.full((5000,), 0.1, dtype=tg.float16)).hist
    assert weighted.tolist() == [float(np.float16(np.float32(part[0]) * 2))]  # the two parts, summed in float32


@pytest.mark.parametrize("n", [150, 201, 399, 401, 1000, 5000])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_histogram_sums_and_density_match_pytorch(n, dtype, threads):
    torch = pytest.importorskip("torch")
    threads(torch.get_num_threads())
    rng = np.random.default_rng(n)
    x, w = rng.uniform(-1, 1, n).astype(dtype), rng.uniform(0, 3, n).astype(dtype)
    for kwargs in (dict(), dict(density=True), dict(weight=w), dict(weight=w, density=True)):
        got, want = (lib.histogram(lib.tensor(x), 3, range=(-0.9, 0.9),
                                   **{k: lib.tensor(v) if k == "weight" else v for k, v in kwargs.items()}).hist
                     for lib in (tg, torch))
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=str(kwargs))


VALUES = st.sampled_from([-np.inf, -60000.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, np.inf, np.nan])


@given(x=st.lists(VALUES, min_size=0, max_size=8), w=st.lists(VALUES, min_size=8, max_size=8),
       dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(x=[np.inf, 1.0, 2.5], w=[np.inf, 1.0, 2.5, 0, 0, 0, 0, 0], dtype="float16")
@example(x=[-np.inf, 1.0], w=[np.inf, 2.0, 0, 0, 0, 0, 0, 0], dtype="float32")
def test_weighted_histogram_ignores_the_weights_of_values_out_of_range(x, w, dtype):
    # numpy's cumulative sum of weights took in the out-of-range ones: an inf weight there made every bin nan
    a, wa = np.array(x, dtype=dtype), np.array(w[:len(x)], dtype=dtype)
    got = tg.histogram(tg.tensor(a), 3, range=(0.0, 3.0), weight=tg.tensor(wa)).hist.numpy().astype(np.float64)
    idx = np.clip(np.floor(a.astype(np.float64)), 0, 2)
    inside = (a >= 0) & (a <= 3)
    want = [wa[inside & (idx == b)].astype(np.float64).sum() for b in range(3)]
    np.testing.assert_allclose(got, want, rtol=2e-3, equal_nan=True)


def test_weighted_histogram_with_infinities_matches_pytorch():
    torch = pytest.importorskip("torch")
    a = np.array([-2.5, 2.0, np.inf, -np.inf, -60000.0, 0.0, 1.5, 0.5, -3.0], dtype=np.float16)
    for dtype in (np.float16, np.float32):
        got = tg.tensor(a.astype(dtype)).histogram(3, range=(0.0, 3.0), weight=tg.tensor(a.astype(dtype)))
        want = torch.tensor(a.astype(dtype)).histogram(3, range=(0.0, 3.0), weight=torch.tensor(a.astype(dtype)))
        np.testing.assert_array_equal(got.hist.numpy(), want.hist.numpy())


def test_cov_refuses_weights_that_sum_to_zero():
    with pytest.raises(RuntimeError, match="weights sum to zero"):
        tg.cov(tg.tensor([[1.0, 2.0]]), aweights=tg.tensor([0.0, 0.0]))
    with pytest.raises(RuntimeError, match="weights sum to zero"):
        tg.cov(tg.tensor([[1.0, 2.0]]), fweights=tg.tensor([0, 0]))


def test_histogram_refuses_a_range_that_is_not_finite():
    for x, kw in ((tg.tensor([float("nan")]), {}), (tg.tensor([1.0, float("inf")]), {}),
                  (tg.tensor([1.0]), {"range": (0.0, float("inf"))})):
        with pytest.raises(RuntimeError, match="histogram: the range .* is not finite"):
            tg.histogram(x, 1, **kw)


def test_histogram_refuses_a_range_with_tensor_bins_as_pytorch():
    with pytest.raises(TypeError, match="histogram"):
        tg.histogram(tg.tensor([1.0]), tg.tensor([0.0, 2.0]), range=(0.0, 1.0))


def test_cov_of_large_integers_sums_them_exactly_first_as_pytorch():
    x = [[0, -7, -9223372036854775808], [3, 5, -100], [1, -1, 100]]
    got = tg.corrcoef(tg.tensor(x)).numpy()
    assert abs(got[0, 1]) < 0.6  # the float32 roundings of the values would give 0.9999
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(got, torch.corrcoef(torch.tensor(x)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(tg.cov(tg.tensor([[16777217, 1, 3]])).item(),
                               torch.cov(torch.tensor([[16777217, 1, 3]])).item(), rtol=1e-6)


def test_histc_of_nan_without_a_range_is_refused_as_pytorch():
    x = [[0.0, 0.5], [float("nan"), 0.0]]
    with pytest.raises(RuntimeError, match="histc: range of \\[nan, nan\\] is not finite"):
        tg.histc(tg.tensor(x))
    assert tg.histc(tg.tensor(x), 2, 0.0, 1.0).tolist() == [2.0, 1.0]  # with a range, NaN is left out
    torch = pytest.importorskip("torch")
    assert torch.histc(torch.tensor(x), 2, 0.0, 1.0).tolist() == [2.0, 1.0]
    with pytest.raises(RuntimeError):
        torch.histc(torch.tensor(x))


# ---------------------------------------------------------------------- cov's dtypes with float aweights
@pytest.mark.parametrize("idt", ["uint8", "int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("adt", ["float16", "float32", "float64"])
@pytest.mark.parametrize("n, with_f", [(1, False), (1, True), (2, False), (2, True)])
def test_cov_aweights_dtypes_as_pytorch(idt, adt, n, with_f):
    def run(m):
        x = m.arange(n).to(getattr(m, idt)).reshape(1, n).repeat(2, 1)
        kw = {"aweights": m.ones(n, dtype=getattr(m, adt))}
        if with_f:
            kw["fweights"] = m.ones(n, dtype=m.int64)
        try:
            r = m.cov(x, **kw)
        except RuntimeError as e:
            return "raises", str(e)
        return str(r.dtype).split(".")[-1], r.tolist()

    got = run(tg)
    single = n == 1 and not with_f
    base = idt if idt.startswith("float") else "float32"
    wide = np.promote_types(base, adt).name
    if single and wide != base:  # PyTorch's mm of one observation with aweights alone refuses mixed dtypes
        assert got[0] == "raises" and "same dtype" in got[1]
    else:
        assert got[0] != "raises", got
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = run(torch)
    assert got[0] == want[0]
    if got[0] != "raises":
        np.testing.assert_allclose(np.array(got[1], dtype=float), np.array(want[1], dtype=float), rtol=1e-3)


# ---- histogram: PyTorch's dtype rules (float16 only with a range, the weight of the input's dtype)
@given(st.lists(st.floats(-4, 4, width=16), min_size=1, max_size=6), st.integers(1, 4),
       st.sampled_from([None, "float16", "float32", "float64"]))
@example([0.0], 5, "float16")  # the driver's repro: PyTorch refuses, "histogramdd" not implemented for 'Half'
@example([2.0, 3.0], 5, "float32")
def test_histogram_float16_needs_a_range_and_weights_of_its_dtype(values, bins, wdt):
    # PyTorch infers the range with a kernel of float32/float64 only (HistogramKernel.cpp,
    # histogram_select_outer_bin_edges_impl), then histogramdd_check_inputs wants the weight in the input's dtype
    x = tg.tensor(values, dtype=tg.float16)
    w = None if wdt is None else tg.tensor(values, dtype=getattr(tg, wdt))
    with pytest.raises(NotImplementedError, match="histogramdd.*Half"):
        tg.histogram(x, bins, weight=w)
    with pytest.raises(NotImplementedError, match="histogramdd.*Half"):
        x.histogram(bins, weight=w)
    if wdt not in (None, "float16"):
        with pytest.raises(RuntimeError, match="same dtype.*float16.*" + wdt):
            tg.histogram(x, bins, range=(-1.0, 3.0), weight=w)
        with pytest.raises(RuntimeError, match="same dtype"):
            tg.histogram(x.float() if wdt != "float32" else x.double(), bins, weight=w)
    else:
        got = tg.histogram(x, bins, range=(-4.0, 4.0), weight=w)
        assert got.hist.dtype == tg.float16
        if w is None:
            assert float(got.hist.sum()) == len(values)
    empty = tg.histogram(tg.tensor([], dtype=tg.float16), bins)  # nothing to infer from: computes, as PyTorch
    assert empty.hist.dtype == tg.float16 and empty.hist.tolist() == [0.0] * bins


def test_histogram_dtype_errors_match_pytorch():
    torch = pytest.importorskip("torch")
    h, f = np.array([1.0, 2.0], np.float16), np.array([1.0, 2.0], np.float32)
    cases = [(h, 3, {}), (h, 3, {"weight": f}), (f, 3, {"weight": h}), (f, 3, {"weight": f.astype(np.float64)}),
             (h, 3, {"range": (0.0, 1.0)}), (h, 3, {"range": (0.0, 1.0), "weight": f}),
             (h, 3, {"range": (0.0, 1.0), "weight": h}), (h, -1, {}), (np.zeros(0, np.float16), 3, {})]
    for x, bins, kwargs in cases:
        outcomes = []
        for lib in (torch, tg):
            kw = {k: (lib.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
            try:
                r = lib.histogram(lib.tensor(x), bins, **kw)
                outcomes.append(("ok", r.hist.tolist()))
            except (RuntimeError, NotImplementedError) as e:
                outcomes.append((type(e).__name__,))
        assert outcomes[0] == outcomes[1], (x.dtype, bins, kwargs, outcomes)


def test_histogram_counts_values_near_the_float32_maximum_in_their_bin():
    # PyTorch 2.13 computes the bin (x - lo) * bins / (hi - lo) in float32, which overflows for x = 3e38 and
    # counts it in bin 1 (pytorch-histogram-position-overflow in tests/test_differential.py); 3e38 is in the last
    # bin [2e38, 3e38], as numpy counts
    x = np.array([-2.5, 3.0, 1.5, 3e38, -60000.0, 1.5], np.float32)
    got = tg.histogram(tg.tensor(x), 3)
    assert got.hist.tolist() == [5.0, 0.0, 1.0]
    assert got.hist.tolist() == np.histogram(x.astype(np.float64), bins=got.bin_edges.numpy().astype(np.float64))[0]\
        .tolist()


_ZEROS_AND_NANS = st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, float("nan")]), min_size=1, max_size=40)


@given(values=_ZEROS_AND_NANS, dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(values=[0.0, -2.5, 3.0, -0.0, -2.5, 3.0], dtype="float32")  # up to 16 values: the first zero
@example(values=[-0.0, 1.0, -1.0, 0.0, 1.0, 2.0, -1.0, 0.0, -0.0, 1.0, 1.0, 2.0, 0.0, 0.0, 2.0, 1.0, 0.0],
         dtype="float64")  # 17: std::sort's introsort
@example(values=[float("nan"), -1.0, float("nan")] * 6, dtype="float16")  # where each NaN goes (inverse)
def test_unique_keeps_the_zero_and_nan_order_of_pytorchs_std_sort(values, dtype):
    # PyTorch's CPU unique sorts (value, index) pairs with std::sort and keeps each run's first element
    # (aten/src/ATen/native/Unique.cpp, unique_cpu_sorted_template): which of 0.0 and -0.0 it returns and which
    # slot each NaN's inverse index names follow libstdc++'s moves, not the input order beyond 16 elements
    x = np.array(values, dtype)
    v, inv, counts = tg.unique(tg.tensor(x), return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(v.numpy()[inv.numpy()], x)  # every element maps to an equal value
    assert counts.numpy().sum() == x.size
    torch = pytest.importorskip("torch")
    w, w_inv, w_counts = torch.unique(torch.from_numpy(x), return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(np.signbit(v.numpy()), np.signbit(w.numpy()))
    np.testing.assert_array_equal(v.numpy(), w.numpy())
    np.testing.assert_array_equal(inv.numpy(), w_inv.numpy())
    np.testing.assert_array_equal(counts.numpy(), w_counts.numpy())
    np.testing.assert_array_equal(np.signbit(tg.tensor(x).unique().numpy()), np.signbit(w.numpy()))


_SLICES = st.lists(st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, float("inf"), float("nan")]), min_size=2,
                            max_size=2), min_size=1, max_size=24)


@given(rows=_SLICES, dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(rows=[[0.0, -3.0], [-2.5, -3.0], [float("nan"), float("-inf")]], dtype="float16")  # driver seed 159177
@example(rows=[[1.0, float("nan")], [float("nan"), 1.0], [float("inf"), float("nan")], [1.0, 1.0]] * 5,
         dtype="float32")  # 20 slices: std::sort's introsort moves the NaN slices
def test_unique_dim_with_nan_keeps_pytorchs_std_sort_order(rows, dtype):
    # unique(dim=) sorts slice indices with std::sort and a lexicographic < that NaN makes no strict weak order,
    # then keeps each run's first slice where at::equal holds (NaN equals nothing, so a NaN slice stays apart)
    # (aten/src/ATen/native/Unique.cpp, _unique_dim_cpu_template and _unique_dim_cpu_impl)
    x = np.array(rows, dtype)
    v, inv, counts = tg.unique(tg.tensor(x), dim=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(v.numpy()[inv.numpy()], x)  # every slice maps to an equal one (NaN too)
    assert counts.numpy().sum() == x.shape[0] and (counts.numpy() > 0).all()
    torch = pytest.importorskip("torch")
    want = torch.unique(torch.from_numpy(x), dim=0, return_inverse=True, return_counts=True)
    for got, w in zip((v, inv, counts), want):
        np.testing.assert_array_equal(got.numpy(), w.numpy())
    np.testing.assert_array_equal(np.signbit(v.numpy()), np.signbit(want[0].numpy()))
    np.testing.assert_array_equal(tg.unique(tg.tensor(x.T.copy()), dim=1).numpy(),
                                  torch.unique(torch.from_numpy(x.T.copy()), dim=1).numpy())


def test_unique_dim_keeps_the_first_slice_of_pytorchs_std_sort():
    # unique(dim=) sorts the slice indices with std::sort and a lexicographic <, keeping each run's first slice
    # (aten/src/ATen/native/Unique.cpp, _unique_dim_cpu_template)
    rng = np.random.default_rng(5)
    for n in (3, 17, 40):
        x = rng.choice(np.array([0.0, -0.0, 1.0]), (n, 2))
        got = tg.unique(tg.tensor(x), dim=0)
        assert got.shape[0] == np.unique(x, axis=0).shape[0]
        torch = pytest.importorskip("torch")
        np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(torch.unique(torch.from_numpy(x),
                                                                                       dim=0).numpy()))
    assert np.signbit(tg.unique(tg.tensor([[0.0, 1.0], [-0.0, 1.0]]), dim=0).numpy()).tolist() == [[False, False]]


# ---------------------------------------------------------------------- histc and histogram bins as PyTorch's kernel
def _histc_both(x, bins, lo, hi):
    got = tg.histc(tg.tensor(x), bins, lo, hi).numpy()
    torch = pytest.importorskip("torch")
    return got, torch.histc(torch.from_numpy(x), bins, lo, hi).numpy()


_HISTC_VALUES = st.lists(st.sampled_from([-1.9, 0.05, -0.7, 1.1, 0.85, -0.45, 2.6, 1.3, 0.3, 0.0, -0.25, 3.0]),
                         min_size=1, max_size=12)


@given(values=_HISTC_VALUES, bins=st.sampled_from([1, 2, 3, 5, 7, 10, 100]),
       dtype=st.sampled_from(["float16", "float32", "float64"]),
       rng=st.sampled_from([(0.0, 0.0), (-1.0, 1.0), (0.0, 0.3), (-0.7, 2.6)]))
@example(values=[-1.9, 0.05, -0.7, 1.1, -0.7, 0.85, 0.85, -0.45], bins=100, dtype="float32", rng=(0.0, 0.0))
@example(values=[0.05], bins=100, dtype="float64", rng=(0.0, 0.0))  # [-0.95, 1.05]: (1.0 * 100) / 2.0 is bin 50
def test_histc_bins_as_pytorchs_linear_interpolation(values, bins, dtype, rng):
    # PyTorch's histc (HistogramKernel.cpp, LINEAR_INTERPOLATION) puts x in bin int((x - lo) * bins / (hi - lo)),
    # each operation rounded in the input's dtype, with no correction against the edges (numpy's histogram moves
    # a value to the side of the edge it is on, so 0.05 in [-0.95, 1.05] is its bin 49)
    x = np.array(values, dtype)
    got = tg.histc(tg.tensor(x), bins, *rng).numpy()
    assert got.dtype == x.dtype and got.shape == (bins,)
    lo, hi = rng if rng[0] != rng[1] else (float(x.min()), float(x.max()))
    inside = x[(x >= np.array(lo, dtype)) & (x <= np.array(hi, dtype))] if lo != hi else x
    assert got.sum() == inside.size
    got, want = _histc_both(x, bins, *rng)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("x, bins, want", [
    (np.array([1.0000000150474662e+30], np.float32), 3, [0, 1, 0]),  # widened by one step of the dtype: the middle
    (np.array([2.0 ** 24] * 2, np.float32), 4, [0, 2, 0, 0]),  # [2**24 - 1, 2**24 + 2]: (1 * 4) / 3 is bin 1
    (np.array([-2.0 ** 53], np.float64), 5, [0, 0, 0, 1, 0]),  # [-2**53 - 2, -2**53 + 1]: 2 * 5 / 3 is bin 3
    (np.array([1e10] * 2, np.float32), 4, [0, 0, 2, 0]),
    (np.array([3000.0] * 2, np.float16), 4, [2, 0, 0, 0]),  # float16 edges 3000, 3000: position 0/0, bin 0
    (np.array([2048.0], np.float16), 4, [0, 0, 0, 1]),  # edges 2047 and 2048 (2049 rounds to even): last bin
    (np.array([-3e38, 3e38], np.float32), 4, [0, 0, 0, 0]),  # linspace's step overflows: NaN edges, nothing counted
    (np.array([-1e38, 1e38, 0.5e38], np.float32), 4, [3, 0, 0, 0]),  # (x - lo) * 4 overflows: INT64_MIN, bin 0
])
def test_histc_of_an_empty_or_extreme_range_as_pytorch(x, bins, want):
    # PyTorch 2.13 widens an empty range by 1 each side and, in float32/float64, a side 1 cannot move by one step
    # of the dtype; float16 edges are linspace's in float16, where they may collapse (Histogram.cpp,
    # histc_select_outer_bin_edges; HistogramKernel.cpp): a position that is not finite casts to INT64_MIN,
    # which writes to bin 0
    got = tg.histc(tg.tensor(x), bins)
    assert got.tolist() == want
    got, torch_got = _histc_both(x, bins, 0, 0)
    np.testing.assert_array_equal(got, torch_got)


def test_histc_and_histogram_refuse_a_range_beyond_the_dtype_as_pytorch():
    for call in (lambda m: m.histc(m.tensor([1.0, 2.0], dtype=m.float16), 4, -1.0, 1e30),
                 lambda m: m.histogram(m.tensor([1.0, 2.0], dtype=m.float16), 4, range=(-1e5, 1.0)),
                 lambda m: m.histc(m.tensor([], dtype=m.float16), 3, 1e30, 1e30)):
        with pytest.raises(RuntimeError):
            call(tg)
        torch = pytest.importorskip("torch")
        with pytest.raises(RuntimeError):
            call(torch)


@given(values=_HISTC_VALUES, bins=st.sampled_from([1, 2, 3, 5, 7, 10, 100]),
       dtype=st.sampled_from(["float16", "float32", "float64"]),
       rng=st.sampled_from([None, (0.0, 0.0), (-1.0, 1.0), (0.0, 0.3), (-0.7, 2.6)]), weighted=st.booleans())
@example(values=[-0.7, -0.7, 1.1, 0.05, 1.3, 1.3, 0.3, 0.85, 1.3], bins=5, dtype="float64", rng=(0.0, 0.0),
         weighted=True)  # edges [-0.5, -0.3, -0.1, 0.1, 0.3, 0.5]: 0.3 is the fifth edge, so the last bin
def test_histogram_edges_are_pytorchs_linspace(values, bins, dtype, rng, weighted):
    # histogram's edges are linspace(lo, hi, bins + 1) in the input's dtype (Histogram.cpp), PyTorch's values
    # (numpy's linspace makes 0.30000000000000004 of the fifth edge above, which moves 0.3 a bin down); a value
    # goes in the bin whose edges hold it
    x = np.array(values, dtype)
    if rng is None and dtype == "float16":
        rng = (0.0, 0.0)  # (PyTorch infers no float16 range)
    kw = {} if rng is None else {"range": rng}
    hist, edges = tg.histogram(tg.tensor(x), bins, weight=tg.tensor(x) if weighted else None, **kw)
    lo, hi = (float(x.min()), float(x.max())) if rng is None else rng
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    np.testing.assert_array_equal(edges.numpy(), tg.linspace(lo, hi, bins + 1, dtype=getattr(tg, dtype)).numpy())
    e = edges.numpy()
    for v in x[(x >= e[0]) & (x <= e[-1])]:
        b = min(int(np.searchsorted(e, v, side="right")) - 1, bins - 1)
        assert e[b] <= v <= e[b + 1]
    torch = pytest.importorskip("torch")
    kw_t = dict(kw, weight=torch.from_numpy(x) if weighted else None)
    want_hist, want_edges = torch.histogram(torch.from_numpy(x), bins, **kw_t)
    np.testing.assert_array_equal(edges.numpy(), want_edges.numpy())
    np.testing.assert_allclose(hist.numpy(), want_hist.numpy(), rtol=2e-3 if dtype == "float16" else 1e-6)


@pytest.mark.parametrize("op", ["unique", "unique_consecutive"])
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=4), data=st.data())
def test_unique_along_a_dim_has_pytorchs_layout(op, shape, data):
    """PyTorch's unique_dim and unique_consecutive(dim=d) build the values with dim d first, contiguous, then move
    it back: strides (1, 2) for a (2, 3) result along dim 1, so ``view(-1)`` of it fails there as here."""
    dim = data.draw(st.integers(0, len(shape) - 1))
    a = data.draw(st.lists(st.integers(0, 2), min_size=math.prod(shape), max_size=math.prod(shape)))
    x = np.array(a, dtype=np.int64).reshape(shape)
    out = getattr(tg, op)(tg.tensor(x), dim=dim)
    values = out.numpy()
    moved = np.moveaxis(values, dim, 0)
    assert moved.flags.c_contiguous  # dim first, contiguous
    assert out.stride() == tuple(s // 8 for s in values.strides)
    torch = pytest.importorskip("torch")
    want = getattr(torch, op)(torch.tensor(x), dim=dim)
    assert out.stride() == want.stride() and out.tolist() == want.tolist()
