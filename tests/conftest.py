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
