"""The elementwise family: arithmetic, unary math, rounding, selection, comparisons and logic.

Every differentiable op has a Hypothesis property test of its gradient against float64 central differences
(binary ops over mutually broadcastable shapes), a forward test against the numpy expression it should equal in
float32 and float64, a dtype test, and bad-input tests. Ops with kinks or jumps are checked on inputs kept away
from them (the ``away_*`` transforms); their conventions at the kinks are tested directly.
"""

import doctest
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import dtypes
from tapegrad.autograd import gradgradcheck
from tapegrad.ops import elementwise
from tapegrad.testing import arrays, assert_forward, assert_gradients, boolean_masks, broadcastable_shapes

FLOATS = (np.float32, np.float64)


# ---------------------------------------------------------------------- input transforms (keep off kinks)
def away_from_zero(x, gap=0.25):
    return np.where(x < 0, x - gap, x + gap)


def positive(x):
    return np.abs(x) + 0.1


def away_from_integers(x):
    """Values whose fractional part is in [0.1, 0.4]: away from the jumps of floor/ceil/round/trunc/frac."""
    f = np.floor(x)
    return f + 0.1 + 0.3 * (x - f)


def on_grid(x, step=0.25, offset=0.0):
    """Values on a grid: two grids either coincide exactly or are at least ``step`` apart."""
    return np.round(x / step) * step + offset


def _erf_ref(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def _erfc_ref(x):
    return np.vectorize(math.erfc, otypes=[np.float64])(x).astype(x.dtype)


# name: (tapegrad function, numpy reference, input transform or None)
UNARY = {
    "neg": (tg.neg, np.negative, None),
    "abs": (tg.abs, np.abs, away_from_zero),
    "reciprocal": (tg.reciprocal, lambda x: 1 / x, away_from_zero),
    "square": (tg.square, np.square, None),
    "sqrt": (tg.sqrt, np.sqrt, positive),
    "rsqrt": (tg.rsqrt, lambda x: 1 / np.sqrt(x), positive),
    "exp": (tg.exp, np.exp, None),
    "exp2": (tg.exp2, np.exp2, None),
    "expm1": (tg.expm1, np.expm1, None),
    "deg2rad": (tg.deg2rad, np.deg2rad, None),
    "rad2deg": (tg.rad2deg, np.rad2deg, None),
    "log": (tg.log, np.log, positive),
    "log2": (tg.log2, np.log2, positive),
    "log10": (tg.log10, np.log10, positive),
    "log1p": (tg.log1p, np.log1p, lambda x: np.abs(x) * 0.3 - 0.9),
    "sin": (tg.sin, np.sin, None),
    "cos": (tg.cos, np.cos, None),
    "tan": (tg.tan, np.tan, lambda x: x * 0.4),
    "sinh": (tg.sinh, np.sinh, None),
    "cosh": (tg.cosh, np.cosh, None),
    "asin": (tg.asin, np.arcsin, lambda x: x * 0.3),
    "acos": (tg.acos, np.arccos, lambda x: x * 0.3),
    "atan": (tg.atan, np.arctan, None),
    "tanh": (tg.tanh, np.tanh, None),
    "sigmoid": (tg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), None),
    "relu": (tg.relu, lambda x: np.maximum(x, 0), away_from_zero),
    "erf": (tg.erf, _erf_ref, None),
    "erfc": (tg.erfc, _erfc_ref, None),
    "floor": (tg.floor, np.floor, away_from_integers),
    "ceil": (tg.ceil, np.ceil, away_from_integers),
    "round": (tg.round, np.round, away_from_integers),
    "round_decimals": (lambda x: tg.round(x, decimals=1), lambda x: np.round(x, 1),
                       lambda x: away_from_integers(x * 10) / 10),
    "trunc": (tg.trunc, np.trunc, away_from_integers),
    "frac": (tg.frac, lambda x: x - np.trunc(x), away_from_integers),
    "sign": (tg.sign, np.sign, away_from_zero),
    "positive": (tg.positive, lambda x: x, None),
    # scalar operands and the forms that take numbers
    "add_scalar": (lambda x: x + 2.5, lambda x: x + 2.5, None),
    "radd_scalar": (lambda x: 2.5 + x, lambda x: 2.5 + x, None),
    "sub_scalar_alpha": (lambda x: tg.sub(x, 1.5, alpha=2), lambda x: x - 3.0, None),
    "rsub_scalar": (lambda x: 2.5 - x, lambda x: 2.5 - x, None),
    "rsub": (lambda x: tg.rsub(x, 2.5), lambda x: 2.5 - x, None),
    "mul_scalar": (lambda x: x * -1.5, lambda x: x * -1.5, None),
    "div_scalar": (lambda x: x / 4, lambda x: x / 4, None),
    "rdiv_scalar": (lambda x: 3 / x, lambda x: 3 / x, away_from_zero),
    "pow_2": (lambda x: x ** 2, lambda x: x ** 2, None),
    "pow_3": (lambda x: x ** 3, lambda x: x ** 3, None),
    "pow_0": (lambda x: x ** 0, lambda x: x ** 0, None),
    "pow_1": (lambda x: tg.pow(x, 1), lambda x: x ** 1, None),
    "pow_half": (lambda x: x ** 0.5, np.sqrt, positive),
    "pow_minus_half": (lambda x: x ** -0.5, lambda x: 1 / np.sqrt(x), positive),
    "pow_minus_1": (lambda x: x ** -1, lambda x: 1 / x, away_from_zero),
    "pow_minus_2": (lambda x: x ** -2, lambda x: 1 / (x * x), away_from_zero),
    "pow_2.7": (lambda x: x ** 2.7, lambda x: x ** 2.7, positive),
    "rpow_scalar": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, None),
    "rmod_scalar": (lambda x: 2.5 % x, lambda x: np.remainder(2.5, x), lambda x: np.where(x < 0, -1.0, 1.0)),
    "mod_scalar": (lambda x: x % 1.0, lambda x: np.remainder(x, 1.0), lambda x: away_from_integers(x * 0.8)),
    "fmod_scalar": (lambda x: tg.fmod(x, 1.0), lambda x: np.fmod(x, 1.0), lambda x: away_from_integers(x * 0.8)),
    "clamp": (lambda x: tg.clamp(x, -1.0, 1.5), lambda x: np.clip(x, -1.0, 1.5),
              lambda x: on_grid(x, offset=0.125)),
    "clamp_min": (lambda x: x.clamp_min(0.5), lambda x: np.maximum(x, 0.5), lambda x: on_grid(x, offset=0.125)),
    "clamp_max": (lambda x: tg.clamp_max(x, 0.5), lambda x: np.minimum(x, 0.5), lambda x: on_grid(x, offset=0.125)),
    "clip": (lambda x: x.clip(max=1.0), lambda x: np.minimum(x, 1.0), lambda x: on_grid(x, offset=0.125)),
    "maximum_scalar": (lambda x: tg.maximum(x, tg.tensor(0.5, dtype=x.dtype)), lambda x: np.maximum(x, 0.5),
                       lambda x: on_grid(x, offset=0.1)),
    "where_scalar": (lambda x: tg.where(x > 0, x, 0.5), lambda x: np.where(x > 0, x, 0.5), away_from_zero),
    "lerp_scalar_weight": (lambda x: tg.lerp(x, x * x, 0.3), lambda x: x + 0.3 * (x * x - x), None),
    "lerp_big_weight": (lambda x: tg.lerp(x, x * x, 0.8), lambda x: x * x - (x * x - x) * 0.2, None),
}

# name: (tapegrad function, numpy reference, transform of (a, b) or None)
BINARY = {
    "add": (tg.add, np.add, None),
    "add_alpha": (lambda a, b: tg.add(a, b, alpha=-2.0), lambda a, b: a - 2 * b, None),
    "sub": (tg.sub, np.subtract, None),
    "rsub": (tg.rsub, lambda a, b: b - a, None),
    "mul": (tg.mul, np.multiply, None),
    "div": (tg.div, np.divide, lambda a, b: (a, away_from_zero(b))),
    "pow": (tg.pow, np.power, lambda a, b: (positive(a), b)),
    "maximum": (tg.maximum, np.maximum, lambda a, b: (on_grid(a), on_grid(b))),
    "minimum": (tg.minimum, np.minimum, lambda a, b: (on_grid(a), on_grid(b))),
    "remainder": (tg.remainder, np.remainder,
                  lambda a, b: (away_from_integers(a) * 0.8 + 0.05, np.where(b < 0, -1.0, 1.0))),
    "fmod": (tg.fmod, np.fmod, lambda a, b: (away_from_integers(a) * 0.8 + 0.05, np.where(b < 0, -2.0, 1.0))),
    "atan2": (tg.atan2, np.arctan2, lambda a, b: (away_from_zero(a), b)),  # off the branch cut a = 0, b < 0
    "lerp": (lambda a, b: tg.lerp(a, b, 0.25), lambda a, b: a + 0.25 * (b - a), None),
}

# the differentiable ops in the tables above whose rules get a second-order check
SECOND_ORDER = {
    "mul": (lambda a, b: a * b, (3, 1), (4,)),
    "div": (lambda a, b: a / (b * b + 1), (3,), (2, 3)),
    "pow": (lambda a, b: (a * a + 0.5) ** b, (3,), (3,)),
    "pow_scalar": (lambda a: (a * a + 0.5) ** 3.5 + a ** -2, (3,), None),
    "rpow": (lambda a: 3.0 ** a, (3,), None),
    "exp_log": (lambda a: (a.exp() + 1).log(), (4,), None),
    "sigmoid": (lambda a: tg.sigmoid(a), (4,), None),
    "tanh": (lambda a: tg.tanh(a), (4,), None),
    "erf": (lambda a: tg.erf(a), (4,), None),
    "erfc": (lambda a: tg.erfc(a), (4,), None),
    "sin_cos": (lambda a: a.sin() * a.cos(), (4,), None),
    "sqrt_rsqrt": (lambda a: (a * a + 1).sqrt() + (a * a + 1).rsqrt(), (4,), None),
    "maximum": (lambda a, b: tg.maximum(a, b) * a, (4,), (4,)),
    "where": (lambda a, b: tg.where(a > 0, a * b, b * b), (4,), (4,)),
    "clamp": (lambda a, b: tg.clamp(a * b, -0.5, 0.5) * a, (4,), (4,)),
    "lerp": (lambda a, b: tg.lerp(a, b, a * b), (4,), (4,)),
    "remainder": (lambda a, b: (a % (b * b + 1)) * b, (4,), (4,)),
    "atan2": (lambda a, b: tg.atan2(a, b), (4,), (4,)),
}


# ---------------------------------------------------------------------- forward against numpy and gradients
def _tolerance(dtype):
    return dict(rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=arrays(max_side=3))
def test_unary_forward_and_gradient(name, x):
    fn, ref, transform = UNARY[name]
    x = transform(x) if transform else x
    for dtype in FLOATS:
        assert_forward(fn, ref, x, dtype=dtype, **_tolerance(dtype))
    assert_gradients(fn, x)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_forward_and_gradient_broadcasting(name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    fn, ref, transform = BINARY[name]
    a, b = transform(a, b) if transform else (a, b)
    for dtype in FLOATS:
        assert_forward(fn, ref, a, b, dtype=dtype, **_tolerance(dtype))
    assert_gradients(fn, a, b)


@pytest.mark.parametrize("op", [tg.add, tg.sub, tg.mul, tg.div])
def test_fused_rule_for_both_inputs_matches_the_rule_for_each(op):
    # add, sub, mul and div give both gradients in one call when both inputs require grad
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (4,))
    grads = {}
    for needs in ((True, True), (True, False), (False, True)):
        x = tg.tensor(a, requires_grad=needs[0])
        y = tg.tensor(b, requires_grad=needs[1])
        op(x, y).sum().backward()
        grads[needs] = (x.grad, y.grad)
    np.testing.assert_array_equal(grads[True, True][0].numpy(), grads[True, False][0].numpy())
    np.testing.assert_array_equal(grads[True, True][1].numpy(), grads[False, True][1].numpy())
    assert op(tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)).grad_fn.name() == \
        op(tg.tensor(a, requires_grad=True), tg.tensor(b)).grad_fn.name()


@given(data=st.data())
def test_where_gradient_broadcasting(data):
    shape_c, shape_a, shape_b = data.draw(broadcastable_shapes(3))
    cond = data.draw(boolean_masks(shape_c))
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    assert_gradients(lambda c, a, b: tg.where(c, a, b), cond, a, b)
    assert_gradients(lambda c, a, b: a.where(c, b), cond, a, b)


@given(data=st.data())
def test_lerp_tensor_weight_gradient_broadcasting(data):
    shapes = data.draw(broadcastable_shapes(3))
    a, b, w = (data.draw(arrays(s)) for s in shapes)
    assert_gradients(tg.lerp, a, b, w)


@given(data=st.data())
def test_clamp_tensor_bounds_gradient_broadcasting(data):
    shape_x, shape_lo, shape_hi = data.draw(broadcastable_shapes(3))
    # grids 1/8 and 1/16 apart: x never sits on a bound and the bounds never coincide (all kinks)
    x = on_grid(data.draw(arrays(shape_x)), offset=0.125)
    lo = on_grid(data.draw(arrays(shape_lo)))
    hi = on_grid(data.draw(arrays(shape_hi)), offset=0.0625)
    assert_gradients(lambda x, lo, hi: tg.clamp(x, lo, hi), x, lo, hi)  # includes lo > hi
    assert_gradients(lambda x, lo: tg.clamp(x, min=lo), x, lo)
    assert_gradients(lambda x, hi: x.clamp(max=hi), x, hi)


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order(name):
    fn, shape_a, shape_b = SECOND_ORDER[name]
    rng = np.random.default_rng(0)
    inputs = [tg.tensor(rng.uniform(0.3, 1.5, shape_a) * rng.choice([-1, 1], shape_a), dtype=tg.float64,
                        requires_grad=True)]
    if shape_b is not None:
        inputs.append(tg.tensor(rng.uniform(0.3, 1.5, shape_b), dtype=tg.float64, requires_grad=True))
    assert gradgradcheck(fn, tuple(inputs))


# ---------------------------------------------------------------------- more forward checks, dtypes
@given(data=st.data())
def test_where_lerp_clamp_forward_broadcasting(data):
    shapes = data.draw(broadcastable_shapes(3))
    cond = data.draw(boolean_masks(shapes[0]))
    a, b = data.draw(arrays(shapes[1])), data.draw(arrays(shapes[2]))
    for dtype in FLOATS:
        assert_forward(lambda c, a, b: tg.where(c, a, b), np.where, cond, a, b, dtype=dtype)
        assert_forward(tg.lerp, lambda a, b, w: a + w * (b - a), a, b, a, dtype=dtype)
        assert_forward(tg.clamp, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), a, b, a * 0.5, dtype=dtype)


@pytest.mark.parametrize("rounding", ["floor_divide", "floor", "trunc"])
@given(data=st.data())
def test_rounded_division_forward_and_zero_gradient(rounding, data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(arrays(shape_a)), away_from_zero(data.draw(arrays(shape_b)))
    if rounding == "floor_divide":
        fn, ref = tg.floor_divide, np.floor_divide
    else:
        fn = lambda a, b: tg.div(a, b, rounding_mode=rounding)  # noqa: E731
        ref = np.floor_divide if rounding == "floor" else lambda a, b: np.trunc(a / b)
    for dtype in FLOATS:
        assert_forward(fn, ref, a, b, dtype=dtype, rtol=0, atol=0)
    ia, ib = np.round(a * 3).astype(np.int64), np.round(b * 3).astype(np.int64)  # b stays away from 0
    want = np.floor_divide(ia, ib) if rounding != "trunc" else np.sign(ia) * np.sign(ib) * (abs(ia) // abs(ib))
    got = fn(tg.tensor(ia), tg.tensor(ib))
    assert got.dtype == tg.int64
    np.testing.assert_array_equal(got.numpy(), want)
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    fn(ta, tb).sum().backward()
    assert not ta.grad.numpy().any() and not tb.grad.numpy().any()
    assert ta.grad.shape == ta.shape and tb.grad.shape == tb.shape


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_unary_dtype_preserved_with_gradient(name, dtype):
    fn, _, transform = UNARY[name]
    x0 = np.array([[0.3, -1.2, 2.1], [0.7, 1.6, -0.4]])
    x = tg.tensor(transform(x0) if transform else x0, dtype=dtype, requires_grad=True)
    y = fn(x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_binary_dtype_preserved_with_gradient(name, dtype):
    fn, _, transform = BINARY[name]
    a0, b0 = np.array([[0.3, -1.2, 2.1]]), np.array([[0.7], [1.6]])
    a0, b0 = transform(a0, b0) if transform else (a0, b0)
    a, b = (tg.tensor(v, dtype=dtype, requires_grad=True) for v in (a0, b0))
    y = fn(a, b)
    assert y.dtype == dtype and y.shape == (2, 3)
    y.sum().backward()
    assert a.grad.dtype == dtype and b.grad.dtype == dtype
    assert a.grad.shape == (1, 3) and b.grad.shape == (2, 1)


def test_function_and_method_forms_agree():
    x = tg.tensor([[0.5, 1.5], [2.5, 0.25]])
    y = tg.tensor([0.75, 2.0])
    for name in ["abs", "reciprocal", "square", "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10",
                 "log1p", "sin", "cos", "tan", "sinh", "cosh", "atan", "tanh", "sigmoid", "relu", "erf", "erfc",
                 "floor", "ceil", "round", "trunc", "frac", "sign", "neg", "negative", "absolute", "fix", "sgn",
                 "positive", "isnan", "isinf", "isfinite", "logical_not"]:
        assert tg.equal(getattr(tg, name)(x), getattr(x, name)()), name
    for name in ["add", "sub", "mul", "div", "pow", "remainder", "fmod", "floor_divide", "maximum", "minimum",
                 "atan2", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
                 "subtract", "multiply", "divide", "true_divide", "greater", "less", "isclose"]:
        assert tg.equal(getattr(tg, name)(x, y), getattr(x, name)(y)), name
    assert tg.equal(tg.clamp(x, 0.5, 1.0), x.clip(0.5, 1.0))
    assert tg.equal(tg.lerp(x, y, 0.5), x.lerp(y, 0.5))
    assert tg.equal(tg.where(x > 1, x, y), x.where(x > 1, y))
    assert tg.equal(tg.asin(x * 0.1), tg.arcsin(x * 0.1)) and tg.equal(tg.atan2(x, y), tg.arctan2(x, y))


def test_operators_and_reflected_operators():
    x = tg.tensor([1.0, 2.0, 4.0])
    cases = [(x + 2, [3, 4, 6]), (2 + x, [3, 4, 6]), (x - 1, [0, 1, 3]), (1 - x, [0, -1, -3]),
             (x * 3, [3, 6, 12]), (3 * x, [3, 6, 12]), (x / 2, [0.5, 1, 2]), (4 / x, [4, 2, 1]),
             (x // 3, [0, 0, 1]), (7 // x, [7, 3, 1]), (x % 3, [1, 2, 1]), (7 % x, [0, 1, 3]),
             (x ** 2, [1, 4, 16]), (2 ** x, [2, 4, 16]), (-x, [-1, -2, -4]), (+x, [1, 2, 4]),
             (abs(-x), [1, 2, 4])]
    for got, want in cases:
        assert got.dtype == tg.float32
        np.testing.assert_allclose(got.numpy(), want)
    arr = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    assert isinstance(arr + x, tg.Tensor) and isinstance(arr < x, tg.Tensor)  # numpy defers to Tensor
    np.testing.assert_allclose((arr - x).numpy(), [0, -1, -3])


def test_in_place_forms():
    x = tg.tensor([0.25, 1.0, 4.0])
    x.sqrt_()
    np.testing.assert_allclose(x.numpy(), [0.5, 1.0, 2.0])
    x.exp_().log_().reciprocal_().abs_()
    np.testing.assert_allclose(x.numpy(), [2.0, 1.0, 0.5], rtol=1e-6)
    i = tg.tensor([7, -7])
    i //= 2
    assert i.tolist() == [3, -4] and i.dtype == tg.int64
    i %= 3
    assert i.tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="sqrt_"):
        i.sqrt_()  # a float result cannot be written into an int tensor
    # recorded in place on a non-leaf: the gradient flows through the in-place op
    w = tg.tensor([0.5, -1.0], requires_grad=True)
    y = w * 2
    y.sigmoid_()
    y.sum().backward()
    s = 1 / (1 + np.exp(-2 * w.detach().numpy()))
    np.testing.assert_allclose(w.grad.numpy(), 2 * s * (1 - s), rtol=1e-6)
    assert y.grad_fn.name() == "SigmoidBackward0"


def test_node_names():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert (x * x).grad_fn.name() == "MulBackward0"
    assert (x * 2).grad_fn.name() == "MulBackward0"
    assert (2 ** x).grad_fn.name() == "PowBackward2"
    assert (x ** 2).grad_fn.name() == "PowBackward0"
    assert tg.floor(x).grad_fn.name() == "FloorBackward0"
    assert tg.clamp(x, 0, 1).grad_fn.name() == "ClampBackward1"
    assert tg.where(x > 1, x, 0.0).grad_fn.name() == "WhereBackward0"


# ---------------------------------------------------------------------- conventions at kinks and ties (PyTorch's)
def _grads(fn, *values):
    xs = [tg.tensor(v, dtype=tg.float64, requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.numpy() for x in xs]


def test_kink_conventions():
    np.testing.assert_array_equal(_grads(tg.abs, [-2.0, 0.0, 3.0])[0], [-1, 0, 1])
    np.testing.assert_array_equal(_grads(tg.relu, [-2.0, 0.0, 3.0])[0], [0, 0, 1])
    # clamp: gradient 1 inside, including at the bounds; 0 outside
    np.testing.assert_array_equal(_grads(lambda x: x.clamp(0.0, 1.0), [-1.0, 0.0, 0.5, 1.0, 2.0])[0],
                                  [0, 1, 1, 1, 0])
    # tensor bounds: a bound gets the gradient where it is the result; with min > max the result is max
    gx, glo, ghi = _grads(lambda x, lo, hi: x.clamp(lo, hi), [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0],
                          [0.0, 0.0, 0.0, 0.0, 0.0, 3.5], [1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(gx, [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(glo, [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(ghi, [0, 0, 0, 0, 1, 1])
    # maximum/minimum: ties split the gradient in half
    ga, gb = _grads(tg.maximum, [1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(ga, [0, 0.5, 1])
    np.testing.assert_array_equal(gb, [1, 0.5, 0])
    ga, gb = _grads(tg.minimum, [1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(ga, [1, 0.5, 0])
    np.testing.assert_array_equal(gb, [0, 0.5, 1])
    # piecewise-constant ops have zero (not missing) gradients
    for fn in (tg.floor, tg.ceil, tg.round, tg.trunc, tg.sign, lambda x: x // 2,
               lambda x: tg.div(x, 3, rounding_mode="trunc")):
        np.testing.assert_array_equal(_grads(fn, [-1.5, 0.0, 2.5])[0], [0, 0, 0])
    np.testing.assert_array_equal(_grads(tg.frac, [-1.5, 0.0, 2.5])[0], [1, 1, 1])
    ga, gb = _grads(lambda a, b: a % b, [5.0, -5.0], [2.0, 2.0])
    np.testing.assert_array_equal(ga, [1, 1])
    np.testing.assert_array_equal(gb, [-2, 3])
    ga, gb = _grads(tg.fmod, [5.0, -5.0], [2.0, 2.0])
    np.testing.assert_array_equal(gb, [-2, 2])


def test_pow_at_zero():
    # scalar exponents: PyTorch's e * x ** (e - 1), with exponent 0 giving 0
    for e, value, grad in [(2, 0.0, 0.0), (3, 0.0, 0.0), (0, 1.0, 0.0), (1, 0.0, 1.0), (0.5, 0.0, np.inf),
                           (-1, np.inf, -np.inf), (2.5, 0.0, 0.0)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            x = tg.tensor([0.0], dtype=tg.float64, requires_grad=True)
            y = x ** e
            y.sum().backward()
        assert y.item() == value and x.grad.item() == grad, e
    # tensor exponents: d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = tg.pow(tg.tensor([0.0, 0.0, 0.0, 2.0]), tg.tensor([0.0, 2.0, -1.0, 3.0]))
        ga, gb = _grads(tg.pow, [0.0, 0.0, 0.0, 2.0], [0.0, 2.0, -1.0, 3.0])
    np.testing.assert_array_equal(out.numpy(), [1, 0, np.inf, 8])
    np.testing.assert_array_equal(ga, [0, 0, -np.inf, 12])
    np.testing.assert_allclose(gb, [0, 0, -np.inf, 8 * np.log(2)])
    # number base: 0 ** b and 2 ** b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(_grads(lambda b: 0 ** b, [0.0, 2.0, -1.0])[0], [0, 0, -np.inf])
    np.testing.assert_allclose(_grads(lambda b: 2 ** b, [0.0, 2.0])[0], [np.log(2), 4 * np.log(2)])


# ---------------------------------------------------------------------- extreme inputs
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_sigmoid_extremes_finite_without_warnings(dtype):
    big = 1e4 if dtype == tg.float32 else 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings
        x = tg.tensor([-big, -1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4, big], dtype=dtype, requires_grad=True)
        y = tg.sigmoid(x)
        y.sum().backward()
    out, g = y.detach().numpy(), x.grad.numpy()
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))
    assert out[0] == 0 and out[-1] == 1 and out[4] == 0.5
    np.testing.assert_allclose(out[3], 1 / (1 + math.exp(30)), rtol=1e-6)  # relative accuracy in the tail
    assert g[0] == 0 and g[-1] == 0 and g[4] == 0.25
    np.testing.assert_allclose(g[3], math.exp(-30) / (1 + math.exp(-30)) ** 2, rtol=1e-5)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_tanh_and_erf_saturate_with_zero_gradient(dtype):
    x = tg.tensor([-1e4, -40.0, 40.0, 1e4], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (tg.tanh(x) + tg.erf(x)).sum().backward()
        np.testing.assert_array_equal(tg.erf(x).detach().numpy(), [-1, -1, 1, 1])
        np.testing.assert_array_equal(tg.erfc(x).detach().numpy(), [2, 2, 0, 0])
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 0])


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_exp_and_log_near_overflow_and_underflow(dtype):
    info = np.finfo(dtype)
    top = float(np.log(info.max)) * (1 - 1e-6)  # just below exp's overflow
    x = tg.tensor([top, -top, -1000.0], dtype=dtype, requires_grad=True)
    y = tg.exp(x)
    y.sum().backward()
    out = y.detach().numpy()
    assert np.isfinite(out[0]) and out[0] > info.max / 2
    assert 0 <= out[1] < 1e-30 and out[2] == 0
    np.testing.assert_array_equal(x.grad.numpy(), out)  # d exp = exp, also where it underflows
    tiny = tg.tensor([float(info.tiny), 1.0], dtype=dtype, requires_grad=True)
    y = tg.log(tiny)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [np.log(info.tiny), 0], rtol=1e-6)
    assert np.all(np.isfinite(tiny.grad.numpy())) and tiny.grad.numpy()[0] == np.float64(1 / info.tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        zero = tg.tensor([0.0, -1.0], dtype=dtype, requires_grad=True)
        y = tg.log(zero)  # PyTorch's limits: -inf at 0, nan below
        y.sum().backward()
    assert y[0].item() == -np.inf and np.isnan(y[1].item()) and zero.grad[0].item() == np.inf
    # log1p and expm1 keep relative accuracy near 0, and their gradients are finite at the edges
    small = tg.tensor([1e-30, -1e-30], dtype=dtype)
    np.testing.assert_allclose(tg.log1p(small).numpy(), [1e-30, -1e-30], rtol=1e-6)
    np.testing.assert_allclose(tg.expm1(small).numpy(), [1e-30, -1e-30], rtol=1e-6)


def test_erf_matches_math_erf_to_float64_accuracy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-6, 6, 3000), rng.normal(0, 0.3, 3000), rng.uniform(-30, 30, 500),
                        np.logspace(-300, 1.5, 400), -np.logspace(-300, 1.5, 400),
                        [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0, 26.5, 27.5]])
    for fn, ref in ((tg.erf, math.erf), (tg.erfc, math.erfc)):
        got = fn(tg.tensor(x, dtype=tg.float64)).numpy()
        want = np.array([ref(v) for v in x])
        scale = np.maximum(np.abs(want), 1e-300)
        assert np.max(np.abs(got - want) / scale) < 2e-15, fn.__name__
    special = tg.erf(tg.tensor([np.inf, -np.inf, np.nan], dtype=tg.float64)).numpy()
    np.testing.assert_array_equal(special, [1, -1, np.nan])
    np.testing.assert_array_equal(tg.erfc(tg.tensor([np.inf, -np.inf, 28.0], dtype=tg.float64)).numpy(), [0, 2, 0])
    # float32 results are the float64 ones rounded
    x32 = x.astype(np.float32)
    want32 = np.array([math.erf(v) for v in x32.astype(np.float64)]).astype(np.float32)
    np.testing.assert_allclose(tg.erf(tg.tensor(x32)).numpy(), want32, rtol=2e-7, atol=1e-45)


def test_rsqrt_sqrt_reciprocal_at_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn, value, grad in ((tg.sqrt, 0.0, np.inf), (tg.rsqrt, np.inf, -np.inf),
                                (tg.reciprocal, np.inf, -np.inf)):
            x = tg.tensor([0.0], dtype=tg.float64, requires_grad=True)
            y = fn(x)
            y.sum().backward()
            assert y.item() == value and x.grad.item() == grad, fn.__name__


# ---------------------------------------------------------------------- integer and bool semantics
def test_integer_powers_stay_integer():
    i = tg.tensor([1, 2, 3])
    assert (i ** 2).dtype == tg.int64 and (i ** 2).tolist() == [1, 4, 9]
    assert (i ** 2.0).dtype == tg.float32
    assert (2 ** i).dtype == tg.int64 and (2 ** i).tolist() == [2, 4, 8]
    assert (2.0 ** i).dtype == tg.float32
    assert (i ** i).tolist() == [1, 4, 27] and (i ** i).dtype == tg.int64
    assert tg.tensor([True, False]).square().tolist() == [1, 0]
    assert tg.tensor([2, 3], dtype=tg.int32).pow(2).dtype == tg.int32
    # integer ** negative tensor exponent truncates, as PyTorch: 1 for 1, +-1 for -1, else 0
    base = tg.tensor([1, -1, -1, 2, 0, 5])
    assert (base ** tg.tensor([-1, -1, -2, -1, -1, 1])).tolist() == [1, -1, 1, 0, 0, 5]
    assert (2 ** tg.tensor([-1, 0])).tolist() == [0, 1]


def test_integer_division_and_remainder():
    a, b = tg.tensor([7, -7, 7, -7]), tg.tensor([2, 2, -2, -2])
    assert (a // b).tolist() == [3, -4, -4, 3]
    assert tg.div(a, b, rounding_mode="trunc").tolist() == [3, -3, -3, 3]
    assert tg.div(a, b, rounding_mode="floor").tolist() == [3, -4, -4, 3]
    assert (a % b).tolist() == [1, 1, -1, -1]
    assert tg.fmod(a, b).tolist() == [1, -1, 1, -1]
    assert (a / b).dtype == tg.float32 and (a / b).tolist() == [3.5, -3.5, -3.5, 3.5]
    assert tg.div(a, 2.0, rounding_mode="floor").dtype == tg.float32
    f = tg.tensor([7.5, -7.5])
    np.testing.assert_array_equal(tg.div(f, 2, rounding_mode="trunc").numpy(), [3, -3])
    np.testing.assert_array_equal((f // 2).numpy(), [3, -4])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # sqrt(-1), log(0): nan and -inf, as PyTorch
def test_ops_on_integers_and_bools_follow_pytorch_dtypes():
    i, b = tg.tensor([-1, 2, 3]), tg.tensor([True, False, True])
    assert i.abs().dtype == tg.int64 and i.abs().tolist() == [1, 2, 3]
    assert i.sign().tolist() == [-1, 1, 1] and b.sign().dtype == tg.bool
    assert i.relu().tolist() == [0, 2, 3] and i.relu().dtype == tg.int64
    for op in (tg.floor, tg.ceil, tg.round, tg.trunc):
        assert op(i).dtype == tg.int64 and op(i).tolist() == [-1, 2, 3]
    for op in (tg.exp, tg.sqrt, tg.sigmoid, tg.erf, tg.reciprocal, tg.log, tg.tanh, tg.sin):
        assert op(i).dtype == tg.float32 and op(b).dtype == tg.float32
    assert i.clamp(0.5).dtype == tg.float32 and i.clamp(0, 2).tolist() == [0, 2, 2]
    assert b.clamp(0).dtype == tg.int64
    assert tg.maximum(i, tg.tensor([0.5])).dtype == tg.float32
    assert tg.where(b, 1.0, 0.0).dtype == tg.float32 and tg.where(b, 1, 0).dtype == tg.int64
    assert tg.where(b, True, False).dtype == tg.bool
    assert tg.where(b, i, 2.5).dtype == tg.float32 and tg.where(b, i, 2.5).tolist() == [-1, 2.5, 3]
    assert (b + b).dtype == tg.bool and (b * b).dtype == tg.bool and (b + 1).dtype == tg.int64


def test_where_one_argument_and_numpy_conditions():
    c = tg.tensor([[True, False], [False, True]])
    rows, cols = tg.where(c)
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]
    out = tg.where(np.array([True, False]), tg.tensor([1.0, 2.0]), 0.0)
    assert out.tolist() == [1.0, 0.0]


# ---------------------------------------------------------------------- comparisons and logic
@given(data=st.data())
def test_comparisons_broadcast_and_never_require_grad(data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(shape_a, min_value=-2, max_value=2).map(np.round))
    b = data.draw(arrays(shape_b, min_value=-2, max_value=2).map(np.round))
    ta = tg.tensor(a, requires_grad=True)
    tb = tg.tensor(b)
    for fn, ref in ((tg.eq, np.equal), (tg.ne, np.not_equal), (tg.lt, np.less), (tg.le, np.less_equal),
                    (tg.gt, np.greater), (tg.ge, np.greater_equal)):
        got = fn(ta, tb)
        assert got.dtype == tg.bool and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), ref(a, b))
    for got, want in ((ta == tb, a == b), (ta != tb, a != b), (ta < tb, a < b), (ta <= tb, a <= b),
                      (ta > tb, a > b), (ta >= tb, a >= b), (ta > 0.5, a > 0.5), (0.5 < ta, a > 0.5)):
        assert got.dtype == tg.bool and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want)


def test_comparisons_with_other_types():
    x = tg.tensor([1.0, 2.0])
    assert (x == None) is False and (x != None) is True  # noqa: E711 - Python's fallback, as PyTorch
    assert (x == "a") is False
    with pytest.raises(TypeError):
        x < "a"  # noqa: B015
    assert (tg.tensor([1, 2]) > 1.5).tolist() == [False, True]  # int promoted to float, as PyTorch
    assert (tg.tensor([1, 2]) == tg.tensor([1.0, 2.5])).tolist() == [True, False]


def test_predicates():
    x = tg.tensor([1.0, np.inf, -np.inf, np.nan, 0.0])
    assert tg.isnan(x).tolist() == [False, False, False, True, False]
    assert tg.isinf(x).tolist() == [False, True, True, False, False]
    assert tg.isposinf(x).tolist() == [False, True, False, False, False]
    assert tg.isneginf(x).tolist() == [False, False, True, False, False]
    assert tg.isfinite(x).tolist() == [True, False, False, False, True]
    i = tg.tensor([[1, 2]])
    assert tg.isnan(i).tolist() == [[False, False]] and tg.isfinite(i).tolist() == [[True, True]]
    assert tg.isinf(tg.tensor(True)).tolist() is False
    assert tg.isnan(x).dtype == tg.bool


def test_logical_and_bitwise():
    a, b = tg.tensor([True, True, False, False]), tg.tensor([1.0, 0.0, 2.0, 0.0])
    assert tg.logical_and(a, b).tolist() == [True, False, False, False]
    assert tg.logical_or(a, b).tolist() == [True, True, True, False]
    assert tg.logical_xor(a, b).tolist() == [False, True, True, False]
    assert tg.logical_not(b).tolist() == [False, True, False, True]
    assert tg.logical_and(a.reshape(4, 1), b).shape == (4, 4)
    i = tg.tensor([12, 5])
    assert (i & 10).tolist() == [8, 0] and (10 & i).tolist() == [8, 0]
    assert (i | 3).tolist() == [15, 7] and (3 | i).tolist() == [15, 7]
    assert (i ^ 1).tolist() == [13, 4] and (1 ^ i).tolist() == [13, 4]
    assert (~i).tolist() == [-13, -6] and (~a).tolist() == [False, False, True, True]
    assert (a & True).dtype == tg.bool and (a & tg.tensor([1, 0, 1, 0])).dtype == tg.int64
    assert tg.bitwise_xor(a, a).tolist() == [False] * 4 and tg.bitwise_not(i).tolist() == [-13, -6]
    m = tg.tensor([True, False])
    m &= tg.tensor([True, True])
    m |= tg.tensor([False, False])
    m ^= tg.tensor([False, True])
    assert m.tolist() == [True, True]


def test_equal_isclose_allclose():
    assert tg.equal(tg.tensor([1, 2]), tg.tensor([1.0, 2.0]))
    assert not tg.equal(tg.tensor([1.0, 2.0]), tg.tensor([1.0]))
    assert not tg.equal(tg.tensor([1.0, np.nan]), tg.tensor([1.0, np.nan]))
    assert tg.tensor([1.0]).equal(tg.tensor([1.0]))
    a = tg.tensor([1.0, np.inf, np.nan, 1.0])
    b = tg.tensor([1.0 + 1e-7, np.inf, np.nan, 1.1])
    assert tg.isclose(a, b).tolist() == [True, True, False, False]
    assert tg.isclose(a, b, equal_nan=True).tolist() == [True, True, True, False]
    assert tg.isclose(a, b, rtol=0.2, equal_nan=True).tolist() == [True, True, True, True]
    assert tg.allclose(a[:2], b[:2]) and not tg.allclose(a, b) and tg.allclose(a, b, rtol=0.2, equal_nan=True)
    assert tg.tensor([1.0]).allclose(tg.tensor([1.0 + 1e-9]))
    assert tg.isclose(tg.tensor([[1.0], [2.0]]), tg.tensor([1.0, 2.0])).shape == (2, 2)


# ---------------------------------------------------------------------- bad input
def _binary_ops():
    return [("add", tg.add), ("sub", tg.sub), ("mul", tg.mul), ("div", tg.div), ("pow", tg.pow),
            ("remainder", tg.remainder), ("fmod", tg.fmod), ("floor_divide", tg.floor_divide),
            ("maximum", tg.maximum), ("minimum", tg.minimum), ("atan2", tg.atan2), ("eq", tg.eq), ("lt", tg.lt),
            ("ge", tg.ge), ("logical_and", tg.logical_and), ("isclose", tg.isclose), ("lerp", tg.lerp),
            ("clamp", tg.clamp), ("bitwise_and", lambda a, b: tg.bitwise_and(a.long(), b.long()))]


@pytest.mark.parametrize("name,fn", _binary_ops())
def test_shapes_that_cannot_broadcast_raise_value_error(name, fn):
    a, b = tg.ones(2, 3), tg.ones(4)
    with pytest.raises(ValueError, match=rf"^{name}: cannot broadcast shapes \(2, 3\) and \(4,\)"):
        fn(a, b) if name != "lerp" else fn(a, b, 0.5)


def test_shape_errors_name_every_shape():
    c, a, b = tg.ones(2, 3).bool(), tg.ones(2, 3), tg.ones(5)
    with pytest.raises(ValueError, match=r"where: cannot broadcast shapes \(2, 3\) and \(2, 3\) and \(5,\)"):
        tg.where(c, a, b)
    with pytest.raises(ValueError, match=r"lerp: cannot broadcast shapes \(2, 3\) and \(2, 3\) and \(5,\)"):
        tg.lerp(a, a, b)
    with pytest.raises(ValueError, match=r"clamp: cannot broadcast shapes \(2, 3\) and \(2, 3\) and \(5,\)"):
        tg.clamp(a, a, b)
    with pytest.raises(ValueError, match=r"^add: cannot broadcast shapes \(2, 3\) and \(5,\)"):
        a + b
    with pytest.raises(ValueError, match=r"^mul: cannot broadcast shapes \(5,\) and \(2, 3\)"):
        b * a


@pytest.mark.parametrize("call,name", [
    (lambda x: tg.add(x, "a"), "add"), (lambda x: x + "a", "add"), (lambda x: x * None, "mul"),
    (lambda x: "a" - x, "sub"), (lambda x: x / object(), "div"), (lambda x: x ** "2", "pow"),
    (lambda x: tg.maximum(x, "a"), "maximum"), (lambda x: x % "a", "remainder"), (lambda x: x > None, "gt"),
    (lambda x: tg.add(1, 2), "add"), (lambda x: tg.exp("a"), "exp"), (lambda x: tg.abs([1.0]), "abs"),
    (lambda x: tg.sigmoid(1.0), "sigmoid"), (lambda x: tg.where(x > 0, x, "a"), "where"),
    (lambda x: tg.where("a", x, x), "where"), (lambda x: tg.where(x > 0, "a", 1.0), "where"),
    (lambda x: tg.clamp(x, "a"), "clamp"), (lambda x: tg.lerp(x, 1.0, 0.5), "lerp"),
    (lambda x: tg.logical_and(x, True), "logical_and"), (lambda x: tg.equal(x, [1.0]), "equal"),
    (lambda x: tg.isclose(x, 1.0), "isclose"), (lambda x: ~x, "bitwise_not"), (lambda x: tg.relu("x"), "relu"),
])
def test_unsupported_operand_types_raise_type_error(call, name):
    with pytest.raises(TypeError, match=rf"^{name}: "):
        call(tg.tensor([1.0, 2.0]))


@pytest.mark.parametrize("call,pattern", [
    (lambda: -tg.tensor([True]), r"^neg: not supported for bool tensors"),
    (lambda: tg.tensor([True]) - tg.tensor([False]), r"^sub: not supported for bool"),
    (lambda: tg.tensor([True]) - 1, r"^sub: not supported for bool"),
    (lambda: tg.abs(tg.tensor([True])), r"^abs: not supported for bool"),
    (lambda: tg.relu(tg.tensor([True])), r"^relu: not supported for bool"),
    (lambda: tg.floor(tg.tensor([True])), r"^floor: not supported for bool"),
    (lambda: tg.frac(tg.tensor([1])), r"^frac: not supported for int64"),
    (lambda: tg.tensor([True]) ** tg.tensor([True]), r"^pow: not supported for bool"),
    (lambda: tg.tensor([True]) // tg.tensor([True]), r"^floor_divide.*bool"),
    (lambda: tg.tensor([True]) % tg.tensor([True]), r"^remainder: not supported for bool"),
    (lambda: tg.tensor([2, 3]) ** -1, r"^pow: integers to negative integer powers are not allowed.*-1"),
    (lambda: tg.tensor([2, 3]) // tg.tensor([1, 0]), r"^floor_divide: integer division by zero"),
    (lambda: tg.tensor([2, 3]) % 0, r"^remainder: integer division by zero"),
    (lambda: tg.fmod(tg.tensor([2, 3]), 0), r"^fmod: integer division by zero"),
    (lambda: tg.div(tg.tensor([2]), 0, rounding_mode="trunc"), r"^div: integer division by zero"),
    (lambda: tg.clamp(tg.tensor([1.0])), r"^clamp: at least one of 'min' or 'max'"),
    (lambda: tg.where(tg.tensor([1.0]), 1.0, 0.0), r"^where: expected condition to be a boolean.*float32"),
    (lambda: tg.lerp(tg.tensor([1.0]), tg.tensor([1.0], dtype=tg.float64), 0.5),
     r"^lerp: expected dtype float32 for `end` but got dtype float64"),
    (lambda: tg.lerp(tg.tensor([1.0]), tg.tensor([1.0]), tg.tensor([1.0], dtype=tg.float64)),
     r"^lerp: expected dtype float32 for `weight`"),
    (lambda: tg.lerp(tg.tensor([1]), tg.tensor([1]), 0.5), r"^lerp: not supported for int64"),
    (lambda: tg.isclose(tg.tensor([1.0]), tg.tensor([1.0], dtype=tg.float64)),
     r"^isclose: the dtypes must match, got float32 and float64"),
    (lambda: tg.round(tg.tensor([1]), decimals=1), r"^round: decimals= is not implemented for int64"),
    (lambda: tg.round(tg.tensor([1]), decimals=0), r"^round: decimals= is not implemented for int64"),
    (lambda: tg.tensor([1.0]) & tg.tensor([1.0]), r"^bitwise_and: only integer and bool tensors.*float32"),
])
def test_unsupported_dtypes_and_values_raise_runtime_error(call, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        call()


def test_bad_rounding_mode():
    with pytest.raises(ValueError, match=r"div: rounding_mode must be None, 'trunc' or 'floor', got 'up'"):
        tg.div(tg.tensor([1.0]), 2, rounding_mode="up")


# ---------------------------------------------------------------------- documentation
def test_every_public_function_has_a_docstring_with_an_example():
    for name in elementwise.__all__:
        doc = getattr(elementwise, name).__doc__
        assert doc and ">>>" in doc, name


def test_docstring_examples_run():
    result = doctest.testmod(elementwise, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 50


# ---------------------------------------------------------------------- PyTorch's numbers (optional)
def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.uniform(-2, 2, (3, 4))
    b = away_from_zero(rng.uniform(-2, 2, (4,)))
    p = positive(a)
    r = np.round(a)
    cases = {
        "mul": (lambda m, a, b: a * b, a, b), "div": (lambda m, a, b: a / b, a, b),
        "rsub": (lambda m, a, b: 2.5 - a * b, a, b), "pow": (lambda m, a, b: a ** b, p, b),
        "rpow": (lambda m, a: 2.0 ** a, a), "pow_scalar": (lambda m, a: a ** 2.5 + a ** -1, p),
        "remainder": (lambda m, a, b: a % b, a, b), "fmod": (lambda m, a, b: m.fmod(a, b), a, b),
        "maximum": (lambda m, a, b: m.maximum(a, m.round(b)), r, b),
        "minimum": (lambda m, a, b: m.minimum(a, m.round(b)), r, b),
        "clamp": (lambda m, a: m.clamp(a, -0.5, 1.0), np.array([-1.0, -0.5, 0.0, 1.0, 2.0])),
        "clamp_t": (lambda m, a, lo, hi: m.clamp(a, lo, hi), a, b, np.abs(b)),
        "where": (lambda m, a, b: m.where(a > 0, a, b), a, b), "lerp": (lambda m, a, b: m.lerp(a, b, 0.7), a, b),
        "lerp_t": (lambda m, a, b, w: m.lerp(a, b, w), a, b, a), "atan2": (lambda m, a, b: m.atan2(a, b), a, b),
        "abs": (lambda m, a: m.abs(a), np.array([-1.0, 0.0, 2.0])), "relu": (lambda m, a: m.relu(a), a),
        "sigmoid": (lambda m, a: m.sigmoid(a * 20), a), "erf": (lambda m, a: m.erf(a), a),
        "erfc": (lambda m, a: m.erfc(a * 3), a), "tanh": (lambda m, a: m.tanh(a), a),
        "log": (lambda m, a: m.log(a), p), "log1p": (lambda m, a: m.log1p(a), p),
        "rsqrt": (lambda m, a: m.rsqrt(a), p), "sign": (lambda m, a: m.sign(a), np.array([-2.0, 0.0, np.nan])),
        "frac": (lambda m, a: m.frac(a), a), "round": (lambda m, a: m.round(a * 10, decimals=1), a),
    }
    for name, (fn, *values) in cases.items():
        for dtype in ("float32", "float64"):
            tt = [torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True) for v in values]
            gt = [tg.tensor(v, dtype=getattr(tg, dtype), requires_grad=True) for v in values]
            want, got = fn(torch, *tt), fn(tg, *gt)
            assert str(want.dtype).split(".")[-1] == str(got.dtype), name
            tol = dict(rtol=1e-6, atol=1e-7) if dtype == "float32" else dict(rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), **tol, err_msg=name)
            want.sum().backward()
            got.sum().backward()
            for t, g in zip(tt, gt, strict=True):
                np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), **tol, err_msg=name)


# ---------------------------------------------------------------------- PyTorch's rules found by the differential tests
@pytest.mark.parametrize("call, expected", [
    (lambda: tg.add(tg.tensor([1.5]), tg.tensor([200], dtype=tg.uint8), alpha=2), [401.5]),  # alpha after promotion
    (lambda: tg.add(tg.tensor([True]), tg.tensor([True]), alpha=2), [True]),
    (lambda: tg.add(tg.tensor([1]), tg.tensor([2.5]), alpha=0.5), [2.25]),
    (lambda: tg.tensor([3], dtype=tg.uint8) / tg.tensor(-1), [-3.0]),  # each operand to float from its own value
    (lambda: tg.tensor([3], dtype=tg.int8) / tg.tensor(300), [0.01]),
    (lambda: tg.tensor([True]) ** True, [True]),
    (lambda: tg.remainder(tg.tensor([-1.0, 1.0]), 1.0), [-0.0, 0.0]),
    (lambda: tg.maximum(tg.tensor([-0.0, 0.0]), tg.tensor([0.0, -0.0])), [-0.0, 0.0]),
    (lambda: tg.minimum(tg.tensor([-0.0]), tg.tensor([0.0])), [-0.0]),
    (lambda: tg.maximum(tg.tensor([1.0, float("nan")]), tg.tensor([float("nan"), 1.0])), [float("nan")] * 2),
    (lambda: tg.tensor([-0.0]).clamp_min(False), [-0.0]),
    (lambda: tg.tensor([200], dtype=tg.uint8).clamp_min_(-1), [255]),  # integers wrap into the dtype
    (lambda: tg.tensor([0.5, 2.0]).clamp(min=float("nan")), [float("nan")] * 2),
    (lambda: tg.where(tg.tensor([1, 0], dtype=tg.uint8), 1.0, 0.0), [1.0, 0.0]),
    (lambda: tg.where(tg.tensor([1.0, 0.0]))[0], [0]),
    (lambda: tg.where(tg.tensor(True))[0], [0]),
    (lambda: tg.lerp(tg.zeros(2), tg.ones(2), tg.tensor(0.5, dtype=tg.float64)), [0.5, 0.5]),
    (lambda: tg.tensor([5, 2]).round(), [5, 2]),
    (lambda: tg.zeros(0, dtype=tg.int64) // 0, []),
])
def test_values_pytorch_computes(call, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # where's uint8 condition is deprecated, as in PyTorch
        got = call()
    np.testing.assert_allclose(np.asarray(got.tolist(), dtype=np.float64), expected, rtol=1e-6)
    assert np.array_equal(np.signbit(np.asarray(got.tolist(), dtype=np.float64)),
                          np.signbit(np.asarray(expected, dtype=np.float64)))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: tg.add(tg.tensor([1, 2]), 1, alpha=0.5), RuntimeError, "alpha must not be a floating point"),
    (lambda: tg.add(tg.tensor([1.0]), tg.tensor([1.0]), alpha=True), RuntimeError, "boolean alpha only"),
    (lambda: tg.tensor([0.5]) - False, RuntimeError, "^sub: not supported for bool"),
    (lambda: tg.maximum(tg.tensor([1.0]), True), TypeError, "^maximum: argument 'other' .* must be a Tensor"),
    (lambda: tg.atan2(tg.tensor([1.5]), 2.0), TypeError, "^atan2: argument 'other'"),
    (lambda: tg.eq(2, tg.tensor([1.5])), TypeError, "^eq: argument 'input'"),
    (lambda: tg.fmod(2, tg.tensor([1.5])), TypeError, "^fmod: argument 'input'"),
    (lambda: tg.tensor([True, False]).clamp(max=True), RuntimeError, "^clamp: not implemented for bool"),
    (lambda: tg.tensor([5, 2]).round(decimals=0), NotImplementedError, "^round: decimals="),
    (lambda: tg.tensor([True]) ** tg.tensor([True]), RuntimeError, "^pow: not supported for bool"),
])
def test_errors_where_pytorch_raises(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_pytorch_agrees_on_the_values_and_errors_above():
    torch = pytest.importorskip("torch")
    for call, expected in [(lambda m: m.remainder(m.tensor([-1.0]), 1.0), [-0.0]),
                           (lambda m: m.maximum(m.tensor([-0.0]), m.tensor([0.0])), [-0.0]),
                           (lambda m: m.tensor([200], dtype=m.uint8).clamp_min_(-1), [255]),
                           (lambda m: m.tensor([3], dtype=m.uint8) / m.tensor(-1), [-3.0]),
                           (lambda m: m.add(m.tensor([1.5]), m.tensor([200], dtype=m.uint8), alpha=2), [401.5])]:
        for module in (tg, torch):
            got = np.asarray(call(module).tolist(), dtype=np.float64)
            assert np.array_equal(got, expected) and np.array_equal(np.signbit(got), np.signbit(expected))
    for call in [lambda m: m.maximum(m.tensor([1.0]), True), lambda m: m.eq(2, m.tensor([1.5])),
                 lambda m: m.tensor([0.5]) - False, lambda m: m.add(m.tensor([1, 2]), 1, alpha=0.5)]:
        for module in (tg, torch):
            with pytest.raises((TypeError, RuntimeError)):
                call(module)


@given(data=st.data())
def test_gradients_are_selected_not_multiplied_by_masks(data):
    # an infinite gradient where clamp/relu/maximum cut the input must give 0, not inf * 0 = nan (PyTorch's)
    x = tg.tensor(data.draw(arrays((4,), elements=st.floats(-300, 300))), dtype=tg.float64, requires_grad=True)
    with np.errstate(over="ignore"):
        (tg.clamp(x, -1.0, 1.0).exp() * 0 + tg.relu(x - 400).cosh() + tg.clamp_min(x, 500.0).cosh()).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_abs_and_atan2_gradients_at_nan_zero_and_infinity():
    x = tg.tensor([0.0, float("nan"), -2.0], requires_grad=True)
    x.abs().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, -1.0]
    a = tg.tensor([0.0, float("inf"), 1.0], requires_grad=True)
    b = tg.tensor([0.0, 1.0, 1.0], requires_grad=True)
    tg.atan2(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.5] and b.grad.tolist() == [0.0, 0.0, -0.5]


@pytest.mark.parametrize("name", ["eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "less_equal_"])
def test_in_place_comparison_keeps_the_graph_with_a_zero_gradient(name):
    # issue 9's "requires_grad lost" class: PyTorch keeps requires_grad (LtBackward1, ...) and gives zero gradients
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = x * 1
    getattr(v, name)(tg.tensor([2.0, 2.0, 2.0]))
    assert v.requires_grad and v.grad_fn.name().endswith("Backward1") and v.dtype == tg.float32
    v.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    w = x * 1
    getattr(w, name)(2.0)
    assert w.grad_fn.name().endswith("Backward0")
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        getattr(x, name)(2.0)
    u = tg.tensor([1.0, 2.0])
    assert not getattr(u, name)(1.0).requires_grad  # nothing to record


def test_in_place_comparison_matches_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        v = x * 1
        v.le_(lib.tensor([2.0, 2.0, 2.0]))
        v.sum().backward()
        assert v.tolist() == [1.0, 1.0, 0.0] and v.grad_fn.name() == "LeBackward1" and x.grad.tolist() == [0.0] * 3


def test_rsub_takes_a_tensor_first():
    with pytest.raises(TypeError, match="rsub"):
        tg.rsub(0, tg.tensor(1.0))


def test_float_ops_convert_each_integer_operand_from_its_own_values():
    # PyTorch's float ops (xlogy, atan2, ...) of integer operands: each goes to float from its own values, not
    # through the operands' common integer dtype (-1 next to uint8 is not 255; a 0-d uint8 200 next to int8 is 200)
    assert np.isnan(tg.tensor([254], dtype=tg.uint8).xlogy(-1).item())
    np.testing.assert_allclose(tg.xlogy(tg.tensor([3], dtype=tg.int8), tg.tensor(200, dtype=tg.uint8)).numpy(),
                               [3 * np.log(200)], rtol=1e-6)
    np.testing.assert_allclose(tg.atan2(tg.tensor([200], dtype=tg.uint8), tg.tensor(-1, dtype=tg.int8)).numpy(),
                               [np.arctan2(200, -1)], rtol=1e-6)


# ---------------------------------------------------------------------- float16 with a scalar: PyTorch's opmath
_F16_FORMS = {
    "mul": lambda lib, x, s: x * s,
    "rmul": lambda lib, x, s: s * x,
    "div": lambda lib, x, s: x / s,
    "rdiv": lambda lib, x, s: s / x,
    "floor_divide": lambda lib, x, s: x // s,
    "trunc": lambda lib, x, s: lib.div(x, s, rounding_mode="trunc"),
    "floor": lambda lib, x, s: lib.div(x, s, rounding_mode="floor"),
    "imul": lambda lib, x, s: x.clone().mul_(s),
    "idiv": lambda lib, x, s: x.clone().div_(s),
    "ifloordiv": lambda lib, x, s: x.clone().floor_divide_(s),
    "add_alpha": lambda lib, x, s: lib.add(x, x.flip(0), alpha=s),
    "sub_alpha": lambda lib, x, s: lib.sub(x, x.flip(0), alpha=s),
    "lerp": lambda lib, x, s: lib.lerp(x, x.flip(0), s),
}
_F16_OPMATH = {  # the reference: computed in float32 with the scalar at float32 precision, rounded once
    "mul": np.multiply, "rmul": np.multiply, "div": np.divide, "imul": np.multiply, "idiv": np.divide,
    "floor_divide": np.floor_divide, "ifloordiv": np.floor_divide, "floor": np.floor_divide,
    "trunc": lambda a, b: np.trunc(a / b),
}


@pytest.mark.parametrize("form", sorted(_F16_OPMATH))
@given(x=arrays((4,), dtype=np.float16, elements=st.floats(-1e4, 1e4, width=16)),
       s=st.floats(-1e6, 1e6, allow_subnormal=False).filter(lambda v: abs(v) > 1e-6))
@example(x=np.array([-0.25, 1.5, 0.0, -0.0], np.float16), s=0.05)  # -0.25 // 0.05 is -5 (-6 with 0.05 in float16)
@example(x=np.array([0.001, -2.0, 1.0, 3.0], np.float16), s=1e5)  # 1e5 is inf in float16
@example(x=np.array([1.0, -2.0, 1e4, 3.0], np.float16), s=1e-5)
def test_float16_with_a_scalar_is_computed_in_float32(form, x, s):
    with np.errstate(all="ignore"):
        expected = _F16_OPMATH[form](x.astype(np.float32), np.float32(s)).astype(np.float16)
        # a 0-d tensor counts as the scalar second only (``tensor(s) * x`` is rounded to float16, as PyTorch)
        for scalar in (s,) if form == "rmul" else (s, tg.tensor(s), tg.tensor(s, dtype=tg.float64)):
            got = _F16_FORMS[form](tg, tg.tensor(x), scalar)
            assert got.dtype == tg.float16
            np.testing.assert_array_equal(got.numpy(), expected)


def test_float16_opmath_matches_pytorch():
    torch = pytest.importorskip("torch")
    x16 = np.array([-0.25, 1.5, 0.0, -0.0, 3.1, -1e4, 6e4, 1e-3, float("inf"), float("nan"), -7.0, 0.3],
                   np.float16)
    scalars = [0.05, -1.2345678, 3.3, 1e5, -1e-5, 7, 100000, 1e30, 0.7, -2.5]
    for form, fn in _F16_FORMS.items():
        for s in scalars:
            for make in (lambda lib, s: s, lambda lib, s: lib.tensor(s),
                         lambda lib, s: lib.tensor(s, dtype=lib.float64)):
                if form in ("add_alpha", "sub_alpha") and not isinstance(make(torch, s), (int, float)):
                    continue
                try:
                    theirs = fn(torch, torch.tensor(x16), make(torch, s))
                except RuntimeError:  # alpha=1e5 overflows float16: both refuse
                    with pytest.raises(RuntimeError, match="overflow"):
                        fn(tg, tg.tensor(x16), make(tg, s))
                    continue
                with np.errstate(all="ignore"):
                    ours = fn(tg, tg.tensor(x16), make(tg, s))
                assert ours.dtype == tg.float16
                np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=f"{form} {s!r}")


@pytest.mark.parametrize("form", ["mul", "div", "trunc", "floor", "imul", "idiv"])
@pytest.mark.parametrize("shapes", [((4,), ()), ((4,), (1,)), ((), ()), ((), (1, 1)), ((4,), (1, 1))])
@pytest.mark.parametrize("n, dtype", [(2049, "int64"), (65519, "int32"), (100000, "int64"), (-7, "int8"),
                                      (True, "bool")])
def test_float16_with_a_one_element_integer_tensor_is_computed_in_float32(form, shapes, n, dtype):
    # PyTorch's mul/div kernels take a one-element second operand of a float16 result at its own value in float32
    # (BinaryOpsKernel.cpp: iter.is_scalar(2), original_scalar_value): 3 * 2049 is 6148 there, not 3 * 2048
    x = np.array([3.0, -0.25, 1e4, 0.1], np.float16)[:4 if shapes[0] else 1].reshape(shapes[0])
    if form in ("imul", "idiv") and len(shapes[1]) > len(shapes[0]):
        return  # (the result would be larger than the written tensor)
    with np.errstate(all="ignore"):
        want = _F16_OPMATH[form](x.astype(np.float32), np.float32(n)).astype(np.float16)
    got = _F16_FORMS[form](tg, tg.tensor(x), tg.tensor(np.full(shapes[1], n, dtype)))
    assert got.dtype == tg.float16
    np.testing.assert_array_equal(got.numpy().reshape(-1), want.reshape(-1))
    torch = pytest.importorskip("torch")
    theirs = _F16_FORMS[form](torch, torch.tensor(x), torch.tensor(np.full(shapes[1], n, dtype)))
    assert tuple(got.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(got.numpy(), theirs.numpy())


_WIDE_FORMS = {
    "mul": lambda lib, x, s: x * s, "rmul": lambda lib, x, s: s * x, "div": lambda lib, x, s: x / s,
    "lerp": lambda lib, x, s: lib.lerp(x, x.flip(0) * 0.5, s), "lerp_end": lambda lib, x, s: lib.lerp(x * 0.5, x, s),
}


@pytest.mark.parametrize("form", sorted(_WIDE_FORMS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("s", [-3e38, 1e-7, 0.1, 6e4, 1e5, -2.5, 1e-30])
def test_float16_gradients_with_a_wider_0d_operand_match_pytorch(form, dtype, s):
    # PyTorch's formulas multiply the float16 gradient by the 0-d operand as given, a second operand of its mul:
    # in float32 with its own value (s * x: the forward rounds s to float16, the gradient of x, grad * s, does not;
    # 0 * -3e38 is -0.0, not 0 * -inf = nan); div's (self / other) / other and lerp's grad * weight likewise
    torch = pytest.importorskip("torch")
    x16 = np.array([1.0, -0.5, 3.0, 6e4, 1e-3, 0.0], np.float16)
    g16 = np.array([0.0, 2.0, -1.0, 0.5, 3.0, 0.0], np.float16)
    got = []
    for lib in (tg, torch):
        x = lib.tensor(x16, requires_grad=True)
        w = lib.tensor(s, dtype=getattr(lib, dtype), requires_grad=True)
        with np.errstate(all="ignore"):
            out = _WIDE_FORMS[form](lib, x, w)
            out.backward(lib.tensor(g16))
        got.append([out.detach().numpy(), x.grad.numpy(), w.grad.numpy()])
    for a, b in zip(*got):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
        assert np.array_equal(np.signbit(a) & ~np.isnan(a), np.signbit(b) & ~np.isnan(b))  # (a NaN's: README)


def test_float16_opmath_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    x16 = np.array([-0.25, 1.5, 3.1, -100.0, 6e4, 1e-3], np.float16)
    g16 = np.array([1.0, -2.0, 0.5, 3.0, 1e-3, 7.0], np.float16)
    for form in ("mul", "rmul", "div", "rdiv", "lerp"):
        for s in (0.05, 1e5, 1e-5, -2.5, 0.7):
            grads = []
            for lib in (tg, torch):
                x = lib.tensor(x16, requires_grad=True)
                with np.errstate(all="ignore"):
                    _F16_FORMS[form](lib, x, s).backward(lib.tensor(g16))
                grads.append(x.grad.numpy())
            np.testing.assert_array_equal(*grads, err_msg=f"{form} {s!r}")
    # a 0-d float64 factor that requires grad gets its gradient; the float16 one is computed in float32
    for lib in (tg, torch):
        x = lib.tensor(x16, requires_grad=True)
        s = lib.tensor(1e5, dtype=lib.float64, requires_grad=True)
        (x * s).backward(lib.tensor(g16))
        grads.append((x.grad.numpy(), s.grad.item()))
    np.testing.assert_array_equal(grads[-2][0], grads[-1][0])
    assert grads[-2][1] == pytest.approx(grads[-1][1], rel=1e-3)


def test_float16_round_decimals_and_lerp_huge_weight():
    x = tg.tensor([1.2345, 6e4, 3.14159, -0.0], dtype=tg.float16)
    assert tg.round(x, decimals=3).tolist() == [1.234375, 60000.0, 3.140625, -0.0]  # 6e4 * 1000 is not inf
    assert tg.round(x, decimals=-2).tolist() == [0.0, 60000.0, 0.0, -0.0]
    assert tg.lerp(x, x, 1e30).tolist() == x.tolist()  # 1e30 is a float32 weight, not inf


# ---------------------------------------------------------------------- clamp's bounds (PyTorch's two signatures)
_CLAMP_CASES = [
    "T(3).clamp(-1, T(2.0, dtype=lib.float16))",  # a 0-d tensor next to a number is a number: float32 result
    "lib.clamp(T([3]), -1, T(2.5, dtype=lib.float64))",
    "T([3.]).clamp(T(2.5, dtype=lib.float64), 1)",
    "T([3], dtype=lib.int32).clamp(T(-1.0, dtype=lib.float64))",
    "T([3], dtype=lib.int32).clamp(T(-1))",
    "T([3], dtype=lib.int32).clamp(T([-1]))",
    "T(3, dtype=lib.int64).clamp(T(-1, dtype=lib.int16), T([2], dtype=lib.uint8))",
    "T([3]).clamp(T(-1), T(2.0, dtype=lib.float16))",
    "T([3], dtype=lib.uint8).clamp(-1)",
    "T([True]).clamp(T(False))",
    "T([True]).clamp(0)",
    "T([3], dtype=lib.int32).clamp_min(2.5)",
    "T([3.]).clamp_min(T(2.5, dtype=lib.float64))",
    "T([-0.0, 0.0, nan]).clamp(T([0.0, -0.0, 1.0]))",  # ties keep the input (-0.0 stays), NaN stays
    "T([-0.0, 0.0, 1.0]).clamp(max=T([0.0, -0.0, nan]))",  # a NaN bound gives NaN
    "T([-0.0, 0.0]).clamp(0.0, -0.0)",
]


@pytest.mark.parametrize("case", _CLAMP_CASES)
def test_clamp_bound_dtypes_and_ties_match_pytorch(case):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        out = eval(case, {"lib": lib, "T": lib.tensor, "nan": math.nan})
        results.append((str(out.dtype).split(".")[-1], [math.copysign(1, v) if v == 0 else v for v in
                                                        np.atleast_1d(out.numpy()).astype(float).tolist()]))
    assert repr(results[0]) == repr(results[1]), case


def test_clamp_bound_dtypes():
    # the number signature: a 0-d tensor bound next to a number counts as a number (no gradient reaches it)
    assert tg.tensor(3).clamp(-1, tg.tensor(2.0, dtype=tg.float16)).dtype == tg.float32
    out = tg.tensor([3.0, 1.0]).clamp(tg.tensor(2.5, dtype=tg.float64), 2)
    assert out.dtype == tg.float32 and out.tolist() == [2.0, 2.0] and not out.requires_grad
    with pytest.raises(TypeError, match="0-d tensor that requires grad"):  # PyTorch refuses it as a number
        tg.tensor([3.0, 1.0]).clamp(tg.tensor(2.5, requires_grad=True), 2)
    # the tensor signature: PyTorch's promotion of all three, 0-d tensors of a higher category included
    assert tg.tensor([3], dtype=tg.int32).clamp(tg.tensor(-1.0, dtype=tg.float64)).dtype == tg.float64
    assert tg.tensor([3], dtype=tg.int32).clamp(tg.tensor(-1)).dtype == tg.int32
    assert tg.tensor(3).clamp(tg.tensor(-1, dtype=tg.int16), tg.tensor([2], dtype=tg.uint8)).dtype == tg.uint8
    out = tg.tensor([-0.0, 0.0]).clamp(tg.tensor([0.0, -0.0]))
    assert [math.copysign(1, v) for v in out.tolist()] == [-1, 1]


def test_clamp_refuses_a_number_and_a_tensor_with_dims():
    x = tg.tensor([0.0, 1.0])
    for call in (lambda: tg.clamp(x, 0, tg.tensor([0.5, 0.5])), lambda: x.clip(tg.tensor([0.5]), 1.0),
                 lambda: x.clamp(min=tg.tensor([[0.0]]), max=2)):
        with pytest.raises(TypeError, match="clamp.*number and a .*tensor"):
            call()


def test_clamp_and_alpha_numbers_that_overflow_the_dtype_are_refused():
    for call in (lambda: tg.tensor([3.0]).clamp(max=1e300), lambda: tg.tensor([3.0], dtype=tg.float16).clamp(max=7e4),
                 lambda: tg.tensor([3], dtype=tg.int8).clamp(max=1000),
                 lambda: tg.add(tg.tensor([1.0], dtype=tg.float16), tg.tensor([1.0], dtype=tg.float16), alpha=1e5)):
        with pytest.raises(RuntimeError, match="overflow"):
            call()
    assert tg.tensor([3], dtype=tg.uint8).clamp(-1).tolist() == [255]  # -1 wraps around for uint8, as PyTorch
    assert tg.tensor([3.0]).clamp(max=math.inf).tolist() == [3.0]


def test_true_divide_takes_no_rounding_mode():
    x = tg.tensor([7.0, -7.0])
    for call in (lambda: tg.true_divide(x, 2, rounding_mode="trunc"), lambda: x.true_divide(2, rounding_mode=None),
                 lambda: x.clone().true_divide_(2, rounding_mode="floor")):
        with pytest.raises(TypeError, match="true_divide_?\\(\\) got an unexpected keyword argument 'rounding_mode'"):
            call()
    assert tg.true_divide(tg.tensor([7, -7]), 2).tolist() == [3.5, -3.5]
    assert x.clone().true_divide_(2).tolist() == [3.5, -3.5] and x.true_divide(x).tolist() == [1.0, 1.0]


def test_lerp_zero_d_weight_of_another_dtype():
    # PyTorch skips lerp's dtype check for a 0-d weight: it takes part in the promotion and gets its gradient
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
    y = tg.lerp(x, tg.tensor([3.0, 5.0]), w)
    y.sum().backward()
    assert y.dtype == tg.float32 and y.grad_fn.name() == "LerpBackward1"
    assert w.grad.dtype == tg.float64 and w.grad.item() == pytest.approx(5.0)
    assert tg.lerp(x, tg.tensor([3.0, 5.0]), tg.tensor(2)).tolist() == [5.0, 8.0]
    assert tg.lerp(tg.tensor(1.0), tg.tensor(3.0), tg.tensor(0.5, dtype=tg.float64)).dtype == tg.float64
    with pytest.raises(RuntimeError, match="expected dtype float32 for `weight`"):
        tg.lerp(tg.tensor(1.0), tg.tensor([3.0]), tg.tensor([0.3], dtype=tg.float64))


# ---------------------------------------------------------------------- pow at -0.0 and -inf (C's pow)
_EDGES = [-math.inf, -2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, math.inf, math.nan]


@given(x=arrays((5,), dtype=np.float64, elements=st.sampled_from(_EDGES) | st.floats(-10, 10)),
       e=st.sampled_from([0.5, -0.5, 2.0, -1.0, 3.0, 1.5, 0.0]) | st.floats(-4, 4))
@example(x=np.array([-math.inf, -0.0, 0.0, math.inf, -4.0]), e=0.5)
@example(x=np.array([-math.inf, -0.0, 0.0, math.inf, -4.0]), e=1.5)
def test_pow_of_a_broadcast_exponent_is_c_pow(x, e):
    # a 0-d or one-element exponent tensor gives the values of the same exponent at every element (C's pow, as
    # PyTorch: pow(-inf, 0.5) is inf and pow(-0.0, 0.5) is 0.0, not numpy's sqrt of them)
    # and the base's gradient, e * x ** (e - 1), is C's pow too (seed 1145587: (-inf) ** 1.5 gives inf, not nan)
    with np.errstate(all="ignore"):
        base = tg.tensor(x, requires_grad=True)
        full = base ** tg.tensor(np.full(5, e))
        full.sum().backward()
        for exponent in (tg.tensor(e, dtype=tg.float64), tg.tensor([e], dtype=tg.float64)):
            b = tg.tensor(x, requires_grad=True)
            got = b ** exponent.requires_grad_()
            np.testing.assert_array_equal(got.detach().numpy(), full.detach().numpy())
            np.testing.assert_array_equal(np.signbit(got.detach().numpy()), np.signbit(full.detach().numpy()))
            got.sum().backward()
            np.testing.assert_array_equal(b.grad.numpy(), base.grad.numpy())
            np.testing.assert_array_equal(np.signbit(b.grad.numpy()), np.signbit(base.grad.numpy()))


def test_pow_gradients_at_the_edges_match_pytorch():
    torch = pytest.importorskip("torch")
    import itertools

    a_vals, b_vals = zip(*itertools.product(_EDGES, _EDGES + [3.0, -0.5]))
    for dtype in ("float16", "float32", "float64"):
        grads = []
        for lib in (tg, torch):
            dt = getattr(lib, dtype)
            with np.errstate(all="ignore"):
                a = lib.tensor(a_vals, dtype=dt, requires_grad=True)
                b = lib.tensor(b_vals, dtype=dt, requires_grad=True)
                (a ** b).sum().backward()
                out = [a.grad.numpy(), b.grad.numpy()]
                for e in (0.5, -0.5, 2, 3, -1, -2, 0, 1, 1.5, 2.5, -3, math.inf, -math.inf, 0.0, True):
                    x = lib.tensor(_EDGES, dtype=dt, requires_grad=True)
                    (x ** e).sum().backward()
                    y = lib.tensor(_EDGES, dtype=dt, requires_grad=True)
                    (e ** y).sum().backward() if not isinstance(e, bool) else (2 ** y).sum().backward()
                    out += [x.grad.numpy(), y.grad.numpy()]
            grads.append(out)
        for ours, theirs in zip(*grads):
            np.testing.assert_allclose(ours, theirs, rtol=1e-3 if dtype == "float16" else 1e-5)


@given(x=arrays((5,), dtype=np.float16, elements=st.sampled_from(_EDGES) | st.floats(-10, 10, width=16)),
       e=st.sampled_from([0.5, -0.5, 2.0, -1.0, 3.0, -2.0]))
@example(x=np.array([-math.inf, -0.0, 0.0, math.inf, -4.0], np.float16), e=0.5)
def test_float16_pow_of_a_number_is_c_pow_at_every_exponent(x, e):
    # PyTorch's sqrt/rsqrt/square/reciprocal fast paths are float32/float64's: its float16 pow is C's pow (in
    # float32) for every exponent, the same values as a broadcast exponent tensor's
    with np.errstate(all="ignore"):
        got = tg.tensor(x) ** e
        full = tg.tensor(x) ** tg.tensor(np.full(5, e, np.float16))
    np.testing.assert_array_equal(got.numpy(), full.numpy())
    np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(full.numpy()))


def test_float16_pow_half_is_c_pow_at_negative_zero_and_infinity():
    x = tg.tensor([-math.inf, -0.0, 4.0], dtype=tg.float16, requires_grad=True)
    with np.errstate(all="ignore"):
        y = x ** 0.5
        y.sum().backward()
    assert y.tolist() == [math.inf, 0.0, 2.0] and not np.signbit(y.detach().numpy()[1])
    assert x.grad.tolist() == [0.0, math.inf, 0.25]  # 0.5 * x ** -0.5, C's pow again


@given(x=arrays((3,), dtype=np.float16, elements=st.floats(-40, 40, width=16)),  # (sums stay exact in float16)
       s=st.floats(0.0625, 10, width=32) | st.floats(-10, -0.0625, width=32))
@example(x=np.array([1.2998046875, 0.04998779296875, -0.7001953125], np.float16), s=0.05000000074505806)
def test_fmod_divisor_gradient_of_float16_by_a_0d_tensor_is_pytorchs_opmath(x, s):
    # FmodBackward1's other: -grad * self.div(other, rounding_mode="trunc"), whose float16 kernel divides in float32
    # by the 0-d divisor's own value (1.2998 / 0.05 truncates to 25; by 0.05 rounded to float16, to 26), while the
    # forward's fmod kernel divides by the divisor rounded to float16
    a = tg.tensor(x, requires_grad=True)
    b = tg.tensor(s, dtype=tg.float32, requires_grad=True)
    out = tg.fmod(a, b)
    assert out.dtype == tg.float16 and out.grad_fn.name() == "FmodBackward1"
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out.detach().numpy(), np.fmod(x, np.float16(s)))
    out.backward(tg.ones(3, dtype=tg.float16))
    q = np.trunc(x.astype(np.float32) / np.float32(s)).astype(np.float16)
    assert b.grad.item() == pytest.approx(-float(q.astype(np.float64).sum()), rel=1e-3, abs=1e-3)
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(3, np.float16))
    torch = pytest.importorskip("torch")
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(s, dtype=torch.float32, requires_grad=True)
    torch.fmod(ta, tb).backward(torch.ones(3, dtype=torch.float16))
    assert b.grad.item() == tb.grad.item()


# ---------------------------------------------------------------------- binary gradients of mixed float dtypes
# derivatives.yaml's formulas on the operands as given, each step promoted as PyTorch's: a float32 0-d divisor of
# float16 tensors truncates the quotient in float32 with its own value (fmod's -grad * self.div(other, 'trunc')),
# a float16 0-d atan2 operand beside a float32 one squares in float16 (overflowing: the gradients are signed zeros)
_BINMIX_VALUES = [1.0, -0.5, 0.0, -0.0, 2.5, 3.0, 0.050018310546875, 1e-3, 1e-7, -1e-8, 6e4, -3e38, math.inf]


@st.composite
def _binmix_operand(draw):
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    shape = draw(st.sampled_from([(), (1,), (2,)]))  # (a sum over at most two elements: no order to differ in)
    values = draw(st.lists(st.sampled_from(_BINMIX_VALUES), min_size=math.prod(shape), max_size=math.prod(shape)))
    with np.errstate(over="ignore"):
        return np.array(values, dtype).reshape(shape)


def _binmix_run(m, name, a, b, g):
    x, y = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
    out = getattr(m, name)(x, y)
    out.backward(m.tensor(g.astype(out.detach().numpy().dtype))[:out.numel()].reshape(out.shape))
    return [out.detach().numpy(), x.grad.numpy(), y.grad.numpy()]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["fmod", "remainder", "atan2", "hypot", "copysign", "xlogy", "pow"]), _binmix_operand(),
       _binmix_operand(), st.lists(st.sampled_from([1.0, -2.0, 0.0, 0.5, 0.75]), min_size=2, max_size=2))
@example("fmod", np.array([1.0, 2.0], np.float16), np.array(1e-7, np.float32), [1.0, 1.0])  # -inf, not -3e7
@example("remainder", np.array([1.0, 2.0], np.float16), np.array(1e-7, np.float32), [1.0, 1.0])
@example("atan2", np.array(6e4, np.float16), np.array(0.5, np.float32), [1.0, 1.0])  # -0.0, not -1.7e-5
@example("copysign", np.array(1e-7, np.float32), np.array([1.0, 1.5], np.float16), [1.0, 1.0])  # 2.38, not 2.0
@example("hypot", np.array([6e4, 1.5], np.float16), np.array(0.1, np.float32), [1.0, 1.0])
@example("xlogy", np.array([1.0, 1.0], np.float16), np.array(1e-3, np.float32), [1.0, 1.0])  # 2000, not 1999
@example("pow", np.array([0.0, 0.0], np.float16), np.array(1e-8, np.float32), [1.0, 1.0])  # (1e-8 is not 0: nan)
@example("pow", np.array(1e-3, np.float32), np.array(0.050018310546875, np.float16), [1.0, 1.0])  # float16's exponent
def test_binary_gradients_of_mixed_float_dtypes_as_pytorch(name, a, b, g):
    assume(a.dtype != b.dtype)
    torch = pytest.importorskip("torch")
    with np.errstate(all="ignore"):
        here = _binmix_run(tg, name, a, b, np.array(g))
    there = _binmix_run(torch, name, a, b, np.array(g))
    assert here[0].dtype == there[0].dtype
    # (atan2's values: SLEEF's vectorized atan2 in PyTorch, an ulp from C's in numpy's, differences/README)
    np.testing.assert_allclose(here[0], there[0], rtol=2 * np.finfo(here[0].dtype).eps)
    for got, want in zip(here[1:], there[1:]):
        assert got.dtype == want.dtype and got.shape == want.shape
        if name == "pow":  # (numpy's float32 power is an ulp from PyTorch's on this machine: 3 ** 1.5)
            assert np.array_equal(np.isfinite(got), np.isfinite(want)) and np.array_equal(got == 0, want == 0)
            with np.errstate(invalid="ignore"):
                np.testing.assert_allclose(got, want, rtol=4 * np.finfo(got.dtype).eps)
        else:
            np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got) & ~np.isnan(got), np.signbit(want) & ~np.isnan(want))


@pytest.mark.parametrize("name", ["fmod", "remainder", "atan2", "hypot", "copysign", "xlogy", "pow"])
def test_binary_gradients_of_mixed_float_dtypes_with_create_graph(name):
    # the given rules on tensors (create_graph): the same gradients, and differentiable again
    a = tg.tensor([1.5, 2.5], dtype=tg.float16, requires_grad=True)
    b = tg.tensor(0.75, requires_grad=True)
    first = tg.autograd.grad(getattr(tg, name)(a, b).sum(), (a, b))
    graph = tg.autograd.grad(getattr(tg, name)(a, b).sum(), (a, b), create_graph=True)
    for got, want in zip(graph, first):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.detach().numpy(), want.numpy())
    if graph[0].requires_grad:
        graph[0].sum().backward()


def test_pow_of_a_zero_base_number_with_create_graph():
    # the masked zero of pow_backward_exponent's base-0 branch on tensors too (tensor_xp.zeros(()) refused it)
    x = tg.tensor([1.0, -2.0, 0.0], requires_grad=True)
    (g,) = tg.autograd.grad(tg.pow(0, x).sum(), x, create_graph=True)
    (g0,) = tg.autograd.grad(tg.pow(0, x).sum(), x)
    np.testing.assert_array_equal(g.detach().numpy(), g0.numpy())


def test_fmod_node_names_are_pytorchs():
    x = tg.tensor([1.5], requires_grad=True)
    assert tg.fmod(x, 2.0).grad_fn.name() == "FmodBackward0"  # fmod.Scalar
    assert tg.fmod(x, tg.tensor([2.0])).grad_fn.name() == "FmodBackward1"  # fmod.Tensor


def test_pow_half_gradient_is_one_over_twice_the_square_root():
    # PyTorch's x.pow(-0.5) is 1 / sqrt(x): the gradient of x ** 0.5 is -inf at -0.0 and nan at -inf
    x = tg.tensor([-0.0, -math.inf, 4.0], dtype=tg.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        (x ** 0.5).sum().backward()
    assert x.grad[0].item() == -math.inf and math.isnan(x.grad[1].item()) and x.grad[2].item() == 0.25



def test_abs_gradient_is_g_times_sign_as_pytorch():
    # PyTorch's abs backward multiplies by sign(x): an infinite gradient at 0 (or at NaN) gives NaN, a finite one 0
    x = tg.tensor([0.0, -0.0, 2.0, -2.0, math.nan, math.inf, -math.inf, 0.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        x.abs().backward(tg.tensor([math.inf, -math.inf, math.inf, math.inf, math.inf, 1.0, -1.0, 3.0]))
    got = x.grad.numpy()
    assert np.isnan(got[[0, 1, 4]]).all() and got[[2, 3, 5, 6, 7]].tolist() == [math.inf, -math.inf, 1.0, 1.0, 0.0]
    assert got.dtype == np.float32


@pytest.mark.parametrize("divisor_needs_grad", [True, False])
@pytest.mark.parametrize("changed", ["out", "input", "other"])
def test_div_keeps_only_what_its_gradient_reads_as_pytorch(divisor_needs_grad, changed):
    # PyTorch's DivBackward0 keeps the divisor, and the dividend only if the divisor needs its gradient; never
    # the result (tapegrad read the result: changing it in place before backward raised)
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        a = lib.tensor([2.0, -3.0], requires_grad=True)
        b = lib.tensor([4.0, 0.5], requires_grad=divisor_needs_grad)
        out = a.div(b)
        with lib.no_grad():
            {"out": out, "input": a, "other": b}[changed].neg_()
        try:
            (out * lib.tensor([1.0, 2.0])).sum().backward()
        except RuntimeError:
            results.append(None)
            continue
        results.append([t.grad.numpy() for t in (a, b) if t.grad is not None])
    assert (results[0] is None) == (results[1] is None), results
    if results[0] is not None:
        for mine, theirs in zip(results[0], results[1], strict=True):
            np.testing.assert_array_equal(mine, theirs)


@given(st.lists(st.sampled_from([-0.0, 0.0, -1.5, 2.0, float("-inf"), float("inf"), float("nan")]), min_size=1,
                max_size=20), st.sampled_from(["float16", "float32", "float64"]))
@example([-0.0], "float16")
def test_relu_keeps_negative_zero_in_every_float_dtype(values, dtype):
    """relu is x < 0 ? 0 : x in PyTorch: -0.0 stays -0.0 and NaN stays NaN, float16 too (numpy's float16 maximum
    gave +0.0 for -0.0)."""
    x = np.array(values, dtype=dtype)
    want = np.where(x < 0, np.zeros((), dtype), x)
    for out in (tg.relu(tg.tensor(x)), tg.nn.functional.relu(tg.tensor(x)), tg.tensor(x).relu_()):
        got = out.numpy()
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64"])
@pytest.mark.parametrize("name", ["sin", "exp", "sqrt", "sigmoid"])
def test_float_ops_of_expanded_integer_tensors_are_contiguous_as_pytorch(name, dtype):
    """numpy's astype of a broadcast array puts the stretched dim innermost; PyTorch's result is contiguous, so a
    view of it that PyTorch allows must not be refused."""
    x = tg.tensor(np.arange(12).reshape(3, 4) % 3, dtype=dtype).broadcast_to((2, 3, 4))
    out = getattr(tg, name)(x)
    assert out.is_contiguous() and out.stride() == (12, 4, 1)
    assert out[1].view(12).shape == (12,)
    torch = pytest.importorskip("torch")
    t = torch.tensor(np.arange(12).reshape(3, 4) % 3, dtype=getattr(torch, dtype)).broadcast_to((2, 3, 4))
    assert getattr(torch, name)(t).stride() == out.stride()


_INT_DTYPES = [np.int8, np.uint8, np.int16, np.int32]


@given(st.sampled_from(_INT_DTYPES), st.integers(-2 ** 40, 2 ** 40) | st.integers(-300, 300), st.booleans())
@example(np.int8, 300, True)
@example(np.uint8, -1, False)
@example(np.uint8, -256, False)
def test_where_checks_a_number_against_the_result_dtype(dtype, number, first):
    mask = tg.tensor([True, False])
    t = tg.tensor(np.array([1, 2], dtype=dtype))
    info = np.iinfo(dtype)
    fits = info.min <= number <= info.max or (info.min == 0 and -int(info.max) <= number < 0)
    args = (mask, number, t) if first else (mask, t, number)
    if not fits:  # c10's checked conversion: refused, never wrapped silently
        with pytest.raises(RuntimeError, match="where: value .* cannot be converted to .* without overflow"):
            tg.where(*args)
        return
    out = tg.where(*args)
    assert out.dtype == t.dtype
    want = number % (int(info.max) + 1) if number < 0 and info.min == 0 else number  # unsigned: -1 wraps, as c10
    assert out.tolist()[0 if first else 1] == want


@pytest.mark.parametrize("dtype", _INT_DTYPES)
def test_integer_pow_checks_the_exponent(dtype):
    t = tg.tensor(np.array([1, 2], dtype=dtype))
    big = int(np.iinfo(dtype).max) + 1
    with pytest.raises(RuntimeError, match=f"pow: value {big} cannot be converted to type"):
        t ** big
    assert (t ** 3).tolist() == [1, 8]


def _outcome(f):
    try:
        return f().tolist()
    except RuntimeError:
        return "raises"


def test_where_and_pow_number_checks_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [(np.int8, 300), (np.int8, -129), (np.int8, 127), (np.uint8, -1), (np.uint8, 255), (np.uint8, -256),
             (np.int16, 40000)]
    for dtype, number in cases:
        got = []
        for lib in (tg, torch):
            t = lib.tensor(np.array([1, 2], dtype=dtype))
            mask = lib.tensor([True, False])
            got.append([_outcome(lambda: lib.where(mask, t, number)),  # noqa: B023 (called at once)
                        _outcome(lambda: t ** number) if number >= 0 else None])  # noqa: B023
        assert got[0] == got[1], (dtype, number)


@given(st.one_of(st.floats(allow_nan=False), st.integers(-10 ** 6, 10 ** 6)))
@example(1e30)
@example(65504.0)
@example(65505.0)
@example(float("inf"))
def test_float16_pow_checks_a_number_exponent(e):
    # PyTorch converts a number exponent to float16 with c10's check (finite beyond 65504 is refused; inf is not)
    x = tg.tensor([0.5, 2.0], dtype=tg.float16)
    if math.isfinite(e) and abs(e) > 65504:
        for f in (lambda: x ** e, lambda: x.clone().pow_(e)):
            with pytest.raises(RuntimeError, match="pow: value .* cannot be converted to type float16"):
                f()
    else:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert (x ** e).dtype == tg.float16


def test_float16_pow_exponent_check_matches_pytorch():
    torch = pytest.importorskip("torch")
    for e in (1e30, 1e5, 65504.0, 65505.0, 70000, float("inf"), -1e5, 2):
        got = []
        for lib in (tg, torch):
            x = lib.tensor([0.5, 2.0], dtype=lib.float16)
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    got.append((x ** e).tolist())
            except RuntimeError:
                got.append("raises")
        assert got[0] == got[1], e


@given(st.sampled_from(["int64", "int32", "uint8", "bool"]), st.sampled_from(["float16", "float32", "float64"]),
       st.integers(0, 2 ** 62), st.lists(st.sampled_from([0.0, 1.0, -2.5]), min_size=3, max_size=3))
@example("int64", "float16", 2 ** 63 - 1, [0.0, 1.0, 0.0])
def test_lerp_integer_weight_gradient_multiplies_by_the_integer_itself(wdtype, dtype, w, g):
    # PyTorch's LerpBackward1 multiplies grad by (1 - weight) and weight with the 0-d integer weight a CPU scalar
    # (read at the opmath precision): a zero gradient stays 0 where the weight overflows float16 (not 0 * inf)
    info = np.iinfo(wdtype) if wdtype != "bool" else None
    wv = bool(w % 2) if info is None else w % (int(info.max) + 1)
    x = tg.tensor([-2.5, 0.5, 0.0], dtype=getattr(tg, dtype), requires_grad=True)
    e = tg.tensor([1.0, 1.0, 2.0], dtype=getattr(tg, dtype), requires_grad=True)
    out = x.lerp(e, tg.tensor(wv, dtype=getattr(tg, wdtype)))
    out.backward(tg.tensor(g, dtype=getattr(tg, dtype)))
    with np.errstate(over="ignore"):
        want_x = (np.array(g) * (1.0 - float(wv))).astype(dtype)
        want_e = (np.array(g) * float(wv)).astype(dtype)
    np.testing.assert_array_equal(x.grad.numpy(), want_x)
    np.testing.assert_array_equal(e.grad.numpy(), want_e)
    (gx,) = tg.autograd.grad(x.lerp(e, tg.tensor(wv, dtype=getattr(tg, wdtype))), x,
                             tg.tensor(g, dtype=getattr(tg, dtype)), create_graph=True)
    np.testing.assert_array_equal(gx.detach().numpy(), want_x)


def test_lerp_integer_weight_gradient_matches_pytorch_where_it_overflows_float16():
    torch = pytest.importorskip("torch")
    grads = []
    for m in (tg, torch):
        x = m.tensor([[-2.5, 0.5, 0.0], [1.0, -0.25, -2.5]], dtype=m.float16, requires_grad=True)
        out = x.lerp(x, m.tensor(9223372036854775807))
        out.backward(m.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0]], dtype=m.float16))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(*grads)
_ALPHA_CASES = {
    "add_": lambda lib, v, big: v.clone().add_(v, alpha=big), "sub_": lambda lib, v, big: v.clone().sub_(v, alpha=big),
    "add_number": lambda lib, v, big: v.clone().add_(1, alpha=big), "add": lambda lib, v, big: v.add(v, alpha=big),
    "sub": lambda lib, v, big: v.sub(v, alpha=big), "rsub": lambda lib, v, big: lib.rsub(v, v, alpha=big),
    "lerp": lambda lib, v, big: v.lerp(v, big), "lerp_": lambda lib, v, big: v.clone().lerp_(v, big),
}


@pytest.mark.parametrize("case", sorted(_ALPHA_CASES))
@pytest.mark.parametrize("dtype,big", [("int8", 300), ("int8", -129), ("uint8", 70000), ("int16", 70000),
                                       ("float16", 1e6), ("float32", 1e39), ("float64", 1e39), ("float32", 2.0)])
def test_a_number_out_of_the_dtype_s_range_raises_pytorch_s_runtime_error(case, dtype, big):
    """alpha (and lerp's weight) is converted with c10's overflow check: out of the result dtype's range it raises
    RuntimeError naming the value (int8 add_(t, alpha=300) let numpy's OverflowError out), as PyTorch."""
    def run(lib):
        v = lib.tensor([1, 0], dtype=getattr(lib, dtype))
        try:
            return _ALPHA_CASES[case](lib, v, big).tolist()
        except (RuntimeError, NotImplementedError) as e:
            return type(e).__name__ if case.startswith("lerp") else e.__class__

    got = run(tg)
    if isinstance(got, type):
        assert got is RuntimeError
    torch = pytest.importorskip("torch")
    want = run(torch)
    if case.startswith("lerp") and dtype[0] in "iu":
        return  # (an integer lerp raises in both; PyTorch's is NotImplementedError)
    assert got == want


@given(st.sampled_from(["float16", "float32", "float64"]),
       st.sampled_from([(0.0, 0.0), (np.inf, 1.0), (1.0, -np.inf), (6e4, 3.0), (3e38, 1.0), (1e300, 1e300)]),
       st.sampled_from([1.0, -2.0, np.nan, np.inf, -np.inf]))
@example("float16", (6e4, 3.0), np.nan)
def test_atan2_gradient_where_the_squares_are_zero_or_overflow_carries_an_inf_or_nan_gradient(dtype, ab, gv):
    # at (0, 0) and where a*a + b*b overflows the gradient is g * 0: the limit 0 for a finite g (PyTorch's is nan
    # where its g * a overflows: the atan2-grad-at-infinity difference, README), NaN for an inf or NaN g, as
    # PyTorch's (FunctionsManual.cpp atan2_backward multiplies the incoming gradient)
    a = tg.tensor(np.array([ab[0]], dtype), requires_grad=True)
    b = tg.tensor(np.array([ab[1]], dtype), requires_grad=True)
    r = np.float64(ab[0]) ** 2 + np.float64(ab[1]) ** 2
    if not (r == 0 or r > np.finfo(dtype).max):
        return
    tg.atan2(a, b).backward(tg.tensor(np.array([gv], dtype)))
    for t in (a, b):
        assert np.isnan(t.grad.numpy()[0]) if not np.isfinite(gv) else t.grad.numpy()[0] == 0


def test_atan2_gradient_at_an_edge_with_a_nan_gradient_matches_pytorch():
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (tg, torch):
        a = lib.tensor([0.0, 6e4, np.inf, 1.0], dtype=lib.float16, requires_grad=True)
        b = lib.tensor([0.0, 3.0, 3.0, 1.0], dtype=lib.float16, requires_grad=True)
        lib.atan2(a, b).backward(lib.tensor([np.nan, np.nan, np.inf, np.nan], dtype=lib.float16))
        grads.append(a.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])  # all NaN: the incoming NaN/inf is kept


_LOGICAL_DTYPES = ["bool", "int8", "uint8", "int16", "int64", "float16", "float32", "float64"]


@given(st.sampled_from(["logical_and", "logical_or", "logical_xor"]), st.sampled_from(_LOGICAL_DTYPES),
       st.sampled_from(_LOGICAL_DTYPES), st.sampled_from([0, 1, -3, 256, -7168, 384, 0.25, 1e-10, 1e5]))
@example("logical_and", "int8", "int64", -7168)
@example("logical_or", "float16", "float64", 1e-10)
def test_logical_ops_take_truth_in_the_common_dtype(name, da, db, v):
    # PyTorch's logical ops are comparison_op TensorIterators: both operands are cast to their common dtype first,
    # so a 0-d int64 256 beside an int8 tensor is 0 (False) and a float64 1e-10 beside a float16 tensor is 0
    a = tg.tensor(np.array([1, 0, -3, 2]).astype(da))
    if db == "bool" or (db[0] in "iu" and isinstance(v, float)) or (db == "uint8" and v < 0):
        return
    b = tg.tensor(np.array(v).astype(db))
    common = dtypes.promote(a.numpy(), b.numpy())  # PyTorch's result dtype (a 0-d operand does not widen)
    want = getattr(np, name)(a.numpy().astype(common), b.numpy().astype(common))
    np.testing.assert_array_equal(getattr(tg, name)(a, b).numpy(), want)
    np.testing.assert_array_equal(getattr(tg, name)(b, a).numpy(), want)


def test_logical_ops_in_the_common_dtype_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ("logical_and", "logical_or", "logical_xor"):
        cases = ((np.array([4, -7, 0], np.int8), np.array(-7168)), (np.array([1, 0, 255], np.uint8), np.array(256)),
                 (np.array([0.5, 0.0], np.float16), np.array(1e-10)),
                 (np.array([0.5, 0.0], np.float16), np.array([1e-10, 1e5])))
        for a, b in cases:
            got = getattr(tg, name)(tg.tensor(a), tg.tensor(b))
            want = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
            assert got.tolist() == want.tolist(), (name, a, b)
            x = tg.tensor(a)
            getattr(x, name + "_")(tg.tensor(b))
            y = torch.tensor(a)
            getattr(y, name + "_")(torch.tensor(b))
            assert x.tolist() == y.tolist(), (name, a, b)


@given(st.sampled_from(["int8", "int16", "int32", "int64"]), st.sampled_from([1.3, 0.3, 1.1, -2.0, 0.9]))
@example("int8", 1.3)
def test_pow_gradient_with_an_integer_exponent_at_its_minimum_is_the_derivative(dtype, x):
    # e * x ** (e - 1) with e - 1 taken exactly: PyTorch 2.13 computes e - 1 in the exponent's integer dtype, which
    # wraps at its minimum (int8 -128 - 1 = 127, the pytorch-pow-int-exponent-min-grad difference, README)
    e = int(np.iinfo(dtype).min)
    t = tg.tensor([x], dtype=tg.float64, requires_grad=True)
    (t ** tg.tensor([e], dtype=getattr(tg, dtype))).sum().backward()
    with np.errstate(all="ignore"):
        want = e * np.float64(x) ** (e - 1.0)
    np.testing.assert_allclose(t.grad.numpy(), [want], rtol=1e-12)


_EXPONENTS = st.lists(st.sampled_from([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 1.5, 3.0, np.nan, np.inf, -np.inf]),
                      min_size=1, max_size=8)


@given(base=st.sampled_from([1e30, 2.0, 0.5, 0.0, -2.0, 1e-30, 70000.0]), e=_EXPONENTS,
       dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(base=1e30, e=[-3.0, 1.0, np.nan, 0.0, -1.0, 1.5, 0.0, -0.25], dtype="float16")
def test_number_base_pow_gradient_takes_the_log_of_the_number(base, e, dtype):
    # PyTorch's pow_backward_exponent with a Scalar base (torch/csrc/autograd/FunctionsManual.cpp): grad * (result
    # * log(base)), the log in double precision; 1e30 is inf in float16, but its log is 69.08, so 1e30 ** -3
    # (0 in float16) has gradient 0, not 0 * inf = nan
    g = np.resize(np.array([0.25, -1.5, 0.75, -2.0]), len(e))
    x = tg.tensor(np.array(e), dtype=getattr(tg, dtype), requires_grad=True)
    y = base ** x
    y.backward(tg.tensor(g, dtype=getattr(tg, dtype)))
    with np.errstate(all="ignore"):
        scaled = y.detach().numpy().astype(np.float64) * math.log(base) if base > 0 else None
    if base > 0 and dtype == "float64":
        np.testing.assert_allclose(x.grad.numpy(), g * scaled, rtol=1e-15)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(np.array(e), dtype=getattr(torch, dtype), requires_grad=True)
    (base ** tx).backward(torch.tensor(g, dtype=getattr(torch, dtype)))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@given(e=_EXPONENTS, g=st.lists(st.sampled_from([0.25, -1.5, np.inf, -np.inf, np.nan]), min_size=8, max_size=8),
       dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(e=[0.5833, -1.0, 2.0, 1.0], g=[np.nan, np.nan, np.nan, np.inf] * 2, dtype="float64")  # seed 1166192
def test_zero_base_pow_gradient_is_the_gradient_times_zero(e, g, dtype):
    # PyTorch: grad * where(exponent >= 0, 0, result * log(0)), the mask before the product, so an inf or NaN
    # gradient gives NaN where the exponent is >= 0 (and -1.5 gives -0.0); float_power(0, x) is the same op
    g = np.array(g[:len(e)])
    x = tg.tensor(np.array(e), dtype=getattr(tg, dtype), requires_grad=True)
    y = tg.float_power(0, x) if dtype == "float64" else 0 ** x
    y.backward(tg.tensor(g, dtype=y.dtype))
    with np.errstate(all="ignore"):
        masked = np.where(np.array(e) >= 0, 0.0, y.detach().numpy().astype(np.float64) * -np.inf)
        want = (g * masked).astype(dtype)
    got = x.grad.numpy()
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got)[~np.isnan(got)], np.signbit(want)[~np.isnan(want)])
    torch = pytest.importorskip("torch")
    tx = torch.tensor(np.array(e), dtype=getattr(torch, dtype), requires_grad=True)
    ty = torch.float_power(0, tx) if dtype == "float64" else 0 ** tx
    ty.backward(torch.tensor(g, dtype=ty.dtype))
    np.testing.assert_array_equal(got, tx.grad.numpy())


@given(base=st.sampled_from([2.0, 0.5, 3.5]), data=st.data())
def test_number_base_pow_gradient_matches_finite_differences(base, data):
    a = data.draw(arrays(data.draw(st.sampled_from([(3,), (2, 2)]))))
    assert_gradients(lambda t: base ** t, np.clip(a, -3, 3))


@given(n=st.integers(1, 40), x=st.floats(2.0 ** 120, 2.0 ** 127, width=32), y=st.sampled_from([0.5, 0.25, 0.125, 3.0]),
       sign=st.sampled_from([1.0, -1.0]))
def test_fmod_and_remainder_of_a_huge_float32_by_a_small_one_are_exact_at_every_size(n, x, y, sign):
    """fmod/remainder are exact (C's fmod): where x / y overflows float32 the remainder is still the exact one, for
    any number of elements (PyTorch 2.13's vectorized loop, 16 elements or more, returns nan there: KNOWN
    pytorch-fmod-vectorized-quotient-overflow)."""
    a = np.full(n, sign * x, dtype=np.float32)
    got = tg.tensor(a).fmod(y).numpy()
    want = np.fmod(a, np.float32(y))
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    np.testing.assert_array_equal(tg.tensor(a).remainder(y).numpy(), np.remainder(a, np.float32(y)))


def _exact_lerp(x, e, w, dtype):
    """PyTorch's lerp of one element, its fused multiply-add in exact rational arithmetic, rounded once."""
    from fractions import Fraction

    d = np.asarray(e - x, dtype)
    coeff, d, base = (w, d, x) if abs(w) < 0.5 else (np.asarray(1 - w, dtype), -d, e)
    with np.errstate(over="ignore"):
        if not all(np.isfinite(v) for v in (coeff, d, base)):
            return np.asarray(base + coeff * d, dtype)
        exact = Fraction(float(base)) + Fraction(float(coeff)) * Fraction(float(d))
        if exact == 0:
            return np.asarray(base + coeff * d, dtype)  # (IEEE's sign of an exact zero)
        try:  # (float32: rounded twice, so the nearest of it and its neighbours, ties to even)
            near = np.asarray(float(exact)).astype(dtype)
        except OverflowError:
            return np.asarray(math.inf if exact > 0 else -math.inf, dtype)
        if not np.isfinite(near):
            return near
        return min([c for c in (near, np.nextafter(near, -np.inf), np.nextafter(near, np.inf)) if np.isfinite(c)],
                   key=lambda c: (abs(Fraction(float(c)) - exact), int(c.view(f"i{c.itemsize}")) & 1))


finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@given(st.sampled_from(["float32", "float64"]), st.lists(st.tuples(finite32, finite32, finite32), min_size=1,
                                                         max_size=20), st.booleans())
@example("float32", [(-1.0, 3e38, -1.0)], False)  # (3e38 + 1) * 2 overflows; fused, lerp is -3e38
@example("float32", [(-1.0, 3e38, -1.0)] * 17, True)
@example("float64", [(1.0, -1e300, 1e10)], False)
@example("float64", [(-3e38, 1.0, -0.5)], False)  # a tie of p + e, broken by z = 1: rounded once, not twice
@example("float32", [(-0.0, -0.0, -0.25)], False)
@example("float64", [(-0.0, -0.0, 1.0)], True)  # the scalar loop's -0.0 (KNOWN lerp-weight-one-vectorized-zero)
def test_lerp_is_one_fused_multiply_add_on_each_side(dtype, triples, number):
    """PyTorch's lerp kernel computes x + w (e - x) for |w| < 0.5 and e - (e - x) (1 - w) otherwise, each rounded
    once (a fused multiply-add): where (e - x) * (1 - w) overflows but the result does not, the result is finite."""
    x, e, w = (np.array(v, dtype) for v in zip(*triples))
    if number:
        w[:] = w[0]
    got = tg.lerp(tg.tensor(x), tg.tensor(e), float(w[0]) if number else tg.tensor(w)).numpy()
    want = np.array([_exact_lerp(*v, dtype) for v in zip(x, e, w)], dtype)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    if number:  # the in-place plain write (nothing to record) computes the same
        t = tg.tensor(x)
        with tg.no_grad():
            t.lerp_(tg.tensor(e), float(w[0]))
        np.testing.assert_array_equal(t.numpy(), want)


def _exact_fma(x, y, z, dtype):
    from fractions import Fraction

    exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
    t = np.dtype(dtype).type
    if exact == 0:  # IEEE's sign of an exact zero: -0.0 only for -0.0 + -0.0
        return t(float(x) * float(y) + float(z))
    with np.errstate(over="ignore"):
        near = t(float(exact))
    if not np.isfinite(near):  # beyond the dtype: the caller skips it
        return near
    cands = [c for c in (np.nextafter(near, t(-np.inf)), near, np.nextafter(near, t(np.inf))) if np.isfinite(c)]
    bits = np.int16 if t is np.float16 else np.int32
    return min(cands, key=lambda c: (abs(Fraction(float(c)) - exact), int(np.array(c).view(bits)) & 1))


@given(st.sampled_from(["float16", "float32"]), st.lists(st.tuples(finite32, finite32, finite32), min_size=1,
                                                         max_size=10))
@example("float32", [(1 + 2.0 ** -12, 1 + 2.0 ** -12, 2.0 ** -80)])  # a float32 tie plus a bit float64 drops
@example("float16", [(1 + 2.0 ** -6, 1 + 2.0 ** -6, 2.0 ** -24)])
def test_fused_multiply_add_rounds_once_in_float32_and_float16(dtype, triples):
    # x * y is exact in float64, but x y + z rounded to float64 and then to the dtype is two roundings: a float32
    # tie plus a bit that float64 drops went to even; summed rounded to odd, the rounding to the dtype is the only one
    from tapegrad.ops._fused import fma

    with np.errstate(over="ignore"):
        x, y, z = (np.array(v, dtype) for v in zip(*triples))
    finite = np.isfinite(x) & np.isfinite(y) & np.isfinite(z) & np.isfinite(x.astype(np.float64) * y + z)
    got = fma(x, y, z)
    assert got.dtype == np.dtype(dtype)
    for g, *v in zip(got[finite], x[finite], y[finite], z[finite]):
        want = _exact_fma(*v, dtype)
        if np.isfinite(want):
            assert g == want and np.signbit(g) == np.signbit(want), (v, g, want)


@given(st.sampled_from(["float16", "float32"]), st.integers(0, 2 ** 32 - 1))
def test_add_rounded_once_is_the_sum_rounded_to_odd_then_to_the_dtype(dtype, seed):
    # the fast form takes the exact sum only where the float64 sum is halfway between two values of the dtype, or
    # in its subnormal range: everywhere else both round alike (products of the dtype plus values near their ties)
    from tapegrad.ops._fused import add_rounded_once, sum_to_odd

    rng = np.random.default_rng(seed)
    x, y = (rng.standard_normal(64).astype(dtype).astype(np.float64) for _ in range(2))
    a = x * y
    near = a.astype(dtype).astype(np.float64)
    a[:16] = near[:16] + np.abs(np.spacing(near[:16].astype(dtype)).astype(np.float64)) / 2  # exactly halfway
    b = rng.standard_normal(64).astype(dtype).astype(np.float64) * rng.choice([1, 2.0 ** -30, 2.0 ** -70, 1e-42], 64)
    b[:8] = np.ldexp(1.0, -80) * rng.choice([-1, 1], 8)  # a bit below float64's last one beside a tie
    b[8:10] = 7e4 if dtype == "float16" else 4e38  # sums beyond the dtype: inf, as the cast
    got = add_rounded_once(a, b, dtype)
    with np.errstate(over="ignore"):
        want = sum_to_odd(a, b).astype(dtype)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    into = np.full(64, np.nan, dtype)  # rounded into an array (addcmul_'s write): the same values
    assert add_rounded_once(a, b, dtype, out=into) is into
    np.testing.assert_array_equal(into, want)
    np.testing.assert_array_equal(np.signbit(into), np.signbit(want))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_lerp_matches_pytorch_where_the_unfused_product_overflows(dtype):
    torch = pytest.importorskip("torch")
    x = [[0.5, -0.25, 0.5, 0.5], [0.5, 3.0, 0.0, 1.0], [2.0, 2.0, -1.0, 1.0]] * 6
    big = 60000.0 if dtype == "float16" else 3e38
    got, want = (m.lerp(m.tensor(x, dtype=getattr(m, dtype)), m.tensor(big, dtype=getattr(m, dtype)),
                        m.tensor(x, dtype=getattr(m, dtype))).numpy() for m in (tg, torch))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtypes", [("float16", "float32"), ("float32", "float32"), ("float16", "float16")])
def test_div_result_written_in_place_before_backward(dtypes):
    """div's backward never reads its result (PyTorch's div_tensor_other_backward recomputes a / b), so writing the
    quotient in place under no_grad before backward is allowed, for a float16 tensor by a float32 0-d divisor too
    (that rule read the float16 result: "modified by an in-place operation")."""
    a = tg.tensor([[-0.7, 0.85]], dtype=getattr(tg, dtypes[0]), requires_grad=True)
    b = tg.tensor(1.5, dtype=getattr(tg, dtypes[1]), requires_grad=True)
    c = tg.div(a, b)
    with tg.no_grad():
        c.div_(7, rounding_mode="floor")
    c.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [[1 / 1.5] * 2], rtol=2e-3)  # (float16's precision)
    np.testing.assert_allclose(b.grad.item(), -(-0.7 + 0.85) / 1.5 ** 2, rtol=5e-3)


_FMA_EDGES = [-3e38, 3e38, -1e30, 1.5, -2.5, -0.0, 0.0, 1e-40, math.inf]


@given(st.sampled_from(["add", "sub", "add_", "sub_", "rsub"]), st.sampled_from([2.0, -2.0, 4, -0.5]),
       st.lists(st.sampled_from(_FMA_EDGES), min_size=1, max_size=4),
       st.lists(st.sampled_from(_FMA_EDGES), min_size=1, max_size=4))
@example("sub", 2.0, [-3.0000000054977558e38], [-3.0000000054977558e38])
@example("add_", -2.0, [-3.0000000054977558e38], [-3.0000000054977558e38])
def test_add_sub_with_alpha_are_one_fused_multiply_add_in_float32(name, alpha, xs, ys):
    # PyTorch's add kernel computes x + alpha * y as one fused multiply-add (-3e38 - 2 * -3e38 is 3e38, not inf
    # from the rounded product), in its vectorized and scalar loops and in place (edges whose rounded product is
    # exact unless it overflows: elsewhere tapegrad's last bit may differ, _plus_scaled)
    n = min(len(xs), len(ys))
    x, y = np.array(xs[:n], np.float32), np.array(ys[:n], np.float32)
    a = -alpha if name in ("sub", "sub_") else alpha
    with np.errstate(over="ignore"):  # the exact product in float64, one rounding to float32
        want = (y.astype(np.float64) * np.float32(a) + x.astype(np.float64)).astype(np.float32)
        if name == "rsub":  # other - alpha * input
            want = (x.astype(np.float64) * -np.float32(alpha) + y.astype(np.float64)).astype(np.float32)
    fn = {"add": lambda m, u, v: m.add(u, v, alpha=alpha), "sub": lambda m, u, v: m.sub(u, v, alpha=alpha),
          "add_": lambda m, u, v: u.add_(v, alpha=alpha), "sub_": lambda m, u, v: u.sub_(v, alpha=alpha),
          "rsub": lambda m, u, v: m.rsub(u, v, alpha=alpha)}[name]
    got = fn(tg, tg.tensor(x), tg.tensor(y)).numpy()
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    torch = pytest.importorskip("torch")
    there = fn(torch, torch.tensor(x), torch.tensor(y)).numpy()
    np.testing.assert_array_equal(got, there)
    assert np.array_equal(np.signbit(got), np.signbit(there))


@pytest.mark.parametrize("name", ["add", "sub", "add_"])
def test_float64_add_with_alpha_whose_product_overflows_is_fused(name):
    # PyTorch's fused multiply-add: -1.7e308 + 2 * 1.7e308 is 1.7e308 (the rounded product is inf); a true sum
    # beyond the range (5e-324 - 2e308) is -inf
    def run(m):
        x = m.tensor([-1.7e308, 1.0, 5e-324], dtype=m.float64)
        y = m.tensor([-1.7e308, 2.0, 1e308], dtype=m.float64)
        return getattr(x, name)(y, alpha=2.0 if name == "sub" else -2.0).tolist()

    assert run(tg) == [1.7e308, -3.0, -math.inf]
    torch = pytest.importorskip("torch")
    assert run(tg) == run(torch)


@pytest.mark.parametrize("name", ["pow_", "__ipow__", "logical_and_", "logical_or_", "logical_xor_", "ldexp_",
                                  "mul_", "fmod_"])
def test_inplace_binary_ops_refuse_a_partly_overlapping_operand_as_pytorch(name):
    """PyTorch's TensorIterator refuses an operand that partly overlaps the tensor written (``v **= v[2:]``);
    ldexp_ is mul_(2 ** other), whose operand is a new tensor, so it computes."""
    def run(lib):
        v = lib.ones(3) * 2
        try:
            getattr(v, name)(v.narrow(0, 2, 1))
        except RuntimeError as e:
            assert "single memory location" in str(e)
            return "raises"
        return v.tolist()
    got = run(tg)
    assert (got == [8.0, 8.0, 8.0]) if name == "ldexp_" else got == "raises"
    torch = pytest.importorskip("torch")
    assert run(torch) == got
