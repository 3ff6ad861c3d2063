"""Check analytic gradients against central finite differences, in float64.

``gradcheck`` compares ``v . J`` from one backward pass (``v`` random) with the central differences of
``v . f`` for every input element. On a mismatch it goes further than PyTorch: it replays the graph node by
node and names the first recorded op whose local backward disagrees with finite differences.
"""

import numpy as np

from .. import _tensor as _t
from . import engine, grad_mode


class GradcheckError(AssertionError):
    """Raised by gradcheck when analytic and numerical gradients disagree."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _float_outputs(result):
    return [o for o in _as_tuple(result) if isinstance(o, _t.Tensor) and o._data.dtype.kind == "f"]


def _outputs(fn, inputs):
    return _float_outputs(fn(*inputs))


def _numeric(fn, inputs, targets, weights, eps, record=False):
    """d(sum_k w_k . f_k)/d(input element) by central differences, for every differentiable input element.

    ``targets(outputs)`` picks the arrays to differentiate from one forward run (outputs, or graph nodes).
    Returns, per input, an array per target.
    """
    result = []
    with grad_mode.set_grad_enabled(record):
        for x in inputs:
            if not (isinstance(x, _t.Tensor) and x.requires_grad):
                result.append(None)
                continue
            flat = x._data.reshape(-1)
            per_target = [np.zeros(x._data.shape) for _ in weights]
            for i in range(flat.size):
                orig = flat[i]
                flat[i] = orig + eps
                plus = targets(fn(*inputs))
                flat[i] = orig - eps
                minus = targets(fn(*inputs))
                flat[i] = orig
                for k, (p, m, w) in enumerate(zip(plus, minus, weights)):
                    per_target[k].reshape(-1)[i] = (w * (p - m)).sum() / (2 * eps)
            result.append(per_target)
    return result


def _analytic(root, seed, inputs):
    diff = [x for x in inputs if isinstance(x, _t.Tensor) and x.requires_grad]
    found = engine.run_backward([root], [seed], retain_graph=True, inputs=diff, allow_unused=True)
    it = iter(found)
    out = []
    for x in inputs:
        if isinstance(x, _t.Tensor) and x.requires_grad:
            g = next(it)
            out.append(np.zeros(x._data.shape) if g is None else g._data)
        else:
            out.append(None)
    return out


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3) -> bool

    Check the gradients of ``fn(*inputs)`` with respect to each float64 input that requires grad.

    >>> import tapegrad as tg
    >>> x = tg.randn(3, dtype=tg.float64, requires_grad=True)
    >>> tg.autograd.gradcheck(lambda x: (x * x).sum(), (x,))
    True
    """
    inputs = _as_tuple(inputs)
    for k, x in enumerate(inputs):
        if isinstance(x, _t.Tensor) and x.requires_grad and x._data.dtype != np.float64:
            raise ValueError(f"gradcheck: input {k} has dtype {x._data.dtype}; finite differences need float64 "
                             "(use .double())")
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o._data.shape) for o in outs]
    numeric = _numeric(fn, inputs, lambda r: [o._data.copy() for o in _float_outputs(r)], weights, eps)
    for k, (o, w) in enumerate(zip(outs, weights)):
        if not o.requires_grad:
            continue
        analytic = _analytic(o, w.astype(o._data.dtype), inputs)
        for i, (a, n) in enumerate(zip(analytic, numeric)):
            if a is None:
                continue
            n = n[k]
            if not np.allclose(a, n, atol=atol, rtol=rtol, equal_nan=True):
                if not raise_exception:
                    return False
                err = np.abs(a - n)
                worst = np.unravel_index(np.argmax(err), err.shape) if err.ndim else ()
                culprit = locate_culprit(fn, inputs, eps, atol, rtol)
                raise GradcheckError(
                    f"gradcheck: the gradient of output {k} with respect to input {i} (shape {tuple(a.shape)}) "
                    f"disagrees with finite differences: max abs error {err.max():.3g} at index {worst} "
                    f"(analytic {np.asarray(a)[worst]:.6g}, numerical {np.asarray(n)[worst]:.6g})."
                    + (f"\n{culprit}" if culprit else ""))
    return True


def locate_culprit(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """The first recorded op (in forward order) whose backward disagrees with finite differences, described.

    Each graph node is compared: ``d(v . node)/d(inputs)`` by backward from the node against central
    differences of the node's value. A node that disagrees while all its inputs agree has a wrong rule.
    """
    outs = _outputs(fn, inputs)
    nodes = []
    for o in outs:
        if o.requires_grad:
            nodes.extend(t for t in reversed(engine.toposort(o)) if t._backward is not None)
    if not nodes:
        return ""
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(t._data.shape) for t in nodes]

    def node_values(result):
        vals = []
        for o in _as_tuple(result):
            if isinstance(o, _t.Tensor) and o.requires_grad:
                vals.extend(t._data.copy() for t in reversed(engine.toposort(o)) if t._backward is not None)
        return vals

    numeric = _numeric(fn, inputs, node_values, weights, eps, record=True)
    for k, (t, w) in enumerate(zip(nodes, weights)):
        analytic = _analytic(t, w.astype(t._data.dtype), inputs)
        for a, n in zip(analytic, numeric):
            if a is None:
                continue
            if not np.allclose(a, n[k], atol=atol, rtol=rtol, equal_nan=True):
                shapes = ", ".join(str(tuple(p._data.shape)) for p in t._parents)
                return (f"first op whose backward disagrees: {t._name} with inputs of shape "
                        f"{shapes} and output of shape {tuple(t._data.shape)} (op {k + 1} of {len(nodes)} in "
                        "forward order)")
    return ""


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """gradgradcheck(fn, inputs, ...) -> bool: gradcheck of the gradient of ``fn`` (second order)."""
    inputs = _as_tuple(inputs)
    rng = np.random.default_rng(seed + 1)
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        grad_outputs = [_t.wrap(rng.standard_normal(o._data.shape)) for o in outs]
    grad_outputs = list(_as_tuple(grad_outputs)) if not isinstance(grad_outputs, list) else grad_outputs

    def first_grads(*args):
        with grad_mode.enable_grad():
            o = _outputs(fn, args)
            used = [x for x in args if isinstance(x, _t.Tensor) and x.requires_grad]
            gs = engine.grad(o, used, grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs, eps, atol, rtol, raise_exception, seed)
