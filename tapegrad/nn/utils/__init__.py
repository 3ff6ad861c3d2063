"""Gradient clipping, flat parameter vectors and an L1 penalty (``torch.nn.utils``).

PyTorch's submodules: ``clip_grad`` (clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_),
``convert_parameters`` (parameters_to_vector, vector_to_parameters) and ``rnn`` (variable-length sequences:
pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence, PackedSequence, ...).

Regularization: an L2 ("ridge") penalty is the optimizer's ``weight_decay`` argument (e.g.
``tapegrad.optim.SGD(params, lr=0.1, weight_decay=1e-4)``), as in PyTorch; an L1 ("lasso") penalty is a term
added to the loss, :func:`l1_penalty`.
"""

import numpy as np

from ...autograd.declare import Tensor, op, record
from . import clip_grad, convert_parameters, parametrizations, parametrize, rnn
from .clip_grad import _tensors, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters", "l1_penalty", "clip_grad", "convert_parameters", "rnn",
           "parametrize", "parametrizations"]


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
