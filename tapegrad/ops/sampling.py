"""Random sampling: multinomial, randperm, bernoulli, normal; in-place fills uniform_, normal_, bernoulli_.

Every function takes ``generator=`` (a :class:`tapegrad.Generator`; the default generator otherwise), so a
seeded generator reproduces its draws. Samples are not differentiable functions of their parameters: as in
PyTorch, ``normal`` and ``bernoulli`` outputs require grad when a parameter does, with a zero gradient.
"""

import numbers

import numpy as np

from .. import dtypes
from .. import random as _random
from ..autograd.declare import Tensor, tensor_method
from ..autograd.declare import inplace as _inplace
from ..autograd.declare import legacy_record as _record
from ..autograd.declare import wrap as _wrap

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


def _zeros(xp, params):
    # A sample's gradient with respect to its distribution's parameters is taken as zero (PyTorch's choice).
    return tuple(xp.zeros_like(p) for p in params)


# ---------------------------------------------------------------------- multinomial
@tensor_method()
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """multinomial(input, num_samples, replacement=False, *, generator=None) -> LongTensor

    Draw ``num_samples`` category indices from each row of ``input`` (1-D or 2-D non-negative weights, not
    necessarily normalized). Without replacement no row repeats an index.

    >>> import tapegrad as tg
    >>> g = tg.Generator().manual_seed(0)
    >>> tg.multinomial(tg.tensor([0.0, 1.0, 0.0]), 2, replacement=True, generator=g)
    tensor([1, 1])
    """
    op = "multinomial"
    p = input._data
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
        cdf = np.cumsum(rows, axis=1)
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
    return _wrap(idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)))


# ---------------------------------------------------------------------- randperm
def randperm(n, *, generator=None, dtype=dtypes.int64, device=None, requires_grad=False):
    """randperm(n, *, generator=None, dtype=tapegrad.int64, requires_grad=False) -> Tensor

    A random permutation of 0, ..., n - 1.

    >>> import tapegrad as tg
    >>> sorted(tg.randperm(4, generator=tg.Generator().manual_seed(1)).tolist())
    [0, 1, 2, 3]
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"randperm: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got n={n}")
    out = _wrap(_rng("randperm", generator).permutation(int(n)).astype(dtypes.as_dtype(dtype)))
    return out.requires_grad_(True) if requires_grad else out


# ---------------------------------------------------------------------- bernoulli
def _check_probability(op, p):
    if not 0 <= p <= 1:
        raise RuntimeError(f"{op}: expects p to be in [0, 1], but got p={p}")


@tensor_method()
def bernoulli(input, p=None, *, generator=None):
    """bernoulli(input, p=None, *, generator=None) -> Tensor

    Draw 0/1 values: with probabilities ``input`` (each in [0, 1]), or with probability ``p`` in the shape of
    ``input``. The result has ``input``'s dtype.

    >>> import tapegrad as tg
    >>> tg.bernoulli(tg.tensor([0.0, 1.0, 1.0]))
    tensor([0., 1., 1.])
    """
    op = "bernoulli"
    x = input._data
    rng = _rng(op, generator)
    if p is not None:
        if isinstance(p, Tensor):
            p = p._data
        if np.ndim(p) == 0:
            _check_probability(op, float(p))
        return _wrap((rng.random(x.shape) < p).astype(x.dtype))
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point tensor of probabilities, got dtype {x.dtype}")
    if x.size and not ((x >= 0) & (x <= 1)).all():
        bad = x[~((x >= 0) & (x <= 1))].flat[0]
        raise RuntimeError(f"{op}: expects all probabilities in input to be in [0, 1], but found {bad} "
                           f"(input of shape {tuple(x.shape)})")
    # NOTE: float64 uniforms even for float32 probabilities: float32's 2**-24 grid would bias tiny p
    return _record((rng.random(x.shape) < x).astype(x.dtype), (input,), _bernoulli_backward)


def _bernoulli_backward(xp, g, out, p):
    return _zeros(xp, (p,))


# ---------------------------------------------------------------------- normal
def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False):
    """normal(mean, std=1.0, size=None, *, generator=None) -> Tensor

    Normal samples with the given ``mean`` and standard deviation ``std``: each a tensor (broadcast together)
    or a number; when both are numbers, ``size`` gives the shape (and ``dtype`` the type, float32 by default).

    >>> import tapegrad as tg
    >>> tg.normal(tg.zeros(2, 3), 1.0).shape
    tapegrad.Size([2, 3])
    >>> tg.normal(0.0, 2.0, (4,)).dtype
    dtype('float32')
    """
    op = "normal"
    rng = _rng(op, generator)
    m_t, s_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not m_t and not s_t:
        if size is None:
            raise TypeError(f"{op}: with a number mean ({mean}) and std ({std}), pass size= (a tuple of "
                            "ints)")
        if std < 0:
            raise RuntimeError(f"{op}: expects std >= 0.0, but found std {std}")
        dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        size = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        out = _wrap(mean + std * _draw_normal(rng, size, dt))
        if out._data.dtype != dt:
            out._data = out._data.astype(dt)
        return out.requires_grad_(True) if requires_grad else out
    if size is not None:
        raise TypeError(f"{op}: size= is only accepted when mean and std are numbers")
    m = mean._data if m_t else mean
    s = std._data if s_t else std
    if np.any(np.asarray(s) < 0):
        raise RuntimeError(f"{op}: expects std >= 0.0, but found std {np.min(s)}")
    dt = np.result_type(*[a for a in (m, s) if isinstance(a, np.ndarray)])
    if dt.kind != "f":
        raise RuntimeError(f"{op}: expected floating-point mean and std, got dtype {dt}")
    try:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    except ValueError:
        raise RuntimeError(f"{op}: the shapes of mean {tuple(np.shape(m))} and std {tuple(np.shape(s))} do "
                           "not broadcast together") from None
    out = (m + s * _draw_normal(rng, shape, dt)).astype(dt, copy=False)
    parents = tuple(t for t in (mean, std) if isinstance(t, Tensor))
    return _record(out, parents, _normal_backward)


def _normal_backward(xp, g, out, *params):
    return _zeros(xp, params)


# ---------------------------------------------------------------------- in-place fills
def _fill(self, op, values, rule):
    """Write sampled ``values`` into ``self`` (recording the write; a graph node gets a zero gradient)."""
    return _inplace(self, op, lambda old: _record(values, (old,), rule))


def _uniform_backward(xp, g, out, x):
    return _zeros(xp, (x,))


def _normal__backward(xp, g, out, x):
    return _zeros(xp, (x,))


def _float_tensor(op, self):
    if self._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point tensor, got dtype {self._data.dtype}")


@tensor_method()
def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kwargs):
    """uniform_(from=0, to=1, *, generator=None): fill with samples from U[from, to), in place.

    >>> import tapegrad as tg
    >>> x = tg.empty(3).uniform_(-1, 1)
    >>> bool(((x >= -1) & (x < 1)).all())
    True
    """
    from_ = kwargs.pop("from", from_)
    if kwargs:
        raise TypeError(f"uniform_: unexpected keyword argument(s) {sorted(kwargs)}")
    _float_tensor("uniform_", self)
    if from_ > to:
        raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found from={from_} > "
                           f"to={to}")
    dt = self._data.dtype
    u = _draw_uniform(_rng("uniform_", generator), self._data.shape, dt)
    return _fill(self, "uniform_", (from_ + (to - from_) * u).astype(dt, copy=False), _uniform_backward)


@tensor_method()
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """normal_(mean=0, std=1, *, generator=None): fill with samples from N(mean, std^2), in place.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 2).normal_(5.0, 0.0)
    tensor([[5., 5.],
            [5., 5.]])
    """
    _float_tensor("normal_", self)
    if std < 0:
        raise RuntimeError(f"normal_: expects std >= 0.0, but found std {std}")
    dt = self._data.dtype
    z = _draw_normal(_rng("normal_", generator), self._data.shape, dt)
    return _fill(self, "normal_", (mean + std * z).astype(dt, copy=False), _normal__backward)


@tensor_method()
def bernoulli_(self, p=0.5, *, generator=None):
    """bernoulli_(p=0.5, *, generator=None): fill with 0/1 samples, 1 with probability ``p`` (a number or a
    tensor of probabilities broadcast to this shape), in place.

    >>> import tapegrad as tg
    >>> tg.empty(3).bernoulli_(1.0)
    tensor([1., 1., 1.])
    """
    op = "bernoulli_"
    if isinstance(p, Tensor):
        p = p._data
        if p.size and not ((p >= 0) & (p <= 1)).all():
            raise RuntimeError(f"{op}: expects all probabilities in p to be in [0, 1] (p of shape "
                               f"{tuple(p.shape)})")
        try:
            np.broadcast_to(p, self._data.shape)
        except ValueError:
            raise RuntimeError(f"{op}: p of shape {tuple(p.shape)} does not broadcast to the tensor's shape "
                               f"{tuple(self._data.shape)}") from None
    else:
        _check_probability(op, p)
    values = (_rng(op, generator).random(self._data.shape) < p).astype(self._data.dtype)
    return _fill(self, op, values, _bernoulli_backward)
