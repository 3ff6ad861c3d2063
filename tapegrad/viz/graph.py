"""draw_graph: the recorded tape of a computation as a Graphviz digraph.

The DOT source needs nothing but tapegrad. ``Graph.render`` writes SVG/PNG with Graphviz's ``dot`` program when
it is installed, and otherwise draws the same layered graph with matplotlib (PNG), saying how to get ``dot``.
"""

import html
import os
import shutil
import subprocess

import numpy as np

from .._optional import require
from .._tensor import Tensor
from . import _tape
from ._figures import _atomic_write, _save_figure
from .trace import BackwardTrace

_DOT_MISSING = ("the Graphviz 'dot' program is not installed, so the graph was drawn with matplotlib instead; "
                "for Graphviz's layout install it (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
                "graphviz; conda: conda install graphviz)")


class Graph:
    """A drawn computation graph: ``.source`` (DOT), ``.save(path)``, ``.render(path, format='svg'|'png')``."""

    def __init__(self, nodes, edges, clusters):
        self.nodes = nodes  # id -> dict(label=..., kind=...)
        self.edges = edges  # (from_id, to_id): data flows from -> to
        self.clusters = clusters  # module name -> [node ids]

    @property
    def source(self):
        lines = ["digraph tapegrad {", '  rankdir=BT; node [fontname="Helvetica", fontsize=10];']
        clustered = set()
        for i, (module, ids) in enumerate(sorted(self.clusters.items())):
            lines.append(f'  subgraph cluster_{i} {{ label="{_esc(module)}"; style="rounded,dashed"; color=gray50;')
            for n in ids:
                lines.append("    " + self._node_line(n))
                clustered.add(n)
            lines.append("  }")
        for n in self.nodes:
            if n not in clustered:
                lines.append("  " + self._node_line(n))
        for a, b in self.edges:
            lines.append(f"  n{a} -> n{b};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _node_line(self, n):
        node = self.nodes[n]
        style = {"op": 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"',
                 "param": 'shape=box, style=filled, fillcolor="#fde3b5"',
                 "input": 'shape=box, style=filled, fillcolor="#e8e8e8"',
                 "output": 'shape=box, style="rounded,filled", fillcolor="#c8f0c8"'}[node["kind"]]
        label = "<" + "<br/>".join(html.escape(part) for part in node["label"].split("\n")) + ">"
        if node.get("alert"):
            style += ", color=red, penwidth=2"
        return f"n{n} [label={label}, {style}];"

    def _repr_svg_(self):  # Jupyter
        dot = shutil.which("dot")
        if dot is None:
            return None
        out = subprocess.run([dot, "-Tsvg"], input=self.source.encode(), capture_output=True, check=True)
        return out.stdout.decode()

    def save(self, path):
        """Write the DOT source to ``path`` (atomically)."""
        _atomic_write(path, self.source.encode())
        return path

    def render(self, path, format=None):
        """Write the picture to ``path`` (format from the extension: svg or png). Returns the path written.

        Uses Graphviz's ``dot`` when present; otherwise a matplotlib drawing (PNG only) and a printed note.
        """
        format = format or os.path.splitext(path)[1].lstrip(".").lower() or "svg"
        if format not in ("svg", "png", "pdf"):
            raise ValueError(f"render: format must be svg, png or pdf, got {format!r}")
        dot = shutil.which("dot")
        if dot is not None:
            out = subprocess.run([dot, f"-T{format}"], input=self.source.encode(), capture_output=True, check=True)
            _atomic_write(path, out.stdout)
            return path
        path = os.path.splitext(path)[0] + ".png"
        print(f"draw_graph: {_DOT_MISSING}; writing {path}")
        self._draw_with_matplotlib(path)
        return path

    def _draw_with_matplotlib(self, path):
        matplotlib = require("matplotlib", feature="Graph.render without Graphviz's dot", extra="viz")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        layer = self._layers()
        by_layer = {}
        for n in self.nodes:
            by_layer.setdefault(layer[n], []).append(n)
        for ids in by_layer.values():  # parameters to the left, data to the right
            ids.sort(key=lambda n: {"param": 0, "op": 1, "output": 1, "input": 2}[self.nodes[n]["kind"]])
        width = max(len(v) for v in by_layer.values())
        height = len(by_layer)
        fig, ax = plt.subplots(figsize=(max(6, 2.6 * width), max(4, 1.3 * height)))
        pos = {}
        for depth, ids in by_layer.items():
            for k, n in enumerate(ids):
                pos[n] = ((k + 0.5) / len(ids) * width, depth)
        colors = {"op": "#dbe9f6", "param": "#fde3b5", "input": "#e8e8e8", "output": "#c8f0c8"}
        for a, b in self.edges:
            (x0, y0), (x1, y1) = pos[a], pos[b]
            ax.annotate("", xy=(x1, y1 - 0.25), xytext=(x0, y0 + 0.25),
                        arrowprops=dict(arrowstyle="->", color="gray", lw=0.8))
        for n, (x, y) in pos.items():
            node = self.nodes[n]
            alert = node.get("alert")
            ax.text(x, y, node["label"], ha="center", va="center", fontsize=7,
                    bbox=dict(boxstyle="round", fc=colors[node["kind"]], ec="red" if alert else "gray",
                              lw=2 if alert else 1))
        ax.set_xlim(-0.2, width + 0.2)
        ax.set_ylim(-0.7, height - 0.3)
        ax.axis("off")
        fig.tight_layout()
        _save_figure(fig, path)
        plt.close(fig)

    def _layers(self):
        """Depth of each node: inputs at 0, every op one above its deepest input."""
        parents = {}
        for a, b in self.edges:
            parents.setdefault(b, []).append(a)
        depth = {}
        for n in self._forward_order(parents):
            depth[n] = 1 + max((depth[p] for p in parents.get(n, ())), default=-1)
        consumers = {}
        for a, b in self.edges:
            consumers.setdefault(a, []).append(b)
        for n in self.nodes:  # draw each leaf just below its first consumer, not all at the bottom
            if n not in parents and n in consumers:
                depth[n] = min(depth[c] for c in consumers[n]) - 1
        return depth

    def _forward_order(self, parents):
        order, seen = [], set()
        for start in self.nodes:
            stack = [(start, False)]
            while stack:
                n, expanded = stack.pop()
                if expanded:
                    order.append(n)
                    continue
                if n in seen:
                    continue
                seen.add(n)
                stack.append((n, True))
                stack.extend((p, False) for p in parents.get(n, ()) if p not in seen)
        return order


def draw_graph(tensor, params=None, show_grads=True, max_nodes=500, *, names=None, values=False, grads=None):
    """draw_graph(tensor, params=None, *, names=None, values=False, grads=None) -> Graph: the recorded graph that
    produced ``tensor``.

    One node per op and per leaf, labelled with op name, shape and dtype; ``params`` (a module, or a dict or
    iterable of (name, tensor) pairs such as ``model.named_parameters()``) labels parameters with their names
    and groups each module's parameters and the ops that consume them in a box; ``names`` (a dict name ->
    tensor) labels any node. After ``backward``, leaves show their gradient norms (``show_grads``).

    ``values=True`` adds a summary of each node's value (the number itself, or mean and largest magnitude).
    ``grads`` adds the same summary of the gradient each node received in one backward pass, so the picture
    shows where gradients vanish or explode: pass the :class:`~tapegrad.viz.BackwardTrace` that recorded your
    backward, or ``grads=True`` to let draw_graph run one itself (``autograd.grad`` of ``tensor``, or of
    ``tensor.sum()`` when it is not a scalar, with ``retain_graph=True``: no ``.grad`` changes; call it before a
    backward that frees the graph). A node with a NaN or an infinity in its value or gradient is outlined in red.

    >>> import tapegrad as tg
    >>> w = tg.ones(2, requires_grad=True)
    >>> 'Mul' in draw_graph((w * 3).sum()).source
    True
    >>> x = tg.tensor(2.0, requires_grad=True)
    >>> print(draw_graph(x * 3, names={"x": x}, values=True, grads=True).nodes[id(x)]["label"])
    x
    scalar float32
    value 2
    grad 3
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(tensor).__name__}")
    if not (grads is None or isinstance(grads, (bool, BackwardTrace))):
        raise TypeError(f"draw_graph: grads must be None, True, False or a BackwardTrace, got {type(grads).__name__}")
    labels, pairs, from_module = _tape.named(params, names)
    param_ids = {id(t) for _, t in pairs}
    found, edges = _tape.walk(tensor, max_nodes, op="draw_graph")
    trace = grads if isinstance(grads, BackwardTrace) else _run_traced_backward(tensor, found) if grads else None
    nodes = {}
    for tid, t in found.items():
        nodes[tid] = _describe(t, labels, param_ids, show_grads and grads is not False, t is tensor, values, trace)
    group = _tape.module_groups(found, edges, pairs, from_module)
    clusters = {}
    for tid in found:  # parameters first, in the order they were named, then the ops that consume them
        if tid in group and found[tid]._backward is None:
            clusters.setdefault(group[tid], []).append(tid)
    for tid in found:
        if tid in group and found[tid]._backward is not None:
            clusters.setdefault(group[tid], []).append(tid)
    return Graph(nodes, edges, clusters)


def _run_traced_backward(tensor, found):
    """A BackwardTrace of one backward from ``tensor`` that leaves every ``.grad`` as it was."""
    from ..autograd.engine import grad
    from ..creation import ones_like

    if not tensor.requires_grad:
        raise ValueError("draw_graph: grads=True needs a tensor that requires grad (no input of its computation "
                         "requires grad, so there is no gradient to show)")
    leaves = [t for t in found.values() if t._backward is None and t._requires_grad]
    seed = None if tensor.numel() == 1 else ones_like(tensor)
    trace = BackwardTrace()
    with trace:
        grad(tensor, leaves, grad_outputs=seed, retain_graph=True, allow_unused=True)
    return trace


def _describe(t, labels, param_ids, show_grads, is_output, values=False, trace=None):
    meta = f"{_tape.shape_text(t._data.shape)} {t._data.dtype}"
    name = labels.get(id(t))
    alert = False
    if t._backward is not None:
        op = _tape.short_name(t)
        lines = [op if name is None else f"{name} ({op})", meta]
        kind = "output" if is_output else "op"
    else:
        lines = [name or ("leaf" if t.requires_grad else "input"), meta]
        kind = "param" if t.requires_grad or id(t) in param_ids else "input"
        if trace is None and show_grads and t.grad is not None:
            lines.append(f"|grad| = {float(np.linalg.norm(t.grad._data)):.3g}")
    if values:
        summary = _tape.Summary.of(t._data)
        lines.append(f"value {summary}" if summary.value is not None else f"value: {summary}")
        alert = alert or not summary.finite
    if trace is not None:
        summary = trace.grad(t)
        if summary is not None:
            lines.append(f"grad {summary}" if summary.value is not None else f"grad: {summary}")
            alert = alert or not summary.finite
    return {"label": "\n".join(lines), "kind": kind, "alert": alert}


def _esc(s):
    return s.replace('"', '\\"')
