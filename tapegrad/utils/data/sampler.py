"""Samplers (``torch.utils.data.sampler``): which indices a DataLoader fetches, in which order.

Every sampler is lazy and streaming, as PyTorch's: iterating ``RandomSampler(ds, replacement=True,
num_samples=int(1e10))`` (the "infinite loader" idiom) draws its indices as it goes, a chunk at a time, and never
holds the epoch's indices. Samplers without replacement hold one permutation of the dataset (PyTorch's too).

Besides ``__iter__`` (Python ints, one by one), the built-in samplers hand the DataLoader the same indices as
numpy arrays (``_chunks``), so that its fast path gathers each batch with one fancy index. A subclass that
overrides ``__iter__`` is always iterated through its own ``__iter__``.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar, cast

import numpy as np

from ... import random as _random
from ..._tensor import Tensor
from ...creation import as_tensor

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
           "WeightedRandomSampler"]

_T_co = TypeVar("_T_co", covariant=True)

# NOTE: indices are drawn this many at a time (PyTorch draws 32 at a time with replacement): big enough that
# numpy's per-call cost vanishes (~0.02 us per index), small enough that the first batch comes at once (64 KiB).
_CHUNK = 8192


class Sampler(Generic[_T_co]):
    """Sampler: iterates over dataset indices (or batches of them). Subclasses define ``__iter__`` and usually
    ``__len__``.

    >>> class Backwards(Sampler[int]):
    ...     def __init__(self, n): self.n = n
    ...     def __iter__(self): return iter(range(self.n - 1, -1, -1))
    ...     def __len__(self): return self.n
    >>> list(Backwards(3))
    [2, 1, 0]
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass  # PyTorch < 2.2 took (and ignored) data_source; scripts still pass it to super().__init__

    def __iter__(self) -> Iterator[_T_co]:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Sampler should define __iter__")

    # NOTE: no default __len__, as in PyTorch (list() and len() fall back or fail as they should without one).


def _index_chunks(sampler, size=_CHUNK):
    """The sampler's indices as lazily drawn int arrays (of about ``size`` each), or None if only its
    ``__iter__`` can say (any iterable, or a subclass that overrides ``__iter__``)."""
    kind = type(sampler)
    for klass in kind.__mro__:
        if "_chunks" in klass.__dict__:
            return sampler._chunks(size) if kind.__iter__ is klass.__dict__["__iter__"] else None
    return None


def _ints(chunks):
    for chunk in chunks:
        yield from chunk.tolist()


def _check_num_samples(op, num_samples):
    if not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, bool) or num_samples <= 0:
        raise ValueError(f"{op}: num_samples should be a positive integer value, got num_samples={num_samples!r}")


class SequentialSampler(Sampler[int]):
    """SequentialSampler(data_source): indices 0, 1, ..., len(data_source) - 1.

    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def _chunks(self, size):
        n = len(self.data_source)
        return (np.arange(start, min(start + size, n)) for start in range(0, n, size))


class RandomSampler(Sampler[int]):
    """RandomSampler(data_source, replacement=False, num_samples=None, generator=None): shuffled indices.

    Without replacement each pass over the data is a new permutation (``num_samples`` may span several passes);
    with replacement indices are drawn uniformly as the iteration goes, so ``num_samples=int(1e10)`` costs no
    memory. With ``generator=None`` each iteration draws one seed from the default generator (so
    ``manual_seed`` makes the order reproducible) and then draws from a generator of its own, as PyTorch does:
    random ops run between batches do not change the order.

    >>> import tapegrad as tg
    >>> sorted(RandomSampler(range(4), generator=tg.Generator().manual_seed(0)))
    [0, 1, 2, 3]
    >>> it = iter(RandomSampler(range(10), replacement=True, num_samples=int(1e10)))
    >>> all(0 <= next(it) < 10 for _ in range(5))
    True
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator=None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, got {replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_num_samples("RandomSampler", self.num_samples)

    @property
    def num_samples(self) -> int:
        # the dataset's size may change at run time
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        return _ints(self._chunks(_CHUNK))

    def __len__(self) -> int:
        return self.num_samples

    def _chunks(self, size):
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError(f"RandomSampler: cannot draw {k} samples from an empty data_source")
        return self._draw(n, k, size)

    def _draw(self, n, k, size):
        rng = _own_rng(self.generator)
        if self.replacement:
            full, rest = divmod(k, size)
            for _ in range(full):
                yield rng.integers(0, n, size=size)
            if rest:
                yield rng.integers(0, n, size=rest)
            return
        while k > 0:  # one permutation per pass over the data, the last pass cut short
            perm, take = rng.permutation(n), min(n, k)
            for start in range(0, take, size):
                yield perm[start:min(start + size, take)]
            k -= take


def _own_rng(generator):
    """``generator``'s numpy Generator; without one, a new one seeded by one draw from the default generator."""
    if generator is not None:
        return _random.rng(generator)
    seed = int(_random.rng(None).integers(0, 2**63 - 1, endpoint=True))
    return np.random.default_rng(seed)  # what Generator().manual_seed(seed) holds, without drawing OS entropy first


class SubsetRandomSampler(Sampler[int]):
    """SubsetRandomSampler(indices, generator=None): the given indices in a random order, without replacement.

    >>> import tapegrad as tg
    >>> sorted(SubsetRandomSampler([5, 1, 3], generator=tg.Generator().manual_seed(0)))
    [1, 3, 5]
    """

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        indices = self.indices
        perm = _random.rng(self.generator).permutation(len(indices))
        for start in range(0, perm.size, _CHUNK):
            for i in perm[start:start + _CHUNK].tolist():
                yield indices[i]

    def __len__(self) -> int:
        return len(self.indices)

    def _chunks(self, size):
        try:
            idx = _index_array(self.indices)
        except (TypeError, ValueError):
            return None  # not ints (keys of a dict-like dataset, say): iterate them one by one

        def draw():
            perm = _random.rng(self.generator).permutation(idx.size)
            for start in range(0, idx.size, size):
                yield idx[perm[start:start + size]]

        return draw()


def _index_array(indices):
    arr = np.asarray(indices.detach().numpy() if isinstance(indices, Tensor) else indices)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError("not a 1-d sequence of ints")
    return arr.astype(np.intp, copy=False)


class WeightedRandomSampler(Sampler[int]):
    """WeightedRandomSampler(weights, num_samples, replacement=True, generator=None): index i drawn with
    probability proportional to ``weights[i]``.

    With replacement the indices are drawn lazily, a chunk at a time (with ``generator=None`` from a generator
    seeded by one draw of the default generator, as ``RandomSampler``); without replacement all
    ``num_samples`` (at most ``len(weights)``) are drawn when the iteration starts.

    >>> import tapegrad as tg
    >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3, generator=tg.Generator().manual_seed(0)))
    [1, 1, 1]
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        _check_num_samples("WeightedRandomSampler", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean, got {replacement!r}")
        w = np.asarray(weights.detach().numpy() if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be 1-d, got shape {tuple(w.shape)}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                             f"from {np.count_nonzero(w)} indices of nonzero weight")
        self.weights = as_tensor(w)
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        return _ints(self._chunks(_CHUNK))

    def __len__(self) -> int:
        return self.num_samples

    def _chunks(self, size):
        w = self.weights.numpy()
        if not self.replacement:
            return self._without_replacement(w, size)
        return self._with_replacement(w, size)

    def _with_replacement(self, w, size):
        rng = _own_rng(self.generator)
        cdf = w.cumsum()
        cdf /= cdf[-1]  # NOTE: ends at exactly 1, so every uniform draw in [0, 1) lands on a nonzero weight
        full, rest = divmod(self.num_samples, size)
        for m in itertools.chain(itertools.repeat(size, full), [rest] if rest else []):
            yield np.searchsorted(cdf, rng.random(m), side="right")

    def _without_replacement(self, w, size):
        drawn = _random.rng(self.generator).choice(w.size, size=self.num_samples, replace=False, p=w / w.sum())
        for start in range(0, drawn.size, size):
            yield drawn[start:start + size]


class BatchSampler(Sampler[list]):
    """BatchSampler(sampler, batch_size, drop_last): lists of ``batch_size`` indices from ``sampler`` (any
    iterable of indices), built as the iteration goes; with ``drop_last`` a short last batch is left out.

    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=True))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    """

    sampler: Sampler[int] | Iterable[int]
    batch_size: int
    drop_last: bool

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean, got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        arrays = self._batch_arrays()
        if arrays is not None:
            for batch in arrays:
                yield batch.tolist()
            return
        it, bs = iter(self.sampler), self.batch_size
        if self.drop_last:
            for batch in zip(*[it] * bs, strict=False):
                yield [*batch]
            return
        batch = [*itertools.islice(it, bs)]
        while batch:
            yield batch
            batch = [*itertools.islice(it, bs)]

    def __len__(self) -> int:
        n = len(cast(Sized, self.sampler))  # as PyTorch: a sampler without __len__ raises TypeError here
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batch_arrays(self):
        """The batches as int arrays, cut from the sampler's chunks; None if the sampler has none."""
        bs = self.batch_size
        chunks = _index_chunks(self.sampler, bs * -(-_CHUNK // bs))  # whole batches per chunk
        return None if chunks is None else _cut(chunks, bs, self.drop_last)


def _cut(chunks, bs, drop_last):
    pieces, held = [], 0  # the tail of earlier chunks, not yet a whole batch
    for chunk in chunks:
        start = 0
        if held:
            start = min(bs - held, chunk.size)
            pieces.append(chunk[:start])
            held += start
            if held < bs:
                continue
            yield np.concatenate(pieces)
            pieces, held = [], 0
        stop = start + (chunk.size - start) // bs * bs
        for s in range(start, stop, bs):
            yield chunk[s:s + bs]
        if stop < chunk.size:
            pieces, held = [chunk[stop:]], chunk.size - stop
    if held and not drop_last:
        yield np.concatenate(pieces)
