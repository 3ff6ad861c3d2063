"""1-D/3-D pooling, adaptive max pooling, LP pooling and max-unpooling (tapegrad/ops/pooling.py): forward against
loop references, PyTorch's tie and NaN rules, gradients (first and second order) against float64 finite
differences, PyTorch's values, indices, gradients and node names when PyTorch is installed, errors."""

import doctest
import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_conv import _row_major_window_sums  # the reference sum of PyTorch's cpu_avg_pool loop

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import gradgradcheck
from tapegrad.ops import pooling
from tapegrad.testing import assert_gradients


def test_docstring_examples():
    assert doctest.testmod(pooling, raise_on_error=False).failed == 0


def max_pool3d_ref(x, k, s, p, dl):
    """Values and flat indices of PyTorch's pick (first strict maximum, taps inside the input only)."""
    n, c, *size = x.shape
    out = [(size[i] + 2 * p[i] - dl[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(3)]
    vals, idx = np.zeros((n, c, *out)), np.zeros((n, c, *out), np.int64)
    for b, ch, *o in itertools.product(range(n), range(c), *map(range, out)):
        best, where = -np.inf, None
        for t in itertools.product(*map(range, k)):
            pos = [o[i] * s[i] - p[i] + t[i] * dl[i] for i in range(3)]
            if all(0 <= pos[i] < size[i] for i in range(3)):
                v = x[b, ch, pos[0], pos[1], pos[2]]
                if where is None or v > best:
                    best, where = v, pos
        vals[b, ch, o[0], o[1], o[2]] = best
        idx[b, ch, o[0], o[1], o[2]] = (where[0] * size[1] + where[1]) * size[2] + where[2]
    return vals, idx


@st.composite
def pool3d_case(draw):
    k = tuple(draw(st.integers(1, 3)) for _ in range(3))
    s = tuple(draw(st.integers(1, 2)) for _ in range(3))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    dl = tuple(draw(st.integers(1, 2)) for _ in range(3))
    size = tuple(draw(st.integers(dl[i] * (k[i] - 1) + 1, 5)) for i in range(3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    x = rng.integers(-3, 4, (1, 2) + size).astype(np.float64)  # small integers: many ties
    return x, k, s, p, dl


@given(pool3d_case())
def test_max_pool3d_matches_loop_reference_ties_included(case):
    x, k, s, p, dl = case
    v, i = F.max_pool3d(tg.tensor(x), k, s, p, dl, return_indices=True)
    rv, ri = max_pool3d_ref(x, k, s, p, dl)
    np.testing.assert_array_equal(v.numpy(), rv)
    np.testing.assert_array_equal(i.numpy(), ri)


@given(pool3d_case())
def test_max_pool3d_and_avg_pool3d_gradients(case):
    x, k, s, p, dl = case
    x = x + np.random.default_rng(0).standard_normal(x.shape) * 0.1  # no ties: the max is differentiable
    assert_gradients(lambda x: F.max_pool3d(x, k, s, p, dl), x)
    assert_gradients(lambda x: F.avg_pool3d(x, k, s, p, count_include_pad=False), x)


def test_second_order_gradients():
    rng = np.random.default_rng(0)
    x3, x2, x1 = rng.standard_normal((1, 2, 4, 3, 4)), rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 3, 7))
    for fn, x in [(lambda x: F.max_pool3d(x, 2, 1, 1) ** 2, x3), (lambda x: F.avg_pool3d(x, 2, 1, 1) ** 2, x3),
                  (lambda x: F.adaptive_avg_pool3d(x, (3, 2, 3)) ** 2, x3),
                  (lambda x: F.adaptive_max_pool2d(x, (4, 4)) ** 2, x2),
                  (lambda x: F.max_pool1d(x, 3, 2, 1) ** 2, x1),
                  (lambda x: F.lp_pool1d(x.abs() + 0.5, 3, 2) ** 2, x1)]:
        t = tg.tensor(x, requires_grad=True)
        assert_gradients(fn, x)
        assert gradgradcheck(fn, (t,))


def test_adaptive_max_pool_ties_pick_the_first_and_nan_the_last_as_pytorch():
    x = tg.tensor([[[1.0, 5.0, 5.0], [5.0, 0.0, 1.0]]])
    v, i = F.adaptive_max_pool2d(x, 1, return_indices=True)
    assert v.item() == 5.0 and i.item() == 1
    y = tg.tensor([[[1.0, float("nan"), 2.0, float("nan")]]])
    v, i = F.adaptive_max_pool1d(y, 1, return_indices=True)
    assert np.isnan(v.item()) and i.item() == 3
    z = tg.tensor([[[-float("inf")] * 4]])
    v, i = F.max_pool1d(z, 2, 2, 1, return_indices=True)  # windows touching the padding pick a tap inside
    assert i.flatten().tolist() == [0, 1, 3]


def test_max_unpool_inverts_max_pool_where_the_maxima_are():
    rng = np.random.default_rng(1)
    x = tg.tensor(rng.standard_normal((2, 3, 4, 4, 4)))
    v, i = F.max_pool3d(x, 2, return_indices=True)
    u = F.max_unpool3d(v, i, 2)
    assert u.shape == x.shape
    np.testing.assert_array_equal(F.max_pool3d(u, 2).numpy(), v.numpy())
    assert_gradients(lambda v: F.max_unpool3d(v, i, 2), v.numpy())
    with pytest.raises(RuntimeError, match="max_unpool2d: found an invalid max index 100"):
        F.max_unpool2d(tg.ones(1, 1, 1, 1), tg.tensor([[[[100]]]]), 2)
    with pytest.raises(ValueError, match="max_unpool1d: invalid output_size"):
        F.max_unpool1d(tg.ones(1, 1, 2), tg.tensor([[[0, 2]]]), 2, output_size=(9,))


def test_bad_arguments_name_the_op():
    with pytest.raises(RuntimeError, match="max_pool3d: pad should be non-negative and at most half"):
        F.max_pool3d(tg.ones(1, 1, 4, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="avg_pool3d: expected a non-empty 4-D .* or 5-D"):
        F.avg_pool3d(tg.ones(4, 4), 2)
    with pytest.raises(RuntimeError, match="max_pool3d: given input of shape .* too small"):
        F.max_pool3d(tg.ones(1, 1, 1, 4, 4), 2)
    with pytest.raises(TypeError, match="max_pool1d: kernel_size must be an int"):
        F.max_pool1d(tg.ones(1, 1, 4), 2.0)
    with pytest.raises(RuntimeError, match="adaptive_max_pool3d: output_size must be an int or a tuple of 3"):
        F.adaptive_max_pool3d(tg.ones(1, 2, 2, 2), (1, 1))


# ---------------------------------------------------------------------- PyTorch
CASES = [
    ("max_pool1d", lambda m, x: m.max_pool1d(x, 3, 2, 1, 2, True, True), (2, 3, 9)),
    ("max_pool1d unbatched", lambda m, x: m.max_pool1d(x, 2), (3, 8)),
    ("max_pool3d", lambda m, x: m.max_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), (1, 1, 2), True, True),
     (2, 2, 5, 6, 7)),
    ("max_pool3d unbatched", lambda m, x: m.max_pool3d(x, 2), (2, 4, 4, 4)),
    ("max_pool2d_with_indices", lambda m, x: m.max_pool2d_with_indices(x, 2, 1, 1), (1, 2, 5, 5)),
    ("avg_pool1d", lambda m, x: m.avg_pool1d(x, 3, 2, 1, True, False), (2, 3, 8)),
    ("avg_pool3d", lambda m, x: m.avg_pool3d(x, (2, 3, 2), (2, 1, 2), (1, 1, 0), True, False), (2, 2, 5, 6, 5)),
    ("avg_pool3d include pad", lambda m, x: m.avg_pool3d(x, 3, 2, 1, True, True), (1, 2, 5, 6, 4)),
    ("avg_pool3d divisor", lambda m, x: m.avg_pool3d(x, 2, divisor_override=3), (1, 2, 4, 4, 4)),
    ("adaptive_avg_pool1d", lambda m, x: m.adaptive_avg_pool1d(x, 4), (2, 3, 7)),
    ("adaptive_avg_pool3d", lambda m, x: m.adaptive_avg_pool3d(x, (3, None, 2)), (2, 2, 5, 4, 7)),
    ("adaptive_max_pool1d", lambda m, x: m.adaptive_max_pool1d(x, 3, True), (2, 3, 7)),
    ("adaptive_max_pool2d", lambda m, x: m.adaptive_max_pool2d(x, (3, 4), True), (2, 2, 7, 5)),
    ("adaptive_max_pool3d", lambda m, x: m.adaptive_max_pool3d(x, (2, 3, 2), True), (1, 2, 5, 4, 3)),
    ("adaptive_max_pool3d larger", lambda m, x: m.adaptive_max_pool3d(x, 5, True), (1, 1, 3, 4, 2)),
    ("lp_pool1d", lambda m, x: m.lp_pool1d(x, 2, 3, 2), (2, 3, 8)),
    ("lp_pool2d", lambda m, x: m.lp_pool2d(x, 3, (2, 3), ceil_mode=True), (2, 2, 5, 7)),
    ("lp_pool3d", lambda m, x: m.lp_pool3d(x, 1.5, 2), (1, 2, 4, 4, 4)),
]


def _compare(torch, fn, x, tmod=None):
    tF = tmod or torch.nn.functional
    ours = tg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, ty = fn(F, ours), fn(tF, theirs)
    if isinstance(ty, tuple):
        np.testing.assert_array_equal(y[1].numpy(), ty[1].numpy())
        y, ty = y[0], ty[0]
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(ty.shape)
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    return y, ty


@pytest.mark.parametrize("label,fn,shape", CASES, ids=[c[0] for c in CASES])
def test_matches_pytorch(label, fn, shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(7).standard_normal(shape)
    if label.startswith("lp_pool"):
        x = np.abs(x) + 0.1
    y, ty = _compare(torch, fn, x)
    assert y.grad_fn.name() == ty.grad_fn.name()


@pytest.mark.parametrize("d", [1, 2, 3])
def test_max_unpool_matches_pytorch(d):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(d).standard_normal((2, 2) + (6,) * d)
    pool, unpool = f"max_pool{d}d", f"max_unpool{d}d"
    _, idx = getattr(F, pool)(tg.tensor(x), 2, return_indices=True)
    v = getattr(torch.nn.functional, pool)(torch.tensor(x), 2, return_indices=True)[0].numpy()
    fn = lambda m, v: getattr(m, unpool)(v, idx if m is F else torch.tensor(idx.numpy()), 2,  # noqa: E731
                                          output_size=(7,) * d)
    y, ty = _compare(torch, fn, v)
    assert y.grad_fn.name() == ty.grad_fn.name() or d == 1


def test_nan_and_minus_inf_picks_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).integers(-2, 3, (1, 2, 4, 5, 4)).astype(np.float64)
    x[0, 0, 1, 1, 1] = x[0, 0, 1, 2, 1] = np.nan
    x[0, 1, :2] = -np.inf
    for fn in (lambda m, x: m.max_pool3d(x, 2, 2, 1, return_indices=True),
               lambda m, x: m.adaptive_max_pool3d(x, (2, 3, 2), True)):
        ours, theirs = fn(F, tg.tensor(x)), fn(torch.nn.functional, torch.tensor(x))
        np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


@pytest.mark.parametrize("d", [1, 2, 3])
def test_adaptive_max_pool_to_size_zero_is_empty_as_pytorch(d):
    x = tg.ones((1, 2) + (3,) * d, requires_grad=True)
    fn = getattr(tg.nn.functional, f"adaptive_max_pool{d}d")
    out, idx = fn(x, 0, return_indices=True)
    assert out.shape == (1, 2) + (0,) * d and idx.shape == out.shape and idx.dtype == tg.int64
    with pytest.raises(RuntimeError, match=rf"adaptive_max_pool{max(d, 2)}d_backward\(\): Expected grad_output to "
                                           "have non-zero size for non-batch dimensions"):
        out.sum().backward()  # PyTorch's backward refuses the empty gradient (adaptive_pool_empty_output_check)
    if d == 1:
        with pytest.raises(TypeError, match="tuple of ints"):
            fn(x, (None,))


# PyTorch's adaptive_pool_empty_output_check: (kind, d, input shape, output_size, whether backward raises); the
# 1-d ops run as 2-d on an unsqueezed view, the global average (output 1) is a mean without the check
EMPTY_GRAD = [(kind, d, shape, size, raises) for kind in ("max", "avg") for d in (1, 2, 3) for shape, size, raises in (
    ((1, 2) + (3,) * d, 0, True), ((2,) + (3,) * d, 0, True), ((1, 2) + (3,) * d, (0,) + (1,) * (d - 1), True),
    ((1, 2) + (3,) * d, (1,) * (d - 1) + (0,), True), ((0, 2) + (3,) * d, 1, False), ((0, 2) + (3,) * d, 2, False),
    ((0,) + (3,) * d, 2, False), ((3,) + (3,) * d, 2, False))] + [
    ("avg", d, (1, 0) + (3,) * d, 1, False) for d in (1, 2, 3)]


def _pool_backward(lib, kind, d, shape, size):
    x = lib.ones(shape, requires_grad=True)
    try:
        getattr(lib.nn.functional, f"adaptive_{kind}_pool{d}d")(x, size).sum().backward()
    except RuntimeError as e:
        return str(e)
    return tuple(x.grad.shape)


@pytest.mark.parametrize("case", EMPTY_GRAD)
def test_adaptive_pool_backward_refuses_an_empty_non_batch_gradient(case):
    """tapegrad gave zero gradients where PyTorch's backward raises."""
    kind, d, shape, size, raises = case
    got = _pool_backward(tg, kind, d, shape, size)
    if raises:
        assert isinstance(got, str) and "Expected grad_output to have non-zero size for non-batch" in got, got
    else:
        assert got == shape


@pytest.mark.parametrize("case", EMPTY_GRAD)
def test_adaptive_pool_backward_of_an_empty_gradient_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    got, want = _pool_backward(tg, *case[:4]), _pool_backward(torch, *case[:4])
    assert got == want


@pytest.mark.parametrize("d", [1, 2, 3])
def test_max_unpool_of_an_empty_batch_has_a_gradient(d):
    x = tg.zeros((0, 2) + (2,) * d, requires_grad=True)
    y, i = getattr(F, f"max_pool{d}d")(x, 2, return_indices=True)
    getattr(F, f"max_unpool{d}d")(y, i, 2).sum().backward()
    assert x.grad.shape == x.shape


# ---- dtypes PyTorch's CPU kernels refuse (avg_pool3d of float16, max_unpool of integer/bool values): refused here
DTYPES = ["float16", "float32", "float64", "int64", "int32", "uint8", "bool"]


def _both_ways(torch_fn, tg_fn):
    """Run a call both ways: (exception type or None, result) for PyTorch and tapegrad."""
    out = []
    for fn in (torch_fn, tg_fn):
        try:
            out.append((None, fn()))
        except Exception as e:  # noqa: BLE001 - the kind of refusal is compared below
            out.append((type(e), None))
    return out


@given(dtype=st.sampled_from(DTYPES), d=st.sampled_from([1, 2, 3]), batch=st.sampled_from([1, 0]))
@example(dtype="int64", d=1, batch=0)
@example(dtype="int64", d=2, batch=0)
def test_max_unpool_refuses_non_floating_values_as_pytorch(dtype, d, batch):
    """Integer and bool values are refused, but not in an empty output: PyTorch runs the kernel (and its dtype
    check) only if the output has elements (aten/src/ATen/native/MaxUnpooling.cpp)."""
    fn = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}[d]
    x = tg.ones((batch, 1) + (1,) * d, dtype=getattr(tg, dtype))
    idx = tg.zeros((batch, 1) + (1,) * d, dtype=tg.int64)
    if dtype.startswith("float") or not batch:
        out = fn(x, idx, 2)
        assert out.shape == (batch, 1) + (2,) * d and out.dtype == x.dtype
    else:
        with pytest.raises(NotImplementedError, match=f"max_unpool{d}d.*{dtype}"):
            fn(x, idx, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("shape", [(0, 2), (2, 0), (0,)])
def test_max_unpool_of_empty_values_as_pytorch(dtype, d, shape):
    torch = pytest.importorskip("torch")
    name = f"max_unpool{d}d"
    full = shape + (1,) * d
    (e_t, r_t), (e_g, r_g) = _both_ways(
        lambda: getattr(torch.nn.functional, name)(torch.ones(full, dtype=getattr(torch, dtype)),
                                                   torch.zeros(full, dtype=torch.int64), 2),
        lambda: getattr(F, name)(tg.ones(full, dtype=getattr(tg, dtype)), tg.zeros(full, dtype=tg.int64), 2))
    assert e_g == e_t
    if e_t is None:
        assert tuple(r_g.shape) == tuple(r_t.shape) and str(r_g.dtype).split(".")[-1] == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool3d_lp_pool3d_and_local_response_norm_dtypes_as_pytorch(dtype):
    torch = pytest.importorskip("torch")
    calls = [
        lambda lib, x: lib.nn.functional.avg_pool3d(x, 2),
        lambda lib, x: lib.nn.functional.lp_pool3d(x, 2.0, 2),
        lambda lib, x: lib.nn.functional.local_response_norm(x, 2),
        lambda lib, x: lib.nn.functional.max_unpool3d(x, lib.zeros(x.shape, dtype=lib.int64), 1),
    ]
    a = np.arange(16).reshape(1, 2, 2, 2, 2) % 3
    for call in calls:
        (e_t, r_t), (e_g, r_g) = _both_ways(
            lambda call=call: call(torch, torch.tensor(a).to(getattr(torch, dtype))),
            lambda call=call: call(tg, tg.tensor(a).to(getattr(tg, dtype))))
        assert (e_t is None) == (e_g is None), (dtype, e_t, e_g)
        if e_t is None:
            np.testing.assert_allclose(r_g.float().numpy(), r_t.float().numpy(), rtol=2e-3, atol=1e-3)
        else:
            assert e_g is NotImplementedError


@given(sizes=st.tuples(*[st.integers(1, 3)] * 3), k=st.integers(1, 3), ceil=st.booleans(), pad=st.booleans())
def test_avg_pool3d_and_lp_pool3d_refuse_a_kernel_larger_than_the_input_as_pytorch(sizes, k, ceil, pad):
    x = tg.ones((1, 1) + sizes)
    p = k // 2 if pad else 0
    if min(sizes) < k:
        with pytest.raises(RuntimeError, match="smaller than kernel size|too small"):
            F.avg_pool3d(x, k, padding=p, ceil_mode=ceil)
        with pytest.raises(RuntimeError, match="smaller than kernel size|too small"):
            F.lp_pool3d(x, 3.0, k, ceil_mode=ceil)
    else:
        assert F.avg_pool3d(x, k, padding=p, ceil_mode=ceil).shape[:2] == (1, 1)
        assert F.lp_pool3d(x, 3.0, k, ceil_mode=ceil).shape[:2] == (1, 1)


def test_pool_kernel_larger_than_input_matches_pytorch():
    torch = pytest.importorskip("torch")
    for name, args in [("avg_pool3d", (2,)), ("lp_pool3d", (3.0, 2)), ("lp_pool2d", (3.0, 2)),
                       ("lp_pool1d", (3.0, 2)), ("avg_pool1d", (2,))]:
        d = int(name[-2])
        shape = (1, 1) + (3, 2, 1)[-d:]
        got = _both_ways(lambda name=name, args=args, shape=shape: getattr(torch.nn.functional, name)(
                             torch.ones(shape), *args, ceil_mode=True),
                         lambda name=name, args=args, shape=shape: getattr(F, name)(tg.ones(shape), *args,
                                                                                    ceil_mode=True))
        (e_t, r_t), (e_g, r_g) = got
        assert e_t == e_g, (name, e_t, e_g)
        if e_t is None:
            np.testing.assert_allclose(r_g.numpy(), r_t.numpy(), rtol=1e-6)


EMPTY_SHAPES = [(1, 0), (2, 0, 3), (0, 0, 3), (1, 0, 0), (1, 2, 0), (0, 1, 2, 2), (2, 0, 2, 2), (1, 0, 0, 0),
                (1, 2, 2, 0), (2, 0, 2, 2, 2), (0, 2, 2, 2), (0, 0, 2, 2, 2), (0, 2, 0, 2), (1, 0, 2, 2, 2)]


@pytest.mark.parametrize("shape", EMPTY_SHAPES)
def test_adaptive_avg_pools_of_empty_inputs_match_pytorch(shape):
    """PyTorch: an output size of ones is a mean of any input (NaN on an empty window); otherwise the non-batch
    dims must be non-empty."""
    torch = pytest.importorskip("torch")
    for d in (1, 2, 3):
        if len(shape) not in (d + 1, d + 2):
            continue
        name = f"adaptive_avg_pool{d}d"
        for out in (1, 2):
            (e_t, r_t), (e_g, r_g) = _both_ways(
                lambda name=name, out=out: getattr(torch.nn.functional, name)(torch.ones(shape), out),
                lambda name=name, out=out: getattr(F, name)(tg.ones(shape), out))
            assert e_t == e_g, (name, shape, out, e_t, e_g)
            if e_t is None:
                assert tuple(r_g.shape) == tuple(r_t.shape)
                np.testing.assert_array_equal(r_g.numpy(), r_t.numpy())


@given(shape=st.lists(st.integers(0, 2), min_size=4, max_size=5))
def test_adaptive_avg_pool3d_to_ones_is_the_mean_of_any_input(shape):
    x = tg.ones(shape, requires_grad=True)
    out = F.adaptive_avg_pool3d(x, 1)
    expected = np.full(tuple(shape[:-3]) + (1, 1, 1), np.nan if 0 in shape[-3:] else 1.0)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    out.sum().backward()
    assert x.grad.shape == x.shape


@given(size=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
       out=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float32", "float64"]))
@example(size=(3, 2, 2), out=(4, 3, 3), seed=0, dtype="float32")
@settings(max_examples=30, deadline=None)
def test_adaptive_avg_pool3d_sums_in_pytorch_s_order(size, out, seed, dtype):
    """PyTorch sums each window depth, then height, then width outermost first, from +0.0 in the input's dtype:
    where large values cancel, its rounding (not a per-axis sum's)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.choice([1e30, -1e30, 3e38, -3e38, 0.5, 1.0, -60000.0, 1e-7, 0.0], size=(1, 2) + size)
    want = torch.nn.functional.adaptive_avg_pool3d(torch.tensor(x, dtype=getattr(torch, dtype)), out).numpy()
    got = tg.nn.functional.adaptive_avg_pool3d(tg.tensor(x, dtype=getattr(tg, dtype)), out).numpy()
    np.testing.assert_array_equal(got, want)
    area = tg.nn.functional.interpolate(tg.tensor(x, dtype=getattr(tg, dtype)), size=out, mode="area").numpy()
    np.testing.assert_array_equal(area, want)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_max_unpool_output_size_has_d_or_d_plus_2_elements_as_pytorch(d):
    """PyTorch's _unpool_output_size takes the spatial sizes or (N, C, *spatial); a (C, *spatial) length, or any
    other, is a ValueError (tapegrad took d + 1 elements for an unbatched input)."""
    pool = getattr(tg.nn.functional, f"max_pool{d}d")
    unpool = getattr(tg.nn.functional, f"max_unpool{d}d")
    x, i = pool(tg.ones((1, 1) + (3,) * d), 2, stride=1, return_indices=True)
    spatial = (3,) * d
    for size in (spatial, (1, 1) + spatial, list(spatial)):
        assert unpool(x, i, 2, stride=1, output_size=size).shape == (1, 1) + spatial
    for size in ((1,) + spatial, (1, 1, 1) + spatial, spatial[1:] if d > 1 else ()):
        with pytest.raises(ValueError, match=f"output_size should be a sequence containing {d} or {d + 2}"):
            unpool(x, i, 2, stride=1, output_size=size)


@pytest.mark.parametrize("name, shape", [("max_pool1d", (1, 2, 6)), ("max_pool2d", (1, 2, 4, 6)),
                                         ("max_pool3d", (1, 2, 2, 4, 6))])
def test_top_level_max_pools_take_no_return_indices_as_pytorch(name, shape):
    """``torch.max_poolNd`` are ``F.max_poolNd`` without ``return_indices`` (a stride of [] is the kernel's)."""
    x = tg.tensor(np.random.default_rng(0).standard_normal(shape))
    top, functional = getattr(tg, name), getattr(tg.nn.functional, name)
    np.testing.assert_array_equal(top(x, 2).numpy(), functional(x, 2).numpy())
    np.testing.assert_array_equal(top(x, 2, [], 0, 1, True).numpy(), functional(x, 2, None, 0, 1, True).numpy())
    with pytest.raises(TypeError):
        top(x, 2, return_indices=True)
    assert isinstance(functional(x, 2, return_indices=True), tuple)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(top(x, 2, 1).numpy(), getattr(torch, name)(torch.tensor(x.numpy()), 2, 1).numpy())


# ---------------------------------------------------------------------- empty non-batch dims
_POOLS = {
    "max_pool1d": (1, lambda f, x: f.max_pool1d(x, 1)), "avg_pool1d": (1, lambda f, x: f.avg_pool1d(x, 1)),
    "max_pool3d": (3, lambda f, x: f.max_pool3d(x, 1)), "avg_pool3d": (3, lambda f, x: f.avg_pool3d(x, 1)),
    "lp_pool3d": (3, lambda f, x: f.lp_pool3d(x, 2.0, 1)),
    "max_pool3d_indices": (3, lambda f, x: f.max_pool3d(x, 1, return_indices=True)[0]),
    "adaptive_max_pool3d": (3, lambda f, x: f.adaptive_max_pool3d(x, 1)),
    "adaptive_max_pool1d": (1, lambda f, x: f.adaptive_max_pool1d(x, 1)),
}


def _pool_refuses(name, shape):
    """PyTorch's rule: only the batch dim of a batched input may be 0 (pool3d_shape_check: "Expected input's
    non-batch dimensions to have positive length"); adaptive max pooling also takes an unbatched input of 0
    channels (adaptive_max_pool*d's checks start at dim 1)."""
    d = _POOLS[name][0]
    first = 1 if len(shape) == d + 2 or name.startswith("adaptive") else 0
    return 0 in shape[first:]


@given(name=st.sampled_from(sorted(_POOLS)), batched=st.booleans(), data=st.data())
@example(name="max_pool3d", batched=False, data=None)
def test_pooling_refuses_empty_non_batch_dims(name, batched, data):
    d = _POOLS[name][0]
    n = d + 1 + batched
    shape = (0,) + (2,) * (n - 1) if data is None else tuple(data.draw(st.lists(st.sampled_from([0, 2]),
                                                                               min_size=n, max_size=n)))
    x = tg.zeros(shape)
    if _pool_refuses(name, shape):
        with pytest.raises(RuntimeError, match=r"non-empty .*-D .* got input of shape"):
            _POOLS[name][1](F, x)
    else:
        assert 0 in _POOLS[name][1](F, x).shape or 0 not in shape


def test_pooling_empty_dims_as_pytorch():
    torch = pytest.importorskip("torch")
    for name, (d, call) in _POOLS.items():
        for n in (d + 1, d + 2):
            for shape in itertools.product([0, 2], repeat=n):
                try:
                    want = tuple(call(torch.nn.functional, torch.zeros(shape)).shape)
                except RuntimeError:
                    want = None
                try:
                    got = tuple(call(F, tg.zeros(shape)).shape)
                except RuntimeError:
                    got = None
                assert got == want, (name, shape)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_max_pool1d_of_integers_needs_return_indices_as_pytorch(dtype):
    # PyTorch's max_pool1d computes an input that does not require grad with max_pool1d_impl (floating kernels
    # only, aten/src/ATen/native/MaxPooling.cpp); max_pool1d_with_indices, taken for return_indices, has integer ones
    x = tg.tensor(np.array([[4, 100, 0, 5]]).astype(dtype))
    message = "not implemented for bool" if dtype == "bool" else "max_pool1d_impl"  # (bool: every max pool refuses)
    with pytest.raises(NotImplementedError, match=message):
        tg.nn.functional.max_pool1d(x, 2)
    with pytest.raises(NotImplementedError, match=message):
        tg.nn.MaxPool1d(2)(x)
    if dtype != "bool":
        values, _ = tg.nn.functional.max_pool1d(x, 2, return_indices=True)
        assert values.tolist() == [[100, 5]]


def test_max_pool1d_of_integers_matches_pytorch():
    torch = pytest.importorskip("torch")
    for dtype in ("int64", "uint8"):
        outcomes = []
        for lib in (tg, torch):
            x = lib.tensor(np.array([[4, 100, 0, 5]]).astype(dtype))
            row = []
            for kwargs in ({}, {"return_indices": True}):
                try:
                    out = lib.nn.functional.max_pool1d(x, 2, **kwargs)
                    row.append(out[0].tolist() if isinstance(out, tuple) else out.tolist())
                except NotImplementedError:
                    row.append("raises")
            outcomes.append(row)
        assert outcomes[0] == outcomes[1], dtype


@given(batch=st.sampled_from([(), (1,), (2,)]), c=st.integers(1, 2), n=st.integers(1, 3), k=st.integers(1, 2),
       s=st.integers(1, 3))
@example(batch=(1,), c=2, n=1, k=1, s=2)  # driver seed 219897
def test_max_unpool1d_is_a_squeezed_view_as_pytorch(batch, c, n, k, s):
    # PyTorch's F.max_unpool1d is max_unpool2d(input.unsqueeze(-1), indices.unsqueeze(-1)).squeeze(-1)
    # (torch/nn/functional.py): its result is a view, so detach_ refuses it; the node is SqueezeBackward1
    s = max(s, k)  # every index inside the output
    x = np.arange(float(np.prod(batch + (c, n * k)))).reshape(batch + (c, n * k)) * 0.5 - 1.25
    v, i = F.max_pool1d(tg.tensor(x, requires_grad=True), k, stride=k, return_indices=True)
    y = F.max_unpool1d(v, i, k, stride=s)
    assert y.grad_fn.name() == "SqueezeBackward1"
    assert y.grad_fn.next_functions[0][0].name() == "MaxUnpool2DBackward0"
    with pytest.raises(RuntimeError, match="can't detach views"):
        F.max_unpool1d(v.detach(), i, k, stride=s).detach_()
    assert_gradients(lambda t: F.max_unpool1d(t, i, k, stride=s), v.detach().numpy().astype(np.float64))
    torch = pytest.importorskip("torch")
    tv, ti = torch.nn.functional.max_pool1d(torch.tensor(x), k, stride=k, return_indices=True)
    want = torch.nn.functional.max_unpool1d(tv, ti, k, stride=s)
    assert want._is_view() and want.grad_fn is None
    np.testing.assert_array_equal(y.detach().numpy(), want.numpy())
    assert y.stride() == want.stride()


@given(seed=st.integers(0, 2**16), k=st.integers(1, 3), s=st.integers(1, 2), ceil_mode=st.booleans())
@example(seed=0, k=3, s=3, ceil_mode=False)
@settings(max_examples=25, deadline=None)
def test_avg_pool3d_sums_each_window_in_pytorchs_loop_order(seed, k, s, ceil_mode):
    # 3e38 ** 1 and -3e38 beside units: where they cancel the order decides what is left (lp_pool3d's 10.25, not 6.75)
    rng = np.random.default_rng(seed)
    a = rng.choice([3e300, -3e300, 1.0, -2.5, 1e-30, 0.5, 6e4, -6e4], size=(2, 3, 4, 3))
    p = k // 2
    got = F.avg_pool3d(tg.tensor(a), k, s, p, ceil_mode=ceil_mode, divisor_override=1).numpy()
    np.testing.assert_array_equal(got, _row_major_window_sums(a, k, s, p, ceil_mode))
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.avg_pool3d(torch.tensor(a), k, s, p, ceil_mode=ceil_mode, divisor_override=1).numpy()
    np.testing.assert_array_equal(got, want)


def test_lp_pool_of_cancelling_cubes_matches_pytorch():
    x = [[[-0.25, -3.0, 3.0, -1.0], [-60000.0, -3.0, 3.0, 0.5], [3e38, -3e38, 1.0, 1.0]]]
    # row-major: (-2e14 + 2.7e115) - 2.7e115 + 1 = 1 (rows first: -2e14 + 1 < 0, whose cube root is nan)
    assert F.lp_pool2d(tg.tensor(x, dtype=tg.float64), 3.0, 3, stride=2).item() == 1.0


@pytest.mark.parametrize("pool", ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"])
@pytest.mark.parametrize("kernel", [1, 2])
def test_pooling_an_empty_batch_gives_a_new_tensor(pool, kernel):
    """Pooling never returns a view of its input: with an empty batch (or a 1x1 kernel) numpy's window view of the
    input is the whole result, and a later in-place op on the input must not reach the pooled tensor (PyTorch's
    result is a new tensor: the differential driver's max_pool1d of a (0, 1, 4) input, then addcmul_ on it)."""
    d = int(pool[-2])
    x = tg.zeros((0, 1) + (4,) * d)
    out = getattr(F, pool)(x, kernel, stride=2)
    out = out[0] if isinstance(out, tuple) else out
    assert out._base is not x and (out._base is None or out._base._base is None)
    x.requires_grad_()
    assert not out.requires_grad


@pytest.mark.parametrize("d", [1, 2, 3])
@given(huge=st.lists(st.sampled_from([-3e38, -1e38, 3e38, 1.0, -2.5]), min_size=3, max_size=7),
       inf=st.sampled_from([math.inf, -math.inf]))
@example(huge=[-3e38, -3e38, -3e38, 1.0, 2.0, 3e38, -1e30], inf=math.inf)
def test_global_average_pooling_is_the_mean(d, huge, inf):
    """Global average pooling (output size 1) is PyTorch's plain mean over the pooled dims, in 1-d, 2-d and 3-d
    alike: an infinity beside float32 values whose sum overflows gives what the mean gives (whose partial sums
    overflow in each library's order: KNOWN sum-overflowing-partial-sums)."""
    a = np.array([inf] + huge, dtype=np.float32)
    x = tg.tensor(a.reshape((1, 1) + (1,) * (d - 1) + (a.size,)))
    out = getattr(F, f"adaptive_avg_pool{d}d")(x, 1)
    assert out.shape == (1, 1) + (1,) * d
    np.testing.assert_array_equal(out.numpy().ravel(), tg.tensor(a).mean().numpy().ravel())


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("shape", [(1, 4), (1, 2, 4)])
def test_max_pool1d_is_a_view_exactly_when_pytorchs_is(shape, grad):
    """(seed 1367333) PyTorch's max_pool1d of an input that does not require grad (or under no_grad) is
    max_pool1d_impl's own tensor, so detach_() takes it; with grad it is a squeeze of the 2-d pooling, a view."""
    x = tg.ones(*shape, requires_grad=grad)
    out = tg.nn.functional.max_pool1d(x, 2)
    assert out._is_view() is grad
    if not grad:
        out.detach_()
    torch = pytest.importorskip("torch")
    assert torch.nn.functional.max_pool1d(torch.ones(*shape, requires_grad=grad), 2)._is_view() is grad
