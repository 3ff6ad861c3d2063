"""DataLoader (``torch.utils.data.dataloader``) and its two iterators: loading in this process
(``num_workers=0``), or in worker processes (``num_workers > 0``).

Batches of a ``TensorDataset`` (or a ``Subset`` or ``ConcatDataset`` of them) are gathered with one fancy index
per tensor per batch instead of one ``__getitem__`` per sample whenever the default ``collate_fn`` is used; the
batch sampler then hands out each batch's indices as one int array, drawn lazily.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import numbers
import os
import pickle
import warnings
from collections.abc import Callable, Iterable, Sized
from typing import Any, Generic, TypeVar, cast

from ... import random as _random
from . import _utils
from ._utils import transport
from ._utils.collate import default_collate, default_convert
from ._utils.fetch import _add_note, _DatasetKind
from ._utils.worker import ExceptionWrapper, _IterableDatasetStopIteration, _ResumeIteration, get_worker_info
from .dataset import Dataset, IterableDataset, _can_gather
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]

_T_co = TypeVar("_T_co", covariant=True)


class _InfiniteConstantSampler(Sampler):
    """None, forever: the sampler of an IterableDataset (its workers decide when their stream ends)."""

    def __iter__(self):
        while True:
            yield None


class DataLoader(Generic[_T_co]):
    """DataLoader(dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
    collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
    multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
    pin_memory_device='', in_order=True): iterate over a dataset in (shuffled) batches.

    ``shuffle=True`` draws a new order each epoch from ``generator`` (or the default generator), so a seed
    reproduces it. ``batch_size=None`` turns batching off (each sample is yielded as is, numpy converted to
    tensors).

    ``num_workers > 0`` loads batches in that many worker processes (started with the platform's default
    multiprocessing start method, as PyTorch: fork on Linux up to Python 3.13), each prefetching
    ``prefetch_factor`` batches; batches come back in the sampler's order (``in_order=False``: as they are
    ready). Each worker is seeded from ``base_seed + worker_id`` (``get_worker_info().seed``), where
    ``base_seed`` is drawn from ``generator`` for every iteration; ``worker_init_fn(worker_id)`` runs in each
    worker after seeding. ``persistent_workers=True`` keeps the workers (and their dataset copies) between
    epochs. An exception in a worker is raised here with its type, message and traceback, and a note naming
    the worker and the indices. ``pin_memory`` is accepted and does nothing on a CPU (PyTorch warns the same).

    >>> import tapegrad as tg
    >>> from tapegrad.utils.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(tg.arange(5)), batch_size=2)
    >>> len(loader), [b[0].tolist() for b in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    __initialized = False
    dataset: Dataset[_T_co]
    batch_size: int | None
    drop_last: bool
    num_workers: int
    persistent_workers: bool
    sampler: Sampler | Iterable
    batch_sampler: Sampler | Iterable | None
    _dataset_kind: int
    _IterableDataset_len_called: int | None
    _iterator: _MultiProcessingDataLoaderIter | None

    def __init__(self, dataset: Dataset[_T_co], batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers!r}; "
                             "use num_workers=0 to disable multiprocessing")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(f"DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                             f"let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to "
                             f"None (got prefetch_factor={prefetch_factor!r})")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError(f"DataLoader: prefetch_factor option should be non-negative, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            # NOTE: an IterableDataset decides its own order (and, with workers, each worker's share), so it
            # takes no sampler; it gets an endless one, and its workers say when their streams end.
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 f"shuffle, sampler, and drop_last (got batch_size={batch_size}, "
                                 f"shuffle={shuffle}, sampler={sampler}, drop_last={drop_last})")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        self._IterableDataset_len_called = None  # len(self) as reported, to warn when the stream runs longer
        self._iterator = None
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context):
        if multiprocessing_context is not None:
            if self.num_workers == 0:
                raise ValueError("DataLoader: multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            if isinstance(multiprocessing_context, str):
                methods = multiprocessing.get_all_start_methods()
                if multiprocessing_context not in methods:
                    raise ValueError(f"DataLoader: multiprocessing_context option should specify a valid start "
                                     f"method in {methods!r}, but got "
                                     f"multiprocessing_context={multiprocessing_context!r}")
                multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
            if not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                raise TypeError(f"DataLoader: multiprocessing_context option should be a valid context object or a "
                                f"string specifying the start method, but got "
                                f"multiprocessing_context={multiprocessing_context!r}")
        self.__multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr, val):
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                           "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        """What the iterators draw from: the batch sampler when batching, else the sampler."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            # NOTE: trusts the dataset's __len__ (with workers, each copy must yield only its share); the
            # iterator warns if more samples come than this promised.
            n = self._IterableDataset_len_called = len(cast(Sized, self.dataset))
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self) -> _BaseDataLoaderIter:
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:  # (shut down by a KeyboardInterrupt, say)
                # num_workers > 0: _get_iterator makes a multiprocessing iterator
                self._iterator = cast(_MultiProcessingDataLoaderIter, self._get_iterator())
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def check_worker_number_rationality(self):
        """Warn when ``num_workers`` exceeds the CPUs this process may use (as PyTorch does)."""
        if not self.num_workers:
            return
        cpuset_checked = hasattr(os, "sched_getaffinity")
        suggest = len(os.sched_getaffinity(0)) if cpuset_checked else os.cpu_count()
        if suggest is None or self.num_workers > suggest:
            advice = (f"Our suggested max number of worker in current system is {suggest}"
                      f"{'' if cpuset_checked else ' (`cpuset` is not taken into account)'}, which is smaller "
                      "than what this DataLoader is going to create." if suggest is not None else
                      "DataLoader is not able to compute a suggested max number of worker in current system.")
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in total. {advice} "
                          "Please be aware that excessive worker creation might get DataLoader running slow or "
                          "even freeze, lower the worker number to avoid potential slowness/freeze if necessary.",
                          stacklevel=2)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory and loader.pin_memory_device:
            warnings.warn(f"pin_memory_device is deprecated, the current accelerator will be used as the device, "
                          f"ignore pin_memory_device='{loader.pin_memory_device}'.", stacklevel=2)
        if loader.pin_memory:  # tapegrad is CPU-only: what PyTorch says without an accelerator
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", stacklevel=2)
        self._pin_memory = False
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        # the fast path hands out each batch's indices as one int array (see _index_iter)
        self._arrays = (self._dataset_kind == _DatasetKind.Map and self._auto_collation
                        and self._collate_fn is default_collate and _can_gather(self._dataset))
        self._sampler_iter = self._index_iter()
        self._base_seed = int(_random.rng(loader.generator).integers(0, 2**63 - 1, endpoint=True))
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def _index_iter(self):
        sampler = self._index_sampler
        if self._arrays and isinstance(sampler, BatchSampler) and type(sampler).__iter__ is BatchSampler.__iter__:
            arrays = sampler._batch_arrays()
            if arrays is not None:
                return arrays
        return iter(sampler)

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = self._index_iter()
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)  # may raise StopIteration

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        promised = self._IterableDataset_len_called
        if self._dataset_kind == _DatasetKind.Iterable and promised is not None and self._num_yielded > promised:
            message = (f"Length of IterableDataset {self._dataset} was reported to be {promised} (when accessing "
                       f"len(dataloader)), but {self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not properly configuring "
                            "the IterableDataset replica at each worker (see get_worker_info).")
            warnings.warn(message, stacklevel=2)
        return data

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        if self._timeout != 0:
            raise AssertionError(f"DataLoader: timeout={self._timeout} applies to worker processes only; with "
                                 "num_workers=0 it must be 0 (PyTorch refuses it too)")
        self._dataset_fetcher = _DatasetKind.create_fetcher(self._dataset_kind, self._dataset, self._auto_collation,
                                                            self._collate_fn, self._drop_last)

    def _next_data(self):
        # next() may raise StopIteration (the sampler's end), and so may fetch() (an IterableDataset's end)
        return self._dataset_fetcher.fetch(next(self._sampler_iter))


# NOTE [ DataLoader worker shutdown ]
# Workers are daemonic processes, so multiprocessing's exit handler terminates them whatever happens to the main
# program; they must not outlive it, nor hang it. An iterator shuts its workers down (done event, a final None on
# each index queue, its ends of their pipes closed, join, then terminate what is left) when its batches run out
# (unless persistent), when it is garbage collected (__del__: as soon as its last reference goes, or when the
# collector frees a reference cycle it is caught in; see _SHUTDOWN_NEEDS), and on KeyboardInterrupt while it
# waits. An exception from a worker's dataset does not shut it down: the iterator stays usable, as in PyTorch. A
# worker exits by itself when its main process dies (it checks its parent every MP_STATUS_CHECK_INTERVAL seconds
# while idle). A worker that dies is noticed at once: its process sentinel is waited on together with the pipes.
# id of a live multiprocessing iterator -> its workers, queues, pipes and done event
_SHUTDOWN_NEEDS: dict[int, tuple[Any, ...]] = {}


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        self._shutdown = True  # nothing to shut down until workers exist
        self._owner = os.getpid()  # a forked child holding a copy of this iterator must not shut its workers down
        self._workers, self._index_queues, self._result_conns = [], [], []
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        if self._prefetch_factor <= 0:
            raise AssertionError(f"DataLoader: prefetch_factor must be greater than 0 with worker processes, got "
                                 f"{self._prefetch_factor}")
        context = loader.multiprocessing_context or multiprocessing.get_context()
        self._workers_done_event = context.Event()
        # NOTE: what shutting down needs is also held here, from a module global, until the shutdown: an iterator
        # caught in a reference cycle (a traceback kept in a local, say) is collected with everything only it
        # refers to, and the garbage collector would otherwise close its queues (stopping their feeder threads,
        # so a final None would never be sent) and pipes before its __del__ runs.
        _SHUTDOWN_NEEDS[id(self)] = (self._workers, self._index_queues, self._result_conns,
                                     self._workers_done_event)
        self._shutdown = False
        for i in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()  # a put never blocks the main process's exit
            reader, writer = context.Pipe(duplex=False)
            worker = context.Process(
                target=_utils.worker._worker_loop,
                args=(self._dataset_kind, self._dataset, index_queue, writer, self._workers_done_event,
                      self._auto_collation, self._collate_fn, self._drop_last, self._base_seed,
                      loader.worker_init_fn, i, self._num_workers, self._persistent_workers,
                      _utils.MP_STATUS_CHECK_INTERVAL),
                daemon=True)
            try:
                worker.start()
            except (TypeError, AttributeError, pickle.PicklingError) as err:
                reader.close()
                _add_note(err, f"DataLoader: starting worker process {i} with the {context.get_start_method()!r} "
                               "start method pickles the dataset, collate_fn and worker_init_fn; one of them "
                               "cannot be pickled (a lambda or a local function, say)")
                raise
            finally:
                writer.close()  # the worker holds the only write end, so its death is an end of file here
            self._index_queues.append(index_queue)
            self._result_conns.append(reader)
            self._workers.append(worker)
        self._open = list(self._result_conns)  # pipes of workers that may still send
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0  # the next task to send
        self._rcvd_idx = 0  # the next task to return
        # task -> (worker,) while outstanding, (worker, data) once it arrived out of order
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers  # still has work this epoch
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:  # persistent workers: each acknowledges the new epoch after its earlier tasks
            for q in self._index_queues:
                q.put(_ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                if isinstance(idx, _ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_get_data(self, timeout):
        """(True, message) for the next message of any worker, (False, None) after ``timeout`` seconds without
        one; a RuntimeError if a worker that still had work has exited."""
        alive = [w.sentinel for k, w in enumerate(self._workers) if self._workers_status[k]]
        ready = multiprocessing.connection.wait(self._open + alive, timeout)
        for conn in self._open:
            if conn in ready:
                try:
                    return True, transport.receive(conn)
                except EOFError:  # its worker has exited
                    k = self._result_conns.index(conn)
                    if self._workers_status[k]:
                        self._worker_died([k])
                    self._open.remove(conn)
                    conn.close()
                    return False, None
        dead = [k for k, w in enumerate(self._workers) if self._workers_status[k] and not w.is_alive()]
        if dead:
            self._worker_died(dead)
        return False, None

    def _worker_died(self, dead):
        reasons = []
        for k in dead:
            worker = self._workers[k]
            worker.join(timeout=_utils.MP_STATUS_CHECK_INTERVAL)
            code = worker.exitcode
            reasons.append(f"worker {k} (pid {worker.pid}): "
                           + (f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"))
            self._mark_worker_as_unavailable(k)
        pids = ", ".join(str(self._workers[k].pid) for k in dead)
        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly: {'; '.join(reasons)}")

    def _get_data(self):
        if self._timeout > 0:
            ok, data = self._try_get_data(self._timeout)
            if ok:
                return data
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        while True:
            ok, data = self._try_get_data(_utils.MP_STATUS_CHECK_INTERVAL)
            if ok:
                return data

    def _next_data(self):
        try:
            return self._next_in_order()
        except KeyboardInterrupt:
            self._shutdown_workers()
            raise

    def _next_in_order(self):
        while True:
            # Skip tasks that a worker which has since exhausted its IterableDataset copy will never answer.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    if len(info) == 2 or self._workers_status[info[0]]:  # has data, or is still working
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:  # nothing outstanding: the epoch is over
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:  # it arrived earlier, out of order
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if self._dataset_kind == _DatasetKind.Iterable and isinstance(data, _IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    return self._process_data(data, self._task_info.pop(idx)[0])
                self._task_info[idx] += (data,)
            else:
                worker_id = self._task_info.pop(idx)[0]
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

    def _try_put_index(self):
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next worker that still has work (and room, out of order)
            worker = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker] and (
                    self._in_order or self._workers_num_tasks[worker] < max_tasks // sum(self._workers_status)):
                break
        else:
            return
        self._index_queues[worker].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker,)
        self._workers_num_tasks[worker] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data, worker_id):
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id):
        """Tell a worker there is no more work (it exits); it is joined at shutdown."""
        self._index_queues[worker_id].put(None)
        self._workers_status[worker_id] = False

    def _shutdown_workers(self):
        if _utils is None or _utils.python_exit_status is not False:
            return  # the interpreter is exiting: multiprocessing's own exit handler terminates the workers
        if self._shutdown or os.getpid() != self._owner:
            return
        self._shutdown = True
        try:
            self._workers_done_event.set()
            status = getattr(self, "_workers_status", [True] * len(self._workers))
            for k in range(len(self._workers)):
                if self._persistent_workers or status[k]:  # (the others were told already)
                    self._index_queues[k].put(None)
            for conn in self._result_conns:  # a worker blocked writing a batch nobody will read gets EPIPE
                conn.close()
            self._open = []
            for w in self._workers:
                w.join(timeout=_utils.MP_STATUS_CHECK_INTERVAL)
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=_utils.MP_STATUS_CHECK_INTERVAL)
            _SHUTDOWN_NEEDS.pop(id(self), None)

    def __del__(self):
        self._shutdown_workers()
