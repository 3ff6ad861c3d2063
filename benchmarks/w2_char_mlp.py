"""W2, a small overhead-bound model: a makemore-style character-level MLP training step.

Embedding (27, 10) of 3 context characters -> (32, 30) -> Linear(30, 200) -> tanh -> Linear(200, 27) ->
cross-entropy over 27 classes; SGD (lr 0.1). Batch 32, random int64 data with a fixed seed.
"""

import numpy as np
from harness import reference_note
from training import Problem, run_training, softmax_cross_entropy, uniform_init

NAME = "W2"
TITLE = "char-MLP step (makemore), batch 32"


def problem(vocab=27, dim=10, context=3, hidden=200, batch=32, n_batches=32, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((vocab, dim)).astype(np.float32),  # nn.Embedding's default: N(0, 1)
              uniform_init(rng, context * dim, (hidden, context * dim)),
              uniform_init(rng, context * dim, (hidden,)),
              uniform_init(rng, hidden, (vocab, hidden)),
              uniform_init(rng, hidden, (vocab,))]
    batches = [(rng.integers(0, vocab, (batch, context)), rng.integers(0, vocab, batch))
               for _ in range(n_batches)]
    return Problem(params, batches, lr=0.1)


def model(torch, vocab=27, dim=10, context=3, hidden=200):
    """The model in PyTorch; ``torch`` is tapegrad or torch."""
    nn = torch.nn

    class CharMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, dim)
            self.hidden = nn.Linear(context * dim, hidden)
            self.out = nn.Linear(hidden, vocab)

        def forward(self, idx):
            e = self.embedding(idx)
            h = torch.tanh(self.hidden(e.view(e.shape[0], -1)))
            return self.out(h)

    return CharMLP()


def numpy_forward_backward(params, idx, y):
    """The same step by hand: returns the loss and the gradients of (table, W1, b1, W2, b2)."""
    table, w1, b1, w2, b2 = params
    n = idx.shape[0]
    e = table[idx].reshape(n, -1)
    h = e @ w1.T
    h += b1
    np.tanh(h, out=h)
    logits = h @ w2.T
    logits += b2
    loss, g = softmax_cross_entropy(logits, y)
    gw2 = g.T @ h
    gb2 = g.sum(axis=0)
    gh = g @ w2
    h *= h
    np.subtract(1, h, out=h)  # tanh' = 1 - tanh^2
    gh *= h
    gw1 = gh.T @ e
    gb1 = gh.sum(axis=0)
    ge = gh @ w1
    gtable = np.zeros_like(table)
    np.add.at(gtable, idx.reshape(-1), ge.reshape(-1, table.shape[1]))
    return loss, [gtable, gw1, gb1, gw2, gb2]


def run(libs, settings):
    def context(samples):
        ms = np.median(samples["numpy"]) * 1e3
        vs = reference_note(samples, "pytorch", "numpy", "2.4x")
        return f"numpy {ms:.3f} ms/step (anchor ~0.215)" + (f"; {vs}" if vs else "")

    return run_training(NAME, libs, settings, model, numpy_forward_backward, problem(), "numpy", 1.5, "numpy",
                        context=context)
