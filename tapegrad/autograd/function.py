"""Custom differentiable operations, PyTorch style, on the same tape the built-in ops use.

    class Exp(tapegrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y
"""

import numpy as np

from .. import _tensor as _t
from . import grad_mode
from .tape import record


class FunctionCtx:
    """The ``ctx`` handed to ``forward`` and ``backward``: what forward saves for backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._versions = ()

    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._versions = tuple(t._version if isinstance(t, _t.Tensor) else None for t in tensors)

    @property
    def saved_tensors(self):
        for t, v in zip(self._saved, self._versions):
            if isinstance(t, _t.Tensor) and t._version != v:
                raise RuntimeError(f"saved_tensors: a tensor of shape {tuple(t.shape)} saved for backward was "
                                   "modified by an in-place operation after it was saved")
        return self._saved

    def mark_non_differentiable(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        pass


class Function:
    """Function: subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call ``.apply``.

    ``forward`` runs without recording; ``backward`` returns one gradient (or None) per input of ``forward``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function.forward: define forward(ctx, *args) in your subclass")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function.backward: define backward(ctx, *grads) in your subclass")

    @classmethod
    def apply(cls, *args, **kwargs):
        tensors = [a for a in args if isinstance(a, _t.Tensor)]
        ctx = FunctionCtx(tuple(isinstance(a, _t.Tensor) and a._requires_grad for a in args))
        with grad_mode.no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        for k, o in enumerate(outs):
            if not isinstance(o, _t.Tensor):
                raise TypeError(f"{cls.__name__}.forward must return a Tensor or a tuple of Tensors, got "
                                f"{type(o).__name__}" + (f" as output {k}" if isinstance(out, tuple) else ""))
        positions = [i for i, a in enumerate(args) if isinstance(a, _t.Tensor)]
        name = cls.__name__ + "Backward"

        def call_backward(grads, as_array):
            grads = cls.backward(ctx, *grads)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} gradients, but forward took "
                                   f"{len(args)} inputs")
            picked = []
            for i in positions:
                gi = grads[i]
                if gi is not None and not isinstance(gi, _t.Tensor):
                    if not isinstance(gi, (int, float, np.number)) or isinstance(gi, bool):
                        raise TypeError(f"{cls.__name__}.backward: the gradient for input {i} must be a Tensor, "
                                        f"None or a number, got {type(gi).__name__}")
                    gi = _t.wrap(np.full(args[i]._data.shape, gi, dtype=args[i]._data.dtype))
                picked.append(None if gi is None else gi._data if as_array else gi)
            return tuple(picked)

        if not isinstance(out, tuple):
            def one(xp, g, out, x):
                as_array = not isinstance(g, _t.Tensor)
                return call_backward((_t.wrap(g) if as_array else g,), as_array)[0]

            def several(xp, need, g, out, *inputs):
                as_array = not isinstance(g, _t.Tensor)
                return call_backward((_t.wrap(g) if as_array else g,), as_array)

            return record(out._data, tuple(tensors), one if len(tensors) == 1 else several, name)
        return _apply_multi(name, outs, tensors, call_backward)


def _apply_multi(name, outs, tensors, call_backward):
    """Several outputs: one hidden node holds the float outputs packed flat; each output is a piece of it.

    The engine then gathers every output's gradient into the hidden node (zeros for outputs that were not
    used, as PyTorch materializes them), whose rule unpacks them and calls ``backward(ctx, *grads)`` once.
    """
    if not (grad_mode.is_grad_enabled() and any(t._requires_grad for t in tensors)):
        return tuple(_t.wrap(o._data) for o in outs)
    floats = [k for k, o in enumerate(outs) if o._data.dtype.kind == "f"]
    if not floats:
        return tuple(_t.wrap(o._data) for o in outs)
    dtype = np.result_type(*[outs[k]._data.dtype for k in floats])
    pieces, start = {}, 0
    for k in floats:
        size = outs[k]._data.size
        pieces[k] = (start, start + size, outs[k]._data.shape)
        start += size
    packed = np.concatenate([outs[k]._data.astype(dtype, copy=False).reshape(-1) for k in floats])

    def unpack(g):
        as_array = not isinstance(g, _t.Tensor)
        grads = []
        for k in range(len(outs)):
            if k not in pieces:
                grads.append(None)
                continue
            a, b, shape = pieces[k]
            gk, dtype = g[a:b].reshape(shape), outs[k]._data.dtype  # each gradient in its output's dtype
            grads.append(_t.wrap(gk.astype(dtype, copy=False)) if as_array else gk.type(dtype))
        return call_backward(grads, as_array)

    def one(xp, g, out, x):
        return unpack(g)[0]

    def several(xp, need, g, out, *inputs):
        return unpack(g)

    node = record(packed, tuple(tensors), one if len(tensors) == 1 else several, name)
    results = []
    for k, o in enumerate(outs):
        if k not in pieces:
            results.append(_t.wrap(o._data))
            continue
        a, b, shape = pieces[k]
        piece = node[a:b].reshape(shape)
        results.append(piece if piece.dtype == o._data.dtype else piece.type(o._data.dtype))
    return tuple(results)
