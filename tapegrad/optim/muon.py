"""Muon: momentum whose update is orthogonalized by a Newton-Schulz iteration, for 2-D parameters
(Keller Jordan, 2024), with PyTorch's learning-rate adjustments."""

import math

import numpy as np

from . import _arrays as A
from .optimizer import Optimizer

EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def _bf16(a):
    """Round to bfloat16 (nearest, ties to even, as c10::BFloat16), kept in a float32 array.

    numpy has no bfloat16; PyTorch runs Muon's Newton-Schulz iteration in it, so each of its operations is
    rounded here the way PyTorch rounds its result (computed in float32, stored as bfloat16).
    """
    a = np.array(a, dtype=np.float32, copy=True, ndmin=1)  # a float64 value is rounded to float32 first
    u = a.view(np.uint32)
    nan = np.isnan(a)
    u += ((u >> 16) & np.uint32(1)) + np.uint32(0x7FFF)
    u &= np.uint32(0xFFFF0000)
    a[nan] = np.nan
    return a


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """PyTorch's quintic Newton-Schulz iteration (in bfloat16): an approximately orthogonal matrix with the
    singular vectors of ``grad``."""
    if ns_steps >= 100:
        raise ValueError(f"Muon: the number of Newton-Schulz steps must be less than 100 for computational "
                         f"efficiency, got ns_steps={ns_steps}")
    if grad.ndim != 2:
        raise ValueError(f"Muon: the gradient must be a 2D matrix, got shape {tuple(grad.shape)}")
    if len(ns_coefficients) != 3:
        raise ValueError(f"Muon: ns_coefficients must be a tuple of exactly 3 values, got {ns_coefficients!r}")
    a, b, c = (np.float32(v) for v in ns_coefficients)
    x = _bf16(grad)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    norm = _bf16(np.sqrt(np.add.reduce(x * x, axis=None, dtype=np.float32)))
    norm = np.maximum(norm, _bf16(eps))  # .clamp(min=eps) on a bfloat16 tensor
    x = _bf16(x / norm)
    for _ in range(ns_steps):
        gram = _bf16(x @ x.T)
        gram_update = _bf16(b * gram + c * (gram @ gram))  # addmm(gram, gram, gram, beta=b, alpha=c)
        x = _bf16(a * x + gram_update @ x)  # addmm(x, gram_update, x, beta=a)
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Muon(params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
    ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None)

    For 2-D parameters only (use AdamW for biases and embeddings). PyTorch's update: ``b = lerp(b, g, 1 -
    momentum)``; the update ``lerp(g, b, momentum)`` (Nesterov) or ``b`` is orthogonalized by ``ns_steps``
    Newton-Schulz iterations run in bfloat16 (emulated: rounded to bfloat16 after each operation, as
    PyTorch's CPU kernels round), then ``p *= 1 - lr * weight_decay`` and ``p -= lr' * O`` with
    ``lr' = lr * sqrt(max(1, rows / cols))`` (``adjust_lr_fn='original'``) or
    ``0.2 * lr * sqrt(max(rows, cols))`` (``'match_rms_adamw'``).

    >>> import tapegrad as tg
    >>> w = tg.tensor([[3.0, 0.0], [0.0, 1.0]], requires_grad=True)
    >>> opt = tg.optim.Muon([w], lr=0.1, weight_decay=0.0)
    >>> (w * w).sum().backward()
    >>> opt.step()  # both directions move by about lr, though one gradient is three times the other
    >>> w
    tensor([[2.9250, 0.0000],
            [0.0000, 0.8867]], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        A.check_lr("Muon", lr)
        if not 0.0 <= momentum:
            raise ValueError(f"Muon: momentum should be >= 0 but is: {momentum!r}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Muon: weight decay should be >= 0 but is: {weight_decay!r}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Muon: adjust_lr_fn {adjust_lr_fn!r} is not supported (expected None, 'original' "
                             "or 'match_rms_adamw')")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{tuple(p.shape)}; optimize it with another optimizer (AdamW, say)")

    def _update(self, group):
        lr = float(group["lr"])
        wd = float(group["weight_decay"])
        momentum = float(group["momentum"])
        for p, x, g in A.params_with_grads(self, group):
            s = self.state[p]
            if "momentum_buffer" not in s:
                s["momentum_buffer"] = A.zeros_like_state(g)
            if g.ndim != 2:
                raise ValueError(f"Muon: the parameter's gradient must be a 2D matrix, got shape {tuple(g.shape)}")
            buf = A.array(s["momentum_buffer"])
            A.lerp_(buf, g, 1 - momentum)
            update = A.lerp(g, buf, momentum) if group["nesterov"] else buf
            update = _zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"],
                                                 float(group["eps"]))
            adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], x.shape)
            x *= 1 - lr * wd
            x += -adjusted_lr * update.astype(x.dtype)
            A.written(p)
