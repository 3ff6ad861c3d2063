"""pairwise_distance, pdist, PairwiseDistance and CosineSimilarity: values against numpy, gradients against float64
central differences (broadcasting included), errors, and PyTorch's values and gradients when it is installed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd import gradgradcheck
from tapegrad.testing import arrays, assert_forward, assert_gradients, broadcastable_shapes

NORMS = [1.0, 1.5, 2.0, 3.0, np.inf]


def np_norm(d, p, axis=-1, keepdims=False):
    if p == np.inf:
        return np.abs(d).max(axis=axis, keepdims=keepdims)
    return (np.abs(d) ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


@pytest.mark.parametrize("p", NORMS)
@given(data=st.data())
def test_pairwise_distance_forward_and_gradient_with_broadcasting(p, data):
    s1, s2 = data.draw(broadcastable_shapes(min_dims=1))
    # a > 0.5 > -0.5 > b: every difference is away from the kink of |d| at 0
    a, b = data.draw(arrays(s1, min_value=0.5)), data.draw(arrays(s2, max_value=-0.5))
    keepdim = data.draw(st.booleans())
    nd = max(len(s1), len(s2))

    def ref(x, y):
        d = np.broadcast_to(x - y + 1e-6, np.broadcast_shapes(x.shape, y.shape))
        return np_norm(d, p, axis=nd - 1, keepdims=keepdim)

    call = lambda x, y: F.pairwise_distance(x, y, p, keepdim=keepdim)  # noqa: E731
    assert_forward(call, ref, a, b)
    if p != np.inf:  # the max norm has a kink wherever two coordinates tie
        assert_gradients(call, a, b)


@pytest.mark.parametrize("p", [0.5, 1.0, 1.5, 2.0, 3.0, np.inf, 0.0])
@given(data=st.data())
def test_pdist_forward_and_gradient(p, data):
    n, m = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 4))
    x = data.draw(arrays((n, m)))
    rows, cols = np.triu_indices(n, 1)

    def ref(a):
        d = a[rows] - a[cols]
        if p == 0:
            return (d != 0).sum(-1).astype(a.dtype)
        return np_norm(d, p).astype(a.dtype)

    assert_forward(lambda t: F.pdist(t, p), ref, x)
    d = x[rows] - x[cols]
    ties = np.diff(np.sort(np.abs(d)), axis=-1)[:, -1] if m > 1 and d.size else np.ones(1)
    smooth = np.all(np.abs(d) > 1e-3) and (p != np.inf or np.all(ties > 1e-3))
    if smooth:
        assert_gradients(lambda t: F.pdist(t, p), x)


def test_pdist_gradient_at_coincident_rows_is_zero_as_in_pytorch():
    y = tg.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 2.0]], requires_grad=True)
    for p, want in [(0.5, [[-2.4142, -1.7071], [-2.4142, -1.7071], [4.8284, 3.4142]]),
                    (2, [[-0.4472, -0.8944], [-0.4472, -0.8944], [0.8944, 1.7889]]),
                    (np.inf, [[0, -1], [0, -1], [0, 2]])]:
        F.pdist(y, p).sum().backward()
        np.testing.assert_allclose(y.grad.numpy(), want, atol=1e-4)
        y.grad = None


def test_second_order_of_pairwise_distance():
    x1 = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    x2 = tg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    assert gradgradcheck(F.pairwise_distance, (x1, x2))


def test_bad_inputs():
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 1D"):
        F.pdist(tg.zeros(3))
    with pytest.raises(RuntimeError, match="pdist only supports non-negative p"):
        F.pdist(tg.zeros(3, 2), -1)
    with pytest.raises(RuntimeError, match="pdist only supports floating-point"):
        F.pdist(tg.tensor([[1, 2], [3, 4]]))
    with pytest.raises(TypeError, match="pairwise_distance"):
        F.pairwise_distance([1.0], tg.zeros(1))
    assert F.pdist(tg.zeros(1, 3)).shape == (0,) and F.pdist(tg.zeros(0, 3)).shape == (0,)


def test_modules():
    a, b = tg.tensor([[0.0, 0.0], [1.0, 1.0]]), tg.tensor([[3.0, 4.0], [1.0, 1.0]])
    np.testing.assert_allclose(nn.PairwiseDistance(eps=0)(a, b).numpy(), [5, 0])
    assert nn.PairwiseDistance(1, 1e-3, True)(a, b).shape == (2, 1)
    np.testing.assert_allclose(nn.CosineSimilarity()(a, b).numpy(), F.cosine_similarity(a, b).numpy())
    np.testing.assert_allclose(nn.CosineSimilarity(0)(a, b).numpy(), F.cosine_similarity(a, b, 0).numpy())


def test_docstring_examples_run():
    import doctest

    from tapegrad.nn import _functional_distance, distance

    for module in (_functional_distance, distance):
        assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0, np.inf])
def test_matches_torch(p):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((1, 3))
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ot, og = torch.nn.functional.pdist(xt, p), F.pdist(xg, p)
    assert og.grad_fn.name() == ot.grad_fn.name() == "PdistBackward0"
    w = rng.standard_normal(ot.shape)
    (ot * torch.tensor(w)).sum().backward()
    (og * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    xt.grad, xg.grad = None, None
    ot = torch.nn.PairwiseDistance(p, 1e-3, True)(xt, torch.tensor(y))
    og = nn.PairwiseDistance(p, 1e-3, True)(xg, tg.tensor(y))
    ot.sum().backward()
    og.sum().backward()
    np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_pdist_refuses_float16_where_pytorchs_kernel_runs():
    """PyTorch's pdist kernel takes float32 and float64: float16 is refused, except where the kernel does not run
    (fewer than 2 rows, or rows of 0 columns)."""
    with pytest.raises(NotImplementedError, match="\"pdist\" not implemented for 'Half'"):
        F.pdist(tg.zeros(3, 2, dtype=tg.float16))
    assert F.pdist(tg.zeros(1, 3, dtype=tg.float16)).shape == (0,)
    np.testing.assert_array_equal(F.pdist(tg.zeros(3, 0, dtype=tg.float16)).numpy(), [0, 0, 0])


def test_rrelu_in_training_refuses_float16():
    with pytest.raises(NotImplementedError, match="rrelu: not implemented for 'Half' in training"):
        F.rrelu(tg.zeros(2, dtype=tg.float16), training=True)
    assert F.rrelu(tg.zeros(2, dtype=tg.float16)).dtype == tg.float16  # evaluation: leaky_relu, any float dtype


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 2.0, 3.0, float("inf")])
@given(g=st.sampled_from([float("inf"), -float("inf"), float("nan"), 2.5]), rows=st.integers(3, 5),
       cols=st.integers(1, 3))
def test_pdist_gradient_at_coincident_rows_whatever_comes_in(p, g, rows, cols):
    """PyTorch's pdist backward kernels select 0 for a pair at distance 0 after the product with the incoming
    gradient (p = 2, general p, p < 1: an inf or NaN gradient gives 0 there, not NaN); p = 1 and p = inf are plain
    products (sign(0) * inf is NaN there), p = 0 has no gradient (DistanceOpsKernel.cpp)."""
    x = np.tile(np.linspace(-1.0, 1.0, cols), (rows, 1))  # every pair at distance 0
    x[-1] += 0.75  # and the pairs with the last row apart
    t = tg.tensor(x, requires_grad=True)
    d = F.pdist(t, p)
    grads = np.ones(d.shape[0])
    grads[0] = g  # the first pair (rows 0 and 1) is at distance 0
    d.backward(tg.tensor(grads))
    got = t.grad.numpy()
    finite = np.isfinite(g)
    if p == 0 or finite or p not in (1.0, float("inf")):
        assert np.isfinite(got).all()
    else:
        assert np.isnan(got[:2]).all()
    torch = pytest.importorskip("torch")
    tt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.pdist(tt, p).backward(torch.tensor(grads))
    np.testing.assert_allclose(got, tt.grad.numpy(), rtol=1e-12, atol=0)
@pytest.mark.parametrize("shape", [(4, 0), (1, 3), (0, 3), (1, 0), (0, 0)])
def test_pdist_backward_of_float16_raises_even_when_empty_as_pytorch(shape):
    # aten/src/ATen/native/cpu/DistanceOpsKernel.cpp: pdist_backward_kernel_impl dispatches on float32/float64
    # (AT_DISPATCH_FLOATING_TYPES) before looking at the shape; the forward of these shapes never reaches its kernel
    x = tg.zeros(shape, dtype=tg.float16, requires_grad=True)
    y = F.pdist(x)
    assert y.dtype == tg.float16
    with pytest.raises(NotImplementedError, match="\"pdist_backward\" not implemented for 'Half'"):
        y.sum().backward()
    z = tg.zeros(shape, dtype=tg.float32, requires_grad=True)
    F.pdist(z).sum().backward()
    assert z.grad.shape == shape and not z.grad.numpy().any()
    torch = pytest.importorskip("torch")
    t = torch.zeros(shape, dtype=torch.float16, requires_grad=True)
    with pytest.raises(NotImplementedError, match="\"pdist_backward\" not implemented for 'Half'"):
        torch.nn.functional.pdist(t).sum().backward()
