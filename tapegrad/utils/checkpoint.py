"""``torch.utils.checkpoint``: activation checkpointing's API, computing exactly what PyTorch computes.

PyTorch's ``checkpoint`` frees a segment's activations after the forward and recomputes them during the
backward: values and gradients are those of the plain call, and only memory changes. tapegrad runs the segment
once and keeps its activations on the tape, so scripts that checkpoint their blocks run unchanged and get the same
numbers, without the memory saving. The arguments are checked as PyTorch checks them, and the reentrant variant
(``use_reentrant=True``, PyTorch's default when the argument is left out, with a warning) keeps its one
observable rule: when no tensor argument requires grad, the output does not either (PyTorch warns "None of the
inputs have requires_grad=True"), so the segment's parameters get no gradient.

>>> import tapegrad as tg
>>> from tapegrad.utils.checkpoint import checkpoint
>>> block = tg.nn.Linear(3, 3)
>>> x = tg.ones(2, 3, requires_grad=True)
>>> y = checkpoint(block, x, use_reentrant=False)
>>> tg.equal(y, block(x))
True
"""

import contextlib
import warnings

from .._tensor import Tensor
from ..autograd import no_grad

__all__ = ["checkpoint", "checkpoint_sequential", "noop_context_fn", "CheckpointError"]


class CheckpointError(RuntimeError):
    """PyTorch's error for a recomputation that differs from the forward (never raised: nothing is recomputed)."""


def noop_context_fn():
    """noop_context_fn() -> (nullcontext(), nullcontext()): the default ``context_fn`` of ``checkpoint``."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def _tensors_need_grad(args):
    return any(isinstance(a, Tensor) and a.requires_grad for a in args)


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn, determinism_check="default",
               debug=False, early_stop=True, **kwargs):
    """checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn, determinism_check="default",
    debug=False, early_stop=True, **kwargs) -> function(*args, **kwargs)

    The value and gradients of ``function(*args, **kwargs)``, as PyTorch's checkpoint gives them (tapegrad keeps
    the activations instead of recomputing them). ``preserve_rng_state=`` is accepted.

    >>> import tapegrad as tg
    >>> w = tg.tensor([2.0], requires_grad=True)
    >>> checkpoint(lambda x: (w * x).sum(), tg.tensor([3.0]), use_reentrant=False).backward()
    >>> w.grad
    tensor([3.])
    """
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in PyTorch "
            "2.9, calling checkpoint without use_reentrant will raise an exception. use_reentrant=False is "
            "recommended, but if you need to preserve the current default behavior, you can pass "
            "use_reentrant=True. Refer to docs for more details on the differences between the two variants.",
            stacklevel=2)
        use_reentrant = True
    kwargs.pop("preserve_rng_state", True)
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if not _tensors_need_grad(args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
            with no_grad():
                return function(*args)
        return function(*args)
    if debug and context_fn is not noop_context_fn:
        raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got {determinism_check}")
    forward_context, _recompute_context = context_fn()
    with forward_context:
        return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs)

    Runs ``functions`` (an ``nn.Sequential`` or a list of modules or functions) on ``input`` in ``segments``
    chunks, each through :func:`checkpoint`: the value and gradients of running them in order.

    >>> import tapegrad as tg
    >>> model = tg.nn.Sequential(tg.nn.Linear(2, 4), tg.nn.ReLU(), tg.nn.Linear(4, 1))
    >>> x = tg.ones(3, 2, requires_grad=True)
    >>> tg.equal(checkpoint_sequential(model, 2, x, use_reentrant=False), model(x))
    True
    """
    from ..nn import Sequential

    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
            "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
            "use_reentrant=False is recommended, but if you need to preserve the current default behavior, you "
            "can pass use_reentrant=True. Refer to docs for more details on the differences between the two "
            "variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input

        return forward

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
