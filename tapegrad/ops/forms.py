"""Other forms of existing ops, and what a tensor says about itself.

- The ``torch.*`` function forms of in-place Tensor methods (``torch.exp_(x)`` is ``x.exp_()``), which PyTorch
  has for most of its in-place ops, and a few function forms of methods (``torch.detach``).
- The in-place Tensor methods PyTorch has for existing ops (``cumsum_``, ``tril_``, ``greater_``, ...), each
  through the in-place door (``autograd/declare.py``'s ``inplace``).
- Introspection: strides, storage offset, byte sizes, data pointers, dim order, the dtype predicates, the device
  and layout predicates of a CPU-only library, ``apply_``/``map_``/``map2_`` (Python functions applied in
  place), ``sum_to_size``.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import dtypes as _dtypes
from .. import memory_formats
from ..autograd.declare import Size, Tensor, check_dim, expected_tensor, inplace, inplace_method, is_grad_enabled, wrap
from ..random import check_bounds
from . import copy as _copy
from . import reduce as _reduce
from . import shape as _shape
from ._perm import innermost_first
from .sampling import _sampled

__all__ = ["abs_", "acos_", "arccos_", "arcsin_", "arctan_", "asin_", "atan_", "ceil_", "clamp_", "clamp_max_",
           "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "detach", "detach_", "erf_", "erfc_", "exp2_",
           "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "index_put_", "log10_", "log1p_", "log2_", "log_",
           "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_",
           "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "zero_", "acosh_", "arccosh_", "asinh_",
           "arcsinh_", "atanh_", "arctanh_", "nan_to_num_", "gcd_", "lcm_", "ldexp_", "conj_physical_",
           "is_complex", "is_signed", "is_nonzero", "is_same_size", "is_inference", "is_distributed",
           "get_device", "dtype", "layout", "strided", "addmv_", "dequantize", "int_repr", "q_scale", "q_zero_point",
           "q_per_channel_axis", "q_per_channel_scales", "q_per_channel_zero_points", "qscheme"]


# ---------------------------------------------------------------------- torch.NAME_(input, ...) = input.NAME_(...)
def _function_form(name):
    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise expected_tensor(name, input)
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__module__ = __name__
    in_place = name.endswith("_") and name != "detach_"
    function.__doc__ = (f"{name}(input, *args, **kwargs): ``input.{name}(*args, **kwargs)``"
                        + (" (in place: returns ``input``)." if in_place else ".") +
                        f"\n\n    >>> import tapegrad as tg\n    >>> x = tg.tensor([0.5])\n"
                        f"    >>> tg.{name}(x) is {'x' if in_place else 'not None'}\n    True\n")
    return function


_ONE_TENSOR = ["abs_", "acos_", "arccos_", "arcsin_", "arctan_", "asin_", "atan_", "ceil_", "cos_", "cosh_",
               "deg2rad_", "detach", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fix_", "floor_",
               "frac_", "log10_", "log1p_", "log2_", "log_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_",
               "round_", "rsqrt_", "sigmoid_", "sin_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_",
               "zero_", "asinh_", "arcsinh_", "nan_to_num_", "conj_physical_"]
_WITH_ARGUMENTS = ["clamp_", "clip_", "clamp_max_", "clamp_min_", "fill_", "index_put_", "acosh_", "arccosh_",
                   "atanh_", "arctanh_", "gcd_", "lcm_", "ldexp_"]


def _with_arguments(name):
    function = _function_form(name)
    function.__doc__ = (f"{name}(input, *args, **kwargs): ``input.{name}(*args, **kwargs)`` (in place: returns "
                        f"``input``).\n\n    >>> import tapegrad as tg\n"
                        f"    >>> tg.clamp_max_(tg.tensor([3.0, -1.0]), 0)\n    tensor([ 0., -1.])\n")
    return function


abs_ = _function_form("abs_")
acos_ = _function_form("acos_")
arccos_ = _function_form("arccos_")
arcsin_ = _function_form("arcsin_")
arctan_ = _function_form("arctan_")
asin_ = _function_form("asin_")
atan_ = _function_form("atan_")
ceil_ = _function_form("ceil_")
cos_ = _function_form("cos_")
cosh_ = _function_form("cosh_")
deg2rad_ = _function_form("deg2rad_")
detach = _function_form("detach")
detach_ = _function_form("detach_")
erf_ = _function_form("erf_")
erfc_ = _function_form("erfc_")
exp2_ = _function_form("exp2_")
exp_ = _function_form("exp_")
expm1_ = _function_form("expm1_")
fix_ = _function_form("fix_")
floor_ = _function_form("floor_")
frac_ = _function_form("frac_")
log10_ = _function_form("log10_")
log1p_ = _function_form("log1p_")
log2_ = _function_form("log2_")
log_ = _function_form("log_")
neg_ = _function_form("neg_")
negative_ = _function_form("negative_")
rad2deg_ = _function_form("rad2deg_")
reciprocal_ = _function_form("reciprocal_")
relu_ = _function_form("relu_")
round_ = _function_form("round_")
rsqrt_ = _function_form("rsqrt_")
sigmoid_ = _function_form("sigmoid_")
sin_ = _function_form("sin_")
sinh_ = _function_form("sinh_")
sqrt_ = _function_form("sqrt_")
square_ = _function_form("square_")
tan_ = _function_form("tan_")
tanh_ = _function_form("tanh_")
trunc_ = _function_form("trunc_")
zero_ = _function_form("zero_")
asinh_ = _function_form("asinh_")
arcsinh_ = _function_form("arcsinh_")
nan_to_num_ = _function_form("nan_to_num_")
conj_physical_ = _function_form("conj_physical_")
clamp_ = _with_arguments("clamp_")
clip_ = _with_arguments("clip_")
clamp_max_ = _with_arguments("clamp_max_")
clamp_min_ = _with_arguments("clamp_min_")
fill_ = _with_arguments("fill_")
index_put_ = _with_arguments("index_put_")
acosh_ = _with_arguments("acosh_")
arccosh_ = _with_arguments("arccosh_")
atanh_ = _with_arguments("atanh_")
arctanh_ = _with_arguments("arctanh_")
gcd_ = _with_arguments("gcd_")
lcm_ = _with_arguments("lcm_")
ldexp_ = _with_arguments("ldexp_")


# ---------------------------------------------------------------------- in-place methods of existing ops
Tensor.greater_, Tensor.greater_equal_ = Tensor.gt_, Tensor.ge_
Tensor.less_, Tensor.less_equal_, Tensor.not_equal_ = Tensor.lt_, Tensor.le_, Tensor.ne_


def _scan_inplace(name, fn):
    """The in-place scan ``name`` (cumsum_/cumprod_): as PyTorch, ``dtype=`` must be the tensor's own dtype."""
    base = inplace_method(name, fn)

    def method(self, *args, dtype=None, **kwargs):
        if dtype is not None and _dtypes.as_dtype(dtype) != self._data.dtype:
            raise RuntimeError(f"{name}: Bad in-place call: input tensor dtype {self.dtype} and output tensor "
                               f"dtype {dtype} should match")
        return base(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = base.__doc__
    return method


Tensor.cumsum_ = _scan_inplace("cumsum_", _reduce.cumsum)
Tensor.cumprod_ = _scan_inplace("cumprod_", _reduce.cumprod)
def _triangle_inplace(name, fn, keep):
    """tril_/triu_: where elements share memory (an expanded tensor), PyTorch's kernel writes 0 at each element
    outside the band and leaves the others, so a memory location any zeroed element shares becomes 0: the fill
    door with that mask (``keep(rows, cols, diagonal)``: the band's mask)."""
    base = inplace_method(name, fn)

    def method(self, diagonal=0):
        x = self._data
        if not x.flags.writeable and self._base is not None and x.ndim >= 2 and x.size:
            zeroed = ~np.broadcast_to(keep(x.shape[-2], x.shape[-1], diagonal), x.shape)
            return _copy.fill_overlapping(self, 0, name, where=zeroed)
        return base(self, diagonal)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = base.__doc__
    return method


Tensor.tril_ = _triangle_inplace("tril_", _shape.tril, lambda n, m, k: np.tri(n, m, k, dtype=bool))
Tensor.triu_ = _triangle_inplace("triu_", _shape.triu, lambda n, m, k: ~np.tri(n, m, k - 1, dtype=bool))


# ---------------------------------------------------------------------- dtype predicates
def is_complex(input: Tensor) -> bool:
    """is_complex(input): whether the dtype is complex: always False (tapegrad has no complex dtypes).

    >>> import tapegrad as tg
    >>> tg.is_complex(tg.tensor([1.0]))
    False
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("is_complex", input)
    return False


def is_signed(input: Tensor) -> bool:
    """is_signed(input): whether the dtype holds negative numbers (floats and signed integers; not bool, uint8).

    >>> import tapegrad as tg
    >>> tg.is_signed(tg.tensor([1])), tg.is_signed(tg.tensor([1], dtype=tg.uint8))
    (True, False)
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("is_signed", input)
    return input._data.dtype.kind in "fi"


def is_nonzero(input: Tensor) -> bool:
    """is_nonzero(input): whether the single element of ``input`` is not zero (an error for other sizes).

    >>> import tapegrad as tg
    >>> tg.is_nonzero(tg.tensor([0.0])), tg.is_nonzero(tg.tensor(2))
    (False, True)
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("is_nonzero", input)
    x = input._data
    if x.size == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if x.size > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return builtins.bool(x.reshape(()) != 0)


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """is_same_size(input, other): whether both tensors have the same shape.

    >>> import tapegrad as tg
    >>> tg.is_same_size(tg.zeros(2, 3), tg.ones(2, 3))
    True
    """
    for t in (input, other):
        if not isinstance(t, Tensor):
            raise expected_tensor("is_same_size", t)
    return input._data.shape == other._data.shape


def is_inference(input: Tensor) -> bool:
    """is_inference(input): whether ``input`` is an inference tensor: always False (tapegrad's inference_mode
    is no_grad, and its tensors can always be used with autograd later).

    >>> import tapegrad as tg
    >>> tg.is_inference(tg.ones(1))
    False
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("is_inference", input)
    return False


def is_distributed(input: Tensor) -> bool:
    """is_distributed(input): always False (no distributed tensors).

    >>> import tapegrad as tg
    >>> tg.is_distributed(tg.ones(1))
    False
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("is_distributed", input)
    return False


def get_device(input: Tensor) -> int:
    """get_device(input): the device index: -1, the CPU's, as PyTorch's.

    >>> import tapegrad as tg
    >>> tg.get_device(tg.ones(1))
    -1
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("get_device", input)
    return -1


dtype = np.dtype  # the type of tapegrad's dtypes (tapegrad.float32 is a numpy dtype)


class layout:
    """layout: how a tensor's elements are laid out in memory; tapegrad has only ``tapegrad.strided``.

    >>> import tapegrad as tg
    >>> tg.ones(2).layout
    tapegrad.strided
    """

    def __init__(self, name: str):
        self._name = name

    def __repr__(self):
        return f"tapegrad.{self._name}"

    def __reduce__(self):
        return (_layout_named, (self._name,))


strided = layout("strided")


def _layout_named(name):
    return strided


# ---------------------------------------------------------------------- Tensor introspection
def _stride(self, dim=None):
    """stride(dim=None): the step in elements between neighbours along each dim (a tuple), or along ``dim``.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).stride(), tg.zeros(2, 3).t().stride(0)
    ((3, 1), 1)
    """
    x = self._data
    steps = memory_formats.visible_strides(x)  # an empty array's are PyTorch's, not numpy's zeros
    if dim is None:
        return steps
    if not x.ndim:  # as PyTorch: a 0-d tensor has no dimension to ask about (though most ops take dim 0 or -1)
        raise IndexError(f"stride: dimension specified as {dim} but the tensor has no dimensions (it is 0-d)")
    return steps[check_dim("stride", dim, x.ndim)]


def _root(x):
    while isinstance(x.base, np.ndarray):
        x = x.base
    return x


def _storage_offset(self) -> int:
    """storage_offset(): where this tensor starts in its memory, in elements from the start of the block.

    >>> import tapegrad as tg
    >>> tg.arange(6.0)[2:].storage_offset()
    2
    """
    x = self._data
    return (x.__array_interface__["data"][0] - _root(x).__array_interface__["data"][0]) // x.itemsize


def _data_ptr(self) -> int:
    """data_ptr(): the address of the first element (an int).

    >>> import tapegrad as tg
    >>> x = tg.arange(4.0)
    >>> x[1:].data_ptr() - x.data_ptr() == x.element_size()
    True
    """
    return self._data.__array_interface__["data"][0]


def _dim_order(self, *, ambiguity_check=False):
    """dim_order(): the dims from the outermost to the innermost in memory (largest stride first).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).dim_order(), tg.zeros(2, 3).t().dim_order()
    ((0, 1), (1, 0))
    """
    sizes, steps = tuple(self.shape), _stride(self)
    n = len(sizes)
    if not isinstance(ambiguity_check, builtins.bool):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
    if ambiguity_check and (any(a == b for a, b in zip(steps, steps[1:])) or 1 in sizes):
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the given "
                           "memory formats.")
    if n <= 1:
        return tuple(range(n))
    contiguous = self.is_contiguous()
    channels_last = memory_formats.is_contiguous(sizes, steps, memory_formats.channels_last)
    if contiguous and not channels_last:
        return tuple(range(n))
    if channels_last and not contiguous:
        return (0, *range(2, n), 1)

    def should_swap(a, b):
        """PyTorch's comparison (torch._prims_common): stride 0 says nothing; equal strides order by size."""
        sa, sb = steps[a], steps[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if sizes[a] <= sizes[b] else 1
        return -1 if sb > sa else 1

    perm = innermost_first(n, should_swap)
    if ambiguity_check and any(should_swap(a, b) != -1 for a, b in zip(perm, perm[1:])):
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the given "
                           "memory formats.")
    return tuple(reversed(perm))


def _nbytes(self) -> int:
    return self._data.size * self._data.itemsize


def _itemsize(self) -> int:
    return self._data.itemsize


def _method(name, fn, doc=None):
    fn.__name__ = fn.__qualname__ = name
    if doc is not None:
        fn.__doc__ = doc
    setattr(Tensor, name, fn)


_method("stride", _stride)
_method("storage_offset", _storage_offset)
_method("data_ptr", _data_ptr)
_method("const_data_ptr", lambda self: _data_ptr(self), "const_data_ptr(): ``data_ptr()``.")
_method("dim_order", _dim_order)
# the ignores: assigning a property to the class is how these are defined (the stub declares them)
Tensor.nbytes = property(  # type: ignore[assignment]
    _nbytes, doc="nbytes: the bytes the elements take (numel * element_size()).")
Tensor.itemsize = property(  # type: ignore[assignment]
    _itemsize, doc="itemsize: the bytes one element takes (element_size()).")
Tensor.layout = property(lambda self: strided, doc="layout: always ``tapegrad.strided``.")  # type: ignore[assignment]
for _name in ("is_complex", "is_signed", "is_nonzero", "is_same_size", "is_inference", "is_distributed",
              "get_device"):
    setattr(Tensor, _name, globals()[_name])
for _name in ("is_cuda", "is_xpu", "is_mps", "is_meta", "is_sparse", "is_sparse_csr", "is_quantized",
              "is_mkldnn", "is_nested", "is_vulkan", "is_xla", "is_ipu", "is_maia", "is_mtia"):
    setattr(Tensor, _name, property(lambda self: False, doc=f"{_name}: False (tapegrad's tensors are dense, on "
                                                             f"the CPU)."))
Tensor.is_cpu = property(  # type: ignore[assignment]
    lambda self: True, doc="is_cpu: True (tapegrad's tensors live on the CPU).")
_method("is_pinned", lambda self, device=None: False, "is_pinned(): False (no pinned memory without a GPU).")
_method("is_shared", lambda self: False, "is_shared(): False (no memory shared between processes).")
del _name


def _is_set_to(self, tensor) -> bool:
    """is_set_to(tensor): whether both tensors look at the same memory with the same shape and strides.

    >>> import tapegrad as tg
    >>> x = tg.ones(3)
    >>> x.is_set_to(x.detach()), x.is_set_to(x.clone())
    (True, False)
    """
    a, b = self._data, tensor._data
    return (_data_ptr(self) == _data_ptr(tensor) and a.shape == b.shape and a.strides == b.strides
            and a.dtype == b.dtype and _root(a) is _root(b))


_method("is_set_to", _is_set_to)


def _new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, **kwargs):
    """new_empty_strided(size, stride, *, dtype=None, ...): an uninitialised tensor of ``size``, like
    ``new_empty`` (tapegrad's new tensors are contiguous; ``stride`` is checked for length only).

    >>> import tapegrad as tg
    >>> tg.ones(2).new_empty_strided((2, 3), (3, 1)).shape
    tapegrad.Size([2, 3])
    """
    if len(tuple(size)) != len(tuple(stride)):
        raise RuntimeError(f"new_empty_strided: mismatch in length of strides and shape ({tuple(size)} and "
                           f"{tuple(stride)})")
    return self.new_empty(tuple(size), dtype=dtype, requires_grad=requires_grad)


_method("new_empty_strided", _new_empty_strided)


# ---------------------------------------------------------------------- Python functions in place
def _check_no_grad(name, self):
    if self.requires_grad and is_grad_enabled():
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() "
                           f"instead.")


def _write(self, values):
    from ..autograd.grad_mode import no_grad

    with no_grad():
        self.copy_(wrap(np.asarray(values).reshape(self._data.shape)))
    return self


def _apply_(self, callable):
    """apply_(callable) -> self: ``callable`` applied to each element (a Python number), in place. Slow; not
    for tensors that require grad.

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2]).apply_(lambda v: v * 10)
    tensor([10, 20])
    """
    _check_no_grad("apply_", self)
    return _write(self, [callable(v) for v in self._data.reshape(-1).tolist()])


def _map_(self, tensor, callable):
    """map_(tensor, callable) -> self: ``callable(self_element, tensor_element)`` for each element, in place
    (``tensor`` broadcast to self's shape).

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 2.0]).map_(tg.tensor([10.0]), lambda a, b: a + b)
    tensor([11., 12.])
    """
    _check_no_grad("map_", self)
    other = _broadcast_to_self("map_", self, tensor)
    return _write(self, [callable(a, b) for a, b in zip(self._data.reshape(-1).tolist(), other)])


def _map2_(self, x, y, callable):
    """map2_(x, y, callable) -> self: ``callable(self_element, x_element, y_element)`` for each element.

    >>> import tapegrad as tg
    >>> tg.zeros(2).map2_(tg.tensor([1.0, 2.0]), tg.tensor([3.0]), lambda a, b, c: b * c)
    tensor([3., 6.])
    """
    _check_no_grad("map2_", self)
    xs, ys = _broadcast_to_self("map2_", self, x), _broadcast_to_self("map2_", self, y)
    return _write(self, [callable(a, b, c) for a, b, c in zip(self._data.reshape(-1).tolist(), xs, ys)])


def _broadcast_to_self(name, self, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(other).__name__}")
    try:
        return np.broadcast_to(other._data, self._data.shape).reshape(-1).tolist()
    except ValueError:
        raise RuntimeError(f"{name}: cannot broadcast shape {tuple(other.shape)} to {tuple(self.shape)}") from None


_method("apply_", _apply_)
_method("map_", _map_)
_method("map2_", _map2_)


def _sum_to_size(self, *size):
    """sum_to_size(*size): ``self`` summed down to ``size`` (which ``self`` must broadcast from), as a gradient is
    reduced to its input's shape.

    >>> import tapegrad as tg
    >>> tg.ones(2, 3).sum_to_size(1, 3)
    tensor([[2., 2., 2.]])
    """
    if not size:  # PyTorch's signature requires a size; sum_to_size(()) is the sum of everything
        raise TypeError("sum_to_size() missing 1 required positional argument: \"size\"")
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    shape = self._data.shape
    if not size:  # as PyTorch's sum_to: to () is the sum of everything (integers give int64), a 0-d input too
        return self.sum()
    lead = len(shape) - len(size)
    if lead < 0 or builtins.any(s != 1 and s != n for s, n in zip(size, shape[lead:])):
        raise RuntimeError(f"sum_to_size: size {list(size)} is not expandable to size {list(shape)}")
    # as PyTorch's sum_to: one keepdim sum over the leading dims and the size-1 ones, then a view without the
    # leading dims (so the result is a view of that sum, ViewBackward0, where there are leading dims)
    dims = tuple(range(lead)) + tuple(lead + d for d, s in enumerate(size) if s == 1 and shape[lead + d] != 1)
    out = self.sum(dims, keepdim=True) if dims else self
    return out.view(size) if lead else out


_method("sum_to_size", _sum_to_size)


addmv_ = _with_arguments("addmv_")


def _module_load(self, other, assign=False):
    """module_load(other, assign=False): how ``other`` (a state_dict value) is turned into the tensor that takes
    ``self``'s place: ``other.detach()`` with ``assign``, else ``self.copy_(other).detach()``.

    >>> import tapegrad as tg
    >>> tg.zeros(2).module_load(tg.ones(2))
    tensor([1., 1.])
    """
    if assign:
        return other.detach()
    from ..autograd.grad_mode import no_grad

    with no_grad():
        return self.copy_(other).detach()


_method("module_load", _module_load)


# ---------------------------------------------------------------------- the quantized API on unquantized tensors
_float32 = _dtypes.as_dtype("float32")


def dequantize(input: Tensor) -> Tensor:
    """dequantize(input): a quantized tensor's float values; for an unquantized tensor (all of tapegrad's)
    ``input`` as float32 (itself if it is float32), as PyTorch's.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0])
    >>> tg.dequantize(x) is x
    True
    """
    if not isinstance(input, Tensor):
        raise expected_tensor("dequantize", input)
    return input.to(_float32)  # as PyTorch: an unquantized tensor is converted to float32


def _quantized_only(name):
    def method(self, *args, **kwargs):
        if not isinstance(self, Tensor):
            raise expected_tensor(name, self)
        raise NotImplementedError(f"{name}: only defined for quantized tensors, and tapegrad has none (got a "
                                  f"{self._data.dtype} tensor), as PyTorch raises for unquantized ones")

    method.__name__ = method.__qualname__ = name
    method.__module__ = __name__
    method.__doc__ = (f"{name}(input): a quantization parameter of a quantized tensor; NotImplementedError for "
                      f"tapegrad's (unquantized) tensors, as PyTorch's.\n\n    >>> import tapegrad as tg\n"
                      f"    >>> tg.{name}(tg.ones(1))\n    Traceback (most recent call last):\n    ...\n"
                      f"    NotImplementedError: {name}: only defined for quantized tensors, and tapegrad has none "
                      f"(got a float32 tensor), as PyTorch raises for unquantized ones\n")
    return method


int_repr = _quantized_only("int_repr")
q_scale = _quantized_only("q_scale")
q_zero_point = _quantized_only("q_zero_point")
q_per_channel_axis = _quantized_only("q_per_channel_axis")
q_per_channel_scales = _quantized_only("q_per_channel_scales")
q_per_channel_zero_points = _quantized_only("q_per_channel_zero_points")
qscheme = _quantized_only("qscheme")
for _name in ("dequantize", "int_repr", "q_scale", "q_zero_point", "q_per_channel_axis", "q_per_channel_scales",
              "q_per_channel_zero_points", "qscheme"):
    setattr(Tensor, _name, globals()[_name])
del _name


# ---------------------------------------------------------------------- sampling in place
def _fill_with(name, node, self, draw):
    """Write ``draw(shape)`` into ``self`` through the door, as PyTorch's random fills: under grad mode a tensor
    that requires grad records the node ``node`` with a zero gradient (a leaf, a view of one or an output of split
    is refused, as for any in-place op)."""
    values = np.asarray(draw(self._data.shape)).astype(self._data.dtype)
    return inplace(self, name, _sampled, values, node)


def _float_dtype(name, self):
    if self._data.dtype.kind != "f":
        raise RuntimeError(f"{name}: expected a floating-point tensor, got {self._data.dtype}")


def _rng(generator):
    from ..random import rng

    return rng(generator)


def _exponential_(self, lambd=1.0, *, generator=None):
    """exponential_(lambd=1, *, generator=None) -> self: samples of the exponential distribution with rate
    ``lambd``, in place.

    >>> import tapegrad as tg
    >>> bool((tg.empty(5).exponential_(2.0) >= 0).all())
    True
    """
    if self._data.size:  # an empty tensor skips PyTorch's kernel and its dtype check, as normal_
        _float_dtype("exponential_", self)
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill_with("exponential_", "ExponentialBackward0", self,
                      lambda s: _rng(generator).exponential(1.0 / lambd, s))


def _cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """cauchy_(median=0, sigma=1, *, generator=None) -> self: samples of the Cauchy distribution, in place.

    >>> import tapegrad as tg
    >>> tg.empty(3).cauchy_().shape
    tapegrad.Size([3])
    """
    _float_dtype("cauchy_", self)
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill_with("cauchy_", "CauchyBackward0", self, lambda s: median + sigma * _rng(generator).standard_cauchy(s))


def _log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """log_normal_(mean=1, std=2, *, generator=None) -> self: samples of exp(N(mean, std^2)), in place.

    >>> import tapegrad as tg
    >>> bool((tg.empty(5).log_normal_() > 0).all())
    True
    """
    if self._data.size:  # an empty tensor skips PyTorch's kernel and its dtype check, as normal_
        _float_dtype("log_normal_", self)
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill_with("log_normal_", "LogNormalBackward0", self, lambda s: _rng(generator).lognormal(mean, std, s))


def _geometric_(self, p, *, generator=None):
    """geometric_(p, *, generator=None) -> self: the number of Bernoulli(p) trials up to the first success
    (1, 2, ...), in place.

    >>> import tapegrad as tg
    >>> bool((tg.empty(5).geometric_(0.5) >= 1).all())
    True
    """
    if self._data.dtype.kind == "b":  # as PyTorch: no geometric_ kernel for bool
        raise NotImplementedError("geometric_: not implemented for bool tensors")
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill_with("geometric_", "GeometricBackward0", self, lambda s: _rng(generator).geometric(p, s))


def _random_(self, from_=0, to=None, *, generator=None, _node="RandomBackward0", **kwargs):
    """random_(from=0, to=None, *, generator=None) -> self: integers uniform in [from, to - 1], in place;
    ``random_(to)`` draws from [0, to); without ``to`` up to the dtype's largest exactly representable integer
    (2**24 for float32, 2**53 for float64, the maximum for integer dtypes).

    >>> import tapegrad as tg
    >>> bool(((tg.empty(5).random_(3) >= 0) & (tg.empty(5).random_(3) < 3)).all())
    True
    """
    from_ = kwargs.pop("from", from_)
    if kwargs:
        raise TypeError(f"random_: unexpected keyword argument(s) {sorted(kwargs)}")
    dt = self._data.dtype
    explicit = to is not None
    if to is None:
        check_bounds("random_", dt, from_, from_)
        if dt.kind == "f":
            to = 2 ** (np.finfo(dt).nmant + 1) + 1
        elif dt.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(dt).max) + 1
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    if explicit:
        check_bounds("random_", dt, from_, to - 1)
    return _fill_with("random_", _node, self, lambda s: _rng(generator).integers(from_, to, s))


def _random_entry(self, *args, **kwargs):
    # PyTorch's three overloads, each with its node: random_(from, to), random_(to), random_()
    if len(args) == 1 and "to" not in kwargs:  # random_(to)
        return _random_(self, 0, args[0], _node="RandomBackward1", **kwargs)
    if args or "from" in kwargs or "from_" in kwargs:
        return _random_(self, *args, **kwargs)
    return _random_(self, _node="RandomBackward1" if "to" in kwargs else "RandomBackward2", **kwargs)


_random_entry.__doc__ = _random_.__doc__
for _name, _fn in (("exponential_", _exponential_), ("cauchy_", _cauchy_), ("log_normal_", _log_normal_),
                   ("geometric_", _geometric_), ("random_", _random_entry)):
    _method(_name, _fn)
del _name, _fn
