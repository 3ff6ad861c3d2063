"""RAdam: Adam with its variance rectified while the second moment's estimate is still short (Liu et al., 2019)."""

import numpy as np

from . import _arrays as A
from .optimizer import Optimizer, _check_option, _check_unsupported


class RAdam(Optimizer):
    """RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *,
    foreach=None, maximize=False, capturable=False, differentiable=False)

    PyTorch's update at step t: Adam's moments, then with ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``: while ``rho_t <= 5`` the step is SGD with momentum,
    ``p -= lr * m / (1 - beta1**t)``; after, it is Adam's step times the rectification
    ``sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))``. ``weight_decay`` adds
    ``weight_decay * p`` to the gradient, or with ``decoupled_weight_decay`` multiplies ``p`` by
    ``1 - lr * weight_decay`` first.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.RAdam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # the first steps are momentum SGD: p -= lr * g
    >>> w
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        A.check_lr("RAdam", lr)
        _check_option("RAdam", "epsilon value", eps, 0.0 <= eps, "eps >= 0")
        _check_option("RAdam", "beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0, "0 <= beta1 < 1")
        _check_option("RAdam", "beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0, "0 <= beta2 < 1")
        _check_option("RAdam", "weight_decay value", weight_decay, 0.0 <= weight_decay, "weight_decay >= 0")
        _check_unsupported("RAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        decoupled = group["decoupled_weight_decay"]
        for p, x, g in A.params_with_grads(self, group):
            s = self.state[p]
            if not s:
                s["step"] = A.scalar_state(0.0)
                s["exp_avg"] = A.zeros_like_state(x)
                s["exp_avg_sq"] = A.zeros_like_state(x)
            if group["maximize"]:
                g = -g
            step = A.advance(s)
            if wd != 0:
                if decoupled:
                    x *= 1 - lr * wd
                else:
                    g = g + wd * x
            m = A.array(s["exp_avg"])
            v = A.array(s["exp_avg_sq"])
            A.lerp_(m, g, 1 - beta1)
            v *= beta2
            v += (1 - beta2) * g * g
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            corrected = m / bias_correction1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive_lr = (bias_correction2 ** 0.5) / (np.sqrt(v) + eps)
                x -= corrected * lr * adaptive_lr * rect
            else:
                x -= corrected * lr
            A.written(p)
