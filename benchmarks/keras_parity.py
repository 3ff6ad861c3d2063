"""Keras parity: the Keras 3 MNIST-MLP tutorial in tapegrad.keras against real Keras, same data, same seeds.

tapegrad's side runs ``run(seed=...)`` from ``examples/keras_mnist_tutorial.py`` in this interpreter. Real Keras
runs in a subprocess of another interpreter (so this venv needs neither keras nor torch), on the exact arrays
``tapegrad.datasets.mnist_sample(split="train"|"test")`` returns, exported to an ``.npz``. The real-Keras code
below is the tutorial's model/compile/fit/evaluate verbatim, with ``import keras``.

    python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install keras torch numpy
    .venv/bin/python benchmarks/keras_parity.py                       # seeds 0..4, real Keras from /tmp/kvenv
    .venv/bin/python benchmarks/keras_parity.py /path/to/python --seeds 0 1 --backend torch
    .venv/bin/python benchmarks/keras_parity.py --skip-keras          # tapegrad only

Prints one line per run as it finishes, then a markdown table (test accuracy, epochs run before early stopping,
best epoch, best val_loss, seconds) and mean +- std (sample std over the seeds) of each side. ``--json FILE``
saves the raw per-run records; ``--from-json FILE`` prints their report again. Runs are sequential, each after
an untimed 1-epoch warm-up, with each library's default threads: timings swing with the machine's load, and
``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` before the command gives steadier ones. tapegrad's accuracies can
change in the last digit with the BLAS thread count (summation order); real Keras's did not.
"""

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "examples"))

REAL_KERAS_SCRIPT = r'''
import json
import sys
import time

import keras
import numpy as np


def run(data, seed=0, epochs=20, verbose=0):
    keras.utils.set_random_seed(seed)
    x_train, y_train = data["x_train"], data["y_train"]
    x_test, y_test = data["x_test"], data["y_test"]

    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(256, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(128, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.1, verbose=verbose,
                        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                                                 restore_best_weights=True)])
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return accuracy, loss, history


with np.load(sys.argv[1]) as f:
    data = {k: f[k] for k in f.files}
if sys.argv[2] == "warmup":  # one untimed epoch: first-call costs (imports, kernels) stay out of the timings
    run(data, seed=0, epochs=1)
for seed in [int(s) for s in sys.argv[3:]]:
    t0 = time.perf_counter()
    accuracy, loss, history = run(data, seed=seed)
    seconds = time.perf_counter() - t0
    h = history.history
    print(json.dumps({
        "side": "keras", "seed": seed, "test_accuracy": float(accuracy), "test_loss": float(loss),
        "epochs": len(h["loss"]), "best_epoch": int(np.argmin(h["val_loss"])) + 1,
        "best_val_loss": float(np.min(h["val_loss"])), "seconds": seconds,
        "version": keras.__version__, "backend": keras.backend.backend(),
    }), flush=True)
'''


def export_data(path):
    from tapegrad.datasets import mnist_sample

    x_train, y_train = mnist_sample(split="train")
    x_test, y_test = mnist_sample(split="test")
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def run_real_keras(python, npz, seeds, backend, warmup=True):
    """Yield one record per seed from real Keras running in ``python`` (a subprocess)."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    with tempfile.NamedTemporaryFile("w", suffix="_real_keras.py", delete=False) as f:
        f.write(REAL_KERAS_SCRIPT)
        script = f.name
    try:
        cmd = [python, script, npz, "warmup" if warmup else "-", *map(str, seeds)]
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) as proc:
            for line in proc.stdout:
                if line.startswith("{"):
                    yield json.loads(line)
        if proc.returncode:
            raise RuntimeError(f"real Keras exited with code {proc.returncode}: {' '.join(cmd)}")
    finally:
        os.unlink(script)


def run_tapegrad(seeds, warmup=True):
    """Yield one record per seed from examples/keras_mnist_tutorial.py's ``run(seed=...)``."""
    import keras_mnist_tutorial as tutorial

    import tapegrad

    if warmup:
        with contextlib.redirect_stdout(io.StringIO()):
            tutorial.run(epochs=1, verbose=0, seed=0)
    for seed in seeds:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the tutorial prints model.summary() and the accuracy
            accuracy, history = tutorial.run(verbose=0, seed=seed)
        seconds = time.perf_counter() - t0
        h = history.history
        yield {
            "side": "tapegrad", "seed": seed, "test_accuracy": float(accuracy), "epochs": len(h["loss"]),
            "best_epoch": int(np.argmin(h["val_loss"])) + 1, "best_val_loss": float(np.min(h["val_loss"])),
            "seconds": seconds, "version": getattr(tapegrad, "__version__", "?"), "backend": "numpy",
        }


def _mean_std(values):
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def report(records, seeds):
    by = {(r["side"], r["seed"]): r for r in records}
    sides = [s for s in ("tapegrad", "keras") if any(r["side"] == s for r in records)]
    cols = ["test acc", "epochs", "best epoch", "best val_loss", "s", "s/epoch"]
    head = ["seed"] + [f"{s} {c}" for s in sides for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for seed in seeds:
        row = [str(seed)]
        for s in sides:
            r = by.get((s, seed))
            row += ([f"{r['test_accuracy']:.4f}", str(r["epochs"]), str(r["best_epoch"]),
                     f"{r['best_val_loss']:.4f}", f"{r['seconds']:.1f}", f"{r['seconds'] / r['epochs']:.2f}"]
                    if r else ["-"] * len(cols))
        lines.append("| " + " | ".join(row) + " |")
    print("\n".join(lines))
    means = {}
    for s in sides:
        rs = [r for r in records if r["side"] == s]
        (acc, acc_sd), (ep, ep_sd), (sec, sec_sd) = (_mean_std([r[k] for r in rs])
                                                     for k in ("test_accuracy", "epochs", "seconds"))
        per_epoch = statistics.median(r["seconds"] / r["epochs"] for r in rs)
        means[s] = acc
        print(f"{s:9s} ({rs[0]['version']}, {rs[0]['backend']}): test accuracy {100 * acc:.2f} +- "
              f"{100 * acc_sd:.2f} %, epochs {ep:.1f} +- {ep_sd:.1f}, {sec:.1f} +- {sec_sd:.1f} s per run, "
              f"median {per_epoch:.2f} s per epoch")
    if len(means) == 2:
        diff = 100 * (means["tapegrad"] - means["keras"])
        verdict = "within" if abs(diff) <= 2 else "NOT within"
        print(f"difference tapegrad - keras: {diff:+.2f} points ({verdict} 2 points)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("keras_python", nargs="?", default="/tmp/kvenv/bin/python",
                   help="interpreter that can import keras (default /tmp/kvenv/bin/python)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--backend", default="torch", help="KERAS_BACKEND for real Keras (default torch)")
    p.add_argument("--npz", default=None, help="where to export the data (default: a temporary file)")
    p.add_argument("--no-warmup", action="store_true", help="do not run an untimed 1-epoch fit on each side first")
    p.add_argument("--skip-keras", action="store_true")
    p.add_argument("--skip-tapegrad", action="store_true")
    p.add_argument("--json", default=None, help="save the per-run records to this file")
    p.add_argument("--from-json", default=None, help="print the report of records saved by --json; run nothing")
    args = p.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            records = json.load(f)
        report(records, sorted({r["seed"] for r in records}))
        return

    if not args.skip_keras and shutil.which(args.keras_python) is None:
        sys.exit(f"keras_parity: no interpreter at {args.keras_python}; make one that can import keras "
                 f"(python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install keras torch numpy), or --skip-keras")
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        npz = args.npz or os.path.join(tmp, "mnist_split.npz")
        export_data(npz)
        runs = []
        if not args.skip_tapegrad:
            runs.append(run_tapegrad(args.seeds, not args.no_warmup))
        if not args.skip_keras:
            runs.append(run_real_keras(args.keras_python, npz, args.seeds, args.backend, not args.no_warmup))
        for gen in runs:
            for r in gen:
                print(f"{r['side']:9s} seed {r['seed']}: test accuracy {r['test_accuracy']:.4f}, "
                      f"{r['epochs']} epochs (best {r['best_epoch']}), {r['seconds']:.1f} s", flush=True)
                records.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    report(records, args.seeds)


if __name__ == "__main__":
    main()
