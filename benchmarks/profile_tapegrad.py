"""Where tapegrad's time goes on each workload: cProfile of its side only, top functions by own time.

    python benchmarks/profile_tapegrad.py            # W1-W4, W6, W8 and W9
    python benchmarks/profile_tapegrad.py --only W2 --top 30 --sort cumulative
    python benchmarks/profile_tapegrad.py --only W2 --rules   # each backward rule against the engine

cProfile adds a fixed cost per Python call, so it inflates Python-heavy code (the overhead-bound workloads)
more than numpy's C loops; read the ranking, not the absolute times. ``--rules`` has no such bias: it times
the whole step, each backward pass, and each backward rule with a clock, so what is left of a backward pass
once its rules are subtracted is the engine's own time.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict

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
    import w8_lstm_lm
    import w9_gru

    import tapegrad

    c = w1_overhead.TapeChain(tapegrad, w1_overhead.operands((64,)))

    def chain():
        c.backward(c.forward(w1_overhead.OPS))

    return {"W1": (chain, 3),
            "W2": (_training_step(w2_char_mlp, w2_char_mlp.model), 300),
            "W3": (_training_step(w3_mlp, w3_mlp.model_for(w3_mlp.SIZES)), 5),
            "W4": (_training_step(w4_cnn, w4_cnn.model_for()), 10),
            "W6": (w6_inference.forwards({"tapegrad": tapegrad})["tapegrad"], 5),
            "W8": (_training_step(w8_lstm_lm, w8_lstm_lm.model_for()), 5),
            "W9": (_training_step(w9_gru, w9_gru.model_for()), 100)}


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


def rule_times(fn, calls):
    """Seconds per call of ``fn``: in total, in backward passes, and in each kind of backward rule."""
    from tapegrad._tensor import op_name
    from tapegrad.autograd import engine

    spent = defaultdict(float)
    run_backward = engine.run_backward

    def timed(rule, name):
        def rule_timed(*args):
            t0 = time.perf_counter()
            out = rule(*args)
            spent[name] += time.perf_counter() - t0
            return out

        return rule_timed

    def instrumented(roots, *args, **kwargs):
        stack, seen = list(roots), set()
        while stack:  # wrap the rule of every node of the graph, once
            t = stack.pop()
            if id(t) in seen or t._backward is None:
                continue
            seen.add(id(t))
            t._backward = timed(t._backward, op_name(t._backward))
            stack.extend(t._parents)
        t0 = time.perf_counter()
        try:
            return run_backward(roots, *args, **kwargs)
        finally:
            spent["(backward passes)"] += time.perf_counter() - t0

    fn()
    engine.run_backward = instrumented
    try:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        spent["(whole call)"] = time.perf_counter() - t0
    finally:
        engine.run_backward = run_backward
    return {k: v / calls for k, v in spent.items()}


def print_rule_times(name, calls, spent):
    total, passes = spent.pop("(whole call)"), spent.pop("(backward passes)", 0.0)
    rules = sum(spent.values())
    print(f"===== {name}: {calls} calls; per call (us): whole {total * 1e6:.1f}, of which backward passes "
          f"{passes * 1e6:.1f} = rules {rules * 1e6:.1f} + engine's own {(passes - rules) * 1e6:.1f} "
          "(the wrapping adds ~0.1 us per rule)")
    for rule, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {rule:28s} {s * 1e6:9.1f}")
    print()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="", help="comma-separated workloads (W1, W2, W3, W4, W6, W8, W9)")
    p.add_argument("--top", type=int, default=20, help="functions to show")
    p.add_argument("--sort", default="tottime", help="pstats sort key: tottime, cumulative, ...")
    p.add_argument("--rules", action="store_true", help="time each backward rule and the engine instead")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    chosen = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    for name, (fn, calls) in steps().items():
        if chosen and name not in chosen:
            continue
        if args.rules:
            print_rule_times(name, calls, rule_times(fn, calls))
            continue
        per_call, text = profile(fn, calls, args.top, args.sort)
        print(f"===== {name}: {calls} calls, {per_call * 1e3:.2f} ms per call under the profiler")
        print(text)


if __name__ == "__main__":
    main()
