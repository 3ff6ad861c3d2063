"""Functional neural-network ops (``torch.nn.functional``): activations, linear, dropout, embedding, padding,
normalization and the loss functions. Each forward sits beside its gradient rule.

Rules follow ``rule(xp, grad, out, *inputs)`` (see ``tapegrad/autograd/xp.py``). Most ops here are fused: the
forward keeps the intermediate arrays its backward needs (a mask, a sigmoid, a normalized input), so the
first-order backward on numpy arrays is a few passes. When the backward is itself recorded
(``create_graph=True``: the rule gets tensors, not arrays), a rule recomputes those intermediates from its
input tensors with differentiable ops instead, so gradients of gradients stay exact.
"""

import math
import numbers
import warnings

import numpy as np

from .. import dtypes
from ..autograd import grad_mode
from ..autograd.declare import Tensor, tensor_method
from ..autograd.declare import check_dim as _check_dim
from ..autograd.declare import inplace as _inplace
from ..autograd.declare import legacy_record as _record
from ..autograd.declare import wrap as _wrap
from ..autograd.graph import increment_version
from ..ops.elementwise import erf, sigmoid, tanh
from ..ops.elementwise import operands as _operands
from ..ops.elementwise import relu as _relu
from ..ops.linalg import matmul
from ..random import rng as _rng

__all__ = ["relu", "relu_", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
           "sigmoid", "tanh", "softplus", "logsigmoid", "softsign", "hardsigmoid", "hardswish", "softmax",
           "log_softmax", "softmin", "linear", "bilinear", "dropout", "one_hot", "pad", "embedding",
           "layer_norm", "batch_norm", "group_norm", "normalize", "cosine_similarity", "cross_entropy",
           "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div"]


# ---------------------------------------------------------------------- helpers
def _float(t):
    """Integer and bool inputs become the default float dtype (as PyTorch's float-only activations do)."""
    return t if t._data.dtype.kind == "f" else t.type(dtypes.get_default_dtype())


def _recording(a):
    """True when a rule runs on tensors (create_graph) rather than on numpy arrays."""
    return not isinstance(a, np.ndarray)


def _where(mask, a, b):
    """where(mask, a, b) for a constant boolean array ``mask``: numpy's on arrays; on tensors (create_graph) a
    blend by the mask, differentiable in ``a`` and ``b`` (both branches must then be finite)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        like = a if isinstance(a, Tensor) else b
        m = mask.astype(like._data.dtype)
        return a * m + b * (1 - m)
    return np.where(mask, a, b)


def _np_sigmoid(x):
    # NOTE: exp(-|x|) never overflows; 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0 are both exact forms.
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


def _np_softplus(x):
    # NOTE: log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x, full precision for x << 0.
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


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


def _sigmoid_of(x):
    """sigmoid of an array (stable numpy) or of a tensor (recorded, for create_graph)."""
    return sigmoid(x) if isinstance(x, Tensor) else _np_sigmoid(x)


def _np_erf(x):
    with grad_mode.no_grad():
        return erf(_wrap(x))._data


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


# ---------------------------------------------------------------------- activations
def relu(input, inplace=False):
    """relu(input, inplace=False) -> max(input, 0), elementwise.

    >>> import tapegrad as tg
    >>> tg.nn.functional.relu(tg.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return _inplace(input, "relu_", _relu) if inplace else _relu(input)


def relu_(input):
    """relu_(input): relu in place."""
    return _inplace(input, "relu_", _relu)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False) -> input clamped to [min_val, max_val].

    The gradient is 1 strictly inside the interval and 0 outside and at its ends (as PyTorch).

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardtanh(tg.tensor([-2.0, 0.5, 2.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    if inplace:
        return _inplace(input, "hardtanh_", hardtanh, min_val, max_val)
    x = input._data
    out = np.clip(x, min_val, max_val).astype(x.dtype, copy=False)
    inside = (x > min_val) & (x < max_val)

    def backward(xp, g, out, x):
        return (g * inside,)

    return _record(out, (input,), backward)


def relu6(input, inplace=False):
    """relu6(input, inplace=False) -> min(max(input, 0), 6) (hardtanh on [0, 6]).

    >>> import tapegrad as tg
    >>> tg.nn.functional.relu6(tg.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """leaky_relu(input, negative_slope=0.01, inplace=False) -> input if input > 0 else slope * input.

    >>> import tapegrad as tg
    >>> tg.nn.functional.leaky_relu(tg.tensor([-2.0, 3.0]), 0.5)
    tensor([-1.,  3.])
    """
    if inplace:
        return _inplace(input, "leaky_relu_", leaky_relu, negative_slope)
    x = _float(input)
    a = x._data
    pos = a > 0
    out = np.where(pos, a, a * negative_slope)

    def backward(xp, g, out, x):
        # NOTE: at exactly 0 the slope is negative_slope, as in PyTorch.
        return (g * np.where(pos, 1, negative_slope).astype(out.dtype),)

    return _record(out, (x,), backward)


def _elu(name, input, alpha, scale, inplace):
    if inplace:
        return _inplace(input, name + "_", lambda t: _elu(name, t, alpha, scale, False))
    x = _float(input)
    a = x._data
    pos = a > 0
    # NOTE: expm1 keeps precision for small |x|; min(x, 0) keeps exp from overflowing in the unused branch.
    out = np.where(pos, a, alpha * np.expm1(np.minimum(a, 0)))
    if scale != 1:
        out *= scale
    c = scale * alpha

    def backward(xp, g, out, x):
        # d/dx = scale for x > 0, else scale * alpha * e^x = out + scale * alpha
        return (g * _where(pos, scale, out + c),)

    backward.__qualname__ = name + ".<locals>.backward"
    return _record(out, (x,), backward)


def elu(input, alpha=1.0, inplace=False):
    """elu(input, alpha=1.0, inplace=False) -> input if input > 0 else alpha * (exp(input) - 1).

    >>> import tapegrad as tg
    >>> tg.nn.functional.elu(tg.tensor([1.0, 0.0]))
    tensor([1., 0.])
    """
    return _elu("elu", input, alpha, 1.0, inplace)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """selu(input, inplace=False) -> scale * elu(input, alpha) with the self-normalizing constants.

    >>> import tapegrad as tg
    >>> tg.nn.functional.selu(tg.tensor([0.0]))
    tensor([0.])
    """
    return _elu("selu", input, _SELU_ALPHA, _SELU_SCALE, inplace)


def celu(input, alpha=1.0, inplace=False):
    """celu(input, alpha=1.0, inplace=False) -> max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    >>> import tapegrad as tg
    >>> tg.nn.functional.celu(tg.tensor([2.0]))
    tensor([2.])
    """
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0")
    if inplace:
        return _inplace(input, "celu_", celu, alpha)
    return _celu(_float(input), alpha)


def _celu(x, alpha):
    a = x._data
    pos = a > 0
    out = np.where(pos, a, alpha * np.expm1(np.minimum(a, 0) / alpha))

    def backward(xp, g, out, x):
        # d/dx = 1 for x > 0, else e^(x/alpha) = out / alpha + 1
        return (g * _where(pos, 1, out / alpha + 1),)

    return _record(out, (x,), backward)


def gelu(input, approximate="none"):
    """gelu(input, approximate='none') -> input * Phi(input), Phi the standard normal CDF.

    ``approximate='tanh'`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    >>> import tapegrad as tg
    >>> tg.nn.functional.gelu(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """
    x = _float(input)
    a = x._data
    if approximate == "none":
        cdf = 0.5 * (1 + _np_erf(a * _SQRT_HALF))

        def backward(xp, g, out, x):
            c = 0.5 * (1 + erf(x * _SQRT_HALF)) if _recording(x) else cdf
            return (g * (c + x * xp.exp(-0.5 * x * x) * _INV_SQRT_2PI),)

        return _record(a * cdf, (x,), backward)
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (a + 0.044715 * a * a * a))

        def backward(xp, g, out, x):
            th = xp.tanh(k * (x + 0.044715 * x * x * x)) if _recording(x) else t
            return (g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * 0.044715 * x * x)),)

        return _record(0.5 * a * (1 + t), (x,), backward)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):
    """silu(input, inplace=False) -> input * sigmoid(input) (also called swish).

    >>> import tapegrad as tg
    >>> tg.nn.functional.silu(tg.tensor([0.0]))
    tensor([0.])
    """
    if inplace:
        return _inplace(input, "silu_", silu)
    x = _float(input)
    a = x._data
    s = _np_sigmoid(a)

    def backward(xp, g, out, x):
        sx = sigmoid(x) if _recording(x) else s
        return (g * sx * (1 + x * (1 - sx)),)

    return _record(a * s, (x,), backward)


def mish(input, inplace=False):
    """mish(input, inplace=False) -> input * tanh(softplus(input)).

    >>> import tapegrad as tg
    >>> tg.nn.functional.mish(tg.tensor([0.0]))
    tensor([0.])
    """
    if inplace:
        return _inplace(input, "mish_", mish)
    x = _float(input)
    a = x._data
    t = np.tanh(_np_softplus(a))

    def backward(xp, g, out, x):
        if _recording(x):
            th, s = tanh(softplus(x)), sigmoid(x)
        else:
            th, s = t, _np_sigmoid(x)
        return (g * (th + x * (1 - th * th) * s),)

    return _record(a * t, (x,), backward)


def softplus(input, beta=1.0, threshold=20.0):
    """softplus(input, beta=1.0, threshold=20.0) -> log(1 + exp(beta * input)) / beta, linear above threshold.

    Where ``beta * input > threshold`` the result is ``input`` itself (as PyTorch).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softplus(tg.tensor([0.0, 30.0]))
    tensor([ 0.6931, 30.0000])
    """
    x = _float(input)
    a = x._data
    z = a * beta
    linear = z > threshold
    out = np.where(linear, a, _np_softplus(z) / beta)

    def backward(xp, g, out, x):
        return (g * _where(linear, 1, _sigmoid_of(x * beta)),)

    return _record(out, (x,), backward)


def logsigmoid(input):
    """logsigmoid(input) -> log(sigmoid(input)), computed stably as -softplus(-input).

    >>> import tapegrad as tg
    >>> tg.nn.functional.logsigmoid(tg.tensor([-1000.0]))
    tensor([-1000.])
    """
    x = _float(input)
    return _record(-_np_softplus(-x._data), (x,), _logsigmoid_backward)


def _logsigmoid_backward(xp, g, out, x):
    return (g * _sigmoid_of(-x),)


def softsign(input):
    """softsign(input) -> input / (1 + |input|).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softsign(tg.tensor([1.0]))
    tensor([0.5000])
    """
    x = _float(input)
    a = x._data
    sign = np.sign(a)

    def backward(xp, g, out, x):
        d = 1 + x * sign
        return (g / (d * d),)

    return _record(a / (1 + np.abs(a)), (x,), backward)


def hardsigmoid(input, inplace=False):
    """hardsigmoid(input, inplace=False) -> clamp(input / 6 + 1/2, 0, 1); slope 1/6 strictly inside (-3, 3).

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardsigmoid(tg.tensor([0.0, 4.0]))
    tensor([0.5000, 1.0000])
    """
    if inplace:
        return _inplace(input, "hardsigmoid_", hardsigmoid)
    x = _float(input)
    a = x._data
    inside = (a > -3) & (a < 3)

    def backward(xp, g, out, x):
        return (g * inside / 6,)

    return _record(np.clip(a / 6 + 0.5, 0, 1), (x,), backward)


def hardswish(input, inplace=False):
    """hardswish(input, inplace=False) -> input * relu6(input + 3) / 6.

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardswish(tg.tensor([-4.0, 4.0]))
    tensor([-0.,  4.])
    """
    if inplace:
        return _inplace(input, "hardswish_", hardswish)
    x = _float(input)
    a = x._data
    low, high = a < -3, a > 3  # NOTE: at exactly -3 and 3 PyTorch uses the middle branch, x / 3 + 1/2

    def backward(xp, g, out, x):
        mid = x / 3 + 0.5
        return (g * _where(low, 0, _where(high, 1, mid)),)

    return _record(a * np.clip(a + 3, 0, 6) / 6, (x,), backward)


def _softmax_dim(name, dim, ndim):
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                      "dim=X as an argument.", UserWarning, stacklevel=3)
        dim = 0 if ndim in (0, 1, 3) else 1
    return _check_dim(name, dim, ndim)


@tensor_method()
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(input, dim, dtype=None) -> exp(input) / exp(input).sum(dim), computed stably.

    ``dim`` should be given; without it PyTorch's legacy choice (0 for 0-, 1- and 3-d inputs, else 1) is made
    with a warning.

    >>> import tapegrad as tg
    >>> tg.nn.functional.softmax(tg.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    if dtype is not None:
        input = input.type(dtype)
    x = _float(input)
    a = x._data
    d = _softmax_dim("softmax", dim, a.ndim)
    axis = d if a.ndim else None

    def backward(xp, g, out, x):
        gs = g * out
        return (gs - out * gs.sum(axis=axis, keepdims=True),)  # s * (g - sum(g * s))

    return _record(_np_softmax(a, axis), (x,), backward)


@tensor_method()
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log_softmax(input, dim, dtype=None) -> input - logsumexp(input, dim), computed stably.

    >>> import tapegrad as tg
    >>> tg.nn.functional.log_softmax(tg.tensor([0.0, 0.0]), dim=0).exp()
    tensor([0.5000, 0.5000])
    """
    if dtype is not None:
        input = input.type(dtype)
    x = _float(input)
    a = x._data
    d = _softmax_dim("log_softmax", dim, a.ndim)
    axis = d if a.ndim else None

    def backward(xp, g, out, x):
        return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)  # g - softmax * sum(g)

    return _record(_np_log_softmax(a, axis), (x,), backward)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmin(input, dim, dtype=None) -> softmax(-input, dim).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softmin(tg.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    if dtype is not None:
        input = input.type(dtype)
    x = _float(input)
    return softmax(-x, _softmax_dim("softmin", dim, x._data.ndim))


# ---------------------------------------------------------------------- linear layers
def linear(input, weight, bias=None):
    """linear(input, weight, bias=None) -> input @ weight.T + bias, as one fused op.

    ``input`` is (..., in_features), ``weight`` (out_features, in_features), ``bias`` (out_features,).

    >>> import tapegrad as tg
    >>> tg.nn.functional.linear(tg.ones(2, 3), tg.ones(4, 3), tg.zeros(4)).shape
    tapegrad.Size([2, 4])
    """
    x, w = input._data, weight._data
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise RuntimeError(_linear_error(x, w))
    if x.dtype != w.dtype:
        raise RuntimeError(f"linear: input and weight must have the same dtype, got {x.dtype} and {w.dtype}")
    n, k = w.shape
    if x.ndim == 2:
        out = x @ w.T
    elif x.ndim == 1:
        out = w @ x
    else:
        out = (x.reshape(-1, k) @ w.T).reshape(x.shape[:-1] + (n,))
    need_x, need_w = input.requires_grad, weight.requires_grad
    if bias is None:
        parents = (input, weight)
        need_b = False
    else:
        b = bias._data
        if b.dtype != x.dtype:
            raise RuntimeError(f"linear: bias must have the input's dtype {x.dtype}, got {b.dtype}")
        try:
            out += b
        except ValueError:
            raise RuntimeError(f"linear: bias of shape {tuple(b.shape)} does not broadcast to the output "
                               f"shape {tuple(out.shape)} (expected ({n},))") from None
        parents = (input, weight, bias)
        need_b = bias.requires_grad
    flat = x.ndim != 2

    def backward(xp, g, out, x, w, b=None):
        g2 = g.reshape(-1, n) if flat else g
        gx = gw = gb = None
        if need_x:
            gx = (g2 @ w).reshape(x.shape) if flat else g @ w
        if need_w:
            gw = g2.mT @ (x.reshape(-1, k) if flat else x)
        if need_b:
            gb = g2.sum(axis=0)
        return gx, gw, gb

    return _record(out, parents, backward)


def _linear_error(x, w):
    if w.ndim != 2:
        return f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(w.shape)}"
    if x.ndim == 0:
        return "linear: input must have at least 1 dimension, got a 0-d tensor"
    return (f"linear: cannot multiply input of shape {tuple(x.shape)} by weight of shape {tuple(w.shape)}: "
            f"input has {x.shape[-1]} features but weight expects {w.shape[1]}")


def bilinear(input1, input2, weight, bias=None):
    """bilinear(input1, input2, weight, bias=None) -> y_o = x1 @ weight[o] @ x2 + bias[o].

    ``input1`` (..., in1), ``input2`` (..., in2), ``weight`` (out, in1, in2), ``bias`` (out,).

    >>> import tapegrad as tg
    >>> tg.nn.functional.bilinear(tg.ones(2, 3), tg.ones(2, 4), tg.ones(5, 3, 4)).shape
    tapegrad.Size([2, 5])
    """
    a, c, w = input1._data, input2._data, weight._data
    if w.ndim != 3 or a.shape[-1] != w.shape[1] or c.shape[-1] != w.shape[2] or a.shape[:-1] != c.shape[:-1]:
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
def dropout(input, p=0.5, training=True, inplace=False, *, generator=None):
    """dropout(input, p=0.5, training=True, inplace=False) -> zero each element with probability p.

    Inverted dropout: survivors are scaled by 1 / (1 - p), so evaluation (``training=False``) is the identity.
    ``generator`` (a tapegrad extension) picks the random stream.

    >>> import tapegrad as tg
    >>> tg.nn.functional.dropout(tg.ones(3), 0.5, training=False)
    tensor([1., 1., 1.])
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if inplace:
        return _inplace(input, "dropout_", lambda t: dropout(t, p, True, generator=generator))
    x = _float(input)
    a = x._data
    if p == 1:
        mask = np.zeros(a.shape, dtype=a.dtype)
    else:
        u = _rng(generator).random(a.shape, dtype=np.float32 if a.dtype != np.float64 else np.float64)
        # NOTE: inverted dropout: scale the survivors by 1/(1-p) now, so the expectation is unchanged.
        mask = (u >= p) * a.dtype.type(1 / (1 - p))

    def backward(xp, g, out, x):
        return (g * mask,)

    return _record(a * mask, (x,), backward)


# ---------------------------------------------------------------------- one_hot, pad, embedding
def one_hot(tensor, num_classes=-1):
    """one_hot(tensor, num_classes=-1) -> int64 tensor of shape tensor.shape + (num_classes,).

    ``num_classes=-1`` takes the largest value + 1.

    >>> import tapegrad as tg
    >>> tg.nn.functional.one_hot(tg.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    t = tensor._data
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: expected an integer (int64) index tensor, got dtype {t.dtype}")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError(f"one_hot: cannot infer the number of classes from an empty tensor of shape "
                               f"{tuple(t.shape)}; pass num_classes")
        num_classes = int(t.max()) + 1
    if t.size:
        lo, hi = t.min(), t.max()
        if lo < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {lo}")
        if hi >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes={num_classes}, "
                               f"got {hi}")
    return _wrap((t[..., None] == np.arange(num_classes)).astype(np.int64))


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input, pad, mode="constant", value=None):
    """pad(input, pad, mode='constant', value=None) -> input padded on its last len(pad) // 2 dimensions.

    ``pad`` is (left, right) for the last dimension, then (top, bottom) for the one before, and so on.
    ``mode`` is 'constant' (``value``, default 0; negative pads crop), 'reflect', 'replicate' or 'circular'.

    >>> import tapegrad as tg
    >>> tg.nn.functional.pad(tg.tensor([1.0, 2.0]), (1, 2))
    tensor([0., 1., 2., 0., 0.])
    """
    pads = tuple(int(p) for p in pad)
    x = input._data
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
        raise NotImplementedError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got "
                                  f"{mode!r}")
    if value not in (None, 0):
        raise RuntimeError(f"pad: padding mode {mode!r} doesn't take in value argument")
    index = []
    for d, (lo, hi) in enumerate(pairs):
        n = x.shape[d]
        if lo < 0 or hi < 0:
            raise RuntimeError(f"pad: negative padding {(lo, hi)} is only supported in 'constant' mode")
        if mode == "reflect" and (lo >= n or hi >= n) or mode == "circular" and (lo > n or hi > n):
            rel = "less than" if mode == "reflect" else "at most"
            raise RuntimeError(f"pad: {mode} padding {(lo, hi)} at dimension {d} must be {rel} the "
                               f"dimension's size {n} (input shape {tuple(x.shape)})")
        index.append(np.pad(np.arange(n), (lo, hi), mode=_PAD_MODES[mode]))
    lead = nd - k
    index = (slice(None),) * lead + np.ix_(*index[lead:])

    def backward(xp, g, out, x):
        return (xp.add_at(x.shape, index, g),)

    backward.__qualname__ = "pad.<locals>.backward"
    return _record(x[index], (input,), backward)


def _pad_constant(input, pairs, value):
    x = input._data
    crop, keep, shape = [], [], []
    for d, (lo, hi) in enumerate(pairs):
        n = x.shape[d]
        size = n + lo + hi
        if size < 0:
            raise RuntimeError(f"pad: the input size {n} at dimension {d}, plus negative padding {lo} and "
                               f"{hi}, gives a negative output size {size} (input shape {tuple(x.shape)})")
        a, b = max(-lo, 0), n - max(-hi, 0)
        crop.append(slice(a, max(a, b)))
        keep.append(slice(max(lo, 0), max(lo, 0) + max(b - a, 0)))
        shape.append(size)
    crop, keep = tuple(crop), tuple(keep)
    out = np.full(shape, value, dtype=x.dtype)
    out[keep] = x[crop]
    cropped = any(s.start or s.stop != n for s, n in zip(crop, x.shape, strict=True))

    def backward(xp, g, out, x):
        gi = g[keep]
        return (xp.add_at(x.shape, crop, gi) if cropped else gi,)

    backward.__qualname__ = "pad.<locals>.backward"
    return _record(out, (input,), backward)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
    sparse=False) -> the rows of ``weight`` picked by the integer ``input``: shape input.shape + (dim,).

    Rows picked more than once accumulate their gradients; the ``padding_idx`` row gets none. ``max_norm``
    renormalizes the picked rows of ``weight`` in place. Gradients are always dense (``sparse`` is accepted).

    >>> import tapegrad as tg
    >>> tg.nn.functional.embedding(tg.tensor([[0, 2]]), tg.eye(3)).shape
    tapegrad.Size([1, 2, 3])
    """
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    w = weight._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: indices must be an integer (int64 or int32) tensor, got dtype "
                           f"{idx.dtype}")
    if w.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{tuple(w.shape)}")
    V, D = w.shape
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings {V}")
        padding_idx %= V
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {bad} is out of range for a weight of shape {tuple(w.shape)} "
                         f"(expected 0 <= index < {V})")
    if max_norm is not None:
        _embedding_renorm(weight, idx, max_norm, norm_type)
        w = weight._data
    out = np.take(w, idx, axis=0)
    flat = idx.reshape(-1)

    def backward(xp, g, out, w):
        rows, g2 = flat, g.reshape(-1, D)
        if scale_grad_by_freq:
            g2 = g2 / np.bincount(rows, minlength=V)[rows][:, None].astype(out.dtype)
        if padding_idx is not None:
            keep = rows != padding_idx
            rows, g2 = rows[keep], g2[keep]
        if _recording(g2):
            return (xp.add_at((V, D), rows, g2),)
        return (_np_sum_rows(rows, g2, V),)

    return _record(out, (weight,), backward)


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
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        increment_version(weight)


# ---------------------------------------------------------------------- normalization
def _normalized(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over ``axes`` and 1 / sqrt(var + eps), as recorded ops (create_graph)."""
    d = x - x.mean(axis=axes, keepdims=True)
    rstd = ((d * d).mean(axis=axes, keepdims=True) + eps) ** -0.5
    return d * rstd, rstd


def _np_normalized(x, axes, eps):
    # NOTE: two-pass variance (the mean of squared deviations) avoids the cancellation of E[x^2] - E[x]^2.
    mu = x.mean(axis=axes, keepdims=True)
    d = x - mu
    var = np.mean(d * d, axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    d *= rstd
    return d, rstd, mu, var


def _norm_input_grad(gxh, xh, rstd, axes):
    """The input gradient of a normalization from the gradient ``gxh`` of its normalized output ``xh``."""
    return rstd * (gxh - gxh.mean(axis=axes, keepdims=True) - xh * (gxh * xh).mean(axis=axes, keepdims=True))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05)

    Normalize over the last ``len(normalized_shape)`` dimensions (biased variance), then scale and shift.

    >>> import tapegrad as tg
    >>> tg.nn.functional.layer_norm(tg.tensor([[1.0, 3.0]]), (2,))
    tensor([[-1.0000,  1.0000]])
    """
    shape = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(int(s) for s in normalized_shape)
    x = _float(input)
    a = x._data
    k = len(shape)
    if k == 0 or k > a.ndim or a.shape[a.ndim - k:] != shape:
        raise RuntimeError(f"layer_norm: normalized_shape={list(shape)} expects an input of shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of shape {tuple(a.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p._data.shape != shape:
            raise RuntimeError(f"layer_norm: {name} of shape {tuple(p._data.shape)} must have the normalized "
                               f"shape {shape}")
    axes = tuple(range(a.ndim - k, a.ndim))
    xhat, rstd, _, _ = _np_normalized(a, axes, eps)
    out = xhat
    if weight is not None:
        out = out * weight._data
    if bias is not None:
        out = out + bias._data
    has_w = weight is not None
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    need_x = x.requires_grad

    def backward(xp, g, out, x, *params):
        if _recording(x):
            xh, r = _normalized(x, axes, eps)
        else:
            xh, r = xhat, rstd
        gxh = g * params[0] if has_w else g
        gx = _norm_input_grad(gxh, xh, r, axes) if need_x else None
        gw = (g * xh,) if has_w else ()  # the engine sums the leading (batch) dimensions
        gb = (g,) if len(params) > has_w else ()
        return (gx,) + gw + gb

    return _record(out, parents, backward)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
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
    x = _float(input)
    a = x._data
    if a.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...) with at least 2 dimensions, "
                         f"got shape {tuple(a.shape)}")
    C = a.shape[1]
    for name, p in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if p is not None and p._data.shape != (C,):
            raise RuntimeError(f"batch_norm: {name} of shape {tuple(p._data.shape)} must have one value per "
                               f"channel: ({C},) for input of shape {tuple(a.shape)}")
    axes = (0,) + tuple(range(2, a.ndim))
    cshape = (1, C) + (1,) * (a.ndim - 2)
    n = a.size // C if C else 0
    if training:
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {tuple(a.shape)}")
        xhat, rstd, mu, var = _np_normalized(a, axes, eps)
        if running_mean is not None:
            _running_update(running_mean, mu.reshape(C), momentum)
        if running_var is not None:
            _running_update(running_var, var.reshape(C) * (n / (n - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be given in evaluation mode "
                               "(training=False)")
        mu = running_mean._data.reshape(cshape)
        rstd = (1 / np.sqrt(running_var._data.reshape(cshape) + eps)).astype(a.dtype, copy=False)
        xhat = (a - mu) * rstd
    w = None if weight is None else weight._data.reshape(cshape)
    out = xhat if w is None else xhat * w
    if bias is not None:
        out = out + bias._data.reshape(cshape)
    has_w = weight is not None
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    need_x = x.requires_grad

    def backward(xp, g, out, x, *params):
        if training and _recording(x):
            xh, r = _normalized(x, axes, eps)
        elif _recording(x):
            xh, r = (x - mu) * rstd, rstd
        else:
            xh, r = xhat, rstd
        gxh = g * params[0].reshape(cshape) if has_w else g
        gx = None
        if need_x:
            gx = _norm_input_grad(gxh, xh, r, axes) if training else gxh * r
        gw = ((g * xh).sum(axis=axes),) if has_w else ()
        gb = (g.sum(axis=axes),) if len(params) > has_w else ()
        return (gx,) + gw + gb

    return _record(out, parents, backward)


def _running_update(stat, batch_value, momentum):
    """stat = (1 - momentum) * stat + momentum * batch_value, in place (a buffer, no gradient)."""
    s = stat._data
    s *= 1 - momentum
    s += momentum * batch_value
    increment_version(stat)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """group_norm(input, num_groups, weight=None, bias=None, eps=1e-05)

    Normalize the channels of an (N, C, ...) input in ``num_groups`` groups, then scale and shift per channel.

    >>> import tapegrad as tg
    >>> tg.nn.functional.group_norm(tg.tensor([[1.0, 3.0]]), 1)
    tensor([[-1.0000,  1.0000]])
    """
    x = _float(input)
    a = x._data
    if a.ndim < 2 or a.shape[1] % num_groups:
        raise RuntimeError(f"group_norm: expected an input of shape (N, C, ...) with C divisible by "
                           f"num_groups={num_groups}, got shape {tuple(a.shape)}")
    N, C = a.shape[:2]
    cshape = (1, C) + (1,) * (a.ndim - 2)
    grouped = x.reshape((N, num_groups, -1))
    out = layer_norm(grouped, (grouped.shape[-1],), eps=eps).reshape(a.shape)
    if weight is not None:
        out = out * weight.reshape(cshape)
    if bias is not None:
        out = out + bias.reshape(cshape)
    return out


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """normalize(input, p=2.0, dim=1, eps=1e-12) -> input / max(||input||_p over dim, eps).

    >>> import tapegrad as tg
    >>> tg.nn.functional.normalize(tg.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    if out is not None:
        raise NotImplementedError("normalize: the out= argument is not supported")
    x = _float(input)
    a = x._data
    d = _check_dim("normalize", dim, a.ndim)
    axis = d if a.ndim else None
    norm = _np_pnorm(a, p, axis)
    big = norm > eps
    denom = np.maximum(norm, eps).astype(a.dtype, copy=False)

    def backward(xp, g, out, x):
        if _recording(x):
            n = _pnorm(xp, x, p, axis, norm == 0)
            den = _where(big, n, eps)
        else:
            n, den = norm, denom
        dn = _pnorm_grad(x, n, p, norm == 0, axis)  # d||x||/dx, 0 where the norm is 0
        proj = (g * x).sum(axis=axis, keepdims=True) / (den * den)
        return (g / den - proj * dn * big,)

    return _record(a / denom, (x,), backward)


def _np_pnorm(a, p, axis):
    if p == 2:
        return np.sqrt((a * a).sum(axis=axis, keepdims=True))
    if p == math.inf:
        return np.abs(a).max(axis=axis, keepdims=True)
    return (np.abs(a) ** p).sum(axis=axis, keepdims=True) ** (1 / p)


def _pnorm(xp, x, p, axis, zero):
    """||x||_p over ``axis`` as a recorded tensor (create_graph); ``zero`` (where it is 0) keeps it finite."""
    if p == 2:
        return ((x * x).sum(axis=axis, keepdims=True) + zero) ** 0.5 - zero
    return ((xp.abs(x) ** p).sum(axis=axis, keepdims=True) + zero) ** (1 / p) - zero


def _pnorm_grad(x, n, p, zero, axis):
    """d||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1), taken as 0 where the norm is 0 (as PyTorch)."""
    if p == 2:
        return x / _where(zero, 1, n)
    if p in (1, math.inf):  # piecewise constant in x, so a constant array serves both backward modes
        a = x._data if isinstance(x, Tensor) else x
        if p == 1:
            return np.sign(a)
        top = np.abs(a) == np.abs(a).max(axis=axis, keepdims=True)
        return np.sign(a) * top / top.sum(axis=axis, keepdims=True)  # ties share the gradient, as PyTorch
    return x * abs(x) ** (p - 2) / _where(zero, 1, n) ** (p - 1)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """cosine_similarity(x1, x2, dim=1, eps=1e-8) -> x1 . x2 / (max(||x1||, eps) * max(||x2||, eps)).

    ``x1`` and ``x2`` broadcast together. As PyTorch, the eps clamp does not stop the norms' gradients.

    >>> import tapegrad as tg
    >>> tg.nn.functional.cosine_similarity(tg.tensor([[1.0, 0.0]]), tg.tensor([[1.0, 1.0]]))
    tensor([0.7071])
    """
    a, b = _operands("cosine_similarity", _float(x1), _float(x2))
    try:
        shape = np.broadcast_shapes(a._data.shape, b._data.shape)
    except ValueError:
        raise RuntimeError(f"cosine_similarity: shapes {tuple(a._data.shape)} and {tuple(b._data.shape)} do "
                           "not broadcast together") from None
    d = _check_dim("cosine_similarity", dim, len(shape))
    u, v = np.broadcast_to(a._data, shape), np.broadcast_to(b._data, shape)
    n1 = np.sqrt((u * u).sum(axis=d, keepdims=True))
    n2 = np.sqrt((v * v).sum(axis=d, keepdims=True))
    d1, d2 = np.maximum(n1, eps), np.maximum(n2, eps)
    y = (u * v).sum(axis=d, keepdims=True) / (d1 * d2)
    z1, z2 = n1 == 0, n2 == 0

    def backward(xp, g, out, x1, x2):
        if _recording(x1):
            m1 = _pnorm(xp, x1, 2, d, z1)
            m2 = _pnorm(xp, x2, 2, d, z2)
            e1, e2 = _where(n1 > eps, m1, eps), _where(n2 > eps, m2, eps)
            yk = (x1 * x2).sum(axis=d, keepdims=True) / (e1 * e2)
        else:
            m1, m2, e1, e2, yk = n1, n2, d1, d2, y
        gk = xp.expand_dims(g, d)
        g1 = gk * (x2 / (e1 * e2) - yk / e1 * _pnorm_grad(x1, m1, 2, z1, d))
        g2 = gk * (x1 / (e1 * e2) - yk / e2 * _pnorm_grad(x2, m2, 2, z2, d))
        return g1, g2

    return _record(y.squeeze(d).astype(a._data.dtype, copy=False), (a, b), backward)


# ---------------------------------------------------------------------- losses: helpers
def _reduction(op, reduction, size_average=None, reduce=None, allowed=("mean", "sum", "none")):
    """The reduction string, also from the deprecated ``size_average``/``reduce`` flags (as PyTorch)."""
    if size_average is not None or reduce is not None:
        warnings.warn(f"{op}: size_average and reduce args will be deprecated, please use reduction='...' "
                      "instead.", UserWarning, stacklevel=3)
        if reduce is False:
            return "none"
        return "sum" if size_average is False else "mean"
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")
    return reduction


def _reduce(loss, reduction, den=None):
    """Reduce an elementwise loss array; ``den`` divides for 'mean' (default: the number of elements)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "mean":
        n = loss.size if den is None else den
        if n:
            total = total / n
        else:
            with np.errstate(invalid="ignore", divide="ignore"):  # the mean of nothing is nan, silently
                total = total / n
    return np.asarray(total, dtype=loss.dtype)


def _spread(g, reduction, den):
    """The upstream gradient of a reduced loss, as a factor for each element's local derivative."""
    return g / den if reduction == "mean" else g


def _pair(op, input, target, broadcast=True):
    """``input`` and ``target`` as float tensors of one dtype; warns (as PyTorch) when their shapes differ."""
    x, t = _operands(op, _float(input), target)
    xs, ts = x._data.shape, t._data.shape
    if xs != ts:
        if not broadcast:
            raise ValueError(f"{op}: target of shape {tuple(ts)} must have the same shape as the input "
                             f"{tuple(xs)}")
        try:
            shape = np.broadcast_shapes(xs, ts)
        except ValueError:
            raise ValueError(f"{op}: target of shape {tuple(ts)} and input of shape {tuple(xs)} cannot be "
                             "broadcast together") from None
        warnings.warn(f"{op}: using a target size {tuple(ts)} that is different to the input size "
                      f"{tuple(xs)}. This will likely lead to incorrect results due to broadcasting. Please "
                      "ensure they have the same size.", UserWarning, stacklevel=3)
        return x, t, shape
    return x, t, xs


def _weighted(op, loss, weight, reduction, by_weight):
    """A 'none' loss times ``weight``, reduced; 'mean' divides by weight.sum() if ``by_weight``."""
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)} must have the same shape as the loss "
                         f"{tuple(loss.shape)}")
    out = loss * weight
    if reduction == "none":
        return out
    if reduction == "sum":
        return out.sum()
    return out.sum() / weight.sum() if by_weight else out.mean()


# ---------------------------------------------------------------------- regression losses
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
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
    return _elementwise_loss("mse_loss", x, t, d * d, _Local(2 * d, lambda xp, x, t: 2 * (x - t)), reduction)


class _Local:
    """A loss's local derivative: an array for the numpy backward, and a recipe for the create_graph one."""

    __slots__ = ("array", "recipe")

    def __init__(self, array, recipe):
        self.array, self.recipe = array, recipe


def _elementwise_loss(op, x, t, loss, local, reduction):
    n = loss.size
    need_x, need_t = x.requires_grad, t.requires_grad
    arr, recipe = local.array, local.recipe

    def backward(xp, g, out, x, t):
        gx = _spread(g, reduction, n) * (recipe(xp, x, t) if _recording(x) else arr)
        return (gx if need_x else None), (-gx if need_t else None)

    backward.__qualname__ = op + ".<locals>.backward"
    return _record(_reduce(loss, reduction), (x, t), backward)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """l1_loss(input, target, reduction='mean', weight=None) -> mean(|input - target|).

    >>> import tapegrad as tg
    >>> tg.nn.functional.l1_loss(tg.tensor([1.0, -2.0]), tg.tensor([0.0, 0.0]))
    tensor(1.5000)
    """
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    x, t, _ = _pair("l1_loss", input, target)
    if weight is not None:
        return _weighted("l1_loss", l1_loss(x, t, reduction="none"), weight, reduction, True)
    d = x._data - t._data
    sign = np.sign(d)  # NOTE: the subgradient at 0 is 0, as PyTorch
    return _elementwise_loss("l1_loss", x, t, np.abs(d), _Local(sign, lambda xp, x, t: sign), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """smooth_l1_loss(input, target, reduction='mean', beta=1.0)

    0.5 * d^2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target); beta=0 is l1_loss.

    >>> import tapegrad as tg
    >>> tg.nn.functional.smooth_l1_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]), reduction='sum')
    tensor(2.6250)
    """
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    x, t, _ = _pair("smooth_l1_loss", input, target)
    d = x._data - t._data
    ad = np.abs(d)
    inner = ad < beta
    sign = np.sign(d)
    loss = np.where(inner, 0.5 * d * d / beta, ad - 0.5 * beta)
    local = _Local(np.where(inner, d / beta, sign), lambda xp, x, t: _where(inner, (x - t) / beta, sign))
    return _elementwise_loss("smooth_l1_loss", x, t, loss, local, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """huber_loss(input, target, reduction='mean', delta=1.0, weight=None)

    0.5 * d^2 where |d| < delta, else delta * (|d| - 0.5 * delta) (d = input - target).

    >>> import tapegrad as tg
    >>> tg.nn.functional.huber_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]), reduction='sum')
    tensor(2.6250)
    """
    reduction = _reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t, _ = _pair("huber_loss", input, target)
    if weight is not None:
        loss = huber_loss(x, t, reduction="none", delta=delta)
        return _weighted("huber_loss", loss, weight, reduction, False)
    d = x._data - t._data
    ad = np.abs(d)
    inner = ad < delta
    sign = np.sign(d) * delta
    loss = np.where(inner, 0.5 * d * d, delta * (ad - 0.5 * delta))
    local = _Local(np.where(inner, d, sign), lambda xp, x, t: _where(inner, x - t, sign))
    return _elementwise_loss("huber_loss", x, t, loss, local, reduction)


# ---------------------------------------------------------------------- binary classification losses
_BCE_EPS = 1e-12


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """binary_cross_entropy(input, target, weight=None, reduction='mean')

    -weight * (target * log(input) + (1 - target) * log(1 - input)) for probabilities ``input`` in [0, 1];
    each log is clamped to >= -100 (as PyTorch), so saturated predictions give a finite loss.

    >>> import tapegrad as tg
    >>> tg.nn.functional.binary_cross_entropy(tg.tensor([0.5]), tg.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    x, t, _ = _pair("binary_cross_entropy", input, target, broadcast=False)
    a, b = x._data, t._data
    if a.size and not (a.min() >= 0 and a.max() <= 1):
        raise RuntimeError(f"binary_cross_entropy: all elements of input should be between 0 and 1, got "
                           f"values in [{a.min()}, {a.max()}]")
    w = None if weight is None else weight._data
    # NOTE: clamping the logs at -100 (as PyTorch) keeps the loss finite when a probability is exactly 0 or 1.
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(a), -100)
        log_1mx = np.maximum(np.log1p(-a), -100)
    loss = -(b * log_x + (1 - b) * log_1mx)
    if w is not None:
        loss = loss * w
    n = loss.size
    need_x, need_t = x.requires_grad, t.requires_grad
    small = a * (1 - a) < _BCE_EPS
    clamp_x, clamp_1mx = log_x == -100, log_1mx == -100

    def backward(xp, g, out, x, t):
        c = _spread(g, reduction, n)
        if w is not None:
            c = c * w
        gx = gt = None
        if need_x:
            # NOTE: x (1 - x) is clamped to >= 1e-12 (as PyTorch), so the gradient stays finite at 0 and 1.
            gx = c * (x - t) / _where(small, _BCE_EPS, x * (1 - x))
        if need_t:
            if _recording(x):
                lx = _where(clamp_x, -100, xp.log(_where(clamp_x, 1, x)))
                l1x = _where(clamp_1mx, -100, xp.log(_where(clamp_1mx, 1, 1 - x)))
            else:
                lx, l1x = log_x, log_1mx
            gt = c * (l1x - lx)
        return gx, gt

    return _record(_reduce(loss, reduction), (x, t), backward)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy_with_logits(input, target, weight=None, reduction='mean', pos_weight=None)

    binary_cross_entropy(sigmoid(input), target) in one stable op:
    (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus(-input), times ``weight``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.binary_cross_entropy_with_logits(tg.tensor([0.0]), tg.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = _reduction("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    x, t, _ = _pair("binary_cross_entropy_with_logits", input, target, broadcast=False)
    a, b = x._data, t._data
    w = None if weight is None else weight._data
    pw = None if pos_weight is None else pos_weight._data
    sp = _np_softplus(-a)  # NOTE: log(1 + e^-x) in its overflow-free form: finite for logits of any size
    lw = 1 if pw is None else 1 + (pw - 1) * b
    loss = (1 - b) * a + lw * sp
    if w is not None:
        loss = loss * w
    n = loss.size
    need_x, need_t = x.requires_grad, t.requires_grad

    def backward(xp, g, out, x, t):
        c = _spread(g, reduction, n)
        if w is not None:
            c = c * w
        gx = gt = None
        if need_x:
            if pw is None:
                gx = c * (_sigmoid_of(x) - t)
            else:
                gx = c * ((1 - t) - (1 + (pw - 1) * t) * _sigmoid_of(-x))
        if need_t:
            gt = -x if pw is None else -x + (pw - 1) * (softplus(-x) if _recording(x) else sp)
            gt = c * gt
        return gx, gt

    return _record(_reduce(loss, reduction), (x, t), backward)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """kl_div(input, target, reduction='mean', log_target=False) -> target * (log(target) - input).

    ``input`` holds log-probabilities; ``target`` probabilities (log-probabilities if ``log_target``).
    'batchmean' divides the sum by the batch size (the true KL divergence); 'mean' divides by the number of
    elements (PyTorch warns about it).

    >>> import tapegrad as tg
    >>> tg.nn.functional.kl_div(tg.tensor([[0.0, 0.0]]), tg.tensor([[0.5, 0.5]]), reduction='batchmean')
    tensor(-0.6931)
    """
    if size_average is None and reduce is None and reduction == "mean":
        warnings.warn("kl_div: reduction 'mean' divides the total loss by both the batch size and the "
                      "support size. 'batchmean' divides only by the batch size, and aligns with the KL div "
                      "math definition.", UserWarning, stacklevel=2)
    reduction = _reduction("kl_div", reduction, size_average, reduce, ("mean", "batchmean", "sum", "none"))
    x, t = _operands("kl_div", _float(input), target)
    a, b = x._data, t._data
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"kl_div: target of shape {tuple(b.shape)} and input of shape {tuple(a.shape)} "
                         "cannot be broadcast together") from None
    if log_target:
        loss = np.exp(b) * (b - a)
    else:
        # NOTE: target * log(target) is 0 where target == 0 (xlogy), so zero probabilities add nothing.
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(b == 0, 0, b * np.log(b)) - b * a
    den = loss.size
    if reduction == "batchmean":
        reduction, den = "mean", (a.shape[0] if a.ndim else 1)
    need_x, need_t = x.requires_grad, t.requires_grad

    def backward(xp, g, out, x, t):
        c = _spread(g, reduction, den)
        gx = gt = None
        if log_target:
            et = xp.exp(t)
            if need_x:
                gx = xp.broadcast_to(-c * et, shape)
            if need_t:
                gt = c * et * (t - x + 1)
        else:
            if need_x:
                gx = xp.broadcast_to(-c * t, shape)
            if need_t:
                with np.errstate(divide="ignore"):
                    gt = c * (xp.log(t) + 1 - x)
        return gx, gt

    return _record(_reduce(loss, reduction, den), (x, t), backward)


# ---------------------------------------------------------------------- classification losses
def _class_layout(op, x, t, ignore_index):
    """Check a class-index target against an (N, C, d1, ...) or (C,) input.

    Returns the class axis, the number of classes, the target with ignored entries replaced by 0, and the
    mask of kept entries (None when nothing is ignored).
    """
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension (C,) or (N, C, ...), got a 0-d tensor")
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer (int64) class-index target, got dtype {t.dtype} "
                           "(class-probability targets must have the input's shape and a float dtype)")
    cdim = 0 if x.ndim == 1 else 1
    want = x.shape[:cdim] + x.shape[cdim + 1:]
    if t.shape != want:
        raise ValueError(f"{op}: target of shape {tuple(t.shape)} doesn't match input of shape "
                         f"{tuple(x.shape)}: expected a target of shape {tuple(want)}")
    C = x.shape[cdim]
    keep = None
    if t.size:
        lo, hi = t.min(), t.max()
        if lo < 0 or hi >= C or 0 <= ignore_index < C:
            keep = t != ignore_index
            bad = keep & ((t < 0) | (t >= C))
            if bad.any():
                raise IndexError(f"{op}: target class {t[bad][0]} is out of bounds for input of shape "
                                 f"{tuple(x.shape)} with {C} classes (expected 0 <= target < {C}, or "
                                 f"ignore_index={ignore_index})")
            t = np.where(keep, t, 0)
    return cdim, C, t, keep


def _check_class_weight(op, weight, C, dtype):
    if weight is None:
        return None
    w = weight._data
    if w.shape != (C,):
        raise RuntimeError(f"{op}: weight of shape {tuple(w.shape)} must have one value per class: ({C},)")
    return w.astype(dtype, copy=False)


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


def _class_spread(g, reduction, den, cdim):
    """The upstream gradient of a classification loss, broadcastable against the (N, C, ...) input."""
    if reduction == "none":
        return _with_class_axis(g, cdim)
    return g / den if reduction == "mean" else g


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean') -> -weight[t] * input[t].

    ``input`` holds log-probabilities, (N, C), (C,) or (N, C, d1, ...); ``target`` class indices, (N,), () or
    (N, d1, ...). 'mean' divides by the total weight of the kept targets.

    >>> import tapegrad as tg
    >>> tg.nn.functional.nll_loss(tg.tensor([[-1.0, -2.0]]), tg.tensor([1]))
    tensor(2.)
    """
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    x = _float(input)
    a = x._data
    cdim, C, t, keep = _class_layout("nll_loss", a, np.asarray(target._data), ignore_index)
    w = _check_class_weight("nll_loss", weight, C, a.dtype)
    index = _class_index(t)
    wi = np.ones(t.shape, dtype=a.dtype) if w is None else w[t]
    if keep is not None:
        wi = wi * keep
    loss = -a[index] * wi
    den = float(wi.sum())

    def backward(xp, g, out, x):
        coef = np.zeros(a.shape, dtype=a.dtype)
        coef[index] = -wi
        return (_class_spread(g, reduction, den, cdim) * coef,)

    return _record(_reduce(loss, reduction, den), (x,), backward)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)

    log_softmax and the negative log-likelihood as one fused, stable op: the input gradient is
    softmax(input) - target (scaled). ``input`` holds logits, (N, C), (C,) or (N, C, d1, ...); ``target`` is
    class indices of shape (N,), () or (N, d1, ...), or class probabilities of the input's shape.
    With class indices, 'mean' divides by the total weight of the kept targets (as PyTorch); with
    probabilities, by the number of samples N * d1 * ...

    >>> import tapegrad as tg
    >>> tg.nn.functional.cross_entropy(tg.tensor([[0.0, 0.0]]), tg.tensor([1]))
    tensor(0.6931)
    """
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x = _float(input)
    a = x._data
    if a.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (C,) or (N, C, ...), got a 0-d "
                         "tensor")
    t = target._data
    if t.dtype.kind == "f":
        return _cross_entropy_probs(x, target, weight, reduction, label_smoothing)
    cdim, C, t, keep = _class_layout("cross_entropy", a, t, ignore_index)
    w = _check_class_weight("cross_entropy", weight, C, a.dtype)
    logp = _np_log_softmax(a, cdim)
    index = _class_index(t)
    wi = None if w is None else w[t]
    if keep is not None:
        wi = keep.astype(a.dtype) if wi is None else wi * keep
    picked = -logp[index]
    den = float(t.size) if wi is None else float(wi.sum())
    if label_smoothing == 0 and w is None:
        # The hot path: unweighted, unsmoothed. The gradient is softmax minus one-hot, times the kept mask.
        loss = picked if wi is None else picked * wi

        def backward(xp, g, out, x):
            c = _class_spread(g, reduction, den, cdim)
            if _recording(x):
                q = np.zeros(a.shape, dtype=a.dtype)
                q[index] = 1 if wi is None else wi
                return (c * (softmax(x, cdim) * q.sum(axis=cdim, keepdims=True) - q),)
            gx = np.exp(logp)
            gx[index] -= 1
            if wi is not None:
                gx *= _with_class_axis(wi, cdim)
            gx *= c
            return (gx,)

        return _record(_reduce(loss, reduction, den), (x,), backward)
    # General path: the effective target distribution q: loss = -sum(q * logp), grad = softmax * sum(q) - q.
    eps = label_smoothing
    wc = np.ones(C, dtype=a.dtype) if w is None else w
    wi_full = wc[t] if keep is None else wc[t] * keep
    q = np.zeros(a.shape, dtype=a.dtype)
    q[index] = (1 - eps) * wi_full
    if eps:
        smooth = (eps / C) * wc.reshape((C,) + (1,) * (a.ndim - cdim - 1))
        q += smooth if keep is None else smooth * _with_class_axis(keep, cdim)
    return _record_soft_ce(x, None, logp, q, cdim, reduction, den, None)


def _cross_entropy_probs(x, target, weight, reduction, eps):
    a = x._data
    target = target if target._data.dtype == a.dtype else target.type(a.dtype)
    t = target._data
    if t.shape != a.shape:
        raise ValueError(f"cross_entropy: class-probability target of shape {tuple(t.shape)} must have the "
                         f"input's shape {tuple(a.shape)}")
    cdim = 0 if a.ndim == 1 else 1
    C = a.shape[cdim]
    w = _check_class_weight("cross_entropy", weight, C, a.dtype)
    wc = None if w is None else w.reshape((C,) + (1,) * (a.ndim - cdim - 1))
    q = t * (1 - eps) + eps / C if eps else t
    if wc is not None:
        q = q * wc
    den = float(a.size // C) if C else 0.0
    return _record_soft_ce(x, target, _np_log_softmax(a, cdim), q, cdim, reduction, den, (eps, wc))


def _record_soft_ce(x, target, logp, q, cdim, reduction, den, target_grad):
    """loss = -sum(q * logp) over the class axis; grad = softmax * sum(q) - q; for a probability target also
    d/dtarget = -logp * weight * (1 - label_smoothing)."""
    loss = -(q * logp).sum(axis=cdim)
    need_x = x.requires_grad
    need_t = target is not None and target.requires_grad
    parents = (x,) if target is None else (x, target)

    def backward(xp, g, out, x, t=None):
        c = _class_spread(g, reduction, den, cdim)
        recording = _recording(x)
        qq = q
        if recording and t is not None:
            eps, wc = target_grad
            qq = t * (1 - eps) + eps / x.shape[cdim] if eps else t
            qq = qq * wc if wc is not None else qq
        gx = gt = None
        if need_x:
            s = softmax(x, cdim) if recording else np.exp(logp)
            gx = c * (s * qq.sum(axis=cdim, keepdims=True) - qq)
        if need_t:
            eps, wc = target_grad
            lp = log_softmax(x, cdim) if recording else logp
            gt = -c * lp * (1 - eps)
            if wc is not None:
                gt = gt * wc
        return (gx,) if t is None else (gx, gt)

    backward.__qualname__ = "cross_entropy.<locals>.backward"
    return _record(_reduce(loss, reduction, den), parents, backward)


try:  # convolution and pooling live in the conv family's module
    from ..ops.conv import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d  # noqa: E402,F401
except ImportError:  # not landed yet
    pass
else:
    __all__ += ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]
