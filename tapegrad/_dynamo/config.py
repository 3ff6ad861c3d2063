"""torch._dynamo.config: the settings training scripts touch, kept (tapegrad compiles nothing).

Unknown names are refused as PyTorch refuses them, so a misspelt setting is not silently ignored.
"""

import sys
import types


class InvalidBackend(RuntimeError):
    """A ``torch.compile`` backend name that PyTorch does not know."""


_DEFAULTS = {
    "suppress_errors": False, "verbose": False, "cache_size_limit": 8, "recompile_limit": 8,
    "accumulated_cache_size_limit": 256, "accumulated_recompile_limit": 256, "optimize_ddp": True,
    "capture_scalar_outputs": False, "capture_dynamic_output_shape_ops": False, "automatic_dynamic_shapes": True,
    "assume_static_by_default": True, "inline_inbuilt_nn_modules": True, "disable": False,
    "compiled_autograd": False, "log_level": 30,
}

# The settings' types, for type checkers (their values are _DEFAULTS', set below; a test keeps the two in step)
suppress_errors: bool
verbose: bool
cache_size_limit: int
recompile_limit: int
accumulated_cache_size_limit: int
accumulated_recompile_limit: int
optimize_ddp: bool
capture_scalar_outputs: bool
capture_dynamic_output_shape_ops: bool
automatic_dynamic_shapes: bool
assume_static_by_default: bool
inline_inbuilt_nn_modules: bool
disable: bool
compiled_autograd: bool
log_level: int


class _ConfigModule(types.ModuleType):
    def __setattr__(self, name, value):
        if name.startswith("_") or name in _DEFAULTS or name == "InvalidBackend" or isinstance(
                value, types.ModuleType):
            return super().__setattr__(name, value)
        raise AttributeError(f"{self.__name__}.{name} does not exist")


globals().update(_DEFAULTS)
sys.modules[__name__].__class__ = _ConfigModule
