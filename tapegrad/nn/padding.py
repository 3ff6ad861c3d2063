"""Padding layers (``torch.nn`` padding modules): constant, zero, reflection, replication and circular padding of
the last 1, 2 or 3 dimensions, each calling ``tapegrad.nn.functional.pad``.

``padding`` is an int (the same on every side) or a tuple (left, right[, top, bottom[, front, back]]); a tuple is
kept as given, as PyTorch's ``_ntuple`` keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import functional as F
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


def _ntuple(x, n):
    if isinstance(x, Iterable) and not isinstance(x, str):
        return tuple(x)
    return (x,) * n


class _PadNd(Module):
    _mode = "constant"
    _sides = 2

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _ntuple(padding, self._sides)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """ConstantPad1d(padding, value): pad the last dimension with ``value``.

    >>> import tapegrad as tg
    >>> tg.nn.ConstantPad1d((1, 2), 3.5)(tg.tensor([[1.0]]))
    tensor([[3.5000, 1.0000, 3.5000, 3.5000]])
    """


class ConstantPad2d(_ConstantPadNd):
    """ConstantPad2d(padding, value): pad the last two dimensions with ``value`` (left, right, top, bottom).

    >>> import tapegrad as tg
    >>> tg.nn.ConstantPad2d(1, 0.0)(tg.ones(1, 1, 1)).shape
    tapegrad.Size([1, 3, 3])
    """

    _sides = 4


class ConstantPad3d(_ConstantPadNd):
    """ConstantPad3d(padding, value): pad the last three dimensions with ``value``.

    >>> import tapegrad as tg
    >>> tg.nn.ConstantPad3d(1, 0.0)(tg.ones(1, 1, 1, 1)).shape
    tapegrad.Size([1, 3, 3, 3])
    """

    _sides = 6


class ZeroPad1d(ConstantPad1d):
    """ZeroPad1d(padding): pad the last dimension with zeros.

    >>> import tapegrad as tg
    >>> tg.nn.ZeroPad1d(1)(tg.tensor([[1.0]]))
    tensor([[0., 1., 0.]])
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """ZeroPad2d(padding): pad the last two dimensions with zeros.

    >>> import tapegrad as tg
    >>> tg.nn.ZeroPad2d((1, 0, 0, 1))(tg.ones(1, 1, 1))
    tensor([[[0., 1.],
             [0., 0.]]])
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """ZeroPad3d(padding): pad the last three dimensions with zeros.

    >>> import tapegrad as tg
    >>> tg.nn.ZeroPad3d(1)(tg.ones(1, 1, 1, 1)).sum()
    tensor(1.)
    """

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


class ReflectionPad1d(_ReflectionPadNd):
    """ReflectionPad1d(padding): pad the last dimension with its reflection (the edge is not repeated).

    >>> import tapegrad as tg
    >>> tg.nn.ReflectionPad1d(2)(tg.tensor([[1.0, 2.0, 3.0]]))
    tensor([[3., 2., 1., 2., 3., 2., 1.]])
    """


class ReflectionPad2d(_ReflectionPadNd):
    """ReflectionPad2d(padding): reflection padding of the last two dimensions.

    >>> import tapegrad as tg
    >>> tg.nn.ReflectionPad2d(1)(tg.ones(1, 2, 2)).shape
    tapegrad.Size([1, 4, 4])
    """

    _sides = 4


class ReflectionPad3d(_ReflectionPadNd):
    """ReflectionPad3d(padding): reflection padding of the last three dimensions.

    >>> import tapegrad as tg
    >>> tg.nn.ReflectionPad3d(1)(tg.ones(1, 2, 2, 2)).shape
    tapegrad.Size([1, 4, 4, 4])
    """

    _sides = 6


class ReplicationPad1d(_ReplicationPadNd):
    """ReplicationPad1d(padding): pad the last dimension by repeating its edge values.

    >>> import tapegrad as tg
    >>> tg.nn.ReplicationPad1d(2)(tg.tensor([[1.0, 2.0]]))
    tensor([[1., 1., 1., 2., 2., 2.]])
    """


class ReplicationPad2d(_ReplicationPadNd):
    """ReplicationPad2d(padding): replication padding of the last two dimensions.

    >>> import tapegrad as tg
    >>> tg.nn.ReplicationPad2d(1)(tg.ones(1, 1, 1)).shape
    tapegrad.Size([1, 3, 3])
    """

    _sides = 4


class ReplicationPad3d(_ReplicationPadNd):
    """ReplicationPad3d(padding): replication padding of the last three dimensions.

    >>> import tapegrad as tg
    >>> tg.nn.ReplicationPad3d(1)(tg.ones(1, 1, 1, 1)).shape
    tapegrad.Size([1, 3, 3, 3])
    """

    _sides = 6


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input):
        n = self._sides // 2
        if input.dim() not in (n + 1, n + 2):
            raise ValueError(f"{type(self).__name__}: expected {n + 1}D or {n + 2}D input (got {input.dim()}D "
                             "input)")
        return F.pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    """CircularPad1d(padding): pad the last dimension by wrapping around (a 2D or 3D input).

    >>> import tapegrad as tg
    >>> tg.nn.CircularPad1d(1)(tg.tensor([[1.0, 2.0, 3.0]]))
    tensor([[3., 1., 2., 3., 1.]])
    """


class CircularPad2d(_CircularPadNd):
    """CircularPad2d(padding): circular padding of the last two dimensions (a 3D or 4D input).

    >>> import tapegrad as tg
    >>> tg.nn.CircularPad2d(1)(tg.ones(1, 2, 2)).shape
    tapegrad.Size([1, 4, 4])
    """

    _sides = 4


class CircularPad3d(_CircularPadNd):
    """CircularPad3d(padding): circular padding of the last three dimensions (a 4D or 5D input).

    >>> import tapegrad as tg
    >>> tg.nn.CircularPad3d(1)(tg.ones(1, 2, 2, 2)).shape
    tapegrad.Size([1, 4, 4, 4])
    """

    _sides = 6
