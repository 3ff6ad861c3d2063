"""The gradient of an op that blocks some elements (hardtanh, threshold, the shrinks), selected as PyTorch's."""

from __future__ import annotations


def masked_grad(xp, g, block):
    """``g`` where ``block`` is False, 0 where it is True: PyTorch's select (``block ? 0 : grad``), so an inf or NaN
    gradient in a blocked place gives 0, not 0 * inf = NaN. NOTE: a product (np.where is several times slower)
    unless ``g`` has an inf or NaN (a 3 us check); the product's zeros may be -0.0 where PyTorch's are +0.0."""
    if bool(xp.isfinite(g).all()):
        return g * ~block
    return xp.where(block, 0, g)
