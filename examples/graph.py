"""The computational graph of one training step of a small MLP, with parameter names and gradient norms.

    python examples/graph.py [--out out]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.viz import draw_graph  # noqa: E402


def run(out="out", verbose=True):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward(retain_graph=True)
    graph = draw_graph(loss, params=dict(model.named_parameters()))
    os.makedirs(out, exist_ok=True)
    dot_path = graph.save(os.path.join(out, "graph.dot"))
    picture = graph.render(os.path.join(out, "graph.svg"))
    if verbose:
        print(f"graph of one training step: {picture} (DOT source: {dot_path})")
    return {"dot": dot_path, "picture": picture}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out")
    run(p.parse_args().out)
