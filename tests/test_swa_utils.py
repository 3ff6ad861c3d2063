"""Weight averaging (``optim.swa_utils``): AveragedModel's running mean and moving averages by hand, buffers,
update_bn's cumulative statistics, SWALR's annealing, and (when PyTorch is installed) all of them against
PyTorch's on the same weights."""

import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.optim.swa_utils import (
    SWALR,
    AveragedModel,
    get_ema_avg_fn,
    get_ema_multi_avg_fn,
    get_swa_avg_fn,
    get_swa_multi_avg_fn,
    update_bn,
)


def make_model(lib, seed=0):
    rng = np.random.default_rng(seed)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.normal(size=tuple(p.shape))))
    return model.double()


def snapshots(lib, n, seed=1):
    """n successive weights of a model (as a training run would make them), with their BatchNorm statistics."""
    rng = np.random.default_rng(seed)
    model = make_model(lib)
    for _ in range(n):
        with lib.no_grad():
            for p in model.parameters():
                p.add_(lib.tensor(rng.normal(size=tuple(p.shape))))
        model.train()
        model(lib.tensor(rng.normal(size=(8, 3))))  # moves the running statistics
        yield model


def averaged(lib, n, **kw):
    swa = None
    for model in snapshots(lib, n):
        swa = swa or lib.optim.swa_utils.AveragedModel(model, **kw)
        swa.update_parameters(model)
    return swa


# ---------------------------------------------------------------------- without PyTorch
def test_the_default_average_is_the_running_mean():
    weights = [[p.detach().numpy().copy() for p in m.parameters()] for m in snapshots(tg, 5)]
    swa = averaged(tg, 5)
    for got, *each in zip(swa.module.parameters(), *weights):
        np.testing.assert_allclose(got.detach().numpy(), np.mean(each, axis=0), rtol=1e-13)
    assert swa.n_averaged.item() == 5 and swa.n_averaged.dtype == tg.int64


def test_buffers_are_copied_or_averaged():
    models = list(snapshots(tg, 3))
    last = models[-1][1]
    swa = averaged(tg, 3)  # the buffers are the last model's
    np.testing.assert_array_equal(swa.module[1].running_mean.numpy(), last.running_mean.numpy())
    assert swa.module[1].num_batches_tracked.item() == 3
    means = [m[1].running_mean.numpy().copy() for m in snapshots(tg, 3)]
    swa = averaged(tg, 3, use_buffers=True)  # the buffers are averaged too
    np.testing.assert_allclose(swa.module[1].running_mean.numpy(), np.mean(means, axis=0), rtol=1e-13)


@pytest.mark.parametrize("kw", [dict(avg_fn=get_ema_avg_fn(0.9)), dict(multi_avg_fn=get_ema_multi_avg_fn(0.9))],
                         ids=["avg_fn", "multi_avg_fn"])
def test_exponential_moving_averages(kw):
    weights = [[p.detach().numpy().copy() for p in m.parameters()] for m in snapshots(tg, 4)]
    swa = averaged(tg, 4, **kw)
    for got, *each in zip(swa.module.parameters(), *weights):
        ema = each[0]
        for w in each[1:]:
            ema = 0.9 * ema + 0.1 * w
        np.testing.assert_allclose(got.detach().numpy(), ema, rtol=1e-12)


def test_swa_averaging_functions_agree():
    a, b = tg.tensor([1.0, 2.0], dtype=tg.float64), tg.tensor([4.0, 8.0], dtype=tg.float64)
    np.testing.assert_allclose(get_swa_avg_fn()(a, b, tg.tensor(2)).numpy(), [2.0, 4.0])
    avg = a.clone()
    get_swa_multi_avg_fn()([avg], [b], tg.tensor(2))
    np.testing.assert_allclose(avg.numpy(), [2.0, 4.0], rtol=1e-7)  # the weight 1/3 is a float32, as PyTorch's
    ints = tg.tensor([0, 3])
    get_swa_multi_avg_fn()([ints], [tg.tensor([3, 6])], 2)
    np.testing.assert_array_equal(ints.numpy(), [1, 4])
    with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\]"):
        get_ema_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value -0.1"):
        get_ema_multi_avg_fn(-0.1)
    with pytest.raises(AssertionError, match="only one of avg_fn and multi_avg_fn"):
        AveragedModel(tg.nn.Linear(1, 1), avg_fn=get_swa_avg_fn(), multi_avg_fn=get_swa_multi_avg_fn())


def test_the_averaged_model_is_a_copy_and_calls_it():
    model = make_model(tg)
    swa = AveragedModel(model)
    assert swa.module is not model and swa.module[0].weight is not model[0].weight
    swa.update_parameters(model)
    swa.eval()
    model.eval()
    x = tg.tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(swa(x).detach().numpy(), model(x).detach().numpy())
    assert "n_averaged" in swa.state_dict() and "module.0.weight" in swa.state_dict()


def test_update_bn_recomputes_the_statistics_as_a_cumulative_average():
    model = make_model(tg)
    model.eval()
    rng = np.random.default_rng(3)
    batches = [tg.tensor(rng.normal(size=(5, 3))) for _ in range(4)]
    loader = [(x, tg.zeros(5)) for x in batches]  # (input, target) pairs: the input is taken
    update_bn(loader, model)
    features = np.concatenate([model[0](x).detach().numpy() for x in batches])
    np.testing.assert_allclose(model[1].running_mean.numpy(), features.mean(axis=0), rtol=1e-12)
    per_batch_var = [np.var(model[0](x).detach().numpy(), axis=0, ddof=1) for x in batches]
    np.testing.assert_allclose(model[1].running_var.numpy(), np.mean(per_batch_var, axis=0), rtol=1e-12)
    assert model[1].momentum == 0.1 and not model.training  # restored
    update_bn(loader, tg.nn.Linear(3, 1))  # no BatchNorm: nothing to do


def test_swalr_anneals_to_the_swa_lr_then_holds():
    for strategy, shape in (("cos", lambda t: (1 - math.cos(math.pi * t)) / 2), ("linear", lambda t: t)):
        opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
        sched = SWALR(opt, swa_lr=0.2, anneal_epochs=4, anneal_strategy=strategy)
        got = []
        for _ in range(7):
            got.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        want = [0.2 * shape(min(t, 4) / 4) + 1.0 * (1 - shape(min(t, 4) / 4)) for t in range(7)]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    assert SWALR(opt, swa_lr=0.3, anneal_epochs=0).get_last_lr() == [0.3]  # at once


def test_swalr_state_dict_and_errors():
    opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    sched = SWALR(opt, swa_lr=0.2, anneal_epochs=3)
    sd = sched.state_dict()
    assert "anneal_func" not in sd and sd["_anneal_strategy"] == "cos"
    other = SWALR(tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0), swa_lr=0.2, anneal_strategy="linear")
    other.load_state_dict(sd)
    assert other.anneal_func(0.5) == pytest.approx(0.5) and other.anneal_epochs == 3
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got 'exp'"):
        SWALR(opt, 0.1, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        SWALR(opt, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have one value per parameter group"):
        SWALR(opt, [0.1, 0.2])
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_docstring_examples():
    import doctest

    import tapegrad.optim.swa_utils as module

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("kw", [dict(), dict(use_buffers=True), dict(avg_fn="ema"), dict(multi_avg_fn="ema"),
                                dict(multi_avg_fn="swa")], ids=["swa", "buffers", "ema", "multi-ema", "multi-swa"])
def test_averaged_model_matches_torch(kw):
    torch = pytest.importorskip("torch")

    def made(lib):
        fns = {"ema": ("get_ema_avg_fn", 0.95), "swa": ("get_swa_multi_avg_fn",)}
        out = {}
        for key, value in kw.items():
            if key == "avg_fn":
                out[key] = lib.optim.swa_utils.get_ema_avg_fn(0.95)
            elif key == "multi_avg_fn":
                name, *args = fns[value] if value == "swa" else ("get_ema_multi_avg_fn", 0.95)
                out[key] = getattr(lib.optim.swa_utils, name)(*args)
            else:
                out[key] = value
        return out

    got = averaged(tg, 6, **made(tg)).state_dict()
    want = averaged(torch, 6, **made(torch)).state_dict()
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_allclose(got[key].numpy(), want[key].numpy(), rtol=1e-13, err_msg=key)


def test_update_bn_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=(5, 3)) for _ in range(4)]
    got, want = make_model(tg), make_model(torch)
    tg.optim.swa_utils.update_bn([tg.tensor(x) for x in batches], got)
    torch.optim.swa_utils.update_bn([torch.tensor(x) for x in batches], want)
    for key, value in want.state_dict().items():
        np.testing.assert_allclose(got.state_dict()[key].numpy(), value.numpy(), rtol=1e-13, err_msg=key)


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.5], anneal_epochs=3, anneal_strategy="linear"),
                                dict(swa_lr=0.2, anneal_epochs=0)])
def test_swalr_matches_torch(kw):
    torch = pytest.importorskip("torch")

    def sequence(lib):
        params = [lib.zeros(2, requires_grad=True) for _ in range(2)]
        opt = lib.optim.SGD([{"params": [p]} for p in params], lr=0.1, momentum=0.9)
        warm = lib.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8)
        sched = lib.optim.swa_utils.SWALR(opt, **kw)
        out = []
        for i in range(14):
            out.append(tuple(sched.get_last_lr()))
            opt.step()
            (warm if i < 3 else sched).step()
        return out, sorted(sched.state_dict())

    assert sequence(tg) == sequence(torch)
