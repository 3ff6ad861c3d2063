"""Linear algebra: matrix products."""

import numpy as np

from .._tensor import _record, tensor_method
from .elementwise import operands

__all__ = ["matmul"]


@tensor_method("matmul", "__matmul__")
def matmul(input, other):
    """matmul(input, other): matrix product with numpy's rules: 1-D, 2-D, batched and broadcast-batched.

    >>> import tapegrad as tg
    >>> tg.matmul(tg.ones(2, 3), tg.ones(3)).shape
    tapegrad.Size([2])
    """
    a, b = operands("matmul", input, other)
    ad, bd = a._data, b._data
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes {tuple(ad.shape)} and "
                         f"{tuple(bd.shape)}")
    ka = ad.shape[-1]
    kb = bd.shape[-2] if bd.ndim > 1 else bd.shape[0]
    if ka != kb:
        raise ValueError(f"matmul: cannot multiply {tuple(ad.shape)} by {tuple(bd.shape)}: inner sizes {ka} and "
                         f"{kb} differ")
    try:
        out = np.matmul(ad, bd)
    except ValueError:
        raise ValueError(f"matmul: cannot broadcast the batch dimensions of {tuple(ad.shape)} and "
                         f"{tuple(bd.shape)}") from None
    a_vec, b_vec = ad.ndim == 1, bd.ndim == 1
    need_a, need_b = a.requires_grad, b.requires_grad

    def backward(xp, g, out, a, b):
        if a_vec and b_vec:
            return g * b, g * a
        if a_vec:  # (k,) @ (..., k, n): treat a as (1, k)
            a, g = a.reshape((1,) + tuple(a.shape)), xp.expand_dims(g, -2)
        if b_vec:  # (..., m, k) @ (k,): treat b as (k, 1)
            b, g = b.reshape(tuple(b.shape) + (1,)), xp.expand_dims(g, -1)
        ga = g @ b.mT if need_a else None
        gb = a.mT @ g if need_b else None
        if b_vec and gb is not None:
            gb = gb.sum(axis=-1)
        return ga, gb

    return _record(out, (a, b), backward)


mm = matmul
