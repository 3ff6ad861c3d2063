"""Learning-rate schedulers: lr sequences against values computed by hand (and against PyTorch when it is
installed), momentum cycling, resuming from state dicts, warnings and bad inputs."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.optim import SGD, Adagrad, Adam
from tapegrad.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)


def make_opt(lr=1.0, cls=SGD, groups=1, **kw):
    params = [tg.zeros(2, requires_grad=True) for _ in range(groups)]
    return cls([{"params": [p]} for p in params], lr=lr, **kw)


def lrs(sched, n, metrics=None):
    """The lr of group 0 at epochs 0..n-1, stepping the optimizer before the scheduler as PyTorch asks."""
    out = []
    for i in range(n):
        out.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step() if metrics is None else sched.step(metrics[i])
    return out


# ---------------------------------------------------------------------- sequences by hand
def test_step_lr():
    assert lrs(StepLR(make_opt(1.0), step_size=3, gamma=0.5), 8) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_multi_step_lr_counts_repeated_milestones():
    got = lrs(MultiStepLR(make_opt(1.0), milestones=[2, 5, 5], gamma=0.1), 7)
    np.testing.assert_allclose(got, [1, 1, 0.1, 0.1, 0.1, 0.001, 0.001], rtol=1e-15)


def test_exponential_lr():
    assert lrs(ExponentialLR(make_opt(2.0), gamma=0.5), 4) == [2.0, 1.0, 0.5, 0.25]


def test_cosine_annealing_lr_follows_the_cosine_and_comes_back_up():
    got = lrs(CosineAnnealingLR(make_opt(1.0), T_max=4, eta_min=0.1), 9)
    want = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(9)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got[:5], [1.0, 0.868198, 0.55, 0.231802, 0.1], rtol=1e-6)
    np.testing.assert_allclose(got[5:], [0.231802, 0.55, 0.868198, 1.0], rtol=1e-6)


def test_lambda_lr_with_one_function_per_group():
    opt = make_opt(0.6, groups=2)
    opt.param_groups[1]["lr"] = 1.0
    sched = LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 0.5 ** e])
    seen = []
    for _ in range(4):
        seen.append(sched.get_last_lr())
        opt.step()
        sched.step()
    np.testing.assert_allclose(seen, [[0.6, 1.0], [0.3, 0.5], [0.2, 0.25], [0.15, 0.125]], rtol=1e-15)


def test_one_cycle_lr_cos_with_momentum():
    opt = make_opt(0.1, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["initial_lr"] == pytest.approx(0.04)
    assert opt.param_groups[0]["min_lr"] == pytest.approx(4e-6)
    seen_lr, seen_mom = [], []
    for _ in range(10):
        seen_lr.append(sched.get_last_lr()[0])
        seen_mom.append(opt.param_groups[0]["momentum"])
        opt.step()
        if len(seen_lr) < 10:
            sched.step()
    # Warm-up over steps 0..2 (pct_start * 10 - 1 = 2), then cosine annealing over steps 2..9.
    want_lr = [0.04, 0.52, 1.0] + [4e-6 + (1 - 4e-6) / 2 * (math.cos(math.pi * (s - 2) / 7) + 1) for s in range(3, 10)]
    want_mom = [0.95, 0.9, 0.85] + [0.95 + (0.85 - 0.95) / 2 * (math.cos(math.pi * (s - 2) / 7) + 1)
                                    for s in range(3, 10)]
    np.testing.assert_allclose(seen_lr, want_lr, rtol=1e-12)
    np.testing.assert_allclose(seen_mom, want_mom, rtol=1e-12)
    assert seen_lr[-1] == pytest.approx(4e-6) and seen_mom[-1] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 11 times; the specified number of total "
                                         "steps is 10"):
        sched.step()
        sched.step()


def test_one_cycle_lr_linear_three_phase_cycles_adams_beta1():
    opt = make_opt(0.1, cls=Adam, betas=(0.9, 0.99))
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear", three_phase=True)
    seen_lr, seen_beta = [], []
    for _ in range(10):
        seen_lr.append(sched.get_last_lr()[0])
        seen_beta.append(opt.param_groups[0]["betas"])
        opt.step()
        if len(seen_lr) < 10:
            sched.step()
    # Phases end at steps 2 (up to max_lr), 4 (back to initial_lr) and 9 (down to min_lr).
    want = [0.04, 0.52, 1.0, 0.52, 0.04] + [0.04 + (4e-6 - 0.04) * (s - 4) / 5 for s in range(5, 10)]
    np.testing.assert_allclose(seen_lr, want, rtol=1e-12)
    np.testing.assert_allclose([b[0] for b in seen_beta], [0.95, 0.9, 0.85, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95,
                                                           0.95], rtol=1e-12)
    assert all(b[1] == 0.99 for b in seen_beta)


def test_one_cycle_lr_per_group_max_lr_and_epochs():
    opt = make_opt(0.1, groups=2, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=[1.0, 0.5], epochs=2, steps_per_epoch=5, cycle_momentum=False)
    assert sched.total_steps == 10
    np.testing.assert_allclose(sched.get_last_lr(), [0.04, 0.02])
    assert opt.param_groups[0]["momentum"] == 0.9  # not cycled


def test_reduce_lr_on_plateau_patience():
    sched = ReduceLROnPlateau(make_opt(1.0), patience=2, factor=0.5)
    got = lrs(sched, 8, metrics=[10, 9, 9, 9, 9, 9, 9, 8])
    assert got == [1, 1, 1, 1, 1, 0.5, 0.5, 0.5]
    assert sched.get_last_lr() == [0.5] and sched.best == 8 and sched.num_bad_epochs == 0


def test_reduce_lr_on_plateau_cooldown_min_lr_and_eps():
    sched = ReduceLROnPlateau(make_opt(1.0), patience=0, factor=0.5, cooldown=2)
    got = lrs(sched, 7, metrics=[1.0] * 7)
    assert got == [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    sched = ReduceLROnPlateau(make_opt(1.0), patience=0, factor=0.1, min_lr=0.05)
    lrs(sched, 5, metrics=[1.0] * 5)
    assert sched.get_last_lr() == [0.05]
    sched = ReduceLROnPlateau(make_opt(1e-9), patience=0, factor=0.5, eps=1e-8)
    lrs(sched, 5, metrics=[1.0] * 5)
    assert sched.get_last_lr() == [1e-9]  # changes smaller than eps are skipped


def test_reduce_lr_on_plateau_modes_and_thresholds():
    # max mode, absolute threshold: 1.3 does not beat 1.0 by 0.5; 1.6 does.
    sched = ReduceLROnPlateau(make_opt(1.0), mode="max", threshold_mode="abs", threshold=0.5, patience=1)
    got = lrs(sched, 5, metrics=[1.0, 1.3, 1.6, 1.0, 1.0])
    assert got == [1, 1, 1, 1, 1] and sched.get_last_lr() == [0.1]
    # min mode, relative threshold 10%: 0.95 does not beat 1.0 by 10%.
    sched = ReduceLROnPlateau(make_opt(1.0), threshold=0.1, patience=1)
    lrs(sched, 3, metrics=[1.0, 0.95, 0.95])
    assert sched.get_last_lr() == [0.1]
    # max mode, relative: 1.2 beats 1.0 by more than 10%.
    sched = ReduceLROnPlateau(make_opt(1.0), mode="max", threshold=0.1, patience=1)
    lrs(sched, 4, metrics=[1.0, 1.2, 1.25, 1.5])
    assert sched.get_last_lr() == [1.0] and sched.best == 1.5


def test_reduce_lr_on_plateau_accepts_tensor_metrics():
    sched = ReduceLROnPlateau(make_opt(1.0), patience=0)
    sched.step(tg.tensor(2.0))
    sched.step(tg.tensor(3.0))
    assert sched.get_last_lr() == [pytest.approx(0.1)]


# ---------------------------------------------------------------------- the base class
def test_construction_sets_initial_lr_and_epoch_zero():
    opt = make_opt(0.5)
    sched = StepLR(opt, step_size=1)
    assert opt.param_groups[0]["initial_lr"] == 0.5
    assert sched.base_lrs == [0.5] and sched.last_epoch == 0 and sched.get_last_lr() == [0.5]
    assert isinstance(sched, LRScheduler)


def test_scheduled_lr_is_used_by_the_optimizer():
    w = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    opt = SGD([w], lr=1.0)
    sched = ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        w.grad = tg.tensor([1.0], dtype=tg.float64)
        opt.step()
        sched.step()
    np.testing.assert_allclose(w.detach().numpy(), [1.0 - 1.0 - 0.5 - 0.25])


def test_step_with_epoch_uses_the_closed_form():
    sched = StepLR(make_opt(1.0), step_size=3, gamma=0.5)
    sched.optimizer.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        sched.step(7)
    assert sched.last_epoch == 7 and sched.get_last_lr() == [0.25]
    # on both sides of each boundary of step_size 3: the closed form gamma ** (epoch // 3)
    for epoch, lr in [(2, 1.0), (3, 0.5), (5, 0.5), (6, 0.25), (4, 0.5), (0, 1.0), (9, 0.125)]:
        with pytest.warns(UserWarning):
            sched.step(epoch)
        assert sched.get_last_lr() == [lr], epoch
    sched = CosineAnnealingLR(make_opt(1.0), T_max=4)
    with pytest.warns(UserWarning):
        sched.step(2)
    assert sched.get_last_lr() == [pytest.approx(0.5)]


def test_warns_when_stepped_before_the_optimizer():
    sched = StepLR(make_opt(1.0), step_size=2)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"):
        sched.step()


def test_warns_when_get_lr_is_called_directly():
    sched = StepLR(make_opt(1.0), step_size=2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_no_warnings_in_normal_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrs(CosineAnnealingLR(make_opt(1.0), T_max=3), 5)
        lrs(ReduceLROnPlateau(make_opt(1.0)), 3, metrics=[1, 2, 3])


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match=r"StepLR: param 'initial_lr' is not specified in param_groups\[0\] when "
                                       r"resuming with last_epoch=3"):
        StepLR(make_opt(1.0), step_size=2, last_epoch=3)


# ---------------------------------------------------------------------- resuming from state dicts
SCHEDULES = [
    ("StepLR", lambda opt: StepLR(opt, step_size=3, gamma=0.5), None),
    ("MultiStepLR", lambda opt: MultiStepLR(opt, milestones=[2, 4, 4, 7], gamma=0.3), None),
    ("ExponentialLR", lambda opt: ExponentialLR(opt, gamma=0.9), None),
    ("CosineAnnealingLR", lambda opt: CosineAnnealingLR(opt, T_max=5, eta_min=0.01), None),
    ("LambdaLR", lambda opt: LambdaLR(opt, lambda e: 0.95 ** e), None),
    ("OneCycleLR", lambda opt: OneCycleLR(opt, max_lr=[1.0, 0.3], total_steps=13), None),
    ("OneCycleLR-3", lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=13, three_phase=True,
                                            anneal_strategy="linear"), None),
    ("ReduceLROnPlateau", lambda opt: ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5),
     [5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2]),
    ("MultiplicativeLR", lambda opt: MultiplicativeLR(opt, lambda e: 0.9 + 0.01 * e), None),
    ("ConstantLR", lambda opt: ConstantLR(opt, factor=0.3, total_iters=4), None),
    ("LinearLR", lambda opt: LinearLR(opt, start_factor=0.2, end_factor=0.9, total_iters=6), None),
    ("PolynomialLR", lambda opt: PolynomialLR(opt, total_iters=8, power=1.7), None),
    ("SequentialLR", lambda opt: SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=3), CosineAnnealingLR(opt, 5),
                                                    StepLR(opt, 2, 0.5)], milestones=[3, 7]), None),
    ("ChainedScheduler", lambda opt: ChainedScheduler([ConstantLR(opt, 0.5, 3), ExponentialLR(opt, 0.9),
                                                       MultiStepLR(opt, [4, 8])]), None),
    ("CyclicLR", lambda opt: CyclicLR(opt, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=3, step_size_down=2),
     None),
    ("CyclicLR-triangular2", lambda opt: CyclicLR(opt, 0.01, 0.1, step_size_up=2, mode="triangular2",
                                                  base_momentum=0.7, max_momentum=0.95), None),
    ("CyclicLR-exp_range", lambda opt: CyclicLR(opt, 0.01, 0.1, step_size_up=2, mode="exp_range", gamma=0.9),
     None),
    ("CosineAnnealingWarmRestarts", lambda opt: CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001),
     None),
]


@pytest.mark.parametrize("name,make,metrics", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_resume_from_state_dicts_continues_identically(name, make, metrics):
    def sequence(opt, sched, start, stop):
        out = []
        for i in range(start, stop):
            out.append((list(sched.get_last_lr()), opt.param_groups[0].get("momentum")))
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[i])
        return out

    opt = make_opt(0.1, groups=2, momentum=0.9)
    sched = make(opt)
    full = sequence(opt, sched, 0, 12)

    opt = make_opt(0.1, groups=2, momentum=0.9)
    sched = make(opt)
    first = sequence(opt, sched, 0, 5)
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    opt2 = make_opt(0.1, groups=2, momentum=0.9)
    sched2 = make(opt2)  # as PyTorch advises: make the scheduler, then load the optimizer's state
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    assert first + sequence(opt2, sched2, 5, 12) == full


def test_lambda_lr_state_dict_keeps_callable_objects_state():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    sched = LambdaLR(make_opt(1.0), Decay(0.5))
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}]
    other = LambdaLR(make_opt(1.0), Decay(0.9))
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].rate == 0.5
    assert LambdaLR(make_opt(1.0), lambda e: 1.0).state_dict()["lr_lambdas"] == [None]


# ---------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("name,make,metrics", SCHEDULES, ids=[s[0] for s in SCHEDULES])
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_matches_torch(name, make, metrics, opt_name):
    torch = pytest.importorskip("torch")

    def sequence(mod):
        params = [mod.zeros(2, requires_grad=True) for _ in range(2)]
        kw = dict(momentum=0.9) if opt_name == "SGD" else {}
        opt = getattr(mod.optim, opt_name)([{"params": [p]} for p in params], lr=0.1, **kw)
        sched = _make_for(mod, name, opt)
        out = []
        for i in range(12):
            out.append((tuple(sched.get_last_lr()),
                        tuple(g.get("momentum", g.get("betas")) for g in opt.param_groups)))
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[i])
        return out

    assert sequence(tg) == sequence(torch)


def _make_for(mod, name, opt):
    m = mod.optim.lr_scheduler
    return {
        "StepLR": lambda: m.StepLR(opt, step_size=3, gamma=0.5),
        "MultiStepLR": lambda: m.MultiStepLR(opt, milestones=[2, 4, 4, 7], gamma=0.3),
        "ExponentialLR": lambda: m.ExponentialLR(opt, gamma=0.9),
        "CosineAnnealingLR": lambda: m.CosineAnnealingLR(opt, T_max=5, eta_min=0.01),
        "LambdaLR": lambda: m.LambdaLR(opt, lambda e: 0.95 ** e),
        "OneCycleLR": lambda: m.OneCycleLR(opt, max_lr=[1.0, 0.3], total_steps=13),
        "OneCycleLR-3": lambda: m.OneCycleLR(opt, max_lr=1.0, total_steps=13, three_phase=True,
                                             anneal_strategy="linear"),
        "ReduceLROnPlateau": lambda: m.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5),
        "MultiplicativeLR": lambda: m.MultiplicativeLR(opt, lambda e: 0.9 + 0.01 * e),
        "ConstantLR": lambda: m.ConstantLR(opt, factor=0.3, total_iters=4),
        "LinearLR": lambda: m.LinearLR(opt, start_factor=0.2, end_factor=0.9, total_iters=6),
        "PolynomialLR": lambda: m.PolynomialLR(opt, total_iters=8, power=1.7),
        "SequentialLR": lambda: m.SequentialLR(opt, [m.LinearLR(opt, 0.1, total_iters=3), m.CosineAnnealingLR(opt, 5),
                                                     m.StepLR(opt, 2, 0.5)], milestones=[3, 7]),
        "ChainedScheduler": lambda: m.ChainedScheduler([m.ConstantLR(opt, 0.5, 3), m.ExponentialLR(opt, 0.9),
                                                        m.MultiStepLR(opt, [4, 8])]),
        "CyclicLR": lambda: m.CyclicLR(opt, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=3, step_size_down=2),
        "CyclicLR-triangular2": lambda: m.CyclicLR(opt, 0.01, 0.1, step_size_up=2, mode="triangular2",
                                                   base_momentum=0.7, max_momentum=0.95),
        "CyclicLR-exp_range": lambda: m.CyclicLR(opt, 0.01, 0.1, step_size_up=2, mode="exp_range", gamma=0.9),
        "CosineAnnealingWarmRestarts": lambda: m.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001),
    }[name]()


# ---------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("make,error,match", [
    (lambda o: StepLR(object(), step_size=1), TypeError, "StepLR: expected an Optimizer, got object"),
    (lambda o: ReduceLROnPlateau([1]), TypeError, "ReduceLROnPlateau: expected an Optimizer, got list"),
    (lambda o: LambdaLR(o, [lambda e: 1.0] * 2), ValueError, "LambdaLR: expected 1 lr_lambdas .*got 2"),
    (lambda o: OneCycleLR(o, max_lr=1.0), ValueError, r"OneCycleLR: you must define either total_steps OR "
                                                      r"\(epochs AND steps_per_epoch\)"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError, "OneCycleLR: expected a positive integer "
                                                                     "total_steps, got 0"),
    (lambda o: OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=-1), ValueError,
     "OneCycleLR: expected a positive integer steps_per_epoch, got -1"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1.5), ValueError,
     "OneCycleLR: expected a float pct_start between 0 and 1, got 1.5"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="exp"), ValueError,
     "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda o: OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=5), ValueError,
     r"OneCycleLR: max_lr must have one value per parameter group: got 2 values for 1 group\(s\)"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), ValueError, "ReduceLROnPlateau: factor should be < 1.0, got 1.0"),
    (lambda o: ReduceLROnPlateau(o, mode="up"), ValueError, "ReduceLROnPlateau: mode must be 'min' or 'max', "
                                                             "got 'up'"),
    (lambda o: ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode must be 'rel' or 'abs'"),
    (lambda o: ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), ValueError, "ReduceLROnPlateau: expected 1 min_lrs"),
])
def test_bad_inputs(make, error, match):
    with pytest.raises(error, match=match):
        make(make_opt(1.0))


def test_one_cycle_needs_momentum_to_cycle():
    with pytest.raises(ValueError, match="OneCycleLR: cycle_momentum=True needs an optimizer with momentum or "
                                         "betas; Adagrad has neither"):
        OneCycleLR(Adagrad([tg.zeros(1, requires_grad=True)]), max_lr=1.0, total_steps=5)


def test_docstring_examples():
    import doctest

    import tapegrad.optim.lr_scheduler as module

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------- the other schedulers, by hand
def test_multiplicative_lr_compounds_its_factors():
    got = lrs(MultiplicativeLR(make_opt(1.0), lambda e: 1.0 / (e + 1)), 5)
    np.testing.assert_allclose(got, [1.0, 1 / 2, 1 / 6, 1 / 24, 1 / 120], rtol=1e-15)


def test_multiplicative_lr_with_one_function_per_group():
    sched = MultiplicativeLR(make_opt(1.0, groups=2), [lambda e: 0.5, lambda e: 2.0])
    for _ in range(3):
        sched.optimizer.step()
        sched.step()
    assert sched.get_last_lr() == [0.125, 8.0]


def test_constant_lr():
    assert lrs(ConstantLR(make_opt(2.0), factor=0.25, total_iters=3), 6) == [0.5, 0.5, 0.5, 2.0, 2.0, 2.0]
    assert lrs(ConstantLR(make_opt(2.0), factor=0.25, total_iters=0), 3) == [0.5, 0.5, 0.5]  # as PyTorch's


def test_linear_lr_warms_up_linearly_then_holds():
    got = lrs(LinearLR(make_opt(2.0), start_factor=0.1, end_factor=0.7, total_iters=4), 7)
    np.testing.assert_allclose(got, [0.2, 0.5, 0.8, 1.1, 1.4, 1.4, 1.4], rtol=1e-14)


def test_polynomial_lr_decays_to_zero_at_total_iters():
    got = lrs(PolynomialLR(make_opt(1.0), total_iters=5, power=0.5), 7)
    want = [math.sqrt(1 - min(t, 5) / 5) for t in range(7)]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    assert got[5] == got[6] == 0.0


def test_sequential_lr_restarts_each_scheduler_at_its_milestone():
    opt = make_opt(1.0)
    warm = LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = ExponentialLR(opt, gamma=0.5)
    step = StepLR(opt, step_size=2, gamma=0.1)
    sched = SequentialLR(opt, [warm, decay, step], milestones=[2, 5])
    got = lrs(sched, 9)
    np.testing.assert_allclose(got, [0.5, 0.75, 1.0, 0.5, 0.25, 1.0, 1.0, 0.1, 0.1], rtol=1e-15)
    assert sched.last_epoch == 9 and step.last_epoch == 4  # restarted at 0 on epoch 5


def test_chained_scheduler_composes_the_changes():
    opt = make_opt(1.0)
    sched = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2), ExponentialLR(opt, gamma=0.9)])
    got = lrs(sched, 5)
    np.testing.assert_allclose(got, [0.1, 0.09, 0.81, 0.729, 0.6561], rtol=1e-14)
    assert ChainedScheduler([StepLR(opt, 2)], optimizer=opt).optimizer is opt


@pytest.mark.parametrize("mode,scale", [("triangular", lambda c, i: 1.0), ("triangular2", lambda c, i: 0.5 ** (c - 1)),
                                        ("exp_range", lambda c, i: 0.9 ** i)])
def test_cyclic_lr_follows_its_triangle_and_cycles_the_momentum_the_other_way(mode, scale):
    opt = make_opt(1.0, momentum=0.9)
    sched = CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=3, step_size_down=1, mode=mode, gamma=0.9,
                     base_momentum=0.8, max_momentum=0.9)
    got, moms = [], []
    for _ in range(13):
        got.append(sched.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    for i, (lr, mom) in enumerate(zip(got, moms)):
        cycle, pos = divmod(i, 4)
        height = pos / 3 if pos <= 3 else 0.0  # up for 3 steps, down in 1
        s = scale(cycle + 1, i)
        assert lr == pytest.approx(0.1 + 0.4 * height * s, rel=1e-12), i
        assert mom == pytest.approx(0.9 - 0.1 * height * s, rel=1e-12), i
    assert opt.param_groups[0]["max_momentum"] == 0.9 and opt.param_groups[0]["base_momentum"] == 0.8


def test_cyclic_lr_cycles_adams_beta1_and_takes_a_custom_scale_fn():
    opt = make_opt(1.0, cls=Adam, betas=(0.5, 0.99))
    sched = CyclicLR(opt, base_lr=0.0, max_lr=1.0, step_size_up=2, scale_fn=lambda x: 1.0 / (1 + x),
                     scale_mode="iterations", base_momentum=0.8, max_momentum=0.9)
    got = []
    for _ in range(4):
        got.append((sched.get_last_lr()[0], opt.param_groups[0]["betas"]))
        opt.step()
        sched.step()
    assert [g[0] for g in got] == pytest.approx([0.0, 0.5 / 2, 1.0 / 3, 0.5 / 4])
    assert got[2][1] == pytest.approx((0.9 - 0.1 / 3, 0.99))
    assert CyclicLR(make_opt(1.0, cls=Adagrad), 0.1, 1.0, cycle_momentum=False).get_last_lr() == [0.1]


def test_cyclic_lr_state_dict_keeps_a_callable_objects_state():
    class Scale:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, x):
            return self.rate ** x

    sched = CyclicLR(make_opt(1.0, momentum=0.9), 0.1, 1.0, scale_fn=Scale(0.5))
    sd = sched.state_dict()
    assert sd["_scale_fn_custom"] == {"rate": 0.5} and "_scale_fn_ref" not in sd
    other = CyclicLR(make_opt(1.0, momentum=0.9), 0.1, 1.0, scale_fn=Scale(0.9))
    other.load_state_dict(sd)
    assert other._scale_fn_custom.rate == 0.5
    assert CyclicLR(make_opt(1.0, momentum=0.9), 0.1, 1.0).state_dict()["_scale_fn_custom"] is None


def test_cosine_annealing_warm_restarts_by_hand():
    got = lrs(CosineAnnealingWarmRestarts(make_opt(1.0), T_0=2, T_mult=2, eta_min=0.0), 8)
    # periods of 2, 4, 8 epochs: T_cur = 0 1 | 0 1 2 3 | 0 1
    want = [(1 + math.cos(math.pi * t / T)) / 2 for t, T in [(0, 2), (1, 2), (0, 4), (1, 4), (2, 4), (3, 4),
                                                             (0, 8), (1, 8)]]
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-16)


def test_cosine_annealing_warm_restarts_takes_fractional_epochs_without_a_warning():
    sched = CosineAnnealingWarmRestarts(make_opt(1.0), T_0=2, T_mult=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for epoch, (t_cur, t_i) in [(0.5, (0.5, 2)), (2.5, (0.5, 4)), (7.0, (1.0, 8)), (1.0, (1.0, 2))]:
            sched.optimizer.step()
            sched.step(epoch)
            assert (sched.T_cur, sched.T_i, sched.last_epoch) == (t_cur, t_i, math.floor(epoch))
            assert sched.get_last_lr() == [pytest.approx((1 + math.cos(math.pi * t_cur / t_i)) / 2)]
    with pytest.raises(ValueError, match="expected a non-negative epoch, but got -1"):
        sched.step(-1)


# ---------------------------------------------------------------------- recursive forms against closed forms
@given(factor=st.floats(0.01, 1.0), start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0),
       total=st.integers(1, 10), power=st.floats(0.1, 3.0), t0=st.integers(1, 5), t_mult=st.integers(1, 3))
def test_chainable_forms_follow_the_closed_forms(factor, start, end, total, power, t0, t_mult):
    """Stepped one epoch at a time, every scheduler's lr is its closed form at that epoch (to rounding)."""
    cases = [(ConstantLR, dict(factor=factor, total_iters=total)),
             (LinearLR, dict(start_factor=start, end_factor=end, total_iters=total)),
             (PolynomialLR, dict(total_iters=total, power=power)),
             (CosineAnnealingWarmRestarts, dict(T_0=t0, T_mult=t_mult, eta_min=0.01))]
    for cls, kw in cases:
        sched = cls(make_opt(0.5), **kw)
        for epoch in range(1, 16):
            sched.optimizer.step()
            sched.step()
            if cls is CosineAnnealingWarmRestarts:
                ref = CosineAnnealingWarmRestarts(make_opt(0.5), **kw)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref.step(epoch)  # its closed form: the position within the period from the epoch alone
            else:
                ref = cls(make_opt(0.5), **kw)
                ref.optimizer.step()
                with pytest.warns(UserWarning, match="epoch parameter"):
                    ref.step(epoch)
            assert sched.get_last_lr()[0] == pytest.approx(ref.get_last_lr()[0], rel=1e-9, abs=1e-12), \
                (cls.__name__, epoch)


def test_step_with_epoch_warns_and_uses_the_closed_forms_of_the_new_schedulers():
    for sched, epoch, lr in [(ConstantLR(make_opt(1.0), factor=0.5, total_iters=3), 2, 0.5),
                             (ConstantLR(make_opt(1.0), factor=0.5, total_iters=3), 4, 1.0),
                             (LinearLR(make_opt(1.0), start_factor=0.5, total_iters=4), 2, 0.75),
                             (PolynomialLR(make_opt(1.0), total_iters=4, power=2.0), 2, 0.25),
                             (PolynomialLR(make_opt(1.0), total_iters=4, power=2.0), 9, 0.0)]:
        sched.optimizer.step()
        with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)` was not necessary"):
            sched.step(epoch)
        assert sched.last_epoch == epoch and sched.get_last_lr() == [pytest.approx(lr)]


def test_sequential_and_chained_schedulers_step_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = make_opt(1.0)
        lrs(SequentialLR(opt, [ConstantLR(opt, total_iters=2), ExponentialLR(opt, 0.9)], milestones=[3]), 6)
        opt = make_opt(1.0)
        lrs(ChainedScheduler([ConstantLR(opt, total_iters=2), ExponentialLR(opt, 0.9)]), 6)
        lrs(CyclicLR(make_opt(1.0, momentum=0.9), 0.1, 1.0, step_size_up=2), 6)


@pytest.mark.parametrize("make,error,match", [
    (lambda o: ConstantLR(o, factor=1.5), ValueError, "ConstantLR: constant multiplicative factor expected to be "
                                                      "between 0 and 1, got 1.5"),
    (lambda o: LinearLR(o, start_factor=0), ValueError, "LinearLR: starting multiplicative factor expected to be "
                                                        "greater than 0"),
    (lambda o: LinearLR(o, end_factor=-0.5), ValueError, "LinearLR: ending multiplicative factor expected to be "
                                                         "between 0 and 1, got -0.5"),
    (lambda o: MultiplicativeLR(o, 0.5), TypeError, "MultiplicativeLR: lr_lambda should be a function, but got "
                                                    "float"),
    (lambda o: MultiplicativeLR(o, [lambda e: 1.0] * 3), ValueError, "MultiplicativeLR: expected 1 lr_lambdas"),
    (lambda o: MultiplicativeLR(object(), lambda e: 1.0), TypeError, "MultiplicativeLR: expected an Optimizer"),
    (lambda o: SequentialLR(o, [], milestones=[]), ValueError, "SequentialLR expects at least one scheduler"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[]), ValueError,
     "one more than the number of milestones, but got 2 schedulers and 0 milestones"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), ReduceLROnPlateau(o)], milestones=[2]), ValueError,
     "SequentialLR does not support `ReduceLROnPlateau`.*at index 1"),
    (lambda o: SequentialLR(o, [StepLR(make_opt(1.0), 2)], milestones=[]), ValueError,
     "SequentialLR expects all schedulers to belong to the same optimizer.*StepLR at index 0"),
    (lambda o: SequentialLR(o, [object()], milestones=[]), TypeError, "should have `optimizer` as its attribute"),
    (lambda o: ChainedScheduler([]), ValueError, "ChainedScheduler expects at least one scheduler"),
    (lambda o: ChainedScheduler([StepLR(o, 2), StepLR(make_opt(1.0), 2)]), ValueError,
     "ChainedScheduler expects all schedulers to belong to the same optimizer"),
    (lambda o: CyclicLR(o, 0.1, 1.0, mode="sawtooth"), ValueError, "CyclicLR: mode 'sawtooth' is invalid and "
                                                                   "scale_fn is None"),
    (lambda o: CyclicLR(o, [0.1, 0.2], 1.0), ValueError, "CyclicLR: base_lr must have one value per parameter"),
    (lambda o: CyclicLR(make_opt(1.0, cls=Adagrad), 0.1, 1.0), ValueError,
     "CyclicLR: cycle_momentum=True needs an optimizer with momentum or betas; Adagrad has neither"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "expected a positive integer T_0, but got 0"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=2.0), ValueError, "expected a positive integer T_0, but got 2.0"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "expected an integer T_mult >= 1"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"), ValueError, "expected a float or int eta_min"),
])
def test_bad_inputs_of_the_new_schedulers(make, error, match):
    with pytest.raises(error, match=match):
        make(make_opt(1.0))


@pytest.mark.parametrize("name,make,metrics", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_state_dicts_load_across_the_two_libraries(name, make, metrics):
    """A PyTorch scheduler's state dict (and its optimizer's) loads into tapegrad's, and the reverse; both continue
    with PyTorch's learning rates and momenta."""
    torch = pytest.importorskip("torch")

    def to(lib, v):
        src = tg.Tensor if lib is torch else torch.Tensor
        if isinstance(v, src):
            return lib.tensor(v.detach().numpy().copy())
        if isinstance(v, dict):
            return type(v)({k: to(lib, e) for k, e in v.items()})  # a Counter stays a Counter
        if isinstance(v, (list, tuple)):
            return type(v)(to(lib, e) for e in v)
        return v

    def setup(lib):
        params = [lib.zeros(2, requires_grad=True) for _ in range(2)]
        opt = lib.optim.SGD([{"params": [p]} for p in params], lr=0.1, momentum=0.9)
        return opt, _make_for(lib, name, opt)

    def steps(opt, sched, start, stop):
        out = []
        for i in range(start, stop):
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[i])
            out.append((tuple(sched.get_last_lr()), tuple(g["momentum"] for g in opt.param_groups)))
        return out

    for source, target in ((torch, tg), (tg, torch)):
        opt, sched = setup(source)
        steps(opt, sched, 0, 5)
        opt2, sched2 = setup(target)
        opt2.load_state_dict(to(target, opt.state_dict()))
        sched2.load_state_dict(to(target, sched.state_dict()))
        assert steps(opt2, sched2, 5, 12) == steps(opt, sched, 5, 12), (source.__name__, name)
