"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

import numpy as np

from ..autograd.declare import wrap as _wrap
from ..autograd.graph import increment_version
from . import _arrays as A
from .optimizer import Optimizer, _advance_step, _check_option, _check_unsupported


class RMSprop(Optimizer):
    """RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    capturable=False, foreach=None, maximize=False)

    PyTorch's update: ``v = alpha * v + (1 - alpha) * g * g``; the scale is ``sqrt(v) + eps`` or, centered,
    ``sqrt(v - a * a) + eps`` with ``a`` the running mean of g; then ``p -= lr * g / scale``, or with momentum
    ``b = momentum * b + g / scale`` and ``p -= lr * b``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()  # g / sqrt(0.01 * g * g) = 10 * sign(g)
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_option("RMSprop", "learning rate", lr, lr >= 0, "lr >= 0")
        _check_option("RMSprop", "epsilon value", eps, eps >= 0, "eps >= 0")
        _check_option("RMSprop", "momentum value", momentum, momentum >= 0, "momentum >= 0")
        _check_option("RMSprop", "weight_decay value", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        _check_option("RMSprop", "alpha value", alpha, alpha >= 0, "alpha >= 0")
        _check_unsupported("RMSprop", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        momentum = float(group["momentum"])
        centered = group["centered"]
        maximize = group["maximize"]
        w = 1.0 - alpha
        state = self.state
        for p, x, g in A.params_with_grads(self, group):
            s = state[p]
            if not s:
                s["step"] = _wrap(np.zeros((), np.float32))
                s["square_avg"] = _wrap(np.zeros_like(x))
                if momentum > 0:
                    s["momentum_buffer"] = _wrap(np.zeros_like(x))
                if centered:
                    s["grad_avg"] = _wrap(np.zeros_like(x))
            _advance_step(s)
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * x
            v = s["square_avg"]._data
            v *= alpha
            t = np.multiply(g, w, out=np.empty_like(x))  # out=: a 0-d temporary must stay an array
            t *= g
            v += t
            if centered:
                a = s["grad_avg"]._data
                np.subtract(g, a, out=t)  # a.lerp_(g, 1 - alpha), in PyTorch's two-sided form
                if w < 0.5:
                    t *= w
                    a += t
                else:
                    t *= 1.0 - w
                    np.subtract(g, t, out=a)
                np.multiply(a, a, out=t)
                np.subtract(v, t, out=t)
                # NOTE: v - a*a is a variance, >= 0 in exact arithmetic; rounding must not make its sqrt NaN.
                np.maximum(t, 0, out=t)
                np.sqrt(t, out=t)
            else:
                np.sqrt(v, out=t)
            t += eps
            if momentum > 0:
                b = s["momentum_buffer"]._data
                b *= momentum
                np.divide(g, t, out=t)
                b += t
                np.multiply(b, lr, out=t)
                x -= t
            else:
                np.divide(g * -lr, t, out=t)
                x += t
            increment_version(p)
