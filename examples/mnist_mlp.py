"""A PyTorch-style MLP on real handwritten digits: Module subclass, DataLoader, Adam, accuracy per epoch.

Data: the 5,000-image MNIST sample (``tapegrad.datasets.mnist_sample``), all ten digits, its fixed stratified
split: 4,000 training images and 1,000 held-out test images. A 784-256-128-10 ReLU MLP with dropout 0.2, Adam
(lr=1e-3), batches of 64. Written as a PyTorch user would: only the import differs.

    python examples/mnist_mlp.py [--epochs 10] [--train-size 4000]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.datasets import mnist_sample  # noqa: E402
from tapegrad.utils.data import DataLoader, TensorDataset  # noqa: E402


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)
        self.dropout = nn.Dropout(0.2)

    def forward(self, x):
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


def evaluate(model, loader):
    """(mean loss, accuracy) over a loader, in eval mode without recording a graph."""
    model.eval()
    loss = correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(dim=1) == y).sum().item()
            total += len(y)
    model.train()
    return loss / total, correct / total


def run(epochs=10, train_size=None, seed=0, batch_size=64, verbose=True):
    """Train on the first ``train_size`` training images (all 4,000 by default); test on the 1,000 held out.

    Returns ``{"test_accuracy": [per epoch], "train_loss": [per epoch], "seconds"}``.
    """
    torch.manual_seed(seed)
    x_train, y_train = mnist_sample(split="train")
    x_test, y_test = mnist_sample(split="test")
    if train_size is not None:
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    train_loader = DataLoader(TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
                              batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)), batch_size=500)
    model = MLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = {"train_loss": [], "test_accuracy": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        _, accuracy = evaluate(model, test_loader)
        history["train_loss"].append(total / len(x_train))
        history["test_accuracy"].append(accuracy)
        if verbose:
            print(f"epoch {epoch:2d}: train loss {total / len(x_train):.4f}, test accuracy {accuracy:.2%} "
                  f"({time.perf_counter() - start:.1f} s)")
    history["seconds"] = time.perf_counter() - start
    if verbose:
        print(f"test accuracy {history['test_accuracy'][-1]:.2%} on 1,000 held-out digits after {epochs} "
              f"epoch{'s' * (epochs != 1)} on {len(x_train):,} training images ({history['seconds']:.1f} s)")
    return history


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-size", type=int, default=None, help="train on the first N of the 4,000 images")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return run(args.epochs, args.train_size, args.seed, args.batch_size)


if __name__ == "__main__":
    main()
