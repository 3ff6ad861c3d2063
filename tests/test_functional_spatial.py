"""nn.functional's resampling, shuffles, instance/RMS/local response norms and embedding bags
(tapegrad/nn/_functional_spatial.py): properties, gradients against float64 finite differences (first and second
order), PyTorch's numbers and node names when PyTorch is installed, and errors."""

import doctest

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import gradgradcheck
from tapegrad.nn import _functional_spatial
from tapegrad.testing import assert_gradients


def test_docstring_examples():
    assert doctest.testmod(_functional_spatial, raise_on_error=False).failed == 0


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 4), st.integers(1, 4))
def test_pixel_unshuffle_inverts_pixel_shuffle(r, c, n, h, w):
    x = np.random.default_rng(r * 7 + c).standard_normal((n, c * r * r, h, w))
    y = F.pixel_shuffle(tg.tensor(x), r)
    assert y.shape == (n, c, h * r, w * r)
    np.testing.assert_array_equal(F.pixel_unshuffle(y, r).numpy(), x)


@given(st.sampled_from(["nearest", "nearest-exact", "linear"]), st.integers(1, 6), st.integers(1, 9),
       st.booleans())
def test_interpolate_1d_gradients(mode, n_in, n_out, corners):
    x = np.random.default_rng(n_in).standard_normal((2, 2, n_in))
    ac = corners if mode == "linear" else None
    assert_gradients(lambda x: F.interpolate(x, size=n_out, mode=mode, align_corners=ac), x)


def test_interpolate_keeps_constants_and_linear_ramps_with_align_corners():
    y = F.interpolate(tg.ones(1, 1, 3, 4), size=(5, 7), mode="bicubic")
    np.testing.assert_allclose(y.numpy(), 1.0, rtol=2e-6)
    ramp = tg.arange(4.0).reshape(1, 1, 4)
    out = F.interpolate(ramp, size=7, mode="linear", align_corners=True)
    np.testing.assert_allclose(out.numpy().ravel(), np.linspace(0, 3, 7), rtol=1e-6)


def test_second_order_gradients():
    rng = np.random.default_rng(0)
    x4 = rng.standard_normal((1, 2, 3, 4))
    cases = [(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear") ** 2, x4),
             (lambda x: F.interpolate(x, size=(5, 6), mode="bicubic", align_corners=True) ** 2, x4),
             (lambda x: F.pixel_shuffle(x, 1) ** 2, x4),
             (lambda x: F.channel_shuffle(x, 2) ** 2, x4),
             (lambda x: F.instance_norm(x), x4),
             (lambda x: F.rms_norm(x, (3, 4)), x4),
             (lambda x: F.local_response_norm(x, 2), x4)]
    for fn, x in cases:
        assert_gradients(fn, x)
        assert gradgradcheck(fn, (tg.tensor(x, requires_grad=True),))


def test_embedding_bag_is_the_reduction_of_embedding_rows():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 3))
    ids, off = np.array([1, 2, 4, 5, 4, 3, 2, 0]), np.array([0, 3, 3, 6])
    for mode, reduce in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        out = F.embedding_bag(tg.tensor(ids), tg.tensor(w), tg.tensor(off), mode=mode).numpy()
        bounds = list(off) + [len(ids)]
        for b in range(len(off)):
            rows = w[ids[bounds[b]:bounds[b + 1]]]
            expect = reduce(rows, axis=0) if len(rows) else np.zeros(3)
            np.testing.assert_allclose(out[b], expect, rtol=1e-12)
        assert_gradients(lambda w, mode=mode: F.embedding_bag(tg.tensor(ids), w, tg.tensor(off), mode=mode), w)
    psw = rng.standard_normal(8)
    assert_gradients(lambda w, p: F.embedding_bag(tg.tensor(ids), w, tg.tensor(off), mode="sum",
                                                  per_sample_weights=p), w, psw)


def test_errors_name_the_op():
    with pytest.raises(RuntimeError, match="pixel_shuffle: expected the channel dimension"):
        F.pixel_shuffle(tg.ones(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="channel_shuffle: number of channels must be divisible"):
        F.channel_shuffle(tg.ones(1, 3, 2), 2)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D input"):
        F.interpolate(tg.ones(1, 1, 2, 2), scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(tg.ones(1, 1, 2), scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(tg.ones(1, 1, 2), size=3, scale_factor=2)
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(tg.tensor([0]), tg.ones(2, 2), tg.tensor([0]), per_sample_weights=tg.ones(1))
    with pytest.raises(RuntimeError, match="embedding_bag: offsets\\[0\\] has to be 0"):
        F.embedding_bag(tg.tensor([0, 1]), tg.ones(2, 2), tg.tensor([1]))
    with pytest.raises(RuntimeError, match="rms_norm: given normalized_shape"):
        F.rms_norm(tg.ones(2, 3), (2,))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(tg.ones(2, 3, 1))


# ---------------------------------------------------------------------- PyTorch
CASES = [
    ("nearest 1d", lambda m, x: m.interpolate(x, scale_factor=2.5), (2, 3, 5)),
    ("nearest 2d size", lambda m, x: m.interpolate(x, size=(7, 3)), (2, 2, 5, 4)),
    ("nearest 2d x2", lambda m, x: m.interpolate(x, scale_factor=2), (1, 2, 3, 4)),
    ("nearest-exact 3d", lambda m, x: m.interpolate(x, size=(3, 5, 2), mode="nearest-exact"), (1, 2, 2, 3, 4)),
    ("linear", lambda m, x: m.interpolate(x, size=9, mode="linear"), (2, 3, 5)),
    ("linear corners", lambda m, x: m.interpolate(x, scale_factor=1.7, mode="linear", align_corners=True), (2, 3, 5)),
    ("bilinear", lambda m, x: m.interpolate(x, scale_factor=(1.5, 2.25), mode="bilinear"), (2, 2, 4, 5)),
    ("bilinear down", lambda m, x: m.interpolate(x, size=(3, 2), mode="bilinear"), (2, 2, 7, 5)),
    ("bilinear recompute", lambda m, x: m.interpolate(x, scale_factor=1.3, mode="bilinear",
                                                      recompute_scale_factor=True), (1, 2, 5, 7)),
    ("bicubic", lambda m, x: m.interpolate(x, size=(6, 9), mode="bicubic"), (1, 2, 4, 5)),
    ("bicubic corners", lambda m, x: m.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True),
     (1, 2, 3, 4)),
    ("trilinear", lambda m, x: m.interpolate(x, size=(3, 5, 4), mode="trilinear"), (1, 2, 2, 3, 4)),
    ("area", lambda m, x: m.interpolate(x, size=(3, 2), mode="area"), (2, 2, 7, 5)),
    ("pixel_shuffle", lambda m, x: m.pixel_shuffle(x, 2), (2, 3, 8, 3, 2)),
    ("pixel_unshuffle", lambda m, x: m.pixel_unshuffle(x, 3), (2, 2, 6, 3)),
    ("channel_shuffle", lambda m, x: m.channel_shuffle(x, 3), (2, 6, 2, 2)),
    ("local_response_norm 3d", lambda m, x: m.local_response_norm(x, 3, 0.1, 0.6, 2.0), (2, 5, 4)),
    ("local_response_norm 5d", lambda m, x: m.local_response_norm(x, 2), (2, 4, 3, 2, 2)),
    ("rms_norm", lambda m, x: m.rms_norm(x, (3, 4)), (2, 3, 4)),
]


@pytest.mark.parametrize("label,fn,shape", CASES, ids=[c[0] for c in CASES])
def test_matches_pytorch(label, fn, shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(7).standard_normal(shape)
    ours, theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = fn(F, ours), fn(torch.nn.functional, theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(ty.shape)
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    if not label.startswith(("local", "area")):
        assert y.grad_fn.name() == ty.grad_fn.name()


def test_float32_interpolation_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((1, 2, 7, 9)).astype(np.float32)
    for kw in ({"scale_factor": 1.37}, {"size": (11, 4), "mode": "bilinear"}, {"size": (5, 13), "mode": "bicubic"},
               {"scale_factor": 0.61, "mode": "nearest-exact"}):
        ours = F.interpolate(tg.tensor(x), **kw).numpy()
        theirs = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)


def test_instance_norm_matches_pytorch_running_stats_included():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 4, 5, 2)), rng.standard_normal(4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.random(4) + 0.5
    for use in (True, False):
        ours = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        orm, orv, trm, trv = tg.tensor(rm), tg.tensor(rv), torch.tensor(rm), torch.tensor(rv)
        y = F.instance_norm(ours[0], orm, orv, ours[1], ours[2], use, 0.3, 1e-3)
        ty = torch.nn.functional.instance_norm(theirs[0], trm, trv, theirs[1], theirs[2], use, 0.3, 1e-3)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(orm.numpy(), trm.numpy(), rtol=1e-12)
        np.testing.assert_allclose(orv.numpy(), trv.numpy(), rtol=1e-12)
        g = rng.standard_normal(x.shape)
        y.backward(tg.tensor(g))
        ty.backward(torch.tensor(g))
        for a, t in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["offsets", "2d", "last offset"])
def test_embedding_bag_matches_pytorch(mode, layout):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    w = rng.standard_normal((7, 3))
    if layout == "2d":
        ids, off = rng.integers(0, 7, (3, 4)), None
    else:
        ids, off = rng.integers(0, 7, 9), np.array([0, 2, 2, 5] + ([9] if layout == "last offset" else []))
    psw = rng.standard_normal(ids.shape) if mode == "sum" else None
    kw = {"mode": mode, "include_last_offset": layout == "last offset", "padding_idx": 3}
    ow, tw = tg.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    op, tp = (None, None) if psw is None else (tg.tensor(psw, requires_grad=True), torch.tensor(psw,
                                                                                               requires_grad=True))
    y = F.embedding_bag(tg.tensor(ids), ow, None if off is None else tg.tensor(off), per_sample_weights=op, **kw)
    ty = torch.nn.functional.embedding_bag(torch.tensor(ids), tw, None if off is None else torch.tensor(off),
                                           per_sample_weights=tp, **kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(ty.shape)
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ow.grad.numpy(), tw.grad.numpy(), rtol=1e-12, atol=1e-12)
    if psw is not None:
        np.testing.assert_allclose(op.grad.numpy(), tp.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_lp_pool_with_an_infinite_norm_is_the_max_of_magnitudes_as_pytorch(d):
    rng = np.random.default_rng(d)
    x = rng.uniform(-3, 3, (1, 2) + (4,) * d)
    x.flat[0] = -np.inf
    fn = getattr(F, f"lp_pool{d}d")
    got = fn(tg.tensor(x), float("inf"), 2).numpy()
    pool = getattr(F, f"max_pool{d}d")
    np.testing.assert_array_equal(got, pool(tg.tensor(np.abs(x)), 2).numpy())
    np.testing.assert_array_equal(fn(tg.tensor(x), -float("inf"), 2).numpy(), -pool(-tg.tensor(np.abs(x)), 2).numpy())
    torch = pytest.importorskip("torch")
    tfn = getattr(torch.nn.functional, f"lp_pool{d}d")
    np.testing.assert_array_equal(got, tfn(torch.tensor(x), float("inf"), 2).numpy())


def test_shuffles_return_new_tensors_not_views():
    x = tg.ones(1, 2, 2)
    for out in (F.channel_shuffle(x, 1), F.pixel_shuffle(tg.ones(1, 1, 2, 2), 1)):
        out.add_(1)
    assert x.tolist() == tg.ones(1, 2, 2).tolist() and not F.channel_shuffle(x, 1).is_set_to(x)


@given(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0]), min_size=6, max_size=6),
       st.sampled_from(["sum", "mean", "max"]))
def test_embedding_bag_at_nan_inf_and_empty_bags_as_pytorchs_kernel(vals, mode):
    w = np.array(vals).reshape(3, 2)
    ids, offsets = np.array([0, 2, 1]), np.array([0, 2, 3])  # bags [0, 2], [1], [] (empty)
    got = F.embedding_bag(tg.tensor(ids), tg.tensor(w), tg.tensor(offsets), mode=mode).numpy()
    with np.errstate(all="ignore"):
        if mode == "max":  # the first row, then each strictly greater one: a later NaN is skipped
            first = w[0].copy()
            bag0 = np.where(w[2] > first, w[2], first)
        else:
            bag0 = w[0] + w[2]
            bag0 = bag0 / 2 if mode == "mean" else bag0
    want = np.stack([bag0, w[1], np.zeros(2)])
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    assert np.array_equal(np.signbit(got[2]), [False, False])  # an empty bag is +0.0, whatever the weights


def test_embedding_bag_edges_match_pytorch():
    torch = pytest.importorskip("torch")
    w = [[-3.0, -np.inf, np.nan], [0.5, -0.0, np.inf], [1.0, -np.inf, 0.0], [0.0, 0.0, 3.0]]
    for mode in ("sum", "mean", "max"):
        for ids, offsets in (([[2, 1, 0], [1, 1, 2]], None), ([2, 3, 0], [0, 3]), ([0, 2, 1], [0, 2, 3])):
            call = [lambda m, i=ids, o=offsets, mode=mode: m.nn.functional.embedding_bag(
                m.tensor(i), m.tensor(w, dtype=m.float64), None if o is None else m.tensor(o), mode=mode)]
            got, want = call[0](tg), call[0](torch)
            # (the mean scales each row before the sum: one ulp from PyTorch's sum-then-divide)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-15, atol=0)
            assert np.array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))
    x = tg.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], requires_grad=True)
    assert_gradients(lambda t: F.embedding_bag(tg.tensor([0, 2, 1, 1]), t, tg.tensor([0, 2]), mode="mean"),
                     x.detach().numpy().astype(np.float64))


@given(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.5, -2.0]), min_size=6, max_size=6),
       st.sampled_from([0, 1, 2]))
@example([np.inf, 1.5, -np.inf, 0.5, -0.0, -np.inf], 1)
def test_embedding_bag_padding_entries_give_their_sample_weight_a_zero_gradient(vals, pad):
    """An entry equal to padding_idx is left out of its bag before its per-sample weight multiplies it: its weight's
    gradient is 0 (PyTorch's), even where the padding row is inf or NaN (not 0 * inf = NaN)."""
    w = tg.tensor(np.array(vals).reshape(3, 2), requires_grad=True)
    ids = np.array([[0, 1, 2], [2, 1, 0]])
    psw = tg.tensor([[2.0, 0.25, -1.0], [-1.5, 0.75, 3.0]], requires_grad=True)
    with np.errstate(all="ignore"):
        F.embedding_bag(tg.tensor(ids), w, mode="sum", per_sample_weights=psw, padding_idx=pad).backward(
            tg.tensor([[-0.5, 2.0], [0.25, -1.5]]))
    got = psw.grad.numpy()
    np.testing.assert_array_equal(got[ids == pad], 0.0)
    g = np.array([[-0.5, 2.0], [0.25, -1.5]])
    with np.errstate(all="ignore"):
        want = (g[:, None, :] * np.array(vals).reshape(3, 2)[ids]).sum(-1)
    np.testing.assert_array_equal(got[ids != pad], want[ids != pad])


def test_embedding_bag_result_can_be_written_in_place_before_backward():
    w = tg.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    out = F.embedding_bag(tg.tensor([0, 1, 1]), w, tg.tensor([0, 1]), mode="mean")
    with tg.no_grad():
        out.mul_(2)  # no node of embedding_bag saved its result (PyTorch's does not either)
    out.sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


@pytest.mark.parametrize("mode, d", [("linear", 1), ("bilinear", 2), ("trilinear", 3)])
def test_interpolate_keeps_inf_and_nan_where_pytorch_does(mode, d):
    rng = np.random.default_rng(d)
    torch = pytest.importorskip("torch")
    for _ in range(30):
        shape = (1, 2) + tuple(rng.integers(1, 4, d))
        x = rng.choice([np.nan, np.inf, -np.inf, 1.0, -2.0, 0.5, -0.0], size=shape)
        # sizes kept or changed (a kept axis reads one element, as PyTorch: no 0 * inf from a neighbour)
        size = tuple(int(s) if rng.integers(0, 2) else int(rng.integers(2, 5)) for s in shape[2:])
        for ac in (False, True):
            with np.errstate(all="ignore"):
                got = F.interpolate(tg.tensor(x), size=size, mode=mode, align_corners=ac).numpy()
            want = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode=mode, align_corners=ac).numpy()
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(want), rtol=1e-6)



def test_interpolate_source_index_is_one_fused_multiply_add():
    """PyTorch computes scale * (dst + 0.5) - 0.5 with one rounding: 0.2 * 2.5 - 0.5 is 2.8e-17 in float64 and
    2 ** -27 in float32 (not 0), so inf at that tap is inf * 1 + inf * tiny = inf, not inf * 0 = nan."""
    for dtype, tiny in ((tg.float64, 0.2 * 2.5 - 0.5 + 2.7755575615628914e-17), (tg.float32, 2.0 ** -27)):
        lam = F.interpolate(tg.tensor([[[0.0, 1.0]]], dtype=dtype), size=(10,), mode="linear")[0, 0, 2].item()
        assert lam == tiny
        with np.errstate(all="ignore"):
            out = F.interpolate(tg.tensor([[[np.inf]]], dtype=dtype), size=(5,), mode="linear")
        assert np.isnan(out.numpy()[0, 0]).tolist() == [True, True, False, False, False]


@given(mode=st.sampled_from(["linear", "bilinear", "bicubic", "trilinear"]),
       dtype=st.sampled_from(["float32", "float64"]), sizes=st.lists(st.integers(1, 4), min_size=3, max_size=3),
       out=st.lists(st.integers(1, 7), min_size=3, max_size=3), by_scale=st.booleans(),
       align_corners=st.booleans(), seed=st.integers(0, 2**16))
@example(mode="linear", dtype="float64", sizes=[1, 1, 1], out=[5, 1, 1], by_scale=False, align_corners=False, seed=0)
@example(mode="bicubic", dtype="float32", sizes=[1, 1, 1], out=[5, 5, 1], by_scale=False, align_corners=False,
         seed=0)
@example(mode="bilinear", dtype="float32", sizes=[2, 1, 1], out=[3, 10, 1], by_scale=True, align_corners=False,
         seed=3)
@settings(max_examples=40, deadline=None)
def test_interpolate_at_inf_and_nan_matches_pytorch(mode, dtype, sizes, out, by_scale, align_corners, seed):
    torch = pytest.importorskip("torch")
    d = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}[mode]
    x = np.random.default_rng(seed).choice([np.nan, np.inf, -np.inf, 1.0, -2.0, 0.5, 0.0], size=(1, 2, *sizes[:d]))
    if by_scale:  # scale_factor used as given: 1 / scale_factor is the step
        kw = dict(scale_factor=tuple(o / n for o, n in zip(out[:d], sizes[:d], strict=True)),
                  recompute_scale_factor=False)
    else:
        kw = dict(size=tuple(out[:d]))
    with np.errstate(all="ignore"):
        got = F.interpolate(tg.tensor(x, dtype=getattr(tg, dtype)), mode=mode, align_corners=align_corners,
                            **kw).numpy()
    want = torch.nn.functional.interpolate(torch.tensor(x, dtype=getattr(torch, dtype)), mode=mode,
                                           align_corners=align_corners, **kw).numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got) * np.sign(got), np.isinf(want) * np.sign(want))
    np.testing.assert_allclose(np.nan_to_num(got, posinf=0, neginf=0), np.nan_to_num(want, posinf=0, neginf=0),
                               rtol=1e-5, atol=1e-6)


def _both_ways(torch_fn, tg_fn):
    """Run a call both ways: (exception type or None, result) for PyTorch and tapegrad."""
    out = []
    for fn in (torch_fn, tg_fn):
        try:
            out.append((None, fn()))
        except Exception as e:  # noqa: BLE001 - the kind of refusal is compared by the caller
            out.append((type(e), None))
    return out


# ---- interpolate with an empty input or output: 'area' follows the adaptive pools (an empty output is fine),
# the other modes refuse an empty spatial size and an empty channel dim (an empty batch is fine)
INTERP_EMPTY = [((1, 1, 3), dict(scale_factor=0.25, mode="area")), ((1, 0, 3), dict(scale_factor=0.5, mode="area")),
                ((1, 0, 3, 3), dict(size=2, mode="area")), ((1, 0, 3, 3, 3), dict(size=2, mode="area")),
                ((1, 2, 3, 3, 3), dict(size=(2, 0, 1), mode="area")), ((1, 2, 3, 3), dict(size=(2, 0), mode="area")),
                ((1, 2, 0), dict(size=1, mode="area")), ((1, 2, 0), dict(size=2, mode="area")),
                ((1, 2, 3, 3), dict(scale_factor=0.25, mode="nearest")),
                ((1, 2, 3, 3), dict(scale_factor=0.25, mode="bilinear")),
                ((0, 2, 3), dict(scale_factor=0.25, mode="linear")), ((0, 2, 3), dict(size=2, mode="linear")),
                ((1, 0, 3), dict(size=2, mode="linear")), ((1, 0, 3), dict(size=2, mode="nearest")),
                ((1, 2, 0), dict(size=2, mode="nearest")), ((1, 2, 3), dict(size=0, mode="nearest-exact")),
                ((1, 2, 3, 3, 3), dict(size=(0, 1, 1), mode="trilinear")),
                ((1, 2, 3, 3), dict(size=(0, 1), mode="bicubic"))]


@pytest.mark.parametrize(("shape", "kw"), INTERP_EMPTY)
def test_interpolate_empty_inputs_and_outputs_match_pytorch(shape, kw):
    torch = pytest.importorskip("torch")
    (e_t, r_t), (e_g, r_g) = _both_ways(lambda: torch.nn.functional.interpolate(torch.ones(shape), **kw),
                                        lambda: F.interpolate(tg.ones(shape), **kw))
    assert e_t == e_g, (shape, kw, e_t, e_g)
    if e_t is None:
        assert tuple(r_g.shape) == tuple(r_t.shape)
        np.testing.assert_array_equal(r_g.numpy(), r_t.numpy())


@given(n=st.integers(1, 6), scale=st.sampled_from([0.1, 0.25, 0.5]), d=st.sampled_from([1, 2, 3]))
def test_interpolate_area_to_an_empty_output_is_empty_and_its_backward_refuses(n, scale, d):
    x = tg.ones((1, 2) + (n,) * d, requires_grad=True)
    out = F.interpolate(x, scale_factor=scale, mode="area")
    assert tuple(out.shape) == (1, 2) + (int(n * scale),) * d
    if out.numel() == 0:  # PyTorch's adaptive pooling backward refuses an empty gradient
        with pytest.raises(RuntimeError, match="Expected grad_output to have non-zero size for non-batch"):
            out.sum().backward()
        return
    out.sum().backward()
    assert x.grad.shape == x.shape  # each output is a mean: the gradient sums to the number of outputs
    np.testing.assert_allclose(float(x.grad.sum()), out.numel(), rtol=1e-5)


# ---- instance_norm of an (N, C) input: with the running statistics PyTorch normalizes it; training refuses
@given(n=st.integers(1, 3), c=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_instance_norm_of_2d_input_uses_the_running_statistics(n, c, seed):
    rng = np.random.default_rng(seed)
    x, rm, rv, w, b = (rng.standard_normal((n, c)), rng.standard_normal(c), rng.uniform(0.5, 2, c),
                       rng.standard_normal(c), rng.standard_normal(c))
    out = F.instance_norm(tg.tensor(x), tg.tensor(rm), tg.tensor(rv), tg.tensor(w), tg.tensor(b),
                          use_input_stats=False)
    np.testing.assert_allclose(out.numpy(), (x - rm) / np.sqrt(rv + 1e-5) * w + b, rtol=1e-10)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(tg.tensor(x), tg.tensor(rm), tg.tensor(rv))
    with pytest.raises(RuntimeError, match="running_mean and running_var"):
        F.instance_norm(tg.tensor(x), use_input_stats=False)


def test_instance_norm_low_rank_inputs_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [((2, 2), True, False), ((2, 2), False, False), ((2,), True, False), ((2,), True, True),
             ((2, 2), True, True), ((2, 3), True, False)]
    for shape, stats, use_input in cases:
        def call(lib, shape=shape, stats=stats, use_input=use_input):
            x = lib.arange(float(np.prod(shape))).reshape(shape)
            rm, rv = (lib.tensor([0.5, 1.0]), lib.tensor([1.0, 4.0])) if stats else (None, None)
            return lib.nn.functional.instance_norm(x, rm, rv, use_input_stats=use_input)
        (e_t, r_t), (e_g, r_g) = _both_ways(lambda call=call: call(torch), lambda call=call: call(tg))
        assert e_t == e_g, (shape, stats, use_input, e_t, e_g)
        if e_t is None:
            np.testing.assert_allclose(r_g.numpy(), r_t.numpy(), rtol=1e-5)


# ---- embedding_bag of an empty input: zeros in every mode (max included); a 2-D input with no columns is refused
# as PyTorch (its offsets would step by 0)
@given(mode=st.sampled_from(["sum", "mean", "max"]), bags=st.integers(1, 3), last=st.booleans(),
       pad=st.sampled_from([None, 1]))
def test_embedding_bag_of_empty_bags_is_zeros_in_every_mode(mode, bags, last, pad):
    w = tg.arange(6.0).reshape(3, 2).requires_grad_()
    ids = tg.tensor([1, 1]) if pad is not None else tg.tensor([], dtype=tg.int64)  # (all padding: empty too)
    out = F.embedding_bag(ids, w, tg.zeros(bags, dtype=tg.int64), mode=mode, include_last_offset=last,
                          padding_idx=pad)
    assert tuple(out.shape) == (bags - 1 if last else bags, 2)
    np.testing.assert_array_equal(out.detach().numpy(), 0.0)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 0.0)


@pytest.mark.parametrize("shape", [(0, 0), (2, 0)])
def test_embedding_bag_of_a_2d_input_without_columns_is_refused(shape):
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        F.embedding_bag(tg.zeros(shape, dtype=tg.int64), tg.ones(3, 2))


def test_embedding_bag_of_empty_inputs_matches_pytorch():
    torch = pytest.importorskip("torch")
    for mode in ("sum", "mean", "max"):
        for args, kw in [(("e", (3, 2), [0, 0]), {}), (("e", (3, 2), [0]), {}),
                         (("e", (3, 2), [0, 0]), dict(include_last_offset=True)), (("e", (0, 2), [0, 0]), {}),
                         (((0, 0), (3, 2), None), {}), (((2, 0), (3, 2), None), {}), (((0, 2), (3, 2), None), {})]:
            def call(lib, args=args, kw=kw, mode=mode):
                ids = lib.tensor([], dtype=lib.int64) if args[0] == "e" else lib.zeros(args[0], dtype=lib.int64)
                off = None if args[2] is None else lib.tensor(args[2])
                return lib.nn.functional.embedding_bag(ids, lib.ones(args[1]), off, mode=mode, **kw)
            (e_t, r_t), (e_g, r_g) = _both_ways(lambda call=call: call(torch), lambda call=call: call(tg))
            assert e_t == e_g, (mode, args, kw, e_t, e_g)
            if e_t is None:
                assert tuple(r_g.shape) == tuple(r_t.shape)
                np.testing.assert_array_equal(r_g.numpy(), r_t.numpy())


# ---- interpolate(antialias=True): PyTorch's separable filters (triangle / Keys cubic a=-0.5 stretched by the
# scale when downsampling, normalized); PyTorch 2.13 is wrong for an output width of 1 with the height resampled
AA_CASES = [((1, 2, 8, 4), dict(size=(2, 4))), ((1, 2, 8, 4), dict(scale_factor=0.5)),
            ((1, 2, 5, 7), dict(size=(9, 3))), ((1, 1, 3, 3), dict(scale_factor=2.0)),
            ((2, 1, 7, 5), dict(scale_factor=0.45)), ((1, 1, 4, 6), dict(size=(4, 1))),
            ((1, 1, 6, 5), dict(size=(3, 4), align_corners=True))]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize(("shape", "kw"), AA_CASES)
def test_interpolate_antialias_matches_pytorch(mode, shape, kw):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape)
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ot = torch.nn.functional.interpolate(xt, mode=mode, antialias=True, **kw)
    og = F.interpolate(xg, mode=mode, antialias=True, **kw)
    np.testing.assert_allclose(og.detach().numpy(), ot.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert og.grad_fn.name() == ot.grad_fn.name()
    g = np.random.default_rng(1).standard_normal(tuple(ot.shape))
    ot.backward(torch.tensor(g))
    og.backward(tg.tensor(g))
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@given(h=st.integers(1, 5), w=st.integers(1, 5), oh=st.integers(1, 6), ow=st.integers(1, 6),
       mode=st.sampled_from(["bilinear", "bicubic"]), seed=st.integers(0, 2**16))
def test_interpolate_antialias_keeps_constants_and_is_separable(h, w, oh, ow, mode, seed):
    rng = np.random.default_rng(seed)
    c = float(rng.standard_normal())
    out = F.interpolate(tg.full((1, 1, h, w), c, dtype=tg.float64), size=(oh, ow), mode=mode, antialias=True)
    np.testing.assert_allclose(out.numpy(), c, rtol=1e-12)  # the weights of every window sum to 1
    col = rng.standard_normal((1, 1, h, 1))  # a column to width 1 = the column repeated to width 2, to width 2
    one = F.interpolate(tg.tensor(col), size=(oh, 1), mode=mode, antialias=True).numpy()[..., 0]
    two = F.interpolate(tg.tensor(np.repeat(col, 2, axis=3)), size=(oh, 2), mode=mode, antialias=True).numpy()
    np.testing.assert_allclose(one, two[..., 0], rtol=1e-12, atol=1e-12)
    x = tg.tensor(rng.standard_normal((1, 1, h, w)))
    assert_gradients(lambda t: F.interpolate(t, size=(oh, ow), mode=mode, antialias=True), x)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("batch", [1, 0])
def test_interpolate_antialias_refuses_float16_as_pytorch(mode, batch):
    """PyTorch's antialias weights have no float16 kernel (an empty batch too); without antialias float16 works."""
    x = tg.ones((batch, 1, 2, 2), dtype=tg.float16)
    with pytest.raises(NotImplementedError, match="\"compute_index_ranges_weights\" not implemented for 'Half'"):
        tg.nn.functional.interpolate(x, size=(3, 3), mode=mode, antialias=True)
    assert tg.nn.functional.interpolate(x, size=(3, 3), mode=mode).dtype == tg.float16


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize(("shape", "size"), [((1, 1, 1, 1), (1, 1)), ((2, 1, 3, 2), (3, 2)), ((1, 2, 1, 3), (1, 3))])
def test_interpolate_antialias_float16_to_its_own_size_is_a_copy(mode, shape, size):
    """PyTorch's antialias kernel resamples only the dims whose size changes (UpSampleKernel.cpp,
    separable_upsample_generic_Nd_kernel_impl): to the same size it copies, so float16 works there (its weights,
    which have no float16 kernel, are never computed); the backward of float16 antialias fails, as PyTorch's."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float16)
    xg = tg.tensor(x, requires_grad=True)
    out = F.interpolate(xg, size=size, mode=mode, antialias=True)
    assert out.dtype == tg.float16
    np.testing.assert_array_equal(out.detach().numpy(), x)
    assert out.detach().numpy().ctypes.data != xg.detach().numpy().ctypes.data
    with pytest.raises(NotImplementedError, match=f"upsample_{mode}2d_aa_backward_cpu\" not implemented for 'Half'"):
        out.sum().backward()


def test_interpolate_antialias_copies_a_kept_dim_with_inf():
    # a kept dim is copied, not resampled with weights [0, 1, 0] (0 * inf = NaN beside an inf)
    x = np.array([[[[3.0, np.inf, -2.0], [0.5, 4.0, 7.0]]]], np.float32)
    out = F.interpolate(tg.tensor(x), size=(3, 3), mode="bilinear", antialias=True).numpy()
    np.testing.assert_array_equal(out, [[[[3.0, np.inf, -2.0], [1.75, np.inf, 2.5], [0.5, 4.0, 7.0]]]])


def test_interpolate_float32_sums_with_fused_multiply_adds():
    """float32 interpolation adds each tap as PyTorch's compiled kernel does, one fused multiply-add per tap: a
    product past float32's range that the sum brings back stays finite (the differential test's repro: antialias
    bicubic, 3.39e38 there, inf from the rounded product before), and where large terms cancel the result carries
    the first product's rounding as PyTorch's (bicubic, 4.1e20 where the exact sum is -1.36)."""
    x = np.array([[[[-0.25, 3.0, 1e5], [6e4, -1.0, -0.25], [0.5, 1e-7, 0.5], [-3.0, 1e-7, 3e38]],
                   [[0.0, -1.0, 1e-7], [1e5, 3.0, 2.0], [3.0, -3e38, -3.0], [3e38, 0.0, 3e38]]]], np.float32)
    out = F.interpolate(tg.tensor(x), scale_factor=1.5, mode="bicubic", align_corners=False, antialias=True)
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_allclose(out.numpy()[0, 1, 5, 0], 3.3947367e38, rtol=1e-6)
    y = np.array([[[[-3.0, 0.5], [-1e30, 1e30], [-2.5, 0.5], [1e5, 1.0]]]], np.float32)
    col = F.interpolate(tg.tensor(y), scale_factor=1.5, mode="bicubic").numpy()[0, 0, :, 1]
    np.testing.assert_allclose(col[:5], [-4.0992777e20, 2.8039051e21, 4.4545470e21, 7.5973249e20, -4.4272186e20],
                               rtol=1e-6)
    torch = pytest.importorskip("torch")
    for xs, kw in ((x, dict(antialias=True)), (y, {})):
        want = torch.nn.functional.interpolate(torch.tensor(xs), scale_factor=1.5, mode="bicubic", **kw).numpy()
        got = F.interpolate(tg.tensor(xs), scale_factor=1.5, mode="bicubic", **kw).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(xs).max())  # (cancellation noise)


_F32 = st.floats(-2.0 ** 60, 2.0 ** 60, width=32, allow_subnormal=False)


@given(_F32, _F32, _F32)
@example(1 + 3 * 2.0 ** -23, 1.5, 2.0 ** -100)  # x w is a float32 tie (to even: down); c, lost in float64, says up
def test_sum_to_odd_rounds_a_float32_multiply_add_once(x, w, c):
    """ops/_fused.sum_to_odd: float32(x * w + c) computed in float64 rounds once, as a float32 fused multiply-add,
    where a plain float64 sum of the exact product and a c too small to keep rounds twice."""
    from fractions import Fraction

    from tapegrad.ops._fused import sum_to_odd

    exact = Fraction(x) * Fraction(w) + Fraction(c)
    got = sum_to_odd(np.float64(x) * np.float64(w), np.float64(c)).astype(np.float32)
    near = np.float32(float(exact))  # within one float32 step of the correctly rounded value
    steps = [near, np.nextafter(near, np.float32(np.inf)), np.nextafter(near, np.float32(-np.inf))]
    best = min(steps, key=lambda v: (abs(Fraction(float(v)) - exact), int(v.view(np.uint32)) & 1))
    assert got == best


# (W_in, W_out, output, input element, PyTorch 2.13's weight there): the last tap at (1 - t) + 1, not 2 - t; a
# negative source index (t = index + 1 shows its every bit); two taps clipped onto one element
BICUBIC_WEIGHTS = [(5, 11, 1, 2, -0.020285499624342673), (2, 35, 1, 1, -0.10659402332361534),
                   (4, 11, 2, 0, 0.6018970698722766)]


@pytest.mark.parametrize(("w_in", "w_out", "o", "j", "want"), BICUBIC_WEIGHTS)
def test_interpolate_bicubic_float64_weights_are_pytorchs(w_in, w_out, o, j, want):
    """A one-hot row resampled to one row (height weights [0, 1, 0, 0]) gives PyTorch's float64 bicubic weight:
    get_cubic_upsample_coefficients (UpSample.h) as compiled, its first multiply-add in each polynomial fused."""
    x = np.zeros((1, 1, 1, w_in))
    x[..., j] = 1.0
    assert F.interpolate(tg.tensor(x), size=(1, w_out), mode="bicubic").numpy()[0, 0, 0, o] == want


BICUBIC_1E30 = np.array([[[[1e-30, 0.0], [5e-324, 0.0], [3.0, 1e30], [-1e30, 0.0]]]])


@given(dtype=st.sampled_from(["float32", "float64"]), h=st.integers(2, 5), w=st.integers(2, 5),
       scale=st.sampled_from([0.7, 1.3, 1.5, 2.0, 3.0]), align_corners=st.booleans(), seed=st.integers(0, 2**16))
@example(dtype="float64", h=4, w=2, scale=1.5, align_corners=False, seed=-1)  # the differential test's repro
@settings(max_examples=40, deadline=None)
def test_interpolate_bicubic_is_pytorchs_bit_for_bit(dtype, h, w, scale, align_corners, seed):
    """bicubic sums each axis's four taps as PyTorch's compiled kernel: fma(x0, w0, x1 w1), then one fused
    multiply-add per tap, float64 too, so where 1e30 terms cancel the residue is PyTorch's (1.8e13 at the corner
    of the repro; 1.1e13 before). Its gradient accumulates as PyTorch's backward (a file built without FMA): output
    by output, the width's taps outer, g * y * x rounded step by step, with unfused weights."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed if seed >= 0 else 0)
    x = BICUBIC_1E30 if seed < 0 else rng.standard_normal((1, 2, h, w)) * 10.0 ** rng.integers(-3, 30, (1, 2, h, w))
    x = x.astype(dtype)
    ours, theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        got = F.interpolate(ours, scale_factor=scale, mode="bicubic", align_corners=align_corners)
    want = torch.nn.functional.interpolate(theirs, scale_factor=scale, mode="bicubic", align_corners=align_corners)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    if want.shape == theirs.shape:  # PyTorch's backward copies there (test_bicubic_kept_size_gradient_is_the_adjoint)
        return
    g = (rng.standard_normal(tuple(want.shape)) * 10.0 ** rng.integers(-3, 30, tuple(want.shape))).astype(dtype)
    with np.errstate(all="ignore"):
        got.backward(tg.tensor(g))
    want.backward(torch.tensor(g))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


TRILINEAR_1E38 = np.array([[[[[-0.25, -0.25], [6e4, 3.0], [1e5, -3e38]], [[6e4, 3.0], [1e30, 1e-7], [3e38, 2.0]]],
                             [[[3e38, 0.5], [-1e30, -2.5], [-1.0, -1e30]], [[2.0, -0.25], [3.0, -3e38], [0.0, 3e38]]]]])


def test_trilinear_float64_sums_as_pytorchs_kernel():
    """Each axis's two taps are fma(x0, w0, x1 w1) (PyTorch's ``t0 * w0 + t1 * w1`` as compiled), so where 3e38
    terms cancel the residue is PyTorch 2.13's (the differential test's repro: 9.375000141069996e+28 and 0.0 before,
    the plain sum's)."""
    y = F.interpolate(tg.tensor(TRILINEAR_1E38), size=5, mode="trilinear", align_corners=True).numpy()
    assert y[0, 0, 1, 3, 1] == 9.37500037718832e+28
    assert y[0, 0, 1, 4, 1] == 4.722366482869645e+21
    assert y[0, 1, 1, 1, 3] == -9.37500037718832e+28


@given(mode=st.sampled_from(["linear", "bilinear", "trilinear"]), dtype=st.sampled_from(["float16", "float32",
                                                                                       "float64"]),
       align_corners=st.booleans(), seed=st.integers(0, 2**16))
@example(mode="trilinear", dtype="float64", align_corners=True, seed=-1)  # the differential test's repro
@settings(max_examples=40, deadline=None)
def test_interpolate_linear_modes_are_pytorchs_bit_for_bit(mode, dtype, align_corners, seed):
    """linear, bilinear (outputs past the small-output kernel's 128) and trilinear sum as PyTorch's nested kernel:
    fma(x0, w0, x1 w1) per axis, the width innermost, over values from 1e-3 to 1e30; their gradients accumulate as
    its backward kernel, output by output, one fused multiply-add per tap (an inf and a NaN gradient included).
    float16 computes in float32 with the forward's weights rounded to float16 (lambda0 = 1 - lambda1 from the
    rounded lambda1) and the backward's not."""
    torch = pytest.importorskip("torch")
    d = {"linear": 1, "bilinear": 2, "trilinear": 3}[mode]
    rng = np.random.default_rng(max(seed, 0))
    if seed < 0:
        x, size = TRILINEAR_1E38, (5, 5, 5)
    else:
        shape = (1, 2) + tuple(int(n) for n in rng.integers(1, 5, d))
        x = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3 if dtype == "float16" else 30, shape)
        size = (70, 63) if d == 2 else tuple(int(n) for n in rng.integers(1, 9, d))
    x = x.astype(dtype)
    top = 3 if dtype == "float16" else 30
    g = (rng.standard_normal((1, 2) + size) * 10.0 ** rng.integers(-3, top, (1, 2) + size)).astype(dtype)
    g.flat[0], g.flat[-1] = np.inf, np.nan
    ours, theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        got = F.interpolate(ours, size=size, mode=mode, align_corners=align_corners)
        got.backward(tg.tensor(g))
    want = torch.nn.functional.interpolate(theirs, size=size, mode=mode, align_corners=align_corners)
    want.backward(torch.tensor(g))
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_interpolate_antialias_weights_are_pytorchs_bit_for_bit(mode, dtype):
    """One-hot rows resampled with antialias=True give PyTorch's weights: its window sums left to right (numpy's
    sum is pairwise from 8 terms), float32's offsets from the window's center in double (its ``+ 0.5`` literal) and
    the cubic filter's multiply-adds fused, float64 too."""
    torch = pytest.importorskip("torch")
    for n_in in range(2, 12):
        eye = np.eye(n_in, dtype=dtype).reshape(n_in, 1, 1, n_in)
        for n_out in range(1, 12):
            for align_corners in (False, True):
                kw = dict(size=(1, n_out), mode=mode, align_corners=align_corners, antialias=True)
                want = torch.nn.functional.interpolate(torch.tensor(eye), **kw).numpy()
                got = F.interpolate(tg.tensor(eye), **kw).numpy()
                np.testing.assert_array_equal(got, want, err_msg=f"{n_in} -> {n_out}")


def test_bicubic_kept_size_gradient_is_the_adjoint():
    """A scale factor that keeps the size (2 x 2 by 1.3) still resamples (the source index is scaled): the gradient is
    that map's adjoint; PyTorch 2.13's backward copies the gradient there (KNOWN pytorch-bicubic-kept-size-backward)."""
    x = tg.tensor(np.array([[[[1.0, 2.0], [3.0, 5.0]]]]), requires_grad=True)
    assert tg.autograd.gradcheck(lambda t: F.interpolate(t, scale_factor=1.3, mode="bicubic"), (x,))
    F.interpolate(x, scale_factor=1.3, mode="bicubic").backward(tg.ones(1, 1, 2, 2))
    assert not np.allclose(x.grad.numpy(), 1.0)


def test_interpolate_antialias_bicubic_float32_is_pytorchs_bit_for_bit():
    """The antialias cubic filter's polynomials are fused multiply-adds in PyTorch's compiled kernel too
    (UpSample.h's cubic_convolution1/2): with them and the fused sums the float32 results are PyTorch's, bit for
    bit, even where 3e38 terms cancel (the differential test's repro: 7.5e31 and 1.7e31 before)."""
    torch = pytest.importorskip("torch")
    x = np.array([[[[-0.25, 3.0, 1e5], [6e4, -1.0, -0.25], [0.5, 1e-7, 0.5], [-3.0, 1e-7, 3e38]],
                   [[0.0, -1.0, 1e-7], [1e5, 3.0, 2.0], [3.0, -3e38, -3.0], [3e38, 0.0, 3e38]]]], np.float32)
    rng = np.random.default_rng(0)
    for xs, kw in ((x, dict(scale_factor=1.5)), (rng.standard_normal((2, 2, 5, 7)).astype(np.float32),
                                                 dict(size=(8, 9))), (x, dict(size=(5, 5), align_corners=True))):
        # (upsampling: downsampling stretches the filter, and there the weights may still differ in a last bit)
        want = torch.nn.functional.interpolate(torch.tensor(xs), mode="bicubic", antialias=True, **kw).numpy()
        got = F.interpolate(tg.tensor(xs), mode="bicubic", antialias=True, **kw).numpy()
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@given(st.lists(st.sampled_from([2.6, -1.9, 0.0, 1e-200, 3e38]), min_size=2, max_size=4), st.booleans(),
       st.sampled_from([0.0, 1e-5]))
@example([2.6, 2.6], True, 0.0)  # a constant set with eps=0: invstd is 0, the output is the bias
@example([1e-200, 0.0], False, 0.0)  # deviations whose squares underflow: variance 0 as well
def test_instance_norm_eps_zero_constant_set_is_the_bias_as_pytorchs_inv_std(vals, affine, eps):
    # PyTorch's InvStd (aten/src/ATen/native/Normalization.cpp): invstd = 0 where var == 0 and eps == 0, so
    # the output is x * 0 + bias and every gradient through rstd is 0 (tapegrad: 0 * inf = nan before)
    x = np.array([vals, [2.6] * len(vals)], dtype=np.float64).reshape(1, 2, len(vals))
    w = np.array([1.5, -0.5]) if affine else None
    b = np.array([1e300, 2.0]) if affine else None

    def run(lib):
        xt = lib.tensor(x, requires_grad=True)
        wt = None if w is None else lib.tensor(w, requires_grad=True)
        bt = None if b is None else lib.tensor(b, requires_grad=True)
        out = lib.nn.functional.instance_norm(xt, weight=wt, bias=bt, eps=eps)
        (out * lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))).sum().backward()
        return [out.detach().numpy(), xt.grad.numpy()] + ([wt.grad.numpy(), bt.grad.numpy()] if affine else [])

    with np.errstate(all="ignore"):
        got = run(tg)
    if eps == 0:  # channel 1 is constant: the bias (0 without one), zero gradients
        np.testing.assert_array_equal(got[0][0, 1], np.full(len(vals), 2.0 if affine else 0.0))
        np.testing.assert_array_equal(got[1][0, 1], 0)
        if affine:
            assert got[2][1] == 0
    assert not np.isnan(got[0][0, 1]).any()
    torch = pytest.importorskip("torch")
    with np.errstate(all="ignore"):
        want = run(torch)
    for g, t in zip(got, want):
        np.testing.assert_allclose(g, t, rtol=1e-6, atol=1e-12)


@given(st.lists(st.integers(0, 2), min_size=0, max_size=5), st.data(), st.sampled_from(["sum", "mean", "max"]),
       st.sampled_from([None, 1]))
@example([0, 1, 0, 1], None, "sum", None)  # last offset 0: every index after it joins the last bag
def test_embedding_bag_indices_after_the_last_offset_join_the_last_bag(ids, data, mode, padding_idx):
    # include_last_offset: PyTorch's generic kernel (float64, padding_idx, max) puts the indices after the last
    # offset in the last bag (EmbeddingBag.cpp, make_offset2bag); its float32 fast path drops them from the sum
    # only (the KNOWN entry pytorch-embedding-bag-last-offset-drops-indices): tapegrad follows the generic kernel
    n = len(ids)
    offs = [0, 0] if data is None else [0] + sorted(data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3)))
    w = np.array([[-0.0, 1.5, -0.0], [-1.0, -3.0, 0.5], [2.0, 4.0, 8.0]])
    got = F.embedding_bag(tg.tensor(ids, dtype=tg.int64), tg.tensor(w), tg.tensor(offs), mode=mode,
                          include_last_offset=True, padding_idx=padding_idx).numpy()
    starts = offs[:-1]
    bags = [ids[s:e] for s, e in zip(starts, starts[1:] + [n])]
    for row, bag in zip(got, bags):
        kept = [i for i in bag if i != padding_idx]
        if not kept:
            np.testing.assert_array_equal(row, 0)
        elif mode == "max":
            np.testing.assert_array_equal(row, w[kept].max(0))
        else:
            want = w[kept].sum(0) / (len(kept) if mode == "mean" else 1)
            np.testing.assert_allclose(row, want)
    torch = pytest.importorskip("torch")
    if len(offs) > 1:  # (no bag: PyTorch 2.13 crashes in max mode)
        want = torch.nn.functional.embedding_bag(torch.tensor(ids, dtype=torch.int64), torch.tensor(w),
                                                 torch.tensor(offs), mode=mode, include_last_offset=True,
                                                 padding_idx=padding_idx).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert np.array_equal(np.signbit(got), np.signbit(want))


def test_embedding_bag_without_a_bag_is_empty():
    # one offset with include_last_offset (or no offset) makes no bag: an empty (0, D) result and zero gradients
    # (PyTorch 2.13 gives the same shape; its backward reads uninitialized memory there)
    for offs, last in (([0], True), ([], False)):
        w = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        for mode in ("sum", "mean"):
            out = F.embedding_bag(tg.tensor([0, 1, 1]), w, tg.tensor(offs, dtype=tg.int64), mode=mode,
                                  include_last_offset=last)
            assert tuple(out.shape) == (0, 2)
            out.sum().backward()
            np.testing.assert_array_equal(w.grad.numpy(), 0)


# ---- bilinear's small outputs: PyTorch's channels-last kernel (UpSampleKernel.cpp), taken for H + W <= 128
_EDGE_VALUES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5, 0.5, 3.0, -0.25, 6e4, 1e-7]


def test_bilinear_float16_keeps_its_float32_weights():
    """float16 bilinear weighs in float32 (PyTorch's opmath): the weight 1e-8 of the second tap of a column resized
    from 1 to 3 is not rounded to 0, so -inf * 1e-8 adds -inf, not -inf * 0 = NaN (the differential test's repro)."""
    x = tg.tensor([[[[-2.5], [0.0]], [[0.0], [-np.inf]]]], dtype=tg.float16)
    with np.errstate(all="ignore"):
        out = F.interpolate(x, size=3, mode="bilinear", align_corners=False).numpy()
    np.testing.assert_array_equal(out[0, 1], [[np.nan] * 3, [np.nan, -np.inf, -np.inf], [np.nan, -np.inf, -np.inf]])
    np.testing.assert_array_equal(out[0, 0], [[-2.5] * 3, [-1.25] * 3, [0.0] * 3])


def test_bilinear_small_output_sums_x00_w00_first():
    """The four products are summed in PyTorch's order with its fused multiply-adds, so the signs of zeros where
    they cancel are PyTorch's (float16: +0.0 and -0.0 here; -0.0 and -6e-8 summed as the separable kernel)."""
    x = tg.tensor([[[[-3.0, -1.0, 1.5], [-3.0, -0.25, 0.5], [1.0, 0.5, -1.0], [-2.5, 0.5, 2.0]]]],
                  dtype=tg.float16)
    out = F.interpolate(x, scale_factor=3, mode="bilinear").numpy()[0, 0]
    assert out[5, 5] == 0 and not np.signbit(out[5, 5])
    assert out[6, 5] == 0 and np.signbit(out[6, 5])


@given(dtype=st.sampled_from(["float16", "float32", "float64"]), h=st.integers(1, 5), w=st.integers(1, 5),
       oh=st.integers(1, 9), ow=st.integers(1, 9), align_corners=st.booleans(), by_scale=st.booleans(),
       seed=st.integers(0, 2**16))
@example(dtype="float16", h=2, w=1, oh=3, ow=3, align_corners=False, by_scale=False, seed=5)
@example(dtype="float64", h=3, w=4, oh=7, ow=9, align_corners=True, by_scale=True, seed=1)
@settings(deadline=None)
def test_bilinear_small_outputs_are_pytorchs_bit_for_bit(dtype, h, w, oh, ow, align_corners, by_scale, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((2, 2, h, w)) < 0.3, rng.choice(_EDGE_VALUES, (2, 2, h, w)),
                 rng.standard_normal((2, 2, h, w)) * 10)
    kw = dict(scale_factor=(oh / h, ow / w), recompute_scale_factor=False) if by_scale else dict(size=(oh, ow))
    with np.errstate(all="ignore"):
        got = F.interpolate(tg.tensor(x, dtype=getattr(tg, dtype)), mode="bilinear", align_corners=align_corners,
                            **kw).numpy()
    want = torch.nn.functional.interpolate(torch.tensor(x, dtype=getattr(torch, dtype)), mode="bilinear",
                                           align_corners=align_corners, **kw).numpy()
    np.testing.assert_array_equal(got, want)  # (NaN where PyTorch has NaN)
    np.testing.assert_array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)]))


@given(mode=st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]),
       antialias=st.booleans(), c=st.integers(1, 3), n=st.integers(1, 3), scale=st.sampled_from([1.5, 2, 3]))
@example(mode="bilinear", antialias=False, c=2, n=1, scale=2)  # (1, 2, 1, 1) to (1, 2, 2, 2): a small output
@settings(deadline=None)
def test_interpolate_of_a_contiguous_input_is_contiguous(mode, antialias, c, n, scale):
    """As PyTorch's: the result is a new row-major tensor, so ``view`` takes it (the small-output bilinear kernel's
    gather used to lay it out channels-last: ``view(4, 2)`` of a (1, 2, 2, 2) result raised)."""
    d = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode, 2)
    antialias = antialias and mode in ("bilinear", "bicubic")
    x = tg.tensor(np.random.default_rng(n).standard_normal((2, c) + (n,) * d), dtype=tg.float16)
    if not antialias:  # (antialias has no float16 kernel)
        y = F.interpolate(x, scale_factor=scale, mode=mode)
        assert y.is_contiguous() and y.stride() == tg.empty(y.shape).stride()
        y.view(-1, y.shape[-1])
    y = F.interpolate(x.double(), scale_factor=scale, mode=mode, antialias=antialias)
    assert y.is_contiguous() and y.stride() == tg.empty(y.shape).stride()


# ---- antialias: a tap past a window's end is not added (PyTorch's loop stops at the window's size)
def test_antialias_keeps_minus_zero():
    x = tg.tensor([[[[-np.inf], [-0.0]], [[3.0], [1.5]]]], dtype=tg.float64)
    out = F.interpolate(x, size=(2, 2), mode="bilinear", antialias=True).numpy()[0, 0]
    np.testing.assert_array_equal(out, [[-np.inf, -np.inf], [0.0, 0.0]])
    assert np.signbit(out[1]).all()  # -0.0 * 1, with no +0.0 of a tap past the window added


@given(dtype=st.sampled_from(["float32", "float64"]), mode=st.sampled_from(["bilinear", "bicubic"]),
       h=st.integers(1, 5), w=st.integers(1, 5), oh=st.integers(1, 8), ow=st.integers(2, 8),
       seed=st.integers(0, 2**16))
@example(dtype="float32", mode="bilinear", h=2, w=1, oh=6, ow=3, seed=0)
@settings(deadline=None)
def test_antialias_zeros_infinities_and_nan_are_pytorchs(dtype, mode, h, w, oh, ow, seed):
    """(An output width of 1 is left out: PyTorch 2.13 is wrong there, KNOWN
    pytorch-interpolate-antialias-width-one.)"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((2, 2, h, w)) < 0.5, rng.choice(_EDGE_VALUES[:6], (2, 2, h, w)),
                 rng.standard_normal((2, 2, h, w)))
    with np.errstate(all="ignore"):
        got = F.interpolate(tg.tensor(x, dtype=getattr(tg, dtype)), size=(oh, ow), mode=mode, antialias=True).numpy()
    want = torch.nn.functional.interpolate(torch.tensor(x, dtype=getattr(torch, dtype)), size=(oh, ow), mode=mode,
                                           antialias=True).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got) * np.sign(got), np.isinf(want) * np.sign(want))
    zeros = (got == 0) & (want == 0)
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(8, 4), (3, 5), (8, 2)])
def test_interpolate_antialias_backward_skips_the_taps_past_a_window(mode, size):
    # PyTorch's antialias backward kernel loops over each output's window only: an inf or NaN gradient reaches no
    # input through a tap past the window's end (its weight is 0 there; 0 * inf would be NaN)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 1, 4, 3))
    g = rng.standard_normal((1, 1) + size)
    g[0, 0, 1, 0], g[0, 0, -1, -1], g[0, 0, 0, -1] = np.inf, -np.inf, np.nan
    t = tg.tensor(x, requires_grad=True)
    F.interpolate(t, size=size, mode=mode, antialias=True).backward(tg.tensor(g))
    got = t.grad.numpy()
    if mode == "bilinear" and size != (3, 5):
        assert np.isfinite(got).any()  # the windows are narrow: the inputs far from the inf see none of it
    torch = pytest.importorskip("torch")
    u = torch.tensor(x, requires_grad=True)
    torch.nn.functional.interpolate(u, size=size, mode=mode, antialias=True).backward(torch.tensor(g))
    want = u.grad.numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@given(mode=st.sampled_from(["nearest", "nearest-exact"]), d=st.sampled_from([1, 2, 3]),
       dtype=st.sampled_from(["uint8", "float32", "float64"]), n=st.integers(2, 4),
       scale=st.sampled_from([0.9, 1.1, 1.3, 1.5, 2.05, 2.3, 3.0]))
@example(mode="nearest", d=1, dtype="uint8", n=3, scale=1.1)  # kept size: 1-d/3-d kernels still scale the index
@example(mode="nearest", d=3, dtype="float32", n=3, scale=2.05)  # doubled size: no halving shortcut in 3-d
@example(mode="nearest", d=2, dtype="float32", n=3, scale=1.1)  # 2-d: nearest_idx's shortcut copies
@example(mode="nearest-exact", d=2, dtype="float64", n=3, scale=1.3)  # nearest-exact: never a shortcut
@settings(deadline=None)
def test_interpolate_nearest_by_scale_factor_and_of_uint8_matches_pytorch(mode, d, dtype, n, scale):
    # PyTorch 2.13's nearest kernels take uint8 (UpSampleKernel.cpp dispatches floating types and kByte); its 2-d
    # 'nearest' copies a kept size and halves a doubled one (nearest_idx, UpSample.h), its 1-d/3-d 'nearest' and
    # every 'nearest-exact' index by the scale factor alone
    shape = (2, 2) + (n,) * d
    a = (np.arange(int(np.prod(shape))) * 37 % 251).reshape(shape).astype(dtype)
    y = F.interpolate(tg.tensor(a), scale_factor=scale, mode=mode)
    assert y.dtype == getattr(tg, dtype)
    out = [int(np.floor(n * scale))] * d
    assert tuple(y.shape) == shape[:2] + tuple(out)
    assert set(np.unique(y.numpy())) <= set(np.unique(a))  # nearest only picks
    if dtype == "uint8" and mode == "nearest":
        with pytest.warns(UserWarning, match="deprecated"):
            np.testing.assert_array_equal(F.upsample_nearest(tg.tensor(a), scale_factor=scale).numpy(), y.numpy())
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.interpolate(torch.tensor(a), scale_factor=scale, mode=mode)
    np.testing.assert_array_equal(y.numpy(), want.numpy())


def test_interpolate_of_integer_tensors_other_than_nearest_uint8_raises():
    with pytest.raises(NotImplementedError, match=r"mode 'linear' is not implemented for uint8"):
        F.interpolate(tg.zeros(1, 1, 3, dtype=tg.uint8), size=5, mode="linear")
    with pytest.raises(NotImplementedError, match=r"mode 'nearest' is not implemented for int16"):
        F.interpolate(tg.zeros(1, 1, 3, dtype=tg.int16), size=5)


@given(dtype=st.sampled_from(["float32", "float64"]), n_out=st.integers(7, 200))
@example(dtype="float32", n_out=55)  # t = 0.8333334: the unfused far weight is -0.017360687, PyTorch's -0.017360926
@settings(max_examples=20, deadline=None)
def test_bicubic_interior_weights_are_pytorchs_bit_for_bit(dtype, n_out):
    # PyTorch 2.13's get_cubic_upsample_coefficients (aten/src/ATen/native/UpSample.h) as compiled: the first two
    # multiply-adds of cubic_convolution2 are fused, its last one and cubic_convolution1's are not. The weights of
    # a 37-row input are read off an identity; the rows whose taps are clipped at an edge are left out
    n_in = 37
    eye = np.eye(n_in, dtype=dtype).reshape(n_in, 1, n_in, 1)
    w = F.interpolate(tg.tensor(eye), size=(n_out, 1), mode="bicubic").numpy()[:, 0, :, 0]
    s = np.float32(n_in) / np.float32(n_out) if dtype == "float32" else n_in / n_out
    src = (np.arange(n_out) + 0.5) * s - 0.5
    inner = (np.floor(src) >= 1) & (np.floor(src) <= n_in - 3)
    np.testing.assert_allclose(w.sum(0), 1, rtol=1e-5)
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.interpolate(torch.tensor(eye), size=(n_out, 1), mode="bicubic").numpy()[:, 0, :, 0]
    np.testing.assert_array_equal(w[:, inner], want[:, inner])


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_saves_repeated_copies_of_weight_and_bias(use_input_stats):
    # PyTorch's instance_norm hands batch_norm weight.repeat(N) and bias.repeat(N), copies: a write into weight or
    # bias after the forward leaves the backward alone, with the running statistics used or not
    x = tg.tensor([[-1.9, 2.6, 2.6], [-2.2, 0.05, 0.85], [-0.45, 0.3, 0.85]], dtype=tg.float64)[None].repeat(2, 1, 1)
    x.requires_grad_()
    w = tg.tensor([-1.0, 3.0, 1.0], dtype=tg.float64, requires_grad=True)
    b = tg.tensor([-0.25, 1.0, -2.5], dtype=tg.float64, requires_grad=True)
    rm, rv = tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)
    out = F.instance_norm(x, rm, rv, w, b, use_input_stats=use_input_stats, momentum=0.0)
    with tg.no_grad():
        w.mul_(2)
        b.add_(1)
    out.sum().backward()
    assert x.grad is not None and w.grad is not None and b.grad.tolist() == [6.0, 6.0, 6.0]


@pytest.mark.parametrize("fn", ["instance_norm", "batch_norm", "group_norm"])
def test_norm_gradient_with_a_channels_last_incoming_gradient_is_the_derivative(fn):
    """(seed 1121) the result transposed, so the gradient that comes back is channels-last while the input is
    contiguous: the gradient is still the derivative (PyTorch 2.13's CPU batch_norm backward is wrong there: KNOWN
    pytorch-batch-norm-channels-last-grad)."""
    F = tg.nn.functional
    norm = {"instance_norm": F.instance_norm, "group_norm": lambda x: F.group_norm(x, 2),
            "batch_norm": lambda x: F.batch_norm(x, None, None, training=True)}[fn]
    x = np.array([[[[1.0], [0.0], [0.0]], [[-2.5], [-2.5], [1.5]]]])
    w = tg.tensor(np.array([[[[-0.5], [2.0]], [[0.25], [-1.5]], [[0.75], [-2.0]]]]))
    assert_gradients(lambda t: (norm(t).permute(3, 2, 1, 0) * w).sum(), x)
    t = tg.tensor(x, requires_grad=True)
    (norm(t).permute(3, 2, 1, 0) * w).sum().backward()
    np.testing.assert_allclose(t.grad.numpy().ravel(), [-0.0001, -0.5303, 0.5303, 0.9281, -0.9281, 0.0], atol=1e-4)
