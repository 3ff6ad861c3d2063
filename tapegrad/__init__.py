"""tapegrad: a define-by-run autograd library on numpy with PyTorch's API.

    import tapegrad as torch

    x = torch.randn(3, requires_grad=True)
    (x * x).sum().backward()
    x.grad  # 2 * x
"""

from math import e, inf, nan, pi

from . import _quiet_ieee  # noqa: F401  (first: numpy's floating-point warnings are silent in tapegrad's code)
from ._version import __version__
from ._threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads

from . import dtypes
from .dtypes import (bool, double, finfo, float, float16, float32, float64, get_default_dtype, half, iinfo, int, int8,
                     int16, int32, int64, long, set_default_dtype, short, uint8)
from ._tensor import Size, Tensor, device
from .memory_formats import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import autograd
from .creation import *
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .ops import elementwise as _elementwise, index as _index, linalg as _linalg, reduce as _reduce
from .ops import shape as _shape
from .ops.copy import *
from .ops.elementwise import *
from .ops.reduce import *
from .ops.linalg import *
from .ops.shape import *
from .ops.index import *
from .ops.conv import *
from .ops.conv_nd import *  # conv1d, conv3d, conv_transpose1d/2d/3d, conv_tbc
from .ops.pooling import avg_pool1d, adaptive_avg_pool1d, max_pool1d_with_indices
from .ops.pooling import top_level_max_pools as _top_level_max_pools
from .ops.sampling import *
from .ops.sort import *
from .ops.rnn import *
from .ops.extra_math import *
from .ops.forms import *
from .ops.combine import *
from .ops.counting import *
from .ops.scatter_extra import *
from . import nn, optim, utils, datasets
from . import linalg
from .linalg.aliases import *
from . import backends, cuda
from . import amp, cpu, _dynamo, compiler
from .amp import GradScaler, autocast
from .amp.autocast_mode import (clear_autocast_cache, autocast_decrement_nesting, autocast_increment_nesting,
                                get_autocast_cpu_dtype, get_autocast_dtype, is_autocast_cache_enabled,
                                is_autocast_cpu_enabled, is_autocast_enabled, set_autocast_cache_enabled,
                                set_autocast_dtype, set_autocast_enabled)
from .backends import (are_deterministic_algorithms_enabled, get_deterministic_debug_mode,
                       get_float32_matmul_precision, is_deterministic_algorithms_warn_only_enabled,
                       set_deterministic_debug_mode, set_float32_matmul_precision, use_deterministic_algorithms)
from ._compile import compile
from . import distributed
from ._printing import set_printoptions
from .nn.functional import cosine_similarity
from .nn.functional import torch_celu as celu, torch_dropout as dropout, torch_layer_norm as layer_norm
from .nn.functional import torch_log_softmax as log_softmax, torch_selu as selu, torch_softmax as softmax
from .serialization import load, save
from . import safetensors  # registers the .safetensors reader of load
from . import onnx  # tapegrad.onnx.export (needs the onnx extra only when called)
from . import distributions
from . import special
from .special._ops import digamma, erfinv, i0, lgamma, logit, polygamma, sinc, xlogy
from .special._ops import gammainc as igamma, gammaincc as igammac, multigammaln as mvlgamma

max_pool1d, max_pool2d, max_pool3d = _top_level_max_pools()  # torch.max_poolNd: no return_indices
Tensor.backward = autograd.engine.backward
Tensor.bfloat16 = dtypes.tensor_bfloat16

from numpy import dtype  # noqa: E402,F401  (torch.dtype, for annotations and isinstance: every dtype is numpy's)

from . import types, version  # noqa: E402,F401  (torch.types, torch.version)
from . import accelerator  # noqa: E402,F401  (torch.accelerator: none available)


def __getattr__(name):  # tapegrad.bfloat16 is made on first use (importing ml_dtypes is slow), then kept
    if name == "bfloat16":
        globals()["bfloat16"] = value = dtypes._load_bfloat16()
        return value
    raise AttributeError(f"module 'tapegrad' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"bfloat16"})
