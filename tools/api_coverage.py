"""How much of PyTorch's public API tapegrad has, per namespace, counted against the installed PyTorch.

    python tools/api_coverage.py                  # the table (needs PyTorch: run it in .venv-torch)
    python tools/api_coverage.py --missing nn     # also list what a namespace lacks
    python tools/api_coverage.py --markdown       # the table as markdown, for the README

A name counts when tapegrad has it under the same path. Names that cannot exist in a CPU-only, single-process,
numpy library are not counted in the denominator; ``EXCLUDED`` lists each with the reason, and the table shows
how many were left out.
"""

from __future__ import annotations

import argparse
import inspect
import sys

# name -> why tapegrad does not have it (not counted against it)
EXCLUDED = {
    "nn": {
        "SyncBatchNorm": "synchronises batch statistics across GPUs",
        "LazyModuleMixin": "a mixin, not a layer",
        "Container": "deprecated alias kept by PyTorch for pickles",
        "UninitializedParameter": "part of the lazy-module machinery, not a layer",
        "UninitializedBuffer": "part of the lazy-module machinery, not a layer",
        "RNNCellBase": "a base class",
        "RNNBase": "a base class",
    },
    "functional": {
        "Callable": "a typing name", "DType": "a typing name", "Optional": "a typing name",
        "Tensor": "the class, re-exported", "ScalingType": "an enum of scaled_mm (FP8 on GPUs)",
        "SwizzleType": "an enum of scaled_mm (FP8 on GPUs)", "scaled_mm": "FP8 matrix products on GPUs",
        "scaled_grouped_mm": "FP8 matrix products on GPUs", "handle_torch_function": "PyTorch's dispatch internals",
        "has_torch_function": "PyTorch's dispatch internals",
        "has_torch_function_unary": "PyTorch's dispatch internals",
        "has_torch_function_variadic": "PyTorch's dispatch internals", "boolean_dispatch": "PyTorch's internals",
        "assert_int_or_pair": "PyTorch's internals",
    },
    "optim": {"SparseAdam": "tapegrad has no sparse tensors", "Optimizer": "the base class"},
    "lr_scheduler": {"_LRScheduler": "deprecated alias of LRScheduler", "LRScheduler": "the base class"},
}


def _classes(module, base):
    return {n for n in dir(module)
            if inspect.isclass(getattr(module, n, None)) and issubclass(getattr(module, n), base)}


def namespaces(torch):
    """{namespace: (PyTorch's names, where tapegrad looks them up)}."""
    import torch.nn.functional as F

    tensor_attrs = {n for n in dir(torch.Tensor) if not n.startswith("_")}
    return {
        "nn": (_classes(torch.nn, torch.nn.Module), "tapegrad.nn"),
        "functional": ({n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))},
                       "tapegrad.nn.functional"),
        "torch functions": ({n for n in dir(torch) if not n.startswith("_") and callable(getattr(torch, n, None))
                             and n in tensor_attrs}, "tapegrad"),
        "Tensor": (tensor_attrs, "tapegrad.Tensor"),
        "optim": (_classes(torch.optim, torch.optim.Optimizer), "tapegrad.optim"),
        "lr_scheduler": (_classes(torch.optim.lr_scheduler, torch.optim.lr_scheduler.LRScheduler)
                         | {"ReduceLROnPlateau"}, "tapegrad.optim.lr_scheduler"),
        "linalg": ({n for n in dir(torch.linalg) if not n.startswith("_") and callable(getattr(torch.linalg, n))},
                   "tapegrad.linalg"),
        "special": ({n for n in dir(torch.special) if not n.startswith("_") and callable(getattr(torch.special, n))},
                    "tapegrad.special"),
        "distributions": ({n for n in dir(torch.distributions) if not n.startswith("_")
                           and inspect.isclass(getattr(torch.distributions, n))}
                          | {"kl_divergence", "register_kl"}, "tapegrad.distributions"),
    }


def _lookup(path):
    import importlib

    parts = path.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for p in parts[k:]:
            obj = getattr(obj, p, None)
            if obj is None:
                return None
        return obj
    return None


def count(torch):
    rows = []
    for name, (theirs, where) in namespaces(torch).items():
        excluded = set(EXCLUDED.get(name, {})) & theirs
        counted = theirs - excluded
        ours = _lookup(where)
        have = {n for n in counted if ours is not None and hasattr(ours, n)}
        rows.append((name, where, len(have), len(counted), len(excluded), sorted(counted - have)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", nargs="*", help="namespaces whose missing names to list (none: all)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("api_coverage: PyTorch is not installed here (make bench-torch builds .venv-torch with it)",
              file=sys.stderr)
        return 2
    rows = count(torch)
    if args.markdown:
        print(f"| namespace | tapegrad has | of PyTorch {torch.__version__.split('+')[0]}'s | share | not counted |")
        print("|---|---|---|---|---|")
        for _name, where, have, total, excluded, _ in rows:
            print(f"| `{where}` | {have} | {total} | {have / max(total, 1):.0%} | {excluded} |")
    else:
        for _name, where, have, total, excluded, _ in rows:
            print(f"{where:32s} {have:4d} / {total:4d}  {have / max(total, 1):6.1%}  (not counted: {excluded})")
    if args.missing is not None:
        for name, where, _, _, _, missing in rows:
            if not args.missing or name in args.missing:
                print(f"\n{where} lacks {len(missing)}: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
