"""dtypes: PyTorch's type promotion, casts, the CPU device, and which tensors may require gradients.

The promotion tables below were produced by ``torch.result_type`` (PyTorch 2.13) and are checked without
torch; ``test_promotion_matches_pytorch`` re-derives them when torch is installed.
"""

import itertools

import numpy as np
import pytest

import tapegrad as tg

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
CODES = {"b": "bool", "u8": "uint8", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
         "f16": "float16", "f32": "float32", "f64": "float64"}

# result dtype of (row dtype) op (column dtype), columns in NAMES order
BOTH_DIMENSIONED = [
    "  b  u8  i8 i16 i32 i64 f16 f32 f64",  # b
    " u8  u8 i16 i16 i32 i64 f16 f32 f64",  # u8
    " i8 i16  i8 i16 i32 i64 f16 f32 f64",  # i8
    "i16 i16 i16 i16 i32 i64 f16 f32 f64",  # i16
    "i32 i32 i32 i32 i32 i64 f16 f32 f64",  # i32
    "i64 i64 i64 i64 i64 i64 f16 f32 f64",  # i64
    "f16 f16 f16 f16 f16 f16 f16 f32 f64",  # f16
    "f32 f32 f32 f32 f32 f32 f32 f32 f64",  # f32
    "f64 f64 f64 f64 f64 f64 f64 f64 f64",  # f64
]
# the column operand is 0-d: it promotes the row only across categories (bool < integer < float)
WITH_ZERO_DIM = [
    "  b  u8  i8 i16 i32 i64 f16 f32 f64",  # b
    " u8  u8  u8  u8  u8  u8 f16 f32 f64",  # u8
    " i8  i8  i8  i8  i8  i8 f16 f32 f64",  # i8
    "i16 i16 i16 i16 i16 i16 f16 f32 f64",  # i16
    "i32 i32 i32 i32 i32 i32 f16 f32 f64",  # i32
    "i64 i64 i64 i64 i64 i64 f16 f32 f64",  # i64
    "f16 f16 f16 f16 f16 f16 f16 f16 f16",  # f16
    "f32 f32 f32 f32 f32 f32 f32 f32 f32",  # f32
    "f64 f64 f64 f64 f64 f64 f64 f64 f64",  # f64
]
# a tensor of each dtype (NAMES order) with a Python scalar
WITH_SCALAR = {True: "b u8 i8 i16 i32 i64 f16 f32 f64", 2: "i64 u8 i8 i16 i32 i64 f16 f32 f64",
               2.5: "f32 f32 f32 f32 f32 f32 f16 f32 f64"}


def _table(rows):
    return {(a, b): CODES[code] for a, row in zip(NAMES, rows, strict=True)
            for b, code in zip(NAMES, row.split(), strict=True)}


def _tensor(name, zero_dim=False):
    return tg.ones(() if zero_dim else (2,), dtype=getattr(tg, name))


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promotion_of_two_tensors(a, b):
    both, zero = _table(BOTH_DIMENSIONED), _table(WITH_ZERO_DIM)
    assert str(tg.add(_tensor(a), _tensor(b)).dtype) == both[a, b]
    assert str(tg.mul(_tensor(a), _tensor(b, zero_dim=True)).dtype) == zero[a, b]
    assert str(tg.maximum(_tensor(b, zero_dim=True), _tensor(a)).dtype) == zero[a, b]  # order does not matter
    assert str(tg.add(_tensor(a, zero_dim=True), _tensor(b, zero_dim=True)).dtype) == both[a, b]
    assert tg.eq(_tensor(a), _tensor(b)).dtype == tg.bool


@pytest.mark.parametrize("scalar", list(WITH_SCALAR))
def test_promotion_with_python_scalars(scalar):
    for name, code in zip(NAMES, WITH_SCALAR[scalar].split(), strict=True):
        for zero_dim in (False, True):
            x = _tensor(name, zero_dim)
            assert str((x + scalar).dtype) == CODES[code], (name, scalar)
            assert str((scalar * x).dtype) == CODES[code], (name, scalar)


def test_numpy_scalars_are_weak_like_python_scalars():
    x = tg.tensor([1.0, 2.0])
    assert (x * np.float64(2.0)).dtype == tg.float32
    assert (tg.tensor(1.0) * np.float64(2.0)).dtype == tg.float32
    assert (tg.tensor([1, 2]) * np.float64(2.0)).dtype == tg.float32
    assert (tg.tensor([1, 2], dtype=tg.int32) + np.int64(3)).dtype == tg.int32


def test_true_division_and_float_math_give_floats():
    i, b = tg.tensor([1, 2]), tg.tensor([True, True])
    assert (i / i).dtype == tg.float32 and (b / b).dtype == tg.float32 and (i / 2).dtype == tg.float32
    assert (2 / i).dtype == tg.float32 and (i / tg.tensor([2.0], dtype=tg.float64)).dtype == tg.float64
    assert tg.exp(i).dtype == tg.float32 and tg.sqrt(b).dtype == tg.float32
    assert (i // 2).dtype == tg.int64 and (i % 2).dtype == tg.int64
    assert (tg.tensor([1.0], dtype=tg.float16) / 3).dtype == tg.float16


def test_default_dtype_governs_python_floats_and_int_division():
    assert tg.get_default_dtype() == tg.float32
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.tensor([1.5]).dtype == tg.float64
        assert (tg.tensor([1, 2]) / 2).dtype == tg.float64
        assert (tg.tensor([1, 2]) + 2.5).dtype == tg.float64
        assert (tg.tensor([1.0], dtype=tg.float32) + 2.5).dtype == tg.float32  # floats keep their dtype
        assert tg.exp(tg.tensor([1])).dtype == tg.float64
    finally:
        tg.set_default_dtype(tg.float32)
    with pytest.raises(TypeError, match="set_default_dtype: only floating-point dtypes"):
        tg.set_default_dtype(tg.int64)


def test_dtype_names():
    assert tg.float is tg.float32 and tg.double is tg.float64 and tg.half is tg.float16
    assert tg.long is tg.int64 and tg.int is tg.int32 and tg.short is tg.int16
    assert tg.tensor([1.0]).dtype == tg.float32 and tg.tensor([1]).dtype == tg.int64
    assert tg.tensor([True]).dtype == tg.bool and tg.tensor(np.zeros(2)).dtype == tg.float64
    assert tg.tensor([1.0]).is_floating_point() and not tg.tensor([1]).is_floating_point()


# ---------------------------------------------------------------------- casts
def test_cast_methods():
    x = tg.tensor([-1.7, 0.0, 2.5])
    for method, dtype in [("float", tg.float32), ("double", tg.float64), ("half", tg.float16),
                          ("long", tg.int64), ("int", tg.int32), ("bool", tg.bool)]:
        y = getattr(x, method)()
        assert y.dtype == dtype, method
    assert x.long().tolist() == [-1, 0, 2]  # toward zero
    assert x.bool().tolist() == [True, False, True]
    assert tg.tensor([300]).to(tg.uint8).tolist() == [44]  # wraps around
    assert tg.tensor([True, False]).float().tolist() == [1.0, 0.0]
    np.testing.assert_array_equal(x.double().numpy(), x.numpy().astype(np.float64))


def test_to_and_type():
    x = tg.tensor([1.5, 2.5])
    assert x.to(tg.float64).dtype == tg.float64 and x.to(dtype=tg.int64).dtype == tg.int64
    assert x.type(tg.float64).dtype == tg.float64 and x.type(tg.int32).dtype == tg.int32
    assert x.type() == "tapegrad.FloatTensor" and x.double().type() == "tapegrad.DoubleTensor"
    assert tg.tensor([1]).type() == "tapegrad.LongTensor" and tg.tensor([True]).type() == "tapegrad.BoolTensor"
    assert x.to(tg.tensor([1], dtype=tg.int32)).dtype == tg.int32  # the dtype of another tensor
    assert x.to("cpu", tg.float64).dtype == tg.float64
    assert x.to(device="cpu", dtype=tg.float16).dtype == tg.float16
    assert x.to(int).dtype == tg.int64 and x.to(bool).dtype == tg.bool
    # casting to the same dtype returns the tensor itself, as PyTorch
    assert x.float() is x and x.to(tg.float32) is x and x.type(tg.float32) is x
    y = x.to(copy=True)
    assert y is not x and tg.equal(y, x)


def test_to_same_dtype_with_copy_copies():
    x = tg.tensor([1.5, 2.5])
    assert x.to(tg.float32, copy=True) is not x


def test_python_float_type_means_float64():
    assert tg.tensor([1]).to(float).dtype == tg.float64
    assert tg.zeros(2, dtype=float).dtype == tg.float64


def test_cpu_device_is_a_no_op():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x and x.to(tg.device("cpu")) is x and x.cpu() is x and x.to(device="cpu") is x
    assert x.device == tg.device("cpu") and x.device.type == "cpu" and str(x.device) == "cpu"
    assert tg.device(tg.device("cpu")).type == "cpu" and tg.device("cpu:0").type == "cpu"
    with pytest.raises(RuntimeError, match="cuda"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        x.cuda()
    with pytest.raises(RuntimeError, match="mps"):
        tg.device("mps")


def test_gradient_flows_through_float_casts_only():
    x = tg.tensor([1.5, -2.0], requires_grad=True)
    y = x.double()
    assert y.requires_grad and y.dtype == tg.float64
    (y * y).sum().backward()
    assert x.grad.dtype == tg.float32 and x.grad.tolist() == [3.0, -4.0]
    for cast in (x.long(), x.int(), x.bool(), x.to(tg.int64), x.type(tg.uint8)):
        assert not cast.requires_grad and cast.grad_fn is None
    h = tg.tensor([0.5], requires_grad=True).half()
    (h * 2).sum().backward()
    assert h.dtype == tg.float16


# ---------------------------------------------------------------------- who may require grad
def test_integer_and_bool_tensors_cannot_require_grad():
    for dtype in (tg.int64, tg.int32, tg.uint8, tg.bool):
        t = tg.zeros(2, dtype=dtype)
        with pytest.raises(RuntimeError, match=rf"only Tensors of floating point dtype can require gradients, got "
                                                rf"dtype {dtype}"):
            t.requires_grad_()
        assert t.requires_grad_(False) is t and not t.requires_grad
        with pytest.raises(RuntimeError, match="floating point"):
            tg.tensor([1, 0], dtype=dtype, requires_grad=True)
        with pytest.raises(RuntimeError, match="floating point"):
            tg.ones(2, dtype=dtype, requires_grad=True)


def test_ops_on_integers_never_require_grad():
    i = tg.tensor([1, 2, 3])
    x = tg.tensor([0.5, 1.5, 2.5], requires_grad=True)
    for y in (i + i, i * 2, i // 2, i % 2, i ** 2, -i, i.abs(), i.clamp(0, 2), tg.maximum(i, i), i.sign(),
              x > 1, x == x, tg.isnan(x), x.long() + 1, tg.where(x > 1, i, 0)):
        assert not y.requires_grad and y.grad_fn is None
    y = x * i  # float with int: the float input gets the gradient
    assert y.requires_grad and y.dtype == tg.float32
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0] and i.grad is None
    # float results of integer inputs are new leaves without grad
    for y in (i / 2, tg.exp(i), i.sigmoid(), i + 0.5):
        assert y.dtype == tg.float32 and not y.requires_grad


def test_promotion_matches_pytorch():
    torch = pytest.importorskip("torch")

    def make(lib, name, zero_dim):
        return lib.ones(() if zero_dim else (2,), dtype=getattr(lib, name))

    for a, b in itertools.product(NAMES, NAMES):
        for za, zb in itertools.product((False, True), repeat=2):
            want = str(torch.result_type(make(torch, a, za), make(torch, b, zb))).split(".")[-1]
            assert str(tg.add(make(tg, a, za), make(tg, b, zb)).dtype) == want, (a, za, b, zb)
    for name in NAMES:
        for scalar in (True, 2, 2.5):
            want = str(torch.result_type(make(torch, name, False), scalar)).split(".")[-1]
            assert str((make(tg, name, False) + scalar).dtype) == want
            want = str((scalar / make(torch, name, False)).dtype).split(".")[-1]
            assert str((scalar / make(tg, name, False)).dtype) == want


# ---------------------------------------------------------------------- finfo, iinfo
@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_gives_pytorchs_attributes_as_python_numbers(name):
    info, ref = tg.finfo(getattr(tg, name)), np.finfo(name)
    assert (info.bits, info.eps, info.max, info.min) == (ref.bits, float(ref.eps), float(ref.max), float(ref.min))
    assert info.tiny == info.smallest_normal == float(ref.smallest_normal)
    assert info.resolution == 10.0 ** -ref.precision and info.dtype == name
    assert all(type(v) is float for v in (info.eps, info.max, info.min, info.tiny, info.resolution))
    assert 1.0 + info.eps != 1.0 and np.asarray(1.0 + info.eps / 2, dtype=name) == 1.0


def test_finfo_defaults_to_the_default_dtype_and_prints_as_pytorch():
    assert tg.finfo().dtype == "float32" and tg.finfo(float).dtype == "float64"
    assert repr(tg.finfo(tg.float32)) == (
        "finfo(resolution=1e-06, min=-3.40282e+38, max=3.40282e+38, eps=1.19209e-07, smallest_normal=1.17549e-38, "
        "tiny=1.17549e-38, dtype=float32)")  # PyTorch 2.13's text
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.finfo().dtype == "float64"
    finally:
        tg.set_default_dtype(tg.float32)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_gives_bits_min_max_as_ints(name):
    info, ref = tg.iinfo(getattr(tg, name)), np.iinfo(name)
    assert (info.bits, info.min, info.max, info.dtype) == (ref.bits, int(ref.min), int(ref.max), name)
    assert type(info.min) is int and type(info.max) is int
    assert tg.iinfo(int).dtype == "int64"


def test_iinfo_and_finfo_reprs_and_errors():
    assert repr(tg.iinfo(tg.int8)) == "iinfo(min=-128, max=127, dtype=int8)"
    assert repr(tg.iinfo(tg.int64)) == "iinfo(min=-9.22337e+18, max=9.22337e+18, dtype=int64)"
    with pytest.raises(TypeError, match="finfo: expected a floating point dtype, got int32; use iinfo"):
        tg.finfo(tg.int32)
    with pytest.raises(TypeError, match="iinfo: expected an integer dtype, got float32; use finfo"):
        tg.iinfo(tg.float32)
    with pytest.raises(TypeError, match="iinfo: expected an integer dtype, got bool"):
        tg.iinfo(tg.bool)


def test_finfo_iinfo_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ("float16", "float32", "float64"):
        a, b = tg.finfo(getattr(tg, name)), torch.finfo(getattr(torch, name))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
            assert getattr(a, attr) == getattr(b, attr), (name, attr)
        assert repr(a) == repr(b)
    for name in ("uint8", "int8", "int16", "int32", "int64"):
        a, b = tg.iinfo(getattr(tg, name)), torch.iinfo(getattr(torch, name))
        assert (a.bits, a.min, a.max, a.dtype, repr(a)) == (b.bits, b.min, b.max, b.dtype, repr(b))
