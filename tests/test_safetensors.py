"""tapegrad.safetensors: safetensors.torch's API on the safetensors package's numpy API. Round trips of every
dtype, tied weights (save_model / load_model), refusals (dtypes tapegrad lacks, damaged files, shared or
non-contiguous tensors), atomic writes, and weights moving both ways between PyTorch and tapegrad."""

import io
import json
import os
import struct
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
from tapegrad.serialization import CheckpointError

safetensors = pytest.importorskip("safetensors")
import tapegrad.safetensors as ts  # noqa: E402

DTYPES = [tg.bool, tg.uint8, tg.int8, tg.int16, tg.int32, tg.int64, tg.float16, tg.float32, tg.float64]


def assert_same_tensors(got, want):
    assert list(got) == list(want) or sorted(got) == sorted(want)
    for k in want:
        assert isinstance(got[k], tg.Tensor) and not got[k].requires_grad, k
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape, k
        np.testing.assert_array_equal(got[k].numpy(), want[k].detach().numpy(), err_msg=k)


def raw_file(header, data=b""):
    """A safetensors file's bytes from its header dict (no checks: for crafting files)."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3, 4)])
def test_every_dtype_round_trips(tmp_path, shape):
    tensors = {f"t_{d}": tg.tensor((np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(d)) for d in DTYPES}
    assert_same_tensors(ts.load(ts.save(tensors)), tensors)
    path = tmp_path / "t.safetensors"
    ts.save_file(tensors, path)
    assert_same_tensors(ts.load_file(path), tensors)
    assert_same_tensors(ts.load_file(str(path), device="cpu"), tensors)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.sampled_from(DTYPES).flatmap(
    lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))), max_size=4))
def test_random_dicts_round_trip(named):
    tensors = {k: tg.tensor(v) for k, v in named.items()}
    got = ts.load(ts.save(tensors))
    assert sorted(got) == sorted(tensors)
    assert_same_tensors(got, tensors)


def test_loaded_tensors_own_writable_memory_and_come_in_file_order(tmp_path):
    path = tmp_path / "t.safetensors"
    tensors = {"b": tg.arange(4.0), "a": tg.ones(2, dtype=tg.float64), "c": tg.tensor([1, 2], dtype=tg.int8)}
    ts.save_file(tensors, path)
    got = ts.load_file(path)
    with safetensors.safe_open(path, framework="np") as f:
        assert list(got) == f.offset_keys()
    assert list(ts.load(path.read_bytes())) == list(got)
    got["b"].add_(1)  # writable, and the file is unchanged
    assert ts.load_file(path)["b"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_metadata_is_written(tmp_path):
    path = tmp_path / "t.safetensors"
    ts.save_file({"w": tg.ones(1)}, path, metadata={"format": "pt", "note": "é"})
    with safetensors.safe_open(path, framework="np") as f:
        assert f.metadata() == {"format": "pt", "note": "é"}
    data = ts.save({"w": tg.ones(1)}, metadata={"format": "pt"})
    assert json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])["__metadata__"] == {"format": "pt"}


def test_tapegrad_load_reads_safetensors_paths_as_pytorch_does(tmp_path):
    path = tmp_path / "w.safetensors"
    tensors = {"w": tg.arange(3.0)}
    ts.save_file(tensors, path)
    for loc in (None, "cpu", tg.device("cpu")):
        assert_same_tensors(tg.load(path, map_location=loc), tensors)
    with pytest.raises(RuntimeError, match="Loading safetensors file with dict map_location is not supported"):
        tg.load(path, map_location={"cpu": "cpu"})
    with pytest.raises(RuntimeError, match="Loading safetensors file with callable map_location is not supported"):
        tg.load(path, map_location=lambda s, loc: s)
    with pytest.raises(RuntimeError, match="load_file: device 'cuda' is not available; tapegrad runs on the CPU"):
        tg.load(path, map_location="cuda")


# ---------------------------------------------------------------------- refusals
def test_what_cannot_be_saved():
    with pytest.raises(ValueError, match="save: expected a dict of \\[str, Tensor\\] but received <class 'list'>"):
        ts.save([tg.ones(1)])
    with pytest.raises(ValueError, match="Key `w` is invalid, expected Tensor but received <class 'numpy.ndarray'>"):
        ts.save({"w": np.ones(1)})
    with pytest.raises(ValueError, match="save: key 3 is a int; safetensors names tensors with str keys"):
        ts.save({3: tg.ones(1)})
    with pytest.raises(TypeError, match="save: metadata must be a dict of str to str"):
        ts.save({"w": tg.ones(1)}, metadata={"epoch": 3})
    with pytest.raises(ValueError, match="You are trying to save a non contiguous tensor: `w`"):
        ts.save({"w": tg.ones(2, 3).t()})
    w = tg.ones(4)
    with pytest.raises(RuntimeError, match=r"Some tensors share memory.*\[\{'[ab]', '[ab]'\}\].*use `save_model`"):
        ts.save({"a": w, "b": w.detach()})
    with pytest.raises(RuntimeError, match="Some tensors share memory"):
        ts.save({"a": w, "b": w[1:]})
    halves = ts.load(ts.save({"a": w[:2], "b": w[2:]}))  # one buffer, no overlap: allowed, as in safetensors.torch
    assert halves["a"].tolist() == [1.0, 1.0] and halves["b"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("code,size", [("BF16", 2), ("U16", 2), ("U32", 4), ("U64", 8), ("F8_E4M3", 1),
                                       ("C64", 8)])
def test_dtypes_tapegrad_lacks_are_refused_naming_the_tensor(tmp_path, code, size):
    data = raw_file({"ok": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                     "layer.weight": {"dtype": code, "shape": [2], "data_offsets": [4, 4 + 2 * size]}},
                    b"\0" * (4 + 2 * size))
    path = tmp_path / "t.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=f"load_file: tensor 'layer.weight' in {path} has dtype {code}, which "
                                              "tapegrad does not have; it reads BOOL, U8, I8, I16, I32, I64, F16, "
                                              "F32, F64"):
        ts.load_file(path)
    with pytest.raises(CheckpointError, match=f"load: tensor 'layer.weight' in the data has dtype {code}"):
        ts.load(data)


@pytest.mark.parametrize("damage", ["empty", "short header", "huge header", "truncated", "not json",
                                    "bad offsets"])
def test_damaged_files_are_refused_naming_the_file(tmp_path, damage):
    good = ts.save({"w": tg.arange(4.0)})
    data = {"empty": b"", "short header": b"\x05\0\0\0\0\0\0\0{}", "huge header": b"\xff" * 8 + b"{}",
            "truncated": good[:-3], "not json": struct.pack("<Q", 4) + b"{{{{",
            "bad offsets": raw_file({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 8)}[damage]
    path = tmp_path / "t.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=f"load_file: {path} is not a valid safetensors file: "):
        ts.load_file(path)
    with pytest.raises(CheckpointError, match="load: the data is not a valid safetensors file: "):
        ts.load(data)


def test_devices_other_than_the_cpu_are_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    ts.save_file({"w": tg.ones(1)}, path)
    for device in ("cuda", "cuda:0", 0, "mps"):
        with pytest.raises(RuntimeError, match=f"load_file: device {device!r} is not available; tapegrad runs on "
                                               "the CPU only"):
            ts.load_file(path, device=device)


def test_a_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"tapegrad.safetensors .*: needs safetensors, which is not installed: "
                                          r"pip install safetensors, or pip install tapegrad\[safetensors\]"):
        ts.save({"w": tg.ones(1)})


# ---------------------------------------------------------------------- atomic writes
def test_save_file_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    ts.save_file({"w": tg.ones(2)}, path)
    before = path.read_bytes()
    real = safetensors.numpy.save_file

    def fails_midway(arrays, filename, metadata=None):
        real(arrays, filename, metadata=metadata)
        with open(filename, "r+b") as f:
            f.truncate(10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.numpy, "save_file", fails_midway)
    with pytest.raises(OSError, match="No space left on device"):
        ts.save_file({"w": tg.zeros(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.safetensors"]


def test_the_file_renamed_into_place_is_the_one_flushed_to_disk(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.fstat(fd).st_ino)
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "w.safetensors"
    ts.save_file({"w": tg.ones(2)}, path)  # the safetensors library may write a new file at the temporary's name
    assert os.stat(path).st_ino in synced
    tg.save({"w": tg.ones(2)}, tmp_path / "w.pt")
    assert os.stat(tmp_path / "w.pt").st_ino in synced


# ---------------------------------------------------------------------- models and tied weights
class Tied(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = tg.nn.Embedding(10, 4)
        self.head = tg.nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx):
        return self.head(self.emb(idx))


def test_save_model_keeps_one_name_per_tied_weight(tmp_path):
    model = Tied()
    path = tmp_path / "tied.safetensors"
    ts.save_model(model, path, metadata={"format": "pt"})
    with safetensors.safe_open(path, framework="np") as f:
        assert f.keys() == ["emb.weight"] and f.metadata() == {"format": "pt", "head.weight": "emb.weight"}
    with pytest.raises(RuntimeError, match="Some tensors share memory"):
        ts.save_file(model.state_dict(), path)
    fresh = Tied()
    assert ts.load_model(fresh, path) == (set(), [])
    assert fresh.head.weight is fresh.emb.weight
    np.testing.assert_array_equal(fresh.head.weight.detach().numpy(), model.emb.weight.detach().numpy())


def test_load_model_reports_missing_and_unexpected_names(tmp_path):
    model = tg.nn.Sequential(tg.nn.Linear(3, 2), tg.nn.ReLU(), tg.nn.Linear(2, 1))
    path = tmp_path / "m.safetensors"
    state = dict(model.state_dict())
    del state["2.bias"]
    state["extra"] = tg.ones(1)
    ts.save_file(state, path)
    with pytest.raises(RuntimeError, match='Error\\(s\\) in loading state_dict for Sequential:\n    Missing key\\(s\\) '
                                           'in state_dict: "2.bias"\n    Unexpected key\\(s\\) in state_dict: "extra"'):
        ts.load_model(model, path)
    assert ts.load_model(model, path, strict=False) == ({"2.bias"}, ["extra"])
    ts.save_file({**model.state_dict(), "0.weight": tg.ones(5, 3)}, path)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with shape "
                                           r"tapegrad.Size\(\[5, 3\]\) from checkpoint"):
        ts.load_model(model, path)


def test_save_model_force_contiguous(tmp_path):
    model = tg.nn.Linear(3, 2)
    with tg.no_grad():
        model.weight = tg.nn.Parameter(tg.randn(3, 2).t())
    path = tmp_path / "m.safetensors"
    with pytest.raises(ValueError, match="non contiguous tensor: `weight`.* Or use save_model\\(..., "
                                         "force_contiguous=True\\)"):
        ts.save_model(model, path, force_contiguous=False)
    ts.save_model(model, path)
    fresh = tg.nn.Linear(3, 2)
    ts.load_model(fresh, path)
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())


# ---------------------------------------------------------------------- with PyTorch, both ways
def _pair(kind):
    """The same architecture in PyTorch and in tapegrad, and an input for both."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors.torch")
    rng = np.random.default_rng(0)
    if kind == "mlp":
        def build(nn):
            return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        x = rng.normal(size=(5, 4)).astype(np.float32)
    else:
        def build(nn):
            return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
        x = rng.normal(size=(2, 1, 8, 8)).astype(np.float32)
    theirs, ours = build(torch.nn), build(tg.nn)
    if kind == "cnn":  # non-default statistics, so the buffers matter
        with torch.no_grad():
            theirs[1].running_mean.uniform_(-1, 1)
            theirs[1].running_var.uniform_(0.5, 2)
            theirs[1].num_batches_tracked.fill_(7)
        with tg.no_grad():
            ours[1].running_mean.copy_(tg.rand(4) - 0.5)
    theirs.eval()
    ours.eval()
    return torch, theirs, ours, x


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_pytorch_weights_load_into_the_same_tapegrad_module(tmp_path, kind):
    torch, theirs, ours, x = _pair(kind)
    import safetensors.torch

    path = tmp_path / "from_torch.safetensors"
    safetensors.torch.save_file(theirs.state_dict(), path)
    assert ts.load_model(ours, path) == (set(), [])
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    with tg.no_grad():
        got = ours(tg.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    loaded = ts.load_file(path)
    for k, v in theirs.state_dict().items():
        assert str(loaded[k].dtype).split(".")[-1] == str(v.dtype).split(".")[-1], k
        np.testing.assert_array_equal(loaded[k].numpy(), v.numpy())


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_tapegrad_weights_load_into_the_same_pytorch_module(tmp_path, kind):
    torch, theirs, ours, x = _pair(kind)
    import safetensors.torch

    path = tmp_path / "from_tapegrad.safetensors"
    ts.save_file(ours.state_dict(), path)
    missing, unexpected = safetensors.torch.load_model(theirs, path)
    assert not missing and not unexpected
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    with tg.no_grad():
        got = ours(tg.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert ts.load(safetensors.torch.save(theirs.state_dict())).keys() == ours.state_dict().keys()


def test_tied_weights_move_both_ways_with_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")

    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)
            self.head = torch.nn.Linear(4, 10, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, idx):
            return self.head(self.emb(idx))

    idx = np.array([[1, 2, 3], [9, 0, 4]])
    theirs, ours = TorchTied(), Tied()
    path = tmp_path / "tied.safetensors"
    st_torch.save_model(theirs, path)
    assert ts.load_model(ours, path) == st_torch.load_model(TorchTied(), path)
    with torch.no_grad():
        want = theirs(torch.from_numpy(idx)).numpy()
    np.testing.assert_allclose(ours(tg.tensor(idx)).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    ours = Tied()
    ts.save_model(ours, path)
    theirs = TorchTied()
    assert st_torch.load_model(theirs, path) == (set(), [])
    with torch.no_grad():
        want = theirs(torch.from_numpy(idx)).numpy()
    np.testing.assert_allclose(ours(tg.tensor(idx)).detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(ts)
    assert result.attempted > 0 and result.failed == 0


def test_bytes_and_file_objects_of_pytorch_style_code():
    buf = io.BytesIO(ts.save({"w": tg.ones(2)}))
    assert ts.load(buf.getvalue())["w"].tolist() == [1.0, 1.0]
