"""L-BFGS: convergence and step counts on Rosenbrock's function and on quadratics, its cubic interpolation, the
closure protocol, state dicts, and (when PyTorch is installed) every iterate against PyTorch's, with and without
the strong Wolfe line search."""

import copy
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.optim import LBFGS
from tapegrad.optim.lbfgs import _cubic_interpolate


def rosenbrock(w):
    return ((1 - w[:-1]) ** 2 + 100 * (w[1:] - w[:-1] ** 2) ** 2).sum()


def start(n=6, dtype=np.float64):
    return np.linspace(-1.5, 1.2, n).astype(dtype)


def run(lib, kw, x0, steps, loss=rosenbrock):
    """``steps`` calls of ``step(closure)``; the parameters, the losses returned, the closure calls, the state."""
    w = lib.tensor(x0.copy(), requires_grad=True)
    opt = lib.optim.LBFGS([w], **kw)
    calls = []

    def closure():
        opt.zero_grad()
        value = loss(w)
        value.backward()
        calls.append(1)
        return value

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return w.detach().numpy().copy(), losses, len(calls), opt, w, closure


# ---------------------------------------------------------------------- without PyTorch
def test_strong_wolfe_finds_rosenbrocks_minimum():
    x, losses, calls, opt, _, _ = run(tg, dict(line_search_fn="strong_wolfe"), start(), 5)
    np.testing.assert_allclose(x, np.ones(6), atol=1e-5)
    assert losses[0] > 1 and losses[-1] < 1e-10 and all(b <= a for a, b in zip(losses, losses[1:]))
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state["func_evals"] == calls and state["n_iter"] >= 20


def test_fixed_steps_descend_with_a_small_lr():
    x, losses, _, _, _, _ = run(tg, dict(lr=0.1, max_iter=50), start(), 4)
    assert losses[-1] < 0.2 * losses[0]


@given(n=st.integers(2, 8), seed=st.integers(0, 2 ** 16))
def test_a_convex_quadratic_is_solved_in_one_step(n, seed):
    """With exact curvature pairs, L-BFGS with a line search solves an n-dimensional quadratic in about n
    iterations: one ``step`` of 4n iterations reaches the solution of A x = b (to the loss change
    tolerance_change = 1e-14 allows: an error of about sqrt(1e-14))."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, n))
    a = q @ q.T + n * np.eye(n)
    b = rng.normal(size=n)
    at, bt = tg.tensor(a), tg.tensor(b)
    x, _, _, _, _, _ = run(tg, dict(line_search_fn="strong_wolfe", max_iter=4 * n, max_eval=40 * n,
                                    tolerance_grad=1e-12, tolerance_change=1e-14), np.zeros(n), 1,
                           loss=lambda w: 0.5 * (w * (at @ w)).sum() - (bt * w).sum())
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=0, atol=1e-6)


def test_the_closure_is_called_at_most_max_eval_times_per_step():
    for kw in [dict(max_iter=10), dict(max_iter=10, max_eval=4), dict(max_iter=30, line_search_fn="strong_wolfe"),
               dict(max_iter=30, max_eval=7, line_search_fn="strong_wolfe")]:
        _, _, calls, opt, _, _ = run(tg, kw, start(), 1)
        max_eval = opt.param_groups[0]["max_eval"]
        assert calls <= max_eval + 1, (kw, calls)  # the line search may use one more, as PyTorch's
    assert LBFGS([tg.zeros(1, requires_grad=True)], max_iter=8).param_groups[0]["max_eval"] == 10


def test_at_an_optimum_the_step_stops_after_one_evaluation():
    _, losses, calls, opt, _, _ = run(tg, dict(), np.ones(4), 3)
    assert calls == 3 and losses == [0.0, 0.0, 0.0]
    assert opt.state[opt.param_groups[0]["params"][0]]["func_evals"] == 3


def test_cubic_interpolation_finds_a_cubics_minimum():
    # f(x) = (x - 1)^3 - 3 (x - 1): its local minimum is at x = 2
    def f(x):
        return (x - 1) ** 3 - 3 * (x - 1)

    def df(x):
        return 3 * (x - 1) ** 2 - 3

    x1, x2 = np.float64(1.5), np.float64(3.0)
    assert _cubic_interpolate(x1, f(x1), df(x1), x2, f(x2), df(x2)) == pytest.approx(2.0, rel=1e-12)
    assert _cubic_interpolate(x2, f(x2), df(x2), x1, f(x1), df(x1)) == pytest.approx(2.0, rel=1e-12)
    assert _cubic_interpolate(x1, f(x1), df(x1), x2, f(x2), df(x2), bounds=(1.6, 1.8)) == 1.8
    # no real minimizer (d1^2 < g1 g2): the middle of the bounds
    assert _cubic_interpolate(np.float64(0.0), 0.0, np.float64(1.0), np.float64(1.0), 2 / 3, np.float64(1.0)) == 0.5


def test_history_size_bounds_the_memory():
    _, _, _, opt, w, _ = run(tg, dict(history_size=3, max_iter=15), start(), 2)
    state = opt.state[w]
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 3
    assert len(state["al"]) == 3 and state["d"].shape == (6,) and isinstance(state["prev_loss"], float)


def test_parameters_of_several_shapes_and_no_gradient():
    a = tg.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=tg.float64, requires_grad=True)
    b = tg.tensor([3.0], dtype=tg.float64, requires_grad=True)
    unused = tg.tensor([7.0], dtype=tg.float64, requires_grad=True)
    opt = LBFGS([a, b, unused], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((a - 1) ** 2).sum() + ((b + 2) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(a.detach().numpy(), np.ones((2, 2)), atol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), [-2.0], atol=1e-6)
    assert unused.item() == 7.0 and unused.grad is None


def test_state_dict_round_trip_continues_bit_identically():
    for kw in [dict(), dict(line_search_fn="strong_wolfe", history_size=4)]:
        _, _, _, opt, w, closure = run(tg, kw, start(), 1)
        sd = opt.state_dict()
        w2 = tg.tensor(w.detach().numpy().copy(), requires_grad=True)
        opt2 = LBFGS([w2], **kw)
        opt2.load_state_dict(sd)

        def closure2(opt2=opt2, w2=w2):
            opt2.zero_grad()
            loss = rosenbrock(w2)
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
            opt2.step(closure2)
        np.testing.assert_array_equal(w.detach().numpy(), w2.detach().numpy())


def test_a_step_bumps_the_version():
    w = tg.tensor(start(), requires_grad=True)
    opt = LBFGS([w])
    stale = rosenbrock(w)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(w)
        loss.backward()
        return loss

    opt.step(closure)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        stale.backward()


def test_the_closure_runs_with_grad_enabled_inside_no_grad():
    w = tg.tensor(start(), requires_grad=True)
    opt = LBFGS([w], max_iter=3)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(w)
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.requires_grad and tg.is_grad_enabled()


def test_bad_inputs():
    w = tg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        LBFGS([{"params": [w]}, {"params": [tg.zeros(1, requires_grad=True)]}])
    opt = LBFGS([w])
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        opt.add_param_group({"params": [tg.zeros(1, requires_grad=True)]})
    with pytest.raises(ValueError, match=r"LBFGS: invalid learning rate -1 \(expected lr >= 0\)"):
        LBFGS([w], lr=-1)
    with pytest.raises(TypeError):
        opt.step()  # the closure is required
    with pytest.raises(TypeError, match="LBFGS.step: a closure is required"):
        opt.step(None)

    def closure():
        opt.zero_grad()
        loss = (w * w + w).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="LBFGS: only 'strong_wolfe' is supported as line_search_fn, got "
                                           "'armijo'"):
        LBFGS([w], line_search_fn="armijo").step(closure)


def test_no_warnings_in_normal_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(tg, dict(line_search_fn="strong_wolfe"), start(), 2)


def test_docstring_examples():
    import doctest

    import tapegrad.optim.lbfgs as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("kw,rtol", [(dict(line_search_fn="strong_wolfe"), 1e-9),
                                     (dict(line_search_fn="strong_wolfe", history_size=4, max_iter=10, max_eval=12),
                                      1e-9),
                                     (dict(lr=0.5, history_size=3, max_iter=7), 1e-7),
                                     (dict(max_iter=5), 1e-7)], ids=["wolfe", "wolfe-short", "fixed-lr0.5", "fixed"])
def test_matches_torch_on_rosenbrock(kw, rtol):
    """40 to 70 iterations: fixed steps on Rosenbrock's valley amplify the last bits of the dot products (whose
    summation order differs) more than line-searched ones do."""
    torch = pytest.importorskip("torch")
    got, glosses, gcalls, gopt, gw, _ = run(tg, kw, start(), 8)
    want, tlosses, tcalls, topt, tw, _ = run(torch, kw, start(), 8)
    assert gcalls == tcalls  # the same iterations, the same line-search decisions
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(glosses, tlosses, rtol=rtol, atol=1e-12)
    gs, ts = gopt.state[gw], topt.state[tw]
    assert set(gs) == set(ts) and gs["n_iter"] == ts["n_iter"] and gs["func_evals"] == ts["func_evals"]
    np.testing.assert_allclose(gs["d"].numpy(), ts["d"].numpy(), rtol=1e-7, atol=1e-12)
    assert len(gs["old_dirs"]) == len(ts["old_dirs"])


def test_first_step_without_line_search_matches_torch_to_the_last_bits():
    """Rosenbrock with fixed steps amplifies the last bit (dot products are summed in another order):
    one step of 20 iterations agrees to 1e-12."""
    torch = pytest.importorskip("torch")
    got, *_ = run(tg, {}, start(), 1)
    want, *_ = run(torch, {}, start(), 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


def test_float32_matches_torch_with_strong_wolfe():
    torch = pytest.importorskip("torch")
    got, glosses, gcalls, *_ = run(tg, dict(line_search_fn="strong_wolfe"), start(dtype=np.float32), 5)
    want, tlosses, tcalls, *_ = run(torch, dict(line_search_fn="strong_wolfe"), start(dtype=np.float32), 5)
    assert got.dtype == np.float32 and gcalls == tcalls
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_state_dicts_load_across_the_two_libraries():
    torch = pytest.importorskip("torch")
    kw = dict(line_search_fn="strong_wolfe", history_size=5, max_iter=6)

    def to_tg(v):
        if isinstance(v, torch.Tensor):
            return tg.tensor(v.detach().numpy().copy())
        if isinstance(v, dict):
            return {k: to_tg(e) for k, e in v.items()}
        if isinstance(v, list):
            return [to_tg(e) for e in v]
        return v

    def to_torch(v):
        if isinstance(v, tg.Tensor):
            return torch.from_numpy(v.detach().numpy().copy())
        if isinstance(v, dict):
            return {k: to_torch(e) for k, e in v.items()}
        if isinstance(v, list):
            return [to_torch(e) for e in v]
        return v

    for lib in (torch, tg):
        x, _, _, opt, _, _ = run(lib, kw, start(), 1)
        sd = opt.state_dict()
        tsd = copy.deepcopy(sd) if lib is torch else to_torch(sd)
        gsd = to_tg(sd) if lib is torch else sd
        _, _, _, topt, tw, tclosure = run(torch, kw, x, 0)
        _, _, _, gopt, gw, gclosure = run(tg, kw, x, 0)
        topt.load_state_dict(tsd)
        gopt.load_state_dict(gsd)
        for _ in range(2):
            topt.step(tclosure)
            gopt.step(gclosure)
        np.testing.assert_allclose(gw.detach().numpy(), tw.detach().numpy(), rtol=1e-9, atol=1e-12)
