"""The generator: random tensors, then random calls drawn from a table of the whole op library.

Every entry of :data:`SPECS` is a small function ``gen(g)`` that picks its inputs from the pool (or makes fresh
leaves), draws its arguments (dims in and out of range, keepdim, dtype=, alpha=, Python scalars of each kind) and
returns a :class:`~differential.core.Call`. ``covers`` lists the op names (as ``Call.op`` spells them) that the
entry can produce; ``tests/test_differential.py`` checks that together they cover every public op.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

import tapegrad as tg

from .core import DT, DTYPES, FLOATS, INTS, RTOL, Call, Lit, Ref, Shape, load_torch

torch = load_torch()

inf, nan = math.inf, math.nan
FLOAT_NICE = [0.0, 1.0, -1.0, 2.0, 0.5, -2.5, 3.0, -0.25, 1.5, -3.0]
FLOAT_GENERIC = [0.3, -0.7, 1.3, -1.9, 2.6, 0.05, -0.45, 0.85, -2.2, 1.1]
FLOAT_SPECIAL = [-0.0, inf, -inf, nan, 0.0]
FLOAT_EXTREME = [1e30, -1e30, 1e-30, 3e38, -3e38, 1e-40, 6e4, -6e4, 1e-7, 1e5, 5e-324, 1e300]
INT_VALUES = [0, 1, -1, 2, 3, -2, 5, -7, 4, 100, -100]
SCALARS = [0, 1, 2, -1, 3, 0.5, -1.5, 2.0, 0.0, True, False, -0.0, inf, -inf, nan, 1e30, 7, -3]


def _both_have(name, owner="Tensor"):
    a, b = (tg, torch) if owner != "Tensor" else (tg.Tensor, torch.Tensor)
    if owner == "F":
        a, b = tg.nn.functional, torch.nn.functional
    return hasattr(a, name) and hasattr(b, name)


# ---------------------------------------------------------------------- the generator's toolbox
class Gen:
    """Draws from ``src`` and reads (and grows) the runner's pool."""

    def __init__(self, src, runner):
        self.src, self.r = src, runner

    # -- plain choices
    def int(self, lo, hi):
        return self.src.int(lo, hi)

    def choice(self, seq):
        return self.src.choice(seq)

    def chance(self, pct):
        return self.src.chance(pct)

    def weighted(self, pairs):
        return self.src.weighted(pairs)

    # -- tensors of the pool
    def ndim(self, i):
        return len(self.r.shape(i))

    def shape(self, x):
        return self.r.shape(x.i)

    def dtype(self, x):
        return self.r.dtype(x.i)

    def numel(self, x):
        return math.prod(self.shape(x))

    def rg(self, x):
        return bool(self.r.there[x.i].requires_grad)

    def pick(self, pred=None):
        """A pool entry (recent ones likelier) satisfying ``pred(ref)``, or None."""
        n = len(self.r.there)
        ok = [i for i in range(n) if math.prod(self.r.shape(i)) <= self.r.max_numel and i not in self.r.dead
              and (pred is None or pred(Ref(i)))]
        if not ok:
            return None
        if self.chance(50):
            return Ref(ok[-1 - self.int(0, min(2, len(ok) - 1))])
        return Ref(self.choice(ok))

    def tensor(self, pred=None, new=25, **leaf_kw):
        """A tensor from the pool (satisfying ``pred``), or a fresh leaf (``new`` percent, or if none fits)."""
        x = None if self.chance(new) else self.pick(pred)
        return x if x is not None else self.leaf(**leaf_kw)

    def float_tensor(self, pred=None, new=25, **kw):
        def p(x):
            return self.dtype(x) in FLOATS and (pred is None or pred(x))

        kw.setdefault("dtypes", FLOATS)
        return self.tensor(p, new, **kw)

    def leaf(self, shape=None, dtype=None, rg=None, dtypes=None, ndims=(0, 3), values=None):
        if dtype is None:
            dtype = self.dtype_(dtypes)
        if shape is None:
            shape = self.shape_(*ndims)
        arr = self.values(shape, dtype) if values is None else np.asarray(values).astype(dtype)
        if rg is None:
            rg = dtype in FLOATS and self.chance(55)
        rg = bool(rg and dtype in FLOATS)
        out = self.r.run(Call("leaf", "", (Lit(arr, dtype),), {"requires_grad": rg} if rg else {}))
        if not out:
            raise Stop
        return Ref(out[0])

    def dtype_(self, among=None):
        among = among or DTYPES
        weights = {"float32": 30, "float64": 12, "int64": 14, "bool": 10, "int32": 6, "float16": 7, "uint8": 6,
                   "int8": 4, "int16": 3}
        return self.weighted([(weights[d], d) for d in among])

    def size_(self):
        return self.weighted([(30, 2), (25, 3), (20, 1), (8, 0), (15, 4)])

    def shape_(self, lo=0, hi=3):
        nd = self.weighted([(w, d) for d, w in zip(range(5), (15, 30, 35, 20, 6)) if lo <= d <= hi])
        shape = []
        for _ in range(nd):
            shape.append(self.size_())
            while math.prod(shape) > 36:
                shape[-1] -= 1
        return tuple(shape)

    def values(self, shape, dtype):
        n = math.prod(shape)
        if dtype == "bool":
            vals = [self.chance(50) for _ in range(n)]
        elif dtype in INTS:
            info = np.iinfo(dtype)
            extremes = [int(info.max), int(info.min)]
            vals = [self.choice(INT_VALUES) if not self.chance(6) else self.choice(extremes) for _ in range(n)]
            if dtype == "uint8":
                vals = [v % 256 for v in vals]
        else:
            flavor = self.weighted([(35, "nice"), (35, "generic"), (20, "special"), (10, "extreme")])
            base = FLOAT_GENERIC if flavor == "generic" else FLOAT_NICE
            rare = FLOAT_SPECIAL if flavor == "special" else FLOAT_EXTREME
            vals = [self.choice(base) if flavor in ("nice", "generic") or not self.chance(35) else self.choice(rare)
                    for _ in range(n)]
        with np.errstate(all="ignore"):
            return np.array(vals, dtype=np.float64 if dtype in FLOATS else object).astype(dtype).reshape(shape)

    def scalar(self, kinds="ifb"):
        """A Python scalar: i(nt), f(loat), b(ool)."""
        pool = [v for v in SCALARS if ("b" in kinds and isinstance(v, bool))
                or ("i" in kinds and type(v) is int) or ("f" in kinds and isinstance(v, float))]
        return self.choice(pool)

    def dim(self, ndim, oob=4):
        n = max(ndim, 1)
        if self.chance(oob):
            return self.choice([n, -n - 1, 5])
        return self.int(-n, n - 1)

    def dims(self, ndim, oob=4):
        """A dim argument of a reduction: None, an int, a tuple or a list (maybe empty or repeated)."""
        kind = self.weighted([(30, "int"), (20, "none"), (15, "tuple"), (3, "list"), (2, "empty"), (2, "repeat")])
        if kind == "none":
            return None
        if kind == "int":
            return self.dim(ndim, oob)
        if kind == "empty":
            return ()
        k = self.int(1, max(1, ndim))
        ds = [self.dim(ndim, oob) for _ in range(k)]
        if kind == "repeat":
            ds = ds + ds[:1]
        return ds if kind == "list" else tuple(ds)

    def broadcast_shape(self, shape):
        """A shape broadcastable with ``shape`` (dims dropped, set to 1, rarely incompatible)."""
        shape = list(shape)
        if self.chance(3):
            return self.shape_()
        if shape and self.chance(35):
            shape = shape[self.int(0, len(shape)):]
        shape = [1 if self.chance(25) else s for s in shape]
        if self.chance(10) and len(shape) < 4:
            shape = [self.choice([1, 2])] + shape
        return tuple(shape)

    def operand(self, x, kinds="tsz"):
        """The other operand of a binary op with ``x``: a broadcastable (t)ensor, a Python (s)calar or a 0-d
        tensor (z)."""
        kind = self.weighted([(w, k) for w, k in ((55, "t"), (30, "s"), (15, "z")) if k in kinds])
        if kind == "s":
            return self.scalar()
        if kind == "z":
            return self.tensor(lambda y: self.ndim(y.i) == 0, new=50, shape=())
        shape = self.broadcast_shape(self.shape(x))
        return self.tensor(lambda y: self.shape(y) == shape or self.shape(y) == self.shape(x), shape=shape)

    def index_lit(self, size, shape, dtype="int64"):
        vals = [self.int(-size, size - 1) if size and not self.chance(3) else self.choice([size, -size - 1, 0])
                for _ in range(math.prod(shape))]
        return Lit(np.array(vals, dtype=np.int64).astype(dtype).reshape(shape), dtype)

    def mask_lit(self, shape):
        return Lit(np.array([self.chance(50) for _ in range(math.prod(shape))], dtype=bool).reshape(shape), "bool")


class Stop(Exception):
    """The program stopped (a discrepancy while making a leaf): generation ends."""


@dataclass
class Spec:
    name: str
    gen: object
    covers: tuple
    weight: int = 1


SPECS: list[Spec] = []


def spec(name, covers, weight=1):
    def register(fn):
        SPECS.append(Spec(name, fn, tuple(covers), weight))
        return fn

    return register


def forms(name, fn=True, method=True, inplace=True):
    """The ways ``name`` can be called in both libraries: ('fn' | 'method' | 'inplace', name)."""
    out = []
    if fn and _both_have(name, "torch"):
        out.append(("fn", name))
    if method and _both_have(name):
        out.append(("method", name))
    if inplace and _both_have(name + "_"):
        out.append(("method", name + "_"))
    return out


def covered(fs):
    return tuple(n if k == "fn" else "Tensor." + n for k, n in fs)


def call_form(g, fs, x, *args, **kwargs):
    if not fs:
        return None
    kind, name = g.choice(fs)
    grad_mode = name.endswith("_") and g.chance(20)
    call = Call(kind, name, (x, *args), kwargs)
    return _no_grad(call) if grad_mode else call


def _no_grad(call):
    call.kwargs = dict(call.kwargs)
    call.no_grad = True
    return call


def inplace_target(g, pred=None):
    """A tensor to write into: preferably not a leaf that requires grad (that always raises)."""
    return g.tensor(lambda x: (not g.rg(x) or not _is_leaf(g.r.there[x.i])) and (pred is None or pred(x)), new=15)


def _is_leaf(t):
    try:
        return t.is_leaf
    except RuntimeError:  # PyTorch: a view of split() whose base was written refuses to say
        return False


# ---------------------------------------------------------------------- leaves and copies
@spec("leaf", ["tensor"], weight=6)
def _leaf(g):
    return None if g.leaf() is None else None


@spec("nonleaf", ["Tensor.clone", "Tensor.detach", "Tensor.contiguous"], weight=6)
def _nonleaf(g):
    x = g.float_tensor(lambda y: g.rg(y) and _is_leaf(g.r.there[y.i]), rg=True)
    how = g.choice(["*1", "clone", "+0", "detach", "contiguous"])
    if how == "*1":
        return Call("op", "*", (x, 1))
    if how == "+0":
        return Call("op", "+", (x, 0.0))
    return Call("method", how, (x,))


# ---------------------------------------------------------------------- elementwise
UNARY = ["abs", "absolute", "neg", "negative", "positive", "reciprocal", "square", "sqrt", "rsqrt", "exp", "exp2",
         "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "sinh", "cosh", "asin", "arcsin", "acos",
         "arccos", "atan", "arctan", "tanh", "sigmoid", "relu", "erf", "erfc", "floor", "ceil", "round", "trunc",
         "fix", "frac", "sign", "sgn", "logical_not", "bitwise_not", "isnan", "isinf", "isfinite", "isposinf",
         "isneginf", "deg2rad", "rad2deg"]


def _unary_spec(name):
    fs = forms(name)

    def gen(g):
        inplace = g.chance(30) and any(n.endswith("_") for _, n in fs)
        x = inplace_target(g) if inplace else g.tensor()
        choices = [f for f in fs if f[1].endswith("_") == inplace] or fs
        kw = {}
        if name == "round" and g.chance(30):
            kw["decimals"] = g.choice([1, 2, -1, 0])
        return call_form(g, choices, x, **kw)

    spec("unary:" + name, covered(fs), weight=1)(gen)


for _n in UNARY:
    _unary_spec(_n)


@spec("unop", ["-x", "+x", "~x", "abs(x)"], weight=2)
def _unop(g):
    return Call("unop", g.choice(["-x", "+x", "~x", "abs(x)"]), (g.tensor(),))


BINARY = {"add": "+", "sub": "-", "subtract": None, "mul": "*", "multiply": None, "div": "/", "divide": None,
          "true_divide": None, "floor_divide": "//", "remainder": "%", "fmod": None, "pow": "**", "atan2": None,
          "arctan2": None, "maximum": None, "minimum": None, "eq": "==", "ne": "!=", "lt": "<", "le": "<=",
          "gt": ">", "ge": ">=", "greater": None, "less": None, "greater_equal": None, "less_equal": None,
          "not_equal": None, "logical_and": None, "logical_or": None, "logical_xor": None, "bitwise_and": "&",
          "bitwise_or": "|", "bitwise_xor": "^", "rsub": None}
_NO_IOP = {"==", "!=", "<", "<=", ">", ">="}


def _binary_spec(name, symbol):
    fs = forms(name)
    covers = list(covered(fs))
    if symbol:
        covers += [symbol, "r" + symbol] + ([symbol + "="] if symbol not in _NO_IOP else [])

    def gen(g):
        form = g.weighted([(40, "call"), (25, "op"), (12, "rop"), (23, "inplace")])
        if form in ("op", "rop", "inplace") and not symbol:
            form = "call"
        if form == "inplace":
            x = inplace_target(g)
            y = g.operand(x)
            if g.chance(50) and any(n.endswith("_") for _, n in fs):
                return call_form(g, [f for f in fs if f[1].endswith("_")], x, y, **_binary_kwargs(g, name))
            if symbol in _NO_IOP:
                return Call("op", symbol, (x, y))
            call = Call("iop", symbol + "=", (x, y))
            return _no_grad(call) if g.chance(20) else call
        x = g.tensor()
        y = g.operand(x)
        if form == "op":
            return Call("op", symbol, (x, y))
        if form == "rop":
            return Call("op", symbol, (g.scalar(), x))
        plain = [f for f in fs if not f[1].endswith("_")]
        if not plain:
            return None
        if g.chance(5):  # a Python scalar first: some functions take it (pow(2, t)), some refuse
            x, y = g.scalar(), x
            plain = [f for f in plain if f[0] == "fn"] or plain
        return call_form(g, plain, x, y, **_binary_kwargs(g, name))

    spec("binary:" + name, covers, weight=3 if name in ("add", "mul", "div", "sub", "pow") else 1)(gen)


def _binary_kwargs(g, name):
    if name in ("add", "sub", "subtract", "rsub") and g.chance(30):
        return {"alpha": g.scalar()}
    if name in ("div", "divide", "true_divide") and g.chance(35):
        return {"rounding_mode": g.choice(["trunc", "floor", None])}
    return {}


for _n, _s in BINARY.items():
    _binary_spec(_n, _s)


@spec("Tensor.rsub", ["Tensor.rsub"], weight=1)
def _rsub_method(g):
    x = g.tensor()
    return Call("method", "rsub", (x, g.operand(x)))


@spec("lerp", covered(forms("lerp")), weight=1)
def _lerp(g):
    x = g.float_tensor()
    end = g.operand(x, "tz")
    w = g.scalar("f") if g.chance(50) else g.operand(x, "tz")
    fs = forms("lerp")
    if g.chance(30):
        x = inplace_target(g, lambda y: g.dtype(y) in FLOATS)
        return call_form(g, [f for f in fs if f[1] == "lerp_"], x, end, w)
    return call_form(g, [f for f in fs if f[1] != "lerp_"], x, end, w)


@spec("clamp", covered(forms("clamp") + forms("clip") + forms("clamp_min") + forms("clamp_max")), weight=3)
def _clamp(g):
    name = g.choice(["clamp", "clip", "clamp_min", "clamp_max"])
    inplace = g.chance(30)
    x = inplace_target(g) if inplace else g.tensor()

    def bound():
        k = g.weighted([(50, "s"), (25, "t"), (25, "none")]) if name in ("clamp", "clip") else g.choice("st")
        if k == "none":
            return None
        if k == "s":
            return g.scalar()
        return g.operand(x, "tz")

    args = [bound()] if name in ("clamp_min", "clamp_max") else [bound(), bound()]
    kw = {}
    if name in ("clamp", "clip") and g.chance(30):
        kw = {"min": args[0], "max": args[1]}
        args = []
    return call_form(g, [f for f in forms(name) if f[1].endswith("_") == inplace], x, *args, **kw)


@spec("where", ["where", "Tensor.where"], weight=3)
def _where(g):
    x = g.tensor()
    shape = g.broadcast_shape(g.shape(x))
    cond = g.tensor(lambda c: g.dtype(c) == "bool" and g.shape(c) == shape, dtype="bool", shape=shape) \
        if not g.chance(5) else g.tensor(shape=shape)
    if g.chance(8):
        return Call("fn", "where", (cond,))
    y = g.operand(x)
    if g.chance(15):
        x = g.scalar()
    if g.chance(20) and not isinstance(x, (int, float)):
        return Call("method", "where", (x, cond, y))
    return Call("fn", "where", (cond, x, y))


@spec("isclose", ["isclose", "Tensor.isclose", "allclose", "Tensor.allclose", "equal", "Tensor.equal"], weight=1)
def _isclose(g):
    name = g.choice(["isclose", "allclose", "equal"])
    x = g.tensor()
    y = g.operand(x, "tz") if name != "equal" or g.chance(80) else g.tensor(lambda y: g.shape(y) == g.shape(x))
    kw = {}
    if name != "equal":
        if g.chance(40):
            kw["rtol"] = g.choice([0.0, 1e-3, 0.5])
        if g.chance(40):
            kw["atol"] = g.choice([0.0, 1e-3, 1.0])
        if g.chance(40):
            kw["equal_nan"] = g.chance(50)
    return call_form(g, forms(name, inplace=False), x, y, **kw)


# ---------------------------------------------------------------------- reductions
def _red(name, dim=True, keepdim=True, dtype=False, correction=False, unbiased=False):
    fs = forms(name, inplace=False)

    def gen(g):
        x = g.tensor()
        nd = g.ndim(x.i)
        args, kw = [], {}
        if dim and g.chance(75):
            d = g.dims(nd) if name not in ("argmax", "argmin", "median", "cumsum", "cumprod", "count_nonzero",
                                           "logsumexp") else g.dim(nd)
            if name in ("count_nonzero", "logsumexp") and g.chance(30):
                d = g.dims(nd)
            if name in ("cumsum", "cumprod") or g.chance(70):
                args.append(d)
            else:
                kw["dim"] = d
            if keepdim and g.chance(40):
                kw["keepdim"] = g.chance(50)
        elif name in ("cumsum", "cumprod"):
            kw["dim"] = g.dim(nd)
        if dtype and g.chance(30):
            kw["dtype"] = DT(g.dtype_())
        if correction and g.chance(40):
            kw["correction"] = g.choice([0, 1, 2, 0.5, 5])
        elif unbiased and g.chance(25) and args:
            kw["unbiased"] = g.chance(50)
        return call_form(g, fs, x, *args, **kw)

    spec("reduce:" + name, covered(fs), weight=2)(gen)


for _n in ["sum", "mean", "prod", "nansum"]:
    if _both_have(_n, "torch") and hasattr(tg, _n):
        _red(_n, dtype=True)
for _n in ["var", "std", "var_mean", "std_mean"]:
    _red(_n, correction=True, unbiased=True)
for _n in ["amax", "amin", "logsumexp", "all", "any", "count_nonzero"]:
    _red(_n)
for _n in ["argmax", "argmin"]:
    _red(_n)
for _n in ["cumsum", "cumprod"]:
    _red(_n, keepdim=False, dtype=True)


@spec("max/min", covered(forms("max", inplace=False) + forms("min", inplace=False)), weight=3)
def _maxmin(g):
    name = g.choice(["max", "min"])
    x = g.tensor()
    how = g.weighted([(35, "all"), (45, "dim"), (20, "other")])
    if how == "all":
        return call_form(g, forms(name, inplace=False), x)
    if how == "other":
        return call_form(g, forms(name, inplace=False), x, g.operand(x, "tz"))
    kw = {"keepdim": g.chance(50)} if g.chance(40) else {}
    return call_form(g, forms(name, inplace=False), x, g.dim(g.ndim(x.i)), **kw)


@spec("median", covered(forms("median", inplace=False)), weight=1)
def _median(g):
    x = g.tensor()
    if g.chance(50):
        return call_form(g, forms("median", inplace=False), x)
    d = g.dim(g.ndim(x.i))
    kw = {"keepdim": g.chance(50)} if g.chance(40) else {}
    c = call_form(g, forms("median", inplace=False), x, d, **kw)
    c.ties = d
    return c


@spec("norm", covered(forms("norm", inplace=False)), weight=1)
def _norm(g):
    x = g.tensor()
    args, kw = [], {}
    if g.chance(70):
        args.append(g.choice([2, 1, inf, -inf, 0, "fro", 3, 0.5, -1]))
    if g.chance(50):
        kw["dim"] = g.dims(g.ndim(x.i))
        if g.chance(40):
            kw["keepdim"] = g.chance(50)
    if g.chance(15):
        kw["dtype"] = DT(g.choice(FLOATS))
    return call_form(g, forms("norm", inplace=False), x, *args, **kw)


# ---------------------------------------------------------------------- shape
def _shape_fs(name):
    return forms(name, inplace=False)


@spec("reshape/view", covered(_shape_fs("reshape") + _shape_fs("view") + _shape_fs("flatten")
                               + _shape_fs("unflatten")) + ("Tensor.view_as", "Tensor.reshape_as"), weight=4)
def _reshape(g):
    x = g.tensor()
    shape = g.shape(x)
    n = math.prod(shape)
    name = g.weighted([(35, "reshape"), (35, "view"), (15, "flatten"), (8, "unflatten"), (7, "as")])
    if name == "flatten":
        nd = len(shape)
        args = [g.dim(nd)] if g.chance(50) else []
        if args and g.chance(50):
            args.append(g.dim(nd))
        return call_form(g, _shape_fs("flatten"), x, *args)
    if name == "unflatten":
        d = g.dim(len(shape))
        size = shape[d] if shape and -len(shape) <= d < len(shape) else 1
        sizes = g.choice([(size,), (1, size), (-1, 1), (size, 1), (2, -1), (-1,)])
        return call_form(g, _shape_fs("unflatten"), x, d, sizes)
    if name == "as":
        other = g.tensor(lambda y: math.prod(g.shape(y)) == n)
        return Call("method", g.choice(["view_as", "reshape_as"]), (x, other))
    # a target shape with the same number of elements
    if g.chance(8):
        target = list(g.shape_())
    else:
        target = _factor(g, n)
    if target and g.chance(25):
        target[g.int(0, len(target) - 1)] = -1
    style = g.weighted([(50, "star"), (35, "tuple"), (10, "size"), (5, "list")])
    if style == "star":
        args = tuple(target)
    elif style == "tuple":
        args = (tuple(target),)
    elif style == "list":
        args = (list(target),)
    else:
        args = (Shape(tuple(target)),)
    if name == "view" and g.chance(10):
        return Call("method", "view", (x, DT(g.dtype_())))
    fs = [f for f in _shape_fs(name) if f[0] == "method" or style != "star"]
    return call_form(g, fs, x, *args)


def _factor(g, n):
    """A random shape with ``n`` elements."""
    if n == 0:
        return g.choice([[0], [0, 2], [2, 0], [0, 0], [-1, 0], [3, 0, 1]])
    out, rest = [], n
    for _ in range(g.int(0, 3)):
        divs = [d for d in range(1, rest + 1) if rest % d == 0]
        d = g.choice(divs)
        out.append(d)
        rest //= d
    return out + [rest] if rest != 1 or not out or g.chance(50) else out


@spec("unsqueeze/squeeze", covered(_shape_fs("unsqueeze") + forms("unsqueeze", fn=False, method=False)
                                   + _shape_fs("squeeze") + forms("squeeze", fn=False, method=False)), weight=3)
def _squeeze(g):
    name = g.choice(["unsqueeze", "squeeze"])
    inplace = g.chance(15)
    x = inplace_target(g) if inplace else g.tensor()
    nd = g.ndim(x.i)
    args = []
    if name == "unsqueeze":
        args.append(g.dim(nd + 1))
    elif g.chance(60):
        args.append(g.dims(nd) if g.chance(30) else g.dim(nd))
    fs = [f for f in forms(name) if f[1].endswith("_") == inplace]
    return call_form(g, fs, x, *args)


@spec("transpose", covered(_shape_fs("transpose") + _shape_fs("swapaxes") + _shape_fs("swapdims")
                           + forms("transpose", fn=False, method=False) + forms("swapaxes", fn=False, method=False)
                           + forms("swapdims", fn=False, method=False) + forms("t") + _shape_fs("adjoint")
                           + _shape_fs("movedim") + _shape_fs("moveaxis"))
      + ("Tensor.T", "Tensor.mT", "Tensor.H", "Tensor.mH"), weight=4)
def _transpose(g):
    name = g.choice(["transpose", "swapaxes", "swapdims", "t", "adjoint", "movedim", "moveaxis", "T", "mT", "H",
                     "mH", "transpose_", "t_", "swapaxes_", "swapdims_"])
    inplace = name.endswith("_")
    x = inplace_target(g) if inplace else g.tensor()
    nd = g.ndim(x.i)
    if name in ("T", "mT", "H", "mH"):
        return Call("attr", name, (x,))
    if name in ("t", "adjoint", "t_"):
        return call_form(g, [f for f in forms(name.rstrip("_"), inplace=inplace)
                             if f[1].endswith("_") == inplace], x)
    if name.startswith("move"):
        k = g.int(1, max(1, nd))
        src = [g.dim(nd) for _ in range(k)]
        dst = [g.dim(nd) for _ in range(k)]
        if k == 1 and g.chance(50):
            return call_form(g, _shape_fs(name), x, src[0], dst[0])
        return call_form(g, _shape_fs(name), x, tuple(src), tuple(dst))
    return call_form(g, [f for f in forms(name.rstrip("_"), fn=not inplace) if f[1].endswith("_") == inplace], x,
                     g.dim(nd), g.dim(nd))


@spec("permute", covered(_shape_fs("permute")), weight=2)
def _permute(g):
    x = g.tensor()
    nd = g.ndim(x.i)
    dims = list(range(nd))
    for i in range(nd - 1, 0, -1):
        j = g.int(0, i)
        dims[i], dims[j] = dims[j], dims[i]
    dims = [d - nd if g.chance(20) else d for d in dims]
    if g.chance(8):
        dims = dims[:-1] if dims else [0]
    if g.chance(4):
        dims = []
    style = g.choice(["star", "tuple", "list"])
    if style == "star":
        return Call("method", "permute", (x, *dims))
    return call_form(g, _shape_fs("permute"), x, tuple(dims) if style == "tuple" else dims)


@spec("expand", covered(_shape_fs("expand") + _shape_fs("expand_as") + _shape_fs("broadcast_to")), weight=3)
def _expand(g):
    x = g.tensor()
    shape = list(g.shape(x))
    target = [s if s != 1 or g.chance(50) else g.choice([2, 3, 0]) for s in shape]
    if g.chance(30):
        target = [g.choice([2, 1])] + target
    if target and g.chance(20):
        target[g.int(0, len(target) - 1)] = -1
    name = g.choice(["expand", "expand", "broadcast_to", "expand_as"])
    if name == "expand_as":
        return Call("method", "expand_as", (x, g.tensor(shape=tuple(abs(t) for t in target))))
    if name == "broadcast_to":
        return call_form(g, _shape_fs(name), x, tuple(target))
    return Call("method", "expand", (x, *target) if g.chance(60) else (x, tuple(target)))


@spec("broadcast_tensors", covered(_shape_fs("broadcast_tensors")) + ("broadcast_shapes",), weight=1)
def _broadcast_tensors(g):
    x = g.tensor()
    y = g.operand(x, "tz")
    if g.chance(25):
        return Call("fn", "broadcast_shapes", (g.shape(x), g.shape(y)))
    return Call("fn", "broadcast_tensors", (x, y))


@spec("meshgrid", covered(_shape_fs("meshgrid")), weight=1)
def _meshgrid(g):
    parts = [g.tensor(lambda y: g.ndim(y.i) <= 1, shape=(g.size_(),)) for _ in range(g.int(1, 3))]
    kw = {"indexing": g.choice(["ij", "xy"])} if g.chance(80) else {}
    return Call("fn", "meshgrid", tuple(parts) if g.chance(70) else (parts,), kw)


@spec("repeat/tile", covered(_shape_fs("repeat") + _shape_fs("tile")), weight=1)
def _repeat(g):
    x = g.tensor()
    nd = g.ndim(x.i)
    k = max(nd + g.int(-1, 1), 0) if g.chance(90) else 0
    reps = [g.choice([1, 2, 0, 3]) for _ in range(k)]
    if g.choice(["repeat", "tile"]) == "repeat":
        return Call("method", "repeat", (x, *reps) if g.chance(60) else (x, tuple(reps)))
    return call_form(g, _shape_fs("tile"), x, tuple(reps))


@spec("cat/stack", covered(_shape_fs("cat") + _shape_fs("concat") + _shape_fs("concatenate") + _shape_fs("stack")
                           + _shape_fs("hstack") + _shape_fs("vstack")), weight=4)
def _cat(g):
    name = g.choice(["cat", "concat", "concatenate", "stack", "hstack", "vstack", "cat", "stack"])
    x = g.tensor()
    shape = g.shape(x)
    nd = len(shape)
    d = g.dim(nd + (name == "stack"))
    parts = [x]
    for _ in range(g.int(0, 2)):
        if g.chance(10):
            parts.append(g.tensor(shape=(0,)))  # PyTorch's legacy: an empty 1-d tensor joins anything
            continue
        s = list(shape)
        if name in ("cat", "concat", "concatenate") and s and -nd <= d < nd and g.chance(60):
            s[d] = g.choice([0, 1, 2])
        if g.chance(5):
            s = list(g.shape_())
        parts.append(g.tensor(lambda y, s=tuple(s): g.shape(y) == s, shape=tuple(s)))
    if g.chance(10):
        parts.append(g.tensor(lambda y: g.ndim(y.i) == 0, shape=()))
    seq = parts if g.chance(70) else tuple(parts)
    if name in ("hstack", "vstack"):
        return Call("fn", name, (seq,))
    if g.chance(30):
        return Call("fn", name, (seq,))
    return Call("fn", name, (seq,), {"dim": d}) if g.chance(30) else Call("fn", name, (seq, d))


def _sections(g, size):
    """Random section sizes for split: up to four that add up to ``size`` (one in ten is one too many)."""
    sections, left = [], size
    while left > 0 and len(sections) < 3:
        k = g.int(0, left)
        sections.append(k)
        left -= k
    sections.append(left)
    if g.chance(10):
        sections[-1] += 1
    return sections


@spec("split/chunk/unbind", covered(_shape_fs("split") + _shape_fs("chunk") + _shape_fs("unbind")), weight=3)
def _split(g):
    name = g.choice(["split", "chunk", "unbind"])
    x = g.tensor()
    nd = g.ndim(x.i)
    d = g.dim(nd)
    if name == "unbind":
        return call_form(g, _shape_fs(name), x, *([d] if g.chance(70) else []))
    size = g.shape(x)[d] if -nd <= d < nd and nd else 0
    if name == "chunk":
        return call_form(g, _shape_fs(name), x, g.choice([1, 2, 3, 4, 0, -1]), d)
    if g.chance(40):
        return call_form(g, _shape_fs(name), x, _sections(g, size), d)
    return call_form(g, _shape_fs(name), x, g.choice([1, 2, 3, 0, 5]), d)


@spec("tensor_split/unfold", covered(_shape_fs("tensor_split")) + ("Tensor.unfold",), weight=2)
def _tensor_split(g):
    x = g.tensor()
    nd = g.ndim(x.i)
    d = g.dim(nd)
    size = g.shape(x)[d] if -nd <= d < nd and nd else 1
    if g.chance(40):
        return Call("method", "unfold", (x, d, g.int(0, size + 1), g.choice([1, 2, 3, 0])))
    if g.chance(50):
        return call_form(g, _shape_fs("tensor_split"), x, g.choice([1, 2, 3, 4, 0]), d)
    cuts = [g.int(-size - 1, size + 1) for _ in range(g.int(0, 3))]
    return call_form(g, _shape_fs("tensor_split"), x, cuts, d)


@spec("select/narrow", covered(_shape_fs("select") + _shape_fs("narrow")), weight=3)
def _select(g):
    x = g.tensor()
    nd = g.ndim(x.i)
    d = g.dim(nd)
    size = g.shape(x)[d] if -nd <= d < nd and nd else 1
    if g.chance(50):
        return call_form(g, _shape_fs("select"), x, d, g.int(-size - 1, size) if size else g.choice([0, -1]))
    start = g.int(-size, size) if size else 0
    length = g.int(0, max(0, size - (start % size if size else 0))) if size else 0
    if g.chance(5):
        length = size + 1
    return call_form(g, _shape_fs("narrow"), x, d, start, length)


@spec("flip/roll", covered(_shape_fs("flip") + _shape_fs("fliplr") + _shape_fs("flipud") + _shape_fs("roll")),
      weight=2)
def _flip(g):
    name = g.choice(["flip", "fliplr", "flipud", "roll"])
    x = g.tensor()
    nd = g.ndim(x.i)
    if name in ("fliplr", "flipud"):
        return call_form(g, _shape_fs(name), x)
    if name == "flip":
        dims = [g.dim(nd) for _ in range(g.int(0, max(nd, 1)))]
        return Call("method", "flip", (x, *dims)) if g.chance(40) else call_form(g, _shape_fs(name), x, dims)
    if g.chance(40):
        return call_form(g, _shape_fs(name), x, g.int(-3, 3))
    k = g.int(1, max(nd, 1))
    shifts = [g.int(-3, 3) for _ in range(k)]
    dims = [g.dim(nd) for _ in range(k)]
    if k == 1 and g.chance(50):
        return call_form(g, _shape_fs(name), x, shifts[0], dims[0])
    return call_form(g, _shape_fs(name), x, tuple(shifts), tuple(dims))


@spec("tril/triu/diag", covered(forms("tril") + forms("triu") + _shape_fs("diagonal") + _shape_fs("diag")), weight=3)
def _tri(g):
    name = g.choice(["tril", "triu", "diagonal", "diag", "diagonal"])
    inplace = name in ("tril", "triu") and g.chance(30)
    x = inplace_target(g) if inplace else g.tensor()
    nd = g.ndim(x.i)
    off = g.int(-2, 2)
    if name == "diagonal":
        kw = {}
        if g.chance(40):
            kw = {"dim1": g.dim(nd), "dim2": g.dim(nd)}
        return call_form(g, _shape_fs(name), x, off, **kw) if g.chance(70) else call_form(g, _shape_fs(name), x)
    fs = [f for f in forms(name) if f[1].endswith("_") == inplace]
    return call_form(g, fs, x, off) if g.chance(70) else call_form(g, fs, x)


# ---------------------------------------------------------------------- indexing
def gen_key(g, shape):
    """A random index for a tensor of ``shape``: ints, slices, None, Ellipsis, bool masks, index tensors, lists,
    ranges, Python bools, 0-d tensors, mixed."""
    nd = len(shape)
    kinds = []
    n_items = g.int(1, min(nd + 1, 4)) if nd else g.int(1, 2)
    for _ in range(n_items):
        k = g.weighted([(25, "int"), (25, "slice"), (7, "none"), (6, "ellipsis"), (15, "tensor"), (8, "list"),
                        (7, "mask"), (2, "bool"), (2, "range"), (3, "zerod")])
        if k == "ellipsis" and "ellipsis" in kinds:
            k = "slice"
        kinds.append(k)
    consumes = [0 if k in ("none", "ellipsis", "bool") else (g.int(1, 2) if k == "mask" else 1) for k in kinds]
    # the dims each item reads: items after an Ellipsis read the trailing dims
    starts, pos = [], 0
    if "ellipsis" in kinds:
        e = kinds.index("ellipsis")
        after = sum(consumes[e + 1:])
        for i, c in enumerate(consumes):
            if i == e:
                pos = max(nd - after, pos)
            starts.append(pos)
            pos += c
    else:
        for c in consumes:
            starts.append(pos)
            pos += c

    def size(d):
        return shape[d] if 0 <= d < nd else 2

    items = []
    for k, c, s in zip(kinds, consumes, starts):
        n = size(s)
        if k == "int":
            items.append(g.int(-n, n - 1) if n and not g.chance(4) else g.choice([n, -n - 1]))
        elif k == "slice":
            pts = [None, 0, 1, -1, 2, n, 5, -10]
            step = g.weighted([(60, None), (20, 1), (12, 2), (5, 3), (3, -1)])
            items.append(slice(g.choice(pts), g.choice(pts), step))
        elif k == "none":
            items.append(None)
        elif k == "ellipsis":
            items.append(Ellipsis)
        elif k == "bool":
            items.append(g.chance(70))
        elif k == "range":
            a = g.int(0, max(n - 1, 0))
            items.append(range(a, g.int(a, n)))
        elif k == "zerod":
            items.append(Lit(np.array(g.int(-n, n - 1) if n else 0), "int64"))
        elif k == "list":
            form = g.weighted([(60, "ints"), (15, "nested"), (10, "empty"), (15, "bools")])
            if form == "bools":
                items.append([g.chance(50) for _ in range(n)])
            elif form == "empty" or not n:
                items.append([])
            elif form == "nested":
                items.append([[g.int(-n, n - 1) for _ in range(2)] for _ in range(g.int(1, 2))])
            else:
                items.append([g.int(-n, n - 1) for _ in range(g.int(1, 3))])
        elif k == "tensor":
            ishape = g.weighted([(50, (g.int(0, 3),)), (20, (g.int(1, 2), g.int(1, 2))), (10, ()), (5, (0, 2))])
            dt = g.weighted([(85, "int64"), (8, "int32"), (3, "uint8"), (2, "int16"), (2, "float32")])
            if dt == "uint8":
                items.append(Lit(np.array([g.chance(50) for _ in range(n)], dtype=np.uint8), "uint8"))
            elif dt == "float32":
                items.append(Lit(np.zeros(ishape, dtype=np.float32), "float32"))
            else:
                items.append(g.index_lit(n, ishape, dt))
        elif k == "mask":
            mshape = tuple(size(s + j) for j in range(c))
            if g.chance(5):
                mshape = mshape[:-1] + (mshape[-1] + 1,)
            items.append(g.mask_lit(mshape))
    if len(items) == 1 and g.chance(70):
        return items[0]
    return tuple(items)


def _probe_shape(g, x, key):
    """The shape PyTorch gives ``x[key]`` (None if it raises): what a value written there must broadcast to."""
    from .core import _resolve

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuple(_resolve(Ref(x.i), torch, g.r.there).detach()[_resolve(key, torch, g.r.there)].shape)
    except Exception:  # noqa: BLE001
        return None


@spec("getitem", ["[]"], weight=10)
def _getitem(g):
    x = g.tensor()
    return Call("getitem", "", (x, gen_key(g, g.shape(x))))


@spec("setitem", ["[]="], weight=8)
def _setitem(g):
    x = inplace_target(g)
    key = gen_key(g, g.shape(x))
    target = _probe_shape(g, x, key)
    kind = g.weighted([(35, "scalar"), (55, "tensor"), (10, "zerod")])
    if kind == "scalar" or target is None:
        value = g.scalar()
    elif kind == "zerod":
        value = g.tensor(lambda y: g.ndim(y.i) == 0, shape=())
    else:
        shape = g.broadcast_shape(target)
        same = g.dtype(x) if g.chance(75) else None
        value = g.tensor(lambda y: g.shape(y) == shape and (same is None or g.dtype(y) == same), shape=shape,
                         dtype=same)
    call = Call("setitem", "", (x, key, value))
    return _no_grad(call) if g.chance(20) else call


@spec("index_put", covered(forms("index_put")), weight=2)
def _index_put(g):
    inplace = g.chance(40)
    x = inplace_target(g) if inplace else g.tensor()
    shape = g.shape(x)
    if not shape:
        return None
    ishape = g.choice([(g.int(0, 3),), (), (2, 1)])
    if g.chance(15):
        indices = (g.mask_lit(shape[:1]),)  # one bool mask over the first dim
    else:
        indices = tuple(g.index_lit(n, ishape) for n in shape[:g.int(1, len(shape))])
    target = _probe_shape(g, x, indices)
    if target is None or g.chance(20):
        value = g.tensor(lambda y: g.ndim(y.i) == 0, shape=())
    else:
        vshape = g.broadcast_shape(target)
        same = g.dtype(x)
        value = g.tensor(lambda y: g.shape(y) == vshape and g.dtype(y) == same, shape=vshape, dtype=same)
    fs = [f for f in forms("index_put") if f[1].endswith("_") == inplace] or forms("index_put")
    kw = {"accumulate": True} if g.chance(30) else {}
    return call_form(g, fs, x, indices, value, **kw)


@spec("gather/scatter", covered(forms("gather") + forms("scatter") + forms("scatter_add") + forms("take_along_dim")),
      weight=4)
def _gather(g):
    name = g.choice(["gather", "scatter", "scatter_add", "take_along_dim", "gather", "scatter_"])
    inplace = name.endswith("_") or (name != "gather" and name != "take_along_dim" and g.chance(30))
    x = inplace_target(g) if inplace else g.tensor()
    shape = g.shape(x)
    nd = len(shape)
    d = g.dim(nd)
    dd = d % max(nd, 1)
    # an index of the same rank, no larger than x except along d (or an empty lower-rank index)
    if g.chance(8):
        ishape = g.choice([(0,), (0, 2), ()])
    else:
        ishape = tuple(g.int(0, s) if i != dd else g.int(0, 3) for i, s in enumerate(shape))
    n = shape[dd] if nd else 1
    index = g.index_lit(n, ishape)
    if index.array.size and n:
        index = Lit(np.where(index.array < 0, index.array + n, index.array) % n if not g.chance(5) else index.array,
                    "int64")
    if name == "gather":
        return call_form(g, forms("gather", inplace=False), x, d, index)
    if name == "take_along_dim":
        return call_form(g, forms("take_along_dim", inplace=False), x, index, d) if g.chance(80) \
            else call_form(g, forms("take_along_dim", inplace=False), x, index)
    base = name.rstrip("_")
    fs = [f for f in forms(base) if f[1].endswith("_") == inplace]
    if base == "scatter" and g.chance(35):
        kw = {"reduce": g.choice(["add", "multiply"])} if g.chance(25) else {}
        return call_form(g, fs, x, d, index, g.scalar(), **kw)
    src_shape = tuple(s + g.int(0, 1) for s in ishape) if g.chance(30) else ishape
    src = g.tensor(lambda y: g.shape(y) == src_shape and g.dtype(y) == g.dtype(x), shape=src_shape,
                   dtype=g.dtype(x) if g.chance(85) else None)
    return call_form(g, fs, x, d, index, src)


@spec("index_select/index_add", covered(forms("index_select") + forms("index_add") + forms("index_fill")
                                        + forms("index_copy")), weight=2)
def _index_select(g):
    name = g.choice(["index_select", "index_add", "index_add_", "index_fill", "index_copy"])
    inplace = name.endswith("_") or (name != "index_select" and g.chance(30))
    x = inplace_target(g) if inplace else g.tensor()
    shape = g.shape(x)
    nd = len(shape)
    d = g.dim(nd)
    n = shape[d % nd] if nd and -nd <= d < nd else 1
    index = g.index_lit(n, g.choice([(g.int(0, 3),), (), (2, 1)]))
    if index.array.size and n:
        index = Lit(np.mod(index.array, n), "int64") if not g.chance(5) else index
    base = name.rstrip("_")
    fs = [f for f in forms(base) if f[1].endswith("_") == inplace]
    if not fs:
        return None
    if base == "index_select":
        return call_form(g, fs, x, d, index)
    if base == "index_fill":
        return call_form(g, fs, x, d, index, g.scalar())
    src_shape = list(shape)
    if nd and -nd <= d < nd:
        src_shape[d] = index.array.size
    src = g.tensor(lambda y: g.shape(y) == tuple(src_shape) and g.dtype(y) == g.dtype(x), shape=tuple(src_shape),
                   dtype=g.dtype(x) if g.chance(85) else None)
    kw = {"alpha": g.scalar()} if base == "index_add" and g.chance(30) else {}
    return call_form(g, fs, x, d, index, src, **kw)


@spec("masked", covered(forms("masked_fill") + forms("masked_select") + forms("masked_scatter")), weight=3)
def _masked(g):
    name = g.choice(["masked_fill", "masked_fill", "masked_select", "masked_scatter"])
    inplace = name != "masked_select" and g.chance(40)
    x = inplace_target(g) if inplace else g.tensor()
    mshape = g.broadcast_shape(g.shape(x))
    mask = g.mask_lit(mshape) if g.chance(60) else g.tensor(lambda y: g.dtype(y) == "bool" and g.shape(y) == mshape,
                                                             dtype="bool", shape=mshape)
    if g.chance(4):
        mask = g.tensor(shape=mshape)
    fs = [f for f in forms(name) if f[1].endswith("_") == inplace]
    if not fs:
        return None
    if name == "masked_select":
        return call_form(g, fs, x, mask)
    if name == "masked_scatter":
        return call_form(g, fs, x, mask, g.tensor(lambda y: g.dtype(y) == g.dtype(x), shape=g.shape(x),
                                                  dtype=g.dtype(x)))
    value = g.scalar() if g.chance(70) else g.tensor(lambda y: g.ndim(y.i) == 0, shape=())
    return call_form(g, fs, x, mask, value)


@spec("take/nonzero", covered(forms("take") + forms("nonzero") + forms("argwhere")), weight=2)
def _take(g):
    name = g.choice(["take", "nonzero", "argwhere"])
    x = g.tensor()
    if name == "take":
        n = g.numel(x)
        return call_form(g, forms("take", inplace=False), x, g.index_lit(n, g.choice([(g.int(0, 3),), (), (2, 2)])))
    kw = {"as_tuple": g.chance(50)} if name == "nonzero" and g.chance(50) else {}
    return call_form(g, forms(name, inplace=False), x, **kw)


# ---------------------------------------------------------------------- linear algebra
@spec("matmul", covered(forms("matmul", inplace=False) + forms("mm", inplace=False) + forms("bmm", inplace=False)
                        + forms("mv", inplace=False) + forms("dot", inplace=False) + forms("inner", inplace=False)
                        + forms("outer", inplace=False) + forms("ger", inplace=False)) + ("@", "r@", "@="), weight=5)
def _matmul(g):
    name = g.choice(["matmul", "@", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", "matmul", "@"])
    nd = {"mm": (2, 2), "bmm": (3, 3), "mv": (2, 1), "dot": (1, 1), "outer": (1, 1), "ger": (1, 1)}.get(
        name, (g.int(1, 3), g.int(1, 3)))
    dt = g.dtype_() if g.chance(30) else g.choice(["float32", "float64"])
    k = g.size_()
    a_shape = tuple(g.size_() for _ in range(nd[0] - 1)) + (k,)
    b_shape = ((k,) + tuple(g.size_() for _ in range(nd[1] - 1))) if nd[1] > 1 else (k,)
    if nd[1] >= 2:
        b_shape = tuple(g.size_() for _ in range(nd[1] - 2)) + (k, g.size_())
    if nd[0] == 3 and nd[1] == 3:
        b_shape = (a_shape[0],) + b_shape[1:]
    if name == "inner":
        b_shape = b_shape[:-2] + (b_shape[-1], k) if len(b_shape) >= 2 else b_shape
    if name in ("outer", "ger"):
        b_shape = (g.size_(),)
    if g.chance(5):
        b_shape = g.shape_()
    a = g.tensor(lambda y: g.shape(y) == a_shape and g.dtype(y) == dt, shape=a_shape, dtype=dt)
    b = g.tensor(lambda y: g.shape(y) == b_shape and g.dtype(y) == dt, shape=b_shape,
                 dtype=dt if g.chance(92) else None)
    if name == "@":
        return Call("op", "@", (a, b))
    return call_form(g, forms(name, inplace=False), a, b)


_EINSUM = [("ij,jk->ik", 2), ("i,i->", 2), ("i->", 1), ("ij->ji", 1), ("ij->", 1), ("bij,bjk->bik", 2),
           ("ii->i", 1), ("ii", 1), ("i,j->ij", 2), ("...i,...i->...", 2), ("ij,j", 2), ("ijk->kji", 1),
           ("ij,ij->ij", 2), ("i...->...", 1)]


@spec("einsum", ["einsum"], weight=1)
def _einsum(g):
    eq, n = g.choice(_EINSUM)
    sizes = {c: g.size_() for c in "ijkb"}
    ops = []
    lhs = eq.split("->")[0].split(",")
    dt = g.choice(["float32", "float64"]) if g.chance(70) else g.dtype_()
    for term in lhs[:n]:
        if "..." in term:
            shape = tuple(g.size_() for _ in range(g.int(0, 2))) if term.startswith("...") else ()
            shape = (shape if term.startswith("...") else ()) + tuple(sizes[c] for c in term.replace("...", ""))
            if not term.startswith("..."):
                shape = tuple(sizes[c] for c in term.replace("...", "")) + tuple(g.size_() for _ in range(g.int(0, 1)))
        else:
            shape = tuple(sizes[c] for c in term)
        ops.append(g.tensor(lambda y, s=shape: g.shape(y) == s and g.dtype(y) == dt, shape=shape, dtype=dt))
    if g.chance(20):
        return Call("fn", "einsum", (eq, ops))
    return Call("fn", "einsum", (eq, *ops))


# ---------------------------------------------------------------------- convolution and pooling
@spec("conv2d", ["conv2d", "F.conv2d"], weight=2)
def _conv(g):
    groups = g.choice([1, 1, 2])
    cin = groups * g.int(1, 2)
    cout = groups * g.int(1, 2)
    kh, kw = g.int(1, 3), g.int(1, 3)
    batch = () if g.chance(20) else (g.int(0, 2),)
    hw = (g.int(1, 4), g.int(1, 4))
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    x = g.leaf(shape=batch + (cin,) + hw, dtype=dt)
    w = g.leaf(shape=(cout, cin // groups, kh, kw), dtype=dt)
    kwargs = {}
    if g.chance(50):
        kwargs["bias"] = g.leaf(shape=(cout,), dtype=dt)
    for key, opts in (("stride", [1, 2, (1, 2)]), ("padding", [0, 1, (1, 0), "same", "valid"]),
                      ("dilation", [1, 2])):
        if g.chance(35):
            kwargs[key] = g.choice(opts)
    if groups != 1:
        kwargs["groups"] = groups
    return Call("fn", g.choice(["conv2d", "nn.functional.conv2d"]), (x, w), kwargs)


@spec("pool2d", ["F.max_pool2d", "F.avg_pool2d", "F.adaptive_avg_pool2d", "max_pool2d", "avg_pool2d",
                 "adaptive_avg_pool2d"], weight=2)
def _pool(g):
    name = g.choice(["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"])
    shape = ((g.int(1, 2),) if g.chance(75) else ()) + (g.int(1, 2), g.int(1, 5), g.int(1, 5))
    x = g.float_tensor(lambda y: g.ndim(y.i) in (3, 4), shape=shape)
    where = "nn.functional." + name if g.chance(80) or not _both_have(name, "torch") else name
    if name == "adaptive_avg_pool2d":
        return Call("fn", where, (x, g.choice([1, 2, 3, (1, 2), (2, None), (3, 1)])))
    kw = {}
    k = g.choice([1, 2, 3, (2, 1)])
    if g.chance(50):
        kw["stride"] = g.choice([1, 2, (1, 2), None])
    if g.chance(50):
        kw["padding"] = g.choice([0, 1, (1, 0)])
    if g.chance(40):
        kw["ceil_mode"] = g.chance(50)
    if name == "max_pool2d":
        if g.chance(30):
            kw["dilation"] = g.choice([1, 2])
        if g.chance(20):
            kw["return_indices"] = True
    else:
        if g.chance(40):
            kw["count_include_pad"] = g.chance(50)
        if g.chance(15):
            kw["divisor_override"] = g.choice([1, 3])
    if name == "max_pool2d" and _window_in_padding(g.shape(x)[-2:], k, kw):
        # PyTorch 2.13's max_pool2d backward corrupts the heap (double free) when a window lies wholly in the
        # padding (its output is -inf): not generated, so that a test run cannot crash; see the report
        kw.pop("dilation", None)
        if _window_in_padding(g.shape(x)[-2:], k, kw):
            kw.pop("padding", None)
    return Call("fn", where, (x, k), kw)


def _pair(v, default):
    v = default if v is None else v
    return tuple(v) if isinstance(v, tuple) else (v, v)


def _window_in_padding(size, kernel, kw):
    """Does some 2-D pooling window (PyTorch's output size rule, ceil_mode included) cover padding only?"""
    return len(size) >= 2 and _window_in_padding_nd(size, kernel, kw)


# ---------------------------------------------------------------------- sorting
@spec("sort", covered(forms("sort", inplace=False) + forms("argsort", inplace=False) + forms("topk", inplace=False)
                      + forms("msort", inplace=False)), weight=2)
def _sort(g):
    name = g.choice(["sort", "argsort", "topk"])
    x = g.tensor()
    nd = g.ndim(x.i)
    d = g.dim(nd)
    kw = {}
    if name == "topk":
        size = g.shape(x)[d] if nd and -nd <= d < nd else 1
        k = g.int(0, size) if not g.chance(5) else size + 1
        if g.chance(40):
            kw["largest"] = g.chance(50)
        c = call_form(g, forms("topk", inplace=False), x, k, d, **kw)
    else:
        if g.chance(40):
            kw["descending"] = g.chance(50)
        if g.chance(30):
            kw["stable"] = g.chance(50)
        c = call_form(g, forms(name, inplace=False), x, *([d] if g.chance(70) else []), **kw)
        if not c.args[1:]:
            d = -1
    c.ties = d
    return c


# ---------------------------------------------------------------------- sampling (values not compared)
@spec("sampling", ["multinomial", "Tensor.multinomial", "bernoulli", "Tensor.bernoulli", "Tensor.bernoulli_",
                   "normal", "randperm", "Tensor.normal_", "Tensor.uniform_", "rand", "randn", "randint",
                   "rand_like", "randn_like", "randint_like", "F.dropout"], weight=2)
def _sampling(g):
    name = g.choice(["multinomial", "bernoulli", "normal", "randperm", "normal_", "uniform_", "rand", "randn",
                     "randint", "like", "dropout", "bernoulli_"])
    if name == "multinomial":
        x = g.float_tensor(lambda y: g.ndim(y.i) in (1, 2), shape=(g.int(1, 2), g.int(0, 4))[g.int(0, 1):],
                           values=None)
        c = call_form(g, forms("multinomial", inplace=False), x, g.int(0, 3),
                      **({"replacement": g.chance(50)} if g.chance(50) else {}))
    elif name == "bernoulli":
        x = g.float_tensor()
        c = call_form(g, forms("bernoulli", inplace=False), x, *([g.choice([0.0, 0.5, 1.0])] if g.chance(30) else []))
    elif name == "normal":
        mean = g.float_tensor()
        c = Call("fn", "normal", (mean, g.choice([1.0, 0.0, 2.0]) if g.chance(60) else g.operand(mean, "tz")))
    elif name == "randperm":
        c = Call("fn", "randperm", (g.int(0, 5),), {"dtype": DT(g.dtype_())} if g.chance(30) else {})
    elif name in ("rand", "randn"):
        c = Call("fn", name, tuple(g.shape_()), {"dtype": DT(g.dtype_())} if g.chance(30) else {})
    elif name == "randint":
        c = Call("fn", "randint", (g.int(-2, 5), g.int(0, 6), g.shape_()))
    elif name == "like":
        x = g.tensor()
        which = g.choice(["rand_like", "randn_like", "randint_like"])
        args = (x, g.int(1, 5)) if which == "randint_like" else (x,)
        c = Call("fn", which, args, {"dtype": DT(g.dtype_())} if g.chance(30) else {})
    elif name == "dropout":
        x = g.float_tensor()
        p = g.choice([0.5, 0.0, 1.0, 0.2, 1.5, -0.1])
        kw = {"training": g.chance(70)} if g.chance(50) else {}
        if g.chance(20):
            kw["inplace"] = True
        c = Call("fn", "nn.functional.dropout", (x, p), kw)
        if p in (0.0, 1.0) or kw.get("training") is False:
            return c  # deterministic: compared and pooled
    else:
        x = g.leaf()  # random in-place fills write only a fresh leaf
        c = Call("method", name, (x,))
    c.random = True
    c.pool = False
    return c


# ---------------------------------------------------------------------- nn.functional
ACTIVATIONS = ["relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid",
               "tanh", "softplus", "logsigmoid", "softsign", "hardsigmoid", "hardswish"]
_INPLACE_ACT = {"relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "silu", "mish", "hardsigmoid",
                "hardswish"}


@spec("F.activation", ["F." + n for n in ACTIVATIONS] + ["F.relu_", "relu_", "selu", "celu"], weight=4)
def _activation(g):
    name = g.choice(ACTIVATIONS + ["relu_"])
    kw = {}
    inplace = name == "relu_" or (name in _INPLACE_ACT and g.chance(30))
    x = inplace_target(g) if inplace else g.tensor()
    if name == "relu_":
        return Call("fn", "relu_" if _both_have("relu_", "torch") and g.chance(50) else "nn.functional.relu_", (x,))
    if inplace:
        kw["inplace"] = True
    params = {"hardtanh": {"min_val": [-1.0, 0.0, 2.0, -inf], "max_val": [1.0, 0.5, -1.0]},
              "leaky_relu": {"negative_slope": [0.01, 0.0, -1.0, 2.0]}, "elu": {"alpha": [1.0, 0.0, -0.5]},
              "celu": {"alpha": [1.0, 0.5, 0.0]}, "gelu": {"approximate": ["none", "tanh"]},
              "softplus": {"beta": [1.0, 2.0, 0.5, -1.0], "threshold": [20.0, 1.0, 0.0]}}
    for key, opts in params.get(name, {}).items():
        if g.chance(40):
            kw[key] = g.choice(opts)
    where = "nn.functional." + name
    if name in ("selu", "celu") and g.chance(30):
        where = name
    return Call("fn", where, (x,), kw)


@spec("softmax", ["F.softmax", "F.log_softmax", "F.softmin", "softmax", "log_softmax", "Tensor.softmax",
                  "Tensor.log_softmax"], weight=3)
def _softmax(g):
    name = g.choice(["softmax", "log_softmax", "softmin"])
    x = g.tensor()
    nd = g.ndim(x.i)
    kw = {}
    args = [g.dim(nd)] if g.chance(90) else []
    if g.chance(25):
        kw["dtype"] = DT(g.dtype_())
    where = g.choice(["nn.functional." + name, name, "method"]) if name != "softmin" else "nn.functional.softmin"
    if where == "method":
        return Call("method", name, (x, *args), kw)
    if where == name:
        return Call("fn", name, (x, *(args or [0])), kw)
    return Call("fn", where, (x, *args), kw)


@spec("linear", ["F.linear", "F.bilinear"], weight=2)
def _linear(g):
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    fin, fout = g.size_(), g.size_()
    batch = tuple(g.size_() for _ in range(g.int(0, 2)))
    if g.chance(70):
        x = g.tensor(lambda y: g.shape(y)[-1:] == (fin,) and g.dtype(y) == dt, shape=batch + (fin,), dtype=dt)
        w = g.tensor(lambda y: g.shape(y) == (fout, fin) and g.dtype(y) == dt, shape=(fout, fin), dtype=dt)
        b = [g.tensor(lambda y: g.shape(y) == (fout,) and g.dtype(y) == dt, shape=(fout,), dtype=dt)] \
            if g.chance(60) else []
        if g.chance(5):
            w = g.leaf(shape=(fin,), dtype=dt)
        return Call("fn", "nn.functional.linear", (x, w, *b))
    f2 = g.size_()
    x1 = g.leaf(shape=batch + (fin,), dtype=dt)
    x2 = g.leaf(shape=batch + (f2,), dtype=dt)
    w = g.leaf(shape=(fout, fin, f2), dtype=dt)
    b = [g.leaf(shape=(fout,), dtype=dt)] if g.chance(50) else []
    return Call("fn", "nn.functional.bilinear", (x1, x2, w, *b))


@spec("one_hot/embedding", ["F.one_hot", "F.embedding"], weight=2)
def _one_hot(g):
    if g.chance(50):
        n = g.choice([-1, 3, 5, 0])
        x = g.tensor(lambda y: g.dtype(y) == "int64", dtype="int64",
                     values=None) if g.chance(30) else g.leaf(shape=g.shape_(0, 2), dtype="int64",
                                                              values=None)
        if g.chance(80):
            shape = g.shape(x)
            x = g.leaf(shape=shape, dtype="int64", values=np.array([g.int(0, 3) for _ in range(math.prod(shape))])
                       .reshape(shape))
        return Call("fn", "nn.functional.one_hot", (x,) + ((n,) if n != -1 or g.chance(50) else ()))
    num, dim = g.int(1, 4), g.int(1, 3)
    w = g.float_tensor(lambda y: g.shape(y) == (num, dim), shape=(num, dim))
    ishape = g.shape_(0, 2)
    idx = Lit(np.array([g.int(0, num - 1) if not g.chance(3) else num for _ in range(math.prod(ishape))],
                       dtype=np.int64).reshape(ishape), g.choice(["int64", "int64", "int32"]))
    kw = {"padding_idx": g.choice([0, -1, num - 1])} if g.chance(30) else {}
    return Call("fn", "nn.functional.embedding", (idx, w), kw)


@spec("pad", ["F.pad"], weight=2)
def _pad(g):
    x = g.tensor()
    nd = g.ndim(x.i)
    k = g.int(0, min(nd, 3)) if nd else g.int(0, 1)
    pads = tuple(g.choice([0, 1, 2, -1]) for _ in range(2 * k))
    mode = g.weighted([(60, "constant"), (15, "reflect"), (15, "replicate"), (10, "circular")])
    kw = {}
    if mode != "constant":
        kw["mode"] = mode
    elif g.chance(40):
        kw["value"] = g.scalar()
    return Call("fn", "nn.functional.pad", (x, pads), kw)


@spec("norms", ["F.layer_norm", "F.batch_norm", "F.group_norm", "F.normalize", "F.cosine_similarity", "layer_norm",
                "cosine_similarity"], weight=3)
def _norms(g):
    c = _norms_call(g)
    if c is not None:
        c.tol *= 100.0  # x / sqrt(var + eps) amplifies the rounding of x - mean by up to 1 / sqrt(eps)
    return c


def _norms_call(g):
    name = g.choice(["layer_norm", "batch_norm", "group_norm", "normalize", "cosine_similarity"])
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    if name == "layer_norm":
        x = g.tensor(lambda y: g.dtype(y) == dt and g.ndim(y.i) >= 1, shape=g.shape_(1, 3), dtype=dt)
        shape = g.shape(x)
        ns = shape[len(shape) - g.int(1, len(shape)):]
        kw = {}
        if g.chance(50):
            kw["weight"] = g.leaf(shape=ns, dtype=dt)
        if g.chance(50):
            kw["bias"] = g.leaf(shape=ns, dtype=dt)
        if g.chance(20):
            kw["eps"] = g.choice([0.0, 1e-3])
        return Call("fn", g.choice(["nn.functional.layer_norm", "layer_norm"]), (x, list(ns)), kw)
    if name == "batch_norm":
        c = g.int(1, 3)
        shape = (g.int(1, 3), c) + tuple(g.int(1, 3) for _ in range(g.int(0, 2)))
        x = g.leaf(shape=shape, dtype=dt)
        training = g.chance(60)
        rm = g.leaf(shape=(c,), dtype=dt, rg=False, values=np.zeros(c)) if g.chance(80) or not training else None
        rv = g.leaf(shape=(c,), dtype=dt, rg=False, values=np.ones(c)) if rm is not None else None
        kw = {"training": training}
        if g.chance(40):
            kw["weight"] = g.leaf(shape=(c,), dtype=dt)
        if g.chance(40):
            kw["bias"] = g.leaf(shape=(c,), dtype=dt)
        if g.chance(30):
            kw["momentum"] = g.choice([0.0, 0.5, 1.0])
        return Call("fn", "nn.functional.batch_norm", (x, rm, rv), kw)
    if name == "group_norm":
        groups = g.int(1, 2)
        c = groups * g.int(1, 2)
        x = g.leaf(shape=(g.int(1, 2), c) + tuple(g.int(1, 3) for _ in range(g.int(0, 2))), dtype=dt)
        kw = {}
        if g.chance(40):
            kw["weight"] = g.leaf(shape=(c,), dtype=dt)
            kw["bias"] = g.leaf(shape=(c,), dtype=dt)
        return Call("fn", "nn.functional.group_norm", (x, groups), kw)
    if name == "normalize":
        x = g.tensor()
        kw = {}
        if g.chance(50):
            kw["p"] = g.choice([2.0, 1.0, inf, 0.5])
        if g.chance(60):
            kw["dim"] = g.dim(g.ndim(x.i))
        return Call("fn", "nn.functional.normalize", (x,), kw)
    x = g.float_tensor()
    y = g.operand(x, "tz")
    kw = {"dim": g.dim(g.ndim(x.i))} if g.chance(60) else {}
    c = Call("fn", g.choice(["nn.functional.cosine_similarity", "cosine_similarity"]), (x, y), kw)
    # PyTorch divides each operand by its norm in the operand's own dtype, before the product promotes: a float64
    # result of a float32 operand is only as fine as float32 (its 2-norm's last bit is its vectorized kernel's)
    floats = [RTOL[g.dtype(t)] for t in (x, y) if isinstance(t, Ref) and g.dtype(t) in RTOL]
    c.tol = max(floats) / min(floats) if floats else 1.0
    return c


LOSSES = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
          "binary_cross_entropy_with_logits", "kl_div", "cross_entropy", "nll_loss"]


@spec("losses", ["F." + n for n in LOSSES], weight=3)
def _losses(g):
    name = g.choice(LOSSES)
    kw = {}
    if g.chance(40):
        kw["reduction"] = g.choice(["none", "sum", "mean"])
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    if name in ("cross_entropy", "nll_loss"):
        c = g.int(1, 4)
        batch = g.choice([(), (g.int(0, 3),), (g.int(1, 2), g.int(1, 2))])
        shape = batch[:1] + (c,) + batch[1:] if batch else (c,)
        x = g.tensor(lambda y: g.shape(y) == shape and g.dtype(y) == dt, shape=shape, dtype=dt)
        tshape = batch[:1] + batch[1:]
        if name == "cross_entropy" and g.chance(25):  # class probabilities
            target = g.leaf(shape=shape, dtype=dt, rg=False)
        else:
            vals = [g.int(0, c - 1) if not g.chance(5) else g.choice([c, -100, -1]) for _ in range(math.prod(tshape))]
            target = Lit(np.array(vals, dtype=np.int64).reshape(tshape), "int64" if g.chance(95) else "int32")
        if g.chance(20):
            kw["weight"] = g.leaf(shape=(c,), dtype=dt, rg=False)
        if g.chance(20):
            kw["ignore_index"] = g.choice([0, 1, -1])
        if name == "cross_entropy" and g.chance(20):
            kw["label_smoothing"] = g.choice([0.1, 0.5, 1.0])
        return Call("fn", "nn.functional." + name, (x, target), kw)
    x = g.tensor(lambda y: g.dtype(y) == dt, dtype=dt)
    shape = g.shape(x)
    tshape = shape if g.chance(90) else g.broadcast_shape(shape)
    if name == "binary_cross_entropy":
        vals = [g.choice([0.0, 0.25, 0.5, 1.0, 0.9]) for _ in range(math.prod(shape))]
        x = g.leaf(shape=shape, dtype=dt, values=np.array(vals).reshape(shape))
    target = g.tensor(lambda y: g.shape(y) == tshape and g.dtype(y) == dt, shape=tshape, dtype=dt)
    if name in ("smooth_l1_loss",) and g.chance(30):
        kw["beta"] = g.choice([1.0, 0.5, 0.0])
    if name == "huber_loss" and g.chance(30):
        kw["delta"] = g.choice([1.0, 0.5, 2.0])
    if name == "kl_div" and g.chance(30):
        kw["log_target"] = g.chance(50)
    if name == "binary_cross_entropy_with_logits" and g.chance(25):
        kw["pos_weight"] = g.leaf(shape=shape[-1:], dtype=dt, rg=False)
    return Call("fn", "nn.functional." + name, (x, target), kw)


# ---------------------------------------------------------------------- more activations (nn.functional)
_ACT2 = ["hardshrink", "softshrink", "tanhshrink", "threshold", "threshold_", "glu", "prelu", "rrelu", "rrelu_",
         "elu_", "celu_", "selu_", "leaky_relu_", "hardtanh_"]


@spec("F.activation2", ["F." + n for n in _ACT2] + ["Tensor.hardshrink", "Tensor.prelu"], weight=2)
def _activation2(g):
    name = g.choice(_ACT2)
    inplace = name.endswith("_") or (name in ("threshold", "rrelu") and g.chance(25))
    x = inplace_target(g) if inplace else g.tensor()
    where = "nn.functional." + name
    kw = {}
    if name in ("threshold", "threshold_"):
        args = (x, g.choice([0.0, 0.5, -1.0, 1.5, inf]), g.choice([0.0, -2.0, 7.0, nan]))
        if name == "threshold" and inplace:
            kw["inplace"] = True
        return Call("fn", where, args, kw)
    if name in ("hardshrink", "softshrink"):
        args = (x,) + ((g.choice([0.5, 0.0, 1.0, 2.5, -1.0]),) if g.chance(50) else ())
        return Call("method", name, args) if name == "hardshrink" and g.chance(30) else Call("fn", where, args)
    if name == "glu":
        return Call("fn", where, (x,) + ((g.dim(g.ndim(x.i)),) if g.chance(60) else ()))
    if name == "prelu":
        shape = g.shape(x)
        c = shape[1] if len(shape) >= 2 else 1
        n = g.choice([1, c, c]) if not g.chance(5) else c + 1
        w = g.float_tensor(lambda y: g.shape(y) == (n,), shape=(n,))
        return Call("method", "prelu", (x, w)) if g.chance(30) else Call("fn", where, (x, w))
    params = {"rrelu": {"lower": [0.125, 0.0, 0.5], "upper": [1 / 3, 0.5, 1.0]}, "rrelu_": {},
              "elu_": {"alpha": [1.0, 0.0, -0.5]}, "celu_": {"alpha": [1.0, 0.5, 0.0]},
              "leaky_relu_": {"negative_slope": [0.01, 0.0, -1.0, 2.0]},
              "hardtanh_": {"min_val": [-1.0, 0.0, 2.0, -inf], "max_val": [1.0, 0.5, -1.0]}}
    params["rrelu_"] = params["rrelu"]
    for key, opts in params.get(name, {}).items():
        if g.chance(40):
            kw[key] = g.choice(opts)
    if name.startswith("rrelu"):
        if inplace and name == "rrelu":
            kw["inplace"] = True
        if g.chance(40):
            kw["training"] = g.chance(50)
        if kw.get("training"):  # random slopes: compared by shape and dtype, on a fresh leaf when in place
            if inplace:
                x = g.leaf(rg=False)
            c = Call("fn", where, (x,), kw)
            c.random = True
            c.pool = False
            return c
    return Call("fn", where, (x,), kw)


@spec("F.gumbel_softmax", ["F.gumbel_softmax"], weight=1)
def _gumbel_softmax(g):
    x = g.float_tensor()
    kw = {}
    if g.chance(40):
        kw["tau"] = g.choice([1.0, 0.5, 2.0])
    if g.chance(40):
        kw["hard"] = g.chance(50)
    if g.chance(50):
        kw["dim"] = g.dim(g.ndim(x.i))
    c = Call("fn", "nn.functional.gumbel_softmax", (x,), kw)
    c.random = True  # Gumbel noise: compared by shape, dtype and requires_grad
    c.pool = False
    return c


# ---------------------------------------------------------------------- more losses and distances
def _reduction(g, kw):
    if g.chance(40):
        kw["reduction"] = g.choice(["none", "sum", "mean"])
    return kw


def _signs(g, shape, dt="float32"):
    """A fresh target of +1/-1 (rarely 0 or 2)."""
    vals = [g.choice([1.0, -1.0]) if not g.chance(3) else g.choice([0.0, 2.0]) for _ in range(math.prod(shape))]
    return g.leaf(shape=shape, dtype=dt, rg=False, values=np.array(vals).reshape(shape))


def _same_shape(g, shape, dt, rg=None):
    return g.tensor(lambda y: g.shape(y) == shape and g.dtype(y) == dt, shape=shape, dtype=dt, rg=rg)


LOSSES2 = ["cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss", "soft_margin_loss",
           "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
           "gaussian_nll_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]


@spec("losses2", ["F." + n for n in LOSSES2], weight=3)
def _losses2(g):
    name = g.choice(LOSSES2)
    kw = _reduction(g, {})
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    where = "nn.functional." + name
    if name == "cosine_embedding_loss":
        shape = g.choice([(g.int(0, 3), g.int(1, 3)), (g.int(1, 3),)])
        x1, x2 = _same_shape(g, shape, dt), _same_shape(g, shape, dt)
        if g.chance(30):
            kw["margin"] = g.choice([0.0, 0.5, -0.5])
        return Call("fn", where, (x1, x2, _signs(g, shape[:-1], dt)), kw)
    if name in ("hinge_embedding_loss", "soft_margin_loss"):
        x = g.tensor(lambda y: g.dtype(y) == dt, dtype=dt)
        if name == "hinge_embedding_loss" and g.chance(30):
            kw["margin"] = g.choice([1.0, 0.0, 2.5])
        return Call("fn", where, (x, _signs(g, g.shape(x), dt)), kw)
    if name == "margin_ranking_loss":
        x1 = g.tensor(lambda y: g.dtype(y) == dt, dtype=dt)
        shape = g.shape(x1)
        if g.chance(30):
            kw["margin"] = g.choice([0.0, 0.5, -1.0])
        return Call("fn", where, (x1, _same_shape(g, shape, dt), _signs(g, shape, dt)), kw)
    if name in ("multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss"):
        c = g.int(1, 4)
        batch = g.choice([(), (g.int(0, 3),)])
        x = _same_shape(g, batch + (c,), dt)
        if name == "multi_margin_loss":
            vals = [g.int(0, c - 1) if not g.chance(4) else g.choice([c, -1]) for _ in range(math.prod(batch))]
            target = Lit(np.array(vals, dtype=np.int64).reshape(batch), "int64")
            if g.chance(30):
                kw["p"] = g.choice([1, 2])
            if g.chance(30):
                kw["margin"] = g.choice([1.0, 0.0, 2.0])
            if g.chance(20):
                kw["weight"] = g.leaf(shape=(c,), dtype=dt, rg=False)
        elif name == "multilabel_margin_loss":
            vals = [g.choice(list(range(-1, c))) if not g.chance(3) else c for _ in range(math.prod(batch) * c)]
            target = Lit(np.array(vals, dtype=np.int64).reshape(batch + (c,)), "int64")
        else:
            vals = [g.choice([0.0, 1.0, 1.0, 0.5]) for _ in range(math.prod(batch) * c)]
            target = g.leaf(shape=batch + (c,), dtype=dt, rg=False, values=np.array(vals).reshape(batch + (c,)))
            if g.chance(20):
                kw["weight"] = g.leaf(shape=(c,), dtype=dt, rg=False)
        return Call("fn", where, (x, target), kw)
    if name == "poisson_nll_loss":
        x = g.tensor(lambda y: g.dtype(y) == dt, dtype=dt)
        shape = g.shape(x)
        vals = [g.choice([0.0, 1.0, 2.0, 3.0, 0.5]) for _ in range(math.prod(shape))]
        target = g.leaf(shape=shape, dtype=dt, rg=False, values=np.array(vals).reshape(shape)) if g.chance(80) \
            else _same_shape(g, shape, dt)
        if g.chance(40):
            kw["log_input"] = g.chance(50)
        if g.chance(40):
            kw["full"] = g.chance(50)
        return Call("fn", where, (x, target), kw)
    if name == "gaussian_nll_loss":
        x = g.tensor(lambda y: g.dtype(y) == dt and g.ndim(y.i) >= 1, dtype=dt, ndims=(1, 3))
        shape = g.shape(x)
        target = _same_shape(g, shape, dt)
        vshape = g.choice([shape, shape[:-1], shape[:-1] + (1,)])
        vals = [g.choice([1.0, 0.5, 2.0, 0.0, 1e-8]) if not g.chance(3) else -1.0 for _ in range(math.prod(vshape))]
        var = g.leaf(shape=vshape, dtype=dt, values=np.array(vals).reshape(vshape)) if g.chance(85) \
            else g.choice([1.0, 0.5])
        if g.chance(30):
            kw["full"] = g.chance(50)
        if g.chance(20):
            kw["eps"] = g.choice([1e-6, 0.1])
        return Call("fn", where, (x, target, var), kw)
    if name in ("triplet_margin_loss", "triplet_margin_with_distance_loss"):
        shape = g.choice([(g.int(1, 3), g.int(1, 3)), (g.int(1, 3),)])
        a, p, n = (_same_shape(g, shape, dt) for _ in range(3))
        if g.chance(30):
            kw["margin"] = g.choice([1.0, 0.0, 2.0])
        if g.chance(30):
            kw["swap"] = g.chance(50)
        if name == "triplet_margin_loss" and g.chance(30):
            kw["p"] = g.choice([2, 1, 3.0])
        return Call("fn", where, (a, p, n), kw)
    # ctc_loss: log-probabilities (T, N, C) or (T, C), targets padded (N, S) or concatenated, lengths
    t, c, s = g.int(1, 5), g.int(2, 4), g.int(1, 3)
    batch = g.choice([(), (g.int(1, 2),)])
    n = batch[0] if batch else 1
    dt = g.choice(["float32", "float64"])
    x = g.leaf(shape=(t,) + batch + (c,), dtype=dt)
    lp = Call("fn", "nn.functional.log_softmax", (x, -1))
    out = g.r.run(lp) if g.chance(70) else None
    if out:
        x = Ref(out[0])
    tl = [g.int(0, s) for _ in range(n)]
    blank = g.choice([0, 0, c - 1])
    labels = [v for v in range(c) if v != blank]
    if batch and g.chance(70):
        targets = Lit(np.array([g.choice(labels) for _ in range(n * s)], dtype=np.int64).reshape(n, s), "int64")
    else:
        targets = Lit(np.array([g.choice(labels) for _ in range(sum(tl))], dtype=np.int64), "int64")
    il = [g.int(max(1, s // 2), t) for _ in range(n)]
    if not batch:
        il, tl = il[0], tl[0]
        if targets.array.ndim == 1 and g.chance(50):
            targets = Lit(targets.array.reshape(1, -1)[:, :tl] if tl else targets.array.reshape(1, 0), "int64")
    if batch and g.chance(50):
        il, tl = Lit(np.array(il, dtype=np.int64), "int64"), Lit(np.array(tl, dtype=np.int64), "int64")
    if blank:
        kw["blank"] = blank
    if g.chance(30):
        kw["zero_infinity"] = g.chance(50)
    return Call("fn", where, (x, targets, il, tl), kw)


@spec("distances", ["F.pairwise_distance", "F.pdist"], weight=1)
def _distances(g):
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    if g.chance(50):
        # PyTorch 2.13's pdist backward of a (0, M > 0) input segfaults: never generated (docs/differential.md)
        rows = g.int(0, 4)
        x = g.tensor(lambda y: g.dtype(y) == dt and g.ndim(y.i) == 2 and not (g.shape(y)[0] == 0 < g.shape(y)[1]),
                     shape=(rows, g.int(0, 3) if rows else 0), dtype=dt)
        p = (g.choice([2.0, 1.0, 0.0, inf, 3.0]),) if g.chance(40) else ()
        return Call("fn", "nn.functional.pdist", (x, *p))
    x = g.tensor(lambda y: g.dtype(y) == dt, dtype=dt)
    y = g.operand(x, "tz")
    kw = {}
    if g.chance(40):
        kw["p"] = g.choice([2.0, 1.0, 0.0, inf, 3.0])
    if g.chance(20):
        kw["eps"] = g.choice([1e-6, 0.0])
    if g.chance(30):
        kw["keepdim"] = g.chance(50)
    return Call("fn", "nn.functional.pairwise_distance", (x, y), kw)


# ---------------------------------------------------------------------- special functions (Tensor methods)
for _n in ["lgamma", "digamma", "erfinv", "i0", "sinc"]:
    _unary_spec(_n)
for _n in ["xlogy", "igamma", "igammac"]:
    _binary_spec(_n, None)


@spec("logit/polygamma/mvlgamma", covered(forms("logit") + forms("polygamma") + forms("mvlgamma")), weight=1)
def _special_args(g):
    name = g.choice(["logit", "polygamma", "mvlgamma"])
    fs = forms(name)
    inplace = g.chance(30)
    x = inplace_target(g) if inplace else g.tensor()
    choices = [f for f in fs if f[1].endswith("_") == inplace] or fs
    if name == "logit":
        return call_form(g, choices, x, *([g.choice([None, 0.0, 0.1, 0.5, 1e-6])] if g.chance(50) else []))
    if name == "mvlgamma":
        return call_form(g, choices, x, g.choice([1, 2, 3, 0]))
    n = g.choice([0, 1, 2, 3, -1])
    kind, fname = g.choice(choices)
    if kind == "fn":
        return Call("fn", fname, (n, x))
    call = Call("method", fname, (x, n))
    return _no_grad(call) if fname.endswith("_") and g.chance(20) else call


# ---------------------------------------------------------------------- linear algebra (Tensor methods)
def _matrix(g, rows, cols, dt, batch=(), spd=False, new=50):
    shape = batch + (rows, cols)
    if spd:
        m = g.values(shape, "float64")
        m = np.nan_to_num(m, nan=1.0, posinf=2.0, neginf=-2.0).clip(-10, 10)
        vals = m @ np.swapaxes(m, -1, -2) + rows * np.eye(rows)
        return g.leaf(shape=shape, dtype=dt, values=vals)
    return g.tensor(lambda y: g.shape(y) == shape and g.dtype(y) == dt, new=new, shape=shape, dtype=dt)


def _factor_leaf(g, n, dt, batch):
    """A fresh lower-triangular Cholesky-like factor (a dominant positive diagonal)."""
    return g.leaf(shape=batch + (n, n), dtype=dt, values=np.tril(g.values(batch + (n, n), "float64")) + 2 * np.eye(n))


LINALG_METHODS = ["det", "logdet", "slogdet", "inverse", "pinverse", "matrix_exp", "matrix_power", "cholesky",
                  "cholesky_inverse", "cholesky_solve", "lu", "lu_solve", "qr", "svd", "triangular_solve", "orgqr",
                  "ormqr", "lstsq", "solve", "eig", "symeig"]


@spec("linalg-methods", covered([f for n in LINALG_METHODS for f in forms(n, inplace=False)]), weight=3)
def _linalg_methods(g):
    name = g.choice(LINALG_METHODS)
    dt = g.choice(["float32", "float64"]) if g.chance(92) else g.dtype_()
    n = g.int(0, 3) if g.chance(90) else 1
    batch = () if g.chance(60) else (g.int(0, 2),)
    fs = forms(name, inplace=False)
    if name in ("det", "logdet", "slogdet", "inverse", "matrix_exp"):
        return call_form(g, fs, _matrix(g, n, n, dt, batch))
    if name == "pinverse":
        return call_form(g, fs, _matrix(g, n, g.int(0, 3), dt, batch))
    if name == "matrix_power":
        return call_form(g, fs, _matrix(g, n, n, dt, batch), g.choice([0, 1, 2, 3, -1]))
    if name in ("cholesky", "cholesky_inverse"):
        a = _matrix(g, n, n, dt, batch, spd=name == "cholesky" and g.chance(80))
        if name == "cholesky_inverse":
            a = _factor_leaf(g, n, dt, batch)
        return call_form(g, fs, a, *([g.chance(50)] if g.chance(40) else []))
    if name == "cholesky_solve":
        low = _factor_leaf(g, n, dt, batch)
        b = _matrix(g, n, g.int(1, 2), dt, batch)
        return call_form(g, fs, b, low, *([g.chance(50)] if g.chance(40) else []))
    if name == "triangular_solve":
        a = g.leaf(shape=batch + (n, n), dtype=dt, values=g.values(batch + (n, n), "float64") + 3 * np.eye(n))
        b = _matrix(g, n, g.int(1, 2), dt, batch)
        kw = {k: g.chance(50) for k in ("upper", "transpose", "unitriangular") if g.chance(30)}
        return call_form(g, fs, b, a, **kw)
    if name in ("qr", "svd", "lu"):
        a = _matrix(g, n, g.int(0, 3), dt, batch, new=80)
        kw = {}
        if name == "qr" and g.chance(40):
            kw["some"] = g.chance(50)
        if name == "svd" and g.chance(40):
            kw["some" if g.chance(50) else "compute_uv"] = g.chance(50)
        if name == "lu" and g.chance(30):
            kw["get_infos"] = g.chance(50)
        c = call_form(g, fs, a, **kw)
        if name == "svd":
            c.random = True  # singular vectors are unique up to sign (and not at all for repeated values)
            c.pool = False
        return c
    if name == "lu_solve":
        vals = g.values(batch + (n, n), "float64")
        vals = np.nan_to_num(vals, nan=1.0, posinf=2.0, neginf=-2.0).clip(-10, 10) + 4 * np.eye(n)
        lu, piv = torch.linalg.lu_factor(torch.tensor(vals, dtype=getattr(torch, dt)
                                                      if dt in ("float32", "float64") else torch.float64))
        lu_leaf = g.leaf(shape=batch + (n, n), dtype=dt, values=lu.numpy())
        b = _matrix(g, n, g.int(1, 2), dt, batch)
        return call_form(g, fs, b, lu_leaf, Lit(piv.numpy(), "int32"))
    if name in ("orgqr", "ormqr"):
        m = max(n, 1)
        k = g.int(0, m)
        a = _matrix(g, m, k, dt, batch)
        tau = g.tensor(lambda y: g.shape(y) == batch + (k,) and g.dtype(y) == dt, shape=batch + (k,), dtype=dt)
        if name == "orgqr":
            return call_form(g, fs, a, tau)
        kw = {}
        left = g.chance(60)
        if g.chance(40):
            kw["left"] = left
        else:
            left = True
        if g.chance(40):
            kw["transpose"] = g.chance(50)
        other = _matrix(g, m, g.int(1, 2), dt, batch) if left else _matrix(g, g.int(1, 2), m, dt, batch)
        return call_form(g, fs, a, tau, other, **kw)
    # removed in PyTorch: lstsq, solve, eig, symeig refuse (tapegrad must refuse too)
    a = _matrix(g, n, n, dt)
    if name in ("lstsq", "solve"):
        return call_form(g, fs, _matrix(g, n, 1, dt), a)
    return call_form(g, fs, a, *([g.chance(50)] if g.chance(40) else []))


# ---------------------------------------------------------------------- creation, conversion, flags
@spec("tensor-of-tensors", ["tensor", "as_tensor", "Tensor.new_tensor"], weight=2)
def _tensor_of(g):
    x = g.tensor()
    items = [x, x] if g.chance(60) else [x, g.scalar()]
    if g.chance(30):
        items = [x]
    if g.chance(25):
        return Call("fn", "as_tensor", (x,), {"dtype": DT(g.dtype_())} if g.chance(50) else {})
    if g.chance(20):
        return Call("method", "new_tensor", (x, items))
    return Call("fn", "tensor", (items,), {"dtype": DT(g.dtype_())} if g.chance(30) else {})


@spec("like", ["zeros_like", "ones_like", "full_like", "empty_like", "Tensor.new_zeros", "Tensor.new_ones",
               "Tensor.new_full", "Tensor.new_empty", "zeros", "ones", "full", "empty", "arange", "linspace", "eye"],
      weight=2)
def _like(g):
    name = g.choice(["zeros_like", "ones_like", "full_like", "empty_like", "new_zeros", "new_ones", "new_full",
                     "new_empty", "zeros", "ones", "full", "arange", "linspace", "eye"])
    kw = {}
    if g.chance(35):
        kw["dtype"] = DT(g.dtype_())
    if g.chance(15):
        kw["requires_grad"] = True
    if name.endswith("_like"):
        x = g.tensor()
        args = (x, g.scalar()) if name == "full_like" else (x,)
        c = Call("fn", name, args, kw)
    elif name.startswith("new_"):
        x = g.tensor()
        shape = g.shape_()
        args = (x, shape, g.scalar()) if name == "new_full" else (x, shape)
        c = Call("method", name, args, kw)
    elif name in ("zeros", "ones"):
        c = Call("fn", name, tuple(g.shape_()), kw)
    elif name == "full":
        c = Call("fn", "full", (g.shape_(), g.scalar()), kw)
    elif name == "arange":
        args = g.choice([(g.int(-1, 5),), (g.int(-2, 2), g.int(-2, 5)), (0, g.choice([3, 2.5]), g.choice([1, 0.5, 2])),
                         (g.scalar("f"),), (5, 0, -1)])
        c = Call("fn", "arange", args, kw)
    elif name == "linspace":
        c = Call("fn", "linspace", (g.scalar("if"), g.scalar("if"), g.int(0, 4)), kw)
    else:
        c = Call("fn", "eye", (g.int(0, 3),) + ((g.int(0, 3),) if g.chance(50) else ()), kw)
    if name in ("empty_like", "new_empty"):
        c.random = True  # uninitialized memory
        c.pool = False
    return c


@spec("convert", ["Tensor.to", "Tensor.type", "Tensor.float", "Tensor.double", "Tensor.half", "Tensor.long",
                  "Tensor.int", "Tensor.bool", "Tensor.type_as", "Tensor.item", "Tensor.tolist", "Tensor.numel",
                  "Tensor.dim", "Tensor.size", "Tensor.is_floating_point", "is_floating_point", "numel",
                  "Tensor.shape", "Tensor.ndim", "Tensor.dtype", "Tensor.is_leaf", "is_tensor", "Tensor.short",
                  "Tensor.byte", "Tensor.char"], weight=3)
def _convert(g):
    x = g.tensor()
    name = g.choice(["to", "type", "float", "double", "half", "long", "int", "bool", "type_as", "item", "tolist",
                     "numel", "dim", "size", "is_floating_point", "shape", "ndim", "dtype", "is_leaf", "short",
                     "byte", "char"])
    if name in ("to", "type"):
        return Call("method", name, (x, DT(g.dtype_())))
    if name == "type_as":
        return Call("method", name, (x, g.tensor()))
    if name == "size":
        return Call("method", "size", (x,) + ((g.dim(g.ndim(x.i)),) if g.chance(60) else ()))
    if name in ("shape", "ndim", "dtype", "is_leaf"):
        return Call("attr", name, (x,))
    if name in ("numel", "is_floating_point") and g.chance(50):
        return Call("fn", name, (x,))
    if not _both_have(name):
        return None
    return Call("method", name, (x,))


@spec("requires_grad", ["Tensor.requires_grad=", "Tensor.requires_grad_", "Tensor.requires_grad", "nn.Parameter",
                        "Tensor.detach_", "Tensor.retain_grad"], weight=3)
def _requires_grad(g):
    how = g.choice(["setter", "method", "constructor", "parameter", "read", "detach_", "param-false"])
    if how == "constructor":
        dt = g.dtype_()
        return Call("leaf", "", (Lit(g.values(g.shape_(), dt), dt),), {"requires_grad": True})
    x = g.tensor(lambda y: _is_leaf(g.r.there[y.i]), new=30)
    if how == "setter":
        return Call("setattr", "requires_grad", (x, g.chance(85)))
    if how == "method":
        return Call("method", "requires_grad_", (x,) + ((g.chance(80),) if g.chance(40) else ()))
    if how == "read":
        return Call("attr", "requires_grad", (x,))
    if how == "detach_":
        return Call("method", "detach_", (g.tensor(),))
    if how == "param-false":
        return Call("fn", "nn.Parameter", (x, False))
    return Call("fn", "nn.Parameter", (x,))


INIT = ["zeros_", "ones_", "constant_", "eye_", "dirac_", "uniform_", "normal_", "xavier_uniform_", "kaiming_normal_"]


@spec("nn.init", ["nn.init." + n for n in INIT], weight=1)
def _init(g):
    name = g.choice(INIT)
    x = g.tensor(lambda y: not g.rg(y), rg=False)
    args = (x, g.scalar()) if name == "constant_" else (x,)
    c = Call("fn", "nn.init." + name, args)
    if name not in ("zeros_", "ones_", "constant_", "eye_", "dirac_"):
        # a random fill of a pool tensor would make the two sides' values differ: fill a fresh leaf
        c = Call("fn", "nn.init." + name, (g.leaf(shape=g.shape(x), dtype=g.dtype(x), rg=False),))
        c.random = True
        c.pool = False
    return c


@spec("inplace-misc", ["Tensor.zero_", "Tensor.fill_", "Tensor.copy_", "Tensor.relu_", "Tensor.clamp_"], weight=5)
def _inplace_misc(g):
    name = g.choice(["zero_", "fill_", "copy_", "copy_", "relu_", "fill_"])
    x = inplace_target(g)
    if name == "fill_":
        args = (g.scalar(),) if g.chance(70) else (g.tensor(lambda y: g.ndim(y.i) == 0, shape=()),)
    elif name == "copy_":
        shape = g.broadcast_shape(g.shape(x))
        args = (g.tensor(lambda y: g.shape(y) == shape, shape=shape),)
    else:
        args = ()
    return call_form(g, [("method", name)], x, *args)


# ---------------------------------------------------------------------- spatial nn.functional (1-d/3-d, transposed)
def _spatial_x(g, d, cin, batch=True, lo=1, hi=4, dt=None):
    """A fresh (N, C, *spatial) or (C, *spatial) leaf of ``d`` spatial dims (sizes ``lo``..``hi``)."""
    b = (g.int(0, 2),) if batch and not g.chance(20) else ()
    if d == 3:
        hi = min(hi, 3)
    dt = dt or (g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_())
    return g.leaf(shape=b + (cin,) + tuple(g.int(lo, hi) for _ in range(d)), dtype=dt)


@spec("convnd", ["F.conv1d", "F.conv3d", "F.conv_transpose1d", "F.conv_transpose2d", "F.conv_transpose3d",
                 "F.conv_tbc"], weight=3)
def _convnd(g):
    name = g.choice(["conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc"])
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    where = "nn.functional." + name
    if name == "conv_tbc":
        t, b, cin, cout, k = g.int(1, 4), g.int(0, 2), g.int(1, 2), g.int(1, 2), g.int(1, 3)
        x = g.leaf(shape=(t, b, cin), dtype=dt)
        w = g.leaf(shape=(k, cin, cout) if not g.chance(5) else (k, cin + 1, cout), dtype=dt)
        bias = g.leaf(shape=(cout,), dtype=dt)
        return Call("fn", where, (x, w, bias) + ((g.choice([0, 1, 2, -1]),) if g.chance(60) else ()))
    d = int(name[-2])
    groups = g.choice([1, 1, 2])
    cin, cout = groups * g.int(1, 2), groups * g.int(1, 2)
    ks = tuple(g.int(1, 3 if d < 3 else 2) for _ in range(d))
    x = _spatial_x(g, d, cin, dt=dt)
    transposed = "transpose" in name
    wshape = (cin, cout // groups) + ks if transposed else (cout, cin // groups) + ks
    if g.chance(4):
        wshape = (wshape[0] + 1,) + wshape[1:]
    w = g.leaf(shape=wshape, dtype=dt)
    kw = {}
    if g.chance(50):
        kw["bias"] = g.leaf(shape=(cout,), dtype=dt)
    stride, dilation = g.choice([1, 1, 2, 3, 0]), g.choice([1, 1, 2])
    if g.chance(35):
        kw["stride"] = stride if g.chance(70) else (stride,) * d
    if g.chance(30):
        kw["dilation"] = dilation
    if g.chance(35):
        kw["padding"] = g.choice([0, 1, 2, -1] + ([] if transposed else ["same", "valid"]))
    if transposed and g.chance(30):
        kw["output_padding"] = g.choice([0, 1, 2])
    if groups != 1 or g.chance(5):
        kw["groups"] = groups if not g.chance(5) else 3
    return Call("fn", where, (x, w), kw)


def _window_in_padding_nd(size, kernel, kw):
    """``_window_in_padding`` for any number of spatial dims (PyTorch 2.13's max-pool backward corrupts the heap
    when a window lies wholly in the padding)."""
    d = len(size)

    def tup(v, default):
        v = default if v is None else v
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * d

    kernel, stride = tup(kernel, 1), tup(kw.get("stride"), tup(kernel, 1))
    pad, dil = tup(kw.get("padding"), 0), tup(kw.get("dilation"), 1)
    for n, k, st, p, dl in zip(size, kernel, stride, pad, dil):
        if st <= 0 or k <= 0 or dl <= 0 or 2 * p > k:
            continue  # refused by both
        span = dl * (k - 1) + 1
        num = n + 2 * p - span
        out = (-(-num // st) if kw.get("ceil_mode") else num // st) + 1
        if kw.get("ceil_mode") and (out - 1) * st >= n + p:
            out -= 1
        for o in range(max(out, 0)):
            if not any(0 <= o * st - p + j * dl < n for j in range(k)):
                return True
    return False


@spec("poolnd", ["F.max_pool1d", "F.max_pool3d", "F.max_pool1d_with_indices", "F.max_pool2d_with_indices",
                 "F.max_pool3d_with_indices", "F.avg_pool1d", "F.avg_pool3d", "F.lp_pool1d", "F.lp_pool2d",
                 "F.lp_pool3d"], weight=3)
def _poolnd(g):
    kind = g.choice(["max", "max", "avg", "lp"])
    d = g.choice([1, 2, 3]) if kind != "avg" else g.choice([1, 3])
    if kind == "max" and d == 2:
        name = "max_pool2d_with_indices"
    elif kind == "max":
        name = f"max_pool{d}d" + ("_with_indices" if g.chance(30) else "")
    else:
        name = f"{kind}_pool{d}d"
    x = g.float_tensor(lambda y: g.ndim(y.i) in (d + 1, d + 2) and all(s <= 4 for s in g.shape(y)[-d:]),
                       shape=(((g.int(1, 2),) if g.chance(70) else ()) + (g.int(1, 2),)
                              + tuple(g.int(1, 4 if d < 3 else 3) for _ in range(d))))
    if g.chance(5):
        x = g.tensor()  # any rank and dtype: refused (or not) alike
    k = g.choice([1, 2, 3]) if g.chance(80) else g.choice([(2,) * d, 0, (1,) * (d + 1)])
    kw = {}
    if g.chance(50):
        kw["stride"] = g.choice([1, 2, None, 0]) if g.chance(90) else (2,) * d
    if kind != "lp" and g.chance(50):
        kw["padding"] = g.choice([0, 1, 2])
    if g.chance(40):
        kw["ceil_mode"] = g.chance(50)
    if kind == "max":
        if g.chance(30):
            kw["dilation"] = g.choice([1, 2])
        if g.chance(20) and not name.endswith("indices"):
            kw["return_indices"] = True
        if _window_in_padding_nd(g.shape(x)[-d:] if g.ndim(x.i) >= d else (1,) * d, k, kw):
            kw.pop("dilation", None)
            kw.pop("padding", None)
            if _window_in_padding_nd(g.shape(x)[-d:] if g.ndim(x.i) >= d else (1,) * d, k, kw):
                return None
    elif kind == "avg":
        if g.chance(40):
            kw["count_include_pad"] = g.chance(50)
        if d == 3 and g.chance(15):
            kw["divisor_override"] = g.choice([1, 3, 0])
    if kind == "lp":
        return Call("fn", "nn.functional." + name, (x, g.choice([2, 1, 3.0, 0.5, inf]), k), kw)
    return Call("fn", "nn.functional." + name, (x, k), kw)


@spec("adaptive-pool", ["F.adaptive_avg_pool1d", "F.adaptive_avg_pool3d", "F.adaptive_max_pool1d",
                        "F.adaptive_max_pool2d", "F.adaptive_max_pool3d", "F.adaptive_max_pool1d_with_indices",
                        "F.adaptive_max_pool2d_with_indices", "F.adaptive_max_pool3d_with_indices"], weight=2)
def _adaptive_pool(g):
    kind = g.choice(["avg", "max"])
    d = g.choice([1, 3]) if kind == "avg" else g.choice([1, 2, 3])
    name = f"adaptive_{kind}_pool{d}d" + ("_with_indices" if kind == "max" and g.chance(30) else "")
    x = g.float_tensor(lambda y: g.ndim(y.i) in (d + 1, d + 2) and all(s <= 5 for s in g.shape(y)[-d:]),
                       shape=(((g.int(1, 2),) if g.chance(70) else ()) + (g.int(1, 2),)
                              + tuple(g.int(0 if g.chance(5) else 1, 4) for _ in range(d))))
    out = g.choice([1, 2, 3, 0]) if g.chance(70) else tuple(g.choice([1, 2, None]) for _ in range(d))
    kw = {"return_indices": True} if kind == "max" and not name.endswith("indices") and g.chance(25) else {}
    return Call("fn", "nn.functional." + name, (x, out), kw)


@spec("max_unpool", ["F.max_unpool1d", "F.max_unpool2d", "F.max_unpool3d"], weight=1)
def _max_unpool(g):
    d = g.choice([1, 2, 3])
    x = _spatial_x(g, d, g.int(1, 2), dt=g.choice(["float32", "float64"]))
    k = g.choice([1, 2])
    stride = g.choice([None, 1, 2])
    size = g.shape(x)[-d:]
    if any(s < k for s in size):
        return None
    pool = Call("fn", f"nn.functional.max_pool{d}d", (x, k), {"stride": stride, "return_indices": True})
    out = g.r.run(pool)
    if not out or len(out) != 2:
        return None
    vals, idx = Ref(out[0]), Ref(out[1])
    kw = {"stride": stride} if stride is not None or g.chance(50) else {}
    if g.chance(30):
        ins = g.shape(vals)
        st = stride or k
        full = tuple((n - 1) * st + k for n in ins[-d:])
        kw["output_size"] = g.choice([full, tuple(s + 1 for s in full), ins[:-d] + full, tuple(s + 5 for s in full)])
    if g.chance(10):
        vals = g.tensor()
    return Call("fn", f"nn.functional.max_unpool{d}d", (vals, idx, k), kw)


@spec("fractional_max_pool", ["F.fractional_max_pool2d", "F.fractional_max_pool2d_with_indices"], weight=1)
def _fractional(g):
    name = g.choice(["fractional_max_pool2d", "fractional_max_pool2d_with_indices"])
    x = g.float_tensor(lambda y: g.ndim(y.i) in (3, 4) and all(1 <= s <= 5 for s in g.shape(y)[-2:]),
                       shape=((g.int(1, 2),) if g.chance(70) else ()) + (g.int(1, 2), g.int(1, 5), g.int(1, 5)))
    shape = g.shape(x)
    k = g.choice([1, 2, (2, 1), 3])
    kw = {}
    if g.chance(60):
        kw["output_size"] = g.choice([1, 2, (2, 1), (1, 3)])
    else:
        kw["output_ratio"] = g.choice([0.5, (0.5, 0.75), 0.9])
    if g.chance(30) and name == "fractional_max_pool2d":
        kw["return_indices"] = True
    n, c = (shape[0] if len(shape) == 4 else 1), shape[-3]
    if g.chance(80):  # fixed samples: deterministic, compared by value
        vals = np.array([g.choice([0.0, 0.25, 0.5, 0.9]) for _ in range(n * c * 2)]).reshape(n, c, 2)
        kw["_random_samples"] = g.leaf(shape=(n, c, 2), dtype=g.dtype(x), rg=False, values=vals)
        return Call("fn", "nn.functional." + name, (x, k), kw)
    call = Call("fn", "nn.functional." + name, (x, k), kw)
    call.random = True  # random window starts: compared by shape, dtype and requires_grad
    call.pool = False
    return call


@spec("interpolate", ["F.interpolate", "F.upsample", "F.upsample_nearest", "F.upsample_bilinear"], weight=3)
def _interpolate(g):
    name = g.weighted([(70, "interpolate"), (10, "upsample"), (10, "upsample_nearest"), (10, "upsample_bilinear")])
    mode = g.choice(["nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact"])
    d = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode, g.choice([1, 2, 3]))
    if name == "upsample_bilinear":
        d = 2
    if g.chance(5):
        d = g.choice([1, 2, 3])  # a mode of another rank: refused alike
    x = g.float_tensor(lambda y: g.ndim(y.i) == d + 2 and all(s <= 4 for s in g.shape(y)[-d:]),
                       shape=(g.int(1, 2), g.int(1, 2)) + tuple(g.int(1, 4 if d < 3 else 3) for _ in range(d)))
    if g.chance(5):
        x = g.tensor()
    kw = {}
    if g.chance(50):
        kw["size"] = g.choice([1, 2, 3, 5]) if g.chance(60) else tuple(g.choice([1, 2, 4]) for _ in range(d))
    else:
        kw["scale_factor"] = g.choice([2, 0.5, 1.5, 2.0, 3]) if g.chance(70) else tuple(
            g.choice([1.0, 2.0, 0.75]) for _ in range(d))
    if name == "interpolate" or name == "upsample":
        if g.chance(85):
            kw["mode"] = mode
        if mode in ("linear", "bilinear", "bicubic", "trilinear") and g.chance(40):
            kw["align_corners"] = g.chance(50)
        if name == "interpolate" and "scale_factor" in kw and g.chance(30):
            kw["recompute_scale_factor"] = g.chance(50)
        if name == "interpolate" and mode in ("bilinear", "bicubic") and g.chance(20):
            kw["antialias"] = True
    return Call("fn", "nn.functional." + name, (x,), kw)


@spec("fold/unfold", ["F.fold", "F.unfold"], weight=2)
def _fold(g):
    k = g.choice([1, 2, (2, 1), 3])
    kw = {}
    if g.chance(30):
        kw["dilation"] = g.choice([1, 2])
    if g.chance(30):
        kw["padding"] = g.choice([0, 1, (1, 0)])
    if g.chance(30):
        kw["stride"] = g.choice([1, 2, (1, 2)])
    if g.chance(50):
        x = g.float_tensor(lambda y: g.ndim(y.i) in (3, 4), shape=((g.int(1, 2),) if g.chance(70) else ())
                           + (g.int(1, 2), g.int(1, 4), g.int(1, 4)))
        if g.chance(5):
            x = g.tensor()
        return Call("fn", "nn.functional.unfold", (x, k), kw)
    kh, kwd = (k, k) if isinstance(k, int) else k
    out = (g.int(1, 4), g.int(1, 4))
    dil, pad, st = (_pair(kw.get(n), dflt) for n, dflt in (("dilation", 1), ("padding", 0), ("stride", 1)))
    blocks = [(o + 2 * p - dl * (kk - 1) - 1) // s + 1 for o, p, dl, kk, s in zip(out, pad, dil, (kh, kwd), st)]
    L = max(blocks[0], 0) * max(blocks[1], 0)
    c = g.int(1, 2)
    shape = ((g.int(1, 2),) if g.chance(70) else ()) + (c * kh * kwd, L if not g.chance(5) else L + 1)
    x = g.float_tensor(lambda y: g.shape(y) == shape, shape=shape)
    return Call("fn", "nn.functional.fold", (x, out if g.chance(80) else out[0], k), kw)


@spec("shuffles", ["F.pixel_shuffle", "F.pixel_unshuffle", "F.channel_shuffle", "F.native_channel_shuffle"],
      weight=2)
def _shuffles(g):
    name = g.choice(["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"])
    r = g.choice([1, 2, 2, 3, 0, -1])
    if name == "pixel_shuffle":
        shape = ((g.int(0, 2),) if g.chance(60) else ()) + (g.int(1, 2) * r * r if r > 0 else 2, g.int(1, 3),
                                                             g.int(1, 3))
    elif name == "pixel_unshuffle":
        shape = ((g.int(0, 2),) if g.chance(60) else ()) + (g.int(1, 2), g.int(1, 2) * max(r, 1),
                                                             g.int(1, 2) * max(r, 1))
    else:
        shape = (g.int(0, 2), g.int(1, 2) * max(r, 1)) + tuple(g.int(1, 3) for _ in range(g.int(0, 2)))
    x = g.tensor(lambda y: g.shape(y) == shape, shape=shape) if not g.chance(8) else g.tensor()
    return Call("fn", "nn.functional." + name, (x, r))


@spec("instance/rms/lrn", ["F.instance_norm", "F.rms_norm", "F.local_response_norm"], weight=2)
def _norms2(g):
    c = _norms2_call(g)
    if c is not None:
        c.tol = 100.0  # as the other normalizations: x / sqrt(var + eps) amplifies the rounding of x - mean
    return c


def _norms2_call(g):
    name = g.choice(["instance_norm", "rms_norm", "local_response_norm"])
    dt = g.choice(["float32", "float64"]) if g.chance(90) else g.dtype_()
    where = "nn.functional." + name
    if name == "instance_norm":
        c = g.int(1, 3)
        shape = ((g.int(1, 2),) if g.chance(80) else ()) + (c,) + tuple(g.int(1, 3) for _ in range(g.int(1, 2)))
        x = g.leaf(shape=shape, dtype=dt)
        kw = {}
        if g.chance(30):
            kw["running_mean"] = g.leaf(shape=(c,), dtype=dt, rg=False, values=np.zeros(c))
            kw["running_var"] = g.leaf(shape=(c,), dtype=dt, rg=False, values=np.ones(c))
            if g.chance(50):
                kw["use_input_stats"] = g.chance(50)
            if g.chance(30):
                kw["momentum"] = g.choice([0.0, 0.5, 1.0])
        if g.chance(40):
            kw["weight"] = g.leaf(shape=(c,), dtype=dt)
            kw["bias"] = g.leaf(shape=(c,), dtype=dt)
        if g.chance(20):
            kw["eps"] = g.choice([0.0, 1e-3])
        return Call("fn", where, (x,), kw)
    if name == "rms_norm":
        x = g.tensor(lambda y: g.dtype(y) == dt and g.ndim(y.i) >= 1, shape=g.shape_(1, 3), dtype=dt)
        shape = g.shape(x)
        ns = shape[len(shape) - g.int(1, len(shape)):] if shape else ()
        if g.chance(5):
            ns = (7,)
        kw = {}
        if g.chance(50):
            kw["weight"] = g.leaf(shape=ns, dtype=dt)
        if g.chance(30):
            kw["eps"] = g.choice([None, 0.0, 1e-3])
        return Call("fn", where, (x, list(ns) if g.chance(70) else tuple(ns)), kw)
    x = g.tensor(lambda y: g.dtype(y) == dt and g.ndim(y.i) >= 3, dtype=dt,
                 shape=(g.int(1, 2), g.int(1, 4)) + tuple(g.int(1, 3) for _ in range(g.int(1, 2))))
    if g.chance(5):
        x = g.tensor()
    kw = {}
    for key, opts in (("alpha", [1e-4, 1.0, 0.0]), ("beta", [0.75, 0.5, 1.0]), ("k", [1.0, 2.0, 0.0])):
        if g.chance(30):
            kw[key] = g.choice(opts)
    return Call("fn", where, (x, g.choice([1, 2, 3, 5])), kw)


@spec("embedding_bag", ["F.embedding_bag"], weight=1)
def _embedding_bag(g):
    num, dim = g.int(1, 4), g.int(1, 3)
    dt = g.choice(["float32", "float64"])
    w = g.float_tensor(lambda y: g.shape(y) == (num, dim) and g.dtype(y) == dt, shape=(num, dim), dtype=dt)
    mode = g.choice(["mean", "sum", "max"])
    kw = {"mode": mode} if mode != "mean" or g.chance(50) else {}
    n_bags = g.int(0, 3)
    if g.chance(50):  # (B, L) bags
        ishape = (n_bags, g.int(0, 3))
        idx = Lit(np.array([g.int(0, num - 1) if not g.chance(3) else num for _ in range(math.prod(ishape))],
                           dtype=np.int64).reshape(ishape), g.choice(["int64", "int64", "int32"]))
        args = (idx, w)
        n_items = math.prod(ishape)
        ishape_psw = ishape
    else:  # 1-d input with offsets
        n_items = g.int(0, 5)
        idx = Lit(np.array([g.int(0, num - 1) for _ in range(n_items)], dtype=np.int64), "int64")
        # no bag at all for a nonempty input (no offsets, or one with include_last_offset): PyTorch 2.13 segfaults
        # in mode='max' or with padding_idx, so the offsets form always has a bag
        starts = sorted(g.int(0, n_items) for _ in range(max(n_bags, 1)))
        if starts and g.chance(80):
            starts[0] = 0
        if len(starts) >= 2 and g.chance(20):
            kw["include_last_offset"] = True
        args = (idx, w, Lit(np.array(starts, dtype=np.int64), "int64"))
        ishape_psw = (n_items,)
    if mode == "sum" and g.chance(30):
        kw["per_sample_weights"] = g.leaf(shape=ishape_psw, dtype=dt)
    if g.chance(20):
        kw["padding_idx"] = g.choice([0, num - 1, -1])
    return Call("fn", "nn.functional.embedding_bag", args, kw)


@spec("affine_grid", ["F.affine_grid"], weight=1)
def _affine_grid(g):
    d = g.choice([2, 3])
    n = g.int(1, 2)
    dt = g.choice(["float32", "float64"]) if g.chance(95) else g.dtype_()
    theta = g.leaf(shape=(n, d, d + 1) if not g.chance(5) else (n, d, d), dtype=dt)
    size = (n if not g.chance(5) else n + 1, g.int(1, 2)) + tuple(g.int(1, 3) for _ in range(d))
    kw = {"align_corners": g.chance(50)} if g.chance(70) else {}
    return Call("fn", "nn.functional.affine_grid", (theta, size), kw)


_DROPOUTS = {"dropout1d": (2, 3), "dropout2d": (3, 4), "dropout3d": (4, 5), "alpha_dropout": None,
             "feature_alpha_dropout": None}


@spec("dropouts", ["F." + n for n in _DROPOUTS], weight=2)
def _dropouts(g):
    name = g.choice(list(_DROPOUTS))
    ranks = _DROPOUTS[name]
    if ranks and g.chance(85):
        x = g.float_tensor(lambda y: g.ndim(y.i) in ranks,
                           shape=tuple(g.int(0 if g.chance(5) else 1, 3) for _ in range(g.choice(ranks))))
    else:
        x = g.float_tensor() if g.chance(90) else g.tensor()
    p = g.choice([0.5, 0.0, 1.0, 0.2, 1.5, -0.1])
    kw = {"training": g.chance(60)} if g.chance(60) else {}
    if g.chance(20):
        kw["inplace"] = True
    c = Call("fn", "nn.functional." + name, (x, p), kw)
    training = kw.get("training", "alpha" not in name)
    if p in (0.0, 1.0) or not training or not 0 <= p <= 1:
        return c  # deterministic (or refused): compared and pooled
    if kw.get("inplace"):
        c.args = (g.leaf(shape=g.shape(x), dtype=g.dtype(x), rg=False), p)  # random writes only a fresh leaf
    c.random = True
    c.pool = False
    return c


# ---------------------------------------------------------------------- more elementwise math (extra_math)
for _n in ["asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh", "angle", "signbit", "conj", "conj_physical",
           "resolve_conj", "resolve_neg", "isreal", "ravel", "frexp"]:
    _unary_spec(_n)
for _n in ["copysign", "float_power", "fmax", "fmin", "gcd", "lcm", "heaviside", "hypot", "ldexp", "logaddexp",
           "logaddexp2", "nextafter", "bitwise_left_shift", "bitwise_right_shift"]:
    _binary_spec(_n, None)


@spec("real/imag", covered(forms("real", method=False) + forms("imag", method=False))
      + ("Tensor.real", "Tensor.imag"), weight=1)
def _real_imag(g):
    name = g.choice(["real", "imag"])
    x = g.tensor()
    if g.chance(50):
        return Call("fn", name, (x,))
    return Call("attr", name, (x,))


@spec("nan_to_num", covered(forms("nan_to_num")), weight=1)
def _nan_to_num(g):
    inplace = g.chance(30)
    x = inplace_target(g) if inplace else g.tensor()
    kw = {}
    for key, opts in (("nan", [0.0, 1.5, -2.0, 1e30]), ("posinf", [None, 3.0, 1e300]),
                      ("neginf", [None, -3.0, -1e300])):
        if g.chance(40):
            kw[key] = g.choice(opts)
    return call_form(g, [f for f in forms("nan_to_num") if f[1].endswith("_") == inplace], x, **kw)


@spec("addcmul/addcdiv", covered(forms("addcmul") + forms("addcdiv")), weight=2)
def _addcmul(g):
    name = g.choice(["addcmul", "addcdiv"])
    inplace = g.chance(30)
    x = inplace_target(g) if inplace else g.tensor()
    t1 = g.operand(x, "tz")
    t2 = g.operand(x, "tz")
    kw = {"value": g.scalar()} if g.chance(40) else {}
    return call_form(g, [f for f in forms(name) if f[1].endswith("_") == inplace], x, t1, t2, **kw)


@spec("addmm-family", covered(forms("addmm") + forms("addbmm") + forms("baddbmm") + forms("addmv")
                              + forms("addr")), weight=2)
def _addmm(g):
    name = g.choice(["addmm", "addbmm", "baddbmm", "addmv", "addr"])
    dt = g.choice(["float32", "float64"]) if g.chance(85) else g.dtype_()
    n, k, m, b = g.size_(), g.size_(), g.size_(), g.int(0, 2)
    shapes = {"addmm": ((n, k), (k, m), (n, m)), "addbmm": ((b, n, k), (b, k, m), (n, m)),
              "baddbmm": ((b, n, k), (b, k, m), (b, n, m)), "addmv": ((n, k), (k,), (n,)),
              "addr": ((n,), (k,), (n, k))}[name]
    s1, s2, out = shapes
    if g.chance(5):
        s2 = g.shape_()
    inplace = g.chance(25)
    ishape = out if inplace or g.chance(60) else g.broadcast_shape(out)
    x = inplace_target(g, lambda y: g.shape(y) == ishape) if inplace else _same_shape(g, ishape, dt)
    a = _same_shape(g, s1, dt)
    c = _same_shape(g, s2, dt) if g.chance(92) else g.tensor(shape=s2)
    kw = {}
    if g.chance(35):
        kw["beta"] = g.choice([0, 1, 0.5, 2, -1.0, 0.0])
    if g.chance(35):
        kw["alpha"] = g.choice([0, 1, 0.5, 2, -1.0])
    return call_form(g, [f for f in forms(name) if f[1].endswith("_") == inplace], x, a, c, **kw)


# ---------------------------------------------------------------------- more reductions and scans
for _n in ["nanmean"]:
    _red(_n, dtype=True)


@spec("scans", covered(forms("cummax", inplace=False) + forms("cummin", inplace=False)
                       + forms("logcumsumexp", inplace=False)) + ("Tensor.cumsum_", "Tensor.cumprod_"), weight=2)
def _scans(g):
    name = g.choice(["cummax", "cummin", "logcumsumexp", "cumsum_", "cumprod_"])
    x = inplace_target(g) if name.endswith("_") else g.tensor()
    d = g.dim(g.ndim(x.i))
    if name.endswith("_"):
        kw = {"dtype": DT(g.dtype_())} if g.chance(15) else {}
        return Call("method", name, (x, d), kw)
    c = call_form(g, forms(name, inplace=False), x, d)
    if name != "logcumsumexp":
        c.ties = d
    return c


@spec("aminmax", covered(forms("aminmax", inplace=False)), weight=1)
def _aminmax(g):
    x = g.tensor()
    kw = {}
    if g.chance(60):
        kw["dim"] = g.dim(g.ndim(x.i))
    if g.chance(40):
        kw["keepdim"] = g.chance(50)
    return call_form(g, forms("aminmax", inplace=False), x, **kw)


@spec("kthvalue/mode/nanmedian", covered(forms("kthvalue", inplace=False) + forms("mode", inplace=False)
                                         + forms("nanmedian", inplace=False)), weight=2)
def _kthvalue(g):
    name = g.choice(["kthvalue", "mode", "nanmedian"])
    x = g.tensor()
    nd = g.ndim(x.i)
    fs = forms(name, inplace=False)
    if name == "nanmedian" and g.chance(40):
        return call_form(g, fs, x)
    d = g.dim(nd)
    kw = {"keepdim": g.chance(50)} if g.chance(40) else {}
    if name == "kthvalue":
        size = g.shape(x)[d] if nd and -nd <= d < nd else 1
        c = call_form(g, fs, x, g.int(0, size + 1) if g.chance(20) else g.int(1, max(size, 1)), d, **kw)
    elif g.chance(20):
        c = call_form(g, fs, x, **kw)
        d = -1
    else:
        c = call_form(g, fs, x, d, **kw)
    c.ties = d
    return c


@spec("quantile", covered(forms("quantile", inplace=False) + forms("nanquantile", inplace=False)), weight=1)
def _quantile(g):
    name = g.choice(["quantile", "nanquantile"])
    x = g.float_tensor() if g.chance(90) else g.tensor()
    q = g.choice([0.5, 0.0, 1.0, 0.25, 1.5, -0.1]) if g.chance(70) else g.leaf(
        shape=g.choice([(2,), (), (0,)]), dtype=g.dtype(x) if g.dtype(x) in FLOATS else "float32", rg=False,
        values=None)
    if isinstance(q, Ref) and g.chance(80):
        shape = g.shape(q)
        q = g.leaf(shape=shape, dtype=g.dtype(q), rg=False,
                   values=np.array([g.choice([0.0, 0.5, 1.0, 0.3]) for _ in range(math.prod(shape))]).reshape(shape))
    args, kw = [q], {}
    if g.chance(60):
        args.append(g.dim(g.ndim(x.i)))
        if g.chance(40):
            kw["keepdim"] = g.chance(50)
    if g.chance(40):
        kw["interpolation"] = g.choice(["linear", "lower", "higher", "midpoint", "nearest", "cubic"])
    return call_form(g, forms(name, inplace=False), x, *args, **kw)


@spec("trace/dist/vdot/kron/cross", covered(forms("trace", inplace=False) + forms("dist", inplace=False)
                                            + forms("vdot", inplace=False) + forms("kron", inplace=False)
                                            + forms("cross", inplace=False)), weight=2)
def _pairwise_misc(g):
    name = g.choice(["trace", "dist", "vdot", "kron", "cross"])
    fs = forms(name, inplace=False)
    if name == "trace":
        x = g.tensor(lambda y: g.ndim(y.i) == 2) if g.chance(90) else g.tensor()
        return call_form(g, fs, x)
    if name == "dist":
        x = g.tensor()
        return call_form(g, fs, x, g.operand(x, "tz"), *([g.choice([2, 1, 0, inf, -inf, 3.0, 0.5])]
                                                           if g.chance(50) else []))
    if name == "vdot":
        n = g.size_()
        dt = g.dtype_()
        x = _same_shape(g, (n,), dt)
        y = _same_shape(g, (n,), dt) if g.chance(90) else g.tensor()
        return call_form(g, fs, x, y)
    if name == "kron":
        x = g.tensor()
        y = g.tensor(lambda t: g.ndim(t.i) <= 2)
        return call_form(g, fs, x, y)
    shape = tuple(g.size_() for _ in range(g.int(0, 2)))
    at = g.int(0, len(shape))
    shape = shape[:at] + (3,) + shape[at:]
    dt = g.dtype_()
    x = _same_shape(g, shape, dt)
    y = _same_shape(g, shape if g.chance(85) else g.broadcast_shape(shape), dt)
    args = [g.dim(len(shape))] if g.chance(60) else []
    return call_form(g, fs, x, y, *args)


@spec("histc/histogram/bincount", covered(forms("histc", inplace=False) + forms("histogram", inplace=False)
                                          + forms("bincount", inplace=False)), weight=1)
def _hist(g):
    name = g.choice(["histc", "histogram", "bincount"])
    fs = forms(name, inplace=False)
    if name == "bincount":
        n = g.int(0, 5)
        vals = [g.int(0, 4) if not g.chance(4) else -1 for _ in range(n)]
        dt = g.choice(["int64", "int64", "int32", "uint8", "bool", "float32"])
        x = g.leaf(shape=(n,), dtype=dt, values=np.array(vals) % (2 if dt == "bool" else 256 if dt == "uint8"
                                                                   else 1 << 40) if dt in ("bool", "uint8")
                   else np.array(vals))
        if g.chance(5):
            x = g.tensor()
        kw = {}
        if g.chance(30):
            kw["weights"] = g.tensor(lambda y: g.shape(y) == (n,), shape=(n,))
        if g.chance(30):
            kw["minlength"] = g.choice([0, 3, 7, -1])
        return call_form(g, fs, x, **kw)
    x = g.float_tensor() if g.chance(90) else g.tensor()
    bins = g.choice([1, 3, 5, 0, -1])
    if name == "histc":
        args = [bins] if g.chance(80) else []
        if g.chance(60):
            lo = g.choice([0.0, -1.0, 1.0, 2.0])
            args += [lo, g.choice([0.0, 1.0, 3.0, lo])]
        return call_form(g, fs, x, *args)
    kw = {}
    if g.chance(20):
        bins = g.leaf(shape=(3,), dtype=g.dtype(x), rg=False, values=np.array([-1.0, 0.5, 2.0]))
    if g.chance(40):
        lo = g.choice([0.0, -1.0, 1.0])
        kw["range"] = (lo, g.choice([1.0, 3.0, lo]))
    if g.chance(30):
        kw["weight"] = g.float_tensor(lambda y: g.shape(y) == g.shape(x), shape=g.shape(x), dtype=g.dtype(x))
    if g.chance(30):
        kw["density"] = g.chance(50)
    return call_form(g, fs, x, bins, **kw)


@spec("unique", covered(forms("unique", inplace=False) + forms("unique_consecutive", inplace=False)), weight=1)
def _unique(g):
    name = g.choice(["unique", "unique_consecutive"])
    x = g.tensor()
    kw = {}
    if name == "unique" and g.chance(30):
        kw["sorted"] = g.chance(70)
    for key in ("return_inverse", "return_counts"):
        if g.chance(40):
            kw[key] = g.chance(60)
    if g.chance(30):
        kw["dim"] = g.dim(g.ndim(x.i))
    if name == "unique" and not kw.get("sorted", True) and kw.get("dim") is None:
        kw["sorted"] = True  # unsorted unique: the order of the values is not specified
    return call_form(g, forms(name, inplace=False), x, **kw)


@spec("cov/corrcoef", covered(forms("cov", inplace=False) + forms("corrcoef", inplace=False)), weight=1)
def _cov(g):
    name = g.choice(["cov", "corrcoef"])
    x = g.tensor(lambda y: g.ndim(y.i) <= 2, shape=g.shape_(0, 2)) if g.chance(90) else g.tensor()
    fs = forms(name, inplace=False)
    if name == "corrcoef":
        c = call_form(g, fs, x)
        c.tol = 100.0
        return c
    kw = {}
    n = g.shape(x)[-1] if g.ndim(x.i) else 1
    if g.chance(30):
        kw["correction"] = g.choice([0, 1, 2])
    if g.chance(20):
        kw["fweights"] = Lit(np.array([g.int(0, 3) for _ in range(n)], dtype=np.int64), "int64")
    if g.chance(20):
        kw["aweights"] = g.leaf(shape=(n,), dtype=g.choice(["float32", "float64"]), rg=False,
                                values=np.array([g.choice([0.5, 1.0, 2.0, 0.0]) for _ in range(n)]))
    c = call_form(g, fs, x, **kw)
    c.tol = 100.0
    return c


@spec("diff", covered(forms("diff", inplace=False)), weight=1)
def _diff(g):
    x = g.tensor()
    nd = g.ndim(x.i)
    args, kw = [], {}
    if g.chance(40):
        kw["n"] = g.choice([1, 2, 0, 3, -1])
    if g.chance(50):
        kw["dim"] = g.dim(nd)
    for key in ("prepend", "append"):
        if g.chance(20):
            kw[key] = g.tensor(lambda y: g.ndim(y.i) == nd) if g.chance(80) else g.scalar()
    return call_form(g, forms("diff", inplace=False), x, *args, **kw)


@spec("renorm", covered(forms("renorm")), weight=1)
def _renorm(g):
    inplace = g.chance(30)
    x = inplace_target(g) if inplace else g.tensor()
    args = (g.choice([2, 1, 3.0, inf, 0, -1]), g.dim(g.ndim(x.i)), g.choice([1.0, 0.5, 0.0, 10.0, -1.0]))
    return call_form(g, [f for f in forms("renorm") if f[1].endswith("_") == inplace], x, *args)


# ---------------------------------------------------------------------- more shape and scatter ops
@spec("diag_embed/diagflat", covered(forms("diag_embed", inplace=False) + forms("diagflat", inplace=False)),
      weight=1)
def _diag_embed(g):
    name = g.choice(["diag_embed", "diagflat"])
    x = g.tensor()
    nd = g.ndim(x.i)
    args = [g.int(-2, 2)] if g.chance(60) else []
    if name == "diag_embed" and args and g.chance(40):
        args += [g.dim(nd + 1), g.dim(nd + 1)]
    return call_form(g, forms(name, inplace=False), x, *args)


@spec("scatters", covered(forms("diagonal_scatter", inplace=False) + forms("select_scatter", inplace=False)
                          + forms("slice_scatter", inplace=False)), weight=2)
def _scatters(g):
    name = g.choice(["diagonal_scatter", "select_scatter", "slice_scatter"])
    x = g.tensor()
    nd = g.ndim(x.i)
    shape = g.shape(x)
    fs = forms(name, inplace=False)
    try:
        view_args = {"diagonal_scatter": lambda: (g.int(-1, 1), g.dim(nd), g.dim(nd)),
                     "select_scatter": lambda: (g.dim(nd), g.int(-2, 2)),
                     "slice_scatter": lambda: (g.dim(nd), g.choice([None, 0, 1, -1]), g.choice([None, 2, -1, 5]),
                                               g.choice([1, 2, 1]))}[name]()
        view = {"diagonal_scatter": "diagonal", "select_scatter": "select", "slice_scatter": None}[name]
        xt = torch.zeros(shape)
        if view == "diagonal":
            target = tuple(torch.diagonal(xt, *view_args).shape)
        elif view == "select":
            target = tuple(xt.select(*view_args).shape)
        else:
            d, st, en, step = view_args
            idx = [slice(None)] * nd
            idx[d] = slice(st, en, step)
            target = tuple(xt[tuple(idx)].shape)
    except Exception:  # noqa: BLE001 - refused arguments: any source
        target = g.shape_()
    if g.chance(8):
        target = g.broadcast_shape(target)
    src = g.tensor(lambda y: g.shape(y) == target and g.dtype(y) == g.dtype(x), shape=target,
                   dtype=g.dtype(x) if g.chance(85) else None)
    if name == "diagonal_scatter":
        off, d1, d2 = view_args
        return call_form(g, fs, x, src, off, d1, d2) if g.chance(60) else call_form(
            g, fs, x, src, offset=off, dim1=d1, dim2=d2)
    if name == "select_scatter":
        return call_form(g, fs, x, src, *view_args)
    d, st, en, step = view_args
    return call_form(g, fs, x, src, d, st, en, step) if g.chance(60) else call_form(g, fs, x, src, dim=d, start=st,
                                                                                    end=en, step=step)


@spec("splits2", covered(forms("dsplit", inplace=False) + forms("hsplit", inplace=False)
                         + forms("vsplit", inplace=False) + forms("split_with_sizes", inplace=False)
                         + forms("unsafe_split", inplace=False) + forms("unsafe_split_with_sizes", inplace=False)
                         + forms("unsafe_chunk", inplace=False) + forms("narrow_copy", inplace=False)), weight=2)
def _splits2(g):
    name = g.choice(["dsplit", "hsplit", "vsplit", "split_with_sizes", "unsafe_split", "unsafe_split_with_sizes",
                     "unsafe_chunk", "narrow_copy"])
    x = g.tensor()
    nd = g.ndim(x.i)
    fs = forms(name, inplace=False)
    if name in ("dsplit", "hsplit", "vsplit"):
        arg = g.choice([1, 2, 3, 0]) if g.chance(60) else [g.int(-1, 3) for _ in range(g.int(0, 2))]
        return call_form(g, fs, x, arg)
    d = g.dim(nd)
    size = g.shape(x)[d] if nd and -nd <= d < nd else 0
    if name in ("split_with_sizes", "unsafe_split_with_sizes"):
        return call_form(g, fs, x, _sections(g, size), *([d] if g.chance(80) else []))
    if name == "unsafe_split":
        return call_form(g, fs, x, g.choice([1, 2, 3, 0]), *([d] if g.chance(80) else []))
    if name == "unsafe_chunk":
        return call_form(g, fs, x, g.choice([1, 2, 3, 0, -1]), *([d] if g.chance(80) else []))
    start = g.int(-size, size) if size else 0
    length = g.int(0, max(0, size - (start % size if size else 0))) if size else 0
    if g.chance(5):
        length = size + 1
    return call_form(g, fs, x, d, start, length)


@spec("rot90/repeat_interleave/sum_to_size", covered(forms("rot90", inplace=False)
                                                     + forms("repeat_interleave", inplace=False))
      + ("Tensor.sum_to_size",), weight=2)
def _rot90(g):
    name = g.choice(["rot90", "repeat_interleave", "sum_to_size"])
    x = g.tensor()
    nd = g.ndim(x.i)
    if name == "rot90":
        args = []
        if g.chance(70):
            args.append(g.choice([1, 2, 3, 0, -1, 5]))
            if g.chance(60):
                args.append([g.dim(nd), g.dim(nd)] if g.chance(90) else [g.dim(nd)])
        return call_form(g, forms("rot90", inplace=False), x, *args)
    if name == "sum_to_size":
        shape = g.shape(x)
        target = [1 if g.chance(40) else s for s in shape]
        if target and g.chance(40):
            target = target[g.int(0, len(target)):]
        if g.chance(5):
            target = list(g.shape_())
        return Call("method", "sum_to_size", (x, *target) if g.chance(50) else (x, tuple(target)))
    kw = {}
    d = g.dim(nd) if g.chance(60) else None
    size = (g.shape(x)[d] if nd and -nd <= d < nd else 1) if d is not None else g.numel(x)
    if g.chance(50):
        reps = g.choice([0, 1, 2, 3, -1])
    elif g.chance(60):
        reps = Lit(np.array([g.int(0, 2) for _ in range(size)] if not g.chance(5) else [1, -1], dtype=np.int64),
                   "int64")
    else:
        reps = Lit(np.array(g.int(0, 3), dtype=np.int64), "int64")
    if d is not None:
        kw["dim"] = d
    if g.chance(15):
        kw["output_size"] = g.int(0, 6)
    if g.chance(5):  # repeat_interleave(repeats): the counts are the input
        return Call("fn", "repeat_interleave", (Lit(np.array([g.int(0, 3) for _ in range(g.int(0, 3))],
                                                             dtype=np.int64), "int64"),))
    return call_form(g, forms("repeat_interleave", inplace=False), x, reps, **kw)


@spec("scatter_reduce/index_reduce", covered(forms("scatter_reduce") + forms("index_reduce")), weight=2)
def _scatter_reduce(g):
    name = g.choice(["scatter_reduce", "index_reduce"])
    inplace = g.chance(30)
    x = inplace_target(g) if inplace else g.tensor()
    shape = g.shape(x)
    nd = len(shape)
    d = g.dim(nd)
    dd = d % max(nd, 1)
    n = shape[dd] if nd else 1
    reduce = g.choice(["sum", "prod", "mean", "amax", "amin"])  # index_reduce refuses "sum"
    kw = {"include_self": g.chance(50)} if g.chance(50) else {}
    fs = [f for f in forms(name) if f[1].endswith("_") == inplace]
    if name == "scatter_reduce":
        ishape = tuple(g.int(0, s) if i != dd else g.int(0, 3) for i, s in enumerate(shape))
        index = g.index_lit(n, ishape)
        if index.array.size and n:
            index = Lit(np.mod(index.array, n) if not g.chance(5) else index.array, "int64")
        src_shape = tuple(s + g.int(0, 1) for s in ishape) if g.chance(30) else ishape
    else:
        index = g.index_lit(n, (g.int(0, 3),))
        if index.array.size and n:
            index = Lit(np.mod(index.array, n) if not g.chance(5) else index.array, "int64")
        src_shape = list(shape)
        if nd and -nd <= d < nd:
            src_shape[d] = index.array.size
        src_shape = tuple(src_shape)
    src = g.tensor(lambda y: g.shape(y) == src_shape and g.dtype(y) == g.dtype(x), shape=src_shape,
                   dtype=g.dtype(x) if g.chance(85) else None)
    return call_form(g, fs, x, d, index, src, reduce, **kw)


@spec("put/fill_diagonal_", covered(forms("put")) + ("Tensor.fill_diagonal_",), weight=1)
def _put(g):
    name = g.choice(["put", "put_", "fill_diagonal_"])
    x = inplace_target(g) if name.endswith("_") else g.tensor()
    if name == "fill_diagonal_":
        return Call("method", name, (x, g.scalar()) + ((g.chance(50),) if g.chance(30) else ()))
    n = g.numel(x)
    index = g.index_lit(n, (g.int(0, 3),))
    k = index.array.size
    src = g.tensor(lambda y: g.numel(y) == k and g.dtype(y) == g.dtype(x), shape=(k,),
                   dtype=g.dtype(x) if g.chance(90) else None)
    kw = {"accumulate": g.chance(50)} if g.chance(40) else {}
    if name == "put":
        return call_form(g, forms("put", inplace=False), x, index, src, **kw)
    return Call("method", "put_", (x, index, src), kw)


@spec("nonzero_static", covered(forms("nonzero_static", inplace=False)), weight=1)
def _nonzero_static(g):
    x = g.tensor()
    kw = {"size": g.choice([0, 1, 3, 5, -1])}
    if g.chance(40):
        kw["fill_value"] = g.choice([-1, 0, 7])
    return call_form(g, forms("nonzero_static", inplace=False), x, **kw)


# ---------------------------------------------------------------------- flags, storage facts, quantization
_FLAG_ATTRS = ["is_cpu", "is_cuda", "is_ipu", "is_maia", "is_meta", "is_mkldnn", "is_mps", "is_mtia", "is_nested",
               "is_quantized", "is_sparse", "is_sparse_csr", "is_vulkan", "is_xla", "is_xpu", "layout", "itemsize",
               "nbytes"]
_FLAG_METHODS = ["is_complex", "is_conj", "is_neg", "is_signed", "is_inference", "is_distributed", "is_pinned",
                 "is_shared", "is_nonzero", "get_device", "storage_offset", "stride", "dim_order", "qscheme",
                 "q_scale", "q_zero_point", "q_per_channel_axis", "q_per_channel_scales",
                 "q_per_channel_zero_points", "int_repr", "dequantize"]
_FLAG_FNS = [n for n in ["is_complex", "is_conj", "is_neg", "is_signed", "is_inference", "is_nonzero", "dequantize",
                         "int_repr", "q_scale", "q_zero_point", "q_per_channel_axis", "q_per_channel_scales",
                         "q_per_channel_zero_points", "qscheme", "get_device", "is_same_size", "is_distributed"]
             if _both_have(n, "torch")]


@spec("flags", ["Tensor." + n for n in _FLAG_ATTRS + _FLAG_METHODS + ["is_same_size", "is_set_to"]] + _FLAG_FNS,
      weight=2)
def _flags(g):
    kind = g.choice(["attr", "method", "method", "fn", "pair"])
    x = g.tensor()
    if kind == "attr":
        return Call("attr", g.choice(_FLAG_ATTRS), (x,))
    if kind == "pair":
        name = g.choice(["is_same_size", "is_set_to"])
        y = x if g.chance(30) else g.tensor()
        return call_form(g, [("method", name)] + ([("fn", name)] if name in _FLAG_FNS else []), x, y)
    if kind == "fn":
        return Call("fn", g.choice(_FLAG_FNS), (x,))
    name = g.choice(_FLAG_METHODS)
    if name == "stride" and g.chance(50):
        return Call("method", name, (x, g.dim(g.ndim(x.i))))
    if name == "storage_offset" or name == "stride":
        x = g.tensor(lambda y: g.r.origin[y.i] in ("tensor", "Tensor.clone", "Tensor.contiguous"))
    return Call("method", name, (x,))


# ---------------------------------------------------------------------- random in-place fills (values not compared)
_RANDOM_FILLS = {"cauchy_": [(), (0.0, 1.0), (1.0, 0.5), (0.0, 0.0), (0.0, -1.0)],
                 "exponential_": [(), (1.0,), (2.5,), (0.0,), (-1.0,)],
                 "geometric_": [(0.5,), (1.0,), (0.0,), (1.5,)],
                 "log_normal_": [(), (0.0, 1.0), (1.0, 0.5), (0.0, 0.0), (0.0, -1.0)],
                 "random_": [(), (5,), (-2, 3), (0, 1), (3, 3), (2, -1), (0, 300)]}


@spec("random-fills", ["Tensor." + n for n in _RANDOM_FILLS] + ["Tensor.new_empty_strided"], weight=1)
def _random_fills(g):
    name = g.choice(list(_RANDOM_FILLS) + ["new_empty_strided"])
    x = g.leaf(rg=False)  # random in-place fills write only a fresh leaf
    if name == "new_empty_strided":
        shape = g.shape_()
        strides, acc = [], 1
        for s in reversed(shape):
            strides.insert(0, acc)
            acc *= max(s, 1)
        c = Call("method", name, (x, shape, tuple(strides)), {"dtype": DT(g.dtype_())} if g.chance(30) else {})
    else:
        c = Call("method", name, (x, *g.choice(_RANDOM_FILLS[name])))
    c.random = True
    c.pool = False
    return c


def crashes_pytorch(call, runner):
    """Calls that kill PyTorch 2.13's process (not an exception): never run them. See the report.

    ``int_min.div(-1, rounding_mode='trunc')`` dies of SIGFPE (floor division and remainder are fine), and so does
    ``lcm(int_min, 5)``: its gcd is -1 there and lcm divides int_min by it.
    """
    if call.op in ("lcm", "Tensor.lcm", "Tensor.lcm_"):
        for a in call.args:
            if isinstance(a, Ref):
                t = runner.there[a.i]
                if not t.dtype.is_floating_point and t.dtype != torch.bool and t.numel() \
                        and bool((t == torch.iinfo(t.dtype).min).any()):
                    return True
    if call.kwargs.get("rounding_mode") == "trunc":
        for a in call.args:
            if isinstance(a, Ref):
                t = runner.there[a.i]
                if not t.dtype.is_floating_point and t.dtype != torch.bool and t.numel():
                    if bool((t == torch.iinfo(t.dtype).min).any()):
                        return True
    return False


# ---------------------------------------------------------------------- the program
def generate(src, runner, n_calls=None):
    """Draw and run a program of ``n_calls`` calls (random if None) on ``runner``; returns the loss seed."""
    g = Gen(src, runner)
    weights = [(s.weight, k) for k, s in enumerate(SPECS)]
    n_calls = g.int(1, 8) if n_calls is None else n_calls
    try:
        for _ in range(n_calls):
            if runner.stopped:
                break
            s = SPECS[g.weighted(weights)]
            call = s.gen(g)
            if call is not None and not runner.stopped and not crashes_pytorch(call, runner):
                runner.run(call)
    except Stop:
        pass
    return g.int(0, 255)
