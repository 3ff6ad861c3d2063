"""Keras utilities."""

import numpy as np


def to_categorical(x, num_classes=None):
    """to_categorical(x, num_classes=None): integer labels -> one-hot float32 rows."""
    x = np.asarray(x, dtype=np.int64).reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes - 1}], got {x.min()}..{x.max()}")
    out = np.zeros((x.size, num_classes), dtype=np.float32)
    out[np.arange(x.size), x] = 1
    return out


def set_random_seed(seed):
    """set_random_seed(seed): seed tapegrad's (and numpy's) generators."""
    from .. import manual_seed

    manual_seed(seed)
