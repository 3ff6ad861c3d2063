"""Weight penalties added to the training loss: ``l1`` (lasso), ``l2`` (ridge), ``l1_l2`` (Keras 3 semantics)."""


class Regularizer:
    """Regularizer: called on a weight tensor, returns a scalar penalty tensor."""

    def __call__(self, weight):
        raise NotImplementedError

    def get_config(self):
        return {}


class L1L2(Regularizer):
    """L1L2(l1=0.0, l2=0.0): penalty ``l1 * sum(|w|) + l2 * sum(w ** 2)`` (Keras has no 1/2 on the L2 term)."""

    def __init__(self, l1=0.0, l2=0.0):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"regularizers: factors must be >= 0, got l1={l1}, l2={l2}")
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


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1=l1, l2=l2)


def get(identifier):
    """A regularizer from None, an instance, a callable or a name ('l1', 'l2', 'l1_l2')."""
    if identifier is None or callable(identifier):
        return identifier
    names = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}
    if identifier in names:
        return names[identifier]()
    raise ValueError(f"regularizers: unknown regularizer {identifier!r}; use one of {sorted(names)}")
