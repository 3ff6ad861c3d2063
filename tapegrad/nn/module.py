"""Module: the base class of layers and models (``torch.nn.Module``).

Assigning a Parameter, a Module or a registered buffer to an attribute registers it, so ``parameters()``,
``state_dict()``, ``train()``/``eval()`` and ``to()`` find it. Registered values live in the registries
(``_parameters``, ``_buffers``, ``_modules``) *and* in the instance ``__dict__``, so that reading
``self.weight`` in a forward pass is a plain attribute lookup; ``__setattr__``/``__delattr__`` and the
``register_*`` methods keep the two in step (change registered values through them, not the dicts).
"""

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from .. import dtypes, memory_formats
from .._tensor import Size, device
from ..autograd import grad_mode
from ..autograd.declare import Tensor
from ..autograd.declare import check_device as _check_device
from ..autograd.graph import increment_version
from .parameter import Parameter

__all__ = ["Module", "RemovableHandle"]


def _typename(value):
    if isinstance(value, Tensor):
        return value.type()
    return type(value).__module__ + "." + type(value).__qualname__ if type(value).__module__ != "builtins" \
        else type(value).__name__


def _addindent(s, num_spaces):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(num_spaces * " " + line for line in lines)


class RemovableHandle:
    """The handle a ``register_*_hook`` call returns: ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks_dict, *extra_dicts):
        self.hooks_dict = hooks_dict
        self.extra_dicts = extra_dicts
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.hooks_dict.pop(self.id, None)
        for d in self.extra_dicts:
            d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Module:
    """Module(): base class for all layers and models; subclass it and define ``forward``.

    >>> import tapegrad as tg
    >>> class Net(tg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = tg.nn.Linear(2, 1)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    training = True

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = {}
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = {}

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" '
                                  "function")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        with_kwargs = self._forward_pre_hooks_with_kwargs
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                           f"new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        with_kwargs = self._forward_hooks_with_kwargs
        for hook_id, hook in list(self._forward_hooks.items()):
            result = hook(self, args, kwargs, output) if hook_id in with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """register_forward_pre_hook(hook, *, prepend=False, with_kwargs=False) -> handle

        ``hook(module, args)`` runs before ``forward``; it may return new args (a tuple, or one value).
        With ``with_kwargs=True`` it is ``hook(module, args, kwargs)`` and may return ``(args, kwargs)``.
        """
        handle = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """register_forward_hook(hook, *, prepend=False, with_kwargs=False) -> handle

        ``hook(module, args, output)`` runs after ``forward``; a value it returns replaces the output.

        >>> import tapegrad as tg
        >>> m = tg.nn.Identity()
        >>> h = m.register_forward_hook(lambda mod, args, out: out * 2)
        >>> m(tg.ones(1))
        tensor([2.])
        """
        handle = RemovableHandle(self._forward_hooks, self._forward_hooks_with_kwargs)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    # ------------------------------------------------------------------ registration
    def register_parameter(self, name, param):
        """register_parameter(name, param): add a Parameter (or None) under ``name``."""
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name("parameter", name)
        self._check_free(name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(tapegrad.nn.Parameter or None required)")
        if param is not None and param._backward is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly. To express '{name}' as a function of another Tensor, "
                             "compute the value in the forward() method.")
        d["_parameters"][name] = param
        d[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """register_buffer(name, tensor, persistent=True): add a non-learnable tensor (e.g. running stats).

        Persistent buffers are part of ``state_dict()``.

        >>> import tapegrad as tg
        >>> m = tg.nn.Module()
        >>> m.register_buffer("count", tg.zeros(1))
        >>> list(m.state_dict())
        ['count']
        """
        d = self.__dict__
        if "_buffers" not in d:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name("buffer", name)
        self._check_free(name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(tapegrad Tensor or None required)")
        d["_buffers"][name] = tensor
        if persistent:
            d["_non_persistent_buffers_set"].discard(name)
        else:
            d["_non_persistent_buffers_set"].add(name)
        d[name] = tensor

    def add_module(self, name, module):
        """add_module(name, module): add a child module (or None) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        d = self.__dict__
        if "_modules" not in d:
            raise AttributeError("cannot assign module before Module.__init__() call")
        self._check_name("module", name)
        self._check_free(name, "_modules")
        d["_modules"][name] = module
        d[name] = module

    register_module = add_module

    def _check_free(self, name, registry):
        d = self.__dict__
        if name not in d[registry] and (name in d or hasattr(type(self), name)):
            raise KeyError(f"attribute '{name}' already exists")

    @staticmethod
    def _check_name(kind, name):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got {name!r}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._unregister(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(tapegrad.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._unregister(name, keep="_modules")
            modules[name] = value
            d[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(tapegrad.nn.Module or None expected)")
            modules[name] = value
            d[name] = value
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(tapegrad.Tensor or None expected)")
            buffers[name] = value
            d[name] = value
            return
        object.__setattr__(self, name, value)

    def _unregister(self, name, keep):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep and name in d[registry]:
                del d[registry][name]
        d["_non_persistent_buffers_set"].discard(name)
        if name not in d[keep]:
            d.pop(name, None)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: registered values normally sit in __dict__ as well.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            reg = d.get(registry)
            if reg is not None and name in reg:
                return reg[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            reg = d.get(registry)
            if reg is not None and name in reg:
                del reg[name]
                d["_non_persistent_buffers_set"].discard(name)
                d.pop(name, None)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(dir(type(self))) | set(self.__dict__)
        return sorted(k for k in keys if not k[0].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """named_modules(memo=None, prefix='', remove_duplicate=True): (name, module) for this module and all
        below it, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        """modules(): this module and every module below it."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """named_children(): (name, module) for the direct children."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or id(value) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """named_parameters(prefix='', recurse=True, remove_duplicate=True): (name, Parameter) pairs; a
        parameter shared by several modules is listed once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """parameters(recurse=True): the learnable parameters, each once (e.g. to hand to an optimizer).

        >>> import tapegrad as tg
        >>> sum(p.numel() for p in tg.nn.Linear(3, 2).parameters())
        8
        """
        return iter(self._members("_parameters", recurse))

    def _members(self, registry, recurse):
        """The non-None values of a registry over this module (and those below it), each once, in the order
        of named_parameters/named_buffers: the fast path that optimizers and zero_grad use every step."""
        seen = set()
        out = []
        for module in self._preorder() if recurse else (self,):
            for value in module.__dict__[registry].values():
                if value is not None and id(value) not in seen:
                    seen.add(id(value))
                    out.append(value)
        return out

    def _preorder(self):
        """This module and every module below it, each once, in named_modules order (iterative)."""
        out, seen, stack = [], set(), [self]
        while stack:
            module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            out.append(module)
            children = [m for m in module._modules.values() if m is not None]
            stack.extend(reversed(children))
        return out

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """named_buffers(prefix='', recurse=True, remove_duplicate=True): (name, buffer) pairs."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """buffers(recurse=True): the buffers (running statistics and the like), each once."""
        return iter(self._members("_buffers", recurse))

    def get_submodule(self, target):
        """get_submodule(target): the module at a dotted path such as ``'encoder.0'``."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not isinstance(mod, Module) or item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode=True):
        """train(mode=True): set training mode (Dropout drops, BatchNorm uses batch statistics) here
        and below."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self._preorder():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        """eval(): the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """requires_grad_(requires_grad=True): start or stop recording gradients for all parameters
        (freezing)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """zero_grad(set_to_none=True): reset the gradients of all parameters (to None, or to zeros)."""
        for p in self._members("_parameters", True):
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g._backward is not None or g.requires_grad:
                    g = p.grad = g.detach()
                g._data[...] = 0
                increment_version(g)

    def apply(self, fn):
        """apply(fn): call ``fn(module)`` on every submodule (children first) and on this module.

        >>> import tapegrad as tg
        >>> def init(m):
        ...     if isinstance(m, tg.nn.Linear):
        ...         tg.nn.init.zeros_(m.bias)
        >>> tg.nn.Sequential(tg.nn.Linear(2, 2)).apply(init)[0].bias
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype and device
    def to(self, *args, **kwargs):
        """to(dtype) / to(device) / to(tensor), and ``memory_format=``: cast floating-point parameters and
        buffers in place; lay the 4-d and 5-d ones out in ``memory_format``.

        The only device is ``'cpu'`` (a no-op). Integer buffers (e.g. ``num_batches_tracked``) keep their
        dtype. As PyTorch's, ``memory_format`` applies to every 4-d and 5-d parameter, gradient and buffer (so
        ``channels_last`` refuses a module with a 5-d one: use ``channels_last_3d``).

        >>> import tapegrad as tg
        >>> tg.nn.Linear(2, 2).to(tg.float64).weight.dtype
        dtype('float64')
        >>> tg.nn.Conv2d(2, 3, 3).to(memory_format=tg.channels_last).weight.stride()
        (18, 1, 6, 2)
        """
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        fmt = kwargs.pop("memory_format", None)
        if fmt is not None:
            fmt = memory_formats.checked("to", fmt)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)):
                dev = a
            elif isinstance(a, bool):
                continue  # non_blocking given positionally
            else:
                dtype = a
        if dev is not None:
            _check_device(dev)
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired "
                                f"dtype={dtype}")
            self._cast_floats(dtype)
        if fmt is not None:
            self._lay_out(fmt)
        return self

    def _lay_out(self, fmt):
        """PyTorch's ``t.to(memory_format=fmt)`` for each 4-d and 5-d parameter (its gradient too) and buffer, in
        place: those already in the layout (or preserve_format) are left as they are."""
        for t in itertools.chain(self.parameters(), self.buffers()):
            for u in (t, t.grad):
                if u is None or u._data.ndim not in (4, 5):
                    continue
                x = u._data
                if fmt is not memory_formats.preserve_format and \
                        memory_formats.suggest(x.shape, memory_formats.visible_strides(x)) is not fmt:
                    u._data = memory_formats.copy("to", x, fmt)
                    increment_version(u)

    def _cast_floats(self, dtype):
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t._data.dtype.kind == "f" and t._data.dtype != dtype:
                t._data = t._data.astype(dtype)
                increment_version(t)
                if t.grad is not None and t.grad._data.dtype.kind == "f":
                    t.grad._data = t.grad._data.astype(dtype)

    def type(self, dst_type):
        """type(dst_type): cast all parameters and buffers to ``dst_type``."""
        dst_type = dtypes.as_dtype(dst_type)
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t._data.dtype != dst_type:
                t._data = t._data.astype(dst_type)
                increment_version(t)
        return self

    def float(self):
        """float(): cast floating-point parameters and buffers to float32."""
        self._cast_floats(dtypes.float32)
        return self

    def double(self):
        """double(): cast floating-point parameters and buffers to float64."""
        self._cast_floats(dtypes.float64)
        return self

    def half(self):
        self._cast_floats(dtypes.float16)
        return self

    def cpu(self):
        return self

    def cuda(self, device=None):
        raise RuntimeError("cuda: tapegrad runs on the CPU only (numpy); no CUDA device is available")

    # ------------------------------------------------------------------ state
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """state_dict(destination=None, prefix='', keep_vars=False) -> OrderedDict

        Every parameter and persistent buffer by dotted name, detached (sharing memory with the module).

        >>> import tapegrad as tg
        >>> list(tg.nn.BatchNorm1d(2).state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        """
        if args:  # PyTorch's deprecated positional form: state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        skip = self._non_persistent_buffers_set
        for name, b in self._buffers.items():
            if b is not None and name not in skip:
                destination[prefix + name] = b if keep_vars else b.detach()

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """load_state_dict(state_dict, strict=True, assign=False) -> (missing_keys, unexpected_keys)

        Copy values into the parameters and buffers in place. With ``strict`` the keys must match exactly;
        every missing key, unexpected key and shape mismatch is named in one RuntimeError.

        >>> import tapegrad as tg
        >>> a, b = tg.nn.Linear(2, 2), tg.nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors = [], [], []
        state_dict = OrderedDict(state_dict)
        for name, module in self.named_modules(remove_duplicate=False):
            prefix = name + "." if name else ""
            metadata = {"assign_to_params_buffers": assign}
            module._load_from_state_dict(state_dict, prefix, metadata, True, missing, unexpected, errors)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        assign = local_metadata.get("assign_to_params_buffers", False)
        skip = self._non_persistent_buffers_set
        local = {k: v for k, v in self._parameters.items() if v is not None}
        local.update((k, b) for k, b in self._buffers.items() if b is not None and k not in skip)
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, np.ndarray):
                value_arr = value
            elif isinstance(value, Tensor):
                value_arr = value._data
            else:
                error_msgs.append(f'While copying the parameter named "{key}", expected a Tensor from the '
                                  f"checkpoint but received {type(value)}")
                continue
            if param._data.ndim == 0 and value_arr.shape == (1,):
                value_arr = value_arr.reshape(())
            if value_arr.shape != param._data.shape:
                got, want = Size(value_arr.shape), Size(param._data.shape)
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {got} from "
                                  f"checkpoint, the shape in current model is {want}.")
                continue
            with grad_mode.no_grad():
                if assign:
                    if isinstance(param, Parameter):
                        new = value if isinstance(value, Parameter) else Parameter(value_arr, False)
                        new.requires_grad = param.requires_grad
                    else:
                        new = value if isinstance(value, Tensor) else Tensor(value_arr)
                    setattr(self, name, new)
                else:
                    np.copyto(param._data, value_arr, casting="unsafe")
                    increment_version(param)
        for key in state_dict if strict else ():
            if key.startswith(prefix):
                parts = key[len(prefix):].split(".", 1)
                if len(parts) > 1:
                    if parts[0] not in self._modules:
                        unexpected_keys.append(key)
                elif parts[0] not in local:
                    unexpected_keys.append(key)

    # ------------------------------------------------------------------ printing
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """extra_repr(): the text inside this module's repr parentheses (override to show settings)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
