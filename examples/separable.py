"""Logistic regression on linearly separable data: the loss keeps falling toward 0 and never becomes NaN.

On separable data the optimal weights are infinitely large, so the loss should go to zero; a naive
``log(sigmoid(z))`` underflows to log(0) = -inf on the way. tapegrad's BCE-with-logits is written in its stable
form, so the loss goes below 1e-4 and stays finite.

    python examples/separable.py
"""

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.datasets import linearly_separable  # noqa: E402


def run(steps=3000, lr=0.5, verbose=True):
    torch.manual_seed(0)
    X, y = linearly_separable(n=200, dim=2, margin=0.5, seed=0)
    X, y = torch.from_numpy(X), torch.from_numpy(y).float()
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(X).reshape(-1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if verbose and (step + 1) % 500 == 0:
            print(f"step {step + 1}: loss {loss.item():.3e}")
    assert all(math.isfinite(v) for v in losses)
    return losses


if __name__ == "__main__":
    losses = run()
    print(f"final loss {losses[-1]:.3e} (finite all along: {all(math.isfinite(v) for v in losses)})")
