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
    ``torch`` bound to each library); ``bullet``: where issue 9 lists it ("new" if it does not); ``file``: the
    file that must change; ``status``: "bug", or "by-design" / "pytorch-bug" for differences to keep.
    """

    key: str
    ops: frozenset
    kinds: frozenset
    when: object
    repro: str
    bullet: str
    file: str
    status: str = "bug"


KNOWN: list[Known] = []


def known_class(key, ops_, kinds, when, repro, bullet, file, status="bug"):
    KNOWN.append(Known(key, frozenset(ops_), frozenset([kinds] if isinstance(kinds, str) else kinds), when,
                       textwrap.dedent(repro).strip(), bullet, file, status))


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
    "int-requires-grad", {"Tensor.requires_grad="}, RAISES_THERE,
    lambda d: not isf(x0(d)) and bool(arg(d, 1)),
    """
    x = torch.tensor([1, 2])
    x.requires_grad = True
    x.requires_grad
    """, B["int-grad"], T)
known_class(
    "view-writes-lost", INPLACE | ELEMENTWISE_F, STATE | GRADS,
    lambda d: not d.call.no_grad and (d.kind.startswith("state") or d.shared > 0),
    """
    x = torch.zeros(3)
    y = torch.ones(3, requires_grad=True) * 2
    x.view(-1)[:3] = y
    x
    """, B["views"] + " (under grad mode: the base, or a view of the written tensor, keeps its old "
                      "values, and gradients through them differ)", T)
known_class(
    "view-writes-lost-no-grad", INPLACE | ELEMENTWISE_F, STATE,
    lambda d: d.call.no_grad,
    """
    x = torch.ones(2, requires_grad=True) * 1
    v = x[:1]
    x.mul_(torch.tensor(2.0, requires_grad=True))
    v
    """, B["views"] + " (a tensor written under no_grad after a grad-mode write left its views behind)", T)
known_class(
    "inplace-on-view-refused", INPLACE | ELEMENTWISE_F, RAISES_HERE,
    lambda d: here_says(d, "an in-place operation on a view") and d.origins[0] in VIEW_OPS,
    """
    x = torch.ones(2, 2, requires_grad=True) * 1
    x.t().mul_(2)
    x
    """, B["views"] + " (refusing is allowed, with a clear error naming the view op)", T, status="by-design")
known_class(
    "inplace-on-non-view-refused", INPLACE | ELEMENTWISE_F, RAISES_HERE,
    lambda d: here_says(d, "an in-place operation on a view") and d.origins[0] not in VIEW_OPS,
    """
    w = torch.ones(1, 2, 3, requires_grad=True)
    y = torch.nn.functional.bilinear(torch.ones(1, 2), torch.ones(1, 3), w)
    y.mul_(2)
    """, B["new"] + ": results that are internally numpy views (bilinear, group_norm, inner, take, gather of 0-d, "
                    "...) are taken for PyTorch views and their in-place ops refused", T)
known_class(
    "stale-view-refused", INPLACE | ELEMENTWISE_F, RAISES_HERE,
    lambda d: here_says(d, "the view's values are stale"),
    """
    x = torch.ones(2, 2, requires_grad=True) * 1
    v = x[0]
    with torch.no_grad():
        x.copy_(torch.zeros(2, 2))
    v.fill_(3)
    """, B["views"] + " (a write through a view after its base was written)", T)
known_class(
    "readonly-results", INPLACE | ELEMENTWISE_F, RAISES_HERE,
    target_readonly,
    """
    x = torch.tensor([1.0, 2.0])
    x.var().sub_(1)
    """, B["errors"] + " (writes into diagonal() views, 0-d reduction results, broadcast_to/broadcast_tensors "
                       "outputs whose elements do not overlap: numpy hands out read-only arrays)", T)
known_class(
    "numpy-scalar-results", ALL_OPS, {RAISES_HERE, "backward-tapegrad-raises"},
    lambda d: here_says(d, "object does not support item assignment", "at least one array or dtype is required",
                        "object has no attribute '_data'"),
    """
    x = torch.tensor(2.0).flip([-1])
    x.scatter_(0, torch.tensor(0), 5.0)
    """, B["new"] + ": 0-d results of flip/var/std/logsumexp/cosine_similarity hold a numpy scalar, not a 0-d "
                    "array, so scatter_/nn.init/... on them fail", T)
known_class(
    "overlapping-writes", INPLACE | ELEMENTWISE_F, RAISES_THERE,
    lambda d: torch_says(d, "refer to a single memory location", "more than one element of the written-to tensor"),
    """
    x = torch.tensor([True])
    x.index_add_(0, torch.tensor([0]), x, alpha=False)
    """, B["views"] + " (PyTorch refuses writes whose source overlaps the written tensor, and writes into "
                      "expanded tensors)", T)
known_class(
    "inplace-on-view-of-leaf", INPLACE | ELEMENTWISE_F, RAISES_THERE,
    lambda d: torch_says(d, "a view of a leaf Variable that requires grad is being used in an in-place"),
    """
    x = torch.zeros(0, 2, requires_grad=True)
    x.t().mul_(2)
    """, B["views"] + " (an in-place op on a view of a leaf that requires grad; tapegrad misses views of empty "
                      "tensors, which share no memory)", T)
known_class(
    "multi-output-view-writes", ALL_OPS, {RAISES_THERE, "backward-pytorch-raises"},
    lambda d: torch_says(d, "is a view and is being modified inplace", "is a view and its base or another view",
                         "A view was created in no_grad mode and is being modified inplace"),
    """
    x = torch.zeros(1, 0, requires_grad=True)
    a, = x.split([0], 1)
    a.sigmoid_()
    """, B["values"] + " (writes into outputs of split/unbind that PyTorch forbids)", T)
known_class(
    "detach-of-view", {"Tensor.detach_"}, RAISES_THERE,
    lambda d: torch_says(d, "Can't detach views in-place"),
    """
    x = torch.ones(4)
    x[:2].detach_()
    """, B["new"] + ": detach_() of a view", T)
known_class(
    "logical-not-on-leaf", {"Tensor.logical_not_"}, {RAISES_HERE, "requires_grad"},
    lambda d: x0(d).requires_grad and isf(x0(d)),
    """
    x = torch.tensor([1.0], requires_grad=True)
    x.logical_not_()
    """, B["new"] + ": non-differentiable in-place ops (logical_not_) on a leaf that requires grad are refused; "
                    "PyTorch computes (the result does not require grad through it)", T)
known_class(
    "zero-fill-lose-requires-grad", {"Tensor.zero_", "Tensor.fill_"}, "requires_grad",
    lambda d: x0(d).requires_grad,
    """
    v = torch.ones(2, requires_grad=True) * 1
    v.zero_()
    v.requires_grad
    """, B["rg-lost"] + " (zero_()/fill_() on a non-leaf that requires grad)", T)
known_class(
    "inplace-plain-target-grad-operand", INPLACE | ELEMENTWISE_F, {"requires_grad", "state-requires_grad"},
    lambda d: isf(x0(d)) and not x0(d).requires_grad and any(t.requires_grad for t in d.inputs[1:]),
    """
    x = torch.tensor([2.0])
    x.clamp_(None, torch.tensor([-0.25], requires_grad=True))
    x.requires_grad
    """, B["rg-lost"] + " (in-place ops on plain tensors with operands that require grad)", T)
known_class(
    "overwrite-grad-none", INPLACE, GRADS,
    lambda d: d.kind == "grad-None" or d.op in {"Tensor.copy_", "Tensor.fill_", "Tensor.zero_"},
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.copy_(torch.tensor([3.0, 4.0]))
    y.sum().backward()
    x.grad
    """, B["new"] + ": a tensor overwritten in place (copy_, fill_, zero_, setitem of everything) gives its "
                    "history a gradient of None; PyTorch gives zeros (the graph stays connected, "
                    "and a NaN partial there makes PyTorch's gradient NaN)", T)
known_class(
    "unused-input-written", ALL_OPS, "backward-tapegrad-raises",
    lambda d: here_says(d, "modified by an in-place operation"),
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y + 1
    with torch.no_grad():
        y.mul_(2)
    z.sum().backward()
    x.grad
    """, B["errors"] + " (a backward refused because an input whose value the gradient never used was written "
                       "later)", T)
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
    "int-requires-grad-copy", {"Tensor.copy_"}, "requires_grad",
    lambda d: not isf(x0(d)),
    """
    x = torch.tensor([True])
    x.copy_(torch.tensor([2.0], requires_grad=True))
    x.requires_grad
    """, B["int-grad"] + " (copy_ of a value that requires grad into a bool/int tensor)", T)
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
    "rsub-method", {"Tensor.rsub"}, RAISES_THERE,
    lambda d: torch_says(d, "has no attribute 'rsub'"),
    """
    torch.tensor([1.0]).rsub(2)
    """, B["values"] + " (Tensor.rsub exists only here; PyTorch has the function torch.rsub only)", E)
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
known_class(
    "view-requires-grad-follows-base", {"Tensor.requires_grad=", "Tensor.requires_grad_"}, "state-requires_grad",
    lambda d: True,
    """
    x = torch.zeros(2, 2)
    v = x[0]
    x.requires_grad_()
    v.requires_grad
    """, B["views"] + " (a view taken before requires_grad_() on its base does not follow it)", T)
known_class(
    "stale-saved-views", INPLACE | ELEMENTWISE_F, GRADS | {"backward-pytorch-raises"},
    lambda d: (d.op in INPLACE or kw(d, "inplace")) and (not x0(d).requires_grad or d.call.no_grad),
    """
    a = torch.tensor([[1.0], [2.0]])
    w = torch.tensor([[3.0]], requires_grad=True)
    y = w[0] * a[:, 0]
    a.mul_(0.5)
    y.sum().backward()
    w.grad
    """, B["views"] + " — **silent wrong gradients**: an in-place write to a tensor that does not require grad "
                      "does not reach the version of its views (a[:, 0], a[None], ...) nor of the arrays inner/"
                      "bilinear/conv2d/matmul keep, so their backward uses the new values (inner: 1.5 where "
                      "PyTorch's is 3.0); PyTorch's views share their base's version counter and raise", T)
# ---- tapegrad/ops/elementwise.py and tapegrad/dtypes.py
ARITH = fam("add", "sub", "subtract", "rsub", sym=None) | {"+", "r+", "+=", "-", "r-", "-="}
known_class(
    "alpha-before-promotion", fam("add", "sub", "subtract", "rsub", "index_add"), {"value", "dtype", "inf", "nan",
                                                                                   "signed-zero"} | GRADS,
    lambda d: kw(d, "alpha") is not None,
    """
    torch.add(torch.tensor([1.5]), torch.tensor([200], dtype=torch.uint8), alpha=2)
    """, B["promotion"] + " (add/sub(..., alpha=) multiply alpha * other in other's dtype before promoting: "
                          "overflow, rounding, and a float alpha promotes to the default dtype; index_add's "
                          "float alpha on an int tensor is cast to int first in PyTorch)", E)
known_class(
    "alpha-checks", fam("add", "sub", "subtract", "rsub"), RAISES_THERE,
    lambda d: torch_says(d, "alpha"),
    """
    torch.add(torch.tensor([1, 2]), 1, alpha=0.5)
    """, B["values"] + " (a float alpha with integer tensors, a bool alpha with non-bool results)", E)
known_class(
    "bool-alpha-dtype", fam("add", "sub", "subtract", "rsub"), {"dtype", RAISES_HERE},
    lambda d: all(isb(t) for t in d.inputs) and kw(d, "alpha") is not None,
    """
    torch.add(torch.tensor([True]), torch.tensor([True]), alpha=2)
    """, B["promotion"] + " (add(bool, bool, alpha=): PyTorch keeps bool)", E)
known_class(
    "bool-subtraction", ARITH | F("softmin") | LOSS_F | {"backward"}, {RAISES_THERE, "backward-pytorch-raises"},
    lambda d: torch_says(d, "Subtraction, the `-` operator", "Negation, the `-` operator"),
    """
    torch.tensor([0.5]) - False
    """, B["values"] + " (subtraction and negation of bool tensors and Python bools, which PyTorch refuses)", E)
known_class(
    "scalar-cast-to-uint8", {"r/", "/", "div", "Tensor.div", "divide", "Tensor.divide", "true_divide",
                             "Tensor.true_divide", "/="} | fam("atan2", "arctan2", "logical_and", "logical_or",
                                                               "logical_xor"), {"value", "signed-zero", "inf",
                                                                                "nan"},
    lambda d: any(isint(t) for t in d.inputs) or (len(d.inputs) > 1 and any(
        zero_d(t) and dt(t) != dt(x0(d)) for t in d.inputs[1:])),
    """
    torch.tensor([3], dtype=torch.uint8) / torch.tensor(-1)
    """, B["promotion"] + " (uint8 divided by a negative Python int or 0-d signed tensor: the scalar is cast to "
                          "uint8 first; int8 / 0-d int64: the 0-d operand is cast to int8 and wraps; a 0-d float64 "
                          "5e-324 is cast to float32 (0) before logical_xor)", E)
known_class(
    "bool-pow", fam("pow", sym="**"), {"dtype", RAISES_HERE},
    lambda d: isb(x0(d)) if d.inputs else False,
    """
    torch.tensor([True]) ** True
    """, B["promotion"] + " (bool ** bool is int8 here; PyTorch: bool)", E)
known_class(
    "inplace-uint8-signed", INPLACE, RAISES_HERE,
    lambda d: here_says(d, "can't be cast to the output dtype uint8") and dt(x0(d)) == "uint8",
    """
    x = torch.tensor([3, 4], dtype=torch.uint8)
    x += torch.tensor([5, 0])
    x
    """, B["promotion"] + " (in-place results: PyTorch's canCast allows int64 -> uint8 within the integer "
                          "category; numpy's same_kind does not)", E)
known_class(
    "clamp-dtype", fam("clamp", "clip", "clamp_min", "clamp_max"), {"dtype", "value", "signed-zero"},
    lambda d: any(not isf(t) for t in d.inputs) or any(zero_d(t) for t in d.inputs[1:]),
    """
    torch.tensor(3).clamp(-1, torch.tensor(2.0, dtype=torch.float16))
    """, B["promotion"] + " (clamp with bounds of another dtype or category; 0-d tensor bounds)", E)
known_class(
    "clamp-checks", fam("clamp", "clip", "clamp_min", "clamp_max"), RAISES_THERE,
    lambda d: torch_says(d, "invalid combination of arguments", "not implemented for 'Bool'"),
    """
    torch.tensor([True, False]).clamp(max=True)
    """, B["values"] + " (clamp of bool tensors; a mix of Python-number and tensor bounds in the method form)", E)
known_class(
    "scalar-out-of-range", ALL_OPS, {RAISES_HERE, RAISES_THERE},
    lambda d: here_says(d, "out of bounds for", "cannot convert float", "too large to convert") or torch_says(
        d, "cannot be converted to type", "without overflow"),
    """
    torch.tensor([200], dtype=torch.uint8).clamp_min_(-1)
    """, B["errors"] + " (clamp_min_(-1) on uint8: Python numbers out of the tensor's range; PyTorch wraps "
                       "integers into an integer tensor's range and refuses inf/nan/huge values for integer dtypes)",
    E)
known_class(
    "int-division-by-zero-empty", fam("floor_divide", "remainder", "fmod", "div", "divide", sym="//") | {
        "%", "r%", "%="}, RAISES_HERE,
    lambda d: here_says(d, "division by zero") and any(empty(t) for t in d.inputs[:1]),
    """
    torch.zeros(0, dtype=torch.int64) // 0
    """, B["errors"] + " (empty_int // 0)", E)
known_class(
    "scalar-operand-refused", fam("maximum", "minimum", "atan2", "arctan2", "fmod", "eq", "ne", "lt", "le", "gt",
                                  "ge", "greater", "less", "greater_equal", "less_equal", "not_equal",
                                  "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
                                  "bitwise_xor", "remainder", "floor_divide", "pow", "mul", "div", "sub", "add",
                                  "multiply", "divide", "true_divide", "subtract", "lerp", "rsub"), RAISES_THERE,
    lambda d: torch_says(d, "must be Tensor, not", "invalid combination of arguments", "unexpected keyword"),
    """
    torch.minimum(torch.tensor([1.0]), True)
    """, B["values"] + " (minimum(t, True), atan2(t, 2.0), eq(2, t), true_divide(..., rounding_mode=): "
                       "argument forms PyTorch's signatures refuse)", E)
known_class(
    "where-0d-and-non-bool", {"where", "Tensor.where"}, RAISES_HERE,
    lambda d: len(d.call.args) == 1 or any(dt(t) == "uint8" for t in d.inputs),
    """
    torch.where(torch.tensor(True))
    """, B["errors"] + " (where(0-d condition); the one-argument where (nonzero) of a non-bool tensor; a uint8 "
                       "condition, which PyTorch still accepts)", E)
known_class(
    "lerp-weight-dtype", fam("lerp"), RAISES_HERE,
    lambda d: here_says(d, "for `weight`"),
    """
    torch.lerp(torch.zeros(2), torch.ones(2), torch.tensor(0.5, dtype=torch.float64))
    """, B["promotion"] + " (lerp with a 0-d weight of another dtype: PyTorch accepts it)", E)
known_class(
    "round-int", fam("round"), RAISES_THERE,
    lambda d: torch_says(d, "not implemented for"),
    """
    torch.tensor([5, 2]).round(decimals=0)
    """, B["values"] + " (round of integer tensors)", E)
known_class(
    "softsign-int", F("softsign"), {"value", "inf"},
    lambda d: not isf(x0(d)),
    """
    torch.nn.functional.softsign(torch.tensor([255], dtype=torch.uint8))
    """, B["new"] + ": softsign of integer tensors (PyTorch computes 1 + |x| in the integer dtype)", NF)
known_class(
    "no-derivative-in-pytorch", ALL_OPS, "backward-pytorch-raises",
    lambda d: torch_says(d, "derivative for aten::"),
    """
    x = torch.tensor([1.5, 2.5], requires_grad=True)
    (x // 1).sum().backward()
    x.grad
    """, B["new"] + ": gradients PyTorch does not define (floor_divide, remainder w.r.t. the divisor, "
                    "scatter(reduce=)) are zeros here", E)
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
    "nan-grads-elementwise", fam("abs", "absolute", "atan2", "arctan2", "sign", "sgn") | {"abs(x)"},
    {"grad-nan", "grad-value", "grad-inf"},
    lambda d: any_in(d, lambda t: nonfinite(t) or has_zero(t) or big(t)),
    """
    x = torch.tensor([0.0], requires_grad=True)
    torch.atan2(x, x).sum().backward()
    x.grad
    """, B["edges"] + " (gradients at NaN and zeros: abs'(NaN) is 0 in PyTorch (sign(NaN) = 0), atan2 at (0, 0) "
                      "and at infinities is 0)", E)
known_class(
    "pytorch-int-operand-grad", fam("atan2", "arctan2"), GRADS,
    lambda d: any(not isf(t) for t in d.inputs),
    """
    x = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
    torch.atan2(x, torch.tensor(32767, dtype=torch.int16)).backward()
    x.grad
    """, "PyTorch 2.13 computes atan2's gradient in the integer operand's dtype (overflow): tapegrad's is right",
    E, status="pytorch-bug")

known_class(
    "signed-zero-modulo", fam("remainder", "fmod", sym="%"), "signed-zero",
    lambda d: True,
    """
    torch.remainder(torch.tensor([-1.0]), 1.0)
    """, B["edges"] + " (the sign of zero in remainder/fmod/%: PyTorch's remainder is fmod plus the divisor where "
                      "the signs differ, so -1 % 1 is -0.0; numpy's is +0.0)", E)
known_class(
    "signed-zero-minmax", fam("clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "max", "min",
                              "amax", "amin", "median", "fmax", "fmin", "topk", "sort", inplace=True),
    "signed-zero",
    lambda d: True,
    """
    torch.tensor([-0.0]).clamp_min(False)
    """, B["edges"] + " (the sign of zero where max/min/clamp pick between 0.0 and -0.0)", E)
known_class(
    "signed-zero-sums", MATMUL | REDUCTIONS | {"conv2d", "Tensor.inner", "inner"} | F("conv2d"), "signed-zero",
    lambda d: True,
    """
    torch.mm(torch.tensor([[3.0], [-0.0]], dtype=torch.float64), torch.tensor([[1.0, 1.0]], dtype=torch.float64))
    """, B["edges"] + " (the sign of zero of sums and products: PyTorch's matmul/einsum/cumsum/conv2d keep -0.0 "
                      "where every term is -0.0; numpy's BLAS and reductions start from +0.0)", L)

known_class(
    "pow-grad-edges", fam("pow", sym="**") | {"r**"}, GRADS,
    lambda d: any_in(d, lambda t: nonfinite(t) or has_zero(t) or (isf(t) and bool((t < 0).any()))),
    """
    x = torch.tensor([-2.5, 1.5, 0.0, -1.0], requires_grad=True)
    x.pow(x.cumprod(0)).sum().backward()
    x.grad
    """, B["edges"] + " (pow's gradients at zeros (0 ** 0), negative bases and NaN/inf: PyTorch masks the terms "
                      "that are 0 * inf)", E)
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
    "masked-grad-overflow", fam("cosh", "sinh", "exp", "exp2", "expm1", "pow", "square", "mul", "tan", "sin",
                                "cos", "acos",
                                "asin", "arccos", "arcsin", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
                                "reciprocal", "div", "divide", sym="**") | {"*", "r*", "*=", "/", "r/", "/="},
    {"grad-nan", "grad-value"},
    singular,
    """
    x = torch.tensor([100.0, 1.0], requires_grad=True)
    torch.clamp_min(x, torch.tensor([200.0, 0.0])).cosh().sum().backward()
    x.grad
    """, B["edges"] + " (an overflowing gradient (cosh'(100) = inf) through clamp/relu/maximum/where: PyTorch's "
                      "backward selects (where(mask, g, 0)) where tapegrad multiplies by the mask, and inf * 0 is "
                      "NaN; the same with NaN gradients from acos/log/sqrt outside their domain)", E)

known_class(
    "half-opmath", fam("floor_divide", "div", "divide", "true_divide", "lerp", "remainder", "fmod", "mul", "add",
                       "sub", "pow", "atan2", "round", "multiply", "subtract", "rsub", "arctan2", sym="//")
    | {"/", "r/", "/=", "%", "r%", "%=", "*", "r*", "*=", "**", "r**", "**="},
    {"value", "nan", "inf", "signed-zero"} | GRADS,
    lambda d: any(dt(t) in ("float16",) for t in d.inputs) and (
        any(zero_d(t) for t in d.inputs) or any(isinstance(v, float) for v in nums(d))
        or kw(d, "decimals") is not None),
    """
    (torch.tensor([-0.25, 1.5], dtype=torch.float16) // torch.tensor(0.05)).tolist()
    """, B["promotion"] + " (float16 with a Python float or a 0-d float32/float64 operand: PyTorch computes in "
                          "float32 (its 'opmath') with the scalar at full precision, tapegrad rounds the scalar "
                          "to float16 first: -0.25 // 0.05 is -5 there, -6 here; lerp(x, x, 1e30) is NaN here)", E)
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
    "pow-neg-inf", fam("pow", sym="**") | {"r**"}, {"nan", "inf", "value"},
    lambda d: any_in(d, lambda t: isf(t) and t.numel() > 0 and bool(torch.isneginf(t.detach()).any())),
    """
    torch.pow(torch.tensor([-float("inf")]), torch.tensor(0.5))
    """, B["edges"] + " (pow(-inf, 0.5) is +inf in PyTorch (C's pow), NaN in numpy)", E)
known_class(
    "same-operand-grad-cancel", fam("atan2", "arctan2", "div", "divide", "sub", sym="/"), GRADS,
    lambda d: len(d.call.args) > 1 and isinstance(arg(d, 0), core.Ref) and arg(d, 0) == arg(d, 1),
    """
    v0 = torch.tensor([[[-3.0, 2.0]], [[1e-07, -3.0]]], requires_grad=True)
    v1 = v0.atan2(v0)
    ((v0 * torch.tensor([[[0.75, -2.0]], [[1.25, 1.0]]])).sum().double()
     + (v1 * torch.tensor([[[-1.5, 0.75]], [[-2.0, 1.25]]])).sum().double()).backward()
    v0.grad
    """, "f(x, x) for atan2/div at small x: the two partial gradients are +-1/(2x) (5e6 here) and cancel to "
         "a different rounding in each library (and absorb the leaf's other gradients)", E, status="by-design")

# ---- tapegrad/ops/reduce.py
known_class(
    "dim-out-of-range-0d", ALL_OPS, RAISES_THERE,
    lambda d: torch_says(d, "Dimension out of range (expected to be in range of [-1, 0]"),
    """
    torch.tensor(3.0).sum(5)
    """, B["refuse"] + " (a dim argument on a 0-d tensor out of range)", R)
known_class(
    "prod-dim-forms", fam("prod", inplace=False), RAISES_THERE,
    lambda d: torch_says(d, "prod(", "argument 'dim'"),
    """
    torch.prod(torch.tensor([[1.0, 2.0]]), (0, 1))
    """, B["values"] + " (prod with a tuple or None dim: PyTorch's prod takes one int)", R)
known_class(
    "bool-reductions", fam("argmax", "argmin", "median", "cumsum", "cumprod", "topk", inplace=False) | fam(
        "nanmedian", inplace=False), RAISES_THERE,
    lambda d: torch_says(d, "not implemented for 'Bool'", "does not support bool"),
    """
    torch.tensor([True, False]).argmax()
    """, B["values"] + " (argmax/argmin/median/topk of bool tensors, cumsum/cumprod of bools without dtype)", R)
known_class(
    "integer-dtype-on-grad", REDUCTIONS | {"Tensor.masked_fill", "masked_fill", "Tensor.masked_fill_"},
    RAISES_THERE,
    lambda d: torch_says(d, "Autograd not support dtype"),
    """
    torch.tensor([1.0], requires_grad=True).cumsum(0, dtype=torch.int64)
    """, B["values"] + " (cumsum(dtype=int64) on a tensor that requires grad; sum(dtype=int); masked_fill of an "
                       "int tensor with a value that requires grad)", R)
known_class(
    "cum-dtype-ignored", fam("cumsum", "cumprod", inplace=False), "dtype",
    lambda d: kw(d, "dtype") is not None,
    """
    torch.cumsum(torch.tensor(True), 0, dtype=torch.int32).dtype
    """, B["promotion"] + " (cumsum/cumprod ignore dtype= on bool, int and 0-d inputs)", R)
known_class(
    "var-mean-inf", fam("var_mean", "std_mean", inplace=False), "nan",
    lambda d: nonfinite(x0(d)),
    """
    torch.var_mean(torch.tensor([-float("inf"), 1.0]))
    """, B["edges"] + " (std_mean/var_mean with inf: PyTorch's one-pass Welford update gives a NaN mean)", R)
known_class(
    "var-overflow", fam("var", "std", "var_mean", "std_mean", inplace=False), {"inf", "value", "nan", "grad-nan",
                                                                               "grad-inf", "grad-value"},
    lambda d: big(x0(d)),
    """
    torch.tensor([3e38, -3.0]).std()
    """, B["new"] + ": var/std of float32 values whose squares overflow give inf (PyTorch's Welford update "
                    "does not square the values)", R)
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
    "var-correction-grad", fam("var", "std", "var_mean", "std_mean", inplace=False), {"grad-inf", "grad-nan",
                                                                                       "grad-value"},
    lambda d: correction(d) >= max(1, reduced_count(d)) or correction(d) % 1 != 0,
    """
    x = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    torch.var(x, correction=5).backward()
    x.grad
    """, B["edges"] + " (gradients of var/std when the correction reaches the number of values: PyTorch "
                      "divides by N - correction, possibly negative; here inf)", R)
known_class(
    "var-grad-nonfinite", fam("var", "std", "var_mean", "std_mean", inplace=False), {"grad-inf", "grad-nan",
                                                                                      "grad-value"},
    lambda d: nonfinite(x0(d)),
    """
    x = torch.tensor([float("inf"), 1.0, 2.0], requires_grad=True)
    x.var().backward()
    x.grad
    """, B["edges"] + " (var/std gradients at inf: PyTorch's are inf or finite where tapegrad's are NaN)", R)
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
    "empty-dim-tuple-all-any", fam("all", "any", "count_nonzero", "amax", "amin", "logsumexp", "sum", "mean",
                                   "nansum", "norm", inplace=False), {"shape", "value", "dtype"},
    lambda d: any(a in ((), []) for a in list(d.call.args[1:2]) + [kw(d, "dim")]),
    """
    torch.any(torch.tensor([[True, False]]), ()).shape
    """, B["new"] + ": all/any(dim=()) reduce nothing in PyTorch (sum/mean(dim=()) reduce everything)", R)
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


known_class(
    "norm-rescaled", fam("norm", inplace=False) | F("normalize"), {"inf", "value", "nan"},
    lambda d: any_in(d, big_sum),
    """
    torch.tensor([1e300, 1.0], dtype=torch.float64).norm()
    """, "tapegrad's 2-norm rescales to avoid overflow and underflow (1e300, not PyTorch's inf)", R,
    status="by-design")
known_class(
    "negative-norm-empty", fam("norm", inplace=False), RAISES_THERE,
    lambda d: torch_says(d, "norm on an empty tensor", "cannot compute the"),
    """
    torch.zeros(0).norm(-1)
    """, B["refuse"] + " (negative-order norms of empty tensors have no identity)", R)
known_class(
    "reduce-empty-dims", fam("amax", "amin", "norm", "max", "min", "logsumexp", inplace=False), RAISES_HERE,
    lambda d: empty(x0(d)) and here_says(d, "cannot reduce over an empty dimension"),
    """
    torch.amax(torch.zeros(2, 0), 0)
    """, B["errors"] + " (amax/amin/norm(inf) over a non-empty dim of an empty tensor: the result is empty)", R)
known_class(
    "median-empty-requires-grad", fam("median", inplace=False), "requires_grad",
    lambda d: empty(x0(d)),
    """
    torch.median(torch.zeros(0, requires_grad=True)).requires_grad
    """, B["rg-lost"] + " (median of empty tensors)", R)
known_class(
    "norm-checks", fam("norm", inplace=False) | F("normalize"), RAISES_THERE,
    lambda d: torch_says(d, "without narrowing", "Expected a floating point or complex tensor"),
    """
    torch.tensor([1.0]).norm(1, dtype=torch.float16)
    """, B["values"] + " (norm(dtype=) narrowing the input's dtype; norm/normalize of integer and bool tensors)", R)
known_class(
    "prod-zero-grad", fam("prod", "cumprod", inplace=False), {"grad-nan", "grad-value", "grad-inf"},
    lambda d: any_in(d, lambda t: has_zero(t) or nonfinite(t)),
    """
    x = torch.tensor([float("inf"), 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    x.grad
    """, B["edges"] + " (PyTorch's prod gradient with zeros and infinities)", R)

known_class(
    "reduce-grad-nan", fam("amax", "amin", "max", "min", "median", "norm", "logsumexp", inplace=False),
    GRADS,
    lambda d: nonfinite(x0(d)),
    """
    x = torch.tensor([[float("nan"), -2.5, 2.0]], dtype=torch.float64, requires_grad=True)
    torch.clamp(x, 0.5, None).amax(-1).sum().backward()
    x.grad
    """, B["edges"] + " (gradients of amax/amin/max/min/norm(inf) at NaN and inf: PyTorch sends the gradient to "
                      "the NaN, tapegrad's tie mask gives NaN everywhere)", R)
known_class(
    "cosine-empty", F("cosine_similarity") | {"cosine_similarity"}, {"nan", "value"},
    lambda d: any(empty(t) for t in d.inputs),
    """
    torch.cosine_similarity(torch.zeros(0, 2, dtype=torch.float16), torch.zeros(0, 2, dtype=torch.float16), dim=0)
    """, B["new"] + ": cosine_similarity of float16 over an empty dim is 0 in PyTorch, NaN here", NF)
known_class(
    "linspace-nonfinite", {"linspace"}, {"nan", "inf", "value", "signed-zero"},
    lambda d: any(isinstance(v, float) and (not math.isfinite(v) or v == 0) for v in nums(d)),
    """
    torch.linspace(float("nan"), 0, 3)
    """, B["new"] + ": linspace with a NaN or infinite end: PyTorch's values are all NaN", CR)

known_class(
    "cum-accumulation", fam("cumprod", "cumsum", "prod", "sum", inplace=False), {"nan", "inf", "value"},
    lambda d: any_in(d, big),
    """
    torch.cumprod(torch.tensor([3e38, 3e38, 0.0]), 0)
    """, "PyTorch accumulates float32 sums and products in float64 on the CPU, so an intermediate that "
         "overflows float32 (3e38 * 3e38 * 0) stays finite there; tapegrad accumulates in float32", R,
    status="by-design")
known_class(
    "norm-grad-zeros", fam("norm", inplace=False) | F("normalize"), GRADS,
    lambda d: any_in(d, has_zero),
    """
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], requires_grad=True)
    (torch.nn.functional.normalize(x, p=0.5, dim=0) * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    x.grad
    """, B["edges"] + " (gradients of p-norms with p < 1 at zeros: |x|^(p-1) is inf there; PyTorch masks the zero "
                      "entries)", R)
known_class(
    "pytorch-median-expanded", fam("median", "nanmedian", inplace=False), {"value", "inf", "nan", "signed-zero"},
    lambda d: d.origins and d.origins[0] in {"Tensor.expand", "expand", "broadcast_to", "Tensor.broadcast_to",
                                              "Tensor.expand_as", "broadcast_tensors"},
    """
    torch.tensor([[1.0, 2.0, 3.0]]).expand(2, 3).median(0).values
    """, "**PyTorch 2.13 bug, silent:** median(dim) of an expanded (stride-0) tensor returns wrong values, even "
         "values not in the input ([1, 2, 0] for rows [1, 2, 3]); tapegrad's is right", R, status="pytorch-bug")
known_class(
    "reduce-dtype-cast", fam("sum", "mean", "nansum", "prod", inplace=False), {"nan", "inf", "value"},
    lambda d: kw(d, "dtype") is not None and isint(x0(d)),
    """
    torch.tensor([9223372036854775807, -100, 0, -9223372036854775808]).mean(0, dtype=torch.float16)
    """, B["promotion"] + " (sum/mean(int tensor, dtype=float16) with values beyond float16's range: tapegrad "
                          "casts first (inf - inf = NaN), PyTorch does not)", R)

# ---- tapegrad/ops/shape.py
known_class(
    "missing-sizes-accepted", {"zeros", "ones", "rand", "randn", "empty"}, RAISES_THERE,
    lambda d: torch_says(d, "missing 1 required positional", "invalid combination of arguments - got ()",
                         "got (Tensor, NoneType)", "got (NoneType)"),
    """
    torch.rand()
    """, B["values"] + " (zeros()/rand() without a size: PyTorch's signatures refuse them; the shape ops' "
                       "permute()/repeat()/flip()/expand()/view()/squeeze(None) are refused now)", CR)
known_class(
    "einsum-dtype", {"einsum"}, "dtype",
    lambda d: any(not isf(t) for t in d.inputs),
    """
    torch.einsum("i->", torch.tensor([1, 2], dtype=torch.int32)).dtype
    """, B["promotion"] + " (einsum sums of int/bool operands are int64 in PyTorch)", L)
known_class(
    "empty-skips-checks", ALL_OPS, RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) and here_says(d, "out of range", "the same dtype",
                                                            "expected a floating-point tensor",
                                                            "a leaf tensor that requires grad",
                                                            "expected a numeric input",
                                                            "random values are not implemented for"),
    """
    torch.roll(torch.zeros(0), 1, 5)
    """, "PyTorch skips dim, index and dtype checks on empty tensors (roll, index_add, bmm, indexing with an empty "
         "result); tapegrad checks", S, status="by-design")
known_class(
    "view-dtype-stride", {"Tensor.view"}, RAISES_THERE,
    lambda d: torch_says(d, " to view "),
    """
    torch.tensor(np.zeros(0, dtype=np.float32)).view(torch.float64)
    """, "PyTorch refuses view(dtype) of some empty tensors (a stride check); tapegrad computes", S,
    status="by-design")

# ---- tapegrad/ops/index.py
known_class(
    "advanced-index-placement", {"[]", "[]="}, {"shape", "value", RAISES_HERE, "state-value", "grad-value"},
    lambda d: sum(1 for k in (arg(d, 1) if isinstance(arg(d, 1), tuple) else (arg(d, 1),))
                  if isinstance(k, (core.Lit, list, bool))) >= 1,
    """
    torch.zeros(2, 3, 4)[0, :, [1, 2]].shape
    """, B["indexing"] + " (PyTorch applies ints as select() before advanced indexing, so an int "
                         "never separates index tensors: x[0, :, idx] keeps idx's dims in place, where numpy moves "
                         "them first)", IX)
known_class(
    "range-index", {"[]", "[]="}, RAISES_HERE,
    lambda d: here_says(d, "got range"),
    """
    torch.zeros(2, 2)[range(0, 2)]
    """, B["new"] + ": range objects as indices (PyTorch treats them as index lists)", IX)
known_class(
    "index-dtypes", {"[]", "[]="}, RAISES_THERE,
    lambda d: torch_says(d, "tensors used as indices must be long, int, byte or bool", "only supports boolean masks"),
    """
    torch.tensor([1.0, 2.0, 3.0])[torch.tensor([0, 1], dtype=torch.int16)]
    """, B["values"] + " (int16/int8 index tensors; uint8 masks where PyTorch wants bool)", IX)
known_class(
    "index-put-dtype", {"[]="}, RAISES_THERE,
    lambda d: torch_says(d, "Index put requires the source and destination dtypes match"),
    """
    x = torch.zeros(2)
    x[[0]] = torch.tensor([True])
    x
    """, B["values"] + " (index-put of a value of another dtype)", IX)
known_class(
    "gather-scatter-empty-index", fam("gather", "scatter", "scatter_add", "take_along_dim"), RAISES_HERE,
    lambda d: here_says(d, "index must have the same number of dimensions", "is larger than"),
    """
    torch.gather(torch.zeros(2, 3), 1, torch.zeros(0, dtype=torch.int64))
    """, B["errors"] + " (gather/scatter with an empty index of lower rank)", IX)
known_class(
    "scatter-multiply-grad", fam("scatter"), RAISES_HERE,
    lambda d: here_says(d, "reduce='multiply' is not implemented"),
    """
    x = torch.ones(2, requires_grad=True) * 1
    x.scatter(0, torch.tensor([0]), 2.0, reduce="multiply")
    """, B["new"] + ": scatter(reduce='multiply') on a tensor that requires grad raises at the call; PyTorch "
                    "records it and raises only at backward", IX)
known_class(
    "take-along-dim-checks", fam("take_along_dim"), {RAISES_HERE, RAISES_THERE},
    lambda d: True,
    """
    torch.take_along_dim(torch.tensor([1.0, 2.0]), torch.tensor([-1]))
    """, B["values"] + " (take_along_dim: PyTorch refuses negative indices and broadcasts index and input)", IX)
known_class(
    "index-add-empty", fam("index_add"), RAISES_HERE,
    lambda d: any(empty(t) for t in d.inputs) or here_says(d, "of size 0"),
    """
    torch.index_add(torch.zeros(0, 2), 0, torch.tensor([0]), torch.zeros(1, 2))
    """, "PyTorch does not check indices when the result is empty", IX, status="by-design")

known_class(
    "setitem-value-extra-dims", {"[]="}, {RAISES_HERE, RAISES_THERE},
    lambda d: here_says(d, "setting an array element with a sequence") or torch_says(
        d, "expand(", "shape mismatch: value tensor"),
    """
    x = torch.tensor([0.0])
    x[torch.tensor(-1)] = torch.tensor([5.0])
    x
    """, B["new"] + ": the value of x[key] = value: PyTorch strips the value's leading unit dims, then expands "
                    "it to the indexed shape (TensorIndexing.h, slicePrefix1sSize); numpy's broadcasting differs "
                    "both ways", IX)
known_class(
    "nested-list-key", {"[]", "[]="}, RAISES_THERE,
    lambda d: isinstance(arg(d, 1), list) and any(isinstance(k, list) for k in arg(d, 1)),
    """
    torch.tensor([1.0, 2.0])[[[1, 0], [0, 1]]]
    """, B["indexing"] + " (a list of lists as the whole key is a tuple of indices in PyTorch, as in old numpy)",
    IX)

# ---- tapegrad/ops/linalg.py
known_class(
    "bool-matmul", MATMUL | F("linear", "bilinear"), RAISES_THERE,
    lambda d: torch_says(d, "not implemented for 'Bool'", "can't be cast to the desired output type Bool"),
    """
    torch.tensor([[True]]).mm(torch.tensor([[True]]))
    """, B["refuse"] + " / " + B["values"] + " (bool @ bool, bool matmul/mm/bmm/mv/dot/inner)", L)
known_class(
    "matmul-size0", MATMUL | F("linear", "bilinear"), {RAISES_HERE, "backward-tapegrad-raises"},
    lambda d: here_says(d, "cannot reshape array of size 0", "is invalid for input of size 0"),
    """
    x = torch.zeros(3, 0, requires_grad=True)
    torch.nn.functional.linear(torch.zeros(2, 1, 0), x).sum().backward()
    x.grad.shape
    """, B["errors"] + " (matmul/linear/inner with a size-0 dimension: forward and backward crash)", L)
known_class(
    "inner-dtype", fam("inner", inplace=False), RAISES_THERE,
    lambda d: torch_says(d, "both inputs should have same dtype"),
    """
    torch.inner(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    """, B["values"] + " (inner of two dtypes: PyTorch does not promote)", L)
known_class(
    "linear-1d-weight", F("linear"), RAISES_HERE,
    lambda d: d.inputs[1].dim() == 1,
    """
    torch.nn.functional.linear(torch.ones(2, 3), torch.ones(3))
    """, B["new"] + ": linear with a 1-D weight (PyTorch: a dot product per row)", NF)

# ---- tapegrad/ops/conv.py
known_class(
    "adaptive-pool-inf", F("adaptive_avg_pool2d"), {"nan", "value", "inf", "grad-nan", "grad-value"},
    lambda d: nonfinite(x0(d)) or big(x0(d)),
    """
    torch.nn.functional.adaptive_avg_pool2d(torch.tensor([[[1.0, float("inf")], [3.0, 4.0]]]), (2, 1))
    """, B["new"] + ": adaptive_avg_pool2d averages through a matrix product, so one inf makes NaNs in other "
                    "windows", C)
known_class(
    "adaptive-pool-empty-batch", F("adaptive_avg_pool2d"), RAISES_HERE,
    lambda d: empty(x0(d)),
    """
    torch.nn.functional.adaptive_avg_pool2d(torch.zeros(0, 1, 4), 1)
    """, B["errors"] + " (adaptive_avg_pool2d of a 3-d input with 0 channels: PyTorch's batch dim is 0 here)", C)
known_class(
    "pool-signed-zero", F("avg_pool2d", "max_pool2d") | {"avg_pool2d", "max_pool2d"}, "signed-zero",
    lambda d: True,
    """
    torch.nn.functional.avg_pool2d(torch.tensor([[[-0.0]]]), 1)
    """, B["edges"] + " (signs of zero: avg_pool2d sums from +0, max_pool2d keeps the first of equal zeros)", C)

known_class(
    "pool-overflow", F("avg_pool2d", "adaptive_avg_pool2d") | {"avg_pool2d"}, {"inf", "value", "nan"},
    lambda d: any_in(d, big),
    """
    torch.nn.functional.avg_pool2d(torch.tensor([[[-3e38, -3e38]]]), (1, 2))
    """, "tapegrad's average of float32 values whose sum overflows is finite; PyTorch's is -inf", C,
    status="by-design")

known_class(
    "maxpool-neginf-grad", F("max_pool2d") | {"max_pool2d"}, GRADS,
    lambda d: any_in(d, nonfinite),
    """
    x = torch.tensor([[[-float("inf"), 1.0]]], requires_grad=True)
    torch.nn.functional.max_pool2d(x, (1, 2), padding=(0, 1)).sum().backward()
    x.grad
    """, B["edges"] + " (max_pool2d's gradient where a window's maximum is -inf (or NaN) next to the padding: "
                      "PyTorch sends it to that element, tapegrad to the padding)", C)

known_class(
    "maxpool-padding-window-indices", F("max_pool2d") | {"max_pool2d"}, {"value", "inf", "nan"},
    lambda d: kw(d, "return_indices") and (kw(d, "dilation") or 1) != 1,
    """
    x = torch.tensor([[[[1.0], [-2.5], [-0.0]], [[-3.0], [-float("inf")], [0.5]]]], dtype=torch.float64)
    torch.nn.functional.max_pool2d(x, (2, 1), padding=(1, 0), dilation=2, return_indices=True)[1]
    """, "The index max_pool2d(return_indices=True) gives for a window whose only values are -inf beside the "
         "padding: -1 here, an arbitrary element in PyTorch (the neighbourhood of PyTorch's heap-corruption bug "
         "below)", C, status="pytorch-bug")

# ---- tapegrad/ops/sort.py
known_class(
    "sort-signature", fam("sort", "argsort", inplace=False), RAISES_THERE,
    lambda d: torch_says(d, "invalid combination of arguments", "positional arguments but"),
    """
    torch.tensor([1.0, 2.0]).argsort(0, stable=True)
    """, B["values"] + " (sort/argsort(dim, stable=...): PyTorch's stable overload takes dim as a keyword only)",
    SO)

# ---- tapegrad/ops/sampling.py
known_class(
    "nn-init-int", {"nn.init." + n for n in ops.INIT}, RAISES_THERE,
    lambda d: torch_says(d, "not implemented for"),
    """
    torch.nn.init.uniform_(torch.zeros(2, dtype=torch.int64)).tolist()
    """, B["int-grad"] + " (nn.init's random fills of an int tensor: PyTorch refuses them)", NN + "init.py")
known_class(
    "sampling-checks", {"normal", "randperm", "rand_like", "randn_like", "rand", "randn", "randint",
                        "randint_like", "Tensor.normal_", "Tensor.uniform_", "Tensor.bernoulli", "bernoulli",
                        "Tensor.multinomial", "multinomial"}, RAISES_THERE,
    lambda d: torch_says(d, "not implemented for", "expects all elements of std", "expects 'from' to be less",
                         "random_ expects"),
    """
    torch.randperm(3, dtype=torch.bool)
    """, B["refuse"] + " (random fills of integer/bool dtypes, normal() with NaN or negative std, randint with "
                       "low >= high)", SA)
known_class(
    "sampling-dtype", {"normal"}, "dtype",
    lambda d: True,
    """
    torch.normal(torch.zeros(2), torch.tensor(1.0, dtype=torch.float64)).dtype
    """, B["promotion"] + " (normal(mean, std) with a 0-d std of another dtype)", SA)
known_class(
    "randint-like-high", {"randint_like"}, RAISES_HERE,
    lambda d: here_says(d, "randint"),
    """
    torch.randint_like(torch.zeros(2), 5).shape
    """, B["new"] + ": randint_like(t, high) refused", SA)
known_class(
    "bernoulli-requires-grad", fam("bernoulli") | F("dropout"), "requires_grad",
    lambda d: x0(d).requires_grad,
    """
    torch.tensor([1.5], requires_grad=True).bernoulli(0.0).requires_grad
    """, B["rg-lost"] + " (bernoulli of a tensor that requires grad: PyTorch's result requires grad, with a "
                        "zero gradient)", SA)

# ---- tapegrad/nn/functional.py
known_class(
    "functional-int-inputs", ELEMENTWISE_F | LOSS_F | NORM_F | SOFTMAX | F("conv2d", "bilinear", "linear") | {
        "conv2d", "selu", "celu"}, RAISES_THERE,
    lambda d: torch_says(d, "not implemented for", "Integral inputs not supported", "Bool inputs not supported",
                         "could not infer output dtype", "Expected a floating point"),
    """
    torch.nn.functional.gelu(torch.tensor([1, -2]))
    """, B["refuse"] + " (activations, losses, norms, softmax and convolutions of integer and bool tensors, "
                       "which PyTorch does not implement)", NF)
known_class(
    "softmax-empty", SOFTMAX, {RAISES_HERE, "dtype"},
    lambda d: empty(x0(d)),
    """
    torch.softmax(torch.tensor([], dtype=torch.int64), 0)
    """, B["promotion"] + " (softmax of empty (int) tensors: a crash, or the default float dtype where PyTorch "
                          "keeps the input's or dtype=)", NF)
known_class(
    "softmax-dim-required", SOFTMAX, RAISES_THERE,
    lambda d: torch_says(d, "missing 1 required positional arguments: \"dim\""),
    """
    torch.tensor([1.0]).softmax()
    """, B["values"] + " (Tensor.softmax()/log_softmax() without dim)", NF)
known_class(
    "pad-modes", F("pad"), {RAISES_HERE, RAISES_THERE},
    lambda d: (kw(d, "mode") or "constant") != "constant" and (
        torch_says(d, "Padding size", "Only 2D, 3D, 4D, 5D", "padding", "Padding", "(batch mode) tensor")
        or here_says(d, "padding")),
    """
    torch.nn.functional.pad(torch.tensor([1.0, 2.0]), (1, 0), mode="circular")
    """, B["refuse"] + " (F.pad in reflect/replicate/circular mode: PyTorch wants a batch dim and pads at most "
                       "the last 3 dims, and accepts negative pads)", NF)
known_class(
    "norm-layers-numerics", NORM_F, {"nan", "inf", "value", "signed-zero", "grad-nan", "grad-value", "grad-inf"}
    | STATE,
    lambda d: any_in(d, lambda t: nonfinite(t) or big(t) or large(t)),
    """
    torch.nn.functional.group_norm(torch.tensor([[[1.0], [2.0]]]), 1, weight=torch.tensor([float("inf"), 1.0]))
    """, B["new"] + ": layer_norm/group_norm/batch_norm/cosine_similarity/normalize at non-finite or extreme "
                    "values: PyTorch's fused scale-and-shift (and one-pass variance) give NaN where tapegrad "
                    "gives inf or a finite value; with large values PyTorch's one-pass float32 variance loses every "
                    "digit", NF)
known_class(
    "norm-checks-batch", F("group_norm", "batch_norm"), RAISES_THERE,
    lambda d: torch_says(d, "Expected more than 1 value per channel"),
    """
    torch.nn.functional.group_norm(torch.tensor([[[1.0], [2.0]]]), 2)
    """, B["refuse"] + " (group_norm/batch_norm in training with one value per group or channel)", NF)
known_class(
    "cosine-0d", F("cosine_similarity") | {"cosine_similarity"}, {"nan", "value", "inf"},
    lambda d: any(zero_d(t) for t in d.inputs),
    """
    torch.cosine_similarity(torch.tensor(1.1), torch.tensor(0.0, dtype=torch.float16), dim=0)
    """, B["new"] + ": cosine_similarity of 0-d tensors", NF)
known_class(
    "cosine-dtype", F("cosine_similarity") | {"cosine_similarity"}, {"dtype", "value", "nan"},
    lambda d: True,
    """
    torch.cosine_similarity(torch.tensor([[0.5, 1.0]], dtype=torch.float16), torch.tensor([[1, 2]])).dtype
    """, B["promotion"] + " (cosine_similarity of float16 with int/bool or 0-d operands; with a float64 "
                          "operand PyTorch's float64 result has float16 precision)", NF)
known_class(
    "loss-checks", LOSS_F | F("one_hot", "embedding"), RAISES_THERE,
    lambda d: torch_says(d, "all elements of target", "expected target dtype", "Can not infer total number",
                         "Expected floating point type for target", "between 0 and 1",
                         "Dimension size must be non-negative"),
    """
    torch.nn.functional.binary_cross_entropy(torch.tensor([0.5]), torch.tensor([2.0]))
    """, B["refuse"] + " (binary_cross_entropy with targets outside [0, 1], cross_entropy/nll_loss with int32 "
                       "targets, one_hot of an empty tensor without num_classes)", NF)
known_class(
    "hardtanh-int-bounds", F("hardtanh", "relu6"), RAISES_THERE,
    lambda d: torch_says(d, "cannot be converted to type"),
    """
    torch.nn.functional.hardtanh(torch.tensor([1, 2]), min_val=-float("inf"))
    """, B["refuse"] + " (hardtanh of an int tensor with infinite bounds)", NF)
known_class(
    "functional-signed-zero", ELEMENTWISE_F | F("relu_") | fam("relu") | LOSS_F | NORM_F | F("linear") | {
        "relu_", "selu", "celu"}, "signed-zero",
    lambda d: True,
    """
    torch.nn.functional.relu(torch.tensor([-0.0]))
    """, B["edges"] + " (signs of zero: relu/relu_/elu/selu keep -0.0 (relu is clamp_min(x, 0) in PyTorch), "
                      "logsigmoid(inf) is +0, losses and norms sum from +0)", NF)
known_class(
    "relu-nan-grad", fam("relu") | F("relu", "relu_", "relu6", "hardtanh", "hardswish", "hardsigmoid") | {"relu_"},
    {"grad-value", "grad-nan"},
    lambda d: any_in(d, lambda t: nonfinite(t) or (isf(t) and t.numel() > 0 and bool(
        torch.isin(t.detach(), torch.tensor([0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5, 2.0, -2.5], dtype=t.dtype)).any()))),
    """
    x = torch.tensor(float("nan"), requires_grad=True)
    x.relu().backward()
    x.grad
    """, B["edges"] + " (gradients of relu/relu_/relu6/hardtanh/hardswish at NaN and at the kinks (0, ±1, ±3, 6 "
                      "and the bounds the generator draws): PyTorch lets the gradient through at NaN and picks the "
                      "other side of each kink)", NF)
known_class(
    "selu-celu-inplace-kw", {"selu", "celu", "max_pool2d", "avg_pool2d"}, RAISES_THERE,
    lambda d: torch_says(d, "unexpected keyword argument"),
    """
    torch.selu(torch.tensor([1.0]), inplace=True)
    """, B["values"] + " (torch.selu/celu take no inplace=, torch.max_pool2d no return_indices=: "
                       "the top-level names here are nn.functional's)", NF)

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
    "functional-checks", F("cross_entropy", "hardtanh", "relu6"), RAISES_THERE,
    lambda d: torch_says(d, "ignore_index is not supported for floating point target",
                         "cannot do hardtanh on an unsigned type"),
    """
    torch.nn.functional.hardtanh(torch.tensor([5, 2], dtype=torch.uint8))
    """, B["refuse"] + " (cross_entropy with class-probability targets and ignore_index; hardtanh of uint8 with "
                       "negative limits)", NF)
known_class(
    "loss-grad-edges", LOSS_F, {"grad-nan", "grad-inf", "grad-value"},
    lambda d: any_in(d, lambda t: nonfinite(t) or has_zero(t) or bool(((t == 1) if isf(t) else t).any())),
    """
    x = torch.tensor([-float("inf")], requires_grad=True)
    torch.nn.functional.l1_loss(x, x).backward()
    x.grad
    """, B["edges"] + " (loss gradients at NaN/inf and at 0/1: l1_loss's sign(NaN) is 0 in PyTorch, "
                      "binary_cross_entropy's gradient w.r.t. the target at 0 and 1 is infinite (not clamped at "
                      "-100), kl_div at 0 and inf)", NF)
known_class(
    "nonfinite-products", MATMUL | F("bilinear", "conv2d", "linear") | {"conv2d"}, {"nan", "inf", "value",
                                                                                     "grad-nan", "grad-inf",
                                                                                     "grad-value"},
    lambda d: any_in(d, lambda t: nonfinite(t) or big(t)),
    """
    x = torch.ones(2, 2, 4, 1)
    w = torch.tensor([[[[inf, -inf], [0.0, inf]], [[-2.5, -3.0], [-3.0, inf]]],
                      [[[-inf, -3.0], [-inf, 3.0]], [[0.0, 1.5], [-inf, 1.0]]]])
    torch.nn.functional.conv2d(x, w, padding="same", dilation=2)
    """, "bilinear/conv2d (and their gradients) with inf or values whose products overflow: a different order "
         "of products gives inf * 0 = NaN in other places; PyTorch's dilated conv2d skips taps that fall in the "
         "padding for a batch of 2 but not of 1 (NaN there)", NF, status="pytorch-bug")

known_class(
    "softmax-int-dtype", SOFTMAX, {"value", "nan", "inf"},
    lambda d: not isf(x0(d)) and kw(d, "dtype") is not None,
    """
    torch.nn.functional.softmin(torch.tensor([2, -2147483648], dtype=torch.int32), 0, dtype=torch.float16)
    """, B["promotion"] + " (softmax/softmin(int tensor, dtype=): PyTorch casts to dtype first; here -x "
                          "overflows in the integer dtype)", NF)
known_class(
    "cross-entropy-ignored-nonfinite", F("cross_entropy", "nll_loss"), {"nan", "inf", "value", "grad-nan",
                                                                        "grad-value", "grad-inf"},
    lambda d: nonfinite(x0(d)),
    """
    x = torch.tensor([[[float("inf"), 1.0], [-float("inf"), 1.0]]])
    torch.nn.functional.cross_entropy(x, torch.tensor([[0, 1]]), ignore_index=0)
    """, B["new"] + ": cross_entropy/nll_loss with non-finite logits at ignored targets: their NaN reaches the "
                    "mean here (0 * NaN)", NF)
known_class(
    "loss-int-dtype", LOSS_F, "dtype",
    lambda d: not isf(x0(d)),
    """
    torch.nn.functional.l1_loss(torch.tensor(0), torch.tensor(3), reduction="none").dtype
    """, B["promotion"] + " (l1_loss of integer tensors with reduction='none' stays integer in PyTorch)", NF)
known_class(
    "pad-negative-empty", F("pad"), RAISES_THERE,
    lambda d: torch_says(d, "narrow(): length must be non-negative"),
    """
    torch.nn.functional.pad(torch.zeros(0), (2, -1))
    """, B["refuse"] + " (a negative pad larger than the padded size)", NF)

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
    "nll-all-ignored", F("nll_loss", "cross_entropy"), GRADS | {"nan", "value"},
    all_ignored,
    """
    x = torch.tensor([1.3, 0.85], requires_grad=True)
    torch.nn.functional.nll_loss(x, torch.tensor(-100)).backward()
    x.grad
    """, B["edges"] + " (nll_loss/cross_entropy whose targets are all ignored (or of total weight 0): the loss is "
                      "0/0 = NaN in both, but PyTorch's gradient is 0, tapegrad's NaN)", NF)
known_class(
    "activation-grad-nonfinite", ELEMENTWISE_F | {"selu", "celu"}, GRADS,
    lambda d: any_in(d, nonfinite),
    """
    x = torch.tensor([float("nan"), -float("inf"), float("inf"), 1.0], requires_grad=True)
    torch.nn.functional.elu(x).sum().backward()
    x.grad
    """, B["edges"] + " (activation gradients at NaN and inf: elu/selu/celu'(NaN) is the positive side's slope in "
                      "PyTorch (NaN here); softsign'(±inf) is NaN in PyTorch (0 here))", NF)
known_class(
    "softmax-dtype-grad", SOFTMAX, GRADS,
    lambda d: kw(d, "dtype") is not None,
    """
    x = torch.tensor([-1.9, 0.85], dtype=torch.float64, requires_grad=True)
    (torch.nn.functional.softmin(x, 0, dtype=torch.float16) * torch.tensor([-2.0, 1.25])).sum().backward()
    x.grad
    """, B["new"] + ": the gradient of softmax/softmin(x, dtype=lower) is computed from the rounded result in the "
                    "lower dtype here (PyTorch's differs by 2e-3 relative for float16)", NF)

known_class(
    "activation-overflow", ELEMENTWISE_F | {"selu", "celu"}, {"inf", "value", "nan"},
    lambda d: any_in(d, big),
    """
    torch.nn.functional.gelu(torch.tensor([3.0, 3e38, -1.0]))
    """, "gelu and friends at float32 values near the maximum: PyTorch's intermediate x * (1 + erf) overflows "
         "to inf, tapegrad's is finite", NF, status="by-design")

# ---- tapegrad/creation.py
known_class(
    "tensor-of-tensors", {"tensor", "Tensor.new_tensor"}, {RAISES_THERE, RAISES_HERE, "shape", "dtype"},
    lambda d: any(isinstance(a, list) and any(isinstance(x, core.Ref) for x in a) for a in d.call.args),
    """
    torch.tensor([torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])])
    """, B["refuse"] + " (tensor([t, t]) of multi-element tensors is stacked here; PyTorch converts each "
                       "element with item(), so only one-element tensors are allowed, and their dtype is kept)", CR)
known_class(
    "creation-checks", {"full", "full_like", "Tensor.new_full", "linspace", "arange", "tensor", "zeros", "ones",
                        "empty"}, {RAISES_THERE, "value", "shape"},
    lambda d: d.kind != "value" or kw(d, "dtype") is not None,
    """
    torch.arange(0, 2.5, 0.5, dtype=torch.int16)
    """, B["new"] + ": creation with an integer dtype and float arguments (arange casts start/end/step to the "
                    "dtype first in PyTorch) or values out of the dtype's range", CR)
known_class(
    "as-tensor-requires-grad", {"as_tensor"}, "requires_grad",
    lambda d: x0(d).requires_grad,
    """
    torch.as_tensor(torch.tensor([1.0], requires_grad=True), dtype=torch.float64).requires_grad
    """, B["rg-lost"] + " (as_tensor(t, dtype=) of a tensor that requires grad: PyTorch's is t.to(dtype))", CR)


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
    """Each KNOWN entry's repro still differs from PyTorch; if not, the class is fixed: delete the entry."""
    core.load_torch()
    here, there = run_repro(entry.repro, tg), run_repro(entry.repro, torch)
    if here[0] != there[0]:
        return
    if here[0] == "raised":
        pytest.fail(f"KNOWN[{entry.key}]: both libraries raise now ({here[1]!r} / {there[1]!r}); fix the repro")
    assert core.compare_values(here[1], there[1], "result"), (
        f"KNOWN[{entry.key}] agrees with PyTorch now: the class is fixed, delete its entry")


def test_known_keys_are_unique():
    keys = [k.key for k in KNOWN]
    assert len(keys) == len(set(keys))


# names the op table does not generate, and why
NOT_GENERATED = {
    "add_at": "tapegrad only (the functional scatter-add its gradients use); PyTorch has no such function",
    "return_types": "a namespace, not an op",
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
             "cpu", "cuda", "numpy", "element_size", "is_contiguous", "nelement", "ndimension", "retains_grad"}
    missing = sorted(n for n in methods - plain if "Tensor." + n not in generated)
    assert not missing, f"Tensor methods not generated by tests/differential/ops.py: {missing}"


def test_driver_runs(tmp_path):
    from differential import driver

    out = tmp_path / "d.json"
    driver.main(["--seeds", "0:5", "--out", str(out), "--no-shrink"])
    assert out.exists()
