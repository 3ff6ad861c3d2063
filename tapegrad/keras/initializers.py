"""Weight initializers, by Keras name or as Keras classes (Keras's defaults: glorot_uniform kernels, zero biases).

An initializer is called as ``init(shape, dtype=None)`` and returns a numpy array of that shape.
"""

import math

import numpy as np

from ..random import rng


def _fans(shape):
    """Keras's fan computation: Dense kernels are (in, out); conv kernels (kh, kw, in, out)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(shape, std, mean=0.0):
    # NOTE: Keras draws from a normal truncated at 2 std, rescaled by 0.8796 so the std is as asked.
    std = std / 0.87962566103423978
    out = rng().normal(0.0, std, shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng().normal(0.0, std, int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out + mean


class Initializer:
    """Initializer: ``init(shape, dtype=None)`` -> numpy array."""

    def __call__(self, shape, dtype=None):
        out = np.asarray(self.sample(tuple(shape)))
        return out.astype(dtype) if dtype is not None else out

    def __repr__(self):
        return f"{type(self).__name__}()"


class Zeros(Initializer):
    def sample(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    """Constant(value=0.0)."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def sample(self, shape):
        return np.full(shape, self.value)


class RandomNormal(Initializer):
    """RandomNormal(mean=0.0, stddev=0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return rng().normal(self.mean, self.stddev, shape)


class RandomUniform(Initializer):
    """RandomUniform(minval=-0.05, maxval=0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval

    def sample(self, shape):
        return rng().uniform(self.minval, self.maxval, shape)


class TruncatedNormal(Initializer):
    """TruncatedNormal(mean=0.0, stddev=0.05): a normal cut at two standard deviations."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        out = rng().normal(0.0, self.stddev, shape)
        bad = np.abs(out) > 2 * self.stddev
        while bad.any():
            out[bad] = rng().normal(0.0, self.stddev, int(bad.sum()))
            bad = np.abs(out) > 2 * self.stddev
        return out + self.mean


class GlorotUniform(Initializer):
    """GlorotUniform(): uniform in ``±sqrt(6 / (fan_in + fan_out))``."""

    def __init__(self, seed=None):
        pass

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng().uniform(-limit, limit, shape)


class GlorotNormal(Initializer):
    """GlorotNormal(): truncated normal with std ``sqrt(2 / (fan_in + fan_out))``."""

    def __init__(self, seed=None):
        pass

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        return _truncated_normal(shape, math.sqrt(2.0 / (fan_in + fan_out)))


class HeUniform(Initializer):
    """HeUniform(): uniform in ``±sqrt(6 / fan_in)``."""

    def __init__(self, seed=None):
        pass

    def sample(self, shape):
        return rng().uniform(-1, 1, shape) * math.sqrt(6.0 / _fans(shape)[0])


class HeNormal(Initializer):
    """HeNormal(): truncated normal with std ``sqrt(2 / fan_in)``."""

    def __init__(self, seed=None):
        pass

    def sample(self, shape):
        return _truncated_normal(shape, math.sqrt(2.0 / _fans(shape)[0]))


class LecunNormal(Initializer):
    """LecunNormal(): truncated normal with std ``sqrt(1 / fan_in)``."""

    def __init__(self, seed=None):
        pass

    def sample(self, shape):
        return _truncated_normal(shape, math.sqrt(1.0 / _fans(shape)[0]))


_CLASSES = {"zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
            "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform,
            "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
            "lecun_normal": LecunNormal}
_CLASSES.update({cls.__name__: cls for cls in list(_CLASSES.values())})

glorot_uniform, glorot_normal = GlorotUniform(), GlorotNormal()
he_uniform, he_normal, lecun_normal = HeUniform(), HeNormal(), LecunNormal()
zeros, ones = Zeros(), Ones()
random_normal, random_uniform = RandomNormal(), RandomUniform()


def get(identifier):
    """An initializer from a Keras name ('glorot_uniform', 'Zeros', ...), a class, an instance or a callable
    ``f(shape, dtype=None)``."""
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    try:
        return _CLASSES[identifier]()
    except (KeyError, TypeError):
        raise ValueError(f"initializers: unknown initializer {identifier!r}; use one of "
                         f"{sorted(k for k in _CLASSES if k.islower())}") from None
