import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("fast", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(autouse=True)
def _seed():
    import tapegrad

    tapegrad.manual_seed(0)
    np.random.seed(0)
    yield


def pytest_configure(config):
    config.addinivalue_line("markers", "reference_cpu: compares bits PyTorch takes from MKL's or oneDNN's kernels for "
                                       "the CPU: runs only on the reference machine (tapegrad._cpu.reference_kernels)")


def pytest_runtest_setup(item):
    from tapegrad import _cpu

    if item.get_closest_marker("reference_cpu") and not _cpu.reference_kernels():
        pytest.skip(f"PyTorch's last bits and signs of zero here come from MKL/oneDNN kernels for this CPU "
                    f"({_cpu.vendor() or 'unknown vendor'}), not the reference machine's that tapegrad emulates "
                    f"(GenuineIntel with avx512_fp16)")
