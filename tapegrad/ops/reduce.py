"""Reductions over ``dim`` (an int, a tuple, or None for all) with ``keepdim``, and scans along one ``dim``.

Each op is declared with ``@op`` and records its result with its rule and PyTorch's node name
(``autograd/declare.py``). A reduction's rule first puts the reduced axes back as 1s (``g.reshape(kept)``) so
that the gradient broadcasts against the input; value-selecting reductions (max, median along a dim) scatter it
back to the chosen elements as a linear map (``xp.linear``), so rules never ask how they are evaluated.
"""

import builtins
import math
import types
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd.declare import NOT_GIVEN, Tensor, backward_op, cast, op, record
from ..autograd.declare import check_dim as _check_dim
from ..autograd.declare import wrap as _wrap
from ..autograd.grad_mode import is_grad_enabled
from . import _stdsort

__all__ = ["sum", "mean", "var", "std", "var_mean", "std_mean", "prod", "max", "min", "amax", "amin",
           "argmax", "argmin", "logsumexp", "cumsum", "cumprod", "norm", "all", "any", "count_nonzero",
           "median", "return_types"]

return_types = types.SimpleNamespace(
    max=namedtuple("max", ["values", "indices"]),
    min=namedtuple("min", ["values", "indices"]),
    median=namedtuple("median", ["values", "indices"]),
    sort=namedtuple("sort", ["values", "indices"]),
    topk=namedtuple("topk", ["values", "indices"]),
)
return_types.__doc__ = ("The named tuples (values, indices) that max, min and median along a dim, sort and topk "
                        "return.")


# ---------------------------------------------------------------------- dims
def normalize_dims(op, dim, ndim):
    """``dim`` as a sorted tuple of non-negative axes; None or an empty tuple means all axes (as PyTorch).

    Every dim is checked, also for a 0-d tensor, which takes only -1 and 0 (as PyTorch: ``tensor(3.).sum(5)``
    is an IndexError); the result for a 0-d tensor is ``()``.
    """
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, Tensor):  # a one-element integer tensor is an int, as in PyTorch
        dim = _index_of(op, dim)
    if isinstance(dim, (list, tuple)):
        if not dim:
            return tuple(range(ndim))
        axes = tuple(sorted(_check_dim(op, _index_of(op, d) if isinstance(d, Tensor) else d, ndim) for d in dim))
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {tuple(dim)} names an axis more than once")
        return axes if ndim else ()
    axis = _check_dim(op, dim, ndim)
    return (axis,) if ndim else ()


def _index_of(op, t):
    if t._data.dtype.kind not in "iu" or t._data.size != 1:
        raise TypeError(f"{op}: dim must be an int or a one-element integer tensor, got a {t._data.dtype} tensor "
                        f"of shape {tuple(t._data.shape)}")
    return int(t._data.reshape(()))


def _no_bool(op, t, error=RuntimeError):
    """PyTorch's refusal of bool inputs for ops that order values (argmax, argmin, median, topk)."""
    if t._data.dtype.kind == "b":
        raise error(f"{op}: does not support bool input (cast it with .long() or .float() first)")


def dim_args(op, dim, keepdim, axis, keepdims):
    """Accept numpy's ``axis``/``keepdims`` beside PyTorch's ``dim``/``keepdim`` (PyTorch does too)."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim={dim!r} and its alias axis={axis!r}")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def no_out(op, out):
    """Reductions take ``out=None`` so that numpy's functions work on tensors (``np.sum(t)`` calls
    ``t.sum(axis=None, out=None)``, as it does for any array-like with a ``sum`` method); an ``out`` tensor is
    not supported."""
    if out is not None:
        raise TypeError(f"{op}: out= is not supported; use the returned tensor")


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as 1s: the shape a reduced gradient broadcasts back from."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _row_major(a):
    """A reduction's result laid out row-major, as PyTorch allocates it (numpy keeps the input's order: a reduction
    of a permuted input would be permuted, and view() would accept and refuse other shapes than PyTorch's)."""
    return np.asarray(a, order="C")  # (a itself when it is row-major; 0-d stays 0-d)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _in_dtype(op, input, dtype):
    """``input`` cast to the ``dtype=`` of sum, prod, cumsum or cumprod. As PyTorch, an integer or bool dtype
    is refused for a tensor that requires grad under grad mode (there are no integer gradients)."""
    dtype = dtypes.as_dtype(dtype)
    if dtype.kind != "f" and input._requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: autograd does not support dtype={dtype} for an input that requires grad; "
                           f"detach() it or compute in a floating point dtype")
    return cast(input, dtype)


def _accumulator(dtype):
    """The dtype sums and products accumulate in: float32 for float16 (PyTorch's opmath), else ``dtype``."""
    return np.float32 if dtype == np.float16 else dtype


def _scan_accumulator(dtype):
    """The dtype cumsum and cumprod accumulate in on PyTorch's CPU (its acc_type): float64 for float32, float32
    for float16. So [3e38, 3e38, 0] has the running product [3e38, inf, 0], not nan at the end."""
    return np.float64 if dtype == np.float32 else _accumulator(dtype)


def _floating(op, t):
    """``t`` itself if floating point; PyTorch's reductions that need a float dtype say so."""
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: input dtype must be floating point, got {t._data.dtype}; cast with "
                           ".float() first")
    return t


# ---------------------------------------------------------------------- sum, mean
@op
def sum(input: Tensor, dim=NOT_GIVEN, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None,
        out=None) -> Tensor:
    """sum(input, dim=None, keepdim=False, *, dtype=None): the sum over ``dim`` (all elements by default).

    Integer and bool inputs sum to int64, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0)
    tensor([4., 6.])
    """
    overload = dim is not NOT_GIVEN
    if not overload:
        dim = None
    if axis is not None or keepdims is not None or out is not None:
        no_out("sum", out)
        dim, keepdim = dim_args("sum", dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = _in_dtype("sum", input, dtype)
    x = input._data
    if dim is None and not keepdim:  # the common loss.sum(): no axis bookkeeping
        axes, kept, name = None, None, "SumBackward1" if overload else "SumBackward0"
    else:
        axes = normalize_dims("sum", dim, x.ndim)
        kept, name = None if keepdim else kept_shape(x.shape, axes), "SumBackward1"
    if x.dtype.kind in "biu":
        acc = np.int64 if dtype is None else x.dtype
        return _wrap(_row_major(np.asarray(x.sum(axis=axes, keepdims=keepdim, dtype=acc))))
    if x.dtype == np.float16:
        out = x.sum(axis=axes, keepdims=keepdim, dtype=np.float32).astype(np.float16)
    else:
        out = x.sum(axis=axes, keepdims=keepdim)
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    return record(_row_major(out), (input,), _expand_rule(x.shape, kept), name)


def _expand_rule(shape, kept, n=None):
    """sum's (and, divided by ``n``, mean's) rule: the gradient expanded back to the input's ``shape`` (from
    ``kept``, the shape with the reduced axes as 1s, when the reduction dropped them). It reads no input."""
    if n is None:
        def rule(xp, g, out, x):
            return xp.broadcast_to(g if kept is None else g.reshape(kept), shape)
    else:
        def rule(xp, g, out, x):
            return xp.broadcast_to((g if kept is None else g.reshape(kept)) / n, shape)
    return rule


@op
def mean(input: Tensor, dim=NOT_GIVEN, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None,
         out=None) -> Tensor:
    """mean(input, dim=None, keepdim=False, *, dtype=None): the mean over ``dim`` (floating point only).

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]]).mean(1)
    tensor([1.5000, 3.5000])
    """
    overload = dim is not NOT_GIVEN  # (an explicit None is PyTorch's dim overload: MeanBackward1)
    if not overload:
        dim = None
    if axis is not None or keepdims is not None or out is not None:
        no_out("mean", out)
        dim, keepdim = dim_args("mean", dim, keepdim, axis, keepdims)
    half = False
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        # NOTE: as PyTorch's CPU mean with dtype=float16: the input goes to float32 (not through float16, where
        # an int64 or float32 value may overflow), is averaged there, and the mean is rounded to float16
        half = dtype == np.float16
        input = cast(input, np.float32 if half else dtype)
    x = _floating("mean", input)._data
    if dim is None and not keepdim:
        axes, kept, n, name = None, None, x.size, "MeanBackward1" if overload else "MeanBackward0"
    else:
        axes = normalize_dims("mean", dim, x.ndim)
        kept, n, name = None if keepdim else kept_shape(x.shape, axes), _count(x.shape, axes), "MeanBackward1"
    if n == 0:  # the mean of nothing is nan, as in PyTorch (and without numpy's warning)
        out = np.full(np.sum(x, axis=axes, keepdims=keepdim).shape, np.nan, dtype=x.dtype)
    else:
        out = x.mean(axis=axes, keepdims=keepdim, dtype=_accumulator(x.dtype)).astype(x.dtype, copy=False)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
    if half:
        out = out.astype(np.float16)
    # NOTE: an empty input has an empty gradient: max(n, 1) avoids 0 / 0 on it
    return record(_row_major(out), (input,), _expand_rule(x.shape, kept, builtins.max(n, 1)), name)


# ---------------------------------------------------------------------- var, std
def _correction(op, unbiased, correction, ddof=None):
    if ddof is not None:  # numpy's name (np.std(t) passes it): the same as correction
        if correction is not None:
            raise TypeError(f"{op}: give either correction={correction} or its numpy alias ddof={ddof}, not both")
        correction = ddof
    if correction is not None:
        if unbiased is not None:
            raise TypeError(f"{op}: give either unbiased={unbiased} or correction={correction}, not both")
        return correction
    return 0 if unbiased is False else 1


def _var_setup(op, input, dim, unbiased, keepdim, correction, axis, keepdims, dtype=None, out=None, ddof=None):
    if isinstance(dim, builtins.bool):  # var(input, unbiased): PyTorch's older positional form
        dim, unbiased = None, dim
    no_out(op, out)
    if dtype is not None:
        input = cast(input, dtype)
    dim, keepdim = dim_args(op, dim, keepdim, axis, keepdims)
    c = _correction(op, unbiased, correction, ddof)
    x = _floating(op, input)._data
    axes = normalize_dims(op, dim, x.ndim)
    spread = _Spread(x, axes, keepdim, c, full=dim is None or x.ndim == 0)
    return input, x, spread


class _Spread:
    """What var, std, var_mean and std_mean share: the reduced axes, the count, the correction, the shape the
    gradient is reshaped to (the reduced axes as 1s) and whether every dim is reduced by default (PyTorch's
    gradient formula differs there when N - correction <= 0)."""

    def __init__(self, x, axes, keepdim, correction, full):
        self.axes, self.keepdim, self.correction, self.full = axes, keepdim, correction, full
        self.n = _count(x.shape, axes)
        self.kept = None if keepdim else kept_shape(x.shape, axes)

    def variance(self, x, root=False):
        """The variance (its square root with ``root``: the standard deviation), in x's dtype.

        NOTE: the corrected two-pass algorithm (the second mean removes the first mean's rounding error; one
        pass, E[x^2] - E[x]^2, cancels catastrophically when the mean is large), in float64 for float16 and
        float32 as PyTorch's CPU kernels accumulate (float32 squares overflow long before the variance does).
        """
        axes, n = self.axes, builtins.max(self.n, 1)
        a = x if x.dtype == np.float64 else x.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf and nan inputs give nan
            d = a - a.sum(axis=axes, keepdims=True) / n
            d -= d.sum(axis=axes, keepdims=True) / n
            out = np.asarray((d * d).sum(axis=axes, keepdims=self.keepdim) / builtins.max(self.n - self.correction, 0))
            # (inf where float32 overflows)
            return _row_major((np.sqrt(out) if root else out).astype(x.dtype, copy=False))

    def var_rule(self):
        """PyTorch's var_backward: 2 / (N - correction) * g * (x - mean). Reducing every dim by default with
        N - correction <= 0 it is g * (nan where x equals the mean, else inf); along dims the factor is kept as
        it comes (negative, or inf for 0)."""
        axes, kept, n, dof = self.axes, self.kept, builtins.max(self.n, 1), self.n - self.correction
        if self.full and dof <= 0:
            def var_rule(xp, g, out, x):
                mean = xp.sum(x, axis=axes, keepdims=True) / n
                return (g if kept is None else g.reshape(kept)) * xp.where(x == mean, math.nan, math.inf)
        else:
            scale = 2.0 / dof if dof else math.inf

            def var_rule(xp, g, out, x):
                mean = xp.sum(x, axis=axes, keepdims=True) / n
                return (g if kept is None else g.reshape(kept)) * scale * (x - mean)
        return var_rule

    def std_rule(self):
        """PyTorch's std_backward: var's rule of g / (2 std), taken as 0 where std is 0."""
        kept, var_rule = self.kept, self.var_rule()

        def std_rule(xp, g, out, x):
            if kept is not None:
                g, out = g.reshape(kept), out.reshape(kept)
            zero = out == 0
            # NOTE: g / (2 std) is g / 0 where std = 0; PyTorch fills 0 there: divide by 1 instead and select.
            return var_rule(xp, xp.where(zero, 0.0, g / (2 * out + zero)), None, x)

        return std_rule

    def mean(self, x):
        """The mean var_mean and std_mean return: PyTorch computes it in the same one-pass (Welford) update, in
        float64, whose mean is nan once an infinity is followed by another element of the slice (and finite
        where a float32 sum would overflow: the mean of [-3e38, -3e38] is -3e38, where mean() gives -inf)."""
        axes, n = self.axes, self.n
        if n == 0:
            out = np.full(np.sum(x, axis=axes, keepdims=self.keepdim).shape, np.nan, dtype=x.dtype)
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                out = np.asarray(x.mean(axis=axes, keepdims=self.keepdim, dtype=np.float64)).astype(x.dtype)
        if x.dtype == np.float16 and n > 1 and (out == 0).any():
            # NOTE: PyTorch's float64 update leaves a residue where the mean is 0 (-5.6e-17 for [0, 1.5, -1, 0.5,
            # -2.5, 1.5]), whose sign float16 keeps as -0.0: those slices are updated as PyTorch's, element after
            # element (a float32 or float64 mean keeps the residue itself, within any tolerance of 0)
            zero = (out == 0).reshape(-1)
            welford = np.zeros(zero.shape)
            welford[zero] = _welford_mean(x, axes, zero)
            out = np.where(zero, welford.astype(np.float16), out.reshape(-1)).reshape(out.shape)
        infinite = np.isinf(x)
        if n > 1 and infinite.any():
            moved = np.moveaxis(infinite, axes, tuple(range(x.ndim - len(axes), x.ndim)))
            early = moved.reshape(moved.shape[:x.ndim - len(axes)] + (n,))[..., :-1].any(axis=-1)
            out = np.where(early.reshape(out.shape), np.array(np.nan, dtype=x.dtype), out)
        return _row_major(out)


@op
def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None, dtype=None, out=None, ddof=None) -> Tensor:
    """var(input, dim=None, *, correction=1, keepdim=False): the variance over ``dim``.

    ``correction=1`` (the default; ``unbiased=True``) divides by N - 1, ``correction=0`` (``unbiased=False``)
    by N. A non-positive N - correction gives inf or nan, as PyTorch.

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 2.0, 3.0, 4.0]).var()
    tensor(1.6667)
    """
    input, x, spread = _var_setup("var", input, dim, unbiased, keepdim, correction, axis, keepdims, dtype, out,
                                  ddof)
    return record(spread.variance(x), (input,), spread.var_rule(), "VarBackward0")


@op
def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None, dtype=None, out=None, ddof=None) -> Tensor:
    """std(input, dim=None, *, correction=1, keepdim=False): the standard deviation over ``dim``.

    Its gradient is 0 where the standard deviation is 0 (all elements equal), as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 3.0]).std()
    tensor(1.4142)
    """
    input, x, spread = _var_setup("std", input, dim, unbiased, keepdim, correction, axis, keepdims, dtype, out,
                                  ddof)
    return record(spread.variance(x, root=True), (input,), spread.std_rule(), "StdBackward0")


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    """var_mean(input, dim=None, *, correction=1, keepdim=False) -> (var, mean), both differentiable.

    >>> import tapegrad as tg
    >>> tg.var_mean(tg.tensor([1.0, 3.0]))
    (tensor(2.), tensor(2.))
    """
    input, x, spread = _var_setup("var_mean", input, dim, unbiased, keepdim, correction, None, None)
    return (record(spread.variance(x), (input,), spread.var_rule(), "VarMeanBackward0"),
            record(spread.mean(x), (input,), _mean_rule(x, spread), "VarMeanBackward0"))


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    """std_mean(input, dim=None, *, correction=1, keepdim=False) -> (std, mean), both differentiable.

    >>> import tapegrad as tg
    >>> tg.std_mean(tg.tensor([1.0, 3.0]))
    (tensor(1.4142), tensor(2.))
    """
    input, x, spread = _var_setup("std_mean", input, dim, unbiased, keepdim, correction, None, None)
    return (record(spread.variance(x, root=True), (input,), spread.std_rule(), "StdMeanBackward0"),
            record(spread.mean(x), (input,), _mean_rule(x, spread), "StdMeanBackward0"))


def _welford_mean(x, axes, rows):
    """The mean of the selected ``rows`` (a mask over the slices, in C order) of ``x`` reduced over ``axes``, by
    PyTorch's WelfordOps (aten/src/ATen/native/SharedReduceOps.h) in float64: mean += (x - mean) / k, element k of
    each slice after element k - 1, in memory order."""
    rest = [a for a in range(x.ndim) if a not in axes]
    y = np.transpose(x, rest + list(axes)).reshape(-1, _count(x.shape, axes))[rows].astype(np.float64)
    mean = np.zeros(y.shape[0])
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(y.shape[1]):
            mean = mean + (y[:, k] - mean) / (k + 1)
    return mean


def _mean_rule(x, spread):
    return _expand_rule(x.shape, spread.kept, builtins.max(spread.n, 1))


# ---------------------------------------------------------------------- prod
_NO_DIM = object()  # prod without a dim (PyTorch's first overload); an explicit None is refused, as in PyTorch

@op
def prod(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None,
         out=None) -> Tensor:
    """prod(input, *, dtype=None) or prod(input, dim, keepdim=False, *, dtype=None): the product of all
    elements, or over one ``dim`` (an int, as PyTorch's: a tuple, a list or None is a TypeError). numpy's
    ``axis=`` may name several dims (``np.prod(t)`` calls ``t.prod(axis=None)``).

    The gradient is PyTorch's: out / x where the input has no zero, else the product of the other elements
    (exclusive running products, so no division touches a zero).

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1)
    tensor([ 2., 12.])
    """
    no_out("prod", out)
    if dim is _NO_DIM:
        if keepdim and axis is None and keepdims is None:
            raise TypeError("prod: keepdim=True needs a dim (prod without a dim returns a 0-d tensor)")
        dim = None
    elif dim is None or isinstance(dim, (list, tuple)):
        raise TypeError(f"prod: dim must be an int, got {type(dim).__name__} {dim!r} (PyTorch's prod reduces one "
                        f"dim, or all of them without dim)")
    dim, keepdim = dim_args("prod", dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = _in_dtype("prod", input, dtype)
    x = input._data
    axes = normalize_dims("prod", dim, x.ndim)
    if x.dtype.kind in "biu":
        acc = np.int64 if dtype is None else x.dtype
        return _wrap(_row_major(np.asarray(x.prod(axis=axes, keepdims=keepdim, dtype=acc))))
    if x.dtype == np.float16 or x.size and _partial_products_may_leave_range(x, axes):
        out = _prod_in_order(x, axes, keepdim)
    else:
        out = np.asarray(x.prod(axis=axes, keepdims=keepdim))
    shape = None if keepdim else kept_shape(x.shape, axes)
    if x.ndim == 0:  # PyTorch's prod_backward of a 0-d input is the gradient itself (also at inf and NaN)
        return record(out, (input,), _prod_0d_rule, "ProdBackward0" if dim is None else "ProdBackward1")

    def prod_rule(xp, g, out, x):
        if shape is not None:
            g, out = g.reshape(shape), out.reshape(shape)
        zero = x == 0
        if not zero.any():
            return g * (out / x)  # the product of the others is the product over x_i when no x_i is 0
        if dim is None and not is_grad_enabled() and zero.sum() > 1:
            # NOTE: PyTorch's shortcut for prod() (prod_backward in FunctionsManual.cpp): two zeros make every product
            # of the others 0, so without create_graph it returns zeros unread: 0 at an inf or NaN g (not g * 0),
            # and at an inf x (not inf * 0); with create_graph it takes the products, as below
            return xp.zeros_like(x)
        return g * _products_of_the_others(xp, x, axes)

    return record(_row_major(out), (input,), prod_rule, "ProdBackward0" if dim is None else "ProdBackward1")


_VECTOR_BYTES = 32  # Vectorized<T> of PyTorch 2.13's CPU build (AVX2): 16 float16, 8 float32, 4 float64 lanes


def _prod_in_order(x, axes, keepdim):
    """The product over ``axes`` as PyTorch's CPU kernel (binary_kernel_reduce_vec in aten/src/ATen/native/cpu/
    Reduce.h) computes it, each product rounded to the dtype (float16 in float16: a running product past 65504 is
    inf even where the whole product is not; numpy's float16 reduce keeps float32), in its order: over the
    innermost dim, blocks of 4 vectors multiply into 4 accumulators (of 16 float16, 8 float32 or 4 float64 lanes),
    combined pairwise and then lane by lane; the values left over multiply in one by one. (Measured bit for bit;
    PyTorch splits more than 32768 values among threads.) Where a partial product overflows or underflows, the
    order decides: a float64 product with a 0 and 1e300 * 1e300 is nan there (inf * 0), 0 in numpy's order."""
    lanes = _VECTOR_BYTES // x.dtype.itemsize
    rest = [a for a in range(x.ndim) if a not in axes]
    n, block = _count(x.shape, axes), 4 * lanes
    y = np.transpose(x, rest + list(axes))
    y = y.reshape(y.shape[:len(rest)] + (n,))
    inner = list(axes) == list(range(x.ndim - len(axes), x.ndim))  # (contiguous: the reduced dims are the last)
    count = n // block if inner else 0
    acc = np.ones(y.shape[:-1], x.dtype)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if count:
            blocks = y[..., :count * block].reshape(y.shape[:-1] + (count, block))
            vectors = blocks[..., 0, :]
            for i in range(1, count):
                vectors = vectors * blocks[..., i, :]
            v = vectors.reshape(y.shape[:-1] + (4, lanes))
            v = (v[..., 0, :] * v[..., 1, :]) * (v[..., 2, :] * v[..., 3, :])
            total = v[..., 0]
            for j in range(1, lanes):
                total = total * v[..., j]
            acc = acc * total
        for i in range(count * block, n):
            acc = acc * y[..., i]
    if keepdim:
        acc = acc.reshape(tuple(1 if a in axes else size for a, size in enumerate(x.shape)))
    return np.asarray(acc)


def _partial_products_may_leave_range(x, axes):
    """Whether a product of some of the values over ``axes`` (a partial product in some order) may overflow or
    leave the normal range, or a value is not finite: only then does the order of multiplication decide more than
    the last bits. |x| < 2 ** e (frexp's e), so every partial product is at most 2 ** (the sum of the positive
    e's) and, zeros aside, at least 2 ** (the sum of e - 1 over the values below 1)."""
    _, e = np.frexp(x)
    info = np.finfo(x.dtype)
    with np.errstate(invalid="ignore"):
        up = np.where(e > 0, e, 0).sum(axis=axes)
        down = np.where((e <= 0) & (x != 0), e - 1, 0).sum(axis=axes)
        finite = np.isfinite(x).all()
    return not (finite and up.max(initial=0) < info.maxexp and down.min(initial=0) >= info.minexp)


def _prod_0d_rule(xp, g, out, x):
    return g


def _products_of_the_others(xp, x, axes):
    """For each element, the product of the other elements of its slice over ``axes`` (PyTorch's
    prod_safe_zeros_backward), made of running products so that it is exact with zeros and has gradients of
    every order."""
    if len(axes) == 1:
        return _products_of_the_others_along(xp, x, axes[0])
    if not axes:  # a 0-d input: the product of no others
        return xp.ones_like(x)
    rest = [a for a in range(x.ndim) if a not in axes]
    order = rest + list(axes)
    moved = xp.transpose(x, order)
    flat = moved.reshape(tuple(moved.shape[:len(rest)]) + (-1,))
    others = _products_of_the_others_along(xp, flat, len(rest)).reshape(moved.shape)
    return xp.transpose(others, tuple(int(i) for i in np.argsort(order)))


def _products_of_the_others_along(xp, x, d):
    """The exclusive running products from both ends along ``d``, multiplied: [b*c, a*c, a*b] for [a, b, c]."""
    n = x.shape[d]
    if n <= 1:
        return xp.ones_like(x)
    lead = (slice(None),) * d
    ones = xp.ones_like(x[lead + (slice(0, 1),)])
    before = xp.cumprod(xp.concatenate([ones, x[lead + (slice(0, n - 1),)]], axis=d), axis=d)
    after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(x[lead + (slice(1, n),)], d)], axis=d), axis=d), d)
    return before * after


# ---------------------------------------------------------------------- max, min, amax, amin, argmax, argmin
def _ties(x, value, nan_ties):
    """Where ``x`` equals the selected ``value``; with ``nan_ties`` a nan value matches the nans of x."""
    mask = x == value
    if nan_ties:
        mask = mask | ((x != x) & (value != value))
    return mask


def _check_nonempty(op, x, axes, dim):
    """Refuse a reduction without identity (amax, amin, norm(inf), negative norms) over a dim of size 0, as
    PyTorch: a RuntimeError when every dim is reduced (``dim`` None or ()), else an IndexError. Reducing the
    non-empty dims of an empty tensor is fine (an empty result)."""
    if builtins.any(x.shape[a] == 0 for a in axes):
        error = RuntimeError if dim is None or dim == () or dim == [] else IndexError
        raise error(f"{op}: cannot reduce over an empty dimension (input shape {tuple(x.shape)}, dims "
                    f"{axes}): the operation has no identity")


def _spread_over_ties(name, input, out, axes, keepdim, nan_ties):
    """Record ``out`` (amax, amin, whole-tensor max/min/median) as the node ``name``: the gradient is split
    evenly among ties. As PyTorch: the whole-tensor ops (``nan_ties``: a nan result's ties are the nans) put
    it at the ties and 0 elsewhere (evenly_distribute_backward); amax and amin multiply it by the tie mask
    (scale_grad_by_count), so an infinite gradient gives nan off the ties there."""
    shape = None if keepdim else kept_shape(input._data.shape, axes)
    if nan_ties:
        def ties_rule(xp, g, out, x):
            ties = _ties(x, out, True)
            count = ties.sum()
            return xp.where(ties, g / (count + (count == 0)), 0.0)  # no ties only for an empty input
    else:
        def ties_rule(xp, g, out, x):
            if shape is not None:
                g, out = g.reshape(shape), out.reshape(shape)
            ties = _ties(x, out, False)
            return g * ties / ties.sum(axis=axes, keepdims=True)

    return record(_row_major(out), (input,), ties_rule, name)


def _select_along(op, input, dim, keepdim, pick, cls, name):
    """max/min/median along ``dim``: (values, indices); the gradient goes to the selected element only."""
    x = input._data
    if x.ndim == 0:
        _check_dim(op, dim, 0)
        return cls(record(x.copy(), (input,), _identity_rule, name), _wrap(np.zeros((), dtype=np.int64)))
    d = _check_dim(op, dim, x.ndim)
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{op}: cannot reduce over dim {dim} of size 0 (input shape {tuple(x.shape)})")
    index = pick(x, d)  # keeps dim d as size 1
    values = np.take_along_axis(x, index, d)
    indices = index.astype(np.int64, copy=False)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return cls(record(values, (input,), scatter_back(index, d, x.shape, keepdim), name), _wrap(indices))


def scatter_back(index, d, shape, keepdim=True):
    """The rule of ``values = take_along_axis(x, index, d)`` (squeezed at ``d`` unless ``keepdim``), as
    PyTorch's value_selecting_reduction_backward: the gradient scattered into zeros of ``shape`` at ``index``.
    A linear map with take_along_axis as its adjoint, so it has gradients of every order. Reads no input."""

    def scatter(g):
        grad = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(grad, index, g if keepdim else np.expand_dims(g, d), d)
        return grad

    def gather(h):
        picked = np.take_along_axis(h, index, d)
        return picked if keepdim else picked.squeeze(d)

    def rule(xp, g, out, x):
        return xp.linear(scatter, gather, g)

    return rule


def _identity_rule(xp, g, out, x):
    return g


def _extreme(op, input, dim, keepdim, axis, keepdims, reduce, arg, cls):
    dim, keepdim = dim_args(op, dim, keepdim, axis, keepdims)
    node = op.capitalize()
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}: keepdim=True needs a dim (the whole-tensor {op} returns a 0-d tensor)")
        x = input._data
        if x.size == 0:
            raise RuntimeError(f"{op}: the input is empty (shape {tuple(x.shape)}); specify a reduction dim")
        return _spread_over_ties(f"{node}Backward1", input, np.asarray(reduce(x)), tuple(range(x.ndim)), False,
                                 nan_ties=True)
    return _select_along(op, input, dim, keepdim, lambda x, d: arg(x, axis=d, keepdims=True), cls,
                         f"{node}Backward0")


@op
def max(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, out=None):
    """max(input) -> 0-d tensor; max(input, dim, keepdim=False) -> (values, indices); max(input, other).

    Along ``dim`` the gradient goes to the element whose index is returned (the first maximum); for the whole
    tensor it is split evenly among ties. ``max(input, other)`` is ``maximum(input, other)``.

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1).indices
    tensor([1, 0])
    """
    if isinstance(dim, Tensor):
        from . import elementwise

        return elementwise.maximum(input, dim)
    no_out("max", out)
    return _extreme("max", input, dim, keepdim, axis, keepdims, np.max, np.argmax, return_types.max)


@op
def min(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, out=None):
    """min(input) -> 0-d tensor; min(input, dim, keepdim=False) -> (values, indices); min(input, other).

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 5.0], [7.0, 2.0]]).min(dim=1).values
    tensor([1., 2.])
    """
    if isinstance(dim, Tensor):
        from . import elementwise

        return elementwise.minimum(input, dim)
    no_out("min", out)
    return _extreme("min", input, dim, keepdim, axis, keepdims, np.min, np.argmin, return_types.min)


@op
def amax(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims=None, out=None) -> Tensor:
    """amax(input, dim=(), keepdim=False): the maximum over ``dim`` (all dims by default; int or tuple).

    The gradient is split evenly among the elements equal to the maximum, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 5.0], [7.0, 2.0]]).amax(0)
    tensor([7., 5.])
    """
    no_out("amax", out)
    dim, keepdim = dim_args("amax", dim, keepdim, axis, keepdims)
    x = input._data
    axes = normalize_dims("amax", dim, x.ndim)
    _check_nonempty("amax", x, axes, dim)
    return _spread_over_ties("AmaxBackward0", input, np.asarray(x.max(axis=axes, keepdims=keepdim)), axes,
                             keepdim, nan_ties=False)


@op
def amin(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims=None, out=None) -> Tensor:
    """amin(input, dim=(), keepdim=False): the minimum over ``dim``; the gradient is split evenly among ties.

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 5.0], [7.0, 2.0]]).amin(1)
    tensor([1., 2.])
    """
    no_out("amin", out)
    dim, keepdim = dim_args("amin", dim, keepdim, axis, keepdims)
    x = input._data
    axes = normalize_dims("amin", dim, x.ndim)
    _check_nonempty("amin", x, axes, dim)
    return _spread_over_ties("AminBackward0", input, np.asarray(x.min(axis=axes, keepdims=keepdim)), axes,
                             keepdim, nan_ties=False)


def _arg_extreme(op, input, dim, keepdim, arg):
    _no_bool(op, input)
    x = input._data
    if dim is None:
        if x.size == 0:  # an IndexError, as PyTorch's
            raise IndexError(f"{op}: the input is empty (shape {tuple(x.shape)}); specify a reduction dim")
        index = np.asarray(arg(x.reshape(-1)))
        return _wrap(index.reshape((1,) * x.ndim) if keepdim else index)
    d = _check_dim(op, dim, x.ndim)
    if x.ndim == 0:
        return _wrap(np.zeros((), dtype=np.int64))
    if x.shape[d] == 0:
        raise IndexError(f"{op}: cannot reduce over dim {dim} of size 0 (input shape {tuple(x.shape)})")
    return _wrap(np.asarray(arg(x, axis=d, keepdims=keepdim)))


@op
def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """argmax(input, dim=None, keepdim=False): the index of the (first) maximum; of the flattened input
    when ``dim`` is None. Returns int64, no gradient.

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 5.0], [7.0, 2.0]]).argmax()
    tensor(2)
    """
    return _arg_extreme("argmax", input, dim, keepdim, np.argmax)


@op
def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """argmin(input, dim=None, keepdim=False): the index of the (first) minimum. Returns int64, no gradient.

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 5.0], [7.0, 2.0]]).argmin(dim=1)
    tensor([0, 1])
    """
    return _arg_extreme("argmin", input, dim, keepdim, np.argmin)


# ---------------------------------------------------------------------- median
@op
def median(input: Tensor, dim=None, keepdim: bool | None = None):
    """median(input) -> 0-d tensor; median(input, dim, keepdim=False) -> (values, indices).

    The lower of the two middle values for an even count, as PyTorch; nan if the slice holds a nan. The whole
    tensor's gradient is split evenly among ties; along ``dim`` it goes to the returned index (among equal
    values the index may differ from PyTorch's, which leaves it unspecified).

    >>> import tapegrad as tg
    >>> tg.tensor([3.0, 1.0, 4.0, 2.0]).median()
    tensor(2.)
    """
    if dim is not None or input._data.size:  # PyTorch's median of an empty bool tensor is nan cast to bool: True
        _no_bool("median", input, NotImplementedError)  # a RuntimeError, as PyTorch's
    if dim is None:
        if keepdim is not None:  # PyTorch's signatures: keepdim only with a dim (even keepdim=False)
            raise TypeError(f"median: keepdim={keepdim} needs a dim (the whole-tensor median returns a 0-d tensor; "
                            "missing 1 required positional argument: 'dim')")
        x = input._data
        if x.size == 0:  # nan, recorded: the result requires grad as the input does, as in PyTorch
            return _spread_over_ties("MedianBackward0", input, _empty_median(x.dtype), tuple(range(x.ndim)),
                                     False, nan_ties=True)
        flat = x.reshape(-1)
        value = flat[_median_index(flat, 0)].reshape(())
        if value == 0 and flat.dtype.kind == "f":
            sign = median_zero(flat, (flat.shape[0] - 1) // 2, _stdsort.less_than)
            if sign is not None:
                value = np.copysign(value, -1.0 if sign else 1.0).astype(flat.dtype)
        return _spread_over_ties("MedianBackward0", input, value, tuple(range(x.ndim)), False, nan_ties=True)
    return _select_along("median", input, dim, bool(keepdim), _median_index, return_types.median, "MedianBackward1")


def median_zero(flat, k, less):
    """Which zero PyTorch's whole-tensor median (``less``: ``a < b``) or nanmedian (NaN last) returns when the
    k-th value is a zero and the tensor holds zeros of both signs (None otherwise): its CPU kernel takes the k-th
    element of a copy that ``std::nth_element`` partitioned (aten/src/ATen/native/Sorting.cpp, median_impl),
    so the sign is libstdc++'s order of moves; True for -0.0."""
    zeros = flat[flat == 0]
    signs = np.signbit(zeros)
    if signs.all() or not signs.any():
        return None
    return bool(np.signbit(_stdsort.std_nth_element(flat.tolist(), k, less)))


def _empty_median(dtype):
    """PyTorch's median of nothing: nan, which its integer dtypes hold as the value a nan converts to on x86
    (the smallest int64 or int32; 0 for the narrower types; True for bool, as C++ converts nan to bool)."""
    if dtype.kind == "b":
        return np.ones((), dtype=dtype)
    if dtype.kind == "f":
        return np.full((), np.nan, dtype=dtype)
    value = np.iinfo(dtype).min if dtype in (np.int64, np.int32) else 0
    return np.full((), value, dtype=dtype)


def _median_index(x, d):
    """The index (keeping dim ``d``) of the lower median along ``d``; of the first nan where there is one."""
    n = x.shape[d]
    order = np.argsort(x, axis=d, kind="stable")  # nans sort last
    index = np.take(order, [(n - 1) // 2], axis=d)
    isnan = np.isnan(x) if x.dtype.kind == "f" else None
    if isnan is not None and isnan.any():
        index = np.where(isnan.any(axis=d, keepdims=True), np.argmax(isnan, axis=d, keepdims=True), index)
    return index


# ---------------------------------------------------------------------- logsumexp
@op
def logsumexp(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """logsumexp(input, dim, keepdim=False): log(sum(exp(input))) over ``dim``, computed stably.

    >>> import tapegrad as tg
    >>> tg.logsumexp(tg.tensor([1e4, 1e4]), dim=0)
    tensor(10000.6934)
    """
    dim, keepdim = dim_args("logsumexp", dim, keepdim, axis, keepdims)
    if dim is None:
        raise TypeError("logsumexp: missing the required argument 'dim' (an int or a tuple of ints)")
    if input._data.dtype.kind != "f":
        input = cast(input, dtypes.get_default_dtype())
    x = input._data
    axes = normalize_dims("logsumexp", dim, x.ndim)
    # NOTE: subtract the max so that exp cannot overflow; where the max is not finite (a row of -inf, or a
    # +inf) use 0 instead, so that inf - inf never occurs and such rows give -inf and inf as they should.
    m = x.max(axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, np.zeros((), dtype=x.dtype))
    with np.errstate(divide="ignore"):
        out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
    shape = None
    if not keepdim:
        shape = out.shape
        out = out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))

    def logsumexp_rule(xp, g, out, x):
        if shape is not None:
            g, out = g.reshape(shape), out.reshape(shape)
        return g * xp.exp(x - out)  # softmax of x along the reduced dims

    return record(out, (input,), logsumexp_rule, "LogsumexpBackward0")


# ---------------------------------------------------------------------- cumsum, cumprod
def _scan_setup(op, input, dim, axis, dtype):
    if axis is not None:
        dim = axis
    if dim is None:
        raise TypeError(f"{op}: missing the required argument 'dim' (an int)")
    if dtype is not None:
        input = _in_dtype(op, input, dtype)
        if input._data.dtype.kind == "b" and input._data.ndim and input._data.size:
            # as PyTorch: a NotImplementedError (a RuntimeError); a 0-d or empty scan is a copy and is fine
            raise NotImplementedError(f"{op}: not implemented for dtype=bool")
    x = input._data
    d = _check_dim(op, dim, x.ndim)
    return input, x, d


def _reverse_cumsum(xp, a, d):
    """a[..., i] -> sum over j >= i of a[..., j] along axis ``d``."""
    # NOTE: as PyTorch's reversed_cumsum (flip, cumsum, flip), whose running sum starts from +0.0: a sum of -0.0s
    # is +0.0 (numpy's cumsum keeps -0.0; x + 0.0 changes only that)
    return xp.flip(xp.cumsum(xp.flip(a, d), axis=d) + 0.0, d)


@op
def cumsum(input: Tensor, dim=None, *, dtype=None, axis=None) -> Tensor:
    """cumsum(input, dim, *, dtype=None): running sums along ``dim``; integers and bools sum to int64.

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 2.0, 3.0]).cumsum(0)
    tensor([1., 3., 6.])
    """
    input, x, d = _scan_setup("cumsum", input, dim, axis, dtype)
    if x.ndim == 0:
        return _scalar_scan(input, x, dtype, "CumsumBackward0")
    if x.dtype.kind in "biu":
        return _wrap(_row_major(x.cumsum(axis=d, dtype=np.int64 if dtype is None else x.dtype)))

    def cumsum_rule(xp, g, out, x):
        return _reverse_cumsum(xp, g, d)

    # (np.cumsum's method, called from here: numpy's overflow and inf - inf warnings are filtered as tapegrad's)
    out = x.cumsum(axis=d, dtype=_scan_accumulator(x.dtype)).astype(x.dtype, copy=False)
    out += 0.0  # NOTE: PyTorch's running sum starts from +0.0, so a -0.0 prefix sums to +0.0 (numpy keeps -0.0)
    return record(_row_major(out), (input,), cumsum_rule, "CumsumBackward0")


def _scalar_scan(input, x, dtype, name):
    """A scan of a 0-d tensor is a copy of it (in ``dtype`` if given, else int64 for integers and bools)."""
    if x.dtype.kind in "biu":
        return _wrap(x.astype(np.int64 if dtype is None else x.dtype))
    return record(x.copy(), (input,), _identity_rule, name)


@op
def cumprod(input: Tensor, dim=None, *, dtype=None, axis=None) -> Tensor:
    """cumprod(input, dim, *, dtype=None): running products along ``dim``, with an exact gradient at zeros.

    >>> import tapegrad as tg
    >>> tg.tensor([1.0, 2.0, 3.0]).cumprod(0)
    tensor([1., 2., 6.])
    """
    given = input
    input, x, d = _scan_setup("cumprod", input, dim, axis, dtype)
    if x.ndim == 0:
        return _scalar_scan(input, x, dtype, "CumprodBackward0")
    if x.dtype.kind in "biu":
        return _wrap(_row_major(x.cumprod(axis=d, dtype=np.int64 if dtype is None else x.dtype)))

    def cumprod_rule(xp, g, out, x):
        if x.shape[d] == 1:  # as PyTorch's cumprod_backward: a scan of one element passes g through (no g*x/x)
            return g
        if not (x == 0).any():
            # d out_j / d x_i = out_j / x_i for j >= i
            return _reverse_cumsum(xp, g * out, d) / x
        return xp.cumprod_backward(g, x, dim=d)

    out = x.cumprod(axis=d, dtype=_scan_accumulator(x.dtype)).astype(x.dtype, copy=False)  # (the method: filtered)
    # NOTE: with dtype=, PyTorch's cumprod_backward(grad, self, dim, result) reads the input before the cast: its
    # zeros (5e-324 is not one in float64, though it is 0 in float32) decide the formula
    if given.__class__ is Tensor and given._data.dtype.kind == "f" and given._data.shape == x.shape:
        input = given
    return record(_row_major(out), (input,), cumprod_rule, "CumprodBackward0")


def _cumprod_backward_grad(xp, need, gg, out, g, x, *, dim):
    """The rule of ``cumprod_backward`` (cumprod's gradient with create_graph, i.e. its second order).

    With Y_i = x with x_i replaced by 1 and L[i, j] = (j >= i), cumprod_backward(g, x)_i is
    sum_j L[i, j] g_j cumprod(Y_i)_j; it is linear in g, and its derivative in x reaches x_m through Y_i
    (m != i), which is cumprod's gradient again: cumprod_backward(g * L[i], Y_i)_m. O(n^2) per slice.
    """
    x, g, gg = xp.moveaxis(x, dim, -1), xp.moveaxis(g, dim, -1), xp.moveaxis(gg, dim, -1)
    n = x.shape[-1]
    batch = tuple(x.shape[:-1])
    eye = np.eye(n, dtype=bool)
    later = np.triu(np.ones((n, n), dtype=bool))  # [i, j]: j >= i
    others = x.reshape(batch + (1, n)) * ~eye + eye  # row i: x with x_i replaced by 1
    weight = gg.reshape(batch + (n, 1))  # gg_i for row i
    dg = dx = None
    if need[0]:
        dg = xp.moveaxis((xp.cumprod(others, axis=-1) * later * weight).sum(axis=-2), -1, dim)
    if need[1]:
        inner = xp.cumprod_backward(g.reshape(batch + (1, n)) * later, others, dim=-1)
        dx = xp.moveaxis((inner * ~eye * weight).sum(axis=-2), -1, dim)
    return dg, dx


@backward_op(grad=_cumprod_backward_grad)
def cumprod_backward(g, x, *, dim):
    """cumprod's gradient where slices hold zeros, in linear time, without dividing by them (PyTorch's
    cumprod_backward).

    Before a slice's first zero z the no-zero formula holds (every out_j after z is 0). At z the gradient is
    prod(x before z) * sum_{j >= z} g_j prod(x_k for z < k <= j). After z it is 0.
    """
    d = dim
    out = x.cumprod(axis=d)  # (methods, not np.cumprod: numpy's warnings from here are filtered)
    zero = x == 0
    seen = zero.cumsum(axis=d)  # zeros up to and including each position
    before = seen == 0
    first = zero & (seen == 1)
    span = seen == 1  # [z, next zero)
    safe = np.where(before, x, 1)  # x where it is divided by, 1 elsewhere
    head = safe.cumprod(axis=d)  # at z: the product of the elements before z
    tail = np.where(span & ~first, x, 1).cumprod(axis=d)  # for z <= j < next zero: prod x_k, z < k <= j
    # NOTE: as PyTorch, the terms whose derivative is 0 (j past z for the head, past the next zero for z) are
    # left out, not multiplied by 0: a nan or inf g there does not reach the gradient.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        lead = _reverse_cumsum(np, np.where(before, g * out, 0), d) / safe
        at_zero = head * (tail * np.where(span, g, 0)).sum(axis=d, keepdims=True)
    return np.where(before, lead, np.where(first, at_zero, 0)).astype(x.dtype, copy=False)


# ---------------------------------------------------------------------- norm
@op
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None) -> Tensor:
    """norm(input, p='fro', dim=None, keepdim=False, dtype=None): the vector p-norm over ``dim``.

    ``p`` is any number (inf, -inf and 0 included) or 'fro' (the 2-norm; over at most 2 dims). The gradient at
    a zero vector is 0, not nan, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.tensor([3.0, 4.0]).norm()
    tensor(5.)
    """
    if out is not None:
        raise TypeError("norm: out= is not supported; use the returned tensor")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"norm: expected a floating point tensor, got dtype {input._data.dtype}")
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        if not np.can_cast(input._data.dtype, dtype, "safe"):
            raise RuntimeError(f"norm: the input's dtype {input._data.dtype} cannot be converted to dtype={dtype} "
                               f"without narrowing")
        input = cast(input, dtype)
    x = input._data
    result_dtype = x.dtype
    if x.dtype == np.float16:
        # NOTE: as PyTorch's CPU kernel, a float16 norm accumulates in float32 and is rounded once
        x = x.astype(np.float32)
    if p is None:  # PyTorch's default
        p = "fro"
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm: the nuclear norm (p='nuc') is not implemented")
        if p != "fro":
            raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
        if isinstance(dim, (list, tuple)) and len(dim) > 2:
            raise ValueError(f"norm: the Frobenius norm takes at most 2 dims, got dim={tuple(dim)}")
        p = 2
    axes = normalize_dims("norm", dim, x.ndim)
    shape = None if keepdim else kept_shape(x.shape, axes)
    if p == 2:
        with np.errstate(over="ignore", under="ignore"):
            out = np.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        out = _rescaled_where_out_of_range(out, x, axes, keepdim, 2)
        return record(_row_major(np.asarray(out, dtype=result_dtype)), (input,),
                      _norm_rule(_norm2_grad, shape, axes, p), _NORM)
    ax = np.abs(x)
    if p == 1:
        out = ax.sum(axis=axes, keepdims=keepdim)
        rule = _norm1_grad
    elif math.isinf(p):
        _check_nonempty("norm", x, axes, None)  # PyTorch: a RuntimeError for any dim
        out = (ax.max if p > 0 else ax.min)(axis=axes, keepdims=keepdim)
        rule = _norm_inf_grad
    elif p == 0:  # the count of nonzero elements: PyTorch records it but its gradient is None
        return record(_row_major(np.asarray((x != 0).sum(axis=axes, keepdims=keepdim), dtype=result_dtype)),
                      (input,), _no_gradient, _NORM)
    else:
        if p < 0:
            _check_nonempty("norm", x, axes, None)
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            out = (ax ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
        if p > 0:
            out = _rescaled_where_out_of_range(out, x, axes, keepdim, p)
        rule = _normp_grad
    return record(_row_major(np.asarray(out, dtype=result_dtype)), (input,), _norm_rule(rule, shape, axes, p), _NORM)


_NORM = "LinalgVectorNormBackward0"  # PyTorch's Tensor.norm is linalg.vector_norm


def _rescaled_where_out_of_range(out, x, axes, keepdim, p):
    """Recompute the norms whose sum of p-th powers overflowed or underflowed, as m * ||x / m||_p, m = max|x|.

    NOTE: sum(|x|^p) leaves the float range long before the norm does (|x| = 1e20 in float32); PyTorch then
    gives inf (or 0). Only those entries take the extra passes, so in range the numbers are PyTorch's.
    """
    info = np.finfo(x.dtype)
    with np.errstate(invalid="ignore"):
        suspect = ~np.isfinite(out) | (out < float(info.tiny) ** (1.0 / p) * 1e3)
    if not suspect.any():
        return out
    ax = np.abs(x)
    m = ax.max(axis=axes, keepdims=True) if ax.size else np.zeros(kept_shape(x.shape, axes), x.dtype)
    scale = np.where((m > 0) & np.isfinite(m), m, 1).astype(x.dtype)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        scaled = scale * ((ax / scale) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
    if not keepdim:
        scaled = scaled.reshape(np.shape(out))
    finite_input = np.isfinite(m) if keepdim else np.isfinite(m).reshape(np.shape(out))
    return np.where(suspect & finite_input, scaled, out).astype(x.dtype)


def _norm_rule(grad, shape, axes, p):
    def norm_rule(xp, g, out, x):
        if shape is not None:
            g, out = g.reshape(shape), out.reshape(shape)
        return g * grad(xp, x, out, axes, p)

    return norm_rule


def _no_gradient(xp, g, out, x):
    return None


def _norm2_grad(xp, x, out, axes, p):
    nonzero = out != 0
    # NOTE: x / ||x|| is 0/0 at the zero vector; PyTorch takes 0 there, so divide by 1 and mask.
    return x * nonzero / (out + ~nonzero)


def _sgn(x):
    """PyTorch's sgn of a real tensor: -1, 0 or 1, and 0 for nan (numpy's sign gives nan there). No gradient
    flows through it, and it computes the same on arrays and tensors."""
    return (x > 0) * 1.0 - (x < 0) * 1.0


def _norm1_grad(xp, x, out, axes, p):
    return _sgn(x)


def _norm_inf_grad(xp, x, out, axes, p):
    # the gradient is split evenly among the elements of largest (smallest) |x|, or among the nans (PyTorch's
    # mask: |x| == norm or |x| is nan), whose sgn is 0
    ties = (xp.abs(x) == out) | (x != x)
    return _sgn(x) * ties / ties.sum(axis=axes, keepdims=True)


def _normp_grad(xp, x, out, axes, p):
    # d ||x||_p / d x_i = sign(x_i) |x_i|^(p-1) / ||x||_p^(p-1); 0 at x_i = 0 and for a zero norm (PyTorch's
    # convention), so the powers are taken of 1 there and masked: no inf * 0.
    nonzero_x = x != 0
    nonzero = out != 0
    ax, norm = xp.abs(x) + ~nonzero_x, out + ~nonzero
    ratio = ax / norm
    # NOTE: the ratio underflows (to 0, or to a subnormal with few digits left) for a tiny x_i beside a large norm,
    # or overflows the other way, where PyTorch's separate factors |x_i|^(p-1) and ||x||^(1-p) are each
    # representable (p = 0.5, x_i = 5e-324 beside a norm of 1e30: 1.1e176, not inf): take those there, and powers
    # of 1 elsewhere, so that no branch holds an inf.
    lost = (ratio < np.finfo(x.dtype).tiny) | (ratio == math.inf)
    with np.errstate(over="ignore", invalid="ignore"):  # a power out of range is inf, as PyTorch's (no warning)
        apart = xp.where(lost, ax, 1.0) ** (p - 1) * xp.where(lost, norm, 1.0) ** (1 - p)
        return _sgn(x) * nonzero * xp.where(lost, apart, xp.where(lost, 1.0, ratio) ** (p - 1))


# ---------------------------------------------------------------------- all, any, count_nonzero
def _logical(op, input, dim, keepdim, reduce):
    x = input._data
    if isinstance(dim, (list, tuple)) and not dim:
        # NOTE: all/any(dim=()) reduce nothing in PyTorch (sum/mean(dim=()) reduce every dim): each element
        # is its own slice; checked dims, the values as bool (uint8 stays uint8)
        out = x != 0
    else:
        axes = None if dim is None else normalize_dims(op, dim, x.ndim)
        out = np.asarray(reduce(x, axis=axes, keepdims=keepdim))
    return _wrap(_row_major(out.astype(np.uint8) if x.dtype == np.uint8 else out))


@op
def all(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, out=None) -> Tensor:
    """all(input, dim=None, keepdim=False): True where every element (over ``dim``) is nonzero; bool result.

    >>> import tapegrad as tg
    >>> tg.tensor([[True, False], [True, True]]).all(dim=1)
    tensor([False,  True])
    """
    no_out("all", out)
    dim, keepdim = dim_args("all", dim, keepdim, axis, keepdims)
    return _logical("all", input, dim, keepdim, np.all)


@op
def any(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, out=None) -> Tensor:
    """any(input, dim=None, keepdim=False): True where some element (over ``dim``) is nonzero; bool result.

    >>> import tapegrad as tg
    >>> tg.tensor([0.0, 2.0]).any()
    tensor(True)
    """
    no_out("any", out)
    dim, keepdim = dim_args("any", dim, keepdim, axis, keepdims)
    return _logical("any", input, dim, keepdim, np.any)


@op
def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """count_nonzero(input, dim=None): the number of nonzero elements over ``dim`` (int64).

    >>> import tapegrad as tg
    >>> tg.count_nonzero(tg.tensor([[0, 1], [2, 3]]), dim=0)
    tensor([1, 2])
    """
    x = input._data
    axes = None if dim is None else normalize_dims("count_nonzero", dim, x.ndim)
    return _wrap(_row_major(np.asarray(np.count_nonzero(x, axis=axes), dtype=np.int64)))
