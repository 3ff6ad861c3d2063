"""tapegrad: a define-by-run autograd library on numpy with PyTorch's API.

    import tapegrad as torch

    x = torch.randn(3, requires_grad=True)
    (x * x).sum().backward()
    x.grad  # 2 * x
"""

from math import e, inf, nan, pi

from . import dtypes
from .dtypes import (bool, double, finfo, float, float16, float32, float64, get_default_dtype, half, iinfo, int, int8,
                     int16, int32, int64, long, set_default_dtype, short, uint8)
from ._tensor import Size, Tensor, device
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import autograd
from .creation import *
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .ops import elementwise as _elementwise, index as _index, linalg as _linalg, reduce as _reduce
from .ops import shape as _shape
from .ops.elementwise import *
from .ops.reduce import *
from .ops.linalg import *
from .ops.shape import *
from .ops.index import *
from .ops.conv import *
from .ops.sampling import *
from .ops.sort import *
from . import nn, optim, utils, datasets
from . import backends, cuda
from . import distributed
from ._printing import set_printoptions
from .nn.functional import celu, cosine_similarity, dropout, layer_norm, log_softmax, selu, softmax
from .serialization import load, save

Tensor.backward = autograd.engine.backward

__version__ = "0.1.0"
