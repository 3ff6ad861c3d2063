"""Ops that PyTorch composes from others: fused multiply-adds (addcmul, addmm, baddbmm, ...), kron, cross,
trace, diff, rot90, diag_embed, diagflat, repeat_interleave, renorm, dist, vdot, the split family's remaining
names, and the NaN-aware and selecting reductions (nansum, nanmean, kthvalue, mode, nanmedian, quantile,
aminmax, cummax/cummin, logcumsumexp, msort).

Each op is written with tapegrad's differentiable ops, so its gradient (of every order) is theirs; the nodes
recorded are those of the ops it is made of (PyTorch records one node for some of them, e.g.
``AddcmulBackward0``: the values of the gradients are the same).
"""

from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd.declare import Tensor, cast, check_dim, is_grad_enabled, named, op, operands, plain_write, record, wrap
from ..autograd.inplace import unview as _unview
from . import _fused, _stdsort
from . import copy as C
from . import elementwise as E
from . import index as I
from . import linalg as L
from . import reduce as R
from . import shape as S
from . import sort as So
from ._perm import innermost_first

_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)

__all__ = ["addcmul", "addcdiv", "addmm", "addmv", "addr", "baddbmm", "addbmm", "vdot", "dist", "kron", "cross",
           "trace", "diff", "rot90", "diag_embed", "diagflat", "repeat_interleave", "renorm", "split_with_sizes",
           "hsplit", "vsplit", "dsplit", "ravel", "nansum", "nanmean", "kthvalue", "mode", "nanmedian", "quantile",
           "nanquantile", "aminmax", "cummax", "cummin", "logcumsumexp", "msort"]

# mypy wants the variable's name; the class keeps PyTorch's (torch.return_types.kthvalue, ...)
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])  # type: ignore[name-match]
mode_result = namedtuple("mode", ["values", "indices"])  # type: ignore[name-match]
nanmedian_result = namedtuple("nanmedian", ["values", "indices"])  # type: ignore[name-match]
aminmax_result = namedtuple("aminmax", ["min", "max"])  # type: ignore[name-match]
cummax_result = namedtuple("cummax", ["values", "indices"])  # type: ignore[name-match]
cummin_result = namedtuple("cummin", ["values", "indices"])  # type: ignore[name-match]


def _tensor(op_name, x, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op_name}: argument '{what}' must be a Tensor, not {type(x).__name__}")
    return x


def _scaled(t, factor):
    return t if factor == 1 else t * factor


# ---------------------------------------------------------------------- fused multiply-adds
@op(inplace=True, elementwise=True)
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """addcmul(input, tensor1, tensor2, *, value=1): ``input + value * tensor1 * tensor2`` (broadcast).

    >>> import tapegrad as tg
    >>> tg.addcmul(tg.ones(2), tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0]), value=0.5)
    tensor([2.5000, 5.0000])
    """
    return _addcmul(input, tensor1, tensor2, value)


def _addcmul(input, tensor1, tensor2, value, into=None):
    """addcmul, its result cast to the dtype ``into`` where that is addcmul_'s (see :func:`_written`)."""
    x, t1, t2, given = _addc_operands("addcmul", input, tensor1, tensor2, value)
    if x.dtype == np.bool_:  # PyTorch's kernel has no bool (even for empty tensors)
        raise NotImplementedError(f"addcmul: \"addcmul_cpu_out\" not implemented for 'Bool' (input, tensor1 and "
                                  f"tensor2 of shapes {tuple(input.shape)}, {tuple(tensor1.shape)}, "
                                  f"{tuple(tensor2.shape)} are all bool)")
    out = _addcmul_array(x, t1, t2, _checked_value("addcmul", value, x.dtype))
    rule = _addcmul_rule(given, _wraps(tensor1, given), _wraps(tensor2, given))
    return record(_written(out, into), (input, tensor1, tensor2), rule, "AddcmulBackward0")


def _addc_operands(op_name, input, tensor1, tensor2, value):
    """The operands of addcmul/addcdiv as arrays promoted to the result's dtype and broadcast, and ``value`` as
    given (a Python number). The op records the tensors as they are: its rule evaluates derivatives.yaml's formula
    on them, each step promoted as PyTorch's (the 0-d float32 tensor1 of float16 tensors stays float32 there)."""
    for name, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        _tensor(op_name, t, name)
    shapes = tuple(input.shape), tuple(tensor1.shape), tuple(tensor2.shape)
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"{op_name}: the shapes of input, tensor1 and tensor2 {list(shapes)} cannot be "
                           f"broadcast together") from None
    dt = _common_dtype(input, tensor1, tensor2)
    with np.errstate(over="ignore"):  # (-3e38 is -inf in float16, as PyTorch's cast, which does not warn)
        x, t1, t2 = (np.broadcast_to(t._data.astype(dt, copy=False), shape) for t in (input, tensor1, tensor2))
    return x, t1, t2, value.item() if isinstance(value, np.generic) else value


def _written(out, into):
    """addcmul_/addcdiv_'s result: cast to the written tensor's dtype ``into`` inside the op, as PyTorch's kernel
    writes it (the node then gets a gradient of that dtype, as PyTorch's); a result that cannot be cast is left
    for the door to refuse."""
    if into is None or out.dtype == into or not dtypes.can_cast(out.dtype, into):
        return out
    with np.errstate(over="ignore"):
        return out.astype(into)


def _addcmul_array(x, t1, t2, value):
    """PyTorch's addcmul kernel (aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp, ``self + value * t1 * t2``):
    value * t1 first (a small value keeps t1 * t2 from overflowing), then, as compiled, one fused multiply-add
    ``fma(value * t1, t2, self)`` in its vectorized and scalar loops alike: -3e38 + (-3e38) (-1.9) is 2.7e38 in
    float32, not inf, and the last bits are PyTorch's. float16 in float32 (its opmath) rounded once at the end;
    integers in their dtype (wrapping)."""
    if x.dtype.kind != "f":
        return x + (t1 if value == 1 else t1 * value) * t2
    half = x.dtype == np.float16
    if half:
        x, t1, t2, value = x.astype(np.float32), t1.astype(np.float32), t2.astype(np.float32), np.float32(value)
    with np.errstate(all="ignore"):
        out = _fused.fma(t1 if value == 1 else t1 * value, t2, x)
        return out.astype(np.float16) if half else out


def _addcmul_rule(value, wide1, wide2):
    """addcmul's gradients as derivatives.yaml writes them, ``grad * (tensor2 * value)`` for tensor1 and
    ``grad * (tensor1 * value)`` for tensor2, on the tensors as given, each product promoted as PyTorch's (``xp.mul``):
    a 0-d float32 tensor1 beside float16 tensors multiplies the float16 gradient in float32 (0 * -3e38 is -0.0, not
    0 * -inf), an int64 one gives float16 products. The engine sums each to its input's shape and casts it."""
    def addcmul_rule(xp, need, g, out, x, t1, t2):
        with np.errstate(all="ignore"):  # (inf and nan as PyTorch's, without numpy's warnings)
            g1 = xp.mul(g, _times_value(xp, t2, value, wide2)) if need[1] else None
            g2 = xp.mul(g, _times_value(xp, t1, value, wide1)) if need[2] else None
        return (g if need[0] else None), g1, g2

    return addcmul_rule


def _times_value(xp, t, value, wide):
    """derivatives.yaml's ``tensor * value``: PyTorch's product of a tensor and a number, in the tensor's dtype for
    an integer tensor and an integer value. ``wide``: that product wraps there (PyTorch 2.13's backward then
    disagrees with its forward: KNOWN pytorch-addcmul-int-value-wraps-grad), so it is taken in float64."""
    return xp.mul(xp.astype(t, np.float64) if wide else t, value)


def _wraps(t, value):
    """Whether PyTorch's ``t * value`` of an integer tensor ``t`` and an integer ``value`` wraps in t's dtype."""
    a = t._data
    if a.dtype.kind not in "iu" or value.__class__ is not int or not a.size:
        return False
    info = np.iinfo(a.dtype)
    return not all(info.min <= int(v) * value <= info.max for v in (a.min(), a.max()))


@op(inplace=True, elementwise=True)
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """addcdiv(input, tensor1, tensor2, *, value=1): ``input + value * tensor1 / tensor2`` (broadcast; integer
    tensor1 and tensor2 are refused, as PyTorch does).

    >>> import tapegrad as tg
    >>> tg.addcdiv(tg.ones(2), tg.tensor([1.0, 2.0]), tg.tensor([4.0, 4.0]), value=2)
    tensor([1.5000, 2.0000])
    """
    return _addcdiv(input, tensor1, tensor2, value)


def _addcdiv(input, tensor1, tensor2, value, into=None):
    """addcdiv, its result cast to the dtype ``into`` where that is addcdiv_'s (see :func:`_written`)."""
    if isinstance(tensor1, Tensor) and isinstance(tensor2, Tensor) and tensor1._data.dtype.kind in "biu" \
            and tensor2._data.dtype.kind in "biu":
        raise RuntimeError("addcdiv: integer division with addcdiv is no longer supported; divide tensor1 by "
                           "tensor2 with true_divide first")
    x, t1, t2, given = _addc_operands("addcdiv", input, tensor1, tensor2, value)
    value = _checked_value("addcdiv", value, x.dtype)
    half = x.dtype == np.float16
    a, b, c = (x.astype(np.float32), t1.astype(np.float32), t2.astype(np.float32)) if half else (x, t1, t2)
    with np.errstate(all="ignore"):
        out = a + (b if value == 1 else b * value) / c  # float16 in float32, rounded once (PyTorch's opmath)
        out = out.astype(np.float16) if half else out
    rule = _addcdiv_rule(given, _fill_value(given, tensor2._data.dtype), _wraps(tensor1, given))
    return record(_written(out, into), (input, tensor1, tensor2), rule, "AddcdivBackward0")


def _addcdiv_rule(value, fill, wide1):
    """addcdiv's gradients as derivatives.yaml writes them, ``grad * (value / tensor2)`` for tensor1 and
    ``-grad * (value * tensor1 / (tensor2 * tensor2))`` for tensor2, on the tensors as given, each step promoted as
    PyTorch's: value / tensor2 is ``full_like(tensor2, value).div_(tensor2)``, in tensor2's dtype (a float16
    tensor2 of 1e-7 gives inf), and tensor2 * tensor2 too (its square may underflow to 0: inf); an int64 tensor1
    over a 0-d float64 tensor2 divides in float64."""
    def addcdiv_rule(xp, need, g, out, x, t1, t2):
        with np.errstate(all="ignore"):  # (value / 0 is inf, as PyTorch's, without numpy's warning)
            g1 = xp.mul(g, _value_over(xp, value, t2, fill)) if need[1] else None
            g2 = xp.mul(-g, xp.div(_times_value(xp, t1, value, wide1), xp.mul(t2, t2))) if need[2] else None
        return (g if need[0] else None), g1, g2

    return addcdiv_rule


def _value_over(xp, value, t, fill):
    """derivatives.yaml's ``value / tensor2``: PyTorch's ``full_like(tensor2, value).div_(tensor2)`` (``fill``: the
    value as fill_ writes it into tensor2's dtype). Where PyTorch 2.13's backward fails instead (``fill`` None: an
    integer or bool tensor2, whose dtype cannot take the quotient, or a finite value beyond its float dtype's
    range; KNOWN pytorch-addcdiv-int-input-grad, pytorch-addcmul-int-value-wraps-grad), in float64."""
    if fill is None:
        t, fill = xp.astype(t, np.float64), value
    return xp.div(xp.full_like(t, fill), t)


def _fill_value(value, dtype):
    """``value`` as PyTorch's ``fill_`` writes it into a float tensor of ``dtype`` (c10's checked conversion from
    double, to float16 through float32), or None where that tensor's ``fill_(value).div_(tensor)`` fails: an
    integer or bool dtype, or a finite value beyond the dtype's range."""
    if dtype.kind != "f":
        return None
    try:
        I._scalar("addcdiv", value, dtype)
    except RuntimeError:
        return None
    if dtype.itemsize == 8:
        return value
    with np.errstate(over="ignore"):
        return float(np.float32(value).astype(dtype))


def _checked_value(op_name, value, dtype):
    """addcmul's/addcdiv's ``value`` as PyTorch's kernel takes it: converted to the result's dtype (float16's
    opmath, float32) with c10's checked conversion (``value.to<scalar_t>()``): an integer result takes 0.5 as 0 and
    -1 as uint8 255 but refuses -1.5 (uint8), 300 (int8), inf or nan; a float one refuses a finite value beyond its
    range (1e40 for float32 and float16)."""
    if value.__class__ is float and dtype == np.float64:  # the common case: nothing to check
        return value
    return I._scalar(op_name, value, np.dtype(np.float32) if dtype == np.float16 else dtype)


def _addc_write(ufunc):
    """The plain write of addcmul_ (``ufunc`` multiply) or addcdiv_ (divide): ``data += ufunc(value * tensor1,
    tensor2)`` as the op computes it, for float32/float64 tensors of one dtype and a number ``value``; False
    (nothing written) for the door to handle the rest. (A hand-written Adam's ``v.addcmul_(g, g, value=...)`` and
    ``p.addcdiv_(m, d, value=-lr)``.)"""

    def write(data, tensor1, tensor2, *, value=1):
        if tensor1.__class__ is not Tensor or tensor2.__class__ is not Tensor or not (
                value.__class__ is float or value.__class__ is int):
            return False
        a, b, dtype = tensor1._data, tensor2._data, data.dtype
        if a.dtype is not dtype or b.dtype is not dtype:
            return False
        if dtype is _FLOAT32:
            if not -3.4028234663852886e38 <= value <= 3.4028234663852886e38:
                return False  # a value float32 cannot hold (or nan): the op checks it (c10's checked conversion)
        elif dtype is not _FLOAT64:
            return False  # float16 (its opmath), integers, bool: the op
        # (the method refused partly overlapping operands already.) numpy checks shapes before it writes: a
        # result larger than the tensor, or read-only memory, is a ValueError, and the door explains.
        try:
            if ufunc is np.multiply:  # addcmul_: the op's fused multiply-add, written into the tensor
                term = a if value == 1 else np.multiply(a, value)
                if dtype is _FLOAT32:  # the product exact in float64, its sum rounded once into the tensor
                    product = np.multiply(term, b, dtype=np.float64)
                    if product.ndim > data.ndim:  # larger than the tensor (copyto would drop leading 1s): the door
                        return False
                    _fused.add_rounded_once(product, data, dtype, out=data)
                    return True
                result = _fused.fma(term, b, data)
                if result.shape != data.shape:
                    return False
                np.copyto(data, result)
                return True
            if value != 1:  # the op's order: value * tensor1 first (an array even for 0-d tensors, to write into)
                term = np.multiply(a, value)
                if term.__class__ is not np.ndarray:  # a 0-d product is a numpy scalar: an array, to write into
                    term = np.asarray(term)
                try:
                    ufunc(term, b, out=term)
                except ValueError:  # tensor2 broadcasts tensor1 up
                    term = ufunc(term, b)
            else:
                term = ufunc(a, b)
            np.add(data, term, out=data)
        except ValueError:
            return False
        return True

    return write


def _addcmul_in_place(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """The value addcmul_ writes: addcmul's, cast to the written tensor's dtype inside the op (so its node's gradient
    has that dtype, as PyTorch's)."""
    return _addcmul(input, tensor1, tensor2, value, input._data.dtype)


def _addcdiv_in_place(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """The value addcdiv_ writes (as :func:`_addcmul_in_place`)."""
    return _addcdiv(input, tensor1, tensor2, value, input._data.dtype)


_addcmul_in_place.__name__, _addcdiv_in_place.__name__ = "addcmul", "addcdiv"  # (the methods' docs name the ops)
plain_write(_addcmul_in_place, "addcmul_")(_addc_write(np.multiply))
plain_write(_addcdiv_in_place, "addcdiv_")(_addc_write(np.divide))


def _common_dtype(*tensors, expanded=False):
    """The common dtype of the operands by PyTorch's rule for one op of several operands: the promotion of the
    tensors with dims, unless the 0-d ones are of a higher category (a 0-d float64 beside float32 tensors gives
    float32; a 0-d float beside integer tensors gives the 0-d's float dtype). ``expanded``: every operand counts as
    a tensor with dims (an op that expands its 0-d operands before it promotes)."""
    dims = [t._data.dtype for t in tensors if t._data.ndim or expanded]
    zeros = [t._data.dtype for t in tensors if not (t._data.ndim or expanded)]

    def chain(kinds, shape):
        out = kinds[0]
        for d in kinds[1:]:
            out = dtypes.promote(np.zeros(shape, out), np.zeros(shape, d))
        return out

    if not dims or not zeros:
        return chain(dims or zeros, (1,) if dims else ())
    return dtypes.promote(np.zeros(1, chain(dims, (1,))), np.zeros((), chain(zeros, ())))


def _promoted(*tensors, expanded=False):
    """The operands cast to their common dtype (:func:`_common_dtype`)."""
    dt = _common_dtype(*tensors, expanded=expanded)
    return tuple(cast(t, dt) for t in tensors)


def _checked_scalars(op_name, product, beta, alpha):
    """beta and alpha checked as PyTorch converts them to the op's scalar type (product's dtype): for integers, a
    float is cast (0.5 -> 0; addr refuses it), with c10's overflow check (fill_'s: -1.0 is no uint8)."""
    if product.dtype.kind in "iu":
        for name, v in (("beta", beta), ("alpha", alpha)):
            if op_name == "addr" and isinstance(v, float):  # addr's own check, as PyTorch's add's
                raise RuntimeError(f"addr: for integral input tensors, argument {name} must not be a floating point "
                                   f"number, got {name}={v!r}")
            try:
                C.checked_number(v, product)
            except (RuntimeError, OverflowError):
                raise RuntimeError(f"{op_name}: {name}={v!r} cannot be converted to type {product.dtype} "
                                   "without overflow") from None
        beta, alpha = (int(v) if isinstance(v, float) else v for v in (beta, alpha))
    elif product.dtype.kind == "f":  # c10's overflow check of the number in the op's scalar type: the tensors'
        # dtype for addmv/addr, float32 (PyTorch's opmath) for the other BLAS ops' float16
        dt = product.dtype
        dt = dt if op_name in ("addmv", "addr") or dt.itemsize >= 4 else np.dtype(np.float32)
        for name, v in (("beta", beta), ("alpha", alpha)):
            if isinstance(v, (int, float)) and E._overflows(v, dt):
                raise RuntimeError(f"{op_name}: {name}={v!r} cannot be converted to type {dt} without overflow")
    return beta, alpha


def _beta_alpha(op_name, input, product, beta, alpha, empty=False, multiply=False, native=None):
    """``beta * input + alpha * product`` as PyTorch's BLAS ops give it. ``native``: where PyTorch computes alpha=0
    in its own kernel, not BLAS (float16, and baddbmm's small matrices), the values as a function of (input
    broadcast to the product's shape, beta): that kernel multiplies by alpha, so 0 * inf is NaN there."""
    if op_name != "addr" and input._data.dtype != product._data.dtype:  # as PyTorch's BLAS ops (addr promotes)
        raise RuntimeError(f"{op_name}: input tensors must have the same dtype, but got input {input._data.dtype} "
                           f"and matrices {product._data.dtype}")
    if op_name == "addr" and product._data.dtype == np.bool_ and input._data.dtype == np.bool_:
        return _addr_bool(input, product, beta, alpha)
    beta, alpha = _checked_scalars(op_name, product._data, beta, alpha)
    if tuple(np.broadcast_shapes(tuple(input.shape), tuple(product.shape))) != tuple(product.shape):
        raise RuntimeError(f"{op_name}: input of shape {tuple(input.shape)} cannot be broadcast to the product's "
                           f"shape {tuple(product.shape)} (as PyTorch, input is expanded to the product, not the "
                           f"reverse)")
    if alpha == 0 and native is not None and not empty:
        x = np.broadcast_to(input._data, tuple(product.shape))
        return _blas_node(op_name, wrap(native(x, beta)), input, product, beta, alpha)
    if (alpha == 0 and not multiply or empty) and op_name != "addr":  # NOTE: as PyTorch's BLAS call, alpha=0 or
        # an empty sum (inner dim or addbmm's batch of 0) skips the product (nan, inf alpha and -0.0 included; addr
        # is no BLAS call in PyTorch: it multiplies, 0 * inf = nan; nor is baddbmm's small-matrix kernel, see
        # baddbmm): the result
        # is beta * input (+0.0 zeros for beta=0), product and input stay in the graph with zero gradients
        shape = tuple(product.shape)
        none = wrap(np.zeros(shape, dtype=bool))
        zero = wrap(np.zeros((), product._data.dtype))
        base = E.where(none, input, zero) if beta == 0 else _scaled(input, beta)
        return _blas_node(op_name, E.where(none, product, base), input, product, beta, alpha)
    out = _scaled(product, alpha)
    if beta == 0:  # NOTE: beta=0 ignores input's values, nan and inf included; its gradient is 0 * grad, as PyTorch
        shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(out.shape)))
        return _blas_node(op_name, E.where(wrap(np.ones(shape, dtype=bool)), out, input), input, product, beta,
                          alpha)
    return named(_scaled(input, beta) + out, _BLAS_NODES[op_name])


_BLAS_NODES = {"addmm": "AddmmBackward0", "addmv": "AddmvBackward0", "addr": "AddrBackward0",
               "baddbmm": "BaddbmmBackward0", "addbmm": "AddbmmBackward0"}


def _blas_node(op_name, out, input, product, beta, alpha):
    """``out``'s values as one node of ``input`` and ``product`` with PyTorch's gradients, whatever the forward
    skipped: grad * beta for input and grad * alpha for the product (derivatives.yaml's maybe_multiply), so beta=0
    or alpha=0 gives 0 * grad, NaN where the gradient is infinite or NaN, as PyTorch (not a zero gradient)."""
    def rule(xp, need, g, out, x, p):
        return ((g if beta == 1 else g * beta) if need[0] else None,
                (g if alpha == 1 else g * alpha) if need[1] else None)

    return record(out._data, (input, product), rule, _BLAS_NODES[op_name])


def _addr_bool(input, product, beta, alpha):
    """addr of bool tensors, as PyTorch's kernel: ``(input and beta) or (alpha and vec1 and vec2)``, a bool result
    (input ignored when beta is False); a float beta or alpha is refused, as for integer tensors."""
    for name, v in (("beta", beta), ("alpha", alpha)):
        if isinstance(v, float):
            raise RuntimeError(f"addr: for integral input tensors, argument {name} must not be a floating point "
                               f"number, got {name}={v!r} (bool tensors of shapes {tuple(input.shape)} and "
                               f"{tuple(product.shape)})")
    if tuple(np.broadcast_shapes(tuple(input.shape), tuple(product.shape))) != tuple(product.shape):
        raise RuntimeError(f"addr: input of shape {tuple(input.shape)} cannot be broadcast to the product's shape "
                           f"{tuple(product.shape)}")
    out = E.logical_and(product, wrap(np.array(bool(alpha))))
    return E.logical_or(E.logical_and(input, wrap(np.array(bool(beta)))), out) if beta else out


@op(inplace=True)
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """addmm(input, mat1, mat2, *, beta=1, alpha=1): ``beta * input + alpha * (mat1 @ mat2)`` (2-D matrices;
    input broadcast; with beta=0 input is ignored, nan included).

    >>> import tapegrad as tg
    >>> tg.addmm(tg.ones(2, 2), tg.eye(2), tg.full((2, 2), 3.0), beta=0.5)
    tensor([[3.5000, 3.5000],
            [3.5000, 3.5000]])
    """
    product = L.mm(mat1, mat2)
    native = _half_gemm(mat1, mat2) if product._data.dtype == np.float16 else None
    return _beta_alpha("addmm", _tensor("addmm", input), product, beta, alpha, mat1.shape[-1] == 0, native=native)


@op(inplace=True)
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """addmv(input, mat, vec, *, beta=1, alpha=1): ``beta * input + alpha * (mat @ vec)``.

    >>> import tapegrad as tg
    >>> tg.addmv(tg.ones(2), tg.eye(2), tg.tensor([1.0, 2.0]))
    tensor([2., 3.])
    """
    product = L.mv(mat, vec)
    native = _half_gemv(mat, vec._data) if product._data.dtype == np.float16 else None
    return _beta_alpha("addmv", _tensor("addmv", input), product, beta, alpha, mat.shape[-1] == 0, native=native)


@op(inplace=True)
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """addr(input, vec1, vec2, *, beta=1, alpha=1): ``beta * input + alpha * outer(vec1, vec2)``.

    >>> import tapegrad as tg
    >>> tg.addr(tg.zeros(2, 2), tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0]))
    tensor([[3., 4.],
            [6., 8.]])
    """
    for name, t in (("vec1", vec1), ("vec2", vec2)):
        if _tensor("addr", t, name).ndim != 1:
            raise RuntimeError(f"addr: {name} must be a vector, got shape {tuple(t.shape)}")
    # PyTorch expands input to the product's shape first: a 0-d input promotes as a tensor with dims
    input, vec1, vec2 = _promoted(_tensor("addr", input), vec1, vec2, expanded=True)
    if input._data.dtype == np.bool_:
        return _beta_alpha("addr", input, L.outer(vec1, vec2), beta, alpha)
    beta, alpha = _checked_scalars("addr", input._data, beta, alpha)
    if input._data.dtype.kind == "f":  # the kernel's scalars are of the tensors' dtype (float16's 0.1 is 0.0999756)
        beta, alpha = (float(input._data.dtype.type(v)) for v in (beta, alpha))
    # NOTE: as PyTorch's kernel (cpu/LinearAlgebraKernel.cpp), each element is alpha * vec1[i] * vec2[j] computed
    # left to right, so alpha * vec1[i] is rounded first and only that times vec2[j] may overflow (alpha=0.5,
    # vec1=2, vec2=-3e38 gives -3e38, not -inf)
    return _beta_alpha("addr", input, L.outer(_scaled(vec1, alpha), vec2), beta, 1)


@op(inplace=True)
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """baddbmm(input, batch1, batch2, *, beta=1, alpha=1): ``beta * input + alpha * bmm(batch1, batch2)``.

    >>> import tapegrad as tg
    >>> tg.baddbmm(tg.ones(1, 2, 2), tg.ones(1, 2, 3), tg.ones(1, 3, 2), alpha=2).shape
    tapegrad.Size([1, 2, 2])
    """
    product = L.bmm(batch1, batch2)
    # NOTE: PyTorch's CPU baddbmm multiplies in its own kernel (no BLAS call) when the contraction size times the
    # result's rows and columns is under 400 (aten/src/ATen/native/LinearAlgebra.cpp, bmm_out_or_baddbmm_ and
    # baddbmm_cpu_kernel): there alpha=0 still multiplies (0 * inf is nan, 0 * -x is -0.0); larger ones call BLAS,
    # which skips the product when alpha=0
    k, m, n = batch1.shape[-1], batch1.shape[-2], batch2.shape[-1]
    a, b = batch1._data, batch2._data
    native = None if a.dtype != np.float16 else _small_baddbmm(a, b) if k * m * n < 400 else _half_gemm(batch1, batch2)
    return _beta_alpha("baddbmm", _tensor("baddbmm", input), product, beta, alpha, k == 0, k * m * n < 400,
                       native=native)


@op(inplace=True)
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """addbmm(input, batch1, batch2, *, beta=1, alpha=1): ``beta * input + alpha * sum_b batch1[b] @ batch2[b]``.

    >>> import tapegrad as tg
    >>> tg.addbmm(tg.zeros(2, 2), tg.ones(3, 2, 1), tg.ones(3, 1, 2))
    tensor([[3., 3.],
            [3., 3.]])
    """
    per_batch = L.bmm(batch1, batch2)
    empty = batch1.shape[0] == 0 or batch1.shape[-1] == 0
    product = per_batch.sum(0, dtype=per_batch.dtype)  # int8 products sum in int8, as PyTorch
    if batch1.shape[-1] == 1 and not empty:
        _addbmm_one_term(product._data, batch1._data, batch2._data, beta)
    native = _half_gemm(batch1, batch2, summed=True) if product._data.dtype == np.float16 else None
    out = _beta_alpha("addbmm", _tensor("addbmm", input), product, beta, alpha, empty, native=native)
    if not empty and out._data.dtype.kind == "f" and alpha not in (0, 1):  # (alpha=0: BLAS skipped the products)
        _addbmm_zero_signs(out._data, per_batch._data, input._data, beta, alpha)
    return out


# NOTE: alpha=0 in PyTorch's own kernels. MKL's gemm and gemv skip the product when alpha is 0 (float32, float64),
# but float16 has no BLAS call (oneDNN refuses alpha=0, mkldnn_gemm) and baddbmm of small matrices none at all:
# those kernels compute c = beta * c + alpha * dot (alpha * dot for beta=0) in float32, so a dot that is inf or
# NaN gives NaN, and the sign of a zero comes from 0 * dot (cpu/BlasKernel.cpp, BlasKernel.cpp's gemv,
# LinearAlgebra.cpp's baddbmm_cpu_kernel). Each helper returns ``native(x, beta)`` for _beta_alpha.
def _gemm_transposes(m1, m2):
    """Whether PyTorch's float16 gemm for ``m1 @ m2`` into a row-major result runs its transb kernel
    (addmm_impl_cpu_'s choice from the strides: a row-major result of more than one column is computed as its
    transpose, m2^T m1^T; an operand with a unit stride in neither dim is copied)."""
    (m, k), n = m1.shape[-2:], m2.shape[-1]
    swap = n != 1
    a, b, rows, cols = (m2, m1, n, m) if swap else (m1, m2, m, n)
    sa, sb = a.stride()[-2:], b.stride()[-2:]
    i, o = (1, 0) if swap else (0, 1)  # (PyTorch's m1_strides[transpose_c ? 1 : 0], ...)
    transa = (False if sa[i] == 1 and sa[o] >= builtins.max(1, rows) else
              True if sa[o] == 1 and sa[i] >= builtins.max(1, k) else not swap)
    transb = (False if sb[i] == 1 and sb[o] >= builtins.max(1, k) else
              True if sb[o] == 1 and sb[i] >= builtins.max(1, cols) else not swap)
    return transb and not transa


def _half_gemm(m1, m2, summed=False):
    """float16 addmm (matrices), baddbmm (batches: one addmm_ per batch) or addbmm (``summed``: one addmm_ per batch
    onto the result, beta 1 after the first) at alpha=0, as PyTorch's gemm kernels for float16 compute it: the
    transb kernel starts a float32 buffer at beta * c (+0.0 for beta=0) and adds a[i, l] * (b[l, j] * alpha) in
    order; the others sum each dot in four interleaved float32 partial sums (``sum``: term l into partial l % 4,
    the tail after the last four into the first, added in order) and give beta * c + alpha * dot."""
    transb = _gemm_transposes(m1, m2)
    a, b = m1._data.astype(np.float32), m2._data.astype(np.float32)

    def zero_terms():  # 0 * dot, or the transb kernel's sum of (+-0.0 or NaN) terms from -0.0 (its identity)
        k = a.shape[-1]
        if transb:
            acc = np.full(a.shape[:-1] + b.shape[-1:], -0.0, np.float32)
            for l in range(k):
                acc += a[..., :, l, None] * (b[..., None, l, :] * np.float32(0))
            return acc
        parts = [np.zeros(a.shape[:-1] + b.shape[-1:], np.float32) for _ in range(4)]
        for l in range(k):
            parts[l % 4 if l < k - k % 4 else 0] += a[..., :, l, None] * b[..., None, l, :]
        return np.float32(0) * (((parts[0] + parts[1]) + parts[2]) + parts[3])

    def native(x, beta):
        with np.errstate(all="ignore"):
            zeros = zero_terms()
            first = zeros[0] if summed else zeros
            if beta != 0:
                out = np.float32(beta) * x.astype(np.float32) + first
            else:
                out = np.float32(0) + first if transb else first
            for term in zeros[1:] if summed else ():
                out = out + term
        return out.astype(np.float16)

    return native


def _half_gemv(mat, vec):
    """float16 addmv at alpha=0, PyTorch's gemv (BlasKernel.cpp): for a row-major ``mat`` ('t') each float16
    product rounded, summed from +0.0 in float32, y = beta * y + 0 * sum with beta * y a float16 product; for a
    column-major one ('n', and single columns) y is scaled by beta in float16 and sum[i] += (0 * vec[j]) * mat[i, j]
    from +0.0 (+0.0, or NaN where a factor is inf or NaN) is added (y = sum for beta=0)."""
    rows, cols = mat.shape
    s0, s1 = mat.stride()
    column_major = s0 == 1 and (cols == 1 or s1 >= builtins.max(1, rows))
    m = mat._data

    def native(x, beta):
        half_beta = np.float16(beta)
        with np.errstate(all="ignore"):
            if column_major:
                sums = np.where(np.isnan(np.float32(0) * vec * m).any(axis=1), np.float32(np.nan), np.float32(0))
                if beta == 0:
                    return sums.astype(np.float16)
                y = x if beta == 1 else x * half_beta
                return (y.astype(np.float32) + sums).astype(np.float16)
            products = m.astype(np.float32) * vec.astype(np.float32)
            sums = np.zeros(rows, np.float32)
            for j in range(cols):
                sums += products[:, j]
            zeros = np.float32(0) * sums
            return (zeros if beta == 0 else (x * half_beta).astype(np.float32) + zeros).astype(np.float16)

    return native


def _small_baddbmm(a, b):
    """float16 baddbmm at alpha=0 for the small matrices PyTorch multiplies in baddbmm_cpu_kernel (contraction size
    times rows times columns under 400): each dot summed from +0.0 in order in float32, r = beta * r + 0 * dot
    (0 * dot for beta=0). (float32 and float64 there are alpha times the product, _beta_alpha's ``multiply``.)"""
    def native(x, beta):
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        dots = np.zeros(a.shape[:-1] + b.shape[-1:], np.float32)
        with np.errstate(all="ignore"):
            for l in range(a.shape[-1]):
                dots += a32[..., :, l, None] * b32[..., None, l, :]
            zeros = np.float32(0) * dots
            out = zeros if beta == 0 else x.astype(np.float32) * np.float32(beta) + zeros
        return out.astype(np.float16)

    return native


def _addbmm_zero_signs(out, per_batch, x, beta, alpha):
    """The signs of addbmm's zero results (written in place) with alpha != 1 as PyTorch's addbmm_impl_ adds: one
    addmm_ per batch, alpha times each batch's product onto beta * input (or onto nothing for beta=0), in batch
    order; alpha times the summed product gave -0.0 for alpha = -1 where 9 - 9 is +0.0 there."""
    zero = out == 0
    if not zero.any():
        return
    with np.errstate(all="ignore"):
        terms = per_batch[:, zero] * out.dtype.type(alpha)
        acc = terms[0] if beta == 0 else np.broadcast_to(x * out.dtype.type(beta), out.shape)[zero] + terms[0]
        for term in terms[1:]:
            acc = acc + term
    out[zero] = np.where(acc == 0, acc, out[zero])  # only the sign of a zero: the values are the op's


def _addbmm_one_term(out, b1, b2, beta):
    """The signs of zero of addbmm's summed product ``out`` (written in place) with inner size 1, as PyTorch
    computes it: one addmm_ per batch into beta * input (LinearAlgebra.cpp, addbmm_impl_), each BLAS call keeping
    the exact products' signs, summed in batch order (-0.0 only where every term is -0.0), where the result has
    at least 2 rows and columns, or 1 row and beta != 0 (measured on PyTorch 2.13's CPU BLAS; a column, or a row
    with beta=0, is a gemv that sums from +0.0, as numpy's bmm and sum, which start from +0.0)."""
    rows, cols = out.shape
    if (cols > 1 and (rows > 1 or beta != 0)) and out.dtype.itemsize >= 4 and out.dtype.kind == "f" \
            and np.count_nonzero(out) != out.size:
        zero = out == 0
        out[zero] = np.add.reduce(b1 * b2, axis=0, initial=-0.0)[zero]  # -0.0 is the exact identity of a sum


@op
def vdot(input: Tensor, other: Tensor) -> Tensor:
    """vdot(input, other): the dot product of two 1-D tensors (no conjugation is needed: tensors are real).

    >>> import tapegrad as tg
    >>> tg.vdot(tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0]))
    tensor(11.)
    """
    for name, t in (("input", input), ("other", other)):
        if _tensor("vdot", t, name).ndim != 1:
            raise RuntimeError(f"vdot: 1D tensors expected, but got {t.ndim}D and "
                               f"{other.ndim if isinstance(other, Tensor) else '?'}D tensors")
    return named(L.dot(input, other), "VdotBackward0")


@op
def dist(input: Tensor, other: Tensor, p=2) -> Tensor:
    """dist(input, other, p=2): the p-norm of ``input - other`` (broadcast).

    >>> import tapegrad as tg
    >>> tg.dist(tg.tensor([0.0, 0.0]), tg.tensor([3.0, 4.0]))
    tensor(5.)
    """
    return named(R.norm(_tensor("dist", input) - _tensor("dist", other, "other"), p), "DistBackward0")


def _view_strides(oldshape, oldstride, newshape):  # noqa: C901 - PyTorch's loop, kept as it is
    """PyTorch's computeStride (TensorUtils.cpp): the strides of a view of (oldshape, oldstride) as newshape, or
    None where no view exists."""
    if not oldshape:
        return [1] * len(newshape)
    numel = 1
    for n in oldshape:
        numel *= n
    if numel == 0:
        return list(oldstride) if list(oldshape) == list(newshape) else [0] * len(newshape)  # (any: allowed)
    newstride = [0] * len(newshape)
    view_d = len(newshape) - 1
    chunk_base_stride = oldstride[-1]
    tensor_numel = view_numel = 1
    for tensor_d in range(len(oldshape) - 1, -1, -1):
        tensor_numel *= oldshape[tensor_d]
        if tensor_d == 0 or (oldshape[tensor_d - 1] != 1
                             and oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or newshape[view_d] == 1):
                newstride[view_d] = view_numel * chunk_base_stride
                view_numel *= newshape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = oldstride[tensor_d - 1]
                tensor_numel = view_numel = 1
    if view_d != -1:
        return None
    return newstride


def _kron_view_refused(a_shape, a_stride, a_item, b_shape, b_stride, b_item):
    """Whether PyTorch's kron fails its last step: it multiplies views of the inputs with 1s interleaved
    ((a0, 1, a1, 1, ...) and (1, b0, 1, b1, ...)), TensorIterator lays the product out in the order of the
    inputs' strides (in bytes; reorder_dimensions, allocate_or_resize_outputs), and an ``_unsafe_view`` to
    (a0 * b0, a1 * b1, ...) must then merge each pair of dims (LinearAlgebra.cpp, KronImpl): an input whose
    layout is not row-major (a transpose, nonzero's column-major result) can make a layout it cannot merge."""
    n = builtins.max(len(a_shape), len(b_shape))
    if n <= 0:
        return False
    pa, pb = n - len(a_shape), n - len(b_shape)
    A = [1] * pa + list(a_shape)
    B = [1] * pb + list(b_shape)
    ar = [v for i in range(n) for v in (A[i], 1)]
    br = [v for i in range(n) for v in (1, B[i])]
    sa = _view_strides(list(a_shape), list(a_stride), ar)
    sb = _view_strides(list(b_shape), list(b_stride), br)
    if sa is None or sb is None:
        return True
    shape = [builtins.max(x, y) for x, y in zip(ar, br, strict=True)]
    if 0 in shape:
        return False
    nd = 2 * n
    ops = []
    for osh, ost, item in ((ar, sa, a_item), (br, sb, b_item)):
        ops.append([0 if osh[i] == 1 and shape[i] != 1 else ost[i] * item for i in range(nd)])

    def should_swap(d0, d1):
        for st in ops:
            s0, s1 = st[d0], st[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 < s1:
                return -1
            if s0 > s1:
                return 1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    perm = innermost_first(nd, should_swap)
    out = [0] * nd
    step = 1
    for k in range(nd):
        out[perm[k]] = step
        step *= shape[perm[k]]
    result = [A[i] * B[i] for i in range(n)]
    return _view_strides(shape, out, result) is None


@op
def kron(input: Tensor, other: Tensor) -> Tensor:
    """kron(input, other): the Kronecker product (the fewer dims are padded with leading 1s).

    >>> import tapegrad as tg
    >>> tg.kron(tg.eye(2), tg.tensor([[1.0, 2.0]]))
    tensor([[1., 2., 0., 0.],
            [0., 0., 1., 2.]])
    """
    _tensor("kron", input), _tensor("kron", other, "other")
    if input._data.size and other._data.size and (input.ndim > 1 or other.ndim > 1) and _kron_view_refused(
            tuple(input.shape), input.stride(), input._data.itemsize, tuple(other.shape), other.stride(),
            other._data.itemsize):
        raise RuntimeError("kron: view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces), as PyTorch's kron, which views its "
                           "product as the result: make the inputs contiguous (.contiguous()) first")
    n = builtins.max(input.ndim, other.ndim)
    a = input.reshape((1,) * (n - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (n - other.ndim) + tuple(other.shape))
    # a[i0, 1, i1, 1, ...] * b[1, j0, 1, j1, ...] -> (i0 * B0 + j0, ...)
    a_shape, b_shape = [], []
    for sa, sb in zip(a.shape, b.shape, strict=True):
        a_shape += [sa, 1]
        b_shape += [1, sb]
    out = a.reshape(a_shape) * b.reshape(b_shape)
    # PyTorch's _unsafe_view of the product: a new tensor, not a view (detach_ takes it)
    return named(_unview(out.reshape([sa * sb for sa, sb in zip(a.shape, b.shape, strict=True)])),
                 "UnsafeViewBackward0")


@op
def cross(input: Tensor, other: Tensor, dim=None) -> Tensor:
    """cross(input, other, dim=None): the cross product of 3-vectors along ``dim`` (default: the first dim of
    size 3, as PyTorch's deprecated default; broadcast).

    >>> import tapegrad as tg
    >>> tg.cross(tg.tensor([1.0, 0.0, 0.0]), tg.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.])
    """
    _tensor("cross", input), _tensor("cross", other, "other")
    if input.ndim != other.ndim:
        raise RuntimeError(f"cross: inputs must have the same number of dimensions, got {input.ndim} and "
                           f"{other.ndim}")
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(other.shape)))
    if dim is None:
        dims = [d for d, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError(f"cross: no dimension of size 3 in input (shape {shape})")
        dim = dims[0]
    d = check_dim("cross", dim, len(shape))
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"cross: inputs dimension {dim} must have length 3, got {input.shape[d]} and "
                           f"{other.shape[d]}")
    a, b = operands("cross", input, other)
    if a._data.dtype in (np.float32, np.float64):  # PyTorch's kernel: fused multiply-adds (linalg.cross's)
        from ..linalg import _core as LC

        def rule(xp, need, g, out, x, y):
            return LC._cross_rule(xp, need, g, out, x, y, axis=d)

        return record(LC.cross_array(a._data, b._data, d), (a, b), rule, "LinalgCrossBackward0")
    a, b = a.expand(shape), b.expand(shape)
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    return S.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


@op
def trace(input: Tensor) -> Tensor:
    """trace(input): the sum of the main diagonal of a 2-D tensor (integers sum to int64, as PyTorch).

    >>> import tapegrad as tg
    >>> tg.trace(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(5.)
    """
    if _tensor("trace", input).ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with size {list(input.shape)}")
    if input._data.dtype == np.bool_:
        raise NotImplementedError("trace: not implemented for bool tensors, as in PyTorch (\"trace\" not implemented "
                                  "for 'Bool')")
    return named(input.diagonal().sum(), "TraceBackward0")


@op
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """diff(input, n=1, dim=-1, prepend=None, append=None): the n-th forward difference along ``dim``
    (bool tensors: ``!=``), after concatenating ``prepend`` and ``append``.

    >>> import tapegrad as tg
    >>> tg.diff(tg.tensor([1.0, 4.0, 9.0, 16.0]))
    tensor([3., 5., 7.])
    """
    _tensor("diff", input)
    if input.ndim == 0:
        raise RuntimeError("diff: expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"diff: order must be non-negative but got {n}")
    if n == 0 and prepend is None and append is None:
        # as PyTorch 2.13: dim is not checked then (it is checked once prepend/append is given); its copy is a
        # copy_ into a new tensor (CopyBackwards)
        return named(input.clone(), "torch::autograd::CopyBackwards")
    d = check_dim("diff", dim, input.ndim)
    for t in (prepend, append):
        if t is not None and _tensor("diff", t).ndim != input.ndim:
            raise RuntimeError(f"diff expects prepend or append to be the same dimension as input (got "
                               f"{t.ndim} and {input.ndim} dims)")
        # PyTorch's diff_check_compatible_shape (ReduceOps.cpp), for every n (0 too)
        for i in range(input.ndim) if t is not None and t.shape != input.shape else ():
            if i != d and t.shape[i] != input.shape[i]:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to match that of input "
                                   f"except along the differencing dimension; input.size({i}) = {input.shape[i]}, "
                                   f"but got tensor.size({i}) = {t.shape[i]}")
    if n == 0:  # as PyTorch: prepend and append are checked but not joined for the 0-th difference
        return named(input.clone(), "torch::autograd::CopyBackwards")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = S.cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = E.ne(hi, lo) if x.dtype == dtypes.bool else hi - lo
    return x


@op
def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """rot90(input, k=1, dims=(0, 1)): rotated by 90 degrees ``k`` times, from the first dim towards the second.

    >>> import tapegrad as tg
    >>> tg.rot90(tg.tensor([[1, 2], [3, 4]]))
    tensor([[2, 4],
            [1, 3]])
    """
    _tensor("rot90", input)
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = check_dim("rot90", dims[0], input.ndim), check_dim("rot90", dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    x = input._data
    # PyTorch's layout: a flipped copy (transposed in place for an odd k: strides (1, n)), never a view of input
    if k % 2:  # (copy(), not ascontiguousarray: a flip along a size-1 dim is contiguous, and still x's memory)
        value = np.flip(x, d1 if k == 1 else d0).copy().swapaxes(d0, d1)
    else:
        value = np.flip(x, (d0, d1)).copy() if k == 2 else x.copy()

    def rot90_rule(xp, g, out, x):
        return xp.rot90(g, -k, (d0, d1))

    return record(value, (input,), rot90_rule, "Rot90Backward0")


@op
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """diag_embed(input, offset=0, dim1=-2, dim2=-1): matrices (in dims ``dim1``, ``dim2`` of the result) whose
    ``offset`` diagonal holds the last dim of ``input``.

    >>> import tapegrad as tg
    >>> tg.diag_embed(tg.tensor([[1.0, 2.0]]))
    tensor([[[1., 0.],
             [0., 2.]]])
    """
    _tensor("diag_embed", input)
    nd = input.ndim + 1
    d1, d2 = check_dim("diag_embed", dim1, nd), check_dim("diag_embed", dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input._data if input.ndim else input._data.reshape(1)
    n = x.shape[-1] + builtins.abs(offset)
    mats = np.zeros(x.shape[:-1] + (n, n), dtype=x.dtype)
    # the values are placed, not multiplied by a 0/1 matrix: a NaN or inf must not spread to the zeros around it
    mats[..., np.arange(x.shape[-1]) + builtins.max(-offset, 0), np.arange(x.shape[-1]) + builtins.max(offset, 0)] = x
    # the two new dims are last; move them to dim1, dim2, in a new contiguous tensor (PyTorch's zeros, then a copy
    # into their diagonal)
    rest = [d for d in range(nd) if d not in (d1, d2)]
    order = [0] * nd
    for src, dst in enumerate(rest + [d1, d2]):
        order[dst] = src
    out = np.ascontiguousarray(mats.transpose(order))
    if x.dtype.kind != "f":
        return wrap(out)
    shape = tuple(input.shape)

    def rule(xp, g, out, x):
        return xp.reshape(xp.diagonal(g, offset, d1, d2), shape)

    return record(out, (input,), rule, "DiagEmbedBackward0")


@op
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """diagflat(input, offset=0): a matrix whose ``offset`` diagonal is ``input`` flattened.

    >>> import tapegrad as tg
    >>> tg.diagflat(tg.tensor([[1.0, 2.0]]))
    tensor([[1., 0.],
            [0., 2.]])
    """
    return diag_embed(_tensor("diagflat", input).reshape(-1), offset)


@op
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """repeat_interleave(input, repeats, dim=None, *, output_size=None): each element (or slice along ``dim``)
    repeated ``repeats`` times (an int, or a tensor of one count per element); without ``dim`` the input is
    flattened. ``repeat_interleave(repeats)`` alone repeats ``0, 1, ...`` by the counts.

    >>> import tapegrad as tg
    >>> tg.repeat_interleave(tg.tensor([1.0, 2.0]), 2)
    tensor([1., 1., 2., 2.])
    >>> tg.repeat_interleave(tg.tensor([[1, 2], [3, 4]]), tg.tensor([1, 2]), dim=0)
    tensor([[1, 2],
            [3, 4],
            [3, 4]])
    """
    if repeats is None:  # repeat_interleave(repeats)
        counts = _tensor("repeat_interleave", input, "repeats")._data
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave: repeats must be a 1-D integer tensor")
        return wrap(np.repeat(np.arange(counts.shape[0], dtype=counts.dtype), counts))
    _tensor("repeat_interleave", input)
    if dim is not None and input.ndim == 0:  # as PyTorch: a 0-d input has no dim to repeat along
        raise IndexError(f"repeat_interleave: dimension specified as {dim} but tensor has no dimensions")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else check_dim("repeat_interleave", dim, input.ndim)
    n = x.shape[d] if x.ndim else 1
    if isinstance(repeats, Tensor):
        r = repeats._data
        if r.ndim > 1 or r.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave: repeats must be a 0-d or 1-d integer tensor, got shape "
                               f"{tuple(r.shape)} of {r.dtype}")
        r = np.broadcast_to(r.reshape(-1), (n,)) if r.size == 1 else r.reshape(-1)
    else:
        if int(repeats) < 0:  # refused even for an empty input, as PyTorch
            raise RuntimeError(f"repeat_interleave: Repeats must be non-negative, got {repeats}")
        r = np.full((n,), int(repeats))
    if r.shape[0] != n:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {r.shape[0]} and input.size({d}) = {n}")
    if (r < 0).any():
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    index = np.repeat(np.arange(n), r)
    # a tensor of no repeats gives an empty index before output_size is looked at (aten/src/ATen/native/Repeat.h:
    # `if (repeats.size(0) == 0) return at::empty_like(repeats)`); an int's total is checked (Repeat.cpp)
    if output_size is not None and output_size != index.shape[0] and not (n == 0 and isinstance(repeats, Tensor)):
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the total of repeats "
                           f"{index.shape[0]}")
    if x.ndim == 0:
        x = x.reshape(1)
    if not isinstance(repeats, Tensor):
        # PyTorch's int repeats (Repeat.cpp): unsqueeze, expand, clone and flatten, so the result is a view of the
        # clone (``detach_()`` refuses it, as PyTorch's); a tensor of repeats goes through index_select
        shape = list(x.shape)
        shape.insert(d + 1, int(repeats))
        return x.unsqueeze(d + 1).expand(shape).clone().flatten(d, d + 1)
    return I.index_select(x, d, wrap(index.astype(np.int64)))


@op(inplace=True)
def renorm(input: Tensor, p, dim: int, maxnorm) -> Tensor:
    """renorm(input, p, dim, maxnorm): each sub-tensor along ``dim`` whose p-norm exceeds ``maxnorm`` scaled
    down to norm ``maxnorm`` (the scale, ``maxnorm / (norm + 1e-7)``, is treated as differentiable).

    >>> import tapegrad as tg
    >>> tg.renorm(tg.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0)
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    _tensor("renorm", input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating-point tensor, got {input._data.dtype}")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive norm not supported, got p = {p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    d = check_dim("renorm", dim, input.ndim)
    others = tuple(a for a in range(input.ndim) if a != d)
    # NOTE: as PyTorch's renorm_backward, where(norm > maxnorm, grad_norm, grad): a slice left as it is passes the
    # gradient through untouched, so the norm is differentiated only in the slices scaled (an unscaled slice's nan or
    # inf would reach its gradient through 0 * d norm otherwise)
    x = input.detach()
    scaled = R.norm(x, p, others, keepdim=True) > maxnorm
    factor = E.where(scaled, maxnorm / (R.norm(E.where(scaled, x, 0.0), p, others, keepdim=True) + 1e-7), 1.0)
    return record((x * factor)._data, (input,), _renorm_rule(float(p), others, float(maxnorm)), "RenormBackward0")


def _renorm_rule(p, axes, maxnorm):
    """PyTorch's renorm_backward: where the slice was scaled, factor g - factor / (norm + 1e-7) d norm(x . g), with
    factor = maxnorm / (norm + 1e-7); g itself elsewhere. NOTE: computed in the CPU's accumulation dtype (float64 for
    float32, float32 for float16) as PyTorch's, then rounded: the difference of those two terms is where float32
    loses everything (x = -2, maxnorm 1: 6.2e-9, not 0)."""
    def renorm_rule(xp, g, out, x):
        with np.errstate(all="ignore"):  # (inf and nan as PyTorch's, without numpy's warnings)
            return _renorm_backward(xp, g, x)

    def _renorm_backward(xp, g, x):
        acc = np.float64 if x.dtype == np.float32 else np.float32 if x.dtype == np.float16 else x.dtype
        xa, ga = xp.astype(x, acc), xp.astype(g, acc)
        ax = xp.abs(xa)
        if p == np.inf:
            norm = xp.amax(ax, axis=axes, keepdims=True)
        else:
            norm = (ax ** p).sum(axis=axes, keepdims=True) ** (1 / p)
        # d norm(x) . g, through norm's backward below: PyTorch multiplies x g in the dtype (3e38 * 2 is inf in
        # float32), then sums in the accumulation dtype
        inner = xp.astype(x * g, acc).sum(axis=axes, keepdims=True)
        if p == 1:
            nb = R._sgn(xa) * inner
        elif p == np.inf:
            ties = ax == norm
            nb = R._sgn(xa) * ties * inner / ties.sum(axis=axes, keepdims=True)
        else:
            zero = norm == 0
            nb = xa * (ax + (ax == 0)) ** (p - 2) * xp.where(zero, 0.0, inner / (norm + zero) ** (p - 1))
        invnorm = 1 / (norm + 1e-7)
        factor = invnorm * maxnorm
        return xp.astype(xp.where(norm > maxnorm, factor * ga - (factor * invnorm) * nb, ga), x.dtype)

    return renorm_rule


# ---------------------------------------------------------------------- splits
@op
def split_with_sizes(input: Tensor, split_sizes, dim: int = 0):
    """split_with_sizes(input, split_sizes, dim=0): ``split`` with a list of sizes that must add up to the
    dim's size.

    >>> import tapegrad as tg
    >>> [t.tolist() for t in tg.split_with_sizes(tg.arange(5), [2, 3])]
    [[0, 1], [2, 3, 4]]
    """
    d = check_dim("split_with_sizes", dim, _tensor("split_with_sizes", input).ndim)
    sizes = [int(s) for s in split_sizes]
    if builtins.sum(sizes) != input.shape[d] or builtins.any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {input.shape[d]} (input "
                           f"tensor's size at dimension {dim}), but got split_sizes={sizes}")
    return input.split(sizes, d)


def _directional_split(op_name, input, indices_or_sections, dim, min_dims):
    _tensor(op_name, input)
    if input.ndim < min_dims:
        raise RuntimeError(f"{op_name} requires a tensor with at least {min_dims} dimension, but got a tensor "
                           f"with {input.ndim} dimensions!")
    d = dim if input.ndim > 1 or op_name != "hsplit" else 0
    if isinstance(indices_or_sections, int) and input.shape[d] % indices_or_sections:
        raise RuntimeError(f"{op_name} attempted to split along dimension {d}, but the size of the dimension "
                           f"{input.shape[d]} is not divisible by the split_size {indices_or_sections}!")
    return input.tensor_split(indices_or_sections, d)


@op
def hsplit(input: Tensor, indices_or_sections):
    """hsplit(input, indices_or_sections): ``tensor_split`` along dim 1 (dim 0 for a 1-D tensor); an int
    must divide the dim.

    >>> import tapegrad as tg
    >>> [t.tolist() for t in tg.hsplit(tg.arange(4), 2)]
    [[0, 1], [2, 3]]
    """
    return _directional_split("hsplit", input, indices_or_sections, 1, 1)


@op
def vsplit(input: Tensor, indices_or_sections):
    """vsplit(input, indices_or_sections): ``tensor_split`` along dim 0 of a tensor of 2 or more dims.

    >>> import tapegrad as tg
    >>> [t.shape for t in tg.vsplit(tg.zeros(4, 2), [1])]
    [tapegrad.Size([1, 2]), tapegrad.Size([3, 2])]
    """
    return _directional_split("vsplit", input, indices_or_sections, 0, 2)


@op
def dsplit(input: Tensor, indices_or_sections):
    """dsplit(input, indices_or_sections): ``tensor_split`` along dim 2 of a tensor of 3 or more dims.

    >>> import tapegrad as tg
    >>> len(tg.dsplit(tg.zeros(1, 1, 4), 2))
    2
    """
    return _directional_split("dsplit", input, indices_or_sections, 2, 3)


@op
def ravel(input: Tensor) -> Tensor:
    """ravel(input): the elements as a 1-D tensor: ``input.contiguous().view(-1)``, as PyTorch's, so a view of
    input when it is contiguous and otherwise a view of a contiguous copy (even where a strided view would do:
    the ravel of a diagonal is not a view of its base).

    >>> import tapegrad as tg
    >>> tg.ravel(tg.tensor([[1, 2], [3, 4]]))
    tensor([1, 2, 3, 4])
    """
    return _tensor("ravel", input).contiguous().view(-1)


# ---------------------------------------------------------------------- NaN-aware reductions
def _float_input(op_name, input):
    if _tensor(op_name, input)._data.dtype.kind != "f":
        raise RuntimeError(f"{op_name}(): expected input to have floating point dtype but got "
                           f"{input._data.dtype}")


@op
def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """nansum(input, dim=None, keepdim=False, *, dtype=None): ``sum`` treating NaN as 0 (gradient 0 there).

    >>> import tapegrad as tg
    >>> tg.nansum(tg.tensor([1.0, float("nan"), 2.0]))
    tensor(3.)
    """
    _tensor("nansum", input)
    if input._data.dtype.kind != "f":
        return R.sum(input, dim, keepdim, dtype=dtype)
    if dtype is not None and dtypes.as_dtype(dtype).kind != "f":  # NaN is 0 before the cast (no gradient here)
        if input._data.dtype == np.float16:
            # NOTE: PyTorch 2.13's float16 nansum to an integer dtype also takes +-inf as +-65504 (float16's
            # largest finite) before the cast, as nan_to_num (its float32/float64/bfloat16 cast inf as .to does)
            return R.sum(E.where(E.isnan(input), 0, E.clamp(input, -65504.0, 65504.0)), dim, keepdim, dtype=dtype)
        return R.sum(E.where(E.isnan(input), 0, input), dim, keepdim, dtype=dtype)
    if dtype is not None:
        input = R._in_dtype("nansum", input, dtype)
    x = input._data
    keep = ~np.isnan(x)
    out = R.sum(wrap(np.where(keep, x, 0).astype(x.dtype, copy=False)), dim, keepdim)._data
    kept = None if keepdim or dim is None and out.ndim == 0 else R.kept_shape(x.shape, R.normalize_dims(
        "nansum", dim, x.ndim))
    return record(np.asarray(out, order="C"), (input,), _nansum_rule(x.shape, kept, keep), "NansumBackward0")


def _nansum_rule(shape, kept, keep):
    """PyTorch's nansum_backward: sum's gradient times ``~isnan(input)``, a product (so a NaN gradient stays NaN
    at the NaN positions too, as in PyTorch; where() would select 0 there)."""

    def rule(xp, g, out, x):
        return xp.broadcast_to(g if kept is None else g.reshape(kept), shape) * keep

    return rule


@op
def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """nanmean(input, dim=None, keepdim=False, *, dtype=None): the mean of the non-NaN elements (NaN if there
    are none).

    >>> import tapegrad as tg
    >>> tg.nanmean(tg.tensor([1.0, float("nan"), 2.0]))
    tensor(1.5000)
    """
    _float_input("nanmean", input)
    if dtype is not None and not dtypes.as_dtype(dtype).kind == "f":
        raise RuntimeError(f"nanmean(): could not infer output dtype. Optional dtype must be either a floating point "
                           f"or complex dtype. Got: {dtype}")
    count = R.sum(E.logical_not(E.isnan(input)), dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / count


_SELECTED_NODES = {"kthvalue": "KthvalueBackward0", "mode": "ModeBackward0", "nanmedian": "NanmedianBackward1"}


def _selected(op_name, input, dim, keepdim, index, cls):
    """``(values, indices)`` of the elements at ``index`` (an int64 array keeping dim ``dim``) along ``dim``;
    the gradient goes to the selected elements (PyTorch's value_selecting_reduction_backward). The values are a
    new tensor, not a view (as PyTorch's: ``detach_()`` and the view rules of in-place ops treat them so)."""
    index = index.astype(np.int64)
    values = np.take_along_axis(input._data, index, dim)
    idx = index
    if not keepdim:
        values, idx = values.squeeze(dim), idx.squeeze(dim)
    rule = R.scatter_back(index, dim, input._data.shape, keepdim)
    return cls(record(values, (input,), rule, _SELECTED_NODES[op_name]), wrap(idx.copy()))


def _along(op_name, input, dim):
    _tensor(op_name, input)
    if input.ndim == 0:
        check_dim(op_name, dim, 0)
        return None
    d = check_dim(op_name, dim, input.ndim)
    return d


@op
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """kthvalue(input, k, dim=-1, keepdim=False) -> (values, indices): the k-th smallest element (1-based)
    along ``dim``; NaN counts as the largest.

    >>> import tapegrad as tg
    >>> tg.kthvalue(tg.tensor([3.0, 1.0, 2.0]), 2)
    kthvalue(values=tensor(2.), indices=tensor(2))
    """
    d = _along("kthvalue", input, dim)
    if d is None:
        if k != 1:
            raise IndexError(f"kthvalue(): selected number k out of range for dimension {dim}")
        # its dtype kept (bool too)
        return kthvalue_result(named(input.clone(), "KthvalueBackward0"), wrap(np.zeros((), np.int64)))
    n = input.shape[d]
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {dim} (k = {k}, size {n})")
    if input._data.dtype == np.bool_:
        raise NotImplementedError("kthvalue: not implemented for bool tensors, as in PyTorch (\"kthvalue_cpu\" not "
                                  "implemented for 'Bool')")
    x = input._data
    index = np.take(np.argsort(x, axis=d, kind="stable"), [k - 1], axis=d)
    if x.dtype.kind == "f":
        picked = np.take_along_axis(x, index, d)
        zero = x == 0
        if (picked == 0).any() and (zero & np.signbit(x)).any() and (zero & ~np.signbit(x)).any():
            index = _kth_zeros_as_pytorch(x, d, k, index)
    return _selected("kthvalue", input, d, keepdim, index, kthvalue_result)


def _kth_zeros_as_pytorch(x, d, k, index):
    """``index`` with the rows whose k-th value is a zero and which hold zeros of both signs re-selected by
    PyTorch's own quickselect, whose order of swaps decides which zero it returns (Python speed: only those
    rows)."""
    rows = np.moveaxis(x, d, -1).reshape(-1, x.shape[d])
    out = np.moveaxis(index, d, -1).reshape(-1).copy()
    for r in np.flatnonzero(rows[np.arange(rows.shape[0]), out] == 0):
        row = rows[r]
        if np.signbit(row[row == 0]).any() and not np.signbit(row[row == 0]).all():
            out[r] = _stdsort.torch_quick_select(row.astype(np.float64).tolist(), k - 1)
    return np.moveaxis(out.reshape(np.moveaxis(index, d, -1).shape), -1, d)


@op
def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """mode(input, dim=-1, keepdim=False) -> (values, indices): the most frequent value along ``dim`` (the
    smallest among equally frequent ones) and the index of its last occurrence, as PyTorch's CPU kernel.

    >>> import tapegrad as tg
    >>> tg.mode(tg.tensor([2, 1, 2, 1, 3]))
    mode(values=tensor(1), indices=tensor(3))
    """
    d = _along("mode", input, dim)
    if d is None:
        # its dtype kept (bool too)
        return mode_result(named(input.clone(), "ModeBackward0"), wrap(np.zeros((), np.int64)))
    x = np.moveaxis(input._data, d, -1)
    n = x.shape[-1]
    if n == 0:
        raise IndexError(f"mode(): expected reduction dim {dim} to have non-zero size")
    flat = x.reshape(-1, n)
    best = np.empty(flat.shape[0], np.int64)
    nan_rows = np.isnan(flat).any(axis=1) if flat.dtype.kind == "f" else None
    for row in range(flat.shape[0]):
        v = flat[row]
        if nan_rows is not None and nan_rows[row]:
            best[row] = _mode_with_nan(v)
            continue
        order = np.argsort(v, kind="stable")
        s = v[order]
        same = np.concatenate([[True], s[1:] != s[:-1]])  # each NaN is a value of its own, as PyTorch's
        starts = np.flatnonzero(same)
        counts = np.diff(np.append(starts, n))
        g = int(np.argmax(counts))  # the first (smallest) value among the most frequent
        best[row] = order[starts[g] + counts[g] - 1]  # its last occurrence (stable sort keeps order)
    index = np.moveaxis(best.reshape(x.shape[:-1] + (1,)), -1, d)
    return _selected("mode", input, d, keepdim, index, mode_result)


def _mode_with_nan(v):
    """The index PyTorch's CPU mode kernel picks in a row holding NaN: it sorts (value, index) pairs with
    ``std::sort`` and ``a.first < b.first``, which NaN makes no strict weak order, so where each NaN lands is
    libstdc++'s order of moves (aten/src/ATen/native/cpu/TensorCompareKernel.cpp, mode_kernel_impl); then the
    first longest run of equal values (each NaN a run of its own) gives the value, its last pair the index."""
    pairs = _stdsort.std_sort(list(zip(v.astype(np.float64).tolist(), range(v.shape[0]))),
                              lambda a, b: a[0] < b[0])
    best, best_freq, freq = 0, 0, 0
    for i, (value, index) in enumerate(pairs):
        freq += 1
        if i == len(pairs) - 1 or value != pairs[i + 1][0]:
            if freq > best_freq:
                best, best_freq = index, freq
            freq = 0
    return best


@op
def nanmedian(input: Tensor, dim=None, keepdim: bool | None = None):
    """nanmedian(input) -> 0-d tensor; nanmedian(input, dim, keepdim=False) -> (values, indices): the lower
    median of the non-NaN elements (NaN where all are NaN).

    >>> import tapegrad as tg
    >>> tg.nanmedian(tg.tensor([3.0, float("nan"), 1.0, 2.0]))
    tensor(2.)
    """
    _tensor("nanmedian", input)
    if dim is None and keepdim is not None:  # PyTorch's signatures: keepdim only with a dim, whatever the dtype
        raise TypeError(f"nanmedian: keepdim={keepdim} needs a dim (missing 1 required positional argument: 'dim')")
    keepdim = bool(keepdim)
    if input._data.dtype.kind != "f":
        return R.median(input, dim, keepdim) if dim is not None else R.median(input)
    if dim is None:
        x = input._data.reshape(-1)
        if x.shape[0] == 0:
            return named(R.median(input), "NanmedianBackward0")
        return _nanmedian_whole(input)
    d = _along("nanmedian", input, dim)
    if d is None:
        return nanmedian_result(named(input * 1, "NanmedianBackward1"), wrap(np.zeros((), np.int64)))
    if input.shape[d] == 0:
        raise IndexError(f"nanmedian(): expected reduction dim {dim} to have non-zero size")
    return _nanmedian_along(input, d, keepdim)


def _nanmedian_whole(input):
    """The whole tensor's nanmedian: PyTorch's node NanmedianBackward0 splits the gradient evenly among the
    elements equal to the result (the NaNs when it is NaN: evenly_distribute_backward), as median's."""
    x = input._data.reshape(-1)
    valid = int((~np.isnan(x)).sum())
    pos = max(valid - 1, 0) // 2
    index = int(np.argsort(x, kind="stable")[pos])  # NaNs last
    if x[index] == 0:  # which zero: see R.median_zero
        sign = R.median_zero(x, pos, _stdsort.nan_last_less)
        if sign is not None:
            index = int(np.flatnonzero((x == 0) & (np.signbit(x) == sign))[0])
    return R._spread_over_ties("NanmedianBackward0", input, x[index].reshape(()).copy(),
                               tuple(range(input._data.ndim)), False, nan_ties=True)


def _nanmedian_along(input, d, keepdim):
    x = input._data
    order = np.argsort(x, axis=d, kind="stable")  # NaNs last
    valid = (~np.isnan(x)).sum(axis=d, keepdims=True)
    pos = np.maximum(valid - 1, 0) // 2
    index = np.take_along_axis(order, pos, axis=d)
    return _selected("nanmedian", input, d, keepdim, index, nanmedian_result)


def _quantile(op_name, input, q, dim, keepdim, interpolation, ignore_nan):
    _tensor(op_name, input)
    if input._data.dtype not in (np.float32, np.float64):  # float16 too, as PyTorch
        raise RuntimeError(f"{op_name}() input tensor must be either float or double dtype, got {input.dtype}")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"{op_name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    scalar_q = not isinstance(q, Tensor)
    qs = np.asarray(q._data if isinstance(q, Tensor) else q, dtype=np.float64)
    if qs.ndim > 1:
        raise RuntimeError(f"{op_name}() q must be a scalar or 1D tensor")
    if isinstance(q, Tensor) and q._data.dtype != input._data.dtype:
        raise RuntimeError(f"{op_name}() q tensor must be same dtype as the input tensor")
    if not ((qs >= 0) & (qs <= 1)).all():  # (a NaN q too, as PyTorch's check)
        raise RuntimeError(f"{op_name}() q values must be in the range [0, 1]")
    if input.numel() == 0:
        raise RuntimeError(f"{op_name}() input tensor must be non-empty")
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        d = check_dim(op_name, dim, input.ndim)
        x = input if input.ndim else input.reshape(1)
    data = x._data
    order = np.argsort(data, axis=d, kind="stable")  # NaNs last
    if input._requires_grad and is_grad_enabled():
        order = _ties_as_pytorch(data, d, order)
    sorted_x = I.gather(x, d, wrap(order.astype(np.int64)))
    n = data.shape[d]
    nan_any = np.isnan(data).any(axis=d, keepdims=True)
    count = (~np.isnan(data)).sum(axis=d, keepdims=True) if ignore_nan else np.full(nan_any.shape, n)
    results = []
    for qv in qs.reshape(-1):
        # NOTE: PyTorch's ranks: quantile of a slice with a NaN takes the last sorted element (a NaN, which gets
        # the gradient); nanquantile of an all-NaN slice takes the first (rank 0)
        rank = np.maximum(qv * (count - 1), 0) if ignore_nan else np.where(nan_any, n - 1, qv * (n - 1))
        lo = np.floor(rank).astype(np.int64)
        hi = np.ceil(rank).astype(np.int64)
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            lo = hi = np.round(rank).astype(np.int64)  # round half to even, as PyTorch's
        lo_c, hi_c = np.clip(lo, 0, n - 1), np.clip(hi, 0, n - 1)
        a = I.gather(sorted_x, d, wrap(lo_c))
        b = I.gather(sorted_x, d, wrap(hi_c))
        if interpolation in ("linear", "midpoint"):
            # NOTE: as PyTorch, lerp(below, above, weight) always (inf - inf and 0 * inf give its nan)
            w = rank - lo if interpolation == "linear" else np.where(lo == hi, 0.0, 0.5)
            out = a.lerp(b, wrap(np.broadcast_to(w, a.shape).astype(data.dtype)))
            if interpolation == "midpoint" and (lo == hi).any():
                # PyTorch's midpoint keeps a finite value where the rank is whole (-0.0 too; lerp gives +0.0)
                keep = np.broadcast_to(lo == hi, a.shape) & np.isfinite(a._data)
                out = E.where(wrap(keep.copy()), a, out)
        else:
            out = a
        # a 0-d input keeps no dim even with keepdim (PyTorch's quantile_output_shape: keepdim gives
        # input.dim() ones, none here)
        results.append(out if (keepdim and input.ndim) or dim is None else out.squeeze(d))
    if dim is None:
        results = [r.reshape((1,) * input.ndim) if keepdim else r.reshape(()) for r in results]
    if not results:  # an empty q tensor: an empty first dim, as PyTorch
        return _quantile(op_name, input, wrap(np.zeros(1, data.dtype)), dim, keepdim, interpolation,
                         ignore_nan)[:0]
    if scalar_q or qs.ndim == 0:
        return results[0]
    # PyTorch computes the quantiles last (contiguous) and moves that dim first: a non-contiguous layout whose
    # view() fails as PyTorch's does (quantile_impl's movedim(-1, 0))
    return S.movedim(S.stack(results, -1), -1, 0)


def _ties_as_pytorch(data, d, order):
    """``order`` with the slices (along ``d``) that hold equal values (NaNs too) sorted as PyTorch's quantile sorts
    them: its unstable CPU sort (Sorting.cpp, quantile_compute: ``sort()``; SortingKernel.cpp: ``std::sort`` with
    NaN last), whose order of equal values decides which of them receives the gradient. Values do not depend on
    it, so this runs only for a gradient, and in Python only for slices with a tie."""
    s = np.take_along_axis(data, order, axis=d)
    nan = np.isnan(s)
    tie = (s[(slice(None),) * d + (slice(1, None),)] == s[(slice(None),) * d + (slice(None, -1),)]) | (
        nan[(slice(None),) * d + (slice(1, None),)] & nan[(slice(None),) * d + (slice(None, -1),)])
    if not tie.any():
        return order
    rows = np.moveaxis(data, d, -1)
    out = np.moveaxis(order, d, -1).copy()
    tied = np.moveaxis(tie, d, -1).any(axis=-1)
    for idx in (i for i in np.ndindex(tied.shape) if tied[i]):
        pairs = _stdsort.std_sort(list(zip(rows[idx].astype(np.float64).tolist(), range(rows.shape[-1]))),
                                  lambda a, b: _stdsort.nan_last_less(a[0], b[0]))
        out[idx] = [i for _, i in pairs]
    return np.moveaxis(out, -1, d)


@op
def quantile(input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """quantile(input, q, dim=None, keepdim=False, *, interpolation='linear'): the q-th quantiles (q a number
    or a 1-D tensor in [0, 1], stacked first) along ``dim`` or of all elements; NaN where a NaN is involved.

    >>> import tapegrad as tg
    >>> tg.quantile(tg.tensor([1.0, 2.0, 3.0, 4.0]), 0.5)
    tensor(2.5000)
    """
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


@op
def nanquantile(input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """nanquantile(input, q, dim=None, keepdim=False, *, interpolation='linear'): ``quantile`` ignoring NaNs
    (NaN where all are NaN).

    >>> import tapegrad as tg
    >>> tg.nanquantile(tg.tensor([1.0, float("nan"), 3.0]), 0.5)
    tensor(2.)
    """
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


@op
def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    """aminmax(input, *, dim=None, keepdim=False) -> (min, max): ``amin`` and ``amax`` together.

    >>> import tapegrad as tg
    >>> tg.aminmax(tg.tensor([3, 1, 2]))
    aminmax(min=tensor(1), max=tensor(3))
    """
    _tensor("aminmax", input)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                               "identity.")
        if keepdim and input.ndim:  # over every dim, kept: a new tensor (a reshape would be a view)
            every = tuple(range(input.ndim))
            return aminmax_result(named(R.amin(input, every, True), "AminmaxBackward0"),
                                  named(R.amax(input, every, True), "AminmaxBackward0"))
        return aminmax_result(named(R.amin(input), "AminmaxBackward0"), named(R.amax(input), "AminmaxBackward0"))
    x = input._data
    if x.dtype.kind == "f" and x.ndim and x.shape[check_dim("aminmax", dim, x.ndim)] and (x == 0).any():
        return _aminmax_zeros(input, check_dim("aminmax", dim, x.ndim), keepdim)
    # PyTorch's one node of both results (AminmaxBackward0), here two
    return aminmax_result(named(R.amin(input, dim, keepdim), "AminmaxBackward0"),
                          named(R.amax(input, dim, keepdim), "AminmaxBackward0"))


def _aminmax_zeros(input, d, keepdim):
    """aminmax along ``d`` of a float tensor holding a zero: PyTorch's kernel walks each slice in order, replacing
    the min only by a smaller value and the max only by a larger one, so a zero result is the slice's first zero,
    0.0 or -0.0 (aten/src/ATen/native/cpu/TensorCompareKernel.cpp, aminmax_kernel)."""
    x = input._data
    first = np.take_along_axis(x, np.argmax(x == 0, axis=d, keepdims=True), d)
    if not keepdim:
        first = first.squeeze(d)
    out = []
    for extreme in (np.min, np.max):
        value = np.asarray(extreme(x, axis=d, keepdims=keepdim))
        value = np.where(value == 0, first, value)
        out.append(R._spread_over_ties("AminmaxBackward0", input, value, (d,), keepdim, nan_ties=False))
    return aminmax_result(*out)


def _cumulative_extreme(op_name, input, dim, better, cls):
    _tensor(op_name, input)
    node = op_name.title() + "Backward0"  # PyTorch's one node (CummaxBackward0), here a gather
    if input.ndim == 0:
        check_dim(op_name, dim, 0)
        # its dtype kept (bool too), as PyTorch
        return cls(named(input.clone(), node), wrap(np.zeros((), np.int64)))
    d = check_dim(op_name, dim, input.ndim)
    x = np.moveaxis(input._data, d, 0)
    index = np.zeros(x.shape, np.int64)
    if x.shape[0]:
        best, at = x[0].copy(), np.zeros(x.shape[1:], np.int64)
        for i in range(x.shape[0]):
            v = x[i]
            # NOTE: ties and NaNs move the index forward (PyTorch's >= / <=); a NaN sticks once seen
            if x.dtype.kind == "f":
                take = np.isnan(v) | (~np.isnan(best) & better(v, best))
            else:
                take = better(v, best)
            best, at = np.where(take, v, best), np.where(take, i, at)
            index[i] = at
    index = np.ascontiguousarray(np.moveaxis(index, 0, d))  # contiguous results, as PyTorch's (view(-1) works)
    return cls(named(I.gather(input, d, wrap(index)), node), wrap(index))


@op
def cummax(input: Tensor, dim: int):
    """cummax(input, dim) -> (values, indices): the running maximum along ``dim`` and where it was found (the
    last of equal values; NaN propagates).

    >>> import tapegrad as tg
    >>> tg.cummax(tg.tensor([1.0, 3.0, 2.0, 3.0]), 0)
    cummax(values=tensor([1., 3., 3., 3.]), indices=tensor([0, 1, 1, 3]))
    """
    return _cumulative_extreme("cummax", input, dim, np.greater_equal, cummax_result)


@op
def cummin(input: Tensor, dim: int):
    """cummin(input, dim) -> (values, indices): the running minimum along ``dim`` and where it was found.

    >>> import tapegrad as tg
    >>> tg.cummin(tg.tensor([3.0, 1.0, 2.0, 1.0]), 0)
    cummin(values=tensor([3., 1., 1., 1.]), indices=tensor([0, 1, 1, 3]))
    """
    return _cumulative_extreme("cummin", input, dim, np.less_equal, cummin_result)


@op
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """logcumsumexp(input, dim): ``log(cumsum(exp(input), dim))`` computed stably (with an n-by-n intermediate
    per slice of length n along ``dim``).

    >>> import tapegrad as tg
    >>> tg.logcumsumexp(tg.tensor([0.0, 0.0, 0.0]), 0)
    tensor([0.0000, 0.6931, 1.0986])
    """
    _float_input("logcumsumexp", input)
    if input.ndim == 0:
        check_dim("logcumsumexp", dim, 0)
        return named(input * 1, "LogcumsumexpBackward0")
    d = check_dim("logcumsumexp", dim, input.ndim)
    n = input.shape[d]
    # NOTE: out[i] = logsumexp_j(x[j] + mask[i, j]), mask 0 for j <= i and -inf after: stable for any range of
    # values (a shifted cumsum underflows), at the cost of an n-by-n intermediate per slice
    # (the later elements are selected away, not added -inf to: inf + -inf would be nan)
    keep = np.tril(np.ones((n, n), dtype=bool))
    x = E.where(wrap(keep), input.movedim(d, -1).unsqueeze(-2), wrap(np.array(-np.inf, input._data.dtype)))
    # PyTorch's one node LogcumsumexpBackward0 (a new tensor, not a view of this composition's temporary)
    return named(_unview(R.logsumexp(x, -1).movedim(-1, d)), "LogcumsumexpBackward0")


@op
def msort(input: Tensor) -> Tensor:
    """msort(input): ``input`` sorted along dim 0 (the values of ``sort(input, dim=0)``).

    >>> import tapegrad as tg
    >>> tg.msort(tg.tensor([[3, 1], [1, 2]]))
    tensor([[1, 1],
            [3, 2]])
    """
    return So.sort(_tensor("msort", input), 0).values
