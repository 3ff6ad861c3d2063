"""Adamax: Adam with the infinity norm of past gradients in place of their root mean square."""

import numpy as np

from . import _arrays as A
from .optimizer import Optimizer, _check_option, _check_unsupported


class Adamax(Optimizer):
    """Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *, maximize=False,
    differentiable=False, capturable=False)

    PyTorch's update at step t: ``m = lerp(m, g, 1 - beta1)``, ``u = max(beta2 * u, |g| + eps)``, then
    ``p -= lr / (1 - beta1**t) * m / u``. ``weight_decay`` adds ``weight_decay * p`` to the gradient.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Adamax([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # the first step moves each coordinate by lr
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        A.check_lr("Adamax", lr)
        _check_option("Adamax", "epsilon value", eps, 0.0 <= eps, "eps >= 0")
        _check_option("Adamax", "beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0, "0 <= beta1 < 1")
        _check_option("Adamax", "beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0, "0 <= beta2 < 1")
        _check_option("Adamax", "weight_decay value", weight_decay, 0.0 <= weight_decay, "weight_decay >= 0")
        _check_unsupported("Adamax", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        for p, x, g in A.params_with_grads(self, group):
            s = self.state[p]
            if not s:
                s["step"] = A.scalar_state(0.0)
                s["exp_avg"] = A.zeros_like_state(x)
                s["exp_inf"] = A.zeros_like_state(x)
            if group["maximize"]:
                g = -g
            step = A.advance(s)
            if wd != 0:
                g = g + wd * x
            m = A.array(s["exp_avg"])
            u = A.array(s["exp_inf"])
            A.lerp_(m, g, 1 - beta1)
            u *= beta2
            np.maximum(u, np.abs(g) + eps, out=u)  # NaN propagates, as torch.maximum's
            clr = lr / (1 - beta1 ** step)
            x += -clr * m / u
            A.written(p)
