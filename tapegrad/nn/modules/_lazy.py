"""The lazy attribute lookup shared by the submodules of ``tapegrad.nn.modules`` (see _table.py)."""

import importlib

from ._table import HOMES, PRIVATE, PUBLIC


def _import(name):
    """The module ``name``, or None when tapegrad does not have it (yet)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and name.startswith(e.name):
            return None
        raise


def find(submodule, name):
    """The object PyTorch calls ``torch.nn.modules.<submodule>.<name>``, as tapegrad has it; AttributeError else."""
    where = f"tapegrad.nn.modules.{submodule}"
    if name in PRIVATE.get(submodule, {}):
        home = _import(PRIVATE[submodule][name])
        if home is not None and hasattr(home, name):
            return getattr(home, name)
        raise AttributeError(f"module {where!r} has no attribute {name!r}: tapegrad does not have PyTorch's "
                             f"torch.nn.modules.{submodule}.{name} yet")
    if name in PUBLIC[submodule]:
        # tapegrad.nn first, then tapegrad's file of the same family name (tapegrad.nn.rnn for RNNBase), then
        # the home named in the table
        for home in ("tapegrad.nn", f"tapegrad.nn.{submodule}", HOMES.get(submodule)):
            module = _import(home) if home else None
            if module is not None and name in vars(module):
                return vars(module)[name]
        raise AttributeError(f"module {where!r} has no attribute {name!r}: tapegrad does not have "
                             f"torch.nn.modules.{submodule}.{name} (torch.nn.{name}) yet")
    raise AttributeError(f"module {where!r} has no attribute {name!r}")


def available(submodule):
    """The names of PyTorch's ``__all__`` for ``torch.nn.modules.<submodule>`` that tapegrad has now."""
    names = []
    for name in PUBLIC[submodule]:
        try:
            find(submodule, name)
        except AttributeError:
            continue
        names.append(name)
    return names


def attach(submodule):
    """``(__getattr__, __dir__)`` for the submodule: PyTorch's names resolved on demand, ``__all__`` included."""

    def __getattr__(name):
        if name == "__all__":
            return available(submodule)
        return find(submodule, name)

    def __dir__():
        return sorted(set(available(submodule)) | {"__all__"})

    return __getattr__, __dir__
