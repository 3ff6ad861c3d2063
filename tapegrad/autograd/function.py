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

from .. import _tensor as _t
from . import grad_mode


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
        ctx = FunctionCtx(tuple(isinstance(a, _t.Tensor) and a.requires_grad for a in args))
        with grad_mode.no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        if not isinstance(out, _t.Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a single Tensor, got {type(out).__name__}")
        positions = [i for i, a in enumerate(args) if isinstance(a, _t.Tensor)]
        name = cls.__name__

        def backward(xp, g, out, *parents):
            as_tensor = not isinstance(g, _t.Tensor)
            grads = cls.backward(ctx, _t._wrap(g) if as_tensor else g)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"{name}.backward returned {len(grads)} gradients, but forward took "
                                   f"{len(args)} inputs")
            picked = [grads[i] for i in positions]
            if as_tensor:
                return tuple(None if p is None else p._data for p in picked)
            return tuple(picked)

        backward.__qualname__ = f"{name}.<locals>.backward"
        return _t._record(out._data, tuple(tensors), backward)
