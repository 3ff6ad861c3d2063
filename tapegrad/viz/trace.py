"""BackwardTrace: watch a backward pass node by node (which rule ran, what it received, what it sent).

    with BackwardTrace(params=model) as trace:
        loss.backward()
    print(trace)                      # one row per node, in the order the engine ran them
    trace.plot("grads.png")           # the gradient norm of each module's parameters, as bars

The engine calls the trace for every node it processes (``tapegrad._state.observers``); outside the ``with``
block nothing is watched and the engine does no extra work.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _state
from ..autograd.engine import parents_of
from . import _tape
from ._figures import _pyplot, _save_figure
from ._tape import Summary

__all__ = ["BackwardTrace", "Step", "LayerGrads", "plot_layer_grads"]


class Step:
    """One node processed by a backward pass: ``index`` (1 for the first), ``node`` (the tensor), ``rule``
    (``MulBackward0``, or ``AccumulateGrad`` for a leaf), ``parents`` (its inputs), ``received`` (Summary of the
    gradient it received) and ``sent`` (a Summary per input, None where none was sent). With
    ``keep_grads=True`` also ``received_grad`` and ``sent_grads``: copies of the arrays themselves."""

    __slots__ = ("index", "node", "parents", "received", "sent", "received_grad", "sent_grads")

    def __init__(self, index, node, parents, received, sent, received_grad=None, sent_grads=None):
        self.index, self.node, self.parents = index, node, parents
        self.received, self.sent = received, sent
        self.received_grad, self.sent_grads = received_grad, sent_grads

    @property
    def rule(self):
        return _tape.rule_name(self.node)

    def __repr__(self):
        return f"Step({self.index}, {self.rule}, received {self.received.short()})"


class LayerGrads(NamedTuple):
    """One module's gradients in a backward pass: the norm of its parameters' gradients (all of them together)
    and of the gradient its output received (NaN when the trace saw none)."""

    module: str
    params: float
    output: float


def _array(x):
    data = getattr(x, "_data", x)  # a Tensor under create_graph=True
    return np.asarray(data)


class BackwardTrace:
    """BackwardTrace(params=None, names=None, keep_grads=False): records what a backward pass does, node by node.

    Use it as a context manager around ``backward()`` (or ``autograd.grad``). Each node the engine processes
    becomes a :class:`Step`, in the order the engine ran them: which rule ran, a summary of the gradient it
    received, and of the gradient it sent to each input (before the engine sums a broadcast gradient back to the
    input's shape). ``params`` (a Module or (name, tensor) pairs) names parameters and groups nodes by module as
    ``draw_graph`` does; ``names`` (a dict name -> tensor) names any other node; ``keep_grads=True`` also keeps
    copies of the gradient arrays. The trace keeps the nodes it saw alive until it is dropped.

    >>> import tapegrad as tg
    >>> from tapegrad.viz import BackwardTrace
    >>> x, w = tg.tensor(2.0, requires_grad=True), tg.tensor(-3.0, requires_grad=True)
    >>> with BackwardTrace(names={"x": x, "w": w}) as trace:
    ...     (x * w).backward()
    >>> [step.rule for step in trace.steps]
    ['MulBackward0', 'AccumulateGrad', 'AccumulateGrad']
    >>> trace.grad(x).value, trace.steps[0].sent[0].value   # x received w; Mul sent w to x
    (-3.0, -3.0)
    """

    def __init__(self, params=None, names=None, keep_grads=False):
        self.steps: list[Step] = []
        self.keep_grads = keep_grads
        self._labels, self._pairs, self._from_module = _tape.named(params, names)
        self._last = {}  # id(node) -> its last step
        self._observer = None
        self._counts = (0, {})  # (number of steps, op name -> how many distinct nodes have it)

    # ------------------------------------------------------------------ recording
    def __enter__(self):
        if self._observer is not None:
            raise RuntimeError("BackwardTrace: this trace is already recording (a with block cannot be nested in "
                               "itself)")
        self._observer = self._observe
        _state.observers.append(self._observer)
        return self

    def __exit__(self, *exc):
        _state.observers.remove(self._observer)
        self._observer = None
        return False

    def _observe(self, node, g, grads):
        parents = parents_of(node) if node._backward is not None else ()
        g = _array(g)
        sent = tuple(None if pg is None else _array(pg) for pg in grads)
        step = Step(len(self.steps) + 1, node, parents, Summary.of(g),
                    tuple(None if s is None else Summary.of(s) for s in sent))
        if self.keep_grads:
            step.received_grad = g.copy()
            step.sent_grads = tuple(None if s is None else s.copy() for s in sent)
        self.steps.append(step)
        self._last[id(node)] = step

    # ------------------------------------------------------------------ reading
    def step_of(self, tensor):
        """The (last) step that processed ``tensor``, or None if this trace never saw it."""
        return self._last.get(id(tensor))

    def grad(self, tensor):
        """The Summary of the gradient ``tensor`` received in the traced backward (None if it received none)."""
        step = self._last.get(id(tensor))
        return None if step is None else step.received

    def label(self, tensor):
        """The name this trace gives a node: its name from ``params``/``names``, else its op (``Mul``), with its
        step number when several nodes of the trace share that op."""
        name = self._labels.get(id(tensor))
        if name is not None:
            return name
        short = _tape.short_name(tensor)
        step = self._last.get(id(tensor))
        if step is not None and self._op_counts().get(short, 0) > 1:
            return f"{short}#{step.index}"
        return short

    def _op_counts(self):
        if self._counts[0] == len(self.steps):
            return self._counts[1]
        counts = {}
        seen = set()
        for s in self.steps:
            if id(s.node) not in seen and id(s.node) not in self._labels:
                seen.add(id(s.node))
                short = _tape.short_name(s.node)
                counts[short] = counts.get(short, 0) + 1
        self._counts = (len(self.steps), counts)
        return counts

    def table(self):
        """The steps as a text table: step, node, rule, the gradient received and what was sent to each input
        (the number itself for one element, else its norm ``‖g‖``)."""
        rows = [("step", "node", "rule", "received", "sent to its inputs")]
        for s in self.steps:
            sent = []
            for p, summary in zip(s.parents, s.sent):
                if summary is None:
                    continue
                text = f"{self.label(p)}: {summary.short()}"
                if summary.shape != tuple(p._data.shape):
                    text += f" ({_tape.shape_text(summary.shape)}, summed to {_tape.shape_text(p._data.shape)})"
                sent.append(text)
            rows.append((str(s.index), self.label(s.node), s.rule, s.received.short(), ", ".join(sent)))
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        lines = []
        for r in rows:
            cells = [r[0].rjust(widths[0])] + [r[k].ljust(widths[k]) for k in (1, 2, 3)] + [r[4]]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<BackwardTrace: {len(self.steps)} steps>"

    # ------------------------------------------------------------------ per module
    def groups(self):
        """id(node) -> module, for the nodes this trace saw (the grouping ``draw_graph`` draws)."""
        nodes = {id(s.node): s.node for s in self.steps}
        for s in self.steps:
            for p in s.parents:
                nodes.setdefault(id(p), p)
        edges = [(id(p), id(s.node)) for s in self.steps for p in s.parents]
        return _tape.module_groups(nodes, edges, self._pairs, self._from_module)

    def layers(self):
        """[LayerGrads(module, params, output)] in the order of ``params``: the norm of each module's parameter
        gradients together, and of the gradient at its output (received by its first op to run backward)."""
        if not self._pairs:
            raise ValueError("BackwardTrace.layers: the trace was made without params=, so it cannot tell which "
                             "nodes belong to which module; pass params=model")
        group = self.groups()
        param_sq, outputs, order = {}, {}, []
        for name, t in self._pairs:
            module = _tape.module_of_param(name, self._from_module)
            step = self._last.get(id(t))
            if module is None or step is None:
                continue
            if module not in param_sq:
                order.append(module)
                param_sq[module] = 0.0
            param_sq[module] += step.received.norm ** 2 if step.received.finite else np.nan
        for s in self.steps:  # the engine reaches a module's output before its other ops
            module = group.get(id(s.node))
            if module is not None and s.node._backward is not None and module not in outputs:
                outputs[module] = s.received.norm if s.received.finite else np.nan
        return [LayerGrads(m, float(np.sqrt(param_sq[m])), float(outputs.get(m, np.nan))) for m in order]

    def plot(self, path="gradients.png", which="both", title=None, lines=None):
        """Bar chart of :meth:`layers` (log scale): ``which`` is ``'params'``, ``'outputs'`` or ``'both'``;
        ``lines`` a dict label -> value of horizontal lines to draw. Returns the path written."""
        return plot_layer_grads(self, path, which=which, title=title, lines=lines)


def plot_layer_grads(traces, path="gradients.png", which="params", title=None, lines=None):
    """plot_layer_grads(traces, path, which='params', title=None, lines=None): each module's gradient norm as a
    bar, on a log scale.

    ``traces`` is a BackwardTrace or a dict label -> BackwardTrace (one bar of each per module, to compare
    networks of the same layout); ``which`` picks the parameters' gradient norm (``'params'``), the norm of the
    gradient at each module's output (``'outputs'``) or, for one trace, both. A norm of exactly 0 is drawn as a
    short grey bar marked 0, a non-finite one marked NaN. ``lines`` (a dict label -> value) adds dashed
    horizontal lines, such as the smallest normal float32. Returns the path written.
    """
    if isinstance(traces, BackwardTrace):
        series = {"parameters": (traces, "params"), "output": (traces, "outputs")}
        series = series if which == "both" else {"": (traces, which)}
    elif isinstance(traces, dict) and traces and all(isinstance(t, BackwardTrace) for t in traces.values()):
        if which == "both":
            raise ValueError("plot_layer_grads: which='both' needs a single trace; pick 'params' or 'outputs'")
        series = {label: (t, which) for label, t in traces.items()}
    else:
        raise TypeError(f"plot_layer_grads: expected a BackwardTrace or a non-empty dict of them, got "
                        f"{type(traces).__name__}")
    if which not in ("params", "outputs", "both"):
        raise ValueError(f"plot_layer_grads: which must be 'params', 'outputs' or 'both', got {which!r}")
    values, modules = {}, []
    for label, (trace, kind) in series.items():
        layers = trace.layers()
        values[label] = {layer.module: (layer.params if kind == "params" else layer.output) for layer in layers}
        modules.extend(layer.module for layer in layers if layer.module not in modules)
    finite = [v for d in values.values() for v in d.values() if np.isfinite(v) and v > 0]
    floor = min(finite) / 10 if finite else 1e-3
    plt = _pyplot("plot_layer_grads")
    bars = len(modules) * len(series)
    fig, ax = plt.subplots(figsize=(min(11.0, max(6.0, 0.12 * bars + 2)), 4))
    width = 0.8 / len(series)
    x = np.arange(len(modules))
    for k, (label, d) in enumerate(values.items()):
        heights = np.array([d.get(m, np.nan) for m in modules], dtype=float)
        pos = x + (k - (len(series) - 1) / 2) * width
        ok = np.isfinite(heights) & (heights > 0)
        ax.bar(pos[ok], heights[ok], width, label=label or None)
        for p, h in zip(pos[~ok], heights[~ok]):
            ax.bar([p], [floor], width, color="lightgray")
            ax.text(p, floor, "0" if h == 0 else "NaN", ha="center", va="bottom", fontsize=7)
    for k, (label, value) in enumerate((lines or {}).items()):
        ax.axhline(value, ls="--", lw=1, color=f"C{len(series) + k}", label=label)
    ax.set_yscale("log")
    step = max(1, len(modules) // 25)  # at most about 25 labels
    ax.set_xticks(x[::step])
    ax.set_xticklabels(modules[::step], rotation=90 if len(modules) > 12 else 0, fontsize=8)
    ax.set_xlabel("module (input side left, loss side right)")
    names = {"params": "norm of the parameters' gradient", "outputs": "norm of the gradient at the output",
             "both": "gradient norm"}
    ax.set_ylabel(names[which] + " (log)")
    if len(series) > 1 or which == "both" or lines:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)
    return path
