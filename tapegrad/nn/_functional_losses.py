"""The rest of ``torch.nn.functional``'s losses: margin, embedding, multi-label, Poisson and Gaussian NLL, triplet
and CTC losses.

Where PyTorch composes a loss from other ops (``margin_ranking_loss``, ``cosine_embedding_loss``,
``hinge_embedding_loss``, ``multilabel_soft_margin_loss``, ``poisson_nll_loss``, ``gaussian_nll_loss``, the triplet
losses), it is composed here the same way, so its nodes, values and gradients of every order are PyTorch's. Where
PyTorch has a kernel (``soft_margin_loss``, ``multi_margin_loss``, ``multilabel_margin_loss``, ``ctc_loss``), the
loss is one node with PyTorch's name.

These call ``functional.py``'s ops, so ``functional.py`` cannot import this module (an import cycle):
``tapegrad/nn/__init__.py`` imports it, and it attaches its functions to ``tapegrad.nn.functional``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import creation
from ..autograd.declare import Tensor, expected_tensor, op, record
from ..autograd.grad_mode import no_grad
from ..ops.elementwise import where
from . import functional as _F

__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss", "poisson_nll_loss",
           "gaussian_nll_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------- helpers
def _reduction(op_name, reduction, size_average=None, reduce=None):
    """The reduction string, also from PyTorch's deprecated ``size_average``/``reduce`` flags."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(f"{op_name}: size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
        return reduction
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op_name}: {reduction} is not a valid value for reduction (expected 'none', 'mean' or "
                         "'sum')")
    return reduction


def _apply(loss, reduction):
    """PyTorch's apply_loss_reduction."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _tensors(op_name, *xs):
    for x in xs:
        if not isinstance(x, Tensor):
            raise expected_tensor(op_name, x)


def _no_target_grad(op_name, target):
    if target.requires_grad:
        raise RuntimeError(f"The function '{op_name}' is not differentiable with respect to argument 'target'. "
                           "This input cannot have requires_grad True.")


def _spread(g, reduction, n):
    return g / n if reduction == "mean" else g


# ---------------------------------------------------------------------- composed as PyTorch's
@op(methods=())
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """margin_ranking_loss(input1, input2, target, margin=0, reduction='mean') -> max(0, -target * (input1 -
    input2) + margin), reduced. ``target`` is 1 where input1 should rank higher, -1 where input2 should.

    >>> import tapegrad as tg
    >>> tg.nn.functional.margin_ranking_loss(tg.tensor([1.0, 0.0]), tg.tensor([0.0, 1.0]), tg.tensor([1.0, 1.0]))
    tensor(0.5000)
    """
    _tensors("margin_ranking_loss", input1, input2, target)
    reduction = _reduction("margin_ranking_loss", reduction, size_average, reduce)
    if not input1.dim() == input2.dim() == target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: "
                           f"{tuple(target.shape)} ")
    # NOTE: PyTorch's margin is a C++ double: integer inputs give a float loss
    return _apply((-target * (input1 - input2) + float(margin)).clamp_min(0), reduction)


@op(methods=())
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """hinge_embedding_loss(input, target, margin=1.0, reduction='mean') -> input where target == 1,
    max(0, margin - input) where target == -1 (both terms where target is neither), reduced.

    >>> import tapegrad as tg
    >>> tg.nn.functional.hinge_embedding_loss(tg.tensor([0.3, 0.4]), tg.tensor([1.0, -1.0]), reduction='none')
    tensor([0.3000, 0.6000])
    """
    _tensors("hinge_embedding_loss", input, target)
    reduction = _reduction("hinge_embedding_loss", reduction, size_average, reduce)
    zeros = creation.zeros_like(input)
    if input.is_floating_point():
        margin_clamp = (margin - input).clamp_min(0)
    else:  # NOTE: PyTorch's C++ margin - self is empty_like(self).fill_(margin).sub_(self): in self's dtype
        margin_clamp = (creation.full_like(input, margin) - input).clamp_min(0)
    output_margin = where(target != 1, margin_clamp, zeros)
    output_self = where(target != -1, input, zeros)
    return _apply(output_margin + output_self, reduction)


_EPSILON = 1e-12


@op(methods=())
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """cosine_embedding_loss(input1, input2, target, margin=0, reduction='mean') -> 1 - cos(input1, input2)
    where target == 1, max(0, cos - margin) where target == -1, reduced. Inputs (N, D) with a (N,) target, or
    (D,) with a 0-d target.

    >>> import tapegrad as tg
    >>> tg.nn.functional.cosine_embedding_loss(tg.tensor([[1.0, 0.0]]), tg.tensor([[0.0, 1.0]]), tg.tensor([1.0]))
    tensor(1.)
    """
    _tensors("cosine_embedding_loss", input1, input2, target)
    reduction = _reduction("cosine_embedding_loss", reduction, size_average, reduce)
    d = target.dim()
    if d not in (0, 1):
        raise RuntimeError(f"cosine_embedding_loss: 0D or 1D target tensor expected, multi-target not supported "
                           f"(target of shape {tuple(target.shape)})")
    if d == 1 and not input1.dim() == input2.dim() == 2:
        raise RuntimeError(f"cosine_embedding_loss: 1D target tensor expects 2D input tensors, but found inputs "
                           f"with sizes {tuple(input1.shape)} and {tuple(input2.shape)}.")
    if d == 0 and not input1.dim() == input2.dim() == 1:
        raise RuntimeError(f"cosine_embedding_loss: 0D target tensor expects 1D input tensors, but found inputs "
                           f"with sizes {tuple(input1.shape)} and {tuple(input2.shape)}.")
    prod_sum = (input1 * input2).sum(d)
    mag_square1 = (input1 * input1).sum(d) + _EPSILON
    mag_square2 = (input2 * input2).sum(d) + _EPSILON
    cos = prod_sum / (mag_square1 * mag_square2).sqrt()
    zeros = creation.zeros_like(cos)
    output_pos = where(target == 1, 1 - cos, zeros)
    output_neg = where(target == -1, (cos - margin).clamp_min(0), zeros)
    return _apply(output_pos + output_neg, reduction)


@op(methods=())
def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """multilabel_soft_margin_loss(input, target, weight=None, reduction='mean') -> the mean over classes of
    -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input)) (times ``weight``), per sample, reduced.

    >>> import tapegrad as tg
    >>> tg.nn.functional.multilabel_soft_margin_loss(tg.zeros(1, 2), tg.tensor([[1.0, 0.0]]))
    tensor(0.6931)
    """
    _tensors("multilabel_soft_margin_loss", input, target)
    reduction = _reduction("multilabel_soft_margin_loss", reduction, size_average, reduce)
    loss = -(target * _F.logsigmoid(input) + (1 - target) * _F.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(dim=class_dim) / input.shape[class_dim]
    return _apply(loss, reduction)


@op(methods=())
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction='mean')

    exp(input) - target * input (``log_input``), or input - target * log(input + eps); ``full`` adds Stirling's
    approximation target * log(target) - target + 0.5 * log(2 pi target) where target > 1.

    >>> import tapegrad as tg
    >>> tg.nn.functional.poisson_nll_loss(tg.tensor([0.0]), tg.tensor([2.0]))
    tensor(1.)
    """
    _tensors("poisson_nll_loss", input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction("poisson_nll_loss", reduction, size_average, reduce)
    elif reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) at targets <= 1, which are masked out
            stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target.le(1), 0)
    return _apply(loss, reduction)


@op(methods=())
def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction='mean')

    0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) if ``full``). ``var`` has
    the input's shape, or one dimension fewer, or a single mismatched dimension of size 1 (homoscedastic), or is
    a float. The eps clamp does not stop var's gradient, as in PyTorch.

    >>> import tapegrad as tg
    >>> tg.nn.functional.gaussian_nll_loss(tg.tensor([1.0]), tg.tensor([3.0]), tg.tensor([1.0]))
    tensor(2.)
    """
    _tensors("gaussian_nll_loss", input, target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        v = var * creation.ones_like(input)
    elif not isinstance(var, Tensor):
        raise expected_tensor("gaussian_nll_loss", var)
    elif bool(var.lt(0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    else:
        v = var
    vs, xs = tuple(v.shape), tuple(input.shape)
    if vs != xs:
        if xs[:-1] == vs:
            v = v.unsqueeze(-1)
        elif not (len(xs) == len(vs) and sum(b for a, b in zip(xs, vs, strict=True) if a != b) == 1):
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size {vs} for the input of size {xs}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not valid")
    v = v.clone()
    with no_grad():
        v.clamp_(min=eps)
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _apply(loss, reduction)


@op(methods=())
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction='mean')

    max(0, margin + d(anchor, positive) - d(anchor, negative)) with d = pairwise_distance(., ., p, eps); ``swap``
    uses min(d(a, n), d(p, n)) as the negative distance.

    >>> import tapegrad as tg
    >>> a, p, n = tg.tensor([[0.0, 0.0]]), tg.tensor([[0.0, 1.0]]), tg.tensor([[3.0, 0.0]])
    >>> tg.nn.functional.triplet_margin_loss(a, p, n, margin=3.0, eps=0.0)
    tensor(1.)
    """
    _tensors("triplet_margin_loss", anchor, positive, negative)
    reduction = _reduction("triplet_margin_loss", reduction, size_average, reduce)
    if margin <= 0:  # PyTorch's check (ValueError), as triplet_margin_with_distance_loss's
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    dist_pos = _F.pairwise_distance(anchor, positive, p, eps)
    dist_neg = _F.pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = dist_neg.minimum(_F.pairwise_distance(positive, negative, p, eps))
    return _apply((margin + dist_pos - dist_neg).clamp_min(0), reduction)


def _check_triplet_dims(anchor, positive, negative):
    a, p, n = anchor.dim(), positive.dim(), negative.dim()
    if not a == p == n:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs")


@op(methods=())
def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
    swap=False, reduction='mean'): the triplet loss with any distance (default: pairwise_distance).

    >>> import tapegrad as tg
    >>> a, p, n = tg.tensor([[0.0, 0.0]]), tg.tensor([[0.0, 1.0]]), tg.tensor([[3.0, 0.0]])
    >>> tg.nn.functional.triplet_margin_with_distance_loss(a, p, n, margin=3.0,
    ...     distance_function=lambda x, y: (x - y).abs().sum(-1))
    tensor(1.)
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _tensors("triplet_margin_with_distance_loss", anchor, positive, negative)
    _check_triplet_dims(anchor, positive, negative)
    distance = _F.pairwise_distance if distance_function is None else distance_function
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = dist_neg.minimum(distance(positive, negative))
    return _apply((margin + dist_pos - dist_neg).clamp_min(0), reduction)


# ---------------------------------------------------------------------- one node each, as PyTorch's kernels
@op(methods=())
def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """soft_margin_loss(input, target, reduction='mean') -> log(1 + exp(-target * input)), reduced
    (``SoftMarginLossBackward0``; computed in its overflow-free form, so large margins give finite losses).

    >>> import tapegrad as tg
    >>> tg.nn.functional.soft_margin_loss(tg.tensor([0.0, 0.0]), tg.tensor([1.0, -1.0]))
    tensor(0.6931)
    """
    _tensors("soft_margin_loss", input, target)
    reduction = _reduction("soft_margin_loss", reduction, size_average, reduce)
    _no_target_grad("soft_margin_loss", target)
    x, t = input._data, target._data
    if x.dtype.kind != "f":
        raise NotImplementedError(f"soft_margin_loss: not implemented for {x.dtype} tensors")
    try:
        z = -x * t  # NOTE: PyTorch's -input * target: an integer or bool target is not negated (255 for uint8 1)
    except ValueError:
        raise ValueError(f"soft_margin_loss: target of shape {tuple(t.shape)} and input of shape {tuple(x.shape)} "
                         "cannot be broadcast together") from None
    z = z.astype(x.dtype, copy=False)
    # NOTE: log1p(exp(z)) as max(z, 0) + log1p(exp(-|z|)): no overflow for large z.
    loss = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    n = loss.size
    out = loss if reduction == "none" else np.asarray(loss.sum() / n if reduction == "mean" else loss.sum(),
                                                       x.dtype)

    def soft_margin_loss_rule(xp, g, out, x):
        # PyTorch's soft_margin_loss_backward: -target * z / (1 + z) with z = exp(-target * input)
        zz = -t * x
        return _spread(g, reduction, n) * -(t * (0.5 + 0.5 * xp.tanh(0.5 * zz)))

    return record(out, (input,), soft_margin_loss_rule, "SoftMarginLossBackward0")


def _no_half(op_name, x, n):
    """PyTorch's CPU kernels of the margin and CTC losses take float32 and float64 only (an empty batch skips them)."""
    if x.dtype == np.float16 and n:
        raise NotImplementedError(f"{op_name}: not implemented for 'Half' (float16 input of shape {tuple(x.shape)}; "
                                  "PyTorch's CPU kernel takes float32 and float64)")


def _class_target(op_name, target, n):
    t = target._data
    if t.dtype != np.int64:
        raise RuntimeError(f"{op_name}: expected scalar type Long but found {t.dtype} for the target")
    return t


@op(methods=())
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction='mean')

    For each sample, the sum over classes j != y of max(0, margin - x[y] + x[j]) ** p (times weight[y]), divided
    by the number of classes; input (N, C) or (C,), target (N,) or () class indices (``MultiMarginLossBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.multi_margin_loss(tg.tensor([[0.1, 0.2, 0.4, 0.8]]), tg.tensor([3]))
    tensor(0.3250)
    """
    _tensors("multi_margin_loss", input, target)
    reduction = _reduction("multi_margin_loss", reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("multi_margin_loss: only p == 1 and p == 2 supported")
    x = input._data
    if x.dtype.kind != "f" and x.size:  # an empty batch skips PyTorch's kernel, whatever its dtype
        raise NotImplementedError(f"multi_margin_loss: not implemented for {x.dtype} tensors")
    nd = x.ndim
    if not ((nd == 2 and x.shape[1] != 0) or (nd == 1 and x.shape[0] != 0) or nd == 0):
        raise RuntimeError(f"multi_margin_loss: expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {tuple(x.shape)}")
    N = 1 if nd <= 1 else x.shape[0]
    C = 1 if nd == 0 else x.shape[-1]
    _no_half("multi_margin_loss", x, N)
    t = _class_target("multi_margin_loss", target, N)
    if t.ndim > 1 or t.size != N:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{N}], but got {list(t.shape)}")
    y = t.reshape(N)
    if y.size and (y.min() < 0 or y.max() >= C):
        raise RuntimeError(f"multi_margin_loss: target out of range (class indices must be in [0, {C}), got "
                           f"{y.min()} to {y.max()})")
    wy = None
    if weight is not None:
        w = weight._data
        if w.ndim > 1 or w.size != C:
            raise RuntimeError(f"multi_margin_loss: inconsistent weight size, expected {C} but got {list(w.shape)}")
        wy = w.reshape(C)[y].astype(x.dtype)
    onehot = (np.arange(C) == y[:, None])
    x2 = x.reshape(N, C)
    mt = margin - x2[np.arange(N), y][:, None] + x2
    h = np.where(onehot | ~(mt > 0), 0, mt).astype(x.dtype, copy=False)
    z = h if p == 1 else h * h
    if wy is not None:
        z = z * wy[:, None]
    loss = z.sum(1) / C
    if reduction == "none":
        out = loss.reshape(t.shape)
    elif x.dtype.kind != "f":  # an empty integer batch: 0 (PyTorch returns uninitialized memory there)
        out = np.zeros((), x.dtype)
    else:
        out = np.asarray(loss.mean() if reduction == "mean" else loss.sum(), x.dtype)
    active = (~onehot & (mt > 0)).astype(x.dtype)
    scale = active if wy is None else active * wy[:, None]

    # PyTorch's kernel (LossMultiMargin.cpp): each active term's coefficient h (g = 1 / (N C) for 'mean', else
    # 1 / C; 2 g z for p = 2), the target's -sum(h), and only then the product with the incoming gradient: an
    # infinite one gives +-inf at the target and 0 * inf = NaN at the inactive terms, as there
    k = np.asarray(1 / ((N if reduction == "mean" else 1) * C or 1), x.dtype)  # (nothing to spread when empty)

    def multi_margin_loss_rule(xp, g, out, x):
        if p == 1:
            h = scale * k
        else:
            xx = x.reshape((N, C))
            m = margin - xp.take_along_axis(xx, y[:, None], axis=1) + xx
            h = xp.where(scale != 0, scale * m * (2 * k), 0)  # (an inactive term's m may be -inf: skipped)
        coef = xp.where(onehot, -h.sum(axis=1, keepdims=True), h)
        return (coef * (g.reshape((N, 1)) if reduction == "none" else g)).reshape(x.shape)

    return record(out.astype(x.dtype, copy=False), (input,), multi_margin_loss_rule, "MultiMarginLossBackward0")


@op(methods=())
def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """multilabel_margin_loss(input, target, reduction='mean')

    For each sample, the sum over its target classes j and its other classes i of max(0, 1 - (x[j] - x[i])),
    divided by the number of classes. ``target`` has the input's shape, (C,) or (N, C): the target classes first,
    ended by -1 (``MultilabelMarginLossBackward0``).

    >>> import tapegrad as tg
    >>> tg.nn.functional.multilabel_margin_loss(tg.tensor([[0.1, 0.2, 0.4, 0.8]]), tg.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """
    _tensors("multilabel_margin_loss", input, target)
    reduction = _reduction("multilabel_margin_loss", reduction, size_average, reduce)
    x = input._data
    if x.dtype.kind != "f" and x.size:  # an empty batch skips PyTorch's kernel, whatever its dtype
        raise NotImplementedError(f"multilabel_margin_loss: not implemented for {x.dtype} tensors")
    t = _class_target("multilabel_margin_loss", target, None)
    nd = x.ndim
    if nd > 2 or (nd == 2 and x.shape[1] == 0) or (nd == 1 and x.shape[0] == 0):
        raise RuntimeError(f"multilabel_margin_loss: expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {tuple(x.shape)}")
    N = 1 if nd <= 1 else x.shape[0]
    C = 1 if nd == 0 else x.shape[-1]
    _no_half("multilabel_margin_loss", x, N)
    if t.shape != x.shape and not (nd <= 1 and t.size == C and t.ndim <= 1):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {list(t.shape)} for input of size: "
                           f"{list(x.shape)}")
    y = t.reshape(N, C)
    if y.size and (y.min() < -1 or y.max() >= C):
        raise RuntimeError(f"multilabel_margin_loss: target values must be in [-1, {C}) (class indices, -1 ends "
                           f"the list), got {y.min()} to {y.max()}")
    listed = np.cumprod(y != -1, axis=1).astype(bool)  # the entries before the first -1
    rows = np.repeat(np.arange(N), C)[listed.reshape(-1)]
    count = np.zeros((N, C), dtype=x.dtype)
    np.add.at(count, (rows, y[listed]), 1)  # how often each class is listed (PyTorch counts repeats)
    others = (count == 0).astype(x.dtype)
    x2 = x.reshape(N, C)
    m = 1 - x2[:, :, None] + x2[:, None, :]  # m[n, j, i] = 1 - (x[j] - x[i])
    pair = count[:, :, None] * others[:, None, :] * (m > 0)
    # NOTE: the inactive pairs are skipped, as in PyTorch's kernel (not 0 * m, which is NaN where m is inf or NaN)
    loss = np.where(pair != 0, pair * m, 0).sum((1, 2)) / C
    if reduction == "none":
        out = loss.reshape(x.shape[:-1]) if nd else loss.reshape(())
    elif x.dtype.kind != "f":  # an empty integer batch: 0 (PyTorch returns uninitialized memory there)
        out = np.zeros((), x.dtype)
    else:
        out = np.asarray(loss.mean() if reduction == "mean" else loss.sum(), x.dtype)

    def multilabel_margin_loss_rule(xp, g, out, x):
        gs = g.reshape((N, 1)) if reduction == "none" else _spread(g, reduction, N)
        up = pair.sum(axis=1) - pair.sum(axis=2)  # +x[i] in each active pair, -x[j]
        return (up * (gs / C)).reshape(x.shape)

    return record(out.astype(x.dtype, copy=False), (input,), multilabel_margin_loss_rule,
                  "MultilabelMarginLossBackward0")


# ---------------------------------------------------------------------- CTC
def _lengths_kind(lengths):
    """"tensor", "ints" (a tuple or list of ints, numpy ints or 0-d integer tensors) or None (anything else)."""
    if isinstance(lengths, Tensor):
        return "tensor"
    if isinstance(lengths, (list, tuple)) and all(
            (isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)))
            or (isinstance(v, Tensor) and v.ndim == 0 and v._data.dtype.kind in "iu") for v in lengths):
        return "ints"
    return None


def _lengths(op_name, name, lengths, n):
    if isinstance(lengths, Tensor):
        a = lengths._data
        if a.dtype.kind not in "iu":
            raise RuntimeError(f"{op_name}: {name} must be integral, got dtype {a.dtype}")
    else:
        a = np.asarray(lengths)
        if a.dtype.kind not in "iu":
            raise RuntimeError(f"{op_name}: {name} must be integers, got {lengths!r}")
    a = a.reshape(-1).astype(np.int64)
    if a.size != n:
        raise RuntimeError(f"{op_name}: {name} must be of size batch_size ({n}), got {a.size} values")
    return a


def _ctc_one(lp, labels, T, blank):
    """The negative log likelihood of ``labels`` under ``lp`` (T', C) and d nll / d lp for the first T steps
    (PyTorch's formula, which assumes log_softmax outputs: exp(lp) - exp(log(alpha beta) + nll - lp))."""
    L = len(labels)
    S = 2 * L + 1
    ext = np.full(S, blank, dtype=np.int64)
    ext[1::2] = labels
    skip = np.zeros(S, dtype=bool)  # s may come from s - 2: a label differing from the label two before
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    neg_inf = -np.inf
    alpha = np.full((T, S), neg_inf)
    beta = np.full((T, S), neg_inf)
    grad = np.zeros_like(lp)
    if T == 0:
        return (0.0 if len(labels) == 0 else np.inf), grad
    e = lp[:T][:, ext]  # e[t, s] = lp[t, ext[s]]
    alpha[0, 0] = e[0, 0]
    if S > 1:
        alpha[0, 1] = e[0, 1]
    for t in range(1, T):
        prev = alpha[t - 1]
        a = prev.copy()
        a[1:] = np.logaddexp(a[1:], prev[:-1])
        a[2:] = np.where(skip[2:], np.logaddexp(a[2:], prev[:-2]), a[2:])
        alpha[t] = a + e[t]
    beta[T - 1, S - 1] = e[T - 1, S - 1]
    if S > 1:
        beta[T - 1, S - 2] = e[T - 1, S - 2]
    for t in range(T - 2, -1, -1):
        nxt = beta[t + 1]
        b = nxt.copy()
        b[:-1] = np.logaddexp(b[:-1], nxt[1:])
        b[:-2] = np.where(skip[2:], np.logaddexp(b[:-2], nxt[2:]), b[:-2])
        beta[t] = b + e[t]
    last = alpha[T - 1, S - 1] if S == 1 else np.logaddexp(alpha[T - 1, S - 1], alpha[T - 1, S - 2])
    nll = -last
    ab = alpha + beta
    lcab = np.full((T, lp.shape[1]), neg_inf)
    for c in np.unique(ext):  # log sum over the positions s of each class
        cols = ab[:, ext == c]
        top = cols.max(1)
        finite = np.isfinite(top)
        with np.errstate(invalid="ignore", divide="ignore"):
            lcab[:, c] = np.where(finite, top + np.log(np.exp(cols - np.where(finite, top, 0)[:, None]).sum(1)),
                                  neg_inf)
    with np.errstate(invalid="ignore", over="ignore"):
        grad[:T] = np.exp(lp[:T]) - np.exp(lcab + nll - lp[:T])
    return nll, grad


@op(methods=())
def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction='mean', zero_infinity=False)

    The Connectionist Temporal Classification loss: -log of the probability of each target sequence, summed over
    its alignments. ``log_probs`` is (T, N, C) (or (T, C) unbatched) log_softmax output; ``targets`` is (N, S)
    padded or 1-D concatenated class indices (never ``blank``); the lengths are int tensors or sequences. 'mean'
    divides each loss by its target length, then averages. ``zero_infinity`` zeroes infinite losses (impossible
    alignments) and their gradients. The node is PyTorch's ``CtcLossBackward0``, and so is the gradient: it is
    exp(log_probs) - (the alignment posteriors), which is the gradient with respect to the logits of a
    log_softmax in front (as in PyTorch, that is the intended use; it has no second order).

    >>> import tapegrad as tg
    >>> lp = tg.full((2, 1, 2), 0.5).log()
    >>> tg.nn.functional.ctc_loss(lp, tg.tensor([[1]]), [2], [1], reduction='sum')
    tensor(0.2877)
    """
    _tensors("ctc_loss", log_probs, targets)
    kinds = (_lengths_kind(input_lengths), _lengths_kind(target_lengths))
    if None in kinds or kinds[0] != kinds[1]:  # PyTorch's two signatures: (int[], int[]) or (Tensor, Tensor)
        raise TypeError(f"ctc_loss(): input_lengths and target_lengths must be both tuples or lists of ints, or "
                        f"both Tensors, got {type(input_lengths).__name__} and {type(target_lengths).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    x = log_probs._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"ctc_loss: log_probs must be floating point, got {x.dtype}")
    _no_half("ctc_loss", x, True)
    batched = x.ndim == 3
    if x.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C) or unbatched (T, C), got shape {tuple(x.shape)}")
    lp_t = log_probs if batched else log_probs.unsqueeze(1)
    lp = lp_t._data.astype(np.float64)
    T_max, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError(f"ctc_loss: blank must be in label range [0, {C}), got {blank}")
    il = _lengths("ctc_loss", "input_lengths", input_lengths, N)
    tl = _lengths("ctc_loss", "target_lengths", target_lengths, N)
    t = targets._data
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: targets must be integral class indices, got dtype {t.dtype}")
    if not batched or t.ndim == 1:
        if t.ndim != 1:
            raise RuntimeError(f"ctc_loss: unbatched targets must be 1-D, got shape {tuple(t.shape)}")
        if batched and t.size < tl.sum():
            raise RuntimeError(f"ctc_loss: concatenated targets hold {t.size} values, fewer than the sum of "
                               f"target_lengths {int(tl.sum())}")
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]]) if batched else np.zeros(1, np.int64)
        seqs = [t[s:s + n] for s, n in zip(starts, tl, strict=True)]
    else:
        if t.ndim != 2 or t.shape[0] != N:
            raise RuntimeError(f"ctc_loss: padded targets must be (N={N}, S), got shape {tuple(t.shape)}")
        seqs = [t[b, :n] for b, n in enumerate(tl)]
        if len(tl) and tl.max() > t.shape[1]:
            raise RuntimeError(f"ctc_loss: expected targets to have size at least {int(tl.max())} at dimension 1, "
                               f"but got size {t.shape[1]}")
    for b in range(N):
        if not 0 <= il[b] <= T_max:
            raise RuntimeError(f"ctc_loss: expected input_lengths to have value at most {T_max}, but got value "
                               f"{il[b]} (while checking arguments for ctc_loss)")
        if tl[b] < 0:
            raise RuntimeError(f"ctc_loss: target_lengths must be non-negative, got {tl[b]}")
        if len(seqs[b]) and (seqs[b].min() < 0 or seqs[b].max() >= C):
            raise RuntimeError(f"ctc_loss: target values must be class indices in [0, {C}), got {seqs[b].min()} to "
                               f"{seqs[b].max()} in sequence {b}")
    nll = np.zeros(N)
    grad = np.zeros_like(lp)
    for b in range(N):
        nll[b], grad[:, b] = _ctc_one(lp[:, b], seqs[b].astype(np.int64), int(il[b]), blank)
    if zero_infinity:
        inf = np.isinf(nll)
        grad[:, inf] = 0
    grad = grad.astype(x.dtype)

    def ctc_loss_rule(xp, g, out, lp):
        # NOTE: PyTorch's ctc_loss_backward has no gradient of its own: this is linear in g only
        return g.reshape((1, N, 1)) * grad

    res = record(nll.astype(x.dtype), (lp_t,), ctc_loss_rule, "CtcLossBackward0")
    if zero_infinity:
        res = where(res == np.inf, creation.zeros((), dtype=res.dtype), res)
    if reduction == "mean":
        return (res / creation.tensor(np.maximum(tl, 1).astype(x.dtype))).mean()
    if reduction == "sum":
        return res.sum()
    return res if batched else res.squeeze(0)


for _name in __all__:
    setattr(_F, _name, globals()[_name])
_F.__all__ += [n for n in __all__ if n not in _F.__all__]
del _name
