"""W5, memory: the peak memory of a W3 training step, and no growth over 1,000 steps.

Memory is what ``tracemalloc`` traces: numpy reports its array allocations to it, and Python objects (tensors,
closures, tuples) are traced too, so it sees everything tapegrad and the numpy reference allocate (it does not
see PyTorch's allocator, so PyTorch has no row here).

- Step peak: before the step, the gradients of the previous one are released (``zero_grad``; the numpy step
  keeps none), so what is held is the weights and the data alike for both; tracing starts there, and the peak
  is the most memory the step itself holds at once (activations, gradients, temporaries).
- Growth: tapegrad's traced memory after 1,000 steps against after 10. A smaller MLP (784-256-256-10, batch
  64) is used for this part, because 1,000 steps of W3 would take minutes; the graph and its release are the
  same code whatever the widths.
"""

import gc
import tracemalloc

import numpy as np
from harness import Outcome, Row, Stats, Target
from training import make_trainers
from w3_mlp import SIZES, model_for, numpy_forward_backward, problem

NAME = "W5"
TITLE = "memory of a W3 step (tracemalloc)"
SMALL = (784, 256, 256, 10)
MiB = 1 / 2**20


def step_peak(trainer, repeats=3):
    """Bytes: the peak traced during one step above what was held before it, over ``repeats`` steps."""
    trainer.step()  # anything allocated once (optimizer state) is allocated here
    peaks = []
    for _ in range(repeats):
        trainer.release()
        gc.collect()
        tracemalloc.start()
        try:
            trainer.step()
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    return peaks


def growth(tg, steps=(10, 1000), sizes=SMALL, batch=64):
    """{step: traced bytes held after it} for tapegrad training the small MLP, traced from its creation."""
    tracemalloc.start()
    try:
        trainer = make_trainers({"tapegrad": tg}, model_for(sizes), numpy_forward_backward,
                                problem(sizes, batch=batch))["tapegrad"]
        held = {}
        for i in range(1, max(steps) + 1):
            trainer.step()
            if i in steps:
                held[i] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return held


def run(libs, settings, sizes=SIZES, batch=128, steps=(10, 1000)):
    out = Outcome()
    trainers = make_trainers({"tapegrad": libs["tapegrad"]}, model_for(sizes), numpy_forward_backward,
                             problem(sizes, batch=batch, n_batches=2))
    peaks = {name: step_peak(t) for name, t in trainers.items()}
    weights = sum(a.nbytes for a in problem(sizes, batch=batch, n_batches=1).params)
    for name, p in peaks.items():
        ratio = Stats.of(np.asarray(p) / np.asarray(peaks["numpy"])) if name != "numpy" else None
        out.rows.append(Row(NAME, f"{name} step peak", Stats.of(p), "MiB", MiB, ratio,
                            note=f"weights {weights * MiB:.1f} MiB held before the step, not counted"))
    ratio = np.median(peaks["tapegrad"]) / np.median(peaks["numpy"])
    out.targets.append(Target(NAME, "step peak <= 1.3x numpy",
                              f"{ratio:.2f}x ({np.median(peaks['tapegrad']) * MiB:.1f} vs "
                              f"{np.median(peaks['numpy']) * MiB:.1f} MiB)", ratio <= 1.3))
    held = growth(libs["tapegrad"], steps)
    first, last = held[min(steps)], held[max(steps)]
    for n, b in held.items():
        out.rows.append(Row(NAME, f"tapegrad held after {n:,} steps ({'-'.join(map(str, SMALL))})",
                            Stats.of([b]), "MiB", MiB))
    out.notes.append(f"W5: the growth check trains a smaller MLP ({'-'.join(map(str, SMALL))}, batch 64) for "
                     f"{max(steps):,} steps, as 1,000 steps of W3 would take minutes")
    grew = last - first
    out.targets.append(Target(NAME, f"no growth from step {min(steps):,} to {max(steps):,} (< 1%)",
                              f"{grew / 1024:+.1f} KiB ({grew / first:+.2%})", grew <= 0.01 * first))
    return out
