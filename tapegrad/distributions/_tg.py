"""The tapegrad names the distributions use, imported from the modules that define them.

PyTorch's distributions are written against ``torch.``; ours read ``tg.`` from this module (``from . import _tg as
tg``) rather than from the ``tapegrad`` namespace, which imports this package: nothing inside tapegrad imports the
whole namespace (tests/test_structure.py).
"""

from math import inf, nan

from .. import autograd, nn
from .._tensor import Size, Tensor
from ..autograd.grad_mode import enable_grad, no_grad
from ..creation import (
    arange,
    as_tensor,
    empty,
    eye,
    full,
    full_like,
    ones_like,
    rand,
    tensor,
    zeros,
    zeros_like,
)
from ..dtypes import bool, finfo, get_default_dtype, long
from ..nn import functional
from ..nn.functional import torch_log_softmax as log_softmax
from ..ops.elementwise import (
    abs,
    atan,
    clamp,
    erf,
    exp,
    expm1,
    ge,
    gt,
    isclose,
    le,
    log,
    log1p,
    pow,
    rsqrt,
    sigmoid,
    sqrt,
    square,
    tan,
    tanh,
    where,
)
from ..ops.index import gather
from ..ops.linalg import matmul
from ..ops.reduce import all, cumsum, logsumexp, max, sum
from ..ops.sampling import bernoulli, multinomial, normal
from ..ops.shape import broadcast_shapes, broadcast_tensors, cat, flip, stack, transpose

__all__ = ["Size", "Tensor", "abs", "all", "arange", "as_tensor", "atan", "autograd", "bernoulli", "bool",
           "broadcast_shapes", "broadcast_tensors", "cat", "clamp", "cumsum", "empty", "enable_grad", "erf", "exp",
           "expm1", "eye", "finfo", "flip", "full", "full_like", "functional", "gather", "ge", "get_default_dtype",
           "gt", "inf", "isclose", "le", "log", "log1p", "log_softmax", "logsumexp", "long", "matmul", "max",
           "multinomial", "nan", "nn", "no_grad", "normal", "ones_like", "pow", "rand", "rsqrt", "sigmoid", "sqrt",
           "square", "stack", "sum", "tan", "tanh", "tensor", "transpose", "where", "zeros", "zeros_like"]
