"""Weight initialization, in place (``torch.nn.init``).

Every function fills a tensor's array in place without recording on the tape (as under ``no_grad``), marks
the write on the tensor's version, and returns the tensor. Random ones draw from tapegrad's default
generator, or from ``generator=``, so ``tapegrad.manual_seed`` makes them reproducible.
"""

import math
import warnings

import numpy as np

from .. import random as _random
from ..autograd.declare import Tensor
from ..autograd.grad_mode import no_grad
from ..autograd.graph import increment_version

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "sparse_"]


def _check(op, tensor, random=False):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if random and tensor.dtype.kind != "f":
        raise NotImplementedError(f"{op}: random values are not implemented for {tensor.dtype} tensors (as in "
                                  "PyTorch): use a floating point tensor")


def _fill(tensor, values):
    """Write ``values`` into the tensor's array in place and record the write."""
    tensor._data[...] = values
    increment_version(tensor)
    return tensor


def calculate_gain(nonlinearity, param=None):
    """calculate_gain(nonlinearity, param=None) -> float: the recommended gain for a nonlinearity.

    linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)) (slope ``param``,
    default 0.01), selu 3/4.

    >>> round(calculate_gain("relu"), 4)
    1.4142
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor, op="init"):
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"{op}: fan in and fan out can not be computed for a tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(shape)})")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode, op):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode {mode!r} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, op)
    return fan_in if mode == "fan_in" else fan_out


def _empty(op, tensor):
    if 0 in tensor.shape:
        warnings.warn(f"{op}: initializing a zero-element tensor is a no-op", stacklevel=3)
        return True
    return False


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """uniform_(tensor, a=0.0, b=1.0, generator=None): fill with values drawn from U(a, b).

    >>> import tapegrad as tg
    >>> w = tg.nn.init.uniform_(tg.empty(3, 5), -1, 1)
    >>> bool((w.abs() <= 1).all())
    True
    """
    _check("uniform_", tensor, random=True)
    return _fill(tensor, _random.rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """normal_(tensor, mean=0.0, std=1.0, generator=None): fill with values drawn from N(mean, std^2)."""
    _check("normal_", tensor, random=True)
    return _fill(tensor, _random.rng(generator).normal(mean, std, tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None): N(mean, std^2) restricted to
    [a, b] (``a`` and ``b`` are absolute bounds, as in PyTorch)."""
    _check("trunc_normal_", tensor, random=True)
    if not a < b:
        raise ValueError(f"trunc_normal_: the lower bound a={a} must be below the upper bound b={b}")
    rng = _random.rng(generator)
    n = tensor.numel()
    # Probability that a draw lands in [a, b]; draws are rejected and redrawn until every slot is filled.
    cdf = lambda x: 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))  # noqa: E731
    accept = max(cdf(b) - cdf(a), 1e-6)
    out = np.empty(0)
    while out.size < n:
        draws = rng.normal(mean, std, int((n - out.size) / accept * 1.1) + 16)
        out = np.concatenate([out, draws[(draws >= a) & (draws <= b)]])
    return _fill(tensor, out[:n].reshape(tensor.shape))


def constant_(tensor, val):
    """constant_(tensor, val): fill with ``val``, as ``tensor.fill_(val)`` under ``no_grad`` (PyTorch's
    definition): a number out of an integer dtype's range is refused, -1 in uint8 wraps to 255.

    >>> import tapegrad as tg
    >>> tg.nn.init.constant_(tg.zeros(2, dtype=tg.uint8), -1)
    tensor([255, 255], dtype=tapegrad.uint8)
    """
    return _no_grad_fill("constant_", tensor, val)


def ones_(tensor):
    """ones_(tensor): fill with 1."""
    return _no_grad_fill("ones_", tensor, 1)


def zeros_(tensor):
    """zeros_(tensor): fill with 0."""
    return _no_grad_fill("zeros_", tensor, 0)


def _no_grad_fill(op, tensor, val):
    _check(op, tensor)
    with no_grad():
        try:
            return tensor.fill_(val)
        except RuntimeError as e:
            message = str(e)
            raise RuntimeError(f"{op}: {message.removeprefix('fill_: ')}") from e


def eye_(tensor):
    """eye_(tensor): fill a 2-D tensor with the identity (ones on the diagonal), preserving the identity of
    the inputs in Linear layers."""
    _check("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if not tensor._data.flags.writeable and tensor._data.size:
        # elements sharing memory (expand, meshgrid): PyTorch's eye(out=) zeroes the tensor, then fills its
        # diagonal's memory locations with 1, so every element at one of them is 1 ([[1, 1, 0]] * 2 for an
        # expanded row of 3)
        with no_grad():
            return tensor.zero_().fill_diagonal_(1)
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """dirac_(tensor, groups=1): fill a 3-, 4- or 5-D conv weight with the Dirac delta (identity
    convolution)."""
    _check("dirac_", tensor)
    shape = tuple(tensor.shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, got shape {shape}")
    if shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    out_per_group = shape[0] // groups
    min_dim = min(out_per_group, shape[1])
    if not tensor._data.flags.writeable and tensor._data.size and min_dim and 0 not in shape[2:]:
        # elements sharing memory (expand, meshgrid): PyTorch zeroes the tensor, then writes 1 at each centre, one
        # element at a time, so every element at one of those memory locations is 1
        centre = tuple(s // 2 for s in shape[2:])
        with no_grad():
            tensor.zero_()
            for g in range(groups):
                for d in range(min_dim):
                    tensor[(g * out_per_group + d, d) + centre] = 1
        return tensor
    values = np.zeros(shape)
    if min_dim:  # (PyTorch's loop writes nothing without channels, and raises only when it indexes)
        g, d = np.meshgrid(np.arange(groups), np.arange(min_dim), indexing="ij")
        centre = tuple(s // 2 for s in shape[2:])
        try:
            values[((g * out_per_group + d).ravel(), d.ravel()) + centre] = 1
        except IndexError:
            raise IndexError(f"dirac_: index 0 is out of bounds for a kernel of shape {shape[2:]} (an empty "
                             "spatial dimension), as PyTorch") from None
    return _fill(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """xavier_uniform_(tensor, gain=1.0, generator=None): U(-a, a) with a = gain * sqrt(6 / (fan_in +
    fan_out)).

    >>> import tapegrad as tg
    >>> w = tg.nn.init.xavier_uniform_(tg.empty(3, 5))
    >>> bool((w.abs() <= (6 / 8) ** 0.5).all())
    True
    """
    _check("xavier_uniform_", tensor, random=True)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_uniform_")
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """xavier_normal_(tensor, gain=1.0, generator=None): N(0, std^2) with std = gain * sqrt(2 / (fan_in
    + fan_out))."""
    _check("xavier_normal_", tensor, random=True)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None)

    U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a) (He et al.).
    Linear and Conv2d use it with a=sqrt(5) for their default weights.

    >>> import tapegrad as tg
    >>> w = tg.nn.init.kaiming_uniform_(tg.empty(4, 6), nonlinearity="relu")
    >>> bool((w.abs() <= 1.0).all())
    True
    """
    _check("kaiming_uniform_", tensor, random=True)
    if _empty("kaiming_uniform_", tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode, "kaiming_uniform_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None)

    N(0, std^2) with std = calculate_gain(nonlinearity, a) / sqrt(fan) (He et al.).
    """
    _check("kaiming_normal_", tensor, random=True)
    if _empty("kaiming_normal_", tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode, "kaiming_normal_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """orthogonal_(tensor, gain=1, generator=None): a (semi-)orthogonal matrix (trailing dims
    flattened), times
    ``gain`` (Saxe et al.).

    >>> import tapegrad as tg
    >>> w = tg.nn.init.orthogonal_(tg.empty(3, 3, dtype=tg.float64))
    >>> bool(abs((w @ w.T).numpy() - tg.eye(3).numpy()).max() < 1e-12)
    True
    """
    _check("orthogonal_", tensor, random=True)
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _random.rng(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    # NOTE: scale columns by the signs of diag(r) so that Q is uniformly distributed (QR's sign is arbitrary).
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """sparse_(tensor, sparsity, std=0.01, generator=None): a 2-D matrix with N(0, std^2) entries of which the
    fraction ``sparsity`` in each column is zeroed."""
    _check("sparse_", tensor, random=True)
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    rng = _random.rng(generator)
    values = rng.normal(0.0, std, (rows, cols))
    zero_rows = np.argsort(rng.random((rows, cols)), axis=0)[:num_zeros]
    values[zero_rows, np.arange(cols)] = 0
    return _fill(tensor, values)
