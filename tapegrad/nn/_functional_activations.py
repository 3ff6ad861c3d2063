"""The rest of ``torch.nn.functional``'s activations: threshold, the shrinks, glu, prelu and rrelu, each with
PyTorch's node name and a rule written with ``xp`` (so gradients of every order come from it where PyTorch has
them). The in-place forms of the activations in ``functional.py`` (``elu_``, ...) are in ``_functional_inplace.py``."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.declare import Tensor, check_dim, expected_tensor, op, record
from ..autograd.declare import inplace as _inplace
from ..ops.copy import fill_overlapping
from ..ops.elementwise import masked_grad as _masked_grad
from ..random import rng as _rng

__all__ = ["threshold", "threshold_", "hardshrink", "softshrink", "tanhshrink", "glu", "prelu", "rrelu", "rrelu_",
           "gumbel_softmax"]


def _data(op_name, input):
    try:
        return input._data
    except AttributeError:
        raise expected_tensor(op_name, input) from None


def _float_data(op_name, input):
    x = _data(op_name, input)
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op_name}: not implemented for {x.dtype} tensors (PyTorch implements it for "
                                  "floating-point tensors only)")
    return x


# ---------------------------------------------------------------------- threshold
@op(methods=())
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """threshold(input, threshold, value, inplace=False) -> input where input > threshold, else value.

    NaN is kept (it is not <= threshold) and its gradient passes, as in PyTorch (``ThresholdBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.threshold(tg.tensor([-1.0, 0.5, 2.0]), 1.0, 9.0)
    tensor([9., 9., 2.])
    """
    if inplace:
        return threshold_(input, threshold, value)
    return _threshold(input, threshold, value, "ThresholdBackward0")


@op(methods=(), xp_name=False)
def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """threshold_(input, threshold, value) -> input: threshold in place (``ThresholdBackward1``)."""
    x = _data("threshold_", input)
    if not x.flags.writeable and input._base is not None and x.dtype.kind != "b":
        # elements sharing memory (an expanded or meshgrid tensor): each one of a location holds the same value and
        # gets the same write, so PyTorch writes; the door for such writes fills the base's positions
        th = _scalar_to("threshold", "threshold", threshold, np.float32 if x.dtype == np.float16 else x.dtype)
        return fill_overlapping(input, _scalar_to("threshold", "value", value, x.dtype).item(), "threshold_",
                                where=x <= th)
    return _inplace(input, "threshold_", _threshold, threshold, value, "ThresholdBackward1")


def _scalar_to(op_name, what, v, dtype):
    """The Python number ``v`` in ``dtype`` as PyTorch's ``Scalar::to<T>()`` converts it (c10's checked
    conversion): a float is truncated toward zero for an integer dtype and refused if it is NaN or outside the
    dtype's range (inf for a float dtype is kept); an int may be negative for an unsigned dtype down to -max
    (it wraps: -1 is 255 in uint8)."""
    dt = np.dtype(dtype)
    if isinstance(v, (bool, np.bool_, int, np.integer)) and -2 ** 63 <= v < 2 ** 63:  # else a double Scalar
        v = int(v)
        if dt.kind == "f":
            if not -float(np.finfo(dt).max) <= v <= float(np.finfo(dt).max):
                raise RuntimeError(f"{op_name}: {what} {v} cannot be converted to type {dt} without overflow")
            return dt.type(v)
        info = np.iinfo(dt)
        if (v > info.max or (v < 0 and -v > info.max)) if dt.kind == "u" else not info.min <= v <= info.max:
            raise RuntimeError(f"{op_name}: {what} {v} cannot be converted to type {dt} without overflow")
        return np.array(v).astype(dt)
    f = float(v)
    if dt.kind == "f":
        hi = float(np.finfo(dt).max)
        if math.isfinite(f) and not -hi <= f <= hi:
            raise RuntimeError(f"{op_name}: {what} {f} cannot be converted to type {dt} without overflow")
        return dt.type(f)
    info = np.iinfo(dt)
    if math.isnan(f) or not info.min <= f <= info.max:
        raise RuntimeError(f"{op_name}: {what} {f} cannot be converted to type {dt} without overflow")
    return dt.type(math.trunc(f))


def _threshold(input, th, value, name):
    x = _data("threshold", input)
    if x.dtype.kind == "b":
        raise NotImplementedError("threshold: not implemented for bool tensors")
    # NOTE: both numbers are converted as PyTorch's kernel does: the value to the tensor's dtype, the threshold too
    # (float32 for float16: its opmath), each refused when it does not fit (nan or 3e9 for int32, 1e6 for float16)
    th = _scalar_to("threshold", "threshold", th, np.float32 if x.dtype == np.float16 else x.dtype)
    value = _scalar_to("threshold", "value", value, x.dtype)
    drop = x <= th
    out = np.where(drop, value, x)
    # in place too (ThresholdBackward1), the mask is the input's before the write (x <= threshold), as PyTorch's:
    # threshold_(x, -1.0, 0.0) at x = -3 writes 0.0, which is above the threshold, and the gradient there is 0

    def threshold_rule(xp, g, out, x):
        return _masked_grad(xp, g, x <= th)  # NOTE: selected, as PyTorch: an inf/NaN gradient below gives 0

    return record(out, (input,), threshold_rule, name)


# ---------------------------------------------------------------------- shrinks
def _check_lambd(op_name, lambd, dtype):
    hi = np.finfo(dtype).max
    if not 0 <= lambd <= hi:
        raise RuntimeError(f"{op_name}: lambda must be in range [0, {hi:g}] for input dtype {dtype}, but found to "
                           f"be {lambd}")


@op(methods=("hardshrink",))
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """hardshrink(input, lambd=0.5) -> input where |input| > lambd, else 0 (``HardshrinkBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.hardshrink(tg.tensor([-1.0, 0.2, 0.7]))
    tensor([-1.0000,  0.0000,  0.7000])
    """
    x = _float_data("hardshrink", input)
    if not -65504.0 <= lambd <= 65504.0:  # beyond float16's range (nan too): c10's checked conversion of lambd
        from ..ops.index import _scalar

        _scalar("hardshrink", lambd, x.dtype)
    inside = (x >= -lambd) & (x <= lambd)  # NOTE: NaN is outside: it is kept, and its gradient passes
    out = np.where(inside, x.dtype.type(0), x)

    def hardshrink_rule(xp, g, out, x):
        return _masked_grad(xp, g, (x >= -lambd) & (x <= lambd))  # NOTE: selected: 0, not 0 * inf, inside

    return record(out, (input,), hardshrink_rule, "HardshrinkBackward0")


@op(methods=())
def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """softshrink(input, lambd=0.5) -> input - lambd above lambd, input + lambd below -lambd, else 0.

    ``lambd`` must be non-negative (``SoftshrinkBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.softshrink(tg.tensor([-1.0, 0.2, 0.7]))
    tensor([-0.5000,  0.0000,  0.2000])
    """
    x = _float_data("softshrink", input)
    _check_lambd("softshrink", lambd, x.dtype)
    lam = x.dtype.type(lambd)
    # NOTE: x * 0 inside, as PyTorch: NaN stays NaN and the sign of zero follows x.
    out = np.where(x > lam, x - lam, np.where(x < -lam, x + lam, x * 0))

    def softshrink_rule(xp, g, out, x):
        return _masked_grad(xp, g, (x >= -lambd) & (x <= lambd))  # NOTE: selected: 0, not 0 * inf, inside

    return record(out, (input,), softshrink_rule, "SoftshrinkBackward0")


@op(methods=())
def tanhshrink(input: Tensor) -> Tensor:
    """tanhshrink(input) -> input - tanh(input) (composed as PyTorch's: ``SubBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.tanhshrink(tg.tensor([0.0, 1.0]))
    tensor([0.0000, 0.2384])
    """
    _data("tanhshrink", input)
    return input - input.tanh()


# ---------------------------------------------------------------------- glu
@op(methods=())
def glu(input: Tensor, dim: int = -1) -> Tensor:
    """glu(input, dim=-1) -> a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.glu(tg.tensor([[1.0, 2.0, 0.0, 0.0]]))
    tensor([[0.5000, 1.0000]])
    """
    x = _float_data("glu", input)
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = check_dim("glu", dim, x.ndim)
    n = x.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {d} is size {n}")
    h = n // 2
    first = (slice(None),) * d + (slice(0, h),)
    second = (slice(None),) * d + (slice(h, n),)
    # NOTE: 1/2 + tanh(b/2)/2 is the sigmoid that never overflows, in either namespace.
    out = x[first] * (0.5 + 0.5 * np.tanh(0.5 * x[second]))

    def glu_rule(xp, g, out, x):
        a, b = x[first], x[second]
        s = 0.5 + 0.5 * xp.tanh(0.5 * b)
        ga = g * s
        return xp.concatenate([ga, ga * a * (1 - s)], axis=d)

    return record(out.astype(x.dtype, copy=False), (input,), glu_rule, "GluBackward0")


# ---------------------------------------------------------------------- prelu
@op(methods=("prelu",))
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """prelu(input, weight) -> input where input > 0, else weight * input.

    ``weight`` has one element, or one per channel (dimension 1 of the input; a 1-D input has one channel).
    The node is PyTorch's ``PreluKernelBackward0``; the gradient reaches ``weight``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.prelu(tg.tensor([[-2.0, 3.0]]), tg.tensor([0.25]))
    tensor([[-0.5000,  3.0000]])
    """
    x = _float_data("prelu", input)
    w = _data("prelu", weight)
    if w.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {w.ndim}")
    if x.ndim > 0:
        channels = x.shape[1] if x.ndim > 1 else 1
        if w.size != channels and w.size != 1:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size. Found parameter "
                               f"numbers = {w.size} and channel size = {channels} (input of shape "
                               f"{tuple(x.shape)})")
    if w.dtype != x.dtype:
        raise RuntimeError(f"prelu: expected the weight to have the input's dtype {x.dtype}, got {w.dtype}")
    if x.ndim >= 2 and w.size != 1:  # one weight per channel (none for an input of 0 channels, as PyTorch)
        wv = weight.reshape((w.size,) + (1,) * (x.ndim - 2))
    else:
        wv = weight.reshape(())
    a = wv._data
    out = np.where(x > 0, x, a * x).astype(x.dtype, copy=False)

    def prelu_rule(xp, need, g, out, x, a):
        pos = x > 0
        gx = xp.where(pos, g, g * a) if need[0] else None
        ga = xp.where(pos, 0 * g, g * x) if need[1] else None
        return gx, ga

    return record(out, (input, wv), prelu_rule, "PreluKernelBackward0")


# ---------------------------------------------------------------------- rrelu
@op(methods=())
def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, *, generator=None) -> Tensor:
    """rrelu(input, lower=1./8, upper=1./3, training=False, inplace=False) -> randomized leaky ReLU.

    In training, each non-positive element is multiplied by a slope drawn uniformly from [lower, upper]
    (``generator``, a tapegrad extension, picks the random stream); in evaluation the slope is
    (lower + upper) / 2. The node is PyTorch's ``RreluWithNoiseBackward0`` (``1`` in place).

    >>> import tapegrad as tg
    >>> tg.nn.functional.rrelu(tg.tensor([-2.0, 3.0]), 0.25, 0.25)
    tensor([-0.5000,  3.0000])
    """
    if inplace:
        return _inplace(input, "rrelu_", _rrelu, lower, upper, training, generator, "RreluWithNoiseBackward1")
    return _rrelu(input, lower, upper, training, generator, "RreluWithNoiseBackward0")


@op(methods=(), xp_name=False)
def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, *,
           generator=None) -> Tensor:
    """rrelu_(input, lower=1./8, upper=1./3, training=False) -> input: rrelu in place."""
    return _inplace(input, "rrelu_", _rrelu, lower, upper, training, generator, "RreluWithNoiseBackward1")


def _rrelu(input, lower, upper, training, generator, name):
    x = _float_data("rrelu", input)
    if lower > upper:
        raise RuntimeError(f"rrelu: lower bound ({lower}) should be less than or equal to the upper bound "
                           f"({upper})")
    if training:
        if x.dtype == np.float16:  # PyTorch's rrelu_with_noise kernel: float32 and float64 only
            raise NotImplementedError(f"rrelu: not implemented for 'Half' in training (float16 input of shape "
                                      f"{tuple(x.shape)}; PyTorch's CPU kernel takes float32 and float64)")
        u = _rng(generator).random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
        noise = np.where(x <= 0, lower + (upper - lower) * u, 1).astype(x.dtype, copy=False)
    else:
        slope = x.dtype.type((lower + upper) / 2)
        noise = np.where(x > 0, x.dtype.type(1), slope)
    out = x * noise

    def rrelu_rule(xp, g, out, x):
        return g * noise  # NOTE: the noise is the slope of each element, fixed by the forward pass

    return record(out, (input,), rrelu_rule, name)


# ---------------------------------------------------------------------- gumbel_softmax
@op(methods=())
def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1, *,
                   generator=None) -> Tensor:
    """gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1) -> a sample of the Gumbel-Softmax
    distribution: softmax((logits + g) / tau) along ``dim`` with Gumbel noise g = -log(Exponential(1)).

    ``hard=True`` returns the one-hot of the sample's argmax whose gradient is the soft sample's (the
    straight-through estimator: ``y_hard - y_soft.detach() + y_soft``, as PyTorch). ``eps`` is deprecated and
    unused (a warning says so); ``generator`` (a tapegrad extension) picks the random stream.

    >>> import tapegrad as tg
    >>> y = tg.nn.functional.gumbel_softmax(tg.zeros(2, 3), hard=True)
    >>> y.sum(-1)
    tensor([1., 1.])
    """
    if not isinstance(logits, Tensor):
        raise expected_tensor("gumbel_softmax", logits)
    if eps != 1e-10:
        warnings.warn("gumbel_softmax: the `eps` parameter is deprecated and has no effect.", stacklevel=2)
    x = _float_data("gumbel_softmax", logits)
    d = check_dim("gumbel_softmax", dim, max(x.ndim, 1))
    e = _rng(generator).exponential(size=x.shape).astype(x.dtype)
    with np.errstate(divide="ignore"):  # an exponential draw of exactly 0 gives +inf noise, as in PyTorch
        gumbels = -np.log(e)
    y_soft = ((logits + gumbels) / tau).softmax(d)
    if not hard:
        return y_soft
    index = y_soft.max(d, keepdim=True)[1]
    y_hard = (logits * 0).detach().scatter(d, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
