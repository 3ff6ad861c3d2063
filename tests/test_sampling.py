"""Sampling: statistics of large samples with fixed seeds (bounds several standard errors wide),
reproducibility with seeded generators, no repeats without replacement, zero gradients, dtypes, in-place
semantics, errors."""

import doctest

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.ops import sampling as sampling_module
from tapegrad.testing import shapes


def gen(seed=0):
    return tg.Generator().manual_seed(seed)


def frequencies(samples, n):
    return np.bincount(np.asarray(samples).ravel(), minlength=n) / np.asarray(samples).size


# ---------------------------------------------------------------------- multinomial
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multinomial_with_replacement_matches_the_weights(dtype):
    weights = np.array([[1.0, 0.0, 3.0, 6.0], [5.0, 5.0, 0.0, 0.0]], dtype)  # unnormalized, with zeros
    out = tg.multinomial(tg.tensor(weights), 50_000, replacement=True, generator=gen(1))
    assert out.shape == (2, 50_000) and out.dtype == np.int64
    for row, w in zip(out.numpy(), weights):
        p = w / w.sum()
        f = frequencies(row, 4)
        assert np.all(f[p == 0] == 0)  # zero weight: never drawn
        np.testing.assert_allclose(f, p, atol=6 * np.sqrt(0.25 / 50_000))


def test_multinomial_one_dimensional_and_method_form():
    out = tg.tensor([0.2, 0.8]).multinomial(40_000, True, generator=gen(2))
    assert out.shape == (40_000,)
    np.testing.assert_allclose(frequencies(out.numpy(), 2), [0.2, 0.8], atol=0.01)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=8).filter(lambda w: sum(w) > 0), st.data())
def test_multinomial_without_replacement_never_repeats(weights, data):
    positive = sum(w > 0 for w in weights)
    k = data.draw(st.integers(1, len(weights)))
    rows = np.array([weights, weights[::-1]], dtype=np.float64)
    out = tg.multinomial(tg.tensor(rows), k, generator=gen(data.draw(st.integers(0, 100)))).numpy()
    for row, w in zip(out, rows):
        assert len(set(row.tolist())) == k
        # categories of positive weight come first; zero-weight ones only after all of those are drawn
        assert all(w[i] > 0 for i in row[:min(k, positive)])


def test_multinomial_without_replacement_draws_in_weighted_order():
    w = np.array([1.0, 2.0, 7.0])
    out = tg.multinomial(tg.tensor(np.tile(w, (60_000, 1))), 2, generator=gen(3)).numpy()
    np.testing.assert_allclose(frequencies(out[:, 0], 3), w / w.sum(), atol=0.01)
    # P(second = j) = sum_i p_i p_j / (1 - p_i)
    p = w / w.sum()
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(3) if i != j) for j in range(3)])
    np.testing.assert_allclose(frequencies(out[:, 1], 3), second, atol=0.01)


def test_multinomial_is_reproducible_with_a_seeded_generator_and_manual_seed():
    w = tg.tensor([[0.3, 0.3, 0.4], [0.9, 0.05, 0.05]])
    for replacement in (False, True):
        a = tg.multinomial(w, 3, replacement, generator=gen(7))
        b = tg.multinomial(w, 3, replacement, generator=gen(7))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        tg.manual_seed(11)
        c = tg.multinomial(w, 3, replacement)
        tg.manual_seed(11)
        np.testing.assert_array_equal(c.numpy(), tg.multinomial(w, 3, replacement).numpy())


def test_multinomial_returns_zero_weight_categories_last_when_it_must():
    out = tg.multinomial(tg.tensor([1.0, 0.0, 0.0]), 3, generator=gen(0)).numpy()
    assert out[0] == 0 and sorted(out.tolist()) == [0, 1, 2]


@pytest.mark.parametrize("weights, n, replacement, pattern", [
    ([1.0, -1.0], 1, False, r"multinomial: probability tensor contains .*element < 0.*\(2,\)"),
    ([1.0, np.nan], 1, True, r"multinomial: probability tensor contains either `inf`, `nan`"),
    ([1.0, np.inf], 1, True, r"multinomial: probability tensor contains either `inf`"),
    ([[1.0, 1.0], [0.0, 0.0]], 1, True, r"multinomial: invalid multinomial distribution .* row 1 .*\(2, 2\)"),
    ([1.0, 1.0], 3, False, r"multinomial: cannot sample n_sample > prob_dist.*num_samples=3, 2 cat"),
    ([1.0, 1.0], 0, True, r"multinomial: cannot sample n_sample <= 0 samples \(got num_samples=0\)"),
    (np.ones((2, 2, 2)), 1, True, r"multinomial: prob_dist must be 1 or 2 dim.*\(2, 2, 2\)"),
])
def test_multinomial_bad_inputs(weights, n, replacement, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        tg.multinomial(tg.tensor(np.asarray(weights, np.float64)), n, replacement)


def test_multinomial_rejects_integer_weights_and_foreign_generators():
    with pytest.raises(RuntimeError, match="multinomial: only floating-point dtypes.*int64"):
        tg.multinomial(tg.tensor([1, 2]), 1)
    with pytest.raises(TypeError, match="multinomial: generator must be a tapegrad.Generator"):
        tg.multinomial(tg.tensor([1.0, 2.0]), 1, generator=np.random.default_rng(0))


# ---------------------------------------------------------------------- randperm
@given(st.integers(0, 50), st.integers(0, 1000))
def test_randperm_is_a_permutation_and_reproducible(n, seed):
    p = tg.randperm(n, generator=gen(seed))
    assert p.dtype == np.int64 and p.shape == (n,)
    np.testing.assert_array_equal(np.sort(p.numpy()), np.arange(n))
    np.testing.assert_array_equal(p.numpy(), tg.randperm(n, generator=gen(seed)).numpy())


def test_randperm_positions_are_uniform_and_dtype_option():
    g = gen(4)
    firsts = np.array([tg.randperm(5, generator=g)[0].item() for _ in range(5000)])
    np.testing.assert_allclose(frequencies(firsts, 5), 0.2, atol=0.03)
    f = tg.randperm(4, dtype=tg.float32, generator=g)
    assert f.dtype == np.float32 and sorted(f.tolist()) == [0.0, 1.0, 2.0, 3.0]


def test_randperm_bad_inputs():
    with pytest.raises(RuntimeError, match=r"randperm: n must be non-negative, got n=-1"):
        tg.randperm(-1)
    with pytest.raises(TypeError, match="randperm: n must be an int, got float"):
        tg.randperm(2.5)


# ---------------------------------------------------------------------- bernoulli
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bernoulli_mean_matches_probabilities_and_keeps_dtype(dtype):
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0], dtype)
    out = tg.bernoulli(tg.tensor(np.tile(p, (40_000, 1))), generator=gen(5))
    assert out.dtype == dtype
    values = out.numpy()
    assert set(np.unique(values)) <= {0.0, 1.0}
    np.testing.assert_allclose(values.mean(axis=0), p, atol=6 * np.sqrt(0.25 / 40_000))
    assert values[:, 0].max() == 0 and values[:, 4].min() == 1  # p = 0 and p = 1 are exact


def test_bernoulli_tiny_probability_is_not_rounded_up_in_float32():
    out = tg.bernoulli(tg.full((200_000,), 1e-9), generator=gen(6))
    assert out.numpy().sum() == 0


def test_bernoulli_p_form_method_and_reproducibility():
    x = tg.zeros(30_000, dtype=tg.float64)
    out = tg.bernoulli(x, 0.25, generator=gen(8))
    assert out.dtype == np.float64 and out.shape == x.shape
    assert abs(out.numpy().mean() - 0.25) < 0.015
    np.testing.assert_array_equal(out.numpy(), tg.bernoulli(x, 0.25, generator=gen(8)).numpy())
    np.testing.assert_array_equal(tg.full((3,), 0.5).bernoulli(generator=gen(9)).numpy(),
                                  tg.bernoulli(tg.full((3,), 0.5), generator=gen(9)).numpy())


def test_bernoulli_gradient_is_zero_as_in_pytorch():
    p = tg.full((4,), 0.5, dtype=tg.float64, requires_grad=True)
    out = tg.bernoulli(p)
    assert out.requires_grad
    (out * 3).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), 0)


@pytest.mark.parametrize("call, pattern", [
    (lambda: tg.bernoulli(tg.tensor([0.5, 1.5])), r"bernoulli: expects all prob.* found 1.5 .*\(2,\)"),
    (lambda: tg.bernoulli(tg.tensor([-0.1])), r"bernoulli: expects all probabilities .*-0.1"),
    (lambda: tg.bernoulli(tg.zeros(2), 1.5), r"bernoulli: expects p to be in \[0, 1\], but got p=1.5"),
    (lambda: tg.bernoulli(tg.tensor([1, 0])), r"bernoulli: expected a floating-point tensor.*int64"),
])
def test_bernoulli_bad_inputs(call, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        call()


# ---------------------------------------------------------------------- normal
def test_normal_with_tensor_mean_and_std_broadcasts_and_matches_moments():
    mean = tg.tensor([[-2.0], [3.0]], dtype=tg.float64)
    std = tg.tensor([0.5, 2.0, 0.0], dtype=tg.float64)
    out = tg.normal(mean.expand(2, 3) * 1, std, generator=gen(10))
    assert out.shape == (2, 3) and out.dtype == np.float64
    big = tg.normal(tg.zeros(50_000, 2, dtype=tg.float64) + tg.tensor([1.0, -4.0], dtype=tg.float64),
                    tg.tensor([0.5, 3.0], dtype=tg.float64), generator=gen(11)).numpy()
    np.testing.assert_allclose(big.mean(axis=0), [1.0, -4.0], atol=6 * 3.0 / np.sqrt(50_000))
    np.testing.assert_allclose(big.std(axis=0), [0.5, 3.0], rtol=0.02)
    np.testing.assert_array_equal(out.numpy()[:, 2], [-2.0, 3.0])  # std 0: exactly the mean


def test_normal_number_forms_and_dtypes():
    a = tg.normal(tg.zeros(3), 1.0, generator=gen(12))
    assert a.shape == (3,) and a.dtype == np.float32
    b = tg.normal(2.0, tg.ones(2, 2, dtype=tg.float64), generator=gen(12))
    assert b.shape == (2, 2) and b.dtype == np.float64
    c = tg.normal(5.0, 2.0, (40_000,), generator=gen(13))
    assert c.dtype == np.float32
    assert abs(c.numpy().mean() - 5.0) < 0.05 and abs(c.numpy().std() - 2.0) < 0.05
    assert tg.normal(0.0, 1.0, (2,), dtype=tg.float64, requires_grad=True).requires_grad
    np.testing.assert_array_equal(tg.normal(1.0, 1.0, (4,), generator=gen(14)).numpy(),
                                  tg.normal(1.0, 1.0, (4,), generator=gen(14)).numpy())


def test_normal_gradient_is_zero_as_in_pytorch():
    mean = tg.zeros(3, dtype=tg.float64, requires_grad=True)
    std = tg.ones(3, dtype=tg.float64, requires_grad=True)
    out = tg.normal(mean, std)
    assert out.requires_grad and out.grad_fn.name() == "NormalBackward3"  # mean and std tensors, as PyTorch
    out.sum().backward()
    np.testing.assert_array_equal(mean.grad.numpy(), 0)
    np.testing.assert_array_equal(std.grad.numpy(), 0)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: tg.normal(tg.zeros(2), -1.0), RuntimeError, r"normal: expects std >= 0.0, but found std -1"),
    (lambda: tg.normal(0.0, -2.0, (2,)), RuntimeError, r"normal: expects std >= 0.0, but found std -2"),
    (lambda: tg.normal(0.0, 1.0), TypeError, r"normal: with a number mean .* pass size="),
    (lambda: tg.normal(tg.zeros(2), tg.ones(3)), RuntimeError, r"normal: the shapes of mean \(2,\) and"),
    (lambda: tg.normal(tg.zeros(2), 1.0, (2,)), TypeError, r"normal: size= is only accepted"),
    (lambda: tg.normal(tg.tensor([0, 1]), 1.0), RuntimeError, r"normal: .normal_kernel_cpu. not implemented for int64"),
])
def test_normal_bad_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@given(mean_dtype=st.sampled_from(["float32", "float64"]), std_dtype=st.sampled_from(["int32", "int64", "uint8",
                                                                                      "bool", "float16"]),
       zero_d=st.booleans())
@example(mean_dtype="float64", std_dtype="int32", zero_d=True)
def test_normal_casts_a_std_of_another_dtype_to_the_float_mean(mean_dtype, std_dtype, zero_d):
    # PyTorch's result takes mean's dtype; only it must be floating: std is cast (an int std was refused here)
    mean = tg.tensor([1.0, -2.0], dtype=getattr(tg, mean_dtype), requires_grad=True)
    std = tg.tensor(1 if zero_d else [0, 1], dtype=getattr(tg, std_dtype))
    out = tg.normal(mean, std, generator=gen(0))
    assert out.dtype == mean.dtype and out.shape == (2,) and out.requires_grad
    if not zero_d:
        assert out[0].item() == 1.0  # std 0: the mean
    out.sum().backward()
    np.testing.assert_array_equal(mean.grad.numpy(), 0)
    if std_dtype != "float16":  # with a number mean the result takes std's dtype, which must then be floating
        with pytest.raises(NotImplementedError, match="floating-point"):
            tg.normal(1.0, tg.tensor([1, 2], dtype=getattr(tg, std_dtype)))


def test_normal_dtype_rules_match_pytorch():
    torch = pytest.importorskip("torch")
    for m, s in (([1.0, 2.0], 3), ([1, 2], 3.0), ([1, 2], [3, 3]), ([1.0, 2.0], [3, 4]), ([1.0], [True])):
        outcomes = []
        for lib in (torch, tg):
            try:
                outcomes.append(str(lib.normal(lib.tensor(m), lib.tensor(s)).dtype).split(".")[-1])
            except NotImplementedError:
                outcomes.append("refused")
        assert outcomes[0] == outcomes[1], (m, s, outcomes)


# ---------------------------------------------------------------------- in-place fills
@given(shapes(min_dims=1, max_dims=3), st.sampled_from([np.float32, np.float64]), st.integers(0, 100))
def test_in_place_fills_keep_shape_dtype_identity_and_bump_the_version(shape, dtype, seed):
    for fill in (lambda t, g: t.uniform_(-2, 3, generator=g), lambda t, g: t.normal_(1, 2, generator=g),
                 lambda t, g: t.bernoulli_(0.3, generator=g)):
        t = tg.zeros(shape, dtype=dtype)
        before = t._version
        data = t._data
        assert fill(t, gen(seed)) is t
        assert t.shape == shape and t.dtype == dtype and t._data is data and t._version > before
        np.testing.assert_array_equal(t.numpy(), fill(tg.zeros(shape, dtype=dtype), gen(seed)).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_and_normal_fill_statistics(dtype):
    u = tg.empty(100_000, dtype=dtype).uniform_(-1.0, 3.0, generator=gen(15)).numpy()
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.02 and abs(u.var() - 16 / 12) < 0.03
    u2 = tg.empty(10, dtype=dtype).uniform_(**{"from": 2.0, "to": 2.5})
    assert u2.numpy().min() >= 2.0 and u2.numpy().max() < 2.5
    n = tg.empty(100_000, dtype=dtype).normal_(-3.0, 0.5, generator=gen(16)).numpy()
    assert abs(n.mean() + 3.0) < 0.01 and abs(n.std() - 0.5) < 0.01
    b = tg.empty(100_000, dtype=dtype).bernoulli_(0.2, generator=gen(17)).numpy()
    assert abs(b.mean() - 0.2) < 0.01


def test_bernoulli_fill_with_a_tensor_of_probabilities():
    t = tg.empty(4, 3).bernoulli_(tg.tensor([0.0, 1.0, 0.0]), generator=gen(18))
    np.testing.assert_array_equal(t.numpy(), np.tile([0.0, 1.0, 0.0], (4, 1)))


def test_in_place_fills_refuse_leaves_that_require_grad_but_not_under_no_grad():
    w = tg.zeros(3, requires_grad=True)
    for fill in (lambda: w.uniform_(), lambda: w.normal_(), lambda: w.bernoulli_()):
        with pytest.raises(RuntimeError, match=r"(uniform|normal|bernoulli)_: a leaf tensor that requires"):
            fill()
    with tg.no_grad():
        w.uniform_(1.0, 2.0)
    assert w.requires_grad and w.numpy(force=True).min() >= 1.0


@pytest.mark.parametrize("fill, name", [(lambda t: t.uniform_(generator=gen(19)), "UniformBackward0"),
                                        (lambda t: t.normal_(generator=gen(19)), "NormalBackward0"),
                                        (lambda t: t.bernoulli_(generator=gen(19)), "BernoulliBackward2")])
def test_in_place_fill_of_a_graph_node_cuts_the_gradient_to_zero(fill, name):
    a = tg.ones(3, dtype=tg.float64, requires_grad=True)
    b = a * 2
    fill(b)
    assert b.grad_fn.name() == name
    (b * 5).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), 0)


def test_in_place_fill_under_grad_mode_leaves_earlier_uses_of_the_tensor_intact():
    a = tg.ones(3, dtype=tg.float64, requires_grad=True)
    b = a * 1
    c = b * b
    b.uniform_()  # b becomes a new node; c keeps the b it used, with its values
    c.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), 2.0)


def test_in_place_fill_under_no_grad_invalidates_earlier_uses_of_the_tensor():
    a = tg.ones(3, dtype=tg.float64, requires_grad=True)
    b = a * 1
    c = b * b
    with tg.no_grad():
        b.uniform_()  # overwrites the values c saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        c.sum().backward()


@pytest.mark.parametrize("call, pattern", [
    (lambda: tg.zeros(2).uniform_(2, 1), r"uniform_: expects to return a \[from, to\) range.*from=2 > to=1"),
    (lambda: tg.zeros(2).normal_(0, -1), r"normal_: expects std >= 0.0, but found std -1"),
    (lambda: tg.zeros(2).bernoulli_(1.5), r"bernoulli_: expects p to be in \[0, 1\], but got p=1.5"),
    (lambda: tg.zeros(2).bernoulli_(tg.tensor([0.5, 2.0])), r"bernoulli_: expects all prob.* in p.*\(2,\)"),
    (lambda: tg.zeros(2).bernoulli_(tg.tensor([0.5, 0.5, 0.5])), r"bernoulli_: p of shape \(3,\) does not"),
    (lambda: tg.zeros(2, dtype=tg.int64).uniform_(), r"uniform_: expected a floating-point.*int64"),
    (lambda: tg.zeros(2, dtype=tg.int64).normal_(), r"normal_: expected a floating-point.*int64"),
])
def test_in_place_fill_bad_inputs(call, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        call()


# ---------------------------------------------------------------------- requires_grad kept by fills (issue 9)
# fill -> (the call, PyTorch's node name for the filled tensor)
FILLS = {
    "zero_": (lambda t, g: t.zero_(), "ZeroBackward0"),
    "fill_": (lambda t, g: t.fill_(2.5), "FillBackward2"),
    "normal_": (lambda t, g: t.normal_(1.0, 2.0, generator=g), "NormalBackward0"),
    "uniform_": (lambda t, g: t.uniform_(-1.0, 1.0, generator=g), "UniformBackward0"),
    "bernoulli_": (lambda t, g: t.bernoulli_(0.3, generator=g), "BernoulliBackward2"),
    "bernoulli_tensor": (lambda t, g: t.bernoulli_(t.detach() * 0 + 0.5, generator=g), "BernoulliBackward1"),
}


@pytest.mark.parametrize("fill", sorted(FILLS))
@given(shape=shapes(min_dims=1, max_dims=3), dtype=st.sampled_from([np.float32, np.float64]),
       through_view=st.booleans(), seed=st.integers(0, 2**16))
@example(shape=(3,), dtype=np.float64, through_view=False, seed=0)
def test_fills_of_graph_nodes_keep_requires_grad_with_zero_gradient(fill, shape, dtype, through_view, seed):
    """A fill of a tensor that requires grad (not a leaf) keeps it requiring grad, with PyTorch's node, and the
    filled elements pass no gradient back (the others do, through a view's CopySlices)."""
    call, name = FILLS[fill]
    x = tg.ones(shape, dtype=dtype, requires_grad=True)
    y = x * 3
    target = y[0] if through_view else y
    out = call(target, gen(seed))
    assert out is target and target.requires_grad and y.requires_grad
    assert target.grad_fn.name() == name if not through_view else y.grad_fn.name() == "torch::autograd::CopySlices"
    (y * 2).sum().backward()
    want = np.full(shape, 6.0)
    if through_view:
        want[0] = 0
    else:
        want[...] = 0
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_fill_with_a_probability_tensor_that_requires_grad_gives_it_a_zero_gradient():
    p = tg.full((3,), 0.5, requires_grad=True)
    y = tg.ones(3, requires_grad=True) * 1
    y.bernoulli_(p, generator=gen(2))
    assert y.grad_fn.name() == "BernoulliBackward1"
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), 0)


@pytest.mark.parametrize("fill", sorted(FILLS))
def test_fills_of_graph_nodes_match_pytorch(fill):
    torch = pytest.importorskip("torch")
    call, _ = FILLS[fill]
    seen = []
    for lib, g in ((tg, gen(1)), (torch, torch.Generator().manual_seed(1))):
        x = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        y = x * 3
        call(y, g)
        z = x * 3
        call(z[1], g)
        (y.sum() + z.sum()).backward()
        seen.append((y.requires_grad, y.grad_fn.name().split("::")[-1], z.grad_fn.name().split("::")[-1],
                     x.grad.tolist()))
    assert seen[0] == seen[1]


def test_bernoulli_with_p_requires_grad_and_refuses_backward_as_pytorch():
    x = tg.tensor([0.5, 0.2], requires_grad=True)
    y = x.bernoulli(0.5, generator=gen(3))
    assert y.requires_grad and y.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError, match="bernoulli: the derivative .* not implemented"):
        y.sum().backward()
    b = tg.bernoulli(x, generator=gen(3))
    assert b.grad_fn.name() == "BernoulliBackward0"
    b.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


# ---------------------------------------------------------------------- PyTorch's dtype checks (issue 9)
SAMPLING_CHECKS = {
    "randperm_bool": lambda lib: lib.randperm(3, dtype=lib.bool),
    "randperm_uint8_256": lambda lib: lib.randperm(256, dtype=lib.uint8),
    "randperm_uint8_257": lambda lib: lib.randperm(257, dtype=lib.uint8),
    "randperm_int8_129": lambda lib: lib.randperm(129, dtype=lib.int8),
    "randperm_float16_2049": lambda lib: lib.randperm(2049, dtype=lib.float16),
    "randperm_float16_2050": lambda lib: lib.randperm(2050, dtype=lib.float16),
    "randperm_int_requires_grad": lambda lib: lib.randperm(3, requires_grad=True),
    "normal_int_mean": lambda lib: lib.normal(lib.zeros(2, dtype=lib.int64), 1.0),
    "normal_nan_std": lambda lib: lib.normal(lib.zeros(2), float("nan")),
    "normal_nan_in_std": lambda lib: lib.normal(lib.zeros(2), lib.tensor([1.0, float("nan")])),
    "normal_sizes_nan_std": lambda lib: lib.normal(0.0, float("nan"), (2,)),
    "normal_int_dtype": lambda lib: lib.normal(0.0, 1.0, (2,), dtype=lib.int64),
    "normal_mean_dtype": lambda lib: lib.normal(lib.zeros(2, dtype=lib.float16), lib.ones(2)),
    "normal_0d_std_dtype": lambda lib: lib.normal(lib.zeros(2), lib.tensor(1.0, dtype=lib.float64)),
    "normal_std_dtype": lambda lib: lib.normal(1.0, lib.ones(2, dtype=lib.float64)),
    "normal__int": lambda lib: lib.zeros(2, dtype=lib.int64).normal_(),
    "normal__nan_std": lambda lib: lib.zeros(2).normal_(0.0, float("nan")),
    "uniform__int": lambda lib: lib.zeros(2, dtype=lib.int64).uniform_(),
    "uniform__bool": lambda lib: lib.zeros(2, dtype=lib.bool).uniform_(),
    "uniform__inf": lambda lib: lib.zeros(2).uniform_(0.0, float("inf")),
    "uniform__nan": lambda lib: lib.zeros(2).uniform_(float("nan"), 1.0),
    "uniform__range": lambda lib: lib.zeros(2).uniform_(-3e38, 3e38),
    "uniform__float16_range": lambda lib: lib.zeros(2, dtype=lib.float16).uniform_(0.0, 1e5),
    "bernoulli_int": lambda lib: lib.bernoulli(lib.zeros(2, dtype=lib.int64)),
    "bernoulli_int_p": lambda lib: lib.zeros(2, dtype=lib.int64).bernoulli(0.5),
    "bernoulli__int": lambda lib: lib.zeros(2, dtype=lib.int64).bernoulli_(0.5),
    "bernoulli__bool": lambda lib: lib.zeros(2, dtype=lib.bool).bernoulli_(0.5),
    "bernoulli__nan": lambda lib: lib.zeros(2).bernoulli_(float("nan")),
    "bernoulli__int_p": lambda lib: lib.zeros(2).bernoulli_(lib.tensor([0, 1])),
    "multinomial_int": lambda lib: lib.multinomial(lib.tensor([1, 2]), 1),
    "multinomial_empty_rows": lambda lib: lib.multinomial(lib.zeros(0, 3), 1),
}


def _outcome(lib, call):
    try:
        r = call(lib)
    except NotImplementedError:
        return "NotImplementedError"
    except (RuntimeError, ValueError, TypeError) as e:
        return type(e).__name__
    return tuple(r.shape), str(r.dtype).split(".")[-1], r.requires_grad


@pytest.mark.parametrize("name", sorted(SAMPLING_CHECKS))
def test_sampling_checks_match_pytorch(name):
    torch = pytest.importorskip("torch")
    assert _outcome(tg, SAMPLING_CHECKS[name]) == _outcome(torch, SAMPLING_CHECKS[name])


def test_sampling_refuses_what_pytorch_refuses():
    # pinned from PyTorch 2.13 (the comparison above runs when it is installed)
    refused = {"randperm_bool": "NotImplementedError", "randperm_uint8_257": "RuntimeError",
               "randperm_float16_2050": "RuntimeError", "normal_int_mean": "NotImplementedError",
               "normal_nan_std": "RuntimeError", "normal_nan_in_std": "RuntimeError",
               "normal__int": "NotImplementedError", "uniform__int": "NotImplementedError",
               "uniform__inf": "RuntimeError", "uniform__nan": "RuntimeError", "uniform__range": "RuntimeError",
               "bernoulli_int": "NotImplementedError", "bernoulli__nan": "RuntimeError",
               "bernoulli__int_p": "NotImplementedError"}
    for name, error in refused.items():
        assert _outcome(tg, SAMPLING_CHECKS[name]) == error, name
    assert _outcome(tg, SAMPLING_CHECKS["normal_0d_std_dtype"]) == ((2,), "float32", False)
    assert _outcome(tg, SAMPLING_CHECKS["normal_std_dtype"]) == ((2,), "float64", False)
    assert _outcome(tg, SAMPLING_CHECKS["randperm_uint8_256"]) == ((256,), "uint8", False)


def test_docstring_examples():
    failures, _ = doctest.testmod(sampling_module, verbose=False)
    assert failures == 0


def test_normal_takes_an_integer_std_beside_a_float_mean_as_pytorch():
    """The result takes mean's dtype (std's when mean is a number), which must be floating; the other operand may
    be an integer tensor (cast), as PyTorch."""
    tg.manual_seed(0)
    out = tg.normal(tg.zeros(20000), tg.tensor(2))
    assert out.dtype == tg.float32 and abs(float(out.std()) - 2) < 0.1
    assert tg.normal(tg.zeros(2, dtype=tg.float64), tg.tensor([1, 2])).dtype == tg.float64
    refused = ((tg.tensor(0), tg.ones(2)), (tg.zeros(2, dtype=tg.int64), tg.tensor(2)), (0.0, tg.tensor([1, 2])))
    for mean, std in refused:
        with pytest.raises(NotImplementedError, match="normal_kernel_cpu"):
            tg.normal(mean, std)


# PyTorch's normal, log-normal and exponential kernels return an empty tensor before dispatching on its dtype
# (aten/src/ATen/native/DistributionTemplates.h), so they skip the dtype check there; uniform's and cauchy's
# bounds checks run first and refuse every non-float dtype
_RANDOM_EMPTY = {
    "randn": lambda lib, dt, shape: lib.randn(*shape, dtype=dt),
    "randn_like": lambda lib, dt, shape: lib.randn_like(lib.zeros(shape, dtype=lib.int64), dtype=dt),
    "rand": lambda lib, dt, shape: lib.rand(*shape, dtype=dt),
    "rand_like": lambda lib, dt, shape: lib.rand_like(lib.zeros(shape, dtype=dt)),
    "normal_": lambda lib, dt, shape: lib.zeros(shape, dtype=dt).normal_(),
    "uniform_": lambda lib, dt, shape: lib.zeros(shape, dtype=dt).uniform_(),
    "exponential_": lambda lib, dt, shape: lib.zeros(shape, dtype=dt).exponential_(),
    "log_normal_": lambda lib, dt, shape: lib.zeros(shape, dtype=dt).log_normal_(),
    "cauchy_": lambda lib, dt, shape: lib.zeros(shape, dtype=dt).cauchy_(),
}
_SKIPS_WHEN_EMPTY = {"randn", "randn_like", "normal_", "exponential_", "log_normal_"}


def _random_outcome(lib, name, dtype, shape):
    try:
        out = _RANDOM_EMPTY[name](lib, getattr(lib, dtype), shape)
    except (RuntimeError, NotImplementedError):
        return "refused"
    return tuple(out.shape), str(out.dtype).split(".")[-1]


@given(name=st.sampled_from(sorted(_RANDOM_EMPTY)), dtype=st.sampled_from(["uint8", "int64", "bool", "float32"]),
       shape=st.sampled_from([(0,), (0, 3), (2, 0), (2,), (1, 3)]))
@example(name="randn_like", dtype="uint8", shape=(0, 3))
def test_normal_fills_of_an_empty_tensor_skip_the_dtype_check(name, dtype, shape):
    got = _random_outcome(tg, name, dtype, shape)
    if dtype == "float32":
        assert got == (shape, dtype)
    elif 0 in shape and name in _SKIPS_WHEN_EMPTY:
        assert got == (shape, dtype)
    else:
        assert got == "refused"


@pytest.mark.parametrize("name", sorted(_RANDOM_EMPTY))
@pytest.mark.parametrize("dtype", ["uint8", "int64", "bool", "float32"])
@pytest.mark.parametrize("shape", [(0, 3), (2,)])
def test_random_fills_of_empty_and_integer_tensors_as_pytorch(name, dtype, shape):
    torch = pytest.importorskip("torch")
    assert _random_outcome(tg, name, dtype, shape) == _random_outcome(torch, name, dtype, shape)
