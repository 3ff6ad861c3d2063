"""F.fractional_max_pool2d and nn.FractionalMaxPool2d (nn/_functional_fractional.py): PyTorch's windows from the
same _random_samples, its picks (first strict maximum, last NaN), the gradient at the picked elements."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.testing import assert_gradients


def _reference(x, k, out, samples):
    """Loops over every window, as PyTorch's kernel."""
    (kh, kw), (oh, ow) = k, out
    n, c, h, w = x.shape

    def starts(sample, size, osize, pool):
        if osize == 1:
            return [size - pool]
        alpha = np.float64(size - pool) / (osize - 1)
        return [int((i + sample) * alpha) - int(sample * alpha) for i in range(osize - 1)] + [size - pool]

    y = np.empty((n, c, oh, ow))
    for b in range(n):
        for p in range(c):
            for i, r in enumerate(starts(samples[b, p, 1], h, oh, kh)):
                for j, q in enumerate(starts(samples[b, p, 0], w, ow, kw)):
                    y[b, p, i, j] = x[b, p, r:r + kh, q:q + kw].max()
    return y


@given(data=st.data())
def test_values_and_gradients(data):
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(kh, 7)), data.draw(st.integers(kw, 7))
    oh, ow = data.draw(st.integers(1, h - kh + 1)), data.draw(st.integers(1, w - kw + 1))
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) / 7.0  # distinct values: one maximum per window
    samples = tg.tensor(rng.random((n, c, 2)))
    out = F.fractional_max_pool2d(tg.tensor(x), (kh, kw), output_size=(oh, ow), _random_samples=samples)
    np.testing.assert_allclose(out.numpy(), _reference(x, (kh, kw), (oh, ow), samples.numpy()))
    assert_gradients(lambda t: F.fractional_max_pool2d(t, (kh, kw), output_size=(oh, ow), _random_samples=samples),
                     x)


def test_overlapping_windows_add_their_gradients_and_second_order():
    peak = np.zeros((1, 1, 5, 5))
    peak[0, 0, 2, 2] = 1.0  # in all nine 3x3 windows
    x = tg.tensor(peak, requires_grad=True)
    samples = tg.tensor([[[0.3, 0.7]]], dtype=tg.float64)
    out, idx = F.fractional_max_pool2d(x, 3, output_size=3, return_indices=True, _random_samples=samples)
    assert out.grad_fn.name() == "FractionalMaxPool2DBackward0" and idx.dtype == tg.int64
    assert (idx == 12).all()
    out.sum().backward()
    assert x.grad[0, 0, 2, 2].item() == 9 and x.grad.sum().item() == 9
    y = tg.tensor(np.random.default_rng(0).permutation(25).reshape(1, 1, 5, 5) / 5.0, requires_grad=True)
    assert tg.autograd.gradgradcheck(
        lambda t: F.fractional_max_pool2d(t, 2, output_size=3, _random_samples=samples) ** 2, (y,))


def test_unbatched_ratio_module_and_errors():
    x = tg.randn(3, 8, 8)
    assert F.fractional_max_pool2d(x, 2, output_ratio=0.5).shape == (3, 4, 4)
    m = tg.nn.FractionalMaxPool2d(2, output_size=(3, 5), return_indices=True)
    out, idx = m(tg.randn(2, 3, 8, 8))
    assert out.shape == idx.shape == (2, 3, 3, 5)
    with pytest.raises(ValueError, match="either an output size, or a pooling ratio"):
        tg.nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="only one of output_size and output_ratio"):
        tg.nn.FractionalMaxPool2d(2, output_size=2, output_ratio=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        tg.nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(RuntimeError, match="pool height 3 too large relative to input height 4"):
        F.fractional_max_pool2d(tg.randn(1, 1, 4, 4), 3, output_size=3)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D tensor"):
        F.fractional_max_pool2d(tg.randn(4, 4), 2, output_size=2)


@pytest.mark.parametrize("shape,k,o", [((2, 3, 7, 9), (2, 3), (4, 5)), ((3, 6, 6), 2, 3), ((1, 2, 5, 5), 2, 3)])
def test_matches_pytorch(shape, k, o):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    x[..., 0, 0] = np.nan  # PyTorch picks a NaN (the last in its window)
    n = 1 if len(shape) == 3 else shape[0]
    s = rng.random((n, shape[-3], 2)).astype(np.float32)
    xt, xo = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    a, ia = torch.nn.functional.fractional_max_pool2d(xt, k, output_size=o, return_indices=True,
                                                      _random_samples=torch.tensor(s))
    b, ib = F.fractional_max_pool2d(xo, k, output_size=o, return_indices=True, _random_samples=tg.tensor(s))
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    np.testing.assert_array_equal(ia.numpy(), ib.numpy())
    assert a.grad_fn.name() == b.grad_fn.name()
    g = rng.standard_normal(a.shape).astype(np.float32)
    a.backward(torch.tensor(g))
    b.backward(tg.tensor(g))
    # float32 sums of the gradients of overlapping windows: rounded in another order than PyTorch's
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_ties_nans_and_empty_outputs_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        x = rng.integers(0, 3, (2, 3, 7, 7)).astype(dtype)  # many ties: the first strict maximum is picked
        x[0, 0, 1, 1] = x[0, 0, 2, 2] = np.nan  # two NaNs in one window: the last is picked
        x[1, 2] = -np.inf  # a plane of -inf: the first element of each window
        s = rng.random((2, 3, 2)).astype(dtype)
        a, ia = torch.nn.functional.fractional_max_pool2d(torch.tensor(x), 3, output_size=4, return_indices=True,
                                                          _random_samples=torch.tensor(s))
        b, ib = F.fractional_max_pool2d(tg.tensor(x), 3, output_size=4, return_indices=True,
                                        _random_samples=tg.tensor(s))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(ia.numpy(), ib.numpy())
    empty = torch.nn.functional.fractional_max_pool2d(torch.ones(1, 1, 4, 4), 2, output_ratio=(0.1, 0.1))
    assert F.fractional_max_pool2d(tg.ones(1, 1, 4, 4), 2, output_ratio=(0.1, 0.1)).shape == tuple(empty.shape)
    with pytest.raises(RuntimeError, match="kernel_size must be positive"):
        F.fractional_max_pool2d(tg.ones(1, 1, 4, 4), 0, output_size=2)


# ---- an empty first dim (a batch, or the channels of an unbatched input) gives an empty result, as PyTorch;
# an empty non-batch dim is refused
@given(shape=st.sampled_from([(0, 2, 3), (0, 2, 3, 3), (0, 0, 3, 3), (0, 3, 4), (1, 0, 3, 3), (2, 0, 3),
                              (1, 2, 0, 3), (2, 3, 0)]),
       k=st.integers(1, 2), ret=st.booleans())
def test_fractional_max_pool2d_of_empty_inputs(shape, k, ret):
    x = tg.zeros(shape, requires_grad=True)
    if 0 in shape[1:]:
        with pytest.raises(RuntimeError, match="non-zero size for non-batch dimensions"):
            F.fractional_max_pool2d(x, k, output_size=1)
        return
    out = F.fractional_max_pool2d(x, k, output_size=1, return_indices=ret)
    values = out[0] if ret else out
    assert tuple(values.shape) == shape[:-2] + (1, 1)
    if ret:
        assert out[1].shape == values.shape and out[1].dtype == tg.int64
    values.sum().backward()
    assert x.grad.shape == x.shape


def test_fractional_max_pool2d_of_empty_inputs_matches_pytorch():
    torch = pytest.importorskip("torch")
    for shape, kw in [((0, 2, 3), dict(output_size=1)), ((0, 2, 3, 3), dict(output_size=2)),
                      ((0, 2, 3), dict(output_ratio=(0.5, 0.5))), ((1, 0, 3, 3), dict(output_size=2)),
                      ((2, 0, 3), dict(output_size=1)), ((0, 2, 3), dict(output_size=2))]:
        got = []
        for lib in (torch, tg):
            try:
                got.append(tuple(lib.nn.functional.fractional_max_pool2d(lib.zeros(shape), 2 if "ratio" in str(kw)
                                                                         else 1, **kw).shape))
            except RuntimeError:
                got.append(RuntimeError)
        assert got[0] == got[1], (shape, kw, got)
