"""Keras utilities: ``to_categorical`` and ``set_random_seed``."""

import random

import numpy as np


def to_categorical(x, num_classes=None):
    """to_categorical(x, num_classes=None): integer labels -> one-hot float32 arrays, the class axis last.

    As Keras 3, a trailing axis of size 1 is dropped first, so labels of shape (n,) or (n, 1) give (n, classes).

    >>> to_categorical([0, 2])
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    x = np.asarray(x)
    if x.dtype.kind == "f" and not np.all(np.isfinite(x) & (x == np.round(x))):
        raise ValueError("to_categorical: labels must be whole numbers")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {x.dtype}")
    x = x.astype(np.int64)
    shape = x.shape[:-1] if x.ndim > 1 and x.shape[-1] == 1 else x.shape
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    num_classes = int(num_classes)
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes - 1}] for num_classes={num_classes}, "
                         f"got labels from {x.min()} to {x.max()}")
    out = np.zeros((x.size, num_classes), dtype=np.float32)
    out[np.arange(x.size), x] = 1
    return out.reshape(shape + (num_classes,))


def set_random_seed(seed):
    """set_random_seed(seed): seed tapegrad's generator, numpy's and Python's, so runs repeat exactly."""
    from ..random import manual_seed

    random.seed(seed)
    manual_seed(seed)
