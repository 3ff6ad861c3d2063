"""tapegrad/ops/copy.py: fill_ and zero_ as PyTorch converts their value (c10's checked conversion of a number,
copy_'s wrapping cast of a 0-d tensor) and on views whose elements share memory (expand, unfold), against
PyTorch when it is installed."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _fill(lib, dtype, value, shape=(2,)):
    """fill_ in ``lib``: ("ok", values) or ("raised", exception type)."""
    try:
        v = value(lib) if callable(value) else value
        return "ok", lib.zeros(shape, dtype=getattr(lib, dtype)).fill_(v).tolist()
    except (RuntimeError, OverflowError) as e:
        return "raised", RuntimeError if isinstance(e, RuntimeError) else OverflowError


NUMBERS = [-1, 255, -255, -256, 256, 127, -128, 128, 300, 70000, 65504, 65519, 2 ** 31, 2 ** 63 - 1, -2 ** 63,
           2 ** 63, 2 ** 64 - 1, -1.7, 1.7, -0.5, 255.5, 127.5, 300.5, 1e30, 1e39, -1e300, math.inf, -math.inf,
           math.nan, True, False]


def _expected(dtype, value, size):
    """PyTorch 2.13's fill_ of a Python number, written out (c10's overflows and static_cast)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -2 ** 63 <= value < 2 ** 64:
        return "raised", OverflowError
    if isinstance(value, bool) or dtype == "bool":
        return "ok", [bool(value) if dtype == "bool" else int(value) if dtype[0] in "iu" else float(value)] * size
    if dtype.startswith("float"):
        top = float(np.finfo(dtype).max)
        if math.isfinite(value) and abs(value) > top:
            if dtype == "float16" and size == 1:  # PyTorch's one-element fill of float16 is unchecked
                with np.errstate(over="ignore"):
                    return "ok", [float(np.float16(value))]
            return "raised", RuntimeError
        return "ok", [float(np.array(value, dtype=dtype))] * size
    info = np.iinfo(dtype)
    lo = -int(info.max) if info.min == 0 and isinstance(value, int) else int(info.min)
    if not (isinstance(value, int) or math.isfinite(value)) or not lo <= value <= int(info.max):
        return "raised", RuntimeError
    return "ok", [int(value) % (int(info.max) + 1) if info.min == 0 else int(value)] * size


@given(st.sampled_from(DTYPES), st.one_of(st.sampled_from(NUMBERS), st.integers(-2 ** 65, 2 ** 65),
                                          st.floats(allow_nan=True)), st.sampled_from([(2,), (), (1, 1), (0,)]))
@example("uint8", -1, (2,))  # wraps to 255 (an unsigned dtype takes -max..-1)
@example("uint8", -256, (2,))
@example("int8", 128, (2,))
@example("uint8", -1.7, (2,))  # a float below 0 does not fit uint8
@example("int8", -1.7, (2,))  # truncates to -1
@example("float16", 70000, ())  # unchecked for one element
@example("float16", 70000, (2,))
@example("bool", 2 ** 64 - 1, (2,))
def test_fill_converts_numbers_as_pytorch(dtype, value, shape):
    size = math.prod(shape)
    want = _expected(dtype, value, size)
    got = _fill(tg, dtype, value, shape)
    if want[0] == "ok" and shape != (2,):
        got = ("ok", list(np.asarray(got[1]).reshape(-1))) if got[0] == "ok" else got
    if want[0] == "ok" and got[0] == "ok":
        np.testing.assert_array_equal(np.asarray(got[1], dtype=float), np.asarray(want[1], dtype=float))
    else:
        assert got == want, (dtype, value, shape)


def test_fill_overflow_error_names_the_op_value_and_dtype():
    with pytest.raises(RuntimeError, match=r"fill_: value 300 cannot be converted to type uint8 without overflow"):
        tg.zeros(2, dtype=tg.uint8).fill_(300)


@given(st.sampled_from(DTYPES), st.sampled_from(["float16", "float32", "float64", "int64", "int32", "bool"]),
       st.one_of(st.floats(-1e6, 1e6), st.sampled_from([1e30, -1e30, math.nan, math.inf, 70000.0, -1.7, 300.0]),
                 st.integers(-2 ** 40, 2 ** 40)))
@example("uint8", "int64", -1)  # 255
@example("uint8", "int64", 300)  # 44: a tensor is cast, not checked
@example("int32", "float32", 1e30)
@example("uint8", "float32", math.nan)
def test_fill_with_a_0d_tensor_casts_as_copy(dtype, value_dtype, value):
    with np.errstate(all="ignore"):
        v = np.asarray(value).astype(value_dtype) if value_dtype != "bool" else np.asarray(bool(value))
        want = np.broadcast_to(v.astype(dtype), (3,))
    got = tg.zeros(3, dtype=getattr(tg, dtype)).fill_(tg.tensor(v)).numpy()
    np.testing.assert_array_equal(got, want)
    with np.errstate(all="ignore"):
        ref = tg.zeros(3, dtype=getattr(tg, dtype)).copy_(tg.tensor(v)).numpy()
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("make", [lambda x: x[:1].expand(3), lambda x: x.unsqueeze(1).expand(2, 3),
                                  lambda x: x.unfold(0, 2, 1), lambda x: x.expand(2, 2)[0],
                                  lambda x: tg.broadcast_to(x[1:], (2, 3))])
@pytest.mark.parametrize("write", ["fill", "zero"])
def test_fill_and_zero_of_views_sharing_memory(make, write):
    """Every element gets the same value, so PyTorch fills an expanded view; the base sees the write."""
    x = tg.tensor([1.0, -2.0])
    v = make(x)
    before = x.numpy().copy()
    (v.fill_(7.5) if write == "fill" else v.zero_())
    value = 7.5 if write == "fill" else 0.0
    assert (v.numpy() == value).all()
    covered = np.zeros(2, dtype=bool)
    covered[np.unique(np.asarray(tg.autograd.inplace.positions(x.numpy(), v.numpy())))] = True
    np.testing.assert_array_equal(x.numpy(), np.where(covered, value, before))


def test_fill_of_an_expanded_view_under_grad_mode_reaches_the_base_and_its_gradient():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    y = x * 3
    z = y[:1].expand(3)
    z.fill_(2.5)
    assert z.requires_grad and y.tolist() == [2.5, -6.0]
    (y * tg.tensor([1.0, 10.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 30.0]  # the filled element's old value no longer reaches y


def test_fill_of_an_expanded_view_of_a_leaf_that_requires_grad_is_refused():
    x = tg.zeros(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        x.expand(3).fill_(2)
    with tg.no_grad():
        x.expand(3).fill_(2)
    assert x.tolist() == [2.0]


def test_fill_of_an_expanded_view_with_a_tensor_value_is_refused_as_copy():
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        tg.zeros(1).expand(3).fill_(tg.tensor(2.0))


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    for dtype in DTYPES:
        for value in NUMBERS:
            for shape in [(2,), (), (0,)]:
                want, got = _fill(torch, dtype, value, shape), _fill(tg, dtype, value, shape)
                if want[0] == "ok" and got[0] == "ok":
                    np.testing.assert_array_equal(np.asarray(got[1], dtype=float), np.asarray(want[1], dtype=float))
                else:
                    assert got == want, (dtype, value, shape)
        for value in [-1, 300, 70000.0, 1e30, -1.7, math.nan, True]:
            make = lambda lib, v=value: lib.tensor(v)  # noqa: E731
            got, want = _fill(tg, dtype, make), _fill(torch, dtype, make)
            assert got[0] == want[0] == "ok", (dtype, value)
            np.testing.assert_array_equal(np.asarray(got[1], dtype=float), np.asarray(want[1], dtype=float))
    for lib_fill in ["fill_(2)", "zero_()"]:
        for make in ["zeros(1).expand(3)", "zeros(2, 1).expand(2, 3)", "arange(3.0).unfold(0, 2, 1)"]:
            assert eval(f"tg.{make}.{lib_fill}.tolist()") == eval(f"torch.{make}.{lib_fill}.tolist()")


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("dst,src,ok", [((3,), (1, 1, 3), False), ((2, 3), (3,), True), ((3,), (2, 3), False),
                                        ((2, 3), (2, 1), True), ((2, 3), (1, 2, 3), False), ((), (1,), False)])
def test_copy_broadcasts_the_source_only_as_pytorch_expands_it(dst, src, ok, grad):
    """copy_ expands the source to the destination's shape, as PyTorch: a source with more dims is refused even when
    they are 1s (numpy's copyto would drop them), under no_grad and when recorded."""
    x = tg.zeros(dst)
    value = tg.arange(float(np.prod(src, dtype=int))).reshape(src).requires_grad_(grad)
    if ok:
        x.copy_(value)
        np.testing.assert_array_equal(x.detach().numpy(), np.broadcast_to(value.detach().numpy(), dst))
    else:
        with pytest.raises(RuntimeError, match="copy_: cannot broadcast"):
            x.copy_(value)


# ---------------------------------------------------------------------- clone's layout: PyTorch's preserve_format
CLONE_LAYOUTS = {  # an input made from arange(24.0).reshape(2, 3, 4) and its strides after clone, as PyTorch's
    "transposed": (lambda x: x[0].t(), (1, 4)),
    "permuted": (lambda x: x.permute(2, 0, 1), (1, 12, 4)),
    "sliced": (lambda x: x[:, ::2], (8, 4, 1)),
    "sliced transposed": (lambda x: x.transpose(0, 1)[:, :, :2], (2, 6, 1)),
    "expanded": (lambda x: x[:1, :1].expand(3, 2, 4), (8, 4, 1)),
    "transposed then expanded": (lambda x: x[0, :2, :2].t().unsqueeze(1).expand(2, 3, 2), (1, 2, 6)),
    "sliced permuted": (lambda x: x[:, 1:, ::3].permute(2, 1, 0), (1, 2, 4)),
}


@pytest.mark.parametrize("case", sorted(CLONE_LAYOUTS))
def test_clone_keeps_the_memory_order_of_its_input_as_pytorch(case):
    """PyTorch's clone is empty_like(x, preserve_format): a dense x's strides, else dense strides in x's memory
    order (infer_dense_strides; a stride of 0 keeps its dim in place), so view() accepts and refuses as there
    (x.t().clone().view(-1) is refused)."""
    make, strides = CLONE_LAYOUTS[case]
    x = make(tg.arange(24.0).reshape(2, 3, 4))
    y = x.clone()
    assert y.stride() == strides and y.tolist() == x.tolist()
    torch = pytest.importorskip("torch")
    assert make(torch.arange(24.0).reshape(2, 3, 4)).clone().stride() == strides
