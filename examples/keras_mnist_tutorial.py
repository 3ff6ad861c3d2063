"""The Keras 3 MNIST-MLP tutorial, with only the import changed (``import keras`` -> ``import tapegrad.keras``).

Data: the 5,000-image MNIST sample (4,000 train / 1,000 test) instead of the full MNIST download.

    python examples/keras_mnist_tutorial.py
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad.keras as keras  # noqa: E402  (the only change from the tutorial)
from tapegrad.datasets import mnist_sample  # noqa: E402


def run(epochs=20, verbose="auto", seed=0):
    keras.utils.set_random_seed(seed)
    x_train, y_train = mnist_sample(split="train")
    x_test, y_test = mnist_sample(split="test")

    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(256, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(128, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.1, verbose=verbose,
                        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                                                 restore_best_weights=True)])
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy, history


if __name__ == "__main__":
    run()
