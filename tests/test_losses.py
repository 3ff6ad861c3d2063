"""Loss functions of tapegrad.nn.functional: values against numpy formulas and hand computations, gradients
against float64 finite differences, dtypes, reductions, extreme inputs and bad inputs."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import gradgradcheck
from tapegrad.testing import arrays, assert_forward, assert_gradients, shapes

REDUCTIONS = ["mean", "sum", "none"]


def T(a, requires_grad=False, dtype=None):
    return tg.tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad)


def reduce_np(loss, reduction):
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def away_from(kinks):
    """Differences with no element within 1e-3 of a kink of the loss (finite differences need smoothness)."""

    def move(a):
        for k in kinks:
            a = np.where(np.abs(a - k) < 1e-3, k + 1e-2, a)
        return a

    return move


# ---------------------------------------------------------------------- regression losses
# name -> (call, elementwise numpy loss of d = input - target, kinks of d)
REGRESSION = {
    "mse_loss": (lambda x, t, r: F.mse_loss(x, t, reduction=r), lambda d: d * d, []),
    "l1_loss": (lambda x, t, r: F.l1_loss(x, t, reduction=r), np.abs, [0]),
    "smooth_l1_loss": (lambda x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.7),
                       lambda d: np.where(np.abs(d) < 0.7, 0.5 * d * d / 0.7, np.abs(d) - 0.35), [0, -0.7, 0.7]),
    "huber_loss": (lambda x, t, r: F.huber_loss(x, t, reduction=r, delta=0.7),
                   lambda d: np.where(np.abs(d) < 0.7, 0.5 * d * d, 0.7 * (np.abs(d) - 0.35)), [0, -0.7, 0.7]),
}


@st.composite
def regression_case(draw, kinks=()):
    shape = draw(shapes())
    x = draw(arrays(shape))
    d = draw(arrays(shape).map(away_from(kinks)))
    return x, x - d, draw(st.sampled_from(REDUCTIONS))


@pytest.mark.parametrize("name", sorted(REGRESSION))
@given(data=st.data())
def test_regression_loss_forward_and_gradient(name, data):
    call, elem, kinks = REGRESSION[name]
    x, t, red = data.draw(regression_case(kinks))
    ref = lambda a, b: reduce_np(elem(a - b), red)  # noqa: E731
    assert_forward(lambda a, b: call(a, b, red), ref, x, t)
    assert_forward(lambda a, b: call(a, b, red), ref, x, t, dtype=np.float32, rtol=1e-5, atol=1e-5)
    assert_gradients(lambda a, b: call(a, b, red), x, t)


@pytest.mark.parametrize("name", sorted(REGRESSION))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_loss_keeps_dtype(name, dtype):
    x, t = T([[0.5, -2.0], [3.0, 0.1]], True, dtype), T([[0.0, 1.0], [0.0, 0.0]], True, dtype)
    loss = REGRESSION[name][0](x, t, "mean")
    loss.backward()
    assert loss.dtype == x.grad.dtype == t.grad.dtype == dtype
    assert loss.shape == ()


def test_regression_losses_by_hand():
    x, t = T([1.0, -2.0, 0.5]), T([0.0, 0.0, 0.0])
    assert F.mse_loss(x, t).item() == pytest.approx((1 + 4 + 0.25) / 3)
    assert F.l1_loss(x, t, reduction="sum").item() == pytest.approx(3.5)
    assert F.smooth_l1_loss(x, t, reduction="sum").item() == pytest.approx(0.5 + 1.5 + 0.125)
    assert F.huber_loss(x, t, reduction="sum", delta=2.0).item() == pytest.approx(0.5 + 2 * (2 - 1) + 0.125)
    # beta = 0 is the l1 loss, as PyTorch
    assert F.smooth_l1_loss(x, t, beta=0.0).item() == pytest.approx(3.5 / 3)
    x = T([0.0, 1.0], requires_grad=True)
    F.l1_loss(x, T([0.0, 0.0]), reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1])  # the subgradient at 0 is 0


@pytest.mark.parametrize("name, by_weight", [("mse_loss", True), ("l1_loss", True), ("huber_loss", False)])
@pytest.mark.parametrize("red", REDUCTIONS)
@given(data=st.data())
def test_weighted_regression_losses(name, by_weight, red, data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape))
    t = x - data.draw(arrays(shape).map(away_from([0, -1, 1])))
    w = data.draw(arrays(shape, min_value=0.1, max_value=2.0))
    elem = {"mse_loss": lambda d: d * d, "l1_loss": np.abs,
            "huber_loss": lambda d: np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5)}[name]
    call = lambda a, b, c: getattr(F, name)(a, b, reduction=red, weight=c)  # noqa: E731

    def ref(a, b, c):
        loss = elem(a - b) * c
        if red == "mean":
            return loss.sum() / c.sum() if by_weight else loss.mean()
        return reduce_np(loss, red)

    assert_forward(call, ref, x, t, w)
    assert_gradients(call, x, t, w)
    with pytest.raises(ValueError, match=f"{name}: weight of shape"):
        call(T(x), T(t), T(np.ones(shape + (2,))))


def test_regression_broadcasting_warns_as_pytorch_and_reduces_gradients():
    x, t = T([[1.0], [2.0]], requires_grad=True), T([0.0, 1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match=r"mse_loss: using a target size \(3,\) .* input size \(2, 1\)"):
        loss = F.mse_loss(x, t)
    loss.backward()
    d = x.numpy(force=True) - t.numpy(force=True)
    assert loss.item() == pytest.approx((d * d).mean())
    np.testing.assert_allclose(x.grad.numpy(), (2 * d / 6).sum(1, keepdims=True))
    np.testing.assert_allclose(t.grad.numpy(), (-2 * d / 6).sum(0))


def test_regression_bad_inputs_and_legacy_flags():
    x = T([1.0, 2.0])
    with pytest.raises(ValueError, match=r"mse_loss: target of shape \(3,\) and input of shape \(2,\)"):
        F.mse_loss(x, T([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="l1_loss: reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(RuntimeError, match="smooth_l1_loss: beta must be non-negative, got -1"):  # as PyTorch
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(RuntimeError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(x, x, delta=0)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert F.mse_loss(x, T([0.0, 0.0]), size_average=False).item() == 5.0
    with pytest.warns(UserWarning):
        assert F.mse_loss(x, T([0.0, 0.0]), reduce=False).shape == (2,)


# ---------------------------------------------------------------------- binary_cross_entropy
@given(data=st.data())
def test_bce_forward_and_gradients(data):
    shape = data.draw(shapes())
    p = data.draw(arrays(shape, min_value=0.05, max_value=0.95))
    # targets inside (0, 1): finite differences must not step out of [0, 1], which PyTorch refuses
    t = data.draw(arrays(shape, min_value=0.01, max_value=0.99))
    w = data.draw(arrays(shape, min_value=0.1, max_value=2.0))
    red = data.draw(st.sampled_from(REDUCTIONS))

    def ref(p, t, w=None):
        loss = -(t * np.log(p) + (1 - t) * np.log(1 - p))
        return reduce_np(loss if w is None else loss * w, red)

    assert_forward(lambda a, b: F.binary_cross_entropy(a, b, reduction=red), ref, p, t)
    assert_forward(lambda a, b: F.binary_cross_entropy(a, b, reduction=red), ref, p, t, dtype=np.float32,
                   rtol=1e-5, atol=1e-5)
    weighted = lambda a, b: F.binary_cross_entropy(a, b, T(w), reduction=red)  # noqa: E731
    assert_forward(weighted, lambda a, b: ref(a, b, w), p, t)
    assert_gradients(weighted, p, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_saturated_probabilities_give_clamped_finite_values(dtype):
    p, t = T([0.0, 1.0, 0.0, 1.0], True, dtype), T([1.0, 0.0, 0.0, 1.0], True, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(p, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), [100, 100, 0, 0])  # log clamped to >= -100
    np.testing.assert_allclose(p.grad.numpy(), [-1e12, 1e12, 0, 0], rtol=1e-6)  # x (1 - x) clamped to 1e-12
    # d/dtarget is -logit(input), not clamped: infinite at 0 and 1, as PyTorch's
    np.testing.assert_array_equal(t.grad.numpy(), [np.inf, -np.inf, np.inf, -np.inf])
    assert loss.dtype == p.grad.dtype == dtype


def test_bce_bad_inputs():
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: .*between 0 and 1, got values in \[-0.5, 1.5\]"):
        F.binary_cross_entropy(T([-0.5, 1.5]), T([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target of shape \(2, 1\) .* input \(2,\)"):
        F.binary_cross_entropy(T([0.5, 0.5]), T([[0.0], [1.0]]))


# ---------------------------------------------------------------------- binary_cross_entropy_with_logits
def np_softplus(a):
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


@given(data=st.data())
def test_bce_with_logits_forward_and_gradients(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape, min_value=-6.0, max_value=6.0))
    t = data.draw(arrays(shape, min_value=0.0, max_value=1.0))
    w = data.draw(arrays(shape[-1:], min_value=0.1, max_value=2.0))
    pw = data.draw(st.none() | arrays(shape[-1:], min_value=0.1, max_value=4.0))
    red = data.draw(st.sampled_from(REDUCTIONS))

    def ref(x, t):
        s = 1 / (1 + np.exp(-x))
        k = 1 if pw is None else pw
        return reduce_np(-w * (k * t * np.log(s) + (1 - t) * np.log(1 - s)), red)

    def call(x, t):
        return F.binary_cross_entropy_with_logits(x, t, T(w), reduction=red, pos_weight=None if pw is None else T(pw))

    assert_forward(call, ref, x, t)
    assert_forward(call, ref, x, t, dtype=np.float32, rtol=1e-4, atol=1e-5)
    assert_gradients(call, x, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_extreme_logits(dtype):
    x, t = T([1e4, -1e4, 1e4, -1e4], True, dtype), T([1.0, 1.0, 0.0, 0.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        F.binary_cross_entropy_with_logits(x, t).backward()
    np.testing.assert_allclose(loss.detach().numpy(), [0, 1e4, 1e4, 0])
    np.testing.assert_allclose(x.grad.numpy(), np.array([0, -1, 1, 0]) / 4)  # (sigmoid(x) - t) / N
    assert loss.dtype == x.grad.dtype == dtype


@given(t=st.floats(float(np.float32(1e36)), float(np.float32(3e38)), width=32), neg=st.booleans(),
       pw=st.none() | st.floats(0, 1, width=32),  # (beyond, pos_weight * target itself overflows in both)
       w=st.none() | st.floats(0.25, 4, width=32), g=st.sampled_from([-2.0, 0.5, 4.0, -8.0]))
@example(t=float(np.float32(3e38)), neg=False, pw=0.05, w=None, g=-2.0)  # the formula times g overflows; / 6 not
@example(t=float(np.float32(3e38)), neg=True, pw=None, w=0.25, g=4.0)
def test_bce_with_logits_gradient_at_huge_targets_is_finite_where_it_is(t, neg, pw, w, g):
    """The input and target gradients are the float64 ones rounded: the mean's 1/n and the weight scale the upstream
    gradient before it meets the formula, so no intermediate overflows where the gradient itself is in range.
    (PyTorch 2.13 multiplies the formula by the gradient first, FunctionsManual.cpp: inf there; KNOWN
    pytorch-bce-logits-grad-scaled-late.)"""
    a = np.array([[0.36, 0.5, -3.0], [0.0, 1.5, 2.0]])
    b = np.array([[-t if neg else t, -1.0, 0.5], [1.0, 0.25, 0.0]])
    grads = {}
    for dt in (np.float32, np.float64):
        x, y = T(a, True, dt), T(b, True, dt)
        kw = dict(weight=None if w is None else T([w, 1.0, 0.5], dtype=dt),
                  pos_weight=None if pw is None else T([pw, 1.0, 2.0], dtype=dt))
        with np.errstate(over="ignore"):
            (F.binary_cross_entropy_with_logits(x, y, **kw) * g).backward()
        grads[dt] = (x.grad.numpy(), y.grad.numpy())
    for got, want in zip(grads[np.float32], grads[np.float64], strict=True):
        in_range = np.abs(want) < np.finfo(np.float32).max
        assert np.isfinite(got[in_range]).all()
        np.testing.assert_allclose(got[in_range], want[in_range], rtol=1e-5, atol=1e-6)


def test_bce_with_logits_pos_weight_by_hand():
    x, t = T([-3.0, 1.0, 0.5], requires_grad=True), T([1.0, 0.0, 0.3], requires_grad=True)
    pw = np.array([2.0, 3.0, 4.0])
    loss = F.binary_cross_entropy_with_logits(x, t, pos_weight=T(pw), reduction="sum")
    loss.backward()
    a, b = x.numpy(force=True), t.numpy(force=True)
    want = ((1 - b) * a + (1 + (pw - 1) * b) * np_softplus(-a)).sum()
    assert loss.item() == pytest.approx(want, rel=1e-6)
    s = 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(x.grad.numpy(), (1 - b) - (1 + (pw - 1) * b) * (1 - s), rtol=1e-5)
    np.testing.assert_allclose(t.grad.numpy(), -a + (pw - 1) * np_softplus(-a), rtol=1e-5)
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target of shape \(2,\) .*\(3,\)"):
        F.binary_cross_entropy_with_logits(x, T([1.0, 0.0]))


# ---------------------------------------------------------------------- kl_div
@pytest.mark.parametrize("red", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@given(data=st.data())
def test_kl_div_forward_and_gradients(red, log_target, data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape, min_value=-4.0, max_value=0.0))
    t = data.draw(arrays(shape, min_value=0.05, max_value=1.0))
    if log_target:
        t = np.log(t)

    def ref(x, t):
        loss = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
        return loss.sum() / x.shape[0] if red == "batchmean" else reduce_np(loss, red)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'mean' warns, as PyTorch
        call = lambda a, b: F.kl_div(a, b, reduction=red, log_target=log_target)  # noqa: E731
        assert_forward(call, ref, x, t)
        assert_forward(call, ref, x, t, dtype=np.float32, rtol=1e-5, atol=1e-5)
        assert_gradients(call, x, t)


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_div_keeps_dtype(log_target, dtype):
    x, t = T([[-1.0, -0.5]], True, dtype), T([[0.3, 0.7]], True, dtype)
    loss = F.kl_div(x, t, reduction="sum", log_target=log_target)
    loss.backward()
    assert loss.dtype == x.grad.dtype == t.grad.dtype == dtype


def test_kl_div_zero_targets_add_nothing_and_mean_warns():
    x = T([[-1.0, -2.0, -0.5]], requires_grad=True)
    t = T([[0.0, 0.5, 0.5]])
    loss = F.kl_div(x, t, reduction="batchmean")
    loss.backward()
    assert loss.item() == pytest.approx(0.5 * (math.log(0.5) + 2) + 0.5 * (math.log(0.5) + 0.5))
    np.testing.assert_allclose(x.grad.numpy(), [[0, -0.5, -0.5]])
    with pytest.warns(UserWarning, match="kl_div: reduction 'mean'"):
        F.kl_div(x, t)
    with pytest.raises(ValueError, match="kl_div: reduction must be one of .*'batchmean'.* got 'avg'"):
        F.kl_div(x, t, reduction="avg")
    with pytest.raises(ValueError, match=r"kl_div: target of shape \(2,\) and input of shape \(1, 3\)"):
        F.kl_div(x, T([0.5, 0.5]), reduction="sum")


@given(st.lists(st.tuples(st.sampled_from([-2.5, -1.0, 0.0, 0.5, 1.0, math.inf, math.nan]),
                          st.sampled_from([-3.0, 0.0, 0.5, -0.5]), st.sampled_from([0.0, 1.0, -0.5])),
                min_size=1, max_size=6))
@example([(-2.5, -2.5, 0.0), (-3.0, -3.0, 0.0), (0.0, 0.0, 0.0), (0.5, 0.5, 1.0)])
def test_kl_div_target_gradient_is_xlogys(entries):
    # the target's gradient through xlogy(target, target) is PyTorch's xlogy rule: xlogy(grad, target), so a zero
    # incoming gradient gives 0 even where log(target) is nan (a negative target), and 0 where target == 0
    t, x, g = (np.array(c, dtype=np.float64) for c in zip(*entries))
    tt = T(t, requires_grad=True)
    F.kl_div(T(x), tt, reduction="none").backward(T(g))
    ours = tt.grad.numpy()
    quiet = (g == 0) & (t != 0) & np.isfinite(t)
    np.testing.assert_array_equal(ours[quiet], 0.0)
    torch = pytest.importorskip("torch")
    tt = torch.tensor(t, requires_grad=True)
    torch.nn.functional.kl_div(torch.tensor(x), tt, reduction="none").backward(torch.tensor(g))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(tt.grad.numpy()))
    np.testing.assert_allclose(ours, tt.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------- cross_entropy and nll_loss
def np_log_softmax(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


def ce_by_hand(logits, target, weight=None, ignore_index=-100, ls=0.0, reduction="mean"):
    """Cross-entropy of (N, C) logits written sample by sample, straight from PyTorch's documentation."""
    N, C = logits.shape
    w = np.ones(C) if weight is None else weight
    losses, total_weight = np.zeros(N), 0.0
    for i in range(N):
        if target[i] == ignore_index:
            continue
        logp = np_log_softmax(logits[i], 0)
        y = target[i]
        losses[i] = (1 - ls) * -w[y] * logp[y] + (ls * -(w * logp).sum() / C if ls else 0)
        total_weight += w[y]
    if reduction == "none":
        return losses
    return losses.sum() / total_weight if reduction == "mean" else losses.sum()


@st.composite
def class_case(draw, extra_dims=True):
    N, C = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    extra = draw(shapes(min_dims=0, max_dims=1 if extra_dims else 0, max_side=3))
    x = draw(arrays((N, C) + extra))
    t = draw(arrays((N,) + extra, dtype=np.int64, min_value=0, max_value=C - 1))
    return x, t


@given(class_case(), st.sampled_from(REDUCTIONS))
def test_cross_entropy_class_indices_forward_and_gradient(case, red):
    x, t = case

    def ref(a):
        picked = -np.take_along_axis(np_log_softmax(a, 1), t[:, None], 1)[:, 0]
        return reduce_np(picked, red)

    call = lambda a: F.cross_entropy(a, T(t), reduction=red)  # noqa: E731
    assert_forward(call, ref, x)
    assert_forward(call, ref, x, dtype=np.float32, rtol=1e-5, atol=1e-5)
    assert_gradients(call, x)


@given(class_case(extra_dims=False), st.data())
def test_cross_entropy_weight_ignore_index_and_smoothing_match_the_formula(case, data):
    x, t = case
    C = x.shape[1]
    weight = data.draw(st.none() | arrays((C,), min_value=0.1, max_value=2.0))
    ls = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
    ignore = data.draw(st.sampled_from([-100, 0]))
    red = data.draw(st.sampled_from(REDUCTIONS))
    t = t.copy()
    if x.shape[0] > 1:
        t[0] = ignore
    assume(red != "mean" or np.any(t != ignore))  # all ignored: the mean is nan (tested below)

    def call(a):
        return F.cross_entropy(a, T(t), None if weight is None else T(weight), ignore_index=ignore, reduction=red,
                               label_smoothing=ls)

    assert_forward(call, lambda a: ce_by_hand(a, t, weight, ignore, ls, red), x)
    assert_gradients(call, x)


@given(class_case(extra_dims=False), st.sampled_from([np.inf, -np.inf, np.nan]), st.sampled_from(REDUCTIONS),
       st.sampled_from(["cross_entropy", "nll_loss"]))
@example(case=(np.array([[-1.9, 1.1, 1.3], [0.85, -0.7, -2.2]]), np.array([0, 2])), bad=-np.inf, red="mean",
         fn="cross_entropy")
def test_a_non_finite_weight_of_the_ignored_class_adds_nothing(case, bad, red, fn):
    """PyTorch skips an ignored sample: its class weight, even inf or NaN, is neither in the loss nor in the mean's
    total weight (not inf * 0 = NaN)."""
    x, t = case
    C = x.shape[1]
    assume(np.any(t != 0) or red != "mean")
    weight = np.linspace(0.5, 2.0, C)
    weight[0] = bad

    def call(a):
        if fn == "nll_loss":
            return F.nll_loss(F.log_softmax(a, 1), T(t), T(weight), ignore_index=0, reduction=red)
        return F.cross_entropy(a, T(t), T(weight), ignore_index=0, reduction=red)

    assert_forward(call, lambda a: ce_by_hand(a, t, weight, 0, 0.0, red), x)
    assert_gradients(call, x)


def test_a_non_finite_weight_of_the_ignored_class_matches_pytorch_with_label_smoothing():
    torch = pytest.importorskip("torch")
    for red in REDUCTIONS:
        for bad in (-math.inf, math.nan):
            got = []
            for lib in (tg, torch):
                x = lib.tensor([[-1.9, 1.1, 1.3], [0.85, -0.7, -2.2]], dtype=lib.float64, requires_grad=True)
                w = lib.tensor([bad, -2.5, -0.25], dtype=lib.float64)
                with np.errstate(invalid="ignore"):
                    y = lib.nn.functional.cross_entropy(x, lib.tensor([0, 2]), w, ignore_index=0, reduction=red,
                                                        label_smoothing=0.2)
                    y.sum().backward()
                got.append((y.detach().numpy(), x.grad.numpy()))
            for mine, theirs in zip(got[0], got[1]):
                np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_cross_entropy_by_hand_numbers():
    x = T([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    assert F.cross_entropy(x, T([2, 0])).item() == pytest.approx(((lse - 3) + math.log(3)) / 2)
    # weights: the mean divides by the total weight of the targets
    w = T([1.0, 2.0, 4.0])
    assert F.cross_entropy(x, T([2, 0]), w).item() == pytest.approx((4 * (lse - 3) + 1 * math.log(3)) / 5)
    # ignore_index drops the sample from the sum and from the divisor
    assert F.cross_entropy(x, T([2, -100])).item() == pytest.approx(lse - 3)
    assert F.cross_entropy(x, T([1, 0]), ignore_index=1).item() == pytest.approx(math.log(3))
    # label smoothing 0.3 mixes in the uniform distribution: (1 - 0.3) * nll + 0.3 * mean over classes of -logp
    smooth = ((lse - 1) + (lse - 2) + (lse - 3)) / 3
    assert F.cross_entropy(x[:1], T([2]), label_smoothing=0.3).item() == pytest.approx(0.7 * (lse - 3) + 0.3 * smooth)
    # every target ignored: 0 / 0, as PyTorch
    assert math.isnan(F.cross_entropy(x, T([-100, -100])).item())


@given(class_case(extra_dims=False))
def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(case):
    x, t = case
    xt = T(x, requires_grad=True)
    F.cross_entropy(xt, T(t)).backward()
    N, C = x.shape
    s = np.exp(np_log_softmax(x, 1))
    np.testing.assert_allclose(xt.grad.numpy(), (s - np.eye(C)[t]) / N, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_extreme_logits(dtype):
    x = T([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], True, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, T([0, 0]))
        loss.backward()
        per = F.cross_entropy(x, T([0, 0]), reduction="none")
    np.testing.assert_allclose(per.detach().numpy(), [0, 2e4])
    assert loss.item() == pytest.approx(1e4)
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-7)
    assert loss.dtype == x.grad.dtype == dtype
    xs = T([[1e4, -1e4]], True, dtype)
    F.cross_entropy(xs, T([[0.25, 0.75]]), label_smoothing=0.2).backward()
    assert np.all(np.isfinite(xs.grad.numpy()))


@given(data=st.data())
def test_cross_entropy_probability_targets(data):
    N, C = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    extra = data.draw(st.sampled_from([(), (2,)]))
    shape = (N, C) + extra
    x = data.draw(arrays(shape))
    p = data.draw(arrays(shape, min_value=0.0, max_value=1.0))
    weight = data.draw(st.none() | arrays((C,), min_value=0.1, max_value=2.0))
    ls = data.draw(st.sampled_from([0.0, 0.2]))
    red = data.draw(st.sampled_from(REDUCTIONS))
    wc = 1 if weight is None else weight.reshape((C,) + (1,) * len(extra))

    def ref(a, q):
        q = q * (1 - ls) + ls / C
        loss = -(np_log_softmax(a, 1) * q * wc).sum(1)
        return reduce_np(loss, red)  # 'mean' divides by N * d1 ..., not by the weights

    def call(a, q):
        return F.cross_entropy(a, q, None if weight is None else T(weight), reduction=red, label_smoothing=ls)

    assert_forward(call, ref, x, p)
    assert_gradients(call, x, p)


def test_cross_entropy_smoothing_equals_a_smoothed_probability_target():
    x = T(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    t = np.array([0, 4, 2, 2])
    a = F.cross_entropy(x, T(t), label_smoothing=0.25)
    b = F.cross_entropy(x, T(np.eye(5)[t] * 0.75 + 0.05))
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    (ga,) = tg.autograd.grad(a, x)
    (gb,) = tg.autograd.grad(b, x)
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-12)


def test_cross_entropy_unbatched_and_k_dimensional():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 2))
    t = np.random.default_rng(1).integers(0, 3, (2, 4, 2))
    moved = np.moveaxis(x, 1, -1).reshape(-1, 3)
    want = ce_by_hand(moved, t.reshape(-1), reduction="none").reshape(2, 4, 2)
    np.testing.assert_allclose(F.cross_entropy(T(x), T(t), reduction="none").numpy(), want, rtol=1e-12)
    got = F.cross_entropy(T(x[0, :, 0, 0]), T(t[0, 0, 0]))
    assert got.shape == () and got.item() == pytest.approx(want[0, 0, 0])
    assert_gradients(lambda a: F.cross_entropy(a, T(t[0, 0, 0]), label_smoothing=0.1), x[0, :, 0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_and_nll_keep_dtype(dtype):
    x = T(np.zeros((2, 3)), True, dtype)
    for loss in (F.cross_entropy(x, T([0, 2])), F.nll_loss(x, T([0, 2])),
                 F.cross_entropy(x, T([0, 2]), T([1.0, 2.0, 3.0], dtype=dtype), label_smoothing=0.1),
                 F.cross_entropy(x, T(np.full((2, 3), 1 / 3), dtype=dtype))):
        x.grad = None
        loss.backward()
        assert loss.dtype == x.grad.dtype == dtype


def test_cross_entropy_bad_inputs():
    x = T(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"cross_entropy: target of shape \(3,\) .*input of shape \(2, 5\).*\(2,\)"):
        F.cross_entropy(x, T([1, 2, 3]))
    with pytest.raises(IndexError, match=r"cross_entropy: target class 5 is out of bounds .*\(2, 5\) with 5 classes"):
        F.cross_entropy(x, T([1, 5]))
    with pytest.raises(IndexError, match="cross_entropy: target class -1"):
        F.cross_entropy(x, T([1, -1]))
    # PyTorch reads a target of another shape as class indices: a float one is refused for its dtype
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected an integer class-index target, got dtype float64"):
        F.cross_entropy(x, T(np.zeros((2, 4))))
    with pytest.raises(ValueError, match="cross_entropy: input must have at least 1 dimension"):
        F.cross_entropy(T(1.0), T(0.0))
    # equal shapes mean class probabilities (PyTorch's rule), which must be floating point
    with pytest.raises(RuntimeError, match="cross_entropy: expected a floating-point target for class prob"):
        F.cross_entropy(T(1.0), T(0))
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"):
        F.cross_entropy(x, T([0, 1]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match=r"cross_entropy: weight of shape \(3,\) .*\(5,\)"):
        F.cross_entropy(x, T([0, 1]), T([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="cross_entropy: reduction must be one of"):
        F.cross_entropy(x, T([0, 1]), reduction="mean_all")


def test_class_target_bounds_are_checked_by_one_reduction():
    """Both bounds of a class-index target in one reduction: viewed as uint64, a negative int64 is beyond any C."""
    x = T(np.zeros((3, 5)))
    for bad in ([0, 1, -2 ** 63], [0, 2 ** 63 - 1, 1], [4, -100, 5], [-1, -1, -1]):
        with pytest.raises(IndexError, match="cross_entropy: target class"):
            F.cross_entropy(x, T(bad))
    with pytest.raises(IndexError, match="target class -3"):
        F.cross_entropy(x, T(np.array([0, 9, 1, 9, -3, 9])[::2]))  # not contiguous: [0, 1, -3]
    assert F.cross_entropy(x, T(np.array([0, 4, 2], np.uint8))).item() == pytest.approx(np.log(5))
    with pytest.raises(IndexError, match="target class 5"):
        F.cross_entropy(x, T(np.array([0, 5, 2], np.uint8)))
    assert F.cross_entropy(x, T([0, -100, 4])).item() == pytest.approx(np.log(5))  # ignored, not out of range


@given(class_case(), st.sampled_from(REDUCTIONS), st.data())
def test_nll_loss_forward_and_gradient(case, red, data):
    x, t = case
    C = x.shape[1]
    weight = data.draw(st.none() | arrays((C,), min_value=0.1, max_value=2.0))
    t = t.copy()
    t.reshape(-1)[0] = -100
    w = np.ones(C) if weight is None else weight

    def ref(a):
        keep = t != -100
        tc = np.where(keep, t, 0)
        wi = w[tc] * keep
        loss = -np.take_along_axis(a, tc[:, None], 1)[:, 0] * wi
        return loss.sum() / wi.sum() if red == "mean" else reduce_np(loss, red)

    call = lambda a: F.nll_loss(a, T(t), None if weight is None else T(weight), reduction=red)  # noqa: E731
    with np.errstate(invalid="ignore"):
        assert_forward(call, ref, x)
    if red != "mean" or np.any(t != -100):
        assert_gradients(call, x)


def test_nll_loss_bad_inputs():
    x = T(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="nll_loss: expected an integer .*class-index target, got dtype float"):
        F.nll_loss(x, T([0.0, 1.0]))
    with pytest.raises(IndexError, match="nll_loss: target class 3 is out of bounds"):
        F.nll_loss(x, T([0, 3]))
    with pytest.raises(ValueError, match=r"nll_loss: target of shape \(2, 1\) .*\(2, 3\)"):
        F.nll_loss(x, T([[0], [1]]))


# ---------------------------------------------------------------------- empty inputs (issue 9)
# name -> call(input, reduction) on an input with some size-0 dimension
EMPTY_LOSSES = {
    "mse_loss": lambda F, lib, x, r: F.mse_loss(x, x.detach() + 1, reduction=r),
    "l1_loss": lambda F, lib, x, r: F.l1_loss(x, x.detach() + 1, reduction=r),
    "smooth_l1_loss": lambda F, lib, x, r: F.smooth_l1_loss(x, x.detach() + 1, reduction=r),
    "huber_loss": lambda F, lib, x, r: F.huber_loss(x, x.detach() + 1, reduction=r),
    "binary_cross_entropy": lambda F, lib, x, r: F.binary_cross_entropy(x.sigmoid(), x.detach().sigmoid(),
                                                                        reduction=r),
    "binary_cross_entropy_with_logits": lambda F, lib, x, r: F.binary_cross_entropy_with_logits(x, x.detach(),
                                                                                                reduction=r),
    "kl_div": lambda F, lib, x, r: F.kl_div(x, x.detach().exp(), reduction=r),
    "cross_entropy_probs": lambda F, lib, x, r: F.cross_entropy(x, x.detach().softmax(-1), reduction=r),
    "cross_entropy": lambda F, lib, x, r: F.cross_entropy(x.reshape(-1, x.shape[-1]), lib.zeros(
        math.prod(x.shape[:-1]), dtype=lib.int64), reduction=r),
    "nll_loss": lambda F, lib, x, r: F.nll_loss(x.reshape(-1, x.shape[-1]), lib.zeros(
        math.prod(x.shape[:-1]), dtype=lib.int64), reduction=r),
}


def _empty_result(name, shape, red):
    """PyTorch's value of a loss of an empty input: the mean of nothing is nan, the sum 0, 'none' is empty."""
    if red == "mean":
        return np.nan
    if red == "sum":
        return 0.0
    if name in ("cross_entropy", "nll_loss"):
        return np.zeros(math.prod(shape[:-1]))
    if name == "cross_entropy_probs":  # the class dimension (1, or 0 for a 1-D input) is summed away
        return np.zeros(shape[:1] + shape[2:] if len(shape) > 1 else ())
    return np.zeros(shape)


def _with_a_zero(shape):
    return st.integers(0, len(shape) - 1).map(lambda i: shape[:i] + (0,) + shape[i + 1:])


@pytest.mark.parametrize("name", sorted(EMPTY_LOSSES))
@given(shape=shapes(min_dims=1, max_dims=3, max_side=3).flatmap(_with_a_zero), red=st.sampled_from(REDUCTIONS))
@example(shape=(0,), red="mean")
@example(shape=(0, 3), red="sum")
def test_loss_reductions_of_empty_inputs_follow_pytorch(name, shape, red):
    if name.startswith(("cross", "nll")) and shape[-1] == 0:
        shape = shape + (3,)  # a class dimension
    x = T(np.zeros(shape), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning
        loss = EMPTY_LOSSES[name](F, tg, x, red)
    want = _empty_result(name, shape, red)
    np.testing.assert_array_equal(loss.detach().numpy(), want)
    loss.sum().backward()  # and the gradient of nothing is empty, without a warning or an error
    assert x.grad.shape == shape


@pytest.mark.parametrize("name", sorted(EMPTY_LOSSES))
@pytest.mark.parametrize("red", REDUCTIONS)
def test_loss_reductions_of_empty_inputs_match_pytorch(name, red):
    torch = pytest.importorskip("torch")
    for shape in ((0, 3), (2, 0, 3)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kl_div's 'mean' warning
            got = EMPTY_LOSSES[name](F, tg, T(np.zeros(shape)), red).numpy()
            want = EMPTY_LOSSES[name](torch.nn.functional, torch, torch.zeros(shape, dtype=torch.float64), red)
        np.testing.assert_array_equal(got, want.numpy())


# ---------------------------------------------------------------------- target dtypes (issue 9)
# name -> call(input, target) for a float32 (2, 3) input; targets are drawn in each dtype
TARGET_LOSSES = {
    "nll_loss": lambda F, x, t: F.nll_loss(x, t.reshape(2, 3)[:, 0]),
    "cross_entropy": lambda F, x, t: F.cross_entropy(x, t.reshape(2, 3)[:, 0]),
    "cross_entropy_probs": lambda F, x, t: F.cross_entropy(x, t),
    "mse_loss": lambda F, x, t: F.mse_loss(x, t), "l1_loss": lambda F, x, t: F.l1_loss(x, t),
    "smooth_l1_loss": lambda F, x, t: F.smooth_l1_loss(x, t), "huber_loss": lambda F, x, t: F.huber_loss(x, t),
    "binary_cross_entropy": lambda F, x, t: F.binary_cross_entropy(x.sigmoid(), t),
    "binary_cross_entropy_with_logits": lambda F, x, t: F.binary_cross_entropy_with_logits(x, t),
    "kl_div": lambda F, x, t: F.kl_div(x, t, reduction="sum"),
}
TARGET_DTYPES = ["int64", "int32", "int16", "int8", "uint8", "bool", "float32", "float64"]
# what PyTorch 2.13 does with each target dtype (None: computes; else the error class), float32 input
TARGET_RULES = {
    "nll_loss": {d: (None if d in ("int64", "uint8") else RuntimeError) for d in TARGET_DTYPES},
    "cross_entropy": {d: (None if d in ("int64", "uint8") else RuntimeError) for d in TARGET_DTYPES},
    "cross_entropy_probs": {d: (None if d.startswith("float") else RuntimeError) for d in TARGET_DTYPES},
    "mse_loss": dict.fromkeys(TARGET_DTYPES),
    "l1_loss": {d: (RuntimeError if d == "bool" else None) for d in TARGET_DTYPES},
    "smooth_l1_loss": dict.fromkeys(TARGET_DTYPES), "huber_loss": dict.fromkeys(TARGET_DTYPES),
    "binary_cross_entropy": {d: (None if d == "float32" else RuntimeError) for d in TARGET_DTYPES},
    "binary_cross_entropy_with_logits": {d: (None if d.startswith("float") else RuntimeError)
                                         for d in TARGET_DTYPES},
    "kl_div": {d: (None if d.startswith("float") else RuntimeError) for d in TARGET_DTYPES},
}


def _target(lib, dtype):
    a = np.array([[0, 1, 1], [1, 0, 0]]).astype(dtype)
    return lib.tensor(a)


@pytest.mark.parametrize("name", sorted(TARGET_LOSSES))
@pytest.mark.parametrize("dtype", TARGET_DTYPES)
def test_loss_target_dtypes_follow_pytorch(name, dtype):
    x = T(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True, dtype=np.float32)
    error = TARGET_RULES[name][dtype]
    if error is not None:
        pattern = {"l1_loss": "sub", "binary_cross_entropy": "binary"}.get(name, name.replace("_probs", ""))
        with pytest.raises(error, match=pattern):  # l1_loss: the subtraction it is composed of refuses bool
            TARGET_LOSSES[name](F, x, _target(tg, dtype))
        return
    loss = TARGET_LOSSES[name](F, x, _target(tg, dtype))
    loss.backward()
    # the loss takes the promoted dtype (huber_loss: the input's), the input's gradient the input's
    want = np.float64 if dtype == "float64" and name not in ("huber_loss", "nll_loss", "cross_entropy") \
        else np.float32
    assert loss.dtype == want and x.grad.dtype == np.float32


@pytest.mark.parametrize("name", sorted(TARGET_LOSSES))
def test_loss_target_dtypes_match_pytorch(name):
    torch = pytest.importorskip("torch")
    for dtype in TARGET_DTYPES:
        outcome = []
        for lib in (tg, torch):
            x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32))
            try:
                loss = TARGET_LOSSES[name](lib.nn.functional, x, _target(lib, dtype))
                outcome.append((str(loss.dtype).split(".")[-1], round(loss.item(), 5)))
            except (RuntimeError, ValueError, TypeError) as e:
                outcome.append(type(e).__mro__[-3].__name__ if isinstance(e, NotImplementedError) else
                               type(e).__name__)
        assert outcome[0] == outcome[1], (name, dtype, outcome)


@pytest.mark.parametrize("loss", [F.nll_loss, F.cross_entropy])
@given(data=st.data())
@example(data=None)
def test_class_losses_skip_non_finite_inputs_at_ignored_targets(loss, data):
    """An ignored target contributes nothing, even where its input is inf or nan (PyTorch skips it; 0 * nan would
    poison the sum)."""
    if data is None:
        x, t = np.array([[np.inf, np.nan], [-3.0, 1.0]]), np.array([0, 1])
    else:
        n, c = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 4))
        x = data.draw(arrays((n, c)))
        t = data.draw(arrays((n,), dtype=np.int64, min_value=0, max_value=c - 1))
        bad = data.draw(st.lists(st.sampled_from([np.inf, -np.inf, np.nan]), min_size=c, max_size=c))
        x[0] = bad
    t[0] = 0  # the first sample is ignored
    kept = slice(1, None)
    for red in REDUCTIONS:
        got = loss(T(x), T(t), ignore_index=0, reduction=red).numpy()
        t2 = t.copy()
        t2[0] = -100
        x_ref = x.copy()
        x_ref[0] = 0.0  # the ignored sample, made finite
        want_all = loss(T(x_ref), T(t2), reduction=red).numpy()
        assert np.isfinite(got).all() or red == "mean" and (t[kept] == 0).all()
        if red == "none":
            np.testing.assert_allclose(got[kept] * (t[kept] != 0), want_all[kept] * (t[kept] != 0), rtol=1e-12)
            assert got[0] == 0 and not np.signbit(got[0])
    if loss is F.cross_entropy:
        torch = pytest.importorskip("torch")
        for red in REDUCTIONS:
            want = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), ignore_index=0,
                                                     reduction=red).numpy()
            np.testing.assert_allclose(loss(T(x), T(t), ignore_index=0, reduction=red).numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy", "cross_entropy_smoothed"])
@given(n=st.integers(1, 3), c=st.integers(1, 4), weighted=st.booleans(), red=st.sampled_from(REDUCTIONS))
@example(n=1, c=2, weighted=False, red="mean")
def test_all_ignored_targets_give_a_nan_mean_and_a_zero_gradient(loss, n, c, weighted, red):
    """Every target ignored: the mean is 0/0 = nan, the sum 0, and the gradient 0 (PyTorch skips ignored samples
    in the backward instead of multiplying by 1/0)."""
    fn = {"nll_loss": F.nll_loss, "cross_entropy": F.cross_entropy,
          "cross_entropy_smoothed": lambda *a, **k: F.cross_entropy(*a, label_smoothing=0.2, **k)}[loss]
    x = T(np.linspace(-1, 1, n * c).reshape(n, c), requires_grad=True)
    w = T(np.linspace(0.5, 2, c)) if weighted else None
    out = fn(x, T(np.full(n, -100)), w, reduction=red)
    if red == "mean":
        assert math.isnan(out.item())
    else:
        np.testing.assert_array_equal(out.detach().numpy(), 0)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)
    assert not np.signbit(x.grad.numpy()).any()


def test_all_ignored_targets_match_pytorch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        x = lib.tensor([[1.3, 0.85], [0.2, -1.0]], dtype=lib.float64, requires_grad=True)
        F_, ignored = lib.nn.functional, lib.tensor([-100, -100])
        total = (F_.nll_loss(x, ignored) + F_.cross_entropy(x, ignored, label_smoothing=0.1)
                 + F_.nll_loss(x[0], lib.tensor(-100)))
        total.backward()
        results.append((math.isnan(total.item()), x.grad.tolist()))
    assert results[0] == results[1]


@given(n=st.integers(1, 3), c=st.integers(1, 4), red=st.sampled_from(REDUCTIONS), g=st.sampled_from([np.inf, -np.inf]),
       ignore=st.booleans(), weighted=st.booleans(), spatial=st.booleans(), data=st.data())
@example(n=1, c=2, red="mean", g=np.inf, ignore=False, weighted=False, spatial=True, data=None)
def test_nll_loss_gradient_with_an_infinite_upstream_gradient_is_a_scatter(n, c, red, g, ignore, weighted, spatial,
                                                                          data):
    """PyTorch's nll_loss backward writes -w g (/ total weight) at each kept target and leaves zeros elsewhere:
    an infinite incoming gradient (log10 of a loss of -0.0, say) gives +-inf there and 0 at the other classes and
    at ignored samples, never inf * 0 = NaN."""
    shape = (n, c, 2) if spatial else (n, c)
    if data is None:
        t = np.zeros((n, 2) if spatial else (n,), dtype=np.int64)
    else:
        t = data.draw(arrays((n, 2) if spatial else (n,), dtype=np.int64, min_value=0, max_value=c - 1))
    if ignore:
        t.reshape(-1)[0] = -1
    w = np.linspace(0.5, 2, c) if weighted else None
    x = T(np.linspace(-1, 1, math.prod(shape)).reshape(shape), requires_grad=True)
    out = F.nll_loss(x, T(t), None if w is None else T(w), ignore_index=-1, reduction=red)
    with np.errstate(invalid="ignore"):
        (out * g).sum().backward()
    onehot = np.zeros(shape, dtype=bool)
    for idx in np.ndindex(*t.shape):
        if t[idx] != -1:
            onehot[(idx[0], t[idx]) + idx[1:]] = True
    grad = x.grad.numpy()
    np.testing.assert_array_equal(grad[~onehot], 0)
    kept = (t != -1).sum() if w is None else w[t[t != -1]].sum()
    assert np.isinf(grad[onehot]).all() or red == "mean" and kept == 0
    if onehot.any() and kept:
        assert (np.sign(grad[onehot]) == -np.sign(g)).all()


def test_class_losses_with_an_infinite_upstream_gradient_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [lambda F_, x, m: F_.nll_loss(x, m.tensor([[0]]), ignore_index=-1),
             lambda F_, x, m: F_.nll_loss(x[0, :, 0], m.tensor(1)),
             lambda F_, x, m: F_.nll_loss(x[..., 0], m.tensor([1]), reduction="none"),
             lambda F_, x, m: F_.nll_loss(x[..., 0], m.tensor([1]), weight=m.tensor([2.0, 0.0])),
             lambda F_, x, m: F_.nll_loss(x, m.tensor([[-100]]), reduction="sum")]
    for case in cases:
        grads = []
        for lib in (tg, torch):
            x = lib.tensor([[[-0.0], [2.0]]], requires_grad=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                lib.log10(case(lib.nn.functional, x, lib)).sum().backward()
            grads.append(x.grad.tolist())
        assert grads[0] == grads[1] or np.array_equal(np.array(grads[0]), np.array(grads[1]), equal_nan=True)
    # cross_entropy: an ignored sample's gradient is 0 too (PyTorch's nll_loss backward skips it)
    grads = []
    for lib in (tg, torch):
        x = lib.tensor([[0.5, 1.0], [2.0, 3.0]], requires_grad=True)
        (lib.nn.functional.cross_entropy(x, lib.tensor([0, 1]), ignore_index=1) * math.inf).backward()
        grads.append(x.grad[1].tolist())
    assert grads[0] == grads[1] == [0.0, 0.0]


# ---------------------------------------------------------------------- higher order
W34 = T(np.random.default_rng(7).uniform(0.5, 2.0, (3, 4)))
SECOND_ORDER = {
    "cross_entropy": lambda x, t: F.cross_entropy(x, T([0, 3, 1])),
    "cross_entropy_smoothed": lambda x, t: F.cross_entropy(x, T([0, -100, 1]), T([1.0, 2, 3, 4]),
                                                           label_smoothing=0.1),
    "cross_entropy_probs": lambda x, t: F.cross_entropy(x, t.abs(), label_smoothing=0.1),
    "nll_loss": lambda x, t: F.nll_loss(x, T([0, 3, 1])) ** 2,
    "mse_loss": F.mse_loss, "huber_loss": lambda x, t: F.huber_loss(x, t, delta=2.0),
    "binary_cross_entropy_with_logits": lambda x, t: F.binary_cross_entropy_with_logits(x, t.sigmoid()),
    "binary_cross_entropy": lambda x, t: F.binary_cross_entropy(x.sigmoid(), t.sigmoid()),
    "kl_div": lambda x, t: F.kl_div(x, t.exp(), reduction="batchmean"),
    "kl_div_log_target": lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
    "kl_div_none": lambda x, t: F.kl_div(x, t.exp(), reduction="none") ** 2,
    "l1_loss": lambda x, t: F.l1_loss(x, t) ** 2, "smooth_l1_loss": lambda x, t: F.smooth_l1_loss(x, t, beta=5.0),
    "huber_loss_weight": lambda x, t: F.huber_loss(x, t, delta=5.0, weight=t.abs()),
    "mse_loss_none": lambda x, t: F.mse_loss(x, t, reduction="none") ** 2,
    "mse_loss_weight": lambda x, t: F.mse_loss(x, t, weight=t.abs()),
    # class weights and pos_weight are constants (PyTorch does not differentiate them)
    "binary_cross_entropy_weight": lambda x, t: F.binary_cross_entropy(x.sigmoid(), t.sigmoid(), W34,
                                                                       reduction="sum"),
    "binary_cross_entropy_with_logits_pos_weight": lambda x, t: F.binary_cross_entropy_with_logits(
        x, t.sigmoid(), W34, pos_weight=W34[0], reduction="none") ** 2,
    "cross_entropy_weight_ignore": lambda x, t: F.cross_entropy(x, T([0, 3, 1]), W34[0], ignore_index=3),
    "cross_entropy_none": lambda x, t: F.cross_entropy(x, T([0, 3, 1]), reduction="none") ** 2,
    "cross_entropy_probs_weight": lambda x, t: F.cross_entropy(x, t.softmax(1), W34[1], reduction="sum"),
    "cross_entropy_3d": lambda x, t: F.cross_entropy(x.reshape(3, 2, 2), T([[0, 1], [1, 1], [0, 0]])),
    "nll_loss_weight_ignore": lambda x, t: F.nll_loss(x, T([0, 3, 1]), W34[0], ignore_index=3) ** 2,
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_gradients(name):
    rng = np.random.default_rng(0)
    x, t = (T(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(2))
    assert gradgradcheck(SECOND_ORDER[name], (x, t))


# ---------------------------------------------------------------------- optional cross-check with PyTorch
TORCH_CASES = {
    "ce_weight_ignore_smooth": lambda F, x, y, t: F.cross_entropy(x, t, y[0, :4].abs(), ignore_index=2,
                                                                 label_smoothing=0.15),
    "ce_probs_weight": lambda F, x, y, t: F.cross_entropy(x, y.softmax(1), y[1, :4].abs(), label_smoothing=0.1),
    "nll_weight_sum": lambda F, x, y, t: F.nll_loss(x, t, y[0, :4].abs(), reduction="sum"),
    "bce_logits_pos_weight": lambda F, x, y, t: F.binary_cross_entropy_with_logits(
        x, y.sigmoid(), y[2].abs(), pos_weight=y[0].abs()),
    "bce_weight": lambda F, x, y, t: F.binary_cross_entropy(x.sigmoid(), y.sigmoid(), y[1].abs(), reduction="sum"),
    "kl_log_target": lambda F, x, y, t: F.kl_div(x, y, reduction="batchmean", log_target=True),
    "smooth_l1": lambda F, x, y, t: F.smooth_l1_loss(x, y, beta=0.5),
    "huber_weight": lambda F, x, y, t: F.huber_loss(x, y, delta=0.5, weight=y.abs()),
    "mse_weight": lambda F, x, y, t: F.mse_loss(x, y, weight=y.abs()),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    t = np.array([0, 2, 3])
    xt, xg = torch.tensor(x, requires_grad=True), T(x, requires_grad=True)
    lt = TORCH_CASES[name](torch.nn.functional, xt, torch.tensor(y), torch.tensor(t))
    lg = TORCH_CASES[name](F, xg, T(y), T(t))
    lt.backward()
    lg.backward()
    np.testing.assert_allclose(lg.detach().numpy(), lt.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_cross_entropy_probability_targets_refuse_only_a_class_ignore_index():
    """PyTorch refuses ignore_index with class-probability targets only when it could name a class (>= 0)."""
    x, p = tg.zeros(2, 3), tg.full((2, 3), 1 / 3)
    want = tg.nn.functional.cross_entropy(x, p)
    for ignore in (-1, -5, -100):
        assert tg.nn.functional.cross_entropy(x, p, ignore_index=ignore).item() == want.item()
    for ignore in (0, 2, 7):
        with pytest.raises(RuntimeError, match="ignore_index is not supported"):
            tg.nn.functional.cross_entropy(x, p, ignore_index=ignore)


@pytest.mark.parametrize("ignore_index", [0, 2])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_of_one_sample_with_label_smoothing(reduction, ignore_index):
    """A (C,) input with a 0-d target and label smoothing (it raised a TypeError on a numpy scalar)."""
    x = tg.tensor([-2.5, -2.5, -1.0, -3.0], dtype=tg.float64, requires_grad=True)
    y = tg.nn.functional.cross_entropy(x, tg.tensor(2), reduction=reduction, ignore_index=ignore_index,
                                       label_smoothing=1.0)
    (g,) = tg.autograd.grad(y, x)
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    yt = torch.nn.functional.cross_entropy(xt, torch.tensor(2), reduction=reduction, ignore_index=ignore_index,
                                           label_smoothing=1.0)
    (gt,) = torch.autograd.grad(yt, xt)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-12)


_CE_LOGITS = st.sampled_from([0.0, -1.0, 1.5, -0.25, math.inf, -math.inf, math.nan])


@given(st.lists(st.lists(_CE_LOGITS, min_size=3, max_size=3), min_size=1, max_size=4), st.data())
@example([[-0.25, math.inf, -1.0], [math.inf, math.inf, -1.0], [0.0, -1.0, 0.0]], None)
def test_cross_entropy_gradient_of_an_ignored_row_with_non_finite_logits_is_pytorchs(rows, data):
    # nll_loss_backward writes 0 for an ignored sample; _log_softmax_backward_data then gives 0 - exp(logp) * 0:
    # nan where the row's log-softmax is nan (+inf or nan logits), 0 elsewhere -- also for an infinite upstream g
    a = np.array(rows)
    n = a.shape[0]
    target = [1, -100, 1][:n] + [-100] * (n - 3) if data is None else data.draw(
        st.lists(st.sampled_from([0, 1, 2, -100]), min_size=n, max_size=n))
    reduction = "sum" if data is None else data.draw(st.sampled_from(["mean", "sum", "none"]))
    x = tg.tensor(a, requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor(target), reduction=reduction)
    with np.errstate(all="ignore"):
        loss.backward(tg.ones_like(loss))
        shift = a.max(axis=1, keepdims=True)
        logp = a - shift - np.log(np.exp(a - shift).sum(axis=1, keepdims=True))
    ignored = np.array(target) == -100
    np.testing.assert_array_equal(np.isnan(x.grad.numpy()[ignored]), np.isnan(logp[ignored]))
    assert (x.grad.numpy()[ignored][~np.isnan(logp[ignored])] == 0).all()
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(t, torch.tensor(target), reduction=reduction)
    tl.backward(torch.ones_like(tl))
    ours, theirs = x.grad.numpy(), t.grad.numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@given(target=st.lists(st.sampled_from([0, 1, 2, 3]), min_size=1, max_size=3), g=st.sampled_from([math.nan, math.inf,
       -math.inf]), reduction=st.sampled_from(["mean", "sum", "none"]), smoothing=st.sampled_from([0.0, 0.5, 1.0]),
       weighted=st.booleans())
@example(target=[0, 0], g=math.nan, reduction="mean", smoothing=1.0, weighted=False)  # every target ignored
@example(target=[0, 2], g=math.inf, reduction="mean", smoothing=0.0, weighted=False)
def test_cross_entropy_gradient_of_a_non_finite_upstream_gradient_is_pytorchs_composite(target, g, reduction,
                                                                                       smoothing, weighted):
    """PyTorch's cross_entropy is log_softmax, nll_loss and (label smoothing) a masked sum: an upstream nan or inf
    reaches only the kept targets (nll_loss's scatter) and the kept samples (masked_fill_), then
    _log_softmax_backward_data subtracts softmax * the row's sum. An ignored sample's gradient is 0 (the mean of
    all ignored targets is nan: amin or any op after it hands back nan), not the fused formula's nan * 0."""
    rows = [[1.1, 0.05, 0.85, 2.6], [-0.7, 1.3, -0.45, 2.6], [0.5, -2.0, 0.0, 1.0]][:len(target)]

    def grad(lib):
        x = lib.tensor(rows, dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.0, 2.0, 0.0, 0.5], dtype=lib.float64) if weighted else None
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(target), w, ignore_index=0, reduction=reduction,
                                               label_smoothing=smoothing)
        with np.errstate(all="ignore"):
            loss.backward(lib.full(loss.shape, g, dtype=lib.float64))
        return x.grad.numpy()

    ours = grad(tg)
    np.testing.assert_array_equal(ours[np.array(target) == 0], 0)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(ours, grad(torch), rtol=1e-12, atol=0)  # (nan where PyTorch's is)


def test_cross_entropy_of_all_ignored_targets_then_amin_has_pytorchs_gradient():
    # the driver's program (seed 911397): the mean over no kept target is nan, amin's gradient of it nan (a numpy
    # scalar into cross_entropy's rule), and the gradient at the ignored samples still 0
    def grad(lib):
        x = lib.tensor([[1.1, 0.05, 0.85, 2.6], [-0.7, 1.3, -0.45, 2.6]], dtype=lib.float64, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor([0, 0]), ignore_index=0, label_smoothing=1.0)
        with np.errstate(all="ignore"):
            (x.sum() + loss + lib.amin(loss, 0) * 1.25).backward()
        return x.grad.tolist()

    assert grad(tg) == [[1.0] * 4] * 2
    torch = pytest.importorskip("torch")
    assert grad(torch) == grad(tg)


@given(x=st.lists(st.sampled_from([-3.0, -2.5, 0.0, 1.0, 2.0, 3e38, -3e38, 1e38, np.inf]), min_size=1, max_size=6),
       t=st.sampled_from([3e38, -3e38, 1.0, -2.5, 0.0]), g=st.sampled_from([-0.5, 2.0, 1e-3, 7.0]),
       reduction=st.sampled_from(["mean", "sum", "none"]), dtype=st.sampled_from(["float32", "float64", "float16"]))
@example(x=[-3.0, 1.0, 2.0], t=3e38, g=-0.5, reduction="mean", dtype="float32")  # 2 (x - t) = -6e38 overflows
@example(x=[-3.0, 1.0], t=6e4, g=-0.5, reduction="mean", dtype="float16")
def test_mse_loss_gradient_is_pytorchs_norm_times_difference_times_grad(x, t, g, reduction, dtype):
    # aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp mse_backward: norm * (input - target) * grad_output, with
    # norm = 2 / numel for 'mean' (else 2) in the dtype: the difference is scaled before it is doubled past the range
    with np.errstate(all="ignore"):
        a = np.array(x, dtype)
        xt = tg.tensor(a, requires_grad=True)
        tt = tg.tensor(np.full_like(a, t), requires_grad=True)
        loss = F.mse_loss(xt, tt, reduction=reduction)
        gl = np.full(loss.shape, g, dtype)
        loss.backward(tg.tensor(gl))
        dt = np.dtype(dtype).type
        norm = dt(2 / a.size if reduction == "mean" else 2)
        want = (norm * (a - dt(t))).astype(dtype) * gl
    np.testing.assert_array_equal(xt.grad.numpy(), want)
    np.testing.assert_array_equal(tt.grad.numpy(), -want)
    torch = pytest.importorskip("torch")
    xs = torch.tensor(a, requires_grad=True)
    ts = torch.tensor(np.full_like(a, t), requires_grad=True)
    torch.nn.functional.mse_loss(xs, ts, reduction=reduction).backward(torch.tensor(gl))
    np.testing.assert_array_equal(xt.grad.numpy(), xs.grad.numpy())
    np.testing.assert_array_equal(tt.grad.numpy(), ts.grad.numpy())


@given(x=st.sampled_from([-np.inf, np.inf, -3.0, 0.0, 2.5, 1e-7, 60.0, -60.0]),
       pw=st.sampled_from([-1.9, 0.5, 1.0, 2.6]), dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(x=-np.inf, pw=-1.9, dtype="float16")  # pw * inf, not -x + (pw - 1) softplus(-x) = inf - inf = nan
@example(x=np.inf, pw=2.6, dtype="float32")
def test_bce_with_logits_target_gradient_with_pos_weight_is_pytorchs_at_infinite_logits(x, pw, dtype):
    # FunctionsManual.cpp binary_cross_entropy_with_logits_target_backward: log_sigmoid(-x) - pos_weight *
    # log_sigmoid(x): -inf at x = -inf for pos_weight < 0 and at x = inf, never nan
    xt = tg.tensor(np.array([x], dtype))
    tt = tg.tensor(np.array([0.5], dtype), requires_grad=True)
    F.binary_cross_entropy_with_logits(xt, tt, reduction="sum", pos_weight=tg.tensor(np.array([pw], dtype))).backward()
    x64 = np.float64(x)
    want = -np.logaddexp(0, x64) + pw * np.logaddexp(0, -x64)  # log_sigmoid(-x) - pw log_sigmoid(x), exact at +-inf
    got = tt.grad.numpy().astype(np.float64)[0]
    if np.isfinite(want):
        assert got == pytest.approx(want, rel=2e-3, abs=2e-3)
    else:
        assert got == want
    torch = pytest.importorskip("torch")
    ts = torch.tensor(np.array([0.5], dtype), requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(np.array([x], dtype)), ts, reduction="sum",
                                                         pos_weight=torch.tensor(np.array([pw], dtype))).backward()
    np.testing.assert_allclose(tt.grad.numpy(), ts.grad.numpy(), rtol=1e-3, atol=0)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_probabilities_reads_the_target_in_backward_only_unsmoothed(smoothing):
    """PyTorch multiplies log_softmax by the smoothed target, a new tensor: with label_smoothing the target may be
    written in place before backward; without, the target itself is saved and the write is refused (both here)."""
    x = tg.tensor([-1.0, 1.5, 2.0, 1.5], requires_grad=True)
    t = tg.tensor([0.1, 0.2, 0.3, 0.4])
    loss = F.cross_entropy(x, t, label_smoothing=smoothing)
    t.tan_()
    if smoothing:
        loss.backward()
        q = np.array([0.1, 0.2, 0.3, 0.4]) * 0.9 + 0.025
        p = np.exp([-1.0, 1.5, 2.0, 1.5]) / np.exp([-1.0, 1.5, 2.0, 1.5]).sum()
        np.testing.assert_allclose(x.grad.numpy(), p * q.sum() - q, rtol=1e-5)
    else:
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            loss.backward()
