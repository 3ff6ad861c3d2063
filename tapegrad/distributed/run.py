"""Start a script on N processes, as torchrun does: ``python -m tapegrad.distributed.run --nproc-per-node N
script.py args``.

It replaces itself (exec) with the ``mpiexec`` of the mpich wheel installed beside this Python, which starts N
copies of ``python -m tapegrad.distributed._worker script.py args``. Each copy sets torchrun's variables (RANK,
WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and runs the script as ``__main__``; a rank
that ends with an exception (or a non-zero exit) aborts the whole job with its error, so no rank is left waiting.
Like torchrun, it sets OMP_NUM_THREADS=1 for the ranks when more than one is started and it is not set.
Only one node: for several, use ``mpiexec`` with a host file.
"""

import argparse
import os
import shutil
import sys
import sysconfig


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m tapegrad.distributed.run", allow_abbrev=False,
        description="Run a training script on N processes (torchrun's options; the processes are MPI ranks).")
    p.add_argument("--nproc-per-node", "--nproc_per_node", default="1",
                   help="number of processes: an integer, or 'auto'/'cpu' for one per CPU core (default 1)")
    p.add_argument("--nnodes", default="1", help="must be 1 (for several nodes use mpiexec with a host file)")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0, help="must be 0")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1", help="set as MASTER_ADDR (informational)")
    p.add_argument("--master-port", "--master_port", type=int, default=29500, help="set as MASTER_PORT")
    p.add_argument("--standalone", action="store_true", help="accepted (a single node is all this launcher does)")
    p.add_argument("-m", "--module", action="store_true", help="run the script as a module, like python -m")
    p.add_argument("--no-python", "--no_python", action="store_true",
                   help="run the script as an executable, without python in front (no abort on its errors)")
    p.add_argument("--mpiexec", default=None, help="the mpiexec to use (default: the mpich wheel's, beside python)")
    p.add_argument("training_script", help="the script (or module with -m) to run")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def find_mpiexec():
    """The mpiexec of the MPI library mpi4py uses here: the mpich wheel puts it in this environment's bin."""
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        path = os.path.join(folder, "mpiexec")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("mpiexec")
    if found is None:
        raise SystemExit("tapegrad.distributed.run: no mpiexec found; install the MPI runtime with "
                         "`pip install tapegrad[distributed]` (mpi4py and the mpich wheel)")
    return found


def _nproc(value):
    if value in ("auto", "cpu"):
        return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        raise SystemExit(f"tapegrad.distributed.run: --nproc-per-node must be an integer, 'auto' or 'cpu', "
                         f"got {value!r}") from None
    if n < 1:
        raise SystemExit(f"tapegrad.distributed.run: --nproc-per-node must be at least 1, got {n}")
    return n


def command(argv):
    """(mpiexec argv, environment) for the launcher's arguments ``argv``."""
    args = _parser().parse_args(argv)
    if args.nnodes not in ("1", "1:1") or args.node_rank != 0:
        raise SystemExit("tapegrad.distributed.run: only one node (--nnodes 1); for several nodes start the ranks "
                         "with mpiexec and a host file: mpiexec -f hosts -n N python script.py")
    n = _nproc(args.nproc_per_node)
    env = dict(os.environ)
    env["MASTER_ADDR"] = args.master_addr
    env["MASTER_PORT"] = str(args.master_port)
    if n > 1 and "OMP_NUM_THREADS" not in env:
        sys.stderr.write("tapegrad.distributed.run: setting OMP_NUM_THREADS=1 for each process (as torchrun "
                         "does) so that the ranks do not overload the cores; set it to tune\n")
        env["OMP_NUM_THREADS"] = "1"
    mpiexec = args.mpiexec or find_mpiexec()
    if args.no_python:
        if args.module:
            raise SystemExit("tapegrad.distributed.run: --no-python and -m cannot be combined")
        target = [args.training_script]
    else:
        target = [sys.executable, "-m", "tapegrad.distributed._worker"]
        target += ["-m"] if args.module else []
        target += [args.training_script]
    return [mpiexec, "-n", str(n), *target, *args.training_script_args], env


def main(argv=None):
    cmd, env = command(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
