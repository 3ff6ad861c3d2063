"""nn layers, activations and loss modules: output shapes and values against numpy, float64 gradient checks
(Hypothesis over shapes and settings), dtypes, train/eval behaviour, bad inputs, reprs, and (when PyTorch is
installed) the same numbers as torch.nn."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import tapegrad as tg
from tapegrad import nn
from tapegrad.testing import arrays, assert_forward, assert_gradients, dims_and_shape, shapes


def _gradcheck_layer(layer, *inputs):
    """gradcheck of ``layer(*inputs)`` in float64 with respect to the inputs and every parameter."""
    layer.double()
    inputs = tuple(tg.tensor(np.asarray(x, dtype=np.float64), requires_grad=True) for x in inputs)
    params = tuple(layer.parameters())
    n = len(inputs)
    assert tg.autograd.gradcheck(lambda *args: layer(*args[:n]), inputs + params)


def _distinct(shape, seed=0):
    """Values that are all different (no ties for max pooling), in [-3, 3)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 6.0 / max(n, 1) - 3.0)


def _np(t):
    return t._data


# ---------------------------------------------------------------------- numpy references
def conv2d_ref(x, w, b, stride, padding, dilation, groups):
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, groups, o // groups, ho, wo))
    xg = x.reshape(n, groups, cg, h, wd)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    for i in range(kh):
        for j in range(kw):
            patch = xg[:, :, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
            out += np.einsum("ngchw,goc->ngohw", patch, wg[:, :, :, i, j])
    out = out.reshape(n, o, ho, wo)
    return out + b.reshape(1, -1, 1, 1) if b is not None else out


def pool_ref(x, k, s, p, kind, count_include_pad=True):
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    if kind == "max":
        return win.max(axis=(-2, -1))
    if count_include_pad:
        return win.mean(axis=(-2, -1))
    ones = np.pad(np.ones(x.shape[2:]), p)
    counts = sliding_window_view(ones, (k, k))[::s, ::s].sum(axis=(-2, -1))
    return win.sum(axis=(-2, -1)) / counts


def adaptive_avg_ref(x, out_hw):
    h, w = x.shape[2:]
    oh, ow = out_hw
    out = np.empty(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0, beta * x) / beta)


def _erf(x):
    return np.vectorize(math.erf)(x)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# (module factory, numpy reference, kinks to keep away from)
ACTIVATIONS = {
    "ReLU": (lambda: nn.ReLU(), lambda x: np.maximum(x, 0), [0.0]),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x), [0.0]),
    "Sigmoid": (lambda: nn.Sigmoid(), _sigmoid, []),
    "Tanh": (lambda: nn.Tanh(), np.tanh, []),
    "GELU": (lambda: nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), []),
    "GELU-tanh": (lambda: nn.GELU("tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))), []),
    "SiLU": (lambda: nn.SiLU(), lambda x: x * _sigmoid(x), []),
    "ELU": (lambda: nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), [0.0]),
    "Softplus": (lambda: nn.Softplus(2.0, 4.0), lambda x: _softplus(x, 2.0, 4.0), [2.0]),
    "Hardtanh": (lambda: nn.Hardtanh(-2.0, 1.5), lambda x: np.clip(x, -2.0, 1.5), [-2.0, 1.5]),
    "ReLU6": (lambda: nn.ReLU6(), lambda x: np.clip(x, 0, 6), [0.0, 6.0]),
    "Mish": (lambda: nn.Mish(), lambda x: x * np.tanh(_softplus(x)), []),
    "Softsign": (lambda: nn.Softsign(), lambda x: x / (1 + np.abs(x)), [0.0]),
    "Hardswish": (lambda: nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6, [-3.0, 3.0]),
    "Hardsigmoid": (lambda: nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6, [-3.0, 3.0]),
    "SELU": (lambda: nn.SELU(), lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), [0.0]),
    "CELU": (lambda: nn.CELU(0.5), lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * np.expm1(x / 0.5)), []),
    "LogSigmoid": (lambda: nn.LogSigmoid(), lambda x: -np.logaddexp(0, -x), []),
    "Identity": (lambda: nn.Identity(), lambda x: x, []),
}


def _away_from(x, kinks):
    for k in kinks:
        x = np.where(np.abs(x - k) < 1e-3, k + 2e-3, x)
    return x


# ---------------------------------------------------------------------- Linear
@given(st.integers(1, 4), st.integers(1, 4), shapes(min_dims=0, max_dims=2, max_side=3), st.booleans())
def test_linear_forward_and_gradient(n_in, n_out, batch, bias):
    fc = nn.Linear(n_in, n_out, bias=bias)
    x = np.random.default_rng(0).standard_normal(batch + (n_in,))
    w = fc.weight._data
    want = x.astype(np.float32) @ w.T + (fc.bias._data if bias else 0)
    assert_forward(fc, lambda a: want, x.astype(np.float32))
    _gradcheck_layer(fc, x)


def test_linear_dtypes_and_bad_input():
    fc = nn.Linear(3, 2)
    assert fc(tg.ones(4, 3)).dtype == tg.float32
    assert fc.double()(tg.ones(4, 3, dtype=tg.float64)).dtype == tg.float64
    assert nn.Linear(3, 2, dtype=tg.float64)(tg.ones(1, 3, dtype=tg.float64)).dtype == tg.float64
    with pytest.raises(RuntimeError, match=r"linear: .*\(4, 5\).*\(2, 3\)"):
        nn.Linear(3, 2)(tg.ones(4, 5))
    with pytest.raises(ValueError, match="Linear: in_features must be a non-negative int, got -1"):
        nn.Linear(-1, 2)


# ---------------------------------------------------------------------- Conv2d
@st.composite
def conv_settings(draw):
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    k = draw(st.integers(1, 3))
    stride, padding, dilation = draw(st.integers(1, 2)), draw(st.integers(0, 1)), draw(st.integers(1, 2))
    span = dilation * (k - 1) + 1
    h = draw(st.integers(max(1, span - 2 * padding), 5))
    w = draw(st.integers(max(1, span - 2 * padding), 5))
    return dict(c_in=c_in, c_out=c_out, k=k, stride=stride, padding=padding, dilation=dilation, groups=groups,
                h=h, w=w, n=draw(st.integers(1, 2)), bias=draw(st.booleans()))


@given(conv_settings())
def test_conv2d_forward_and_gradient(s):
    conv = nn.Conv2d(s["c_in"], s["c_out"], s["k"], s["stride"], s["padding"], s["dilation"], s["groups"],
                     bias=s["bias"])
    x = np.random.default_rng(1).standard_normal((s["n"], s["c_in"], s["h"], s["w"]))
    conv.double()
    want = conv2d_ref(x, conv.weight._data, conv.bias._data if s["bias"] else None, conv.stride, conv.padding,
                      conv.dilation, s["groups"])
    np.testing.assert_allclose(_np(conv(tg.tensor(x))), want, rtol=1e-10, atol=1e-12)
    _gradcheck_layer(conv, x)


@pytest.mark.parametrize("mode, np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_conv2d_padding_modes(mode, np_mode):
    conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, dtype=tg.float64)
    x = np.random.default_rng(2).standard_normal((2, 2, 4, 5))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode)
    want = conv2d_ref(padded, conv.weight._data, conv.bias._data, (1, 1), (0, 0), (1, 1), 1)
    np.testing.assert_allclose(_np(conv(tg.tensor(x))), want, rtol=1e-10)
    _gradcheck_layer(conv, x)


@pytest.mark.parametrize("k, dilation", [(3, 1), (4, 1), (2, 3)])
def test_conv2d_same_and_valid_padding(k, dilation):
    x = np.random.default_rng(3).standard_normal((1, 2, 5, 6))
    same = nn.Conv2d(2, 2, k, padding="same", dilation=dilation, dtype=tg.float64)
    assert same(tg.tensor(x)).shape == (1, 2, 5, 6)
    total = dilation * (k - 1)
    lo, hi = total // 2, total - total // 2  # PyTorch puts the extra pad on the right/bottom
    padded = np.pad(x, ((0, 0), (0, 0), (lo, hi), (lo, hi)))
    want = conv2d_ref(padded, same.weight._data, same.bias._data, (1, 1), (0, 0), (dilation, dilation), 1)
    np.testing.assert_allclose(_np(same(tg.tensor(x))), want, rtol=1e-10)
    _gradcheck_layer(same, x)
    valid = nn.Conv2d(2, 2, 2, padding="valid")
    assert valid(tg.ones(1, 2, 5, 6)).shape == (1, 2, 4, 5)


def test_conv2d_dtypes_and_errors():
    conv = nn.Conv2d(1, 2, 3)
    assert conv(tg.ones(1, 1, 4, 4)).dtype == tg.float32
    assert conv.double()(tg.ones(1, 1, 4, 4, dtype=tg.float64)).dtype == tg.float64
    with pytest.raises(RuntimeError, match=r"conv2d: .*\(1, 4, 5, 5\).*3 channels, but got 4"):
        nn.Conv2d(3, 2, 3)(tg.ones(1, 4, 5, 5))
    with pytest.raises(ValueError, match="Conv2d: in_channels must be divisible by groups, got in_channels=3 and "
                                         "groups=2"):
        nn.Conv2d(3, 2, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: out_channels must be divisible by groups, got out_channels=3"):
        nn.Conv2d(2, 3, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: groups must be a positive integer, got 0"):
        nn.Conv2d(2, 2, 3, groups=0)
    with pytest.raises(ValueError, match="Conv2d: invalid padding string 'full'"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' is not supported for strided convolutions "
                                         r"\(stride=\(2, 2\)\)"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be one of .* but got padding_mode='mirror'"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"Conv2d: kernel_size must be an int or a pair of non-negative ints, "
                                         r"got \(1, 2, 3\)"):
        nn.Conv2d(1, 1, (1, 2, 3))
    with pytest.raises(ValueError, match="Conv2d: kernel_size, stride and dilation must be positive"):
        nn.Conv2d(1, 1, 3, stride=0)


# ---------------------------------------------------------------------- pooling
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.integers(1, 2), st.integers(1, 2),
       st.integers(0, 2), st.integers(0, 2))
def test_max_and_avg_pool_forward_and_gradient(k, s, p, n, c, dh, dw):
    assume(p <= k // 2)
    shape = (n, c, k + dh, k + dw)
    x = _distinct(shape)
    mp = nn.MaxPool2d(k, s, p)
    np.testing.assert_allclose(_np(mp(tg.tensor(x))), pool_ref(x, k, s, p, "max"))
    _gradcheck_layer(mp, x)
    for include in (True, False):
        ap = nn.AvgPool2d(k, s, p, count_include_pad=include)
        np.testing.assert_allclose(_np(ap(tg.tensor(x))), pool_ref(x, k, s, p, "avg", include), rtol=1e-12, atol=1e-14)
        _gradcheck_layer(ap, x)


def test_pool_stride_defaults_dtypes_and_errors():
    assert nn.MaxPool2d(2).stride == 2 and nn.AvgPool2d(3).stride == 3
    x32 = tg.tensor(_distinct((1, 2, 4, 4)).astype(np.float32))
    for layer in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(2)):
        assert layer(x32).dtype == tg.float32 and layer(x32.double()).dtype == tg.float64
        assert layer(x32).shape == (1, 2, 2, 2) and layer(x32[0]).shape == (2, 2, 2)
    out, idx = nn.MaxPool2d(2, return_indices=True)(x32)
    assert idx.dtype == tg.int64 and idx.shape == (1, 2, 2, 2)
    with pytest.raises(RuntimeError, match=r"max_pool2d: given input of shape \(1, 1, 3, 3\)"):
        nn.MaxPool2d(5)(tg.ones(1, 1, 3, 3))


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3))
def test_adaptive_avg_pool_forward_and_gradient(h, w, oh, ow):
    x = _distinct((1, 2, h, w))
    pool = nn.AdaptiveAvgPool2d((oh, ow))
    np.testing.assert_allclose(_np(pool(tg.tensor(x))), adaptive_avg_ref(x, (oh, ow)), rtol=1e-12, atol=1e-14)
    _gradcheck_layer(pool, x)
    assert nn.AdaptiveAvgPool2d((oh, None))(tg.tensor(x)).shape == (1, 2, oh, w)


# ---------------------------------------------------------------------- Flatten, Unflatten, Identity
@given(shapes(min_dims=1, max_dims=4, max_side=3), st.data())
def test_flatten_forward_and_gradient(shape, data):
    nd = len(shape)
    start = data.draw(st.integers(-nd, nd - 1))
    end = data.draw(st.integers(-nd, nd - 1))
    assume(start % nd <= end % nd)
    a, b = start % nd, end % nd
    want_shape = shape[:a] + (int(np.prod(shape[a:b + 1])),) + shape[b + 1:]
    flat = nn.Flatten(start, end)
    assert_forward(flat, lambda x: x.reshape(want_shape), np.ones(shape, dtype=np.float32))
    assert_gradients(lambda x: flat(x) * 2, np.arange(np.prod(shape), dtype=np.float64).reshape(shape))


def test_flatten_unflatten_identity_and_errors():
    x = tg.ones(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12) and nn.Flatten(0)(x).shape == (24,)
    assert nn.Flatten(0)(tg.tensor(1.0)).shape == (1,)
    assert nn.Unflatten(1, (3, 4))(tg.ones(2, 12)).shape == (2, 3, 4)
    assert nn.Unflatten(-1, (2, -1))(tg.ones(2, 12)).shape == (2, 2, 6)
    assert_gradients(lambda t: nn.Unflatten(1, (2, 2))(t) * 3, np.ones((2, 4)))
    y = tg.ones(3)
    assert nn.Identity(54, unused="x")(y) is y
    with pytest.raises(RuntimeError, match=r"Flatten: start_dim 2 comes after end_dim 1 for an input of shape "
                                           r"\(2, 3, 4\)"):
        nn.Flatten(2, 1)(x)
    with pytest.raises(IndexError, match="Flatten: dim 5 is out of range"):
        nn.Flatten(5)(x)
    with pytest.raises(RuntimeError, match=r"Unflatten: the sizes \(5, 2\) do not multiply to the size 12 of dim 1"):
        nn.Unflatten(1, (5, 2))(tg.ones(2, 12))
    with pytest.raises(TypeError, match="Unflatten: unflattened_size must be tuple of ints, but found element of "
                                        "type float at pos 1"):
        nn.Unflatten(1, (2, 2.0))
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, but found type int"):
        nn.Unflatten(1, 4)


# ---------------------------------------------------------------------- Dropout
def test_dropout_train_masks_and_scales_eval_is_identity():
    drop = nn.Dropout(0.25)
    x = tg.ones(200, 100)
    y = drop(x)._data
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.01
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x)._data, x._data)
    drop.train()
    assert not nn.Dropout(1.0)(x)._data.any()
    np.testing.assert_array_equal(nn.Dropout(0.0)(x)._data, x._data)


def test_dropout_gradient_uses_the_same_mask():
    w = tg.ones(50, 40, dtype=tg.float64, requires_grad=True)
    y = nn.Dropout(0.5)(w * 3)
    y.sum().backward()
    np.testing.assert_allclose(w.grad._data, y._data, rtol=1e-12)  # both are 3 * mask / (1 - p) with x = 1


def test_dropout_dtypes_and_bad_p():
    for dtype in (tg.float32, tg.float64):
        assert nn.Dropout()(tg.ones(3, dtype=dtype)).dtype == dtype
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"Dropout: dropout probability has to be between 0 and 1, but got {p}"):
            nn.Dropout(p)


# ---------------------------------------------------------------------- BatchNorm
def test_batchnorm1d_training_uses_batch_stats_and_updates_running_stats_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 1.0], [7.0, 3.0]], dtype=np.float32)
    bn = nn.BatchNorm1d(2)
    bn.weight._data[...] = [2.0, 0.5]
    bn.bias._data[...] = [0.1, -0.1]
    y = bn(tg.tensor(x))
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(_np(y), (x - mean) / np.sqrt(var + 1e-5) * [2.0, 0.5] + [0.1, -0.1], rtol=1e-5)
    np.testing.assert_allclose(_np(bn.running_mean), 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(_np(bn.running_var), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-6)  # unbiased
    assert bn.num_batches_tracked.item() == 1
    bn(tg.tensor(x))
    np.testing.assert_allclose(_np(bn.running_mean), 0.9 * 0.1 * mean + 0.1 * mean, rtol=1e-6)
    assert bn.num_batches_tracked.item() == 2
    bn.eval()
    rm, rv = _np(bn.running_mean).copy(), _np(bn.running_var).copy()
    y = bn(tg.tensor(x))
    np.testing.assert_allclose(_np(y), (x - rm) / np.sqrt(rv + 1e-5) * [2.0, 0.5] + [0.1, -0.1], rtol=1e-5)
    np.testing.assert_array_equal(_np(bn.running_mean), rm)  # eval does not update
    assert bn.num_batches_tracked.item() == 2


def test_batchnorm_cumulative_average_and_untracked_stats():
    rng = np.random.default_rng(4)
    b1, b2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    bn = nn.BatchNorm1d(3, momentum=None, dtype=tg.float64)
    bn(tg.tensor(b1))
    bn(tg.tensor(b2))
    np.testing.assert_allclose(_np(bn.running_mean), (b1.mean(0) + b2.mean(0)) / 2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(bn.running_var), (b1.var(0, ddof=1) + b2.var(0, ddof=1)) / 2, rtol=1e-12, atol=1e-14)
    free = nn.BatchNorm1d(3, track_running_stats=False, affine=False).eval()
    assert free.running_mean is None and free.num_batches_tracked is None
    y = free(tg.tensor(b1))  # no running stats: batch statistics even in eval mode
    np.testing.assert_allclose(_np(y), (b1 - b1.mean(0)) / np.sqrt(b1.var(0) + 1e-5), rtol=1e-6)
    assert list(free.parameters()) == []


def test_batchnorm2d_normalizes_each_channel_over_batch_and_space():
    x = np.random.default_rng(5).standard_normal((3, 2, 4, 5))
    bn = nn.BatchNorm2d(2, dtype=tg.float64)
    y = bn(tg.tensor(x))
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(_np(y), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(bn.running_var), 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12, atol=1e-14)


@given(st.integers(2, 4), st.integers(1, 3), st.sampled_from([(), (3,), (2, 2)]), st.booleans())
def test_batchnorm_gradient(n, c, spatial, training):
    layer = (nn.BatchNorm1d(c) if len(spatial) < 2 else nn.BatchNorm2d(c)).double()
    rng = np.random.default_rng(n * 10 + c)
    layer.weight._data[...] = rng.uniform(0.5, 1.5, c)
    layer.bias._data[...] = rng.standard_normal(c)
    layer.running_var._data[...] = rng.uniform(0.5, 2.0, c)
    layer.train(training)
    before = _np(layer.running_mean).copy()
    x = rng.standard_normal((n, c) + spatial)
    _gradcheck_layer(layer, x)
    assert training or np.array_equal(_np(layer.running_mean), before)


def test_batchnorm_dtypes_and_errors():
    for dtype in (tg.float32, tg.float64):
        bn = nn.BatchNorm1d(2, dtype=dtype)
        assert bn(tg.ones(3, 2, dtype=dtype)).dtype == dtype and bn.running_mean.dtype == dtype
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D input of shape "
                                         r"\(1, 2, 3, 3\)\)"):
        nn.BatchNorm1d(2)(tg.ones(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 2D input of shape \(3, 2\)\)"):
        nn.BatchNorm2d(2)(tg.ones(3, 2))
    with pytest.raises(ValueError, match="expected more than 1 value per channel when training"):
        nn.BatchNorm1d(2)(tg.ones(1, 2))
    nn.BatchNorm1d(2).eval()(tg.ones(1, 2))  # one sample is fine in eval mode
    with pytest.raises(ValueError, match="BatchNorm1d: num_features must be a positive int, got 0"):
        nn.BatchNorm1d(0)


# ---------------------------------------------------------------------- LayerNorm, GroupNorm
@given(shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_layernorm_forward_and_gradient(shape, data):
    k = data.draw(st.integers(1, len(shape)))
    norm_shape = shape[len(shape) - k:]
    axes = tuple(range(len(shape) - k, len(shape)))
    assume(int(np.prod(norm_shape)) > 1)
    ln = nn.LayerNorm(norm_shape, dtype=tg.float64)
    rng = np.random.default_rng(len(shape))
    ln.weight._data[...] = rng.uniform(0.5, 1.5, norm_shape)
    ln.bias._data[...] = rng.standard_normal(norm_shape)
    x = rng.standard_normal(shape)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * ln.weight._data + ln.bias._data
    np.testing.assert_allclose(_np(ln(tg.tensor(x))), want, rtol=1e-9, atol=1e-12)
    _gradcheck_layer(ln, x)


def test_layernorm_options_dtypes_and_errors():
    assert nn.LayerNorm(3, elementwise_affine=False).weight is None
    assert nn.LayerNorm(3, bias=False).bias is None and nn.LayerNorm(3, bias=False).weight is not None
    assert nn.LayerNorm([2, 3]).normalized_shape == (2, 3)
    for dtype in (tg.float32, tg.float64):
        assert nn.LayerNorm(3, dtype=dtype)(tg.ones(2, 3, dtype=dtype)).dtype == dtype
    ln = nn.LayerNorm(4)
    assert np.array_equal(_np(ln.eval()(tg.ones(2, 4))), _np(ln.train()(tg.ones(2, 4))))
    with pytest.raises(RuntimeError, match=r"layer_norm: .*\(2, 4\)"):
        nn.LayerNorm(3)(tg.ones(2, 4))


@given(st.integers(1, 3), st.sampled_from([(1, 2), (2, 2), (2, 4), (3, 3)]), st.sampled_from([(), (2,), (2, 2)]))
def test_groupnorm_forward_and_gradient(n, groups_channels, spatial):
    g, c = groups_channels
    assume(n * (c // g) * math.prod(spatial) > 1)  # one value per group: PyTorch refuses it (ValueError)
    gn = nn.GroupNorm(g, c, dtype=tg.float64)
    rng = np.random.default_rng(c)
    gn.weight._data[...] = rng.uniform(0.5, 1.5, c)
    gn.bias._data[...] = rng.standard_normal(c)
    x = rng.standard_normal((n, c) + spatial)
    grouped = x.reshape(n, g, -1)
    normed = (grouped - grouped.mean(-1, keepdims=True)) / np.sqrt(grouped.var(-1, keepdims=True) + 1e-5)
    shape = (1, c) + (1,) * len(spatial)
    want = normed.reshape(x.shape) * gn.weight._data.reshape(shape) + gn.bias._data.reshape(shape)
    np.testing.assert_allclose(_np(gn(tg.tensor(x))), want, rtol=1e-9, atol=1e-12)
    assume(x[0].size // c * (c // g) > 1)
    _gradcheck_layer(gn, x)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_norm_layers_on_constant_and_offset_inputs_stay_finite(dtype):
    for layer, shape in ((nn.BatchNorm1d(3), (4, 3)), (nn.BatchNorm2d(2), (2, 2, 2, 2)), (nn.LayerNorm(3), (4, 3)),
                         (nn.GroupNorm(1, 2), (2, 2, 3))):
        layer.to(dtype)
        const = tg.full(shape, 7.0, dtype=dtype, requires_grad=True)
        y = layer(const)  # zero variance: (x - mean) = 0, eps keeps the division finite
        assert y.dtype == dtype and np.isfinite(y._data).all() and not y._data.any()
        (y * tg.tensor(np.arange(y.numel()).reshape(shape), dtype=dtype)).sum().backward()
        assert np.isfinite(const.grad._data).all()
        base = np.random.default_rng(0).standard_normal(shape)
        shifted = layer(tg.tensor(base + 1e3, dtype=dtype))  # a large common offset must not wreck the variance
        plain = layer(tg.tensor(base, dtype=dtype))
        np.testing.assert_allclose(shifted._data, plain._data, rtol=0, atol=2e-3 if dtype == tg.float32 else 1e-9)


def test_groupnorm_errors():
    for dtype in (tg.float32, tg.float64):
        assert nn.GroupNorm(2, 4, dtype=dtype)(tg.ones(2, 4, 3, dtype=dtype)).dtype == dtype
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(3\) must be divisible by num_groups \(2\)"):
        nn.GroupNorm(2, 3)
    assert nn.GroupNorm(1, 2, affine=False).weight is None


# ---------------------------------------------------------------------- Embedding
@given(st.integers(2, 5), st.integers(1, 3), shapes(min_dims=1, max_dims=2, max_side=4), st.data())
def test_embedding_forward_and_gradient(num, dim, idx_shape, data):
    idx = np.array(data.draw(st.lists(st.integers(0, num - 1), min_size=int(np.prod(idx_shape)),
                                      max_size=int(np.prod(idx_shape))))).reshape(idx_shape)
    emb = nn.Embedding(num, dim)
    np.testing.assert_array_equal(_np(emb(tg.tensor(idx))), emb.weight._data[idx])
    emb.double()
    assert tg.autograd.gradcheck(lambda w: emb(tg.tensor(idx)), (emb.weight,))
    emb.weight.grad = None
    emb(tg.tensor(idx)).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad._data, np.bincount(idx.ravel(), minlength=num)[:, None]
                                  * np.ones((1, dim)))


def test_embedding_padding_idx_gets_no_gradient_and_from_pretrained():
    emb = nn.Embedding(4, 2, padding_idx=-1)
    assert emb.padding_idx == 3 and not emb.weight._data[3].any()
    emb(tg.tensor([3, 1, 3])).sum().backward()
    assert emb.weight.grad._data[3].tolist() == [0, 0] and emb.weight.grad._data[1].tolist() == [1, 1]
    table = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen(tg.tensor([1])).tolist() == [[3.0, 4.0]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    for dtype in (tg.float32, tg.float64):
        assert nn.Embedding(3, 2, dtype=dtype)(tg.tensor([0])).dtype == dtype


def test_embedding_errors():
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must be within num_embeddings \(3\), got 3"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(IndexError, match=r"embedding: index 5 is out of range for a weight of shape \(3, 2\)"):
        nn.Embedding(3, 2)(tg.tensor([5]))
    with pytest.raises(RuntimeError, match="embedding: indices must be an integer"):
        nn.Embedding(3, 2)(tg.tensor([1.0]))
    with pytest.raises(ValueError, match=r"Embedding.from_pretrained: .*2-dimensional Tensor, got \(3,\)"):
        nn.Embedding.from_pretrained(tg.ones(3))
    with pytest.raises(ValueError, match=r"Embedding: shape of weight \(2, 2\) does not match"):
        nn.Embedding(3, 2, _weight=tg.ones(2, 2))


# ---------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(x=arrays(shape=shapes(min_dims=0, max_dims=3)))
def test_activation_forward_and_gradient(name, x):
    make, ref, kinks = ACTIVATIONS[name]
    x = _away_from(x, kinks)
    layer = make()
    assert_forward(layer, ref, x)  # float64
    assert_forward(layer, lambda a: ref(a.astype(np.float64)).astype(np.float32), x.astype(np.float32),
                   rtol=2e-5, atol=1e-6)  # float32 stays float32
    assert_gradients(layer, x)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_extreme_inputs_stay_finite(name, dtype):
    make, ref, _ = ACTIVATIONS[name]
    x = tg.tensor(np.array([-1e4, -80.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 80.0, 1e4], dtype=dtype), requires_grad=True)
    y = make()(x)
    assert y.dtype == dtype and np.isfinite(y._data).all()
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(y._data, ref(x._data.astype(np.float64)), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    assert np.isfinite(x.grad._data).all()


def test_activation_limiting_gradients():
    x = tg.tensor([-50.0, 50.0], dtype=tg.float64, requires_grad=True)
    nn.Sigmoid()(x).sum().backward()
    np.testing.assert_allclose(x.grad._data, [0.0, 0.0], atol=1e-20)
    x.grad = None
    nn.Softplus()(x).sum().backward()
    np.testing.assert_allclose(x.grad._data, [0.0, 1.0], atol=1e-20)
    x.grad = None
    nn.LogSigmoid()(x).sum().backward()
    np.testing.assert_allclose(x.grad._data, [1.0, 0.0], atol=1e-20)


def test_inplace_activations_write_into_their_input():
    for layer in (nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.ELU(inplace=True),
                  nn.SiLU(inplace=True), nn.Hardtanh(inplace=True)):
        x = tg.tensor([-1.0, 2.0])
        y = layer(x)
        assert np.array_equal(x._data, y._data) and x._data[1] == pytest.approx(_np(y)[1])


def test_activation_argument_errors():
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(-1\) must be greater than min_val \(1\)"):
        nn.Hardtanh(1, -1)


@pytest.mark.parametrize("layer, ref", [
    (nn.Softmax, lambda x, d: np.exp(x - np.log(np.exp(x).sum(axis=d, keepdims=True)))),
    (nn.LogSoftmax, lambda x, d: x - np.log(np.exp(x).sum(axis=d, keepdims=True))),
    (nn.Softmin, lambda x, d: np.exp(-x) / np.exp(-x).sum(axis=d, keepdims=True)),
])
@given(dims_and_shape(min_dims=1, max_dims=3), st.data())
def test_softmax_family_forward_and_gradient(layer, ref, dim_shape, data):
    shape, dim = dim_shape
    assume(isinstance(dim, int))
    x = data.draw(arrays(shape=shape))
    m = layer(dim=dim)
    assert_forward(m, lambda a: ref(a, dim), x)
    assert_forward(m, lambda a: ref(a.astype(np.float64), dim).astype(np.float32), x.astype(np.float32),
                   rtol=1e-5, atol=1e-6)
    assert_gradients(m, x)


def test_softmax_extreme_logits_and_implicit_dim():
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor([[1000.0, 0.0, -1000.0]], dtype=dtype)
        np.testing.assert_allclose(_np(nn.Softmax(dim=1)(x)), [[1, 0, 0]], atol=1e-30)
        out = nn.LogSoftmax(dim=1)(x)
        assert out.dtype == dtype and np.isfinite(_np(out)).all()
        np.testing.assert_allclose(_np(out), [[0, -1000, -2000]])
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = nn.Softmax()(tg.zeros(2, 4))
    np.testing.assert_allclose(_np(y), np.full((2, 4), 0.25))  # dim=1 for 2-D input, as PyTorch
    with pytest.raises(IndexError, match=r"softmax: dim 3 is out of range for a tensor of 2 dimension\(s\)"):
        nn.Softmax(dim=3)(tg.ones(2, 2))
    with pytest.raises(IndexError, match="log_softmax: dim -3 is out of range"):
        nn.LogSoftmax(dim=-3)(tg.ones(2, 2))


# ---------------------------------------------------------------------- losses
def _log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _reduce(v, reduction, denom=None):
    if reduction == "none":
        return v
    if reduction == "sum":
        return v.sum()
    return v.sum() / (v.size if denom is None else denom)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shapes(min_dims=1, max_dims=3), st.data())
def test_regression_losses_forward_and_gradient(reduction, shape, data):
    x, y = data.draw(arrays(shape=shape)), data.draw(arrays(shape=shape))
    assume(np.all(np.abs(np.abs(x - y) - 1.0) > 1e-3) and np.all(np.abs(np.abs(x - y) - 0.5) > 1e-3))
    assume(np.all(np.abs(x - y) > 1e-3))
    d = x - y
    cases = [
        (nn.MSELoss(reduction=reduction), d**2),
        (nn.L1Loss(reduction=reduction), np.abs(d)),
        (nn.SmoothL1Loss(reduction=reduction, beta=0.5), np.where(np.abs(d) < 0.5, 0.5 * d**2 / 0.5,
                                                                  np.abs(d) - 0.25)),
        (nn.HuberLoss(reduction=reduction, delta=1.0), np.where(np.abs(d) < 1, 0.5 * d**2, np.abs(d) - 0.5)),
    ]
    for loss, per_elem in cases:
        assert_forward(loss, lambda a, b, v=per_elem: _reduce(v, reduction), x, y, rtol=1e-10)
        assert_gradients(loss, x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(st.integers(1, 4), st.integers(2, 4), st.data())
def test_cross_entropy_and_nll_forward_and_gradient(reduction, n, c, data):
    logits = data.draw(arrays(shape=(n, c)))
    target = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    weight = data.draw(arrays(shape=(c,), min_value=0.5, max_value=2.0))
    logp = _log_softmax(logits)
    picked = -logp[np.arange(n), target] * weight[target]
    want = _reduce(picked, reduction, weight[target].sum())
    ce = nn.CrossEntropyLoss(weight=tg.tensor(weight), reduction=reduction)
    assert_forward(lambda x, t: ce(x, t), lambda x, t: want, logits, target, rtol=1e-9)
    assert_gradients(lambda x: ce(x, tg.tensor(target)), logits)
    nll = nn.NLLLoss(weight=tg.tensor(weight), reduction=reduction)
    assert_forward(lambda x, t: nll(x, t), lambda x, t: want, logp, target, rtol=1e-9)
    assert_gradients(lambda x: nll(x, tg.tensor(target)), logp)


def test_cross_entropy_options():
    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, -1.0, 0.0]])
    target = np.array([0, -100, 2])
    logp = _log_softmax(logits)
    ce = nn.CrossEntropyLoss()  # ignore_index=-100 by default
    want = -(logp[0, 0] + logp[2, 2]) / 2
    assert ce(tg.tensor(logits), tg.tensor(target)).item() == pytest.approx(want)
    smooth = nn.CrossEntropyLoss(label_smoothing=0.2)
    t = np.array([0, 1, 2])
    per = -(0.8 * logp[np.arange(3), t] + 0.2 / 3 * logp.sum(1))
    assert smooth(tg.tensor(logits), tg.tensor(t)).item() == pytest.approx(per.mean())
    probs = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    assert ce(tg.tensor(logits), tg.tensor(probs)).item() == pytest.approx(-(probs * logp).sum(1).mean())
    spatial = np.random.default_rng(0).standard_normal((2, 3, 2, 2))
    st_target = np.array([[[0, 1], [2, 0]], [[1, 1], [0, 2]]])
    lp = _log_softmax(spatial)
    want = -np.take_along_axis(lp, st_target[:, None], 1).mean()
    assert ce(tg.tensor(spatial), tg.tensor(st_target)).item() == pytest.approx(want)


def test_cross_entropy_extreme_logits_are_finite():
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor([[1e4, -1e4, 0.0]], dtype=dtype, requires_grad=True)
        loss = nn.CrossEntropyLoss()(x, tg.tensor([1]))
        assert loss.dtype == dtype and loss.item() == pytest.approx(2e4, rel=1e-6)
        loss.backward()
        np.testing.assert_allclose(x.grad._data, [[1, -1, 0]], atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shapes(min_dims=1, max_dims=2), st.data())
def test_bce_losses_forward_and_gradient(reduction, shape, data):
    p = data.draw(arrays(shape=shape, min_value=0.05, max_value=0.95))
    y = data.draw(arrays(shape=shape, min_value=0.0, max_value=1.0))
    w = data.draw(arrays(shape=shape[-1:], min_value=0.5, max_value=2.0))
    bce = nn.BCELoss(weight=tg.tensor(w), reduction=reduction)
    want = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * w
    assert_forward(lambda a, b: bce(a, b), lambda a, b: _reduce(want, reduction), p, y, rtol=1e-9)
    assert_gradients(lambda a: bce(a, tg.tensor(y)), p)
    logits = data.draw(arrays(shape=shape))
    pos = data.draw(arrays(shape=shape[-1:], min_value=0.5, max_value=3.0))
    bcel = nn.BCEWithLogitsLoss(weight=tg.tensor(w), pos_weight=tg.tensor(pos), reduction=reduction)
    s = _sigmoid(logits)
    want = -(pos * y * np.log(s) + (1 - y) * np.log(1 - s)) * w
    assert_forward(lambda a, b: bcel(a, b), lambda a, b: _reduce(want, reduction), logits, y, rtol=1e-9)
    assert_gradients(lambda a, b: bcel(a, b), logits, y)


def test_bce_extreme_inputs_are_finite_with_correct_limits():
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor([100.0, -100.0, 1e4, -1e4], dtype=dtype, requires_grad=True)
        y = tg.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype)
        loss = nn.BCEWithLogitsLoss(reduction="none")(x, y)
        assert loss.dtype == dtype
        np.testing.assert_allclose(loss._data, [100, 100, 0, 0], rtol=1e-6, atol=1e-30)
        loss.sum().backward()
        np.testing.assert_allclose(x.grad._data, [1, -1, 0, 0], atol=1e-30)
        p = tg.tensor([0.0, 1.0, 0.5], dtype=dtype, requires_grad=True)
        bce = nn.BCELoss(reduction="none")(p, tg.tensor([1.0, 0.0, 1.0], dtype=dtype))
        np.testing.assert_allclose(bce._data, [100, 100, math.log(2)], rtol=1e-6)  # logs clamped at -100
        bce.sum().backward()
        assert np.isfinite(p.grad._data).all()


@pytest.mark.filterwarnings("ignore:.*divides the total loss by both the batch size:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@given(shapes(min_dims=1, max_dims=2), st.data())
def test_kl_div_forward_and_gradient(reduction, log_target, shape, data):
    x = np.log(data.draw(arrays(shape=shape, min_value=0.05, max_value=1.0)))
    t = data.draw(arrays(shape=shape, min_value=0.05, max_value=1.0))
    tt = np.log(t) if log_target else t
    per = t * (np.log(t) - x)
    if reduction == "batchmean":
        want = per.sum() / shape[0]
    else:
        want = _reduce(per, reduction)
    kl = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    assert_forward(lambda a, b: kl(a, b), lambda a, b: want, x, tt, rtol=1e-9, atol=1e-12)
    assert_gradients(lambda a, b: kl(a, b), x, tt)


@pytest.mark.filterwarnings("ignore:.*divides the total loss by both the batch size:UserWarning")
def test_loss_dtypes_buffers_and_errors():
    for dtype in (tg.float32, tg.float64):
        a, b = tg.ones(2, 3, dtype=dtype), tg.zeros(2, 3, dtype=dtype)
        for loss in (nn.MSELoss(), nn.L1Loss(), nn.SmoothL1Loss(), nn.HuberLoss(), nn.BCEWithLogitsLoss(),
                     nn.KLDivLoss(reduction="batchmean")):
            assert loss(a, b).dtype == dtype
        assert nn.CrossEntropyLoss()(a, tg.tensor([0, 1])).dtype == dtype
        assert nn.NLLLoss()(a, tg.tensor([0, 1])).dtype == dtype
        assert nn.BCELoss()(a * 0.5, b).dtype == dtype
    ce = nn.CrossEntropyLoss(weight=tg.ones(3))
    assert list(ce.state_dict()) == ["weight"] and list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=tg.ones(2)).state_dict()) == ["pos_weight"]
    ce.double()
    assert ce.weight.dtype == tg.float64
    with pytest.raises(ValueError, match=r"MSELoss: 'avg' is not a valid value for reduction \(expected one of "
                                         r"\['none', 'mean', 'sum'\]\)"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(IndexError, match=r"cross_entropy: target class 5 is out of bounds"):
        nn.CrossEntropyLoss()(tg.ones(2, 3), tg.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"mse_loss: .*\(3,\).*\(2,\)"):
        nn.MSELoss()(tg.ones(2), tg.ones(3))


def test_legacy_size_average_and_reduce_arguments():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"
    with pytest.warns(UserWarning):
        assert nn.NLLLoss(size_average=True, reduce=True).reduction == "mean"


# ---------------------------------------------------------------------- reprs (PyTorch 2.13's exact text)
REPRS = [
    (lambda: nn.Linear(2, 4), "Linear(in_features=2, out_features=4, bias=True)"),
    (lambda: nn.Linear(2, 4, bias=False), "Linear(in_features=2, out_features=4, bias=False)"),
    (lambda: nn.Conv2d(1, 2, 3), "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))"),
    (lambda: nn.Conv2d(1, 2, (3, 5), stride=2, padding=1, dilation=2, bias=False, padding_mode="reflect"),
     "Conv2d(1, 2, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), dilation=(2, 2), bias=False, "
     "padding_mode=reflect)"),
    (lambda: nn.Conv2d(2, 4, 3, padding="same", groups=2),
     "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, groups=2)"),
    (lambda: nn.MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"),
    (lambda: nn.MaxPool2d(3, 1, 1, ceil_mode=True),
     "MaxPool2d(kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=True)"),
    (lambda: nn.AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d(output_size=1)"),
    (lambda: nn.AdaptiveAvgPool2d((2, None)), "AdaptiveAvgPool2d(output_size=(2, None))"),
    (lambda: nn.Flatten(), "Flatten(start_dim=1, end_dim=-1)"),
    (lambda: nn.Unflatten(1, (2, 3)), "Unflatten(dim=1, unflattened_size=(2, 3))"),
    (lambda: nn.Dropout(), "Dropout(p=0.5, inplace=False)"),
    (lambda: nn.Dropout(0.2, inplace=True), "Dropout(p=0.2, inplace=True)"),
    (lambda: nn.BatchNorm1d(3),
     "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"),
    (lambda: nn.BatchNorm2d(3, momentum=None, affine=False, track_running_stats=False),
     "BatchNorm2d(3, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=False)"),
    (lambda: nn.LayerNorm(4), "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"),
    (lambda: nn.LayerNorm((2, 3), elementwise_affine=False, bias=False),
     "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False, bias=False)"),
    (lambda: nn.GroupNorm(2, 4), "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"),
    (lambda: nn.Embedding(10, 3), "Embedding(10, 3)"),
    (lambda: nn.Embedding(10, 3, padding_idx=0, max_norm=1.0), "Embedding(10, 3, padding_idx=0, max_norm=1.0)"),
    (lambda: nn.Identity(), "Identity()"),
    (lambda: nn.ReLU(), "ReLU()"),
    (lambda: nn.ReLU(True), "ReLU(inplace=True)"),
    (lambda: nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (lambda: nn.LeakyReLU(0.2, True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (lambda: nn.Sigmoid(), "Sigmoid()"),
    (lambda: nn.Tanh(), "Tanh()"),
    (lambda: nn.GELU(), "GELU(approximate='none')"),
    (lambda: nn.GELU("tanh"), "GELU(approximate='tanh')"),
    (lambda: nn.SiLU(), "SiLU()"),
    (lambda: nn.ELU(), "ELU(alpha=1.0)"),
    (lambda: nn.ELU(0.5, True), "ELU(alpha=0.5, inplace=True)"),
    (lambda: nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
    (lambda: nn.Softplus(2, 10), "Softplus(beta=2, threshold=10)"),
    (lambda: nn.Softmax(), "Softmax(dim=None)"),
    (lambda: nn.Softmax(1), "Softmax(dim=1)"),
    (lambda: nn.LogSoftmax(dim=-1), "LogSoftmax(dim=-1)"),
    (lambda: nn.Hardtanh(-2, 2, True), "Hardtanh(min_val=-2, max_val=2, inplace=True)"),
    (lambda: nn.ReLU6(True), "ReLU6(inplace=True)"),
    (lambda: nn.Mish(True), "Mish(inplace=True)"),
    (lambda: nn.Softsign(), "Softsign()"),
    (lambda: nn.Hardswish(), "Hardswish()"),
    (lambda: nn.SELU(True), "SELU(inplace=True)"),
    (lambda: nn.CELU(0.5, True), "CELU(alpha=0.5, inplace=True)"),
    (lambda: nn.LogSigmoid(), "LogSigmoid()"),
    (lambda: nn.Softmin(1), "Softmin(dim=1)"),
    (lambda: nn.CrossEntropyLoss(weight=tg.ones(3)), "CrossEntropyLoss()"),
    (lambda: nn.NLLLoss(), "NLLLoss()"),
    (lambda: nn.MSELoss(), "MSELoss()"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=tg.ones(2)), "BCEWithLogitsLoss()"),
    (lambda: nn.KLDivLoss(), "KLDivLoss()"),
]


@pytest.mark.parametrize("make, text", REPRS, ids=[t.split("(")[0] + str(i) for i, (_, t) in enumerate(REPRS)])
def test_repr_matches_pytorch(make, text):
    assert repr(make()) == text


# ---------------------------------------------------------------------- the same numbers as PyTorch
def _torch_pairs(torch):
    tnn = torch.nn
    return [
        (nn.Linear(3, 2), tnn.Linear(3, 2), (4, 3)),
        (nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2), tnn.Conv2d(4, 6, 3, 2, 1, 1, 2), (2, 4, 5, 6)),
        (nn.Conv2d(2, 3, (2, 3), padding="same", dilation=2, padding_mode="circular"),
         tnn.Conv2d(2, 3, (2, 3), padding="same", dilation=2, padding_mode="circular"), (1, 2, 5, 6)),
        (nn.Conv2d(2, 2, 3, padding=2, padding_mode="replicate", bias=False),
         tnn.Conv2d(2, 2, 3, padding=2, padding_mode="replicate", bias=False), (1, 2, 4, 4)),
        (nn.MaxPool2d(3, 2, 1), tnn.MaxPool2d(3, 2, 1), (2, 2, 5, 5)),
        (nn.MaxPool2d(2, ceil_mode=True), tnn.MaxPool2d(2, ceil_mode=True), (1, 2, 5, 5)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), tnn.AvgPool2d(3, 2, 1, count_include_pad=False),
         (2, 2, 5, 5)),
        (nn.AdaptiveAvgPool2d((3, 2)), tnn.AdaptiveAvgPool2d((3, 2)), (1, 2, 5, 7)),
        (nn.BatchNorm1d(3), tnn.BatchNorm1d(3), (4, 3, 2)),
        (nn.BatchNorm2d(3, momentum=None), tnn.BatchNorm2d(3, momentum=None), (2, 3, 2, 2)),
        (nn.LayerNorm((2, 3)), tnn.LayerNorm((2, 3)), (4, 2, 3)),
        (nn.GroupNorm(2, 4), tnn.GroupNorm(2, 4), (2, 4, 3)),
        (nn.Flatten(), tnn.Flatten(), (2, 3, 4)),
    ] + [(ACTIVATIONS[name][0](), getattr(tnn, name.split("-")[0])(*args), (3, 4)) for name, args in [
        ("ReLU", ()), ("LeakyReLU", (0.2,)), ("Sigmoid", ()), ("Tanh", ()), ("GELU", ()), ("GELU-tanh", ("tanh",)),
        ("SiLU", ()), ("ELU", (0.7,)), ("Softplus", (2.0, 4.0)), ("Hardtanh", (-2.0, 1.5)), ("ReLU6", ()),
        ("Mish", ()), ("Softsign", ()), ("Hardswish", ()), ("Hardsigmoid", ()), ("SELU", ()), ("CELU", (0.5,)),
        ("LogSigmoid", ())]]


def test_layers_give_the_same_numbers_as_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for ours, theirs, shape in _torch_pairs(torch):
        ours.double()
        theirs.double()
        with torch.no_grad():
            for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
                p._data[...] = rng.uniform(0.5, 1.5, p.shape)
                q.copy_(torch.from_numpy(p._data.copy()))
        for mode in ("train", "eval"):
            ours.train(mode == "train")
            theirs.train(mode == "train")
            x = rng.standard_normal(shape) * 2
            a = tg.tensor(x, requires_grad=True)
            b = torch.tensor(x, requires_grad=True)
            ya, yb = ours(a), theirs(b)
            what = f"{type(ours).__name__} ({mode})"
            np.testing.assert_allclose(ya._data, yb.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=what)
            g = rng.standard_normal(ya.shape)
            ya.backward(tg.tensor(g))
            yb.backward(torch.tensor(g))
            # NOTE: PyTorch's hardsigmoid backward multiplies by a float32 1/6 even in float64 (error 5e-9).
            rtol = 1e-7 if isinstance(ours, nn.Hardsigmoid) else 1e-9
            np.testing.assert_allclose(a.grad._data, b.grad.numpy(), rtol=rtol, atol=1e-12, err_msg=what)
            for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
                np.testing.assert_allclose(p.grad._data, q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=what)
                p.grad, q.grad = None, None
            for (name, buf), tbuf in zip(ours.named_buffers(), theirs.buffers(), strict=True):
                np.testing.assert_allclose(buf._data, tbuf.numpy(), rtol=1e-12, err_msg=f"{what} {name}")


@pytest.mark.filterwarnings("ignore:.*divides the total loss by both the batch size:UserWarning")
def test_losses_give_the_same_numbers_as_pytorch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p, t01 = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    labels = np.array([0, 2, 1, 2])
    w = rng.uniform(0.5, 2, 3)
    cases = [
        (nn.MSELoss(), tnn.MSELoss(), x, y), (nn.L1Loss(reduction="sum"), tnn.L1Loss(reduction="sum"), x, y),
        (nn.SmoothL1Loss(beta=0.7), tnn.SmoothL1Loss(beta=0.7), x, y),
        (nn.HuberLoss(delta=0.8), tnn.HuberLoss(delta=0.8), x, y),
        (nn.CrossEntropyLoss(weight=tg.tensor(w), label_smoothing=0.1),
         tnn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1), x, labels),
        (nn.NLLLoss(weight=tg.tensor(w), ignore_index=1), tnn.NLLLoss(weight=torch.tensor(w), ignore_index=1),
         x, labels),
        (nn.BCELoss(weight=tg.tensor(w)), tnn.BCELoss(weight=torch.tensor(w)), p, t01),
        (nn.BCEWithLogitsLoss(pos_weight=tg.tensor(w)), tnn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)), x, t01),
        (nn.KLDivLoss(reduction="batchmean"), tnn.KLDivLoss(reduction="batchmean"), np.log(p), t01),
        (nn.KLDivLoss(log_target=True), tnn.KLDivLoss(log_target=True), np.log(p), x),
    ]
    for ours, theirs, inp, target in cases:
        a, b = tg.tensor(inp, requires_grad=True), torch.tensor(inp, requires_grad=True)
        la, lb = ours(a, tg.tensor(target)), theirs(b, torch.tensor(target))
        np.testing.assert_allclose(la._data, lb.detach().numpy(), rtol=1e-10, err_msg=type(ours).__name__)
        la.backward()
        lb.backward()
        np.testing.assert_allclose(a.grad._data, b.grad.numpy(), rtol=1e-9, atol=1e-14, err_msg=type(ours).__name__)


def test_a_small_network_trains_the_same_as_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v._data.copy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((5, 1, 4, 4)), rng.integers(0, 3, 5)
    for _ in range(3):
        la = nn.CrossEntropyLoss()(ours(tg.tensor(x)), tg.tensor(labels))
        lb = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(labels))
        assert la.item() == pytest.approx(lb.item(), rel=1e-10)
        ours.zero_grad()
        theirs.zero_grad()
        la.backward()
        lb.backward()
        with tg.no_grad(), torch.no_grad():
            for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
                p._data -= 0.1 * p.grad._data
                q -= 0.1 * q.grad
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(tg.tensor(x))._data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-9)
