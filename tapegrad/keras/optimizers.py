"""Keras optimizers (Keras 3 names, defaults and update rules), running as tapegrad.optim optimizers.

Keras's rules differ from PyTorch's in small ways that show in the numbers, so they are written out here:
Adam's ``epsilon`` is the paper's "epsilon hat" (added to ``sqrt(v)`` after bias correction is folded into the
step size), RMSprop adds ``epsilon`` inside the square root, SGD keeps a velocity ``m = momentum * m - lr * g``,
and ``weight_decay`` is always decoupled: ``w -= lr * weight_decay * w`` before the update, for every optimizer.

The tapegrad optimizer is made when the model's weights exist (at the first ``fit``); ``learning_rate`` can be
read and set at any time (callbacks do).
"""

import math

import numpy as np

from .. import optim
from ..autograd.graph import increment_version


class _KerasRule(optim.Optimizer):
    """A tapegrad optimizer that applies one Keras update rule to every parameter that has a gradient.

    ``rule(x, g, state, lr, t)`` updates the numpy array ``x`` in place (``t`` counts steps from 1, as Keras's
    ``iterations + 1``); ``state`` is the parameter's dict of numpy arrays.
    """

    def __init__(self, params, lr, rule, weight_decay=None):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay or 0.0))
        self.rule = rule
        self.iterations = 0

    def step(self, closure=None):
        self.iterations += 1
        return super().step(closure)

    def _update(self, group):
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            x, g = p._data, p.grad._data
            if g.shape != x.shape:
                raise ValueError(f"{type(self).__name__}: gradient of shape {g.shape} for a weight of shape {x.shape}")
            if wd:
                x -= x * np.asarray(lr * wd, x.dtype)  # Keras's decoupled decay, applied before the update
            self.rule(x, g.astype(x.dtype, copy=False), self.state[p], lr, self.iterations)
            increment_version(p)


class Optimizer:
    """Optimizer(learning_rate, weight_decay=None): a Keras optimizer; ``bind(params)`` makes the tapegrad one."""

    def __init__(self, learning_rate, weight_decay=None):
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.number)) \
                or not math.isfinite(learning_rate) or learning_rate < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a non-negative float, got "
                             f"{learning_rate!r}")
        if weight_decay is not None and weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {weight_decay}")
        self._learning_rate = float(learning_rate)
        self.weight_decay = weight_decay
        self.torch_optimizer = None

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = float(value)
        if self.torch_optimizer is not None:
            for group in self.torch_optimizer.param_groups:
                group["lr"] = self._learning_rate

    lr = learning_rate

    @property
    def iterations(self):
        """The number of update steps taken so far."""
        return getattr(self.torch_optimizer, "iterations", 0)

    def bind(self, params):
        self.torch_optimizer = _KerasRule(list(params), self._learning_rate, self.update_step, self.weight_decay)
        return self.torch_optimizer

    def update_step(self, x, g, state, lr, t):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self._learning_rate})"


class SGD(Optimizer):
    """SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None).

    ``w -= lr * g``; with momentum, ``m = momentum * m - lr * g`` then ``w += m`` (Nesterov:
    ``w += momentum * m - lr * g``).

    >>> import numpy as np
    >>> w, state = np.array([1.0, 2.0]), {}
    >>> SGD(0.1, momentum=0.5).update_step(w, np.array([1.0, -1.0]), state, 0.1, 1)
    >>> w
    array([0.9, 2.1])
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be a float in [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), nesterov

    def update_step(self, x, g, state, lr, t):
        if not self.momentum:
            x -= np.asarray(lr, x.dtype) * g
            return
        m = state.setdefault("momentum", np.zeros_like(x))
        m *= self.momentum
        m -= np.asarray(lr, x.dtype) * g
        if self.nesterov:
            x += self.momentum * m - np.asarray(lr, x.dtype) * g
        else:
            x += m


class Adam(Optimizer):
    """Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None).

    At step t: ``m += (1 - beta_1) * (g - m)``, ``v += (1 - beta_2) * (g * g - v)``, then
    ``w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)`` (Keras's "epsilon hat").
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def update_step(self, x, g, state, lr, t):
        if not state:
            state["momentum"], state["velocity"] = np.zeros_like(x), np.zeros_like(x)
            if self.amsgrad:
                state["velocity_hat"] = np.zeros_like(x)
        m, v = state["momentum"], state["velocity"]
        alpha = lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        d = np.subtract(g, m, out=np.empty_like(x))  # one scratch array, reused for every temporary
        d *= 1 - self.beta_1
        m += d
        np.multiply(g, g, out=d)
        d -= v
        d *= 1 - self.beta_2
        v += d
        if self.amsgrad:
            v = np.maximum(state["velocity_hat"], v, out=state["velocity_hat"])
        np.sqrt(v, out=d)
        d += self.epsilon
        np.divide(m, d, out=d)
        d *= alpha
        x -= d


class AdamW(Adam):
    """AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay)


class RMSprop(Optimizer):
    """RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None).

    ``v = rho * v + (1 - rho) * g * g``, then ``w -= lr * g / sqrt(v + epsilon)`` (centered: ``v - a * a``
    under the root, ``a`` the running mean gradient; with momentum the increments are accumulated).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def update_step(self, x, g, state, lr, t):
        v = state.setdefault("velocity", np.zeros_like(x))
        rho = np.asarray(self.rho, x.dtype)
        v *= rho
        v += (1 - rho) * g * g
        if self.centered:
            a = state.setdefault("average_gradient", np.zeros_like(x))
            a *= rho
            a += (1 - rho) * g
            denominator = v - a * a + np.asarray(self.epsilon, x.dtype)
        else:
            denominator = v + np.asarray(self.epsilon, x.dtype)
        increment = np.asarray(lr, x.dtype) * g / np.sqrt(denominator)
        if self.momentum > 0:
            mom = state.setdefault("momentum", np.zeros_like(x))
            mom *= self.momentum
            mom += increment
            x -= mom
        else:
            x -= increment


class Adagrad(Optimizer):
    """Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None).

    ``acc += g * g``, then ``w -= lr * g / sqrt(acc + epsilon)``.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.initial, self.epsilon = initial_accumulator_value, epsilon

    def update_step(self, x, g, state, lr, t):
        acc = state.setdefault("accumulator", np.full_like(x, self.initial))
        acc += g * g
        x -= np.asarray(lr, x.dtype) * g / np.sqrt(acc + np.asarray(self.epsilon, x.dtype))


class _Wrapped(Optimizer):
    """A tapegrad.optim optimizer passed to compile directly (its own update rule, PyTorch's)."""

    def __init__(self, torch_optimizer):
        super().__init__(torch_optimizer.param_groups[0]["lr"])
        self.torch_optimizer = torch_optimizer

    def bind(self, params):
        return self.torch_optimizer


_NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """A Keras optimizer from a name ('adam', 'sgd', 'rmsprop', ...), an instance, or a tapegrad.optim one."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, optim.Optimizer):
        return _Wrapped(identifier)
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"compile: unknown optimizer {identifier!r}; use one of {sorted(_NAMES)} or an optimizer object")
