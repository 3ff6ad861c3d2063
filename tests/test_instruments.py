"""The instruments of tapegrad.viz that show what the tape holds: BackwardTrace, draw_graph's value and gradient
labels, precision_report and memory_ledger. Each is checked on graphs small enough to work out by hand, and on
planted faults it must find (a wrong rule, a float32-unstable op)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad import _state, nn, viz
from tapegrad.testing import arrays, broadcastable_shapes
from tapegrad.viz import BackwardTrace, Summary, draw_graph, memory_ledger, precision_report
from tapegrad.viz.memory import _captured

PNG = b"\x89PNG\r\n\x1a\n"


def scalars():
    x = tg.tensor(2.0, requires_grad=True)
    w = tg.tensor(-3.0, requires_grad=True)
    b = tg.tensor(1.0, requires_grad=True)
    return x, w, b


# ---------------------------------------------------------------------- Summary
def test_summary_of_an_array():
    s = Summary.of(np.array([[3.0, -4.0, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32))
    assert s.shape == (2, 3) and s.dtype == "float32"
    assert (s.norm, s.mean, s.max_abs, s.nan, s.inf, s.value) == (5.0, -1 / 6, 4.0, 0, 0, None)
    assert str(s) == "mean -0.167, max|x| 4" and s.short() == "‖5‖"
    assert str(Summary.of(tg.tensor(2.5))) == "2.5" and Summary.of(2.5).value == 2.5
    assert str(Summary.of(np.array([1.0, 2.0]))) == "[1, 2]"


def test_summary_flags_nan_and_inf_and_keeps_the_finite_statistics():
    s = Summary.of(np.array([1.0, np.nan, -np.inf, np.inf, -2.0]))
    assert (s.nan, s.inf, s.finite) == (1, 2, False)
    assert s.max_abs == 2.0 and s.norm == math.sqrt(5)
    assert str(s) == "mean -0.5, max|x| 2 (1 NaN, 2 inf)" and "1 NaN, 2 inf" in s.short()


@given(arrays(dtype=np.float32, min_value=-1e3, max_value=1e3), st.lists(st.sampled_from([np.nan, np.inf, -np.inf])))
def test_summary_matches_numpy(a, specials):
    a = a.reshape(-1).copy()
    finite = a.astype(np.float64)
    for k, v in enumerate(specials[:a.size]):
        a[k] = v
    finite = finite[len(specials[:a.size]):]
    s = Summary.of(a)
    assert s.nan == int(np.isnan(a).sum()) and s.inf == int(np.isinf(a).sum())
    assert s.norm == pytest.approx(float(np.linalg.norm(finite)), rel=1e-9, abs=1e-12)
    assert s.max_abs == (float(np.abs(finite).max()) if finite.size else 0.0)


# ---------------------------------------------------------------------- BackwardTrace
def test_trace_of_x_times_w_plus_b_step_by_step():
    x, w, b = scalars()
    y = x * w + b
    with BackwardTrace(names={"x": x, "w": w, "b": b, "y": y}) as trace:
        y.backward()
    assert [s.rule for s in trace.steps] == ["AddBackward0", "AccumulateGrad", "MulBackward0", "AccumulateGrad",
                                             "AccumulateGrad"]
    assert [trace.label(s.node) for s in trace.steps] == ["y", "b", "Mul", "w", "x"]
    add, mul = trace.steps[0], trace.steps[2]
    assert add.received.value == 1 and [s.value for s in add.sent] == [1, 1]
    assert mul.received.value == 1 and [s.value for s in mul.sent] == [-3, 2]  # g * w to x, g * x to w
    assert (trace.grad(x).value, trace.grad(w).value, trace.grad(b).value) == (-3, 2, 1)
    assert trace.step_of(tg.ones(1)) is None and trace.grad(tg.ones(1)) is None
    table = str(trace).splitlines()
    assert table[0].split() == ["step", "node", "rule", "received", "sent", "to", "its", "inputs"]
    assert table[3].split() == ["3", "Mul", "MulBackward0", "1", "x:", "-3,", "w:", "2"]


def test_trace_watches_only_inside_its_block_and_leaves_no_observer_behind():
    x, w, _ = scalars()
    trace = BackwardTrace()
    (x * w).backward()
    assert trace.steps == []
    with pytest.raises(ZeroDivisionError):
        with trace:
            1 / 0
    assert _state.observers == []
    with trace:
        (x * w).backward()
        with pytest.raises(RuntimeError, match="already recording"):
            trace.__enter__()
    assert len(trace.steps) == 3 and _state.observers == []


def test_two_traces_record_the_same_backward():
    x, w, _ = scalars()
    with BackwardTrace() as one, BackwardTrace() as two:
        (x * w).backward()
    assert [s.rule for s in one.steps] == [s.rule for s in two.steps] and len(one.steps) == 3


def test_a_node_used_twice_receives_the_sum_once():
    a = tg.tensor(2.0, requires_grad=True)
    with BackwardTrace(names={"a": a}) as trace:
        (a * a).backward()
    assert [s.rule for s in trace.steps] == ["MulBackward0", "AccumulateGrad"]
    assert [s.value for s in trace.steps[0].sent] == [2, 2] and trace.grad(a).value == 4


def test_broadcast_gradient_is_recorded_before_the_engine_sums_it():
    X = tg.arange(12.0).reshape(4, 3)
    b = tg.tensor([0.1, 0.2, 0.3], requires_grad=True)
    out = X + b
    with BackwardTrace(names={"b": b}, keep_grads=True) as trace:
        (out ** 2).sum().backward()
    sent = trace.step_of(out).sent_grads[1]
    assert sent.shape == (4, 3) and trace.step_of(out).sent[0] is None  # X needs no gradient
    np.testing.assert_allclose(sent.sum(axis=0), b.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(trace.step_of(b).received_grad, b.grad.numpy())
    assert "(4×3, summed to 3)" in str(trace)


@given(broadcastable_shapes(num_shapes=2), st.integers(0, 2 ** 16))
def test_trace_of_a_broadcast_product_agrees_with_grad(shapes, seed):
    rng = np.random.default_rng(seed)
    a = tg.tensor(rng.standard_normal(shapes[0]), requires_grad=True)
    b = tg.tensor(rng.standard_normal(shapes[1]), requires_grad=True)
    out = a * b
    with BackwardTrace(keep_grads=True) as trace:
        (out * out).sum().backward()
    step = trace.step_of(out)
    assert [g.shape for g in step.sent_grads] == [out.shape, out.shape]  # before the engine sums them
    for leaf in (a, b):
        np.testing.assert_allclose(trace.step_of(leaf).received_grad, leaf.grad.numpy(), rtol=1e-12)
    assert [s.rule for s in trace.steps].count("AccumulateGrad") == 2


def test_trace_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w1, b1, w2 = (rng.standard_normal(s) for s in ((5, 3), (3, 4), (4,), (4, 2)))
    params = [tg.tensor(v, requires_grad=True) for v in (w1, b1, w2)]
    h = tg.tensor(x) @ params[0] + params[1]
    a = h.tanh()
    with BackwardTrace(keep_grads=True) as trace:
        ((a @ params[2]) ** 2).mean().backward()
    tparams = [torch.tensor(v, requires_grad=True) for v in (w1, b1, w2)]
    th = torch.tensor(x) @ tparams[0] + tparams[1]
    ta = th.tanh()
    th.retain_grad()
    ta.retain_grad()
    ((ta @ tparams[2]) ** 2).mean().backward()
    for ours, theirs in ((h, th), (a, ta)):
        assert trace.step_of(ours).rule == theirs.grad_fn.name()
        np.testing.assert_allclose(trace.step_of(ours).received_grad, theirs.grad.numpy(), rtol=1e-10)
    for ours, theirs in zip(params, tparams):
        np.testing.assert_allclose(trace.step_of(ours).received_grad, theirs.grad.numpy(), rtol=1e-10)


def test_kept_gradients_are_copies():
    w = tg.ones(3, requires_grad=True)
    with BackwardTrace(keep_grads=True) as trace:
        (w * 2).sum().backward()
    kept = trace.step_of(w).received_grad
    (w * 5).sum().backward()  # accumulates into w.grad in place
    np.testing.assert_array_equal(kept, [2, 2, 2])
    np.testing.assert_array_equal(w.grad.numpy(), [7, 7, 7])


def test_trace_under_create_graph():
    x = tg.tensor(3.0, requires_grad=True)
    with BackwardTrace() as trace:
        (g,) = tg.autograd.grad(x ** 3, x, create_graph=True)
    assert g.item() == 27 and trace.grad(x).value == 27


class Square(tg.autograd.Function):
    """x ** 2 with a planted wrong backward: g * x instead of 2 * g * x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x


def test_a_planted_wrong_rule_shows_in_the_trace_and_gradcheck_names_it():
    x = tg.tensor([1.0, -2.0, 3.0], dtype=tg.float64, requires_grad=True)

    def f(x):
        return (Square.apply(x * 2) + x).sum()

    with BackwardTrace(keep_grads=True) as trace:
        f(x).backward()
    step = next(s for s in trace.steps if s.rule == "SquareBackward")
    u = step.parents[0].detach().numpy()
    np.testing.assert_allclose(step.sent_grads[0], step.received_grad * u)  # what the wrong rule sent
    assert not np.allclose(step.sent_grads[0], step.received_grad * 2 * u)  # the derivative of u ** 2
    with pytest.raises(tg.autograd.GradcheckError, match="first op whose backward disagrees: SquareBackward"):
        tg.autograd.gradcheck(f, (x,))


def two_layer_step():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    X, y = tg.randn(5, 3), tg.randint(0, 2, (5,))
    h = model[0](X)
    logits = model[2](model[1](h))
    loss = F.cross_entropy(logits, y)
    return model, X, h, logits, loss


def test_layers_group_parameters_and_outputs_by_module():
    model, X, h, logits, loss = two_layer_step()
    dh, dlogits = tg.autograd.grad(loss, (h, logits), retain_graph=True)
    with BackwardTrace(params=model) as trace:
        loss.backward()
    layers = trace.layers()
    assert [layer.module for layer in layers] == ["0", "2"]
    for layer, k, out_grad in zip(layers, (0, 2), (dh, dlogits)):
        expected = math.sqrt(model[k].weight.grad.norm().item() ** 2 + model[k].bias.grad.norm().item() ** 2)
        assert layer.params == pytest.approx(expected, rel=1e-5)
        assert layer.output == pytest.approx(out_grad.norm().item(), rel=1e-5)
    assert trace.groups()[id(model[0].weight)] == "0"


def test_layers_need_params():
    x, w, _ = scalars()
    with BackwardTrace() as trace:
        (x * w).backward()
    with pytest.raises(ValueError, match="params=model"):
        trace.layers()


def test_plots_of_layer_gradients(tmp_path):
    model, *_, loss = two_layer_step()
    with BackwardTrace(params=model) as trace:
        loss.backward()
    assert open(trace.plot(str(tmp_path / "one.png")), "rb").read(8) == PNG
    path = viz.plot_layer_grads({"a": trace, "b": trace}, str(tmp_path / "two.png"), lines={"floor": 1e-3})
    assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError, match="single trace"):
        viz.plot_layer_grads({"a": trace}, str(tmp_path / "x.png"), which="both")
    with pytest.raises(TypeError, match="BackwardTrace"):
        viz.plot_layer_grads([trace], str(tmp_path / "x.png"))


def test_a_zero_gradient_is_drawn(tmp_path):
    lin = nn.Linear(2, 2)
    with BackwardTrace(params={"0.weight": lin.weight, "0.bias": lin.bias}) as trace:
        (lin(tg.ones(1, 2)) * 0).sum().backward()
    assert trace.layers()[0].params == 0
    assert open(trace.plot(str(tmp_path / "zero.png"), which="params"), "rb").read(8) == PNG


# ---------------------------------------------------------------------- draw_graph with values and gradients
def test_draw_graph_labels_values_and_gradients_from_a_trace():
    x, w, b = scalars()
    y = x * w + b
    names = {"x": x, "w": w, "b": b, "y": y}
    with BackwardTrace(names=names) as trace:
        y.backward()
    graph = draw_graph(y, names=names, values=True, grads=trace)
    labels = {n["label"].split("\n")[0]: n["label"].split("\n")[2:] for n in graph.nodes.values()}
    assert labels == {"y (Add)": ["value -5", "grad 1"], "Mul": ["value -6", "grad 1"], "x": ["value 2", "grad -3"],
                      "w": ["value -3", "grad 2"], "b": ["value 1", "grad 1"]}
    assert not graph.clusters  # names are labels, not modules


def test_draw_graph_runs_its_own_backward_without_touching_grad():
    w = tg.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    graph = draw_graph(w * w, grads=True)  # not a scalar: the gradient of its sum
    assert w.grad is None
    assert graph.nodes[id(w)]["label"].endswith("grad: mean 6, max|x| 10")
    with pytest.raises(ValueError, match="requires grad"):
        draw_graph(tg.ones(2) * 2, grads=True)
    with pytest.raises(TypeError, match="grads"):
        draw_graph(w * w, grads="yes")


def test_draw_graph_outlines_non_finite_nodes_in_red():
    z = tg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        graph = draw_graph(z.log().sum(), values=True, grads=True)
    assert graph.nodes[id(z)]["label"].endswith("grad: [inf, 1]")
    assert graph.nodes[id(z)]["alert"] and "color=red" in graph.source
    assert sum(node["alert"] for node in graph.nodes.values()) == 3  # log (value -inf), sum (-inf), z (grad inf)


def test_draw_graph_values_for_arrays_and_modules():
    model, *_, loss = two_layer_step()
    source = draw_graph(loss, params=model, values=True).source
    assert "value: mean" in source and "<br/>grad" not in source
    assert 'label="0"' in source and 'label="2"' in source


# ---------------------------------------------------------------------- precision_report
def test_relative_error():
    assert viz.relative_error([0.0, 3.0], [0.0, 4.0]) == 0.25
    assert viz.relative_error([0.0], [0.0]) == 0.0 and viz.relative_error([1e-9], [0.0]) == math.inf
    assert viz.relative_error([np.nan, 1.0], [np.nan, 1.0]) == 0.0 and viz.relative_error([np.inf], [1.0]) == math.inf
    with pytest.raises(ValueError, match="shapes"):
        viz.relative_error([1.0, 2.0], [1.0])


@pytest.mark.parametrize("unstable, stable, culprit", [
    (lambda x: tg.log(1 + x), tg.log1p, "LogBackward0"),
    (lambda x: tg.exp(x) - 1, tg.expm1, "SubBackward0"),
])
def test_a_planted_float32_unstable_op_is_ranked_first(unstable, stable, culprit):
    tg.manual_seed(0)
    x = (tg.rand(6) * 1e-8).requires_grad_()  # on the tape: ops on inputs that need no gradient are not recorded
    w = tg.randn(6, requires_grad=True)

    def loss(op):
        return lambda x, w: (op(x) * w + tg.tanh(w) * x).sum()  # the op among well-behaved ones

    report = precision_report(loss(unstable), x, w)
    assert report.worst.rule == culprit and report.worst.value_error > 0.5
    assert report.worst.lost > 6 and report.rows[1].lost < 1.5  # float32's 7 digits lost there, none elsewhere
    assert report.worst.lost == max(r.lost for r in report.rows)
    assert report.grad_errors[1] > 0.3  # w's gradient has op(x) in it: wrong too
    fixed = precision_report(loss(stable), x, w)
    assert fixed.worst.lost < 1.5 and max(fixed.grad_errors) < 1e-5
    assert culprit in str(report).splitlines()[1]


def test_precision_report_of_a_network_is_float32_rounding():
    model, X, *_ = two_layer_step()
    y = tg.tensor([0, 1, 1, 0, 1])
    before = [p.detach().clone() for p in model.parameters()]
    report = precision_report(lambda m, X: F.cross_entropy(m(X), y), model, X)
    assert {r.rule for r in report.rows} >= {"AddmmBackward0", "ReluBackward0", "NllLossBackward0"}
    assert all(r.lost < 1.5 for r in report.rows) and report.output_error < 1e-6
    assert {r.module for r in report.rows if r.rule == "AccumulateGrad"} == {"0", "2"}
    for p, q in zip(model.parameters(), before):  # the model itself is untouched (copies were cast)
        assert p.dtype == tg.float32 and tg.equal(p, q) and p.grad is None


def test_precision_report_restores_the_default_dtype_and_the_random_state():
    x = tg.randn(3, requires_grad=True)
    state = tg.get_rng_state()
    report = precision_report(lambda x: (x * tg.randn(3)).sum(), x)  # draws random numbers: the same both runs
    assert report.output_error < 1e-6
    assert tg.get_default_dtype() == tg.float32 and tg.equal(tg.get_rng_state(), state)
    with pytest.raises(ZeroDivisionError):
        precision_report(lambda x: 1 / 0, x)
    assert tg.get_default_dtype() == tg.float32


def test_precision_report_refuses_what_it_cannot_compare():
    x = tg.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match="different graphs"):
        precision_report(lambda x: x.exp().sum() if x.dtype == tg.float32 else x.sum(), x)
    with pytest.raises(TypeError, match="floating-point Tensor"):
        precision_report(lambda x: 3.0, x)
    with pytest.raises(ValueError, match="requires grad"):
        precision_report(lambda x: x.sum(), tg.ones(3))
    with pytest.raises(TypeError, match="function"):
        precision_report(x, x)


# ---------------------------------------------------------------------- memory_ledger
def test_ledger_bytes_of_a_hand_checked_graph():
    x = tg.randn(5, 3)                      # 60 bytes: matmul keeps it for w's gradient
    w = tg.randn(3, 4, requires_grad=True)  # 48 bytes: a parameter, held anyway
    r = (x @ w).relu()                      # 80 bytes: relu keeps which units were active
    ledger = memory_ledger(r.sum(), params={"w": w})
    assert ledger.saved == x.numpy().nbytes + r.detach().numpy().nbytes == 140
    assert ledger.parameters == 48
    assert ledger.held == 60 + 80 + 80 + 4  # every node's value: x, x @ w, r, the sum
    assert [row.rule for row in ledger.rows] == ["MmBackward0", "ReluBackward0", "SumBackward0"]
    assert sum(row.bytes for row in ledger.rows) == ledger.saved


def test_ledger_counts_an_array_once():
    x = tg.randn(100, requires_grad=True)
    assert memory_ledger(x * x).saved == 400          # x is both inputs of Mul
    v = x.reshape(10, 10)                             # a view: the same memory
    assert memory_ledger(v * x.reshape(10, 10)).saved == 400


def test_ledger_per_module_and_against_the_parameters():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
    X = tg.randn(64, 10)
    ledger = memory_ledger(F.cross_entropy(model(X), tg.randint(0, 2, (64,))), params=model)
    assert ledger.by_module["0"] == X.numpy().nbytes        # the first layer keeps its input
    assert ledger.by_module["2"] == 64 * 32 * 4             # the second keeps the ReLU's output, its input
    assert ledger.parameters == (10 * 32 + 32 + 32 * 2 + 2) * 4
    assert ledger.saved > ledger.parameters
    assert list(ledger.by_module)[:2] == ["0", "2"] and "(outside modules)" in ledger.by_module
    text = str(ledger)
    assert "saved for backward" in text and "x the parameters" in text


def test_ledger_counts_what_a_rule_keeps_in_a_dict_of_constants():
    # cross_entropy's rule keeps its log-softmax (PyTorch's LogSoftmaxBackward0 saves it too) in a dict of
    # constants; the ledger counted only closures, tuples and lists, and missed it
    logits = tg.randn(64, 10, requires_grad=True)
    row = memory_ledger(F.cross_entropy(logits, tg.randint(0, 10, (64,)))).rows[-1]
    captured = [(shape, dtype) for what, shape, dtype, _ in row.arrays if what == "captured"]
    assert ((64, 10), "float32") in captured and row.bytes >= 2 * 64 * 10 * 4  # the logits and their log-softmax


@given(st.lists(st.sampled_from(["exp", "tanh", "sigmoid", "relu", "mul", "add", "sin"]), min_size=1, max_size=6),
       st.integers(1, 5))
def test_ledger_saved_bytes_are_distinct_arrays_it_lists(ops, n):
    x = tg.randn(n, 3, requires_grad=True)
    t = x
    for op in ops:
        t = t * x if op == "mul" else t + x if op == "add" else getattr(t, op)()
    ledger = memory_ledger(t)
    charged = [b for row in ledger.rows for (_, _, _, b) in row.arrays if b]
    assert ledger.saved == sum(charged) and all(b == n * 3 * 4 for b in charged)  # each a (n, 3) float32 buffer
    assert ledger.saved <= ledger.held <= 4 * n * 3 * (len(ops) + 1)  # no more than every node's value


def test_captured_arrays_are_found_in_closures():
    a, b, c = np.ones(3), np.zeros((2, 2)), tg.ones(4)

    def inner(g):
        return g * a

    def rule(xp, g, out, x):
        return inner(g) + b.sum() + (c, "name")[0]._data.sum()

    found = _captured(rule)
    assert {id(f) for f in found} == {id(a), id(b), id(c._data)}
    assert _captured(lambda xp, g, out, x: g) == []


def test_ledger_rejects_non_tensors():
    with pytest.raises(TypeError, match="memory_ledger"):
        memory_ledger(np.ones(2))


def test_doctests():
    import doctest
    import importlib

    for name in ("_tape", "graph", "trace", "precision", "memory"):
        module = importlib.import_module(f"tapegrad.viz.{name}")
        assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0, name
