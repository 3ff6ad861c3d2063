"""Shape ops: views and rearrangements. Each gradient rearranges the gradient back.

Views share memory with their input, as in numpy and PyTorch: view, reshape/flatten (when they can), unflatten,
squeeze, unsqueeze, transpose, t, T, mT, permute, movedim, expand, narrow, select, split, chunk, unbind,
tensor_split, unfold, diagonal. ``record`` registers each as a view of its base, so an in-place write through a
view reaches the base (and the other views), in both grad modes (``autograd/inplace.py``). A view whose
elements share memory (expand, overlapping unfold windows) is read-only; the outputs of split, chunk and unbind
may not be written under grad mode (as in PyTorch). The others (cat, stack, repeat, tile, flip, roll, tril,
triu, diag) copy.

Gradients of pieces (narrow, select, split, chunk, unbind, unfold) are scattered into zeros with ``xp.add_at``,
which is ``add_at`` on the tensor path, so they are differentiable again.
"""

from __future__ import annotations

import builtins
import itertools
import math
import operator
import warnings

import numpy as np

from .. import dtypes, memory_formats
from ..autograd.declare import Size, Tensor, op, record
from ..autograd.declare import check_dim as _check_dim
from ..autograd.inplace import apply_view, mark_multi_output, resize

__all__ = ["reshape", "view", "view_as", "reshape_as", "flatten", "unflatten", "unsqueeze", "squeeze",
           "transpose", "swapaxes", "swapdims", "permute", "t", "adjoint", "movedim", "moveaxis", "expand",
           "expand_as", "broadcast_to", "broadcast_tensors", "broadcast_shapes", "meshgrid", "repeat", "tile", "cat",
           "concat", "concatenate", "stack", "hstack", "vstack", "split", "chunk", "unbind", "tensor_split", "select",
           "narrow", "flip", "fliplr", "flipud", "roll", "tril", "triu", "diagonal", "diag", "as_strided", "resize_as_"]


# ---------------------------------------------------------------------- argument helpers
def _sizes(op, sizes, bools=False):
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size(...))`` as a tuple of ints (bools refused
    unless ``bools``, as PyTorch's argument parser does for most ops)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    try:
        out = tuple(map(operator.index, sizes))
    except TypeError:
        bad = next(s for s in sizes if not _is_int(s))
        raise TypeError(f"{op}: sizes must be ints, got {type(bad).__name__} {bad!r} in "
                        f"{tuple(sizes)}") from None
    if not bools and any(isinstance(s, (bool, np.bool_)) for s in sizes):
        raise TypeError(f"{op}: sizes must be ints, got bool in {tuple(sizes)}")
    return out


def _keyword(op, args, name, value):
    """The positional ``args`` of ``op``, or its list argument given by keyword (``permute(dims=(1, 0))``);
    giving neither is a TypeError, as in PyTorch."""
    if value is None:
        if not args:
            raise TypeError(f'{op}() missing 1 required positional arguments: "{name}"')
        return args
    if args:
        raise TypeError(f"{op}: got {name} both as positional arguments {args} and as {name}={value!r}")
    return (value,)


def _int(op, what, v):
    """``v`` as an int argument of ``op`` (PyTorch refuses bools and floats)."""
    if isinstance(v, (bool, np.bool_)) or not _is_int(v) or isinstance(v, Tensor) and v._data.dtype.kind == "b":
        raise TypeError(f"{op}: {what} must be an int, got {type(v).__name__}")
    return operator.index(v)


def _is_int(s):
    try:
        operator.index(s)
        return True
    except TypeError:
        return False


def _dim(op, dim, ndim):
    """``dim`` as a non-negative dim of a tensor of ``ndim`` dims (the fast path of ``_check_dim``); a 0-d
    integer tensor is a dim too, as in PyTorch."""
    if type(dim) is int and -ndim <= dim < ndim:
        return dim + ndim if dim < 0 else dim
    if isinstance(dim, Tensor) and dim._data.ndim == 0 and dim._data.dtype.kind in "iu":
        dim = int(dim._data)
    return _check_dim(op, dim, ndim)


def _dims(op, dims, ndim):
    """An int or a sequence of ints as a tuple of distinct non-negative dims."""
    if isinstance(dims, (tuple, list)):
        axes = tuple(_dim(op, d, ndim) for d in dims)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dims {tuple(dims)} name a dimension more than once "
                               f"(tensor of {ndim} dimension(s))")
        return axes
    return (_dim(op, dims, ndim),)


def _check_shape(op, shape, x):
    """Reject sizes below -1 (numpy would take any negative size as 'infer')."""
    if shape and builtins.min(shape) < -1:
        k = next(i for i, s in enumerate(shape) if s < -1)
        raise RuntimeError(f"{op}: invalid size {shape[k]} at index {k} of shape {list(shape)} (sizes must "
                           "be non-negative, or -1 once to infer one)")


def _shape_error(op, shape, x):
    if list(shape).count(-1) > 1:
        return RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")
    return RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {x.size} "
                        f"(shape {tuple(x.shape)})")


# ---------------------------------------------------------------------- reshaping
@op
def reshape(input: Tensor, *sizes, shape=None) -> Tensor:
    """reshape(input, shape): the same elements in a new shape; one size may be -1 (inferred).

    A view when the layout allows it, otherwise a copy (as PyTorch).

    >>> import tapegrad as tg
    >>> tg.arange(6).reshape(2, -1).shape
    tapegrad.Size([2, 3])
    """
    shape = _sizes("reshape", _keyword("reshape", sizes, "shape", shape))
    x = input._data
    _check_shape("reshape", shape, x)
    # NOTE: PyTorch's reshape views a contiguous input (ViewBackward0), views any other whose strides allow it with
    # _reshape_alias (ReshapeAliasBackward0), and copies the rest, then views the copy (UnsafeViewBackward0)
    name = "ViewBackward0" if x.flags.c_contiguous else "ReshapeAliasBackward0"
    try:
        out = x.reshape(shape)
    except ValueError:
        raise _shape_error("reshape", shape, x) from None
    if out.base is not x and (out.base is not x.base or x.base is None):  # numpy copied (not a view of x's memory)
        name = "UnsafeViewBackward0"  # PyTorch's reshape copies and views the copy
    in_shape = x.shape

    def rule(xp, g, out, x):
        return g.reshape(in_shape)

    return record(out, (input,), rule, name)


@op
def view(input: Tensor, *sizes, size=None, dtype=None) -> Tensor:
    """view(*shape) or view(dtype): the same memory seen with a new shape (or reinterpreted as ``dtype``).

    Unlike ``reshape`` it never copies: it raises if the tensor's strides cannot express the new shape (for
    example ``x.t().view(-1)``); then use ``reshape`` or ``contiguous().view``.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).view(3, 2).shape
    tapegrad.Size([3, 2])
    """
    if dtype is not None and not sizes and size is None:
        return _view_dtype(input, dtype)
    if size is not None:
        sizes = _keyword("view", sizes, "size", size)
    if len(sizes) == 1 and not isinstance(sizes[0], (tuple, list)) and not _is_int(sizes[0]):
        return _view_dtype(input, sizes[0])
    if not sizes or dtype is not None:
        raise TypeError("view() received an invalid combination of arguments: expected (dtype) or (*size)")
    shape = _sizes("view", sizes, bools=True)
    x = input._data
    _check_shape("view", shape, x)
    try:
        out = x.reshape(shape)  # (a fourth of the time of reshape(copy=False), whose answer the next line gives)
        if out.base is not x and (out.base is not x.base or x.base is None):  # numpy copied: refused below
            out = x.reshape(shape, copy=False)
    except ValueError:
        try:
            x.reshape(shape)  # is the size itself wrong?
        except ValueError:
            raise _shape_error("view", shape, x) from None
        strides = tuple(s // x.itemsize for s in x.strides)
        raise RuntimeError(f"view: cannot view a tensor of shape {tuple(x.shape)} with strides {strides} as "
                           f"shape {tuple(shape)} without copying: at least one dimension spans across two "
                           "contiguous subspaces (the tensor is not contiguous, e.g. after transpose, "
                           "permute or expand). Use .reshape(...) or .contiguous().view(...) "
                           "instead.") from None
    in_shape = x.shape

    def rule(xp, g, out, x):
        return g.reshape(in_shape)

    return record(out, (input,), rule, "ViewBackward0")


def _view_dtype(input, dtype):
    dtype = dtypes.as_dtype(dtype)
    x = input._data
    try:
        out = x.view(dtype)
    except ValueError as e:
        raise RuntimeError(f"view: cannot view a tensor of dtype {x.dtype} and shape {tuple(x.shape)} as "
                           f"{dtype}: {e}") from None
    # Not differentiable (as PyTorch, even to the same dtype), but it shares memory and versions with input:
    # a view of its detached alias.
    return record(out, (input.detach(),), _no_gradient_rule, "ViewBackward0")


def _no_gradient_rule(xp, g, out, x):
    raise RuntimeError("view(dtype) is not differentiable")


@op
def view_as(input: Tensor, other: Tensor) -> Tensor:
    """view_as(other): ``input.view(other.shape)``.

    >>> import tapegrad as tg
    >>> tg.arange(6).view_as(tg.zeros(3, 2)).shape
    tapegrad.Size([3, 2])
    """
    return view(input, other._data.shape)


@op
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """reshape_as(other): ``input.reshape(other.shape)``.

    >>> import tapegrad as tg
    >>> tg.arange(6).reshape_as(tg.zeros(2, 3)).shape
    tapegrad.Size([2, 3])
    """
    return reshape(input, other._data.shape)


@op
def contiguous(input: Tensor, *, memory_format=memory_formats.contiguous_format) -> Tensor:
    """contiguous(*, memory_format=contiguous_format): the tensor itself if laid out so, else such a copy.

    Row-major, or ``memory_format``'s order; the copy is ``clone(memory_format=...)``, as PyTorch's.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).t().contiguous().is_contiguous()
    True
    >>> tg.zeros(2, 3, 4, 5).contiguous(memory_format=tg.channels_last).stride()
    (60, 1, 15, 3)
    """
    x = input._data
    if memory_format is memory_formats.contiguous_format:
        return input if x.flags.c_contiguous else record(_c_order(x), (input,), _identity_rule, "CloneBackward0")
    fmt = memory_formats.checked("contiguous", memory_format)
    if memory_formats.is_contiguous(x.shape, memory_formats.visible_strides(x), fmt):
        return input
    if fmt is memory_formats.preserve_format:
        raise RuntimeError("contiguous: preserve memory format is unsupported by the contiguous operator")
    return record(memory_formats.copy("contiguous", x, fmt), (input,), _identity_rule, "CloneBackward0")


def _identity_rule(xp, g, out, x):
    return g


@op
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """flatten(input, start_dim=0, end_dim=-1): merge dims ``start_dim..end_dim`` into one (0-d becomes 1-d).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3, 4).flatten(1).shape
    tapegrad.Size([2, 12])
    """
    shape = input._data.shape
    n = len(shape)
    s, e = _dim("flatten", start_dim, n), _dim("flatten", end_dim, n)
    if s > e:
        raise RuntimeError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim} "
                           f"(tensor of shape {tuple(shape)})")
    if n == 0:
        return reshape(input, (1,))
    if s == e:
        return input  # nothing to merge: the tensor itself, as PyTorch
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


@op
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """unflatten(input, dim, sizes): split dimension ``dim`` into ``sizes`` (one may be -1).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 12).unflatten(1, (3, -1)).shape
    tapegrad.Size([2, 3, 4])
    """
    shape = input._data.shape
    if not shape:
        raise RuntimeError("unflatten: cannot unflatten a 0-d tensor (dimension specified as "
                           f"{dim} but the tensor has no dimensions)")
    d = _dim("unflatten", dim, len(shape))
    sizes = _sizes("unflatten", (sizes,))
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    _check_shape("unflatten", sizes, input._data)
    n = shape[d]
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise RuntimeError(f"unflatten: sizes {list(sizes)} don't multiply up to the size of dim {d} ({n}) "
                           f"of the tensor of shape {tuple(shape)}")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


@op
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """unsqueeze(input, dim): insert a dimension of size 1 at ``dim`` (a view).

    >>> import tapegrad as tg
    >>> tg.zeros(3).unsqueeze(0).shape
    tapegrad.Size([1, 3])
    """
    x = input._data
    d = _dim("unsqueeze", dim, x.ndim + 1)
    in_shape = x.shape

    def rule(xp, g, out, x):
        return g.reshape(in_shape)

    return record(x.reshape(in_shape[:d] + (1,) + in_shape[d:]), (input,), rule, "UnsqueezeBackward0")


_ALL = object()  # squeeze's default: every dim of size 1 (an explicit None is an error, as in PyTorch)


@op
def squeeze(input: Tensor, dim=_ALL) -> Tensor:
    """squeeze(input, dim=None): remove dimensions of size 1 (all of them, or those of ``dim``: int or tuple).

    >>> import tapegrad as tg
    >>> tg.zeros(1, 3, 1).squeeze().shape
    tapegrad.Size([3])
    """
    x = input._data
    shape = x.shape
    if dim is _ALL:
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
    elif dim is None:
        raise TypeError("squeeze: dim must be an int or a tuple of ints (or left out for every dim of size 1), got "
                        "None")
    else:
        axes = tuple(d for d in _dims("squeeze", dim, len(shape)) if shape and shape[d] == 1)
    in_shape = shape

    def rule(xp, g, out, x):
        return g.reshape(in_shape)

    name = "SqueezeBackward0" if dim is _ALL else "SqueezeBackward2" if isinstance(dim, (tuple, list)) \
        else "SqueezeBackward1"
    return record(x.squeeze(axes) if axes else x.view(), (input,), rule, name)


# ---------------------------------------------------------------------- reordering dimensions
@op(methods=("transpose", "swapaxes", "swapdims"))
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """transpose(input, dim0, dim1): swap two dimensions (a view).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).transpose(0, 1).shape
    tapegrad.Size([3, 2])
    """
    x = input._data
    n = x.ndim
    d0, d1 = _dim("transpose", dim0, n), _dim("transpose", dim1, n)
    if not n:
        return record(x.view(), (input,), _identity_rule, "TransposeBackward0")

    def rule(xp, g, out, x):
        return xp.swapaxes(g, d0, d1)

    return record(x.swapaxes(d0, d1), (input,), rule, "TransposeBackward0")


swapaxes = swapdims = transpose


@op
def permute(input: Tensor, *args, dims=None) -> Tensor:
    """permute(input, dims): reorder the dimensions (a view). ``x.permute(2, 0, 1)``, ``x.permute((2, 0, 1))``
    and ``permute(x, dims=(2, 0, 1))`` are the same.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3, 4).permute(2, 0, 1).shape
    tapegrad.Size([4, 2, 3])
    """
    dims = _sizes("permute", _keyword("permute", args, "dims", dims))
    x = input._data
    n = x.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute: the number of dims {len(dims)} ({list(dims)}) doesn't match the "
                           f"tensor's {n} dimensions (shape {tuple(x.shape)})")
    axes = _dims("permute", dims, n)
    inverse = _inverse(axes)

    def rule(xp, g, out, x):
        return xp.transpose(g, inverse)

    return record(x.transpose(axes), (input,), rule, "PermuteBackward0")


def _inverse(perm):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return tuple(inverse)


def _reverse_dims(self):
    return record(self._data.transpose(), (self,), _reverse_rule, "PermuteBackward0")


def _reverse_rule(xp, g, out, x):
    return xp.transpose(g)


_DEPRECATED_0D = {"mT": "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases.",
                  "mH": "Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().",
                  "H": "Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                  "adjoint": "adjoint() is deprecated on 0-D tensors. Consider using x.conj()."}


def _matrix_transpose(self, op):
    """The last two dims swapped (mT, mH, adjoint); a 0-d tensor comes back itself, as in PyTorch."""
    n = self._data.ndim
    if n == 0:
        warnings.warn(_DEPRECATED_0D[op], UserWarning, stacklevel=3)
        return self
    if n < 2:
        raise RuntimeError(f"{op}: only supported on matrices or batches of matrices, got a tensor of {n} "
                           f"dimension(s)")
    return transpose(self, -2, -1)


def _mT(self):
    return _matrix_transpose(self, "mT")


def _mH(self):
    return _matrix_transpose(self, "mH")  # real dtypes only: the conjugate transpose is the transpose


def _H(self):
    n = self._data.ndim
    if n == 0:
        warnings.warn(_DEPRECATED_0D["H"], UserWarning, stacklevel=2)
        return self
    if n != 2:
        batches = "; for batches of matrices use mH" if n > 2 else ""
        raise RuntimeError(f"H: only supported on matrices (2-D tensors), got a tensor of {n} dimension(s)"
                           f"{batches}")
    return transpose(self, 0, 1)


# (the stub, tapegrad/_tensor.pyi, shows them as properties)
Tensor.T = property(_reverse_dims, doc="T: the dimensions reversed (the transpose of a matrix).")  # type: ignore
Tensor.mT = property(_mT, doc="mT: the last two dimensions swapped (batched matrix transpose).")  # type: ignore
Tensor.mH = property(_mH, doc="mH: the conjugate transpose of batched matrices (mT for real dtypes).")  # type: ignore
Tensor.H = property(_H, doc="H: the (conjugate) transpose of a matrix.")  # type: ignore


@op
def t(input: Tensor) -> Tensor:
    """t(input): transpose a tensor of at most 2 dimensions (a 0-d or 1-d tensor comes back unchanged).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).t().shape
    tapegrad.Size([3, 2])
    """
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got {n} (shape {tuple(input.shape)}); "
                           "use transpose(dim0, dim1) or mT")
    x = input._data
    if n < 2:
        return record(x.view(), (input,), _identity_rule, "TBackward0")
    return record(x.T, (input,), _t_rule, "TBackward0")


def _t_rule(xp, g, out, x):
    return g.mT


@op
def adjoint(input: Tensor) -> Tensor:
    """adjoint(input): the last two dimensions swapped (``mT``; real dtypes need no conjugation).

    >>> import tapegrad as tg
    >>> tg.zeros(5, 2, 3).adjoint().shape
    tapegrad.Size([5, 3, 2])
    """
    return _matrix_transpose(input, "adjoint")


@op(methods=("movedim", "moveaxis"))
def movedim(input: Tensor, source, destination) -> Tensor:
    """movedim(input, source, destination): move dims (an int or tuple) to new positions (a view).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3, 4).movedim(0, -1).shape
    tapegrad.Size([3, 4, 2])
    """
    x = input._data
    n = x.ndim
    src, dst = _dims("movedim", source, n), _dims("movedim", destination, n)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must name the same "
                           "number of dims")
    rest = iter([i for i in range(n) if i not in src])
    where = dict(zip(dst, src, strict=True))
    perm = tuple(where[i] if i in where else next(rest) for i in range(n))  # as np.moveaxis
    inverse = _inverse(perm)

    def rule(xp, g, out, x):
        return xp.transpose(g, inverse)

    return record(x.transpose(perm), (input,), rule, "PermuteBackward0")


moveaxis = movedim


# ---------------------------------------------------------------------- broadcasting
@op
def expand(input: Tensor, *sizes, size=None) -> Tensor:
    """expand(input, *sizes): a broadcast view of larger size; -1 keeps a dimension. No copy (read-only).

    >>> import tapegrad as tg
    >>> tg.zeros(3, 1).expand(2, 3, 4).shape
    tapegrad.Size([2, 3, 4])
    """
    sizes = _sizes("expand", _keyword("expand", sizes, "size", size), bools=True)
    x = input._data
    shape, strides = x.shape, x.strides
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)}, shape {tuple(shape)})")
    if lead and builtins.min(sizes[:lead]) < 0:
        raise RuntimeError(f"expand: sizes {list(sizes)} must be non-negative in the new leading dimensions "
                           f"(-1 is not allowed there; tensor shape {tuple(shape)})")
    wanted, new_strides = list(sizes), [0] * len(sizes)
    for i, s in enumerate(shape):
        t = sizes[lead + i]
        if t == s or t == -1:
            wanted[lead + i], new_strides[lead + i] = s, strides[i]
        elif s != 1 or t < 0:
            raise RuntimeError(f"expand: the expanded size {list(sizes)} must match the existing size "
                               f"{list(shape)} at non-singleton dimensions")
    target = tuple(wanted)
    if not x.size:  # no element at all: nothing shared, writable (as PyTorch)
        out = _strided_view(x, target, tuple(new_strides), writeable=True)
    elif not any(t > 1 for t, st in zip(target, new_strides) if st == 0):
        # no element shared (only unit dims are broadcast): a writable view, as PyTorch
        out = x.reshape((1,) * lead + shape)
        if out.shape != target:
            out = out[tuple(slice(0, t) for t in target)]
    elif x.flags.c_contiguous and x.size:
        # NOTE: np.broadcast_to costs ~6 us per call; a zero-stride ndarray over the same buffer ~1.5 us
        out = np.ndarray(target, x.dtype, x, 0, tuple(new_strides))
        out.flags.writeable = False  # several elements share one location: PyTorch refuses writes into them
    else:
        out = np.broadcast_to(x, target)

    return record(out, (input,), _identity_rule, "ExpandBackward0")  # the engine sums the broadcast dims back


@op
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """expand_as(other): ``input.expand(other.shape)``.

    >>> import tapegrad as tg
    >>> tg.zeros(3, 1).expand_as(tg.zeros(3, 4)).shape
    tapegrad.Size([3, 4])
    """
    return expand(input, other._data.shape)


@op
def broadcast_to(input: Tensor, size) -> Tensor:
    """broadcast_to(input, size): ``input.expand(size)``.

    >>> import tapegrad as tg
    >>> tg.broadcast_to(tg.zeros(3), (2, 3)).shape
    tapegrad.Size([2, 3])
    """
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"broadcast_to: size must be a tuple of ints, got {type(size).__name__}")
    return expand(input, size)


def broadcast_shapes(*shapes) -> Size:
    """broadcast_shapes(*shapes) -> Size: the shape that tensors of the given shapes broadcast to.

    >>> import tapegrad as tg
    >>> tg.broadcast_shapes((3, 1), (4,))
    tapegrad.Size([3, 4])
    """
    given = [(s,) if _is_int(s) else tuple(s) for s in shapes]
    try:
        return Size(np.broadcast_shapes(*given))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: shapes {', '.join(str(s) for s in given)} cannot be "
                           "broadcast together (sizes must be equal or 1, aligned from the right)") from None


def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    """meshgrid(*tensors, indexing='ij'): coordinate grids from 0-d or 1-d tensors, as views (expand).

    With N inputs of sizes S0..SN-1, output i has shape (S0, ..., SN-1) and holds input i along dim i. With
    ``indexing='xy'`` the first two dims are swapped (numpy's default: output shape (S1, S0, ...)). The
    default, as in PyTorch, is 'ij'. Differentiable: each input gets the sum of its grid's gradient.

    >>> import tapegrad as tg
    >>> xs, ys = tg.meshgrid(tg.tensor([1, 2, 3]), tg.tensor([4, 5]), indexing="ij")
    >>> xs
    tensor([[1, 1],
            [2, 2],
            [3, 3]])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid: expected a non-empty list of tensors")
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid: expected tensors, got {type(t).__name__} at position {i}")
        if t._data.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-d or 1-d tensors, got shape {tuple(t._data.shape)} at "
                               f"position {i}")
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(f"meshgrid: expected all tensors to have the same dtype, got "
                               f"{tensors[0]._data.dtype} at position 0 and {t._data.dtype} at position {i}")
    swap = indexing == "xy" and len(tensors) > 1
    if swap:
        tensors = (tensors[1], tensors[0]) + tuple(tensors[2:])
    n = len(tensors)
    shape = tuple(t._data.size for t in tensors)
    grids = [expand(reshape(t, (1,) * i + (-1,) + (1,) * (n - 1 - i)), shape) for i, t in enumerate(tensors)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    """broadcast_tensors(*tensors): the tensors expanded to their common broadcast shape.

    >>> import tapegrad as tg
    >>> [tuple(t.shape) for t in tg.broadcast_tensors(tg.zeros(3, 1), tg.zeros(4))]
    [(3, 4), (3, 4)]
    """
    shape = broadcast_shapes(*(t._data.shape for t in tensors))
    # as PyTorch (expand_outplace): a tensor that has the shape already is returned itself, not a new view
    return tuple(t if t._data.shape == shape else expand(t, shape) for t in tensors)


@op
def repeat(input: Tensor, *sizes, repeats=None) -> Tensor:
    """repeat(input, *repeats): tile the tensor ``repeats[i]`` times along each dim (may add leading dims);
    the repeats may also be given as one sequence or as ``repeats=``.

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2]).repeat(2, 2)
    tensor([[1, 2, 1, 2],
            [1, 2, 1, 2]])
    """
    reps = _sizes("repeat", _keyword("repeat", sizes, "repeats", repeats))
    if len(reps) < input._data.ndim:
        raise RuntimeError(f"repeat: the number of repeat dims ({len(reps)}, {list(reps)}) can not be "
                           f"smaller than the number of dimensions of the tensor ({input._data.ndim})")
    return _tile("repeat", input, reps)


@op
def tile(input: Tensor, dims) -> Tensor:
    """tile(input, dims): like ``repeat``, but 1s are prepended to ``dims`` if it is shorter than the shape.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).tile((2,)).shape
    tapegrad.Size([2, 6])
    """
    reps = _sizes("tile", (dims,))
    return _tile("tile", input, (1,) * (input._data.ndim - len(reps)) + reps)


def _tile(op, input, reps):
    if builtins.min(reps, default=0) < 0:
        raise RuntimeError(f"{op}: repeats must be non-negative, got {list(reps)}")
    x = input._data
    in_shape = x.shape
    shape = (1,) * (len(reps) - x.ndim) + in_shape
    out = _c_order(np.tile(x.reshape(shape), reps))  # numpy keeps an F-ordered input's order
    if not out.size:  # (numpy's tile of an empty array is a reshape of it: a view; PyTorch's repeat is a new tensor)
        out = out.copy()
    split = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))  # out as (r0, s0, r1, s1, ..)
    axes = tuple(range(0, 2 * len(reps), 2))

    def rule(xp, g, out, x):
        return g.reshape(split).sum(axis=axes).reshape(in_shape)

    return record(out, (input,), rule, "RepeatBackward0")


# ---------------------------------------------------------------------- joining
def _tensor_list(op, tensors):
    """``tensors`` as a non-empty list of Tensors, or a clear error."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of tensors, got a single Tensor of shape "
                        f"{tuple(tensors.shape)}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a sequence of tensors, but item {k} is {type(t).__name__}")
    return tensors


def _promoted(tensors):
    """The tensors cast to the dtype of joining them, as PyTorch: the highest category (bool, integer, floating)
    wins, and within it the promoted type of all of them; every input counts as dimensioned (cat refuses 0-d
    tensors, and stack, hstack and vstack join 1-d or larger views of them, so a 0-d float64 tensor does promote
    float32 ones here)."""
    dtype = tensors[0]._data.dtype
    for t in tensors:
        other = t._data.dtype
        if other != dtype:
            a, b = dtypes.category(dtype), dtypes.category(other)
            dtype = dtype if a > b else other if b > a else np.promote_types(dtype, other)
    return [t if t._data.dtype == dtype else t.type(dtype) for t in tensors]


def cat(tensors, dim: int = 0, *, axis: int | None = None, out=None) -> Tensor:
    """cat(tensors, dim=0): join tensors along an existing dimension (dtypes are promoted).

    As in PyTorch, 1-d empty tensors (shape ``(0,)``) are skipped whatever the other shapes (a legacy rule),
    though they still take part in the result's dtype and get a gradient.

    >>> import tapegrad as tg
    >>> tg.cat([tg.zeros(2, 3), tg.ones(1, 3)]).shape
    tapegrad.Size([3, 3])
    >>> tg.cat([tg.tensor([1, 2]), tg.tensor([])])  # the empty float tensor makes the result float
    tensor([1., 2.])
    """
    if out is not None:
        raise TypeError("cat: out= is not supported; assign the result instead")
    tensors = _tensor_list("cat", tensors)
    if axis is not None:
        dim = axis
    for k, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {k}) cannot be concatenated")
    tensors = _promoted(tensors)
    kept = [(k, t._data) for k, t in enumerate(tensors) if t._data.shape != (0,)]
    if not kept:  # only legacy empty tensors: the dim is not checked (PyTorch's legacy_cat_wrap_dim)
        return record(tensors[0]._data.copy(), tuple(tensors), _cat_rule([None] * len(tensors)), "CatBackward0")
    d = _dim("cat", dim, kept[0][1].ndim)
    try:
        # PyTorch's cat is contiguous; numpy's follows its inputs' order (F-ordered inputs give an F result)
        result = _c_order(np.concatenate([a for _, a in kept], axis=d))
    except ValueError:
        raise _join_error("cat", kept, d) from None
    if result.ndim in (4, 5):  # ... unless every input suggests one channels-last format (PyTorch's rule)
        result = memory_formats.follow_channels_last(result, *(a for _, a in kept), every=True)
    pieces = [None] * len(tensors)
    start = 0
    for k, a in kept:
        pieces[k] = (slice(None),) * d + (slice(start, start + a.shape[d]),)
        start += a.shape[d]
    return record(result, tuple(tensors), _cat_rule(pieces), "CatBackward0")


def _cat_rule(pieces):
    """The gradient of each input of cat: its slice of ``g`` (an empty one for a skipped 1-d empty input)."""
    if len(pieces) == 1:  # a rule of one input returns its gradient (not a tuple)
        return _identity_rule if pieces[0] is not None else _empty_rule

    def rule(xp, need, g, out, *xs):
        return tuple(None if not n else g[p] if p is not None else g.reshape(-1)[:0] for p, n in zip(pieces, need))

    return rule


def _empty_rule(xp, g, out, x):
    return g.reshape(-1)[:0]


concat = concatenate = cat


def _join_error(op, arrays, d):
    """The error for joining ``arrays`` (pairs of their position among the inputs and the array) along ``d``."""
    j, first = arrays[0]
    for k, a in arrays:
        if a.ndim != first.ndim:
            return RuntimeError(f"{op}: tensors must have the same number of dimensions: tensor {j} has shape "
                                f"{tuple(first.shape)} but tensor {k} has shape {tuple(a.shape)}")
    for k, a in arrays:
        for i, (s, t) in enumerate(zip(first.shape, a.shape, strict=True)):
            if s != t and i != d:
                return RuntimeError(f"{op}: sizes of tensors must match except in dimension {d}: tensor {j} "
                                    f"has shape {tuple(first.shape)} but tensor {k} has shape "
                                    f"{tuple(a.shape)} (sizes {s} and {t} differ in dimension {i})")
    return RuntimeError(f"{op}: cannot join tensors of shapes {[tuple(a.shape) for _, a in arrays]} along "
                        f"dim {d}")


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """stack(tensors, dim=0): join tensors of equal shape along a new dimension (dtypes are promoted).

    >>> import tapegrad as tg
    >>> tg.stack([tg.zeros(2, 3), tg.ones(2, 3)], dim=1).shape
    tapegrad.Size([2, 2, 3])
    """
    if out is not None:
        raise TypeError("stack: out= is not supported; assign the result instead")
    tensors = _promoted(_tensor_list("stack", tensors))
    arrays = [t._data for t in tensors]
    shape = arrays[0].shape
    for k, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(f"stack: expects each tensor to be of equal size, but got {tuple(shape)} at "
                               f"entry 0 and {tuple(a.shape)} at entry {k}")
    d = _dim("stack", dim, len(shape) + 1)
    lead = (slice(None),) * d

    def rule(xp, need, g, out, *xs):
        return tuple(g[lead + (k,)] if n else None for k, n in enumerate(need))

    def rule_one(xp, g, out, x):  # a rule of one input returns its gradient (not a tuple)
        return g[lead + (0,)]

    out = _c_order(np.stack(arrays, axis=d))  # contiguous, as PyTorch's (numpy follows the inputs)
    return record(out, tuple(tensors), rule if len(tensors) > 1 else rule_one, "StackBackward0")


def hstack(tensors) -> Tensor:
    """hstack(tensors): join along dim 1 (dim 0 for 1-d tensors).

    >>> import tapegrad as tg
    >>> tg.hstack([tg.zeros(2), tg.zeros(3)]).shape
    tapegrad.Size([5])
    """
    tensors = [t if t._data.ndim else reshape(t, (1,)) for t in _tensor_list("hstack", tensors)]
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """vstack(tensors): join along dim 0, 0-d and 1-d tensors first becoming rows.

    >>> import tapegrad as tg
    >>> tg.vstack([tg.zeros(3), tg.zeros(3)]).shape
    tapegrad.Size([2, 3])
    """
    tensors = [t if t._data.ndim >= 2 else reshape(t, (1, -1)) for t in _tensor_list("vstack", tensors)]
    return cat(tensors, 0)


# ---------------------------------------------------------------------- pieces
def _piece(input, index, name):
    """input[index], where ``index`` selects along one dim only (basic indexing: a view)."""
    x = input._data
    shape = x.shape

    def rule(xp, g, out, x):
        return xp.add_at(shape, index, g)

    return record(x[index + (Ellipsis,)], (input,), rule, name)  # with ..., a 0-d result is a view, not a copy


@op
def narrow(input: Tensor, dim: int, start, length) -> Tensor:
    """narrow(input, dim, start, length): the slice ``start:start + length`` of dimension ``dim`` (a view).

    >>> import tapegrad as tg
    >>> tg.arange(5).narrow(0, 1, 3)
    tensor([1, 2, 3])
    """
    shape = input._data.shape
    d = _dim("narrow", dim, len(shape))
    n = shape[d] if shape else 1
    if isinstance(start, Tensor) and (start._data.ndim or start._data.dtype.kind not in "iu"):
        raise RuntimeError(f"narrow: start must be a 0-dim integral tensor, got a {start._data.dtype} tensor of "
                           f"shape {tuple(start._data.shape)}")
    start, length = _int("narrow", "start", start), _int("narrow", "length", length)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dimension {d} of size {n} "
                         f"(expected {-n} to {n})")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {n}")
    return _piece(input, (slice(None),) * d + (slice(start, start + length),), "SliceBackward0")


@op
def select(input: Tensor, dim: int, index) -> Tensor:
    """select(input, dim, index): the slice at ``index`` of dimension ``dim``, which is removed (a view).

    >>> import tapegrad as tg
    >>> tg.arange(6).reshape(2, 3).select(1, -1)
    tensor([2, 5])
    """
    shape = input._data.shape
    d = _dim("select", dim, len(shape))
    if not shape:
        raise IndexError("select: cannot select from a 0-d tensor")
    n = shape[d]
    i = _int("select", "index", index)
    if not -n <= i < n:
        raise IndexError(f"select: index {i} is out of range for dimension {d} of size {n} "
                         f"(tensor of shape {tuple(shape)})")
    return _piece(input, (slice(None),) * d + (i % n,), "SelectBackward0")


@op
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """split(tensor, split_size_or_sections, dim=0): views of pieces of the given size (the last may be
    smaller) or of the listed sizes.

    >>> import tapegrad as tg
    >>> [tuple(p.shape) for p in tg.zeros(5, 2).split([2, 3])]
    [(2, 2), (3, 2)]
    """
    shape = tensor._data.shape
    d = _dim("split", dim, len(shape))
    if not shape:
        raise RuntimeError("split: expects at least a 1-dimensional tensor, got a 0-d tensor")
    n = shape[d]
    if isinstance(split_size_or_sections, (tuple, list)):
        name = "SplitWithSizesBackward0"
        sizes = _sizes("split", (split_size_or_sections,))  # bools refused, as PyTorch
        if builtins.min(sizes, default=0) < 0 or builtins.sum(sizes) != n:
            raise RuntimeError(f"split: split sizes {list(sizes)} must be non-negative and sum exactly to "
                               f"{n}, the size of dimension {d} (tensor of shape {tuple(shape)})")
    else:
        name = "SplitBackward0"
        size = _int("split", "split_size", split_size_or_sections)
        if size < 0 or (size == 0 and n):
            raise RuntimeError(f"split: split_size must be positive (or 0 only for an empty dimension), got "
                               f"{size} for dimension {d} of size {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    return _split(tensor, d, sizes, name)


def _split(input, d, sizes, name):
    """The pieces of ``sizes`` along dim ``d``: views that PyTorch forbids writing into under grad mode."""
    bounds = list(itertools.accumulate(sizes, initial=0))
    lead = (slice(None),) * d
    pieces = tuple(_piece(input, lead + (slice(a, b),), name) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    mark_multi_output(pieces, name)
    return pieces


@op
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """chunk(input, chunks, dim=0): split into ``chunks`` views of ceil(size / chunks) (maybe fewer pieces).

    An empty dim gives ``chunks`` empty pieces, as in PyTorch.

    >>> import tapegrad as tg
    >>> [tuple(p.shape) for p in tg.zeros(5).chunk(3)]
    [(2,), (2,), (1,)]
    """
    chunks = _int("chunk", "chunks", chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk: expects `chunks` to be greater than 0, got {chunks}")
    shape = input._data.shape
    d = _dim("chunk", dim, len(shape))
    if not shape:
        raise RuntimeError("chunk: expects at least a 1-dimensional tensor, got a 0-d tensor")
    n = shape[d]
    if not n:  # an empty dim gives `chunks` empty pieces (PyTorch's split_with_sizes)
        return _split(input, d, [0] * chunks, "SplitWithSizesBackward0")
    size = -(-n // chunks)
    return _split(input, d, [size] * (n // size) + ([n % size] if n % size else []), "SplitBackward0")


@op
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """unbind(input, dim=0): the tuple of slices along ``dim``, with that dimension removed.

    >>> import tapegrad as tg
    >>> [t.tolist() for t in tg.tensor([[1, 2], [3, 4]]).unbind(1)]
    [[1, 3], [2, 4]]
    """
    shape = input._data.shape
    d = _dim("unbind", dim, len(shape))
    if not shape:
        raise RuntimeError("unbind: a 0-d tensor cannot be unbound")
    lead = (slice(None),) * d
    pieces = tuple(_piece(input, lead + (i,), "UnbindBackward0") for i in range(shape[d]))
    mark_multi_output(pieces, "UnbindBackward0")
    return pieces


@op
def tensor_split(input: Tensor, indices_or_sections=None, dim: int = 0, *, sections: int | None = None,
                 indices=None, tensor_indices_or_sections: Tensor | None = None) -> tuple[Tensor, ...]:
    """tensor_split(input, indices_or_sections, dim=0): views of ``input`` cut along ``dim``: into
    ``sections`` pieces as equal as possible (the first ``size % sections`` one longer), or at the given
    ``indices`` (``x[:i0], x[i0:i1], ..., x[ik:]``, Python's slicing rules). A 0-d or 1-d int64 tensor is a
    number of sections or a list of indices.

    >>> import tapegrad as tg
    >>> [t.tolist() for t in tg.arange(7).tensor_split(3)]
    [[0, 1, 2], [3, 4], [5, 6]]
    >>> [t.tolist() for t in tg.arange(7).tensor_split([1, 5])]
    [[0], [1, 2, 3, 4], [5, 6]]
    """
    given = [v for v in (indices_or_sections, sections, indices, tensor_indices_or_sections) if v is not None]
    if len(given) != 1:
        raise TypeError("tensor_split: expected exactly one of indices_or_sections, sections, indices or "
                        f"tensor_indices_or_sections, got {len(given)}")
    how = given[0]
    shape = input._data.shape
    if not shape:
        raise RuntimeError("tensor_split: expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _dim("tensor_split", dim, len(shape))
    if isinstance(how, Tensor):
        t = how._data
        if t.ndim > 1:
            raise RuntimeError("tensor_split: expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {t.ndim} dims")
        if t.dtype != np.int64:
            raise RuntimeError(f"tensor_split: expected tensor_indices_or_sections to have dtype of int64, but "
                               f"got {t.dtype}")
        how = int(t) if t.ndim == 0 else t.tolist()
    n = shape[d]
    lead = (slice(None),) * d
    if isinstance(how, (tuple, list)):
        cuts = _sizes("tensor_split", (how,))
        bounds = [slice(a, b) for a, b in zip((0,) + cuts, cuts + (None,), strict=True)]
    else:
        if isinstance(how, bool):
            raise TypeError("tensor_split: sections must be an int, got bool")
        k = operator.index(how)
        if k <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {k}")
        size, extra = divmod(n, k)
        starts = list(itertools.accumulate((size + (i < extra) for i in range(k)), initial=0))
        bounds = [slice(a, b) for a, b in zip(starts[:-1], starts[1:], strict=True)]
    # Python's slicing (negative and out-of-range cuts) made explicit, so each piece is a basic-index view
    return tuple(_piece(input, lead + (slice(*b.indices(n)[:2]),), "SliceBackward0") for b in bounds)


@op(methods=("unfold",), xp_name=False)
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Tensor.unfold(dimension, size, step): every slice of ``size`` elements along ``dimension``, ``step``
    apart, as a new last dimension: a view (no copy). Windows that overlap share memory, so such a view is
    read-only.

    >>> import tapegrad as tg
    >>> tg.arange(6).unfold(0, 3, 2)
    tensor([[0, 1, 2],
            [2, 3, 4]])
    """
    x = input._data
    d = _dim("unfold", dimension, x.ndim)
    for what, v in (("size", size), ("step", step)):
        if not _is_int(v) or isinstance(v, bool):
            raise TypeError(f"unfold: {what} must be an int, got {type(v).__name__}")
    size, step = operator.index(size), operator.index(step)
    n = x.shape[d] if x.ndim else 1
    if size < 0:
        raise RuntimeError(f"unfold: size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    if not x.ndim:  # a 0-d tensor is one window of size 0 or 1
        return record(x.reshape(1)[:size], (input,), _unfold_0d_rule, "UnfoldBackward0")
    windows = (n - size) // step + 1
    shape = x.shape[:d] + (windows,) + x.shape[d + 1:] + (size,)
    strides = x.strides[:d] + (x.strides[d] * step,) + x.strides[d + 1:] + (x.strides[d],)
    out = _strided_view(x, shape, strides, writeable=step >= size or windows <= 1 or not size)
    index = (slice(None),) * d + (np.arange(windows)[:, None] * step + np.arange(size),)
    in_shape = x.shape

    def rule(xp, g, out, x):
        # each window's gradient back to its elements (overlapping windows add up)
        return xp.add_at(in_shape, index, xp.moveaxis(g, -1, d + 1))

    return record(out, (input,), rule, "UnfoldBackward0")


def _unfold_0d_rule(xp, g, out, x):
    return g.sum()


def _c_order(a):
    """``a`` in row-major order (a copy only if it is not; unlike np.ascontiguousarray, 0-d stays 0-d)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def _strided_view(x, shape, strides, writeable):
    """A numpy view of ``x``'s memory with ``shape`` and byte ``strides``, whose base is ``x``'s (so ``record``
    registers it as a view of ``x``'s tensor)."""
    owner = x if x.base is None else x.base
    if isinstance(owner, np.ndarray) and (owner.flags.c_contiguous or owner.flags.f_contiguous):
        offset = x.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
        out = np.ndarray(shape, x.dtype, owner, offset, strides)
        if not (writeable and x.flags.writeable):
            out.flags.writeable = False
        return out
    # memory numpy cannot hand out again as a buffer: a read-only view (writes refused, never lost)
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


# ---------------------------------------------------------------------- rearranging values
@op
def flip(input: Tensor, *args, dims=None) -> Tensor:
    """flip(input, dims): reverse the order of elements along the given dims (a copy, as PyTorch).
    ``x.flip(0, 1)``, ``x.flip((0, 1))`` and ``flip(x, dims=[0, 1])`` are the same.

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2, 3]).flip(0)
    tensor([3, 2, 1])
    """
    dims = _keyword("flip", args, "dims", dims)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    x = input._data
    axes = _dims("flip", list(dims), x.ndim)
    if not x.ndim:
        axes = ()  # a 0-d tensor has nothing to reverse (dims -1 and 0 are valid)

    def rule(xp, g, out, x):
        return xp.flip(g, axes)

    reverse = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    # PyTorch's flip keeps the order of the input's dims in memory (a transposed matrix gives a transposed result)
    return record(x[reverse].copy(order="K"), (input,), rule, "FlipBackward0")


@op
def fliplr(input: Tensor) -> Tensor:
    """fliplr(input): flip dimension 1 (left/right).

    >>> import tapegrad as tg
    >>> tg.tensor([[1, 2, 3]]).fliplr()
    tensor([[3, 2, 1]])
    """
    if input._data.ndim < 2:
        raise RuntimeError(f"fliplr: input must be >= 2-d, got shape {tuple(input.shape)}")
    return flip(input, 1)


@op
def flipud(input: Tensor) -> Tensor:
    """flipud(input): flip dimension 0 (up/down).

    >>> import tapegrad as tg
    >>> tg.tensor([[1], [2]]).flipud()
    tensor([[2],
            [1]])
    """
    if input._data.ndim < 1:
        raise RuntimeError("flipud: input must be >= 1-d, got a 0-d tensor")
    return flip(input, 0)


@op
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """roll(input, shifts, dims=None): shift elements cyclically along ``dims`` (or the flattened tensor).

    >>> import tapegrad as tg
    >>> tg.tensor([1, 2, 3, 4]).roll(1)
    tensor([4, 1, 2, 3])
    """
    x = input._data
    shifts = _sizes("roll", (shifts,)) if isinstance(shifts, (tuple, list)) else (_int("roll", "shifts", shifts),)
    if not shifts:
        raise RuntimeError("roll: `shifts` required")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts {list(shifts)} need dims of the same length (or one shift to "
                               "roll the flattened tensor)")
        shift, axes, back = shifts[0], None, -shifts[0]
    else:
        dims = dims if isinstance(dims, (tuple, list)) else (dims,)
        if not x.ndim and dims:
            raise IndexError(f"roll: dimension specified as {dims[0]} but the tensor has no dimensions (PyTorch rolls "
                             "a 0-d tensor only without dims)")
        axes = tuple(_dim("roll", d, x.ndim) for d in dims)
        if len(axes) != len(shifts):
            raise RuntimeError(f"roll: shifts and dims must align: got {len(shifts)} shift(s) {list(shifts)} "
                               f"and {len(axes)} dim(s) {list(axes)}")
        shift, back = shifts, tuple(-s for s in shifts)

    if not x.ndim:  # a 0-d tensor: nothing to roll
        return record(x.copy(), (input,), _identity_rule, "RollBackward0")

    def rule(xp, g, out, x):
        return xp.roll(g, back, axes)

    return record(_c_order(np.roll(x, shift, axes)), (input,), rule, "RollBackward0")  # as PyTorch's


@op
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """tril(input, diagonal=0): zero the elements above the ``diagonal``-th diagonal of the last two dims.

    >>> import tapegrad as tg
    >>> tg.ones(2, 2).tril()
    tensor([[1., 0.],
            [1., 1.]])
    """
    return _triangle("tril", np.tril, input, diagonal)


@op
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """triu(input, diagonal=0): zero the elements below the ``diagonal``-th diagonal of the last two dims.

    >>> import tapegrad as tg
    >>> tg.ones(2, 2).triu(1)
    tensor([[0., 1.],
            [0., 0.]])
    """
    return _triangle("triu", np.triu, input, diagonal)


def _triangle(op, fn, input, diagonal):
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(x.shape)}")
    k = _int(op, "diagonal", diagonal)
    name = fn.__name__

    def rule(xp, g, out, x):
        return getattr(xp, name)(g, k)

    return record(_c_order(fn(x, k)), (input,), rule, f"{name.capitalize()}Backward0")


@op
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """diagonal(input, offset=0, dim1=0, dim2=1): the diagonal of the (dim1, dim2) planes, as the last dim
    (a view: writes into it reach ``input``).

    >>> import tapegrad as tg
    >>> tg.arange(9).reshape(3, 3).diagonal(1)
    tensor([1, 5])
    """
    return _diagonal("diagonal", input, offset, dim1, dim2, copy=False)


def _diagonal(op, input, offset, dim1, dim2, copy):
    x = input._data
    shape = x.shape
    d1, d2 = _dim(op, dim1, x.ndim), _dim(op, dim2, x.ndim)
    if d1 == d2:
        raise RuntimeError(f"{op}: dim1 and dim2 cannot be identical, got {dim1} and {dim2}")
    offset = _int(op, "offset", offset)
    out = np.diagonal(x, offset, d1, d2)
    if not copy and x.flags.writeable:
        out.flags.writeable = True  # NOTE: numpy hands out read-only diagonals; PyTorch's is a writable view
    n = out.shape[-1]
    rows = np.arange(builtins.max(-offset, 0), builtins.max(-offset, 0) + n)
    cols = np.arange(builtins.max(offset, 0), builtins.max(offset, 0) + n)
    moved = tuple(s for i, s in enumerate(shape) if i not in (d1, d2)) + (shape[d1], shape[d2])
    index = (Ellipsis, rows, cols)

    def rule(xp, g, out, x):
        # x with dims (d1, d2) moved last, zero but for its diagonal, moved back
        return xp.moveaxis(xp.add_at(moved, index, g), (-2, -1), (d1, d2))

    if copy:
        return record(out.copy(), (input,), rule, "DiagonalBackward0_copy")
    return record(out, (input,), rule, "DiagonalBackward0")


@op
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """diag(input, diagonal=0): a vector -> the square matrix with it on a diagonal; a matrix -> a diagonal.

    >>> import tapegrad as tg
    >>> tg.diag(tg.tensor([1, 2]))
    tensor([[1, 0],
            [0, 2]])
    """
    x = input._data
    k = _int("diag", "diagonal", diagonal)
    if x.ndim == 2:
        return _diagonal("diag", input, k, 0, 1, copy=True)
    if x.ndim != 1:
        raise RuntimeError(f"diag: supports 1-d or 2-d tensors, got shape {tuple(x.shape)}")
    n = x.shape[0] + abs(k)
    rows = np.arange(builtins.max(-k, 0), builtins.max(-k, 0) + x.shape[0])
    cols = np.arange(builtins.max(k, 0), builtins.max(k, 0) + x.shape[0])
    out = np.zeros((n, n), dtype=x.dtype)
    out[rows, cols] = x

    def rule(xp, g, out, x):
        return g[rows, cols]

    return record(out, (input,), rule, "DiagEmbedBackward0")


# ---------------------------------------------------------------------- as_strided
@op
def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """as_strided(input, size, stride, storage_offset=None): a view of ``input``'s memory block (its *storage*:
    the array that owns the memory) with the given sizes and strides, in elements, starting ``storage_offset``
    elements into the block (default: where ``input`` starts). Refused, as PyTorch, when it would reach past the
    block. The view is read-only where its elements share memory (a stride of 0, overlapping windows).

    The gradient is PyTorch's ``AsStridedBackward0``: summed per memory location, then read at ``input``'s
    elements (elements of the block outside ``input`` get nothing).

    >>> import tapegrad as tg
    >>> tg.as_strided(tg.arange(5.0), (3, 2), (1, 1))  # sliding windows of 2
    tensor([[0., 1.],
            [1., 2.],
            [2., 3.]])
    """
    x = input._data
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"as_strided: mismatch in length of strides and shape: {len(stride)} strides for "
                           f"{len(size)} sizes")
    if any(n < 0 for n in size):
        raise RuntimeError(f"as_strided: sizes must be non-negative, got {list(size)}")
    if any(st < 0 for st in stride):
        raise RuntimeError(f"as_strided: negative strides are not supported, got strides {list(stride)}")
    root = x
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        raise RuntimeError(f"as_strided: the memory block of this tensor (shape {tuple(x.shape)}) is an array "
                           f"that does not own contiguous memory; clone() the tensor first")
    item, elements = x.itemsize, root.size
    here = (x.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // item if x.size else 0
    offset = here if storage_offset is None else int(storage_offset)
    if offset < 0:
        raise RuntimeError(f"as_strided: storage offset must be non-negative, got {offset}")
    need = 0 if 0 in size else offset + 1 + sum((n - 1) * st for n, st in zip(size, stride))
    if need > elements:
        raise RuntimeError(f"as_strided: sizes {list(size)}, strides {list(stride)} and storage offset {offset} "
                           f"require a memory block of {need} elements; this tensor's has {elements}")
    # an array over the root's memory (numpy then names the root as its base, so the result is registered as a
    # view of the input: writes through it are seen, in versions and gradients)
    out = np.ndarray(size, x.dtype, buffer=root, offset=offset * item if need else 0,
                     strides=tuple(st * item for st in stride))
    if out.flags.writeable and not _apart(size, stride):
        out.flags.writeable = False  # elements sharing a place: read-only, as tapegrad's expand

    def as_strided_rule(xp, g, out, x_):
        where_out = offset + _grid(size, stride)  # each element's place in the block
        where_in = here + _grid(x.shape, tuple(s // item for s in x.strides)) if x.size else _grid(x.shape, ())
        return xp.add_at((elements,), where_out, g)[where_in]

    return record(out, (input,), as_strided_rule, "AsStridedBackward0")


def _grid(size, stride):
    """The offsets (in elements) of every element of a strided layout."""
    grid = np.zeros((), dtype=np.int64)
    for n, st in zip(size, stride):
        grid = grid[..., None] + np.arange(n, dtype=np.int64) * st
    return grid.reshape(size) if stride else np.zeros(size, dtype=np.int64)


def _apart(size, stride):
    """Whether no two elements of the layout share a place (sufficient test: each dim, by stride, steps past the
    whole extent of the dims inside it)."""
    extent = 0
    for n, st in sorted(((n, st) for n, st in zip(size, stride) if n > 1), key=lambda d: d[1]):
        if st <= extent:
            return False
        extent += (n - 1) * st
    return True


# ---------------------------------------------------------------------- in-place views
def _view_inplace(name, view_op, doc, overloads=1):
    """The in-place form of a view op. Its node is PyTorch's: the view op's name with the overload number moved
    past the view op's ``overloads`` (``TBackward0`` -> ``TBackward1``; squeeze's three -> 3, 4, 5)."""
    def node(view_name):
        stem, number = view_name.rsplit("Backward", 1)
        return f"{stem}Backward{int(number) + overloads}"

    def method(self, *args, **kwargs):
        if kwargs:  # PyTorch's keyword names (dim, dim0, dim1): bound by the out-of-place op's signature
            return apply_view(self, name, lambda t: view_op(t, *args, **kwargs), node=node)
        return apply_view(self, name, view_op, *args, node=node)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


# ---------------------------------------------------------------------- resize
def _resize_(self, *sizes, size=None, memory_format=None):
    """resize_(*sizes, memory_format=None) -> self: this tensor becomes a contiguous tensor of ``sizes`` over its
    memory, from where it starts: shrinking keeps the first elements in memory order; growing past the memory
    gives the tensor (and everything sharing its memory) a larger block, whose new elements are zeros (PyTorch's
    are uninitialized). Refused for a tensor that requires grad, as PyTorch. The version moves.

    >>> import tapegrad as tg
    >>> tg.arange(6.0).resize_(2, 2)
    tensor([[0., 1.],
            [2., 3.]])
    """
    sizes = _sizes("resize_", _keyword("resize_", sizes, "size", size))
    if any(n < 0 for n in sizes):
        raise RuntimeError(f"resize_: Trying to create tensor with negative dimension: sizes {list(sizes)}")
    _check_memory_format("resize_", memory_format)
    return resize(self, sizes)


def _resize_as_(self, the_template, memory_format=None):
    """resize_as_(the_template, memory_format=None) -> self: ``resize_(the_template.shape)``.

    >>> import tapegrad as tg
    >>> tg.arange(4.0).resize_as_(tg.zeros(2, 2)).shape
    tapegrad.Size([2, 2])
    """
    if not isinstance(the_template, Tensor):
        raise TypeError(f"resize_as_: the_template must be a Tensor, not {type(the_template).__name__}")
    _check_memory_format("resize_as_", memory_format)
    return resize(self, the_template._data.shape, "resize_as_")


def resize_as_(input: Tensor, the_template: Tensor, memory_format=None) -> Tensor:
    """resize_as_(input, the_template, memory_format=None): ``input.resize_as_(the_template)``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"resize_as_: input must be a Tensor, not {type(input).__name__}")
    return _resize_as_(input, the_template, memory_format)


def _check_memory_format(op, memory_format):
    if memory_format is not None and memory_format is not memory_formats.contiguous_format:
        raise RuntimeError(f"{op}: unsupported memory format {memory_format!r}: tapegrad resizes to the contiguous "
                           "format only (memory_format=None or contiguous_format)")


_resize_.__name__ = _resize_.__qualname__ = "resize_"
_resize_as_.__name__ = _resize_as_.__qualname__ = "resize_as_"
Tensor.resize_ = _resize_
Tensor.resize_as_ = _resize_as_


Tensor.t_ = _view_inplace("t_", t, """t_() -> self: ``t()`` in place (this tensor takes the transposed shape and
    strides over the same memory; the version moves, as PyTorch's).

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).t_().shape
    tapegrad.Size([3, 2])
    """)
Tensor.transpose_ = _view_inplace("transpose_", transpose, """transpose_(dim0, dim1) -> self: ``transpose`` in
    place.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3, 4).transpose_(0, 2).shape
    tapegrad.Size([4, 3, 2])
    """)
for _name in ("swapdims_", "swapaxes_"):
    setattr(Tensor, _name, _view_inplace(_name, transpose, f"""{_name}(dim0, dim1) -> self: ``transpose_``.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).{_name}(0, 1).shape
    tapegrad.Size([3, 2])
    """))
Tensor.squeeze_ = _view_inplace("squeeze_", squeeze, """squeeze_(dim=None) -> self: ``squeeze`` in place.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 1, 3).squeeze_().shape
    tapegrad.Size([2, 3])
    """, overloads=3)
Tensor.unsqueeze_ = _view_inplace("unsqueeze_", unsqueeze, """unsqueeze_(dim) -> self: ``unsqueeze`` in place.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 3).unsqueeze_(1).shape
    tapegrad.Size([2, 1, 3])
    """)
Tensor.as_strided_ = _view_inplace("as_strided_", as_strided, """as_strided_(size, stride, storage_offset=None)
    -> self: ``as_strided`` in place.

    >>> import tapegrad as tg
    >>> tg.arange(6.0).as_strided_((2, 2), (1, 2)).shape
    tapegrad.Size([2, 2])
    """)
