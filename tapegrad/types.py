"""``torch.types``: the type aliases PyTorch's signatures use, for annotating code written for both libraries.

>>> import tapegrad as tg
>>> from tapegrad.types import Number, Device
>>> isinstance(2.5, Number), isinstance("cpu", Device)
(True, True)
"""

import os
from typing import IO

from ._tensor import Size, Tensor
from ._tensor import device as _device

__all__ = ["Number", "Device", "FileLike"]

_bool = bool
_int = int
_float = float
_complex = complex
_str = str
_bytes = bytes
_size = Size | list[int] | tuple[int, ...]
_TensorOrTensors = Tensor | tuple[Tensor, ...] | list[Tensor]
_TensorOrOptionalTensors = Tensor | None | tuple[Tensor | None, ...] | list[Tensor | None]

Number = int | float | bool
Device = _device | str | int | None
FileLike = str | os.PathLike | IO[bytes]
