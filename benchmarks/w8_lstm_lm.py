"""W8, a recurrent language model: the training step of PyTorch's word_language_model at its usual size.

Embedding (10,000, 256) -> 2-layer LSTM (256 hidden) over 35 steps of a batch of 20 -> Linear(256, 10,000) ->
cross-entropy over 700 tokens; SGD (lr 1). Random int64 tokens with a fixed seed; the hidden state starts at
zero every step (dropout 0, so that the three implementations can be compared number for number). Parameters
start as the example's: embedding and decoder U(-0.1, 0.1) (decoder bias 0), the LSTM PyTorch's
U(-1/16, 1/16).

The numpy reference is back-propagation through time written by hand: the input products of all steps as one
matrix product, one (20, 256) @ (256, 1024) product per step, and the weight gradients as one product each.
"""

import numpy as np
from harness import reference_note
from training import Problem, run_training, softmax_cross_entropy

NAME = "W8"
TITLE = "LSTM language model step, 2 x 256, sequence 35, batch 20, vocabulary 10,000"


def problem(vocab=10000, emsize=256, hidden=256, layers=2, steps=35, batch=20, n_batches=4, seed=0):
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(hidden)
    params = [rng.uniform(-0.1, 0.1, (vocab, emsize)).astype(np.float32)]
    for layer in range(layers):
        size = emsize if layer == 0 else hidden
        params += [rng.uniform(-bound, bound, shape).astype(np.float32)
                   for shape in ((4 * hidden, size), (4 * hidden, hidden), (4 * hidden,), (4 * hidden,))]
    params += [rng.uniform(-0.1, 0.1, (vocab, hidden)).astype(np.float32), np.zeros(vocab, np.float32)]
    batches = [(rng.integers(0, vocab, (steps, batch)), rng.integers(0, vocab, steps * batch))
               for _ in range(n_batches)]
    return Problem(params, batches, lr=1.0)


def model_for(vocab=10000, emsize=256, hidden=256, layers=2):
    """A builder of the model in PyTorch; ``torch`` is tapegrad or torch."""

    def model(torch):
        nn = torch.nn

        class LanguageModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Embedding(vocab, emsize)
                self.rnn = nn.LSTM(emsize, hidden, layers)
                self.decoder = nn.Linear(hidden, vocab)

            def forward(self, tokens):
                output, _ = self.rnn(self.encoder(tokens))
                return self.decoder(output.view(-1, hidden))

        return LanguageModel()

    return model


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def lstm_forward(x, w_ih, w_hh, b_ih, b_hh):
    """One LSTM layer over (T, B, I) from zero states: the hidden states and what backward needs."""
    steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    xg = (x.reshape(steps * batch, -1) @ w_ih.T + (b_ih + b_hh)).reshape(steps, batch, 4 * hidden)
    hs = np.empty((steps, batch, hidden), x.dtype)
    cs = np.empty_like(hs)
    gates = np.empty_like(xg)
    h = np.zeros((batch, hidden), x.dtype)
    c = np.zeros_like(h)
    for t in range(steps):
        a = xg[t] + h @ w_hh.T
        g = gates[t]
        g[:, :2 * hidden] = _sigmoid(a[:, :2 * hidden])
        g[:, 2 * hidden:3 * hidden] = np.tanh(a[:, 2 * hidden:3 * hidden])
        g[:, 3 * hidden:] = _sigmoid(a[:, 3 * hidden:])
        c = g[:, hidden:2 * hidden] * c + g[:, :hidden] * g[:, 2 * hidden:3 * hidden]
        h = g[:, 3 * hidden:] * np.tanh(c)
        hs[t], cs[t] = h, c
    return hs, (x, hs, cs, gates)


def lstm_backward(dhs, cache, w_ih, w_hh):
    """Gradients of (input, w_ih, w_hh, b_ih, b_hh) from the gradient of the hidden states."""
    x, hs, cs, gates = cache
    steps, batch, hidden = hs.shape
    da = np.empty_like(gates)
    dh_next = np.zeros((batch, hidden), hs.dtype)
    dc_next = np.zeros_like(dh_next)
    zeros = np.zeros_like(dh_next)
    for t in range(steps - 1, -1, -1):
        g = gates[t]
        i, f, z, o = g[:, :hidden], g[:, hidden:2 * hidden], g[:, 2 * hidden:3 * hidden], g[:, 3 * hidden:]
        k = np.tanh(cs[t])
        dh = dhs[t] + dh_next
        dc = dh * o * (1 - k * k) + dc_next
        c_prev = cs[t - 1] if t else zeros
        d = da[t]
        d[:, :hidden] = dc * z * i * (1 - i)
        d[:, hidden:2 * hidden] = dc * c_prev * f * (1 - f)
        d[:, 2 * hidden:3 * hidden] = dc * i * (1 - z * z)
        d[:, 3 * hidden:] = dh * k * o * (1 - o)
        dc_next = dc * f
        dh_next = d @ w_hh
    d2 = da.reshape(steps * batch, 4 * hidden)
    h_prev = np.concatenate([np.zeros((1, batch, hidden), hs.dtype), hs[:-1]]).reshape(steps * batch, hidden)
    db = d2.sum(axis=0)
    return (d2 @ w_ih).reshape(x.shape), d2.T @ x.reshape(steps * batch, -1), d2.T @ h_prev, db, db.copy()


def numpy_forward_backward(params, tokens, y):
    """The same step by hand: the loss and the gradients of every parameter (in model.parameters() order)."""
    table, decoder_w, decoder_b = params[0], params[-2], params[-1]
    layers = [params[1 + 4 * k:5 + 4 * k] for k in range((len(params) - 3) // 4)]
    x = table[tokens]
    caches = []
    for w_ih, w_hh, b_ih, b_hh in layers:
        x, cache = lstm_forward(x, w_ih, w_hh, b_ih, b_hh)
        caches.append(cache)
    flat = x.reshape(-1, x.shape[-1])
    logits = flat @ decoder_w.T
    logits += decoder_b
    loss, g = softmax_cross_entropy(logits, y)
    grads = [g.T @ flat, g.sum(axis=0)]
    dx = (g @ decoder_w).reshape(x.shape)
    layer_grads = []
    for (w_ih, w_hh, _, _), cache in zip(reversed(layers), reversed(caches)):
        dx, *gw = lstm_backward(dx, cache, w_ih, w_hh)
        layer_grads = gw + layer_grads
    gtable = np.zeros_like(table)
    np.add.at(gtable, tokens.reshape(-1), dx.reshape(-1, table.shape[1]))
    return loss, [gtable] + layer_grads + grads


def run(libs, settings):
    def context(samples):
        ms = np.median(samples["numpy"]) * 1e3
        vs = reference_note(samples, "pytorch", "numpy", "n/a")
        return f"numpy {ms:.1f} ms/step" + (f"; {vs}" if vs else "")

    return run_training(NAME, libs, settings, model_for(), numpy_forward_backward, problem(), "pytorch", 1.0,
                        "PyTorch", rtol=2e-4, context=context)
