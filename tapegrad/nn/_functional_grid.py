"""``F.affine_grid``: the sampling grid of an affine transform (PyTorch's affine_grid_generator).

The grid is ``base @ theta^T`` for a constant base grid of normalized coordinates, so the op is linear in ``theta``:
one node (``AffineGridGeneratorBackward0``) whose rule is the adjoint map, written with ``xp.linear`` so gradients
of every order follow.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..autograd.declare import Tensor, expected_tensor, op, record

__all__ = ["affine_grid"]


def _linspace_from_neg_one(n, align_corners, dtype):
    """PyTorch's ``linspace(-1, 1, n)`` in ``dtype`` (the step and every value computed in that dtype, the first
    half up from -1, the second down from 1: RangeFactoriesKernel.cpp), times ``(n - 1) / n`` unless aligned."""
    if n <= 1:
        return np.zeros(1, dtype)
    one = np.asarray(1, dtype)
    step = (one + one) / np.asarray(n - 1, dtype)
    i = np.arange(n)
    with np.errstate(all="ignore"):
        r = np.where(i < n // 2, -one + step * i.astype(dtype), one - step * (n - 1 - i).astype(dtype)).astype(dtype)
    return r if align_corners else r * (n - 1) / n


def _base_grid(spatial, align_corners, dtype):
    """(*spatial, k + 1): the normalized coordinates (x first, as PyTorch) and a column of ones."""
    k = len(spatial)
    base = np.ones((*spatial, k + 1), dtype)
    for axis, n in enumerate(reversed(spatial)):  # x runs along the last spatial dim, y the one before, ...
        shape = [1] * k
        shape[k - 1 - axis] = n
        base[..., axis] = _linspace_from_neg_one(n, align_corners, dtype).reshape(shape)
    return base.reshape(-1, k + 1)


def _bmm_in_order(base, th):
    """``base @ th^T`` (P, k + 1) x (N, k, k + 1) -> (N, P, k) summed as PyTorch's bmm sums a small product (its
    own loop, not BLAS, under 400 multiply-adds: aten/src/ATen/native/LinearAlgebra.cpp, baddbmm_cpu_kernel):
    from +0, one rounded product after another in the order of the coordinates, in float32 for float16. So a
    grid point whose coordinates cancel (x * a + (-x) * a) gets exactly the translation, where BLAS's fused
    multiply-adds would leave the rounding error of x * a (3.7e283 for a = 1e300). Larger products are BLAS's
    in both libraries (numpy's matmul, bit for bit PyTorch's there), except float16's, which stay here."""
    acc_dtype = np.float32 if th.dtype == np.float16 else th.dtype
    b, t = base.astype(acc_dtype), th.astype(acc_dtype)
    with np.errstate(all="ignore"):
        acc = np.zeros((t.shape[0], b.shape[0], t.shape[1]), acc_dtype)
        for j in range(b.shape[1]):
            acc += b[None, :, j, None] * t[:, None, :, j]
    return acc.astype(th.dtype)


@op(methods=())
def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """affine_grid(theta, size, align_corners=None) -> the (N, H, W, 2) (or (N, D, H, W, 3)) grid of the affine
    maps ``theta`` (N, 2, 3) (or (N, 3, 4)) over an output of ``size`` (N, C, H, W) (or (N, C, D, H, W)).

    >>> import tapegrad as tg
    >>> theta = tg.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    >>> tg.nn.functional.affine_grid(theta, (1, 1, 1, 2), align_corners=False)
    tensor([[[[-0.5000,  0.0000],
              [ 0.5000,  0.0000]]]])
    """
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=2)
        align_corners = False
    if not isinstance(theta, Tensor):
        raise expected_tensor("affine_grid", "theta", theta)
    t = theta._data
    if t.dtype.kind != "f":
        raise ValueError(f"affine_grid: Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) == 4:
        if t.ndim != 3 or t.shape[-2:] != (2, 3):
            raise ValueError(f"affine_grid: Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. "
                             f"Got {tuple(t.shape)}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if t.ndim != 3 or t.shape[-2:] != (3, 4):
            raise ValueError(f"affine_grid: Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. "
                             f"Got {tuple(t.shape)}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"affine_grid: Expected non-zero, positive output size. Got {size}")
    if size[0] != t.shape[0]:
        raise RuntimeError(f"affine_grid: theta has {t.shape[0]} matrices but size asks for a batch of {size[0]}")
    base = _base_grid(spatial, align_corners, t.dtype)  # (P, k + 1)
    k = len(spatial)
    out_shape = (size[0], *spatial, k)

    def grid(th):  # theta (N, k, k + 1) -> grid: base @ theta^T
        if isinstance(th, np.ndarray) and (base.size * k < 400 or th.dtype == np.float16):
            return _bmm_in_order(base, th).reshape(out_shape)
        return (base @ th.mT).reshape(out_shape)  # (a rule evaluated with create_graph: the tensors' product)

    def grid_adjoint(g):  # grid (N, ..., k) -> theta: (base^T @ g)^T
        return (base.T @ g.reshape(g.shape[0], -1, k)).mT

    def affine_grid_rule(xp, g, out, th):
        return xp.linear(grid_adjoint, grid, g, "AffineGridGeneratorBackward0")

    return record(grid(t), (theta,), affine_grid_rule, "AffineGridGeneratorBackward0")
