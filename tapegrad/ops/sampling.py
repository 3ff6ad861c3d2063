"""Random sampling: multinomial, randperm, bernoulli, normal; in-place fills uniform_, normal_, bernoulli_.

Every function takes ``generator=`` (a :class:`tapegrad.Generator`; the default generator otherwise), so a
seeded generator reproduces its draws. Samples are not differentiable functions of their parameters: as in
PyTorch, ``normal`` and ``bernoulli`` outputs require grad when a parameter does, with a zero gradient, and an
in-place fill of a tensor that requires grad keeps it requiring grad, its gradient cut to zero (the nodes
``NormalBackward0``-``3``, ``UniformBackward0``, ``BernoulliBackward0``-``2``, as PyTorch names them).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes
from .. import random as _random
from ..autograd.declare import Tensor, expected_tensor, inplace, op, overlap_error, partial_overlap, record, wrap

__all__ = ["multinomial", "randperm", "bernoulli", "normal"]


def _rng(op, generator):
    if generator is not None and not isinstance(generator, _random.Generator):
        raise TypeError(f"{op}: generator must be a tapegrad.Generator, got {type(generator).__name__}")
    return _random.rng(generator)


def _draw_normal(rng, shape, dtype):
    """Standard normal samples of ``dtype`` (float32 drawn directly, without a float64 detour)."""
    if dtype in (dtypes.float32, dtypes.float64):
        return rng.standard_normal(shape, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype)


def _draw_uniform(rng, shape, dtype):
    """Uniform samples from [0, 1) of ``dtype``."""
    if dtype in (dtypes.float32, dtypes.float64):
        return rng.random(shape, dtype=dtype)
    return rng.random(shape).astype(dtype)


def _data(op_name, input):
    try:
        return input._data
    except AttributeError:
        raise expected_tensor(op_name, input) from None


# ---------------------------------------------------------------------- multinomial
@op(methods=("multinomial",))
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """multinomial(input, num_samples, replacement=False, *, generator=None) -> LongTensor

    Draw ``num_samples`` category indices from each row of ``input`` (1-D or 2-D non-negative weights, not
    necessarily normalized). Without replacement no row repeats an index.

    >>> import tapegrad as tg
    >>> g = tg.Generator().manual_seed(0)
    >>> tg.multinomial(tg.tensor([0.0, 1.0, 0.0]), 2, replacement=True, generator=g)
    tensor([1, 1])
    """
    op = "multinomial"
    p = _data(op, input)
    if p.dtype.kind != "f":
        raise RuntimeError(f"{op}: only floating-point dtypes are supported for input, got {p.dtype}")
    if p.ndim not in (1, 2):
        raise RuntimeError(f"{op}: prob_dist must be 1 or 2 dim, got input of shape {tuple(p.shape)}")
    if not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise RuntimeError(f"{op}: cannot sample n_sample <= 0 samples (got num_samples={num_samples})")
    n_cat = p.shape[-1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError(f"{op}: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"(num_samples={num_samples}, {n_cat} categories in input of shape "
                           f"{tuple(p.shape)})")
    rows = p.reshape(-1, n_cat).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError(f"{op}: probability tensor contains either `inf`, `nan` or element < 0 "
                           f"(input of shape {tuple(p.shape)})")
    totals = rows.sum(axis=1)
    if (totals <= 0).any():
        raise RuntimeError(f"{op}: invalid multinomial distribution (sum of probabilities <= 0) in row "
                           f"{int(np.flatnonzero(totals <= 0)[0])} of input of shape {tuple(p.shape)}")
    rng = _rng(op, generator)
    r = rows.shape[0]
    if replacement:
        # Inverse CDF, all rows in one search: row i's normalized CDF is shifted to [i, i + 1].
        cdf = rows.cumsum(axis=1)
        cdf /= cdf[:, -1:]
        shift = np.arange(r, dtype=np.float64)[:, None]
        u = rng.random((r, num_samples)) + shift
        idx = np.searchsorted((cdf + shift).ravel(), u.ravel(), side="right").reshape(r, num_samples)
        idx -= np.arange(r)[:, None] * n_cat
        last_positive = n_cat - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)
        idx = np.minimum(idx, last_positive[:, None])  # rounding at the very top of a row
    else:
        # NOTE: exponential race: the k smallest E/p (E ~ Exp(1)) are a weighted draw of k without
        # replacement, in draw order; zero weights get key inf and come last.
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential(rows.shape) / rows
        idx = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    return wrap(idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)))


# ---------------------------------------------------------------------- randperm
@op(methods=(), xp_name=False)
def randperm(n: int, *, generator=None, dtype=dtypes.int64, device=None, requires_grad: bool = False) -> Tensor:
    """randperm(n, *, generator=None, dtype=tapegrad.int64, requires_grad=False) -> Tensor

    A random permutation of 0, ..., n - 1 (``n`` must fit the dtype: at most 256 for uint8, 2049 for float16).

    >>> import tapegrad as tg
    >>> sorted(tg.randperm(4, generator=tg.Generator().manual_seed(1)).tolist())
    [0, 1, 2, 3]
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"randperm: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got n={n}")
    dt = dtypes.as_dtype(dtype)
    if dt.kind == "b":
        raise NotImplementedError("randperm: not implemented for bool")
    if dt.kind in "iu" and n > int(np.iinfo(dt).max) + 1:
        raise RuntimeError(f"randperm: n={n} cannot be converted to {dt} without overflow (at most "
                           f"{int(np.iinfo(dt).max) + 1})")
    if dt == dtypes.float16 and n > 2049:
        raise RuntimeError(f"randperm: n cannot be greater than 2049 for float16, got n={n}")
    if requires_grad and dt.kind != "f":
        raise RuntimeError(f"randperm: only tensors of floating point dtype can require gradients, got {dt}")
    out = wrap(_rng("randperm", generator).permutation(int(n)).astype(dt))
    return out.requires_grad_(True) if requires_grad else out


# ---------------------------------------------------------------------- bernoulli
def _check_probability(op_name, p):
    if not 0 <= p <= 1:  # NOTE: also refuses nan
        raise RuntimeError(f"{op_name}: expects p to be in [0, 1], but got p={p}")


def _check_probabilities(op_name, name, p):
    if p.size and not ((p >= 0) & (p <= 1)).all():
        bad = p[~((p >= 0) & (p <= 1))].flat[0]
        raise RuntimeError(f"{op_name}: expects all probabilities in {name} to be in [0, 1], but found {bad} "
                           f"({name} of shape {tuple(p.shape)})")


def _zeros_rule(xp, g, out, x):
    # A sample's gradient with respect to its distribution's parameters is taken as zero (PyTorch's choice).
    return xp.zeros_like(g)


def _zeros_rule2(xp, need, g, out, a, b):
    return xp.zeros_like(a) if need[0] else None, xp.zeros_like(b) if need[1] else None


def _not_implemented_rule(xp, g, out, x):
    raise RuntimeError("bernoulli: the derivative of bernoulli(input, p) with respect to input is not implemented "
                       "(as in PyTorch)")


@op(methods=("bernoulli",))
def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:
    """bernoulli(input, p=None, *, generator=None) -> Tensor

    Draw 0/1 values: with probabilities ``input`` (each in [0, 1]), or with probability ``p`` in the shape of
    ``input``. The result has ``input``'s dtype; it requires grad when ``input`` does, as in PyTorch (with a
    zero gradient, ``BernoulliBackward0``; with ``p``, PyTorch's node that refuses backward).

    >>> import tapegrad as tg
    >>> tg.bernoulli(tg.tensor([0.0, 1.0, 1.0]))
    tensor([0., 1., 1.])
    """
    op_name = "bernoulli"
    x = _data(op_name, input)
    rng = _rng(op_name, generator)
    if p is not None:
        if isinstance(p, Tensor):
            raise TypeError(f"{op_name}: p must be a number (a tensor of probabilities is the input itself)")
        _check_probability(op_name, float(p))
        return record((rng.random(x.shape) < p).astype(x.dtype), (input,), _not_implemented_rule,
                      "torch::autograd::NotImplemented")
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op_name}: expected a floating-point tensor of probabilities, got dtype "
                                  f"{x.dtype}")
    _check_probabilities(op_name, "input", x)
    # NOTE: float64 uniforms even for float32 probabilities: float32's 2**-24 grid would bias tiny p
    return record((rng.random(x.shape) < x).astype(x.dtype), (input,), _zeros_rule, "BernoulliBackward0")


# ---------------------------------------------------------------------- normal
@op(methods=())
def normal(mean: Tensor | float, std: Tensor | float = 1.0, size=None, *, generator=None, dtype=None,
           requires_grad: bool = False) -> Tensor:
    """normal(mean, std=1.0, size=None, *, generator=None) -> Tensor

    Normal samples with the given ``mean`` and standard deviation ``std``: each a tensor (broadcast together)
    or a number; when both are numbers, ``size`` gives the shape (and ``dtype`` the type, float32 by default).
    The result has ``mean``'s dtype (``std``'s if ``mean`` is a number), and requires grad (with a zero
    gradient) when a parameter does.

    >>> import tapegrad as tg
    >>> tg.normal(tg.zeros(2, 3), 1.0).shape
    tapegrad.Size([2, 3])
    >>> tg.normal(0.0, 2.0, (4,)).dtype
    dtype('float32')
    """
    op_name = "normal"
    rng = _rng(op_name, generator)
    m_t, s_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not m_t and not s_t:
        if size is None:
            raise TypeError(f"{op_name}: with a number mean ({mean}) and std ({std}), pass size= (a tuple of "
                            "ints)")
        if not std >= 0:
            raise RuntimeError(f"{op_name}: expects std >= 0.0, but found std {std}")
        dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        if dt.kind != "f":
            raise NotImplementedError(f"{op_name}: not implemented for {dt} (floating-point dtypes only)")
        size = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        out = wrap((mean + std * _draw_normal(rng, size, dt)).astype(dt, copy=False))
        return out.requires_grad_(True) if requires_grad else out
    if size is not None:
        raise TypeError(f"{op_name}: size= is only accepted when mean and std are numbers")
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    # PyTorch: the result takes mean's options (std's if mean is a number: then std is a tensor, as mypy can't tell)
    dt = m.dtype if isinstance(m, np.ndarray) else s.dtype  # type: ignore[union-attr]
    if dt.kind != "f":  # the result's dtype (mean's, or std's when mean is a number); the other may be any dtype
        raise NotImplementedError(f"{op_name}: \"normal_kernel_cpu\" not implemented for {dt}: the result takes "
                                  f"mean's dtype (std's when mean is a number), which must be floating-point")
    if isinstance(s, np.ndarray):
        if s.size and not (s >= 0).all():
            raise RuntimeError(f"{op_name}: expects all elements of std >= 0.0, got std of shape "
                               f"{tuple(s.shape)} with min {np.min(s)}")
    elif not std >= 0:
        raise RuntimeError(f"{op_name}: expects std >= 0.0, but found std {std}")
    try:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    except ValueError:
        raise RuntimeError(f"{op_name}: the shapes of mean {tuple(np.shape(m))} and std {tuple(np.shape(s))} do "
                           "not broadcast together") from None
    out = (m + s * _draw_normal(rng, shape, dt)).astype(dt, copy=False)
    if m_t and s_t:
        return record(out, (mean, std), _zeros_rule2, "NormalBackward3")
    return record(out, (mean,) if m_t else (std,), _zeros_rule, "NormalBackward1" if m_t else "NormalBackward2")


# ---------------------------------------------------------------------- in-place fills
def _sampled(old, values, name):
    """The value an in-place fill writes: ``values``, recorded with a zero gradient for what was there."""
    return record(values, (old,), _zeros_rule, name)


def _sampled_with(old, p, values):
    """bernoulli_(p) with a tensor ``p``: the values, with zero gradients for what was there and for ``p``."""
    return record(values, (old, p), _zeros_rule2, "BernoulliBackward1")


def _float_tensor(op_name, self):
    dt = _data(op_name, self).dtype
    if dt.kind != "f":
        raise NotImplementedError(f"{op_name}: expected a floating-point tensor, got dtype {dt}")
    return dt


@op(methods=("uniform_",), xp_name=False)
def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator=None, **kwargs) -> Tensor:
    """uniform_(from=0, to=1, *, generator=None): fill with samples from U[from, to), in place.

    >>> import tapegrad as tg
    >>> x = tg.empty(3).uniform_(-1, 1)
    >>> bool(((x >= -1) & (x < 1)).all())
    True
    """
    from_ = kwargs.pop("from", from_)
    if kwargs:
        raise TypeError(f"uniform_: unexpected keyword argument(s) {sorted(kwargs)}")
    dt = _float_tensor("uniform_", self)
    lowest, highest = float(np.finfo(dt).min), float(np.finfo(dt).max)
    for name, v in (("from", from_), ("to", to)):
        if not lowest <= v <= highest:  # NOTE: also refuses nan and infinities
            raise RuntimeError(f"uniform_: {name}={v} is out of bounds for {dt}")
    if from_ > to:
        raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found from={from_} > "
                           f"to={to}")
    if to - from_ > highest:
        raise RuntimeError(f"uniform_: expects to - from <= the largest {dt} ({highest}), but found to={to} and "
                           f"from={from_}")
    u = _draw_uniform(_rng("uniform_", generator), self._data.shape, dt)
    return inplace(self, "uniform_", _sampled, (from_ + (to - from_) * u).astype(dt, copy=False),
                   "UniformBackward0")


@op(methods=("normal_",), xp_name=False)
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """normal_(mean=0, std=1, *, generator=None): fill with samples from N(mean, std^2), in place.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 2).normal_(5.0, 0.0)
    tensor([[5., 5.],
            [5., 5.]])
    """
    # PyTorch's normal kernel, and its dtype check, skip an empty tensor (aten/src/ATen/native/DistributionTemplates.h:
    # `if (self.numel() == 0) return self` comes before the dispatch on the dtype)
    dt = _float_tensor("normal_", self) if _data("normal_", self).size else self._data.dtype
    if not std >= 0:  # NOTE: also refuses nan
        raise RuntimeError(f"normal_: expects std >= 0.0, but found std {std}")
    z = _draw_normal(_rng("normal_", generator), self._data.shape, dt)
    return inplace(self, "normal_", _sampled, (mean + std * z).astype(dt, copy=False), "NormalBackward0")


@op(methods=("bernoulli_",), xp_name=False)
def bernoulli_(self: Tensor, p: Tensor | float = 0.5, *, generator=None) -> Tensor:
    """bernoulli_(p=0.5, *, generator=None): fill with 0/1 samples, 1 with probability ``p`` (a number or a
    floating-point tensor of probabilities broadcast to this shape), in place.

    >>> import tapegrad as tg
    >>> tg.empty(3).bernoulli_(1.0)
    tensor([1., 1., 1.])
    """
    op_name = "bernoulli_"
    shape = _data(op_name, self).shape
    rng = _rng(op_name, generator)
    if isinstance(p, Tensor):
        # PyTorch's order: p expanded to the tensor's shape, then the partial-overlap check of the tensor and the
        # expanded p (a broadcast p has a stride of 0: its overlap cannot be told, and is let through), the dtype
        try:
            pa = np.broadcast_to(p._data, shape)
        except ValueError:
            raise RuntimeError(f"{op_name}: p of shape {tuple(p.shape)} does not broadcast to the tensor's shape "
                               f"{tuple(shape)}") from None
        if partial_overlap(self._data, pa):
            raise overlap_error(op_name)
        if pa.dtype.kind != "f":
            raise NotImplementedError(f"{op_name}: expected a floating-point tensor of probabilities p, got dtype "
                                      f"{pa.dtype}")
        _check_probabilities(op_name, "p", pa)
        values = (rng.random(shape) < pa).astype(self._data.dtype)
        return inplace(self, op_name, _sampled_with, p, values)
    _check_probability(op_name, p)
    values = (rng.random(shape) < p).astype(self._data.dtype)
    return inplace(self, op_name, _sampled, values, "BernoulliBackward2")
