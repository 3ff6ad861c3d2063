"""Run many random programs in tapegrad and PyTorch and collect every distinct discrepancy.

    PYTHONPATH=$PWD path/to/python-with-torch -m tests.differential.driver --seeds 0:20000 --out diff.json

(or ``python tests/differential/driver.py ...``). The generator is the one the test suite uses, driven by
``random.Random(seed)`` instead of Hypothesis, so it runs without Hypothesis' example limits. Each discrepancy is
filed under a signature (op, kind, input dtypes, input conditions); for each signature the driver keeps a count,
the seeds, and the shortest program that shows it (shrunk by removing calls). Discrepancies covered by the test's
KNOWN table are marked with its key. The output JSON is rewritten atomically every ``--every`` programs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: the differential package and test_differential

from differential import core, ops  # noqa: E402


def _known():
    try:
        import test_differential

        return test_differential.known
    except Exception:  # noqa: BLE001 - the driver also runs without the test module
        traceback.print_exc()
        return None


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout


def run_seed(seed, known):
    r = core.Runner(known)
    loss_seed = ops.generate(core.RandomSource(seed), r)
    r.finish(loss_seed)
    return r, loss_seed


def write_json(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".diff-", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0:1000", help="a range start:stop of program seeds")
    p.add_argument("--out", default="differential.json", help="where the collected discrepancies go (JSON)")
    p.add_argument("--every", type=int, default=2000, help="rewrite the output every N programs")
    p.add_argument("--no-shrink", action="store_true", help="keep the first program of each signature as it is")
    p.add_argument("--timeout", type=int, default=20, help="seconds per program before it counts as a hang")
    p.add_argument("--trace", help="write each seed to this file before running it (to find a seed that crashes "
                                   "the interpreter)")
    args = p.parse_args(argv)
    try:
        import scipy  # noqa: F401 - the special functions' ops run through it on our side
    except ImportError:
        p.error("the programs call tapegrad.special, which needs scipy: pip install -e '.[test,special]'")
    start, stop = (int(x) for x in args.seeds.split(":"))
    known = _known()
    found = {}
    errors = {}
    signal.signal(signal.SIGALRM, _alarm)
    t0 = time.time()
    n = 0
    trace = open(args.trace, "w") if args.trace else None  # noqa: SIM115 - kept open for the whole run
    for seed in range(start, stop):
        if trace:
            trace.write(f"{seed}\n")
            trace.flush()
        signal.alarm(args.timeout)
        try:
            r, loss_seed = run_seed(seed, known)
        except Timeout:
            errors.setdefault("timeout", []).append(seed)
            continue
        except Exception as e:  # noqa: BLE001 - a bug of the generator: noted, not fatal
            key = f"{type(e).__name__}: {e}"[:200]
            errors.setdefault(key, []).append(seed)
            if len(errors[key]) == 1:
                errors[key].append(traceback.format_exc()[-1500:])
            continue
        finally:
            signal.alarm(0)
        n += 1
        for d in r.found[:1]:
            sig = d.signature()
            entry = found.get(sig)
            if entry is None:
                entry = found[sig] = {"op": d.op, "kind": d.kind, "count": 0, "seeds": [], "known": d.known}
            entry["count"] += 1
            if len(entry["seeds"]) < 20:
                entry["seeds"].append(seed)
            shrink = not args.no_shrink and d.known is None  # known classes have their repro in KNOWN
            if "repro" not in entry or (len(r.program) < entry["calls"] and shrink):
                small = r
                if shrink:
                    signal.alarm(args.timeout * 3)
                    try:
                        small = core.shrink(r, loss_seed, sig)
                    except Exception:  # noqa: BLE001
                        small = r
                    finally:
                        signal.alarm(0)
                if "repro" not in entry or len(small.program) < entry["calls"]:
                    dd = small.found[0] if small.found else d
                    entry.update(repro=small.render(), calls=len(small.program), detail=dd.detail,
                                 here=dd.error_here, torch=dd.error_torch, seed=seed)
        if n % args.every == 0:
            _save(args.out, found, errors, n, t0, start, seed)
    _save(args.out, found, errors, n, t0, start, stop)
    print(f"{n} programs, {len(found)} signatures, {len(errors)} generator errors, {time.time() - t0:.0f} s")


def _save(path, found, errors, n, t0, start, seed):
    write_json(path, {"programs": n, "seconds": round(time.time() - t0), "seeds": f"{start}:{seed}",
                      "signatures": found, "generator_errors": errors})


if __name__ == "__main__":
    main()
