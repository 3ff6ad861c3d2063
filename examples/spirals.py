"""Spirals: a small PyTorch-style MLP separates three interleaved spiral arms; draws the decision boundary.

    python examples/spirals.py [--out out]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.datasets import spirals  # noqa: E402
from tapegrad.viz import plot_decision_boundary  # noqa: E402


def run(out="out", steps=1500, seed=0, verbose=True):
    torch.manual_seed(seed)
    X, y = spirals(n=300, classes=3, noise=0.2, seed=seed)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        loss = loss_fn(model(Xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if verbose and (step + 1) % 500 == 0:
            print(f"step {step + 1}: loss {loss.item():.4f}")
    with torch.no_grad():
        accuracy = (model(Xt).argmax(dim=1) == yt).float().mean().item()
    os.makedirs(out, exist_ok=True)
    path = plot_decision_boundary(model, X, y, os.path.join(out, "decision_boundary.png"),
                                  title=f"spirals, 2-64-64-3 ReLU MLP: training accuracy {accuracy:.1%}")
    if verbose:
        print(f"training accuracy {accuracy:.1%}; decision boundary written to {path}")
    return {"accuracy": accuracy, "decision_boundary": path}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out")
    run(p.parse_args().out)
