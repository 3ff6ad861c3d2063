"""nn.utils: gradient clipping (values by hand), flat parameter vectors, the L1 penalty."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import nn
from tapegrad.nn import utils
from tapegrad.testing import arrays, assert_gradients, shapes


def _params_with_grads(*grads, dtype=tg.float32):
    ps = []
    for g in grads:
        p = nn.Parameter(tg.zeros(len(g), dtype=dtype))
        p.grad = tg.tensor(g, dtype=dtype)
        ps.append(p)
    return ps


# ---------------------------------------------------------------------- clip_grad_norm_
def test_clip_grad_norm_scales_all_gradients_together():
    a, b = _params_with_grads([3.0, 0.0], [0.0, 4.0])
    total = utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(5.0) and total.dtype == tg.float32 and total.shape == ()
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad._data, [3 * coef, 0], rtol=1e-6)
    np.testing.assert_allclose(b.grad._data, [0, 4 * coef], rtol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_and_writes_in_place():
    (a,) = _params_with_grads([0.3, 0.4])
    grad = a.grad
    assert utils.clip_grad_norm_(a, max_norm=1.0).item() == pytest.approx(0.5)
    assert a.grad is grad
    np.testing.assert_allclose(a.grad._data, [0.3, 0.4], rtol=1e-6)


@pytest.mark.parametrize("norm_type, expected", [(1.0, 7.0), (math.inf, 4.0), ("inf", 4.0), (3.0, 91 ** (1 / 3))])
def test_clip_grad_norm_other_norms(norm_type, expected):
    a, b = _params_with_grads([3.0], [-4.0])
    total = utils.clip_grad_norm_(nn.ParameterList([a, b]), max_norm=2.0, norm_type=norm_type)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    coef = 2.0 / (expected + 1e-6)
    np.testing.assert_allclose([a.grad.item(), b.grad.item()], [3 * coef, -4 * coef], rtol=1e-5)


def test_clip_grad_norm_accepts_a_module_and_skips_missing_grads():
    fc = nn.Linear(2, 1)
    fc.weight.grad = tg.tensor([[6.0, 8.0]])
    assert fc.bias.grad is None
    assert utils.clip_grad_norm_(fc.parameters(), 5.0).item() == pytest.approx(10.0)
    np.testing.assert_allclose(fc.weight.grad._data, [[3.0, 4.0]], rtol=1e-5)
    assert fc.bias.grad is None
    assert utils.clip_grad_norm_([nn.Parameter(tg.ones(1))], 1.0).item() == 0.0  # no gradients at all


def test_clip_grad_norm_float64_and_nonfinite():
    (a,) = _params_with_grads([3.0, 4.0], dtype=tg.float64)
    assert utils.clip_grad_norm_([a], 1.0).dtype == tg.float64
    (b,) = _params_with_grads([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite, so it cannot be clipped"):
        utils.clip_grad_norm_([b], 1.0, error_if_nonfinite=True)
    (c,) = _params_with_grads([math.nan, 1.0])
    assert math.isnan(utils.clip_grad_norm_([c], 1.0).item())
    assert np.isnan(c.grad._data).all()  # scaled by the non-finite norm, as PyTorch does
    with pytest.raises(ValueError, match="clip_grad_norm_|get_total_norm: norm_type must be positive"):
        utils.clip_grad_norm_([a], 1.0, norm_type=0)


def test_clip_grad_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) * 5, rng.standard_normal(4).astype(np.float32)]
    ours = [nn.Parameter(tg.zeros(*g.shape)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad = tg.tensor(g)
        q.grad = torch.tensor(g)
    for norm_type in (2.0, 1.0, math.inf):
        t1 = utils.clip_grad_norm_(ours, 0.7, norm_type)
        t2 = torch.nn.utils.clip_grad_norm_(theirs, 0.7, norm_type)
        assert t1.item() == pytest.approx(t2.item(), rel=1e-5)
        for p, q in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.grad._data, q.grad.numpy(), rtol=1e-5)


def test_get_total_norm_and_clip_grads_with_norm():
    assert utils.get_total_norm([tg.tensor([3.0]), tg.tensor([4.0])]).item() == pytest.approx(5.0)
    (a,) = _params_with_grads([3.0, 4.0])
    utils.clip_grads_with_norm_([a], 1.0, tg.tensor(10.0))
    np.testing.assert_allclose(a.grad._data, [0.3, 0.4], rtol=1e-5)


# ---------------------------------------------------------------------- clip_grad_value_
def test_clip_grad_value_clamps_in_place():
    a, b = _params_with_grads([-3.0, 0.5, 2.0], [0.1])
    grad = a.grad
    assert utils.clip_grad_value_([a, b], 1.0) is None
    assert a.grad is grad and a.grad.tolist() == [-1.0, 0.5, 1.0] and b.grad.tolist() == pytest.approx([0.1])


# ---------------------------------------------------------------------- flat vectors
def test_parameters_to_vector_and_back():
    fc = nn.Linear(3, 2)
    vec = utils.parameters_to_vector(fc.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec._data, np.concatenate([fc.weight._data.ravel(), fc.bias._data]))
    new = tg.arange(8.0)
    utils.vector_to_parameters(new, fc.parameters())
    assert fc.weight.tolist() == [[0, 1, 2], [3, 4, 5]] and fc.bias.tolist() == [6, 7]
    assert fc.weight.dtype == tg.float32 and isinstance(fc.weight, nn.Parameter)
    with pytest.raises(RuntimeError, match=r"vector_to_parameters: vec has shape \(5,\) but the parameters hold "
                                           r"8 elements \(expected shape \(8,\)\)"):
        utils.vector_to_parameters(tg.zeros(5), fc.parameters())
    with pytest.raises(TypeError, match="expected vec to be a Tensor, but got list"):
        utils.vector_to_parameters([1.0], fc.parameters())
    with pytest.raises(RuntimeError, match="parameters_to_vector: expected at least one parameter"):
        utils.parameters_to_vector([])


def test_parameters_to_vector_keeps_dtype():
    for dtype in (tg.float32, tg.float64):
        vec = utils.parameters_to_vector(nn.Linear(2, 2, dtype=dtype).parameters())
        assert vec.dtype == dtype


@given(st.lists(shapes(min_dims=0, max_dims=3, max_side=3), min_size=1, max_size=3).flatmap(
    lambda ss: st.tuples(*[arrays(shape=s) for s in ss])))
def test_parameters_to_vector_gradient(xs):
    assert_gradients(lambda *ps: utils.parameters_to_vector(ps) * tg.arange(sum(p.numel() for p in ps) * 1.0),
                     *xs)


# ---------------------------------------------------------------------- L1 penalty
def test_parameters_to_vector_is_a_cat_node_that_skips_parameters_without_grad():
    a, b = tg.ones(2, 2, requires_grad=True), tg.ones(3)
    vec = utils.parameters_to_vector([a, b])
    assert vec.grad_fn.name() == "CatBackward0"  # PyTorch's torch.cat of the flattened parameters
    (vec * tg.arange(7.0)).sum().backward()
    assert a.grad.tolist() == [[0, 1], [2, 3]] and b.grad is None
    single = utils.parameters_to_vector([a])
    assert single.grad_fn.name() == "CatBackward0" and single.shape == (4,)
    assert utils.l1_penalty([a, b]).grad_fn.name() == "L1PenaltyBackward0"


def test_parameters_to_vector_matches_pytorch():
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (tg, torch):
        ps = [lib.tensor(np.arange(4.0).reshape(2, 2), requires_grad=True), lib.tensor([5.0], requires_grad=True)]
        vec = lib.nn.utils.parameters_to_vector(ps)
        assert vec.grad_fn.name() == "CatBackward0"
        (vec ** 2).sum().backward()
        grads.append([p.grad.tolist() for p in ps])
    assert grads[0] == grads[1]


def test_l1_penalty_value_and_gradient():
    w = nn.Parameter(tg.tensor([1.0, -2.0, 0.0]))
    b = nn.Parameter(tg.tensor([0.5]))
    pen = utils.l1_penalty([w, b], lam=0.1)
    assert pen.item() == pytest.approx(0.35) and pen.dtype == tg.float32
    pen.backward()
    np.testing.assert_allclose(w.grad._data, [0.1, -0.1, 0.0])  # subgradient 0 at w = 0, like abs()
    np.testing.assert_allclose(b.grad._data, [0.1])


def test_l1_penalty_accepts_a_module_and_adds_to_a_loss():
    fc = nn.Linear(2, 1)
    expected = 0.01 * sum(np.abs(p._data).sum() for p in fc.parameters())
    loss = (fc.weight * 0).sum() + utils.l1_penalty(fc, lam=0.01)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    np.testing.assert_allclose(fc.weight.grad._data, 0.01 * np.sign(fc.weight._data), rtol=1e-6)
    with pytest.raises(RuntimeError, match="l1_penalty: expected at least one parameter"):
        utils.l1_penalty([], 1.0)


@given(arrays(shape=shapes(min_dims=0, max_dims=3), min_value=0.1, max_value=3.0),
       st.booleans(), st.floats(0.01, 2.0))
def test_l1_penalty_gradient(x, negate, lam):
    x = -x if negate else x  # away from 0, where |w| is differentiable
    assert_gradients(lambda w: utils.l1_penalty([w], lam), x)


def test_l1_penalty_supports_double_backward():
    w = nn.Parameter(tg.tensor([1.0, -2.0], dtype=tg.float64))
    (g,) = tg.autograd.grad(utils.l1_penalty([w], 0.5), w, create_graph=True)
    assert g.tolist() == [0.5, -0.5]
    assert tg.autograd.gradgradcheck(lambda t: utils.l1_penalty([t], 0.5), (w,))


def test_l1_penalty_edge_values():
    for dtype in (tg.float32, tg.float64):
        w = nn.Parameter(tg.tensor([1e30, -1e-30, 0.0], dtype=dtype))
        pen = utils.l1_penalty(w, 1e-3)
        assert pen.dtype == dtype and np.isfinite(pen._data)
        pen.backward()
        np.testing.assert_allclose(w.grad._data, [1e-3, -1e-3, 0.0])


def test_pytorchs_module_paths():
    import importlib

    import tapegrad.nn.utils.clip_grad as clip_grad
    import tapegrad.nn.utils.convert_parameters as convert_parameters
    import tapegrad.nn.utils.rnn as rnn

    assert utils.rnn is rnn and utils.clip_grad is clip_grad and utils.convert_parameters is convert_parameters
    for name in ("clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"):
        assert getattr(clip_grad, name) is getattr(utils, name)
    for name in ("parameters_to_vector", "vector_to_parameters"):
        assert getattr(convert_parameters, name) is getattr(utils, name)
    for name in ("pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
                 "unpack_sequence", "unpad_sequence", "PackedSequence", "invert_permutation"):
        assert getattr(importlib.import_module("tapegrad.nn.utils.rnn"), name) is getattr(rnn, name)
