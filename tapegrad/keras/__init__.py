"""A Keras 3-style API on tapegrad: ``import tapegrad.keras as keras``.

    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(128, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, validation_split=0.1,
              callbacks=[keras.callbacks.EarlyStopping(patience=2)])
"""

from types import SimpleNamespace

from . import activations, callbacks, initializers, losses, metrics, optimizers, regularizers, utils
from . import layers as _layers
from .layers import Input, KerasTensor
from .model import Sequential

layers = SimpleNamespace(
    Input=Input, Dense=_layers.Dense, Dropout=_layers.Dropout, Flatten=_layers.Flatten,
    Activation=_layers.Activation, BatchNormalization=_layers.BatchNormalization, Conv2D=_layers.Conv2D,
    MaxPooling2D=_layers.MaxPooling2D, MaxPool2D=_layers.MaxPooling2D,
    GlobalAveragePooling2D=_layers.GlobalAveragePooling2D, Layer=_layers.Layer,
)

__all__ = ["Input", "KerasTensor", "Sequential", "activations", "callbacks", "initializers", "layers", "losses",
           "metrics", "optimizers", "regularizers", "utils"]
