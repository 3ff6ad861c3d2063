"""The random draws of the distributions, from tapegrad's default generator (``tapegrad.manual_seed``).

``standard_gamma`` is differentiable (PyTorch's ``_standard_gamma``: the implicit reparameterization gradient
dx/dalpha = -(dF/dalpha) / f of the gamma CDF F and density f); the other draws are not, as in PyTorch, and are
made without recording.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.declare import Tensor, backward_op, op, record, wrap
from ..random import default_generator
from ._special import scipy_special

__all__ = ["standard_gamma", "standard_gamma_grad", "poisson", "binomial", "standard_normal", "uniform",
           "exponential", "cauchy", "geometric", "dirichlet"]


def _rng():
    return default_generator.rng


def _dtype(dtype):
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def standard_normal(shape, dtype=None) -> Tensor:
    """standard_normal(shape, dtype=None): N(0, 1) draws."""
    return wrap(_rng().standard_normal(tuple(shape)).astype(_dtype(dtype)))


def uniform(shape, dtype=None) -> Tensor:
    """uniform(shape, dtype=None): U[0, 1) draws (as ``torch.rand``)."""
    return wrap(_rng().random(tuple(shape)).astype(_dtype(dtype)))


def exponential(shape, dtype=None) -> Tensor:
    """exponential(shape, dtype=None): Exp(1) draws (``Tensor.exponential_``), never 0 in the dtype."""
    dt = _dtype(dtype)
    x = _rng().standard_exponential(tuple(shape)).astype(dt)
    return wrap(np.maximum(x, np.finfo(dt).tiny))


def cauchy(shape, dtype=None) -> Tensor:
    """cauchy(shape, dtype=None): standard Cauchy draws (``Tensor.cauchy_``)."""
    return wrap(_rng().standard_cauchy(tuple(shape)).astype(_dtype(dtype)))


def geometric(probs: Tensor) -> Tensor:
    """geometric(probs): the number of failures before the first success (PyTorch's Geometric.sample)."""
    p = probs.detach().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return wrap((np.asarray(_rng().geometric(np.clip(p, np.finfo(np.float64).tiny, 1))) - 1).astype(p.dtype))


def poisson(rates: Tensor) -> Tensor:
    """poisson(rates): Poisson draws of the given rates (``torch.poisson``), in the rates' dtype."""
    r = rates.detach().numpy()
    if np.any(r < 0) or np.any(np.isnan(r)):
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    return wrap(np.asarray(_rng().poisson(r)).astype(r.dtype))


def binomial(count: Tensor, prob: Tensor) -> Tensor:
    """binomial(count, prob): Binomial draws (``torch.binomial``), in the dtype of ``count``."""
    n, p = np.broadcast_arrays(count.detach().numpy(), prob.detach().numpy())
    out = np.asarray(_rng().binomial(n.astype(np.int64), np.clip(p, 0, 1)))
    return wrap(out.astype(np.result_type(n.dtype, p.dtype)))


@backward_op(grad=lambda xp, need, gg, out, alpha, sample: _no_second_order())
def standard_gamma_grad(alpha, sample):
    """d sample / d alpha for Gamma(alpha, 1) draws: the implicit reparameterization gradient, in float64."""
    sc = scipy_special()
    a = np.asarray(alpha, np.float64)
    x = np.asarray(sample, np.float64)
    with np.errstate(all="ignore"):
        h = 1e-5 * np.maximum(a, 1e-3)
        lower = sc.gammainc(a, x) < 0.5  # differentiate the smaller tail of F, in log space, for precision
        dlog = (np.log(np.where(lower, sc.gammainc(a + h, x), sc.gammaincc(a + h, x)))
                - np.log(np.where(lower, sc.gammainc(a - h, x), sc.gammaincc(a - h, x)))) / (2 * h)
        tail = np.where(lower, sc.gammainc(a, x), sc.gammaincc(a, x))
        log_f = (a - 1) * np.log(x) - x - sc.gammaln(a)
        grad = np.where(lower, -1.0, 1.0) * dlog * np.exp(np.log(tail) - log_f)
        # NOTE: where F underflows (tiny draws), x ~ (U Gamma(a + 1))^(1/a) gives dx/da = x (psi(a + 1) - log x) / a
        small = x * (sc.digamma(a + 1) - np.log(x)) / a
        grad = np.where(np.isfinite(grad), grad, small)
        grad = np.where(np.isfinite(grad), grad, 0.0)
    return grad.astype(np.result_type(alpha), copy=False)


def _no_second_order():
    raise NotImplementedError("the derivative for '_standard_gamma_grad' is not implemented.")


@op(methods=(), xp_name=False)
def standard_gamma(alpha: Tensor) -> Tensor:
    """standard_gamma(alpha): Gamma(alpha, 1) draws, differentiable in ``alpha`` (``torch._standard_gamma``).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._random import standard_gamma
    >>> _ = tg.manual_seed(0)
    >>> standard_gamma(tg.full((1000,), 2.0)).mean().item() > 1.8
    True
    """
    a = alpha.detach().numpy()
    x = np.asarray(_rng().standard_gamma(a)).astype(a.dtype)

    def rule(xp, g, out, alpha):
        return g * xp.standard_gamma_grad(alpha, out)

    return record(x, (alpha,), rule, "StandardGammaBackward0")


def dirichlet(concentration: Tensor) -> Tensor:
    """dirichlet(concentration): Dirichlet draws over the last dimension, differentiable in ``concentration``.

    The draw is normalized Gamma draws, each differentiable (implicit reparameterization), so the gradient of
    the draw is the exact pathwise gradient (PyTorch differentiates the Beta marginals instead: another unbiased
    estimator of the same expected gradient).
    """
    tiny = float(np.finfo(concentration.dtype).tiny)
    g = standard_gamma(concentration).clamp(min=tiny)
    return g / g.sum(-1, keepdim=True)
