"""conv1d, conv3d, the transposed convolutions, conv_tbc, unfold and fold (tapegrad/ops/conv_nd.py): forward against
conv2d and the adjoint identities, gradients against float64 finite differences (first and second order),
PyTorch's numbers and node names when PyTorch is installed, and argument errors."""

import doctest
import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad import _cpu
from tapegrad.autograd import gradgradcheck
from tapegrad.ops import conv_nd
from tapegrad.testing import arrays, assert_gradients


def test_docstring_examples():
    assert doctest.testmod(conv_nd, raise_on_error=False).failed == 0


@st.composite
def conv1d_case(draw):
    n, g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c, o = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k, s, dl, p = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(0, 2))
    length = draw(st.integers(dl * (k - 1) + 1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    return (rng.standard_normal((n, c, length)), rng.standard_normal((o, c // g, k)), rng.standard_normal(o),
            s, p, dl, g)


@given(conv1d_case())
def test_conv1d_is_conv2d_over_one_row(case):
    x, w, b, s, p, dl, g = case
    ours = F.conv1d(tg.tensor(x), tg.tensor(w), tg.tensor(b), s, p, dl, g)
    ref = F.conv2d(tg.tensor(x[:, :, None]), tg.tensor(w[:, :, None]), tg.tensor(b), (1, s), (0, p), (1, dl), g)
    np.testing.assert_allclose(ours.numpy(), ref.numpy()[:, :, 0], rtol=1e-10, atol=1e-12)


@given(conv1d_case())
def test_conv1d_gradients(case):
    x, w, b, s, p, dl, g = case
    assert_gradients(lambda x, w, b: F.conv1d(x, w, b, s, p, dl, g), x, w, b)


@given(conv1d_case(), st.integers(0, 1))
def test_conv_transpose1d_is_the_adjoint_of_conv1d(case, extra):
    x, w, _, s, p, dl, g = case
    y = F.conv1d(tg.tensor(x), tg.tensor(w), None, s, p, dl, g)
    op = extra if extra < max(s, dl) else 0
    h = np.random.default_rng(1).standard_normal(y.shape)
    t = F.conv_transpose1d(tg.tensor(h), tg.tensor(w), None, s, p, op, g, dl)
    if t.shape[-1] != x.shape[-1]:  # output_padding picked another length: compare on the common part
        return
    lhs = float((y.numpy() * h).sum())
    rhs = float((x * t.numpy()).sum())
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


@given(conv1d_case(), st.integers(0, 1))
def test_conv_transpose1d_gradients_first_and_second_order(case, extra):
    x, w, b, s, p, dl, g = case
    w = np.swapaxes(w.reshape(g, -1, *w.shape[1:]), 1, 2).reshape(x.shape[1], -1, w.shape[-1])
    op = extra if extra < max(s, dl) else 0
    b = b[:w.shape[1] * g]
    fn = lambda x, w, b: F.conv_transpose1d(x, w, b, s, p, op, g, dl)  # noqa: E731
    try:
        fn(tg.tensor(x), tg.tensor(w), tg.tensor(b))
    except RuntimeError:  # output too small for this padding
        return
    assert_gradients(fn, x, w, b)
    args = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
    assert gradgradcheck(fn, tuple(args))


def test_conv3d_gradients_first_and_second_order():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 3, 4, 3)), rng.standard_normal((2, 1, 2, 2, 1)), rng.standard_normal(2)
    fn = lambda x, w, b: F.conv3d(x, w, b, (1, 2, 1), (1, 0, 1), (1, 1, 2), 2)  # noqa: E731
    assert_gradients(fn, x, w, b)
    assert gradgradcheck(fn, tuple(tg.tensor(a, requires_grad=True) for a in (x, w, b)))


def test_conv3d_with_a_flat_kernel_is_conv2d_per_slice():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 4, 5, 6)), rng.standard_normal((4, 3, 1, 3, 2))
    ours = F.conv3d(tg.tensor(x), tg.tensor(w), padding=(0, 1, 1)).numpy()
    for dz in range(4):
        ref = F.conv2d(tg.tensor(x[:, :, dz]), tg.tensor(w[:, :, 0]), padding=1).numpy()
        np.testing.assert_allclose(ours[:, :, dz], ref, rtol=1e-10, atol=1e-12)


def test_unfold_and_fold_are_adjoint_and_differentiable():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 4))
    cols = F.unfold(tg.tensor(x), (2, 3), dilation=(1, 1), padding=1, stride=(2, 1))
    h = rng.standard_normal(cols.shape)
    back = F.fold(tg.tensor(h), (5, 4), (2, 3), dilation=1, padding=1, stride=(2, 1))
    assert float((cols.numpy() * h).sum()) == pytest.approx(float((x * back.numpy()).sum()))
    assert_gradients(lambda x: F.unfold(x, 2, padding=1), x)
    assert_gradients(lambda h: F.fold(h, (5, 4), (2, 3), padding=1, stride=(2, 1)), h)
    assert gradgradcheck(lambda x: F.unfold(x, 2, padding=1) ** 2, (tg.tensor(x, requires_grad=True),))


def test_conv_tbc_is_conv1d_in_time_batch_channel_layout():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((6, 2, 3)), rng.standard_normal((3, 3, 4)), rng.standard_normal(4)
    ours = tg.conv_tbc(tg.tensor(x), tg.tensor(w), tg.tensor(b), 1).numpy()
    ref = F.conv1d(tg.tensor(x.transpose(1, 2, 0)), tg.tensor(w.transpose(2, 1, 0)), tg.tensor(b), padding=1)
    np.testing.assert_allclose(ours, ref.numpy().transpose(2, 0, 1), rtol=1e-10)
    assert_gradients(lambda x, w, b: tg.conv_tbc(x, w, b, 1), x, w, b)


def test_bad_arguments_name_the_op_and_shapes():
    x1, x3 = tg.ones(1, 2, 5), tg.ones(1, 2, 3, 3, 3)
    with pytest.raises(RuntimeError, match="conv1d.*3 channels"):
        F.conv1d(x1, tg.ones(4, 3, 2))
    with pytest.raises(RuntimeError, match="conv3d: expected a 4-D .* or 5-D"):
        F.conv3d(x1, tg.ones(4, 2, 2, 2, 2))
    with pytest.raises(RuntimeError, match="conv1d: .*kernel can't be greater"):
        F.conv1d(x1, tg.ones(4, 2, 7))
    with pytest.raises(RuntimeError, match="conv_transpose2d: output padding must be smaller"):
        F.conv_transpose2d(tg.ones(1, 2, 3, 3), tg.ones(2, 1, 2, 2), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match="conv_transpose3d.*channels"):
        F.conv_transpose3d(x3, tg.ones(3, 1, 2, 2, 2))
    with pytest.raises(RuntimeError, match="conv1d: padding='same' is not supported for strided"):
        F.conv1d(x1, tg.ones(4, 2, 3), stride=2, padding="same")
    with pytest.raises(TypeError, match="conv3d: stride must be an int"):
        F.conv3d(x3, tg.ones(1, 2, 1, 1, 1), stride=1.5)
    with pytest.raises(RuntimeError, match="fold: .*expected size of input's dimension 2"):
        F.fold(tg.ones(1, 4, 5), (3, 3), 2)
    with pytest.raises(RuntimeError, match="conv1d: input dtype"):
        F.conv1d(x1.double(), tg.ones(4, 2, 2))


# ---------------------------------------------------------------------- PyTorch
CASES = [
    ("conv1d", lambda m, x, w, b: m.conv1d(x, w, b, 2, 1, 2, 2), ((2, 4, 9), (6, 2, 3), (6,))),
    ("conv1d same", lambda m, x, w, b: m.conv1d(x, w, b, 1, "same", 2), ((2, 4, 9), (6, 4, 4), (6,))),
    ("conv1d unbatched", lambda m, x, w, b: m.conv1d(x, w, b), ((4, 9), (6, 4, 3), (6,))),
    ("conv3d", lambda m, x, w, b: m.conv3d(x, w, b, (1, 2, 1), (1, 0, 2), (2, 1, 1), 2),
     ((2, 4, 5, 6, 4), (6, 2, 2, 3, 2), (6,))),
    ("conv3d same", lambda m, x, w, b: m.conv3d(x, w, None, 1, "same"), ((1, 2, 4, 4, 3), (3, 2, 2, 3, 2), (3,))),
    ("conv_transpose1d", lambda m, x, w, b: m.conv_transpose1d(x, w, b, 3, 1, 2, 2, 1), ((2, 4, 5), (4, 3, 3), (6,))),
    ("conv_transpose2d", lambda m, x, w, b: m.conv_transpose2d(x, w, b, (2, 1), (1, 0), (1, 0), 1, (1, 2)),
     ((2, 3, 4, 5), (3, 2, 3, 2), (2,))),
    ("conv_transpose2d dcgan", lambda m, x, w, b: m.conv_transpose2d(x, w, None, 2, 1), ((2, 4, 4, 4), (4, 3, 4, 4),
                                                                                      (3,))),
    ("conv_transpose2d unbatched", lambda m, x, w, b: m.conv_transpose2d(x, w, b, 2), ((3, 3, 3), (3, 2, 2, 2), (2,))),
    ("conv_transpose3d", lambda m, x, w, b: m.conv_transpose3d(x, w, b, 2, (0, 1, 0), 1, 2, (2, 1, 1)),
     ((1, 4, 3, 3, 2), (4, 1, 2, 3, 2), (2,))),
    ("conv_tbc", lambda m, x, w, b: m.conv_tbc(x, w, b, 2), ((5, 2, 3), (3, 3, 4), (4,))),
    ("unfold", lambda m, x, w, b: m.unfold(x, (2, 3), (2, 1), 1, (1, 2)), ((2, 3, 6, 5), (1,), (1,))),
    ("fold", lambda m, x, w, b: m.fold(x, (4, 5), (2, 2), 1, (1, 0), (1, 2)), ((2, 8, 10), (1,), (1,))),
    ("fold unbatched", lambda m, x, w, b: m.fold(x, (3, 3), 2), ((4, 4), (1,), (1,))),
]


@pytest.mark.parametrize("label,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_matches_pytorch(label, fn, shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    mod = tg if label == "conv_tbc" else F
    tmod = torch if label == "conv_tbc" else torch.nn.functional
    y, ty = fn(mod, *ours), fn(tmod, *theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(ty.shape)
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        if t.grad is None:
            assert a.grad is None
        else:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)
    if label != "conv_tbc":
        assert y.grad_fn.name() == ty.grad_fn.name()


@pytest.mark.parametrize("output_padding,dilation", [(1, 1), (0, 2), (1, 3)])
def test_conv_transpose2d_gradients_first_and_second_order(output_padding, dilation):
    # output_padding < stride takes conv2d's tuned kernels, the other case the N-d path: both to every order
    rng = np.random.default_rng(output_padding + dilation)
    x, w, b = rng.standard_normal((2, 4, 3, 2)), rng.standard_normal((4, 1, 2, 3)), rng.standard_normal(2)
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, 2, (1, 0), output_padding, 2, dilation)  # noqa: E731
    assert_gradients(fn, x, w, b)
    assert gradgradcheck(fn, tuple(tg.tensor(a, requires_grad=True) for a in (x, w, b)))


# ---- conv_tbc with a negative pad crops -pad steps from both ends of the time axis, as PyTorch's kernel
@given(t=st.integers(1, 7), k=st.integers(1, 3), pad=st.integers(-4, -1), seed=st.integers(0, 2**16))
def test_conv_tbc_negative_pad_crops_the_time_axis(t, k, pad, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((t, 2, 3)), rng.standard_normal((k, 3, 2)), rng.standard_normal(2)
    length = t + 2 * pad - k + 1
    if length < 0:
        with pytest.raises(RuntimeError, match="conv_tbc.*negative output length"):
            tg.conv_tbc(tg.tensor(x), tg.tensor(w), tg.tensor(b), pad)
        return
    ref = np.stack([b + sum(x[o + j - pad] @ w[j] for j in range(k)) for o in range(length)]) if length else \
        np.zeros((0, 2, 2))
    xt = tg.tensor(x, requires_grad=True)
    out = tg.conv_tbc(xt, tg.tensor(w), tg.tensor(b), pad)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    assert_gradients(lambda a, v: tg.conv_tbc(a, v, tg.tensor(b), pad), x, w)


def test_conv_tbc_negative_pad_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for t, k, pad in [(4, 1, -1), (6, 2, -2), (6, 1, -3), (6, 2, -1), (5, 3, -1)]:
        x, w, b = rng.standard_normal((t, 2, 3)), rng.standard_normal((k, 3, 2)), rng.standard_normal(2)
        xs = [torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)]
        ws = [torch.tensor(w, requires_grad=True), tg.tensor(w, requires_grad=True)]
        outs = [lib.conv_tbc(a, v, lib.tensor(b), pad) for lib, a, v in zip((torch, tg), xs, ws, strict=True)]
        np.testing.assert_allclose(outs[1].detach().numpy(), outs[0].detach().numpy(), rtol=1e-12)
        for o in outs:
            (o * o).sum().backward()
        np.testing.assert_allclose(xs[1].grad.numpy(), xs[0].grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ws[1].grad.numpy(), ws[0].grad.numpy(), rtol=1e-10, atol=1e-12)


# ---- integer convolutions, as PyTorch's CPU kernels: every integer dtype (wrapping), transposed ones int64 only
INT_DTYPES = ["int64", "int32", "int16", "int8", "uint8", "bool"]


def _conv_call(lib, name, x, w, b):
    F_ = lib.nn.functional
    if name == "conv_tbc":
        return lib.conv_tbc(x.permute(2, 0, 1), w.permute(2, 1, 0), b)
    d = int(name[-2])
    ones = (1,) * (d - 1)
    x, w = x.reshape(tuple(x.shape[:2]) + ones + tuple(x.shape[2:])), w.reshape(tuple(w.shape[:2]) + ones
                                                                                + tuple(w.shape[2:]))
    return getattr(F_, name)(x, w, b)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_convolutions_match_pytorch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, b = rng.integers(-120, 120, (1, 2, 5)), rng.integers(-120, 120, (2, 2, 3)), rng.integers(-9, 9, 2)
    for name in ("conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc"):
        got = []
        for lib in (torch, tg):
            dt = getattr(lib, dtype)
            try:
                r = _conv_call(lib, name, lib.tensor(x).to(dt), lib.tensor(w).to(dt), lib.tensor(b).to(dt))
                got.append((str(r.dtype).split(".")[-1], r.numpy()))
            except NotImplementedError:
                got.append(NotImplementedError)
        if got[0] is NotImplementedError or got[1] is NotImplementedError:
            assert got[0] is got[1], (name, dtype, got)
        else:
            assert got[0][0] == got[1][0], (name, dtype)
            np.testing.assert_array_equal(got[1][1], got[0][1])


@given(dtype=st.sampled_from(["int64", "int32", "int8", "uint8"]), seed=st.integers(0, 2**16))
def test_integer_conv1d_is_the_float64_convolution_wrapped(dtype, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.integers(-100, 100, (2, 3, 6)), rng.integers(-100, 100, (4, 3, 2))
    ref = F.conv1d(tg.tensor(x, dtype=tg.float64), tg.tensor(w, dtype=tg.float64)).numpy().astype(np.int64)
    dt = getattr(tg, dtype)
    out = F.conv1d(tg.tensor(x).to(dt), tg.tensor(w).to(dt))
    assert out.dtype == dt
    np.testing.assert_array_equal(out.numpy(), ref.astype(out.numpy().dtype))


@pytest.mark.parametrize("name, x_shape", [("conv1d", (1, 2, 3)), ("conv3d", (1, 2, 2, 2, 2)),
                                           ("conv_transpose1d", (1, 2, 3)), ("conv_transpose2d", (0, 2, 2, 1)),
                                           ("conv_transpose2d", (1, 2, 2, 1)), ("conv_transpose3d", (1, 2, 1, 2, 2))])
def test_a_bias_written_after_the_convolution_does_not_stop_its_backward(name, x_shape):
    """PyTorch's convolution saves its input and weight, not its bias (the bias gradient is a sum of the incoming
    gradient): a bias that does not require grad may be written in place before the backward; a written input
    still refuses it."""
    fn = getattr(tg.nn.functional, name)
    k = (1,) * (len(x_shape) - 2)
    w = tg.ones((2, 2) + k, dtype=tg.float64, requires_grad=True)
    b = tg.tensor([-1.9, -2.2], dtype=tg.float64)
    x = tg.ones(x_shape, dtype=tg.float64, requires_grad=True)
    y = fn(x, w, bias=b)
    b.atan_()
    y.sum().backward()
    assert w.grad.shape == w.shape
    x2 = tg.ones(x_shape, dtype=tg.float64)
    y = fn(x2, w, bias=tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True))
    x2.atan_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


@pytest.mark.parametrize("x_shape, w_shape, pad", [((1, 1, 1), (2, 1, 1), 0), ((2, 0, 1), (3, 1, 1), 0),
                                                   ((1, 2, 1), (4, 1, 3), 1)])
def test_conv_tbc_of_output_length_zero_is_empty_with_zero_gradients(x_shape, w_shape, pad):
    """T + 2*pad - K + 1 == 0: PyTorch returns an empty (0, B, C_out) result, whose gradients are zeros; a
    negative length is an error."""
    x = tg.ones(x_shape, dtype=tg.float64, requires_grad=True)
    w = tg.ones(w_shape, dtype=tg.float64, requires_grad=True)
    b = tg.ones(w_shape[2], dtype=tg.float64, requires_grad=True)
    y = F.conv_tbc(x, w, b, pad)
    assert tuple(y.shape) == (0, x_shape[1], w_shape[2])
    y.sum().backward()
    for t in (x, w, b):
        np.testing.assert_array_equal(t.grad.numpy(), np.zeros(t.shape))
    with pytest.raises(RuntimeError):
        F.conv_tbc(x, tg.ones((w_shape[0] + 1,) + w_shape[1:], dtype=tg.float64), b, pad)


@pytest.mark.parametrize("T, B, Ci, Co, K, pad", [(3, 2, 2, 3, 2, 1), (1, 1, 1, 1, 3, 2), (4, 1, 2, 2, 3, 3),
                                                  (2, 2, 1, 2, 4, 1)])
def test_conv_tbc_skips_the_padding_taps_of_non_finite_weights(T, B, Ci, Co, K, pad):
    """PyTorch's conv_tbc kernel multiplies only the taps inside the input: an inf or NaN weight tap that falls in
    the padding adds nothing (not 0 * inf = NaN); values and gradients against the tap sum written out (and
    against PyTorch when installed)."""
    rng = np.random.default_rng(T * 100 + K)
    xw, ww, bw = rng.normal(size=(T, B, Ci)), rng.normal(size=(K, Ci, Co)), rng.normal(size=Co)
    ww[0, 0, 0], ww[-1, -1, -1] = np.inf, np.nan
    want = np.broadcast_to(bw, (T + 2 * pad - K + 1, B, Co)).copy()
    for t in range(want.shape[0]):
        for k in range(K):
            if 0 <= t + k - pad < T:
                want[t] += xw[t + k - pad] @ ww[k]
    x, w = tg.tensor(xw, requires_grad=True), tg.tensor(ww, requires_grad=True)
    y = F.conv_tbc(x, w, tg.tensor(bw), pad)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12)
    torch = pytest.importorskip("torch")
    g = rng.normal(size=want.shape)
    (y * tg.tensor(g)).sum().backward()
    tx, tw = torch.tensor(xw, requires_grad=True), torch.tensor(ww, requires_grad=True)
    (torch.nn.functional.conv_tbc(tx, tw, torch.tensor(bw), pad) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


@given(x=arrays((3, 1, 2), dtype=np.float32, elements=st.sampled_from([np.inf, -np.inf, 1.0, -1e30, -3e38, 3e38])),
       w=arrays((2, 2, 2), dtype=np.float32, elements=st.sampled_from([-0.25, 0.5, -1.0, 1.5, -3.0])),
       pad=st.integers(0, 2))
@example(x=np.array([[[np.inf, 0.0]], [[-1e30, -3e38]], [[1.0, 1.0]]], np.float32),
         w=np.array([[[-0.25, 0.5], [-1.0, -1.0]], [[-0.25, -3.0], [-0.25, 1.5]]], np.float32), pad=2)
def test_conv_tbc_adds_one_tap_at_a_time_as_pytorch(x, w, pad):
    """PyTorch's kernel starts from the bias and adds each tap's matrix product in turn (one addmm per tap): a tap
    whose float32 product overflows (-3e38 * 1.5 = -inf) meets another tap's inf as inf - inf = NaN, where one sum
    over every tap and channel at once (a fused multiply-add never rounds the product) stays inf."""
    b = np.array([1.3, -0.45], np.float32)
    with np.errstate(all="ignore"):
        want = np.broadcast_to(b, (3 + 2 * pad - 1, 1, 2)).copy()
        for k in range(2):
            for t in range(want.shape[0]):
                if 0 <= t + k - pad < 3:
                    want[t] = want[t] + (x[t + k - pad].astype(np.float64) @ w[k]).astype(np.float32)
        got = F.conv_tbc(tg.tensor(x), tg.tensor(w), tg.tensor(b), pad).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])
    torch = pytest.importorskip("torch")
    theirs = torch.nn.functional.conv_tbc(torch.tensor(x), torch.tensor(w), torch.tensor(b), pad).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(theirs))


@given(t=st.integers(1, 3), k=st.integers(1, 3), extra=st.integers(0, 2), c=st.integers(1, 2),
       bias=st.sampled_from([-0.0, 0.0, 1.5]))
@example(t=2, k=1, extra=1, c=2, bias=-0.0)  # the differential test's repro: pad 2 over a 1-tap kernel
def test_conv_tbc_steps_in_the_padding_are_the_bias_itself(t, k, extra, c, bias):
    """Output steps that no tap reaches (pad >= K) are PyTorch's bias exactly, -0.0 included: its kernel starts
    from the bias and adds only the taps inside the input (aten/src/ATen/native/ConvolutionTBC.cpp); the padded
    convolution's +0.0 products turned -0.0 into +0.0."""
    pad = k + extra  # pad >= K: the first steps see only padding
    x = tg.tensor(np.arange(t * 2 * c, dtype=np.float64).reshape(t, 2, c) - 1.5)
    b = tg.tensor([bias, 3.0], dtype=tg.float64)
    y = F.conv_tbc(x, tg.ones(k, c, 2, dtype=tg.float64), b, pad).numpy()
    for step in range(y.shape[0]):
        if step + k - 1 < pad or step - pad >= t:
            np.testing.assert_array_equal(np.signbit(y[step]), np.signbit(np.broadcast_to(b.numpy(), y[step].shape)))
            np.testing.assert_array_equal(y[step], np.broadcast_to(b.numpy(), y[step].shape))


@pytest.mark.parametrize("x_shape, w_shape, pad", [((4, 1, 2), (3, 2, 2), -1), ((1, 1, 1), (2, 1, 1), 0),
                                                   ((1, 2, 1), (4, 1, 3), 1)])
def test_conv_tbc_of_output_length_zero_has_zero_gradients_beside_non_finite_values(x_shape, w_shape, pad):
    """PyTorch's kernel and backward run no tap for an empty output: the weight's gradient is 0 even where the
    input holds inf or NaN (the differential test's repro: a window computed and dropped gave 0 * inf = NaN)."""
    xw = np.full(x_shape, np.inf)
    xw.flat[-1] = np.nan
    x = tg.tensor(xw, dtype=tg.float32, requires_grad=True)
    w = tg.ones(w_shape, dtype=tg.float32, requires_grad=True)
    b = tg.ones(w_shape[2], dtype=tg.float32, requires_grad=True)
    y = F.conv_tbc(x, w, b, pad)
    assert y.shape[0] == 0
    y.sum().backward()
    for t in (x, w, b):
        np.testing.assert_array_equal(t.grad.numpy(), np.zeros(t.shape))


def test_conv_tbc_padding_steps_and_empty_outputs_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [((2, 1, 2), (1, 2, 2), 2), ((3, 2, 1), (2, 1, 2), 3), ((4, 1, 2), (3, 2, 2), -1),
             ((1, 1, 1), (2, 1, 1), 0)]
    for x_shape, w_shape, pad in cases:
        rng = np.random.default_rng(sum(x_shape) + pad)
        xw = rng.choice([-2.5, -0.0, 1.0, np.inf, np.nan], size=x_shape).astype(np.float32)
        ww = rng.choice([-1.0, 0.5, -0.0], size=w_shape).astype(np.float32)
        bw = np.array([-0.0, 0.0][:w_shape[2]] + [3.0] * (w_shape[2] - 2), np.float32)
        res = []
        for lib in (tg, torch):
            x, w, b = (lib.tensor(a, requires_grad=True) for a in (xw, ww, bw))
            y = lib.nn.functional.conv_tbc(x, w, b, pad)
            y.sum().backward()
            res.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
        for got, want in zip(*res):
            np.testing.assert_array_equal(got, want)
            z = want == 0
            np.testing.assert_array_equal(np.signbit(got[z]), np.signbit(want[z]))


# ---------------------------------------------------------------------- conv3d: PyTorch's signs of zero
def test_conv3d_signs_of_zero_follow_the_native_kernel():
    """The differential test's repro (unbatched, float32, a 1x1x1 kernel over one channel): the products keep
    their signs; with a bias, a zero is -0.0 only where the bias and every product are -0.0."""
    x = tg.tensor([[[[3.0, 0.0]], [[1.0, -float("inf")]], [[1.0, 1.5]]]])
    out = F.conv3d(x, tg.tensor([[[[[0.5]]]], [[[[-0.25]]]]], requires_grad=True)).detach().numpy()
    assert np.signbit(out[1, 0, 0, 1]) and not np.signbit(out[0, 0, 0, 1])
    x64 = tg.full((1, 2, 2, 2, 2), -0.0, dtype=tg.float64)
    w64 = tg.ones(1, 2, 2, 2, 2, dtype=tg.float64)
    out = F.conv3d(x64, w64, tg.full((1,), -0.0, dtype=tg.float64), padding=1).numpy()
    assert np.signbit(out[0, 0, 1, 1, 1]) and not np.signbit(out[0, 0, 0, 0, 0])  # padding's +0.0 products
    assert not np.signbit(F.conv3d(x64, w64, tg.full((1,), -0.0, dtype=tg.float64)).numpy()).any()  # one pixel
    assert not np.signbit(F.conv3d(x64, w64).numpy()).any()  # no bias: from +0.0


@given(n=st.sampled_from([1, 2]), groups=st.sampled_from([1, 2]), per_group=st.sampled_from([1, 2]),
       out_per_group=st.sampled_from([1, 2]), size=st.sampled_from([(1, 1, 1), (1, 1, 2), (2, 2, 2), (1, 3, 3)]),
       bias=st.booleans(), padding=st.sampled_from([0, 1]), stride=st.sampled_from([1, 2]),
       kernel=st.sampled_from([1, 2]), dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
@example(n=1, groups=1, per_group=1, out_per_group=2, size=(1, 1, 2), bias=False, padding=0, stride=1, kernel=1,
         dtype="float32", seed=0)
@example(n=1, groups=2, per_group=2, out_per_group=1, size=(2, 2, 2), bias=True, padding=1, stride=1, kernel=1,
         dtype="float64", seed=1)
@example(n=1, groups=1, per_group=2, out_per_group=2, size=(1, 1, 2), bias=True, padding=0, stride=1, kernel=1,
         dtype="float32", seed=2)
@settings(max_examples=40, deadline=None)
def test_conv3d_signs_of_zero_match_pytorch(n, groups, per_group, out_per_group, size, bias, padding, stride,
                                            kernel, dtype, seed):
    torch = pytest.importorskip("torch")
    if min(size) + 2 * padding < kernel:
        return
    rng = np.random.default_rng(seed)
    values = [-0.0, -0.0, 0.0, 1.0, -1.0]
    x = rng.choice(values, size=(n, groups * per_group) + size)
    w = rng.choice(values, size=(groups * out_per_group, per_group) + (kernel,) * 3)
    b = rng.choice(values, size=(groups * out_per_group,)) if bias else None

    def run(lib):
        dt = getattr(lib, dtype)
        return lib.nn.functional.conv3d(lib.tensor(x, dtype=dt), lib.tensor(w, dtype=dt),
                                        None if b is None else lib.tensor(b, dtype=dt), stride=stride,
                                        padding=padding, groups=groups).numpy()

    got, want = run(tg), run(torch)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_transpose_with_an_output_size_of_0_is_empty_with_zero_gradients(d):
    """PyTorch returns an empty result when a float32 transposed convolution with groups has an output size of 0
    (oneDNN's path; a negative size raises); tapegrad raised for both."""
    fn = getattr(F, f"conv_transpose{d}d")
    x = tg.ones((1, 4) + (1,) * d, dtype=tg.float32, requires_grad=True)
    w = tg.ones((4, 1) + (2,) * d, dtype=tg.float32, requires_grad=True)
    b = tg.ones(2, dtype=tg.float32, requires_grad=True)
    y = fn(x, w, b, stride=3, padding=1, groups=2)  # (1 - 1) * 3 - 2 + 2 = 0 along every spatial dim
    assert tuple(y.shape) == (1, 2) + (0,) * d
    y.sum().backward()
    for t in (x, w, b):
        np.testing.assert_array_equal(t.grad.numpy(), np.zeros(t.shape))
    with pytest.raises(RuntimeError, match="is negative"):
        fn(x, w, b, stride=3, padding=2, groups=2)


# PyTorch's backends on an output size <= 0 (see conv_nd._check_output_size): (d, dtype, input shape, weight shape,
# stride, padding, output_padding, groups, dilation, "empty" or "raise")
OUTPUT_SIZE_0 = [
    (2, "float32", (1, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 2, 1, "empty"),  # groups: oneDNN
    (2, "float32", (1, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 1, 1, "raise"),  # native slow_conv_transpose2d
    (1, "float32", (1, 4, 1), (4, 1, 2), 3, 1, 0, 2, 1, "empty"),
    (1, "float32", (2, 4), (2, 1, 1), 1, 2, 0, 1, 1, "raise"),  # unbatched: a batch of 1
    (1, "float64", (1, 4, 1), (4, 1, 2), 3, 1, 0, 1, 1, "raise"),
    (2, "float64", (1, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 2, 1, "raise"),  # float64 is never oneDNN's
    (2, "float64", (1, 4, 3, 1), (4, 1, 3, 2), 3, 1, 0, 2, 1, "raise"),
    (3, "float32", (1, 4, 1, 1, 1), (4, 1, 2, 2, 2), 3, 1, 0, 2, 1, "empty"),
    (3, "float32", (1, 4, 1, 1, 1), (4, 1, 2, 2, 2), 3, 1, 0, 1, 1, "raise"),
    (3, "float64", (2, 4, 1, 1, 1), (4, 1, 2, 2, 2), 3, 1, 0, 1, 1, "raise"),
    (2, "float32", (2, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 1, 1, "empty"),  # a batch of 2
    (2, "float32", (1, 4, 1, 1), (4, 1, 4, 4), 3, 2, 0, 1, 1, "empty"),  # a kernel wider than 3 both ways
    (2, "float32", (1, 4, 1, 1), (4, 1, 4, 3), 3, (2, 1), 0, 1, 1, "raise"),
    (2, "float32", (1, 4, 1, 6000), (4, 1, 2, 2), 3, 1, 0, 1, 1, "empty"),  # more than 20480 elements
    (2, "float32", (1, 4, 1, 5120), (4, 1, 2, 2), 3, 1, 0, 1, 1, "raise"),  # exactly 20480
    (2, "float32", (1, 4, 1, 1), (4, 1, 2, 2), 3, 2, 0, 2, 1, "raise"),  # negative
    (2, "float64", (0, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 1, 1, "empty"),  # an empty batch
    (2, "float32", (0, 4, 1, 1), (4, 1, 2, 2), 3, 2, 0, 1, 1, "raise"),
    (2, "float32", (2, 4, 1, 1), (4, 1, 1, 1), 1, 1, 0, 1, 1, "raise"),
    (2, "float32", (1, 4, 1, 1), (4, 1, 1, 1), 1, 1, 1, 2, 2, "raise"),  # output_padding >= stride: native
    (2, "float32", (1, 4, 1, 1), (4, 1, 1, 1), 2, 1, 1, 2, 2, "empty"),
    (2, "float32", (1, 4, 1, 3), (4, 1, 1, 1), (2, 1), (1, 0), (1, 0), 2, (2, 1), "empty"),
    (2, "float16", (1, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 1, 1,  # oneDNN only on a CPU with float16 (_cpu)
     "empty" if _cpu.onednn_takes_float16() else "raise"),
    (1, "float32", (1, 1, 20481), (1, 1, 2), 1, 10241, 0, 1, 1, "empty"),  # 1-d counts as (N, C, 1, L)
    (1, "float32", (1, 1, 20479), (1, 1, 2), 1, 10240, 0, 1, 1, "raise"),
    (3, "float32", (1, 1, 1, 1, 30000), (1, 1, 2, 1, 1), 1, (1, 0, 0), 0, 1, 1, "raise"),  # N*C*D*H, not W
    (3, "float32", (1, 1, 1, 30000, 1), (1, 1, 2, 1, 1), 1, (1, 0, 0), 0, 1, 1, "empty"),
    (2, "int64", (1, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 2, 1, "raise"),
]


def _conv_transpose_outcome(lib, case):
    d, dtype, xs, ws, stride, padding, opad, groups, dilation, _ = case
    x, w = lib.ones(xs, dtype=getattr(lib, dtype)), lib.ones(ws, dtype=getattr(lib, dtype))
    try:
        y = getattr(lib.nn.functional, f"conv_transpose{d}d")(x, w, None, stride, padding, opad, groups, dilation)
    except RuntimeError as e:
        return "raise", str(e)
    assert y.numel() == 0, y.shape
    return "empty", tuple(y.shape)


@pytest.mark.parametrize("case", OUTPUT_SIZE_0)
def test_conv_transpose_output_size_0_is_empty_or_raises_as_pytorch_backend(case):
    """A size of 0 is an empty result on PyTorch's empty-batch and oneDNN paths and "Output size is too small" on
    its native kernels (a negative size raises on every path); tapegrad returned an empty result for all."""
    outcome, detail = _conv_transpose_outcome(tg, case)
    assert outcome == case[-1], detail
    if outcome == "raise" and "Given input" in detail:
        assert detail.endswith("Output size is too small")


@pytest.mark.parametrize("cpu_flags,outcome", [({"avx512f", "avx512_fp16"}, "empty"), ({"avx_ne_convert"}, "empty"),
                                               ({"avx512f", "avx512_bf16"}, "raise"), (set(), "raise")])
def test_conv_transpose_float16_output_size_0_follows_the_cpu(monkeypatch, cpu_flags, outcome):
    """float16 goes to oneDNN only where mkldnn_fp16_device_check passes (AVX-512 FP16 or AVX-NE-CONVERT): a size of
    0 is empty there, and "Output size is too small" from the native kernel elsewhere (an AMD EPYC's AVX-512)."""
    monkeypatch.setattr(_cpu, "_read_cpuinfo", lambda: ("GenuineIntel", frozenset(cpu_flags)))
    got, detail = _conv_transpose_outcome(tg, (2, "float16", (1, 4, 1, 1), (4, 1, 2, 2), 3, 1, 0, 1, 1, None))
    assert got == outcome, detail
    if outcome == "raise":
        assert detail.endswith("Output size is too small")


@pytest.mark.parametrize("case", OUTPUT_SIZE_0)
def test_conv_transpose_output_size_0_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    got, want = _conv_transpose_outcome(tg, case), _conv_transpose_outcome(torch, case)
    assert got[0] == want[0], (got, want)
    if got[0] == "empty":
        assert got[1] == want[1]
    elif "Output size is too small" in want[1]:
        assert got[1].split(": ", 1)[1] == want[1]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 2, 16])
def test_conv_transpose_1x1_output_size_0_follows_the_thread_count(threads, batch):
    """PyTorch's use_mkldnn takes an unstrided undilated float32 1x1 kernel with a batch below 16 to oneDNN (a size
    of 0 is empty) only with more than one thread: on one thread its native kernel raises."""
    case = (2, "float32", (batch, 1, 2, 2), (1, 1, 1, 1), 1, 1, 0, 1, 1, None)
    n = tg.get_num_threads()
    tg.set_num_threads(threads)
    try:
        got = _conv_transpose_outcome(tg, case)
    finally:
        tg.set_num_threads(n)
    assert got[0] == ("raise" if batch == 1 or (threads == 1 and batch < 16) else "empty"), got
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert _conv_transpose_outcome(torch, case)[0] == got[0]
    finally:
        torch.set_num_threads(n)


# ---------------------------------------------------------------------- conv1d: PyTorch's signs of zero
def test_conv1d_signs_of_zero_are_conv2ds():
    """PyTorch runs conv1d as conv2d of the (N, C, 1, L) view: one product per output keeps its sign (the
    differential test's repro), and a float64 sum with a bias starts from the bias, the padding's +0.0 products
    included (tapegrad summed from +0.0: +0.0 everywhere)."""
    out = F.conv1d(tg.tensor([[[0.0, 1.5]]], dtype=tg.float64),
                   tg.tensor([[[-3.0]], [[2.0]]], dtype=tg.float64)).numpy()
    assert np.signbit(out).tolist() == [[[True, True], [False, False]]]
    x, w = tg.full((1, 2, 2), -0.0, dtype=tg.float64), tg.ones(1, 2, 2, dtype=tg.float64)
    out = F.conv1d(x, w, tg.full((1,), -0.0, dtype=tg.float64), padding=1).numpy()
    assert np.signbit(out).tolist() == [[[False, True, False]]]  # the border sums the padding's +0.0 * 1.0
    assert not np.signbit(F.conv1d(x, w, tg.full((1,), -0.0, dtype=tg.float64)).numpy()).any()  # one pixel
    assert not np.signbit(F.conv1d(x, w, padding=1).numpy()).any()  # no bias: from +0.0


@given(n=st.sampled_from([1, 2]), groups=st.sampled_from([1, 2]), per_group=st.sampled_from([1, 2]),
       out_per_group=st.sampled_from([1, 2]), length=st.integers(1, 4), bias=st.booleans(),
       padding=st.sampled_from([0, 1, 2]), stride=st.sampled_from([1, 2]), kernel=st.sampled_from([1, 2]),
       dilation=st.sampled_from([1, 2]), dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
@example(n=1, groups=1, per_group=1, out_per_group=2, length=2, bias=False, padding=0, stride=1, kernel=1,
         dilation=1, dtype="float64", seed=0)
@example(n=2, groups=1, per_group=2, out_per_group=2, length=3, bias=True, padding=1, stride=1, kernel=2,
         dilation=1, dtype="float64", seed=1)
@example(n=1, groups=1, per_group=2, out_per_group=1, length=3, bias=True, padding=2, stride=1, kernel=2,
         dilation=2, dtype="float32", seed=2)
@settings(max_examples=40, deadline=None)
def test_conv1d_signs_of_zero_match_pytorch(n, groups, per_group, out_per_group, length, bias, padding, stride,
                                            kernel, dilation, dtype, seed):
    torch = pytest.importorskip("torch")
    if length + 2 * padding < dilation * (kernel - 1) + 1:
        return
    rng = np.random.default_rng(seed)
    values = [-0.0, -0.0, 0.0, 1.5, -2.0]
    x = rng.choice(values, size=(n, groups * per_group, length))
    w = rng.choice(values, size=(groups * out_per_group, per_group, kernel))
    b = rng.choice(values, size=(groups * out_per_group,)) if bias else None

    def run(lib):
        dt = getattr(lib, dtype)
        return lib.nn.functional.conv1d(lib.tensor(x, dtype=dt), lib.tensor(w, dtype=dt),
                                        None if b is None else lib.tensor(b, dtype=dt), stride=stride,
                                        padding=padding, dilation=dilation, groups=groups).numpy()

    got, want = run(tg), run(torch)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


# ---------------------------------------------------------------------- an empty batch skips the dtype check
EMPTY_DTYPE = [  # (function, input shape, weight shape, dtype): PyTorch's Empty backend runs no kernel, so no check
    ("conv1d", (0, 1, 4), (2, 1, 1), "bool"), ("conv3d", (0, 1, 2, 2, 2), (2, 1, 1, 1, 1), "bool"),
    ("conv1d", (1, 0, 4), (2, 0, 1), "bool"), ("conv1d", (0, 4), (2, 0, 1), "bool"),
    ("conv_transpose1d", (0, 1, 4), (1, 2, 1), "bool"), ("conv_transpose2d", (0, 1, 2, 4), (1, 2, 1, 1), "bool"),
    ("conv_transpose3d", (0, 1, 2, 2, 2), (1, 2, 1, 1, 1), "bool"),
    ("conv_transpose2d", (0, 1, 2, 4), (1, 2, 1, 1), "int32"), ("conv_transpose1d", (0, 1, 4), (1, 2, 1), "uint8"),
]


def _empty_conv(lib, name, xs, ws, dtype):
    x, w = lib.zeros(xs, dtype=getattr(lib, dtype)), lib.ones(ws, dtype=getattr(lib, dtype))
    b = lib.ones(ws[0] if name.startswith("conv") and "transpose" not in name else ws[1] * 1, dtype=x.dtype)
    y = getattr(lib.nn.functional, name)(x, w, b)
    return tuple(y.shape), str(y.dtype).split(".")[-1]


@pytest.mark.parametrize("case", EMPTY_DTYPE)
def test_conv_of_an_empty_batch_skips_the_dtype_check(case):
    """tapegrad refused bool (and, transposed, non-int64 integer) inputs even with an empty batch or no
    channels; PyTorch returns the empty result."""
    shape, dtype = _empty_conv(tg, *case)
    assert dtype == case[3] and 0 in shape
    x = tg.ones((1,) + case[1][1:] if len(case[1]) == len(case[2]) else case[1], dtype=getattr(tg, case[3]))
    if x.numel():  # a non-empty input is still refused
        with pytest.raises(NotImplementedError, match="not implemented for"):
            getattr(F, case[0])(x, tg.ones(case[2], dtype=x.dtype))


@pytest.mark.parametrize("case", EMPTY_DTYPE)
def test_conv_of_an_empty_batch_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    assert _empty_conv(tg, *case) == _empty_conv(torch, *case)


@pytest.mark.parametrize("x_shape, w_shape, out_shape", [((4, 0, 1), (1, 1, 2), (4, 0, 2)),
                                                       ((4, 1, 1), (1, 1, 0), (4, 1, 0)),
                                                       ((4, 0, 1), (3, 1, 2), (2, 0, 2))])
def test_conv_tbc_of_an_empty_product_of_bools(x_shape, w_shape, out_shape):
    # PyTorch's matrix product refuses bools only where it has elements to compute: an empty batch or no output
    # channel gives an empty bool result
    args = tg.zeros(x_shape, dtype=tg.bool), tg.ones(w_shape, dtype=tg.bool), tg.ones(w_shape[2], dtype=tg.bool)
    out = tg.conv_tbc(*args)
    assert tuple(out.shape) == out_shape and out.dtype == tg.bool


DTYPES_TBC = [("float32", "float32", "float32"), ("float32", "float64", "float64"), ("float64", "float32", "float32"),
              ("int64", "float32", "float32"), ("float32", "int64", "int64"), ("float32", "float32", "float64"),
              ("bool", "float32", "float32"), ("bool", "bool", "bool"), ("float64", "float64", "int64")]


def _conv_tbc_dtypes(lib, t, dtypes):
    xd, wd, bd = (getattr(lib, d) for d in dtypes)
    try:
        x, w, b = lib.ones(t, 1, 1, dtype=xd), lib.ones(3, 1, 2, dtype=wd), lib.ones(2, dtype=bd)
        out = lib.nn.functional.conv_tbc(x, w, b)
    except (RuntimeError, NotImplementedError):
        return "raises"
    return str(out.dtype).split(".")[-1], tuple(out.shape), out.tolist()


@pytest.mark.parametrize("dtypes", DTYPES_TBC)
@pytest.mark.parametrize("t", [2, 4])
def test_conv_tbc_result_has_the_input_dtype(t, dtypes):
    # PyTorch's kernel allocates the output with the input's dtype and copies the bias into it, then runs one
    # matrix product per tap (which needs input and weight of one dtype): an output of length 0 (t = 2, K = 3)
    # runs none, so any dtypes give an empty tensor of the input's dtype, bool ones included
    got = _conv_tbc_dtypes(tg, t, dtypes)
    if t == 2:
        assert got == (dtypes[0], (0, 1, 2), [])
    elif dtypes[0] != dtypes[1] or dtypes[0] == "bool":
        assert got == "raises"
    else:
        assert got[:2] == (dtypes[0], (2, 1, 2))
    torch = pytest.importorskip("torch")
    assert got == _conv_tbc_dtypes(torch, t, dtypes)


@pytest.mark.parametrize("dtypes, error", [(("float32", "float64"), "conv_tbc: input and weight must have the same"),
                                           (("bool", "bool"), "conv_tbc: not implemented for bool")])
def test_conv_tbc_refusals_name_conv_tbc(dtypes, error):
    x, w = tg.ones(4, 1, 1, dtype=getattr(tg, dtypes[0])), tg.ones(3, 1, 2, dtype=getattr(tg, dtypes[1]))
    with pytest.raises((RuntimeError, NotImplementedError), match=error):
        tg.conv_tbc(x, w, tg.ones(2))
    with pytest.raises((RuntimeError, NotImplementedError), match=error):
        tg.conv_tbc(tg.ones(6, 1, 1, dtype=x.dtype), w, tg.ones(2), -1)  # the cropping path too


def test_conv_tbc_bias_of_another_dtype_gets_its_gradient_in_its_dtype():
    x, w = tg.ones(4, 1, 1, requires_grad=True), tg.ones(3, 1, 2, requires_grad=True)
    b = tg.zeros(2, dtype=tg.float64, requires_grad=True)
    tg.conv_tbc(x, w, b).sum().backward()
    assert b.grad.dtype == tg.float64 and b.grad.tolist() == [2.0, 2.0]


# ---------------------------------------------------------------------- unfold of empty dims
@given(shape=st.one_of(st.tuples(*[st.sampled_from([0, 2])] * 3), st.tuples(*[st.sampled_from([0, 2])] * 4)),
       padding=st.sampled_from([0, 1]))
@example(shape=(3, 3, 0), padding=1)
@example(shape=(0, 2, 2), padding=0)
def test_unfold_refuses_empty_dims_but_a_batch(shape, padding):
    # PyTorch's im2col_shape_check: "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other
    # non-zero dimensions" (padding does not make an empty dim valid)
    x = tg.zeros(shape, requires_grad=True)
    if 0 in shape[-3:]:
        with pytest.raises(RuntimeError, match="unfold: expected a 3-D or 4-D .* non-zero dimensions"):
            F.unfold(x, 1, padding=padding)
    else:
        out = F.unfold(x, 1, padding=padding)
        assert out.shape[0] == shape[0]  # N of a batch, C of an unbatched input (C * kernel 1 rows)


def test_unfold_empty_dims_as_pytorch():
    torch = pytest.importorskip("torch")
    for n in (3, 4):
        for shape in itertools.product([0, 2], repeat=n):
            for padding in (0, 1):
                try:
                    want = tuple(torch.nn.functional.unfold(torch.zeros(shape), 1, padding=padding).shape)
                except RuntimeError:
                    want = None
                try:
                    got = tuple(F.unfold(tg.zeros(shape), 1, padding=padding).shape)
                except RuntimeError:
                    got = None
                assert got == want, (shape, padding)
@given(t=st.integers(1, 4), b=st.integers(1, 3), c_in=st.integers(1, 2), c_out=st.integers(1, 3),
       k=st.integers(1, 2), pad=st.integers(-1, 1))
@example(t=3, b=2, c_in=1, c_out=1, k=1, pad=0)
def test_conv_tbc_returns_a_new_contiguous_tensor(t, b, c_in, c_out, k, pad):
    """PyTorch's conv_tbc kernel writes a new contiguous (T, B, C_out) tensor: ``view`` takes it, ``detach_``
    too (a permuted view of the convolution's result here was refused by both)."""
    if t + 2 * pad - k + 1 < 0:
        return
    x = tg.tensor(np.arange(t * b * c_in, dtype=np.float64).reshape(t, b, c_in) - 1, requires_grad=True)
    w = tg.tensor(np.ones((k, c_in, c_out)), dtype=tg.float64)
    y = F.conv_tbc(x, w, tg.zeros(c_out, dtype=tg.float64), pad)
    assert y.is_contiguous() and y._base is None
    assert y.view(-1).shape == (y.numel(),)
    y.detach_()
    assert not y.requires_grad


def test_conv_tbc_view_and_detach_as_pytorch():
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tg, torch):
        x = lib.tensor([[[0.0, -2.5], [1.0, 3.0]], [[-0.0, 0.0], [2.0, 1.5]], [[-1.0, 0.5], [-2.5, 1.0]]],
                       dtype=lib.float64)
        w = lib.tensor([[[0.5], [1.5]]], dtype=lib.float64, requires_grad=True)
        y = lib.nn.functional.conv_tbc(x, w, lib.tensor([-0.0], dtype=lib.float64))
        v = y.view((2, 3))
        out.append((v.tolist(), y.is_contiguous()))
        y.detach_()
    assert out[0] == out[1]


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_dilated_convolution_of_small_integers_fails_as_pytorch(dtype, d):
    """PyTorch runs a dilated convolution in slow_conv_dilated, whose CPU kernel takes floats and int64 only
    (aten/src/ATen/native/NaiveDilatedConvolution.cpp); an undilated one, or an empty batch, works for any int."""
    conv = (F.conv1d, F.conv2d, F.conv3d)[d - 1]
    x, w = tg.ones((1, 1) + (5,) * d, dtype=getattr(tg, dtype)), tg.ones((1, 1) + (2,) * d, dtype=getattr(tg, dtype))
    assert conv(x, w).dtype == x.dtype
    assert tuple(conv(x[:0], w, dilation=2).shape) == (0, 1) + (3,) * d
    if dtype == "int64":
        np.testing.assert_array_equal(conv(x, w, dilation=2).numpy(), np.full((1, 1) + (3,) * d, 2 ** d))
        return
    with pytest.raises(NotImplementedError, match="\"slow_conv_dilated<>\" not implemented for"):
        conv(x, w, dilation=2)
    with pytest.raises(NotImplementedError, match="\"slow_conv_dilated<>\" not implemented for"):
        conv(x, w, padding="same", dilation=2)


_INT_DTYPES = ["int8", "uint8", "int16", "int32", "int64"]


@given(dtype=st.sampled_from(_INT_DTYPES), batch=st.integers(0, 2), channels=st.integers(1, 3),
       kernel=st.integers(1, 2))
@example(dtype="int32", batch=0, channels=1, kernel=1)
def test_unfold_and_fold_refuse_integer_inputs_as_pytorchs_kernels(dtype, batch, channels, kernel):
    """PyTorch's im2col and col2im kernels take floating-point and bool tensors only: an integer input raises its
    NotImplementedError naming the kernel and PyTorch's name of the dtype, after the shape checks, also when the
    batch is empty; bool goes through."""
    x = tg.ones(batch, channels, 3, 3, dtype=getattr(tg, dtype))
    with pytest.raises(NotImplementedError, match=r'unfold: "im2col_out_cpu" not implemented for \''):
        F.unfold(x, kernel)
    cols = tg.ones(batch, channels * kernel * kernel, (4 - kernel) ** 2, dtype=getattr(tg, dtype))
    with pytest.raises(NotImplementedError, match=r'fold: "col2im_out_cpu" not implemented for \''):
        F.fold(cols, (3, 3), kernel)
    with pytest.raises(RuntimeError, match="divisible"):  # a shape error comes first
        F.fold(tg.ones(1, kernel * kernel + 1, 4, dtype=getattr(tg, dtype)), (3, 3), 2)
    assert F.fold(F.unfold(x.bool(), kernel), (3, 3), kernel).dtype == tg.bool


@pytest.mark.parametrize("dtype", _INT_DTYPES + ["bool"])
def test_unfold_and_fold_dtypes_as_pytorch(dtype):
    torch = pytest.importorskip("torch")

    def outcomes(lib):
        F_ = lib.nn.functional
        out = []
        for f in (lambda: F_.unfold(lib.ones(2, 1, 3, 3, dtype=getattr(lib, dtype)), 2),
                  lambda: F_.fold(lib.ones(2, 4, 4, dtype=getattr(lib, dtype)), (3, 3), 2)):
            try:
                out.append(f().tolist())
            except NotImplementedError as e:  # PyTorch's message, as tapegrad's begins after the op's name
                out.append(str(e).split(": ", 1)[-1].split(" (")[0] if lib is tg else str(e))
        return out

    assert outcomes(tg) == outcomes(torch)
# ---------------------------------------------------------------------- a batch does not change the order (oneDNN)
_BIG = [np.inf, -np.inf, np.nan, 3e38, -3e38, 1e30, 0.0, -0.0, 1.5, -2.5]


@pytest.mark.parametrize("op, d", [(F.conv1d, 1), (F.conv3d, 3), (F.conv_transpose2d, 2), (F.conv_transpose3d, 3)])
@given(seed=st.integers(0, 2**16), batch=st.integers(2, 3), pad=st.integers(0, 1))
@example(seed=0, batch=2, pad=0)
@settings(deadline=None, max_examples=20)
def test_a_batch_is_its_images_one_at_a_time_even_where_sums_overflow(op, d, seed, batch, pad):
    """tapegrad's float32 convolutions of a batch are its images' convolutions, bit for bit, with inf, NaN and
    products that overflow (PyTorch 2.13 runs a batch of 2 or more through oneDNN, which sums in another order and
    skips the padding's taps: KNOWN conv-onednn-overflow-order, conv-transpose-onednn-order,
    pytorch-onednn-conv-skips-padding)."""
    rng = np.random.default_rng(seed)
    x = rng.choice(_BIG, (batch, 2) + (3,) * d).astype(np.float32)
    w = rng.choice(_BIG, (2, 2) + (2,) * d).astype(np.float32)
    with np.errstate(all="ignore"):
        whole = op(tg.tensor(x), tg.tensor(w), padding=pad).numpy()
        each = [op(tg.tensor(x[i:i + 1]), tg.tensor(w), padding=pad).numpy() for i in range(batch)]
    np.testing.assert_array_equal(whole, np.concatenate(each))


@pytest.mark.parametrize("op, d", [(F.conv1d, 1), (F.conv3d, 3), (F.conv_transpose1d, 1), (F.conv_transpose3d, 3)])
@given(seed=st.integers(0, 2**16), batch=st.integers(2, 4), pad=st.integers(0, 1))
@example(seed=0, batch=2, pad=0)
@settings(deadline=None, max_examples=20)
def test_a_batch_s_weight_gradient_adds_its_images_one_after_another(op, d, seed, batch, pad):
    """The weight gradient of a batch is its images' weight gradients added image after image, as PyTorch's native
    kernels accumulate one gemm per image: where products of huge values would overflow one sum over the whole
    batch, the per-image partial sums need not (-1.875e38 + -1.125e38 is -3e38, not -inf)."""
    rng = np.random.default_rng(seed)
    x = rng.choice(_BIG[3:], (batch, 2) + (3,) * d).astype(np.float32)
    w = rng.choice(_BIG[3:], (2, 2) + (2,) * d).astype(np.float32)
    g_shape = op(tg.tensor(x), tg.tensor(w), padding=pad).shape
    g = rng.choice(np.float32([0.5, -0.25, 1.25, -2.0]), g_shape)
    with np.errstate(all="ignore"):
        grads = []
        for rows in [slice(None)] + [slice(i, i + 1) for i in range(batch)]:
            wt = tg.tensor(w, requires_grad=True)
            op(tg.tensor(x[rows]), wt, padding=pad).backward(tg.tensor(g[rows]))
            grads.append(wt.grad.numpy())
        total = grads[1]
        for each in grads[2:]:
            total = total + each
    np.testing.assert_array_equal(grads[0], total)


def test_conv_transpose3d_weight_gradient_of_overflowing_products_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = [[[[[-3.0, -0.25], [0.0, 3.0]], [[-2.5, -3e38], [-1.0, -2.5]]], [[[0.5, 3e38], [1e-30, 2.0]],
          [[-2.5, 60000.0], [3.0, 0.5]]]], [[[[3e38, -0.25], [-0.25, -3.0]], [[0.0, 1.5], [1.0, 3e38]]],
         [[[3.0, 1e30], [0.0, -3e38]], [[0.5, -60000.0], [100000.0, 3.0]]]]]
    g = np.resize(np.float32([-1.0, 0.625, 0.5, -0.25, 1.0, 0.125, -0.75, 0.375]), (2, 1, 2, 3, 2))
    grads = []
    for lib in (tg, torch):
        w = lib.tensor([[[[[-3.0], [-2.5]]]], [[[[1.5], [1.0]]]]], requires_grad=True)
        lib.nn.functional.conv_transpose3d(lib.tensor(x), w).backward(lib.tensor(g))
        grads.append(w.grad.numpy())
    np.testing.assert_array_equal(*grads)  # (-3e38 at [1]: one sum over the batch overflowed to -inf)


def test_float16_conv_gives_nan_where_an_inf_tap_meets_the_padding():
    """0 * inf = NaN in the zero padding, in float16 as in float32 and float64 (PyTorch's native kernels); PyTorch
    2.13's oneDNN, which it takes for every float16 conv3d, skips those taps (0 there)."""
    x = np.array([[[[[1.0, 2.0]]]]])
    w = np.zeros((1, 1, 1, 1, 3))
    w[..., 0] = -np.inf
    outs = []
    for dtype in (tg.float16, tg.float32, tg.float64):
        with np.errstate(all="ignore"):
            outs.append(F.conv3d(tg.tensor(x, dtype=dtype), tg.tensor(w, dtype=dtype), padding=(0, 0, 2)).numpy())
    for out in outs:
        np.testing.assert_array_equal(out.ravel(), [np.nan, np.nan, -np.inf, -np.inf])
