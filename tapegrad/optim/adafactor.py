"""Adafactor: Adam-like steps with the second moment of a matrix kept as a row and a column factor
(Shazeer and Stern, 2018), in PyTorch's form (no first moment, relative step sizes)."""

import numpy as np

from . import _arrays as A
from .optimizer import Optimizer


class Adafactor(Optimizer):
    """Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *, foreach=None,
    maximize=False)

    PyTorch's update at step t: ``beta2_t = 1 - t ** beta2_decay``; for a parameter of two or more dimensions,
    the row and column means of ``g * g`` over the last two dimensions are averaged into ``row_var`` and
    ``col_var`` (weight ``1 - beta2_t``) and the variance estimate is their outer product over the mean of
    ``row_var``; a vector keeps a full ``variance``. The update ``g / sqrt(max(var, eps1 ** 2))`` is scaled
    down so its root mean square is at most ``d``, and ``p`` moves by
    ``max(eps2, rms(p)) * min(lr, 1 / sqrt(t))`` times it. ``weight_decay`` multiplies ``p`` by
    ``1 - lr * weight_decay`` first. ``eps1=None`` means the machine epsilon of the parameter's dtype.

    >>> import tapegrad as tg
    >>> w = tg.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    >>> opt = tg.optim.Adafactor([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> tuple(opt.state[w]["row_var"].shape), tuple(opt.state[w]["col_var"].shape)
    ((2, 1), (1, 2))
    """

    _state_shapes_free = frozenset({"row_var", "col_var"})

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        A.check_lr("Adafactor", lr)
        if not 0.0 >= beta2_decay:
            raise ValueError(f"Adafactor: beta2_decay should be <= 0 but is: {beta2_decay!r}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"Adafactor: epsilon1 should be >= 0 but is: {eps[0]!r}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"Adafactor: epsilon2 should be >= 0 but is: {eps[1]!r}")
        if not 1.0 <= d:
            raise ValueError(f"Adafactor: clipping threshold d should be >= 1 but is: {d!r}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Adafactor: weight_decay should be >= 0 but is: {weight_decay!r}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, group):
        lr = float(group["lr"])
        beta2_decay = float(group["beta2_decay"])
        eps1, eps2 = group["eps"]
        d = float(group["d"])
        wd = float(group["weight_decay"])
        for p, x, g in A.params_with_grads(self, group):
            s = self.state[p]
            if not s:
                s["step"] = A.scalar_state(0.0)
                if g.ndim > 1:
                    s["row_var"] = A.state_tensor(np.zeros(g.shape[:-1] + (1,), g.dtype))
                    s["col_var"] = A.state_tensor(np.zeros(g.shape[:-2] + (1,) + g.shape[-1:], g.dtype))
                else:
                    s["variance"] = A.zeros_like_state(g)
            if group["maximize"]:
                g = -g
            if eps1 is None:  # as PyTorch's: set from the first parameter, then kept for the group's others
                eps1 = float(np.finfo(x.dtype).eps)
            step = A.advance(s)
            one_minus_beta2_t = step ** beta2_decay
            rho_t = min(lr, 1 / (step ** 0.5))
            alpha = max(eps2, _norm(x) / (x.size ** 0.5)) * rho_t
            if wd != 0:
                x *= 1 - lr * wd
            if g.ndim > 1:
                row_var = A.array(s["row_var"])
                col_var = A.array(s["col_var"])
                # torch.norm(g, dim=-1, keepdim=True).square_().div_(n): a mean of squares, through the norm
                row_mean = np.square(np.sqrt(np.add.reduce(g * g, axis=-1, keepdims=True))) / g.shape[-1]
                A.lerp_(row_var, row_mean, one_minus_beta2_t)
                col_mean = np.square(np.sqrt(np.add.reduce(g * g, axis=-2, keepdims=True))) / g.shape[-2]
                A.lerp_(col_var, col_mean, one_minus_beta2_t)
                var_estimate = row_var @ col_var
                var_estimate /= np.maximum(np.mean(row_var, axis=-2, keepdims=True), eps1)
            else:
                variance = A.array(s["variance"])
                A.lerp_(variance, g * g, one_minus_beta2_t)
                var_estimate = np.array(variance, copy=True)
            update = 1 / np.sqrt(np.maximum(var_estimate, eps1 * eps1))
            update *= g
            denom = max(1.0, _norm(update) / ((update.size ** 0.5) * d))
            x += (-alpha / denom) * update
            A.written(p)


def _norm(a):
    """The 2-norm of all of ``a``'s entries, as a Python float (``a.norm(2).item()``)."""
    a = np.asarray(a)
    return float(np.sqrt(np.dot(a.ravel(), a.ravel()))) if a.size else 0.0
