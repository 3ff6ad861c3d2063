"""The margin, embedding, multi-label, Poisson/Gaussian NLL and triplet losses (functional and modules): values
against numpy formulas, gradients against float64 central differences for every reduction, second order, errors,
and PyTorch's values, gradients and node names when it is installed."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd import gradgradcheck
from tapegrad.testing import arrays, assert_forward, assert_gradients

REDUCTIONS = ["mean", "sum", "none"]


def reduce_np(loss, reduction):
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def untied(a):
    """``a`` plus a small distinct offset per element: no two elements tie and none sits on a simple kink."""
    return a + np.linspace(0.0123, 0.0457, a.size).reshape(a.shape)


def softplus(z):
    return np.logaddexp(0, z)


def logsig(z):
    return -softplus(-z)


@st.composite
def batch(draw, min_n=1, max_n=4, min_c=1, max_c=4):
    n, c = draw(st.integers(min_n, max_n)), draw(st.integers(min_c, max_c))
    return n, c, draw(st.sampled_from(REDUCTIONS))


def signs(draw, shape):
    return draw(arrays(shape, dtype=np.int64, min_value=0, max_value=1)) * 2.0 - 1


# ---------------------------------------------------------------------- forward and gradient, every reduction
@given(data=st.data())
def test_margin_ranking_loss(data):
    n, _, red = data.draw(batch())
    a, b = untied(data.draw(arrays((n,)))), data.draw(arrays((n,)))
    t = signs(data.draw, (n,))
    call = lambda x, y: F.margin_ranking_loss(x, y, tg.tensor(t), margin=0.31, reduction=red)  # noqa: E731
    assert_forward(call, lambda x, y: reduce_np(np.maximum(0, -t * (x - y) + 0.31), red), a, b)
    assert_gradients(call, a, b)


@given(data=st.data())
def test_hinge_embedding_loss(data):
    n, c, red = data.draw(batch())
    x = untied(data.draw(arrays((n, c))))
    t = signs(data.draw, (n, c))
    call = lambda v: F.hinge_embedding_loss(v, tg.tensor(t), margin=0.77, reduction=red)  # noqa: E731
    assert_forward(call, lambda v: reduce_np(np.where(t == 1, v, np.maximum(0, 0.77 - v)), red), x)
    assert_gradients(call, x)


@given(data=st.data())
def test_cosine_embedding_loss(data):
    n, c, red = data.draw(batch(min_c=2))
    a, b = untied(data.draw(arrays((n, c)))), untied(-data.draw(arrays((n, c))))
    t = signs(data.draw, (n,))
    call = lambda x, y: F.cosine_embedding_loss(x, y, tg.tensor(t), margin=-0.13, reduction=red)  # noqa: E731

    def ref(x, y):
        cos = (x * y).sum(1) / np.sqrt(((x * x).sum(1) + 1e-12) * ((y * y).sum(1) + 1e-12))
        return reduce_np(np.where(t == 1, 1 - cos, np.maximum(0, cos + 0.13)), red)

    assert_forward(call, ref, a, b)
    assert_gradients(call, a, b)


@given(data=st.data())
def test_soft_margin_loss(data):
    n, c, red = data.draw(batch())
    x = data.draw(arrays((n, c)))
    t = signs(data.draw, (n, c))
    call = lambda v: F.soft_margin_loss(v, tg.tensor(t), reduction=red)  # noqa: E731
    assert_forward(call, lambda v: reduce_np(softplus(-t * v), red), x)
    assert_gradients(call, x)
    assert gradgradcheck(call, (tg.tensor(x, requires_grad=True),))


@given(data=st.data())
def test_multilabel_soft_margin_loss(data):
    n, c, red = data.draw(batch())
    x = data.draw(arrays((n, c)))
    t = data.draw(arrays((n, c), min_value=0, max_value=1))
    w = data.draw(arrays((c,), min_value=0.1, max_value=2))
    call = lambda v, wt: F.multilabel_soft_margin_loss(v, tg.tensor(t), weight=wt, reduction=red)  # noqa: E731

    def ref(v, wt):
        return reduce_np((-(t * logsig(v) + (1 - t) * logsig(-v)) * wt).sum(1) / c, red)

    assert_forward(call, ref, x, w)
    assert_gradients(call, x, w)


@pytest.mark.parametrize("p", [1, 2])
@given(data=st.data())
def test_multi_margin_loss(p, data):
    n, c, red = data.draw(batch())
    x = untied(data.draw(arrays((n, c))))
    y = data.draw(arrays((n,), dtype=np.int64, min_value=0, max_value=c - 1))
    w = data.draw(st.none() | arrays((c,), min_value=0.1, max_value=2))
    wt = None if w is None else tg.tensor(w)
    call = lambda v: F.multi_margin_loss(v, tg.tensor(y), p=p, margin=0.73, weight=wt, reduction=red)  # noqa: E731

    def ref(v):
        h = np.maximum(0, 0.73 - v[np.arange(n), y][:, None] + v) ** p
        h[np.arange(n), y] = 0
        if w is not None:
            h = h * w[y][:, None]
        return reduce_np(h.sum(1) / c, red)

    assert_forward(call, ref, x)
    assert_gradients(call, x)
    if p == 2:
        assert gradgradcheck(call, (tg.tensor(x, requires_grad=True),))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("red", ["mean", "sum", "none"])
@given(g=st.sampled_from([np.inf, -np.inf, 2.0]), x=st.lists(st.sampled_from([-3.0, -0.25, 0.5, 1e-7, 6e4, -6e4]),
                                                          min_size=4, max_size=4))
@example(g=-np.inf, x=[-3.0, 1e-7, -6e4, -6e4])  # acos_'s -inf gradient at acos(1): +inf at the target, as PyTorch
def test_multi_margin_loss_gradient_at_an_infinite_incoming_gradient_as_pytorchs(p, red, g, x):
    # PyTorch's kernel (LossMultiMargin.cpp) sums the active terms' coefficients into the target before the product
    # with the incoming gradient: the target gets -sum(h) * g (+-inf), the inactive terms 0 * g (NaN for an inf g)
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tg, torch):
        v = lib.tensor([x, x[::-1]], requires_grad=True)
        loss = lib.nn.functional.multi_margin_loss(v, lib.tensor([0, 2]), p=p, reduction=red)
        with np.errstate(all="ignore"):
            loss.backward(lib.full(loss.shape, g))
        out.append(v.grad.numpy())
    np.testing.assert_array_equal(out[0], out[1])


@given(data=st.data())
def test_multilabel_margin_loss(data):
    n, c, red = data.draw(batch())
    x = untied(data.draw(arrays((n, c))))
    y = np.full((n, c), -1)
    for i in range(n):
        k = data.draw(st.integers(0, c))
        y[i, :k] = data.draw(st.permutations(range(c)))[:k]
        if k < c - 1:
            y[i, k + 1:] = data.draw(st.lists(st.integers(0, c - 1), min_size=c - k - 1, max_size=c - k - 1))
    call = lambda v: F.multilabel_margin_loss(v, tg.tensor(y), reduction=red)  # noqa: E731

    def ref(v):
        out = np.zeros(n)
        for i in range(n):
            listed = list(y[i, :list(y[i]).index(-1)] if -1 in y[i] else y[i])
            for j in listed:
                for k in range(c):
                    if k not in listed:
                        out[i] += max(0.0, 1 - (v[i, j] - v[i, k]))
        return reduce_np(out / c, red)

    assert_forward(call, ref, x)
    assert_gradients(call, x)


@pytest.mark.parametrize("log_input", [True, False])
@given(data=st.data())
def test_poisson_nll_loss(log_input, data):
    n, c, red = data.draw(batch())
    x = data.draw(arrays((n, c), min_value=0.1 if not log_input else -3))
    t = data.draw(arrays((n, c), min_value=0, max_value=5))
    call = lambda v: F.poisson_nll_loss(v, tg.tensor(t), log_input=log_input, full=True, reduction=red)  # noqa: E731

    def ref(v):
        loss = np.exp(v) - t * v if log_input else v - t * np.log(v + 1e-8)
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t)
        return reduce_np(loss + np.where(t <= 1, 0, stirling), red)

    assert_forward(call, ref, x)
    assert_gradients(call, x)


@pytest.mark.parametrize("var_shape", ["full", "one_less", "last_one", "float"])
@given(data=st.data())
def test_gaussian_nll_loss(var_shape, data):
    n, c, red = data.draw(batch())
    x, t = data.draw(arrays((n, c))), data.draw(arrays((n, c)))
    vshape = {"full": (n, c), "one_less": (n,), "last_one": (n, 1), "float": ()}[var_shape]
    v = data.draw(arrays(vshape, min_value=0.2, max_value=3))

    def call(a, b, var=None):
        return F.gaussian_nll_loss(a, b, float(v) if var is None else var, full=True, reduction=red)

    def ref(a, b, var=v):
        var = var.reshape(n, -1) if var.ndim else var
        return reduce_np(0.5 * (np.log(var) + (a - b) ** 2 / var) + 0.5 * math.log(2 * math.pi), red)

    if var_shape == "float":
        assert_forward(call, ref, x, t)
        assert_gradients(call, x, t)
    else:
        assert_forward(call, ref, x, t, v)
        assert_gradients(call, x, t, v)


@pytest.mark.parametrize("swap", [False, True])
@given(data=st.data())
def test_triplet_margin_losses(swap, data):
    n, c, red = data.draw(batch())
    a = data.draw(arrays((n, c), min_value=1, max_value=3))
    p = untied(data.draw(arrays((n, c), min_value=-3, max_value=-1)))
    m = -untied(-data.draw(arrays((n, c), min_value=-3, max_value=-1)))

    def d(u, v):
        return np.sqrt(((u - v + 1e-6) ** 2).sum(-1))

    def ref(x, y, z):
        neg = np.minimum(d(x, z), d(y, z)) if swap else d(x, z)
        return reduce_np(np.maximum(0, 2.9 + d(x, y) - neg), red)

    call = lambda x, y, z: F.triplet_margin_loss(x, y, z, margin=2.9, swap=swap, reduction=red)  # noqa: E731
    assert_forward(call, ref, a, p, m)
    assert_gradients(call, a, p, m)
    call2 = lambda x, y, z: F.triplet_margin_with_distance_loss(x, y, z, margin=2.9, swap=swap,  # noqa: E731
                                                                reduction=red)
    assert_forward(call2, ref, a, p, m)
    l1 = lambda u, v: (u - v).abs().sum(-1)  # noqa: E731
    call3 = lambda x, y, z: F.triplet_margin_with_distance_loss(x, y, z, distance_function=l1,  # noqa: E731
                                                                margin=2.9, reduction=red)
    assert_forward(call3, lambda x, y, z: reduce_np(np.maximum(0, 2.9 + np.abs(x - y).sum(-1)
                                                               - np.abs(x - z).sum(-1)), red), a, p, m)
    assert_gradients(call3, a, p, m)


def test_second_order_of_the_composed_losses():
    rng = np.random.default_rng(0)
    a, b, c = (tg.tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(3))
    t = tg.tensor([1.0, -1.0, 1.0])
    assert gradgradcheck(lambda x, y: F.cosine_embedding_loss(x, y, t, margin=-0.5), (a, b))
    assert gradgradcheck(lambda x: F.multilabel_soft_margin_loss(x, (x.detach() > 0).double()), (a,))
    assert gradgradcheck(lambda x, y: F.gaussian_nll_loss(x, y, tg.ones(3, 4) * 0.7), (a, b))
    assert gradgradcheck(lambda x, y, z: F.triplet_margin_loss(x, y, z, margin=5.0), (a, b, c))
    assert gradgradcheck(lambda x: F.poisson_nll_loss(x, tg.ones(3, 4) * 2), (a,))


def test_unbatched_shapes():
    x = tg.tensor([0.1, 0.2, 0.4, 0.8])
    assert F.multi_margin_loss(x, tg.tensor(3), reduction="none").shape == ()
    assert F.multi_margin_loss(x, tg.tensor([3]), reduction="none").shape == (1,)
    assert F.multilabel_margin_loss(x, tg.tensor([3, 0, -1, 1]), reduction="none").shape == ()
    assert F.cosine_embedding_loss(x, x, tg.tensor(1.0), reduction="none").shape == ()
    np.testing.assert_allclose(F.multi_margin_loss(x, tg.tensor(3)).numpy(), 0.325)


def test_soft_margin_loss_is_finite_for_large_margins():
    out = F.soft_margin_loss(tg.tensor([-1000.0, 1000.0]), tg.tensor([1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(out.numpy(), [1000.0, 0.0])


def test_legacy_flags_warn_and_pick_the_reduction():
    x, y, t = tg.tensor([1.0, 0.0]), tg.tensor([0.0, 1.0]), tg.tensor([1.0, 1.0])
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        out = F.margin_ranking_loss(x, y, t, size_average=False)
    np.testing.assert_allclose(out.numpy(), 1.0)
    with pytest.warns(UserWarning):
        assert F.soft_margin_loss(x, t, reduce=False).shape == (2,)
    with pytest.warns(UserWarning):
        assert nn.MarginRankingLoss(reduce=False).reduction == "none"


def test_bad_inputs_name_the_problem():
    x = tg.zeros(3, 4)
    with pytest.raises(RuntimeError, match="margin_ranking_loss : All input tensors should have same dimension"):
        F.margin_ranking_loss(x, x[0], x)
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        F.hinge_embedding_loss(x, x, reduction="bad")
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected"):
        F.cosine_embedding_loss(x, x, tg.ones(3, 1))
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(x[0], x[0], tg.ones(3))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'target'"):
        F.soft_margin_loss(x, tg.ones(3, 4, requires_grad=True))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, tg.tensor([0, 1, 2]), p=3)
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, tg.tensor([0, 1, 4]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[3\], but got \[2\]"):
        F.multi_margin_loss(x, tg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="inconsistent weight size, expected 4"):
        F.multi_margin_loss(x, tg.tensor([0, 1, 2]), weight=tg.ones(3))
    with pytest.raises(RuntimeError, match="expected scalar type Long"):
        F.multi_margin_loss(x, tg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multilabel_margin_loss(x, tg.tensor([[0, -1, 0]] * 3))
    with pytest.raises(RuntimeError, match="multilabel_margin_loss: target values must be in"):
        F.multilabel_margin_loss(x, tg.tensor([[5, -1, 0, 0]] * 3))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(x, x, tg.ones(2))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x, x, -tg.ones(3, 4))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(RuntimeError, match="anchor 2D, positive 2D, and negative 1D"):
        F.triplet_margin_loss(x, x, x[0])
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginLoss(margin=-1.0)
    with pytest.raises(TypeError, match="soft_margin_loss"):
        F.soft_margin_loss([1.0], x)


def test_modules_call_their_functionals():
    rng = np.random.default_rng(1)
    x, y, z = (tg.tensor(rng.standard_normal((3, 4))) for _ in range(3))
    s, cls = tg.tensor([1.0, -1.0, 1.0]), tg.tensor([0, 3, 1])
    pairs = [
        (nn.MarginRankingLoss(0.2)(x[:, 0], y[:, 0], s), F.margin_ranking_loss(x[:, 0], y[:, 0], s, 0.2)),
        (nn.HingeEmbeddingLoss(0.5, reduction="sum")(x, s[:, None].expand(3, 4)),
         F.hinge_embedding_loss(x, s[:, None].expand(3, 4), 0.5, reduction="sum")),
        (nn.CosineEmbeddingLoss(0.1)(x, y, s), F.cosine_embedding_loss(x, y, s, 0.1)),
        (nn.SoftMarginLoss()(x, y.sign()), F.soft_margin_loss(x, y.sign())),
        (nn.MultiLabelSoftMarginLoss(tg.ones(4) * 2)(x, (y > 0).double()),
         F.multilabel_soft_margin_loss(x, (y > 0).double(), tg.ones(4) * 2)),
        (nn.MultiMarginLoss(2, 0.5)(x, cls), F.multi_margin_loss(x, cls, 2, 0.5)),
        (nn.MultiLabelMarginLoss()(x, tg.tensor([[1, -1, 0, 0]] * 3)),
         F.multilabel_margin_loss(x, tg.tensor([[1, -1, 0, 0]] * 3))),
        (nn.PoissonNLLLoss(full=True)(x, y.abs()), F.poisson_nll_loss(x, y.abs(), full=True)),
        (nn.GaussianNLLLoss(eps=0.1)(x, y, z.abs()), F.gaussian_nll_loss(x, y, z.abs(), eps=0.1)),
        (nn.TripletMarginLoss(p=1.0, swap=True)(x, y, z), F.triplet_margin_loss(x, y, z, p=1.0, swap=True)),
        (nn.TripletMarginWithDistanceLoss(margin=2.0)(x, y, z), F.triplet_margin_with_distance_loss(x, y, z,
                                                                                                     margin=2.0)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got.numpy(), want.numpy())
    w = tg.ones(4)
    assert nn.MultiMarginLoss(weight=w).weight is w and "weight" in dict(nn.MultiMarginLoss(weight=w).named_buffers())
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        loss = nn.NLLLoss2d()
    assert isinstance(loss, nn.NLLLoss)


def test_docstring_examples_run():
    import doctest

    from tapegrad.nn import _functional_losses, loss_extra

    for module in (_functional_losses, loss_extra):
        assert doctest.testmod(module).failed == 0


# ---------------------------------------------------------------------- PyTorch
_rng = np.random.default_rng(0)
X, Y, Z = _rng.standard_normal((3, 5, 4))
S, S4 = np.sign(_rng.standard_normal(5)), np.sign(_rng.standard_normal((5, 4)))
CLS = np.array([0, 3, 1, 2, 3])
ML = np.array([[1, 2, -1, 0], [3, -1, 0, 0], [0, 1, 2, 3], [-1, 0, 0, 0], [2, 2, -1, 1]])
POS, B, W4 = np.abs(Z) + 0.1, (_rng.random((5, 4)) > 0.5).astype(float), _rng.random(4) + 0.5

TORCH_CASES = {
    "margin_ranking": lambda F, T, a, b, c, r: F.margin_ranking_loss(a[:, 0], b[:, 0], T(S), margin=0.3, reduction=r),
    "hinge": lambda F, T, a, b, c, r: F.hinge_embedding_loss(a, T(S4), margin=0.5, reduction=r),
    "cosine": lambda F, T, a, b, c, r: F.cosine_embedding_loss(a, b, T(S), margin=0.2, reduction=r),
    "cosine_1d": lambda F, T, a, b, c, r: F.cosine_embedding_loss(a[0], b[0], T(np.array(-1.0)), margin=-0.9,
                                                                  reduction=r),
    "soft_margin": lambda F, T, a, b, c, r: F.soft_margin_loss(a, T(S4), reduction=r),
    "multilabel_soft_margin": lambda F, T, a, b, c, r: F.multilabel_soft_margin_loss(a, T(B), weight=T(W4),
                                                                                     reduction=r),
    "multi_margin": lambda F, T, a, b, c, r: F.multi_margin_loss(a, T(CLS), reduction=r),
    "multi_margin_p2_weight": lambda F, T, a, b, c, r: F.multi_margin_loss(a, T(CLS), p=2, margin=0.7, weight=T(W4),
                                                                           reduction=r),
    "multi_margin_1d": lambda F, T, a, b, c, r: F.multi_margin_loss(a[0], T(np.array(2)), reduction=r),
    "multilabel_margin": lambda F, T, a, b, c, r: F.multilabel_margin_loss(a, T(ML), reduction=r),
    "multilabel_margin_1d": lambda F, T, a, b, c, r: F.multilabel_margin_loss(a[0], T(ML[0]), reduction=r),
    "poisson": lambda F, T, a, b, c, r: F.poisson_nll_loss(a, T(POS * 3), reduction=r),
    "poisson_full": lambda F, T, a, b, c, r: F.poisson_nll_loss(a.abs() + 0.1, T(POS * 3), log_input=False,
                                                                full=True, reduction=r),
    "gaussian": lambda F, T, a, b, c, r: F.gaussian_nll_loss(a, b, c.abs(), reduction=r),
    "gaussian_homoscedastic": lambda F, T, a, b, c, r: F.gaussian_nll_loss(a, b, c[:, 0].abs(), full=True,
                                                                           reduction=r),
    "gaussian_float": lambda F, T, a, b, c, r: F.gaussian_nll_loss(a, b, 0.5, reduction=r),
    "triplet": lambda F, T, a, b, c, r: F.triplet_margin_loss(a, b, c, margin=2.0, reduction=r),
    "triplet_swap_p1": lambda F, T, a, b, c, r: F.triplet_margin_loss(a, b, c, p=1, swap=True, margin=2.0,
                                                                      reduction=r),
    "triplet_distance": lambda F, T, a, b, c, r: F.triplet_margin_with_distance_loss(a, b, c, margin=2.0, swap=True,
                                                                                     reduction=r),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch(name, reduction):
    torch = pytest.importorskip("torch")
    ours = [tg.tensor(v, requires_grad=True) for v in (X, Y, Z)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (X, Y, Z)]
    og = TORCH_CASES[name](F, tg.tensor, *ours, reduction)
    ot = TORCH_CASES[name](torch.nn.functional, torch.tensor, *theirs, reduction)
    assert og.grad_fn.name() == ot.grad_fn.name()
    assert og.shape == tuple(ot.shape)
    g = np.random.default_rng(1).standard_normal(ot.shape)
    (og * tg.tensor(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-10)
    for u, v in zip(ours, theirs, strict=True):
        assert (u.grad is None) == (v.grad is None)
        if v.grad is not None:
            np.testing.assert_allclose(u.grad.numpy(), v.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_module_reprs_match_torch():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ["MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss", "SoftMarginLoss",
                     "MultiLabelSoftMarginLoss", "MultiMarginLoss", "MultiLabelMarginLoss", "PoissonNLLLoss",
                     "GaussianNLLLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "NLLLoss2d", "CTCLoss"]:
            assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


# ---------------------------------------------------------------------- CTC
def ctc_brute_force(lp, labels, blank=0):
    """-log of the sum over every alignment of length T that collapses to ``labels`` (all C ** T paths)."""
    import itertools

    T, C = lp.shape
    total = -np.inf
    for path in itertools.product(range(C), repeat=T):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
        if collapsed == list(labels):
            total = np.logaddexp(total, sum(lp[t, c] for t, c in enumerate(path)))
    return -total


@given(data=st.data())
def test_ctc_loss_is_the_sum_over_alignments_and_its_gradient_is_the_logits(data):
    T, C = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 3))
    logits = data.draw(arrays((T, 2, C)))
    lens = [data.draw(st.integers(0, T)) for _ in range(2)]
    labels = [data.draw(st.lists(st.integers(1, C - 1), max_size=3)) for _ in range(2)]
    targets = np.array([lab + [1] * (3 - len(lab)) for lab in labels])
    red = data.draw(st.sampled_from(REDUCTIONS))
    tl = [len(lab) for lab in labels]

    def call(z):
        return F.ctc_loss(z.log_softmax(2), tg.tensor(targets), lens, tl, reduction=red, zero_infinity=True)

    lp = logits - np.log(np.exp(logits).sum(2, keepdims=True))
    nll = np.array([ctc_brute_force(lp[:lens[b], b], labels[b]) if lens[b] else (0.0 if not tl[b] else np.inf)
                    for b in range(2)])
    nll = np.where(np.isinf(nll), 0, nll)
    want = {"none": nll, "sum": nll.sum(), "mean": (nll / np.maximum(tl, 1)).mean()}[red]
    np.testing.assert_allclose(call(tg.tensor(logits)).numpy(), want, rtol=1e-9, atol=1e-12)
    assert_gradients(call, logits)


def test_ctc_loss_layouts_and_errors():
    lp = tg.tensor(np.random.default_rng(0).standard_normal((5, 2, 4))).log_softmax(2)
    padded = F.ctc_loss(lp, tg.tensor([[1, 2, 0], [3, 0, 0]]), [5, 4], [2, 1], reduction="none")
    concatenated = F.ctc_loss(lp, tg.tensor([1, 2, 3]), tg.tensor([5, 4]), tg.tensor([2, 1]), reduction="none")
    np.testing.assert_allclose(padded.numpy(), concatenated.numpy())
    one = F.ctc_loss(lp[:, 0], tg.tensor([1, 2]), [5], (2,), reduction="none")
    assert one.shape == () and np.isclose(one.item(), padded.numpy()[0])
    # PyTorch's signatures take the lengths as two int sequences or two tensors: bare ints (even for an unbatched
    # input), a mix, floats or numpy arrays are refused
    for il, tl in ((5, 2), ([5], 2), (tg.tensor([5]), [2]), ([5.0], [2.0]), (np.array([5]), np.array([2])),
                   ([True], [2])):
        with pytest.raises(TypeError, match="ctc_loss\\(\\): input_lengths and target_lengths must be"):
            F.ctc_loss(lp[:, 0], tg.tensor([1, 2]), il, tl)
    np.testing.assert_allclose(F.ctc_loss(lp[:, 0], tg.tensor([1, 2]), [tg.tensor(5)], [np.int64(2)],
                                          reduction="none").numpy(), one.numpy())
    assert np.isinf(F.ctc_loss(lp, tg.tensor([1, 1, 1, 1]), [3, 5], [3, 1], reduction="none").numpy()[0])
    np.testing.assert_allclose(nn.CTCLoss(reduction="sum")(lp, tg.tensor([1, 2, 3]), [5, 4], [2, 1]).numpy(),
                               padded.numpy().sum())
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        F.ctc_loss(lp, tg.tensor([1, 2, 3]), [5, 4], [2, 1], blank=4)
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        F.ctc_loss(lp, tg.tensor([1, 2, 3]), [5], [2, 1])
    with pytest.raises(RuntimeError, match="expected input_lengths to have value at most 5"):
        F.ctc_loss(lp, tg.tensor([1, 2, 3]), [6, 4], [2, 1])
    with pytest.raises(RuntimeError, match="size at least 3 at dimension 1"):
        F.ctc_loss(lp, tg.tensor([[1, 2], [3, 0]]), [5, 4], [3, 1])
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        F.ctc_loss(lp, tg.tensor([1, 2, 3]), [5, 4], [2, 1], reduction="bad")


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss_matches_torch(reduction, zero_infinity):
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(0).standard_normal((7, 3, 5))
    targets, il, tl = np.array([[1, 2, 2], [3, 1, 0], [4, 4, 4]]), [7, 5, 2], [3, 2, 3]  # the last is impossible
    lt, lg = torch.tensor(logits, requires_grad=True), tg.tensor(logits, requires_grad=True)
    for log_probs_t, log_probs_g in [(lt.log_softmax(2), lg.log_softmax(2)), (lt * 1, lg * 1)]:
        ot = torch.nn.functional.ctc_loss(log_probs_t, torch.tensor(targets), torch.tensor(il), torch.tensor(tl),
                                          reduction=reduction, zero_infinity=zero_infinity)
        og = F.ctc_loss(log_probs_g, tg.tensor(targets), tg.tensor(il), tg.tensor(tl), reduction=reduction,
                        zero_infinity=zero_infinity)
        assert og.grad_fn.name() == ot.grad_fn.name()
        np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-10)
        ot.sum().backward()
        og.sum().backward()
        np.testing.assert_allclose(lg.grad.numpy(), lt.grad.numpy(), rtol=1e-8, atol=1e-12)
        lt.grad, lg.grad = None, None


def test_triplet_margin_loss_refuses_a_margin_not_above_zero():
    # PyTorch's F.triplet_margin_loss raises ValueError for margin <= 0 (found by the differential test)
    a, p, n = tg.ones(2, 3), tg.ones(2, 3), tg.zeros(2, 3)
    for margin in (0.0, -1.0):
        with pytest.raises(ValueError, match="margin must be greater than 0"):
            F.triplet_margin_loss(a, p, n, margin=margin)


# ---------------------------------------------------------------------- the margin losses at inf/NaN, dtypes
_EDGE = st.sampled_from([0.0, -0.0, 1.0, -2.5, 0.5, math.inf, -math.inf, math.nan, 1e30])


def _multilabel_margin_reference(x, y):
    """PyTorch's kernel: for each listed class j (until -1) and each unlisted class i, z = 1 - x[j] + x[i] is added
    when z > 0 (NaN and inactive pairs are skipped), divided by the number of classes."""
    n, c = x.shape
    out = np.zeros(n)
    for b in range(n):
        listed = []
        for v in y[b]:
            if v == -1:
                break
            listed.append(v)
        for j in listed:
            for i in range(c):
                if i not in listed:
                    with np.errstate(all="ignore"):
                        z = 1 - x[b, j] + x[b, i]
                    if z > 0:
                        out[b] += z
    return out / c


@given(x=st.lists(_EDGE, min_size=6, max_size=6), perm=st.permutations(range(3)), k=st.integers(0, 3))
def test_multilabel_margin_loss_skips_inactive_pairs_at_inf_and_nan(x, perm, k):
    """An inactive pair contributes nothing (PyTorch's kernel skips it), not 0 * inf = NaN."""
    xs = np.array(x).reshape(2, 3)
    y = np.full((2, 3), -1)
    y[:, :k] = np.array(perm)[:k]
    out = F.multilabel_margin_loss(tg.tensor(xs), tg.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(out, _multilabel_margin_reference(xs, y), rtol=1e-12)  # NaN and inf in place


@given(x=st.lists(_EDGE, min_size=3, max_size=3), cls=st.integers(0, 2), p=st.sampled_from([1, 2]))
def test_multi_margin_loss_gradient_skips_inactive_terms(x, cls, p):
    """The gradient of multi_margin_loss has terms only where margin - x[y] + x[j] > 0 (PyTorch's kernel): an
    infinite input elsewhere gives no NaN."""
    xt = tg.tensor(np.array([x]), requires_grad=True)
    F.multi_margin_loss(xt, tg.tensor([cls]), p=p, reduction="sum").backward()
    a = np.array(x)
    with np.errstate(all="ignore"):
        m = 1 - a[cls] + a
    active = (m > 0) & (np.arange(3) != cls)
    with np.errstate(all="ignore"):
        c = np.where(active, (1.0 if p == 1 else 2 * m) / 3, 0.0)
    want = c.copy()
    want[cls] = -c.sum()
    np.testing.assert_allclose(xt.grad.numpy()[0], want, rtol=1e-12)  # NaN and inf in place


def test_margin_losses_at_inf_and_nan_match_pytorch():
    torch = pytest.importorskip("torch")
    inf, nan = math.inf, math.nan
    x = np.array([[-1.0, 3.0, -inf, -3.0], [inf, nan, 0.5, -0.0], [1e30, -1e30, 2.0, inf]])
    for lib_args in (("multilabel_margin_loss", np.array([[3, 2, 2, 3], [0, -1, 1, 2], [1, 3, -1, 0]])),
                     ("multi_margin_loss", np.array([3, 0, 1])), ("multi_margin_loss_p2", np.array([2, 3, 0]))):
        name, target = lib_args
        res = []
        for lib in (tg, torch):
            xt = lib.tensor(x, requires_grad=True)
            fn = getattr(lib.nn.functional, name.replace("_p2", ""))
            kw = {"p": 2} if name.endswith("_p2") else {}
            with np.errstate(all="ignore"):
                out = fn(xt, lib.tensor(target), reduction="none", **kw)
                out.sum().backward()
            res.append((out.detach().numpy(), xt.grad.numpy()))
        for mine, theirs in zip(res[0], res[1], strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8])
def test_hinge_and_margin_ranking_losses_of_integer_tensors_follow_pytorchs_dtypes(dtype):
    """hinge_embedding_loss computes PyTorch's C++ margin - input as full_like(input, margin) - input, in the
    input's dtype (its mean then refuses an integer loss, its sum is int64); margin_ranking_loss's margin is a
    double, so integer inputs give a float loss."""
    x, t = tg.tensor(np.array([[1, 2, 0], [3, 0, 1]], dtype=dtype)), tg.tensor(np.array([[1, 0, 2], [0, 2, 3]],
                                                                                       dtype=dtype))
    none = F.hinge_embedding_loss(x, t, reduction="none")
    assert none.dtype == dtype
    margin = np.ones((2, 3), dtype=dtype) - x.numpy()  # wraps for uint8, as PyTorch
    want = np.where(t.numpy() != 1, np.maximum(margin, 0), 0) + np.where(t.numpy().astype(np.int64) != -1,
                                                                          x.numpy(), 0)
    np.testing.assert_array_equal(none.numpy(), want.astype(dtype))
    assert F.hinge_embedding_loss(x, t, reduction="sum").dtype == tg.int64
    with pytest.raises(RuntimeError, match="mean"):
        F.hinge_embedding_loss(x, t)
    ranking = F.margin_ranking_loss(x[:, 0], t[:, 0], t[:, 1], reduction="none")
    assert ranking.dtype == tg.float32
    assert F.margin_ranking_loss(x[:, 0], t[:, 0], t[:, 1]).dtype == tg.float32


def test_margin_losses_of_an_empty_integer_batch_are_computed():
    """PyTorch skips its (float-only) kernel for an empty batch: the loss keeps the input's dtype (0 here; PyTorch
    returns uninitialized memory for 'mean'/'sum'); a non-empty integer batch is refused."""
    for dtype in (tg.int64, tg.uint8, tg.bool):
        for red, shape in (("none", (0,)), ("sum", ()), ("mean", ())):
            a = F.multi_margin_loss(tg.zeros(0, 3, dtype=dtype), tg.zeros(0, dtype=tg.int64), reduction=red)
            b = F.multilabel_margin_loss(tg.zeros(0, 3, dtype=dtype), tg.zeros(0, 3, dtype=tg.int64), reduction=red)
            for out in (a, b):
                assert out.dtype == dtype and out.shape == shape and not out.numpy().any()
    with pytest.raises(NotImplementedError, match="multi_margin_loss: not implemented for int64"):
        F.multi_margin_loss(tg.zeros(2, 3, dtype=tg.int64), tg.zeros(2, dtype=tg.int64))


def test_soft_margin_loss_does_not_negate_an_integer_target():
    """PyTorch computes -input * target: a uint8 or bool target is not negated (uint8 -1 would be 255)."""
    x = tg.tensor([[0.5, -1.0, 2.0]])
    for t in (tg.tensor([[1, 0, 1]], dtype=tg.uint8), tg.tensor([[True, False, True]])):
        np.testing.assert_allclose(F.soft_margin_loss(x, t, reduction="none").numpy(),
                                   np.log1p(np.exp(-x.numpy() * t.numpy())), rtol=1e-6)


@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss", "ctc_loss"])
def test_kernel_losses_refuse_float16_as_pytorchs_cpu_kernels(name):
    x = tg.zeros(2, 3, dtype=tg.float16)
    with pytest.raises(NotImplementedError, match=f"{name}: not implemented for 'Half'"):
        if name == "ctc_loss":
            F.ctc_loss(tg.zeros(4, 1, 3, dtype=tg.float16), tg.tensor([[1, 2]]), [4], [2])
        elif name == "multi_margin_loss":
            F.multi_margin_loss(x, tg.tensor([0, 2]))
        else:
            F.multilabel_margin_loss(x, tg.tensor([[0, -1, 1], [2, 1, -1]]))
    if name != "ctc_loss":  # an empty batch skips the kernel
        getattr(F, name)(tg.zeros(0, 3, dtype=tg.float16),
                         tg.zeros((0,) if name == "multi_margin_loss" else (0, 3), dtype=tg.int64))
