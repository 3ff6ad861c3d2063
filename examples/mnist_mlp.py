"""A PyTorch-style MLP on the real handwritten digits: Module subclass, DataLoader, Adam, accuracy per epoch.

    python examples/mnist_mlp.py [--epochs 5]
"""

import argparse
import os
import sys

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


def accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            total += len(y)
    model.train()
    return correct / total


def run(epochs=5, verbose=True):
    torch.manual_seed(0)
    train = TensorDataset(*map(torch.from_numpy, mnist_sample(split="train")))
    test = TensorDataset(*map(torch.from_numpy, mnist_sample(split="test")))
    train_loader = DataLoader(train, batch_size=64, shuffle=True)
    test_loader = DataLoader(test, batch_size=500)
    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = accuracy(model, test_loader)
        if verbose:
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}, test accuracy {acc:.2%}")
    return acc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    run(p.parse_args().epochs)
