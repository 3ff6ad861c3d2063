"""W3, a large arithmetic-bound model: a deep ReLU MLP training step (and, for W6, its inference).

784-1200-1200-1200-1200-1200-10, ReLU, batch 128, float32, cross-entropy, SGD (lr 0.01).
"""

import numpy as np
from harness import reference_note
from training import Problem, run_training, softmax_cross_entropy, uniform_init

NAME = "W3"
TITLE = "deep MLP step 784-1200x5-10, batch 128"
SIZES = (784, 1200, 1200, 1200, 1200, 1200, 10)


def init_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params += [uniform_init(rng, fan_in, (fan_out, fan_in)), uniform_init(rng, fan_in, (fan_out,))]
    return params, rng


def problem(sizes=SIZES, batch=128, n_batches=8, seed=0):
    params, rng = init_params(sizes, seed)
    batches = [(rng.standard_normal((batch, sizes[0]), dtype=np.float32),
                rng.integers(0, sizes[-1], batch)) for _ in range(n_batches)]
    return Problem(params, batches, lr=0.01)


def model_for(sizes):
    """A builder of the model in PyTorch; ``torch`` is tapegrad or torch."""

    def model(torch):
        nn = torch.nn
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        return nn.Sequential(*layers[:-1])

    return model


def numpy_forward(params, x, keep=False):
    """The logits, and (with ``keep``) every layer's input for the backward pass."""
    inputs = []
    h = x
    last = len(params) // 2 - 1
    for i in range(0, len(params), 2):
        if keep:
            inputs.append(h)
        z = h @ params[i].T
        z += params[i + 1]
        if i // 2 < last:
            np.maximum(z, 0, out=z)
        h = z
    return h, inputs


def numpy_forward_backward(params, x, y):
    logits, inputs = numpy_forward(params, x, keep=True)
    loss, g = softmax_cross_entropy(logits, y)
    grads = [None] * len(params)
    for layer in range(len(inputs) - 1, -1, -1):
        h = inputs[layer]
        grads[2 * layer] = g.T @ h
        grads[2 * layer + 1] = g.sum(axis=0)
        if layer > 0:
            g = g @ params[2 * layer]
            g *= h > 0  # ReLU's gradient, from its output
    return loss, grads


def run(libs, settings):
    # NOTE: 5 ReLU layers: pre-activations within rounding of 0 flip between BLAS libraries (measured 0.5% of
    # an update's norm between PyTorch's MKL and numpy's OpenBLAS), hence param_rtol 3e-2.
    return run_training(NAME, libs, settings, model_for(SIZES), numpy_forward_backward, problem(), "numpy",
                        1.1, "numpy", rtol=1e-3, param_rtol=3e-2,
                        context=lambda s: reference_note(s, "pytorch", "numpy", "~1.0x"))
