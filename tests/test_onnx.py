"""tapegrad.onnx.export: the exported file passes onnx.checker and, run in onnxruntime (or onnx's reference
evaluator when onnxruntime is missing), gives tapegrad's outputs on new inputs, other sizes of the dynamic axes
included."""

import io
import math
import os
import sys

import numpy as np
import pytest

import tapegrad as torch
from tapegrad import nn
from tapegrad.nn import functional as F

onnx = pytest.importorskip("onnx")


def run(model_bytes, feeds):
    """The outputs of an ONNX model (bytes) on ``feeds``, from onnxruntime or onnx's reference evaluator."""
    try:
        import onnxruntime as ort
    except ImportError:
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(onnx.load_from_string(model_bytes)).run(None, feeds)
    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"]).run(None, feeds)


def export_bytes(model, args, **kw):
    buffer = io.BytesIO()
    torch.onnx.export(model, args, buffer, **kw)
    return buffer.getvalue()


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3), nn.LogSoftmax(1))


def test_mlp_file_passes_the_checker_and_runs_on_another_batch_size(tmp_path):
    model = mlp()
    path = tmp_path / "mlp.onnx"
    torch.onnx.export(model, (torch.randn(5, 4),), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    assert dims(proto.graph.input[0]) == ["batch", 4] and dims(proto.graph.output[0]) == ["batch", 3]
    assert {i.name for i in proto.graph.initializer} >= {"0.weight", "0.bias", "4.weight"}
    for n in (1, 7, 32):
        x = torch.randn(n, 4)
        (y,) = run(path.read_bytes(), {"x": x.numpy()})
        close(y, model(x).detach().numpy())


def test_mlp_matches_pytorch_with_the_same_weights():
    torch_ = pytest.importorskip("torch")
    if torch_ is torch:
        pytest.skip("PyTorch is not installed (tapegrad stands in for it)")
    model = mlp()
    ref = torch_.nn.Sequential(torch_.nn.Linear(4, 8), torch_.nn.ReLU(), torch_.nn.Linear(8, 8), torch_.nn.Tanh(),
                               torch_.nn.Linear(8, 3), torch_.nn.LogSoftmax(1))
    ref.load_state_dict({k: torch_.tensor(v.numpy()) for k, v in model.state_dict().items()})
    data = export_bytes(model, (torch.randn(2, 4),), input_names=["x"], dynamic_axes={"x": [0]})
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    (y,) = run(data, {"x": x})
    close(y, ref(torch_.tensor(x)).detach().numpy())


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(4, 6, 3, padding="same", bias=False)
        self.avg = nn.AvgPool2d(2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.c1(x))))
        x = self.avg(F.gelu(self.c2(x)))
        x = self.drop(x.view(x.size(0), -1))
        return F.softmax(self.fc(x), dim=-1)


def test_cnn_with_batchnorm_pooling_and_dropout_in_eval_mode():
    torch.manual_seed(0)
    model = CNN()
    model(torch.randn(8, 1, 8, 8))  # training mode: the running statistics move away from 0 and 1
    model.train()
    data = export_bytes(model, (torch.randn(3, 1, 8, 8),), input_names=["img"], dynamic_axes={"img": {0: "n"}})
    assert model.training and model.bn.training  # the export ran in eval mode and put the modes back
    model.eval()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    for n in (1, 6):
        x = torch.randn(n, 1, 8, 8)
        (y,) = run(data, {"img": x.numpy()})
        close(y, model(x).detach().numpy())


class Block(nn.Module):
    """A GPT: token and position embeddings, one causal self-attention block, LayerNorms, a GELU MLP."""

    def __init__(self, vocab=11, d=16, heads=2, block=8, sdpa=False):
        super().__init__()
        self.heads, self.sdpa = heads, sdpa
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block, d)
        self.ln1, self.ln2, self.lnf = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.drop = nn.Dropout(0.1)
        self.register_buffer("mask", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, idx):
        B, T = idx.shape
        x = self.tok(idx) + self.pos(torch.arange(T))
        h = self.ln1(x)
        C = x.size(-1)
        q, k, v = self.qkv(h).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
            y = self.drop(F.softmax(att, dim=-1)) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return self.head(self.lnf(x))


@pytest.mark.parametrize("sdpa", [False, True])
def test_gpt_block_runs_on_other_batch_sizes_and_lengths(sdpa):
    torch.manual_seed(1)
    model = Block(sdpa=sdpa).eval()
    data = export_bytes(model, (torch.randint(0, 11, (3, 6)),), input_names=["idx"], output_names=["logits"],
                        dynamic_axes={"idx": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}})
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert dims(proto.graph.output[0]) == ["batch", "time", 11]
    for shape in [(2, 8), (5, 3), (1, 1)]:
        idx = torch.randint(0, 11, shape)
        (y,) = run(data, {"idx": idx.numpy()})
        close(y, model(idx).detach().numpy())


class Many(nn.Module):
    """Elementwise, shape, indexing and reduction ops, on two inputs."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(6))

    def forward(self, x, y):
        a = (x - y) / (y.abs() + 1.5) * 2 - 1
        b = torch.exp(-a) + torch.log(x * x + 1) + torch.sqrt(y.pow(2) + 1) ** 0.5 + 1 / (2 + x.sigmoid())
        c = F.leaky_relu(b, 0.2) + torch.tanh(a) * self.w - F.silu(x)
        d = c.permute(1, 0).unsqueeze(0).squeeze(0).t()                       # (n, 6)
        e = torch.cat([d, x], dim=1)[:, 1:10:2]                               # (n, 5)
        f = torch.stack([e[:, 0], e[:, -1]], dim=1)                           # (n, 2)
        g = e[:, [0, 2, 2]] + e[..., None, 1].expand(-1, 3)                   # (n, 3)
        h = g.max(dim=1, keepdim=True).values - g.mean(dim=1, keepdim=True) + g.sum(1, keepdim=True)
        m = torch.where(g > 0, g, g * 0.5).amax(dim=1, keepdim=True)
        return torch.cat([F.log_softmax(g, dim=1), f, h, m, x.flatten(1)[:, :2]], dim=1), d.sum() + d.mean()


@pytest.mark.parametrize("opset", [17, 18, 21])  # 18 moved the axes of ReduceMean & co. to an input
def test_elementwise_shape_index_and_reduction_ops(opset):
    torch.manual_seed(2)
    model = Many()
    x, y = torch.randn(4, 6), torch.randn(4, 6)
    data = export_bytes(model, (x, y), input_names=["x", "y"], output_names=["out", "total"], opset_version=opset,
                        dynamic_axes={"x": {0: "n"}, "y": {0: "n"}, "out": {0: "n"}})
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    for n in (4, 9):
        x, y = torch.randn(n, 6), torch.randn(n, 6)
        out, total = run(data, {"x": x.numpy(), "y": y.numpy()})
        ref_out, ref_total = model(x, y)
        close(out, ref_out.detach().numpy())
        np.testing.assert_allclose(total, ref_total.detach().numpy(), rtol=1e-5)


def test_a_file_object_a_path_and_no_f():
    model = mlp()
    x = torch.randn(2, 4)
    proto = torch.onnx.export(model, x, None)
    assert proto.graph.input[0].name == "input" and proto.graph.output[0].name == "output"  # Sequential's forward
    assert torch.onnx.export(model, (x,), io.BytesIO()) is None


def test_unsupported_op_raises_naming_it():
    class Cum(nn.Module):
        def forward(self, x):
            return torch.cumsum(x * 2, dim=1)

    with pytest.raises(torch.onnx.UnsupportedOperatorError, match="'cumsum' is not supported"):
        torch.onnx.export(Cum(), (torch.randn(2, 3),), io.BytesIO())


def test_an_op_the_tracer_cannot_see_is_named_by_its_node():
    class Hidden(nn.Module):
        def forward(self, x, _exp=torch.exp):  # bound before the export: the tracer does not see this call
            return _exp(x) + 1

    with pytest.raises(torch.onnx.UnsupportedOperatorError, match="ExpBackward0"):
        torch.onnx.export(Hidden(), (torch.randn(2, 3),), io.BytesIO())


def test_data_dependent_control_flow_raises():
    class Branch(nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(torch.onnx.OnnxExporterError, match="__bool__ reads the values"):
        torch.onnx.export(Branch(), (torch.ones(2),), io.BytesIO())


def test_dropout_in_training_mode_and_size_dependent_constants_raise():
    class Drop(nn.Module):
        def forward(self, x):
            return F.dropout(x, 0.5)  # training=True whatever the module's mode

    with pytest.raises(torch.onnx.UnsupportedOperatorError, match="dropout in training mode"):
        torch.onnx.export(Drop(), (torch.ones(2, 3),), io.BytesIO())

    class Eye(nn.Module):
        def forward(self, x):
            return torch.eye(x.shape[0]) @ x  # a constant made from a size (eye is not translated)

    with pytest.raises(torch.onnx.OnnxExporterError, match="changes when a dynamic axis changes size"):
        torch.onnx.export(Eye(), (torch.ones(3, 2),), io.BytesIO(), input_names=["x"], dynamic_axes={"x": [0]})
    torch.onnx.export(Eye(), (torch.ones(3, 2),), io.BytesIO())  # without a dynamic axis it is a constant

    class Ones(nn.Module):
        def forward(self, x):
            return x + torch.ones(x.shape[0], 1) * 2 + torch.full((x.shape[0], 2), 0.5) + torch.zeros_like(x)

    data = export_bytes(Ones(), (torch.ones(3, 2),), input_names=["x"], dynamic_axes={"x": [0]})
    x = torch.randn(5, 2)
    close(run(data, {"x": x.numpy()})[0], Ones()(x).numpy())


def test_file_is_written_atomically(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")

    class Cum(nn.Module):
        def forward(self, x):
            return x.cumsum(0)

    with pytest.raises(torch.onnx.UnsupportedOperatorError):
        torch.onnx.export(Cum(), (torch.randn(2),), path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.onnx"]
    torch.onnx.export(mlp(), (torch.randn(2, 4),), path)
    assert onnx.load(str(path)).graph.node and os.listdir(tmp_path) == ["model.onnx"]


def test_export_params_false_makes_parameters_inputs():
    proto = torch.onnx.export(mlp(), (torch.randn(2, 4),), None, export_params=False, input_names=["x"])
    assert not proto.graph.initializer
    assert [i.name for i in proto.graph.input][:2] == ["x", "0.weight"]


def test_the_ops_are_restored_and_is_in_onnx_export():
    seen = []
    add = torch.Tensor.__add__

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(torch.onnx.is_in_onnx_export())
            return x + 1

    torch.onnx.export(Probe(), (torch.randn(2),), io.BytesIO(), opset_version=18, dynamo=True, verify=True)
    assert seen == [True] and not torch.onnx.is_in_onnx_export()
    assert torch.Tensor.__add__ is add and F.relu.__name__ == "relu" and not hasattr(F.relu, "__wrapped_for_onnx__")


def test_bad_arguments():
    with pytest.raises(ValueError, match="opset_version must be between 17"):
        torch.onnx.export(mlp(), (torch.randn(2, 4),), None, opset_version=11)
    with pytest.raises(ValueError, match="2 input_names given for 1 tensor inputs"):
        torch.onnx.export(mlp(), (torch.randn(2, 4),), None, input_names=["a", "b"])


def test_missing_onnx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"tapegrad.onnx.export: needs onnx.*pip install tapegrad\[onnx\]"):
        torch.onnx.export(mlp(), (torch.randn(2, 4),), io.BytesIO())


def test_sizes_read_from_a_dynamic_axis_become_shape_ops():
    class Last(nn.Module):
        def forward(self, x, lo):
            n, t = x.shape
            last = x[:, -1]
            head = x[:, :t].reshape(n * t).view(n, t)  # a slice to a dynamic size, a product inferred as -1
            hi = torch.full((1, 1), 0.5)  # PyTorch's clamp takes two tensor bounds or two numbers
            return torch.clamp(head, lo, hi) + last.unsqueeze(1), x.clamp(min=-0.25).flatten()[None]

    model = Last()
    lo = torch.full((1, 1), -0.5)
    data = export_bytes(model, (torch.randn(3, 5), lo), input_names=["x", "lo"],
                        dynamic_axes={"x": {0: "n", 1: "t"}})
    for shape in [(2, 7), (4, 2)]:
        x = torch.randn(*shape)
        got = run(data, {"x": x.numpy(), "lo": lo.numpy()})
        for g, r in zip(got, model(x, lo)):
            close(g, r.detach().numpy())


def test_arithmetic_on_dynamic_sizes_outside_reshape_raises():
    class Index(nn.Module):
        def forward(self, x):
            return x[:, x.shape[1] - 1]  # t - 1: two traces cannot tell which size it was computed from

    with pytest.raises(torch.onnx.OnnxExporterError, match="getitem: a size depends on the size of a dynamic axis"):
        torch.onnx.export(Index(), (torch.randn(3, 5),), io.BytesIO(), input_names=["x"],
                          dynamic_axes={"x": {0: "n", 1: "t"}})


def test_random_ops_in_forward_raise():
    class Noisy(nn.Module):
        def forward(self, x):
            return x + torch.randn(3)

    with pytest.raises(torch.onnx.UnsupportedOperatorError, match="random op 'randn'"):
        torch.onnx.export(Noisy(), (torch.randn(3),), io.BytesIO())


class More(nn.Module):
    """The rest of the translation table: activations, comparisons, pooling, padding, splits, reductions."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=1, groups=2)
        self.m = nn.Parameter(torch.randn(4, 4))

    def forward(self, img, x):
        h = F.pad(img, (1, 2, 0, 1), value=0.5)
        h = F.pad(h, (1, 1, 1, 1), mode="reflect") + F.pad(h, (1, 1, 1, 1), mode="replicate")
        h = F.adaptive_avg_pool2d(self.conv(h), 1).flatten(1) + F.adaptive_avg_pool2d(
            F.avg_pool2d(img, 2, count_include_pad=False), 1).flatten(1).sum(1, keepdim=True)
        a = F.elu(x, 0.7) + F.softplus(x, beta=2.0) + F.hardtanh(x, -0.5, 0.5) + torch.sin(x) * torch.cos(x)
        a = a + (x > 0).float() - (x <= 0.1).float() + (x != 0).float() + torch.floor(x) + torch.ceil(x)
        b = torch.mm(a, self.m) + torch.bmm(a[None], self.m.tril()[None])[0] + (x * x + 1).rsqrt()
        p, q = b.tensor_split(2, dim=1)
        u = torch.stack(q.unbind(1), dim=0).movedim(0, 1)
        c = torch.cat([p * q, u, h], dim=1).prod(dim=1, keepdim=True)
        return c, b.argmax(dim=1), b.argmax(), torch.erf(b).amin(dim=0)


def test_activations_comparisons_pooling_padding_splits_and_reductions():
    torch.manual_seed(3)
    model = More()
    data = export_bytes(model, (torch.randn(2, 2, 6, 6), torch.randn(2, 4)), input_names=["img", "x"],
                        dynamic_axes={"img": {0: "n"}, "x": {0: "n"}})
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    for n in (2, 5):
        img, x = torch.randn(n, 2, 6, 6), torch.randn(n, 4)
        c, arg, arg_all, low = run(data, {"img": img.numpy(), "x": x.numpy()})
        ref = model(img, x)
        np.testing.assert_allclose(c, ref[0].detach().numpy(), rtol=1e-4)  # a product of 12 float32 numbers
        assert (arg == ref[1].numpy()).all() and arg_all == ref[2].numpy() and arg.dtype == np.int64
        close(low, ref[3].detach().numpy())


def test_the_example_of_docs_onnx_md_runs(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    text = (__import__("pathlib").Path(__file__).resolve().parents[1] / "docs" / "onnx.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "docs/onnx.md", "exec"), namespace)
    assert namespace["y"].shape == (7, 3)


def test_objects_in_sys_modules_that_are_not_modules(monkeypatch):
    class NotAModule:  # some packages (mpi4py) put such objects in sys.modules
        def __getattr__(self, name):
            raise AttributeError(name)

    monkeypatch.setitem(sys.modules, "not_a_module_for_onnx_test", NotAModule())
    assert torch.onnx.export(nn.Linear(2, 2), (torch.randn(1, 2),), None).graph.node


def test_multihead_attention_and_a_transformer_encoder_layer():
    torch.manual_seed(4)
    layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True).eval()
    data = export_bytes(layer, (torch.randn(2, 5, 16),), input_names=["src"],
                        dynamic_axes={"src": {0: "batch", 1: "time"}})
    for shape in [(3, 7, 16), (1, 2, 16)]:
        src = torch.randn(*shape)
        (y,) = run(data, {"src": src.numpy()})
        close(y, layer(src).detach().numpy())

    mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x, pad):
            out, weights = self.mha(x, x, x, key_padding_mask=pad)
            return out, weights

    model = Masked()
    pad = torch.tensor([[False, False, True, True], [False, False, False, False]])
    data = export_bytes(model, (torch.randn(2, 4, 16), pad), input_names=["x", "pad"],
                        dynamic_axes={"x": {0: "batch"}, "pad": {0: "batch"}})
    x = torch.randn(3, 4, 16)
    pad = torch.tensor([[False, True, True, True], [False, False, False, True], [False] * 4])
    out, weights = run(data, {"x": x.numpy(), "pad": pad.numpy()})
    ref_out, ref_weights = model(x, pad)
    close(out, ref_out.detach().numpy())
    close(weights, ref_weights.detach().numpy())


def test_keyword_inputs_none_outputs_and_training_mode():
    class Kw(nn.Module):
        def forward(self, x, scale=None, bias=None):
            return x * scale + (0 if bias is None else bias), None

    x, scale = torch.randn(2, 3), torch.randn(3)
    proto = torch.onnx.export(Kw(), (x, {"scale": scale}), None)
    assert [i.name for i in proto.graph.input] == ["x", "scale"] and len(proto.graph.output) == 1
    proto2 = torch.onnx.export(Kw(), (x,), None, kwargs={"scale": scale}, training=torch.onnx.TrainingMode.EVAL)
    assert [i.name for i in proto2.graph.input] == ["x", "scale"]
    (y,) = run(proto.SerializeToString(), {"x": x.numpy(), "scale": scale.numpy()})
    close(y, (x * scale).numpy())
    with pytest.raises(NotImplementedError, match="only eval-mode export"):
        torch.onnx.export(Kw(), (x,), None, kwargs={"scale": scale}, training=torch.onnx.TrainingMode.TRAINING)


def test_doctests():
    import doctest

    assert doctest.testmod(torch.onnx).failed == 0


def test_data_and_conjugate_transposes_are_traced():
    class Alias(nn.Module):
        def forward(self, x):
            return x.data * 2 + x.H.mH.T.mT  # .data is the traced value itself, not a constant

    data = export_bytes(Alias(), (torch.randn(2, 3),), input_names=["x"])
    x = torch.randn(2, 3)
    close(run(data, {"x": x.numpy()})[0], (x * 3).numpy())


def test_comparisons_promote_as_pytorch():
    class Cmp(nn.Module):
        def forward(self, idx, mask):
            return (idx > 1.5).long() + (mask == 0).long() + (idx.float() >= idx).long()

    idx, mask = torch.tensor([[0, 1, 2, 3]]), torch.tensor([[True, False, True, False]])
    data = export_bytes(Cmp(), (idx, mask), input_names=["idx", "mask"])
    (y,) = run(data, {"idx": idx.numpy(), "mask": mask.numpy()})
    assert (y == Cmp()(idx, mask).numpy()).all()
