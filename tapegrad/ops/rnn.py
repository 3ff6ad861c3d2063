"""Recurrent layers as fused ops: a whole layer (every time step of one direction) is one node of the tape.

``recurrent_layer`` runs the Elman RNN (tanh or relu), LSTM (with an optional projection) or GRU recurrence of
PyTorch's ``nn.RNN``/``nn.LSTM``/``nn.GRU`` over a sequence, for one layer and one direction:

- the input-to-hidden products of all time steps are ONE matrix product ``x @ w_ih.T`` before the loop;
- each step's gates are one matrix product of the previous hidden state with the stacked ``w_hh`` (PyTorch's
  gate order: i, f, g, o for the LSTM; r, z, n for the GRU), then the cell update, in place, in numpy;
- the result is one flat array holding, for every step, the hidden state and what the step computed on the
  way (the LSTM's cell state and gate activations, the GRU's gates and ``W_hn h + b_hn``): the outputs are
  views of it, and the gradient rule reads the activations from it instead of recomputing them.

The gradient rule is back-propagation through time written once with ``xp`` (``_lstm_rule``, ``_gru_rule``,
``_rnn_rule``): on arrays it is the fused first-order backward (per step a few elementwise operations and one
``(b, G) @ (G, H)`` product; the weight and input gradients are ONE matrix product each, over all steps, after
the loop); with ``create_graph=True`` the same code runs on tensors, so gradients of every order are exact.
Reading the activations from the output (``out``) keeps that exact too: ``out`` is a differentiable function
of the inputs (its own node), as ``g * out`` is in exp's rule, so the rule is the VJP of everything the layer
outputs, activations included.

Rows are time-major: step ``t`` owns rows ``offsets[t] : offsets[t] + batch_sizes[t]`` of every block, which is
PyTorch's layout of a ``PackedSequence``'s data; a padded (T, B, *) input is the case where every batch size
is B. Sequences of a packed batch are sorted by decreasing length, so at step t the first ``batch_sizes[t]``
rows are the sequences still running; a sequence's last state stays in the rows of its last step, so padded
steps never reach its final state (``h_n``). The reverse direction walks the steps backwards, and a sequence
starts (from its initial state) at its own last element.

The cells (``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``: ``torch.lstm_cell`` & co.) are
the same op over one step.
"""

from __future__ import annotations

import numpy as np

from ..autograd.declare import Tensor, expected_tensor, op, record

__all__ = ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]

# PyTorch computes a whole LSTM layer on the CPU as one node of this name (oneDNN's RNN layer, which has the
# RNN and GRU modes too); tapegrad's layer op is the same unit of work, so it carries the name.
NODE_NAME = "MkldnnRnnLayerBackward0"

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


# ---------------------------------------------------------------------- the schedule of a layer
def schedule(batch_sizes, reverse):
    """The steps of a layer in the order they run: ``(row, b, prev_row, prev_b)`` per step.

    ``row`` is the first row of the step in the time-major blocks and ``b`` its batch size; ``prev_row`` and
    ``prev_b`` are the rows of the step run just before (``prev_b`` 0 for the first step). A step's previous
    state is the first ``b`` rows of the previous step's state, topped up from the initial state when it runs
    more sequences than the previous step did (the reverse direction of a packed batch).
    """
    sizes = [int(b) for b in batch_sizes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    order = range(len(sizes) - 1, -1, -1) if reverse else range(len(sizes))
    steps = []
    prev_row = prev_b = 0
    for t in order:
        steps.append((offsets[t], sizes[t], prev_row, prev_b))
        prev_row, prev_b = offsets[t], sizes[t]
    return tuple(steps)


def block_sizes(mode, hidden, proj=0):
    """The widths of the blocks of a layer's output, per row: the hidden state first, then what the rule
    reads (LSTM: cell state, gates i f g o; GRU: gates r z n, and W_hn h + b_hn; RNN: nothing more)."""
    out = proj or hidden
    if mode == "LSTM":
        return (out, hidden, 4 * hidden)
    if mode == "GRU":
        return (hidden, 3 * hidden, hidden)
    return (hidden,)


def _blocks(y, rows, widths):
    """Views (rows, width) of the flat array ``y`` (or a tensor: the rule reads blocks of ``out`` and ``g``)."""
    views, start = [], 0
    for w in widths:
        views.append(y[start:start + rows * w].reshape((rows, w)))
        start += rows * w
    return views


def _previous(block, initial, row, b, prev_row, prev_b, xp=np):
    """The state a step starts from: the first b rows of the previous step's, topped up from ``initial``."""
    if prev_b >= b:
        return block[prev_row:prev_row + b]
    if prev_b == 0:
        return initial[:b]
    return xp.concatenate([block[prev_row:prev_row + prev_b], initial[prev_b:b]], axis=0)


def _add_rows(xp, full, part):
    """``full`` with ``part`` added to its first rows (``part`` may have fewer rows)."""
    if part is None:
        return full
    n = part.shape[0]
    if n == full.shape[0]:
        return full + part
    if n == 0:
        return full
    return xp.concatenate([full[:n] + part, full[n:]], axis=0)


def _route(dprev, b, prev_b, initial_parts):
    """Send the gradient of a step's previous state back: its first rows to the previous step (returned),
    the rows that came from the initial state to ``initial_parts`` (keyed by their first row)."""
    if prev_b >= b:
        return dprev
    if prev_b == 0:
        initial_parts[0] = dprev
        return None
    initial_parts[prev_b] = dprev[prev_b:]
    return dprev[:prev_b]


def _join(xp, parts):
    """The per-step pieces, keyed by their first row, joined in row order."""
    pieces = [parts[k] for k in sorted(parts)]
    return pieces[0] if len(pieces) == 1 else xp.concatenate(pieces, axis=0)


# ---------------------------------------------------------------------- forward passes (numpy, in place)
def _sigmoid_(a):
    """sigmoid in place: 1 / (1 + exp(-a)). NOTE: exp overflows to inf for a < -88 (float32), and
    1 / (1 + inf) = 0 is the right limit; the caller silences the overflow warning."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


def _lstm_forward(x, h0, c0, w_ih, w_hh, bias, w_hr, steps, n):
    hidden = w_hh.shape[0] // 4
    out_size = w_hh.shape[1]
    xg = x @ w_ih.T  # every time step's input-to-hidden product at once
    if bias is not None:
        xg += bias
    y = np.empty(n * (out_size + 5 * hidden), x.dtype)
    hb, cb, ab = _blocks(y, n, block_sizes("LSTM", hidden, out_size if w_hr is not None else 0))
    wt = w_hh.T
    m = np.empty((n, hidden), x.dtype) if w_hr is not None else None
    H, H2, H3 = hidden, 2 * hidden, 3 * hidden
    for row, b, prev_row, prev_b in steps:
        end = row + b
        hp = _previous(hb, h0, row, b, prev_row, prev_b)
        cp = _previous(cb, c0, row, b, prev_row, prev_b)
        a = ab[row:end]
        np.matmul(hp, wt, out=a)
        a += xg[row:end]
        z = np.tanh(a[:, H2:H3])
        _sigmoid_(a)
        a[:, H2:H3] = z
        c = cb[row:end]
        np.multiply(a[:, H:H2], cp, out=c)
        z *= a[:, :H]
        c += z
        k = np.tanh(c)
        if w_hr is None:
            np.multiply(a[:, H3:], k, out=hb[row:end])
        else:
            np.multiply(a[:, H3:], k, out=m[row:end])
            np.matmul(m[row:end], w_hr.T, out=hb[row:end])
    return y


def _gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, steps, n):
    hidden = w_hh.shape[1]
    xg = x @ w_ih.T
    if b_ih is not None:
        xg += b_ih
    y = np.empty(n * 5 * hidden, x.dtype)
    hb, gb, hnb = _blocks(y, n, block_sizes("GRU", hidden))
    wt = w_hh.T
    H, H2 = hidden, 2 * hidden
    hg = np.empty((max((b for _, b, _, _ in steps), default=0), 3 * hidden), x.dtype)
    for row, b, prev_row, prev_b in steps:
        end = row + b
        hp = _previous(hb, h0, row, b, prev_row, prev_b)
        g = hg[:b]
        np.matmul(hp, wt, out=g)
        if b_hh is not None:
            g += b_hh
        gates = gb[row:end]
        rz = gates[:, :H2]
        np.add(xg[row:end, :H2], g[:, :H2], out=rz)
        _sigmoid_(rz)
        hn = hnb[row:end]
        hn[...] = g[:, H2:]
        n_gate = gates[:, H2:]
        np.multiply(gates[:, :H], hn, out=n_gate)
        n_gate += xg[row:end, H2:]
        np.tanh(n_gate, out=n_gate)
        h = hb[row:end]
        np.subtract(hp, n_gate, out=h)  # h' = n + z * (h - n)
        h *= gates[:, H:H2]
        h += n_gate
    return y


def _rnn_forward(x, h0, w_ih, w_hh, bias, steps, n, relu):
    hidden = w_hh.shape[1]
    y = x @ w_ih.T
    if bias is not None:
        y += bias
    y = y.reshape(-1)
    (hb,) = _blocks(y, n, (hidden,))
    wt = w_hh.T
    for row, b, prev_row, prev_b in steps:
        end = row + b
        hp = _previous(hb, h0, row, b, prev_row, prev_b)
        h = hb[row:end]  # holds this step's input product: add the recurrent one and activate, in place
        h += hp @ wt
        if relu:
            np.maximum(h, 0, out=h)
        else:
            np.tanh(h, out=h)
    return y


# ---------------------------------------------------------------------- gradient rules (any xp)
def _weights_grads(xp, need, slots, x, da, w_ih, hprev, dhg, das_bias):
    """The gradients that are one product over all steps: input, w_ih, w_hh, biases."""
    grads = dict.fromkeys(slots)
    if need[slots["x"]]:
        grads["x"] = da @ w_ih
    if need[slots["w_ih"]]:
        grads["w_ih"] = da.mT @ x
    if need[slots["w_hh"]]:
        grads["w_hh"] = dhg.mT @ hprev
    if "b_ih" in slots and need[slots["b_ih"]]:
        grads["b_ih"] = da.sum(axis=0)
    if "b_hh" in slots and need[slots["b_hh"]]:
        grads["b_hh"] = das_bias.sum(axis=0)
    return grads


def _result(slots, grads):
    out = [None] * len(slots)
    for name, k in slots.items():
        out[k] = grads.get(name)
    return tuple(out)


def _lstm_rule_for(steps, n, hidden, out_size, proj, slots):
    widths = block_sizes("LSTM", hidden, out_size if proj else 0)
    H, H2, H3 = hidden, 2 * hidden, 3 * hidden

    def rule(xp, need, g, out, *inputs):
        x, h0, c0, w_ih, w_hh = (inputs[slots[k]] for k in ("x", "h0", "c0", "w_ih", "w_hh"))
        w_hr = inputs[slots["w_hr"]] if proj else None
        hb, cb, ab = _blocks(out, n, widths)
        gh, gc, ga = _blocks(g, n, widths)
        das, hps, dhs, ms = {}, {}, {}, {}
        dh0, dc0 = {}, {}
        dh_next = dc_next = None
        for row, b, prev_row, prev_b in reversed(steps):
            end = row + b
            a = ab[row:end]
            i, f, z, o = a[:, :H], a[:, H:H2], a[:, H2:H3], a[:, H3:]
            k = xp.tanh(cb[row:end])
            hp = _previous(hb, h0, row, b, prev_row, prev_b, xp)
            cp = _previous(cb, c0, row, b, prev_row, prev_b, xp)
            dh = _add_rows(xp, gh[row:end], dh_next)
            if proj:
                m = o * k
                dhs[row], ms[row] = dh, m
                dm = dh @ w_hr
            else:
                dm = dh
            dc = _add_rows(xp, gc[row:end], dc_next) + dm * o * (1 - k * k)
            gak = ga[row:end]
            da = xp.concatenate([(dc * z + gak[:, :H]) * i * (1 - i),
                                 (dc * cp + gak[:, H:H2]) * f * (1 - f),
                                 (dc * i + gak[:, H2:H3]) * (1 - z * z),
                                 (dm * k + gak[:, H3:]) * o * (1 - o)], axis=1)
            das[row], hps[row] = da, hp
            dh_next = _route(da @ w_hh, b, prev_b, dh0)
            dc_next = _route(dc * f, b, prev_b, dc0)
        da = _join(xp, das)
        grads = _weights_grads(xp, need, slots, x, da, w_ih, _join(xp, hps), da, da)
        if need[slots["h0"]]:
            grads["h0"] = _join(xp, dh0)
        if need[slots["c0"]]:
            grads["c0"] = _join(xp, dc0)
        if proj and need[slots["w_hr"]]:
            grads["w_hr"] = _join(xp, dhs).mT @ _join(xp, ms)
        return _result(slots, grads)

    return rule


def _gru_rule_for(steps, n, hidden, slots):
    widths = block_sizes("GRU", hidden)
    H, H2 = hidden, 2 * hidden

    def rule(xp, need, g, out, *inputs):
        x, h0, w_ih, w_hh = (inputs[slots[k]] for k in ("x", "h0", "w_ih", "w_hh"))
        hb, gb, hnb = _blocks(out, n, widths)
        gh, gg, ghn = _blocks(g, n, widths)
        dxs, dhgs, hps, dh0 = {}, {}, {}, {}
        dh_next = None
        # A first-order backward on arrays where nothing reads the saved activations (their gradient is zero,
        # the usual case): the same formulas without those terms, written into two arrays for all steps.
        plain = isinstance(g, np.ndarray) and not g[n * H:].any()
        if plain:
            dx_all, dhg_all = np.empty((n, 3 * H), g.dtype), np.empty((n, 3 * H), g.dtype)
        for row, b, prev_row, prev_b in reversed(steps):
            end = row + b
            gates = gb[row:end]
            r, z, n_gate = gates[:, :H], gates[:, H:H2], gates[:, H2:]
            hn = hnb[row:end]
            hp = _previous(hb, h0, row, b, prev_row, prev_b, xp)
            dh = _add_rows(xp, gh[row:end], dh_next)
            if plain:
                da, dhg = dx_all[row:end], dhg_all[row:end]
                dar, daz, dan = da[:, :H], da[:, H:H2], da[:, H2:]
                np.multiply(dh, 1 - z, out=dan)
                dan *= 1 - n_gate * n_gate
                np.multiply(dan, hn, out=dar)
                dar *= r * (1 - r)
                np.subtract(hp, n_gate, out=daz)
                daz *= dh
                daz *= z * (1 - z)
                dhg[:, :H2] = da[:, :H2]
                np.multiply(dan, r, out=dhg[:, H2:])
                hps[row] = hp
                dh_next = _route(dh * z + dhg @ w_hh, b, prev_b, dh0)
                continue
            ggk = gg[row:end]
            dan = (dh * (1 - z) + ggk[:, H2:]) * (1 - n_gate * n_gate)
            dar = (dan * hn + ggk[:, :H]) * r * (1 - r)
            daz = (dh * (hp - n_gate) + ggk[:, H:H2]) * z * (1 - z)
            dhg = xp.concatenate([dar, daz, dan * r + ghn[row:end]], axis=1)
            dxs[row] = xp.concatenate([dar, daz, dan], axis=1)
            dhgs[row], hps[row] = dhg, hp
            dh_next = _route(dh * z + dhg @ w_hh, b, prev_b, dh0)
        dhg = dhg_all if plain else _join(xp, dhgs)
        dx = dx_all if plain else _join(xp, dxs)
        grads = _weights_grads(xp, need, slots, x, dx, w_ih, _join(xp, hps), dhg, dhg)
        if need[slots["h0"]]:
            grads["h0"] = _join(xp, dh0)
        return _result(slots, grads)

    return rule


def _rnn_rule_for(steps, n, hidden, slots, relu):
    def rule(xp, need, g, out, *inputs):
        x, h0, w_ih, w_hh = (inputs[slots[k]] for k in ("x", "h0", "w_ih", "w_hh"))
        (hb,) = _blocks(out, n, (hidden,))
        (gh,) = _blocks(g, n, (hidden,))
        das, hps, dh0 = {}, {}, {}
        dh_next = None
        for row, b, prev_row, prev_b in reversed(steps):
            end = row + b
            h = hb[row:end]
            dh = _add_rows(xp, gh[row:end], dh_next)
            da = xp.where(h > 0, dh, 0) if relu else dh * (1 - h * h)  # NOTE: relu's gradient at 0 is 0
            das[row], hps[row] = da, _previous(hb, h0, row, b, prev_row, prev_b, xp)
            dh_next = _route(da @ w_hh, b, prev_b, dh0)
        da = _join(xp, das)
        grads = _weights_grads(xp, need, slots, x, da, w_ih, _join(xp, hps), da, da)
        if need[slots["h0"]]:
            grads["h0"] = _join(xp, dh0)
        return _result(slots, grads)

    return rule


# ---------------------------------------------------------------------- the layer op
def recurrent_layer(mode: str, input: Tensor, hx: Tensor, cx: Tensor | None, w_ih: Tensor, w_hh: Tensor,
                    b_ih: Tensor | None = None, b_hh: Tensor | None = None, w_hr: Tensor | None = None,
                    batch_sizes=None, reverse: bool = False) -> Tensor:
    """One direction of one recurrent layer over a whole sequence, as one node.

    ``input`` is (N, input_size), time-major rows (``batch_sizes``: rows per step; None: one step of N rows),
    ``hx`` (and the LSTM's ``cx``) the initial state (batch_sizes[0] rows, or the largest batch size).
    Returns the flat array of the blocks named by ``block_sizes`` (read them with ``layer_blocks``).
    """
    for name, t in (("input", input), ("hx", hx), ("w_ih", w_ih), ("w_hh", w_hh)):
        if not isinstance(t, Tensor):
            raise expected_tensor(f"{mode.lower()}: {name}", t)
    x = input._data
    n = x.shape[0]
    if batch_sizes is None:
        batch_sizes = (n,)
    steps = schedule(batch_sizes, reverse)
    names = ["x", "h0"] + (["c0"] if mode == "LSTM" else []) + ["w_ih", "w_hh"]
    inputs: list[Tensor] = [input, hx] + ([cx] if cx is not None else []) + [w_ih, w_hh]
    if b_ih is not None and b_hh is not None:
        names += ["b_ih", "b_hh"]
        inputs += [b_ih, b_hh]
    if w_hr is not None:
        names.append("w_hr")
        inputs.append(w_hr)
    slots = {name: k for k, name in enumerate(names)}
    dtype = x.dtype
    for name, t in zip(names, inputs):
        if t._data.dtype != dtype:
            raise RuntimeError(f"{mode.lower()}: {name} has dtype {t._data.dtype} but the input has dtype {dtype}; "
                               "cast with .float() or .double()")
    hidden = w_hh._data.shape[1] if mode != "LSTM" else w_hh._data.shape[0] // 4
    bias = None if b_ih is None or b_hh is None else b_ih._data + b_hh._data
    if (mode == "LSTM") != (cx is not None):
        raise RuntimeError(f"{mode.lower()}: the LSTM, and only the LSTM, takes a cell state")
    with np.errstate(over="ignore"):
        if mode == "LSTM" and cx is not None:
            out_size = w_hh._data.shape[1]
            y = _lstm_forward(x, hx._data, cx._data, w_ih._data, w_hh._data, bias,
                              None if w_hr is None else w_hr._data, steps, n)
            rule = _lstm_rule_for(steps, n, hidden, out_size, w_hr is not None, slots)
        elif mode == "GRU":
            y = _gru_forward(x, hx._data, w_ih._data, w_hh._data, None if b_ih is None else b_ih._data,
                             None if b_hh is None else b_hh._data, steps, n)
            rule = _gru_rule_for(steps, n, hidden, slots)
        else:
            relu = mode == "RNN_RELU"
            y = _rnn_forward(x, hx._data, w_ih._data, w_hh._data, bias, steps, n, relu)
            rule = _rnn_rule_for(steps, n, hidden, slots, relu)
    return record(y, tuple(inputs), rule, NODE_NAME)


def own_tensor(block: Tensor, shape: tuple, name: str) -> Tensor:
    """A block of the layer's result as a tensor of its own of ``shape``, not a view of the flat result: PyTorch's
    outputs are its kernels' own tensors, so their nodes are PyTorch's (``name``) and an in-place op on one writes
    it alone."""
    in_shape = tuple(block.shape)

    def rule(xp, g, out, x):
        return g.reshape(in_shape)

    return record(block._data.reshape(shape).copy(), (block,), rule, name)


def layer_blocks(y: Tensor, mode: str, n: int, hidden: int, proj: int = 0) -> list:
    """The blocks of ``recurrent_layer``'s result as (n, width) tensors: [h, c] for the LSTM, [h] otherwise."""
    widths = block_sizes(mode, hidden, proj)
    keep = 2 if mode == "LSTM" else 1
    views, start = [], 0
    for w in widths[:keep]:
        views.append(y[start:start + n * w].view(n, w))
        start += n * w
    return views


# ---------------------------------------------------------------------- cells (torch.lstm_cell & co.)
def _check_cell(op_name, input, hx, w_ih, w_hh, gates):
    for name, t in (("input", input), ("hx", hx), ("w_ih", w_ih), ("w_hh", w_hh)):
        if not isinstance(t, Tensor):
            raise expected_tensor(f"{op_name}: {name}", t)
    if input.ndim != 2:
        raise RuntimeError(f"{op_name}: expected a 2-D input (batch, input_size), got shape {tuple(input.shape)}")
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {w_ih.shape[1]}")
    if hx.ndim != 2 or hx.shape[0] != input.shape[0]:
        raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden0 batch size "
                           f"{hx.shape[0] if hx.ndim else 1}")
    if hx.shape[1] != w_hh.shape[1]:
        raise RuntimeError(f"hidden0 has inconsistent hidden_size: got {hx.shape[1]}, expected {w_hh.shape[1]}")
    if w_hh.shape[0] != gates * w_hh.shape[1] or w_ih.shape[0] != w_hh.shape[0]:
        raise RuntimeError(f"{op_name}: expected w_ih ({gates} * hidden_size, input_size) and w_hh "
                           f"({gates} * hidden_size, hidden_size), got {tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    if input.dtype != w_ih.dtype:
        raise RuntimeError(f"{op_name}: input dtype {input.dtype} and weight dtype {w_ih.dtype} must be the same")


@op(methods=(), xp_name=False)
def lstm_cell(input: Tensor, hx, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> (h', c'): one LSTM step (``torch.lstm_cell``).

    ``input`` is (batch, input_size), ``hx`` the pair (h, c) of (batch, hidden_size) tensors, ``w_ih``
    (4 * hidden_size, input_size) and ``w_hh`` (4 * hidden_size, hidden_size) with the gates in PyTorch's order
    i, f, g, o. One node of the tape.

    >>> import tapegrad as tg
    >>> h, c = tg.lstm_cell(tg.ones(2, 3), (tg.zeros(2, 4), tg.zeros(2, 4)), tg.zeros(16, 3), tg.zeros(16, 4))
    >>> h
    tensor([[0., 0., 0., 0.],
            [0., 0., 0., 0.]])
    """
    h, c = hx
    _check_cell("lstm_cell", input, h, w_ih, w_hh, 4)
    if not isinstance(c, Tensor) or tuple(c.shape) != tuple(h.shape):
        raise RuntimeError(f"lstm_cell: the cell state must have the hidden state's shape {tuple(h.shape)}, got "
                           f"{tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__}")
    b_ih, b_hh = _cell_biases(b_ih, b_hh)
    y = recurrent_layer("LSTM", input, h, c, w_ih, w_hh, b_ih, b_hh)
    hidden = w_hh.shape[1]
    h1, c1 = layer_blocks(y, "LSTM", input.shape[0], hidden)
    # PyTorch's cell ends in hy = o * tanh(cy) and cy = f * cx + i * g
    return own_tensor(h1, tuple(h1.shape), "MulBackward0"), own_tensor(c1, tuple(c1.shape), "AddBackward0")


def _cell_biases(b_ih, b_hh):
    if (b_ih is None) != (b_hh is None):  # PyTorch treats a missing one as zeros
        like = b_hh if b_ih is None else b_ih
        zero = like.detach() * 0
        return (zero, b_hh) if b_ih is None else (b_ih, zero)
    return b_ih, b_hh


_CELL_NODES = {"GRU": "AddBackward0", "RNN_TANH": "TanhBackward0", "RNN_RELU": "ReluBackward0"}  # PyTorch's last op


def _one_state_cell(mode, op_name, gates, input, hx, w_ih, w_hh, b_ih, b_hh):
    _check_cell(op_name, input, hx, w_ih, w_hh, gates)
    b_ih, b_hh = _cell_biases(b_ih, b_hh)
    y = recurrent_layer(mode, input, hx, None, w_ih, w_hh, b_ih, b_hh)
    h = layer_blocks(y, mode, input.shape[0], w_hh.shape[1])[0]
    return own_tensor(h, tuple(h.shape), _CELL_NODES[mode])


@op(methods=(), xp_name=False)
def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> h': one GRU step (``torch.gru_cell``).

    Gates in PyTorch's order r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` and
    ``h' = (1 - z) * n + z * h``. One node of the tape.

    >>> import tapegrad as tg
    >>> tg.gru_cell(tg.ones(1, 2), tg.ones(1, 3), tg.zeros(9, 2), tg.zeros(9, 3))
    tensor([[0.5000, 0.5000, 0.5000]])
    """
    return _one_state_cell("GRU", "gru_cell", 3, input, hx, w_ih, w_hh, b_ih, b_hh)


@op(methods=(), xp_name=False)
def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).

    >>> import tapegrad as tg
    >>> tg.rnn_tanh_cell(tg.ones(1, 2), tg.zeros(1, 3), tg.zeros(3, 2), tg.zeros(3, 3))
    tensor([[0., 0., 0.]])
    """
    return _one_state_cell("RNN_TANH", "rnn_tanh_cell", 1, input, hx, w_ih, w_hh, b_ih, b_hh)


@op(methods=(), xp_name=False)
def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> relu(x W_ih^T + b_ih + h W_hh^T + b_hh).

    >>> import tapegrad as tg
    >>> tg.rnn_relu_cell(tg.ones(1, 2), tg.zeros(1, 3), tg.ones(3, 2), tg.zeros(3, 3))
    tensor([[2., 2., 2.]])
    """
    return _one_state_cell("RNN_RELU", "rnn_relu_cell", 1, input, hx, w_ih, w_hh, b_ih, b_hh)
