"""scaled_dot_product_attention and nn.MultiheadAttention: forward against a numpy statement of PyTorch's
reference implementation, gradients against float64 finite differences (first and second order), errors, and
values, weights and gradients against PyTorch on the same inputs and the same state_dict (when installed)."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import gradcheck, gradgradcheck

sdpa = F.scaled_dot_product_attention


# ---------------------------------------------------------------------- a numpy reference (PyTorch's docstring)
def reference(q, k, v, mask=None, is_causal=False, scale=None, enable_gqa=False):
    """PyTorch's documented reference, on float64 arrays, with its CPU kernels' zero rows where every score is
    -inf (its math path's _safe_softmax)."""
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    bias = np.zeros((L, S))
    if is_causal:
        bias[~np.tri(L, S, dtype=bool)] = -np.inf
    if mask is not None:
        bias = np.where(mask, bias, -np.inf) if mask.dtype == bool else mask + bias
    if enable_gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    s = q @ np.swapaxes(k, -1, -2) * scale + bias
    top = s.max(axis=-1, keepdims=True) if S else np.zeros(s.shape[:-1] + (1,))
    e = np.exp(s - np.where(top == -np.inf, 0, top))
    total = e.sum(axis=-1, keepdims=True)
    return (e / np.where(total == 0, 1, total)) @ v


def _arrays(rng, *shapes):
    return [rng.standard_normal(s) for s in shapes]


@st.composite
def attention_cases(draw):
    """Shapes (with batch broadcasting and grouped heads), a mask kind and the flags."""
    batch = draw(st.lists(st.integers(1, 2), min_size=0, max_size=1))
    H = draw(st.integers(1, 3))
    L, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    E, Ev = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    gqa = draw(st.booleans())
    Hk = H // draw(st.sampled_from([d for d in (1, 2, 3) if H % d == 0])) if gqa else H
    q_shape = (*batch, H, L, E)
    k_shape = (*[draw(st.sampled_from([1, b])) for b in batch], Hk, S, E)
    v_shape = (*k_shape[:-1], Ev)
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_shape = draw(st.sampled_from([(L, S), (1, L, S), (H, 1, S), (*batch, H, L, S)]))
    scale = draw(st.sampled_from([None, 0.5, 0.0]))
    return q_shape, k_shape, v_shape, mask_kind, mask_shape, scale, gqa


def _make(case, seed=0):
    q_shape, k_shape, v_shape, mask_kind, mask_shape, scale, gqa = case
    rng = np.random.default_rng(seed)
    q, k, v = _arrays(rng, q_shape, k_shape, v_shape)
    mask = None
    if mask_kind == "bool":
        mask = rng.random(mask_shape) < 0.7
    elif mask_kind == "float":
        mask = rng.standard_normal(mask_shape)
    return q, k, v, mask, dict(is_causal=mask_kind == "causal", scale=scale, enable_gqa=gqa)


# ---------------------------------------------------------------------- scaled_dot_product_attention: values
@given(attention_cases())
@example(((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 2), "bool", (3, 3), None, False))
@example(((2, 4, 3, 2), (2, 2, 5, 2), (2, 2, 5, 3), "causal", (3, 5), None, True))
def test_sdpa_forward_matches_reference(case):
    q, k, v, mask, kw = _make(case)
    for dtype, tol in ((tg.float64, 1e-12), (tg.float32, 1e-5)):
        t = [tg.tensor(a, dtype=dtype) for a in (q, k, v)]
        m = None if mask is None else tg.tensor(mask, dtype=tg.bool if mask.dtype == bool else dtype)
        out = sdpa(*t, attn_mask=m, **kw)
        assert out.dtype == dtype
        np.testing.assert_allclose(out.numpy(), reference(q, k, v, mask, **kw), rtol=tol, atol=tol)


def test_sdpa_fully_masked_rows_are_zero_with_zero_gradients():
    # PyTorch 2.13 on the CPU gives 0 (its math path's _safe_softmax and its flash kernel), not nan
    q, k, v = (tg.randn(1, 2, 3, 4, dtype=tg.float64, requires_grad=True) for _ in range(3))
    for mask in (tg.tensor([[True, True, True], [False, False, False], [True, False, True]]),
                 tg.tensor([[0.0, 0, 0], [-math.inf] * 3, [0, -math.inf, 0]], dtype=tg.float64)):
        out = sdpa(q, k, v, attn_mask=mask)
        assert (out[:, :, 1] == 0).all() and out.isfinite().all()
        gq, gk, gv = tg.autograd.grad(out.sum(), (q, k, v))
        assert (gq[:, :, 1] == 0).all() and all(g.isfinite().all() for g in (gq, gk, gv))
    # no keys at all: zeros, as PyTorch
    out = sdpa(tg.randn(1, 2, 3, 4), tg.randn(1, 2, 0, 4), tg.randn(1, 2, 0, 5))
    assert out.shape == (1, 2, 3, 5) and (out == 0).all()
    assert sdpa(tg.randn(2, 0, 4), tg.randn(2, 3, 4), tg.randn(2, 3, 5)).shape == (2, 0, 5)


def test_sdpa_ranks_and_broadcasting():
    assert sdpa(tg.randn(4, 8), tg.randn(5, 8), tg.randn(5, 3)).shape == (4, 3)
    assert sdpa(tg.randn(2, 4, 8), tg.randn(5, 8), tg.randn(5, 3)).shape == (2, 4, 3)
    assert sdpa(tg.randn(1, 2, 4, 8), tg.randn(3, 2, 5, 8), tg.randn(3, 2, 5, 8)).shape == (3, 2, 4, 8)
    assert sdpa(tg.randn(3, 1, 2, 4, 8), tg.randn(3, 1, 2, 5, 8), tg.randn(3, 1, 2, 5, 8)).shape == (3, 1, 2, 4, 8)
    # one key/value head broadcasts over the query's heads without enable_gqa
    assert sdpa(tg.randn(1, 6, 4, 8), tg.randn(1, 1, 5, 8), tg.randn(1, 1, 5, 8)).shape == (1, 6, 4, 8)


def test_sdpa_causal_is_top_left_aligned():
    q, k, v = tg.randn(1, 1, 5, 4), tg.randn(1, 1, 3, 4), tg.randn(1, 1, 3, 2)
    np.testing.assert_allclose(sdpa(q, k, v, is_causal=True).numpy(),
                               reference(q.numpy(), k.numpy(), v.numpy(), is_causal=True), rtol=1e-5, atol=1e-6)
    mask = tg.ones(5, 3, dtype=tg.bool).tril()
    np.testing.assert_array_equal(sdpa(q, k, v, is_causal=True).numpy(), sdpa(q, k, v, attn_mask=mask).numpy())


def test_sdpa_float32_mask_with_float64_inputs():
    q = tg.randn(1, 2, 3, dtype=tg.float64)
    out = sdpa(q, q, q, attn_mask=tg.zeros(2, 2))
    assert out.dtype == tg.float64


def test_sdpa_node_name():
    q = tg.randn(1, 2, 3, 4, requires_grad=True)
    assert sdpa(q, q, q).grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"


def test_sdpa_errors():
    q = tg.randn(1, 2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        sdpa(q, q, q, attn_mask=tg.ones(3, 3, dtype=tg.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        sdpa(q, q, q.double())
    with pytest.raises(RuntimeError, match="floating-point"):
        sdpa(q.long(), q.long(), q.long())
    with pytest.raises(RuntimeError, match="attn_mask dtype to be bool or float"):
        sdpa(q, q, q, attn_mask=tg.zeros(3, 3, dtype=tg.int64))
    with pytest.raises(RuntimeError, match="attn_mask dtype to be bool or float"):
        sdpa(q, q, q, attn_mask=tg.zeros(3, 3, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(3, 1, 3, 3\) does not broadcast"):
        sdpa(q, q, q, attn_mask=tg.zeros(3, 1, 3, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensional"):
        sdpa(tg.randn(4), tg.randn(4), tg.randn(4))
    with pytest.raises(RuntimeError, match="last dimension 4"):
        sdpa(q, tg.randn(1, 2, 3, 5), q)
    with pytest.raises(RuntimeError, match="same sequence length"):
        sdpa(q, q, tg.randn(1, 2, 6, 4))
    with pytest.raises(RuntimeError, match="do not broadcast.*enable_gqa"):
        sdpa(tg.randn(1, 6, 3, 4), tg.randn(1, 3, 3, 4), tg.randn(1, 3, 3, 4))
    with pytest.raises(RuntimeError, match=r"heads in key \(4\) must divide the number of heads in query \(6\)"):
        sdpa(tg.randn(1, 6, 3, 4), tg.randn(1, 4, 3, 4), tg.randn(1, 4, 3, 4), enable_gqa=True)
    with pytest.raises(IndexError, match="head dimension"):
        sdpa(tg.randn(3, 4), tg.randn(3, 4), tg.randn(3, 4), enable_gqa=True)
    with pytest.raises(RuntimeError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        sdpa(q, q, q, dropout_p=1.5)
    with pytest.raises(TypeError, match="expected a Tensor"):
        sdpa(q.numpy(), q, q)


# ---------------------------------------------------------------------- gradients
@given(attention_cases())
@example(((1, 2, 3, 2), (1, 1, 4, 2), (1, 1, 4, 3), "float", (1, 3, 4), 0.5, True))
def test_sdpa_gradients_match_finite_differences(case):
    q, k, v, mask, kw = _make(case)
    inputs = [tg.tensor(a, requires_grad=True) for a in (q, k, v)]
    if mask is not None and mask.dtype != bool:
        inputs.append(tg.tensor(mask, requires_grad=True))
        assert gradcheck(lambda q, k, v, m: sdpa(q, k, v, attn_mask=m, **kw), tuple(inputs))
    else:
        m = None if mask is None else tg.tensor(mask)
        assert gradcheck(lambda q, k, v: sdpa(q, k, v, attn_mask=m, **kw), tuple(inputs))


@pytest.mark.parametrize("kind", ["float", "causal", "gqa", "bool-with-empty-row"])
def test_sdpa_second_order(kind):
    rng = np.random.default_rng(1)
    q, k, v = _arrays(rng, (1, 2, 3, 2), (1, 2, 4, 2), (1, 2, 4, 2))
    kw, extra = {}, []
    if kind == "float":
        extra = [tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)]
    elif kind == "causal":
        kw = dict(is_causal=True, scale=0.7)
    elif kind == "gqa":
        k, v = k[:, :1], v[:, :1]
        kw = dict(enable_gqa=True)
    else:
        kw = dict(attn_mask=tg.tensor([[True, False, True, True], [False] * 4, [True] * 4]))
    inputs = [tg.tensor(a, requires_grad=True) for a in (q, k, v)] + extra

    def f(q, k, v, *m):
        return sdpa(q, k, v, *m, **kw)

    assert gradgradcheck(f, tuple(inputs))


def test_sdpa_third_order_through_the_recorded_softmax():
    rng = np.random.default_rng(4)
    q, v = (tg.tensor(rng.standard_normal((1, 2, 3)), requires_grad=True) for _ in range(2))
    k0 = rng.standard_normal((1, 2, 3))

    def psi(k):  # a second derivative of sdpa, as a function of k
        (gq,) = tg.autograd.grad(sdpa(q, k, v).pow(2).sum(), q, create_graph=True)
        (gk,) = tg.autograd.grad(gq.pow(2).sum(), k, create_graph=True)
        return gk.sum()

    k = tg.tensor(k0, requires_grad=True)
    (third,) = tg.autograd.grad(psi(k), k)
    numeric = np.zeros_like(k0)
    for i in np.ndindex(k0.shape):
        e = np.zeros_like(k0)
        e[i] = 1e-6
        numeric[i] = (psi(tg.tensor(k0 + e, requires_grad=True)).item()
                      - psi(tg.tensor(k0 - e, requires_grad=True)).item()) / 2e-6
    np.testing.assert_allclose(third.numpy(), numeric, rtol=1e-5, atol=1e-6)


def test_sdpa_dropout():
    q = tg.randn(2, 2, 6, 4, dtype=tg.float64, requires_grad=True)
    k, v = tg.randn(2, 2, 7, 4, dtype=tg.float64), tg.randn(2, 2, 7, 3, dtype=tg.float64)
    assert (sdpa(q, k, v, dropout_p=1.0) == 0).all()
    tg.manual_seed(3)
    a = sdpa(q, k, v, dropout_p=0.4)
    tg.manual_seed(3)
    b = sdpa(q, k, v, dropout_p=0.4)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.allclose(a.detach().numpy(), sdpa(q, k, v).detach().numpy())

    def seeded(q, k, v):
        tg.manual_seed(5)  # the same dropout mask every call
        return sdpa(q, k, v, dropout_p=0.3)

    assert gradcheck(seeded, (q, k.requires_grad_(), v.requires_grad_()))
    assert gradgradcheck(seeded, (q, k, v))
    # the expectation is the output without dropout
    big_v = tg.ones(1, 1, 7, 1, dtype=tg.float64)
    mean = sdpa(tg.zeros(1, 1, 4000, 4, dtype=tg.float64), k[:1, :1], big_v, dropout_p=0.5).mean().item()
    assert abs(mean - 1) < 0.05


# ---------------------------------------------------------------------- PyTorch
def _torch_sdpa_case(torch, case, dtype):
    q, k, v, mask, kw = _make(case, seed=2)
    ours = [tg.tensor(a, dtype=dtype, requires_grad=True) for a in (q, k, v)]
    tdt = torch.float64 if dtype == tg.float64 else torch.float32
    theirs = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in (q, k, v)]
    m_ours = m_theirs = None
    if mask is not None:
        float_mask = mask.dtype != bool
        m_ours = tg.tensor(mask, dtype=dtype if float_mask else tg.bool, requires_grad=float_mask)
        m_theirs = torch.tensor(mask, dtype=tdt if float_mask else torch.bool, requires_grad=float_mask)
    return ours, theirs, m_ours, m_theirs, kw


@given(attention_cases())
@example(((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 2), "bool", (3, 3), None, False))
def test_sdpa_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    for dtype, tol in ((tg.float64, 1e-10), (tg.float32, 2e-5)):
        ours, theirs, m_ours, m_theirs, kw = _torch_sdpa_case(torch, case, dtype)
        a = sdpa(*ours, attn_mask=m_ours, **kw)
        b = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=m_theirs, **kw)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
        g = np.random.default_rng(0).standard_normal(tuple(a.shape))
        a.backward(tg.tensor(g, dtype=dtype))
        b.backward(torch.tensor(g, dtype=b.dtype))
        pairs = list(zip(ours, theirs))
        if m_ours is not None and m_ours.requires_grad:
            pairs.append((m_ours, m_theirs))
        for x, y in pairs:
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=tol, atol=tol)


def test_sdpa_fully_masked_rows_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    q, k, v = _arrays(rng, (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4))
    mask = np.array([[True, True, False], [False, False, False], [True, True, True]])
    for m_ours, m_theirs in ((tg.tensor(mask), torch.tensor(mask)),
                             (tg.tensor(np.where(mask, 0, -np.inf)), torch.tensor(np.where(mask, 0, -np.inf)))):
        ours = [tg.tensor(a, requires_grad=True) for a in (q, k, v)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        a, b = sdpa(*ours, attn_mask=m_ours), torch.nn.functional.scaled_dot_product_attention(*theirs,
                                                                                                attn_mask=m_theirs)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
        a.sum().backward()
        b.sum().backward()
        for x, y in zip(ours, theirs):
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), atol=1e-12)


# ---------------------------------------------------------------------- MultiheadAttention
def _copy_state(src, dst, to_torch):
    """Load ``src``'s state_dict into ``dst`` (tapegrad -> torch or torch -> tapegrad); the keys must agree."""
    state = src.state_dict()
    if to_torch:
        import torch

        dst.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in state.items()})
    else:
        dst.load_state_dict({k: tg.tensor(v.detach().numpy().copy()) for k, v in state.items()})


MHA_OPTIONS = [
    dict(),
    dict(batch_first=True),
    dict(bias=False),
    dict(add_bias_kv=True),
    dict(add_zero_attn=True),
    dict(kdim=3, vdim=5),
    dict(kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True, batch_first=True),
]
MHA_CALLS = [
    dict(),
    dict(need_weights=False),
    dict(average_attn_weights=False),
    dict(key_padding_mask="bool"),
    dict(key_padding_mask="float", need_weights=False),
    dict(attn_mask="bool2d"),
    dict(attn_mask="float3d", need_weights=False),
    dict(attn_mask="causal", is_causal=True, need_weights=False),
    dict(attn_mask="causal", is_causal=True, key_padding_mask="bool"),
    dict(attn_mask="bool2d", key_padding_mask="bool", need_weights=False),
]


def _mha_inputs(lib, options, call, unbatched, dtype, seed=0):
    """query, key, value (self-attention when the sizes allow) and the call's keyword arguments in ``lib``."""
    rng = np.random.default_rng(seed)
    E, H, N, L = 4, 2, 2, 3
    S = L if "kdim" not in options else 4
    kdim, vdim = options.get("kdim", E), options.get("vdim", E)
    batch_first = options.get("batch_first", False)

    def shaped(length, width):
        shape = (length, width) if unbatched else ((N, length, width) if batch_first else (length, N, width))
        return lib.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)

    query = shaped(L, E)
    key, value = (query, query) if "kdim" not in options else (shaped(S, kdim), shaped(S, vdim))
    kw = {k: v for k, v in call.items() if k not in ("key_padding_mask", "attn_mask")}
    kpm = call.get("key_padding_mask")
    if kpm is not None:
        pad = np.zeros((S,) if unbatched else (N, S), dtype=bool)
        pad[..., -1] = True
        kw["key_padding_mask"] = lib.tensor(pad) if kpm == "bool" else lib.tensor(np.where(pad, -1e9, 0.5),
                                                                                   dtype=dtype)
    am = call.get("attn_mask")
    if am == "bool2d":
        kw["attn_mask"] = lib.tensor(rng.random((L, S)) < 0.3)
    elif am == "float3d":
        kw["attn_mask"] = lib.tensor(rng.standard_normal(((1 if unbatched else N) * H, L, S)), dtype=dtype)
    elif am == "causal":
        kw["attn_mask"] = lib.tensor(np.triu(np.full((L, S), -np.inf), 1), dtype=dtype)
    return (query, key, value), kw


@pytest.mark.parametrize("options", MHA_OPTIONS, ids=str)
def test_multihead_attention_matches_pytorch(options):
    torch = pytest.importorskip("torch")
    for unbatched in (False, True):
        for call in MHA_CALLS:
            for direction in (True, False):  # the same state_dict loaded both ways
                ours = tg.nn.MultiheadAttention(4, 2, **options).double()
                theirs = torch.nn.MultiheadAttention(4, 2, **options).double()
                assert list(ours.state_dict()) == list(theirs.state_dict())
                assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
                if direction:
                    _copy_state(ours, theirs, to_torch=True)
                else:
                    _copy_state(theirs, ours, to_torch=False)
                if unbatched and options.get("batch_first"):
                    continue
                a_in, a_kw = _mha_inputs(tg, options, call, unbatched, tg.float64)
                b_in, b_kw = _mha_inputs(torch, options, call, unbatched, torch.float64)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # mismatched mask dtypes: both warn
                    a_out, a_w = ours(*a_in, **a_kw)
                    b_out, b_w = theirs(*b_in, **b_kw)
                where = f"{options} {call} unbatched={unbatched}"
                np.testing.assert_allclose(a_out.detach().numpy(), b_out.detach().numpy(), rtol=1e-10, atol=1e-12,
                                           err_msg=where)
                assert (a_w is None) == (b_w is None), where
                if a_w is not None:
                    np.testing.assert_allclose(a_w.detach().numpy(), b_w.detach().numpy(), rtol=1e-10, atol=1e-12,
                                               err_msg=where)
                g = np.random.default_rng(1).standard_normal(tuple(a_out.shape))
                loss_a = (a_out * tg.tensor(g)).sum() + (0 if a_w is None else a_w.pow(2).sum())
                loss_b = (b_out * torch.tensor(g)).sum() + (0 if b_w is None else b_w.pow(2).sum())
                loss_a.backward()
                loss_b.backward()
                for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
                    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12,
                                               err_msg=f"{where} {name}")
                for x, y in zip(a_in, b_in):
                    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-9, atol=1e-12,
                                               err_msg=where)


def test_multihead_attention_fully_masked_rows_as_pytorch():
    # need_weights=True computes softmax explicitly: a row of -inf is nan (as PyTorch); without weights the
    # fused op gives 0 (as PyTorch's scaled_dot_product_attention)
    mha = tg.nn.MultiheadAttention(4, 2)
    x = tg.randn(3, 2, 4)
    pad = tg.tensor([[False, False, False], [True, True, True]])
    with np.errstate(invalid="ignore"):  # numpy's warning for -inf - -inf in softmax
        out, w = mha(x, x, x, key_padding_mask=pad)
    assert out[:, 1].isnan().all() and w[1].isnan().all() and out[:, 0].isfinite().all()
    out, _ = mha(x, x, x, key_padding_mask=pad, need_weights=False)
    assert out.isfinite().all()
    np.testing.assert_allclose(out[:, 1].detach().numpy(), np.broadcast_to(mha.out_proj.bias.detach().numpy(), (3, 4)))


def test_multihead_attention_dropout_in_train_and_eval():
    mha = tg.nn.MultiheadAttention(4, 2, dropout=0.5).double().requires_grad_(False)
    x = tg.randn(3, 2, 4, dtype=tg.float64)
    mha.eval()
    a, b = mha(x, x, x)[0], mha(x, x, x)[0]
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    mha.train()
    for need_weights in (True, False):
        c = mha(x, x, x, need_weights=need_weights)[0]
        assert not np.allclose(c.numpy(), a.numpy())


def test_multihead_attention_init_and_layout():
    mha = tg.nn.MultiheadAttention(6, 3, add_bias_kv=True)
    names = [n for n, _ in mha.named_parameters()]
    assert names == ["in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias"]
    assert (mha.in_proj_bias == 0).all() and (mha.out_proj.bias == 0).all()
    bound = math.sqrt(6 / (6 + 18))  # xavier_uniform_ on (18, 6)
    assert mha.in_proj_weight.abs().max().item() <= bound
    assert type(mha.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(mha.out_proj, tg.nn.Linear)
    assert mha.head_dim == 2 and mha._qkv_same_embed_dim
    sep = tg.nn.MultiheadAttention(6, 3, kdim=2, vdim=5, bias=False)
    assert [n for n, _ in sep.named_parameters()] == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                        "out_proj.weight"]
    assert sep.in_proj_weight is None and sep.bias_k is None
    assert tuple(sep.k_proj_weight.shape) == (6, 2) and tuple(sep.v_proj_weight.shape) == (6, 5)


def test_multihead_attention_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        tg.nn.MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match="greater than 0"):
        tg.nn.MultiheadAttention(0, 2)
    mha = tg.nn.MultiheadAttention(4, 2)
    x = tg.randn(3, 2, 4)
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D"):
        mha(tg.randn(1, 3, 2, 4), x, x)
    with pytest.raises(AssertionError, match="expected `key` and `value` to be 3-D"):
        mha(x, tg.randn(3, 4), x)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(2, 3\), but should be \(3, 3\)"):
        mha(x, x, x, attn_mask=tg.zeros(2, 3))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        mha(x, x, x, attn_mask=tg.zeros(3, 3, dtype=tg.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 4, but got 3"):
        mha(tg.randn(3, 2, 3), tg.randn(3, 2, 3), tg.randn(3, 2, 3))
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        mha(x, x, x, key_padding_mask=tg.zeros(2, 3, dtype=tg.bool), attn_mask=tg.zeros(3, 3))


@pytest.mark.filterwarnings("ignore:Support for mismatched")
@given(st.sampled_from(MHA_OPTIONS), st.sampled_from(MHA_CALLS), st.booleans())
def test_multihead_attention_gradients_match_finite_differences(options, call, unbatched):
    if unbatched and options.get("batch_first"):
        return
    mha = tg.nn.MultiheadAttention(4, 2, **options).double()
    (q, k, v), kw = _mha_inputs(tg, options, call, unbatched, tg.float64)
    if kw.get("key_padding_mask") is not None and kw["key_padding_mask"].dtype == tg.float64:
        kw["key_padding_mask"] = kw["key_padding_mask"].clamp(min=-30)  # differences across -1e9 would be 0

    def module(*inputs):
        out, w = mha(*inputs, **kw)
        return out if w is None else (out, w)

    if k is q:
        assert gradcheck(lambda x: module(x, x, x), (q,))
    else:
        assert gradcheck(module, (q, k, v))
    # the parameters, through the functional form (sequence-first inputs)
    if options.get("batch_first"):
        q, k, v = (x.detach().transpose(0, 1) for x in (q, k, v))
    names = [n for n, _ in mha.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in mha.parameters()]

    def functional(*ps):
        P = dict(zip(names, ps))
        separate = {} if mha._qkv_same_embed_dim else dict(
            use_separate_proj_weight=True, q_proj_weight=P["q_proj_weight"], k_proj_weight=P["k_proj_weight"],
            v_proj_weight=P["v_proj_weight"])
        out, w = F.multi_head_attention_forward(
            q.detach(), k.detach(), v.detach(), 4, 2, P.get("in_proj_weight"), P.get("in_proj_bias"),
            P.get("bias_k"), P.get("bias_v"), mha.add_zero_attn, 0.0, P["out_proj.weight"], P.get("out_proj.bias"),
            **kw, **separate)
        return out if w is None else (out, w)

    assert gradcheck(functional, tuple(params))


def test_multihead_attention_second_order():
    mha = tg.nn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    x = tg.randn(3, 2, 4, dtype=tg.float64, requires_grad=True)
    mask = tg.tensor(np.triu(np.full((3, 3), -np.inf), 1))
    assert gradgradcheck(lambda x: mha(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)[0], (x,))
    assert gradgradcheck(lambda x: mha(x, x, x)[1], (x,))


def test_functional_multi_head_attention_forward():
    mha = tg.nn.MultiheadAttention(4, 2).double()
    x = tg.randn(3, 2, 4, dtype=tg.float64)
    out, w = F.multi_head_attention_forward(x, x, x, 4, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False,
                                            0.0, mha.out_proj.weight, mha.out_proj.bias)
    ref_out, ref_w = mha(x, x, x)
    np.testing.assert_array_equal(out.detach().numpy(), ref_out.detach().numpy())
    np.testing.assert_array_equal(w.detach().numpy(), ref_w.detach().numpy())
