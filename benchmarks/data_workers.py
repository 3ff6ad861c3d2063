"""When do DataLoader worker processes pay? Epoch times for num_workers 0, 1 and 2.

    python benchmarks/data_workers.py            # ~1 minute on 2 cores
    python benchmarks/data_workers.py --quick    # a smoke run

Two datasets of 28x28 images, batches of 64:
  * "python"  a Dataset whose __getitem__ does ~0.2 ms of Python/numpy work per sample (a seeded random
              shift, flip, normalisation and a few more numpy calls: what an augmentation pipeline costs);
  * "tensor"  a TensorDataset: the DataLoader's fast path gathers a whole batch with one fancy index.
Each is loaded alone ("load only"), and with a training step of a small MLP run on every batch in the main
process ("load + train", where workers can overlap loading with training). Workers are started once and kept
(persistent_workers=True); the cost of starting them is reported on its own. numpy's BLAS gets one thread
everywhere, so that the main process and the workers share the two cores the same way in every row.
Medians of interleaved repeats; ratios are to num_workers=0 (below 1: faster).

Before timing, every configuration is checked to produce the same batches, in the same order.
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad.utils.data import DataLoader, Dataset, TensorDataset  # noqa: E402

SIDE, BATCH = 28, 64


class Augmented(Dataset):
    """Images with a per-sample augmentation in __getitem__ (deterministic in the index, for the check)."""

    def __init__(self, images, labels, rounds):
        self.images, self.labels, self.rounds = images, labels, rounds

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        img = self.images[i]
        for _ in range(self.rounds):
            dy, dx = rng.integers(-2, 3, size=2)
            img = np.roll(img, (int(dy), int(dx)), axis=(0, 1))
            if rng.random() < 0.5:
                img = img[:, ::-1]
            img = (img - img.mean()) / (img.std() + 1e-6)
        return tg.from_numpy(np.ascontiguousarray(img, dtype=np.float32)), int(self.labels[i])


def calibrate(images, labels, target_ms=0.2):
    """The number of augmentation rounds that makes one __getitem__ cost about ``target_ms``."""
    rounds = 1
    for _ in range(3):  # measure, rescale, measure again
        ds = Augmented(images, labels, rounds)
        times = []
        for i in range(300):
            t = time.perf_counter()
            ds[i]
            times.append(time.perf_counter() - t)
        rounds = max(1, round(rounds * target_ms / (statistics.median(times) * 1e3)))
    return rounds


class MLP(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = tg.nn.Sequential(tg.nn.Flatten(), tg.nn.Linear(SIDE * SIDE, 512), tg.nn.ReLU(),
                                    tg.nn.Linear(512, 512), tg.nn.ReLU(), tg.nn.Linear(512, 10))

    def forward(self, x):
        return self.net(x)


def make_step():
    model = MLP()
    opt = tg.optim.SGD(model.parameters(), lr=0.01)

    def step(xb, yb):
        opt.zero_grad()
        loss = tg.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    return step


def loader_for(dataset, workers):
    extra = dict(persistent_workers=True) if workers else {}
    return DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=workers,
                      generator=tg.Generator().manual_seed(0), **extra)


def epoch(loader, step=None):
    t = time.perf_counter()
    for xb, yb in loader:
        if step is not None:
            step(xb, yb)
    return time.perf_counter() - t


def make_datasets(n, rounds=1):
    rng = np.random.default_rng(0)
    images = rng.random((n, SIDE, SIDE), dtype=np.float32)
    labels = rng.integers(0, 10, size=n)
    return images, labels, {"python": Augmented(images, labels, rounds),
                            "tensor": TensorDataset(tg.from_numpy(images), tg.from_numpy(labels))}


def check_same_batches(datasets):
    for name, ds in datasets.items():
        reference = None
        for workers in (0, 1, 2):
            batches = [(x.numpy().copy(), y.numpy().copy()) for x, y in loader_for(ds, workers)]
            if reference is None:
                reference = batches
                continue
            same = len(batches) == len(reference) and all(
                np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(batches, reference,
                                                                                        strict=True))
            if not same:
                raise SystemExit(f"CHECK FAILED: {name} with num_workers={workers} gives other batches than 0")


def startup_cost(ds, workers, repeats):
    """Seconds from iter(loader) to the first batch, workers started anew each time."""
    times = []
    for _ in range(repeats):
        loader = DataLoader(ds, batch_size=BATCH, num_workers=workers)
        t = time.perf_counter()
        it = iter(loader)
        next(it)
        times.append(time.perf_counter() - t)
        del it
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    p.add_argument("--samples", type=int, default=None, help="samples per epoch (default 2,048; quick 512)")
    p.add_argument("--repeats", type=int, default=None, help="timed epochs per configuration (default 7)")
    args = p.parse_args(argv)
    from run import limit_threads

    limiter = limit_threads(1)  # noqa: F841 (kept: the limit lasts while it lives)
    n = args.samples or (512 if args.quick else 2048)
    repeats = args.repeats or (2 if args.quick else 7)

    images, labels, _ = make_datasets(n)
    rounds = calibrate(images, labels)
    images, labels, datasets = make_datasets(n, rounds)
    python_ds, tensor_ds = datasets["python"], datasets["tensor"]
    t = time.perf_counter()
    for i in range(200):
        python_ds[i]
    getitem_ms = (time.perf_counter() - t) / 200 * 1e3
    check_same_batches(datasets)

    step = make_step()
    xb, yb = next(iter(loader_for(tensor_ds, 0)))
    for _ in range(3):
        step(xb, yb)
    t = time.perf_counter()
    for _ in range(20):
        step(xb, yb)
    step_ms = (time.perf_counter() - t) / 20 * 1e3

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {}
    loaders = {(name, w): loader_for(ds, w) for name, ds in datasets.items() for w in (0, 1, 2)}
    for loader in loaders.values():  # start the persistent workers, warm everything up
        epoch(loader)
    for _ in range(repeats):  # interleaved, so that a slow moment of the machine hits every row alike
        for (name, workers), loader in loaders.items():
            for mode in ("load only", "load + train"):
                seconds = epoch(loader, step if mode == "load + train" else None)
                results.setdefault((name, mode, workers), []).append(seconds)
    starts = {w: startup_cost(tensor_ds, w, 3 if args.quick else 7) for w in (1, 2)}

    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    batches = -(-n // BATCH)
    lines = [f"__getitem__ of the python dataset: {getitem_ms:.3f} ms per sample ({rounds} augmentation rounds); "
             f"training step {step_ms:.2f} ms per batch of {BATCH}; {n} samples "
             f"({batches} batches) per epoch; {os.cpu_count()} CPUs; load average {load_before:.1f} before, "
             f"{load_after:.1f} after; median (and fastest) of {repeats} epochs.",
             "", "| dataset | work per epoch | num_workers=0 | 1 | 2 | ratio 1 | ratio 2 |",
             "|---|---|---|---|---|---|---|"]
    for name in datasets:
        for mode in ("load only", "load + train"):
            med = [statistics.median(results[(name, mode, w)]) for w in (0, 1, 2)]
            low = [min(results[(name, mode, w)]) for w in (0, 1, 2)]
            lines.append(f"| {name} | {mode} | " + " | ".join(f"{m * 1e3:.0f} ({b * 1e3:.0f}) ms"
                                                            for m, b in zip(med, low, strict=True))
                         + f" | {med[1] / med[0]:.2f}x ({low[1] / low[0]:.2f}x) | "
                           f"{med[2] / med[0]:.2f}x ({low[2] / low[0]:.2f}x) |")
    lines += ["", f"Starting workers (iter(loader) to the first batch, TensorDataset): 1 worker "
                  f"{starts[1] * 1e3:.0f} ms, 2 workers {starts[2] * 1e3:.0f} ms."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
