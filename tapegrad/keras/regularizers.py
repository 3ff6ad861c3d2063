"""Weight penalties added to the training loss: ``l1`` (lasso), ``l2`` (ridge), ``l1_l2`` (Keras 3 semantics)."""

import math
import numbers


class Regularizer:
    """Regularizer: called on a weight tensor, returns a scalar penalty tensor."""

    def __call__(self, weight):
        raise NotImplementedError

    def get_config(self):
        return {}


class L1L2(Regularizer):
    """L1L2(l1=0.0, l2=0.0): penalty ``l1 * sum(|w|) + l2 * sum(w ** 2)`` (Keras has no 1/2 on the L2 term).

    >>> import tapegrad as tg
    >>> L1L2(l1=0.1, l2=0.5)(tg.tensor([1.0, -2.0]))
    tensor(2.8000)
    """

    def __init__(self, l1=0.0, l2=0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"regularizers: {name} must be a finite float >= 0, got {name}={v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
        penalty = 0.0
        if self.l1:
            penalty = penalty + self.l1 * weight.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * (weight * weight).sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"L1L2(l1={self.l1}, l2={self.l2})"


class L1(L1L2):
    """L1(l1=0.01): lasso penalty ``l1 * sum(|w|)``."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(L1L2):
    """L2(l2=0.01): ridge penalty ``l2 * sum(w ** 2)``."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


l1 = L1
l2 = L2
l1_l2 = L1L2  # Keras 3: keras.regularizers.l1_l2 is L1L2, with l1=0.0, l2=0.0 by default ('l1_l2' means 0.01 each)


def get(identifier):
    """A regularizer from None, an instance, a callable or a name ('l1', 'l2', 'l1_l2')."""
    if identifier is None or callable(identifier):
        return identifier
    names = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}
    if identifier in names:
        return names[identifier]()
    raise ValueError(f"regularizers: unknown regularizer {identifier!r}; use one of {sorted(names)}")
