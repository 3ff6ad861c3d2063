"""Several processes training together, with ``torch.distributed``'s API on MPI (``mpi4py``).

    import tapegrad as torch
    import tapegrad.distributed as dist

    dist.init_process_group("gloo")          # "mpi"; "gloo" is an alias here
    t = torch.tensor([float(dist.get_rank())])
    dist.all_reduce(t)                       # in place: the sum over ranks

Start the ranks with ``python -m tapegrad.distributed.run --nproc-per-node 2 script.py`` (torchrun's options)
or ``mpiexec -n 2 python script.py``. MPI comes from the ``distributed`` extra
(``pip install tapegrad[distributed]``: mpi4py and the mpich wheel, which brings ``mpiexec``); importing this
package does not start MPI, ``init_process_group`` does. See docs/distributed.md.
"""

import os

from .distributed_c10d import (
    Backend,
    DistBackendError,
    DistError,
    GroupMember,
    ProcessGroup,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    default_pg_timeout,
    destroy_process_group,
    gather,
    gather_object,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    irecv,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    isend,
    new_group,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)

__all__ = ["Backend", "DistBackendError", "DistError", "GroupMember", "ProcessGroup", "ReduceOp", "Work",
           "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce", "barrier", "broadcast",
           "broadcast_object_list", "default_pg_timeout", "destroy_process_group", "gather", "gather_object",
           "get_backend", "get_global_rank", "get_group_rank", "get_process_group_ranks", "get_rank",
           "get_world_size", "group", "init_process_group", "irecv", "is_available", "is_gloo_available",
           "is_initialized", "is_mpi_available", "is_nccl_available", "isend", "new_group", "recv", "reduce",
           "reduce_scatter", "reduce_scatter_tensor", "scatter", "send"]

# The variables an MPI launcher gives each rank, as torchrun's names: (torchrun name, MPICH's, Open MPI's).
_MPI_ENV = (("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"),
            ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"),
            ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK"),
            ("LOCAL_WORLD_SIZE", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE"))


def _torchrun_environment(environ=os.environ):
    """Under ``mpiexec``, set RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE (from the launcher's own variables,
    without starting MPI) and MASTER_ADDR/MASTER_PORT, so a script reads them as under torchrun."""
    found = False
    for name, *sources in _MPI_ENV:
        for source in sources:
            if source in environ:
                environ[name] = environ[source]
                found = True
                break
    if found:
        environ.setdefault("MASTER_ADDR", "127.0.0.1")
        environ.setdefault("MASTER_PORT", "29500")
    return found


_torchrun_environment()
