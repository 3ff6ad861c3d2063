"""tapegrad.amp: GradScaler (PyTorch's CPU numbers) and autocast (PyTorch's state; float32 compute)."""

import doctest
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.amp import autocast_mode, grad_scaler


def _params(*values, dtype=None):
    return [tg.nn.Parameter(tg.tensor(v, dtype=dtype)) for v in values]


class CountingSGD(tg.optim.SGD):
    def __init__(self, params, lr=0.1):
        super().__init__(params, lr=lr)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        super().step(closure)
        return "stepped"


# ---------------------------------------------------------------------- disabled: a passthrough
@pytest.mark.parametrize("make", [lambda: tg.amp.GradScaler("cpu", enabled=False),
                                  lambda: tg.amp.GradScaler("cuda", enabled=False),
                                  lambda: tg.GradScaler(device="cpu", enabled=False)])
def test_disabled_scaler_is_a_passthrough(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enabled=False never warns
        scaler = make()
    (w,) = _params([1.0, 2.0])
    opt = CountingSGD([w])
    loss = (w * w).sum()
    assert scaler.scale(loss) is loss
    outs = [loss, (loss,)]
    assert scaler.scale(outs) is outs
    loss.backward()
    scaler.unscale_(opt)
    assert np.array_equal(w.grad.numpy(), [2.0, 4.0])  # not unscaled
    assert scaler.step(opt) == "stepped" and opt.steps == 1
    scaler.update()
    scaler.update(4.0)
    assert scaler.get_scale() == 1.0 and not scaler.is_enabled()
    assert scaler.state_dict() == {}
    scaler.load_state_dict({})  # a no-op, even with an empty dict
    assert scaler._get_growth_tracker() == 0


def test_cuda_scalers_warn_and_disable_as_cpu_only_pytorch():
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        assert not tg.amp.GradScaler().is_enabled()  # device defaults to "cuda"
    with pytest.warns(FutureWarning, match=r"`torch.cuda.amp.GradScaler\(args...\)` is deprecated"):
        with pytest.warns(UserWarning, match="CUDA is not available"):
            scaler = tg.cuda.amp.GradScaler(init_scale=8.0)
    assert not scaler.is_enabled() and scaler.scale(tg.ones(1)).tolist() == [1.0]
    with pytest.warns(FutureWarning, match="deprecated"):
        assert not tg.cuda.amp.GradScaler(enabled=False).is_enabled()
    with pytest.warns(FutureWarning, match=r"`torch.cpu.amp.GradScaler\(args...\)` is deprecated"):
        scaler = tg.cpu.amp.GradScaler(init_scale=8.0)
    assert scaler.is_enabled() and scaler.scale(tg.ones(1)).tolist() == [8.0]
    assert tg.cuda.amp.amp_definitely_not_available()


# ---------------------------------------------------------------------- enabled on the CPU
def test_scale_multiplies_tensors_and_nested_containers():
    scaler = tg.amp.GradScaler("cpu", init_scale=4.0)
    a, b = tg.tensor([1.0, 2.0]), tg.tensor(3.0, dtype=tg.float64)
    assert scaler.scale(a).tolist() == [4.0, 8.0]
    assert scaler.scale(b).dtype == tg.float64  # a 0-d float32 scale does not promote
    out = scaler.scale([a, (b, [a])])
    assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
    assert out[1][0].item() == 12.0 and out[1][1][0].tolist() == [4.0, 8.0]
    assert [t.tolist() for t in scaler.scale(x for x in [a])] == [[4.0, 8.0]]
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale(3.0)


def test_scaled_loss_backpropagates_scaled_gradients():
    scaler = tg.amp.GradScaler("cpu", init_scale=1024.0)
    (w,) = _params([1.0, -2.0])
    scaler.scale((w * w).sum()).backward()
    assert w.grad.tolist() == [2048.0, -4096.0]


def test_construction_checks_factors():
    with pytest.raises(AssertionError, match="The growth factor must be > 1.0."):
        tg.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="The backoff factor must be < 1.0."):
        tg.amp.GradScaler("cpu", backoff_factor=1.0)
    tg.amp.GradScaler("cpu", growth_factor=1.0, enabled=False)  # not checked when disabled


def test_calls_out_of_order_raise_pytorchs_errors():
    scaler = tg.amp.GradScaler("cpu")
    (w,) = _params([1.0])
    opt = tg.optim.SGD([w], lr=0.1)
    for call in (lambda: scaler.step(opt), lambda: scaler.unscale_(opt), scaler.update):
        with pytest.raises(AssertionError, match="_scale is None.*did not use scaler.scale"):
            call()
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: None)
    scaler.update()
    other = tg.optim.SGD(_params([1.0]), lr=0.1)
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        scaler.update()
    scaler.unscale_(other)  # a fresh iteration: allowed again
    half = tg.nn.Parameter(tg.tensor([1.0], dtype=tg.float16))
    half.grad = tg.tensor([1.0], dtype=tg.float16)
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        scaler.unscale_(tg.optim.SGD([half], lr=0.1))


def test_step_skips_on_inf_or_nan_and_update_backs_off():
    scaler = tg.amp.GradScaler("cpu", init_scale=8.0, growth_interval=3)
    w, v = _params([1.0, 1.0], [2.0])
    opt = CountingSGD([w, v])
    scaler.scale((w * 2).sum() + v.sum()).backward()
    w.grad.data[1] = float("nan")
    assert scaler.step(opt) is None and opt.steps == 0
    assert w.tolist() == [1.0, 1.0] and v.tolist() == [2.0]  # untouched
    assert v.grad.tolist() == [1.0]  # the finite gradients are unscaled all the same, as in PyTorch
    assert scaler._found_inf_per_device(opt)[tg.device("cpu")].item() == 1.0
    scaler.update()
    assert scaler.get_scale() == 4.0 and scaler._get_growth_tracker() == 0


def test_update_grows_after_growth_interval_clean_steps_and_never_to_inf():
    scaler = tg.amp.GradScaler("cpu", init_scale=2.0**126, growth_interval=2)
    (w,) = _params([1.0])
    opt = tg.optim.SGD([w], lr=0.0)
    scales = []
    for _ in range(6):
        opt.zero_grad()
        scaler.scale(w.sum()).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    # 2**127 * 2 overflows float32: the scale stays, the tracker restarts
    assert scales == [2.0**126, 2.0**127, 2.0**127, 2.0**127, 2.0**127, 2.0**127]
    assert scaler._get_growth_tracker() == 0


def test_update_with_new_scale():
    scaler = tg.amp.GradScaler("cpu")
    scaler.scale(tg.ones(1))
    scaler.update(128.0)
    assert scaler.get_scale() == 128.0
    scaler.update(tg.tensor(32.0))
    assert scaler.get_scale() == 32.0
    for bad in (tg.ones(2), tg.tensor(2.0, requires_grad=True)):
        with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
            scaler.update(bad)


def test_state_dict_round_trip_and_checkpoint(tmp_path):
    scaler = tg.amp.GradScaler("cpu", init_scale=16.0, growth_interval=5)
    assert scaler.get_scale() == 16.0  # before the first scale(): init_scale
    (w,) = _params([1.0])
    opt = tg.optim.SGD([w], lr=0.1)
    for _ in range(2):
        scaler.scale(w.sum()).backward()
        scaler.step(opt)
        scaler.update()
    state = scaler.state_dict()
    assert state == {"scale": 16.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 5,
                     "_growth_tracker": 2}
    tg.save({"scaler": state}, tmp_path / "ckpt.pt")
    other = tg.amp.GradScaler("cpu")
    other.load_state_dict(tg.load(tmp_path / "ckpt.pt")["scaler"])
    assert other.state_dict() == state
    scaler.scale(tg.ones(1))
    scaler.load_state_dict(dict(state, scale=2.0, _growth_tracker=4))  # also refills live tensors
    assert scaler.get_scale() == 2.0 and scaler._get_growth_tracker() == 4
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})
    clone = pickle.loads(pickle.dumps(scaler))  # in-memory copies keep the state, as PyTorch's
    assert clone.state_dict() == scaler.state_dict()


def test_unscale_then_clip_then_step():
    scaler = tg.amp.GradScaler("cpu", init_scale=256.0)
    (w,) = _params([3.0, 4.0])
    opt = CountingSGD([w], lr=1.0)
    scaler.scale((w * w).sum() / 2).backward()  # gradient (3, 4), norm 5
    scaler.unscale_(opt)
    assert w.grad.tolist() == [3.0, 4.0]
    norm = tg.nn.utils.clip_grad_norm_([w], 1.0)
    assert abs(norm.item() - 5.0) < 1e-6
    scaler.step(opt)  # does not unscale again
    assert opt.steps == 1 and np.allclose(w.tolist(), [2.4, 3.2])


# ---------------------------------------------------------------------- the same numbers as PyTorch
def _run_training(lib, dtype_name, planted, steps=8, unscale_and_clip=False):
    """A 3-4-2 MLP trained with Adam under a GradScaler; returns params, scales, growth trackers, grads."""
    rng = np.random.default_rng(0)
    dtype = getattr(lib, dtype_name)
    w1 = rng.standard_normal((4, 3)).astype(dtype_name)
    w2 = rng.standard_normal((2, 4)).astype(dtype_name)
    X = rng.standard_normal((16, 3)).astype(dtype_name)
    y = rng.integers(0, 2, 16)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).to(dtype)
    with lib.no_grad():
        model[0].weight.copy_(lib.tensor(w1))
        model[2].weight.copy_(lib.tensor(w2))
        model[0].bias.zero_()
        model[2].bias.zero_()
    opt = lib.optim.Adam(model.parameters(), lr=0.01)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0**14, growth_interval=2)
    record = []
    for step in range(steps):
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(lib.tensor(X)), lib.tensor(y))
        scaler.scale(loss).backward()
        if step in planted:
            with lib.no_grad():
                model[0].weight.grad[1, 2] = planted[step]
        if unscale_and_clip:
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        scaler.step(opt)
        scaler.update()
        record.append((scaler.get_scale(), scaler._get_growth_tracker(),
                       model[0].weight.grad.detach().numpy().copy()))
    return [p.detach().numpy().copy() for p in model.parameters()], record, scaler.state_dict()


def test_training_with_planted_inf_and_nan_skips_those_steps():
    params, record, state = _run_training(tg, "float32", {2: float("inf"), 5: float("nan")})
    # growth_interval=2: grow after two clean steps, halve on each planted non-finite gradient
    assert [s for s, _, _ in record] == [2.0**14, 2.0**15, 2.0**14, 2.0**14, 2.0**15, 2.0**14, 2.0**14, 2.0**15]
    assert [t for _, t, _ in record] == [1, 0, 0, 1, 0, 0, 1, 0]
    assert state["scale"] == 2.0**15 and all(np.isfinite(p).all() for p in params)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("clip", [False, True])
def test_training_with_a_planted_inf_matches_pytorch(dtype_name, clip):
    torch = pytest.importorskip("torch")
    planted = {2: float("inf"), 5: float("nan")}
    ours = _run_training(tg, dtype_name, planted, unscale_and_clip=clip)
    theirs = _run_training(torch, dtype_name, planted, unscale_and_clip=clip)
    assert ours[2] == theirs[2]  # state_dict
    for (s1, t1, g1), (s2, t2, g2) in zip(ours[1], theirs[1]):
        assert (s1, t1) == (s2, t2)
        np.testing.assert_allclose(g1, g2, rtol=1e-5 if dtype_name == "float32" else 1e-12, atol=1e-7)
    for p1, p2 in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(p1, p2, rtol=1e-5 if dtype_name == "float32" else 1e-12, atol=1e-7)


def test_unscaled_gradients_are_bitwise_pytorchs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    g32 = (rng.standard_normal(50) * 1e4).astype(np.float32)
    g64 = rng.standard_normal(50) * 1e4
    for lib in (tg, torch):
        scaler = lib.amp.GradScaler("cpu", init_scale=3.0 * 2**10)  # 1/scale is not exact in float32
        a, b = lib.nn.Parameter(lib.tensor(g32)), lib.nn.Parameter(lib.tensor(g64))
        a.grad, b.grad = lib.tensor(g32), lib.tensor(g64)
        scaler.scale(lib.ones(1))
        scaler.unscale_(lib.optim.SGD([a, b], lr=0.1))
        if lib is tg:
            ours = a.grad.numpy().copy(), b.grad.numpy().copy()
        else:
            assert np.array_equal(ours[0], a.grad.numpy()) and np.array_equal(ours[1], b.grad.numpy())


@given(init=st.sampled_from([1.0, 3.0, 2.0**16, 1e-3, 2.0**120]), growth=st.sampled_from([1.5, 2.0, 3.7]),
       backoff=st.sampled_from([0.5, 0.3, 0.9]), interval=st.integers(1, 4),
       infs=st.lists(st.booleans(), min_size=1, max_size=12))
def test_scale_schedule_matches_pytorch(init, growth, backoff, interval, infs):
    torch = pytest.importorskip("torch")
    schedules = []
    for lib in (tg, torch):
        scaler = lib.amp.GradScaler("cpu", init_scale=init, growth_factor=growth, backoff_factor=backoff,
                                    growth_interval=interval)
        p = lib.nn.Parameter(lib.ones(1))
        opt = lib.optim.SGD([p], lr=0.0)
        seen = []
        for inf in infs:
            p.grad = None
            scaler.scale(p.sum()).backward()
            if inf:
                p.grad.fill_(float("inf"))
            scaler.step(opt)
            scaler.update()
            seen.append((scaler.get_scale(), scaler._get_growth_tracker()))
        schedules.append(seen)
    assert schedules[0] == schedules[1]


def test_disabled_and_cuda_behaviour_matches_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scaler = lib.cuda.amp.GradScaler()
        assert [w.category for w in caught] == [FutureWarning, UserWarning]
        assert not scaler.is_enabled() and scaler.state_dict() == {} and scaler.get_scale() == 1.0


# ---------------------------------------------------------------------- autocast
@pytest.fixture
def fresh_warning(monkeypatch):
    monkeypatch.setattr(autocast_mode, "_warned_float32", False)


def test_autocast_cpu_float16_sets_state_and_warns_once(fresh_warning):
    assert not tg.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match=r"tapegrad has no float16/bfloat16 kernels.*run in the dtypes"):
        with tg.autocast(device_type="cpu", dtype=tg.float16) as ctx:
            assert tg.is_autocast_enabled("cpu") and tg.get_autocast_dtype("cpu") == tg.float16
            assert not tg.is_autocast_enabled()  # no argument: CUDA's flag, as PyTorch
            y = tg.ones(2, 2) @ tg.ones(2, 2)
    assert ctx.fast_dtype == tg.float16 and y.dtype == tg.float32  # computed in float32
    assert not tg.is_autocast_enabled("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        with tg.amp.autocast("cpu", dtype=tg.float16):
            pass


def test_autocast_as_decorator_nesting_and_restore(fresh_warning):
    @tg.autocast("cpu", dtype=tg.float16)
    def f(x):
        """doc"""
        with tg.autocast("cpu", enabled=False):
            inner = tg.is_autocast_enabled("cpu")
        return x + 1, tg.is_autocast_enabled("cpu"), inner

    with pytest.warns(UserWarning):
        y, on, inner = f(tg.ones(1))
    assert on and not inner and f.__doc__ == "doc" and f.__name__ == "f"
    assert not tg.is_autocast_enabled("cpu")
    with pytest.raises(TypeError, match=r"autocast\(\)\(func\) requires a callable, but got int"):
        tg.autocast("cpu")(3)


def test_autocast_refusals_are_pytorchs():
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported"):
        with tg.autocast("cpu", dtype=tg.float32):
            assert not tg.is_autocast_enabled("cpu") and tg.get_autocast_dtype("cpu") == tg.float32
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        tg.autocast("cpu", dtype="float16")  # a string is not a dtype
    with pytest.warns(UserWarning, match="CUDA is not available or torch_xla is imported. Disabling autocast."):
        with tg.autocast("cuda"):
            assert not tg.is_autocast_enabled("cuda")
    with pytest.warns(FutureWarning, match=r"`torch.cuda.amp.autocast\(args...\)` is deprecated"):
        with pytest.warns(UserWarning, match="CUDA is not available"):
            tg.cuda.amp.autocast()
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        tg.autocast(tg.device("cpu"))
    with pytest.raises(RuntimeError, match="device type at start of device string: tpu"):
        tg.autocast("tpu")
    with pytest.raises(RuntimeError, match="unsupported scalarType"):
        tg.autocast("meta")


def test_deprecated_cpu_spellings(fresh_warning):
    with pytest.warns(FutureWarning, match=r"`torch.cpu.amp.autocast\(args...\)` is deprecated"):
        ctx = tg.cpu.amp.autocast()
    with pytest.warns(UserWarning, match="no float16/bfloat16 kernels"):
        with ctx:
            with pytest.warns(DeprecationWarning, match="is_autocast_cpu_enabled"):
                assert tg.is_autocast_cpu_enabled()
    with pytest.warns(DeprecationWarning):
        assert tg.get_autocast_cpu_dtype() == tg.get_autocast_dtype("cpu")


def test_autocast_state_is_per_thread(fresh_warning):
    import threading

    seen = []
    with pytest.warns(UserWarning):
        with tg.autocast("cpu", dtype=tg.float16):
            t = threading.Thread(target=lambda: seen.append(tg.is_autocast_enabled("cpu")))
            t.start()
            t.join()
    assert seen == [False]


def test_custom_fwd_and_bwd_record_and_restore_the_autocast_state(fresh_warning):
    class Double(tg.autograd.Function):
        @staticmethod
        @tg.amp.custom_fwd(device_type="cpu")
        def forward(ctx, x):
            ctx.state = tg.is_autocast_enabled("cpu")
            return x * 2

        @staticmethod
        @tg.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            ctx.bwd_state = tg.is_autocast_enabled("cpu")
            return g * 2

    x = tg.ones(2, requires_grad=True)
    with pytest.warns(UserWarning):
        with tg.autocast("cpu", dtype=tg.float16):
            y = Double.apply(x)
    y.sum().backward()  # outside the region: backward runs with forward's state
    assert x.grad.tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        tg.amp.custom_fwd(device_type=None)


def test_autocast_state_matches_pytorch(fresh_warning):
    torch = pytest.importorskip("torch")

    def states(lib):
        out = [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled(), str(lib.get_autocast_dtype("cuda"))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autocast("cpu", dtype=lib.float16):
                out += [lib.is_autocast_enabled("cpu"), str(lib.get_autocast_dtype("cpu"))]
                with lib.autocast("cpu", enabled=False):
                    out += [lib.is_autocast_enabled("cpu"), str(lib.get_autocast_dtype("cpu"))]
                out.append(lib.is_autocast_enabled("cpu"))
            with lib.autocast("cpu", dtype=lib.float32):
                out += [lib.is_autocast_enabled("cpu"), str(lib.get_autocast_dtype("cpu"))]
            with lib.autocast("cuda"):
                out.append(lib.is_autocast_enabled("cuda"))
        out.append(lib.is_autocast_cache_enabled())
        return [s.replace("torch.", "") if isinstance(s, str) else s for s in out]

    assert states(tg) == states(torch)


def test_doctests():
    for module in (autocast_mode, grad_scaler, tg.amp, tg.cuda.amp, tg.cpu):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
