"""The walkthrough (docs/tutorial/): every code block runs; the outputs it shows and the numbers in its prose are
what the code gives; every figure it shows is drawn by its own code and committed.

Blocks marked ``<!-- quick: ... -->`` run with smaller experiments here (docs/tutorial/build.py): from the first
such block of a chapter on, outputs are only checked to exist, since their numbers differ by design.
"""

import importlib.util
import os
import pathlib
import re

import pytest

pytest.importorskip("matplotlib", reason="the walkthrough draws its figures with matplotlib (tapegrad[viz])")

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial"
_spec = importlib.util.spec_from_file_location("tapegrad_tutorial_build", TUTORIAL / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
CHAPTERS = build.chapters()


def test_there_are_the_chapters_of_the_issue():
    names = [os.path.basename(p) for p in CHAPTERS]
    assert [n.split("-")[0] for n in names] == ["1", "2", "3a", "3b", "3c", "3d", "3e", "4"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[os.path.basename(p) for p in CHAPTERS])
def test_chapter_runs_and_shows_what_its_code_prints(path, tmp_path):
    lines, blocks, outputs, values, first_quick = build.run_chapter(path, quick=True, workdir=str(tmp_path))
    assert blocks, "a chapter without code"
    for k, (block, printed) in enumerate(zip(blocks, outputs)):
        shown = block.output[2].rstrip("\n") if block.output else ""
        assert bool(shown) == bool(printed), f"block {k + 1}: the output block and what the code prints disagree"
        if k < first_quick:
            assert build.same_text(shown, printed), f"block {k + 1} shows\n{shown}\nbut prints\n{printed}"
    for expr, old, new in values:  # evaluated in every run; compared when no block ran with quick values
        if first_quick == len(blocks):
            assert old == new, f"the prose says {old!r} where {expr} is {new!r}"
    text = pathlib.Path(path).read_text()
    for image in build.IMAGE.findall(text):
        assert (tmp_path / image).is_file(), f"{image} is shown but its chapter's code does not draw it"


def test_every_figure_is_committed_and_shown():
    shown = set()
    for page in TUTORIAL.glob("*.md"):
        for image in build.IMAGE.findall(page.read_text()):
            assert (TUTORIAL / image).is_file(), f"{page.name} shows {image}, which is not committed"
            shown.add(image)
    committed = {f"images/{p.name}" for p in (TUTORIAL / "images").iterdir()}
    assert committed == shown, f"figures nothing shows: {sorted(committed - shown)}"


def test_links_between_pages_exist():
    for page in TUTORIAL.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+\.md)\)", page.read_text()):
            assert (TUTORIAL / target).is_file(), f"{page.name} links to {target}"


def test_readme_links_the_walkthrough_and_shows_a_picture_of_it():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/tutorial/README.md)" in readme
    assert re.search(r"!\[[^\]]*\]\(docs/tutorial/images/[^)]+\)", readme)


def test_output_comparison_tolerates_last_digits_only():
    assert build.same_text("loss 0.1234 after 20 steps", "loss 0.1235 after 20 steps")
    assert not build.same_text("loss 0.1234 after 20 steps", "loss 0.2234 after 20 steps")
    assert not build.same_text("loss 0.1234 after 20 steps", "loss 0.1234 after 21 steps, all finite")
    assert not build.same_text("2-2-1: 68%", "2-4-1: 68%")


def test_quick_values_must_name_a_line_of_the_block():
    quick = build.apply_quick("SEEDS = 100  # starts\nrun(SEEDS)\n", {"SEEDS": "4"})
    assert quick == "SEEDS = 4  # starts\nrun(SEEDS)\n"
    with pytest.raises(ValueError, match="EPOCHS"):
        build.apply_quick("SEEDS = 100\n", {"EPOCHS": "3"})


def test_parse_pairs_each_block_with_its_output(tmp_path):
    page = ("intro\n\n<!-- quick: N = 2 -->\n```python\nN = 5\nprint(N)\n```\n\n```text\n5\n```\n\n"
            "```python\nx = 1\n```\n")
    lines, blocks = build.parse(page)
    assert [b.quick for b in blocks] == [{"N": "2"}, {}]
    assert blocks[0].output[2] == "5\n" and blocks[1].output is None
