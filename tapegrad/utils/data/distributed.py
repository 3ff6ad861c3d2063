"""DistributedSampler (``torch.utils.data.distributed``): each of ``num_replicas`` processes reads its own share."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized
from typing import cast

import numpy as np

from .dataset import Dataset
from .sampler import Sampler, _ints

__all__ = ["DistributedSampler"]


def _distributed():
    """``tapegrad.distributed`` if this build has it (imported lazily: nothing here needs it otherwise)."""
    try:
        from ... import distributed
    except ImportError:
        return None
    return distributed


def _default_group(what):
    dist = _distributed()
    if dist is None or not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    if hasattr(dist, "is_initialized") and not dist.is_initialized():
        raise ValueError(f"DistributedSampler: {what}=None reads the default process group, which has not been "
                         "initialized; call tapegrad.distributed.init_process_group first, or pass "
                         "num_replicas and rank")
    return dist


class DistributedSampler(Sampler):
    """DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False): the
    indices of one process (``rank``) of ``num_replicas``.

    The epoch's order (a permutation seeded by ``seed + epoch`` when shuffling, else 0, 1, ...) is padded by
    repeating its start until it divides evenly (or, with ``drop_last``, its tail is cut), and rank ``r`` takes
    every ``num_replicas``-th index from position ``r``, as PyTorch does. Call ``set_epoch(epoch)`` before each
    epoch to reshuffle. ``num_replicas``/``rank`` default to the world size and rank of
    ``tapegrad.distributed``'s default process group.

    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False, drop_last=True))
    [1, 3]
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = _default_group("num_replicas").get_world_size()
        if rank is None:
            rank = _default_group("rank").get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(cast(Sized, dataset))  # a map-style dataset defines __len__
        if drop_last and n % num_replicas != 0:
            # the nearest length that divides evenly, so that every rank gets as many samples
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        return _ints(self._chunks(None))

    def _chunks(self, size):
        n = len(self.dataset)
        if self.shuffle:  # deterministic in seed and epoch, so every rank draws the same permutation
            indices = np.random.default_rng(int(self.seed + self.epoch)).permutation(n)  # = Generator().manual_seed
        else:
            indices = np.arange(n)
        if not self.drop_last:  # pad by repeating the start, as many times as needed
            padding = self.total_size - n
            if padding > 0:
                indices = np.concatenate([indices, np.resize(indices, padding)])
        else:
            indices = indices[:self.total_size]
        if indices.size != self.total_size:
            raise AssertionError(f"DistributedSampler: {indices.size} indices, expected {self.total_size}")
        own = indices[self.rank:self.total_size:self.num_replicas]
        if own.size != self.num_samples:
            raise AssertionError(f"DistributedSampler: {own.size} indices for rank {self.rank}, expected "
                                 f"{self.num_samples}")
        return iter([own]) if size is None else (own[i:i + size] for i in range(0, own.size, size))

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """set_epoch(epoch): reshuffle for this epoch (every rank must call it with the same epoch)."""
        self.epoch = epoch
