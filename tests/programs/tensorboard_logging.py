"""A classifier trained with TensorBoard logging, written for PyTorch: scalars every step, grouped scalars,
weight histograms and the graph, into an event file TensorBoard reads.
"""
import os

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

log_dir = os.environ.get("PROGRAM_OUT_DIR", "runs")
torch.manual_seed(0)
x = torch.randn(128, 2)
y = (x[:, 0] * x[:, 1] > 0).long()  # XOR of the signs
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
criterion = nn.CrossEntropyLoss()

writer = SummaryWriter(log_dir=log_dir)
writer.add_graph(model, x[:4])
step, logged = 0, []
for epoch in range(6):
    for xb, yb in loader:
        loss = criterion(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        writer.add_scalar("Loss/train", loss.item(), step)
        logged.append((step, loss.item()))
        step += 1
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    writer.add_scalars("metrics", {"accuracy": accuracy, "loss": loss.item()}, epoch)
    for name, param in model.named_parameters():
        writer.add_histogram(name, param, epoch)
writer.flush()
writer.close()
