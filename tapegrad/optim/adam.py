"""Adam and AdamW: adaptive moment estimation, with L2 (Adam) or decoupled (AdamW) weight decay."""

import numpy as np

from ..autograd.declare import wrap as _wrap
from ..autograd.graph import increment_version
from . import _arrays as A
from .optimizer import Optimizer, _advance_step, _check_fused, _check_option, _check_unsupported


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, maximize=False,
    decoupled_weight_decay=False)

    PyTorch's update at step t: ``m = b1 * m + (1 - b1) * g``, ``v = b2 * v + (1 - b2) * g * g`` (with
    ``amsgrad``, the running maximum of v is used), then
    ``p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``. ``weight_decay`` adds
    ``weight_decay * p`` to the gradient, or with ``decoupled_weight_decay`` (AdamW) multiplies ``p`` by
    ``1 - lr * weight_decay`` first.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # the first Adam step moves each coordinate by about lr
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _name = "Adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        name = self._name
        _check_option(name, "learning rate", lr, lr >= 0, "lr >= 0")
        _check_option(name, "epsilon value", eps, eps >= 0, "eps >= 0")
        _check_option(name, "betas", betas, len(betas) == 2, "a pair (beta1, beta2)")
        _check_option(name, "beta parameter at index 0", betas[0], 0 <= betas[0] < 1, "0 <= beta1 < 1")
        _check_option(name, "beta parameter at index 1", betas[1], 0 <= betas[1] < 1, "0 <= beta2 < 1")
        _check_option(name, "weight_decay value", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        _check_unsupported(name, capturable=capturable, differentiable=differentiable)
        _check_fused(name, fused, foreach)
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        amsgrad = group["amsgrad"]
        maximize = group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        w1, w2 = 1.0 - beta1, 1.0 - beta2
        state = self.state
        for p, x, g in A.params_with_grads(self, group):
            s = state[p]
            if not s:
                s["step"] = _wrap(np.zeros((), np.float32))
                s["exp_avg"] = _wrap(np.zeros_like(x))
                s["exp_avg_sq"] = _wrap(np.zeros_like(x))
                if amsgrad:
                    s["max_exp_avg_sq"] = _wrap(np.zeros_like(x))
            step = _advance_step(s)
            if maximize:
                g = -g
            if wd != 0:
                if decoupled:
                    x *= 1.0 - lr * wd
                else:
                    g = g + wd * x
            m = s["exp_avg"]._data
            v = s["exp_avg_sq"]._data
            # Temporaries are written with out= (ufuncs on 0-d arrays would return scalars otherwise).
            d = np.subtract(g, m, out=np.empty_like(x))  # m.lerp_(g, 1 - beta1), in PyTorch's two-sided form
            if w1 < 0.5:
                d *= w1
                m += d
            else:
                d *= 1.0 - w1
                np.subtract(g, d, out=m)
            v *= beta2
            np.multiply(g, w2, out=d)
            d *= g
            v += d
            if amsgrad:
                vmax = s["max_exp_avg_sq"]._data
                np.maximum(vmax, v, out=vmax)
                v = vmax
            bias_correction1 = 1.0 - beta1 ** step
            bias_correction2_sqrt = (1.0 - beta2 ** step) ** 0.5
            denom = np.sqrt(v, out=np.empty_like(x))
            denom /= bias_correction2_sqrt
            denom += eps
            np.multiply(m, -(lr / bias_correction1), out=d)
            d /= denom
            x += d
            increment_version(p)


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
    maximize=False)

    Adam with decoupled weight decay: each step first multiplies the parameters by ``1 - lr * weight_decay``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()  # (1 - 0.05) * w, then the Adam step
    >>> w
    tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    _name = "AdamW"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
