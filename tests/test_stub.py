"""tapegrad/_tensor.pyi lists the runtime Tensor class: regenerate it (python tools/gen_stub.py) after adding ops."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_committed_stub_matches_the_runtime_class():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_stub.py"), "--check"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_the_stub_shows_op_methods_with_their_signatures():
    text = (ROOT / "tapegrad" / "_tensor.pyi").read_text()
    assert "    def exp(self) -> Tensor:" in text
    assert "    def add(self, other: Tensor | builtins.float, *, alpha: builtins.float = ...) -> Tensor:" in text
    assert "    def requires_grad_(self, requires_grad: builtins.bool = ..." in text


def test_the_stub_has_size_overloads_in_place_signatures_instance_attributes_and_hooks():
    text = (ROOT / "tapegrad" / "_tensor.pyi").read_text()
    assert "    @overload\n    def size(self, dim: None = ...) -> Size:" in text
    assert "    @overload\n    def size(self, dim: builtins.int) -> builtins.int: ..." in text
    assert "    def exp_(self) -> Tensor:" in text
    assert "    def __ilshift__(self, other: Tensor | builtins.float) -> Tensor:" in text
    assert "    type: builtins.str\n" in text  # device's attribute, set in its __init__
    assert "class Size(builtins.tuple[builtins.int, ...]):" in text  # x.shape[0] is an int, as in PyTorch's stub
    assert "\ndef on_requires_grad(t) -> None: ...\n" in text  # the hook autograd/inplace.py replaces at import
