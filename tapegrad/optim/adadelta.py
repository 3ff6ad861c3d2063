"""Adadelta: step sizes from running averages of squared gradients and of squared updates."""

import numpy as np

from ..autograd.declare import wrap as _wrap
from ..autograd.graph import increment_version
from . import _arrays as A
from .optimizer import Optimizer, _advance_step, _check_option, _check_unsupported


class Adadelta(Optimizer):
    """Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, maximize=False)

    PyTorch's update: ``v = rho * v + (1 - rho) * g * g``,
    ``d = sqrt(u + eps) / sqrt(v + eps) * g``, ``u = rho * u + (1 - rho) * d * d``, ``p -= lr * d``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([3.0], requires_grad=True)
    >>> opt = tg.optim.Adadelta([w], eps=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()  # d = sqrt(0.01) / sqrt(0.1 * 36 + 0.01) * 6
    >>> w
    tensor([2.6842], requires_grad=True)
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_option("Adadelta", "learning rate", lr, lr >= 0, "lr >= 0")
        _check_option("Adadelta", "rho value", rho, 0 <= rho <= 1, "0 <= rho <= 1")
        _check_option("Adadelta", "epsilon value", eps, eps >= 0, "eps >= 0")
        _check_option("Adadelta", "weight_decay value", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        _check_unsupported("Adadelta", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        rho = float(group["rho"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        maximize = group["maximize"]
        w = 1.0 - rho
        state = self.state
        for p, x, g in A.params_with_grads(self, group):
            s = state[p]
            if not s:
                s["step"] = _wrap(np.zeros((), np.float32))
                s["square_avg"] = _wrap(np.zeros_like(x))
                s["acc_delta"] = _wrap(np.zeros_like(x))
            _advance_step(s)
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * x
            v = s["square_avg"]._data
            u = s["acc_delta"]._data
            v *= rho
            t = np.multiply(g, w, out=np.empty_like(x))  # out=: a 0-d temporary must stay an array
            t *= g
            v += t
            std = np.add(v, eps, out=np.empty_like(x))
            np.sqrt(std, out=std)
            np.add(u, eps, out=t)
            delta = np.sqrt(t, out=t)
            delta /= std
            delta *= g
            u *= rho
            np.multiply(delta, w, out=std)
            std *= delta
            u += std
            delta *= lr
            x -= delta
            increment_version(p)
