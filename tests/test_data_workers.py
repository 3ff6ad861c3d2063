"""DataLoader with num_workers > 0: real worker processes. Order, seeding, get_worker_info, IterableDataset
sharding, errors with notes, persistent workers, and shutdown without hung or orphaned processes.

Worker processes cost a fork each, so these tests are few and each checks several things.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    TensorDataset,
    _utils,
    default_collate,
    get_worker_info,
)
from tapegrad.utils.data._utils import transport
from tapegrad.utils.data._utils.worker import _generate_state, _RemoteTraceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Probe(Dataset):
    """Sample i says which worker made it and what its random generators give."""

    def __init__(self, n, slow=()):
        self.n, self.slow = n, set(slow)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i in self.slow:
            time.sleep(0.2)  # finishes after later batches of the other worker
        info = get_worker_info()
        return {"i": i, "id": info.id, "num_workers": info.num_workers, "seed": info.seed, "pid": os.getpid(),
                "dataset_n": info.dataset.n, "random": random.random(), "numpy": np.random.rand(),
                "tapegrad": tg.rand(1).item()}


class Boom(Dataset):
    def __init__(self, n, bad):
        self.n, self.bad = n, bad

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"bad sample {i}")
        return i


class Shards(IterableDataset):
    """PyTorch's documented example: range(start, end), split between the workers in __iter__."""

    def __init__(self, start, end, worker_info=get_worker_info):
        self.start, self.end, self.worker_info = start, end, worker_info

    def __iter__(self):
        info = self.worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        per = -(-(self.end - self.start) // info.num_workers)
        lo = self.start + info.id * per
        return iter(range(lo, min(lo + per, self.end)))


class Counter(Dataset):
    """Counts the samples its copy has made: persistent workers keep their copy between epochs."""

    def __init__(self, n):
        self.n, self.made = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.made += 1
        return i, os.getpid(), self.made


def _first_batch_keys(batch):
    return batch["i"].tolist()


# ---------------------------------------------------------------------- order, seeding, worker info
def test_batches_in_sampler_order_with_worker_info_and_seeds():
    g = tg.Generator().manual_seed(11)
    loader = DataLoader(Probe(24, slow={0}), batch_size=3, shuffle=True, generator=g, num_workers=2)
    batches = list(loader)
    g.manual_seed(11)
    base_seed = int(tg.random.rng(g).integers(0, 2**63 - 1, endpoint=True))  # drawn once per iteration
    expect = [b.tolist() for b in next(iter(DataLoader(TensorDataset(tg.arange(24)), batch_size=24,
                                                       sampler=RandomSampler(range(24), generator=g))))]
    assert [i for b in batches for i in b["i"].tolist()] == expect[0]  # the sampler's order, despite the sleep
    ids = {b["id"][0].item() for b in batches}
    assert ids == {0, 1} and all(b["num_workers"][0].item() == 2 and b["dataset_n"][0].item() == 24
                                 for b in batches)
    for b in batches:
        wid, seed = b["id"][0].item(), b["seed"][0].item()
        assert seed == base_seed + wid
    for wid in (0, 1):  # the first sample each worker made: generators seeded as PyTorch seeds them
        first = next(b for b in batches if b["id"][0].item() == wid)
        seed = base_seed + wid
        assert first["random"][0].item() == random.Random(seed).random()
        np.random.seed(_generate_state(base_seed, wid))
        assert first["numpy"][0].item() == np.random.rand()
        tg.manual_seed(seed)
        assert first["tapegrad"][0].item() == tg.rand(1).item()
    assert len({b["pid"][0].item() for b in batches} | {os.getpid()}) == 3
    assert get_worker_info() is None  # in the main process


def test_in_order_false_returns_batches_as_they_come():
    batches = list(DataLoader(Probe(12, slow={0}), batch_size=2, num_workers=2, in_order=False))
    firsts = [b["i"][0].item() for b in batches]
    assert sorted(firsts) == [0, 2, 4, 6, 8, 10] and firsts[0] != 0  # the slow first batch came later


def test_fast_path_and_worker_init_fn_in_workers(tmp_path):
    X = tg.arange(30.0).reshape(10, 3)
    ds = TensorDataset(X, tg.arange(10))

    def init(worker_id):
        info = get_worker_info()
        (tmp_path / f"w{worker_id}").write_text(f"{info.id} {info.num_workers} {info.seed}")

    loader = DataLoader(ds, batch_size=4, num_workers=2, worker_init_fn=init, prefetch_factor=1)
    ours = [(x.numpy().copy(), y.numpy().copy()) for x, y in loader]
    expect = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, batch_size=4)]
    for (x, y), (ex, ey) in zip(ours, expect, strict=True):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)
        assert x.dtype == ex.dtype and y.dtype == ey.dtype
    lines = sorted(p.read_text() for p in tmp_path.iterdir())
    assert [line.split()[:2] for line in lines] == [["0", "2"], ["1", "2"]]
    assert int(lines[1].split()[2]) == int(lines[0].split()[2]) + 1


def test_iterable_dataset_sharded_with_worker_info():
    out = [b.tolist() for b in DataLoader(Shards(3, 7), batch_size=1, num_workers=2)]
    assert out == [[3], [5], [4], [6]]  # round robin over the two workers' shares, as PyTorch documents
    batched = [b.tolist() for b in DataLoader(Shards(0, 10), batch_size=2, num_workers=2)]
    assert batched == [[0, 1], [5, 6], [2, 3], [7, 8], [4], [9]]


def test_iterable_dataset_sharding_matches_pytorch():
    torch = pytest.importorskip("torch")
    TD = torch.utils.data
    for n, bs, workers, drop_last in [(10, 2, 2, False), (11, 3, 2, True), (7, 2, 1, False), (4, None, 2, False)]:
        ours = list(DataLoader(Shards(0, n), batch_size=bs, num_workers=workers, drop_last=drop_last))
        class TorchShards(Shards, TD.IterableDataset):
            pass

        theirs = list(TD.DataLoader(TorchShards(0, n, TD.get_worker_info), batch_size=bs, num_workers=workers,
                                    drop_last=drop_last))
        assert [b.tolist() if bs else b for b in ours] == [b.tolist() if bs else b for b in theirs]


# ---------------------------------------------------------------------- errors
def test_worker_error_names_worker_and_index_and_keeps_the_iterator_usable():
    it = iter(DataLoader(Boom(12, bad=7), batch_size=3, num_workers=2))
    assert next(it).tolist() == [0, 1, 2] and next(it).tolist() == [3, 4, 5]
    with pytest.raises(ValueError, match="bad sample 7") as info:
        next(it)
    err = info.value
    assert err.__notes__ == ["DataLoader worker process 0: raised by dataset[7] (Boom) fetching the batch of "
                             "indices [6, 7, 8]"]
    assert isinstance(err.__cause__, _RemoteTraceback)
    assert "in __getitem__" in err.__cause__.tb and 'raise ValueError(f"bad sample {i}")' in err.__cause__.tb
    assert next(it).tolist() == [9, 10, 11]  # as in PyTorch, the loader goes on
    with pytest.raises(StopIteration):
        next(it)


class Unsendable(Exception):
    def __init__(self, *, code):  # cannot be rebuilt from its args
        super().__init__(f"code {code}")


class RaisesUnsendable(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise Unsendable(code=i)


def _bad_collate(batch):
    return lambda: batch  # a batch that cannot leave the worker


def _failing_init(worker_id):
    raise OSError(f"no GPU for worker {worker_id}")


def test_worker_errors_that_cannot_travel_or_come_from_init_or_collate():
    with pytest.raises(RuntimeError, match="Caught Unsendable in DataLoader worker process 0 .*: code 0") as info:
        next(iter(DataLoader(RaisesUnsendable(), batch_size=2, num_workers=1)))
    assert "raised by dataset[0] (RaisesUnsendable)" in info.value.__notes__[0]
    with pytest.raises(Exception) as info:
        next(iter(DataLoader(range(4), batch_size=2, num_workers=1, collate_fn=_bad_collate)))
    assert info.value.__notes__ == ["DataLoader worker process 0: could not send the batch of task 0 to the main "
                                    "process"]
    with pytest.raises(OSError, match="no GPU for worker 0") as info:
        next(iter(DataLoader(range(4), num_workers=1, worker_init_fn=_failing_init)))
    assert info.value.__notes__ == ["DataLoader worker process 0: raised by worker_init_fn(0)"]
    ds = TensorDataset(tg.randn(4, 2, requires_grad=True))
    with pytest.raises(RuntimeError, match="cowardly refusing to send a tensor that requires grad"):
        next(iter(DataLoader(ds, batch_size=2, num_workers=1)))


class Dies(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 2:
            os._exit(3)
        return i


def test_a_worker_that_dies_is_reported_at_once():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly: "
                                           r"worker 1 \(pid \d+\): exit code 3"):
        list(DataLoader(Dies(), batch_size=2, num_workers=2))
    assert time.monotonic() - start < _utils.MP_STATUS_CHECK_INTERVAL  # not after a status-check timeout


class Sleeps(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(30)
        return i


def test_timeout_and_shutdown_of_a_stuck_worker(monkeypatch):
    monkeypatch.setattr(_utils, "MP_STATUS_CHECK_INTERVAL", 0.5)
    it = iter(DataLoader(Sleeps(), num_workers=1, timeout=0.2))
    workers = list(it._workers)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        next(it)
    del it  # garbage collected: its worker (asleep in __getitem__) is terminated, not left behind
    assert not any(w.is_alive() for w in workers)


# ---------------------------------------------------------------------- persistent workers, shutdown
def test_persistent_workers_keep_their_processes_and_dataset_copies():
    loader = DataLoader(Counter(6), batch_size=2, num_workers=2, persistent_workers=True)
    first = list(loader)
    workers = list(loader._iterator._workers)
    for _ in zip(range(1), loader):  # an epoch cut short: its prefetched batches must not leak into the next
        pass
    second = list(loader)
    assert [b[0].tolist() for b in first] == [b[0].tolist() for b in second] == [[0, 1], [2, 3], [4, 5]]
    assert {b[1][0].item() for b in first} == {b[1][0].item() for b in second} == {w.pid for w in workers}
    assert all(w.is_alive() for w in workers)
    made_first = sum(b[2].max().item() for b in first)
    assert sum(b[2].max().item() for b in second) > made_first  # the same copies went on counting
    loader._iterator._shutdown_workers()  # (what a KeyboardInterrupt does): the next epoch starts new workers
    assert not any(w.is_alive() for w in workers)
    assert [b[0].tolist() for b in loader] == [[0, 1], [2, 3], [4, 5]]
    workers = list(loader._iterator._workers)
    del loader  # the loader holds its persistent iterator: both go, and the workers with them
    assert not any(w.is_alive() for w in workers)


def test_workers_end_with_the_epoch_and_with_the_iterator():
    loader = DataLoader(range(10), batch_size=2, num_workers=2)
    it = iter(loader)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    list(it)
    assert not any(w.is_alive() for w in workers)  # exhausted: shut down at once
    it = iter(loader)
    next(it)
    workers = list(it._workers)
    del it  # dropped half-way: garbage collected (no reference cycle), workers shut down
    assert not any(w.is_alive() for w in workers)
    assert all(w.exitcode == 0 for w in workers)  # they exited, they were not killed


def test_an_iterator_caught_in_a_reference_cycle_still_shuts_down_cleanly():
    import gc

    it = iter(DataLoader(range(10), batch_size=2, num_workers=1))
    next(it)
    workers = list(it._workers)
    holder = {"iterator": it}
    holder["itself"] = holder  # as a traceback kept in a local would do
    del it, holder
    start = time.monotonic()
    gc.collect()
    assert not any(w.is_alive() for w in workers) and all(w.exitcode == 0 for w in workers)
    assert time.monotonic() - start < _utils.MP_STATUS_CHECK_INTERVAL  # told to stop, not timed out and killed


SCRIPT = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    import tapegrad as tg
    from tapegrad.utils.data import DataLoader, Dataset, _utils
    _utils.MP_STATUS_CHECK_INTERVAL = 0.2

    class Slow(Dataset):
        def __len__(self): return 1000
        def __getitem__(self, i):
            if {raise_at} is not None and i == {raise_at}:
                raise ValueError("bad sample")
            time.sleep(0.05)
            return i

    it = iter(DataLoader(Slow(), batch_size=2, num_workers=2))
    try:
        print(" ".join(str(w.pid) for w in it._workers), flush=True)
        for batch in it:
            pass
    except KeyboardInterrupt:
        print("interrupted", [w.is_alive() for w in it._workers], flush=True)
        raise
""")


def _run(raise_at=None):
    code = SCRIPT.format(root=ROOT, raise_at=raise_at)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    return proc, pids


def _gone(pid, within=10.0):
    """Whether process pid has exited (or is a zombie nobody reaped) within that many seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_orphans_on_ctrl_c_uncaught_error_or_killed_main_process():
    (ctrl_c, ctrl_c_pids), (error, error_pids), (killed, killed_pids) = _run(), _run(raise_at=5), _run()
    time.sleep(0.3)  # all three started at once: they are busy loading
    os.killpg(ctrl_c.pid, signal.SIGINT)  # Ctrl-C: the whole process group
    os.kill(killed.pid, signal.SIGKILL)  # nothing runs in the main process: its workers notice on their own

    out, err = ctrl_c.communicate(timeout=30)
    assert "interrupted [False, False]" in out and "KeyboardInterrupt" in err
    assert err.count("Traceback") == 1  # the main process's; the workers stayed quiet
    out, err = error.communicate(timeout=30)
    assert error.returncode == 1 and "ValueError: bad sample" in err and "raised by dataset[5] (Slow)" in err
    killed.communicate(timeout=30)
    assert all(_gone(p) for p in ctrl_c_pids + error_pids + killed_pids)


# ---------------------------------------------------------------------- other start methods
def test_spawn_start_method():
    ds = TensorDataset(tg.arange(6.0), tg.arange(6))
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]


# ---------------------------------------------------------------------- the transport, in one process
@pytest.mark.parametrize("raw", [True, False], ids=["posix-pipe", "connection"])
def test_transport_round_trip_keeps_structure_dtypes_and_identity(raw, monkeypatch):
    import multiprocessing

    monkeypatch.setattr(transport, "_RAW", raw and sys.platform != "win32")  # False: what Windows uses

    reader, writer = multiprocessing.Pipe(duplex=False)
    t = tg.arange(6, dtype=tg.int16).reshape(2, 3)
    leaf = tg.ones(2, requires_grad=True)
    big = tg.arange(100_000, dtype=tg.float64)  # more than a pipe holds: written and read in pieces
    batch = {"t": t, "again": t, "big": big, "view": tg.arange(10.0)[::3], "scalar": tg.tensor(2.5, dtype=tg.float64),
             "empty": tg.zeros(0, 4), "bool": tg.tensor([True, False]), "leaf": leaf,
             "array": np.arange(4, dtype=np.uint8).reshape(2, 2).T, "objects": np.array([{"a": 1}], dtype=object),
             "text": ("a", b"b", 3, 4.5, None)}
    sender = threading.Thread(target=transport.send, args=(writer, transport.encode((7, batch))))
    sender.start()  # the batch is bigger than the pipe: written while it is read
    idx, got = transport.receive(reader)
    sender.join()
    assert idx == 7 and got["text"] == batch["text"] and got["objects"][0] == {"a": 1}
    assert got["t"] is got["again"] and got["t"].dtype == np.int16 and got["t"].tolist() == t.tolist()
    assert got["view"].tolist() == [0.0, 3.0, 6.0, 9.0] and got["scalar"].shape == () and got["scalar"].item() == 2.5
    assert got["empty"].shape == (0, 4) and got["bool"].dtype == np.bool_ and got["big"].tolist() == big.tolist()
    assert got["leaf"].requires_grad and got["leaf"].is_leaf
    assert isinstance(got["array"], np.ndarray) and got["array"].tolist() == [[0, 2], [1, 3]]
    reader.close()
    writer.close()


def test_default_collate_is_the_same_function_in_workers():
    from tapegrad.utils.data._utils import collate

    assert collate.default_collate is default_collate


@given(st.lists(st.tuples(st.sampled_from(["bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                                           "float32", "float64"]),
                          st.lists(st.integers(0, 3), max_size=3), st.booleans()), max_size=5))
def test_transport_round_trips_any_arrays(specs):
    import multiprocessing

    rng = np.random.default_rng(0)
    values = []
    for dtype, shape, as_tensor in specs:
        a = np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
        values.append(tg.from_numpy(a) if as_tensor else a)
    reader, writer = multiprocessing.Pipe(duplex=False)
    try:
        transport.send(writer, transport.encode(values))
        got = transport.receive(reader)
    finally:
        reader.close()
        writer.close()
    assert len(got) == len(values)
    for g, v in zip(got, values, strict=True):
        assert type(g) is type(v)
        a, b = (g.numpy(), v.numpy()) if isinstance(v, tg.Tensor) else (g, v)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_numpy_seed_words_match_pytorchs():
    pytest.importorskip("torch")
    from torch.utils.data._utils.worker import _generate_state as theirs

    for base_seed in (0, 1, 2**32 - 1, 2**32, 123456789012345, 2**63 - 1):
        for worker_id in (0, 1, 7):
            assert _generate_state(base_seed, worker_id) == theirs(base_seed, worker_id)


def test_the_workers_benchmark_checks_its_batches():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import data_workers
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    _, _, datasets = data_workers.make_datasets(100)
    data_workers.check_same_batches(datasets)  # raises SystemExit if a worker count changes the batches
