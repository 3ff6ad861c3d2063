"""Gradient clipping, flat parameter vectors and an L1 penalty (``torch.nn.utils``).

Regularization: an L2 ("ridge") penalty is the optimizer's ``weight_decay`` argument (e.g.
``tapegrad.optim.SGD(params, lr=0.1, weight_decay=1e-4)``), as in PyTorch; an L1 ("lasso") penalty is a term
added to the loss, :func:`l1_penalty`.
"""

import math

import numpy as np

from ..autograd.declare import Tensor, op, record
from ..autograd.declare import wrap as _wrap
from ..autograd.graph import increment_version

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters", "l1_penalty"]


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


@op(methods=(), xp_name=False)
def l1_penalty(parameters, lam: float = 1.0) -> Tensor:
    """l1_penalty(parameters, lam=1.0) -> Tensor: ``lam * sum(|w|)`` over the parameters, to add to a loss.

    ``parameters`` is a Module (all its parameters), a tensor, or an iterable of tensors; to leave biases
    out, pass ``(p for n, p in model.named_parameters() if n.endswith("weight"))``. The gradient is
    ``lam * sign(w)`` (0 at w = 0, the subgradient PyTorch's ``abs`` uses). For an L2 ("ridge") penalty use
    the optimizer's ``weight_decay``.

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.tensor([1.0, -2.0]))
    >>> tg.nn.utils.l1_penalty([w], lam=0.1)
    tensor(0.3000, grad_fn=<L1PenaltyBackward0>)
    """
    params = _tensors(parameters)
    if not params:
        raise RuntimeError("l1_penalty: expected at least one parameter, got none")
    dtype = np.result_type(*[p._data for p in params])
    signs = [lam * np.sign(p._data) for p in params]
    total = sum(np.abs(p._data).sum(dtype=dtype) for p in params) * lam

    def l1_penalty_rule(xp, need, g, out, *ps):
        return tuple(g * s if n else None for s, n in zip(signs, need, strict=True))

    def l1_penalty_rule_1(xp, g, out, p):
        return g * signs[0]

    return record(np.asarray(total, dtype=dtype), tuple(params), l1_penalty_rule_1 if len(params) == 1 else
                  l1_penalty_rule, "L1PenaltyBackward0")
