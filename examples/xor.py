"""XOR: how often a 2-2-1 and a 2-4-1 sigmoid network learn XOR from random initial weights.

A buggy gradient shows up here first. The 2-2-1 network has known local minima, so it fails from some seeds;
the 2-4-1 network should converge from almost all of them (at least 95%).

    python examples/xor.py [--seeds 100]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.datasets import xor  # noqa: E402


def train(hidden, seed, steps=2000, lr=0.5):
    """Train a 2-hidden-1 tanh/sigmoid network with full-batch SGD + momentum; True if it solves XOR."""
    torch.manual_seed(seed)
    X, y = xor()
    X, y = torch.from_numpy(X), torch.from_numpy(y).float().reshape(-1, 1)
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(steps):
        loss = loss_fn(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        predictions = (model(X) > 0).float()
    return bool((predictions == y).all()) and loss.item() < 0.1


def convergence_rate(hidden, seeds):
    return sum(train(hidden, s) for s in range(seeds)) / seeds


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=100)
    n = p.parse_args().seeds
    for hidden in (2, 4):
        print(f"2-{hidden}-1: converged from {convergence_rate(hidden, n):.0%} of {n} seeds")
