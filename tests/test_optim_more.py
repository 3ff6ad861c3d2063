"""NAdam, RAdam, Adamax, Rprop, ASGD, Adafactor and Muon: each update against a NumPy transcription of PyTorch's
algorithm written here (and against PyTorch itself when it is installed, in float64 and float32), first steps by
hand, parameter groups, state dicts (both ways between the two libraries), versions and bad inputs.

The problem: a convex quadratic with noise, ``f = sum(C (x - 1)^2) + noise_t . x``, whose noise is one fixed
sequence, so both libraries see the same gradients and rounding differences shrink instead of growing (on a
Rosenbrock valley they grow chaotically after some 40 steps, whichever library is right)."""

import copy
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.optim import ASGD, Adafactor, Adamax, Muon, NAdam, RAdam, Rprop

# ---------------------------------------------------------------------- the problem
C = [np.array([[1.0, 2.0, 0.5], [3.0, 1.5, 0.25]]), np.array([0.5, 1.0, 2.0, 4.0]), np.array(1.5)]
STEPS = 100
NOISE = [np.random.default_rng(7).normal(0.0, 0.5, (STEPS,) + c.shape) for c in C]


def start():
    return [np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]]), np.array([-0.5, 0.3, 0.8, 1.2]), np.array(-0.7)]


def grads(xs, t, maximize=False):
    """The gradients at step t (from 0) of f, or of -f with maximize (optimizers then climb -f to f's minimum)."""
    gs = [2 * c * (x - 1) + n[t % STEPS] for c, x, n in zip(C, xs, NOISE)]
    return [-g for g in gs] if maximize else gs


# ---------------------------------------------------------------------- NumPy transcriptions of PyTorch's updates
# Written from PyTorch's documented algorithms (torch/optim/<name>.py), in textbook form. Where PyTorch keeps a
# scalar in float32 state (NAdam's mu_product, ASGD's eta and mu), so does the reference: it changes the result.
def f32(v):
    return float(np.float32(v))


def ref_nadam(ps, gs, sts, t, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    out = []
    for p, g, s in zip(ps, gs, sts):
        if t == 1:
            s.update(m=np.zeros_like(p), v=np.zeros_like(p), prod=1.0)
        g = -g if maximize else g
        if weight_decay and decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        s["prod"] = f32(s["prod"] * f32(mu))
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        denom = np.sqrt(s["v"] / (1 - b2 ** t)) + eps
        out.append(p - lr * (1 - mu) / (1 - s["prod"]) * g / denom
                   - lr * mu_next / (1 - s["prod"] * mu_next) * s["m"] / denom)
    return out


def ref_radam(ps, gs, sts, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    out = []
    for p, g, s in zip(ps, gs, sts):
        if t == 1:
            s.update(m=np.zeros_like(p), v=np.zeros_like(p))
        g = -g if maximize else g
        if weight_decay and decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1 ** t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            out.append(p - lr * m_hat * rect * math.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + eps))
        else:
            out.append(p - lr * m_hat)
    return out


def ref_adamax(ps, gs, sts, t, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas
    out = []
    for p, g, s in zip(ps, gs, sts):
        if t == 1:
            s.update(m=np.zeros_like(p), u=np.zeros_like(p))
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["u"] = np.maximum(b2 * s["u"], np.abs(g) + eps)
        out.append(p - lr / (1 - b1 ** t) * s["m"] / s["u"])
    return out


def ref_rprop(ps, gs, sts, t, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    etaminus, etaplus = etas
    out = []
    for p, g, s in zip(ps, gs, sts):
        if t == 1:
            s.update(prev=np.zeros_like(p), size=np.full_like(p, lr))
        g = -g if maximize else g
        same = np.sign(g * s["prev"])
        s["size"] = np.clip(s["size"] * np.where(same > 0, etaplus, np.where(same < 0, etaminus, 1.0)),
                            *step_sizes)
        g = np.where(same < 0, 0.0, g)  # a coordinate whose gradient flipped sign waits one step
        s["prev"] = g
        out.append(p - np.sign(g) * s["size"])
    return out


def ref_asgd(ps, gs, sts, t, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
    out = []
    for p, g, s in zip(ps, gs, sts):
        if t == 1:
            s.update(eta=f32(lr), mu=1.0, ax=np.zeros_like(p))
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        p = p * (1 - lambd * s["eta"]) - s["eta"] * g
        s["ax"] = s["ax"] + (p - s["ax"]) * s["mu"] if s["mu"] != 1 else p.copy()
        s["eta"] = f32(lr / (1 + lambd * lr * t) ** alpha)
        s["mu"] = f32(1 / max(1, t - t0))
        out.append(p)
    return out


def ref_adafactor(ps, gs, sts, t, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                  maximize=False):
    eps1, eps2 = eps
    out = []
    for p, g, s in zip(ps, gs, sts):
        eps1 = np.finfo(p.dtype).eps if eps1 is None else eps1
        g = -g if maximize else g
        w = t ** beta2_decay  # 1 - beta2_t
        alpha = max(eps2, np.sqrt(np.mean(p * p))) * min(lr, 1 / math.sqrt(t))
        if weight_decay:
            p = p * (1 - lr * weight_decay)
        if g.ndim > 1:
            if t == 1:
                s.update(r=np.zeros(g.shape[:-1] + (1,)), c=np.zeros(g.shape[:-2] + (1,) + g.shape[-1:]))
            s["r"] = (1 - w) * s["r"] + w * np.mean(g * g, axis=-1, keepdims=True)
            s["c"] = (1 - w) * s["c"] + w * np.mean(g * g, axis=-2, keepdims=True)
            var = s["r"] * s["c"] / np.maximum(np.mean(s["r"], axis=-2, keepdims=True), eps1)
        else:
            if t == 1:
                s["v"] = np.zeros_like(p)
            s["v"] = (1 - w) * s["v"] + w * g * g
            var = s["v"]
        u = g / np.sqrt(np.maximum(var, eps1 * eps1))
        out.append(p - alpha / max(1.0, np.sqrt(np.mean(u * u)) / d) * u)
    return out


REFERENCES = {NAdam: ref_nadam, RAdam: ref_radam, Adamax: ref_adamax, Rprop: ref_rprop, ASGD: ref_asgd,
              Adafactor: ref_adafactor}

CONFIGS = [
    (NAdam, dict()),
    (NAdam, dict(lr=0.05, betas=(0.5, 0.9), momentum_decay=0.05)),
    (NAdam, dict(lr=0.05, weight_decay=0.1)),
    (NAdam, dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    (RAdam, dict()),
    (RAdam, dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6)),
    (RAdam, dict(lr=0.05, weight_decay=0.1)),
    (RAdam, dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    (Adamax, dict()),
    (Adamax, dict(lr=0.05, betas=(0.5, 0.8), eps=1e-4, weight_decay=0.1)),
    (Adamax, dict(lr=0.05, maximize=True)),
    (Rprop, dict()),
    (Rprop, dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    (Rprop, dict(lr=0.05, maximize=True)),
    (ASGD, dict()),
    (ASGD, dict(lr=0.05, lambd=0.01, alpha=0.5, t0=10, weight_decay=0.1)),
    (ASGD, dict(lr=0.05, t0=0, maximize=True)),
    (Adafactor, dict()),
    (Adafactor, dict(lr=0.05, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=1.5, weight_decay=0.1)),
    (Adafactor, dict(lr=0.05, maximize=True)),
]
IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for cls, kw in CONFIGS]


def run_reference(cls, kw, x0s, steps):
    ps = [x.astype(np.float64) for x in x0s]
    sts = [{} for _ in ps]
    for t in range(steps):
        ps = REFERENCES[cls](ps, grads(ps, t, kw.get("maximize", False)), sts, t + 1, **kw)
    return ps


def run(lib, name, kw, x0s, steps, dtype=np.float64, opt=None, params=None, first=0):
    """``steps`` steps of optimizer ``name`` of library ``lib`` (tapegrad or torch) on the noisy quadratic."""
    if params is None:
        params = [lib.tensor(x.astype(dtype), requires_grad=True) for x in x0s]
    if opt is None:
        opt = getattr(lib.optim, name)(params, **kw)
    for t in range(first, first + steps):
        xs = [p.detach().numpy().astype(np.float64) for p in params]
        for p, g in zip(params, grads(xs, t, kw.get("maximize", False))):
            p.grad = lib.tensor(g.astype(dtype))
        opt.step()
    return [p.detach().numpy().copy() for p in params], opt, params


def assert_close(got, want, rtol, atol=0.0):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------- the updates, without PyTorch
@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_matches_reference_over_100_steps(cls, kw):
    got, _, _ = run(tg, cls.__name__, kw, start(), STEPS)
    assert_close(got, run_reference(cls, kw, start(), STEPS), rtol=1e-10, atol=1e-12)


@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), data=st.data(),
       which=st.sampled_from(sorted(REFERENCES, key=lambda c: c.__name__)))
def test_matches_reference_on_random_shapes_and_hyperparameters(shape, data, which):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16), label="seed"))
    lr = data.draw(st.floats(1e-3, 0.1), label="lr")
    betas = st.tuples(st.floats(0, 0.95), st.floats(0.5, 0.999))
    decay = st.sampled_from([0, 0.1])
    options = {NAdam: st.fixed_dictionaries(dict(betas=betas, momentum_decay=st.floats(0, 0.1), weight_decay=decay,
                                                 decoupled_weight_decay=st.booleans())),
               RAdam: st.fixed_dictionaries(dict(betas=betas, weight_decay=decay,
                                                 decoupled_weight_decay=st.booleans())),
               Adamax: st.fixed_dictionaries(dict(betas=betas, weight_decay=decay)),
               Rprop: st.fixed_dictionaries(dict(etas=st.tuples(st.floats(0.1, 0.9), st.floats(1.1, 2.0)))),
               ASGD: st.fixed_dictionaries(dict(lambd=st.floats(0, 0.1), alpha=st.floats(0.1, 1.0),
                                                t0=st.sampled_from([0, 3, 1e6]))),
               Adafactor: st.fixed_dictionaries(dict(beta2_decay=st.floats(-1.0, -0.1), d=st.floats(1.0, 2.0),
                                                     weight_decay=decay))}
    kw = dict(data.draw(options[which], label="options"), lr=lr)
    kw["maximize"] = data.draw(st.booleans(), label="maximize")
    x0 = rng.normal(size=shape)
    gs = rng.normal(size=(8,) + shape)
    p = tg.tensor(x0, requires_grad=True)
    opt = which([p], **kw)
    ref, sts = [x0], [{}]
    for t in range(8):
        p.grad = tg.tensor(gs[t])
        opt.step()
        ref = REFERENCES[which](ref, [gs[t]], sts, t + 1, **kw)
        np.testing.assert_allclose(p.detach().numpy(), ref[0], rtol=1e-9, atol=1e-12)


def test_first_steps_by_hand():
    g = np.array([2.0, -4.0, 0.5])

    def one(cls, steps=1, **kw):
        w = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
        opt = cls([w], **kw)
        for _ in range(steps):
            w.grad = tg.tensor(g)
            opt.step()
        return w.detach().numpy()

    x = np.array([1.0, 2.0, 3.0])
    # Adamax, Rprop: the first step is lr * sign(g); RAdam's first steps are SGD's (rho_t <= 5)
    np.testing.assert_allclose(one(Adamax, lr=0.1, eps=0.0), x - 0.1 * np.sign(g), rtol=1e-15)
    np.testing.assert_array_equal(one(Rprop, lr=0.1), x - 0.1 * np.sign(g))
    np.testing.assert_allclose(one(Rprop, 2, lr=0.1), x - (0.1 + 0.12) * np.sign(g), rtol=1e-15)
    np.testing.assert_allclose(one(RAdam, lr=0.1), x - 0.1 * g, rtol=1e-15)
    # ASGD with lambd=0 is SGD for t0 steps
    np.testing.assert_allclose(one(ASGD, lr=0.1, lambd=0.0), x - f32(0.1) * g, rtol=1e-15)
    # NAdam's first step: mu_1 g / (1 - mu_1) weights ... its closed form with m = (1 - b1) g, v = (1 - b2) g^2
    b1, psi = 0.9, 4e-3
    mu1, mu2 = b1 * (1 - 0.5 * 0.96 ** psi), b1 * (1 - 0.5 * 0.96 ** (2 * psi))
    prod = f32(f32(mu1))
    d = np.abs(g) + 1e-8
    want = x - 0.1 * (1 - mu1) / (1 - prod) * g / d - 0.1 * mu2 / (1 - prod * mu2) * (1 - b1) * g / d
    np.testing.assert_allclose(one(NAdam, lr=0.1), want, rtol=1e-12)
    # Adafactor on a vector: at t=1 the variance is g^2, so the update is sign(g), scaled by rms(p) * min(lr, 1)
    rms = np.sqrt(np.mean(x * x))
    np.testing.assert_allclose(one(Adafactor, lr=0.1), x - rms * 0.1 * np.sign(g), rtol=1e-14)


def test_maximize_is_the_negated_gradient_bit_for_bit():
    for cls, kw in CONFIGS:
        kw = {k: v for k, v in kw.items() if k != "maximize"}
        params = [tg.tensor(x, requires_grad=True) for x in start()]
        other = [tg.tensor(x, requires_grad=True) for x in start()]
        opt, opt2 = cls(params, **kw), cls(other, maximize=True, **kw)
        for t in range(10):
            for ps, o, sign in ((params, opt, 1), (other, opt2, -1)):
                for p, gr in zip(ps, grads([p.detach().numpy() for p in ps], t)):
                    p.grad = tg.tensor(sign * gr)
                o.step()
        for a, b in zip(params, other):
            np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=cls.__name__)


def test_rprop_step_sizes_stay_within_their_bounds():
    w = tg.tensor(np.zeros(3), requires_grad=True)
    opt = Rprop([w], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.01, 0.3))
    for t in range(30):
        w.grad = tg.tensor(np.array([1.0, (-1.0) ** t, 0.0]))  # one steady, one flipping, one zero
        opt.step()
        sizes = opt.state[w]["step_size"].numpy()
        assert np.all(sizes >= 0.01) and np.all(sizes <= 0.3)
    np.testing.assert_allclose(opt.state[w]["step_size"].numpy(), [0.3, 0.01, 0.1])


def test_asgd_averages_the_iterates_after_t0():
    w = tg.tensor(np.zeros(2), requires_grad=True)
    opt = ASGD([w], lr=0.1, lambd=0.0, alpha=0.0, t0=3)  # eta stays lr; the average starts after step 3
    iterates = []
    for t in range(8):
        w.grad = tg.tensor(np.array([1.0, -2.0]) * (t % 3 - 1))
        opt.step()
        iterates.append(w.detach().numpy().copy())
    # mu = 1 up to step 5 (ax = the iterate), then 1 / (t - t0): a running mean of the iterates from step 5
    np.testing.assert_allclose(opt.state[w]["ax"].numpy(), np.mean(iterates[4:], axis=0), rtol=1e-6)


def test_adafactor_factors_the_last_two_dimensions():
    w = tg.tensor(np.random.default_rng(0).normal(size=(2, 3, 4)), requires_grad=True)
    v = tg.tensor(np.ones(5), requires_grad=True)
    opt = Adafactor([w, v])
    w.grad, v.grad = tg.ones(2, 3, 4, dtype=tg.float64), tg.ones(5, dtype=tg.float64)
    opt.step()
    assert set(opt.state[w]) == {"step", "row_var", "col_var"} and set(opt.state[v]) == {"step", "variance"}
    assert tuple(opt.state[w]["row_var"].shape) == (2, 3, 1) and tuple(opt.state[w]["col_var"].shape) == (2, 1, 4)
    # at t=1 the factors are the means of g*g: a constant gradient makes a constant update of rms 1
    np.testing.assert_allclose(opt.state[w]["row_var"].numpy(), 1.0)


# ---------------------------------------------------------------------- Muon
def _newton_schulz_float64(g, steps=5, coeffs=(3.4445, -4.7750, 2.0315), eps=1e-7):
    """Muon's quintic iteration in float64 (PyTorch runs it in bfloat16)."""
    a, b, c = coeffs
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / max(np.linalg.norm(x), eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if g.shape[0] > g.shape[1] else x


@pytest.mark.parametrize("shape", [(3, 5), (6, 2), (4, 4)])
def test_muon_matches_a_float64_reference_to_bfloat16_precision(shape):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=shape)
    gs = rng.normal(size=(10,) + shape)
    w = tg.tensor(x0, requires_grad=True)
    opt = Muon([w], lr=0.02, weight_decay=0.1, momentum=0.9)
    x, buf = x0.copy(), np.zeros(shape)
    for g in gs:
        w.grad = tg.tensor(g)
        opt.step()
        buf = 0.9 * buf + 0.1 * g
        update = _newton_schulz_float64(0.1 * g + 0.9 * buf)  # lerp(g, buf, 0.9)
        x = x * (1 - 0.02 * 0.1) - 0.02 * math.sqrt(max(1, shape[0] / shape[1])) * update
        # bfloat16 keeps 8 bits: each step's update is right to a few parts in 256
        np.testing.assert_allclose(w.detach().numpy(), x, atol=0.02 * 2.0 * 2 ** -6 * len(gs))
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"].numpy(), buf, rtol=1e-12)


def test_muon_orthogonalizes_the_update():
    rng = np.random.default_rng(1)
    w = tg.tensor(np.zeros((8, 5)), requires_grad=True)
    opt = Muon([w], lr=1.0, weight_decay=0.0, momentum=0.0, nesterov=False)
    g = rng.normal(size=(8, 5)) * np.logspace(-1, 1, 5)  # columns of very different scales
    assert np.linalg.cond(g) > 100
    w.grad = tg.tensor(g)
    opt.step()
    s = np.linalg.svd(-w.detach().numpy(), compute_uv=False) / math.sqrt(8 / 5)  # the lr was adjusted
    assert np.all((s > 0.5) & (s < 1.5)), s  # the singular values are squeezed near 1, whatever g's were


def test_muon_bfloat16_rounding_is_round_to_nearest_even():
    from tapegrad.optim.muon import _bf16

    values = np.array([1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -8 + 2 ** -20, -2.5, 0.0, np.inf],
                      dtype=np.float32)
    np.testing.assert_array_equal(_bf16(values), [1.0, 1.0, 1.0 + 2 ** -6, 1.0 + 2 ** -7, -2.5, 0.0, np.inf])
    assert np.isnan(_bf16(np.nan))[0]


def test_muon_adjusts_the_lr_to_the_shape():
    for fn, shape, ratio in [(None, (8, 2), 2.0), ("original", (2, 8), 1.0), ("match_rms_adamw", (4, 9), 0.6)]:
        from tapegrad.optim.muon import _adjust_lr

        assert _adjust_lr(0.1, fn, shape) == pytest.approx(0.1 * ratio)


def test_muon_refuses_what_pytorch_refuses():
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters .*size: \(3,\)"):
        Muon([tg.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="adjust_lr_fn 'sqrt' is not supported"):
        Muon([tg.zeros(2, 2, requires_grad=True)], adjust_lr_fn="sqrt")
    w = tg.zeros(2, 2, requires_grad=True)
    w.grad = tg.ones(2, 2)
    with pytest.raises(ValueError, match="less than 100"):
        Muon([w], ns_steps=100).step()
    with pytest.raises(ValueError, match="exactly 3 values"):
        Muon([w], ns_coefficients=(1.0, 2.0)).step()


# ---------------------------------------------------------------------- the optimizer machinery
NEW = [NAdam, RAdam, Adamax, Rprop, ASGD, Adafactor]


@pytest.mark.parametrize("cls", NEW + [Muon])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_dtype_is_kept_and_updates_are_in_place(cls, dtype):
    w = tg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=dtype, requires_grad=True)
    before = w.detach().numpy()
    opt = cls([w], lr=0.01)
    w.grad = tg.ones(2, 3, dtype=dtype)
    opt.step()
    assert w.dtype == dtype and w.detach().numpy() is before  # the same array, written in place
    assert w.grad_fn is None and np.all(np.isfinite(before))
    assert all(v.dtype == dtype for k, v in opt.state[w].items() if k not in ("step", "mu_product", "eta", "mu"))


@pytest.mark.parametrize("cls", NEW + [Muon])
def test_a_stale_graph_refuses_to_backward_after_a_step(cls):
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    opt = cls([w], lr=0.1)
    loss = (w * w).sum()
    w.grad = tg.ones(2, 2)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


@pytest.mark.parametrize("cls", NEW + [Muon])
def test_parameters_without_grad_are_skipped_and_groups_keep_their_options(cls):
    a, b, c = (tg.tensor([[1.0, -2.0]], requires_grad=True) for _ in range(3))
    opt = cls([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.01)
    a.grad = c.grad = tg.ones(1, 2)
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), [[1.0, -2.0]])
    assert b not in opt.state and a in opt.state and opt.param_groups[1]["lr"] == 0.5
    assert not np.array_equal(a.detach().numpy(), c.detach().numpy())  # different lrs, different steps
    d = tg.tensor([[0.0, 0.0]], requires_grad=True)
    opt.add_param_group({"params": [d]})
    assert opt.param_groups[2]["lr"] == 0.01  # the defaults fill the new group
    opt.zero_grad()
    assert a.grad is None and c.grad is None
    a.grad = tg.ones(1, 2)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), [[0.0, 0.0]])


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_bit_identically(cls, kw):
    first, opt, params = run(tg, cls.__name__, kw, start(), 10)
    sd = opt.state_dict()
    fresh_params = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    fresh = cls(fresh_params)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0] == {**opt.param_groups[0], "params": fresh_params}
    if cls is NAdam:
        # As PyTorch's load_state_dict, every state tensor but step takes the parameter's dtype: NAdam's
        # mu_product, float32 until then, continues in float64 (PyTorch's NAdam changes the same way).
        assert fresh.state[fresh_params[0]]["mu_product"].dtype == tg.float64
        for s in opt.state.values():
            s["mu_product"] = tg.tensor(s["mu_product"].numpy(), dtype=tg.float64)
    a, _, _ = run(tg, cls.__name__, kw, None, 10, opt=opt, params=params, first=10)
    b, _, _ = run(tg, cls.__name__, kw, None, 10, opt=fresh, params=fresh_params, first=10)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_state_keys_are_pytorchs():
    keys = {NAdam: {"step", "mu_product", "exp_avg", "exp_avg_sq"}, RAdam: {"step", "exp_avg", "exp_avg_sq"},
            Adamax: {"step", "exp_avg", "exp_inf"}, Rprop: {"step", "prev", "step_size"},
            ASGD: {"step", "eta", "mu", "ax"}, Adafactor: {"step", "row_var", "col_var"},
            Muon: {"momentum_buffer"}}
    for cls, want in keys.items():
        w = tg.zeros(2, 2, requires_grad=True)
        opt = cls([w])
        w.grad = tg.ones(2, 2)
        opt.step()
        assert set(opt.state_dict()["state"][0]) == want, cls.__name__
        if "step" in want:
            step = opt.state[w]["step"]
            assert step.dtype == tg.float32 and step.shape == () and step.item() == 1.0


def test_tensor_lr_and_foreach_are_accepted():
    for cls in NEW:
        w = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
        v = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
        o1, o2 = cls([w], lr=tg.tensor(0.01, dtype=tg.float64)), cls([v], lr=0.01, foreach=True)
        for p, o in ((w, o1), (v, o2)):
            p.grad = tg.tensor([0.5, -1.0], dtype=tg.float64)
            o.step()
        np.testing.assert_array_equal(w.detach().numpy(), v.detach().numpy())


@pytest.mark.parametrize("make,match", [
    (lambda p: NAdam(p, lr=-1.0), r"NAdam: invalid learning rate -1.0 \(expected lr >= 0\)"),
    (lambda p: NAdam(p, betas=(1.0, 0.9)), r"NAdam: invalid beta parameter at index 0 1.0"),
    (lambda p: NAdam(p, momentum_decay=-0.1), r"NAdam: invalid momentum_decay value -0.1"),
    (lambda p: NAdam(p, eps=-1e-8), "NAdam: invalid epsilon value"),
    (lambda p: RAdam(p, betas=(0.9, 1.0)), "RAdam: invalid beta parameter at index 1 1.0"),
    (lambda p: RAdam(p, weight_decay=-1), "RAdam: invalid weight_decay value -1"),
    (lambda p: Adamax(p, lr=-0.1), "Adamax: invalid learning rate"),
    (lambda p: Adamax(p, betas=(-0.1, 0.9)), "Adamax: invalid beta parameter at index 0 -0.1"),
    (lambda p: Rprop(p, etas=(1.5, 1.2)), r"Rprop: invalid eta values 1.5, 1.2 \(expected 0 < etaminus < 1 < "
                                          r"etaplus\)"),
    (lambda p: Rprop(p, lr=-1), "Rprop: invalid learning rate"),
    (lambda p: ASGD(p, weight_decay=-0.5), "ASGD: invalid weight_decay value -0.5"),
    (lambda p: Adafactor(p, beta2_decay=0.5), "Adafactor: beta2_decay should be <= 0 but is: 0.5"),
    (lambda p: Adafactor(p, eps=(-1.0, 1e-3)), "Adafactor: epsilon1 should be >= 0 but is: -1.0"),
    (lambda p: Adafactor(p, eps=(None, -1.0)), "Adafactor: epsilon2 should be >= 0"),
    (lambda p: Adafactor(p, d=0.5), "Adafactor: clipping threshold d should be >= 1 but is: 0.5"),
    (lambda p: Adafactor(p, weight_decay=-1.0), "Adafactor: weight_decay should be >= 0"),
    (lambda p: Muon(p, momentum=-0.5), "Muon: momentum should be >= 0 but is: -0.5"),
    (lambda p: Muon(p, weight_decay=-0.5), "Muon: weight decay should be >= 0"),
    (lambda p: NAdam(p, lr=tg.ones(2)), r"NAdam: Tensor lr must be 1-element, got a tensor of shape \(2,\)"),
    (lambda p: NAdam(p, capturable=True), r"NAdam: capturable=True is not supported"),
    (lambda p: RAdam(p, differentiable=True), r"RAdam: differentiable=True is not supported"),
    (lambda p: Adamax(p, capturable=True), r"Adamax: capturable=True is not supported"),
    (lambda p: Rprop(p, differentiable=True), r"Rprop: differentiable=True is not supported"),
    (lambda p: ASGD(p, capturable=True), r"ASGD: capturable=True is not supported"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make([tg.zeros(2, 2, requires_grad=True)])


def test_signatures_are_pytorchs():
    with pytest.raises(TypeError):
        Adafactor([tg.zeros(2, requires_grad=True)], capturable=False)  # PyTorch's Adafactor has no such option
    with pytest.raises(TypeError):
        NAdam([tg.zeros(2, requires_grad=True)], 0.1, (0.9, 0.99), 1e-8, 0, 4e-3, False, None)  # foreach: keyword
    Adamax([tg.zeros(2, requires_grad=True)], 0.1, (0.9, 0.99), 1e-8, 0, True)  # foreach is positional here
    ASGD([tg.zeros(2, requires_grad=True)], 0.1, 1e-4, 0.75, 1e6, 0, None, True)  # ... and maximize too


@pytest.mark.parametrize("cls", NEW + [Muon])
def test_a_gradient_of_the_wrong_shape_is_refused(cls):
    p = tg.zeros(2, 3, requires_grad=True)
    opt = cls([p], lr=0.1)
    p.grad = tg.ones(3)
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}.step: a parameter of shape \(2, 3\) has a gradient "
                                           r"of shape \(3,\); they must match"):
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), np.zeros((2, 3)))


def test_training_with_autograd_reduces_the_loss():
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.normal(size=(64, 3)))
    y = x @ tg.tensor([[1.0], [-2.0], [0.5]], dtype=tg.float64)
    for cls, kw in [(NAdam, dict(lr=0.05)), (RAdam, dict(lr=0.2)), (Adamax, dict(lr=0.05)), (Rprop, dict()),
                    (ASGD, dict(lr=0.05)), (Adafactor, dict(lr=0.2)),
                    (Muon, dict(lr=0.05, weight_decay=0.0, momentum=0.5))]:
        w = tg.full((3, 1), 0.5, dtype=tg.float64, requires_grad=True)  # Adafactor's steps are relative to |w|
        opt = cls([w], **kw)
        losses = []
        for _ in range(60):
            opt.zero_grad()
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.1 * losses[0], (cls.__name__, losses[0], losses[-1])


def test_no_warnings_in_normal_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cls, kw in CONFIGS:
            run(tg, cls.__name__, kw, start(), 3)


@pytest.mark.parametrize("module", ["nadam", "radam", "adamax", "rprop", "asgd", "adafactor", "muon"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"tapegrad.optim.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------- against PyTorch
def _torch_state_to_tg(obj, torch):
    if isinstance(obj, torch.Tensor):
        return tg.tensor(obj.detach().numpy().copy())
    if isinstance(obj, dict):
        return {k: _torch_state_to_tg(v, torch) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_torch_state_to_tg(v, torch) for v in obj)
    return obj


def _tg_state_to_torch(obj, torch):
    if isinstance(obj, tg.Tensor):
        return torch.from_numpy(obj.detach().numpy().copy())
    if isinstance(obj, dict):
        return {k: _tg_state_to_torch(v, torch) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tg_state_to_torch(v, torch) for v in obj)
    return obj


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_matches_torch_over_100_steps(cls, kw):
    torch = pytest.importorskip("torch")
    got, _, _ = run(tg, cls.__name__, kw, start(), STEPS)
    want, _, _ = run(torch, cls.__name__, kw, start(), STEPS)
    assert_close(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_float32_matches_torch(cls, kw):
    torch = pytest.importorskip("torch")
    got, _, _ = run(tg, cls.__name__, kw, start(), STEPS, dtype=np.float32)
    want, _, _ = run(torch, cls.__name__, kw, start(), STEPS, dtype=np.float32)
    assert_close(got, want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_state_dicts_load_across_the_two_libraries(cls, kw):
    """A PyTorch optimizer's state dict loads into tapegrad's (and back), and both continue identically."""
    torch = pytest.importorskip("torch")
    name = cls.__name__
    _, topt, tparams = run(torch, name, kw, start(), 15)
    _, gopt, gparams = run(tg, name, kw, start(), 15)
    tsd, gsd = topt.state_dict(), gopt.state_dict()
    assert set(tsd["param_groups"][0]) == set(gsd["param_groups"][0])
    assert [set(s) for s in tsd["state"].values()] == [set(s) for s in gsd["state"].values()]
    for sd in (tsd, gsd):  # one state dict into a fresh optimizer of each library, on the same parameters
        start_at = [p.detach().numpy().copy() for p in (tparams if sd is tsd else gparams)]
        t2 = [torch.tensor(x, requires_grad=True) for x in start_at]
        g2 = [tg.tensor(x, requires_grad=True) for x in start_at]
        topt2, gopt2 = getattr(torch.optim, name)(t2), cls(g2)
        if sd is tsd:
            topt2.load_state_dict(copy.deepcopy(sd))
            gopt2.load_state_dict(_torch_state_to_tg(sd, torch))
        else:
            topt2.load_state_dict(_tg_state_to_torch(sd, torch))
            gopt2.load_state_dict(sd)
        want, _, _ = run(torch, name, kw, None, 15, opt=topt2, params=t2, first=15)
        got, _, _ = run(tg, name, kw, None, 15, opt=gopt2, params=g2, first=15)
        assert_close(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(3, 5), (8, 4), (24, 40)])
@pytest.mark.parametrize("kw", [dict(), dict(lr=0.02, nesterov=False, adjust_lr_fn="match_rms_adamw",
                                             weight_decay=0.0),
                                dict(lr=0.02, momentum=0.5, ns_steps=3, eps=1e-3)], ids=["defaults", "rms", "ns3"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_muon_matches_torch(shape, kw, dtype):
    torch = pytest.importorskip("torch")
    gs = np.random.default_rng(0).normal(size=(30,) + shape)

    def go(lib):
        w = lib.tensor(np.linspace(-1, 1, math.prod(shape)).reshape(shape).astype(dtype), requires_grad=True)
        opt = lib.optim.Muon([w], **kw)
        for g in gs:
            w.grad = lib.tensor(g.astype(dtype))
            opt.step()
        return w.detach().numpy(), opt.state[w]["momentum_buffer"].numpy(), opt

    got, gbuf, gopt = go(tg)
    want, tbuf, topt = go(torch)
    np.testing.assert_allclose(gbuf, tbuf, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-7)
    if max(shape) <= 8:  # the bfloat16 iteration is PyTorch's to the bit on small matrices
        np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-7)
    else:  # larger float32 sums are ordered differently: a bfloat16 rounding can differ now and then
        lr = kw.get("lr", 1e-3) * max(0.2 * math.sqrt(max(shape)), 1.0)
        np.testing.assert_allclose(got, want, atol=len(gs) * lr * 2 ** -7)
    assert set(topt.state_dict()["param_groups"][0]) == set(gopt.state_dict()["param_groups"][0])
