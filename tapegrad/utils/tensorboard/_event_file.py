"""EventFileWriter: appends Event records to a new TensorBoard event file (TFRecord framing, masked CRC32C).

Written here rather than taken from tensorboardX, whose writer names files by the second and host only (a
second writer in the same directory within the same second truncates the first file) and cannot reopen. Files
are named as TensorBoard's own writer names them, ``events.out.tfevents.<time>.<host>.<pid>.<uid><suffix>``,
and opened with ``"xb"``, so an existing file is never overwritten. Records are buffered and flushed every
``max_queue`` events, every ``flush_secs`` seconds (by a daemon thread), on ``flush``/``close`` and at exit.
"""

import atexit
import itertools
import os
import socket
import struct
import threading
import time
import weakref

from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import masked_crc32c

_uid = itertools.count()


def _close_at_exit(ref):
    writer = ref()
    if writer is not None:
        writer.close()


class EventFileWriter:
    """EventFileWriter(logdir, max_queue_size=10, flush_secs=120, filename_suffix='')."""

    def __init__(self, logdir, max_queue_size=10, flush_secs=120, filename_suffix=""):
        self._logdir = str(logdir)
        self._max_queue = max(1, int(max_queue_size))
        self._flush_secs = flush_secs
        self._suffix = filename_suffix
        self._lock = threading.Lock()
        self._file = None
        os.makedirs(self._logdir, exist_ok=True)
        self._open()
        atexit.register(_close_at_exit, weakref.ref(self))

    def _open(self):
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_uid)}"
        self.path = os.path.join(self._logdir, name + self._suffix)
        self._file = open(self.path, "xb")
        self._pending = 0
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self._stop = threading.Event()
        thread = threading.Thread(target=self._flush_periodically, args=(self._stop,), daemon=True,
                                  name="tapegrad-tensorboard-flush")
        thread.start()

    def _flush_periodically(self, stop):
        while not stop.wait(self._flush_secs):
            self.flush()

    def _write(self, data):
        header = struct.pack("<Q", len(data))
        self._file.write(header + struct.pack("<I", masked_crc32c(header)) + data +
                         struct.pack("<I", masked_crc32c(data)))

    def get_logdir(self):
        """The directory of the event file."""
        return self._logdir

    def add_event(self, event):
        """Append one ``Event`` protocol buffer."""
        data = event.SerializeToString()
        with self._lock:
            if self._file is None:
                raise RuntimeError(f"EventFileWriter: cannot add an event to {self.path}: it was closed "
                                   "(reopen() first)")
            self._write(data)
            self._pending += 1
            if self._pending >= self._max_queue:
                self._file.flush()
                self._pending = 0

    def flush(self):
        """Write buffered events to the file."""
        with self._lock:
            if self._file is not None:
                self._file.flush()
                self._pending = 0

    def close(self):
        """Flush and close the file; ``reopen`` starts a new one."""
        with self._lock:
            if self._file is None:
                return
            self._stop.set()
            self._file.flush()
            self._file.close()
            self._file = None

    def reopen(self):
        """After ``close``: open a new event file in the same directory (no-op if still open)."""
        with self._lock:
            if self._file is None:
                self._open()
