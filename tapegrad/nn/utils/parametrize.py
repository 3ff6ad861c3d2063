"""``torch.nn.utils.parametrize`` and ``parametrizations.weight_norm``: a tensor of a module computed from others.

``register_parametrization(module, "weight", p)`` moves ``module.weight`` to
``module.parametrizations.weight.original`` (or ``original0``, ``original1``, ... when ``p.right_inverse`` returns
several tensors) and makes ``module.weight`` a property that evaluates ``p(original)`` on each access, as PyTorch
does: the module's class becomes a subclass ``Parametrized<Class>``, and the state_dict keys are PyTorch's.
Assigning to ``module.weight`` goes through ``right_inverse``.

Not yet here (see the report that introduced this module): ``spectral_norm`` and ``orthogonal`` parametrizations,
and the caching of ``cached()`` (accepted; every access recomputes). To be exposed as ``nn.utils.parametrize`` and
``nn.utils.parametrizations`` once ``nn/utils`` is a package.
"""

from __future__ import annotations

import contextlib

from ...autograd.declare import Tensor
from ...autograd.grad_mode import no_grad
from ..container import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

__all__ = ["register_parametrization", "is_parametrized", "remove_parametrizations", "cached",
           "ParametrizationList", "weight_norm"]


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s) they start from."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for m in reversed(self):
                if hasattr(m, "right_inverse"):
                    new = m.right_inverse(new)
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            self.original = Parameter(new.detach().clone(), requires_grad=original.requires_grad)
        else:
            for i, t in enumerate(new):
                setattr(self, f"original{i}", Parameter(t.detach().clone(), requires_grad=original.requires_grad))

    def right_inverse(self, value):
        """Set the original(s) so that the parametrized tensor becomes ``value``."""
        with no_grad():
            for m in reversed(self):
                if hasattr(m, "right_inverse"):
                    value = m.right_inverse(value)
                elif not self.unsafe and m is not self[0]:
                    raise RuntimeError(f"parametrization {type(m).__name__} does not implement right_inverse")
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, t in enumerate(value):
                    getattr(self, f"original{i}").copy_(t)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in list(self)[1:]:
            x = m(x)
        return x


def _parametrized_class(cls):
    """A fresh subclass per module, as PyTorch's: the properties of one module are not another's."""
    return type(f"Parametrized{cls.__name__}", (cls,), {"__module__": cls.__module__})


def _add_property(cls, name):
    def get(self):
        return self.parametrizations[name]()

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)

    setattr(cls, name, property(get, set_))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """register_parametrization(module, tensor_name, parametrization, *, unsafe=False) -> module

    Make ``module.<tensor_name>`` the value of ``parametrization(original)`` (see the module docstring); a second
    registration on the same name is applied after the first.

    >>> import tapegrad as tg
    >>> class Symmetric(tg.nn.Module):
    ...     def forward(self, X):
    ...         return X.triu() + X.triu(1).mT
    >>> m = register_parametrization(tg.nn.Linear(3, 3), "weight", Symmetric())
    >>> bool((m.weight == m.weight.mT).all())
    True
    >>> list(m.state_dict())
    ['bias', 'parametrizations.weight.original']
    """
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: parametrization must be an nn.Module, got "
                        f"{type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            y = plist()
            z = parametrization(y)
            if tuple(z.shape) != tuple(y.shape) or z.dtype != y.dtype:
                raise ValueError(f"register_parametrization: the parametrization changes {tensor_name}'s shape or "
                                 f"dtype from {tuple(y.shape)}, {y.dtype} to {tuple(z.shape)}, {z.dtype}")
        plist.append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"register_parametrization: module {type(module).__name__} has no parameter or buffer with "
                         f"name '{tensor_name}'")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        z = plist()
        if not isinstance(z, Tensor):
            raise ValueError(f"register_parametrization: a parametrization must return a tensor, got "
                             f"{type(z).__name__}")
        if tuple(z.shape) != tuple(original.shape) or z.dtype != original.dtype:
            raise ValueError(f"register_parametrization: the parametrization changes {tensor_name}'s shape or dtype "
                             f"from {tuple(original.shape)}, {original.dtype} to {tuple(z.shape)}, {z.dtype}")
    delattr(module, tensor_name)
    if not is_parametrized(module):
        module.parametrizations = ModuleDict()
        module.__class__ = _parametrized_class(type(module))
    module.parametrizations[tensor_name] = plist
    _add_property(type(module), tensor_name)
    return module


def is_parametrized(module, tensor_name=None):
    """is_parametrized(module, tensor_name=None) -> bool"""
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """remove_parametrizations(module, tensor_name, leave_parametrized=True) -> module

    Make ``module.<tensor_name>`` a plain parameter again: its current value, or the original when
    ``leave_parametrized`` is False (only possible for a single original tensor)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        with no_grad():
            value = getattr(module, tensor_name).detach().clone()
        requires = plist.original.requires_grad if plist.is_tensor else plist.original0.requires_grad
    else:
        if not plist.is_tensor:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                             "parametrized in terms of a sequence of tensors.")
        value, requires = plist.original.detach().clone(), plist.original.requires_grad
    del module.parametrizations[tensor_name]
    cls = type(module)
    delattr(cls, tensor_name)
    if not len(module.parametrizations):
        del module.parametrizations
        module.__class__ = cls.__bases__[0]
    module.register_parameter(tensor_name, Parameter(value, requires_grad=requires))
    return module


@contextlib.contextmanager
def cached():
    """cached(): accepted for PyTorch programs; tapegrad recomputes parametrized tensors on every access."""
    yield


# ---------------------------------------------------------------------- weight_norm
def _norm_except_dim(v, dim):
    if dim == -1:
        return v.norm()
    dims = tuple(i for i in range(v.dim()) if i != dim)
    return v.pow(2).sum(dims, keepdim=True).sqrt()


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """parametrizations.weight_norm(module, name='weight', dim=0) -> module

    w = g * v / ||v|| with the norm over every dim but ``dim`` (all dims for dim=None): the magnitude ``g``
    (``parametrizations.weight.original0``) and direction ``v`` (``original1``) are the parameters, as PyTorch's.

    >>> import tapegrad as tg
    >>> m = weight_norm(tg.nn.Linear(4, 2))
    >>> [k for k in m.state_dict()]
    ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
    """
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module
