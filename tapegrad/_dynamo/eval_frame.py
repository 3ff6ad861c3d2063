"""OptimizedModule: what ``torch.compile(module)`` returns, a Module that wraps the original one.

As in PyTorch it holds the original as its submodule ``_orig_mod``, so its ``state_dict`` keys are prefixed
``_orig_mod.`` (scripts strip the prefix: ``unwanted_prefix = '_orig_mod.'``), its parameters are the
original's, and reading or writing any other attribute goes to the original module.
"""

from ..nn.module import Module

__all__ = ["OptimizedModule"]


class OptimizedModule(Module):
    """OptimizedModule(mod, dynamo_ctx): ``torch.compile(mod)``; calling it calls ``mod`` (eagerly).

    >>> import tapegrad as tg
    >>> net = tg.nn.Linear(2, 1)
    >>> compiled = tg.compile(net)
    >>> compiled._orig_mod is net, list(compiled.state_dict())
    (True, ['_orig_mod.weight', '_orig_mod.bias'])
    """

    _opt_mod_attributes = {"_orig_mod", "dynamo_ctx", "_torchdynamo_orig_callable", "get_compiler_config", "forward",
                           "_forward", "__dict__", "_super_module_initialized"}

    def __init__(self, mod, dynamo_ctx=None):
        object.__setattr__(self, "_orig_mod", mod)
        object.__setattr__(self, "_super_module_initialized", False)
        super().__init__()
        self.__dict__["_super_module_initialized"] = True
        self._orig_mod = mod  # registers the original as the submodule "_orig_mod"
        self.dynamo_ctx = dynamo_ctx
        self.forward = mod.__call__  # the original's hooks run, as in PyTorch

    @property
    def training(self):
        return self._orig_mod.training

    @training.setter
    def training(self, value):
        # Module.__init__ and train() write the flag on every module; the wrapper always mirrors the original.
        if self.__dict__.get("_super_module_initialized"):
            self._orig_mod.training = value

    def __len__(self):
        if hasattr(self._orig_mod, "__len__"):
            return len(self._orig_mod)
        raise TypeError(f"{type(self._orig_mod).__name__} does not support len()")

    def __getattr__(self, name):
        if name == "_orig_mod":
            return self.__dict__["_modules"]["_orig_mod"]
        return getattr(self._orig_mod, name)

    def __setattr__(self, name, value):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__setattr__(name, value)
        return setattr(self._orig_mod, name, value)

    def __delattr__(self, name):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__delattr__(name)
        return delattr(self._orig_mod, name)

    def __dir__(self):
        return sorted(set(dir(self._orig_mod)) | set(super().__dir__()))
