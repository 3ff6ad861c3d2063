"""Writing pictures: files written atomically, matplotlib without a display (Agg)."""

import os

from .._optional import require


def _pyplot(feature):
    matplotlib = require("matplotlib", feature=feature, extra="viz")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
