"""Shape ops: views and rearrangements. Their gradients rearrange the gradient back."""

import numpy as np

from .._tensor import Tensor, _check_dim, _record, tensor_method

__all__ = ["reshape", "transpose", "swapaxes", "swapdims", "permute", "unsqueeze", "squeeze"]


def _shape_arg(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Tensor)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


@tensor_method()
def reshape(input, *shape):
    """reshape(input, shape): the same elements in a new shape (one dimension may be -1).

    >>> import tapegrad as tg
    >>> tg.arange(6).reshape(2, 3).shape
    tapegrad.Size([2, 3])
    """
    shape = _shape_arg(shape)
    x = input._data
    try:
        out = x.reshape(shape)
    except ValueError:
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size {x.size} "
                           f"(shape {tuple(x.shape)})") from None
    in_shape = x.shape

    def backward(xp, g, out, x):
        return (g.reshape(in_shape),)

    return _record(out, (input,), backward)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0, dim1):
    """transpose(input, dim0, dim1): swap two dimensions.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).transpose(0, 1).shape
    tapegrad.Size([3, 2])
    """
    n = input._data.ndim
    d0, d1 = _check_dim("transpose", dim0, n), _check_dim("transpose", dim1, n)
    if n < 2:
        return input

    def backward(xp, g, out, x):
        return (xp.swapaxes(g, d0, d1),)

    return _record(np.swapaxes(input._data, d0, d1), (input,), backward)


swapaxes = swapdims = transpose


@tensor_method()
def permute(input, *dims):
    """permute(input, *dims): reorder the dimensions."""
    dims = _shape_arg(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute: number of dims {len(dims)} doesn't match the tensor's {n} dimensions")
    axes = tuple(_check_dim("permute", d, n) for d in dims)
    if sorted(axes) != list(range(n)):
        raise RuntimeError(f"permute: dims {dims} repeat a dimension")
    inverse = tuple(np.argsort(axes))

    def backward(xp, g, out, x):
        return (xp.transpose(g, inverse),)

    return _record(np.transpose(input._data, axes), (input,), backward)


def _t(self):
    n = self._data.ndim
    return permute(self, *reversed(range(n))) if n >= 2 else self


def _mt(self):
    if self._data.ndim < 2:
        raise RuntimeError(f"mT: tensor of {self._data.ndim} dimension(s) has no matrix transpose")
    return transpose(self, -2, -1)


Tensor.T = property(_t)
Tensor.mT = property(_mt)


@tensor_method()
def t(input):
    """t(input): transpose a tensor of at most 2 dimensions."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    return _t(input)


@tensor_method()
def unsqueeze(input, dim):
    """unsqueeze(input, dim): insert a dimension of size 1 at ``dim``."""
    n = input._data.ndim + 1
    d = _check_dim("unsqueeze", dim, n)
    return reshape(input, input._data.shape[:d] + (1,) + input._data.shape[d:])


@tensor_method()
def squeeze(input, dim=None):
    """squeeze(input, dim=None): remove dimensions of size 1 (all, or those in ``dim``)."""
    shape = input._data.shape
    if dim is None:
        dims = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = {_check_dim("squeeze", d, len(shape)) for d in dims} if shape else set()
    return reshape(input, tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1)))


@tensor_method()
def expand(input, *sizes):
    """expand(input, *sizes): a broadcast view of larger size (-1 keeps a dimension); no copy."""
    sizes = _shape_arg(sizes)
    shape = input._data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({len(shape)})")
    target = tuple(shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:
        out = np.broadcast_to(input._data, target)
    except ValueError:
        raise RuntimeError(f"expand: the expanded size {list(sizes)} must match the existing size "
                           f"{list(shape)} at non-singleton dimensions") from None

    def backward(xp, g, out, x):
        return (g,)  # the engine sums the broadcast dimensions back

    return _record(out, (input,), backward)


broadcast_to = expand
__all__ += ["t", "expand", "broadcast_to"]
