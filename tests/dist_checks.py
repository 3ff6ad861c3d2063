"""Run on 2 ranks by tests/test_distributed.py (mpiexec -n 2 python tests/dist_checks.py): collectives with known
values, and DistributedDataParallel against one process. Any failed check raises, which ends the job with the
error (the test shows it). Rank 0 prints one "ok NAME" line per check passed."""

import copy
import datetime
import os

import numpy as np

import tapegrad as torch
import tapegrad.distributed as dist
from tapegrad import nn
from tapegrad.nn.parallel import DistributedDataParallel as DDP

# Both launchers give the script torchrun's variables before init_process_group.
env = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                      "MASTER_PORT")}
assert None not in env.values(), env
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2, f"run with 2 ranks, got {world}"
assert env["RANK"] == env["LOCAL_RANK"] == str(rank) and env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == "2", env
R = dist.ReduceOp


def ok(name):
    dist.barrier()
    if rank == 0:
        print("ok", name, flush=True)


def close(a, b, what, rtol=1e-5, atol=1e-6):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"rank {rank}: {what}")


def same(t, values, what):
    got = t.tolist()
    assert got == values, f"rank {rank}: {what}: got {got}, expected {values}"


# ---------------------------------------------------------------------------------------------- collectives
assert dist.is_initialized() and dist.get_backend() == "gloo" and dist.GroupMember.WORLD is not None

v = [1.0, 2.0] if rank == 0 else [3.0, -4.0]
for op, want in ((R.SUM, [4.0, -2.0]), (R.AVG, [2.0, -1.0]), (R.MAX, [3.0, 2.0]), (R.MIN, [1.0, -4.0]),
                 (R.PRODUCT, [3.0, -8.0])):
    t = torch.tensor(v)
    dist.all_reduce(t, op=op)
    same(t, want, f"all_reduce {op}")
t = torch.tensor([5, -7]) if rank == 0 else torch.tensor([2, 2])
dist.all_reduce(t, op=R.AVG)
same(t, [3, -2], "all_reduce AVG of int64 (rounded toward zero)")
assert t.dtype == torch.int64
t = torch.tensor([True, False]) if rank == 0 else torch.tensor([False, False])
dist.all_reduce(t, op=R.MAX)
same(t, [True, False], "all_reduce MAX of bool")
t = torch.tensor([1.5], dtype=torch.float64)
dist.all_reduce(t)
assert t.dtype == torch.float64 and t.tolist() == [3.0]
t = torch.tensor([1.0, 2.0], dtype=torch.float16) * (rank + 1)
dist.all_reduce(t)
same(t, [3.0, 6.0], "all_reduce float16")
w = torch.tensor([2.0, 3.0], requires_grad=True)  # a leaf that requires grad is written as in PyTorch
dist.all_reduce(w)
same(w, [4.0, 6.0], "all_reduce of a leaf requiring grad")
assert w.requires_grad and w.is_leaf
work = dist.all_reduce(t := torch.ones(3) * (rank + 1), async_op=True)
assert isinstance(work, dist.Work) and work.wait() is True and work.is_completed()
same(t, [3.0, 3.0, 3.0], "all_reduce async_op")
# Random shapes (0-d and empty too), dtypes and ops against numpy: every rank draws both ranks' inputs.
rng = np.random.default_rng(1234)
reduce_np = {R.SUM: np.add.reduce, R.MAX: np.maximum.reduce, R.MIN: np.minimum.reduce, R.PRODUCT: np.multiply.reduce}
for case in range(30):
    shape = tuple(rng.integers(0, 4, rng.integers(0, 4)))
    dtype = rng.choice(["float32", "float64", "int32", "int64"])
    op = list(reduce_np)[rng.integers(0, 4)]
    inputs = [rng.integers(-5, 6, shape).astype(dtype) for _ in range(world)]
    t = torch.from_numpy(inputs[rank].copy())
    dist.all_reduce(t, op=op)
    want = reduce_np[op](np.stack(inputs), axis=0).astype(dtype)
    assert t.dtype == inputs[0].dtype and tuple(t.shape) == shape, (case, t.dtype, t.shape)
    np.testing.assert_array_equal(t.numpy(), want, err_msg=f"rank {rank}: case {case}: {op} {dtype} {shape}")
ok("all_reduce")

t = torch.full((2, 2), float(rank + 10))
dist.broadcast(t, src=1)
same(t, [[11.0, 11.0], [11.0, 11.0]], "broadcast from 1")
t = torch.tensor([rank + 1.0])
dist.reduce(t, dst=0)
same(t, [3.0] if rank == 0 else [2.0], "reduce to 0 (other ranks unchanged)")
ok("broadcast, reduce")

out = [torch.zeros(2), torch.zeros(3)]  # all_gather takes each rank's own shape
dist.all_gather(out, torch.full((2 if rank == 0 else 3,), float(rank)))
same(out[0], [0.0, 0.0], "all_gather[0]")
same(out[1], [1.0, 1.0, 1.0], "all_gather[1]")
big = torch.zeros(4)
dist.all_gather_into_tensor(big, torch.tensor([rank, rank + 0.5]))
same(big, [0.0, 0.5, 1.0, 1.5], "all_gather_into_tensor")
stacked = torch.zeros(2, 2)
dist.all_gather_into_tensor(stacked, torch.tensor([rank, rank + 0.5]))
same(stacked, [[0.0, 0.5], [1.0, 1.5]], "all_gather_into_tensor stacked")
ok("all_gather")

o = torch.zeros(2)
dist.reduce_scatter(o, [torch.full((2,), 1.0 + rank), torch.full((2,), 10.0 * (rank + 1))])
same(o, [3.0, 3.0] if rank == 0 else [30.0, 30.0], "reduce_scatter")
o = torch.zeros(1)
dist.reduce_scatter_tensor(o, torch.tensor([1.0, 2.0]) * (rank + 1), op=R.MAX)
same(o, [2.0] if rank == 0 else [4.0], "reduce_scatter_tensor MAX")
ok("reduce_scatter")

g = [torch.zeros(1), torch.zeros(1)] if rank == 1 else None
dist.gather(torch.tensor([rank * 7.0]), g, dst=1)
if rank == 1:
    same(g[0], [0.0], "gather[0]")
    same(g[1], [7.0], "gather[1]")
s = torch.zeros(2)
dist.scatter(s, [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])] if rank == 0 else None, src=0)
same(s, [1.0, 2.0] if rank == 0 else [3.0, 4.0], "scatter")
ok("gather, scatter")

if rank == 0:
    dist.send(torch.tensor([1.0, 2.0, 3.0]), dst=1)
    work = dist.irecv(r := torch.zeros(2, dtype=torch.int64), src=1, tag=5)
    work.wait()
    same(r, [8, 9], "irecv with tag")
else:
    x = torch.zeros(3)
    assert dist.recv(x) == 0
    same(x, [1.0, 2.0, 3.0], "recv from any source")
    dist.isend(torch.tensor([8, 9]), dst=0, tag=5).wait()
ok("send, recv, isend, irecv")

objs = [{"lr": 0.1, "name": "adam"}, 3] if rank == 0 else [None, None]
dist.broadcast_object_list(objs, src=0)
assert objs == [{"lr": 0.1, "name": "adam"}, 3], objs
everyone = [None, None]
dist.all_gather_object(everyone, ("rank", rank))
assert everyone == [("rank", 0), ("rank", 1)], everyone
got = [None, None] if rank == 0 else None
dist.gather_object({"r": rank}, got, dst=0)
assert rank != 0 or got == [{"r": 0}, {"r": 1}], got
ok("object collectives")

solo = dist.new_group([1])
if rank == 1:
    assert dist.get_rank(solo) == 0 and dist.get_world_size(solo) == 1
    t = torch.tensor([5.0])
    dist.all_reduce(t, group=solo)
    same(t, [5.0], "all_reduce in a one-rank group")
    assert dist.get_process_group_ranks(solo) == [1] and dist.get_global_rank(solo, 0) == 1
else:
    assert solo is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(solo) == -1
    assert dist.all_reduce(torch.ones(1), group=solo) is None  # not a member: nothing happens
pair = dist.new_group([0, 1])
t = torch.tensor([float(rank)])
dist.broadcast(t, src=1, group=pair)
same(t, [1.0], "broadcast in a new group")
dist.destroy_process_group(pair)
ok("new_group")


# ---------------------------------------------------------------------------------------------- DDP
def make_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


rng = np.random.default_rng(0)
B, STEPS = 4, 3
X = torch.from_numpy(rng.standard_normal((STEPS, 2 * B, 6)).astype(np.float32))
Y = torch.from_numpy(rng.integers(0, 3, (STEPS, 2 * B)))
loss_fn = nn.CrossEntropyLoss()

for name, make_opt in (("SGD", lambda ps: torch.optim.SGD(ps, lr=0.5, momentum=0.9)),
                       ("Adam", lambda ps: torch.optim.Adam(ps, lr=0.01))):
    # Different initial weights per rank: DDP must start every rank from rank 0's.
    ddp = DDP(make_model(100 + rank), bucket_cap_mb=0.0005)  # tiny buckets: several in flight
    assert len(ddp.reducer.buckets) > 1
    ref = copy.deepcopy(ddp.module)  # one process, batch 2B, from the same start
    opt, ref_opt = make_opt(ddp.parameters()), make_opt(ref.parameters())
    for step in range(STEPS):
        opt.zero_grad()
        loss_fn(ddp(X[step, rank * B:(rank + 1) * B]), Y[step, rank * B:(rank + 1) * B]).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(ref(X[step]), Y[step]).backward()
        ref_opt.step()
    n_params = len(list(ddp.parameters()))
    assert ddp.reducer.launched_at[0] < n_params, \
        f"the first bucket must start before backward has finished: {ddp.reducer.launched_at}"
    for (n, p), q in zip(ddp.module.named_parameters(), ref.parameters()):
        close(p, q, f"{name}: {n} after {STEPS} steps on 2 ranks with batch {B} vs 1 process with batch {2 * B}")
    ok(f"DDP equals one process with the whole batch ({name})")

# no_sync: two micro-batches, the first accumulated locally, the second synchronizes the sum.
ddp = DDP(make_model(7 + rank))
ref = copy.deepcopy(ddp.module)
with ddp.no_sync():
    loss_fn(ddp(X[0, rank * B:(rank + 1) * B]), Y[0, rank * B:(rank + 1) * B]).backward()
local = [p.grad.detach().numpy().copy() for p in ddp.parameters()]
loss_fn(ddp(X[1, rank * B:(rank + 1) * B]), Y[1, rank * B:(rank + 1) * B]).backward()
loss_fn(ref(X[0]), Y[0]).backward()
loss_fn(ref(X[1]), Y[1]).backward()
for p, q in zip(ddp.parameters(), ref.parameters()):
    close(p.grad, q.grad, "no_sync accumulation then one synchronized backward")
everyone = [None, None]
dist.all_gather_object(everyone, [a.tolist() for a in local])
assert everyone[0] != everyone[1], "inside no_sync the gradients must stay local (they differ between ranks)"
ok("no_sync")

# An evaluation forward under no_grad between a forward and its backward leaves the synchronization pending.
ddp = DDP(make_model(11 + rank))
ref = copy.deepcopy(ddp.module)
loss = loss_fn(ddp(X[0, rank * B:(rank + 1) * B]), Y[0, rank * B:(rank + 1) * B])
with torch.no_grad():
    ddp(X[1])
loss.backward()
loss_fn(ref(X[0]), Y[0]).backward()
for p, q in zip(ddp.parameters(), ref.parameters()):
    close(p.grad, q.grad, "a no_grad forward before backward")
ok("no_grad forward before backward")


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.a = nn.Linear(4, 1)
        self.b = nn.Linear(4, 1)
        self.never = nn.Linear(4, 1)

    def forward(self, x, head):
        return getattr(self, head)(self.body(x))


torch.manual_seed(3)
model = TwoHeads()
ref = copy.deepcopy(model)
ddp = DDP(model, find_unused_parameters=True)
x = torch.ones(2, 3) * (rank + 1)
ddp(x, head="a" if rank == 0 else "b").sum().backward()  # kwargs pass through
assert model.never.weight.grad is None and model.never.bias.grad is None, "no rank used it: grad stays None"
ref(torch.ones(2, 3), "a").sum().backward()  # rank 0's contribution to head a, halved by the average
close(model.a.weight.grad, ref.a.weight.grad / 2, "find_unused_parameters: head a used by rank 0 only")
assert model.b.weight.grad is not None
everyone = [None, None]
dist.all_gather_object(everyone, [p.grad.tolist() for p in model.parameters() if p.grad is not None])
assert everyone[0] == everyone[1], "with find_unused_parameters every rank ends with the same gradients"
ok("find_unused_parameters")

# broadcast_buffers and state_dict keys.
torch.manual_seed(rank)
bn = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
ddp = DDP(bn)
ddp(torch.randn(8, 2) + rank)  # each rank updates its running stats from its own batch
ddp(torch.randn(8, 2))  # the next forward first copies rank 0's buffers to every rank
everyone = [None, None]
dist.all_gather_object(everyone, bn[1].num_batches_tracked.item())
assert everyone == [2, 2], everyone
sd = ddp.state_dict()
assert list(sd) == ["module." + k for k in bn.state_dict()], list(sd)
ddp.load_state_dict(bn.state_dict())  # the bare keys load too
ddp.load_state_dict(sd)
ok("broadcast_buffers, state_dict")

# Without find_unused_parameters a parameter without gradient is an error at the next forward (PyTorch's).
model = TwoHeads()
ddp = DDP(model)
ddp(x, "a").sum().backward()
try:
    ddp(x, "a")
except RuntimeError as e:
    assert "Expected to have finished reduction in the prior iteration" in str(e) and "never.weight" in str(e), e
else:
    raise AssertionError("a parameter that got no gradient must be reported at the next forward")
ok("unused parameters reported")

dist.destroy_process_group()
assert not dist.is_initialized()
if rank == 0:
    print("all checks passed", flush=True)
