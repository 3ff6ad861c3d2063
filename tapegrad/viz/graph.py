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
from ..autograd.engine import parents_of

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
            ax.text(x, y, node["label"], ha="center", va="center", fontsize=7,
                    bbox=dict(boxstyle="round", fc=colors[node["kind"]], ec="gray"))
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


def draw_graph(tensor, params=None, show_grads=True, max_nodes=500):
    """draw_graph(tensor, params=None) -> Graph: the recorded graph that produced ``tensor``.

    One node per op and per leaf, labelled with op name, shape and dtype; ``params`` (a module, or a dict or
    iterable of (name, tensor) pairs such as ``model.named_parameters()``) labels parameters with their names
    and groups each module's parameters and the ops that consume them in a box. After ``backward``, leaves show
    their gradient norms.

    >>> import tapegrad as tg
    >>> w = tg.ones(2, requires_grad=True)
    >>> 'Mul' in draw_graph((w * 3).sum()).source
    True
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(tensor).__name__}")
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    params = dict(params or {})
    names = {id(t): name for name, t in params.items()}
    nodes, edges, clusters = {}, [], {}
    stack, seen = [tensor], {id(tensor)}
    while stack:
        t = stack.pop()
        nodes[id(t)] = _describe(t, names, show_grads, is_output=t is tensor)
        if len(nodes) > max_nodes:
            raise ValueError(f"draw_graph: the graph has more than {max_nodes} nodes; pass max_nodes= to draw it")
        for p in parents_of(t):
            edges.append((id(p), id(t)))
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    consumers = {}
    for a, b in edges:
        consumers.setdefault(a, []).append(b)
    for tid, name in names.items():
        if tid in nodes:
            module = name.rsplit(".", 1)[0] if "." in name else "(model)"
            group = clusters.setdefault(module, [])
            group.append(tid)
            for op in consumers.get(tid, ()):
                if nodes[op]["kind"] == "op" and op not in group and not any(op in g for g in clusters.values()):
                    group.append(op)
    return Graph(nodes, edges, clusters)


def _describe(t, names, show_grads, is_output):
    shape = "×".join(str(s) for s in t._data.shape) or "scalar"
    meta = f"{shape} {t._data.dtype}"
    if t._backward is not None:
        name = t._name.removesuffix("0").removesuffix("Backward")
        return {"label": f"{name}\n{meta}", "kind": "output" if is_output else "op"}
    label = names.get(id(t))
    kind = "param" if label is not None or t.requires_grad else "input"
    lines = [label or ("leaf" if t.requires_grad else "input"), meta]
    if show_grads and t.grad is not None:
        lines.append(f"|grad| = {float(np.linalg.norm(t.grad._data)):.3g}")
    return {"label": "\n".join(lines), "kind": kind}


def _esc(s):
    return s.replace('"', '\\"')


def _atomic_write(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _save_figure(fig, path):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{os.getpid()}{ext}"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
