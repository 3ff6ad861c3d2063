"""Datasets and data loading (``torch.utils.data``): Dataset, TensorDataset, Subset, random_split, DataLoader.

    from tapegrad.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
    for xb, yb in loader:
        ...

Batches of a ``TensorDataset`` (or a ``Subset`` or ``ConcatDataset`` of them) are gathered with one fancy
index per tensor per batch instead of one ``__getitem__`` per sample, whenever the default ``collate_fn`` is
used.
``num_workers > 0`` is accepted but batches are made in the main process, in order (numpy releases the GIL
for the work that matters; there is no separate worker process to start or to seed).
"""

import bisect
import collections.abc
import copy
import math
import numbers
import warnings

import numpy as np

from .. import random as _random
from ..autograd.declare import Tensor
from ..autograd.declare import legacy_record as _record
from ..autograd.declare import to_array as _to_array
from ..autograd.declare import wrap as _wrap

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "DataLoader", "default_collate", "default_convert", "get_worker_info"]


# ---------------------------------------------------------------------- datasets
class Dataset:
    """Dataset: a map-style dataset; subclasses define ``__getitem__(index)`` and ``__len__()``.

    ``a + b`` concatenates two datasets (a ``ConcatDataset``).

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return i * i
    >>> len(Squares() + Squares())
    8
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """IterableDataset: a stream of samples; subclasses define ``__iter__`` (DataLoader batches it in order).

    >>> class Count(IterableDataset):
    ...     def __iter__(self): return iter(range(5))
    >>> [b.tolist() for b in DataLoader(Count(), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: an IterableDataset must define __iter__")

    def __add__(self, other):
        raise TypeError("IterableDataset: + (ConcatDataset) needs map-style datasets")


class TensorDataset(Dataset):
    """TensorDataset(*tensors): sample ``i`` is ``(t[i] for t in tensors)``; the first dimensions must agree.

    Numpy arrays are accepted and wrapped as tensors without a copy.

    >>> import tapegrad as tg
    >>> ds = TensorDataset(tg.zeros(5, 3), tg.arange(5))
    >>> len(ds), ds[2][1].item()
    (5, 2)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        tensors = tuple(t if isinstance(t, Tensor) else _wrap(_to_array(t)) for t in tensors)
        for t in tensors:
            if t._data.ndim == 0:
                raise ValueError("TensorDataset: every tensor needs a first (sample) dimension, got 0-d")
        sizes = [t._data.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(tuple(t._data.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} differ "
                             f"(shapes {shapes})")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0]._data.shape[0]

    def _gather(self, indices):
        """The collated batch at ``indices`` (an int array): one fancy index per tensor."""
        return [_take(t, indices) for t in self.tensors]


def _take(t, indices):
    if t.requires_grad:
        return t[indices]  # recorded, as a per-sample index then stack would be
    return _wrap(t._data[indices])


class Subset(Dataset):
    """Subset(dataset, indices): the samples of ``dataset`` at ``indices``, in that order.

    >>> import tapegrad as tg
    >>> s = Subset(TensorDataset(tg.arange(10)), [7, 3])
    >>> len(s), s[0][0].item()
    (2, 7)
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        self._index_cache = (None, None)  # (the indices it was made from, their int array)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        return [self[i] for i in indices]

    def __len__(self):
        return len(self.indices)

    def _gather(self, indices):
        source, array = self._index_cache
        if source is not self.indices:
            array = _as_index_array("Subset", self.indices)
            self._index_cache = (self.indices, array)
        return self.dataset._gather(array[indices])


class ConcatDataset(Dataset):
    """ConcatDataset(datasets): the samples of several datasets one after another.

    >>> import tapegrad as tg
    >>> c = ConcatDataset([TensorDataset(tg.arange(3)), TensorDataset(tg.arange(10, 12))])
    >>> len(c), c[3][0].item(), c.cumulative_sizes
    (5, 10, [3, 5])
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: does not support IterableDataset "
                                f"(got {type(d).__name__})")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
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
        return [_wrap(np.concatenate([p[f]._data for p in parts])[inverse]) for f in range(len(parts[0]))]


def _can_gather(dataset):
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
    arr = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if arr.size == 0:
        return arr.astype(np.intp).reshape(-1)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be a 1-d sequence of ints, got {arr.dtype} array of shape "
                        f"{tuple(arr.shape)}")
    return arr.astype(np.intp, copy=False)


def random_split(dataset, lengths, generator=None):
    """random_split(dataset, lengths, generator=None): non-overlapping random ``Subset``s of these lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (each split gets
    ``floor(frac * len)``, and the remainder is dealt one by one to the splits in order, as PyTorch does).

    >>> import tapegrad as tg
    >>> a, b = random_split(range(10), [0.7, 0.3], generator=tg.Generator().manual_seed(0))
    >>> len(a), len(b)
    (7, 3)
    """
    lengths = list(lengths)
    n = len(dataset)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        counts = []
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
        lengths = counts
    for i, c in enumerate(lengths):
        if not isinstance(c, numbers.Integral) or c < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, "
                             f"got {lengths[i]!r} at index {i}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} ({list(lengths)}) does not "
                         f"equal the length of the input dataset {n}")
    perm = _random.rng(generator).permutation(n).tolist()
    ends = np.cumsum(lengths).tolist()
    return [Subset(dataset, perm[end - c:end]) for end, c in zip(ends, lengths, strict=True)]


# ---------------------------------------------------------------------- samplers
class Sampler:
    """Sampler: iterates over dataset indices. Subclasses define ``__iter__`` (and ``__len__``)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError

    def _order(self):
        """The whole epoch's indices as one int array, or None if this sampler can't say up front."""
        return None


class SequentialSampler(Sampler):
    """SequentialSampler(data_source): indices 0, 1, ..., len - 1.

    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)

    def _order(self):
        return np.arange(len(self.data_source))


class RandomSampler(Sampler):
    """RandomSampler(data_source, replacement=False, num_samples=None, generator=None): shuffled indices.

    Draws from ``generator`` (a ``tapegrad.Generator``) or the default generator, so ``manual_seed`` makes the
    order reproducible. Each iteration draws a new order.

    >>> import tapegrad as tg
    >>> sorted(RandomSampler(range(4), generator=tg.Generator().manual_seed(0)))
    [0, 1, 2, 3]
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, got {replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if (not isinstance(self.num_samples, numbers.Integral) or isinstance(self.num_samples, bool)
                or self.num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"got num_samples={self.num_samples!r}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return self.num_samples

    def _order(self):
        n, k = len(self.data_source), self.num_samples
        rng = _random.rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=k)
        if k == n:
            return rng.permutation(n)
        perms = [rng.permutation(n) for _ in range(-(-k // n))]  # whole epochs, then a part of one
        return np.concatenate(perms)[:k]


class SubsetRandomSampler(Sampler):
    """SubsetRandomSampler(indices, generator=None): the given indices in a random order, without replacement.

    >>> import tapegrad as tg
    >>> sorted(SubsetRandomSampler([5, 1, 3], generator=tg.Generator().manual_seed(0)))
    [1, 3, 5]
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return len(self.indices)

    def _order(self):
        idx = _as_index_array("SubsetRandomSampler", self.indices)
        return idx[_random.rng(self.generator).permutation(idx.size)]


class WeightedRandomSampler(Sampler):
    """WeightedRandomSampler(weights, num_samples, replacement=True, generator=None): index i drawn with
    probability proportional to ``weights[i]``.

    >>> import tapegrad as tg
    >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3, generator=tg.Generator().manual_seed(0)))
    [1, 1, 1]
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer value, "
                             f"got num_samples={num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean, got {replacement!r}")
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be 1-d, got shape {tuple(w.shape)}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                             f"from {np.count_nonzero(w)} indices of nonzero weight")
        self.weights = _wrap(w)
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return self.num_samples

    def _order(self):
        w = self.weights._data
        return _random.rng(self.generator).choice(w.size, size=self.num_samples, replace=self.replacement,
                                                   p=w / w.sum())


class BatchSampler(Sampler):
    """BatchSampler(sampler, batch_size, drop_last): lists of ``batch_size`` indices from ``sampler``.

    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean, got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        return (b.tolist() for b in self._batches())

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batches(self):
        """Batches as int arrays: sliced from one array of the epoch's order when the sampler can give it."""
        order = self.sampler._order() if isinstance(self.sampler, Sampler) else None
        if order is None:
            order = np.fromiter(iter(self.sampler), dtype=np.intp)
        bs = self.batch_size
        stop = (order.size // bs) * bs if self.drop_last else order.size
        return (order[i:i + bs] for i in range(0, stop, bs))


# ---------------------------------------------------------------------- collation
_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                  "found {}")


def default_collate(batch):
    """default_collate(batch): stack a list of samples into a batch, as PyTorch does.

    Tensors and numpy arrays are stacked along a new first dimension; Python floats become a float64 tensor,
    ints an int64 tensor, numpy scalars keep their dtype; strings stay as they are; dicts, tuples and lists
    are collated field by field (tuples come back as lists).

    >>> import tapegrad as tg
    >>> default_collate([(tg.zeros(2), 1), (tg.ones(2), 2)])
    [tensor([[0., 0.],
            [1., 1.]]), tensor([1, 2])]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b if isinstance(b, Tensor) else _wrap(_to_array(b)) for b in batch])
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        return _stack([_wrap(np.asarray(b)) for b in batch])
    if isinstance(elem, (np.bool_, np.number)):
        return _wrap(np.array(batch))
    if isinstance(elem, float):
        return _wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):
        return _wrap(_to_array(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(fields)
            return clone
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = [len(b) for b in batch]
        if any(s != sizes[0] for s in sizes):
            raise RuntimeError(f"default_collate: each element in list of batch should be of equal size, "
                               f"got sizes {sizes}")
        fields = [default_collate(s) for s in zip(*batch, strict=True)]
        if isinstance(elem, tuple):
            return fields  # as PyTorch: tuples become lists
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def _stack(tensors):
    shapes = [t._data.shape for t in tensors]
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                               f"{tuple(shapes[0])} at entry 0 and {tuple(s)} at entry {i}")
    out = np.stack([t._data for t in tensors])
    if not any(t.requires_grad for t in tensors):
        return _wrap(out)
    n = len(tensors)

    def backward(xp, g, out, *parents):
        return tuple(g[i] for i in range(n))

    return _record(out, tuple(tensors), backward)


def default_convert(data):
    """default_convert(data): numpy arrays and scalars to tensors, inside dicts, tuples and lists too.

    What DataLoader applies to each sample when ``batch_size=None`` (no batching).

    >>> import numpy as np
    >>> default_convert({"x": np.zeros(2)})["x"].dtype
    dtype('float64')
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind not in "biuf" else _wrap(data)
    if isinstance(data, (np.bool_, np.number)):
        return _wrap(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        fields = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return [default_convert(d) for d in data]  # as PyTorch: tuples become lists
    return data


def get_worker_info():
    """get_worker_info(): None, as in the main process (tapegrad's DataLoader starts no worker processes)."""
    return None


# ---------------------------------------------------------------------- the loader
class DataLoader:
    """DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
    collate_fn=None, drop_last=False, generator=None): iterate over a dataset in (shuffled) batches.

    ``shuffle=True`` draws a new order each epoch from ``generator`` (or the default generator), so a seed
    reproduces it. ``batch_size=None`` turns batching off (each sample is yielded as is, numpy converted to
    tensors). ``num_workers > 0`` is accepted for compatibility and runs in the main process.

    >>> import tapegrad as tg
    >>> loader = DataLoader(TensorDataset(tg.arange(5)), batch_size=2)
    >>> len(loader), [b[0].tolist() for b in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers!r}; "
                             "use num_workers=0 to disable multiprocessing")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler and "
                                 "batch_sampler options")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 f"shuffle, sampler, and drop_last (got batch_size={batch_size}, "
                                 f"shuffle={shuffle}, sampler={sampler}, drop_last={drop_last})")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and self._iterable:
            BatchSampler(range(0), batch_size, drop_last)  # validates batch_size and drop_last
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_size is not None or batch_sampler is not None else default_convert)
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def __iter__(self):
        if self.num_workers > 0 and self.worker_init_fn is not None:
            self.worker_init_fn(0)
        if self._iterable:
            return self._iter_stream()
        if not self._auto_collation:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._iter_batches()

    def _iter_batches(self):
        bs = self.batch_sampler
        if isinstance(bs, BatchSampler):
            batches = bs._batches()
        else:
            batches = (np.asarray(b, dtype=np.intp).reshape(-1) for b in bs)
        dataset, collate = self.dataset, self.collate_fn
        if collate is default_collate and _can_gather(dataset):
            for idx in batches:
                try:
                    batch = dataset._gather(idx)
                except IndexError:
                    n = len(dataset)
                    bad = idx[(idx < -n) | (idx >= n)]
                    raise IndexError(f"DataLoader: batch index {bad[0] if bad.size else idx} is out of range "
                                     f"for a dataset of length {n}") from None
                yield batch
            return
        getitems = getattr(dataset, "__getitems__", None)
        for idx in batches:
            idx = idx.tolist()
            yield collate(getitems(idx) if getitems else [dataset[i] for i in idx])

    def _iter_stream(self):
        it = iter(self.dataset)
        if self.batch_size is None:
            yield from (self.collate_fn(x) for x in it)
            return
        while True:
            batch = [x for _, x in zip(range(self.batch_size), it, strict=False)]
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)
