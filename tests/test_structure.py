"""The structure the architecture promises (docs/architecture.md), read from the code itself.

- No import cycle among tapegrad's modules, counting imports inside functions and the package ``__init__``
  each import runs (importing ``tapegrad.autograd.tape`` runs ``tapegrad/autograd/__init__.py`` first).
- Versions and the write clock are autograd's and the in-place ops': nothing outside ``tapegrad/autograd/`` and
  ``tapegrad/ops/`` imports ``bump`` or the clock, or assigns a tensor's ``_version`` (layers, optimizers and
  Keras write through the public in-place ops or ``autograd.graph.increment_version``).
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tapegrad"


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(module, node, is_package, modules):
    """The absolute names of the modules an import node makes Python run."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    submodules = [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in modules]
    # ``from package import submodule`` runs the submodule; ``from module import name`` runs the module
    return submodules + ([prefix] if len(submodules) < len(node.names) else [])


def _import_graph():
    modules = _modules()
    graph = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if _type_checking_only(node, path):
                continue
            for name in _resolve(module, node, is_package, modules):
                parts = name.split(".")
                # the module itself and the package __init__s on the way, but its own ancestors (they have
                # started running before it) and tapegrad's own (it runs before everything)
                for k in range(2, len(parts) + 1):
                    target = ".".join(parts[:k])
                    own_ancestor = module == target or module.startswith(target + ".")
                    if target in modules and not (own_ancestor and k < len(parts)) and target != module:
                        graph[module].add(target)
                if name == "tapegrad" and module != "tapegrad":
                    graph[module].add("tapegrad")
    return graph


_GUARDED = {}


def _type_checking_only(node, path):
    """Imports under ``if TYPE_CHECKING:`` are for type checkers only."""
    _cache = _GUARDED
    if path not in _cache:
        tree = ast.parse(path.read_text())
        guarded = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
                guarded.update(id(x) for b in n.body for x in ast.walk(b))
        _cache[path] = {(x.lineno, x.col_offset) for x in ast.walk(tree)
                        if id(x) in guarded and isinstance(x, (ast.Import, ast.ImportFrom))}
    return (node.lineno, node.col_offset) in _cache[path]


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    scc = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        scc.append(w)
                        if w == v:
                            break
                    if len(scc) > 1:
                        out.append(sorted(scc))
    return out


def test_no_import_cycle():
    graph = _import_graph()
    graph.pop("tapegrad")  # the namespace imports everything; every module is imported after it has started
    cycles = _cycles({m: {t for t in e if t != "tapegrad"} for m, e in graph.items()})
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_nothing_imports_the_whole_namespace_from_inside():
    graph = _import_graph()
    offenders = sorted(m for m, edges in graph.items() if "tapegrad" in edges and m != "tapegrad")
    assert offenders == [], f"these modules import tapegrad itself (an import from above): {offenders}"


def test_the_core_layers_import_nothing_above_them():
    graph = _import_graph()
    layers = [{"tapegrad._optional"},  # imports nothing of tapegrad
              {"tapegrad._state", "tapegrad.dtypes", "tapegrad._printing", "tapegrad._version",
               "tapegrad.memory_formats"},
              {"tapegrad._tensor"},
              {"tapegrad.autograd.anomaly", "tapegrad.autograd.grad_mode"},
              {"tapegrad.autograd.tape", "tapegrad.autograd.scatter", "tapegrad.autograd.xp"},
              {"tapegrad.autograd.inplace"},
              {"tapegrad.autograd.declare"}]
    below = set()
    for layer in layers:
        for module in layer:
            above = {t for t in graph[module] if t not in below and t not in layer}
            assert not above, f"{module} imports {sorted(above)}, which are not below it"
        below |= layer


def test_versions_are_written_only_by_autograd():
    allowed = {"tapegrad._state", "tapegrad._tensor"}
    offenders = []
    for module, path in _modules().items():
        if module.startswith(("tapegrad.autograd", "tapegrad.ops")) or module in allowed:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name in ("bump", "clock", "_bump", "_clock")
                                                         for a in node.names):
                offenders.append(f"{module}: imports {[a.name for a in node.names]}")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Attribute) and t.attr in ("_version", "now", "_stamp"):
                        offenders.append(f"{module}:{node.lineno}: assigns .{t.attr}")
    assert offenders == [], "write through the in-place ops or autograd.graph.increment_version:\n" + "\n".join(
        offenders)
