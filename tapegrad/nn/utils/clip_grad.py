"""Gradient clipping (``torch.nn.utils.clip_grad``): ``clip_grad_norm_``, ``clip_grad_value_``,
``get_total_norm``, ``clip_grads_with_norm_``; also ``tapegrad.nn.utils.NAME``.

    >>> from tapegrad.nn.utils.clip_grad import clip_grad_norm_
    >>> import tapegrad as tg
    >>> clip_grad_norm_(tg.nn.Linear(2, 1).parameters(), 1.0)  # no gradients yet
    tensor(0.)
"""

import math

import numpy as np

from ...autograd.declare import Tensor
from ...autograd.declare import wrap as _wrap
from ...autograd.graph import increment_version

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _tensors(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    if hasattr(parameters, "parameters") and callable(parameters.parameters):  # a Module
        return list(parameters.parameters())
    return list(parameters)


def _grads(parameters):
    return [p.grad for p in _tensors(parameters) if p.grad is not None]


def _norm_type(op, norm_type):
    norm_type = float(norm_type)
    if norm_type <= 0 and not math.isinf(norm_type):
        raise ValueError(f"{op}: norm_type must be positive or inf, got {norm_type}")
    return norm_type


def _vector_norm(a, norm_type):
    a = np.abs(a.reshape(-1))
    if math.isinf(norm_type):
        return a.max(initial=0) if norm_type > 0 else a.min(initial=np.inf)
    if norm_type == 2.0:
        return np.sqrt(np.dot(a, a))
    if norm_type == 1.0:
        return a.sum()
    return (a**norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False) -> Tensor: the norm of the norms.

    >>> import tapegrad as tg
    >>> tg.nn.utils.get_total_norm([tg.tensor([3.0]), tg.tensor([4.0])])
    tensor(5.)
    """
    norm_type = _norm_type("get_total_norm", norm_type)
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if not tensors:
        return _wrap(np.array(0.0, dtype=np.float32))
    arrays = [t._data for t in tensors]
    dtype = np.result_type(*arrays)
    norms = np.array([_vector_norm(a, norm_type) for a in arrays], dtype=dtype)
    total = _vector_norm(norms, norm_type).astype(dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                           f"non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return _wrap(np.asarray(total))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """clip_grads_with_norm_(parameters, max_norm, total_norm): scale the gradients in place by
    min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    total = float(total_norm._data if isinstance(total_norm, Tensor) else total_norm)
    coef = min(float(max_norm) / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    for g in grads:
        g._data *= np.asarray(coef, dtype=g._data.dtype)
        increment_version(g)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False) -> Tensor

    Scale all gradients in place (together) so that their joint ``norm_type``-norm is at most ``max_norm``:
    they are multiplied by min(1, max_norm / (total_norm + 1e-6)). Returns the total norm before clipping.

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.zeros(2))
    >>> w.grad = tg.tensor([3.0, 4.0])
    >>> tg.nn.utils.clip_grad_norm_([w], max_norm=1.0)
    tensor(5.)
    >>> w.grad
    tensor([0.6000, 0.8000])
    """
    parameters = _tensors(parameters)
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """clip_grad_value_(parameters, clip_value): clamp every gradient element to [-clip_value,
    clip_value], in place.

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.zeros(2))
    >>> w.grad = tg.tensor([-3.0, 0.5])
    >>> tg.nn.utils.clip_grad_value_([w], 1.0)
    >>> w.grad
    tensor([-1.0000,  0.5000])
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        increment_version(g)
