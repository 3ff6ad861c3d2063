"""PyTorch's memory formats: how a 4-d or 5-d tensor's elements are ordered in memory (a leaf: imports numpy only).

A memory format names a layout of strides, not a kind of tensor: ``channels_last`` puts a 4-d (N, C, H, W) tensor's
channels innermost (N, H, W, C in memory), ``channels_last_3d`` does the same for 5-d (N, C, D, H, W). numpy's
arrays take any strides, so every layout PyTorch makes is made here with PyTorch's strides exactly (c10's
``MemoryFormat.h``, ``TensorImpl::empty_tensor_restride``, ``Contiguity.h``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class memory_format:
    """memory_format: the type of ``contiguous_format``, ``preserve_format``, ``channels_last`` and
    ``channels_last_3d``; its four values are the only ones.

    >>> import tapegrad as tg
    >>> tg.channels_last
    tapegrad.channels_last
    """

    __slots__ = ("_name",)
    _name: str

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'tapegrad.memory_format' instances")

    def __repr__(self):
        return f"tapegrad.{self._name}"

    def __reduce__(self):
        return self._name  # pickled by name: unpickling gives the same object, as PyTorch's


def _named(name):
    value = object.__new__(memory_format)
    value._name = name
    return value


contiguous_format = _named("contiguous_format")
preserve_format = _named("preserve_format")
channels_last = _named("channels_last")
channels_last_3d = _named("channels_last_3d")

# the dims from the innermost to the outermost in memory, and the rank each channels-last format needs
_INNERMOST_FIRST = {channels_last: (1, 3, 2, 0), channels_last_3d: (1, 4, 3, 2, 0)}
_RANK = {channels_last: 4, channels_last_3d: 5}
_CPP_NAME = {contiguous_format: "Contiguous", preserve_format: "Preserve", channels_last: "ChannelsLast",
             channels_last_3d: "ChannelsLast3d"}


def checked(op, value, *, none=None):
    """``value`` if it is a memory format (``none`` stands for None where the op takes it), else PyTorch's
    TypeError."""
    if value is None and none is not None:
        return none
    if not isinstance(value, memory_format):
        raise TypeError(f"{op}(): argument 'memory_format' must be tapegrad.memory_format, not "
                        f"{type(value).__name__}")
    return value


def strides(op, shape, fmt):
    """PyTorch's strides (in elements) for a new tensor of ``shape`` in ``fmt``: the contiguous ones count a size 0
    as 1; the channels-last ones multiply the sizes as they are (c10's get_channels_last_strides_2d), so a size 0
    gives the dims outside it stride 0."""
    if fmt is preserve_format:
        raise RuntimeError(f"{op}: unsupported memory format {_CPP_NAME[fmt]}")
    if fmt is contiguous_format:
        step, out = 1, [0] * len(shape)
        for d in reversed(range(len(shape))):
            out[d] = step
            step *= max(shape[d], 1)
        return tuple(out)
    rank = _RANK[fmt]
    if len(shape) != rank:
        raise RuntimeError(f"{op}: required rank {rank} tensor to use {fmt._name} format")
    step, out = 1, [0] * rank
    for d in _INNERMOST_FIRST[fmt]:
        out[d] = step
        step *= shape[d]
    return tuple(out)


def empty(op, shape, dtype, fmt) -> np.ndarray:
    """A zero-filled array of ``shape`` with PyTorch's strides for ``fmt`` (``empty(..., memory_format=fmt)``)."""
    if fmt is contiguous_format:
        return np.zeros(shape, dtype)
    return empty_strided(shape, strides(op, shape, fmt), dtype)


def empty_strided(shape, steps, dtype) -> np.ndarray:
    """A zero-filled array of ``shape`` with exactly these strides (in elements) over a new block of memory, as
    PyTorch's ``empty_strided`` (numpy's own constructors choose a size-1 or size-0 dim's stride themselves)."""
    elements = 0 if 0 in shape else 1 + sum((n - 1) * s for n, s in zip(shape, steps))
    itemsize = np.dtype(dtype).itemsize
    return np.ndarray(tuple(shape), dtype, buffer=np.zeros(elements, dtype), strides=[s * itemsize for s in steps])


def copy(op, x: np.ndarray, fmt, dtype=None) -> np.ndarray:
    """A copy of ``x`` (cast to ``dtype``) laid out in ``fmt`` (not preserve_format)."""
    out = empty(op, x.shape, x.dtype if dtype is None else dtype, fmt)
    out[...] = x
    return out


def visible_strides(x: np.ndarray) -> tuple:
    """The strides PyTorch shows for ``x``, in elements. numpy gives an empty array stride 0 everywhere, where
    PyTorch's are the contiguous ones: an empty array shows those unless it was made channels-last here."""
    if x.size:
        return tuple(s // x.itemsize for s in x.strides)
    return strides("stride", x.shape, format_of_empty(x))


def format_of_empty(x: np.ndarray):
    """The format an empty array was made in: channels-last where its strides are exactly those (only ``empty``
    here makes them; numpy's own are all 0), else contiguous."""
    steps = tuple(s // x.itemsize for s in x.strides)
    for fmt in (channels_last, channels_last_3d):
        if x.ndim == _RANK[fmt] and any(steps) and steps == strides("stride", x.shape, fmt):
            return fmt
    return contiguous_format


def is_contiguous(shape, steps, fmt) -> bool:
    """PyTorch's ``is_contiguous(memory_format=fmt)`` of a tensor with these sizes and strides: dense in the
    format's order, a size-1 dim's stride not looked at (preserve_format asks the contiguous question)."""
    order: Sequence[int]
    if fmt is contiguous_format or fmt is preserve_format:
        order = range(len(shape) - 1, -1, -1)
        if 0 in shape:
            return True
    elif len(shape) == _RANK[fmt]:
        order = _INNERMOST_FIRST[fmt]
    else:
        return False
    expected = 1
    for d in order:
        if shape[d] != 1:
            if steps[d] != expected:
                return False
            expected *= shape[d]
    return True


def suggest(shape, steps):
    """PyTorch's ``suggest_memory_format()``: the channels-last format whose order the strides follow (c10's
    is_channels_last_strides_2d/3d, which falls back to contiguous where the order is ambiguous), else
    contiguous."""
    fmt = {4: channels_last, 5: channels_last_3d}.get(len(shape))
    if fmt is None or steps[1] == 0:
        return contiguous_format
    least = 0
    for d in _INNERMOST_FIRST[fmt]:
        if shape[d] == 0 or steps[d] < least:
            return contiguous_format
        if d == 0 and least == steps[1]:  # N111 with equal strides: ambiguous, NCHW by default
            return contiguous_format
        least = steps[d] * shape[d] if shape[d] > 1 else steps[d]
    return fmt


def is_non_overlapping_and_dense(shape, steps) -> bool:
    """PyTorch's ``is_non_overlapping_and_dense``: some order of the dims is row-major (size-1 dims aside)."""
    steps_of_long_dims = sorted((s, n) for n, s in zip(shape, steps) if n >= 2)
    expected = 1
    for step, n in steps_of_long_dims:
        if step != expected:
            return False
        expected *= n
    return True


def obeying_layout(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A leaf's first gradient ``g`` laid out by PyTorch's layout contract (AccumulateGrad's
    ``clone_obey_contract``): with ``x``'s strides where ``x`` is dense, else row-major; ``g`` itself where it
    already is (a size-1 dim's stride not counting)."""
    if not x.size:
        return g
    if is_non_overlapping_and_dense(x.shape, visible_strides(x)):
        if all(n == 1 or a == b for n, a, b in zip(x.shape, g.strides, x.strides)):
            return g
        out = np.empty_like(x, dtype=g.dtype)  # order "K": x's strides, x being dense
    elif g.flags.c_contiguous:
        return g
    else:
        out = np.empty(x.shape, g.dtype)
    out[...] = g
    return out


def follow_channels_last(out: np.ndarray, *inputs: np.ndarray, every: bool = False) -> np.ndarray:
    """``out`` (4-d or 5-d) laid out channels-last where one of ``inputs`` of its rank (``every``: each of them)
    suggests that format (``channels_last``, ``channels_last_3d``), as PyTorch's CPU convolution, pooling and
    ``cat`` kernels write their results (``suggest_memory_format`` of the input, or the weight's for a
    convolution); else ``out`` as it is."""
    fmt = {4: channels_last, 5: channels_last_3d}.get(out.ndim)
    if fmt is None or is_contiguous(out.shape, visible_strides(out), fmt):
        return out
    suggested = (x.ndim == out.ndim and suggest(x.shape, visible_strides(x)) is fmt for x in inputs)
    if all(suggested) if every else any(suggested):
        return copy("follow_channels_last", out, fmt)
    return out
