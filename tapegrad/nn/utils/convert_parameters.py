"""Flat parameter vectors (``torch.nn.utils.convert_parameters``): ``parameters_to_vector``,
``vector_to_parameters``; also ``tapegrad.nn.utils.NAME``.

    >>> from tapegrad.nn.utils.convert_parameters import parameters_to_vector
    >>> import tapegrad as tg
    >>> parameters_to_vector(tg.nn.Linear(2, 1).parameters()).shape
    tapegrad.Size([3])
"""

import numpy as np

from ...autograd.declare import Tensor, op, record
from ...autograd.graph import increment_version
from .clip_grad import _tensors

__all__ = ["parameters_to_vector", "vector_to_parameters"]


@op(methods=(), xp_name=False)
def parameters_to_vector(parameters) -> Tensor:
    """parameters_to_vector(parameters) -> Tensor: all parameters flattened and concatenated (differentiable,
    ``CatBackward0`` as PyTorch's ``torch.cat``).

    >>> import tapegrad as tg
    >>> tg.nn.utils.parameters_to_vector(tg.nn.Linear(2, 1).parameters()).shape
    tapegrad.Size([3])
    """
    params = _tensors(parameters)
    if not params:
        raise RuntimeError("parameters_to_vector: expected at least one parameter, got none")
    shapes = [p._data.shape for p in params]
    ends = np.cumsum([p._data.size for p in params]).tolist()
    starts = [0] + ends[:-1]

    def cat_rule(xp, need, g, out, *ps):
        return tuple(g[a:b].reshape(s) if n else None for a, b, s, n in zip(starts, ends, shapes, need, strict=True))

    def cat_rule_1(xp, g, out, p):
        return g.reshape(shapes[0])

    flat = np.concatenate([p._data.reshape(-1) for p in params])
    return record(flat, tuple(params), cat_rule_1 if len(params) == 1 else cat_rule, "CatBackward0")


def vector_to_parameters(vec, parameters):
    """vector_to_parameters(vec, parameters): set the parameters' values from slices of one flat vector.

    As in PyTorch, each parameter's ``.data`` becomes a view of ``vec`` (no gradient flows through this).
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, but got {type(vec).__name__}")
    params = _tensors(parameters)
    total = sum(p._data.size for p in params)
    if vec._data.ndim != 1 or vec._data.size != total:
        raise RuntimeError(f"vector_to_parameters: vec has shape {tuple(vec.shape)} but the parameters hold "
                           f"{total} elements (expected shape ({total},))")
    pointer = 0
    for p in params:
        n = p._data.size
        p.data = vec._data[pointer:pointer + n].reshape(p._data.shape).astype(p._data.dtype, copy=False)
        increment_version(p)
        pointer += n
