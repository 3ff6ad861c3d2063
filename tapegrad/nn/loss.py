"""Loss modules (``torch.nn`` losses): each stores its options and calls its ``tapegrad.nn.functional`` form.

``weight`` and ``pos_weight`` are registered as buffers (so they follow ``to()`` and appear in
``state_dict()``), as in PyTorch.
"""

import warnings

from . import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss"]

_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce):
    """PyTorch's deprecated size_average/reduce pair as a reduction string."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                  f"instead.",
                  stacklevel=3)
    return reduction


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: {reduction!r} is not a valid value for reduction "
                             f"(expected one of {list(_REDUCTIONS)})")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """CrossEntropyLoss(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean',
    label_smoothing=0.0)

    Cross entropy between logits (N, C) or (N, C, d1, ...) and class indices (N, ...) or class
    probabilities of the input's shape: log_softmax followed by nll_loss, computed stably.

    >>> import tapegrad as tg
    >>> tg.nn.CrossEntropyLoss()(tg.zeros(2, 4), tg.tensor([1, 3]))
    tensor(1.3863)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got "
                             f"{label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """NLLLoss(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean')

    Negative log likelihood of class indices given log-probabilities (N, C) or (N, C, d1, ...).

    >>> import tapegrad as tg
    >>> tg.nn.NLLLoss()(tg.tensor([[-1.0, -2.0]]), tg.tensor([1]))
    tensor(2.)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """MSELoss(size_average=None, reduce=None, reduction='mean'): mean squared error.

    >>> import tapegrad as tg
    >>> tg.nn.MSELoss()(tg.tensor([1.0, 3.0]), tg.tensor([0.0, 0.0]))
    tensor(5.)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """L1Loss(size_average=None, reduce=None, reduction='mean'): mean absolute error.

    >>> import tapegrad as tg
    >>> tg.nn.L1Loss()(tg.tensor([1.0, -3.0]), tg.tensor([0.0, 0.0]))
    tensor(2.)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """SmoothL1Loss(size_average=None, reduce=None, reduction='mean', beta=1.0): 0.5 d^2 / beta where |d| <
    beta, else |d| - 0.5 beta.

    >>> import tapegrad as tg
    >>> tg.nn.SmoothL1Loss()(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]))
    tensor(1.3125)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """HuberLoss(reduction='mean', delta=1.0): 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).

    >>> import tapegrad as tg
    >>> tg.nn.HuberLoss(delta=2.0)(tg.tensor([1.0, 3.0]), tg.tensor([0.0, 0.0]))
    tensor(2.2500)
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """BCELoss(weight=None, size_average=None, reduce=None, reduction='mean'): binary cross entropy between
    probabilities and targets in [0, 1] (the logs are clamped at -100, as in PyTorch).

    >>> import tapegrad as tg
    >>> tg.nn.BCELoss()(tg.tensor([0.5, 0.5]), tg.tensor([1.0, 0.0]))
    tensor(0.6931)
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """BCEWithLogitsLoss(weight=None, size_average=None, reduce=None, reduction='mean', pos_weight=None)

    Sigmoid followed by binary cross entropy, in one numerically stable expression; ``pos_weight`` weighs the
    positive term per class.

    >>> import tapegrad as tg
    >>> tg.nn.BCEWithLogitsLoss()(tg.zeros(2), tg.tensor([1.0, 0.0]))
    tensor(0.6931)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """KLDivLoss(size_average=None, reduce=None, reduction='mean', log_target=False)

    Kullback-Leibler divergence ``target * (log(target) - input)`` with ``input`` log-probabilities; use
    reduction='batchmean' for the mathematically correct KL per sample.

    >>> import tapegrad as tg
    >>> tg.nn.KLDivLoss(reduction="sum")(tg.tensor([0.5, 0.5]).log(), tg.tensor([0.5, 0.5]))
    tensor(0.)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        if reduction == "batchmean":
            super().__init__(size_average, reduce, "mean")
            self.reduction = "batchmean"
        else:
            super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
