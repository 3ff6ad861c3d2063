"""nn.init: distributions (sample statistics against the formulas), gains, fans, in-place semantics, seeding."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import nn
from tapegrad.nn import init

BIG = (300, 200)  # 60,000 draws: sample std within ~1% of the formula


def _std(t):
    return float(np.std(t._data))


def test_calculate_gain_values_and_errors():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_gains_match_pytorch():
    torch = pytest.importorskip("torch")
    for name, param in [("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.3), ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_uniform_and_normal_statistics():
    t = init.uniform_(tg.empty(*BIG), -2.0, 3.0)
    assert t._data.min() >= -2 and t._data.max() < 3
    assert float(t._data.mean()) == pytest.approx(0.5, abs=0.03)
    assert _std(t) == pytest.approx(5 / math.sqrt(12), rel=0.02)
    n = init.normal_(tg.empty(*BIG), mean=1.0, std=0.5)
    assert float(n._data.mean()) == pytest.approx(1.0, abs=0.01)
    assert _std(n) == pytest.approx(0.5, rel=0.02)


def test_trunc_normal_stays_in_bounds_with_the_truncated_std():
    t = init.trunc_normal_(tg.empty(*BIG), mean=0.0, std=1.0, a=-1.0, b=1.0)
    assert t._data.min() >= -1 and t._data.max() <= 1
    # variance of N(0, 1) truncated to [-1, 1]: 1 - 2 phi(1) / (2 Phi(1) - 1)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    mass = math.erf(1 / math.sqrt(2))
    assert _std(t) == pytest.approx(math.sqrt(1 - 2 * phi / mass), rel=0.02)
    shifted = init.trunc_normal_(tg.empty(1000), mean=5.0, std=0.1, a=4.9, b=5.2)
    assert shifted._data.min() >= 4.9 and shifted._data.max() <= 5.2
    with pytest.raises(ValueError, match="trunc_normal_: the lower bound a=1 must be below the upper bound b=0"):
        init.trunc_normal_(tg.empty(2), a=1, b=0)


def test_constant_ones_zeros_eye_dirac():
    assert init.constant_(tg.empty(2, 2), 0.5).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert init.ones_(tg.empty(3)).tolist() == [1, 1, 1]
    assert init.zeros_(tg.empty(3)).tolist() == [0, 0, 0]
    np.testing.assert_array_equal(init.eye_(tg.empty(2, 3))._data, np.eye(2, 3))
    with pytest.raises(ValueError, match=r"eye_: only tensors with 2 dimensions are supported, got shape \(3,\)"):
        init.eye_(tg.empty(3))
    w = init.dirac_(tg.empty(4, 2, 3, 3), groups=2)
    want = np.zeros((4, 2, 3, 3))
    want[0, 0, 1, 1] = want[1, 1, 1, 1] = want[2, 0, 1, 1] = want[3, 1, 1, 1] = 1
    np.testing.assert_array_equal(w._data, want)
    with pytest.raises(ValueError, match="dirac_: only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(tg.empty(2, 2))


EYE_OF_SHARED_MEMORY = [  # (base, expanded shape, PyTorch 2.13's result)
    ([[1.0, 2.0, 3.0]], (2, 3), [[1, 1, 0], [1, 1, 0]]),
    ([[1.0], [2.0], [3.0]], (3, 2), [[1, 1], [1, 1], [0, 0]]),
    ([[True], [False], [True]], (3, 3), [[True] * 3] * 3),  # meshgrid(v, v, indexing="ij")[0]
]


@pytest.mark.parametrize(("base", "shape", "want"), EYE_OF_SHARED_MEMORY)
def test_eye_of_elements_sharing_memory_fills_the_diagonals_memory(base, shape, want):
    """eye_ of an expanded view (meshgrid's outputs): PyTorch's eye(out=) zeroes it, then writes 1 into the memory
    locations of its diagonal, so every element at one of them is 1 (numpy refused the read-only array)."""
    b = tg.tensor(base)
    t = b.expand(*shape)
    assert init.eye_(t) is t
    assert t.tolist() == want
    assert b.tolist() == np.asarray(want)[:, :1].tolist() if shape[1] != b.shape[1] else want[:1]
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init.eye_(torch.tensor(base).expand(*shape))
    assert theirs.tolist() == want


def test_xavier_bounds_and_std():
    fan_in, fan_out = 200, 300
    a = math.sqrt(6 / (fan_in + fan_out))
    u = init.xavier_uniform_(tg.empty(fan_out, fan_in), gain=2.0)
    assert np.abs(u._data).max() <= 2 * a
    assert _std(u) == pytest.approx(2 * math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    n = init.xavier_normal_(tg.empty(fan_out, fan_in))
    assert _std(n) == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    conv = init.xavier_uniform_(tg.empty(16, 8, 3, 3))  # fans include the receptive field
    assert np.abs(conv._data).max() <= math.sqrt(6 / (8 * 9 + 16 * 9))


def test_kaiming_bounds_std_and_modes():
    w = init.kaiming_uniform_(tg.empty(*BIG), nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / BIG[1])
    assert np.abs(w._data).max() <= bound and np.abs(w._data).max() > 0.99 * bound
    assert _std(w) == pytest.approx(math.sqrt(2 / BIG[1]), rel=0.02)
    out = init.kaiming_normal_(tg.empty(*BIG), mode="fan_out", nonlinearity="relu")
    assert _std(out) == pytest.approx(math.sqrt(2 / BIG[0]), rel=0.02)
    leaky = init.kaiming_normal_(tg.empty(*BIG), a=0.2)
    assert _std(leaky) == pytest.approx(math.sqrt(2 / 1.04) / math.sqrt(BIG[1]), rel=0.02)
    with pytest.raises(ValueError, match=r"kaiming_uniform_: mode 'fan_avg' not supported"):
        init.kaiming_uniform_(tg.empty(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match=r"kaiming_normal_: fan in and fan out can not be computed for a tensor "
                                         r"with fewer than 2 dimensions \(got shape \(5,\)\)"):
        init.kaiming_normal_(tg.empty(5))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(tg.empty(0, 3))


def test_orthogonal_rows_or_columns_are_orthonormal_times_gain():
    tall = init.orthogonal_(tg.empty(6, 3, dtype=tg.float64))
    np.testing.assert_allclose(tall._data.T @ tall._data, np.eye(3), atol=1e-12)
    wide = init.orthogonal_(tg.empty(3, 6, dtype=tg.float64), gain=2.0)
    np.testing.assert_allclose(wide._data @ wide._data.T, 4 * np.eye(3), atol=1e-12)
    conv = init.orthogonal_(tg.empty(4, 2, 3, 3, dtype=tg.float64))
    flat = conv._data.reshape(4, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(4), atol=1e-12)
    assert init.orthogonal_(tg.empty(4, 4)).dtype == tg.float32
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more dimensions"):
        init.orthogonal_(tg.empty(3))


def test_sparse_zeroes_a_fraction_of_each_column():
    w = init.sparse_(tg.empty(10, 50), sparsity=0.3, std=0.5)
    assert ((w._data == 0).sum(axis=0) == 3).all()
    assert _std(tg.tensor(w._data[w._data != 0])) == pytest.approx(0.5, rel=0.15)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_init_keeps_dtype_writes_in_place_and_bumps_the_version(dtype):
    p = nn.Parameter(tg.zeros(4, 5, dtype=dtype))
    data, version = p._data, p._version
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_,
               init.trunc_normal_, init.ones_):
        assert fn(p) is p
        assert p.dtype == dtype and p._data is data and p.is_leaf and p.requires_grad
        assert p._version > version
        version = p._version


def test_init_on_a_used_parameter_invalidates_the_old_graph():
    p = nn.Parameter(tg.ones(2, 2))
    y = (p * p).sum()
    init.zeros_(p)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_seeding_makes_inits_and_default_layers_reproducible():
    g1, g2 = tg.Generator().manual_seed(3), tg.Generator().manual_seed(3)
    a = init.kaiming_uniform_(tg.empty(3, 4), generator=g1)
    b = init.kaiming_uniform_(tg.empty(3, 4), generator=g2)
    np.testing.assert_array_equal(a._data, b._data)
    tg.manual_seed(7)
    first = nn.Linear(4, 3).weight._data.copy()
    tg.manual_seed(7)
    np.testing.assert_array_equal(nn.Linear(4, 3).weight._data, first)
    assert not np.array_equal(nn.Linear(4, 3).weight._data, first)


def test_type_errors_name_the_function():
    with pytest.raises(TypeError, match="uniform_: expected a Tensor, got ndarray"):
        init.uniform_(np.zeros(3))


# ---------------------------------------------------------------------- default layer initializations
def test_linear_default_init_matches_pytorch_distribution():
    fc = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(fc.weight._data).max() <= bound
    assert _std(fc.weight) == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(fc.bias._data).max() <= bound
    assert fc.weight.dtype == tg.float32 and fc.weight.shape == (300, 400)
    assert nn.Linear(2, 3, dtype=tg.float64).weight.dtype == tg.float64
    assert nn.Linear(2, 3, bias=False).bias is None


def test_conv2d_default_init_uses_the_receptive_field():
    conv = nn.Conv2d(16, 64, 3)
    fan_in = 16 * 9
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(conv.weight._data).max() <= bound
    assert _std(conv.weight) == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert np.abs(conv.bias._data).max() <= bound
    assert nn.Conv2d(4, 8, 3, groups=2).weight.shape == (8, 2, 3, 3)


def test_embedding_and_norm_default_inits():
    emb = nn.Embedding(300, 200, padding_idx=3)
    assert not emb.weight._data[3].any()
    assert _std(emb.weight) == pytest.approx(1.0, rel=0.02)
    bn = nn.BatchNorm2d(3)
    assert bn.weight.tolist() == [1, 1, 1] and bn.bias.tolist() == [0, 0, 0]
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    ln = nn.LayerNorm((2, 3))
    assert ln.weight._data.tolist() == np.ones((2, 3)).tolist() and not ln.bias._data.any()


@pytest.mark.parametrize("fill", ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "kaiming_normal_",
                                  "orthogonal_"])
def test_random_fills_of_integer_tensors_are_refused(fill):
    with pytest.raises(NotImplementedError, match=f"^{fill}: random values are not implemented for int64"):
        getattr(tg.nn.init, fill)(tg.zeros(2, 2, dtype=tg.int64))
    tg.nn.init.constant_(tg.zeros(2, dtype=tg.int64), 3)  # deterministic fills are fine, as in PyTorch


# ---------------------------------------------------------------------- constant_: fill_'s checked conversion
@pytest.mark.parametrize("dtype, value, fits", [
    ("float16", 1e30, False), ("float16", 65519.0, False), ("float16", 65504.0, True), ("float16", float("inf"), True),
    ("float32", 1e40, False), ("float32", 3.4e38, True), ("uint8", -1, True), ("uint8", -1.5, False),
    ("int8", 300, False), ("int64", float("nan"), False), ("bool", 2, True)])
def test_constant_refuses_a_value_the_dtype_cannot_hold(dtype, value, fits):
    # PyTorch's constant_ is fill_ under no_grad: c10's checked conversion ("value cannot be converted to type
    # c10::Half without overflow"); a one-element float16 tensor is PyTorch's unchecked exception (fill_ too)
    t = tg.zeros(1, 2, dtype=getattr(tg, dtype))
    if fits:
        init.constant_(t, value)
        assert t.tolist() == tg.full((1, 2), value, dtype=getattr(tg, dtype)).tolist()
    else:
        with pytest.raises(RuntimeError, match=f"constant_: value .* cannot be converted to type {dtype}"):
            init.constant_(t, value)
        assert t.tolist() == [[0, 0]]


@pytest.mark.parametrize("dtype, value", [("float16", 1e30), ("float16", 65519.0), ("float32", 1e40),
                                          ("uint8", -1), ("uint8", -1.5), ("int8", 300), ("int64", float("nan"))])
def test_constant_overflow_as_pytorch(dtype, value):
    torch = pytest.importorskip("torch")
    t = tg.zeros(1, 2, dtype=getattr(tg, dtype))
    try:
        init.constant_(t, value)
        fits = True
    except RuntimeError:
        fits = False
    x = torch.zeros(1, 2, dtype=getattr(torch, dtype))
    if fits:
        torch.nn.init.constant_(x, value)
        np.testing.assert_array_equal(x.double().numpy(), t.double().numpy())
    else:
        with pytest.raises(RuntimeError, match="without overflow"):
            torch.nn.init.constant_(x, value)
_FILL_DTYPES = ["uint8", "int8", "int16", "int32", "int64", "bool", "float16", "float32", "float64"]
_FILL_VALUES = st.one_of(st.integers(-70000, 70000), st.floats(-1e6, 1e6, allow_nan=False), st.booleans())


def _fill_outcome(lib, fn, dtype, val):
    t = lib.zeros(3, dtype=getattr(lib, dtype))
    try:
        out = fn(lib)(t, val) if fn != "ones_" and fn != "zeros_" else getattr(lib.nn.init, fn)(t)
    except RuntimeError as e:
        assert "cannot be converted" in str(e) and "without overflow" in str(e)
        return "overflow"
    assert out is t
    return t.tolist()


@pytest.mark.parametrize("dtype", _FILL_DTYPES)
@given(val=_FILL_VALUES)
@example(val=-1)
@example(val=300)
@example(val=-2.5)
def test_constant_is_fill_under_no_grad(dtype, val):
    """constant_ is ``tensor.fill_(val)`` under no_grad (PyTorch's nn.init): -1 wraps to 255 in uint8, a number
    out of an integer dtype's range is refused with fill_'s error, never a numpy OverflowError."""
    got = _fill_outcome(tg, lambda lib: lib.nn.init.constant_, dtype, val)
    want = tg.zeros(3, dtype=getattr(tg, dtype))
    try:
        want.fill_(val)
    except RuntimeError:
        assert got == "overflow"
        return
    assert got == want.tolist()


@pytest.mark.parametrize("dtype", _FILL_DTYPES)
@pytest.mark.parametrize("val", [-1, 255, 256, -129, 300, -2.5, 2.7, 1e6, True])
def test_constant_ones_zeros_fill_as_pytorch(dtype, val):
    torch = pytest.importorskip("torch")
    for fn in (lambda lib: lib.nn.init.constant_, "ones_", "zeros_"):
        assert _fill_outcome(tg, fn, dtype, val) == _fill_outcome(torch, fn, dtype, val), (fn, dtype, val)


def test_constant_of_a_leaf_that_requires_grad_records_nothing():
    p = nn.Parameter(tg.zeros(3))
    assert init.constant_(p, 2.0) is p and p.is_leaf and p.grad_fn is None and p.requires_grad
    assert p.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("shape", [(2, 0, 0), (0, 3, 3), (2, 0, 3), (2, 3, 0), (2, 2, 0, 0), (3, 2, 1, 1)])
def test_dirac_of_empty_shapes_is_pytorchs(shape):
    """PyTorch's dirac_ loops over min(out channels per group, in channels): with no channels it writes nothing,
    whatever the kernel's size; with channels and an empty kernel dim it raises IndexError (here too, named)."""
    t = tg.ones(shape, dtype=tg.int32)
    if 0 in shape[2:] and min(shape[:2]) > 0:
        with pytest.raises(IndexError):
            tg.nn.init.dirac_(t)
    else:
        tg.nn.init.dirac_(t)
    torch = pytest.importorskip("torch")
    u = torch.ones(shape, dtype=torch.int32)
    try:
        torch.nn.init.dirac_(u)
    except IndexError:
        assert 0 in shape[2:]
    else:
        assert t.tolist() == u.tolist()


DIRAC_OF_SHARED_MEMORY = [  # (base, expanded shape, groups, PyTorch 2.13's result)
    ([[[0.0], [0.0], [0.0], [0.0]]], (1, 4, 3), 1, [[[1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]]]),  # a meshgrid's
    ([[[[0.0, 0.0, 0.0]]] * 3], (2, 3, 2, 3), 1, [[[[0, 1, 0]] * 2] * 2 + [[[0, 0, 0]] * 2]] * 2),
    ([[[0.0, 0.0, 0.0]]] * 3, (3, 2, 3), 3, [[[0, 1, 0]] * 2] * 3),
]


@pytest.mark.parametrize(("base", "shape", "groups", "want"), DIRAC_OF_SHARED_MEMORY)
def test_dirac_of_elements_sharing_memory_writes_each_centres_memory(base, shape, groups, want):
    """dirac_ of an expanded view: PyTorch zeroes it, then writes 1 at each centre one element at a time, so every
    element at one of those memory locations is 1 (numpy refused the read-only array here)."""
    t = tg.tensor(base).expand(*shape)
    assert init.dirac_(t, groups=groups) is t
    assert t.tolist() == want
    torch = pytest.importorskip("torch")
    assert torch.nn.init.dirac_(torch.tensor(base).expand(*shape), groups=groups).tolist() == want
