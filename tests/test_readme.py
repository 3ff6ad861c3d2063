"""The README: it starts with the two set-up commands, its Python examples run, its pictures and links exist."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["make demo", "make test"]
    assert README.index("```sh") < README.index("```python")


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("k", range(README.count("```python")))
def test_python_blocks_run(k, tmp_path, monkeypatch):
    block = re.findall(r"```python\n(.*?)```", README, re.S)[k]
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_example"}
    exec(compile(block, f"README.md python block {k}", "exec"), namespace)
    for name, value in list(namespace.items()):  # a block that defines a test runs it too
        if name.startswith("test_") and callable(value):
            value()


def test_pictures_and_links_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
