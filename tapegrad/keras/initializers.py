"""Weight initializers by Keras name (Keras's defaults: glorot_uniform kernels, zero biases)."""

import math

import numpy as np

from ..random import rng


def _fans(shape):
    """Keras's fan computation: Dense kernels are (in, out); conv kernels (kh, kw, in, out)."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(shape):
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng().uniform(-limit, limit, shape)


def glorot_normal(shape):
    fan_in, fan_out = _fans(shape)
    return _truncated_normal(shape, math.sqrt(2.0 / (fan_in + fan_out)))


def he_uniform(shape):
    limit = math.sqrt(6.0 / _fans(shape)[0])
    return rng().uniform(-limit, limit, shape)


def he_normal(shape):
    return _truncated_normal(shape, math.sqrt(2.0 / _fans(shape)[0]))


def lecun_normal(shape):
    return _truncated_normal(shape, math.sqrt(1.0 / _fans(shape)[0]))


def random_normal(shape):
    return rng().normal(0.0, 0.05, shape)


def random_uniform(shape):
    return rng().uniform(-0.05, 0.05, shape)


def zeros(shape):
    return np.zeros(shape)


def ones(shape):
    return np.ones(shape)


def _truncated_normal(shape, std):
    # NOTE: Keras draws from a normal truncated at 2 std and rescales by 0.8796 so the std is as asked.
    std = std / 0.87962566103423978
    out = rng().normal(0.0, std, shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng().normal(0.0, std, int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out


_INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_normal,
                                           random_normal, random_uniform, zeros, ones)}
_INITIALIZERS.update(GlorotUniform=glorot_uniform, GlorotNormal=glorot_normal, HeUniform=he_uniform,
                     HeNormal=he_normal, Zeros=zeros, Ones=ones, RandomNormal=random_normal)


def get(identifier):
    """An initializer ``f(shape) -> ndarray`` from a Keras name or a callable."""
    if callable(identifier):
        return identifier
    try:
        return _INITIALIZERS[identifier]
    except (KeyError, TypeError):
        raise ValueError(f"initializers: unknown initializer {identifier!r}; use one of "
                         f"{sorted(k for k in _INITIALIZERS if k.islower())}") from None
