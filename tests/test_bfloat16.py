"""tapegrad.bfloat16: the name, tensors of it, PyTorch's promotion rules and finfo, and the message when the
ml_dtypes package (the bfloat16 extra) is missing (simulated in a subprocess, not uninstalled)."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import dtypes

pytest.importorskip("ml_dtypes")

OTHERS = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
# torch.result_type(bfloat16 tensor, other tensor) for dimensioned operands (PyTorch 2.13), and with the other
# operand 0-d (it promotes across categories only)
WITH = {"bool": "bfloat16", "uint8": "bfloat16", "int8": "bfloat16", "int16": "bfloat16", "int32": "bfloat16",
        "int64": "bfloat16", "float16": "float32", "float32": "float32", "float64": "float64"}
WITH_ZERO_DIM = {name: "bfloat16" for name in OTHERS}


def test_the_name_and_tensors_of_it():
    assert tg.bfloat16 is dtypes.bfloat16 and tg.bfloat16 != tg.float16 and tg.float16 is tg.half
    x = tg.tensor([1.0, 1 / 3, 100.7], dtype=tg.bfloat16)
    assert x.dtype == tg.bfloat16 and x.element_size() == 2
    np.testing.assert_array_equal(x.float().numpy(), np.array([1.0, 0.333984375, 100.5], np.float32))
    assert repr(x) == "tensor([  1.0000,   0.3340, 100.5000], dtype=tapegrad.bfloat16)"  # PyTorch's print
    assert tg.tensor([1.5]).bfloat16().dtype == tg.bfloat16
    assert tg.tensor([1.5]).to(tg.bfloat16).dtype == tg.bfloat16
    assert tg.tensor([1.5]).type("torch.BFloat16Tensor").dtype == tg.bfloat16
    assert tg.zeros(2, dtype=tg.bfloat16).dtype == tg.bfloat16
    assert tg.tensor([1.5], dtype="bfloat16").dtype == tg.bfloat16
    table = {tg.float16: "half", tg.bfloat16: "bf16"}  # a dtype table holds both names
    assert table[tg.tensor([1.0]).bfloat16().dtype] == "bf16"


def test_rounding_is_to_nearest_even_as_pytorch():
    # PyTorch 2.13's values: ties to even, subnormals kept
    values = np.array([1.00390625, 1.01171875, 3.0e38, -2.5e-39, 65504.0], np.float32)
    got = tg.tensor(values).bfloat16().float().numpy()
    expected = np.array([1.0, 1.015625, 3.00405527047391e38, -2.4795583962657627e-39, 65536.0], np.float32)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("other", OTHERS)
def test_promotion_follows_pytorch(other):
    b = tg.ones(2, dtype=tg.bfloat16)._data
    o = tg.ones(2, dtype=getattr(tg, other))._data
    assert str(dtypes.promote(b, o)) == WITH[other] and str(dtypes.promote(o, b)) == WITH[other]
    assert str(dtypes.promote(b, o[0])) == WITH_ZERO_DIM[other]
    assert str((tg.ones(2, dtype=tg.bfloat16) + tg.ones(2, dtype=getattr(tg, other))).dtype) == WITH[other]
    assert (tg.ones(2, dtype=tg.bfloat16) + 2.5).dtype == tg.bfloat16
    assert (tg.ones(2, dtype=tg.int64) * tg.tensor(2.0, dtype=tg.bfloat16)).dtype == tg.bfloat16
    assert dtypes.is_floating(tg.bfloat16) and dtypes.category(tg.bfloat16) == 2


@pytest.mark.parametrize("shape", [(), (2,)])
def test_a_python_number_keeps_bfloat16_also_beside_a_0d_tensor(shape):
    # the number was made a float32 constant (bfloat16's numpy kind is 'V', not 'f'), which a 0-d operand then took
    x = tg.full(shape, 1.5, dtype=tg.bfloat16)
    for result in (x * 0.1, 0.1 * x, x + 0.1, x - 2.5, x * 2, x ** 2.0):
        assert result.dtype == tg.bfloat16
    assert (x * 0.1).float().tolist() == np.full(shape, 0.150390625).tolist()  # PyTorch's: 1.5 * 0.1 rounded once


def test_promotion_matches_pytorch():
    torch = pytest.importorskip("torch")
    for other, zero in itertools.product(OTHERS, (False, True)):
        shape = () if zero else (2,)
        theirs = torch.result_type(torch.ones(2, dtype=torch.bfloat16), torch.ones(shape, dtype=getattr(torch, other)))
        expected = WITH_ZERO_DIM[other] if zero else WITH[other]
        assert str(theirs) == f"torch.{expected}", (other, zero)


def test_finfo_and_can_cast():
    f = tg.finfo(tg.bfloat16)
    assert (f.bits, f.eps, f.tiny, f.resolution, f.dtype) == (16, 0.0078125, 2 ** -126, 0.01, "bfloat16")
    assert f.max == 3.3895313892515355e38 and f.min == -f.max
    assert dtypes.can_cast(tg.bfloat16, tg.float16) and not dtypes.can_cast(tg.bfloat16, tg.int64)
    assert dtypes.can_cast(tg.float32, tg.bfloat16) and dtypes.can_cast(tg.int64, tg.bfloat16)
    torch = pytest.importorskip("torch")
    t = torch.finfo(torch.bfloat16)
    assert (t.bits, t.eps, t.max, t.min, t.tiny, t.resolution) == (f.bits, f.eps, f.max, f.min, f.tiny,
                                                                    f.resolution)


def test_elementwise_arithmetic_computes_in_float32_and_rounds_as_pytorch():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(50).astype(np.float32), rng.standard_normal(50).astype(np.float32)
    x, y = tg.tensor(a).bfloat16(), tg.tensor(b).bfloat16()
    xf, yf = x.float().numpy(), y.float().numpy()
    for got, exact in ((x + y, xf + yf), (x * y, xf * yf), (x - y, xf - yf), (-x, -xf)):
        assert got.dtype == tg.bfloat16
        np.testing.assert_array_equal(got.float().numpy(), tg.tensor(exact).bfloat16().float().numpy())
    torch = pytest.importorskip("torch")
    tx, ty = torch.tensor(a).bfloat16(), torch.tensor(b).bfloat16()
    for ours, theirs in ((x + y, tx + ty), (x * y, tx * ty), (x - y, tx - ty), (x + 2.5, tx + 2.5)):
        np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_missing_ml_dtypes_names_the_extra():
    code = ("import sys; sys.modules['ml_dtypes'] = None\n"
            "import tapegrad as tg\n"
            "assert repr(tg.bfloat16) == 'tapegrad.bfloat16'\n"
            "table = {tg.bfloat16: 'bf16', tg.float16: 'half'}\n"
            "for make in (lambda: tg.tensor([1.0], dtype=tg.bfloat16), lambda: tg.zeros(2, dtype=tg.bfloat16),\n"
            "             lambda: tg.ones(2).to(tg.bfloat16), lambda: tg.ones(2).bfloat16(),\n"
            "             lambda: tg.finfo(tg.bfloat16)):\n"
            "    try:\n"
            "        make()\n"
            "    except ImportError as e:\n"
            "        assert 'pip install tapegrad[bfloat16]' in str(e) and 'ml_dtypes' in str(e), str(e)\n"
            "    else:\n"
            "        raise AssertionError('no ImportError')\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
