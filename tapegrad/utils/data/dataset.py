"""Datasets (``torch.utils.data.dataset``): Dataset, IterableDataset, TensorDataset, StackDataset, ConcatDataset,
ChainDataset, Subset, random_split.

``TensorDataset``, ``Subset`` and ``ConcatDataset`` also hand a whole batch out with one fancy index per tensor
(``_gather``), which the DataLoader uses instead of one ``__getitem__`` per sample whenever the default
``collate_fn`` is used and ``__getitem__`` is not overridden (see ``_can_gather``).
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Sequence, Sized
from typing import Any, Generic, TypeVar, cast

import numpy as np

from ... import random as _random
from ..._tensor import Tensor
from ...creation import as_tensor, from_numpy

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset", "ChainDataset",
           "Subset", "random_split"]

_T_co = TypeVar("_T_co", covariant=True)


class Dataset(Generic[_T_co]):
    """Dataset: a map-style dataset; subclasses define ``__getitem__(index)`` and ``__len__()``.

    They may also define ``__getitems__(indices)`` (a list of samples for a list of indices), which the
    DataLoader then calls once per batch. ``a + b`` concatenates two datasets (a ``ConcatDataset``).

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return i * i
    >>> len(Squares() + Squares())
    8
    """

    def __getitem__(self, index) -> _T_co:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should define __getitem__")

    # NOTE: no default __getitems__ (the DataLoader looks for it) and no default __len__ (list() and samplers
    # ask for it, and an inherited one that raises would break their fallbacks), as in PyTorch.

    def __add__(self, other: Dataset[_T_co]) -> ConcatDataset[_T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[_T_co]):
    """IterableDataset: a stream of samples; subclasses define ``__iter__``. ``a + b`` chains two of them.

    With ``num_workers > 0`` every worker process iterates its own copy of the dataset: use
    ``get_worker_info()`` in ``__iter__`` (or in ``worker_init_fn``) to give each worker its share.

    >>> class Count(IterableDataset):
    ...     def __iter__(self): return iter(range(5))
    >>> from tapegrad.utils.data import DataLoader
    >>> [b.tolist() for b in DataLoader(Count(), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    >>> list(Count() + Count())[3:7]
    [3, 4, 0, 1]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: an IterableDataset must define __iter__")

    def __add__(self, other: Dataset[_T_co]) -> ChainDataset:  # type: ignore[override]  # PyTorch's API: chains
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple]):
    """TensorDataset(*tensors): sample ``i`` is ``(t[i] for t in tensors)``; the first dimensions must agree.

    Numpy arrays are accepted and wrapped as tensors without a copy.

    >>> import tapegrad as tg
    >>> ds = TensorDataset(tg.zeros(5, 3), tg.arange(5))
    >>> len(ds), ds[2][1].item()
    (5, 2)
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in tensors)
        for t in tensors:
            if t.dim() == 0:
                raise ValueError("TensorDataset: every tensor needs a first (sample) dimension, got 0-d")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} differ "
                             f"(shapes {shapes})")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _gather(self, indices):
        """The collated batch at ``indices`` (an int array): one fancy index per tensor."""
        return [_take(t, indices) for t in self.tensors]


def _take(t, indices):
    if t.requires_grad:
        return t[indices]  # recorded, as a per-sample index then stack would be
    return from_numpy(t.numpy()[indices])


class StackDataset(Dataset):
    """StackDataset(*datasets) or StackDataset(**datasets): sample ``i`` is the tuple (or dict) of every
    dataset's sample ``i``; the lengths must agree.

    >>> s = StackDataset(image=range(3), label=range(10, 13))
    >>> s[1], len(s)
    ({'image': 1, 'label': 11}, 3)
    >>> StackDataset(range(3), "abc")[2]
    (2, 'c')
    """

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: supported either tuple-like (via args) or dict-like (via kwargs) "
                             "input/output, but both types are given")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        lengths = [len(cast(Sized, d)) for d in parts]
        if any(n != lengths[0] for n in lengths):
            names = list(kwargs) if kwargs else list(range(len(args)))
            raise ValueError(f"StackDataset: size mismatch between datasets: lengths "
                             f"{dict(zip(names, lengths, strict=True))}")
        self._length = lengths[0]
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: dataset[index] for k, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list) -> list:
        named = isinstance(self.datasets, dict)
        items: Iterable[tuple[str | int, Dataset]]
        items = self.datasets.items() if isinstance(self.datasets, dict) else enumerate(self.datasets)
        columns: dict[str | int, Sequence[Any]] = {}
        for key, dataset in items:
            getitems: Callable[[list], Sequence[Any]] | None = getattr(dataset, "__getitems__", None)
            if callable(getitems):
                column = getitems(indices)
                if len(column) != len(indices):
                    raise ValueError(f"StackDataset: nested dataset {key!r}'s __getitems__ returned "
                                     f"{len(column)} samples for {len(indices)} indices")
            else:
                column = [dataset[i] for i in indices]
            columns[key] = column
        if named:
            return [{k: columns[k][j] for k in columns} for j in range(len(indices))]
        return [tuple(columns[k][j] for k in columns) for j in range(len(indices))]

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset[_T_co]):
    """ConcatDataset(datasets): the samples of several datasets one after another.

    >>> import tapegrad as tg
    >>> c = ConcatDataset([TensorDataset(tg.arange(3)), TensorDataset(tg.arange(10, 12))])
    >>> len(c), c[3][0].item(), c.cumulative_sizes
    (5, 10, [3, 5])
    """

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: does not support IterableDataset (got {type(d).__name__}); "
                                "use ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of length {n}")
        if idx < 0:
            idx += n
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]

    def _gather(self, indices):
        """Gather from each part with one fancy index, then put the rows back in the asked order."""
        bounds = np.asarray(self.cumulative_sizes)
        indices = np.where(indices < 0, indices + bounds[-1], indices)
        which = np.searchsorted(bounds, indices, side="right")
        order = np.argsort(which, kind="stable")
        counts = np.bincount(which, minlength=len(self.datasets))
        starts = np.concatenate(([0], bounds[:-1]))
        parts, at = [], 0
        for k in np.flatnonzero(counts):  # a loop over datasets, not samples
            rows = indices[order[at:at + counts[k]]] - starts[k]
            parts.append(self.datasets[k]._gather(rows))
            at += counts[k]
        if len(parts) == 1:
            return parts[0]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        # _can_gather admits no part that requires grad, so numpy() is allowed on every field
        return [from_numpy(np.concatenate([p[f].numpy() for p in parts])[inverse]) for f in range(len(parts[0]))]


class ChainDataset(IterableDataset):
    """ChainDataset(datasets): several IterableDatasets one after another, chained on the fly.

    >>> class Count(IterableDataset):
    ...     def __init__(self, n): self.n = n
    ...     def __iter__(self): return iter(range(self.n))
    ...     def __len__(self): return self.n
    >>> chain = ChainDataset([Count(2), Count(3)])
    >>> list(chain), len(chain)
    ([0, 1, 0, 1, 2], 5)
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            _check_iterable(d)
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            _check_iterable(d)
            total += len(cast(Sized, d))
        return total


def _check_iterable(d):
    if not isinstance(d, IterableDataset):
        raise TypeError(f"ChainDataset: only supports IterableDataset, got {type(d).__name__}")


class Subset(Dataset[_T_co]):
    """Subset(dataset, indices): the samples of ``dataset`` at ``indices``, in that order.

    >>> import tapegrad as tg
    >>> s = Subset(TensorDataset(tg.arange(10)), [7, 3])
    >>> len(s), s[0][0].item()
    (2, 7)
    """

    def __init__(self, dataset: Dataset[_T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._index_cache = (None, None)  # (the indices it was made from, their int array)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        # NOTE: a subclass that overrides __getitem__ (a transform) is honoured here; PyTorch 2.x refuses to
        # construct such a subclass unless it also overrides __getitems__, since its own would bypass it.
        if type(self).__getitem__ is Subset.__getitem__:
            getitems = getattr(self.dataset, "__getitems__", None)
            if callable(getitems):
                return getitems([self.indices[i] for i in indices])
        return [self[i] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def _gather(self, indices):
        source, array = self._index_cache
        if source is not self.indices:
            array = _as_index_array("Subset", self.indices)
            self._index_cache = (self.indices, array)
        return self.dataset._gather(array[indices])

    def __getstate__(self):  # the cache is rebuilt on demand (and holds a reference to the indices)
        state = self.__dict__.copy()
        state["_index_cache"] = (None, None)
        return state


def _can_gather(dataset) -> bool:
    """Whether ``dataset`` can hand out a whole collated batch with fancy indexing (the fast path).

    Not for subclasses that override ``__getitem__`` (e.g. to add a transform): their samples come from it.
    """
    kind = type(dataset)
    if kind.__getitem__ is not _OWN_GETITEM.get(_base(kind)):
        return False
    if isinstance(dataset, TensorDataset):
        return True
    if isinstance(dataset, Subset):
        return _can_gather(dataset.dataset)
    if isinstance(dataset, ConcatDataset):
        parts = dataset.datasets
        return (all(_can_gather(d) for d in parts) and len({_width(d) for d in parts}) == 1
                and not any(_needs_grad(d) for d in parts))
    return False


def _base(kind):
    for base in (TensorDataset, Subset, ConcatDataset):
        if issubclass(kind, base):
            return base
    return None


_OWN_GETITEM = {TensorDataset: TensorDataset.__getitem__, Subset: Subset.__getitem__,
                ConcatDataset: ConcatDataset.__getitem__}


def _width(dataset):
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return len(dataset.tensors) if isinstance(dataset, TensorDataset) else _width(dataset.datasets[0])


def _needs_grad(dataset):
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset):
        return any(t.requires_grad for t in dataset.tensors)
    return any(_needs_grad(d) for d in dataset.datasets)


def _as_index_array(op, indices):
    arr = np.asarray(indices.detach().numpy() if isinstance(indices, Tensor) else indices)
    if arr.size == 0:
        return arr.astype(np.intp).reshape(-1)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be a 1-d sequence of ints, got {arr.dtype} array of shape "
                        f"{tuple(arr.shape)}")
    return arr.astype(np.intp, copy=False)


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """random_split(dataset, lengths, generator=None): non-overlapping random ``Subset``s of these lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (each split gets
    ``floor(frac * len)``, and the remainder is dealt one by one to the splits in order, as PyTorch does).

    >>> import tapegrad as tg
    >>> a, b = random_split(range(10), [0.7, 0.3], generator=tg.Generator().manual_seed(0))
    >>> len(a), len(b)
    (7, 3)
    """
    lengths = list(lengths)
    n = len(cast(Sized, dataset))
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        counts: list[int] = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {frac}")
            counts.append(math.floor(n * frac))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this split is empty",
                              stacklevel=2)
        lengths = list(counts)
    for i, length in enumerate(lengths):
        if not isinstance(length, numbers.Integral) or length < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, "
                             f"got {lengths[i]!r} at index {i}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} ({list(lengths)}) does not "
                         f"equal the length of the input dataset {n}")
    perm = _random.rng(generator).permutation(n).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, perm[end - c:end]) for end, c in zip(ends, lengths, strict=True)]
