"""Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm (``torch.nn`` normalization)."""

import numbers

import numpy as np

from .. import dtypes
from ..autograd.declare import wrap as _wrap
from ..autograd.graph import increment_version
from . import functional as F
from . import init
from .linear import _empty_parameter
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: affine weight and bias, running statistics buffers, train/eval behaviour."""

    _expected = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got "
                             f"{num_features!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = _empty_parameter((num_features,), dtype)
            if bias:
                self.bias = _empty_parameter((num_features,), dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
            self.register_buffer("running_mean", _wrap(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", _wrap(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", _wrap(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """reset_running_stats(): running_mean 0, running_var 1, num_batches_tracked 0."""
        if self.track_running_stats:
            for buf, value in ((self.running_mean, 0), (self.running_var, 1), (self.num_batches_tracked, 0)):
                buf._data[...] = value
                increment_version(buf)

    def reset_parameters(self):
        """reset_parameters(): reset the running statistics; weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        training = self.training
        if training and self.track_running_stats and self.num_batches_tracked is not None:
            count = self.num_batches_tracked
            count._data += 1
            increment_version(count)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(count._data)
        use_batch_stats = training or (self.running_mean is None and self.running_var is None)
        track = not training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # As PyTorch does for state dicts without version metadata: a missing count loads as 0.
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict:
            state_dict[key] = _wrap(np.array(0, dtype=np.int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """BatchNorm1d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)

    Normalize each feature over the batch of an (N, C) or (N, C, L) input. In training mode the batch
    statistics are used and the running ones updated (``running = (1 - momentum) * running + momentum *
    batch``, the unbiased batch variance for ``running_var``; momentum=None averages cumulatively); in eval
    mode the running statistics are used.

    >>> import tapegrad as tg
    >>> bn = tg.nn.BatchNorm1d(2)
    >>> y = bn(tg.tensor([[1.0, 2.0], [3.0, 6.0]]))
    >>> bn.running_mean
    tensor([0.2000, 0.4000])
    """

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {input.dim()}D input of shape "
                             f"{tuple(input.shape)})")


class BatchNorm2d(_BatchNorm):
    """BatchNorm2d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)

    Normalize each channel of an (N, C, H, W) input over the batch and the spatial dims (see BatchNorm1d).

    >>> import tapegrad as tg
    >>> tg.nn.BatchNorm2d(3)(tg.randn(4, 3, 2, 2)).shape
    tapegrad.Size([4, 3, 2, 2])
    """

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (got {input.dim()}D input of shape "
                             f"{tuple(input.shape)})")


class LayerNorm(Module):
    """LayerNorm(normalized_shape, eps=1e-05, elementwise_affine=True, bias=True, device=None, dtype=None)

    Normalize over the trailing dims ``normalized_shape`` of each sample (biased variance), then scale by
    ``weight`` (ones) and shift by ``bias`` (zeros). Same in training and eval mode.

    >>> import tapegrad as tg
    >>> ln = tg.nn.LayerNorm(4)
    >>> ln
    LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> ln(tg.randn(2, 4)).shape
    tapegrad.Size([2, 4])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = _empty_parameter(self.normalized_shape, dtype)
            if bias:
                self.bias = _empty_parameter(self.normalized_shape, dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): weight 1 and bias 0."""
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """GroupNorm(num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None, *, bias=True)

    Split the channels of an (N, C, ...) input into ``num_groups`` groups and normalize each group of each
    sample (biased variance), then scale and shift per channel. Same in training and eval mode.

    >>> import tapegrad as tg
    >>> tg.nn.GroupNorm(2, 4)
    GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = _empty_parameter((num_channels,), dtype)
            if bias:
                self.bias = _empty_parameter((num_channels,), dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): weight 1 and bias 0."""
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


# ---------------------------------------------------------------------- BatchNorm3d, SyncBatchNorm, RMSNorm, LRN
class BatchNorm3d(_BatchNorm):
    """BatchNorm3d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)

    Normalize each channel of an (N, C, D, H, W) input over the batch and the spatial dims (see BatchNorm1d).

    >>> import tapegrad as tg
    >>> tg.nn.BatchNorm3d(2)(tg.randn(3, 2, 2, 2, 2)).shape
    tapegrad.Size([3, 2, 2, 2, 2])
    """

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"BatchNorm3d: expected 5D input (got {input.dim()}D input of shape "
                             f"{tuple(input.shape)})")


class SyncBatchNorm(_BatchNorm):
    """SyncBatchNorm(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,
    process_group=None, device=None, dtype=None)

    Batch normalization over (N, C, *) inputs whose statistics would be synchronised across processes; tapegrad
    runs in one process, where it is BatchNorm over all the dims but C.

    >>> import tapegrad as tg
    >>> tg.nn.SyncBatchNorm(2)(tg.randn(4, 2, 3)).shape
    tapegrad.Size([4, 2, 3])
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {input.dim()}D input)")

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """convert_sync_batchnorm(module, process_group=None): every BatchNorm*D in ``module`` replaced by a
        SyncBatchNorm with the same parameters and buffers."""
        output = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            output = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                   module.track_running_stats, process_group)
            if module.affine:
                output.weight, output.bias = module.weight, module.bias
            output.running_mean, output.running_var = module.running_mean, module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return output


class RMSNorm(Module):
    """RMSNorm(normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None)

    y = x / sqrt(mean(x**2 over ``normalized_shape``) + eps) * weight (weight starts at ones; eps None is the
    input dtype's machine epsilon).

    >>> import tapegrad as tg
    >>> norm = tg.nn.RMSNorm(2)
    >>> norm
    RMSNorm((2,), eps=None, elementwise_affine=True)
    >>> norm(tg.tensor([[3.0, 4.0]]))
    tensor([[0.8485, 1.1314]], grad_fn=<MulBackward0>)
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = _empty_parameter(self.normalized_shape, dtype)
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        """reset_parameters(): weight 1."""
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """LocalResponseNorm(size, alpha=0.0001, beta=0.75, k=1.0): ``F.local_response_norm`` as a layer.

    >>> import tapegrad as tg
    >>> tg.nn.LocalResponseNorm(2)
    LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ += ["BatchNorm3d", "SyncBatchNorm", "RMSNorm", "LocalResponseNorm"]


class CrossMapLRN2d(Module):
    """CrossMapLRN2d(size, alpha=0.0001, beta=0.75, k=1)

    Lua-Torch's cross-channel local response normalization of (N, C, H, W) inputs:
    x * (k + alpha / size * sum of x**2 over a window of channels) ** -beta, with PyTorch's windows (its running
    update, which keeps channel 0 in every window past the first ``size // 2 + 1``). The values are PyTorch's; the
    gradient is the true derivative of those values (PyTorch's hand-written backward for this legacy layer does
    not pass its own gradcheck).

    >>> import tapegrad as tg
    >>> tg.nn.CrossMapLRN2d(3, alpha=1.0, beta=1.0)(tg.ones(1, 2, 1, 1)).flatten()
    tensor([0.6000, 0.6000])
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def _window(self, channels, dtype):
        pre = int((self.size - 1) / 2 + 1)
        m = np.zeros((channels, channels), dtype)
        m[0, :min(pre, channels)] = 1
        for c in range(1, channels):
            m[c] = m[c - 1]
            if c < channels - pre + 1:
                m[c, c + pre - 1] += 1
            if c > pre:
                m[c, c - pre] -= 1
        return _wrap(m)

    def forward(self, input):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
        n, c, h, w = input.shape
        window = self._window(c, input.detach().numpy().dtype)
        total = (window @ (input * input).reshape(n, c, h * w)).reshape(n, c, h, w)
        return input * (total * (self.alpha / self.size) + self.k).pow(-self.beta)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ += ["CrossMapLRN2d"]
