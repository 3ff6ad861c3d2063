"""A deep plain MLP (20 linear layers, ReLU, no normalization, no skips) trains without underflow or NaN.

Data: the three-arm spirals (300 points). Net: 2-64-...-64-3, 20 ``nn.Linear`` layers with ReLU between them,
float32, cross-entropy from logits, full-batch Adam(lr=1e-3). With PyTorch's default initialization each ReLU
layer shrinks the signal's variance about 6-fold, so at the start the first layer's gradient is orders of magnitude
smaller than the last layer's; the script prints both norms as training goes, and every loss and gradient must stay
finite and nonzero. ``--init kaiming`` uses He initialization (``nn.init.kaiming_normal_``) instead.

Measured (seed 0): at step 1 the weight-gradient norm is 3.4e-9 in layer 1 and 2.9e-3 in layer 20; Adam still
gets going, and after 300 steps the loss is 0.100 (from ln 3 = 1.099) with 97% training accuracy. With He
initialization the gradients start balanced (0.095 and 0.32) and the loss reaches 0.011.

    python examples/deep_mlp.py [--depth 20] [--steps 300] [--init default]
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.datasets import spirals  # noqa: E402


def deep_mlp(depth=20, width=64, inputs=2, classes=3, init="default"):
    """``depth`` linear layers with ReLU between them."""
    sizes = [inputs] + [width] * (depth - 1) + [classes]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        if init == "kaiming":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def run(depth=20, steps=300, width=64, init="default", seed=0, verbose=True):
    """Returns ``{"losses": [...], "first_grad_norms": [...], "last_grad_norms": [...], "seconds"}`` where the
    norms are those of the first and the last layer's weight gradient at every step."""
    torch.manual_seed(seed)
    X, y = spirals(n=300, classes=3, noise=0.2, seed=seed)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    model = deep_mlp(depth, width, init=init)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    result = {"losses": [], "first_grad_norms": [], "last_grad_norms": []}
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        first, last = linears[0].weight.grad.norm().item(), linears[-1].weight.grad.norm().item()
        optimizer.step()
        result["losses"].append(loss.item())
        result["first_grad_norms"].append(first)
        result["last_grad_norms"].append(last)
        if not all(map(math.isfinite, (loss.item(), first, last))):
            raise FloatingPointError(f"step {step}: loss {loss.item()}, gradient norms {first}, {last}")
        if verbose and (step == 1 or step % max(1, steps // 6) == 0):
            print(f"step {step:4d}: loss {loss.item():.4f}; weight-gradient norm of layer 1 {first:.2e}, "
                  f"of layer {depth} {last:.2e}")
    result["seconds"] = time.perf_counter() - start
    if verbose:
        with torch.no_grad():
            accuracy = (model(X).argmax(dim=1) == y).float().mean().item()
        losses = result["losses"]
        print(f"{depth}-layer plain MLP ({init} init), {steps} steps in {result['seconds']:.1f} s: loss "
              f"{losses[0]:.4f} -> {losses[-1]:.4f}, training accuracy {accuracy:.1%}; every loss and gradient "
              f"finite, smallest first-layer gradient norm {min(result['first_grad_norms']):.2e}")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=20, help="number of linear layers (default 20)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--init", choices=["default", "kaiming"], default="default")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return run(args.depth, args.steps, args.width, args.init, args.seed)


if __name__ == "__main__":
    main()
