"""torch.compiler: the public face of compilation; tapegrad runs everything eagerly.

>>> import tapegrad as tg
>>> tg.compiler.is_compiling()
False
"""

from .. import _dynamo
from .._compile import compile

__all__ = ["compile", "disable", "is_compiling", "is_dynamo_compiling", "is_exporting", "reset", "list_backends",
           "allow_in_graph", "cudagraph_mark_step_begin"]

disable = _dynamo.disable
reset = _dynamo.reset
list_backends = _dynamo.list_backends
allow_in_graph = _dynamo.allow_in_graph


def is_compiling() -> bool:
    """is_compiling() -> False: tapegrad never traces."""
    return False


def is_dynamo_compiling() -> bool:
    """is_dynamo_compiling() -> False."""
    return False


def is_exporting() -> bool:
    """is_exporting() -> False."""
    return False


def cudagraph_mark_step_begin():
    """cudagraph_mark_step_begin(): a CUDA-graph hint; nothing to do in tapegrad."""
