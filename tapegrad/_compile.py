"""compile: ``torch.compile`` accepted, checked as PyTorch checks it, and run eagerly.

tapegrad has no graph compiler: the returned module or function runs the original Python code, so results are
exactly those of the uncompiled model. For a Module it returns an ``OptimizedModule`` as PyTorch does (same
parameters, ``state_dict`` keys prefixed ``_orig_mod.``), so checkpoints move between the two libraries
unchanged; ``disable=True`` returns the model itself.
"""

import functools

from ._dynamo import config as _config
from ._dynamo.eval_frame import OptimizedModule
from .nn.module import Module

__all__ = ["compile"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_BACKENDS = ("cudagraphs", "inductor", "openxla", "tvm", "aot_eager", "eager", "aot_ts", "ts", "onnxrt")


def compile(model=None, *, fullgraph: bool = False, dynamic: bool | None = None, backend="inductor",
            mode: str | None = None, options: dict | None = None, name: str | None = None, disable: bool = False,
            recompile_limit: int | None = None, isolate_recompiles: bool = False, shapes_spec=None):
    """compile(model=None, *, fullgraph=False, dynamic=None, backend='inductor', mode=None, options=None,
    disable=False): ``model`` unchanged in behaviour (tapegrad runs it eagerly).

    A Module gives an ``OptimizedModule`` wrapping it (``._orig_mod``; state_dict keys ``_orig_mod.*``), a
    function a wrapper of it; without ``model`` it is a decorator (``@torch.compile`` or
    ``@torch.compile(mode="max-autotune")``). ``mode`` and ``backend`` are checked against PyTorch's names;
    a callable backend is accepted and never called.

    >>> import tapegrad as tg
    >>> @tg.compile(mode="max-autotune")
    ... def f(x):
    ...     return x.sin() ** 2 + x.cos() ** 2
    >>> f(tg.ones(2))
    tensor([1., 1.])
    """
    if model is None:
        def fn(model):
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                           options=options, name=name, disable=disable, recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return fn
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if backend is None:
        backend = "inductor"
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise _config.InvalidBackend(f"Invalid backend: {backend!r}, see `torch._dynamo.list_backends()` for "
                                     "available backends.")
    if not isinstance(backend, str) and not callable(backend):
        raise _config.InvalidBackend(f"Invalid backend: {backend!r}: expected a name or a callable")
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable or _config.disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **kw):
        return model(*args, **kw)

    # PyTorch's attribute on the function it returns (mypy does not know functions take attributes)
    compiled._torchdynamo_orig_callable = model  # type: ignore[attr-defined]
    return compiled
