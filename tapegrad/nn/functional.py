"""Functional neural-network ops (``torch.nn.functional``): activations, softmax, linear, dropout, embedding,
padding, normalization and the loss functions, each declared with its gradient rule and PyTorch's node name.

Most ops here are fused: one node computes what PyTorch computes (``linear`` is PyTorch's ``addmm``,
``cross_entropy`` its ``nll_loss(log_softmax)``), and its rule is one formula for both evaluations (arrays for
a first-order backward, tensors under ``create_graph``). Where the first-order backward is faster with arrays the
forward already made (a sigmoid, a normalized input), it is an op of its own declared with ``backward_op``
(PyTorch's ``gelu_backward``, ``native_layer_norm_backward``, ...): its array form may use those cached values,
and its own rule recomputes what it needs from its tensor inputs, so gradients of every order are exact. Ops
that PyTorch composes from other ops (``softsign``, ``normalize``, ``cosine_similarity``, ``l1_loss``,
``kl_div``) are compositions here too, so their nodes and gradients are PyTorch's by construction.

Dtypes follow PyTorch's kernels: the activations, norms and losses that PyTorch implements for floating point
only refuse integer and bool tensors (``NotImplementedError``, naming the op and the dtype).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import dtypes, memory_formats
from ..autograd.declare import Tensor, backward_op, cast, check_dim, expected_tensor, op, operands, record, wrap
from ..autograd.declare import inplace as _inplace
from ..autograd.grad_mode import no_grad
from ..autograd.graph import increment_version
from ..autograd.inplace import unview as _unview
from ..ops.copy import empty_like_preserved
from ..ops.elementwise import erf, sigmoid, tanh
from ..ops.elementwise import masked_grad as _masked_grad
from ..ops.elementwise import relu as _relu
from ..ops.elementwise import xlogy_rule as _xlogy_rule
from ..ops.linalg import matmul
from ..random import rng as _rng

# NOTE: the ufuncs' reductions, which ndarray.sum/max/min call through a Python function each (numpy's _methods):
# the same values, a Python frame less in every loss and embedding. Their default axis is 0: pass None for all
_sum, _max, _min, _all = np.add.reduce, np.maximum.reduce, np.minimum.reduce, np.logical_and.reduce
_UINT64 = np.dtype(np.uint64)

__all__ = ["relu", "relu_", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
           "sigmoid", "tanh", "softplus", "logsigmoid", "softsign", "hardsigmoid", "hardswish", "softmax",
           "log_softmax", "softmin", "linear", "bilinear", "dropout", "one_hot", "pad", "embedding",
           "layer_norm", "batch_norm", "group_norm", "normalize", "cosine_similarity", "cross_entropy",
           "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div"]


# ---------------------------------------------------------------------- helpers
def _data(op_name, input):
    try:
        return input._data
    except AttributeError:
        raise expected_tensor(op_name, input) from None


def _not_implemented(op_name, dtype):
    return NotImplementedError(f"{op_name}: not implemented for {dtype} tensors (PyTorch implements it for "
                               "floating-point tensors only)")


def _float_data(op_name, input):
    """The array of a floating-point ``input``; PyTorch's float-only kernels refuse other dtypes, even empty."""
    x = _data(op_name, input)
    if x.dtype.kind != "f":
        raise _not_implemented(op_name, x.dtype)
    return x


def _np_sigmoid(x):
    # NOTE: exp(min(x, 0)) / (1 + exp(-|x|)) is sigmoid in both of its overflow-free forms at once (1 / (1 + e^-x)
    # for x >= 0, e^x / (1 + e^x) below), with no select (np.where is several times slower than two exps).
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


def _xp_sigmoid(xp, x):
    """sigmoid in either namespace (for the rules of backward ops): 1/2 + tanh(x/2)/2 never overflows."""
    return 0.5 + 0.5 * xp.tanh(0.5 * x)


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_K = math.sqrt(2 / math.pi)
_GELU_C = 0.044715


# ---------------------------------------------------------------------- activations
@op(methods=(), xp_name=False)
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """relu(input, inplace=False) -> max(input, 0), elementwise (``ReluBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.relu(tg.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return _inplace(input, "relu_", _relu) if inplace else _relu(input)


@op(methods=(), xp_name=False)
def relu_(input: Tensor) -> Tensor:
    """relu_(input) -> input: relu in place."""
    return _inplace(input, "relu_", _relu)


@op(methods=())
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False) -> input clamped to [min_val, max_val].

    The gradient is 1 strictly inside the interval (and at NaN) and 0 outside and at its ends, as PyTorch's.
    Integer tensors are clamped as they are (their limits must fit the dtype); bool tensors are refused.

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardtanh(tg.tensor([-2.0, 0.5, 2.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    if inplace:
        return _inplace(input, "hardtanh_", _hardtanh, min_val, max_val)
    return _hardtanh(input, min_val, max_val)


def _hardtanh(input, lo, hi):
    x = _data("hardtanh", input)
    kind = x.dtype.kind
    if kind == "f" and not -65504.0 <= lo <= hi <= 65504.0:  # beyond float16's range (or nan): c10's check
        from ..ops.index import _scalar

        lo, hi = (_scalar("hardtanh", v, x.dtype) for v in (lo, hi))
    if kind != "f":
        if kind == "b":
            raise RuntimeError("hardtanh: bool tensors are not supported")
        for v in (lo, hi):  # PyTorch's hardtanh takes integer limits with min.toLong() first (c10's check)
            if isinstance(v, float) and not (math.isfinite(v) and -2.0 ** 63 <= v < 2.0 ** 63):
                raise RuntimeError(f"hardtanh: the limit {v} cannot be converted to int64 without overflow")
        if kind == "u" and (lo < 0 or hi < 0):
            raise RuntimeError(f"hardtanh: cannot do hardtanh on an unsigned type ({x.dtype}) with negative "
                               f"limits ({lo}, {hi})")
        info = np.iinfo(x.dtype)
        for v in (lo, hi):
            if not info.min <= v <= info.max:
                raise RuntimeError(f"hardtanh: the limit {v} cannot be converted to {x.dtype} without overflow")
        lo, hi = x.dtype.type(lo), x.dtype.type(hi)
    # NOTE: max then min, as PyTorch's clamp: NaN stays NaN, and x itself is kept on a tie (numpy returns its
    # second argument then), so -0.0 stays -0.0.
    if x.dtype != np.float16:
        out = np.minimum(hi, np.maximum(lo, x, dtype=x.dtype), dtype=x.dtype)
    else:  # numpy's float16 maximum/minimum return their *first* argument on a tie (+0.0 for x = -0.0): select
        lo, hi = np.float16(lo), np.float16(hi)
        out = np.where(x < lo, lo, x)
        out = np.where(out > hi, hi, out)

    def hardtanh_rule(xp, g, out, x):
        # NOTE: selected as PyTorch: an inf/NaN gradient outside gives 0, not NaN. NaN is neither <= lo nor >= hi:
        # its gradient passes, as in PyTorch's scalar path
        return _masked_grad(xp, g, (x <= lo) | (x >= hi))

    return record(out, (input,), hardtanh_rule, "HardtanhBackward0")


@op(methods=())
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(input, inplace=False) -> min(max(input, 0), 6) (hardtanh on [0, 6]).

    >>> import tapegrad as tg
    >>> tg.nn.functional.relu6(tg.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


@op(methods=())
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """leaky_relu(input, negative_slope=0.01, inplace=False) -> input if input > 0 else slope * input.

    >>> import tapegrad as tg
    >>> tg.nn.functional.leaky_relu(tg.tensor([-2.0, 3.0]), 0.5)
    tensor([-1.,  3.])
    """
    if inplace:
        return _inplace(input, "leaky_relu_", _leaky_relu, negative_slope, "LeakyReluBackward1")
    return _leaky_relu(input, negative_slope, "LeakyReluBackward0")


def _leaky_relu(input, slope, name):
    x = _float_data("leaky_relu", input)
    if x.dtype == np.float16:  # PyTorch's kernel computes in float32 and rounds once (Activation.cpp): slope
        # is not first rounded to float16; selected, so -0.0 * slope and NaN are PyTorch's
        out = np.where(x > 0, x, (x.astype(np.float32) * np.float32(slope)).astype(np.float16))
    elif slope == 0:  # NOTE: inf * 0 is NaN: select, as PyTorch (leaky_relu(inf, 0) is inf, of -inf NaN as there)
        out = np.where(x > 0, x, x * slope)
    else:  # NOTE: max(x, slope x) for slope <= 1 (min above) is exactly PyTorch's select, NaN and -0.0 included
        out = (np.maximum if slope <= 1 else np.minimum)(x, x * slope)  # (numpy's float32/64 tie: the second)

    half = x.dtype == np.float16

    def leaky_relu_rule(xp, g, out, x):
        if half:  # g * slope in float32, rounded once (by the engine), as PyTorch's kernel
            g = xp.astype(g, np.float32)
        pos = x > 0  # NOTE: at 0 and at NaN the slope is negative_slope, as in PyTorch
        if bool(xp.isfinite(g).all()):  # NOTE: products, faster than np.where; equal to it for finite g
            return g * pos + (g * slope) * ~pos
        return xp.where(pos, g, g * slope)  # PyTorch's select: no 0 * inf = NaN

    return record(out, (input,), leaky_relu_rule, name)


@backward_op(grad=lambda xp, need, gg, out, g, x, **c: _elu_backward_grad(xp, need, gg, g, x, **c))
def elu_backward(grad, x, *, negcoef, scale, input_scale, is_result=False):
    """PyTorch's elu_backward: grad * scale where x > 0 (and at NaN), else grad * negcoef * input_scale *
    exp(x * input_scale), which is grad * input_scale * (result + negcoef) when ``x`` is the result
    (``is_result``: the in-place forms, whose input is overwritten)."""
    neg = x <= 0
    # NOTE: fmin(x, 0) is 0 at NaN and for x > 0, so this factor is finite wherever it is not selected.
    if is_result:
        d = (np.fmin(x, 0) + negcoef) * input_scale
    else:
        d = np.exp(np.fmin(x, 0) * input_scale) * (negcoef * input_scale)
    return grad * (d * neg + ~neg * np.asarray(scale, x.dtype))


def _elu_backward_grad(xp, need, gg, g, x, *, negcoef, scale, input_scale, is_result=False):
    c = dict(negcoef=negcoef, scale=scale, input_scale=input_scale, is_result=is_result)
    gg_g = xp.elu_backward(gg, x, **c) if need[0] else None
    gx = None
    if need[1]:
        if is_result:
            curve = input_scale
        else:
            curve = xp.exp(xp.minimum(x, 0) * input_scale) * (negcoef * input_scale * input_scale)
        gx = xp.where(x <= 0, gg * g * curve, 0)
    return gg_g, gx


def _elu(input, alpha, scale, input_scale, op_name, name):
    x = _float_data(op_name, input)
    negcoef = alpha * scale
    # x * scale from 0 up (x >= 0, as PyTorch's kernel) and negcoef * expm1(x * input_scale) elsewhere, selected as
    # PyTorch does (so the signs of zero are PyTorch's: elu(-0.0) is -0.0, elu(0.0, alpha=-0.5) is +0.0, elu(x < 0,
    # alpha=0) is -0.0). NOTE: min(x, 0) keeps exp from overflowing.
    out = np.where(x >= 0, x * scale, np.expm1(np.minimum(0, x) * input_scale) * negcoef).astype(x.dtype, copy=False)
    c = dict(negcoef=negcoef, scale=scale, input_scale=input_scale)
    if name.endswith("1"):  # in place: PyTorch's EluBackward1/CeluBackward1 compute from the result
        def elu_result_rule(xp, g, out, x):
            return xp.elu_backward(g, out, is_result=True, **c)

        return record(out, (input,), elu_result_rule, name)

    def elu_rule(xp, g, out, x):
        return xp.elu_backward(g, x, **c)

    return record(out, (input,), elu_rule, name)


@op(methods=())
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """elu(input, alpha=1.0, inplace=False) -> input if input > 0 else alpha * (exp(input) - 1).

    >>> import tapegrad as tg
    >>> tg.nn.functional.elu(tg.tensor([1.0, 0.0]))
    tensor([1., 0.])
    """
    if inplace:
        return _inplace(input, "elu_", _elu, alpha, 1.0, 1.0, "elu", "EluBackward1")
    return _elu(input, alpha, 1.0, 1.0, "elu", "EluBackward0")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@op(methods=())
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """selu(input, inplace=False) -> scale * elu(input, alpha) with the self-normalizing constants.

    >>> import tapegrad as tg
    >>> tg.nn.functional.selu(tg.tensor([0.0]))
    tensor([0.])
    """
    if inplace:
        return _inplace(input, "selu_", _elu, _SELU_ALPHA, _SELU_SCALE, 1.0, "selu", "EluBackward1")
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, "selu", "EluBackward0")


@op(methods=())
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """celu(input, alpha=1.0, inplace=False) -> max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    >>> import tapegrad as tg
    >>> tg.nn.functional.celu(tg.tensor([2.0]))
    tensor([2.])
    """
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0 (it divides the input)")
    if inplace:
        return _inplace(input, "celu_", _elu, alpha, 1.0, 1.0 / alpha, "celu", "CeluBackward1")
    return _elu(input, alpha, 1.0, 1.0 / alpha, "celu", "CeluBackward0")


def _np_erf(x):
    return erf(wrap(x))._data  # a tensor that does not require grad: no node is recorded


@backward_op(grad=lambda xp, need, gg, out, g, x, **c: _gelu_backward_grad(xp, need, gg, g, x, **c))
def gelu_backward(grad, x, *, approximate, cached=None):
    """PyTorch's gelu_backward: grad * d gelu / dx (``cached``: Phi(x), or the tanh of the approximation)."""
    # NOTE: written with in-place temporaries (one array, reused): a dozen full-size temporaries cost a third of
    # a GPT step's time. The formulas are those in the comments.
    a = np.multiply(x, x, out=np.empty_like(x))  # out=: an array even for 0-d x
    if approximate == "none":  # grad * (cdf + x exp(-x^2 / 2) / sqrt(2 pi))
        cdf = 0.5 * (1 + _np_erf(x * _SQRT_HALF)) if cached is None else cached
        a *= -0.5
        np.exp(a, out=a)
        a *= _INV_SQRT_2PI
        a *= x
        a += cdf
    else:  # grad * (0.5 (1 + th) + 0.5 x (1 - th^2) k (1 + 3 c x^2))
        th = np.tanh(_GELU_K * (x + _GELU_C * x * x * x)) if cached is None else cached
        a *= 3 * _GELU_C * _GELU_K
        a += _GELU_K
        b = np.multiply(th, th, out=np.empty_like(th))
        np.subtract(1, b, out=b)
        a *= b
        a *= x
        a += th
        a += 1
        a *= 0.5
    if a.shape == grad.shape and a.dtype == grad.dtype:
        return np.multiply(a, grad, out=a)
    return grad * a


def _gelu_backward_grad(xp, need, gg, g, x, *, approximate, cached=None):
    gg_g = xp.gelu_backward(gg, x, approximate=approximate, cached=cached) if need[0] else None
    gx = None
    if need[1]:
        if approximate == "none":  # gelu'' = phi(x) (2 - x^2)
            curve = xp.exp(-0.5 * x * x) * _INV_SQRT_2PI * (2 - x * x)
        else:  # with u = k (x + c x^3): (1 - th^2) (u' - x th u'^2 + 3 k c x^2)
            th = xp.tanh(_GELU_K * (x + _GELU_C * x * x * x))
            du = _GELU_K * (1 + 3 * _GELU_C * x * x)
            curve = (1 - th * th) * (du - x * th * du * du + 3 * _GELU_K * _GELU_C * x * x)
        gx = gg * g * curve
    return gg_g, gx


@op(methods=())
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """gelu(input, approximate='none') -> input * Phi(input), Phi the standard normal CDF.

    ``approximate='tanh'`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    >>> import tapegrad as tg
    >>> tg.nn.functional.gelu(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _float_data("gelu", input)
    if approximate == "none":
        cached = 0.5 * (1 + _np_erf(x * _SQRT_HALF))
        out = x * cached
    else:
        cached = np.multiply(x, x, out=np.empty_like(x))  # tanh(k x (1 + c x^2)), in place
        cached *= _GELU_C
        cached += 1
        cached *= x
        cached *= _GELU_K
        np.tanh(cached, out=cached)
        out = np.add(cached, 1, out=np.empty_like(x))
        out *= x
        out *= 0.5

    def gelu_rule(xp, g, out, x):
        return xp.gelu_backward(g, x, approximate=approximate, cached=cached)

    return record(out, (input,), gelu_rule, "GeluBackward0")


@backward_op(grad=lambda xp, need, gg, out, g, x, **c: _silu_backward_grad(xp, need, gg, g, x))
def silu_backward(grad, x, *, den=None):
    """PyTorch's silu_backward: grad * s (1 + x (1 - s)), s = sigmoid(x) = 1 / ``den``."""
    with np.errstate(over="ignore"):
        s = 1 / (1 + np.exp(-x) if den is None else den)
    return grad * s * (1 + x * (1 - s))


def _silu_backward_grad(xp, need, gg, g, x):
    gg_g = xp.silu_backward(gg, x) if need[0] else None
    gx = None
    if need[1]:  # silu'' = s (1 - s) (2 + x (1 - 2 s))
        s = _xp_sigmoid(xp, x)
        gx = gg * g * (s * (1 - s) * (2 + x * (1 - 2 * s)))
    return gg_g, gx


@op(methods=())
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """silu(input, inplace=False) -> input * sigmoid(input) (also called swish).

    >>> import tapegrad as tg
    >>> tg.nn.functional.silu(tg.tensor([0.0]))
    tensor([0.])
    """
    return _inplace(input, "silu_", _silu) if inplace else _silu(input)


def _silu(input):
    x = _float_data("silu", input)
    with np.errstate(over="ignore"):
        den = 1 + np.exp(-x)  # PyTorch's x / (1 + e^-x): inf for x << 0 makes the result -0.0, as there
    out = x / den

    def silu_rule(xp, g, out, x):
        return xp.silu_backward(g, x, den=den)

    return record(out, (input,), silu_rule, "SiluBackward0")


@backward_op(grad=lambda xp, need, gg, out, g, x, **c: _mish_backward_grad(xp, need, gg, g, x))
def mish_backward(grad, x, *, th=None):
    """PyTorch's mish_backward: grad * (t + x s (1 - t^2)), t = tanh(softplus(x)) (``th``), s = sigmoid(x)."""
    with np.errstate(over="ignore"):
        if th is None:
            th = np.tanh(np.log1p(np.exp(x)))
        s = 1 / (1 + np.exp(-x))
    return grad * (th + x * s * (1 - th * th))


def _mish_backward_grad(xp, need, gg, g, x):
    gg_g = xp.mish_backward(gg, x) if need[0] else None
    gx = None
    if need[1]:  # mish'' = s (1 - t^2) (2 + x (1 - s) - 2 x t s)
        s = _xp_sigmoid(xp, x)
        softplus_ = xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        t = xp.tanh(softplus_)
        gx = gg * g * (s * (1 - t * t) * (2 + x * (1 - s) - 2 * x * t * s))
    return gg_g, gx


@op(methods=())
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """mish(input, inplace=False) -> input * tanh(softplus(input)).

    >>> import tapegrad as tg
    >>> tg.nn.functional.mish(tg.tensor([0.0]))
    tensor([0.])
    """
    return _inplace(input, "mish_", _mish) if inplace else _mish(input)


def _mish(input):
    x = _float_data("mish", input)
    with np.errstate(over="ignore"):
        th = np.tanh(np.log1p(np.exp(x)))  # PyTorch's formula: exp overflows to inf and tanh(inf) is 1

    def mish_rule(xp, g, out, x):
        return xp.mish_backward(g, x, th=th)

    return record(x * th, (input,), mish_rule, "MishBackward0")


@backward_op(grad=lambda xp, need, gg, out, g, x, **c: _softplus_backward_grad(xp, need, gg, g, x, **c))
def softplus_backward(grad, x, *, beta, threshold):
    """PyTorch's softplus_backward: grad * sigmoid(beta x), and grad itself where beta x > threshold."""
    z = x * beta
    return grad * np.maximum(_np_sigmoid(z), z > threshold)  # NOTE: max(s, 1) = 1 in the linear part


def _softplus_backward_grad(xp, need, gg, g, x, *, beta, threshold):
    gg_g = xp.softplus_backward(gg, x, beta=beta, threshold=threshold) if need[0] else None
    gx = None
    if need[1]:
        s = _xp_sigmoid(xp, x * beta)
        gx = xp.where(x * beta > threshold, 0, gg * g * (beta * s * (1 - s)))
    return gg_g, gx


@op(methods=())
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """softplus(input, beta=1.0, threshold=20.0) -> log(1 + exp(beta * input)) / beta, linear above threshold.

    Where ``beta * input > threshold`` the result is ``input`` itself (as PyTorch).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softplus(tg.tensor([0.0, 30.0]))
    tensor([ 0.6931, 30.0000])
    """
    x = _float_data("softplus", input)
    z = x * beta
    # NOTE: log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z, full precision for z << 0.
    out = np.where(z > threshold, x, (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta)

    def softplus_rule(xp, g, out, x):
        return xp.softplus_backward(g, x, beta=beta, threshold=threshold)

    return record(out.astype(x.dtype, copy=False), (input,), softplus_rule, "SoftplusBackward0")


@backward_op(grad=lambda xp, need, gg, out, g, x: _log_sigmoid_backward_grad(xp, need, gg, g, x))
def log_sigmoid_backward(grad, x):
    """PyTorch's log_sigmoid_backward: grad * sigmoid(-x)."""
    z = np.exp(-np.abs(x))
    return grad * np.abs((x < 0) - z / (1 + z))  # 1 - e/(1+e) below 0, e/(1+e) above: both exact


def _log_sigmoid_backward_grad(xp, need, gg, g, x):
    gg_g = xp.log_sigmoid_backward(gg, x) if need[0] else None
    gx = None
    if need[1]:
        s = _xp_sigmoid(xp, x)
        gx = -gg * g * (s * (1 - s))
    return gg_g, gx


@op(methods=())
def logsigmoid(input: Tensor) -> Tensor:
    """logsigmoid(input) -> log(sigmoid(input)), computed stably as min(x, 0) - log1p(exp(-|x|)).

    >>> import tapegrad as tg
    >>> tg.nn.functional.logsigmoid(tg.tensor([-1000.0]))
    tensor([-1000.])
    """
    x = _float_data("logsigmoid", input)
    # float16 in float32, rounded once (PyTorch's opmath): exp(-100) survives there, so -log1p of it is -0.0
    w = x.astype(np.float32) if x.dtype == np.float16 else x
    out = (np.minimum(w, 0) - np.log1p(np.exp(-np.abs(w)))).astype(x.dtype, copy=False)
    return record(out, (input,), _logsigmoid_rule, "LogSigmoidBackward0")


def _logsigmoid_rule(xp, g, out, x):
    return xp.log_sigmoid_backward(g, x)


@op(methods=())
def softsign(input: Tensor) -> Tensor:
    """softsign(input) -> input / (1 + |input|) (composed of those ops, as in PyTorch: ``DivBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softsign(tg.tensor([1.0]))
    tensor([0.5000])
    """
    if _data("softsign", input).dtype.kind == "b":
        raise _not_implemented("softsign", input._data.dtype)  # abs of a bool tensor
    return input / (1 + input.abs())  # an integer input: 1 + |x| in its own dtype, as PyTorch


@op(methods=())
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """hardsigmoid(input, inplace=False) -> clamp(input / 6 + 1/2, 0, 1); slope 1/6 strictly inside (-3, 3).

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardsigmoid(tg.tensor([0.0, 4.0]))
    tensor([0.5000, 1.0000])
    """
    return _inplace(input, "hardsigmoid_", _hardsigmoid) if inplace else _hardsigmoid(input)


def _hardsigmoid(input):
    x = _float_data("hardsigmoid", input)
    out = np.minimum(np.maximum(x + 3, 0), 6) / 6
    return record(out.astype(x.dtype, copy=False), (input,), _hardsigmoid_rule, "HardsigmoidBackward0")


_ONE_SIXTH = float(np.float32(1 / 6))  # PyTorch's hardsigmoid backward kernel takes one_sixth as 1.0f / 6.0f


def _hardsigmoid_rule(xp, g, out, x):
    # NOTE: as PyTorch's kernel (aten/src/ATen/native/cpu/Activation.cpp, hardsigmoid_backward_kernel):
    # `inside (-3, 3) ? grad * one_sixth : 0`, selected (an inf or NaN gradient outside, at +-3 and at NaN gives 0,
    # not 0 * inf = NaN), with one_sixth the float32 1/6 for every dtype (0.16666667163 in float64 too) and a
    # float16 gradient multiplied in float32 (the engine rounds it to float16 once)
    g = _masked_grad(xp, g, ~((x > -3) & (x < 3)))
    if g.dtype == np.float16:
        g = xp.astype(g, np.float32)
    return g * _ONE_SIXTH


@backward_op(grad=lambda xp, need, gg, out, g, x: _hardswish_backward_grad(xp, need, gg, g, x))
def hardswish_backward(grad, x):
    """PyTorch's hardswish_backward: 0 for x <= -3, grad * (x / 3 + 1/2) below 3, grad from 3 on (and at NaN)."""
    low = x <= -3
    mid = ~low & (x < 3)
    # NOTE: fmin/fmax clip NaN and infinities to finite values, so the terms that are not selected are zeros.
    slope = np.fmax(np.fmin(x, 3), -3) / 3 + 0.5
    out = grad * (slope * mid + (~low & ~mid))
    # NOTE: PyTorch's kernel returns zero there (+0.0 whatever the gradient, NaN and -0.75 included), not grad * 0
    return np.where(low, out.dtype.type(0), out)


def _hardswish_backward_grad(xp, need, gg, g, x):
    gg_g = xp.hardswish_backward(gg, x) if need[0] else None
    gx = gg * g * ((x > -3) & (x < 3)) * (1 / 3) if need[1] else None
    return gg_g, gx


@op(methods=())
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """hardswish(input, inplace=False) -> input * relu6(input + 3) / 6.

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardswish(tg.tensor([-4.0, 4.0]))
    tensor([-0.,  4.])
    """
    return _inplace(input, "hardswish_", _hardswish) if inplace else _hardswish(input)


def _hardswish(input):
    x = _float_data("hardswish", input)
    out = x * np.minimum(np.maximum(x + 3, 0), 6) / 6
    return record(out.astype(x.dtype, copy=False), (input,), _hardswish_rule, "HardswishBackward0")


def _hardswish_rule(xp, g, out, x):
    return xp.hardswish_backward(g, x)


# ---------------------------------------------------------------------- softmax
def _softmax_dim(name, dim, ndim, stacklevel=4):
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                      "dim=X as an argument.", UserWarning, stacklevel=stacklevel)
        dim = 0 if ndim in (0, 1, 3) else 1
    return check_dim(name, dim, ndim)


def _np_log_softmax(a, axis):
    # NOTE: subtracting the max makes every exponent <= 0: exp cannot overflow, and the largest term is 1.
    shifted = a - a.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def _np_softmax(a, axis):
    # NOTE: subtracting the max makes every exponent <= 0: exp cannot overflow and the sum is at least 1.
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _softmax_input(name, input, dim, dtype):
    """The input of a softmax (cast to ``dtype`` first, as PyTorch), its array and the axis."""
    x = _data(name, input)
    if dtype is not None:
        input = cast(input, dtypes.as_dtype(dtype))
        x = input._data
    d = _softmax_dim(name, dim, x.ndim)
    axis = d if x.ndim else None
    if x.dtype.kind != "f" and x.size:
        raise _not_implemented(name, x.dtype)  # an empty tensor of any dtype is returned as it is, as PyTorch
    return input, x, axis


@op(methods=())
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(input, dim, dtype=None) -> exp(input) / exp(input).sum(dim), computed stably.

    ``dim`` should be given; without it PyTorch's legacy choice (0 for 0-, 1- and 3-d inputs, else 1) is made
    with a warning. ``dtype`` casts the input first (the cast is differentiable).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softmax(tg.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    input, x, axis = _softmax_input("softmax", input, dim, dtype)
    if x.dtype == np.float16:  # NOTE: PyTorch's float16 kernels compute in float32 and round once, both ways
        out = _np_softmax(x.astype(np.float32), axis).astype(np.float16) if x.size else x.copy()
        return record(np.asarray(out, order="C"), (input,), _softmax_half_rule(axis), "SoftmaxBackward0")
    out = _np_softmax(x, axis) if x.size else x.copy()

    def softmax_rule(xp, g, out, x):
        gs = g * out
        return gs - out * gs.sum(axis=axis, keepdims=True)  # s * (g - sum(g * s))

    return record(np.asarray(out, order="C"), (input,), softmax_rule, "SoftmaxBackward0")  # (row-major, as PyTorch's)


@op(methods=())
def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log_softmax(input, dim, dtype=None) -> input - logsumexp(input, dim), computed stably.

    >>> import tapegrad as tg
    >>> tg.nn.functional.log_softmax(tg.tensor([0.0, 0.0]), dim=0).exp()
    tensor([0.5000, 0.5000])
    """
    input, x, axis = _softmax_input("log_softmax", input, dim, dtype)
    if x.dtype == np.float16:  # NOTE: PyTorch's float16 kernels compute in float32 and round once, both ways
        out = _np_log_softmax(x.astype(np.float32), axis).astype(np.float16) if x.size else x.copy()
        return record(np.asarray(out, order="C"), (input,), _log_softmax_half_rule(axis), "LogSoftmaxBackward0")
    out = _np_log_softmax(x, axis) if x.size else x.copy()

    def log_softmax_rule(xp, g, out, x):
        return g - xp.exp(out) * g.sum(axis=axis, keepdims=True)  # g - softmax * sum(g)

    return record(np.asarray(out, order="C"), (input,), log_softmax_rule, "LogSoftmaxBackward0")  # (row-major)


def _softmax_half_rule(axis):
    def softmax_rule(xp, g, out, x):
        g, out = xp.astype(g, np.float32), xp.astype(out, np.float32)
        gs = g * out
        return gs - out * gs.sum(axis=axis, keepdims=True)  # the engine rounds the gradient to float16 once

    return softmax_rule


def _log_softmax_half_rule(axis):
    def log_softmax_rule(xp, g, out, x):
        g, out = xp.astype(g, np.float32), xp.astype(out, np.float32)
        return g - xp.exp(out) * g.sum(axis=axis, keepdims=True)

    return log_softmax_rule


@op(methods=())
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmin(input, dim, dtype=None) -> softmax(-input, dim, dtype) (negated in input's dtype, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softmin(tg.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    if dim is None:
        dim = _softmax_dim("softmin", None, _data("softmin", input).ndim, stacklevel=3)
    return softmax(-input, dim, dtype=dtype)


def _softmax_method(self: Tensor, dim: int, dtype=None) -> Tensor:
    """softmax(dim, dtype=None) -> Tensor: see ``tapegrad.nn.functional.softmax`` (``dim`` is required)."""
    return softmax(self, dim, dtype=dtype)


def _log_softmax_method(self: Tensor, dim: int, dtype=None) -> Tensor:
    """log_softmax(dim, dtype=None) -> Tensor: see ``tapegrad.nn.functional.log_softmax`` (``dim`` is required)."""
    return log_softmax(self, dim, dtype=dtype)


op(_softmax_method, methods=("softmax",), xp_name=False)
op(_log_softmax_method, methods=("log_softmax",), xp_name=False)


# ---------------------------------------------------------------------- linear layers
@op(methods=())
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """linear(input, weight, bias=None) -> input @ weight.T + bias, as one fused op.

    ``input`` is (..., in_features), ``weight`` (out_features, in_features), ``bias`` (out_features,). A 2-D
    input is PyTorch's ``addmm`` (``AddmmBackward0``; ``MmBackward0`` without bias); other inputs are viewed as
    2-D and back. A 1-D ``weight`` (without bias) gives a dot product per row, as PyTorch.

    >>> import tapegrad as tg
    >>> tg.nn.functional.linear(tg.ones(2, 3), tg.ones(4, 3), tg.zeros(4)).shape
    tapegrad.Size([2, 4])
    """
    try:
        x, w = input._data, weight._data
    except AttributeError:
        raise expected_tensor("linear", weight if isinstance(input, Tensor) else input) from None
    if x.ndim == 0 or w.ndim == 0:
        raise RuntimeError(f"linear: both arguments need to be at least 1D, but they are {x.ndim}D and "
                           f"{w.ndim}D")
    if w.ndim == 1:
        if bias is not None:
            raise RuntimeError(f"linear: a 1-D weight (shape {tuple(w.shape)}) takes no bias (mat2 must be a "
                               "matrix)")
        return matmul(input, weight)
    if w.ndim != 2:
        raise RuntimeError(f"linear: weight must be 1-D or 2-D (out_features, in_features), got shape "
                           f"{tuple(w.shape)}")
    if x.shape[-1] != w.shape[1]:
        raise RuntimeError(f"linear: cannot multiply input of shape {tuple(x.shape)} by weight of shape "
                           f"{tuple(w.shape)}: input has {x.shape[-1]} features but weight expects {w.shape[1]}")
    if x.ndim == 2:
        return _addmm(input, weight, bias)
    lead = x.shape[:-1]
    flat = input.reshape(math.prod(lead), x.shape[-1])  # NOTE: sizes, not -1: a size-0 dim makes -1 ambiguous
    out = _addmm(flat, weight, bias, x)
    if _linear_path(x, getattr(bias, "_data", None), False)[0]:
        return out.reshape(lead + (w.shape[0],))  # PyTorch's _flatten_nd_linear: a view of addmm's result
    # PyTorch's matmul(input, weight.t()) (then add_(bias)): a new tensor, not a view (detach_ takes it)
    return _unview(record(out._data.reshape(lead + (w.shape[0],)), (out,), _unflatten_rule(out._data.shape),
                          "AddBackward0" if bias is not None else "SqueezeBackward4" if x.ndim == 1
                          else "UnsafeViewBackward0"))


def _unflatten_rule(shape):
    def unflatten(xp, g, out, x):
        return g.reshape(shape)

    return unflatten


def _addmm(input, weight, bias, unflat=None):
    """input @ weight.T + bias for a 2-D ``input`` (``unflat``: the input's array before it was flattened to 2-D)."""
    x, w = input._data, weight._data
    if x.dtype != w.dtype:
        raise RuntimeError(f"linear: input and weight must have the same dtype, got {x.dtype} and {w.dtype}")
    if x.dtype.kind == "b":
        raise _not_implemented("linear", x.dtype)
    out = x @ w.T
    # NOTE: as PyTorch, the rule keeps (reads) x only if w needs its gradient, and w only if x does: a value that
    # is not needed may be changed in place before backward
    which = (2 if input._requires_grad else 0) + (1 if weight._requires_grad else 0)
    if bias is None:
        if x.shape[1] <= 1 and x.dtype.kind == "f":
            _one_term_zeros(out, x, w, None, *_linear_path(unflat, None, weight._requires_grad))
        return record(out, (input, weight), _MM_RULES[which], "MmBackward0")
    try:
        b = bias._data
    except AttributeError:
        raise expected_tensor("linear", bias) from None
    if b.dtype != x.dtype:
        raise RuntimeError(f"linear: bias must have the input's dtype {x.dtype}, got {b.dtype}")
    try:
        out += b
    except ValueError:
        raise RuntimeError(f"linear: bias of shape {tuple(b.shape)} does not broadcast to the output shape "
                           f"{tuple(out.shape)} (expected ({w.shape[0]},))") from None
    if x.shape[1] <= 1 and x.dtype.kind == "f":
        _one_term_zeros(out, x, w, b, *_linear_path(unflat, b, weight._requires_grad))
    return record(out, (input, weight, bias), (_ADDMM_RULES if b.ndim == 1 else _ADDMM_BROADCAST_RULES)[which],
                  "AddmmBackward0")


def _linear_path(unflat, b, weight_requires_grad):
    """(fused, folded): whether PyTorch's linear computes this input (``unflat``: before flattening, None for a
    2-D input) by addmm with the bias, and otherwise whether its matmul folds the input into one mm (else bmm)."""
    if unflat is None:
        return b is not None, True
    # measured on PyTorch 2.13: a contiguous input goes to addmm with a bias of 1 dim, or of more dims whose last
    # size is not 1; a bias of one element in 2 or more dims, or a scalar, is added after matmul
    fused = (b is not None and unflat.flags.c_contiguous
             and (b.ndim == 1 or (b.ndim > 1 and b.shape[-1] != 1)))
    if fused or unflat.ndim < 3 or weight_requires_grad or unflat.size == 0:
        return fused, True
    st, sh = unflat.strides, unflat.shape  # matmul's should_fold: the leading dims flatten without a copy
    return False, all(st[i] == st[i + 1] * sh[i + 1] for i in range(unflat.ndim - 2))


def _one_term_zeros(out, x, w, b, fused, folded):
    """Give the zeros of ``out`` = x @ w.T (+ b), of inner size 1 or 0, PyTorch's signs (in place).

    PyTorch's addmm (``fused``) copies the bias into the output and adds the products to it: float32's kernel adds
    the one product itself (keeping its sign), float64's where both outer sizes are 2 or more (a one-term gemm),
    others a sum from +0.0; an inner size of 0 leaves the bias as it is. Otherwise PyTorch computes matmul (a
    one-term gemm when ``folded`` into one mm with both outer sizes 2 or more: the product's sign; else a sum from
    +0.0), then adds the bias."""
    if np.count_nonzero(out) == out.size:
        return
    rows, cols = out.shape
    if x.shape[1] == 0:
        want = np.zeros(out.shape, out.dtype)
        if b is not None:
            want = np.broadcast_to(b, out.shape) if fused else want + b
    else:
        p = x * w.T
        gemm = folded and rows > 1 and cols > 1 and out.dtype.itemsize >= 4
        if b is None or not fused:
            want = p if gemm else p + 0.0
            if b is not None:
                want = want + b
        else:
            keep = out.dtype == np.float32 or (out.dtype == np.float64 and gemm)
            want = b + (p if keep else p + 0.0)
            if gemm:  # gemm's fused multiply-add: a product that underflows keeps its sign added to a zero bias
                tiny = (p == 0) & (x != 0) & (w.T != 0) & (b == 0)
                if tiny.any():
                    want = np.where(tiny, p, want)
    zero = out == 0
    out[zero] = np.broadcast_to(want, out.shape)[zero]


def _mm_rule(xp, need, g, out, x, w):
    return g @ w if need[0] else None, g.mT @ x if need[1] else None


def _mm_x_rule(xp, need, g, out, x, w):  # only x needs its gradient: w is read, x is not
    return g @ w if need[0] else None, None


def _mm_w_rule(xp, need, g, out, x, w):  # only w needs its gradient: x is read, w is not
    return None, g.mT @ x if need[1] else None


def _addmm_rule(xp, need, g, out, x, w, b):
    return g @ w if need[0] else None, g.mT @ x if need[1] else None, g.sum(axis=0) if need[2] else None


def _addmm_broadcast_rule(xp, need, g, out, x, w, b):
    return g @ w if need[0] else None, g.mT @ x if need[1] else None, g if need[2] else None  # engine reduces


def _addmm_x_rule(xp, need, g, out, x, w, b):
    return g @ w if need[0] else None, None, g.sum(axis=0) if need[2] else None


def _addmm_w_rule(xp, need, g, out, x, w, b):
    return None, g.mT @ x if need[1] else None, g.sum(axis=0) if need[2] else None


def _addmm_b_rule(xp, need, g, out, x, w, b):
    return None, None, g.sum(axis=0)


def _addmm_broadcast_x_rule(xp, need, g, out, x, w, b):
    return g @ w if need[0] else None, None, g if need[2] else None


def _addmm_broadcast_w_rule(xp, need, g, out, x, w, b):
    return None, g.mT @ x if need[1] else None, g if need[2] else None


def _addmm_broadcast_b_rule(xp, need, g, out, x, w, b):
    return None, None, g


# indexed by 2 * (x requires grad) + (w requires grad)
_MM_RULES = (_mm_rule, _mm_w_rule, _mm_x_rule, _mm_rule)
_ADDMM_RULES = (_addmm_b_rule, _addmm_w_rule, _addmm_x_rule, _addmm_rule)
_ADDMM_BROADCAST_RULES = (_addmm_broadcast_b_rule, _addmm_broadcast_w_rule, _addmm_broadcast_x_rule,
                          _addmm_broadcast_rule)


@op(methods=())
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """bilinear(input1, input2, weight, bias=None) -> y_o = x1 @ weight[o] @ x2 + bias[o].

    ``input1`` (..., in1), ``input2`` (..., in2), ``weight`` (out, in1, in2), ``bias`` (out,).

    >>> import tapegrad as tg
    >>> tg.nn.functional.bilinear(tg.ones(2, 3), tg.ones(2, 4), tg.ones(5, 3, 4)).shape
    tapegrad.Size([2, 5])
    """
    a, c, w = _data("bilinear", input1), _data("bilinear", input2), _data("bilinear", weight)
    if w.ndim != 3 or a.shape[-1:] != w.shape[1:2] or c.shape[-1:] != w.shape[2:] or a.shape[:-1] != c.shape[:-1]:
        raise RuntimeError(f"bilinear: inputs of shape {tuple(a.shape)} and {tuple(c.shape)} do not fit weight "
                           f"of shape {tuple(w.shape)}: expected (..., in1), (..., in2) and (out, in1, in2)")
    # (..., 1, 1, in1) @ (out, in1, in2) @ (..., 1, in2, 1) -> (..., out, 1, 1): composed, so every input gets
    # its gradient from matmul's rule.
    lead = a.shape[:-1]
    left = input1.reshape(lead + (1, 1, a.shape[-1]))
    right = input2.reshape(lead + (1, c.shape[-1], 1))
    out = matmul(matmul(left, weight), right).reshape(lead + (w.shape[0],))
    return out if bias is None else out + bias


# ---------------------------------------------------------------------- dropout
@op(methods=())
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator=None) -> Tensor:
    """dropout(input, p=0.5, training=True, inplace=False) -> zero each element with probability p.

    Inverted dropout: survivors are scaled by 1 / (1 - p), so evaluation (``training=False``) is the identity
    (the input itself is returned, as PyTorch does). The result is ``input * mask`` (``MulBackward0``).
    ``generator`` (a tapegrad extension) picks the random stream.

    >>> import tapegrad as tg
    >>> tg.nn.functional.dropout(tg.ones(3), 0.5, training=False)
    tensor([1., 1., 1.])
    """
    if not 0 <= p <= 1:
        raise (ValueError if p == p else RuntimeError)(f"dropout: probability has to be between 0 and 1, but "
                                                       f"got {p}")
    x = _data("dropout", input)
    if not training or p == 0 or x.size == 0:
        return input
    if x.dtype.kind != "f":
        raise RuntimeError(f"dropout: result type float can't be cast to the input's dtype {x.dtype} (dropout "
                           "scales the kept values)")
    if p == 1:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        u = _rng(generator).random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
        # NOTE: inverted dropout: scale the survivors by 1/(1-p) now, so the expectation is unchanged.
        mask = (u >= p) * x.dtype.type(1 / (1 - p))
    if not x.flags.c_contiguous:  # laid out as the input (PyTorch's empty_like), so the product keeps its layout
        laid_out = empty_like_preserved(x, mask.dtype)
        laid_out[...] = mask
        mask = laid_out
    if inplace:
        return _inplace(input, "dropout_", _masked, mask)
    return _masked(input, mask)


def _masked(input, mask):
    def dropout_rule(xp, g, out, x):
        return g * mask

    return record(input._data * mask, (input,), dropout_rule, "MulBackward0")


# ---------------------------------------------------------------------- one_hot, pad, embedding
@op(methods=())
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """one_hot(tensor, num_classes=-1) -> int64 tensor of shape tensor.shape + (num_classes,).

    ``tensor`` holds int64 class indices; ``num_classes=-1`` takes the largest value + 1.

    >>> import tapegrad as tg
    >>> tg.nn.functional.one_hot(tg.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    t = _data("one_hot", tensor)
    if t.dtype != np.int64:
        raise RuntimeError(f"one_hot: expected an integer index tensor of dtype int64 (LongTensor), got dtype "
                           f"{t.dtype}")
    num_classes = int(num_classes)
    if t.size == 0:
        if num_classes <= 0:
            raise RuntimeError(f"one_hot: cannot infer the number of classes from an empty tensor of shape "
                               f"{tuple(t.shape)}; pass num_classes > 0")
        return wrap(np.zeros(t.shape + (num_classes,), dtype=np.int64))
    lo, hi = int(t.min()), int(t.max())
    if lo < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {lo}")
    if num_classes == -1:
        if hi == np.iinfo(np.int64).max:  # PyTorch's max + 1 wraps to a negative size in int64
            raise RuntimeError(f"one_hot: zeros: Dimension size must be non-negative (num_classes=-1 takes the "
                               f"largest value + 1, and {hi} + 1 overflows int64, as in PyTorch)")
        num_classes = hi + 1
    elif hi >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {hi}")
    return wrap((t[..., None] == np.arange(num_classes)).astype(np.int64))


_PAD_MODES = {"reflect": "Reflection", "replicate": "Replication", "circular": "Circular"}


@op(methods=())
def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float | None = None) -> Tensor:
    """pad(input, pad, mode='constant', value=None) -> input padded on its last len(pad) // 2 dimensions.

    ``pad`` is (left, right) for the last dimension, then (top, bottom) for the one before, and so on; negative
    pads crop. ``mode`` is 'constant' (``value``, default 0), or 'reflect', 'replicate' and 'circular', which
    pad the last 1, 2 or 3 dimensions of an input with one or two more (batch and channel), as PyTorch.

    >>> import tapegrad as tg
    >>> tg.nn.functional.pad(tg.tensor([1.0, 2.0]), (1, 2))
    tensor([0., 1., 2., 0., 0.])
    """
    pads = tuple(int(p) for p in pad)
    x = _data("pad", input)
    nd = x.ndim
    if len(pads) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pads)} values {pads}")
    k = len(pads) // 2
    if k > nd:
        raise RuntimeError(f"pad: padding length {len(pads)} is more than twice the {nd} dimension(s) of the "
                           f"input of shape {tuple(x.shape)}")
    pairs = [(0, 0)] * (nd - k) + [(pads[2 * i], pads[2 * i + 1]) for i in reversed(range(k))]
    if mode == "constant":
        return _pad_constant(input, pairs, 0 if value is None else value)
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular' "
                                  f"(unrecognised padding mode {mode!r})")
    if value is not None and value != 0:
        raise RuntimeError(f"pad: padding mode {mode!r} doesn't take in value argument")
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(f"pad: padding size {len(pads)} is not supported for {nd}D input tensor in "
                                  f"mode {mode!r}: (left, right) pads 2D or 3D input, 4 pads 3D or 4D, 6 pads 4D "
                                  "or 5D")
    sizes = [x.shape[d] + lo + hi for d, (lo, hi) in enumerate(pairs) if d >= nd - k]
    if mode != "circular" and all(size < 1 for size in sizes):
        # NOTE: PyTorch refuses only when every padded dim would be empty (a 0 beside a 1 is an empty result)
        raise RuntimeError(f"pad: input of shape {tuple(x.shape)} is too small for padding {tuple(pads)}: the "
                           f"padded sizes would be {tuple(sizes)}")
    index = []
    for d, (lo, hi) in enumerate(pairs):
        n = x.shape[d]
        size = n + lo + hi
        if d < nd - k:
            index.append(np.arange(n))
            continue
        if mode == "circular":
            if lo > n or hi > n:
                raise RuntimeError(f"pad: circular padding {(lo, hi)} at dimension {d} wraps around more than "
                                   f"once (input shape {tuple(x.shape)})")
            if size < 0:
                raise RuntimeError(f"pad: negative circular padding {(lo, hi)} at dimension {d} leaves a "
                                   f"negative size (input shape {tuple(x.shape)})")
            # PyTorch crops first (negative pads), then wraps within what is left
            a, m = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)
            if m <= 0 < size:  # nothing left to wrap around (PyTorch copies from its output's unwritten memory)
                raise RuntimeError(f"pad: circular padding {(lo, hi)} at dimension {d} wraps around nothing: the "
                                   f"negative padding leaves none of its {n} elements (input shape "
                                   f"{tuple(x.shape)})")
            j = a + (np.arange(size) - max(lo, 0)) % max(m, 1)
        else:
            if mode == "reflect" and (lo >= n or hi >= n):
                raise RuntimeError(f"pad: reflect padding {(lo, hi)} at dimension {d} must be less than the "
                                   f"dimension's size {n} (input shape {tuple(x.shape)})")
            if size < 0:
                raise RuntimeError(f"pad: input of size {n} at dimension {d} is too small for padding {(lo, hi)}: "
                                   f"the output size would be {size}")
            j = np.arange(-lo, n + hi)
            if mode == "reflect":
                j = np.abs(j)
                j = np.where(j >= n, 2 * (n - 1) - j, j)
            else:
                j = np.clip(j, 0, n - 1)
        index.append(j)
    if mode != "circular" and 0 in (x.shape if nd == k + 1 else x.shape[1:]):  # an unbatched input: no 0 anywhere
        raise RuntimeError(f"pad: {mode} padding expects an input whose dimensions after the first (all, unbatched) "
                           f"are not empty, got shape {tuple(x.shape)}")
    if mode != "circular" and x.dtype == np.bool_:  # PyTorch's reflection/replication kernels have no bool
        kernel = "reflection" if mode == "reflect" else "replication"
        raise NotImplementedError(f'pad: "{kernel}_pad{k}d" not implemented for \'Bool\' (mode {mode!r} of a bool '
                                  f"tensor of shape {tuple(x.shape)})")
    grid = np.ix_(*index)

    def pad_rule(xp, g, out, x):
        return xp.add_at(x.shape, grid, g)

    name = "torch::autograd::CopySlices" if mode == "circular" else f"{_PAD_MODES[mode]}Pad{k}DBackward0"
    return record(x[grid], (input,), pad_rule, name)


def _pad_constant(input, pairs, value):
    x = input._data
    crop, keep, shape = [], [], []
    for d, (lo, hi) in enumerate(pairs):
        n = x.shape[d]
        a, b = max(-lo, 0), n - max(-hi, 0)
        if n - a < 0 or b - a < 0:  # PyTorch narrows the input first: its length must not become negative
            raise RuntimeError(f"pad: the input size {n} at dimension {d}, plus negative padding {lo} and {hi}, "
                               f"gives a negative size (input shape {tuple(x.shape)})")
        crop.append(slice(a, b))
        keep.append(slice(max(lo, 0), max(lo, 0) + b - a))
        shape.append(n + lo + hi)  # >= 0 once the narrowing above is possible
    crop, keep = tuple(crop), tuple(keep)
    if any(lo > 0 or hi > 0 for lo, hi in pairs):  # PyTorch fills the output with the value (fill_'s conversion)
        from ..ops.copy import checked_number

        try:
            value = checked_number(float(value), np.broadcast_to(np.empty((), x.dtype), shape))  # a float, as PyTorch's
        except (RuntimeError, OverflowError) as e:
            raise type(e)(f"pad: {str(e).removeprefix('fill_: ')}") from None
    else:  # nothing is filled: PyTorch never converts the value
        value = 0
    out = np.full(shape, value, dtype=x.dtype)
    out[keep] = x[crop]
    cropped = any(s.start or s.stop != n for s, n in zip(crop, x.shape, strict=True))

    def constant_pad_rule(xp, g, out, x):
        gi = g[keep]
        return xp.add_at(x.shape, crop, gi) if cropped else gi

    return record(out, (input,), constant_pad_rule, "ConstantPadNdBackward0")


@op(methods=())
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
    sparse=False) -> the rows of ``weight`` picked by the integer ``input``: shape input.shape + (dim,).

    Rows picked more than once accumulate their gradients; the ``padding_idx`` row gets none. ``max_norm``
    renormalizes the picked rows of ``weight`` in place. Gradients are always dense (``sparse`` is accepted).

    >>> import tapegrad as tg
    >>> tg.nn.functional.embedding(tg.tensor([[0, 2]]), tg.eye(3)).shape
    tapegrad.Size([1, 2, 3])
    """
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    try:
        w = weight._data
    except AttributeError:
        raise expected_tensor("embedding", weight) from None
    if idx.dtype != np.int64 and idx.dtype != np.int32:
        raise RuntimeError(f"embedding: indices must be an integer tensor of dtype int64 or int32, got dtype "
                           f"{idx.dtype}")
    if w.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{tuple(w.shape)}")
    V, D = w.shape
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings {V}")
        padding_idx %= V
    if idx.size and (_min(idx, None) < 0 or _max(idx, None) >= V):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {bad} is out of range for a weight of shape {tuple(w.shape)} "
                         f"(expected 0 <= index < {V})")
    if max_norm is not None:
        _embedding_renorm(weight, idx, max_norm, norm_type)
        w = weight._data
    out = np.take(w, idx, axis=0)
    rows = idx.reshape(-1)
    scale = keep = None
    if scale_grad_by_freq:
        scale = (1 / np.bincount(rows, minlength=V)[rows])[:, None]
    if padding_idx is not None:
        keep = rows != padding_idx
        rows = rows[keep]
        scale = None if scale is None else scale[keep]
    out_shape = out.shape

    def dense_backward(g):
        """The weight's gradient from the output's: each row of g added to the row of weight it picked."""
        g2 = g.reshape(-1, D)
        if keep is not None:
            g2 = g2[keep]
        if scale is not None:
            g2 = g2 * scale.astype(g2.dtype, copy=False)
        return _np_sum_rows(rows, g2, V)

    def dense_backward_adjoint(gw):
        """The adjoint of ``dense_backward``: the picked rows of ``gw``, scaled and masked the same way."""
        picked = np.zeros((len(keep), D), dtype=gw.dtype) if keep is not None else None
        rows_of_gw = gw[rows] if scale is None else gw[rows] * scale.astype(gw.dtype, copy=False)
        if picked is None:
            return rows_of_gw.reshape(out_shape)
        picked[keep] = rows_of_gw
        return picked.reshape(out_shape)

    def embedding_rule(xp, g, out, w):
        return xp.linear(dense_backward, dense_backward_adjoint, g, "EmbeddingDenseBackward0")

    return record(out, (weight,), embedding_rule, "EmbeddingBackward0")


def _np_sum_rows(rows, values, n):
    """A (n, D) array whose row r is the sum of values[i] over the i with rows[i] == r."""
    d = values.shape[1]
    out = np.zeros((n, d), dtype=values.dtype)
    # NOTE: np.add.at on whole rows goes element by element through the general ufunc machinery; on flat
    # positions it takes numpy's fast 1-d path. Measured against sorting with np.add.reduceat: 96 rows of 10
    # into 27, 5 us against 9; 4096 of 64 into 50,000, 0.48 ms against 1.1 ms; only many short rows into few
    # are slower (20,000 of 8 into 100: 0.27 ms against 0.23).
    positions = rows.astype(np.intp, copy=False)[:, None] * d + np.arange(d)
    np.add.at(out.reshape(-1), positions.reshape(-1), values.reshape(-1))
    return out


def _embedding_renorm(weight, idx, max_norm, norm_type):
    """Scale the rows of ``weight`` picked by ``idx`` whose norm exceeds ``max_norm`` down to it, in place."""
    rows = np.unique(idx)
    w = weight._data
    with np.errstate(over="ignore", invalid="ignore"):  # (numpy's module computes it: past tapegrad's filter)
        norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        increment_version(weight)


# ---------------------------------------------------------------------- normalization
def _np_normalized(x, axes, eps, double_eps=False):
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance), 1 / sqrt(var + eps), the mean and the
    variance, as arrays. ``double_eps``: a float32 ``var + eps`` and its 1 / sqrt are computed in float64 and the
    reciprocal rounded to float32 once, as PyTorch's group_norm kernel (its ``eps`` is a double:
    aten/src/ATen/native/cpu/group_norm_kernel.cpp, ``1 / std::sqrt(std::max(var, 0) + eps)``)."""
    if x.size == 0:  # nothing to normalize (numpy would warn about the mean of nothing)
        stat = np.zeros([1 if i in axes else n for i, n in enumerate(x.shape)], dtype=x.dtype)
        return x.copy(), stat + 1, stat, stat
    # NOTE: two-pass variance (the mean of squared deviations) avoids the cancellation of E[x^2] - E[x]^2.
    mu = x.mean(axis=axes, keepdims=True)
    d = x - mu
    var = np.mean(d * d, axis=axes, keepdims=True)
    if double_eps and x.dtype == np.float32:
        rstd = (1 / np.sqrt(var.astype(np.float64) + eps)).astype(np.float32)
    else:
        rstd = 1 / np.sqrt(var + eps)
    d *= rstd
    return d, rstd, mu, var


def _xp_normalized(xp, x, axes, eps):
    """The normalized input and 1 / sqrt(var + eps), computed with ``xp`` (arrays, or recorded tensors)."""
    d = x - xp.mean(x, axis=axes, keepdims=True)
    rstd = (xp.mean(d * d, axis=axes, keepdims=True) + eps) ** -0.5
    return d * rstd, rstd


def _declare_norm_backward(kind):
    """The backward ops of a normalization over ``axes`` (PyTorch's native_<kind>_norm_backward, its input part):
    ``native_<kind>_norm_backward(gxh, x)``, the input's gradient from the gradient ``gxh`` of the normalized
    input, and ``<kind>_norm_xhat(x)``, the normalized input itself. Their array forms take the forward's
    ``xhat`` and ``rstd``; recorded (create_graph) they have exact rules of their own."""
    backward_name = f"native_{kind}_norm_backward"

    def native_backward(gxh, x, *, axes, eps, xhat=None, rstd=None):
        if x.size == 0:
            return np.zeros_like(x)
        if xhat is None:
            xhat, rstd = _np_normalized(x, axes, eps)[:2]
        return rstd * (gxh - gxh.mean(axis=axes, keepdims=True)
                       - xhat * (gxh * xhat).mean(axis=axes, keepdims=True))

    def native_backward_grad(xp, need, gg, out, gxh, x, *, axes, eps, xhat=None, rstd=None):
        # The map gxh -> gx is rstd times a symmetric projection: its adjoint is itself.
        back = getattr(xp, backward_name)
        d_gxh = back(gg, x, axes=axes, eps=eps, xhat=xhat, rstd=rstd) if need[0] else None
        dx = None
        if need[1]:
            # L = <gg, gx>; with c1 = mean(gxh), c2 = mean(gxh xh) and sums over the normalized axes,
            # dL/dx = -r^2 (K xh / N + v - mean(v) - xh mean(v xh)), K = <gg, gxh> - c1 sum(gg) - c2 <gg, xh>,
            # v = <gg, xh> gxh / N + c2 gg (r = 1/sqrt(var + eps) depends on x through the variance).
            xh, r = _xp_normalized(xp, x, axes, eps)
            n = math.prod(x.shape[a] for a in axes)
            c1 = xp.mean(gxh, axis=axes, keepdims=True)
            c2 = xp.mean(gxh * xh, axis=axes, keepdims=True)
            s_gx = xp.sum(gg * xh, axis=axes, keepdims=True)
            k = xp.sum(gg * gxh, axis=axes, keepdims=True) - c1 * xp.sum(gg, axis=axes, keepdims=True) - c2 * s_gx
            v = s_gx * gxh / n + c2 * gg
            dx = -(r * r) * (k * xh / n + v - xp.mean(v, axis=axes, keepdims=True)
                             - xh * xp.mean(v * xh, axis=axes, keepdims=True))
        return d_gxh, dx

    def xhat_op(x, *, axes, eps, xhat=None, rstd=None):
        return _np_normalized(x, axes, eps)[0] if xhat is None else xhat

    def xhat_grad(xp, gg, out, x, **c):
        return getattr(xp, backward_name)(gg, x, **c)

    native_backward.__name__ = native_backward.__qualname__ = backward_name
    native_backward.__doc__ = (f"The input's gradient of {kind}_norm from the gradient of its normalized input "
                               "(PyTorch's native_{kind}_norm_backward, input part).")
    xhat_op.__name__ = xhat_op.__qualname__ = f"{kind}_norm_xhat"
    xhat_op.__doc__ = f"The normalized input of {kind}_norm (cached by the forward)."
    backward_op(native_backward, grad=native_backward_grad)
    backward_op(xhat_op, grad=xhat_grad)
    return backward_name, xhat_op.__name__


_NORM_OPS = {kind: _declare_norm_backward(kind) for kind in ("layer", "batch", "group")}


def _fused_zero_signs(kind, out, x, mu, rstd, w, b, pshape=None, view=None):
    """``out`` with PyTorch's signs of zero: where it is 0 and PyTorch's fused scale-and-shift gives 0 too, that
    zero's sign (its kernels compute x * alpha + (b - mean * alpha) (batch norm), (x * rstd - rstd * mean) * w + b
    (layer norm), x * (rstd w) + (b - rstd w mean) (group norm)). Nothing is computed when ``out`` has no zero."""
    if out.all():
        return out
    with np.errstate(all="ignore"):
        one, zero = out.dtype.type(1), out.dtype.type(0)
        if kind == "layer":
            y = (x * rstd + (-rstd * mu)) * (one if w is None else w) + (zero if b is None else b)
        elif kind == "batch":
            alpha = rstd * (one if w is None else w.reshape(pshape))
            y = x * alpha + ((zero if b is None else b.reshape(pshape)) - mu * alpha)
        else:  # group: view is (N, G, D * HW), the parameters are per channel (G * D of them)
            n, g = view[:2]
            xs = x.reshape(n, g, -1, x[0, 0].size if x.ndim > 2 else 1)
            per = (1, g, -1, 1)
            scale = rstd[..., None] * (one if w is None else w.reshape(per))
            shift = -scale * mu[..., None] + (zero if b is None else b.reshape(per))
            y = (scale * xs + shift).reshape(x.shape)
    return np.where((out == 0) & (y == 0), y, out)


def _record_norm(kind, input, weight, bias, xhat, rstd, axes, eps, name, pshape=None, view=None, mu=None):
    """The output of a normalization with an affine part (``weight``, ``bias``, each may be None) as one node.

    ``xhat``/``rstd`` are the forward's arrays over ``axes`` of the input seen with shape ``view`` (group norm);
    ``pshape`` is the shape the parameters broadcast with (per channel: batch and group norm), their gradients
    then summed over the other axes.
    """
    x = input._data
    out = xhat if view is None else xhat.reshape(x.shape)
    w = None if weight is None else weight._data
    b = None if bias is None else bias._data
    if w is not None:
        out = out * (w if pshape is None else w.reshape(pshape))
    if b is not None:
        out = out + (b if pshape is None else b.reshape(pshape))
    elif kind != "group" or w is not None:
        # NOTE: PyTorch's kernels add a bias of +0.0 when none is given (group norm: when a weight is), so a zero
        # result is +0.0 there; this is also the copy that keeps the output apart from the cached xhat
        out = out + out.dtype.type(0)
    elif w is None:
        out = out.copy()  # NOTE: the output must not share memory with the cached xhat (it may be written)
    if mu is not None and out.size:
        out = _fused_zero_signs(kind, out, x, mu, rstd, w, b, pshape, view)
    if kind == "group":  # PyTorch's group norm writes a channels-last input's result channels-last
        out = memory_formats.follow_channels_last(out, x)
    backward, xhat_name = _NORM_OPS[kind]
    c = dict(axes=axes, eps=eps, xhat=xhat, rstd=rstd)
    sum_axes = None if pshape is None else tuple(i for i in range(x.ndim) if i != 1)
    has_w, has_b = w is not None, b is not None

    def norm_rule(xp, need, g, out, x, *params):
        gx = None
        if need[0]:  # the only gradient that reads the weight's value (PyTorch's formulas; the bias's: none)
            gxh = g
            if has_w:
                gxh = g * (params[0] if pshape is None else params[0].reshape(pshape))
            if view is None:
                gx = getattr(xp, backward)(gxh, x, **c)
            else:
                gx = getattr(xp, backward)(gxh.reshape(view), x.reshape(view), **c).reshape(x.shape)
        grads = [gx]
        if has_w:
            gw = None
            if need[1]:
                xh = getattr(xp, xhat_name)(x if view is None else x.reshape(view), **c)
                gw = g * (xh if view is None else xh.reshape(x.shape))
                gw = gw if sum_axes is None else gw.sum(axis=sum_axes)  # layer norm: the engine sums the batch
            grads.append(gw)
        if has_b:
            grads.append((g if sum_axes is None else g.sum(axis=sum_axes)) if need[-1] else None)
        return tuple(grads)

    params = tuple(p for p in (weight, bias) if p is not None)
    if not params:
        def norm_rule_1(xp, g, out, x):  # NOTE: the output is never read (PyTorch saves mean and rstd, not it)
            return norm_rule(xp, (True,), g, None, x)[0]

        return record(out, (input,), norm_rule_1, name)
    return record(out, (input,) + params, norm_rule, name)


def _check_param_dtype(op_name, p, dtype):
    if p is not None and _data(op_name, p).dtype != dtype:
        raise RuntimeError(f"{op_name}: mixed dtypes: expected the parameters to have the input's dtype {dtype}, "
                           f"got {p._data.dtype}")


@op(methods=())
def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05)

    Normalize over the last ``len(normalized_shape)`` dimensions (biased variance), then scale and shift.

    >>> import tapegrad as tg
    >>> tg.nn.functional.layer_norm(tg.tensor([[1.0, 3.0]]), (2,))
    tensor([[-1.0000,  1.0000]])
    """
    shape = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(int(s) for s in normalized_shape)
    x = _float_data("layer_norm", input)
    k = len(shape)
    if k == 0 or k > x.ndim or x.shape[x.ndim - k:] != shape:
        raise RuntimeError(f"layer_norm: normalized_shape={list(shape)} expects an input of shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of shape {tuple(x.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and _data("layer_norm", p).shape != shape:
            raise RuntimeError(f"layer_norm: {name} of shape {tuple(p._data.shape)} must have the normalized "
                               f"shape {shape}")
        _check_param_dtype("layer_norm", p, x.dtype)
    axes = tuple(range(x.ndim - k, x.ndim))
    xhat, rstd, mu, _ = _np_normalized(x, axes, eps)
    return _record_norm("layer", input, weight, bias, xhat, rstd, axes, eps, "NativeLayerNormBackward0", mu=mu)


def _verify_batch_size(op_name, size):
    """PyTorch's check: training statistics need more than one value per channel (or group)."""
    n = size[0] * math.prod(size[2:])
    if n == 1:
        raise ValueError(f"{op_name}: expected more than 1 value per channel when training, got input size "
                         f"{tuple(size)}")


@op(methods=())
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
    eps=1e-05)

    Normalize each channel (dimension 1) of an (N, C, ...) input. Training uses the batch statistics and
    updates ``running_mean``/``running_var`` in place
    (``running = (1 - momentum) * running + momentum * batch``, with the unbiased batch variance); evaluation
    uses the running statistics.

    >>> import tapegrad as tg
    >>> tg.nn.functional.batch_norm(tg.tensor([[1.0], [3.0]]), None, None, training=True)
    tensor([[-1.0000],
            [ 1.0000]])
    """
    x = _float_data("batch_norm", input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...) with at least 2 dimensions, "
                         f"got shape {tuple(x.shape)}")
    C = x.shape[1]
    for name, p in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if p is not None and _data("batch_norm", p).shape != (C,):
            raise RuntimeError(f"batch_norm: {name} of shape {tuple(p._data.shape)} must have one value per "
                               f"channel: ({C},) for input of shape {tuple(x.shape)}")
    axes = (0,) + tuple(range(2, x.ndim))
    cshape = (1, C) + (1,) * (x.ndim - 2)
    if training:
        _verify_batch_size("batch_norm", x.shape)
        n = math.prod(x.shape[i] for i in axes)
        xhat, rstd, mu, var = _np_normalized(x, axes, eps)
        if eps == 0:  # (only instance_norm gets here: PyTorch's batch_norm refuses eps=0 in training)
            xhat, rstd = _inv_std_zero(xhat, rstd, var)
        if n:
            if running_mean is not None:
                _running_update(running_mean, mu.reshape(C), momentum)
            if running_var is not None:
                _running_update(running_var, var.reshape(C) * (n / (n - 1)), momentum)
        return _record_norm("batch", input, weight, bias, xhat, rstd, axes, eps, "NativeBatchNormBackward0",
                            pshape=cshape, mu=mu)
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be given in evaluation mode "
                           "(training=False)")
    mu = running_mean._data.reshape(cshape)
    rstd = (1 / np.sqrt(running_var._data.reshape(cshape) + eps)).astype(x.dtype, copy=False)
    xhat = (x - mu) * rstd
    w = None if weight is None else weight._data.reshape(cshape)
    out = xhat if w is None else xhat * w
    # NOTE: PyTorch computes x * alpha + (bias - mean * alpha) with a bias of 0 when none is given: +0.0, not -0.0
    out = out + (bias._data.reshape(cshape) if bias is not None else out.dtype.type(0))
    if out.size:
        out = _fused_zero_signs("batch", out, x, mu, rstd, None if weight is None else weight._data,
                                None if bias is None else bias._data, cshape)
    # NOTE: one rule per set of parameters, each naming what it reads (the engine reads that from the code, as
    # PyTorch saves what a formula needs): the bias's value is never read, so writing it after the forward is fine

    def batch_norm_eval_rule(xp, need, g, out, x, w, b):
        return ((g * w.reshape(cshape)) * rstd if need[0] else None,
                (g * ((x - mu) * rstd)).sum(axis=axes) if need[1] else None, g.sum(axis=axes) if need[2] else None)

    def batch_norm_eval_weight_rule(xp, need, g, out, x, w):
        return ((g * w.reshape(cshape)) * rstd if need[0] else None,
                (g * ((x - mu) * rstd)).sum(axis=axes) if need[1] else None)

    def batch_norm_eval_bias_rule(xp, need, g, out, x, b):
        return g * rstd if need[0] else None, g.sum(axis=axes) if need[1] else None

    if weight is None and bias is None:
        return record(out, (input,), _scaled_by(rstd), "NativeBatchNormBackward0")
    if bias is None:
        return record(out, (input, weight), batch_norm_eval_weight_rule, "NativeBatchNormBackward0")
    if weight is None:
        return record(out, (input, bias), batch_norm_eval_bias_rule, "NativeBatchNormBackward0")
    return record(out, (input, weight, bias), batch_norm_eval_rule, "NativeBatchNormBackward0")


def _inv_std_zero(xhat, rstd, var):
    """PyTorch's InvStd (aten/src/ATen/native/Normalization.cpp): with eps = 0, a channel whose variance is 0 has
    invstd 0, not 1 / sqrt(0) = inf, so its output is the bias (and its gradients 0), not nan."""
    flat = var == 0
    if flat.any():
        with np.errstate(invalid="ignore"):
            rstd = np.where(flat, 0, rstd).astype(rstd.dtype, copy=False)
            xhat = np.where(flat, 0, xhat).astype(xhat.dtype, copy=False)
    return xhat, rstd


def _scaled_by(factor):
    def batch_norm_eval_rule(xp, g, out, x):
        return g * factor

    return batch_norm_eval_rule


def _running_update(stat, batch_value, momentum):
    """stat = (1 - momentum) * stat + momentum * batch_value, in place (a buffer, no gradient)."""
    s = stat._data
    s *= 1 - momentum
    s += momentum * batch_value
    increment_version(stat)


@op(methods=())
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """group_norm(input, num_groups, weight=None, bias=None, eps=1e-05)

    Normalize the channels of an (N, C, ...) input in ``num_groups`` groups, then scale and shift per channel.

    >>> import tapegrad as tg
    >>> tg.nn.functional.group_norm(tg.tensor([[1.0, 3.0]]), 1)
    tensor([[-1.0000,  1.0000]])
    """
    x = _data("group_norm", input)
    if x.ndim < 2:
        raise RuntimeError(f"group_norm: expected at least 2 dimensions for input tensor but received {x.ndim} "
                           f"(shape {tuple(x.shape)})")
    N, C = x.shape[:2]
    if num_groups > 0:
        _verify_batch_size("group_norm", [N * C // num_groups, num_groups] + list(x.shape[2:]))
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError(f"group_norm: expected an input of shape (N, C, ...) with C divisible by "
                           f"num_groups={num_groups}, got shape {tuple(x.shape)}")
    x = _float_data("group_norm", input)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and _data("group_norm", p).shape != (C,):
            raise RuntimeError(f"group_norm: expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {tuple(p._data.shape)} and input of "
                               f"shape {tuple(x.shape)}")
    view = (N, num_groups, x.size // (N * num_groups) if N * num_groups else 0)
    xhat, rstd, mu, _ = _np_normalized(x.reshape(view), (2,), eps, double_eps=True)
    return _record_norm("group", input, weight, bias, xhat, rstd, (2,), eps, "NativeGroupNormBackward0",
                        pshape=(1, C) + (1,) * (x.ndim - 2), view=view, mu=mu)


@op(methods=())
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """normalize(input, p=2.0, dim=1, eps=1e-12) -> input / max(||input||_p over dim, eps).

    Composed as PyTorch's: ``input / input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.normalize(tg.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    if out is not None:
        raise NotImplementedError("normalize: the out= argument is not supported; use the returned tensor")
    x = _data("normalize", input)
    if x.dtype.kind != "f":
        raise RuntimeError(f"normalize: the p-norm expects a floating-point input, got dtype {x.dtype}")
    check_dim("normalize", dim, x.ndim)
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom


@op(methods=())
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """cosine_similarity(x1, x2, dim=1, eps=1e-8) -> sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim).

    ``x1`` and ``x2`` broadcast together. Composed as PyTorch's: each input is divided by its norm first, and the
    eps clamp is applied to the norms' values only (it does not stop their gradients).

    >>> import tapegrad as tg
    >>> tg.nn.functional.cosine_similarity(tg.tensor([[1.0, 0.0]]), tg.tensor([[1.0, 1.0]]))
    tensor([0.7071])
    """
    a, b = _data("cosine_similarity", x1), _data("cosine_similarity", x2)
    common = dtypes.promote(a, b)
    if common.kind != "f":
        raise RuntimeError(f"cosine_similarity: expected common dtype to be floating point, yet common dtype is "
                           f"{common} (inputs {a.dtype} and {b.dtype})")
    if a.dtype.kind != "f":
        x1 = cast(x1, common)
    if b.dtype.kind != "f":
        x2 = cast(x2, common)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"cosine_similarity: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast "
                           "together") from None
    d = check_dim("cosine_similarity", dim, len(shape))
    if a.shape != shape:
        x1 = x1.expand(shape)
    if b.shape != shape:
        x2 = x2.expand(shape)
    n1 = x1.norm(2, d, keepdim=True).clone()
    n2 = x2.norm(2, d, keepdim=True).clone()
    with no_grad():
        n1.clamp_min_(eps)
        n2.clamp_min_(eps)
    return ((x1 / n1) * (x2 / n2)).sum(d)


# ---------------------------------------------------------------------- losses: helpers
def _reduction(op_name, reduction, size_average=None, reduce=None, allowed=("mean", "sum", "none")):
    """The reduction string, also from the deprecated ``size_average``/``reduce`` flags (as PyTorch)."""
    if size_average is not None or reduce is not None:
        warnings.warn(f"{op_name}: size_average and reduce args will be deprecated, please use reduction='...' "
                      "instead.", UserWarning, stacklevel=3)
        if reduce is False:
            return "none"
        return "sum" if size_average is False else "mean"
    if reduction not in allowed:
        raise ValueError(f"{op_name}: reduction must be one of {', '.join(map(repr, allowed))}, got "
                         f"{reduction!r}")
    return reduction


def _reduce(loss, reduction, den=None):
    """Reduce an elementwise loss array; ``den`` divides for 'mean' (default: the number of elements). The mean
    of nothing is nan and the sum of nothing 0, as in PyTorch."""
    if reduction == "none":
        return loss
    total = _sum(loss, None)
    if reduction == "mean":
        n = loss.size if den is None else den
        if n:
            total = total / n
        else:
            with np.errstate(invalid="ignore", divide="ignore"):  # the mean of nothing is nan, silently
                total = total / n
    return np.asarray(total, dtype=loss.dtype)


def _spread(g, reduction, den):
    """The upstream gradient of a reduced loss, as a factor for each element's local derivative (a mean over
    nothing has no element to spread to)."""
    return g / den if reduction == "mean" and den else g


def _size_warning(op_name, xs, ts):
    warnings.warn(f"{op_name}: using a target size {tuple(ts)} that is different to the input size {tuple(xs)}. "
                  "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                  "same size.", UserWarning, stacklevel=4)


def _pair(op_name, input, target, broadcast=True):
    """``input`` and ``target`` as tensors of their floating result dtype (PyTorch's float-only loss kernels
    refuse integer and bool operands), and the shape they broadcast to; warns (as PyTorch) when it differs."""
    a, b = _data(op_name, input), _data(op_name, target)
    dt = dtypes.promote(a, b)
    if dt.kind != "f":
        raise _not_implemented(op_name, dt)
    x, t = operands(op_name, input, target)
    xs, ts = a.shape, b.shape
    if xs != ts:
        if not broadcast:
            raise ValueError(f"{op_name}: target of shape {tuple(ts)} must have the same shape as the input "
                             f"{tuple(xs)}")
        try:
            shape = np.broadcast_shapes(xs, ts)
        except ValueError:
            raise ValueError(f"{op_name}: target of shape {tuple(ts)} and input of shape {tuple(xs)} cannot be "
                             "broadcast together") from None
        _size_warning(op_name, xs, ts)
        return x, t, shape
    return x, t, xs


def _weighted(op_name, loss, weight, reduction, by_weight):
    """A 'none' loss times ``weight``, reduced; 'mean' divides by weight.sum() if ``by_weight``."""
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(f"{op_name}: weight of shape {tuple(weight.shape)} must have the same shape as the loss "
                         f"{tuple(loss.shape)}")
    out = loss * weight
    if reduction == "none":
        return out
    if reduction == "sum":
        return out.sum()
    return out.sum() / weight.sum() if by_weight else out.mean()


def _record_loss(loss, reduction, x, t, local, name):
    """A pointwise loss of ``x - t`` as one node; ``local(xp, x, t)`` is its derivative with respect to x."""
    n = loss.size

    def loss_rule(xp, need, g, out, x, t):
        gx = _spread(g, reduction, n) * local(xp, x, t)
        return gx if need[0] else None, -gx if need[1] else None

    return record(_reduce(loss, reduction), (x, t), loss_rule, name)


# ---------------------------------------------------------------------- regression losses
@op(methods=())
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """mse_loss(input, target, reduction='mean', weight=None) -> mean((input - target) ** 2).

    With ``weight`` (the input's shape), 'mean' is sum(weight * err) / sum(weight), as PyTorch.

    >>> import tapegrad as tg
    >>> tg.nn.functional.mse_loss(tg.tensor([1.0, 2.0]), tg.tensor([0.0, 0.0]))
    tensor(2.5000)
    """
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    x, t, _ = _pair("mse_loss", input, target)
    if weight is not None:
        return _weighted("mse_loss", mse_loss(x, t, reduction="none"), weight, reduction, True)
    d = x._data - t._data
    # PyTorch's mse_backward kernel (aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp): norm * (x - t) * grad with
    # norm = 2 / numel (mean) or 2 in the dtype, so 2 (x - t) past the dtype's range is scaled before it overflows
    norm = d.dtype.type(2.0 / d.size if reduction == "mean" and d.size else 2.0)

    def mse_rule(xp, need, g, out, x, t):
        gx = (x - t) * norm * g
        return gx if need[0] else None, -gx if need[1] else None

    return record(_reduce(d * d, reduction), (x, t), mse_rule, "MseLossBackward0")


@op(methods=())
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """l1_loss(input, target, reduction='mean', weight=None) -> mean(|input - target|).

    Composed as PyTorch's (``(input - target).abs()``, then ``mean`` or ``sum``): integer inputs give an integer
    loss with 'none' and 'sum'; the gradient at input == target is 0.

    >>> import tapegrad as tg
    >>> tg.nn.functional.l1_loss(tg.tensor([1.0, -2.0]), tg.tensor([0.0, 0.0]))
    tensor(1.5000)
    """
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    xs, ts = _data("l1_loss", input).shape, _data("l1_loss", target).shape
    if xs != ts:
        _size_warning("l1_loss", xs, ts)
    loss = (input - target).abs()
    if weight is not None:
        return _weighted("l1_loss", loss, weight, reduction, True)
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


@op(methods=())
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """smooth_l1_loss(input, target, reduction='mean', beta=1.0)

    0.5 * d^2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target); beta=0 is l1_loss.

    >>> import tapegrad as tg
    >>> tg.nn.functional.smooth_l1_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]), reduction='sum')
    tensor(2.6250)
    """
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    x, t, _ = _pair("smooth_l1_loss", input, target)
    d = x._data - t._data
    ad = np.abs(d)
    loss = np.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta).astype(d.dtype, copy=False)

    def smooth_l1_local(xp, x, t):
        return xp.clip((x - t) / beta, -1, 1)  # d / beta inside, sign(d) outside; NaN stays NaN

    return _record_loss(loss, reduction, x, t, smooth_l1_local, "SmoothL1LossBackward0")


@op(methods=())
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """huber_loss(input, target, reduction='mean', delta=1.0, weight=None)

    0.5 * d^2 where |d| < delta, else delta * (|d| - 0.5 * delta) (d = input - target). The loss has the
    input's dtype, as PyTorch's.

    >>> import tapegrad as tg
    >>> tg.nn.functional.huber_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]), reduction='sum')
    tensor(2.6250)
    """
    reduction = _reduction("huber_loss", reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    x, t, _ = _pair("huber_loss", input, target)
    in_dtype = _data("huber_loss", input).dtype
    if in_dtype.kind != "f":
        raise _not_implemented("huber_loss", in_dtype)
    x, t = cast(x, in_dtype), cast(t, in_dtype)
    if weight is not None:
        loss = huber_loss(x, t, reduction="none", delta=delta)
        return _weighted("huber_loss", loss, weight, reduction, False)
    d = x._data - t._data
    ad = np.abs(d)
    loss = np.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta)).astype(d.dtype, copy=False)

    def huber_local(xp, x, t):
        return xp.clip(x - t, -delta, delta)

    return _record_loss(loss, reduction, x, t, huber_local, "HuberLossBackward0")


# ---------------------------------------------------------------------- binary classification losses
_BCE_EPS = 1e-12


@op(methods=())
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """binary_cross_entropy(input, target, weight=None, reduction='mean')

    -weight * (target * log(input) + (1 - target) * log(1 - input)) for probabilities ``input`` and ``target``
    in [0, 1] of one floating dtype; each log is clamped to >= -100 (as PyTorch), so saturated predictions give
    a finite loss.

    >>> import tapegrad as tg
    >>> tg.nn.functional.binary_cross_entropy(tg.tensor([0.5]), tg.tensor([1.0]))
    tensor(0.6931)
    """
    op_name = "binary_cross_entropy"
    reduction = _reduction(op_name, reduction, size_average, reduce)
    a, b = _data(op_name, input), _data(op_name, target)
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op_name}: found target dtype {b.dtype} but expected {a.dtype} (the input's)")
    x, t, _ = _pair(op_name, input, target, broadcast=False)
    if a.size and not (a.min() >= 0 and a.max() <= 1):
        raise RuntimeError(f"{op_name}: all elements of input should be between 0 and 1, got values in "
                           f"[{a.min()}, {a.max()}]")
    if b.size and not (b.min() >= 0 and b.max() <= 1):
        raise RuntimeError(f"{op_name}: all elements of target should be between 0 and 1, got values in "
                           f"[{b.min()}, {b.max()}]")
    w = None
    if weight is not None:
        try:
            w = np.broadcast_to(_data(op_name, weight), a.shape)
        except ValueError:
            raise RuntimeError(f"{op_name}: weight of shape {tuple(weight.shape)} does not broadcast to the "
                               f"input's shape {tuple(a.shape)}") from None
    # NOTE: clamping the logs at -100 (as PyTorch) keeps the loss finite when a probability is exactly 0 or 1.
    with np.errstate(divide="ignore"):
        loss = -(b * np.maximum(np.log(a), -100) + (1 - b) * np.maximum(np.log1p(-a), -100))
    if w is not None:
        loss = loss * w
    n = loss.size

    def binary_cross_entropy_rule(xp, need, g, out, x, t):
        c = _spread(g, reduction, n)
        if w is not None:
            c = c * w
        gx = gt = None
        if need[0]:
            # NOTE: x (1 - x) is clamped to >= 1e-12 (as PyTorch), so the gradient stays finite at 0 and 1.
            gx = c * (x - t) / xp.maximum(x * (1 - x), _BCE_EPS)
        if need[1]:
            with np.errstate(divide="ignore"):
                gt = c * -xp.log(x / (1 - x))  # -logit(x), not clamped: infinite at 0 and 1, as in PyTorch
        return gx, gt

    return record(_reduce(loss, reduction), (x, t), binary_cross_entropy_rule, "BinaryCrossEntropyBackward0")


@op(methods=())
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """binary_cross_entropy_with_logits(input, target, weight=None, reduction='mean', pos_weight=None)

    binary_cross_entropy(sigmoid(input), target) in one stable op:
    (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus(-input), times ``weight``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.binary_cross_entropy_with_logits(tg.tensor([0.0]), tg.tensor([1.0]))
    tensor(0.6931)
    """
    op_name = "binary_cross_entropy_with_logits"
    reduction = _reduction(op_name, reduction, size_average, reduce)
    if _data(op_name, target).dtype.kind != "f":
        raise RuntimeError(f"{op_name}: the target must be a floating-point tensor (the loss can't be cast to its "
                           f"dtype {target._data.dtype})")
    x, t, _ = _pair(op_name, input, target, broadcast=False)
    a, b = x._data, t._data
    w = None if weight is None else _data(op_name, weight)
    pw = None if pos_weight is None else _data(op_name, pos_weight)
    with np.errstate(over="ignore", invalid="ignore"):  # a product out of range is inf, as PyTorch's (no warning)
        sp = np.maximum(-a, 0) + np.log1p(np.exp(-np.abs(a)))  # NOTE: softplus(-x) = -logsigmoid(x), overflow-free
        loss = (1 - b) * a + (sp if pw is None else (1 + (pw - 1) * b) * sp)
    if w is not None:
        loss = loss * w
    n = loss.size

    def binary_cross_entropy_with_logits_rule(xp, need, g, out, x, t):
        c = _spread(g, reduction, n)
        if w is not None:
            c = c * w
        gx = gt = None
        if need[0]:
            if pw is None:
                gx = c * (xp.log_sigmoid_backward(xp.ones_like(x), -x) - t)  # sigmoid(x) - t
            else:
                q = pw * t
                gx = c * ((q + 1 - t) * xp.log_sigmoid_backward(xp.ones_like(x), -x) - q)
        if need[1]:
            if pw is None:
                gt = c * -x
            else:  # log_sigmoid(-x) - pw log_sigmoid(x), as PyTorch's binary_cross_entropy_with_logits_target_backward
                # (FunctionsManual.cpp): at x = -inf it is pw * inf, where -x + (pw - 1) softplus(-x) is inf - inf
                tail = xp.log1p(xp.exp(-xp.abs(x)))
                gt = c * ((-xp.maximum(x, 0) - tail) + pw * (xp.maximum(-x, 0) + tail))
        return gx, gt

    return record(_reduce(loss, reduction), (x, t), binary_cross_entropy_with_logits_rule,
                  "BinaryCrossEntropyWithLogitsBackward0")


@op(methods=(), xp_name=False)
def _xlogy(input: Tensor, other: Tensor) -> Tensor:
    """xlogy(input, other) -> input * log(other), 0 where input is 0 (nan where other is nan), as PyTorch's."""
    x, y = input._data, other._data
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.isnan(y), np.nan, np.where(x == 0, 0, x * np.log(y))).astype(
            np.result_type(x, y), copy=False)
    return record(out, (input, other), _xlogy_rule, "XlogyBackward0")


@op(methods=())
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """kl_div(input, target, reduction='mean', log_target=False) -> target * (log(target) - input).

    ``input`` holds log-probabilities; ``target`` probabilities (log-probabilities if ``log_target``).
    'batchmean' divides the sum by the batch size (the true KL divergence); 'mean' divides by the number of
    elements (PyTorch warns about it). Composed as PyTorch's: ``xlogy(target, target) - target * input`` (or
    ``exp(target) * (target - input)``), then reduced.

    >>> import tapegrad as tg
    >>> tg.nn.functional.kl_div(tg.tensor([[0.0, 0.0]]), tg.tensor([[0.5, 0.5]]), reduction='batchmean')
    tensor(-0.6931)
    """
    if size_average is None and reduce is None and reduction == "mean":
        warnings.warn("kl_div: reduction 'mean' divides the total loss by both the batch size and the "
                      "support size. 'batchmean' divides only by the batch size, and aligns with the KL div "
                      "math definition.", UserWarning, stacklevel=2)
    reduction = _reduction("kl_div", reduction, size_average, reduce, ("mean", "batchmean", "sum", "none"))
    a, b = _data("kl_div", input), _data("kl_div", target)
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        raise RuntimeError(f"kl_div: integral inputs not supported (input {a.dtype}, target {b.dtype})")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"kl_div: target of shape {tuple(b.shape)} and input of shape {tuple(a.shape)} "
                         "cannot be broadcast together") from None
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogy(target, target) - target * input
    if reduction == "none":
        return loss
    if reduction == "batchmean":
        return loss.sum() / a.shape[0] if a.ndim else loss.sum()
    return loss.sum() if reduction == "sum" else loss.mean()


# ---------------------------------------------------------------------- classification losses
def _class_layout(op_name, x, t, ignore_index):
    """Check a class-index target against an (N, C, d1, ...) or (C,) input.

    Returns the class axis, the number of classes, the target with ignored entries replaced by 0, and the
    mask of kept entries (None when nothing is ignored).
    """
    if x.ndim == 0:
        raise ValueError(f"{op_name}: input must have at least 1 dimension (C,) or (N, C, ...), got a 0-d tensor")
    if t.dtype != np.int64 and t.dtype != np.uint8:
        raise RuntimeError(f"{op_name}: expected an integer class-index target, got dtype {t.dtype} (targets of "
                           "dtype int64 (Long) or uint8 (Byte), as PyTorch" + ("; class-probability targets have "
                                                                               "the input's shape)"
                                                                               if t.dtype.kind == "f" else ")"))
    cdim = 0 if x.ndim == 1 else 1
    want = x.shape[:cdim] + x.shape[cdim + 1:]
    if t.shape != want:
        raise ValueError(f"{op_name}: target of shape {tuple(t.shape)} doesn't match input of shape "
                         f"{tuple(x.shape)}: expected a target of shape {tuple(want)}")
    C = x.shape[cdim]
    keep = None
    if t.size:
        # NOTE: one reduction checks both bounds: viewed as uint64, a negative int64 target is beyond any C
        if int(_max(t.view(_UINT64) if t.dtype.itemsize == 8 else t, None)) >= C or 0 <= ignore_index < C:
            keep = t != ignore_index
            bad = keep & ((t < 0) | (t >= C))
            if bad.any():
                raise IndexError(f"{op_name}: target class {t[bad][0]} is out of bounds for input of shape "
                                 f"{tuple(x.shape)} with {C} classes (expected 0 <= target < {C}, or "
                                 f"ignore_index={ignore_index})")
            t = np.where(keep, t, 0)
    return cdim, C, t, keep


def _class_weight(op_name, weight, C, dtype):
    if weight is None:
        return None
    w = _data(op_name, weight)
    if w.shape != (C,):
        raise RuntimeError(f"{op_name}: weight of shape {tuple(w.shape)} must have one value per class: ({C},)")
    if w.dtype != dtype:
        raise RuntimeError(f"{op_name}: expected the weight's dtype to be the input's {dtype}, but found {w.dtype}")
    return w


def _class_index(t):
    """The index picking each target's class from an (N, C, d1, ...) or (C,) array: a[index] has t's shape.

    Plain integer-array indexing: much cheaper than take_along_axis/put_along_axis for small batches.
    """
    if t.ndim == 0:
        return (t,)
    if t.ndim == 1:
        return (np.arange(t.shape[0]), t)
    grids = np.ix_(*[np.arange(s) for s in t.shape])
    return (grids[0], t) + grids[1:]


def _with_class_axis(a, cdim):
    """``a`` (the target's shape) with a size-1 class axis inserted, to broadcast against the input."""
    return a.reshape(a.shape[:cdim] + (1,) + a.shape[cdim:])


def _class_spread(g, reduction, cdim):
    """The upstream gradient of a classification loss, broadcastable against the (N, C, ...) input (a mean's
    1/den is in the per-sample weights: see ``_sample_weights``)."""
    return _with_class_axis(g, cdim) if reduction == "none" else g


def _kept_weights(wi, keep):
    """Each sample's class weight, exactly 0 where its target is ignored: PyTorch's kernels skip an ignored
    sample, so an infinite or NaN weight of the ignored class adds nothing to the loss or the total weight (not
    inf * 0 = NaN)."""
    return np.where(keep, wi, 0).astype(wi.dtype, copy=False)


def _sample_weights(wi, keep, reduction, den):
    """Each sample's factor in the gradient: its weight, over ``den`` for a mean; exactly 0 for an ignored sample
    even when ``den`` is 0 (all ignored: PyTorch's gradient is 0, while the mean itself is nan)."""
    if reduction != "mean":
        return wi
    with np.errstate(divide="ignore", invalid="ignore"):
        f = wi / np.asarray(den, dtype=wi.dtype)
    return f if keep is None else np.where(keep, f, 0).astype(wi.dtype, copy=False)


def _nll_name(ndim):
    return "NllLossBackward0" if ndim <= 2 else "NllLoss2DBackward0"


def _viewed_as_2d(loss, reduction, target_shape):
    """PyTorch computes an (N, C, d1) or (N, C, d1, d2, d3, ...) nll loss as a 2-D one on (N, C, 1, d) and, with
    reduction='none', views the result back (``ViewBackward0``)."""
    if reduction != "none" or len(target_shape) in (0, 1, 3):
        return loss
    return loss.reshape(target_shape)


@op(methods=())
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean') -> -weight[t] * input[t].

    ``input`` holds log-probabilities, (N, C), (C,) or (N, C, d1, ...); ``target`` int64 (or uint8) class
    indices, (N,), () or (N, d1, ...). 'mean' divides by the total weight of the kept targets.

    >>> import tapegrad as tg
    >>> tg.nn.functional.nll_loss(tg.tensor([[-1.0, -2.0]]), tg.tensor([1]))
    tensor(2.)
    """
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    a = _data("nll_loss", input)
    t0 = _data("nll_loss", target)
    if a.dtype.kind != "f" and a.ndim:
        raise _not_implemented("nll_loss", a.dtype)
    cdim, C, t, keep = _class_layout("nll_loss", a, t0, ignore_index)
    w = _class_weight("nll_loss", weight, C, a.dtype)
    index = _class_index(t)
    wi = np.ones(t.shape, dtype=a.dtype) if w is None else w[t]
    if keep is not None:
        wi = _kept_weights(wi, keep)
    with np.errstate(invalid="ignore"):  # inf * 0 at an ignored entry, replaced just below
        loss = -a[index] * wi
    if keep is not None:
        loss = np.where(keep, loss, 0).astype(a.dtype)  # NOTE: ignored entries add nothing, even non-finite
    if a.ndim == 1:
        loss = loss + 0  # NOTE: PyTorch's 1-D (no batch) nll_loss sums into 0 for every reduction: -0.0 is +0.0
    den = float(wi.sum())
    shape = a.shape
    f = _sample_weights(wi, keep, reduction, den)

    def nll_loss_rule(xp, g, out, x):
        coef = np.zeros(shape, dtype=f.dtype)
        coef[index] = 0 - f  # NOTE: +0.0 where f is 0 (an ignored sample), as PyTorch
        with np.errstate(invalid="ignore"):
            spread = _class_spread(g.reshape(t.shape) if reduction == "none" else g, reduction, cdim) * coef
        # NOTE: PyTorch's backward writes -w g only at the kept targets (a scatter into zeros): an infinite g
        # leaves 0 at the other classes and at ignored samples, not inf * 0 = NaN
        picked = np.zeros(shape, dtype=bool)
        picked[index] = True if keep is None else keep
        return xp.where(picked, spread, 0)

    out = record(_reduce(loss, reduction, den), (input,), nll_loss_rule, _nll_name(a.ndim))
    return _viewed_as_2d(out, reduction, t0.shape) if a.ndim > 2 else out


@backward_op(grad=lambda xp, need, gg, out, c, x, **k: _cross_entropy_backward_grad(xp, need, gg, c, x, **k))
def cross_entropy_backward(c, x, *, cdim, shift, index=None, wi=None, q=None, logp=None):
    """The input's gradient of the fused cross_entropy (PyTorch's nll_loss_backward and
    _log_softmax_backward_data in one): c * (softmax(x) * sum(q) - q), for the target distribution q given by
    the picked ``index`` (weights ``wi``) or dense (``q``); ``c`` is the upstream gradient spread over the
    samples, ``logp`` the forward's log-softmax."""
    p = np.exp(_np_log_softmax(x, cdim) if logp is None else logp)
    if q is None:
        if wi is not None:
            p *= _with_class_axis(wi, cdim)
        p[index] -= 1 if wi is None else wi
    else:
        p *= q.sum(axis=cdim, keepdims=True)
        p -= q
    p *= c
    return p


def _cross_entropy_backward_grad(xp, need, gg, c, x, *, cdim, shift, index=None, wi=None, q=None, logp=None):
    if q is None:
        q = np.zeros(x.shape, dtype=shift.dtype)
        q[index] = 1 if wi is None else wi
    qs = q.sum(axis=cdim, keepdims=True)
    e = xp.exp(x - shift)  # NOTE: shift (the forward's max) keeps exp finite; softmax does not depend on it
    s = e / e.sum(axis=cdim, keepdims=True)
    gc = gg * (s * qs - q) if need[0] else None
    gx = None
    if need[1]:
        v = gg * c * qs
        gx = s * (v - (v * s).sum(axis=cdim, keepdims=True))
    return gc, gx


def _cross_entropy_composite_backward(g, *, reduction, den, cdim, logp, index, keep, w, t, eps=0.0, wc=None):
    """cross_entropy's input gradient as PyTorch's composite computes it, for an upstream gradient ``g`` that is
    not finite (an array or a numpy scalar: first order): nll_loss's backward writes ``g`` times its factor at the
    kept targets only (0 at the other classes and at ignored samples, where the fused ``c * (softmax * sum(q) - q)``
    has inf * 0 = nan), the smoothing term's (``masked_fill_`` of the ignored samples) is 0 at ignored samples, then
    ``_log_softmax_backward_data``: ``grad - exp(logp) * grad.sum(class)``. ``w``: the class weights (None: 1) of
    the targets ``t``, ``wc`` those of the smoothing term, broadcast against the input."""
    wt = None if w is None else w[t]
    shape = logp[index].shape
    with np.errstate(all="ignore"):
        gs = np.broadcast_to(g.reshape(shape) if reduction == "none" else g, shape)
        if reduction == "mean":
            gs = gs / np.asarray(den, dtype=logp.dtype)
        nll = (gs * (1 - eps) if eps else gs) * (-1 if wt is None else -wt)
        grad = np.zeros(logp.shape, dtype=logp.dtype)
        grad[index] = nll if keep is None else np.where(keep, nll, 0)
        if eps:
            smooth = gs * (eps / logp.shape[cdim])
            if keep is not None:
                smooth = np.where(keep, smooth, 0)
            smooth = _with_class_axis(smooth, cdim)
            grad += -smooth if wc is None else -smooth * wc
        return (grad - np.exp(logp) * grad.sum(axis=cdim, keepdims=True)).astype(logp.dtype, copy=False)


def _log_softmax_and_shift(a, cdim):
    """The log-softmax over the class axis and the max it subtracted (zeros for an empty input)."""
    if a.size == 0:
        return a.copy(), np.zeros(a.shape[:cdim] + (1,) + a.shape[cdim + 1:], dtype=a.dtype)
    shift = _max(a, axis=cdim, keepdims=True)
    logp = a - shift
    logp -= np.log(_sum(np.exp(logp), axis=cdim, keepdims=True))
    return logp, shift


@op(methods=())
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)

    log_softmax and the negative log-likelihood as one fused, stable op: the input gradient is
    softmax(input) - target (scaled). ``input`` holds logits, (N, C), (C,) or (N, C, d1, ...); ``target`` is
    int64 (or uint8) class indices of shape (N,), () or (N, d1, ...), or class probabilities of the input's
    shape (a floating-point tensor). With class indices, 'mean' divides by the total weight of the kept targets
    (as PyTorch); with probabilities, by the number of samples N * d1 * ...

    >>> import tapegrad as tg
    >>> tg.nn.functional.cross_entropy(tg.tensor([[0.0, 0.0]]), tg.tensor([1]))
    tensor(0.6931)
    """
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    try:
        a, t0 = input._data, target._data
    except AttributeError:
        raise expected_tensor("cross_entropy", target if isinstance(input, Tensor) else input) from None
    if a.shape == t0.shape:  # PyTorch tells class probabilities from class indices by the shape
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing)
    if a.dtype.kind != "f":
        raise _not_implemented("cross_entropy", a.dtype)
    if a.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (C,) or (N, C, ...), got a 0-d "
                         "tensor")
    cdim, C, t, keep = _class_layout("cross_entropy", a, t0, ignore_index)
    w = _class_weight("cross_entropy", weight, C, a.dtype)
    logp, shift = _log_softmax_and_shift(a, cdim)
    index = _class_index(t)
    wi = None if w is None else w[t]
    if keep is not None:
        wi = keep.astype(a.dtype) if wi is None else _kept_weights(wi, keep)
    picked = -logp[index]
    if keep is not None:
        picked = np.where(keep, picked, 0).astype(a.dtype)  # NOTE: ignored entries add nothing, even non-finite
    den = float(t.size) if wi is None else float(wi.sum())
    if label_smoothing == 0:
        # log_softmax then nll_loss (PyTorch's NllLossBackward0 node), fused. The gradient is softmax minus the
        # one-hot target, times the kept mask and weights.
        loss = picked if wi is None else picked * wi
        if a.ndim == 1:
            loss = loss + 0  # NOTE: PyTorch's 1-D (no batch) nll_loss sums into 0 for every reduction: -0.0 is +0.0
        spread_shape = t.shape
        scale = 1 / den if reduction == "mean" and wi is None and den else 1
        f = None if wi is None else _sample_weights(wi, keep, reduction, den)
        c = {"cdim": cdim, "shift": shift, "index": index, "wi": f, "logp": logp}

        def cross_entropy_rule(xp, g, out, x):
            if not isinstance(g, Tensor) and not _all(np.isfinite(g), None):  # (first order: an array or a scalar)
                return _cross_entropy_composite_backward(g, reduction=reduction, den=den, cdim=cdim, logp=logp,
                                                         index=index, keep=keep, w=w, t=t)
            g = g.reshape(spread_shape) if reduction == "none" else g * scale
            gx = xp.cross_entropy_backward(_class_spread(g, reduction, cdim), x, **c)
            # NOTE: an ignored sample's gradient is 0 even for an infinite g (PyTorch's nll_loss backward writes
            # nothing there), not inf * 0 = NaN; _log_softmax_backward_data then makes it 0 - exp(logp) * 0: NaN
            # where the log-softmax is (a row of +inf logits)
            return gx if keep is None else xp.where(_with_class_axis(keep, cdim), gx, np.exp(c["logp"]) * 0)

        out = record(_reduce(loss, reduction, den), (input,), cross_entropy_rule, _nll_name(a.ndim))
        return _viewed_as_2d(out, reduction, t0.shape) if a.ndim > 2 else out
    # Label smoothing: (1 - eps) * nll + eps / C * smooth, smooth = -sum(weight * logp) over the classes (0 for
    # ignored entries), reduced alike, as PyTorch (AddBackward0). With the effective target distribution q,
    # the gradient is softmax * sum(q) - q.
    eps = label_smoothing
    wc = np.ones(C, dtype=a.dtype) if w is None else w
    wcb = wc.reshape((C,) + (1,) * (a.ndim - cdim - 1))
    smooth = np.asarray(-(logp * wcb).sum(axis=cdim))  # (an array for a 0-d target too: written below)
    wt = wc[t]
    if keep is not None:
        smooth[~keep] = 0
        wt = _kept_weights(wt, keep)
    nll = picked * wt
    if a.ndim == 1:
        nll = nll + 0  # NOTE: PyTorch's 1-D (no batch) nll_loss sums into 0: its -0.0 is +0.0 (LossNLL.cpp)
    loss = (1 - eps) * nll + (eps / C) * smooth
    q = np.broadcast_to((eps / C) * wcb, a.shape)
    q = q * _with_class_axis(keep, cdim) if keep is not None else q.copy()
    q[index] += (1 - eps) * wt
    if reduction == "mean":  # the mean's 1/den in q (0 where nothing is kept: PyTorch's gradient is 0 there;
        # kept targets whose weights sum to 0 divide by 0, as PyTorch's)
        if den or (wt.size and (keep is None or keep.any())):
            with np.errstate(invalid="ignore", divide="ignore"):
                q = q / den
        else:
            q = np.zeros_like(q)
    c = dict(cdim=cdim, shift=shift, q=q, logp=logp)
    composite = dict(reduction=reduction, den=den, cdim=cdim, logp=logp, index=index, keep=keep, w=w, t=t, eps=eps,
                     wc=None if w is None else wcb)

    def label_smoothing_rule(xp, g, out, x):
        if not isinstance(g, Tensor) and not _all(np.isfinite(g), None):  # (first order: an array or a scalar)
            return _cross_entropy_composite_backward(g, **composite)
        return xp.cross_entropy_backward(_class_spread(g, reduction, cdim), x, **c)

    if reduction == "none":
        value = loss.astype(a.dtype, copy=False)
    else:
        # NOTE: as PyTorch, the nll and smoothing terms are reduced each on its own, then added: a zero total
        # weight makes the mean's nll 0/0 = nan (not a sum divided once, which is +-inf)
        nll = _reduce((picked * wt).astype(a.dtype, copy=False), reduction, den)
        spread = _reduce(smooth.astype(a.dtype, copy=False), reduction, den)
        with np.errstate(invalid="ignore", over="ignore"):
            value = np.asarray((1 - eps) * nll + (eps / C) * spread, dtype=a.dtype)
    return record(value, (input,), label_smoothing_rule, "AddBackward0")


def _cross_entropy_probs(input, target, weight, ignore_index, reduction, eps):
    """cross_entropy with class probabilities: -sum(q * log_softmax(input)) over the class axis,
    q = target * (1 - eps) + eps / C (times the class weights)."""
    a, b = input._data, target._data
    if b.dtype.kind != "f":
        raise RuntimeError(f"cross_entropy: expected a floating-point target for class probabilities, got dtype "
                           f"{b.dtype} (class indices have the input's shape without its class dimension)")
    if a.dtype.kind != "f":
        raise _not_implemented("cross_entropy", a.dtype)
    if ignore_index >= 0:  # PyTorch refuses only an index that could name a class
        raise RuntimeError("cross_entropy: ignore_index is not supported for floating point (class-probability) "
                           "targets")
    if a.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (C,) or (N, C, ...), got a 0-d "
                         "tensor")
    if b.dtype != a.dtype:
        target = cast(target, a.dtype) if dtypes.promote(a, b) == a.dtype else target
        if target._data.dtype != a.dtype:
            input = cast(input, b.dtype)
            a = input._data
    cdim = 0 if a.ndim == 1 else 1
    C = a.shape[cdim]
    w = _class_weight("cross_entropy", weight, C, a.dtype)
    wc = None if w is None else w.reshape((C,) + (1,) * (a.ndim - cdim - 1))
    logp, shift = _log_softmax_and_shift(a, cdim)
    t = target._data
    q = t * (1 - eps) + eps / C if eps else t
    if wc is not None:
        q = q * wc
    n = a.size // C if C else math.prod(a.shape[:cdim] + a.shape[cdim + 1:])
    if reduction == "none":
        value = -(q * logp).sum(axis=cdim)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = -(q * logp).sum()
            if reduction == "mean":
                value = value / n if a.size else value * np.nan  # PyTorch: the mean over no element is nan
        value = np.asarray(value, dtype=a.dtype)
    den = n if reduction == "mean" and n else 1

    def gradients(xp, need, g, x, qq):
        c = _class_spread(g, reduction, cdim) / den
        e = xp.exp(x - shift)  # NOTE: softmax and log_softmax with the forward's max as a constant shift
        total = e.sum(axis=cdim, keepdims=True)
        gx = c * (e / total * qq.sum(axis=cdim, keepdims=True) - qq) if need[0] else None
        gt = None
        if need[1]:
            gt = -c * (x - shift - xp.log(total)) * (1 - eps)
            if wc is not None:
                gt = gt * wc
        return gx, gt

    def cross_entropy_rule(xp, need, g, out, x, t):
        qq = t * (1 - eps) + eps / C if eps else t
        return gradients(xp, need, g, x, qq if wc is None else qq * wc)

    def smoothed_rule(xp, need, g, out, x, t):
        # NOTE: as PyTorch's, which multiplies by the smoothed target, a new tensor: the target itself is not read
        # in backward (a write into it before backward is allowed)
        return gradients(xp, need, g, x, q)

    rule = smoothed_rule if eps and not target._requires_grad else cross_entropy_rule
    name = "DivBackward1" if reduction == "mean" and a.size else "NegBackward0"
    return record(value, (input, target), rule, name)


# ---------------------------------------------------------------------- the torch.* forms
# ``torch.softmax`` & co. are the same ops with the signatures of PyTorch's top-level functions (``dim`` and
# ``train`` required, no ``inplace=``); ``tapegrad/__init__.py`` exports these under the torch names.
def torch_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """softmax(input, dim, dtype=None) -> Tensor: ``tapegrad.nn.functional.softmax`` with ``dim`` required."""
    return softmax(input, dim, dtype=dtype)


def torch_log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """log_softmax(input, dim, dtype=None) -> Tensor: ``nn.functional.log_softmax`` with ``dim`` required."""
    return log_softmax(input, dim, dtype=dtype)


def torch_selu(input: Tensor) -> Tensor:
    """selu(input) -> Tensor: ``tapegrad.nn.functional.selu`` (no ``inplace=``, as ``torch.selu``)."""
    return selu(input)


def torch_celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """celu(input, alpha=1.0) -> Tensor: ``tapegrad.nn.functional.celu`` (no ``inplace=``, as ``torch.celu``)."""
    return celu(input, alpha)


def torch_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """dropout(input, p, train) -> Tensor: ``tapegrad.nn.functional.dropout`` with PyTorch's top-level signature."""
    return dropout(input, p, train)


def torch_layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
                     eps: float = 1e-5, cudnn_enable: bool = True) -> Tensor:
    """layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True) -> Tensor."""
    return layer_norm(input, normalized_shape, weight, bias, eps)


for _f, _name in ((torch_softmax, "softmax"), (torch_log_softmax, "log_softmax"), (torch_selu, "selu"),
                  (torch_celu, "celu"), (torch_dropout, "dropout"), (torch_layer_norm, "layer_norm")):
    _f.__name__ = _f.__qualname__ = _name
del _f, _name


try:  # convolution and pooling live in the conv family's module
    from ..ops.conv import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d  # noqa: E402,F401
except ImportError:  # not landed yet
    pass
else:
    __all__ += ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]

from ._functional_activations import *  # noqa: E402,F401,F403  (threshold, shrinks, glu, prelu, rrelu, x_ forms)
from ._functional_activations import __all__ as _activations_all  # noqa: E402

__all__ += _activations_all

from ._functional_distance import *  # noqa: E402,F401,F403  (pairwise_distance, pdist)
from ._functional_distance import __all__ as _distance_all  # noqa: E402

__all__ += _distance_all

from ._functional_dropout import *  # noqa: E402,F401,F403  (dropout1d/2d/3d, alpha_dropout, feature_alpha_dropout)
from ._functional_dropout import __all__ as _dropout_all  # noqa: E402

__all__ += _dropout_all

from ._functional_grid import affine_grid  # noqa: E402,F401

__all__ += ["affine_grid"]

from ._functional_fractional import fractional_max_pool2d, fractional_max_pool2d_with_indices  # noqa: E402,F401

__all__ += ["fractional_max_pool2d", "fractional_max_pool2d_with_indices"]
