"""Run on 2 ranks by tests/test_distributed.py: a job in which something goes wrong must end with the error.

    dist_fail.py raise    rank 1 raises while rank 0 waits in a barrier (timeout 10 minutes): the launcher must
                          end the job at once with rank 1's error
    dist_fail.py timeout  rank 1 never joins rank 0's all_reduce: rank 0's collective times out after 1 s and
                          its uncaught error ends the job
"""

import datetime
import sys
import time

import tapegrad as torch
import tapegrad.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=600 if mode == "raise" else 1))
rank = dist.get_rank()
dist.barrier()
if mode == "raise":
    if rank == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.barrier()
elif mode == "timeout":
    if rank == 1:
        time.sleep(600)  # never joins; ended when rank 0's error aborts the job
    dist.all_reduce(torch.ones(2))
else:
    raise SystemExit(f"unknown mode {mode!r}")
print("unreachable: the job should have ended", flush=True)
