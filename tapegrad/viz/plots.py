"""Pictures of training: learning curves and decision boundaries, rendered headless (Agg) to PNG files."""

import numpy as np

from ._figures import _pyplot, _save_figure


def plot_history(history, path="history.png", title=None):
    """plot_history(history, path='history.png'): loss and each metric per epoch, train beside validation.

    ``history`` is a Keras-style ``History`` (its ``.history`` dict) or a dict of lists, e.g.
    ``{'loss': [...], 'val_loss': [...], 'accuracy': [...]}``. Returns the path written.
    """
    h = getattr(history, "history", history)
    if not isinstance(h, dict) or not h:
        raise ValueError("plot_history: expected a History or a non-empty dict of per-epoch lists")
    metrics = [k for k in h if not k.startswith("val_") and k != "lr" and k != "learning_rate"]
    plt = _pyplot("plot_history")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.8), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        epochs = np.arange(1, len(h[name]) + 1)
        ax.plot(epochs, h[name], "o-", ms=3, label="train")
        if f"val_{name}" in h:
            ax.plot(np.arange(1, len(h[f"val_{name}"]) + 1), h[f"val_{name}"], "s--", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name if name != "loss" else "error (loss) per epoch")
        if name == "loss" and min(h[name]) > 0:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)
    return path


def plot_decision_boundary(model, X, y, path="decision_boundary.png", resolution=300, title=None):
    """plot_decision_boundary(model, X, y, path='decision_boundary.png'): class regions over a 2-D dataset.

    ``model`` maps an (n, 2) batch to class scores: a tapegrad ``nn.Module``, a Keras-style model with
    ``predict``, or any callable on numpy arrays. One output column is read as a binary logit/probability.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n, 2), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"plot_decision_boundary: X has {len(X)} rows but y has {len(y)}")
    pad = 0.1 * (X.max(0) - X.min(0)) + 1e-3
    lo, hi = X.min(0) - pad, X.max(0) + pad
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    scores = _scores(model, grid)
    if scores.ndim == 1 or scores.shape[1] == 1:
        s = scores.reshape(-1)
        threshold = 0.5 if s.min() >= 0 and s.max() <= 1 else 0.0
        pred = (s > threshold).astype(int)
    else:
        pred = scores.argmax(1)
    plt = _pyplot("plot_decision_boundary")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    classes = np.unique(np.concatenate([y, pred]))
    cmap = plt.get_cmap("tab10")
    ax.contourf(xx, yy, pred.reshape(xx.shape), levels=np.arange(classes.max() + 2) - 0.5, cmap=cmap,
                alpha=0.3, vmin=0, vmax=9)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=0, vmax=9, s=12, edgecolors="k", linewidths=0.3)
    ax.set_title(title or "decision boundary")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)
    return path


def _scores(model, grid):
    from .._tensor import Tensor
    from ..autograd.grad_mode import no_grad
    from ..creation import as_tensor

    if hasattr(model, "predict") and not hasattr(model, "parameters"):
        return np.asarray(model.predict(grid, verbose=0) if _takes_verbose(model.predict) else model.predict(grid))
    training = getattr(model, "training", None)
    if training is not None:
        model.eval()
    try:
        with no_grad():
            out = model(as_tensor(grid))
    finally:
        if training:
            model.train()
    return np.asarray(out._data if isinstance(out, Tensor) else out)


def _takes_verbose(fn):
    import inspect

    try:
        return "verbose" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
