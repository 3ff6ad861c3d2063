"""Creating tensors (tapegrad/creation.py): size arguments as PyTorch takes them, the legacy typed constructors,
``Tensor.new_*``, ``type_as`` and the small predicates (is_tensor, is_floating_point, numel)."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.testing import arrays, assert_gradients, shapes

FILLED = {  # name -> (call with sizes as varargs, call with size=, numpy reference)
    "zeros": (lambda *s: tg.zeros(*s), lambda s: tg.zeros(size=s), np.zeros),
    "ones": (lambda *s: tg.ones(*s), lambda s: tg.ones(size=s), np.ones),
    "empty": (lambda *s: tg.empty(*s), lambda s: tg.empty(size=s), np.zeros),  # empty is zeros here
    "full": (lambda *s: tg.full(s, 2.5), lambda s: tg.full(size=s, fill_value=2.5), lambda s: np.full(s, 2.5)),
}


# ---------------------------------------------------------------------- size arguments
@pytest.mark.parametrize("name", sorted(FILLED))
@given(shape=shapes(min_dims=0, max_dims=3, min_side=0))
def test_filled_tensors_take_the_size_in_every_pytorch_form(name, shape):
    varargs, keyword, reference = FILLED[name]
    want = reference(shape).astype(np.float32)
    forms = [keyword(shape), keyword(list(shape)), keyword(tg.Size(shape))]
    if name != "full":
        forms += [varargs(shape), varargs(list(shape))]
        if shape:
            forms.append(varargs(*shape))
        else:  # zeros() with no size at all is refused, as PyTorch's signatures refuse it
            with pytest.raises(TypeError, match=rf"{name}\(\) missing 1 required positional arguments: \"size\""):
                varargs(*shape)
    for got in forms:
        assert got.dtype == tg.float32 and got.shape == shape
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("name", ["rand", "randn"])
def test_random_tensors_take_size_as_a_keyword_with_the_same_stream(name):
    fn = getattr(tg, name)
    tg.manual_seed(3)
    a = fn(2, 3)
    tg.manual_seed(3)
    b = fn(size=(2, 3))
    tg.manual_seed(3)
    c = fn((2, 3), dtype=tg.float64)
    assert b.shape == (2, 3) and b.dtype == tg.float32 and c.dtype == tg.float64
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert fn(size=[4], requires_grad=True).requires_grad


@pytest.mark.parametrize("fn, exc, pattern", [
    (lambda: tg.zeros(2, size=(2,)), TypeError, r"zeros: got the size both as positional arguments \(2,\) and as "
                                                r"size=\(2,\)"),
    (lambda: tg.randn(3, size=[3]), TypeError, r"randn: got the size both"),
    (lambda: tg.ones(size=(2, 2.0)), TypeError, r"ones: size must be a tuple of ints, got float 2.0"),
    (lambda: tg.rand(size=(-1,)), RuntimeError, r"rand: negative dimension -1 in size \(-1,\)"),
    (lambda: tg.empty(2, "3"), TypeError, r"empty: size must be a tuple of ints, got str '3'"),
    (lambda: tg.full(size=(2, None), fill_value=1.0), TypeError, r"full: size must be a tuple of ints"),
    (lambda: tg.zeros(1).new_zeros(2, size=(2,)), TypeError, r"new_zeros: got the size both"),
    (lambda: tg.rand(), TypeError, r"rand\(\) missing 1 required positional arguments: \"size\""),
    (lambda: tg.randn(dtype=tg.float64), TypeError, r"randn\(\) missing 1 required"),
    (lambda: tg.zeros(1).new_ones(), TypeError, r"new_ones\(\) missing 1 required"),
], ids=["zeros_twice", "randn_twice", "ones_float", "rand_negative", "empty_str", "full_none", "new_zeros_twice",
        "rand_no_size", "randn_no_size", "new_ones_no_size"])
def test_bad_sizes_raise_errors_naming_the_op(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


# ---------------------------------------------------------------------- legacy typed constructors
LEGACY = {"FloatTensor": tg.float32, "DoubleTensor": tg.float64, "HalfTensor": tg.float16, "LongTensor": tg.int64,
          "IntTensor": tg.int32, "ShortTensor": tg.int16, "CharTensor": tg.int8, "ByteTensor": tg.uint8,
          "BoolTensor": tg.bool}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_constructors_take_sizes_or_data_as_pytorch(name):
    cls, dtype = getattr(tg, name), LEGACY[name]
    sized = cls(2, 3)  # ints: a shape (uninitialized in PyTorch, zeros here)
    assert sized.shape == (2, 3) and sized.dtype == dtype and not sized.numpy().any()
    assert cls(tg.Size([4])).shape == (4,) and cls(np.int64(2), 1).shape == (2, 1)
    data = cls([1, 0, 1])  # a list (or tuple, or array): data
    assert data.dtype == dtype and data.tolist() == np.array([1, 0, 1], dtype=dtype).tolist()
    assert cls((1, 0)).tolist() == np.array([1, 0], dtype=dtype).tolist()
    assert cls([[1, 2]]).shape == (1, 2)
    empty = cls()
    assert empty.shape == (0,) and empty.dtype == dtype
    assert isinstance(data, cls) and isinstance(sized, cls)
    other = next(c for c in LEGACY if c != name)
    assert not isinstance(data, getattr(tg, other)) and not isinstance(data.tolist(), cls)
    assert tg.ones(2).type(cls).dtype == dtype and tg.ones(2).to(cls).dtype == dtype
    assert tg.ones(2).type(f"torch.{name}").dtype == dtype and tg.ones(2).type(f"tapegrad.{name}").dtype == dtype


def test_legacy_constructor_shares_arrays_and_aliases_tensors_of_its_dtype():
    a = np.zeros(3, dtype=np.float32)
    t = tg.FloatTensor(a)
    a[0] = 5.0
    assert t[0].item() == 5.0  # the same memory, as PyTorch's legacy constructor
    assert tg.FloatTensor(np.array([1.7, 2.2])).dtype == tg.float32  # other dtypes are converted
    assert tg.LongTensor([1.7, -2.2]).tolist() == [1, -2]
    x = tg.ones(2, requires_grad=True)
    y = tg.FloatTensor(x)
    assert y.shape == x.shape and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    assert repr(tg.FloatTensor) == "<class 'tapegrad.FloatTensor'>"


@pytest.mark.parametrize("fn, exc, pattern", [
    (lambda: tg.FloatTensor(2.5), TypeError, r"FloatTensor: size must be a tuple of ints, got float 2.5"),
    (lambda: tg.LongTensor(2, -1), RuntimeError, r"LongTensor: negative dimension -1"),
    (lambda: tg.FloatTensor(tg.ones(2, dtype=tg.float64)), TypeError,
     r"FloatTensor: expected a tensor of dtype float32, got float64"),
    (lambda: tg.FloatTensor(["a"]), TypeError, r"cannot make a tensor from data"),
    (lambda: tg.ones(2).type("torch.NoSuchTensor"), TypeError, r"not a dtype: 'torch.NoSuchTensor'"),
], ids=["float_size", "negative", "dtype_mismatch", "strings", "bad_type_name"])
def test_legacy_constructor_errors(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


# ---------------------------------------------------------------------- Tensor.new_*
NEW = {  # name -> (call, the value every element has)
    "new_zeros": (lambda x, *a, **k: x.new_zeros(*a, **k), 0),
    "new_ones": (lambda x, *a, **k: x.new_ones(*a, **k), 1),
    "new_empty": (lambda x, *a, **k: x.new_empty(*a, **k), 0),
    "new_full": (lambda x, *a, **k: x.new_full(a[0] if len(a) == 1 else a, 7, **k), 7),
}


@pytest.mark.parametrize("name", sorted(NEW))
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64, tg.int64, tg.int32, tg.bool])
def test_new_methods_take_the_tensors_dtype_unless_given(name, dtype):
    call, value = NEW[name]
    x = tg.ones(5, dtype=dtype)
    for out in (call(x, (2, 3)), call(x, [2, 3]), call(x, tg.Size([2, 3]))):
        assert out.shape == (2, 3) and out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), np.full((2, 3), value, dtype=dtype))
    if name != "new_full":
        assert call(x, 2, 3).shape == (2, 3) and call(x, size=(4,)).shape == (4,)
    assert call(x, (2,), dtype=tg.float64).dtype == tg.float64
    assert call(x, (2,), dtype=tg.float64, requires_grad=True).requires_grad
    assert not call(tg.ones(2, requires_grad=True), (2,)).requires_grad  # a new leaf, not part of x's graph


def test_new_full_uses_the_tensors_dtype_not_the_values():
    assert tg.zeros(1).new_full((2,), 3).dtype == tg.float32  # full((2,), 3) would be int64
    assert tg.tensor([1, 2]).new_full((2,), 2.7).tolist() == [2, 2]
    assert tg.zeros(1).new_full((1,), tg.tensor(4.0)).tolist() == [4.0]


def test_new_tensor_copies_into_the_tensors_dtype_as_a_leaf():
    x = tg.zeros(1, dtype=tg.float64)
    t = x.new_tensor([1, 2])
    assert t.dtype == tg.float64 and t.tolist() == [1.0, 2.0] and t.is_leaf and not t.requires_grad
    a = np.array([1.0, 2.0])
    ta = x.new_tensor(a)
    a[0] = 9.0
    assert ta[0].item() == 1.0  # a copy, never shared
    src = tg.tensor([3.0, 4.0], dtype=tg.float64, requires_grad=True)
    with pytest.warns(UserWarning, match=r"new_tensor: to copy a tensor, data.detach\(\).clone\(\) is recommended"):
        c = x.new_tensor(src)  # PyTorch warns too
    assert c.tolist() == [3.0, 4.0] and not c.requires_grad and c.grad_fn is None
    with tg.no_grad():
        src[0] = 0.0
    assert c[0].item() == 3.0
    assert x.new_tensor([1.5], dtype=tg.int64).tolist() == [1]
    assert x.new_tensor([1.5], requires_grad=True).requires_grad


# ---------------------------------------------------------------------- type_as
@given(arrays(shape=shapes(max_dims=3)))
def test_type_as_forward_and_gradient(a):
    f64 = tg.zeros(1, dtype=tg.float64)
    assert_gradients(lambda t: t.type_as(f64) * t, a)
    x = tg.tensor(a, requires_grad=True)  # float64
    y = x.type_as(tg.zeros(1))
    assert y.dtype == tg.float32 and y.requires_grad
    np.testing.assert_array_equal(y.numpy(force=True), a.astype(np.float32))
    (y * 2).sum().backward()
    assert x.grad.dtype == tg.float64
    np.testing.assert_array_equal(x.grad.numpy(), np.full(a.shape, 2.0))


def test_type_as_integers_and_errors():
    assert tg.tensor([1, 2]).type_as(tg.zeros(1)).tolist() == [1.0, 2.0]
    down = tg.tensor([1.7, -2.5], requires_grad=True).type_as(tg.tensor([0]))
    assert down.dtype == tg.int64 and down.tolist() == [1, -2] and not down.requires_grad
    x = tg.ones(2)
    assert x.type_as(tg.zeros(3)) is x  # the same dtype: the tensor itself, as PyTorch
    with pytest.raises(TypeError, match="type_as: expected a Tensor to take the dtype of, got float"):
        x.type_as(1.0)


# ---------------------------------------------------------------------- predicates
def test_is_tensor_is_floating_point_numel():
    assert tg.is_tensor(tg.zeros(1)) and tg.is_tensor(tg.nn.Parameter(tg.zeros(1)))
    assert not tg.is_tensor(np.zeros(1)) and not tg.is_tensor([1.0])
    for dtype, floating in ((tg.float16, True), (tg.float32, True), (tg.float64, True), (tg.int64, False),
                            (tg.uint8, False), (tg.bool, False)):
        assert tg.is_floating_point(tg.zeros(2, dtype=dtype)) is floating
    assert tg.numel(tg.zeros(2, 3, 4)) == 24 and tg.numel(tg.tensor(1.0)) == 1 and tg.numel(tg.zeros(0, 3)) == 0
    with pytest.raises(TypeError, match="is_floating_point: expected a Tensor, got float"):
        tg.is_floating_point(1.0)
    with pytest.raises(TypeError, match="numel: expected a Tensor, got list"):
        tg.numel([1, 2])


def test_docstring_examples():
    import doctest

    import tapegrad.creation as module

    assert doctest.testmod(module).failed == 0


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    for name in LEGACY:
        a, b = getattr(torch, name)([1, 0, 2]), getattr(tg, name)([1, 0, 2])
        assert str(b.dtype) == str(a.dtype).split(".")[-1] and b.tolist() == a.tolist()
        assert tuple(getattr(tg, name)(2, 3).shape) == tuple(getattr(torch, name)(2, 3).shape)
    calls = {"new_zeros": lambda x: x.new_zeros(2, 3), "new_ones": lambda x: x.new_ones((2,)),
             "new_full": lambda x: x.new_full((2,), 2.7), "new_empty": lambda x: x.new_empty(size=(1,)),
             "new_tensor": lambda x: x.new_tensor([1.5, 2.5]), "type_as": lambda x: x.type_as(x.new_ones(1).double())}
    for name, call in calls.items():
        a, b = call(torch.ones(2, dtype=torch.int32)), call(tg.ones(2, dtype=tg.int32))
        assert str(b.dtype) == str(a.dtype).split(".")[-1] and tuple(b.shape) == tuple(a.shape), name
        if name != "new_empty":  # uninitialized in PyTorch
            assert b.tolist() == a.tolist(), name


def test_linspace_with_a_non_finite_end_is_all_nan_and_as_tensor_keeps_the_graph():
    assert np.isnan(tg.linspace(float("nan"), 0, 3).numpy()).all()
    assert np.isnan(tg.linspace(0, float("inf"), 3).numpy()).all()
    assert tg.linspace(0, float("inf"), 1).tolist() == [0.0]
    x = tg.tensor([1.0], requires_grad=True)
    y = tg.as_tensor(x, dtype=tg.float64)
    assert y.requires_grad and y.dtype == tg.float64  # PyTorch's as_tensor of a tensor is tensor.to(dtype)


def test_randint_like_takes_high_alone_or_low_and_high():
    x = tg.zeros(200)
    one = tg.randint_like(x, 5)
    assert one.dtype == tg.float32 and one.shape == (200,) and set(one.tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    two = tg.randint_like(x, 3, 5, dtype=tg.int64)
    assert two.dtype == tg.int64 and set(two.tolist()) <= {3, 4}


# ---------------------------------------------------------------------- values converted as PyTorch converts them
@pytest.mark.parametrize("call, value, dtype", [
    (lambda v, d: tg.full((1,), v, dtype=d), 300, tg.uint8),
    (lambda v, d: tg.full((1,), v, dtype=d), -256, tg.uint8),
    (lambda v, d: tg.full((1,), v, dtype=d), float("nan"), tg.int64),
    (lambda v, d: tg.full((1,), v, dtype=d), float("inf"), tg.int32),
    (lambda v, d: tg.full_like(tg.ones(2, dtype=d), v), -1.5, tg.uint8),
    (lambda v, d: tg.zeros(1).new_full((1,), v, dtype=d), 128, tg.int8),
    (lambda v, d: tg.tensor([1, v], dtype=d), 300, tg.uint8),
    (lambda v, d: tg.tensor([[v]], dtype=d), float("nan"), tg.int64),
    (lambda v, d: tg.tensor([tg.tensor(v)], dtype=d), 203200, tg.uint8),  # a one-element tensor is read as a number
    (lambda v, d: tg.tensor([[tg.tensor([v], dtype=tg.int32)]], dtype=d), 300, tg.int8),
])
def test_values_out_of_an_integer_dtype_are_refused(call, value, dtype):
    with pytest.raises(RuntimeError, match="value cannot be converted to type .* without overflow"):
        call(value, dtype)


def test_values_in_range_are_converted_as_pytorch():
    assert tg.full((2,), -1, dtype=tg.uint8).tolist() == [255, 255]  # a negative int down to -max wraps
    assert tg.full((1,), -1.5, dtype=tg.int64).tolist() == [-1]  # a float truncates toward zero
    assert tg.tensor([1.5, -2.5], dtype=tg.int64).tolist() == [1, -2]
    assert tg.full((1,), 1e30, dtype=tg.float16).tolist() == [float("inf")]  # floats are not checked


@given(st.sampled_from([(0, 2.5, 0.5), (0.5, 3.7, 1.5), (2.5,), (1.9, 5.2, 1), (0, 5, 1.9), (-2.7, 2), (5, 0, -2)]),
       st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "float32", "float64"]))
def test_arange_with_an_integer_dtype_follows_pytorchs_rules(args, dtype):
    dt = getattr(tg, dtype)
    if dtype == "int64":  # start, end and step are truncated first
        ints = [int(v) for v in args]
        want = np.arange(*ints) if ints[-1] or len(ints) < 3 else None
    elif dtype.startswith(("int", "uint")):  # counted in double, stepped by the truncated step
        start, end, step = (0, args[0], 1) if len(args) == 1 else (args + (1,))[:3]
        n = int(np.ceil((end - start) / step))
        want = (int(start) + np.arange(n) * int(step)).astype(dtype)
    else:
        want = np.arange(*args).astype(dtype)
    if want is None:
        with pytest.raises(ValueError, match="step must be nonzero"):
            tg.arange(*args, dtype=dt)
        return
    np.testing.assert_array_equal(tg.arange(*args, dtype=dt).numpy(), want)


def test_arange_and_linspace_refusals_and_edges_as_pytorch():
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent"):
        tg.arange(-1.5)
    with pytest.raises(NotImplementedError, match="arange: not implemented for bool"):
        tg.arange(5, 0, -1, dtype=tg.bool)
    with pytest.raises(RuntimeError, match="unsupported range"):
        tg.arange(0, float("inf"))
    with pytest.raises(RuntimeError, match="linspace: number of steps must be non-negative"):
        tg.linspace(0, 1, -1)
    got = tg.linspace(-float("inf"), 3, 3).numpy()  # PyTorch's two-sided formula: nan, -inf, nan
    assert np.isnan(got[0]) and got[1] == -np.inf and np.isnan(got[2])


def test_creation_matches_pytorch():
    torch = pytest.importorskip("torch")
    cases = [lambda m: m.arange(0, 2.5, 0.5, dtype=m.int16), lambda m: m.arange(-2.7, 2, dtype=m.uint8),
             lambda m: m.arange(0, 5, 1.9, dtype=m.int64), lambda m: m.linspace(-float("inf"), 3, 3),
             lambda m: m.linspace(0, float("inf"), 4), lambda m: m.linspace(-1.5, 2.5, 4, dtype=m.int64),
             lambda m: m.linspace(0, 1, 7), lambda m: m.full((2,), -1, dtype=m.uint8),
             lambda m: m.tensor([1.5, -2.5], dtype=m.int64), lambda m: m.rand_like(m.tensor(1.0)).shape]
    for case in cases:
        got, want = case(tg), case(torch)
        if isinstance(want, torch.Size):
            assert tuple(got) == tuple(want)
            continue
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    for case in (lambda m: m.rand(), lambda m: m.zeros(dtype=m.int64), lambda m: m.arange(0, 3, 0.5, dtype=m.int64),
                 lambda m: m.full((1,), 300, dtype=m.uint8), lambda m: m.tensor([300], dtype=m.uint8)):
        for m in (tg, torch):
            with pytest.raises((TypeError, RuntimeError, ValueError)):
                case(m)


def test_tensor_of_tensors_takes_their_dtypes_as_pytorch():
    assert tg.tensor([tg.tensor(1.9, dtype=tg.float64)] * 2).dtype == tg.float64
    assert tg.tensor([tg.tensor(1, dtype=tg.int8), tg.tensor(2, dtype=tg.int16)]).dtype == tg.int16
    assert tg.tensor([tg.tensor(1.5, dtype=tg.float16), 2]).dtype == tg.float16  # an int beside a float16
    assert tg.tensor([tg.tensor(1, dtype=tg.int8), 2.5]).dtype == tg.float32
    assert tg.tensor([tg.tensor(True), 2]).dtype == tg.int64
    assert tg.tensor([tg.tensor(1), tg.tensor(2)], dtype=tg.float16).dtype == tg.float16
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        tg.tensor([tg.tensor(1.5), tg.tensor(2.5)], dtype=tg.bool)
    torch = pytest.importorskip("torch")
    for make in (lambda m: [m.tensor(1.9, dtype=m.float64)] * 2, lambda m: [m.tensor(1.5, dtype=m.float16), 2],
                 lambda m: [m.tensor(1, dtype=m.int8), m.tensor(2, dtype=m.int16)], lambda m: [[m.tensor(True)]]):
        assert str(tg.tensor(make(tg)).dtype).split(".")[-1] == str(torch.tensor(make(torch)).dtype).split(".")[-1]


def test_random_creation_refuses_non_float_dtypes_and_empty_ranges_as_pytorch():
    for call in (lambda: tg.rand(2, dtype=tg.int64), lambda: tg.randn(2, dtype=tg.bool),
                 lambda: tg.rand_like(tg.tensor([True])), lambda: tg.randn_like(tg.tensor([1], dtype=tg.int16))):
        with pytest.raises(NotImplementedError, match="random values of dtype"):
            call()
    with pytest.raises(RuntimeError, match="'from' to be less than 'to'"):
        tg.randint(1, 1, (0, 0))
    assert tg.randint(0, 1, (2,)).tolist() == [0, 0]


@given(st.sampled_from(["bool", "uint8", "int8", "int16", "int32", "int64"]), st.integers(-2**40, 2**40),
       st.integers(1, 2**41))
def test_randint_refuses_bounds_its_dtype_cannot_hold(dtype, low, span):
    """randint(low, high, dtype=...) draws from [low, high) or raises naming the bound, as PyTorch's random_; it
    used to wrap silently (randint(0, 300, dtype=uint8) gave values from 0 to 255 with the wrong frequencies)."""
    high = low + span
    dt = getattr(tg, dtype)
    lo, hi = (0, 1) if dtype == "bool" else (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    if lo <= low and high - 1 <= hi:
        out = tg.randint(low, high, (50,), dtype=dt)
        values = out.numpy().astype(np.int64)
        assert out.dtype == dt and (values >= low).all() and (values < high).all()
    else:
        with pytest.raises(RuntimeError, match="randint: (from|to - 1) is out of bounds"):
            tg.randint(low, high, (3,), dtype=dt)
        with pytest.raises(RuntimeError, match="out of bounds"):
            tg.randint_like(tg.zeros(3), low, high, dtype=dt)


def test_size_and_stride_of_a_dim_of_a_0d_tensor_raise_as_pytorch():
    x = tg.tensor(3.0)
    assert x.size() == () and x.stride() == ()
    for dim in (0, -1):
        with pytest.raises(IndexError, match="size: dimension specified as"):
            x.size(dim)
        with pytest.raises(IndexError, match="stride: dimension specified as"):
            x.stride(dim)


@given(st.floats(-50, 50), st.floats(-50, 50), st.integers(0, 9), st.sampled_from(["int16", "int32", "int64"]))
def test_integer_linspace_truncates_its_ends_first_as_pytorch(start, end, steps, dtype):
    """PyTorch converts the ends to the integer dtype (truncating), steps up from start for the first half and
    down from end for the second, and truncates each value: linspace(0.5, -3, 4, int32) is [0, -1, -2, -3]
    (tapegrad gave [0, 0, -1, -3], computing from the float ends)."""
    out = tg.linspace(start, end, steps, dtype=getattr(tg, dtype))
    s, e = int(start), int(end)
    if steps == 1:
        want = [s]
    else:
        step = (e - s) / (steps - 1) if steps > 1 else 0.0
        want = [int(s + step * i) if i < steps // 2 else int(e - step * (steps - 1 - i)) for i in range(steps)]
    assert out.dtype == getattr(tg, dtype) and out.tolist() == want


def test_linspace_refuses_bool_and_compares_with_pytorch():
    with pytest.raises(NotImplementedError, match="linspace_cpu"):
        tg.linspace(0.5, 0.0, 3, dtype=tg.bool)
    # PyTorch's linspace_out runs no kernel for 0 steps and fills start for 1 (RangeFactories.cpp): bool takes those
    none = tg.linspace(0.0, 2.0, 0, dtype=tg.bool)
    assert none.dtype == tg.bool and none.numel() == 0
    assert [tg.linspace(s, 2.0, 1, dtype=tg.bool).tolist() for s in (0.0, 0.5, float("nan"))] == [[False], [True],
                                                                                                    [True]]
    torch = pytest.importorskip("torch")
    for start, steps in [(0.0, 0), (0.0, 1), (0.5, 1), (float("nan"), 1), (-3, 1)]:
        assert tg.linspace(start, 2.0, steps, dtype=tg.bool).tolist() == \
            torch.linspace(start, 2.0, steps, dtype=torch.bool).tolist()
    for v, dtype in [(300, "uint8"), (-1, "uint8"), (True, "uint8"), (2 ** 40, "int32"), (5, "bool")]:
        outcome = []
        for m in (tg, torch):
            try:
                outcome.append(m.tensor([m.tensor(v)], dtype=getattr(m, dtype)).tolist())
            except RuntimeError:
                outcome.append("refused")
        assert outcome[0] == outcome[1], (v, dtype, outcome)
    for args in [(0.5, -3, 4), (-3, 0.5, 4), (0, 10, 4), (2.7, 9.9, 5), (-7.9, 7.9, 7)]:
        for dtype in ("int16", "int32", "int64"):
            got = tg.linspace(*args, dtype=getattr(tg, dtype)).tolist()
            assert got == torch.linspace(*args, dtype=getattr(torch, dtype)).tolist(), (args, dtype)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=4).filter(lambda s: 0 in s))
def test_stride_of_an_empty_tensor_is_pytorchs_contiguous_stride(shape):
    """numpy gives empty arrays zero strides; PyTorch's are contiguous, a size of 0 counted as 1: (0, 2, 2) has
    (4, 2, 1)."""
    want, step = [], 1
    for n in reversed(shape):
        want.insert(0, step)
        step *= max(n, 1)
    x = tg.zeros(shape)
    assert x.stride() == tuple(want) and x.stride(0) == want[0]


def test_integer_linspace_of_no_steps_takes_any_ends():
    """PyTorch converts the ends to the integer dtype only when there are values to make."""
    assert tg.linspace(float("nan"), 0.0, 0, dtype=tg.int16).shape == (0,)
    with pytest.raises(RuntimeError, match="cannot be converted"):
        tg.linspace(float("nan"), 0.0, 2, dtype=tg.int16)


# ---------------------------------------------------------------------- full's value: fill_'s checked conversion
@given(value=st.one_of(st.floats(), st.integers(-2 ** 62, 2 ** 62)), dtype=st.sampled_from(["float16", "float32"]),
       shape=st.sampled_from([(), (1,), (2,), (0,), (2, 3)]), how=st.sampled_from(["full", "new_full", "full_like"]))
def test_full_refuses_a_float_its_dtype_cannot_hold(value, dtype, shape, how):
    # PyTorch's full is fill_: a finite value beyond the float dtype's range raises (c10's checked conversion),
    # except PyTorch's unchecked one-element float16 fill, which rounds to inf
    dt = getattr(tg, dtype)
    calls = {"full": lambda: tg.full(shape, value, dtype=dt), "new_full": lambda: tg.zeros(1, dtype=dt).new_full(
        shape, value), "full_like": lambda: tg.full_like(tg.zeros(shape, dtype=dt), value)}
    big = (not isinstance(value, float) or math.isfinite(value)) and abs(value) > np.finfo(dtype).max
    if big and not (dtype == "float16" and math.prod(shape) == 1):
        with pytest.raises(RuntimeError, match=f"{how}: value .* cannot be converted to type {dtype}"):
            calls[how]()
    else:
        out = calls[how]()
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(out.numpy(), np.full(shape, value, dtype=dtype))


def test_full_float_overflow_as_pytorch():
    torch = pytest.importorskip("torch")
    for shape in ((), (1,), (2,), (0,)):
        for value in (1e5, 65519.0, 1e40, -1e40, float("inf"), float("nan"), 2 ** 40):
            for dtype in ("float16", "float32"):
                try:
                    want = torch.full(shape, value, dtype=getattr(torch, dtype)).double().numpy()
                except RuntimeError:
                    want = None
                try:
                    got = tg.full(shape, value, dtype=getattr(tg, dtype)).double().numpy()
                except RuntimeError:
                    got = None
                assert (got is None) == (want is None), (shape, value, dtype)
                if got is not None:
                    np.testing.assert_array_equal(got, want)


_LINSPACE_ENDS = [(1e30, 0, 1, "int64"), (0, 5, 3, "int64"), (-1, 5, 3, "uint8"), (0.5, -3, 4, "int32"),
                  (float("nan"), 1, 2, "int32"), (300, 0, 2, "int8"), (1e30, 0, 0, "int64"), (-256, 0, 2, "uint8"),
                  (-0.0, float("nan"), 1, "int64"), (0, 1e30, 1, "int64"), (-1, 1e30, 1, "uint8")]


@pytest.mark.parametrize("start,end,steps,dtype", _LINSPACE_ENDS)
def test_integer_linspace_converts_its_ends_with_c10s_check(start, end, steps, dtype):
    # PyTorch's linspace kernel converts start and end to the integer dtype with c10's checked conversion; one step
    # is fill_(start), which never reads the end
    info = np.iinfo(dtype)
    fits = all(math.isfinite(v) and (info.min <= v <= info.max or (info.min == 0 and -int(info.max) <= v < 0))
               for v in ((start,) if steps == 1 else (start, end)))
    if steps and not fits:
        with pytest.raises(RuntimeError, match="linspace: value cannot be converted to type"):
            tg.linspace(start, end, steps, dtype=getattr(tg, dtype))
    else:
        assert tg.linspace(start, end, steps, dtype=getattr(tg, dtype)).shape == (steps,)


def test_integer_linspace_ends_match_pytorch():
    torch = pytest.importorskip("torch")
    for start, end, steps, dtype in _LINSPACE_ENDS:
        got = []
        for lib in (tg, torch):
            try:
                got.append(lib.linspace(start, end, steps, dtype=getattr(lib, dtype)).tolist())
            except RuntimeError:
                got.append("raises")
        assert got[0] == got[1], (start, end, steps, dtype)


@given(st.lists(st.one_of(st.integers(-2 ** 40, 2 ** 40), st.floats()), min_size=1, max_size=4),
       st.sampled_from(["int8", "uint8", "int32", "int64"]))
@example([-math.inf], "int32")
@example([1.5, 300], "int32")
@example([-1], "uint8")
def test_new_tensor_checks_numbers_as_tensor_does(values, dtype):
    # an integer new_tensor wrapped -inf to -2147483648 silently; PyTorch refuses numbers its dtype cannot hold
    base = tg.zeros(1, dtype=getattr(tg, dtype))
    try:
        want = tg.tensor(values, dtype=getattr(tg, dtype)).tolist()
    except RuntimeError:
        with pytest.raises(RuntimeError, match="new_tensor: value cannot be converted"):
            base.new_tensor(values)
        return
    assert base.new_tensor(values).tolist() == want


@given(st.lists(st.one_of(st.integers(-2 ** 63, 2 ** 63 - 1), st.floats(-2.0 ** 62, 2.0 ** 62)), min_size=1,
                max_size=4))
@example([2 ** 63 - 1, -0.0])
@example([-(2 ** 63), 1.5])
@example([2 ** 53 + 1, -2.75])
def test_integer_tensor_stores_each_number_exactly(values):
    # PyTorch converts each number into the dtype: 2**63 - 1 beside a float became -2**63 (numpy's float64 array)
    want = [int(v) for v in values]  # (a float is truncated toward zero, C's conversion)
    assert tg.tensor(values, dtype=tg.int64).tolist() == want
    assert tg.zeros((), dtype=tg.int64).new_tensor(values).tolist() == want


def test_new_tensor_number_checks_match_pytorch():
    torch = pytest.importorskip("torch")
    for values, dtype in (([-math.inf], "int32"), ([1.5, 300], "int32"), ([-1], "uint8"), ([2 ** 40], "int32"),
                          ([1e40], "float32"), ([2 ** 63 - 1, -0.0], "int64"), ([2 ** 62 + 1, -1.75], "int64"),
                          ([-1, 2.9, 255], "uint8")):
        got = []
        for lib in (tg, torch):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    got.append(lib.zeros(1, dtype=getattr(lib, dtype)).new_tensor(values).tolist())
            except RuntimeError:
                got.append("raises")
        assert got[0] == got[1], (values, dtype)


@pytest.mark.parametrize("make", ["as_tensor", "legacy"])
@pytest.mark.parametrize("values,dtype", [([-math.inf], "int32"), ([300], "int8"), ([-1], "uint8"), ([1.5, 2], "int32"),
                                          ([2 ** 63], "int64")])
def test_as_tensor_and_legacy_constructors_check_numbers_as_pytorch(make, values, dtype):
    # both wrapped silently before (as_tensor([300], dtype=int8) was 44); PyTorch refuses what the dtype cannot hold
    legacy = {"int32": tg.IntTensor, "int8": tg.CharTensor, "uint8": tg.ByteTensor, "int64": tg.LongTensor}[dtype]
    if make == "as_tensor":
        def build():
            return tg.as_tensor(values, dtype=getattr(tg, dtype))
    else:
        def build():
            return legacy(values)
    try:
        want = tg.tensor(values, dtype=getattr(tg, dtype)).tolist()
    except RuntimeError:
        with pytest.raises(RuntimeError, match="value cannot be converted to type"):
            build()
        return
    assert build().tolist() == want
    torch = pytest.importorskip("torch")
    legacy_torch = {"int32": torch.IntTensor, "int8": torch.CharTensor, "uint8": torch.ByteTensor,
                    "int64": torch.LongTensor}[dtype]
    assert legacy_torch(values).tolist() == want


def _exact_fma_linspace(start, end, steps, dtype):
    """PyTorch's float32/float64 linspace from its formula with exact arithmetic: the ends and the step rounded to
    the dtype, start + step * i (end - step * (steps - 1 - i) for the second half) rounded once."""
    from fractions import Fraction

    t = np.dtype(dtype).type
    s, e = t(start), t(end)
    step = (e - s) / t(steps - 1)
    out = []
    for i in range(steps):
        exact = Fraction(float(s)) + Fraction(float(step)) * i if i < steps // 2 else \
            Fraction(float(e)) - Fraction(float(step)) * (steps - 1 - i)
        near = t(float(exact))  # within one step of the dtype of the nearest: take the nearest, ties to even
        cands = [np.nextafter(near, t(-np.inf)), near, np.nextafter(near, t(np.inf))]
        out.append(min(cands, key=lambda c: (abs(Fraction(float(c)) - exact),
                                             int(np.array(c).view(np.int64 if t is np.float64 else np.int32)) & 1)))
    return np.array(out, dtype)


@given(start=st.sampled_from([-0.5, 0.05, -1.9, 2.6, -0.7, 1.3, 1e-3, 7.0, -1e30]),
       end=st.sampled_from([0.5, -0.3, 3.0, 1.1, 1e30, 123.456]), steps=st.integers(2, 60),
       dtype=st.sampled_from(["float32", "float64"]))
@example(start=-0.5, end=0.5, steps=6, dtype="float64")  # 0.5 - 0.2 is exactly 0.3 (numpy: 0.30000000000000004)
@example(start=-0.5, end=1e30, steps=9, dtype="float32")  # 3 * step - 0.5 just below a float32 tie
def test_float_linspace_is_pytorchs_fused_multiply_add(start, end, steps, dtype):
    # PyTorch's linspace kernel computes start + step * i in the dtype, which its AVX2/AVX512 builds contract into
    # one fused multiply-add (RangeFactoriesKernel.cpp): one rounding of the exact value
    got = tg.linspace(start, end, steps, dtype=getattr(tg, dtype)).numpy()
    np.testing.assert_array_equal(got, _exact_fma_linspace(start, end, steps, dtype))
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(got, torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("start, end, steps", [(-1.0, -0.0, 4), (-0.0, 1.0, 4), (-0.0, -0.0, 3), (-3.0, -0.0, 2),
                                                (0.0, -1.0, 5)])
def test_float_linspace_keeps_the_sign_of_a_zero_end(start, end, steps, dtype):
    # each value is one fused multiply-add, start + step * 0 or end - step * 0: IEEE's sum -0.0 + -0.0 is -0.0 and
    # -0.0 + 0.0 is +0.0 (the float64 emulation once lost the first: a histogram's last edge came out +0.0)
    got = tg.linspace(start, end, steps, dtype=getattr(tg, dtype)).numpy()
    first, last = np.float64(start) + 0.0, np.float64(end) - 0.0
    assert np.signbit(got[0]) == np.signbit(first) and np.signbit(got[-1]) == np.signbit(last)
    torch = pytest.importorskip("torch")
    expected = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    np.testing.assert_array_equal(got, expected)


def test_float_linspace_edges_as_pytorch():
    torch = pytest.importorskip("torch")
    for args in [(0.1, 1234.567, 7, "float16"), (-3e38, 3e38, 5, "float32"), (-60000, 60000, 5, "float16"),
                 (0.0, float("inf"), 4, "float64"), (2.5, 2.5, 1, "float32"), (1.0, -1.0, 0, "float64")]:
        got = tg.linspace(*args[:3], dtype=getattr(tg, args[3])).numpy()
        np.testing.assert_array_equal(got, torch.linspace(*args[:3], dtype=getattr(torch, args[3])).numpy())
    for args in [(1e300, 0.0, 2, "float32"), (7e4, 0.0, 2, "float16"), (0.0, -1e39, 3, "float32"),
                 (1e300, 0.0, 1, "float32")]:
        for m in (tg, torch):
            with pytest.raises(RuntimeError, match="cannot be converted"):
                m.linspace(*args[:3], dtype=getattr(m, args[3]))
