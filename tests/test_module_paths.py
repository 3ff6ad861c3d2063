"""PyTorch's module paths that tapegrad claims: each imports, and holds what tapegrad has under that path.

Programs written for PyTorch import classes by their full path (``from torch.nn.modules.loss import _Loss``,
``from torch.utils.data.sampler import RandomSampler``, ``torch.optim.optimizer.Optimizer``); with
``import tapegrad as torch`` (or tapegrad installed as ``torch``) those paths must resolve. ``CLAIMED`` is the
list of PyTorch module paths tapegrad has. Without PyTorch, each must import and the paths of issue 13 must give
their classes; with PyTorch installed, each claimed path must be one of PyTorch's, and every public class or
function PyTorch defines there that tapegrad has in the enclosing claimed package (``tapegrad.nn`` for
``torch.nn.modules.linear``) must be found at the same path.
"""

import doctest
import importlib
import importlib.util
import inspect
import os
import pkgutil
import subprocess
import sys
import warnings

import pytest

import tapegrad as tg

_NN_MODULES = ("activation adaptive batchnorm channelshuffle container conv distance dropout flatten fold "
               "instancenorm lazy linear loss module normalization padding pixelshuffle pooling rnn sparse "
               "transformer upsampling utils").split()

CLAIMED = [
    "torch", "torch._dynamo", "torch.amp", "torch.amp.autocast_mode", "torch.amp.grad_scaler",
    "torch.autograd", "torch.autograd.function", "torch.autograd.functional", "torch.autograd.grad_mode",
    "torch.autograd.gradcheck", "torch.autograd.graph", "torch.autograd.variable",
    "torch.backends", "torch.backends.cuda", "torch.backends.cudnn", "torch.backends.mps",
    "torch.compiler", "torch.cpu", "torch.cpu.amp", "torch.cpu.amp.autocast_mode", "torch.cpu.amp.grad_scaler",
    "torch.cuda", "torch.cuda.amp", "torch.cuda.amp.autocast_mode", "torch.cuda.amp.grad_scaler",
    "torch.cuda.amp.common",
    "torch.distributed", "torch.distributed.distributed_c10d", "torch.distributed.run",
    "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.parameter", "torch.nn.utils",
    "torch.nn.parallel", "torch.nn.parallel.data_parallel", "torch.nn.parallel.distributed",
    "torch.nn.modules", *[f"torch.nn.modules.{m}" for m in _NN_MODULES],
    "torch.optim", "torch.optim.optimizer", "torch.optim.lr_scheduler", "torch.optim.swa_utils",
    "torch.optim.sgd", "torch.optim.adam", "torch.optim.adamw", "torch.optim.adadelta", "torch.optim.adagrad",
    "torch.optim.adamax", "torch.optim.asgd", "torch.optim.lbfgs", "torch.optim.nadam", "torch.optim.radam",
    "torch.optim.rmsprop", "torch.optim.rprop",
    "torch.random", "torch.serialization", "torch.testing", "torch.types", "torch.version",
    "torch.utils.data", "torch.utils.data.dataloader", "torch.utils.data.dataset", "torch.utils.data.distributed",
    "torch.utils.data.sampler", "torch.utils.hooks", "torch.utils.checkpoint", "torch.accelerator",
]

# Paths a script reaches after a bare ``import torch``, without importing the submodule itself; evaluated with
# ``torch`` bound to tapegrad in a fresh interpreter (and, when installed, to PyTorch, to keep the list honest:
# PyTorch deletes ``torch.optim.optimizer`` and ``torch.optim.adamw`` from ``torch.optim``, so those need an import).
ATTRIBUTE_PATHS = [
    "torch.nn.modules.rnn", "torch.nn.modules.linear.Linear", "torch.nn.modules.loss._Loss",
    "torch.nn.modules.batchnorm._BatchNorm", "torch.nn.modules.sparse.Embedding", "torch.nn.modules.Linear",
    "torch.nn.parallel.DistributedDataParallel", "torch.nn.parallel.DataParallel",
    "torch.optim.lr_scheduler.CosineAnnealingLR", "torch.optim.lr_scheduler.LambdaLR",
    "torch.utils.data.dataloader.DataLoader", "torch.utils.data.dataset.Dataset",
    "torch.utils.data.sampler.RandomSampler", "torch.utils.data.distributed.DistributedSampler",
    "torch.amp.GradScaler", "torch.amp.autocast", "torch.cuda.amp.GradScaler", "torch.cuda.amp.autocast",
    "torch.autocast", "torch.compile", "torch.backends.cuda.matmul.allow_tf32", "torch.backends.cudnn.allow_tf32",
    "torch.serialization.add_safe_globals", "torch.serialization.safe_globals", "torch.version.cuda",
    "torch.nn.init.normal_", "torch.nn.functional.cross_entropy", "torch.autograd.function.Function",
    "torch.autograd.grad_mode.no_grad", "torch.autograd.graph", "torch.distributed.is_available",
    "torch.types.Number", "torch.accelerator.is_available", "torch.accelerator.current_accelerator",
]

# ``from <path> import <name>`` lines of real programs (issue 13), checked without PyTorch
IMPORTS = [
    ("torch.utils.data.dataloader", "DataLoader"), ("torch.utils.data.dataset", "Dataset"),
    ("torch.utils.data.dataset", "TensorDataset"), ("torch.utils.data.sampler", "RandomSampler"),
    ("torch.utils.data.sampler", "BatchSampler"), ("torch.utils.data.sampler", "WeightedRandomSampler"),
    ("torch.utils.data.distributed", "DistributedSampler"), ("torch.utils.data", "IterableDataset"),
    ("torch.nn.parallel", "DistributedDataParallel"), ("torch.nn.parallel.distributed", "DistributedDataParallel"),
    ("torch.nn.modules.loss", "_Loss"), ("torch.nn.modules.loss", "_WeightedLoss"),
    ("torch.nn.modules.module", "Module"), ("torch.nn.modules.linear", "Linear"),
    ("torch.nn.modules.container", "Sequential"), ("torch.nn.modules.activation", "MultiheadAttention"),
    ("torch.nn.modules.normalization", "LayerNorm"), ("torch.nn.modules.batchnorm", "BatchNorm1d"),
    ("torch.nn.modules.sparse", "Embedding"), ("torch.nn.modules.transformer", "TransformerEncoderLayer"),
    ("torch.nn.modules.utils", "_pair"), ("torch.nn.modules.utils", "consume_prefix_in_state_dict_if_present"),
    ("torch.nn.parameter", "Parameter"), ("torch.optim.optimizer", "Optimizer"),
    ("torch.optim.lr_scheduler", "LRScheduler"), ("torch.optim.lr_scheduler", "_LRScheduler"),
    ("torch.optim.lr_scheduler", "ReduceLROnPlateau"), ("torch.optim.adamw", "AdamW"),
    ("torch.serialization", "add_safe_globals"), ("torch.serialization", "safe_globals"),
    ("torch.serialization", "get_safe_globals"), ("torch.serialization", "clear_safe_globals"),
    ("torch.amp", "GradScaler"), ("torch.amp", "autocast"), ("torch.cuda.amp", "GradScaler"),
    ("torch.cuda.amp", "autocast"), ("torch.cuda.amp.grad_scaler", "GradScaler"),
    ("torch.cuda.amp.autocast_mode", "autocast"), ("torch.cpu.amp.autocast_mode", "autocast"),
    ("torch.autograd.function", "Function"),
    ("torch.autograd.grad_mode", "no_grad"), ("torch.utils.hooks", "RemovableHandle"),
    ("torch.types", "Number"), ("torch.types", "Device"), ("torch.utils.checkpoint", "checkpoint"),
    ("torch.utils.checkpoint", "checkpoint_sequential"),
]


def _tapegrad_path(path):
    return "tapegrad" + path[len("torch"):]


@pytest.mark.parametrize("path", CLAIMED)
def test_claimed_path_imports(path):
    module = importlib.import_module(_tapegrad_path(path))
    assert module.__name__ == _tapegrad_path(path)


@pytest.mark.parametrize("path,name", IMPORTS)
def test_program_imports(path, name):
    module = importlib.import_module(_tapegrad_path(path))
    obj = getattr(module, name)
    assert obj is not None
    if path.startswith("torch.nn.modules.") and not name.startswith("_") and hasattr(tg.nn, name):
        assert obj is getattr(tg.nn, name)  # the same class, not a copy


_FRESH = """
import importlib, sys
torch = importlib.import_module(sys.argv[1])
missing = []
for path in sys.argv[2:]:
    obj = torch
    try:
        for part in path.split(".")[1:]:
            obj = getattr(obj, part)
    except AttributeError as e:
        missing.append(f"{path}: {e}")
print("\\n".join(missing))
"""


def _missing_attribute_paths(package, python=sys.executable):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run([python, "-c", _FRESH, package, *ATTRIBUTE_PATHS], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_attribute_paths_after_a_bare_import():
    assert _missing_attribute_paths("tapegrad") == ""


# ---- tapegrad.nn.modules: PyTorch's table, resolved lazily in tapegrad.nn ----

def test_nn_modules_are_the_same_classes():
    from tapegrad.nn.modules import batchnorm, conv, linear, loss, sparse
    from tapegrad.nn.modules.utils import _pair, _triple

    assert linear.Linear is tg.nn.Linear and tg.nn.modules.Linear is tg.nn.Linear
    assert sparse.Embedding is tg.nn.Embedding and conv.Conv2d is tg.nn.Conv2d
    assert issubclass(tg.nn.CrossEntropyLoss, loss._WeightedLoss) and issubclass(loss._WeightedLoss, loss._Loss)
    assert isinstance(tg.nn.BatchNorm1d(3), batchnorm._BatchNorm)
    assert _pair(3) == (3, 3) and _pair([1, 2]) == (1, 2) and _triple(0) == (0, 0, 0)
    assert "Linear" in linear.__all__ and "Linear" in dir(linear) and "Linear" in tg.nn.modules.__all__


def test_nn_modules_star_import():
    namespace = {}
    exec("from tapegrad.nn.modules.loss import *", namespace)
    assert namespace["CrossEntropyLoss"] is tg.nn.CrossEntropyLoss and "_Loss" not in namespace
    assert all(name in namespace for name in tg.nn.modules.loss.__all__)


def test_nn_modules_missing_name_says_so():
    from tapegrad.nn.modules import _table

    absent = [n for n in _table.PUBLIC["linear"] if not hasattr(tg.nn, n)] or ["NoSuchLayer"]
    with pytest.raises(AttributeError, match="tapegrad does not have|has no attribute"):
        getattr(tg.nn.modules.linear, absent[0])
    with pytest.raises(ImportError):
        exec(f"from tapegrad.nn.modules.linear import {absent[0]}", {})
    with pytest.raises(AttributeError, match="has no attribute 'Frobnicate'"):
        tg.nn.modules.linear.Frobnicate  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'Frobnicate'"):
        tg.nn.modules.Frobnicate  # noqa: B018


def test_nn_modules_follow_layers_added_to_nn(monkeypatch):
    """A layer another file adds to tapegrad.nn appears under its PyTorch path without an edit here."""
    class PReLU(tg.nn.Module):
        pass

    class LSTM(tg.nn.Module):
        pass

    monkeypatch.setattr(tg.nn, "PReLU", PReLU, raising=False)
    monkeypatch.setattr(tg.nn, "LSTM", LSTM, raising=False)
    from tapegrad.nn.modules.activation import PReLU as found

    assert found is PReLU and tg.nn.modules.rnn.LSTM is LSTM and tg.nn.modules.LSTM is LSTM
    assert "LSTM" in tg.nn.modules.rnn.__all__ and "PReLU" in tg.nn.modules.__all__


@pytest.mark.parametrize("module", ["tapegrad.nn.modules", "tapegrad.nn.modules.utils", "tapegrad.nn.modules.linear",
                                    "tapegrad.optim.adamw", "tapegrad.types", "tapegrad.version",
                                    "tapegrad.utils.hooks"])
def test_doctests(module):
    assert doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_version_and_types():
    assert tg.version.cuda is None and tg.version.__version__ == tg.__version__
    assert isinstance(3, tg.types.Number) and isinstance("cpu", tg.types.Device) and isinstance(None, tg.types.Device)


# ---- against PyTorch: the claims are PyTorch's paths, and hold what tapegrad has ----

def _public_pytorch_paths():
    """Every public module path in the installed PyTorch, read from its files (nothing is imported)."""
    root = importlib.util.find_spec("torch").submodule_search_locations[0]

    def walk(path, prefix):
        for info in pkgutil.iter_modules([path]):
            if info.name.startswith("_"):
                continue
            name = f"{prefix}.{info.name}"
            yield name
            if info.ispkg:
                yield from walk(os.path.join(path, info.name), name)

    return {"torch", *walk(root, "torch")}


def _public_names(module):
    """PyTorch's public classes and functions of a module: its ``__all__``, else those defined in it or below."""
    listed = getattr(module, "__all__", None)
    names = set()
    for name in listed if listed is not None else dir(module):
        if name.startswith("_"):
            continue
        obj = getattr(module, name, None)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        home = getattr(obj, "__module__", None) or ""
        if listed is None and not (home == module.__name__ or home.startswith(module.__name__ + ".")):
            continue  # imported there for PyTorch's own use (Tensor, Module in every layer file)
        names.add(name)
    return names


def _has(module, name):
    return name in dir(module) and not inspect.ismodule(getattr(module, name))


def test_claimed_paths_are_pytorchs():
    pytest.importorskip("torch")
    public = _public_pytorch_paths()
    assert len(public) > 300  # the walk saw PyTorch's tree
    private = [p for p in CLAIMED if any(part.startswith("_") for part in p.split("."))]
    assert private == ["torch._dynamo"]  # torch.compile's home; imported by scripts that set its config
    assert sorted(set(CLAIMED) - public - set(private)) == []
    for root in ("torch.nn", "torch.optim", "torch.utils.data", "torch.amp", "torch.autograd"):
        assert root in public and any(p.startswith(root + ".") for p in public)


def test_names_at_pytorchs_paths():
    """For each claimed path, what PyTorch defines there and tapegrad has in the enclosing claimed package."""
    pytest.importorskip("torch")
    missing, checked = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in CLAIMED:
            if path == "torch":
                continue
            theirs = importlib.import_module(path)
            ours = importlib.import_module(_tapegrad_path(path))
            parts = path.split(".")
            enclosing = [importlib.import_module(_tapegrad_path(".".join(parts[:k])))
                         for k in range(2, len(parts)) if ".".join(parts[:k]) in CLAIMED]
            for name in sorted(_public_names(theirs)):
                if any(_has(package, name) for package in enclosing) or _has(ours, name):
                    checked += 1
                    if not hasattr(ours, name):
                        missing.append(f"{_tapegrad_path(path)}.{name}")
    assert missing == []
    assert checked > 300  # the check is not vacuous: nn.modules alone holds ~50 of tapegrad's layers


def test_nn_modules_table_is_pytorchs():
    pytest.importorskip("torch")
    from tapegrad.nn.modules import _table

    torch_modules = importlib.import_module("torch.nn.modules")
    for sub in _NN_MODULES:
        theirs = importlib.import_module(f"torch.nn.modules.{sub}")
        assert set(_table.PUBLIC[sub]) == _public_names(theirs), sub
        for name in _table.PRIVATE.get(sub, {}):
            assert hasattr(theirs, name), f"torch.nn.modules.{sub}.{name}"
        for name in importlib.import_module(f"tapegrad.nn.modules.{sub}").__all__:
            assert hasattr(theirs, name), f"torch.nn.modules.{sub}.{name}"
    assert set(tg.nn.modules.__all__) <= set(torch_modules.__all__)


def test_attribute_paths_are_pytorchs():
    pytest.importorskip("torch")
    assert _missing_attribute_paths("torch") == ""
