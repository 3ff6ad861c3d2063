"""Where tapegrad's time goes on each workload: cProfile of its side only, top functions by own time.

    python benchmarks/profile_tapegrad.py            # W1-W4 and W6
    python benchmarks/profile_tapegrad.py --only W2 --top 30 --sort cumulative

cProfile adds a fixed cost per Python call, so it inflates Python-heavy code (the overhead-bound workloads)
more than numpy's C loops; read the ranking, not the absolute times.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _training_step(module, model_fn):
    from training import torch_trainer

    import tapegrad

    return torch_trainer(tapegrad, model_fn, module.problem()).step


def steps():
    """{workload: (callable, calls to profile)} for tapegrad's side of each workload."""
    import w1_overhead
    import w2_char_mlp
    import w3_mlp
    import w4_cnn
    import w6_inference

    import tapegrad

    c = w1_overhead.TapeChain(tapegrad, w1_overhead.operands((64,)))

    def chain():
        c.backward(c.forward(w1_overhead.OPS))

    return {"W1": (chain, 3),
            "W2": (_training_step(w2_char_mlp, w2_char_mlp.model), 300),
            "W3": (_training_step(w3_mlp, w3_mlp.model_for(w3_mlp.SIZES)), 5),
            "W4": (_training_step(w4_cnn, w4_cnn.model_for()), 10),
            "W6": (w6_inference.forwards({"tapegrad": tapegrad})["tapegrad"], 5)}


def profile(fn, calls, top, sort):
    fn()
    fn()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    elapsed = time.perf_counter() - t0
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(sort).print_stats(top)
    return elapsed / calls, buf.getvalue()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="", help="comma-separated workloads (W1, W2, W3, W4, W6)")
    p.add_argument("--top", type=int, default=20, help="functions to show")
    p.add_argument("--sort", default="tottime", help="pstats sort key: tottime, cumulative, ...")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    chosen = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    for name, (fn, calls) in steps().items():
        if chosen and name not in chosen:
            continue
        per_call, text = profile(fn, calls, args.top, args.sort)
        print(f"===== {name}: {calls} calls, {per_call * 1e3:.2f} ms per call under the profiler")
        print(text)


if __name__ == "__main__":
    main()
