"""save / load: round trips of nested structures and every dtype, atomic writes, truncated, corrupted and
foreign files (never unpickled), and resuming training from a checkpoint bit-identically."""

import io
import json
import math
import os
import re
import stat
import struct
import zipfile
from collections import Counter, OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.optim import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop
from tapegrad.optim.lr_scheduler import CosineAnnealingLR, MultiStepLR, OneCycleLR, ReduceLROnPlateau
from tapegrad.testing import arrays, shapes


def assert_same(got, want, where="obj"):
    """Deep equality that also checks types, dtypes, shapes and requires_grad; NaN equals NaN."""
    assert type(got) is type(want) or (isinstance(want, tg.Tensor) and type(got) is tg.Tensor), \
        f"{where}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, tg.Tensor):
        assert got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape), where
        assert got.requires_grad == want.requires_grad and got.is_leaf, where
        np.testing.assert_array_equal(got._data, want._data, err_msg=where)
    elif isinstance(want, (np.ndarray, np.generic)):
        assert got.dtype == want.dtype and got.shape == want.shape, where
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            assert type(next(x for x in got if x == k)) is type(k), f"{where}: key {k!r}"
            assert_same(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got), where
    else:
        assert got == want, where
        if isinstance(want, float):
            assert math.copysign(1, got) == math.copysign(1, want), where


def round_trip(obj, **load_kw):
    buf = io.BytesIO()
    tg.save(obj, buf)
    buf.seek(0)
    return tg.load(buf, **load_kw)


# ---------------------------------------------------------------------- round trips
def test_nested_structures_round_trip():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    obj = {
        "tensor": x,
        "list": [1, 2.5, -0.0, float("inf"), float("nan"), None, True, False, "text é ✓", 2 ** 100],
        "tuple": (tg.zeros(2, 3, dtype=tg.float64), ("nested", (1,))),
        "ordered": OrderedDict([("b", 1), ("a", tg.ones(1))]),
        "counter": Counter([3, 3, 5]),
        "array": np.arange(6).reshape(2, 3),
        "numpy scalar": np.float32(1.5),
        3: "an int key",
        -1: {0: tg.tensor([7], dtype=tg.int32)},
        (1, "k"): "a tuple key",
        2.5: "a float key",
        None: "a None key",
        "empty": [[], (), {}],
    }
    assert_same(round_trip(obj), obj)


@pytest.mark.parametrize("dtype", [tg.bool, tg.uint8, tg.int8, tg.int16, tg.int32, tg.int64, tg.float16,
                                   tg.float32, tg.float64])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3, 4)])
def test_every_dtype_and_shape(dtype, shape):
    values = (np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)
    t = tg.tensor(values)
    got = round_trip({"t": t, "a": values})
    assert_same(got, {"t": t, "a": values})


def test_non_contiguous_arrays():
    base = np.arange(24.0).reshape(4, 6)
    views = [base.T, base[::2, 1::3], base[:, ::-1]]
    got = round_trip([tg.tensor(v) for v in views] + views)
    for g, v in zip(got, views + views):
        np.testing.assert_array_equal(g._data if isinstance(g, tg.Tensor) else g, v)


def test_requires_grad_and_leaves():
    leaf = tg.tensor([1.0, 2.0], requires_grad=True)
    nonleaf = leaf * 2
    leaf.grad = tg.ones(2)
    got = round_trip({"leaf": leaf, "nonleaf": nonleaf, "ints": tg.tensor([1, 2]), "plain": tg.ones(1)})
    assert got["leaf"].requires_grad and got["leaf"].is_leaf and got["leaf"].grad is None
    assert got["nonleaf"].requires_grad and got["nonleaf"].is_leaf  # as PyTorch: kept as a leaf
    assert not got["ints"].requires_grad and not got["plain"].requires_grad
    (got["leaf"] * got["leaf"]).sum().backward()  # usable in a graph
    np.testing.assert_array_equal(got["leaf"].grad.numpy(), [2.0, 4.0])


def test_parameters_come_back_as_tensors():
    p = tg.nn.Parameter(tg.ones(2)) if hasattr(tg.nn, "Parameter") else tg.ones(2, requires_grad=True)
    got = round_trip({"p": p})["p"]
    assert isinstance(got, tg.Tensor) and got.requires_grad
    np.testing.assert_array_equal(got.detach().numpy(), [1.0, 1.0])


def test_shared_tensors_and_arrays_stay_shared():
    x = tg.tensor([1.0, 2.0])
    got = round_trip({"a": x, "b": [x, x.detach()]})
    assert got["a"] is got["b"][0]
    assert got["b"][1] is not got["a"]
    got["b"][1]._data[0] = 5.0  # x.detach() shares x's array; so do the loaded ones
    assert got["a"]._data[0] == 5.0


def test_loaded_tensors_are_writable_and_own_their_memory():
    got = round_trip([tg.ones(3)])[0]
    got.add_(1)
    np.testing.assert_array_equal(got.numpy(), [2.0, 2.0, 2.0])


def test_deterministic_bytes():
    obj = {"w": tg.ones(2, 2), "step": 3}
    a, b = io.BytesIO(), io.BytesIO()
    tg.save(obj, a)
    tg.save(obj, b)
    assert a.getvalue() == b.getvalue()


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True), st.text(max_size=5),
    st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.int8]).flatmap(
        lambda dt: arrays(shape=shapes(max_dims=2, max_side=3), dtype=dt)).map(tg.tensor),
    arrays(shape=shapes(max_dims=2, max_side=3)),
)
keys = st.one_of(st.text(max_size=4), st.integers(-5, 5), st.tuples(st.integers(0, 3), st.text(max_size=2)))
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.lists(kids, max_size=3).map(tuple),
    st.dictionaries(keys, kids, max_size=3), st.dictionaries(keys, kids, max_size=3).map(OrderedDict)),
    max_leaves=8)


@given(trees)
def test_random_structures_round_trip(obj):
    assert_same(round_trip(obj), obj)


# ---------------------------------------------------------------------- paths and file objects
def test_paths_and_file_objects(tmp_path):
    obj = {"w": tg.arange(4.0), "n": 1}
    path = tmp_path / "ck.pt"
    tg.save(obj, path)  # pathlib
    assert_same(tg.load(path), obj)
    tg.save(obj, str(path))
    assert_same(tg.load(str(path)), obj)
    assert_same(tg.load(os.fsencode(path)), obj)
    with open(path, "wb") as f:
        f.write(b"header")  # saving into an open file at an offset
        tg.save(obj, f)
    with open(path, "rb") as f:
        f.seek(6)
        assert_same(tg.load(f), obj)

    class Stream:  # read-only, not seekable
        def __init__(self, data):
            self.buf = io.BytesIO(data)

        def read(self, n=-1):
            return self.buf.read(n)

    buf = io.BytesIO()
    tg.save(obj, buf)
    assert_same(tg.load(Stream(buf.getvalue())), obj)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_overwriting_keeps_the_file_mode_and_writes_through_symlinks(tmp_path):
    path = tmp_path / "ck.pt"
    tg.save({"v": 1}, path)
    os.chmod(path, 0o600)
    tg.save({"v": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    link = tmp_path / "latest.pt"
    os.symlink(path, link)
    tg.save({"v": 3}, link)
    assert os.path.islink(link) and tg.load(path) == {"v": 3}


# ---------------------------------------------------------------------- atomicity
def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    tg.save({"w": tg.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="save: cannot save an object of type function at obj\\['f'\\]"):
        tg.save({"w": tg.zeros(3), "f": lambda: 0}, path)
    assert path.read_bytes() == before

    real = np.lib.format.write_array
    calls = []

    def failing_write(fp, array, **kw):  # the disk fills up after the first array
        calls.append(1)
        if len(calls) > 1:
            fp.write(b"partial")
            raise OSError(28, "No space left on device")
        return real(fp, array, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(OSError, match="No space left on device"):
        tg.save({"a": tg.zeros(100), "b": tg.zeros(100)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ck.pt"]  # no temporary file left behind
    assert_same(tg.load(path), {"w": tg.ones(3)})


def test_an_interrupted_save_to_a_new_path_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"a": tg.zeros(2)}, tmp_path / "new.pt")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------- temporaries of killed saves
WRITER = r"""
import os, sys
import numpy as np
import tapegrad as tg

real = np.lib.format.write_array

def write_then(fp, array, **kw):
    print("writing", flush=True)
    if sys.argv[2] == "die":
        fp.write(b"partial data")
        os._exit(9)  # killed in the middle of a save: no cleanup runs
    sys.stdin.readline()  # a live writer, paused until the test lets it finish
    return real(fp, array, **kw)

np.lib.format.write_array = write_then
tg.save({"by": "the writer", "w": tg.ones(2)}, sys.argv[1])
"""


def start_writer(path, mode):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout.readline() == "writing\n"
    return proc


def temporaries(directory):
    return sorted(p for p in os.listdir(directory) if p.endswith(".tmp"))


@pytest.mark.skipif(os.name != "posix", reason="liveness is asked with os.kill(pid, 0)")
def test_the_next_save_removes_the_temporaries_of_killed_saves(tmp_path):
    path = tmp_path / "ck.pt"
    tg.save({"v": 1}, path)
    killed = start_writer(path, "die")
    assert killed.wait() == 9
    left = temporaries(tmp_path)
    host = tg.serialization._host_tag()
    assert len(left) == 1 and re.fullmatch(rf"\.ck\.pt\.tapegrad-{re.escape(host)}-{killed.pid}-[0-9a-f]{{8}}\.tmp",
                                           left[0]), left
    assert tg.load(path) == {"v": 1}  # the old file is intact
    tg.save({"v": 2}, path)
    assert temporaries(tmp_path) == [] and tg.load(path) == {"v": 2}


@pytest.mark.skipif(os.name != "posix", reason="liveness is asked with os.kill(pid, 0)")
def test_a_live_writers_temporary_is_left_alone(tmp_path):
    path = tmp_path / "ck.pt"
    live = start_writer(path, "wait")
    try:
        mine = temporaries(tmp_path)
        assert len(mine) == 1 and f"-{live.pid}-" in mine[0]
        tg.save({"v": 2}, path)
        assert temporaries(tmp_path) == mine and tg.load(path) == {"v": 2}
    finally:
        live.stdin.write("go\n")
        live.stdin.close()
        assert live.wait() == 0
    assert temporaries(tmp_path) == [] and tg.load(path)["by"] == "the writer"


@pytest.mark.skipif(os.name != "posix", reason="liveness is asked with os.kill(pid, 0)")
def test_only_this_hosts_temporaries_of_this_path_are_removed(tmp_path):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    host = tg.serialization._host_tag()
    names = {
        f".ck.pt.tapegrad-{host}-{dead}-0123abcd.tmp": False,  # a dead writer's: removed
        f".ck.pt.tapegrad-{host}-{os.getpid()}-0123abcd.tmp": True,  # a live one's (this process)
        f".ck.pt.tapegrad-{host}-0-0123abcd.tmp": True,  # pid 0 is never asked about
        f".ck.pt.tapegrad-otherhost-{dead}-0123abcd.tmp": True,  # another machine's: its pids mean nothing here
        f".ck.pt.tapegrad-{host}-{dead}-0123abcd.tmp.bak": True,  # not a temporary name
        f".other.pt.tapegrad-{host}-{dead}-0123abcd.tmp": True,  # another path's
        f".ck.pt.{dead}.0123abcd.tmp": True,  # an older tapegrad's, which named no host
    }
    for name in names:
        (tmp_path / name).write_bytes(b"partial")
    tg.save({"v": 1}, tmp_path / "ck.pt")
    assert sorted(os.listdir(tmp_path)) == sorted(["ck.pt"] + [n for n, keep in names.items() if keep])


def test_long_file_names_keep_their_temporaries_within_the_limit(tmp_path):
    path = tmp_path / ("n" * 200 + ".pt")
    tg.save({"v": 1}, path)
    assert tg.load(path) == {"v": 1} and os.listdir(tmp_path) == [path.name]


# ---------------------------------------------------------------------- truncated, corrupted and foreign files
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ck.pt"
    tg.save({"w": tg.arange(50.0), "b": tg.ones(3), "step": 7}, path)
    return path


@pytest.mark.parametrize("keep", [0.5, 0.9, -1, 30])
def test_truncated_files(saved, keep):
    data = saved.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    saved.write_bytes(data[:n])
    with pytest.raises(RuntimeError, match=f"load: {saved} is truncated or corrupted"):
        tg.load(saved)


def test_a_corrupted_array_fails_its_checksum(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("tapegrad/arrays/0.npy")
    # the payload starts after the member's local header (30 bytes + name + extra) and the .npy header (128)
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 128 + 17
    data[at] ^= 0x40
    saved.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match=f"load: {saved} is truncated or corrupted: Bad CRC-32"):
        tg.load(saved)


def test_a_corrupted_index_is_reported(tmp_path):
    for text, match in [(b"{not json", "is not valid JSON"), (b'{"magic": "other"}', "has no magic"),
                        (b'{"magic": "tapegrad-checkpoint", "version": 9, "arrays": []}', "format version 9"),
                        (b'{"magic": "tapegrad-checkpoint", "version": 1, "arrays": [], "root": {"$": "tensor", '
                         b'"array": 3, "id": 0}}', "reference to array 3, but there are 0 arrays"),
                        (b'{"magic": "tapegrad-checkpoint", "version": 1, "arrays": [], "root": {"$": "set"}}',
                         "unknown node type 'set'")]:
        path = tmp_path / "bad.pt"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("tapegrad/checkpoint.json", text)
        with pytest.raises(RuntimeError, match=f"load: {path} .*{match}"):
            tg.load(path)


def test_an_index_that_disagrees_with_its_array(saved):
    with zipfile.ZipFile(saved) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    index = json.loads(members["tapegrad/checkpoint.json"])
    index["arrays"][0]["shape"] = [49]
    members["tapegrad/checkpoint.json"] = json.dumps(index).encode()
    with zipfile.ZipFile(saved, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(RuntimeError, match=r"array member tapegrad/arrays/0.npy holds <f4 \[50\] but the index"):
        tg.load(saved)


@pytest.mark.parametrize("content,match", [
    (b"", "is empty \\(0 bytes\\)"),
    (b"hello, this is a text file\n", "not a tapegrad checkpoint: it is not a zip archive \\(it starts with "
                                      "b'hell'\\)"),
    (bytes(range(256)) * 4, "not a tapegrad checkpoint: it is not a zip archive"),
])
def test_foreign_files(tmp_path, content, match):
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(RuntimeError, match=f"load: {path} (is|.*){match}"):
        tg.load(path)


def test_an_npz_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.ones(3))
    with pytest.raises(RuntimeError, match=f"load: {path} is a zip archive but not a tapegrad checkpoint: it has no "
                                           "tapegrad/checkpoint.json"):
        tg.load(path)


def test_a_pytorch_checkpoint_is_recognised_but_not_unpickled(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="looks like a PyTorch checkpoint, which cannot be read without "
                                           "unpickling"):
        tg.load(path)


class _Exploit:
    ran = False

    def __reduce__(self):
        return (_Exploit._run, ())

    @staticmethod
    def _run():
        _Exploit.ran = True
        return 0


def test_pickled_object_arrays_are_never_unpickled(tmp_path):
    payload = io.BytesIO()
    np.save(payload, np.array([_Exploit()], dtype=object), allow_pickle=True)
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tapegrad/checkpoint.json", json.dumps(
            {"magic": "tapegrad-checkpoint", "version": 1, "arrays": [{"dtype": "|O", "shape": [1]}],
             "root": {"$": "ndarray", "array": 0}}))
        zf.writestr("tapegrad/arrays/0.npy", payload.getvalue())
    with pytest.raises(tg.serialization.CheckpointError, match=r"evil.pt is refused: array member "
                       r"tapegrad/arrays/0.npy has dtype object \(Python objects\); a checkpoint holds only "):
        tg.load(path, weights_only=False)
    assert not _Exploit.ran


# ---------------------------------------------------------------------- hostile files: array members
CheckpointError = tg.serialization.CheckpointError


def npy_member(header, data=b""):
    """A .npy member with a header dict written as text (1.0 format), followed by ``data``."""
    text = header.encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def write_checkpoint(path, arrays, root=None, specs=None):
    """A checkpoint whose array members are the given bytes; the index describes them as ``specs``."""
    if specs is None:
        specs = [{"dtype": "<f4", "shape": [3]}] * len(arrays)
    if root is None:
        root = {"$": "list", "items": [{"$": "ndarray", "array": n} for n in range(len(arrays))]}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tapegrad/checkpoint.json", json.dumps(
            {"magic": "tapegrad-checkpoint", "version": 1, "arrays": specs, "root": root}))
        for n, data in enumerate(arrays):
            zf.writestr(f"tapegrad/arrays/{n}.npy", data)
    return path


REFUSED = [np.dtype("<U3"), np.dtype("S4"), np.dtype([("a", "<f4"), ("b", "<i8")]), np.dtype("datetime64[s]"),
           np.dtype("timedelta64[ms]"), np.dtype("V8"), np.dtype(object), np.dtype(np.longdouble),
           np.dtype(np.complex64), np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64),
           np.dtype(("<f4", (2,)))]


@pytest.mark.parametrize("dtype", REFUSED, ids=str)
def test_members_of_other_dtypes_are_refused(tmp_path, dtype):
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (2,)}
    path = write_checkpoint(tmp_path / "ck.pt", [npy_member(repr(header), b"\0" * 2 * dtype.itemsize)],
                            specs=[{"dtype": dtype.str, "shape": [2]}])
    with pytest.raises(CheckpointError, match=f"load: {path} is refused: array member tapegrad/arrays/0.npy has "
                                              f"dtype .*; a checkpoint holds only tapegrad's dtypes"):
        tg.load(path)


@pytest.mark.parametrize("dtype", REFUSED[:-1], ids=str)  # (a subarray dtype makes a float32 array)
def test_arrays_of_other_dtypes_are_not_saved(dtype):
    with pytest.raises(TypeError, match=r"save: cannot save an array of dtype .* at obj\['x'\]; a checkpoint holds "
                                        r"only tapegrad's dtypes"):
        tg.save({"x": np.zeros(2, dtype)}, io.BytesIO())


def test_numpy_strings_are_saved_as_str():
    got = round_trip({"name": np.str_("relu")})
    assert got == {"name": "relu"} and type(got["name"]) is str


def test_big_endian_arrays_round_trip_and_tensors_come_back_native():
    big = np.arange(6, dtype=">f4").reshape(2, 3)
    got = round_trip({"a": big})["a"]
    assert got.dtype == big.dtype and got.dtype.byteorder == ">"
    np.testing.assert_array_equal(got, big)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, big)
    path = io.BytesIO()
    write_checkpoint(path, [buf.getvalue()], specs=[{"dtype": ">f4", "shape": [2, 3]}],
                     root={"$": "tensor", "array": 0, "id": 0, "requires_grad": True})
    path.seek(0)
    t = tg.load(path)
    assert t.dtype == tg.float32 and t.requires_grad
    np.testing.assert_array_equal(t.detach().numpy(), big)


def test_fortran_order_members_round_trip():
    f = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    got = round_trip({"f": f, "t": tg.tensor(np.arange(6).reshape(2, 3)).t()})
    np.testing.assert_array_equal(got["f"], f)
    assert got["f"].flags.f_contiguous
    np.testing.assert_array_equal(got["t"].numpy(), np.arange(6).reshape(2, 3).T)


@pytest.mark.parametrize("shape,data_bytes", [
    ((10 ** 12,), 12),  # a 300-byte file declaring a trillion elements
    ((3,), 8),  # one element short
    ((3,), 16),  # trailing data
    ((0,), 4),
    ((), 0),
])
def test_declared_sizes_must_match_the_stored_data(tmp_path, shape, data_bytes):
    import tracemalloc

    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    path = write_checkpoint(tmp_path / "ck.pt", [npy_member(repr(header), b"\0" * data_bytes)],
                            specs=[{"dtype": "<f4", "shape": list(shape)}])
    assert os.path.getsize(path) < 600
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=f"load: {path} is truncated or corrupted: array member "
                                                  "tapegrad/arrays/0.npy declares <f4 .* bytes\\) but stores "
                                                  f"{data_bytes} bytes of data"):
            tg.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # nothing near the declared size was ever allocated


@pytest.mark.parametrize("shape", ["(0, 2 ** 63)", "(0, 2 ** 40, 2 ** 40)", "(2 ** 62, 2 ** 62)"])
def test_shapes_must_be_possible_arrays(tmp_path, shape):  # even empty ones: numpy's limit
    path = write_checkpoint(tmp_path / "ck.pt",
                            [npy_member(f"{{'descr': '<f4', 'fortran_order': False, 'shape': {eval(shape)}, }}")],
                            specs=[{"dtype": "<f4", "shape": list(eval(shape))}])
    with pytest.raises(CheckpointError, match="array member tapegrad/arrays/0.npy declares the shape .*, larger than "
                                              "any array can be"):
        tg.load(path)


@pytest.mark.parametrize("shape", ["(-3,)", "(True, 2)", "(2, -1)"])
def test_negative_and_non_integer_dimensions_are_refused(tmp_path, shape):
    path = write_checkpoint(tmp_path / "ck.pt",
                            [npy_member(f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}")])
    with pytest.raises(CheckpointError, match=r"array member tapegrad/arrays/0.npy declares the shape .*; "
                                              "dimensions must be non-negative integers"):
        tg.load(path)


@pytest.mark.parametrize("header,match", [
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "-" * 3000 + "1,), }", "RecursionError"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1+" * 3000 + "1,), }", "RecursionError"),
    ("{'descr': '<f4', 'fortran_order': 1, 'shape': (3,), }", "fortran_order is not a valid bool"),
    ("{'descr': '<f4', 'shape': (3,), }", "ValueError"),
    ("{'descr': 5, 'fortran_order': False, 'shape': (3,), }", "descr is not a valid dtype"),
    ("not a dict at all", "Cannot parse header"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" + " " * 20000, "Header info length"),
])
def test_invalid_npy_headers_are_reported(tmp_path, header, match):
    path = write_checkpoint(tmp_path / "ck.pt", [npy_member(header, b"\0" * 12)])
    with pytest.raises(CheckpointError, match=f"load: {path} is truncated or corrupted: array member "
                                              f"tapegrad/arrays/0.npy has an invalid .npy header .*{match}"):
        tg.load(path)


def test_unknown_npy_versions_are_refused(tmp_path):
    member = bytearray(npy_member("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", b"\0" * 12))
    member[6] = 9
    path = write_checkpoint(tmp_path / "ck.pt", [bytes(member)])
    with pytest.raises(CheckpointError, match=r"tapegrad/arrays/0.npy has .npy format version \(9, 0\)"):
        tg.load(path)


def test_a_numpy_scalar_must_refer_to_a_0d_array(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros(3, np.float32))
    path = write_checkpoint(tmp_path / "ck.pt", [buf.getvalue()], root={"$": "numpy_scalar", "array": 0})
    with pytest.raises(CheckpointError, match=r"a numpy scalar refers to an array of shape \[3\]"):
        tg.load(path)


# ---------------------------------------------------------------------- hostile files: the archive and its index
def zip_fields(data):
    """{member name: (offset of its local header, offset of its central directory entry)} of a zip's bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos, at = zf.infolist(), zf.start_dir
    fields = {}
    for info in infos:
        fields[info.filename] = (info.header_offset, at)
        n, m, k = struct.unpack("<3H", data[at + 28:at + 34])
        at += 46 + n + m + k
    return fields


def patched(data, name, local=None, central=None):
    """``data`` with fields of member ``name`` overwritten: {offset in the header: (struct format, value)}."""
    data = bytearray(data)
    where = zip_fields(bytes(data))[name]
    for base, edits in zip(where, (local, central)):
        for offset, (fmt, value) in (edits or {}).items():
            struct.pack_into(fmt, data, base + offset, value)
    return bytes(data)


@pytest.fixture
def good():
    buf = io.BytesIO()
    tg.save({"w": tg.arange(6.0).reshape(2, 3), "b": tg.ones(3), "step": 7}, buf)
    return buf.getvalue()


def load_bytes(data, name="ck.pt"):
    buf = io.BytesIO(data)
    buf.name = name
    return tg.load(buf)


@pytest.mark.parametrize("method,label", [(zipfile.ZIP_DEFLATED, "deflate"), (zipfile.ZIP_BZIP2, "bzip2"),
                                          (zipfile.ZIP_LZMA, "lzma")])
def test_compressed_members_are_refused(good, method, label):
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(buf, "w", compression=method) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(CheckpointError, match=f"load: ck.pt is refused: member tapegrad/checkpoint.json is "
                                              f"compressed \\(method {method}, {label}\\); tapegrad writes only "
                                              "stored members"):
        load_bytes(buf.getvalue())


def test_unknown_compression_methods_and_encryption_are_refused(good):
    member = "tapegrad/arrays/0.npy"
    bad = patched(good, member, local={8: ("<H", 99)}, central={10: ("<H", 99)})
    with pytest.raises(CheckpointError, match=f"is refused: member {member} is compressed \\(method 99, unknown\\)"):
        load_bytes(bad)
    bad = patched(good, member, local={6: ("<H", 1)}, central={8: ("<H", 1)})
    with pytest.raises(CheckpointError, match=f"is refused: member {member} is encrypted"):
        load_bytes(bad)


def test_duplicate_members_are_refused(good):
    buf = io.BytesIO(good)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("tapegrad/arrays/1.npy", b"another")
    with pytest.raises(CheckpointError, match="load: ck.pt is refused: it has two members named "
                                              "tapegrad/arrays/1.npy"):
        load_bytes(buf.getvalue())


def test_members_must_lie_inside_the_archive_and_not_overlap(good):
    member = "tapegrad/arrays/0.npy"
    for size in (2 ** 31, 2 ** 32 - 1):
        bad = patched(good, member, central={20: ("<L", size), 24: ("<L", size)})
        with pytest.raises(CheckpointError, match=f"is truncated or corrupted: member {member} runs past the end"):
            load_bytes(bad)
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        size = zf.getinfo(member).file_size + 40  # into the next member's local header
    bad = patched(good, member, central={20: ("<L", size), 24: ("<L", size)})
    with pytest.raises(CheckpointError, match="is truncated or corrupted: members tapegrad/arrays/0.npy and "
                                              "tapegrad/.* overlap"):
        load_bytes(bad)
    offset = zip_fields(good)[member][0]
    bad = patched(good, "tapegrad/arrays/1.npy", central={42: ("<L", offset)})  # two entries, one local header
    with pytest.raises(CheckpointError, match="is truncated or corrupted: member tapegrad/arrays/1.npy is named "
                                              "'tapegrad/arrays/0.npy' in its local header"):
        load_bytes(bad)


def test_sizes_in_the_zip_directory_cannot_make_load_allocate(tmp_path):
    import tracemalloc

    size = 2 ** 32 - 2  # the largest a zip directory states without zip64
    header = npy_member(f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({size - 128},), }}")
    assert len(header) == 128
    path = write_checkpoint(tmp_path / "ck.pt", [header + b"\0" * 10], specs=[{"dtype": "|u1", "shape": [size - 128]}])
    path.write_bytes(patched(path.read_bytes(), "tapegrad/arrays/0.npy", central={20: ("<L", size), 24: ("<L", size)}))
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="member tapegrad/arrays/0.npy runs past the end of the archive"):
            tg.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("offset,fmt,value,match", [
    (0, "<4s", b"PK\x09\x09", "Bad magic number for central directory"),
    (6, "<H", 90, "NotImplementedError: zip file version 9.0"),
    (42, "<L", 3, "has no local header at offset 3"),
])
def test_zip_level_damage_is_reported_as_corruption(good, offset, fmt, value, match):
    bad = patched(good, "tapegrad/arrays/1.npy", central={offset: (fmt, value)})
    with pytest.raises(CheckpointError, match=f"load: ck.pt is truncated or corrupted: .*{match}"):
        load_bytes(bad)


def test_a_file_name_that_is_not_utf8_is_corruption(good):
    data = bytearray(patched(good, "tapegrad/arrays/1.npy", central={8: ("<H", 0x800)}))
    at = zip_fields(good)["tapegrad/arrays/1.npy"][1] + 46
    data[at] = 0xFF
    with pytest.raises(CheckpointError, match="is truncated or corrupted: UnicodeDecodeError"):
        load_bytes(bytes(data))


def index_file(tmp_path, text):
    path = tmp_path / "ck.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tapegrad/checkpoint.json", text)
    return path


@pytest.mark.parametrize("depth", [513, 5_000, 1_000_000])
def test_deeply_nested_indexes_are_refused_before_parsing(tmp_path, depth):
    body = "[" * depth + "]" * depth
    path = index_file(tmp_path, '{"magic": "tapegrad-checkpoint", "version": 1, "arrays": [], "root": ' + body + "}")
    with pytest.raises(CheckpointError, match=f"load: {path} is refused: its index tapegrad/checkpoint.json nests "
                                              f"{depth + 1} levels deep; checkpoints nest at most 512"):
        tg.load(path)


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    text = json.dumps({"magic": "tapegrad-checkpoint", "version": 1, "arrays": [],
                       "root": {"$": "list", "items": ["[" * 2000, '\\"[[[' * 300, "{"]}})
    assert tg.load(index_file(tmp_path, text)) == ["[" * 2000, '\\"[[[' * 300, "{"]


def test_duplicate_keys_in_the_index_are_corruption(tmp_path):
    text = '{"magic": "tapegrad-checkpoint", "version": 1, "arrays": [], "root": {"$": "list", "$": "tuple", ' \
           '"items": []}}'
    with pytest.raises(CheckpointError, match="is not valid JSON \\(duplicate key in a JSON object"):
        tg.load(index_file(tmp_path, text))


def test_nesting_limits_of_save_and_load_agree():
    deepest = leaf = [tg.ones(1)]
    for _ in range(159):
        deepest = {(("k",),): deepest} if len(str(_)) == 3 else [deepest]
    assert_same(round_trip(deepest), deepest)
    with pytest.raises(ValueError, match="save: the object nests more than 160 containers deep at obj"):
        tg.save([deepest], io.BytesIO())
    dicts = leaf
    for _ in range(159):
        dicts = {"k": dicts}
    assert_same(round_trip(dicts), dicts)
    keyed = {((1,),): 0}  # tuple keys nest too: here the key's innermost tuple is the 160th container
    for _ in range(157):
        keyed = [keyed]
    assert_same(round_trip(keyed), keyed)
    with pytest.raises(ValueError, match="nests more than 160 containers deep"):
        tg.save([keyed], io.BytesIO())


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "nope.pt")


# ---------------------------------------------------------------------- what cannot be saved
def test_unsupported_objects():
    with pytest.raises(TypeError, match=r"save: cannot save an object of type set at obj\['a'\]\[1\]"):
        tg.save({"a": [1, {2}]}, io.BytesIO())
    with pytest.raises(TypeError, match=r"save: cannot save an array of dtype object \(Python objects\) at obj; a "
                                        r"checkpoint holds only tapegrad's dtypes \(bool, uint8, "):
        tg.save(np.array([None]), io.BytesIO())
    with pytest.raises(TypeError, match=r"save: cannot save a dict key of type Tensor"):
        tg.save({tg.ones(1): 1}, io.BytesIO())
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match=r"save: the object contains a reference cycle at obj\[1\]"):
        tg.save(loop, io.BytesIO())
    with pytest.raises(TypeError, match="save: f must be a path or a binary file object, got int"):
        tg.save({}, 3)
    with pytest.raises(TypeError, match="load: f must be a path or a binary file object, got float"):
        tg.load(1.5)


def test_numpy_scalar_keys_become_python_keys():
    got = round_trip({np.int64(3): "a", np.float64(0.5): "b"})
    assert got == {3: "a", 0.5: "b"} and type(next(iter(got))) is int


# ---------------------------------------------------------------------- map_location
def test_map_location():
    obj = {"w": tg.ones(2)}
    for loc in (None, "cpu", tg.device("cpu"), {"cuda:0": "cpu"}):
        assert_same(round_trip(obj, map_location=loc), obj)
    assert_same(round_trip(obj, map_location=lambda storage, location: storage), obj)
    doubled = round_trip(obj, map_location=lambda t, location: t * 2)
    np.testing.assert_array_equal(doubled["w"].numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="load: map_location 'cuda:0' is not available; tapegrad runs on the "
                                           "CPU only"):
        round_trip(obj, map_location="cuda:0")
    with pytest.raises(RuntimeError, match="cuda: tapegrad runs on the CPU only"):
        round_trip(obj, map_location=lambda storage, location: storage.cuda())


def test_map_location_as_pytorch_reads_it():
    obj = {"w": tg.ones(2)}
    # a dict maps the location a tensor was saved at; tapegrad saves on the CPU, so only a 'cpu' key matters
    for loc in ({"cuda:0": "cuda:1"}, {"cpu": "cpu"}, {"cpu": tg.device("cpu")}, b"cpu", "cpu:0"):
        assert_same(round_trip(obj, map_location=loc), obj)
    with pytest.raises(RuntimeError, match="load: map_location 'cuda:1' is not available; tapegrad runs on the CPU"):
        round_trip(obj, map_location={"cpu": "cuda:1"})
    with pytest.raises(RuntimeError, match="load: map_location 'mps' is not available"):
        round_trip(obj, map_location="mps")
    assert_same(round_trip(obj, map_location=lambda t, location: None), obj)  # None: the default
    seen = []
    round_trip(obj, map_location=lambda t, location: seen.append(location))
    assert seen == ["cpu"]
    with pytest.raises(TypeError, match="load: map_location returned a list; it must return a tensor or None"):
        round_trip(obj, map_location=lambda t, location: [t])
    with pytest.raises(TypeError, match="load: map_location must be a str, device, dict or callable, got int"):
        round_trip(obj, map_location=3)


def test_map_location_against_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "t.pt"
    torch.save({"w": torch.ones(2)}, path)
    for loc in ("cpu", torch.device("cpu"), {"cuda:0": "cuda:1"}, lambda s, location: None):
        assert torch.load(path, map_location=loc)["w"].tolist() == [1.0, 1.0]
        assert round_trip({"w": tg.ones(2)}, map_location=loc)["w"].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------- PyTorch's other arguments
def test_load_accepts_pytorchs_arguments(tmp_path):
    obj = {"w": tg.arange(4.0), "n": 1}
    path = tmp_path / "ck.pt"
    tg.save(obj, path, pickle_protocol=4, _use_new_zipfile_serialization=False)  # the format is always the same
    for kw in ({}, {"weights_only": True}, {"weights_only": False}, {"weights_only": None},
               {"weights_only": False, "pickle_module": __import__("pickle"), "encoding": "latin1"},
               {"mmap": False}, {"mmap": None}):
        assert_same(tg.load(path, **kw), obj)
    assert_same(tg.load(path, None, None, weights_only=False), obj)
    with pytest.raises(RuntimeError, match="Can not safely load weights when explicit pickle_module is specified"):
        tg.load(path, pickle_module=__import__("pickle"), weights_only=True)


def test_mmap_maps_the_arrays_copy_on_write(tmp_path):
    obj = {"w": tg.arange(12.0).reshape(3, 4), "f": np.asfortranarray(np.arange(6).reshape(2, 3)),
           "empty": tg.zeros(0, 3), "scalar": np.float64(2.5), "shared": [tg.ones(2)] * 2}
    path = tmp_path / "ck.pt"
    tg.save(obj, path)
    got = tg.load(path, mmap=True)
    assert_same(got, obj)
    assert isinstance(got["w"].numpy().base, np.memmap) and got["w"].numpy().flags.writeable
    got["w"].add_(1)  # copy on write: the file is unchanged
    assert_same(tg.load(path), obj)
    with pytest.raises(ValueError, match="load: f must be a file path in order to use the mmap argument"):
        tg.load(io.BytesIO(path.read_bytes()), mmap=True)


def test_mmap_still_verifies_checksums(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("tapegrad/arrays/0.npy")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 128 + 17] ^= 0x40
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is truncated or corrupted: Bad CRC-32"):
        tg.load(saved, mmap=True)


def test_whole_modules_and_optimizers_are_refused_with_the_state_dict_advice():
    model = tg.nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"save: cannot save a whole Linear at obj: tapegrad never pickles objects\. "
                                        r"Save its state instead: tapegrad\.save\(model\.state_dict\(\), f\), and "
                                        r"restore it into a new Linear with "
                                        r"model\.load_state_dict\(tapegrad\.load\(f\)\)"):
        tg.save(model, io.BytesIO())
    with pytest.raises(TypeError, match=r"cannot save a whole Sequential at obj\['model'\]: .*model\.state_dict\(\)"):
        tg.save({"model": tg.nn.Sequential(model), "epoch": 3}, io.BytesIO())
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"cannot save a whole SGD at obj\[1\]: .*tapegrad\.save\(optimizer\."
                                        r"state_dict\(\), f\)"):
        tg.save([model.state_dict(), opt], io.BytesIO())
    sched = tg.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.raises(TypeError, match=r"cannot save a whole StepLR at obj: .*tapegrad\.save\(obj\.state_dict"):
        tg.save(sched, io.BytesIO())
    with pytest.raises(TypeError, match="cannot save an object of type object at obj; .*tapegrad never pickles"):
        tg.save(object(), io.BytesIO())
    path_free = io.BytesIO()
    tg.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path_free)  # what the advice says
    path_free.seek(0)
    fresh = tg.nn.Linear(2, 3)
    fresh.load_state_dict(tg.load(path_free)["model"])
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())


def test_safe_globals_are_accepted_and_not_needed():
    from tapegrad import serialization

    serialization.clear_safe_globals()
    serialization.add_safe_globals([OrderedDict, (Counter, "collections.Counter")])
    assert set(serialization.get_safe_globals()) == {OrderedDict, (Counter, "collections.Counter")}
    with serialization.safe_globals([dict]):
        assert dict in serialization.get_safe_globals()
        assert_same(round_trip({"a": OrderedDict(b=tg.ones(1))}), {"a": OrderedDict(b=tg.ones(1))})
    assert dict not in serialization.get_safe_globals()
    serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []


def test_safe_globals_as_pytorch():
    torch = pytest.importorskip("torch")
    from tapegrad import serialization

    for api in (torch.serialization, serialization):
        api.clear_safe_globals()
        api.add_safe_globals([OrderedDict])
        with api.safe_globals([Counter]):
            assert set(api.get_safe_globals()) == {OrderedDict, Counter}
        assert api.get_safe_globals() == [OrderedDict]
        api.clear_safe_globals()
        assert api.get_safe_globals() == []


# ---------------------------------------------------------------------- optimizer and scheduler state
def test_optimizer_state_dict_round_trip_keeps_int_keys():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0], requires_grad=True)
    opt = Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], amsgrad=True)
    a.grad, b.grad = tg.ones(2), tg.ones(1)
    opt.step()
    sd = opt.state_dict()
    got = round_trip(sd)
    assert sorted(got["state"]) == [0, 1]
    assert got["param_groups"][1]["betas"] == (0.9, 0.999)
    assert_same(got, sd)


def test_scheduler_state_dicts_round_trip():
    opt = SGD([tg.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    for sched in (MultiStepLR(opt, [2, 2, 5]), ReduceLROnPlateau(opt), OneCycleLR(opt, 1.0, total_steps=9),
                  CosineAnnealingLR(opt, 4)):
        sd = sched.state_dict()
        assert_same(round_trip(sd), sd)


# ---------------------------------------------------------------------- resuming training from a checkpoint
RUNS = [
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True), lambda o: OneCycleLR(o, max_lr=0.1, total_steps=20)),
    (Adam, dict(lr=0.05, amsgrad=True), lambda o: OneCycleLR(o, max_lr=0.1, total_steps=20,
                                                             three_phase=True)),
    (AdamW, dict(lr=0.05), lambda o: CosineAnnealingLR(o, T_max=6)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True), lambda o: MultiStepLR(o, [3, 12], gamma=0.5)),
    (Adagrad, dict(lr=0.1, lr_decay=0.01), None),
    (Adadelta, dict(weight_decay=0.01), "plateau"),
]


@pytest.mark.parametrize("cls,kw,make_sched", RUNS, ids=[r[0].__name__ for r in RUNS])
def test_resuming_from_a_checkpoint_is_bit_identical(tmp_path, cls, kw, make_sched):
    rng = np.random.default_rng(0)
    X = tg.tensor(rng.normal(size=(8, 3)), dtype=tg.float32)  # the parameters' dtype: matmul does not promote
    Y = tg.tensor(rng.normal(size=(8, 2)), dtype=tg.float32)
    W0, b0 = rng.normal(size=(3, 2)), np.zeros(2)

    def fresh():
        W = tg.tensor(W0.astype(np.float32), requires_grad=True)
        b = tg.tensor(b0.astype(np.float32), requires_grad=True)
        opt = cls([{"params": [W]}, {"params": [b], "lr": kw["lr"] * 2 if "lr" in kw else 0.5}], **kw)
        if make_sched == "plateau":
            sched = ReduceLROnPlateau(opt, patience=0, factor=0.9)
        else:
            sched = make_sched(opt) if make_sched else None
        return {"W": W, "b": b}, opt, sched

    def train(model, opt, sched, steps):
        for _ in range(steps):
            opt.zero_grad()
            d = X @ model["W"] + model["b"] - Y
            loss = (d * d).mean()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step(loss.item()) if isinstance(sched, ReduceLROnPlateau) else sched.step()

    model, opt, sched = fresh()
    train(model, opt, sched, 18)
    uninterrupted = {k: v.detach().numpy().copy() for k, v in model.items()}

    model, opt, sched = fresh()
    train(model, opt, sched, 7)
    path = tmp_path / "ck.pt"
    tg.save({"model": model, "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict() if sched else None, "epoch": 7}, path)
    del model, opt, sched

    ck = tg.load(path)
    model, opt, sched = fresh()
    with tg.no_grad():
        for k, v in model.items():
            v.copy_(ck["model"][k])
    opt.load_state_dict(ck["optimizer"])
    if sched is not None:
        sched.load_state_dict(ck["scheduler"])
    assert ck["epoch"] == 7
    train(model, opt, sched, 11)
    for k, v in model.items():
        assert v.dtype == tg.float32
        np.testing.assert_array_equal(v.detach().numpy(), uninterrupted[k])


def test_docstring_examples():
    import doctest

    import tapegrad.serialization as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
