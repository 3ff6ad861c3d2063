"""The benchmark workloads' correctness cross-checks, at reduced sizes (no timing here).

Each workload's tapegrad implementation must compute what its hand-written numpy reference computes: the same
losses and parameters after 2 steps from the same weights (W2-W4), the same chain values and gradients (W1),
the same logits (W6). The harness must also catch a fast wrong answer.
"""

import functools
import pathlib
import sys

import numpy as np
import pytest

import tapegrad

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import harness  # noqa: E402
import run  # noqa: E402
import training  # noqa: E402
import w1_overhead  # noqa: E402
import w2_char_mlp  # noqa: E402
import w3_mlp  # noqa: E402
import w4_cnn  # noqa: E402
import w5_memory  # noqa: E402
import w6_inference  # noqa: E402

LIBS = {"tapegrad": tapegrad}
SMALL_MLP = (20, 16, 16, 10)


def _w2_parts():
    model = functools.partial(w2_char_mlp.model, hidden=16)
    return model, w2_char_mlp.numpy_forward_backward, w2_char_mlp.problem(hidden=16, batch=8, n_batches=2)


def _w3_parts():
    return w3_mlp.model_for(SMALL_MLP), w3_mlp.numpy_forward_backward, w3_mlp.problem(SMALL_MLP, batch=8,
                                                                                        n_batches=2)


def _w4_parts():
    return (w4_cnn.model_for((1, 4, 8), side=8), w4_cnn.numpy_forward_backward,
            w4_cnn.problem((1, 4, 8), side=8, batch=4, n_batches=2))


PARTS = {"W2": _w2_parts, "W3": _w3_parts, "W4": _w4_parts}


@pytest.mark.parametrize("shape", [(), (5,)])
def test_w1_chain_matches_numpy(shape):
    assert w1_overhead.check(LIBS, shape, ops=300) == []


@pytest.mark.parametrize("workload", sorted(PARTS))
def test_training_step_matches_numpy(workload):
    model, numpy_fb, problem = PARTS[workload]()
    trainers = training.make_trainers(LIBS, model, numpy_fb, problem)
    assert training.check(workload, trainers, steps=2) == []


def test_w6_inference_matches_numpy():
    fns = w6_inference.forwards(LIBS, SMALL_MLP, batch=16)
    assert set(fns) == {"numpy", "tapegrad"}
    assert w6_inference.check(fns) == []


def test_w5_memory_is_traced():
    model, numpy_fb, problem = _w3_parts()
    trainers = training.make_trainers(LIBS, model, numpy_fb, problem)
    for trainer in trainers.values():
        peaks = w5_memory.step_peak(trainer, repeats=2)
        assert len(peaks) == 2 and min(peaks) > 0
    held = w5_memory.growth(tapegrad, steps=(2, 5), sizes=SMALL_MLP, batch=4)
    assert sorted(held) == [2, 5] and held[2] > 0


def test_a_wrong_update_fails_the_check():
    model, numpy_fb, problem = _w3_parts()
    trainers = training.make_trainers(LIBS, model, numpy_fb, problem)

    def no_update(params, x, y):  # right loss, but the gradients are zero: nothing is learned
        loss, grads = numpy_fb(params, x, y)
        return loss, [g * 0 for g in grads]

    trainers["numpy"] = training.numpy_trainer(no_update, problem)
    failures = training.check("W3", trainers, steps=2)
    assert failures and all("W3: tapegrad" in f for f in failures)
    assert any("loss at step 2" in f for f in failures)


def test_compare_runs_names_the_step_and_the_parameter():
    p0 = [np.zeros(3, np.float32)]
    runs = {"numpy": ([1.0, 0.5], p0, [np.ones(3, np.float32)]),
            "tapegrad": ([1.0, 0.7], p0, [np.full(3, 2.0, np.float32)])}
    failures = harness.compare_runs("Wx", runs)
    assert any("loss at step 2 is 0.7" in f for f in failures)
    assert any("parameter 0 (3,)" in f and "update itself is 1.73" in f for f in failures)


def test_stats_and_paired_ratio():
    s = harness.Stats.of([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.median, s.low, s.high) == (3.0, 1.0, 100.0)
    r = harness.paired_ratio({"a": [2.0, 4.0, 6.0], "numpy": [1.0, 2.0, 3.0]}, "a", "numpy")
    assert r.median == 2.0 and r.q1 == r.q3 == 2.0
    assert harness.paired_ratio({"a": [1.0]}, "a", "pytorch") is None


def test_run_selects_workloads_by_name():
    assert run.selected("") == list(run.WORKLOADS)
    assert run.selected("w2, W4") == ["w2_char_mlp", "w4_cnn"]
    assert run.selected("w8,W9") == ["w8_lstm_lm", "w9_gru"]
    with pytest.raises(SystemExit, match="W99"):
        run.selected("W99")


@pytest.mark.parametrize("workload", sorted(PARTS))
def test_pytorch_agrees_with_the_numpy_reference(workload):
    torch = pytest.importorskip("torch")
    model, numpy_fb, problem = PARTS[workload]()
    trainers = training.make_trainers({"tapegrad": tapegrad, "pytorch": torch}, model, numpy_fb, problem)
    assert training.check(workload, trainers, steps=2) == []


@pytest.mark.parametrize("workload", ["W8", "W9"])
def test_recurrent_training_steps_match_numpy(workload):
    import w8_lstm_lm
    import w9_gru

    if workload == "W8":
        sizes = dict(vocab=50, emsize=8, hidden=6)
        parts = (w8_lstm_lm.model_for(**sizes), w8_lstm_lm.numpy_forward_backward,
                 w8_lstm_lm.problem(**sizes, steps=5, batch=3, n_batches=2))
    else:
        sizes = dict(features=5, hidden=4, classes=3)
        parts = (w9_gru.model_for(**sizes), w9_gru.numpy_forward_backward,
                 w9_gru.problem(**sizes, steps=4, batch=3, n_batches=2))
    trainers = training.make_trainers(LIBS, *parts)
    assert training.check(workload, trainers, steps=2) == []
    assert set(run.WORKLOADS) >= {"w8_lstm_lm", "w9_gru"}
