"""The distributions under test, each built the same way from tapegrad or from PyTorch (for comparisons).

A case is a constructor ``make(D, p)`` (``D`` is ``tapegrad.distributions`` or ``torch.distributions``, ``p`` the
parameters as tensors of that library), the kinds of its parameters, and how to draw a value in its support.
Parameters and values are drawn as float64 numpy arrays of one batch shape (Hypothesis, or a numpy generator).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

K = 3  # event size of the multivariate cases

# parameter kinds: name -> (low, high) of its elements, and the event shape it adds to the batch shape
KINDS = {
    "real": ((-2.0, 2.0), ()),
    "pos": ((0.4, 3.0), ()),
    "big": ((1.5, 6.0), ()),  # concentrations/dfs where moments exist and samples are well behaved
    "unit": ((0.1, 0.9), ()),
    "temp": ((0.3, 2.0), ()),
    "temp0": ((0.3, 2.0), ()),  # one temperature for a whole batch of logit vectors (drawn without the batch)
    "vec": ((-2.0, 2.0), (K,)),
    "vecm1": ((-1.0, 1.0), (K - 1,)),
    "posvecm1": ((0.3, 1.5), (K - 1,)),
    "posvec": ((0.5, 3.0), (K,)),
    "simplex": ((0.2, 1.0), (K,)),
    "factor": ((-1.0, 1.0), (K, 2)),
    "tril": ((-1.0, 1.0), (K, K)),
    "spd": ((-1.0, 1.0), (K, K)),
    "prec": ((-1.0, 1.0), (K, K)),
}


def _finish(kind, a):
    if kind == "simplex":
        return a / a.sum(-1, keepdims=True)
    if kind == "tril":
        d = np.abs(np.diagonal(a, axis1=-2, axis2=-1)) + 0.5
        return np.tril(a, -1) + d[..., None] * np.eye(K)
    if kind in ("spd", "prec"):
        return a @ np.swapaxes(a, -1, -2) + 0.7 * np.eye(K)
    return a


@st.composite
def arrays_of(draw, kind, batch):
    (lo, hi), event = KINDS[kind]
    batch = () if kind == "temp0" else batch
    a = draw(hnp.arrays(np.float64, batch + event, elements=st.floats(lo, hi)))
    return _finish(kind, a)


def random_array(rng, kind, batch):
    (lo, hi), event = KINDS[kind]
    batch = () if kind == "temp0" else batch
    return _finish(kind, rng.uniform(lo, hi, batch + event))


# value kinds: how to draw a value in the support from a uniform array u (and the numpy parameters)
def _v_real(u, p):
    return (u - 0.5) * 6


def _v_pos(u, p):
    return 0.05 + 4 * u


def _v_unit(u, p):
    return 0.02 + 0.96 * u


def _v_simplex(u, p):
    w = 0.1 + u[..., :K]
    return w / w.sum(-1, keepdims=True)


def _v_vec(u, p):
    return (u[..., :K] - 0.5) * 4


def _v_binary(u, p):
    return (u > 0.5).astype(np.float64)


def _v_count(u, p):
    return np.floor(u * 8)


def _v_upto10(u, p):
    return np.floor(u * 10.999)


def _v_category(u, p):
    return np.floor(u * K).astype(np.int64)


def _v_onehot(u, p):
    return np.eye(K)[np.minimum(np.floor(u * K), K - 1).astype(np.int64)]


def _v_multinomial(u, p):
    k = np.floor(u[..., :K] * 2.999)
    k[..., -1] = 5 - k[..., :-1].sum(-1)
    return k


def _v_uniform(u, p):
    return p["low"] + u * (p["high"] - p["low"])


def _v_pareto(u, p):
    return p["scale"] * (1 + 3 * u)


U_EVENT = {_v_simplex: (K,), _v_vec: (K,), _v_multinomial: (K,)}  # values drawn from u of batch + (K,)


class Case:
    def __init__(self, name, make, params, value, rsample_fixed_noise=True, moments=True, cls=None):
        self.name, self.make, self.params, self.value = name, make, params, value
        self.rsample_fixed_noise = rsample_fixed_noise  # rsample is a smooth function of the params at a fixed seed
        self.moments = moments  # sample mean/variance can be checked against mean/variance
        self.cls = cls or name.split("(")[0].split("/")[0]

    def __repr__(self):
        return self.name

    def draw_params(self, draw, batch):
        return {k: draw(arrays_of(kind, batch)) for k, kind in self.params.items()}

    def random_params(self, rng, batch):
        return {k: random_array(rng, kind, batch) for k, kind in self.params.items()}

    def value_for(self, u, p):
        return self.value(u, p)


CASES = [
    Case("Normal", lambda D, p: D.Normal(p["loc"], p["scale"]), {"loc": "real", "scale": "pos"}, _v_real),
    Case("LogNormal", lambda D, p: D.LogNormal(p["loc"], p["scale"]), {"loc": "real", "scale": "unit"}, _v_pos),
    Case("HalfNormal", lambda D, p: D.HalfNormal(p["scale"]), {"scale": "pos"}, _v_pos),
    Case("Cauchy", lambda D, p: D.Cauchy(p["loc"], p["scale"]), {"loc": "real", "scale": "pos"}, _v_real,
         moments=False),
    Case("HalfCauchy", lambda D, p: D.HalfCauchy(p["scale"]), {"scale": "pos"}, _v_pos, moments=False),
    Case("Laplace", lambda D, p: D.Laplace(p["loc"], p["scale"]), {"loc": "real", "scale": "pos"}, _v_real),
    Case("Gumbel", lambda D, p: D.Gumbel(p["loc"], p["scale"]), {"loc": "real", "scale": "pos"}, _v_real),
    Case("Exponential", lambda D, p: D.Exponential(p["rate"]), {"rate": "pos"}, _v_pos),
    Case("Gamma", lambda D, p: D.Gamma(p["concentration"], p["rate"]), {"concentration": "pos", "rate": "pos"},
         _v_pos, rsample_fixed_noise=False),
    Case("Chi2", lambda D, p: D.Chi2(p["df"]), {"df": "pos"}, _v_pos, rsample_fixed_noise=False),
    Case("InverseGamma", lambda D, p: D.InverseGamma(p["concentration"], p["rate"]),
         {"concentration": "big", "rate": "pos"}, _v_pos, rsample_fixed_noise=False),
    Case("Beta", lambda D, p: D.Beta(p["c1"], p["c0"]), {"c1": "pos", "c0": "pos"}, _v_unit,
         rsample_fixed_noise=False),
    Case("Kumaraswamy", lambda D, p: D.Kumaraswamy(p["c1"], p["c0"]), {"c1": "pos", "c0": "pos"}, _v_unit),
    Case("Uniform", lambda D, p: D.Uniform(p["low"], p["low"] + p["width"]), {"low": "real", "width": "pos"},
         lambda u, p: p["low"] + u * p["width"]),
    Case("Pareto", lambda D, p: D.Pareto(p["scale"], p["alpha"]), {"scale": "pos", "alpha": "big"}, _v_pareto),
    Case("Weibull", lambda D, p: D.Weibull(p["scale"], p["concentration"]), {"scale": "pos", "concentration": "pos"},
         _v_pos),
    Case("StudentT", lambda D, p: D.StudentT(p["df"], p["loc"], p["scale"]),
         {"df": "big", "loc": "real", "scale": "pos"}, _v_real, rsample_fixed_noise=False),
    Case("FisherSnedecor", lambda D, p: D.FisherSnedecor(p["df1"], p["df2"]), {"df1": "big", "df2": "big"}, _v_pos,
         rsample_fixed_noise=False, moments=False),
    Case("Bernoulli(probs)", lambda D, p: D.Bernoulli(probs=p["probs"]), {"probs": "unit"}, _v_binary),
    Case("Bernoulli(logits)", lambda D, p: D.Bernoulli(logits=p["logits"]), {"logits": "real"}, _v_binary),
    Case("ContinuousBernoulli", lambda D, p: D.ContinuousBernoulli(probs=p["probs"]), {"probs": "unit"}, _v_unit),
    Case("Geometric", lambda D, p: D.Geometric(probs=p["probs"]), {"probs": "unit"}, _v_count),
    Case("Poisson", lambda D, p: D.Poisson(p["rate"]), {"rate": "pos"}, _v_count),
    Case("Binomial", lambda D, p: D.Binomial(10, probs=p["probs"]), {"probs": "unit"}, _v_upto10),
    Case("Binomial(logits)", lambda D, p: D.Binomial(10, logits=p["logits"]), {"logits": "real"}, _v_upto10),
    Case("NegativeBinomial", lambda D, p: D.NegativeBinomial(p["total_count"], probs=p["probs"]),
         {"total_count": "pos", "probs": "unit"}, _v_count),
    Case("Categorical(probs)", lambda D, p: D.Categorical(probs=p["probs"]), {"probs": "simplex"}, _v_category,
         moments=False),
    Case("Categorical(logits)", lambda D, p: D.Categorical(logits=p["logits"]), {"logits": "vec"}, _v_category,
         moments=False),
    Case("OneHotCategorical", lambda D, p: D.OneHotCategorical(probs=p["probs"]), {"probs": "simplex"}, _v_onehot),
    Case("Multinomial", lambda D, p: D.Multinomial(5, probs=p["probs"]), {"probs": "simplex"}, _v_multinomial),
    Case("Dirichlet", lambda D, p: D.Dirichlet(p["concentration"]), {"concentration": "posvec"}, _v_simplex,
         rsample_fixed_noise=False),
    Case("MultivariateNormal(scale_tril)", lambda D, p: D.MultivariateNormal(p["loc"], scale_tril=p["scale_tril"]),
         {"loc": "vec", "scale_tril": "tril"}, _v_vec),
    Case("MultivariateNormal(covariance_matrix)",
         lambda D, p: D.MultivariateNormal(p["loc"], covariance_matrix=p["covariance_matrix"]),
         {"loc": "vec", "covariance_matrix": "spd"}, _v_vec),
    Case("MultivariateNormal(precision_matrix)",
         lambda D, p: D.MultivariateNormal(p["loc"], precision_matrix=p["precision_matrix"]),
         {"loc": "vec", "precision_matrix": "prec"}, _v_vec),
    Case("LowRankMultivariateNormal",
         lambda D, p: D.LowRankMultivariateNormal(p["loc"], p["cov_factor"], p["cov_diag"]),
         {"loc": "vec", "cov_factor": "factor", "cov_diag": "posvec"}, _v_vec),
    Case("RelaxedBernoulli", lambda D, p: D.RelaxedBernoulli(p["temperature"], probs=p["probs"]),
         {"temperature": "temp", "probs": "unit"}, _v_unit, moments=False),
    Case("RelaxedOneHotCategorical",
         lambda D, p: D.RelaxedOneHotCategorical(p["temperature"], logits=p["logits"]),
         {"temperature": "temp0", "logits": "vec"}, _v_simplex, moments=False),
    Case("LogisticNormal", lambda D, p: D.LogisticNormal(p["loc"], p["scale"]), {"loc": "vecm1", "scale": "posvecm1"},
         _v_simplex, moments=False),
    Case("Independent(Normal)", lambda D, p: D.Independent(D.Normal(p["loc"], p["scale"]), 1),
         {"loc": "vec", "scale": "posvec"}, _v_vec),
    Case("TransformedDistribution(Normal, [Affine, Exp])",
         lambda D, p: D.TransformedDistribution(D.Normal(p["loc"], p["scale"]),
                                                [D.AffineTransform(0.5, 2.0), D.ExpTransform()]),
         {"loc": "real", "scale": "unit"}, _v_pos, moments=False),
    Case("MixtureSameFamily(Categorical, Normal)",
         lambda D, p: D.MixtureSameFamily(D.Categorical(probs=p["mix"]), D.Normal(p["loc"], p["scale"])),
         {"mix": "simplex", "loc": "vec", "scale": "posvec"}, _v_real),
]
BY_NAME = {c.name: c for c in CASES}


def first_case_of(cls_name):
    for c in CASES:
        if c.cls == cls_name:
            return c
    return None


def u_shape(case, batch):
    return batch + U_EVENT.get(case.value, ())
