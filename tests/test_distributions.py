"""tapegrad.distributions: values, gradients, errors and shapes of every distribution.

With PyTorch installed, log_prob/entropy/cdf/icdf/mean/mode/variance, gradients, KL divergences, transforms and
validate_args errors are compared with torch.distributions over Hypothesis-drawn parameters and values. Without
it, gradients are checked against float64 central differences, samples against their distribution (moments and
a Kolmogorov-Smirnov statistic at fixed seeds; samples differ from PyTorch's by design), and values against
closed forms.
"""

import doctest
import math

import numpy as np
import pytest
from dist_cases import CASES, K, first_case_of, u_shape
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
import tapegrad.distributions as D
from tapegrad.distributions import _linalg, _random, _special, constraints, kl_divergence, register_kl

try:
    import scipy.special  # noqa: F401
    _HAVE_SCIPY = True
except ImportError:
    _HAVE_SCIPY = False

BATCHES = st.sampled_from([(), (2,), (2, 3)])
METHODS = ("log_prob", "entropy", "cdf", "icdf", "mean", "mode", "variance", "stddev")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _np(x):
    return np.asarray(x.detach().numpy() if hasattr(x, "detach") else x)


def _tg(a, grad=False):
    a = np.asarray(a)
    return tg.tensor(a, dtype=tg.float64 if a.dtype.kind == "f" else None, requires_grad=grad and a.dtype.kind == "f")


def _torch(torch, a, grad=False):
    a = np.asarray(a)
    t = torch.tensor(a, dtype=torch.float64 if a.dtype.kind == "f" else torch.int64)
    return t.requires_grad_(grad and a.dtype.kind == "f")


def _msg(e):
    return str(e).replace("tapegrad.", "torch.")  # the dtype in a tensor's repr names its library


def _same_kind(ours, theirs):
    """The same exception class, with torch.linalg.LinAlgError matched by tapegrad's (both RuntimeErrors)."""
    if theirs is not None and type(theirs).__name__ == "_LinAlgError":
        return isinstance(ours, _linalg.LinAlgError)
    return type(ours) is type(theirs)


def assert_close(ours, theirs, rtol=1e-6, atol=1e-9, what=""):
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def _draw(data, case, batch=None):
    batch = data.draw(BATCHES) if batch is None else batch
    params = case.draw_params(data.draw, batch)
    u = data.draw(hnp.arrays(np.float64, u_shape(case, batch), elements=st.floats(0.0, 1.0)))
    q = data.draw(hnp.arrays(np.float64, batch, elements=st.floats(0.01, 0.99)))
    return params, case.value_for(u, params), q


def _call(d, method, value, q):
    fn = getattr(d, method)
    if method in ("log_prob", "cdf"):
        return fn(value)
    if method == "icdf":
        return fn(q)
    if method == "entropy":
        return fn()
    return fn  # a property


def _constraint_key(c):
    """A constraint as comparable data: its class name and attributes, tensors as arrays (tensor printing is
    tested elsewhere; here it is which constraint with which bounds)."""
    attrs = {}
    for k, v in sorted(vars(c).items()):
        if hasattr(v, "detach"):
            attrs[k] = (v.detach().numpy().tolist(), str(v.dtype).split(".")[-1])
        elif hasattr(v, "__dict__") and type(v).__module__.split(".")[-1] == "constraints":
            attrs[k] = _constraint_key(v)
        else:
            attrs[k] = repr(v)
    return type(c).__name__, attrs


def _outcome(fn):
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001 - the comparison is of which error, if any
        return None, e


# ---------------------------------------------------------------------- values against PyTorch
@pytest.mark.parametrize("case", CASES, ids=repr)
@settings(max_examples=10)
@given(data=st.data())
def test_values_match_pytorch(torch, case, data):
    params, value, q = _draw(data, case)
    ours = case.make(D, {k: _tg(v) for k, v in params.items()})
    theirs = case.make(torch.distributions, {k: _torch(torch, v) for k, v in params.items()})
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    assert _constraint_key(ours.support) == _constraint_key(theirs.support)
    assert {k: _constraint_key(c) for k, c in ours.arg_constraints.items()} == \
        {k: _constraint_key(c) for k, c in theirs.arg_constraints.items()}
    for method in METHODS:
        expected, error = _outcome(lambda m=method: _call(theirs, m, _torch(torch, value), _torch(torch, q)))
        got, our_error = _outcome(lambda m=method: _call(ours, m, _tg(value), _tg(q)))
        if error is not None:
            assert type(our_error) is type(error), f"{case} {method}: PyTorch raised {error!r}, we got {our_error!r}"
            continue
        if isinstance(our_error, ImportError) and not _HAVE_SCIPY:
            continue  # Gamma.cdf and Chi2.cdf need scipy (tapegrad[special]), which this environment lacks
        assert our_error is None, f"{case} {method}: {our_error!r}"
        assert_close(got, expected, what=f"{case} {method}")
    if ours.has_enumerate_support:
        assert_close(ours.enumerate_support(), theirs.enumerate_support(), what=f"{case} enumerate_support")
        assert_close(ours.enumerate_support(expand=False), theirs.enumerate_support(expand=False))


@pytest.mark.parametrize("case", CASES, ids=repr)
@settings(max_examples=5)
@given(data=st.data())
def test_gradients_match_pytorch(torch, case, data):
    params, value, q = _draw(data, case, batch=(2,))

    def objective(lib_D, make_t, d_value):
        ps = {k: make_t(v) for k, v in params.items()}
        d = case.make(lib_D, ps)
        total = d.log_prob(d_value).sum()
        for extra in ("entropy", "mean", "variance"):
            out, err = _outcome(lambda e=extra: _call(d, e, None, None))
            if err is None:
                total = total + out.sum()
        return total, ps

    loss, ps = objective(D, lambda a: _tg(a, True), _tg(value))
    tloss, tps = objective(torch.distributions, lambda a: _torch(torch, a, True), _torch(torch, value))
    assert_close(loss, tloss, what=f"{case} objective")
    for name in ps:
        if not ps[name].requires_grad:
            continue
        (ours,) = tg.autograd.grad(loss, ps[name], allow_unused=True, retain_graph=True)
        (theirs,) = torch.autograd.grad(tloss, tps[name], allow_unused=True, retain_graph=True)
        if theirs is None:
            assert ours is None or np.all(_np(ours) == 0), f"{case} d/d{name}"
            continue
        assert_close(ours, theirs, rtol=1e-5, atol=1e-8, what=f"{case} d/d{name}")


def _kl_pairs():
    pairs = []
    for p, q in sorted(D.kl._KL_REGISTRY, key=lambda pq: (pq[0].__name__, pq[1].__name__)):
        cp, cq = first_case_of(p.__name__), first_case_of(q.__name__)
        if cp is not None and cq is not None:
            pairs.append((cp, cq))
    return pairs


@pytest.mark.parametrize("cp,cq", _kl_pairs(), ids=lambda c: c.cls)
@settings(max_examples=5)
@given(data=st.data())
def test_kl_divergence_matches_pytorch(torch, cp, cq, data):
    batch = data.draw(st.sampled_from([(), (2,)]))
    pp, qp = cp.draw_params(data.draw, batch), cq.draw_params(data.draw, batch)
    ours = kl_divergence(cp.make(D, {k: _tg(v, True) for k, v in pp.items()}),
                         cq.make(D, {k: _tg(v, True) for k, v in qp.items()}))
    tp = {k: _torch(torch, v, True) for k, v in pp.items()}
    theirs = torch.distributions.kl_divergence(cp.make(torch.distributions, tp),
                                               cq.make(torch.distributions, {k: _torch(torch, v) for k, v in
                                                                             qp.items()}))
    assert_close(ours, theirs, rtol=1e-6, what=f"KL({cp}, {cq})")


def test_every_pytorch_kl_pair_is_registered(torch):
    ours = {(p.__name__, q.__name__) for p, q in D.kl._KL_REGISTRY}
    theirs = {(p.__name__, q.__name__) for p, q in torch.distributions.kl._KL_REGISTRY}
    have = set(D.__all__)
    assert {pq for pq in theirs if pq[0] in have and pq[1] in have} <= ours


# ---------------------------------------------------------------------- validate_args against PyTorch
def _invalid(kind, a):
    """``a`` with its first element moved out of the kind's constraint."""
    a = np.array(a, dtype=np.float64, copy=True)
    flat = a.reshape(-1)
    if kind in ("pos", "big", "posvec", "temp"):
        flat[0] = -1.0
    elif kind in ("unit",):
        flat[0] = 1.5
    elif kind == "simplex":
        flat[0] += 0.5
    elif kind in ("tril",):
        flat[0] = -1.0
    elif kind in ("spd", "prec"):
        flat[1] += 3.0  # not symmetric
    else:
        flat[0] = np.nan
    return a


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_validate_args_errors_match_pytorch(torch, case):
    rng = np.random.default_rng(0)
    params = case.random_params(rng, (2,))
    for name, kind in case.params.items():
        bad = dict(params, **{name: _invalid(kind, params[name])})
        _, error = _outcome(lambda b=bad: case.make(torch.distributions, {k: _torch(torch, v) for k, v in b.items()}))
        _, ours = _outcome(lambda b=bad: case.make(D, {k: _tg(v) for k, v in b.items()}))
        assert _same_kind(ours, error), f"{case} {name}: {error!r} vs {ours!r}"
        if error is not None:
            assert _msg(ours) == _msg(error)
    # a value outside the support
    d_t = case.make(torch.distributions, {k: _torch(torch, v) for k, v in params.items()})
    d = case.make(D, {k: _tg(v) for k, v in params.items()})
    u = rng.uniform(size=u_shape(case, (2,)))
    value = case.value_for(u, params)
    bad_value = np.array(value, dtype=np.float64) * 0 - 7.5
    _, error = _outcome(lambda: d_t.log_prob(_torch(torch, bad_value)))
    _, ours = _outcome(lambda: d.log_prob(_tg(bad_value)))
    assert _same_kind(ours, error), f"{case} value: {error!r} vs {ours!r}"
    if error is not None:
        assert _msg(ours) == _msg(error)


def test_set_default_validate_args_turns_checks_off_and_on():
    D.Distribution.set_default_validate_args(False)
    try:
        d = D.Normal(tg.tensor(0.0), tg.tensor(-1.0))  # no error
        assert math.isnan(d.log_prob(tg.tensor(0.0)).item())
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(\)\) of distribution "
                                         r"Normal\(loc: 0.0, scale: -1.0\) to satisfy the constraint "
                                         r"GreaterThan\(lower_bound=0.0\), but found invalid values:\n-1.0$"):
        D.Normal(tg.tensor(0.0), tg.tensor(-1.0))
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    with pytest.raises(ValueError, match="Expected value argument"):
        D.Exponential(1.0).log_prob(tg.tensor(-1.0))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        D.Exponential(1.0).log_prob(1.0)


# ---------------------------------------------------------------------- gradients against finite differences
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_log_prob_gradients_match_finite_differences(case):
    rng = np.random.default_rng(1)
    params = case.random_params(rng, (2,))
    value = _tg(case.value_for(rng.uniform(size=u_shape(case, (2,))), params))
    names = list(params)
    inputs = tuple(_tg(params[k], True) for k in names)

    def fn(*ps):
        # a finite difference moves one element: keep triangular and symmetric parameters so
        ps = [_structured(case.params[k], p) for k, p in zip(names, ps)]
        d = case.make(D, dict(zip(names, ps)))
        out = d.log_prob(value).sum()
        entropy, err = _outcome(d.entropy)
        return out if err is not None else out + entropy.sum()

    assert tg.autograd.gradcheck(fn, inputs, atol=1e-6, rtol=1e-4)


def _structured(kind, p):
    if kind == "tril":
        return p.tril()
    if kind in ("spd", "prec"):
        return (p + p.mT) / 2
    return p


@pytest.mark.parametrize("case", [c for c in CASES if c.rsample_fixed_noise], ids=repr)
def test_rsample_gradients_match_finite_differences(case):
    rng = np.random.default_rng(2)
    params = case.random_params(rng, (2,))
    names = list(params)
    inputs = tuple(_tg(params[k], True) for k in names)
    d = case.make(D, dict(zip(names, inputs)))
    if not d.has_rsample:
        with pytest.raises(NotImplementedError):
            d.rsample()
        return

    def fn(*ps):
        tg.manual_seed(3)  # the same noise at every evaluation: rsample is then a smooth function of ps
        ps = [_structured(case.params[k], p) for k, p in zip(names, ps)]
        return case.make(D, dict(zip(names, ps))).rsample((4,))

    assert tg.autograd.gradcheck(fn, inputs, atol=1e-6, rtol=1e-4)


@given(alpha=st.floats(0.05, 30.0), u=st.floats(0.001, 0.999))
@example(alpha=0.05, u=0.001)
@example(alpha=30.0, u=0.999)
def test_standard_gamma_gradient_is_the_implicit_reparameterization_derivative(alpha, u):
    sc = pytest.importorskip("scipy.special")
    x = sc.gammaincinv(alpha, u)
    if not x > 1e-300:
        return
    grad = _random.standard_gamma_grad(np.array([alpha]), np.array([x]))[0]
    h = 1e-6 * alpha
    fd = (sc.gammaincinv(alpha + h, u) - sc.gammaincinv(alpha - h, u)) / (2 * h)
    assert grad == pytest.approx(fd, rel=1e-4, abs=1e-12 + 1e-4 * abs(x / alpha))


@pytest.mark.parametrize("case", [c for c in CASES if not c.rsample_fixed_noise], ids=repr)
def test_rsample_gradient_of_gamma_based_families_is_unbiased(case):
    # d E[x] / d theta = E[d x / d theta]: the mean of rsample's gradients matches the gradient of the mean
    if not _HAVE_SCIPY:
        pytest.skip("the gradient of a Gamma draw needs scipy (tapegrad[special])")
    rng = np.random.default_rng(4)
    params = case.random_params(rng, ())
    if case.name == "StudentT":
        params["df"] = np.array(8.0)
    names = list(params)
    inputs = tuple(_tg(params[k], True) for k in names)
    d = case.make(D, dict(zip(names, inputs)))
    n = 20_000
    x = d.rsample((n,))
    g_samples = tg.autograd.grad(x.sum() / n, inputs, allow_unused=True, retain_graph=True)
    g_mean = tg.autograd.grad(d.mean.sum(), inputs, allow_unused=True)
    for name, a, b in zip(names, g_samples, g_mean):
        b = 0.0 if b is None else _np(b)
        # samples of the gradient have a spread of the order of the mean's own gradient: 6 standard errors
        assert np.all(np.abs(_np(a) - b) <= 6 * (np.abs(b) + 1.0) * 3 / math.sqrt(n) + 1e-3), (case, name)


def test_second_order_gradient_of_log_prob():
    loc = tg.tensor([0.3], dtype=tg.float64, requires_grad=True)
    scale = tg.tensor([1.7], dtype=tg.float64, requires_grad=True)
    conc = tg.tensor([2.5], dtype=tg.float64, requires_grad=True)
    x = tg.tensor([0.9], dtype=tg.float64)
    assert tg.autograd.gradgradcheck(lambda m, s: D.Normal(m, s).log_prob(x).sum(), (loc, scale))
    assert tg.autograd.gradgradcheck(lambda c, s: D.Gamma(c, s).log_prob(x).sum(), (conc, scale))
    assert tg.autograd.gradgradcheck(lambda c, s: D.Beta(c, s).entropy().sum(), (conc, scale))


# ---------------------------------------------------------------------- shapes
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_sample_rsample_and_expand_shapes(case):
    rng = np.random.default_rng(5)
    params = case.random_params(rng, (2,))
    d = case.make(D, {k: _tg(v) for k, v in params.items()})
    batch, event = tuple(d.batch_shape), tuple(d.event_shape)
    assert batch == (2,)
    assert type(d.batch_shape) is tg.Size and type(d.event_shape) is tg.Size  # as PyTorch's: torch.Size
    for sample_shape in [(), (4,), (3, 1)]:
        s = d.sample(sample_shape)
        assert tuple(s.shape) == sample_shape + batch + event
        assert not s.requires_grad
        assert tuple(d.log_prob(s).shape) == sample_shape + batch
        if d.has_rsample:
            assert tuple(d.rsample(sample_shape).shape) == sample_shape + batch + event
    e = d.expand((5, 2))
    assert type(e) is type(d)
    assert tuple(e.batch_shape) == (5, 2) and tuple(e.event_shape) == event
    assert type(e.batch_shape) is tg.Size and type(e.event_shape) is tg.Size
    assert tuple(e.sample((3,)).shape) == (3, 5, 2) + event
    assert tuple(e.log_prob(d.sample()).shape) == (5, 2)
    assert tuple(d.sample_n(3).shape) == (3,) + batch + event if hasattr(d, "sample_n") else True


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_scalar_parameters_sample_and_rsample(case):
    # a batch shape of (): numpy's generators return Python scalars for 0-d parameters
    params = case.random_params(np.random.default_rng(6), ())
    d = case.make(D, {k: _tg(v, True) for k, v in params.items()})
    event = tuple(d.event_shape)
    assert tuple(d.sample().shape) == event and tuple(d.sample((2,)).shape) == (2,) + event
    if d.has_rsample:
        x = d.rsample()
        assert tuple(x.shape) == event and x.requires_grad


def test_samples_follow_tapegrads_seed():
    d = D.Normal(tg.zeros(3), tg.ones(3))
    tg.manual_seed(7)
    a = d.sample((2,))
    tg.manual_seed(7)
    b = d.sample((2,))
    assert np.array_equal(_np(a), _np(b))


# ---------------------------------------------------------------------- samples against their distribution
def _ks_statistic(samples, cdf):
    x = np.sort(samples)
    n = len(x)
    f = cdf(x)
    return max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))


@pytest.mark.parametrize("case", [c for c in CASES if c.moments], ids=repr)
def test_sample_moments(case):
    rng = np.random.default_rng(6)
    params = case.random_params(rng, (2,))
    d = case.make(D, {k: _tg(v) for k, v in params.items()})
    n = 20_000
    s = _np(d.sample((n,))).astype(np.float64)
    mean, var = _np(d.mean), _np(d.variance)
    se = np.sqrt(var / n)
    assert np.all(np.abs(s.mean(0) - mean) <= 6 * se + 1e-9), case
    # the sample variance's standard error, bounded using the fourth moment of the sample itself
    m4 = ((s - s.mean(0)) ** 4).mean(0)
    assert np.all(np.abs(s.var(0) - var) <= 6 * np.sqrt(np.maximum(m4 - var ** 2, 0) / n) + 1e-9), case


@pytest.mark.parametrize("name", ["Normal", "LogNormal", "HalfNormal", "Cauchy", "HalfCauchy", "Laplace", "Gumbel",
                                  "Exponential", "Gamma", "Chi2", "InverseGamma", "Beta", "Kumaraswamy", "Uniform",
                                  "Pareto", "Weibull", "ContinuousBernoulli"])
def test_samples_pass_a_kolmogorov_smirnov_test(name):
    case = first_case_of(name)
    rng = np.random.default_rng(7)
    params = case.random_params(rng, ())
    d = case.make(D, {k: _tg(v) for k, v in params.items()})
    n = 4000
    s = _np(d.sample((n,)))
    try:
        d.cdf(tg.tensor(s[:1]))
        cdf = lambda x: _np(d.cdf(tg.tensor(x)))  # noqa: E731
    except (NotImplementedError, ImportError):  # ImportError: our cdf needs scipy (tapegrad[special])
        sc = pytest.importorskip("scipy.special")
        cdf = {"Gamma": lambda x: sc.gammainc(params["concentration"], x * params["rate"]),
               "Chi2": lambda x: sc.gammainc(params["df"] / 2, x / 2),
               "InverseGamma": lambda x: sc.gammaincc(params["concentration"], params["rate"] / x),
               "Beta": lambda x: sc.betainc(params["c1"], params["c0"], x),
               "Kumaraswamy": lambda x: 1 - (1 - x ** params["c1"]) ** params["c0"],
               "Weibull": lambda x: 1 - np.exp(-(x / params["scale"]) ** params["concentration"])}[name]
    assert _ks_statistic(s, cdf) < 1.95 / math.sqrt(n)  # 0.1% level


@pytest.mark.parametrize("name", ["Bernoulli(probs)", "Geometric", "Poisson", "Binomial", "NegativeBinomial",
                                  "Categorical(probs)", "OneHotCategorical", "Multinomial", "Dirichlet"])
def test_discrete_and_simplex_sample_frequencies(name):
    case = next(c for c in CASES if c.name == name)
    rng = np.random.default_rng(8)
    params = case.random_params(rng, ())
    d = case.make(D, {k: _tg(v) for k, v in params.items()})
    n = 20_000
    s = _np(d.sample((n,)))
    if name.startswith("Categorical"):
        freq = np.bincount(s, minlength=K) / n
        assert np.all(np.abs(freq - params["probs"]) < 5 * np.sqrt(0.25 / n))
    else:
        assert np.all(np.abs(s.mean(0) - _np(d.mean)) <= 6 * np.sqrt(_np(d.variance) / n) + 1e-12)


def test_rsample_is_differentiable_and_sample_is_not():
    loc = tg.tensor([1.0, 2.0], requires_grad=True)
    d = D.Normal(loc, tg.tensor([1.0, 1.0]))
    d.rsample((5,)).sum().backward()
    assert np.allclose(_np(loc.grad), [5.0, 5.0])
    assert not d.sample().requires_grad
    with pytest.raises(NotImplementedError):
        D.Bernoulli(0.3).rsample()


# ---------------------------------------------------------------------- closed forms (no PyTorch needed)
def test_normal_closed_forms():
    d = D.Normal(tg.tensor(1.0, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64))
    x = tg.tensor(0.5, dtype=tg.float64)
    assert d.log_prob(x).item() == pytest.approx(-math.log(2 * math.sqrt(2 * math.pi)) - 0.25 ** 2 / 2)
    assert d.entropy().item() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 4))
    assert d.cdf(x).item() == pytest.approx(0.5 * (1 + math.erf(-0.25 / math.sqrt(2))))
    assert d.icdf(d.cdf(x)).item() == pytest.approx(0.5)
    assert (d.mean.item(), d.mode.item(), d.variance.item(), d.stddev.item()) == (1.0, 1.0, 4.0, 2.0)


def test_discrete_closed_forms():
    assert D.Poisson(tg.tensor(2.0)).log_prob(tg.tensor(3.0)).item() == pytest.approx(
        3 * math.log(2) - 2 - math.log(6), rel=1e-6)
    assert D.Binomial(4, probs=tg.tensor(0.25)).log_prob(tg.tensor(1.0)).item() == pytest.approx(
        math.log(4 * 0.25 * 0.75 ** 3), rel=1e-6)
    c = D.Categorical(logits=tg.tensor([0.0, math.log(3.0)]))
    assert np.allclose(_np(c.probs), [0.25, 0.75])
    assert c.entropy().item() == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rel=1e-6)
    b = D.Bernoulli(logits=tg.tensor(0.0))
    assert b.probs.item() == 0.5 and b.log_prob(tg.tensor(1.0)).item() == pytest.approx(math.log(0.5))
    m = D.Multinomial(3, probs=tg.tensor([0.5, 0.5]))
    assert m.log_prob(tg.tensor([1.0, 2.0])).item() == pytest.approx(math.log(3 / 8), rel=1e-6)


def test_continuous_closed_forms():
    assert D.Gamma(tg.tensor(2.0), tg.tensor(3.0)).log_prob(tg.tensor(1.0)).item() == pytest.approx(
        2 * math.log(3) + math.log(1.0) - 3 - math.lgamma(2), rel=1e-6)
    assert D.Beta(tg.tensor(2.0), tg.tensor(3.0)).mean.item() == pytest.approx(0.4)
    assert D.Exponential(tg.tensor(2.0)).entropy().item() == pytest.approx(1 - math.log(2))
    assert D.Uniform(0.0, 4.0).entropy().item() == pytest.approx(math.log(4))
    assert D.Laplace(0.0, 1.0).cdf(tg.tensor(0.0)).item() == pytest.approx(0.5)
    assert D.StudentT(tg.tensor(3.0)).variance.item() == pytest.approx(3.0)
    assert math.isinf(D.StudentT(tg.tensor(1.5)).variance.item())
    dirichlet = D.Dirichlet(tg.tensor([1.0, 1.0, 1.0]))
    assert dirichlet.log_prob(tg.tensor([0.2, 0.3, 0.5])).item() == pytest.approx(math.log(2.0), rel=1e-6)
    mvn = D.MultivariateNormal(tg.zeros(2, dtype=tg.float64), covariance_matrix=tg.tensor(
        [[2.0, 0.5], [0.5, 1.0]], dtype=tg.float64))
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    x = np.array([0.3, -0.4])
    expected = -0.5 * (x @ np.linalg.solve(cov, x)) - math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(cov))
    assert mvn.log_prob(tg.tensor(x)).item() == pytest.approx(expected)
    assert np.allclose(_np(mvn.precision_matrix), np.linalg.inv(cov))
    assert np.allclose(_np(mvn.scale_tril), np.linalg.cholesky(cov))


def test_kl_closed_forms_and_registry():
    p = D.Normal(tg.tensor(0.0, dtype=tg.float64), tg.tensor(1.0, dtype=tg.float64))
    q = D.Normal(tg.tensor(1.0, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64))
    assert kl_divergence(p, q).item() == pytest.approx(math.log(2) + (1 + 1) / 8 - 0.5)
    assert kl_divergence(p, p).item() == pytest.approx(0.0)
    assert math.isinf(kl_divergence(D.Uniform(0.0, 2.0), D.Uniform(0.0, 1.0)).item())
    with pytest.raises(NotImplementedError):
        kl_divergence(D.Poisson(tg.tensor(1.0)), D.Categorical(tg.tensor([0.5, 0.5])))

    class MyNormal(D.Normal):
        pass

    @register_kl(MyNormal, D.Normal)
    def _kl_mine(p, q):
        return tg.tensor(42.0)

    try:
        assert kl_divergence(MyNormal(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 42.0
        assert kl_divergence(D.Normal(0.0, 1.0), MyNormal(0.0, 1.0)).item() == 0.0  # falls back to Normal-Normal
    finally:
        del D.kl._KL_REGISTRY[MyNormal, D.Normal]
        D.kl._KL_MEMOIZE.clear()
    with pytest.raises(TypeError):
        register_kl(1, D.Normal)


def test_mixture_log_prob_is_the_log_of_the_weighted_densities():
    mix = D.MixtureSameFamily(D.Categorical(probs=tg.tensor([0.3, 0.7])),
                              D.Normal(tg.tensor([-1.0, 2.0]), tg.tensor([1.0, 0.5])))
    x = tg.tensor([0.1, 1.5])
    dens = 0.3 * np.exp(_np(D.Normal(-1.0, 1.0).log_prob(x))) + 0.7 * np.exp(_np(D.Normal(2.0, 0.5).log_prob(x)))
    assert np.allclose(_np(mix.log_prob(x)), np.log(dens), rtol=1e-5)
    assert mix.mean.item() == pytest.approx(0.3 * -1 + 0.7 * 2, rel=1e-6)


# ---------------------------------------------------------------------- transforms
TRANSFORMS = [
    ("ExpTransform", lambda D: D.ExpTransform(), "vec"),
    ("AffineTransform", lambda D: D.AffineTransform(0.5, -2.0), "vec"),
    ("SigmoidTransform", lambda D: D.SigmoidTransform(), "vec"),
    ("TanhTransform", lambda D: D.TanhTransform(), "vec"),
    ("SoftplusTransform", lambda D: D.SoftplusTransform(), "vec"),
    ("PowerTransform", lambda D: D.PowerTransform(2.5), "pos"),
    ("AbsTransform", lambda D: D.AbsTransform(), "vec"),
    ("SoftmaxTransform", lambda D: D.SoftmaxTransform(), "vec"),
    ("StickBreakingTransform", lambda D: D.StickBreakingTransform(), "vec"),
    ("LowerCholeskyTransform", lambda D: D.LowerCholeskyTransform(), "mat"),
    ("PositiveDefiniteTransform", lambda D: D.PositiveDefiniteTransform(), "mat"),
    ("CorrCholeskyTransform", lambda D: D.CorrCholeskyTransform(), "corr"),
    ("ComposeTransform", lambda D: D.ComposeTransform([D.AffineTransform(1.0, 2.0), D.ExpTransform()]), "vec"),
    ("ReshapeTransform", lambda D: D.ReshapeTransform((6,), (2, 3)), "flat6"),
    ("IndependentTransform", lambda D: D.IndependentTransform(D.ExpTransform(), 1), "vec"),
    ("CatTransform", lambda D: D.CatTransform([D.ExpTransform(), D.AffineTransform(0.0, 3.0)], dim=-1,
                                              lengths=[2, 1]), "vec"),
    ("StackTransform", lambda D: D.StackTransform([D.ExpTransform(), D.SigmoidTransform(), D.TanhTransform()],
                                                  dim=-1), "vec"),
    ("inv", lambda D: D.ExpTransform().inv, "pos"),
    ("CumulativeDistributionTransform", lambda D: D.CumulativeDistributionTransform(D.Normal(0.0, 1.0)), "vec"),
]


def _transform_input(kind, rng):
    if kind == "vec":
        return rng.uniform(-1.5, 1.5, (2, 3))
    if kind == "pos":
        return rng.uniform(0.2, 2.0, (2, 3))
    if kind == "flat6":
        return rng.uniform(-1, 1, (2, 6))
    if kind == "corr":
        return rng.uniform(-1, 1, (2, 3))
    return rng.uniform(-1, 1, (2, 3, 3))


@pytest.mark.parametrize("name,make,kind", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transforms_match_pytorch(torch, name, make, kind):
    rng = np.random.default_rng(9)
    x = _transform_input(kind, rng)
    ours, theirs = make(D), make(torch.distributions)
    y, ty = ours(_tg(x)), theirs(_torch(torch, x))
    assert_close(y, ty, what=f"{name} forward")
    assert_close(ours.inv(y), theirs.inv(ty), rtol=1e-6, atol=1e-8, what=f"{name} inverse")
    j, tj = _outcome(lambda: ours.log_abs_det_jacobian(_tg(x), y)), \
        _outcome(lambda: theirs.log_abs_det_jacobian(_torch(torch, x), ty))
    if tj[1] is None:
        assert_close(j[0], tj[0], what=f"{name} log_abs_det_jacobian")
    else:
        assert type(j[1]) is type(tj[1])
    assert ours.bijective == theirs.bijective and ours.sign == theirs.sign if name in (
        "ExpTransform", "AffineTransform", "SigmoidTransform", "TanhTransform") else True
    assert repr(ours.domain) == repr(theirs.domain) and repr(ours.codomain) == repr(theirs.codomain)
    assert tuple(ours.forward_shape((4,) + x.shape)) == tuple(theirs.forward_shape((4,) + x.shape))


@pytest.mark.parametrize("name,make,kind", [t for t in TRANSFORMS if t[2] not in ("mat",)],
                         ids=[t[0] for t in TRANSFORMS if t[2] not in ("mat",)])
def test_transform_gradients_match_finite_differences(name, make, kind):
    rng = np.random.default_rng(10)
    x = _tg(_transform_input(kind, rng), True)
    t = make(D)
    assert tg.autograd.gradcheck(lambda x: t(x), (x,), atol=1e-6, rtol=1e-4)
    if t.bijective and name not in ("AbsTransform",):
        assert tg.autograd.gradcheck(lambda x: t.log_abs_det_jacobian(x, t(x)), (x,), atol=1e-6, rtol=1e-4)


def test_transform_caching_equality_and_biject_to():
    t = D.ExpTransform(cache_size=1)
    x = tg.tensor([0.5])
    y = t(x)
    assert t.inv(y) is x  # cached
    assert D.ExpTransform() == D.ExpTransform() and D.ExpTransform().inv.inv == D.ExpTransform()
    assert D.AffineTransform(1.0, 2.0) == D.AffineTransform(1.0, 2.0)
    with pytest.raises(ValueError):
        D.ExpTransform(cache_size=2)
    s = D.biject_to(constraints.positive)
    assert isinstance(s, D.ComposeTransform) and isinstance(s.parts[0], D.ExpTransform)
    assert isinstance(D.biject_to(constraints.simplex), D.StickBreakingTransform)
    assert isinstance(D.transform_to(constraints.simplex), D.SoftmaxTransform)
    u = D.biject_to(constraints.interval(1.0, 3.0))(tg.tensor([-10.0, 0.0, 10.0]))
    assert np.all((_np(u) >= 1) & (_np(u) <= 3))


def test_transformed_distribution_log_prob_uses_the_jacobian():
    base = D.Normal(tg.tensor(0.0, dtype=tg.float64), tg.tensor(1.0, dtype=tg.float64))
    lognormal = D.TransformedDistribution(base, [D.ExpTransform()])
    x = tg.tensor(2.0, dtype=tg.float64)
    assert lognormal.log_prob(x).item() == pytest.approx(D.LogNormal(0.0, 1.0).log_prob(x).item())
    assert lognormal.cdf(x).item() == pytest.approx(base.cdf(tg.log(x)).item())


# ---------------------------------------------------------------------- constraints
CONSTRAINT_VALUES = [
    ("real", [[0.0, -np.inf, np.nan]]),
    ("positive", [[1.0, 0.0, -1.0]]),
    ("nonnegative", [[1.0, 0.0, -1.0]]),
    ("unit_interval", [[0.0, 1.0, 1.5]]),
    ("simplex", [[0.2, 0.8], [0.5, 0.6]]),
    ("boolean", [[0.0, 1.0, 0.5]]),
    ("nonnegative_integer", [[0.0, 3.0, 2.5, -1.0]]),
    ("positive_integer", [[0.0, 3.0, 2.5]]),
    ("real_vector", [[0.0, np.nan], [1.0, 2.0]]),
    ("lower_triangular", [[[1.0, 0.0], [2.0, 3.0]], [[1.0, 1.0], [0.0, 1.0]]]),
    ("lower_cholesky", [[[1.0, 0.0], [2.0, 3.0]], [[-1.0, 0.0], [0.0, 1.0]]]),
    ("positive_definite", [[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]),
    ("positive_semidefinite", [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]),
    ("symmetric", [[[1.0, 2.0], [2.0, 1.0]], [[1.0, 2.0], [3.0, 1.0]]]),
    ("corr_cholesky", [[[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.6, 0.9]]]),
]


@pytest.mark.parametrize("name,value", CONSTRAINT_VALUES, ids=[c[0] for c in CONSTRAINT_VALUES])
def test_constraints_match_pytorch(torch, name, value):
    ours, theirs = getattr(constraints, name), getattr(torch.distributions.constraints, name)
    assert np.array_equal(_np(ours.check(_tg(np.array(value)))), _np(theirs.check(_torch(torch, np.array(value)))))
    assert repr(ours) == repr(theirs)
    assert ours.event_dim == theirs.event_dim and ours.is_discrete == theirs.is_discrete


def test_constraint_objects():
    c = constraints.interval(0.0, 2.0)
    assert np.array_equal(_np(c.check(tg.tensor([0.0, 2.0, 3.0]))), [True, True, False])
    assert repr(c) == "Interval(lower_bound=0.0, upper_bound=2.0)"
    assert constraints.is_dependent(constraints.dependent) and not constraints.is_dependent(constraints.real)
    assert np.array_equal(_np(constraints.integer_interval(0, 3).check(tg.tensor([0.0, 3.0, 4.0, 1.5]))),
                          [True, True, False, False])
    assert constraints.independent(constraints.real, 1).event_dim == 1
    assert np.array_equal(_np(constraints.greater_than_eq(1.0).check(tg.tensor([1.0, 0.5]))), [True, False])


# ---------------------------------------------------------------------- the private special functions and linalg
@given(x=hnp.arrays(np.float64, (3,), elements=st.floats(0.1, 20.0)))
def test_special_function_values_and_gradients(x):
    sc = pytest.importorskip("scipy.special")
    t = _tg(x, True)
    assert_close(_special.lgamma(t), sc.gammaln(x))
    assert_close(_special.digamma(t), sc.digamma(x))
    assert_close(_special.polygamma(2, t), sc.polygamma(2, x))
    for fn in (_special.lgamma, _special.digamma, lambda t: _special.polygamma(1, t)):
        assert tg.autograd.gradcheck(lambda t, fn=fn: fn(t), (t,), atol=1e-6, rtol=1e-4)
        assert tg.autograd.gradgradcheck(lambda t, fn=fn: fn(t), (t,), atol=1e-5, rtol=1e-3)
    u = _tg(np.tanh(x / 10) * 0.9, True)
    assert tg.autograd.gradcheck(_special.erfinv, (u,), atol=1e-6, rtol=1e-4)
    assert tg.autograd.gradgradcheck(_special.erfinv, (u,), atol=1e-5, rtol=1e-3)
    y = _tg(x[::-1].copy(), True)
    assert tg.autograd.gradcheck(_special.xlogy, (t, y), atol=1e-6, rtol=1e-4)
    assert tg.autograd.gradcheck(lambda y: _special.gammainc(_tg(x), y), (y,), atol=1e-6, rtol=1e-4)


def test_special_function_edges_match_pytorch(torch):
    x = np.array([0.0, 0.0, 1.0, 2.0, -1.0])
    y = np.array([0.0, -1.0, 0.0, np.nan, 2.0])
    assert_close(_special.xlogy(_tg(x), _tg(y)), torch.xlogy(_torch(torch, x), _torch(torch, y)))
    a = _tg(x, True)
    _special.xlogy(a, _tg(y)).sum().backward()
    ta = _torch(torch, x, True)
    torch.xlogy(ta, _torch(torch, y)).sum().backward()
    assert_close(a.grad, ta.grad)
    z = np.array([0.0, -1.0, -2.5, 0.5, 1e-8])
    assert_close(_special.digamma(_tg(z)), torch.digamma(_torch(torch, z)))
    assert_close(_special.lgamma(_tg(z)), torch.lgamma(_torch(torch, z)))
    e = np.array([-1.0, 1.0, 0.0, 1.5])
    assert_close(_special.erfinv(_tg(e)), torch.erfinv(_torch(torch, e)))


def test_special_function_node_names_and_errors():
    x = tg.tensor([1.5], requires_grad=True)
    assert _special.lgamma(x).grad_fn.name() == "LgammaBackward0"
    assert _special.digamma(x).grad_fn.name() == "DigammaBackward0"
    assert _special.polygamma(1, x).grad_fn.name() == "PolygammaBackward0"
    assert _special.erfinv(x * 0.1).grad_fn.name() == "ErfinvBackward0"
    assert _special.xlogy(x, x).grad_fn.name() == "XlogyBackward0"
    with pytest.raises(RuntimeError, match="polygamma"):
        _special.polygamma(-1, x)
    if not _HAVE_SCIPY:
        return  # gammainc needs scipy (tapegrad[special])
    with pytest.raises(NotImplementedError, match="igamma"):
        _special.gammainc(x, tg.tensor([1.0])).sum().backward()


@given(a=hnp.arrays(np.float64, (2, 3, 3), elements=st.floats(-1.0, 1.0)),
       b=hnp.arrays(np.float64, (2, 3, 2), elements=st.floats(-1.0, 1.0)))
def test_cholesky_and_triangular_solve_gradients(a, b):
    spd = a @ np.swapaxes(a, -1, -2) + np.eye(3)
    L = np.linalg.cholesky(spd)
    A = _tg(spd, True)
    assert_close(_linalg.cholesky(A), L, rtol=1e-10)
    assert_close(_linalg.cholesky(A, upper=True), np.swapaxes(L, -1, -2), rtol=1e-10)
    sym = lambda A: (A + A.mT) / 2  # noqa: E731 - cholesky reads one triangle: differentiate symmetric inputs
    assert tg.autograd.gradcheck(lambda A: _linalg.cholesky(sym(A)), (A,), atol=1e-6, rtol=1e-4)
    assert tg.autograd.gradgradcheck(lambda A: _linalg.cholesky(sym(A)), (A,), atol=1e-5, rtol=1e-3)
    Lt, B = _tg(L, True), _tg(b, True)
    for upper, left in [(False, True), (True, True), (False, False), (True, False)]:
        M = Lt if not upper else Lt.mT
        rhs = B if left else B.mT
        X = _linalg.solve_triangular(M, rhs, upper=upper, left=left)
        Mn = _np(M)
        expected = np.linalg.solve(Mn, _np(rhs)) if left else _np(rhs) @ np.linalg.inv(Mn)
        assert_close(X, expected, rtol=1e-8)
        assert tg.autograd.gradcheck(lambda M, r, upper=upper, left=left: _linalg.solve_triangular(
            M.tril() if not upper else M.triu(), r, upper=upper, left=left), (_tg(_np(M).copy(), True),
                                                                               _tg(_np(rhs).copy(), True)),
            atol=1e-6, rtol=1e-4)
    assert_close(_linalg.cholesky_inverse(_tg(L)), np.linalg.inv(spd), rtol=1e-8)


def test_linalg_matches_pytorch_gradients_and_errors(torch):
    rng = np.random.default_rng(11)
    a = rng.uniform(-1, 1, (3, 3))
    spd = a @ a.T + np.eye(3)
    g = rng.uniform(-1, 1, (3, 3))
    A, tA = _tg(spd, True), _torch(torch, spd, True)
    (_linalg.cholesky(A) * _tg(g)).sum().backward()
    (torch.linalg.cholesky(tA) * _torch(torch, g)).sum().backward()
    assert_close(A.grad, tA.grad, rtol=1e-8)
    assert _linalg.cholesky(A).grad_fn.name() == torch.linalg.cholesky(tA).grad_fn.name()
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(RuntimeError) as ours:
        _linalg.cholesky(_tg(bad))
    with pytest.raises(RuntimeError) as theirs:
        torch.linalg.cholesky(_torch(torch, bad))
    assert str(ours.value) == str(theirs.value)
    L, tL = _tg(np.linalg.cholesky(spd), True), _torch(torch, np.linalg.cholesky(spd), True)
    x = _linalg.solve_triangular(L, _tg(g), upper=False)
    tx = torch.linalg.solve_triangular(tL, _torch(torch, g), upper=False)
    assert x.grad_fn.name() == tx.grad_fn.name()
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    assert_close(L.grad, tL.grad, rtol=1e-8)


def test_docstring_examples():
    import tapegrad.distributions._linalg as m1
    import tapegrad.distributions._random as m2
    import tapegrad.distributions._special as m3
    for module in (m1, m2, m3) if _HAVE_SCIPY else (m1, m2):  # m3's gammainc example needs scipy
        failures, _ = doctest.testmod(module)
        assert failures == 0, module.__name__
