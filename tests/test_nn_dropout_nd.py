"""Channel-wise and alpha dropout (nn/_functional_dropout.py, nn/dropout.py): masks per channel, PyTorch's scaling
and alpha-dropout affine map, gradients through the drawn noise, errors and warnings as PyTorch's."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.testing import assert_gradients

FEATURE = [(F.dropout1d, 3), (F.dropout2d, 4), (F.dropout3d, 5)]


@pytest.mark.parametrize("fn,ndim", FEATURE)
@given(p=st.floats(0.05, 0.95), seed=st.integers(0, 2**16), data=st.data())
def test_whole_channels_are_dropped_and_the_rest_scaled(fn, ndim, p, seed, data):
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)))
    x = tg.rand(*shape, dtype=tg.float64) + 1.0  # no zeros of its own
    y = fn(x, p, generator=tg.Generator().manual_seed(seed)).numpy()
    ratio = (y / x.numpy()).reshape(shape[0], shape[1], -1)
    kept = np.isclose(ratio, 1 / (1 - p))
    assert (kept | (ratio == 0)).all()
    assert (kept.all(-1) | (ratio == 0).all(-1)).all()  # a channel is kept or dropped as a whole


@pytest.mark.parametrize("fn,ndim", FEATURE)
def test_gradient_is_the_mask(fn, ndim):
    shape = (2, 3) + (2,) * (ndim - 2)

    def f(x):  # the same draw every call
        return fn(x, 0.4, generator=tg.Generator().manual_seed(3))

    assert_gradients(f, np.random.default_rng(0).standard_normal(shape))


def test_unbatched_inputs_and_in_place():
    g = tg.Generator().manual_seed(1)
    x = tg.ones(4, 5)
    y = F.dropout1d(x, 0.5, generator=g)
    assert y.shape == (4, 5) and set(np.unique(y.numpy())) <= {0.0, 2.0}
    z = tg.ones(3, 2, 2, 2)
    out = F.dropout3d(z, 0.5, inplace=True, generator=g)
    assert out is z and set(np.unique(z.numpy())) <= {0.0, 2.0}
    w = tg.ones(2, 3, 4)
    assert F.dropout1d(w, 0.5, inplace=True, generator=g) is w


def test_alpha_dropout_keeps_mean_and_variance_and_is_the_affine_map():
    x = tg.randn(200_000, generator=tg.Generator().manual_seed(0))
    y = F.alpha_dropout(x, 0.2, training=True, generator=tg.Generator().manual_seed(1)).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    alpha, p = 1.7580993408473766, 0.2
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    kept = np.isclose(y, x.numpy() * a + alpha * a * p, atol=1e-6)
    dropped = np.isclose(y, -alpha * a + alpha * a * p, atol=1e-6)
    assert (kept | dropped).all() and abs(dropped.mean() - p) < 0.01


def test_feature_alpha_dropout_drops_channels():
    x = tg.randn(4, 6, 5, dtype=tg.float64, requires_grad=True)
    y = F.feature_alpha_dropout(x, 0.5, training=True, generator=tg.Generator().manual_seed(2))
    alpha, p = 1.7580993408473766, 0.5
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    dropped = np.isclose(y.detach().numpy(), -alpha * a + alpha * a * p)
    assert (dropped.all(-1) | ~dropped.any(-1)).all()
    assert y.grad_fn.name() == "AddBackward0"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0.0, a))


@pytest.mark.parametrize("fn", [F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout])
def test_identity_and_zero_edges(fn):
    x = tg.randn(2, 3, 2) if fn is F.dropout1d else tg.randn(2, 3, 2, 2, 2)
    assert fn(x, 0.5, training=False) is x and fn(x, 0.0, training=True) is x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zero = fn(x, 1.0, training=True)
    if fn in (F.alpha_dropout, F.feature_alpha_dropout):
        assert tg.equal(zero, tg.zeros_like(x))  # p = 1: input * 0, as PyTorch
    else:
        assert not zero.numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        fn(x, 1.5, training=True)


def test_errors_and_warnings():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(tg.ones(1, 2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(tg.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout3d"):
        F.dropout3d(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        F.feature_alpha_dropout(tg.ones(3), 0.5, training=True)
    with pytest.raises(RuntimeError, match="alpha_dropout: result type float"):
        F.alpha_dropout(tg.ones(3, dtype=tg.int64), 0.5, training=True)


def test_modules():
    for cls, x in [(tg.nn.Dropout1d, tg.ones(2, 3, 4)), (tg.nn.Dropout2d, tg.ones(2, 3, 4, 4)),
                   (tg.nn.Dropout3d, tg.ones(2, 3, 2, 2, 2)), (tg.nn.AlphaDropout, tg.ones(5)),
                   (tg.nn.FeatureAlphaDropout, tg.ones(2, 3))]:
        m = cls(0.3)
        assert repr(m) == f"{cls.__name__}(p=0.3, inplace=False)"
        assert m.eval()(x) is x
        assert m.train()(x).shape == x.shape
    with pytest.raises(ValueError, match="between 0 and 1"):
        tg.nn.Dropout2d(2.0)


def test_matches_pytorch_where_it_is_deterministic():
    torch = pytest.importorskip("torch")
    for name, shape in [("dropout1d", (2, 3, 4)), ("dropout2d", (2, 3, 4, 4)), ("dropout3d", (2, 3, 2, 2, 2)),
                        ("alpha_dropout", (4, 5)), ("feature_alpha_dropout", (4, 5, 2))]:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        ours = getattr(F, name)(tg.tensor(x, requires_grad=True), 1.0, training=True)
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x, requires_grad=True), 1.0, training=True)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-7)
        assert ours.grad_fn.name() == theirs.grad_fn.name()
        kept_ours = getattr(F, name)(tg.tensor(x), 0.5, training=False)
        np.testing.assert_array_equal(kept_ours.numpy(), x)
    for cls in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"):
        assert repr(getattr(tg.nn, cls)(0.25)) == repr(getattr(torch.nn, cls)(0.25))
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        torch.nn.functional.dropout1d(torch.ones(1, 2, 3, 4))


def test_ranks_pytorch_takes_as_unbatched_and_p_one_before_any_check():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = F.dropout3d(tg.ones(8, 3, 4), 0.5, generator=tg.Generator().manual_seed(0))  # 3-d: dim 0 is a channel
    assert all(len(set(y[i].flatten().tolist())) == 1 for i in range(8))
    rows = F.dropout1d(tg.ones(16, 5), 0.5, generator=tg.Generator().manual_seed(1))  # (C, L): whole rows
    assert all(len(set(r.tolist())) == 1 for r in rows)
    assert tg.equal(F.feature_alpha_dropout(tg.ones(3), 1.0, training=True), tg.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zeros = F.dropout2d(tg.ones(2, 3, 4, dtype=tg.int64), 1.0)
    assert zeros.dtype == tg.int64 and not zeros.numpy().any()


def test_fallback_ranks_match_pytorch():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for shape in [(8, 3, 4), (6,), (2, 3)]:
            theirs = torch.nn.functional.dropout3d(torch.ones(shape), 0.5)
            ours = F.dropout3d(tg.ones(shape), 0.5)
            assert tuple(ours.shape) == tuple(theirs.shape)
            if len(shape) > 1:  # the dropped units are whole slices along dim 0 in both
                assert all(len(set(ours[i].flatten().tolist())) == 1 for i in range(shape[0]))
                assert all(len(set(theirs[i].flatten().tolist())) == 1 for i in range(shape[0]))


def test_unbatched_inplace_forms_refuse_a_leaf_that_requires_grad_as_pytorch():
    for fn, shape in ((tg.nn.functional.dropout1d, (2, 2)), (tg.nn.functional.dropout3d, (1, 2, 2, 2))):
        for training in (True, False):
            with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
                fn(tg.ones(*shape, requires_grad=True), 0.2, training=training, inplace=True)
            with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):  # seed 1188464
                fn(tg.ones(*shape[::-1], requires_grad=True).permute(*range(len(shape))[::-1]), 0.2,
                   training=training, inplace=True)
        x = tg.ones(*shape)
        assert fn(x, 0.0, inplace=True) is x  # not a leaf that requires grad: fine
        y = tg.ones(*shape, requires_grad=True) * 1
        assert fn(y[:], 0.0, inplace=True).shape == y.shape  # a view of a non-leaf: fine
        with tg.no_grad():
            fn(tg.ones(*shape, requires_grad=True), 0.0, inplace=True)


def test_unbatched_inplace_refusals_are_pytorchs():
    torch = pytest.importorskip("torch")
    for name, shape in (("dropout1d", (2, 2)), ("dropout3d", (1, 2, 2, 2))):
        for make in (lambda lib, shape=shape: lib.ones(*shape, requires_grad=True),
                     lambda lib, shape=shape: lib.ones(*shape[::-1], requires_grad=True).permute(
                         *range(len(shape))[::-1]),
                     lambda lib, shape=shape: lib.ones(*shape, requires_grad=True) * 1):
            outcomes = []
            for lib in (tg, torch):
                try:
                    getattr(lib.nn.functional, name)(make(lib), 0.0, training=False, inplace=True)
                    outcomes.append("ok")
                except RuntimeError as e:
                    outcomes.append("view" if "a view of a leaf" in str(e) else "leaf" if "leaf" in str(e) else "?")
            assert outcomes[0] == outcomes[1], (name, outcomes)


UNBATCHED_FAILS = [(F.dropout3d, (), "float64", 0.5, True), (F.dropout3d, (), "float32", 0.3, True),
                   (F.dropout1d, (2, 2), "int64", 0.5, True), (F.dropout3d, (2, 2), "int64", 0.5, True),
                   (F.dropout3d, (2,), "int32", 0.5, True)]
UNBATCHED_OK = [(F.dropout3d, (), "float32", 0.0, True), (F.dropout3d, (), "float32", 1.0, True),
                (F.dropout3d, (), "float32", 0.5, False)]


@pytest.mark.parametrize("fn,shape,dtype,p,training", UNBATCHED_FAILS + UNBATCHED_OK)
def test_unbatched_inplace_form_that_raises_leaves_the_input_unsqueezed_as_pytorch(fn, shape, dtype, p, training):
    # torch/nn/functional.py dropout1d/dropout3d: input.unsqueeze_(0), then feature_dropout_ (which raises for a
    # 1-d result or an integer dtype), then squeeze_(0): a failure leaves the leading dimension in place
    fails = (fn, shape, dtype, p, training) in UNBATCHED_FAILS
    x = tg.ones(shape, dtype=getattr(tg, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fails:
            with pytest.raises(RuntimeError):
                fn(x, p, training=training, inplace=True)
        else:
            assert fn(x, p, training=training, inplace=True) is x
    assert tuple(x.shape) == ((1,) + shape if fails else shape)
    torch = pytest.importorskip("torch")
    t = torch.ones(shape, dtype=getattr(torch, dtype))
    tfn = getattr(torch.nn.functional, fn.__name__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tfn(t, p, training=training, inplace=True)
        except RuntimeError:
            assert fails
    assert tuple(t.shape) == tuple(x.shape)
