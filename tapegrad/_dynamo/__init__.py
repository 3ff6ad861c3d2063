"""torch._dynamo: the few names training scripts touch (``config.suppress_errors``, ``reset``, ...).

tapegrad does not trace or compile; see ``tapegrad.compile``.

>>> import tapegrad as tg
>>> tg._dynamo.config.suppress_errors = True
>>> tg._dynamo.is_compiling()
False
"""

from . import config, eval_frame
from .config import InvalidBackend
from .eval_frame import OptimizedModule

__all__ = ["config", "eval_frame", "OptimizedModule", "reset", "is_compiling", "list_backends", "disable",
           "allow_in_graph", "mark_dynamic", "mark_static", "InvalidBackend"]


def reset():
    """reset(): clears compiled code in PyTorch; there is none in tapegrad."""


def is_compiling() -> bool:
    """is_compiling() -> False: tapegrad never traces."""
    return False


def list_backends(exclude_tags=("debug", "experimental")):
    """list_backends() -> the backend names ``torch.compile`` accepts (PyTorch's stable ones)."""
    return ["cudagraphs", "inductor", "openxla", "tvm"] if exclude_tags else sorted(
        ["cudagraphs", "inductor", "openxla", "tvm", "aot_eager", "eager", "aot_ts", "ts", "onnxrt"])


def disable(fn=None, recursive=True, *, reason=None):
    """disable(fn=None, recursive=True): keep ``fn`` out of compilation; tapegrad compiles nothing, so ``fn``
    itself (or, without ``fn``, a decorator returning its argument)."""
    if fn is None:
        return lambda f: f
    return fn


def allow_in_graph(fn):
    """allow_in_graph(fn) -> fn."""
    return fn


def mark_dynamic(t, index, *, min=None, max=None, **kwargs):
    """mark_dynamic(t, index): a tracing hint; nothing to do in tapegrad."""


def mark_static(t, index=None):
    """mark_static(t, index=None): a tracing hint; nothing to do in tapegrad."""
