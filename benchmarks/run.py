"""The benchmark suite's entry point (``make bench``): tapegrad against hand-written numpy and PyTorch.

    python benchmarks/run.py                  # everything (a few minutes on 2 cores)
    python benchmarks/run.py --quick          # fewer rounds: a smoke run
    python benchmarks/run.py --only W2,W4     # some workloads
    python benchmarks/run.py --no-torch       # as if PyTorch were not installed
    python benchmarks/run.py --out path.md    # where the markdown table goes (default benchmarks/results.md)

Every workload first checks that its implementations compute the same thing (same losses and parameters
after the same steps from the same weights); a failed check is printed loudly, the workload is not timed, and
the run exits with status 1. Environment: TAPEGRAD_BENCH_NO_TORCH=1 is the same as --no-torch.
"""

import argparse
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("w1_overhead", "w2_char_mlp", "w2m_makemore", "w3_mlp", "w4_cnn", "w5_memory", "w6_inference",
             "w7_gpt")
WORKLOADS += ("w8_lstm_lm", "w9_gru")  # recurrent layers (issue 11)
WORKLOADS += ("w10_inplace",)  # in-place ops under no_grad (issue 10)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and shorter blocks (a smoke run)")
    p.add_argument("--only", default="", help="comma-separated workloads to run, e.g. W2,W4 (default: all)")
    p.add_argument("--out", default=os.path.join(HERE, "results.md"), help="markdown file for the results")
    p.add_argument("--no-torch", action="store_true", help="do not use PyTorch even if it is installed")
    p.add_argument("--threads", type=int, default=2, help="threads for PyTorch and numpy's BLAS (default 2)")
    p.add_argument("--rounds", type=int, default=None, help="timing rounds (default 11; quick 4)")
    return p.parse_args(argv)


def limit_threads(n):
    """Give numpy's BLAS ``n`` threads (through threadpoolctl if it is installed, else the environment)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))  # only effective before numpy is first imported
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    import numpy  # noqa: F401 - load the BLAS so that threadpoolctl can find it

    return threadpool_limits(n, user_api="blas")


def load_torch(args):
    if args.no_torch or os.environ.get("TAPEGRAD_BENCH_NO_TORCH", "") not in ("", "0"):
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(args.threads)
    return torch


def selected(only):
    names = [w.strip().upper() for w in only.split(",") if w.strip()]
    chosen = [m for m in WORKLOADS if not names or m.split("_")[0].upper() in names]
    unknown = set(names) - {m.split("_")[0].upper() for m in WORKLOADS}
    if unknown:
        raise SystemExit(f"run.py: unknown workload(s) {sorted(unknown)}; choose from "
                         f"{', '.join(m.split('_')[0].upper() for m in WORKLOADS)}")
    return chosen


# ---------------------------------------------------------------------------------------------- report


def _fmt(x):
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def _ratio(st):
    return "" if st is None else f"{st.median:.2f}x ({st.q1:.2f}-{st.q3:.2f})"


def report(header, settings_line, outcomes, failures, notes):
    lines = ["# tapegrad benchmarks", "", *header, f"- {settings_line}", ""]
    if failures:
        lines += ["## CORRECTNESS CHECKS FAILED", ""] + [f"- {f}" for f in failures] + [""]
    lines += ["## Targets", "",
              "tapegrad's target per workload; the last column compares the references on this machine with "
              "the anchors the targets were set with (PyTorch 2.13 CPU, 2 threads).", "",
              "| workload | target | measured | met | references here (anchor) |", "|---|---|---|---|---|"]
    for targets in (o.targets for o in outcomes.values()):
        for t in targets:
            met = "n/a" if t.met is None else ("yes" if t.met else "**no**")
            lines.append(f"| {t.workload} | {t.target} | {t.measured} | {met} | {t.context} |")
    lines += ["", "## Measurements", "",
              "Median and interquartile range (min-max) of the rounds; ratios are the median (and IQR) of "
              "the per-round paired ratios.", "",
              "| workload | what | unit | median | IQR | min-max | vs numpy | vs PyTorch |",
              "|---|---|---|---|---|---|---|---|"]
    for o in outcomes.values():
        for r in o.rows:
            s, k = r.stats, r.scale
            lines.append(f"| {r.workload} | {r.what} | {r.unit} | {_fmt(s.median * k)} | {_fmt(s.q1 * k)}-"
                         f"{_fmt(s.q3 * k)} | {_fmt(s.low * k)}-{_fmt(s.high * k)} | {_ratio(r.vs_numpy)} | "
                         f"{_ratio(r.vs_torch)} |")
    row_notes = sorted({f"{r.workload}: {r.note}" for o in outcomes.values() for r in o.rows if r.note})
    if notes or row_notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes + row_notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- main


def main(argv=None):
    args = parse_args(argv)
    chosen = selected(args.only)
    limits = limit_threads(args.threads)  # noqa: F841 - keep the limit for the whole run
    sys.path.insert(0, HERE)
    import harness

    import tapegrad

    torch = load_torch(args)
    settings = harness.Settings.make(args.quick)
    if args.rounds:
        settings.rounds = args.rounds
    libs = {"tapegrad": tapegrad, "pytorch": torch}
    header = harness.machine_lines(torch)
    notes = []
    settings_line = (f"{'quick' if settings.quick else 'full'} run: {settings.rounds} rounds per workload, "
                     f"blocks of ~{settings.block_seconds * 1e3:.0f} ms, {args.threads} threads for PyTorch "
                     "and BLAS")
    print("\n".join(header + [f"- {settings_line}"]), flush=True)

    outcomes, failures, busy = {}, [], []
    started = time.perf_counter()
    for module_name in chosen:
        module = __import__(module_name)
        t0 = time.perf_counter()
        print(f"{module.NAME} {module.TITLE} ...", end=" ", flush=True)
        with harness.OtherLoad() as other:
            try:
                outcome = module.run(libs, settings)
            except Exception:
                outcome = harness.Outcome(failures=[f"{module.NAME}: raised\n{traceback.format_exc()}"])
                outcome.targets.append(harness.Target(module.NAME, "runs", "RAISED: see above", False))
        if other.cores is not None:
            busy.append(f"{module.NAME} {other.cores:.2f}")
        outcomes[module.NAME] = outcome
        failures += outcome.failures
        notes += outcome.notes
        print(f"{time.perf_counter() - t0:.1f} s", flush=True)
    notes.append(f"the whole run took {time.perf_counter() - started:.0f} s")
    if busy:
        notes.append("cores kept busy by OTHER processes during each workload (of "
                     f"{os.cpu_count()}): {', '.join(busy)}. Multi-threaded BLAS and PyTorch stall when a "
                     "core is taken: the rounds are interleaved and paired for that, but prefer a quiet "
                     "machine (or --threads 1)")

    text = report(header, settings_line, outcomes, failures, notes)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"written to {args.out}")
    if failures:
        bar = "!" * 100
        print(f"\n{bar}\nCORRECTNESS CHECK FAILED: {len(failures)} failure(s); those workloads were not "
              "timed:", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        print(bar, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
