"""Module-level names PyTorch scripts use: constants, torch.cuda, torch.backends, set_printoptions."""

import importlib
import math

import pytest

import tapegrad as tg


def test_math_constants_are_pythons_floats():
    assert tg.pi == math.pi and tg.e == math.e and tg.inf == math.inf and math.isnan(tg.nan)
    assert all(type(v) is float for v in (tg.pi, tg.e, tg.inf, tg.nan))


def test_cuda_is_not_available_and_seeding_it_is_a_no_op():
    assert tg.cuda.is_available() is False and tg.cuda.device_count() == 0
    tg.cuda.manual_seed(0)  # silently ignored without CUDA, as PyTorch
    tg.cuda.manual_seed_all(0)
    device = "cuda" if tg.cuda.is_available() else "cpu"  # the usual script line picks the CPU
    assert tg.zeros(2, device=device).device == "cpu"


def test_backends_answer_as_a_cpu_only_pytorch_and_keep_flags():
    assert tg.backends.mps.is_available() is False and tg.backends.mps.is_built() is False
    assert tg.backends.cudnn.is_available() is False and tg.backends.cudnn.version() is None
    assert tg.backends.cuda.is_built() is False
    cudnn = importlib.import_module("tapegrad.backends.cudnn")  # `import torch.backends.cudnn as cudnn`
    defaults = (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32,
                tg.backends.cuda.matmul.allow_tf32)
    assert defaults == (True, False, False, True, False)  # PyTorch's defaults
    try:
        cudnn.benchmark = True
        cudnn.deterministic = True
        tg.backends.cuda.matmul.allow_tf32 = True
        assert tg.backends.cudnn.benchmark and tg.backends.cudnn.deterministic
        assert tg.backends.cuda.matmul.allow_tf32
    finally:
        cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = defaults[:4]
        tg.backends.cuda.matmul.allow_tf32 = defaults[4]


@pytest.fixture
def print_options():
    from tapegrad._printing import PRINT_OPTS

    yield PRINT_OPTS
    tg.set_printoptions(profile="default")


def test_set_printoptions_keeps_the_options_as_pytorch(print_options):
    from tapegrad._printing import get_printoptions

    assert get_printoptions() == dict(precision=4, threshold=1000, edgeitems=3, linewidth=80, sci_mode=None)
    tg.set_printoptions(precision=2, sci_mode=False)
    assert print_options.precision == 2 and print_options.sci_mode is False
    tg.set_printoptions(threshold=5)  # sci_mode goes back to None (automatic) unless given, as in PyTorch
    assert print_options.precision == 2 and print_options.threshold == 5 and print_options.sci_mode is None
    tg.set_printoptions(profile="short", linewidth=120)
    assert get_printoptions() == dict(precision=2, threshold=1000, edgeitems=2, linewidth=120, sci_mode=None)
    tg.set_printoptions(profile="full")
    assert print_options.threshold == math.inf and print_options.precision == 4
    tg.set_printoptions(profile="default")
    assert get_printoptions() == dict(precision=4, threshold=1000, edgeitems=3, linewidth=80, sci_mode=None)
    with pytest.raises(ValueError, match=r"set_printoptions: profile must be one of \['default', 'full', 'short'\], "
                                         r"got 'long'"):
        tg.set_printoptions(profile="long")


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert (tg.cuda.is_available(), tg.backends.mps.is_available()) == (False, False) or torch.cuda.is_available()
    for name in ("pi", "e", "inf"):
        assert getattr(tg, name) == getattr(torch, name)
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(tg.backends.cudnn, name) == getattr(torch.backends.cudnn, name)
    assert tg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
