"""The worker processes (``torch.utils.data._utils.worker``): what runs in each one, and ``get_worker_info``.

A worker gets ``(task number, indices)`` on its own index queue, fetches and collates that batch, and sends it
to the main process over its own pipe (``transport``), from a sender thread so that it can start on its next
task meanwhile. It is seeded as PyTorch seeds its workers: with ``seed = base_seed + worker_id``, Python's
``random.seed(seed)`` and ``tapegrad.manual_seed(seed)``, and numpy's global RNG from a state derived from
``base_seed`` and ``worker_id`` (``_generate_state``: numpy's SeedSequence, PyTorch's numbers).
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import signal
import threading
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from .... import random as _random
from . import transport
from .fetch import _add_note, _DatasetKind

__all__ = ["WorkerInfo", "get_worker_info"]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """WorkerInfo: what ``get_worker_info()`` returns inside a worker process.

    ``id`` (0 to ``num_workers - 1``), ``num_workers``, ``seed`` (this worker's: ``base_seed + id``), ``dataset``
    (this process's copy of the dataset).
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any
    rng: Any = None
    worker_method: str | None = "multiprocessing"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """get_worker_info(): inside a DataLoader worker process, its ``WorkerInfo`` (``id``, ``num_workers``,
    ``seed``, ``dataset``); None in the main process.

    Use it in an ``IterableDataset``'s ``__iter__`` or in ``worker_init_fn`` to give each worker its share.

    >>> get_worker_info() is None
    True
    """
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """What a worker sends when its copy of an IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of an epoch; each answers with it once its earlier tasks are out."""

    seed: int | None = None


def _generate_state(base_seed, worker_id):
    """The seed numpy's global RNG gets in worker ``worker_id``: four 32-bit words from numpy's SeedSequence of
    ``[worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]`` (PyTorch's ``_generate_state`` computes the same
    words by hand), so numpy's stream differs from Python's and tapegrad's, and from worker to worker."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy).generate_state(4, np.uint32).tolist()


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process: the ``__cause__`` of the one raised here."""

    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return f'\n"""\n{self.tb}"""'


class ExceptionWrapper:
    """An exception raised in a worker, as it travels to the main process: the exception itself (pickled, if it
    survives a round trip), and its traceback as text."""

    def __init__(self, err, where):
        self.where = where
        self.type_name = type(err).__qualname__
        self.message = str(err)
        notes = err.__dict__.pop("__notes__", None) if hasattr(err, "__dict__") else None
        try:  # the traceback text without the notes, which the exception itself carries
            self.tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        finally:
            if notes is not None:
                err.__notes__ = notes
        self.notes = list(notes or [])
        try:
            self.pickled = pickle.dumps(err, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(self.pickled)  # some exceptions pickle but cannot be rebuilt (required keyword args)
        except Exception:
            self.pickled = None

    def reraise(self):
        """Raise the worker's exception here, with its notes, chained from its traceback in the worker."""
        err = None
        if self.pickled is not None:
            try:
                err = pickle.loads(self.pickled)
            except Exception:
                err = None
        if err is None:
            err = RuntimeError(f"Caught {self.type_name} in {self.where} (it could not be sent to the main process "
                               f"as it is): {self.message}")
            for note in self.notes:
                _add_note(err, note)
        err.__cause__ = _RemoteTraceback(self.tb)
        try:
            raise err
        finally:
            err = None  # no reference cycle through this frame: the iterator must be freed with the traceback


class ManagerWatchdog:
    """Whether the process that started this worker is still alive (its parent changes when it dies)."""

    def __init__(self):
        self.manager_pid = os.getppid()
        self.manager_dead = False

    def is_alive(self):
        if not self.manager_dead:
            self.manager_dead = os.getppid() != self.manager_pid
        return not self.manager_dead


class _Sender:
    """Writes a worker's messages from a thread, so that the worker goes on with its next task while the main
    process is not reading yet (what mp.Queue's feeder thread does for PyTorch's workers)."""

    def __init__(self, conn):
        self.conn = conn
        self.queue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="tapegrad DataLoader sender", daemon=True)
        self.thread.start()

    def put(self, parts):
        self.queue.put(parts)

    def _run(self):
        while (parts := self.queue.get()) is not None:
            try:
                transport.send(self.conn, parts)
            except OSError:  # the main process closed its end: it wants nothing more
                return

    def close(self, timeout):
        self.queue.put(None)
        self.thread.join(timeout)


def _ignore_sigint(signum, frame):
    pass


def _worker_loop(dataset_kind, dataset, index_queue, result_conn, done_event, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers, persistent_workers,
                 status_check_interval):
    # See NOTE [ DataLoader worker shutdown ] in dataloader.py.
    global _worker_info
    sender = None
    try:
        # NOTE: Ctrl-C reaches every process of the terminal's process group; the main process decides what
        # happens (it shuts its workers down and raises KeyboardInterrupt), so a worker does not die halfway.
        signal.signal(signal.SIGINT, _ignore_sigint)
        seed = base_seed + worker_id
        random.seed(seed)
        _random.manual_seed(seed)  # also seeds numpy's global RNG, which is then given its own state
        np.random.seed(_generate_state(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        where = f"DataLoader worker process {worker_id}"
        sender = _Sender(result_conn)

        def start():
            return _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last, where)

        fetcher, init_error = None, None
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception as err:
            _add_note(err, f"{where}: raised by worker_init_fn({worker_id})")
            init_error = ExceptionWrapper(err, where)
        fetcher, start_error = _started(start, where)
        init_error = init_error or start_error

        iteration_end = False  # this worker's IterableDataset copy is exhausted (until the next epoch)
        watchdog = ManagerWatchdog()
        while watchdog.is_alive():
            try:
                r = index_queue.get(timeout=status_check_interval)
            except queue.Empty:
                if done_event.is_set():
                    break  # shutting down, and the final None did not come
                continue
            if isinstance(r, _ResumeIteration):  # a new epoch for a persistent worker
                sender.put(transport.encode((r, None)))
                iteration_end = False
                if init_error is None or init_error is start_error:
                    fetcher, start_error = _started(start, where)
                    init_error = start_error
                continue
            if r is None:  # the main process is done with this worker
                break
            if done_event.is_set() or iteration_end:
                continue  # shutting down (or nothing left): skip the work, wait for the final None
            idx, index = r
            if init_error is not None:
                data = init_error
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data, iteration_end = _IterableDatasetStopIteration(worker_id), True
                except Exception as err:
                    data = ExceptionWrapper(err, where)
            try:
                parts = transport.encode((idx, data))
            except Exception as err:  # something in the batch cannot be sent (a lambda, a graph)
                _add_note(err, f"{where}: could not send the batch of task {idx} to the main process")
                parts = transport.encode((idx, ExceptionWrapper(err, where)))
            sender.put(parts)
            del data, idx, index, r, parts  # free the batch now, not when the next one arrives
    except KeyboardInterrupt:
        pass
    finally:
        if sender is not None:
            sender.close(status_check_interval)


def _started(start, where):
    """(fetcher, None), or (None, the error of starting one: ``iter(dataset)`` of an IterableDataset may raise)."""
    try:
        return start(), None
    except Exception as err:
        _add_note(err, f"{where}: raised starting to fetch (iter(dataset))")
        return None, ExceptionWrapper(err, where)
