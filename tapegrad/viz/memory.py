"""memory_ledger: the bytes a recorded graph keeps for its backward pass, per node and per module.

A node keeps for backward the arrays its rule reads (its output and the inputs ``rule_reads`` names, as PyTorch
saves only what a formula needs) and the arrays its rule captured when the forward ran (masks, softmax
probabilities, index arrays). The ledger counts each array once: arrays that share memory (a view and its base)
are one buffer, charged to the last node in forward order that keeps it (a ReLU's output that the next layer
also keeps as its input is charged to that layer). Parameters are listed apart: the model holds them anyway, so
the tape costs nothing for them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._tensor import Tensor
from ..autograd.engine import parents_of, rule_reads
from . import _tape

__all__ = ["memory_ledger", "MemoryLedger", "LedgerRow"]


class LedgerRow(NamedTuple):
    """One node that keeps arrays: ``order``, its place in forward order (1 = first), ``node`` (its name),
    ``rule``, ``module`` (or ``'(outside modules)'``), ``bytes`` charged to it and ``arrays``: (what, shape, dtype,
    bytes) for each array it keeps, ``what`` being ``'output'``, ``'input k'`` or ``'captured'`` (0 bytes when
    the array is a parameter's or is charged to a later node that keeps it too)."""

    order: int
    node: str
    rule: str
    module: str
    bytes: int
    arrays: tuple


class MemoryLedger:
    """The result of :func:`memory_ledger`: ``rows`` (LedgerRow per op node, forward order), ``by_module`` (dict
    module -> bytes, in model order), ``saved`` (bytes kept for backward, parameters excluded), ``parameters``
    (the parameters' bytes), ``held`` (bytes of every array the graph references, parameters excluded: a
    tapegrad node *is* its output tensor, so the graph holds every node's value, not only those rules read)."""

    def __init__(self, rows, by_module, saved, parameters, held):
        self.rows, self.by_module = rows, by_module
        self.saved, self.parameters, self.held = saved, parameters, held

    def table(self):
        """Bytes per module, then the totals."""
        lines = [f"{'module':<20} {'saved for backward':>18}"]
        for module, n in self.by_module.items():
            lines.append(f"{module:<20} {_size(n):>18}")
        lines.append(f"{'total':<20} {_size(self.saved):>18}")
        ratio = f" ({self.saved / self.parameters:.1f}x the parameters)" if self.parameters else ""
        lines.append(f"parameters: {_size(self.parameters)}; saved for backward: {_size(self.saved)}{ratio}")
        lines.append(f"held by the graph (every node's value): {_size(self.held)}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<MemoryLedger: {_size(self.saved)} saved for backward, parameters {_size(self.parameters)}>"


def _size(n):
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _buffer(a):
    """The array that owns ``a``'s memory (a view's base, followed to the end)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _captured(rule, depth=0, seen=None):
    """The arrays a rule's closure holds: numpy arrays, tensors' arrays, those inside tuples and lists, inside
    the closures of functions it holds, and tensors a custom Function saved with ``ctx.save_for_backward``."""
    seen = set() if seen is None else seen
    rule = getattr(rule, "legacy", rule)
    if id(rule) in seen or depth > 3:
        return []
    seen.add(id(rule))
    found = []

    def take(value, level):
        if isinstance(value, np.ndarray):
            if value.dtype != object:
                found.append(value)
        elif isinstance(value, Tensor):
            found.append(value._data)
        elif isinstance(value, (tuple, list)) and level < 2:
            for v in value:
                take(v, level + 1)
        elif isinstance(value, dict) and level < 2:  # a rule's constants (cross_entropy's ``c``)
            for v in value.values():
                take(v, level + 1)
        elif callable(value) and getattr(value, "__closure__", None):
            found.extend(_captured(value, depth + 1, seen))
        elif hasattr(value, "save_for_backward"):  # a custom Function's ctx
            for v in getattr(value, "_saved", ()):
                take(v, level + 1)

    for cell in getattr(rule, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        take(value, 0)
    return found


def memory_ledger(tensor, params=None, names=None) -> MemoryLedger:
    """memory_ledger(tensor, params=None, names=None) -> MemoryLedger: what the graph of ``tensor`` keeps for
    backward, node by node and summed per module.

    ``params`` (a Module, or (name, tensor) pairs) names the parameters, groups nodes by module as ``draw_graph``
    does (a module's parameters and the ops that consume them; other ops are ``'(outside modules)'``) and gives
    the parameters' bytes to compare with; ``names`` labels other nodes. Print the ledger for a table.

    >>> import tapegrad as tg
    >>> from tapegrad.viz import memory_ledger
    >>> x = tg.ones(1000)                      # 4,000 bytes of float32
    >>> w = tg.ones(1000, requires_grad=True)
    >>> memory_ledger(x * w, params={"w": w}).saved   # Mul keeps x (for w's gradient); w is a parameter
    4000
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"memory_ledger: expected a Tensor, got {type(tensor).__name__}")
    labels, pairs, from_module = _tape.named(params, names)
    nodes, edges = _tape.walk(tensor)
    group = _tape.module_groups(nodes, edges, pairs, from_module)
    param_buffers: dict[int, np.ndarray] = {}
    for _, p in pairs:
        param_buffers.setdefault(id(_buffer(p._data)), _buffer(p._data))
    parameters = sum(b.nbytes for b in param_buffers.values())
    counted = set(param_buffers)
    order = _tape.forward_order(list(nodes), edges)
    ops = [nodes[i] for i in order if nodes[i]._backward is not None]
    counts: dict[str, int] = {}
    for t in ops:
        counts[_tape.short_name(t)] = counts.get(_tape.short_name(t), 0) + 1
    kept_by = []
    last = {}  # buffer id -> index of the last node (forward order) that keeps it
    for k, t in enumerate(ops):
        parents = parents_of(t)
        reads = rule_reads(t._backward, len(parents))
        kept = [("output", t._data)] if reads[0] else []
        kept += [(f"input {i}", p._data) for i, (p, r) in enumerate(zip(parents, reads[1:])) if r]
        kept += [("captured", a) for a in _captured(t._backward)]
        kept_by.append(kept)
        for _, a in kept:
            last[id(_buffer(a))] = k
    rows = []
    for k, (t, kept) in enumerate(zip(ops, kept_by)):
        arrays, total = [], 0
        for what, a in kept:
            buf = _buffer(a)
            charge = 0
            if id(buf) not in counted and last[id(buf)] == k:
                charge = buf.nbytes
                counted.add(id(buf))
            total += charge
            arrays.append((what, tuple(a.shape), str(a.dtype), charge))
        short = _tape.short_name(t)
        name = labels.get(id(t)) or (f"{short}#{k + 1}" if counts[short] > 1 else short)
        rows.append(LedgerRow(k + 1, name, _tape.rule_name(t), group.get(id(t), _tape.OUTSIDE), total,
                              tuple(arrays)))
    modules = []
    if hasattr(params, "named_modules"):
        modules = [name or "(model)" for name, _ in params.named_modules()]
    by_module = {}
    for m in modules:
        by_module[m] = 0
    for r in rows:
        by_module[r.module] = by_module.get(r.module, 0) + r.bytes
    by_module = {m: n for m, n in by_module.items() if n or m in {r.module for r in rows}}
    held_buffers: dict[int, np.ndarray] = {}
    for t in nodes.values():
        held_buffers.setdefault(id(_buffer(t._data)), _buffer(t._data))
        if t._backward is not None:
            for a in _captured(t._backward):
                held_buffers.setdefault(id(_buffer(a)), _buffer(a))
    held = sum(b.nbytes for i, b in held_buffers.items() if i not in param_buffers)
    saved = sum(r.bytes for r in rows)
    return MemoryLedger(rows, by_module, saved, parameters, held)
