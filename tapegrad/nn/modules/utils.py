"""``torch.nn.modules.utils``: the argument normalisers that layers use (``_pair(3) == (3, 3)``) and
``consume_prefix_in_state_dict_if_present``.

>>> from tapegrad.nn.modules.utils import _pair
>>> _pair(3), _pair((1, 2))
((3, 3), (1, 2))
"""

import collections.abc
from itertools import repeat

from ._lazy import attach

__getattr__, __dir__ = attach("utils")


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """Reverse ``t`` and repeat each element ``n`` times (how conv turns padding into F.pad's order)."""
    return tuple(x for x in reversed(t) for _ in range(n))
