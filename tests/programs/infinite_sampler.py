"""minGPT's Trainer loop, written for PyTorch: an 'infinite' DataLoader (RandomSampler with replacement and
num_samples=int(1e10)) that the loop restarts on StopIteration, pin_memory, callbacks, gradient clipping, and a
CPU GradScaler and autocast guarded as training scripts guard them.
"""
import time
from collections import defaultdict

import torch
import torch.nn as nn
from torch.utils.data import Dataset
from torch.utils.data.dataloader import DataLoader


class SumDataset(Dataset):
    """x in [-1, 1]^4, y = a fixed linear function of x: a regression the model can fit."""

    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 4, generator=g) * 2 - 1
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.25

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return self.x[idx], self.y[idx]


class Trainer:
    def __init__(self, model, train_dataset, max_iters, batch_size=16, learning_rate=3e-2, grad_norm_clip=1.0):
        self.model, self.train_dataset = model, train_dataset
        self.max_iters, self.batch_size, self.grad_norm_clip = max_iters, batch_size, grad_norm_clip
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.95))
        self.callbacks = defaultdict(list)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.iter_num, self.iter_time, self.iter_dt = 0, 0.0, 0.0
        use_amp = self.device == "cuda"
        self.scaler = torch.amp.GradScaler(self.device, enabled=use_amp)
        self.autocast = torch.autocast(device_type=self.device, dtype=torch.bfloat16, enabled=use_amp)

    def add_callback(self, onevent, callback):
        self.callbacks[onevent].append(callback)

    def trigger_callbacks(self, onevent):
        for callback in self.callbacks.get(onevent, []):
            callback(self)

    def run(self):
        model = self.model
        self.sampler = torch.utils.data.RandomSampler(self.train_dataset, replacement=True, num_samples=int(1e10))
        train_loader = DataLoader(self.train_dataset, sampler=self.sampler, shuffle=False, pin_memory=True,
                                  batch_size=self.batch_size, num_workers=0)
        model.train()
        self.iter_time = time.time()
        data_iter = iter(train_loader)
        while True:
            try:
                batch = next(data_iter)
            except StopIteration:
                data_iter = iter(train_loader)
                batch = next(data_iter)
            x, y = [t.to(self.device) for t in batch]
            with self.autocast:
                self.loss = nn.functional.mse_loss(model(x).squeeze(-1), y)
            model.zero_grad(set_to_none=True)
            self.scaler.scale(self.loss).backward()
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_norm_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.trigger_callbacks("on_batch_end")
            self.iter_num += 1
            tnow = time.time()
            self.iter_dt = tnow - self.iter_time
            self.iter_time = tnow
            if self.max_iters is not None and self.iter_num >= self.max_iters:
                break


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
trainer = Trainer(model, SumDataset(256), max_iters=150)
losses = []
trainer.add_callback("on_batch_end", lambda t: losses.append(t.loss.item()))
trainer.run()
num_samples = len(trainer.sampler)
