"""NAdam: Adam with Nesterov momentum and a momentum schedule (Dozat, 2016)."""

import numpy as np

from . import _arrays as A
from .optimizer import Optimizer, _check_option, _check_unsupported


class NAdam(Optimizer):
    """NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False, differentiable=False)

    PyTorch's update at step t: ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``, the running product
    ``mu_product *= mu_t`` (kept in the state, as a scalar of the state's dtype), the moments of Adam, then
    ``p -= lr * (1 - mu_t) / (1 - mu_product) * g / d + lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d``
    with ``d = sqrt(v / (1 - beta2**t)) + eps``. ``weight_decay`` adds ``weight_decay * p`` to the gradient, or
    with ``decoupled_weight_decay`` (NAdamW) multiplies ``p`` by ``1 - lr * weight_decay`` first.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.NAdam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8944, -1.8944], requires_grad=True)
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        A.check_lr("NAdam", lr)
        _check_option("NAdam", "epsilon value", eps, 0.0 <= eps, "eps >= 0")
        _check_option("NAdam", "beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0, "0 <= beta1 < 1")
        _check_option("NAdam", "beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0, "0 <= beta2 < 1")
        _check_option("NAdam", "weight_decay value", weight_decay, 0.0 <= weight_decay, "weight_decay >= 0")
        _check_option("NAdam", "momentum_decay value", momentum_decay, 0.0 <= momentum_decay,
                      "momentum_decay >= 0")
        _check_unsupported("NAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        momentum_decay = float(group["momentum_decay"])
        decoupled = group["decoupled_weight_decay"]
        for p, x, g in A.params_with_grads(self, group):
            s = self.state[p]
            if not s:
                s["step"] = A.scalar_state(0.0)
                s["mu_product"] = A.scalar_state(1.0)
                s["exp_avg"] = A.zeros_like_state(x)
                s["exp_avg_sq"] = A.zeros_like_state(x)
            if group["maximize"]:
                g = -g
            step = A.advance(s)
            bias_correction2 = 1 - beta2 ** step
            if wd != 0:
                if decoupled:
                    x *= 1 - lr * wd
                else:
                    g = g + wd * x
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            mu_product = A.array(s["mu_product"])
            mu_product *= mu  # in the state's dtype (float32 by default), as PyTorch's
            m = A.array(s["exp_avg"])
            v = A.array(s["exp_avg_sq"])
            A.lerp_(m, g, 1 - beta1)
            v *= beta2
            v += (1 - beta2) * g * g
            denom = np.sqrt(v / bias_correction2)
            mu_product_next = float(mu_product) * mu_next
            denom += eps
            x += (-lr * (1.0 - mu) / (1.0 - float(mu_product))) * g / denom
            x += (-lr * mu_next) / (1.0 - mu_product_next) * m / denom
            A.written(p)
