"""Logistic regression on linearly separable data: the loss keeps falling toward 0 and never becomes NaN.

On separable data the best weights are infinitely large, so training should drive the loss toward zero for as
long as it runs. A loss written naively, ``-(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)))``, breaks on the way:
once a logit passes about 17, ``sigmoid(z)`` rounds to exactly 1 in float32, ``log(1 - 1)`` is ``-inf`` and
``0 * -inf`` is NaN. tapegrad's ``binary_cross_entropy_with_logits`` is written in its stable form, so its loss
goes below 1e-4 and stays finite; this script prints the naive loss of the same logits beside it.

Setup: 200 points in 2-D, two classes with a margin of 0.5 (``tapegrad.datasets.linearly_separable``),
``nn.Linear(2, 1)`` with PyTorch's default initialization, full-batch SGD with lr 1 and momentum 0.9, float32.
On separable data gradient descent's loss falls only as about 1/steps, hence the 20,000 steps.

    python examples/separable.py [--steps 20000]
"""

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.datasets import linearly_separable  # noqa: E402


def naive_bce(logits, y):
    """The textbook formula, for comparison only: NaN once sigmoid(z) rounds to 0 or 1."""
    p = torch.sigmoid(logits)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def run(steps=20000, lr=1.0, momentum=0.9, seed=0, verbose=True):
    """Returns ``{"losses": [...], "final_loss", "increases", "naive_nan_from", "min_margin", "seconds"}``:
    ``increases`` counts the steps whose loss was above the step before's; ``naive_nan_from`` is the first step
    whose naive loss was not finite (None if never); ``min_margin`` is the smallest ``(2y - 1) * logit`` at the end.
    """
    torch.manual_seed(seed)
    X, y = linearly_separable(n=200, dim=2, margin=0.5, seed=seed)
    X, y = torch.from_numpy(X), torch.from_numpy(y).float()
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses, naive_nan_from = [], None
    report_every = max(1, steps // 10)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        logits = model(X).reshape(-1)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if naive_nan_from is None or step % report_every == 0:
            with torch.no_grad():
                naive = naive_bce(logits, y).item()
            if naive_nan_from is None and not math.isfinite(naive):
                naive_nan_from = step
            if verbose and step % report_every == 0:
                print(f"step {step:6d}: loss {losses[-1]:.3e}   naive formula on the same logits: {naive:.3e}")
    seconds = time.perf_counter() - start
    with torch.no_grad():
        min_margin = ((2 * y - 1) * model(X).reshape(-1)).min().item()
    increases = sum(b > a for a, b in zip(losses, losses[1:]))
    if verbose:
        finite = all(math.isfinite(v) for v in losses)
        print(f"final loss {losses[-1]:.3e} after {steps} steps ({seconds:.1f} s); finite all along: {finite}; "
              f"the loss rose on {increases} of {steps - 1} steps; smallest margin y*logit {min_margin:.1f}")
        if naive_nan_from is not None:
            print(f"the naive formula was NaN or infinite from step {naive_nan_from} on")
    return {"losses": losses, "final_loss": losses[-1], "increases": increases, "naive_nan_from": naive_nan_from,
            "min_margin": min_margin, "seconds": seconds}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return run(args.steps, args.lr, seed=args.seed)


if __name__ == "__main__":
    main()
