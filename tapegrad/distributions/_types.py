"""Type aliases of PyTorch's ``torch.types`` used in the distributions' signatures and checks."""

from typing import Union

from .. import dtypes
from .._tensor import Size
from .._tensor import device as _device

_size = Union[Size, list[int], tuple[int, ...]]
Number = Union[int, float, bool]
_Number = (int, float, bool)  # for isinstance, as torch.types._Number
_dtype = type(dtypes.float32)
Device = Union[_device, str, int, None]

__all__ = ["_size", "_Number", "Number", "_dtype", "Device"]
