"""Fetchers (``torch.utils.data._utils.fetch``): turn one index (or one batch of indices) into one collated batch,
in the main process or in a worker.

An exception raised by the dataset or by ``collate_fn`` keeps its type and message and gains a note naming what
failed: the index, the batch of indices it belonged to, and the worker process if there is one.
"""

from __future__ import annotations

import numpy as np

from ..dataset import _can_gather
from .collate import default_collate

_SHOWN = 8  # indices quoted in a note; a longer batch is quoted as its first ones and its size


def _describe(indices):
    indices = indices.tolist() if isinstance(indices, np.ndarray) else list(indices)
    if len(indices) <= _SHOWN:
        return str(indices)
    return f"[{', '.join(map(str, indices[:_SHOWN]))}, ...] ({len(indices)} indices)"


def _add_note(err, note):
    """Attach ``note`` to ``err``: ``add_note`` on Python 3.11+; before, the note goes into ``__notes__`` and is
    appended to the message (the first argument), since 3.10's tracebacks do not print notes."""
    if hasattr(err, "add_note"):
        err.add_note(note)
        return
    notes = getattr(err, "__notes__", None)
    err.__notes__ = [*notes, note] if isinstance(notes, list) else [note]
    if err.args and isinstance(err.args[0], str):
        err.args = (f"{err.args[0]}\n{note}", *err.args[1:])


class _BaseDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last, where="DataLoader"):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.where = where  # "DataLoader" or "DataLoader worker process <id>", for notes

    def fetch(self, possibly_batched_index):
        raise NotImplementedError

    def _collate(self, data, what, index):
        try:
            return self.collate_fn(data)
        except Exception as err:
            name = getattr(self.collate_fn, "__qualname__", type(self.collate_fn).__name__)
            _add_note(err, f"{self.where}: raised by collate_fn ({name}) collating {_what(what, index)}")
            raise


def _what(what, index):
    """What was being collated, for a note (only formatted when something failed)."""
    if what == "batch":
        return f"the samples at indices {_describe(index)}"
    if what == "sample":
        return f"dataset[{index!r}]"
    first, last = index
    return f"sample {first} of the stream" if what == "stream sample" else f"samples {first} to {last} of the stream"


class _IterableDatasetFetcher(_BaseDatasetFetcher):
    def __init__(self, dataset, auto_collation, collate_fn, drop_last, where="DataLoader"):
        super().__init__(dataset, auto_collation, collate_fn, drop_last, where)
        self.dataset_iter = iter(dataset)
        self.ended = False
        self.count = 0  # samples drawn from this stream so far

    def _next(self):
        try:
            sample = next(self.dataset_iter)
        except StopIteration:
            raise
        except Exception as err:
            _add_note(err, f"{self.where}: raised by the iterator of {type(self.dataset).__name__} drawing sample "
                           f"{self.count} of its stream")
            raise
        self.count += 1
        return sample

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        first = self.count
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(self._next())
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
            return self._collate(data, "stream samples", (first, self.count - 1))
        return self._collate(self._next(), "stream sample", (first, first))


class _MapDatasetFetcher(_BaseDatasetFetcher):
    def __init__(self, dataset, auto_collation, collate_fn, drop_last, where="DataLoader"):
        super().__init__(dataset, auto_collation, collate_fn, drop_last, where)
        # the fast path: a whole batch with one fancy index per tensor, when the result is the same
        self.gather = auto_collation and collate_fn is default_collate and _can_gather(dataset)

    def fetch(self, possibly_batched_index):
        index = possibly_batched_index
        try:
            if self.gather:
                if type(index) is not np.ndarray or index.dtype != np.intp or index.ndim != 1:  # a custom sampler
                    index = np.asarray(index, dtype=np.intp).reshape(-1)
                return self._gather(index)
            if not self.auto_collation:
                return self._collate(self._get(index, None), "sample", index)
            if isinstance(index, np.ndarray):
                index = index.tolist()
            getitems = getattr(self.dataset, "__getitems__", None)
            if getitems:
                try:
                    data = getitems(index)
                except Exception as err:
                    _add_note(err, f"{self.where}: raised by {type(self.dataset).__name__}.__getitems__ fetching "
                                   f"the batch of indices {_describe(index)}")
                    raise
            else:
                data = [self._get(i, index) for i in index]
            return self._collate(data, "batch", index)
        except StopIteration as err:  # would end the loader's iteration silently (PEP 479's reasoning)
            raise RuntimeError(f"{self.where}: the dataset or collate_fn raised StopIteration") from err

    def _get(self, i, batch):
        try:
            return self.dataset[i]
        except Exception as err:
            where = "" if batch is None else f" fetching the batch of indices {_describe(batch)}"
            _add_note(err, f"{self.where}: raised by dataset[{i!r}] ({type(self.dataset).__name__}){where}")
            raise

    def _gather(self, idx):
        dataset = self.dataset
        try:
            return dataset._gather(idx)
        except IndexError:
            n = len(dataset)
            bad = idx[(idx < -n) | (idx >= n)]
            error = IndexError(f"DataLoader: batch index {bad[0] if bad.size else idx} is out of range for a "
                               f"dataset of length {n}")
        except Exception as err:
            _add_note(err, f"{self.where}: raised gathering the batch of indices {_describe(idx)} from "
                           f"{type(dataset).__name__}")
            raise
        if self.where != "DataLoader":
            _add_note(error, f"{self.where}: raised gathering the batch of indices {_describe(idx)}")
        try:
            raise error from None
        finally:
            error = None  # no reference cycle through this frame


class _DatasetKind:
    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last, where="DataLoader"):
        fetcher = _MapDatasetFetcher if kind == _DatasetKind.Map else _IterableDatasetFetcher
        return fetcher(dataset, auto_collation, collate_fn, drop_last, where)
