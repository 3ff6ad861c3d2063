"""tapegrad.distributed, its launcher, and nn.parallel.

Jobs of 2 ranks are started with the mpiexec of the mpich wheel (three launches: the collectives and
DistributedDataParallel checks of tests/dist_checks.py through the launcher module, a rank that raises, a
collective that times out); the rest runs in this process, as a world of one rank.
"""

import datetime
import os
import pathlib
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as torch
import tapegrad.distributed as dist
from tapegrad import nn
from tapegrad.distributed import _mpi
from tapegrad.distributed import run as launcher
from tapegrad.nn.parallel import DataParallel, consume_prefix_in_state_dict_if_present
from tapegrad.nn.parallel import DistributedDataParallel as DDP
from tapegrad.nn.parallel.distributed import _assign_buckets, _reachable_leaves

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The variables a launcher sets: a job started from a test must not inherit this process's.
LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "PMI_RANK",
               "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
               "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE")


def _why_no_mpi():
    try:
        _mpi.load()
    except ImportError as e:
        return f"the MPI extra cannot be imported ({e})"
    try:
        launcher.find_mpiexec()
    except SystemExit as e:
        return str(e)
    return None


NO_MPI = _why_no_mpi()
needs_mpi = pytest.mark.skipif(NO_MPI is not None, reason=str(NO_MPI))


@pytest.fixture
def clean_env():
    saved = dict(os.environ)
    for k in LAUNCH_VARS:
        os.environ.pop(k, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def world1(clean_env):
    """This process as a world of one rank (MPI started as a singleton)."""
    dist.init_process_group("mpi")
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def _launch(*args):
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    # The timeout is only a safety net: a job that hangs fails here instead of blocking the suite.
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _report(proc):
    return f"exit status {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


# ---------------------------------------------------------------------------------------------- 2 ranks


@needs_mpi
def test_two_ranks_collectives_and_ddp_through_the_launcher():
    """tests/dist_checks.py: every collective with known values; DDP on 2 ranks with batch B gives the weights of
    one process with batch 2B (SGD with momentum, Adam); no_sync; find_unused_parameters; buffers; state_dict;
    the torchrun variables the launcher sets."""
    proc = _launch(sys.executable, "-m", "tapegrad.distributed.run", "--nproc_per_node", "2", "tests/dist_checks.py")
    assert proc.returncode == 0, _report(proc)
    for check in ("all_reduce", "broadcast, reduce", "all_gather", "reduce_scatter", "gather, scatter",
                  "send, recv, isend, irecv", "object collectives", "new_group",
                  "DDP equals one process with the whole batch (SGD)",
                  "DDP equals one process with the whole batch (Adam)", "no_sync", "no_grad forward before backward",
                  "find_unused_parameters",
                  "broadcast_buffers, state_dict", "unused parameters reported"):
        assert f"ok {check}\n" in proc.stdout, _report(proc)
    assert "all checks passed" in proc.stdout


@needs_mpi
def test_a_rank_that_raises_ends_the_job_with_its_error():
    # Rank 0 waits in a barrier whose timeout is 10 minutes: only the launcher's abort can end the job in time.
    proc = _launch(sys.executable, "-m", "tapegrad.distributed.run", "--nproc-per-node", "2", "tests/dist_fail.py",
                   "raise")
    assert proc.returncode != 0, _report(proc)
    assert "ValueError: rank 1 fails on purpose" in proc.stderr, _report(proc)
    assert "[rank 1] ValueError: ending the job so that the other ranks do not wait" in proc.stderr, _report(proc)
    assert "unreachable" not in proc.stdout
    assert "_worker.py" not in proc.stderr  # the traceback shows the script's frames, not the launcher's


@needs_mpi
def test_a_collective_that_times_out_ends_the_job_under_plain_mpiexec():
    proc = _launch(launcher.find_mpiexec(), "-n", "2", sys.executable, "tests/dist_fail.py", "timeout")
    assert proc.returncode != 0, _report(proc)
    assert "DistBackendError: all_reduce: timed out after 1 s on rank 0 of 2" in proc.stderr, _report(proc)
    assert "[rank 0] DistBackendError: ending the job so that the other ranks" in proc.stderr, _report(proc)


# ---------------------------------------------------------------------------------------------- one rank


@needs_mpi
def test_a_world_of_one_rank(world1):
    assert dist.is_initialized() and dist.is_available() and dist.is_mpi_available()
    assert dist.get_rank() == 0 and dist.get_world_size() == 1 and dist.get_backend() == "mpi"
    assert os.environ["RANK"] == "0" and os.environ["WORLD_SIZE"] == "1" and os.environ["MASTER_PORT"] == "29500"
    assert isinstance(dist.GroupMember.WORLD, dist.ProcessGroup) and dist.group.WORLD is dist.GroupMember.WORLD
    t = torch.tensor([1.0, -2.0])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT):
        dist.all_reduce(t, op=op)
        assert t.tolist() == [1.0, -2.0]
    out = [torch.zeros(2)]
    work = dist.all_gather(out, t, async_op=True)
    assert work.wait() and out[0].tolist() == [1.0, -2.0] and work.result() == out
    objs = [None]
    dist.all_gather_object(objs, {"a": 1})
    assert objs == [{"a": 1}]
    g = dist.new_group([0])
    assert dist.get_world_size(g) == 1 and dist.get_process_group_ranks(g) == [0]
    dist.barrier(g)
    dist.destroy_process_group()
    assert not dist.is_initialized() and dist.GroupMember.WORLD is None
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=5))  # again, after destroy
    assert dist.get_backend() == "gloo"


def test_backends_and_the_uninitialized_state(clean_env):
    with pytest.raises(RuntimeError, match="needs GPUs; tapegrad runs on the CPU only"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="unknown backend 'smoke'"):
        dist.init_process_group("smoke")
    assert not dist.is_initialized() and not dist.is_nccl_available()
    with pytest.raises(ValueError, match="get_rank: Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="all_reduce: Default process group has not been initialized"):
        dist.all_reduce(torch.ones(1))
    with pytest.raises(TypeError, match="timeout: expected a datetime.timedelta"):
        dist.init_process_group("mpi", timeout="soon")


@needs_mpi
def test_init_refuses_what_mpi_contradicts(clean_env):
    with pytest.raises(ValueError, match=r"world_size=3 but MPI started 1 process\(es\)"):
        dist.init_process_group("mpi", world_size=3)
    with pytest.raises(ValueError, match="rank=2 but MPI gave this process rank 0"):
        dist.init_process_group("mpi", rank=2)
    os.environ["WORLD_SIZE"] = "4"
    with pytest.raises(RuntimeError, match=r"WORLD_SIZE=4 in the environment but MPI started 1 process"):
        dist.init_process_group("mpi")
    del os.environ["WORLD_SIZE"]
    dist.init_process_group("mpi", world_size=1, rank=0)
    try:
        with pytest.raises(ValueError, match="twice"):
            dist.init_process_group("mpi")
    finally:
        dist.destroy_process_group()


@needs_mpi
def test_collectives_check_their_arguments(world1):
    with pytest.raises(ValueError, match=r"all_gather: tensor_list must hold one tensor per rank of the group \(1\)"):
        dist.all_gather([torch.zeros(1), torch.zeros(1)], torch.zeros(1))
    with pytest.raises(TypeError, match="all_gather: tensor_list.0. has dtype int64 but the input tensor has dtype"):
        dist.all_gather([torch.zeros(1, dtype=torch.int64)], torch.zeros(1))
    with pytest.raises(ValueError, match=r"all_gather: tensor_list\[0\] .* has shape \(2,\) but the input has"):
        dist.all_gather([torch.zeros(2)], torch.zeros(1))
    with pytest.raises(ValueError, match=r"broadcast: src=3 is not a rank of the group \[0\]"):
        dist.broadcast(torch.zeros(1), src=3)
    with pytest.raises(TypeError, match="all_reduce: ReduceOp.BAND is not defined for tensors of dtype float32"):
        dist.all_reduce(torch.zeros(1), op=dist.ReduceOp.BAND)
    with pytest.raises(TypeError, match="all_reduce: op must be a ReduceOp"):
        dist.all_reduce(torch.zeros(1), op="sum")
    with pytest.raises(TypeError, match="all_reduce: tensor must be a Tensor, got list"):
        dist.all_reduce([1.0])
    with pytest.raises(ValueError, match=r"all_gather_into_tensor: the output must hold world_size \(1\) times"):
        dist.all_gather_into_tensor(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match=r"new_group: ranks \[0, 1\] are not all in the world of 1 rank"):
        dist.new_group([0, 1])
    with pytest.raises(ValueError, match="send: Invalid destination rank: should not be the same as rank of the"):
        dist.send(torch.zeros(1), dst=0)
    with pytest.raises(ValueError, match="irecv: Invalid source rank"):
        dist.irecv(torch.zeros(1), src=0)


@needs_mpi
def test_ddp_on_one_rank_is_the_module(world1):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    ref = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    ref.load_state_dict(model.state_dict())
    ddp = DDP(model, bucket_cap_mb=0.00005)
    assert ddp.module is model and len(ddp.reducer.buckets) > 1
    x = torch.randn(5, 3)
    for _ in range(2):  # gradients accumulate the same way
        ddp(x).pow(2).sum().backward()
        ref(x).pow(2).sum().backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    with ddp.no_sync():
        assert not ddp.require_backward_grad_sync
    assert ddp.require_backward_grad_sync
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert str(ddp.load_state_dict(ref.state_dict())) == "<All keys matched successfully>"  # bare keys
    ddp.load_state_dict(ddp.state_dict())  # DDP's keys
    with pytest.raises(RuntimeError, match='Unexpected key.*"module.extra"'):
        ddp.load_state_dict({**ddp.state_dict(), "module.extra": torch.zeros(1)})
    heads = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Linear(3, 1)})
    wrapped = DDP(_Head(heads), find_unused_parameters=True)
    for _ in range(2):  # no complaint at the next forward: b is known to be unused
        wrapped(x).sum().backward()
    assert heads["b"].weight.grad is None and heads["a"].weight.grad is not None


class _Head(nn.Module):
    def __init__(self, heads):
        super().__init__()
        self.heads = heads

    def forward(self, x):
        return self.heads["a"](x)


@needs_mpi
def test_ddp_refuses_what_it_cannot_do(world1):
    with pytest.raises(ValueError, match="device_ids and output_device arguments only work with"):
        DDP(nn.Linear(2, 2), device_ids=[0])
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
        DDP(nn.ReLU())
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        DDP(lambda x: x)


def test_ddp_needs_a_process_group(clean_env):
    with pytest.raises(ValueError, match="DistributedDataParallel: Default process group has not been initialized"):
        DDP(nn.Linear(2, 2))


@given(st.lists(st.tuples(st.integers(1, 3000), st.sampled_from(["float32", "float64"])), min_size=1, max_size=12),
       st.integers(1, 40_000))
def test_buckets_hold_each_parameter_once_in_reverse_order_one_dtype_each(specs, cap):
    params = [torch.zeros(n, dtype=getattr(torch, d)) for n, d in specs]
    buckets = _assign_buckets(params, cap)
    assert sorted(i for b in buckets for i in b) == list(range(len(params)))
    for b in buckets:
        assert b == sorted(b, reverse=True)
        assert len({params[i].dtype for i in b}) == 1
        nbytes = sum(params[i].numel() * params[i].element_size() for i in b)
        assert len(b) == 1 or nbytes - params[b[-1]].numel() * params[b[-1]].element_size() < max(cap, 1)


def test_unused_parameters_are_found_from_the_outputs():
    a, b, c = (torch.ones(2, requires_grad=True) for _ in range(3))
    out = {"y": ((a * 2).sum(), [b.exp()]), "n": 3}
    leaves = _reachable_leaves(out)
    assert id(a) in leaves and id(b) in leaves and id(c) not in leaves


def test_data_parallel_runs_the_module_and_keeps_its_interface():
    torch.manual_seed(0)
    lin = nn.Linear(3, 2)
    dp = nn.DataParallel(lin)
    x = torch.randn(4, 3)
    np.testing.assert_array_equal(dp(x).detach().numpy(), lin(x).detach().numpy())
    assert dp.module is lin and list(dp.state_dict()) == ["module.weight", "module.bias"]
    dp.load_state_dict(lin.state_dict())
    dp.load_state_dict(dp.state_dict())
    with pytest.raises(ValueError, match="device 1 is not available"):
        DataParallel(lin, device_ids=[0, 1])


def test_consume_prefix_in_state_dict_if_present():
    sd = OrderedDict([("module.a.weight", 1), ("module.b", 2), ("other", 3)])
    consume_prefix_in_state_dict_if_present(sd, "module.")
    assert list(sd) == ["other", "a.weight", "b"]


def test_the_extra_is_named_when_mpi4py_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    assert not dist.is_available()
    with pytest.raises(ImportError, match=r"pip install tapegrad\[distributed\]"):
        _mpi.load()


def test_mpi_launcher_variables_become_torchrun_variables():
    env = {"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "2"}
    assert dist._torchrun_environment(env)
    assert {k: env[k] for k in LAUNCH_VARS[:6]} == {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
                                                    "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                                                    "MASTER_PORT": "29500"}
    env = {"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4", "MASTER_PORT": "1234"}
    assert dist._torchrun_environment(env) and env["RANK"] == "3" and env["MASTER_PORT"] == "1234"
    assert not dist._torchrun_environment({})


@needs_mpi
def test_the_launcher_command_line(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cmd, env = launcher.command(["--nproc_per_node", "2", "train.py", "--lr", "0.1"])
    assert cmd == [launcher.find_mpiexec(), "-n", "2", sys.executable, "-m", "tapegrad.distributed._worker",
                   "train.py", "--lr", "0.1"]
    assert env["OMP_NUM_THREADS"] == "1" and env["MASTER_ADDR"] == "127.0.0.1" and env["MASTER_PORT"] == "29500"
    cmd, env = launcher.command(["--nproc-per-node=1", "--master-port", "1234", "-m", "pkg.train"])
    assert cmd[-3:] == ["tapegrad.distributed._worker", "-m", "pkg.train"]
    assert "OMP_NUM_THREADS" not in env and env["MASTER_PORT"] == "1234"
    with pytest.raises(SystemExit, match="only one node"):
        launcher.command(["--nnodes", "2", "train.py"])
    with pytest.raises(SystemExit, match="--nproc-per-node must be an integer"):
        launcher.command(["--nproc-per-node", "two", "train.py"])


def test_pytorch_ddp_checkpoints_load_and_give_the_same_outputs(clean_env, tmp_path):
    torch_ = pytest.importorskip("torch")
    import torch.distributed as tdist

    tdist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    try:
        ref = torch_.nn.parallel.DistributedDataParallel(
            torch_.nn.Sequential(torch_.nn.Linear(3, 4), torch_.nn.BatchNorm1d(4)))
        their_sd = {k: torch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()}
    finally:
        tdist.destroy_process_group()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    want = ref(torch_.tensor(x)).detach().numpy()
    wrappers = [DataParallel]
    if NO_MPI is None:
        dist.init_process_group("mpi")
        wrappers.append(DDP)
    try:
        for wrap in wrappers:
            ours = wrap(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
            assert list(ours.state_dict()) == list(their_sd), wrap.__name__
            ours.load_state_dict(their_sd)  # PyTorch's DDP keys
            np.testing.assert_allclose(ours(torch.tensor(x)).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    plain = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    consume_prefix_in_state_dict_if_present(their_sd, "module.")
    plain.load_state_dict(their_sd)


@pytest.mark.parametrize("module", ["tapegrad.distributed.distributed_c10d", "tapegrad.nn.parallel.distributed",
                                    "tapegrad.nn.parallel.data_parallel"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0
