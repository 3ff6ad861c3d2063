"""DataParallel on tapegrad's single CPU device: the module itself, run in this process."""

from ..module import Module
from .distributed import _with_prefix

__all__ = ["DataParallel"]


class DataParallel(Module):
    """DataParallel(module, device_ids=None, output_device=None, dim=0)

    PyTorch's DataParallel splits a batch over several GPUs of one process; tapegrad has one CPU device, so this
    runs ``module`` on the whole batch (as PyTorch's does with a single device). It keeps the interface: the
    wrapped model is ``.module``, ``state_dict()`` keys start with ``module.`` (``load_state_dict`` also takes the
    bare keys). For several processes use ``DistributedDataParallel``.

    >>> import tapegrad as tg
    >>> dp = DataParallel(tg.nn.Linear(3, 2))
    >>> dp(tg.ones(4, 3)).shape, list(dp.state_dict())
    (tapegrad.Size([4, 2]), ['module.weight', 'module.bias'])
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be an nn.Module, got {type(module).__name__}")
        for d in list(device_ids or []) + ([] if output_device is None else [output_device]):
            if d not in (0, "cpu") and str(d) != "cpu":
                raise ValueError(f"DataParallel: device {d!r} is not available; tapegrad runs on the CPU only")
        self.module = module
        self.device_ids = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """load_state_dict(state_dict, strict=True, assign=False): DataParallel's keys or the bare module's."""
        return super().load_state_dict(_with_prefix(state_dict), strict=strict, assign=assign)
