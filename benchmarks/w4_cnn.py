"""W4, a convolutional model: a small CNN training step on 28x28 images.

conv(1->16, 3x3, pad 1)-ReLU-maxpool 2-conv(16->32, 3x3, pad 1)-ReLU-maxpool 2-linear(1568->10), batch 64,
float32, cross-entropy, SGD (lr 0.01). The numpy reference is a straightforward im2col (sliding windows and
one matrix product per convolution; the backward scatters the 9 kernel offsets back).
"""

import numpy as np
from harness import reference_note
from numpy.lib.stride_tricks import sliding_window_view
from training import Problem, run_training, softmax_cross_entropy, uniform_init

NAME = "W4"
TITLE = "CNN step conv16-pool-conv32-pool-linear, batch 64 of 28x28"


def problem(channels=(1, 16, 32), side=28, classes=10, batch=64, n_batches=8, seed=0):
    rng = np.random.default_rng(seed)
    c0, c1, c2 = channels
    flat = c2 * (side // 4) ** 2
    params = [uniform_init(rng, c0 * 9, (c1, c0, 3, 3)), uniform_init(rng, c0 * 9, (c1,)),
              uniform_init(rng, c1 * 9, (c2, c1, 3, 3)), uniform_init(rng, c1 * 9, (c2,)),
              uniform_init(rng, flat, (classes, flat)), uniform_init(rng, flat, (classes,))]
    batches = [(rng.standard_normal((batch, c0, side, side), dtype=np.float32),
                rng.integers(0, classes, batch)) for _ in range(n_batches)]
    return Problem(params, batches, lr=0.01)


def model_for(channels=(1, 16, 32), side=28, classes=10):
    """A builder of the model in PyTorch; ``torch`` is tapegrad or torch."""
    c0, c1, c2 = channels

    def model(torch):
        nn = torch.nn
        return nn.Sequential(nn.Conv2d(c0, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(c2 * (side // 4) ** 2, classes))

    return model


def conv3x3(x, w, b):
    """A 3x3 convolution with padding 1 by im2col: the output (N, F, H, W) and the columns for backward."""
    n, c, h, wd = x.shape
    f = w.shape[0]
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = sliding_window_view(padded, (3, 3), axis=(2, 3))  # (n, c, h, wd, 3, 3), no copy
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * 9)
    out = cols @ w.reshape(f, -1).T
    out += b
    return out.reshape(n, h, wd, f).transpose(0, 3, 1, 2), cols


def conv3x3_backward(g, cols, x_shape, w, need_input_grad):
    n, c, h, wd = x_shape
    f = w.shape[0]
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, f)
    gw = (g2.T @ cols).reshape(w.shape)
    gb = g2.sum(axis=0)
    if not need_input_grad:
        return None, gw, gb
    gcols = (g2 @ w.reshape(f, -1)).reshape(n, h, wd, c, 3, 3)
    gpad = np.zeros((n, c, h + 2, wd + 2), dtype=g.dtype)
    for i in range(3):  # the 9 kernel offsets, not pixels: each adds one whole shifted image
        for j in range(3):
            gpad[:, :, i:i + h, j:j + wd] += gcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gpad[:, :, 1:-1, 1:-1], gw, gb


def maxpool2(x):
    """2x2 max pooling with stride 2: the output and the position (0-3) of each window's maximum."""
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, c, h // 2, w // 2, 4)
    where = windows.argmax(axis=-1)[..., None]  # the first maximum, as PyTorch
    return np.take_along_axis(windows, where, -1)[..., 0], where


def maxpool2_backward(g, where, x_shape):
    n, c, h, w = x_shape
    windows = np.zeros((n, c, h // 2, w // 2, 4), dtype=g.dtype)
    np.put_along_axis(windows, where, g[..., None], -1)
    return windows.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def numpy_forward_backward(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    z1, cols1 = conv3x3(x, w1, b1)
    a1 = np.maximum(z1, 0)
    p1, where1 = maxpool2(a1)
    z2, cols2 = conv3x3(p1, w2, b2)
    a2 = np.maximum(z2, 0)
    p2, where2 = maxpool2(a2)
    flat = p2.reshape(p2.shape[0], -1)
    logits = flat @ w3.T
    logits += b3
    loss, g = softmax_cross_entropy(logits, y)
    gw3 = g.T @ flat
    gb3 = g.sum(axis=0)
    ga2 = maxpool2_backward((g @ w3).reshape(p2.shape), where2, a2.shape)
    ga2 *= a2 > 0
    gp1, gw2, gb2 = conv3x3_backward(ga2, cols2, p1.shape, w2, True)
    ga1 = maxpool2_backward(gp1, where1, a1.shape)
    ga1 *= a1 > 0
    _, gw1, gb1 = conv3x3_backward(ga1, cols1, x.shape, w1, False)
    return loss, [gw1, gb1, gw2, gb2, gw3, gb3]


def run(libs, settings):
    def context(samples):
        if "pytorch" in samples:
            return reference_note(samples, "numpy", "pytorch", "2.6x")
        # Without PyTorch, a proxy: with the im2col at its anchor of 2.6x PyTorch, 1.5x PyTorch is 0.58x it.
        return reference_note(samples, "tapegrad", "numpy", "target 1.5x PyTorch ~ 0.58x the im2col")

    return run_training(NAME, libs, settings, model_for(), numpy_forward_backward, problem(), "pytorch", 1.5,
                        "PyTorch", rtol=1e-3, context=context)
