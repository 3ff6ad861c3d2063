"""Optimizer: the base class of every optimizer (``torch.optim.Optimizer``).

An optimizer holds ``param_groups`` (lists of parameters, each group with its own options) and ``state`` (a
dict per parameter). ``step()`` runs the subclass's ``_update(group)`` on every group. Updates work
directly on the numpy arrays of the parameters and of their ``.grad`` (in place, with preallocated state
arrays), so a step records nothing on the tape and makes no Tensors; each written parameter gets a version
bump, so a backward through a graph that used its old value refuses to run.
"""

import warnings
from collections import defaultdict

import numpy as np

from ..autograd.declare import Tensor
from ..autograd.declare import wrap as _wrap
from ..autograd.grad_mode import enable_grad
from ..autograd.grad_mode import state as _grad_state
from ..autograd.graph import increment_version


class _RequiredParameter:
    """The default of an option a parameter group must set itself (``torch.optim.optimizer.required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Optimizer(params, defaults): base class of the optimizers.

    ``params`` is an iterable of tensors, or of dicts (parameter groups: ``{'params': [...], 'lr': ...}``)
    whose options override ``defaults``. Subclasses implement ``_update(group)`` (or override ``step``).

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([0., 0.], requires_grad=True)
    """

    # State entries whose arrays do not have their parameter's shape (Adafactor's row and column factors,
    # L-BFGS's flat vectors): load_state_dict refuses any other state array of the wrong shape.
    _state_shapes_free: frozenset[str] = frozenset()

    def __init__(self, params, defaults):
        name = type(self).__name__
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts, but got a Tensor of "
                            f"shape {tuple(params.shape)}; wrap it in a list")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """add_param_group(param_group): add a group ``{'params': [...], option: value, ...}``.

        Options the group does not set take the optimizer's defaults.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: param_group must be a dict, got "
                            f"{type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be given in an ordered collection (a list), not a set: "
                            "the order of a set changes between runs")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: all parameters should be given with names or all without; "
                                 f"{len(params) - len(names)} of {len(params)} have no name")
            params = [p[1] for p in params]
            param_group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but parameter {i} is a "
                                f"{type(p).__name__}")
            if p._backward is not None and not p.retains_grad:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (parameter {i}, shape "
                                 f"{tuple(p.shape)}, made by {p.grad_fn.name()}); use a leaf tensor")
        param_group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in param_group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required option {key}")
            param_group.setdefault(key, default)
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            warnings.warn(f"{name}: a parameter group contains the same parameter more than once; it will be "
                          "updated once per occurrence", stacklevel=3)
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                raise ValueError(f"{name}: all parameter groups should be with names or all without")
            if any(id(p) in ids for p in group["params"]):
                raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """zero_grad(set_to_none=True): reset the gradients of all parameters (to None, or to zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if grad._backward is not None:
                    grad.detach_()
                grad.requires_grad = False
                if grad._data.flags.writeable and grad._data.base is None:
                    grad._data.fill(0)
                else:
                    grad._data = np.zeros_like(grad._data)
                increment_version(grad)

    def step(self, closure=None):
        """step(closure=None): update the parameters once; ``closure`` re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        enabled = _grad_state.enabled
        _grad_state.enabled = False  # as no_grad(), for subclasses whose _update uses tensor operations
        try:
            for group in self.param_groups:
                self._update(group)
        finally:
            _grad_state.enabled = enabled
        return loss

    def _update(self, group):
        raise NotImplementedError(f"{type(self).__name__}: an Optimizer subclass must implement "
                                  "_update(group) or step()")

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        """state_dict(): ``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Parameters are replaced by their index in the order of ``param_groups``; state tensors are returned by
        reference (as in PyTorch: copy or save the dict to keep a snapshot).
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            key = index.get(id(p), p) if isinstance(p, Tensor) else p
            state[key] = dict(s)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """load_state_dict(state_dict): restore the state and options saved by :meth:`state_dict`.

        The saved options replace the current ones; state tensors are copied (cast to the parameter's dtype,
        except ``step``), so training continues exactly where the saved optimizer was.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and 'param_groups', "
                             f"got {_describe(state_dict)}")
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(saved_groups)} parameter "
                             f"group(s) but the optimizer has {len(groups)}")
        for i, (g, s) in enumerate(zip(groups, saved_groups, strict=True)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} of the loaded state dict has "
                                 f"{len(s['params'])} parameter(s) but the optimizer's has "
                                 f"{len(g['params'])}")
        id_map = {}
        for g, s in zip(groups, saved_groups, strict=True):
            id_map.update(zip(s["params"], g["params"], strict=True))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(key)
            if param is None:
                state[key] = _copy_value(value, None, key)
            else:
                state[param] = {k: _copy_value(v, param, k, name, key, k not in self._state_shapes_free)
                                for k, v in value.items()}
        new_groups = []
        for g, s in zip(groups, saved_groups, strict=True):
            ng = {k: _copy_value(v, None, k) for k, v in s.items() if k != "params"}
            ng["params"] = g["params"]
            if "param_names" in g and "param_names" not in ng:
                ng["param_names"] = g["param_names"]
            new_groups.append(ng)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names"))
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)


def _describe(x):
    return f"a dict with keys {sorted(map(str, x))}" if isinstance(x, dict) else type(x).__name__


def _copy_value(value, param, key, opt_name=None, index=None, check_shape=True):
    """A deep copy of one state value; floating tensors are cast to ``param``'s dtype (except ``step``)."""
    if isinstance(value, Tensor):
        arr = value._data
        if param is not None:
            if key != "step" and arr.dtype.kind == "f" and param._data.dtype.kind == "f":
                arr = arr.astype(param._data.dtype, copy=False)
            if check_shape and arr.ndim and arr.shape != param._data.shape:
                raise ValueError(f"{opt_name}.load_state_dict: state {key!r} of parameter {index} has shape "
                                 f"{tuple(arr.shape)} but the parameter has shape {tuple(param._data.shape)}")
        return _wrap(np.array(arr, copy=True))
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return type(value)((k, _copy_value(v, param, k, opt_name, index, check_shape)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_value(v, param, key, opt_name, index, check_shape) for v in value)
    return value


def _check_option(opt, what, value, ok, expected):
    """Raise ``ValueError`` naming the optimizer, the option, the expected range and the value got."""
    if not ok:
        raise ValueError(f"{opt}: invalid {what} {value!r} (expected {expected})")


def _check_unsupported(opt, **flags):
    """PyTorch options that select an implementation (CUDA graphs, fused kernels) have no meaning here."""
    for flag, value in flags.items():
        if value:
            raise ValueError(f"{opt}: {flag}=True is not supported (tapegrad has one numpy implementation); "
                             f"got {flag}={value!r}")


def _check_fused(opt, fused, foreach):
    """``fused=True`` is accepted, as PyTorch's fused CPU kernels: the same arithmetic, the one implementation."""
    if fused and foreach:
        raise RuntimeError(f"{opt}: `fused` and `foreach` cannot be `True` together.")


def _advance_step(state):
    """Count one more step in ``state['step']`` (a 0-d float32 tensor, as in PyTorch); return the count."""
    st = state["step"]
    if isinstance(st, Tensor):
        a = st._data
        a += 1
        return float(a)
    state["step"] = st = st + 1
    return float(st)
