"""torch.backends.cuda: the TF32 and attention-kernel flags scripts set are kept (tapegrad has no CUDA).

``matmul.allow_tf32`` is tied to ``torch.set_float32_matmul_precision`` as in PyTorch: "highest" is
``allow_tf32 = False``, "high" and "medium" are ``True``. Unknown attributes of ``matmul`` are refused, so a
misspelt flag is not silently ignored.

>>> import tapegrad as tg
>>> tg.backends.cuda.matmul.allow_tf32 = True
>>> tg.get_float32_matmul_precision()
'high'
>>> tg.set_float32_matmul_precision("highest")
"""

from . import _state

__all__ = ["matmul", "is_built", "flash_sdp_enabled", "enable_flash_sdp", "mem_efficient_sdp_enabled",
           "enable_mem_efficient_sdp", "math_sdp_enabled", "enable_math_sdp", "cudnn_sdp_enabled", "enable_cudnn_sdp"]


class cuBLASModule:
    """The ``torch.backends.cuda.matmul`` flags: ``allow_tf32``, ``allow_fp16_reduced_precision_reduction``,
    ``allow_bf16_reduced_precision_reduction``."""

    def __init__(self):
        object.__setattr__(self, "_flags", {"allow_fp16_reduced_precision_reduction": True,
                                            "allow_bf16_reduced_precision_reduction": True})

    @property
    def allow_tf32(self):
        return _state.matmul_precision != "highest"

    def __getattr__(self, name):
        flags = object.__getattribute__(self, "_flags")
        if name in flags:
            return flags[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name, value):
        if name == "allow_tf32":
            _state.matmul_precision = "high" if value else "highest"
        elif name in self._flags:
            self._flags[name] = value
        else:
            raise AttributeError(f"Unknown attribute {name}")


matmul = cuBLASModule()

_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built():
    """is_built() -> False: tapegrad has no CUDA support built in."""
    return False


def flash_sdp_enabled():
    """flash_sdp_enabled() -> bool: the flag ``enable_flash_sdp`` set (kept; no effect on the CPU)."""
    return _sdp["flash"]


def enable_flash_sdp(enabled: bool):
    """enable_flash_sdp(enabled): kept for PyTorch's API; tapegrad's attention runs on the CPU."""
    _sdp["flash"] = bool(enabled)


def mem_efficient_sdp_enabled():
    """mem_efficient_sdp_enabled() -> bool."""
    return _sdp["mem_efficient"]


def enable_mem_efficient_sdp(enabled: bool):
    """enable_mem_efficient_sdp(enabled): kept for PyTorch's API (no effect)."""
    _sdp["mem_efficient"] = bool(enabled)


def math_sdp_enabled():
    """math_sdp_enabled() -> bool."""
    return _sdp["math"]


def enable_math_sdp(enabled: bool):
    """enable_math_sdp(enabled): kept for PyTorch's API (no effect)."""
    _sdp["math"] = bool(enabled)


def cudnn_sdp_enabled():
    """cudnn_sdp_enabled() -> bool."""
    return _sdp["cudnn"]


def enable_cudnn_sdp(enabled: bool):
    """enable_cudnn_sdp(enabled): kept for PyTorch's API (no effect)."""
    _sdp["cudnn"] = bool(enabled)
