"""Data parallelism on this machine: W3's training step (784-1200x5-10 MLP, SGD, cross-entropy) as

    1 process,  1 BLAS thread,  batch 128                    (the base)
    1 process,  2 BLAS threads, batch 128                    (what `make bench` measures)
    2 ranks DDP, 1 BLAS thread each, batch 64 per rank       (the same 128 samples per step: strong scaling)
    2 ranks DDP, 1 BLAS thread each, batch 128 per rank      (256 samples per step: weak scaling)
    1 rank DDP,  1 BLAS thread,  batch 128                   (DDP's own cost without a peer)

    python benchmarks/w_ddp.py [--rounds 3] [--steps 10]

Each configuration runs in fresh processes (the ranks through ``python -m tapegrad.distributed.run``), once per
round, the configurations rotated between rounds so a slow period of the machine hits all of them. A run times
``--steps`` steps after 3 warm-up steps; a sample is one step's time on rank 0 (ranks start each step together
only through DDP's gradient all-reduce, as in real training). Throughput is samples (over all ranks) per second
from the median step time; ratios are against the base. The ranks' parameters are checked equal at the end.
Not part of `make bench` (it starts many processes); the numbers go into docs/distributed.md by hand.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = [  # name, ranks, BLAS threads per process, batch per rank
    ("1 process, 1 thread", 0, 1, 128),
    ("1 process, 2 threads", 0, 2, 128),
    ("2 ranks x 1 thread, batch 64 each", 2, 1, 64),
    ("2 ranks x 1 thread, batch 128 each", 2, 1, 128),
    ("1 rank DDP, 1 thread", 1, 1, 128),
]


def worker(args):
    """One process of one run: train, time, print one JSON line (rank 0)."""
    from threadpoolctl import threadpool_info, threadpool_limits
    from w3_mlp import SIZES, model_for, problem

    import tapegrad as torch

    threadpool_limits(args.threads)
    blas_threads = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=None)
    rank, world = 0, 1
    model = build = model_for(SIZES)(torch)
    if args.ddp:
        import tapegrad.distributed as dist
        from tapegrad.nn.parallel import DistributedDataParallel as DDP

        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
        model = DDP(build, bucket_cap_mb=args.bucket_cap_mb)
    data = problem(batch=args.batch * world, n_batches=4).batches
    batches = [(torch.from_numpy(x[rank * args.batch:(rank + 1) * args.batch]),
                torch.from_numpy(y[rank * args.batch:(rank + 1) * args.batch])) for x, y in data]
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    F = torch.nn.functional
    times, waits = [], []
    for i in range(3 + args.steps):
        x, y = batches[i % len(batches)]
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
        waits.append(model.reducer.last_wait if args.ddp else 0.0)
    if args.ddp:  # every rank must hold the same weights
        total = torch.tensor([float(sum(p.detach().double().sum().item() for p in build.parameters()))],
                             dtype=torch.float64)
        everyone = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
        dist.all_gather(everyone, total)
        if len({e.item() for e in everyone}) != 1:
            raise SystemExit(f"the ranks' parameters differ: {[e.item() for e in everyone]}")
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps({"times": times[3:], "waits": waits[3:], "world": world, "blas_threads": blas_threads}),
              flush=True)


def run_config(ranks, threads, batch, steps):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    script = [os.path.abspath(__file__), "--worker", "--threads", str(threads), "--batch", str(batch),
              "--steps", str(steps)]
    if ranks:
        cmd = [sys.executable, "-m", "tapegrad.distributed.run", "--nproc-per-node", str(ranks), *script, "--ddp"]
    else:
        cmd = [sys.executable, *script]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ddp", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    p.add_argument("--bucket-cap-mb", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    load_before = f"{os.getloadavg()[0]:.1f}"
    samples = {c[0]: [] for c in CONFIGS}
    waits = {c[0]: [] for c in CONFIGS}
    round_medians = {c[0]: [] for c in CONFIGS}  # on a busy shared machine the quietest round says the most
    blas = {}
    for r in range(args.rounds):
        for k in range(len(CONFIGS)):
            name, ranks, threads, batch = CONFIGS[(k + r) % len(CONFIGS)]
            result = run_config(ranks, threads, batch, args.steps)
            samples[name] += result["times"]
            waits[name] += result["waits"]
            round_medians[name].append(statistics.median(result["times"]))
            blas[name] = result["blas_threads"]
            print(f"round {r + 1}: {name}: median step {1e3 * statistics.median(result['times']):.1f} ms",
                  file=sys.stderr, flush=True)
    base = best_base = None
    print(f"load average before and after: {load_before} / {os.getloadavg()[0]:.1f}")
    print("| configuration | samples per step | median step (ms) | IQR (ms) | waiting for the all-reduce after "
          "backward (ms) | samples/s | vs 1 process, 1 thread | best round: step (ms), samples/s, ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ranks, _threads, batch in CONFIGS:
        s = sorted(samples[name])
        med = statistics.median(s)
        q1, q3 = s[len(s) // 4], s[(3 * len(s)) // 4]
        per_step = batch * max(ranks, 1)
        throughput = per_step / med
        base = base or throughput
        best = min(round_medians[name])
        best_base = best_base or per_step / best
        wait = f"{1e3 * statistics.median(waits[name]):.1f}" if ranks else "-"
        print(f"| {name} (BLAS threads seen: {blas[name]}) | {per_step} | {1e3 * med:.1f} | "
              f"{1e3 * q1:.1f}-{1e3 * q3:.1f} | {wait} | {throughput:.0f} | {throughput / base:.2f}x | "
              f"{1e3 * best:.1f}, {per_step / best:.0f}, {per_step / best / best_base:.2f}x |")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
