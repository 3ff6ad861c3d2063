"""Rprop: resilient backpropagation, a per-coordinate step size grown or shrunk by the sign of the gradient."""

import numpy as np

from . import _arrays as A
from .optimizer import Optimizer, _check_unsupported


class Rprop(Optimizer):
    """Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
    maximize=False, differentiable=False)

    PyTorch's update: each coordinate's step size (starting at ``lr``) is multiplied by ``etaplus`` when the
    gradient kept its sign since the last step, by ``etaminus`` when it flipped (and that coordinate then does
    not move, and forgets its gradient), and kept otherwise; it stays within ``step_sizes``. Then
    ``p -= sign(g) * step_size``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Rprop([w], lr=0.1)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> w  # 0.1, then 0.1 * 1.2 towards 0
    tensor([ 0.7800, -1.7800], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        A.check_lr("Rprop", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid eta values {etas[0]!r}, {etas[1]!r} (expected "
                             "0 < etaminus < 1 < etaplus)")
        _check_unsupported("Rprop", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for p, x, g in A.params_with_grads(self, group):
            s = self.state[p]
            if not s:
                s["step"] = A.scalar_state(0.0)
                s["prev"] = A.zeros_like_state(x)
                s["step_size"] = A.state_tensor(np.full_like(g, float(group["lr"])))
            if group["maximize"]:
                g = -g
            A.advance(s)
            prev = A.array(s["prev"])
            step_size = A.array(s["step_size"])
            sign = np.sign(g * prev)
            sign = np.asarray(sign, dtype=x.dtype)
            factor = sign.copy()
            factor[sign > 0] = etaplus
            factor[sign < 0] = etaminus
            factor[sign == 0] = 1  # NaN stays NaN, as PyTorch's masks leave it
            step_size *= factor
            np.minimum(np.maximum(step_size, step_size_min), step_size_max, out=step_size)  # clamp_(min, max)
            g = np.array(g, dtype=x.dtype, copy=True)
            g[factor == factor.dtype.type(etaminus)] = 0
            x += -1 * np.sign(g) * step_size
            prev[...] = g
            A.written(p)
