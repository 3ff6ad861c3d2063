"""``torch.nn.modules``: PyTorch's layout of the layers, one submodule per family (``linear``, ``conv``,
``activation``, ``loss``, ``sparse``, ``rnn``, ...), so that ``from torch.nn.modules.loss import _Loss`` and
``torch.nn.modules.linear.Linear`` resolve.

tapegrad defines its layers in ``tapegrad.nn``'s own files; every name here is looked up there when it is first
asked for (the table of which name lives where is PyTorch 2.13's, in ``_table.py``), so it is the same object as
``tapegrad.nn.<Name>``, and a layer added to ``tapegrad.nn`` appears here without an edit. A name PyTorch has and
tapegrad does not yet raises an AttributeError that says so.

>>> import tapegrad as tg
>>> tg.nn.modules.linear.Linear is tg.nn.Linear is tg.nn.modules.Linear
True
"""

from . import (
    activation,
    adaptive,
    batchnorm,
    channelshuffle,
    container,
    conv,
    distance,
    dropout,
    flatten,
    fold,
    instancenorm,
    lazy,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    rnn,
    sparse,
    transformer,
    upsampling,
    utils,
)
from ._lazy import available as _available
from ._lazy import find as _find
from ._table import PUBLIC as _PUBLIC

_SUBMODULES = (activation, adaptive, batchnorm, channelshuffle, container, conv, distance, dropout, flatten, fold,
               instancenorm, lazy, linear, loss, module, normalization, padding, pixelshuffle, pooling, rnn, sparse,
               transformer, upsampling, utils)
# PyTorch's torch.nn.modules re-exports every layer but the module-level hook registrations, utils' helpers and
# LazyModuleMixin (only at torch.nn.modules.lazy)
_OWNER = {name: sub for sub, names in _PUBLIC.items() if sub != "utils" for name in names
          if not name.startswith("register_module_") and name != "LazyModuleMixin"}


def __getattr__(name):
    if name == "__all__":
        return [n for sub in _PUBLIC if sub != "utils" for n in _available(sub) if n in _OWNER]
    if name in _OWNER:
        return _find(_OWNER[name], name)
    raise AttributeError(f"module 'tapegrad.nn.modules' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__getattr__("__all__")))
