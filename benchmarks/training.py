"""The training-step workloads (W2, W3, W4) share this: a problem, trainers, the correctness check, timing.

A *problem* is the initial weights (float32, in the order ``model.parameters()`` yields them), a few batches
of data (cycled, so the step does not overfit one batch) and a learning rate. A *trainer* runs one step per
call: zero the gradients, forward, cross-entropy, backward, SGD update, and returns the loss.

The tapegrad and the PyTorch trainers are the SAME code: ``torch_trainer(torch, ...)`` is handed either
``tapegrad`` or ``torch`` as ``torch``, so the tapegrad side is plain PyTorch code by construction.
"""

import itertools
from dataclasses import dataclass

import numpy as np
from harness import Outcome, Target, compare_runs, interleave, ratio_target, timing_rows


@dataclass
class Problem:
    params: list  # initial weights, float32 arrays, in model.parameters() order
    batches: list  # [(x, y)], x float32 (or int64 indices), y int64 class labels
    lr: float


@dataclass
class Trainer:
    step: object  # () -> loss (a 0-d array or tensor; .item() gives the value)
    params: object  # () -> [np.ndarray], copies of the current parameters
    release: object = None  # () -> None: drop what a step leaves behind (the gradients), if anything


def uniform_init(rng, fan_in, shape):
    """PyTorch's default Linear/Conv2d initialization: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------- trainers


def torch_trainer(torch, model_fn, problem):
    """A trainer written in PyTorch; ``torch`` is tapegrad or torch itself."""
    F = torch.nn.functional
    model = build_model(torch, model_fn, problem.params)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=problem.lr)
    batches = itertools.cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in problem.batches])

    def step():
        x, y = next(batches)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return Trainer(step, lambda: [p.detach().numpy().copy() for p in params], opt.zero_grad)


def build_model(torch, model_fn, arrays):
    """``model_fn(torch)`` with its parameters set to copies of ``arrays`` (in ``parameters()`` order)."""
    model = model_fn(torch)
    params = list(model.parameters())
    if [tuple(p.shape) for p in params] != [a.shape for a in arrays]:
        raise ValueError(f"the model's parameter shapes {[tuple(p.shape) for p in params]} do not match the "
                         f"weights' {[a.shape for a in arrays]}")
    with torch.no_grad():
        for p, a in zip(params, arrays):
            p.copy_(torch.from_numpy(a.copy()))
    return model


def numpy_trainer(forward_backward, problem):
    """A trainer from ``forward_backward(params, x, y) -> (loss, grads)``, with a plain SGD update."""
    params = [a.copy() for a in problem.params]
    batches = itertools.cycle(problem.batches)
    lr = np.float32(problem.lr)

    def step():
        x, y = next(batches)
        loss, grads = forward_backward(params, x, y)
        for p, g in zip(params, grads):
            g *= lr  # every gradient is a fresh array the step owns
            p -= g
        return loss

    return Trainer(step, lambda: [p.copy() for p in params], lambda: None)


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of ``logits`` (N, C) against labels ``y`` (N,), and its gradient (a new array)."""
    n = logits.shape[0]
    rows = np.arange(n)
    z = logits - logits.max(axis=1, keepdims=True)  # NOTE: shift by the row max so exp cannot overflow
    picked = z[rows, y]
    np.exp(z, out=z)
    s = z.sum(axis=1, keepdims=True)
    loss = np.log(s).mean() - picked.mean()
    z *= 1 / (n * s)  # softmax / n
    z[rows, y] -= 1 / n
    return loss, z


# ---------------------------------------------------------------------------------------------- check, time


def check(workload, trainers, steps=2, rtol=1e-4, param_rtol=1e-2):
    """Run ``steps`` steps of each trainer from the same weights; the failures of ``compare_runs``."""
    runs = {}
    for name, t in trainers.items():
        p0 = t.params()
        losses = [t.step().item() for _ in range(steps)]
        runs[name] = (losses, p0, t.params())
    return compare_runs(workload, runs, "numpy", rtol, param_rtol)


def make_trainers(libs, model_fn, numpy_fb, problem):
    """{'tapegrad': ..., 'numpy': ..., 'pytorch': ...} for the libraries in ``libs`` ({name: module})."""
    trainers = {"tapegrad": torch_trainer(libs["tapegrad"], model_fn, problem),
                "numpy": numpy_trainer(numpy_fb, problem)}
    if libs.get("pytorch") is not None:
        trainers["pytorch"] = torch_trainer(libs["pytorch"], model_fn, problem)
    return trainers


def run_training(workload, libs, settings, model_fn, numpy_fb, problem, ref, limit, ref_label,
                 rtol=1e-4, param_rtol=1e-2, context=None):
    """Check, then time, a training workload; the target is tapegrad <= ``limit`` x ``ref``.

    ``context(samples)`` may describe the references (e.g. PyTorch against numpy) for the summary.
    """
    out = Outcome()
    trainers = make_trainers(libs, model_fn, numpy_fb, problem)
    out.failures = check(workload, trainers, rtol=rtol, param_rtol=param_rtol)
    if out.failures:
        out.targets.append(failed_target(workload, f"<= {limit:g}x {ref_label}"))
        return out
    samples = interleave({name: t.step for name, t in trainers.items()}, settings)
    out.rows = timing_rows(workload, samples)
    target = ratio_target(workload, samples, "tapegrad", ref, limit, ref_label)
    if context is not None:
        target.context = context(samples)
    out.targets.append(target)
    return out


def failed_target(workload, target):
    """The summary line of a workload whose correctness check failed: not timed, not met."""
    return Target(workload, target, "CHECK FAILED: not timed", False)
