"""The computational graph of one training step of a small MLP: ops, parameter names and gradient norms.

A 4-8-8-3 MLP (ReLU, then tanh) on a batch of 16 random inputs with cross-entropy. After ``backward`` the graph
is drawn with ``tapegrad.viz.draw_graph``: one box per op (name, shape, dtype), each layer's parameters grouped
with the op that uses them and labelled with their names and gradient norms. Writes the DOT source and the
picture (SVG and PNG with Graphviz's ``dot``; a matplotlib PNG without it).

    python examples/graph.py [--out out]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.viz import draw_graph  # noqa: E402


class SmallMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.tanh(self.fc2(F.relu(self.fc1(x)))))


def run(out="out", seed=0, verbose=True):
    """Returns ``{"dot": path, "picture": path (SVG, or PNG without Graphviz), "png": path, "nodes", "edges"}``."""
    torch.manual_seed(seed)
    model = SmallMLP()
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    loss = F.cross_entropy(model(x), y)
    loss.backward(retain_graph=True)  # keep the graph to draw it; the gradients label the parameters
    graph = draw_graph(loss, params=model)
    os.makedirs(out, exist_ok=True)
    dot_path = graph.save(os.path.join(out, "graph.dot"))
    picture = graph.render(os.path.join(out, "graph.svg"))
    png = picture if picture.endswith(".png") else graph.render(os.path.join(out, "graph.png"))
    if verbose:
        print(f"graph of one training step: {len(graph.nodes)} nodes, {len(graph.edges)} edges, loss "
              f"{loss.item():.4f}; picture {picture}" + (f" and {png}" if png != picture else "")
              + f"; DOT source {dot_path}")
    return {"dot": dot_path, "picture": picture, "png": png, "nodes": len(graph.nodes), "edges": len(graph.edges)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out", help="folder for graph.dot, graph.svg and graph.png (default out)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return run(args.out, args.seed)


if __name__ == "__main__":
    main()
