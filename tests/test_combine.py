"""tapegrad/ops/combine.py: fused multiply-adds, kron, cross, trace, diff, rot90, diag_embed, repeat_interleave,
renorm, splits, NaN-aware and selecting reductions, quantiles, running extremes, logcumsumexp.

Gradients against float64 central differences (Hypothesis, broadcast shapes where the op broadcasts), values,
dtypes and gradients against PyTorch, errors.
"""

import doctest
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
from tapegrad.autograd import gradgradcheck
from tapegrad.ops import combine
from tapegrad.testing import arrays, assert_gradients, broadcastable_shapes


@given(data=st.data())
def test_addcmul_addcdiv_broadcasting_gradients(data):
    sa, sb, sc = data.draw(broadcastable_shapes(3))
    a, b, c = data.draw(arrays(sa)), data.draw(arrays(sb)), data.draw(arrays(sc))
    c = np.where(np.abs(c) < 0.2, 1.0, c)
    assert_gradients(lambda x, y, z: tg.addcmul(x, y, z, value=0.5), a, b, c)
    assert_gradients(lambda x, y, z: tg.addcdiv(x, y, z, value=-2), a, b, c)
    np.testing.assert_allclose(tg.addcdiv(tg.tensor(a), tg.tensor(b), tg.tensor(c), value=-2).numpy(),
                               a - 2 * b / c)


@given(data=st.data())
def test_products_gradients(data):
    n, m, k = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    arr = lambda *s: data.draw(arrays(s))  # noqa: E731
    assert_gradients(lambda i, a, b: tg.addmm(i, a, b, beta=0.5, alpha=2), arr(m), arr(n, k), arr(k, m))
    assert_gradients(lambda i, a, b: tg.addmv(i, a, b, alpha=-1), arr(1), arr(n, k), arr(k))
    assert_gradients(lambda i, a, b: tg.addr(i, a, b), arr(n, m), arr(n), arr(m))
    assert_gradients(lambda i, a, b: tg.baddbmm(i, a, b), arr(2, n, m), arr(2, n, k), arr(2, k, m))
    assert_gradients(lambda i, a, b: tg.addbmm(i, a, b, beta=0), arr(n, m), arr(2, n, k), arr(2, k, m))
    assert_gradients(lambda a, b: tg.kron(a, b), arr(n, k), arr(m))


@given(data=st.data())
def test_shape_ops_gradients(data):
    x = data.draw(arrays(max_dims=3, min_dims=2))
    k, offset = data.draw(st.integers(-3, 4)), data.draw(st.integers(-2, 2))
    assert_gradients(lambda t: tg.rot90(t, k, (0, -1)), x)
    assert_gradients(lambda t: tg.diff(t, 2, 0, prepend=t[:1]), x)
    assert_gradients(lambda t: tg.diag_embed(t, offset, 0, -1), x)
    assert_gradients(lambda t: tg.repeat_interleave(t, tg.tensor([2] * t.shape[1]), dim=1), x)
    assert_gradients(lambda t: tg.logcumsumexp(t, -1), x)
    assert_gradients(lambda t: tg.renorm(t, 2, 0, 1.0), x * 2)
    sa, sb = data.draw(broadcastable_shapes(2, min_dims=2, max_dims=2))
    a, b = data.draw(arrays(sa + (3,))), data.draw(arrays(sb + (3,)))
    assert_gradients(lambda u, v: tg.cross(u, v, dim=-1), a, b)


@given(rows=st.lists(st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, float("inf"), float("-inf"),
                                               float("nan")]), min_size=1, max_size=30), min_size=1, max_size=3)
            .filter(lambda r: len({len(x) for x in r}) == 1),
       k=st.integers(1, 30), dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(rows=[[-2.5, 2.0, 2.0, 3.0], [0.0, -2.5, -0.0, float("-inf")]], k=3, dtype="float16")  # seed 124082
@example(rows=[[0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 0.0, -0.0, 0.0]], k=4, dtype="float32")
def test_kthvalue_returns_the_zero_pytorchs_quickselect_leaves(rows, k, dtype):
    # PyTorch's CPU kthvalue runs its own quickselect (median-of-three pivot, Sedgewick's partition, NaN above
    # every number) on a copy of each row; where the k-th value is a zero and the row holds zeros of both signs,
    # its order of swaps decides which zero comes back (aten/src/ATen/native/Sorting.cpp, quick_select_template)
    x = np.array(rows, dtype)
    k = min(k, x.shape[1])
    got = tg.kthvalue(tg.tensor(x), k, 1)
    np.testing.assert_array_equal(got.values.numpy(), np.sort(x, axis=1)[:, k - 1])  # the k-th value (NaN last)
    np.testing.assert_array_equal(np.take_along_axis(x, got.indices.numpy()[:, None], 1)[:, 0], got.values.numpy())
    torch = pytest.importorskip("torch")
    want = torch.kthvalue(torch.from_numpy(x), k, 1).values.numpy()
    np.testing.assert_array_equal(np.signbit(got.values.numpy()), np.signbit(want))
    np.testing.assert_array_equal(got.values.numpy(), want)


@given(data=st.data())
def test_selecting_reductions_gradients(data):
    x = data.draw(arrays(max_dims=3, min_dims=1))
    x = x + np.arange(x.size).reshape(x.shape) * 1e-3  # distinct values
    d = data.draw(st.integers(-x.ndim, x.ndim - 1))
    k = data.draw(st.integers(1, x.shape[d]))
    assert_gradients(lambda t: tg.kthvalue(t, k, d).values, x)
    assert_gradients(lambda t: tg.cummax(t, d).values, x)
    assert_gradients(lambda t: tg.cummin(t, d).values, x)
    assert_gradients(lambda t: tg.nanmedian(t, d).values, x)
    assert_gradients(lambda t: tg.quantile(t, tg.tensor([0.1, 0.5, 0.8], dtype=tg.float64), d), x)
    assert_gradients(lambda t: tg.nanmean(t, d), x)


_MED_VALUES = st.sampled_from([0.0, -0.0, 0.5, -0.25, 1.5, -3.0, float("nan")])


@given(st.lists(_MED_VALUES, min_size=1, max_size=9))
@example([-0.0, 0.0, 1.0, 2.0, float("nan"), -1.0])  # the median -0.0 ties with 0.0: both get half
@example([0.5, 0.5, -0.25, 0.5, -0.25, -2.5, -0.25, 1.5])  # three -0.25s share it
@example([float("nan"), float("nan")])  # all nan: the nans share it
def test_nanmedian_of_the_whole_tensor_splits_the_gradient_among_ties(values):
    # PyTorch's NanmedianBackward0 is evenly_distribute_backward (FunctionsManual.cpp): the gradient goes evenly to
    # every element equal to the median, or to the nans when the median is nan
    a = np.array(values)
    x = tg.tensor(a, requires_grad=True)
    m = tg.nanmedian(x)
    assert m.grad_fn.name() == "NanmedianBackward0"
    m.backward(tg.tensor(3.0, dtype=tg.float64))
    v = m.item()
    mask = np.isnan(a) if math.isnan(v) else a == v
    np.testing.assert_array_equal(x.grad.numpy(), np.where(mask, 3.0 / mask.sum(), 0.0))
    if np.unique(a).size == a.size and not np.isnan(a).any():  # no ties: against finite differences
        assert_gradients(lambda t: tg.nanmedian(t), a)
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    torch.nanmedian(t).backward(torch.tensor(3.0, dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


_RN_VALUES = st.sampled_from([0.5, -1.0, 2.0, 0.0, -0.0, 3.0, float("nan"), float("inf"), -0.25])


@given(st.lists(st.lists(_RN_VALUES, min_size=3, max_size=3), min_size=1, max_size=3),
       st.sampled_from([1, 2, 3.0]), st.sampled_from([0.0, 1.0, 10.0]))
@example([[float("nan"), 1.5, -0.0], [0.0, 1.0, 1.0], [-0.25, float("-inf"), 1.0]], 3.0, 0.0)
@example([[0.5, float("nan")], [2.0, 1.0]], 1, 10.0)  # a nan slice is not scaled: its gradient passes through
def test_renorm_gradient_of_an_unscaled_slice_passes_through(rows, p, maxnorm):
    # PyTorch's renorm_backward ends with where(norm > maxnorm, grad_norm, grad): a slice whose norm is not above
    # maxnorm (a nan norm included) gets the incoming gradient exactly, whatever nan or inf its other slices hold
    a = np.array(rows, dtype=np.float64)
    g = np.arange(1.0, a.size + 1).reshape(a.shape) / 4
    x = tg.tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):
        x.renorm(p, 0, maxnorm).backward(tg.tensor(g))
        norms = (np.abs(a) ** p).sum(axis=1) ** (1 / p)
    kept = ~(norms > maxnorm)
    np.testing.assert_array_equal(x.grad.numpy()[kept], g[kept])
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    t.renorm(p, 0, maxnorm).backward(torch.tensor(g))
    ours, theirs = x.grad.numpy(), t.grad.numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_nan_handling():
    x = tg.tensor([[1.0, float("nan"), 3.0], [float("nan")] * 3])
    assert tg.nansum(x).item() == 4.0
    np.testing.assert_array_equal(tg.nanmean(x, 1).numpy(), [2.0, np.nan])
    np.testing.assert_array_equal(tg.nanquantile(x, 0.5, dim=1).numpy(), [2.0, np.nan])
    np.testing.assert_array_equal(tg.quantile(x, 0.5, dim=1).numpy(), [np.nan, np.nan])
    y = tg.tensor([1.0, float("nan"), 2.0], requires_grad=True)
    tg.nansum(y).backward()
    assert y.grad.tolist() == [1.0, 0.0, 1.0]


@given(arrays(st.sampled_from([(3,), (2, 3), (2, 1, 2)]), elements=st.sampled_from([1.0, -2.5, np.nan, np.inf, 0.0])),
       st.sampled_from([None, 0, -1, (0, -1)]), st.booleans(),
       st.sampled_from([np.nan, np.inf, -np.inf, 2.0, 0.0]))
@example(np.array([1.0, np.nan, 2.0]), None, False, np.nan)  # PyTorch's grad * ~isnan(x): NaN * 0 = NaN there
def test_nansum_gradient_is_the_product_with_the_not_nan_mask(x, dim, keepdim, g):
    """PyTorch's nansum_backward multiplies the expanded gradient by ~isnan(x) (not a select): a NaN or infinite
    incoming gradient gives NaN at the NaN positions, the gradient elsewhere; nanmean (nansum / count) alike."""
    if isinstance(dim, tuple) and x.ndim < 2:
        dim = 0
    t = tg.tensor(x, requires_grad=True)
    y = tg.nansum(t, dim, keepdim)
    np.testing.assert_array_equal(y.detach().numpy(), np.nansum(x, axis=dim, keepdims=keepdim))
    with np.errstate(invalid="ignore"):
        (y * g).sum().backward()
        want = np.full(x.shape, g) * ~np.isnan(x)
    np.testing.assert_array_equal(t.grad.numpy(), want)


def test_nansum_and_nanmean_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.inf, 2.0]])
    for fn in [lambda m, t: m.nansum(t), lambda m, t: m.nansum(t, 1), lambda m, t: m.nanmean(t, 0),
               lambda m, t: m.nansum(t.float(), dtype=m.float64)]:
        for g in [np.nan, np.inf, 1.5]:
            grads = []
            for m in (tg, torch):
                t = m.tensor(x, requires_grad=True)
                with np.errstate(invalid="ignore"):
                    (fn(m, t) * g).sum().backward()
                grads.append(t.grad.numpy())
            np.testing.assert_array_equal(*grads)


@pytest.mark.parametrize("src", ["float16", "float32", "float64"])
@pytest.mark.parametrize("dst", ["float16", "float32", "float64"])
def test_nansum_with_dtype_then_an_inplace_op_gradient_matches_pytorch(src, dst):
    # nansum(dtype=) saves nothing but the NaN mask; the in-place op after it saves its result (expm1_: exp(y)) in
    # the sum's dtype, and the gradient is cast back to the input's dtype, as PyTorch's (a sum whose terms
    # cancel is another matter: its rounding depends on the order, the KNOWN entry sum-cancellation-noise)
    torch = pytest.importorskip("torch")
    x = np.array([[-2.5, np.nan, 1e-3, 1.0], [-3.0, 0.5, 0.25, 1e-4]])
    grads = []
    for m in (tg, torch):
        t = m.tensor(x, dtype=getattr(m, src), requires_grad=True)
        y = t.nansum((0, 1), keepdim=True, dtype=getattr(m, dst))
        z = t.nansum(1, dtype=getattr(m, dst))
        y.expm1_()
        z.mul_(2).exp_()
        (y * 3).sum().backward(retain_graph=True)
        (z * -1.5).sum().backward()
        assert t.grad.dtype == t.dtype
        grads.append(t.grad.double().numpy())
    rtol = max({"float16": 1e-3, "float32": 1e-6, "float64": 1e-12}[d] for d in (src, dst))  # exp's last ulp
    np.testing.assert_allclose(*grads, rtol=rtol)


CASES = {  # name: (fn(module, *tensors), inputs, differentiable)
    "addcmul": (lambda m, a, b: m.addcmul(a, b, b, value=3), "ab", True),
    "addcmul_": (lambda m, a, b: (a * 1).addcmul_(b, a, value=-1), "ab", True),
    "addcdiv": (lambda m, a, b: m.addcdiv(a, b, b.exp(), value=2), "ab", True),
    "addmm": (lambda m, a, b: m.addmm(b, a, a.t(), beta=0.5), "aB", True),
    "addmm_beta0": (lambda m, a, b: m.addmm(b * float("nan"), a, a.t(), beta=0), "aB", True),
    "addmv": (lambda m, a, b: m.addmv(a[:, 0], a, b, alpha=2), "ab", True),
    "addr": (lambda m, a, b: m.addr(a, a[:, 0], b), "ab", True),
    "baddbmm": (lambda m, a, b: m.baddbmm(a[None], a[None], a.t()[None].repeat(1, 1, 1)[:, :, :3]), "s", True),
    "addbmm": (lambda m, a, b: m.addbmm(b, a[None].repeat(2, 1, 1), a.t()[None].repeat(2, 1, 1)), "aB", True),
    "vdot": (lambda m, a, b: m.vdot(a[0], b), "ab", True),
    "dist": (lambda m, a, b: m.dist(a, b, 3), "ab", True),
    "kron": (lambda m, a, b: m.kron(a, b), "ab", True),
    "cross": (lambda m, a, b: m.cross(a[:, :3], b[:3].expand(3, 3), dim=1), "ab", True),
    "trace": (lambda m, a, b: m.trace(a), "ab", True),
    "diff": (lambda m, a, b: m.diff(a, 2, 0, append=a), "ab", True),
    "rot90": (lambda m, a, b: m.rot90(a, 3, [1, 0]), "ab", True),
    "diag_embed": (lambda m, a, b: m.diag_embed(a, -1, 0, 2), "ab", True),
    "diagflat": (lambda m, a, b: m.diagflat(a, 2), "ab", True),
    "repeat_interleave": (lambda m, a, b: m.repeat_interleave(a, m.tensor([1, 0, 3]), dim=0), "ab", True),
    "renorm": (lambda m, a, b: m.renorm(a * 3, 1.5, 1, 2.0), "ab", True),
    "nansum": (lambda m, a, b: m.nansum(a, 1), "ab", True),
    "nanmean": (lambda m, a, b: m.nanmean(a, 0, keepdim=True), "ab", True),
    "kthvalue": (lambda m, a, b: m.kthvalue(a, 2, 0)[0], "ab", True),
    "nanmedian": (lambda m, a, b: m.nanmedian(a, 1)[0], "ab", True),
    "nanmedian_all": (lambda m, a, b: m.nanmedian(a), "ab", True),
    "quantile": (lambda m, a, b: m.quantile(a, 0.3, 1, keepdim=True), "ab", True),
    "quantile_q": (lambda m, a, b: m.quantile(a, m.tensor([0.0, 0.25, 1.0], dtype=a.dtype)), "ab", True),
    "aminmax": (lambda m, a, b: m.aminmax(a, dim=0)[1], "ab", True),
    "cummax": (lambda m, a, b: m.cummax(a, 1)[0], "ab", True),
    "cummin": (lambda m, a, b: m.cummin(a, 0)[0], "ab", True),
    "logcumsumexp": (lambda m, a, b: m.logcumsumexp(a * 30, 1), "ab", True),
    "msort": (lambda m, a, b: m.msort(a), "ab", True),
    "ravel": (lambda m, a, b: m.ravel(a.t()), "ab", True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    fn, kinds, _ = CASES[name]
    rng = np.random.default_rng(3)
    arrays_ = {"a": rng.uniform(-2, 2, (3, 4)), "b": rng.uniform(-2, 2, (4,)), "B": rng.uniform(-2, 2, (3,)),
               "s": rng.uniform(-2, 2, (3, 3))}
    values = [arrays_[kinds[0]] if kinds != "s" else arrays_["s"], arrays_[kinds[1]] if kinds != "s" else
              arrays_["s"]]
    for dtype in ("float32", "float64"):
        tt = [torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True) for v in values]
        gt = [tg.tensor(v, dtype=getattr(tg, dtype), requires_grad=True) for v in values]
        want, got = fn(torch, *tt), fn(tg, *gt)
        assert str(want.dtype).split(".")[-1] == str(got.dtype).split(".")[-1]
        assert tuple(want.shape) == tuple(got.shape)
        tol = dict(rtol=2e-5, atol=2e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), **tol)
        weights = np.random.default_rng(4).uniform(-1, 1, tuple(want.shape))
        (want * torch.tensor(weights, dtype=want.dtype)).sum().backward()
        (got * tg.tensor(weights, dtype=got.dtype)).sum().backward()
        for t, g in zip(tt, gt, strict=True):
            want_grad = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(np.zeros(g.shape) if g.grad is None else g.grad.numpy(), want_grad, **tol)


def test_indices_ties_and_integers_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    ints = rng.integers(0, 4, (4, 9))
    floats = np.array([[1.0, np.nan, 3.0, 3.0, 0.5], [2.0, 2.0, 1.0, np.nan, np.nan]])
    for name, call in [("mode", lambda m, x: m.mode(x, 1)), ("mode0", lambda m, x: m.mode(x, 0)),
                       ("kthvalue", lambda m, x: m.kthvalue(x, 3, 1)), ("cummax", lambda m, x: m.cummax(x, 1)),
                       ("cummin", lambda m, x: m.cummin(x, 1)), ("aminmax", lambda m, x: m.aminmax(x)),
                       ("nanmedian", lambda m, x: m.nanmedian(x, 1))]:
        for values in (ints, floats):
            if name in ("kthvalue", "mode", "mode0") and values is floats:
                continue  # PyTorch leaves the order of NaNs unspecified there
            want, got = call(torch, torch.tensor(values)), call(tg, tg.tensor(values))
            if name == "kthvalue":  # PyTorch leaves the index among equal values unspecified
                want, got = want[:1], got[:1]
            for w, g in zip(want, got, strict=True):
                assert str(w.dtype).split(".")[-1] == str(g.dtype).split(".")[-1], name
                np.testing.assert_array_equal(g.numpy(), w.numpy(), err_msg=name)
    mode = tg.mode(tg.tensor([1.0, np.nan, np.nan, 2.0, 2.0]))
    assert mode.values.item() == 2.0 and mode.indices.item() == 4
    for call in [lambda m, x: m.diff(x, 1, 1), lambda m, x: m.diff(x > 1, 1, 1), lambda m, x: m.trace(x[:, :4]),
                 lambda m, x: m.rot90(x, 2), lambda m, x: m.diag_embed(x[0]), lambda m, x: m.kron(x, x[:2, :2]),
                 lambda m, x: m.repeat_interleave(x, 2), lambda m, x: m.repeat_interleave(m.tensor([2, 0, 1])),
                 lambda m, x: m.msort(x), lambda m, x: m.vsplit(x, [1, 3])[1], lambda m, x: m.hsplit(x, 3)[2],
                 lambda m, x: m.split_with_sizes(x, [1, 3])[1], lambda m, x: m.nansum(x),
                 lambda m, x: m.cross(x[:3, :3], x[1:4, :3], dim=0)]:
        want, got = call(torch, torch.tensor(ints)), call(tg, tg.tensor(ints))
        assert str(want.dtype).split(".")[-1] == str(got.dtype).split(".")[-1]
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    x = rng.uniform(-1, 1, (5, 4))
    for interpolation in ("linear", "lower", "higher", "midpoint", "nearest"):
        for q in (0.0, 0.3, 0.5, 0.75, 1.0):
            np.testing.assert_allclose(
                tg.quantile(tg.tensor(x), q, 0, interpolation=interpolation).numpy(),
                torch.quantile(torch.tensor(x), q, 0, interpolation=interpolation).numpy(), rtol=1e-12)


def test_errors_name_the_op():
    x = tg.ones(2, 3)
    cases = [(lambda: tg.trace(tg.ones(3)), RuntimeError, "trace"), (lambda: tg.diff(tg.tensor(1.0)), RuntimeError,
             "diff"), (lambda: tg.rot90(x, 1, (0, 0)), RuntimeError, "rot90"),
             (lambda: tg.kthvalue(x, 4, 1), IndexError, "kthvalue"),
             (lambda: tg.cross(x[:, :2], x[:, :2]), RuntimeError, "cross"),
             (lambda: tg.quantile(x, 1.5), RuntimeError, "quantile"),
             (lambda: tg.quantile(tg.ones(3, dtype=tg.int64), 0.5), RuntimeError, "quantile"),
             (lambda: tg.quantile(x, 0.5, interpolation="cubic"), RuntimeError, "interpolation"),
             (lambda: tg.repeat_interleave(x, tg.tensor([1, 2]), dim=1), RuntimeError, "repeat_interleave"),
             (lambda: tg.split_with_sizes(x, [1, 1], 1), RuntimeError, "split_with_sizes"),
             (lambda: tg.hsplit(x, 2), RuntimeError, "hsplit"), (lambda: tg.vsplit(tg.ones(2), 2), RuntimeError,
             "vsplit"), (lambda: tg.renorm(x, -1, 0, 1.0), RuntimeError, "renorm"),
             (lambda: tg.addcmul(x, 1.0, x), TypeError, "addcmul"), (lambda: tg.nanmean(tg.ones(2, dtype=tg.int64)),
             RuntimeError, "nanmean"), (lambda: tg.logcumsumexp(tg.ones(2, dtype=tg.int64), 0), RuntimeError,
             "logcumsumexp"), (lambda: tg.vdot(x, x), RuntimeError, "vdot"),
             (lambda: tg.aminmax(tg.ones(0)), RuntimeError, "aminmax")]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()


def test_in_place_forms():
    x = tg.ones(2)
    assert x.addcmul_(tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])) is x and x.tolist() == [4.0, 9.0]
    x.addcdiv_(tg.tensor([2.0, 2.0]), tg.tensor([4.0, 1.0]))
    assert x.tolist() == [4.5, 11.0]
    m = tg.zeros(2, 2)
    m.addmm_(tg.eye(2), tg.ones(2, 2), alpha=3)
    assert m.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    m.renorm_(1, 0, 2.0)
    np.testing.assert_allclose(m.numpy(), np.full((2, 2), 1.0), rtol=1e-6)


def test_docstring_examples_run():
    result = doctest.testmod(combine, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 50


@given(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0]), min_size=0, max_size=4),
       st.integers(-2, 2))
def test_diag_embed_places_nan_and_inf_without_spreading(vals, offset):
    x = np.array(vals, dtype=np.float64)
    k, n = len(vals), len(vals) + abs(offset)
    want = np.zeros((n, n))
    for i, v in enumerate(x):
        want[i + max(-offset, 0), i + max(offset, 0)] = v
    got = tg.diag_embed(tg.tensor(x, requires_grad=True), offset)
    np.testing.assert_array_equal(got.detach().numpy(), want)  # NaN in its place only
    assert np.array_equal(np.signbit(got.detach().numpy()), np.signbit(want))
    assert got.requires_grad
    np.testing.assert_array_equal(tg.diagflat(tg.tensor(x), offset).numpy(), want)
    if k:
        assert_gradients(lambda t: tg.diag_embed(t, offset), np.arange(1.0, k + 1))


def test_checks_as_pytorch():
    assert tg.cummin(tg.tensor(True), 0).values.dtype == tg.bool
    assert tg.cummax(tg.tensor(3, dtype=tg.int8), 0).values.dtype == tg.int8
    with pytest.raises(RuntimeError, match="nanmean.*Optional dtype"):
        tg.nanmean(tg.tensor([1.0]), dtype=tg.int16)
    assert tg.nanmean(tg.tensor([1.0, float("nan")]), dtype=tg.float64).dtype == tg.float64
    with pytest.raises(RuntimeError, match="renorm: input needs at least 2 dimensions, got 0"):
        tg.renorm(tg.tensor(1.0), 2, 0, 1.0)
    with pytest.raises(RuntimeError, match="renorm: input needs at least 2 dimensions, got 1"):
        tg.renorm(tg.tensor([1.0, 2.0]), 2, 0, 1.0)
    with pytest.raises(RuntimeError, match="diff expects prepend or append to be the same dimension"):
        tg.diff(tg.tensor([True]), prepend=tg.tensor(1.0))
    assert tg.diff(tg.tensor([1.0, 3.0]), prepend=tg.tensor([0.0]), append=tg.tensor([7.0])).tolist() == [1, 2, 4]


def test_fixed_edges_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [lambda m: m.diag_embed(m.tensor([[float("nan"), -float("inf"), -0.0]]), -1, 0, 2),
             lambda m: m.diagflat(m.tensor([[float("nan"), -0.25], [3.0, -1.0]]), 1),
             lambda m: m.cummin(m.tensor(True), 0).values, lambda m: m.cummax(m.tensor(2.5), 0).values]
    for case in cases:
        got, want = case(tg), case(torch)
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert np.array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))
    for case in (lambda m: m.nanmean(m.tensor([1.0]), dtype=m.int16), lambda m: m.tensor(1.0).renorm(2, 0, 1.0),
                 lambda m: m.diff(m.tensor([1.0]), prepend=m.tensor(1.0))):
        for m in (tg, torch):
            with pytest.raises(RuntimeError):
                case(m)


def test_bool_refusals_and_dtypes_as_pytorch():
    with pytest.raises(NotImplementedError, match="kthvalue.*bool"):
        tg.kthvalue(tg.tensor([True, False]), 1)
    with pytest.raises(NotImplementedError, match="trace.*bool"):
        tg.trace(tg.tensor([[True]]))
    assert tg.mode(tg.tensor(True), 0).values.dtype == tg.bool
    assert tg.addcmul(tg.tensor([1, 2], dtype=tg.int16), tg.tensor([3, 2], dtype=tg.int16),
                      tg.tensor([3, 2], dtype=tg.int16), value=0.5).tolist() == [1, 2]  # value cast to int: 0
    assert tg.addcmul(tg.tensor([1, 2], dtype=tg.int16), tg.tensor([3, 2], dtype=tg.int16),
                      tg.tensor([3, 2], dtype=tg.int16), value=-1.5).dtype == tg.int16
    torch = pytest.importorskip("torch")
    for m in (tg, torch):
        assert m.addcmul(m.tensor([1, 2], dtype=m.int16), m.tensor([3, 2], dtype=m.int16),
                         m.tensor([3, 2], dtype=m.int16), value=-1.5).tolist() == [-8, -2]


def test_more_edges_as_pytorch():
    assert tg.kthvalue(tg.tensor(True), 1, 0).values.dtype == tg.bool  # a 0-d bool is returned, not refused
    with pytest.raises(IndexError, match="k out of range"):
        tg.kthvalue(tg.tensor([], dtype=tg.bool), 1, 0)  # the size check comes first
    assert tg.diff(tg.zeros(1, 2), n=0, dim=0, append=tg.ones(1, 2)).shape == (1, 2)  # n=0 ignores append
    with pytest.raises(RuntimeError, match="same dimension"):
        tg.diff(tg.zeros(1), n=0, prepend=tg.tensor(1.0))  # but checks it
    with pytest.raises(TypeError):
        tg.diff(tg.zeros(1), n=0, append=2.0)
    with pytest.raises(RuntimeError, match="addmv: input of shape \\(2, 2\\) cannot be broadcast"):
        tg.addmv(tg.zeros(2, 2), tg.ones(2, 1), tg.ones(1))
    with pytest.raises(RuntimeError, match="addr: input of shape \\(1, 4\\) cannot be broadcast"):
        tg.addr(tg.zeros(1, 4), tg.ones(1), tg.ones(1))
    assert tg.addmm(tg.zeros(2), tg.ones(3, 1), tg.ones(1, 2)).shape == (3, 2)  # input expands to the product


@given(st.lists(st.sampled_from([np.inf, -np.inf, np.nan, -0.0, 0.0, 1.0, -3.0]), min_size=1, max_size=5))
def test_logcumsumexp_before_an_inf_stays_finite(vals):
    x = np.array(vals)
    got = tg.logcumsumexp(tg.tensor(x), 0).numpy()
    with np.errstate(all="ignore"):
        want = np.array([np.logaddexp.reduce(x[:i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)  # inf - inf never appears before the inf itself
    assert np.array_equal(np.isnan(got), np.isnan(want))


def test_logcumsumexp_matches_pytorch_at_inf():
    torch = pytest.importorskip("torch")
    x = [[0.0, -3.0], [-0.0, np.inf], [1.0, 3.0], [np.nan, -np.inf]]
    np.testing.assert_allclose(tg.tensor(x).logcumsumexp(0).numpy(), torch.tensor(x).logcumsumexp(0).numpy())
    assert_gradients(lambda t: tg.logcumsumexp(t, 0), np.array([[0.5, -1.0], [2.0, 0.25], [-3.0, 1.5]]))


def test_addcmul_addcdiv_promote_three_operands_as_pytorch():
    # a 0-d float64 beside float32 tensors: float32; a 0-d float beside integers: its float dtype
    assert tg.ones(2).addcmul(tg.tensor(2.6, dtype=tg.float64), tg.tensor([1, 2]), value=0.5).dtype == tg.float32
    assert tg.addcmul(tg.tensor(1, dtype=tg.uint8), tg.tensor(3.0, dtype=tg.float64), tg.tensor([3, 2],
                      dtype=tg.int16), value=2).dtype == tg.float64
    x = tg.tensor([[3.0, 0.0, 0.5]])
    x.addcdiv_(tg.tensor(5, dtype=tg.int8), tg.tensor(-3.0, dtype=tg.float16))  # 5 / -3 in float32, not float16
    np.testing.assert_allclose(x.numpy(), np.float32([[3.0, 0.0, 0.5]]) + np.float32(5) / np.float32(-3))
    torch = pytest.importorskip("torch")
    for case in (lambda m: m.ones(2).addcmul(m.tensor(2.6, dtype=m.float64), m.tensor([1, 2]), value=0.5),
                 lambda m: m.tensor([4]).addcdiv(m.tensor(-3.0), m.tensor([2])),
                 lambda m: m.tensor([[1, 2]]).addmm(m.tensor([[1]]), m.tensor([[3, 4]]), alpha=2.7, beta=1.9),
                 lambda m: m.ones(2, 2, dtype=m.int8).addbmm(m.ones(3, 2, 2, dtype=m.int8) * 50,
                                                             m.ones(3, 2, 2, dtype=m.int8)),
                 lambda m: m.zeros(2, 3).addr(m.tensor([1.0, -1.0]), m.tensor([1.0, float("inf"), 2.0]), beta=0,
                                              alpha=0)):
        got, want = case(tg), case(torch)
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert np.array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))


def test_repeat_interleave_refuses_negative_repeats_even_for_an_empty_input():
    for x in (tg.zeros(0), tg.ones(2)):
        with pytest.raises(RuntimeError, match="Repeats must be non-negative"):
            tg.repeat_interleave(x, -1)


@given(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 1.0, -2.0, 0.5, -0.0, 0.0]), min_size=1, max_size=5),
       st.sampled_from([0.0, 0.25, 0.5, 1.0, 0.3]),
       st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]), st.booleans())
def test_quantile_at_inf_nan_and_zeros_as_pytorchs_lerp(vals, q, interpolation, ignore_nan):
    torch = pytest.importorskip("torch")
    name = "nanquantile" if ignore_nan else "quantile"
    x = np.array(vals)
    with np.errstate(all="ignore"):
        got = getattr(tg, name)(tg.tensor(x), q, interpolation=interpolation).numpy()
    want = getattr(torch, name)(torch.tensor(x), q, interpolation=interpolation).numpy()
    np.testing.assert_array_equal(got, want)
    assert np.signbit(got) == np.signbit(want)


def test_quantile_refusals_and_empty_q_as_pytorch():
    with pytest.raises(RuntimeError, match="must be either float or double"):
        tg.quantile(tg.tensor([1.0], dtype=tg.float16), 0.5)
    assert tg.quantile(tg.tensor([1.0, 2.0]), tg.tensor([])).shape == (0,)
    assert tg.quantile(tg.tensor([[1.0, 2.0]]), tg.tensor([]), dim=1, keepdim=True).shape == (0, 1, 1)
    assert tg.quantile(tg.tensor([float("inf")]), 0.5).isnan().item()  # lerp(inf, inf, 0) is nan, as PyTorch


# ---------------------------------------------------------------------- refusals PyTorch makes (issue 9)
@pytest.mark.parametrize("dt", ["int64", "float32", "bool"])
def test_nanmedian_keepdim_needs_a_dim(dt):
    with pytest.raises(TypeError, match="nanmedian"):
        tg.nanmedian(tg.tensor([1, 0], dtype=getattr(tg, dt)), keepdim=True)


@pytest.mark.parametrize("dim", [0, -1])
def test_repeat_interleave_of_a_0d_tensor_has_no_dim(dim):
    with pytest.raises(IndexError, match="repeat_interleave"):
        tg.repeat_interleave(tg.tensor(1.0), 2, dim=dim)
    with pytest.raises(IndexError, match="repeat_interleave"):
        tg.tensor(1.0).repeat_interleave(tg.tensor([2]), dim=dim)
    assert tg.repeat_interleave(tg.tensor(1.0), 2).tolist() == [1.0, 1.0]


def test_refusals_match_pytorch():
    torch = pytest.importorskip("torch")
    for case in (lambda m: m.nanmedian(m.tensor([1, 2]), keepdim=True),
                 lambda m: m.repeat_interleave(m.tensor(1.0), 2, dim=-1),
                 lambda m: m.tensor(1.0).repeat_interleave(m.tensor([2]), dim=0)):
        for m in (torch, tg):
            with pytest.raises((TypeError, IndexError)):
                case(m)
    assert torch.repeat_interleave(torch.tensor(1.0), 2).tolist() == tg.repeat_interleave(tg.tensor(1.0), 2).tolist()


# ---------------------------------------------------------------------- an empty product keeps beta * input
_EMPTY_PRODUCTS = {
    "addmm": (lambda m, x, d, **k: m.addmm(x, m.zeros(2, 0, dtype=d), m.zeros(0, 1, dtype=d), **k), (2, 1)),
    "addmv": (lambda m, x, d, **k: m.addmv(x.reshape(-1), m.zeros(2, 0, dtype=d), m.zeros(0, dtype=d), **k), (2,)),
    "baddbmm": (lambda m, x, d, **k: m.baddbmm(x, m.zeros(3, 2, 0, dtype=d), m.zeros(3, 0, 1, dtype=d), **k),
                (3, 2, 1)),
    "addbmm-batch": (lambda m, x, d, **k: m.addbmm(x, m.zeros(0, 2, 2, dtype=d), m.zeros(0, 2, 1, dtype=d), **k),
                     (2, 1)),
    "addbmm-inner": (lambda m, x, d, **k: m.addbmm(x, m.zeros(3, 2, 0, dtype=d), m.zeros(3, 0, 1, dtype=d), **k),
                     (2, 1)),
}


def _signs(t):
    return [math.copysign(1.0, v) if v == 0 else v for v in t.reshape(-1).tolist()]


@pytest.mark.parametrize("name", sorted(_EMPTY_PRODUCTS))
@pytest.mark.parametrize("dt", ["float16", "float32", "float64"])
@pytest.mark.parametrize("kw", [{}, {"beta": -1.0}, {"beta": 0}, {"alpha": math.inf}, {"beta": 2.0, "alpha": 0.5}])
def test_empty_product_keeps_beta_times_input_signed_zero(name, dt, kw):
    fn, shape = _EMPTY_PRODUCTS[name]
    d = getattr(tg, dt)
    vals = np.resize(np.array([-0.0, 3.0, 0.0]), int(np.prod(shape))).reshape(shape)
    x = tg.tensor(vals, dtype=d)
    beta = kw.get("beta", 1)
    want = np.zeros(shape) if beta == 0 else beta * vals
    got = fn(tg, x, d, **kw)
    assert _signs(got) == _signs(tg.tensor(want)), (name, got)
    torch = pytest.importorskip("torch")
    ref = fn(torch, torch.tensor(vals, dtype=getattr(torch, dt)), getattr(torch, dt), **kw)
    assert _signs(got) == _signs(ref)


def test_empty_product_gradient_is_beta():
    x = tg.tensor([[1.0], [-0.0]], dtype=tg.float64, requires_grad=True)
    tg.addmm(x, tg.zeros(2, 0, dtype=tg.float64), tg.zeros(0, 1, dtype=tg.float64), beta=-2.0).sum().backward()
    assert x.grad.tolist() == [[-2.0], [-2.0]]


# ---------------------------------------------------------------------- addcmul/addcdiv gradients at inf
_EDGE = st.sampled_from([1.0, -2.0, 0.0, 3.0, math.inf, -math.inf, 0.5])


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["addcmul", "addcdiv"]), st.sampled_from([math.inf, -math.inf, 2.0, -0.5]),
       st.lists(_EDGE, min_size=2, max_size=2), _EDGE, st.lists(_EDGE, min_size=2, max_size=2))
@example("addcdiv", math.inf, [-2.5, 0.0], 3.0, [0.75, -2.0])
@example("addcmul", math.inf, [1.0, 1.0], 1.0, [1.0, -1.0])
def test_addc_gradients_are_summed_per_output_element(name, value, inp, t2, g):
    # PyTorch: tensor1's gradient is sum(grad * value / tensor2) over broadcast dims (not the product of a sum)
    x = tg.tensor([[t2]], dtype=tg.float64, requires_grad=True)
    y = getattr(tg, name)(tg.tensor([inp], dtype=tg.float64), tg.tensor(1.0, dtype=tg.float64), x, value=value)
    (y * tg.tensor([g], dtype=tg.float64)).sum().backward()
    with np.errstate(all="ignore"):
        if name == "addcdiv":
            want = np.sum(-np.array(g) * (value * 1.0 / np.float64(t2 * t2)))
        else:
            want = np.sum(np.array(g) * np.float64(1.0 * value))
    np.testing.assert_array_equal(x.grad.numpy(), [[want]])


def test_addc_infinite_value_gradients_match_pytorch():
    torch = pytest.importorskip("torch")

    def run(m, name):
        x = m.tensor([[3.0]], requires_grad=True)
        t1 = m.tensor([[1.0], [2.0]], requires_grad=True)
        y = getattr(m.tensor([[-2.5, 0.0]], dtype=m.float16), name)(t1, x, value=math.inf)
        (y * m.tensor([[0.75, -2.0]])).sum().backward()
        return x.grad.tolist(), t1.grad.tolist()

    for name in ("addcmul", "addcdiv"):
        assert str(run(tg, name)) == str(run(torch, name))


# ---------------------------------------------------------------------- addcmul/addcdiv with an integer operand
_INT_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "int16": (-32768, 32767)}


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["addcmul", "addcdiv"]), st.sampled_from(sorted(_INT_RANGES)), st.integers(0, 65535),
       st.integers(-9, 9), st.lists(st.sampled_from([-3.0, -1.0, 1.0, 1.5, 3.0]), min_size=1, max_size=3))
@example("addcdiv", "uint8", 254, 7, [-1.0, 1.5, 3.0])
@example("addcmul", "int8", 100, 3, [1.0, -3.0])  # 300 wraps in int8
def test_addc_gradient_with_an_integer_operand_is_the_forwards_derivative(name, dtype, raw, value, x):
    # x + value * t / x (or * x) with t a 0-d integer tensor: the gradient is 1 - value t / x^2 (1 + value t) in
    # exact arithmetic, also where value * t leaves t's dtype (PyTorch 2.13's backward computes value * t in t's
    # dtype: uint8 254 * 7 wraps to 242; the KNOWN entry pytorch-addcmul-int-value-wraps-grad)
    lo, hi = _INT_RANGES[dtype]
    t = lo + (raw - lo) % (hi - lo + 1)  # raw in the dtype's range
    const = tg.tensor(t, dtype=getattr(tg, dtype))
    fn = lambda a: getattr(tg, name)(a, const, a, value=value)  # noqa: E731 - self and tensor2 the same tensor
    a = tg.tensor(x, dtype=tg.float64, requires_grad=True)
    fn(a).sum().backward()
    xs = np.array(x)
    want = 1 - value * t / xs**2 if name == "addcdiv" else np.full_like(xs, 1.0 + value * t)
    np.testing.assert_allclose(a.grad.numpy(), want, rtol=1e-12)
    assert_gradients(fn, xs, rtol=1e-6)
    torch = pytest.importorskip("torch")
    if lo <= value * t <= hi:  # PyTorch's product does not wrap: the same gradient
        b = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        getattr(torch, name)(b, torch.tensor(t, dtype=getattr(torch, dtype)), b, value=value).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e10])
@pytest.mark.parametrize("dtype", ["int16", "int32"])
def test_addcdiv_gradient_with_a_value_the_integer_operand_cannot_hold(value, dtype):
    # x + value * x / t for an integer t: the gradient is 1 + value / t (PyTorch 2.13's backward converts value to
    # t's dtype and raises 'value cannot be converted to type int without overflow')
    x = tg.tensor(1.3, dtype=tg.float64, requires_grad=True)
    t = tg.tensor(-100, dtype=getattr(tg, dtype))
    tg.addcdiv(x, x, t, value=value).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.float64(1.0) + value / -100)


# ---------------------------------------------------------------------- quantile's gradient where a slice has NaN
def test_quantile_gradient_of_a_nan_slice_goes_to_the_nan():
    # PyTorch's rank for a slice with a NaN is the last sorted element (the NaN): it takes the whole gradient
    x = tg.tensor([[0.5, float("nan"), -1.0], [1.0, 2.0, 3.0]], dtype=tg.float64, requires_grad=True)
    (tg.quantile(x, 0.25, 1) * tg.tensor([3.0, 2.0], dtype=tg.float64)).sum().backward()
    assert np.isnan(tg.quantile(x, 0.25, 1)[0].item())
    assert x.grad.tolist() == [[0.0, 3.0, 0.0], [1.0, 1.0, 0.0]]
    y = tg.tensor([float("nan"), float("nan")], requires_grad=True)  # nanquantile of all NaN: rank 0
    tg.nanquantile(y, 0.7).backward()
    assert y.grad.tolist() == [1.0, 0.0]


_QVAL = st.sampled_from([0.5, -1.0, 2.0, 0.0, -0.0, 1.5, math.inf, -math.inf, math.nan, 3.0])


@settings(max_examples=25, deadline=None)
@given(st.lists(_QVAL, min_size=8, max_size=8), st.sampled_from(["quantile", "nanquantile"]),
       st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]), st.sampled_from([0.0, 0.3, 0.5, 1.0]))
@example([0.5, -1.0, math.nan, -math.inf, 1.0, 2.0, math.nan, 0.0], "quantile", "linear", 0.5)
@example([math.nan] * 4 + [1.0] * 4, "nanquantile", "midpoint", 0.3)
def test_quantile_nonfinite_gradients_match_pytorch(vals, name, interpolation, q):
    torch = pytest.importorskip("torch")

    def run(m):
        x = m.tensor(np.array(vals).reshape(4, 2), dtype=m.float64, requires_grad=True)
        y = getattr(m, name)(x, q, 0, interpolation=interpolation)
        (y * m.tensor([0.75, -2.0], dtype=m.float64)).sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    for a, b in zip(run(tg), run(torch)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", [tg.float32, tg.int64])
def test_nanmedian_without_dim_refuses_any_keepdim_as_pytorch(keepdim, dtype):
    """PyTorch's nanmedian() overload takes no keepdim: keepdim=False without a dim is a TypeError too."""
    x = tg.tensor([[1, 2], [3, 4]], dtype=dtype)
    with pytest.raises(TypeError, match="needs a dim"):
        x.nanmedian(keepdim=keepdim)
    assert x.nanmedian(1, keepdim).values.shape == ((2, 1) if keepdim else (2,))
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.tensor([[1, 2], [3, 4]]).nanmedian(keepdim=keepdim)


@pytest.mark.parametrize("dtype", ["int8", "int64", "float16", "float64"])
def test_nansum_dtype_argument_sets_the_result_dtype(dtype):
    """nansum(dtype=) gives that dtype (an integer one too: NaN counts as 0 before the cast), as PyTorch."""
    x = np.array([[1.5, np.nan, 2.7], [np.inf, 1.0, -2.0]], dtype=np.float32)
    x = x if dtype[0] == "f" else np.nan_to_num(x, posinf=3.0)
    for dim in (None, 1):
        got = tg.tensor(x).nansum(dim, dtype=getattr(tg, dtype))
        assert got.dtype == getattr(tg, dtype)
        assert tg.zeros(3, 2, 0).nansum(2, dtype=getattr(tg, dtype)).dtype == getattr(tg, dtype)
        torch = pytest.importorskip("torch")
        want = torch.tensor(x).nansum(dim, dtype=getattr(torch, dtype))
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("shape", [(2,), (0, 2)])
def test_addcmul_of_bool_tensors_is_refused_as_pytorch(inplace, shape):
    """PyTorch's addcmul kernel has no bool (also for empty tensors); a bool product added to another dtype is fine."""
    b = tg.ones(shape, dtype=tg.bool)
    with pytest.raises(NotImplementedError, match="\"addcmul_cpu_out\" not implemented for 'Bool'"):
        b.addcmul_(b, b) if inplace else tg.addcmul(b, b, b)
    assert tg.addcmul(tg.ones(shape), b, b).dtype == tg.float32
    assert tg.addcmul(b, b, tg.ones(shape, dtype=tg.int64)).dtype == tg.int64


@pytest.mark.parametrize("name, shapes", [("addmm", ((1, 1), (1, 1), (1, 1))), ("addmv", ((1,), (1, 1), (1,))),
                                          ("addr", ((1, 1), (1,), (1,))), ("baddbmm", ((1, 1, 1),) * 3),
                                          ("addbmm", ((1, 1), (1, 1, 1), (1, 1, 1)))])
@pytest.mark.parametrize("kw, ok", [({"beta": -1.0}, False), ({"alpha": -1.0}, False), ({"alpha": 300}, False),
                                    ({"alpha": -1}, True), ({"alpha": 2.5}, True), ({"beta": 255.0}, True)])
def test_integer_beta_and_alpha_are_converted_with_c10s_overflow_check(name, shapes, kw, ok):
    """As PyTorch: beta/alpha convert to the integer dtype as fill_'s values do (-1 wraps into uint8, -1.0 and 300
    overflow, 2.5 truncates), instead of being silently wrapped or truncated."""
    args = [tg.ones(s, dtype=tg.uint8) for s in shapes]
    if name == "addr" and any(isinstance(v, float) for v in kw.values()):  # addr refuses any float, as add does
        with pytest.raises(RuntimeError, match="addr: for integral input tensors, argument (beta|alpha) must not"):
            tg.addr(*args, **kw)
    elif ok:
        getattr(tg, name)(*args, **kw)
    else:
        with pytest.raises(RuntimeError, match=f"{name}: (beta|alpha)=.* cannot be converted to type uint8"):
            getattr(tg, name)(*args, **kw)


@pytest.mark.parametrize("name, shapes", [("addmm", ((1, 1), (1, 3), (3, 1))), ("addmv", ((1,), (1, 3), (3,))),
                                          ("baddbmm", ((1, 1, 1), (1, 1, 3), (1, 3, 1))),
                                          ("addbmm", ((1, 1), (1, 1, 3), (1, 3, 1)))])
@pytest.mark.parametrize("input_dtype", ["float16", "float64", "int64"])
def test_blas_sums_refuse_an_input_of_another_dtype_as_pytorch(name, shapes, input_dtype):
    """addmm/addmv/baddbmm/addbmm need input and matrices of one dtype (PyTorch's BLAS calls); tapegrad promoted."""
    args = [tg.ones(shapes[0], dtype=getattr(tg, input_dtype))] + [tg.ones(s) for s in shapes[1:]]
    with pytest.raises(RuntimeError, match=f"{name}: input tensors must have the same dtype"):
        getattr(tg, name)(*args)
    with pytest.raises(RuntimeError, match=f"{name}: input tensors must have the same dtype"):
        getattr(args[0], name + "_")(*args[1:])
    assert tg.addr(tg.ones(1, 1, dtype=getattr(tg, input_dtype)), tg.ones(1), tg.ones(1)).shape == (1, 1)


# ---------------------------------------------------------------------- quantile's layout: the q dim moved first
def _quantile_strides(shape, dim, keepdim, nq):
    """PyTorch's layout of quantile/nanquantile with a 1-D q of nq values: computed with q last (row-major), then
    q moved first (quantile_impl's movedim(-1, 0)); in elements."""
    if dim is None:
        out = (1,) * len(shape) if keepdim else ()
    else:
        d = dim % len(shape)
        out = shape[:d] + ((1,) if keepdim else ()) + shape[d + 1:]
    full = (*out, nq)
    strides = [1] * len(full)
    for i in range(len(full) - 2, -1, -1):
        strides[i] = strides[i + 1] * full[i + 1]
    return (nq, *out), (strides[-1], *strides[:-1])


@given(st.sampled_from([(3,), (2, 3), (1, 3, 2), (3, 1)]), st.integers(0, 3), st.booleans(), st.integers(2, 3),
       st.sampled_from(["quantile", "nanquantile"]), st.sampled_from(["linear", "higher", "nearest"]))
@example((1, 3, 2), 0, False, 2, "quantile", "higher")  # the differential test's view((-1, 1, 1)) repro
@settings(max_examples=40)
def test_quantile_result_has_pytorchs_layout_so_view_refuses_as_pytorch(shape, d, keepdim, nq, name,
                                                                        interpolation):
    dim = None if d == len(shape) else d % len(shape)
    x = tg.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape))
    q = tg.linspace(0.1, 0.9, nq, dtype=tg.float64)
    got = getattr(tg, name)(x, q, dim=dim, keepdim=keepdim, interpolation=interpolation)
    want_shape, want_strides = _quantile_strides(shape, dim, keepdim, nq)
    assert got.shape == want_shape
    contiguous = got.numpy().flags.c_contiguous
    assert contiguous == np.ndarray(want_shape, strides=tuple(s * 8 for s in want_strides),
                                    buffer=np.zeros(int(np.prod(want_shape)))).flags.c_contiguous
    if not contiguous:  # a view that merges the q dim with the others is refused (reshape copies)
        with pytest.raises(RuntimeError, match="view"):
            got.view(-1)
        np.testing.assert_array_equal(got.reshape(-1).numpy(), got.numpy().reshape(-1))


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False), (None, True), (None, False)])
def test_quantile_strides_and_view_as_pytorch(name, dim, keepdim):
    torch = pytest.importorskip("torch")
    x = np.arange(24.0).reshape(2, 3, 4)
    q = [0.2, 0.5, 0.9]
    got = getattr(tg, name)(tg.tensor(x), tg.tensor(q, dtype=tg.float64), dim=dim, keepdim=keepdim,
                            interpolation="higher")
    want = getattr(torch, name)(torch.tensor(x), torch.tensor(q, dtype=torch.float64), dim=dim, keepdim=keepdim,
                                interpolation="higher")
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    size1 = [i for i, n in enumerate(want.shape) if n == 1]  # a size-1 dim's stride means nothing
    strides = [s for i, s in enumerate(want.stride()) if i not in size1]
    assert [s for i, s in enumerate(got.stride()) if i not in size1] == strides
    for shape in ((-1,), (-1, 1, 1), (3, -1)):
        try:
            want.view(shape)
        except RuntimeError:
            with pytest.raises(RuntimeError, match="view"):
                got.view(shape)
        else:
            np.testing.assert_array_equal(got.view(shape).numpy(), want.view(shape).numpy())


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_addc_multiplies_value_into_tensor1_first_as_pytorch(op, dtype):
    """value * tensor1 first: a small value keeps tensor1 * tensor2 (or / tensor2) from overflowing to inf."""
    big = 1e30 if dtype == "float32" else 1e300
    t1, t2 = tg.tensor([big] * 20, dtype=dtype), tg.tensor([big if op == "addcmul" else 1 / big] * 20, dtype=dtype)
    out = getattr(tg, op)(tg.zeros(20, dtype=dtype), t1, t2, value=1 / big)
    np.testing.assert_allclose(out.numpy(), big, rtol=1e-6)
    inplace = tg.zeros(20, dtype=dtype)
    with tg.no_grad():
        getattr(inplace, op + "_")(t1, t2, value=1 / big)
    np.testing.assert_array_equal(inplace.numpy(), out.numpy())


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_float16_addc_computes_in_float32_as_pytorch(op):
    """PyTorch's float16 kernel works in float32: inf + 0 * (6e4 * 6e4) is inf there, not inf + 0 * inf = nan."""
    h = tg.tensor([6e4] * 20, dtype=tg.float16)
    out = getattr(tg, op)(tg.full((20,), float("inf"), dtype=tg.float16), h, h, value=0)
    assert out.dtype == tg.float16 and np.isposinf(out.numpy()).all()
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(64).astype(np.float16) * 100 for _ in range(3))
    got = getattr(tg, op)(tg.tensor(a), tg.tensor(b), tg.tensor(c), value=0.3).numpy()
    want = getattr(torch, op)(torch.tensor(a), torch.tensor(b), torch.tensor(c), value=0.3).numpy()
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------- addcmul: one fused multiply-add
def _rounded_once(exact, inexact, dtype):
    """The exact ``Fraction`` rounded to nearest even in ``dtype``; ``inexact`` is the plain float computation,
    whose sign an exact zero takes (IEEE's: -0.0 only for -0.0 + -0.0)."""
    t = np.dtype(dtype).type
    if exact == 0:
        return t(inexact)
    near = t(float(exact))
    cands = [np.nextafter(near, t(-np.inf)), near, np.nextafter(near, t(np.inf))]
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[np.dtype(dtype).itemsize]
    return min(cands, key=lambda c: (abs(Fraction(float(c)) - exact) if np.isfinite(c) else math.inf,
                                     int(np.array(c).view(bits)) & 1))


_FINITE32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(deadline=None)
@given(st.sampled_from(["float16", "float32", "float64"]), st.lists(st.tuples(_FINITE32, _FINITE32, _FINITE32),
                                                                    min_size=1, max_size=20),
       st.sampled_from([1, 0.5, -1.9, 1e-4]))
@example("float32", [(-3e38, -3e38, -1.9)], 1)  # the product overflows, the fused sum does not: 2.7e38
@example("float32", [(-1e30, 1e30, -1.9)] * 17, -1.9)  # PyTorch's last bits: -9.0000001e+29, not -8.9999994e+29
@example("float32", [(0.0, -1e-30, 1e-30)], 1)  # the exact product, -1e-60, rounds to -0.0: the sum is -0.0
@example("float64", [(1.0, 1 + 2.0 ** -30, 1 + 2.0 ** -30)], 1)
@example("float16", [(1.0, 1 + 2.0 ** -6, 1 + 2.0 ** -6)], 0.3)  # value * tensor1 in float32 (opmath)
# the exact sum is just below a float32 subnormal midpoint that float64 rounds it to (double rounding: up)
@example("float32", [(2.0 ** -130 + 2.0 ** -149, (1 + 2.0 ** -23) * 2.0 ** -75, (1 - 2.0 ** -23) * 2.0 ** -75)], 1)
def test_addcmul_is_one_fused_multiply_add_as_pytorchs_kernel(dtype, triples, value):
    """PyTorch's addcmul kernel computes ``self + value * t1 * t2`` as compiled, ``fma(value * t1, t2, self)``
    (value * t1 rounded first; float16 in float32, rounded once more at the end): where the product overflows but
    the sum does not, the sum; elsewhere the last bits of one rounding. The plain write (``addcmul_`` under no_grad)
    computes the same, bit for bit."""
    with np.errstate(over="ignore"):
        x, t1, t2 = (np.array(v, dtype) for v in zip(*triples))
    opmath = np.float32 if dtype == "float16" else np.dtype(dtype).type
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = t1.astype(opmath) * opmath(value)
        plain = x.astype(opmath) + scaled * t2.astype(opmath)
    want = []
    for xi, si, ti, pi in zip(x, scaled, t2, plain):
        if not (np.isfinite(xi) and np.isfinite(si) and np.isfinite(ti)):
            want.append(pi)
            continue
        once = _rounded_once(Fraction(float(si)) * Fraction(float(ti)) + Fraction(float(xi)), pi, opmath)
        want.append(once)
    want = np.array(want, opmath).astype(dtype)
    got = tg.addcmul(tg.tensor(x), tg.tensor(t1), tg.tensor(t2), value=value).numpy()
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    written = tg.tensor(x)
    with tg.no_grad():
        written.addcmul_(tg.tensor(t1), tg.tensor(t2), value=value)
    assert written.numpy().tobytes() == got.tobytes()


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("value", [1, 0.3])
def test_addcmul_matches_pytorch_bit_for_bit(dtype, value):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    a, b, c = (rng.standard_normal(37).astype(dtype) * s for s in (1, 1e-3, 30))
    big = 6e4 if dtype == "float16" else 3e38
    a[:6], b[:6], c[:6] = [-big, 0, 1e-3, 1, -1, 0], [-big, -1e-4, 1e-3, 1e-3, big, 0], [-1.9, 1e-4, -1e-3, 0, 2, -2]
    for m in (tg, torch):
        outs = [m.addcmul(m.tensor(a), m.tensor(b), m.tensor(c), value=value),
                m.addcmul(m.tensor(a), m.tensor(b), m.tensor(c[0]), value=value)]  # a 0-d tensor2
        with m.no_grad():
            outs.append(m.tensor(a).addcmul_(m.tensor(b), m.tensor(c), value=value))
        got = [o.numpy().tobytes() for o in outs]
        if m is tg:
            mine = got
    assert mine == got


# ---------------------------------------------------------------------- quantile of a 0-d tensor
# PyTorch's quantile_output_shape (aten/src/ATen/native/Sorting.cpp): with a dim, keepdim keeps the input's dims
# with the reduced one set to 1 only when input.dim() > 0; a 0-d input keeps no dim, keepdim or not
@given(q=st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1, max_size=3)),
       dim=st.sampled_from([None, 0, -1]), keepdim=st.booleans(), nan=st.booleans(),
       interpolation=st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]))
@example(q=1.0, dim=-1, keepdim=True, nan=False, interpolation="lower")
@example(q=[0.5, 1.0], dim=0, keepdim=True, nan=False, interpolation="linear")
def test_quantile_of_0d_keeps_no_dim(q, dim, keepdim, nan, interpolation):
    x = tg.tensor(1.5, dtype=tg.float64, requires_grad=True)
    qt = tg.tensor(q, dtype=tg.float64) if isinstance(q, list) else q
    out = (tg.nanquantile if nan else tg.quantile)(x, qt, dim, keepdim, interpolation=interpolation)
    assert out.shape == ((len(q),) if isinstance(q, list) else ())
    np.testing.assert_array_equal(out.detach().numpy(), np.full(out.shape, 1.5))
    out.sum().backward()
    assert x.grad.item() == (len(q) if isinstance(q, list) else 1)


def test_quantile_of_0d_shapes_as_pytorch():
    torch = pytest.importorskip("torch")
    for q in (0.25, [0.5, 1.0]):
        for dim in (None, 0, -1):
            for keepdim in (False, True):
                got = tg.tensor(1.5).quantile(tg.tensor(q) if isinstance(q, list) else q, dim, keepdim)
                want = torch.tensor(1.5).quantile(torch.tensor(q) if isinstance(q, list) else q, dim, keepdim)
                assert tuple(got.shape) == tuple(want.shape), (q, dim, keepdim)


# ---------------------------------------------------------------------- addcmul/addcdiv value: c10's checked conversion
def _c10_overflows(value, dtype):
    """c10/util/TypeCast.h's overflows<To, From>: whether ``value.to<dtype>()`` raises."""
    if isinstance(value, bool) or dtype == np.bool_:
        return False
    if np.dtype(dtype).kind == "f":
        return not (isinstance(value, float) and not math.isfinite(value)) and abs(value) > np.finfo(dtype).max
    info = np.iinfo(dtype)
    if isinstance(value, float):
        return not math.isfinite(value) or not info.min <= value <= info.max
    low = -int(info.max) if info.min == 0 else int(info.min)  # unsigned: -max..-1 wrap (two's complement)
    return not low <= value <= int(info.max)


_NUMBERS = st.one_of(st.integers(-2 ** 40, 2 ** 40), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([-1, -255, -256, 300, 65504.0, 65519.0, 1e5, 3.4e38, 3.5e38, -1.5, 0.5]))


@given(value=_NUMBERS, dtype=st.sampled_from(["uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                              "float64"]), inplace=st.booleans())
@example(value=-1.5, dtype="uint8", inplace=True)
@example(value=-1, dtype="uint8", inplace=True)
@example(value=1e40, dtype="float32", inplace=True)
@example(value=1e30, dtype="float16", inplace=False)
def test_addcmul_value_is_converted_as_pytorchs_kernel(value, dtype, inplace):
    # PyTorch's addcmul kernel reads value.to<scalar_t>() (float16: its opmath float32), c10's checked conversion
    x = tg.tensor([1, 2], dtype=getattr(tg, dtype))
    opmath = np.float32 if dtype == "float16" else np.dtype(dtype)
    call = (lambda: x.clone().addcmul_(x, x, value=value)) if inplace else (lambda: tg.addcmul(x, x, x, value=value))
    if _c10_overflows(value, opmath):
        with pytest.raises(RuntimeError, match=f"addcmul: value .* cannot be converted to {np.dtype(opmath)}"):
            call()
    else:
        call()
    if dtype.startswith("float"):
        y = tg.tensor([1.0, 2.0], dtype=getattr(tg, dtype))
        if _c10_overflows(value, opmath):
            with pytest.raises(RuntimeError, match="addcdiv: value"):
                tg.addcdiv(y, y, y, value=value)
        else:
            tg.addcdiv(y, y, y, value=value)


def test_addcmul_addcdiv_value_overflow_as_pytorch():
    torch = pytest.importorskip("torch")
    for dtype in ("uint8", "int8", "int64", "float16", "float32"):
        for value in (-1, -1.5, 0.5, 300, 1e5, 1e30, 1e40, float("inf"), float("nan")):
            outcomes = []
            for lib in (tg, torch):
                x = lib.tensor([1, 2], dtype=getattr(lib, dtype))
                calls = [lambda x=x, v=value: x.clone().addcmul_(x, x, value=v)]
                if dtype.startswith("float"):
                    calls.append(lambda x=x, v=value, lib=lib: lib.addcdiv(x, x, x, value=v))
                got = []
                for c in calls:
                    try:
                        got.append(np.asarray(c().double().numpy()))
                    except RuntimeError as e:
                        got.append("overflow" if "without overflow" in str(e) else str(e))
                outcomes.append(got)
            for a, b in zip(*outcomes):
                if isinstance(b, str) or isinstance(a, str):
                    assert isinstance(a, str) and a == b, (dtype, value, a, b)
                else:
                    np.testing.assert_array_equal(a, b, err_msg=f"{dtype} {value}")


# ---------------------------------------------------------------------- diff: prepend/append shapes checked for every n
@given(n=st.integers(0, 2), dim=st.sampled_from([0, 1, -1]), other=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       which=st.sampled_from(["prepend", "append"]))
@example(n=0, dim=1, other=(1, 3), which="append")
def test_diff_checks_prepend_append_shapes_for_every_n(n, dim, other, which):
    # PyTorch's diff_check_compatible_shape (aten/src/ATen/native/ReduceOps.cpp) runs before the n == 0 shortcut
    x = tg.tensor([[0.5, 3.0, 1.0], [3.0, 1.5, 1.5]], dtype=tg.float16, requires_grad=True)
    t = tg.ones(other, dtype=tg.float16)
    d = dim % 2
    if any(other[i] != x.shape[i] for i in range(2) if i != d):
        with pytest.raises(RuntimeError, match=r"diff expects the shape of tensor to prepend or append.*input.size"):
            x.diff(n=n, dim=dim, **{which: t})
    else:
        out = x.diff(n=n, dim=dim, **{which: t})
        assert out.shape[d] == (x.shape[d] if n == 0 else max(x.shape[d] + other[d] - n, 0))


def test_diff_prepend_append_shapes_as_pytorch():
    torch = pytest.importorskip("torch")
    for n in (0, 1):
        for dim in (0, 1):
            for other in ((1, 3), (2, 1), (1, 1), (2, 3)):
                got, want = [], []
                for lib, out in ((tg, got), (torch, want)):
                    try:
                        out.append(tuple(lib.zeros(2, 3).diff(n=n, dim=dim, append=lib.zeros(other)).shape))
                    except RuntimeError as e:
                        out.append("diff expects the shape" in str(e))
                assert got == want, (n, dim, other)


# ---------------------------------------------------------------------- addr of bool tensors
@given(n=st.integers(0, 3), m=st.integers(0, 3), data=st.data(),
       beta=st.sampled_from([True, False, 0, 1, 2, 0.5, 0.0]), alpha=st.sampled_from([True, False, 0, 1, 3, 0.5]))
@example(n=2, m=0, data=None, beta=0.5, alpha=0.5)
def test_addr_of_bools_is_logical_and_refuses_float_scalars(n, m, data, beta, alpha):
    # PyTorch's addr kernel for bool: (input and beta) or (alpha and vec1 and vec2), a bool result; a float beta
    # or alpha is refused for integral (bool too) tensors ("must not be a floating point number")
    draw = (lambda s: np.zeros(s, bool)) if data is None else (lambda s: data.draw(arrays(s, dtype=np.bool_)))
    x, a, b = draw((n, m)), draw((n,)), draw((m,))
    call = lambda: tg.addr(tg.tensor(x), tg.tensor(a), tg.tensor(b), beta=beta, alpha=alpha)  # noqa: E731
    if isinstance(beta, float) or isinstance(alpha, float):
        with pytest.raises(RuntimeError, match="must not be a floating point number"):
            call()
        return
    out = call()
    assert out.dtype == tg.bool
    want = (x & bool(beta)) | (np.outer(a, b) & bool(alpha)) if beta else np.outer(a, b) & bool(alpha)
    np.testing.assert_array_equal(out.numpy(), want)


def test_addr_of_bools_as_pytorch():
    torch = pytest.importorskip("torch")
    x, a, b = [[True, False], [False, True]], [True, False], [True, True]
    for beta in (True, False, 2, 0.5):
        for alpha in (True, False, 0.5):
            got, want = [], []
            for lib, out in ((tg, got), (torch, want)):
                try:
                    out.append(lib.addr(lib.tensor(x), lib.tensor(a), lib.tensor(b), beta=beta, alpha=alpha).tolist())
                except RuntimeError as e:
                    out.append("floating point" in str(e))
            assert got == want, (beta, alpha)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       st.lists(st.sampled_from([np.inf, -np.inf, np.nan, -2.5, 0.0, -0.0, 1.5]), min_size=64, max_size=64),
       st.sampled_from([0.0, 1.0, 0.5]), st.sampled_from([np.float32, np.float64]))
@example(3, 1, 1, [-np.inf, -2.5, -0.25] + [1.1] * 61, 1.0, np.float32)  # the input's -inf + 0 * (-inf * 1.1)
@example(3, 3, 2, [0.0, -2.5, -1.0, 0.0, 1.0, 1.0, 3.0, -0.0, -0.25, 2.6, 1.1, -1.9, -1.9, 0.3, -2.2] + [1.0] * 49,
         0.0, np.float64)  # beta=0: the signs of 0 * product
def test_baddbmm_alpha_zero_multiplies_small_products_as_pytorchs_kernel(m, k, n, vals, beta, dtype):
    # PyTorch's CPU baddbmm multiplies in its own kernel when k * m * n < 400 (LinearAlgebra.cpp,
    # baddbmm_cpu_kernel): alpha=0 times an inf product is nan, times a negative product -0.0
    v = np.array(vals, dtype=dtype)
    a, b, c = v[:m * k].reshape(1, m, k), v[16:16 + k * n].reshape(1, k, n), v[32:32 + m * n].reshape(1, m, n)
    with np.errstate(all="ignore"):
        got = tg.tensor(c).baddbmm(tg.tensor(a), tg.tensor(b), beta=beta, alpha=0).numpy()
        prod = 0 * (a.astype(np.float64) @ b.astype(np.float64))
        want = prod if beta == 0 else beta * c + prod
    np.testing.assert_array_equal(got, want.astype(dtype))
    assert np.array_equal(np.signbit(got), np.signbit(want))


_HALF_POOL = [np.inf, -np.inf, np.nan, -2.5, 0.0, -0.0, 1.5, 300.0, -300.0]


def _half_blas_call(op, b, m, k, n, vals):
    """(input, operand, operand) of ``op`` in float16 from a pool of values, contiguous."""
    v = np.array(vals, np.float16)
    shapes = {"addmm": ((m, n), (m, k), (k, n)), "addmv": ((m,), (m, k), (k,)),
              "addbmm": ((m, n), (b, m, k), (b, k, n)), "baddbmm": ((b, m, n), (b, m, k), (b, k, n))}[op]
    return [np.resize(np.roll(v, 7 * i), s) for i, s in enumerate(shapes)]


@given(st.sampled_from(["addmm", "addmv", "addbmm", "baddbmm"]), st.integers(1, 3), st.integers(1, 4),
       st.integers(1, 6), st.integers(1, 4), st.lists(st.sampled_from(_HALF_POOL), min_size=1, max_size=40),
       st.sampled_from([0.0, 1.0, 0.5, -2.0]))
@example("addbmm", 2, 2, 1, 4, [np.inf, -2.5, -np.inf, -0.0, 0.5, np.nan], 1.0)
@example("addmm", 1, 2, 2, 3, [0.5, -0.25, 1.0, -0.25, -1.0, -2.5, 0.5, 2.0, 1.0], 0.0)
def test_float16_blas_ops_at_alpha_zero_multiply_as_pytorchs_kernel(op, b, m, k, n, vals, beta):
    # float16 has no BLAS call in PyTorch (oneDNN refuses alpha=0): its own gemm/gemv gives beta * c + 0 * dot in
    # float32, so a dot with an inf or NaN factor is NaN, and for beta=0 a negative dot -0.0 (MKL's float32 and
    # float64 gemm skip the product instead)
    x, p, q = _half_blas_call(op, b, m, k, n, vals)
    got = getattr(tg, op)(tg.tensor(x), tg.tensor(p), tg.tensor(q), beta=beta, alpha=0).numpy()
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    if op == "addmv":
        q64 = q64[:, None]
    with np.errstate(all="ignore"):
        dots = p64 @ q64  # exact here: the float16 products and their sums are exact in float64
        nonfinite = (~np.isfinite(p64)).astype(float) @ np.ones_like(q64) + np.ones_like(p64) @ (~np.isfinite(q64))
        dots = np.where(nonfinite > 0, np.nan, dots)
        if op == "addmv":
            dots = dots[:, 0]
        if op == "addbmm":  # one addmm_ per batch onto the result
            zeros = 0 * dots
            want = zeros[0] if beta == 0 else np.float32(beta) * x.astype(np.float32) + zeros[0]
            for z in zeros[1:]:
                want = want + z
        else:
            want = 0 * dots if beta == 0 else (x * np.float16(beta) if op == "addmv" else
                                                np.float32(beta) * x.astype(np.float32)) + 0 * dots
    want = np.broadcast_to(np.asarray(want, np.float64).astype(np.float16), got.shape)
    np.testing.assert_array_equal(got, want)  # NaN where a factor is inf or NaN, beta * input elsewhere
    if beta == 0 and op != "addmv" and (n > 1 or m * k == 1):  # (the 'n' gemv and the transb gemm sum from +0.0)
        assert np.array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)]))


def test_float16_addbmm_at_alpha_zero_is_nan_where_a_product_is():
    # differential seed 1184842: 0 * inf in the columns of batch2 holding inf or NaN, not the input
    x = tg.tensor([[0.3, -0.7, -0.45, -0.45], [0.85, -0.45, -0.7, 0.85]], dtype=tg.float16)
    b1 = tg.tensor([[[-2.2], [2.6]], [[-2.2], [0.05]]], dtype=tg.float16)
    b2 = tg.tensor([[[math.inf, -2.5, -math.inf, -0.0]], [[0.5, -math.inf, math.nan, 0.0]]], dtype=tg.float16)
    got = tg.addbmm(x, b1, b2, alpha=0).numpy()
    np.testing.assert_array_equal(np.isnan(got), [[True, True, True, False]] * 2)
    np.testing.assert_array_equal(got[:, 3], x.numpy()[:, 3])
    # every product negative: -0.0 for beta=0 (the old KNOWN pytorch-half-addmm-zero-alpha-beta was this)
    y = tg.tensor([[0.5, -0.25, 1.0], [-0.25, -1.0, -2.5]], dtype=tg.float16)
    got = tg.addmm(y, tg.tensor([[0.5, 2.0], [1.0, 3.0]], dtype=tg.float16), y, beta=0, alpha=0).numpy()
    assert got.tolist() == [[0.0] * 3] * 2 and np.signbit(got).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
def test_addbmm_at_alpha_zero_is_beta_times_input_in_float32_and_float64(dtype, beta):
    # MKL's gemm skips the products at alpha=0: one addmm_ per batch leaves beta * input, its -0.0 included (the
    # per-batch signs of alpha * product apply to other alphas only)
    x = np.array([[-0.0, 0.5], [-0.0, 0.0]])
    b = np.array([[[1.0, 2.0], [-1.0, 0.5]], [[1.0, -2.0], [3.0, 0.5]]])
    got = tg.addbmm(*(tg.tensor(v, dtype=getattr(tg, dtype)) for v in (x, b, b)), beta=beta, alpha=0).numpy()
    want = (x * beta if beta else np.zeros_like(x)).astype(dtype)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    torch = pytest.importorskip("torch")
    ref = torch.addbmm(*(torch.tensor(v, dtype=getattr(torch, dtype)) for v in (x, b, b)), beta=beta, alpha=0)
    assert np.array_equal(np.signbit(got), np.signbit(ref.numpy()))


def test_float16_blas_ops_at_alpha_zero_match_pytorch_in_every_layout():
    # which of PyTorch's float16 kernels runs (its gemm's transb kernel sums from +0.0, the others take 0 * dot;
    # a column-major addmv matrix sums 0 * vec[j] * mat[i, j] from +0.0) follows the operands' strides
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    for trial in range(400):
        op = ["addmm", "addmv", "baddbmm", "addbmm"][trial % 4]
        beta = [0, 1, 0.5, 0.1, -2][trial % 5]
        m, k, n, b = (int(v) for v in rng.integers(1, 10, 4))
        m, n = (1 if rng.random() < 0.3 else m), (1 if rng.random() < 0.3 else n)
        x, p, q = _half_blas_call(op, b, m, k, n, rng.choice(_HALF_POOL, 40))
        forms = [int(v) for v in rng.integers(0, 3, 2)]
        results = []
        for lib in (torch, tg):
            ts = [lib.tensor(a) for a in (x, p, q)]
            for i, form in zip((1, 2), forms, strict=True):
                if ts[i].ndim > 1 and form == 1:
                    ts[i] = ts[i].mT.contiguous().mT  # column-major
                elif ts[i].ndim > 1 and form == 2:
                    ts[i] = lib.cat([ts[i], ts[i]], -1)[..., ::2]  # no unit stride: copied
            with np.errstate(all="ignore"):
                results.append(getattr(lib, op)(*ts, beta=beta, alpha=0).numpy())
        want, got = results
        np.testing.assert_array_equal(got, want, err_msg=f"{op} {beta} {forms}")
        assert np.array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)])), (op, beta, forms)


def test_baddbmm_alpha_zero_matches_pytorch_below_and_above_the_kernels_size():
    torch = pytest.importorskip("torch")
    for m, k, n in ((3, 1, 1), (5, 8, 9), (5, 8, 10), (7, 8, 8)):  # 360 multiplies; 400 and more call BLAS: skipped
        for beta in (0.0, 1.0):
            def run(lib, m=m, k=k, n=n, beta=beta):
                x = lib.tensor(np.arange(2 * m * n, dtype=np.float64).reshape(2, m, n) - 3, requires_grad=True)
                b1 = lib.tensor(np.full((2, m, k), -np.inf))
                b1[0, 0, 0] = 2.0
                out = x.baddbmm(b1, -lib.ones(2, k, n, dtype=lib.float64), beta=beta, alpha=0)
                out.sum().backward()
                return out.detach().numpy(), x.grad.numpy()
            with np.errstate(all="ignore"):
                (got, ggot), (want, gwant) = run(tg), run(torch)
            np.testing.assert_array_equal(got, want)
            assert np.array_equal(np.signbit(got), np.signbit(want))
            np.testing.assert_array_equal(ggot, gwant)
# ---- which NaN mode picks, which zero nanmedian/median pick: libstdc++'s std::sort / std::nth_element order
_EDGE_POOL = [0.0, -0.0, math.nan, 1.5, -2.5, 0.5, math.inf]


def test_stdsort_sorts_and_selects_like_a_strict_weak_order():
    from tapegrad.ops import _stdsort

    @given(st.lists(st.integers(-5, 5), max_size=80), st.data())
    @settings(max_examples=60)
    def check(values, data):
        assert _stdsort.std_sort(values, _stdsort.less_than) == sorted(values)
        if values:
            k = data.draw(st.integers(0, len(values) - 1))
            assert _stdsort.std_nth_element(values, k, _stdsort.less_than) == sorted(values)[k]

    check()


@given(st.lists(st.sampled_from(_EDGE_POOL), min_size=1, max_size=40), st.sampled_from(["float16", "float32",
                                                                                         "float64"]))
@example([math.nan, 1.5, -2.5], "float16")  # PyTorch: nan (index 0), not the smallest value -2.5
@example([1.5, math.nan, 1.5, math.nan], "float32")  # NaN splits the 1.5s into runs of one: the first wins
def test_mode_with_nan_follows_pytorch_sort_order(values, dtype):
    # PyTorch's CPU mode (aten/src/ATen/native/cpu/TensorCompareKernel.cpp, mode_kernel_impl) std::sorts
    # (value, index) pairs by value with '<', which NaN breaks: where a NaN lands is libstdc++'s order of moves
    a = np.array(values, dtype=dtype)
    got = tg.mode(tg.tensor(a))
    value, index = got.values.numpy(), int(got.indices)
    assert np.array_equal(value, a[index], equal_nan=True) and np.signbit(value) == np.signbit(a[index])
    if values == [math.nan, 1.5, -2.5]:
        assert math.isnan(value) and index == 0
    if values == [1.5, math.nan, 1.5, math.nan]:
        assert value == 1.5 and index == 0


@given(st.lists(st.sampled_from(_EDGE_POOL), min_size=1, max_size=40), st.sampled_from(["float16", "float32",
                                                                                         "float64"]))
@example([math.nan, 1.5, -2.5], "float16")
@example([0.5, math.nan, 0.5, 0.0, -0.0, 1.5, -0.0, math.nan, math.nan, -2.5, 0.0, 0.0, -0.0, 0.0, math.nan,
          -0.0, 0.0, 1.5, -0.0, 0.0], "float32")
def test_mode_with_nan_matches_pytorch(values, dtype):
    torch = pytest.importorskip("torch")
    a = np.array(values, dtype=dtype).reshape(1, -1)
    want = torch.mode(torch.from_numpy(a), -1)
    got = tg.mode(tg.tensor(a), -1)
    assert np.array_equal(got.values.numpy(), want.values.numpy(), equal_nan=True)
    assert np.array_equal(np.signbit(got.values.numpy()), np.signbit(want.values.numpy()))
    assert np.array_equal(got.indices.numpy(), want.indices.numpy())


@given(st.lists(st.sampled_from(_EDGE_POOL), min_size=1, max_size=60), st.sampled_from(["float16", "float32",
                                                                                         "float64"]))
@example([-0.0, 0.0, 1.0, -3.0, 0.5, 0.5, -0.0, 0.0], "float32")  # PyTorch: +0.0 (the driver's repro)
@example([1.5, 0.0, -0.0, -0.0, 1.5, 0.0, math.nan, -0.0], "float32")  # PyTorch: -0.0
def test_nanmedian_and_median_pick_pytorch_zero(values, dtype):
    # PyTorch's whole-tensor median/nanmedian (aten/src/ATen/native/Sorting.cpp, median_impl) return the element
    # std::nth_element puts in the middle; of zeros of both signs, which one is libstdc++'s order of moves
    a = np.array(values, dtype=dtype)
    got = tg.nanmedian(tg.tensor(a)).numpy()
    pinned = {(-0.0, 0.0, 1.0, -3.0, 0.5, 0.5, -0.0, 0.0): False,
              (1.5, 0.0, -0.0, -0.0, 1.5, 0.0, math.nan, -0.0): True}
    key = tuple(values)
    if key in pinned:
        assert got == 0 and bool(np.signbit(got)) is pinned[key]
    torch = pytest.importorskip("torch")
    for name in ("nanmedian", "median"):
        want = getattr(torch, name)(torch.from_numpy(a)).numpy()
        have = getattr(tg, name)(tg.tensor(a)).numpy()
        assert np.array_equal(have, want, equal_nan=True) and np.signbit(have) == np.signbit(want), name


@given(st.lists(st.sampled_from(_EDGE_POOL[:5]), min_size=1, max_size=30))
@example([-0.0, 0.0, 1.0, -3.0, 0.5, 0.5, -0.0, 0.0])  # the driver's repro: 0.75 spread over the four zeros
@example([math.nan, math.nan])  # an all-NaN tensor: the NaNs share it
def test_whole_nanmedian_spreads_its_gradient_over_ties(values):
    # PyTorch's NanmedianBackward0 is evenly_distribute_backward (FunctionsManual.cpp): the elements equal to the
    # result (the NaNs when it is NaN) share the gradient
    a = np.array(values, np.float32)
    x = tg.tensor(a, requires_grad=True)
    v = tg.nanmedian(x)
    (v * 0.75).backward()
    value = v.item()
    ties = np.isnan(a) if math.isnan(value) else a == value
    np.testing.assert_allclose(x.grad.numpy(), np.where(ties, 0.75 / ties.sum(), 0.0), rtol=1e-6)
    assert v.grad_fn.name() == "NanmedianBackward0"
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    (torch.nanmedian(t) * 0.75).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)
@given(shape=st.sampled_from([(0,), (0, 1), (2, 1, 0), (3, 0)]), repeats=st.sampled_from(["0-d", "empty", "int"]),
       output_size=st.integers(0, 8), with_dim=st.booleans())
@example(shape=(0, 1), repeats="0-d", output_size=6, with_dim=False)
@example(shape=(2, 1, 0), repeats="empty", output_size=6, with_dim=True)
def test_repeat_interleave_of_no_elements_by_a_tensor_ignores_output_size(shape, repeats, output_size, with_dim):
    """A tensor of repeats over no elements gives an empty result whatever ``output_size`` says (PyTorch returns
    before looking at it: aten/src/ATen/native/Repeat.h); an int's total, 0, is checked against it."""
    x = tg.zeros(shape)
    dim = x.ndim - 1 if with_dim else None
    r = {"0-d": tg.tensor(2), "empty": tg.tensor([], dtype=tg.int64), "int": 2}[repeats]
    if repeats == "empty" and with_dim and shape[-1] != 0:
        return
    want = tg.repeat_interleave(x, r, dim=dim)
    if repeats == "int" and output_size != 0:
        with pytest.raises(RuntimeError, match="repeat_interleave: output_size"):
            tg.repeat_interleave(x, r, dim=dim, output_size=output_size)
        return
    got = tg.repeat_interleave(x, r, dim=dim, output_size=output_size)
    assert got.shape == want.shape and got.numel() == 0


@pytest.mark.parametrize("repeats", ["0-d", "empty", "int"])
@pytest.mark.parametrize("dim", [None, 2])
def test_repeat_interleave_of_no_elements_with_output_size_as_pytorch(repeats, dim):
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tg, torch):
        r = {"0-d": lib.tensor(1), "empty": lib.tensor([], dtype=lib.int64), "int": 1}[repeats]
        x = lib.zeros((2, 1, 0), requires_grad=True)
        try:
            y = x.repeat_interleave(r, dim=dim, output_size=6)
        except RuntimeError:
            out.append("raises")
            continue
        y.sum().backward()
        out.append((tuple(y.shape), tuple(x.grad.shape)))
    assert out[0] == out[1]


@given(op=st.sampled_from(["kthvalue", "mode", "nanmedian"]), shape=st.sampled_from([(3, 2), (3, 0, 0), (4,)]),
       keepdim=st.booleans(), rg=st.booleans())
@example(op="kthvalue", shape=(3, 0, 0), keepdim=False, rg=False)
def test_selected_values_are_new_tensors_not_views(op, shape, keepdim, rg):
    """kthvalue/mode/nanmedian along a dim return new tensors (PyTorch's KthvalueBackward0, ModeBackward0,
    NanmedianBackward1), not views: ``detach_()`` takes them, and the gradient goes to the selected elements."""
    x = tg.tensor(np.arange(math.prod(shape), dtype=np.float64).reshape(shape) % 3, requires_grad=rg)
    args = (1, 0) if op == "kthvalue" else (0,)
    values, indices = getattr(x, op)(*args, keepdim=keepdim)
    assert values._base is None
    if rg:
        assert values.grad_fn.name() == {"kthvalue": "KthvalueBackward0", "mode": "ModeBackward0",
                                         "nanmedian": "NanmedianBackward1"}[op]
        (values * 2).sum().backward()
        want = np.zeros(shape)
        np.put_along_axis(want, indices.numpy() if keepdim else np.expand_dims(indices.numpy(), 0), 2.0, 0)
        np.testing.assert_array_equal(x.grad.numpy(), want)
    assert values.detach_() is values and not values.requires_grad


@pytest.mark.parametrize("op", ["kthvalue", "mode", "nanmedian"])
def test_selected_values_detach_in_place_as_pytorch(op):
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        x = lib.zeros((3, 0, 0)) if lib is torch else tg.zeros((3, 0, 0))
        values = getattr(x, op)(*((2, 0) if op == "kthvalue" else (0,)))[0]
        values.detach_()
        assert tuple(values.shape) == (0, 0)
    y = getattr(torch.tensor([[1.0, 2.0], [3.0, 0.5]], requires_grad=True), op)(*((1, 0) if op == "kthvalue" else (0,)))
    z = getattr(tg.tensor([[1.0, 2.0], [3.0, 0.5]], requires_grad=True), op)(*((1, 0) if op == "kthvalue" else (0,)))
    assert z[0].grad_fn.name() == y[0].grad_fn.name()
    assert z[0].tolist() == y[0].tolist() and z[1].tolist() == y[1].tolist()


# ---- beta=0 / alpha=0: PyTorch's gradients are maybe_multiply(grad, beta) and maybe_multiply(grad, alpha)
_BLAS = {  # name: (input, first, second) shapes
    "addmm": ((2, 2), (2, 3), (3, 2)), "addmv": ((2,), (2, 3), (3,)), "addr": ((2, 3), (2,), (3,)),
    "baddbmm": ((1, 2, 2), (1, 2, 3), (1, 3, 2)), "addbmm": ((2, 2), (1, 2, 3), (1, 3, 2))}


def _blas_grads(lib, name, beta, alpha, g_value, method=False):
    ts = [lib.tensor(np.arange(1, math.prod(s) + 1, dtype=np.float64).reshape(s) * 0.5, requires_grad=True)
          for s in _BLAS[name]]
    out = getattr(ts[0] * 1, name + "_")(*ts[1:], beta=beta, alpha=alpha) if method else \
        getattr(lib, name)(*ts, beta=beta, alpha=alpha)
    g = np.ones(tuple(out.shape))
    g.flat[0] = g_value
    with np.errstate(all="ignore"):
        out.backward(lib.tensor(g))
    return [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("name", sorted(_BLAS))
@given(beta=st.sampled_from([0, 0.0, 1, 2.5]), alpha=st.sampled_from([0, 0.0, 1, -1.5]),
       g_value=st.sampled_from([math.inf, -math.inf, math.nan, 2.0]))
@example(beta=0, alpha=0, g_value=math.inf)
def test_zero_beta_or_alpha_gradient_is_zero_times_grad(name, beta, alpha, g_value):
    # derivatives.yaml: self: maybe_multiply(grad, beta); mat1: mm_mat1_backward(grad, mat2, ..., alpha) (grad @ mat2.T
    # times alpha): 0 * an infinite gradient is NaN, whether or not the forward skipped the product (BLAS, alpha=0)
    # or ignored the input (beta=0)
    grads = _blas_grads(tg, name, beta, alpha, g_value)
    finite = np.isfinite(g_value)
    if beta == 0:
        assert np.isnan(grads[0].flat[0]) == (not finite)
        assert (grads[0].flat[1:] == 0).all()
    if alpha == 0:  # the row and column of the first output element: 0 * inf
        for gr in grads[1:]:
            assert np.isnan(gr).any() == (not finite)
            assert (gr[~np.isnan(gr)] == 0).all()


@pytest.mark.parametrize("name", sorted(_BLAS))
def test_zero_beta_or_alpha_gradient_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    for beta, alpha in ((0, 1), (1, 0), (0, 0), (0.0, 2), (2, 0.0)):
        for g_value in (math.inf, math.nan, 3.0):
            for method in (False, True):
                got = _blas_grads(tg, name, beta, alpha, g_value, method)
                want = _blas_grads(torch, name, beta, alpha, g_value, method)
                for a, b in zip(got, want, strict=True):
                    np.testing.assert_array_equal(a, b, err_msg=f"{name} beta={beta} alpha={alpha} g={g_value}")


def test_zero_beta_or_alpha_node_is_pytorchs_and_differentiates_twice():
    a, m, n = (tg.tensor(np.full(s, 0.5), requires_grad=True) for s in ((2, 2), (2, 3), (3, 2)))
    out = tg.addmm(a, m, n, beta=0, alpha=0)
    assert out.grad_fn.name() == "AddmmBackward0"
    assert out.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert gradgradcheck(lambda i, x, y: tg.addmm(i, x, y, beta=0, alpha=2) ** 2,
                         tuple(tg.tensor(np.arange(1.0, 1 + math.prod(s)).reshape(s) / 4, requires_grad=True)
                               for s in ((2, 2), (2, 3), (3, 2))))
    assert_gradients(lambda i, x, y: tg.addmm(i, x, y, beta=0, alpha=2), np.ones((2, 2)), np.ones((2, 3)) * 0.5,
                     np.arange(6.0).reshape(3, 2))


# ---- quantile of equal values: which one receives the gradient is PyTorch's unstable sort's order
@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 1.0, 2.0, -1.0, math.nan]), min_size=1, max_size=40),
       st.sampled_from([None, 0, -1]), st.sampled_from([0.0, 0.3, 0.5, 1.0]),
       st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]), st.booleans())
@example([-2.5, 1.5, 1.5, -3.0, -3.0, 1.5, 3.0, 3.0, 0.5, 2.0, 0.5, 1.5, 1.0, 0.5, 0.5, 3.0, 0.5, 1.0, 1.5, 2.0,
          -0.25, 1.0, -3.0, -2.5], None, 1.0, "lower", False)
@example([1.0] * 20 + [math.nan] * 3, -1, 0.5, "linear", False)
def test_quantile_gradient_of_ties_goes_where_pytorchs(values, dim, q, interpolation, nan):
    # Sorting.cpp quantile_compute sorts with sort() (stable=False): on CPU libstdc++'s std::sort (introsort, NaN
    # last), which moves equal values out of their order from 17 elements on; the gradient goes to the element its
    # order puts at the quantile's rank
    torch = pytest.importorskip("torch")
    x = np.array(values * 2).reshape(2, -1) if dim is not None else np.array(values)
    grads = []
    for m in (tg, torch):
        t = m.tensor(x, dtype=m.float64, requires_grad=True)
        fn = m.nanquantile if nan else m.quantile
        out = fn(t, q, dim=dim, interpolation=interpolation)
        out.backward(m.ones_like(out))
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(*grads)


def test_quantile_without_gradient_skips_the_tie_order():
    x = tg.tensor([1.0] * 30)
    assert tg.quantile(x, 0.5).item() == 1.0
    with tg.no_grad():
        assert tg.quantile(tg.tensor([1.0] * 30, requires_grad=True), 1.0).item() == 1.0


@given(st.sampled_from([3e38, 1e30, 1e6, 2.0 ** 24]), st.sampled_from([2.0, -1.5, 0.75]))
@example(3e38, 2.0)
def test_logcumsumexp_gradient_keeps_the_gradients_digits_beside_large_values(big, g):
    # d out[i] / d x[j] = exp(x[j] - out[i]) for j <= i: 1 where x[j] dominates, so the gradient of a dominating
    # element is the sum of the gradients after it. PyTorch 2.13's logcumsumexp_backward (FunctionsManual.cpp)
    # works in log space, log|grad| - result, where log 2 vanishes beside 3e38 (gradient 1 for 2): the
    # pytorch-logcumsumexp-grad-absorbed entry of tests/test_differential.py
    x = tg.tensor([1e-30, big, 3.0], dtype=tg.float32, requires_grad=True)
    tg.logcumsumexp(x, 0).backward(tg.tensor([0.5, g, -1.5], dtype=tg.float32))
    np.testing.assert_allclose(x.grad.numpy(), [0.5 + (g - 1.5) * math.exp(-big), g - 1.5, -1.5 * math.exp(3 - big)],
                               rtol=1e-6)
    assert_gradients(lambda t: tg.logcumsumexp(t, 0), np.array([1e-3, 40.0, 3.0]))
@given(n=st.integers(0, 3), offset=st.integers(-2, 2), dtype=st.sampled_from(["float32", "int64", "bool"]),
       rg=st.booleans())
@example(n=4, offset=2, dtype="bool", rg=False)  # the differential test's repro: diagflat(...).zero_().detach_()
@settings(max_examples=20, deadline=None)
def test_diagflat_and_diag_embed_results_are_new_tensors_not_views(n, offset, dtype, rg):
    """PyTorch's diag_embed (and diagflat, diag of a vector) fills a new tensor: not a view (``_base`` is None), so
    ``detach_()`` takes it after an in-place op; a write into it reaches no other tensor."""
    rg = rg and dtype == "float32"
    x = tg.tensor(np.arange(n) % 2, dtype=getattr(tg, dtype), requires_grad=rg)
    for y in (tg.diagflat(x, offset), tg.diag_embed(x, offset), tg.diag_embed(x[None], offset, 0, 2)):
        assert y._base is None
        with tg.no_grad():
            y.zero_()
        assert y.detach_() is y and not y.requires_grad and y.grad_fn is None
        assert not y.numpy().any()


@pytest.mark.parametrize("dims", [(0, -2, -1), (1, 0, 2), (-1, -1, 0), (0, 0, 1), (2, 2, 0)])
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_diag_embed_is_contiguous_with_pytorchs_node(dims, dtype):
    """PyTorch's diag_embed writes into new zeros: contiguous whatever dim1 and dim2 (tapegrad's was a permuted
    view, so ``view`` accepted or refused other shapes than PyTorch's), one DiagEmbedBackward0 node."""
    x = tg.arange(6, dtype=getattr(tg, dtype)).reshape(2, 3)
    if dtype == "float64":
        x.requires_grad_()
    y = tg.diag_embed(x, *dims)
    assert y.is_contiguous() and y.view(-1).numel() == y.numel()
    if dtype == "float64":
        assert y.grad_fn.name() == "DiagEmbedBackward0"
        assert_gradients(lambda t: tg.diag_embed(t, *dims), x.detach().numpy())
    torch = pytest.importorskip("torch")
    want = torch.diag_embed(torch.tensor(x.detach().numpy()), *dims)
    assert y.stride() == want.stride() and np.array_equal(y.detach().numpy(), want.numpy())


@given(p=st.sampled_from([0, 0.0]), need=st.sampled_from(["input", "other", "both", "same"]))
@settings(max_examples=10, deadline=None)
def test_dist_with_p_zero_has_no_gradient(p, need):
    """dist(p=0) counts the non-zero differences: its gradient is zero, given as no gradient (None) to both
    operands. PyTorch 2.13 gives input None and raises for other ("Expected a proper Tensor but got None":
    derivatives.yaml's other is -norm_backward(...), and norm_backward is undefined for p=0); tapegrad does not
    raise (a pytorch-bug entry of the differential test)."""
    a = tg.tensor([1.0, 2.0], requires_grad=need in ("input", "both", "same"))
    b = a if need == "same" else tg.tensor([0.5, 2.0], requires_grad=need in ("other", "both"))
    y = tg.dist(a, b, p)
    assert y.requires_grad and y.item() == (0.0 if need == "same" else 1.0)
    y.backward()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("op_name", ["addmv", "addmv_", "addr", "addmm", "baddbmm", "addbmm"])
@pytest.mark.parametrize("which", ["alpha", "beta"])
@pytest.mark.parametrize("dtype,big", [("float16", 1e6), ("float32", 1e39), ("float64", 1e39), ("int8", 300),
                                       ("float32", 3.0)])
def test_beta_and_alpha_out_of_range_raise_as_pytorch(op_name, which, dtype, big):
    """c10's overflow check of beta and alpha: in the tensors' dtype (float16's addmv and addr too), in float32
    for float16's addmm/baddbmm/addbmm (PyTorch's opmath), so float16 addmm(alpha=1e6) gives inf there."""
    def run(lib):
        dt = getattr(lib, dtype)
        m, v = lib.ones(2, 2, dtype=dt), lib.ones(2, dtype=dt)
        kw = {which: big}
        calls = {"addmv": lambda: v.addmv(m, v, **kw), "addmv_": lambda: v.clone().addmv_(m, v, **kw),
                 "addr": lambda: m.addr(v, v, **kw), "addmm": lambda: m.addmm(m, m, **kw),
                 "baddbmm": lambda: m[None].baddbmm(m[None], m[None], **kw),
                 "addbmm": lambda: m.addbmm(m[None], m[None], **kw)}
        try:
            return calls[op_name]().tolist()
        except RuntimeError:
            return "RuntimeError"

    got = run(tg)
    assert (got == "RuntimeError") == (big != 3.0 and (dtype != "float64") and not (
        dtype == "float16" and op_name in ("addmm", "baddbmm", "addbmm")))
    torch = pytest.importorskip("torch")
    assert got == run(torch)
_F16_EDGES = st.sampled_from([np.nan, np.inf, -np.inf, 65504.0, -65504.0, 60000.0, -3.5, 2.5, 0.0, 1000.0, -40000.0])


@given(values=st.lists(_F16_EDGES, min_size=1, max_size=12),
       dtype=st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "bool"]))
@example(values=[-3.0, -0.0, -1.0, -np.inf], dtype="int32")
@example(values=[-2.5, -3.0, 0.5, np.inf, 0.0, 0.0, np.inf, np.inf, -3.0, 1.0, 1.5, -1.0], dtype="int16")
def test_nansum_of_float16_to_an_integer_dtype_takes_inf_as_65504(values, dtype):
    # PyTorch 2.13's float16 nansum to an integer dtype takes NaN as 0 and +-inf as +-65504 (float16's largest
    # finite) before the cast, so -inf gives -65504 in int32 and 32 in int16 (wrapped); float32 inputs cast inf
    # as .to does (the integer minimum)
    x = np.array(values, np.float16)
    got = tg.nansum(tg.tensor(x), dtype=getattr(tg, dtype))
    with np.errstate(invalid="ignore", over="ignore"):
        want = tg.tensor(np.nan_to_num(x)).sum(dtype=getattr(tg, dtype))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert tg.tensor(x).nansum(0, dtype=getattr(tg, dtype)).numpy() == got.numpy()
    with pytest.raises(RuntimeError, match="dtype"):  # an integer sum of a tensor that requires grad, as PyTorch
        tg.nansum(tg.tensor(x, requires_grad=True), dtype=getattr(tg, dtype))
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(got.numpy(), torch.nansum(torch.from_numpy(x), dtype=getattr(torch, dtype)).numpy())


@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.sampled_from([0.0, -0.0, 1.0, -1.0, np.nan])), data=st.data())
@example(x=np.array([[-0.0, -2.5], [3.0, 3.0], [0.0, -1.0]]), data=None)
def test_aminmax_along_a_dim_returns_the_first_zero(x, data):
    # PyTorch's aminmax kernel walks each slice in order and replaces the min (max) only by a smaller (larger)
    # value, so a zero result is the slice's first zero (aten/src/ATen/native/cpu/TensorCompareKernel.cpp)
    d = 0 if data is None else data.draw(st.integers(0, x.ndim - 1))
    mn, mx = tg.aminmax(tg.tensor(x), dim=d)
    first = np.take_along_axis(x, np.argmax(x == 0, axis=d, keepdims=True), d).squeeze(d)
    for got, want in ((mn, np.min(x, axis=d)), (mx, np.max(x, axis=d))):
        np.testing.assert_array_equal(got.numpy(), want)
        zero = want == 0
        np.testing.assert_array_equal(np.signbit(got.numpy())[zero], np.signbit(first)[zero])
    torch = pytest.importorskip("torch")
    for got, want in zip((mn, mx), torch.aminmax(torch.from_numpy(x), dim=d)):
        np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))


def test_aminmax_along_a_dim_gradient_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([[-0.0, -2.5], [3.0, 3.0], [0.0, -1.0]])
    grads = []
    for m in (tg, torch):
        t = m.tensor(x, requires_grad=True)
        mn, mx = m.aminmax(t, dim=0, keepdim=True)
        (mn.sum() + 2 * mx.sum()).backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(*grads)
    assert_gradients(lambda t: sum(v.sum() for v in tg.aminmax(t, dim=1)), np.array([[0.0, 1.0], [2.0, -0.0]]))


@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.just(3)),
                    elements=st.sampled_from([3e38, -3e38, 6e4, 1e30, -2.5, 1.5, 0.1, 0.0, -0.0, 0.7])),
       same=st.booleans(), dtype=st.sampled_from(["float32", "float64"]))
@example(x=np.array([[3.0, 3e38, 1.0]], np.float32), same=True, dtype="float32")  # -inf, not inf - inf
@example(x=np.array([[0.1, 0.7, 1.3]], np.float32), same=True, dtype="float64")  # rounding errors, not 0
def test_cross_fuses_each_difference_into_a_multiply_add_as_pytorch(x, same, dtype):
    # PyTorch's CPU cross kernel computes r0 = a1 b2 - a2 b1 (aten/src/ATen/native/cpu/CrossKernel.cpp), which
    # the compiler fuses into fma(a1, b2, -(a2 b1)) for float32 and float64: the first product exact
    x = x.astype(dtype)
    y = x if same else x[::-1].copy()
    got = tg.cross(tg.tensor(x), tg.tensor(y), dim=1).numpy()
    np.testing.assert_array_equal(tg.linalg.cross(tg.tensor(x), tg.tensor(y)).numpy(), got)
    if dtype == "float32":  # a float32 product is exact in float64: the fma is one rounding of that difference
        a, b = x.astype(np.float64), y.astype(np.float64)
        with np.errstate(all="ignore"):
            want = np.stack([a[:, i] * b[:, j] - (x[:, j] * y[:, i]).astype(np.float64)
                             for i, j in ((1, 2), (2, 0), (0, 1))], 1).astype(np.float32)
        np.testing.assert_array_equal(got, want)
    torch = pytest.importorskip("torch")
    want = torch.linalg.cross(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.signbit(got)[~np.isnan(got)], np.signbit(want)[~np.isnan(want)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def _fms_reference(a, b, c, d):
    """a b - RN(c d) rounded once, from the exact value; a zero has the exact value's sign (or, where that is
    exactly 0, IEEE's sign of the sum: a b is exact then)."""
    from fractions import Fraction

    q = c * d
    exact = Fraction(float(a)) * Fraction(float(b)) - Fraction(float(q))
    if exact == 0:
        return a * b - q
    return float(exact)  # (a tiny negative rounds to -0.0)


@given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.just(3)),
                    elements=st.sampled_from([5e-324, -5e-324, 1e-320, 1e-300, -0.25, 0.5, 3.0, -2.5, 0.0, -0.0,
                                              1e150, -6e4])),
       same=st.booleans())
@example(x=np.array([[-0.25, 5e-324, 1e300 / 1e150]]), same=True)  # a1 a0 = -1.2e-324 underflows: -0.0
def test_float64_cross_zeros_have_the_sign_of_the_exact_difference(x, same):
    """PyTorch's fused r2 = fma(a0, b1, -(a1 b0)) rounds the exact difference once, so where it underflows to 0 the
    zero keeps its sign (-0.25 * 5e-324 - RN(5e-324 * -0.25) = -1.2e-324 - (-0.0): -0.0)."""
    y = x if same else x[::-1].copy()
    got = tg.cross(tg.tensor(x), tg.tensor(y), dim=1).numpy()
    with np.errstate(all="ignore"):
        want = np.array([[_fms_reference(u[i], v[j], u[j], v[i]) for i, j in ((1, 2), (2, 0), (0, 1))]
                         for u, v in zip(x, y)])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


_SUBNORMAL_EDGES = st.sampled_from([5e-324, -5e-324, 7e-310, -2e-300, 1e-160, -1e-160, -0.25, 0.5, -3.0, 0.0, -0.0])


@given(a=hnp.arrays(np.float64, (3,), elements=_SUBNORMAL_EDGES),
       b=hnp.arrays(np.float64, (3,), elements=_SUBNORMAL_EDGES))
@example(a=np.array([-0.25, 5e-324, -3.0]), b=np.array([-0.25, 5e-324, -3.0]))  # -0.25 * 5e-324 - (-0.0): -0.0
@example(a=np.array([-2e-300, 0.0, 0.25]), b=np.array([-5e-324, 7e-310, 1.5]))  # -1.4e-609 - (-0.0): -0.0
def test_cross_difference_below_the_subnormals_keeps_its_exact_sign(a, b):
    # fma(a1, b2, -(a2 b1)) is one rounding of the exact difference: where that is a nonzero below the smallest
    # subnormal it rounds to the zero of its sign (PyTorch's -0.0), not to IEEE's sum of the two rounded products
    got = tg.linalg.cross(tg.tensor(a), tg.tensor(b)).numpy()
    with np.errstate(all="ignore"):
        exact = [Fraction(a[i]) * Fraction(b[j]) - Fraction(float(a[j] * b[i])) for i, j in ((1, 2), (2, 0), (0, 1))]
    for k, e in enumerate(exact):
        if got[k] == 0 and e != 0:
            assert np.signbit(got[k]) == (e < 0), (k, e)
        elif e == 0:  # an exact zero: IEEE's sum of the (exact) product and -q
            assert got[k] == 0 and np.signbit(got[k]) == np.signbit(a[(k + 1) % 3] * b[(k + 2) % 3]
                                                                   - a[(k + 2) % 3] * b[(k + 1) % 3])


def test_cross_gradient_matches_pytorch_with_broadcasting():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(1, 3))
    assert_gradients(lambda u, v: tg.cross(u, v, dim=1), a, b)
    assert_gradients(lambda u, v: tg.linalg.cross(u, v), a, b)
    torch = pytest.importorskip("torch")
    grads = []
    for m in (tg, torch):
        u, v = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
        y = m.cross(u, v, dim=1)
        assert y.grad_fn.name() == "LinalgCrossBackward0"
        (y * m.tensor([[1.0, -2.0, 0.5]])).sum().backward()
        grads.append((u.grad.numpy(), v.grad.numpy()))
    for g, w in zip(*grads):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_logcumsumexp_backward_carries_a_nan_gradient():
    # the chain rule with a NaN incoming gradient gives NaN where it reaches (every earlier element of the slice);
    # PyTorch 2.13's log-space backward drops it (where(grad > 0, ...) is false for NaN: the
    # pytorch-logcumsumexp-drops-nan-grad difference, README)
    x = tg.tensor([-1.9, -1.9, 2.6], requires_grad=True)
    tg.logcumsumexp(x, 0).backward(tg.tensor([float("nan"), 1.0, 0.5]))
    assert np.isnan(x.grad.numpy()[0]) and np.isfinite(x.grad.numpy()[1:]).all()
    y = tg.tensor([-1.9, -1.9, 2.6], requires_grad=True)
    tg.logcumsumexp(y, 0).backward(tg.tensor([0.0, 1.0, float("nan")]))
    assert np.isnan(y.grad.numpy()).all()


# ---------------------------------------------------------------------- addcmul/addcdiv gradients of mixed dtypes
# derivatives.yaml's formulas evaluated on the operands as given, each step promoted as PyTorch's: a 0-d float32
# tensor1 beside float16 tensors multiplies the float16 gradient in float32 (its opmath scalar), an int64 tensor1
# over a 0-d float64 tensor2 divides in float64, a float16 tensor2 of a float64 result squares in float16
_MIXED_DTYPES = ["float16", "float32", "float64", "int64", "int8", "uint8", "bool"]
_MIXED_VALUES = {"f": [1.0, -0.5, 0.0, -0.0, 2.5, 0.050018310546875, 1e-7, 6e4, -3e38, math.inf],
                 "i": [-2 ** 63, -128, -7, 0, 2, 3, 127], "u": [0, 1, 7, 255], "b": [True, False]}


@st.composite
def _mixed_operand(draw, dtype):
    shape = draw(st.sampled_from([(), (1,), (2,)]))  # (a sum over at most two elements: no order to differ in)
    kind = np.dtype(dtype).kind
    vals = [v for v in _MIXED_VALUES[kind] if kind != "i" or np.iinfo(dtype).min <= v <= np.iinfo(dtype).max]
    with np.errstate(over="ignore"):
        return np.array(draw(st.lists(st.sampled_from(vals), min_size=math.prod(shape), max_size=math.prod(shape))),
                        dtype).reshape(shape)


@st.composite
def _mixed_call(draw):
    name = draw(st.sampled_from(["addcmul", "addcdiv"]))
    d0, d1, d2 = (draw(st.sampled_from(_MIXED_DTYPES)) for _ in range(3))
    arrays = [draw(_mixed_operand(d)) for d in (d0, d1, d2)]
    grads = [np.dtype(d).kind == "f" and draw(st.booleans()) for d in (d0, d1, d2)]
    return name, arrays, grads, draw(st.sampled_from([1, True, 0.5, -2, 0.1, 3])), draw(st.booleans())


def _mixed_run(m, name, arrays, grads, value, inplace, g):
    """The op on tensors of library ``m`` made from ``arrays`` (those in ``grads`` require grad), its result and
    the gradients for ``g``; an exception raised in the forward or in the backward is returned in their place."""
    ts = [m.tensor(a, requires_grad=r) for a, r in zip(arrays, grads)]
    try:
        if inplace:
            out = getattr(ts[0].clone(), name + "_")(ts[1], ts[2], value=value)
        else:
            out = getattr(m, name)(*ts, value=value)
    except (RuntimeError, NotImplementedError) as e:
        return "forward", type(e).__name__
    if not out.requires_grad:
        return out.detach().numpy(), None
    try:
        out.backward(m.tensor(g.astype(out.detach().numpy().dtype))[:out.numel()].reshape(out.shape))
    except RuntimeError as e:
        return out.detach().numpy(), str(e)
    return out.detach().numpy(), [None if t.grad is None else t.grad.numpy() for t in ts]


def _mixed_seed(*arrays):
    return [np.array(a[0], a[1]) for a in arrays]


@settings(max_examples=200, deadline=None)
@given(_mixed_call(), st.lists(st.sampled_from([1.0, -2.0, 0.0, 0.5, 0.75]), min_size=2, max_size=2))
# seed 1116971: a 0-d float32 tensor1 of -3e38 beside float16 tensors: the float16 gradient times -3e38 in
# float32 (0 * -3e38 = -0.0), not times its float16 -inf (nan)
@example(("addcmul", _mixed_seed(([1.0, 0.5], "float16"), (-3e38, "float32"), ([1.0, 0.5], "float16")),
          [True, True, False], True, False), [0.0, 0.0])
# seed 1092078: an int64 tensor1 of -2**63 over a 0-d float64 tensor2: value * tensor1 / (tensor2 * tensor2) in
# float64 (2.7e18 summed), not in float16 (inf)
@example(("addcdiv", _mixed_seed(([-2.5, -1.0], "float16"), ([-2 ** 63, 2], "int64"), (2.6, "float64")),
          [True, False, True], 1, False), [2.0, 0.25])
@example(("addcdiv", _mixed_seed(([0.0, 1.5], "float64"), ([0.050018310546875, 0.3046875], "float16"),
                                 ([0.050018310546875, 0.3046875], "float16")), [False, True, True], 1, False),
         [0.75, -2.0])  # a float16 tensor2 in a float64 result: its square in float16, as PyTorch's
@example(("addcmul", _mixed_seed(([1.0, 2.0], "float16"), (-3e38, "float32"), ([2.5, 1.0], "float32")),
          [True, True, True], 1, True), [0.5, 1.0])  # addcmul_ of float16: the gradient is float16, as PyTorch's
def test_addc_gradients_of_mixed_dtypes_as_pytorch(call, g):
    name, arrays, grads, value, inplace = call
    for a in arrays[1:]:  # not where PyTorch's integer product wraps (KNOWN pytorch-addcmul-int-value-wraps-grad)
        assume(not (a.dtype.kind in "iu" and value.__class__ is int and not all(
            np.iinfo(a.dtype).min <= int(v) * value <= np.iinfo(a.dtype).max for v in a.reshape(-1))))
    g = np.array(g)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        here = _mixed_run(tg, name, arrays, grads, value, inplace, g)
    # no numpy warning from the op or its rule (PyTorch's do not warn; the engine's sum of broadcast gradients,
    # inf + -inf, still may: engine.py's, or numpy's sum method it calls)
    assert not [w for w in caught if not w.filename.endswith(("engine.py", "_methods.py"))], [
        (str(w.message), w.filename) for w in caught]
    torch = pytest.importorskip("torch")
    there = _mixed_run(torch, name, arrays, grads, value, inplace, g)
    if isinstance(there[0], str):
        assert isinstance(here[0], str), (here, there)
        return
    assert not isinstance(here[1], str), here[1]
    np.testing.assert_array_equal(here[0], there[0])
    assert here[0].dtype == there[0].dtype
    if there[1] is None or isinstance(there[1], str):  # nothing requires grad, or PyTorch's backward fails (KNOWN
        assert here[1] is None or there[1] is not None  # pytorch-addcdiv-int-input-grad and the like)
        return
    for got, want in zip(here[1], there[1]):
        assert (got is None) == (want is None)
        if want is not None:
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            assert np.array_equal(np.signbit(got) & ~np.isnan(got), np.signbit(want) & ~np.isnan(want))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["addcmul", "addcdiv"]), st.lists(st.sampled_from(["float16", "float32", "float64"]),
                                                         min_size=3, max_size=3),
       st.lists(st.sampled_from([(), (1,), (2,)]), min_size=3, max_size=3),
       st.sampled_from([1, 0.5, -2]), st.data())
@example("addcmul", ["float16", "float32", "float16"], [(2,), (), (2,)], 1, None)
def test_addc_gradients_of_mixed_dtypes_against_float64_differences(name, dts, shapes, value, data):
    # moderate values, where each dtype's rounding is all that separates the gradient from float64's central
    # differences of input + value * tensor1 * tensor2 (or / tensor2) weighted by the incoming gradient
    def draw(shape):
        vals = st.sampled_from([1.5, -0.75, 2.0, 0.625, -1.25])
        return np.array(data.draw(st.lists(vals, min_size=math.prod(shape), max_size=math.prod(shape))) if data
                        else [1.5, -0.75][:math.prod(shape)] or 1.5).reshape(shape)
    arrays = [draw(s) for s in shapes]
    out_shape = np.broadcast_shapes(*shapes)
    w = np.linspace(-1.5, 2.0, math.prod(out_shape)).reshape(out_shape)
    ts = [tg.tensor(a, dtype=getattr(tg, d), requires_grad=True) for a, d in zip(arrays, dts)]
    out = getattr(tg, name)(*ts, value=value)
    out.backward(tg.tensor(w, dtype=out.dtype))

    def f(x, t1, t2):
        return np.sum(w * (x + value * t1 * t2 if name == "addcmul" else x + value * t1 / t2))

    exact = [a.astype(d).astype(np.float64) for a, d in zip(arrays, dts)]
    rtol = max(np.finfo(d).eps for d in dts) * 8
    for i, t in enumerate(ts):
        want = np.zeros(exact[i].shape)
        for k in np.ndindex(want.shape):
            up, down = [e.copy() for e in exact], [e.copy() for e in exact]
            up[i][k] += 1e-6
            down[i][k] -= 1e-6
            want[k] = (f(*up) - f(*down)) / 2e-6
        assert t.grad.dtype == t.dtype
        np.testing.assert_allclose(t.grad.numpy().astype(np.float64), want, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("make", [lambda m, x: x, lambda m, x: x.t(), lambda m, x: m.diagonal(x),
                                  lambda m, x: x[:, 1], lambda m, x: x[1:], lambda m, x: x.reshape(2, 3)[:, ::2]])
def test_ravel_is_contiguous_then_view_as_pytorch(make):
    # PyTorch's ravel is self.contiguous().view(-1) (TensorShape.cpp): a non-contiguous input (even a diagonal,
    # which a strided view could flatten) is copied, so a write into the result does not reach the input
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        x = m.arange(6.0).reshape(3, 2)
        y = make(m, x)
        r = m.ravel(y)
        r[0] = -1.0
        out.append((r.tolist(), x.tolist(), y.is_contiguous()))
    assert out[0] == out[1]
    a = tg.tensor([[-1.0, 1.5], [-3.0, 1.0], [3.0, -3.0]], requires_grad=True)
    r = tg.ravel(tg.diagonal(a))  # driver seed 153126: a copy, so writable under grad mode
    r[1] = tg.tensor(0.3)
    r.sum().backward()
    assert a.grad.tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


def _kron_layouts(m, seed):
    """Random small inputs of kron in PyTorch's layouts: permuted, sliced, of mixed dtypes (same seed, same
    tensors in both libraries)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        nd = int(rng.integers(0, 4))
        shape = tuple(int(v) for v in rng.integers(1, 4, nd))
        t = m.arange(float(np.prod(shape) * 2), dtype=m.float64).reshape(shape + (2,))[..., 0] if rng.integers(2) \
            else m.ones(shape, dtype=m.float64)
        if nd >= 2:
            t = t.permute(*[int(p) for p in rng.permutation(nd)])
        if rng.integers(3) == 0:
            t = t.to(getattr(m, str(rng.choice(["bool", "int64", "float32"]))))
        out.append(t)
    return out


@given(seed=st.integers(0, 2 ** 32 - 1))
@example(seed=150642)
def test_kron_refuses_the_layouts_pytorchs_final_view_refuses(seed):
    # PyTorch's kron multiplies views of the inputs with 1s interleaved and views the product, laid out by
    # TensorIterator in the order of the inputs' strides, as the result (LinearAlgebra.cpp, KronImpl): a
    # transposed input can give a layout that view refuses ("view size is not compatible")
    torch = pytest.importorskip("torch")
    out = []
    for m in (tg, torch):
        a, b = _kron_layouts(m, seed)
        try:
            out.append(m.kron(a, b).double().numpy())
        except RuntimeError as e:
            assert "view size is not compatible" in str(e)
            out.append("refused")
    if isinstance(out[0], str) or isinstance(out[1], str):
        assert out[0] == out[1]
    else:
        np.testing.assert_array_equal(out[0], out[1])


def test_kron_of_a_transposed_input_is_refused_as_pytorch():
    x = tg.tensor([[[3, 100, 4], [3, -100, 0], [-1, 0, 3], [1, -100, 1]]]).swapaxes(-1, 1)  # driver seed 150642
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.kron(tg.tensor([[False], [False]]))
    assert x.contiguous().kron(tg.tensor([[False], [False]])).shape == (1, 6, 4)
    y = tg.argwhere(tg.tensor([[-1.0, -1.0, -3.0], [0.5, -1.0, 3.0]]))  # nonzero's column-major result
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        tg.float_power(y, y).kron(tg.tensor([-100, 0, -7]))


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_repeat_interleave_of_an_int_is_a_view_of_a_clone_as_pytorch(dim):
    # PyTorch repeats by an int with unsqueeze, expand, clone and flatten (Repeat.cpp), so the result is a view
    # (detach_ refuses it: driver seed 109143); repeats given as a tensor go through index_select, a new tensor
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    r = x.repeat_interleave(2, dim=dim)
    with pytest.raises(RuntimeError, match="can't detach views"):
        r.detach_()
    assert not x.repeat_interleave(tg.tensor([2, 1]), dim=0 if dim is None else dim).detach_().requires_grad
    assert_gradients(lambda t: t.repeat_interleave(2, dim=dim), np.array([[1.0, 2.0], [3.0, 4.0]]))
    torch = pytest.importorskip("torch")
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).repeat_interleave(2, dim=dim)
    assert r.tolist() == want.tolist() and r.stride() == want.stride() and want._is_view()


# ---------------------------------------------------------------------- diff n=0: dim unchecked without prepend/append
@given(dim=st.integers(-6, 6), ndim=st.integers(1, 3))
@example(dim=2, ndim=2)  # driver seed 196044
def test_diff_of_order_zero_does_not_check_dim(dim, ndim):
    # PyTorch's diff_helper returns zeros_like(self).copy_(self) for n == 0 without wrapping dim; only
    # diff_check_compatible_shape wraps it, when prepend/append is given (aten/src/ATen/native/ReduceOps.cpp)
    x = np.arange(2.0 ** ndim).reshape((2,) * ndim) - 1.5
    t = tg.tensor(x, requires_grad=True)
    out = t.diff(n=0, dim=dim)
    np.testing.assert_array_equal(out.detach().numpy(), x)
    out.backward(tg.ones_like(out))
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))
    if not -ndim <= dim < ndim:
        with pytest.raises(IndexError, match="diff: dim"):
            t.diff(n=0, dim=dim, append=t)
        with pytest.raises(IndexError, match="diff: dim"):
            t.diff(n=1, dim=dim)


def test_diff_of_order_zero_dim_as_pytorch():
    torch = pytest.importorskip("torch")
    for dim in (-3, 2, 5):
        for kwargs in ({}, {"prepend": "x"}, {"append": "x"}):
            out = []
            for lib in (tg, torch):
                x = lib.ones(2, 4)
                try:
                    out.append(tuple(x.diff(n=0, dim=dim, **{k: x for k in kwargs}).shape))
                except IndexError:
                    out.append("IndexError")
            assert out[0] == out[1], (dim, kwargs)


# ---------------------------------------------------------------------- cummax/cummin results are contiguous
@given(x=arrays(min_dims=1, max_dims=3), data=st.data(), name=st.sampled_from(["cummax", "cummin"]),
       dtype=st.sampled_from([np.float32, np.int64, np.bool_]))
@example(x=np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]]), data=None, name="cummax",
         dtype=np.bool_)  # driver seed 207744
@example(x=np.arange(12.0).reshape(4, 3), data=None, name="cummin", dtype=np.int64)  # driver seed 175524
def test_cumulative_extremes_are_contiguous(x, data, name, dtype):
    # PyTorch's cummax/cummin allocate contiguous values and indices (aten/src/ATen/native/ReduceOps.cpp), so
    # view(-1) works on them along any dim
    d = -1 if data is None else data.draw(st.integers(-x.ndim, x.ndim - 1))
    values, indices = getattr(tg, name)(tg.tensor(x.astype(dtype)), d)
    for t in (values, indices):
        assert t.is_contiguous()
        assert t.view(-1).tolist() == t.reshape(-1).tolist()
    torch = pytest.importorskip("torch")
    want = getattr(torch, name)(torch.tensor(x.astype(dtype)), d)
    for got, w in ((values, want.values), (indices, want.indices)):  # strides of size-1 dims do not matter
        assert [s for s, n in zip(got.stride(), x.shape) if n > 1] == [s for s, n in zip(w.stride(), x.shape) if n > 1]
    assert values.tolist() == want.values.tolist() and indices.tolist() == want.indices.tolist()
_ZEROS = st.sampled_from([0.0, -0.0, 1.0, -1.0])


@given(b=st.integers(1, 3), m=st.integers(2, 3), n=st.integers(2, 3), beta=st.sampled_from([0.0, 1.0, -0.5]),
       dt=st.sampled_from([np.float32, np.float64]), data=st.data())
@example(b=1, m=2, n=2, beta=0.0, dt=np.float64, data=None)
@settings(max_examples=40)
def test_addbmm_inner_size_one_keeps_signs_of_zero(b, m, n, beta, dt, data):
    # PyTorch's addbmm is one addmm_ per batch (aten/src/ATen/native/LinearAlgebra.cpp, addbmm_impl_), each a
    # gemm that keeps the exact products' signs (-1 * 0 = -0.0) with inner size 1, summed in batch order
    if data is None:  # the driver's case: beta=0 ignores input's -inf and nan
        x = np.array([[-np.inf, 1.0], [np.nan, 0.0]])
        b1, b2 = np.array([[[-1.0], [-1.0]]]), np.array([[[-1.0, 0.0]]])
    else:
        x = np.array(data.draw(st.lists(_ZEROS, min_size=m * n, max_size=m * n)), dt).reshape(m, n)
        b1 = np.array(data.draw(st.lists(_ZEROS, min_size=b * m, max_size=b * m)), dt).reshape(b, m, 1)
        b2 = np.array(data.draw(st.lists(_ZEROS, min_size=b * n, max_size=b * n)), dt).reshape(b, 1, n) * 2
    got = tg.addbmm(tg.tensor(x), tg.tensor(b1), tg.tensor(b2), beta=beta).numpy()
    want = np.sum(b1 * b2, axis=0, initial=-0.0)  # -0.0 only where every term is -0.0
    if beta != 0:
        want = beta * x + want
    assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))
    torch = pytest.importorskip("torch")
    there = torch.addbmm(torch.tensor(x), torch.tensor(b1), torch.tensor(b2), beta=beta).numpy()
    assert np.array_equal(np.signbit(got), np.signbit(there))


@given(t1=st.sampled_from([1e-30, -2.5, 1e30, 3.0, 1e-20]), t2=st.sampled_from([1e-30, -2.5, 1e30, 0.5, 1e-20]),
       value=st.sampled_from([1, -2.0, 0.5]), dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(t1=1e-30, t2=1e-30, value=1, dtype="float32")
def test_addcdiv_gradients_are_pytorchs_formulas(t1, t2, value, dtype):
    # tools/autograd/derivatives.yaml: tensor1 gets grad * (value / tensor2), tensor2 gets
    # -grad * (value * tensor1 / (tensor2 * tensor2)): a tensor2 whose square underflows (1e-30 in float32) gives
    # inf there, where (tensor1 / tensor2) / tensor2 would be finite
    dt = getattr(np, dtype)
    with np.errstate(all="ignore"):
        a1, a2 = np.array([t1, -t1], dt), np.array([t2, t2], dt)
    x = tg.zeros(2, dtype=getattr(tg, dtype), requires_grad=True)
    u, w = tg.tensor(a1, requires_grad=True), tg.tensor(a2, requires_grad=True)
    g = np.array([1.5, -0.5], dt)
    tg.addcdiv(x, u, w, value=value).backward(tg.tensor(g))
    assert x.grad is not None and np.array_equal(x.grad.numpy(), g)
    if dtype != "float16":
        with np.errstate(all="ignore"):
            v = dt(value)
            np.testing.assert_array_equal(u.grad.numpy(), g * (v / a2))
            np.testing.assert_array_equal(w.grad.numpy(), -g * (v * a1 / (a2 * a2)))
    torch = pytest.importorskip("torch")
    tx = torch.zeros(2, dtype=getattr(torch, dtype), requires_grad=True)
    tu, tw = torch.tensor(a1, requires_grad=True), torch.tensor(a2, requires_grad=True)
    torch.addcdiv(tx, tu, tw, value=value).backward(torch.tensor(g))
    np.testing.assert_array_equal(u.grad.numpy(), tu.grad.numpy())
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())


def test_addcdiv_of_one_tensor_twice_sums_pytorchs_gradients():
    # the driver's program: addcdiv(x, t, t) at t = 1e-30 (float32): the tensor2 term -g t / (t t) is -inf, so
    # the gradient is -inf (PyTorch's), not the exact 0 of g / t - g / t
    t = tg.tensor([1e-30, -2.5], requires_grad=True)
    tg.addcdiv(tg.zeros(2), t, t).backward(tg.tensor([-1.0, 1.0]))
    assert np.isinf(t.grad.numpy()[0]) and t.grad.numpy()[1] == 0
    torch = pytest.importorskip("torch")
    tt = torch.tensor([1e-30, -2.5], requires_grad=True)
    torch.addcdiv(torch.zeros(2), tt, tt).backward(torch.tensor([-1.0, 1.0]))
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


# ---------------------------------------------------------------------- addr's order: alpha * vec1 first
_ADDR_EDGES = st.sampled_from([0.0, -0.0, 1.5, -2.5, 2.0, 1.3, 3e38, -3e38, 1e-40, np.inf, -np.inf, np.nan])
_ADDR_REPRO = (np.array([[1.3, -1.9, -1.9, 1.3], [0.3, -2.2, -0.45, 0.85], [1.1, 1.1, -0.7, 1.3]]),
               np.array([2.0, 0.0, -1.0]), np.array([1e-40, -2.5, 1.5, -3e38]))


@given(x=hnp.arrays(np.float64, (3, 4), elements=_ADDR_EDGES), v1=hnp.arrays(np.float64, (3,), elements=_ADDR_EDGES),
       v2=hnp.arrays(np.float64, (4,), elements=_ADDR_EDGES), beta=st.sampled_from([0.0, 1.0, 0.5, -3.0]),
       alpha=st.sampled_from([1.0, 0.5, 2.0, -0.25, 0.0]), dtype=st.sampled_from([np.float32, np.float64]))
@example(*_ADDR_REPRO, 1.0, 0.5, np.float32)  # 0.5 * 2.0 * -3e38: -3e38, not 2.0 * -3e38 = -inf
def test_addr_scales_vec1_before_the_product(x, v1, v2, beta, alpha, dtype):
    """As PyTorch's addr kernel (cpu/LinearAlgebraKernel.cpp): each element is ``beta * input + alpha * vec1[i] *
    vec2[j]`` computed left to right in the tensors' dtype (input ignored for beta=0), so alpha * vec1[i] is rounded
    before the product: an outer product past the float range that alpha brings back is finite."""
    x, v1, v2 = x.astype(dtype), v1.astype(dtype), v2.astype(dtype)
    with np.errstate(all="ignore"):
        want = np.multiply.outer(dtype(alpha) * v1, v2)
        want = want if beta == 0 else dtype(beta) * x + want
        got = tg.addr(tg.tensor(x), tg.tensor(v1), tg.tensor(v2), beta=beta, alpha=alpha).numpy()
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got)[~np.isnan(want)], np.signbit(want)[~np.isnan(want)])


@pytest.mark.parametrize("case", ["repro", "float64-input", "0-d-float64-input", "float16-alpha"])
def test_addr_order_and_dtype_as_pytorch(case):
    """addr computes in the promotion of all three tensors, input expanded first (a 0-d float64 input makes a
    float32 product float64: 6e38, not inf), with alpha rounded to that dtype and applied to vec1 first."""
    torch = pytest.importorskip("torch")
    x, v1, v2 = _ADDR_REPRO
    dtypes_, kw = {"repro": (("float32",) * 3, {"alpha": 0.5}),
                   "float64-input": (("float64", "float32", "float32"), {"alpha": 2.0}),
                   "0-d-float64-input": (("float64", "float32", "float32"), {"beta": 0.5}),
                   "float16-alpha": (("float16",) * 3, {"alpha": 0.1, "beta": 0.3})}[case]
    if case == "0-d-float64-input":
        x = x[0, 0]
    if case == "float16-alpha":
        x, v1, v2 = x * 1e3, np.array([3.0, 7.0, -11.0]), np.array([1.1, 3.3, -5.0, 9.0])
    got, want = ((lib.addr(*(lib.tensor(a, dtype=getattr(lib, d)) for a, d in zip((x, v1, v2), dtypes_)), **kw))
                 for lib in (tg, torch))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("lib_name", ["tapegrad", "torch"])
def test_kron_result_is_not_a_view(lib_name):
    # PyTorch's kron returns an _unsafe_view of its product: a new tensor, so detach_() takes it and a write into
    # it is an ordinary in-place op
    lib = pytest.importorskip(lib_name)
    x = lib.ones(2, 2, requires_grad=True)
    y = lib.kron(x, lib.arange(4.0).reshape(2, 2))
    y.mul_(2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 12.0))
    z = lib.kron(x, lib.ones(2, 2))
    z.detach_()
    assert not z.requires_grad


@given(rows=hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 3)),
                       elements=st.sampled_from([-2.0, 0.5, 3.0, -0.25, 1e29, -6e4, 1.5])),
       p=st.sampled_from([1.0, 2.0, 3.0, 1.5, math.inf]), maxnorm=st.sampled_from([1.0, 0.5, 10.0]))
@example(rows=np.array([[3e29], [-2.0]], np.float32), p=1.0, maxnorm=1.0)  # PyTorch 6.25e-9 for -2, float32's 0
def test_float32_renorm_gradient_is_computed_in_float64_as_pytorchs(rows, p, maxnorm):
    # PyTorch's renorm_backward runs in the CPU accumulation dtype (float64 for float32): factor g - factor / norm *
    # d norm cancels to rounding in float32 (x = -2, maxnorm 1: 1/(2 + 1e-7) - 2/(2 + 1e-7)^2 is 0 there)
    w = (np.arange(rows.size) - 2.0).reshape(rows.shape) / 4  # (exact in float32)
    grads = []
    for dt in (tg.float32, tg.float64):
        x = tg.tensor(rows, dtype=dt, requires_grad=True)
        (x.renorm(p, 0, maxnorm) * tg.tensor(w, dtype=dt)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1].astype(np.float32))


@pytest.mark.parametrize("k", range(-4, 5))
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (2, 0)])
def test_rot90_is_a_new_tensor_with_pytorchs_layout_and_node(k, dims):
    """PyTorch's rot90 flips into a new tensor (transposed in place for an odd k): one Rot90Backward0 node, strides
    (1, n) for an odd k, and never a view of its input, so detach_() of it is allowed (it refused a view here)."""
    x = tg.arange(24.0).reshape(2, 3, 4).requires_grad_()
    y = tg.rot90(x, k, dims)
    assert y.grad_fn.name() == "Rot90Backward0" and y._base is None
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    column = tg.tensor([[0.5], [-3.0], [2.5]])  # a flip along a size-1 dim is x's memory: rot90 must still copy
    rotated = column.rot90(k)
    rotated.fill_(7.0)
    assert column.tolist() == [[0.5], [-3.0], [2.5]]
    np.testing.assert_array_equal(y.detach().numpy(), np.rot90(x.detach().numpy(), k, dims))
    y.detach_()
    torch = pytest.importorskip("torch")
    t = torch.rot90(torch.arange(24.0).reshape(2, 3, 4), k, dims)
    assert y.stride() == t.stride()


def test_renorm_gradient_multiplies_x_by_the_gradient_in_the_dtype():
    # PyTorch's renorm_backward sums x g in float64 but multiplies it in the input's dtype first: a float32 row of
    # 3e38 times a gradient of 2 is inf there, and the scaled slice's gradient -inf and nan, as PyTorch's
    x = tg.tensor([[3e38, 0.0], [1.0, 1e-40]], dtype=tg.float32, requires_grad=True)
    tg.renorm(x, 2, 0, 1.0).backward(tg.tensor([[2.0, 0.25], [-1.5, 0.75]]))
    g = x.grad.numpy()
    assert g[0, 0] == -np.inf and np.isnan(g[0, 1]) and g[1].tolist() == [-1.5, 0.75]


@pytest.mark.parametrize("q", [math.nan, [0.5, math.nan], -0.1, 1.5])
def test_quantile_refuses_a_q_outside_zero_to_one_nan_included(q):
    """PyTorch checks q >= 0 and q <= 1, which a NaN q fails: "q values must be in the range [0, 1]"."""
    q = tg.tensor(q) if isinstance(q, list) else q
    for fn in (tg.quantile, tg.nanquantile):
        with pytest.raises(RuntimeError, match=r"must be in the range \[0, 1\]"):
            fn(tg.tensor([1.0, 2.0]), q)


@pytest.mark.parametrize("beta", [0, 1, -1, 0.5])
@pytest.mark.parametrize("alpha", [-1.0, 2.0, -0.5])
def test_addbmm_zero_signs_follow_pytorchs_per_batch_order(beta, alpha):
    # PyTorch adds alpha times each batch's product onto beta * input in batch order (one addmm_ per batch): with
    # alpha = -1 the products 9 and -9 give -9 + 9 = +0.0 there, where alpha * (9 - 9) is -0.0
    b1 = tg.tensor([[[-3.0, 1.0]], [[-3.0, 2.0]]])
    b2 = tg.tensor([[[-3.0, -1.0], [0.0, -2.5]], [[1.0, 0.0], [-3.0, 2.0]]])
    x = tg.tensor([[2.0, -3.0]])
    out = tg.addbmm(x, b1, b2, beta=beta, alpha=alpha).numpy()
    p = (b1 @ b2).numpy() * np.float32(alpha)
    seq = p[0] if beta == 0 else x.numpy() * np.float32(beta) + p[0]
    seq = seq + p[1]
    np.testing.assert_array_equal(out, seq)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(seq))
    torch = pytest.importorskip("torch")
    want = torch.addbmm(torch.tensor(x.numpy()), torch.tensor(b1.numpy()), torch.tensor(b2.numpy()), beta=beta,
                        alpha=alpha).numpy()
    np.testing.assert_array_equal(np.signbit(out), np.signbit(want))


def test_kron_gradient_uses_the_values_it_read_after_an_operand_is_written():
    """sum(kron(b, 2a)) with b = a * 1 is 2 sum(a)^2: its gradient at [1, -1] is [0, 0], also when b is written in
    place after kron (PyTorch 2.13 silently gives [24, 24]: KNOWN pytorch-kron-misses-inplace-write)."""
    a = tg.tensor([1.0, -1.0], requires_grad=True)
    b = a * 1
    k = tg.kron(b, a * 2)
    b.copy_(tg.tensor([5.0, 7.0]))
    k.sum().backward()
    assert a.grad.tolist() == [0.0, 0.0]
