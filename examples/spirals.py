"""Spirals: a small PyTorch-style MLP separates three interleaved spiral arms; draws the decision boundary.

600 points on three noisy arms (``tapegrad.datasets.spirals``, the CS231n spiral), split in half: 300 to train
on, 300 held out. A 2-64-64-3 ReLU MLP, full-batch Adam(lr=0.01), 500 steps. The picture shows the class regions
over the plane with the training points on top.

    python examples/spirals.py [--out out] [--steps 500]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.datasets import spirals, train_test_split  # noqa: E402
from tapegrad.viz import plot_decision_boundary  # noqa: E402


def accuracy(model, X, y):
    with torch.no_grad():
        return (model(X).argmax(dim=1) == y).float().mean().item()


def run(out="out", steps=500, seed=0, verbose=True):
    """Train, then write ``out/decision_boundary.png``.

    Returns ``{"train_accuracy", "test_accuracy", "loss", "seconds", "decision_boundary": path}``.
    """
    torch.manual_seed(seed)
    X, y = spirals(n=600, classes=3, noise=0.2, seed=seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, seed=seed, stratify=True)
    Xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = loss_fn(model(Xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if verbose and step % max(1, steps // 5) == 0:
            print(f"step {step}: loss {loss.item():.4f}")
    seconds = time.perf_counter() - start
    train_acc = accuracy(model, Xt, yt)
    test_acc = accuracy(model, torch.from_numpy(X_test), torch.from_numpy(y_test))
    os.makedirs(out, exist_ok=True)
    path = plot_decision_boundary(model, X_train, y_train, os.path.join(out, "decision_boundary.png"),
                                  title=f"spirals, 2-64-64-3 MLP: train {train_acc:.1%}, "
                                        f"held-out {test_acc:.1%}")
    if verbose:
        print(f"accuracy: {train_acc:.1%} on the 300 training points, {test_acc:.1%} on the 300 held out "
              f"({steps} steps, {seconds:.1f} s); decision boundary written to {path}")
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "loss": loss.item(), "seconds": seconds,
            "decision_boundary": path}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out", help="folder for decision_boundary.png (default out)")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return run(args.out, args.steps, args.seed)


if __name__ == "__main__":
    main()
