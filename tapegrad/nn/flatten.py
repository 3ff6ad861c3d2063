"""Flatten and Unflatten (``torch.nn.Flatten``, ``torch.nn.Unflatten``)."""

import numpy as np

from ..autograd.declare import check_dim as _check_dim
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten(start_dim=1, end_dim=-1): merge dims start_dim..end_dim into one (the batch dim stays).

    >>> import tapegrad as tg
    >>> tg.nn.Flatten()(tg.ones(2, 3, 4)).shape
    tapegrad.Size([2, 12])
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        shape = input._data.shape
        start = _check_dim("Flatten", self.start_dim, len(shape))
        end = _check_dim("Flatten", self.end_dim, len(shape))
        if not shape:
            return input.reshape(1)
        if start > end:
            raise RuntimeError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                               f"for an input of shape {tuple(shape)}")
        new = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
        return input.reshape(new) if new != shape else input

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Unflatten(dim, unflattened_size): split dim ``dim`` into the shape ``unflattened_size`` (which may hold
    one -1).

    >>> import tapegrad as tg
    >>> tg.nn.Unflatten(1, (2, 3))(tg.ones(4, 6)).shape
    tapegrad.Size([4, 2, 3])
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(f"Unflatten: unflattened_size must be tuple of ints, but found element "
                                f"of type {type(elem).__name__} at pos {idx}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        shape = input._data.shape
        dim = _check_dim("Unflatten", self.dim, len(shape))
        sizes = list(self.unflattened_size)
        known = int(np.prod([s for s in sizes if s != -1]))
        if sizes.count(-1) == 1 and known > 0:
            sizes[sizes.index(-1)] = shape[dim] // known
        if int(np.prod(sizes)) != shape[dim] or sizes.count(-1) > 1:
            raise RuntimeError(f"Unflatten: the sizes {tuple(self.unflattened_size)} do not multiply to "
                               f"the size {shape[dim]} of dim {self.dim} of an input of shape {tuple(shape)}")
        return input.reshape(shape[:dim] + tuple(sizes) + shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
