"""tapegrad.keras: the Keras 3-style Sequential API, checked against hand computation and Keras's documented
semantics: layers (channels-last), losses, optimizers' update rules, regularization, fit/evaluate/predict,
callbacks and their order, the progress output, weights and checkpoints, and the errors for bad input."""

import io
import math
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.keras as keras
from tapegrad.keras import callbacks as kc
from tapegrad.keras import layers as kl


# ---------------------------------------------------------------------- helpers
def dense_model(n_in, *layers):
    return keras.Sequential([keras.Input(shape=(n_in,)), *layers])


def linear_regression(n=8, n_in=3, n_out=1, seed=0):
    """A small regression problem, float32, with a model Dense(n_out) that SGD can be checked against."""
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, n_in)).astype(np.float32)
    y = (x @ r.normal(size=(n_in, n_out)) + 0.5).astype(np.float32)
    return x, y


def mse_grads(x, y, kernel, bias):
    """Gradients of mean((x @ kernel + bias - y) ** 2) in float64: (d kernel, d bias)."""
    x, y = x.astype(np.float64), y.astype(np.float64).reshape(len(x), -1)
    r = x @ kernel + bias - y
    return 2 * x.T @ r / r.size, 2 * r.sum(0) / r.size


def blobs(n=64, seed=0):
    """Two well-separated Gaussian blobs in 2-D, labels 0/1."""
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, n)
    x = (r.normal(size=(n, 2)) * 0.5 + np.where(y[:, None] == 1, 2.0, -2.0)).astype(np.float32)
    return x, y


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


class Recorder(kc.Callback):
    """Records every hook call as (name, epoch-or-batch or None, logs copy)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _log(self, name, index=None, logs=None):
        self.calls.append((name, index, dict(logs or {})))

    def on_train_begin(self, logs=None): self._log("on_train_begin", None, logs)
    def on_train_end(self, logs=None): self._log("on_train_end", None, logs)
    def on_epoch_begin(self, epoch, logs=None): self._log("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._log("on_epoch_end", epoch, logs)
    def on_train_batch_begin(self, batch, logs=None): self._log("on_train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._log("on_train_batch_end", batch, logs)
    def on_test_begin(self, logs=None): self._log("on_test_begin", None, logs)
    def on_test_end(self, logs=None): self._log("on_test_end", None, logs)
    def on_test_batch_begin(self, batch, logs=None): self._log("on_test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._log("on_test_batch_end", batch, logs)
    def on_predict_begin(self, logs=None): self._log("on_predict_begin", None, logs)
    def on_predict_end(self, logs=None): self._log("on_predict_end", None, logs)
    def on_predict_batch_begin(self, batch, logs=None): self._log("on_predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._log("on_predict_batch_end", batch, logs)

    def names(self):
        return [c[0] for c in self.calls]


class WeightsAt(kc.Callback):
    """Keeps a copy of the model's weights at the end of every epoch (and at the start of every batch)."""

    def __init__(self):
        super().__init__()
        self.epoch_end, self.batch_begin = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_end.append(snapshot(self.model))

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_begin.append(snapshot(self.model))


# ---------------------------------------------------------------------- building models
def test_sequential_from_a_list_infers_every_shape_from_the_input():
    model = keras.Sequential([keras.Input(shape=(3,)), kl.Dense(5, activation="relu"), kl.Dense(2)])
    assert model.built and len(model.layers) == 2
    assert [w.shape for w in model.get_weights()] == [(3, 5), (5,), (5, 2), (2,)]
    assert model.predict(np.zeros((4, 3))).shape == (4, 2)


def test_sequential_add_and_an_int_input_shape():
    model = keras.Sequential()
    model.add(keras.Input(shape=4))
    model.add(kl.Dense(3))
    model.add(kl.Activation("tanh"))
    model.add(kl.Dense(1))
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (3, 1), (1,)]


def test_input_shape_on_the_first_layer_builds_the_model():
    model = keras.Sequential([kl.Dense(2, input_shape=(5,))])
    assert model.built and model.get_weights()[0].shape == (5, 2)
    assert keras.Sequential([kl.Dense(2, input_dim=4)]).get_weights()[0].shape == (4, 2)


def test_a_model_without_input_is_built_by_its_first_fit():
    model = keras.Sequential([kl.Dense(4), kl.Dense(1)])
    assert not model.built
    x, y = linear_regression(n=6, n_in=5)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, verbose=0)
    assert model.built and [w.shape for w in model.get_weights()] == [(5, 4), (4,), (4, 1), (1,)]


def test_add_refuses_what_is_not_a_layer_and_input_after_layers():
    model = keras.Sequential([kl.Dense(2)])
    with pytest.raises(ValueError, match="Input must come before"):
        model.add(keras.Input(shape=(3,)))
    with pytest.raises(TypeError, match="expected a Keras layer"):
        model.add(tg.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="expected a Keras layer"):
        model.add("dense")


def test_layers_get_unique_keras_style_names():
    a, b = kl.Dense(1), kl.Dense(1)
    assert a.name != b.name and a.name.startswith("dense") and b.name.startswith("dense")
    assert kl.Dense(1, name="head").name == "head"
    assert kl.MaxPooling2D().name.startswith("max_pooling2d")


def test_a_nested_model_follows_its_outer_models_mode_and_weights():
    inner = keras.Sequential([kl.Dense(4, kernel_regularizer=keras.regularizers.l2(0.5)), kl.Dropout(0.5)])
    model = dense_model(3, inner, kl.Dense(1))
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4, 1), (1,)]
    assert model.count_params() == 21
    x = np.ones((64, 3), np.float32)
    hidden = keras.Sequential([keras.Input(shape=(3,)), inner])
    assert np.any(hidden(x, training=True).detach().numpy() == 0)  # dropout inside the nested model
    np.testing.assert_allclose(hidden(x).detach().numpy(), hidden.predict(x), rtol=1e-6)
    model.compile("sgd", "mse")
    kernel = model.get_weights()[0]
    y = np.zeros((64, 1), np.float32)
    expected = np.mean(model.predict(x) ** 2) + 0.5 * np.sum(kernel ** 2)  # the nested penalty, counted once
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)


def test_a_layer_call_takes_a_training_flag():
    drop = kl.Dropout(0.5)
    x = tg.ones(1000)
    drop.eval()
    assert np.any(drop(x, training=True).numpy() == 0) and not drop.training
    drop.train()
    np.testing.assert_array_equal(drop(x, training=False).numpy(), 1.0)


# ---------------------------------------------------------------------- Dense
def test_dense_forward_is_x_at_kernel_plus_bias_with_keras_kernel_layout():
    model = dense_model(3, kl.Dense(4))
    kernel, bias = model.get_weights()
    assert kernel.shape == (3, 4) and bias.shape == (4,)  # Keras: (in, out)
    r = np.random.default_rng(1)
    kernel, bias = r.normal(size=(3, 4)).astype(np.float32), r.normal(size=4).astype(np.float32)
    model.set_weights([kernel, bias])
    x = r.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), x @ kernel + bias, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x).detach().numpy(), x @ kernel + bias, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation, fn", [
    ("relu", lambda z: np.maximum(z, 0)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("softmax", lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)),
    (keras.activations.relu, lambda z: np.maximum(z, 0)),
])
def test_dense_activations(activation, fn):
    model = dense_model(3, kl.Dense(4, activation=activation))
    kernel, bias = model.get_weights()
    x = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), fn(x @ kernel + bias), rtol=1e-5, atol=1e-6)


def test_dense_without_bias_has_only_a_kernel():
    model = dense_model(3, kl.Dense(2, use_bias=False))
    (kernel,) = model.get_weights()
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(model.predict(x), x @ kernel, rtol=1e-6)
    assert model.count_params() == 6


def test_dense_on_a_3d_input_acts_on_the_last_axis():
    model = keras.Sequential([keras.Input(shape=(2, 3)), kl.Dense(4)])
    kernel, bias = model.get_weights()
    x = np.random.default_rng(3).normal(size=(5, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), x @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_dense_rejects_bad_units_and_unknown_arguments():
    with pytest.raises(ValueError, match="units"):
        kl.Dense(0)
    with pytest.raises(TypeError, match="unexpected"):
        kl.Dense(2, activaton="relu")
    with pytest.raises(ValueError, match="unknown activation"):
        kl.Dense(2, activation="nope")


# ---------------------------------------------------------------------- initializers
def test_default_initializers_are_glorot_uniform_kernels_and_zero_biases():
    model = dense_model(30, kl.Dense(50))
    kernel, bias = model.get_weights()
    limit = math.sqrt(6 / (30 + 50))
    assert np.all(np.abs(kernel) <= limit) and np.abs(kernel).max() > 0.9 * limit
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.1 * limit / math.sqrt(3)  # uniform's std
    assert abs(kernel.mean()) < 0.05 * limit
    np.testing.assert_array_equal(bias, 0)


def test_conv_glorot_fans_count_the_receptive_field():
    model = keras.Sequential([keras.Input(shape=(6, 6, 4)), kl.Conv2D(8, 3)])
    kernel, bias = model.get_weights()
    assert kernel.shape == (3, 3, 4, 8)  # Keras: (kh, kw, in, out)
    limit = math.sqrt(6 / (3 * 3 * 4 + 3 * 3 * 8))
    assert np.all(np.abs(kernel) <= limit) and np.abs(kernel).max() > 0.9 * limit
    np.testing.assert_array_equal(bias, 0)


@pytest.mark.parametrize("init, check", [
    ("zeros", lambda k: np.all(k == 0)),
    ("ones", lambda k: np.all(k == 1)),
    (keras.initializers.Constant(0.25), lambda k: np.all(k == 0.25)),
    (keras.initializers.RandomUniform(-0.01, 0.01), lambda k: np.all(np.abs(k) <= 0.01)),
    ("he_normal", lambda k: np.all(np.abs(k) <= 2 * math.sqrt(2 / 40) / 0.8796 + 1e-6)),
    (lambda shape, dtype=None: np.full(shape, 3.0), lambda k: np.all(k == 3)),
])
def test_kernel_initializer_choices(init, check):
    model = dense_model(40, kl.Dense(20, kernel_initializer=init))
    assert check(model.get_weights()[0])


def test_unknown_initializer_is_an_error():
    with pytest.raises(ValueError, match="unknown initializer"):
        kl.Dense(2, kernel_initializer="glorot_uniformm")


# ---------------------------------------------------------------------- Dropout, Flatten, Activation
def test_dropout_zeroes_a_fraction_and_scales_the_rest_in_training_only():
    model = dense_model(2000, kl.Dropout(0.3))
    x = np.ones((4, 2000), np.float32)
    out = model(x, training=True).detach().numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)  # Keras scales kept inputs by 1 / (1 - rate)
    assert abs(1 - kept.mean() - 0.3) < 0.03
    np.testing.assert_array_equal(model(x).numpy(), x)  # training=False is the default, as in Keras
    np.testing.assert_array_equal(model.predict(x), x)
    with pytest.raises(ValueError, match="rate"):
        kl.Dropout(1.0)


def test_flatten_keeps_keras_channels_last_order():
    model = keras.Sequential([keras.Input(shape=(2, 3, 4)), kl.Flatten()])
    x = np.arange(2 * 24, dtype=np.float32).reshape(2, 2, 3, 4)
    np.testing.assert_array_equal(model.predict(x), x.reshape(2, 24))


def test_activation_layer():
    model = dense_model(3, kl.Activation("relu"))
    x = np.array([[-1.0, 0.0, 2.0]], np.float32)
    np.testing.assert_array_equal(model.predict(x), [[0.0, 0.0, 2.0]])
    assert model.count_params() == 0


# ---------------------------------------------------------------------- BatchNormalization
def test_batchnorm_defaults_and_training_forward():
    bn = kl.BatchNormalization()
    assert (bn.momentum, bn.epsilon) == (0.99, 1e-3)  # Keras's defaults
    model = dense_model(3, bn)
    x = np.random.default_rng(4).normal(2.0, 3.0, size=(16, 3)).astype(np.float32)
    out = model(x, training=True).detach().numpy()
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_batchnorm_moving_statistics_follow_keras():
    model = dense_model(3, kl.BatchNormalization())
    x = np.random.default_rng(5).normal(1.0, 2.0, size=(8, 3)).astype(np.float32)
    model(x, training=True)
    gamma, beta, moving_mean, moving_var = model.get_weights()
    np.testing.assert_array_equal(gamma, 1)
    np.testing.assert_array_equal(beta, 0)
    # moving = 0.99 * moving + 0.01 * batch, with the biased (1/n) batch variance
    np.testing.assert_allclose(moving_mean, 0.01 * x.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(moving_var, 0.99 + 0.01 * x.var(0), rtol=1e-5)
    # inference uses the moving statistics and changes nothing
    out = model.predict(x)
    np.testing.assert_allclose(out, (x - moving_mean) / np.sqrt(moving_var + 1e-3), rtol=1e-4, atol=1e-5)
    assert_same_weights(model.get_weights(), [gamma, beta, moving_mean, moving_var])


def test_batchnorm_on_images_normalizes_the_last_axis():
    model = keras.Sequential([keras.Input(shape=(4, 5, 2)), kl.BatchNormalization(momentum=0.5)])
    x = np.random.default_rng(6).normal(size=(3, 4, 5, 2)).astype(np.float32) * [1.0, 10.0] + [0.0, 5.0]
    out = model(x, training=True).detach().numpy()
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.get_weights()[2], 0.5 * mean, rtol=1e-5, atol=1e-6)


def test_batchnorm_weights_count_in_summary_as_non_trainable(capsys):
    model = dense_model(3, kl.Dense(4), kl.BatchNormalization(), kl.Dense(1))
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4,), (4,), (4,), (4,), (4, 1), (1,)]
    assert model.count_params() == 16 + 16 + 5
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 37" in out and "Trainable params: 29" in out and "Non-trainable params: 8" in out


def test_batchnorm_center_and_scale_off():
    model = dense_model(2, kl.BatchNormalization(center=False, scale=False))
    assert [w.shape for w in model.get_weights()] == [(2,), (2,)]  # only the moving statistics


def test_batchnorm_trains_with_a_last_batch_of_one():
    model = dense_model(2, kl.Dense(3), kl.BatchNormalization(), kl.Dense(1))
    model.compile("sgd", "mse")
    x, y = linear_regression(n=5, n_in=2)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)  # batches of 4 and 1
    assert all(np.isfinite(history.history["loss"]))
    assert all(np.isfinite(w).all() for w in model.get_weights())


# ---------------------------------------------------------------------- Conv2D and MaxPooling2D
def conv_reference(x, kernel, bias, stride=1):
    kh, kw = kernel.shape[:2]
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("nijcab,abcf->nijf", win, kernel) + bias  # win: (n, oh, ow, c, kh, kw)


def test_conv2d_is_channels_last_valid_by_default_and_matches_numpy():
    conv = kl.Conv2D(3, (2, 3))
    assert conv.padding == "valid" and conv.strides == (1, 1)
    model = keras.Sequential([keras.Input(shape=(5, 6, 2)), conv])
    r = np.random.default_rng(7)
    kernel, bias = r.normal(size=(2, 3, 2, 3)).astype(np.float32), r.normal(size=3).astype(np.float32)
    model.set_weights([kernel, bias])
    x = r.normal(size=(2, 5, 6, 2)).astype(np.float32)
    out = model.predict(x)
    assert out.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(out, conv_reference(x, kernel, bias), rtol=1e-4, atol=1e-5)


def test_conv2d_strides_and_same_padding_shapes():
    x = np.random.default_rng(8).normal(size=(1, 7, 7, 1)).astype(np.float32)
    strided = keras.Sequential([keras.Input(shape=(7, 7, 1)), kl.Conv2D(2, 3, strides=2)])
    kernel, bias = strided.get_weights()
    np.testing.assert_allclose(strided.predict(x), conv_reference(x, kernel, bias, 2), rtol=1e-4, atol=1e-5)
    same = keras.Sequential([keras.Input(shape=(7, 7, 1)), kl.Conv2D(2, 3, padding="same")])
    assert same.predict(x).shape == (1, 7, 7, 2)
    same2 = keras.Sequential([keras.Input(shape=(7, 7, 1)), kl.Conv2D(2, 3, strides=2, padding="same")])
    assert same2.predict(x).shape == (1, 4, 4, 2)  # ceil(7 / 2)


def test_maxpooling2d_defaults_to_strides_equal_to_the_pool():
    model = keras.Sequential([keras.Input(shape=(4, 6, 2)), kl.MaxPooling2D()])
    x = np.random.default_rng(9).normal(size=(3, 4, 6, 2)).astype(np.float32)
    expected = x.reshape(3, 2, 2, 3, 2, 2).max(axis=(2, 4))
    np.testing.assert_array_equal(model.predict(x), expected)
    odd = keras.Sequential([keras.Input(shape=(5, 5, 1)), kl.MaxPooling2D(pool_size=2)])
    assert odd.predict(np.zeros((1, 5, 5, 1))).shape == (1, 2, 2, 1)  # 'valid': the last row is dropped
    same = keras.Sequential([keras.Input(shape=(5, 5, 1)), kl.MaxPooling2D(2, padding="same")])
    xs = -np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    out = same.predict(xs)
    assert out.shape == (1, 3, 3, 1) and out[0, 2, 2, 0] == xs[0, 4, 4, 0]  # padding never wins the max


def test_global_average_pooling2d():
    model = keras.Sequential([keras.Input(shape=(3, 4, 2)), kl.GlobalAveragePooling2D()])
    x = np.random.default_rng(16).normal(size=(2, 3, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), x.mean(axis=(1, 2)), rtol=1e-6)


def test_a_small_cnn_infers_shapes_and_counts_parameters(capsys):
    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), kl.Conv2D(4, 3, activation="relu"),
                              kl.MaxPooling2D(), kl.Flatten(), kl.Dense(3, activation="softmax")])
    model.summary()
    out = capsys.readouterr().out
    for shape, params in (("(None, 6, 6, 4)", "40"), ("(None, 3, 3, 4)", "0"), ("(None, 36)", "0"),
                          ("(None, 3)", "111")):
        assert any(shape in line and line.split()[-1] == params for line in out.splitlines()), (shape, out)
    assert "Total params: 151" in out


def test_conv2d_needs_image_inputs():
    model = keras.Sequential([kl.Conv2D(2, 3)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="height, width, channels"):
        model.fit(np.zeros((4, 8, 8)), np.zeros((4, 6, 6, 2)), verbose=0)


def test_a_tiny_cnn_learns_left_from_right():
    r = np.random.default_rng(10)
    y = r.integers(0, 2, 48)
    x = r.normal(0, 0.1, size=(48, 6, 6, 1)).astype(np.float32)
    x[y == 0, :, :2] += 1.0
    x[y == 1, :, 4:] += 1.0
    model = keras.Sequential([keras.Input(shape=(6, 6, 1)), kl.Conv2D(4, 3, activation="relu"),
                              kl.MaxPooling2D(), kl.Flatten(), kl.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    assert history.history["accuracy"][-1] >= 0.95
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---------------------------------------------------------------------- compile
@pytest.mark.parametrize("name, cls", [("adam", keras.optimizers.Adam), ("sgd", keras.optimizers.SGD),
                                       ("rmsprop", keras.optimizers.RMSprop), ("AdamW", keras.optimizers.AdamW)])
def test_compile_optimizer_names(name, cls):
    model = dense_model(2, kl.Dense(1))
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer) is cls


def test_optimizer_defaults_are_keras_3s():
    adam = keras.optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.001, 0.9, 0.999, 1e-7,
                                                                                         False)
    assert keras.optimizers.SGD().learning_rate == 0.01 and keras.optimizers.SGD().momentum == 0.0
    rms = keras.optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.epsilon, rms.momentum) == (0.001, 0.9, 1e-7, 0.0)
    assert keras.optimizers.AdamW().weight_decay == 0.004
    assert keras.optimizers.Adam(learning_rate=0.5).learning_rate == 0.5


def test_compile_errors():
    model = dense_model(2, kl.Dense(1))
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile(optimizer="adam", loss="msee")
    with pytest.raises(ValueError, match="loss is required"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="unknown metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(TypeError, match="must be a list"):
        model.compile(optimizer="adam", loss="mse", metrics="accuracy")
    with pytest.raises(ValueError, match="learning_rate"):
        keras.optimizers.SGD(learning_rate=-1.0)


def test_compile_with_a_tapegrad_optimizer_object():
    model = dense_model(3, kl.Dense(1))
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    model.compile(optimizer=opt, loss="mse")
    x, y = linear_regression()
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    other = dense_model(3, kl.Dense(1))
    other.compile(optimizer=tg.optim.SGD(model.parameters(), lr=0.1), loss="mse")
    with pytest.raises(ValueError, match="does not hold this model's weights"):
        other.fit(x, y, verbose=0)


def test_accuracy_follows_keras_3s_choice_from_shapes():
    x, y = blobs(32)
    binary = dense_model(2, kl.Dense(1, activation="sigmoid"))
    binary.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    loss, acc = binary.evaluate(x, y, verbose=0)
    assert acc == np.mean((binary.predict(x)[:, 0] > 0.5) == y)

    sparse = dense_model(2, kl.Dense(2, activation="softmax"))
    sparse.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc"])
    loss, acc = sparse.evaluate(x, y, verbose=0)
    assert acc == np.mean(sparse.predict(x).argmax(1) == y)

    onehot = keras.utils.to_categorical(y, 2)
    cat = dense_model(2, kl.Dense(2, activation="softmax"))
    cat.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    loss, acc = cat.evaluate(x, onehot, verbose=0)
    assert acc == np.mean(cat.predict(x).argmax(1) == y)

    regression = dense_model(2, kl.Dense(1))  # 'accuracy' with one output unit is binary accuracy in Keras 3
    regression.compile("sgd", "mse", metrics=["accuracy"])
    loss, acc = regression.evaluate(x, y.astype(np.float32), verbose=0)
    assert acc == np.mean((regression.predict(x)[:, 0] > 0.5) == y)


def test_named_and_callable_metrics():
    x, y = linear_regression(n=10)
    model = dense_model(3, kl.Dense(1))

    def max_error(y_true, y_pred):
        return np.abs(y_true.reshape(-1) - y_pred.reshape(-1)).max()

    model.compile("sgd", "mse", metrics=["mae", "mse", max_error])
    loss, mae, mse, max_err = model.evaluate(x, y, batch_size=10, verbose=0)
    p = model.predict(x)
    np.testing.assert_allclose([loss, mae, mse, max_err],
                               [np.mean((p - y) ** 2), np.mean(np.abs(p - y)), np.mean((p - y) ** 2),
                                np.abs(p - y).max()], rtol=1e-5)
    assert sorted(model.evaluate(x, y, verbose=0, return_dict=True)) == ["loss", "mae", "max_error", "mse"]


def test_metrics_reproduce_keras_documented_examples():
    M = keras.metrics
    cases = [
        (M.BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], [1, 0, 0, 1], 0.75, 0.5),
        (M.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3], 0.5, 0.3),
        (M.CategoricalAccuracy(), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3], 0.5, 0.3),
        (M.Accuracy(), [[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0], 0.75, 0.5),
        # several output columns: the mean is over the last axis, then over samples (Keras's documented values)
        (M.MeanSquaredError(), [[0, 1], [0, 0]], [[1, 1], [0, 0]], [1, 0], 0.25, 0.5),
        (M.MeanAbsoluteError(), [[0, 1], [0, 0]], [[1, 1], [0, 0]], [1, 0], 0.25, 0.5),
        (M.MeanSquaredError(), [[0, 1, 0], [2, 0, 1]], [[1, 1, 0], [0, 0, 0]], [0, 1], 1.0, 5 / 3),
    ]
    for metric, y_true, y_pred, weights, plain, weighted in cases:
        metric.update_state(y_true, y_pred)
        assert metric.result() == pytest.approx(plain)
        metric.reset_state()
        metric.update_state(y_true, y_pred, sample_weight=weights)
        assert metric.result() == pytest.approx(weighted)
    assert M.SparseCategoricalAccuracy().name == "sparse_categorical_accuracy"


# ---------------------------------------------------------------------- losses against numpy and Keras's docs
def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _clip(p):
    return np.clip(p, 1e-7, 1 - 1e-7)


def test_losses_reproduce_keras_documented_examples():
    L = keras.losses
    y2, p2 = [[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]
    assert L.MeanSquaredError()(y2, p2).item() == pytest.approx(0.5)
    assert L.MeanAbsoluteError()(y2, p2).item() == pytest.approx(0.5)
    assert L.BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).item() == \
        pytest.approx((0.916 + 0.714) / 2, abs=1e-3)
    assert L.BinaryCrossentropy(from_logits=True)([0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8]).item() == \
        pytest.approx(0.865, abs=1e-3)
    probs = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    assert L.CategoricalCrossentropy()([[0, 1, 0], [0, 0, 1]], probs).item() == pytest.approx(1.177, abs=1e-3)
    assert L.SparseCategoricalCrossentropy()([1, 2], probs).item() == pytest.approx(1.177, abs=1e-3)


@pytest.mark.parametrize("from_logits", [False, True])
def test_crossentropies_against_numpy(from_logits):
    r = np.random.default_rng(11)
    z = r.normal(0, 2, size=(7, 4)).astype(np.float32)
    labels = r.integers(0, 4, 7)
    onehot = np.eye(4, dtype=np.float32)[labels]
    pred = z if from_logits else _softmax(z).astype(np.float32)
    logp = _log_softmax(z.astype(np.float64)) if from_logits else np.log(_clip(pred.astype(np.float64)))
    expected = -np.mean(logp[np.arange(7), labels])
    L = keras.losses
    np.testing.assert_allclose(L.SparseCategoricalCrossentropy(from_logits=from_logits)(labels, pred).item(),
                               expected, rtol=1e-5)
    np.testing.assert_allclose(L.SparseCategoricalCrossentropy(from_logits=from_logits)(labels[:, None], pred)
                               .item(), expected, rtol=1e-5)
    np.testing.assert_allclose(L.CategoricalCrossentropy(from_logits=from_logits)(onehot, pred).item(),
                               expected, rtol=1e-5)

    zb = z[:, :1]
    yb = (labels[:, None] % 2).astype(np.float32)
    if from_logits:
        expected_b = np.mean(np.maximum(zb, 0) - zb * yb + np.log1p(np.exp(-np.abs(zb))))
        pb = zb
    else:
        pb = (1 / (1 + np.exp(-zb))).astype(np.float32)
        q = _clip(pb.astype(np.float64))
        expected_b = -np.mean(yb * np.log(q) + (1 - yb) * np.log(1 - q))
    np.testing.assert_allclose(L.BinaryCrossentropy(from_logits=from_logits)(yb, pb).item(), expected_b, rtol=1e-5)


def test_probability_losses_clip_and_renormalize_as_keras():
    L = keras.losses
    # a confident wrong answer costs -log(1e-7), not infinity
    assert L.BinaryCrossentropy()([1.0], [0.0]).item() == pytest.approx(-math.log(1e-7), rel=1e-3)
    assert L.SparseCategoricalCrossentropy()([0], [[0.0, 1.0]]).item() == pytest.approx(-math.log(1e-7), rel=1e-3)
    # outputs that do not sum to 1 are divided by their sum first
    p = np.array([[0.2, 0.6, 0.2], [1.0, 1.0, 2.0]], np.float32)
    q = p / p.sum(-1, keepdims=True)
    expected = -np.mean(np.log(q[[0, 1], [1, 2]]))
    np.testing.assert_allclose(L.SparseCategoricalCrossentropy()([1, 2], p).item(), expected, rtol=1e-5)
    np.testing.assert_allclose(L.CategoricalCrossentropy()(np.eye(3)[[1, 2]], p).item(), expected, rtol=1e-5)


@pytest.mark.parametrize("from_logits", [False, True])
def test_label_smoothing(from_logits):
    L = keras.losses
    z = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, -3.0]], np.float32)
    onehot = np.eye(3, dtype=np.float32)[[0, 2]]
    smooth = onehot * 0.8 + 0.2 / 3
    pred = z if from_logits else _softmax(z)
    logp = _log_softmax(z.astype(np.float64)) if from_logits else np.log(_clip(_softmax(z.astype(np.float64))))
    np.testing.assert_allclose(L.CategoricalCrossentropy(from_logits, label_smoothing=0.2)(onehot, pred).item(),
                               -np.mean(np.sum(smooth * logp, -1)), rtol=1e-5)
    yb, zb = np.array([[1.0], [0.0]], np.float32), z[:, :1]
    t = yb * 0.8 + 0.1
    q = 1 / (1 + np.exp(-zb.astype(np.float64)))
    expected = -np.mean(t * np.log(q) + (1 - t) * np.log(1 - q))
    np.testing.assert_allclose(L.BinaryCrossentropy(from_logits, label_smoothing=0.2)(yb, zb if from_logits else q)
                               .item(), expected, rtol=1e-5)


def test_regression_losses_against_numpy():
    r = np.random.default_rng(12)
    y, p = r.normal(size=(6, 3)).astype(np.float32), r.normal(size=(6, 3)).astype(np.float32)
    np.testing.assert_allclose(keras.losses.MeanSquaredError()(y, p).item(), np.mean((y - p) ** 2), rtol=1e-5)
    np.testing.assert_allclose(keras.losses.MeanAbsoluteError()(y, p).item(), np.mean(np.abs(y - p)), rtol=1e-5)


@pytest.mark.parametrize("loss", ["mse", "mae", "binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_evaluate_reports_the_loss_of_the_predictions(loss):
    r = np.random.default_rng(13)
    x = r.normal(size=(20, 3)).astype(np.float32)
    labels = r.integers(0, 3, 20)
    if loss in ("mse", "mae"):
        model, y = dense_model(3, kl.Dense(2)), r.normal(size=(20, 2)).astype(np.float32)
    elif loss == "binary_crossentropy":
        model, y = dense_model(3, kl.Dense(1, activation="sigmoid")), (labels % 2).astype(np.float32)
    elif loss == "categorical_crossentropy":
        model, y = dense_model(3, kl.Dense(3, activation="softmax")), np.eye(3)[labels]
    else:
        model, y = dense_model(3, kl.Dense(3, activation="softmax")), labels
    model.compile("sgd", loss)
    p = model.predict(x).astype(np.float64)
    if loss == "mse":
        expected = np.mean((p - y) ** 2)
    elif loss == "mae":
        expected = np.mean(np.abs(p - y))
    elif loss == "binary_crossentropy":
        q = _clip(p[:, 0])
        expected = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
    else:
        expected = -np.mean(np.log(_clip(p[np.arange(20), labels])))
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=7, verbose=0), expected, rtol=1e-5)


def test_a_callable_loss():
    def half_squared(y_true, y_pred):
        return ((y_pred - y_true.reshape(y_pred.shape)) ** 2).mean() * 0.5

    x, y = linear_regression()
    model = dense_model(3, kl.Dense(1))
    model.compile("sgd", loss=half_squared)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), 0.5 * np.mean((model.predict(x) - y) ** 2),
                               rtol=1e-5)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


# ---------------------------------------------------------------------- optimizers: one step by hand
def full_batch_fit(model, x, y, epochs=1, **kw):
    return model.fit(x, y, batch_size=len(x), epochs=epochs, shuffle=False, verbose=0, **kw)


def test_one_sgd_step_moves_the_weights_by_minus_lr_times_the_gradient():
    x, y = linear_regression(n_out=2)
    model = dense_model(3, kl.Dense(2))
    model.compile(keras.optimizers.SGD(learning_rate=0.1), "mse")
    kernel, bias = model.get_weights()
    gk, gb = mse_grads(x, y, kernel, bias)
    full_batch_fit(model, x, y)
    k1, b1 = model.get_weights()
    np.testing.assert_allclose(k1, kernel - 0.1 * gk, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, bias - 0.1 * gb, rtol=1e-5, atol=1e-6)


def _run_by_hand(x, y, kernel, bias, steps, update):
    w = [kernel.astype(np.float64), bias.astype(np.float64)]
    state = [{}, {}]
    for t in range(1, steps + 1):
        grads = mse_grads(x, y, *w)
        w = [update(p, g, s, t) for p, g, s in zip(w, grads, state)]
    return w


def _check_optimizer(opt, update, steps=3, x_y=None, **fit_kw):
    x, y = x_y or linear_regression()
    model = dense_model(3, kl.Dense(1))
    model.compile(opt, "mse")
    kernel, bias = model.get_weights()
    full_batch_fit(model, x, y, epochs=steps, **fit_kw)
    expected = _run_by_hand(x, y, kernel, bias, steps, update)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_adam_uses_keras_epsilon_hat():
    lr, b1, b2, eps = 0.05, 0.9, 0.999, 0.1  # a large epsilon shows where it is added

    def adam(p, g, s, t):
        m = s["m"] = s.get("m", 0) + (g - s.get("m", 0)) * (1 - b1)
        v = s["v"] = s.get("v", 0) + (g * g - s.get("v", 0)) * (1 - b2)
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return p - alpha * m / (np.sqrt(v) + eps)

    _check_optimizer(keras.optimizers.Adam(learning_rate=lr, epsilon=eps), adam)


def test_rmsprop_adds_epsilon_inside_the_square_root():
    lr, rho, eps = 0.01, 0.9, 0.1

    def rmsprop(p, g, s, t):
        v = s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
        return p - lr * g / np.sqrt(v + eps)

    _check_optimizer(keras.optimizers.RMSprop(learning_rate=lr, epsilon=eps), rmsprop)


def test_sgd_momentum_keeps_a_keras_velocity_across_learning_rate_changes():
    lrs, mom = [0.1, 0.01, 0.05], 0.9

    def sgd(p, g, s, t):
        m = s["m"] = mom * s.get("m", 0) - lrs[t - 1] * g  # Keras: the velocity holds lr * g, not g
        return p + m

    schedule = kc.LearningRateScheduler(lambda epoch, lr: lrs[epoch])
    _check_optimizer(keras.optimizers.SGD(momentum=mom), sgd, callbacks=[schedule])


def test_sgd_nesterov():
    lr, mom = 0.05, 0.8

    def nesterov(p, g, s, t):
        m = s["m"] = mom * s.get("m", 0) - lr * g
        return p + mom * m - lr * g

    _check_optimizer(keras.optimizers.SGD(lr, momentum=mom, nesterov=True), nesterov)


@pytest.mark.parametrize("make", [lambda: keras.optimizers.SGD(0.1, momentum=0.5, weight_decay=0.2),
                                  lambda: keras.optimizers.AdamW(0.1, weight_decay=0.2)])
def test_weight_decay_is_decoupled_and_applied_first(make):
    opt = make()

    def step(p, g, s, t):
        p = p - p * 0.2 * 0.1  # w -= lr * weight_decay * w, before the update
        if isinstance(opt, keras.optimizers.SGD):
            m = s["m"] = 0.5 * s.get("m", 0) - 0.1 * g
            return p + m
        m = s["m"] = s.get("m", 0) + (g - s.get("m", 0)) * 0.1
        v = s["v"] = s.get("v", 0) + (g * g - s.get("v", 0)) * 0.001
        return p - 0.1 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-7)

    _check_optimizer(opt, step, steps=2)


def test_learning_rate_can_be_changed_between_fits():
    x, y = linear_regression()
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    full_batch_fit(model, x, y)
    model.optimizer.learning_rate = 0.0
    before = snapshot(model)
    full_batch_fit(model, x, y)
    assert_same_weights(model.get_weights(), before)
    assert model.optimizer.iterations == 2


# ---------------------------------------------------------------------- regularization
def test_regularization_is_added_to_the_loss_and_to_the_gradient():
    x, y = linear_regression(n_out=2)
    model = dense_model(3, kl.Dense(2, kernel_regularizer=keras.regularizers.l2(0.1),
                                    bias_regularizer=keras.regularizers.l1(0.2)))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    model.set_weights([np.full((3, 2), 0.5, np.float32), np.array([0.3, -0.4], np.float32)])
    kernel, bias = model.get_weights()
    data_loss = np.mean((x @ kernel + bias - y) ** 2)
    penalty = 0.1 * np.sum(kernel ** 2) + 0.2 * np.sum(np.abs(bias))  # Keras: no 1/2 on the L2 term
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), data_loss + penalty, rtol=1e-5)
    history = full_batch_fit(model, x, y)
    np.testing.assert_allclose(history.history["loss"][0], data_loss + penalty, rtol=1e-5)
    gk, gb = mse_grads(x, y, kernel, bias)
    k1, b1 = model.get_weights()
    np.testing.assert_allclose(k1, kernel - 0.05 * (gk + 2 * 0.1 * kernel), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, bias - 0.05 * (gb + 0.2 * np.sign(bias)), rtol=1e-5, atol=1e-6)


def test_l1_l2_and_regularizer_names():
    w = tg.tensor(np.array([[1.0, -2.0], [0.5, 0.0]], np.float32))
    R = keras.regularizers
    assert R.l1_l2(l1=0.1, l2=0.2)(w).item() == pytest.approx(0.1 * 3.5 + 0.2 * 5.25)
    assert R.L1L2(l1=0.1)(w).item() == pytest.approx(0.35)
    assert float(R.l1_l2()(w)) == 0.0  # Keras 3: l1_l2 is L1L2, whose factors default to 0
    assert R.l2()(w).item() == pytest.approx(0.01 * 5.25)  # L2's default factor is 0.01
    assert R.get("l1_l2")(w).item() == pytest.approx(0.01 * 3.5 + 0.01 * 5.25)
    with pytest.raises(ValueError, match="l2"):
        R.l2(-1.0)
    conv = keras.Sequential([keras.Input(shape=(4, 4, 1)), kl.Conv2D(2, 3, kernel_regularizer="l2")])
    conv.compile("sgd", "mse")
    kernel, _ = conv.get_weights()
    x, y = np.zeros((2, 4, 4, 1), np.float32), np.zeros((2, 2, 2, 2), np.float32)
    np.testing.assert_allclose(conv.evaluate(x, y, verbose=0), 0.01 * np.sum(kernel ** 2), rtol=1e-5)


# ---------------------------------------------------------------------- fit learns
def test_fit_separates_two_blobs():
    x, y = blobs(64)
    model = dense_model(2, kl.Dense(1, activation="sigmoid"))
    model.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc == 1.0 and loss < 0.1


def test_fit_learns_xor_with_a_hidden_layer():
    keras.utils.set_random_seed(3)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 16, np.float32)
    y = np.array([0, 1, 1, 0] * 16)
    model = dense_model(2, kl.Dense(8, activation="tanh"), kl.Dense(1, activation="sigmoid"))
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=60, verbose=0)
    np.testing.assert_array_equal(model.predict(x[:4])[:, 0] > 0.5, [False, True, True, False])


def test_fit_with_softmax_and_categorical_targets():
    x, y = blobs(48)
    model = dense_model(2, kl.Dense(8, activation="relu"), kl.Dense(2, activation="softmax"))
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, keras.utils.to_categorical(y), epochs=20, batch_size=8, verbose=0)
    assert history.history["accuracy"][-1] >= 0.95


# ---------------------------------------------------------------------- History, evaluate, predict
def test_history_holds_loss_metrics_and_their_val_twins():
    x, y = blobs(40)
    model = dense_model(2, kl.Dense(2, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    assert isinstance(history, kc.History) and model.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.history.values()) and history.epoch == [0, 1, 2]
    assert all(isinstance(v, float) for vs in history.history.values() for v in vs)
    # the last epoch's val_ values are evaluate() on the held-out samples, with the final weights
    val_loss, val_acc = model.evaluate(x[30:], y[30:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_acc)


def test_validation_data_and_initial_epoch():
    x, y = blobs(40)
    model = dense_model(2, kl.Dense(1, activation="sigmoid"))
    model.compile("adam", "binary_crossentropy")
    history = model.fit(x[:30], y[:30], epochs=4, initial_epoch=2, validation_data=(x[30:], y[30:]), verbose=0)
    assert history.epoch == [2, 3] and len(history.history["val_loss"]) == 2
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x[30:], y[30:], verbose=0), rel=1e-6)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = linear_regression(n=10)
    rec = Recorder()
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    kernel, bias = model.get_weights()
    history = model.fit(x, y, batch_size=10, validation_split=0.3, shuffle=True, verbose=0, callbacks=[rec])
    assert rec.model is model and rec.params["steps"] == 1
    # the step used only the first 7 samples ...
    gk, gb = mse_grads(x[:7], y[:7], kernel, bias)
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * gk, rtol=1e-5, atol=1e-6)
    # ... and validation the last 3 (int(10 * 0.7) = 7, as Keras)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[7:], y[7:], verbose=0), rel=1e-6)


def test_evaluate_returns_a_list_with_metrics_and_a_scalar_without():
    x, y = blobs(20)
    model = dense_model(2, kl.Dense(2, activation="softmax"))
    model.compile("sgd", "sparse_categorical_crossentropy")
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, float)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2 and all(isinstance(v, float) for v in result)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": result[0], "accuracy": result[1]}


def test_evaluate_is_independent_of_batch_size_and_does_not_train():
    x, y = blobs(23)
    model = dense_model(2, kl.Dense(4, activation="relu"), kl.Dropout(0.5), kl.Dense(2, activation="softmax"))
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    before = snapshot(model)
    a = model.evaluate(x, y, batch_size=1, verbose=0)
    b = model.evaluate(x, y, batch_size=5, verbose=0)
    c = model.evaluate(x, y, batch_size=100, verbose=0)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6)
    assert_same_weights(model.get_weights(), before)


def test_predict_returns_numpy_independent_of_batch_size():
    model = dense_model(3, kl.Dense(4, activation="relu"), kl.Dropout(0.5), kl.BatchNormalization(), kl.Dense(2))
    x = np.random.default_rng(14).normal(size=(37, 3))
    out = model.predict(x)
    assert isinstance(out, np.ndarray) and out.shape == (37, 2) and out.dtype == np.float32
    for batch_size in (1, 4, 36, 37, 100):
        np.testing.assert_allclose(model.predict(x, batch_size=batch_size), out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.predict(tg.tensor(x.astype(np.float32))), out, rtol=1e-6)
    assert model.predict(x[:0]).shape == (0, 2)
    assert model.training  # predict leaves the model's mode as it found it


def test_shuffle_false_is_deterministic_and_shuffle_true_is_not():
    x, y = linear_regression(n=12)

    def run(shuffle, seed):
        tg.manual_seed(seed)  # the same weights below, but a different shuffling stream per seed
        model = dense_model(3, kl.Dense(1))
        model.set_weights([np.ones((3, 1), np.float32), np.zeros(1, np.float32)])
        model.compile(keras.optimizers.SGD(0.05), "mse")
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=shuffle, verbose=0)
        return history.history["loss"], model.get_weights()

    loss_a, w_a = run(False, 1)
    loss_b, w_b = run(False, 2)
    assert loss_a == loss_b
    assert_same_weights(w_a, w_b)
    _, w_c = run(True, 1)
    _, w_d = run(True, 2)
    assert not np.array_equal(w_c[0], w_d[0])


def test_set_random_seed_makes_runs_repeat_exactly():
    x, y = blobs(40)

    def run(seed):
        keras.utils.set_random_seed(seed)
        model = dense_model(2, kl.Dense(8, activation="relu"), kl.Dropout(0.3), kl.Dense(2, activation="softmax"))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.2, verbose=0)
        return history.history, model.get_weights()

    h1, w1 = run(42)
    h2, w2 = run(42)
    assert h1 == h2
    assert_same_weights(w1, w2)
    h3, _ = run(43)
    assert h3 != h1


def test_to_categorical():
    np.testing.assert_array_equal(keras.utils.to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    out = keras.utils.to_categorical(np.array([[1], [0]]), num_classes=4)
    assert out.shape == (2, 4)  # a trailing axis of 1 is dropped, as Keras 3
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [1, 0, 0, 0]])
    assert keras.utils.to_categorical(np.zeros((2, 3), int), 2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="must be in"):
        keras.utils.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="whole numbers"):
        keras.utils.to_categorical([0.5])


# ---------------------------------------------------------------------- summary
def test_summary_prints_layers_output_shapes_and_parameter_counts(capsys):
    model = keras.Sequential([keras.Input(shape=(3,)), kl.Dense(4, activation="relu", name="hidden"),
                              kl.Dropout(0.1, name="drop"), kl.Dense(2, name="out")], name="tiny")
    assert model.summary() is None
    out = capsys.readouterr().out
    assert 'Model: "tiny"' in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in
            ("hidden", "drop", "out")}
    assert "(Dense)" in rows["hidden"] and "(None, 4)" in rows["hidden"] and rows["hidden"].split()[-1] == "16"
    assert "(Dropout)" in rows["drop"] and rows["drop"].split()[-1] == "0"
    assert "(None, 2)" in rows["out"] and rows["out"].split()[-1] == "10"
    assert "Total params: 26" in out and "Trainable params: 26" in out and "Non-trainable params: 0" in out
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 26" in lines[0]


def test_summary_before_build_is_a_clear_error():
    with pytest.raises(ValueError, match="not built"):
        keras.Sequential([kl.Dense(2)]).summary()


# ---------------------------------------------------------------------- weights and checkpoints
def test_get_and_set_weights_round_trip_with_copies():
    model = dense_model(3, kl.Dense(4), kl.BatchNormalization(), kl.Dense(2))
    weights = model.get_weights()
    weights[0][...] = 7.0  # a copy: the model does not change
    assert not np.any(model.get_weights()[0] == 7.0)
    new = [np.random.default_rng(i).normal(size=w.shape).astype(np.float32) for i, w in enumerate(weights)]
    model.set_weights(new)
    assert_same_weights(model.get_weights(), new)
    new[0][...] = 0.0  # set_weights copied too
    assert not np.all(model.get_weights()[0] == 0.0)


def test_set_weights_checks_everything_before_changing_anything():
    model = dense_model(3, kl.Dense(4), kl.Dense(2))
    before = snapshot(model)
    with pytest.raises(ValueError, match="has 4 weights, got 3"):
        model.set_weights(before[:3])
    bad = [w.copy() + 1 for w in before]
    bad[2] = np.zeros((2, 4), np.float32)  # a transposed kernel for the second layer
    with pytest.raises(ValueError, match=r"expects shapes"):
        model.set_weights(bad)
    assert_same_weights(model.get_weights(), before)
    with pytest.raises(ValueError, match=r"expects shape \(4, 2\) for weight 0, got \(2, 4\)"):
        model.layers[1].set_weights([np.zeros((2, 4)), np.zeros(2)])  # errors speak Keras's (in, out) layout


def _trained_model_with_bn():
    x, y = linear_regression(n=16, n_in=3)
    model = dense_model(3, kl.Dense(4), kl.BatchNormalization(), kl.Dense(1))
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model, x


def test_save_and_load_weights_round_trip_through_a_file(tmp_path):
    model, x = _trained_model_with_bn()
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    assert zipfile.is_zipfile(path)
    fresh = dense_model(3, kl.Dense(4), kl.BatchNormalization(), kl.Dense(1))
    fresh.load_weights(str(path))
    assert_same_weights(fresh.get_weights(), model.get_weights())  # moving statistics too
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))
    assert [p.name for p in tmp_path.iterdir()] == ["model.weights.h5"]


def test_save_and_load_weights_through_a_file_object():
    model, x = _trained_model_with_bn()
    buffer = io.BytesIO()
    model.save_weights(buffer, overwrite=False)
    buffer.seek(0)
    fresh = dense_model(3, kl.Dense(4), kl.BatchNormalization(), kl.Dense(1))
    fresh.load_weights(buffer)
    assert_same_weights(fresh.get_weights(), model.get_weights())


def test_load_weights_never_unpickles(tmp_path, monkeypatch):
    model, _ = _trained_model_with_bn()
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    fresh = dense_model(3, kl.Dense(4), kl.BatchNormalization(), kl.Dense(1))
    fresh.load_weights(path)
    assert_same_weights(fresh.get_weights(), model.get_weights())
    with zipfile.ZipFile(path) as z:
        assert all(not n.endswith((".pkl", ".pickle")) for n in z.namelist())


def test_save_weights_is_atomic(tmp_path, monkeypatch):
    model, _ = _trained_model_with_bn()
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    good = path.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])

    def interrupted(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(OSError, match="disk full"):
        model.save_weights(path)
    monkeypatch.undo()
    assert path.read_bytes() == good  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["w.weights.h5"]  # and no temporary file is left


def test_save_weights_overwrite_false(tmp_path):
    model = dense_model(2, kl.Dense(1))
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)


def test_load_weights_into_another_architecture_changes_nothing(tmp_path):
    model, _ = _trained_model_with_bn()
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    other = dense_model(3, kl.Dense(5), kl.BatchNormalization(), kl.Dense(1))
    before = snapshot(other)
    with pytest.raises(ValueError, match="does not fit this model"):
        other.load_weights(path)
    assert_same_weights(other.get_weights(), before)
    with pytest.raises(ValueError, match="build the model first"):
        keras.Sequential([kl.Dense(4), kl.BatchNormalization(), kl.Dense(1)]).load_weights(path)


# ---------------------------------------------------------------------- callbacks: hooks and their order
def test_callback_hooks_are_called_in_keras_order():
    x, y = linear_regression(n=4)
    rec = Recorder()
    model = dense_model(3, kl.Dense(1))
    model.compile("sgd", "mse", metrics=["mae"])
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x[:3], y[:3]), callbacks=[rec], verbose=0)
    epoch = ["on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_train_batch_begin",
             "on_train_batch_end", "on_test_begin", "on_test_batch_begin", "on_test_batch_end",
             "on_test_batch_begin", "on_test_batch_end", "on_test_end", "on_epoch_end"]
    assert rec.names() == ["on_train_begin"] + epoch * 2 + ["on_train_end"]
    assert rec.params == {"epochs": 2, "steps": 2, "verbose": 0} and rec.model is model
    assert [c[1] for c in rec.calls if c[0] == "on_epoch_end"] == [0, 1]
    assert [c[1] for c in rec.calls if c[0] == "on_train_batch_end"] == [0, 1, 0, 1]
    batch_logs = [c[2] for c in rec.calls if c[0] == "on_train_batch_end"]
    assert all(set(logs) == {"loss", "mae"} for logs in batch_logs)
    epoch_logs = [c[2] for c in rec.calls if c[0] == "on_epoch_end"]
    assert all(set(logs) == {"loss", "mae", "val_loss", "val_mae"} for logs in epoch_logs)
    assert rec.calls[-1][2] == epoch_logs[-1]  # on_train_end gets the last epoch's logs
    rec = Recorder()
    model.fit(np.zeros((65, 3)), np.zeros(65), callbacks=[rec], verbose=0)
    assert rec.params["steps"] == 3 and rec.names().count("on_train_batch_end") == 3  # batch_size defaults to 32


def test_evaluate_and_predict_call_their_hooks():
    x, y = linear_regression(n=5)
    model = dense_model(3, kl.Dense(1))
    model.compile("sgd", "mse")
    rec = Recorder()
    model.evaluate(x, y, batch_size=3, callbacks=[rec], verbose=0)
    assert rec.names() == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_batch_begin",
                           "on_test_batch_end", "on_test_end"]
    rec = Recorder()
    out = model.predict(x, batch_size=3, callbacks=[rec])
    assert rec.names() == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                           "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"]
    np.testing.assert_array_equal(rec.calls[2][2]["outputs"], out[:3])


def test_the_old_batch_hook_names_still_work():
    seen = []

    class Old(kc.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    x, y = linear_regression(n=6)
    model = dense_model(3, kl.Dense(1))
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=2, callbacks=[Old()], verbose=0)
    assert seen == [0, 1, 2]


def test_stop_training_from_a_callback_ends_the_epoch_at_that_batch():
    class StopAt(kc.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    x, y = linear_regression(n=8)
    rec = Recorder()
    model = dense_model(3, kl.Dense(1))
    model.compile("sgd", "mse")
    history = model.fit(x, y, batch_size=2, epochs=5, callbacks=[StopAt(), rec], verbose=0)
    assert len(history.epoch) == 1
    assert rec.names().count("on_train_batch_end") == 2


# ---------------------------------------------------------------------- EarlyStopping
def _lr_cut_after(epochs):
    return kc.LearningRateScheduler(lambda epoch, lr: 0.05 if epoch < epochs else 0.0)


def test_early_stopping_waits_patience_epochs_without_improvement():
    x, y = linear_regression(n=8)
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    stop = kc.EarlyStopping(monitor="loss", patience=2)
    # two real steps; epoch 2 reports the loss after them; epochs 3 and 4 repeat it exactly
    history = full_batch_fit(model, x, y, epochs=20, callbacks=[_lr_cut_after(2), stop])
    assert stop.stopped_epoch == 4 and len(history.epoch) == 5
    losses = history.history["loss"]
    assert losses[0] > losses[1] > losses[2] == losses[3] == losses[4]


def test_early_stopping_min_delta():
    x, y = linear_regression(n=8)
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.01), "mse")
    stop = kc.EarlyStopping(monitor="loss", patience=1, min_delta=1e6)  # nothing counts as an improvement
    history = full_batch_fit(model, x, y, epochs=10, callbacks=[stop])
    assert len(history.epoch) == 2


def _diverging_validation():
    """Training data y = x @ w, validation data y = -x @ w: fitting one makes the other worse every epoch."""
    r = np.random.default_rng(15)
    x = r.normal(size=(16, 3)).astype(np.float32)
    w = np.array([[1.0], [-2.0], [0.5]], np.float32)
    return x, x @ w, x[:8], -(x[:8] @ w)


def test_early_stopping_restores_the_best_weights():
    x, y, xv, yv = _diverging_validation()
    model = dense_model(3, kl.Dense(1, kernel_initializer="zeros"))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    seen = WeightsAt()
    stop = kc.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = full_batch_fit(model, x, y, epochs=10, validation_data=(xv, yv), callbacks=[seen, stop])
    val = history.history["val_loss"]
    assert val[0] < val[1] < val[2] and len(val) == 3
    assert stop.best_epoch == 0
    assert_same_weights(model.get_weights(), seen.epoch_end[0])


def test_early_stopping_on_accuracy_maximizes():
    stop = kc.EarlyStopping(monitor="val_accuracy")
    assert stop.mode == "max"
    assert kc.EarlyStopping(monitor="val_loss").mode == "min"


# ---------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_saves_the_best_epoch_only(tmp_path):
    x, y, xv, yv = _diverging_validation()
    model = dense_model(3, kl.Dense(1, kernel_initializer="zeros"))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    seen = WeightsAt()
    path = tmp_path / "best.weights.h5"
    ckpt = kc.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    full_batch_fit(model, x, y, epochs=4, validation_data=(xv, yv), callbacks=[seen, ckpt])
    restored = dense_model(3, kl.Dense(1))
    restored.load_weights(path)
    assert_same_weights(restored.get_weights(), seen.epoch_end[0])


def test_model_checkpoint_formats_the_path_every_epoch(tmp_path):
    x, y = linear_regression()
    model = dense_model(3, kl.Dense(1))
    model.compile("sgd", "mse")
    seen = WeightsAt()
    ckpt = kc.ModelCheckpoint(str(tmp_path / "w-{epoch:02d}-{loss:.3f}.weights.h5"), monitor="loss")
    history = full_batch_fit(model, x, y, epochs=3, callbacks=[seen, ckpt])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"w-{e + 1:02d}-{loss:.3f}.weights.h5" for e, loss in enumerate(history.history["loss"])]
    restored = dense_model(3, kl.Dense(1))
    restored.load_weights(tmp_path / names[1])
    assert_same_weights(restored.get_weights(), seen.epoch_end[1])


# ---------------------------------------------------------------------- NaN losses
def nan_at(call):
    """A mean-squared-error loss that returns NaN on its ``call``-th evaluation (counting from 1)."""
    count = [0]

    def loss(y_true, y_pred):
        count[0] += 1
        value = ((y_pred - y_true.reshape(y_pred.shape)) ** 2).mean()
        return value * float("nan") if count[0] == call else value

    return loss


def test_terminate_on_nan_stops_naming_epoch_and_batch_and_keeps_good_weights(tmp_path, capsys):
    x, y = linear_regression(n=8)
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.05), nan_at(7))  # epoch 2 (4 batches per epoch), batch 3
    seen = WeightsAt()
    path = tmp_path / "last.weights.h5"
    ckpt = kc.ModelCheckpoint(path, monitor="loss")
    with pytest.warns(UserWarning, match="loss is nan; not saving"):
        history = model.fit(x, y, batch_size=2, epochs=5, shuffle=False, verbose=0,
                            callbacks=[seen, kc.TerminateOnNaN(), ckpt])
    out = capsys.readouterr().out
    assert "Epoch 2, batch 3" in out and "nan" in out
    assert history.epoch == [0, 1] and math.isnan(history.history["loss"][1])
    assert len(seen.batch_begin) == 7
    assert_same_weights(model.get_weights(), seen.batch_begin[6])  # the NaN batch's update was skipped
    restored = dense_model(3, kl.Dense(1))
    restored.load_weights(path)
    assert_same_weights(restored.get_weights(), seen.epoch_end[0])  # the epoch-1 checkpoint survived


def test_a_nan_without_terminate_on_nan_never_reaches_the_checkpoint(tmp_path):
    x, y = linear_regression(n=8)
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.05), nan_at(5))  # epoch 2, batch 1: every weight becomes NaN
    seen = WeightsAt()
    path = tmp_path / "last.weights.h5"
    with pytest.warns(UserWarning, match="not saving"):
        history = model.fit(x, y, batch_size=2, epochs=3, shuffle=False, verbose=0,
                            callbacks=[seen, kc.ModelCheckpoint(path, monitor="loss")])
    assert len(history.epoch) == 3
    assert all(np.isnan(w).all() for w in model.get_weights())
    restored = dense_model(3, kl.Dense(1))
    restored.load_weights(path)
    assert_same_weights(restored.get_weights(), seen.epoch_end[0])


def test_a_diverging_fit_is_stopped_and_never_checkpointed_non_finite(tmp_path, capsys):
    x, y = linear_regression(n=16)
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(learning_rate=50.0), "mse")
    path = tmp_path / "w.weights.h5"
    with pytest.warns(UserWarning, match="not saving"), np.errstate(over="ignore", invalid="ignore"):
        history = model.fit(x, y, batch_size=4, epochs=50, shuffle=False, verbose=0,
                            callbacks=[kc.TerminateOnNaN(), kc.ModelCheckpoint(path, monitor="loss")])
    assert len(history.epoch) < 50 and not math.isfinite(history.history["loss"][-1])
    assert f"Epoch {len(history.epoch)}, batch" in capsys.readouterr().out
    restored = dense_model(3, kl.Dense(1))
    restored.load_weights(path)  # the last epoch with a finite loss
    assert all(np.isfinite(w).all() for w in restored.get_weights())


# ---------------------------------------------------------------------- learning-rate callbacks, CSVLogger
def test_learning_rate_scheduler_sets_and_logs_the_rate():
    x, y = linear_regression()
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    history = full_batch_fit(model, x, y, epochs=3,
                             callbacks=[kc.LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    assert history.history["learning_rate"] == [0.05, 0.025, 0.0125]
    assert model.optimizer.learning_rate == 0.0125
    history = full_batch_fit(model, x, y, epochs=2, callbacks=[kc.LearningRateScheduler(lambda epoch: 0.3)])
    assert history.history["learning_rate"] == [0.3, 0.3]
    with pytest.raises(ValueError, match="finite, non-negative float"):
        full_batch_fit(model, x, y, callbacks=[kc.LearningRateScheduler(lambda epoch, lr: None)])


def test_reduce_lr_on_plateau():
    x, y = linear_regression()
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    plateau = kc.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e6, min_lr=0.02)
    history = full_batch_fit(model, x, y, epochs=5, callbacks=[plateau])
    # the rate in effect during each epoch; reductions after epochs 1, 2 and 3, floored at min_lr
    assert history.history["learning_rate"] == [0.1, 0.1, 0.05, 0.025, 0.02]
    assert model.optimizer.learning_rate == 0.02


def test_reduce_lr_on_plateau_cooldown():
    x, y = linear_regression()
    model = dense_model(3, kl.Dense(1))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    plateau = kc.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e6, cooldown=2)
    history = full_batch_fit(model, x, y, epochs=6, callbacks=[plateau])
    # reduced after epoch 1; epochs 2 and 3 are the cooldown (no waiting counted), reduced again after epoch 3
    assert history.history["learning_rate"] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y = blobs(20)
    model = dense_model(2, kl.Dense(1, activation="sigmoid"))
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, validation_split=0.2, callbacks=[kc.CSVLogger(path)], verbose=0)
    rows = [line.split(",") for line in path.read_text().splitlines()]
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    assert [float(r[2]) for r in rows[1:]] == pytest.approx(history.history["loss"])
    model.fit(x, y, epochs=1, callbacks=[kc.CSVLogger(path, append=True)], verbose=0)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch") and lines[3].startswith("0,")


# ---------------------------------------------------------------------- progress output
def _progress_model():
    x, y = blobs(40)
    model = dense_model(2, kl.Dense(2, activation="softmax"))
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, x, y


def test_verbose_0_is_silent(capsys):
    model, x, y = _progress_model()
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_2_prints_one_line_per_epoch(capsys):
    model, x, y = _progress_model()
    model.fit(x, y, epochs=3, batch_size=8, validation_split=0.2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"] and len(lines) == 6
    for line in lines[1::2]:
        assert line.startswith("4/4 - ") and "/step" in line and "━" not in line
        assert all(f" - {k}: " in line for k in ("loss", "accuracy", "val_loss", "val_accuracy"))


def test_verbose_1_ends_each_epoch_with_a_bar_and_auto_means_1(capsys):
    model, x, y = _progress_model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=1)
    first = capsys.readouterr().out
    lines = first.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("5/5 ━━━━━━━━━━━━━━━━━━━━ ") and "/step - loss: " in lines[1]
    assert " - accuracy: " in lines[1]
    model.fit(x, y, epochs=2, batch_size=8)  # verbose='auto'
    assert len(capsys.readouterr().out.splitlines()) == 4
    model.evaluate(x, y)
    out = capsys.readouterr().out
    assert out.startswith("2/2 ━") and "loss: " in out and "accuracy: " in out
    model.predict(x)
    out = capsys.readouterr().out
    assert out.startswith("2/2 ━━━━━━━━━━━━━━━━━━━━ ") and out.endswith("/step\n") and out.count("\n") == 1


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_on_a_terminal_redraws_a_live_bar(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    model, x, y = _progress_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=1)
    out = terminal.getvalue()
    draws = out.split("\r")[1:]
    assert len(draws) >= 2  # at least one live redraw before the final line
    live, final = draws[0], draws[-1]
    assert live.startswith("1/5 ━") and "/step" in live and " - loss: " in live and " - accuracy: " in live
    assert live.endswith("\x1b[K")  # redrawn in place
    assert final.startswith("5/5 ━━━━━━━━━━━━━━━━━━━━ ") and final.endswith("\n")


# ---------------------------------------------------------------------- bad input: clear errors, nothing trained
def _classifier():
    model = dense_model(2, kl.Dense(3, activation="softmax"))
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("case, error, match", [
    ("lengths", ValueError, r"different lengths: x has 10 samples, y has 9"),
    ("label_high", ValueError, r"labels must be in \[0, 2\].*3 output units.*from 0 to 3"),
    ("label_negative", ValueError, r"labels must be in \[0, 2\].*from -1 to"),
    ("label_fraction", ValueError, r"whole numbers"),
    ("onehot_for_sparse", ValueError, r"shape \(10, 3\).*categorical_crossentropy"),
    ("x_features", ValueError, r"expects inputs of shape \(n, 2\), got x of shape \(10, 5\)"),
    ("x_nan", ValueError, r"x contains NaN"),
    ("val_lengths", ValueError, r"validation_data.*different lengths"),
    ("val_label", ValueError, r"labels must be in \[0, 2\]"),
    ("val_split", ValueError, r"validation_split must be in \(0, 1\)"),
    ("batch_size", ValueError, r"batch_size must be a positive integer"),
    ("kwargs", TypeError, r"unexpected arguments \['class_weights'\]"),
])
def test_bad_fit_input_is_refused_before_any_training(case, error, match):
    x, y = blobs(10)
    kw = {}
    if case == "lengths":
        y = y[:9]
    elif case == "label_high":
        y = y.copy()
        y[0] = 3
    elif case == "label_negative":
        y = y.copy()
        y[0] = -1
    elif case == "label_fraction":
        y = y + 0.5
    elif case == "onehot_for_sparse":
        y = np.eye(3)[y]
    elif case == "x_features":
        x = np.zeros((10, 5))
    elif case == "x_nan":
        x = x.copy()
        x[3, 1] = np.nan
    elif case == "val_lengths":
        kw["validation_data"] = (x[:4], y[:3])
    elif case == "val_label":
        kw["validation_data"] = (x[:4], np.array([0, 1, 2, 5]))
    elif case == "val_split":
        kw["validation_split"] = 1.5
    elif case == "batch_size":
        kw["batch_size"] = 0
    elif case == "kwargs":
        kw["class_weights"] = {0: 1.0}
    model = _classifier()
    rec = Recorder()
    before = snapshot(model)
    with pytest.raises(error, match=match):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[rec], **kw)
    assert_same_weights(model.get_weights(), before)
    assert rec.calls == []  # not even on_train_begin


@pytest.mark.parametrize("loss, units, y, match", [
    ("categorical_crossentropy", 3, np.array([0, 1, 2, 1]), r"one-hot targets of shape \(n, 3\)"),
    ("sparse_categorical_crossentropy", 1, np.array([0, 1, 0, 1]), r"1 output unit.*binary_crossentropy"),
    ("binary_crossentropy", 3, np.array([0, 1, 0, 1]), r"do not fit a model with 3 output units"),
    ("binary_crossentropy", 1, np.array([0, 2, 0, 1]), r"targets must be in \[0, 1\]"),
    ("mse", 2, np.zeros((4, 3)), r"mean_squared_error: targets of shape \(4, 3\) do not fit .* 2 output units"),
    ("mae", 1, np.zeros((4, 2)), r"do not fit a model with 1 output unit"),
])
def test_a_loss_that_does_not_fit_the_output_is_refused(loss, units, y, match):
    model = dense_model(2, kl.Dense(units))
    model.compile("sgd", loss)
    before = snapshot(model)
    with pytest.raises(ValueError, match=match):
        model.fit(np.zeros((4, 2)), y, verbose=0)
    with pytest.raises(ValueError, match=match):
        model.evaluate(np.zeros((4, 2)), y, verbose=0)
    assert_same_weights(model.get_weights(), before)


def test_fit_or_evaluate_before_compile_is_a_clear_error():
    model = dense_model(2, kl.Dense(1))
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=r"not compiled.*compile\(optimizer=.*before fit\(\)"):
        model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)
    with pytest.raises(RuntimeError, match="before evaluate"):
        model.evaluate(np.zeros((4, 2)), np.zeros(4), verbose=0)
    assert_same_weights(model.get_weights(), before)


def test_more_bad_input():
    regression = dense_model(2, kl.Dense(1))
    regression.compile("sgd", "mse")
    with pytest.raises(ValueError, match="y contains NaN"):
        regression.fit(np.zeros((3, 2)), np.array([0.0, np.nan, 1.0]), verbose=0)
    with pytest.raises(TypeError, match="x must be numeric"):
        _classifier().fit(np.array([["a", "b"]]), np.array([0]), verbose=0)
    with pytest.raises(ValueError, match="y is required"):
        _classifier().fit(np.zeros((3, 2)), verbose=0)
    with pytest.raises(ValueError, match="no training or validation samples"):
        _classifier().fit(np.zeros((3, 2)), np.zeros(3, int), validation_split=0.9, verbose=0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(n, 2\)"):
        _classifier().predict(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="verbose"):
        _classifier().fit(np.zeros((3, 2)), np.zeros(3, int), verbose=3)
    with pytest.raises(ValueError, match=r"no feature axis; .* x.reshape\(-1, 1\)"):
        keras.Sequential([kl.Dense(1)]).predict(np.zeros(5))
    with pytest.raises(TypeError, match=r"callbacks must be a list, e.g. callbacks=\[EarlyStopping\(...\)\]"):
        _classifier().fit(np.zeros((3, 2)), np.zeros(3, int), callbacks=kc.EarlyStopping(), verbose=0)
    with pytest.raises(NotImplementedError, match="steps_per_epoch"):
        _classifier().fit(np.zeros((3, 2)), np.zeros(3, int), steps_per_epoch=2, verbose=0)


@pytest.mark.parametrize("module", ["model", "losses", "metrics", "optimizers", "regularizers", "utils"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"tapegrad.keras.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_frozen_layers_keep_their_weights():
    x, y = linear_regression(n=16)
    first = kl.Dense(4, trainable=False)
    bn = kl.BatchNormalization()
    model = dense_model(3, first, bn, kl.Dense(1))
    bn.trainable = False
    model.compile("adam", "mse")
    before = snapshot(model)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    after = model.get_weights()
    for i in range(6):  # the frozen Dense, and the frozen BatchNormalization with its moving statistics
        np.testing.assert_array_equal(after[i], before[i])
    assert not np.array_equal(after[6], before[6])
    assert [w.numel() for w in model.trainable_weights] == [4, 1]
    lines = []
    model.summary(print_fn=lines.append)
    for kind, n in (("Total", 37), ("Trainable", 5), ("Non-trainable", 32)):
        assert f" {kind} params: {n}\n" in lines[0] + "\n"
    model.trainable = True
    assert first.trainable and bn.trainable and len(model.trainable_weights) == 6
    frozen = keras.Sequential([keras.Input(shape=(3,)), kl.Dense(2)], trainable=False)
    assert frozen.trainable_weights == [] and not frozen.layers[0].trainable
    frozen.compile("sgd", "mse")
    before = snapshot(frozen)
    history = frozen.fit(x, np.zeros((16, 2)), verbose=0)  # nothing to train is not an error
    assert_same_weights(frozen.get_weights(), before)
    assert np.isfinite(history.history["loss"][0])
    weightless = dense_model(3, kl.Activation("relu"))
    weightless.compile("sgd", "mse")
    assert np.isfinite(weightless.fit(x, np.zeros((16, 3)), verbose=0).history["loss"][0])
