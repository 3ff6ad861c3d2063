"""Learning-rate schedulers: lr sequences against values computed by hand (and against PyTorch when it is
installed), momentum cycling, resuming from state dicts, warnings and bad inputs."""

import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.optim import SGD, Adagrad, Adam
from tapegrad.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
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
