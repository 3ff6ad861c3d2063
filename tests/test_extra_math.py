"""tapegrad/ops/extra_math.py: inverse hyperbolic functions, logaddexp, hypot, copysign, fmax/fmin,
float_power, nan_to_num, integer and floating-point bit ops, the complex API on real tensors.

Forward against numpy in float32 and float64, gradients against float64 central differences over broadcast
shapes (Hypothesis), second order, PyTorch comparisons (values, dtypes, gradients, node names), errors.
"""

import doctest
import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd import gradgradcheck
from tapegrad.ops import extra_math
from tapegrad.testing import arrays, assert_forward, assert_gradients, broadcastable_shapes


def _grid(x, offset=0.0):
    return np.round(x * 4) / 4 + offset


UNARY = {  # name: (op, numpy reference, input transform)
    "asinh": (tg.asinh, np.arcsinh, None),
    "acosh": (tg.acosh, np.arccosh, lambda x: np.abs(x) + 1.1),
    "atanh": (tg.atanh, np.arctanh, lambda x: np.tanh(x) * 0.9),
    "nan_to_num": (tg.nan_to_num, np.nan_to_num, None),
    "angle": (tg.angle, lambda x: np.where(x < 0, np.pi, 0).astype(x.dtype),
              lambda x: np.where(np.abs(x) < 0.1, 1.0, x)),
    "frexp": (lambda x: tg.frexp(x).mantissa, lambda x: np.frexp(x)[0],
              lambda x: np.where(x < 0, -1, 1) * np.ldexp(0.55 + 0.1 * np.abs(x), np.round(x).astype(int))),
}

BINARY = {  # name: (op, numpy reference, transform of the first, transform of the second)
    "logaddexp": (tg.logaddexp, np.logaddexp, None, None),
    "logaddexp2": (tg.logaddexp2, np.logaddexp2, None, None),
    "hypot": (tg.hypot, np.hypot, lambda x: x + 3.5, None),
    "copysign": (tg.copysign, np.copysign, lambda x: np.where(np.abs(x) < 0.1, 1.0, x),
                 lambda x: np.where(np.abs(x) < 0.1, 1.0, x)),
    "fmax": (tg.fmax, np.fmax, _grid, lambda x: _grid(x, 0.1)),
    "fmin": (tg.fmin, np.fmin, _grid, lambda x: _grid(x, 0.1)),
    "float_power": (lambda a, b: tg.float_power(a, b), lambda a, b: np.power(a.astype(np.float64), b),
                    lambda x: np.abs(x) + 0.5, None),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_forward_and_gradient(name, data):
    fn, ref, transform = UNARY[name]
    x = data.draw(arrays(max_dims=3))
    if transform is not None:
        x = transform(x)
    for dtype in (np.float32, np.float64):
        assert_forward(fn, ref, x, dtype=dtype, rtol=1e-5)
    assert_gradients(fn, x)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_forward_and_gradient_broadcasting(name, data):
    fn, ref, ta, tb = BINARY[name]
    sa, sb = data.draw(broadcastable_shapes(2))
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    a, b = (ta(a) if ta else a), (tb(b) if tb else b)
    for dtype in (np.float32, np.float64):
        want_dtype = np.float64 if name == "float_power" else dtype
        assert_forward(fn, lambda x, y, w=want_dtype: ref(x, y).astype(w), a, b, dtype=dtype, rtol=1e-5)
    assert_gradients(fn, a, b)


@pytest.mark.parametrize("name", ["asinh", "acosh", "atanh", "logaddexp", "hypot", "copysign"])
def test_second_order(name):
    rng = np.random.default_rng(1)
    if name in UNARY:
        fn, _, transform = UNARY[name]
        xs = [transform(rng.uniform(-2, 2, (3,))) if transform else rng.uniform(-2, 2, (3,))]
    else:
        fn, _, ta, tb = BINARY[name]
        xs = [rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (3,))]
        xs = [ta(xs[0]) if ta else xs[0], tb(xs[1]) if tb else xs[1]]
    gradgradcheck(fn, tuple(tg.tensor(x, requires_grad=True) for x in xs))


def test_ldexp_forward_and_gradient():
    x = np.array([[1.5, -2.0, 0.25]])
    e = np.array([2, -1, 0])
    got = tg.ldexp(tg.tensor(x), tg.tensor(e))
    np.testing.assert_array_equal(got.numpy(), np.ldexp(x, e))
    assert_gradients(lambda a, b: tg.ldexp(a, b), x, np.array([0.5, 1.0, -2.0]))
    assert tg.ldexp(tg.tensor([1, 2]), tg.tensor([1, 1])).dtype == tg.float32
    # the gradient is 2 ** other also for negative integer exponents (PyTorch 2.13's is 0 there: it computes
    # 2 ** other in integers in its backward)
    x = tg.tensor([1.0, 1.0], requires_grad=True)
    tg.ldexp(x, tg.tensor([-2, 1])).sum().backward()
    assert x.grad.tolist() == [0.25, 2.0]


_LD_X = st.sampled_from([0.0, -0.0, 1.5, -2.0, float("inf"), float("nan"), 1e300])
_LD_E = st.sampled_from([0.0, 1.0, -3.0, 2.5, 1e5, -1e5, float("inf")])


@given(st.lists(st.tuples(_LD_X, _LD_E), min_size=1, max_size=5), st.sampled_from([1.0, -2.0, 0.0]))
@example([(0.0, 1e5), (float("inf"), 1e5)], -1.5)  # 0 * 2 ** 1e5 is nan: so is the exponent's gradient
@example([(0.0, -1e5), (1.5, 2.5)], 1.0)
def test_ldexp_gradients_are_pytorchs_ldexp_backward(entries, g):
    # derivatives.yaml's ldexp: self gets grad * 2 ** other, other gets grad * result * ln 2 (from the result, so a
    # nan result gives a nan gradient, where the product rule's grad * input * 2 ** other * ln 2 gave -inf)
    x, e = (np.array(c, dtype=np.float64) for c in zip(*entries))
    a, b = tg.tensor(x, requires_grad=True), tg.tensor(e, requires_grad=True)
    out = tg.ldexp(a, b)
    assert out.grad_fn.name() == "LdexpBackward0"
    with np.errstate(all="ignore"):
        out.backward(tg.full(x.shape, g, dtype=tg.float64))
        result = x * np.exp2(e)
        np.testing.assert_array_equal(a.grad.numpy(), g * np.exp2(e))
        np.testing.assert_allclose(b.grad.numpy(), g * result * np.log(2), rtol=1e-15)
    torch = pytest.importorskip("torch")
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(e, requires_grad=True)
    torch.ldexp(ta, tb).backward(torch.full(x.shape, g, dtype=torch.float64))
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-15)


def test_ldexp_gradient_of_an_overflowing_integer_exponent_is_the_power_of_two():
    # 2 ** 100 for an int8 exponent: PyTorch 2.13 computes the power in int8 (it wraps to 0); tapegrad's is 2 ** 100
    # (README, "Where tapegrad differs from PyTorch")
    x = tg.tensor([[0.5, -1.0]], requires_grad=True)
    tg.ldexp(x, tg.tensor([[100]], dtype=tg.int8)).backward(tg.tensor([[-2.0, 1.25]]))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([[-2.0, 1.25]], np.float32) * np.float32(2.0 ** 100))


def test_integer_ops():
    a, b = tg.tensor([0, -4, 6, 7]), tg.tensor([0, 6, -9, 0])
    assert tg.gcd(a, b).tolist() == [0, 2, 3, 7]
    assert tg.lcm(a, b).tolist() == [0, 12, 18, 0]
    x = tg.tensor([1, -1, 5], dtype=tg.int32)
    assert tg.bitwise_left_shift(x, tg.tensor([33, 2, -1], dtype=tg.int32)).tolist() == [0, -4, 0]
    assert tg.bitwise_right_shift(tg.tensor([5, -5, 64]), tg.tensor([70, 70, 3])).tolist() == [0, -1, 8]
    assert (tg.tensor([1, 2]) << 3).tolist() == [8, 16] and (tg.tensor([16]) >> 2).tolist() == [4]
    y = tg.tensor([3, 4])
    y <<= 1
    assert y.tolist() == [6, 8]
    y.gcd_(tg.tensor([4, 4]))
    assert y.tolist() == [2, 4]


def test_floating_point_bits_and_predicates():
    m, e = tg.frexp(tg.tensor([8.0, 0.0, -3.5]))
    assert m.tolist() == [0.5, 0.0, -0.875] and e.tolist() == [4, 0, 2] and e.dtype == tg.int32
    assert tg.signbit(tg.tensor([-0.0, 0.0, -1.0])).tolist() == [True, False, True]
    assert tg.signbit(tg.tensor([-1, 2])).tolist() == [True, False]
    assert tg.heaviside(tg.tensor([-1.0, 0.0, float("nan"), 2.0]), tg.tensor([0.5])).tolist() == [0, 0.5, 0, 1]
    assert tg.nextafter(tg.tensor([1.0]), tg.tensor([2.0])).item() == np.nextafter(np.float32(1), np.float32(2))
    x = tg.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    assert tg.nan_to_num(x).tolist() == [0.0, np.finfo(np.float32).max, np.finfo(np.float32).min, 1.0]
    assert tg.nan_to_num(x, 1.0, 2.0, -2.0).tolist() == [1.0, 2.0, -2.0, 1.0]
    x.nan_to_num_()
    assert x.isfinite().all()


def test_complex_api_on_real_tensors():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    assert tg.real(x) is x and tg.conj(x) is x and x.resolve_conj() is x and x.resolve_neg() is x
    assert not tg.is_conj(x) and not x.is_neg() and tg.isreal(x).tolist() == [True, True]
    assert tg.angle(tg.tensor([-1, 2])).tolist() == pytest.approx([np.pi, 0.0])
    with pytest.raises(RuntimeError, match="non-complex"):
        tg.imag(x)


@pytest.mark.parametrize("lib", ["tapegrad", "torch"])
def test_conj_physical_in_place_of_a_real_expanded_tensor_writes_nothing(lib):
    # PyTorch's conj_physical_ of a real tensor returns it at once: an expanded tensor (meshgrid's) is no overlap
    # error, and only the version moves (tapegrad refused it as a write into memory its elements share)
    m = tg if lib == "tapegrad" else pytest.importorskip("torch")
    x = m.tensor([1.5, -0.25], requires_grad=True)
    grid = m.meshgrid(x, x, indexing="xy")[1]
    before = grid._version
    with m.no_grad():
        assert grid.conj_physical_() is grid
    assert grid.tolist() == [[1.5, 1.5], [-0.25, -0.25]] and grid._version > before
    assert m.conj_physical_(m.ones(2).expand(3, 2)).shape == (3, 2)


def test_errors_name_the_op():
    i = tg.tensor([1, 2])
    for fn in (tg.logaddexp, tg.logaddexp2, tg.hypot, tg.nextafter):
        with pytest.raises(RuntimeError, match=fn.__name__):
            fn(i, i)
    with pytest.raises(RuntimeError, match="gcd"):
        tg.gcd(tg.tensor([1.0]), tg.tensor([2.0]))
    with pytest.raises(TypeError, match="hypot"):
        tg.hypot(tg.tensor([1.0]), 2.0)
    with pytest.raises(ValueError, match="logaddexp"):
        tg.logaddexp(tg.ones(2), tg.ones(3))
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="heaviside"):
        tg.heaviside(x, tg.tensor([0.5])).sum().backward()
    with pytest.raises(RuntimeError, match="frexp"):
        tg.frexp(tg.tensor([1]))
    with pytest.raises(RuntimeError, match="float_power_"):
        tg.ones(2).float_power_(2)


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,))
    big = np.abs(a) + 1.5
    cases = {
        "asinh": (lambda m, x: m.asinh(x), a), "acosh": (lambda m, x: m.arccosh(x), big),
        "atanh": (lambda m, x: m.atanh(x * 0.4), a), "logaddexp": (lambda m, x, y: m.logaddexp(x, y), a, b),
        "logaddexp2": (lambda m, x, y: m.logaddexp2(x, y), a, b), "hypot": (lambda m, x, y: m.hypot(x, y), a, b),
        "copysign": (lambda m, x, y: m.copysign(x, y), a, b), "copysign_scalar": (lambda m, x: m.copysign(x, -1.0), a),
        "fmax": (lambda m, x, y: m.fmax(x, y), a, b), "fmin": (lambda m, x, y: m.fmin(x, y), a, b),
        "float_power": (lambda m, x: m.float_power(x, 3), a), "nan_to_num": (lambda m, x: m.nan_to_num(x), a),
        "ldexp": (lambda m, x: m.ldexp(x, m.tensor([1, 2, 0, 3])), a), "frexp": (lambda m, x: m.frexp(x)[0], a),
        "angle": (lambda m, x: m.angle(x), a),
    }
    for name, (fn, *values) in cases.items():
        for dtype in ("float32", "float64"):
            tt = [torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True) for v in values]
            gt = [tg.tensor(v, dtype=getattr(tg, dtype), requires_grad=True) for v in values]
            want, got = fn(torch, *tt), fn(tg, *gt)
            assert str(want.dtype).split(".")[-1] == str(got.dtype).split(".")[-1], name
            if name != "float_power":  # a composite here (PyTorch: PowBackward0)
                assert got.grad_fn.name() == want.grad_fn.name(), name
            tol = dict(rtol=1e-6, atol=1e-7) if dtype == "float32" else dict(rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), **tol, err_msg=name)
            want.sum().backward()
            got.sum().backward()
            for t, g in zip(tt, gt, strict=True):
                np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), **tol, err_msg=name)


def test_non_differentiable_ops_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    ints = [rng.integers(-50, 50, (5,)), rng.integers(-50, 50, (5,))]
    shifts = [rng.integers(-100, 100, (8,)).astype(np.int8), rng.integers(-3, 12, (8,)).astype(np.int8)]
    floats = np.array([-1.5, -0.0, 0.0, 2.0, np.nan, np.inf, -np.inf])
    cases = [("gcd", ints), ("lcm", ints), ("bitwise_left_shift", shifts), ("bitwise_right_shift", shifts),
             ("bitwise_left_shift", [s.astype(np.int64) for s in shifts]), ("copysign", ints),
             ("heaviside", [floats, np.array([0.5])]), ("nextafter", [floats, floats[::-1].copy()]),
             ("signbit", [floats]), ("signbit", [ints[0]]), ("nan_to_num", [floats]), ("angle", [floats]),
             ("angle", [ints[0]]), ("float_power", ints), ("isreal", [floats]), ("fmax", [floats, floats[::-1].copy()]),
             ("fmin", [floats, floats[::-1].copy()]), ("ldexp", [floats, np.arange(7)]), ("asinh", [ints[0]])]
    for name, arrays_ in cases:
        want = getattr(torch, name)(*[torch.tensor(v) for v in arrays_])
        got = getattr(tg, name)(*[tg.tensor(v) for v in arrays_])
        assert str(want.dtype).split(".")[-1] == str(got.dtype).split(".")[-1], name
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, err_msg=name)
    m, e = tg.frexp(tg.tensor(floats[:4]))
    tm, te = torch.frexp(torch.tensor(floats[:4]))
    np.testing.assert_array_equal(m.numpy(), tm.numpy())
    np.testing.assert_array_equal(e.numpy(), te.numpy())


def test_docstring_examples_run():
    result = doctest.testmod(extra_math, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 30


def test_real_and_imag_are_attributes_as_in_pytorch():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    assert x.real is x  # an attribute, not a bound method
    with pytest.raises(RuntimeError, match="non-complex"):
        x.imag


@given(st.sampled_from(["float16", "float32", "float64", "int8", "int64", "bool"]),
       st.sampled_from(["float16", "float32", "float64", "int8", "int64", "bool"]))
def test_heaviside_takes_one_dtype_bool_included(da, db):
    a = tg.tensor([-1, 0, 1, 0]).to(getattr(tg, da))
    b = tg.tensor([1, 0, 1, 1]).to(getattr(tg, db))
    if da != db:
        with pytest.raises(RuntimeError, match="heaviside .*different dtypes"):
            tg.heaviside(a, b)
        with pytest.raises(RuntimeError, match="different dtypes"):
            a.clone().heaviside_(b)
        return
    got = tg.heaviside(a, b)
    assert got.dtype == a.dtype
    want = np.where(a.numpy() == 0, b.numpy(), a.numpy() > 0).astype(a.numpy().dtype)
    np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(TypeError, match="heaviside"):
        tg.heaviside(a, 1.0)


def test_ldexp_computes_in_the_promoted_dtype():
    x = tg.tensor([60000.0, 1.5], dtype=tg.float64)
    e = tg.tensor(0.3, dtype=tg.float32)  # a 0-d exponent: 2 ** e in float64, as PyTorch's CPU-scalar kernel
    want = np.array([60000.0, 1.5]) * np.exp2(np.float64(np.float32(0.3)))
    np.testing.assert_array_equal(tg.ldexp(x, e).numpy(), want)
    e1 = tg.tensor([0.3], dtype=tg.float32)  # a 1-d exponent: 2 ** e in float32, then the float64 product
    np.testing.assert_array_equal(tg.ldexp(x, e1).numpy(), np.array([60000.0, 1.5]) * np.exp2(np.float32(0.3)))
    assert tg.ldexp(tg.tensor([1, 2], dtype=tg.int8), tg.tensor([1.0], dtype=tg.float16)).dtype == tg.float16
    assert tg.ldexp(tg.tensor([1, 2]), tg.tensor([1, -1])).tolist() == [2.0, 1.0]
    with pytest.raises(NotImplementedError, match="ldexp.*bool"):
        tg.ldexp(tg.tensor([1.0]), tg.tensor([True]))
    assert tg.ldexp(tg.tensor([True]), tg.tensor(True)).tolist() == [2.0]  # an integer or bool input computes
    assert tg.ldexp(tg.tensor([3]), tg.tensor([True])).tolist() == [6.0]
    # both 0-d: 2 ** e in e's dtype (float16 here), as PyTorch
    assert tg.ldexp(tg.tensor(-1.0), tg.tensor(-1.900390625, dtype=tg.float16)).item() == -float(
        np.exp2(np.float16(-1.900390625)))


def test_heaviside_ldexp_real_match_pytorch():
    torch = pytest.importorskip("torch")
    for da, db in (("float32", "float32"), ("bool", "bool"), ("int8", "int8"), ("float32", "float64"),
                   ("float32", "int64")):
        a, b = np.array([-1, 0, 1, 0]), np.array([1, 0, 1, 1])
        outs = []
        for m in (tg, torch):
            try:
                outs.append(m.heaviside(m.tensor(a).to(getattr(m, da)), m.tensor(b).to(getattr(m, db))).tolist())
            except RuntimeError:
                outs.append("raises")
        assert outs[0] == outs[1], (da, db)
    for (dx, de), e in itertools.product((("float64", "float32"), ("int8", "float16"), ("int64", "int64"),
                                          ("float16", "int64"), ("int8", "float64"), ("float32", "float64")),
                                         (np.array([0.3, -1.0, 2.0]), np.array(0.3), np.array(-2))):
        x = np.array([60000.0, 1.5, -3.0]) if e.ndim or dx != "float32" else np.array(-1.0)
        want = torch.ldexp(torch.tensor(x).to(getattr(torch, dx)), torch.tensor(e).to(getattr(torch, de)))
        got = tg.ldexp(tg.tensor(x).to(getattr(tg, dx)), tg.tensor(e).to(getattr(tg, de)))
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (dx, de)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    x = torch.tensor([1.0, 2.0])
    assert torch.equal(x.real, x) and tg.tensor([1.0, 2.0]).real.tolist() == [1.0, 2.0]


def test_lcm_wraps_before_the_absolute_value_as_pytorch():
    a = tg.tensor([[-100, 100], [-2, 2147483647], [0, 3]], dtype=tg.int32)
    assert tg.lcm(a, tg.tensor(-2)).tolist() == [[100, 100], [2, 2], [0, 6]]  # 2147483647 * 2 wraps to -2: | | = 2
    assert tg.lcm(tg.tensor([0, -4]), tg.tensor([0, 6])).tolist() == [0, 12]


def test_nextafter_gradient_is_pytorchs():
    a = tg.tensor([1.0, 2.0, 5.0, float("nan")], requires_grad=True)
    b = tg.tensor([3.0, 0.0, 5.0, 1.0], requires_grad=True)
    tg.nextafter(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0, 0.0, 1.0] and b.grad.tolist() == [0.0] * 4  # 0 at the tie a == b
    torch = pytest.importorskip("torch")
    ta = torch.tensor([1.0, 2.0, 5.0, float("nan")], requires_grad=True)
    tb = torch.tensor([3.0, 0.0, 5.0, 1.0], requires_grad=True)
    torch.nextafter(ta, tb).sum().backward()
    assert ta.grad.tolist() == a.grad.tolist() and tb.grad.tolist() == b.grad.tolist()
    x = np.array([[-100, 100], [-2, 2147483647]], dtype=np.int32)
    assert tg.lcm(tg.tensor(x), tg.tensor(-2)).tolist() == torch.lcm(torch.tensor(x), torch.tensor(-2)).tolist()


def test_copysign_takes_a_tensor_first():
    with pytest.raises(TypeError, match="copysign"):
        tg.copysign(-1.5, tg.tensor([1.0]))
    assert tg.copysign(input=tg.tensor([1.0]), other=-1.0).tolist() == [-1.0]
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.copysign(-1.5, torch.tensor([1.0]))


_HALF = st.floats(-20, 20, width=16) | st.sampled_from([-1.0, -0.5, -2.0, 0.0, -0.0, float("inf"), float("-inf")])


@given(_HALF, _HALF)
@example(-1.0, -1.0)
@example(float("-inf"), float("-inf"))
@example(float("inf"), float("-inf"))
def test_logaddexp2_float16_as_pytorch_opmath(a, b):
    # PyTorch computes float16 in float32 with a fused multiply-add: logaddexp2(-1, -1) is -1e-8 -> -0.0
    got = tg.logaddexp2(tg.tensor([a], dtype=tg.float16), tg.tensor([b], dtype=tg.float16)).numpy()[0]
    want = np.float64(max(a, b)) if a == b and np.isinf(a) else np.float16(
        np.float32(max(a, b) + float(np.log1p(np.exp2(np.float32(-abs(a - b)))))
                   * float(np.float32(1 / np.log(2.0)))))
    assert got.dtype == np.float16
    assert got == want and np.signbit(got) == np.signbit(want), (a, b, got, want)


_F64 = st.floats(-1e6, 1e6) | st.sampled_from([-1.0, -0.5, -2.0, 0.0, -0.0, 1e308, -1e308, 5e-324])


@given(_F64, _F64)
@example(-1.0, -1.0)
@example(1e308, 1e308)
@example(-0.5, -0.5)
def test_logaddexp2_float64_is_pytorchs_fused_multiply_add(a, b):
    # PyTorch's kernel (BinaryOpsKernel.cpp): fma(log1p(2 ** -|a - b|), 1 / ln 2, max(a, b)), one rounding:
    # logaddexp2(-1, -1) is -4.8e-17, not 0 (a copysign or sign after it sees the difference)
    from fractions import Fraction

    got = tg.logaddexp2(tg.tensor([a], dtype=tg.float64), tg.tensor([b], dtype=tg.float64)).numpy()[0]
    t = np.log1p(np.exp2(-abs(a - b)))
    want = float(Fraction(float(t)) * Fraction(1 / np.log(2.0)) + Fraction(max(a, b)))
    assert got == want, (a, b, got, want)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_logaddexp2_signed_zero_matches_pytorch(dtype):
    torch = pytest.importorskip("torch")
    v = [-1.0, -0.5, -2.0, 0.0, -0.0, 1.0, -3.0, 0.25, -0.25, -4.0, float("inf"), float("-inf"), float("nan")]
    a, b = (np.array(x) for x in zip(*itertools.product(v, v)))
    got = tg.logaddexp2(tg.tensor(a, dtype=getattr(tg, dtype)), tg.tensor(b, dtype=getattr(tg, dtype))).numpy()
    ref = torch.logaddexp2(torch.tensor(a, dtype=getattr(torch, dtype)),
                           torch.tensor(b, dtype=getattr(torch, dtype))).numpy()
    if dtype == "float16":
        np.testing.assert_array_equal(got, ref)
    else:  # (log1p and exp2 may round differently in the last place)
        np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == "float32" else 1e-14, atol=0)
    assert (np.signbit(got) == np.signbit(ref))[~np.isnan(ref)].all()


# ---------------------------------------------------------------------- copysign's gradient: the ratio first
_CS_X = st.sampled_from([0.0, -0.0, 1e300, -1e300, 2.5, -1.0, float("inf"), float("nan")])
_CS_G = st.sampled_from([1.0, -2.5e299, 1e10, float("inf"), float("-inf"), float("nan"), 0.0])


@given(st.lists(st.tuples(_CS_X, _CS_X, _CS_G), min_size=1, max_size=6))
@example([(1e300, 1e300, -2.5e299), (0.0, -1.0, float("inf")), (-0.0, 1.0, float("nan"))])
def test_copysign_gradient_is_the_gradient_times_the_sign_ratio(entries):
    # PyTorch's copysign_tensor_self_backward: grad * (result / self, 0 where self == 0): a gradient of -2.5e299 at
    # 1e300 stays finite (grad * result / self overflowed to -inf, the differential test's var grad-inf after
    # copysign), and an inf or nan gradient at 0 gives nan (0 * inf), not 0
    x, y, g = (np.array(c, dtype=np.float64) for c in zip(*entries))
    a = tg.tensor(x, requires_grad=True)
    tg.copysign(a, tg.tensor(y)).backward(tg.tensor(g))
    with np.errstate(all="ignore"):
        ratio = np.where(x == 0, 0.0, np.copysign(x, y) / np.where(x == 0, 1.0, x))
        np.testing.assert_array_equal(a.grad.numpy(), g * ratio)
    torch = pytest.importorskip("torch")
    b = torch.tensor(x, requires_grad=True)
    torch.copysign(b, torch.tensor(y)).backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_copysign_gradient_after_logaddexp2_of_equal_values_matches_pytorch(dtype):
    # logaddexp2(x, x) is x + 1 by a fused multiply-add: -4.8e-17 (float64) at x = -1, not 0, so the copysign
    # after it has gradient +-1 there, not 0 (the differential test's copysign grad-value of a bool sign)
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, -0.5, 0.5, -3.0, 1.0, 0.0])
    grads = []
    for lib in (tg, torch):
        a = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        lib.copysign(a.logaddexp2(a), lib.tensor(True)).backward(lib.ones(6, dtype=getattr(lib, dtype)))
        grads.append(a.grad.numpy())
    np.testing.assert_array_equal(*grads)
# ---- fmax/fmin at ties of signed zeros; ldexp's two PyTorch kernels
_SIGNED = st.sampled_from([0.0, -0.0, math.nan, 1.0, -1.0, math.inf])


@given(st.lists(st.tuples(_SIGNED, _SIGNED), min_size=1, max_size=40), st.sampled_from(["float16", "float32",
                                                                                        "float64"]))
@example([(-0.0, 0.0)] * 20, "float32")  # numpy's SIMD fmax gives 0.0 here, PyTorch (glibc's fmax) -0.0
@example([(0.0, -0.0)] * 3, "float64")
def test_fmax_fmin_give_the_first_of_tied_zeros(pairs, dtype):
    # PyTorch's fmax/fmin kernels (aten/src/ATen/native/cpu/BinaryOpsKernel.cpp) call C's fmax/fmin, glibc's
    # (x >= y || isnan(y)) ? x : y: the first operand at a tie of 0.0 and -0.0, on every path
    a = np.array([p[0] for p in pairs], dtype=dtype)
    b = np.array([p[1] for p in pairs], dtype=dtype)
    for name, keep in (("fmax", (a >= b) | np.isnan(b)), ("fmin", (a <= b) | np.isnan(b))):
        got = getattr(tg, name)(tg.tensor(a), tg.tensor(b)).numpy()
        want = np.where(keep, a, b)
        assert np.array_equal(got, want, equal_nan=True), name
        number = ~np.isnan(want)
        assert np.array_equal(np.signbit(got)[number], np.signbit(want)[number]), name


def test_fmax_fmin_signed_zeros_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([[-1.0], [-0.0], [math.nan], [0.0]], dtype=np.float32)
    for other in (np.zeros((), np.int64), np.array([0.0, -0.0] * 10, np.float32), np.float64(-0.0)):
        for name in ("fmax", "fmin"):
            want = getattr(torch, name)(torch.from_numpy(x), torch.as_tensor(other)).numpy()
            got = getattr(tg, name)(tg.tensor(x), tg.tensor(other)).numpy()
            assert got.dtype == want.dtype
            assert np.array_equal(got, want, equal_nan=True)
            assert np.array_equal(np.signbit(got)[~np.isnan(got)], np.signbit(want)[~np.isnan(want)])


_LDEXP_X = st.sampled_from([1.0, -0.0, 0.0, 3.0, math.nan, math.inf, -2.5, 0.3, 6e4, 1e-30, 3e38])
_LDEXP_E = st.sampled_from([0, 1, -150, 156, 254, -2 ** 63, -2 ** 63 + 1, 127, 128, -149, -25, 3, 2 ** 31 + 2])


@given(st.lists(st.tuples(_LDEXP_X, _LDEXP_E), min_size=1, max_size=8),
       st.sampled_from(["float16", "float32", "float64"]), st.sampled_from(["uint8", "int8", "int32", "int64"]))
@example([(0.0, 0), (1.0, -2 ** 63)], "float32", "int64")  # PyTorch: [0, 1] (C's int keeps the low 32 bits: 0)
@example([(-0.0, 156)], "float32", "uint8")  # -0.0, not -0.0 * inf = nan
@example([(3.0, -150)], "float32", "int64")  # 2 ** -148 (rounded once), not 3 * 0
def test_ldexp_of_an_integer_exponent_is_cs_ldexp(pairs, dtype, edtype):
    # PyTorch's kernel for a float input and an integer exponent (BinaryOpsKernel.cpp, ldexp_kernel):
    # (scalar_t) std::ldexp((double) x, (int) e), the int64 exponent wrapped to C's int
    x = np.array([p[0] for p in pairs]).astype(dtype)
    e = np.array([p[1] for p in pairs], dtype=np.int64).astype(edtype)  # wraps as numpy's astype does
    got = tg.ldexp(tg.tensor(x), tg.tensor(e))
    with np.errstate(over="ignore", under="ignore"):
        want = np.ldexp(x.astype(np.float64), e.astype(np.int64).astype(np.int32)).astype(dtype)
    assert got.dtype == getattr(tg, dtype)
    assert np.array_equal(got.numpy(), want, equal_nan=True)
    assert np.array_equal(np.signbit(got.numpy()), np.signbit(want))
    torch = pytest.importorskip("torch")
    t = torch.ldexp(torch.from_numpy(x), torch.from_numpy(e)).numpy()
    assert np.array_equal(got.numpy(), t, equal_nan=True) and np.array_equal(np.signbit(got.numpy()), np.signbit(t))


def test_ldexp_float_exponent_is_exactly_rounded_and_promoted_as_pytorch():
    # 2 ** 1.3 in float32 is 2.4622889 (PyTorch's pow, exact to the last bit); numpy's float32 exp2 gives 2.4622886
    got = tg.ldexp(tg.tensor([0.3], dtype=tg.float64), tg.tensor([1.2999999523162842], dtype=tg.float32))
    assert got.dtype == tg.float64
    assert got.item() == 0.3 * float(np.float32(2.0 ** float(np.float32(1.2999999523162842))))
    torch = pytest.importorskip("torch")
    xs = {"float16": [1.0, 2.0], "float32": [1.0, -0.0], "float64": [0.3, 6e4], "int64": [1, 2], "bool": [True, False]}
    es = {"float16": [1.3, -2.0], "float32": [1.3, 156.0], "float64": [1.3, -0.5]}
    for xd, xv in xs.items():
        for ed, ev in es.items():
            for e0 in (False, True):
                x, e = np.array(xv, dtype=xd), np.array(ev[0] if e0 else ev, dtype=ed)
                want = torch.ldexp(torch.from_numpy(x), torch.from_numpy(e))
                have = tg.ldexp(tg.tensor(x), tg.tensor(e))
                assert str(have.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (xd, ed, e0)
                np.testing.assert_array_equal(have.numpy(), want.numpy(), err_msg=f"{xd} {ed} {e0}")


def test_signbit_reads_the_sign_bit_of_nan_and_zero():
    # signbit is the bit itself, NaN's too (PyTorch's std::signbit); which sign a NaN an op produced carries is
    # unspecified (IEEE 754 6.3) and differs between PyTorch's kernels and numpy's: the nan-sign-bit entry of
    # tests/test_differential.py. Literals and copysign/neg/abs set it in both libraries alike.
    x = np.array([math.nan, -math.nan, -0.0, 0.0, -math.inf, 1.0], np.float32)
    x[1] = np.copysign(np.float32(math.nan), np.float32(-1.0))
    want = [False, True, True, False, True, False]
    for dtype in ("float16", "float32", "float64"):
        t = tg.tensor(x.astype(dtype))
        assert tg.signbit(t).tolist() == want
        assert tg.signbit(-t).tolist() == [not w for w in want]
        assert tg.signbit(t.abs()).tolist() == [False] * 6
    torch = pytest.importorskip("torch")
    assert torch.signbit(torch.from_numpy(x)).tolist() == want


@pytest.mark.parametrize("edtype,e,factor", [("int8", 7, 128.0), ("int8", -2, 0.25), ("uint8", 156, math.inf),
                                             ("int64", 63, 2.0 ** 63), ("int32", 30, 2.0 ** 30)])
def test_ldexp_gradient_is_the_true_power_of_two(edtype, e, factor):
    # PyTorch 2.13 computes 2 ** other in other's integer dtype in its backward (wrapping: -128 for int8 7, 0 for
    # uint8 156): the pytorch-ldexp-int-exponent-grad entry of tests/test_differential.py
    x = tg.tensor([1.5], requires_grad=True)
    y = tg.ldexp(x, tg.tensor([e], dtype=getattr(tg, edtype)))
    assert y.grad_fn.name() == "LdexpBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [np.float32(factor)]


@given(st.lists(st.sampled_from([1.5, -0.25, 0.0, math.inf, -math.inf, math.nan]), min_size=1, max_size=6),
       st.lists(st.sampled_from([1.0, -2.0, 0.0, math.inf, -math.inf, math.nan]), min_size=6, max_size=6))
@example([math.inf, 2.0], [-math.inf, 1.0, 0, 0, 0, 0])
def test_nan_to_num_gradient_is_grad_times_isfinite(xs, gs):
    # PyTorch's rule (tools/autograd/derivatives.yaml): grad * isfinite(self), so a non-finite gradient at a
    # replaced element gives NaN there (0 * inf), and a finite one 0
    x = tg.tensor(xs, dtype=tg.float64, requires_grad=True)
    g = np.array(gs[:len(xs)])
    tg.nan_to_num(x).backward(tg.tensor(g))
    with np.errstate(invalid="ignore"):
        want = g * np.isfinite(np.array(xs))
    np.testing.assert_array_equal(x.grad.numpy(), want)
    (gg,) = tg.autograd.grad(tg.nan_to_num(x).sum(), x, create_graph=True)
    assert gg.tolist() == np.isfinite(np.array(xs)).astype(float).tolist()


def test_nan_to_num_gradient_matches_pytorch_at_non_finite_gradients():
    torch = pytest.importorskip("torch")
    x = [[3.0, 1.5], [0.0, -math.inf], [math.nan, math.inf]]
    g = [[math.inf, math.nan], [1.0, -math.inf], [math.inf, 2.0]]
    for dtype in ("float16", "float32", "float64"):
        grads = []
        for m in (tg, torch):
            t = m.tensor(x, dtype=getattr(m, dtype), requires_grad=True)
            m.nan_to_num(t, neginf=-1e300).backward(m.tensor(g, dtype=getattr(m, dtype)))
            grads.append(t.grad.numpy())
        np.testing.assert_array_equal(*grads, err_msg=dtype)


@given(st.sampled_from(["float16", "float32", "float64"]),
       st.lists(st.floats(allow_nan=False, allow_infinity=False, width=16), min_size=1, max_size=6))
@example("float16", [1.1920928955078125e-07, 65504.0, 6e-8])
@example("float64", [5e-324, 1e-300, 1e300, 1.7976931348623157e308])
def test_frexp_gradient_is_an_exact_power_of_two(dtype, xs):
    # d mantissa / dx = 2 ** -exponent exactly (the float64 product, rounded once to the dtype): a zero gradient
    # stays 0 where 2 ** -exponent overflows the dtype (float16's 1.2e-7: 2 ** 22), as PyTorch's grad / 2 ** exponent
    x = tg.tensor(np.array(xs, dtype=np.float64), dtype=getattr(tg, dtype), requires_grad=True)
    m, e = tg.frexp(x)
    g = np.zeros(len(xs))
    g[1::2] = 1.0
    m.backward(tg.tensor(g, dtype=getattr(tg, dtype)))
    with np.errstate(over="ignore"):
        want = np.ldexp(g, -e.numpy()).astype(dtype)
    np.testing.assert_array_equal(x.grad.numpy(), want)
    assert not np.isnan(x.grad.numpy()).any()


def test_frexp_gradient_matches_pytorch_where_the_power_overflows():
    torch = pytest.importorskip("torch")
    x = [[math.inf, 3.0, 2.0], [1.1920928955078125e-07, -2.5, 6e-8]]
    g = [[0.0, 1.0, 2.0], [0.0, 1.0, 1.0]]
    for dtype in ("float16", "float32", "float64"):
        grads = []
        for m in (tg, torch):
            t = m.tensor(x, dtype=getattr(m, dtype), requires_grad=True)
            t.frexp()[0].backward(m.tensor(g, dtype=getattr(m, dtype)))
            grads.append(t.grad.numpy())
        np.testing.assert_array_equal(*grads, err_msg=dtype)
@given(a=st.integers(-(2 ** 63), 2 ** 63 - 1), b=st.integers(-(2 ** 63), 2 ** 63 - 1),
       dtype=st.sampled_from(["int8", "int16", "int32", "int64"]), low=st.sampled_from([0, 1, 2]))
@example(a=-7, b=0, dtype="int64", low=2)  # gcd(-7, INT64_MIN) is -1 in PyTorch
@example(a=6, b=0, dtype="int8", low=1)  # gcd(-128, 6) is -2 in int8
def test_gcd_with_the_dtype_minimum_follows_pytorchs_calc_gcd(a, b, dtype, low):
    info = np.iinfo(dtype)
    a, b = (int(np.array(v).astype(np.int64).astype(dtype)) for v in (a, b))
    if low == 1:
        a = info.min
    elif low == 2:
        b = info.min
    # PyTorch's calc_gcd (aten/src/ATen/native/Math.h): C's abs (the minimum stays negative), then Euclid's loop
    # with C's truncating % (numpy's fmod)
    x, y = (np.array(v, dtype) for v in (a, b))
    with np.errstate(all="ignore"):
        x, y = np.abs(x), np.abs(y)
        while x != 0:
            x, y = np.fmod(y, x), x
        want = y
    assert tg.gcd(tg.tensor([a], dtype=getattr(tg, dtype)), tg.tensor([b], dtype=getattr(tg, dtype))).item() == want
    if a != info.min and b != info.min:
        assert want == math.gcd(a, b)


def test_gcd_and_lcm_at_the_dtype_minimum_match_pytorch():
    torch = pytest.importorskip("torch")
    for dtype in ("int8", "int16", "int32", "int64"):
        info = np.iinfo(dtype)
        vals = [info.min, info.min + 1, -7, -1, 0, 1, 2, 6, 100 % info.max, info.max]
        a, b = (np.array(v, dtype) for v in zip(*itertools.product(vals, vals)))
        want = torch.gcd(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        np.testing.assert_array_equal(tg.gcd(tg.tensor(a), tg.tensor(b)).numpy(), want)
        # (PyTorch's lcm divides by the gcd: -1 at the minimum traps there, so those pairs are left out)
        ok = ~((want == -1) & ((a == info.min) | (b == info.min)))
        np.testing.assert_array_equal(tg.lcm(tg.tensor(a[ok]), tg.tensor(b[ok])).numpy(),
                                      torch.lcm(torch.from_numpy(a[ok]), torch.from_numpy(b[ok])).numpy())
    assert tg.gcd(tg.tensor([-7, 2]), tg.tensor([-2 ** 63, -2 ** 63])).tolist() == [-1, 2]
    assert tg.lcm(tg.tensor([-127], dtype=tg.int8), tg.tensor([2], dtype=tg.int8)).tolist() == [-2]  # |-254| in int


@pytest.mark.parametrize("dtype", [tg.float16, tg.float32, tg.float64])
@given(a=st.sampled_from([-0.0, 0.0, 1.0, -2.5, math.inf, -math.inf]), b=st.sampled_from([-0.0, 0.0, 1.0, -2.5]))
@example(a=-0.0, b=0.0)  # the differential driver's float16 nextafter(-0.0, 0): 0.0 in PyTorch, -0.0 in numpy's loop
def test_nextafter_of_equal_values_is_other_as_c(dtype, a, b):
    out = tg.nextafter(tg.tensor([a], dtype=dtype), tg.tensor([b], dtype=dtype)).numpy()
    t = np.dtype(str(dtype).split(".")[-1]).type
    want = t(b) if a == b else np.nextafter(np.float64(a), np.float64(b)) if dtype == tg.float64 else \
        np.nextafter(t(a), t(b))
    assert out.dtype == t and out[0] == want and np.signbit(out[0]) == np.signbit(want)


@pytest.mark.parametrize("dtype", ["bool", "int64", "uint8"])
@pytest.mark.parametrize("expanded", [False, True])
def test_nan_to_num_in_place_of_integers_writes_nothing_even_expanded(dtype, expanded):
    # PyTorch copies an integer or bool tensor into itself (nan_to_num_out): nothing is written, so an expanded
    # tensor (elements sharing memory) is not refused, and the version still moves
    def run(m):
        base = m.tensor([1, 0], dtype=getattr(m, dtype))[:1]
        x = base.expand(3) if expanded else base
        before = x._version
        out = x.nan_to_num_(nan=0.0, neginf=-1e300)
        return out is x, x.tolist(), x._version > before

    assert run(tg) == (True, [True if dtype == "bool" else 1] * (3 if expanded else 1), True)
    torch = pytest.importorskip("torch")
    assert run(tg) == run(torch)
