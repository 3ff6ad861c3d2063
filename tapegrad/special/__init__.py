"""tapegrad.special: PyTorch's ``torch.special`` (the special functions, their gradients where PyTorch has them).

numpy computes the gamma family, erfinv, xlogy, entr, sinc and logit; ``scipy.special`` (the optional extra
``tapegrad[special]``) the incomplete gamma and zeta functions, Bessel functions, erfcx, ndtri and log_ndtr: those
raise an ImportError naming the extra when scipy is missing. Integer and bool inputs are computed in the default
float dtype, as PyTorch's. See docs/coverage/special.md.

>>> import tapegrad as tg
>>> tg.special.gammaln(tg.tensor([4.0]))  # log 3!
tensor([1.7918])
"""

from .._tensor import Tensor
from ..nn.functional import torch_log_softmax as log_softmax
from ..nn.functional import torch_softmax as softmax
from ..ops.elementwise import erf, erfc, exp2, expm1, log1p
from ..ops.elementwise import sigmoid as expit
from ..ops.reduce import logsumexp
from ._ops import (
    airy_ai,
    bessel_j0,
    bessel_j1,
    bessel_y0,
    bessel_y1,
    chebyshev_polynomial_t,
    chebyshev_polynomial_u,
    chebyshev_polynomial_v,
    chebyshev_polynomial_w,
    digamma,
    entr,
    erfcx,
    erfinv,
    gammainc,
    gammaincc,
    hermite_polynomial_h,
    hermite_polynomial_he,
    i0,
    laguerre_polynomial_l,
    legendre_polynomial_p,
    log_ndtr,
    logit,
    modified_bessel_i0,
    modified_bessel_i1,
    modified_bessel_k0,
    modified_bessel_k1,
    multigammaln,
    ndtr,
    ndtri,
    polygamma,
    scaled_modified_bessel_k0,
    scaled_modified_bessel_k1,
    shifted_chebyshev_polynomial_t,
    shifted_chebyshev_polynomial_u,
    shifted_chebyshev_polynomial_v,
    shifted_chebyshev_polynomial_w,
    sinc,
    spherical_bessel_j0,
    xlog1py,
    xlogy,
    zeta,
)
from ._ops import digamma as psi  # noqa: I001
from ._ops import lgamma as gammaln
from ._ops import special_i0e as i0e
from ._ops import special_i1 as i1
from ._ops import special_i1e as i1e
from ._ops import special_round as round

__all__ = ["Tensor", "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr", "erf",
           "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0", "i0e",
           "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "sinc", "softmax",
           "spherical_bessel_j0", "xlog1py", "xlogy", "zeta", "chebyshev_polynomial_t", "chebyshev_polynomial_u",
           "chebyshev_polynomial_v", "chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
           "laguerre_polynomial_l", "legendre_polynomial_p", "shifted_chebyshev_polynomial_t",
           "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w"]
