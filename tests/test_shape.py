"""Shape ops: forward against numpy, gradients against finite differences, dtypes, views, errors, higher
order."""

import sys
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd.gradcheck import gradgradcheck
from tapegrad.testing import arrays, assert_forward, assert_gradients, broadcastable_shapes, shapes

small = shapes(min_dims=1, max_dims=3, max_side=4)


def dim_of(draw, ndim, extra=0):
    n = max(ndim + extra, 1)
    return draw(st.integers(-n, n - 1))


# ---------------------------------------------------------------------- reshape family
@given(st.data())
def test_reshape(data):
    x = data.draw(arrays(shape=shapes(max_dims=3)))
    target = data.draw(st.sampled_from([(-1,), x.shape[::-1], (1,) + x.shape, x.shape + (1,), (x.size, -1)]))
    assert_forward(lambda t: t.reshape(target), lambda a: a.reshape(target), x)
    assert_forward(lambda t: tg.reshape(t, target), lambda a: a.reshape(target), x, dtype=np.float32)
    assert_gradients(lambda t: t.reshape(*target) if target else t.reshape(shape=target), x)


@given(st.data())
def test_view_and_view_as(data):
    x = data.draw(arrays(shape=small))
    target = (x.size,) if data.draw(st.booleans()) else (-1, x.shape[-1])
    assert_forward(lambda t: t.view(target), lambda a: a.reshape(target), x)
    assert_gradients(lambda t: t.view(*target), x)
    other = np.zeros(x.shape[::-1])
    assert_forward(lambda t: t.view_as(tg.tensor(other)), lambda a: a.reshape(other.shape), x)
    assert_forward(lambda t: t.reshape_as(tg.tensor(other)), lambda a: a.reshape(other.shape), x)
    assert_gradients(lambda t: t.reshape_as(tg.tensor(other)), x)


def test_view_shares_memory_and_reshape_copies_only_when_it_must():
    x = tg.arange(6.0).reshape(2, 3)
    v = x.view(3, 2)
    with tg.no_grad():
        v[0, 0] = 100.0
    assert x[0, 0].item() == 100.0
    t = x.t()
    assert not t.is_contiguous()
    r = t.reshape(-1)  # must copy: a later write to x does not show
    with tg.no_grad():
        x[0, 1] = -5.0
    assert r[2].item() == 1.0
    assert t.reshape(3, 2)._data.base is not None  # no copy needed: a view


def test_view_of_non_contiguous_tensor_raises_like_pytorch():
    x = tg.arange(24.0).reshape(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"view: cannot view a tensor of shape \(3, 2, 4\) with strides "
                                           r"\(4, 12, 1\) as shape \(-1,\).*Use \.reshape"):
        x.transpose(0, 1).view(-1)
    with pytest.raises(RuntimeError, match=r"view: .*shape \(2, 12\)"):
        x.transpose(1, 2).view(2, 12)
    with pytest.raises(RuntimeError, match="view: .*not contiguous"):
        tg.zeros(3).expand(4, 3).view(12)
    # views that only split or keep the strided dims are possible, as in PyTorch
    assert x.transpose(0, 1).view(3, 2, 2, 2).shape == (3, 2, 2, 2)
    assert x.transpose(1, 2).view(2, 2, 2, 3).shape == (2, 2, 2, 3)
    assert x[:, :, ::2].view(6, 2).shape == (6, 2)
    # contiguous() makes any view possible
    y = x.transpose(0, 1).contiguous()
    assert y.is_contiguous() and y.view(-1).shape == (24,)
    want = np.arange(24.0).reshape(2, 3, 4).transpose(1, 0, 2).ravel()
    np.testing.assert_array_equal(y.view(-1).numpy(), want)


def test_view_as_dtype_reinterprets_bits():
    x = tg.tensor([1.0, -2.0])
    np.testing.assert_array_equal(x.view(tg.int32).numpy(), np.array([1.0, -2.0], np.float32).view(np.int32))
    assert x.view(tg.float32).shape == (2,)


@given(st.data())
def test_contiguous(data):
    x = data.draw(arrays(shape=shapes(min_dims=2, max_dims=3)))
    assert_forward(lambda t: t.mT.contiguous(), lambda a: np.swapaxes(a, -1, -2), x)
    assert_gradients(lambda t: t.mT.contiguous(), x)
    t = tg.tensor(x)
    assert t.contiguous() is t
    c = t.mT.contiguous()
    assert c.is_contiguous() and c._data.flags.c_contiguous


@given(st.data())
def test_flatten(data):
    x = data.draw(arrays(shape=shapes(max_dims=4)))
    n = max(x.ndim, 1)
    s, e = sorted((data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))))
    want = (1,) if x.ndim == 0 else x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    assert_forward(lambda t: t.flatten(s, e), lambda a: a.reshape(want), x)
    assert_forward(lambda t: tg.flatten(t), lambda a: a.reshape(-1), x)
    assert_gradients(lambda t: t.flatten(s - n, e), x)


@given(st.data())
def test_unflatten(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, max_dims=2, max_side=6)))
    d = data.draw(st.integers(0, x.ndim - 1))
    n = x.shape[d]
    k = data.draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
    sizes = data.draw(st.sampled_from([(k, n // k), (-1, k), (n // k, 1, -1)]))
    want = x.shape[:d] + (k, n // k) if sizes[0] == k else None
    got = tg.tensor(x).unflatten(d, sizes)
    assert int(np.prod(got.shape)) == x.size
    if want is not None:
        assert got.shape[:d + 2] == want
    assert_forward(lambda t: t.unflatten(d, sizes), lambda a: a.reshape(got.shape), x)
    assert_gradients(lambda t: tg.unflatten(t, d, sizes), x)


@given(st.data())
def test_squeeze_and_unsqueeze(data):
    x = data.draw(arrays(shape=shapes(max_dims=4, max_side=2)))
    ones = tuple(i for i, s in enumerate(x.shape) if s == 1)
    assert_forward(lambda t: t.squeeze(), lambda a: np.squeeze(a), x)
    assert_gradients(lambda t: t.squeeze(), x)
    if x.ndim:
        d = data.draw(st.integers(-x.ndim, x.ndim - 1))
        ref = np.squeeze(x, d) if x.shape[d] == 1 else x
        assert_forward(lambda t: t.squeeze(d), lambda a: ref, x)
        dims = tuple(data.draw(st.lists(st.integers(0, x.ndim - 1), unique=True, max_size=x.ndim)))
        drop = tuple(i for i in dims if i in ones)
        assert_forward(lambda t: tg.squeeze(t, dims), lambda a: np.squeeze(a, drop), x)
        assert_gradients(lambda t: t.squeeze(dims), x)
    u = data.draw(st.integers(-x.ndim - 1, x.ndim))
    assert_forward(lambda t: t.unsqueeze(u), lambda a: np.expand_dims(a, u), x)
    assert_gradients(lambda t: tg.unsqueeze(t, u), x)


# ---------------------------------------------------------------------- reordering dims
@given(st.data())
def test_transpose_swapaxes_swapdims(data):
    x = data.draw(arrays(shape=shapes(max_dims=4)))
    n = max(x.ndim, 1)
    d0, d1 = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    ref = (lambda a: np.swapaxes(a, d0, d1)) if x.ndim else (lambda a: a)
    for fn in (tg.transpose, tg.swapaxes, tg.swapdims, tg.Tensor.transpose, tg.Tensor.swapdims):
        assert_forward(lambda t, fn=fn: fn(t, d0, d1), ref, x)
    assert_gradients(lambda t: t.transpose(d0, d1), x)


@given(st.data())
def test_permute(data):
    x = data.draw(arrays(shape=shapes(max_dims=4)))
    perm = data.draw(st.permutations(range(x.ndim)))
    neg = [p - x.ndim for p in perm]
    assert_forward(lambda t: t.permute(*perm) if perm else t.permute(()), lambda a: np.transpose(a, perm), x)
    assert_forward(lambda t: tg.permute(t, neg), lambda a: np.transpose(a, perm), x)
    assert_gradients(lambda t: t.permute(perm), x)


@given(arrays(shape=shapes(max_dims=4)))
def test_T_mT_t_adjoint(x):
    assert_forward(lambda t: t.T, lambda a: np.transpose(a), x)
    assert_gradients(lambda t: t.T, x)
    if x.ndim >= 2:
        assert_forward(lambda t: t.mT, lambda a: np.swapaxes(a, -1, -2), x)
        assert_forward(lambda t: t.mH, lambda a: np.swapaxes(a, -1, -2), x)
        assert_forward(lambda t: tg.adjoint(t), lambda a: np.swapaxes(a, -1, -2), x)
        assert_gradients(lambda t: t.mT, x)
    if x.ndim <= 2:
        assert_forward(lambda t: t.t(), lambda a: a.T, x)
        assert_forward(lambda t: tg.t(t), lambda a: a.T, x)
        assert_gradients(lambda t: t.t(), x)
    if x.ndim == 2:
        assert_forward(lambda t: t.H, lambda a: a.T, x)


def _library(t):
    """The library a tensor belongs to (tapegrad, or PyTorch in the comparison tests)."""
    return tg if isinstance(t, tg.Tensor) else sys.modules["torch"]


MATRIX_TRANSPOSES = {"mT": lambda t: t.mT, "mH": lambda t: t.mH, "H": lambda t: t.H, "adjoint": lambda t: t.adjoint(),
                     "tg.adjoint": lambda t: _library(t).adjoint(t)}


@pytest.mark.parametrize("name", sorted(MATRIX_TRANSPOSES))
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (4, 2, 3)])
def test_matrix_transposes_of_0d_tensors_are_the_tensor_itself(name, shape):
    # issue 9: PyTorch returns a 0-d tensor itself (with a deprecation warning); 1-d is an error; H is 2-d only
    x = tg.arange(float(np.prod(shape))).reshape(shape).requires_grad_()
    fn = MATRIX_TRANSPOSES[name]
    if len(shape) == 1 or (name == "H" and len(shape) == 3):
        with pytest.raises(RuntimeError, match=f"{name.split('.')[-1]}: only supported on matrices"):
            fn(x)
        return
    if not shape:
        with pytest.warns(UserWarning, match="deprecated on 0-D tensors"):
            assert fn(x) is x
        return
    np.testing.assert_array_equal(fn(x).detach().numpy(), np.swapaxes(x.detach().numpy(), -1, -2))
    assert fn(x).grad_fn.name() == "TransposeBackward0"


@pytest.mark.parametrize("name", sorted(MATRIX_TRANSPOSES))
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (4, 2, 3)])
def test_matrix_transposes_match_pytorch(name, shape):
    torch = pytest.importorskip("torch")
    outcomes = []
    for L in (torch, tg):
        x = L.arange(float(np.prod(shape))).reshape(shape)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y = MATRIX_TRANSPOSES[name](x)
            outcomes.append((y is x, tuple(y.shape), y.tolist()))
        except RuntimeError:
            outcomes.append("raises")
    assert outcomes[0] == outcomes[1]


@given(st.data())
def test_movedim_moveaxis(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, max_dims=4)))
    k = data.draw(st.integers(1, x.ndim))
    src = data.draw(st.permutations(range(x.ndim)))[:k]
    dst = data.draw(st.permutations(range(x.ndim)))[:k]
    assert_forward(lambda t: t.movedim(src, dst), lambda a: np.moveaxis(a, src, dst), x)
    one = lambda a: np.moveaxis(a, src[0], dst[0])  # noqa: E731
    assert_forward(lambda t: tg.moveaxis(t, src[0], dst[0] - x.ndim), one, x)
    assert_gradients(lambda t: tg.movedim(t, tuple(src), tuple(dst)), x)


# ---------------------------------------------------------------------- broadcasting
@given(broadcastable_shapes(2, max_dims=3, min_side=0))
@example([(0, 1), (2,)])  # an empty tensor broadcast along a unit dim
def test_expand_broadcast_to_expand_as(shapes2):
    a_shape, b_shape = shapes2
    target = np.broadcast_shapes(a_shape, b_shape)
    x = np.random.default_rng(0).standard_normal(a_shape)
    ref = lambda a: np.broadcast_to(a, target)  # noqa: E731
    assert_forward(lambda t: t.expand(*target) if target else t.expand(()), ref, x)
    assert_forward(lambda t: t.expand(size=target), ref, x)
    assert_forward(lambda t: t.expand_as(tg.zeros(target)), ref, x)
    assert_forward(lambda t: tg.broadcast_to(t, target), ref, x)
    assert_forward(lambda t: t.broadcast_to(target), ref, x, dtype=np.float32)
    assert_gradients(lambda t: t.expand(target), x)
    lead = len(target) - len(a_shape)
    keep = tuple(-1 if i >= lead and a_shape[i - lead] == s else s for i, s in enumerate(target))
    assert_forward(lambda t: t.expand(keep), ref, x)


@given(broadcastable_shapes(3, max_dims=3, min_side=0))
def test_broadcast_tensors_and_shapes(shapes3):
    target = np.broadcast_shapes(*shapes3)
    assert tg.broadcast_shapes(*shapes3) == target
    xs = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes3)]
    outs = tg.broadcast_tensors(*[tg.tensor(x) for x in xs])
    for o, x in zip(outs, xs, strict=True):
        np.testing.assert_array_equal(o.numpy(), np.broadcast_to(x, target))
    assert_gradients(lambda a, b, c: tg.broadcast_tensors(a, b, c), *xs)


@st.composite
def grid_inputs(draw):
    """1 to 3 arrays of 0 or 1 dims (sizes 1 to 4) for meshgrid."""
    n = draw(st.integers(1, 3))
    return [draw(arrays(shape=shapes(min_dims=0, max_dims=1))) for _ in range(n)]


@given(grid_inputs(), st.sampled_from(["ij", "xy"]))
def test_meshgrid(vectors, indexing):
    assert_forward(lambda *ts: tg.stack(tg.meshgrid(*ts, indexing=indexing)),
                   lambda *a: np.stack(np.meshgrid(*a, indexing=indexing)), *vectors)
    assert_forward(lambda *ts: tg.stack(tg.meshgrid(list(ts), indexing=indexing)),
                   lambda *a: np.stack(np.meshgrid(*a, indexing=indexing)), *vectors, dtype=np.float32)
    assert_gradients(lambda *ts: tg.stack(tg.meshgrid(*ts, indexing=indexing)) ** 2, *vectors)


def test_meshgrid_defaults_to_ij_and_gives_views():
    a, b = tg.tensor([1.0, 2.0, 3.0], requires_grad=True), tg.tensor([4.0, 5.0], requires_grad=True)
    xs, ys = tg.meshgrid(a, b)
    assert xs.shape == ys.shape == (3, 2)
    assert xs.tolist() == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]] and ys.tolist() == [[4.0, 5.0]] * 3
    assert np.shares_memory(xs.numpy(force=True), a.numpy(force=True))
    (xs * ys).sum().backward()
    assert a.grad.tolist() == [9.0, 9.0, 9.0] and b.grad.tolist() == [6.0, 6.0]
    xs, ys = tg.meshgrid(a, b, indexing="xy")
    assert xs.shape == (2, 3) and xs.tolist() == [[1.0, 2.0, 3.0]] * 2
    (single,) = tg.meshgrid(tg.tensor(7))
    assert single.tolist() == [7]


def test_keyword_and_varargs_forms_of_permute_flip_repeat():
    x = tg.arange(24).reshape(2, 3, 4)
    want = np.transpose(x.numpy(), (2, 0, 1))
    for got in (x.permute(2, 0, 1), x.permute((2, 0, 1)), x.permute([2, 0, 1]), x.permute(dims=(2, 0, 1)),
                tg.permute(x, (2, 0, 1)), tg.permute(x, dims=[2, 0, 1])):
        np.testing.assert_array_equal(got.numpy(), want)
    want = np.flip(x.numpy(), (0, 2))
    for got in (x.flip(0, 2), x.flip((0, 2)), x.flip(dims=[0, 2]), tg.flip(x, (0, 2)), tg.flip(x, dims=(0, 2))):
        np.testing.assert_array_equal(got.numpy(), want)
    want = np.tile(x.numpy(), (1, 2, 1))
    for got in (x.repeat(1, 2, 1), x.repeat((1, 2, 1)), x.repeat(repeats=[1, 2, 1])):
        np.testing.assert_array_equal(got.numpy(), want)
    y = tg.randn(2, 3, requires_grad=True)
    (y.permute(dims=(1, 0)) * tg.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


@given(st.data())
def test_repeat_and_tile(data):
    x = data.draw(arrays(shape=shapes(max_dims=3, max_side=3)))
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=x.ndim, max_size=x.ndim + 2)))
    assert_forward(lambda t: t.repeat(*reps) if reps else t.repeat(()), lambda a: np.tile(a, reps), x)
    assert_forward(lambda t: tg.Tensor.repeat(t, reps), lambda a: np.tile(a, reps), x, dtype=np.float32)
    assert_gradients(lambda t: t.repeat(reps), x)
    short = reps[: data.draw(st.integers(0, len(reps)))]
    assert_forward(lambda t: t.tile(short), lambda a: np.tile(a, short), x)
    assert_forward(lambda t: tg.tile(t, short), lambda a: np.tile(a, short), x)
    assert_gradients(lambda t: t.tile(short), x)


# ---------------------------------------------------------------------- joining
@st.composite
def joinable(draw, same=False):
    """A list of 1..3 arrays equal in shape except (unless ``same``) along one dim, and that dim."""
    base = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    d = draw(st.integers(0, len(base) - 1))
    k = draw(st.integers(1, 3))
    out = []
    for i in range(k):
        s = list(base)
        if not same:
            s[d] = draw(st.integers(0 if i else 1, 3))
        out.append(draw(arrays(shape=tuple(s))))
    return out, d


@given(joinable())
def test_cat_concat_concatenate(case):
    xs, d = case
    ref = lambda *a: np.concatenate(a, axis=d)  # noqa: E731
    assert_forward(lambda *t: tg.cat(t, d), ref, *xs)
    assert_forward(lambda *t: tg.cat(list(t), dim=d - xs[0].ndim), ref, *xs, dtype=np.float32)
    assert_forward(lambda *t: tg.concat(t, dim=d), ref, *xs)
    assert_forward(lambda *t: tg.concatenate(t, axis=d), ref, *xs)
    assert_gradients(lambda *t: tg.cat(t, d), *xs)


@given(joinable(same=True), st.data())
def test_stack(case, data):
    xs, _ = case
    d = data.draw(st.integers(-xs[0].ndim - 1, xs[0].ndim))
    assert_forward(lambda *t: tg.stack(t, d), lambda *a: np.stack(a, axis=d), *xs)
    assert_forward(lambda *t: tg.stack(list(t), dim=d), lambda *a: np.stack(a, axis=d), *xs, dtype=np.float32)
    assert_gradients(lambda *t: tg.stack(t, dim=d), *xs)


@given(st.sampled_from([[(3,), (2,)], [(2, 3), (2, 1)], [(), (2,)], [(2, 2, 1), (2, 1, 1)]]))
def test_hstack_vstack(shape_list):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s) for s in shape_list]
    assert_forward(lambda *t: tg.hstack(t), lambda *a: np.hstack(a), *xs)
    assert_gradients(lambda *t: tg.hstack(t), *xs)
    vs = [rng.standard_normal(s) for s in [(3,), (2, 3)]]
    assert_forward(lambda *t: tg.vstack(t), lambda *a: np.vstack(a), *vs)
    assert_gradients(lambda *t: tg.vstack(t), *vs)


def test_cat_and_stack_promote_dtypes_like_pytorch():
    f32, f64 = tg.zeros(2, dtype=tg.float32), tg.zeros(2, dtype=tg.float64)
    i64, b = tg.zeros(2, dtype=tg.int64), tg.zeros(2, dtype=tg.bool)
    assert tg.cat([f32, f64]).dtype == tg.float64
    assert tg.cat([i64, f32]).dtype == tg.float32
    assert tg.cat([b, i64]).dtype == tg.int64
    assert tg.stack([i64, f32, f64]).dtype == tg.float64
    assert tg.cat([f32, f32]).dtype == tg.float32
    x = tg.ones(2, dtype=tg.float32, requires_grad=True)
    tg.cat([x, f64]).sum().backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_cat_skips_empty_1d_tensors_like_pytorch():
    x = tg.ones(2, 3, requires_grad=True)
    out = tg.cat([x, tg.zeros(0), x], 0)
    assert out.shape == (4, 3)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


DTYPE_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _join_dtype(names):
    """PyTorch's dtype of joining dimensioned tensors, written out: the highest category (bool < integer <
    floating) wins, then numpy's promotion among the dtypes of that category (PyTorch's table agrees there)."""
    dts = [np.dtype(n) for n in names]
    category = lambda d: {"b": 0, "f": 2}.get(d.kind, 1)  # noqa: E731
    top = max(category(d) for d in dts)
    out = dts[0] if category(dts[0]) == top else None
    for d in dts:
        if category(d) == top:
            out = d if out is None else np.promote_types(out, d)
    return out


@st.composite
def cat_inputs(draw):
    """Tensors to cat along dim ``d``: random dtypes, some legacy empty 1-d tensors (shape (0,)) among them."""
    base = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    d = draw(st.integers(0, len(base) - 1))
    items = []
    for k in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(DTYPE_NAMES))
        if draw(st.integers(0, 3)) == 0:
            shape = (0,)
        else:
            shape = base[:d] + (draw(st.integers(0, 3)),) + base[d + 1:]
        values = (np.arange(int(np.prod(shape))).reshape(shape) % 3 + k).astype(name)
        items.append((values, name, name.startswith("float") and draw(st.booleans())))
    return items, d


@given(cat_inputs())
@example(([(np.array([3]), "int64", False), (np.zeros(0, np.float32), "float32", False)], 0))  # issue 9
@example(([(np.ones((2, 3)), "float32", True), (np.zeros(0), "float64", True)], 1))
@example(([(np.zeros(0), "float16", True), (np.zeros(0, np.int64), "int64", False)], 0))
@example(([(np.array([[1]]), "int64", False), (np.zeros(0), "float32", True)], 1))
def test_cat_promotes_and_skips_legacy_empty_tensors_like_pytorch(case):
    items, d = case
    xs = [tg.tensor(v, dtype=getattr(tg, name), requires_grad=rg) for v, name, rg in items]
    out = tg.cat(xs, d)
    dtype = _join_dtype([name for _, name, _ in items])
    kept = [v for v, _, _ in items if v.shape != (0,)]
    want = np.concatenate(kept, axis=d).astype(dtype) if kept else np.zeros(0, dtype)
    assert out.dtype == dtype and out.shape == want.shape
    np.testing.assert_array_equal(out.numpy(force=True), want)
    assert out.requires_grad == any(rg for _, _, rg in items)  # skipped tensors too, as PyTorch
    if out.requires_grad:
        weights = np.arange(out.numel(), dtype=np.float64).reshape(out.shape)
        (out * tg.tensor(weights, dtype=out.dtype)).sum().backward()
        start = 0
        for x, (v, name, rg) in zip(xs, items):
            if v.shape == (0,):
                assert x.grad is None if not rg else (x.grad.shape == (0,) and x.grad.dtype == x.dtype)
                continue
            part = np.take(weights, range(start, start + v.shape[d]), axis=d)
            start += v.shape[d]
            if rg:
                np.testing.assert_array_equal(x.grad.numpy(), part.astype(name))


@given(cat_inputs())
@example(([(np.array([3]), "int64", False), (np.zeros(0, np.float32), "float32", False)], 0))
def test_cat_of_legacy_empty_tensors_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    items, d = case
    results = []
    for L in (torch, tg):
        xs = [L.tensor(v, dtype=getattr(L, name), requires_grad=rg) for v, name, rg in items]
        out = L.cat(xs, d)
        grads = []
        if out.requires_grad:
            out.double().sum().backward()
            grads = [None if x.grad is None else x.grad.numpy() for x in xs]
        results.append((str(out.dtype).split(".")[-1], out.detach().numpy(), out.requires_grad, grads))
    (td, tv, tr, tgr), (gd, gv, gr, ggr) = results
    assert (td, tr) == (gd, gr)
    np.testing.assert_array_equal(gv, tv)
    for a, b in zip(tgr, ggr, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.shape == b.shape
            np.testing.assert_array_equal(b, a)


@given(st.lists(st.sampled_from(DTYPE_NAMES), min_size=1, max_size=4), st.sampled_from([(), (2,), (1, 2)]))
@example(["float32", "int64", "float64"], ())  # issue 9: 0-d tensors are not weak in stack
@example(["int8", "int64"], ())
def test_stack_hstack_vstack_promote_every_input_like_pytorch(names, shape):
    xs = [tg.ones(shape, dtype=getattr(tg, n)) for n in names]
    dtype = _join_dtype(names)
    for op in (tg.stack, tg.hstack, tg.vstack):
        assert op(xs).dtype == dtype, op.__name__
    assert tg.cat([x.reshape(-1) for x in xs]).dtype == dtype


def test_stack_hstack_vstack_dtypes_match_pytorch():
    torch = pytest.importorskip("torch")
    for names in (["float32", "int64", "float64"], ["int8", "int64"], ["bool", "uint8", "int8"],
                  ["float16", "int64", "bool"], ["uint8", "float16", "float32"]):
        for shape in ((), (2,), (1, 2)):
            for op in ("stack", "hstack", "vstack"):
                got = getattr(tg, op)([tg.ones(shape, dtype=getattr(tg, n)) for n in names]).dtype
                want = getattr(torch, op)([torch.ones(shape, dtype=getattr(torch, n)) for n in names]).dtype
                assert str(got) == str(want).split(".")[-1], (op, names, shape)


# ---------------------------------------------------------------------- pieces
@given(st.data())
def test_split(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, max_dims=3, max_side=5)))
    d = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[d]
    size = data.draw(st.integers(1, n + 1))
    cuts = list(range(size, n, size))
    pieces = tg.tensor(x).split(size, d)
    assert len(pieces) == len(np.split(x, cuts, axis=d))
    for p, want in zip(pieces, np.split(x, cuts, axis=d), strict=True):
        np.testing.assert_array_equal(p.numpy(), want)
    assert_gradients(lambda t: t.split(size, d), x)
    sizes = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3).filter(lambda s: sum(s) <= n))
    sizes = sizes + [n - sum(sizes)]
    pieces = tg.split(tg.tensor(x), sizes, dim=d)
    for p, want in zip(pieces, np.split(x, np.cumsum(sizes)[:-1], axis=d), strict=True):
        np.testing.assert_array_equal(p.numpy(), want)
    assert_gradients(lambda t: tg.split(t, sizes, d), x)


@given(arrays(shape=shapes(min_dims=1, max_dims=3, min_side=0, max_side=5)), st.integers(0, 2), st.integers(1, 6))
@example(np.zeros(0), 0, 4)  # issue 9: PyTorch gives 4 empty chunks, not 1
@example(np.zeros((2, 0)), 1, 3)
@example(np.zeros((3, 2)), 0, 4)  # fewer chunks than asked
def test_chunk(x, d, chunks):
    d %= x.ndim
    n = x.shape[d]
    if n == 0:  # an empty dim: `chunks` empty pieces (PyTorch's split_with_sizes of zeros)
        want = [x] * chunks
    else:
        size = -(-n // chunks)
        pieces = x.swapaxes(0, d)
        want = [pieces[i:i + size].swapaxes(0, d) for i in range(0, n, size)]
    got = tg.tensor(x).chunk(chunks, d)
    assert len(got) == len(want) <= chunks
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g.numpy(), w)
    assert_gradients(lambda t: tg.chunk(t, chunks, dim=d), x)


@given(st.data())
def test_unbind_and_select(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, max_dims=3)))
    d = data.draw(st.integers(-x.ndim, x.ndim - 1))
    got = tg.tensor(x).unbind(d)
    want = [np.take(x, i, axis=d) for i in range(x.shape[d])]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
    assert_gradients(lambda t: tg.unbind(t, d), x)
    i = data.draw(st.integers(-x.shape[d], x.shape[d] - 1))
    assert_forward(lambda t: t.select(d, i), lambda a: np.take(a, i, axis=d), x)
    assert_gradients(lambda t: tg.select(t, d, i), x)


@given(st.data())
def test_narrow(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, max_dims=3, max_side=5)))
    d = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[d]
    start = data.draw(st.integers(-n, n))
    s = start + n if start < 0 else start
    length = data.draw(st.integers(0, n - s))
    ref = lambda a: np.take(a, range(s, s + length), axis=d)  # noqa: E731
    assert_forward(lambda t: t.narrow(d, start, length), ref, x)
    assert_forward(lambda t: tg.narrow(t, d, tg.tensor(start), length), ref, x, dtype=np.float32)
    assert_gradients(lambda t: t.narrow(d, start, length), x)


@given(st.data())
def test_tensor_split(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, max_dims=3, max_side=5)))
    d = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[d]
    sections = data.draw(st.integers(1, 6))
    got = tg.tensor(x).tensor_split(sections, d)
    want = np.array_split(x, sections, axis=d)  # numpy's array_split is PyTorch's tensor_split(sections)
    assert len(got) == sections
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
    assert_gradients(lambda t: t.tensor_split(sections, d), x)
    cuts = data.draw(st.lists(st.integers(-n - 2, n + 2), max_size=3))
    want = [x[(slice(None),) * (d % x.ndim) + (slice(a, b),)] for a, b in zip([0] + cuts, cuts + [None])]
    for form in (lambda t: tg.tensor_split(t, cuts, dim=d), lambda t: t.tensor_split(tuple(cuts), d),
                 lambda t: t.tensor_split(indices=cuts, dim=d),
                 lambda t: t.tensor_split(tg.tensor(cuts, dtype=tg.int64), d)):
        got = form(tg.tensor(x))
        assert len(got) == len(cuts) + 1
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.numpy(), w)
    assert_gradients(lambda t: tg.tensor_split(t, cuts, d), x)


@given(st.data())
def test_unfold(data):
    x = data.draw(arrays(shape=shapes(max_dims=3, max_side=5)))
    d = data.draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1))
    n = x.shape[d] if x.ndim else 1
    size = data.draw(st.integers(0, n))
    step = data.draw(st.integers(1, 4))

    def ref(a):
        if a.ndim == 0:
            return a.reshape(1)[:size]
        windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=d % a.ndim)
        return windows[(slice(None),) * (d % a.ndim) + (slice(None, None, step),)]

    assert_forward(lambda t: t.unfold(d, size, step), ref, x)
    assert_forward(lambda t: t.unfold(dimension=d, size=size, step=step), ref, x, dtype=np.float32)
    assert_gradients(lambda t: t.unfold(d, size, step), x)  # overlapping windows add up


def test_pieces_are_views():
    x = tg.arange(12.0).reshape(3, 4)
    a, b = x.split([1, 3], dim=1)
    row = x.unbind(0)[1]
    with tg.no_grad():
        x.fill_(0)
    assert a.sum().item() == b.sum().item() == row.sum().item() == 0.0
    assert x.narrow(1, 1, 2)._data.base is not None and x.chunk(2)[0]._data.base is not None
    assert np.shares_memory(x.tensor_split(2, 1)[1].numpy(), x.numpy())
    assert np.shares_memory(x.unfold(1, 2, 1).numpy(), x.numpy())


# ---------------------------------------------------------------------- rearranging values
@given(st.data())
def test_flip_fliplr_flipud(data):
    x = data.draw(arrays(shape=shapes(max_dims=3)))
    dims = tuple(data.draw(st.lists(st.integers(0, max(x.ndim - 1, 0)), unique=True, max_size=x.ndim)))
    assert_forward(lambda t: t.flip(*dims) if dims else t.flip(()), lambda a: np.flip(a, dims), x)
    assert_forward(lambda t: tg.flip(t, dims), lambda a: np.flip(a, dims), x, dtype=np.float32)
    assert_gradients(lambda t: t.flip(dims), x)
    if x.ndim >= 2:
        assert_forward(lambda t: t.fliplr(), np.fliplr, x)
        assert_gradients(lambda t: tg.fliplr(t), x)
    if x.ndim >= 1:
        assert_forward(lambda t: t.flipud(), np.flipud, x)
        assert_gradients(lambda t: tg.flipud(t), x)


def test_flip_copies_like_pytorch():
    x = tg.arange(4.0)
    f = x.flip(0)
    assert f.is_contiguous() and f.view(2, 2).shape == (2, 2)
    with tg.no_grad():
        x[0] = 9.0
    assert f[3].item() == 0.0


@given(st.data())
def test_roll(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, max_dims=3)))
    k = data.draw(st.integers(1, x.ndim))
    dims = tuple(data.draw(st.permutations(range(x.ndim)))[:k])
    shifts = tuple(data.draw(st.lists(st.integers(-5, 5), min_size=k, max_size=k)))
    assert_forward(lambda t: t.roll(shifts, dims), lambda a: np.roll(a, shifts, dims), x)
    assert_gradients(lambda t: tg.roll(t, shifts, dims), x)
    assert_forward(lambda t: tg.roll(t, shifts[0]), lambda a: np.roll(a, shifts[0]), x)
    assert_gradients(lambda t: t.roll(shifts[0]), x)
    assert_forward(lambda t: t.roll(shifts[0], dims[0]), lambda a: np.roll(a, shifts[0], dims[0]), x)


@given(arrays(shape=shapes(min_dims=2, max_dims=3)), st.integers(-4, 4))
def test_tril_triu(x, k):
    assert_forward(lambda t: t.tril(k), lambda a: np.tril(a, k), x)
    assert_forward(lambda t: tg.triu(t, diagonal=k), lambda a: np.triu(a, k), x, dtype=np.float32)
    assert_gradients(lambda t: tg.tril(t, k), x)
    assert_gradients(lambda t: t.triu(k), x)


@given(st.data())
def test_diagonal(data):
    x = data.draw(arrays(shape=shapes(min_dims=2, max_dims=3)))
    d1, d2 = data.draw(st.permutations(range(x.ndim)))[:2]
    off = data.draw(st.integers(-4, 4))
    ref = lambda a: np.diagonal(a, off, d1, d2)  # noqa: E731
    assert_forward(lambda t: t.diagonal(off, d1, d2), ref, x)
    assert_forward(lambda t: tg.diagonal(t, offset=off, dim1=d1 - x.ndim, dim2=d2), ref, x, dtype=np.float32)
    assert_gradients(lambda t: t.diagonal(off, d1, d2), x)


@given(st.data())
def test_diag(data):
    k = data.draw(st.integers(-3, 3))
    v = data.draw(arrays(shape=shapes(min_dims=1, max_dims=1)))
    assert_forward(lambda t: tg.diag(t, k), lambda a: np.diag(a, k), v)
    assert_gradients(lambda t: t.diag(k), v)
    m = data.draw(arrays(shape=shapes(min_dims=2, max_dims=2)))
    assert_forward(lambda t: tg.diag(t, k), lambda a: np.diag(a, k), m)
    assert_gradients(lambda t: t.diag(k), m)


# ---------------------------------------------------------------------- dtypes
SHAPE_OPS = {
    "reshape": lambda t: t.reshape(-1),
    "view": lambda t: t.view(4, 6),
    "flatten": lambda t: t.flatten(1),
    "unflatten": lambda t: t.unflatten(2, (2, 2)),
    "squeeze": lambda t: t[:1].squeeze(0),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "transpose": lambda t: t.transpose(0, 2),
    "permute": lambda t: t.permute(1, 2, 0),
    "T": lambda t: t.T,
    "mT": lambda t: t.mT,
    "movedim": lambda t: t.movedim(0, -1),
    "expand": lambda t: t[:, :1].expand(2, 3, 4),
    "repeat": lambda t: t.repeat(1, 2, 1),
    "tile": lambda t: t.tile((2,)),
    "cat": lambda t: tg.cat([t, t], 1),
    "stack": lambda t: tg.stack([t, t], 1),
    "split": lambda t: t.split(2, 2)[1],
    "chunk": lambda t: t.chunk(2, 2)[0],
    "unbind": lambda t: t.unbind(1)[2],
    "select": lambda t: t.select(1, 0),
    "narrow": lambda t: t.narrow(2, 1, 2),
    "tensor_split": lambda t: t.tensor_split(2, 2)[1],
    "unfold": lambda t: t.unfold(2, 2, 1),
    "flip": lambda t: t.flip(0, 1),
    "roll": lambda t: t.roll(1, 2),
    "tril": lambda t: t.tril(),
    "triu": lambda t: t.triu(),
    "diagonal": lambda t: t.diagonal(0, 1, 2),
    "diag": lambda t: t[0].diag(),
    "contiguous": lambda t: t.mT.contiguous(),
    "hstack": lambda t: tg.hstack([t, t]),
    "vstack": lambda t: tg.vstack([t, t]),
    "view_as": lambda t: t.view_as(tg.zeros(6, 4)),
    "reshape_as": lambda t: t.reshape_as(tg.zeros(4, 6)),
    "swapaxes": lambda t: t.swapaxes(0, 1),
    "swapdims": lambda t: tg.swapdims(t, 1, 2),
    "t": lambda t: t[0].t(),
    "adjoint": lambda t: t.adjoint(),
    "mH": lambda t: t.mH,
    "H": lambda t: t[0].H,
    "moveaxis": lambda t: tg.moveaxis(t, (0, 1), (1, 2)),
    "expand_as": lambda t: t[:, :1].expand_as(t),
    "broadcast_to": lambda t: t.broadcast_to((2, 2, 3, 4)),
    "broadcast_tensors": lambda t: tg.broadcast_tensors(t, tg.zeros(4))[0],
    "concat": lambda t: tg.concat([t, t], dim=-1),
    "concatenate": lambda t: tg.concatenate([t, t], axis=0),
    "fliplr": lambda t: t.fliplr(),
    "flipud": lambda t: tg.flipud(t),
    "meshgrid": lambda t: tg.meshgrid(t[0, 0], t[1, 1], indexing="xy")[1],
}


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_dtypes_are_kept_forward_and_backward(name, dtype):
    x = tg.randn(2, 3, 4, dtype=dtype, requires_grad=True)
    out = SHAPE_OPS[name](x)
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_integer_and_bool_tensors_pass_through(name):
    x = tg.arange(24).reshape(2, 3, 4)
    assert SHAPE_OPS[name](x).dtype == tg.int64
    assert SHAPE_OPS[name](x > 5).dtype == tg.bool


# ---------------------------------------------------------------------- edge cases
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_values_pass_through_with_exact_gradients(dtype):
    info = np.finfo(dtype)
    vals = np.array([[info.max, -info.max, info.tiny], [np.inf, -np.inf, 0.0]], dtype=dtype)
    x = tg.tensor(vals, requires_grad=True)
    outs = [x.T.reshape(-1), tg.cat([x, x.flip(0)], 1), x.roll(1, 1), x.repeat(2, 1), x.expand(3, 2, 3),
            x.tril(), tg.stack(x.unbind(1)), x.diagonal()]
    np.testing.assert_array_equal(outs[0].detach().numpy(), vals.T.ravel())
    np.testing.assert_array_equal(outs[1].detach().numpy(), np.concatenate([vals, vals[::-1]], 1))
    for o in outs:
        assert o.dtype == dtype
        o.backward(tg.ones(o.shape, dtype=o.dtype))
    g = x.grad.numpy()
    assert np.isfinite(g).all() and g.dtype == dtype
    # each element once in 5 outputs, twice in cat and repeat, 3 times in expand; plus tril and diagonal
    np.testing.assert_array_equal(g, [[12, 10, 10], [11, 12, 10]])


def test_zero_size_tensors():
    x = tg.zeros(0, 3, requires_grad=True)
    assert x.reshape(3, 0).shape == (3, 0) and x.view(-1, 3).shape == (0, 3)
    out = tg.cat([x, tg.ones(2, 3)])
    assert out.shape == (2, 3)
    pieces = tg.ones(2, 0).split(1, 1)
    assert len(pieces) == 1 and pieces[0].shape == (2, 0)
    assert tg.stack([x, x]).shape == (2, 0, 3)
    (tg.stack([x, x]).sum() + x.T.sum() + x.repeat(2, 2).sum()).backward()
    assert x.grad.shape == (0, 3)


def test_zero_dim_tensors():
    s = tg.tensor(5.0, requires_grad=True)
    assert s.reshape(1, 1).shape == (1, 1) and s.flatten().shape == (1,) and s.unsqueeze(0).shape == (1,)
    assert s.squeeze().shape == () and s.squeeze(0).shape == () and s.T.shape == () and s.t().shape == ()
    assert s.transpose(0, -1).shape == () and s.expand(2, 3).shape == (2, 3) and s.movedim(0, 0).shape == ()
    assert tg.stack([s, s]).shape == (2,) and s.repeat(3).shape == (3,) and s.flip(0).shape == ()
    (s.expand(2, 3).sum() + tg.stack([s, s]).sum() + s.repeat(3).sum() + s.flatten().sum()).backward()
    assert s.grad.item() == 6 + 2 + 3 + 1


# ---------------------------------------------------------------------- bad input
BAD = [
    (lambda: tg.zeros(2, 3).reshape(4, 2),
     RuntimeError, r"reshape: shape \[4, 2\] is invalid for input of size 6"),
    (lambda: tg.zeros(2, 3).reshape(-1, -1),
     RuntimeError, r"reshape: only one dimension can be inferred"),
    (lambda: tg.zeros(2, 3).reshape(2, -3),
     RuntimeError, r"reshape: invalid size -3 at index 1"),
    (lambda: tg.zeros(2, 3).reshape(2.0, 3),
     TypeError, r"reshape: sizes must be ints, got float 2.0"),
    (lambda: tg.zeros(2, 3).view(5, -1),
     RuntimeError, r"view: shape \[5, -1\] is invalid for input of size 6"),
    (lambda: tg.zeros(2, 3).flatten(1, 0),
     RuntimeError, r"flatten: start_dim 1 cannot come after end_dim 0"),
    (lambda: tg.zeros(2, 3).flatten(0, 2),
     IndexError, r"flatten: dim 2 is out of range .* 2 dimension"),
    (lambda: tg.zeros(2, 6).unflatten(1, (4, -1)),
     RuntimeError, r"unflatten: sizes \[4, -1\] .* dim 1 \(6\)"),
    (lambda: tg.zeros(2, 6).unflatten(1, (2, 2)),
     RuntimeError, r"unflatten: sizes \[2, 2\]"),
    (lambda: tg.zeros(2, 6).unflatten(1, ()),
     RuntimeError, r"unflatten: sizes must be non-empty"),
    (lambda: tg.zeros(2, 3).unsqueeze(3),
     IndexError, r"unsqueeze: dim 3 is out of range .*-3 to 2"),
    (lambda: tg.zeros(1, 3).squeeze(2),
     IndexError, r"squeeze: dim 2 is out of range"),
    (lambda: tg.zeros(1, 3).squeeze((0, 0)),
     RuntimeError, r"squeeze: dims \(0, 0\) name a dimension more"),
    (lambda: tg.zeros(2, 3).transpose(0, 2),
     IndexError, r"transpose: dim 2 is out of range"),
    (lambda: tg.zeros(2, 3).transpose(0.0, 1),
     TypeError, r"transpose: dim must be an int, got float"),
    (lambda: tg.zeros(2, 3, 4).permute(0, 1),
     RuntimeError, r"permute: the number of dims 2 .* 3 dimensions"),
    (lambda: tg.zeros(2, 3, 4).permute(0, 1, 1),
     RuntimeError, r"permute: dims \(0, 1, 1\) name a dimension"),
    (lambda: tg.zeros(2, 3, 4).t(),
     RuntimeError, r"t: expects a tensor with <= 2 dimensions, got 3"),
    (lambda: tg.zeros(3).mT,
     RuntimeError, r"mT: only supported on matrices .* 1 dimension"),
    (lambda: tg.zeros(3).H,
     RuntimeError, r"H: only supported on matrices"),
    (lambda: tg.zeros(3).mH,
     RuntimeError, r"mH: only supported on matrices or batches of matrices, got a tensor of 1 dimension"),
    (lambda: tg.zeros(3).adjoint(),
     RuntimeError, r"adjoint: only supported on matrices or batches of matrices, got a tensor of 1 dimension"),
    (lambda: tg.zeros(2, 2, 2).H,
     RuntimeError, r"H: only supported on matrices \(2-D tensors\), got a tensor of 3 dimension\(s\); for batches of "
                   r"matrices use mH"),
    (lambda: tg.zeros(2, 3).movedim((0, 1), (1,)),
     RuntimeError, r"movedim: source \(0, 1\) and destination"),
    (lambda: tg.zeros(2, 3).movedim((0, 0), (1, 0)),
     RuntimeError, r"movedim: dims \(0, 0\) name a dimension"),
    (lambda: tg.zeros(3, 4).expand(3, 5),
     RuntimeError, r"expand: the expanded size \[3, 5\] must match the existing size \[3, 4\]"),
    (lambda: tg.zeros(3, 4).expand(4),
     RuntimeError, r"expand: the number of sizes provided \(1\)"),
    (lambda: tg.zeros(3, 4).expand(-1, 3, 4),
     RuntimeError, r"expand: sizes \[-1, 3, 4\] must be non-negative in the new leading"),
    (lambda: tg.zeros(3, 4).expand(3, -2),
     RuntimeError, r"expand: the expanded size \[3, -2\]"),
    (lambda: tg.broadcast_shapes((2, 3), (4,)),
     RuntimeError, r"broadcast_shapes: shapes \(2, 3\), \(4,\) cannot"),
    (lambda: tg.zeros(3, 4).repeat(2),
     RuntimeError, r"repeat: the number of repeat dims \(1, \[2\]\) can not"),
    (lambda: tg.zeros(3, 4).repeat(-1, 1),
     RuntimeError, r"repeat: repeats must be non-negative, got \[-1, 1\]"),
    (lambda: tg.cat([tg.zeros(2, 3), tg.zeros(2)]),
     RuntimeError, r"cat: tensors must have the same number of dimensions: tensor 0 has shape \(2, 3\) but "
                   r"tensor 1 has shape \(2,\)"),
    (lambda: tg.cat([tg.zeros(2, 3), tg.zeros(2, 4)]),
     RuntimeError, r"cat: sizes of tensors must match except in dimension 0: tensor 0 has shape \(2, 3\) "
                   r"but tensor 1 has shape \(2, 4\) \(sizes 3 and 4 differ in dimension 1\)"),
    (lambda: tg.cat([tg.zeros(2, 3)], 2),
     IndexError, r"cat: dim 2 is out of range"),
    (lambda: tg.cat([]),
     ValueError, r"cat: expected a non-empty list of tensors"),
    (lambda: tg.cat(tg.zeros(2, 3)),
     TypeError, r"cat: expected a sequence of tensors, got a single Tensor"),
    (lambda: tg.cat([tg.zeros(2), 1.0]),
     TypeError, r"cat: .* item 1 is float"),
    (lambda: tg.cat([tg.zeros(2), tg.tensor(1.0)]),
     RuntimeError, r"cat: zero-dimensional tensor \(at position 1\)"),
    (lambda: tg.stack([tg.zeros(2, 3), tg.zeros(3, 2)]),
     RuntimeError, r"stack: expects each tensor to be of equal size, but got \(2, 3\) at entry 0 and \(3, "
                   r"2\) at entry 1"),
    (lambda: tg.stack([tg.zeros(2)], 2),
     IndexError, r"stack: dim 2 is out of range"),
    (lambda: tg.stack([]),
     ValueError, r"stack: expected a non-empty list"),
    (lambda: tg.zeros(5).split([2, 2]),
     RuntimeError, r"split: split sizes \[2, 2\] must be non-negative and sum exactly to 5"),
    (lambda: tg.zeros(5).split(0),
     RuntimeError, r"split: split_size must be positive .* got 0 for dimension 0 of size 5"),
    (lambda: tg.zeros(5).chunk(0),
     RuntimeError, r"chunk: expects `chunks` to be greater than 0, got 0"),
    (lambda: tg.tensor(1.0).unbind(),
     RuntimeError, r"unbind: a 0-d tensor cannot be unbound"),
    (lambda: tg.zeros(2, 3).select(1, 3),
     IndexError, r"select: index 3 is out of range for dimension 1 of size 3"),
    (lambda: tg.zeros(2, 3).select(1, -4),
     IndexError, r"select: index -4 is out of range"),
    (lambda: tg.zeros(2, 3).narrow(1, 2, 2),
     RuntimeError, r"narrow: start \(2\) \+ length \(2\) exceeds dimension 1 of size 3"),
    (lambda: tg.zeros(2, 3).narrow(1, 5, 1),
     IndexError, r"narrow: start 5 is out of range for dimension 1 of size 3"),
    (lambda: tg.zeros(2, 3).flip(0, 0),
     RuntimeError, r"flip: dims \(0, 0\) name a dimension more than once"),
    (lambda: tg.zeros(2, 3).flip(2),
     IndexError, r"flip: dim 2 is out of range"),
    (lambda: tg.zeros(3).fliplr(),
     RuntimeError, r"fliplr: input must be >= 2-d, got shape \(3,\)"),
    (lambda: tg.zeros(2, 3).roll((1, 2), 0),
     RuntimeError, r"roll: shifts and dims must align: got 2 shift\(s\)"),
    (lambda: tg.zeros(2, 3).roll((1, 2)),
     RuntimeError, r"roll: shifts \[1, 2\] need dims of the same length"),
    (lambda: tg.zeros(2, 3).roll((), ()),
     RuntimeError, r"roll: `shifts` required"),
    (lambda: tg.zeros(2, 3).roll(1, 2),
     IndexError, r"roll: dim 2 is out of range"),
    (lambda: tg.zeros(3).tril(),
     RuntimeError, r"tril: input tensor must have at least 2 dimensions, got shape"),
    (lambda: tg.zeros(3).triu(),
     RuntimeError, r"triu: input tensor must have at least 2 dimensions"),
    (lambda: tg.zeros(3, 3).diagonal(0, 1, 1),
     RuntimeError, r"diagonal: dim1 and dim2 cannot be identical"),
    (lambda: tg.zeros(3, 3).diagonal(0, 0, 2),
     IndexError, r"diagonal: dim 2 is out of range"),
    (lambda: tg.zeros(2, 2, 2).diag(),
     RuntimeError, r"diag: supports 1-d or 2-d tensors, got shape \(2, 2, 2\)"),
    (lambda: tg.cat([tg.zeros(2)], out=tg.zeros(2)),
     TypeError, r"cat: out= is not supported"),
    (lambda: tg.meshgrid(tg.zeros(2), tg.zeros(2, 2)),
     RuntimeError, r"meshgrid: expected 0-d or 1-d tensors, got shape \(2, 2\) at position 1"),
    (lambda: tg.meshgrid(tg.zeros(2), tg.zeros(2, dtype=tg.float64)),
     RuntimeError, r"meshgrid: expected all tensors to have the same dtype, got float32 at position 0 and "
                   r"float64 at position 1"),
    (lambda: tg.meshgrid(tg.zeros(2), indexing="ji"),
     ValueError, r"meshgrid: indexing must be 'ij' or 'xy', got 'ji'"),
    (lambda: tg.meshgrid(),
     RuntimeError, r"meshgrid: expected a non-empty list of tensors"),
    (lambda: tg.meshgrid(tg.zeros(2), [1.0, 2.0]),
     TypeError, r"meshgrid: expected tensors, got list at position 1"),
    (lambda: tg.zeros(2, 3).permute(1, 0, dims=(1, 0)),
     TypeError, r"permute: got dims both as positional arguments \(1, 0\) and as dims=\(1, 0\)"),
    (lambda: tg.zeros(2, 3).flip(0, dims=[0]),
     TypeError, r"flip: got dims both as positional arguments"),
    (lambda: tg.zeros(2, 3).repeat(1, 2, repeats=(1, 2)),
     TypeError, r"repeat: got repeats both as positional arguments"),
    (lambda: tg.arange(3.0).unfold(0, 4, 1),
     RuntimeError, r"unfold: maximum size for tensor at dimension 0 is 3 but size is 4"),
    (lambda: tg.tensor(1.0).unfold(0, 2, 1),
     RuntimeError, r"unfold: maximum size for tensor at dimension 0 is 1 but size is 2"),
    (lambda: tg.arange(3.0).unfold(0, 2, 0),
     RuntimeError, r"unfold: step is 0 but must be > 0"),
    (lambda: tg.arange(3.0).unfold(0, -1, 1),
     RuntimeError, r"unfold: size is -1 but must be >= 0"),
    (lambda: tg.arange(3.0).unfold(1, 1, 1),
     IndexError, r"unfold: dim 1 is out of range"),
    (lambda: tg.arange(3.0).unfold(0, 2.0, 1),
     TypeError, r"unfold: size must be an int, got float"),
    (lambda: tg.zeros(7).tensor_split(0),
     RuntimeError, r"tensor_split: number of sections must be larger than 0, got 0"),
    (lambda: tg.tensor(1.0).tensor_split(1),
     RuntimeError, r"tensor_split: expected at least a 1-dimensional tensor"),
    (lambda: tg.zeros(7).tensor_split(tg.tensor([[1]])),
     RuntimeError, r"tensor_split: expected tensor_indices_or_sections to be a zero-dimensional or one-dimensional"),
    (lambda: tg.zeros(7).tensor_split(tg.tensor([1.0])),
     RuntimeError, r"tensor_split: expected tensor_indices_or_sections to have dtype of int64, but got float32"),
    (lambda: tg.zeros(7).tensor_split(2, sections=2),
     TypeError, r"tensor_split: expected exactly one of indices_or_sections, sections"),
]


@pytest.mark.parametrize("fn, exc, pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_a_clear_error(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_expand_is_read_only_and_says_so():
    """As PyTorch's copy_ (MemoryOverlap.cpp's assert_no_internal_overlap): a write into a view whose elements
    share a memory location (a stride of 0) is refused; a selected element or row (apart) is written into the
    memory every element sharing it sees."""
    x = tg.zeros(3)
    e = x.expand(2, 3)
    with pytest.raises(RuntimeError, match=r"setitem: .* single memory location \(the tensor of shape \(2,\) is a "
                                           r"read-only view"):
        e[:, 0] = 1.0
    e[0, 0] = 1.0
    assert e.tolist() == [[1.0, 0.0, 0.0]] * 2 and x.tolist() == [1.0, 0.0, 0.0]


# ---------------------------------------------------------------------- higher order and jacobian
SECOND_ORDER = {
    "reshape": (lambda x: x.reshape(3, 2) ** 2, [(2, 3)]),
    "view": (lambda x: x.view(-1) ** 2, [(2, 3)]),
    "squeeze": (lambda x: x.squeeze(0) ** 2, [(1, 3)]),
    "unsqueeze": (lambda x: x.unsqueeze(1) ** 2, [(2, 3)]),
    "transpose": (lambda x: x.transpose(0, 1) ** 2, [(2, 3)]),
    "permute": (lambda x: x.permute(2, 0, 1) ** 2, [(2, 3, 2)]),
    "movedim": (lambda x: x.movedim(0, 2) ** 2, [(2, 3, 2)]),
    "expand": (lambda x: x.expand(2, 3, 4) ** 2, [(3, 1)]),
    "repeat": (lambda x: x.repeat(2, 3) ** 2, [(2, 2)]),
    "cat": (lambda x, y: tg.cat([x, y], 1) ** 2, [(2, 3), (2, 2)]),
    "stack": (lambda x, y: tg.stack([x, y], 1) ** 2, [(2, 3), (2, 3)]),
    "split": (lambda x: x.split(2, 1)[1] ** 2, [(2, 5)]),
    "unbind": (lambda x: x.unbind(1)[1] ** 2, [(2, 3)]),
    "narrow": (lambda x: x.narrow(1, 1, 2) ** 2, [(2, 4)]),
    "tensor_split": (lambda x: x.tensor_split([1, 3], 1)[1] ** 2, [(2, 4)]),
    "unfold": (lambda x: x.unfold(1, 3, 1) ** 2, [(2, 5)]),
    "flip": (lambda x: x.flip(0) ** 2, [(2, 3)]),
    "roll": (lambda x: x.roll(1, 1) ** 2, [(2, 3)]),
    "roll_flat": (lambda x: x.roll(2) ** 2, [(2, 3)]),
    "tril": (lambda x: x.tril() ** 2, [(3, 3)]),
    "triu": (lambda x: x.triu(1) ** 2, [(3, 3)]),
    "diagonal": (lambda x: x.diagonal(0, 1, 0) ** 2, [(3, 2)]),
    "diag": (lambda x: tg.diag(x, 1) ** 2, [(3,)]),
    "contiguous": (lambda x: x.t().contiguous() ** 2, [(2, 4)]),
    "flatten": (lambda x: x.flatten(1) ** 2, [(2, 2, 2)]),
    "unflatten": (lambda x: x.unflatten(1, (2, 2)) ** 2, [(2, 4)]),
    "T": (lambda x: x.T ** 2, [(2, 3, 2)]),
    "mT": (lambda x: x.mT ** 2, [(2, 3, 2)]),
    "t": (lambda x: x.t() ** 2, [(2, 3)]),
    "select": (lambda x: x.select(1, -1) ** 2, [(2, 3)]),
    "chunk": (lambda x: x.chunk(2, 1)[0] ** 2, [(2, 3)]),
    "tile": (lambda x: x.tile((2, 1, 2)) ** 2, [(2, 2)]),
    "expand_as": (lambda x: x.expand_as(tg.zeros(2, 3, 3)) ** 2, [(3, 1)]),
    "hstack": (lambda x, y: tg.hstack([x, y]) ** 2, [(2, 1), (2, 2)]),
    "meshgrid": (lambda x, y: tg.stack(tg.meshgrid(x, y, indexing="xy")) ** 2, [(2,), (3,)]),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_gradients(name):
    fn, in_shapes = SECOND_ORDER[name]
    rng = np.random.default_rng(1)
    xs = tuple(tg.tensor(rng.standard_normal(s), requires_grad=True) for s in in_shapes)
    assert gradgradcheck(fn, xs)


def test_tensor_xp_names_map_to_numpy_semantics():
    from tapegrad.autograd.xp import tensor_xp as xp

    a = np.arange(24.0).reshape(2, 3, 4)
    t = tg.tensor(a)
    checks = [
        (xp.broadcast_to(t[0, 0], (2, 4)), np.broadcast_to(a[0, 0], (2, 4))),
        (xp.broadcast_to(t[0, 0, :1], 3), np.broadcast_to(a[0, 0, :1], 3)),
        (xp.transpose(t), np.transpose(a)),
        (xp.transpose(t, (1, 2, 0)), np.transpose(a, (1, 2, 0))),
        (xp.swapaxes(t, 0, 2), np.swapaxes(a, 0, 2)),
        (xp.moveaxis(t, (0, 1), (2, 0)), np.moveaxis(a, (0, 1), (2, 0))),
        (xp.expand_dims(t, 1), np.expand_dims(a, 1)),
        (xp.expand_dims(t, (0, -1)), np.expand_dims(a, (0, -1))),
        (xp.squeeze(t[:1, :, :1]), np.squeeze(a[:1, :, :1])),
        (xp.squeeze(t[:1, :, :1], (0, 2)), np.squeeze(a[:1, :, :1], (0, 2))),
        (xp.reshape(t, (4, -1)), np.reshape(a, (4, -1))),
        (xp.concatenate([t, t], axis=1), np.concatenate([a, a], axis=1)),
        (xp.stack([t, t], axis=-1), np.stack([a, a], axis=-1)),
        (xp.take_along_axis(t, np.zeros((2, 1, 4), np.int64), 1),
         np.take_along_axis(a, np.zeros((2, 1, 4), int), 1)),
        (xp.flip(t, 1), np.flip(a, 1)),
        (xp.flip(t), np.flip(a)),
        (xp.flip(t, (0, 2)), np.flip(a, (0, 2))),
        (xp.roll(t, 2), np.roll(a, 2)),
        (xp.roll(t, (1, -1), axis=(0, 2)), np.roll(a, (1, -1), axis=(0, 2))),
        (xp.tril(t, k=-1), np.tril(a, k=-1)),
        (xp.triu(t), np.triu(a)),
        (xp.diagonal(t, offset=1, axis1=2, axis2=1), np.diagonal(a, offset=1, axis1=2, axis2=1)),
        (xp.repeat(t, 2, axis=1), np.repeat(a, 2, axis=1)),
        (xp.repeat(t, 3), np.repeat(a, 3)),
        (xp.tile(t, (2, 1)), np.tile(a, (2, 1))),
        (xp.take(t, [0, -1], axis=2), np.take(a, [0, -1], axis=2)),
        (xp.take(t, [[5, 23]]), np.take(a, [[5, 23]])),
        (xp.add_at((3, 4), (np.array([0, 0, 2]),), t[0]), _np_add_at((3, 4), (np.array([0, 0, 2]),), a[0])),
    ]
    for got, want in checks:
        assert tuple(got.shape) == want.shape
        np.testing.assert_array_equal(got.numpy(), want)
    for got, want in zip(xp.split(t, 2, axis=2), np.split(a, 2, axis=2), strict=True):
        np.testing.assert_array_equal(got.numpy(), want)
    for got, want in zip(xp.split(t, [1, 3], axis=2), np.split(a, [1, 3], axis=2), strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def _np_add_at(shape, index, values):
    out = np.zeros(shape)
    np.add.at(out, index, values)
    return out


def test_jacobian_uses_stack():
    from tapegrad.autograd.functional import hessian, jacobian

    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3))
    x = tg.tensor(rng.standard_normal(3), dtype=tg.float64)
    J = jacobian(lambda v: tg.tensor(a) @ (v * v), x)
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J.numpy(), a * 2 * x.numpy())
    J2 = jacobian(lambda v, w: tg.stack([v * w, v + w]), (x, x * 2))
    assert len(J2) == 2 and J2[0].shape == (2, 3, 3)
    np.testing.assert_allclose(J2[0].numpy()[1], np.eye(3))
    np.testing.assert_allclose(J2[0].numpy()[0], np.diag(2 * x.numpy()))
    H = hessian(lambda v: (v ** 3).sum(), x)
    np.testing.assert_allclose(H.numpy(), np.diag(6 * x.numpy()))


def test_docstring_examples():
    import doctest

    import tapegrad.ops.shape as module

    assert doctest.testmod(module).failed == 0


# ---------------------------------------------------------------------- against PyTorch (optional)
TORCH_CASES = {
    "reshape": (lambda L, x: x.reshape(4, -1), [(2, 3, 2)]),
    "flatten": (lambda L, x: x.flatten(1), [(2, 3, 2)]),
    "unflatten": (lambda L, x: x.unflatten(1, (3, -1)), [(2, 6)]),
    "movedim": (lambda L, x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)]),
    "repeat": (lambda L, x: x.repeat(2, 1, 3), [(3, 2)]),
    "tile": (lambda L, x: x.tile((2,)), [(3, 2)]),
    "cat": (lambda L, x, y: L.cat([x, y, x], 1), [(2, 3), (2, 1)]),
    "hstack": (lambda L, x, y: L.hstack([x, y]), [(2, 3), (2, 1)]),
    "vstack": (lambda L, x, y: L.vstack([x, y]), [(3,), (2, 3)]),
    "split": (lambda L, x: x.split(2, 1), [(2, 5)]),
    "chunk": (lambda L, x: x.chunk(3, 1), [(2, 5)]),
    "chunk_fewer": (lambda L, x: x.chunk(4, 0), [(6,)]),
    "chunk_empty": (lambda L, x: x.chunk(4, 1), [(2, 0)]),
    "roll": (lambda L, x: x.roll((1, -2), (0, 2)), [(2, 3, 4)]),
    "roll_flat": (lambda L, x: x.roll(5), [(2, 3, 4)]),
    "narrow": (lambda L, x: x.narrow(1, -2, 2), [(2, 3, 4)]),
    "tensor_split": (lambda L, x: x.tensor_split(3, 2), [(2, 3, 7)]),
    "tensor_split_indices": (lambda L, x: L.tensor_split(x, [-2, 1, 9], dim=1), [(2, 5)]),
    "unfold": (lambda L, x: x.unfold(1, 3, 2), [(2, 7, 3)]),
    "unfold_overlapping": (lambda L, x: x.unfold(-1, 3, 1), [(2, 5)]),
    "unfold_0d": (lambda L, x: x.unfold(0, 1, 4), [()]),
    "diagonal": (lambda L, x: x.diagonal(1, 2, 0), [(3, 2, 4)]),
    "diag": (lambda L, x: L.diag(x, -1), [(3,)]),
    "tril": (lambda L, x: x.tril(-1), [(2, 3, 4)]),
    "permute": (lambda L, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "expand": (lambda L, x: x.expand(2, 3, 4), [(3, 1)]),
    "unbind": (lambda L, x: x.unbind(1), [(2, 3)]),
    "stack": (lambda L, x, y: L.stack([x, y], 1), [(2, 3), (2, 3)]),
    "flip": (lambda L, x: x.flip(0, 2), [(2, 3, 4)]),
    "flip_dims": (lambda L, x: L.flip(x, dims=[0, 2]), [(2, 3, 4)]),
    "permute_dims": (lambda L, x: L.permute(x, dims=(2, 0, 1)), [(2, 3, 4)]),
    "meshgrid": (lambda L, x, y: L.meshgrid(x, y, indexing="xy"), [(3,), (2,)]),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    fn, in_shapes = TORCH_CASES[name]
    rng = np.random.default_rng(0)
    arrays_ = [rng.standard_normal(s) for s in in_shapes]
    results = []
    for lib in (torch, tg):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays_]
        out = fn(lib, *xs)
        outs = out if isinstance(out, tuple) else (out,)
        loss = sum((o * lib.tensor(np.arange(o.numel()).reshape(tuple(o.shape)) + 1.0)).sum() for o in outs)
        loss.backward()
        results.append(([o.detach().numpy() for o in outs], [x.grad.numpy() for x in xs]))
    (t_out, t_grad), (g_out, g_grad) = results
    assert len(t_out) == len(g_out)
    for a, b in zip(t_out + t_grad, g_out + g_grad, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-12)


# ---------------------------------------------------------------------- node names
NODE_NAMES = {  # op -> (call, PyTorch's node name); x is (2, 3, 4), m is (3, 3), v is (4,)
    "reshape": (lambda L, x, m, v: x.reshape(6, 4), "ViewBackward0"),
    "reshape_copy": (lambda L, x, m, v: x.transpose(0, 1).reshape(-1), "UnsafeViewBackward0"),
    "view": (lambda L, x, m, v: x.view(6, 4), "ViewBackward0"),
    "view_as": (lambda L, x, m, v: x.view_as(L.zeros(24)), "ViewBackward0"),
    "reshape_as": (lambda L, x, m, v: x.reshape_as(L.zeros(24)), "ViewBackward0"),
    "contiguous": (lambda L, x, m, v: x.transpose(0, 1).contiguous(), "CloneBackward0"),
    "flatten": (lambda L, x, m, v: x.flatten(), "ViewBackward0"),
    "flatten_copy": (lambda L, x, m, v: x.transpose(0, 1).flatten(), "UnsafeViewBackward0"),
    "unflatten": (lambda L, x, m, v: x.unflatten(2, (2, 2)), "ViewBackward0"),
    "unsqueeze": (lambda L, x, m, v: x.unsqueeze(0), "UnsqueezeBackward0"),
    "squeeze": (lambda L, x, m, v: x.unsqueeze(0).squeeze(), "SqueezeBackward0"),
    "squeeze_dim": (lambda L, x, m, v: x.unsqueeze(0).squeeze(0), "SqueezeBackward1"),
    "squeeze_dims": (lambda L, x, m, v: x.unsqueeze(0).squeeze((0,)), "SqueezeBackward2"),
    "transpose": (lambda L, x, m, v: x.transpose(0, 1), "TransposeBackward0"),
    "swapaxes": (lambda L, x, m, v: x.swapaxes(0, 1), "TransposeBackward0"),
    "swapdims": (lambda L, x, m, v: L.swapdims(x, 0, 1), "TransposeBackward0"),
    "permute": (lambda L, x, m, v: x.permute(2, 0, 1), "PermuteBackward0"),
    "T": (lambda L, x, m, v: m.T, "PermuteBackward0"),
    "mT": (lambda L, x, m, v: x.mT, "TransposeBackward0"),
    "mH": (lambda L, x, m, v: x.mH, "TransposeBackward0"),
    "H": (lambda L, x, m, v: m.H, "TransposeBackward0"),
    "adjoint": (lambda L, x, m, v: x.adjoint(), "TransposeBackward0"),
    "t": (lambda L, x, m, v: m.t(), "TBackward0"),
    "t_1d": (lambda L, x, m, v: v.t(), "TBackward0"),
    "movedim": (lambda L, x, m, v: x.movedim(0, -1), "PermuteBackward0"),
    "moveaxis": (lambda L, x, m, v: L.moveaxis(x, 0, -1), "PermuteBackward0"),
    "expand": (lambda L, x, m, v: v.expand(3, 4), "ExpandBackward0"),
    "expand_as": (lambda L, x, m, v: v.expand_as(x), "ExpandBackward0"),
    "broadcast_to": (lambda L, x, m, v: L.broadcast_to(v, (3, 4)), "ExpandBackward0"),
    "broadcast_tensors": (lambda L, x, m, v: L.broadcast_tensors(v, m[:, :1])[0], "ExpandBackward0"),
    "meshgrid": (lambda L, x, m, v: L.meshgrid(v, v, indexing="ij")[0], "ExpandBackward0"),
    "repeat": (lambda L, x, m, v: v.repeat(2, 2), "RepeatBackward0"),
    "tile": (lambda L, x, m, v: v.tile(2), "RepeatBackward0"),
    "cat": (lambda L, x, m, v: L.cat([v, v]), "CatBackward0"),
    "cat_one": (lambda L, x, m, v: L.cat([v]), "CatBackward0"),
    "concat": (lambda L, x, m, v: L.concat([m, m]), "CatBackward0"),
    "concatenate": (lambda L, x, m, v: L.concatenate([m, m], 1), "CatBackward0"),
    "stack": (lambda L, x, m, v: L.stack([v, v]), "StackBackward0"),
    "stack_one": (lambda L, x, m, v: L.stack([v]), "StackBackward0"),
    "hstack": (lambda L, x, m, v: L.hstack([v, v]), "CatBackward0"),
    "vstack": (lambda L, x, m, v: L.vstack([v, v]), "CatBackward0"),
    "split": (lambda L, x, m, v: v.split(2)[1], "SplitBackward0"),
    "split_sizes": (lambda L, x, m, v: v.split([1, 3])[0], "SplitWithSizesBackward0"),
    "chunk": (lambda L, x, m, v: v.chunk(2)[0], "SplitBackward0"),
    "unbind": (lambda L, x, m, v: m.unbind(0)[2], "UnbindBackward0"),
    "select": (lambda L, x, m, v: m.select(0, 1), "SelectBackward0"),
    "narrow": (lambda L, x, m, v: m.narrow(0, 1, 2), "SliceBackward0"),
    "tensor_split": (lambda L, x, m, v: v.tensor_split(3)[1], "SliceBackward0"),
    "unfold": (lambda L, x, m, v: v.unfold(0, 2, 1), "UnfoldBackward0"),
    "chunk_empty": (lambda L, x, m, v: v[:0].chunk(3)[2], "SplitWithSizesBackward0"),
    "flip": (lambda L, x, m, v: v.flip(0), "FlipBackward0"),
    "fliplr": (lambda L, x, m, v: m.fliplr(), "FlipBackward0"),
    "flipud": (lambda L, x, m, v: m.flipud(), "FlipBackward0"),
    "roll": (lambda L, x, m, v: v.roll(1), "RollBackward0"),
    "tril": (lambda L, x, m, v: m.tril(), "TrilBackward0"),
    "triu": (lambda L, x, m, v: m.triu(), "TriuBackward0"),
    "diagonal": (lambda L, x, m, v: m.diagonal(), "DiagonalBackward0"),
    "diag_matrix": (lambda L, x, m, v: L.diag(m), "DiagonalBackward0_copy"),
    "diag_vector": (lambda L, x, m, v: L.diag(v), "DiagEmbedBackward0"),
}


def _node_name_inputs(L):
    rng = np.random.default_rng(0)
    return [L.tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 3, 4), (3, 3), (4,)]]


@pytest.mark.parametrize("name", sorted(NODE_NAMES))
def test_node_names_are_pytorchs(name):
    fn, want = NODE_NAMES[name]
    assert fn(tg, *_node_name_inputs(tg)).grad_fn.name() == want


@pytest.mark.parametrize("name", sorted(NODE_NAMES))
def test_node_names_match_pytorch(name):
    torch = pytest.importorskip("torch")
    fn, want = NODE_NAMES[name]
    assert fn(torch, *_node_name_inputs(torch)).grad_fn.name() == want


# ---------------------------------------------------------------------- arguments PyTorch refuses (issue 9)
ZERO_D_DIMS = {  # op on a 0-d tensor s with dim d: valid exactly for d in (-1, 0), as every PyTorch op
    "transpose": lambda s, d: s.transpose(d, 0), "transpose_2": lambda s, d: s.transpose(0, d),
    "swapaxes": lambda s, d: s.swapaxes(d, -1), "movedim": lambda s, d: s.movedim(d, 0),
    "movedim_2": lambda s, d: s.movedim(0, d), "squeeze": lambda s, d: s.squeeze(d),
    "squeeze_tuple": lambda s, d: s.squeeze((d,)), "unsqueeze": lambda s, d: s.unsqueeze(d),
    "flatten": lambda s, d: s.flatten(d), "flatten_end": lambda s, d: s.flatten(0, d),
    "flip": lambda s, d: s.flip(d), "flip_tuple": lambda s, d: s.flip((d,)), "roll": lambda s, d: s.roll(1, d),
    "unfold": lambda s, d: s.unfold(d, 1, 1), "stack": lambda s, d: _library(s).stack([s, s], d),
    "narrow": lambda s, d: s.narrow(d, 0, 1), "diagonal": lambda s, d: s.diagonal(0, d, 1 - d),
}


@pytest.mark.parametrize("name", sorted(ZERO_D_DIMS))
@given(st.integers(-4, 4))
@example(1)  # issue 9: flip(1) of a 0-d tensor was accepted
@example(-2)
def test_dims_of_0d_tensors_are_checked_as_in_pytorch(name, d):
    s = tg.tensor(2.0)
    fn = ZERO_D_DIMS[name]
    if name in ("narrow", "diagonal", "roll"):  # PyTorch refuses these on 0-d tensors whatever the dims
        with pytest.raises((RuntimeError, IndexError)):
            fn(s, d)
    elif d in (-1, 0):
        fn(s, d)
    else:
        with pytest.raises(IndexError, match=r"dim .* is out of range for a tensor of \d dimension"):
            fn(s, d)


@pytest.mark.parametrize("name", sorted(ZERO_D_DIMS))
def test_dims_of_0d_tensors_match_pytorch(name):
    torch = pytest.importorskip("torch")
    for d in range(-4, 5):
        outcomes = []
        for L in (torch, tg):
            try:
                out = ZERO_D_DIMS[name](L.tensor(2.0), d)
                outcomes.append((tuple(out.shape), out.tolist()))
            except (RuntimeError, IndexError):
                outcomes.append("raises")
        assert outcomes[0] == outcomes[1], (name, d, outcomes)


REFUSED = [  # calls PyTorch refuses (its argument parser), with tapegrad's error
    (lambda L: L.tensor(1.0).permute(), TypeError, r'permute\(\) missing 1 required positional arguments: "dims"'),
    (lambda L: L.zeros(2, 3).permute(), TypeError, r'permute\(\) missing 1 required positional arguments'),
    (lambda L: L.zeros(2).repeat(), TypeError, r'repeat\(\) missing 1 required positional arguments: "repeats"'),
    (lambda L: L.zeros(2).flip(), TypeError, r'flip\(\) missing 1 required positional arguments: "dims"'),
    (lambda L: L.tensor(1.0).expand(), TypeError, r'expand\(\) missing 1 required positional arguments: "size"'),
    (lambda L: L.tensor(1.0).reshape(), TypeError, r'reshape\(\) missing 1 required positional arguments: "shape"'),
    (lambda L: L.tensor(1.0).view(), TypeError, r"view\(\) received an invalid combination of arguments"),
    (lambda L: L.zeros(1, 2).squeeze(None), TypeError, r"squeeze: dim must be an int or a tuple of ints"),
    (lambda L: L.broadcast_to(L.zeros(3), 3), TypeError, r"broadcast_to: size must be a tuple of ints, got int"),
    (lambda L: L.tensor(1.0).unflatten(0, (1,)), RuntimeError, r"unflatten: cannot unflatten a 0-d tensor"),
    (lambda L: L.zeros(2, 3).narrow(0, True, 1), TypeError, r"narrow: start must be an int, got bool"),
    (lambda L: L.zeros(2, 3).narrow(0, 1, True), TypeError, r"narrow: length must be an int, got bool"),
    (lambda L: L.zeros(2, 3).narrow(0, L.tensor([1]), 1), RuntimeError,
     r"narrow: start must be a 0-dim integral tensor, got a int64 tensor of shape \(1,\)"),
    (lambda L: L.zeros(2, 3).narrow(0, L.tensor(True), 1), RuntimeError, r"narrow: start must be a 0-dim integral"),
    (lambda L: L.zeros(2, 3).select(0, True), TypeError, r"select: index must be an int, got bool"),
    (lambda L: L.zeros(2, 3).split(True), TypeError, r"split: split_size must be an int, got bool"),
    (lambda L: L.zeros(2, 3).split([True, 1]), TypeError, r"split: sizes must be ints, got bool"),
    (lambda L: L.zeros(2, 3).chunk(True), TypeError, r"chunk: chunks must be an int, got bool"),
    (lambda L: L.zeros(2, 3).reshape(True, 6), TypeError, r"reshape: sizes must be ints, got bool"),
    (lambda L: L.zeros(2, 3).repeat(True, 1), TypeError, r"repeat: sizes must be ints, got bool"),
    (lambda L: L.zeros(2, 3).permute(True, 0), TypeError, r"permute: sizes must be ints, got bool"),
    (lambda L: L.zeros(2, 3).roll(True, 0), TypeError, r"roll: shifts must be an int, got bool"),
    (lambda L: L.zeros(2, 3).tril(True), TypeError, r"tril: diagonal must be an int, got bool"),
    (lambda L: L.zeros(2, 3).diagonal(True), TypeError, r"diagonal: offset must be an int, got bool"),
    (lambda L: L.zeros(2, 3).unflatten(1, (True, 3)), TypeError, r"unflatten: sizes must be ints, got bool"),
    (lambda L: L.tensor(1.0).split(1), RuntimeError, r"split: expects at least a 1-dimensional tensor"),
    (lambda L: L.tensor(1.0).chunk(1), RuntimeError, r"chunk: expects at least a 1-dimensional tensor"),
]


@pytest.mark.parametrize("k", range(len(REFUSED)))
def test_calls_pytorch_refuses_are_refused(k):
    fn, exc, pattern = REFUSED[k]
    with pytest.raises(exc, match=pattern):
        fn(tg)


@pytest.mark.parametrize("k", range(len(REFUSED)))
def test_calls_pytorch_refuses_match_pytorch(k):
    torch = pytest.importorskip("torch")
    with pytest.raises((TypeError, RuntimeError, IndexError)):
        REFUSED[k][0](torch)


ACCEPTED = [  # the forms next to them that PyTorch accepts
    lambda L: L.tensor(1.0).permute(()), lambda L: L.tensor(1.0).repeat(()), lambda L: L.tensor(1.0).flip(()),
    lambda L: L.tensor(1.0).expand(()), lambda L: L.tensor(1.0).view(()), lambda L: L.tensor(1.0).reshape(()),
    lambda L: L.zeros(2, 3).reshape(shape=(3, 2)), lambda L: L.reshape(L.zeros(2, 3), shape=(3, 2)),
    lambda L: L.zeros(2, 3).view(size=(3, 2)), lambda L: L.zeros(2, 3).view(dtype=L.int32),
    lambda L: L.zeros(3).expand(size=(2, 3)), lambda L: L.zeros(2, 1).expand(2, True),
    lambda L: L.zeros(2, 3).view(2, True, 3), lambda L: L.zeros(2, 3).narrow(0, L.tensor(1), 1),
    lambda L: L.zeros(2, 3).narrow(0, 1, L.tensor(1)), lambda L: L.zeros(2, 3).select(0, L.tensor([1])),
    lambda L: L.zeros(2, 3).transpose(L.tensor(0), 1), lambda L: L.zeros(2, 3).narrow(L.tensor(0), 0, 1),
    lambda L: L.zeros(1, 3).squeeze(L.tensor(0)), lambda L: L.zeros(2, 3).transpose(np.int64(0), 1),
    lambda L: L.zeros(2, 3).view(np.int64(3), 2), lambda L: L.tensor(1.0).flip(-1), lambda L: L.tensor(1.0).flip(0),
]


@pytest.mark.parametrize("k", range(len(ACCEPTED)))
def test_forms_pytorch_accepts_are_accepted(k):
    out = ACCEPTED[k](tg)
    torch = sys.modules.get("torch")
    if torch is not None:
        want = ACCEPTED[k](torch)
        assert tuple(out.shape) == tuple(want.shape) and str(out.dtype) == str(want.dtype).split(".")[-1]


@given(st.integers(0, 6), st.lists(st.integers(-3, 6), min_size=1, max_size=4))
@example(5, [2, 2])   # do not sum to the size
@example(5, [6, -1])  # a negative size that makes the sum right
@example(0, [0, 0, 0])
def test_split_sizes_must_be_non_negative_and_sum_to_the_size(n, sizes):
    x = tg.zeros(2, n)
    if min(sizes) < 0 or sum(sizes) != n:
        with pytest.raises(RuntimeError, match=r"split: split sizes .* must be non-negative and sum exactly to"):
            x.split(sizes, 1)
    else:
        assert [p.shape[1] for p in x.split(sizes, 1)] == sizes


@given(st.lists(st.integers(-3, 4), min_size=0, max_size=3), st.sampled_from(["reshape", "view", "expand", "repeat",
                                                                               "unflatten"]))
@example([2, -2], "reshape")
@example([-1, -1], "view")
@example([-2, 3], "expand")
@example([-1], "repeat")
@example([2, -2], "unflatten")
def test_negative_sizes_are_refused_as_in_pytorch(sizes, op):
    x = tg.zeros(2, 3) if op != "unflatten" else tg.zeros(6)
    call = {"reshape": lambda: x.reshape(sizes), "view": lambda: x.view(sizes), "expand": lambda: x.expand(sizes),
            "repeat": lambda: x.repeat(sizes), "unflatten": lambda: x.unflatten(0, sizes)}[op]
    torch = sys.modules.get("torch")
    try:
        out = call()
    except (RuntimeError, TypeError):
        refused = True
    else:
        refused = False
        assert min(sizes, default=0) >= -1 and (op not in ("repeat",) or min(sizes, default=0) >= 0)
        assert out.numel() == (6 if op in ("reshape", "view", "unflatten") else out.numel())
    if any(s < -1 for s in sizes) or (op == "repeat" and any(s < 0 for s in sizes)):
        assert refused, f"{op}{tuple(sizes)} accepted a negative size"
    if torch is not None:
        tx = torch.zeros(tuple(x.shape))
        try:
            getattr(tx, op)(*((0, sizes) if op == "unflatten" else (sizes,)))
        except (RuntimeError, TypeError):
            assert refused, f"PyTorch refuses {op}{tuple(sizes)}, tapegrad accepts"
        else:
            assert not refused, f"PyTorch accepts {op}{tuple(sizes)}, tapegrad refuses"


# ---------------------------------------------------------------------- memory layout of the copies
LAYOUTS = {  # a (2, 3, 4) tensor laid out in several ways, from the same values
    "contiguous": lambda L: L.arange(24.0).reshape(2, 3, 4),
    "transposed": lambda L: L.arange(24.0).reshape(4, 3, 2).permute(2, 1, 0),
    "permuted": lambda L: L.arange(24.0).reshape(3, 4, 2).permute(2, 0, 1),
    "strided": lambda L: L.arange(48.0).reshape(2, 3, 8)[:, :, ::2],
    "transposed_strided": lambda L: L.arange(48.0).reshape(8, 3, 2).permute(2, 1, 0)[:, :, ::2],
}
COPIES = {  # op -> (call, is the result contiguous whatever the input's layout, as PyTorch's)
    "cat": (lambda L, x: L.cat([x, x], 1), True),
    "cat_one": (lambda L, x: L.cat([x], 2), True),
    "stack": (lambda L, x: L.stack([x, x], 1), True),
    "hstack": (lambda L, x: L.hstack([x, x]), True),
    "vstack": (lambda L, x: L.vstack([x, x]), True),
    "repeat": (lambda L, x: x.repeat(1, 1, 1), True),
    "tile": (lambda L, x: x.tile((1, 2)), True),
    "roll": (lambda L, x: x.roll(1, 1), True),
    "roll_flat": (lambda L, x: x.roll(1), True),
    "tril": (lambda L, x: x.tril(), True),
    "triu": (lambda L, x: x.triu(1), True),
    "diag": (lambda L, x: L.diag(x[0]), True),
    "contiguous": (lambda L, x: x.contiguous(), True),
    "flip": (lambda L, x: x.flip(0), None),  # keeps the input's order of dims in memory, as PyTorch's
    "fliplr": (lambda L, x: x.fliplr(), None),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", sorted(COPIES))
def test_copies_are_laid_out_as_pytorchs(name, layout):
    # a copy that keeps an F-ordered layout where PyTorch's is contiguous makes a later view() fail (issue 9,
    # found by the differential fuzzer: cat of nonzero's output, then view)
    fn, contiguous = COPIES[name]
    x = LAYOUTS[layout](tg)
    out = fn(tg, x)
    if contiguous is None:
        contiguous = layout in ("contiguous", "strided")
    assert out.is_contiguous() == contiguous
    if contiguous:
        assert out.view(-1).shape == (out.numel(),)
    torch = sys.modules.get("torch")
    if torch is not None:
        want = fn(torch, LAYOUTS[layout](torch))
        assert want.is_contiguous() == out.is_contiguous()
        np.testing.assert_array_equal(out.numpy(), want.numpy())


# ---------------------------------------------------------------------- in-place views (t_, transpose_, ...)
_VIEW_INPLACE = [("t_", ()), ("transpose_", (0, -1)), ("swapdims_", (1, 0)), ("swapaxes_", (-1, 0)),
                 ("squeeze_", ()), ("squeeze_", (1,)), ("squeeze_", ((0, 1),)), ("unsqueeze_", (0,)),
                 ("unsqueeze_", (-1,))]


@pytest.mark.parametrize("name, args", _VIEW_INPLACE)
@given(shape=st.sampled_from([(2, 1), (1, 3), (2, 1, 3), (3, 2)]), seed=st.integers(0, 2**16))
def test_in_place_views_take_the_views_shape_over_the_same_memory(name, args, shape, seed):
    if name == "t_" and len(shape) > 2:
        shape = shape[:2]
    x = tg.tensor(np.random.default_rng(seed).standard_normal(shape))
    out_of_place = getattr(x, name[:-1])(*args)
    alias = x[0]  # a view taken before: it keeps its shape and still shares the memory
    version = x._version
    assert getattr(x, name)(*args) is x
    assert x.shape == out_of_place.shape and x.stride() == out_of_place.stride()
    np.testing.assert_array_equal(x.numpy(), out_of_place.numpy())
    assert x._version > version  # as PyTorch: a graph that read x before refuses to backward
    x.fill_(5.0)
    assert alias.shape == shape[1:] and (alias.numpy() == 5.0).all()  # still a view of the same memory


@pytest.mark.parametrize("name, args", _VIEW_INPLACE)
def test_in_place_views_under_grad_mode_give_each_use_its_gradient(name, args):
    w = tg.tensor(np.arange(6.0).reshape(2, 1, 3) if name != "t_" else np.arange(6.0).reshape(2, 3),
                  requires_grad=True)
    z = w * 1
    before = z * 2  # uses z with its earlier shape
    getattr(z, name)(*args)
    weights = tg.tensor(np.arange(z.numel(), dtype=np.float64).reshape(z.shape))
    (before.sum() + (z * weights).sum()).backward()
    expected = 2 + getattr(weights, {"t_": "t", "transpose_": "transpose", "swapdims_": "transpose",
                                     "swapaxes_": "transpose"}.get(name, "reshape"))(
        *(args if name != "squeeze_" and name != "unsqueeze_" else (w.shape,)))
    np.testing.assert_array_equal(w.grad.numpy(), expected.numpy())


def test_in_place_views_refuse_a_leaf_that_requires_grad_and_stale_graphs():
    with pytest.raises(RuntimeError, match="leaf"):
        tg.ones(2, 3, requires_grad=True).t_()
    w = tg.ones(2, 3, requires_grad=True)
    x = tg.ones(2, 3)
    y = (w * x).sum()  # the rule reads x
    x.t_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    with tg.no_grad():
        p = tg.ones(2, 3, requires_grad=True)
        assert p.t_().shape == (3, 2) and p.requires_grad


@pytest.mark.parametrize("name, args", _VIEW_INPLACE)
def test_in_place_views_match_pytorch(name, args):
    torch = pytest.importorskip("torch")
    a = np.arange(6.0).reshape(2, 1, 3) if name != "t_" else np.arange(6.0).reshape(2, 3)
    got, want = [], []
    for lib, out in ((tg, got), (torch, want)):
        w = lib.tensor(a, requires_grad=True)
        z = w * 1
        getattr(z, name)(*args)
        (z * lib.arange(z.numel(), dtype=lib.float64).reshape(z.shape)).sum().backward()
        out += [tuple(z.shape), z.stride(), z.grad_fn.name(), w.grad.numpy().tolist()]
    assert got == want


# ---------------------------------------------------------------------- as_strided
@st.composite
def _strided_layouts(draw):
    """A 1-D block of memory and a layout (size, stride, offset) inside it, overlapping windows included."""
    ndim = draw(st.integers(0, 3))
    size = tuple(draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim)))
    stride = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    offset = draw(st.integers(0, 3))
    need = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    return max(need, 1) + draw(st.integers(0, 2)), size, stride, offset


@given(_strided_layouts())
@example((5, (3, 2), (1, 1), 0))  # sliding windows: overlapping, read-only
@example((6, (2, 3), (0, 1), 2))  # a stride of 0
def test_as_strided_reads_the_layout_and_sums_gradients_per_place(layout):
    n, size, stride, offset = layout
    x = np.arange(1.0, n + 1)
    out = tg.as_strided(tg.tensor(x), size, stride, offset)
    want = np.lib.stride_tricks.as_strided(x[offset:] if 0 not in size else x[:0], size,
                                           tuple(s * 8 for s in stride)) if size else x[offset]
    np.testing.assert_array_equal(out.numpy(), want)
    assert out.stride() == (stride if out.numel() else out.stride()) and out.storage_offset() == (
        offset if out.numel() else out.storage_offset())
    assert_gradients(lambda t: (tg.as_strided(t, size, stride, offset) ** 2).sum(), x)


def test_as_strided_views_share_memory_and_refuse_to_reach_past_it():
    base = tg.arange(6.0)
    view = base[1:].as_strided((2,), (2,))  # from where base[1:] starts
    with tg.no_grad():
        view.fill_(9.0)
    assert base.tolist() == [0.0, 9.0, 2.0, 9.0, 4.0, 5.0] and base._version > 0
    assert base[1:].as_strided((2,), (2,), 0).tolist() == [0.0, 2.0]  # the offset counts from the block's start
    with pytest.raises(RuntimeError, match="memory block of 5 elements"):
        tg.arange(4.0).as_strided((3,), (2,))
    with pytest.raises(RuntimeError, match="negative strides"):
        tg.arange(4.0).as_strided((2,), (-1,))
    with pytest.raises(RuntimeError, match="read-only"):
        tg.arange(4.0).as_strided((2, 2), (1, 1)).add_(1)  # overlapping windows
    w = tg.ones(6, requires_grad=True)
    z = w * 1
    z.as_strided((2,), (3,)).mul_(tg.tensor([5.0, 7.0]))  # a write through it, under grad mode
    z.sum().backward()
    assert w.grad.tolist() == [5.0, 1.0, 1.0, 7.0, 1.0, 1.0]


@pytest.mark.parametrize("size, stride, offset", [((3, 2), (1, 1), None), ((2, 2), (4, 1), 0), ((2,), (0,), 3),
                                                  ((2, 3), (1, 2), None)])
def test_as_strided_matches_pytorch(size, stride, offset):
    torch = pytest.importorskip("torch")
    got, want = [], []
    for lib, out in ((tg, got), (torch, want)):
        x = lib.arange(12.0, dtype=lib.float64).reshape(3, 4)[1:].requires_grad_(False)
        w = lib.arange(12.0, dtype=lib.float64, requires_grad=True)
        y = (w * 1).reshape(3, 4)[1:].as_strided(size, stride, offset)
        (y * lib.arange(1.0, y.numel() + 1, dtype=lib.float64).reshape(y.shape)).sum().backward()
        out += [x.as_strided(size, stride, offset).tolist(), y.grad_fn.name(), w.grad.tolist()]
    assert got == want


def test_in_place_views_of_views_and_broadcast_tensors_as_pytorch():
    leaf = tg.zeros(3, 2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        leaf.tensor_split(3, -2)[1].transpose_(2, -3)
    x = tg.tensor([[1, -1, -100], [3, -1, 100]])
    a, b = tg.broadcast_tensors(x, x)  # no expansion needed: PyTorch returns the tensors themselves
    assert a is x and b is x
    a.swapaxes_(-1, 0)
    assert x.shape == (3, 2) and tg.Tensor.swapaxes_.__name__ == "swapaxes_"
    y, z = tg.broadcast_tensors(tg.zeros(3, 1), tg.zeros(4))
    assert y.shape == z.shape == (3, 4)


# ---------------------------------------------------------------------- resize_
@st.composite
def _resize_cases(draw):
    """(block size, how the tensor sits in it, new sizes): the tensor is the block, a slice of it or a transposed
    2-D view; the new sizes fit the block or outgrow it."""
    n = draw(st.integers(1, 12))
    form = draw(st.sampled_from(["whole", "slice", "transposed"]))
    if form == "transposed":
        n = draw(st.sampled_from([4, 6, 8, 9, 12]))
    new = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    return n, form, new


def _resize_subject(n, form):
    block = tg.arange(float(n))
    if form == "whole":
        return block, block, 0
    if form == "slice":
        return block, block[1:], 1
    rows = 2 if n % 2 == 0 else 3
    return block, block.view(rows, n // rows).t(), 0


@given(_resize_cases())
@example((6, "slice", (4,)))
@example((6, "transposed", (2, 2)))
@example((3, "whole", (2, 4)))
@example((3, "slice", (4,)))
def test_resize_reads_the_memory_block_in_order_and_grows_it(case):
    n, form, new = case
    block, t, _ = _resize_subject(n, form)
    offset = t.storage_offset()
    k = int(np.prod(new))
    if tuple(t.shape) == new:  # the same sizes: nothing changes, strides included (as PyTorch)
        strides = t.stride()
        assert t.resize_(new) is t and t.stride() == strides
        return
    if form != "whole" and k and offset + k > n and tuple(t.shape) != new:  # the view would leave its base
        with pytest.raises(RuntimeError, match="would leave a view of shape .* outside the tensor"):
            t.resize_(new)
        return
    out = t.resize_(*new) if new else t.resize_(())
    assert out is t and tuple(t.shape) == new and t.is_contiguous()
    flat = t.detach().numpy().reshape(-1)
    expected = np.zeros(k)
    kept = max(0, min(k, n - offset))
    expected[:kept] = np.arange(float(n))[offset:offset + kept]
    np.testing.assert_array_equal(flat, expected)  # grown elements are zeros
    assert t.storage_offset() == offset
    if k and offset < n:
        t.view(-1)[0] = -1.0  # still shares memory with the block (moved onto the grown one if it grew)
        assert block.detach().numpy().reshape(-1)[offset] == -1.0


def test_resize_same_sizes_keep_strides_and_version():
    t = tg.arange(6.0).view(2, 3).t()
    v = t._version
    t.resize_(3, 2)
    assert t.stride() == (1, 3) and t._version == v


def test_resize_moves_the_version_so_a_graph_that_read_it_refuses():
    w = tg.ones(3, requires_grad=True)
    c = tg.arange(3.0)
    y = (w * c).sum()
    c.resize_(4)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_resize_errors_name_the_op():
    with pytest.raises(RuntimeError, match="resize_: cannot resize variables that require grad"):
        tg.zeros(2, requires_grad=True).resize_(3)
    with pytest.raises(RuntimeError, match="resize_: .*negative dimension"):
        tg.zeros(2).resize_(2, -1)
    with pytest.raises(TypeError, match="resize_: sizes must be ints"):
        tg.zeros(2).resize_(2, "a")
    with pytest.raises(RuntimeError, match="resize_: unsupported memory format"):
        tg.zeros(2).resize_(2, memory_format="channels_last")
    with pytest.raises(TypeError, match="resize_as_: the_template must be a Tensor"):
        tg.zeros(2).resize_as_((2, 2))
    big = np.arange(10.0)
    with pytest.raises(RuntimeError, match="resize_: Trying to resize storage that is not resizable"):
        tg.from_numpy(big[2:4]).resize_(4)  # numpy's memory is the slice's span, not the array it was cut from
    with pytest.raises(RuntimeError, match="resize_: Trying to resize storage that is not resizable"):
        tg.as_tensor(big).resize_(11)
    t = tg.arange(3.0)
    alias = t.data  # shares the memory without being registered: growing would split them silently
    with pytest.raises(RuntimeError, match="resize_: cannot grow this tensor's memory: something other than"):
        t.resize_(5)
    assert alias.shape == (3,)
    x = tg.arange(6.0)
    view = x[4:]
    with pytest.raises(RuntimeError, match="resize_: resizing to \\[2\\] would leave a view of shape"):
        x.resize_(2)
    assert view.tolist() == [4.0, 5.0] and x.shape == (6,)  # nothing changed
    assert tuple(tg.resize_as_(tg.zeros(4), tg.zeros(2, 2)).shape) == (2, 2)
    shared = np.arange(3.0)
    t = tg.from_numpy(shared)
    t.resize_(2)  # shrinking keeps numpy's memory
    t[0] = 5.0
    assert shared[0] == 5.0
    with pytest.raises(RuntimeError, match="resize_: Trying to resize storage that is not resizable"):
        t[1:].resize_(4)  # a view of it cannot grow the numpy array's memory either


def test_resize_matches_pytorch():
    torch = pytest.importorskip("torch")
    cases = [(6, "slice", (4,)), (6, "transposed", (2, 2)), (3, "whole", (2, 4)), (12, "transposed", (5,)),
             (4, "whole", ()), (5, "slice", (0, 3)), (8, "slice", (3, 2)), (3, "whole", (4, 4))]
    for n, form, new in cases:
        got = []
        for lib in (tg, torch):
            block = lib.arange(float(n))
            t = block if form == "whole" else block[1:] if form == "slice" else \
                block.view(2 if n % 2 == 0 else 3, -1).t()
            t.resize_(new)
            t.view(-1)[:1] = -1.0 if t.numel() else 0.0
            kept = min(t.numel(), n - t.storage_offset())  # PyTorch's grown elements are uninitialized
            got.append((tuple(t.shape), t.stride(), t.storage_offset(),
                        t.detach().numpy().reshape(-1)[:kept].tolist(),
                        None if t is block else block.detach().numpy().tolist()))
        assert got[0] == got[1], (n, form, new)


@pytest.mark.parametrize("shape, reps", [((0, 0), (0,)), ((0, 0), (2,)), ((0, 3), (2, 1)), ((2, 0), (1, 3))])
def test_tile_and_repeat_of_an_empty_tensor_are_new_tensors(shape, reps):
    """(seed 1409830) numpy's tile of an empty array is a reshape of it, a view; PyTorch's repeat/tile make a new
    tensor, so an in-place write into the result that requires grad must not reach the input."""
    x = tg.zeros(shape)
    t = x.tile(reps)
    assert not t._is_view()
    t.scatter_(0, tg.zeros(t.shape, dtype=tg.int64), tg.zeros(t.shape, requires_grad=True))
    assert not x.requires_grad
    torch = pytest.importorskip("torch")
    assert not torch.zeros(shape).tile(reps)._is_view()
