"""A small CNN on the real handwritten digits: two conv layers, Adam; trained on 4,000 images of the 5,000-image
MNIST sample and tested on the other 1,000 (target: at least 95% test accuracy).

    python examples/mnist_cnn.py [--epochs 6]
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


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def run(epochs=6, verbose=True):
    torch.manual_seed(0)
    train = TensorDataset(*map(torch.from_numpy, mnist_sample(shape=(1, 28, 28), split="train")))
    x_test, y_test = map(torch.from_numpy, mnist_sample(shape=(1, 28, 28), split="test"))
    loader = DataLoader(train, batch_size=64, shuffle=True)
    model = CNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
        if verbose:
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}, test accuracy {acc:.2%}")
    return acc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=6)
    run(p.parse_args().epochs)
