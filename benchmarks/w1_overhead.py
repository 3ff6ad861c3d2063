"""W1, per-op overhead: a chain of 20,000 tiny ops, ``y = y * a + b``, forward and backward timed separately.

Two sizes of operands: 0-d (scalars) and (64,), float32; ``x``, ``a`` and ``b`` require grad. The forward
builds the graph; the backward runs it from ``y`` (seeded with ones) and then drops it (releasing a graph is
part of what every step pays, in both libraries). numpy runs the same forward with no graph at all. Then: how
tapegrad's backward time grows with the chain length (1,000 to 100,000 nodes): it must be linear.
"""

import gc
import time

import numpy as np
from harness import Outcome, Row, Stats, Target, paired_ratio

NAME = "W1"
TITLE = "per-op overhead, chain y = y * a + b"
OPS = 20_000
SIZES = (1_000, 10_000, 100_000)
LINEAR_SLACK = 1.5  # us/node at the largest size over us/node at the smallest (a quadratic cost: 100x)


def operands(shape, seed=0):
    """float32 x, a, b; a slightly below 1 so that 50,000 steps neither overflow nor underflow."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    a = rng.uniform(0.9990, 0.9999, shape).astype(np.float32)
    b = rng.uniform(-0.01, 0.01, shape).astype(np.float32)
    return x, a, b


def chain(y, a, b, ops):
    """``ops`` ops (ops // 2 steps of y * a + b): the same code for numpy arrays and for tensors."""
    for _ in range(ops // 2):
        y = y * a + b
    return y


class TapeChain:
    """The chain in tapegrad or PyTorch (``torch`` is either), with x, a, b requiring grad."""

    def __init__(self, torch, arrays):
        self.torch = torch
        self.leaves = [torch.tensor(v, requires_grad=True) for v in arrays]
        self.seed = torch.ones_like(self.leaves[0])

    def forward(self, ops):
        x, a, b = self.leaves
        return chain(x, a, b, ops)

    def backward(self, y):
        for t in self.leaves:
            t.grad = None
        y.backward(self.seed)

    def grads(self):
        return [t.grad.numpy().copy() for t in self.leaves]


def numpy_reference(arrays, ops):
    """The chain's value and the gradients of x, a, b, by hand (for the correctness check only)."""
    x, a, b = arrays
    ys = [x]
    for _ in range(ops // 2):
        ys.append(ys[-1] * a + b)
    g = np.ones_like(x)
    ga = np.zeros_like(a)
    gb = np.zeros_like(b)
    for y in reversed(ys[:-1]):
        ga = ga + g * y
        gb = gb + g
        g = g * a
    return ys[-1], [g, ga, gb]


def check(libs, shape, ops, rtol=1e-3):
    """Failures: each library's value of the chain and gradients against numpy's, from the same operands."""
    arrays = operands(shape)
    value, grads = numpy_reference(arrays, ops)
    failures = []
    for name in ("tapegrad", "pytorch"):
        if libs.get(name) is None:
            continue
        c = TapeChain(libs[name], arrays)
        y = c.forward(ops)
        got = [y.detach().numpy().copy()]
        c.backward(y)
        got += c.grads()
        for what, g, e in zip(("y", "x.grad", "a.grad", "b.grad"), got, [value] + grads):
            if g.shape != e.shape or not np.allclose(g, e, rtol=rtol, atol=1e-6):
                failures.append(f"W1 {shape}: {name} {what} = {np.ravel(g)[:3]} but numpy gives "
                                f"{np.ravel(e)[:3]} (shape {g.shape} vs {e.shape}; tolerance {rtol:g})")
    return failures


def _timed(fn, *args):
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _fwd_bwd(c, ops):
    y, tf = _timed(c.forward, ops)

    def backward_and_release():
        nonlocal y
        c.backward(y)
        y = None  # drop the graph, inside the timed region

    _, tb = _timed(backward_and_release)
    return tf, tb


def time_chain(libs, shape, settings, ops=OPS):
    """{'tapegrad fwd': [s/op per round], ...}, interleaved in rotating order."""
    arrays = operands(shape)
    runners = {"numpy": lambda: {"fwd": _timed(chain, *arrays, ops)[1]}}
    for name in ("tapegrad", "pytorch"):
        if libs.get(name) is not None:
            c = TapeChain(libs[name], arrays)
            runners[name] = lambda c=c: dict(zip(("fwd", "bwd"), _fwd_bwd(c, ops)))
    for run in runners.values():  # warm up
        run()
    names = list(runners)
    samples = {}
    for r in range(settings.rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times = runners[name]()
            if "bwd" in times:
                times["fwd+bwd"] = times["fwd"] + times["bwd"]
            for part, t in times.items():
                samples.setdefault(f"{name} {part}", []).append(t / ops)
    return samples


def time_scaling(tg, settings, sizes=SIZES):
    """{size: [backward seconds per node, one per round]} for tapegrad's backward over chains of ``sizes``.

    Every sample does the same work, max(sizes) nodes: the backward of max(sizes) // size chains, timed back
    to back, so a short chain is not at the mercy of one preemption of a busy machine.
    """
    c = TapeChain(tg, operands(()))
    total = max(sizes)
    samples = {n: [] for n in sizes}
    rounds = max(3, settings.rounds // 2)
    for r in range(rounds + 1):
        for n in sizes[r % len(sizes):] + sizes[:r % len(sizes)]:
            chains = [c.forward(n) for _ in range(total // n)]
            gc.collect()
            t0 = time.perf_counter()
            for i in range(len(chains)):
                c.backward(chains[i])
                chains[i] = None  # drop the graph, inside the timed region
            if r:  # round 0 warms up
                samples[n].append((time.perf_counter() - t0) / (len(chains) * n))
    return samples


def run(libs, settings, ops=OPS, sizes=SIZES):
    out = Outcome()
    for shape in ((), (64,)):
        out.failures += check(libs, shape, min(ops, 2_000))
    if out.failures:
        out.targets.append(Target(NAME, "fwd+bwd <= 0.5x PyTorch", "CHECK FAILED: not timed", False))
        return out
    for shape, label in (((), "0-d"), ((64,), "(64,)")):
        samples = time_chain(libs, shape, settings, ops)
        for key, s in samples.items():
            name, part = key.split(" ")
            vs_np = paired_ratio(samples, key, "numpy fwd") if part == "fwd" and name != "numpy" else None
            vs_pt = paired_ratio(samples, key, f"pytorch {part}") if name != "pytorch" else None
            out.rows.append(Row(NAME, f"{name} {part}, {label}", Stats.of(s), "us/op", 1e6, vs_np, vs_pt))
        r = paired_ratio(samples, "tapegrad fwd+bwd", "pytorch fwd+bwd")
        context = f"numpy fwd {np.median(samples['numpy fwd']) * 1e6:.2f} us/op (anchor ~0.9)"
        if r is None:
            out.targets.append(Target(NAME, f"{label} fwd+bwd <= 0.5x PyTorch", "PyTorch not run", None,
                                      context))
        else:
            us = np.median(samples["tapegrad fwd+bwd"]) * 1e6
            torch_us = np.median(samples["pytorch fwd+bwd"]) * 1e6
            context += f"; PyTorch fwd+bwd {torch_us:.1f} us/op (anchor 13-15)"
            out.targets.append(Target(NAME, f"{label} fwd+bwd <= 0.5x PyTorch",
                                      f"{r.median:.2f}x ({us:.2f} us/op)", r.median <= 0.5, context))
    scaling = time_scaling(libs["tapegrad"], settings, sizes)
    per_node = {}
    for n, s in scaling.items():
        st = Stats.of(s)
        per_node[n] = st.median
        out.rows.append(Row(NAME, f"tapegrad bwd, {n:,} nodes", st, "us/node", 1e6))
    growth = Stats.of(np.asarray(scaling[max(sizes)]) / np.asarray(scaling[min(sizes)])).median  # paired
    out.targets.append(Target(NAME, f"backward linear: us/node at {max(sizes):,} nodes <= {LINEAR_SLACK:g}x "
                                    f"at {min(sizes):,}",
                              f"{growth:.2f}x (" + ", ".join(f"{v * 1e6:.2f}" for v in per_node.values())
                              + " us/node)", growth <= LINEAR_SLACK))
    return out
