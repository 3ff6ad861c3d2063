"""tapegrad.special: values, dtypes and gradients against PyTorch's torch.special on grids with edges (0, negative
integers, infinities, nan), gradients against float64 central differences (first and second order), errors."""

import doctest
import math

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import tapegrad as tg
import tapegrad.special as S
from tapegrad.autograd import gradcheck, gradgradcheck

pytest.importorskip("scipy.special")  # tapegrad[special]; test_extras checks the error without it

EDGES = [0.0, -0.0, 1.0, -1.0, -2.0, -3.0, 0.5, -0.5, 1.5, 2.5, 0.25, 0.75, 0.999, 3.0, 7.3, 10.0, 25.0, 60.0, -7.3,
         -25.0, 1e-8, -1e-8, 1e-300, math.inf, -math.inf, math.nan]
GRID = np.array(EDGES, dtype=np.float64)

# torch.special's differentiable functions of one tensor: name -> where in its domain to check gradients
UNARY = {"digamma": (0.1, 20), "psi": (0.1, 20), "gammaln": (0.1, 20), "entr": (0.05, 5), "erf": (-3, 3),
         "erfc": (-3, 3), "erfcx": (-3, 20), "erfinv": (-0.95, 0.95), "exp2": (-3, 3), "expit": (-5, 5),
         "expm1": (-3, 3), "i0": (-10, 10), "i0e": (-10, 10), "i1": (-10, 10), "i1e": (-10, 10),
         "log1p": (-0.9, 5), "log_ndtr": (-20, 5), "logit": (0.05, 0.95), "ndtr": (-5, 5), "ndtri": (0.02, 0.98),
         "sinc": (-3, 3)}
NOT_DIFFERENTIABLE = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
                      "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
                      "scaled_modified_bessel_k1", "spherical_bessel_j0"]
# differentiable in `other` only (PyTorch raises for `input`), or in both
BINARY = {"xlogy": (True, (-2, 2), (0.1, 5)), "xlog1py": (True, (-2, 2), (-0.9, 5)),
          "gammainc": (False, (0.5, 5), (0.1, 5)), "gammaincc": (False, (0.5, 5), (0.1, 5)),
          "zeta": (False, (1.5, 5), (0.5, 5))}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _t(torch, a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def _g(a, grad=False):
    return tg.tensor(np.asarray(a), requires_grad=grad)


def _close(ours, theirs, rtol, what):
    a, b = ours.detach().numpy(), theirs.detach().numpy()
    assert a.shape == b.shape, what
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], f"{what}: {ours.dtype}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3, equal_nan=True, err_msg=what)


def test_the_namespace_has_pytorchs_names(torch):
    theirs = {n for n in dir(torch.special) if not n.startswith("_") and callable(getattr(torch.special, n))}
    assert theirs <= set(dir(S)), sorted(theirs - set(dir(S)))
    assert set(S.__all__) == theirs


@pytest.mark.parametrize("name", sorted(UNARY) + NOT_DIFFERENTIABLE)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_unary_values_on_the_edge_grid_match_pytorch(torch, name, dtype):
    x = GRID.astype(dtype)
    x = np.concatenate([x, x / 3 - 0.01])  # and points between the edges
    ours, theirs = getattr(S, name)(_g(x)), getattr(torch.special, name)(_t(torch, x))
    # airy_ai: scipy's (Amos) and PyTorch's (Cephes-style) approximations differ by up to 5e-6 relative
    rtol = 1e-5 if name == "airy_ai" else 1e-6 if dtype == "float64" else 2e-5
    _close(ours, theirs, rtol, f"{name}({dtype})")


@pytest.mark.parametrize("name", sorted(UNARY) + NOT_DIFFERENTIABLE + ["gammaln_int"])
def test_integer_and_bool_inputs_promote_to_the_default_float_dtype(torch, name):
    name = name.replace("_int", "")
    for values in ([-2, 0, 1, 3], [True, False]):
        ours = getattr(S, name)(tg.tensor(values))
        theirs = getattr(torch.special, name)(torch.tensor(values))
        _close(ours, theirs, 2e-5, f"{name}({values})")


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_on_the_edge_grid_match_pytorch(torch, name):
    edges = np.array([0.0, 1.0, -1.0, -2.0, 0.5, 2.5, 10.0, math.inf, -math.inf, math.nan])
    a, b = np.meshgrid(edges, edges, indexing="ij")
    _close(getattr(S, name)(_g(a), _g(b)), getattr(torch.special, name)(_t(torch, a), _t(torch, b)), 1e-6, name)
    # a Python number on either side (gammainc/gammaincc take tensors only, as PyTorch's), integer tensors,
    # broadcasting
    if name.startswith("gammainc"):
        for args in ((_g(a), 2.0), (3, _g(b))):
            with pytest.raises(TypeError, match=name):
                getattr(S, name)(*args)
    else:
        _close(getattr(S, name)(_g(a[:, :1]), 2.0), getattr(torch.special, name)(_t(torch, a[:, :1]), 2.0), 1e-6,
               name)
        _close(getattr(S, name)(3, _g(b[0])), getattr(torch.special, name)(3, _t(torch, b[0])), 1e-6, name)
    ints = (tg.tensor([[1, 2, 3]]), tg.tensor([[2], [5]]))
    if name.startswith("gammainc"):  # PyTorch's igamma kernels are for floating-point tensors only
        with pytest.raises(NotImplementedError, match=name):
            getattr(S, name)(*ints)
        return
    _close(getattr(S, name)(*ints), getattr(torch.special, name)(torch.tensor([[1, 2, 3]]), torch.tensor([[2], [5]])),
           1e-6, name)


def _poles(x):
    return np.isfinite(x) & (x <= 0) & (x == np.floor(x))


def test_polygamma_multigammaln_and_logit_eps_match_pytorch(torch):
    x = np.concatenate([GRID, GRID / 3 - 0.01])
    pole = _poles(x)
    for n in range(5):
        ours = S.polygamma(n, _g(x))
        if n == 1:  # trigamma at its poles is +inf (scipy's); PyTorch's series gives a huge finite value there
            assert np.isposinf(ours.numpy()[pole]).all()
            ours, theirs = ours[tg.tensor(~pole)], torch.special.polygamma(n, _t(torch, x[~pole]))
        else:
            theirs = torch.special.polygamma(n, _t(torch, x))
        _close(ours, theirs, 1e-6, f"polygamma({n})")
    pos = np.array([1.0, 1.5, 2.5, 7.3, 30.0])
    for p in (1, 2, 3, 5):
        _close(S.multigammaln(_g(pos + p), p), torch.special.multigammaln(_t(torch, pos + p), p), 1e-6,
               f"multigammaln({p})")
    for eps in (None, 0.0, 1e-6, 0.2):
        _close(S.logit(_g(x), eps), torch.special.logit(_t(torch, x), eps), 1e-6, f"logit(eps={eps})")
    _close(S.round(_g(x * 7)), torch.special.round(_t(torch, x * 7)), 0, "round")
    _close(S.softmax(_g(x[:8]), 0), torch.special.softmax(_t(torch, x[:8]), 0), 1e-6, "softmax")
    _close(S.log_softmax(_g(x[:8]), 0), torch.special.log_softmax(_t(torch, x[:8]), 0), 1e-6, "log_softmax")
    _close(S.logsumexp(_g(x[:8]), 0), torch.special.logsumexp(_t(torch, x[:8]), 0), 1e-6, "logsumexp")


def _inside(lo, hi, n=9):
    return np.linspace(lo, hi, n) + 0.0123


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients_and_node_names_match_pytorch(torch, name):
    x = _inside(*UNARY[name])
    ours_x, theirs_x = _g(x, True), _t(torch, x, True)
    ours, theirs = getattr(S, name)(ours_x), getattr(torch.special, name)(theirs_x)
    # PyTorch's ndtr is composite (MulBackward1): ours is too; log1p is tapegrad's core op (Log1pBackward0)
    if name not in ("ndtr", "log1p"):
        assert ours.grad_fn.name() == theirs.grad_fn.name()
    (g1,) = tg.autograd.grad(ours.sum(), ours_x, create_graph=True)
    (t1,) = torch.autograd.grad(theirs.sum(), theirs_x, create_graph=True)
    _close(g1, t1, 1e-6, f"d {name}")
    (g2,) = tg.autograd.grad(g1.sum(), ours_x)
    (t2,) = torch.autograd.grad(t1.sum(), theirs_x)
    _close(g2, t2, 1e-6, f"d2 {name}")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients_at_the_edges_match_pytorch(torch, name):
    x = GRID
    ours_x, theirs_x = _g(x, True), _t(torch, x, True)
    (g,) = tg.autograd.grad(getattr(S, name)(ours_x).sum(), ours_x)
    (t,) = torch.autograd.grad(getattr(torch.special, name)(theirs_x).sum(), theirs_x)
    if name in ("digamma", "psi"):  # trigamma at the poles: +inf here (scipy's), huge but finite in PyTorch
        pole = _poles(x)
        assert np.isposinf(g.numpy()[pole]).all()
        g, t = g[tg.tensor(~pole)], t[torch.tensor(~pole)]
    _close(g, t, 1e-6, f"d {name} at the edges")


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients_match_pytorch(torch, name):
    both, (alo, ahi), (blo, bhi) = BINARY[name]
    a, b = _inside(alo, ahi), _inside(blo, bhi)[::-1].copy()
    a[0] = 0.0
    oa, ob, ta, tb = _g(a, both), _g(b, True), _t(torch, a, both), _t(torch, b, True)
    ours, theirs = getattr(S, name)(oa, ob), getattr(torch.special, name)(ta, tb)
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    wrt_o, wrt_t = ((oa, ob), (ta, tb)) if both else ((ob,), (tb,))
    for g, t in zip(tg.autograd.grad(ours.sum(), wrt_o, create_graph=True),
                    torch.autograd.grad(theirs.sum(), wrt_t, create_graph=True)):
        _close(g, t, 1e-6, f"d {name}")
    if not both:  # PyTorch has no derivative in `input`: neither do we, with its message
        oa2 = _g(a + 1, True)
        with pytest.raises(NotImplementedError, match="not implemented"):
            getattr(S, name)(oa2, ob).sum().backward()


def test_polygamma_multigammaln_logit_gradients_match_pytorch(torch):
    x = _inside(0.3, 6)
    cases = [(lambda m, v: m.polygamma(2, v), "polygamma"), (lambda m, v: m.multigammaln(v + 1, 3), "mvlgamma"),
             (lambda m, v: m.logit(v / 7, 0.1), "logit eps"), (lambda m, v: m.logit(v / 7 - 0.2), "logit")]
    for f, what in cases:
        ox, tx = _g(x, True), _t(torch, x, True)
        ours, theirs = f(S, ox), f(torch.special, tx)
        assert ours.grad_fn.name() == theirs.grad_fn.name(), what
        (g1,) = tg.autograd.grad(ours.sum(), ox, create_graph=True)
        (t1,) = torch.autograd.grad(theirs.sum(), tx, create_graph=True)
        _close(g1, t1, 1e-6, what)
        _close(tg.autograd.grad(g1.sum(), ox)[0], torch.autograd.grad(t1.sum(), tx)[0], 1e-6, what)


def test_not_differentiable_functions_give_results_that_do_not_require_grad(torch):
    x = _g([0.5, 2.0], True)
    for name in NOT_DIFFERENTIABLE:
        assert not getattr(S, name)(x).requires_grad
        assert not getattr(torch.special, name)(_t(torch, [0.5, 2.0], True)).requires_grad


POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
               "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]


@pytest.mark.parametrize("name", POLYNOMIALS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_polynomial_values_on_the_edge_grid_match_pytorch(torch, name, dtype):
    # x at +-1, 0, 0.5 (the edges and the shifted ones' edges), outside [-1, 1], inf, nan; n negative, 0, 1, both
    # sides of the thresholds where PyTorch switches from the recurrence to cos/sin (6, 8), and fractional
    xs = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.25, 0.999, -0.3, 0.9, 0.1, 2.0, -2.5, 10.0, math.inf,
                   -math.inf, math.nan])
    ns = np.array([-2.0, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 2.7, 20])
    x, n = (a.astype(dtype) for a in np.meshgrid(xs, ns, indexing="ij"))
    ours, theirs = getattr(S, name)(_g(x), _g(n)), getattr(torch.special, name)(_t(torch, x), _t(torch, n))
    assert not ours.requires_grad
    if dtype == "float64":
        _close(ours, theirs, 1e-6, name)
    else:  # float32 near the polynomials' zeros and at high degree: rounding of the recurrence and of cos/acos
        assert ours.dtype == tg.float32
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=5e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_take_numbers_integer_tensors_and_broadcast(torch, name):
    for ours_args, their_args in [((tg.tensor([1, 2, 3]), 3), (torch.tensor([1, 2, 3]), 3)),
                                  ((0.5, tg.tensor([0, 1, 4])), (0.5, torch.tensor([0, 1, 4]))),
                                  ((_g([[0.3], [0.7]]), _g([2.0, 5.0, 11.0])),
                                   (_t(torch, [[0.3], [0.7]]), _t(torch, [2.0, 5.0, 11.0])))]:
        _close(getattr(S, name)(*ours_args), getattr(torch.special, name)(*their_args), 1e-6, name)


def test_polynomial_errors_name_the_op():
    with pytest.raises(ValueError, match="hermite_polynomial_h.*broadcast"):
        S.hermite_polynomial_h(tg.ones(2), tg.ones(3))
    with pytest.raises(TypeError, match="legendre_polynomial_p"):
        S.legendre_polynomial_p(0.5, 2)
    with pytest.raises(ValueError, match="chebyshev_polynomial_t.*finite"):
        S.chebyshev_polynomial_t(tg.ones(2), math.inf)


# ---------------------------------------------------------------------- finite differences (no PyTorch needed)
@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_unary_gradients_match_finite_differences(name, data):
    lo, hi = UNARY[name]
    shape = data.draw(st.sampled_from([(), (3,), (2, 2)]))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)))
    if name == "sinc":
        x = np.where(np.abs(x) < 1e-3, 0.3, x)  # sinc's gradient at 0 is checked against PyTorch
    if name in ("i1", "i1e", "i0e"):
        x = np.where(np.abs(x) < 1e-3, 0.4, x)  # kinks of |x| at 0 (i0e) and the limit there
    t = _g(x, True)
    fn = getattr(S, name)
    assert gradcheck(fn, (t,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(fn, (t,), eps=1e-6, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_binary_gradients_match_finite_differences_with_broadcasting(name, data):
    both, (alo, ahi), (blo, bhi) = BINARY[name]
    a = data.draw(hnp.arrays(np.float64, (2, 1), elements=st.floats(alo, ahi)))
    b = data.draw(hnp.arrays(np.float64, (3,), elements=st.floats(blo, bhi)))
    ta, tb = _g(a, both), _g(b, True)
    assert gradcheck(getattr(S, name), (ta, tb), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(getattr(S, name), (ta, tb), eps=1e-6, atol=1e-4, rtol=1e-3)


@settings(max_examples=5, deadline=None)
@given(x=hnp.arrays(np.float64, (3,), elements=st.floats(0.6, 8)), n=st.integers(0, 3), p=st.integers(1, 3))
def test_polygamma_and_multigammaln_gradients_match_finite_differences(x, n, p):
    t = _g(x, True)
    assert gradcheck(lambda v: S.polygamma(n, v), (t,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda v: S.multigammaln(v + p, p), (t,), eps=1e-6, atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------------- aliases, methods, errors, docs
def test_aliases_and_tensor_methods():
    x = tg.tensor([0.25, 2.5])
    assert S.psi is S.digamma and S.gammaln is tg.lgamma and S.expit is tg.sigmoid and S.i0 is tg.i0
    assert tg.igamma is S.gammainc and tg.igammac is S.gammaincc and tg.mvlgamma is S.multigammaln
    for method, fn in [("lgamma", S.gammaln), ("digamma", S.digamma), ("erfinv", lambda v: S.erfinv(v / 3)),
                       ("i0", S.i0), ("sinc", S.sinc), ("logit", lambda v: S.logit(v / 3))]:
        arg = x / 3 if method in ("erfinv", "logit") else x
        np.testing.assert_array_equal(getattr(arg, method)().numpy(), fn(x).numpy() if method not in (
            "erfinv", "logit") else getattr(S, method)(arg).numpy())
        y = arg.clone()
        getattr(y, method + "_")()
        np.testing.assert_array_equal(y.numpy(), getattr(arg, method)().numpy())
    np.testing.assert_array_equal(x.polygamma(2).numpy(), S.polygamma(2, x).numpy())
    np.testing.assert_array_equal(x.xlogy(x).numpy(), S.xlogy(x, x).numpy())
    np.testing.assert_array_equal((x + 1).mvlgamma(2).numpy(), S.multigammaln(x + 1, 2).numpy())
    np.testing.assert_array_equal(x.igamma(x).numpy(), S.gammainc(x, x).numpy())
    np.testing.assert_array_equal(x.igammac(x).numpy(), S.gammaincc(x, x).numpy())


def test_errors_name_the_op():
    with pytest.raises(RuntimeError, match="polygamma.*negative n"):
        S.polygamma(-1, tg.tensor([1.0]))
    with pytest.raises(TypeError, match="polygamma"):
        S.polygamma(1.5, tg.tensor([1.0]))
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        S.multigammaln(tg.tensor([3.0]), 0)
    for name in ["digamma", "i0e", "logit", "bessel_j0", "airy_ai", "spherical_bessel_j0"]:
        with pytest.raises(TypeError, match=name):
            getattr(S, name)([1.0, 2.0])
    with pytest.raises(ValueError, match="zeta.*broadcast"):
        S.zeta(tg.ones(2), tg.ones(3))


def test_docstring_examples():
    import tapegrad.special._ops as ops
    for module in (S, ops):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_erfinv_keeps_the_sign_of_zero():
    # found by the differential test: erfinv(-0.0) is -0.0 in PyTorch
    out = tg.erfinv(tg.tensor([-0.0, 0.0, math.nan])).numpy()
    assert np.signbit(out[0]) and not np.signbit(out[1]) and np.isnan(out[2])


def test_mvlgamma_refuses_bool_tensors():
    # PyTorch: "The input tensor may not be a boolean tensor." (found by the differential test)
    with pytest.raises(RuntimeError, match="may not be a boolean tensor"):
        tg.mvlgamma(tg.tensor([True, False]), 1)
    with pytest.raises(RuntimeError, match="may not be a boolean tensor"):
        tg.tensor([True]).mvlgamma(2)
    assert tg.mvlgamma(tg.tensor([2, 3]), 1).dtype == tg.float32


# ---------------------------------------------------------------------- next to the poles: scipy.special's values
@given(k=st.integers(-30, 0), eps=st.floats(-0.4, 0.4).filter(lambda e: e != 0) | st.sampled_from(
    [1e-30, -1e-30, 5e-324, -5e-324, 1e-310, -1e-12, 1e-12, 2.2e-16]))
@settings(max_examples=60)
def test_gamma_family_next_to_the_poles_keeps_its_digits(k, eps):
    """lgamma/digamma/trigamma at k + eps next to a pole k = 0, -1, -2, ...: the reflection's sin/tan(pi x) is
    computed from x's distance to the nearest integer, so no digit is lost (lgamma(-1e-30) is 69.08, not 37.8)."""
    sp = pytest.importorskip("scipy.special")
    x = np.array([k + eps])
    r = x[0] - np.round(x[0])
    if r == 0:
        return  # k + eps rounded onto the pole itself
    try:  # mpmath (with PyTorch's installation) is exact; scipy's own reflection loses digits next to a pole
        import mpmath

        refs = [lambda a: float(mpmath.log(abs(mpmath.gamma(mpmath.mpf(a))))),
                lambda a: float(mpmath.digamma(mpmath.mpf(a))), lambda a: float(mpmath.psi(1, mpmath.mpf(a)))]
        rtol = 1e-9
    except ImportError:
        if abs(r) < 1e-300:
            return  # scipy's gammaln of a subnormal is inf (see test_lgamma_of_subnormals_is_minus_log)
        refs = [sp.gammaln, sp.psi, lambda a: sp.polygamma(1, a)]
        rtol = max(1e-9, 1e-15 / abs(r))
    for ours, ref in zip((S.gammaln, S.digamma, lambda t: S.polygamma(1, t)), refs, strict=True):
        with np.errstate(all="ignore"):
            want = ref(x[0])
        np.testing.assert_allclose(ours(_g(x)).numpy(), [want], rtol=rtol, atol=0)


def test_trigamma_is_infinite_at_the_poles():
    """polygamma(1, x) at x = 0, -1, -2, ... is +inf (the mathematical value, scipy's) in every float dtype;
    PyTorch's series gives 1.3e15 for float32 -1 (the README lists this difference)."""
    for dtype in (np.float64, np.float32, np.float16):
        x = _g(np.array([0.0, -0.0, -1.0, -2.0, -7.0, -30.0], dtype=dtype), True)
        np.testing.assert_array_equal(S.polygamma(1, x).detach().numpy(), np.inf)
        S.digamma(x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.inf)


def test_lgamma_of_subnormals_is_minus_log():
    x = np.array([5e-324, 1e-310, -5e-324, 1e-320])
    np.testing.assert_allclose(S.gammaln(_g(x)).numpy(), -np.log(np.abs(x)), rtol=1e-15)


def test_sinc_of_huge_values_matches_pytorch_digit_for_digit(torch):
    """sinc rounds pi * x in the opmath dtype as PyTorch's kernel, and takes an accurate sine of that."""
    for dtype in ("float32", "float64", "float16"):
        big = [9e18, 1e30, 3e38, 123456.7, 1.0, 2.0, -3.0] if dtype != "float16" else [6e4, 1000.5, 1.0, -2.0]
        x = np.array(big, dtype=dtype)
        with np.errstate(all="ignore"):
            _close(S.sinc(_g(x)), torch.special.sinc(_t(torch, x)), 1e-6, f"sinc({dtype})")


def test_erfinv_backward_reads_its_input_so_the_result_may_be_overwritten():
    """erfinv's gradient is computed from its input (as PyTorch's): a write into the result before backward is
    allowed, and the gradient is sqrt(pi)/2 exp(erfinv(x)^2)."""
    x = _g(np.array([0.5, -0.25, 0.0]), True)
    y = S.erfinv(x)
    with tg.no_grad():
        y.mul_(2)
    y.sum().backward()
    sp = pytest.importorskip("scipy.special")
    np.testing.assert_allclose(x.grad.numpy(), math.sqrt(math.pi) / 2 * np.exp(sp.erfinv([0.5, -0.25, 0.0]) ** 2),
                               rtol=1e-12)


@given(g=st.sampled_from([0.0, -0.0, 1.5, math.inf, math.nan]), y=st.sampled_from([0.0, -1.0, 2.0, math.inf,
                                                                                   math.nan]))
def test_xlogy_gradient_is_xlogy_of_the_gradient(g, y):
    """d xlogy(x, y) / dx is xlogy(grad, y), as PyTorch's: 0 for a zero gradient even where log(y) is -inf
    (y = 0), NaN where y is NaN."""
    x = _g(np.array([2.0]), True)
    S.xlogy(x, _g(np.array([y]))).backward(_g(np.array([g])))
    with np.errstate(all="ignore"):
        want = 0.0 if g == 0 and not math.isnan(y) else g * np.log(y)
    np.testing.assert_array_equal(x.grad.numpy(), [want])
