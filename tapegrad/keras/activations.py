"""Activation functions by Keras name."""

from ..nn import functional as F


def linear(x):
    return x


def softmax(x):
    return F.softmax(x, dim=-1)


def log_softmax(x):
    return F.log_softmax(x, dim=-1)


_ACTIVATIONS = {
    None: linear, "linear": linear, "relu": lambda x: x.relu(), "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(), "softmax": softmax, "log_softmax": log_softmax,
    "gelu": lambda x: F.gelu(x), "elu": lambda x: F.elu(x), "selu": lambda x: F.selu(x),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "silu": lambda x: F.silu(x), "swish": lambda x: F.silu(x),
    "softplus": lambda x: F.softplus(x), "exponential": lambda x: x.exp(),
}


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
