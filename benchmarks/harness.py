"""What every workload shares: the machine description, interleaved timing, statistics, correctness checks.

Timing protocol. All implementations of a workload live in one process. After a warm-up, each *round* times a
block of steps of every implementation in turn, starting with a different one each round (rotation), so a
slow period of the shared machine hits all of them alike. A block lasts about ``block_seconds``; its time
divided by its steps is one sample. We report the median and the interquartile range of the samples, and the
ratio of two implementations as the median of their per-round ratios (paired: both ran in the same round).
The cyclic garbage collector stays on (as for users) but runs before each block, outside the timed region.
"""

import gc
import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------------------------------------- settings


@dataclass
class Settings:
    """How hard to measure: ``quick`` for a smoke run, the defaults for ``make bench``."""

    rounds: int = 11
    block_seconds: float = 0.08
    warmup: int = 2
    quick: bool = False

    @classmethod
    def make(cls, quick=False):
        if quick:
            return cls(rounds=4, block_seconds=0.03, warmup=1, quick=True)
        return cls()


# ---------------------------------------------------------------------------------------------- results


@dataclass
class Stats:
    median: float
    q1: float
    q3: float
    low: float
    high: float

    @classmethod
    def of(cls, samples):
        s = np.asarray(samples, dtype=float)
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        return cls(float(med), float(q1), float(q3), float(s.min()), float(s.max()))


@dataclass
class Row:
    """One line of the results table: one implementation (or one size) of one workload."""

    workload: str
    what: str
    stats: Stats | None
    unit: str  # "us/op", "ms/step", "MiB", ...
    scale: float = 1.0  # stats are in seconds or bytes; value shown = stat * scale
    vs_numpy: Stats | None = None
    vs_torch: Stats | None = None
    note: str = ""


@dataclass
class Target:
    """One line of the summary: a workload's target, the measured figure and whether it is met."""

    workload: str
    target: str
    measured: str
    met: bool | None  # None: could not be measured (e.g. PyTorch hidden)
    context: str = ""  # the references measured here against the anchors the targets were set with


@dataclass
class Outcome:
    """What one workload reports: table rows, targets, failed checks and notes."""

    rows: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- timing


def time_block(fn, steps):
    """Seconds per call of ``fn`` over ``steps`` calls (garbage collected first, outside the timing)."""
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def steps_for(fn, block_seconds):
    """How many calls of ``fn`` make a block of about ``block_seconds`` (at least one)."""
    t = time_block(fn, 1)
    return max(1, int(round(block_seconds / max(t, 1e-9))))


def interleave(fns, settings, steps=None):
    """Time each of ``fns`` ({name: callable}) in rotating interleaved rounds; returns {name: [s/call, ...]}.

    ``steps`` fixes the calls per block ({name: int}); by default each function is calibrated to a block of
    ``settings.block_seconds``.
    """
    names = list(fns)
    for name in names:
        for _ in range(settings.warmup):
            fns[name]()
    if steps is None:
        steps = {name: steps_for(fns[name], settings.block_seconds) for name in names}
    samples = {name: [] for name in names}
    for r in range(settings.rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            samples[name].append(time_block(fns[name], steps[name]))
    return samples


def paired_ratio(samples, a, b):
    """Stats of the per-round ratio samples[a][r] / samples[b][r] (None if either is missing)."""
    if a not in samples or b not in samples:
        return None
    return Stats.of(np.asarray(samples[a]) / np.asarray(samples[b]))


def timing_rows(workload, samples, unit="ms/step", scale=1e3, labels=None):
    """Table rows for interleaved samples, with ratios to 'numpy' and 'pytorch' where those ran."""
    rows = []
    for name, s in samples.items():
        rows.append(Row(workload, (labels or {}).get(name, name), Stats.of(s), unit, scale,
                        vs_numpy=paired_ratio(samples, name, "numpy") if name != "numpy" else None,
                        vs_torch=paired_ratio(samples, name, "pytorch") if name != "pytorch" else None))
    return rows


def ratio_target(workload, samples, name, ref, limit, label):
    """Target 'samples[name] <= limit x samples[ref]' judged on the median paired ratio."""
    r = paired_ratio(samples, name, ref)
    if r is None:
        return Target(workload, f"<= {limit:g}x {label}", f"{label} not run", None)
    return Target(workload, f"<= {limit:g}x {label}", f"{r.median:.2f}x (IQR {r.q1:.2f}-{r.q3:.2f})",
                  r.median <= limit)


def reference_note(samples, a, b, anchor):
    """'a = 2.41x b (anchor 2.4x)': how two references compare on this machine, against the anchor."""
    r = paired_ratio(samples, a, b)
    return "" if r is None else f"{a} {r.median:.2f}x {b} (anchor {anchor})"


# ---------------------------------------------------------------------------------------------- checks


def compare_runs(workload, runs, ref="numpy", rtol=1e-4, param_rtol=1e-2):
    """Compare what each implementation computed over the same steps from the same initial weights.

    ``runs`` maps a name to ``(losses, params0, params)``: the loss of each step, and the parameters before
    the first and after the last step (lists of arrays, in the same order for every implementation). Losses
    must agree to ``rtol``; each parameter's total change must agree with the reference's to ``param_rtol``
    in norm: |p - q| <= param_rtol |q - q0| (so a step that skips or garbles an update cannot pass, while a
    ReLU whose input is within rounding of 0 may flip between BLAS libraries). Returns the failures.
    """
    failures = []
    ref_losses, ref_p0, ref_p = runs[ref]
    for name, (losses, _, params) in runs.items():
        if name == ref:
            continue
        losses = np.asarray(losses, dtype=np.float64)
        expect = np.asarray(ref_losses, dtype=np.float64)
        if losses.shape != expect.shape or not np.all(np.isfinite(losses)):
            failures.append(f"{workload}: {name} losses {losses.tolist()} are not finite or not one per step "
                            f"(expected {len(expect)})")
            continue
        bad = np.abs(losses - expect) > rtol * np.maximum(np.abs(expect), 1.0)
        if bad.any():
            i = int(np.argmax(bad))
            failures.append(f"{workload}: {name} loss at step {i + 1} is {losses[i]:.7g}, {ref} has "
                            f"{expect[i]:.7g} (relative tolerance {rtol:g})")
        if len(params) != len(ref_p):
            failures.append(f"{workload}: {name} has {len(params)} parameters, {ref} has {len(ref_p)}")
            continue
        for i, (p, q, q0) in enumerate(zip(params, ref_p, ref_p0)):
            p = np.asarray(p, dtype=np.float64)
            if p.shape != q.shape:
                failures.append(f"{workload}: {name} parameter {i} has shape {p.shape}, {ref} has {q.shape}")
                continue
            change = np.linalg.norm(q.astype(np.float64) - q0)
            err = np.linalg.norm(p - q)
            if not np.isfinite(err) or err > param_rtol * max(change, 1e-12):
                failures.append(f"{workload}: {name} parameter {i} {p.shape} after the steps differs from "
                                f"{ref} by {err:.3g} (norm), while the update itself is {change:.3g}")
    return failures


# ---------------------------------------------------------------------------------------------- machine


class OtherLoad:
    """How many cores other processes kept busy meanwhile: the machine's busy time (/proc/stat) minus ours.

    ``with OtherLoad() as load: ...`` then ``load.cores`` (None where /proc/stat is unavailable).
    """

    def __enter__(self):
        self.cores = None
        self._start = (_busy_seconds(), _own_seconds(), time.perf_counter())
        return self

    def __exit__(self, *exc):
        busy0, own0, t0 = self._start
        busy1 = _busy_seconds()
        if busy0 is not None and busy1 is not None:
            wall = max(time.perf_counter() - t0, 1e-9)
            self.cores = max(0.0, (busy1 - busy0) - (_own_seconds() - own0)) / wall


def _busy_seconds():
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user .. steal; guest time is inside user


def _own_seconds():
    t = os.times()
    return t.user + t.system


def machine_lines(torch):
    """Markdown lines describing the machine and the libraries (for the results header)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    lines = [f"- CPU: {cpu}; {os.cpu_count()} logical cores ({usable} usable by this process); "
             f"load average at start {load}",
             f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
             f"- numpy {np.__version__}; BLAS: {_blas_description()}"]
    if torch is None:
        lines.append("- PyTorch: not installed or hidden (--no-torch): PyTorch columns are empty")
    else:
        lines.append(f"- PyTorch {torch.__version__}, {torch.get_num_threads()} intra-op threads")
    lines.append(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    return lines


def _blas_description():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
        return f"threads {threads} (install threadpoolctl for details)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return "unknown"
    return "; ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}), "
                     f"{p.get('num_threads')} threads" for p in pools)
