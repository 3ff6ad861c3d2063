"""MPI through mpi4py, imported only when a process group is made (importing it starts MPI).

Every collective is posted as a non-blocking MPI request and waited for here, by polling with a deadline, so a
peer that never joins gives an error naming the operation instead of a hang.
"""

import os
import sys
import time

import numpy as np

INSTALL_HINT = "pip install tapegrad[distributed]"


def load():
    """The ``mpi4py.MPI`` module, or an ImportError naming the extra that installs it."""
    try:
        from mpi4py import MPI
    except ImportError as e:  # mpi4py missing, or its MPI library cannot be loaded
        raise ImportError(f"tapegrad.distributed needs mpi4py and an MPI library (the mpich wheel): "
                          f"{INSTALL_HINT} ({e})") from e
    return MPI


def available():
    try:
        import mpi4py  # noqa: F401  (not mpi4py.MPI: that would start MPI)
    except ImportError:
        return False
    return True


class DistError(RuntimeError):
    """Base of the errors tapegrad.distributed raises (``torch.distributed.DistError``)."""

    __module__ = "tapegrad.distributed"


class DistBackendError(DistError):
    """The communication failed or timed out (``torch.distributed.DistBackendError``)."""

    __module__ = "tapegrad.distributed"


# Spin on MPI_Test for this long (a collective of a training step usually completes within it), then sleep
# with a growing delay so a rank waiting on a slow peer leaves its core to others.
_SPIN_SECONDS = 0.02
_MAX_SLEEP = 0.001


def wait_all(requests, what, timeout, where, statuses=None):
    """Wait for MPI ``requests`` (a list, completed entries become REQUEST_NULL) for at most ``timeout`` seconds."""
    MPI = load()
    if MPI.Request.Testall(requests, statuses):
        return
    start = time.monotonic()
    delay = 1e-5
    while not MPI.Request.Testall(requests, statuses):
        elapsed = time.monotonic() - start
        if elapsed > timeout:
            raise DistBackendError(
                f"{what}: timed out after {timeout:g} s on {where}: a peer rank did not take part (it may have "
                "failed, be stuck, or be calling a different collective). The timeout is "
                "init_process_group(timeout=...) or new_group(timeout=...)")
        if elapsed > _SPIN_SECONDS:
            time.sleep(delay)
            delay = min(2 * delay, _MAX_SLEEP)


def progress(requests):
    """Let MPI progress outstanding requests (MPICH moves non-blocking collectives on only inside MPI calls)."""
    if requests:
        load().Request.Testall(requests)


def reduce_dtype(dtype):
    """The dtype a reduction runs in: MPI has no float16/bfloat16 reductions, so those go through float32."""
    if dtype == np.float16 or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return dtype


def end_job(code):
    """End this rank so that the launcher ends the whole job, after its error message has been written.

    Under MPICH's launcher (hydra: HYDI_CONTROL_FD is set), exit at once without MPI_Finalize: hydra forwards all
    the rank wrote, then ends the other ranks (with MPI_Abort it may kill the forwarding first, cutting the error
    message short). Under other launchers, MPI_Abort.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    MPI = sys.modules.get("mpi4py.MPI")
    if "HYDI_CONTROL_FD" in os.environ or MPI is None or not MPI.Is_initialized() or MPI.Is_finalized():
        os._exit(code)
    MPI.COMM_WORLD.Abort(code)
