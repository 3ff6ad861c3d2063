"""A fuzzer for tapegrad.load: bit flips, truncations, member edits, crafted .npy headers and crafted indexes over
a real checkpoint. Each load either returns exactly what was saved (or, for a crafted file that is valid, exactly
what it declares) or raises the documented CheckpointError; any other exception is a failure.

The fast profile runs a few hundred loads (about a second); HYPOTHESIS_PROFILE=thorough runs many thousands.
"""

import ast
import io
import json
import math
import os
import struct
import zipfile
from collections import OrderedDict

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.serialization import CheckpointError

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
fuzz = settings(max_examples=3000 if THOROUGH else 60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

INDEX = "tapegrad/checkpoint.json"


def _saved_object():
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.BatchNorm1d(4), tg.nn.Linear(4, 2))
    opt = tg.optim.Adam(model.parameters(), lr=0.01)
    model(tg.randn(5, 3)).sum().backward()
    opt.step()
    shared = tg.arange(4.0, requires_grad=True)
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "dtypes": [tg.tensor(np.arange(6).reshape(2, 3) % 3, dtype=d) for d in
                   (tg.bool, tg.uint8, tg.int8, tg.int16, tg.int32, tg.int64, tg.float16, tg.float64)],
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "edges": (tg.zeros(0, 5), tg.tensor(2.5), np.float32(1.5), np.int64(-3)),
        "shared": [shared, shared],
        "plain": OrderedDict([("name", "run ✓"), ("nan", float("nan")), ("none", None), ((1, "k"), 2 ** 70)]),
    }


SAVED = _saved_object()
_buf = io.BytesIO()
tg.save(SAVED, _buf)
GOOD = _buf.getvalue()
with zipfile.ZipFile(io.BytesIO(GOOD)) as _zf:
    MEMBERS = {info.filename: _zf.read(info) for info in _zf.infolist()}
    _INFOS, _START_DIR = _zf.infolist(), _zf.start_dir


def _regions(data, infos, start_dir):
    """The byte ranges of a zip's parts: local headers, .npy headers, array data, the index, the central
    directory, its end record. Fuzzing picks a part first, so that small parts are hit as often as large ones."""
    parts = []
    for info in infos:
        n, m = struct.unpack("<2H", data[info.header_offset + 26:info.header_offset + 30])
        start = info.header_offset + 30 + n + m
        parts.append(range(info.header_offset, start))
        if info.filename.endswith(".npy"):
            parts += [range(start, start + 128), range(start + 128, start + info.file_size)]
        else:
            parts.append(range(start, start + info.file_size))
    parts += [range(start_dir, len(data) - 22), range(len(data) - 22, len(data))]
    return [r for r in parts if len(r)]


REGIONS = _regions(GOOD, _INFOS, _START_DIR)
positions = st.sampled_from(REGIONS).flatmap(lambda r: st.integers(r.start, r.stop - 1))
ARRAY_NAMES = sorted(n for n in MEMBERS if n != INDEX)
SPECS = json.loads(MEMBERS[INDEX])["arrays"]


def same(got, want):
    """Exact equality of loaded and saved objects: types, dtypes, shapes, values (NaN == NaN), requires_grad."""
    if isinstance(want, tg.Tensor):
        return (type(got) is tg.Tensor and got.dtype == want.dtype and got.shape == want.shape
                and got.requires_grad == want.requires_grad
                and np.array_equal(got.detach().numpy(), want.detach().numpy(), equal_nan=want.dtype.kind == "f"))
    if isinstance(want, (np.ndarray, np.generic)):
        return (type(got) is type(want) and got.dtype == want.dtype and np.shape(got) == np.shape(want)
                and np.array_equal(got, want, equal_nan=want.dtype.kind == "f"))
    if type(got) is not type(want):
        return False
    if isinstance(want, dict):
        return list(got) == list(want) and all(same(got[k], want[k]) for k in want)
    if isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    if isinstance(want, float) and math.isnan(want):
        return math.isnan(got)
    return got == want


def load_or_refuse(data):
    """The loaded object, or None when load raised the documented error (anything else propagates)."""
    buf = io.BytesIO(data)
    buf.name = "fuzzed.pt"
    try:
        return tg.load(buf)
    except CheckpointError as e:
        assert str(e).startswith("load: fuzzed.pt "), str(e)
        return None


def assert_saved_or_refused(data):
    got = load_or_refuse(data)
    assert got is None or same(got, SAVED), "a damaged file loaded as something other than what was saved"


def archive(members, method=zipfile.ZIP_STORED):
    """A zip of (name, bytes) pairs, in order (duplicates allowed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def test_the_checkpoint_loads():
    assert same(tg.load(io.BytesIO(GOOD)), SAVED)
    assert same(load_or_refuse(archive(MEMBERS.items())), SAVED)


# ---------------------------------------------------------------------- damage to the bytes
@fuzz
@given(st.lists(st.tuples(positions, st.integers(0, 7)), min_size=1, max_size=4))
@example([(0, 0)])  # the first local header's signature
@example([(REGIONS[2].start + 5, 2)])  # the first array's data
@example([(len(GOOD) - 22, 0)])  # the end-of-central-directory signature
@example([(len(GOOD) - 10, 0)])  # the number of members
@example([(len(GOOD) - 6, 3)])  # the central directory's offset
def test_bit_flips(flips):
    data = bytearray(GOOD)
    for at, bit in flips:
        data[at] ^= 1 << bit
    assert_saved_or_refused(bytes(data))


@fuzz
@given(st.integers(0, len(GOOD) - 1))
@example(0)
@example(len(GOOD) - 1)
@example(len(GOOD) - 22)
def test_truncations(n):
    assert load_or_refuse(GOOD[:n]) is None


@fuzz
@given(st.binary(min_size=1, max_size=200), st.booleans())
@example(b"PK\x05\x06" + b"\0" * 18, False)  # a second, empty end-of-central-directory record
def test_bytes_before_or_after(extra, before):
    assert_saved_or_refused(extra + GOOD if before else GOOD + extra)


@fuzz
@given(positions, st.binary(min_size=1, max_size=64))
def test_overwritten_ranges(at, junk):
    assert_saved_or_refused(GOOD[:at] + junk + GOOD[at + len(junk):])


# ---------------------------------------------------------------------- member edits (with valid CRCs)
member_names = st.sampled_from(sorted(MEMBERS))
edits = st.one_of(
    st.tuples(st.just("delete"), member_names),
    st.tuples(st.just("duplicate"), member_names),
    st.tuples(st.just("rename"), member_names, st.sampled_from(sorted(MEMBERS) + ["tapegrad/arrays/99.npy", "x"])),
    st.tuples(st.just("replace"), member_names, st.binary(max_size=300)),
    st.tuples(st.just("cut"), member_names, st.integers(0, 400)),
    st.tuples(st.just("append"), member_names, st.binary(min_size=1, max_size=20)),
    st.tuples(st.just("swap"), st.sampled_from(ARRAY_NAMES), st.sampled_from(ARRAY_NAMES)),
    st.tuples(st.just("extra"), st.text(min_size=1, max_size=20), st.binary(max_size=50)),
    st.tuples(st.just("reverse")),
    st.tuples(st.just("compress"), st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])),
)


@fuzz
@given(st.lists(edits, min_size=1, max_size=3))
@example([("append", INDEX, b" \n")])  # JSON may end in whitespace: the same checkpoint
@example([("reverse",), ("extra", "notes.txt", b"hello")])  # member order and unknown members do not matter
@example([("swap", "tapegrad/arrays/0.npy", "tapegrad/arrays/1.npy")])
@example([("extra", "tapegrad/arrays/0.npy", b"")])
@example([("compress", zipfile.ZIP_DEFLATED)])
@example([("duplicate", INDEX)])
def test_member_edits(edit_list):
    members = list(MEMBERS.items())
    method = zipfile.ZIP_STORED
    for edit in edit_list:
        kind, args = edit[0], edit[1:]
        names = [n for n, _ in members]
        if kind == "compress":
            method = args[0]
        elif kind == "reverse":
            members.reverse()
        elif kind == "extra":
            members.append(args)
        elif args[0] in names:
            i = names.index(args[0])
            name, data = members[i]
            if kind == "delete":
                del members[i]
            elif kind == "duplicate":
                members.append((name, data))
            elif kind == "rename":
                members[i] = (args[1], data)
            elif kind == "replace":
                members[i] = (name, args[1])
            elif kind == "cut":
                members[i] = (name, data[:args[1]])
            elif kind == "append":
                members[i] = (name, data + args[1])
            elif kind == "swap" and args[1] in names:
                j = names.index(args[1])
                a, b = (int(n.split("/")[-1][:-4]) for n in (name, args[1]))
                if SPECS[a] != SPECS[b]:  # a swap of two arrays of one dtype and shape makes a valid file
                    members[i], members[j] = (name, members[j][1]), (args[1], data)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names: that is the point
        data = archive(members, method)
    got = load_or_refuse(data)
    if _still_the_checkpoint(members, method):
        assert got is not None and same(got, SAVED), "an edit that keeps the checkpoint valid was refused"
    else:
        assert got is None, f"an edited file was not refused: {edit_list}"


def _still_the_checkpoint(members, method):
    """Whether an edited archive is, by the documented rules, the same checkpoint (else it must be refused)."""
    names = [n for n, _ in members]
    if method != zipfile.ZIP_STORED or len(set(names)) != len(names):
        return False
    held = dict(members)
    for name, data in MEMBERS.items():
        if name not in held or not held[name].startswith(data):
            return False
        if held[name][len(data):].strip(b" \t\r\n") or (name != INDEX and len(held[name]) != len(data)):
            return False
    return True


# ---------------------------------------------------------------------- crafted .npy headers
ALLOWED = ["|b1", "|u1", "|i1", "<i2", "<i4", "<i8", "<f2", "<f4", "<f8", ">f8", ">i4"]
REFUSED = ["<U3", "|S4", "|O", "<M8[s]", "<m8[ms]", "|V8", "<c8", "<u2", "<u8", "<f16", "[('a', '<f4')]",
           "('<f4', (2,))", "5"]
dims = st.one_of(st.integers(0, 6), st.integers(-3, -1), st.sampled_from([10 ** 12, 2 ** 63, 2 ** 64 + 1]),
                 st.sampled_from(["True", "1.5", "(2,)", "'a'", "None"]))


@st.composite
def npy_headers(draw):
    descr = draw(st.sampled_from(ALLOWED + REFUSED))
    shape = draw(st.lists(dims, max_size=3))
    fortran = draw(st.sampled_from(["False", "True", "0", "'no'"]))
    shape_text = "(" + "".join(f"{d}, " for d in shape) + ")"
    descr_text = descr if descr[0] in "[(5N'" else repr(descr)
    header = draw(st.sampled_from([
        "{{'descr': {d}, 'fortran_order': {f}, 'shape': {s}, }}",
        "{{'shape': {s}, 'fortran_order': {f}, 'descr': {d}}}",
        "{{'descr': {d}, 'shape': {s}}}",
        "{{'descr': {d}, 'fortran_order': {f}, 'shape': {s}, 'extra': 1}}",
    ])).format(d=descr_text, f=fortran, s=shape_text)
    ints = [d for d in shape if isinstance(d, int)]
    fits = 1
    for d in ints:
        fits *= max(d, 0)
    try:
        itemsize = np.dtype(descr).itemsize
    except (TypeError, ValueError):
        itemsize = 4
    exact = fits * itemsize if fits * itemsize <= 4096 else 0
    size = draw(st.one_of(st.just(exact), st.integers(0, 200)))
    data = draw(st.binary(min_size=size, max_size=size))
    version = draw(st.sampled_from([1, 1, 1, 2, 3]))
    return header, version, data, descr, shape, fortran


def npy_bytes(header, version, data):
    text = header.encode("latin1")
    prefix = 10 if version == 1 else 12
    text += b" " * (63 - (prefix + len(text)) % 64) + b"\n"
    length = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text + data


@fuzz
@given(npy_headers(), st.booleans())
@example(("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", 1, b"\0" * 4, "<f4",
          [10 ** 12], "False"), True)
@example(("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, ), }", 1, bytes(range(48)), "<f8", [2, 3],
          "True"), True)
@example(("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, -4, ), }", 1, b"\0" * 16, "<f4", [-1, -4],
          "False"), True)
@example(("{'descr': '<U3', 'fortran_order': False, 'shape': (2, ), }", 1, b"a\0\0\0" * 6, "<U3", [2], "False"), True)
@example(("{'descr': '|O', 'fortran_order': False, 'shape': (1, ), }", 1, b"\0" * 8, "|O", [1], "False"), True)
@example(("{'descr': '<f4', 'fortran_order': False, 'shape': (True, 2, ), }", 1, b"\0" * 8, "<f4", ["True", 2],
          "False"), True)
@example(("{'descr': '|b1', 'fortran_order': False, 'shape': (0, 9223372036854775808, ), }", 1, b"", "|b1",
          [0, 2 ** 63], "False"), True)
def test_crafted_npy_headers(crafted, index_agrees):
    header, version, data, descr, shape, fortran = crafted
    member = npy_bytes(header, version, data)
    expected = _expected_array(header, version, descr, shape, fortran, data)
    spec = {"dtype": "<f4", "shape": [3]}
    if index_agrees:  # the index says what the header says, so only the member's own checks can refuse it
        try:
            spec = {"dtype": np.dtype(descr).str, "shape": [ast.literal_eval(str(d)) for d in shape]}
        except (TypeError, ValueError):
            pass
    members = dict(MEMBERS)
    members["tapegrad/arrays/0.npy"] = member
    index = json.loads(MEMBERS[INDEX])
    index["arrays"][0] = spec
    index["root"] = {"$": "ndarray", "array": 0}
    members[INDEX] = json.dumps(index).encode()
    got = load_or_refuse(archive(members.items()))
    if expected is None or spec != {"dtype": expected.dtype.str, "shape": list(expected.shape)}:
        assert got is None, f"a crafted header was accepted: {header!r}"
    else:
        assert got is not None, f"a valid member was refused: {header!r}"
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def _expected_array(header, version, descr, shape, fortran, data):
    """What the member holds if it is one tapegrad accepts, else None (an independent statement of the rules)."""
    if version not in (1, 2) or "'fortran_order'" not in header or "'extra'" in header:
        return None
    if descr not in ALLOWED or fortran not in ("True", "False"):
        return None
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        return None
    dtype = np.dtype(descr)
    count = extent = 1
    for d in shape:
        count *= d
        extent *= d or 1
    if count * dtype.itemsize != len(data) or extent * dtype.itemsize >= 2 ** 63:  # numpy's limit on any array
        return None
    order = "F" if fortran == "True" else "C"
    return np.frombuffer(data, dtype).reshape(shape, order=order)


# ---------------------------------------------------------------------- crafted indexes
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(["$", "items", "array", "id", "x"]),
                                                              kids, max_size=3),
    max_leaves=12)
nodes = st.recursive(
    json_values | st.builds(lambda k, a: {"$": k, "array": a, "id": a}, st.sampled_from(
        ["tensor", "ndarray", "numpy_scalar"]), st.integers(-1, len(SPECS) + 1)),
    lambda kids: st.builds(lambda k, items: {"$": k, "items": items},
                           st.sampled_from(["list", "tuple", "dict", "OrderedDict", "Counter", "set"]),
                           st.lists(kids | st.lists(kids, min_size=2, max_size=2), max_size=3)),
    max_leaves=12)


@fuzz
@given(nodes, st.integers(0, 700), st.sampled_from(["[", "{\"$\": \"list\", \"items\": ["]))
@example({"$": "tensor", "array": 0, "id": 0}, 0, "[")
@example(None, 512, "[")
@example(None, 511, "[")
def test_crafted_indexes(root, depth, opener):
    closer = "]" if opener == "[" else "]}"
    index = json.loads(MEMBERS[INDEX])
    text = json.dumps(dict(index, root="@@")).replace('"@@"', opener * depth + json.dumps(root) + closer * depth)
    members = dict(MEMBERS, **{INDEX: text.encode()})
    got = load_or_refuse(archive(members.items()))
    nesting = 1 + depth * (1 if opener == "[" else 2) + _depth(root)
    if nesting > 512:
        assert got is None


def _depth(node):
    if isinstance(node, (list, dict)):
        kids = node.values() if isinstance(node, dict) else node
        return 1 + max((_depth(k) for k in kids), default=0)
    return 0


# ---------------------------------------------------------------------- keras load_weights over damaged files
def _keras_model():
    import tapegrad.keras as keras

    tg.manual_seed(0)
    return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                             keras.layers.Dense(1)])


_KERAS = io.BytesIO()
_keras_model().save_weights(_KERAS)
KERAS_WEIGHTS = _KERAS.getvalue()


def _load_weights_or_refuse(data):
    """Loads into a model with other weights: either exactly the saved weights arrive, or CheckpointError is
    raised and no weight changed."""
    model = _keras_model()
    model.set_weights([w + 1 for w in model.get_weights()])
    before = [w.copy() for w in model.get_weights()]
    buf = io.BytesIO(data)
    buf.name = "w.weights.h5"
    try:
        model.load_weights(buf)
    except CheckpointError as e:
        assert str(e).startswith(("load: w.weights.h5 ", "load_weights: 'w.weights.h5' ")), str(e)
        for u, v in zip(model.get_weights(), before):
            np.testing.assert_array_equal(u, v)
        return False
    for u, v in zip(model.get_weights(), _keras_model().get_weights()):
        np.testing.assert_array_equal(u, v)
    return True


@fuzz
@given(st.lists(st.tuples(st.integers(0, len(KERAS_WEIGHTS) - 1), st.integers(0, 7)), min_size=1, max_size=3),
       st.integers(0, len(KERAS_WEIGHTS)))
def test_keras_load_weights_of_damaged_files(flips, keep):
    data = bytearray(KERAS_WEIGHTS[:keep])
    for at, bit in flips:
        if at < len(data):
            data[at] ^= 1 << bit
    _load_weights_or_refuse(bytes(data))


@fuzz
@given(st.recursive(st.none() | st.integers() | st.text(max_size=3) | st.just(tg.ones(2)) | st.just(tg.ones(3, 4)),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                        st.sampled_from(["layers.0.weight", "layers.0.bias", "other", "layers.1.running_mean"]),
                        kids, max_size=4), max_leaves=8))
def test_keras_load_weights_of_other_checkpoints(obj):
    buf = io.BytesIO()
    tg.save(obj, buf)
    assert not _load_weights_or_refuse(buf.getvalue())


def test_keras_refusals_are_value_errors_too():
    from tapegrad.keras.model import IncompatibleWeightsError

    assert issubclass(IncompatibleWeightsError, CheckpointError) and issubclass(IncompatibleWeightsError, ValueError)
    state = tg.load(io.BytesIO(KERAS_WEIGHTS))
    name = next(iter(state))
    for value, match in [([[1, 2], [3]], f"{name} is a list, not a tensor"), ("w", f"{name} is a str, not a tensor"),
                         (tg.ones(7), f"{name}: file has shape \\(7,\\), model has")]:
        buf = io.BytesIO()
        tg.save(dict(state, **{name: value}), buf)
        buf.seek(0)
        with np.testing.assert_raises_regex(IncompatibleWeightsError, "does not fit this model: .*" + match):
            _keras_model().load_weights(buf)
    buf = io.BytesIO()
    tg.save([1, 2], buf)
    buf.seek(0)
    with np.testing.assert_raises_regex(IncompatibleWeightsError, "does not hold model weights \\(it holds a list"):
        _keras_model().load_weights(buf)
