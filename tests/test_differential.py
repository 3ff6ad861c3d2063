"""Differential test: random small programs run in tapegrad and in PyTorch must agree (issue 9).

Each program makes random tensors (0-d, empty, every dtype, NaN/inf/-0.0 and extreme values, leaves requiring
grad) and calls random ops from a table of the whole public op library (``tests/differential/ops.py``), with
views, in-place writes through them, indexing with mixed keys, dims in and out of range, dtype=/alpha=/keepdim
arguments and Python scalars of each kind. After every call both libraries must agree on: raising or not, the
results' types, shapes, dtypes, values (NaN places, infinities, signs of zeros; float tolerances per dtype) and
requires_grad, and on every tensor made so far (a write through a view must reach its base). At the end a
weighted sum of the outputs is back-propagated in both, and every leaf's ``.grad`` must agree (None vs zeros too).

Known discrepancies: :data:`KNOWN` lists, one entry per *class* (not per example), the differences the library
still has, each with the narrowest condition that recognizes it, a minimal repro and the issue-9 bullet it
belongs to. A program that hits a known class ends there and passes; anything else fails. When you fix a class,
delete its entry: ``test_known_entry_still_differs`` fails as soon as an entry's repro agrees with PyTorch, so the
table cannot go stale, and the random programs then guard the fix.

Fast profile: a few hundred programs (a few seconds); ``HYPOTHESIS_PROFILE=thorough``: thousands. For hundreds of
thousands, run the standalone driver, which collects every distinct discrepancy with a shrunk repro:
``PYTHONPATH=$PWD python tests/differential/driver.py --seeds 0:100000 --out differential.json``.
"""

from __future__ import annotations

import functools
import math
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from differential import core, ops  # noqa: E402
from hypothesis import given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tapegrad as tg  # noqa: E402


# ---------------------------------------------------------------------- the KNOWN table
@dataclass(frozen=True)
class Known:
    """A class of discrepancies the library still has (or, with ``status`` other than "bug", keeps on purpose).

    ``ops``: the op names (``Call.op``: ``add``, ``Tensor.add_``, ``+``, ``r+`` (scalar first), ``+=``, ``[]``,
    ``[]=``, ``F.relu``) it shows in; ``kinds``: what differs (``tapegrad-raises``, ``pytorch-raises``, ``shape``,
    ``dtype``, ``requires_grad``, ``nan``, ``inf``, ``signed-zero``, ``value``, ``len``, ``state-*`` for another
    tensor of the program (a view or base), ``grad-*`` / ``backward-*`` for the final backward, filed under the call
    that introduced it); ``when(d)``: the narrow condition on the call's inputs and arguments (``d`` is a
    :class:`~differential.core.Discrepancy`); ``repro``: a minimal program whose last line differs (run with
    ``torch`` bound to each library), or a tuple of them where the class shows by the CPU's MKL/oneDNN kernels
    (the reference machine's first, tapegrad._cpu; at least one must differ on the machine the tests run on);
    ``bullet``: where issue 9 lists it ("new" if it does not); ``file``: the file that must change; ``status``:
    "bug", or "by-design" / "pytorch-bug" for differences to keep; ``host``: for a class only some CPUs show
    (PyTorch's MKL rounds differently on them), whether this one does: elsewhere the repro is not checked (the
    entry still matches there; its condition is what keeps it narrow).
    """

    key: str
    ops: frozenset
    kinds: frozenset
    when: object
    repro: tuple
    bullet: str
    file: str
    status: str = "bug"
    host: object = None


KNOWN: list[Known] = []


def known_class(key, ops_, kinds, when, repro, bullet, file, status="bug", host=None):
    repros = (repro,) if isinstance(repro, str) else repro
    KNOWN.append(Known(key, frozenset(ops_), frozenset([kinds] if isinstance(kinds, str) else kinds), when,
                       tuple(textwrap.dedent(r).strip() for r in repros), bullet, file, status, host))


def known(d):
    """The key of the KNOWN entry that covers discrepancy ``d``, or None."""
    for k in KNOWN:
        if d.op in k.ops and d.kind in k.kinds:
            try:
                if k.when(d):
                    return k.key
            except Exception:  # noqa: BLE001 - a condition that cannot be evaluated does not match
                continue
    return None


# -- words for the conditions
def fam(*names, sym=None, inplace=True):
    """The op names of functions ``names`` in every form: ``add``, ``Tensor.add``, ``Tensor.add_`` and, for an
    operator symbol, ``+``, ``r+``, ``+=``."""
    out = set()
    for n in names:
        out |= {n, "Tensor." + n} | ({"Tensor." + n + "_"} if inplace else set())
    if sym:
        out |= {sym, "r" + sym, sym + "="}
    return out


def F(*names):
    return {"F." + n for n in names}


def dt(t):
    return core.dtype_name(t)


def isf(t):
    return t.dtype.is_floating_point


def isb(t):
    return t.dtype == torch.bool


def isint(t):
    return not isf(t) and not isb(t)


def x0(d):
    return d.inputs[0]


def nums(d):
    """The Python numbers among the call's arguments (bools included)."""
    out = []

    def walk(a):
        if isinstance(a, (list, tuple)):
            for x in a:
                walk(x)
        elif isinstance(a, dict):
            for x in a.values():
                walk(x)
        elif isinstance(a, (bool, int, float)):
            out.append(a)

    walk(d.call.args)
    walk(d.call.kwargs)
    return out


def arg(d, i):
    a = d.call.args
    return a[i] if len(a) > i else None


def kw(d, name):
    return d.call.kwargs.get(name)


def f_inplace(d):
    """A functional called with ``inplace=True`` (keyword or positional): ``F.relu6(x, inplace=True)``."""
    return d.call is not None and (kw(d, "inplace") is True or any(a is True for a in d.call.args[1:]))


def torch_says(d, *texts):
    return any(t in d.error_torch for t in texts)


def here_says(d, *texts):
    return any(t in d.error_here for t in texts)


def any_in(d, pred):
    return any(pred(t) for t in d.inputs)


def zero_d(t):
    return t.dim() == 0


def empty(t):
    return t.numel() == 0


def nonfinite(t):
    return isf(t) and t.numel() > 0 and not bool(torch.isfinite(t).all())


def has_zero(t):
    return t.numel() > 0 and bool((t == 0).any())


def big(t):
    """Magnitudes whose square overflows the dtype, or tiny ones whose square underflows to zero."""
    if not isf(t) or t.numel() == 0:
        return False
    a = t.detach().abs().double()
    a = a[torch.isfinite(a) & (a > 0)]
    info = torch.finfo(t.dtype)
    return bool(a.numel()) and bool((a > info.max ** 0.5).any() or (a < info.tiny ** 0.5).any())


@functools.cache
def mkl_fuses():
    """Whether this host's MKL (PyTorch's CPU BLAS and LAPACK) takes its fused multiply-add paths, as on the Intel
    CPUs tapegrad's LAPACK order was measured on: getrf's update of [[3, 1.5], [1, 0.5]] leaves the pivot
    2.8e-17 (tapegrad's); on the AMD EPYC hosts we ran MKL rounds the product first, and the pivot is 0."""
    return bool(torch.linalg.lu_factor_ex(torch.tensor([[3.0, 1.5], [1.0, 0.5]], dtype=torch.float64)).LU[1, 1] != 0)


def mkl_rounds_twice():
    return not mkl_fuses()


def large(t):
    """Magnitudes at which a one-pass variance (E[x^2] - E[x]^2) in the tensor's dtype loses every digit."""
    if not isf(t) or t.numel() == 0:
        return False
    a = t.detach().abs().double()
    a = a[torch.isfinite(a)]
    limit = {torch.float16: 30.0, torch.float32: 1e3, torch.float64: 1e7}[t.dtype]
    return bool(a.numel()) and bool((a > limit).any())


def dims_oob(d):
    """A dim argument out of range for the first input (PyTorch allows -1 and 0 on a 0-d tensor only)."""
    n = max(x0(d).dim(), 1)
    cands = [arg(d, 1), kw(d, "dim"), arg(d, 2)]
    for c in cands:
        for v in (c if isinstance(c, (list, tuple)) else [c]):
            if isinstance(v, int) and not isinstance(v, bool) and not -n <= v < n:
                return True
    return False


def target_readonly(d):
    """tapegrad's target array is read-only (numpy's diagonal(), broadcast_to, 0-d reduction results)."""
    a = d.here_inputs[0].numpy(force=True)
    return not (isinstance(a, np.ndarray) and a.flags.writeable)


VIEW_OPS = {"Tensor.view", "Tensor.reshape", "reshape", "Tensor.t", "t", "Tensor.transpose", "transpose",
            "Tensor.permute", "permute", "Tensor.narrow", "narrow", "Tensor.select", "select", "[]", "Tensor.squeeze",
            "squeeze", "Tensor.unsqueeze", "unsqueeze", "Tensor.diagonal", "diagonal", "Tensor.expand", "expand",
            "Tensor.expand_as", "broadcast_to", "Tensor.broadcast_to", "broadcast_tensors", "Tensor.split", "split",
            "Tensor.chunk", "chunk", "Tensor.unbind", "unbind", "Tensor.detach", "Tensor.flatten", "flatten",
            "Tensor.unflatten", "unflatten", "Tensor.swapaxes", "swapaxes", "Tensor.swapdims", "swapdims",
            "Tensor.movedim", "movedim", "Tensor.moveaxis", "moveaxis", "Tensor.T", "Tensor.mT", "Tensor.H",
            "Tensor.mH", "Tensor.adjoint", "adjoint", "Tensor.view_as", "Tensor.reshape_as", "Tensor.contiguous",
            "Tensor.real", "Tensor.float", "Tensor.to", "Tensor.type", "Tensor.type_as", "Tensor.double",
            "Tensor.half", "Tensor.long", "Tensor.int", "Tensor.bool", "as_tensor", "hstack", "vstack"}
INPLACE = ({"[]=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^=", "@="}
           | {"Tensor." + n for n in dir(tg.Tensor) if n.endswith("_") and not n.startswith("_")}
           | F("relu_") | {"relu_"} | {"nn.init." + n for n in ("zeros_", "ones_", "constant_", "eye_", "dirac_")})
ALL_OPS = {c for s in ops.SPECS for c in s.covers} | INPLACE | {"tensor", "backward"}
ELEMENTWISE_F = F("relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
                  "softplus", "logsigmoid", "softsign", "hardsigmoid", "hardswish", "sigmoid", "tanh")
LOSS_F = F("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div", "cross_entropy", "nll_loss")
NORM_F = F("layer_norm", "batch_norm", "group_norm", "normalize", "cosine_similarity") | {"layer_norm",
                                                                                           "cosine_similarity"}
SOFTMAX = F("softmax", "log_softmax", "softmin") | fam("softmax", "log_softmax", inplace=False)
REDUCTIONS = fam("sum", "mean", "prod", "var", "std", "var_mean", "std_mean", "max", "min", "amax", "amin", "argmax",
                 "argmin", "logsumexp", "cumsum", "cumprod", "norm", "all", "any", "count_nonzero", "median",
                 "nansum", inplace=False)
MATMUL = fam("matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", inplace=False) | {"@", "r@", "@=", "einsum"}
B = {  # issue 9's bullets
    "int-grad": "Silent wrong values: an integer or bool tensor must never require grad, by any route",
    "views": "Silent wrong values: writes through views (and to a base seen through an existing view)",
    "refuse": "Silent wrong values: ops that PyTorch refuses must not return a value here (dim/dtype/operand "
              "checks on 0-d, empty and bool/int inputs)",
    "indexing": "Found by comparison: indexing that mixes integers, slices and index tensors",
    "promotion": "Found by comparison: dtype promotion, PyTorch's category rules everywhere",
    "rg-lost": "Found by comparison: requires_grad lost",
    "edges": "Found by comparison: edges (chunk of empty, std_mean with inf, signs of zero, gradients at "
             "NaN/inf/zeros)",
    "errors": "Found by comparison: errors where PyTorch computes",
    "values": "Found by comparison: values where PyTorch raises",
    "new": "new (not listed in issue 9)",
}
T, E, R, S, IX, L, C, SO, SA, NF, CR, NN = ("tapegrad/_tensor.py", "tapegrad/ops/elementwise.py",
                                             "tapegrad/ops/reduce.py", "tapegrad/ops/shape.py",
                                             "tapegrad/ops/index.py", "tapegrad/ops/linalg.py",
                                             "tapegrad/ops/conv.py", "tapegrad/ops/sort.py",
                                             "tapegrad/ops/sampling.py", "tapegrad/nn/functional.py",
                                             "tapegrad/creation.py", "tapegrad/nn/")
RAISES_HERE, RAISES_THERE = "tapegrad-raises", "pytorch-raises"
STATE = {f"state-{k}" for k in ("value", "nan", "inf", "signed-zero", "requires_grad", "shape", "dtype")}
GRADS = {"grad-value", "grad-nan", "grad-inf", "grad-None", "grad-shape"}

# ---- tapegrad/_tensor.py: requires_grad, the in-place machinery, views
known_class(
    "inplace-saved-values", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "modified by an inplace operation", "has been detached in-place") and (
        d.call is None or d.op not in INPLACE | ELEMENTWISE_F or (d.inputs and x0(d).requires_grad
                                                                  and not d.call.no_grad)),
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y.exp()
    z.mul_(2)
    z.sum().backward()
    x.grad
    """, "README: tapegrad keeps the values an earlier op needs, where PyTorch raises", T, status="by-design")
known_class(
    "pytorch-int-requires-grad", INPLACE, {"requires_grad", "state-requires_grad"},
    lambda d: not isf(x0(d)) and any(t.requires_grad for t in d.inputs[1:]),
    """
    x = torch.tensor([1, 2])
    x.masked_fill_(torch.tensor(True), torch.tensor(1.5, requires_grad=True))
    x.requires_grad
    """, "PyTorch's own inconsistency: fill_/masked_fill_/setitem of a value that requires grad make an int or "
         "bool tensor require grad; tapegrad keeps it False, as issue 9 wants", T, status="pytorch-bug")
known_class(
    "partial-writes-on-error", INPLACE, {"state-after-error-value", "state-after-error-nan",
                                         "state-after-error-inf", "state-after-error-signed-zero"},
    lambda d: True,
    """
    x = torch.tensor([4, 6], dtype=torch.int64)
    try:
        x //= torch.tensor([2, 0])
    except Exception:
        pass
    x
    """, "PyTorch writes part of the result before an integer division by zero or an out-of-range index raises; "
         "tapegrad's failed writes leave the tensor as it was", T, status="by-design")
# ---- tapegrad/ops/elementwise.py and tapegrad/dtypes.py
ARITH = fam("add", "sub", "subtract", "rsub", sym=None) | {"+", "r+", "+=", "-", "r-", "-="}
known_class(
    "no-derivative-in-pytorch", fam("floor_divide", "remainder", sym="//") | {"r%"}, "backward-pytorch-raises",
    lambda d: torch_says(d, "derivative for aten::floor_divide", "derivative for aten::remainder"),
    """
    x = torch.tensor([1.5, 2.5], requires_grad=True)
    (x // 1).sum().backward()
    x.grad
    """, B["new"] + ": floor_divide and number % tensor (remainder.Scalar_Tensor) have no derivative in PyTorch "
                    "(their backward raises); here floor_divide's gradient is zeros and number % tensor's is "
                    "-floor(a / b), which tests/test_elementwise.py asserts (test_kink_conventions, "
                    "test_rounded_division_forward_and_zero_gradient, the rmod_scalar row of UNARY): both are the "
                    "derivatives almost everywhere (checked against finite differences), so tapegrad computes "
                    "where PyTorch refuses; README says so", E, status="by-design")
known_class(
    "pytorch-backward-bugs", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "INTERNAL ASSERT", "returned an invalid gradient", "Negation, the `-` operator",
                         "Subtraction, the `-` operator", "In-place elu backward calculation",
                         "doesn't match the broadcast shape", "ZeroTensors are immutable") or (
        d.op in fam("pow", sym="**") and torch_says(d, "derivative for aten::floor_divide")),
    """
    x = torch.tensor(0.0, requires_grad=True)
    (False ** x).backward()
    x.grad
    """, "PyTorch 2.13's own backward failures (bool base of **, atan2/pow with bool operands, scatter_add with an "
         "index smaller than src): tapegrad computes", E, status="pytorch-bug")
known_class(
    "pytorch-int-operand-grad", fam("atan2", "arctan2"), GRADS,
    lambda d: any(not isf(t) for t in d.inputs),
    """
    x = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
    torch.atan2(x, torch.tensor(32767, dtype=torch.int16)).backward()
    x.grad
    """, "PyTorch 2.13 computes atan2's gradient in the integer operand's dtype (overflow): tapegrad's is right",
    E, status="pytorch-bug")

def pow_false_upstream(d):
    """An input made by pow/** that holds ones only (x ** False): an inf gradient into it meets PyTorch's
    0 * x ** -1."""
    return any(o.rsplit(".", 1)[-1].rstrip("_") in ("pow", "**", "r**", "**=") and isf(t) and t.numel() > 0
               and bool((t == 1).all()) for t, o in zip(d.inputs, d.origins))


known_class(
    "pytorch-pow-false-grad", ALL_OPS, GRADS,
    lambda d: d.op in fam("pow", sym="**") and any(v is False for v in nums(d)) or (
        d.kind == "grad-nan" and pow_false_upstream(d)),
    """
    x = torch.tensor([0.0, 2.0], requires_grad=True)
    (x ** False).sum().backward()
    x.grad
    """, "PyTorch 2.13's pow backward does not see a bool exponent False as 0: its gradient is 0 * x ** -1, NaN at "
         "0 and NaN, and NaN for an inf incoming gradient (asin_ of its ones downstream; for exponent 0 it is "
         "0); tapegrad's 0 is right", E, status="pytorch-bug")
SINGULAR = {"acos": lambda t: t.abs() >= 1, "asin": lambda t: t.abs() >= 1, "arccos": lambda t: t.abs() >= 1,
            "arcsin": lambda t: t.abs() >= 1, "log": lambda t: t <= 0, "log2": lambda t: t <= 0,
            "log10": lambda t: t <= 0, "log1p": lambda t: t <= -1, "sqrt": lambda t: t <= 0, "rsqrt": lambda t: t <= 0,
            "reciprocal": lambda t: t == 0, "r/": lambda t: t == 0, "/": lambda t: t == 0,
            "div": lambda t: t == 0, "divide": lambda t: t == 0}


def singular(d):
    """Inputs where the op's gradient is inf or NaN: overflow, non-finite values, the edge of the domain."""
    def one(t):
        if not isf(t) or t.numel() == 0:
            return False
        if nonfinite(t) or big(t):
            return True
        a = t.detach()
        limit = {torch.float16: 10.0, torch.float32: 80.0, torch.float64: 700.0}[t.dtype]
        if float(a.abs().max()) > limit:
            return True
        test = SINGULAR.get(d.op.split(".")[-1].rstrip("_"))
        return bool(test(a).any()) if test else False
    return any_in(d, one)


known_class(
    "lerp-huge-weight", fam("lerp"), GRADS | {"value", "nan", "inf"},
    lambda d: any(isinstance(v, float) and abs(v) > 1e6 for v in nums(d)),
    """
    v0 = torch.tensor([-1.0, 0.0], requires_grad=True)
    v1 = v0.lerp(v0, 1e+30)
    v2 = torch.permute(v0, [-1])
    w0, w1, w2 = torch.tensor([-0.5, 2.0]), torch.tensor([1.0, -0.5]), torch.tensor([1.25, 1.0])
    ((v0 * w0).sum().double() + (v1 * w1).sum().double() + (v2 * w2).sum().double()).backward()
    v0.grad
    """, "lerp with a huge weight: its two gradient terms, (1 - w) g and w g, are -1e30 and 1e30, and the other "
         "gradients of the leaf are absorbed or not depending on the order of accumulation (both libraries are "
         "'right')", E, status="by-design")

known_class(
    "pytorch-lerp-int-weight-grad", fam("lerp"), GRADS,
    lambda d: any(zero_d(t) and not isf(t) for t in d.inputs[1:]),
    """
    x = torch.tensor([1.5, 3.0], dtype=torch.float64, requires_grad=True)
    torch.lerp(x, torch.tensor([0.5, 1.0], dtype=torch.float64), torch.tensor(3, dtype=torch.uint8)).sum().backward()
    x.grad
    """, "PyTorch 2.13's lerp backward with a 0-d integer weight computes 1 - weight in the weight's dtype (uint8: "
         "1 - 3 = 254, a gradient of 254 for input); tapegrad's -2 is right", E, status="pytorch-bug")
known_class(
    "same-operand-grad-cancel", fam("atan2", "arctan2", "div", "divide", "true_divide", "sub", sym="/")
    | fam("addcdiv", "addcmul"), GRADS,
    lambda d: len(refs := [a for a in d.call.args if isinstance(a, core.Ref)]) > len(set(refs)),
    """
    v0 = torch.tensor([[[-3.0, 2.0]], [[1e-07, -3.0]]], requires_grad=True)
    v1 = v0.atan2(v0)
    ((v0 * torch.tensor([[[0.75, -2.0]], [[1.25, 1.0]]])).sum().double()
     + (v1 * torch.tensor([[[-1.5, 0.75]], [[-2.0, 1.25]]])).sum().double()).backward()
    v0.grad
    """, "f(x, x) for atan2/div/true_divide at small x: the two partial gradients are +-1/(2x) (5e6 here) and "
         "cancel to a different rounding in each library (and absorb the leaf's other gradients); addcdiv(x, x, x) "
         "likewise (1/x and -x/x^2)", E, status="by-design")

ATAN2 = fam("atan2", "arctan2")


def tiny_related_divisor(d):
    """x / g(x) with both operands requiring grad and a nonzero divisor below 1e-9 (float64; 1e-4 for float32, 1e-2
    for float16): the quotient's two partial gradients, 1/b and -a/b^2, are huge and, where a and b grow from one
    leaf (v / asinh(v)), cancel at that leaf. atan2(y, x) likewise, its divisor sqrt(x^2 + y^2): the partials
    x / (x^2 + y^2) and -y / (x^2 + y^2) (atan2(v, 4 v) at 1e-30: 2.35e29 each, cancelling at v)."""
    if len(d.inputs) < 2 or not all(isf(t) and t.requires_grad for t in d.inputs[:2]):
        return False
    b = d.inputs[1].detach().double().abs()
    if d.op in ATAN2:
        b = torch.hypot(d.inputs[0].detach().double(), b)
    b = b[(b > 0) & torch.isfinite(b)]
    limit = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 1e-2}.get(d.inputs[1].dtype, 0.0)
    return bool(b.numel()) and float(b.min()) < limit


known_class(
    "tiny-divisor-grad-cancel", fam("div", "divide", "true_divide", sym="/") | ATAN2, GRADS, tiny_related_divisor,
    ("""
    v = torch.tensor([[3.0, 1e5, 0.5, 1e-30]], dtype=torch.float64, requires_grad=True)
    a = v.asinh()
    ((v * torch.tensor([[-0.5, 2.0, 0.25, -1.5]], dtype=torch.float64)).sum()
     + (a * torch.tensor([[1.0, -0.5, 2.0, 0.25]], dtype=torch.float64)).sum()
     + (v.div(a) * torch.tensor([[1.25, 1.0, -0.5, 2.0]], dtype=torch.float64)).sum()).backward()
    v.grad[0, 3]
    """, """
    v = torch.tensor(1e-30, dtype=torch.float64, requires_grad=True)
    a = v.arctan2(torch.subtract(v, v, alpha=-3))
    ((v * 0.25) + a * -0.5).backward()
    v.grad
    """), "x / g(x) with g(x) ~ x tiny (v / asinh(v) at 1e-30): the quotient's partial gradients are 2e30 and -2e30 "
          "at the same leaf, and the leaf's other gradients (-1.5 + 0.25) are absorbed or not by the order of "
          "accumulation, as same-operand-grad-cancel (PyTorch 0, tapegrad -1.5: both the rounding of an exact 0 "
          "plus the rest); atan2(v, g(v)) alike (atan2(v, 4 v) at 1e-30: +-2.35e29 beside 0.25; PyTorch's engine "
          "runs the ready node recorded last first, tapegrad's the last made ready, without sequence numbers)",
    E, status="by-design")

known_class(
    "not-implemented-derivative-of-a-leaf-turned-off", {"Tensor.requires_grad_"}, "backward-pytorch-raises",
    lambda d: torch_says(d, "is not implemented") and (
        any(a is False for a in d.call.args) or kw(d, "requires_grad") is False),
    """
    x = torch.tensor([0.5, 3.0], dtype=torch.float64, requires_grad=True)
    y = x.igammac(torch.tensor([1.0, 2.0], dtype=torch.float64))
    x.requires_grad_(False)
    y.sum().backward()
    """, "README: a leaf whose requires_grad is turned off after an op used it gets no gradient in both libraries; "
         "PyTorch still runs the op's backward for it and raises where that derivative is not implemented "
         "(igammac's input); tapegrad skips the gradient nobody receives", "tapegrad/autograd/engine.py",
    status="by-design")

known_class(
    "not-implemented-derivative-behind-undefined-gradient", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "is not implemented") and any(
        o.rsplit(".", 1)[-1] in ("igamma", "igammac", "histogram") for o in d.origins),
    """
    x = torch.tensor([1.1], requires_grad=True)
    y = x.igammac(torch.tensor(-2.5)).norm(0, dim=-1)
    y.backward()
    x.grad
    """, "README: norm(x, 0) sends no gradient back (None in both libraries); PyTorch 2.13's engine still runs the "
         "node before it and raises where that derivative is not implemented (igammac's input; histogram's, seed "
         "1455768); tapegrad skips a node that receives no gradient", "tapegrad/autograd/engine.py", status="by-design")

known_class(
    "pytorch-pad-empty-negative-size", F("pad"), RAISES_HERE,
    lambda d: here_says(d, "too small for padding") and any(empty(t) for t in d.inputs),
    """
    torch.nn.functional.pad(torch.zeros((0, 1, 1, 4)), (0, -1, -1, -1), mode='reflect').shape
    """, "README: PyTorch 2.13's reflect/replicate pad of an empty batch skips its size check and returns a tensor "
         "with a negative size (torch.Size([0, 1, -1, 3])); tapegrad refuses the padding as for any batch",
    "tapegrad/nn/functional.py", status="pytorch-bug")

known_class(
    "pytorch-kron-misses-inplace-write", ALL_OPS, GRADS,
    lambda d: any(r.rsplit(".", 1)[-1] == "kron" for r in d.readers),
    """
    a = torch.tensor([1.0, -1.0], requires_grad=True)
    b = a * 1
    k = torch.kron(b, a * 2)
    b.copy_(torch.tensor([5.0, 7.0]))
    k.sum().backward()
    a.grad
    """, "**PyTorch 2.13 bug, silent:** kron saves its operands through _unsafe_view, which does not share their "
         "version counter, so an in-place write into an operand after kron goes unnoticed and kron's backward "
         "uses the written values: a wrong gradient, no error (sum(kron(a, 2a)) = 2 sum(a)^2 has the gradient "
         "4 sum(a) = [0, 0] at [1, -1]; PyTorch gives [24, 24] from the written [5, 7]); tapegrad keeps the "
         "values kron read",
    "tapegrad/ops/linalg.py", status="pytorch-bug")

known_class(
    "view-before-base-requires-grad", {"Tensor.requires_grad="}, GRADS | {"backward-tapegrad-raises",
                                                                         "backward-pytorch-raises"},
    lambda d: d.shared > 0,
    """
    x = torch.tensor([1.5, 2.0])
    v = x[0:1]
    x.requires_grad = True
    (v * 2).sum().backward()
    x.grad
    """, "README: a view taken before its base is set to require grad passes its gradient to the base here "
         "(AsStridedBackward0 of it: x.grad is [2, 0]); PyTorch 2.13's view becomes a leaf of its own whose "
         "gradient reaches nothing (x.grad None), and where a not-implemented derivative lies on that path "
         "(igammac's input) only tapegrad's backward meets it", T, status="by-design")

FLOAT_BITS = {"float16": 16, "bfloat16": 16, "float32": 32, "float64": 64}


def narrow_twice(reads, wide):
    """``reads`` (pool index, dtype name) of one call name one float tensor twice, narrower than dtype ``wide``."""
    idx = [i for i, _ in reads]
    return any(idx.count(i) > 1 and FLOAT_BITS.get(dn, 99) < FLOAT_BITS.get(wide, 0) for i, dn in reads)


def narrow_operand_twice(d):
    """One float16/float32 tensor used as two operands of one op whose result is wider (addcdiv(x64, t32, t32)):
    the call itself, or the call that made one of its inputs (a later op's gradient shows it)."""
    refs = core._refs(d.call.args) + core._refs(d.call.kwargs) if d.call is not None else []
    wide = max((dt(t) for t in d.inputs if isf(t)), key=lambda n: FLOAT_BITS.get(n, 0), default="")
    if narrow_twice([(r.i, dt(t)) for r, t in zip(refs, d.inputs)], wide):
        return True
    return any(isf(t) and narrow_twice(reads, dt(t)) for t, reads in zip(d.inputs, d.maker_reads))


known_class(
    "narrow-operand-twice-grad", ALL_OPS, "grad-value", narrow_operand_twice,
    """
    v0 = torch.tensor([[[2.0, 0.0, -3.0, 3.0], [3.0, -2.5, 1.5, -1.0], [3.0, 0.5, -3.0, 2.0]]], dtype=torch.float64,
                      requires_grad=True)
    v2 = torch.tensor([[[0.30000001192092896, -0.44999998807907104, -0.699999988079071, -1.899999976158142],
                        [0.8500000238418579, 1.100000023841858, 2.5999999046325684, 2.5999999046325684],
                        [2.5999999046325684, -2.200000047683716, -0.699999988079071, -0.699999988079071]]],
                      requires_grad=True)
    v3 = torch.addcdiv(v0 ** v0, v2, v2)
    v5 = v3.scatter_reduce_(2, torch.tensor([[[1], [0]]]), torch.tensor([[[1e-07], [1e-07]]], dtype=torch.float64),
                            'prod', include_self=True)
    v10 = v5.ldexp(v3)
    w2 = torch.tensor([[[2.0, 0.25, -1.5, 0.75], [-2.0, 1.25, 1.0, -0.5], [2.0, 0.25, -1.5, 0.75]]])
    w3 = torch.tensor([[[-0.5, 2.0, 0.25, -1.5], [0.75, -2.0, 1.25, 1.0], [-0.5, 2.0, 0.25, -1.5]]]).double()
    w5 = torch.tensor([[[1.25, 1.0, -0.5, 2.0], [0.25, -1.5, 0.75, -2.0], [1.25, 1.0, -0.5, 2.0]]], dtype=torch.float64)
    w10 = torch.tensor([[[2.0, 0.25, -1.5, 0.75], [-2.0, 1.25, 1.0, -0.5], [2.0, 0.25, -1.5, 0.75]]]).double()
    ((v2 * w2).sum().double() + (v3 * w3).sum() + (v5 * w5).sum() + (v10 * w10).sum()).backward()
    v2.grad
    """, "README: one float32 (or float16) tensor t as two operands of an op whose result is wider (addcdiv(x64, t, "
         "t) = x + t / t): its two gradients (g / t and -g t / t^2, each computed as PyTorch's formula) cancel; "
         "PyTorch rounds each to t's dtype before their sum, tapegrad's engine sums them first, so under a huge "
         "incoming gradient (ldexp(y, y): 1e9) the residues differ (0.75 against 0 in seed 1423668's program)",
    "tapegrad/autograd/engine.py", status="by-design")

# ---- tapegrad/ops/reduce.py
def correction(d):
    """The correction a var/std call uses (PyTorch's default 1; 0 with unbiased=False)."""
    c = kw(d, "correction")
    return c if c is not None else (0 if kw(d, "unbiased") is False else 1)


def reduced_count(d):
    """How many values a reduction over the call's dim argument combines."""
    x, dim = x0(d), kw(d, "dim") if kw(d, "dim") is not None else arg(d, 1)
    if dim is None or dim in ((), []) or x.dim() == 0:
        return x.numel()
    dims = dim if isinstance(dim, (list, tuple)) else [dim]
    return math.prod(x.shape[k] for k in dims)


known_class(
    "pytorch-var-empty-dim-grad", fam("var", "std", "var_mean", "std_mean", inplace=False), GRADS,
    lambda d: any(a in ((), []) for a in list(d.call.args[1:2]) + [kw(d, "dim")]),
    """
    x = torch.tensor([0.85, 0.05, -1.9, 0.05], dtype=torch.float64, requires_grad=True)
    torch.std(x, (), correction=0).backward()
    x.grad
    """, B["edges"] + " (\"one std gradient disagreed outright\": PyTorch 2.13's var/std backward with dim=() "
                      "or [] uses N = 1 although the forward reduces every dim; tapegrad's gradient is right)",
    R, status="pytorch-bug")
known_class(
    "logsumexp-empty-dim", fam("logsumexp", inplace=False), RAISES_THERE,
    lambda d: torch_says(d, "doesn't match the broadcast shape"),
    """
    torch.tensor([1.0, 2.0]).logsumexp(())
    """, "PyTorch 2.13's logsumexp(dim=()) fails with a shape error; tapegrad reduces every dim", R,
    status="pytorch-bug")
def big_sum(t):
    """Values whose sum of squares overflows the dtype."""
    if not isf(t) or t.numel() == 0:
        return False
    a = t.detach().double().abs()
    a = a[torch.isfinite(a)]
    return bool(a.numel()) and float((a * a).sum()) > torch.finfo(t.dtype).max or big(t)


def noise_of_a_sum(d):
    """An input made by a sum (or product) whose values already differed between the libraries beyond a relative
    1e-3 before the call: the driver accepted them only as the rounding of terms that cancel (its tolerance
    scales with the terms, ``core._scale``), so what the call computes from them is that rounding, amplified
    (-inf * 1.4e-17 is -inf, -inf * 0 NaN). A forward discrepancy of an out-of-place call reads tapegrad's
    inputs as they are (the call did not write them)."""
    before = d.here_before or ([] if d.op in INPLACE or f_inplace(d) else d.here_inputs)
    for t, here, o in zip(d.inputs, before, d.origins):
        base = o.rsplit(".", 1)[-1].rstrip("_")
        if (base in core.SUMS or base in core.PRODUCTS) and isf(t) and here is not None and t.numel() \
                and tuple(here.shape) == tuple(t.shape):
            a, b = here.numpy().astype(np.float64), t.detach().double().numpy()
            if not np.allclose(a, b, rtol=1e-3, atol=0, equal_nan=True):
                return True
    return False


known_class(
    "sum-cancellation-noise", ALL_OPS, {"grad-value", "grad-nan", "grad-inf", "value", "nan", "inf"}, noise_of_a_sum,
    """
    x = torch.tensor([-2.5, 3e38, 1e-30, 1.0, -3.0, 0.5, 0.0, 0.0, 1.5, 2.0, -3e38, 0.0], requires_grad=True)
    x.sum().expm1().backward()
    x.grad
    """, "a float32 sum whose terms cancel (3e38 - 3e38 beside a few units) is the rounding of its order of "
         "summation: numpy's pairwise sum and PyTorch's vectorized one keep different small terms (0 vs -1.5 in "
         "the driver's program), both within n eps max|x| of the exact sum, so a gradient computed from the sum "
         "(expm1's exp(sum)) differs by that rounding, amplified; so does a value computed from it (-inf times "
         "adaptive_avg_pool2d's mean of -0.45, -0.7, 0.85, 0.3: 1.4e-17 in PyTorch, 0 here)", R, status="by-design")
def big_power_sum(d):
    """norm(x, p) of values whose sum of |x|^p overflows the dtype (p finite and above 2: the 2-norm's is big_sum)."""
    p = norm_p(d) if d.op in fam("norm", inplace=False) else None
    t = x0(d)
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 2 < p < math.inf or not isf(t) or not t.numel():
        return False
    a = t.detach().double().abs()
    a = a[torch.isfinite(a)]
    with np.errstate(over="ignore"):
        return bool(a.numel()) and float((a ** p).sum()) > torch.finfo(t.dtype).max


known_class(
    "norm-rescaled", fam("norm", inplace=False) | F("normalize"), {"inf", "value", "nan"},
    lambda d: any_in(d, big_sum) or big_power_sum(d),
    """
    torch.tensor([1e300, 1.0], dtype=torch.float64).norm()
    """, "tapegrad's 2-norm (and p-norm) rescales to avoid overflow and underflow (1e300, not PyTorch's inf)", R,
    status="by-design")


known_class(
    "pytorch-median-expanded", fam("median", "nanmedian", inplace=False), {"value", "inf", "nan", "signed-zero"},
    lambda d: d.origins and d.origins[0] in {"Tensor.expand", "expand", "broadcast_to", "Tensor.broadcast_to",
                                              "Tensor.expand_as", "broadcast_tensors"},
    """
    torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]).expand(3, 5).median(0).values
    """, "**PyTorch 2.13 bug, silent:** median(dim) of an expanded (stride-0) tensor returns wrong values, even "
         "values not in the input ([2, 3, 4, 4, 1.6e-43] for rows [1, 2, 3, 4, 5]: the last is uninitialized "
         "memory, so a shorter repro sometimes agrees by chance); tapegrad's is right", R, status="pytorch-bug")
# ---- tapegrad/ops/shape.py
known_class(
    "empty-skips-checks", ALL_OPS, RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) and here_says(d, "out of range", "the same dtype",
                                                            "expected a floating-point tensor",
                                                            "a leaf tensor that requires grad",
                                                            "expected a numeric input",
                                                            "random values are not implemented for",
                                                            "not implemented for bool tensors",
                                                            "without overflow"),
    """
    torch.roll(torch.zeros(0), 1, 5)
    """, "PyTorch skips dim, index and dtype checks on empty tensors (roll, index_add, bmm, indexing with an empty "
         "result, and bool matrix products: linear, addmv, baddbmm, addbmm of empty operands; addmm's alpha that "
         "does not fit an integer dtype); tapegrad checks", S,
    status="by-design")
known_class(
    "view-dtype-stride", {"Tensor.view"}, RAISES_THERE,
    lambda d: torch_says(d, " to view "),
    """
    torch.tensor(np.zeros(0, dtype=np.float32)).view(torch.float64)
    """, "PyTorch refuses view(dtype) of some empty tensors (a stride check); tapegrad computes", S,
    status="by-design")
known_class(
    "empty-from-numpy-stride", {"Tensor.stride"}, "value",
    lambda d: empty(x0(d)) and 0 in x0(d).stride(),
    """
    torch.tensor(np.zeros(0, dtype=np.float32)).stride()
    """, "every empty tensor of tapegrad has the contiguous strides (a size 0 counted as 1), as PyTorch's own "
         "factories give; PyTorch's torch.tensor/from_numpy of an empty numpy array keeps numpy's zero strides "
         "(and ops preserving its layout pass them on)", "tapegrad/ops/forms.py", status="by-design")


def laid_out_differently(d):
    """A view one library refuses ("view size is not compatible") of a tensor the two lay out differently (its
    strides along dims of size > 1 differ, tapegrad's being dense): an op result whose layout follows numpy's here
    and PyTorch's kernel there. (PyTorch's inputs here are clones, which keep a dense layout.)"""
    if not (torch_says(d, "view size is not compatible")
            or here_says(d, "view size is not compatible", "cannot view a tensor")):
        return False
    for t, h in zip(d.inputs, d.here_inputs):
        if core.is_tensor(t) and isinstance(h, tg.Tensor) and h.numel() > 1 and tg.autograd.inplace.dense(h._data):
            if [s for s, n in zip(t.stride(), t.shape) if n > 1] != [s for s, n in zip(h.stride(), h.shape) if n > 1]:
                return True
    return False


known_class(
    "result-layout", ALL_OPS, {RAISES_HERE, RAISES_THERE}, laid_out_differently,
    """
    torch.eye(2).cholesky_inverse().view(-1)
    """, "README: some op results are laid out as numpy lays them out where PyTorch's kernels choose otherwise "
         "(layer_norm of a permuted input is row-major there, a binary op follows its permuted operand, LAPACK "
         "results as cholesky_inverse's are column-major): view() (and kron, which views its product) refuses in "
         "one library and not in the other", "tapegrad/ops/", status="by-design")


# ---- tapegrad/ops/index.py
known_class(
    "index-add-empty", fam("index_add"), RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) or here_says(d, "of size 0"),
    """
    torch.index_add(torch.zeros(0, 2), 0, torch.tensor([0]), torch.zeros(1, 2))
    """, "PyTorch does not check indices when the result is empty", IX, status="by-design")


# ---- tapegrad/ops/conv.py
known_class(
    "pool-overflow", F("avg_pool1d", "avg_pool2d") | {"avg_pool2d"}, {"inf", "value", "nan"},
    lambda d: any_in(d, big),
    """
    torch.nn.functional.avg_pool2d(torch.tensor([[[-3e38, -3e38]]]), (1, 2))
    """, "tapegrad's average of float32 values whose sum overflows is finite; PyTorch's is -inf (avg_pool2d; "
         "adaptive_avg_pool1d/2d/3d follow PyTorch's kernel there)", C, status="by-design")


# ---- tapegrad/ops/sampling.py

# ---- tapegrad/nn/functional.py
known_class(
    "pytorch-batch-norm-channels-last-grad", ALL_OPS, GRADS,
    lambda d: any(o in ("F.batch_norm", "F.instance_norm", "batch_norm", "instance_norm") for o in [d.op] + d.origins)
    and (d.op not in F("batch_norm", "instance_norm") or x0(d).dim() in (4, 5)),  # (the blame names the norm)
    """
    x = torch.tensor([[[[1.0], [0.0], [0.0]], [[-2.5], [-2.5], [1.5]]]], requires_grad=True)
    y = torch.nn.functional.batch_norm(x, None, None, training=True)
    (y.permute(0, 2, 1, 3) * torch.arange(6.0).reshape(1, 3, 2, 1)).sum().backward()
    x.grad
    """, "**PyTorch 2.13 bug, silent:** batch_norm/instance_norm's CPU backward is wrong when the incoming gradient "
         "is channels-last contiguous and the input is not (a .T or permute after the norm): here it is half "
         "the true gradient; tapegrad's matches float64 finite differences", NF, status="pytorch-bug")
known_class(
    "pytorch-norm-fused-affine", F("layer_norm", "batch_norm", "group_norm", "instance_norm") | {"layer_norm"},
    {"nan", "inf", "value", "signed-zero", "grad-nan", "grad-value", "grad-inf"} | STATE,
    lambda d: any_in(d, lambda t: nonfinite(t) or big(t) or large(t)),
    """
    torch.nn.functional.group_norm(torch.tensor([[[1.0], [2.0]]]), 1, weight=torch.tensor([float("inf"), 1.0]))
    """, "PyTorch's batch_norm/group_norm kernels fuse the affine part into x * (rstd w) + (b - mean rstd w): an "
         "infinite weight gives inf - inf = NaN where (x - mean) rstd w is +-inf (tapegrad's), and large values "
         "(float32 weights or inputs above 1e3 with a small spread) lose the digits of x - mean there (a weight of "
         "6e4 on a constant channel gives -2, not 0); layer_norm's, instance_norm's (batch_norm's kernel) and the "
         "gradients' likewise", NF,
    status="pytorch-bug")
def constant_norm_set(d):
    """A set the call normalizes (layer_norm's trailing dims, a training batch_norm channel, a group_norm group, an
    instance_norm (sample, channel) with its input's statistics) whose values are all equal: its variance is 0, so
    rstd is 1 / sqrt(eps) (316 for eps = 1e-5)."""
    x = x0(d)
    if not isf(x) or x.numel() == 0:
        return False
    a = x.detach().double()
    if d.op in ("F.layer_norm", "layer_norm"):
        a = a.reshape(-1, math.prod(a.shape[a.dim() - len(arg(d, 1)):]))
    elif d.op == "F.group_norm":
        a = a.reshape(a.shape[0] * arg(d, 1), -1)
    elif d.op == "F.instance_norm":  # batch_norm's kernel on each (sample, channel) of the input
        if kw(d, "use_input_stats") is False or a.dim() < 3:
            return False
        a = a.reshape(a.shape[0] * a.shape[1], -1)
    elif kw(d, "training"):
        a = a.transpose(0, 1).reshape(a.shape[1], -1)
    else:
        return False
    return bool((a.amax(-1) == a.amin(-1)).any())


known_class(
    "pytorch-norm-constant-set", F("layer_norm", "batch_norm", "group_norm", "instance_norm") | {"layer_norm"},
    {"value", "signed-zero", "grad-value", "grad-nan", "grad-inf"}, constant_norm_set,
    """
    x = torch.tensor([[[0.05], [-0.45]], [[-2.2], [0.05]]])
    torch.nn.functional.group_norm(x, 2, weight=torch.tensor([3.0, -2.5]), bias=torch.tensor([0.0, 3.0]))
    """, "a normalized set whose values are all equal (a group of one element here): PyTorch's fused "
         "x * (rstd w) + (b - mean rstd w) with rstd = 1 / sqrt(eps) leaves the rounding of two products of ~1e3 "
         "(-1.2e-4 here) where tapegrad's (x - mean) rstd w + b is exactly b; instance_norm (batch_norm's kernel on "
         "each sample's channel, its multiply-add fused) of a constant float64 channel of 1e5 gives -1.3e-9; a "
         "steep op after it (reciprocal) makes the noise inf there, and the weight's gradient inf * noise where "
         "tapegrad's is inf * 0 = nan",
         NF, status="pytorch-bug")
def at_a_clamp_bound_by_rounding(d):
    """clamp of values that differ from PyTorch's by rounding where either library's sits exactly on a bound and the
    other's does not: the gradient passes at the bound (x <= max) and stops beyond it, so it follows the rounding."""
    mine = d.here_before or d.here_inputs  # (a backward discrepancy keeps tapegrad's inputs as they were)
    x, here = x0(d), mine[0] if mine else None
    if not isf(x) or here is None or tuple(here.shape) != tuple(x.shape):
        return False
    a, b = here.numpy(force=True).astype(np.float64), x.detach().double().numpy()
    if np.array_equal(a, b, equal_nan=True):
        return False
    bounds = [v for v in list(d.call.args[1:3]) + [kw(d, "min"), kw(d, "max")]
              if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return any(bool(((a == v) != (b == v)).any()) for v in bounds)


known_class(
    "clamp-bound-by-rounding", fam("clamp", "clip", "clamp_min", "clamp_max"), GRADS, at_a_clamp_bound_by_rounding,
    """
    x = torch.tensor([[[0.85], [0.85]], [[0.85], [0.85]]], dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.group_norm(x, 1, weight=torch.tensor([0.05, 0.85], dtype=torch.float64))
    (y.clamp(None, 0.0) * torch.tensor([[[-2.0], [1.25]], [[0.5], [2.0]]], dtype=torch.float64)).sum().backward()
    x.grad
    """, "clamp's gradient passes at its bound and stops beyond it: where the input is within rounding of the bound, "
         "the rounding decides (PyTorch's fused normalization of a constant set leaves ~1e-17, pytorch-norm-"
         "constant-set, tapegrad exactly the bias 0: clamp(max=0) stops the gradient there and passes it here, and "
         "the normalization's backward then gives w rstd (g - mean g) or 0)", E, status="by-design")


known_class(
    "norm-layers-numerics", F("normalize", "cosine_similarity") | {"cosine_similarity"},
    {"nan", "inf", "value", "signed-zero", "grad-nan", "grad-value", "grad-inf"} | STATE,
    lambda d: any_in(d, big_sum),
    """
    torch.nn.functional.cosine_similarity(torch.tensor([[1e30, 0.5]]), torch.tensor([[-2.5, -2.5]]))
    """, "cosine_similarity/normalize divide by tapegrad's 2-norm, which rescales (the norm-rescaled class): "
         "finite where PyTorch's overflows to inf (its quotient is then 0, here the right -0.7071) or underflows "
         "to 0 (clamped to eps); float16 norms accumulate in float32 as PyTorch's (tests/test_reduce.py)", R,
    status="by-design")
known_class(
    "gelu-inf-vectorized", F("gelu"), "nan",
    lambda d: nonfinite(x0(d)),
    """
    torch.nn.functional.gelu(torch.tensor([-0.0, float("nan"), 0.0, float("nan"), 1.0, float("inf"), 1.0, 2.0]))
    """, "PyTorch 2.13's vectorized gelu gives NaN at inf when the tensor is long enough to vectorize",
    NF, status="pytorch-bug")
known_class(
    "bilinear-empty", F("bilinear"), RAISES_THERE,
    lambda d: torch_says(d, "cannot reshape tensor of 0 elements"),
    """
    torch.nn.functional.bilinear(torch.zeros(1, 0), torch.zeros(1, 4), torch.zeros(2, 0, 4))
    """, "PyTorch's bilinear fails on a size-0 feature dimension (its internal reshape(-1, 0)); tapegrad computes",
    NF, status="pytorch-bug")
known_class(
    "nonfinite-products", MATMUL | F("bilinear", "conv2d", "linear") | {"conv2d"} | fam("cov", inplace=False)
    | fam("addmm", "addmv", "baddbmm"),
    {"nan", "inf", "value", "grad-nan", "grad-inf", "grad-value"},
    lambda d: any_in(d, lambda t: nonfinite(t) or big(t)) and not blas_alpha_rounds_an_operand(d),
    """
    x = torch.ones(2, 2, 4, 1)
    w = torch.tensor([[[[inf, -inf], [0.0, inf]], [[-2.5, -3.0], [-3.0, inf]]],
                      [[[-inf, -3.0], [-inf, 3.0]], [[0.0, 1.5], [-inf, 1.0]]]])
    torch.nn.functional.conv2d(x, w, padding="same", dilation=2)
    """, "bilinear/conv2d (and their gradients) with inf or values whose products overflow: a different order "
         "of products gives inf * 0 = NaN in other places; PyTorch's dilated conv2d skips taps that fall in the "
         "padding for a batch of 2 but not of 1 (NaN there); cov's mm likewise: PyTorch's float32 mm rounds each "
         "product, so two that overflow with opposite signs give NaN where the exact dot product (tapegrad's "
         "fused multiply-adds) is +-inf; addmm/addmv/baddbmm's products likewise", NF, status="pytorch-bug")
known_class(
    "conv-native-overflowing-products", F("conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                          "conv_transpose3d"), {"nan", "inf"},
    lambda d: dt(x0(d)) == "float32" and any_in(d, lambda t: nonfinite(t) or big(t)),
    """
    x = torch.tensor([[1e-07, 1.5, inf], [-3e38, -3.0, 3e38]])
    w = torch.tensor([[[-1.0, 1.5, -2.5], [0.5, 0.5, -2.5]], [[-3.0, -3.0, 0.0], [-2.5, 1.0, 1.5]]])
    torch.nn.functional.conv_transpose1d(x, w, stride=2)[0, 5]
    """, "README: float32 convolutions with inf or products beyond float32 (an unbatched input, which PyTorch runs "
         "in its native kernels): PyTorch rounds each product, so 3e38 * -3 is -inf and inf plus it NaN, where "
         "tapegrad's sum of the exact products is inf (nonfinite-products for conv2d and matmul; "
         "conv-onednn-overflow-order and conv-transpose-onednn-order for batches in oneDNN)", "tapegrad/ops/conv_nd.py",
    status="pytorch-bug")


def all_ignored(d):
    """nll_loss/cross_entropy whose class targets are all ignore_index, or that have class weights (which may
    sum to 0 over the targets)."""
    t = arg(d, 1)
    if kw(d, "weight") is not None:
        return True
    if not isinstance(t, core.Lit) or t.array.dtype.kind not in "iu":
        return False
    ii = kw(d, "ignore_index") if kw(d, "ignore_index") is not None else -100
    return bool((t.array == ii).all())



known_class(
    "activation-overflow", ELEMENTWISE_F | {"selu", "celu"}, {"inf", "value", "nan"},
    lambda d: any_in(d, big),
    """
    torch.nn.functional.gelu(torch.tensor([3.0, 3e38, -1.0]))
    """, "gelu and friends at float32 values near the maximum: PyTorch's intermediate x * (1 + erf) overflows "
         "to inf, tapegrad's is finite", NF, status="by-design")

# ---- tapegrad/creation.py


# ---- the ops generated since the differential test was written: activations, losses, distances, special, linalg
NEW_LOSS_F = F("cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss", "soft_margin_loss",
               "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
               "gaussian_nll_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss",
               "pairwise_distance", "pdist")
LINALG_M = fam("det", "logdet", "slogdet", "inverse", "pinverse", "matrix_exp", "matrix_power", "cholesky",
               "cholesky_inverse", "cholesky_solve", "lu", "lu_solve", "qr", "svd", "triangular_solve", "orgqr",
               "ormqr", "lstsq", "solve", "eig", "symeig", inplace=False)
SPECIAL_M = fam("lgamma", "digamma", "polygamma", "mvlgamma", "logit", "erfinv", "i0", "sinc", "xlogy", "igamma",
                "igammac")
AF, SP, LI = "tapegrad/nn/_functional_activations.py", "tapegrad/special/", "tapegrad/linalg/"
LO = "tapegrad/nn/_functional_losses.py"


def at_pole(t):
    """Values at a pole of lgamma/digamma/polygamma (0, -1, -2, ...), so close to 0 that 1/x is huge, or at the
    edge of erfinv's/logit's domain (+-1: PyTorch's i0(0) is 0.99999994, 1 here)."""
    if t.numel() == 0 or isb(t):
        return False
    a = t.detach().double()
    a = a[torch.isfinite(a)]
    return bool(a.numel()) and bool(((a <= 0) & (a == a.round())).any() or ((a != 0) & (a.abs() < 1e-5)).any()
                                    or (a.abs() == 1).any())


def near_trigamma_pole(t):
    """Values so close to a pole -1, -2, ... (distance r from the nearest integer) that PyTorch's trigamma, which
    takes sin(pi x) of pi x rounded to the dtype (float32 for float16 too), loses more than the tolerance: its
    relative error is about eps |x| / r."""
    if t.numel() == 0 or not isf(t):
        return False
    a = t.detach().double()
    a = a[torch.isfinite(a) & (a < 0.5)]
    eps = torch.finfo(torch.float64 if t.dtype == torch.float64 else torch.float32).eps
    r = (a - a.round()).abs()
    return bool(((r > 0) & (eps * a.abs() > r * core.RTOL[dt(t)] / 4)).any())


def trigamma_near_pole(d):
    """polygamma(1, x) (or digamma's gradient, trigamma) of an input next to a pole."""
    n = [a for a in d.call.args if isinstance(a, int) and not isinstance(a, bool)] if d.call else []
    trigamma = d.op in fam("digamma") and d.kind in GRADS or d.op in fam("polygamma") and n[:1] == [1]
    return trigamma and any_in(d, near_trigamma_pole)


def logit_nan_in_registers(d):
    """logit with eps of a NaN input in PyTorch's vectorized backward (each full pair of AVX-512 registers: 16
    float64, 32 float32, 64 float16 elements), whose mask eps <= x <= 1 - eps gives the NaN a 0 gradient."""
    if d.op not in fam("logit") or not d.inputs or not isf(x0(d)):
        return False
    eps = arg(d, 1) if arg(d, 1) is not None else kw(d, "eps")
    x = x0(d)
    return eps is not None and x.numel() >= 128 // x.element_size() and bool(torch.isnan(x.detach()).any())


def from_periodic(d):
    """An input computed by sinc (periodic: at large arguments its last digits differ between the libraries) or
    i0 (PyTorch's float32 i0(0) is 0.99999994, 1 here): singular functions of them are not comparable."""
    return any(o.split(".")[-1].rstrip("_") in ("sinc", "i0") for o in d.origins)


known_class(
    "pytorch-leaky-relu-inplace-backward", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "In-place leakyReLu backward calculation"),
    """
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    torch.nn.functional.leaky_relu_(x * 1, -1.0).sum().backward()
    x.grad
    """, "PyTorch 2.13 refuses the backward of leaky_relu_ with a negative slope (its in-place formula reads the "
         "result); tapegrad computes it", AF, status="pytorch-bug")
known_class(
    "pytorch-multilabel-margin-empty", F("multilabel_margin_loss"), {"nan", "value", "inf"},
    lambda d: any(empty(t) for t in d.inputs),
    """
    torch.nn.functional.multilabel_margin_loss(torch.zeros(0, 2), torch.zeros(0, 2, dtype=torch.int64)).isnan()
    """, "PyTorch 2.13's multilabel_margin_loss of an empty batch with reduction='mean' returns uninitialized "
         "memory (4.6e-310 one run, 0 the next); tapegrad gives nan (0 / 0, as mean over nothing)", LO,
    status="pytorch-bug")
known_class(
    "same-operand-distance-cancel", F("pairwise_distance", "cosine_embedding_loss", "margin_ranking_loss",
                                      "triplet_margin_loss", "triplet_margin_with_distance_loss"), GRADS,
    lambda d: len([a for a in d.call.args if isinstance(a, core.Ref)]) > len({a for a in d.call.args
                                                                              if isinstance(a, core.Ref)}),
    """
    v0 = torch.tensor([[[-0.45]], [[1.1]]], requires_grad=True)
    v1 = v0.i0()
    v3 = torch.logit(torch.nn.functional.pairwise_distance(v0, v0, keepdim=True))
    v5 = torch.nn.functional.pairwise_distance(v1, torch.tensor(0.3))
    loss = (v0 * torch.tensor([[[1.25]], [[1.0]]])).sum() + (v3 * torch.tensor([[[-1.5]], [[0.75]]])).sum()
    (loss + (v5 * torch.tensor([[2.0], [0.25]])).sum()).backward()
    v0.grad
    """, "distances between a tensor and itself: the two partial gradients (+-1e6 after logit here) cancel, and "
         "the leaf's other gradients are absorbed or not depending on the order of accumulation (both are "
         "'right')", LO, status="by-design")
DISTANCES = F("pairwise_distance", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
              "triplet_margin_with_distance_loss")


known_class(
    "same-operand-distance-steep-after", fam("reciprocal", "rsqrt", "log", "log2", "log10", "logit", "sqrt", "pow",
                                             "div", "divide", "true_divide", "atanh", "arctanh", sym="/"), GRADS,
    lambda d: bool(d.origins) and d.origins[0] in DISTANCES and isf(x0(d)) and x0(d).numel() > 0
    and bool((x0(d).detach().double().abs() < 1e-4).all() or d.op in fam("atanh", "arctanh")
             and (x0(d).detach().double().abs() >= 1 - 1e-4).all()),  # (atanh is steep at +-1: a margin loss of 1)
    """
    v0 = torch.tensor([1.0, -1.0], requires_grad=True)
    v2 = torch.nn.functional.pairwise_distance(v0, v0).reciprocal()
    ((v0 * torch.tensor([0.25, -1.5])).sum().double() + (v2 * -0.5).sum().double()).backward()
    v0.grad
    """, "same-operand-distance-cancel, where the steep op comes after the distance of a tensor and itself (its eps "
         "alone, ~1e-6): 1/d's gradient (5e11 here) reaches the tensor as two opposite partials that cancel, and "
         "the leaf's other gradients are absorbed or not depending on the order of accumulation (both are "
         "'right')", LO, status="by-design")
known_class(
    "soft-margin-overflow", F("soft_margin_loss", "multilabel_soft_margin_loss"), {"inf", "value", "nan"}
    | GRADS,
    lambda d: any_in(d, lambda t: isf(t) and t.numel() > 0 and bool((t.detach().double().abs() > 80).any())),
    """
    x = torch.tensor([1e30], dtype=torch.float64)
    torch.nn.functional.soft_margin_loss(x, torch.tensor([-1.0], dtype=torch.float64))
    """, "soft_margin_loss at large margins: tapegrad's log(1 + exp(-y x)) is the stable softplus (1e30), "
         "PyTorch's overflows exp to inf", LO, status="by-design")
known_class(
    "pytorch-softshrink-vectorized-zero", F("softshrink"), "signed-zero",
    lambda d: True,
    """
    torch.nn.functional.softshrink(torch.tensor([-0.5] * 16), 1.0)
    """, "PyTorch 2.13's vectorized softshrink (16 or more values) gives +0.0 for negative inputs inside the band, "
         "its scalar path (and tapegrad) -0.0 (x * 0)", AF, status="pytorch-bug")
known_class(
    "linalg-signed-zero", LINALG_M - fam("det", "logdet", "slogdet", inplace=False), "signed-zero",
    lambda d: True,
    ("""
    low = torch.tensor([[-inf, 0.0, 0.0], [0.0, 2.5, 0.0], [1.0, -2.5, -inf]])
    torch.tensor([[1.5], [1.5], [0.5]]).cholesky_solve(low)
    """, """
    torch.tensor([[-1.5, -0.0]]).cholesky_solve(torch.tensor([[0.5]]))  # an AMD EPYC's MKL: -0.0, tapegrad +0.0
    """), "the sign of zero of the linear-algebra methods: MKL's kernels in PyTorch give some zeros the other sign "
         "than tapegrad (qr, inverse, cholesky, triangular_solve: numpy's LAPACK or tapegrad's formulas; ormqr, "
         "orgqr, lu_solve, cholesky_solve and cholesky_inverse compute in LAPACK's reference order, which MKL "
         "follows but at about 1 in 1,000 edges: potrs with one right-hand side here (x0 = (y0 - 0 * x1 - 1 * "
         "x2) / l00 is -0.0 / -inf = +0.0 in that order, MKL's -0.0), getrs 'T' on 4 x 4 matrices, float32 "
         "ormqr, float32 potri with upper=False (MKL's sgemv order)). By design: the value is the same (0 == -0.0); "
         "tapegrad computes with numpy's LAPACK (OpenBLAS) or in reference LAPACK's order and does not emulate "
         "MKL's kernels, whose zero signs PyTorch's reproducibility note does not promise across platforms", LI,
    status="by-design")
known_class(
    "special-poles", SPECIAL_M, {"value", "inf", "nan", "signed-zero"} | GRADS | STATE,
    lambda d: any_in(d, at_pole) or from_periodic(d) or trigamma_near_pole(d) or logit_nan_in_registers(d)
    or d.op in fam("digamma", "polygamma") and any_in(d, near_trigamma_pole),
    ("""
    torch.tensor([-1.0]).polygamma(1)
    """, """
    torch.tensor([-0.9999999999999998], dtype=torch.float64).digamma()  # PyTorch -3.1e15, scipy -4.5e15
    """), "PyTorch's trigamma (polygamma(1, x), digamma's gradient) at the poles x = 0, -1, -2, ... is a huge "
         "finite value from its series (1.3e15 for float32 -1, 7.3e31 for float64 -3, 16.1 for float32 -1e30), "
         "where the mathematical value (scipy.special's) is +inf, tapegrad's; PyTorch's vectorized logit(eps) "
         "gradient at NaN is 0 (in each full pair of AVX-512 registers, 16 float64 elements; its scalar path's "
         "and tapegrad's NaN); PyTorch's float32 i0(0) is 0.99999994 "
         "(tapegrad's 1); and next to a pole PyTorch's trigamma loses digits where it takes sin(pi x) of pi x "
         "rounded to float32 (19241.752 at float32 x = -0.9927904, scipy's and tapegrad's 19241.434), as its "
         "digamma's reflection pi / tan(pi x) does (-3.1e15 at x = -1 + 2^-52, scipy's -4.5e15)", SP,
    status="pytorch-bug")

known_class(
    "ormqr-nonfinite-order", fam("ormqr", inplace=False), {"nan", "inf", "value", "signed-zero"},
    lambda d: len(d.inputs) > 2 and isf(d.inputs[2]) and not bool(torch.isfinite(d.inputs[2]).all()),
    """
    q = torch.tensor([[-2.5, -3.0, 1.5], [0.0, 1.5, -0.25], [0.0, -2.5, 2.0]], dtype=torch.float64)
    c = torch.tensor([[inf, 0.0, -inf], [0.0, inf, 2.0]], dtype=torch.float64)
    torch.ormqr(q, torch.tensor([-1.9, -0.45, 0.85], dtype=torch.float64), c, left=False, transpose=True)
    """, "README: ormqr of a C with inf/NaN: tapegrad applies the reflectors in reference LAPACK's order (dlarf), "
         "MKL in its blocked order, so which entries become NaN (inf - inf, 0 * inf) and which stay inf differs; "
         "LAPACK documents no result for non-finite input", LI, status="by-design")
known_class(
    "pytorch-ormqr-zero-tau-grad", fam("ormqr", inplace=False), GRADS,
    lambda d: len(d.inputs) > 1 and has_zero(d.inputs[1]),
    """
    a = torch.tensor([[-3.0, 2.0, 1.5], [-2.5, -1.0, 1.5], [1.5, -2.5, -2.5]], dtype=torch.float64)
    tau = torch.tensor([-0.25, 0.0, 1.5], dtype=torch.float64, requires_grad=True)
    torch.ormqr(a, tau, torch.eye(3, dtype=torch.float64), left=False, transpose=True).sum().backward()
    tau.grad
    """, "PyTorch 2.13's ormqr gradient w.r.t. a zero tau is nan (its formula divides by tau); tapegrad's is "
         "finite", LI, status="pytorch-bug")
def singular_reflector(d):
    """An ormqr call one of whose reflectors I - tau v v^T is singular (tau |v|^2 = 1, v with its implicit 1)."""
    a, tau = d.inputs[0].detach().double(), d.inputs[1].detach().double()
    k = tau.shape[-1]
    v = a[..., :, :k].tril(-1) + torch.eye(a.shape[-2], k, dtype=torch.float64)
    return bool((tau * (v * v).sum(-2) == 1).any())


known_class(
    "pytorch-ormqr-singular-reflector-grad", fam("ormqr", inplace=False), {"grad-nan", "grad-inf"},
    lambda d: len(d.inputs) > 2 and isf(d.inputs[0]) and singular_reflector(d),
    """
    a = torch.tensor([[-3.0]], dtype=torch.float64)
    tau = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    torch.ormqr(a, tau, torch.tensor([[-3.0]], dtype=torch.float64)).sum().backward()
    tau.grad
    """, "PyTorch 2.13's ormqr gradient w.r.t. tau is nan where a reflector I - tau v v^T is singular (tau |v|^2 = "
         "1: v = [1], tau = 1 here, H = 0), though 1 + 1e-9 gives the finite 3; the result is a polynomial in tau, "
         "tapegrad's gradient is its derivative (3)", LI, status="pytorch-bug")
known_class(
    "pytorch-orgqr-large-reflector-grad", fam("orgqr", inplace=False), {"grad-value"},
    lambda d: isf(x0(d)) and x0(d).dtype == torch.float64 and bool(
        (x0(d).detach().tril(-1).abs().nan_to_num(0, 0, 0) > 1e3).any()),
    """
    a = torch.tensor([[[0.0], [1e6], [-2.5]]], dtype=torch.float64, requires_grad=True)
    q = a.orgqr(torch.tensor([[1.5]], dtype=torch.float64))
    (q * torch.tensor([[[-2.0], [1.25], [1.0]]], dtype=torch.float64)).sum().backward()
    a.grad
    """, "PyTorch 2.13's float64 householder_product (orgqr) gradient loses digits as the reflector's entries grow "
         "(about |v|^2 * 1e-16 relative: -1.8743 for -1.875 = -tau * 1.25 at an entry 1e6, 1.4e-6 off at 6e4); "
         "tapegrad's is the derivative of its product of reflectors, exact here", LI, status="pytorch-bug")
known_class(
    "inplace-saved-values-special", {"Tensor." + n + "_" for n in ("lgamma", "digamma", "polygamma", "mvlgamma",
                                                                  "logit", "erfinv", "i0", "sinc", "xlogy",
                                                                  "igamma", "igammac")},
    "backward-pytorch-raises",
    lambda d: torch_says(d, "modified by an inplace operation"),
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    t = torch.ones(2)
    z = torch.nn.functional.soft_margin_loss(x, t, reduction="none")
    t.i0_()
    z.sum().backward()
    x.grad
    """, "README: tapegrad keeps the values an earlier op needs, where PyTorch raises (the special functions' "
         "in-place forms on a tensor another op saved, such as a loss's target or a detached input)", SP,
    status="by-design")
SPECIAL_ORIGINS = {"lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "logit", "xlogy", "igamma", "igammac",
                   "i0", "sinc"}


def after_special(d):
    """An input a special function computed at its poles, out of its domain or rounded (sinc, i0)."""
    bases = {o.split(".")[-1].rstrip("_") for o in d.origins}
    return bool(bases & SPECIAL_ORIGINS) and (bool(bases & {"sinc", "i0"}) or any_in(d, lambda t: nonfinite(t)
                                                                                   or at_pole(t)))


known_class(
    "after-special-poles", ALL_OPS - SPECIAL_M, {"value", "nan", "inf", "signed-zero"} | GRADS | STATE,
    after_special,
    """
    x = torch.tensor([[inf, -inf, 3.0, -inf], [-3.0, -0.25, nan, -0.0]], dtype=torch.float64, requires_grad=True)
    y = x.digamma()
    torch.nn.functional.hardtanh_(y)
    w0 = torch.tensor([[0.75, -2.0, 1.25, 1.0], [-0.5, 2.0, 0.25, -1.5]], dtype=torch.float64)
    w1 = torch.tensor([[-1.5, 0.75, -2.0, 1.25], [1.0, -0.5, 2.0, 0.25]], dtype=torch.float64)
    ((x * w0).sum() + (y * w1).sum()).backward()
    x.grad
    """, "ops applied to what a special function gave at its poles or to PyTorch's float32 i0(0) = 0.99999994: the "
         "PyTorch bugs of the special-poles class, passed on; and PyTorch's vectorized hardtanh backward gives 0 at "
         "NaN (8 or more float64, 16 float32 values; its scalar path and tapegrad pass the gradient): here the "
         "gradient at digamma(-3) through hardtanh_ is digamma's +inf derivative there, 0 in PyTorch", SP,
    status="pytorch-bug")
def ill_conditioned(d):
    """A square input whose matrix is so ill-conditioned that its dtype's rounding, amplified by the condition number
    (eps cond(A)), passes the gradient tolerance: the inverse's products in the gradients (X (G + G^T) X L for
    cholesky_inverse) cancel to fewer digits than the tolerance. cholesky_inverse and cholesky_solve take a
    factor: their matrix is L L^T (U^T U), of condition number cond(L)^2."""
    a = x0(d)
    if not isf(a) or a.dim() < 2 or a.numel() == 0 or a.shape[-1] != a.shape[-2] or not bool(
            torch.isfinite(a).all()):
        return False
    m = a.detach().double()
    power = 1
    if d.op in fam("cholesky_inverse", "cholesky_solve", inplace=False):
        upper = bool(kw(d, "upper") or any(v is True for v in d.call.args[1:]))
        m, power = (m.triu() if upper else m.tril()), 2
    cond = torch.linalg.cond(m) ** power
    return bool((cond * torch.finfo(a.dtype).eps > core.GRAD_RTOL[dt(a)]).any())


def inverse_rounding_beyond_atol(d):
    """The value of inverse/pinverse of a square matrix whose backward-stable rounding, eps cond(A) max|A^-1|, passes
    the harness's absolute tolerance: entries that are 0 in exact arithmetic come out as rounding noise of that size
    (1.7e-6 from PyTorch's MKL, -7e-8 from numpy's LAPACK, beside entries of 16, cond(A) = 77)."""
    a = x0(d)
    if d.kind != "value" or d.op not in fam("inverse", "pinverse", inplace=False) or not isf(a) or a.dim() < 2 \
            or a.numel() == 0 or a.shape[-1] != a.shape[-2] or not bool(torch.isfinite(a).all()):
        return False
    m = a.detach().double()
    bound = torch.linalg.cond(m) * torch.finfo(a.dtype).eps * torch.linalg.pinv(m).abs().amax((-2, -1))
    return bool((bound > core.ATOL[dt(a)]).any())


known_class(
    "linalg-conditioning", LINALG_M, {"value"} | GRADS,
    lambda d: any_in(d, large) or d.kind in GRADS and ill_conditioned(d) or inverse_rounding_beyond_atol(d),
    ("""
    a = torch.tensor([[[-1.9, 2.6, -1.9], [-1.9, -0.7, -0.45], [-1.9, 0.3, 0.3]]], requires_grad=True)
    q = a.orgqr(torch.tensor([[3.0, -60000.0, -2.5]]))
    (q * torch.tensor([[[-1.5, 0.75, -2.0], [1.25, 1.0, -0.5], [2.0, 0.25, -1.5]]])).sum().backward()
    a.grad
    """, """
    low = torch.tensor([[2.3, 0.0, 0.0], [1.3, 0.1, 0.0], [-1.9, -2.2, 0.1]], requires_grad=True)
    x = low.cholesky_inverse()
    (x * torch.nn.functional.cosine_similarity(x, low.sgn()).detach()).sum().backward()
    low.grad
    """), "the linear-algebra methods' float32 gradients at large values (orgqr with tau = -6e4) or of an "
          "ill-conditioned matrix (cholesky_inverse of a factor with diagonal 0.1 beside 2.3: cond(L L^T) = 8e5, "
          "its inverse's entries 5e4, the gradient's products X (G + G^T) X L of 1e9 cancel to 1e4), and the values "
          "of inverse/pinverse where eps cond(A) max|A^-1| passes the absolute tolerance (an exact 0 is 1.7e-6 "
          "beside entries of 16 with cond(A) = 77): the rounding "
          "of PyTorch's MKL and tapegrad's numpy (its BLAS) or different formulas differs beyond the float32 "
          "tolerance, and neither is the exact value", LI, status="by-design")
def barely_definite(d):
    """A matrix whose lower triangle (what cholesky reads) is positive definite, or not, only within its dtype's
    rounding: the smallest eigenvalue of the symmetric matrix it makes is below 1e3 eps times the largest."""
    a = x0(d)
    if not isf(a) or a.dim() < 2 or a.numel() == 0 or a.shape[-1] != a.shape[-2] or not bool(
            torch.isfinite(a).all()):
        return False
    low = a.detach().double().tril()
    sym = low + low.mT - torch.diag_embed(low.diagonal(dim1=-2, dim2=-1))
    eig = torch.linalg.eigvalsh(sym)
    scale = eig.abs().amax(-1).clamp(min=1e-300)
    return bool((eig.amin(-1) <= 1e3 * torch.finfo(a.dtype).eps * scale).any())


known_class(
    "cholesky-definite-within-rounding", fam("cholesky", inplace=False) | {"linalg.cholesky", "linalg.cholesky_ex"},
    {RAISES_HERE, RAISES_THERE, "value", "nan", "inf"} | GRADS, barely_definite,
    """
    torch.cholesky(torch.tensor([[1.1, 0.85], [1.1, 1.1]]))
    """, "cholesky of a matrix that is positive definite only within rounding (the pivot 1.1 - 1.1^2 / 1.1 is 0 "
         "exactly, and float32's last bit decides its sign): MKL's potrf rounds it positive (a factor with a pivot of "
         "~1e-4), numpy's LAPACK (OpenBLAS) to 0 and refuses the matrix; neither is more right", LI,
    status="by-design")
def beyond_unit_ulp(d):
    """An input whose largest finite magnitude has an ulp above 1 (float64 beyond 9e15, float32 beyond 1.7e7)."""
    def huge(t):
        if not isf(t) or t.numel() == 0:
            return False
        a = t.detach().double().abs()
        a = a[torch.isfinite(a)]
        return bool(a.numel()) and float(a.max()) * torch.finfo(t.dtype).eps > 1
    return any_in(d, huge)


known_class(
    "spread-of-huge-values-grad-cancel", fam("var", "std", "var_mean", "std_mean", inplace=False), "grad-value",
    beyond_unit_ulp,
    """
    w = torch.tensor([[[[3.0, 1e30], [5e-324, 2.0]]]], dtype=torch.float64)
    b = torch.tensor([-0.25], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[[[3.0, -0.25], [-1.0, 2.0]]], [[[0.5, 2.0], [-2.5, 0.5]]]], dtype=torch.float64)
    v, m = torch.var_mean(torch.nn.functional.conv_transpose2d(x, w, bias=b), (3, 1), correction=0.5)
    (v * 0.75 + m * -1.5).sum().backward()
    b.grad
    """, "README: the gradient of var/std, 2 (x - mean) / dof, at values whose ulp exceeds 1 (1e30 beside units): "
         "each library's mean of them rounds differently (an ulp of 1e30 is 1.4e14), so a gradient summed from them "
         "(a bias's, the sum of the rest) is 0 in one and a few ulps in the other", R, status="by-design")
known_class(
    "cross-entropy-huge-probability-target", F("cross_entropy"), GRADS,
    lambda d: len(d.inputs) > 1 and isf(d.inputs[1]) and big(d.inputs[1]),
    """
    x = torch.tensor([-1.0, 1.5, 2.0, 1.5], requires_grad=True)
    loss = torch.nn.functional.cross_entropy(x, torch.tensor([-3e38, 1e-30, 3.0, 2.0]), label_smoothing=0.1)
    (loss * 2.0).backward()
    x.grad
    """, "README: cross_entropy with class probabilities of huge magnitude (a float32 target of -3e38): tapegrad's "
         "fused backward softmax(x) sum(q) - q overflows in other places than PyTorch's composite (the gradient "
         "of -(log_softmax(x) q).sum() through log_softmax's backward: g q - softmax sum(g q)), inf or a finite "
         "-1.4e38 here where PyTorch has nan and -inf; neither is exact", NF, status="by-design")
known_class(
    "empty-bool-matmul", MATMUL, RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) and here_says(d, "not implemented for bool"),
    """
    torch.tensor([], dtype=torch.bool) @ torch.zeros((0, 2), dtype=torch.bool)
    """, "PyTorch skips the bool check of matmul on empty operands (as the other checks of empty-skips-checks); "
         "tapegrad checks", L, status="by-design")
known_class(
    "hardshrink-nan-grad", F("hardshrink", "softshrink"), GRADS,
    lambda d: any_in(d, nonfinite),
    ("""
    x = torch.tensor([nan] * 16, requires_grad=True)
    torch.nn.functional.hardshrink(x).sum().backward()
    x.grad
    """, """
    x = torch.tensor([nan] * 16, requires_grad=True)
    torch.nn.functional.softshrink(x, 0.0).sum().backward()
    x.grad
    """), "PyTorch 2.13's vectorized hardshrink and softshrink backward (shrink_backward, 16 values at a time) gives 0 "
          "at NaN, its scalar tail (and tapegrad) 1", AF, status="pytorch-bug")
known_class(
    "new-loss-nonfinite", NEW_LOSS_F, {"value", "nan", "inf", "signed-zero"} | GRADS
    | {"backward-pytorch-raises", "backward-tapegrad-raises"},
    lambda d: any_in(d, lambda t: nonfinite(t) or big(t) or (isf(t) and t.numel() > 0
                                                              and bool((t.detach().double().abs() > 1e18).any()))),
    """
    a = torch.tensor([-6e4, -1e30, -0.25])
    torch.nn.functional.triplet_margin_loss(a, torch.tensor([-3.0, 0.5, 3.0]), a)
    """, "the distances and losses built on the 2-norm (pairwise_distance, the triplet losses) at values whose "
         "squares overflow: tapegrad's 2-norm rescales (1e30 here; README), PyTorch's is inf (and inf - inf = NaN "
         "after it); sums of such values overflow in a different order (the masked terms of the margin losses "
         "select now, as PyTorch's kernels)", LO, status="by-design")
known_class(
    "pytorch-hardtanh-nan-grad", F("hardtanh", "hardtanh_", "relu6"), GRADS,
    lambda d: any_in(d, nonfinite),
    """
    x = torch.tensor([nan] * 8, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.hardtanh(x).sum().backward()
    x.grad
    """, "PyTorch 2.13's vectorized hardtanh backward (8 float64 / 16 float32 values at a time) gives 0 at NaN, its "
         "scalar tail (and tapegrad) the gradient", NF, status="pytorch-bug")
def nan_in_a_full_vector(d):
    """A NaN in the input of a tensor long enough for PyTorch's vectorized loop: 2 AVX512 vectors, 16 float64,
    32 float32, 64 float16 values (its scalar tail handles the rest)."""
    t = x0(d)
    lanes = {"float64": 16, "float32": 32, "float16": 64}.get(dt(t))
    return lanes is not None and t.numel() >= lanes and bool(torch.isnan(t.detach()).any())


known_class(
    "pytorch-elu-nan-grad-vectorized", F("elu", "selu", "celu", "elu_", "selu_", "celu_", "hardswish") | fam(
        "selu", "celu", inplace=False) | {"selu_", "celu_"}, "grad-nan", nan_in_a_full_vector,
    """
    x = torch.tensor([nan] * 16, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.elu(x).sum().backward()
    x.grad
    """, "PyTorch 2.13's vectorized elu/selu/celu backward (16 float64 / 32 float32 values at a time) gives NaN at "
         "a NaN input (its blend takes the negative branch where x > 0 is false), its scalar tail (and tapegrad) "
         "the gradient times the scale, as at any x > 0; hardswish's the same way (its scalar path passes the "
         "gradient at NaN, its vectorized one gives NaN)", NF, status="pytorch-bug")
known_class(
    "pytorch-margin-loss-empty-mean", F("multi_margin_loss"), {"nan", "value", "inf"},
    lambda d: any(empty(t) for t in d.inputs),
    """
    torch.nn.functional.multi_margin_loss(torch.zeros((0, 3)), torch.tensor([], dtype=torch.int64)).isnan()
    """, "PyTorch 2.13's multi_margin_loss of an empty batch with reduction='mean' returns uninitialized memory; "
         "tapegrad gives nan (0 / 0)", LO, status="pytorch-bug")
known_class(
    "linalg-svd-inf", fam("svd", "pinverse", inplace=False),
    {"value", "nan", "inf", "signed-zero", RAISES_THERE} | GRADS,
    lambda d: isf(x0(d)) and nonfinite(x0(d)) and not bool(torch.isnan(x0(d)).any()),
    """
    torch.pinverse(torch.tensor([[-1.0, -1.0], [-1.0, inf]]))
    """, "svd and pinverse of a matrix with an inf and no NaN (a NaN raises in both: gesdd's info -4): LAPACK's "
         "gesdd scales A by 1/inf (dlascl: inf * 0 = NaN, finite entries 0) and iterates on that, so which "
         "factors MKL returns NaN varies (S is NaN; U and Vh are finite in about half of random matrices, so pinv "
         "is 0 there, NaN in the rest, and 3% raise 'ill-conditioned'); tapegrad gives NaN factors (numpy's "
         "gesdd does not return for some such matrices). By design: both are what a LAPACK makes of a "
         "non-finite input, for which gesdd documents no result", LI, status="by-design")
known_class(
    "linalg-qr-nonfinite", fam("qr", inplace=False), {"value", "nan", "inf", "signed-zero"} | GRADS,
    lambda d: any_in(d, nonfinite),
    """
    torch.linalg.qr(torch.tensor([[inf, -3.0], [1.0, 0.5], [-1.0, -3.0]]))[1]
    """, "qr of a matrix with inf/nan: at an inf pivot LAPACK's dlarfg gives tau = NaN and v = x / (alpha - beta) "
         "= 0 below it; MKL's geqrf applies that reflector to every row (NaN in all of R's later columns), "
         "numpy's LAPACK (OpenBLAS, reference dlarf) leaves v's trailing zeros out (iladlr's lastv), so the rows "
         "below stay finite (R[1, 1] = -3.04 here, MKL's NaN). By design: tapegrad's qr is numpy's LAPACK; "
         "LAPACK documents no result for a non-finite input", LI, status="by-design")
known_class(
    "linalg-cholesky-infinite-diagonal", fam("cholesky", inplace=False) | {"linalg.cholesky", "linalg.cholesky_ex"},
    {RAISES_THERE, "value", "nan", "inf", "info"},
    lambda d: isf(x0(d)) and x0(d).dtype == torch.float32 and bool(torch.isinf(x0(d).detach()).any()),
    """
    torch.linalg.cholesky(torch.tensor([[inf, 0.5], [1.0, inf]]))
    """, "README: float32 cholesky of a matrix with an infinite diagonal: PyTorch's MKL spotrf reports it not "
         "positive-definite (its float64 dpotrf, numpy's LAPACK and tapegrad give [[inf, 0], [0, inf]]). By "
         "design: LAPACK documents no result for a non-finite input", LI, status="by-design")


def exp_unresolved(d):
    """matrix_exp of a finite float64 input turning faster than float64 resolves (an eigenvalue's |imaginary part|
    times its epsilon above pi)."""
    x = x0(d)
    if not isf(x) or x.dtype != torch.float64 or x.numel() == 0 or x.dim() < 2 or nonfinite(x):
        return False
    ev = np.linalg.eigvals(x.detach().numpy().reshape((-1,) + tuple(x.shape[-2:])))
    return bool((np.abs(ev.imag) * np.finfo(np.float64).eps > np.pi).any())


known_class(
    "matrix-exp-unresolved-rotation", fam("matrix_exp", inplace=False), {"value", "nan"} | GRADS,
    exp_unresolved,
    """
    torch.matrix_exp(torch.tensor([[0.0, 1e20], [-1e20, 0.0]], dtype=torch.float64))
    """, "README: the exponential of a matrix turning faster than its dtype resolves (a rotation by 1e20 rad: no "
         "digit of the angle is left) is NaN here, as PyTorch's float32 result; PyTorch's float64 squarings give "
         "zeros", LI, status="by-design")
def exp_overflows(d):
    """matrix_exp of a finite input one of whose exponentials PyTorch returns non-finite: it overflows."""
    x = x0(d)
    if not isf(x) or x.numel() == 0 or x.dim() < 2 or nonfinite(x):
        return False
    with torch.no_grad():
        return not bool(torch.isfinite(torch.linalg.matrix_exp(x.detach())).all())


known_class(
    "matrix-exp-overflow", fam("matrix_exp", inplace=False), {"value", "nan", "inf", "signed-zero"} | GRADS,
    exp_overflows,
    """
    torch.matrix_exp(torch.tensor([[800.0, -5.0], [3.0, 700.0]], dtype=torch.float64))
    """, "PyTorch 2.13's matrix_exp of a finite matrix whose exponential is beyond the float range is NaN (inf - "
         "inf in its squaring); tapegrad gives +-inf with the exponential's signs (e^799.85 v w^T here: [[+, -], "
         "[+, -]], as mpmath's), from exp(A) = e^mu exp(A - mu I) with the trace shift mu, and NaN only where "
         "exp(A - mu I) itself overflows (a rotation float64 cannot resolve)", LI, status="pytorch-bug")
known_class(
    "linalg-empty-half", LINALG_M, RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) and here_says(d, "Low precision", "not supported",
                                                            "Expected a floating point"),
    """
    torch.zeros((0, 0), dtype=torch.float16).det()
    """, "PyTorch skips the dtype check of det/logdet... on an empty float16 matrix; tapegrad checks", LI,
    status="by-design")
known_class(
    "linalg-saved-output-version", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "modified by an inplace operation") and torch_says(d, "of Linalg", "of Det",
                                                                                "of Logdet", "of Slogdet"),
    """
    x = torch.zeros((1, 2, 2), dtype=torch.float64, requires_grad=True)
    y = torch.det(x)
    with torch.no_grad():
        y.add_(1)
    y.sum().backward()
    x.grad
    """, "PyTorch's det saves its result and refuses the backward after a write to it (even under no_grad); "
         "tapegrad keeps the values it needs", LI, status="by-design")


def kron_operand_written(d):
    """tapegrad refuses a backward through kron's product after a write into an operand that the gradient reads:
    the operand as kron multiplies it, the written input's shape with a 1 beside each dimension."""
    text = d.error_here.split("the tensor of shape (")[1]
    shape = tuple(int(v) for v in text.split(")")[0].split(",") if v.strip())
    if not text.split(")")[1].startswith(" used by MulBackward0") or len(shape) % 2:
        return False
    for t in d.inputs:
        for ones, dims in ((shape[0::2], shape[1::2]), (shape[1::2], shape[0::2])):
            lead = len(dims) - t.dim()
            if lead >= 0 and set(ones) <= {1} and dims[lead:] == tuple(t.shape) and set(dims[:lead]) <= {1}:
                return True
    return False


known_class(
    "pytorch-kron-unsafe-view-write", ALL_OPS, "backward-tapegrad-raises", kron_operand_written,
    """
    x = torch.tensor([[0.0, -2.5]], requires_grad=True)
    y = torch.tensor([[2.0, 1.0]])
    z = x.kron(y)
    y.fill_(-1)
    z.sum().backward()
    x.grad
    """, "PyTorch's kron multiplies _unsafe_view aliases of its inputs, which do not share their version counters: "
         "a write into an input after the forward goes unseen and the backward silently uses the new values "
         "(x.grad is [[-2, -2]] here, 3 is right); tapegrad refuses the backward", "tapegrad/ops/combine.py",
    status="pytorch-bug")
known_class(
    "pytorch-kron-unsafe-view-write-cast-operand", INPLACE, GRADS,
    lambda d: d.op in INPLACE and len(d.inputs) >= 1 and not isf(x0(d)) and not x0(d).requires_grad
    and any(r in ("kron", "Tensor.kron") for r in d.readers),
    """
    x = torch.tensor([[0.85]], requires_grad=True)
    m = torch.tensor([[False]])
    z = torch.kron(x, m)
    m.fill_diagonal_(True)
    z.sum().backward()
    x.grad
    """, "pytorch-kron-unsafe-view-write where the written operand is a bool or integer tensor that the product "
         "promotes: PyTorch's backward reads its new values unseen (x.grad is [[1]] here; z = x * False, so 0 is "
         "right); tapegrad's product kept the operand as it was promoted at forward time, so it neither refuses "
         "nor changes the gradient (an in-place write into a non-float tensor that does not require grad, which "
         "a kron read before)", "tapegrad/ops/combine.py",
    status="pytorch-bug")
EXPANDS = {"Tensor.expand", "Tensor.expand_as", "broadcast_to", "Tensor.broadcast_to"}
known_class(
    "setitem-into-expanded", {"[]=", "Tensor.index_put_", "Tensor.masked_fill_", "Tensor.index_fill_"}, GRADS,
    lambda d: d.call is not None and not d.call.no_grad and not x0(d).requires_grad
    and any(t.requires_grad for t in d.inputs[1:])
    # (the inputs are clones, which PyTorch makes contiguous: the written tensor's maker says it was expanded)
    and bool(d.origins) and d.origins[0] in EXPANDS and x0(d).numel() > 1,
    """
    a = torch.tensor([1.0, 2.0]).expand(3, 2)
    v = torch.tensor([5.0, 6.0, 7.0], requires_grad=True)
    a[torch.tensor([[True, False]] * 3)] = v
    (a * torch.arange(6.0).reshape(3, 2)).sum().backward()
    v.grad
    """, "Under grad mode, an index_put_/masked_fill_/index_fill_ (or setitem) of a value that requires grad into an "
         "expanded tensor, whose elements share memory: the last write to a location stays (both libraries), but "
         "PyTorch's gradient (its CopySlices) hands the location's gradient to every element of the value written "
         "there, overwritten ones too ([6., 6., 6.] here); tapegrad's goes to the write that stayed ([0., 0., 6.])",
    "tapegrad/autograd/inplace.py", status="pytorch-bug")
known_class(
    "index-empty-result-skips-check", {"[]", "[]="}, RAISES_HERE,
    lambda d: here_says(d, "out of range") and isinstance(arg(d, 1), tuple)
    and any(isinstance(k, slice) for k in arg(d, 1)),
    """
    torch.tensor([[0.85, 0.05, 1.1]])[torch.tensor([[-2, -1], [-1, 0]]), 5:-10:2]
    """, "PyTorch skips the range check of index tensors when a slice of the same index empties the result; "
         "tapegrad checks", IX, status="by-design")


def exactly_singular(t):
    """A (batch of) float matrices of which a finite one has PyTorch's determinant exactly 0."""
    if not isf(t) or t.dim() < 2 or t.numel() == 0 or t.shape[-1] != t.shape[-2] or t.shape[-1] < 2:
        return False
    a = t.detach()
    return bool((torch.isfinite(a).all(-1).all(-1) & (torch.linalg.det(a) == 0)).any())


def lu_rounding_differs(d):
    """A square float matrix (the first input), numerically singular (its determinant at the level of rounding
    noise, where LU's last pivots are that noise) or with inf/nan, whose LU, or its transpose's (det's getrf of
    A^T), differs between tapegrad and PyTorch."""
    from tapegrad.linalg import _core as lu_core

    a = x0(d).detach()
    if not isf(a) or a.dim() < 2 or a.shape[-1] != a.shape[-2] or a.numel() == 0 or a.dtype == torch.float16:
        return False
    if not nonfinite(a) and not lu_core.near_singular(a.numpy()):
        return False
    for m in (a, a.mT.contiguous()):
        ours = tg.linalg.lu_factor_ex(tg.tensor(m.numpy())).LU.numpy()
        theirs = torch.linalg.lu_factor_ex(m).LU.numpy()
        if not (np.array_equal(ours, theirs, equal_nan=True) and np.array_equal(np.signbit(ours), np.signbit(theirs))):
            return True
    return False


known_class(
    "mkl-lu-rounds-twice", fam("det", "logdet", "slogdet", "inverse", "matrix_power", "lu", "solve",
                                           inplace=False),
    {"value", "nan", "inf", "signed-zero", RAISES_HERE, RAISES_THERE} | GRADS, lu_rounding_differs,
    """
    torch.slogdet(torch.tensor([[0.05, 2.6], [0.05, 2.6]]))[0]
    """, "README: the LU (det, slogdet, logdet, inverse, solve, lu) of a numerically singular matrix rounds as "
         "PyTorch's MKL on Intel CPUs, each update a - l u one fused multiply-add; on other CPUs (AMD EPYC) MKL "
         "rounds the product first, so a last pivot of rounding noise (7.2e-10 here, sign -1) is exactly 0 there "
         "(sign -0.0). PyTorch does not promise these bits across CPUs", LI, status="by-design",
    host=mkl_rounds_twice)


def made_by_det(d):
    """An input made by det or logdet, whose gradient is a solve with det's matrix (its near-zero cofactors are
    that solve's rounding noise, which a gradient downstream may scale past the tolerance)."""
    return any(o.rsplit(".", 1)[-1] in ("det", "logdet") for o in d.origins)


known_class(
    "det-grad-cofactor-rounding", ALL_OPS, "grad-value", made_by_det,
    """
    x = torch.tensor([[-0.45, -2.2, 1.3], [2.6, -2.2, 1.3], [1.1, 0.05, 1.3]], dtype=torch.float64,
                     requires_grad=True)
    d = x.det()
    torch.pow(d, d).backward()
    x.grad[2, 0]
    """, "README: det's gradient is PyTorch's formula, a solve of A^T X = diag(g det(A)), with numpy's LAPACK for a "
         "finite matrix that is not near singular: a cofactor that is 0 in exact arithmetic is that solve's "
         "rounding noise, numpy's here, MKL's there (2.8e-16 on Intel CPUs, 4.9e-16 on an AMD EPYC, beside entries "
         "of 3), which pow(det, det)'s gradient scales by 1e9 past the tolerance; on an AMD EPYC numpy's noise "
         "is MKL's", LI, status="by-design", host=mkl_fuses)
known_class(
    "pytorch-matrix-exp-half", fam("matrix_exp", inplace=False), RAISES_HERE,
    lambda d: dt(x0(d)) in ("float16", "bfloat16") and here_says(d, "Low precision dtypes not supported"),
    """
    torch.eye(2, dtype=torch.float16).matrix_exp()
    """, "README: PyTorch 2.13's CPU matrix_exp computes float16/bfloat16 matrices and returns garbage (exp(I) is "
         "-20896 I, exp of a rotation by 0.5 has -21072 on the diagonal, the gradient at the zero matrix is -inf); "
         "tapegrad refuses them ('Low precision dtypes not supported'), as linalg's other functions", LI,
    status="pytorch-bug")
known_class(
    "pytorch-det-singular-grad", fam("det", inplace=False), "grad-value",
    lambda d: exactly_singular(x0(d)),
    """
    x = torch.tensor([[2.0, 0.0], [0.0, 0.0]], requires_grad=True)
    x.det().backward()
    x.grad
    """, "**PyTorch 2.13 bug, silent:** det's backward (without create_graph) gives a zero gradient at a matrix "
         "whose determinant is exactly 0, where the derivative is the cofactor matrix ([[0, 0], [0, 2]] here; "
         "PyTorch's own create_graph=True path and gradcheck agree); tapegrad's is the cofactor matrix", LI,
    status="pytorch-bug")

# ---- the spatial nn.functional family and the Tensor methods generated since (tests/differential/ops.py)
SPATIAL, POOLING, CONVND = ("tapegrad/nn/_functional_spatial.py", "tapegrad/ops/pooling.py",
                            "tapegrad/ops/conv_nd.py")
EXTRA, COMBINE, COUNTING, SCATTER = ("tapegrad/ops/extra_math.py", "tapegrad/ops/combine.py",
                                     "tapegrad/ops/counting.py", "tapegrad/ops/scatter_extra.py")
CONV_ND_F = F("conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc")
ADAPTIVE_F = F(*[f"adaptive_{k}_pool{d}d" for k in ("avg", "max") for d in (1, 2, 3)],
               *[f"adaptive_max_pool{d}d_with_indices" for d in (1, 2, 3)])
ADDMM = fam("addmm", "addbmm", "baddbmm", "addmv", "addr")
QUANTILE = fam("quantile", "nanquantile", inplace=False)
SCATTER_REDUCE = fam("scatter_reduce", "index_reduce")
known_class(
    "conv-transpose-empty-skips-checks", F("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
    RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) and here_says(d, "output padding must be smaller"),
    """
    torch.nn.functional.conv_transpose1d(torch.zeros(0, 1, 2), torch.ones(1, 1, 3), output_padding=1).shape
    """, "PyTorch skips conv_transpose's output_padding check on an empty batch (as the other checks of "
         "empty-skips-checks); tapegrad checks", CONVND, status="by-design")
known_class(
    "pytorch-pixel-unshuffle-empty", F("pixel_unshuffle"), "shape",
    lambda d: any(empty(t) for t in d.inputs),
    """
    torch.nn.functional.pixel_unshuffle(torch.zeros(0, 1, 2, 2), 2).shape
    """, "PyTorch 2.13's pixel_unshuffle of an empty batch returns the input's shape (0, 1, 2, 2), not "
         "(0, 4, 1, 1) as for any other batch size; tapegrad's shape is right", SPATIAL, status="pytorch-bug")
known_class(
    "pytorch-fractional-ratio-number", F("fractional_max_pool2d", "fractional_max_pool2d_with_indices"),
    RAISES_THERE,
    lambda d: torch_says(d, "has no len()"),
    """
    samples = torch.zeros(1, 1, 2)
    torch.nn.functional.fractional_max_pool2d(torch.ones(1, 4, 4), 2, output_ratio=0.5, _random_samples=samples).shape
    """, "PyTorch 2.13's F.fractional_max_pool2d fails on a number output_ratio (len(0.5)), which its documentation "
         "and nn.FractionalMaxPool2d accept; tapegrad takes it", "tapegrad/nn/_functional_fractional.py",
    status="pytorch-bug")
def aa_to_width_one(d):
    """interpolate(antialias=True) to an output width of 1."""
    s, f, w_in = kw(d, "size"), kw(d, "scale_factor"), x0(d).shape[-1]
    w = (s[-1] if isinstance(s, (tuple, list)) else s) if s is not None else \
        int(w_in * (f[-1] if isinstance(f, (tuple, list)) else f))
    return kw(d, "antialias") is True and w == 1


known_class(
    "pytorch-interpolate-antialias-width-one", F("interpolate"), {"value", "nan", "inf"} | GRADS, aa_to_width_one,
    """
    x = torch.arange(7.).reshape(1, 1, 7, 1)
    torch.nn.functional.interpolate(x, size=(10, 1), mode='bilinear', antialias=True)
    """, "PyTorch 2.13's interpolate(antialias=True) to an output width of 1 with the height resampled is wrong "
         "(a column 0..6 to (10, 1) gives zeros; with the column repeated to width 2 it gives 0, 0.55, ..., 6): "
         "tapegrad's separable filter gives the latter", SPATIAL, status="pytorch-bug")
def bicubic_size_kept_by_a_scale(d):
    """interpolate(mode='bicubic') by a scale factor other than 1 that keeps every spatial size (floor(1 * 1.5) is
    1): its forward resamples, PyTorch's backward copies."""
    f = kw(d, "scale_factor")
    if kw(d, "mode") != "bicubic" or kw(d, "antialias") is True or f is None or kw(d, "recompute_scale_factor"):
        return False
    sizes = list(x0(d).shape[2:])
    fs = list(f) if isinstance(f, (tuple, list)) else [f] * len(sizes)
    return all(math.floor(n * s) == n for n, s in zip(sizes, fs)) and any(s != 1 for s in fs)


known_class(
    "pytorch-bicubic-kept-size-backward", F("interpolate", "upsample"), GRADS, bicubic_size_kept_by_a_scale,
    """
    x = torch.tensor([[[[1.0, 2.0], [3.0, 5.0]]]], requires_grad=True)
    y = torch.nn.functional.interpolate(x, scale_factor=1.3, mode="bicubic")
    y.backward(torch.tensor([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    x.grad
    """, "PyTorch 2.13's bicubic backward copies the gradient where the output keeps the input's size, though its "
         "forward resamples with the scale factor's source index there (scale_factor=1.3 of 2 x 2: the forward's "
         "Jacobian is not the identity, gradcheck fails); tapegrad's gradient is the forward's adjoint",
    SPATIAL, status="pytorch-bug")
# -- tapegrad/ops/extra_math.py
known_class(
    "inverse-hyperbolic-inplace-grad", ALL_OPS,  # (the driver may file the backward under an earlier call)
    "backward-pytorch-raises",
    lambda d: torch_says(d, "the derivative for 'inplace version of"),
    """
    x = torch.tensor([0.5], requires_grad=True)
    (x * 1).asinh_().sum().backward()
    x.grad
    """, "PyTorch 2.13 has no derivative for asinh_/acosh_/atanh_ (in place) and raises in backward; tapegrad "
         "gives the out-of-place ops' gradient", EXTRA, status="by-design")
# -- tapegrad/ops/combine.py
known_class(
    "pytorch-resizes-before-failing", {"Tensor." + n + "_" for n in ("addmm", "addbmm", "baddbmm", "addmv",
                                                                     "addr")}, "state-after-error-shape",
    lambda d: True,
    """
    x = torch.tensor([[4]], dtype=torch.uint8)
    try:
        x.addbmm_(torch.zeros(0, 2, 2), torch.zeros(0, 2, 1))
    except Exception:
        pass
    x.shape
    """, "PyTorch resizes the in-place output of addbmm_ (to the product's shape) before it fails on the storage "
         "that cannot grow; tapegrad's failed in-place op leaves the tensor as it was", COMBINE, status="by-design")
known_class(
    "pytorch-addbmm-inplace-resizes", {"Tensor.addbmm_"}, "tapegrad-raises",
    lambda d: here_says(d, "does not fit the in-place output") and len(d.inputs) >= 3
    and d.inputs[1].dim() == 3 and d.inputs[2].dim() == 3,
    """
    x = torch.tensor([0.3, -2.2])
    x.addbmm_(torch.tensor([[[3.0]]]), torch.tensor([[[1.5, -0.25]]]))
    x.shape
    """, "PyTorch 2.13's addbmm_ writes through its out= path, which resizes self to the product's shape: a self "
         "that only broadcasts to the product, a (2,) self for a (1, 2) product, a 0-d (or (1, 1)) self for an "
         "empty (0, 1) one, takes the product's shape, where addmm_, baddbmm_ and addmv_ refuse ('Bad in-place "
         "call: input tensor size [2] and output tensor size [1, 2] should match'); tapegrad refuses as those, an "
         "in-place op does not change its tensor's shape", COMBINE, status="pytorch-bug")
known_class(
    "inplace-saved-values-int-target", {"Tensor.nan_to_num_", "Tensor.scatter_reduce_", "Tensor.index_reduce_",
                                        "Tensor.addcmul_", "Tensor.addcdiv_"},
    "backward-pytorch-raises",
    lambda d: torch_says(d, "modified by an inplace operation"),
    """
    e = torch.tensor([2])
    x = torch.tensor([1.5], requires_grad=True)
    y = torch.pow(x, e)
    e.nan_to_num_()
    y.sum().backward()
    x.grad
    """, "README: tapegrad keeps the values an earlier op needs, where PyTorch raises (in-place ops on a tensor "
         "another op saved: an integer exponent, a target of addcmul_)", COMBINE, status="by-design")
known_class(
    "cumulative-inplace-bool", {"Tensor.cumprod_", "Tensor.cumsum_"}, RAISES_HERE,
    lambda d: any(empty(t) or zero_d(t) for t in d.inputs) and here_says(d, "can't be cast to the output dtype"),
    """
    torch.zeros((2, 0), dtype=torch.bool).cumprod_(0).shape
    """, "PyTorch skips cumprod_'s bool check on an empty or 0-d tensor (nothing to scan, as empty-skips-checks); "
         "tapegrad checks",
    "tapegrad/ops/forms.py", status="by-design")
def circular_wraps_cropped(d):
    """F.pad(mode='circular') where a positive pad is larger than its dimension once the other side's negative pad
    has cropped it (yet no larger than the dimension itself, which PyTorch checks)."""
    pad, x = arg(d, 1), x0(d)
    if (kw(d, "mode") or arg(d, 2)) != "circular" or not isinstance(pad, (tuple, list)):
        return False
    for i in range(len(pad) // 2):
        lo, hi, size = pad[2 * i], pad[2 * i + 1], x.shape[x.dim() - 1 - i]
        if lo > size + min(hi, 0) or hi > size + min(lo, 0):
            return True
    return False


known_class(
    "pytorch-pad-circular-reads-uninitialized", F("pad"),
    {"value", "nan", "inf", "signed-zero", RAISES_THERE, RAISES_HERE},
    lambda d: circular_wraps_cropped(d) and (d.kind != RAISES_THERE or torch_says(d, "single memory location"))
    and (d.kind != RAISES_HERE or here_says(d, "wraps around nothing")),
    """
    x = torch.tensor([[[2.0, 1.0], [0.5, 0.0]]])
    torch.nn.functional.pad(x, (2, -1, 0, 0), mode='circular')
    """, "PyTorch 2.13's circular pad checks each pad against the input's size, not the size left after a negative "
         "pad on the other side (PadNd.cpp, _pad_circular_symint): a larger pad copies from its new_empty output's "
         "unwritten part (uninitialized memory), or raises copy_'s overlap error where that part overlaps the "
         "part it writes (pad (2, -1) of a width 2); tapegrad wraps the cropped dimension around again, and "
         "refuses to wrap one that the negative pad left empty (pad (-1, 1) of a width 1)",
    SPATIAL, status="pytorch-bug")
def trailing_bag_indices(d):
    """embedding_bag with include_last_offset whose last offset stops before the end of the input, in the form
    that reaches PyTorch's float32/float16 fast path (mode sum or mean, no padding_idx)."""
    ids, offs = arg(d, 0), arg(d, 2)
    return (bool(kw(d, "include_last_offset")) and kw(d, "padding_idx") is None and kw(d, "mode") in (None, "sum",
                                                                                                  "mean")
            and isinstance(offs, core.Lit) and isinstance(ids, core.Lit) and offs.array.size > 1
            and int(offs.array[-1]) < ids.array.size and x0(d).dtype in (torch.float32, torch.float16))


known_class(
    "pytorch-embedding-bag-last-offset-drops-indices", F("embedding_bag"),
    {"value", "signed-zero", "inf", "nan", "grad-value", "grad-nan", "grad-inf"}, trailing_bag_indices, ("""
    w, i = torch.tensor([[-0.0, 1.5, -0.0], [-1.0, -3.0, 0.5]]), torch.tensor([0, 1, 0, 1])
    torch.nn.functional.embedding_bag(i, w, torch.tensor([0, 2]), mode='sum', include_last_offset=True)
    """, """
    w = torch.tensor([[2.0], [3.0], [5.0]], requires_grad=True)
    i, offsets = torch.tensor([0, 1, 2]), torch.tensor([0, 1])
    torch.nn.functional.embedding_bag(i, w, offsets, mode='sum', include_last_offset=True).sum().backward()
    w.grad
    """), "PyTorch 2.13's float32/float16 embedding_bag fast path (sum/mean without padding_idx) drops the indices "
         "after include_last_offset's last offset from the sum, while its mean still divides by the count that "
         "includes them (EmbeddingBag.cpp make_bag_size: indices.size(0) - offsets[-1]); its float64, padding_idx "
         "and max paths put them in the last bag; tapegrad always puts them in the last bag. The backward is as "
         "inconsistent: sum's weight gradient leaves the dropped rows 0 while mean's gives them the last bag's "
         "share, and the per_sample_weights gradient of a dropped index is uninitialized memory (9e+30, 9e-41)",
    SPATIAL, status="pytorch-bug")
known_class(
    "pytorch-cov-writes-input", fam("cov", "corrcoef", inplace=False), {"state-value", "state-nan", "state-inf",
                                                                       "state-signed-zero", RAISES_THERE,
                                                                       "state-after-error-value",
                                                                       "state-after-error-nan",
                                                                       "state-after-error-inf",
                                                                       "state-after-error-signed-zero"} | GRADS,
    lambda d: d.kind != RAISES_THERE or torch_says(d, "leaf Variable that requires grad"),
    """
    x = torch.tensor([-1.9])
    torch.cov(x, fweights=torch.tensor([1]))
    x
    """, "PyTorch 2.13's cov writes 0 into its input when there is one observation and exactly one of fweights/"
         "aweights (Correlation.cpp: in.zero_() on the input's view; on a leaf that requires grad it raises; an "
         "int input then fails in mm against float64 aweights with the input already zeroed; a non-leaf input's "
         "later uses then get the zeroed value's gradient, CopySlices); tapegrad leaves the input alone",
    COUNTING, status="pytorch-bug")
known_class(
    "pytorch-addcdiv-int-input-grad", fam("addcdiv", "addr", "addmv", "addmm"), "backward-pytorch-raises",
    lambda d: torch_says(d, "can't be cast to the desired output type", "input tensors must have the same dtype"),
    """
    x = torch.tensor(-3.0, requires_grad=True)
    torch.tensor([4]).addcdiv(x, torch.tensor([2])).sum().backward()
    x.grad
    """, "PyTorch 2.13's backward of addcdiv/addr with an integer input and float tensors that require grad fails "
         "(its gradient is computed in the integer dtype); tapegrad's is right", COMBINE, status="pytorch-bug")
def call_tensor(d, pos, name):
    """The call's tensor argument at ``pos`` (or keyword ``name``), as PyTorch saw it: a pool tensor (one of
    ``d.inputs``) or a literal made for the call (an index, a 0-d operand), which ``d.inputs`` does not hold."""
    a = arg(d, pos) if len(d.call.args) > pos else kw(d, name)
    if isinstance(a, core.Lit):
        return torch.tensor(a.array, dtype=getattr(torch, a.dtype))
    refs = core._refs(d.call.args) + core._refs(d.call.kwargs)
    return next(t for r, t in zip(refs, d.inputs) if r is a)


def value_times_int_wraps(d):
    """addcmul/addcdiv with an integer ``value`` and an integer tensor1/tensor2 whose product with it leaves the
    tensor's dtype (uint8 254 * 7)."""
    value = kw(d, "value")
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    for pos, name in ((1, "tensor1"), (2, "tensor2")):
        t = call_tensor(d, pos, name)
        if isint(t) and t.dtype != torch.bool and t.numel():
            info = torch.iinfo(t.dtype)
            # (in Python's integers: -1 * int64's minimum is 2 ** 63, which a double rounds onto the maximum)
            if any(not info.min <= v * value <= info.max for v in t.flatten().tolist()):
                return True
    return False


known_class(
    "pytorch-addcmul-int-value-wraps-grad", fam("addcdiv", "addcmul"),
    {"grad-value", "grad-inf", "grad-nan", "backward-pytorch-raises"},
    lambda d: torch_says(d, "without overflow") if d.kind == "backward-pytorch-raises" else value_times_int_wraps(d),
    """
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    x.addcdiv(torch.tensor(254, dtype=torch.uint8), x, value=7).sum().backward()
    x.grad
    """, "PyTorch 2.13's addcdiv/addcmul backward (derivatives.yaml) multiplies value by the other operand in that "
         "operand's dtype: an integer tensor1 (or tensor2 of addcmul) times an integer value wraps (uint8 254 * 7 = "
         "242), so the gradient disagrees with its own forward (x + 1778 / x: tapegrad's -1777 at x = 1, PyTorch's "
         "-241), and a float value it cannot hold (inf, nan, 1e10 beside int16) makes the backward raise 'value "
         "cannot be converted to type int16_t without overflow' (value / tensor2 of addcdiv too); tapegrad's is the "
         "derivative of the forward", COMBINE, status="pytorch-bug")
known_class(
    "dist-rescaled", fam("dist", inplace=False), {"inf", "value", "nan"},
    lambda d: any_in(d, lambda t: big_sum(t) or (isint(t) and t.numel() > 0
                                                 and bool((t.double().abs() > 1e18).any()))),
    """
    torch.tensor([1e30, 1.0]).dist(torch.tensor([-1e30, 0.0]))
    """, "tapegrad's dist (a 2-norm) rescales to avoid overflow (2e30, not PyTorch's inf in float32), as norm",
    COMBINE, status="by-design")
known_class(
    "pytorch-narrow-copy-negative-start-grad", fam("narrow_copy", inplace=False), {"backward-pytorch-raises"}
    | GRADS,
    lambda d: d.kind != "backward-pytorch-raises" or torch_says(d, "must match the size of tensor"),
    """
    x = torch.ones(2, 3, requires_grad=True)
    torch.narrow_copy(x, 1, -2, 2).sum().backward()
    x.grad
    """, "PyTorch 2.13's narrow_copy backward fails for a negative start (a size mismatch in its formula); "
         "tapegrad's gradient is narrow's", SCATTER, status="pytorch-bug")
# -- tapegrad/ops/scatter_extra.py
known_class(
    "pytorch-scatter-int-src-grad", fam("select_scatter", "slice_scatter", "diagonal_scatter", inplace=False),
    RAISES_THERE,
    lambda d: torch_says(d, "Autograd not support dtype"),
    """
    src = torch.tensor(-0.7, dtype=torch.float64, requires_grad=True)
    torch.select_scatter(torch.tensor([5, -2]), src, 0, 1).tolist()
    """, "PyTorch 2.13's select_scatter of a src that requires grad into an integer tensor fails ('Autograd not "
         "support dtype: Long'); tapegrad casts src to the integers as it does without grad", SCATTER,
    status="pytorch-bug")
known_class(
    "pytorch-scatter-reduce-larger-src-grad", SCATTER_REDUCE, "backward-pytorch-raises",
    lambda d: torch_says(d, "must match the size of tensor"),
    """
    src = torch.tensor([5.0, 0.5, 7.0], requires_grad=True)
    torch.scatter_reduce(torch.tensor([1.0, 2.0, 3.0]), 0, torch.tensor([0, 1]), src, 'amax').sum().backward()
    src.grad
    """, "PyTorch 2.13's scatter_reduce backward for prod/amax/amin fails when src is larger than index (its "
         "formula compares src with the index-shaped gathered result); tapegrad gives 0 to the unread src",
    SCATTER, status="pytorch-bug")
def index_reduce_prod_of_single_elements(d):
    """index_reduce(reduce='prod') of a float16/bfloat16 tensor of 2 or more dims whose slices along dim are one
    element each, by an index of 2 or more entries."""
    x, dim = x0(d), kw(d, "dim") if kw(d, "dim") is not None else arg(d, 1)
    reduce = kw(d, "reduce") or next((a for a in d.call.args if isinstance(a, str)), None)
    index = next((a for a in d.call.args if isinstance(a, core.Lit) and a.array.dtype.kind in "iu"), None)
    return (dt(x) in ("float16", "bfloat16") and reduce == "prod" and x.dim() >= 2 and isinstance(dim, int)
            and x.numel() == x.shape[dim] and index is not None and index.array.size >= 2)


known_class(
    "pytorch-index-reduce-prod-half-single-elements", SCATTER_REDUCE, RAISES_THERE,
    lambda d: torch_says(d, "INTERNAL ASSERT FAILED") and index_reduce_prod_of_single_elements(d),
    """
    x = torch.tensor([[2.5], [0.5], [1.5]], dtype=torch.float16)
    torch.index_reduce(x, 0, torch.tensor([1, 1]), torch.tensor([[2.0], [3.0]], dtype=torch.float16), 'prod')
    """, "PyTorch 2.13's CPU index_reduce(reduce='prod') of a float16/bfloat16 tensor of 2 or more dims whose slices "
         "along dim are single elements ((3, 1) along dim 0), by 2 or more indices, fails an internal assert "
         "('iter.ninputs() == traits::arity ... Loops.h', 'please report a bug to PyTorch'; float32, 1-D tensors, "
         "longer slices and one index work); tapegrad computes the product (here [2.5, 3.0, 1.5])", SCATTER,
    status="pytorch-bug")

# -- fill_/zero_ of overlapping views, multi-output views (tapegrad/ops/copy.py, the view machinery)
known_class(
    "pytorch-fill-expanded-backward", {"Tensor.fill_", "Tensor.zero_", "F.threshold", "F.threshold_",
                                       "threshold_"}, "backward-pytorch-raises",
    lambda d: torch_says(d, "refers to a single memory location"),
    """
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = x * 3
    y[:1].expand(3).fill_(2.5)
    (y * torch.tensor([1.0, 10.0])).sum().backward()
    x.grad
    """, "PyTorch 2.13 fills (or thresholds) an expanded view of a tensor that requires grad (every element of a "
         "memory location gets the same value) "
         "but its backward through the write fails ('more than one element of the written-to tensor refers to a "
         "single memory location', its CopySlices); tapegrad's gradient is right (0 where the fill wrote, the "
         "gradient elsewhere)", "tapegrad/ops/copy.py", status="pytorch-bug")
known_class(
    "multi-output-view-base-written", ALL_OPS, {"backward-pytorch-raises", "pytorch-raises"},
    lambda d: torch_says(d, "This view is the output of a function that returns multiple views")
    and torch_says(d, "its base or another view of its base has been modified inplace"),
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    v = y.chunk(1)[0]
    with torch.no_grad():
        y.add_(1)
    (v * v).sum().backward()
    x.grad
    """, "README: PyTorch refuses a backward through an output of split/chunk/unbind whose base was written in "
         "place after the split (even under no_grad: it cannot regenerate the view's node; an op on that output "
         "in grad mode raises already, as amax(unbind(x)[1]) after unbind(x)[0].transpose_ under no_grad); "
         "tapegrad gives the "
         "gradient PyTorch gives for a single-output view (narrow) in the same program", "tapegrad/autograd/",
    status="by-design")

known_class(
    "inplace-saved-values-unread", INPLACE | ELEMENTWISE_F, "backward-pytorch-raises",
    lambda d: torch_says(d, "modified by an inplace operation") and d.call is not None and bool(d.inputs) and (
        d.call.no_grad or not x0(d).requires_grad) and (d.op in INPLACE or f_inplace(d)),
    """
    x = torch.tensor(0.85, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(-1.0, dtype=torch.float64)
    loss = torch.nn.functional.soft_margin_loss(x, t)
    with torch.no_grad():
        t.reciprocal_()
    loss.backward()
    x.grad
    """, "README: tapegrad keeps the values an earlier op needs, where PyTorch raises: an in-place write into a "
         "tensor that does not require grad (or under no_grad) after an op used it (a loss's target, pooling "
         "indices, index_put_'s or lerp_'s own target): PyTorch saved the tensor and refuses the backward; "
         "tapegrad's rule kept what it needs at forward time (or the write kept an earlier self), so its gradient "
         "is the recorded op's", T, status="by-design")


def source_shares_self(d):
    """masked_scatter_'s source is self, or another tensor over self's memory (``+v`` is v itself, a view)."""
    if isinstance(arg(d, 0), core.Ref) and arg(d, 0) == arg(d, 2):
        return True
    # (the inputs are the call's tensor arguments: the source is the last, after the mask when that is one too)
    return isinstance(arg(d, 2), core.Ref) and len(d.here_inputs) >= 2 and bool(np.shares_memory(
        d.here_inputs[0].detach().numpy(), d.here_inputs[-1].detach().numpy()))


known_class(
    "pytorch-masked-scatter-self-source", {"Tensor.masked_scatter_"}, {"value", "nan", "inf", "signed-zero"}
    | STATE,
    source_shares_self,
    """
    v = torch.tensor([1.0, 2.0, 3.0, 4.0])
    v.masked_scatter_(torch.tensor([True, False, True, True]), v)
    v
    """, "PyTorch 2.13's masked_scatter_ with the tensor itself as source reads source elements it has already "
         "overwritten ([1, 2, 2, 2] here; it has no overlap check, unlike index_put_ and scatter_); tapegrad reads "
         "the source first ([1, 2, 2, 3], what the out-of-place masked_scatter gives)", "tapegrad/ops/scatter_extra.py",
    status="pytorch-bug")


def put_value_shares_self(d):
    """setitem with an index tensor or mask (index_put_) of a tensor value over the written tensor's memory."""
    if d.call is None or len(d.here_inputs) < 2 or not isinstance(arg(d, 2), core.Ref):
        return False
    parts = arg(d, 1) if isinstance(arg(d, 1), tuple) else (arg(d, 1),)
    return any(isinstance(p, (core.Ref, core.Lit, list)) for p in parts) and bool(np.shares_memory(
        d.here_inputs[0].detach().numpy(), d.here_inputs[-1].detach().numpy()))


known_class(
    "pytorch-index-put-reads-written-value", {"[]="}, {"value", "nan", "inf", "signed-zero"} | STATE,
    put_value_shares_self,
    """
    x = torch.arange(12).reshape(3, 4)
    x[torch.tensor([0, 2]), 1:3] = x[0, :2]
    x
    """, "PyTorch 2.13's setitem with an index tensor (index_put_) of a value over the memory it writes, where its "
         "overlap check cannot tell (the written view x[:, 1:3] is not dense), reads value elements it has "
         "already overwritten (row 0 becomes [0, 0, 0, 3]); tapegrad reads the value first ([0, 0, 1, 3], what a "
         "clone() of the value gives in both)", IX, status="pytorch-bug")


known_class(
    "pytorch-index-put-int-grad", fam("index_put"), RAISES_THERE,
    lambda d: torch_says(d, "Autograd not support dtype"),
    """
    v = torch.tensor(-3.0, dtype=torch.float16, requires_grad=True)
    torch.tensor([5, -1, 2]).index_put((torch.tensor([False, True, True]),), v).tolist()
    """, "PyTorch 2.13's index_put of a value that requires grad into an integer tensor fails ('Autograd not "
         "support dtype: Long'), as its select_scatter (pytorch-scatter-int-src-grad); tapegrad casts the value "
         "to the integers as it does without grad", IX, status="pytorch-bug")


known_class(
    "no-derivative-native-channel-shuffle", F("native_channel_shuffle"), "backward-pytorch-raises",
    lambda d: torch_says(d, "derivative for aten::native_channel_shuffle is not implemented"),
    """
    x = torch.arange(4.0).reshape(1, 4, 1).requires_grad_()
    torch.nn.functional.native_channel_shuffle(x, 2).sum().backward()
    x.grad
    """, "PyTorch 2.13's native_channel_shuffle has no derivative (its backward raises); tapegrad's is the "
         "permutation's (as channel_shuffle's, which PyTorch differentiates); README says so",
    "tapegrad/nn/_functional_spatial.py", status="by-design")


known_class(
    "empty-bool-contraction", {"einsum"} | F("bilinear"), RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) and here_says(d, "contracts bool operands", "not implemented for bool"),
    """
    torch.einsum('ij,jk->ik', torch.zeros(2, 0, dtype=torch.bool), torch.zeros(0, 3, dtype=torch.bool))
    """, "PyTorch skips the bool check of its batched matrix product on empty operands (einsum, bilinear: the "
         "class of empty-bool-matmul); tapegrad checks", L, status="by-design")


def householder_step_overflows(d):
    """float32 qr of a matrix with a value beyond half of float32's range: LAPACK's slarfg computes beta - alpha
    (|alpha| + the column's norm) in float32, which overflows there."""
    t = x0(d)
    if not isf(t) or t.dtype != torch.float32 or not t.numel():
        return False
    a = t.detach().double().abs()
    return bool((a[torch.isfinite(a)] > torch.finfo(torch.float32).max / 2).any())


known_class(
    "qr-float32-householder-overflow", fam("qr", "geqrf", inplace=False) | {"linalg.qr"},
    {"value", "nan", "inf", "signed-zero"} | GRADS, householder_step_overflows,
    """
    torch.tensor([[-3e38], [1e5], [-0.25]]).qr(some=False)[0]
    """, "README: float32 qr of a column holding a value past half of float32's range: PyTorch's sgeqrf computes "
         "the reflector's beta - alpha in float32, which overflows (-inf and NaN in Q); tapegrad's float32 qr runs "
         "in float64 and rounds, so Q and R are the factorization's (Q[0, 0] = -1 here)", LI, status="by-design")


def rank_deficient(t):
    """A (batch of) matrices of which one is numerically rank-deficient: its smallest singular value is within
    max(m, n) * eps of its largest (a QR pivot there is rounding noise)."""
    if not isf(t) or t.dim() < 2 or t.numel() == 0 or not bool(torch.isfinite(t).all()):
        return False
    a = t.detach().double()
    sv = torch.linalg.svdvals(a)
    eps = torch.finfo(t.dtype).eps * max(a.shape[-2:])
    return bool((sv[..., -1] <= sv[..., 0] * eps).any())


known_class(
    "qr-rank-deficient", fam("qr", inplace=False), {"value", "signed-zero", "nan", "inf"} | GRADS,
    lambda d: rank_deficient(x0(d)),
    """
    torch.qr(torch.ones(3, 3))[0]
    """, "qr of a numerically rank-deficient matrix: a pivot of R is rounding noise (+-0 or +-1e-8), so its sign, "
         "the sign of Q's matching column and Q's columns past the rank are arbitrary (both factorizations are "
         "right: Q R = A, Q orthonormal); tapegrad's float32 qr runs numpy's LAPACK dgeqrf in float64 and rounds, "
         "PyTorch's runs MKL's sgeqrf in float32, whose noise differs (the gradient divides by that pivot)",
    LI, status="by-design")


def both_zeros(d):
    """Zeros of both signs among the call's tensor inputs and number arguments (a tie whose sign is a choice)."""
    vals = [float(v) for v in nums(d) if isinstance(v, float)]
    for t in d.inputs:
        if isf(t) and t.numel():
            z = t.detach()[t.detach() == 0]
            vals += z.double().tolist()
    return any(v == 0 and math.copysign(1, v) > 0 for v in vals) and any(
        v == 0 and math.copysign(1, v) < 0 for v in vals)


def flushed_by_sigmoid(d):
    """An input made by float32 sigmoid that PyTorch flushed to 0 where tapegrad kept the (denormal) value. An
    in-place call's first input is tapegrad's after the call (log10_ of 3.8e-44 is -43.4): PyTorch's zeros then."""
    for k, (t, here, o) in enumerate(zip(d.inputs, d.here_inputs, d.origins)):
        if o.split(".")[-1].rstrip("_") in ("sigmoid", "expit") and t.dtype == torch.float32:
            a, b = here.detach().numpy(), t.detach().numpy()
            if a.shape == b.shape and bool(((b == 0) & (a != 0) & (np.abs(a) < 2.0 ** -126)).any()):
                return True
            if k == 0 and d.op in INPLACE and bool((b == 0).any()):
                return True
    return False


known_class(
    "tie-of-signed-zeros", fam("amin", "amax", "min", "max", "topk", inplace=False) | fam("minimum", "maximum")
    | SCATTER_REDUCE, {"signed-zero", "state-signed-zero"},
    lambda d: both_zeros(d) and (d.op not in SCATTER_REDUCE or any(
        isinstance(a, str) and a in ("amin", "amax") for a in list(d.call.args) + [kw(d, "reduce")])),
    """
    torch.amin(torch.tensor([[[-0.25, 3.0, 0.0]], [[1.0, 0.5, -0.0]]]), 0)
    """, "which zero of a tie between 0.0 and -0.0 a min/max returns is unspecified (IEEE 754 minNum/maxNum), and "
         "PyTorch's kernels choose differently by path: amin of [0., -0.] gives 0. and of 34 or more values a "
         "lane's, min() gives the later one, minimum of 2 values the first and of 20 the second; tapegrad "
         "gives numpy's (the later zero); topk returns ties in index order, PyTorch's partial sort in an "
         "unspecified one", R, status="by-design")
known_class(
    "pytorch-sigmoid-float32-flush", ALL_OPS, {"value", "nan", "inf", "signed-zero"} | GRADS | STATE,
    flushed_by_sigmoid,
    """
    torch.frexp(torch.sigmoid(torch.tensor([-100.0])))[0]
    """, "PyTorch's float32 sigmoid computes 1 / (1 + exp(-x)), whose exp overflows for x < -88.7, so it gives 0 "
         "where the value is a denormal (sigmoid(-100) = 3.78e-44, float64's answer rounded); tapegrad keeps it",
    E, status="pytorch-bug")


def kink_at_conv_rounding(d):
    """abs/relu-like ops (their gradient jumps at 0) of a convolution's output that is 0 in one library and its
    rounding residue in the other (-1.2e-7 for -3 * 1.1 + 3 * 1.1 through numpy's BLAS)."""
    here = d.here_before or d.here_inputs  # (a gradient's discrepancy keeps the inputs as they were before the call)
    if not d.origins or d.origins[0].rsplit(".", 1)[-1] not in ("conv1d", "conv2d", "conv3d") or not here:
        return False
    a, b = here[0].detach().numpy(), x0(d).detach().numpy()
    return a.shape == b.shape and bool(((a == 0) != (b == 0)).any())


known_class(
    "conv-rounding-at-a-kink", fam("abs", "absolute", "sgn", "sign", "relu") | F("relu", "relu_", "hardtanh",
                                                                                  "leaky_relu", "relu6"),
    GRADS, kink_at_conv_rounding,
    """
    x = torch.tensor([[[[[-2.2, 1.1, 1.3], [1.1, 0.05, -0.7]], [[-0.7, 1.1, 0.85], [-1.9, -0.7, -0.7]],
                        [[-0.7, -1.9, 0.05], [-0.45, 0.05, 2.6]]]]], requires_grad=True)
    torch.nn.functional.conv3d(x, torch.tensor([[[[[-3.0]], [[3.0]]]]])).abs().sum().backward()
    x.grad
    """, "README: a convolution's output that is 0 in exact arithmetic (-3 * 1.1 + 3 * 1.1) is its BLAS's rounding "
         "residue in one library and 0 in the other (tapegrad's im2col product through numpy's BLAS fuses the "
         "multiply-adds: -1.2e-7; PyTorch's oneDNN on this CPU gives 0); abs, sgn or relu's gradient at that value "
         "is then -1 in one and 0 in the other", C, status="by-design")


def cumprod_overflows(d):
    """cumprod whose running product leaves the result dtype's range (dtype=float16 of float32 values, or huge
    values) where the factors are finite."""
    x = x0(d)
    if not isf(x) or not x.numel():
        return False
    dtype = kw(d, "dtype") or (arg(d, 2) if isinstance(arg(d, 2), core.DT) else None)
    dtype = getattr(torch, dtype.name) if isinstance(dtype, core.DT) else x.dtype
    dim = kw(d, "dim") if kw(d, "dim") is not None else arg(d, 1)  # (args[0] is the tensor)
    if not isinstance(dim, int) or not dtype.is_floating_point:
        return False
    with np.errstate(all="ignore"):
        out = x.detach().to(dtype).cumprod(dim)
        finite = torch.isfinite(x.detach()).cumprod(dim).bool() if x.dim() else torch.isfinite(x.detach())
        return bool((~torch.isfinite(out) & finite.reshape(out.shape)).any())


known_class(
    "cumprod-grad-overflow", fam("cumprod", inplace=False), GRADS, cumprod_overflows,
    """
    x = torch.tensor([[0.0, -60000.0], [1.0, 1.5], [1.0, 3.0]], requires_grad=True)
    y = x.cumprod(0, dtype=torch.float16)
    y.backward(torch.ones_like(y))
    x.grad[0, 1]
    """, "README: cumprod's gradient where the running product overflows the result dtype (float16 -60000 * 1.5): "
         "with a zero anywhere in the tensor tapegrad takes the derivative of the finite factors (2.5 here), "
         "PyTorch 2.13 divides the overflowed products by the input (inf)", R, status="by-design")


known_class(
    "overlapping-window-write-recorded", fam("index_add", "index_copy", "index_fill", "put", "index_put",
                                             "masked_scatter", "scatter", "scatter_add", "scatter_reduce"),
    RAISES_HERE,
    lambda d: here_says(d, "is a read-only view (several of its elements share one memory location")
    and bool(d.inputs) and d.inputs[0].requires_grad,
    """
    x = (torch.arange(9.0, requires_grad=True) * 1).reshape(3, 3)
    x.unfold(1, 2, 1).index_add_(-1, torch.tensor([1]), torch.ones(3, 2, 1))
    x
    """, "README: a write into a view whose windows share memory (unfold with step < size) of a tensor that requires "
         "grad is refused here (outside autograd tapegrad writes it as PyTorch does, one element at a time); "
         "PyTorch writes and records it", IX, status="by-design")


def logsigmoid_subnormal(d):
    """F.logsigmoid of a float input whose exp(-|x|) is a float32 (float64 for float64) denormal: |x| above 87.3
    (708.4). PyTorch's vectorized exp (SLEEF's u10) is not correctly rounded there and gives 0 from -103.3 (-745)."""
    x = d.inputs[0] if d.inputs else None
    if not isf(x) or not x.numel():
        return False
    edge = 708.39 if x.dtype == torch.float64 else 87.33
    return bool((x.detach().double().abs() > edge).any())


known_class(
    "pytorch-logsigmoid-subnormal-exp", F("logsigmoid"), {"value", "signed-zero"} | GRADS, logsigmoid_subnormal,
    """
    torch.signbit(torch.nn.functional.logsigmoid(torch.tensor([103.0], dtype=torch.float16)))
    """, "log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)): where exp(-|x|) is a float32 denormal (|x| > 87.3), "
         "PyTorch 2.13's vectorized exp (SLEEF u10) rounds it off by several ulps and gives 0 from 103.3 on "
         "(float16 logsigmoid(103.) is +0.0 there, -1.4e-45 rounded is -0.0); tapegrad's exp is correctly "
         "rounded", E, status="pytorch-bug")
def renorm_powers_overflow(d):
    """renorm(x, p, dim, maxnorm) of a slice whose sum of |x|^p overflows x's dtype (1e30 ** 2 in float32, 1e300 ** 3
    in float64): PyTorch's norm, computed as that sum, is inf there."""
    x, p = d.inputs[0], arg(d, 1) if arg(d, 1) is not None else kw(d, "p")
    dim = arg(d, 2) if arg(d, 2) is not None else kw(d, "dim")
    if not isf(x) or x.dim() < 2 or not isinstance(p, (int, float)) or not 0 < p < math.inf or dim is None:
        return False
    a = x.detach().double().abs().movedim(dim, 0).reshape(x.shape[dim], -1)
    logs = torch.where(a > 0, p * a.log(), torch.tensor(-math.inf, dtype=torch.float64))
    return bool((logs.logsumexp(1) > math.log(torch.finfo(x.dtype).max)).any())


known_class(
    "pytorch-renorm-float32-norm-overflow", fam("renorm"), {"value", "nan", "inf", "signed-zero"} | GRADS,
    renorm_powers_overflow,
    """
    torch.tensor([[0.0], [1.0], [1e30]]).renorm(2, -1, 10.0)
    """, "PyTorch's renorm sums |x|^p in the input's dtype, which overflows (float32 squares beyond 1.8e19, float64 "
         "cubes beyond 5.6e102), so a slice's norm is inf and the slice is scaled to 0; tapegrad's norm is finite "
         "(rescaled) and the slice keeps its direction", R, status="pytorch-bug")


known_class(
    "sgn-zero-tensor-grad", fam("sgn"), {"grad-nan"},
    lambda d: isf(x0(d)),
    """
    x = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    torch.acosh(x).sgn().sum().backward()
    x.grad
    """, "PyTorch's real sgn_backward returns an efficient zero tensor (FunctionsManual.cpp) that skips the rules "
         "before it, so 0 * nan (acosh'(0.5)) or 0 * inf (sqrt'(0)) stays 0 there; its own sign, floor, round and "
         "trunc return plain zeros_like(grad) and give nan at the same points (x.sqrt().sign() at 0: nan in both). "
         "tapegrad gives sgn sign's rule: plain zeros, IEEE products upstream", "tapegrad/ops/elementwise.py",
    status="by-design")


def norm_p(d):
    """The p of a norm call (PyTorch's default 'fro')."""
    p = kw(d, "p") if kw(d, "p") is not None else arg(d, 1)
    return "fro" if p is None else p


def norm_power_leaves_range(d):
    """A p-norm (p finite, not 0) of values whose |x|^(p-1) or ||x||^(1-p), PyTorch's separate factors of the
    gradient, overflow or underflow in the dtype; for dist(x, y, p), of x - y."""
    if d.op in fam("dist", inplace=False):
        p = kw(d, "p") if kw(d, "p") is not None else arg(d, 2)
        p = 2.0 if p is None else p
        if len(d.inputs) < 2:
            return False
        t = d.inputs[0] - d.inputs[1]
    else:
        p, t = norm_p(d), x0(d)
    p = 2.0 if p == "fro" else p
    if not isinstance(p, (int, float)) or p == 0 or math.isinf(p):
        return False
    k = max(abs(p - 1), 1.0)
    if not isf(t) or not t.numel():
        return False
    a = t.detach().abs().double()
    a = a[torch.isfinite(a) & (a > 0)]
    info = torch.finfo(t.dtype)
    return bool(a.numel()) and bool((a > info.max ** (1 / k)).any() or (a < info.tiny ** (1 / k)).any())


known_class(
    "pytorch-norm-grad-power-range", fam("norm", "dist", inplace=False), {"grad-nan", "grad-inf", "grad-value"},
    norm_power_leaves_range, ("""
    x = torch.tensor([60000.0, 1e-30], requires_grad=True)
    x.norm(-1).backward()
    x.grad
    """, """
    x = torch.tensor([2e19, 1.0], requires_grad=True)
    torch.autograd.grad(x.norm(3), x)[0]
    """), "README: PyTorch's norm_backward computes sgn(x) |x|^(p-1) * grad * norm^(1-p), factors that overflow or "
          "underflow in the dtype: for p < 0 and a small |x| the power overflows (1e-30^-2 is inf in float32) and "
          "the norm's underflows (inf * 0 = nan), for p = 3 and |x| of 2e19 both overflow (inf / inf = nan), for "
          "p = -1 and |x| of 3e38 both underflow (and dist(x, y, p), the norm of x - y); tapegrad's "
          "(|x| / norm)^(p-1) gives the true value (1 here)", R,
    status="pytorch-bug")


def int_power_of_two_wraps(e):
    """2 ** e computed in e's integer dtype differs from the true power: e < 0, or 2 ** e beyond the dtype."""
    if e.numel() == 0:
        return False
    bits = torch.iinfo(e.dtype).bits - (0 if e.dtype == torch.uint8 else 1)
    return bool((e.long() < 0).any() or (e.long() >= bits).any())


known_class(
    "pytorch-ldexp-int-exponent-grad", fam("ldexp"), {"grad-value", "grad-inf", "grad-nan"},
    lambda d: len(d.inputs) > 1 and isint(d.inputs[1]) and int_power_of_two_wraps(d.inputs[1]),
    """
    x = torch.tensor([1.5], requires_grad=True)
    torch.ldexp(x, torch.tensor([-2])).backward()
    x.grad
    """, "PyTorch's ldexp gradient is grad * at::pow(2, other) (derivatives.yaml), an integer power for an integer "
         "exponent, 0 for a negative one and wrapped where 2 ** other overflows the exponent's dtype (0 for uint8 "
         "156, -128 for int8 7); tapegrad's is 2 ** other (0.25 here)", E, status="pytorch-bug")


def call_numel(d, pos, name):
    """The number of elements of the call's tensor argument at ``pos`` (or keyword ``name``)."""
    return call_tensor(d, pos, name).numel()


known_class(
    "pytorch-scatter-reduce-larger-src-broadcast", fam("scatter_reduce"), GRADS,
    lambda d: call_numel(d, 2, "index") < call_numel(d, 3, "src") and any(
        isinstance(a, str) and a in ("amin", "amax", "prod") for a in list(d.call.args) + [kw(d, "reduce")]),
    """
    src = torch.tensor([[5.0, 0.5]], requires_grad=True)
    torch.scatter_reduce(torch.tensor([[1.0, 2.0]]), 1, torch.tensor([[0]]), src, 'prod').sum().backward()
    src.grad
    """, "PyTorch 2.13's scatter_reduce backward for prod/amax/amin multiplies the src-shaped mask by the "
         "index-shaped gathered gradient; where index has size 1 along a dim that src is longer in, that broadcasts "
         "instead of failing (pytorch-scatter-reduce-larger-src-grad) and gives src elements the index never read "
         "a gradient (10 here, nan after a nan); tapegrad gives them 0", SCATTER, status="pytorch-bug")


def squares_overflow(d):
    """atan2's a*a + b*b is infinite somewhere: an operand infinite, or large enough that its square overflows the
    result's float dtype (6e4 in float16, 2e19 in float32)."""
    ts = [t.detach() for t in d.inputs[:2] if isinstance(t, torch.Tensor)]
    flt = [t.dtype for t in ts if isf(t)]
    if not flt or any(t.numel() == 0 for t in ts):
        return False
    big_ = torch.finfo(flt[0]).max
    sq = sum(t.double() * t.double() for t in ts) if len(ts) == 2 else ts[0].double() ** 2
    return bool((sq > big_).any()) or any(bool(torch.isinf(t).any()) for t in ts if isf(t))


known_class(
    "atan2-grad-at-infinity", fam("atan2", "arctan2"), GRADS,
    lambda d: any_in(d, lambda t: isf(t) and t.numel() > 0 and bool(torch.isinf(t).any())) or squares_overflow(d),
    """
    y, x = torch.tensor(float('inf'), requires_grad=True), torch.tensor(1.0, requires_grad=True)
    torch.atan2(y, x).backward()
    x.grad
    """, "atan2's gradient where an operand is infinite (or its square overflows: 3e38 in float32): tapegrad "
         "gives the limit, 0 (its rule takes the gradient g * 0 where a*a + b*b is infinite), PyTorch's "
         "atan2_backward multiplies inf (g * a, or a) by 1 / inf = 0: nan",
    E, status="by-design")
known_class(
    "pytorch-lp-pool1d-tuple-kernel", F("lp_pool1d"), RAISES_THERE,
    lambda d: torch_says(d, "must be Tensor, not tuple"),
    """
    torch.nn.functional.lp_pool1d(torch.tensor([[[0.3, 0.3]]]), 2.0, (2,))
    """, "PyTorch 2.13's lp_pool1d multiplies by kernel_size, so a kernel_size given as a 1-tuple (which its "
         "avg_pool1d accepts) fails ('mul(): argument 'other' must be Tensor, not tuple'); tapegrad computes",
    POOLING, status="pytorch-bug")
known_class(
    "pytorch-addmv-empty-matrix-shape", ADDMM, "shape",
    lambda d: len(d.inputs) > 1 and d.inputs[1].dim() == 2 and (
        d.inputs[1].shape[0] == 0 and d.inputs[0].numel() == 1
        # addmv_out_cpu's mat.numel() == 0 shortcut: mul_out(result, self, beta) resizes the result to self's shape
        or d.op in fam("addmv") and d.inputs[1].numel() == 0 and tuple(d.inputs[0].shape) != d.inputs[1].shape[:1]),
    """
    torch.addmv(torch.tensor([-1.0]), torch.zeros(0, 3), torch.ones(3)).shape
    """, "PyTorch 2.13's addmv with a matrix of 0 rows returns beta * input in input's shape ((1,) here) instead "
         "of broadcasting it to the product's (0,); tapegrad's result has the product's shape. Same with 0 columns "
         "(addmv(tensor([1.]), zeros(2, 0), zeros(0)) is (1,) there, (2,) here): Blas.cpp's addmv_out_cpu "
         "shortcut for mat.numel() == 0 multiplies the unexpanded self into the result", L,
    status="pytorch-bug")
known_class(
    "copysign-nan-sign", fam("copysign"), {"value", "inf", "signed-zero"},
    lambda d: len(d.inputs) > 1 and isf(d.inputs[1]) and d.inputs[1].numel() > 0
    and bool(torch.isnan(d.inputs[1]).any()),
    """
    x = torch.tensor([-float('inf')], dtype=torch.float16)
    x.copysign(torch.arcsin(x))
    """, "copysign takes the sign bit of a NaN, which IEEE 754 leaves unspecified for an op's result: numpy's "
         "arcsin(-inf) is -nan, PyTorch's +nan, so the sign copied from it differs", E, status="by-design")
def nan_signs_only(d):
    """The call's float input differs from PyTorch's only in the sign bits of its NaNs (made by earlier ops)."""
    t = x0(d)
    if not isf(t) or t.numel() == 0 or not bool(torch.isnan(t).any()):
        return False
    a, b = d.here_inputs[0].detach().numpy(), t.detach().numpy()
    nan = np.isnan(b)
    return a.shape == b.shape and bool(np.array_equal(np.isnan(a), nan)) and bool(
        np.array_equal(np.signbit(a)[~nan], np.signbit(b)[~nan]))


known_class(
    "nan-sign-bit", fam("signbit", inplace=False), "value", nan_signs_only,
    """
    torch.log(torch.tensor([-3.0, 2.0])).signbit()
    """, "signbit reads the sign bit of a NaN, which IEEE 754 (6.3) leaves unspecified for an op's result and "
         "PyTorch's kernels set differently: MKL's log/log10/sqrt of a negative give +nan (numpy's, x86's default "
         "NaN, -nan), its 0 * inf, inf - inf and acos(2) -nan, its sigmoid flips the sign of a NaN input; "
         "tapegrad's NaNs carry numpy's signs", E, status="by-design")
known_class(
    "clamp-tensor-bound-tie-of-signed-zeros", fam("clamp", "clamp_min", "clamp_max", "clip"),
    {"signed-zero", "state-signed-zero"}, lambda d: len(d.inputs) > 1 and both_zeros(d),
    """
    torch.zeros(16).clamp_min(torch.full((16,), -0.0))
    """, "clamp with tensor bounds at a tie of 0.0 and -0.0: PyTorch's vectorized kernel (max/min instructions) "
         "gives the bound's zero on each full vector (16 float32, 8 float64, 32 float16 with AVX512; fewer with "
         "AVX2) and its scalar tail std::max the input's, so which zero depends on the length and the CPU; "
         "tapegrad gives the input's (the scalar path's), as for number bounds, where both agree", E,
    status="by-design")


def clamp_bound_compared_in_another_dtype(d):
    """clamp with a tensor bound whose dtype with the input's (where PyTorch's gradient compares them) is not the
    result dtype (where its forward does), and a comparison the two dtypes decide differently."""
    x = x0(d)
    bounds = [b for b in list(d.call.args[1:3]) + [kw(d, "min"), kw(d, "max")] if isinstance(b, torch.Tensor)]
    out_dt = torch.clamp(x.detach(), *(d.call.args[1:3]), **d.call.kwargs).dtype
    for b in bounds:
        pair = torch.result_type(x, b)
        if pair == out_dt:
            continue
        xp, bp, xo, bo = x.detach().to(pair), b.detach().to(pair), x.detach().to(out_dt), b.detach().to(out_dt)
        if bool(((xp < bp) != (xo < bo)).any() or ((xp <= bp) != (xo <= bo)).any()):
            return True
    return False


known_class(
    "pytorch-clamp-tensor-bound-grad-other-dtype", fam("clamp", "clip"), GRADS,
    clamp_bound_compared_in_another_dtype,
    """
    x = torch.tensor([1.0, 2.0], dtype=torch.float16, requires_grad=True)
    lo = torch.tensor(1.0001, requires_grad=True)
    torch.clamp(x, lo, torch.tensor([3.0, 3.0], requires_grad=True)).sum().backward()
    x.grad, lo.grad
    """, "clamp with tensor bounds of another dtype: PyTorch 2.13's forward compares in the result dtype of all "
         "three (float32 here: the output is 1.0001, min's value), its gradient (clamp_backward, "
         "clamp_backward_min_max) compares each bound with the input in their two dtypes' (float16: 1.0001 is "
         "1.0, a tie, so the gradient goes to the input and min gets 0); tapegrad's gradient goes to the tensor "
         "the forward took", E, status="pytorch-bug")


def one_output(d):
    """A std/var call that reduces its input to one value (PyTorch's std_var_all_cpu path)."""
    x = x0(d)
    dims = kw(d, "dim") if kw(d, "dim") is not None else arg(d, 1)
    if dims is None or isinstance(dims, bool):
        return True
    dims = [dims] if isinstance(dims, int) else list(dims)
    return math.prod(x.shape[i] for i in range(x.dim()) if i not in {k % max(x.dim(), 1) for k in dims}) <= 1


known_class(
    "pytorch-std-var-overflowing-mean", fam("std", "var", inplace=False), {"inf", "value", "nan"},
    lambda d: dt(x0(d)) == "float32" and x0(d).numel() > 0 and bool(torch.isfinite(x0(d)).all())
    and not bool(torch.isfinite(x0(d).mean())) and one_output(d),
    """
    torch.tensor([3e38, 3e38, 1.0]).std()
    """, "PyTorch 2.13's CPU std/var to one value (std_var_all_cpu, ReduceOps.cpp) takes the mean with mean() in "
         "float32, which overflows to inf for values near the maximum (3e38 + 3e38), so std is inf where its own "
         "std_mean of the same tensor gives 1.7321e+38 (float64's answer); tapegrad's std is that", R,
    status="pytorch-bug")


def zero_divisor_of_noise(d):
    """var/std with correction >= N (a divisor of 0) over tapegrad's equal values (0 / 0 = nan) where PyTorch's
    input, from an earlier op's rounding, holds unequal ones (x / 0 = inf)."""
    c = kw(d, "correction")
    x, h = x0(d), d.here_inputs[0].detach().numpy()
    if c is None or not isf(x) or x.numel() == 0 or not one_output(d) or c < x.numel():
        return False
    b = x.detach().numpy()
    return bool((h == h.flat[0]).all()) and not bool((b == b.flat[0]).all())


known_class(
    "pytorch-var-zero-divisor-of-norm-noise", fam("var", "std", inplace=False), {"nan", "inf"},
    zero_divisor_of_noise,
    """
    x = torch.nn.functional.group_norm(torch.tensor([[[[0.5]]], [[[-3.0]]]]), 1, weight=torch.tensor([-1.0]),
                                       bias=torch.tensor([0.05]))
    torch.var(x, correction=5)
    """, "var with correction >= N divides by 0 in both (NaN for equal values, inf otherwise); the values differ "
         "upstream: PyTorch's group_norm of a one-element group gives b + 3e-6 and b + 1.8e-5 "
         "(pytorch-norm-constant-set), tapegrad's exactly b, and the zero divisor turns that rounding into inf "
         "where tapegrad's equal values give NaN", R, status="pytorch-bug")


def zero_divisor_of_equal_values(d):
    """var/std with correction >= N (a divisor of 0) over equal values in both libraries: PyTorch's one-pass mean of
    them is a rounding off (0.05 three times: 0.05000000000000001), its sum of squares a tiny positive, x / 0 = inf;
    tapegrad's corrected two-pass removes the mean's rounding, 0 / 0 = nan."""
    c = kw(d, "correction")
    x, h = x0(d), d.here_inputs[0].detach().numpy()
    if c is None or not isf(x) or x.numel() < 2 or not one_output(d) or c < reduced_count(d):
        return False
    b = x.detach().numpy()
    return bool((h == h.flat[0]).all()) and bool((b == b.flat[0]).all())


known_class(
    "pytorch-var-zero-divisor-of-mean-rounding", fam("var", "std", inplace=False), {"nan", "inf"},
    zero_divisor_of_equal_values,
    """
    torch.std(torch.tensor([0.05, 0.05, 0.05], dtype=torch.float64), correction=5)
    """, "README: var/std with correction >= N (PyTorch warns: no degrees of freedom) divide by 0 in both; over equal "
         "values tapegrad's variance is 0 / 0 = NaN (its corrected two-pass mean is exact), PyTorch's is inf (its "
         "mean of 0.05, 0.05, 0.05 is 0.05000000000000001, so its sum of squares is 1.4e-34, not 0)",
    R, status="pytorch-bug")


def histogram_position_overflows(d):
    """histogram with an int bins whose position (x - lo) * bins overflows the input's float dtype for some x in
    the range (PyTorch's LINEAR_INTERPOLATION_WITH_LOCAL_SEARCH then casts inf to int64)."""
    x = x0(d)
    bins = kw(d, "bins") if kw(d, "bins") is not None else arg(d, 1)
    if not isf(x) or x.numel() == 0 or not isinstance(bins, int) or bins <= 0:
        return False
    a = x.detach().double().flatten()
    a = a[torch.isfinite(a)]
    rng = kw(d, "range")
    lo, hi = (float(rng[0]), float(rng[1])) if rng is not None else (float(a.min()), float(a.max())) if a.numel() \
        else (0.0, 1.0)
    if lo == hi:  # the range PyTorch widens by 0.5 each side, which the dtype may round away: then every edge is
        lo, hi = lo - 0.5, hi + 0.5  # the one value, whose position 0 * bins / 0 is NaN (also cast to INT64_MIN)
        ends = torch.tensor([lo, hi], dtype=torch.float64).to(x.dtype).double()
        if float(ends[0]) == float(ends[1]):
            return bool(((a >= ends[0]) & (a <= ends[1])).any())
    a = a[(a >= lo) & (a <= hi)]
    return bool(a.numel()) and float(((a - lo) * bins).max()) > float(torch.finfo(x.dtype).max)


known_class(
    "pytorch-histogram-position-overflow", fam("histogram", inplace=False), "value", histogram_position_overflows,
    """
    torch.histogram(torch.tensor([-2.5, 3.0, 1.5, 3e38, -60000.0, 1.5]), 3)[0]
    """, "PyTorch's histogram puts x in bin (x - lo) * bins / (hi - lo) computed in the input's dtype "
         "(HistogramKernel.cpp); near float32's maximum the product overflows to inf, its cast to int64 gives "
         "INT64_MIN and the local search then counts 3e38 (in [2e38, 3e38]) in bin 1; tapegrad counts it in its "
         "own bin, as numpy. Same where the widened empty range [x - 0.5, x + 0.5] rounds to [x, x] in the dtype "
         "(|x| >= 2 ** 53 in float64): every edge is x, the position 0/0 is NaN and the local search reads before "
         "the edges; tapegrad counts x in the last bin, the closed one [x, x]", COUNTING, status="pytorch-bug")
known_class(
    "pytorch-dequantize-float-backward", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "derivative for dequantize is not implemented"),
    """
    x = torch.tensor([0.5, 1.5], requires_grad=True)
    torch.dequantize(x * 2).sum().backward()
    x.grad
    """, "dequantize of a float tensor is the identity; PyTorch 2.13 records it but has no derivative for it, "
         "tapegrad passes the gradient through", T, status="by-design")


def dequantized_leaf(d):
    """An in-place op on a float leaf that requires grad, or on a view of it, after dequantize read it (or made it:
    the same tensor, which then shares the view's memory)."""
    return here_says(d, "leaf tensor that requires grad is being used in an in-place") and any(
        o is not None and o.split(".")[-1] == "dequantize"
        for o in list(d.readers) + list(d.origins[:1]) + list(d.sharers))


known_class(
    "pytorch-dequantize-unleafs", ALL_OPS, {"tapegrad-raises", "backward-pytorch-raises"},
    lambda d: (torch_says(d, "moved into the graph interior") and (d.op in ("Tensor.dequantize", "dequantize") or any(
        o.rsplit(".", 1)[-1] == "dequantize" for o in d.origins)))
    if d.kind.startswith("backward") else dequantized_leaf(d),
    """
    x = torch.tensor([1.0, 0.5], requires_grad=True)
    x.dequantize()
    x.exp_()
    """, "dequantize of a float tensor returns the tensor itself; PyTorch 2.13 records its NotImplemented backward "
         "node on that very tensor, so a leaf that requires grad stops being a leaf (x.grad_fn is NotImplemented) "
         "and an in-place op on it (or on a view of it, seed 1461814) is then allowed, and a backward that reaches "
         "the leaf raises \"leaf variable has been moved into the graph interior\"; tapegrad's dequantize leaves "
         "the leaf a leaf, whose in-place ops are refused and whose gradient is computed", T, status="pytorch-bug")
# open bugs found by the driver (seeds 12000-16000)


def onednn_conv(d, transposed):
    """PyTorch's own choice of oneDNN for a convolution call (its _select_conv_backend names the native kernels)."""
    x, w = x0(d), d.inputs[1]
    n = w.dim() - 2
    x = x.unsqueeze(0) if x.dim() == n + 1 else x

    def arg(name, default):
        v = default if kw(d, name) is None else kw(d, name)
        return list(v) if isinstance(v, (tuple, list)) else [v] * n

    padding = arg("padding", 0)
    if padding[0] in ("same", "valid"):  # (the symmetric part of 'same' is the convolution's own padding)
        padding = [0 if p == "valid" else q * (k - 1) // 2 for p, q, k in zip(padding, arg("dilation", 1), w.shape[2:])]
    backend = torch._C._select_conv_backend(x, w, None, arg("stride", 1), padding, arg("dilation", 1),
                                            transposed, arg("output_padding", 0), kw(d, "groups") or 1, None)
    return not str(backend).split(".")[-1].startswith(("Slow", "Empty"))


known_class(
    "conv-transpose-onednn-order", F("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
    {"value", "inf", "nan"},
    lambda d: dt(x0(d)) == "float32" and onednn_conv(d, True) and (
        d.kind == "value" or any_in(d, lambda t: nonfinite(t) or big(t))),
    """
    x = torch.tensor([[[0.05, -1.9], [-1.9, 1.1]], [[2.6, 1.1], [1.1, 0.3]]])
    torch.nn.functional.conv_transpose1d(x, torch.tensor([[[1e5, -6e4, 1.5]], [[0.5, 0.5, 6e4]]]))[0, 0, 2]
    """, "README: float32 transposed convolutions that PyTorch runs through oneDNN (a batch of 2 or more, groups, "
         "...) sum in oneDNN's order; tapegrad sums as PyTorch's native kernel (bit for bit PyTorch's result one "
         "image at a time), so values where large terms cancel differ by their rounding (0.625 exactly here, "
         "PyTorch 0.62643), and where products or partial sums overflow (inf, 3e38 inputs) one order gives inf "
         "or NaN where the other is finite or inf", CONVND, status="by-design")
known_class(
    "pytorch-conv-tbc-backward-noncontiguous-grad", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "view size is not compatible") and bool(d.origins) and d.origins[0] == "F.conv_tbc",
    """
    x = torch.ones(4, 2, 2, requires_grad=True)
    y = torch.nn.functional.conv_tbc(x, torch.ones(3, 2, 1), torch.zeros(1), 0)
    (y.sum(1) * torch.tensor([[1.0], [2.0]])).sum().backward()
    x.grad
    """, "PyTorch 2.13's conv_tbc backward takes a view of the incoming gradient, which fails ('view size is not "
         "compatible') when that gradient is not contiguous (sum(1)'s backward expands it); tapegrad's backward "
         "takes any layout", CONVND, status="pytorch-bug")
known_class(
    "addbmm-overflowing-partial-sums", fam("addbmm"), {"nan", "inf"},
    lambda d: dt(x0(d)) in ("float32", "float16") and any_in(d, big),
    ("""
    a, b = torch.tensor([[[-2.5, -3.0, 6e4, -0.25]]]), torch.tensor([[[-3e38], [3e38], [0.0], [-6e4]]])
    torch.tensor([[-0.45]]).addbmm(a, b)
    """, """
    a, b = torch.tensor([[[1.5, -3e38, 3e38]]]), torch.tensor([[[1e38], [2.0], [0.0]]])
    torch.tensor([[3e38]]).addbmm(a, b)  # an AMD EPYC's MKL starts from the bias: inf - inf = nan, tapegrad -inf
    """), "README: float32 addbmm whose products overflow: PyTorch's runs addmm per batch (MKL's sgemm, whose "
         "fused multiply-adds keep the first partial sum's inf: inf here), tapegrad's sums bmm's rounded products "
         "(inf - inf: NaN, as PyTorch's own bmm of the same matrices); the exact value, -1.5e38, is neither",
         COMBINE, status="by-design")
known_class(
    "pytorch-take-along-dim-noncontiguous", fam("take_along_dim", inplace=False), RAISES_THERE,
    lambda d: torch_says(d, "view size is not compatible") and (len(d.call.args) < 3 or arg(d, 2) is None)
    and kw(d, "dim") is None and not (d.here_inputs[0].is_contiguous() and x0(d).is_contiguous()),
    # (x0 is a clone: contiguous unless dense; a dense layout only PyTorch has, as qr's column-major Q, shows there)
    """
    torch.take_along_dim(torch.arange(6.0).reshape(3, 2).t(), torch.tensor([0, 4]))
    """, "PyTorch 2.13's take_along_dim without dim flattens the input with view(-1), which fails on a "
         "non-contiguous input; its documentation says the input is treated as flattened, and tapegrad does so "
         "([0., 3.] here)", IX, status="pytorch-bug")
known_class(
    "pytorch-affine-grid-half-size-one", F("affine_grid"), RAISES_THERE,
    lambda d: torch_says(d, "\"tensor_cpu\" not implemented for 'Half'") and dt(x0(d)) == "float16"
    and any(n <= 1 for n in list(arg(d, 1) if arg(d, 1) is not None else kw(d, "size"))[2:]),
    """
    torch.nn.functional.affine_grid(torch.eye(2, 3, dtype=torch.float16)[None], (1, 1, 1, 3), align_corners=False)
    """, "PyTorch 2.13's float16 affine_grid fails where a spatial size is 1: AffineGridGenerator.cpp's "
         "linspace_from_neg_one returns at::tensor(0, grid.options()) for one step, whose CPU fill has no Half "
         "kernel ('\"tensor_cpu\" not implemented for 'Half''), while every other size works in float16; tapegrad "
         "computes the grid (the float32 grid, rounded)", "tapegrad/nn/", status="pytorch-bug")

# wave 8: views and raises
known_class(
    "pytorch-dist-p0-other-backward", fam("dist", inplace=False), "backward-pytorch-raises",
    lambda d: torch_says(d, "Expected a proper Tensor but got None") and len(d.inputs) > 1
    and d.inputs[1].requires_grad and (arg(d, 2) if arg(d, 2) is not None else kw(d, "p")) == 0,
    """
    x = torch.tensor([1.0, 2.0])
    y = torch.tensor([0.5, 2.0], requires_grad=True)
    torch.dist(x, y, 0).backward()
    y.grad
    """, "PyTorch 2.13's dist backward with p=0 raises 'Expected a proper Tensor but got None' whenever `other` "
         "requires grad: derivatives.yaml gives other -norm_backward(grad, self - other, p, result), and "
         "norm_backward returns an undefined tensor for p=0 (the gradient is zero), which the negation refuses; "
         "self's is the same undefined tensor, which PyTorch takes as no gradient (None). tapegrad gives other "
         "no gradient too (None)", "tapegrad/ops/combine.py", status="pytorch-bug")


# wave 8: gradients


def logcumsumexp_absorbs(t):
    """Values large enough that one ulp of them is more than 1e-3 (float16 from 2, float32 from 8192): PyTorch's
    log-space backward (log|grad| - result) then loses the gradient's digits beside the result."""
    if not isf(t) or t.numel() == 0:
        return False
    a = t.detach().double().abs()
    a = a[torch.isfinite(a)]
    return bool(a.numel()) and float(a.max()) * torch.finfo(t.dtype).eps > 1e-3


known_class(
    "pytorch-logcumsumexp-grad-absorbed", fam("logcumsumexp", inplace=False), GRADS,
    lambda d: logcumsumexp_absorbs(x0(d)),
    """
    x = torch.tensor([1e-30, 3e38, 3.0], requires_grad=True)
    torch.logcumsumexp(x, 0).backward(torch.tensor([0.5, 2.0, -1.5]))
    x.grad
    """, "PyTorch 2.13's logcumsumexp_backward (FunctionsManual.cpp) works in log space, exp(reverse_logcumsumexp("
         "log|grad| - result) + self): beside a result of 3e38 log 2 rounds away, so 3e38 gets 1 - 1 = 0 for the "
         "true 2 - 1.5 = 0.5 (d out[i] / d x[j] = exp(x[j] - out[i]) is 1 for a dominating x[j]); tapegrad's "
         "gradient is that derivative", COMBINE, status="pytorch-bug")
known_class(
    "pytorch-orgqr-singular-reflector-grad", fam("orgqr", inplace=False), {"grad-nan", "grad-inf"},
    lambda d: len(d.inputs) > 1 and isf(x0(d)) and singular_reflector(d),
    """
    a = torch.tensor([[0.5, -0.0], [1.0, 0.5]], dtype=torch.float64, requires_grad=True)
    torch.linalg.householder_product(a, torch.tensor([0.5, -1.0], dtype=torch.float64)).sum().backward()
    a.grad
    """, "PyTorch 2.13's householder_product (orgqr) gradient is nan where a reflector I - tau v v^T is singular "
         "(tau |v|^2 = 1: tau 0.5 with v = [1, 1] here; finite at 0.6), as its ormqr's "
         "(pytorch-ormqr-singular-reflector-grad); the product is a polynomial in A and tau, tapegrad's gradient "
         "is its derivative (float64 finite differences agree: 0.875 here)", LI, status="pytorch-bug")
known_class(
    "lerp-huge-tensor-weight-same-operand", fam("lerp"), GRADS,
    lambda d: len(d.call.args) > 2 and isinstance(arg(d, 0), core.Ref) and arg(d, 0) == arg(d, 1)
    and len(d.inputs) > 2 and isf(d.inputs[2]) and bool(
        (d.inputs[2].detach().double().abs().nan_to_num(0, 0, 0) > 1e6).any()),
    """
    v4 = torch.tensor([[3.0, 3e38, 0.0]], requires_grad=True)
    v5 = v4.lerp(v4, v4)
    v6 = torch.nn.functional.pad(v5, ())
    w4, w5 = torch.tensor([[0.75, -2.0, 1.25]]), torch.tensor([[-1.5, 0.75, -2.0]])
    w6 = torch.tensor([[0.25, -1.5, 0.75]])
    ((v4 * w4).sum() + (v5 * w5).sum() + (v6 * w6).sum()).backward()
    v4.grad
    """, "README: lerp(x, x, w) with a huge tensor weight, as lerp-huge-weight's number weight: the gradients "
         "(1 - w) g and w g reach one leaf as -2.25e38 and 2.25e38 (exactly opposite), and the leaf's other "
         "gradients are absorbed or not depending on the order of accumulation (PyTorch's engine orders nodes "
         "by creation, tapegrad's by its ready stack); both are 'right'", E, status="by-design")
known_class(
    "cross-same-operand-grad-cancel", fam("cross", inplace=False), GRADS,
    lambda d: len(d.call.args) > 1 and isinstance(arg(d, 0), core.Ref) and arg(d, 0) == arg(d, 1)
    and isf(x0(d)) and bool((x0(d).detach().double().abs().nan_to_num(0, 0, 0)
                             > min(1e6, torch.finfo(x0(d).dtype).max ** 0.5)).any()),
    """
    v0 = torch.tensor([[2.0, 2.0, -3.0], [5e-324, -1.0, 3e+38]], dtype=torch.float64, requires_grad=True)
    v1 = torch.cross(v0, v0)
    v3 = v1.unsqueeze(-1)
    w0 = torch.tensor([[0.75, -2.0, 1.25], [1.0, -0.5, 2.0]], dtype=torch.float64)
    w1 = torch.tensor([[-1.5, 0.75, -2.0], [1.25, 1.0, -0.5]], dtype=torch.float64)
    w3 = torch.tensor([[[2.0], [0.25], [-1.5]], [[0.75], [-2.0], [1.25]]], dtype=torch.float64)
    ((v0 * w0).sum() + (v1 * w1).sum() + (v3 * w3).sum()).backward()
    v0.grad
    """, "README: cross(x, x) at large x: its two gradients, cross(x, g) and cross(g, x), are exactly opposite "
         "(-3e38 g here) and the leaf's other gradients are absorbed or not depending on the order of "
         "accumulation, as same-operand-grad-cancel (both are 'right')", COMBINE, status="by-design")
# wave 8: nn values
def padded_conv_skips_taps(d):
    """A float32 or float16 conv1d/conv3d PyTorch runs through oneDNN, with padding and a non-finite weight.
    padding='same' pads dilation * (k - 1) // 2 on both sides the same way (Convolution.cpp _convolution_same; the
    odd extra element is a constant_pad_nd of real zeros)."""
    pad = kw(d, "padding")
    if pad == "same":
        dil = kw(d, "dilation") or 1
        dil = list(dil) if isinstance(dil, (tuple, list)) else [dil] * (d.inputs[1].dim() - 2)
        pad = [q * (k - 1) // 2 for q, k in zip(dil, d.inputs[1].shape[2:])]
    pads = [] if pad is None or isinstance(pad, str) else list(pad) if isinstance(pad, (tuple, list)) else [pad]
    return (dt(x0(d)) in ("float32", "float16") and any(p > 0 for p in pads) and nonfinite(d.inputs[1])
            and onednn_conv(d, False))


known_class(
    "pytorch-onednn-conv-skips-padding", F("conv1d", "conv3d"), "nan", padded_conv_skips_taps,
    """
    x = torch.tensor([[[1.0, 2.0]], [[1.0, 2.0]]])
    torch.nn.functional.conv1d(x, torch.tensor([[[-inf, 0.0, 0.0]]]), padding=2)[0]
    """, "README: PyTorch 2.13 runs a float32 conv1d/conv3d of a batch of 2 or more (float16: of any batch) "
         "through oneDNN, which skips the taps that fall in the zero padding, so an inf weight there adds nothing "
         "(0 here); its own native kernels (a float32 batch of 1, float64) give the padding's 0 * inf = NaN there, "
         "as tapegrad's", CONVND,
    status="pytorch-bug")


def bag_mean_overflows(d):
    """embedding_bag(mode='mean') whose rows are large enough that a bag's sum may overflow the dtype."""
    w = next((t for t in d.inputs if isf(t)), None)
    ids = arg(d, 0)
    if w is None or kw(d, "mode") not in (None, "mean") or not isinstance(ids, core.Lit) or w.numel() == 0:
        return False
    a = w.detach().abs().double()
    a = a[torch.isfinite(a)]
    return bool(a.numel()) and float(a.max()) * max(ids.array.size, 1) > torch.finfo(w.dtype).max


known_class(
    "pytorch-embedding-bag-mean-overflow", F("embedding_bag"), {"inf", "nan"}, bag_mean_overflows,
    """
    torch.nn.functional.embedding_bag(torch.tensor([0, 0]), torch.tensor([[-3e38, 3e38, 1.5]]), torch.tensor([0]))
    """, "README: PyTorch's embedding_bag mode='mean' adds each bag's rows in the weight's dtype and divides after "
         "(EmbeddingBag.cpp: the bag's sum, then output / bag_size), so float32 rows whose sum overflows give inf "
         "(-inf, inf here) where the mean (-3e38, 3e38) is finite; tapegrad scales each row by 1 / the bag's size "
         "before adding", SPATIAL, status="pytorch-bug")


def bag_weighted_products_overflow(d):
    """embedding_bag with per_sample_weights and values large enough that a weighted row, or a weight times a
    gradient of up to 16, passes the dtype's range."""
    if kw(d, "per_sample_weights") is None:
        return False
    floats = [t for t in d.inputs if isf(t) and t.numel()]
    mags = [t.detach().double().abs() for t in floats]
    mags = [a[torch.isfinite(a)] for a in mags]
    top = max((float(a.max()) for a in mags if a.numel()), default=0.0)
    return bool(floats) and top * max(top, 16.0) > torch.finfo(floats[0].dtype).max


known_class(
    "embedding-bag-weighted-sums-fused", F("embedding_bag"), {"inf", "nan", "value", "grad-inf", "grad-nan"},
    bag_weighted_products_overflow, ("""
    w, psw = torch.tensor([[-1.0], [0.5]], requires_grad=True), torch.tensor([-3.0, -3e38, 3e38])
    bag = torch.nn.functional.embedding_bag(torch.tensor([0, 1, 1]), w, torch.tensor([0]), mode='sum',
                                            per_sample_weights=psw)
    torch.autograd.grad(bag, w, torch.tensor([[2.0]]))[0]  # PyTorch [-6, -inf] (fused), tapegrad [-6, nan]
    """, """
    w = torch.tensor([[-1.0], [2.0]])
    torch.nn.functional.embedding_bag(torch.tensor([0, 1, 1]), w, torch.tensor([0]), mode='sum',
                                      per_sample_weights=torch.tensor([-3.0, -3e38, 3e38]))  # -inf, tapegrad nan
    """), "README: embedding_bag with per_sample_weights: PyTorch fuses each weight's multiply into its sums (its "
          "backward's cpublas::axpy per bag element, MKL's fused multiply-adds for float32 and float64; fbgemm's "
          "float32 forward without padding_idx) and sums float16 rows in float32, so where weight times row or "
          "times gradient passes the float range the first overflow stays an inf (fma(3e38, 2, -inf) = -inf); "
          "tapegrad rounds each weighted row in the dtype first and then adds (-inf + inf = NaN)", SPATIAL,
    status="by-design")


def int_distance_overflows(d):
    """Integer inputs (computed in float32) whose p-th powers overflow float32."""
    p = float(kw(d, "p") if kw(d, "p") is not None else 2.0)
    big_int = max((float(t.double().abs().max()) for t in d.inputs if isint(t) and t.numel()), default=0.0)
    return p > 0 and big_int > 0 and math.log10(2 * big_int) * p > math.log10(torch.finfo(torch.float32).max)


known_class(
    "int-distance-norm-rescaled", F("pairwise_distance", "triplet_margin_loss"), {"inf", "nan", "value"},
    int_distance_overflows,
    """
    torch.nn.functional.pairwise_distance(torch.tensor([[-2 ** 62, 0]]), torch.tensor([[5, 0]]), p=3.0)
    """, "README: the distances of integer tensors (computed in float32) at values whose p-th powers overflow "
         "float32: tapegrad's p-norm rescales (4.6e18 here), PyTorch's is inf (as new-loss-nonfinite for floats)",
    LO, status="by-design")


def alpha_after_product(d):
    """addmm and its family with 0 < |alpha| < 1 and values whose products may overflow."""
    alpha = kw(d, "alpha")
    return (isinstance(alpha, (int, float)) and 0 < abs(alpha) < 1
            and any_in(d, lambda t: nonfinite(t) or big(t)))


known_class(
    "pytorch-addmm-alpha-after-product-grad", ADDMM, {"grad-inf", "grad-nan"}, alpha_after_product,
    """
    m1, m2 = torch.tensor([[3e38, 1.0]]), torch.tensor([[1.0], [2.0]], requires_grad=True)
    torch.addmm(torch.zeros(1, 1), m1, m2, alpha=0.5).mul(torch.tensor([[2.0]])).sum().backward()
    m2.grad
    """, "README: PyTorch's addmm/addbmm/baddbmm/addmv/addr backward multiplies by alpha after the product "
         "(tools/autograd/derivatives.yaml: maybe_multiply(mat1.t().mm(grad), alpha)), so with |alpha| < 1 a "
         "product past the float range gives inf where the gradient (3e38 here) is finite; tapegrad scales the "
         "incoming gradient by alpha first", COMBINE, status="pytorch-bug")


def blas_alpha_rounds_an_operand(d):
    """addmm/addmv/addbmm/baddbmm through PyTorch's BLAS call (baddbmm from 400 multiply-adds) with |alpha| other
    than 0 and 1, whose operands' values times alpha leave the float range (overflow, or below its normal numbers),
    or whose products overflow."""
    if d.op.removeprefix("Tensor.").rstrip("_") not in ("addmm", "addmv", "addbmm", "baddbmm") or len(d.inputs) < 3:
        return False
    alpha, (_, m1, m2) = kw(d, "alpha"), d.inputs[:3]
    if not isinstance(alpha, (int, float)) or abs(alpha) in (0, 1) or not (isf(m1) and isf(m2)):
        return False
    if d.op.removeprefix("Tensor.").rstrip("_") == "baddbmm" and m1.shape[-2] * m1.shape[-1] * m2.shape[-1] < 400:
        return False  # PyTorch's own kernel, alpha after the sum, as tapegrad
    info, top = torch.finfo(m1.dtype), []
    for t in (m1, m2):
        a = t.detach().abs().double()
        a = a[torch.isfinite(a) & (a > 0)]
        if a.numel() and bool(((a * abs(alpha) > info.max) | (a * abs(alpha) < info.tiny)).any()):
            return True
        top.append(float(a.max()) if a.numel() else 0.0)
    return top[0] * top[1] > info.max


known_class(
    "blas-alpha-scales-an-operand", fam("addmm", "addmv", "addbmm", "baddbmm"), {"nan", "inf", "value"},
    blas_alpha_rounds_an_operand,
    """
    torch.addmm(torch.zeros(1, 1), torch.tensor([[-3e38, 1.0]]), torch.tensor([[0.0], [1.0]]), alpha=2)
    """, "README: addmm/addmv/addbmm/baddbmm with |alpha| != 1: PyTorch's MKL gemm/gemv scales one operand by alpha "
         "before the product for some shapes and layouts (which one, and whether, varies: (1, 2) @ (2, 1) scales "
         "mat1, 2 * -3e38 = -inf, times 0 is NaN here) and the sum after for others; tapegrad computes alpha * "
         "(mat1 @ mat2) always, as PyTorch's own kernels (baddbmm's small-matrix kernel, bmm_out_or_baddbmm_), "
         "2.0 here", COMBINE, status="by-design")



@functools.cache
def mkl_gemm_adds_onto_input():
    """Whether this host's MKL gemm (PyTorch's addmm with beta=1) adds the products onto the copied input, so a
    -0.0 input plus -0.0 products stays -0.0 (the AMD EPYC hosts we ran); the reference Intel CPU's, as tapegrad,
    sums the products from +0.0 first (test_functional.py's test_linear_signs_of_zero_are_the_reference_machines)."""
    v = torch.tensor([[0.0, 2.0], [-0.0, 1.5]])
    return bool(torch.signbit(torch.addmm(v, v, v)[1, 0]))


def negative_zero_in_input(d):
    t = x0(d)
    return isf(t) and bool(((t == 0) & torch.signbit(t)).any())


known_class(
    "mkl-gemm-adds-onto-input-zero", fam("addmm", "addmv"), "signed-zero", negative_zero_in_input, ("""
    v = torch.tensor([[0.0, 2.0], [-0.0, 1.5]])
    torch.addmm(v, v, v)[1, 0]
    """, """
    m = torch.tensor([[-3.0], [1.0]], dtype=torch.float64)
    torch.addmv(torch.tensor([-0.0, 1.0], dtype=torch.float64), m, torch.tensor([0.0], dtype=torch.float64))[0]
    """), "README: addmm (and addmv, MKL's gemv) of an input holding -0.0 where the products are -0.0 too: an AMD "
          "EPYC's MKL gemm adds each product onto the copied input (-0.0 + -0.0 + -0.0 = -0.0); the reference Intel "
          "CPU's, and tapegrad, sum the products from +0.0 and add that to the input (+0.0). The value is the same "
          "(0 == -0.0)", COMBINE,
    status="by-design", host=mkl_gemm_adds_onto_input)


def linear_bias_zero(d):
    """F.linear with a bias holding a zero (its third input): PyTorch's addmm adds onto the copied bias."""
    b = d.inputs[2] if len(d.inputs) > 2 else None
    return b is not None and isf(b) and bool((b == 0).any())


known_class(
    "mkl-gemm-adds-onto-bias-linear", F("linear"), "signed-zero", linear_bias_zero, ("""
    z = torch.tensor([-0.0, -0.0])
    torch.signbit(torch.nn.functional.linear(z, torch.tensor([[2.0, 1.5], [-2.5, -3.0]]), z))[0]
    """, """
    x, w = torch.tensor([[5e-324]], dtype=torch.float64), torch.tensor([[-0.25]], dtype=torch.float64)
    torch.signbit(torch.nn.functional.linear(x, w, torch.tensor([0.0], dtype=torch.float64)))
    """), "README: linear is addmm of the bias: an AMD EPYC's MKL gemm adds each product onto the copied bias, so "
          "a -0.0 bias with -0.0 products stays -0.0 and a +0.0 bias with a product that underflows to -0.0 is "
          "+0.0; the reference Intel CPU's, and tapegrad, sum the products first and add that to the bias (+0.0 "
          "and -0.0 there). The value is the same (0 == -0.0)", NF,
    status="by-design", host=mkl_gemm_adds_onto_input)


def gemm_terms_cancel(d):
    """addmm-family values spanning more than the dtype's precision (max / min nonzero > 1 / eps): whether the
    input absorbs a small product depends on whether the products are summed before the input or onto it."""
    mags = []
    for t in d.inputs[:3]:
        if isf(t) and t.numel():
            a = t.detach().double().abs()
            mags.append(a[torch.isfinite(a) & (a > 0)])
    if not mags or not any(m.numel() for m in mags):
        return False
    a = torch.cat([m for m in mags if m.numel()])
    return float(a.max() / a.min()) * torch.finfo(d.inputs[0].dtype).eps > 1


known_class(
    "mkl-gemm-adds-onto-input-cancel", fam("addmm", "addmv", "addbmm", "baddbmm"), "value", gemm_terms_cancel, """
    x = torch.tensor([[1e30]], dtype=torch.float64)
    y = torch.addmm(x, torch.tensor([[-1.0, 2.0]], dtype=torch.float64), torch.tensor([[1e30], [1e-7]],
                                                                                  dtype=torch.float64))
    (y != 0).item()
    """, "README: an AMD EPYC's MKL gemm adds each product onto the copied input, so 1e30 + (-1e30) + 2e-7 is 2e-7 "
         "there; the reference Intel CPU's, and tapegrad, sum the products first (-1e30 + 2e-7 = -1e30) and add "
         "the input (0)", COMBINE, status="by-design", host=mkl_gemm_adds_onto_input)


def conv_bias(d):
    """The bias of a conv1d/conv2d/conv3d call (the third argument or the ``bias`` keyword), or None."""
    b = kw(d, "bias") if kw(d, "bias") is not None else arg(d, 2)
    return b if isinstance(b, core.Ref) or isinstance(b, core.Lit) else None


def native_conv_onto_bias(d):
    """A convolution PyTorch runs with its native kernel (float64 always: slow_conv2d/slow_conv3d per group) and
    a bias, which MKL's gemm adds onto: a bias of -0.0 (signed-zero), or one small beside the products that
    cancel, eps * taps * max|x| * max|w| >= min|bias| (value: the bias absorbed by a partial sum, or not)."""
    if len(d.inputs) < 3 or conv_bias(d) is None or onednn_conv(d, False):
        return False
    x, w, b = d.inputs[:3]
    if not (isf(x) and isf(b) and b.numel()):
        return False
    b = b.detach().double()
    if d.kind == "signed-zero":
        return bool(((b == 0) & torch.signbit(b)).any())
    taps = w[0].numel()
    xs, ws = (t.detach().double().abs() for t in (x, w))
    xs, ws, b = xs[torch.isfinite(xs)], ws[torch.isfinite(ws)], b[torch.isfinite(b) & (b != 0)].abs()
    if not (xs.numel() and ws.numel() and b.numel()):
        return False
    return float(torch.finfo(x.dtype).eps * taps * xs.max() * ws.max()) >= float(b.min())


known_class(
    "mkl-gemm-adds-onto-bias-conv", F("conv1d", "conv2d", "conv3d"), {"signed-zero", "value"},
    native_conv_onto_bias, ("""
    x = torch.tensor([[[-1.0, 0.0]], [[1.5, 0.0]]], dtype=torch.float64)
    w = torch.tensor([[[[0.0, -0.0]]], [[[-0.0, -1.0]]]], dtype=torch.float64)
    torch.nn.functional.conv2d(x, w, torch.tensor([-0.0, 1.0], dtype=torch.float64), groups=2)[0]
    """, """
    x = torch.tensor([[[[[1.0, 2.0]]], [[[1.0, 2.0]]]]], dtype=torch.float64)
    w = torch.tensor([[[[[3e38]]], [[[-3e38]]]]], dtype=torch.float64)
    torch.nn.functional.conv3d(x, w, torch.tensor([0.85], dtype=torch.float64))
    """), "README: float64 convolutions with a bias (PyTorch's native kernels, which copy the bias into the output "
          "and add the gemm of the weight and the unfolded input, per group) as on the reference Intel CPU, whose "
          "MKL gemm sums the products first: -0.0 + (-0.0 + -0.0) is +0.0 for one output pixel (a gemv), and a "
          "bias beside products that cancel survives (0.85 + (3e38 - 3e38) = 0.85); an AMD EPYC's MKL adds each "
          "product onto the bias (-0.0, and 0.0: 0.85 + 3e38 - 3e38), as mkl-gemm-adds-onto-input-zero",
    CONVND, status="by-design", host=mkl_gemm_adds_onto_input)

known_class(
    "mkl-gemm-adds-onto-bias-zero-conv-tbc", F("conv_tbc"), "signed-zero",
    lambda d: len(d.inputs) > 2 and isf(d.inputs[2]) and bool(((d.inputs[2] == 0) & torch.signbit(d.inputs[2])).any()),
    """
    x, w = torch.tensor([[[nan]], [[-0.0]]]), torch.ones(1, 1, 1)
    torch.nn.functional.conv_tbc(x, w, torch.tensor([-0.0]))[1]
    """, "README: conv_tbc starts from its bias and adds each tap's matrix product onto it (addmm_, beta=1): where "
         "the bias is -0.0 and the products are -0.0, an AMD EPYC's MKL gemm keeps -0.0 (it adds each product onto "
         "the bias); the reference Intel CPU's, and tapegrad, sum the products from +0.0 first (+0.0). The value "
         "is the same (0 == -0.0)", CONVND, status="by-design", host=mkl_gemm_adds_onto_input)

known_class(
    "pytorch-addbmm-empty-int-float-beta", fam("addbmm"), RAISES_THERE,
    lambda d: torch_says(d, "can't be cast to the desired output type") and isint(x0(d)) and any(
        empty(t) for t in d.inputs[1:3]),
    """
    a, b = torch.ones(1, 3, 0, dtype=torch.int32), torch.ones(1, 0, 4, dtype=torch.int32)
    torch.ones(3, 4, dtype=torch.int32).addbmm(a, b, beta=0.5)
    """, "PyTorch 2.13's addbmm of integer tensors with a float beta raises \"result type Float can't be cast\" "
         "only where the product is empty (its shortcut scales the input by beta as a float); with a non-empty "
         "product it computes, converting beta to the integer dtype, as tapegrad does for every shape", COMBINE,
    status="pytorch-bug")

def cov_int_sum_wraps(d):
    """cov of an int tensor whose (fweights-weighted) observation sums leave int64's range."""
    x = x0(d)
    if not isint(x) or kw(d, "aweights") is not None or x.numel() == 0:
        return False
    rows = x.reshape(1, -1).tolist() if x.dim() < 2 else x.tolist()
    fw = kw(d, "fweights")
    w = fw.array.tolist() if isinstance(fw, core.Lit) else [1] * len(rows[0])
    limit = 2 ** 63
    return any(not -limit <= sum(a * b for a, b in zip(r, w)) < limit
               or any(not -limit <= a * b < limit for a, b in zip(r, w)) for r in rows)


known_class(
    "pytorch-cov-int64-sum-wraps", fam("cov", inplace=False), {"value", "inf", "nan"}, cov_int_sum_wraps,
    """
    torch.tensor([[4, 4, 9223372036854775807], [3, 2, 3]]).cov(correction=0, fweights=torch.tensor([2, 0, 1]))[0, 0]
    """, "README: PyTorch's cov of an int64 tensor sums the fweights-weighted observations in int64 before it "
         "divides (Correlation.cpp: (observations * w).sum(1) / w_sum), so a sum past int64's range wraps (8 + "
         "(2**63 - 1) here: 5.7e37); tapegrad's mean is computed in floating point (1.89e37, the covariance)",
    COUNTING, status="pytorch-bug")


def norm_of_two(d):
    """layer_norm over at most two elements, or group_norm whose groups hold at most two: their normalized values
    are +-1 to the dtype's precision, so the input's gradient cancels (the blame names the norm itself)."""
    x = x0(d)
    if not isf(x) or x.dim() < 1 or d.kind != "grad-value":
        return False
    if d.op in F("layer_norm") | {"layer_norm"}:
        shape = kw(d, "normalized_shape") or arg(d, 1)
        shape = getattr(shape, "dims", shape)
        return isinstance(shape, (list, tuple)) and 0 < math.prod(shape) <= 2
    groups = kw(d, "num_groups") or arg(d, 1)
    return isinstance(groups, int) and groups > 0 and x.dim() >= 2 and 0 < x[0].numel() // groups <= 2


known_class(
    "norm-of-two-backward-cancellation", F("layer_norm", "group_norm") | {"layer_norm"}, "grad-value", norm_of_two,
    """
    x = torch.tensor([[[-2.5, 1.0]]], requires_grad=True)
    torch.nn.functional.group_norm(x, 1).backward(torch.tensor([[[3.9e11, -1.0]]]))
    x.grad[0, 0, 0]
    """, "README: the same cancellation as norm-backward-cancellation, named at the norm (a huge incoming gradient "
         "over a set of two elements normalized to +-1: the input's gradient is that difference times eps / (var + "
         "eps), the float32 formula rounded in another order in each library)", "tapegrad/nn/functional.py",
    status="by-design")


def near_pole_after_norm(d):
    """A special function's input made by a normalization, within 1e-5 of a pole (0, -1, -2, ...): the gradient
    coming back into the normalization is huge."""
    bases = {o.split(".")[-1].rstrip("_") for o in d.origins}

    def near(t):
        if not isf(t) or t.numel() == 0:
            return False
        a = t.detach().double()
        a = a[torch.isfinite(a) & (a < 0.5)]
        return bool(((a - a.round()).abs() < 1e-5).any())

    return bool(bases & {"group_norm", "layer_norm", "batch_norm", "instance_norm"}) and any_in(d, near)


known_class(
    "norm-backward-cancellation", SPECIAL_M, "grad-value", near_pole_after_norm,
    """
    x = torch.tensor([[[-2.5, 1.0]]], requires_grad=True)
    torch.nn.functional.group_norm(x, 1).backward(torch.tensor([[[3.9e11, -1.0]]]))
    x.grad[0, 0, 0]
    """, "float32 normalization backward of a huge incoming gradient (digamma's near its pole -1) over a set whose "
         "normalized values are +-1 to float32's precision (two elements): the input's gradient is the incoming "
         "difference times eps / (var + eps), lost to cancellation in both libraries (exact +-363847 here; PyTorch "
         "372736 and -364544, not antisymmetric; tapegrad +-355766): the same float32 formula (g - mean(g) - xhat "
         "mean(g xhat)) * rstd, rounded in another order; neither is exact, and computing in float64 would cost "
         "every normalization's backward for an input at the float32 limit (README)",
    "tapegrad/nn/functional.py", status="by-design")


def huge_weight_tiny_norm_set(d):
    """rms_norm/layer_norm over at most two elements (their normalized values are +-1 to the dtype's precision) with
    a weight or bias beyond 1e150: the input's gradient is a difference of two huge, nearly equal terms."""
    shape = arg(d, 1)
    if not isinstance(shape, (tuple, list)) or math.prod(shape) > 2:
        return False
    return any(isf(t) and t.numel() and float(t.detach().abs().max()) > 1e150 for t in d.inputs[1:])


known_class(
    "norm-huge-weight-cancellation", F("rms_norm", "layer_norm"), "grad-value", huge_weight_tiny_norm_set,
    """
    x = torch.tensor([[-3.0], [3.0], [-1.0]], dtype=torch.float64, requires_grad=True)
    v = x * 1
    y = torch.nn.functional.rms_norm(v, (1,), weight=torch.tensor([1e300], dtype=torch.float64))
    (v.sum() + (y * torch.tensor([[-2.0], [1.25], [1.0]], dtype=torch.float64)).sum()).backward()
    x.grad
    """, "rms_norm (or layer_norm) over one or two elements with a weight of 1e300: the input's gradient, about "
         "weight * eps / |x|^3 (-1.6e283 at x = -3), is the difference g w rstd - x rstd^3 mean(x g w) of two terms "
         "near 1e300 that agree to the last bits; both libraries are left with rounding noise (1.0 here with v's "
         "own 1 added, 0.0 in PyTorch), neither near the true value (the same mechanism as "
         "norm-backward-cancellation, with the huge factor from the weight)",
    "tapegrad/nn/functional.py", status="by-design")


def quotient_overflows_in_a_register(d):
    """fmod/remainder in PyTorch's vectorized loop (a float32 result of 16 elements or more, float64 of 8: one
    AVX-512 register) where |x / y| is beyond the dtype's range for some element (x huge or y tiny); x or y may be
    a number (3 % t)."""
    t = x0(d)
    if not isf(t) or t.dtype not in (torch.float32, torch.float64) or t.numel() < 64 // t.element_size():
        return False
    tensors = iter(d.inputs)
    x, y = ((a if isinstance(a, (int, float)) else next(tensors, None)) for a in (arg(d, 0), arg(d, 1)))
    if x is None or y is None:
        return False
    x, y = torch.as_tensor(x).detach().double(), torch.as_tensor(y).detach().double()
    q = x.abs() / y.abs()
    return bool((torch.isfinite(x) & (q > torch.finfo(t.dtype).max)).any())


known_class(
    "pytorch-fmod-vectorized-quotient-overflow", fam("fmod", "remainder", sym="%"), {"nan", "value"},
    quotient_overflows_in_a_register,
    """
    (torch.full((20,), -3e38).fmod(0.5)[0], (3 % torch.full((8,), 5e-324, dtype=torch.float64))[0])
    """, "PyTorch 2.13's vectorized fmod/remainder (each full AVX-512 register: 16 float32 elements, 8 float64) "
         "computes through the quotient x / y, which overflows to inf for -3e38 / 0.5 (float32) or 3 / 5e-324 "
         "(float64), and returns nan; its scalar loop (the elements after the last full register) gives the exact "
         "remainder (-0.0, 0.0), as tapegrad does for every size",
    "tapegrad/ops/elementwise.py", status="pytorch-bug")


def bce_logits_scaled_late(d):
    """binary_cross_entropy_with_logits reduced by its mean or with a weight, with an input within a factor 1024 of
    its dtype's largest value (the formula times the incoming gradient may overflow before the 1/n or the weight)."""
    if not ((kw(d, "reduction") or "mean") == "mean" or kw(d, "weight") is not None or arg(d, 2) is not None):
        return False
    return any_in(d, lambda t: isf(t) and t.numel() > 0 and bool(
        (t.detach().double().abs().nan_to_num(0, 0, 0) > torch.finfo(t.dtype).max / 1024).any()))


known_class(
    "pytorch-bce-logits-grad-scaled-late", F("binary_cross_entropy_with_logits"), GRADS, bce_logits_scaled_late,
    """
    x = torch.tensor([0.36, 0.0], requires_grad=True)
    (torch.nn.functional.binary_cross_entropy_with_logits(x, torch.tensor([3e38, 0.0])) * -2.0).backward()
    x.grad
    """, "README: PyTorch 2.13's binary_cross_entropy_with_logits backward multiplies the formula by the incoming "
         "gradient before the weight and the mean's 1/n (FunctionsManual.cpp), so float32 (sigmoid(x) - target) * "
         "grad overflows to inf (here -3e38 * -2 = inf, then / 2) where the gradient itself (3e38) is finite; "
         "tapegrad scales the incoming gradient first", "tapegrad/nn/functional.py", status="pytorch-bug")
SAME_OPERAND_CANCEL = F("pairwise_distance", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
                        "triplet_margin_with_distance_loss") | fam("cross", "atan2", "arctan2", "div", "divide", "sub",
                                                                  "lerp", inplace=False) | {"linalg.cross"}


def tiny_norm_from_cancelling_op(d):
    """cosine_similarity of an input whose 2-norm along dim is below 1e-4 (its gradient is at least 1e4 times the
    incoming one, 1e8 at the eps clamp) that an op whose two partial gradients cancel for one operand made."""
    dim = kw(d, "dim") if kw(d, "dim") is not None else arg(d, 2) if len(d.call.args) > 2 else 1
    ts = [t.detach().double() for t in d.inputs[:2]]
    if len(ts) < 2:
        return False
    a, b = torch.broadcast_tensors(*ts)
    return any(o in SAME_OPERAND_CANCEL and t.numel() > 0 and float(torch.linalg.vector_norm(t, dim=dim).min()) < 1e-4
               for t, o in zip((a, b), d.origins))


known_class(
    "cosine-similarity-tiny-norm-grad-cancel", F("cosine_similarity") | {"cosine_similarity"}, GRADS,
    tiny_norm_from_cancelling_op,
    """
    v0 = torch.tensor([[1.5]], requires_grad=True)
    v2 = torch.nn.functional.margin_ranking_loss(v0, v0, torch.tensor([[1.0]]))
    v4 = torch.nn.functional.cosine_similarity(torch.tensor([[1.0]]), v2)
    ((v0 * 1.25).sum() + (v4 * 0.25).sum()).backward()
    v0.grad
    """, "cosine_similarity of a (near-)zero vector made by f(x, x) (margin_ranking_loss(x, x) = 0, cross(x, x) "
         "~1e-8): its gradient there, x1 / max(||x2||, eps) = 2.5e7 here, reaches f's two partial gradients, which "
         "cancel; as same-operand-distance-cancel the leaf's other gradient (1.25) is absorbed or not depending on "
         "the order of accumulation (PyTorch (1.25 + g) - g = 2, tapegrad 1.25), and cross's fused multiply-adds "
         "leave a residue of the one-ulp differences of the float32 norm (both are 'right')",
    "tapegrad/nn/functional.py", status="by-design")
known_class(
    "conv-onednn-overflow-order", F("conv1d", "conv3d"), {"nan", "inf"},
    lambda d: dt(x0(d)) == "float32" and onednn_conv(d, False) and any_in(d, lambda t: nonfinite(t) or big(t)),
    """
    x = torch.tensor([[[3e38, 3e38, -3e38]], [[3e38, 3e38, -3e38]]])
    torch.nn.functional.conv1d(x, torch.ones(1, 1, 3))[0]
    """, "README: float32 conv1d/conv3d that PyTorch runs through oneDNN (a batch of 2 or more) sum in oneDNN's "
         "order, tapegrad's in its unfolded matmul's: where products or partial sums overflow, one order gives inf "
         "or NaN where the other is finite or inf (inf here, 3e38 in tapegrad and in PyTorch's native kernel one "
         "image at a time), as conv-transpose-onednn-order", CONVND, status="by-design")

def huge_products(d):
    """A convolution whose products reach beyond 1e20 times its smallest nonzero input magnitude scale (float64;
    1e10 float32): sums of such products that cancel keep only the rounding of the order they were added in."""
    if len(d.inputs) < 2 or not (isf(d.inputs[0]) and isf(d.inputs[1])):
        return False
    x, w = (t.detach().double().abs().nan_to_num(0, 0, 0) for t in d.inputs[:2])
    if not x.numel() or not w.numel():
        return False
    return float(x.max()) * float(w.max()) > (1e20 if d.inputs[0].dtype == torch.float64 else 1e10)


known_class(
    "conv-sum-of-huge-products", F("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                   "conv_transpose3d"), "value", huge_products,
    """
    x = torch.tensor([[[3e38, 0.5, 2.0, 1e30], [-1.5, -1.5, -3e38, 1e30]],
                      [[6e4, -1.5, 2.0, 1e30], [6e4, 1e30, 1e30, 0.5]]], dtype=torch.float64)
    w = torch.tensor([[[-0.7, -0.7, 0.3], [0.3, 1.1, 1.1]], [[-0.7, -1.9, 2.6], [0.3, -0.7, -0.7]]],
                     dtype=torch.float64)
    torch.nn.functional.conv1d(x, w, padding=1)[0, 1, 1]  # PyTorch 0.0, tapegrad -5.8e21 (3e38 products)
    """, "convolutions whose products are huge and cancel (3e38 beside 2.2e30 in float64): each library adds them "
         "in its own order (oneDNN's or MKL's blocks, tapegrad's unfolded matmul), and the result keeps that "
         "order's rounding of the huge terms (2.19999999e+30 against 2.20000000e+30); neither is exact",
         CONVND, status="by-design")
known_class(
    "conv-grad-sum-of-huge-products", F("conv1d", "conv2d", "conv3d"), "grad-value", huge_products,
    ("""
    x = torch.ones(2, 1, 3, requires_grad=True)
    torch.nn.functional.conv1d(x, torch.tensor([[[0.0, -3e38]], [[2.0, 3e38]]])).sum().backward()
    x.grad[0, 0, 1]  # -3e38 + 2 + 3e38: 2.0 here, 0.0 in PyTorch (oneDNN, a batch of 2)
    """, """
    x = torch.ones(4, 1, 2, 3, requires_grad=True)
    w = torch.zeros(4, 2, 2, 2, 2); w[0, 0, 1, 1, 1] = -3e38; w[1, 0, 0, 0, 1] = 2.0; w[1, 0, 0, 1, 1] = 3e38
    g = torch.zeros(4, 2, 3, 4); g[0, 0, 1, 1] = g[1, 1, 1, 1] = g[1, 1, 2, 1] = 1.0
    torch.nn.functional.conv3d(x, w, padding=1, groups=2).backward(g)
    x.grad[0, 0, 1, 1]  # the same three terms: 0.0 here, 2.0 in PyTorch (groups)
    """), "README: the backward of conv-sum-of-huge-products: an input's gradient sums the incoming gradient times "
          "each weight it met (the weight's gradient, times each input), and where those products are huge and "
          "cancel (3e38 g beside 2 g) the result is the rounding of each library's order (oneDNN's for a batch of 2, "
          "its grouped kernel's; tapegrad's unfolded matmul then fold): 2 in one, 0 in the other, either way round",
    CONVND, status="by-design")

known_class(
    "conv-transpose-grad-overflow-order", F("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
    {"grad-nan", "grad-inf"},
    lambda d: dt(x0(d)) in ("float32", "float16") and any_in(d, lambda t: nonfinite(t) or big(t)),
    """
    x = torch.tensor([[[1.0]]], requires_grad=True)
    torch.nn.functional.conv_transpose1d(x, torch.tensor([[[-3e38, -3e38, inf]]])).sum().backward()
    x.grad
    """, "README: the input gradient of a float32 transposed convolution sums each input's taps (the incoming gradient "
         "times the weight) in another order than PyTorch's slow_conv_transpose backward (vol2col, then its BLAS "
         "gemm): where the products overflow or are infinite, one order gives NaN (-3e38 - 3e38 = -inf, then + inf) "
         "where the other gives inf, as conv-transpose-onednn-order for the forward", CONVND, status="by-design")
known_class(
    "conv-tbc-grad-gemm-overflow", F("conv_tbc"), {"grad-nan", "grad-inf"},
    lambda d: dt(x0(d)) == "float32" and any_in(d, lambda t: nonfinite(t) or big(t)),
    """
    x = torch.tensor([[[-3e38, 3.0], [1.0, -3e38]], [[0.0, 3e38], [0.0, 1.5]]])
    w = torch.ones(1, 2, 2, requires_grad=True)
    g = torch.tensor([[[-0.5, 2.0], [0.25, -1.5]], [[0.75, -2.0], [1.25, 1.0]]])
    torch.autograd.grad(torch.nn.functional.conv_tbc(x, w, torch.zeros(2)), w, g)[0]
    """,
    "README: the weight gradient of a float32 conv_tbc is, per tap, the matrix product input^T @ grad_output "
    "(PyTorch's conv_tbc_backward addmm_): numpy's BLAS fuses each multiply-add where PyTorch's MKL on this CPU "
    "rounds each product first, so products that overflow with opposite signs (4.5e38 and -6e38 here) give NaN "
    "in PyTorch and inf in tapegrad (neither is the exact -1.5e38), as nonfinite-products for mm",
    CONVND, status="by-design")


# wave 8: elementwise values
def take_along_dim_out_of_range(d):
    """take_along_dim with a dim and an index outside [-size, size) along it."""
    dim = kw(d, "dim") if kw(d, "dim") is not None else arg(d, 2)
    if dim is None or isinstance(dim, bool):
        return False
    x, idx = call_tensor(d, 0, "input"), call_tensor(d, 1, "indices")
    n = x.shape[dim] if x.dim() else 1
    return idx.numel() > 0 and bool(((idx < -n) | (idx >= n)).any())


known_class(
    "pytorch-take-along-dim-wraps", fam("take_along_dim", inplace=False), RAISES_HERE, take_along_dim_out_of_range,
    """
    torch.take_along_dim(torch.tensor([10, 20, 30, 40]), torch.tensor([4, -5]), 0)
    """, "PyTorch 2.13's take_along_dim with a dim takes every index modulo the size (its negative-index support, "
         "pytorch/pytorch#152161), so an out-of-range index silently reads another element ([10, 40] here; "
         "pytorch/pytorch#196106, open; its dim=None path, gather and numpy raise); tapegrad raises IndexError",
    IX, status="pytorch-bug")


def lerp_weight_one_at_zeros(d):
    """lerp whose weight is exactly 1 (True) where input and end are both zeros."""
    w = kw(d, "weight") if kw(d, "weight") is not None else arg(d, 2)
    if isinstance(w, (core.Ref, core.Lit)):
        w = call_tensor(d, 2, "weight")
    if w is None:
        return False
    x, e = call_tensor(d, 0, "input"), call_tensor(d, 1, "end")
    a, b, c = torch.broadcast_tensors(x.double() == 0, e.double() == 0, torch.as_tensor(w).double() == 1)
    return bool((a & b & c).any())


known_class(
    "lerp-weight-one-vectorized-zero", fam("lerp"), {"signed-zero", "state-signed-zero"}, lerp_weight_one_at_zeros,
    """
    x = torch.full((8,), -0.0, dtype=torch.float64)
    torch.lerp(x, x, torch.tensor(True))
    """, "lerp at weight exactly 1 between zeros: PyTorch's vectorized kernel (full vectors: 8 float64, 16 float32 "
         "with AVX512; fewer with AVX2) computes fma(w - 1, end - input, end), +0.0 for -0.0 ends, its scalar tail "
         "end - (end - input) * (1 - w), -0.0, so which zero depends on the length and the CPU; tapegrad gives the "
         "scalar path's (PyTorch's for short tensors)", E, status="by-design")
known_class(
    "aminmax-all-tie-of-signed-zeros", fam("aminmax", inplace=False), "signed-zero",
    lambda d: kw(d, "dim") is None and both_zeros(d),
    """
    torch.tensor([0.0, 0.0, 0.0, 0.0, -0.0, -2.0], dtype=torch.float64).aminmax().max
    """, "aminmax of the whole tensor at a tie of 0.0 and -0.0: PyTorch's all-reduce kernel (vec::reduce2_all with "
         "vectorized minimum/maximum, its lanes and reduction order by length and CPU) picks the zero as the "
         "tie-of-signed-zeros kernels do (0. here); tapegrad gives amin's and amax's (numpy's, -0. here). With a dim, "
         "PyTorch's scalar loop keeps a slice's first zero and tapegrad follows it", COMBINE, status="by-design")

# wave 9: elementwise and gradients
def int_exponent_at_min(d):
    """pow/** with an integer tensor exponent holding its dtype's minimum (int8 -128)."""
    e = arg(d, 1) if len(d.call.args) > 1 else kw(d, "exponent")
    if not isinstance(e, (core.Ref, core.Lit)):
        return False
    t = call_tensor(d, 1, "exponent")
    return t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64) and t.numel() > 0 and bool(
        (t == torch.iinfo(t.dtype).min).any())


known_class(
    "pytorch-pow-int-exponent-min-grad", fam("pow", sym="**"), GRADS, int_exponent_at_min,
    """
    x = torch.tensor([1.3, 0.3], requires_grad=True)
    (x ** torch.tensor([-128, -128], dtype=torch.int8)).sum().backward()
    x.grad
    """, "PyTorch 2.13's pow backward (FunctionsManual.cpp pow_backward_self: exponent * self.pow(exponent - 1)) "
         "computes exponent - 1 in the integer exponent's dtype, which wraps at its minimum (int8 -128 - 1 = 127): "
         "x ** 127 * -128, -3.8e16 for x = 1.3 (and -0 where x ** -129 overflows); tapegrad's -128 x ** -129 is "
         "the derivative (-2.6e-13, -inf)", E, status="pytorch-bug")


def nan_grad_into_logcumsumexp(d):
    """logcumsumexp itself (the blame's choice: its own backward differs), or a call on an output of it (the
    prefix search's: its gradient then reaches logcumsumexp's backward)."""
    return d.op.rsplit(".", 1)[-1] == "logcumsumexp" or any(
        o.rsplit(".", 1)[-1] == "logcumsumexp" for o in d.origins)


known_class(
    "pytorch-logcumsumexp-drops-nan-grad", ALL_OPS, "grad-nan", nan_grad_into_logcumsumexp,
    """
    x = torch.tensor([-1.9, -1.9, 2.6], requires_grad=True)
    torch.logcumsumexp(x, 0).backward(torch.tensor([nan, nan, 0.5]))
    x.grad
    """, "PyTorch 2.13's logcumsumexp_backward (FunctionsManual.cpp) splits the gradient by sign, where(grad > 0, "
         "log|grad|, -inf) and where(grad < 0, ...): a NaN gradient is neither, so it is dropped and x.grad is "
         "finite (0.0034 here, sqrt of a negative logcumsumexp in the driver's program); tapegrad's backward "
         "carries it (nan), as every other op's", COMBINE, status="pytorch-bug")


def huge_alpha(d):
    """add/sub with |alpha| above 1e6, or addcmul/addcdiv with |value| above 1e6."""
    a = kw(d, "alpha") if kw(d, "alpha") is not None else kw(d, "value")
    return isinstance(a, (int, float)) and not isinstance(a, bool) and abs(a) > 1e6


known_class(
    "huge-alpha-grad-cancel", ARITH | fam("addcmul", "addcdiv"), GRADS, huge_alpha,
    """
    x = torch.tensor([[[3.0, 2.0, -2.5], [-3.0, -2.5, 1.0], [0.5, 2.0, 0.5], [-2.5, 0.5, 0.0]],
                      [[-2.5, 1.0, 0.0], [3.0, 1.5, 1.5], [1.0, 0.0, -3.0], [-2.5, -3.0, 3.0]]], dtype=torch.float64)
    w = torch.tensor([[[[-0.45, 0.3, 2.6], [0.85, -0.7, -1.9], [-0.7, 1.3, 1.1]], [[2.6, -1.9, 0.3],
                      [-2.2, 2.6, 0.3], [2.6, 1.1, -0.7]]], [[[-1.9, 1.3, 0.05], [1.1, 0.05, 1.3], [0.05, -0.45, -0.7]],
                      [[-2.2, 1.3, 1.1], [-0.45, 0.85, -0.45], [0.05, 0.3, -1.9]]]], dtype=torch.float64,
                     requires_grad=True)
    y = torch.nn.functional.conv2d(x, w)
    ((y * torch.tensor([[[-0.5], [2.0]], [[0.25], [-1.5]]], dtype=torch.float64)).sum()
     + (torch.add(y, y, alpha=1e+30) * torch.tensor([[[0.75], [-2.0]], [[1.25], [1.0]]], dtype=torch.float64)).sum()
     ).backward()
    w.grad[1, 0, 0, 1]
    """, "add/sub with a huge alpha (1e30): the gradient g + alpha g is 1e30 g (g absorbed), and a later "
         "backward's sum of such products cancels (conv2d's weight gradient: 2.5e30 - 2.5e30 beside 4.25) to the "
         "rounding of its kernel's order, -1.4e14 in numpy's BLAS, 0 in PyTorch's (both within one ulp of the "
         "terms), as lerp-huge-weight; so does addcdiv(x, t, x, value=1e30), whose gradients of x are +-1e30 t / x "
         "and absorb x's other gradients in each engine's order of accumulation", E, status="by-design")


def large_affine_grid(d):
    """A float32/float16 input made by F.affine_grid with values whose float32 sums lose every digit (> 1e3)."""
    return any(o == "F.affine_grid" and large(t) for t, o in zip(d.inputs, d.origins))


known_class(
    "affine-grid-grad-cancellation", ALL_OPS, "grad-value", large_affine_grid,
    """
    theta = torch.tensor([[[-1.0, -2.5, 1.5, 1e5], [0.5, 1e30, -1.0, 1e30], [-3e38, 3.0, -3.0, 1e30]]],
                         requires_grad=True)
    g = torch.nn.functional.affine_grid(theta, (1, 1, 3, 2, 2))
    (g.square() * torch.tensor([-0.5, 2.0, 0.25]).repeat(12).reshape(1, 3, 2, 2, 3)).sum().backward()
    theta.grad[0, 0, 2]
    """, "affine_grid's gradient w.r.t. theta sums the base grid times the incoming gradient over the grid (a "
         "float32 bmm in PyTorch); where that gradient grows with the large grid values (square's 2 x g at 1e5) "
         "its terms cancel, and the float32 sums' rounding differs by order (-5.3327 here, -5.3516 in PyTorch; "
         "in the driver's program 3.3621 and 3.375 where the float64 sum is 3.3333): both within n eps max|term|",
    SPATIAL, status="by-design")



# wave 10: elementwise and reductions
def alpha_product_overflows(d):
    """add/sub with an ``alpha`` whose product with a finite operand value overflows the operands' float dtype (the
    unfused product rounds to inf, the fused one does not)."""
    a = kw(d, "alpha")
    if not isinstance(a, (int, float)) or isinstance(a, bool) or a == 1:
        return False
    fl = [t for t in d.inputs if isf(t) and t.numel() > 0]
    if not fl:
        return False
    top = torch.finfo(fl[0].dtype).max
    mags = [abs(float(v)) for v in d.call.args if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for t in fl:
        f = t.detach().double().abs()
        f = f[torch.isfinite(f)]
        if f.numel():
            mags.append(float(f.max()))
    return any(abs(a) * m > top for m in mags)


known_class(
    "add-alpha-vectorized-fma", fam("add", "sub", "subtract", "rsub"), {"nan", "state-nan", "inf", "state-inf"},
    alpha_product_overflows,
    """
    torch.sub(torch.full((5,), inf), 1e30, alpha=1e30)
    """, "add/sub with an alpha whose product with the other operand, a number or 0-d tensor, overflows: PyTorch "
         "2.13 computes fma(other, alpha, input) on full vectors and on the first element (inf - 1e60 = inf), the "
         "rest of its scalar tail input + alpha * other with the product rounded (inf - inf = nan), so the answer "
         "depends on the length (float32 16 values: all inf; 5 values: inf, nan, nan, nan, nan; a tensor other "
         "of the input's shape: fused on every element); tapegrad takes the fused multiply-add wherever the "
         "rounded product overflows (inf), as the vectorized kernel", E, status="by-design")


def spread_of_an_ulp_overflows(d):
    """var/std of float values made by add/sub with an alpha, so large that one ulp of them, squared, overflows:
    whether two such values are equal or one ulp apart (the add's last bit) decides 0 or inf."""
    if not any(o.split(".")[-1].rstrip("_") in ("add", "sub", "subtract", "rsub") for o in d.origins):
        return False
    x = x0(d)
    if not isf(x) or not x.numel():
        return False
    info = torch.finfo(x.dtype)
    a = x.detach().double().abs()
    a = a[torch.isfinite(a)]
    return bool(a.numel()) and float(a.max()) * info.eps > math.sqrt(info.max)


known_class(
    "add-alpha-last-bit", fam("var", "std", "var_mean", "std_mean", inplace=False), {"value", "inf", "nan"},
    spread_of_an_ulp_overflows,
    """
    torch.var(torch.subtract(torch.tensor([-2, 3], dtype=torch.int32), -1.5, alpha=1e30))
    """, "README: add/sub with an alpha round alpha * other, then add (a fused multiply-add only where the rounded "
         "product overflows); PyTorch's vectorized kernel fuses every element, so the last bit differs: "
         "[-2, 3] - 1.5e30 is [1.5e30, 1.5e30] here, one ulp apart there, whose variance overflows float32 (inf)",
    E, status="by-design")


def addmv_vec_is_self(d):
    """``x.addmv_(mat, x)``: the vector operand is the tensor written."""
    a, v = arg(d, 0), arg(d, 2) if len(d.call.args) > 2 else kw(d, "vec")
    return isinstance(a, core.Ref) and isinstance(v, core.Ref) and a.i == v.i and dt(x0(d)) == "float32"


known_class(
    "pytorch-addmv-inplace-reads-written-vec", {"Tensor.addmv_"}, {"value", "nan", "inf", "signed-zero"} | STATE,
    addmv_vec_is_self,
    """
    x = torch.tensor([1.0, 2.0, 3.0])
    x.addmv_(torch.ones(3, 3), x)
    """, "PyTorch 2.13's float32 addmv_ whose vec is self itself runs gemv in place over the vector it reads (no "
         "overlap check): later rows read the rows already written ([7, 8, 15] here, nan everywhere once one nan is "
         "written); float64 gives [7, 8, 9], as tapegrad, which computes the product first", COMBINE,
         status="pytorch-bug")


def mean_of_huge_product(d):
    """A mean (its gradient the same for every element) of a product's result holding values beyond 1/eps of its
    dtype (where a unit is absorbed): the product's backward sums terms that cancel."""
    def huge_product(t, o):
        if o.rsplit(".", 1)[-1].rstrip("_") not in core.PRODUCTS or not isf(t) or t.numel() == 0:
            return False
        a = t.detach().double().abs()
        a = a[torch.isfinite(a)]
        return bool(a.numel()) and float(a.max()) * torch.finfo(t.dtype).eps > 1
    return any(huge_product(t, o) for t, o in zip(d.inputs, d.origins))


known_class(
    "mean-of-huge-product-grad-cancel", fam("nanmean", "mean", "var", "std", inplace=False), "grad-value",
    mean_of_huge_product,
    """
    m = torch.tensor([[3e38, 1.0, 0.0], [-6e4, -3.0, 2.0], [-3e38, 1e30, -1e30], [6e4, -2.5, -1e30]],
                     dtype=torch.float64)
    v = torch.tensor([1.3, -0.7, 0.3], dtype=torch.float64, requires_grad=True)
    torch.nanmean(m @ v).backward()
    v.grad
    """, "the mean of a product (m @ v) with huge terms: the mean's gradient is the same for every element, so the "
         "product's backward (m^T g) sums 3e38 g - 6e4 g - 3e38 g + 6e4 g, which cancel exactly; the order of "
         "summation keeps or absorbs the small terms: 0 here (numpy's), 1.5e4 in PyTorch's gemv (3e38 + 6e4 is "
         "3e38 there), both within n eps max|term| of the exact sum, as huge-alpha-grad-cancel; so does the var or "
         "std of such a product (its gradient 2 (x - mean) / dof is one ulp of 1e30, 6e22, or 0)", L,
    status="by-design")



def constant_slice(d):
    """A std/var of a slice whose elements are all equal (finite): the true spread is exactly 0."""
    x, dim = x0(d), kw(d, "dim") if kw(d, "dim") is not None else arg(d, 1)
    if not isf(x) or x.numel() < 2:
        return False
    a = x.detach().double()
    if dim is None or isinstance(dim, bool) or dim in ((), []) or x.dim() == 0:
        a = a.reshape(1, -1)
    else:
        dims = [k % x.dim() for k in (dim if isinstance(dim, (list, tuple)) else [dim])]
        a = a.permute([k for k in range(x.dim()) if k not in dims] + dims).reshape(-1, reduced_count(d))
    if a.shape[-1] < 2:
        return False
    same = (a == a[:, :1]).all(dim=1) & torch.isfinite(a[:, 0])
    return bool(same.any())


def constant_slice_rounding(d):
    """A constant slice (``constant_slice``): its gradient anywhere; its value where var/std reduce every element
    (a one-element result: PyTorch's std_var_all_cpu subtracts the input's mean rounded to its dtype, in its order
    of summation, and sums the squares in float64: a constant 1e30 in float32 is off its mean by an ulp, 7.6e22,
    whose squares give 5.8e45, inf in float32)."""
    if not constant_slice(d):
        return False
    if d.kind in GRADS:
        return True
    dim = kw(d, "dim") if kw(d, "dim") is not None else arg(d, 1)
    full = dim is None or isinstance(dim, bool) or reduced_count(d) == x0(d).numel()
    return d.op.rsplit(".", 1)[-1] in ("var", "std") and full


known_class(
    "std-constant-slice-rounding", fam("std", "std_mean", "var", "var_mean", inplace=False),
    GRADS | {"value", "inf"}, constant_slice_rounding,
    ("""
    x = torch.tensor([-0.45, -0.45, -0.45], requires_grad=True)
    torch.std(x, correction=0).backward()
    x.grad
    """, """
    torch.full((3, 2), 1e30).var(correction=0)
    """), "README: the std of a constant slice is exactly 0 here, and its gradient 0 (PyTorch's rule at std = 0); "
          "PyTorch 2.13's float32 kernel subtracts a mean rounded in float32 (-1.35 / 3 is not -0.45), so its std "
          "is 2.98e-8 and its gradient that rounding's direction, -1/3 for each element; reducing every element "
          "(std_var_all_cpu) its var of a constant 1e30 is inf (the squares of that rounding, 5.8e45, summed in "
          "float64, are past float32's range)", R, status="by-design")


def overflowing_partial_sums(d):
    """A sum whose finite terms of one sign add up beyond the dtype's range, beside terms of the other sign that do
    too, an infinity of the other sign, or that bring the exact sum back into range (3e38 + 3e38 - 3e38 - 3e38,
    inf - 3e38 - 3e38, or 3e38 + 3e38 - 3e38 in float32): whether a partial sum overflows, and so whether the sum
    is inf or finite, or inf meets -inf (NaN), depends on the order of summation."""
    x = x0(d)
    if not isf(x) or x.numel() < 3:
        return False
    a = x.detach().double()
    finite = a[torch.isfinite(a)]
    big = torch.finfo(x.dtype).max
    up, down = float(finite.clamp(min=0).sum()) > big, float(finite.clamp(max=0).sum()) < -big
    total = float(finite.sum())
    return (up and (down or bool((a == -math.inf).any()) or total <= big)) or (
        down and (bool((a == math.inf).any()) or total >= -big))


known_class(
    "sum-overflowing-partial-sums", fam("sum", "nansum", "mean", "nanmean", inplace=False)
    | F("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "interpolate", "upsample"),
    {"nan", "inf", "value"},
    lambda d: overflowing_partial_sums(d) and (not d.op.startswith(("F.interpolate", "F.upsample"))
                                               or kw(d, "mode") == "area"),
    """
    torch.tensor([-3e38] * 4 + [3e38] * 4 + [1.0] * 8).sum()
    """, "README: a float32 sum of huge terms of both signs (four -3e38 and four 3e38): numpy's pairwise order "
         "overflows both ways (inf - inf: nan), PyTorch's vectorized order one way (-inf); the exact sum, 8, is "
         "neither; where only one sign's terms overflow (3e38 + 3e38 - 3e38), one order is inf, the other finite "
         "(nansum: inf here, 3e38 in PyTorch); adaptive_avg_pool1d/2d/3d to size 1 (interpolate(mode='area') too) is "
         "that mean in both libraries", R, status="by-design")


known_class(
    "var-grad-overflowing-mean", fam("var", "std", "var_mean", "std_mean", inplace=False),
    {"grad-nan", "grad-inf", "grad-value"}, overflowing_partial_sums,
    """
    x = torch.tensor([-2.5, -2.5, -6e4, 1.5, 1.5, 1.0, inf, 1.0, -3e38, 1e30, -3e38, 1e5, -3e38, 1.0, 1e30],
                     requires_grad=True)
    x.var().backward()
    x.grad
    """, "README: var's and std's gradient, 2 / (N - correction) * grad * (x - x.mean()) (PyTorch's var_backward), "
         "takes the mean as a float32 sum: where partial sums overflow (sum-overflowing-partial-sums) the order of "
         "summation decides whether that mean is inf or nan (inf - inf), and so the whole gradient", R,
    status="by-design")


def zero_norm_grad(d):
    """A call on a zero output of norm or dist (its gradient then reaches norm's backward at a zero norm)."""
    return any(o.rsplit(".", 1)[-1] in ("norm", "dist") and isf(t) and has_zero(t)
               for t, o in zip(d.inputs, d.origins))


known_class(
    "pytorch-zero-norm-drops-nan-grad", ALL_OPS, "grad-nan", zero_norm_grad,
    """
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    a.dist(torch.tensor([1.0, 2.0]), 3.0).backward(torch.tensor(nan))
    a.grad
    """, "PyTorch 2.13's norm_backward for 1 < p < 2 and p > 2 computes grad / norm^(p-1) and then masks it to 0 where "
         "the norm is 0: a NaN incoming gradient is dropped there (zeros); tapegrad's backward carries it (nan), "
         "as every other op's and PyTorch's own for p = 1, 2 and inf (kl_div of a zero dist: its target gradient "
         "log(0) + 1 is -inf, then 0 * -inf)", R, status="pytorch-bug")

# ---------------------------------------------------------------------- the tests
def _examples():
    return settings().max_examples * 10  # 200 programs in the fast profile, 3,000 under HYPOTHESIS_PROFILE=thorough


@settings(max_examples=_examples(), derandomize=True)  # the same programs every run: new ones come from the driver
@given(st.data())
def test_random_programs_agree_with_pytorch(data):
    r = core.Runner(known)
    loss_seed = ops.generate(core.HypothesisSource(data), r)
    r.finish(loss_seed)
    unknown = [d for d in r.found if d.known is None]
    if unknown:
        d = unknown[0]
        note(r.render())
        raise AssertionError(f"{d.op}: {d.kind} (not in KNOWN)\n{d.detail}\nhere:    {d.error_here}\n"
                             f"PyTorch: {d.error_torch}\nprogram:\n{r.render()}")


def run_repro(code, lib):
    """Run a repro with ``torch`` bound to ``lib``; returns ("ok", value of the last line) or ("raised", exc)."""
    lines = code.strip().splitlines()
    ns = {"torch": lib, "inf": math.inf, "nan": math.nan, "np": np}
    with np.errstate(all="ignore"):
        try:
            exec("\n".join(lines[:-1]), ns)
            return "ok", eval(lines[-1], ns)
        except Exception as e:  # noqa: BLE001
            return "raised", e


@pytest.mark.parametrize("entry", KNOWN, ids=lambda k: k.key)
def test_known_entry_still_differs(entry):
    """Each KNOWN entry's repro (one of them, for a class whose repro depends on the CPU) still differs from PyTorch;
    if not, the class is fixed: delete the entry."""
    core.load_torch()
    if entry.host is not None and not entry.host():
        pytest.skip(f"KNOWN[{entry.key}]'s class shows on other CPUs only")
    for repro in entry.repro:
        here, there = run_repro(repro, tg), run_repro(repro, torch)
        if here[0] != there[0]:
            return
        if here[0] == "raised":
            pytest.fail(f"KNOWN[{entry.key}]: both libraries raise now ({here[1]!r} / {there[1]!r}); fix the repro")
        if core.compare_values(here[1], there[1], "result"):
            return
    pytest.fail(f"KNOWN[{entry.key}] agrees with PyTorch now: the class is fixed, delete its entry")


def test_known_entries_have_a_status_and_a_file():
    """Each entry's status is one of the three (a file path passed one argument too far once made an open bug
    look classified) and its file is a path of the package."""
    for k in KNOWN:
        assert k.status in ("bug", "by-design", "pytorch-bug"), (k.key, k.status)
        assert k.file.startswith("tapegrad/"), (k.key, k.file)


def test_known_keys_are_unique():
    keys = [k.key for k in KNOWN]
    assert len(keys) == len(set(keys))


# names the op table does not generate, and why
NOT_GENERATED = {
    "add_at": "tapegrad only (the functional scatter-add its gradients use); PyTorch has no such function",
    "return_types": "a namespace, not an op",
    "as_strided": "reads the memory block, whose size and layout differ between the libraries for op results (a "
                  "tapegrad result may be a view of a larger numpy temporary); compared with PyTorch on tensors "
                  "of known layout in tests/test_shape.py",
    "resize_as_": "reads the memory block (as as_strided), and PyTorch's grown elements are uninitialized memory; "
                  "compared with PyTorch on tensors of known layout in tests/test_shape.py",
}


def _public_names():
    import tapegrad.nn.functional as F
    from tapegrad.ops import conv, elementwise, index, linalg, reduce, sampling, shape, sort

    names = set()
    for mod in (elementwise, reduce, shape, index, linalg, conv, sort, sampling):
        names |= {n for n in mod.__all__ if hasattr(torch, n)}
    names |= {"F." + n for n in F.__all__}
    return names


def test_op_table_covers_the_public_api():
    """Every public op of tapegrad that PyTorch also has (functions, F.*, Tensor methods) is generated."""
    generated = {c for s in ops.SPECS for c in s.covers}
    missing = sorted(n for n in _public_names() if n not in generated and n not in NOT_GENERATED)
    assert not missing, f"not generated by tests/differential/ops.py: {missing}"
    methods = {n for n in dir(tg.Tensor) if not n.startswith("_") and hasattr(torch.Tensor, n)}
    plain = {"backward", "register_hook", "register_post_accumulate_grad_hook", "grad", "grad_fn", "data", "device",
             "cpu", "cuda", "numpy", "element_size", "is_contiguous", "nelement", "ndimension", "retains_grad",
             "bfloat16",  # the programs hold no bfloat16 values; tests/test_bfloat16.py compares its casts with PyTorch
             "data_ptr", "const_data_ptr",  # memory addresses: no two processes' agree
             "apply_", "map_", "map2_",  # run a Python callable per element (CPU-only helpers, not ops)
             "module_load",  # a hook for nn.Module.load_state_dict, tested with the modules
             "as_strided", "as_strided_",  # read the memory block (see NOT_GENERATED), tested in tests/test_shape.py
             "resize_", "resize_as_"}  # as as_strided; PyTorch's grown elements are uninitialized
    missing = sorted(n for n in methods - plain if "Tensor." + n not in generated)
    assert not missing, f"Tensor methods not generated by tests/differential/ops.py: {missing}"


def test_driver_runs(tmp_path):
    from differential import driver

    out = tmp_path / "d.json"
    driver.main(["--seeds", "0:5", "--out", str(out), "--no-shrink"])
    assert out.exists()


# Programs of the driver that the harness once reported wrongly, each for the reason given: replayed whole, they
# must give no discrepancy
_HARNESS_REPLAYS = {
    191537: "instance_norm's float32 values agree within tolerance, then remainder_(-3) of values near 1e5 writes "
            "their rounding, amplified (0.336 vs 0.344): the written tensor is no longer comparable, as the result "
            "of the out-of-place remainder is not",
    211097: "group_norm's float32 values agree within tolerance; addcmul(them, int64, float64) is float64, where "
            "2.32 - 2.5 = -0.179 keeps float32's rounding (4.8e-7), beyond float64's loose tolerance: a result is "
            "compared at the precision of the approximate values it was computed from, now and in later calls",
    256406: "interpolate(mode='area') to one value is a float32 mean of 27 values with 3e38 and -3e38: 2222 here, 0 "
            "in PyTorch, the rounding of each library's order of summation (as adaptive_avg_pool2d's)",
    311198: "group_norm's float32 value is -2e-6 in PyTorch (its fused scale-and-shift), 0.0 here, within "
            "tolerance; dropout1d(p=1) multiplies it by 0: -0.0 there, 0.0 here, the sign of the rounding",
    820789: "instance_norm leaves 0 here and PyTorch ~1e-5 noise on a constant set, within tolerance; addcdiv by it "
            "is inf here and -3e5 there: singular at 0, so not comparable on rounded values",
    831771: "cosine_similarity of a float32 and a float64 operand is float64, but PyTorch divides the float32 one by "
            "its float32 2-norm first (one ulp apart here, its vectorized kernel's order): float32's tolerance",
}


@pytest.mark.parametrize("seed", sorted(_HARNESS_REPLAYS))
def test_harness_replays_give_no_discrepancy(seed):
    r = core.Runner(known)
    loss_seed = ops.generate(core.RandomSource(seed), r)
    r.finish(loss_seed)
    assert not r.found, (_HARNESS_REPLAYS[seed], [(d.op, d.kind) for d in r.found])


def test_a_gradient_difference_is_not_filed_under_a_call_that_hands_its_input_back():
    # seed 256750: feature_alpha_dropout(v2, 0.0) (not training) returns v2 itself in both libraries; atan2's
    # gradient at inf (v2 = v0.atan2(v0)) differs, but the prefix that ends at atan2 agrees (local_response_norm's
    # NaN gradient at the same places hides it): the difference is atan2's, not the dropout's
    r = core.Runner(known)
    loss_seed = ops.generate(core.RandomSource(256750), r)
    r.finish(loss_seed)
    assert r.found and all(d.op == "Tensor.arctan2" and d.known for d in r.found), [(d.op, d.known) for d in r.found]


def test_a_gradient_difference_is_filed_under_the_call_whose_backward_made_it():
    # binary_cross_entropy_with_logits' float32 backward overflows (pytorch-bce-logits-grad-scaled-late) only for
    # an incoming gradient above 1.13: the loss's 2.0 * logcumsumexp of the 0-d bce brings it 2.0, while the
    # prefixes that end at the bce weigh it 1.0 or 0.25 and agree, so the prefix search blamed logcumsumexp (whose
    # own backward agrees); each call's backward fed the same incoming gradient in both libraries blames the bce
    x = np.array([[1.0, 2.0, 0.0], [-3e38, 1.0, -1.0], [0.5, 3e38, 1e-07]], dtype=np.float32)
    calls = [core.Call("leaf", "tensor", (core.Lit(x, "float32"),), {"requires_grad": True}),
             core.Call("fn", "nn.functional.binary_cross_entropy_with_logits", (core.Ref(0), core.Ref(0))),
             core.Call("method", "logcumsumexp", (core.Ref(1), -1))]
    r = core.replay(calls, 4, known)  # loss seed 4: the logcumsumexp's result alone, weight 2.0
    assert [(d.op, d.culprit, d.known) for d in r.found] == [
        ("F.binary_cross_entropy_with_logits", 1, "pytorch-bce-logits-grad-scaled-late")]


@pytest.mark.parametrize("seed, op, key", [
    # scatter_reduce(..., 'prod') whose index is smaller than src, then clamp_min(v, v): the prefix that ends at
    # the scatter_reduce leaves its result out of the loss (or raises: std's output written in place)
    (1035861, "Tensor.scatter_reduce", "pytorch-scatter-reduce-larger-src-broadcast"),
    (1075889, "F.binary_cross_entropy_with_logits", "pytorch-bce-logits-grad-scaled-late"),
])
def test_driver_programs_blame_the_call_whose_backward_differs(seed, op, key):
    r = core.Runner(known)
    loss_seed = ops.generate(core.RandomSource(seed), r)
    r.finish(loss_seed)
    assert r.found and all(d.op == op and d.known == key for d in r.found), [(d.op, d.known) for d in r.found]
