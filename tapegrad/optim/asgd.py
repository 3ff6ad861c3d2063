"""ASGD: averaged stochastic gradient descent (Polyak and Juditsky, 1992), with PyTorch's step-size schedule."""


from . import _arrays as A
from .optimizer import Optimizer, _check_unsupported


class ASGD(Optimizer):
    """ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
    differentiable=False, capturable=False)

    PyTorch's update at step t, with ``eta`` (starting at ``lr``) and ``mu`` (starting at 1) in the state:
    ``p *= 1 - lambd * eta``, ``p -= eta * g``; the average ``ax`` becomes ``p`` while ``mu == 1`` and moves
    towards it by ``mu`` after; then ``eta = lr / (1 + lambd * lr * t) ** alpha`` and
    ``mu = 1 / max(1, t - t0)``. ``eta`` and ``mu`` are scalars of the default dtype (float32), as in PyTorch.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.ASGD([w], lr=0.1, lambd=0.0)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w, opt.state[w]["ax"]
    (tensor([ 0.8000, -1.6000], requires_grad=True), tensor([ 0.8000, -1.6000]))
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        A.check_lr("ASGD", lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"ASGD: invalid weight_decay value {weight_decay!r} (expected weight_decay >= 0)")
        _check_unsupported("ASGD", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        lambd = float(group["lambd"])
        alpha = float(group["alpha"])
        t0 = float(group["t0"])
        wd = float(group["weight_decay"])
        default = A.scalar_dtype()  # torch.as_tensor(a Python float) rounds to the default dtype
        for p, x, g in A.params_with_grads(self, group):
            s = self.state[p]
            if not s:
                s["step"] = A.scalar_state(0.0)
                s["eta"] = A.scalar_state(lr)
                s["mu"] = A.scalar_state(1.0)
                s["ax"] = A.zeros_like_state(x)
            if group["maximize"]:
                g = -g
            step = A.advance(s)
            if wd != 0:
                g = g + wd * x
            eta = A.array(s["eta"])
            mu = A.array(s["mu"])
            eta_value = float(eta)
            x *= 1 - lambd * eta_value
            x += -eta_value * g
            ax = A.array(s["ax"])
            if float(mu) != 1:
                ax += (x - ax) * mu
            else:
                ax[...] = x
            eta[...] = default.type(lr / ((1 + lambd * lr * step) ** alpha))
            mu[...] = default.type(1 / max(1, step - t0))
            A.written(p)
