"""Build the walkthrough: run every chapter's Python blocks, write their outputs into the chapters, draw the figures.

    python docs/tutorial/build.py            # all chapters, from scratch (make docs)
    python docs/tutorial/build.py 1- 3b      # the chapters whose file names start with these
    python docs/tutorial/build.py --quick 3b # run with the test's small values; print, do not write the chapter

A chapter is a markdown file; its ```python blocks run in order in one namespace, from the folder docs/tutorial/
(figures go to images/). What a block prints becomes the ```text block right after it. A number in the prose is
written between markers, <!--v EXPR-->TEXT<!--/v-->, and TEXT is replaced by str(EXPR) evaluated once the
chapter has run: every number in the walkthrough comes from its code.

The test suite (tests/test_tutorial.py) runs the same blocks quickly: a comment <!-- quick: NAME = VALUE; ... -->
just before a block makes the test set those names (the top-level lines ``NAME = ...`` of the block) to smaller
values. The test checks the printed outputs and the numbers in the prose of every chapter up to its first quick
block (after it the numbers differ by design), and that each figure the chapter shows is drawn by its code.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shutil
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
FENCE = re.compile(r"^```(\w*)\s*$")
QUICK = re.compile(r"^<!--\s*quick:(.*?)-->\s*$")
VALUE = re.compile(r"<!--v (.*?)-->(.*?)<!--/v-->", re.S)
IMAGE = re.compile(r"!\[[^\]]*\]\((images/[^)]+)\)")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")
# Graph.render's note when Graphviz is missing: it depends on the machine, not on the code
MACHINE_NOTES = ("draw_graph: the Graphviz 'dot' program is not installed",)


def chapters(prefixes=()):
    names = sorted(f for f in os.listdir(HERE) if f.endswith(".md") and f[0].isdigit())
    if prefixes:
        names = [n for n in names if any(n.startswith(p) for p in prefixes)]
    return [os.path.join(HERE, n) for n in names]


class Block:
    def __init__(self, start, end, code, quick):
        self.start, self.end, self.code, self.quick = start, end, code, quick  # lines [start, end) of the fence
        self.output = None  # (start, end, text) of the ```text block that follows, if any


def parse(text):
    """The python blocks of a chapter, each with its quick overrides and the output block after it."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise ValueError(f"line {i + 1}: a ``` block is never closed")
        body = "\n".join(lines[i + 1:j]) + "\n"
        if m.group(1) == "python":
            quick = {}
            if i > 0 and QUICK.match(lines[i - 1]):
                for part in QUICK.match(lines[i - 1]).group(1).split(";"):
                    if part.strip():
                        name, value = part.split("=", 1)
                        quick[name.strip()] = value.strip()
            blocks.append(Block(i, j + 1, body, quick))
        elif m.group(1) == "text" and blocks and blocks[-1].end <= i and all(
                not s.strip() for s in lines[blocks[-1].end:i]):
            blocks[-1].output = (i, j + 1, body)
        i = j + 1
    return lines, blocks


def apply_quick(code, quick):
    lines = code.split("\n")
    for name, value in quick.items():
        hits = [k for k, line in enumerate(lines) if re.match(rf"{re.escape(name)}\s*=", line)]
        if not hits:
            raise ValueError(f"quick: no top-level line '{name} = ...' in the block:\n{code}")
        for k in hits:
            comment = lines[k].split("#", 1)[1] if "#" in lines[k] else None
            lines[k] = f"{name} = {value}" + (f"  #{comment}" if comment else "")
    return "\n".join(lines)


def run_chapter(path, quick=False, workdir=None):
    """Run the chapter's blocks. Returns (lines, blocks, outputs, values, first_quick) where outputs[k] is what
    block k printed, values the prose markers as (expression, old text, new text) and first_quick the index of
    the first block run with quick values (len(blocks) if none)."""
    text = open(path, encoding="utf-8").read()
    lines, blocks = parse(text)
    namespace = {"__name__": "tutorial_" + os.path.basename(path)[:-3].replace("-", "_")}
    outputs, first_quick = [], len(blocks)
    previous = os.getcwd()
    os.chdir(workdir or HERE)
    os.makedirs("images", exist_ok=True)
    try:
        for k, block in enumerate(blocks):
            code = block.code
            if quick and block.quick:
                code = apply_quick(code, block.quick)
                first_quick = min(first_quick, k)
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow notes in the NaN demos
                try:
                    exec(compile(code, f"{os.path.basename(path)} block {k + 1} (line {block.start + 2})", "exec"),
                         namespace)
                except Exception as e:
                    raise RuntimeError(f"{os.path.basename(path)}: block {k + 1} (line {block.start + 2}) "
                                       f"failed: {e!r}\n{code}") from e
            printed = "\n".join(line for line in buffer.getvalue().split("\n")
                                if not line.startswith(MACHINE_NOTES))
            outputs.append(printed.rstrip("\n"))
        values = [(expr, old, str(eval(expr, namespace))) for expr, old in VALUE.findall(text)]
    finally:
        os.chdir(previous)
    return lines, blocks, outputs, values, first_quick


def same_text(expected, got, rtol=1e-2):
    """Equal, or equal but for numbers within ``rtol`` of each other (a last digit that depends on the BLAS)."""
    if expected.strip() == got.strip():
        return True
    words_e, words_g = NUMBER.split(expected.strip()), NUMBER.split(got.strip())
    nums_e, nums_g = NUMBER.findall(expected.strip()), NUMBER.findall(got.strip())
    if words_e != words_g or len(nums_e) != len(nums_g):
        return False
    return all(math.isclose(float(a), float(b), rel_tol=rtol, abs_tol=1e-300) for a, b in zip(nums_e, nums_g))


def write_chapter(path, lines, blocks, outputs, values):
    """The chapter with fresh output blocks and prose numbers, written atomically."""
    out = []
    cursor = 0
    for block, printed in zip(blocks, outputs):
        out.extend(lines[cursor:block.end])  # up to the block's closing fence
        cursor = block.end if block.output is None else block.output[1]  # the old output goes
        if printed:
            out.extend(["", "```text", printed, "```"])
    out.extend(lines[cursor:])
    text = "\n".join(out)
    replacements = iter(values)

    def fill(m):
        expr, _, new = next(replacements)
        return f"<!--v {expr}-->{new}<!--/v-->"

    text = VALUE.sub(fill, text)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    args = list(argv if argv is not None else sys.argv[1:])
    quick = "--quick" in args
    prefixes = [a for a in args if a != "--quick"]
    paths = chapters(prefixes)
    if not paths:
        raise SystemExit(f"build.py: no chapter starts with {' or '.join(prefixes)}")
    if quick:
        for path in paths:
            _, blocks, outputs, values, _ = run_chapter(path, quick=True)
            for k, printed in enumerate(outputs):
                print(f"--- {os.path.basename(path)} block {k + 1}\n{printed}")
            for expr, _, new in values:
                print(f"--- value {expr}: {new}")
        return
    if not prefixes:  # from scratch: every figure is drawn again
        shutil.rmtree(os.path.join(HERE, "images"), ignore_errors=True)
    os.makedirs(os.path.join(HERE, "images"), exist_ok=True)
    for path in paths:
        print(f"running {os.path.relpath(path)} ...", flush=True)
        lines, blocks, outputs, values, _ = run_chapter(path)
        write_chapter(path, lines, blocks, outputs, values)
        shown = IMAGE.findall(open(path, encoding="utf-8").read())
        missing = [p for p in shown if not os.path.exists(os.path.join(HERE, p))]
        if missing:
            raise SystemExit(f"build.py: {os.path.basename(path)} shows {missing}, which its code did not draw")
    print(f"built {len(paths)} chapters; figures in {os.path.relpath(os.path.join(HERE, 'images'))}")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository's tapegrad, from a fresh clone
    main()
