"""Recurrent layers (tapegrad/ops/rnn.py, tapegrad/nn/rnn.py) and variable-length sequences (nn.utils.rnn).

- The layer op against a plain numpy loop over time steps, for every mode, direction, projection and packed
  schedule; its gradients (first and second order) against float64 central differences.
- The modules: PyTorch's parameter names, shapes, order and initialization; packed input equal to running each
  sequence alone (padded steps never reach h_n); batch_first, unbatched and initial states; dropout between
  layers in training mode only; gradients and Hessian-vector products against finite differences over
  Hypothesis-drawn configurations; PyTorch's errors.
- When PyTorch is installed: the same state_dict loaded both ways gives the same outputs, final states and
  gradients of every parameter and input, for every configuration (packed sequences included).
"""

import doctest
import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import nn
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.utils import rnn as R
from tapegrad.ops import rnn as rnn_ops
from tapegrad.ops.rnn import NODE_NAME, block_sizes, layer_blocks, recurrent_layer

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
MODULES = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN}


# ---------------------------------------------------------------------- a numpy loop over time steps
def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def loop_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, batch_sizes, reverse):
    """One direction of one layer, step by step, straight from PyTorch's equations: the h and c rows."""
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    b_ih = 0 if b_ih is None else b_ih
    b_hh = 0 if b_hh is None else b_hh
    out_h = np.zeros((offsets[-1], h0.shape[1]))
    out_c = np.zeros((offsets[-1], c0.shape[1])) if c0 is not None else None
    h = c = None
    for t in order:
        b = batch_sizes[t]
        rows = slice(offsets[t], offsets[t] + b)
        if h is None:
            hp, cp = h0[:b], None if c0 is None else c0[:b]
        elif h.shape[0] >= b:
            hp, cp = h[:b], None if c is None else c[:b]
        else:  # a packed batch backwards: the sequences that end here start from their initial state
            hp = np.concatenate([h, h0[h.shape[0]:b]])
            cp = None if c is None else np.concatenate([c, c0[c.shape[0]:b]])
        gi, gh = x[rows] @ w_ih.T + b_ih, hp @ w_hh.T + b_hh
        if mode == "LSTM":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            c = _sigmoid(f) * cp + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            if w_hr is not None:
                h = h @ w_hr.T
            out_c[rows] = c
        elif mode == "GRU":
            (ir, iz, i_n), (hr, hz, h_n) = np.split(gi, 3, axis=1), np.split(gh, 3, axis=1)
            r, z = _sigmoid(ir + hr), _sigmoid(iz + hz)
            n = np.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * hp
        else:
            h = np.tanh(gi + gh) if mode == "RNN_TANH" else np.maximum(gi + gh, 0)
        out_h[rows] = h
    return out_h, out_c


@st.composite
def batch_sizes(draw, max_steps=4, max_batch=3):
    """A packed batch's sizes: sequences of lengths 1..max_steps sorted by decreasing length."""
    lengths = sorted(draw(st.lists(st.integers(1, max_steps), min_size=1, max_size=max_batch)), reverse=True)
    return [sum(n > t for n in lengths) for t in range(lengths[0])]


@st.composite
def layer_cases(draw, max_steps=4, max_batch=3):
    mode = draw(st.sampled_from(sorted(GATES)))
    proj = draw(st.sampled_from([0, 1])) if mode == "LSTM" else 0
    return mode, proj, draw(batch_sizes(max_steps, max_batch)), draw(st.booleans()), draw(st.booleans())


def _layer_inputs(rng, mode, proj, sizes, bias, input_size=2, hidden=2):
    gates, out = GATES[mode], proj or hidden
    n, batch = sum(sizes), sizes[0]

    def t(*shape):
        return tg.tensor(rng.standard_normal(shape), dtype=tg.float64, requires_grad=True)

    return (t(n, input_size), t(batch, out), t(batch, hidden) if mode == "LSTM" else None,
            t(gates * hidden, input_size), t(gates * hidden, out), t(gates * hidden) if bias else None,
            t(gates * hidden) if bias else None, t(proj, hidden) if proj else None)


def _layer_fn(mode, proj, sizes, reverse, hidden=2, blocks=True):
    n = sum(sizes)

    def fn(*args):
        y = recurrent_layer(mode, *args, batch_sizes=sizes, reverse=reverse)
        return tuple(layer_blocks(y, mode, n, hidden, proj)) if blocks else y

    return fn


def _array(t):
    return None if t is None else N(t)


def N(t):
    """The values of a tensor (tapegrad's or PyTorch's) as a numpy array."""
    return t.detach().numpy()


# ---------------------------------------------------------------------- the layer op
@given(layer_cases(max_steps=5, max_batch=4))
@example(("LSTM", 1, [3, 2, 2, 1], True, True))
@example(("GRU", 0, [3, 3, 1], True, False))
@example(("RNN_RELU", 0, [2, 1], False, True))
def test_layer_matches_a_loop_over_time_steps(case):
    mode, proj, sizes, reverse, bias = case
    rng = np.random.default_rng(len(sizes))
    args = _layer_inputs(rng, mode, proj, sizes, bias, input_size=3, hidden=4)
    blocks = _layer_fn(mode, proj, sizes, reverse, hidden=4)(*args)
    h, c = loop_layer(mode, *map(_array, args), sizes, reverse)
    np.testing.assert_allclose(N(blocks[0]), h, rtol=1e-12, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(N(blocks[1]), c, rtol=1e-12, atol=1e-12)
    assert blocks[0].shape == (sum(sizes), proj or 4)


def test_layer_in_float32_matches_float64():
    rng = np.random.default_rng(0)
    for mode in GATES:
        args = _layer_inputs(rng, mode, 0, [3, 3, 2], True, input_size=3, hidden=5)
        fn = _layer_fn(mode, 0, [3, 3, 2], False, hidden=5)
        single = fn(*[None if a is None else a.detach().float() for a in args])
        assert single[0].dtype == tg.float32
        np.testing.assert_allclose(N(single[0]), N(fn(*args)[0]), rtol=1e-5, atol=1e-6)


def test_saturated_gates_stay_finite():
    # NOTE: exp(-a) overflows for a < -88 in float32; the gates must still be exactly 0 or 1, with no NaN
    for mode in GATES:
        x = tg.full((2, 2), 500.0, requires_grad=True)
        w = tg.ones(GATES[mode] * 3, 2, requires_grad=True)
        h0 = tg.zeros(1, 3)
        c0 = tg.zeros(1, 3) if mode == "LSTM" else None
        y = recurrent_layer(mode, x, h0, c0, w * -1, tg.zeros(GATES[mode] * 3, 3), batch_sizes=[1, 1])
        y.sum().backward()
        assert np.isfinite(N(y)).all() and np.isfinite(N(x.grad)).all() and np.isfinite(N(w.grad)).all()


@settings(max_examples=10)
@given(layer_cases())
@example(("LSTM", 1, [3, 2, 1], True, True))
@example(("GRU", 0, [2, 2, 1], True, True))
@example(("RNN_TANH", 0, [2, 1], False, False))
def test_layer_gradients_match_finite_differences(case):
    mode, proj, sizes, reverse, bias = case
    args = _layer_inputs(np.random.default_rng(1), mode, proj, sizes, bias)
    assert gradcheck(_layer_fn(mode, proj, sizes, reverse), args)
    # the whole output, activations included: the rule is the VJP of everything the layer returns
    assert gradcheck(_layer_fn(mode, proj, sizes, reverse, blocks=False), args)


@settings(max_examples=6)
@given(layer_cases(max_steps=3, max_batch=2))
@example(("LSTM", 1, [2, 1], True, True))
@example(("GRU", 0, [2, 1], True, True))
@example(("RNN_TANH", 0, [2, 2], False, True))
def test_layer_second_order_matches_finite_differences(case):
    mode, proj, sizes, reverse, bias = case
    args = _layer_inputs(np.random.default_rng(2), mode, proj, sizes, bias)
    assert gradgradcheck(_layer_fn(mode, proj, sizes, reverse), args)


def test_relu_layer_second_order_away_from_the_kink():
    rng = np.random.default_rng(3)
    args = list(_layer_inputs(rng, "RNN_RELU", 0, [2, 2, 1], True))
    with tg.no_grad():
        args[3].abs_()  # positive weights and inputs: every pre-activation > 0
        args[0].abs_()
        args[1].abs_()
    assert gradgradcheck(_layer_fn("RNN_RELU", 0, [2, 2, 1], True), tuple(args))


def test_the_rule_gives_the_same_gradients_on_arrays_and_on_tensors():
    # first order runs the rule on numpy arrays; create_graph runs the same code on tensors
    rng = np.random.default_rng(4)
    for mode, proj, sizes, reverse in [("LSTM", 2, [3, 2, 1], True), ("GRU", 0, [2, 2], False),
                                       ("RNN_TANH", 0, [3, 1], True)]:
        args = [a for a in _layer_inputs(rng, mode, proj, sizes, True, input_size=3, hidden=4)]
        y = recurrent_layer(mode, *args, batch_sizes=sizes, reverse=reverse)
        weights = tg.tensor(rng.standard_normal(y.shape))
        used = [a for a in args if a is not None]
        plain = tg.autograd.grad((y * weights).sum(), used, retain_graph=True)
        graphed = tg.autograd.grad((y * weights).sum(), used, create_graph=True)
        for a, b in zip(plain, graphed, strict=True):
            np.testing.assert_allclose(N(a), N(b), rtol=1e-12, atol=1e-13)


def _count_nodes(t):
    seen, stack = set(), [t]
    while stack:
        node = stack.pop()
        if id(node) in seen or node._backward is None:
            continue
        seen.add(id(node))
        stack.extend(node._parents)
    return len(seen)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_one_node_per_layer_and_direction_whatever_the_length(mode):
    module = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=True)
    counts = []
    for steps in (2, 50):
        out, _ = module(tg.randn(steps, 2, 3))
        counts.append(_count_nodes(out))
    assert counts[0] == counts[1]
    out, _ = module(tg.randn(5, 2, 3))
    layers = [n for n in _walk(out) if n._name == NODE_NAME]
    assert len(layers) == 4  # 2 layers x 2 directions


def _walk(t):
    seen, stack, out = set(), [t], []
    while stack:
        node = stack.pop()
        if id(node) in seen or node._backward is None:
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(node._parents)
    return out


def test_schedule_of_a_packed_batch():
    assert rnn_ops.schedule([3, 2, 1], False) == ((0, 3, 0, 0), (3, 2, 0, 3), (5, 1, 3, 2))
    assert rnn_ops.schedule([3, 2, 1], True) == ((5, 1, 0, 0), (3, 2, 5, 1), (0, 3, 3, 2))
    assert block_sizes("LSTM", 4, 2) == (2, 4, 16) and block_sizes("GRU", 4) == (4, 12, 4)


# ---------------------------------------------------------------------- cells
CELLS = {"LSTMCell": (nn.LSTMCell, "LSTM"), "GRUCell": (nn.GRUCell, "GRU"), "RNNCell": (nn.RNNCell, "RNN_TANH"),
         "RNNCell-relu": (lambda *a, **k: nn.RNNCell(*a, nonlinearity="relu", **k), "RNN_RELU")}


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_one_step_of_the_loop_and_finite_differences(name, bias):
    make, mode = CELLS[name]
    cell = make(3, 4, bias=bias).double()
    rng = np.random.default_rng(5)
    x = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = tg.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    c = tg.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    hx = (h, c) if mode == "LSTM" else h
    out = cell(x, hx)
    ref_h, ref_c = loop_layer(mode, N(x), N(h),
                              N(c) if mode == "LSTM" else None, *map(_array, cell.parameters()),
                              *([] if bias else [None, None]), None, [2], False)
    got = out if mode == "LSTM" else (out,)
    np.testing.assert_allclose(N(got[0]), ref_h, rtol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(N(got[1]), ref_c, rtol=1e-12)
    params = tuple(cell.parameters())

    def fn(x, h, c, *ps):
        return cell(x, (h, c) if mode == "LSTM" else h)

    if mode == "RNN_RELU":
        return  # relu's kink: checked by the layer tests away from it
    assert gradcheck(fn, (x, h, c) + params)
    assert gradgradcheck(fn, (x, h, c) + params)


@settings(max_examples=8)
@given(name=st.sampled_from(["LSTMCell", "GRUCell", "RNNCell"]), input_size=st.integers(1, 3),
       hidden=st.integers(1, 3), batch=st.sampled_from([None, 1, 2]), bias=st.booleans(), seed=st.integers(0, 99))
def test_cells_over_sizes_match_the_loop_and_finite_differences_to_second_order(name, input_size, hidden, batch,
                                                                                bias, seed):
    make, mode = CELLS[name]
    cell = make(input_size, hidden, bias=bias).double()
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    x = tg.tensor(rng.standard_normal(lead + (input_size,)), requires_grad=True)
    h = tg.tensor(rng.standard_normal(lead + (hidden,)), requires_grad=True)
    c = tg.tensor(rng.standard_normal(lead + (hidden,)), requires_grad=True)
    out = cell(x, (h, c) if mode == "LSTM" else h)
    got = out if mode == "LSTM" else (out,)
    assert all(tuple(o.shape) == lead + (hidden,) for o in got)
    rows = 1 if batch is None else batch
    ref = loop_layer(mode, N(x).reshape(rows, -1), N(h).reshape(rows, -1),
                     N(c).reshape(rows, -1) if mode == "LSTM" else None, *map(_array, cell.parameters()),
                     *([] if bias else [None, None]), None, [rows], False)
    for o, r in zip(got, ref):
        np.testing.assert_allclose(N(o).reshape(rows, -1), r, rtol=1e-12, atol=1e-14)
    params = tuple(cell.parameters())

    def fn(x, h, c, *ps):
        return cell(x, (h, c) if mode == "LSTM" else h)

    assert gradcheck(fn, (x, h, c) + params)
    assert gradgradcheck(fn, (x, h, c) + params)


def test_cells_unbatched_default_state_and_errors():
    for make, mode in CELLS.values():
        cell = make(3, 4)
        x = tg.randn(2, 3)
        batched = cell(x)
        single = cell(x[0])
        first = batched[0][0] if mode == "LSTM" else batched[0]
        np.testing.assert_allclose(N(single[0] if mode == "LSTM" else single), N(first), rtol=1e-6)
        with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D instead"):
            cell(tg.randn(1, 2, 3))
        with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 3"):
            cell(tg.randn(2, 5))
        state = tg.zeros(3, 4)
        with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
            cell(x, (state, state) if mode == "LSTM" else state)
    with pytest.raises(RuntimeError, match="Unknown nonlinearity: foo"):
        nn.RNNCell(3, 4, nonlinearity="foo")(tg.randn(2, 3))
    with pytest.raises(ValueError, match=r"Expected hx\[1\] to be 1D or 2D, got 3D instead"):
        nn.LSTMCell(3, 4)(tg.randn(2, 3), (tg.zeros(2, 4), tg.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match="dtype"):
        nn.GRUCell(3, 4)(tg.randn(2, 3).double())


def test_functional_cells():
    rng = np.random.default_rng(6)
    x, h, c = (tg.tensor(rng.standard_normal(s)) for s in ((2, 3), (2, 4), (2, 4)))
    w_ih, w_hh = tg.tensor(rng.standard_normal((16, 3))), tg.tensor(rng.standard_normal((16, 4)))
    h1, c1 = tg.lstm_cell(x, (h, c), w_ih, w_hh)
    ref_h, ref_c = loop_layer("LSTM", N(x), N(h), N(c), N(w_ih), N(w_hh), None, None, None,
                              [2], False)
    np.testing.assert_allclose(N(h1), ref_h, rtol=1e-12)
    np.testing.assert_allclose(N(c1), ref_c, rtol=1e-12)
    out = tg.gru_cell(x, h, w_ih[:12], w_hh[:12])
    np.testing.assert_allclose(N(out), loop_layer("GRU", N(x), N(h), None, N(w_ih)[:12],
                                                       N(w_hh)[:12], None, None, None, [2], False)[0])
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 5, expected 4"):
        tg.rnn_tanh_cell(x, tg.zeros(2, 5), w_ih[:4], w_hh[:4])


# ---------------------------------------------------------------------- modules: structure
def test_parameters_are_named_shaped_and_ordered_as_pytorchs():
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    names = [(n, tuple(p.shape)) for n, p in lstm.named_parameters()]
    expected = []
    for layer in range(2):
        for suffix in ("", "_reverse"):
            inp = 3 if layer == 0 else 4
            expected += [(f"weight_ih_l{layer}{suffix}", (20, inp)), (f"weight_hh_l{layer}{suffix}", (20, 2)),
                         (f"bias_ih_l{layer}{suffix}", (20,)), (f"bias_hh_l{layer}{suffix}", (20,)),
                         (f"weight_hr_l{layer}{suffix}", (2, 5))]
    assert names == expected
    assert list(lstm.state_dict()) == [n for n, _ in expected]
    assert lstm._flat_weights_names == [n for n, _ in expected]
    assert [[n for n in group] for group in lstm._all_weights] == [[n for n, _ in expected[k:k + 5]]
                                                                   for k in range(0, 20, 5)]
    assert lstm.all_weights[1][0] is lstm.weight_ih_l0_reverse
    assert lstm._flat_weights[0] is lstm.weight_ih_l0
    gru = nn.GRU(3, 4, bias=False)
    assert [(n, tuple(p.shape)) for n, p in gru.named_parameters()] == [("weight_ih_l0", (12, 3)),
                                                                         ("weight_hh_l0", (12, 4))]
    rnn = nn.RNN(3, 4, 2, "relu")
    assert rnn.nonlinearity == "relu" and rnn.mode == "RNN_RELU" and rnn.weight_ih_l1.shape == (4, 4)
    cell = nn.LSTMCell(3, 4)
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        ("weight_ih", (16, 3)), ("weight_hh", (16, 4)), ("bias_ih", (16,)), ("bias_hh", (16,))]
    assert nn.GRUCell(3, 4, bias=False).bias_ih is None


def test_initialization_is_uniform_within_one_over_sqrt_hidden():
    for module in (nn.LSTM(3, 16, 2, proj_size=4), nn.GRU(3, 16), nn.RNN(3, 16), nn.GRUCell(3, 16)):
        values = np.concatenate([N(p).ravel() for p in module.parameters()])
        assert np.abs(values).max() <= 0.25
        assert values.std() > 0.1  # spread over the interval, not zeros
    lstm = nn.LSTM(2, 4)
    before = N(lstm.weight_hh_l0).copy()
    lstm.reset_parameters()
    assert not np.array_equal(before, N(lstm.weight_hh_l0))
    assert nn.LSTM(2, 4, dtype=tg.float64).weight_ih_l0.dtype == tg.float64


def test_flatten_parameters_is_accepted_and_weights_follow_assignment():
    lstm = nn.LSTM(2, 3)
    lstm.flatten_parameters()
    new = nn.Parameter(tg.zeros(12, 3))
    lstm.weight_hh_l0 = new
    assert lstm._flat_weights[1] is new and lstm.all_weights[0][1] is new
    lstm.double()
    assert lstm(tg.randn(2, 1, 2).double())[0].dtype == tg.float64


def test_constructor_errors_are_pytorchs():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="input_size should be of type int, got: float"):
        nn.LSTM(3.0, 4)
    with pytest.raises(TypeError, match="bias should be of type bool, got: int"):
        nn.LSTM(3, 4, bias=1)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'foo'. Select from 'tanh' or 'relu'."):
        nn.RNN(3, 4, nonlinearity="foo")
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)


def test_forward_errors_are_pytorchs():
    lstm, gru, rnn = nn.LSTM(3, 4), nn.GRU(3, 4), nn.RNN(3, 4)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 6"):
        lstm(tg.randn(5, 2, 6))
    with pytest.raises(ValueError, match=r"RNN input dtype \(float64\) does not match weight dtype \(float32\)"):
        lstm(tg.randn(5, 2, 3).double())
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 4\), got \[1, 3, 4\]"):
        lstm(tg.randn(5, 2, 3), (tg.zeros(1, 3, 4), tg.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 3, 4\]"):
        lstm(tg.randn(5, 2, 3), (tg.zeros(1, 2, 4), tg.zeros(1, 3, 4)))
    with pytest.raises(RuntimeError, match=r"hx and cx should also be 3-D but got \(2-D, 2-D\) tensors"):
        lstm(tg.randn(5, 2, 3), (tg.zeros(2, 4), tg.zeros(2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        gru(tg.randn(5, 2, 3), tg.zeros(1, 3, 4))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        gru(tg.randn(5, 2, 3), tg.zeros(2, 4))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        rnn(tg.randn(5, 3), tg.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="GRU: Expected input to be 2D or 3D, got 4D instead"):
        gru(tg.randn(2, 3, 5, 3))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 1D tensor instead"):
        rnn(tg.randn(3))
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        lstm(tg.randn(0, 2, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 2\), got \[1, 2, 4\]"):
        nn.LSTM(3, 4, proj_size=2)(tg.randn(5, 2, 3), (tg.zeros(1, 2, 4), tg.zeros(1, 2, 4)))


def test_empty_batch_gives_empty_outputs():
    out, (h, c) = nn.LSTM(3, 4, 2)(tg.randn(5, 0, 3))
    assert out.shape == (5, 0, 4) and h.shape == (2, 0, 4) and c.shape == (2, 0, 4)


@pytest.mark.parametrize("make,text", [
    (lambda: nn.LSTM(3, 4), "LSTM(3, 4)"),
    (lambda: nn.LSTM(3, 4, 2, proj_size=2, batch_first=True, dropout=0.5, bidirectional=True),
     "LSTM(3, 4, proj_size=2, num_layers=2, batch_first=True, dropout=0.5, bidirectional=True)"),
    (lambda: nn.RNN(3, 4, 2, "relu", False, True, 0.5, True),
     "RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"),
    (lambda: nn.GRU(3, 4), "GRU(3, 4)"),
    (lambda: nn.LSTMCell(3, 4), "LSTMCell(3, 4)"),
    (lambda: nn.RNNCell(3, 4, bias=False, nonlinearity="relu"), "RNNCell(3, 4, bias=False, nonlinearity=relu)"),
    (lambda: nn.GRUCell(3, 4), "GRUCell(3, 4)"),
])
def test_repr_matches_pytorch(make, text):
    assert repr(make()) == text


# ---------------------------------------------------------------------- modules: forward semantics
def _module(mode, layers=1, bidirectional=False, proj=0, batch_first=False, bias=True, seed=0, hidden=4,
            input_size=3):
    tg.manual_seed(seed)
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    if proj:
        kwargs["proj_size"] = proj
    if mode.startswith("RNN"):
        kwargs["nonlinearity"] = "relu" if mode == "RNN_RELU" else "tanh"
    return MODULES[mode](input_size, hidden, **kwargs).double()


def _states(mode, out):
    hidden = out[1]
    return hidden if isinstance(hidden, tuple) else (hidden,)


def _reference_module(module, x, states):
    """The module on a padded (T, B, F) array, layer by layer and direction by direction, with the numpy loop."""
    mode, steps, batch = module.mode, x.shape[0], x.shape[1]
    directions = 2 if module.bidirectional else 1
    per = len(module._flat_weights) // (module.num_layers * directions)
    rows, finals = x.reshape(steps * batch, -1), ([], [])
    for layer in range(module.num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            w = [_array(p) for p in module._flat_weights[k * per:(k + 1) * per]]
            b_ih, b_hh = (w[2], w[3]) if module.bias else (None, None)
            w_hr = w[-1] if module.proj_size else None
            h, c = loop_layer(mode, rows, states[0][k], states[1][k] if mode == "LSTM" else None, w[0], w[1],
                              b_ih, b_hh, w_hr, [batch] * steps, d == 1)
            outs.append(h)
            last = slice(0, batch) if d == 1 else slice(len(h) - batch, len(h))
            finals[0].append(h[last])
            if c is not None:
                finals[1].append(c[last])
        rows = np.concatenate(outs, axis=1)
    return rows.reshape(steps, batch, -1), [np.stack(f) for f in finals if f]


@pytest.mark.parametrize("mode", sorted(GATES))
@pytest.mark.parametrize("layers,bidirectional,proj", [(1, False, 0), (2, True, 0), (2, True, 2), (3, False, 2)])
def test_modules_match_the_numpy_loop_layer_by_layer(mode, layers, bidirectional, proj):
    if proj and mode != "LSTM":
        return
    module = _module(mode, layers, bidirectional, proj)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3, 3))
    directions = 2 if bidirectional else 1
    states = [rng.standard_normal((layers * directions, 3, proj or 4)),
              rng.standard_normal((layers * directions, 3, 4))]
    hx = (tg.tensor(states[0]), tg.tensor(states[1])) if mode == "LSTM" else tg.tensor(states[0])
    out = module(tg.tensor(x), hx)
    ref_out, ref_finals = _reference_module(module, x, states)
    np.testing.assert_allclose(N(out[0]), ref_out, rtol=1e-12, atol=1e-12)
    for got, ref in zip(_states(mode, out), ref_finals, strict=True):
        np.testing.assert_allclose(N(got), ref, rtol=1e-12, atol=1e-12)


@given(mode=st.sampled_from(sorted(GATES)), layers=st.integers(1, 2), bidirectional=st.booleans(),
       lengths=st.lists(st.integers(1, 4), min_size=1, max_size=4), enforce_sorted=st.booleans(),
       batch_first=st.booleans(), initial=st.booleans())
@example(mode="LSTM", layers=2, bidirectional=True, lengths=[2, 4, 1], enforce_sorted=False, batch_first=True,
         initial=True)
def test_a_packed_batch_is_each_sequence_run_alone(mode, layers, bidirectional, lengths, enforce_sorted,
                                                   batch_first, initial):
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    module = _module(mode, layers, bidirectional, batch_first=batch_first)
    rng = np.random.default_rng(8)
    seqs = [tg.tensor(rng.standard_normal((n, 3))) for n in lengths]
    directions = 2 if bidirectional else 1
    states = [tg.tensor(rng.standard_normal((layers * directions, len(lengths), 4))) for _ in range(2)]
    hx = (None if not initial else (states[0], states[1]) if mode == "LSTM" else states[0])
    packed = R.pack_sequence(seqs, enforce_sorted=enforce_sorted)
    out, hidden = module(packed, hx)
    assert isinstance(out, R.PackedSequence)
    padded, out_lengths = R.pad_packed_sequence(out, batch_first=batch_first)
    assert out_lengths.tolist() == lengths
    finals = hidden if isinstance(hidden, tuple) else (hidden,)
    for j, seq in enumerate(seqs):
        alone_hx = None
        if initial:
            alone_hx = (states[0][:, j], states[1][:, j]) if mode == "LSTM" else states[0][:, j]
        alone_out, alone_hidden = module(seq, alone_hx)  # unbatched
        mine = padded[j, :lengths[j]] if batch_first else padded[:lengths[j], j]
        np.testing.assert_allclose(N(mine), N(alone_out), rtol=1e-10, atol=1e-12)
        rest = padded[j, lengths[j]:] if batch_first else padded[lengths[j]:, j]
        assert (N(rest) == 0).all()
        for got, ref in zip(finals, alone_hidden if isinstance(alone_hidden, tuple) else (alone_hidden,)):
            np.testing.assert_allclose(N(got[:, j]), N(ref), rtol=1e-10, atol=1e-12)


def test_batch_first_and_unbatched_inputs_give_the_same_numbers():
    for mode in GATES:
        time_major = _module(mode, 2, True)
        batch_major = _module(mode, 2, True, batch_first=True)
        x = tg.randn(5, 3, 3, dtype=tg.float64)
        a, b = time_major(x), batch_major(x.transpose(0, 1))
        np.testing.assert_allclose(N(a[0]), N(b[0].transpose(0, 1)), rtol=1e-12)
        for p, q in zip(_states(mode, a), _states(mode, b)):
            np.testing.assert_allclose(N(p), N(q), rtol=1e-12)
        single = time_major(x[:, 1])
        assert single[0].shape == (5, 8)
        np.testing.assert_allclose(N(single[0]), N(a[0][:, 1]), rtol=1e-12)
        for p, q in zip(_states(mode, single), _states(mode, a)):
            assert p.shape == (4, 4)
            np.testing.assert_allclose(N(p), N(q[:, 1]), rtol=1e-12)


def test_output_layout_is_pytorchs():
    out, (h, c) = nn.LSTM(3, 4)(tg.randn(5, 2, 3))
    assert out.is_contiguous() and out.view(-1, 4).shape == (10, 4)  # word_language_model views it
    out, _ = nn.LSTM(3, 4, batch_first=True)(tg.randn(2, 5, 3))
    assert out.shape == (2, 5, 4) and not out.is_contiguous()  # a transpose, as PyTorch's
    out, h = nn.GRU(3, 4, bidirectional=True)(tg.randn(5, 2, 3))
    assert out.shape == (5, 2, 8) and h.shape == (2, 2, 4)
    np.testing.assert_allclose(N(out[-1, :, :4]), N(h[0]))
    np.testing.assert_allclose(N(out[0, :, 4:]), N(h[1]))


def test_dropout_between_layers_in_training_mode_only():
    lstm = _module("LSTM", 3)
    lstm.dropout = 0.5
    x = tg.randn(4, 2, 3, dtype=tg.float64)
    lstm.eval()
    first, second = lstm(x)[0], lstm(x)[0]
    np.testing.assert_array_equal(N(first), N(second))
    no_dropout = _module("LSTM", 3)
    np.testing.assert_allclose(N(first), N(no_dropout(x)[0]), rtol=1e-12)
    lstm.train()
    tg.manual_seed(1)
    a = lstm(x)[0]
    tg.manual_seed(2)
    b = lstm(x)[0]
    assert not np.allclose(N(a), N(b))
    one_layer = _module("GRU", 1)
    one_layer.dropout = 0.5  # no layer follows: nothing to drop (PyTorch warns at construction)
    np.testing.assert_allclose(N(one_layer.train()(x)[0]), N(one_layer.eval()(x)[0]))


# ---------------------------------------------------------------------- modules: gradients
def _directional_check(fn, tensors, rng, eps=1e-6, rtol=1e-5, atol=1e-7, order=1):
    """d/de of w . fn(theta + e v) by central differences against the analytic <grad, v> (order 1), or the
    directional derivative of <grad(w . fn), u> against the Hessian-vector product (order 2): a check whose
    cost does not grow with the number of parameters."""
    outs = fn()
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    weights = [rng.standard_normal(o.shape) for o in outs]
    direction = [rng.standard_normal(t.shape) for t in tensors]
    probe = [rng.standard_normal(t.shape) for t in tensors]

    def scalar(grad=False):
        values = fn()
        values = values if isinstance(values, (tuple, list)) else (values,)
        total = sum((v * tg.tensor(w)).sum() for v, w in zip(values, weights))
        if order == 1:
            return total
        gs = tg.autograd.grad(total, tensors, create_graph=grad, allow_unused=True)
        return sum((g * tg.tensor(u)).sum() for g, u in zip(gs, probe) if g is not None)

    def at(sign):
        with tg.no_grad():
            for t, v in zip(tensors, direction):
                t.add_(tg.tensor(v) * (sign * eps))
        try:
            with tg.enable_grad() if order == 2 else tg.no_grad():
                return scalar().item()
        finally:
            with tg.no_grad():
                for t, v in zip(tensors, direction):
                    t.sub_(tg.tensor(v) * (sign * eps))

    numeric = (at(1) - at(-1)) / (2 * eps)
    grads = tg.autograd.grad(scalar(grad=True), tensors, allow_unused=True)
    analytic = sum(float((N(g) * v).sum()) for g, v in zip(grads, direction) if g is not None)
    assert abs(analytic - numeric) <= atol + rtol * abs(numeric), (analytic, numeric)


@st.composite
def module_cases(draw):
    mode = draw(st.sampled_from(sorted(GATES)))
    return dict(mode=mode, layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
                proj=draw(st.sampled_from([0, 2])) if mode == "LSTM" else 0, batch_first=draw(st.booleans()),
                bias=draw(st.booleans()), initial=draw(st.booleans()),
                packed=draw(st.sampled_from([None, "sorted", "unsorted"])), steps=draw(st.integers(1, 4)),
                batch=draw(st.integers(1, 3)))


def _module_problem(case, rng):
    module = _module(case["mode"], case["layers"], case["bidirectional"], case["proj"], case["batch_first"],
                     case["bias"], hidden=3, input_size=2)
    if case["mode"] == "RNN_RELU":
        with tg.no_grad():
            for p in module.parameters():
                p.abs_()  # away from relu's kink, where finite differences are meaningless
    steps, batch = case["steps"], case["batch"]
    shape = (batch, steps, 2) if case["batch_first"] else (steps, batch, 2)
    x = tg.tensor(np.abs(rng.standard_normal(shape)), requires_grad=True)
    directions = 2 if case["bidirectional"] else 1
    h0 = tg.tensor(np.abs(rng.standard_normal((case["layers"] * directions, batch, case["proj"] or 3))),
                   requires_grad=True)
    c0 = tg.tensor(rng.standard_normal((case["layers"] * directions, batch, 3)), requires_grad=True)
    lengths = list(rng.integers(1, steps + 1, batch))
    if case["packed"] == "sorted":
        lengths.sort(reverse=True)

    def fn():
        hx = None
        if case["initial"]:
            hx = (h0, c0) if case["mode"] == "LSTM" else h0
        inp = x
        if case["packed"]:
            inp = R.pack_padded_sequence(x, lengths, batch_first=case["batch_first"],
                                         enforce_sorted=case["packed"] == "sorted")
        out, hidden = module(inp, hx)
        if case["packed"]:
            out = R.pad_packed_sequence(out, batch_first=case["batch_first"])[0]
        return (out,) + (hidden if isinstance(hidden, tuple) else (hidden,))

    tensors = [x] + list(module.parameters())
    if case["initial"]:
        tensors += [h0, c0] if case["mode"] == "LSTM" else [h0]
    return fn, tensors


@given(module_cases())
@example(dict(mode="LSTM", layers=2, bidirectional=True, proj=2, batch_first=True, bias=True, initial=True,
              packed="unsorted", steps=4, batch=3))
@example(dict(mode="GRU", layers=2, bidirectional=True, proj=0, batch_first=False, bias=False, initial=True,
              packed="sorted", steps=3, batch=3))
def test_module_gradients_match_finite_differences(case):
    rng = np.random.default_rng(9)
    fn, tensors = _module_problem(case, rng)
    for _ in range(2):
        _directional_check(fn, tensors, rng)


@settings(max_examples=8)
@given(module_cases())
@example(dict(mode="LSTM", layers=2, bidirectional=True, proj=2, batch_first=False, bias=True, initial=True,
              packed="unsorted", steps=3, batch=3))
@example(dict(mode="GRU", layers=1, bidirectional=True, proj=0, batch_first=True, bias=True, initial=True,
              packed=None, steps=3, batch=2))
def test_module_hessian_vector_products_match_finite_differences(case):
    rng = np.random.default_rng(10)
    fn, tensors = _module_problem(case, rng)
    _directional_check(fn, tensors, rng, eps=1e-5, rtol=1e-4, atol=1e-6, order=2)


def test_small_module_full_gradcheck_and_gradgradcheck():
    lstm = nn.LSTM(2, 2, num_layers=2, bidirectional=True, proj_size=1).double()
    x = tg.randn(3, 2, 2, dtype=tg.float64, requires_grad=True)
    params = tuple(lstm.parameters())

    def fn(x, *ps):
        out, (h, c) = lstm(x)
        return out, h, c

    assert gradcheck(fn, (x,) + params)
    gru = nn.GRU(2, 2, bidirectional=True).double()
    seqs = R.pack_sequence([tg.randn(3, 2, dtype=tg.float64), tg.randn(1, 2, dtype=tg.float64)])
    data = seqs.data.detach().requires_grad_()

    def packed_fn(data, *ps):
        out, h = gru(R.PackedSequence(data, seqs.batch_sizes), None)
        return out.data, h

    assert gradgradcheck(packed_fn, (data,) + tuple(gru.parameters()))


# ---------------------------------------------------------------------- nn.utils.rnn
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=5), batch_first=st.booleans(),
       side=st.sampled_from(["right", "left"]), value=st.sampled_from([0.0, -1.5]),
       trailing=st.sampled_from([(), (2,)]))
def test_pad_sequence_places_each_sequence_and_pads(lengths, batch_first, side, value, trailing):
    rng = np.random.default_rng(11)
    seqs = [rng.standard_normal((n,) + trailing) for n in lengths]
    out = N(R.pad_sequence([tg.tensor(s) for s in seqs], batch_first=batch_first, padding_value=value,
                         padding_side=side))
    steps = max(lengths)
    expected = np.full((len(seqs), steps) + trailing, value)
    for j, s in enumerate(seqs):
        if side == "right":
            expected[j, :len(s)] = s
        else:
            expected[j, steps - len(s):] = s
    np.testing.assert_array_equal(out, expected if batch_first else expected.swapaxes(0, 1))


@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=5), batch_first=st.booleans(),
       total=st.integers(0, 2))
def test_pack_then_pad_is_the_identity_on_the_sequences(lengths, batch_first, total):
    rng = np.random.default_rng(12)
    seqs = [tg.tensor(rng.standard_normal((n, 2))) for n in lengths]
    padded = R.pad_sequence(seqs, batch_first=batch_first)
    packed = R.pack_padded_sequence(padded, lengths, batch_first=batch_first, enforce_sorted=False)
    order = np.argsort(-np.array(lengths), kind="stable")
    assert packed.sorted_indices.tolist() == order.tolist()
    assert packed.unsorted_indices.tolist() == np.argsort(order).tolist()
    assert packed.batch_sizes.tolist() == [sum(n > t for n in lengths) for t in range(max(lengths))]
    assert packed.batch_sizes.dtype == tg.int64 and packed.data.shape == (sum(lengths), 2)
    again, out_lengths = R.pad_packed_sequence(packed, batch_first=batch_first, total_length=max(lengths) + total)
    assert out_lengths.tolist() == lengths and out_lengths.dtype == tg.int64
    trimmed = again[:, :max(lengths)] if batch_first else again[:max(lengths)]
    np.testing.assert_array_equal(N(trimmed), N(padded))
    assert (N(again)[(slice(None), slice(max(lengths), None)) if batch_first else slice(max(lengths), None)]
            == 0).all()
    for a, b in zip(R.unpack_sequence(packed), seqs, strict=True):
        np.testing.assert_array_equal(N(a), N(b))
    for a, b in zip(R.unpad_sequence(padded, tg.tensor(lengths), batch_first=batch_first), seqs, strict=True):
        np.testing.assert_array_equal(N(a), N(b))
    assert padded.shape[0 if batch_first else 1] == len(lengths)  # unpad_sequence left its input alone


def test_packing_and_padding_are_differentiable():
    seqs = [tg.randn(3, 2, dtype=tg.float64, requires_grad=True), tg.randn(1, 2, dtype=tg.float64, requires_grad=True),
            tg.randn(2, 2, dtype=tg.float64, requires_grad=True)]

    def fn(a, b, c):
        packed = R.pack_sequence([a, b, c], enforce_sorted=False)
        return packed.data, R.pad_packed_sequence(packed, padding_value=2.0, total_length=4)[0]

    assert gradcheck(fn, tuple(seqs))
    assert gradcheck(lambda a, b, c: R.pad_sequence([a, b, c], padding_side="left"), tuple(seqs))


def test_packed_sequence_is_pytorchs_named_tuple():
    packed = R.pack_sequence([tg.tensor([1, 2, 3]), tg.tensor([4, 5]), tg.tensor([6])])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert data.tolist() == [1, 4, 6, 2, 5, 3] and batch_sizes.tolist() == [3, 2, 1]
    assert sorted_indices is None and unsorted_indices is None
    assert repr(packed) == ("PackedSequence(data=tensor([1, 4, 6, 2, 5, 3]), batch_sizes=tensor([3, 2, 1]), "
                            "sorted_indices=None, unsorted_indices=None)")
    as_float = packed.float()
    assert as_float.data.dtype == tg.float32 and as_float.batch_sizes is packed.batch_sizes
    assert packed.long() is packed and packed.to(tg.int64) is packed
    assert packed.double().data.dtype == tg.float64 and packed.to(tg.float64).data.dtype == tg.float64
    assert not packed.is_cuda and not packed.is_pinned() and packed.cpu() is packed
    with pytest.raises(RuntimeError, match="CPU only"):
        packed.cuda()
    made = R.PackedSequence(tg.ones(3), tg.tensor([2, 1]), tg.tensor([1, 0]))
    assert made.unsorted_indices.tolist() == [1, 0]
    pair = R.PackedSequence((tg.ones(3), tg.tensor([2, 1])))
    assert pair.batch_sizes.tolist() == [2, 1] and pair.sorted_indices is None
    assert R.invert_permutation(tg.tensor([2, 0, 1])).tolist() == [1, 2, 0] and R.invert_permutation(None) is None


def test_rnn_utils_errors():
    x = tg.arange(12.0).reshape(4, 3)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order"):
        R.pack_padded_sequence(x, [3, 4, 2])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 "
                                           r"\(batch_size=3\)"):
        R.pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        R.pack_padded_sequence(x, [3, 0, 0])
    with pytest.raises(RuntimeError, match="longest length 5 exceeds the input's 4 time steps"):
        R.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(RuntimeError, match="'lengths' argument should be a 1D CPU int64 tensor"):
        R.pack_padded_sequence(x, tg.tensor([[3, 2, 2]]))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        R.pack_padded_sequence(tg.arange(3.0), [2, 1, 1])
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        R.pad_sequence([])
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right, but got middle."):
        R.pad_sequence([tg.ones(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match="Expected iterable for input sequences"):
        R.pad_sequence(5)
    with pytest.raises(RuntimeError, match="trailing shape"):
        R.pad_sequence([tg.ones(2, 3), tg.ones(3, 2)])
    with pytest.raises(RuntimeError, match="at least 1 dimension"):
        R.pad_sequence([tg.tensor(1.0)])
    packed = R.pack_sequence([tg.tensor([1, 2, 3]), tg.tensor([4])])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest sequence"):
        R.pad_packed_sequence(packed, total_length=2)
    assert R.pad_sequence([tg.ones(2), tg.ones(3, dtype=tg.float64)]).dtype == tg.float32  # the first's dtype


def test_doctests():
    for module in (rnn_ops, nn.rnn, R):
        assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0, module.__name__


# ---------------------------------------------------------------------- PyTorch
def _torch_pair(torch, case):
    mode = case["mode"]
    kwargs = dict(num_layers=case["layers"], bidirectional=case["bidirectional"], batch_first=case["batch_first"],
                  bias=case["bias"])
    if case["proj"]:
        kwargs["proj_size"] = case["proj"]
    if mode.startswith("RNN"):
        kwargs["nonlinearity"] = "relu" if mode == "RNN_RELU" else "tanh"
    name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
    return getattr(nn, name)(3, 5, **kwargs).double(), getattr(torch.nn, name)(3, 5, **kwargs).double()


@st.composite
def torch_cases(draw):
    case = draw(module_cases())
    case["direction"] = draw(st.sampled_from(["torch->tapegrad", "tapegrad->torch"]))
    return case


@given(torch_cases())
@example(dict(mode="LSTM", layers=2, bidirectional=True, proj=2, batch_first=True, bias=True, initial=True,
              packed="unsorted", steps=4, batch=3, direction="torch->tapegrad"))
@example(dict(mode="GRU", layers=2, bidirectional=True, proj=0, batch_first=False, bias=True, initial=False,
              packed="sorted", steps=4, batch=3, direction="tapegrad->torch"))
@example(dict(mode="RNN_RELU", layers=2, bidirectional=False, proj=0, batch_first=False, bias=False, initial=True,
              packed=None, steps=3, batch=2, direction="tapegrad->torch"))
def test_modules_give_pytorchs_numbers_with_the_same_state_dict(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _torch_pair(torch, case)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if case["direction"] == "torch->tapegrad":
        ours.load_state_dict({k: tg.tensor(N(v)) for k, v in theirs.state_dict().items()})
    else:
        theirs.load_state_dict({k: torch.from_numpy(N(v).copy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(13)
    steps, batch = case["steps"] + 1, case["batch"]
    x = rng.standard_normal((batch, steps, 3) if case["batch_first"] else (steps, batch, 3))
    directions = 2 if case["bidirectional"] else 1
    h0 = rng.standard_normal((case["layers"] * directions, batch, case["proj"] or 5))
    c0 = rng.standard_normal((case["layers"] * directions, batch, 5))
    lengths = list(rng.integers(1, steps + 1, batch))
    if case["packed"] == "sorted":
        lengths.sort(reverse=True)

    def run(lib, module, utils):
        xs = lib.tensor(x, requires_grad=True)
        states = [lib.tensor(h0, requires_grad=True), lib.tensor(c0, requires_grad=True)]
        hx = None
        if case["initial"]:
            hx = tuple(states) if case["mode"] == "LSTM" else states[0]
        inp = xs
        if case["packed"]:
            inp = utils.pack_padded_sequence(xs, lengths, batch_first=case["batch_first"],
                                             enforce_sorted=case["packed"] == "sorted")
        out, hidden = module(inp, hx)
        if case["packed"]:
            out = utils.pad_packed_sequence(out, batch_first=case["batch_first"])[0]
        outs = (out,) + (hidden if isinstance(hidden, tuple) else (hidden,))
        loss = sum((o * lib.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)))).sum() for o in outs)
        loss.backward()
        grads = [xs.grad] + [p.grad for p in module.parameters()]
        if case["initial"]:
            grads += [s.grad for s in states[:2 if case["mode"] == "LSTM" else 1]]
        return [N(o) for o in outs], [N(g) for g in grads]

    ours_out, ours_grads = run(tg, ours, R)
    theirs_out, theirs_grads = run(torch, theirs, torch.nn.utils.rnn)
    for a, b in zip(ours_out, theirs_out, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(ours_grads, theirs_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cells_give_pytorchs_numbers(name):
    torch = pytest.importorskip("torch")
    make, mode = CELLS[name]
    ours = make(3, 4).double()
    theirs = {"LSTM": torch.nn.LSTMCell(3, 4), "GRU": torch.nn.GRUCell(3, 4), "RNN_TANH": torch.nn.RNNCell(3, 4),
              "RNN_RELU": torch.nn.RNNCell(3, 4, nonlinearity="relu")}[mode].double()
    theirs.load_state_dict({k: torch.from_numpy(N(v).copy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(14)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    results = []
    for lib, module in ((tg, ours), (torch, theirs)):
        xs, hs, cs = (lib.tensor(a, requires_grad=True) for a in (x, h, c))
        out = module(xs, (hs, cs) if mode == "LSTM" else hs)
        outs = out if isinstance(out, tuple) else (out,)
        sum((o * (k + 1.5)).sum() for k, o in enumerate(outs)).backward()
        results.append([N(o) for o in outs] + [N(xs.grad), N(hs.grad)]
                       + [N(p.grad) for p in module.parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_rnn_utils_give_pytorchs_results():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as TR

    rng = np.random.default_rng(15)
    lengths = [2, 5, 1, 5, 3]
    arrays = [rng.standard_normal((n, 2)) for n in lengths]
    for side, batch_first in itertools.product(("left", "right"), (False, True)):
        a = R.pad_sequence([tg.tensor(s) for s in arrays], batch_first, -2.0, side)
        b = TR.pad_sequence([torch.tensor(s) for s in arrays], batch_first, -2.0, side)
        np.testing.assert_array_equal(N(a), N(b))
    for enforce_sorted, batch_first in itertools.product((False, True), (False, True)):
        lens = sorted(lengths, reverse=True) if enforce_sorted else lengths
        seqs = [rng.standard_normal((n, 2)) for n in lens]
        ours = R.pack_sequence([tg.tensor(s) for s in seqs], enforce_sorted=enforce_sorted)
        theirs = TR.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=enforce_sorted)
        for p, q in zip(ours, theirs, strict=True):
            if q is None:
                assert p is None
            else:
                np.testing.assert_array_equal(N(p), N(q))
        for p, q in zip(R.pad_packed_sequence(ours, batch_first, 0.5, 7), TR.pad_packed_sequence(theirs, batch_first,
                                                                                                    0.5, 7)):
            np.testing.assert_array_equal(N(p), N(q))
        for p, q in zip(R.unpack_sequence(ours), TR.unpack_sequence(theirs), strict=True):
            np.testing.assert_array_equal(N(p), N(q))
