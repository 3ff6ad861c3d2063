"""Reading a recorded tape for the instruments: walk it, name its nodes, group them by module, summarize arrays.

Shared by ``draw_graph``, ``BackwardTrace``, ``precision_report`` and ``memory_ledger``, so a node has the same
name and the same module in every picture and table.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._tensor import Tensor
from ..autograd.engine import parents_of

OUTSIDE = "(outside modules)"  # the group of ops that use no parameter


def walk(root, max_nodes=None, op="walk"):
    """Every tensor the graph of ``root`` reaches (``root`` first), and its edges (parent id, child id)."""
    nodes, edges = {id(root): root}, []
    stack = [root]
    while stack:
        t = stack.pop()
        for p in parents_of(t):
            edges.append((id(p), id(t)))
            if id(p) not in nodes:
                nodes[id(p)] = p
                if max_nodes is not None and len(nodes) > max_nodes:
                    raise ValueError(f"{op}: the graph has more than {max_nodes} nodes; pass max_nodes= to draw it")
                stack.append(p)
    return nodes, edges


def forward_order(nodes, edges):
    """The ids of ``nodes`` with every node after its inputs (ties in the order ``nodes`` lists them)."""
    parents = {}
    for a, b in edges:
        parents.setdefault(b, []).append(a)
    order, done = [], set()
    for start in nodes:
        stack = [(start, False)]
        while stack:
            n, expanded = stack.pop()
            if expanded:
                if n not in done:
                    done.add(n)
                    order.append(n)
                continue
            if n in done:
                continue
            stack.append((n, True))
            stack.extend((p, False) for p in reversed(parents.get(n, ())) if p not in done)
    return order


def named(params=None, names=None):
    """(id -> name, [(name, tensor)] of the parameters, whether they came from a Module) from the arguments the
    instruments take: ``params`` a Module or (name, tensor) pairs / a dict; ``names`` a dict of labels only."""
    from_module = hasattr(params, "named_parameters")
    if from_module:
        params = params.named_parameters()
    elif isinstance(params, dict):
        params = params.items()
    pairs = list(params or ())
    for name, t in pairs:
        if not isinstance(t, Tensor):
            raise TypeError(f"params: expected (name, Tensor) pairs, got {type(t).__name__} for {name!r}")
    labels = {}
    for name, t in (names or {}).items():
        if not isinstance(t, Tensor):
            raise TypeError(f"names: expected a dict of name -> Tensor, got {type(t).__name__} for {name!r}")
        labels[id(t)] = name
    for name, t in pairs:
        labels.setdefault(id(t), name)
    return labels, pairs, from_module


def module_of_param(name, from_module):
    """The module a parameter name belongs to: ``'0.weight'`` -> ``'0'``; a bare name is the model's own
    (``'(model)'``) when it came from a Module, and in no module when given by hand."""
    if "." in name:
        return name.rsplit(".", 1)[0]
    return "(model)" if from_module else None


def module_groups(nodes, edges, pairs, from_module):
    """id -> module name for the parameters and for the ops that consume them (each op in the first module that
    claims it, in parameter order): the grouping ``draw_graph`` draws as boxes. Other nodes are in no group."""
    consumers = {}
    for a, b in edges:
        consumers.setdefault(a, []).append(b)
    group = {}
    for name, t in pairs:
        module = module_of_param(name, from_module)
        if module is None or id(t) not in nodes:
            continue
        group.setdefault(id(t), module)
        for op in consumers.get(id(t), ()):
            if nodes[op]._backward is not None and op not in group:
                group[op] = module
    return group


def short_name(t):
    """A node's op in a few letters (``MulBackward0`` -> ``Mul``); a leaf is ``leaf`` or ``input``."""
    if t._backward is None:
        return "leaf" if t._requires_grad else "input"
    return t._name.removesuffix("0").removesuffix("Backward")


def rule_name(t):
    """PyTorch's name of what backward runs for ``t``: its rule (``MulBackward0``) or, for a leaf that requires
    grad, ``AccumulateGrad``."""
    return t._name if t._backward is not None else "AccumulateGrad"


def shape_text(shape):
    return "×".join(str(s) for s in shape) or "scalar"


class Summary(NamedTuple):
    """What an array looks like at a glance: its shape and dtype; the norm, mean and largest magnitude of its
    finite entries; how many entries are NaN or infinite. ``value`` is the number itself for one element,
    ``entries`` the numbers for two to four (a summary prints them instead of the statistics).

    >>> from tapegrad.viz import Summary
    >>> import numpy as np
    >>> s = Summary.of(np.array([3.0, -4.0]))
    >>> s.norm, s.mean, s.max_abs
    (5.0, -0.5, 4.0)
    >>> str(s), str(Summary.of(np.arange(6.0)))
    ('[3, -4]', 'mean 2.5, max|x| 5')
    """

    shape: tuple
    dtype: str
    norm: float
    mean: float
    max_abs: float
    nan: int
    inf: int
    value: float | None
    entries: tuple | None = None

    @classmethod
    def of(cls, array):
        """The summary of an array (or a Tensor, or a number)."""
        if isinstance(array, Tensor):
            array = array._data
        a = np.asarray(array)
        finite = np.isfinite(a) if a.dtype.kind in "fc" else np.ones(a.shape, bool)
        nan = int(np.isnan(a).sum()) if a.dtype.kind in "fc" else 0
        inf = int(a.size - finite.sum() - nan)
        good = a[finite].astype(np.float64) if a.size else np.zeros(0)
        if good.size:
            norm, mean, max_abs = float(np.sqrt((good * good).sum())), float(good.mean()), float(np.abs(good).max())
        else:
            norm = mean = max_abs = 0.0
        value = float(a.reshape(-1)[0]) if a.size == 1 else None
        entries = tuple(float(v) for v in a.reshape(-1)) if 1 < a.size <= 4 else None
        return cls(tuple(a.shape), str(a.dtype), norm, mean, max_abs, nan, inf, value, entries)

    @property
    def finite(self):
        return self.nan == 0 and self.inf == 0

    def flags(self):
        """``'2 NaN, 1 inf'`` when some entries are not finite, else ``''``."""
        parts = ([f"{self.nan} NaN"] if self.nan else []) + ([f"{self.inf} inf"] if self.inf else [])
        return ", ".join(parts)

    def short(self):
        """The number itself for one element, else the norm written ``‖…‖``; non-finite entries flagged."""
        if self.value is not None:
            return f"{self.value:.4g}"
        return f"‖{self.norm:.3g}‖" + (f" ({self.flags()})" if not self.finite else "")

    def __str__(self):
        if self.value is not None:
            return f"{self.value:.4g}"
        if self.entries is not None:
            return "[" + ", ".join(f"{v:.4g}" for v in self.entries) + "]"
        text = f"mean {self.mean:.3g}, max|x| {self.max_abs:.3g}"
        return text + (f" ({self.flags()})" if not self.finite else "")
