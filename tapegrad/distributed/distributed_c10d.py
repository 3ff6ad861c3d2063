"""Process groups and collectives with ``torch.distributed``'s API, on MPI (mpi4py).

Each collective posts a non-blocking MPI request; ``async_op=True`` returns a :class:`Work` to ``wait()`` on,
otherwise the call waits (for at most the group's timeout) before it returns. Results are written into the
caller's tensors with their public in-place ``copy_`` under ``no_grad``, as PyTorch writes them in place.
"""

import datetime
import enum
import os
import pickle
import sys
from typing import ClassVar

import numpy as np

from .._tensor import Tensor
from ..autograd import no_grad
from ..creation import from_numpy
from . import _mpi
from ._mpi import DistBackendError, DistError

__all__ = ["Backend", "ReduceOp", "GroupMember", "group", "ProcessGroup", "Work", "DistError", "DistBackendError",
           "is_available", "is_mpi_available", "is_gloo_available", "is_nccl_available", "is_initialized",
           "init_process_group", "destroy_process_group", "new_group", "get_rank", "get_world_size", "get_backend",
           "get_process_group_ranks", "get_global_rank", "get_group_rank", "barrier", "broadcast", "all_reduce",
           "reduce", "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "gather",
           "scatter", "send", "recv", "isend", "irecv", "broadcast_object_list", "all_gather_object",
           "gather_object", "default_pg_timeout"]

default_pg_timeout = datetime.timedelta(minutes=30)  # PyTorch's default for CPU process groups


class Backend(str):
    """Backend names (``torch.distributed.Backend``): ``"mpi"``; ``"gloo"`` is accepted as an alias (the CPU
    backend PyTorch scripts ask for) and also runs on MPI; ``"nccl"`` needs GPUs and is refused."""

    UNDEFINED = "undefined"
    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value in ("nccl", "cuda:nccl", "ucc", "xccl"):
            raise RuntimeError(f"init_process_group: backend {name!r} needs GPUs; tapegrad runs on the CPU only. "
                               "Use backend='mpi' (or 'gloo', an alias here)")
        if value in ("cpu:gloo", "cpu:gloo,cuda:nccl"):
            value = "gloo"
        if value not in ("mpi", "gloo"):
            raise ValueError(f"init_process_group: unknown backend {name!r}; tapegrad offers 'mpi' (and 'gloo' "
                             "as an alias of it)")
        return super().__new__(cls, value)


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce``/``reduce_scatter`` combine values (``torch.distributed.ReduceOp``).

    ``AVG`` is the sum divided by the group size (for integer tensors rounded toward zero).
    """

    RedOpType: ClassVar[type["ReduceOp"]]  # PyTorch's name of the enum itself, set below (not a member)

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"


ReduceOp.RedOpType = ReduceOp


class ProcessGroup:
    """A set of ranks that talk together (``torch.distributed.ProcessGroup``): ``rank()``, ``size()``."""

    def __init__(self, comm, ranks, backend, timeout, name):
        self._comm = comm
        self._ranks = list(ranks)
        self._backend = backend
        self._timeout = timeout
        self._name = name
        self._rank = comm.Get_rank()

    def rank(self):
        return self._rank

    def size(self):
        return len(self._ranks)

    def name(self):
        return self._name

    def _where(self):
        where = f"rank {self._rank} of {self.size()}"
        return where if self is GroupMember.WORLD else f"{where} in the group of global ranks {self._ranks}"

    def __repr__(self):
        return f"ProcessGroup(backend={self._backend!r}, ranks={self._ranks}, rank={self._rank})"


class GroupMember:
    """``GroupMember.WORLD``: the default group (None before ``init_process_group``); ``NON_GROUP_MEMBER``: what
    ``new_group`` returns on ranks outside the new group."""

    WORLD = None
    NON_GROUP_MEMBER = -100


group = GroupMember  # torch.distributed.group.WORLD


class Work:
    """The handle of an ``async_op=True`` collective (``torch.distributed.Work``): ``wait()`` blocks until it has
    completed (at most the group's timeout) and writes the results into the output tensors."""

    def __init__(self, pg, what, requests, finish=None, result=(), keep=(), statuses=None):
        self._pg = pg
        self._what = what
        self._requests = list(requests)
        self._finish = finish
        self._result = list(result)
        self._keep = keep  # the buffers MPI reads and writes must outlive the requests
        self._statuses = statuses
        self._done = False

    def wait(self, timeout=None):
        """wait(timeout=None) -> True: block until the operation completed; raise DistBackendError on timeout."""
        if not self._done:
            seconds = self._pg._timeout if timeout is None else _seconds(timeout)
            _mpi.wait_all(self._requests, self._what, seconds, self._pg._where(), self._statuses)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        self._keep = ()
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()

    def is_completed(self):
        """is_completed() -> bool, without blocking."""
        if not self._done and _mpi.load().Request.Testall(self._requests, self._statuses):
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def exception(self):
        return None

    def result(self):
        """result() -> list of the output tensors."""
        return list(self._result)

    def synchronize(self):
        self.wait()

    def source_rank(self):
        """source_rank(): for a completed ``irecv``, the global rank the message came from."""
        if not self._done or self._statuses is None:
            raise RuntimeError("source_rank: only a completed recv has a source rank")
        return self._pg._ranks[self._statuses[0].Get_source()]

    def __repr__(self):
        return f"Work({self._what}, {'completed' if self._done else 'pending'})"


# ---------------------------------------------------------------------------------------------- set up


def is_available():
    """is_available() -> bool: whether tapegrad.distributed can run (mpi4py is installed)."""
    return _mpi.available()


def is_mpi_available():
    return _mpi.available()


def is_gloo_available():
    """True when MPI is: 'gloo' is an alias of the MPI backend here."""
    return _mpi.available()


def is_nccl_available():
    return False


def is_initialized():
    """is_initialized() -> bool: whether ``init_process_group`` has been called (and not destroyed)."""
    return GroupMember.WORLD is not None


def _seconds(timeout):
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    raise TypeError(f"timeout: expected a datetime.timedelta (or positive seconds), got {timeout!r}")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, ...)

    Join the job's default process group. Ranks and the world size come from MPI (start the processes with
    ``python -m tapegrad.distributed.run --nproc-per-node N script.py`` or ``mpiexec -n N python script.py``);
    ``world_size``/``rank``, when given, must agree with them. ``backend`` is ``"mpi"`` or ``"gloo"`` (an alias:
    both run on MPI). Every collective of the group raises ``DistBackendError`` when it waits longer than
    ``timeout`` (default 30 minutes), and a rank that dies of an uncaught exception ends the whole job instead of
    leaving the others waiting. The torchrun variables RANK, WORLD_SIZE, LOCAL_RANK,
    LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT are set if missing.

    >>> import tapegrad.distributed as dist
    >>> dist.init_process_group("gloo")             # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()      # doctest: +SKIP
    (0, 1)
    """
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend("mpi" if backend is None else backend)
    if store is not None:
        raise ValueError("init_process_group: store= is not supported: under MPI the ranks meet through the MPI "
                         "launcher (mpiexec), not a store")
    if init_method is not None and not isinstance(init_method, str):
        raise TypeError(f"init_process_group: init_method must be a URL string, got {type(init_method).__name__}")
    seconds = _seconds(default_pg_timeout if timeout is None else timeout)
    MPI = _mpi.load()
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    if world_size not in (-1, None) and world_size != size:
        raise ValueError(f"init_process_group: world_size={world_size} but MPI started {size} process(es); "
                         f"launch with `python -m tapegrad.distributed.run --nproc-per-node {world_size} ...` or "
                         f"`mpiexec -n {world_size} python ...`")
    if rank not in (-1, None) and rank != me:
        raise ValueError(f"init_process_group: rank={rank} but MPI gave this process rank {me}")
    env_size = os.environ.get("WORLD_SIZE")
    if env_size is not None and env_size.strip().isdigit() and int(env_size) != size:
        raise RuntimeError(f"init_process_group: WORLD_SIZE={env_size} in the environment but MPI started {size} "
                           "process(es): start the ranks with `python -m tapegrad.distributed.run --nproc-per-node "
                           f"{env_size} script.py` or `mpiexec -n {env_size} python script.py`")
    # Everyone arrives (with a timeout) before the blocking communicator calls below.
    _mpi.wait_all([world.Ibarrier()], "init_process_group", seconds, f"rank {me} of {size}")
    comm = world.Dup()
    local = world.Split_type(MPI.COMM_TYPE_SHARED)
    local_rank, local_size = local.Get_rank(), local.Get_size()
    local.Free()
    GroupMember.WORLD = ProcessGroup(comm, range(size), name, seconds, group_name or "default_pg")
    for key, value in (("RANK", me), ("WORLD_SIZE", size), ("LOCAL_RANK", local_rank),
                       ("LOCAL_WORLD_SIZE", local_size), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", 29500)):
        os.environ.setdefault(key, str(value))
    if size > 1:
        _install_abort_hook()


def _install_abort_hook():
    """An uncaught exception on one rank ends the job instead of leaving its peers waiting."""
    if getattr(sys.excepthook, "_tapegrad_abort", False):
        return
    previous = sys.excepthook

    def abort_job(kind, value, tb):
        try:
            previous(kind, value, tb)
            sys.stderr.write(f"[rank {_mpi.load().COMM_WORLD.Get_rank()}] {kind.__name__}: ending the job so that "
                             "the other ranks do not wait for this one\n")
        finally:
            _mpi.end_job(1)

    abort_job._tapegrad_abort = True
    sys.excepthook = abort_job


def destroy_process_group(group=None):
    """destroy_process_group(group=None): free a group, or with None every group (the default one too)."""
    if group is None or group is GroupMember.WORLD:
        pg = _default("destroy_process_group")
        for g in list(_groups):
            g._comm.Free()
        _groups.clear()
        pg._comm.Free()
        GroupMember.WORLD = None
    elif group is GroupMember.NON_GROUP_MEMBER:
        return
    else:
        if group not in _groups:
            raise ValueError("destroy_process_group: this group is not registered (already destroyed?)")
        _groups.remove(group)
        group._comm.Free()


_groups: list[ProcessGroup] = []  # the groups made by new_group, freed with the default one


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """new_group(ranks=None, timeout=None, backend=None) -> group for a subset of the global ranks.

    Every rank of the job must call it (as in PyTorch); ranks outside ``ranks`` get
    ``GroupMember.NON_GROUP_MEMBER``, for which collectives do nothing and ``get_rank`` is -1. Ranks passed as
    ``src``/``dst`` to the collectives of a group stay global ranks (``group_src``/``group_dst`` take ranks in the
    group).

    >>> import tapegrad.distributed as dist
    >>> evens = dist.new_group([0, 2])              # doctest: +SKIP
    """
    world = _default("new_group")
    size = world.size()
    if ranks is None or len(ranks) == 0:
        ranks = list(range(size))
    ranks = sorted(int(r) for r in ranks)
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks contain duplicates: {ranks}")
    if ranks[0] < 0 or ranks[-1] >= size:
        raise ValueError(f"new_group: ranks {ranks} are not all in the world of {size} rank(s) (0..{size - 1})")
    seconds = world._timeout if timeout is None else _seconds(timeout)
    MPI = _mpi.load()
    _mpi.wait_all([world._comm.Ibarrier()], "new_group", seconds, world._where())
    me = world.rank()
    comm = world._comm.Split(0 if me in ranks else MPI.UNDEFINED, me)
    if me not in ranks:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, ranks, world._backend if backend is None else Backend(backend), seconds,
                      group_desc or f"group{len(_groups) + 1}")
    _groups.append(pg)
    return pg


def _default(op):
    if GroupMember.WORLD is None:
        raise ValueError(f"{op}: Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return GroupMember.WORLD


def _group(op, group):
    """The process group to use, or None when this rank is not a member (the collective then does nothing)."""
    if group is None or group is GroupMember.WORLD:
        return _default(op)
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{op}: group must be a ProcessGroup from new_group (or None), got {type(group).__name__}")
    if GroupMember.WORLD is None or group not in _groups:
        raise ValueError(f"{op}: the group was destroyed (or made before the current init_process_group)")
    return group


def get_rank(group=None):
    """get_rank(group=None) -> int: this process's rank in the group (-1 if it is not a member)."""
    pg = _group("get_rank", group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    """get_world_size(group=None) -> int: the number of ranks in the group (-1 if this rank is not a member)."""
    pg = _group("get_world_size", group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    """get_backend(group=None) -> str: the backend name given to init_process_group ('mpi' or 'gloo')."""
    pg = _group("get_backend", group)
    if pg is None:
        raise ValueError("get_backend: Invalid process group specified")
    return pg._backend


def get_process_group_ranks(group):
    """get_process_group_ranks(group) -> list of the global ranks in ``group``."""
    pg = _group("get_process_group_ranks", group)
    if pg is None:
        raise ValueError("get_process_group_ranks: this rank is not in the group")
    return list(pg._ranks)


def get_global_rank(group, group_rank):
    """get_global_rank(group, group_rank) -> int: the global rank of ``group_rank`` in ``group``."""
    ranks = get_process_group_ranks(group)
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"get_global_rank: group rank {group_rank} is not in the group of {len(ranks)} rank(s)")
    return ranks[group_rank]


def get_group_rank(group, global_rank):
    """get_group_rank(group, global_rank) -> int: the rank in ``group`` of the process ``global_rank``."""
    ranks = get_process_group_ranks(group)
    if global_rank not in ranks:
        raise ValueError(f"get_group_rank: global rank {global_rank} is not part of the group {ranks}")
    return ranks.index(global_rank)


def _peer(op, pg, rank, group_rank, name):
    """A ``src``/``dst`` given as a global rank (or ``group_src``/``group_dst`` as a group rank) -> group rank."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"{op}: give {name} or group_{name}, not both")
    if group_rank is not None:
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"{op}: group_{name}={group_rank} is not a rank of the group of {pg.size()}")
        return group_rank
    if rank is None:
        raise ValueError(f"{op}: {name} (a global rank) or group_{name} is required")
    if rank not in pg._ranks:
        raise ValueError(f"{op}: {name}={rank} is not a rank of the group {pg._ranks}")
    return pg._ranks.index(rank)


# ---------------------------------------------------------------------------------------------- tensors


def _check_tensor(op, t, name="tensor"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    return t


def _array(t):
    """The tensor's values as a contiguous numpy array (the tensor's own memory when it already is one)."""
    return np.ascontiguousarray(t.detach().numpy())


def _bytes(array):
    return array.reshape(-1).view(np.uint8)


def _write(t, array):
    """Put ``array`` into tensor ``t`` in place (PyTorch's collectives write their outputs in place)."""
    with no_grad():
        t.copy_(from_numpy(np.asarray(array).reshape(tuple(t.shape))))


def _check_list(op, tensors, n, name):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: {name} must be a list of tensors, got {type(tensors).__name__}")
    if len(tensors) != n:
        raise ValueError(f"{op}: {name} must hold one tensor per rank of the group ({n}), got {len(tensors)}")
    for i, t in enumerate(tensors):
        _check_tensor(op, t, f"{name}[{i}]")


def _check_dtypes(op, ref, tensors, name):
    for i, t in enumerate(tensors):
        if t.dtype != ref.dtype:
            raise TypeError(f"{op}: {name}[{i}] has dtype {t.dtype} but the input tensor has dtype {ref.dtype}")


def _mpi_op(op_name, op, dtype):
    """The MPI reduction for ``op`` on ``dtype`` (bool tensors reduce with logical ops)."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{op_name}: op must be a ReduceOp, got {op!r}")
    MPI = _mpi.load()
    if dtype == np.bool_:
        return {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR, ReduceOp.MIN: MPI.LAND,
                ReduceOp.PRODUCT: MPI.LAND, ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}.get(op) or \
            _bad_op(op_name, op, dtype)
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.kind not in "iu":
        _bad_op(op_name, op, dtype)
    if op in (ReduceOp.MIN, ReduceOp.MAX) and dtype.kind == "c":
        _bad_op(op_name, op, dtype)
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _bad_op(op_name, op, dtype):
    raise TypeError(f"{op_name}: ReduceOp.{op.name} is not defined for tensors of dtype {dtype}")


def _reduce_input(t, op_name, op):
    """(array to send, MPI op) for a reduction of tensor ``t``."""
    array = _array(t)
    dtype = _mpi.reduce_dtype(array.dtype)
    mpi_op = _mpi_op(op_name, op, dtype)
    return (array if array.dtype == dtype else array.astype(dtype)), mpi_op


def _finish_avg(array, op, n):
    if op is ReduceOp.AVG:
        if array.dtype.kind in "iu":
            np.copyto(array, np.sign(array) * (np.abs(array) // n))  # rounded toward zero
        elif array.dtype.kind == "b":
            pass
        else:
            array /= n
    return array


def _run(pg, what, requests, finish, async_op, result=(), keep=(), statuses=None):
    work = Work(pg, what, requests, finish, result, keep, statuses)
    if async_op:
        return work
    work.wait()
    return None


def barrier(group=None, async_op=False, device_ids=None):
    """barrier(group=None, async_op=False): wait until every rank of the group has reached it."""
    pg = _group("barrier", group)
    if pg is None:
        return None
    return _run(pg, "barrier", [pg._comm.Ibarrier()], None, async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """broadcast(tensor, src, group=None, async_op=False): copy rank ``src``'s tensor into every rank's, in place.

    >>> dist.broadcast(t, src=0)                    # doctest: +SKIP
    """
    _check_tensor("broadcast", tensor)
    pg = _group("broadcast", group)
    if pg is None:
        return None
    root = _peer("broadcast", pg, src, group_src, "src")
    mine = pg.rank() == root
    buf = _array(tensor) if mine else np.empty(tuple(tensor.shape), tensor.dtype)
    req = pg._comm.Ibcast(_bytes(buf), root=root)
    return _run(pg, "broadcast", [req], None if mine else (lambda: _write(tensor, buf)), async_op, [tensor], buf)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False): combine the tensor of every rank
    (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR) and write the result into each rank's tensor, in place.

    >>> t = tapegrad.tensor([float(rank)])          # doctest: +SKIP
    >>> dist.all_reduce(t)                          # doctest: +SKIP
    >>> t                                           # doctest: +SKIP
    tensor([1.])
    """
    _check_tensor("all_reduce", tensor)
    pg = _group("all_reduce", group)
    if pg is None:
        return None
    send, mpi_op = _reduce_input(tensor, "all_reduce", op)
    recv = np.empty_like(send)
    req = pg._comm.Iallreduce(send, recv, op=mpi_op)
    return _run(pg, "all_reduce", [req], lambda: _write(tensor, _finish_avg(recv, op, pg.size())), async_op,
                [tensor], (send, recv))


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False): like all_reduce, but only rank ``dst``
    receives the result (the other ranks' tensors are left as they were)."""
    _check_tensor("reduce", tensor)
    pg = _group("reduce", group)
    if pg is None:
        return None
    root = _peer("reduce", pg, dst, group_dst, "dst")
    send, mpi_op = _reduce_input(tensor, "reduce", op)
    mine = pg.rank() == root
    recv = np.empty_like(send) if mine else None
    req = pg._comm.Ireduce(send, recv, op=mpi_op, root=root)
    finish = (lambda: _write(tensor, _finish_avg(recv, op, pg.size()))) if mine else None
    return _run(pg, "reduce", [req], finish, async_op, [tensor], (send, recv))


def _gather_layout(tensors):
    counts = [t.numel() * t.element_size() for t in tensors]
    return counts, np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64).tolist()


def _scatter_into(tensors, buf, counts, displs, dtype):
    for t, c, d in zip(tensors, counts, displs):
        _write(t, buf[d:d + c].view(dtype))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """all_gather(tensor_list, tensor, group=None, async_op=False): ``tensor_list[i]`` receives rank i's tensor
    (in place; one tensor per rank, of that rank's shape).

    >>> out = [tapegrad.zeros(2) for _ in range(dist.get_world_size())]  # doctest: +SKIP
    >>> dist.all_gather(out, tapegrad.full((2,), float(rank)))            # doctest: +SKIP
    """
    _check_tensor("all_gather", tensor)
    pg = _group("all_gather", group)
    if pg is None:
        return None
    _check_list("all_gather", tensor_list, pg.size(), "tensor_list")
    _check_dtypes("all_gather", tensor, tensor_list, "tensor_list")
    if tuple(tensor_list[pg.rank()].shape) != tuple(tensor.shape):
        raise ValueError(f"all_gather: tensor_list[{pg.rank()}] (this rank's slot) has shape "
                         f"{tuple(tensor_list[pg.rank()].shape)} but the input has shape {tuple(tensor.shape)}")
    send = _array(tensor)
    counts, displs = _gather_layout(tensor_list)
    recv = np.empty(sum(counts), np.uint8)
    MPI = _mpi.load()
    req = pg._comm.Iallgatherv(_bytes(send), [recv, counts, displs, MPI.BYTE])
    return _run(pg, "all_gather", [req], lambda: _scatter_into(tensor_list, recv, counts, displs, send.dtype),
                async_op, tensor_list, (send, recv))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False): the inputs of all ranks,
    concatenated along dim 0 (output of shape (world * n, ...)) or stacked (shape (world, n, ...))."""
    _check_tensor("all_gather_into_tensor", output_tensor, "output_tensor")
    _check_tensor("all_gather_into_tensor", input_tensor, "input_tensor")
    pg = _group("all_gather_into_tensor", group)
    if pg is None:
        return None
    if output_tensor.numel() != pg.size() * input_tensor.numel() or output_tensor.dtype != input_tensor.dtype:
        raise ValueError(f"all_gather_into_tensor: the output must hold world_size ({pg.size()}) times the input: "
                         f"output {tuple(output_tensor.shape)} {output_tensor.dtype}, input "
                         f"{tuple(input_tensor.shape)} {input_tensor.dtype}")
    send = _array(input_tensor)
    recv = np.empty(tuple(output_tensor.shape), send.dtype)
    req = pg._comm.Iallgather(_bytes(send), _bytes(recv))
    return _run(pg, "all_gather_into_tensor", [req], lambda: _write(output_tensor, recv), async_op,
                [output_tensor], (send, recv))


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False): rank i's ``output``
    receives the reduction over ranks of their ``input_list[i]``."""
    _check_tensor("reduce_scatter", output, "output")
    pg = _group("reduce_scatter", group)
    if pg is None:
        return None
    _check_list("reduce_scatter", input_list, pg.size(), "input_list")
    _check_dtypes("reduce_scatter", output, input_list, "input_list")
    if input_list[pg.rank()].numel() != output.numel():
        raise ValueError(f"reduce_scatter: input_list[{pg.rank()}] has shape {tuple(input_list[pg.rank()].shape)} "
                         f"but this rank's output has shape {tuple(output.shape)}")
    parts = [_reduce_input(t, "reduce_scatter", op) for t in input_list]
    mpi_op = parts[0][1]
    send = np.concatenate([a.reshape(-1) for a, _ in parts])
    counts = [t.numel() for t in input_list]
    recv = np.empty(output.numel(), send.dtype)
    req = pg._comm.Ireduce_scatter(send, recv, counts, op=mpi_op)
    return _run(pg, "reduce_scatter", [req], lambda: _write(output, _finish_avg(recv, op, pg.size())), async_op,
                [output], (send, recv))


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False): ``input`` holds
    world_size equal chunks along dim 0 (or is stacked); rank i's ``output`` gets the reduction of chunk i."""
    _check_tensor("reduce_scatter_tensor", output, "output")
    _check_tensor("reduce_scatter_tensor", input, "input")
    pg = _group("reduce_scatter_tensor", group)
    if pg is None:
        return None
    if input.numel() != pg.size() * output.numel() or input.dtype != output.dtype:
        raise ValueError(f"reduce_scatter_tensor: the input must hold world_size ({pg.size()}) times the output: "
                         f"input {tuple(input.shape)} {input.dtype}, output {tuple(output.shape)} {output.dtype}")
    send, mpi_op = _reduce_input(input, "reduce_scatter_tensor", op)
    recv = np.empty(output.numel(), send.dtype)
    req = pg._comm.Ireduce_scatter_block(send.reshape(-1), recv, op=mpi_op)
    return _run(pg, "reduce_scatter_tensor", [req], lambda: _write(output, _finish_avg(recv, op, pg.size())),
                async_op, [output], (send, recv))


def _only_on_root(op, pg, root, items, name):
    if pg.rank() != root and items:
        raise ValueError(f"{op}: Argument ``{name}`` must NOT be specified on non-destination ranks.")


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """gather(tensor, gather_list=None, dst=None, group=None, async_op=False): rank ``dst``'s ``gather_list[i]``
    receives rank i's tensor; the other ranks pass no gather_list."""
    _check_tensor("gather", tensor)
    pg = _group("gather", group)
    if pg is None:
        return None
    root = _peer("gather", pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst")
    _only_on_root("gather", pg, root, gather_list, "gather_list")
    send = _array(tensor)
    MPI = _mpi.load()
    if pg.rank() == root:
        _check_list("gather", gather_list, pg.size(), "gather_list")
        _check_dtypes("gather", tensor, gather_list, "gather_list")
        counts, displs = _gather_layout(gather_list)
        recv = np.empty(sum(counts), np.uint8)
        req = pg._comm.Igatherv(_bytes(send), [recv, counts, displs, MPI.BYTE], root=root)
        return _run(pg, "gather", [req], lambda: _scatter_into(gather_list, recv, counts, displs, send.dtype),
                    async_op, gather_list, (send, recv))
    req = pg._comm.Igatherv(_bytes(send), None, root=root)
    return _run(pg, "gather", [req], None, async_op, (), send)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """scatter(tensor, scatter_list=None, src=None, group=None, async_op=False): rank i's ``tensor`` receives
    ``scatter_list[i]`` of rank ``src``; the other ranks pass no scatter_list."""
    _check_tensor("scatter", tensor)
    pg = _group("scatter", group)
    if pg is None:
        return None
    root = _peer("scatter", pg, 0 if src is None and group_src is None else src, group_src, "src")
    _only_on_root("scatter", pg, root, scatter_list, "scatter_list")
    MPI = _mpi.load()
    recv = np.empty(tuple(tensor.shape), tensor.dtype)
    if pg.rank() == root:
        _check_list("scatter", scatter_list, pg.size(), "scatter_list")
        _check_dtypes("scatter", tensor, scatter_list, "scatter_list")
        if scatter_list[root].numel() != tensor.numel():
            raise ValueError(f"scatter: scatter_list[{root}] has shape {tuple(scatter_list[root].shape)} but the "
                             f"output tensor has shape {tuple(tensor.shape)}")
        counts, displs = _gather_layout(scatter_list)
        send = np.concatenate([_bytes(_array(t)) for t in scatter_list])
        req = pg._comm.Iscatterv([send, counts, displs, MPI.BYTE], _bytes(recv), root=root)
    else:
        send = None
        req = pg._comm.Iscatterv(None, _bytes(recv), root=root)
    return _run(pg, "scatter", [req], lambda: _write(tensor, recv), async_op, [tensor], (send, recv))


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """isend(tensor, dst, group=None, tag=0) -> Work: send the tensor to rank ``dst`` without waiting."""
    _check_tensor("isend", tensor)
    pg = _group("isend", group)
    if pg is None:
        return None
    peer = _peer("isend", pg, dst, group_dst, "dst")
    if peer == pg.rank():
        raise ValueError(f"isend: Invalid destination rank: should not be the same as rank of the current process "
                         f"({pg._ranks[peer]})")
    buf = _array(tensor).copy()
    return Work(pg, "send", [pg._comm.Isend(_bytes(buf), dest=peer, tag=tag)], keep=buf)


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """irecv(tensor, src=None, group=None, tag=0) -> Work: receive into the tensor (from any rank if ``src`` is
    None) once ``wait()`` returns."""
    _check_tensor("irecv", tensor)
    pg = _group("irecv", group)
    if pg is None:
        return None
    MPI = _mpi.load()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _peer("irecv", pg, src, group_src, "src")
    if peer == pg.rank():
        raise ValueError(f"irecv: Invalid source rank: should not be the same as rank of the current process "
                         f"({pg._ranks[peer]})")
    buf = np.empty(tuple(tensor.shape), tensor.dtype)
    req = pg._comm.Irecv(_bytes(buf), source=peer, tag=tag)
    return Work(pg, "recv", [req], lambda: _write(tensor, buf), [tensor], buf, [MPI.Status()])


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """send(tensor, dst, group=None, tag=0): send the tensor to rank ``dst`` (a matching recv must be posted)."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """recv(tensor, src=None, group=None, tag=0) -> int: receive into the tensor, in place; returns the sender's
    global rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    return work.source_rank()


# ---------------------------------------------------------------------------------------------- objects
# These pickle Python objects between the ranks of this job, as PyTorch's do: unpickling runs code the
# sender chose, so they are for the job's own ranks only; nothing here ever reads a pickle from a file.


def _dumps(obj):
    return np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)


def _loads(buf):
    return pickle.loads(buf.tobytes())  # from a rank of this job only (see above)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """broadcast_object_list(object_list, src=None, group=None): replace the entries of every rank's
    ``object_list`` with rank ``src``'s (picklable objects; pickled between the job's own ranks only).

    >>> objs = [{"lr": 0.1}] if rank == 0 else [None]  # doctest: +SKIP
    >>> dist.broadcast_object_list(objs, src=0)        # doctest: +SKIP
    """
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list: object_list must be a list, got {type(object_list).__name__}")
    pg = _group("broadcast_object_list", group)
    if pg is None:
        return
    root = _peer("broadcast_object_list", pg, 0 if src is None and group_src is None else src, group_src, "src")
    mine = pg.rank() == root
    payload = _dumps(list(object_list)) if mine else None
    size = np.array([0 if payload is None else payload.size], np.int64)
    _run(pg, "broadcast_object_list", [pg._comm.Ibcast(size, root=root)], None, False)
    buf = payload if mine else np.empty(int(size[0]), np.uint8)
    _run(pg, "broadcast_object_list", [pg._comm.Ibcast(buf, root=root)], None, False)
    if not mine:
        values = _loads(buf)
        if len(values) != len(object_list):
            raise ValueError(f"broadcast_object_list: rank {pg._ranks[root]} sent {len(values)} object(s) but "
                             f"this rank's object_list has {len(object_list)} entries")
        object_list[:] = values


def _gathered_objects(buf, sizes):
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return [_loads(buf[offsets[i]:offsets[i + 1]]) for i in range(len(sizes))]


def all_gather_object(object_list, obj, group=None):
    """all_gather_object(object_list, obj, group=None): ``object_list[i]`` becomes rank i's ``obj`` (pickled
    between the job's own ranks only)."""
    pg = _group("all_gather_object", group)
    if pg is None:
        return
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        got = f"a list of length {len(object_list)}" if isinstance(object_list, list) else type(object_list).__name__
        raise ValueError(f"all_gather_object: object_list must be a list with one entry per rank ({pg.size()}), "
                         f"got {got}")
    payload = _dumps(obj)
    sizes = np.empty(pg.size(), np.int64)
    _run(pg, "all_gather_object", [pg._comm.Iallgather(np.array([payload.size], np.int64), sizes)], None, False)
    MPI = _mpi.load()
    buf = np.empty(int(sizes.sum()), np.uint8)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64).tolist()
    req = pg._comm.Iallgatherv(payload, [buf, sizes.tolist(), displs, MPI.BYTE])
    _run(pg, "all_gather_object", [req], None, False)
    object_list[:] = _gathered_objects(buf, sizes)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """gather_object(obj, object_gather_list=None, dst=None, group=None): rank ``dst``'s ``object_gather_list[i]``
    becomes rank i's ``obj`` (pickled between the job's own ranks only)."""
    pg = _group("gather_object", group)
    if pg is None:
        return
    root = _peer("gather_object", pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst")
    mine = pg.rank() == root
    if mine and (not isinstance(object_gather_list, list) or len(object_gather_list) != pg.size()):
        raise ValueError(f"gather_object: on the destination rank object_gather_list must be a list with one "
                         f"entry per rank ({pg.size()})")
    _only_on_root("gather_object", pg, root, object_gather_list, "object_gather_list")
    payload = _dumps(obj)
    sizes = np.empty(pg.size(), np.int64) if mine else None
    _run(pg, "gather_object", [pg._comm.Igather(np.array([payload.size], np.int64), sizes, root=root)], None, False)
    MPI = _mpi.load()
    if mine:
        buf = np.empty(int(sizes.sum()), np.uint8)
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64).tolist()
        req = pg._comm.Igatherv(payload, [buf, sizes.tolist(), displs, MPI.BYTE], root=root)
    else:
        req = pg._comm.Igatherv(payload, None, root=root)
    _run(pg, "gather_object", [req], None, False)
    if mine:
        object_gather_list[:] = _gathered_objects(buf, sizes)
