"""W9, a small recurrent model (overhead-bound): a GRU sequence classifier's training step.

GRU(28 -> 64) over 16 steps of a batch of 32 (float32 rows, as mnist_rnn reads image rows) -> Linear(64, 10)
on the last hidden state -> cross-entropy; SGD (lr 0.1). Parameters start as PyTorch's U(-1/8, 1/8) (GRU) and
U(-1/sqrt(64), 1/sqrt(64)) (linear). Small enough that the time goes to per-operation overhead, where
tapegrad's one node per layer (PyTorch records a dozen per time step) should win.

The numpy reference is back-propagation through time written by hand, as W8's.
"""

import numpy as np
from harness import reference_note
from training import Problem, run_training, softmax_cross_entropy, uniform_init

NAME = "W9"
TITLE = "GRU sequence classifier step, 64 hidden, sequence 16, batch 32"


def problem(features=28, hidden=64, classes=10, steps=16, batch=32, n_batches=8, seed=0):
    rng = np.random.default_rng(seed)
    params = [uniform_init(rng, hidden, shape) for shape in ((3 * hidden, features), (3 * hidden, hidden),
                                                             (3 * hidden,), (3 * hidden,))]
    params += [uniform_init(rng, hidden, (classes, hidden)), uniform_init(rng, hidden, (classes,))]
    batches = [(rng.standard_normal((steps, batch, features), dtype=np.float32), rng.integers(0, classes, batch))
               for _ in range(n_batches)]
    return Problem(params, batches, lr=0.1)


def model_for(features=28, hidden=64, classes=10):
    """A builder of the model in PyTorch; ``torch`` is tapegrad or torch."""

    def model(torch):
        nn = torch.nn

        class SequenceClassifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(features, hidden)
                self.out = nn.Linear(hidden, classes)

            def forward(self, x):
                _, h_n = self.rnn(x)
                return self.out(h_n[-1])

        return SequenceClassifier()

    return model


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def gru_forward(x, w_ih, w_hh, b_ih, b_hh):
    steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    xg = (x.reshape(steps * batch, -1) @ w_ih.T + b_ih).reshape(steps, batch, 3 * hidden)
    hs = np.empty((steps, batch, hidden), x.dtype)
    rz = np.empty((steps, batch, 2 * hidden), x.dtype)
    ns, hns = np.empty_like(hs), np.empty_like(hs)
    h = np.zeros((batch, hidden), x.dtype)
    for t in range(steps):
        hg = h @ w_hh.T + b_hh
        rz[t] = _sigmoid(xg[t, :, :2 * hidden] + hg[:, :2 * hidden])
        hns[t] = hg[:, 2 * hidden:]
        ns[t] = np.tanh(xg[t, :, 2 * hidden:] + rz[t, :, :hidden] * hns[t])
        h = ns[t] + rz[t, :, hidden:] * (h - ns[t])
        hs[t] = h
    return hs, (x, hs, rz, ns, hns)


def gru_backward(dhs, cache, w_ih, w_hh):
    x, hs, rz, ns, hns = cache
    steps, batch, hidden = hs.shape
    dxg = np.empty((steps, batch, 3 * hidden), hs.dtype)
    dhg = np.empty_like(dxg)
    dh_next = np.zeros((batch, hidden), hs.dtype)
    for t in range(steps - 1, -1, -1):
        r, z, n = rz[t, :, :hidden], rz[t, :, hidden:], ns[t]
        h_prev = hs[t - 1] if t else np.zeros_like(dh_next)
        dh = dhs[t] + dh_next
        dan = dh * (1 - z) * (1 - n * n)
        dar = dan * hns[t] * r * (1 - r)
        daz = dh * (h_prev - n) * z * (1 - z)
        dxg[t, :, :hidden], dxg[t, :, hidden:2 * hidden], dxg[t, :, 2 * hidden:] = dar, daz, dan
        dhg[t, :, :2 * hidden] = dxg[t, :, :2 * hidden]
        dhg[t, :, 2 * hidden:] = dan * r
        dh_next = dh * z + dhg[t] @ w_hh
    dx2, dh2 = dxg.reshape(steps * batch, -1), dhg.reshape(steps * batch, -1)
    h_prev = np.concatenate([np.zeros((1, batch, hidden), hs.dtype), hs[:-1]]).reshape(steps * batch, hidden)
    return ((dx2 @ w_ih).reshape(x.shape), dx2.T @ x.reshape(steps * batch, -1), dh2.T @ h_prev, dx2.sum(axis=0),
            dh2.sum(axis=0))


def numpy_forward_backward(params, x, y):
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
    hs, cache = gru_forward(x, w_ih, w_hh, b_ih, b_hh)
    last = hs[-1]
    logits = last @ w_out.T
    logits += b_out
    loss, g = softmax_cross_entropy(logits, y)
    dhs = np.zeros_like(hs)
    dhs[-1] = g @ w_out
    _, *grads = gru_backward(dhs, cache, w_ih, w_hh)
    return loss, grads + [g.T @ last, g.sum(axis=0)]


def run(libs, settings):
    def context(samples):
        ms = np.median(samples["numpy"]) * 1e3
        vs = reference_note(samples, "pytorch", "numpy", "n/a")
        return f"numpy {ms:.2f} ms/step" + (f"; {vs}" if vs else "")

    return run_training(NAME, libs, settings, model_for(), numpy_forward_backward, problem(), "pytorch", 0.6,
                        "PyTorch", context=context)
