"""Reductions and scans: forward against numpy, gradients against finite differences, dtypes, edge cases."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
from tapegrad.autograd import gradgradcheck
from tapegrad.testing import arrays, assert_forward, assert_gradients, shapes, valid_dims


# ---------------------------------------------------------------------- strategies
@st.composite
def shape_dim_keepdim(draw, min_dims=0, max_dims=3, min_side=1, allow_none=True):
    """(shape, dim, keepdim) with ``dim`` None, an int (maybe negative) or a tuple valid for ``shape``."""
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))
    return shape, draw(valid_dims(len(shape), allow_none=allow_none)), draw(st.booleans())


def distinct(shape):
    """Arrays whose elements are pairwise at least 0.1 apart (no ties: max/median are differentiable)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-60, 60), unique=True).map(lambda a: a / 10.0)


def away_from_zero(shape):
    """Arrays with |x| >= 0.2 (|x| is differentiable there)."""
    return hnp.arrays(np.float64, shape, elements=st.floats(0.2, 3.0)).flatmap(
        lambda a: hnp.arrays(np.bool_, a.shape).map(lambda s: np.where(s, -a, a)))


def moderate(shape):
    """Arrays of 0 and of magnitudes in [0.05, 3]: their products do not underflow (where the gradient,
    out / x as in PyTorch, loses precision)."""
    return hnp.arrays(np.float64, shape, elements=st.one_of(st.just(0.0), st.floats(0.05, 3.0),
                                                            st.floats(-3.0, -0.05)))


def np_axes(dim, ndim):
    """numpy's axis for a PyTorch ``dim`` (None and () mean all axes)."""
    if dim is None or dim == ():
        return None
    if isinstance(dim, tuple):
        return tuple(d % max(ndim, 1) for d in dim) if ndim else None
    return dim % max(ndim, 1) if ndim else None


def np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.reshape(np.max(a, axis).shape)


# op name -> (tapegrad call, numpy reference, strategy for the values, smallest side)
REDUCTIONS = {
    "sum": (lambda t, d, k: t.sum(d, k), lambda a, ax, k: np.sum(a, ax, keepdims=k), arrays, 1),
    "mean": (lambda t, d, k: t.mean(d, k), lambda a, ax, k: np.mean(a, ax, keepdims=k), arrays, 1),
    "var": (lambda t, d, k: t.var(d, keepdim=k), lambda a, ax, k: np.var(a, ax, ddof=1, keepdims=k),
            arrays, 2),
    "std": (lambda t, d, k: t.std(d, keepdim=k), lambda a, ax, k: np.std(a, ax, ddof=1, keepdims=k),
            distinct, 2),
    # prod's dim is one int, as PyTorch's; numpy's axis= alias takes the tuples this table draws
    "prod": (lambda t, d, k: t.prod(axis=d, keepdims=k), lambda a, ax, k: np.prod(a, ax, keepdims=k), moderate, 1),
    "amax": (lambda t, d, k: t.amax(() if d is None else d, k), lambda a, ax, k: np.max(a, ax, keepdims=k),
             distinct, 1),
    "amin": (lambda t, d, k: t.amin(() if d is None else d, k), lambda a, ax, k: np.min(a, ax, keepdims=k),
             distinct, 1),
    "logsumexp": (lambda t, d, k: t.logsumexp(tuple(range(t.ndim)) if d is None else d, k), np_logsumexp,
                  arrays, 1),
    "norm": (lambda t, d, k: t.norm(2, d, k), lambda a, ax, k: np.sqrt((a * a).sum(ax, keepdims=k)),
             away_from_zero, 1),
    "norm1": (lambda t, d, k: t.norm(1, d, k), lambda a, ax, k: np.abs(a).sum(ax, keepdims=k),
              away_from_zero, 1),
    "norm3": (lambda t, d, k: t.norm(3, d, k),
              lambda a, ax, k: (np.abs(a) ** 3).sum(ax, keepdims=k) ** (1 / 3), away_from_zero, 1),
    "norm_inf": (lambda t, d, k: t.norm(math.inf, d, k), lambda a, ax, k: np.abs(a).max(ax, keepdims=k),
                 lambda s: distinct(s).filter(lambda a: len(np.unique(np.abs(a))) == a.size), 1),
}


# ---------------------------------------------------------------------- every reduction
@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@given(data=st.data())
def test_reduction_forward_matches_numpy(op, data):
    fn, ref, values, side = REDUCTIONS[op]
    shape, dim, keepdim = data.draw(shape_dim_keepdim(min_side=side, min_dims=side - 1))
    x = data.draw(values(shape))
    for dtype in (np.float32, np.float64):
        assert_forward(lambda t: fn(t, dim, keepdim), lambda a: ref(a, np_axes(dim, a.ndim), keepdim), x,
                       dtype=dtype, rtol=1e-4 if dtype == np.float32 else 1e-7)


@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@given(data=st.data())
def test_reduction_gradient_matches_finite_differences(op, data):
    fn, _, values, side = REDUCTIONS[op]
    shape, dim, keepdim = data.draw(shape_dim_keepdim(min_side=side, min_dims=side - 1))
    x = data.draw(values(shape))
    assert_gradients(lambda t: fn(t, dim, keepdim), x)


@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_reduction_keeps_float_dtype(op, dtype):
    fn = REDUCTIONS[op][0]
    x = tg.tensor([[0.5, -1.0, 2.0], [1.5, 3.0, -0.25]], dtype=dtype, requires_grad=True)
    y = fn(x, 1, False)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


OTHER_OPS = {
    "max_dim": lambda t: t.max(1).values, "min_dim": lambda t: tg.min(t, 0, True).values, "max": tg.max,
    "median": tg.median, "median_dim": lambda t: t.median(1).values, "cumsum": lambda t: t.cumsum(1),
    "cumprod": lambda t: t.cumprod(0), "var_mean": lambda t: sum(tg.var_mean(t, 1)),
    "std_mean": lambda t: sum(tg.std_mean(t)), "norm_fro": lambda t: t.norm("fro", (0, 1)),
}


@pytest.mark.parametrize("op", sorted(OTHER_OPS))
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_other_ops_keep_float_dtype(op, dtype):
    x = tg.tensor([[0.5, -1.0, 2.0], [1.5, 3.0, -0.25]], dtype=dtype, requires_grad=True)
    y = OTHER_OPS[op](x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


@pytest.mark.parametrize("op", sorted(REDUCTIONS))
def test_reduction_wrong_dim_raises_index_error_naming_op_and_range(op):
    fn = REDUCTIONS[op][0]
    with pytest.raises(IndexError, match=r"dim 3 is out of range .* 2 dimension.*-2 to 1"):
        fn(tg.ones(2, 3), 3, False)
    with pytest.raises(IndexError, match=r"dim -3"):
        fn(tg.ones(2, 3), (0, -3), False)


def test_dim_errors_name_the_op():
    for name in ["sum", "mean", "var", "std", "prod", "amax", "amin", "logsumexp", "norm", "all", "any",
                 "count_nonzero"]:
        with pytest.raises(IndexError, match=rf"^{name}: dim 5"):
            getattr(tg, name)(tg.ones(2, 3), dim=5)
    for name in ["max", "min", "median", "argmax", "argmin", "cumsum", "cumprod"]:
        with pytest.raises(IndexError, match=rf"^{name}: dim -4 is out of range .* \(expected -2 to 1\)"):
            getattr(tg, name)(tg.ones(2, 3), -4)
    with pytest.raises(RuntimeError, match=r"sum: dim \(0, -2\) names an axis more than once"):
        tg.ones(2, 3).sum((0, -2))
    with pytest.raises(TypeError, match="sum: dim must be an int, got float"):
        tg.ones(2, 3).sum(1.0)


# ---------------------------------------------------------------------- sum and mean
def test_sum_and_mean_function_and_method_forms_and_aliases():
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    x = tg.tensor(a)
    np.testing.assert_allclose(tg.sum(x, dim=(0, 2)).numpy(), a.sum((0, 2)))
    np.testing.assert_allclose(x.sum(axis=1, keepdims=True).numpy(), a.sum(1, keepdims=True))
    np.testing.assert_allclose(tg.mean(x, -1, True).numpy(), a.mean(-1, keepdims=True))
    np.testing.assert_allclose(x.mean(axis=(0, 1)).numpy(), a.mean((0, 1)))
    assert x.sum(dim=()).item() == a.sum()  # an empty dim list means every dim, as PyTorch
    assert x.sum([]).shape == ()
    assert tg.tensor(3.0).sum(0).shape == () and tg.tensor(3.0).mean(-1).item() == 3.0
    with pytest.raises(TypeError, match="sum: got both dim=0 and its alias axis=1"):
        x.sum(0, axis=1)


def test_sum_dtypes_follow_pytorch():
    assert tg.tensor([1, 2, 3], dtype=tg.int32).sum().dtype == tg.int64
    assert tg.tensor([True, True]).sum().item() == 2 and tg.tensor([True]).sum().dtype == tg.int64
    assert tg.ones(2, dtype=tg.float32).sum(dtype=tg.float64).dtype == tg.float64
    assert tg.tensor([1, 2], dtype=tg.int32).sum(dtype=tg.int32).dtype == tg.int32
    assert tg.tensor([1, 2]).mean(dtype=tg.float64).dtype == tg.float64
    x = tg.ones(3, requires_grad=True)
    x.sum(dtype=tg.float64).backward()
    assert x.grad.dtype == tg.float32
    assert not tg.tensor([1, 2]).sum().requires_grad


def test_mean_of_integers_raises_and_of_nothing_is_nan():
    with pytest.raises(RuntimeError, match="mean: input dtype must be floating point, got int64"):
        tg.tensor([1, 2]).mean()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(tg.zeros(0).mean().item())
        assert tg.zeros(2, 0).mean(1).shape == (2,)
    assert tg.zeros(0).sum().item() == 0


@given(shape_dim_keepdim())
def test_sum_and_mean_gradients_over_random_dims(sdk):
    shape, dim, keepdim = sdk
    x = np.random.default_rng(0).uniform(-1, 1, shape)
    assert_gradients(lambda t: t.sum(dim=dim, keepdim=keepdim) * 2, x)
    assert_gradients(lambda t: t.mean(axis=dim, keepdims=keepdim), x)


def test_sum_mean_gradgradcheck():
    x = tg.tensor(np.random.default_rng(1).standard_normal((2, 3)), requires_grad=True)
    assert gradgradcheck(lambda t: (t.sum(1) ** 2).sum(), (x,))
    assert gradgradcheck(lambda t: (t * t).mean(0, keepdim=True), (x,))


# ---------------------------------------------------------------------- var and std
def test_var_std_corrections_and_argument_forms():
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.5, 9.0]])
    x = tg.tensor(a)
    np.testing.assert_allclose(x.var().item(), a.var(ddof=1))
    np.testing.assert_allclose(x.var(unbiased=False).item(), a.var())
    np.testing.assert_allclose(x.var(False).item(), a.var())  # var(input, unbiased)
    np.testing.assert_allclose(tg.var(x, 1, True, True).numpy(), a.var(1, ddof=1, keepdims=True))
    np.testing.assert_allclose(x.std(1, correction=0).numpy(), a.std(1))
    np.testing.assert_allclose(x.std(axis=0, correction=0.5, keepdims=True).numpy(),
                               np.sqrt(((a - a.mean(0)) ** 2).sum(0, keepdims=True) / 1.5))
    v, m = tg.var_mean(x, 1)
    np.testing.assert_allclose(v.numpy(), a.var(1, ddof=1))
    np.testing.assert_allclose(m.numpy(), a.mean(1))
    s, m = tg.std_mean(x, dim=0, correction=0, keepdim=True)
    np.testing.assert_allclose(s.numpy(), a.std(0, keepdims=True))
    assert m.shape == (1, 3)


@given(shape_dim_keepdim(min_dims=1, min_side=2), st.data())
def test_var_mean_std_mean_gradients(sdk, data):
    shape, dim, keepdim = sdk
    a = data.draw(distinct(shape))
    assert_gradients(lambda t: tg.var_mean(t, dim, keepdim=keepdim), a)
    assert_gradients(lambda t: tg.std_mean(t, dim, correction=0, keepdim=keepdim), a)


def test_var_degrees_of_freedom_at_most_zero_give_nan_or_inf():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(tg.tensor([1.0]).var().item())
        assert math.isinf(tg.tensor([1.0, 2.0]).var(correction=3).item())
        assert math.isnan(tg.tensor([1.0, 1.0]).std(correction=2).item())


def test_var_std_bad_arguments():
    with pytest.raises(TypeError, match="var: give either unbiased=True or correction=0, not both"):
        tg.ones(3).var(unbiased=True, correction=0)
    with pytest.raises(RuntimeError, match="std: input dtype must be floating point, got int64"):
        tg.tensor([1, 2]).std()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1e3, 1e4])
def test_var_is_stable_for_a_small_spread_around_a_large_mean(dtype, offset):
    spread = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 0.125])
    a = (offset + spread).astype(dtype)
    exact = np.var(a.astype(np.float64) - np.float64(offset), ddof=1)  # the data as stored, exactly
    got = tg.tensor(a).var().item()
    assert got == pytest.approx(exact, rel=1e-5 if dtype == np.float32 else 1e-12)
    assert tg.tensor(a).std().item() == pytest.approx(math.sqrt(exact), rel=1e-5)


def test_var_is_stable_far_from_zero_in_float64():
    a = 1e9 + np.array([4.0, 7.0, 13.0, 16.0])  # the one-pass formula gives garbage here
    assert tg.tensor(a).var().item() == pytest.approx(30.0, rel=1e-12)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_std_gradient_is_zero_at_zero_variance_and_finite_for_tiny_variance(dtype):
    x = tg.full((4,), 3.0, dtype=dtype, requires_grad=True)
    x.std().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0]
    x = tg.full((2, 3), -1.5, dtype=dtype, requires_grad=True)
    x.std(1, correction=0).sum().backward()
    assert np.all(x.grad.numpy() == 0)
    eps = 1e-3 if dtype == tg.float32 else 1e-12
    a = np.array([1.0, 1.0 + eps, 1.0 - eps, 1.0], dtype=dtype)
    x = tg.tensor(a, requires_grad=True)
    s = x.std()
    s.backward()
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    d = a.astype(np.float64) - a.astype(np.float64).mean()
    np.testing.assert_allclose(g, d / (3 * np.sqrt((d * d).sum() / 3)), rtol=1e-3, atol=1e-3)
    v = tg.tensor(a, requires_grad=True)
    v.var().backward()
    assert np.all(np.isfinite(v.grad.numpy()))


def test_var_std_gradgradcheck():
    rng = np.random.default_rng(2)
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradgradcheck(lambda t: t.var(1), (x,))
    assert gradgradcheck(lambda t: t.var(dim=(0, 1), correction=0, keepdim=True), (x,))
    assert gradgradcheck(lambda t: t.std(0), (x,))


# ---------------------------------------------------------------------- prod
def _prod_of_others(a, axis):
    """Brute force: for each element, the product of the other elements of its slice along ``axis``."""
    moved = np.moveaxis(a, axis, -1)
    n = moved.shape[-1]
    out = np.stack([np.prod(np.delete(moved, i, axis=-1), axis=-1) for i in range(n)], axis=-1)
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("row", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 5.0], [0.0, 0.0, 0.0, 1.5],
                                 [1.5, 2.0, -3.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prod_gradient_with_zeros_is_the_product_of_the_others(row, dtype):
    a = np.array([row, [1.0, 2.0, 3.0, 4.0]], dtype=dtype)
    for dim in (1, None):
        x = tg.tensor(a, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no division by zero anywhere
            (x.prod() if dim is None else x.prod(dim)).sum().backward()
        want = _prod_of_others(a, 1) if dim == 1 else _prod_of_others(a.reshape(-1), 0).reshape(a.shape)
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


@given(hnp.arrays(np.float64, shapes(min_dims=1, max_dims=3),
                  elements=st.sampled_from([0.0, 0.0, 1.5, -2.0, 0.5, 3.0])), st.data())
def test_prod_gradient_with_many_zeros_matches_finite_differences(a, data):
    dim = data.draw(valid_dims(a.ndim))
    assert_gradients(lambda t: t.prod(axis=dim), a)  # numpy's axis: None, an int or a tuple


@pytest.mark.parametrize("a", [[[1.5, 2.0, 0.5], [0.7, -1.2, 2.0]], [[0.0, 2.0, 0.5], [0.7, -1.2, 2.0]],
                               [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]])
def test_prod_gradgradcheck_with_and_without_zeros(a):
    x = tg.tensor(a, dtype=tg.float64, requires_grad=True)
    assert gradgradcheck(lambda t: t.prod(1), (x,))
    assert gradgradcheck(lambda t: t.prod(), (x,))


def test_prod_integers_and_forms():
    assert tg.tensor([1, 2, 3], dtype=tg.int32).prod().dtype == tg.int64
    assert tg.tensor([[1, 2], [3, 4]]).prod(1).tolist() == [2, 12]
    assert tg.prod(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=0, keepdim=True).tolist() == [[3.0, 8.0]]
    assert tg.zeros(0).prod().item() == 1.0


# ---------------------------------------------------------------------- max, min, amax, amin, argmax, argmin
def test_max_min_forms():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], dtype=np.float32)
    x = tg.tensor(a)
    assert x.max().item() == 7.0 and x.max().shape == () and tg.min(x).item() == 0.0
    r = tg.max(x, 1)
    assert isinstance(r, tuple) and isinstance(r, tg.return_types.max)
    values, indices = r
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0] and indices.dtype == tg.int64
    assert r.values is values and r[1] is indices
    r = x.min(dim=0, keepdim=True)
    assert r.values.shape == (1, 3) and r.indices.tolist() == [[0, 1, 0]]
    assert x.max(axis=-1, keepdims=True).indices.shape == (2, 1)
    assert "values=" in repr(r) and "indices=" in repr(r)
    s = tg.max(tg.tensor(3.0), 0)
    assert s.values.item() == 3.0 and s.indices.item() == 0


def test_max_of_two_tensors_is_maximum():
    a = tg.tensor([1.0, 4.0, 2.0])
    b = tg.tensor([3.0, 0.0, 2.0])
    assert tg.max(a, b).tolist() == [3.0, 4.0, 2.0]
    assert a.min(b).tolist() == [1.0, 0.0, 2.0]


def test_max_gradients_whole_tensor_split_ties_along_dim_picks_first():
    x = tg.tensor([[1.0, 3.0, 3.0, 2.0]], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5, 0.0]]
    x.grad = None
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0, 0.0]]
    x.grad = None
    x.amax(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5, 0.0]]
    y = tg.tensor([[2.0, 2.0], [2.0, 1.0]], requires_grad=True)
    y.amin((0, 1)).backward()
    assert y.grad.tolist() == [[0.0, 0.0], [0.0, 1.0]]
    y.grad = None
    y.amax().backward()
    np.testing.assert_allclose(y.grad.numpy(), [[1 / 3, 1 / 3], [1 / 3, 0.0]])


def test_max_with_nan_propagates_as_pytorch():
    nan = math.nan
    x = tg.tensor([[1.0, nan, 3.0, nan]], requires_grad=True)
    r = x.max(1)
    assert math.isnan(r.values.item()) and r.indices.item() == 1
    assert math.isnan(x.max().item()) and x.argmax().item() == 1
    x.max().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.0, 0.5]]


@pytest.mark.parametrize("op", ["max", "min"])
@given(data=st.data())
def test_max_min_along_dim_gradient_and_forward(op, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    a = data.draw(distinct(shape))
    assert_gradients(lambda t: getattr(t, op)(dim, keepdim).values, a)
    assert_gradients(lambda t: getattr(tg, op)(t), a)
    r = getattr(tg.tensor(a), op)(dim, keepdim)
    ref = np.argmax if op == "max" else np.argmin
    np.testing.assert_array_equal(r.indices.numpy(), ref(a, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(r.values.numpy(), getattr(np, op)(a, axis=dim, keepdims=keepdim))


@given(data=st.data())
def test_argmax_argmin_match_numpy(data):
    a = data.draw(arrays(shapes(min_dims=1, max_dims=3), min_value=-2, max_value=2).map(np.round))
    dim = data.draw(st.none() | st.integers(-a.ndim, a.ndim - 1))
    keepdim = data.draw(st.booleans())
    for op in ("argmax", "argmin"):
        got = getattr(tg.tensor(a), op)(dim, keepdim)
        if dim is None:
            want = getattr(np, op)(a)
            want = np.reshape(want, (1,) * a.ndim) if keepdim else np.asarray(want)
        else:
            want = getattr(np, op)(a, axis=dim, keepdims=keepdim)
        assert got.dtype == tg.int64 and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want)


def test_max_family_bad_inputs():
    with pytest.raises(TypeError, match="max: keepdim=True needs a dim"):
        tg.ones(2).max(keepdim=True)
    with pytest.raises(RuntimeError, match=r"max: the input is empty \(shape \(0,\)\)"):
        tg.zeros(0).max()
    with pytest.raises(IndexError, match=r"min: cannot reduce over dim 1 of size 0 \(input shape \(2, 0\)\)"):
        tg.zeros(2, 0).min(1)
    with pytest.raises(IndexError, match=r"amax: cannot reduce over an empty dimension \(input shape \(2, "):
        tg.zeros(2, 0).amax(1)
    with pytest.raises(IndexError, match="argmax: the input is empty"):  # PyTorch's IndexError
        tg.zeros(0).argmax()
    with pytest.raises(IndexError, match="argmin: cannot reduce over dim 0 of size 0"):
        tg.zeros(0, 2).argmin(0)


def test_max_dtypes_and_integers():
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor([[1.0, 2.0]], dtype=dtype, requires_grad=True)
        assert x.max().dtype == dtype and x.max(1).values.dtype == dtype and x.amin(0).dtype == dtype
    i = tg.tensor([[1, 5], [7, 2]])
    assert i.max().item() == 7 and i.max(1).values.tolist() == [5, 7] and i.amax(0).dtype == tg.int64


def test_max_gradgradcheck():
    x = tg.tensor([[0.3, -1.2, 2.5], [1.1, 0.4, -0.7]], dtype=tg.float64, requires_grad=True)
    assert gradgradcheck(lambda t: t.max(1).values ** 2, (x,))
    assert gradgradcheck(lambda t: t.amin(0) * t.amax(0), (x,))


# ---------------------------------------------------------------------- median
def test_median_forms_and_values():
    a = np.array([[3.0, 1.0, 4.0, 2.0], [5.0, 9.0, 2.0, 6.0]])
    x = tg.tensor(a)
    assert x.median().item() == 3.0  # lower of the two middle values of 8
    r = x.median(1)
    assert isinstance(r, tg.return_types.median)
    assert r.values.tolist() == [2.0, 5.0] and r.indices.tolist() == [3, 0]
    assert tg.median(x, 0, keepdim=True).values.shape == (1, 4)
    assert math.isnan(tg.tensor([1.0, math.nan, 2.0]).median().item())
    r = tg.tensor([[1.0, math.nan, 2.0]]).median(1)
    assert math.isnan(r.values.item()) and r.indices.item() == 1
    assert math.isnan(tg.zeros(0).median().item())
    with pytest.raises(TypeError, match="median: keepdim=True needs a dim"):
        x.median(keepdim=True)
    with pytest.raises(IndexError, match=r"median: cannot reduce over dim 0 of size 0 \(input shape \(0, 2"):
        tg.zeros(0, 2).median(0)


@given(data=st.data())
def test_median_gradient_and_forward(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    a = data.draw(distinct(shape))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    assert_gradients(lambda t: t.median(dim).values, a)
    assert_gradients(lambda t: t.median(), a)
    got = tg.tensor(a).median(dim)
    want = np.sort(a, axis=dim).take((a.shape[dim] - 1) // 2, axis=dim)
    np.testing.assert_array_equal(got.values.numpy(), want)
    np.testing.assert_array_equal(np.take_along_axis(a, np.expand_dims(got.indices.numpy(), dim), dim),
                                  np.expand_dims(want, dim))


def test_median_whole_tensor_gradient_split_among_ties():
    x = tg.tensor([2.0, 1.0, 2.0, 3.0], requires_grad=True)
    x.median().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5, 0.0]


# ---------------------------------------------------------------------- logsumexp
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_is_stable_for_large_inputs(dtype):
    a = np.array([[1e4, 1e4, -1e4], [-1e4, -1e4 + 1, -1e4 - 1]], dtype=dtype)
    x = tg.tensor(a, requires_grad=True)
    y = tg.logsumexp(x, 1)
    want = np.array([1e4 + math.log(2), -1e4 + 1 + math.log(1 + math.exp(-1) + math.exp(-2))])
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-6)
    y.sum().backward()
    g = x.grad.numpy()
    assert x.grad.dtype == dtype and np.all(np.isfinite(g))
    # float32 rounds the result near 1e4 to ~1e-3, and the gradient exp(x - out) inherits it (as in PyTorch)
    tol = 1e-3 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(g.sum(1), [1.0, 1.0], rtol=tol)
    np.testing.assert_allclose(g[0], [0.5, 0.5, 0.0], atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_infinite_rows_as_pytorch(dtype):
    inf = np.inf
    a = np.array([[-inf, -inf, -inf], [-inf, 0.0, 1.0], [inf, 0.0, 1.0]], dtype=dtype)
    x = tg.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.logsumexp(dim=1)
    assert y[0].item() == -inf and y[2].item() == inf
    assert y[1].item() == pytest.approx(math.log(1 + math.e), rel=1e-6)
    with np.errstate(invalid="ignore"):
        y.sum().backward()
    g = x.grad.numpy()
    assert np.all(np.isnan(g[0]))  # PyTorch: nan for a row of -inf
    np.testing.assert_allclose(g[1], [0.0, 1 / (1 + math.e), math.e / (1 + math.e)], rtol=1e-6)
    assert math.isnan(g[2, 0]) and g[2, 1] == 0 and g[2, 2] == 0


def test_logsumexp_forms_and_errors():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(tg.logsumexp(x, (0, 1)).item(), np.log(np.exp(x.numpy()).sum()), rtol=1e-6)
    assert x.logsumexp(-1, keepdim=True).shape == (2, 1)
    assert x.logsumexp(axis=0, keepdims=True).shape == (1, 2)
    assert tg.logsumexp(tg.tensor([1, 2, 3]), 0).dtype == tg.float32  # integers become floats
    assert tg.logsumexp(tg.zeros(0), 0).item() == -math.inf
    with pytest.raises(TypeError, match="logsumexp: missing the required argument 'dim'"):
        tg.logsumexp(x)


def test_logsumexp_gradgradcheck():
    x = tg.tensor(np.random.default_rng(3).standard_normal((3, 4)), requires_grad=True)
    assert gradgradcheck(lambda t: t.logsumexp(1), (x,))
    assert gradgradcheck(lambda t: t.logsumexp((0, 1), keepdim=True), (x,))


# ---------------------------------------------------------------------- cumsum and cumprod
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@given(data=st.data())
def test_scans_forward_gradient_and_dtype(op, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = data.draw(arrays(shape))
    assert_gradients(lambda t: getattr(t, op)(dim), a)
    for dtype in (np.float32, np.float64):
        assert_forward(lambda t: getattr(tg, op)(t, dim=dim), lambda x: getattr(np, op)(x, axis=dim), a,
                       dtype=dtype, rtol=1e-4 if dtype == np.float32 else 1e-7)


@pytest.mark.parametrize("row", [[2.0, 0.0, 3.0, 0.0, 4.0], [0.0, 1.5, 3.0, 2.0, 4.0],
                                 [2.0, 1.5, 3.0, 5.0, 0.0], [0.0, 0.0, 0.0, 1.0, 2.0],
                                 [2.0, 0.0, 3.0, 5.0, 4.0]])
def test_cumprod_gradient_with_zeros(row):
    a = np.array([row, [1.0, 2.0, -1.0, 0.5, 2.0]])
    g = np.arange(1.0, 11.0).reshape(2, 5)
    x = tg.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.cumprod(1).backward(tg.tensor(g))
    want = np.zeros_like(a)  # brute force: d out_j / d x_i = prod(x_k, k <= j, k != i)
    for r in range(2):
        for i in range(5):
            for j in range(i, 5):
                want[r, i] += g[r, j] * np.prod(np.delete(a[r, :j + 1], i))
    np.testing.assert_allclose(x.grad.numpy(), want)


_INF, _NAN = float("inf"), float("nan")


@given(st.lists(st.sampled_from([0.0, 0.5, -2.0, 3.0]), min_size=2, max_size=6),
       st.lists(st.sampled_from([1.0, -2.0, _INF, -_INF, _NAN]), min_size=6, max_size=6))
@example([-2.5, 1.5, 0.0, -1.0, 0.0, 2.0], [1.0, _NAN, 2.0, _INF, _NAN, -_INF])
@example([0.0, 2.0, 0.0, 3.0], [1.0, -2.0, _NAN, _INF])
def test_cumprod_gradient_leaves_out_the_terms_past_a_zero_as_pytorch(row, grad):
    # PyTorch's cumprod_backward sums g_j only where d out_j / d x_i can be nonzero: a nan/inf g_j past the
    # first zero (past the second for the first zero itself) does not reach the gradient (no nan * 0)
    torch = pytest.importorskip("torch")
    g = grad[:len(row)]
    x, t = tg.tensor(row, requires_grad=True), torch.tensor(row, requires_grad=True)
    x.cumprod(0).backward(tg.tensor(g))
    t.cumprod(0).backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    ys = tg.tensor([-2.5, 1.5, 0.0, -1.0], requires_grad=True)
    ys.pow(ys.cumprod(0)).sum().backward()
    assert np.isfinite(ys.grad.numpy()[[1, 3]]).all()


def test_scans_integers_scalars_and_errors():
    assert tg.tensor([1, 2, 3], dtype=tg.int32).cumsum(0).dtype == tg.int64
    assert tg.tensor([True, True]).cumsum(0).tolist() == [1, 2]
    assert tg.tensor([1, 2, 3]).cumprod(0).tolist() == [1, 2, 6]
    assert tg.tensor([1.0, 2.0]).cumsum(0, dtype=tg.float64).dtype == tg.float64
    assert tg.tensor(3.0).cumsum(0).item() == 3.0 and tg.tensor(2).cumprod(-1).dtype == tg.int64
    x = tg.tensor(2.0, requires_grad=True)
    x.cumprod(0).backward()
    assert x.grad.item() == 1.0
    assert tg.cumsum(tg.ones(2, 3), axis=1).tolist() == [[1, 2, 3], [1, 2, 3]]
    with pytest.raises(TypeError, match="cumsum: missing the required argument 'dim'"):
        tg.ones(3).cumsum()


def test_cumsum_cumprod_gradgradcheck():
    x = tg.tensor([[0.5, -1.0, 2.0], [1.5, 0.3, -0.8]], dtype=tg.float64, requires_grad=True)
    assert gradgradcheck(lambda t: t.cumsum(1) ** 2, (x,))
    assert gradgradcheck(lambda t: t.cumprod(0), (x,))
    z = tg.tensor([[0.5, 0.0, 2.0, 1.5], [0.0, 0.3, 0.0, -0.8], [1.0, 2.0, 0.5, 0.0]], dtype=tg.float64,
                  requires_grad=True)
    assert gradgradcheck(lambda t: t.cumprod(1), (z,))  # zeros: one, two, last
    assert gradgradcheck(lambda t: t.cumprod(0), (z,))


# ---------------------------------------------------------------------- norm
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf, -math.inf, -1.0, 0])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_norm_gradient_at_the_zero_vector_is_zero(p, dtype):
    x = tg.zeros(2, 3, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.norm(p, dim=1)
        assert np.all(y.detach().numpy() == 0) and y.dtype == dtype
        y.sum().backward()
    if p == 0:
        assert x.grad is None  # PyTorch gives no gradient for the 0-"norm" (a count)
    else:
        assert x.grad.dtype == dtype and np.all(x.grad.numpy() == 0)


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf, -math.inf, -1.5])
def test_norm_gradient_with_some_zero_elements_is_finite(p):
    x = tg.tensor([0.0, 2.0, -2.0, 1.0], requires_grad=True)
    x.norm(p).backward()
    assert np.all(np.isfinite(x.grad.numpy())) and x.grad[0].item() == 0


@pytest.mark.parametrize("p", [0.5, 1.5, 4, -1, -math.inf])
@given(data=st.data())
def test_norm_other_p_forward_and_gradient(p, data):
    shape, dim, keepdim = data.draw(shape_dim_keepdim(min_dims=1))
    a = data.draw(away_from_zero(shape).filter(lambda a: math.isfinite(p) or
                                                len(np.unique(np.abs(a))) == a.size))
    assert_gradients(lambda t: t.norm(p, dim, keepdim), a)
    ax = np_axes(dim, a.ndim)
    want = (np.abs(a).min(ax, keepdims=keepdim) if p == -math.inf
            else (np.abs(a) ** p).sum(ax, keepdims=keepdim) ** (1 / p))
    np.testing.assert_allclose(tg.norm(tg.tensor(a), p, dim, keepdim).numpy(), want, rtol=1e-10)


def test_norm_forms_and_errors():
    a = np.arange(6.0).reshape(2, 3) - 2
    x = tg.tensor(a)
    assert tg.norm(x).item() == pytest.approx(np.sqrt((a * a).sum()))
    assert x.norm("fro", dim=(0, 1)).item() == pytest.approx(np.sqrt((a * a).sum()))
    assert x.norm(1, (0, 1)).item() == 9.0  # a vector norm over both dims, as PyTorch
    assert x.norm(0).item() == 5.0
    assert x.norm(dim=1, keepdim=True).shape == (2, 1)
    assert x.norm(float("inf")).item() == 3.0
    with pytest.raises(RuntimeError, match="norm: expected a floating point tensor, got dtype int64"):
        tg.tensor([1, 2]).norm()
    with pytest.raises(NotImplementedError, match="norm: the nuclear norm"):
        x.norm("nuc")
    with pytest.raises(ValueError, match="norm: p must be a number, 'fro' or 'nuc', got 'l2'"):
        x.norm("l2")
    with pytest.raises(ValueError, match=r"norm: the Frobenius norm takes at most 2 dims, got dim=\(0, 1, "):
        tg.ones(2, 2, 2).norm("fro", dim=(0, 1, 2))
    with pytest.raises(RuntimeError, match=r"norm: cannot reduce over an empty dimension"):  # as PyTorch
        tg.zeros(0).norm(math.inf)


@pytest.mark.parametrize("dtype, big, small", [(tg.float32, 1e30, 1e-30), (tg.float64, 1e200, 1e-200)])
@pytest.mark.parametrize("p", [2, 3, 2.5])
def test_norm_is_finite_and_exact_where_the_sum_of_powers_leaves_the_float_range(dtype, big, small, p):
    # NOTE: PyTorch gives inf and 0 here (|x|^p overflows or underflows); the issue asks for the stable form.
    for scale in (big, small):
        x = tg.tensor([[3.0 * scale, 4.0 * scale], [3.0, 4.0]], dtype=dtype, requires_grad=True)
        n = x.norm(p, dim=1)
        want = (3.0 ** p + 4.0 ** p) ** (1 / p)
        np.testing.assert_allclose(n.detach().numpy() / np.array([scale, 1.0]), want, rtol=1e-5)
        n.sum().backward()
        g = np.array([3.0, 4.0]) ** (p - 1) / want ** (p - 1)  # the limiting gradient, the same at any scale
        np.testing.assert_allclose(x.grad.numpy(), [g, g], rtol=1e-5)
        assert n.dtype == dtype and np.isfinite(x.grad.numpy()).all()
    assert tg.norm(tg.tensor([1e20, 1e20])).item() == pytest.approx(math.sqrt(2) * 1e20, rel=1e-6)
    assert tg.norm(tg.tensor([math.inf, 1.0])).item() == math.inf  # an infinite input stays infinite


@pytest.mark.parametrize("p", [-1, -0.5])  # (|x|^p itself stays in float32's range: the norm is right)
@given(small=st.floats(1e-30, 1e-20), big=st.floats(1.0, 6e4))
@example(small=1.0000000031710769e-30, big=6e4)  # the differential test's x.norm(-1) in float32
def test_norm_gradient_for_negative_p_at_a_tiny_element_is_the_true_value(p, small, big):
    # d ||x||_p / d x_i = sgn(x_i) (|x_i| / norm)^(p-1): finite. PyTorch 2.13's sgn(x) |x|^(p-1) * norm^(1-p)
    # overflows |x|^(p-1) to inf and underflows norm^(1-p) to 0 in float32: nan (README: a PyTorch bug)
    a = np.array([big, small])
    x = tg.tensor(a, dtype=tg.float32, requires_grad=True)
    x.norm(p).backward()
    norm = (np.abs(a) ** p).sum() ** (1 / p)
    np.testing.assert_allclose(x.grad.numpy(), (np.abs(a) / norm) ** (p - 1), rtol=1e-4, atol=1e-30)
    assert np.isfinite(x.grad.numpy()).all()
    assert_gradients(lambda t: t.norm(p), np.array([big / 3e4, small * 1e29 + 0.1]))  # against finite differences


@pytest.mark.parametrize("p", [0.5, 0.25, 1.5, 3.0])
@given(tiny=st.floats(5e-324, 1e-300), big=st.floats(1e20, 1e30))
@example(tiny=5e-324, big=1e30)  # the differential driver's float64 norm(x, 0.5): 1.1e176 in PyTorch, inf before
def test_norm_gradient_at_a_subnormal_beside_a_huge_element_is_finite(p, tiny, big):
    # |x_i| / norm underflows to 0, and 0^(p-1) is inf for p < 1; the true value sgn(x_i) |x_i|^(p-1) norm^(1-p)
    # is representable: PyTorch's factors, taken apart there
    a = np.array([tiny, big, 2.0])
    x = tg.tensor(a, dtype=tg.float64, requires_grad=True)
    n = x.norm(p)
    n.backward()
    norm = n.item()
    want = np.exp((p - 1) * (np.log(a) - math.log(norm)))  # in logs: no underflow
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


@given(big=st.floats(1.0000000150474662e30, 3.4028234663852886e38, width=32), small=st.floats(1.0, 6e4, width=32),
       dim=st.sampled_from([None, 0]))
@example(big=3.4028234663852886e38, small=6e4, dim=None)  # the driver's prod of nan_to_num(inf) beside a zero
def test_prod_gradient_with_a_zero_after_an_overflowing_prefix_is_pytorchs(big, small, dim):
    # the product of the others, by running products from both ends: PyTorch keeps them in float64 for float32
    # (its CPU cumprod), so 3 * 3.4e38 * 0 is 0 there, not inf * 0 = nan
    x = tg.tensor([3.0, big, 0.0, small], dtype=tg.float32, requires_grad=True)
    (x.prod() if dim is None else x.prod(dim)).backward()
    # the zero's own gradient is the running product before it times the one after it, each rounded to float32
    zero_grad = np.float32(np.float32(3.0 * np.float64(big)) * np.float32(small))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([0.0, 0.0, zero_grad, 0.0], dtype=np.float32))


def test_norm_gradgradcheck():
    x = tg.tensor([[0.5, -1.0, 2.0], [1.5, 0.3, -0.8]], dtype=tg.float64, requires_grad=True)
    assert gradgradcheck(lambda t: t.norm(dim=1), (x,))
    assert gradgradcheck(lambda t: t.norm(3), (x,))


# ---------------------------------------------------------------------- all, any, count_nonzero
@given(data=st.data())
def test_all_any_count_nonzero_match_numpy(data):
    a = data.draw(arrays(shapes(max_dims=3), dtype=np.int64, min_value=0, max_value=1))
    dim = data.draw(valid_dims(a.ndim))
    keepdim = data.draw(st.booleans())
    ax = np_axes(dim, a.ndim)
    for op in ("all", "any"):
        got = getattr(tg.tensor(a), op)(dim, keepdim)
        assert got.dtype == tg.bool
        np.testing.assert_array_equal(got.numpy(), getattr(np, op)(a, axis=ax, keepdims=keepdim))
    got = tg.count_nonzero(tg.tensor(a.astype(np.float32)), dim)
    assert got.dtype == tg.int64
    np.testing.assert_array_equal(got.numpy(), np.count_nonzero(a, axis=ax))


def test_all_any_forms():
    x = tg.tensor([[True, False], [True, True]])
    assert tg.all(x).item() is False and x.any().item() is True
    assert x.all(dim=(0, 1)).item() is False and x.all(1, keepdim=True).shape == (2, 1)
    assert tg.tensor([1, 2], dtype=tg.uint8).all().dtype == tg.uint8
    assert tg.zeros(0).all().item() is True and tg.zeros(0).any().item() is False


# ---------------------------------------------------------------------- optional cross-check against PyTorch
def test_matches_pytorch_numbers():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 4, 2))
    a[0, 1, 0] = 0.0
    a[2, 3, 1] = 0.0
    cases = [
        lambda m: m.sum((0, 2)), lambda m: m.mean(1, keepdim=True), lambda m: m.var(1),
        lambda m: m.std((0, 1), correction=0), lambda m: m.prod(1), lambda m: m.prod(),
        lambda m: m.amax((1, 2)), lambda m: m.logsumexp(0), lambda m: m.cumsum(2), lambda m: m.cumprod(1),
        lambda m: m.norm(), lambda m: m.norm(3, 1), lambda m: m.norm(1, (0, 2)),
        lambda m: m.norm(float("inf"), 0),
        lambda m: m.max(1).values, lambda m: m.min(), lambda m: m.median(2).values,
    ]
    for fn in cases:
        t = torch.tensor(a, requires_grad=True)
        x = tg.tensor(a, requires_grad=True)
        yt, yx = fn(t), fn(x)
        np.testing.assert_allclose(yx.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        w = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(w))
        yx.backward(tg.tensor(w))
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


NUMPY_REDUCTIONS = {  # numpy function -> what it should equal (numpy calls the tensor's method of that name)
    "sum": (np.sum, lambda t: t.sum()), "mean": (np.mean, lambda t: t.mean()), "prod": (np.prod, lambda t: t.prod()),
    "max": (np.max, lambda t: t.max()), "amax": (np.amax, lambda t: t.amax()), "min": (np.min, lambda t: t.min()),
    "amin": (np.amin, lambda t: t.amin()), "std": (np.std, lambda t: t.std(correction=0)),
    "var": (np.var, lambda t: t.var(correction=0)), "all": (np.all, lambda t: t.all()),
    "any": (np.any, lambda t: t.any()),
}


@pytest.mark.parametrize("name", sorted(NUMPY_REDUCTIONS))
def test_numpy_reductions_on_tensors_give_tensors(name):
    # np.sum(t) calls t.sum(axis=None, out=None) (np.std adds dtype= and ddof=0): they are accepted, so numpy's
    # functions give the tensor methods' results, with numpy's ddof=0 for std and var.
    fn, method = NUMPY_REDUCTIONS[name]
    a = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 0.5]])
    x = tg.tensor(a, requires_grad=True)
    got = fn(x)
    assert isinstance(got, tg.Tensor)
    np.testing.assert_allclose(got.numpy(force=True), fn(a))
    np.testing.assert_allclose(got.numpy(force=True), method(x).numpy(force=True))
    assert got.requires_grad == (name not in ("all", "any"))
    if name in ("max", "amax", "min", "amin"):  # numpy calls t.max(axis=1): PyTorch's (values, indices)
        np.testing.assert_allclose(fn(x, axis=1).values.numpy(force=True), fn(a, axis=1))
    elif name not in ("all", "any"):
        np.testing.assert_allclose(fn(x, axis=1, keepdims=True).numpy(force=True), fn(a, axis=1, keepdims=True))
    method_name = {"amax": "max", "amin": "min"}.get(name, name)  # np.amax calls t.max
    with pytest.raises(TypeError, match=rf"^{method_name}: out= is not supported"):
        fn(x, out=np.zeros(()))


def test_std_var_take_numpy_ddof_and_dtype():
    x = tg.tensor([1.0, 2.0, 4.0])
    assert x.std(ddof=0).item() == pytest.approx(np.std([1.0, 2.0, 4.0]))
    assert np.var(x, ddof=1).item() == pytest.approx(x.var().item())
    assert x.var(dtype=tg.float64).dtype == tg.float64
    with pytest.raises(TypeError, match="var: give either correction=1 or its numpy alias ddof=0"):
        x.var(correction=1, ddof=0)


# ---------------------------------------------------------------------- issue 9: PyTorch's checks and edges
def outcome(lib, fn, a, dtype, requires_grad=False):
    """What ``fn`` does in ``lib`` (tapegrad or torch) to a tensor of ``a`` in ``dtype``: ("raises", type) or
    ("ok", [(dtype name, shape, values, requires_grad) per tensor result])."""
    x = lib.tensor(np.asarray(a), dtype=getattr(lib, dtype))
    if requires_grad:
        x.requires_grad_(True)
    try:
        r = fn(lib, x)
    except Exception as e:  # noqa: BLE001 - the kind of failure is the outcome
        return ("raises", type(e).__name__)
    outs = list(r) if isinstance(r, tuple) else [r]
    return ("ok", [(str(o.dtype).split(".")[-1], tuple(o.shape), o.detach().numpy().tolist(), o.requires_grad)
                   for o in outs])


def same_outcome(torch, fn, a, dtype, requires_grad=False):
    want, got = outcome(torch, fn, a, dtype, requires_grad), outcome(tg, fn, a, dtype, requires_grad)
    if want[0] == "raises" or got[0] == "raises":
        assert want[0] == got[0], (want, got)
        return want
    assert len(want[1]) == len(got[1]), (want, got)
    for (dt, shape, values, rg), (dt2, shape2, values2, rg2) in zip(want[1], got[1]):
        assert (dt, shape, rg) == (dt2, shape2, rg2), (want, got)
        np.testing.assert_allclose(np.asarray(values2, dtype=np.float64), np.asarray(values, dtype=np.float64),
                                   rtol=1e-5, atol=1e-7, equal_nan=True)
    return want


# every op of this family that takes a dim, called with one dim argument
DIM_OPS = {
    "sum": lambda L, x, d: x.sum(d), "mean": lambda L, x, d: x.mean(d), "var": lambda L, x, d: x.var(d),
    "std": lambda L, x, d: x.std(d), "var_mean": lambda L, x, d: L.var_mean(x, d),
    "std_mean": lambda L, x, d: L.std_mean(x, d), "prod": lambda L, x, d: x.prod(d),
    "max": lambda L, x, d: x.max(d), "min": lambda L, x, d: x.min(d), "amax": lambda L, x, d: x.amax(d),
    "amin": lambda L, x, d: x.amin(d), "argmax": lambda L, x, d: x.argmax(d),
    "argmin": lambda L, x, d: x.argmin(d), "median": lambda L, x, d: x.median(d),
    "logsumexp": lambda L, x, d: x.logsumexp(d), "cumsum": lambda L, x, d: x.cumsum(d),
    "cumprod": lambda L, x, d: x.cumprod(d), "norm": lambda L, x, d: x.norm(2, d),
    "norm_inf": lambda L, x, d: x.norm(math.inf, d), "all": lambda L, x, d: x.all(d),
    "any": lambda L, x, d: x.any(d), "count_nonzero": lambda L, x, d: L.count_nonzero(x, d),
    "sort": lambda L, x, d: x.sort(d), "argsort": lambda L, x, d: x.argsort(d),
    "topk": lambda L, x, d: x.topk(0, d),
}
FLOAT_ONLY = {"mean", "var", "std", "var_mean", "std_mean", "norm", "norm_inf"}
NO_BOOL = {"argmax", "argmin", "median", "topk"}


def check_dim_argument(op, shape, dim, dtype):
    """An out-of-range dim is an IndexError naming the op (a 0-d tensor takes -1 and 0, as PyTorch); an in-range
    one is never called out of range (other refusals, of the dtype or of an empty dim, are fine)."""
    x = tg.tensor(np.zeros(shape), dtype=getattr(tg, dtype))
    n = max(len(shape), 1)
    if (op in FLOAT_ONLY and dtype != "float32") or (op in NO_BOOL and dtype == "bool"):
        with pytest.raises(RuntimeError, match=rf"^{op.split('_')[0]}\w*: "):  # the dtype is refused first
            DIM_OPS[op](tg, x, dim)
    elif -n <= dim < n:
        try:
            DIM_OPS[op](tg, x, dim)
        except Exception as e:  # noqa: BLE001 - other refusals (dtype, empty dim) are fine; not this one
            assert "out of range" not in str(e)
    else:
        with pytest.raises(IndexError, match=rf"^{op.split('_')[0]}\w*: dim {dim} is out of range"):
            DIM_OPS[op](tg, x, dim)


@given(op=st.sampled_from(sorted(DIM_OPS)), shape=shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
       dim=st.integers(-5, 5), dtype=st.sampled_from(["float32", "int64", "bool"]))
@example(op="sum", shape=(), dim=5, dtype="float32")  # tensor(3.).sum(5): accepted before, PyTorch's IndexError
@example(op="amax", shape=(), dim=-2, dtype="int64")
@example(op="cumsum", shape=(), dim=1, dtype="bool")
@example(op="all", shape=(0,), dim=1, dtype="float32")
def test_dim_out_of_range_is_an_index_error_on_every_input(op, shape, dim, dtype):
    check_dim_argument(op, shape, dim, dtype)


@pytest.mark.parametrize("op", sorted(DIM_OPS))
def test_dims_of_every_op_on_0d_and_empty_inputs(op):
    for shape in ((), (0,), (2, 0), (0, 3)):
        for dtype in ("float32", "int64", "bool"):
            for dim in range(-3, 3):
                check_dim_argument(op, shape, dim, dtype)


@pytest.mark.parametrize("op", sorted(DIM_OPS))
def test_dims_on_0d_empty_bool_and_int_inputs_match_pytorch(op):
    torch = pytest.importorskip("torch")
    fn = DIM_OPS[op]
    inputs = [(2.5, "float32"), (3, "int64"), (True, "bool"), (np.zeros(0), "float32"), (np.zeros((2, 0)), "int64"),
              (np.zeros((0, 3)), "bool"), ([[1, 0], [3, 3]], "int32"), ([[True, False]], "bool")]
    for a, dtype in inputs:
        for d in (-3, -2, -1, 0, 1, 2):
            same_outcome(torch, lambda L, x, d=d: fn(L, x, d), a, dtype)
    for dims in ((), (0,), (-1, 0), (0, 0)):
        if op in ("sum", "mean", "amax", "amin", "count_nonzero", "norm", "var", "std", "logsumexp"):
            for a, dtype in inputs:
                if op == "logsumexp" and dims == ():
                    continue  # PyTorch 2.13's logsumexp(dim=()) is broken (a shape error); tapegrad reduces all
                same_outcome(torch, lambda L, x, dims=dims: fn(L, x, dims), a, dtype)


@pytest.mark.parametrize("op", sorted(NO_BOOL))
@given(shape=shapes(min_dims=0, max_dims=2, min_side=0, max_side=3), use_dim=st.booleans())
@example(shape=(), use_dim=False)
@example(shape=(3,), use_dim=False)
@example(shape=(2, 0), use_dim=True)
def test_ops_that_order_values_refuse_bool_inputs(op, shape, use_dim):
    x = tg.tensor(np.ones(shape, dtype=bool))
    call = {"argmax": lambda: x.argmax(0 if use_dim else None), "argmin": lambda: x.argmin(0 if use_dim else None),
            "median": lambda: x.median(0) if use_dim else x.median(), "topk": lambda: x.topk(0, 0)}[op]
    if op == "median" and not use_dim and x.numel() == 0:  # PyTorch's median of nothing: nan cast to bool, True
        assert call().item() is True
        return
    with pytest.raises(RuntimeError, match=rf"^{op}: does not support bool input"):
        call()
    assert getattr(tg.tensor(np.ones(shape, dtype=np.int64)), op) is not None  # other dtypes are fine


NO_IDENTITY = {"amax": lambda t, d: t.amax(d), "amin": lambda t, d: t.amin(d),
               "norm_inf": lambda t, d: t.norm(math.inf, d), "norm_-inf": lambda t, d: t.norm(-math.inf, d),
               "norm_-1": lambda t, d: t.norm(-1, d), "max": lambda t, d: t.max(d).values,
               "min": lambda t, d: t.min(d).values, "median": lambda t, d: t.median(d).values}


@given(op=st.sampled_from(sorted(NO_IDENTITY)),
       shape=shapes(min_dims=1, max_dims=3, min_side=0, max_side=3).filter(lambda s: 0 in s), data=st.data())
@example(op="amax", shape=(2, 0), data=None)  # amax over dim 0 of a (2, 0) tensor: PyTorch gives tensor([])
@example(op="norm_inf", shape=(0, 3), data=None)
def test_reductions_without_identity_on_empty_tensors(op, shape, data):
    d = data.draw(st.integers(-len(shape), len(shape) - 1)) if data is not None else 0
    check_empty_reduction(op, shape, d)


@pytest.mark.parametrize("op", sorted(NO_IDENTITY))
def test_every_reduction_without_identity_on_empty_shapes(op):
    for shape in ((0,), (2, 0), (0, 3), (2, 0, 1)):
        for d in range(-len(shape), len(shape)):
            check_empty_reduction(op, shape, d)


def check_empty_reduction(op, shape, d):
    x = tg.zeros(shape, requires_grad=True)
    if shape[d] == 0:  # no identity: PyTorch's IndexError for a dim (norms: RuntimeError)
        with pytest.raises(RuntimeError if op.startswith("norm") else IndexError, match=rf"^{op.split('_')[0]}: "):
            NO_IDENTITY[op](x, d)
    else:  # an empty result, still part of the graph
        y = NO_IDENTITY[op](x, d)
        assert y.shape == shape[:d % len(shape)] + shape[d % len(shape) + 1:] and y.requires_grad
        y.sum().backward()
        assert x.grad.shape == shape and not np.any(x.grad.numpy())
    if op in ("amax", "amin", "norm_inf", "norm_-1"):
        whole = {"amax": lambda: x.amax(), "amin": lambda: x.amin(()), "norm_inf": lambda: x.norm(math.inf),
                 "norm_-1": lambda: x.norm(-1)}[op]
        if x.numel() == 0:  # every dim reduced: PyTorch's RuntimeError
            with pytest.raises(RuntimeError, match="cannot reduce over an empty dimension"):
                whole()


@given(shape=shapes(min_dims=1, max_dims=3, min_side=0, max_side=2).filter(lambda s: 0 in s),
       dtype=st.sampled_from([tg.float32, tg.float64]))
@example(shape=(0,), dtype=tg.float32)
def test_median_of_nothing_is_nan_and_keeps_requires_grad(shape, dtype):
    x = tg.zeros(shape, dtype=dtype, requires_grad=True)
    m = x.median()
    assert math.isnan(m.item()) and m.dtype == dtype and m.requires_grad
    assert m.grad_fn.name() == "MedianBackward0"
    m.backward()
    assert x.grad.shape == shape
    assert not tg.zeros(shape, dtype=dtype).median().requires_grad
    assert tg.zeros(shape, dtype=tg.int64).median().item() == np.iinfo(np.int64).min  # PyTorch's nan as int64


@given(shape=shapes(min_dims=1, max_dims=3, min_side=0, max_side=2))
@example(shape=(0, 3, 3))
@example(shape=(2,))
def test_median_of_bool_is_true_when_empty_and_refused_otherwise(shape):
    # PyTorch's median of nothing is nan cast to the dtype, True for bool; a non-empty bool median, or one along a
    # dim, is refused ("median_cpu" not implemented for 'Bool')
    x = tg.zeros(shape, dtype=tg.bool)
    for fn in (tg.median, tg.nanmedian):
        if x.numel() == 0:
            m = fn(x)
            assert m.dtype == tg.bool and m.shape == () and m.item() is True
        else:
            with pytest.raises(NotImplementedError, match="bool"):
                fn(x)
        with pytest.raises(NotImplementedError, match="bool"):
            fn(x, 0)


def test_median_of_bool_matches_pytorch():
    torch = pytest.importorskip("torch")
    for shape in ((0,), (0, 3, 3), (2, 0), (3,)):
        for name in ("median", "nanmedian"):
            same_outcome(torch, lambda L, x, name=name: getattr(L, name)(x), np.zeros(shape), "bool", False)
            same_outcome(torch, lambda L, x, name=name: getattr(L, name)(x, 0), np.zeros(shape), "bool", False)


def test_empty_reductions_match_pytorch():
    torch = pytest.importorskip("torch")
    for fn in NO_IDENTITY.values():
        for shape in ((0,), (2, 0), (0, 3)):
            for d in range(len(shape)):
                same_outcome(torch, lambda L, x, fn=fn, d=d: fn(x, d), np.zeros(shape), "float32", True)
    for shape in ((0,), (2, 0)):
        for dtype in ("float32", "float64", "int64", "int32", "uint8"):
            same_outcome(torch, lambda L, x: x.median(), np.zeros(shape), dtype, dtype.startswith("float"))
        for fn in (lambda L, x: x.argmax(), lambda L, x: x.amax(), lambda L, x: x.max(), lambda L, x: x.norm(-2),
                   lambda L, x: x.prod(), lambda L, x: x.logsumexp(0), lambda L, x: x.std(), lambda L, x: x.mean(),
                   lambda L, x: x.sort(0), lambda L, x: x.topk(0, 0), lambda L, x: x.topk(1, 0)):
            same_outcome(torch, fn, np.zeros(shape), "float32", True)


ALL_DTYPES = ["float16", "float32", "float64", "int64", "int32", "int16", "uint8", "bool"]
DTYPE_OPS = {"sum": lambda t, dt: t.sum(dtype=dt), "sum_dim": lambda t, dt: t.sum(0, dtype=dt),
             "prod": lambda t, dt: t.prod(dtype=dt), "prod_dim": lambda t, dt: t.prod(0, dtype=dt),
             "cumsum": lambda t, dt: t.cumsum(0, dtype=dt), "cumprod": lambda t, dt: t.cumprod(0, dtype=dt)}


@pytest.mark.parametrize("op", sorted(DTYPE_OPS))
@given(shape=st.sampled_from([(), (0,), (1,), (3,), (2, 2)]), src=st.sampled_from(ALL_DTYPES),
       dst=st.sampled_from(ALL_DTYPES + [None]), requires_grad=st.booleans(), grad_mode=st.booleans())
@example(shape=(), src="bool", dst="int32", requires_grad=False, grad_mode=True)  # cumsum(tensor(True), dtype=)
@example(shape=(1,), src="float32", dst="int64", requires_grad=True, grad_mode=True)  # PyTorch refuses
@example(shape=(3,), src="int32", dst=None, requires_grad=False, grad_mode=True)  # int32 sums to int64
def test_sum_prod_and_scans_follow_pytorch_dtypes(op, shape, src, dst, requires_grad, grad_mode):
    requires_grad = requires_grad and src.startswith("float")
    x = tg.tensor(np.ones(shape), dtype=getattr(tg, src), requires_grad=requires_grad)
    fn = DTYPE_OPS[op]
    dt = None if dst is None else getattr(tg, dst)
    scan = op.startswith("cum")
    with tg.set_grad_enabled(grad_mode):
        if dst is not None and not dst.startswith("float") and requires_grad and grad_mode:
            with pytest.raises(RuntimeError, match=rf"^{op.split('_')[0]}: autograd does not support dtype="):
                fn(x, dt)  # PyTorch: "Autograd not support dtype"
            return
        if scan and dst == "bool" and len(shape) and np.prod(shape):
            with pytest.raises(NotImplementedError, match=rf"^{op}: not implemented for dtype=bool"):
                fn(x, dt)
            return
        y = fn(x, dt)
    if dst is not None:
        want = dst
    else:
        want = "int64" if src in ("int64", "int32", "int16", "uint8", "bool") else src
    assert y.dtype == getattr(tg, want)
    assert y.requires_grad == (requires_grad and grad_mode)


def test_dtype_arguments_match_pytorch():
    torch = pytest.importorskip("torch")
    for src in ALL_DTYPES:
        for dst in ALL_DTYPES:
            for a in (1, [1, 0, 1], np.zeros(0), [[2, 3]]):
                rg = src.startswith("float") and dst.startswith("float")
                for fn in DTYPE_OPS.values():
                    same_outcome(torch, lambda L, x, fn=fn, dst=dst: fn(x, getattr(L, dst)), a, src, rg)
        for a in (1, [1, 0, 1]):
            for name in ("sum", "prod", "cumsum", "cumprod", "mean", "norm", "amax", "logsumexp"):
                fn = {"sum": lambda L, x: x.sum(), "prod": lambda L, x: x.prod(), "cumsum": lambda L, x: x.cumsum(0),
                      "cumprod": lambda L, x: x.cumprod(0), "mean": lambda L, x: x.mean(),
                      "norm": lambda L, x: x.norm(), "amax": lambda L, x: x.amax(),
                      "logsumexp": lambda L, x: x.logsumexp(0)}[name]
                same_outcome(torch, fn, a, src, src.startswith("float"))
    x = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        x.cumsum(0, dtype=torch.int64)  # the issue-9 example, as PyTorch


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_norm_dtype_must_not_narrow_and_the_input_must_be_floating(dtype):
    x = tg.tensor([3.0, 4.0], dtype=dtype)
    assert x.norm(dtype=tg.float64).dtype == tg.float64
    if dtype == tg.float64:
        with pytest.raises(RuntimeError, match="norm: the input's dtype float64 cannot be converted to "
                                               "dtype=float32 without narrowing"):
            x.norm(dtype=tg.float32)
    with pytest.raises(RuntimeError, match="norm: expected a floating point tensor, got dtype int64"):
        tg.tensor([3, 4]).norm(dtype=dtype)


def test_float16_sums_accumulate_in_float32():
    a = np.random.default_rng(5).standard_normal(3000).astype(np.float16)
    x = tg.tensor(a)
    assert x.cumsum(0)[-1].item() == np.cumsum(a, dtype=np.float32)[-1].astype(np.float16)
    assert x.sum().item() == a.sum(dtype=np.float32).astype(np.float16)
    assert x.mean().item() == a.mean(dtype=np.float32).astype(np.float16)
    assert x.sum().dtype == x.cumsum(0).dtype == tg.float16
    torch = pytest.importorskip("torch")
    t = torch.tensor(a)
    assert x.cumsum(0)[-1].item() == t.cumsum(0)[-1].item()


def welford_mean(values):
    """The mean of PyTorch's one-pass var_mean: m += (x - m) / k, element by element."""
    m = 0.0
    with np.errstate(invalid="ignore"):
        for k, v in enumerate(values, 1):
            m = m + (v - m) / k
    return m


special = st.sampled_from([math.inf, -math.inf, math.nan, 0.0, 1.0, -2.5, 3.0])


@pytest.mark.parametrize("op", ["var_mean", "std_mean"])
@given(a=hnp.arrays(np.float64, st.integers(1, 5), elements=special), correction=st.sampled_from([0, 1]))
@example(a=np.array([-math.inf, 1.0]), correction=1)  # issue 9: the mean was -inf, PyTorch's is nan
@example(a=np.array([1.0, math.inf]), correction=1)  # an infinity last: its mean is inf in PyTorch too
@example(a=np.array([math.inf]), correction=0)
def test_var_mean_and_std_mean_with_infinities_give_pytorchs_mean(op, a, correction):
    spread, m = getattr(tg, op)(tg.tensor(a), correction=correction)
    np.testing.assert_allclose(m.item(), welford_mean(a), rtol=1e-12, equal_nan=True)
    ref = getattr(tg, op.split("_")[0])(tg.tensor(a), correction=correction)
    np.testing.assert_array_equal(spread.numpy(), ref.numpy())
    rows = tg.tensor(np.stack([a, a[::-1]]))  # along a dim: each row its own slice
    _, m = getattr(tg, op)(rows, 1, correction=correction)
    np.testing.assert_allclose(m.numpy(), [welford_mean(a), welford_mean(a[::-1])], rtol=1e-12, equal_nan=True)


def var_backward_reference(g, x, axes, correction, full):
    """PyTorch's var_backward (FunctionsManual.cpp), in numpy: 2 / (N - c) * g * (x - mean); reducing every
    dim by default with N - c <= 0, g * (nan where x equals its mean, else inf)."""
    n = int(np.prod([x.shape[a] for a in axes]))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = x.mean(axis=axes, keepdims=True)
        if full and n - correction <= 0:
            return g * np.where(x == mean, np.nan, np.inf)
        scale = 2.0 / (n - correction) if n != correction else np.inf
        return scale * g * (x - mean)


def std_backward_reference(g, x, std, axes, correction, full):
    with np.errstate(invalid="ignore", divide="ignore"):
        gv = np.where(std == 0, 0.0, g / (2 * std))
    return var_backward_reference(gv, x, axes, correction, full)


@pytest.mark.parametrize("op", ["var", "std"])
@given(a=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 4)), elements=special),
       dim=st.sampled_from([None, 0, 1, (0, 1)]), correction=st.sampled_from([0, 1, 2, 5]))
@example(a=np.array([[math.inf, 1.0, 2.0]]), dim=None, correction=1)  # PyTorch: [nan, -inf, -inf]
@example(a=np.array([[1.0, 2.0, 4.0]]), dim=None, correction=5)  # N - c < 0: PyTorch: inf, inf, inf
@example(a=np.array([[1.0, 2.0, 4.0]]), dim=1, correction=5)  # along a dim: 2 / (N - c) < 0
@example(a=np.array([[3.0, 3.0], [3.0, 3.0]]), dim=0, correction=1)  # constant: std 0, gradient 0
@example(a=np.array([[math.nan, 1.0]]), dim=1, correction=0)
def test_var_std_gradients_are_pytorchs_at_nan_inf_constants_and_corrections(op, a, dim, correction):
    x = tg.tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):
        y = getattr(x, op)(dim, correction=correction, keepdim=True)
        g = np.arange(1.0, y.numel() + 1).reshape(y.shape)
        y.backward(tg.tensor(g))
    axes = (0, 1) if dim is None else ((dim,) if isinstance(dim, int) else dim)
    if op == "var":
        want = var_backward_reference(g, a, axes, correction, dim is None)
    else:
        want = std_backward_reference(g, a, y.detach().numpy(), axes, correction, dim is None)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12, equal_nan=True)


def test_std_of_float32_values_whose_squares_overflow_is_finite():
    x = tg.tensor([3e38, -3.0], requires_grad=True)  # PyTorch accumulates in float64: 2.1213e+38
    s = x.std()
    assert s.item() == pytest.approx(2.1213203e38, rel=1e-6) and s.dtype == tg.float32
    assert math.isinf(x.var().item())  # the variance itself does not fit float32, as in PyTorch
    s.backward()
    assert x.grad.tolist() == [0.0, 0.0]  # g / (2 std): 2 std overflows float32 in PyTorch's formula too
    x = tg.tensor([1e38, -1e38, 0.0], requires_grad=True)
    s = x.std()
    s.backward()
    assert s.item() == pytest.approx(1e38, rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5, 0.0], rtol=1e-6)


@given(values=hnp.arrays(np.float64, 4, elements=st.integers(-20, 20).map(lambda i: i / 4)),
       index=hnp.arrays(np.int64, st.integers(2, 12), elements=st.integers(0, 3)),
       correction=st.sampled_from([0, 1]), dim=st.sampled_from([None, 0, (0,), ()]))
@example(values=np.array([0.85, 0.05, -1.9, 0.05]), index=np.array([0, 1, 2, 3, 1, 1]), correction=0, dim=())
@example(values=np.array([0.1, 0.7, 0.0, 0.0]), index=np.array([0, 0, 0, 0, 0, 0]), correction=1, dim=None)
def test_std_gradient_over_repeated_gathered_values(values, index, correction, dim):
    """Issue 9's 'one std gradient over repeated gathered values disagreed outright (-5.81 vs -3.40)'. Two
    causes, both on PyTorch's side, so tapegrad keeps the exact gradient: (1) PyTorch 2.13's var/std backward
    with dim=() (which reduces every dim, as here) divides by N - correction with N = 1 (its _safe_size of no
    dims), so its gradient is N times too large or inf; (2) gathered repeats make constant slices, whose std
    PyTorch's forward rounds to ~1e-17 instead of 0, and its gradient there is that rounding error amplified to
    O(1) (tapegrad's corrected two-pass std is exactly 0 there, so the gradient takes PyTorch's documented 0)."""
    x = tg.tensor(values, requires_grad=True)
    g = x[tg.tensor(index)]
    s = g.std(dim, correction=correction) if dim is not None else g.std(correction=correction)
    s.backward()
    picked = values[index]
    n = picked.size
    if np.all(picked == picked[0]):  # a constant slice: std 0 exactly, and PyTorch's convention: gradient 0
        assert s.item() == 0 and np.all(x.grad.numpy() == 0)
    elif n > correction:
        d = picked - picked.mean()
        want_picked = d / ((n - correction) * s.item())  # d std / d picked
        want = np.zeros_like(values)
        np.add.at(want, index, want_picked)
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-9, atol=1e-12)
        assert_gradients(lambda t: t[tg.tensor(index)].std(dim, correction=correction), values)


def test_var_std_edges_match_pytorch():
    torch = pytest.importorskip("torch")
    inf, nan = math.inf, math.nan
    arrays_ = [[[inf, 1.0, 2.0], [1.0, 2.0, -inf]], [[nan, 1.0, 2.0], [1.0, 2.0, 4.0]],
               [[3.0, 3.0, 3.0], [1.0, 1.0, 1.0]], [[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]], [[2.0]],
               [[1.0, 2.0, inf], [inf, 2.0, 1.0]]]
    for a in arrays_:
        for d in (None, 0, -1, (0, 1)):
            for c in (0, 1, 5):
                for name in ("var", "std", "var_mean", "std_mean"):
                    def fn(L, x, name=name, d=d, c=c):
                        out = getattr(L, name)(x, d, correction=c, keepdim=True)
                        return out if isinstance(out, tuple) else (out,)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # PyTorch warns when N - correction <= 0
                        same_outcome(torch, fn, a, "float64", True)
                        compare_gradients(torch, fn, a)
    same_outcome(torch, lambda L, x: x.std(), [3e38, -3.0], "float32", True)
    same_outcome(torch, lambda L, x: L.var_mean(x), [-inf, 1.0], "float32", True)


def compare_gradients(torch, fn, a, dtype="float64"):
    grads = []
    for lib in (torch, tg):
        x = lib.tensor(np.asarray(a), dtype=getattr(lib, dtype), requires_grad=True)
        outs = fn(lib, x)
        total = sum((o * lib.tensor(np.arange(1.0, o.numel() + 1).reshape(tuple(o.shape)), dtype=o.dtype)).sum()
                    for o in outs if o.requires_grad)
        total.backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-9, atol=1e-12, equal_nan=True)


def prod_backward_reference(g, x, dim):
    """PyTorch's prod_backward (FunctionsManual.cpp) in numpy: g * out / x without zeros, else the exclusive
    running products from both ends; prod() over all dims with two zeros or more: zeros."""
    if dim is None:
        if (x == 0).sum() > 1:
            return np.zeros_like(x)
        flat = prod_backward_reference(g * np.ones((1,)), x.reshape(-1), 0)
        return flat.reshape(x.shape)
    with np.errstate(all="ignore"):
        out = np.prod(x, axis=dim, keepdims=True)
        if not (x == 0).any():
            return g * (out / x)
        moved = np.moveaxis(x, dim, -1)
        n = moved.shape[-1]
        ones = np.ones(moved.shape[:-1] + (1,))
        before = np.cumprod(np.concatenate([ones, moved[..., :n - 1]], -1), -1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(moved[..., 1:], -1)], -1), -1), -1)
        return g * np.moveaxis(before * after, -1, dim)


@given(a=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 4)),
                    elements=st.sampled_from([0.0, 0.0, 1.5, -2.0, 0.5, math.inf, -math.inf, math.nan])),
       dim=st.sampled_from([None, 0, 1, -1]), g_value=st.sampled_from([None, None, math.inf, -math.inf, math.nan]))
@example(a=np.array([[math.inf, 0.0, 3.0]]), dim=None, g_value=None)  # issue 9: nan everywhere; PyTorch: [0, inf, nan]
@example(a=np.array([[2.0, 0.0, 3.0, 4.0]]), dim=1, g_value=None)  # one zero: the product of the others
@example(a=np.array([[0.0, 2.0, 0.0, 5.0]]), dim=1, g_value=None)  # two zeros: all 0
@example(a=np.array([[0.0, 0.0, math.inf]]), dim=None, g_value=None)  # PyTorch's shortcut: zeros, not nan
@example(a=np.array([[0.0, 0.0, 1.5]]), dim=None, g_value=math.nan)  # the shortcut does not read g: zeros, not nan
def test_prod_gradient_is_pytorchs_with_zeros_and_infinities(a, dim, g_value):
    x = tg.tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):
        y = x.prod() if dim is None else x.prod(dim, keepdim=True)
        g = np.arange(1.0, y.numel() + 1).reshape(y.shape) if g_value is None else np.full(y.shape, g_value)
        y.backward(tg.tensor(g))
    want = prod_backward_reference(g, a, None if dim is None else dim % 2)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12, equal_nan=True)


def test_prod_takes_one_int_dim_as_pytorch():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    for dim in ((0, 1), [0], (0,), None):
        with pytest.raises(TypeError, match="prod: dim must be an int, got"):
            x.prod(dim)
        with pytest.raises(TypeError, match="prod: dim must be an int"):
            tg.prod(x, dim=dim)
    assert x.prod(axis=(0, 1)).item() == 24.0 == np.prod(x, axis=(0, 1)).item()  # numpy's alias still does
    torch = pytest.importorskip("torch")
    for fn in (lambda L, x: x.prod((0, 1)), lambda L, x: L.prod(x, (0,)), lambda L, x: x.prod([0]),
               lambda L, x: x.prod(None), lambda L, x: x.prod(dim=None), lambda L, x: x.prod(keepdim=True),
               lambda L, x: x.prod(1), lambda L, x: x.prod(-1, True), lambda L, x: x.prod(dtype=L.float64)):
        if same_outcome(torch, fn, [[1.0, 2.0], [3.0, 0.0]], "float32", True)[0] == "ok":
            compare_gradients(torch, lambda L, x, fn=fn: (fn(L, x),), [[1.0, 2.0], [3.0, 0.0]])
    inf = math.inf
    for a in ([[inf, 0.0, 3.0]], [[0.0, 0.0, inf], [1.0, 0.0, 2.0]], [[0.0, 2.0, 0.0, 5.0]], [[1.5, -2.0, 0.5]]):
        for fn in (lambda L, x: x.prod(), lambda L, x: x.prod(1), lambda L, x: x.prod(0)):
            with np.errstate(all="ignore"):
                compare_gradients(torch, lambda L, x, fn=fn: (fn(L, x),), a)
    for a in ([[0.0, 0.0, 1.5]], [[inf, 0.0, 0.0, 2.0]]):  # two zeros, with create_graph: the products (nan at inf)
        for g in (1.0, math.nan):
            for create_graph in (False, True):
                grads = []
                for L in (tg, torch):
                    x = L.tensor(a, requires_grad=True)
                    with np.errstate(all="ignore"):
                        grads.append(L.autograd.grad(x.prod(), x, L.tensor(g), create_graph=create_graph)[0])
                np.testing.assert_array_equal(grads[0].detach().numpy(), grads[1].detach().numpy())


@pytest.mark.parametrize("op", ["all", "any"])
@given(a=arrays(shapes(min_dims=0, max_dims=3, min_side=0, max_side=3), dtype=np.int64, min_value=0, max_value=2),
       dtype=st.sampled_from(["int64", "uint8", "float32", "bool"]), dims=st.sampled_from([(), []]))
@example(a=np.array([[1, 0]]), dtype="bool", dims=())  # PyTorch: shape (1, 2), not a 0-d result
def test_all_any_over_no_dims_reduce_nothing(op, a, dtype, dims):
    x = tg.tensor(a, dtype=getattr(tg, dtype))
    y = getattr(x, op)(dims)
    assert y.shape == a.shape and y.dtype == (tg.uint8 if dtype == "uint8" else tg.bool)
    np.testing.assert_array_equal(y.numpy(), (a != 0).astype(y.numpy().dtype))
    assert getattr(x, op)().shape == ()  # no dim at all: every dim, as before


@given(a=hnp.arrays(np.float64, st.integers(1, 5), elements=st.sampled_from([1.0, 2.0, 2.0, math.nan, -1.0])),
       scale=st.sampled_from([1.0, math.inf, -math.inf, math.nan]))
@example(a=np.array([1.0, 3.0, 3.0]), scale=math.inf)  # the non-maxima get 0, not inf * 0 = nan
def test_whole_tensor_max_min_median_put_the_gradient_only_on_the_ties(a, scale):
    for op in ("max", "min", "median"):
        x = tg.tensor(a, requires_grad=True)
        y = getattr(x, op)()
        with np.errstate(all="ignore"):
            y.backward(tg.tensor(scale, dtype=tg.float64))
        v = y.item()
        ties = np.isnan(a) if math.isnan(v) else a == v
        with np.errstate(all="ignore"):
            want = np.where(ties, scale / ties.sum(), 0.0)  # PyTorch's evenly_distribute_backward
        np.testing.assert_array_equal(x.grad.numpy(), want)


def test_value_selecting_gradients_with_infinite_incoming_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    a = [[1.0, 3.0, 3.0], [float("nan"), 0.5, 2.0]]
    for fn in (lambda L, x: (x.max(),), lambda L, x: (x.min(),), lambda L, x: (x.median(),),
               lambda L, x: (x.amax(1),), lambda L, x: (x.amin(),), lambda L, x: (x.max(1).values,),
               lambda L, x: (x.median(0).values,), lambda L, x: (x.sort(1).values,), lambda L, x: (x.topk(2).values,),
               lambda L, x: (x.norm(math.inf, 1),)):
        grads = []
        for lib in (torch, tg):
            x = lib.tensor(a, dtype=lib.float64, requires_grad=True)
            (y,) = fn(lib, x)
            with np.errstate(all="ignore"):
                y.backward(lib.full(tuple(y.shape), math.inf, dtype=lib.float64))
            grads.append(x.grad.numpy())
        np.testing.assert_array_equal(grads[1], grads[0])


def test_dims_may_be_one_element_integer_tensors_as_in_pytorch():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.sum(tg.tensor(0)).tolist() == [4.0, 6.0] and x.mean((tg.tensor(1),)).tolist() == [1.5, 3.5]
    with pytest.raises(TypeError, match="sum: dim must be an int or a one-element integer tensor"):
        x.sum(tg.tensor(0.0))
    assert x.norm(p=None).item() == pytest.approx(math.sqrt(30))  # PyTorch's default p


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@given(a=hnp.arrays(np.float32, st.integers(1, 6), elements=st.sampled_from([3e38, -3e38, 2.0, 0.0, 1e-30, 1e30])))
@example(a=np.array([3e38, 3e38, 0.0], dtype=np.float32))  # cumprod: PyTorch [3e38, inf, 0], not nan
@example(a=np.array([3e38, 3e38, -3e38], dtype=np.float32))  # cumsum: PyTorch [3e38, inf, 3e38]
def test_float32_scans_accumulate_in_float64_as_pytorch(op, a):
    with np.errstate(all="ignore"):
        want = getattr(np, op)(a.astype(np.float64)).astype(np.float32)
    got = getattr(tg.tensor(a), op)(0)
    np.testing.assert_array_equal(got.numpy(), want)
    assert got.dtype == tg.float32


# the grad_fn name of each form, as PyTorch 2.13 names it (printed from .venv-torch); test_node_names_match_pytorch
# checks the table itself against PyTorch when it is installed
NODE_NAMES = {
    "sum()": (lambda L, x: x.sum(), "SumBackward0"), "sum(1)": (lambda L, x: x.sum(1), "SumBackward1"),
    "sum(())": (lambda L, x: x.sum(()), "SumBackward1"), "mean()": (lambda L, x: x.mean(), "MeanBackward0"),
    "mean(1)": (lambda L, x: x.mean(1), "MeanBackward1"), "var()": (lambda L, x: x.var(), "VarBackward0"),
    "var(1)": (lambda L, x: x.var(1), "VarBackward0"), "std(0)": (lambda L, x: x.std(0), "StdBackward0"),
    "var_mean": (lambda L, x: L.var_mean(x, 1)[1], "VarMeanBackward0"),
    "std_mean": (lambda L, x: L.std_mean(x)[0], "StdMeanBackward0"),
    "prod()": (lambda L, x: x.prod(), "ProdBackward0"), "prod(1)": (lambda L, x: x.prod(1), "ProdBackward1"),
    "max()": (lambda L, x: x.max(), "MaxBackward1"), "max(1)": (lambda L, x: x.max(1).values, "MaxBackward0"),
    "min()": (lambda L, x: x.min(), "MinBackward1"), "min(0)": (lambda L, x: x.min(0)[0], "MinBackward0"),
    "amax": (lambda L, x: x.amax(1), "AmaxBackward0"), "amin": (lambda L, x: x.amin(), "AminBackward0"),
    "median()": (lambda L, x: x.median(), "MedianBackward0"),
    "median(1)": (lambda L, x: x.median(1).values, "MedianBackward1"),
    "logsumexp": (lambda L, x: x.logsumexp(1), "LogsumexpBackward0"),
    "cumsum": (lambda L, x: x.cumsum(1), "CumsumBackward0"), "cumprod": (lambda L, x: x.cumprod(0), "CumprodBackward0"),
    "norm()": (lambda L, x: x.norm(), "LinalgVectorNormBackward0"),
    "norm(1, 1)": (lambda L, x: x.norm(1, 1), "LinalgVectorNormBackward0"),
    "norm(inf)": (lambda L, x: x.norm(math.inf), "LinalgVectorNormBackward0"),
    "norm(0)": (lambda L, x: x.norm(0), "LinalgVectorNormBackward0"),
    "norm('fro', (0, 1))": (lambda L, x: x.norm("fro", (0, 1)), "LinalgVectorNormBackward0"),
    "max 0-d": (lambda L, x: x.sum().max(0).values, "MaxBackward0"),
    "cumsum 0-d": (lambda L, x: x.sum().cumsum(0), "CumsumBackward0"),
    "median 0-d": (lambda L, x: x.sum().median(0).values, "MedianBackward1"),
}


@pytest.mark.parametrize("form", sorted(NODE_NAMES))
def test_node_names_are_pytorchs(form):
    fn, name = NODE_NAMES[form]
    x = tg.tensor([[0.5, -1.0, 2.0], [1.5, 3.0, -0.25]], requires_grad=True)
    assert fn(tg, x).grad_fn.name() == name


def test_node_names_match_pytorch():
    torch = pytest.importorskip("torch")
    for form, (fn, name) in NODE_NAMES.items():
        x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 3.0, -0.25]], requires_grad=True)
        assert fn(torch, x).grad_fn.name() == name, form


@pytest.mark.parametrize("p", [1, math.inf, -math.inf])
@given(a=hnp.arrays(np.float64, st.tuples(st.integers(1, 2), st.integers(1, 4)),
                    elements=st.sampled_from([math.nan, 0.0, 1.0, -2.0, 2.0, -0.5])), dim=st.sampled_from([None, 1]))
@example(a=np.array([[math.nan, 1.0, 0.0]]), dim=None)  # PyTorch: sgn(nan) = 0, so 0 at the nan, not nan
def test_norm_gradients_at_nan_are_pytorchs(p, a, dim):
    """PyTorch's norm_backward: sgn(x) * g for p = 1; for p = +-inf sgn(x) * g / count over the elements with
    |x| equal to the norm or nan. sgn(nan) is 0, so a nan input gets gradient 0 there."""
    x = tg.tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):
        x.norm(p, dim, keepdim=True).sum().backward()
        sgn = np.sign(np.nan_to_num(a))
        if p == 1:
            want = sgn
        else:
            axes = (0, 1) if dim is None else 1
            m = np.abs(a).max(axis=axes, keepdims=True) if p > 0 else np.abs(a).min(axis=axes, keepdims=True)
            if np.isnan(a).any():
                m = np.where(np.isnan(a).any(axis=axes, keepdims=True), np.nan, m)
            mask = (np.abs(a) == m) | np.isnan(a)
            want = sgn * mask / mask.sum(axis=axes, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), want, equal_nan=True)


def test_norm_values_and_gradients_at_zeros_inf_and_nan_match_pytorch():
    torch = pytest.importorskip("torch")
    nan, inf = math.nan, math.inf
    for a in ([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0]], [[inf, 1.0, 0.0], [-inf, 2.0, 3.0]],
              [[nan, 1.0, 0.0], [1.0, nan, -3.0]], [[2.0, -2.0, 1.0], [0.5, 0.5, -0.5]]):
        for p in (2, 1, 3, 0.5, 1.5, inf, -inf, -1, 0, 2.5):
            for dim in (None, 1):
                def fn(L, x, p=p, dim=dim):
                    return (x.norm(p, dim),)
                with np.errstate(all="ignore"):
                    same_outcome(torch, fn, a, "float64", True)
                    if p != 0:  # the 0-"norm" has no gradient in PyTorch (None), nor here
                        compare_gradients(torch, fn, a)


_CP_X = st.sampled_from([5e-324, 1e-30, -1.0, 0.5, -3.0, 0.0, -0.0, 2.0])
_CP_G = st.sampled_from([1.0, -1.5, 2.0, 0.0, float("nan"), float("inf")])


@given(st.lists(st.tuples(_CP_X, _CP_G), min_size=2, max_size=5), st.sampled_from([None, "float32"]))
@example([(5e-324, 1.0), (-1.0, float("nan")), (1e-30, 2.0)], "float32")  # 5e-324 is 0 only after the cast
@example([(5e-324, 1.0), (-1.0, 3.0), (1e-30, 2.0)], None)  # the last out is -0.0: its reversed sum is +0.0
def test_cumprod_gradient_is_pytorchs_cumprod_backward(entries, dtype):
    # PyTorch's cumprod_backward(grad.to(self.dtype), self, dim, result) (ReduceOps.cpp): the formula is chosen by
    # the zeros of the input before a dtype= cast, and reversed_cumsum (flip, cumsum from +0.0, flip) of result * grad
    # divided by the input where it has none
    torch = pytest.importorskip("torch")
    x, g = (np.array([c], dtype=np.float64) for c in zip(*entries))
    # (not here: a zero in the input with dtype= -- PyTorch's zero formula then reads the float32 result, which may
    # underflow, while tapegrad's cumprod_backward recomputes the products in the input's dtype)
    assume(not (dtype and (x == 0).any()))
    grads = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        out = lib.cumprod(t, 1, dtype=None if dtype is None else getattr(lib, dtype))
        with np.errstate(all="ignore"):
            out.backward(lib.tensor(g, dtype=out.dtype))
        grads.append(t.grad.numpy())
    ours, theirs = grads
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype else 1e-12, atol=0)
    zero = ours == 0
    np.testing.assert_array_equal(np.signbit(ours[zero]), np.signbit(theirs[zero]))


def test_scan_and_var_mean_edges_found_by_the_differential_driver():
    # cumprod along a dim of size 1 passes the gradient through (PyTorch's cumprod_backward), even at inf
    x = tg.tensor([[-2.5], [-math.inf]], requires_grad=True)
    x.cumprod(1).sum().backward()
    assert x.grad.tolist() == [[1.0], [1.0]]
    # cumsum's running sum starts from +0.0, as PyTorch's: a -0.0 prefix sums to +0.0
    y = tg.tensor([[-0.0, -0.0, 1.0]]).cumsum(1).numpy()
    assert not np.signbit(y).any()
    # var_mean's mean comes from PyTorch's float64 one-pass update: finite where a float32 sum overflows
    v, m = tg.var_mean(tg.tensor([-3e38, -3e38]))
    assert m.item() == pytest.approx(-3e38, rel=1e-6) and m.dtype == tg.float32 and v.item() == 0.0
    torch = pytest.importorskip("torch")
    for fn, a in ((lambda L, x: (x.cumprod(1),), [[-2.5], [-math.inf]]), (lambda L, x: (x.cumsum(1),), [[-0.0, -0.0]]),
                  (lambda L, x: L.var_mean(x), [-3e38, -3e38])):
        same_outcome(torch, fn, a, "float32", True)
    compare_gradients(torch, lambda L, x: (x.cumprod(1),), [[-2.5], [-math.inf]])
    assert not np.signbit(torch.tensor([[-0.0, -0.0, 1.0]]).cumsum(1).numpy()).any()


SAVES_INPUT = {  # does PyTorch's formula read the input? (then a later in-place write to it refuses backward)
    "sum": (lambda y: y.sum(), False), "sum(1)": (lambda y: y.sum(1), False), "mean(0)": (lambda y: y.mean(0), False),
    "max(1)": (lambda y: y.max(1).values, False), "median(1)": (lambda y: y.median(1).values, False),
    "sort": (lambda y: y.sort(1).values, False), "topk": (lambda y: y.topk(1).values, False),
    "cumsum": (lambda y: y.cumsum(1), False), "var": (lambda y: y.var(), True), "prod": (lambda y: y.prod(), True),
    "max()": (lambda y: y.max(), True), "amax": (lambda y: y.amax(1), True),
    "logsumexp": (lambda y: y.logsumexp(1), True), "norm": (lambda y: y.norm(), True),
}


@pytest.mark.parametrize("op", sorted(SAVES_INPUT))
def test_an_input_the_gradient_does_not_read_may_be_overwritten_before_backward(op):
    fn, reads = SAVES_INPUT[op]
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    z = fn(y)
    with tg.no_grad():
        y.mul_(2)
    if reads:
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            z.sum().backward()
    else:
        z.sum().backward()  # as PyTorch, whose formula saves only sizes or indices here
        assert x.grad is not None


def test_saved_inputs_match_pytorch():
    torch = pytest.importorskip("torch")
    for fn, reads in SAVES_INPUT.values():
        x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 1
        z = fn(y)
        with torch.no_grad():
            y.mul_(2)
        try:
            z.sum().backward()
            refused = False
        except RuntimeError:
            refused = True
        assert refused == reads


def test_docstring_examples():
    import doctest

    import tapegrad.ops.reduce as module

    assert doctest.testmod(module).failed == 0


@given(x=hnp.arrays(np.int64, (4,), elements=st.integers(-(2**63), 2**63 - 1)))
@example(x=np.array([2**63 - 1, -100, 0, -(2**63)]))
@example(x=np.array([70000, -69999, 3, 1]))
def test_mean_with_dtype_float16_averages_in_float32(x):
    # PyTorch's CPU mean(dtype=float16): the input goes to float32 (not through float16, where these overflow),
    # is averaged there, and the mean is rounded to float16
    with np.errstate(over="ignore"):
        expected = np.float16(np.mean(x.astype(np.float32), dtype=np.float32))
        got = tg.tensor(x).mean(dtype=tg.float16)
        rows = tg.tensor(x).reshape(2, 2).mean(0, dtype=tg.float16).numpy()
        expected_rows = np.mean(x.reshape(2, 2).astype(np.float32), 0).astype(np.float16)
    assert got.dtype == tg.float16
    np.testing.assert_array_equal(got.numpy(), expected)
    np.testing.assert_array_equal(rows, expected_rows)


def test_reductions_with_a_dtype_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [[2**63 - 1, -100, 0, -(2**63)], [70000, -69999, 3], [16777217, 1, -16777216], [True, False, True]]
    for values in cases:
        for name in ("sum", "mean", "nansum", "prod"):
            for dtype in ("float16", "float32", "float64"):
                for kw in ({}, {"dim": 0}):
                    with np.errstate(all="ignore"):
                        ours = getattr(tg, name)(tg.tensor(values), dtype=getattr(tg, dtype), **kw)
                    theirs = getattr(torch, name)(torch.tensor(values), dtype=getattr(torch, dtype), **kw)
                    np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=f"{name} {dtype} {values}")
    # a float32 input that requires grad: averaged in float32, the gradient flows back in float32
    grads = []
    for lib in (tg, torch):
        x = lib.tensor([1e5, -1e5, 3.0, 1.0], requires_grad=True)
        m = x.mean(dtype=lib.float16)
        m.backward()
        grads.append((m.item(), x.grad.numpy(), str(x.grad.dtype).split(".")[-1]))
    assert grads[0][0] == grads[1][0] and grads[0][2] == grads[1][2] == "float32"
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


@given(hnp.arrays(np.float16, st.tuples(st.integers(1, 3), st.integers(1, 7)),
                  elements=st.floats(-300, 300, width=16, allow_subnormal=True)),
       st.sampled_from([2, 1, 3, 0.5, math.inf, -math.inf, 0]))
@example(np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]], dtype=np.float16), 2)
@example(np.array([[300.0, 300.0, 300.0]], dtype=np.float16), 2)  # the float16 sum of squares overflows
@example(np.array([[6e-8, 1e-7]], dtype=np.float16), 2)  # their float16 squares underflow to 0
def test_float16_norm_accumulates_in_float32_and_rounds_once_as_pytorch(a, p):
    got = tg.tensor(a).norm(p, dim=1)
    assert got.dtype == tg.float16
    with np.errstate(divide="ignore", over="ignore"):
        wide = a.astype(np.float64)
        want = (np.abs(wide).max(1) if p == math.inf else np.abs(wide).min(1) if p == -math.inf
                else (wide != 0).sum(1) if p == 0 else (np.abs(wide) ** p).sum(1) ** (1 / p))
    # one rounding of the float32 result: within half an ulp of float16 (the float32 steps are far finer)
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.astype(np.float16).astype(np.float64),
                               rtol=1e-3, atol=6e-8)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(got.numpy(), torch.tensor(a).norm(p, dim=1).numpy())


@pytest.mark.parametrize("keepdim", [False, True])
def test_median_without_dim_refuses_any_keepdim_as_pytorch(keepdim):
    """PyTorch's median() overload takes no keepdim: keepdim=False without a dim is a TypeError too."""
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="needs a dim"):
        x.median(keepdim=keepdim)
    assert x.median(0, keepdim=keepdim).values.shape == ((1, 2) if keepdim else (2,))
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.tensor([[1.0, 2.0], [3.0, 4.0]]).median(keepdim=keepdim)


@given(st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0, 2.5]), st.sampled_from([None, 0, -1]),
       st.booleans())
def test_prod_of_a_0d_tensor_passes_the_gradient_through(v, dim, keepdim):
    """PyTorch's prod_backward returns the incoming gradient for a 0-d input (not g * prod / x, NaN at inf)."""
    x = tg.tensor(v, dtype=tg.float64, requires_grad=True)
    y = x.prod() if dim is None else x.prod(dim, keepdim=keepdim)
    (y * 3.0).backward()
    assert x.grad.item() == 3.0


@given(st.lists(st.sampled_from([3e38, -3e38, 1e30, 1.0, -2.5, 0.0]), min_size=2, max_size=12))
@example([3e38, 3e38, 1.0])  # PyTorch 2.13's std() is inf here (its float32 mean overflows), its std_mean 1.73e38
def test_float32_std_of_values_near_the_maximum_is_float64s_rounded(values):
    # PyTorch's std_var_all_cpu (ReduceOps.cpp) takes mean() in float32 first; that overflows for these values, so
    # its whole-tensor std is inf while the true std (and its own std_mean) is finite: tapegrad keeps the true one
    # (the pytorch-std-var-overflowing-mean entry of tests/test_differential.py)
    x = np.array(values, np.float32)
    want = np.float32(np.std(x.astype(np.float64), ddof=1))
    got = tg.tensor(x).std()
    assert got.dtype == tg.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(tg.std_mean(tg.tensor(x))[0].numpy(), want, rtol=1e-6)


def _float16_running_product(values):
    """The product of float16 values in order, each step rounded to float16."""
    acc = np.float16(1)
    with np.errstate(all="ignore"):
        for v in values:
            acc = np.float16(acc * v)
    return acc


@given(a=hnp.arrays(np.float16, st.tuples(st.integers(1, 4), st.integers(1, 40)),
                    elements=st.sampled_from([0.05, -0.3, 2.5, -7.0, 300.0, 1e-3, 1.0, -1.0])))
@example(a=np.array([[300.0, 300.0, 1e-3]], np.float16))  # 90000 overflows float16: inf, not 90
@example(a=np.array([[1e-3, 1e-3, 1e-3, 300.0, 300.0]], np.float16))  # 1e-9 underflows float16: 0
def test_float16_prod_rounds_each_product_to_float16(a):
    """PyTorch's CPU prod multiplies float16 values in float16 (binary_kernel_reduce_vec of Half), so a running
    product past 65504 is inf (and one below 6e-8 is 0) even where the whole product is not."""
    want_rows = np.array([_float16_running_product(row) for row in a], np.float16)
    np.testing.assert_array_equal(tg.tensor(a).prod(1).numpy(), want_rows)
    np.testing.assert_array_equal(tg.tensor(a).prod(0).numpy(),
                                  np.array([_float16_running_product(col) for col in a.T], np.float16))
    if a.size < 64:  # (from 64 values on, 4 x 16 lanes: test_float16_prod_matches_pytorch)
        np.testing.assert_array_equal(tg.tensor(a).prod().numpy(), _float16_running_product(a.ravel()))


@pytest.mark.parametrize("n", [3, 12, 63, 64, 65, 100, 128, 200, 1000])
def test_float16_prod_matches_pytorch(n):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(n)
    x = (rng.uniform(0.5, 2.0, (3, n)) * rng.choice([1, -1], (3, n))).astype(np.float16)
    x[0, :4] = [300.0, 300.0, 1e-3, 1.0][:min(4, n)]
    for fn in (lambda t: t.prod(), lambda t: t.prod(1), lambda t: t.prod(0), lambda t: t.prod(-1, keepdim=True),
               lambda t: t.float().prod(dtype=t.dtype)):
        with np.errstate(all="ignore"):
            got, want = fn(tg.tensor(x)).numpy(), fn(torch.from_numpy(x)).numpy()
        np.testing.assert_array_equal(got, want)


def _welford_reference(values):
    mean = 0.0
    for k, v in enumerate(values, 1):
        mean = mean + (float(v) - mean) / k
    return np.float16(mean)


@given(a=hnp.arrays(np.float16, st.tuples(st.integers(1, 3), st.integers(1, 6)),
                    elements=st.sampled_from([0.0, -0.0, 1.5, -1.0, 0.5, -2.5, -0.25, 3.0])),
       fn=st.sampled_from([tg.var_mean, tg.std_mean]))
@example(a=np.array([[0.0, 1.5, -1.0], [0.5, -2.5, 1.5]], np.float16), fn=tg.var_mean)  # PyTorch: -0.0
def test_float16_var_mean_and_std_mean_means_keep_the_sign_of_pytorch_s_one_pass_update(a, fn):
    """var_mean/std_mean's mean is PyTorch's Welford update in float64, whose residue where the mean is 0 (-5.6e-17
    for [0, 1.5, -1, 0.5, -2.5, 1.5]) is a -0.0 in float16."""
    got = fn(tg.tensor(a))[1].numpy()
    want = _welford_reference(a.ravel())
    assert got == want and np.signbit(got) == np.signbit(want)
    rows = fn(tg.tensor(a), dim=1)[1].numpy()
    want_rows = np.array([_welford_reference(r) for r in a])
    np.testing.assert_array_equal(rows, want_rows)
    assert np.array_equal(np.signbit(rows), np.signbit(want_rows))


def test_float16_var_mean_signs_of_zero_match_pytorch():
    torch = pytest.importorskip("torch")
    a = [[[-0.25, 2.0], [-3.0, -3.0], [2.0, 2.0], [1.5, 1.0]], [[3.0, -3.0], [-0.25, 2.0], [-2.5, 1.0],
          [-0.25, -2.5]], [[1.5, -1.0], [0.0, -2.5], [0.0, 1.5], [0.5, 1.5]]]
    for name, kwargs in (("std_mean", {"dim": 1, "keepdim": True}), ("var_mean", {"correction": 2}),
                         ("var_mean", {"dim": (0, 2)}), ("std_mean", {})):
        got, want = (getattr(m, name)(m.tensor(a, dtype=m.float16), **kwargs)[1].numpy() for m in (tg, torch))
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("shape, dim", [((0, 2, 2), -1), ((2, 0), 1), ((2, 0), 0), ((0,), None), ((3, 0, 2), None)])
def test_float16_prod_of_empty_slices_is_1(shape, dim):
    x = tg.zeros(shape, dtype=tg.float16)
    out = x.prod() if dim is None else x.prod(dim)
    want = np.ones(() if dim is None else tuple(s for i, s in enumerate(shape) if i != dim % len(shape)), np.float16)
    assert out.dtype == tg.float16
    np.testing.assert_array_equal(out.numpy(), want)
