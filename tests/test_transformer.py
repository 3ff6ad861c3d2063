"""nn.TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, Transformer:
PyTorch's parameter names and init, gradients against float64 finite differences (first and second order),
dropout in train and eval mode, and the same outputs and gradients as PyTorch on the same state_dict, loaded
both ways (when PyTorch is installed)."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd import gradcheck, gradgradcheck

D, H, FF = 4, 2, 6  # d_model, nhead, dim_feedforward: small enough for finite differences


def _layer(lib, kind, **options):
    """A small module of ``kind`` in ``lib`` (tapegrad or torch), dropout 0 unless given, float64."""
    nn = lib.nn
    options = {"dropout": 0.0, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor's warning
        if kind == "encoder_layer":
            m = nn.TransformerEncoderLayer(D, H, FF, **options)
        elif kind == "decoder_layer":
            m = nn.TransformerDecoderLayer(D, H, FF, **options)
        elif kind == "encoder":
            m = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, **options), 2, norm=nn.LayerNorm(D))
        elif kind == "decoder":
            m = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, FF, **options), 2, norm=nn.LayerNorm(D))
        else:
            m = nn.Transformer(D, H, 1, 2, FF, **options)
    return m.double()


def _inputs(lib, kind, batch_first, unbatched=False, seed=0, masks=False):
    """The call's tensors (requiring grad) and keyword arguments (masks) for ``kind``."""
    rng = np.random.default_rng(seed)
    N, S, T = 2, 5, 3

    def seq(length):
        shape = (length, D) if unbatched else ((N, length, D) if batch_first else (length, N, D))
        return lib.tensor(rng.standard_normal(shape), dtype=lib.float64, requires_grad=True)

    kw = {}
    if kind in ("encoder_layer", "encoder"):
        args = (seq(S),)
        if masks:
            kw = {"src_key_padding_mask": lib.tensor(np.array([False] * (S - 1) + [True]) if unbatched else
                                                     np.array([[False] * S, [False] * (S - 2) + [True] * 2])),
                  ("src_mask" if kind == "encoder_layer" else "mask"): lib.tensor(rng.random((S, S)) < 0.2)}
    else:
        src_or_mem = seq(S)
        tgt = seq(T)
        args = (tgt, src_or_mem) if kind != "transformer" else (src_or_mem, tgt)
        if masks:
            causal = lib.nn.Transformer.generate_square_subsequent_mask(T, dtype=lib.float64)
            kw = {"tgt_mask": causal,
                  "memory_key_padding_mask": lib.tensor(np.array([False] * (S - 1) + [True]) if unbatched else
                                                        np.array([[False] * S, [False] * (S - 1) + [True]]))}
    return args, kw


KINDS = ["encoder_layer", "decoder_layer", "encoder", "decoder", "transformer"]
OPTIONS = [dict(), dict(batch_first=True), dict(norm_first=True), dict(activation="gelu"),
           dict(activation=F.gelu), dict(bias=False), dict(layer_norm_eps=1e-3, batch_first=True, norm_first=True)]


def _copy_state(src, dst, to_torch):
    import torch

    state = src.state_dict()
    if to_torch:
        dst.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in state.items()})
    else:
        dst.load_state_dict({k: tg.tensor(v.detach().numpy().copy()) for k, v in state.items()})


@pytest.fixture
def torch1():
    """PyTorch with one thread for the test (its thread pool stalls on a busy 2-core machine)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", KINDS)
def test_transformer_modules_match_pytorch(kind, torch1):
    torch = torch1
    for n, options in enumerate(OPTIONS):
        torch_options = dict(options)
        if torch_options.get("activation") is F.gelu:
            torch_options["activation"] = torch.nn.functional.gelu
        for masks in (False, True):
            for train in (True, False):
                for to_torch in ((masks + train + n) % 2 == 0,):  # the state_dict goes both ways, alternately
                    ours, theirs = _layer(tg, kind, **options), _layer(torch, kind, **torch_options)
                    assert list(ours.state_dict()) == list(theirs.state_dict())
                    _copy_state(ours, theirs, to_torch) if to_torch else _copy_state(theirs, ours, False)
                    ours.train(train)
                    theirs.train(train)
                    bf = options.get("batch_first", False)
                    a_args, a_kw = _inputs(tg, kind, bf, masks=masks)
                    b_args, b_kw = _inputs(torch, kind, bf, masks=masks)
                    a, b = ours(*a_args, **a_kw), theirs(*b_args, **b_kw)
                    where = f"{kind} {options} masks={masks} train={train}"
                    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-10,
                                               err_msg=where)
                    g = np.random.default_rng(3).standard_normal(tuple(a.shape))
                    a.backward(tg.tensor(g))
                    b.backward(torch.tensor(g))
                    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
                        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-10,
                                                   err_msg=f"{where} {name}")
                    for x, y in zip(a_args, b_args):
                        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-8, atol=1e-10,
                                                   err_msg=where)


def test_unbatched_inputs_match_pytorch(torch1):
    torch = torch1
    for kind in KINDS:
        ours, theirs = _layer(tg, kind), _layer(torch, kind)
        _copy_state(ours, theirs, True)
        a_args, a_kw = _inputs(tg, kind, False, unbatched=True, masks=True)
        b_args, b_kw = _inputs(torch, kind, False, unbatched=True, masks=True)
        np.testing.assert_allclose(ours(*a_args, **a_kw).detach().numpy(),
                                   theirs(*b_args, **b_kw).detach().numpy(), rtol=1e-9, atol=1e-10, err_msg=kind)


def test_default_init_and_parameter_names_as_pytorch():
    layer = tg.nn.TransformerEncoderLayer(8, 2)
    assert [n for n, _ in layer.named_parameters()] == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
        "norm2.weight", "norm2.bias"]
    assert tuple(layer.linear1.weight.shape) == (2048, 8) and layer.dropout.p == 0.1
    assert layer.activation is F.relu and layer.activation_relu_or_gelu == 1
    assert tg.nn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2
    assert tg.nn.TransformerEncoderLayer(8, 2, activation=tg.nn.GELU()).activation_relu_or_gelu == 2
    assert tg.nn.TransformerEncoderLayer(8, 2, activation=tg.tanh).activation_relu_or_gelu == 0
    dec = tg.nn.TransformerDecoderLayer(8, 2, bias=False)
    assert [n for n, _ in dec.named_parameters()] == [
        "self_attn.in_proj_weight", "self_attn.out_proj.weight", "multihead_attn.in_proj_weight",
        "multihead_attn.out_proj.weight", "linear1.weight", "linear2.weight", "norm1.weight", "norm2.weight",
        "norm3.weight"]
    model = tg.nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    # every matrix is xavier_uniform_ (the MultiheadAttention biases stay 0)
    for name, p in model.named_parameters():
        if p.dim() > 1:
            bound = np.sqrt(6 / sum(p.shape))
            assert p.abs().max().item() <= bound, name
    assert (model.encoder.layers[0].self_attn.in_proj_bias == 0).all()
    assert model.d_model == 8 and model.nhead == 2 and model.batch_first
    # the stacks are deep copies
    enc = tg.nn.TransformerEncoder(tg.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 3)
    assert len(enc.layers) == 3 and enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    assert (enc.layers[0].linear1.weight == enc.layers[1].linear1.weight).all()


def test_activation_errors_and_nested_tensor_warning():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        tg.nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.warns(UserWarning, match="enable_nested_tensor is True, but self.use_nested_tensor is False "
                                         "because encoder_layer.self_attn.batch_first was not True"):
        enc = tg.nn.TransformerEncoder(tg.nn.TransformerEncoderLayer(8, 2, 16), 1)
    assert enc.enable_nested_tensor and not enc.use_nested_tensor and enc.mask_check
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.nn.TransformerEncoder(tg.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)
        tg.nn.TransformerEncoder(tg.nn.TransformerEncoderLayer(8, 2, 16), 1, enable_nested_tensor=False)
    model = tg.nn.Transformer(4, 2, 1, 1, 8, batch_first=True)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(tg.randn(2, 3, 4), tg.randn(3, 3, 4))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(tg.randn(2, 3, 4), tg.randn(2, 3, 5))


def test_generate_square_subsequent_mask():
    m = tg.nn.Transformer.generate_square_subsequent_mask(4)
    assert m.dtype == tg.float32
    np.testing.assert_array_equal(m.numpy(), np.triu(np.full((4, 4), -np.inf), 1))
    assert tg.nn.Transformer.generate_square_subsequent_mask(2, dtype=tg.float64).dtype == tg.float64
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(m.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_causal_mask_detection():
    from tapegrad.nn.transformer import _detect_is_causal_mask

    causal = tg.nn.Transformer.generate_square_subsequent_mask(3)
    assert _detect_is_causal_mask(causal) is True
    assert _detect_is_causal_mask(causal, size=4) is False
    assert _detect_is_causal_mask(tg.zeros(3, 3)) is False
    assert _detect_is_causal_mask(None, True) is True and _detect_is_causal_mask(causal, False) is False


def test_dropout_in_train_and_eval_mode():
    layer = tg.nn.TransformerEncoderLayer(D, H, FF, dropout=0.5).double().requires_grad_(False)
    x = tg.randn(5, 2, D, dtype=tg.float64)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    layer.train()
    assert not np.allclose(layer(x).numpy(), layer.eval()(x).numpy())
    layer.train()
    tg.manual_seed(1)
    a = layer(x)
    tg.manual_seed(1)
    np.testing.assert_array_equal(a.numpy(), layer(x).numpy())


@given(st.sampled_from(KINDS[:2]), st.sampled_from(OPTIONS), st.booleans())
def test_layer_gradients_match_finite_differences(kind, options, masks):
    model = _layer(tg, kind, **options)
    args, kw = _inputs(tg, kind, options.get("batch_first", False), masks=masks)
    assert gradcheck(lambda *xs: model(*xs, **kw), args)


@pytest.mark.parametrize("kind,options", [("encoder", dict(norm_first=True)), ("decoder", dict(batch_first=True)),
                                          ("transformer", dict())])
def test_stack_gradients_match_finite_differences(kind, options):
    model = _layer(tg, kind, **options)
    args, kw = _inputs(tg, kind, options.get("batch_first", False), masks=True)
    assert gradcheck(lambda *xs: model(*xs, **kw), args)


def test_parameter_gradients_match_finite_differences():
    layer = _layer(tg, "decoder_layer", norm_first=True)
    (tgt, mem), kw = _inputs(tg, "decoder_layer", False, masks=True)
    tgt, mem = tgt.detach(), mem.detach()
    weights = tg.tensor(np.random.default_rng(2).standard_normal((3, 2, D)))

    def loss():
        return (layer(tgt, mem, **kw) * weights).sum()

    params = dict(layer.named_parameters())
    analytic = dict(zip(params, tg.autograd.grad(loss(), list(params.values()))))
    eps = 1e-6
    for name, p in params.items():
        base = p.detach().numpy().copy()
        for i in list(np.ndindex(base.shape))[:4]:  # a few entries of every parameter
            values = []
            for step in (eps, -eps):
                moved = base.copy()
                moved[i] += step
                with tg.no_grad():
                    p.copy_(tg.tensor(moved))
                values.append(loss().item())
            with tg.no_grad():
                p.copy_(tg.tensor(base))
            numeric = (values[0] - values[1]) / (2 * eps)
            assert abs(analytic[name].numpy()[i] - numeric) <= 1e-6 + 1e-5 * abs(numeric), (name, i)


@pytest.mark.parametrize("kind", ["encoder_layer", "decoder_layer"])
def test_second_order(kind):
    model = _layer(tg, kind, norm_first=kind == "decoder_layer", activation="gelu")
    args, kw = _inputs(tg, kind, False, masks=True)
    assert gradgradcheck(lambda *xs: model(*xs, **kw), args)
