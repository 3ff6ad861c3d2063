"""W6, inference: W3's deep MLP forward under ``no_grad``, batch 1,024."""

import numpy as np
from harness import Outcome, Target, interleave, ratio_target, reference_note, timing_rows
from training import build_model
from w3_mlp import SIZES, init_params, model_for, numpy_forward

NAME = "W6"
TITLE = "deep MLP inference (no_grad), batch 1,024"


def forwards(libs, sizes=SIZES, batch=1024):
    """{name: () -> logits as an array} for every library in ``libs``, all from the same weights and input."""
    params, rng = init_params(sizes)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    fns = {"numpy": lambda: numpy_forward(params, x)[0]}
    for name in ("tapegrad", "pytorch"):
        torch = libs.get(name)
        if torch is None:
            continue
        model = build_model(torch, model_for(sizes), params)
        xt = torch.from_numpy(x)

        def forward(torch=torch, model=model, xt=xt):
            with torch.no_grad():
                return model(xt).numpy()

        fns[name] = forward
    return fns


def check(fns, rtol=1e-3):
    """Failures: each library's logits against numpy's (tolerance relative to the largest logit)."""
    expect = fns["numpy"]()
    scale = max(np.abs(expect).max(), 1e-6)
    failures = []
    for name, fn in fns.items():
        got = fn()
        if got.shape != expect.shape or not np.all(np.abs(got - expect) <= rtol * scale):
            err = np.abs(got - expect).max() if got.shape == expect.shape else float("nan")
            failures.append(f"{NAME}: {name} logits {got.shape} differ from numpy's {expect.shape} by "
                            f"{err:.3g} (tolerance {rtol * scale:.3g})")
    return failures


def run(libs, settings, sizes=SIZES, batch=1024):
    out = Outcome()
    fns = forwards(libs, sizes, batch)
    out.failures = check(fns)
    if out.failures:
        out.targets.append(Target(NAME, "<= 1.05x numpy", "CHECK FAILED: not timed", False))
        return out
    samples = interleave(fns, settings)
    out.rows = timing_rows(NAME, samples, unit="ms/batch")
    target = ratio_target(NAME, samples, "tapegrad", "numpy", 1.05, "numpy")
    target.context = reference_note(samples, "pytorch", "numpy", "none given")
    out.targets.append(target)
    return out
