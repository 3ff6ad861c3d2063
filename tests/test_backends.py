"""torch.backends flags, float32 matmul precision, deterministic algorithms, and the cuda/cpu device modules."""

import doctest
import subprocess
import sys

import pytest

import tapegrad as tg


@pytest.fixture(autouse=True)
def _restore_flags():
    yield
    tg.set_float32_matmul_precision("highest")
    tg.use_deterministic_algorithms(False)


def test_matmul_precision_is_tied_to_allow_tf32():
    assert tg.get_float32_matmul_precision() == "highest" and tg.backends.cuda.matmul.allow_tf32 is False
    tg.backends.cuda.matmul.allow_tf32 = True
    assert tg.get_float32_matmul_precision() == "high"
    tg.set_float32_matmul_precision("medium")
    assert tg.backends.cuda.matmul.allow_tf32 is True and tg.get_float32_matmul_precision() == "medium"
    tg.set_float32_matmul_precision("highest")
    assert tg.backends.cuda.matmul.allow_tf32 is False
    with pytest.warns(UserWarning, match="bogus is not one of 'highest', 'high', or 'medium'"):
        tg.set_float32_matmul_precision("bogus")
    assert tg.get_float32_matmul_precision() == "highest"
    with pytest.raises(RuntimeError, match="set_float32_matmul_precision expects a str, but got int"):
        tg.set_float32_matmul_precision(3)


def test_matmul_flags_refuse_unknown_names():
    m = tg.backends.cuda.matmul
    assert m.allow_fp16_reduced_precision_reduction is True and m.allow_bf16_reduced_precision_reduction is True
    m.allow_fp16_reduced_precision_reduction = False
    try:
        assert m.allow_fp16_reduced_precision_reduction is False
    finally:
        m.allow_fp16_reduced_precision_reduction = True
    with pytest.raises(AttributeError, match="Unknown attribute allow_tf3"):
        m.allow_tf3 = True
    with pytest.raises(AttributeError, match="Unknown attribute nothing"):
        m.nothing


def test_cudnn_and_mps_and_sdp_flags():
    cudnn = tg.backends.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (True, False, False, True)
    assert not cudnn.is_available() and not tg.backends.mps.is_available() and not tg.backends.mps.is_built()
    cuda = tg.backends.cuda
    assert cuda.flash_sdp_enabled() and cuda.math_sdp_enabled() and not cuda.is_built()
    cuda.enable_flash_sdp(False)
    try:
        assert not cuda.flash_sdp_enabled()
    finally:
        cuda.enable_flash_sdp(True)


def test_deterministic_algorithms():
    assert not tg.are_deterministic_algorithms_enabled() and tg.get_deterministic_debug_mode() == 0
    tg.use_deterministic_algorithms(True)
    assert tg.are_deterministic_algorithms_enabled() and not tg.is_deterministic_algorithms_warn_only_enabled()
    assert tg.get_deterministic_debug_mode() == 2
    tg.use_deterministic_algorithms(True, warn_only=True)
    assert tg.is_deterministic_algorithms_warn_only_enabled() and tg.get_deterministic_debug_mode() == 1
    tg.set_deterministic_debug_mode("default")
    assert not tg.are_deterministic_algorithms_enabled()
    tg.set_deterministic_debug_mode("error")
    assert tg.get_deterministic_debug_mode() == 2
    with pytest.raises(TypeError, match="argument 'mode' \\(position 1\\) must be bool, not str"):
        tg.use_deterministic_algorithms("x")
    with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`, but got bogus"):
        tg.set_deterministic_debug_mode("bogus")
    with pytest.raises(RuntimeError, match="expected 0, 1, or 2, but got 3"):
        tg.set_deterministic_debug_mode(3)
    with pytest.raises(TypeError, match="debug_mode must be str or int"):
        tg.set_deterministic_debug_mode(1.5)


def test_cuda_and_cpu_device_modules():
    cuda = tg.cuda
    assert not cuda.is_available() and cuda.device_count() == 0 and not cuda.is_bf16_supported()
    assert cuda.memory_allocated() == 0 and cuda.max_memory_allocated() == 0 and not cuda.is_initialized()
    cuda.empty_cache()
    for fn in (cuda.synchronize, cuda.current_device, cuda.get_device_name):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            fn()
    assert tg.cpu.is_available() and tg.cpu.device_count() == 1 and tg.cpu.current_device() == "cpu"
    tg.cpu.synchronize()


def test_module_paths_import():
    code = ("import tapegrad.cuda.amp, tapegrad.cpu.amp, tapegrad.amp.grad_scaler, tapegrad.amp.autocast_mode, "
            "tapegrad.backends.cuda, tapegrad.backends.cudnn, tapegrad.backends.mps, tapegrad._dynamo.config, "
            "tapegrad._dynamo.eval_frame, tapegrad.compiler; "
            "from tapegrad.cuda.amp import GradScaler, autocast; from tapegrad.amp import GradScaler")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flags_match_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        seen = [lib.get_float32_matmul_precision(), lib.backends.cuda.matmul.allow_tf32,
                lib.backends.cudnn.allow_tf32, lib.backends.cudnn.benchmark, lib.backends.cudnn.deterministic,
                lib.backends.cudnn.enabled, lib.backends.mps.is_available(), lib.are_deterministic_algorithms_enabled(),
                lib.cuda.is_bf16_supported()]
        lib.backends.cuda.matmul.allow_tf32 = True
        seen.append(lib.get_float32_matmul_precision())
        lib.set_float32_matmul_precision("medium")
        seen.append(lib.backends.cuda.matmul.allow_tf32)
        lib.set_float32_matmul_precision("highest")
        seen.append(lib.backends.cuda.matmul.allow_tf32)
        lib.use_deterministic_algorithms(True, warn_only=True)
        seen.append(lib.get_deterministic_debug_mode())
        lib.use_deterministic_algorithms(False)
        if lib is tg:
            ours = seen
    assert ours == seen


def test_doctests():
    for module in (tg.backends, tg.backends.cuda, tg.cuda, tg.cpu):
        assert doctest.testmod(module).failed == 0
