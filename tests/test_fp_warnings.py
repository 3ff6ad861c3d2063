"""IEEE overflow, division by zero and invalid operations are silent, as in PyTorch: numpy's "... encountered in
..." RuntimeWarnings raised from tapegrad's code are filtered at import; numpy code outside tapegrad still warns.
Run in a subprocess under ``python -W error``, where any warning that leaks is an exception."""

import subprocess
import sys
import textwrap

import pytest

SILENT = """
import math
import numpy as np
import tapegrad as tg
inf = math.inf
F = tg.nn.functional
tg.tensor([[inf, 1.0]]) @ tg.tensor([[0.0], [1.0]])             # inf * 0 in a matmul
F.linear(tg.tensor([[inf, 1.0]]), tg.tensor([[0.0, 1.0]]))
tg.tensor([0.0]).log(), tg.tensor([-1.0]).sqrt(), tg.tensor([1.0]) / 0, tg.tensor([1e30]) * 1e30
tg.tensor([1e38]).half(), tg.tensor([70000.0], dtype=tg.float16) * 2, tg.tensor([10.0]) ** 400
for f in (tg.log, tg.sqrt, tg.rsqrt, tg.reciprocal, tg.acos, tg.atanh):
    x = tg.tensor([0.0, -1.0, 2.0], requires_grad=True)
    f(x).sum().backward()                                         # inf and NaN gradients
v0 = tg.tensor([1.0, 0.5], dtype=tg.float16, requires_grad=True)
v1 = tg.tensor(-3e38, requires_grad=True)
tg.addcmul(v0, v1, v0).backward(tg.zeros(2, dtype=tg.float16))  # a float16 cast that overflows
x = tg.tensor([inf, -inf, 1.0], requires_grad=True)
x.sum(), x.mean(), x.var(), x.std(), x.prod(), x.norm(), (x * 0).sum(0)   # inf - inf in numpy's reductions
y = tg.tensor([-inf, inf, -2.0, 0.0, -0.0], requires_grad=True)
e = tg.tensor(3.0, requires_grad=True)
tg.pow(y, e).sum().backward()
print("silent")
"""


def _run(code):
    return subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_floating_point_exceptions_in_tapegrad_are_silent_as_in_pytorch():
    done = _run(SILENT)
    assert done.returncode == 0 and done.stdout.strip() == "silent", done.stderr[-2000:]


@pytest.mark.parametrize("code", ["np.log(np.zeros(1))", "np.ones(1) / 0", "np.float16(7e4) * np.float16(2)",
                                  "np.sum(np.array([np.inf, -np.inf]))", "np.add.reduce(np.array([np.inf, -np.inf]))"])
def test_numpy_outside_tapegrad_still_warns(code):
    done = _run(f"import numpy as np\nimport tapegrad\n{code}")
    assert done.returncode != 0 and "RuntimeWarning" in done.stderr and "encountered in" in done.stderr


def test_the_filter_takes_numpys_floating_point_messages_from_tapegrad_only():
    """tapegrad's (and PyTorch's) own warnings, RuntimeWarnings among them, still reach the user, and so do numpy's
    messages raised from another package whose name starts alike."""
    done = _run("""
    import warnings
    import tapegrad
    def warns(message, module):
        try:
            warnings.warn_explicit(message, RuntimeWarning, "f.py", 1, module=module)
        except RuntimeWarning:
            return True
        return False
    assert not warns("overflow encountered in multiply", "tapegrad.ops.elementwise")
    assert not warns("invalid value encountered in matmul", "tapegrad")
    assert warns("an anomaly", "tapegrad.autograd.anomaly")
    assert warns("overflow encountered in multiply", "tapegrad_extras")
    print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
