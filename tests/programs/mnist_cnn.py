"""pytorch/examples' mnist/main.py, written for PyTorch 2.13, on a tiny synthetic image set (which quadrant of a
12x12 image is bright): argparse, torch.accelerator device selection, Conv2d/Dropout/max_pool2d, log_softmax with
nll_loss, Adadelta with StepLR, a test pass under no_grad with reduction='sum', torch.save of the state_dict.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def quadrants(n, generator):
    x = torch.rand(n, 1, 12, 12, generator=generator) * 0.5
    y = torch.randint(0, 4, (n,), generator=generator)
    for i in range(n):
        r, c = divmod(int(y[i]), 2)
        x[i, 0, 6 * r:6 * r + 6, 6 * c:6 * c + 6] += 0.5
    return (x - 0.5) / 0.3, y


def train(model, device, train_loader, optimizer, epoch, log):
    model.train()
    for _batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        log.append(loss.item())


def test(model, device, test_loader):
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return test_loss / len(test_loader.dataset), correct / len(test_loader.dataset)


parser = argparse.ArgumentParser(description="PyTorch MNIST Example")
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--lr", type=float, default=1.0)
parser.add_argument("--gamma", type=float, default=0.7)
parser.add_argument("--no-accel", action="store_true")
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--save-model", action="store_true", default=True)
args = parser.parse_args([])
use_accel = not args.no_accel and torch.accelerator.is_available()
torch.manual_seed(args.seed)
device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
train_kwargs = {"batch_size": args.batch_size}
if use_accel:
    train_kwargs.update({"num_workers": 1, "pin_memory": True, "shuffle": True})

g = torch.Generator().manual_seed(0)
train_loader = DataLoader(TensorDataset(*quadrants(96, g)), **train_kwargs)
test_loader = DataLoader(TensorDataset(*quadrants(64, g)), batch_size=64)
model = Net().to(device)
optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
train_losses, lrs = [], []
test_loss_before, accuracy_before = test(model, device, test_loader)
for epoch in range(1, args.epochs + 1):
    train(model, device, train_loader, optimizer, epoch, train_losses)
    lrs.append(scheduler.get_last_lr()[0])
    scheduler.step()
test_loss, accuracy = test(model, device, test_loader)
if args.save_model:
    saved = os.path.join(os.environ.get("PROGRAM_OUT_DIR", "."), "mnist_cnn.pt")
    os.makedirs(os.path.dirname(saved), exist_ok=True)
    torch.save(model.state_dict(), saved)
    reloaded = Net()
    reloaded.load_state_dict(torch.load(saved, weights_only=True))
