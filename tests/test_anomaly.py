"""Anomaly mode (tapegrad.autograd.detect_anomaly): which op made a NaN or an infinity, forward and backward."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd import AnomalyWarning, Function


def test_off_by_default_and_restored():
    assert not tg.autograd.is_anomaly_enabled()
    with tg.autograd.detect_anomaly(check_nan=False):
        assert tg.autograd.is_anomaly_enabled() and not tg.autograd.is_anomaly_check_nan_enabled()
    assert not tg.autograd.is_anomaly_enabled() and tg.autograd.is_anomaly_check_nan_enabled()
    with tg.autograd.set_detect_anomaly(True):
        assert tg.autograd.is_anomaly_enabled()
    assert not tg.autograd.is_anomaly_enabled()


def test_a_rule_returning_inf_names_its_node_and_the_forward_line():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with tg.autograd.detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt().sum()  # the forward line the error must show
        with pytest.raises(RuntimeError) as err:
            y.backward()
    msg = str(err.value)
    assert "Function 'SqrtBackward0' returned non-finite values (inf) in its 0th output." in msg
    assert "y = x.sqrt().sum()" in msg and "test_anomaly.py" in msg


def test_without_anomaly_mode_the_same_backward_just_gives_inf():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])


def test_check_nan_false_keeps_the_traceback_for_errors_raised_in_a_rule():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("broken rule")

    x = tg.tensor([1.0], requires_grad=True)
    with tg.autograd.detect_anomaly(check_nan=False):
        y = Bad.apply(x)  # the line in the note
        with pytest.raises(ValueError, match="broken rule") as err:
            y.sum().backward()
    notes = "\n".join(getattr(err.value, "__notes__", []))
    assert "BadBackward" in notes and "y = Bad.apply(x)" in notes
    x.grad = None
    with tg.autograd.detect_anomaly(check_nan=False), np.errstate(divide="ignore"):
        x.sqrt().mul(0).sum().backward()  # no check: no error


def test_forward_names_the_first_op_that_made_a_non_finite_value():
    w = tg.tensor([1000.0, 1.0], requires_grad=True)
    with tg.autograd.detect_anomaly(), np.errstate(over="ignore", invalid="ignore"):
        with pytest.warns(AnomalyWarning, match="ExpBackward0 produced inf values from finite inputs"):
            p = w.exp() / w.exp().sum()
        with pytest.raises(RuntimeError) as err:
            (p * 0).sum().backward()
    msg = str(err.value)
    assert "DivBackward0" in msg and "The first op whose output became inf from finite inputs: ExpBackward0" in msg


@example(depth=3, start=100.0)
@given(depth=st.integers(1, 6), start=st.floats(0.5, 800.0))
def test_the_named_op_is_the_first_that_overflowed(depth, start):
    # exp applied `depth` times to `start`: the first exp whose result overflows float32 is the one named
    values = [np.float64(start)]
    for _ in range(depth):
        with np.errstate(over="ignore"):
            values.append(np.exp(min(values[-1], 1e4)))
    first = next((k for k in range(1, depth + 1) if values[k] > np.finfo(np.float32).max), None)
    x = tg.tensor([start], requires_grad=True)
    with tg.autograd.detect_anomaly(), np.errstate(over="ignore", invalid="ignore"), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = x
        for _ in range(depth):
            y = y.exp()
    named = [w for w in caught if issubclass(w.category, AnomalyWarning)]
    if first is None:
        assert not named
    else:
        assert len(named) == 1 and "ExpBackward0" in str(named[0].message)
        (marked,) = [t for t in _chain(y) if t._extra and "anomaly" in t._extra]
        assert _depth(marked) == first


def _chain(t):
    while t is not None:
        yield t
        t = t._parents[0] if t._parents else None


def _depth(t):
    return sum(1 for _ in _chain(t)) - 1


def test_decorator_form():
    @tg.autograd.detect_anomaly()
    def step(x):
        assert tg.autograd.is_anomaly_enabled()
        return (x * 2).sum()

    step(tg.ones(2, requires_grad=True)).backward()
    assert not tg.autograd.is_anomaly_enabled()
