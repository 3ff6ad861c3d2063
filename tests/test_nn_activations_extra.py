"""threshold, hardshrink, softshrink, tanhshrink, glu, prelu, rrelu and the in-place functional forms, with their
modules: values against numpy, gradients against float64 central differences, second order, errors, and
PyTorch's values, gradients, node names and reprs when PyTorch is installed."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd import gradgradcheck
from tapegrad.nn.activation_extra import GLU, Hardshrink, PReLU, RReLU, Softmax2d, Softshrink, Tanhshrink, Threshold
from tapegrad.testing import arrays, assert_forward, assert_gradients, shapes


def away_from(*kinks):
    def move(a):
        for k in kinks:
            a = np.where(np.abs(a - k) < 1e-3, k + 1e-2, a)
        return a

    return move


def _sig(b):
    return 1 / (1 + np.exp(-b))


# name -> (tapegrad call, numpy reference, kinks)
ELEMENTWISE = {
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: np.where(x <= 0.5, -2.0, x), (0.5,)),
    "hardshrink": (lambda x: F.hardshrink(x, 0.7), lambda x: np.where(np.abs(x) <= 0.7, 0.0, x), (-0.7, 0.7)),
    "softshrink": (lambda x: F.softshrink(x, 0.7),
                   lambda x: np.where(x > 0.7, x - 0.7, np.where(x < -0.7, x + 0.7, 0.0)), (-0.7, 0.7)),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x), ()),
    "rrelu_eval": (lambda x: F.rrelu(x, 0.1, 0.3), lambda x: np.where(x > 0, x, 0.2 * x), (0,)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@given(data=st.data())
def test_activation_forward_and_gradient(name, data):
    call, ref, kinks = ELEMENTWISE[name]
    x = data.draw(arrays(shapes()).map(away_from(*kinks)))
    assert_forward(call, lambda a: ref(a).astype(a.dtype), x)
    assert_forward(call, lambda a: ref(a).astype(a.dtype), x, dtype=np.float32, rtol=1e-5, atol=1e-6)
    assert_gradients(call, x)


@given(data=st.data())
def test_glu_forward_and_gradient(data):
    shape = list(data.draw(shapes(min_dims=1)))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape[dim] *= 2
    x = data.draw(arrays(tuple(shape)))

    def ref(a):
        p, q = np.split(a, 2, axis=dim)
        return p * _sig(q)

    assert_forward(lambda t: F.glu(t, dim), ref, x)
    assert_gradients(lambda t: F.glu(t, dim), x)
    gradgradcheck(lambda t: F.glu(t, dim), (tg.tensor(x, requires_grad=True),))


@given(data=st.data())
def test_prelu_forward_and_gradient_for_one_and_per_channel_weights(data):
    shape = data.draw(shapes(min_dims=0, max_dims=4))
    per_channel = len(shape) >= 2 and data.draw(st.booleans())
    x = data.draw(arrays(shape).map(away_from(0)))
    w = data.draw(arrays((shape[1] if per_channel else 1,), min_value=-1, max_value=1))
    view = (w.size,) + (1,) * (len(shape) - 2) if per_channel else ()

    def ref(a, b):
        return np.where(a > 0, a, b.reshape(view) * a)

    assert_forward(F.prelu, ref, x, w)
    assert_gradients(F.prelu, x, w)
    gradgradcheck(F.prelu, (tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)))


def test_rrelu_training_draws_slopes_in_the_range_and_its_gradient_is_the_slope():
    x = tg.tensor(-np.linspace(0.5, 3, 200), requires_grad=True)
    out = F.rrelu(x, 0.1, 0.3, training=True)
    slope = (out / x).detach().numpy()
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.01
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slope)
    pos = tg.tensor([1.0, 2.0])
    np.testing.assert_array_equal(F.rrelu(pos, training=True).numpy(), [1.0, 2.0])
    tg.manual_seed(5)
    a = F.rrelu(x, training=True).detach().numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(F.rrelu(x, training=True).detach().numpy(), a)


def test_second_order_gradients_of_the_smooth_ones():
    x = tg.tensor(np.linspace(-2, 2, 7) + 0.01, requires_grad=True)
    assert gradgradcheck(F.tanhshrink, (x,))
    assert gradgradcheck(lambda t: F.threshold(t, 0.5, 3.0) * t, (x,))
    assert gradgradcheck(lambda t: F.softshrink(t) * t, (x,))


def test_nan_is_kept_and_its_gradient_passes_as_in_pytorch():
    x = tg.tensor([float("nan"), 0.5, -0.5, 0.2, -2.0], requires_grad=True)
    for f, want in [(lambda t: F.hardshrink(t), [np.nan, 0, 0, 0, -2]),
                    (lambda t: F.softshrink(t), [np.nan, 0, 0, 0, -1.5]),
                    (lambda t: F.threshold(t, 0.5, 9.0), [np.nan, 9, 9, 9, 9])]:
        out = f(x)
        out.sum().backward()
        np.testing.assert_array_equal(out.detach().numpy(), want)
        assert x.grad.numpy()[0] == 1
        x.grad = None
    assert np.signbit(F.softshrink(tg.tensor([-0.2])).numpy()[0])


def test_inplace_functional_forms_write_into_the_input():
    for f, ref in [(lambda t: F.threshold_(t, 0.0, 5.0), lambda a: np.where(a <= 0, 5.0, a)),
                   (lambda t: F.threshold(t, 0.0, 5.0, inplace=True), lambda a: np.where(a <= 0, 5.0, a)),
                   (F.elu_, lambda a: np.where(a > 0, a, np.expm1(a))),
                   (F.leaky_relu_, lambda a: np.where(a > 0, a, 0.01 * a)),
                   (F.hardtanh_, lambda a: np.clip(a, -1, 1)),
                   (lambda t: F.rrelu_(t, 0.2, 0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
                   (lambda t: F.rrelu(t, 0.2, 0.2, inplace=True), lambda a: np.where(a > 0, a, 0.2 * a)),
                   (F.celu_, lambda a: np.where(a > 0, a, np.expm1(a))),
                   (F.selu_, lambda a: 1.0507009873554805 * np.where(a > 0, a, 1.6732632423543772 * np.expm1(a)))]:
        a = np.array([-2.0, -0.5, 0.5, 2.0])
        x = tg.tensor(a)
        out = f(x)
        assert out is x
        np.testing.assert_allclose(x.numpy(), ref(a), rtol=1e-12)


def test_inplace_gradients_flow_through_the_result():
    leaf = tg.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    out = F.rrelu_(leaf * 1, 0.2, 0.2)
    out.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), [0.2, 0.2, 1, 1])
    leaf.grad = None
    F.threshold_(leaf * 1, 0.0, -1.0).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [0, 0, 1, 1])


def test_bad_inputs_name_the_op():
    with pytest.raises(RuntimeError, match="glu does not support scalars"):
        F.glu(tg.tensor(1.0))
    with pytest.raises(RuntimeError, match="glu.*dimension 1 is size 3"):
        F.glu(tg.zeros(2, 3))
    with pytest.raises(RuntimeError, match="softshrink: lambda must be in range"):
        F.softshrink(tg.zeros(2), -1.0)
    with pytest.raises(NotImplementedError, match="hardshrink"):
        F.hardshrink(tg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="rrelu: lower bound"):
        F.rrelu(tg.zeros(2), 0.5, 0.2, training=True)
    with pytest.raises(RuntimeError, match="prelu.*scalar or 1D"):
        F.prelu(tg.zeros(2, 3), tg.ones(1, 1))
    with pytest.raises(RuntimeError, match="prelu.*parameter numbers = 4 and channel size = 3"):
        F.prelu(tg.zeros(2, 3), tg.ones(4))
    with pytest.raises(RuntimeError, match="prelu.*channel size = 1"):
        F.prelu(tg.zeros(4), tg.ones(4))
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D"):
        Softmax2d()(tg.zeros(2, 2))
    with pytest.raises(TypeError, match="threshold"):
        F.threshold([1.0], 0.0, 1.0)


def test_threshold_keeps_integer_tensors():
    out = F.threshold(tg.tensor([-1, 3, 5]), 3, 0)
    assert out.dtype == tg.int64
    np.testing.assert_array_equal(out.numpy(), [0, 0, 5])
    np.testing.assert_array_equal(F.threshold(tg.tensor([0, 1, 2]), 0.5, 3).numpy(), [3, 1, 2])
    np.testing.assert_array_equal(F.threshold(tg.tensor([0, 1, 2]), 1, 2.5).numpy(), [2, 2, 2])
    with pytest.raises(NotImplementedError, match="threshold: not implemented for bool"):
        F.threshold(tg.tensor([True, False]), 0, 1)


def test_modules_call_their_functionals_and_keep_parameters():
    x = tg.tensor([[-2.0, 1.0, -0.4, 0.3]])
    np.testing.assert_array_equal(Threshold(0.0, 7.0)(x).numpy(), F.threshold(x, 0.0, 7.0).numpy())
    np.testing.assert_array_equal(Hardshrink(0.35)(x).numpy(), F.hardshrink(x, 0.35).numpy())
    np.testing.assert_array_equal(Softshrink(0.35)(x).numpy(), F.softshrink(x, 0.35).numpy())
    np.testing.assert_array_equal(Tanhshrink()(x).numpy(), F.tanhshrink(x).numpy())
    np.testing.assert_array_equal(GLU(1)(x).numpy(), F.glu(x, 1).numpy())
    p = PReLU(4, init=0.1, dtype=tg.float64)
    assert p.weight.shape == (4,) and p.weight.dtype == tg.float64 and p.weight.requires_grad
    np.testing.assert_array_equal(p.weight.detach().numpy(), 0.1)
    p(x.double()).sum().backward()
    np.testing.assert_allclose(p.weight.grad.numpy(), [-2.0, 0, -0.4, 0])
    assert list(dict(p.named_parameters())) == ["weight"]
    r = RReLU(0.2, 0.2)
    np.testing.assert_allclose(r.eval()(x).numpy(), F.rrelu(x, 0.2, 0.2).numpy())
    s = Softmax2d()(tg.zeros(2, 3, 1, 1))
    np.testing.assert_allclose(s.numpy(), 1 / 3)
    assert nn.PReLU is PReLU and nn.Softmax2d is Softmax2d


def test_docstring_examples_run():
    import doctest

    from tapegrad.nn import _functional_activations, activation_extra

    for module in (_functional_activations, activation_extra):
        assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


# ---------------------------------------------------------------------- PyTorch
TORCH_CASES = {
    "threshold": lambda F, x: F.threshold(x, 0.1, 20.0),
    "hardshrink": lambda F, x: F.hardshrink(x, 0.3),
    "softshrink": lambda F, x: F.softshrink(x, 0.3),
    "tanhshrink": lambda F, x: F.tanhshrink(x),
    "glu": lambda F, x: F.glu(x, 1),
    "glu_last": lambda F, x: F.glu(x),
    "rrelu_eval": lambda F, x: F.rrelu(x, 0.1, 0.4),
    "elu_": lambda F, x: F.elu_(x * 1, 0.7),
    "celu_": lambda F, x: F.celu_(x * 1, 0.7),
    "selu_": lambda F, x: F.selu_(x * 1),
    "leaky_relu_": lambda F, x: F.leaky_relu_(x * 1, 0.2),
    "hardtanh_": lambda F, x: F.hardtanh_(x * 1, -0.5, 0.5),
    "threshold_": lambda F, x: F.threshold_(x * 1, 0.1, -3.0),
    "rrelu_": lambda F, x: F.rrelu_(x * 1, 0.1, 0.4),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ot, og = TORCH_CASES[name](torch.nn.functional, xt), TORCH_CASES[name](F, xg)
    assert og.grad_fn.name() == ot.grad_fn.name()
    w = np.random.default_rng(2).standard_normal(ot.shape)
    (ot * torch.tensor(w)).sum().backward()
    (og * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-12, atol=1e-15)
    # NOTE: PyTorch's CeluBackward1 computes 1 / alpha in float32 (``alpha.toFloat()``), so it is off by ~1e-8.
    rtol = 1e-7 if name == "celu_" else 1e-12
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("nw", [1, 4])
def test_prelu_matches_torch(nw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 3)), rng.standard_normal(nw)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    xg, wg = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
    ot, og = torch.nn.functional.prelu(xt, wt), F.prelu(xg, wg)
    assert og.grad_fn.name() == ot.grad_fn.name() == "PreluKernelBackward0"
    g = rng.standard_normal(ot.shape)
    (ot * torch.tensor(g)).sum().backward()
    (og * tg.tensor(g)).sum().backward()
    np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(wg.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_module_reprs_and_softmax2d_match_torch():
    torch = pytest.importorskip("torch")
    for make in [lambda n: n.RReLU(), lambda n: n.RReLU(0.1, 0.2, inplace=True), lambda n: n.Threshold(0.1, 20),
                 lambda n: n.Threshold(1, 2, True), lambda n: n.Hardshrink(), lambda n: n.Softshrink(0.25),
                 lambda n: n.PReLU(), lambda n: n.PReLU(3), lambda n: n.GLU(), lambda n: n.GLU(0),
                 lambda n: n.Softmax2d(), lambda n: n.Tanhshrink()]:
        assert repr(make(nn)) == repr(make(torch.nn))
    x = np.random.default_rng(4).standard_normal((2, 3, 2, 2))
    np.testing.assert_allclose(nn.Softmax2d()(tg.tensor(x)).numpy(),
                               torch.nn.Softmax2d()(torch.tensor(x)).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(nn.PReLU(3).weight.detach().numpy(), torch.nn.PReLU(3).weight.detach().numpy())


# ---------------------------------------------------------------------- gumbel_softmax
def _seeded_gumbel(t, **kw):
    tg.manual_seed(7)
    return F.gumbel_softmax(t, **kw)


@given(data=st.data())
def test_gumbel_softmax_gradient_and_straight_through_estimator(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert_gradients(lambda t: _seeded_gumbel(t, tau=0.7, dim=dim), x)
    soft = _seeded_gumbel(tg.tensor(x), tau=0.7, dim=dim).numpy()
    np.testing.assert_allclose(soft.sum(dim), 1.0)
    xs, xh = tg.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    hard = _seeded_gumbel(xh, tau=0.7, hard=True, dim=dim)
    onehot = (np.arange(shape[dim]).reshape((-1,) + (1,) * (len(shape) - 1 - dim % len(shape)))
              == np.expand_dims(soft.argmax(dim), dim))
    np.testing.assert_array_equal(hard.detach().numpy(), onehot)
    w = tg.tensor(data.draw(arrays(shape)))
    (hard * w).sum().backward()
    (_seeded_gumbel(xs, tau=0.7, dim=dim) * w).sum().backward()
    np.testing.assert_allclose(xh.grad.numpy(), xs.grad.numpy())


def test_gumbel_max_samples_follow_the_softmax_probabilities():
    logits = np.log(np.array([0.2, 0.3, 0.5]))
    hard = F.gumbel_softmax(tg.tensor(np.tile(logits, (6000, 1))), hard=True).numpy()
    np.testing.assert_allclose(hard.mean(0), [0.2, 0.3, 0.5], atol=0.03)
    with pytest.warns(UserWarning, match="eps.*deprecated"):
        F.gumbel_softmax(tg.zeros(2), eps=1e-3)
    with pytest.raises(NotImplementedError, match="gumbel_softmax"):
        F.gumbel_softmax(tg.tensor([1, 2]))


def test_gumbel_softmax_nodes_match_torch():
    torch = pytest.importorskip("torch")
    xt, xg = torch.zeros(2, 3, requires_grad=True), tg.zeros(2, 3, requires_grad=True)
    for hard in (False, True):
        ot = torch.nn.functional.gumbel_softmax(xt, hard=hard)
        og = F.gumbel_softmax(xg, hard=hard)
        assert og.grad_fn.name() == ot.grad_fn.name()


def test_threshold_inplace_gradient_masks_the_input_before_the_write():
    # PyTorch's ThresholdBackward1: where the input was <= threshold the gradient is 0, even if the value written
    # there is above the threshold (-3 -> 5.0 with threshold 1.0; -3 -> 0.0 with threshold -1.0)
    for th, value, want in [(1.0, 5.0, [0, 0, 1]), (-1.0, 0.0, [0, 1, 1])]:
        leaf = tg.tensor([-3.0, -0.0, 2.0], requires_grad=True)
        F.threshold_(leaf * 1, th, value).sum().backward()
        np.testing.assert_array_equal(leaf.grad.numpy(), want)


# ---------------------------------------------------------------------- threshold's numbers are converted as PyTorch's
_INT_INFO = {np.int64: (-2 ** 63, 2 ** 63 - 1), np.int32: (-2 ** 31, 2 ** 31 - 1), np.int16: (-2 ** 15, 2 ** 15 - 1),
             np.int8: (-128, 127), np.uint8: (0, 255)}


def _fits(v, dtype):
    """Whether PyTorch's checked conversion (c10's Scalar::to) takes the Python number ``v`` into ``dtype``."""
    if isinstance(v, int) and not -2 ** 63 <= v < 2 ** 63:
        v = float(v)  # PyTorch holds a Python int beyond int64 as a double
    if np.dtype(dtype).kind == "f":
        hi = float(np.finfo(dtype).max)
        return not math.isfinite(v) or -hi <= v <= hi
    lo, hi = _INT_INFO[dtype]
    if isinstance(v, int) and -2 ** 63 <= v < 2 ** 63:
        return -hi <= v <= hi if dtype == np.uint8 else lo <= v <= hi  # an unsigned dtype wraps -1 to 255
    return v == v and lo <= v <= hi  # a float: NaN never fits an integer dtype, inf neither


_NUMBERS = st.one_of(st.integers(-2 ** 64, 2 ** 64), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0.5, -0.5, 1.9, -1.5, 255, -255, -256, 255.5, 127.5, -128.5, 3e9, 7e4]))


@given(dtype=st.sampled_from([np.int64, np.int32, np.int16, np.int8, np.uint8, np.float16, np.float32,
                              np.float64]), th=_NUMBERS, value=_NUMBERS)
@example(dtype=np.uint8, th=0, value=256)  # above uint8's max (only negatives down to -255 wrap)
@example(dtype=np.int64, th=0, value=-2 ** 63 - 1)  # beyond int64: a double, -2 ** 63, which fits
@example(dtype=np.int64, th=0.5, value=float("nan"))
@example(dtype=np.float16, th=1e300, value=1.0)  # float16's threshold is converted to float32
def test_threshold_refuses_numbers_the_dtype_cannot_hold_and_truncates_the_others(dtype, th, value):
    """The value is converted to the tensor's dtype and the threshold too (float32 for float16), as PyTorch's
    kernel: NaN, inf or out-of-range numbers are refused for an integer tensor (nan for int64, 3e9 for int32, 1e6
    for float16), others truncated toward zero (a threshold of -0.5 is 0 for integers)."""
    a = np.array([0, 3, 5, 1, 100, 2]).astype(dtype)
    if not (_fits(value, dtype) and _fits(th, np.float32 if dtype == np.float16 else dtype)):
        with pytest.raises(RuntimeError, match="threshold: .* cannot be converted to type"):
            F.threshold(tg.tensor(a), th, value)
        return
    out = F.threshold(tg.tensor(a), th, value).numpy()
    if np.dtype(dtype).kind == "f":
        t, v = (np.float32(th) if dtype == np.float16 else np.asarray(th).astype(dtype)), np.asarray(value, dtype)
    else:
        def trunc(n):
            return np.array(n if isinstance(n, int) and -2 ** 63 <= n < 2 ** 63 else np.trunc(float(n)))

        t = trunc(th).astype(np.int64).astype(dtype)
        v = trunc(value).astype(np.int64).astype(dtype)
    np.testing.assert_array_equal(out, np.where(a <= t, v, a).astype(dtype))


def test_threshold_numbers_match_pytorch():
    torch = pytest.importorskip("torch")
    nums = [0.5, -0.5, 1.9, -1.5, -1, 255, 256, -255, -256, 254.5, 255.5, 127.5, -128.5, 128, -129, 3e9, 1e30, 1e300,
            1e38, 7e4, float("nan"), float("inf"), -float("inf"), True, 2 ** 63, -2 ** 63, 0]
    for dtype in ("int64", "int32", "int8", "uint8", "float16", "float32"):
        a = np.array([0, -1, 5, 1, 100, 3]).astype(dtype)
        for th in nums:
            for value in nums:
                res = []
                for lib in (tg, torch):
                    try:
                        with np.errstate(all="ignore"):
                            res.append(lib.nn.functional.threshold(lib.tensor(a), th, value).numpy())
                    except RuntimeError:
                        res.append(None)
                assert (res[0] is None) == (res[1] is None), (dtype, th, value, res)
                if res[0] is not None:
                    np.testing.assert_array_equal(res[0], res[1], err_msg=f"{dtype} {th} {value}")


def test_prelu_of_zero_channels_takes_an_empty_weight():
    """prelu of an input with 0 channels and an empty weight returns the empty input (as PyTorch), with empty
    gradients."""
    for shape in ((1, 0, 4), (2, 0)):
        x, w = tg.zeros(shape, requires_grad=True), tg.zeros(0, requires_grad=True)
        y = F.prelu(x, w)
        y.sum().backward()
        assert y.shape == shape and x.grad.shape == shape and w.grad.shape == (0,)
    with pytest.raises(RuntimeError, match="prelu: mismatch of parameter numbers"):
        F.prelu(tg.zeros(0), tg.zeros(0))  # a 1-d input has one channel


def test_hardtanh_inplace_does_not_check_its_limits():
    """F.hardtanh_ with min_val > max_val gives max_val everywhere (PyTorch's in-place form has no check);
    F.hardtanh (in place or not) refuses it."""
    for a in ([1.0, 3.0, -1.0], [1, 3, -1]):
        x = tg.tensor(a)
        assert F.hardtanh_(x, 2, 1) is x
        np.testing.assert_array_equal(x.numpy(), [1, 1, 1])
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        F.hardtanh(tg.tensor([1.0]), 2.0, 1.0, inplace=True)
    x = tg.tensor([1.0, 3.0, -1.0], requires_grad=True)
    F.hardtanh_(x * 1, 2.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0])


def test_hardshrink_and_prelu_are_tensor_methods_as_in_pytorch():
    x = tg.tensor([-1.0, 0.2, 2.0, float("nan")])
    np.testing.assert_array_equal(x.hardshrink(0.5).numpy(), tg.nn.functional.hardshrink(x, 0.5).numpy())
    w = tg.tensor([0.25])
    np.testing.assert_array_equal(x.prelu(w).numpy(), tg.nn.functional.prelu(x, w).numpy())


def test_threshold_inplace_into_memory_shared_by_expanded_elements_writes_as_pytorch():
    """threshold_ of a meshgrid output or an expanded tensor: elements sharing a memory location hold the same value
    and get the same write, so PyTorch writes (into the base too); tapegrad refused the read-only view."""
    v = tg.tensor([100, 3, -2, -100])
    grid = tg.meshgrid(v, v, indexing="xy")[0]
    tg.nn.functional.threshold_(grid, 1.5, 0.0)
    assert v.tolist() == [100, 3, 0, 0] and grid.tolist() == [[100, 3, 0, 0]] * 4
    x = tg.tensor([1.0, -2.0, 3.0])
    tg.nn.functional.threshold_(x.expand(2, 3), 0.5, -7.0)
    assert x.tolist() == [1.0, -7.0, 3.0]
    torch = pytest.importorskip("torch")
    u = torch.tensor([100, 3, -2, -100])
    torch.nn.functional.threshold_(torch.meshgrid(u, u, indexing="xy")[0], 1.5, 0.0)
    assert u.tolist() == v.tolist()


def test_threshold_with_inplace_true_is_threshold_into_shared_memory_too():
    """(seed 1220465) F.threshold(..., inplace=True) of an expanded view is threshold_: it writes the shared memory,
    also in grad mode (PyTorch's backward through that write then fails; tapegrad's gradient is the derivative:
    KNOWN pytorch-fill-expanded-backward)."""
    F = tg.nn.functional
    v0 = tg.tensor([3.0, -3.0, -1e30, -1.0], requires_grad=True)
    v1 = v0.amax((-1,))
    r = F.threshold(v1.expand_as(v0), 5.0, -2.0, inplace=True)
    assert r.tolist() == [-2.0] * 4 and v1.item() == -2.0
    r.sum().backward()
    assert v0.grad.tolist() == [0.0] * 4  # (the written value does not depend on v0)
    with tg.no_grad():
        assert F.threshold(tg.tensor(-0.3).expand(2), 0.0, 1.0, inplace=True).tolist() == [1.0, 1.0]
    torch = pytest.importorskip("torch")
    u0 = torch.tensor([3.0, -3.0, -1e30, -1.0], requires_grad=True)
    u1 = u0.amax((-1,))
    assert torch.nn.functional.threshold(u1.expand_as(u0), 5.0, -2.0, inplace=True).tolist() == [-2.0] * 4
    assert u1.item() == -2.0
