"""The special functions the distributions use: ``tapegrad.special``'s ops, under the names the distributions import.

``scipy_special`` here names the distributions in its error (the gradient of a Gamma draw needs scipy).
"""

from __future__ import annotations

from .._optional import require
from ..special._ops import digamma, erfinv, gammainc, lgamma, polygamma, xlogy

__all__ = ["lgamma", "digamma", "polygamma", "erfinv", "xlogy", "gammainc", "scipy_special"]


def scipy_special():
    """scipy.special, or an ImportError naming the extra that brings it."""
    return require("scipy.special", feature="tapegrad.distributions (special functions)", extra="special",
                   package="scipy")
