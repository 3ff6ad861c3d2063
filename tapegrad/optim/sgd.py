"""SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

import numpy as np

from ..autograd.declare import increment_version
from ..autograd.declare import wrap as _wrap
from . import _arrays as A
from .optimizer import Optimizer, _check_fused, _check_option, _check_unsupported


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)

    PyTorch's update: ``g = grad + weight_decay * p``; with momentum
    ``b = momentum * b + (1 - dampening) * g`` (``b = g`` on the first step) and ``g = g + momentum * b``
    (Nesterov) or ``g = b``; then ``p -= lr * g``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_option("SGD", "learning rate", lr, lr >= 0, "lr >= 0")
        _check_option("SGD", "momentum", momentum, momentum >= 0, "momentum >= 0")
        _check_option("SGD", "weight_decay", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening; got "
                             f"momentum={momentum!r}, dampening={dampening!r}")
        _check_unsupported("SGD", differentiable=differentiable)
        _check_fused("SGD", fused, foreach)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        damp = 1.0 - float(group["dampening"])
        wd = float(group["weight_decay"])
        nesterov = group["nesterov"]
        maximize = group["maximize"]
        state = self.state
        updated = []
        if momentum == 0 and wd == 0 and not maximize:
            # plain SGD, the update of most training loops: ``p -= lr * grad``, with no temporaries but lr * grad
            params = group["params"]
            for p in params:  # every shape first: a bad one must not leave the step half applied
                grad = p.grad
                if grad is not None and grad._data.shape != p._data.shape:
                    raise A.shape_error(self, p._data, grad._data)
            try:
                for p in params:
                    grad = p.grad
                    if grad is not None:
                        x = p._data
                        x -= lr * grad._data
                        updated.append(p)
            finally:
                increment_version(*updated)
            return
        try:
            for p, _, g in A.params_with_grads(self, group):
                own = False  # whether g is a temporary this step may overwrite
                if maximize:
                    g, own = -g, True
                if wd != 0:
                    g, own = g + wd * p._data, True
                if momentum != 0:
                    s = state[p]
                    buf = s.get("momentum_buffer")
                    if buf is None:
                        # a temporary of a 0-d parameter is a numpy scalar: the buffer must be an array
                        b = g if own and type(g) is np.ndarray else np.array(g)
                        s["momentum_buffer"] = _wrap(b)
                    else:
                        b = buf._data
                        b *= momentum
                        if damp == 1.0:
                            b += g
                        else:
                            b += damp * g
                    if nesterov:
                        g, own = g + momentum * b, True
                    else:
                        g, own = b, False
                if own:
                    g *= lr
                    p._data -= g
                else:
                    p._data -= lr * g
                updated.append(p)
        finally:  # a graph that saved a parameter written so far refuses to backward, even if a later one raised
            increment_version(*updated)
