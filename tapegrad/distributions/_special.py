"""The special functions the distributions need, as differentiable ops (private until ``tapegrad.special``).

``lgamma``, ``digamma``, ``polygamma``, ``erfinv``, ``xlogy`` and ``gammainc`` with PyTorch's gradients and node
names. Their values come from ``scipy.special`` (the optional extra ``tapegrad[special]``): numpy has none of
them. Each op's gradient rule is written with ``xp.NAME`` (scipy's names) so that it also runs on tensors with
``create_graph=True``; the array side of those names is registered here, beside the op.
"""

from __future__ import annotations

import math

import numpy as np

from .._optional import require
from ..autograd.declare import Tensor, binary, op, record, unary
from ..autograd.xp import numpy_xp, register_tensor_xp

__all__ = ["lgamma", "digamma", "polygamma", "erfinv", "xlogy", "gammainc", "scipy_special"]


def scipy_special():
    """scipy.special, or an ImportError naming the extra that brings it."""
    return require("scipy.special", feature="tapegrad.distributions (special functions)", extra="special",
                   package="scipy")


def _same(fn):
    """An array function of scipy.special that keeps the (float) dtype of its first float argument."""
    def array_fn(*args):
        out = getattr(scipy_special(), fn)(*args)
        dtype = np.result_type(*[a for a in args if isinstance(a, np.ndarray)] or [np.float64])
        return out.astype(dtype, copy=False) if dtype.kind == "f" else out
    array_fn.__name__ = fn
    return array_fn


# the array side of the names the rules below call (``xp.digamma`` on arrays); the tensor side is the ops
numpy_xp.gammaln = _same("gammaln")
numpy_xp.digamma = _same("digamma")
numpy_xp.erfinv = _same("erfinv")
numpy_xp.xlogy = _same("xlogy")
numpy_xp.gammainc = _same("gammainc")


def _polygamma_array(n, x):
    out = scipy_special().polygamma(n, x)
    return out.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else out


numpy_xp.polygamma = _polygamma_array


@unary(grad=lambda xp, g, out, x: g * xp.digamma(x), methods=(), inplace=False, xp_name="gammaln")
def lgamma(input):
    """lgamma(input) -> log |Gamma(input)|.

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import lgamma
    >>> lgamma(tg.tensor([1.0, 5.0]))
    tensor([0.0000, 3.1781])
    """
    return numpy_xp.gammaln(input)


@unary(grad=lambda xp, g, out, x: g * xp.polygamma(1, x), methods=(), inplace=False, xp_name="digamma")
def digamma(input):
    """digamma(input) -> d/dx lgamma(x) (PyTorch: -inf at 0).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import digamma
    >>> digamma(tg.tensor([1.0]))
    tensor([-0.5772])
    """
    out = numpy_xp.digamma(input)
    return np.where(input == 0, -np.inf, out).astype(out.dtype, copy=False)  # scipy gives nan at 0; PyTorch -inf


@op(methods=(), xp_name="polygamma")
def polygamma(n: int, input: Tensor) -> Tensor:
    """polygamma(n, input) -> the n-th derivative of digamma.

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import polygamma
    >>> polygamma(1, tg.tensor([1.0]))  # pi^2 / 6
    tensor([1.6449])
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n = {n!r}")
    x = input._data
    if x.dtype.kind != "f":
        from .. import dtypes
        x = x.astype(dtypes.get_default_dtype())

    def rule(xp, g, out, x):
        return g * xp.polygamma(n + 1, x)

    return record(_polygamma_array(n, x), (input,), rule, "PolygammaBackward0")


@unary(grad=lambda xp, g, out, x: g * (math.sqrt(math.pi) / 2) * xp.exp(out * out), methods=(), inplace=False,
       xp_name="erfinv")
def erfinv(input):
    """erfinv(input): the inverse of erf on (-1, 1) (+-inf at +-1, nan outside).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import erfinv
    >>> erfinv(tg.tensor([0.0, 0.5]))
    tensor([0.0000, 0.4769])
    """
    return numpy_xp.erfinv(input)


def _xlogy_rule(xp, need, g, out, x, y):
    gx = gy = None
    if need[0]:
        # NOTE: PyTorch's gradient is 0 where x == 0 and y <= 0 (where log(y) is -inf or nan)
        zero = (x == 0) & (y <= 0)
        gx = xp.where(zero, 0.0, g * xp.log(xp.where(zero, 1.0, y)))
    if need[1]:
        gy = g * x / y
    return gx, gy


@binary(grad=_xlogy_rule, floats=True, methods=(), inplace=False, xp_name="xlogy")
def xlogy(input, other):
    """xlogy(input, other) -> input * log(other), 0 where input == 0 (unless other is nan).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import xlogy
    >>> xlogy(tg.tensor([0.0, 2.0]), tg.tensor([0.0, 1.0]))
    tensor([0., 0.])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return numpy_xp.xlogy(input, other)


def _gammainc_rule(xp, need, g, out, a, x):
    if need[0]:
        raise NotImplementedError("the derivative for 'igamma: input' is not implemented.")
    return None, g * xp.exp((a - 1) * xp.log(x) - x - xp.gammaln(a))


@binary(grad=_gammainc_rule, floats=True, methods=(), inplace=False, xp_name="gammainc", name="IgammaBackward0")
def gammainc(input, other):
    """gammainc(input, other): the regularized lower incomplete gamma function P(input, other).

    >>> import tapegrad as tg
    >>> from tapegrad.distributions._special import gammainc
    >>> gammainc(tg.tensor([1.0]), tg.tensor([1.0]))  # 1 - e^-1
    tensor([0.6321])
    """
    return numpy_xp.gammainc(input, other)


register_tensor_xp("lgamma", lgamma)
