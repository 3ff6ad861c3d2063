"""W10, in-place ops under ``no_grad``: what each costs above the numpy call that does the same write.

Every hand-written training loop, optimizer and initializer writes parameters in place under ``no_grad``
(``p.mul_(0.9)``, ``p.clamp_(-c, c)``, ``p.addcmul_(g, g, value=...)``, ``p.lerp_(avg, 0.1)``). Issue 10's target:
each costs at most 1.5 us more than the numpy it runs. Each op is timed on a (200, 27) float32 tensor (W2m's
largest parameter) against the same write done in place on numpy arrays, interleaved; the figure is the median
of the per-round differences. ``p -= lr * p.grad`` (two operators) is W2u, in W2m.
"""

import numpy as np
from harness import Outcome, Row, Stats, Target, interleave

from tapegrad.ops._fused import add_rounded_once  # (numpy only: addcmul_'s reference rounds as the op does)

NAME = "W10"
TITLE = "in-place ops under no_grad, above the numpy call that does the same write"
SHAPE = (200, 27)
LIMIT_US = 1.5


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, SHAPE).astype(np.float32)
    b = (rng.uniform(-1, 1, SHAPE) * 1e-3).astype(np.float32)
    c = rng.choice(np.float32([-1, 1]), SHAPE)  # factors and divisors of size 1: no growth, no decay
    return a, b, c


# label, the tapegrad call on (p, q, r), the numpy write on (A, B, C): the same math, in place where numpy can.
# Values stay finite and normal over a million repeats (no decay into subnormals, whose arithmetic is slow).
_f = np.float32
CASES = [
    ("p.add_(q)", lambda p, q, r: p.add_(q), lambda a, b, c: np.add(a, b, out=a)),
    ("p.add_(q, alpha=-0.1)", lambda p, q, r: p.add_(q, alpha=-0.1),
     lambda a, b, c: np.add(a, b * _f(-0.1), out=a)),
    ("p.sub_(q)", lambda p, q, r: p.sub_(q), lambda a, b, c: np.subtract(a, b, out=a)),
    ("p.mul_(r)", lambda p, q, r: p.mul_(r), lambda a, b, c: np.multiply(a, c, out=a)),
    ("p.mul_(-1.0)", lambda p, q, r: p.mul_(-1.0), lambda a, b, c: np.multiply(a, _f(-1.0), out=a)),
    ("p.div_(r)", lambda p, q, r: p.div_(r), lambda a, b, c: np.divide(a, c, out=a)),
    ("p += q", None, lambda a, b, c: np.add(a, b, out=a)),
    ("p.copy_(q)", lambda p, q, r: p.copy_(q), lambda a, b, c: np.copyto(a, b)),
    ("p.zero_()", lambda p, q, r: p.zero_(), lambda a, b, c: a.fill(0)),
    ("p.fill_(0.5)", lambda p, q, r: p.fill_(0.5), lambda a, b, c: a.fill(0.5)),
    ("p.clamp_(-0.5, 0.5)", lambda p, q, r: p.clamp_(-0.5, 0.5), lambda a, b, c: np.clip(a, -0.5, 0.5, out=a)),
    ("p.clamp_(min=0)", lambda p, q, r: p.clamp_(min=0), lambda a, b, c: np.maximum(a, 0, out=a)),
    ("p.addcmul_(q, r, value=1e-4)", lambda p, q, r: p.addcmul_(q, r, value=1e-4),  # (one fma: _fma_write)
     lambda a, b, c: _fma_write(b * _f(1e-4), c, a)),
    ("p.addcdiv_(q, r, value=-1e-4)", lambda p, q, r: p.addcdiv_(q, r, value=-1e-4),
     lambda a, b, c: np.add(a, np.divide(b * _f(-1e-4), c), out=a)),
    ("p.lerp_(q, 0.1)", lambda p, q, r: p.lerp_(q, 0.1),  # (p + 0.1 (q - p) as one fma, in float64)
     lambda a, b, c: np.copyto(a, np.add(np.multiply(np.subtract(b, a), _f(0.1), dtype=np.float64), a),
                               casting="unsafe")),
    ("p.sqrt_()", lambda p, q, r: p.sqrt_(), lambda a, b, c: np.sqrt(a, out=a)),
    ("p.tanh_()", lambda p, q, r: p.tanh_(), lambda a, b, c: np.tanh(a, out=a)),
    ("p.neg_()", lambda p, q, r: p.neg_(), lambda a, b, c: np.negative(a, out=a)),
    ("p.relu_()", lambda p, q, r: p.relu_(), lambda a, b, c: np.maximum(a, 0, out=a)),
]


def _fma_write(x, y, a):
    """a = x * y + a rounded once (float32 arrays): the sum of the exact product in float64, rounded once to float32
    by the numpy-only helper ops._fused.add_rounded_once (float64's rounding, exact only where it may differ),
    straight into a."""
    add_rounded_once(np.multiply(x, y, dtype=np.float64), a, np.float32, out=a)


def _augmented_add(p, q, r):
    p += q
    return p


def _fns(tg, label, tapegrad_call, numpy_call):
    a, b, c = _arrays()
    if label.endswith("sqrt_()"):
        a = np.abs(a) + 0.5
    p, q, r = (tg.tensor(v.copy()) for v in (a, b, c))
    p.requires_grad_()  # a parameter
    call = tapegrad_call or _augmented_add

    def tapegrad():
        call(p, q, r)  # under no_grad: run() turns grad mode off around the timing

    arrays = [v.copy() for v in (a, b, c)]

    def numpy():
        numpy_call(*arrays)

    return {"tapegrad": tapegrad, "numpy": numpy}, (p, arrays[0])


def check(tg):
    """Each case computes what its numpy write computes (after a few repeats), so the timing is of the same math."""
    failures = []
    for label, tapegrad_call, numpy_call in CASES:
        fns, (p, a) = _fns(tg, label, tapegrad_call, numpy_call)
        for _ in range(3):
            with tg.no_grad():
                fns["tapegrad"]()
            fns["numpy"]()
        got = p.detach().numpy()
        if not np.allclose(got, a, rtol=1e-5, atol=1e-6, equal_nan=True):
            failures.append(f"W10 {label}: tapegrad and numpy differ by {np.nanmax(np.abs(got - a)):.3g}")
    return failures


def run(libs, settings):
    out = Outcome()
    out.failures = check(libs["tapegrad"])
    if out.failures:
        return out
    worst = (0.0, "")
    for label, tapegrad_call, numpy_call in CASES:
        fns, _ = _fns(libs["tapegrad"], label, tapegrad_call, numpy_call)
        with libs["tapegrad"].no_grad():  # the op's own cost: entering no_grad is not part of it
            samples = interleave(fns, settings)
        above = Stats.of(np.asarray(samples["tapegrad"]) - np.asarray(samples["numpy"]))
        numpy_us = np.median(samples["numpy"]) * 1e6
        out.rows.append(Row(NAME, f"{label}: above numpy's {numpy_us:.2f} us", above, "us/op", 1e6))
        worst = max(worst, (above.median * 1e6, label))
    out.targets.append(Target(NAME, f"every in-place op <= {LIMIT_US:g} us above numpy",
                              f"worst {worst[0]:.2f} us ({worst[1]})", worst[0] <= LIMIT_US))
    return out
