"""Keras losses. Each computes a per-batch mean of per-sample losses (Keras's 'sum_over_batch_size').

When the model's last layer ends in softmax (or sigmoid) and the loss takes probabilities, the model hands the
loss the pre-activation logits instead and the loss uses the fused, stable cross-entropy: the same value as
Keras, without log(0) or float32 underflow.
"""

import numpy as np

from .._tensor import Tensor
from ..creation import as_tensor
from ..nn import functional as F

_EPS = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


class Loss:
    """Loss(name, from_logits=False): ``loss(y_true, y_pred)`` -> a scalar tensor."""

    kind = "other"  # 'sparse', 'categorical', 'binary' or 'other': what 'accuracy' means for it
    fuses: str | None = None  # the final activation whose logits this loss can use directly

    def __init__(self, from_logits=False, name=None):
        self.from_logits = from_logits
        self.name = name or _snake(type(self).__name__)

    def __call__(self, y_true, y_pred, logits=None):
        """loss(y_true, y_pred) -> scalar tensor; arrays and lists are accepted as well as tensors."""
        y_true = y_true if isinstance(y_true, Tensor) else as_tensor(np.asarray(y_true))
        y_pred = y_pred if isinstance(y_pred, Tensor) else as_tensor(np.asarray(y_pred, dtype=np.float32))
        return self.call(y_true, y_pred, logits)

    def check(self, y, units):
        """Raise a clear error if targets ``y`` (numpy) cannot go with an output of ``units`` columns."""


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class SparseCategoricalCrossentropy(Loss):
    """SparseCategoricalCrossentropy(from_logits=False): integer class labels against class probabilities.

    >>> SparseCategoricalCrossentropy()([1, 2], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    tensor(1.1769)
    """

    kind, fuses = "sparse", "softmax"

    def call(self, y_true, y_pred, logits=None):
        target = y_true.reshape(-1).long()
        if logits is not None or self.from_logits:
            return F.cross_entropy(logits if logits is not None else y_pred, target)
        p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(_EPS, 1 - _EPS)  # Keras renormalizes, then clips
        return F.nll_loss(p.log(), target)

    def check(self, y, units):
        if y.ndim > 1 and not (y.ndim == 2 and y.shape[1] == 1):
            raise ValueError(f"sparse_categorical_crossentropy: expects integer labels of shape (n,) or (n, 1), "
                             f"got targets of shape {y.shape}; for one-hot targets use categorical_crossentropy")
        if units == 1:
            raise ValueError("sparse_categorical_crossentropy: the model has 1 output unit; use "
                             "binary_crossentropy, or a final Dense(n_classes)")
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise ValueError("sparse_categorical_crossentropy: labels must be whole numbers, got fractional values")
        lo, hi = y.min(), y.max()
        if lo < 0 or hi >= units:
            raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {units - 1}] for a model with "
                             f"{units} output units, got labels from {int(lo)} to {int(hi)}")


class CategoricalCrossentropy(Loss):
    """CategoricalCrossentropy(from_logits=False, label_smoothing=0.0): one-hot (or soft) targets."""

    kind, fuses = "categorical", "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None):
        super().__init__(from_logits, name)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred, logits=None):
        target = y_true.type(y_pred.dtype)
        if self.label_smoothing:
            k = target.shape[-1]
            target = target * (1 - self.label_smoothing) + self.label_smoothing / k
        if logits is not None or self.from_logits:
            return F.cross_entropy(logits if logits is not None else y_pred, target)
        p = y_pred / y_pred.sum(dim=-1, keepdim=True)
        return -(target * p.clamp(_EPS, 1 - _EPS).log()).sum(dim=-1).mean()

    def check(self, y, units):
        if y.ndim != 2 or y.shape[1] != units:
            raise ValueError(f"categorical_crossentropy: expects one-hot targets of shape (n, {units}) for a model "
                             f"with {units} output units, got targets of shape {y.shape}; for integer labels use "
                             "sparse_categorical_crossentropy")


class BinaryCrossentropy(Loss):
    """BinaryCrossentropy(from_logits=False, label_smoothing=0.0): 0/1 targets against probabilities (or logits);
    label smoothing moves the targets toward 0.5 (``y * (1 - s) + s / 2``), as Keras."""

    kind, fuses = "binary", "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None):
        super().__init__(from_logits, name)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred, logits=None):
        target = y_true.type(y_pred.dtype).reshape(y_pred.shape)
        if self.label_smoothing:
            target = target * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        if logits is not None or self.from_logits:
            return F.binary_cross_entropy_with_logits(logits if logits is not None else y_pred, target)
        p = y_pred.clamp(_EPS, 1 - _EPS)
        return -(target * p.log() + (1 - target) * (1 - p).log()).mean()

    def check(self, y, units):
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"binary_crossentropy: targets must be in [0, 1], got values from {y.min()} to "
                             f"{y.max()}")
        per_sample = int(np.prod(y.shape[1:])) if y.ndim > 1 else 1
        if per_sample != units:
            raise ValueError(f"binary_crossentropy: targets of shape {y.shape} do not fit a model with {units} "
                             "output units (one sigmoid unit per binary target)")


class _Regression(Loss):
    def check(self, y, units):
        per_sample = int(np.prod(y.shape[1:])) if y.ndim > 1 else 1
        if per_sample != units:
            raise ValueError(f"{self.name}: targets of shape {y.shape} do not fit a model with {units} output "
                             "units")


class MeanSquaredError(_Regression):
    """MeanSquaredError(): mean of (y_true - y_pred) ** 2.

    >>> MeanSquaredError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
    tensor(0.5000)
    """

    def call(self, y_true, y_pred, logits=None):
        return F.mse_loss(y_pred, y_true.type(y_pred.dtype).reshape(y_pred.shape))


class MeanAbsoluteError(_Regression):
    """MeanAbsoluteError(): mean of |y_true - y_pred|."""

    def call(self, y_true, y_pred, logits=None):
        return F.l1_loss(y_pred, y_true.type(y_pred.dtype).reshape(y_pred.shape))


class Huber(_Regression):
    """Huber(delta=1.0)."""

    def __init__(self, delta=1.0, name=None):
        super().__init__(name=name)
        self.delta = delta

    def call(self, y_true, y_pred, logits=None):
        return F.huber_loss(y_pred, y_true.type(y_pred.dtype).reshape(y_pred.shape), delta=self.delta)


class _Function(Loss):
    """A user's ``fn(y_true, y_pred)`` used as a loss."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred, logits=None):
        return self.fn(y_true, y_pred)


_LOSSES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
}


def get(identifier):
    """A Loss from a Keras name, a Loss instance or a callable ``fn(y_true, y_pred)``."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _LOSSES:
            raise ValueError(f"compile: unknown loss {identifier!r}; use one of {sorted(_LOSSES)} or a callable")
        return _LOSSES[identifier]()
    if callable(identifier):
        return _Function(identifier)
    raise TypeError(f"compile: loss must be a string, a Loss or a callable, got {type(identifier).__name__}")
