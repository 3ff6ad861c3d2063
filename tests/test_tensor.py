"""Tensor basics: construction, dtype defaults, metadata, conversion, printing, creation functions, RNG."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg


def test_python_data_gets_pytorch_default_dtypes():
    assert tg.tensor([1.0, 2.0]).dtype == tg.float32
    assert tg.tensor(1.5).dtype == tg.float32
    assert tg.tensor([1, 2]).dtype == tg.int64
    assert tg.tensor([True, False]).dtype == tg.bool
    assert tg.tensor(np.zeros(2)).dtype == tg.float64  # numpy arrays keep their dtype
    assert tg.tensor([1, 2], dtype=tg.float64).dtype == tg.float64
    assert tg.tensor([[1.0], [2.0]]).shape == (2, 1)
    assert tg.tensor([tg.tensor(1.0), tg.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3)
    t = tg.tensor(a)
    s = tg.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 0 and s[0].item() == 5


def test_bad_data_is_a_type_error():
    with pytest.raises(TypeError, match="tensor"):
        tg.tensor(["a", "b"])
    with pytest.raises(TypeError, match="size"):
        tg.zeros(2.5)


def test_metadata():
    x = tg.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert isinstance(x.shape, tg.Size) and x.shape.numel() == 24
    assert x.is_leaf and not x.requires_grad and x.grad_fn is None
    assert x.device == tg.device("cpu") and x.is_floating_point()
    with pytest.raises(IndexError, match="size: dim 3 is out of range"):
        x.size(3)


def test_item_tolist_numpy_and_array_protocol():
    x = tg.tensor([[1.0, 2.0]])
    assert x.tolist() == [[1.0, 2.0]]
    assert tg.tensor(3.5).item() == 3.5
    with pytest.raises(RuntimeError, match="2 elements"):
        x.item()
    assert np.asarray(x).shape == (1, 2)
    w = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    assert w.detach().numpy().tolist() == [1.0, 1.0]


def test_bool_len_iter_format_index():
    assert bool(tg.tensor([1.0])) and not bool(tg.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tg.ones(2))
    assert [v.item() for v in tg.tensor([1, 2, 3])] == [1, 2, 3]
    assert f"{tg.tensor(3.14159):.2f}" == "3.14"
    assert [10, 20, 30][tg.tensor(1)] == 20
    with pytest.raises(TypeError):
        len(tg.tensor(1.0))


def test_repr_like_pytorch():
    assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tg.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(tg.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(tg.tensor(0.5)) == "tensor(0.5000)"
    assert repr(tg.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(tg.tensor([1.0], dtype=tg.float64)) == "tensor([1.], dtype=tapegrad.float64)"
    y = tg.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert "[[0., 0.]," in repr(tg.zeros(2, 2))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 1)])
def test_repr_of_an_empty_tensor_names_every_dtype_but_the_default(dtype, shape):
    # PyTorch's _str_intern: no element shows that an empty tensor is int64 or bool, so only the default float
    # dtype goes unnamed, and the size comes before the dtype
    t = tg.zeros(shape, dtype=getattr(tg, dtype))
    size = "" if len(shape) == 1 else f", size={shape}"
    named = "" if dtype == "float32" else f", dtype=tapegrad.{dtype}"
    assert repr(t) == f"tensor([]{size}{named})"


def test_detach_clone_requires_grad():
    w = tg.ones(3, requires_grad=True)
    d = w.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), w.detach().numpy())
    c = w.clone()
    assert c.requires_grad and not c.is_leaf
    c.sum().backward()
    assert w.grad.tolist() == [1, 1, 1]
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf"):
        c.requires_grad_(False)


@given(st.lists(st.floats(-3, 3, width=32), min_size=1, max_size=5), st.booleans())
def test_detach_in_place_keeps_the_node_for_ops_recorded_before(values, write_later):
    # PyTorch's detach_ makes the tensor a leaf, but the graph recorded before keeps its old grad_fn: z's gradient
    # still reaches x through y's MulBackward0, and an op recorded after the detach_ sees a constant
    x = tg.tensor(values, requires_grad=True)
    y = x * 2
    z = y * y
    version = y._version
    assert y.detach_() is y
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf and y._version == version  # no write
    later = y * x
    if write_later:
        with tg.no_grad():
            y.add_(1)  # z's rule reads y: the write must still stop its backward
        with pytest.raises(RuntimeError, match="in-place"):
            z.sum().backward()
        return
    (z.sum() + later.sum()).backward()
    want = 8 * np.asarray(values, dtype=np.float32) + 2 * np.asarray(values, dtype=np.float32)  # d(4x^2) + y
    assert np.allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-6)


def test_detach_in_place_keeps_the_hooks_with_the_node():
    # a hook registered on a non-leaf belongs to its grad_fn in PyTorch: after detach_() it still runs for the ops
    # recorded before (x.grad is 60 there, 6 if the hook were lost)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    z = y * 3
    y.detach_()
    z.sum().backward()
    assert x.grad.tolist() == [60.0, 60.0]


def test_detach_in_place_as_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        x = lib.tensor([0.0, -1.5, 2.0], requires_grad=True)
        y = x.half()
        grids = lib.meshgrid(y, y, indexing="ij")  # views of y recorded before the detach_
        y.detach_()
        loss = (grids[0].double() * lib.tensor([[1.0, 2.0, 3.0]] * 3, dtype=lib.float64)).sum()
        loss.backward()
        if lib is tg:
            ours = x.grad.numpy()
        else:
            assert ours.tolist() == x.grad.numpy().tolist()


def test_data_property_is_a_detached_tensor_sharing_memory():
    w = tg.ones(2, requires_grad=True)
    w.data.mul_(3)  # the old PyTorch idiom for an untracked update
    assert w.tolist() == [3.0, 3.0]
    w.data = tg.zeros(2)
    assert w.tolist() == [0.0, 0.0] and w.requires_grad


def test_to_and_device_are_cpu_noops():
    x = tg.ones(2)
    assert x.to("cpu") is x and x.cpu() is x and x.to(tg.device("cpu")) is x
    assert x.to(tg.float64).dtype == tg.float64
    assert x.to("cpu", tg.float64).dtype == tg.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")


def test_creation_functions():
    assert tg.zeros(2, 3).tolist() == [[0, 0, 0]] * 2 and tg.zeros((2,)).dtype == tg.float32
    assert tg.ones([2]).tolist() == [1, 1]
    assert tg.full((2,), 7).dtype == tg.int64 and tg.full((2,), 7.0).dtype == tg.float32
    assert tg.empty(3).shape == (3,)
    x = tg.ones(2, 3, dtype=tg.float64)
    assert tg.zeros_like(x).dtype == tg.float64 and tg.ones_like(x).shape == (2, 3)
    assert tg.full_like(x, 2).tolist() == [[2, 2, 2]] * 2
    assert tg.arange(5).tolist() == [0, 1, 2, 3, 4] and tg.arange(5).dtype == tg.int64
    assert tg.arange(0, 1, 0.25).dtype == tg.float32 and tg.arange(1, 7, 2).tolist() == [1, 3, 5]
    np.testing.assert_allclose(tg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert tg.eye(2).tolist() == [[1, 0], [0, 1]]
    assert tg.zeros(2, requires_grad=True).requires_grad


def test_random_functions_are_seeded_and_shaped():
    tg.manual_seed(3)
    a = tg.randn(4, 5)
    tg.manual_seed(3)
    b = tg.randn(4, 5)
    assert np.array_equal(a.numpy(), b.numpy()) and a.dtype == tg.float32
    g = tg.Generator().manual_seed(1)
    u = tg.rand(1000, generator=g)
    assert 0 <= u.min().item() and u.max().item() < 1
    r = tg.randint(0, 10, (100,))
    assert r.dtype == tg.int64 and 0 <= r.min().item() and r.max().item() < 10
    assert tg.randint(5, (3,)).shape == (3,)
    state = tg.get_rng_state()
    x1 = tg.randn(3)
    tg.set_rng_state(state)
    assert np.array_equal(tg.randn(3).numpy(), x1.numpy())


def test_generators_are_independent():
    g1 = tg.Generator().manual_seed(0)
    g2 = tg.Generator().manual_seed(0)
    tg.randn(10)
    assert np.array_equal(tg.randn(3, generator=g1).numpy(), tg.randn(3, generator=g2).numpy())


def test_default_dtype_can_be_changed():
    try:
        tg.set_default_dtype(tg.float64)
        assert tg.tensor([1.0]).dtype == tg.float64 and tg.zeros(1).dtype == tg.float64
    finally:
        tg.set_default_dtype(tg.float32)
    with pytest.raises(TypeError):
        tg.set_default_dtype(tg.int64)


def test_operand_type_errors_name_the_op():
    with pytest.raises(TypeError, match="mul"):
        tg.ones(2) * "a"
    with pytest.raises(ValueError, match=r"add: cannot broadcast shapes \(2, 3\) and \(4,\)"):
        tg.ones(2, 3) + tg.ones(4)
    with pytest.raises(ValueError, match=r"matmul: cannot multiply \(2, 3\) by \(4, 5\): inner sizes 3 and 4 differ"):
        tg.ones(2, 3) @ tg.ones(4, 5)


def test_legacy_tensor_constructor_is_float_like_pytorch():
    assert tg.Tensor([1, 2]).dtype == tg.float32 and tg.Tensor([1, 2]).tolist() == [1.0, 2.0]
    assert tg.Tensor(np.array([1, 2])).dtype == tg.float32
    assert tg.Tensor(2, 3).shape == (2, 3) and tg.Tensor(2, 3).dtype == tg.float32
    assert tg.Tensor().shape == (0,) and repr(tg.Tensor()) == "tensor([])"
    assert repr(tg.zeros(0, 3)) == "tensor([], size=(0, 3))"
    with pytest.raises(TypeError, match="Tensor: expected sizes"):
        tg.Tensor([1], [2])


def test_lists_are_not_tensor_operands_as_in_pytorch():
    with pytest.raises(TypeError, match="unsupported operand type list"):
        tg.ones(2) + [1, 2]
    assert (tg.ones(2) + np.ones(2)).tolist() == [2.0, 2.0]  # numpy arrays are converted


def test_repr_chooses_pytorch_float_formats_and_follows_set_printoptions():
    assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tg.tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
    assert repr(tg.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert repr(tg.tensor([1.0, 3000.0])) == "tensor([1.0000e+00, 3.0000e+03])"  # a span over 1000x
    assert "9.9700e+02" in repr(tg.arange(2000.0).reshape(2, 1000))  # summarized, still PyTorch's format
    try:
        tg.set_printoptions(precision=2)
        assert repr(tg.tensor([1.2345])) == "tensor([1.23])"
        tg.set_printoptions(sci_mode=True)
        assert repr(tg.tensor([1.2345])) == "tensor([1.23e+00])"
        tg.set_printoptions(profile="default", threshold=5, edgeitems=1)
        assert repr(tg.arange(10)) == "tensor([0,  ..., 9])"  # PyTorch's summary element is " ..."
        assert repr(tg.arange(20).reshape(4, 5)) == "tensor([[ 0,  ...,  4],\n        ...,\n        [15,  ..., 19]])"
    finally:
        tg.set_printoptions(profile="default", sci_mode=None)
    assert repr(tg.tensor([1.2345])) == "tensor([1.2345])"


# sci mode pads every element to the widest, as PyTorch's formatter (a sign, a 3-digit exponent, inf/nan)
SCI_REPRS = {
    "[1e-4, -2.0, 3e5]": "tensor([ 1.0000e-04, -2.0000e+00,  3.0000e+05])",
    "[[1e-4, 2.0], [3e5, -1.0]]": "tensor([[ 1.0000e-04,  2.0000e+00],\n        [ 3.0000e+05, -1.0000e+00]])",
    "[1e-4, 2.0, 3e5]": "tensor([1.0000e-04, 2.0000e+00, 3.0000e+05])",
    "[float('nan'), -1e-5, 1e200]": "tensor([        nan, -1.0000e-05, 1.0000e+200], dtype=D)",
    "[float('-inf'), 1e-5, 1e20]": "tensor([      -inf, 1.0000e-05, 1.0000e+20])",
    "[1e-300, 1.0]": "tensor([1.0000e-300,  1.0000e+00], dtype=D)",
}


@pytest.mark.parametrize("values", sorted(SCI_REPRS))
def test_scientific_repr_pads_elements_as_pytorch(values):
    dtype = "float64" if "D" in SCI_REPRS[values] else "float32"
    t = tg.tensor(eval(values), dtype=getattr(tg, dtype))
    assert repr(t) == SCI_REPRS[values].replace("D", "tapegrad.float64")
    torch = pytest.importorskip("torch")
    assert repr(torch.tensor(eval(values), dtype=getattr(torch, dtype))) == SCI_REPRS[values].replace(
        "D", "torch.float64")


def test_repr_with_sci_mode_off_prints_fixed_and_huge_ratios_do_not_warn():
    import warnings

    try:
        tg.set_printoptions(sci_mode=False)
        assert repr(tg.tensor([1e-6, 1.0])) == "tensor([0.0000, 1.0000])"
    finally:
        tg.set_printoptions(sci_mode=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "1.0000e+300" in repr(tg.tensor([1e300, 1e-300], dtype=tg.float64))


@settings(deadline=None)
@given(st.lists(st.integers(0, 5), max_size=4), st.integers(-5, 5), st.integers(-5, 5), st.integers(0, 3))
def test_size_slices_sums_and_repeats_are_sizes(dims, lo, hi, n):
    """torch.Size's slicing, + and * give a Size (a plain tuple's would give tuples); indexing gives the int."""
    s = tg.Size(dims)
    for got, want in ((s[lo:hi], tuple(dims)[lo:hi]), (s + (7,), tuple(dims) + (7,)),
                      ((7,) + s, (7,) + tuple(dims)), (s * n, tuple(dims) * n), (n * s, n * tuple(dims))):
        assert type(got) is tg.Size and got == want
        assert got.numel() == int(np.prod(want, dtype=np.int64))
    if dims:
        assert type(s[0]) is int and s[-1] == dims[-1]
    with pytest.raises(TypeError):
        s + [1]
