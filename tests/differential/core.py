"""The machinery of the differential test: programs as data, run side by side in tapegrad and PyTorch.

A program is a list of :class:`Call` s. Each call names one operation and its arguments; an argument that is a
tensor is a :class:`Ref` to an earlier result (the *pool*) or a :class:`Lit` (a fresh tensor literal, e.g. an
index). The same call is executed once with ``lib = tapegrad`` and once with ``lib = torch``; after every call
the results *and every tensor of the pool* are compared (so a write through a view that does not reach its base
is caught at the call that made it). At the end a scalar function of the pool is back-propagated in both and the
gradients of every leaf are compared.

Generation and execution are interleaved: the generator (``ops.py``) reads the shapes of the pool (from the
PyTorch side, the reference) to choose the next call. All random choices go through a :class:`Source`, either
Hypothesis' ``data.draw`` (shrinkable) or a ``random.Random`` (the standalone driver).
"""

from __future__ import annotations

import math
import operator
import random
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

import tapegrad as tg

torch = None  # imported by load_torch(): the test skips without it


def load_torch():
    global torch
    if torch is None:
        import torch as _torch

        torch = _torch
    return torch


# ---------------------------------------------------------------------- sources of choices
class Source:
    """Where the generator's choices come from. Choices shrink towards the first option / the low end."""

    def int(self, lo, hi):  # inclusive
        raise NotImplementedError

    def choice(self, seq):
        seq = list(seq)
        return seq[self.int(0, len(seq) - 1)]

    def weighted(self, pairs):
        """One of ``(weight, value)`` pairs (integer weights), the first pairs shrinking first."""
        total = sum(w for w, _ in pairs)
        k = self.int(0, total - 1)
        for w, v in pairs:
            if k < w:
                return v
            k -= w
        raise AssertionError

    def chance(self, percent):
        """True with probability ``percent``/100 (shrinks to False)."""
        return self.int(0, 99) >= 100 - percent


class RandomSource(Source):
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def int(self, lo, hi):
        return self.rng.randint(lo, hi)


class HypothesisSource(Source):
    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def int(self, lo, hi):
        return self.data.draw(self.st.integers(lo, hi)) if hi > lo else lo


# ---------------------------------------------------------------------- programs as data
DTYPES = ["float32", "float64", "int64", "bool", "int32", "float16", "uint8", "int8", "int16"]
FLOATS = ["float32", "float64", "float16"]
INTS = ["int64", "int32", "uint8", "int8", "int16"]


# views whose backward only moves the incoming gradient's elements (no sum, no cast): a gradient that differs
# after one comes from the op that made its input
EXACT_GRAD_VIEWS = {"Tensor.view", "Tensor.reshape", "reshape", "Tensor.t", "t", "Tensor.transpose", "transpose",
                    "Tensor.permute", "permute", "Tensor.squeeze", "squeeze", "Tensor.unsqueeze", "unsqueeze",
                    "Tensor.flatten", "flatten", "Tensor.unflatten", "unflatten", "Tensor.swapaxes", "swapaxes",
                    "Tensor.swapdims", "swapdims", "Tensor.movedim", "movedim", "Tensor.moveaxis", "moveaxis",
                    "Tensor.T", "Tensor.mT", "Tensor.view_as", "Tensor.reshape_as", "Tensor.contiguous"}


@dataclass(frozen=True)
class Ref:
    """The ``i``-th tensor of the pool."""

    i: int


@dataclass(frozen=True, eq=False)
class Lit:
    """A fresh tensor ``lib.tensor(array, dtype=dtype)`` made for one call (indices, masks, weights)."""

    array: np.ndarray
    dtype: str


@dataclass(frozen=True)
class DT:
    """A dtype argument: ``lib.<name>``."""

    name: str


@dataclass(frozen=True)
class Shape:
    """A ``lib.Size`` argument (a shape as PyTorch hands it around)."""

    dims: tuple


@dataclass
class Call:
    """One operation. ``kind`` says how ``name`` is applied to ``args``:

    fn: ``lib.<name>(*args, **kwargs)`` (dotted names: ``nn.functional.relu``); method: ``args[0].<name>(...)``;
    op / iop: a binary operator or augmented assignment (``+``, ``+=``) on args[0], args[1]; unop: ``-x``;
    getitem: ``x[key]``; setitem: ``x[key] = value``; attr: ``x.<name>``; setattr: ``x.<name> = value``;
    leaf: ``lib.tensor(array, dtype=, requires_grad=)``.
    ``random``: the values differ between the libraries by nature (sampling): compared by shape, dtype and
    requires_grad only, and the results do not join the pool. ``pool``: the results join the pool.
    """

    kind: str
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    random: bool = False
    pool: bool = True
    ties: int | None = None  # sort-like ops: the dim along which indices of equal values may differ
    no_grad: bool = False  # run under ``lib.no_grad()``
    tol: float = 1.0  # tolerance factor (normalizations amplify rounding by 1/sqrt(eps))

    @property
    def op(self):
        """The name discrepancies are filed under: ``add``, ``Tensor.add_``, ``+``, ``+=``, ``[]=``, ``F.relu``."""
        if self.kind == "fn":
            return self.name.replace("nn.functional.", "F.")
        if self.kind in ("method", "attr"):
            return "Tensor." + self.name
        if self.kind == "setattr":
            return "Tensor." + self.name + "="
        if self.kind == "op":
            return self.name if isinstance(self.args[0], (Ref, Lit)) else "r" + self.name
        if self.kind in ("iop", "unop"):
            return self.name
        return {"getitem": "[]", "setitem": "[]=", "leaf": "tensor"}[self.kind]


_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
        "%": operator.mod, "**": operator.pow, "@": operator.matmul, "&": operator.and_, "|": operator.or_,
        "^": operator.xor, "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge, "<<": operator.lshift, ">>": operator.rshift}
_IOPS = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
         "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "&=": operator.iand,
         "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul}
_UNOPS = {"-x": operator.neg, "+x": operator.pos, "~x": operator.invert, "abs(x)": abs}


def lib_attr(lib, dotted):
    obj = lib
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _resolve(a, lib, pool):
    """An argument as ``lib`` takes it (pool tensors, fresh literals, dtypes), recursively."""
    if isinstance(a, Ref):
        return pool[a.i]
    if isinstance(a, Lit):
        return lib.tensor(a.array, dtype=getattr(lib, a.dtype))
    if isinstance(a, DT):
        return getattr(lib, a.name)
    if isinstance(a, Shape):
        return lib.Size(a.dims)
    if isinstance(a, list):
        return [_resolve(x, lib, pool) for x in a]
    if isinstance(a, tuple):
        return tuple(_resolve(x, lib, pool) for x in a)
    if isinstance(a, dict):
        return {k: _resolve(v, lib, pool) for k, v in a.items()}
    return a


def execute(call, lib, pool):
    if call.no_grad:
        with lib.no_grad():
            return _execute(call, lib, pool)
    return _execute(call, lib, pool)


def _execute(call, lib, pool):
    """Run ``call`` with ``lib`` on ``pool`` (that library's tensors). Returns (result, new pool entries).

    ``iop`` rebinds its target as Python's ``x += y`` does: the pool entry becomes the operator's result.
    """
    if call.kind == "leaf":
        a, = call.args
        return lib.tensor(a.array, dtype=getattr(lib, a.dtype), **call.kwargs)
    args = _resolve(call.args, lib, pool)
    kwargs = _resolve(call.kwargs, lib, pool)
    if call.kind == "fn":
        return lib_attr(lib, call.name)(*args, **kwargs)
    if call.kind == "method":
        return getattr(args[0], call.name)(*args[1:], **kwargs)
    if call.kind == "op":
        return _OPS[call.name](*args)
    if call.kind == "iop":
        out = _IOPS[call.name](*args)
        pool[call.args[0].i] = out
        return out
    if call.kind == "unop":
        return _UNOPS[call.name](*args)
    if call.kind == "getitem":
        return args[0][args[1]]
    if call.kind == "setitem":
        args[0][args[1]] = args[2]
        return None
    if call.kind == "attr":
        return getattr(args[0], call.name)
    if call.kind == "setattr":
        setattr(args[0], call.name, args[1])
        return None
    raise ValueError(call.kind)


# ---------------------------------------------------------------------- rendering a program as Python
def fmt_number(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return repr(v)


def fmt_data(x):
    if isinstance(x, list):
        return "[" + ", ".join(fmt_data(v) for v in x) + "]"
    return fmt_number(x)


def fmt_lit(a: Lit, extra=""):
    if a.array.size == 0 and a.array.ndim != 1:  # tolist() of a (0, 4) array is [], losing the shape
        return f"torch.zeros({tuple(a.array.shape)}, dtype=torch.{a.dtype}{extra})"
    return f"torch.tensor({fmt_data(a.array.tolist())}, dtype=torch.{a.dtype}{extra})"


def fmt_arg(a, names, in_key=False):
    if isinstance(a, Ref):
        return names[a.i]
    if isinstance(a, Lit):
        return fmt_lit(a)
    if isinstance(a, DT):
        return "torch." + a.name
    if isinstance(a, Shape):
        return f"torch.Size({list(a.dims)})"
    if a is Ellipsis:
        return "..." if in_key else "Ellipsis"
    if isinstance(a, slice):
        if in_key:
            s = ("" if a.start is None else str(a.start)) + ":" + ("" if a.stop is None else str(a.stop))
            return s + ("" if a.step is None else ":" + str(a.step))
        return f"slice({a.start}, {a.stop}, {a.step})"
    if isinstance(a, range):
        return repr(a)
    if isinstance(a, list):
        return "[" + ", ".join(fmt_arg(x, names) for x in a) + "]"
    if isinstance(a, tuple):
        if in_key:
            return ", ".join(fmt_arg(x, names, True) for x in a) + ("," if len(a) == 1 else "")
        return "(" + ", ".join(fmt_arg(x, names) for x in a) + ("," if len(a) == 1 else "") + ")"
    return fmt_number(a)


def fmt_call(call, names):
    """The expression (or statement) ``call`` is, in PyTorch's spelling."""
    return _fmt_call(call, names)


def _fmt_call(call, names):
    a = call.args
    args = ", ".join([fmt_arg(x, names) for x in (a[1:] if call.kind == "method" else a)]
                     + [f"{k}={fmt_arg(v, names)}" for k, v in call.kwargs.items()])
    if call.kind == "leaf":
        extra = "".join(f", {k}={v!r}" for k, v in call.kwargs.items())
        return fmt_lit(a[0], extra)
    if call.kind == "fn":
        return f"torch.{call.name}({args})"
    if call.kind == "method":
        return f"{fmt_arg(a[0], names)}.{call.name}({args})"
    if call.kind == "op":
        return f"{fmt_arg(a[0], names)} {call.name} {fmt_arg(a[1], names)}"
    if call.kind == "iop":
        return f"{fmt_arg(a[0], names)} {call.name} {fmt_arg(a[1], names)}"
    if call.kind == "unop":
        return call.name.replace("x", fmt_arg(a[0], names))
    if call.kind == "getitem":
        return f"{fmt_arg(a[0], names)}[{fmt_arg(a[1], names, True)}]"
    if call.kind == "setitem":
        return f"{fmt_arg(a[0], names)}[{fmt_arg(a[1], names, True)}] = {fmt_arg(a[2], names)}"
    if call.kind == "attr":
        return f"{fmt_arg(a[0], names)}.{call.name}"
    if call.kind == "setattr":
        return f"{fmt_arg(a[0], names)}.{call.name} = {fmt_arg(a[1], names)}"
    raise ValueError(call.kind)


# ---------------------------------------------------------------------- comparing
RTOL = {"float16": 1e-2, "float32": 1e-5, "float64": 1e-9}
ATOL = {"float16": 1e-3, "float32": 1e-6, "float64": 1e-12}
GRAD_RTOL = {"float16": 2e-2, "float32": 1e-4, "float64": 1e-7}
GRAD_ATOL = {"float16": 1e-2, "float32": 1e-5, "float64": 1e-9}


def dtype_name(t):
    return str(t.dtype).replace("torch.", "")


def as_array(t):
    """The values of a tapegrad or PyTorch tensor as a numpy array (no grad, no sharing assumptions)."""
    t = t.detach()
    if hasattr(t, "_data"):
        return np.asarray(t.numpy())
    if t._is_zerotensor():  # PyTorch's gradient of some ops: a zero tensor without memory
        return np.zeros(tuple(t.shape), dtype=str(t.dtype).replace("torch.", ""))
    return t.numpy()


def compare_arrays(a, b, dtype, rtol=None, atol=None):
    """The first way two arrays of ``dtype`` differ: 'shape', 'nan', 'inf', 'signed-zero', 'value', or None.

    ``a`` is tapegrad's, ``b`` PyTorch's. Floats: NaNs must be at the same places, infinities the same, zeros of
    the same sign, finite values equal within the dtype's tolerance. Integers and bools: equal.
    """
    if a.shape != b.shape:
        return "shape"
    if a.dtype.kind != "f":
        return None if np.array_equal(a, b) else "value"
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.isnan(a64), np.isnan(b64)
    if not np.array_equal(na, nb):
        return "nan"
    ia, ib = np.isinf(a64), np.isinf(b64)
    if not np.array_equal(ia, ib) or not np.array_equal(a64[ia], b64[ib]):
        return "inf"
    finite = ~(na | ia)
    fa, fb = a64[finite], b64[finite]
    zero = (fa == 0) & (fb == 0)
    if not np.array_equal(np.signbit(fa[zero]), np.signbit(fb[zero])):
        return "signed-zero"
    rtol = RTOL[dtype] if rtol is None else rtol
    atol = ATOL[dtype] if atol is None else atol
    if not np.allclose(fa, fb, rtol=rtol, atol=atol):
        return "value"
    return None


LOOSE = 1000.0  # tolerance factor for results computed from values that already differed by rounding

# ops whose result jumps where the input crosses a boundary: on inputs that already differ by rounding, their
# results are not comparable (floor(5.9999999) is 5, floor(6.0000001) is 6)
DISCONTINUOUS = {"floor", "ceil", "round", "trunc", "fix", "frac", "sign", "sgn", "floor_divide", "remainder",
                 "fmod", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal",
                 "not_equal", "isclose", "allclose", "equal", "argmax", "argmin", "argsort", "sort", "topk",
                 "median", "nanmedian", "mode", "max", "min", "cummax", "cummin", "kthvalue", "nonzero", "argwhere",
                 "masked_select", "long", "int", "short", "byte",
                 "char", "bool", "to", "type", "type_as", "count_nonzero", "all", "any", "logical_not", "logical_and",
                 "logical_or", "logical_xor", "isposinf", "isneginf", "isinf", "isfinite", "isnan", "where",
                 "bernoulli", "one_hot", "unique", "heaviside", "bucketize", "item", "tolist", "tensor", "angle",
                 "signbit",
                 # singular at 0 (or at the edge of their domain): x / 0 takes the sign of a rounded x
                 "div", "divide", "true_divide", "addcdiv", "reciprocal", "rsqrt", "atan2", "arctan2", "pow", "log",
                 "log2",
                 "log10", "log1p", "sqrt", "acos", "asin", "arccos", "arcsin", "acosh", "arccosh", "atanh", "arctanh",
                 "float_power", "xlogy", "lerp", "erfinv", "logit", "lgamma", "digamma", "polygamma", "mvlgamma",
                 "igamma", "igammac",
                 # periodic: at large arguments one ulp of the input is many periods
                 "sin", "cos", "tan", "sinc", "as_tensor", "new_tensor",
                 # jump where the input crosses a threshold
                 "threshold", "hardshrink",
                 # scale-invariant, so rounding noise beside an exact 0 (a normalized constant) is O(1) there
                 "normalize",
                 # the mantissa jumps from 1 to 0.5 at each power of two, and from 0 to [0.5, 1) where a rounding
                 # residue (qr's -1.6e-16 of a singular matrix) stands for an exact 0
                 "frexp"}
DISCONTINUOUS_OPS = {"//", "%", "==", "!=", "<", "<=", ">", ">=", "//=", "%=", "r//", "r%", "r==", "r!=", "r<",
                     "r<=", "r>", "r>=", "/", "r/", "/=", "**", "r**", "**="}
# ops that sum many products: rounding errors scale with the magnitude of the terms, not of the result
SUMS = {"sum", "sum_to_size", "mean", "cumsum", "nansum", "nanmean", "norm", "logsumexp", "l1_loss",
        "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "kl_div", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "avg_pool2d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool3d",
        "adaptive_avg_pool1d", "adaptive_avg_pool3d"}
PRODUCTS = {"matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", "einsum", "conv2d", "conv_tbc", "linear",
            "bilinear",
            "@", "r@", "@=", "var", "std", "var_mean", "std_mean", "mse_loss", "cumprod", "prod"}


def _base(call):
    return call.name.rsplit(".", 1)[-1].rstrip("_") if call.kind in ("fn", "method", "attr") else call.op


def _discontinuous(call):
    if call.name == "view" and any(isinstance(a, DT) for a in call.args):
        return True  # the bits of a float: one ulp shows
    if _base(call) == "norm" and len(call.args) > 1 and call.args[1] == 0:
        return True  # the count of nonzeros: an underflow to 0 shows
    return _base(call) in DISCONTINUOUS or call.op in DISCONTINUOUS_OPS


def _scale(call, inputs):
    """The magnitude the rounding error of a sum or product is relative to (0 for other ops)."""
    base = _base(call)
    if base in ("interpolate", "upsample") and call.kwargs.get("mode") == "area":
        base = "adaptive_avg_pool2d"  # mode='area' is adaptive average pooling (a global mean for a size of 1)
    if base not in SUMS and base not in PRODUCTS:
        return 0.0
    # integers summed in a float dtype (nansum(dtype=torch.float32) of int64) round as that dtype's terms do
    dtype = call.kwargs.get("dtype")
    floated = isinstance(dtype, DT) and dtype.name in FLOATS
    mags = [float(t.detach().double().abs()[torch.isfinite(t.detach())].max()) for t in inputs
            if (t.dtype.is_floating_point or floated) and t.numel() and bool(torch.isfinite(t.detach()).any())]
    if not mags:
        return 0.0
    m = max(mags)
    n = max(t.numel() for t in inputs)
    return min((m * m if base in PRODUCTS else m) * n, 1e300)


def _agrees_on_their_inputs(call, refs, inputs, here, res_there, scale):
    """Whether tapegrad's op, run on PyTorch's input values (``inputs``: snapshots before the call), gives PyTorch's
    result: then a difference on tapegrad's own inputs, which already differed from PyTorch's within rounding, is
    that rounding amplified by a continuous op (x ** 2 of a float32 sum's noise: 1e29 here, 1e-41 there), not a
    difference of the op."""
    pool = list(here)
    try:
        for a, t in zip(refs, inputs):
            if t.dtype == torch.bfloat16:
                return False
            pool[a.i] = tg.tensor(t.detach().numpy(), dtype=getattr(tg, dtype_name(t)),
                                  requires_grad=bool(t.requires_grad and t.dtype.is_floating_point))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = execute(call, tg, pool)
    except Exception:  # noqa: BLE001 - no answer to compare
        return False
    return not compare_values(res, res_there, "result", call.random, call.tol, scale)


def _snapshot(t):
    """A copy of PyTorch tensor ``t`` as it is before a call (values and requires_grad; not its graph)."""
    c = t.detach().clone()
    if t.requires_grad and c.dtype.is_floating_point:
        c.requires_grad_(True)
    return c


def _snapshot_here(t):
    """A copy of tapegrad tensor ``t``'s values as they are before a call (None for what is not a tensor)."""
    try:
        return tg.tensor(t.detach().numpy().copy())
    except Exception:  # noqa: BLE001
        return None


def _node(t):
    """What says whether a call changed PyTorch tensor ``t``: its grad_fn, requires_grad and version."""
    try:
        return t.grad_fn, t.requires_grad, t._version
    except (AttributeError, RuntimeError):  # (a multi-output view whose base was written: grad_fn raises)
        return None


def _same_storage(a, b):
    try:
        return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    except Exception:  # noqa: BLE001
        return False


def _identical(a, b):
    """Bit-for-bit equal values (NaN equal to NaN, zeros of the same sign)?"""
    if not (is_tensor(a) and is_tensor(b)) or tuple(a.shape) != tuple(b.shape):
        return True
    x, y = as_array(a), as_array(b)
    if x.dtype.kind != "f" or y.dtype.kind != "f":
        return True
    return bool(np.array_equal(x, y, equal_nan=True) and np.array_equal(np.signbit(x), np.signbit(y)))


def is_tensor(x):
    return isinstance(x, tg.Tensor) or (torch is not None and isinstance(x, torch.Tensor))


def compare_tensors(a, b, what, random=False, tol=1.0, scale=0.0):
    """Differences between tapegrad tensor ``a`` and PyTorch tensor ``b``, as (kind, detail) pairs."""
    out = []
    if tuple(a.shape) != tuple(b.shape):
        return [("shape", f"{what}: shape {tuple(a.shape)} here, {tuple(b.shape)} in PyTorch")]
    if dtype_name(a) != dtype_name(b):
        out.append(("dtype", f"{what}: dtype {dtype_name(a)} here, {dtype_name(b)} in PyTorch"))
    if bool(a.requires_grad) != bool(b.requires_grad):
        out.append(("requires_grad", f"{what}: requires_grad {a.requires_grad} here, {b.requires_grad} in PyTorch"))
    if out or random:
        return out
    x, y = as_array(a), as_array(b)
    d = dtype_name(b)
    kind = compare_arrays(x, y, d, min(RTOL[d] * tol, 0.05), min(ATOL[d] * tol, 0.05) + RTOL[d] * tol * scale) \
        if d in RTOL else compare_arrays(x, y, d)
    if kind:
        out.append((kind, f"{what}: values\n  here:    {_show(x)}\n  PyTorch: {_show(y)}"))
    return out


def _show(x):
    with np.printoptions(threshold=40, linewidth=200):
        return np.array2string(np.asarray(x), separator=", ").replace("\n", "")


def compare_values(a, b, what, random=False, tol=1.0, scale=0.0):
    """Differences between a tapegrad result ``a`` and PyTorch's ``b`` (tensors, tuples, numbers, sizes)."""
    if is_tensor(b):
        if not is_tensor(a):
            return [("type", f"{what}: {type(a).__name__} here, a tensor in PyTorch")]
        return compare_tensors(a, b, what, random, tol, scale)
    if isinstance(b, (tuple, list)) and not isinstance(b, torch.Size):
        if not isinstance(a, (tuple, list)) or type(a).__name__ == "Size":
            return [("type", f"{what}: {type(a).__name__} here, {type(b).__name__} in PyTorch")]
        if len(a) != len(b):
            return [("len", f"{what}: {len(a)} results here, {len(b)} in PyTorch")]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += compare_values(x, y, f"{what}[{i}]", random, tol, scale)
        return out
    if isinstance(b, torch.Size):
        if type(a).__name__ != "Size" or tuple(a) != tuple(b):
            return [("value", f"{what}: {a!r} here, {b!r} in PyTorch")]
        return []
    if b is None or isinstance(b, (bool, int, float, str, torch.dtype, torch.layout)):
        if isinstance(b, (torch.dtype, torch.layout)):
            ok = str(a).replace("tapegrad.", "") == str(b).replace("torch.", "")
        elif isinstance(b, float) and isinstance(a, float):
            ok = (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, rel_tol=1e-5 * tol,
                                                                              abs_tol=1e-6 * tol)
        else:
            ok = type(a) is type(b) and a == b
        return [] if ok else [("value", f"{what}: {a!r} here, {b!r} in PyTorch")]
    return [("type", f"{what}: {type(a).__name__} here, {type(b).__name__} in PyTorch")]


def _results(call, result, pool, refs):
    """The tensors call made or wrote: its result's, or for an assignment (``x[k] = v``) the tensor written."""
    if call.kind in ("setitem", "setattr"):
        return [pool[refs[0].i]] if refs else []
    return tensors_in(result)


def tensors_in(result):
    """The tensors of a call's result, in order (tuples and named tuples flattened one level)."""
    if is_tensor(result):
        return [result]
    if isinstance(result, (tuple, list)) and not type(result).__name__ == "Size":
        return [x for x in result if is_tensor(x)]
    return []


# ---------------------------------------------------------------------- discrepancies
@dataclass
class Discrepancy:
    """One way a call (or the final backward) behaved differently; ``op`` is the call's op name."""

    kind: str  # tapegrad-raises, pytorch-raises, shape, dtype, requires_grad, nan, inf, signed-zero, value, ...
    op: str
    detail: str
    step: int  # index of the call in the program (len(program) for the backward)
    call: Call | None = None
    inputs: list = field(default_factory=list)  # PyTorch tensors the call read, before it ran
    error_here: str = ""
    error_torch: str = ""
    known: str | None = None  # the KNOWN key that covers it
    origins: list = field(default_factory=list)  # the op that made each input (e.g. "Tensor.diagonal")
    here_inputs: list = field(default_factory=list)  # tapegrad's input tensors (as they are after the call)
    here_before: list = field(default_factory=list)  # for backward discrepancies: tapegrad's inputs before the call
    entry: str | None = None  # state-*: the name of the tensor of the program that differs
    aliased: bool = False  # state-*: that tensor shares memory with the call's first input (in PyTorch)
    shared: int = 0  # how many other tensors of the program shared the first input's memory before the call
    sharers: list = field(default_factory=list)  # the ops that made those tensors (e.g. "Tensor.unsafe_chunk")
    culprit: int | None = None  # for backward discrepancies: the call that introduced it
    # for each input, (pool index, dtype name) of each tensor the call that made it read (addcdiv(x, t, t): t twice)
    maker_reads: list = field(default_factory=list)
    readers: list = field(default_factory=list)  # the ops of earlier calls that read the first input (its uses)

    def features(self):
        """Conditions of the inputs: 0-d, empty, non-finite floats, requiring grad."""
        f = set()
        for t in self.inputs:
            if t.dim() == 0:
                f.add("0d")
            if t.numel() == 0:
                f.add("empty")
            if t.dtype.is_floating_point and t.numel() and not bool(torch.isfinite(t).all()):
                f.add("nonfinite")
            if t.requires_grad:
                f.add("rg")
        return ",".join(sorted(f))

    def signature(self):
        dts = ",".join(sorted({dtype_name(t) for t in self.inputs}))
        return f"{self.op} | {self.kind} | {dts} | {self.features()}"


def _err(e):
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]


def _gist(error):
    """An error message (_err's) without its particulars: the names, shapes and versions after a second colon,
    numbers. "RuntimeError: one of the variables needed for gradient computation has been modified by an inplace
    operation: [torch.FloatTensor [4]], which is output 0 of MulBackward0, is at version 2; ..." is the same error
    wherever it was raised."""
    kind, _, message = error.partition(": ")
    return kind, re.sub(r"\d+", "#", message.split(":")[0])


# ---------------------------------------------------------------------- running a program
class Runner:
    """Runs calls in both libraries, keeping the pool of each side and comparing after every call.

    ``known(d)`` returns the KNOWN key that covers a discrepancy (or None): a program stops at its first
    discrepancy; if every discrepancy of that call is known, the program is over and passes.
    """

    max_numel = 120

    def __init__(self, known=None):
        load_torch()
        self.known = known or (lambda d: None)
        self.program: list[Call] = []
        self.names: list[str] = []  # the expression each pool entry is, in the rendered program
        self.here: list = []  # tapegrad tensors
        self.there: list = []  # PyTorch tensors
        self.leaves: list[int] = []  # pool entries made by 'leaf' calls with requires_grad
        self.found: list[Discrepancy] = []
        self.produced: list[list[int]] = []  # pool indices each call added
        self.snapshots: list = []  # each call's inputs (PyTorch's, before the call) and their origins
        self.dead: set[int] = set()  # pool entries filled with random values: no longer comparable
        self.approx: set[int] = set()  # entries whose values agree only within tolerance (not bit for bit)
        self.origin: list[str] = []  # the op that made each entry
        self.reads: list[list] = []  # (pool index, dtype name) of each tensor the call that made an entry read
        self.snapshot_reads: list = []  # each call's inputs' makers' reads (Discrepancy.maker_reads)
        self.read_by: dict[int, list[str]] = {}  # the ops of the calls that read each entry, in order
        self.snapshot_readers: list = []  # each call's first input's earlier readers (Discrepancy.readers)
        self._reads_now: list = []
        self.widen: dict[int, float] = {}  # tolerance factors of float64 entries made from approximate float32
        self.scale: dict[int, float] = {}  # the magnitude an entry's rounding error is relative to (sums)
        self.passed: dict[int, int] = {}  # entries that are an input handed back untouched (eval-mode dropout)
        self.stopped = False
        self.no_grad_compare = False  # set when the program's gradients are not comparable (ties picked apart)
        self.ties_diverged = False  # the last call's indices picked equal values apart
        self.lines: list[str] = []
        # when a dict: catches the gradient PyTorch's backward brings to each call's results, keyed by (call index,
        # result index) (see _local_culprit)
        self.incoming: dict | None = None

    # -- what the generator reads
    def shape(self, i):
        return tuple(self.there[i].shape)

    def dtype(self, i):
        return dtype_name(self.there[i])

    def run(self, call: Call):
        """Run one call in both libraries; returns the pool indices of its results (none if it stopped)."""
        if self.stopped:
            return []
        step = len(self.program)
        self.program.append(call)
        refs = _refs(call.args) + _refs(call.kwargs)
        inputs = [_snapshot(self.there[a.i]) for a in refs]
        sharers = [self.origin[i] for i in range(len(self.there)) if refs and i != refs[0].i
                   and _same_storage(self.there[i], self.there[refs[0].i])]
        shared = len(sharers)
        self.snapshots.append((inputs, [self.origin[a.i] for a in refs], sharers,
                               [_snapshot_here(self.here[a.i]) for a in refs]))
        self.snapshot_reads.append([self.reads[a.i] for a in refs])
        readers = list(self.read_by.get(refs[0].i, ())) if refs else []
        self.snapshot_readers.append(readers)
        for a in refs:
            self.read_by.setdefault(a.i, []).append(call.op)
        self._reads_now = [(a.i, dtype_name(self.there[a.i])) for a in refs]
        origins = [self.origin[a.i] for a in refs]
        loose = any(a.i in self.approx for a in refs)
        here = list(self.here)
        there = list(self.there)
        untouched = {a.i: (here[a.i], there[a.i], _node(there[a.i])) for a in refs}
        res_here = res_there = err_here = err_there = None
        self.ties_diverged = False
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                res_here = execute(call, tg, here)
            except Exception as e:  # noqa: BLE001 - any exception is an answer to compare
                err_here = e
            try:
                res_there = execute(call, torch, there)
            except Exception as e:  # noqa: BLE001
                err_there = e
        self.here, self.there = here, there
        found = []

        def report(kind, detail, entry=None):
            d = Discrepancy(kind, call.op, detail, step, call, inputs,
                            _err(err_here) if err_here else "", _err(err_there) if err_there else "",
                            origins=origins, here_inputs=[self.here[a.i] for a in refs], shared=shared,
                            sharers=sharers, maker_reads=[self.reads[a.i] for a in refs], readers=readers)
            if entry is not None:
                d.entry = self.names[entry]
                d.aliased = bool(refs) and _same_storage(self.there[entry], self.there[refs[0].i])
            found.append(d)

        blunt, widen = False, 1.0
        if (err_here is None) != (err_there is None):
            report("tapegrad-raises" if err_here is not None else "pytorch-raises", _err(err_here or err_there))
        elif err_here is None:
            tol = call.tol * (LOOSE if loose else 1)
            if loose:  # a result is no finer than the values it was computed from: float32 values that differ by
                # rounding, promoted into a float64 result (addcmul(f32, i64, f64)), keep float32's tolerance
                coarse = max([RTOL.get(dtype_name(self.there[a.i]), 0.0) for a in refs if a.i in self.approx] + [0.0])
                fine = min([RTOL[dtype_name(t)] for t in tensors_in(res_there) if dtype_name(t) in RTOL] + [coarse])
                if fine and coarse > fine:
                    widen = coarse / fine
                    tol *= widen
            blunt = loose and _discontinuous(call)  # floor(5.9999999) vs floor(6.0000001): not comparable
            scale = _scale(call, inputs) + max([self.scale.get(a.i, 0.0) for a in refs] + [0.0])
            if not blunt:  # (nor the shape of nonzero(), which counts rounded values)
                for kind, detail in compare_values(res_here, res_there, "result", call.random, tol, scale):
                    if not (loose and kind == "signed-zero"):  # a zero made from values that differ by rounding
                        report(kind, detail)  # (-2e-6 * 0 there, 0.0 * 0 here) has the rounding's sign
                if found and loose and not call.random and _agrees_on_their_inputs(call, refs, inputs, here,
                                                                                   res_there, scale):
                    found = []  # the op is right: the inputs' rounding, amplified (square of a sum's noise)
                    blunt = True  # (so its results are no longer compared: they carry that amplified rounding)
            if call.ties is not None and found and all(d.kind == "value" and "values" in d.detail for d in found):
                found = self._compare_ties(call, res_here, res_there, inputs, step)
                for d in found:
                    d.origins = origins
            if call.random and call.args and isinstance(call.args[0], Ref):
                target = self.there[call.args[0].i]  # a random in-place fill: it and its views/base are random now
                self.dead.update(i for i in range(len(self.there)) if _same_storage(self.there[i], target))
            if scale and refs and (call.kind in ("iop", "setitem") or call.name.endswith("_")):
                self.scale[refs[0].i] = max(self.scale.get(refs[0].i, 0.0), scale)  # written in place
        if not found:  # every tensor of the program: writes through views must reach their bases
            prefix = "state-" if err_here is None else "state-after-error-"
            # a discontinuous op that wrote rounded values in place (x.remainder_(3) of x within tolerance): the
            # tensor written and the tensors sharing its memory are no longer comparable, as its result
            written = refs[0].i if err_here is None and blunt and refs and (
                call.kind in ("iop", "setitem") or call.name.endswith("_")) else None
            for i in range(len(self.there)):
                if i in self.dead:
                    continue
                if written is not None and _same_storage(self.there[i], self.there[written]):
                    self.dead.add(i)
                    continue
                rounded = i in self.approx or loose
                tol = (LOOSE if rounded else 1) * self.widen.get(i, 1.0)
                for kind, detail in compare_values(self.here[i], self.there[i], self.names[i], tol=tol,
                                                   scale=self.scale.get(i, 0.0)):
                    if not (rounded and kind == "signed-zero"):
                        report(prefix + kind, detail, i)
                if found:
                    break
                if i not in self.approx and not _identical(self.here[i], self.there[i]):
                    self.approx.add(i)
        line = fmt_call(call, self.names)
        new = []
        if not found and err_here is None:
            results_here, results_there = tensors_in(res_here), tensors_in(res_there)
            if call.pool and not call.random and len(results_here) == len(results_there):
                single = is_tensor(res_there)
                name = f"v{len(self.names)}"
                if call.kind in ("setitem", "setattr", "iop"):
                    pass
                elif single:
                    new.append(self._add(name, res_here, res_there, call.op))
                    if call.kind == "leaf" and call.kwargs.get("requires_grad"):
                        self.leaves.append(new[-1])
                    for i, (x, y, node) in untouched.items():
                        if res_here is x and res_there is y and _node(y) == node:
                            self.passed[new[-1]] = i
                else:
                    for k, (x, y) in enumerate(zip(results_here, results_there)):
                        new.append(self._add(f"{name}[{k}]", x, y, call.op))
                if new and call.kind not in ("setitem", "setattr", "iop"):
                    line = f"{name} = {line}"
                for i in new:
                    if scale:
                        self.scale[i] = scale
                    if widen > 1:
                        self.widen[i] = widen  # (its later comparisons keep the inputs' tolerance)
                    if loose or not _identical(self.here[i], self.there[i]):
                        self.approx.add(i)
                    if self.ties_diverged or blunt:
                        self.dead.add(i)  # indices of ties, rounding of rounded values: no longer comparable
                    if call.name == "view" and any(isinstance(a, DT) for a in call.args):
                        self.dead.add(i)  # the bits of a float reinterpreted: rounding differences show exactly
        if err_here is not None and err_there is not None:
            line += "  # raises in both"
        if call.no_grad:
            line = "with torch.no_grad():\n    " + line
        self.lines.append(line)
        self.produced.append(new)
        if self.incoming is not None and not found and err_there is None:
            self._catch_incoming(step, call, res_there, refs)
        if found:
            self._stop(found)
        return new

    def _catch_incoming(self, step, call, res_there, refs):
        """Hooks on the autograd nodes of PyTorch's results of call ``step`` that keep the gradient its backward
        brings them (the node of a tensor as it is now: a later in-place write gives the tensor another). Hooks on
        the node, not the tensor: Tensor.register_hook crashes PyTorch 2.13 on some views whose base was written
        through another view."""
        for j, t in enumerate(_results(call, res_there, self.there, refs)):
            node = _node(t)
            if node is not None and node[0] is not None:
                node[0].register_prehook(lambda grads, key=(step, j), nr=t.output_nr: self._keep(key, grads[nr]))

    def _keep(self, key, grad):
        if grad is not None:
            self.incoming[key] = grad.detach().clone()

    def _add(self, name, x, y, op):
        self.origin.append(op)
        self.reads.append(self._reads_now)
        self.names.append(name)
        self.here.append(x)
        self.there.append(y)
        return len(self.there) - 1

    def _stop(self, found):
        for d in found:
            d.known = self.known(d)
        self.found = found
        self.stopped = True

    def _compare_ties(self, call, a, b, inputs, step):
        """Sort-like results: where values tie, PyTorch does not specify which index comes first. Indices that
        differ are accepted when they pick equal values (the program's gradients are then not compared)."""
        found = []
        if not inputs:
            return found
        x = as_array(inputs[0])
        for k, (ta, tb) in enumerate(zip(tensors_in(a), tensors_in(b))):
            if dtype_name(tb) != "int64" or tuple(ta.shape) != tuple(tb.shape):
                continue
            ia, ib = as_array(ta), as_array(tb)
            if np.array_equal(ia, ib):
                continue
            try:
                d = call.ties % max(x.ndim, 1)
                if ia.ndim < x.ndim:
                    ia, ib = np.expand_dims(ia, d), np.expand_dims(ib, d)
                va = np.take_along_axis(x, ia, axis=d) if x.ndim else x[()]
                vb = np.take_along_axis(x, ib, axis=d) if x.ndim else x[()]
                same = np.array_equal(va, vb, equal_nan=x.dtype.kind == "f")
            except (IndexError, ValueError):
                same = False
            if same:
                self.no_grad_compare = True
                self.ties_diverged = True
            else:
                found.append(Discrepancy("value", call.op, f"result[{k}]: indices pick different values\n"
                                         f"  here:    {_show(as_array(ta))}\n  PyTorch: {_show(as_array(tb))}",
                                         step, call, inputs))
        return found

    # -- the end: a scalar function of the pool, back-propagated in both
    def finish(self, loss_seed=0, blame=True):
        if self.stopped or self.no_grad_compare:
            return self.found
        usable = [i for i in range(len(self.there))
                  if i not in self.dead and self.there[i].requires_grad and self.there[i].dtype.is_floating_point]
        picked = [i for i in usable if (loss_seed >> (i % 8)) & 1] or usable[-1:]
        if not picked or not self.leaves:
            return []
        weights = [_weights(self.there[i].shape, loss_seed + i) for i in picked]
        err_here = err_there = None
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                _backward(tg, [self.here[i] for i in picked], weights)
            except Exception as e:  # noqa: BLE001
                err_here = e
            try:
                _backward(torch, [self.there[i] for i in picked], weights)
            except Exception as e:  # noqa: BLE001
                err_there = e
        for i, w in zip(picked, weights):
            self.lines.append(f"w{i} = torch.tensor({fmt_data(w.tolist())}, dtype={self.names[i]}.dtype)")
        self.lines.append("loss = " + " + ".join(
            f"({self.names[i]} * w{i}).sum().double()" for i in picked) + "; loss.backward()")
        step = len(self.program)
        found = []
        if (err_here is None) != (err_there is None):
            kind = "backward-tapegrad-raises" if err_here is not None else "backward-pytorch-raises"
            found.append(Discrepancy(kind, "backward", _err(err_here or err_there), step, None, [],
                                     _err(err_here) if err_here else "", _err(err_there) if err_there else ""))
        elif err_here is None:
            for i in self.leaves:
                a, b = self.here[i].grad, self.there[i].grad
                what = f"{self.names[i]}.grad"
                if (a is None) != (b is None):
                    found.append(Discrepancy("grad-None", "backward", f"{what}: {a!r} here, {b!r} in PyTorch",
                                             step))
                elif a is not None:
                    if tuple(a.shape) != tuple(b.shape):
                        found.append(Discrepancy("grad-shape", "backward", f"{what}: shape {tuple(a.shape)} here, "
                                                 f"{tuple(b.shape)} in PyTorch", step))
                        continue
                    x, y = as_array(a), as_array(b)
                    d = self._coarsest(dtype_name(b))
                    gtol = (100 if self.approx else 1) * max([c.tol for c in self.program] + [1.0])
                    kind = compare_arrays(x, y, d, min(GRAD_RTOL[d] * gtol, 0.05), min(GRAD_ATOL[d] * gtol, 0.05))
                    if kind and kind != "signed-zero":  # the sign of a zero gradient is not specified
                        found.append(Discrepancy("grad-" + kind, "backward",
                                                 f"{what}:\n  here:    {_show(x)}\n  PyTorch: {_show(y)}", step))
        if found:
            if blame:
                self._blame(found, loss_seed)
            self._stop(found)
        return found

    def _blame(self, found, loss_seed):
        """File a backward discrepancy under the call that introduced it: the last call whose own backward, given
        the gradient PyTorch's backward brought to its results, differs (_local_culprit); failing that (a difference
        no call shows alone: an in-place write's version check, a gradient None here and zeros there), the last
        call of the shortest prefix of the program whose backward already differs (_prefix_culprit)."""
        k = self._local_culprit(found[0], loss_seed)
        if k is None:
            k = self._prefix_culprit(found[0], loss_seed)
        if k is None:
            return
        call = self.program[k]
        inputs, origins, sharers, here_before = self.snapshots[k]
        for d in found:
            d.op, d.call, d.inputs, d.origins, d.culprit = call.op, call, inputs, origins, k
            d.shared, d.sharers, d.here_before = len(sharers), sharers, here_before
            d.maker_reads = self.snapshot_reads[k]
            d.readers = self.snapshot_readers[k]

    def _local_culprit(self, first, loss_seed):
        """The call whose backward introduced a gradient difference, judged one call at a time.

        A prefix of the program with its own loss feeds its last call another gradient than the whole program did,
        one that may not show the difference (an output the prefix's loss leaves out, an incoming gradient too small
        to overflow), so the prefix search may blame a later call. Here the program runs again with hooks that keep
        the gradient PyTorch's backward brings to each call's results; then, from the last call back (the order the
        backward runs them), each call runs alone in both libraries on its inputs' values (PyTorch's, the same for
        both) and back-propagates that same gradient: the first call whose inputs' gradients differ (as the final
        comparison judges them) is the one; for a backward that raises, the first whose own backward raises the
        same error in the same library only. None when no call differs alone."""
        raised = first.kind.endswith("-raises")
        if not raised and first.kind not in ("grad-value", "grad-nan", "grad-inf", "grad-shape"):
            return None  # (grad-None: None against zeros is how gradients meet, not one call's rule)
        r = Runner()
        r.incoming = {}
        for call in self.program:
            r.run(call)
            if r.stopped:
                return None
        if not r.finish(loss_seed, blame=False):
            return None
        gtol = (100 if self.approx else 1) * max([c.tol for c in self.program] + [1.0])
        for k in reversed(range(len(self.program))):
            call = self.program[k]
            incoming = {j: g for (step, j), g in r.incoming.items() if step == k}
            if call.kind == "leaf" or call.no_grad or call.random or not incoming:
                continue
            alone = self._backward_alone(k, incoming, gtol)
            if alone is None:
                continue
            kind, error = alone
            if (kind == first.kind and _gist(error) == _gist(first.error_here or first.error_torch)) if raised \
                    else kind == "grad":
                return k
        return None

    def _backward_alone(self, k, incoming, gtol):
        """Call ``k`` run alone in both libraries on copies of its inputs (PyTorch's values, those that require
        grad as leaves) and back-propagated from ``incoming`` (result index -> PyTorch's gradient). Returns None
        when the inputs' gradients agree or the call cannot run alone as it did in the program; ("grad", "") when
        they differ; (backward-tapegrad-raises or backward-pytorch-raises, the error) when one library's backward
        raises."""
        call = self.program[k]
        refs = _refs(call.args) + _refs(call.kwargs)
        pools, leaves = ({}, {}), ([], [])
        for a, x in zip(refs, self.snapshots[k][0]):
            if a.i in pools[0]:  # (clamp_min(v, v): one tensor)
                continue
            copies = x.detach().clone(), tg.tensor(as_array(x).copy(), dtype=getattr(tg, dtype_name(x)))
            for side, value in enumerate(copies):
                if x.requires_grad:  # a leaf, and a copy of it the call may write in place
                    leaves[side].append(value.requires_grad_(True))
                    value = value.clone()
                pools[side][a.i] = value
        if not leaves[0]:
            return None
        grads, errors = [], []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for lib, pool, wrt in ((torch, pools[0], leaves[0]), (tg, pools[1], leaves[1])):
                try:
                    outs = _results(call, execute(call, lib, pool), pool, refs)
                except Exception:  # noqa: BLE001 - not the call as it ran in the program
                    return None
                picked = [(outs[j], g) for j, g in incoming.items() if j < len(outs) and outs[j].requires_grad
                          and tuple(outs[j].shape) == tuple(g.shape)]
                if len(picked) != len(incoming):
                    return None
                seed = [g if lib is torch else tg.tensor(as_array(g), dtype=o.dtype) for o, g in picked]
                try:
                    grads.append(lib.autograd.grad([o for o, _ in picked], wrt, seed, allow_unused=True))
                    errors.append(None)
                except Exception as e:  # noqa: BLE001 - compared below
                    grads.append(None)
                    errors.append(e)
        there, here = errors
        if (here is None) != (there is None):
            return ("backward-tapegrad-raises", _err(here)) if here else ("backward-pytorch-raises", _err(there))
        if here is not None:
            return None
        for x, b, a in zip(leaves[0], *grads):
            zeros = np.zeros(tuple(x.shape), as_array(x).dtype)  # (a gradient None: the input was not used)
            d = self._coarsest(dtype_name(x))
            kind = compare_arrays(zeros if a is None else as_array(a), zeros if b is None else as_array(b), d,
                                  min(GRAD_RTOL[d] * gtol, 0.05), min(GRAD_ATOL[d] * gtol, 0.05))
            if kind and kind != "signed-zero":
                return "grad", ""
        return None

    def _prefix_culprit(self, first, loss_seed):
        """The last call of the shortest prefix of the program whose backward already differs (or the call that
        made what that call handed back untouched or rearranged, _maker)."""
        # "v3.grad": look for the same leaf's gradient first; a backward that raises: for the same error first
        # (a prefix may raise for another op's reason, and the entry is judged by the call and its message)
        raised = first.kind.endswith("-raises")
        leaf = first.detail if raised else first.detail.split(":")[0]
        tries = [(u, seed, same) for same in (True, False) for seed in (255, loss_seed)
                 for u in range(1, len(self.program) + 1)]
        for upto, seed, same in tries:
            # every output in the loss first (the call whose output's gradient differs first), then the program's
            r = replay(self.program[:upto], seed, blame=False)
            if r.found and r.found[0].step == upto and (
                    not same or (r.found[0].detail == leaf if raised else r.found[0].detail.startswith(leaf))):
                return self._maker(upto - 1)
        return None

    def _maker(self, k):
        """The call that made what call ``k`` handed back untouched (the same tensor, no new node: eval-mode
        dropout) or rearranged (a view whose gradient only moves elements: reshape, transpose, indexing): a
        gradient difference cannot come from such a call, only from the one before that made its input (whose own
        prefix may agree by chance: a NaN gradient of another output there hides it; a view of a reduced loss
        passes on the loss weight that made the maker's rule overflow)."""
        while True:
            if len(self.produced[k]) == 1 and self.produced[k][0] in self.passed:
                src = self.passed[self.produced[k][0]]
            elif self.program[k].op in EXACT_GRAD_VIEWS and len(refs := [a for a in self.program[k].args
                                                                         if isinstance(a, Ref)]) == 1:
                src = refs[0].i
            else:
                break
            maker = next((j for j, made in enumerate(self.produced) if src in made), None)
            if maker is None or self.program[maker].kind == "leaf":
                break
            k = maker
        return k

    def _coarsest(self, d):
        """The least precise float dtype a gradient may have passed through (a float16 cast rounds it)."""
        order = ["float16", "float32", "float64"]
        seen = {dtype_name(t) for t in self.there if t.dtype.is_floating_point} | {d}
        return next(o for o in order if o in seen)

    def render(self, upto=None):
        """The program so far as a Python snippet (``import tapegrad as torch`` runs it in tapegrad)."""
        head = ["import torch", "from math import inf, nan"]
        return "\n".join(head + self.lines[:upto])


def replay(calls, loss_seed=None, known=None, blame=True):
    """Run a recorded program again (and its backward, given the loss seed); returns the runner."""
    r = Runner(known)
    for call in calls:
        r.run(call)
        if r.stopped:
            return r
    if loss_seed is not None:
        r.finish(loss_seed, blame)
    return r


def _remap(a, mapping):
    if isinstance(a, Ref):
        return Ref(mapping[a.i])  # KeyError: the entry is gone
    if isinstance(a, list):
        return [_remap(x, mapping) for x in a]
    if isinstance(a, tuple):
        return tuple(_remap(x, mapping) for x in a)
    if isinstance(a, dict):
        return {k: _remap(v, mapping) for k, v in a.items()}
    return a


def shrink(runner, loss_seed, signature, budget=200):
    """A shorter program with the same discrepancy signature: calls are removed one at a time (with the calls
    that read what they made) as long as the discrepancy stays. Returns the runner of the smallest program."""
    best = runner
    calls, produced = list(runner.program), list(runner.produced)
    tries = 0
    k = len(calls) - 2
    while k >= 0 and tries < budget:
        tries += 1
        gone = set(produced[k])
        keep, mapping, n = [], {}, 0
        ok = True
        for j, call in enumerate(calls):
            if j == k:
                continue
            try:
                new = Call(call.kind, call.name, _remap(call.args, mapping), _remap(call.kwargs, mapping),
                           call.random, call.pool, call.ties, call.no_grad)
            except KeyError:
                if j == len(calls) - 1:
                    ok = False
                    break
                gone.update(produced[j])
                continue
            keep.append((new, j))
            for i in produced[j]:
                mapping[i] = n
                n += 1
        if ok and keep:
            r = replay([c for c, _ in keep], loss_seed if best.found and best.found[0].kind.startswith(
                ("grad", "backward")) else None)
            if r.found and r.found[0].signature() == signature:
                calls, produced = list(r.program), list(r.produced)
                best = r
                k = min(k, len(calls) - 2)
                continue
        k -= 1
    return best


def _weights(shape, seed):
    """A deterministic weight array for the loss (nonzero, mixed signs)."""
    vals = np.array([1.0, -0.5, 2.0, 0.25, -1.5, 0.75, -2.0, 1.25])
    n = int(np.prod(shape)) if shape else 1
    return np.roll(vals, seed % 8)[np.arange(n) % 8].reshape(tuple(shape))


def _backward(lib, outs, weights):
    total = None
    for t, w in zip(outs, weights):
        term = (t * lib.tensor(w, dtype=t.dtype)).sum().double()
        total = term if total is None else total + term
    total.backward()


def _refs(a):
    if isinstance(a, Ref):
        return [a]
    if isinstance(a, (list, tuple)):
        return [r for x in a for r in _refs(x)]
    if isinstance(a, dict):
        return [r for x in a.values() for r in _refs(x)]
    return []
