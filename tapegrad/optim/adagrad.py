"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

import numpy as np

from ..autograd.declare import wrap as _wrap
from ..autograd.graph import increment_version
from . import _arrays as A
from .optimizer import Optimizer, _advance_step, _check_fused, _check_option, _check_unsupported


class Adagrad(Optimizer):
    """Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    foreach=None, *, maximize=False)

    PyTorch's update at step t: ``s += g * g``, ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)``;
    ``s`` starts at ``initial_accumulator_value``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_option("Adagrad", "learning rate", lr, lr >= 0, "lr >= 0")
        _check_option("Adagrad", "lr_decay value", lr_decay, lr_decay >= 0, "lr_decay >= 0")
        _check_option("Adagrad", "weight_decay value", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        _check_option("Adagrad", "initial_accumulator_value", initial_accumulator_value,
                      initial_accumulator_value >= 0, "initial_accumulator_value >= 0")
        _check_option("Adagrad", "epsilon value", eps, eps >= 0, "eps >= 0")
        _check_unsupported("Adagrad", differentiable=differentiable)
        _check_fused("Adagrad", fused, foreach)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # as PyTorch: the state exists from the start
            for p in group["params"]:
                self._init_state(self.state[p], p, group)

    @staticmethod
    def _init_state(s, p, group):
        s["step"] = _wrap(np.zeros((), np.float32))
        s["sum"] = _wrap(np.full_like(p._data, group["initial_accumulator_value"]))

    def _update(self, group):
        lr = float(group["lr"])
        lr_decay = float(group["lr_decay"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        maximize = group["maximize"]
        state = self.state
        for p, _, g in A.params_with_grads(self, group):
            s = state[p]
            if not s:
                self._init_state(s, p, group)
            step = _advance_step(s)
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * p._data
            clr = lr / (1 + (step - 1) * lr_decay)
            acc = s["sum"]._data
            t = np.multiply(g, g, out=np.empty_like(acc))  # out=: a 0-d temporary must stay an array
            acc += t
            np.sqrt(acc, out=t)
            t += eps
            np.divide(g * -clr, t, out=t)
            p._data += t
            increment_version(p)
