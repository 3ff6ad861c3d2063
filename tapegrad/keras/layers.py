"""Keras layers on tapegrad's nn: built on first call from the input's shape, channels-last like Keras.

Each layer is an ``nn.Module``, so parameters, train/eval and state dicts come from nn. Dense keeps its weight
in PyTorch's (out, in) layout for the fused ``linear`` op; ``get_weights``/``set_weights`` speak Keras's
(in, out) layout.
"""

import math

import numpy as np

from .. import nn
from ..creation import as_tensor
from ..nn import functional as F
from . import activations, initializers, regularizers


class KerasTensor:
    """What ``keras.Input(shape=...)`` returns: the shape (without the batch axis) a model starts from."""

    def __init__(self, shape, name=None):
        self.shape = (None,) + tuple(shape)
        self.name = name

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, name={self.name}>"


def Input(shape, batch_size=None, name=None, dtype=None):
    """Input(shape): the input of a Sequential model, e.g. ``keras.Input(shape=(784,))``."""
    if isinstance(shape, int):
        shape = (shape,)
    return KerasTensor(shape, name)


class Layer(nn.Module):
    """Layer: a module built on its first call, when the input shape is known (``build(input_shape)``)."""

    _count: dict[str, int] = {}  # layers made of each kind, for their default names

    def __init__(self, name=None, input_shape=None, input_dim=None, trainable=True, dtype=None, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        kind = _snake(type(self).__name__)
        n = Layer._count.get(kind, 0)
        Layer._count[kind] = n + 1
        self.name = name or (kind if n == 0 else f"{kind}_{n}")
        self.built = False
        self._trainable = bool(trainable)
        if input_dim is not None:
            input_shape = (input_dim,)
        self.declared_input_shape = tuple(input_shape) if input_shape is not None else None

    def build(self, input_shape):
        self.built = True

    @property
    def trainable(self):
        """trainable: whether fit updates this layer's weights (False freezes them, and the layers inside it;
        a frozen BatchNormalization also runs in inference mode, as in Keras 3)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        for m in self.modules():
            if isinstance(m, Layer):
                m._trainable = bool(value)
        for p in self.parameters():
            p.requires_grad_(bool(value))

    def compute_output_shape(self, input_shape):
        return input_shape

    def __call__(self, x, *args, training=None, **kwargs):
        """layer(x, training=None): run the layer, building it first; ``training`` overrides its mode for this
        call (dropout and batch statistics act only in training)."""
        if not self.built:
            self.build(tuple(x.shape))
            self.built = True
            if not self._trainable:
                self.trainable = False  # weights made by build are frozen too
        if training is None or bool(training) == self.training:
            return super().__call__(x, *args, **kwargs)
        was = self.training
        self.train(bool(training))
        try:
            return super().__call__(x, *args, **kwargs)
        finally:
            self.train(was)

    def regularization_losses(self):
        return []

    def _weight_tensors(self):
        """Every weight, trainable (parameters) then non-trainable (buffers such as moving statistics)."""
        return list(self.parameters()) + [b for b in self.buffers() if b is not None]

    # A layer may store a weight in another layout than Keras's (a Dense kernel as PyTorch's (out, in));
    # these map the stored array to Keras's layout and back.
    _keras_axes: dict[int, tuple[int, ...]] = {}  # weight index -> transpose from the stored layout to Keras's

    def get_weights(self):
        """get_weights() -> list of numpy arrays (copies), in Keras's layouts and order."""
        out = []
        for i, w in enumerate(self._weight_tensors()):
            a = w.detach().numpy()
            out.append((a.transpose(self._keras_axes[i]) if i in self._keras_axes else a).copy())
        return out

    def set_weights(self, weights):
        """set_weights(weights): replace every weight, from arrays in the order and layouts of get_weights()."""
        targets = self._weight_tensors()
        weights = list(weights)
        if len(weights) != len(targets):
            raise ValueError(f"set_weights: layer {self.name!r} has {len(targets)} weights, got {len(weights)}")
        arrays = []
        for i, (t, w) in enumerate(zip(targets, weights)):
            w = np.asarray(w)
            axes = self._keras_axes.get(i)
            expected = tuple(t.shape) if axes is None else tuple(t.shape[a] for a in axes)
            if w.shape != expected:
                raise ValueError(f"set_weights: layer {self.name!r} expects shape {expected} for weight {i}, got "
                                 f"{w.shape}")
            arrays.append(w if axes is None else w.transpose(np.argsort(axes)))
        for t, w in zip(targets, arrays):  # every shape is checked before anything changes
            t.data = as_tensor(np.array(w, dtype=t.detach().numpy().dtype))

    @property
    def weights(self):
        """The weight tensors themselves (trainable, then non-trainable), in tapegrad's layouts (a Dense kernel
        is stored (out, in)); ``get_weights()`` gives copies in Keras's layouts."""
        return self._weight_tensors()

    @property
    def trainable_weights(self):
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        trainable = {id(p) for p in self.trainable_weights}
        return [w for w in self._weight_tensors() if id(w) not in trainable]

    def count_params(self):
        """count_params(): the number of scalars in every weight (trainable or not), as Keras's summary."""
        return sum(w.numel() for w in self._weight_tensors())

    def extra_repr(self):
        return f"name={self.name!r}"


def _snake(name):
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(c.lower())
    return "".join(out).replace("2_d", "2d")


def _param(array, dtype=np.float32):
    return nn.Parameter(as_tensor(np.ascontiguousarray(array, dtype=dtype)))


class Dense(Layer):
    """Dense(units, activation=None, use_bias=True, kernel_initializer='glorot_uniform', bias_initializer='zeros',
    kernel_regularizer=None, bias_regularizer=None): ``activation(x @ kernel + bias)`` on the last axis."""

    _keras_axes = {0: (1, 0)}  # stored (out, in), Keras's kernel is (in, out)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        kernel = self.kernel_initializer((fan_in, self.units))  # Keras layout (in, out)
        self.weight = _param(kernel.T)  # stored as (out, in) for the fused linear op
        self.bias = _param(self.bias_initializer((self.units,))) if self.use_bias else None
        self.built = True

    def logits(self, x):
        """The pre-activation output ``x @ kernel + bias`` (losses use it for stable cross-entropy)."""
        return F.linear(x, self.weight, self.bias)

    def forward(self, x):
        return self.activation(F.linear(x, self.weight, self.bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def regularization_losses(self):
        return _kernel_and_bias_penalties(self)

    def extra_repr(self):
        return f"name={self.name!r}, units={self.units}, activation={activations.name_of(self.activation)}"


class Activation(Layer):
    """Activation(activation): apply an activation by name or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x):
        return self.activation(x)


class Dropout(Layer):
    """Dropout(rate): zero a fraction ``rate`` of inputs during training, scaling the rest by 1/(1-rate)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def forward(self, x):
        return F.dropout(x, self.rate, self.training)


class Flatten(Layer):
    """Flatten(): flatten every axis but the batch axis."""

    def forward(self, x):
        return x.reshape(x.shape[0], -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))


class BatchNormalization(Layer):
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True): normalize the last
    (channel) axis with the batch's statistics in training and the moving ones in inference.

    As Keras: ``moving = momentum * moving + (1 - momentum) * batch`` with the biased batch variance, and
    ``get_weights()`` is ``[gamma, beta, moving_mean, moving_variance]`` (gamma without ``scale``, beta without
    ``center``); the moving statistics are non-trainable weights.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"BatchNormalization: only axis=-1 (channels last) is supported, got {axis}")
        self.momentum, self.epsilon, self.center, self.scale = float(momentum), float(epsilon), center, scale

    def build(self, input_shape):
        c = input_shape[-1]
        self.gamma = _param(np.ones(c)) if self.scale else None
        self.beta = _param(np.zeros(c)) if self.center else None
        self.register_buffer("moving_mean", as_tensor(np.zeros(c, np.float32)))
        self.register_buffer("moving_variance", as_tensor(np.ones(c, np.float32)))
        self.built = True

    def forward(self, x):
        c = x.shape[-1]
        flat = x.reshape(-1, c)  # channels last: every other axis is a batch axis
        if not self.training or not self.trainable:
            out = F.batch_norm(flat, self.moving_mean, self.moving_variance, self.gamma, self.beta, training=False,
                               eps=self.epsilon)
            return out.reshape(x.shape)
        if flat.shape[0] > 1:
            out = F.batch_norm(flat, None, None, self.gamma, self.beta, training=True, eps=self.epsilon)
        else:  # one value per channel (a last batch of 1): it normalizes to 0, as in Keras, not an error
            out = (flat - flat.mean(dim=0, keepdim=True)) * (1 / math.sqrt(self.epsilon))
            out = out * self.gamma if self.gamma is not None else out
            out = out + self.beta if self.beta is not None else out
        a = flat.detach().numpy()
        mean, var = a.mean(axis=0), a.var(axis=0)  # NOTE: Keras moves toward the biased batch variance
        for buf, value in ((self.moving_mean, mean), (self.moving_variance, var)):
            buf.data = (buf.numpy() * self.momentum + value * (1 - self.momentum)).astype(np.float32)
        return out.reshape(x.shape)


def _pair(v, name, what):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"{name}: {what} must be an int or a pair, got {v}")
    return v


def _same_padding(size, kernel, stride, dilation=1):
    """Keras/TensorFlow 'same' padding: output ceil(size / stride), extra padding at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class Conv2D(Layer):
    """Conv2D(filters, kernel_size, strides=(1, 1), padding='valid', dilation_rate=(1, 1), activation=None,
    use_bias=True, kernel_initializer='glorot_uniform', ...): 2-D convolution on (N, H, W, C) inputs."""

    _keras_axes = {0: (2, 3, 1, 0)}  # stored (out, in, kh, kw), Keras's kernel is (kh, kw, in, out)

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same', got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "Conv2D", "kernel_size")
        self.strides = _pair(strides, "Conv2D", "strides")
        self.dilation_rate = _pair(dilation_rate, "Conv2D", "dilation_rate")
        self.padding = padding
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D: expects inputs of shape (batch, height, width, channels), got {input_shape}")
        kh, kw = self.kernel_size
        kernel = self.kernel_initializer((kh, kw, input_shape[-1], self.filters))  # Keras layout
        self.weight = _param(kernel.transpose(3, 2, 0, 1))  # PyTorch layout (out, in, kh, kw)
        self.bias = _param(self.bias_initializer((self.filters,))) if self.use_bias else None
        self.built = True

    def _conv(self, x):
        x = x.permute(0, 3, 1, 2)
        if self.padding == "same":
            (t, b), (l, r) = (_same_padding(x.shape[2], self.kernel_size[0], self.strides[0], self.dilation_rate[0]),
                              _same_padding(x.shape[3], self.kernel_size[1], self.strides[1], self.dilation_rate[1]))
            if t or b or l or r:
                x = F.pad(x, (l, r, t, b))
        y = F.conv2d(x, self.weight, self.bias, stride=self.strides, dilation=self.dilation_rate)
        return y.permute(0, 2, 3, 1)

    def logits(self, x):
        return self._conv(x)

    def forward(self, x):
        return self.activation(self._conv(x))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        if self.padding == "same":
            oh, ow = math.ceil(h / self.strides[0]), math.ceil(w / self.strides[1])
        else:
            (kh, kw), (dh, dw) = self.kernel_size, self.dilation_rate
            oh = (h - (kh - 1) * dh - 1) // self.strides[0] + 1
            ow = (w - (kw - 1) * dw - 1) // self.strides[1] + 1
        return (n, oh, ow, self.filters)

    def regularization_losses(self):
        return _kernel_and_bias_penalties(self)


def _kernel_and_bias_penalties(layer):
    """The penalties of a Dense or Conv2D layer's ``kernel_regularizer`` and ``bias_regularizer``."""
    out = []
    if layer.kernel_regularizer is not None and layer.built:
        out.append(layer.kernel_regularizer(layer.weight))
    if layer.bias_regularizer is not None and layer.bias is not None:
        out.append(layer.bias_regularizer(layer.bias))
    return out


class MaxPooling2D(Layer):
    """MaxPooling2D(pool_size=(2, 2), strides=None, padding='valid'): max over windows of (N, H, W, C) inputs."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        if padding not in ("valid", "same"):
            raise ValueError(f"MaxPooling2D: padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = _pair(pool_size, "MaxPooling2D", "pool_size")
        self.strides = _pair(strides if strides is not None else self.pool_size, "MaxPooling2D", "strides")
        self.padding = padding

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)
        if self.padding == "same":
            (t, b), (l, r) = (_same_padding(x.shape[2], self.pool_size[0], self.strides[0]),
                              _same_padding(x.shape[3], self.pool_size[1], self.strides[1]))
            if t or b or l or r:
                x = F.pad(x, (l, r, t, b), value=-np.inf)
        return F.max_pool2d(x, self.pool_size, self.strides).permute(0, 2, 3, 1)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        if self.padding == "same":
            return (n, math.ceil(h / self.strides[0]), math.ceil(w / self.strides[1]), c)
        return (n, (h - self.pool_size[0]) // self.strides[0] + 1, (w - self.pool_size[1]) // self.strides[1] + 1, c)


class GlobalAveragePooling2D(Layer):
    """GlobalAveragePooling2D(): the mean over height and width of (N, H, W, C) inputs."""

    def forward(self, x):
        return x.mean(dim=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
