"""Type aliases of PyTorch's ``torch.types`` used in the distributions' signatures and checks."""

import numpy as np

from .._tensor import Size
from .._tensor import device as _device

_size = Size | list[int] | tuple[int, ...]
Number = int | float | bool
_Number = (int, float, bool)  # for isinstance, as torch.types._Number
_dtype = np.dtype  # tapegrad's dtypes are numpy's (tapegrad.float32 is np.dtype('float32'))
Device = _device | str | int | None

__all__ = ["_size", "_Number", "Number", "_dtype", "Device"]
