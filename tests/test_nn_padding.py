"""The padding modules (ConstantPad, ZeroPad, ReflectionPad, ReplicationPad, CircularPad in 1d/2d/3d): values
against numpy.pad, gradients against float64 central differences, second order, errors, and PyTorch's values,
gradients, node names and reprs when PyTorch is installed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.autograd import gradgradcheck
from tapegrad.testing import arrays, assert_forward, assert_gradients

KINDS = {"Constant": "constant", "Zero": "constant", "Reflection": "reflect", "Replication": "edge",
         "Circular": "wrap"}


def make(kind, k, padding, value=1.5):
    cls = getattr(nn, f"{kind}Pad{k}d")
    return cls(padding, value) if kind == "Constant" else cls(padding)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_padding_modules_forward_and_gradient(kind, k, data):
    batch = data.draw(st.integers(1, 2))  # with a channel dimension, or with batch and channel
    spatial = data.draw(st.lists(st.integers(2, 3), min_size=k, max_size=k))
    shape = (2,) * batch + tuple(spatial)
    limit = {"Reflection": 1, "Circular": 2}.get(kind, 3)  # reflect pads < size, circular pads <= size
    pads = tuple(data.draw(st.lists(st.integers(0, limit), min_size=2 * k, max_size=2 * k)))
    x = data.draw(arrays(shape))
    layer = make(kind, k, pads)
    width = [(0, 0)] * batch + [(pads[2 * i], pads[2 * i + 1]) for i in reversed(range(k))]

    def ref(a):
        if kind == "Constant":
            return np.pad(a, width, constant_values=1.5)
        return np.pad(a, width, mode=KINDS[kind])

    assert_forward(layer, ref, x)
    assert_forward(layer, ref, x, dtype=np.float32)
    assert_gradients(layer, x)


def test_an_int_padding_pads_every_side_and_a_tuple_is_kept():
    assert nn.ZeroPad2d(2).padding == (2, 2, 2, 2)
    assert nn.ReflectionPad3d(1).padding == (1,) * 6
    assert nn.ConstantPad1d([1, 2], 0.0).padding == (1, 2)
    assert nn.ConstantPad2d(1, 3.0).value == 3.0
    out = nn.ConstantPad2d((1, 0, 0, -1), 7.0)(tg.ones(1, 2, 2))
    np.testing.assert_array_equal(out.numpy(), [[[7, 1, 1]]])


def test_second_order_gradients():
    x = tg.tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 3)), requires_grad=True)
    for layer in [nn.ReflectionPad2d((1, 2, 0, 1)), nn.ReplicationPad2d(2), nn.CircularPad2d(1),
                  nn.ConstantPad2d(1, 2.0)]:
        assert gradgradcheck(lambda t, layer=layer: layer(t) ** 2, (x,))


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"CircularPad2d: expected 3D or 4D input \(got 2D input\)"):
        nn.CircularPad2d(1)(tg.zeros(2, 2))
    with pytest.raises(ValueError, match="CircularPad1d: expected 2D or 3D input"):
        nn.CircularPad1d(1)(tg.zeros(2))
    with pytest.raises(RuntimeError, match="pad: reflect padding"):
        nn.ReflectionPad1d(3)(tg.zeros(1, 3))
    with pytest.raises(NotImplementedError, match="pad: padding size 2 is not supported for 4D"):
        nn.ReplicationPad1d(1)(tg.zeros(1, 1, 1, 3))


def test_docstring_examples_run():
    import doctest

    from tapegrad.nn import padding

    assert doctest.testmod(padding, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_matches_torch(kind, k):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(k)
    x = rng.standard_normal((2, 2) + (3,) * k)
    pads = tuple(int(p) for p in rng.integers(0, 3, 2 * k))
    ours = make(kind, k, pads)
    cls = getattr(torch.nn, f"{kind}Pad{k}d")
    theirs = cls(pads, 1.5) if kind == "Constant" else cls(pads)
    assert repr(ours) == repr(theirs)
    assert repr(make(kind, k, 1)) == repr(cls(1, 1.5) if kind == "Constant" else cls(1))
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ot, og = theirs(xt), ours(xg)
    assert og.grad_fn.name() == ot.grad_fn.name()  # (torch::autograd::CopySlices for circular padding too)
    w = rng.standard_normal(ot.shape)
    (ot * torch.tensor(w)).sum().backward()
    (og * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


# (shape, pads, mode): PyTorch refuses a reflect/replicate padding only when every padded dim would be empty
_EMPTYING_PADS = [((2, 1, 4, 4), (2, 0, 0, 2, -1, 0), "reflect"), ((2, 1, 4, 4), (0, 0, 0, 0, -1, 0), "replicate"),
                  ((1, 3, 4), (0, 0, -3, 0), "reflect"), ((1, 3, 4), (0, 0, -3, 0), "replicate"),
                  ((1, 3, 4), (-4, 0, -3, 0), "replicate"), ((1, 2, 3), (-3, 0), "reflect"),
                  ((2, 2, 2, 2), (-2, 0, -2, 0, -2, 0), "replicate")]


@pytest.mark.parametrize("shape, pads, mode", _EMPTYING_PADS)
def test_pad_to_an_empty_dim_is_refused_only_when_all_padded_dims_are_empty(shape, pads, mode):
    x = tg.arange(float(np.prod(shape)), requires_grad=True).reshape(shape)
    everything = all(n + a + b < 1 for n, (a, b) in zip(reversed(shape), zip(pads[::2], pads[1::2])))
    if everything:
        with pytest.raises(RuntimeError, match="too small"):
            tg.nn.functional.pad(x, pads, mode=mode)
        return
    y = tg.nn.functional.pad(x, pads, mode=mode)
    assert 0 in y.shape
    y.sum().backward()
    assert (x.grad is None or not x.grad.numpy().any())
    torch = pytest.importorskip("torch")
    assert tuple(torch.nn.functional.pad(torch.zeros(shape), pads, mode=mode).shape) == tuple(y.shape)
