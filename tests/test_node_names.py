"""Node names are data (issue 10): every op's ``grad_fn`` is PyTorch's node, by name.

The sweep draws calls from the differential harness's op table (``tests/differential/ops.py``, every public op):
for each entry, a few seeded calls on float64 tensors that require grad (a leaf, a non-leaf copy of it and a view of
that for in-place forms), run in both libraries; each result's ``grad_fn.name()`` (each differentiable output of a tuple,
and the tensor an in-place form wrote) must be PyTorch's. :data:`EXPECTED` lists the differences kept, each with
a one-line reason. ``python tests/test_node_names.py [seeds]`` prints every difference the sweep sees.
"""

from __future__ import annotations

import sys
import zlib
from collections import Counter

import pytest

torch = pytest.importorskip("torch")

from differential import core, ops  # noqa: E402

import tapegrad as tg  # noqa: E402

SEEDS = 10  # calls per entry of the op table

# (op as Call.op spells it, tapegrad's name, PyTorch's name) -> why they differ
EXPECTED: dict[tuple[str, str | None, str | None], str] = {}


def _name(t):
    try:
        fn = t.grad_fn
    except RuntimeError:  # (a multi-output view whose base was written: PyTorch raises)
        return "<raises>"
    return None if fn is None else fn.name()


class _Float64Gen(ops.Gen):
    """The harness's generator with float64 leaves that require grad wherever the entry lets it choose."""

    def dtype_(self, among=None):
        among = among or core.DTYPES
        return "float64" if "float64" in among else super().dtype_(among)

    def leaf(self, shape=None, dtype=None, rg=None, dtypes=None, ndims=(0, 3), values=None):
        return super().leaf(shape, dtype, True if rg is None else rg, dtypes, ndims, values)


def sweep(spec, seeds=range(SEEDS), programs=None):
    """The (op, tapegrad's name, PyTorch's name) differences of ``seeds`` calls drawn from ``spec`` (and the
    program of each into ``programs``, if given)."""
    found = Counter()
    salt = zlib.crc32(spec.name.encode())
    for seed in seeds:
        r = core.Runner()
        g = _Float64Gen(core.RandomSource(salt + seed), r)
        try:
            x = g.leaf(dtype="float64", rg=True)
            r.run(core.Call("method", "clone", (x,)))  # a non-leaf for in-place forms to write
            if seed % 2:  # and a view of it, to write through
                r.run(core.Call("method", "view", (core.Ref(1), -1)))
            call = spec.gen(g)
        except ops.Stop:
            continue
        if call is None or r.stopped or ops.crashes_pytorch(call, r):
            continue
        refs = core._refs(call.args) + core._refs(call.kwargs)
        new = r.run(call)
        if r.stopped:  # the libraries disagree on more than names: the differential test's business
            continue
        written = [refs[0].i] if refs and (call.kind in ("iop", "setitem") or call.name.endswith("_")) else []
        for i in new + written:
            here, there = _name(r.here[i]), _name(r.there[i])
            if here != there:
                found[(call.op, here, there)] += 1
                if programs is not None:
                    programs.setdefault((call.op, here, there), "\n".join(r.lines))
    return found


@pytest.mark.parametrize("spec", ops.SPECS, ids=lambda s: s.name)
def test_node_names_are_pytorchs(spec):
    unexpected = sorted(k for k in sweep(spec) if k not in EXPECTED)
    assert not unexpected, "grad_fn names that differ from PyTorch's (op, tapegrad, PyTorch): " + repr(unexpected)


def test_expected_entries_have_reasons():
    assert all(isinstance(v, str) and v for v in EXPECTED.values())
    assert tg.__name__ == "tapegrad"


if __name__ == "__main__":  # every difference the sweep sees, with counts
    n = int(sys.argv[1]) if len(sys.argv) > 1 else SEEDS
    total, programs = Counter(), {}
    for s in ops.SPECS:
        total.update(sweep(s, range(n), programs))
    for key, count in sorted(total.items()):
        print(count, key, "(expected)" if key in EXPECTED else "")
        if "-v" in sys.argv:
            print("    " + programs[key].replace("\n", "\n    "))
