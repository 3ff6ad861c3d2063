"""Lazy modules (``torch.nn.LazyLinear``, ``LazyConv*``, ``LazyConvTranspose*``, ``LazyBatchNorm*``,
``LazyInstanceNorm*``): the input size is inferred on the first call, then the module becomes the regular class.

Before the first call the parameters are ``UninitializedParameter`` placeholders (no shape). The first call
builds the regular module with the inferred size (drawing its initial values exactly as constructing it would),
takes over its parameters and buffers and changes ``self.__class__`` to ``cls_to_become``, as PyTorch does. As in
PyTorch, build an optimizer after that first call (the placeholders are replaced by new parameters).
"""

import numpy as np

from .. import dtypes
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .linear import Linear
from .module import Module
from .norm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .parameter import Parameter

__all__ = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d", "UninitializedParameter", "LazyModuleMixin"]


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (a lazy module's weight before its first call)."""

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty((0,), dtypes.as_dtype(dtype) or dtypes.get_default_dtype()), requires_grad)

    def __repr__(self):
        return "<UninitializedParameter>"


class LazyModuleMixin:
    """What every lazy module shares: ``has_uninitialized_params``, ``initialize_parameters`` and the first call
    that turns it into ``cls_to_become``."""

    cls_to_become: type[Module] | None = None

    def has_uninitialized_params(self):
        """has_uninitialized_params() -> bool: whether the first call is still to come."""
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values()) or \
            type(self).cls_to_become is not None and isinstance(self, LazyModuleMixin)

    def _infer(self, input):
        raise NotImplementedError

    def initialize_parameters(self, input):
        """initialize_parameters(input): infer the sizes from ``input``, make the regular module's parameters and
        become it."""
        target = type(self).cls_to_become
        args, kwargs = self._infer(input)
        real = target(*args, **kwargs, dtype=self._lazy_dtype)
        d = self.__dict__
        for key, value in real.__dict__.items():
            if not (key.startswith("_forward") or key == "training"):
                d[key] = value
        for key in ("_lazy_args", "_lazy_kwargs", "_lazy_dtype"):
            d.pop(key, None)
        self.__class__ = target

    def forward(self, input, *args, **kwargs):
        self.initialize_parameters(input)
        return self.forward(input, *args, **kwargs)

    def _lazy_setup(self, dtype, names, args, kwargs):
        Module.__init__(self)
        self.__dict__["_lazy_dtype"] = dtype
        self.__dict__["_lazy_args"] = args
        self.__dict__["_lazy_kwargs"] = kwargs
        for name in names:
            self.register_parameter(name, UninitializedParameter(dtype=dtype))


def _spatial_in_channels(name, input, d):
    if input.dim() not in (d + 1, d + 2):
        raise RuntimeError(f"{name}: expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) input, but got input of "
                           f"shape {tuple(input.shape)}")
    return input.shape[1] if input.dim() == d + 2 else input.shape[0]


class LazyLinear(LazyModuleMixin, Linear):
    """LazyLinear(out_features, bias=True, device=None, dtype=None): a Linear whose in_features is the last size of
    its first input.

    >>> import tapegrad as tg
    >>> fc = tg.nn.LazyLinear(3)
    >>> fc(tg.ones(2, 5)).shape
    tapegrad.Size([2, 3])
    >>> fc
    Linear(in_features=5, out_features=3, bias=True)
    """

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        self._lazy_setup(dtype, ["weight"] + (["bias"] if bias else []), (out_features,), {"bias": bias})
        if not bias:
            self.register_parameter("bias", None)
        self.in_features, self.out_features = 0, out_features

    def _infer(self, input):
        if input.dim() < 1:
            raise RuntimeError(f"LazyLinear: expected an input of at least 1 dimension, got shape {tuple(input.shape)}")
        return (input.shape[-1], self.out_features), self._lazy_kwargs

    def extra_repr(self):
        return f"in_features=0, out_features={self.out_features}, bias={self.bias is not None}"


class _LazyConv(LazyModuleMixin):
    _dims = 2
    _transposed = False

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, *rest, bias=True, device=None, dtype=None,
                 **kwargs):
        self._lazy_setup(dtype, ["weight"] + (["bias"] if bias else []), (out_channels, kernel_size, stride, padding,
                                                                         *rest), dict(kwargs, bias=bias))
        if not bias:
            self.register_parameter("bias", None)
        self.in_channels, self.out_channels = 0, out_channels

    def _infer(self, input):
        c = _spatial_in_channels(type(self).__name__, input, self._dims)
        return (c,) + self._lazy_args, self._lazy_kwargs

    def extra_repr(self):
        return f"0, {self.out_channels}, lazy"


def _conv_doc(cls_name, base, dims, example_shape, out_shape):
    transposed = "Transpose" in cls_name
    sig = ("(out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, "
           "padding_mode='zeros', device=None, dtype=None)" if transposed else
           "(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', "
           "device=None, dtype=None)")
    return (f"{cls_name}{sig}\n\n    A {base} whose in_channels is inferred from its first input.\n\n"
            f"    >>> import tapegrad as tg\n    >>> tg.nn.{cls_name}(4, 3)(tg.ones{example_shape}).shape\n"
            f"    tapegrad.Size({out_shape})\n    ")


def _make_conv(name, base, dims, example_shape, out_shape):
    def __init__(self, out_channels, kernel_size, *args, **kwargs):
        _LazyConv.__init__(self, out_channels, kernel_size, *args, **kwargs)

    cls = type(name, (_LazyConv, base), {"cls_to_become": base, "_dims": dims, "__init__": __init__,
                                         "__module__": __name__,
                                         "__doc__": _conv_doc(name, base.__name__, dims, example_shape, out_shape),
                                         "forward": LazyModuleMixin.forward})
    cls.__qualname__ = name
    return cls


LazyConv1d = _make_conv("LazyConv1d", Conv1d, 1, "(1, 2, 5)", "[1, 4, 3]")
LazyConv2d = _make_conv("LazyConv2d", Conv2d, 2, "(1, 2, 5, 5)", "[1, 4, 3, 3]")
LazyConv3d = _make_conv("LazyConv3d", Conv3d, 3, "(1, 2, 5, 5, 5)", "[1, 4, 3, 3, 3]")
LazyConvTranspose1d = _make_conv("LazyConvTranspose1d", ConvTranspose1d, 1, "(1, 2, 5)", "[1, 4, 7]")
LazyConvTranspose2d = _make_conv("LazyConvTranspose2d", ConvTranspose2d, 2, "(1, 2, 5, 5)", "[1, 4, 7, 7]")
LazyConvTranspose3d = _make_conv("LazyConvTranspose3d", ConvTranspose3d, 3, "(1, 2, 5, 5, 5)", "[1, 4, 7, 7, 7]")


class _LazyNorm(LazyModuleMixin):
    _instance = False
    _no_batch_dim = 2

    def __init__(self, eps=1e-5, momentum=0.1, affine=None, track_running_stats=None, device=None, dtype=None):
        # NOTE: True by default for the lazy instance norms too (PyTorch's signature, unlike InstanceNorm*d's)
        affine = True if affine is None else affine
        track = True if track_running_stats is None else track_running_stats
        self._lazy_setup(dtype, ["weight", "bias"] if affine else [], (),
                         {"eps": eps, "momentum": momentum, "affine": affine, "track_running_stats": track})
        if not affine:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.num_features, self.eps, self.momentum = 0, eps, momentum
        self.affine, self.track_running_stats = affine, track

    def _infer(self, input):
        if self._instance and input.dim() == self._no_batch_dim:
            return (input.shape[0],), self._lazy_kwargs
        if input.dim() < 2:
            raise ValueError(f"{type(self).__name__}: expected an input of at least 2 dimensions, got shape "
                             f"{tuple(input.shape)}")
        return (input.shape[1],), self._lazy_kwargs

    def extra_repr(self):
        return (f"0, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


def _make_norm(name, base, instance, no_batch_dim, example_shape):
    kind = "InstanceNorm" if instance else "BatchNorm"
    defaults = "affine=True, track_running_stats=True"
    doc = (f"{name}(eps=1e-05, momentum=0.1, {defaults}, device=None, dtype=None)\n\n    A {base.__name__} whose "
           f"num_features is inferred from its first input ({kind}).\n\n    >>> import tapegrad as tg\n"
           f"    >>> tg.nn.{name}()(tg.randn{example_shape}).shape\n    tapegrad.Size({list(eval(example_shape))})\n"
           "    ")

    def __init__(self, eps=1e-5, momentum=0.1, affine=None, track_running_stats=None, device=None, dtype=None):
        _LazyNorm.__init__(self, eps, momentum, affine, track_running_stats, device, dtype)

    cls = type(name, (_LazyNorm, base), {"cls_to_become": base, "_instance": instance, "_no_batch_dim": no_batch_dim,
                                         "__init__": __init__, "__module__": __name__, "__doc__": doc,
                                         "forward": LazyModuleMixin.forward})
    cls.__qualname__ = name
    return cls


LazyBatchNorm1d = _make_norm("LazyBatchNorm1d", BatchNorm1d, False, 2, "(4, 3)")
LazyBatchNorm2d = _make_norm("LazyBatchNorm2d", BatchNorm2d, False, 3, "(4, 3, 2, 2)")
LazyBatchNorm3d = _make_norm("LazyBatchNorm3d", BatchNorm3d, False, 4, "(4, 3, 2, 2, 2)")
LazyInstanceNorm1d = _make_norm("LazyInstanceNorm1d", InstanceNorm1d, True, 2, "(4, 3, 5)")
LazyInstanceNorm2d = _make_norm("LazyInstanceNorm2d", InstanceNorm2d, True, 3, "(4, 3, 5, 5)")
LazyInstanceNorm3d = _make_norm("LazyInstanceNorm3d", InstanceNorm3d, True, 4, "(4, 3, 2, 2, 2)")
