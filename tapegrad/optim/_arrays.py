"""What the optimizers share below the update rules: their arrays, their state tensors and PyTorch's scalar math.

An optimizer reads and writes a parameter through ``p.detach().numpy()`` (the array the tensor holds, shared),
then announces the write with ``autograd.graph.increment_version(p)`` so a graph that saved the old values
refuses to backward. State tensors wrap arrays the optimizer owns (``from_numpy``), so an update writes them in
place and ``state_dict()`` hands out the live tensors, as PyTorch's does.
"""

import numpy as np

from ..autograd.declare import Tensor
from ..autograd.graph import increment_version
from ..creation import from_numpy
from ..dtypes import get_default_dtype


def array(t):
    """The numpy array of tensor ``t`` (shared memory: writes go into the tensor)."""
    return t.detach().numpy()


def state_tensor(a):
    """A state tensor owning the array ``a`` (a 0-d array stays an array)."""
    return from_numpy(np.asarray(a))


def zeros_like_state(x):
    return from_numpy(np.zeros_like(x))


def scalar_dtype():
    """The dtype PyTorch keeps ``step`` (and other scalar state) in: float64 if it is the default, else float32."""
    return np.dtype(np.float64) if get_default_dtype() == np.float64 else np.dtype(np.float32)


def scalar_state(value):
    """A 0-d state tensor of :func:`scalar_dtype` (PyTorch's ``torch.tensor(value, dtype=_get_scalar_dtype())``)."""
    return from_numpy(np.array(value, dtype=scalar_dtype()))


def advance(state, key="step"):
    """Add one to the 0-d state tensor ``state[key]`` in place (as ``step_t += 1``); return its value."""
    value = state[key]
    if not isinstance(value, Tensor):  # a plain number, from an old or hand-made state dict
        state[key] = value = scalar_state(float(value))
    a = array(value)
    a += 1
    return float(a)


def value_of(v):
    """``_get_value``: a state scalar as a Python float (a 0-d tensor's ``.item()``)."""
    return float(array(v)) if isinstance(v, Tensor) else float(v)


def lerp(a, b, w):
    """PyTorch's ``torch.lerp(a, b, w)`` for a scalar weight, in its two-sided form (exact at both ends).

    ``w`` is rounded to the arrays' dtype first and ``1 - w`` computed in it, as PyTorch's kernel does.
    """
    w = np.result_type(a, b).type(w)
    if abs(w) < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (1 - w)


def lerp_(a, b, w):
    """``a.lerp_(b, w)``: :func:`lerp` written into the array ``a``."""
    a[...] = lerp(a, b, w)


def params_with_grads(opt, group):
    """``(p, x, g)`` for each parameter of ``group`` that has a gradient: the tensor, its array and the
    gradient's array, after checking that the gradient has the parameter's shape. (A list, not a generator:
    resuming a generator per parameter costs more than the list.)"""
    found = []
    for p in group["params"]:
        grad = p.grad
        if grad is None:
            continue
        x = p._data  # the arrays array() gives, without making a detached alias of each per step
        g = grad._data
        if g.shape != x.shape:
            raise shape_error(opt, x, g)
        found.append((p, x, g))
    return found


def shape_error(opt, x, g):
    """The error of a step whose parameter (array ``x``) has a gradient ``g`` of another shape."""
    return RuntimeError(f"{type(opt).__name__}.step: a parameter of shape {tuple(x.shape)} has a gradient of "
                        f"shape {tuple(g.shape)}; they must match")


def written(p):
    """Announce that ``p``'s array was written in place (a graph that saved it refuses to backward)."""
    increment_version(p)


def check_lr(name, lr):
    """PyTorch's checks of a learning rate: a number or a one-element tensor, and not negative."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError(f"{name}: Tensor lr must be 1-element, got a tensor of shape {tuple(lr.shape)}")
    if not 0.0 <= lr:
        raise ValueError(f"{name}: invalid learning rate {lr!r} (expected lr >= 0)")
