"""Keras optimizers (Keras 3 names and defaults), running on tapegrad.optim.

The tapegrad optimizer is made when the model's weights exist (at the first ``fit``); ``learning_rate`` can
be read and set at any time (callbacks do).
"""

from .. import optim


class Optimizer:
    """Optimizer(learning_rate): a Keras optimizer; ``bind(params)`` creates the tapegrad optimizer."""

    def __init__(self, learning_rate):
        self._learning_rate = float(learning_rate)
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

    def bind(self, params):
        self.torch_optimizer = self.make(list(params), self._learning_rate)
        return self.torch_optimizer

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self._learning_rate})"


class SGD(Optimizer):
    """SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None):
        super().__init__(learning_rate)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay or 0.0

    def make(self, params, lr):
        return optim.SGD(params, lr=lr, momentum=self.momentum, nesterov=self.nesterov,
                         weight_decay=self.weight_decay)


class Adam(Optimizer):
    """Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None).

    Keras's weight decay is decoupled, so a weight_decay makes this AdamW.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None):
        super().__init__(learning_rate)
        self.betas, self.epsilon, self.amsgrad, self.weight_decay = (beta_1, beta_2), epsilon, amsgrad, weight_decay

    def make(self, params, lr):
        if self.weight_decay:
            return optim.AdamW(params, lr=lr, betas=self.betas, eps=self.epsilon, amsgrad=self.amsgrad,
                               weight_decay=self.weight_decay)
        return optim.Adam(params, lr=lr, betas=self.betas, eps=self.epsilon, amsgrad=self.amsgrad)


class AdamW(Adam):
    """AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay)

    def make(self, params, lr):
        return optim.AdamW(params, lr=lr, betas=self.betas, eps=self.epsilon, amsgrad=self.amsgrad,
                           weight_decay=self.weight_decay)


class RMSprop(Optimizer):
    """RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None):
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        self.weight_decay = weight_decay or 0.0

    def make(self, params, lr):
        return optim.RMSprop(params, lr=lr, alpha=self.rho, eps=self.epsilon, momentum=self.momentum,
                             centered=self.centered, weight_decay=self.weight_decay)


class Adagrad(Optimizer):
    """Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__(learning_rate)
        self.initial, self.epsilon = initial_accumulator_value, epsilon

    def make(self, params, lr):
        return optim.Adagrad(params, lr=lr, initial_accumulator_value=self.initial, eps=self.epsilon)


class _Wrapped(Optimizer):
    """A tapegrad.optim optimizer passed to compile directly."""

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
