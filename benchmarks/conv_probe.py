"""Micro-benchmark: a small CNN training step in tapegrad against PyTorch eager (if installed).

conv(1->16, 3x3, pad 1)-ReLU-maxpool 2-conv(16->32, 3x3, pad 1)-ReLU-maxpool 2-linear(1568->10), batch 64 of
28x28 float32, cross-entropy, forward + backward + SGD step. Usage: python benchmarks/conv_probe.py [--parts]
PyTorch runs with 2 threads (TORCH_THREADS overrides; OPENBLAS_NUM_THREADS sets numpy's). On a shared
machine, timings swing widely: compare the two libraries within one run, over several runs.
"""

import os
import sys
import time

import numpy as np

import tapegrad as tg
from tapegrad.autograd.xp import numpy_xp
from tapegrad.ops.conv import conv2d, max_pool2d

STEPS, REPEATS, ROUNDS = 10, 5, 20


def _cross_entropy(logits, target_onehot):
    f = getattr(tg.nn.functional, "cross_entropy", None)
    if f is not None:
        return f(logits, tg.tensor(target_onehot.argmax(1)))
    shift = logits - tg.tensor(logits._data.max(axis=1, keepdims=True))  # constant shift: stable log-softmax
    logp = shift - shift.exp().sum(dim=1, keepdim=True).log()
    return -(logp * tg.tensor(target_onehot)).sum() / logits.shape[0]


def tapegrad_step_fn(x, onehot, params):
    w1, b1, w2, b2, w3, b3 = params

    def step():
        h = max_pool2d(conv2d(x, w1, b1, padding=1).relu(), 2)
        h = max_pool2d(conv2d(h, w2, b2, padding=1).relu(), 2)
        out = h.reshape(h.shape[0], -1) @ w3.mT + b3
        loss = _cross_entropy(out, onehot)
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p._data -= 0.01 * p.grad._data
        return loss

    return step


def torch_step_fn(torch, x, y, params):
    F = torch.nn.functional
    w1, b1, w2, b2, w3, b3 = params

    def step():
        h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=1)), 2)
        loss = F.cross_entropy(F.linear(h.reshape(h.shape[0], -1), w3, b3), y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.sub_(0.01 * p.grad)
        return loss

    return step


def _time(step, n):
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def per_step(step):
    for _ in range(5):
        step()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for _ in range(STEPS):
            step()
        times.append((time.perf_counter() - t) / STEPS)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    onehot = np.eye(10, dtype=np.float32)[y]
    arrays = [rng.standard_normal((16, 1, 3, 3)) * 0.3, np.zeros(16),
              rng.standard_normal((32, 16, 3, 3)) * 0.1, np.zeros(32),
              rng.standard_normal((10, 1568)) * 0.02, np.zeros(10)]
    arrays = [a.astype(np.float32) for a in arrays]
    params = [tg.tensor(a, requires_grad=True) for a in arrays]
    tg_step = tapegrad_step_fn(tg.tensor(x), onehot, params)
    try:
        import torch
    except ImportError:
        print(f"tapegrad: {per_step(tg_step) * 1e3:.2f} ms/step")
        return
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    tparams = [torch.tensor(a, requires_grad=True) for a in arrays]
    pt_step = torch_step_fn(torch, torch.tensor(x), torch.tensor(y), tparams)
    # Interleave the two in short rounds (the machine may be shared), and compare their best rounds.
    for _ in range(5):
        tg_step(), pt_step()
    rounds_tg, rounds_pt = [], []
    for _ in range(ROUNDS):
        # a pause between libraries lets the other one's spinning worker threads go to sleep (OpenBLAS's
        # spin for ~0.1 s after a call)
        time.sleep(0.25)
        rounds_tg.append(_time(tg_step, 5))
        time.sleep(0.25)
        rounds_pt.append(_time(pt_step, 5))
    t_tg, t_pt = min(rounds_tg), min(rounds_pt)
    med_tg, med_pt = np.median(rounds_tg) * 1e3, np.median(rounds_pt) * 1e3
    print(f"(median rounds: tapegrad {med_tg:.2f} ms, pytorch {med_pt:.2f} ms)")
    print(f"tapegrad: {t_tg * 1e3:.2f} ms/step")
    print(f"pytorch:  {t_pt * 1e3:.2f} ms/step  ->  ratio {t_tg / t_pt:.2f}")
    if "--parts" in sys.argv:
        parts(x, params)


def parts(x, params):
    """Time each piece of the tapegrad step."""
    w1, b1, w2, b2, w3, b3 = params
    xt = tg.tensor(x)

    def timed(name, fn, n=30):
        fn()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        print(f"  {name:28s} {min(ts) * 1e3:7.3f} ms")

    c1 = conv2d(xt, w1, b1, padding=1)
    r1 = c1.relu()
    p1 = max_pool2d(r1, 2)
    c2 = conv2d(p1, w2, b2, padding=1)
    r2 = c2.relu()
    p2 = max_pool2d(r2, 2)
    timed("conv1 fwd", lambda: conv2d(xt, w1, b1, padding=1))
    timed("relu1 fwd", lambda: c1.relu())
    timed("pool1 fwd", lambda: max_pool2d(r1, 2))
    timed("conv2 fwd", lambda: conv2d(p1, w2, b2, padding=1))
    timed("relu2 fwd", lambda: c2.relu())
    timed("pool2 fwd", lambda: max_pool2d(r2, 2))
    g = np.ones(p2.shape, np.float32)
    timed("pool2 bwd", lambda: p2._backward(numpy_xp, g, p2._data, r2._data))
    g = np.ones(c2.shape, np.float32)
    timed("conv2 bwd", lambda: c2._backward(numpy_xp, (True, True, True), g, c2._data, p1._data, w2._data,
                                            b2._data))
    g = np.ones(p1.shape, np.float32)
    timed("pool1 bwd", lambda: p1._backward(numpy_xp, g, p1._data, r1._data))
    g = np.ones(c1.shape, np.float32)
    timed("conv1 bwd", lambda: c1._backward(numpy_xp, (False, True, True), g, c1._data, xt._data, w1._data,
                                            b1._data))


if __name__ == "__main__":
    main()
