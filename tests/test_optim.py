"""Optimizers: each update against a straightforward NumPy transcription of PyTorch's algorithm (and against
PyTorch itself when it is installed), dtypes, parameter groups, state dicts, versions and bad inputs."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.optim import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop
from tapegrad.testing import arrays, shapes

# ---------------------------------------------------------------------- the problem
# Two parameters: a quadratic bowl x (2, 3) and a chained Rosenbrock-like valley y (4,).
C = np.array([[1.0, 2.0, 0.5], [3.0, 1.5, 0.25]])


def loss_grads(x, y):
    """Analytic gradients of f = sum(C (x - 1)^2) + 2 sum((y[1:] - y[:-1]^2)^2) + 0.5 sum((1 - y)^2)."""
    gx = 2 * C * (x - 1)
    r = y[1:] - y[:-1] ** 2
    gy = -(1 - y)
    gy[1:] += 4 * r
    gy[:-1] += 4 * r * (-2 * y[:-1])
    return [gx, gy]


def neg_loss_grads(x, y):
    """Gradients of -f: with maximize=True, optimizers climb -f to the same optimum."""
    return [-g for g in loss_grads(x, y)]


def grads_for(kw):
    return neg_loss_grads if kw.get("maximize") else loss_grads


def start():
    return [np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]]), np.array([-0.5, 0.3, 0.8, 1.2])]


# ---------------------------------------------------------------------- NumPy transcriptions of PyTorch's updates
# Written from PyTorch's documented algorithms, in their textbook form (bias-corrected moments, etc.), with the
# semantics of PyTorch's implementation where the two differ: maximize negates the gradient before weight decay.
def ref_sgd(ps, gs, st_, t, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    out = []
    for i, (p, g) in enumerate(zip(ps, gs)):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            b = g if t == 1 else momentum * st_[i]["b"] + (1 - dampening) * g
            st_[i]["b"] = b
            g = g + momentum * b if nesterov else b
        out.append(p - lr * g)
    return out


def ref_adam(ps, gs, st_, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    out = []
    for i, (p, g) in enumerate(zip(ps, gs)):
        s = st_[i]
        if t == 1:
            s.update(m=np.zeros_like(p), v=np.zeros_like(p), vmax=np.zeros_like(p))
        g = -g if maximize else g
        if weight_decay and decoupled:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1 ** t)
        if amsgrad:
            s["vmax"] = np.maximum(s["vmax"], s["v"])
            v_hat = s["vmax"] / (1 - b2 ** t)
        else:
            v_hat = s["v"] / (1 - b2 ** t)
        out.append(p - lr * m_hat / (np.sqrt(v_hat) + eps))
    return out


def ref_adamw(ps, gs, st_, t, lr=1e-3, weight_decay=1e-2, **kw):
    return ref_adam(ps, gs, st_, t, lr=lr, weight_decay=weight_decay, decoupled=True, **kw)


def ref_rmsprop(ps, gs, st_, t, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                maximize=False):
    out = []
    for i, (p, g) in enumerate(zip(ps, gs)):
        s = st_[i]
        if t == 1:
            s.update(v=np.zeros_like(p), gavg=np.zeros_like(p), b=np.zeros_like(p))
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["v"] = alpha * s["v"] + (1 - alpha) * g * g
        v = s["v"]
        if centered:
            s["gavg"] = alpha * s["gavg"] + (1 - alpha) * g
            v = v - s["gavg"] ** 2
        if momentum > 0:
            s["b"] = momentum * s["b"] + g / (np.sqrt(v) + eps)
            out.append(p - lr * s["b"])
        else:
            out.append(p - lr * g / (np.sqrt(v) + eps))
    return out


def ref_adagrad(ps, gs, st_, t, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                maximize=False):
    out = []
    for i, (p, g) in enumerate(zip(ps, gs)):
        s = st_[i]
        if t == 1:
            s["sum"] = np.full_like(p, initial_accumulator_value)
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s["sum"] = s["sum"] + g * g
        out.append(p - clr * g / (np.sqrt(s["sum"]) + eps))
    return out


def ref_adadelta(ps, gs, st_, t, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    out = []
    for i, (p, g) in enumerate(zip(ps, gs)):
        s = st_[i]
        if t == 1:
            s.update(v=np.zeros_like(p), u=np.zeros_like(p))
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        delta = np.sqrt(s["u"] + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s["u"] + (1 - rho) * delta * delta
        out.append(p - lr * delta)
    return out


REFERENCES = {SGD: ref_sgd, Adam: ref_adam, AdamW: ref_adamw, RMSprop: ref_rmsprop, Adagrad: ref_adagrad,
              Adadelta: ref_adadelta}

CONFIGS = [
    (SGD, dict(lr=0.01)),
    (SGD, dict(lr=0.01, momentum=0.9)),
    (SGD, dict(lr=0.01, momentum=0.9, dampening=0.3)),
    (SGD, dict(lr=0.01, momentum=0.9, nesterov=True)),
    (SGD, dict(lr=0.01, momentum=0.5, weight_decay=0.1, maximize=True)),
    (Adam, dict()),
    (Adam, dict(lr=0.05)),
    (Adam, dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    (Adam, dict(lr=0.05, amsgrad=True)),
    (Adam, dict(lr=0.02, betas=(0.3, 0.2), maximize=True)),
    (AdamW, dict(lr=0.05)),
    (AdamW, dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    (RMSprop, dict()),
    (RMSprop, dict(lr=0.005, alpha=0.9, weight_decay=0.1)),
    (RMSprop, dict(lr=0.005, momentum=0.8)),
    (RMSprop, dict(lr=0.005, centered=True)),
    (RMSprop, dict(lr=0.002, alpha=0.3, momentum=0.5, centered=True, maximize=True)),
    (Adagrad, dict()),
    (Adagrad, dict(lr=0.1, lr_decay=0.05)),
    (Adagrad, dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    (Adadelta, dict()),
    (Adadelta, dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1)),
    (Adadelta, dict(maximize=True)),
]
IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for cls, kw in CONFIGS]


def run_reference(cls, kw, x0s, steps, grads=None):
    grads = grads or grads_for(kw)
    ps = [x.copy() for x in x0s]
    state = [{} for _ in ps]
    for t in range(1, steps + 1):
        ps = REFERENCES[cls](ps, grads(*ps), state, t, **kw)
    return ps


def run_tapegrad(cls, kw, x0s, steps, dtype=np.float64, grads=None):
    grads = grads or grads_for(kw)
    params = [tg.tensor(x.astype(dtype), requires_grad=True) for x in x0s]
    opt = cls(params, **kw)
    for _ in range(steps):
        for p, g in zip(params, grads(*[p.detach().numpy() for p in params])):
            p.grad = tg.tensor(g.astype(dtype))
        opt.step()
    return [p.detach().numpy() for p in params], opt


# ---------------------------------------------------------------------- the updates
@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_matches_reference_over_50_steps(cls, kw):
    got, _ = run_tapegrad(cls, kw, start(), 50)
    want = run_reference(cls, kw, start(), 50)
    for g, w in zip(got, want):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_matches_torch_over_50_steps(cls, kw):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(x, requires_grad=True) for x in start()]
    opt = getattr(torch.optim, cls.__name__)(params, **kw)
    for _ in range(50):
        for p, g in zip(params, grads_for(kw)(*[p.detach().numpy() for p in params])):
            p.grad = torch.tensor(g)
        opt.step()
    got, _ = run_tapegrad(cls, kw, start(), 50)
    for g, p in zip(got, params):
        np.testing.assert_allclose(g, p.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,kw", [CONFIGS[1], CONFIGS[8], CONFIGS[16], CONFIGS[19], CONFIGS[21]],
                         ids=[IDS[1], IDS[8], IDS[16], IDS[19], IDS[21]])
def test_float32_matches_torch(cls, kw):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in start()]
    opt = getattr(torch.optim, cls.__name__)(params, **kw)
    for _ in range(20):
        for p, g in zip(params, grads_for(kw)(*[p.detach().numpy().astype(np.float64) for p in params])):
            p.grad = torch.tensor(g.astype(np.float32))
        opt.step()
    got, _ = run_tapegrad(cls, kw, start(), 20, dtype=np.float32,
                          grads=lambda *ps: grads_for(kw)(*[p.astype(np.float64) for p in ps]))
    for g, p in zip(got, params):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, p.detach().numpy(), rtol=2e-5, atol=1e-6)


@given(shape=shapes(max_dims=3, max_side=4), data=st.data(), which=st.integers(0, len(CONFIGS) - 1))
def test_matches_reference_on_random_shapes(shape, data, which):
    cls, kw = CONFIGS[which]
    x0 = data.draw(arrays(shape=shape))
    target = data.draw(arrays(shape=shape))
    scale = data.draw(arrays(shape=shape, min_value=0.1, max_value=2.0))

    def grads(x):  # a random quadratic bowl
        return [2 * scale * (x - target)]

    got, _ = run_tapegrad(cls, kw, [x0], 5, grads=grads)
    want = run_reference(cls, kw, [x0], 5, grads=grads)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_zero_dim_parameters(cls, kw):
    x0s = [np.array(0.5), np.array(-1.5)]

    def grads(x, y):
        return [np.asarray(2.0 * (x - 1.0)), np.asarray(3.0 * y)] if not kw.get("maximize") else \
            [np.asarray(-2.0 * (x - 1.0)), np.asarray(-3.0 * y)]

    got, opt = run_tapegrad(cls, kw, x0s, 8, grads=grads)
    want = run_reference(cls, kw, x0s, 8, grads=grads)
    for g, w in zip(got, want):
        assert g.shape == ()
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)
    for state in opt.state.values():
        assert all(isinstance(v.numpy(), np.ndarray) for v in state.values())


def test_first_steps_by_hand():
    # SGD with momentum: b1 = g, p1 = p0 - lr g; b2 = m b1 + g2.
    w = tg.tensor([1.0, -2.0], dtype=tg.float64, requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.5)
    w.grad = tg.tensor([2.0, -4.0], dtype=tg.float64)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -1.6])
    w.grad = tg.tensor([1.0, 1.0], dtype=tg.float64)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.8 - 0.1 * 2.0, -1.6 - 0.1 * -1.0])
    # Adam's first step moves each coordinate by lr * g / (|g| + eps).
    v = tg.tensor([1.0, -2.0, 0.0], dtype=tg.float64, requires_grad=True)
    opt = Adam([v], lr=0.1)
    v.grad = tg.tensor([3.0, -0.5, 0.0], dtype=tg.float64)
    opt.step()
    np.testing.assert_allclose(v.detach().numpy(), [0.9, -1.9, 0.0], rtol=1e-7)


def test_training_with_autograd_reduces_the_loss():
    target = tg.tensor(np.array([[1.0, -2.0], [0.5, 3.0]]))
    for cls, kw in [(SGD, dict(lr=0.1, momentum=0.9)), (Adam, dict(lr=0.1)), (RMSprop, dict(lr=0.05)),
                    (Adagrad, dict(lr=0.5)), (Adadelta, dict(lr=10.0)), (AdamW, dict(lr=0.1))]:
        w = tg.zeros(2, 2, dtype=tg.float64, requires_grad=True)
        opt = cls([w], **kw)

        def closure(opt=opt, w=w):
            opt.zero_grad()
            d = w - target
            loss = (d * d).sum()
            loss.backward()
            return loss

        first = opt.step(closure).item()
        for _ in range(60):
            last = opt.step(closure).item()
        assert last < 0.2 * first, (cls.__name__, first, last)


# ---------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("cls,kw", [(SGD, dict(lr=0.1, momentum=0.9)), (Adam, dict(amsgrad=True)),
                                    (AdamW, {}), (RMSprop, dict(momentum=0.5, centered=True)), (Adagrad, {}),
                                    (Adadelta, {})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(cls, kw, dtype):
    got, opt = run_tapegrad(cls, kw, start(), 3, dtype=dtype)
    assert all(g.dtype == dtype for g in got)
    for state in opt.state.values():
        for key, value in state.items():
            if key == "step":
                assert value.dtype == tg.float32 and value.shape == ()  # as PyTorch keeps it
            else:
                assert value.dtype == dtype, key


# ---------------------------------------------------------------------- the step itself
def test_step_writes_in_place_and_records_nothing():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    array = w._data
    opt = Adam([w], lr=0.1)
    (w * w).sum().backward()
    grad_before = w.grad.detach().numpy().copy()
    opt.step()
    assert w._data is array  # updated in place
    assert w.is_leaf and w.grad_fn is None and w.requires_grad
    np.testing.assert_array_equal(w.grad.detach().numpy(), grad_before)  # the gradient is not modified


def test_step_bumps_the_version_so_a_stale_backward_refuses():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    y = (w * w).sum()  # uses w's current value
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_one_step_moves_the_version_of_every_updated_parameter_and_only_those():
    a, b, c = (tg.tensor([1.0, 2.0], requires_grad=True) for _ in range(3))
    opt = SGD([a, b, c], lr=0.1)
    (a * b).sum().backward()  # c gets no gradient
    saved_a, saved_b, saved_c = (a * a).sum(), (b * b).sum(), (c * c).sum()
    opt.step()
    for saved in (saved_a, saved_b):
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            saved.backward()
    saved_c.backward()  # c was not written
    (a * b).sum().backward()  # recorded after the step


def test_parameters_without_grad_are_skipped():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0], requires_grad=True)
    for cls in (SGD, Adam, RMSprop, Adadelta):
        opt = cls([a, b], lr=0.1) if cls is not SGD else cls([a, b], lr=0.1, momentum=0.9)
        a.grad = tg.ones(2)
        b.grad = None
        opt.step()
        np.testing.assert_array_equal(b.detach().numpy(), [3.0])
        assert b not in opt.state or not opt.state[b], cls.__name__
        a.data = tg.tensor([1.0, 2.0])


def test_adagrad_state_exists_from_construction():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = Adagrad([a], initial_accumulator_value=0.25)
    np.testing.assert_array_equal(opt.state[a]["sum"].numpy(), [0.25, 0.25])
    assert opt.state[a]["step"].item() == 0.0


def test_zero_grad():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([a], lr=0.1)
    (a * a).sum().backward()
    opt.zero_grad()
    assert a.grad is None
    (a * a).sum().backward()
    grad = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    (a * a).sum().backward()  # accumulates into the zeroed gradient
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 4.0])


def test_step_with_closure_enables_grad_and_returns_the_loss():
    a = tg.tensor([3.0], requires_grad=True)
    opt = SGD([a], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(a.detach().numpy(), [1.5])
    assert opt.step() is None


def test_lr_may_be_changed_between_steps():
    a = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    opt = SGD([a], lr=0.1)
    a.grad = tg.tensor([1.0], dtype=tg.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [1.0 - 0.1 - 0.5])


# ---------------------------------------------------------------------- parameter groups
def test_parameter_groups_with_different_lrs():
    x0, y0 = start()
    x = tg.tensor(x0, requires_grad=True)
    y = tg.tensor(y0, requires_grad=True)
    opt = Adam([{"params": [x]}, {"params": y, "lr": 0.05, "betas": (0.5, 0.9)}], lr=0.01)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[1]["lr"] == 0.05
    assert opt.param_groups[0]["betas"] == (0.9, 0.999) and opt.param_groups[1]["betas"] == (0.5, 0.9)
    st_x, st_y = [{}], [{}]
    px, py = [x0.copy()], [y0.copy()]
    for t in range(1, 21):
        gx, gy = loss_grads(x.detach().numpy(), y.detach().numpy())
        x.grad, y.grad = tg.tensor(gx), tg.tensor(gy)
        opt.step()
        gx, gy = loss_grads(px[0], py[0])
        px = ref_adam(px, [gx], st_x, t, lr=0.01)
        py = ref_adam(py, [gy], st_y, t, lr=0.05, betas=(0.5, 0.9))
    np.testing.assert_allclose(x.detach().numpy(), px[0], rtol=1e-12)
    np.testing.assert_allclose(y.detach().numpy(), py[0], rtol=1e-12)


def test_add_param_group_fills_defaults():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([2.0], requires_grad=True)
    opt = SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="SGD: some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_named_parameters():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([2.0], requires_grad=True)
    opt = SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    with pytest.raises(ValueError, match="all parameters should be given with names or all without"):
        SGD([("w", a), b])


def test_repr_lists_the_groups():
    opt = SGD([tg.zeros(1, requires_grad=True)], lr=0.5)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.5" in text


def test_custom_optimizer_subclass():
    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def _update(self, group):
            for p in group["params"]:
                if p.grad is not None:
                    p._data -= group["lr"] * np.sign(p.grad._data)

    a = tg.tensor([1.0, -1.0], requires_grad=True)
    opt = SignSGD([a])
    a.grad = tg.tensor([5.0, -0.1])
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, -0.9])

    class TensorOpsSGD(Optimizer):  # written with tensor operations, PyTorch style: step runs them under no_grad
        def _update(self, group):
            for p in group["params"]:
                p.sub_(p.grad * group["lr"])

    opt = TensorOpsSGD([a], dict(lr=0.5))
    a.grad = tg.tensor([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.4, -1.4])
    assert a.is_leaf and tg.is_grad_enabled()
    with pytest.raises(NotImplementedError, match="must implement"):
        Optimizer([a], {}).step()


# ---------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_bit_identically(cls, kw):
    params, opt = _trained(cls, kw, 10)
    sd = opt.state_dict()
    fresh_params = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    fresh = cls(fresh_params, **{k: v for k, v in kw.items() if k == "initial_accumulator_value"})
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for _ in range(10):
        for ps, o in ((params, opt), (fresh_params, fresh)):
            for p, g in zip(ps, grads_for(kw)(*[p.detach().numpy() for p in ps])):
                p.grad = tg.tensor(g)
            o.step()
    for a, b in zip(params, fresh_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def _trained(cls, kw, steps):
    params = [tg.tensor(x, requires_grad=True) for x in start()]
    opt = cls(params, **kw)
    for _ in range(steps):
        for p, g in zip(params, grads_for(kw)(*[p.detach().numpy() for p in params])):
            p.grad = tg.tensor(g)
        opt.step()
    return params, opt


def test_state_dict_layout_is_pytorchs():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0], requires_grad=True)
    c = tg.tensor([4.0], requires_grad=True)
    opt = Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    a.grad, c.grad = tg.ones(2), tg.ones(1)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 2]  # b had no gradient, so no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"].item() == 1.0
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert set(sd["param_groups"][0]) == {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                                          "foreach", "capturable", "differentiable", "fused",
                                          "decoupled_weight_decay"}


def test_state_dict_matches_torchs_layout():
    torch = pytest.importorskip("torch")
    for name, kw in [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", {}), ("AdamW", {}), ("RMSprop",
                     dict(momentum=0.1, centered=True)), ("Adagrad", {}), ("Adadelta", {})]:
        tp = torch.zeros(2, requires_grad=True)
        topt = getattr(torch.optim, name)([tp], **kw)
        tp.grad = torch.ones(2)
        topt.step()
        gp = tg.zeros(2, requires_grad=True)
        gopt = getattr(tg.optim, name)([gp], **kw)
        gp.grad = tg.ones(2)
        gopt.step()
        tsd, gsd = topt.state_dict(), gopt.state_dict()
        assert set(tsd["state"][0]) == set(gsd["state"][0]), name
        assert set(tsd["param_groups"][0]) == set(gsd["param_groups"][0]), name
        for key, value in tsd["state"][0].items():
            np.testing.assert_allclose(gsd["state"][0][key].numpy(), value.numpy(), rtol=1e-6)


def test_load_state_dict_copies_the_state():
    params, opt = _trained(Adam, {}, 3)
    sd = opt.state_dict()
    fresh = Adam([tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params])
    fresh.load_state_dict(sd)
    before = fresh.state_dict()["state"][0]["exp_avg"].numpy().copy()
    for p in params:
        p.grad = tg.ones_like(p)
    opt.step()  # moves opt's own state on; the loaded copy must not follow
    np.testing.assert_array_equal(fresh.state_dict()["state"][0]["exp_avg"].numpy(), before)


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    params, opt = _trained(Adam, {}, 2)  # float64
    fresh_params = [tg.tensor(p.detach().numpy().astype(np.float32), requires_grad=True) for p in params]
    fresh = Adam(fresh_params)
    fresh.load_state_dict(opt.state_dict())
    for p in fresh_params:
        assert fresh.state[p]["exp_avg"].dtype == tg.float32
        assert fresh.state[p]["step"].dtype == tg.float32


def test_load_state_dict_mismatches():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([1.0], requires_grad=True)
    opt = Adam([a, b])
    a.grad, b.grad = tg.ones(2), tg.ones(1)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: loaded state dict has 1 parameter group\(s\) "
                                         r"but the optimizer has 2"):
        Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"parameter group 0 of the loaded state dict has 2 parameter\(s\) but "
                                         r"the optimizer's has 1"):
        Adam([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(2,\) but the parameter "
                                         r"has shape \(3,\)"):
        Adam([tg.zeros(3, requires_grad=True), b]).load_state_dict(sd)
    with pytest.raises(ValueError, match="expected a dict with keys 'state' and 'param_groups'"):
        Adam([a, b]).load_state_dict({"params": []})


# ---------------------------------------------------------------------- numerics at the edges
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,kw", [(SGD, dict(momentum=0.9)), (Adam, {}), (Adam, dict(amsgrad=True)),
                                    (AdamW, {}), (RMSprop, {}), (RMSprop, dict(centered=True, momentum=0.5)),
                                    (Adagrad, {}), (Adadelta, {})])
def test_zero_tiny_and_large_gradients_give_finite_updates(cls, kw, dtype):
    big = 1e18 if dtype == np.float32 else 1e150  # large, but its square still fits
    for g in (0.0, 1e-30, 1e-7, big):
        p = tg.tensor(np.array([1.0, -1.0], dtype=dtype), requires_grad=True)
        opt = cls([p], **kw)
        for _ in range(5):
            p.grad = tg.tensor(np.array([g, -g], dtype=dtype))
            opt.step()
        values = p.detach().numpy()
        assert values.dtype == dtype
        assert np.all(np.isfinite(values)), (cls.__name__, g, values)
        if g == 0.0 and cls is not AdamW:
            np.testing.assert_array_equal(values, [1.0, -1.0])  # no gradient, no move


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rmsprop_centered_with_a_constant_gradient_stays_finite(dtype):
    # The running variance v - a*a is zero in exact arithmetic and may round below zero.
    p = tg.tensor(np.array([0.0, 0.0, 0.0], dtype=dtype), requires_grad=True)
    opt = RMSprop([p], lr=1e-3, centered=True, alpha=0.5)
    for _ in range(200):
        p.grad = tg.tensor(np.array([0.1, 1.7, 3.3], dtype=dtype))
        opt.step()
    assert np.all(np.isfinite(p.detach().numpy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_steps_are_invariant_to_the_gradient_scale(dtype):
    finals = []
    for scale in (1e-3, 1.0, 1e6):
        p = tg.tensor(np.array([1.0, -1.0, 0.5], dtype=dtype), requires_grad=True)
        opt = Adam([p], lr=0.01, eps=0.0)
        for t in range(10):
            p.grad = tg.tensor((scale * np.array([1.0, -2.0, 0.5]) * (1 + 0.1 * t)).astype(dtype))
            opt.step()
        finals.append(p.detach().numpy())
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(finals[0], finals[1], rtol=rtol)
    np.testing.assert_allclose(finals[2], finals[1], rtol=rtol)


# ---------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("make,error,match", [
    (lambda p: SGD(p, lr=-0.1), ValueError, r"SGD: invalid learning rate -0.1 \(expected lr >= 0\)"),
    (lambda p: SGD(p, momentum=-1), ValueError, r"SGD: invalid momentum -1"),
    (lambda p: SGD(p, weight_decay=-1), ValueError, r"SGD: invalid weight_decay -1"),
    (lambda p: SGD(p, nesterov=True), ValueError, r"SGD: Nesterov momentum requires a momentum > 0 and zero "
                                                  r"dampening; got momentum=0, dampening=0"),
    (lambda p: SGD(p, fused=True, foreach=True), RuntimeError, r"SGD: `fused` and `foreach` cannot be `True` together"),
    (lambda p: SGD(p, differentiable=True), ValueError, r"SGD: differentiable=True is not supported"),
    (lambda p: Adam(p, betas=(1.0, 0.9)), ValueError, r"Adam: invalid beta parameter at index 0 1.0 "
                                                      r"\(expected 0 <= beta1 < 1\)"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), ValueError, r"Adam: invalid beta parameter at index 1 -0.1"),
    (lambda p: Adam(p, eps=-1e-8), ValueError, r"Adam: invalid epsilon value -1e-08"),
    (lambda p: AdamW(p, weight_decay=-1), ValueError, r"AdamW: invalid weight_decay value -1"),
    (lambda p: AdamW(p, lr=-1), ValueError, r"AdamW: invalid learning rate -1"),
    (lambda p: RMSprop(p, alpha=-0.5), ValueError, r"RMSprop: invalid alpha value -0.5"),
    (lambda p: RMSprop(p, momentum=-0.5), ValueError, r"RMSprop: invalid momentum value -0.5"),
    (lambda p: Adagrad(p, lr_decay=-1), ValueError, r"Adagrad: invalid lr_decay value -1"),
    (lambda p: Adagrad(p, initial_accumulator_value=-1), ValueError, r"Adagrad: invalid "
                                                                     r"initial_accumulator_value -1"),
    (lambda p: Adadelta(p, rho=1.5), ValueError, r"Adadelta: invalid rho value 1.5 \(expected 0 <= rho <= 1\)"),
    (lambda p: Adadelta(p, capturable=True), ValueError, r"Adadelta: capturable=True is not supported"),
])
def test_bad_hyperparameters(make, error, match):
    with pytest.raises(error, match=match):
        make([tg.zeros(2, requires_grad=True)])


def test_bad_params():
    a = tg.zeros(2, 3, requires_grad=True)
    with pytest.raises(TypeError, match=r"SGD: params should be an iterable of Tensors or dicts, but got a "
                                        r"Tensor of shape \(2, 3\)"):
        SGD(a)
    with pytest.raises(ValueError, match="Adam: optimizer got an empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="SGD: can only optimize Tensors, but parameter 1 is a list"):
        SGD([a, [1.0]])
    with pytest.raises(ValueError, match=r"SGD: can't optimize a non-leaf Tensor \(parameter 0, shape \(2, 3\), "
                                         r"made by MulBackward0\)"):
        SGD([a * 2])
    with pytest.raises(TypeError, match="Adam: parameters must be given in an ordered collection"):
        Adam([{"params": {a}}])
    with pytest.raises(ValueError, match="SGD: some parameters appear in more than one parameter group"):
        SGD([{"params": [a]}, {"params": [a]}])
    with pytest.warns(UserWarning, match="SGD: a parameter group contains the same parameter more than once"):
        SGD([a, a])
    with pytest.raises(TypeError, match="SGD.add_param_group: param_group must be a dict, got list"):
        SGD([a]).add_param_group([a])


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta])
def test_a_gradient_of_the_wrong_shape_is_refused(cls):
    p = tg.zeros(2, 3, requires_grad=True)
    opt = cls([p], lr=0.1)
    p.grad = tg.ones(3)  # would broadcast silently
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}.step: a parameter of shape \(2, 3\) has a gradient "
                                           r"of shape \(3,\); they must match"):
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), np.zeros((2, 3)))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_checks_every_shape_before_writing_any_parameter(momentum):
    good, bad = tg.ones(2, requires_grad=True), tg.ones(3, requires_grad=True)
    good.grad, bad.grad = tg.ones(2), tg.ones(2)
    with pytest.raises(RuntimeError, match="SGD.step: a parameter of shape"):
        SGD([good, bad], lr=0.5, momentum=momentum).step()
    np.testing.assert_array_equal(good.detach().numpy(), np.ones(2))  # not half applied


def test_no_warnings_in_normal_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_tapegrad(Adam, {}, start(), 3)


@pytest.mark.parametrize("module", ["optimizer", "sgd", "adam", "rmsprop", "adagrad", "adadelta"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"tapegrad.optim.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("cls", [tg.optim.SGD, tg.optim.Adam, tg.optim.AdamW, tg.optim.Adagrad])
def test_fused_is_accepted_and_changes_nothing(cls):
    # PyTorch has fused CPU kernels for these four; tapegrad's one implementation is the same arithmetic
    finals = []
    for fused in (None, True):
        w = tg.nn.Parameter(tg.tensor([1.0, -2.0, 3.0]))
        opt = cls([w], lr=0.1, fused=fused)
        for _ in range(3):
            opt.zero_grad()
            (w ** 2).sum().backward()
            opt.step()
        assert opt.param_groups[0]["fused"] is fused
        finals.append(w.detach().clone())
    assert tg.equal(*finals)
