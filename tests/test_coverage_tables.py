"""The coverage tables in docs/coverage/ list every public op, and every test they cite exists.

An op missing from the tables is a bug (issue 3): this test is what makes that true.
"""

import importlib
import inspect
import pathlib
import re

import pytest

import tapegrad.nn as nn
import tapegrad.nn.functional as F
import tapegrad.optim as optim
import tapegrad.optim.lr_scheduler as lr_scheduler

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLES = sorted(p for p in (ROOT / "docs" / "coverage").glob("*.md") if p.name != "README.md")
OP_MODULES = ["elementwise", "reduce", "linalg", "shape", "index", "conv", "sampling", "sort",
              "extra_math", "forms", "combine", "counting", "scatter_extra"]


def _table_text():
    return "\n".join(p.read_text() for p in TABLES)


def _listed_names():
    """Every identifier in the first cell of a table row (the op column)."""
    names = set()
    for line in _table_text().splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line.split("|")[1]))
    return names


def _public_classes(module):
    return [n for n, v in vars(module).items() if inspect.isclass(v) and not n.startswith("_")
            and v.__module__.startswith(module.__name__)]


def _public_api():
    api = []
    for name in OP_MODULES:
        module = importlib.import_module("tapegrad.ops." + name)
        api += [(f"tapegrad.{n}", n) for n in module.__all__]
    api += [(f"nn.functional.{n}", n) for n in getattr(F, "__all__", ())]
    api += [(f"nn.{n}", n) for n in _public_classes(nn)]
    api += [(f"optim.{n}", n) for n in _public_classes(optim)]
    api += [(f"optim.lr_scheduler.{n}", n) for n in _public_classes(lr_scheduler)]
    return api


def test_the_tables_exist():
    assert len(TABLES) >= 10


@pytest.mark.parametrize("qualified,name", _public_api(), ids=lambda v: v if "." in v else "")
def test_every_public_op_is_in_a_coverage_table(qualified, name):
    assert name in _listed_names(), f"{qualified} is not listed in any table under docs/coverage/"


def test_every_cited_test_exists():
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined.update(re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(), re.M))
    cited = set(re.findall(r"`(test_\w+)", _table_text())) - {p.stem for p in (ROOT / "tests").glob("*.py")}
    missing = sorted(cited - defined)
    assert not missing, f"cited in docs/coverage/ but not defined in tests/: {missing}"
