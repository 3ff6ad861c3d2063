"""Activation functions by Keras name (``keras.activations.relu`` or ``activation='relu'``)."""

from ..nn import functional as F


def linear(x):
    return x


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def softmax(x):
    return F.softmax(x, dim=-1)


def log_softmax(x):
    return F.log_softmax(x, dim=-1)


def gelu(x):
    return F.gelu(x)


def elu(x):
    return F.elu(x)


def selu(x):
    return F.selu(x)


def leaky_relu(x):
    return F.leaky_relu(x, 0.2)  # Keras's default negative_slope


def silu(x):
    return F.silu(x)


def softplus(x):
    return F.softplus(x)


def exponential(x):
    return x.exp()


swish = silu

_ACTIVATIONS = {None: linear, "linear": linear, "swish": silu}
_ACTIVATIONS.update((f.__name__, f) for f in (relu, sigmoid, tanh, softmax, log_softmax, gelu, elu, selu,
                                               leaky_relu, silu, softplus, exponential))


def get(identifier):
    """An activation from None, a callable or a Keras name ('relu', 'softmax', ...)."""
    if callable(identifier):
        return identifier
    try:
        return _ACTIVATIONS[identifier]
    except (KeyError, TypeError):
        names = sorted(k for k in _ACTIVATIONS if k)
        raise ValueError(f"activations: unknown activation {identifier!r}; use one of {names}") from None


def name_of(fn):
    for k, v in _ACTIVATIONS.items():
        if v is fn and k:
            return k
    return getattr(fn, "__name__", "custom")
