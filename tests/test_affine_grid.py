"""F.affine_grid (nn/_functional_grid.py): PyTorch's grids for 2-d and 3-d transforms, both align_corners, one
node with gradients of every order, PyTorch's checks and warnings."""

import contextlib

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.testing import assert_gradients

SIZES = st.one_of(st.tuples(st.integers(1, 2), st.just(1), st.integers(1, 4), st.integers(1, 4)),
                  st.tuples(st.integers(1, 2), st.just(1), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))


def _reference(theta, size, align_corners):
    """The grid by its definition: each output pixel's normalized coordinates, mapped by theta."""
    spatial = size[2:]
    axes = [np.zeros(1) if n <= 1 else np.linspace(-1, 1, n) * (1 if align_corners else (n - 1) / n)
            for n in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")  # (D,) H, W
    coords = np.stack([m for m in reversed(mesh)] + [np.ones_like(mesh[0])], -1)  # x, y, (z), 1
    return np.einsum("...j,nij->n...i", coords, theta)


@given(size=SIZES, align=st.booleans(), seed=st.integers(0, 1000))
def test_values_and_gradients(size, align, seed):
    k = len(size) - 2
    theta = np.random.default_rng(seed).standard_normal((size[0], k, k + 1))
    out = F.affine_grid(tg.tensor(theta), size, align_corners=align)
    np.testing.assert_allclose(out.numpy(), _reference(theta, size, align), atol=1e-12)
    assert_gradients(lambda t: F.affine_grid(t, size, align_corners=align), theta)


def test_second_order_and_node_name():
    theta = tg.tensor(np.random.default_rng(0).standard_normal((2, 2, 3)), requires_grad=True)
    out = F.affine_grid(theta, (2, 1, 3, 2), align_corners=False)
    assert out.grad_fn.name() == "AffineGridGeneratorBackward0"
    assert tg.autograd.gradgradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 2), align_corners=False) ** 2, (theta,))


def test_errors_and_warnings():
    theta = tg.zeros(1, 2, 3)
    with pytest.warns(UserWarning, match="changed to align_corners=False"):
        F.affine_grid(theta, (1, 1, 2, 2))
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(tg.zeros(1, 3, 4), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match="Nx3x4"):
        F.affine_grid(theta, (1, 1, 2, 2, 2), align_corners=False)
    with pytest.raises(NotImplementedError, match="4D and 5D sizes"):
        F.affine_grid(theta, (1, 1, 2), align_corners=False)
    with pytest.raises(ValueError, match="floating point type"):
        F.affine_grid(tg.zeros(1, 2, 3, dtype=tg.int64), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match="non-zero, positive output size"):
        F.affine_grid(theta, (1, 1, 0, 2), align_corners=False)
    with pytest.warns(UserWarning, match="unit-size grids"):
        F.affine_grid(theta, (1, 1, 1, 2), align_corners=True)


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 3), (2, 1, 2, 3, 4)])
@pytest.mark.parametrize("align", [False, True])
def test_matches_pytorch(size, align):
    torch = pytest.importorskip("torch")
    k = len(size) - 2
    theta = np.random.default_rng(1).standard_normal((size[0], k, k + 1)).astype(np.float32)
    g = np.random.default_rng(2).standard_normal((size[0], *size[2:], k)).astype(np.float32)
    ours_t, theirs_t = tg.tensor(theta, requires_grad=True), torch.tensor(theta, requires_grad=True)
    with pytest.warns(UserWarning) if align and min(size[2:]) == 1 else contextlib.nullcontext():
        ours = F.affine_grid(ours_t, size, align_corners=align)
    theirs = torch.nn.functional.affine_grid(theirs_t, size, align_corners=align)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    ours.backward(tg.tensor(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- float16 with a spatial size of 1
@given(size=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)), align=st.booleans())
def test_float16_grid_is_the_float32_grid_rounded(size, align):
    # PyTorch 2.13 fails here where a spatial size is 1 (its one-step base grid, at::tensor(0, options), has no
    # Half kernel on CPU: a pytorch-bug entry of tests/test_differential.py); every other size agrees with this
    theta = np.array([[[1.0, 0.5, -0.25], [0.0, 1.0, 0.25]]] * size[0])
    want = F.affine_grid(tg.tensor(theta, dtype=tg.float32), (size[0], 1) + size[1:], align_corners=align)
    got = F.affine_grid(tg.tensor(theta, dtype=tg.float16), (size[0], 1) + size[1:], align_corners=align)
    assert got.dtype == tg.float16
    np.testing.assert_allclose(got.double().numpy(), want.double().numpy(), atol=2e-3)


def test_float16_grid_of_size_one_matches_pytorchs_float32():
    torch = pytest.importorskip("torch")
    theta = [[[1.0, 0.5, -0.25], [0.0, 1.0, 0.25]]]
    for size in ((1, 1, 1, 3), (1, 1, 2, 1), (1, 1, 1, 1)):
        want = torch.nn.functional.affine_grid(torch.tensor(theta), size, align_corners=False)
        got = F.affine_grid(tg.tensor(theta, dtype=tg.float16), size, align_corners=False)
        np.testing.assert_allclose(got.double().numpy(), want.double().numpy(), atol=2e-3)


@given(n=st.integers(1, 8), a=st.floats(-1e300, 1e300), c=st.floats(-1e3, 1e3), align=st.booleans())
@example(n=3, a=1e300, c=1e-30, align=False)  # BLAS's fused multiply-adds left 3.7e283 here
def test_cancelling_coordinates_give_the_translation_exactly(n, a, c, align):
    # the base grid is symmetric (PyTorch's linspace steps up from -1 and down from 1) and a small grid is summed
    # as PyTorch's bmm kernel sums it, one rounded product after another (LinearAlgebra.cpp, baddbmm_cpu_kernel):
    # where x = -y, x * a + y * a + c is exactly c
    theta = tg.tensor([[[a, a, c], [0.0, 0.0, 0.0]]], dtype=tg.float64)
    out = F.affine_grid(theta, (1, 1, n, n), align_corners=align).numpy()
    for i in range(n):
        assert out[0, i, n - 1 - i, 0] == c + 0.0


def _sweep():
    """150 (theta, size, align_corners, blas) of special values; ``blas``: a grid big enough for BLAS's product in
    both libraries (MKL's in PyTorch, numpy's in tapegrad; see nn/_functional_grid.py), float16's excepted."""
    rng = np.random.default_rng(0)
    values = np.array([0.0, 1.0, -2.5, 1e30, 3e38, 1e-7, 0.5, 6e4, 1e300, 5e-324])
    for trial in range(150):
        dtype, k = ("float64", "float32", "float16")[trial % 3], 2 + trial % 2
        size = (2, 1, *(int(s) for s in rng.integers(2 if dtype == "float16" else 1, 6, size=k)))
        theta = (rng.choice(values, (2, k, k + 1)) * rng.choice([1, -1], (2, k, k + 1)))
        with np.errstate(over="ignore"):
            theta = theta.astype(dtype)
        blas = dtype != "float16" and np.prod(size[2:]) * (k + 1) * k >= 400
        yield theta, size, bool(trial % 4 < 2), blas


def _matches_pytorch_bit_for_bit(blas):
    torch = pytest.importorskip("torch")
    for theta, size, align, big in _sweep():
        if big == blas:
            want = torch.nn.functional.affine_grid(torch.tensor(theta), size, align_corners=align).numpy()
            got = F.affine_grid(tg.tensor(theta), size, align_corners=align).numpy()
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8),
                                          err_msg=f"{theta.dtype} {size} {align}")


def test_matches_pytorch_bit_for_bit():
    """The grids PyTorch sums in its own loop (a small product, any float16 one) are the same on every CPU."""
    _matches_pytorch_bit_for_bit(blas=False)


@pytest.mark.reference_cpu
def test_matches_pytorch_bit_for_bit_where_both_take_blas():
    """Bigger grids are a BLAS product in both libraries, whose last bits depend on the CPU's kernel (on an AMD EPYC
    MKL's sgemm/dgemm and numpy's OpenBLAS round 7 of the 150 grids differently)."""
    _matches_pytorch_bit_for_bit(blas=True)
