"""Keras metrics: stateful averages over an epoch (``update_state``, ``result``, ``reset_state``)."""

import numpy as np


class Metric:
    """Metric(name): a sample-weighted running mean of a per-sample value.

    >>> m = BinaryAccuracy()
    >>> m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> m.result()
    0.75
    """

    def __init__(self, name=None):
        self.name = name or _snake(type(self).__name__)
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        """update_state(y_true, y_pred, sample_weight=None): add a batch (one value per sample, weighted)."""
        values = self.values(np.asarray(y_true), np.asarray(y_pred))
        if sample_weight is None:
            self.total += float(np.add.reduce(values, axis=None))
            self.count += values.size
            return
        w = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64).reshape(-1), values.shape)
        self.total += float(np.add.reduce(values * w, axis=None))
        self.count += float(np.add.reduce(w, axis=None))

    def result(self):
        return self.total / self.count if self.count else 0.0


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _column(y, n):
    return y.reshape(n, -1)


class SparseCategoricalAccuracy(Metric):
    def values(self, y_true, y_pred):
        return (y_pred.reshape(len(y_pred), -1).argmax(-1) == y_true.reshape(-1)).astype(np.float64)


class CategoricalAccuracy(Metric):
    def values(self, y_true, y_pred):
        return (y_pred.argmax(-1) == y_true.argmax(-1)).astype(np.float64).reshape(-1)


class BinaryAccuracy(Metric):
    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        n = len(y_pred)
        return ((_column(y_pred, n) > self.threshold) == (_column(y_true, n) > 0.5)).astype(np.float64).reshape(-1)


class Accuracy(Metric):
    def values(self, y_true, y_pred):
        n = len(y_pred)
        return (_column(y_pred, n) == _column(y_true, n)).astype(np.float64).reshape(-1)


class MeanSquaredError(Metric):
    def values(self, y_true, y_pred):
        n = len(y_pred)
        return ((_column(y_pred, n) - _column(y_true, n)) ** 2).mean(-1)


class MeanAbsoluteError(Metric):
    def values(self, y_true, y_pred):
        n = len(y_pred)
        return np.abs(_column(y_pred, n) - _column(y_true, n)).mean(-1)


class _ShapeAccuracy(Metric):
    """What ``metrics=['accuracy']`` means in Keras 3, chosen from the shapes at the first update: binary
    accuracy for one output unit, sparse categorical accuracy when the targets are class labels (one axis fewer
    than the output, or a last axis of 1), categorical accuracy otherwise."""

    def __init__(self, name=None):
        self.chosen = None
        super().__init__(name)

    def values(self, y_true, y_pred):
        if self.chosen is None:
            if y_pred.ndim > 1 and y_pred.shape[-1] == 1 or y_pred.ndim == 1:
                self.chosen = BinaryAccuracy()
            elif y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
                self.chosen = SparseCategoricalAccuracy()
            else:
                self.chosen = CategoricalAccuracy()
        return self.chosen.values(y_true, y_pred)


_BY_NAME = {"sparse_categorical_accuracy": SparseCategoricalAccuracy, "categorical_accuracy": CategoricalAccuracy,
            "binary_accuracy": BinaryAccuracy, "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
            "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError}


def get(identifier, loss=None):
    """A Metric from a name, an instance or a callable; 'accuracy' picks the variant that fits the shapes."""
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        return _ShapeAccuracy(name=identifier)
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"compile: unknown metric {identifier!r}; use 'accuracy' or one of {sorted(_BY_NAME)}")
        return _BY_NAME[identifier](name=identifier)
    if callable(identifier):
        fn = identifier

        class _Fn(Metric):
            def values(self, y_true, y_pred):
                return np.asarray(fn(y_true, y_pred), dtype=np.float64).reshape(-1)

        return _Fn(name=getattr(fn, "__name__", "metric"))
    raise TypeError(f"compile: a metric must be a string, a Metric or a callable, got {type(identifier).__name__}")
