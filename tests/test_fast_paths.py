"""Fast paths give the general path's values: Tensor.__rmul__'s number on the left, cross_entropy's finiteness
check of its incoming gradient, addcmul_'s float32 plain write (_fused.add_rounded_once(out=))."""

import io
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.ops import _fused

# ---------------------------------------------------------------------- number * tensor
DTYPES = ["float32", "float64", "float16", "int64", "int32", "uint8", "bool"]
SCALARS = {"int": 2, "negint": -3, "float": 0.1, "bool": True, "bigint": 2 ** 40, "inf": float("inf"),
           "np_f64": np.float64(0.1), "np_f32": np.float32(0.1), "np_i64": np.int64(3),
           "t0_f64": "t0_f64", "t0_int": "t0_int"}


def _product(T, dt, scalar, mode, shape, left):
    x = T.tensor(np.array([1.5, -2.25, 3.0])[: shape[0]] if shape else np.array(1.5)).to(getattr(T, dt))
    s = {"t0_f64": lambda: T.tensor(0.1, dtype=T.float64), "t0_int": lambda: T.tensor(3)}.get(scalar, lambda: scalar)()
    if mode != "no_grad" and x.is_floating_point():
        x.requires_grad_()
    if mode == "leaf_no_grad" or mode == "no_grad":
        with T.no_grad():
            y = s * x if left else x * s
    else:
        y = s * x if left else x * s
    return (str(y.dtype).split(".")[-1], tuple(y.shape), y.detach().double().numpy().tolist(), y.requires_grad,
            type(y).__name__, None if y.grad_fn is None else y.grad_fn.name())


CASES = list(itertools.product(DTYPES, SCALARS, ["no_grad", "grad", "leaf_no_grad"], [(3,), ()]))


@pytest.mark.parametrize("dt,scalar,mode,shape", [c for c in CASES if not c[1].startswith("t0")])
def test_rmul_is_mul(dt, scalar, mode, shape):
    """``s * x`` is ``x * s`` for a number s (PyTorch's __rmul__ is mul): dtype, values, grad mode, node. (A 0-d
    tensor on the left calls its own __mul__: PyTorch's float16 results differ there, by design.)"""
    assert _product(tg, dt, SCALARS[scalar], mode, shape, True) == _product(tg, dt, SCALARS[scalar], mode, shape,
                                                                            False)


@pytest.mark.parametrize("dt,scalar,mode,shape", CASES)
def test_rmul_matches_pytorch(dt, scalar, mode, shape):
    torch = pytest.importorskip("torch")
    ours = _product(tg, dt, SCALARS[scalar], mode, shape, True)
    theirs = _product(torch, dt, SCALARS[scalar], mode, shape, True)
    assert ours == theirs


def test_rmul_fast_path_results():
    x = tg.tensor([1.5, -2.0])
    y = 0.1 * x
    assert y.dtype == tg.float32 and y.numpy().tolist() == (np.float32([1.5, -2.0]) * np.float32(0.1)).tolist()
    z = 3 * tg.tensor(2.0)  # a 0-d tensor: a 0-d tensor (not a numpy scalar inside)
    assert z.shape == () and z.dim() == 0 and isinstance(z.numpy(), np.ndarray) and z.item() == 6.0
    z.add_(1)
    assert z.item() == 7.0
    w = 2.0 * tg.tensor([1.0], dtype=tg.float64)
    assert w.dtype == tg.float64
    p = tg.nn.Parameter(tg.tensor([1.0, 2.0]))
    with tg.no_grad():
        q = 2.0 * p
    assert type(q) is tg.Tensor and not q.requires_grad
    r = 2.0 * p
    assert type(r) is tg.Tensor and r.grad_fn.name() == "MulBackward0"
    r.sum().backward()
    assert p.grad.tolist() == [2.0, 2.0]
    # -0.0 and inf
    assert np.signbit((-0.0 * tg.tensor([1.0])).numpy()[0])
    assert np.isnan((0 * tg.tensor([float("inf")])).numpy()[0])
    # an array on the left
    a = np.array([2.0, 3.0], dtype=np.float32) * tg.tensor([1.0, 2.0])
    assert isinstance(a, tg.Tensor) and a.tolist() == [2.0, 6.0]


def test_rmul_exports_to_onnx():
    """``2 * x`` in a model exports as a Mul: the ONNX tracer names the op by its function, here ``__rmul__``."""
    onnx = pytest.importorskip("onnx")

    class M(tg.nn.Module):
        def forward(self, x):
            return 3 * x + 2.5 * (x * 2)

    buf = io.BytesIO()
    x = tg.arange(6.0).reshape(2, 3)
    tg.onnx.export(M(), (x,), buf)
    model = onnx.load_from_string(buf.getvalue())
    assert "Mul" in [n.op_type for n in model.graph.node]


# ---------------------------------------------------------------------- cross_entropy, non-finite upstream
CE_CASES = list(itertools.product(["none", "mean", "sum"], [-100, 1], [False, True], [0.0, 0.2],
                                  ["inf", "-inf", "nan", "2.0"], ["2d", "1d"]))


def _ce_grad(T, reduction, ignore_index, weighted, smoothing, upstream, shape):
    logits = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0], [2.0, 2.0, 2.0], [-1.0, 0.5, 4.0]], np.float32)
    target = np.array([0, 2, 1, 1])
    x = T.tensor(logits if shape == "2d" else logits[0], requires_grad=True)
    t = T.tensor(target if shape == "2d" else target[0])
    w = T.tensor([1.0, 2.0, 0.5]) if weighted else None
    loss = T.nn.functional.cross_entropy(x, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                                         label_smoothing=smoothing)
    up = float(upstream)
    if loss.dim():
        g = T.tensor(np.array([up, 1.0, up, 0.5], np.float32)[: loss.shape[0]])
    else:
        g = T.tensor(up)
    loss.backward(g)
    return x.grad.numpy()


@pytest.mark.parametrize("case", CE_CASES, ids=str)
def test_cross_entropy_non_finite_upstream_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _ce_grad(tg, *case), _ce_grad(torch, *case)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-7)


def test_cross_entropy_non_finite_upstream_without_torch():
    g = _ce_grad(tg, "mean", -100, False, 0.0, "inf", "2d")
    assert np.isnan(g).any() or np.isinf(g).all()
    finite = _ce_grad(tg, "sum", 1, False, 0.0, "2.0", "2d")
    assert np.isfinite(finite).all()
    g = _ce_grad(tg, "none", 1, False, 0.0, "nan", "2d")
    assert (g[2] == 0).all() and (g[3] == 0).all()  # ignored rows (target 1): 0, not nan
    assert np.isnan(g[0]).all()


# ---------------------------------------------------------------------- addcmul_'s float32 plain write
def _addcmul_both(s, a, b, value, self_layout="plain"):
    x = tg.tensor(s)
    if self_layout == "t":
        x = tg.tensor(np.ascontiguousarray(s.T)).t()
    elif self_layout == "sliced":
        big = np.zeros((s.shape[0], s.shape[1] * 2), np.float32)
        big[:, ::2] = s
        x = tg.tensor(big)[:, ::2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (numpy's floating-point warnings: tapegrad._quiet_ieee's filter, reset here)
        x.addcmul_(tg.tensor(a), tg.tensor(b), value=value)
        out = tg.addcmul(tg.tensor(s), tg.tensor(a), tg.tensor(b), value=value)
    return x.numpy(), out.numpy()


f32s = st.floats(width=32, allow_nan=True, allow_infinity=True)


@given(st.lists(f32s, min_size=6, max_size=6), st.lists(f32s, min_size=6, max_size=6),
       st.lists(f32s, min_size=3, max_size=3), st.sampled_from([1, -1, 0, 0.5, 1e-3, 3, -2.5e30]),
       st.sampled_from(["plain", "t", "sliced"]))
def test_addcmul_in_place_is_addcmul_bit_for_bit(s, a, b, value, layout):
    s, a, b = (np.array(v, np.float32) for v in (s, a, b))
    s, a = s.reshape(2, 3), a.reshape(2, 3)
    written, out = _addcmul_both(s, a, b, value, layout)
    assert written.tobytes() == np.ascontiguousarray(out).tobytes() or np.array_equal(written, out, equal_nan=True)
    np.testing.assert_array_equal(np.signbit(written), np.signbit(out))


def test_addcmul_in_place_edges():
    # halfway cases of float32: the product exact, the sum rounded once (fma)
    s = np.array([1.0, 1.0, -1.0, 2.0 ** 24], np.float32)
    a = np.array([2.0 ** -12, 2.0 ** -24, 2.0 ** -24, 1.0], np.float32)
    b = np.array([2.0 ** -12 + 2.0 ** -30, 1.0 + 2.0 ** -23, 1.0 + 2.0 ** -23, 1.0], np.float32)
    written, out = _addcmul_both(s.reshape(1, 4), a.reshape(1, 4), b, 1)
    exact = np.float32(s.astype(np.float64) + a.astype(np.float64) * b.astype(np.float64))
    np.testing.assert_array_equal(written, out)
    assert written[0, 1] == np.float32(1 + 2.0 ** -23)  # 1 + 2**-24 (1 + 2**-23): just above the tie
    assert written[0, 3] == exact[3]
    # -0.0: -0 + (-0 * 1) stays -0; +0 + (-0) is +0
    written, out = _addcmul_both(np.array([[-0.0, 0.0]], np.float32), np.array([[-0.0, -0.0]], np.float32),
                                 np.array([1.0, 1.0], np.float32), 1)
    assert np.signbit(written).tolist() == [[True, False]] == np.signbit(out).tolist()
    # overflow to inf
    big = np.float32(3e38)
    written, out = _addcmul_both(np.array([[big]], np.float32), np.array([[big]], np.float32),
                                 np.array([2.0], np.float32), 1)
    assert np.isinf(written).all() and np.isinf(out).all()
    # inf * 0 with value=0
    written, out = _addcmul_both(np.array([[1.0]], np.float32), np.array([[np.inf]], np.float32),
                                 np.array([1.0], np.float32), 0)
    assert np.isnan(written).all() and np.isnan(out).all()


def test_addcmul_in_place_broadcasts_and_refuses():
    x = tg.tensor(5.0)  # 0-d self with 0-d operands
    x.addcmul_(tg.tensor(2.0), tg.tensor(3.0), value=0.5)
    assert x.item() == 8.0
    y = tg.zeros(2, 3)
    y.addcmul_(tg.tensor([1.0, 2.0, 3.0]), tg.tensor([[1.0], [2.0]]))
    assert y.tolist() == [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]
    z = tg.zeros(1, 3)
    with pytest.raises(RuntimeError):
        z.addcmul_(tg.ones(2, 3), tg.ones(3))  # the result would be larger than the tensor
    assert z.tolist() == [[0.0, 0.0, 0.0]]
    w = tg.zeros(3)
    with pytest.raises(RuntimeError):
        w.addcmul_(tg.ones(1, 3), tg.ones(3))
    assert w.tolist() == [0.0, 0.0, 0.0]
    v = tg.zeros(3)
    with pytest.raises(RuntimeError):
        v.addcmul_(tg.ones(0, 3), tg.ones(3))
    e = tg.zeros(3, 1).expand(3, 4)
    with pytest.raises(RuntimeError):
        e.addcmul_(tg.ones(3, 4), tg.ones(4))  # more than one element refers to one memory location
    m = tg.arange(6.0)
    with pytest.raises(RuntimeError):
        m[1:].addcmul_(m[:-1], tg.ones(5))  # partial overlap
    n = tg.arange(4.0)
    n.addcmul_(n, n, value=2)  # full overlap is allowed
    assert n.tolist() == [0.0, 3.0, 10.0, 21.0]
    ro = tg.from_numpy(np.zeros(2, np.float32))
    ro.addcmul_(tg.ones(2), tg.ones(2))
    assert ro.tolist() == [1.0, 1.0]


def test_add_rounded_once_out():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(64) * rng.standard_normal(64)
    b = rng.standard_normal(64).astype(np.float32)
    out = np.empty(64, np.float32)
    r = _fused.add_rounded_once(a, b, np.float32, out=out)
    assert r is out
    np.testing.assert_array_equal(out, _fused.add_rounded_once(a, b, np.float32))
    strided = np.zeros(128, np.float32)[::2]
    _fused.add_rounded_once(a, b, np.float32, out=strided)
    np.testing.assert_array_equal(strided, out)


ADDCMUL_CASES = [((2, 3), (2, 3), (3,), 1), ((2, 3), (3,), (2, 1), -0.5), ((), (), (), 3), ((2, 3), (1, 3), (2, 3), 0),
                 ((4,), (4,), (), 1e-3)]


@pytest.mark.parametrize("layout", ["plain", "t", "sliced"])
@pytest.mark.parametrize("case", ADDCMUL_CASES, ids=str)
def test_addcmul_in_place_matches_pytorch(case, layout):
    torch = pytest.importorskip("torch")
    shape_s, shape_a, shape_b, value = case
    if layout != "plain" and len(shape_s) != 2:
        pytest.skip("layouts of 2-d tensors")
    rng = np.random.default_rng(1)
    s = (rng.standard_normal(shape_s) * 10).astype(np.float32)
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    results = []
    for T in (tg, torch):
        if layout == "t":
            x = T.tensor(np.ascontiguousarray(s.T)).t()
        elif layout == "sliced":
            x = T.tensor(np.repeat(s, 2, axis=1))[:, ::2]
        else:
            x = T.tensor(s)
        x.addcmul_(T.tensor(a), T.tensor(b), value=value)
        results.append(x.numpy().copy())
    np.testing.assert_array_equal(results[0], results[1])
