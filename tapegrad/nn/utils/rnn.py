"""Variable-length sequences for the recurrent layers (``torch.nn.utils.rnn``).

A batch of sequences of different lengths is either *padded* into one (T, B, *) tensor (``pad_sequence``), or
*packed* (``pack_padded_sequence``, ``pack_sequence``) into a ``PackedSequence``: the time steps one after the
other, each holding only the sequences still running at that step (sorted by decreasing length), which is the
layout the recurrent layers compute on, so padded steps never reach a sequence's final state.

Every function is differentiable with respect to the sequences' values: packing gathers rows with one index
(``data = input[t, b]``), unpacking gathers them back with one index into the packed rows plus a padding row.

    >>> import tapegrad as tg
    >>> from tapegrad.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> packed = pack_sequence([tg.tensor([1, 2, 3]), tg.tensor([4, 5]), tg.tensor([6])])
    >>> packed.data, packed.batch_sizes
    (tensor([1, 4, 6, 2, 5, 3]), tensor([3, 2, 1]))
    >>> pad_packed_sequence(packed, batch_first=True)[0]
    tensor([[1, 2, 3],
            [4, 5, 0],
            [6, 0, 0]])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from tapegrad import dtypes
from tapegrad.autograd.declare import Tensor, wrap
from tapegrad.creation import as_tensor, full
from tapegrad.ops.shape import cat

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """PackedSequence(data, batch_sizes=None, sorted_indices=None, unsorted_indices=None): a packed batch.

    A named tuple: ``data`` holds the time steps one after the other, each with the sequences still running
    (``batch_sizes[t]`` rows at step t, an int64 tensor); ``sorted_indices`` is the order of the batch's
    sequences by decreasing length (None if they came sorted) and ``unsorted_indices`` its inverse. Made by
    ``pack_padded_sequence`` and ``pack_sequence``; every recurrent layer takes one and returns one.

    >>> import tapegrad as tg
    >>> from tapegrad.nn.utils.rnn import pack_sequence
    >>> pack_sequence([tg.tensor([1, 2]), tg.tensor([3])])
    PackedSequence(data=tensor([1, 3, 2]), batch_sizes=tensor([2, 1]), sorted_indices=None, unsorted_indices=None)
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), sorted_indices=...)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """to(dtype) / to(device): ``data`` converted (``self`` if nothing changes); the sizes and indices stay
        int64."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda")  # raises: tapegrad runs on the CPU only

    def cpu(self, *args, **kwargs) -> PackedSequence:
        return self

    def pin_memory(self) -> PackedSequence:
        return self  # nothing to pin without an accelerator

    def double(self) -> PackedSequence:
        return self.to(dtype=dtypes.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=dtypes.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=dtypes.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=dtypes.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=dtypes.int32)

    def short(self) -> PackedSequence:
        return self.to(dtype=dtypes.int16)

    def char(self) -> PackedSequence:
        return self.to(dtype=dtypes.int8)

    def byte(self) -> PackedSequence:
        return self.to(dtype=dtypes.uint8)

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """invert_permutation(permutation) -> the inverse permutation (None for None).

    >>> import tapegrad as tg
    >>> invert_permutation(tg.tensor([2, 0, 1]))
    tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    p = _array(permutation)
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return wrap(out)


def _array(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, Tensor) else np.asarray(t)


def _long(values) -> Tensor:
    return wrap(np.ascontiguousarray(values, dtype=np.int64))


def _sizes_of(lengths: np.ndarray) -> np.ndarray:
    """batch_sizes from lengths sorted in decreasing order: how many sequences run at each step."""
    steps = np.arange(int(lengths[0]) if lengths.size else 0)
    return (lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def _packed_rows(batch_sizes: np.ndarray):
    """For every packed row: its time step and its position in the batch."""
    t = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]]).astype(np.int64)
    return t, np.arange(t.size) - np.repeat(offsets, batch_sizes)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True) -> PackedSequence.

    ``input`` is (T, B, *) (``batch_first``: (B, T, *)) with sequence b in its first ``lengths[b]`` steps.
    With ``enforce_sorted`` the lengths must be decreasing; otherwise the batch is sorted by decreasing
    length (stably) and the order kept in ``sorted_indices``.

    >>> import tapegrad as tg
    >>> pack_padded_sequence(tg.tensor([[1, 2], [3, 0]]), [2, 1]).data
    tensor([1, 2, 3])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: expected a Tensor as input, got {type(input).__name__}")
    if input.ndim < 2:
        layout = "B, T, *" if batch_first else "T, B, *"
        raise RuntimeError(f"pack_padded_sequence: expected an input of at least 2 dimensions ({layout}), got "
                           f"shape {tuple(input.shape)}")
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D cpu "
                               f"{lengths.dtype} tensor")
        lengths_np = _array(lengths).astype(np.int64)
    else:
        lengths_np = np.asarray(lengths, dtype=np.int64).reshape(-1)
    batch_dim = 0 if batch_first else 1
    sorted_indices = None
    if enforce_sorted:
        if np.any(lengths_np[1:] > lengths_np[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order = None
    else:
        order = np.argsort(-lengths_np, kind="stable")
        lengths_np = lengths_np[order]
        sorted_indices = _long(order)
    batch = input.shape[batch_dim]
    if lengths_np.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lengths_np.size} "
                           f"(batch_size={batch})")
    if lengths_np.size and lengths_np.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    steps = input.shape[1 - batch_dim]
    if lengths_np.size and lengths_np[0] > steps:
        raise RuntimeError(f"pack_padded_sequence: the longest length {int(lengths_np[0])} exceeds the input's "
                           f"{steps} time steps (input of shape {tuple(input.shape)})")
    batch_sizes = _sizes_of(lengths_np)
    t, b = _packed_rows(batch_sizes)
    if order is not None:
        b = order[b]
    index = (_long(b), _long(t)) if batch_first else (_long(t), _long(b))
    return PackedSequence(input[index], _long(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None) -> (padded, lengths).

    The inverse of ``pack_padded_sequence``: (T, B, *) (``batch_first``: (B, T, *)) in the batch's original
    order, padded with ``padding_value`` to the longest length or to ``total_length``; ``lengths`` is int64.

    >>> import tapegrad as tg
    >>> packed = pack_padded_sequence(tg.tensor([[1, 2], [3, 0]]), [2, 1])
    >>> pad_packed_sequence(packed, padding_value=-1)
    (tensor([[ 1,  2],
            [ 3, -1]]), tensor([2, 1]))
    """
    data, batch_sizes = sequence.data, _array(sequence.batch_sizes).astype(np.int64)
    max_seq_length = batch_sizes.size
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {max_seq_length}")
        max_seq_length = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    n = data.shape[0]
    index = np.full((max_seq_length, batch), n, dtype=np.int64)  # row n: the padding
    t, b = _packed_rows(batch_sizes)
    index[t, b] = np.arange(n)
    lengths = (index < n).sum(axis=0)
    if sequence.unsorted_indices is not None:
        unsorted = _array(sequence.unsorted_indices)
        index, lengths = index[:, unsorted], lengths[unsorted]
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    rows = cat([data, pad])
    padded = rows[_long(index.T if batch_first else index)]
    return padded, _long(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side='right') -> Tensor.

    Stack sequences of shape (L_b, *) into (T, B, *) (``batch_first``: (B, T, *)), T the longest length,
    padding with ``padding_value`` on the right (or left) of each. The result has the first sequence's dtype.

    >>> import tapegrad as tg
    >>> pad_sequence([tg.tensor([1, 2, 3]), tg.tensor([4])], batch_first=True, padding_side="left")
    tensor([[1, 2, 3],
            [0, 0, 4]])
    """
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    sequences = tuple(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    for k, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: expected a sequence of Tensors, got {type(s).__name__} at position {k}")
        if s.ndim == 0:
            raise RuntimeError(f"pad_sequence: expected sequences of at least 1 dimension (L, *), got a 0-d tensor "
                               f"at position {k}")
        if tuple(s.shape[1:]) != tuple(sequences[0].shape[1:]):
            raise RuntimeError(f"pad_sequence: every sequence must have the trailing shape "
                               f"{tuple(sequences[0].shape[1:])} of the first, got {tuple(s.shape)} at position {k}")
    dtype = sequences[0].dtype
    sequences = [s if s.dtype == dtype else s.to(dtype) for s in sequences]
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps = int(lengths.max())
    n = int(lengths.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(steps)[:, None]  # (T, 1)
    shift = steps - lengths if padding_side == "left" else np.zeros_like(lengths)
    element = position - shift[None, :]  # the element of each sequence at each padded position
    index = np.where((element >= 0) & (element < lengths[None, :]), starts[None, :] + element, n)
    pad = full((1,) + tuple(sequences[0].shape[1:]), padding_value, dtype=dtype)
    rows = cat(list(sequences) + [pad])
    return rows[_long(index.T if batch_first else index)]


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """unpad_sequence(padded_sequences, lengths, batch_first=False) -> list of the sequences (copies).

    The inverse of ``pad_sequence`` with right padding. (PyTorch's also transposes a time-major input in place
    as a side effect; tapegrad leaves the input as it was.)

    >>> import tapegrad as tg
    >>> unpad_sequence(tg.tensor([[1, 2], [3, 0]]), tg.tensor([2, 1]))
    [tensor([1, 3]), tensor([2])]
    """
    lengths = _array(lengths).astype(np.int64).reshape(-1)
    seqs = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    if lengths.size != seqs.shape[0]:
        raise RuntimeError(f"unpad_sequence: got {lengths.size} lengths for a batch of {seqs.shape[0]} sequences")
    return [seq[_long(np.arange(min(int(n), seq.shape[0])))] for seq, n in zip(seqs.unbind(0), lengths)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """pack_sequence(sequences, enforce_sorted=True) -> PackedSequence: ``pad_sequence`` then
    ``pack_padded_sequence`` of sequences of shape (L_b, *).

    >>> import tapegrad as tg
    >>> pack_sequence([tg.tensor([1]), tg.tensor([2, 3])], enforce_sorted=False).data
    tensor([2, 1, 3])
    """
    sequences = list(sequences)
    lengths = as_tensor([s.size(0) for s in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """unpack_sequence(packed_sequences) -> the list of sequences, in their original order.

    >>> import tapegrad as tg
    >>> unpack_sequence(pack_sequence([tg.tensor([1, 2]), tg.tensor([3])]))
    [tensor([1, 2]), tensor([3])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
