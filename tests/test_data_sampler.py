"""tapegrad.utils.data.sampler and .distributed: lazy, streaming samplers, their lengths, generators, the arrays
the DataLoader's fast path takes from them, and DistributedSampler's padding and striding (against PyTorch)."""

import collections
import itertools
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

HUGE = int(1e10)  # the "infinite loader" idiom: 74.5 GiB of int64 indices if they were made up front


def _traced_peak(fn):
    """Peak bytes allocated (numpy's arrays included) while fn runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------- lazy and streaming
@pytest.mark.parametrize("make", [
    lambda: RandomSampler(range(10), replacement=True, num_samples=HUGE),
    lambda: RandomSampler(range(1000), num_samples=HUGE),  # many passes, one permutation at a time
    lambda: WeightedRandomSampler([1.0, 0.0, 3.0], HUGE),
    lambda: SequentialSampler(range(HUGE)),
    lambda: BatchSampler(RandomSampler(range(10), replacement=True, num_samples=HUGE), 64, False),
], ids=["random-replacement", "random-passes", "weighted", "sequential", "batch"])
def test_huge_samplers_start_at_once_and_stay_small(make):
    sampler = make()
    assert len(sampler) in (HUGE, -(-HUGE // 64))
    it = iter(sampler)
    first = list(itertools.islice(it, 5))  # the first indices come out at once...
    assert len(first) == 5
    peak = _traced_peak(lambda: collections.deque(itertools.islice(it, 20_000), maxlen=0))
    assert peak < 1_000_000  # ...and 20,000 more take a chunk or two (64 KiB each), never the epoch (80 GB)


def test_infinite_loader_memory_does_not_grow():
    ds = TensorDataset(tg.randn(100, 4), tg.arange(100))
    it = iter(DataLoader(ds, batch_size=32, sampler=RandomSampler(ds, replacement=True, num_samples=HUGE)))
    xb, yb = next(it)
    assert xb.shape == (32, 4)
    tracemalloc.start()
    try:
        for _ in itertools.islice(it, 300):
            pass
        after_300 = tracemalloc.get_traced_memory()[0]
        for _ in itertools.islice(it, 3000):
            pass
        after_3300, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after_3300 - after_300 < 50_000 and peak < 2_000_000


def test_subset_random_sampler_holds_one_permutation_not_a_list():
    indices = np.arange(10**6)
    sampler = SubsetRandomSampler(indices, generator=tg.Generator().manual_seed(0))
    it = iter(sampler)
    peak = _traced_peak(lambda: list(itertools.islice(it, 10)))
    assert peak < 12_000_000  # the permutation (8 MB) and one chunk; a list of 10**6 ints would be ~36 MB


# ---------------------------------------------------------------------- generators
def test_random_sampler_is_reproducible_and_independent_of_random_ops_between_batches():
    def order(interleave):
        tg.manual_seed(3)
        out = []
        for i in RandomSampler(range(50), replacement=True, num_samples=20_000):
            out.append(i)
            if interleave and len(out) % 100 == 0:
                tg.randn(7)  # a dropout, say: must not shift the order (PyTorch seeds a generator of its own)
        return out

    assert order(False) == order(True)
    g = tg.Generator().manual_seed(1)
    a = list(RandomSampler(range(50), generator=g))
    assert a != list(RandomSampler(range(50), generator=g))  # the generator advanced
    assert a == list(RandomSampler(range(50), generator=tg.Generator().manual_seed(1)))


def test_each_iteration_draws_one_seed_from_the_default_generator():
    tg.manual_seed(0)
    list(RandomSampler(range(10)))
    after_one = tg.randn(1).item()
    tg.manual_seed(0)
    tg.random.default_generator.rng.integers(0, 2**63 - 1, endpoint=True)
    assert tg.randn(1).item() == after_one


@given(st.integers(1, 40), st.integers(1, 100), st.booleans(), st.integers(0, 3))
def test_random_sampler_epochs_are_permutations(n, num_samples, replacement, seed):
    out = list(RandomSampler(range(n), replacement=replacement, num_samples=num_samples,
                             generator=tg.Generator().manual_seed(seed)))
    assert len(out) == num_samples and all(0 <= i < n for i in out)
    if not replacement:  # whole passes are permutations; the last pass is a part of one
        for start in range(0, num_samples, n):
            part = out[start:start + n]
            assert len(set(part)) == len(part)


def test_weighted_sampler_frequencies_and_zero_weights():
    w = np.array([0.0, 1.0, 0.0, 2.0, 7.0, 0.0])
    draws = np.array(list(WeightedRandomSampler(w, 100_000, generator=tg.Generator().manual_seed(0))))
    freq = np.bincount(draws, minlength=w.size) / draws.size
    assert freq[w == 0].sum() == 0
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.01)
    without = list(WeightedRandomSampler(w, 3, replacement=False, generator=tg.Generator().manual_seed(0)))
    assert sorted(without) == [1, 3, 4]


def test_subset_random_sampler_yields_the_given_items():
    keys = ["a", "b", "c"]  # not ints: iterated one by one, as PyTorch does
    assert sorted(SubsetRandomSampler(keys)) == keys
    assert sorted(SubsetRandomSampler(tg.tensor([4, 2]))) == [2, 4]


def test_random_sampler_errors():
    with pytest.raises(ValueError, match="RandomSampler: cannot draw 5 samples from an empty data_source"):
        iter(RandomSampler([], num_samples=5))
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, got num_samples=1.5"):
        RandomSampler(range(3), num_samples=1.5)


# ---------------------------------------------------------------------- the fast path's arrays = the lists
def _with_seed(make, seed):
    return make(tg.Generator().manual_seed(seed))


SAMPLERS = {
    "sequential": lambda n, g: SequentialSampler(range(n)),
    "random": lambda n, g: RandomSampler(range(n), generator=g),
    "random-passes": lambda n, g: RandomSampler(range(n), num_samples=3 * n + 1, generator=g),
    "replacement": lambda n, g: RandomSampler(range(n), replacement=True, num_samples=2 * n + 3, generator=g),
    "subset": lambda n, g: SubsetRandomSampler(list(range(0, 2 * n, 2)), generator=g),
    "weighted": lambda n, g: WeightedRandomSampler(np.arange(n) + 1.0, 2 * n, generator=g),
    "distributed": lambda n, g: DistributedSampler(range(n), num_replicas=3, rank=1, seed=5),
}


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans())
def test_batch_arrays_equal_the_batch_lists(kind, n, batch_size, drop_last):
    make = SAMPLERS[kind]
    lists = list(BatchSampler(make(n, tg.Generator().manual_seed(0)), batch_size, drop_last))
    arrays = list(BatchSampler(make(n, tg.Generator().manual_seed(0)), batch_size, drop_last)._batch_arrays())
    assert [a.tolist() for a in arrays] == lists
    assert all(a.dtype.kind == "i" for a in arrays)
    plain = list(make(n, tg.Generator().manual_seed(0)))  # BatchSampler only cuts the sampler's stream
    cut = [plain[i:i + batch_size] for i in range(0, len(plain), batch_size)]
    assert lists == [b for b in cut if len(b) == batch_size or not drop_last]


def test_batch_arrays_across_chunk_boundaries(monkeypatch):
    from tapegrad.utils.data import sampler as module

    monkeypatch.setattr(module, "_CHUNK", 7)  # batches that straddle several chunks and passes
    for bs in (1, 3, 7, 10, 30):
        for drop_last in (False, True):
            s = RandomSampler(range(11), num_samples=50, generator=tg.Generator().manual_seed(2))
            arrays = [a.tolist() for a in BatchSampler(s, bs, drop_last)._batch_arrays()]
            s = RandomSampler(range(11), num_samples=50, generator=tg.Generator().manual_seed(2))
            flat = list(s)
            expect = [flat[i:i + bs] for i in range(0, 50, bs)]
            assert arrays == [b for b in expect if len(b) == bs or not drop_last]


def test_subclass_overriding_iter_is_iterated_through_it():
    class Evens(SequentialSampler):
        def __iter__(self):
            return iter(range(0, len(self.data_source), 2))

    ds = TensorDataset(tg.arange(6))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=Evens(ds))] == [[0, 2], [4]]


def test_custom_sampler_and_plain_iterables():
    class Twice(Sampler[int]):
        def __init__(self, data_source):
            super().__init__(data_source)  # older PyTorch scripts pass it on
            self.n = len(data_source)

        def __iter__(self):
            for i in range(self.n):
                yield i
                yield i

        def __len__(self):
            return 2 * self.n

    ds = TensorDataset(tg.arange(3))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=4, sampler=Twice(ds))] == [[0, 0, 1, 1], [2, 2]]
    assert list(BatchSampler(iter([5, 4, 3]), 2, True)) == [[5, 4]]  # any iterable, even a one-shot one


# ---------------------------------------------------------------------- lengths as PyTorch's
@given(st.integers(0, 30), st.integers(1, 7), st.booleans())
def test_batch_sampler_len(n, bs, drop_last):
    b = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    assert len(b) == len(list(b)) == (n // bs if drop_last else math.ceil(n / bs))


def test_lengths_of_huge_samplers():
    assert len(RandomSampler(range(3), num_samples=HUGE)) == HUGE
    assert len(BatchSampler(RandomSampler(range(3), replacement=True, num_samples=HUGE), 7, False)) == 1428571429
    assert len(WeightedRandomSampler([1, 2], HUGE)) == HUGE


# ---------------------------------------------------------------------- DistributedSampler
@given(st.integers(0, 30), st.integers(1, 5), st.booleans(), st.booleans(), st.integers(0, 3))
def test_distributed_sampler_structure(n, replicas, shuffle, drop_last, epoch):
    samplers = [DistributedSampler(range(n), replicas, r, shuffle=shuffle, seed=7, drop_last=drop_last)
                for r in range(replicas)]
    for s in samplers:
        s.set_epoch(epoch)
    parts = [list(s) for s in samplers]
    per = (math.ceil((n - replicas) / replicas) if drop_last and n % replicas else math.ceil(n / replicas))
    assert all(len(p) == len(s) == per for p, s in zip(parts, samplers, strict=True))
    order = [parts[k % replicas][k // replicas] for k in range(per * replicas)]  # undo the striding
    if shuffle:
        base = tg.random.rng(tg.Generator().manual_seed(7 + epoch)).permutation(n).tolist()
    else:
        base = list(range(n))
    padded = base + (base * (per * replicas // max(n, 1) + 1))[:max(per * replicas - n, 0)]
    assert order == padded[:per * replicas]


def test_distributed_sampler_shuffles_per_epoch_and_agrees_across_ranks():
    a, b = DistributedSampler(range(20), 2, 0), DistributedSampler(range(20), 2, 1)
    first = list(a) + list(b)
    assert sorted(first) == list(range(20))
    a.set_epoch(1)
    b.set_epoch(1)
    assert sorted(list(a) + list(b)) == list(range(20)) and list(a) + list(b) != first
    loader = DataLoader(TensorDataset(tg.arange(20)), batch_size=4, sampler=DistributedSampler(range(20), 2, 1,
                                                                                                 shuffle=False))
    assert [x[0].tolist() for x in loader] == [[1, 3, 5, 7], [9, 11, 13, 15], [17, 19]]


def test_distributed_sampler_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)


def test_distributed_sampler_without_a_process_group(monkeypatch):
    from tapegrad.utils.data import distributed

    monkeypatch.setattr(distributed, "_distributed", lambda: None)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        DistributedSampler(range(4))

    class Uninitialized:
        @staticmethod
        def is_available():
            return True

        @staticmethod
        def is_initialized():
            return False

    class World(Uninitialized):
        @staticmethod
        def is_initialized():
            return True

        @staticmethod
        def get_world_size():
            return 4

        @staticmethod
        def get_rank():
            return 3

    monkeypatch.setattr(distributed, "_distributed", lambda: Uninitialized)
    with pytest.raises(ValueError, match="DistributedSampler: num_replicas=None reads the default process group"):
        DistributedSampler(range(4))
    monkeypatch.setattr(distributed, "_distributed", lambda: World)
    s = DistributedSampler(range(10), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (4, 3, [3, 7, 1])


# ---------------------------------------------------------------------- against PyTorch, where numbers agree
def test_deterministic_samplers_match_pytorch():
    torch = pytest.importorskip("torch")
    TD = torch.utils.data
    for n in (0, 1, 7, 64):
        assert list(SequentialSampler(range(n))) == list(TD.SequentialSampler(range(n)))
        for bs, drop_last in [(1, False), (3, False), (3, True), (100, False), (100, True)]:
            ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
            theirs = TD.BatchSampler(TD.SequentialSampler(range(n)), bs, drop_last)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)
        for replicas in (1, 2, 3, 5):
            for rank in range(replicas):
                for drop_last in (False, True):
                    ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
                    theirs = TD.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
                    assert list(ours) == list(theirs) and len(ours) == len(theirs)
                    assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)
    for n, bs, drop_last in [(10, 3, False), (10, 3, True), (4, 5, False), (4, 5, True)]:
        ours = DataLoader(TensorDataset(tg.arange(n)), batch_size=bs, drop_last=drop_last)
        theirs = TD.DataLoader(TD.TensorDataset(torch.arange(n)), batch_size=bs, drop_last=drop_last)
        assert [b[0].tolist() for b in ours] == [b[0].tolist() for b in theirs] and len(ours) == len(theirs)
    assert len(RandomSampler(range(3), num_samples=HUGE)) == len(TD.RandomSampler(range(3), num_samples=HUGE))


def test_sampler_errors_match_pytorchs_types():
    torch = pytest.importorskip("torch")
    TD = torch.utils.data
    cases = [(RandomSampler, TD.RandomSampler, (range(3),), dict(replacement=1)),
             (RandomSampler, TD.RandomSampler, (range(3),), dict(num_samples=0)),
             (WeightedRandomSampler, TD.WeightedRandomSampler, ([1.0, 2.0], 0), {}),
             (WeightedRandomSampler, TD.WeightedRandomSampler, ([[1.0]], 1), {}),
             (BatchSampler, TD.BatchSampler, (range(3), 0, False), {}),
             (BatchSampler, TD.BatchSampler, (range(3), 2, 1), {}),
             (DistributedSampler, TD.DistributedSampler, (range(3), 2, 5), {})]
    for ours, theirs, args, kwargs in cases:
        with pytest.raises(Exception) as expected:
            theirs(*args, **kwargs)
        with pytest.raises(expected.type):
            ours(*args, **kwargs)


def test_sampler_base_class():
    with pytest.raises(NotImplementedError, match="Sampler: subclasses of Sampler should define __iter__"):
        iter(Sampler())
    assert not hasattr(Sampler, "__len__") and not hasattr(Dataset, "__len__")
