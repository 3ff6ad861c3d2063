"""DistributedDataParallel: one model replica per rank, gradients averaged across ranks during backward.

How it works (PyTorch's Reducer, in Python):

- At construction the parameters and buffers of rank 0 are broadcast, so every replica starts equal; the
  parameters are grouped into *buckets* of about ``bucket_cap_mb`` (the first one 1 MiB, as PyTorch), in reverse
  parameter order: roughly the order backward produces their gradients.
- Every parameter gets a post-accumulate-grad hook. When backward has accumulated into the ``.grad`` of all the
  parameters of a bucket, the bucket is packed (each gradient divided by the world size) and its sum over ranks
  started with a non-blocking MPI ``Iallreduce``; buckets start in order on every rank (MPI matches collectives
  by order). Communication thus overlaps the rest of backward. When the last parameter is ready, DDP waits for all
  buckets and writes the averaged gradients into ``.grad`` (``copy_`` under ``no_grad``), so after
  ``loss.backward()`` every rank holds the same averaged gradients.
- With ``find_unused_parameters=True`` the graph of the forward's outputs is walked to find the parameters it
  does not reach; they take part with zeros, and a parameter no rank used keeps its ``.grad`` untouched.
"""

import contextlib
import time
import weakref
from collections import OrderedDict

import numpy as np

from ... import distributed as dist
from ..._tensor import Tensor
from ...autograd import grad_mode
from ...autograd.engine import queue_callback
from ...creation import from_numpy
from .. import module as _module

__all__ = ["DistributedDataParallel", "consume_prefix_in_state_dict_if_present"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # dist._DEFAULT_FIRST_BUCKET_BYTES in PyTorch
_PREFIX = "module."


def consume_prefix_in_state_dict_if_present(state_dict, prefix):
    """consume_prefix_in_state_dict_if_present(state_dict, prefix): strip ``prefix`` from the keys that start with
    it, in place (``torch.nn.modules.utils``'s helper for checkpoints saved from a DDP-wrapped model).

    >>> sd = {"module.weight": 1, "module.bias": 2}
    >>> consume_prefix_in_state_dict_if_present(sd, "module.")
    >>> sorted(sd)
    ['bias', 'weight']
    """
    for key in list(state_dict.keys()):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in list(metadata.keys()):
            if key == prefix.rstrip(".") or key.startswith(prefix):
                metadata[key[len(prefix):] if key.startswith(prefix) else ""] = metadata.pop(key)


def _with_prefix(state_dict):
    """A bare module's state_dict with ``module.`` in front of its keys (DDP's keys, as in PyTorch); a state_dict
    that already has such keys is returned as it is."""
    if not state_dict or any(k.startswith(_PREFIX) for k in state_dict.keys()):
        return state_dict
    return OrderedDict((_PREFIX + k, v) for k, v in state_dict.items())


def _coalesced_broadcast(tensors, pg):
    """Broadcast ``tensors`` from rank 0 of ``pg`` in one message per dtype and write them in place."""
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        buf = from_numpy(np.concatenate([np.ascontiguousarray(t.detach().numpy()).reshape(-1) for t in group]))
        dist.broadcast(buf, src=dist.get_global_rank(pg, 0), group=pg)
        if pg.rank() != 0:
            offset = 0
            with grad_mode.no_grad():
                for t in group:
                    n = t.numel()
                    t.copy_(buf[offset:offset + n].view(tuple(t.shape)))
                    offset += n


def _tensors_in(obj):
    """The tensors in a forward's output (nested tuples, lists, dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _reachable_leaves(outputs):
    """ids of the leaf tensors that the graphs of ``outputs`` reach (to find parameters a forward did not use), by
    walking ``grad_fn.next_functions`` as PyTorch's reducer does: leaves are the AccumulateGrad entries."""
    seen, leaves = set(), set()
    stack = [t.grad_fn for t in _tensors_in(outputs) if t.requires_grad and t.grad_fn is not None]
    leaves.update(id(t) for t in _tensors_in(outputs) if t.requires_grad and t.grad_fn is None)
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(id(variable))
            continue
        stack.extend(fn for fn, _ in node.next_functions)
    return leaves


class _Bucket:
    __slots__ = ("indices", "params", "offsets", "dtype", "numel", "pending", "send", "recv", "request")

    def __init__(self, indices, params, buffers):
        self.indices = indices
        self.params = params
        sizes = [p.numel() for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64).tolist()
        self.dtype = params[0].dtype
        self.numel = self.offsets[-1]
        self.send = np.zeros(self.numel, self.dtype) if buffers else None  # one rank needs no buffers
        self.recv = np.empty(self.numel, self.dtype) if buffers else None
        self.pending = 0
        self.request = None


def _assign_buckets(params, cap_bytes):
    """Buckets of parameter indices in reverse order, one dtype each; the first closes at 1 MiB, the others at
    ``cap_bytes`` (PyTorch's ``_compute_bucket_assignment_by_size``)."""
    open_ = {}  # dtype -> (indices, bytes, limit)
    buckets = []
    for i in reversed(range(len(params))):
        p = params[i]
        indices, size, limit = open_.get(p.dtype, ([], 0, min(_FIRST_BUCKET_BYTES, cap_bytes)))
        indices.append(i)
        size += p.numel() * p.element_size()
        if size >= limit:
            buckets.append(indices)
            open_[p.dtype] = ([], 0, cap_bytes)
        else:
            open_[p.dtype] = (indices, size, limit)
    buckets.extend(indices for indices, _, _ in open_.values() if indices)
    return buckets


class _Reducer:
    """Averages the gradients of ``params`` across the ranks of ``pg`` in buckets, during backward."""

    def __init__(self, params, names, pg, bucket_bytes, find_unused):
        self.params = params
        self.names = names
        self.pg = pg
        self.world = pg.size()
        self.find_unused = find_unused
        self.buckets = [_Bucket(idx, [params[i] for i in idx], self.world > 1)
                        for idx in _assign_buckets(params, bucket_bytes)]
        self.where = [None] * len(params)  # param index -> (bucket, position)
        for b in self.buckets:
            for k, i in enumerate(b.indices):
                self.where[i] = (b, k)
        self.armed = False  # a forward expects this backward to synchronize
        self.started = False  # a hook has fired since that forward
        self.ready = np.zeros(len(params), bool)
        self.next_bucket = 0
        self.launched_at = []
        self.last_wait = 0.0
        self.unused = ()
        self.used_map = None
        self.used_request = None
        self.handles = []
        me = weakref.ref(self)
        for i, p in enumerate(params):
            self.handles.append(p.register_post_accumulate_grad_hook(_make_hook(me, i)))

    # -------------------------------------------------------------------------------- one iteration
    def prepare(self, outputs):
        """Called after a forward that expects its backward to synchronize gradients."""
        self.armed = True
        self.started = False
        self.ready[:] = False
        self.next_bucket = 0
        self.launched_at = []  # how many parameters were ready when each bucket started (overlap, for tests)
        for b in self.buckets:
            b.pending = len(b.indices)
            b.request = None
        if self.find_unused:
            reached = _reachable_leaves(outputs)
            self.unused = [i for i, p in enumerate(self.params) if id(p) not in reached]
            self.used_map = np.array([id(p) in reached for p in self.params], np.int32)
        else:
            self.unused = ()

    def check_finished(self):
        """Before the next forward: the previous backward must have synchronized every parameter."""
        if self.armed and self.started:
            missing = [i for i in range(len(self.params)) if not self.ready[i]]
            raise RuntimeError(
                "DistributedDataParallel: Expected to have finished reduction in the prior iteration before "
                "starting a new one. This error indicates that your module has parameters that were not used in "
                "producing loss. You can enable unused parameter detection by passing the keyword argument "
                "`find_unused_parameters=True` to `tapegrad.nn.parallel.DistributedDataParallel`, and by making "
                "sure all `forward` function outputs participate in calculating loss. Parameters which did not "
                f"receive grad for rank {dist.get_rank()}: {', '.join(self.names[i] for i in missing)}; parameter "
                f"indices which did not receive grad for rank {dist.get_rank()}: {' '.join(map(str, missing))}")

    def mark_ready(self, index):
        if not self.armed:
            return
        if not self.started:
            self.started = True
            queue_callback(self.end_of_backward)
            if self.find_unused and self.world > 1:
                MPI = dist.distributed_c10d._mpi.load()
                self.used_request = self.pg._comm.Iallreduce(MPI.IN_PLACE, self.used_map, op=MPI.MAX)
            for i in self.unused:
                self._mark(i)
        if self.ready[index]:
            raise RuntimeError(f"DistributedDataParallel: parameter {self.names[index]} received its gradient twice "
                               "in one iteration (backward called twice after one forward?)")
        self._mark(index)
        dist.distributed_c10d._mpi.progress([b.request for b in self.buckets[:self.next_bucket]
                                             if b.request is not None])

    def _mark(self, index):
        self.ready[index] = True
        bucket, _ = self.where[index]
        bucket.pending -= 1
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            self._launch(self.buckets[self.next_bucket])
            self.next_bucket += 1

    def _launch(self, b):
        self.launched_at.append(int(self.ready.sum()))
        if self.world == 1:
            return  # the average over one rank is the gradient itself
        for k, p in enumerate(b.params):
            part = b.send[b.offsets[k]:b.offsets[k + 1]]
            if p.grad is None:
                part.fill(0)
            else:  # PyTorch divides before summing: the average, without overflow
                np.divide(p.grad.detach().numpy().reshape(-1), self.world, out=part)
        b.request = self.pg._comm.Iallreduce(b.send, b.recv, op=dist.distributed_c10d._mpi.load().SUM)

    def finalize(self):
        """Wait for every bucket and write the averaged gradients into ``.grad``."""
        self.armed = False
        mpi = dist.distributed_c10d._mpi
        requests = [b.request for b in self.buckets if b.request is not None]
        if self.used_request is not None:
            requests.append(self.used_request)
        start = time.perf_counter()
        mpi.wait_all(requests, "DistributedDataParallel gradient all_reduce", self.pg._timeout, self.pg._where())
        self.last_wait = time.perf_counter() - start  # communication that backward did not hide (for benchmarks)
        self.used_request = None
        if self.world == 1:
            return
        used = self.used_map if self.find_unused else None
        with grad_mode.no_grad():
            for b in self.buckets:
                for k, (i, p) in enumerate(zip(b.indices, b.params)):
                    if used is not None and not used[i]:
                        continue  # no rank used it: its .grad stays as it was (None), as in PyTorch
                    avg = b.recv[b.offsets[k]:b.offsets[k + 1]].reshape(tuple(p.shape))
                    if p.grad is None:
                        p.grad = from_numpy(avg.copy())
                    else:
                        p.grad.copy_(from_numpy(avg))

    def end_of_backward(self):
        """Queued with the engine by the first gradient of a backward (as PyTorch's reducer does): once backward
        is over, wait for the buckets and write the averages. If a bucket never started (a parameter the
        forward reached got no gradient), the error comes at the next forward, as in PyTorch."""
        if self.armed and self.next_bucket == len(self.buckets):
            self.finalize()

    def remove_hooks(self):
        for h in self.handles:
            h.remove()
        self.handles = []


def _make_hook(reducer_ref, index):
    def hook(param):
        reducer = reducer_ref()
        if reducer is not None:
            reducer.mark_ready(index)
    return hook


class DistributedDataParallel(_module.Module):
    """DistributedDataParallel(module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
    init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
    gradient_as_bucket_view=False, static_graph=False, ...)

    Data-parallel training: each rank runs ``module`` on its part of the batch; during ``loss.backward()`` the
    gradients are averaged across ranks (in buckets, overlapping the rest of backward), so after it every rank
    holds the gradients of the whole batch and the optimizers take the same step. Call
    ``dist.init_process_group`` first. ``forward`` passes its arguments to ``module``; with
    ``broadcast_buffers`` each forward first copies rank 0's buffers (BatchNorm statistics) to all ranks.

    - ``no_sync()``: a context in which forward/backward accumulate gradients locally (the next forward-backward
      outside it synchronizes the accumulated sum).
    - ``find_unused_parameters=True``: parameters that a forward's outputs do not reach take part with zeros so
      that ranks agree (``static_graph=True`` is accepted and behaves the same).
    - ``state_dict()`` keys start with ``module.`` as in PyTorch (so checkpoints are interchangeable);
      ``load_state_dict`` also takes the bare module's keys. ``ddp.module.state_dict()`` gives the bare keys.
    - ``gradient_as_bucket_view`` is accepted; gradients are copied out of the buckets either way.

    >>> model = DistributedDataParallel(nn.Linear(4, 2))    # doctest: +SKIP
    >>> model(x).sum().backward()  # the gradients are averaged over the ranks  # doctest: +SKIP
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False):
        super().__init__()
        if not isinstance(module, _module.Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got {type(module).__name__}")
        if device_ids is not None and list(device_ids) not in ([], ["cpu"]) or output_device not in (None, "cpu"):
            raise ValueError(f"DistributedDataParallel device_ids and output_device arguments only work with "
                             f"single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                             f"{device_ids}, output_device {output_device}, and module parameters on the CPU: pass "
                             "device_ids=None for a CPU module")
        if mixed_precision is not None or device_mesh is not None or delay_all_reduce_named_params is not None:
            raise NotImplementedError("DistributedDataParallel: mixed_precision, device_mesh and "
                                      "delay_all_reduce_named_params are not supported by tapegrad")
        if bucket_cap_mb is not None and not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        pg = process_group if process_group is not None else dist.distributed_c10d._default(
            "DistributedDataParallel")
        pg = dist.distributed_c10d._group("DistributedDataParallel", pg)
        if pg is None:
            raise ValueError("DistributedDataParallel: this rank is not a member of process_group")
        self.module = module
        self.process_group = pg
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._buffers_to_sync = [b for _, b in module.named_buffers()]
        self._check_same_shapes(named)
        if init_sync:
            _coalesced_broadcast([p for _, p in module.named_parameters()] + self._buffers_to_sync, pg)
        reducer = _Reducer([p for _, p in named], [n for n, _ in named], pg, self.bucket_bytes_cap,
                           find_unused_parameters or static_graph)
        self.reducer = reducer  # a plain attribute: not a submodule, not in the state_dict

    def _check_same_shapes(self, named):
        shapes = [(n, tuple(p.shape), str(p.dtype)) for n, p in named]
        everyone = [None] * self.process_group.size()
        dist.all_gather_object(everyone, shapes, group=self.process_group)
        for r, theirs in enumerate(everyone):
            if theirs != shapes:
                diff = next(((a, b) for a, b in zip(shapes, theirs) if a != b), (len(shapes), len(theirs)))
                raise RuntimeError(f"DistributedDataParallel: the module's parameters differ between ranks: rank "
                                   f"{self.process_group.rank()} has {diff[0]} where rank {r} has {diff[1]}")

    def forward(self, *inputs, **kwargs):
        """forward(*inputs, **kwargs): the wrapped module's output; prepares the gradient synchronization."""
        reducer = self.reducer
        grad_on = grad_mode.is_grad_enabled()
        if grad_on:
            reducer.check_finished()
        if self.broadcast_buffers and self.require_forward_param_sync and self._buffers_to_sync \
                and self.process_group.size() > 1:
            _coalesced_broadcast(self._buffers_to_sync, self.process_group)
        output = self.module(*inputs, **kwargs)
        if grad_on:  # a forward under no_grad (evaluation) leaves a pending synchronization as it is
            if self.require_backward_grad_sync:
                reducer.prepare(output)
            else:
                reducer.armed = False  # no_sync: this forward's backward accumulates locally
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """no_sync(): within it, backward accumulates gradients locally without averaging them across ranks.

        >>> with ddp.no_sync():                  # doctest: +SKIP
        ...     ddp(x1).sum().backward()         # local accumulation
        >>> ddp(x2).sum().backward()  # synchronizes the accumulated sum  # doctest: +SKIP
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """load_state_dict(state_dict, strict=True, assign=False): takes DDP's keys (``module.`` in front, as
        PyTorch's DDP saves them) or the bare module's keys."""
        return super().load_state_dict(_with_prefix(state_dict), strict=strict, assign=assign)

    def extra_repr(self):
        return ""
