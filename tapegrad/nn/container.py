"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict (``torch.nn`` containers)."""

import operator
from collections import OrderedDict

from .._tensor import Tensor
from .module import Module, _addindent
from .parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(op, idx, n):
    """An int index into a container of length ``n``, made non-negative, or IndexError naming the
    container."""
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"{op}: index {idx} is out of range for a container of length {n}")
    return idx % n


def _renumber(container, mods):
    """Register ``mods`` under '0', '1', ... in place of the container's current children."""
    for k in list(container._modules):
        container.__dict__.pop(k, None)
    container._modules.clear()
    for k, m in enumerate(mods):
        container.add_module(str(k), m)


class Sequential(Module):
    """Sequential(*modules) or Sequential(OrderedDict): run modules one after another.

    >>> import tapegrad as tg
    >>> net = tg.nn.Sequential(tg.nn.Linear(2, 4), tg.nn.ReLU())
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=4, bias=True)
      (1): ReLU()
    )
    >>> net(tg.ones(3, 2)).shape
    tapegrad.Size([3, 4])
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index("Sequential", idx, len(self._modules))]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index("Sequential", idx, len(self._modules))]
        setattr(self, key, module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index("Sequential", idx, len(keys))]]):
            delattr(self, key)
        _renumber(self, list(self._modules.values()))  # PyTorch keeps the numbering contiguous

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other)} is given.")
        return Sequential(*self, *other)

    def append(self, module):
        """append(module): add a module at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, sequential):
        for m in sequential:
            self.append(m)
        return self

    def insert(self, index, module):
        """insert(index, module): put a module before position ``index``."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for length {n}")
        mods = list(self._modules.values())
        mods.insert(index + n if index < 0 else index, module)
        _renumber(self, mods)
        return self

    def pop(self, key):
        v = self[key]
        del self[key]
        return v


class ModuleList(Module):
    """ModuleList(modules=None): a list of modules whose parameters are registered.

    >>> import tapegrad as tg
    >>> layers = tg.nn.ModuleList([tg.nn.Linear(2, 2) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index("ModuleList", idx, len(self._modules)))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index("ModuleList", idx, len(self._modules))), module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index("ModuleList", idx, len(mods))]
        _renumber(self, mods)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def insert(self, index, module):
        """insert(index, module): put a module before position ``index``."""
        mods = list(self._modules.values())
        mods.insert(index, module)
        _renumber(self, mods)

    def append(self, module):
        """append(module): add a module at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """extend(modules): append each module of an iterable."""
        if isinstance(modules, (Module, Tensor)) or not hasattr(modules, "__iter__"):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def pop(self, key=-1):
        v = self[key]
        del self[key]
        return v

    def __repr__(self):
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        blocks = []  # [start, end, repr] runs of equal reprs, printed once as "(0-2): 3 x ..."
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = []
        for start, end, r in blocks:
            line = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_addindent(line, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """ModuleDict(modules=None): a dict of modules whose parameters are registered (insertion ordered).

    >>> import tapegrad as tg
    >>> heads = tg.nn.ModuleDict({"a": tg.nn.Linear(2, 1), "b": tg.nn.ReLU()})
    >>> list(heads.keys())
    ['a', 'b']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module named {key!r} (have {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        for k in list(self._modules):
            delattr(self, k)

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """update(modules): add modules from a mapping or an iterable of (name, module) pairs."""
        items = modules.items() if hasattr(modules, "items") else modules
        for j, item in enumerate(items):
            if isinstance(item, (tuple, list)) and len(item) == 2:
                self[item[0]] = item[1]
            else:
                raise ValueError(f"ModuleDict update sequence element #{j} should be a (name, module) pair, "
                                 f"got {type(item).__name__}")


def _param_line(k, p, type_name):
    if isinstance(p, Tensor):
        size = "x".join(str(s) for s in p.shape)
        kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
        return f"  ({k}): {kind} containing: [{type_name(p)} of size {size}]"
    return f"  ({k}): Object of type: {type(p).__name__}"


def _as_parameter(value):
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


class ParameterList(Module):
    """ParameterList(values=None): a list of parameters registered under '0', '1', ...

    >>> import tapegrad as tg
    >>> ps = tg.nn.ParameterList([tg.nn.Parameter(tg.ones(2)), tg.nn.Parameter(tg.zeros(3))])
    >>> [p.shape[0] for p in ps]
    [2, 3]
    """

    def __init__(self, values=None):
        super().__init__()
        self.__dict__["_size"] = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index("ParameterList", idx, self._size)))

    def __setitem__(self, idx, param):
        setattr(self, str(_index("ParameterList", idx, self._size)), _as_parameter(param))

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def append(self, value):
        """append(value): add a parameter (a plain tensor is made a Parameter)."""
        new_idx = self._size
        self.__dict__["_size"] += 1
        setattr(self, str(new_idx), _as_parameter(value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return "\n".join(_param_line(k, p, lambda t: f"tapegrad.{t.dtype}") for k, p in enumerate(self))

    def forward(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """ParameterDict(parameters=None): a dict of parameters registered under their keys.

    >>> import tapegrad as tg
    >>> pd = tg.nn.ParameterDict({"scale": tg.nn.Parameter(tg.ones(1))})
    >>> list(dict(pd.named_parameters()))
    ['scale']
    """

    def __init__(self, parameters=None):
        super().__init__()
        self.__dict__["_keys"] = {}
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(f"ParameterDict: no parameter named {key!r} (have {list(self._keys)})")
        return getattr(self, key)

    def __setitem__(self, key, value):
        self._keys[key] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((k, self[k]) for k in self._keys)

    def values(self):
        return (self[k] for k in self._keys)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v

    def extra_repr(self):
        return "\n".join(_param_line(k, p, lambda t: t.type()) for k, p in self.items())

    def forward(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called.")
