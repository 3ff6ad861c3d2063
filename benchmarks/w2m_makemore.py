"""W2m, W2 as makemore's lectures write it: raw tensors, no nn.Module, no optimizer.

    emb = C[Xb]                                  # (32, 3, 10): a raw embedding table indexed by index tensors
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)   # (32, 200)
    logits = h @ W2 + b2                         # (32, 27)
    loss = F.cross_entropy(logits, Yb)
    for p in parameters: p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in parameters: p -= lr * p.grad    # the hand-written update
    loss.item()

Also W2u: that update loop alone (five parameters of W2m's shapes), against the same loop on numpy arrays, and
beside it the floor of any tensor class written in Python (``_Bare``: a Python call and a numpy call per operator,
inside the least ``with no_grad()``).
The tapegrad and PyTorch steps are the same code (``torch`` is either module).
"""

import itertools

import numpy as np
from harness import Outcome, compare_runs, interleave, ratio_target, timing_rows
from training import softmax_cross_entropy

NAME = "W2m"
TITLE = "makemore-style char-MLP step (raw tensors, hand-written update), and the update loop alone"
LR = 0.1


def problem(vocab=27, dim=10, context=3, hidden=200, batch=32, n_batches=32, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((vocab, dim)).astype(np.float32),           # C
              (rng.standard_normal((context * dim, hidden)) * 0.2).astype(np.float32),  # W1
              (rng.standard_normal(hidden) * 0.01).astype(np.float32),        # b1
              (rng.standard_normal((hidden, vocab)) * 0.01).astype(np.float32),  # W2
              np.zeros(vocab, np.float32)]                                     # b2
    batches = [(rng.integers(0, vocab, (batch, context)), rng.integers(0, vocab, batch)) for _ in range(n_batches)]
    return params, batches


def torch_step(torch, arrays, batches):
    """The lecture's step in ``torch`` (tapegrad or torch); returns (step, params)."""
    F = torch.nn.functional
    parameters = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    C, W1, b1, W2, b2 = parameters
    data = itertools.cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches])

    def step():
        Xb, Yb = next(data)
        emb = C[Xb]
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in parameters:
                p -= LR * p.grad
        return loss.item()

    return step, lambda: [p.detach().numpy().copy() for p in parameters]


def numpy_step(arrays, batches):
    params = [a.copy() for a in arrays]
    data = itertools.cycle(batches)
    lr = np.float32(LR)

    def step():
        Xb, Yb = next(data)
        C, W1, b1, W2, b2 = params
        emb = C[Xb].reshape(len(Xb), -1)
        h = emb @ W1
        h += b1
        np.tanh(h, out=h)
        logits = h @ W2
        logits += b2
        loss, g = softmax_cross_entropy(logits, Yb)
        gW2 = h.T @ g
        gb2 = g.sum(axis=0)
        gh = g @ W2.T
        gh *= 1 - h * h
        gW1 = emb.T @ gh
        gb1 = gh.sum(axis=0)
        gC = np.zeros_like(C)
        np.add.at(gC, Xb.reshape(-1), (gh @ W1.T).reshape(-1, C.shape[1]))
        for p, gp in zip(params, (gC, gW1, gb1, gW2, gb2)):
            p -= lr * gp
        return float(loss)

    return step, lambda: [p.copy() for p in params]


def update_loops(torch, arrays):
    """``p -= lr * p.grad`` over five parameters under no_grad, in ``torch`` and on numpy arrays."""
    params = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    for p in params:
        p.grad = torch.ones_like(p) * 1e-3
    plain = [a.copy() for a in arrays]
    grads = [np.full_like(a, 1e-3) for a in arrays]
    lr = np.float32(LR)

    def tapegrad_update():
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad

    def numpy_update():
        for p, g in zip(plain, grads):
            p -= lr * g

    return tapegrad_update, numpy_update


class _Bare:
    """The least a tensor class written in Python can do: ``x * number`` and ``x -= y`` are one Python call and
    one numpy call each, with one attribute (set without an ``__init__`` call) and no versions or checks. Its
    update loop, inside the least grad-mode switch (:class:`_BareNoGrad`), is the floor of any Python-level tensor
    (tapegrad's included); the distance to it is what tapegrad's bookkeeping costs."""

    __slots__ = ("data",)

    def __rmul__(self, number):
        return _bare(np.multiply(self.data, number))

    def __isub__(self, other):
        np.subtract(self.data, other.data, self.data)
        return self


def _bare(data):
    t = object.__new__(_Bare)
    t.data = data
    return t


class _BareMode:
    __slots__ = ("enabled",)  # (a slot: writing a class attribute would invalidate the interpreter's caches)


_bare_mode = _BareMode()
_bare_mode.enabled = True


class _BareNoGrad:
    """``with no_grad():`` at its least: made in C, and a Python ``__enter__`` and ``__exit__`` that flip a flag."""

    __slots__ = ("prev",)

    def __enter__(self):
        self.prev = _bare_mode.enabled
        _bare_mode.enabled = False

    def __exit__(self, kind, value, traceback):
        _bare_mode.enabled = self.prev


def bare_update_loop(arrays):
    """W2u's loop over :class:`_Bare` (the floor row of the table)."""
    params = [(_bare(a.copy()), _bare(np.full_like(a, 1e-3))) for a in arrays]

    def bare_update():
        with _BareNoGrad():
            for p, g in params:
                p -= LR * g

    return bare_update


def run(libs, settings):
    out = Outcome()
    arrays, batches = problem()
    steps = {"tapegrad": torch_step(libs["tapegrad"], arrays, batches), "numpy": numpy_step(arrays, batches)}
    if libs.get("pytorch") is not None:
        steps["pytorch"] = torch_step(libs["pytorch"], arrays, batches)
    runs = {}
    for name, (step, params) in steps.items():
        p0 = params()
        runs[name] = ([step() for _ in range(2)], p0, params())
    out.failures = compare_runs("W2m", runs, "numpy")
    if out.failures:
        return out
    samples = interleave({name: s for name, (s, _) in steps.items()}, settings)
    out.rows = timing_rows("W2m", samples)
    out.targets.append(ratio_target("W2m", samples, "tapegrad", "numpy", 1.5, "numpy"))

    tapegrad_update, numpy_update = update_loops(libs["tapegrad"], arrays)
    fns = {"tapegrad": tapegrad_update, "numpy": numpy_update, "python floor": bare_update_loop(arrays)}
    if libs.get("pytorch") is not None:
        fns["pytorch"], _ = update_loops(libs["pytorch"], arrays)
    samples = interleave(fns, settings)
    out.rows += timing_rows("W2u", samples, unit="us/loop", scale=1e6)
    out.targets.append(ratio_target("W2u", samples, "tapegrad", "numpy", 1.3, "numpy"))
    return out
