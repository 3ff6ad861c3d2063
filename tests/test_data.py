"""tapegrad.utils.data: datasets, samplers, collation and the DataLoader (with its fancy-index fast path)."""

import collections

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.testing import arrays, assert_forward, assert_gradients, shapes
from tapegrad.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)


def _ds(n, width=3, dtype=np.float32):
    """A TensorDataset whose row i of X is i everywhere, so a batch tells which samples it holds."""
    X = tg.tensor(np.repeat(np.arange(n, dtype=dtype)[:, None], width, 1))
    return TensorDataset(X, tg.arange(n))


def _ids(batches):
    return [b[1].tolist() for b in batches]


class CountingTensorDataset(TensorDataset):
    calls = 0

    def __getitem__(self, index):
        CountingTensorDataset.calls += 1
        return super().__getitem__(index)


class Squares(Dataset):
    def __init__(self, n):
        self.n, self.calls = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        return np.float32(i * i), i


# ---------------------------------------------------------------------- TensorDataset
def test_tensor_dataset_items_and_len():
    X, y = tg.randn(5, 3), tg.arange(5)
    ds = TensorDataset(X, y)
    assert len(ds) == 5
    x2, y2 = ds[2]
    np.testing.assert_array_equal(x2.numpy(), X.numpy()[2])
    assert y2.item() == 2
    assert ds.tensors[0] is X


def test_tensor_dataset_accepts_numpy_without_copy():
    X = np.zeros((4, 2), np.float64)
    ds = TensorDataset(X, np.arange(4))
    assert ds.tensors[0].dtype == np.float64 and ds.tensors[1].dtype == np.int64
    assert np.shares_memory(ds.tensors[0].numpy(), X)


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"TensorDataset: size mismatch.*\[5, 4\].*\(5, 3\), \(4,\)"):
        TensorDataset(tg.zeros(5, 3), tg.zeros(4))


def test_tensor_dataset_bad_inputs():
    with pytest.raises(ValueError, match="TensorDataset: expected at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="TensorDataset: .*0-d"):
        TensorDataset(tg.tensor(1.0))


# ---------------------------------------------------------------------- DataLoader: order, len, drop_last
@given(st.integers(1, 13), st.integers(1, 5), st.booleans())
def test_loader_sequential_batches_len_and_drop_last(n, batch_size, drop_last):
    loader = DataLoader(_ds(n), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches) == (n // batch_size if drop_last else -(-n // batch_size))
    seen = [i for ids in _ids(batches) for i in ids]
    assert seen == list(range(len(batches) * batch_size if drop_last else n))[:len(seen)]
    assert all(len(b[1]) == batch_size for b in batches[:-1])
    if batches:
        last = n % batch_size or batch_size
        assert len(batches[-1][1]) == (batch_size if drop_last else last)
    for xb, yb in batches:  # rows still match their labels
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy())


def test_loader_batch_is_list_of_tensors_like_pytorch():
    xb, yb = batch = next(iter(DataLoader(_ds(6), batch_size=4)))
    assert isinstance(batch, list)
    assert xb.shape == (4, 3) and yb.tolist() == [0, 1, 2, 3]


@given(st.integers(2, 13), st.integers(1, 5), st.booleans())
def test_loader_shuffle_is_a_permutation_each_epoch(n, batch_size, drop_last):
    loader = DataLoader(_ds(n), batch_size=batch_size, shuffle=True, drop_last=drop_last)
    for _ in range(2):
        ids = [i for b in _ids(loader) for i in b]
        expect = (n // batch_size) * batch_size if drop_last else n
        assert len(ids) == expect and len(set(ids)) == expect and set(ids) <= set(range(n))


def test_loader_shuffle_reproducible_with_seeded_generator():
    def order(seed):
        g = tg.Generator().manual_seed(seed)
        loader = DataLoader(_ds(20), batch_size=6, shuffle=True, generator=g)
        return [_ids(loader), _ids(loader)]  # two epochs

    a, b = order(3), order(3)
    assert a == b
    assert a[0] != a[1]  # a new order each epoch
    assert order(4) != a
    assert sorted(i for ids in a[0] for i in ids) == list(range(20))


def test_loader_shuffle_follows_default_generator_seed():
    loader = DataLoader(_ds(20), batch_size=5, shuffle=True)
    tg.manual_seed(7)
    first = _ids(loader)
    tg.manual_seed(7)
    assert _ids(loader) == first


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loader_keeps_dtypes(dtype):
    xb, yb = next(iter(DataLoader(_ds(5, dtype=dtype), batch_size=2, shuffle=True)))
    assert xb.dtype == dtype and yb.dtype == np.int64


def test_loader_batch_values_equal_numpy_fancy_index():
    X, y = np.random.default_rng(0).standard_normal((7, 2, 3)).astype(np.float32), np.arange(7)
    ds = TensorDataset(X, y)
    for xb, yb in DataLoader(ds, batch_size=3, shuffle=True):
        rows = yb.numpy()
        assert_forward(lambda t: t, lambda a, rows=rows: X[rows], xb)


# ---------------------------------------------------------------------- the fast path
@pytest.fixture
def tensor_getitem_calls(monkeypatch):
    """How many times Tensor.__getitem__ runs: the per-sample path calls it per sample and tensor."""
    calls = []
    real = tg.Tensor.__getitem__

    def counting(self, index):
        calls.append(index)
        return real(self, index)

    monkeypatch.setattr(tg.Tensor, "__getitem__", counting)
    return calls


def test_fast_path_does_not_index_per_sample(monkeypatch, tensor_getitem_calls):
    ds = _ds(50)
    gathers = []
    real = TensorDataset._gather

    def counting_gather(self, idx):
        gathers.append(idx.copy())
        return real(self, idx)

    monkeypatch.setattr(TensorDataset, "_gather", counting_gather)
    batches = list(DataLoader(ds, batch_size=8, shuffle=True))
    assert tensor_getitem_calls == []
    assert len(gathers) == len(batches) == 7  # one fancy index per batch
    assert [g.tolist() for g in gathers] == _ids(batches)


def test_fast_path_through_subset_and_concat(tensor_getitem_calls):
    sub = Subset(_ds(30), list(range(29, -1, -2)))  # 29, 27, ..., 1
    batches = list(DataLoader(sub, batch_size=4))
    assert [i for ids in _ids(batches) for i in ids] == list(range(29, -1, -2))
    cat = ConcatDataset([sub, _ds(3), Subset(_ds(10), [9])])
    ids = [i for ids in _ids(DataLoader(cat, batch_size=4)) for i in ids]
    assert ids == list(range(29, -1, -2)) + [0, 1, 2, 9]
    assert tensor_getitem_calls == []


def test_subclass_overriding_getitem_is_honoured():
    ds = CountingTensorDataset(*_ds(5).tensors)
    CountingTensorDataset.calls = 0
    assert _ids(DataLoader(Subset(ds, [4, 0, 2]), batch_size=2)) == [[4, 0], [2]]
    assert CountingTensorDataset.calls == 3  # a transform in __getitem__ would run for every sample

    class Doubled(Subset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    (xb, yb), = DataLoader(Doubled(_ds(3), [2, 1]), batch_size=2)
    assert xb[:, 0].tolist() == [4.0, 2.0] and yb.tolist() == [2, 1]


def test_fast_path_concat_shuffled_matches_per_sample_path():
    cat = _ds(5) + TensorDataset(tg.full((4, 3), 100.0), tg.arange(100, 104))
    g = tg.Generator().manual_seed(1)
    fast = list(DataLoader(cat, batch_size=3, shuffle=True, generator=g))
    g.manual_seed(1)
    per_sample = lambda b: default_collate(b)  # noqa: E731 (not the default collate_fn, so no fast path)
    slow = list(DataLoader(cat, batch_size=3, shuffle=True, generator=g, collate_fn=per_sample))
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_custom_dataset_and_custom_collate_take_per_sample_path():
    ds = Squares(5)
    batches = list(DataLoader(ds, batch_size=2))
    assert ds.calls == 5
    assert batches[0][0].dtype == np.float32 and batches[1][0].tolist() == [4.0, 9.0]
    assert batches[2][1].tolist() == [4]
    td = CountingTensorDataset(*_ds(4).tensors)
    CountingTensorDataset.calls = 0
    out = list(DataLoader(td, batch_size=3, collate_fn=lambda b: len(b)))
    assert out == [3, 1] and CountingTensorDataset.calls == 4


def test_fast_path_out_of_range_index_names_it():
    loader = DataLoader(_ds(4), batch_sampler=[[0, 1], [2, 9]])
    it = iter(loader)
    next(it)
    with pytest.raises(IndexError, match="DataLoader: batch index 9 is out of range for a dataset of length"):
        next(it)


# ---------------------------------------------------------------------- gradients through batching
@given(shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_gradient_through_loader_batches_of_a_dataset_that_requires_grad(shape, data):
    X = data.draw(arrays(shape=shape))
    idx = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=5)))

    def fn(x):
        (xb,) = next(iter(DataLoader(TensorDataset(x), batch_sampler=[idx])))
        return xb * xb

    assert_gradients(fn, X)


@given(shapes(min_dims=0, max_dims=2, max_side=4), st.integers(1, 4), st.data())
def test_gradient_of_collate_stack(shape, n, data):
    xs = [data.draw(arrays(shape=shape)) for _ in range(n)]
    assert_gradients(lambda *ts: default_collate(list(ts)) * 2.0, *xs)
    assert_forward(lambda *ts: default_collate(list(ts)), lambda *a: np.stack(a), *xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_collate_stack_keeps_dtype_and_records(dtype):
    ts = [tg.tensor(np.ones(2, dtype), requires_grad=True) for _ in range(3)]
    out = default_collate(ts)
    assert out.dtype == dtype and out.shape == (3, 2) and out.requires_grad
    out.sum().backward()
    assert all(t.grad.dtype == dtype and t.grad.tolist() == [1, 1] for t in ts)


# ---------------------------------------------------------------------- default_collate / default_convert
Point = collections.namedtuple("Point", "x label")


def test_collate_nested_structures():
    samples = [{"img": np.full((2, 2), i, np.float32), "meta": (i, float(i), f"s{i}"),
                "pt": Point(tg.ones(2) * i, i), "flags": [True, np.int32(i)]} for i in range(3)]
    out = default_collate(samples)
    assert set(out) == {"img", "meta", "pt", "flags"}
    assert out["img"].shape == (3, 2, 2) and out["img"].dtype == np.float32
    ints, floats, strs = out["meta"]  # tuples become lists of fields
    assert isinstance(out["meta"], list)
    assert ints.dtype == np.int64 and ints.tolist() == [0, 1, 2]
    assert floats.dtype == np.float64 and floats.tolist() == [0.0, 1.0, 2.0]
    assert strs == ("s0", "s1", "s2")
    assert isinstance(out["pt"], Point) and out["pt"].x.shape == (3, 2)
    assert out["pt"].label.tolist() == [0, 1, 2]
    assert out["flags"][0].dtype == np.bool_ and out["flags"][1].dtype == np.int32


def test_collate_numbers_follow_pytorch_dtypes():
    assert default_collate([1, 2]).dtype == np.int64
    assert default_collate([1.0, 2]).dtype == np.float64
    assert default_collate([1, 2.5]).dtype == np.float32  # as torch.tensor([1, 2.5])
    assert default_collate([np.float32(1), np.float32(2)]).dtype == np.float32
    assert default_collate([np.arange(2), np.arange(2)]).dtype == np.int64
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_collate_lists_stay_lists():
    out = default_collate([[1, 2], [3, 4]])
    assert isinstance(out, list) and [t.tolist() for t in out] == [[1, 3], [2, 4]]


def test_collate_errors():
    with pytest.raises(RuntimeError, match=r"default_collate: each element .* size, got sizes \[2, 1\]"):
        default_collate([[1, 2], [3]])
    shapes_named = r"default_collate: stack.*\(2,\) at entry 0 and \(3,\) at entry 1"
    with pytest.raises(RuntimeError, match=shapes_named):
        default_collate([tg.zeros(2), tg.zeros(3)])
    with pytest.raises(TypeError, match="default_collate: batch must contain .*found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain .*found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert({"a": np.zeros(2, np.float64), "b": (np.int32(3), 1, "s")})
    assert isinstance(out["a"], tg.Tensor) and out["a"].dtype == np.float64
    assert isinstance(out["b"], list) and out["b"][0].dtype == np.int32 and out["b"][1:] == [1, "s"]


def test_loader_without_batching_converts_samples():
    loader = DataLoader(Squares(3), batch_size=None)
    items = list(loader)
    assert len(loader) == 3
    assert [x.item() for x, _ in items] == [0.0, 1.0, 4.0] and items[2][1] == 2


# ---------------------------------------------------------------------- random_split, Subset, ConcatDataset
@pytest.mark.parametrize("n, lengths, sizes", [(10, [3, 7], [3, 7]), (10, [0.3, 0.3, 0.4], [3, 3, 4]),
                                                (7, [0.5, 0.5], [4, 3]), (11, [0.1, 0.2, 0.7], [2, 2, 7]),
                                                (5, [0.25] * 4, [2, 1, 1, 1])])
def test_random_split_sizes_follow_pytorch(n, lengths, sizes):
    parts = random_split(range(n), lengths)
    assert [len(p) for p in parts] == sizes


@pytest.mark.filterwarnings("ignore:random_split. length of split")  # lengths summing to 1 read as fractions
@given(st.integers(1, 30), st.lists(st.integers(0, 10), min_size=1, max_size=4))
def test_random_split_disjoint_and_covering(n, raw):
    total = sum(raw) or 1
    lengths = [n * r // total for r in raw]
    lengths[-1] += n - sum(lengths)
    parts = random_split(range(n), lengths, generator=tg.Generator().manual_seed(0))
    items = [x for p in parts for x in (p[i] for i in range(len(p)))]
    assert sorted(items) == list(range(n))
    assert [len(p) for p in parts] == lengths


def test_random_split_reproducible_and_errors():
    a = random_split(range(20), [0.5, 0.5], generator=tg.Generator().manual_seed(5))
    b = random_split(range(20), [0.5, 0.5], generator=tg.Generator().manual_seed(5))
    assert a[0].indices == b[0].indices and a[1].indices == b[1].indices
    with pytest.raises(ValueError, match=r"random_split: sum of input lengths 9 \(\[4, 5\]\) .* dataset 10"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="random_split: fraction at index 0 is not between 0 and 1, got 1.5"):
        random_split(range(10), [1.5, -0.5])
    with pytest.warns(UserWarning, match="random_split: length of split at index 1 is 0"):
        random_split(range(2), [0.9, 0.1])


def test_subset_indexing():
    ds = _ds(10)
    s = Subset(ds, [7, 2, 5])
    assert len(s) == 3 and s[0][1].item() == 7 and s[-1][1].item() == 5
    assert s[[0, 2]][1].tolist() == [7, 5]  # a list index goes to the dataset in one call
    assert _ids(DataLoader(s, batch_size=2)) == [[7, 2], [5]]
    s.indices = [1, 0]  # changing the indices is seen by the fast path
    assert _ids(DataLoader(s, batch_size=2)) == [[1, 0]]


def test_concat_dataset():
    a, b = _ds(3), _ds(2)
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 5 and c.cumulative_sizes == [3, 5]
    assert [c[i][1].item() for i in range(5)] == [0, 1, 2, 0, 1]
    assert c[-1][1].item() == 1 and c[-5][1].item() == 0
    with pytest.raises(IndexError, match="ConcatDataset: index 5 is out of range for a dataset of length 5"):
        c[5]
    with pytest.raises(IndexError, match="ConcatDataset: index -6 is out of range"):
        c[-6]
    with pytest.raises(ValueError, match="ConcatDataset: datasets should not be an empty iterable"):
        ConcatDataset([])
    assert _ids(DataLoader(c, batch_sampler=[[-1, 0, 4]])) == [[1, 0, 1]]


def test_dataset_base_class():
    with pytest.raises(NotImplementedError, match="Dataset: subclasses of Dataset should define __getitem__"):
        Dataset()[0]


# ---------------------------------------------------------------------- samplers
def test_sequential_and_random_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(SequentialSampler(range(4))) == 4
    g = tg.Generator().manual_seed(0)
    r = RandomSampler(range(6), generator=g)
    assert sorted(r) == list(range(6)) and len(r) == 6
    assert list(RandomSampler(range(6), generator=tg.Generator().manual_seed(2))) == \
        list(RandomSampler(range(6), generator=tg.Generator().manual_seed(2)))
    many = list(RandomSampler(range(3), num_samples=7, generator=g))
    assert len(many) == 7 and sorted(many[:6]) == [0, 0, 1, 1, 2, 2]
    with_repl = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(with_repl) == 50 and set(with_repl) == {0, 1, 2}


def test_random_sampler_errors():
    with pytest.raises(ValueError, match="RandomSampler: num_samples should be a positive integer value, got "
                                         "num_samples=0"):
        RandomSampler(range(0))
    with pytest.raises(TypeError, match="RandomSampler: replacement should be a boolean value, got 1"):
        RandomSampler(range(3), replacement=1)


def test_subset_and_weighted_samplers():
    g = tg.Generator().manual_seed(0)
    s = SubsetRandomSampler([5, 1, 3], generator=g)
    assert sorted(s) == [1, 3, 5] and len(s) == 3
    w = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 200, generator=g)
    draws = np.array(list(w))
    assert len(w) == 200 and set(draws.tolist()) == {1, 3} and 0.6 < np.mean(draws == 3) < 0.9
    assert sorted(WeightedRandomSampler([1, 1, 1], 3, replacement=False, generator=g)) == [0, 1, 2]
    with pytest.raises(ValueError, match=r"WeightedRandomSampler: weights should be 1-d, got shape \(2, 2\)"):
        WeightedRandomSampler(np.ones((2, 2)), 2)
    with pytest.raises(ValueError, match="WeightedRandomSampler: cannot draw 3 samples without .* from 2"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="WeightedRandomSampler: num_samples should be a positive integer"):
        WeightedRandomSampler([1, 1], 0)


def test_batch_sampler():
    seq = SequentialSampler(range(10))
    assert list(BatchSampler(seq, 3, False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(seq, 3, True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(BatchSampler(seq, 3, False)) == 4 and len(BatchSampler(seq, 3, True)) == 3
    assert list(BatchSampler([4, 2, 0], 2, False)) == [[4, 2], [0]]  # any iterable of indices
    with pytest.raises(ValueError, match="BatchSampler: batch_size should be a positive integer value, got "
                                         "batch_size=0"):
        BatchSampler(seq, 0, False)
    with pytest.raises(ValueError, match="BatchSampler: drop_last should be a boolean, got drop_last=1"):
        BatchSampler(seq, 2, 1)


def test_loader_with_sampler_and_batch_sampler():
    assert _ids(DataLoader(_ds(6), batch_size=4, sampler=[5, 3, 1])) == [[5, 3, 1]]
    assert _ids(DataLoader(_ds(6), batch_sampler=BatchSampler([0, 2, 4, 5], 3, False))) == [[0, 2, 4], [5]]
    loader = DataLoader(_ds(6), batch_sampler=[[1], [2, 3]])
    assert len(loader) == 2 and _ids(loader) == [[1], [2, 3]]


def test_loader_argument_errors():
    ds = _ds(4)
    with pytest.raises(ValueError, match="DataLoader: sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="DataLoader: batch_sampler option is mutually exclusive.*size=2"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="DataLoader: batch_size=None .* mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="DataLoader: num_workers option should be non-negative, got -1"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="BatchSampler: batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=0)


# ---------------------------------------------------------------------- IterableDataset
class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_iterable_dataset_batches():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Stream(7), batch_size=3)) == 3
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified shuffle"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(TypeError, match="ConcatDataset: does not support IterableDataset"):
        ConcatDataset([Stream(2)])


# ---------------------------------------------------------------------- against PyTorch, when installed
def test_matches_pytorch_structure_and_sizes():
    torch = pytest.importorskip("torch")
    TD = torch.utils.data
    for n, lengths in [(10, [0.3, 0.3, 0.4]), (13, [0.1, 0.45, 0.45]), (9, [2, 7])]:
        assert [len(p) for p in random_split(range(n), lengths)] == \
            [len(p) for p in TD.random_split(range(n), lengths)]
    for n, bs, dl in [(10, 3, False), (10, 3, True), (4, 5, False), (4, 5, True)]:
        assert len(DataLoader(_ds(n), batch_size=bs, drop_last=dl)) == \
            len(TD.DataLoader(TD.TensorDataset(torch.arange(n)), batch_size=bs, drop_last=dl))
    samples = [{"a": (i, float(i), "s"), "b": [np.float32(i), np.ones(2)]} for i in range(3)]
    ours, theirs = default_collate(samples), TD.default_collate(samples)

    def same(o, t):
        if isinstance(t, torch.Tensor):
            assert str(o.dtype) == str(t.dtype).replace("torch.", "") and o.tolist() == t.tolist()
        elif isinstance(t, dict):
            assert o.keys() == t.keys()
            for k in t:
                same(o[k], t[k])
        elif isinstance(t, (list, tuple)):
            assert type(o) is type(t) and len(o) == len(t)
            for a, b in zip(o, t, strict=True):
                same(a, b)
        else:
            assert o == t

    same(ours, theirs)


def test_empty_datasets_and_oversized_batches():
    empty = TensorDataset(tg.zeros(0, 3), tg.zeros(0, dtype=tg.int64))
    assert len(DataLoader(empty, batch_size=2)) == 0 and list(DataLoader(empty, batch_size=2)) == []
    assert list(DataLoader(Subset(_ds(4), []), batch_size=2)) == []
    (xb, yb), = DataLoader(_ds(3), batch_size=100, shuffle=True)
    assert xb.shape == (3, 3) and sorted(yb.tolist()) == [0, 1, 2]
    assert list(DataLoader(_ds(3), batch_size=100, drop_last=True)) == []


def test_iterable_datasets_add_to_a_chain_like_pytorch():
    chain = Stream(2) + Stream(3)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    assert [b.tolist() for b in DataLoader(chain, batch_size=4)] == [[0, 1, 0, 1], [2]]
    with pytest.raises(TypeError, match="ChainDataset: only supports IterableDataset, got TensorDataset"):
        list(ChainDataset([Stream(1), _ds(2)]))


@pytest.mark.parametrize("name", ["dataset", "sampler", "distributed", "dataloader", "_utils.collate",
                                  "_utils.worker"])
def test_docstring_examples(name):
    import doctest
    import importlib

    module = importlib.import_module(f"tapegrad.utils.data.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------- module layout (issue 13)
PUBLIC = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
          "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
          "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "_DatasetKind", "default_collate",
          "default_convert", "get_worker_info", "random_split"]


def test_module_paths_import_as_in_pytorch():
    import tapegrad.utils.data as data
    from tapegrad.utils.data import _utils, dataloader, dataset, distributed, sampler
    from tapegrad.utils.data._utils import collate, fetch, worker

    assert sorted(data.__all__) == PUBLIC
    where = {dataloader: ["DataLoader", "default_collate", "default_convert", "get_worker_info"],
             dataset: ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
                       "ChainDataset", "Subset", "random_split"],
             sampler: ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
                       "WeightedRandomSampler"],
             distributed: ["DistributedSampler"]}
    for module, names in where.items():
        assert set(names) <= set(module.__all__)
        for name in names:
            assert getattr(module, name) is getattr(data, name)
    assert collate.default_collate is data.default_collate and worker.get_worker_info is data.get_worker_info
    assert callable(collate.collate) and isinstance(collate.default_collate_fn_map, dict)
    assert callable(fetch._MapDatasetFetcher) and _utils.MP_STATUS_CHECK_INTERVAL > 0


def test_public_names_are_pytorchs_without_the_datapipes():
    torch = pytest.importorskip("torch")
    theirs = {n for n in torch.utils.data.__all__ if "DataPipe" not in n and n not in
              ("DataChunk", "argument_validation", "functional_datapipe", "guaranteed_datapipes_determinism",
               "non_deterministic", "runtime_validation", "runtime_validation_disabled")}
    assert theirs == set(PUBLIC)


def test_classes_are_generic_for_type_hints():
    class Ints(Dataset[int]):
        def __getitem__(self, i):
            return i

        def __len__(self):
            return 3

    class Odd(Sampler[int]):
        def __iter__(self):
            return iter([1])

    loader: DataLoader[int] = DataLoader(Ints(), sampler=Odd(), batch_size=None)
    assert list(loader) == [1]


# ---------------------------------------------------------------------- StackDataset, Subset.__getitems__
class Batched(Dataset):
    """A dataset with __getitems__: one call per batch."""

    def __init__(self, n):
        self.n, self.calls = n, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * 10

    def __getitems__(self, indices):
        self.calls.append(list(indices))
        return [i * 10 for i in indices]


def test_stack_dataset():
    b = Batched(4)
    s = StackDataset(b, range(4))
    assert s[2] == (20, 2) and len(s) == 4
    assert [t.tolist() for t in next(iter(DataLoader(s, batch_size=3)))] == [[0, 10, 20], [0, 1, 2]]
    assert b.calls == [[0, 1, 2]]  # the nested dataset's __getitems__, once
    d = StackDataset(x=range(3), y="abc")
    assert d.__getitems__([2, 0]) == [{"x": 2, "y": "c"}, {"x": 0, "y": "a"}]
    with pytest.raises(ValueError, match=r"StackDataset: size mismatch between datasets: lengths \{'x': 3, 'y': 2"):
        StackDataset(x=range(3), y="ab")
    with pytest.raises(ValueError, match="StackDataset: supported either tuple-like"):
        StackDataset(range(2), y=range(2))
    with pytest.raises(ValueError, match="StackDataset: at least one dataset"):
        StackDataset()


def test_subset_delegates_getitems_like_pytorch():
    b = Batched(10)
    out = next(iter(DataLoader(Subset(b, [9, 8, 7]), batch_size=2)))
    assert out.tolist() == [90, 80] and b.calls == [[9, 8]]


# ---------------------------------------------------------------------- errors name what failed (issue 9)
class Boom(Dataset):
    """Raises at one index; keeps the exception it raised, to check that the same one reaches the user."""

    def __init__(self, n, bad):
        self.n, self.bad, self.raised = n, bad, None

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            self.raised = ValueError(f"bad sample {i}")
            raise self.raised
        return i


def _notes(err):
    return "\n".join(getattr(err, "__notes__", []))


def test_dataset_error_names_the_index_and_batch_in_the_main_process():
    ds = Boom(10, bad=5)
    with pytest.raises(ValueError, match="bad sample 5") as info:
        list(DataLoader(ds, batch_size=3))
    assert info.value is ds.raised  # the original exception, type and message kept
    assert _notes(info.value) == "DataLoader: raised by dataset[5] (Boom) fetching the batch of indices [3, 4, 5]"
    with pytest.raises(ValueError) as info:
        list(DataLoader(Boom(4, bad=2), batch_size=None))
    assert _notes(info.value) == "DataLoader: raised by dataset[2] (Boom)"


def test_collate_getitems_and_stream_errors_are_named():
    def bad_collate(batch):
        raise KeyError("no such field")

    with pytest.raises(KeyError) as info:
        next(iter(DataLoader(range(20), batch_size=16, collate_fn=bad_collate)))
    assert _notes(info.value).startswith("DataLoader: raised by collate_fn (test_collate_getitems_and_stream_errors_"
                                         "are_named.<locals>.bad_collate) collating the samples at indices "
                                         "[0, 1, 2, 3, 4, 5, 6, 7, ...] (16 indices)")

    class BadBatch(Batched):
        def __getitems__(self, indices):
            raise IndexError("nope")

    with pytest.raises(IndexError) as info:
        next(iter(DataLoader(BadBatch(5), batch_size=2)))
    assert _notes(info.value) == "DataLoader: raised by BadBatch.__getitems__ fetching the batch of indices [0, 1]"

    class BadStream(IterableDataset):
        def __iter__(self):
            yield 1
            yield 2
            raise OSError("disk gone")

    with pytest.raises(OSError) as info:
        list(DataLoader(BadStream(), batch_size=2))
    assert _notes(info.value) == "DataLoader: raised by the iterator of BadStream drawing sample 2 of its stream"


def test_stop_iteration_from_a_map_dataset_is_not_a_silent_end():
    class Stops(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if i == 3:
                raise StopIteration
            return i

    with pytest.raises(RuntimeError, match="DataLoader: the dataset or collate_fn raised StopIteration") as info:
        list(DataLoader(Stops(), batch_size=2))
    assert isinstance(info.value.__cause__, StopIteration)


def test_note_fallback_before_python_3_11_goes_into_the_message():
    from tapegrad.utils.data._utils.fetch import _add_note

    class OldStyle(Exception):  # an exception without add_note, as on Python 3.10
        @property
        def add_note(self):
            raise AttributeError("add_note")

    err = OldStyle("first line", 2)
    _add_note(err, "DataLoader: raised by dataset[1]")
    _add_note(err, "second note")
    assert err.args == ("first line\nDataLoader: raised by dataset[1]\nsecond note", 2)
    assert err.__notes__ == ["DataLoader: raised by dataset[1]", "second note"]


# ---------------------------------------------------------------------- DataLoader arguments as PyTorch's
BAD_ARGUMENTS = [
    (dict(persistent_workers=True), ValueError, "persistent_workers option needs num_workers > 0"),
    (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be specified in multiprocessing"),
    (dict(num_workers=1, prefetch_factor=-1), ValueError, "prefetch_factor option should be non-negative"),
    (dict(multiprocessing_context="fork"), ValueError, "multiprocessing_context can only be used with"),
    (dict(num_workers=1, multiprocessing_context="bogus"), ValueError, "should specify a valid start method"),
    (dict(num_workers=1, multiprocessing_context=3), TypeError, "should be a valid context object"),
    (dict(timeout=-1), ValueError, "timeout option should be non-negative"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_ARGUMENTS)
def test_loader_argument_errors_as_pytorch(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(range(4), **kwargs)


def test_loader_argument_errors_match_pytorchs_types():
    torch = pytest.importorskip("torch")
    for kwargs, error, _ in BAD_ARGUMENTS:
        with pytest.raises(error):
            torch.utils.data.DataLoader(range(4), **kwargs)


def test_loader_defaults_and_accepted_arguments():
    loader = DataLoader(range(4), num_workers=1, multiprocessing_context="spawn", pin_memory=True,
                        persistent_workers=True, in_order=False, timeout=3)
    assert loader.prefetch_factor == 2 and loader.multiprocessing_context.get_start_method() == "spawn"
    assert DataLoader(range(4)).prefetch_factor is None
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 3
    loader.num_workers = 1  # others may be set, as in PyTorch
    with pytest.raises(AssertionError, match="timeout=2 applies to worker processes only"):
        iter(DataLoader(range(4), timeout=2))


def test_pin_memory_is_accepted_and_warns_as_pytorch_on_a_cpu():
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        assert [b.tolist() for b in DataLoader(range(3), batch_size=2, pin_memory=True)] == [[0, 1], [2]]


def test_too_many_workers_warn_as_pytorch():
    import os

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with pytest.warns(UserWarning, match=f"This DataLoader will create {n + 1} worker processes in total"):
        DataLoader(range(3), num_workers=n + 1)


def test_iterable_dataset_longer_than_its_len_warns():
    class Liar(Stream):
        def __len__(self):
            return 2

    loader = DataLoader(Liar(3), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="Length of IterableDataset .* was reported to be 2"):
        assert list(loader) == [0, 1, 2]


# ---------------------------------------------------------------------- collation, against PyTorch
def _same_as_pytorch(ours, theirs, torch):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tg.Tensor)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "") and ours.tolist() == theirs.tolist()
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            _same_as_pytorch(ours[k], theirs[k], torch)
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            _same_as_pytorch(a, b, torch)
    else:
        assert ours == theirs


def test_collate_and_convert_match_pytorch_on_nested_structures():
    torch = pytest.importorskip("torch")
    TD = torch.utils.data
    batches = [
        [collections.OrderedDict(a=1, b=[2.5, "x"]), collections.OrderedDict(a=3, b=[4.5, "y"])],
        [{"a": [1, 2.0]}, {"a": [3, 4.0]}],
        [Point(np.float32(1), True), Point(np.float32(2), False)],
        [(np.array(1.5), np.int8(3), b"a"), (np.array(2.5), np.int8(4), b"b")],
        [[np.float16(1), np.zeros((2, 2), np.int32)], [np.float16(2), np.ones((2, 2), np.int32)]],
        [collections.defaultdict(int, k=np.arange(3)), collections.defaultdict(int, k=np.arange(3))],
    ]
    for batch in batches:
        _same_as_pytorch(default_collate(batch), TD.default_collate(batch), torch)
    for sample in [[np.int8(3), "x", (np.zeros(2, np.float32),)], {"a": (1, np.array([True]))}, (1, (2, 3)),
                   Point(np.zeros(1), "s"), np.array(["a"]), "text", 5]:
        _same_as_pytorch(default_convert(sample), TD.default_convert(sample), torch)
    ours = default_collate([tg.tensor([1], dtype=tg.int32), tg.tensor([1.0])])
    theirs = TD.default_collate([torch.tensor([1], dtype=torch.int32), torch.tensor([1.0])])
    _same_as_pytorch(ours, theirs, torch)  # promoted as torch.stack does


def test_collate_fn_map_extends_default_collate():
    from tapegrad.utils.data._utils.collate import collate, default_collate_fn_map

    class Box:
        def __init__(self, v):
            self.v = v

    def collate_box(batch, *, collate_fn_map=None):
        return Box([b.v for b in batch])

    assert collate([Box(1), Box(2)], collate_fn_map={Box: collate_box}).v == [1, 2]
    out = collate([{"b": Box(1), "n": 1}, {"b": Box(2), "n": 2}],
                  collate_fn_map={**default_collate_fn_map, Box: collate_box})
    assert out["b"].v == [1, 2] and out["n"].tolist() == [1, 2]
    with pytest.raises(TypeError, match="default_collate: batch must contain .*Box"):
        default_collate([Box(1)])
    with pytest.raises(TypeError, match="default_collate: expected a batch of tensors .* element 1 is ndarray"):
        default_collate([tg.zeros(2), np.zeros(2)])


def test_collate_stack_keeps_memory_of_its_own_and_mixed_dtypes_promote():
    a, b = tg.zeros(2), tg.ones(2)
    out = default_collate([a, b])
    out[0, 0] = 5.0
    assert a.tolist() == [0.0, 0.0]  # a new array, as torch.stack gives
    assert default_collate([tg.tensor([1], dtype=tg.int32), tg.tensor([True])]).dtype == np.int32
    assert default_collate([tg.tensor([1], dtype=tg.int64), tg.tensor([1.0], dtype=tg.float16)]).dtype == np.float16
