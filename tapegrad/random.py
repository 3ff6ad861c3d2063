"""Random number generation: a seeded default ``Generator`` and ``manual_seed``.

tapegrad draws from numpy's PCG64, so seeds give reproducible tapegrad runs, but not PyTorch's exact streams.
"""

import numpy as np


class Generator:
    """Generator(device='cpu'): a source of random numbers; pass it as ``generator=`` to random functions.

    >>> import tapegrad as tg
    >>> g = tg.Generator().manual_seed(0)
    >>> tg.rand(2, generator=g).shape
    tapegrad.Size([2])
    """

    def __init__(self, device="cpu"):
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self):
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from ._tensor import wrap as _wrap

        state = self.rng.bit_generator.state
        words = [state["state"]["state"], state["state"]["inc"], state["has_uint32"], state["uinteger"]]
        return _wrap(np.array([int(w) for w in _split(words)], dtype=np.int64))

    def set_state(self, state):
        values = [int(v) for v in np.asarray(state)]
        s, inc, has, uint = _join(values)
        self.rng.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": s, "inc": inc},
                                        "has_uint32": has, "uinteger": uint}
        return self


def _split(words):
    """128-bit PCG64 state words as signed 32-bit pieces that fit an int64 tensor."""
    out = []
    for w in words[:2]:
        out += [(w >> (32 * k)) & 0xFFFFFFFF for k in range(4)]
    return out + [int(words[2]), int(words[3])]


def _join(values):
    s = sum(values[k] << (32 * k) for k in range(4))
    inc = sum(values[4 + k] << (32 * k) for k in range(4))
    return s, inc, values[8], values[9]


default_generator = Generator().manual_seed(0)


def manual_seed(seed):
    """manual_seed(seed): seed the default generator (and numpy's legacy global RNG) for reproducible runs."""
    default_generator.manual_seed(seed)
    np.random.seed(int(seed) % (2**32))
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def rng(generator=None):
    """The numpy Generator to draw from: ``generator``'s, or the default one."""
    return (generator or default_generator).rng


def check_bounds(op: str, dt: np.dtype, from_: int, to_inc: int) -> None:
    """As PyTorch's random_ and randint: ``from`` and ``to - 1`` must be values of the dtype (its finite range for
    floats), or a RuntimeError naming ``op``; never a silent wrap (``randint(0, 300, dtype=uint8)``)."""
    if dt.kind == "f":
        lo, hi = float(np.finfo(dt).min), float(np.finfo(dt).max)
    elif dt.kind == "b":
        lo, hi = 0, 1
    elif dt.kind in "iu":
        lo, hi = int(np.iinfo(dt).min), int(np.iinfo(dt).max)
    else:
        return
    for what, v in (("from", from_), ("to - 1", to_inc)):
        if not lo <= v <= hi:
            raise RuntimeError(f"{op}: {what} is out of bounds for {dt}: {what}={v}, the dtype holds [{lo}, {hi}]")
