"""Pictures: the DOT graph's nodes and labels, rendered files being valid PNG/SVG, training plots."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.viz import draw_graph, plot_decision_boundary, plot_history

PNG = b"\x89PNG\r\n\x1a\n"


def small_step():
    w1 = tg.randn(3, 4, requires_grad=True)
    b1 = tg.zeros(4, requires_grad=True)
    w2 = tg.randn(4, 2, requires_grad=True)
    x = tg.randn(5, 3)
    loss = ((x @ w1 + b1).relu() @ w2).tanh().mean()
    return loss, {"0.weight": w1, "0.bias": b1, "2.weight": w2}


def test_dot_source_has_one_node_per_op_and_leaf_with_shapes_and_names():
    loss, params = small_step()
    loss.backward(retain_graph=True)
    src = draw_graph(loss, params=params).source
    assert src.startswith("digraph tapegrad {") and src.rstrip().endswith("}")
    for label in ("Mm", "Add", "Relu", "Tanh", "Mean", "0.weight", "0.bias", "2.weight", "input"):
        assert label in src, label
    assert "5×4 float32" in src and "3×4 float32" in src
    assert src.count("->") == 9  # matmul(2) add(2) relu(1) matmul(2) tanh(1) mean(1)
    assert "|grad| = " in src  # gradient norms after backward
    assert 'subgraph cluster_0 { label="0"' in src and 'label="2"' in src  # grouped by module


def test_graph_of_tensor_without_history_is_a_single_node():
    g = draw_graph(tg.ones(2))
    assert len(g.nodes) == 1 and not g.edges


def test_draw_graph_rejects_non_tensors():
    with pytest.raises(TypeError, match="draw_graph"):
        draw_graph(np.ones(2))


def test_render_writes_svg_with_dot_or_png_without(tmp_path, monkeypatch):
    loss, params = small_step()
    g = draw_graph(loss, params=params)
    dot_file = g.save(tmp_path / "g.dot")
    assert open(dot_file).read() == g.source
    import shutil

    if shutil.which("dot"):
        out = g.render(str(tmp_path / "g.svg"))
        text = open(out).read()
        assert out.endswith(".svg") and "<svg" in text and "Mm" in text
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = g.render(str(tmp_path / "fallback.svg"))
    assert out.endswith(".png") and open(out, "rb").read(8) == PNG


def test_plot_history_writes_png(tmp_path):
    path = plot_history({"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.9]},
                        str(tmp_path / "h.png"))
    assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError, match="plot_history"):
        plot_history({}, str(tmp_path / "x.png"))


def test_plot_decision_boundary_with_a_callable_model(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)

    def model(t):
        return tg.stack([-t[:, 0], t[:, 0]], dim=1) if hasattr(tg, "stack") else t[:, :1]

    path = plot_decision_boundary(model, X, y, str(tmp_path / "b.png"), resolution=50)
    assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot_decision_boundary(model, np.zeros((3, 3)), np.zeros(3), str(tmp_path / "c.png"))


def test_a_five_layer_mlp_is_grouped_by_module_and_params_may_be_the_module(tmp_path):
    nn = tg.nn
    tg.manual_seed(0)
    model = nn.Sequential(*[m for k in range(5) for m in (nn.Linear(8 if k else 2, 8 if k < 4 else 3), nn.ReLU())][:-1])
    loss = nn.functional.cross_entropy(model(tg.randn(16, 2)), tg.tensor([0, 1, 2, 0] * 4))
    loss.backward(retain_graph=True)
    g = draw_graph(loss, params=model)
    assert sorted(g.clusters) == ["0", "2", "4", "6", "8"]
    for k in (0, 2, 4, 6, 8):
        assert f"{k}.weight" in g.source and f"{k}.bias" in g.source
        assert any(g.nodes[n]["kind"] == "op" for n in g.clusters[str(k)])  # the layer's ops sit in its box
    assert g.source.count("|grad| = ") == 10
    assert draw_graph(loss, params=model.named_parameters()).source.count("cluster_") == 5
    out = g.render(str(tmp_path / "mlp.svg"))
    assert open(out, "rb").read(8) == PNG or b"<svg" in open(out, "rb").read()
