"""Functional higher-order helpers built on ``grad``: vjp, hvp, jacobian, hessian (``torch.autograd.functional``)."""

import numpy as np

from .. import _tensor as _t
from .engine import grad
from .xp import tensor_xp


def _stack(rows):
    return tensor_xp.stack(rows, axis=0)


def _prepare(inputs, create_graph):
    single = isinstance(inputs, _t.Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    prepared = tuple(x.detach().requires_grad_(True) if not create_graph else x for x in inputs)
    return single, prepared


def vjp(func, inputs, v=None, create_graph=False):
    """vjp(func, inputs, v=None) -> (func(inputs), v^T J)."""
    single, xs = _prepare(inputs, create_graph)
    out = func(*xs)
    gs = grad(out, xs, v, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    return out, gs[0] if single else gs


def hvp(func, inputs, v, create_graph=False):
    """hvp(func, inputs, v) -> (func(inputs), H v) for a scalar ``func``: a Hessian-vector product."""
    single, xs = _prepare(inputs, create_graph)
    vs = (v,) if single else tuple(v)
    out = func(*xs)
    gs = grad(out, xs, create_graph=True, allow_unused=True, materialize_grads=True)
    dot = sum((g * w).sum() for g, w in zip(gs, vs))
    hv = grad(dot, xs, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    return out, hv[0] if single else hv


def jacobian(func, inputs, create_graph=False):
    """jacobian(func, inputs) -> J of shape output.shape + input.shape (one backward per output element)."""
    single, xs = _prepare(inputs, create_graph)
    out = func(*xs)
    rows = [[] for _ in xs]
    for k in range(out.numel()):
        seed = np.zeros(out._data.size, dtype=out._data.dtype)
        seed[k] = 1
        gs = grad(out, xs, _t.wrap(seed.reshape(out._data.shape)), retain_graph=True,
                  create_graph=create_graph, allow_unused=True, materialize_grads=True)
        for r, g in zip(rows, gs):
            r.append(g)

    jac = tuple(_stack(r).reshape(tuple(out.shape) + tuple(x.shape)) for r, x in zip(rows, xs))
    return jac[0] if single else jac


def hessian(func, inputs, create_graph=False):
    """hessian(func, inputs) -> H of a scalar ``func`` of one input, shape input.shape * 2."""
    single, xs = _prepare(inputs, True)
    if not single:
        raise NotImplementedError("hessian: tapegrad supports a single input tensor")

    def gradient(x):
        (g,) = grad(func(x), x, create_graph=True)
        return g

    return jacobian(gradient, xs[0], create_graph=create_graph)
