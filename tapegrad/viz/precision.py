"""precision_report: run a computation in float32 and in float64 and find the op that loses the precision.

Both runs start from the same values (the inputs rounded to float32 once, which float64 holds exactly), so every
difference between them comes from float32 arithmetic. The two recorded graphs are aligned node by node, and each
node gets the relative error of its float32 value and of its float32 gradient against float64. An error made early
is carried by everything after it, so the report ranks nodes by the digits *lost there*: log10 of how much larger
the error of what the node computed is than the largest error of what it was given (errors below float32's
rounding unit count as that unit, errors above 1 as 1: no digit is left to lose). float32 has about 7.2 digits; an
op that only rounds its result loses almost none.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numpy as np

from .. import dtypes
from .._tensor import Tensor
from ..autograd.engine import grad, parents_of, toposort
from ..creation import ones_like, tensor
from ..random import get_rng_state, set_rng_state
from . import _tape
from .trace import BackwardTrace

__all__ = ["precision_report", "PrecisionReport", "PrecisionRow", "relative_error"]


def relative_error(approx, exact) -> float:
    """relative_error(approx, exact) -> float: ``‖approx - exact‖ / ‖exact‖`` over all entries (0 when both are
    equal, inf when they differ and ``exact`` is 0, or when only one of them is NaN or infinite there).

    >>> from tapegrad.viz import relative_error
    >>> relative_error([0.0, 3.0], [0.0, 4.0])
    0.25
    """
    a = np.asarray(approx, dtype=np.float64)
    e = np.asarray(exact, dtype=np.float64)
    if a.shape != e.shape:
        raise ValueError(f"relative_error: shapes {a.shape} and {e.shape} differ")
    fa, fe = np.isfinite(a), np.isfinite(e)
    bad = ~(fa & fe)
    if bad.any():
        same = (a[bad] == e[bad]) | (np.isnan(a[bad]) & np.isnan(e[bad]))
        if not same.all():
            return math.inf
    ok = ~bad
    num = float(np.linalg.norm(a[ok] - e[ok]))
    if num == 0.0:
        return 0.0
    den = float(np.linalg.norm(e[ok]))
    return num / den if den > 0 else math.inf


class PrecisionRow(NamedTuple):
    """One node of the aligned graphs: ``order``, its place in forward order (1 = first), ``node`` (its name), ``rule``,
    ``module`` (or None), ``shape``; the relative errors of its float32 ``value_error`` and ``grad_error`` (NaN
    when it got no gradient); the decimal digits lost at the node: ``value_lost`` (its value's error against the
    largest error of its inputs' values) and ``grad_lost`` (the largest error of the gradients its rule sent
    against the largest error of what the rule read: the gradient received, its value, its inputs' values), both
    at least 0; ``lost``, the larger of the two."""

    order: int
    node: str
    rule: str
    module: str | None
    shape: tuple
    value_error: float
    grad_error: float
    value_lost: float
    grad_lost: float
    lost: float


class PrecisionReport:
    """The result of :func:`precision_report`: ``rows`` (PrecisionRow, the node that loses most first),
    ``worst`` (the first row), ``output_error`` (relative error of the output) and ``table(limit)``."""

    def __init__(self, rows, output_error, grad_errors):
        self.rows = rows
        self.output_error = output_error
        self.grad_errors = grad_errors  # per input that requires grad: relative error of its gradient

    @property
    def worst(self):
        return self.rows[0] if self.rows else None

    def table(self, limit=10):
        """The ``limit`` worst rows (all with None) as a text table."""
        rows = [("rank", "node", "rule", "shape", "value error", "grad error", "digits lost here")]
        for k, r in enumerate(self.rows[:limit] if limit is not None else self.rows, 1):
            node = r.node if r.module is None else f"{r.node} [{r.module}]"
            rows.append((str(k), node, r.rule, _tape.shape_text(r.shape), _num(r.value_error),
                         _num(r.grad_error), f"{r.lost:.1f}"))
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(cell.rjust(w) if c in (0, 4, 5, 6) else cell.ljust(w)
                           for c, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
        more = len(self.rows) - (limit if limit is not None else len(self.rows))
        if more > 0:
            lines.append(f"... and {more} more nodes")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        worst = self.worst
        return (f"<PrecisionReport: {len(self.rows)} nodes; worst {worst.rule} ({worst.lost:.1f} digits lost)>" if worst
                else "<PrecisionReport: no nodes>")


def _num(x):
    return "-" if isinstance(x, float) and math.isnan(x) else f"{x:.2g}"


def precision_report(fn, *inputs) -> PrecisionReport:
    """precision_report(fn, *inputs) -> PrecisionReport: which op of ``fn`` loses precision in float32.

    Runs ``fn(*inputs)`` twice, in float32 and in float64, from the same values: every floating-point tensor
    input rounded to float32 once (a ``Module`` input is deep-copied and cast, its parameters rounded the same
    way; other inputs are passed as they are; tensors ``fn`` creates itself follow the default dtype, which is
    float64 during the float64 run). Each run also runs backward from the output (from ``output.sum()`` if it
    is not a scalar). The two recorded graphs are aligned node by node (``fn`` must record the same ops both
    times, and draw the same random numbers: the random state is restored before each run), and every node gets
    the relative error of its float32 value and gradient against float64. Rows are sorted by the decimal digits
    lost at the node itself (see PrecisionRow), so the first row is the op to rewrite. Only the tape is compared:
    an op none of whose inputs requires grad is not recorded, and its result counts as a given input.

    >>> import tapegrad as tg
    >>> from tapegrad.viz import precision_report
    >>> x = tg.full((4,), 1e-9, requires_grad=True)
    >>> report = precision_report(lambda x: tg.log(1 + x).sum(), x)
    >>> report.worst.rule, report.worst.value_error    # 1 + 1e-9 is 1 in float32, so log gives 0
    ('LogBackward0', 1.0)
    >>> precision_report(lambda x: tg.log1p(x).sum(), x).worst.value_error < 1e-6
    True
    """
    if not callable(fn):
        raise TypeError(f"precision_report: expected a function first, got {type(fn).__name__}")
    rounded = [_round(k, x) for k, x in enumerate(inputs)]
    state = get_rng_state()
    runs = []
    try:
        for dtype in (dtypes.float32, dtypes.float64):
            set_rng_state(state)
            runs.append(_run(fn, rounded, dtype))
    finally:
        set_rng_state(state)
    return _compare(*runs)


def _round(k, x):
    if isinstance(x, Tensor):
        if x.dtype.kind != "f":
            return ("same", x)
        return ("tensor", x.detach().numpy().astype(np.float32), x.requires_grad)
    if hasattr(x, "named_parameters") and hasattr(x, "double"):
        return ("module", copy.deepcopy(x).float())
    return ("same", x)


def _make(spec, dtype):
    if spec[0] == "tensor":
        return tensor(spec[1].astype(dtype), requires_grad=spec[2])
    if spec[0] == "module":
        m = copy.deepcopy(spec[1])
        return m.double() if dtype == dtypes.float64 else m
    return spec[1]


def _run(fn, rounded, dtype):
    args = [_make(spec, dtype) for spec in rounded]
    previous = dtypes.get_default_dtype()
    dtypes.set_default_dtype(dtype)
    try:
        out = fn(*args)
    finally:
        dtypes.set_default_dtype(previous)
    if not isinstance(out, Tensor) or out.dtype.kind != "f":
        raise TypeError(f"precision_report: fn must return a floating-point Tensor, got "
                        f"{type(out).__name__ if not isinstance(out, Tensor) else out.dtype}")
    labels, pairs = {}, []
    for k, (spec, a) in enumerate(zip(rounded, args)):
        if spec[0] == "tensor":
            labels[id(a)] = f"input {k}"
        elif spec[0] == "module":
            pairs.extend(a.named_parameters())
    if not out.requires_grad:
        raise ValueError("precision_report: the output does not require grad; give fn at least one input that "
                         "requires grad (or a Module with parameters)")
    order = list(reversed(toposort(out)))  # forward order
    leaves = [t for t in order if t._backward is None]
    trace = BackwardTrace(keep_grads=True)
    with trace:
        grad(out, leaves, grad_outputs=None if out.numel() == 1 else ones_like(out), allow_unused=True)
    inputs_with_grad = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
    return {"out": out, "order": order, "trace": trace, "labels": labels, "pairs": pairs, "args": inputs_with_grad}


def _compare(r32, r64):
    n32, n64 = r32["order"], r64["order"]
    for k, (a, b) in enumerate(zip(n32, n64)):
        if _tape.rule_name(a) != _tape.rule_name(b) or len(a._parents) != len(b._parents):
            raise ValueError(f"precision_report: the float32 and float64 runs recorded different graphs: node "
                             f"{k + 1} is {_tape.rule_name(a)} in one and {_tape.rule_name(b)} in the other (fn "
                             "must record the same ops whatever the dtype)")
    if len(n32) != len(n64):
        raise ValueError(f"precision_report: the float32 run recorded {len(n32)} nodes and the float64 run "
                         f"{len(n64)} (fn must record the same ops whatever the dtype)")
    t32, t64 = r32["trace"], r64["trace"]
    nodes = {id(t): t for t in n64}
    edges = [(id(p), id(t)) for t in n64 for p in parents_of(t)]
    for t in n64:
        for p in parents_of(t):
            nodes.setdefault(id(p), p)
    group = _tape.module_groups(nodes, edges, r64["pairs"], True)
    labels = dict(r64["labels"])
    labels.update({id(t): name for name, t in r64["pairs"]})
    value_err: dict[int, float] = {}

    def verr(a, b):
        key = id(b)
        if key not in value_err:
            value_err[key] = relative_error(a._data, b._data)
        return value_err[key]

    counts: dict[str, int] = {}
    for t in n64:
        counts[_tape.short_name(t)] = counts.get(_tape.short_name(t), 0) + 1
    rows = []
    for k, (a, b) in enumerate(zip(n32, n64), 1):
        v = verr(a, b)
        pa, pb = parents_of(a), parents_of(b)
        given = max((verr(x, y) for x, y in zip(pa, pb)), default=0.0)
        sa, sb = t32.step_of(a), t64.step_of(b)
        g = math.nan
        grad_lost = 0.0
        if sa is not None and sb is not None:
            g = relative_error(sa.received_grad, sb.received_grad)
            sent = [relative_error(x, y) for x, y in zip(sa.sent_grads, sb.sent_grads)
                    if x is not None and y is not None]
            if sent:
                grad_lost = _lost(max(sent), max(g, v, given))
        value_lost = _lost(v, given)
        short = _tape.short_name(b)
        name = labels.get(id(b)) or (f"{short}#{k}" if counts[short] > 1 else short)
        rows.append(PrecisionRow(k, name, _tape.rule_name(b), group.get(id(b)), tuple(b._data.shape), v, g,
                                 value_lost, grad_lost, max(value_lost, grad_lost)))
    rows.sort(key=lambda r: (-r.lost, r.order))
    out_err = relative_error(r32["out"]._data, r64["out"]._data)
    grad_errors = []
    for a, b in zip(r32["args"], r64["args"]):
        sa, sb = t32.step_of(a), t64.step_of(b)
        grad_errors.append(math.nan if sa is None or sb is None
                           else relative_error(sa.received_grad, sb.received_grad))
    return PrecisionReport(rows, out_err, grad_errors)


_UNIT = 2.0 ** -24  # float32's rounding unit: the error of a correctly rounded result


def _lost(computed, given):
    """Decimal digits lost from ``given`` (relative error) to ``computed``: log10 of their ratio, errors clamped
    to [rounding unit, 1]."""
    return max(0.0, math.log10(max(_UNIT, min(computed, 1.0)) / max(_UNIT, min(given, 1.0))))
