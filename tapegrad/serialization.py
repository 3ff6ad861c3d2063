"""save / load of nested containers of tensors, without pickle (``torch.save`` / ``torch.load``).

A checkpoint is one zip archive (stored, not compressed) holding

- ``tapegrad/checkpoint.json``: a magic string, the format version, and the structure of the saved object,
  with every tensor or array replaced by a reference to an array member;
- ``tapegrad/arrays/<n>.npy``: the arrays, in numpy's ``.npy`` format, read back with ``allow_pickle=False``.

Every member carries the zip format's CRC-32, checked when it is read, so a truncated or corrupted file is
reported (naming the file and what is wrong) instead of being loaded. Loading never unpickles anything, so a
checkpoint from an untrusted source cannot run code, and it checks everything a hostile file could use before
acting on it (docs/checkpoints.md): only tapegrad's dtypes, only stored (uncompressed) members with unique names,
sizes declared in each ``.npy`` header checked against the bytes stored before anything is allocated, and the
index's nesting bounded. Every refusal is a :class:`CheckpointError` (a ``RuntimeError``) naming the file.

Saving to a path is atomic: the archive is written to a temporary file in the same directory, flushed to disk,
then renamed over the target, so a failed or interrupted save leaves any previous file intact. The temporary's
name says whose it is (``.<name>.tapegrad-<host>-<pid>-<random>.tmp``), so the next save to the same path removes
the temporaries that killed writers left behind, and never a live writer's.
"""

import io
import json
import os
import re
import secrets
import socket
import stat
import struct
import zipfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable

import numpy as np

from . import dtypes
from ._tensor import Tensor, device
from .creation import from_numpy

__all__ = ["save", "load", "CheckpointError", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals"]

MAGIC = "tapegrad-checkpoint"
VERSION = 1
_INDEX = "tapegrad/checkpoint.json"
_ARRAY = "tapegrad/arrays/{}.npy"
_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same object always gives the same bytes
_DICTS = {dict: "dict", OrderedDict: "OrderedDict", Counter: "Counter"}
_DICT_TYPES = {name: cls for cls, name in _DICTS.items()}

# The dtypes a checkpoint may hold: exactly tapegrad's. Adding one (bfloat16, once tapegrad has it) is one entry
# here; save and load both read this list.
ALLOWED_DTYPES = (dtypes.bool, dtypes.uint8, dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64, dtypes.float16,
                  dtypes.float32, dtypes.float64)
_ALLOWED = {d.newbyteorder("<").str: d for d in ALLOWED_DTYPES}  # by little-endian descr ('<f4', '|b1', ...)
MAX_NESTING = 512  # JSON levels the index may nest; deeper files are refused before they are parsed
_MAX_CONTAINERS = 160  # containers save accepts inside each other: each is at most 3 JSON levels


class CheckpointError(RuntimeError):
    """A file that :func:`load` refuses: truncated, corrupted, foreign, or holding something a checkpoint may not
    (a dtype tapegrad lacks, a compressed or duplicated member, sizes that disagree, nesting too deep).

    The message names the file and what is wrong. It is a ``RuntimeError``, as PyTorch's load errors are.
    """


def _allowed_dtype(dt):
    """The tapegrad dtype for a numpy dtype a checkpoint may hold (either byte order), else None."""
    if dt.names is not None or dt.subdtype is not None:
        return None
    allowed = _ALLOWED.get(dt.newbyteorder("<").str)
    return allowed if allowed is not None and allowed.kind == dt.kind else None


def _describe_dtype(dt):
    kinds = {"U": "a string dtype", "S": "a bytes dtype", "V": "a void or structured dtype", "O": "Python objects",
             "M": "a datetime dtype", "m": "a timedelta dtype", "c": "a complex dtype"}
    if dt.names is not None or dt.subdtype is not None:
        return f"{dt} (a structured dtype)"
    if dt.kind == "f" and dt.itemsize > 8:
        return f"{dt} (extended precision)"
    return f"{dt}" + (f" ({kinds[dt.kind]})" if dt.kind in kinds else "")


_ALLOWED_NAMES = ", ".join(str(d) for d in ALLOWED_DTYPES)


# ---------------------------------------------------------------------- save
def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """save(obj, f): write ``obj`` (nested dicts, lists, tuples of tensors, arrays, plain values) to ``f``.

    ``f`` is a path (written atomically) or a binary file object. Supported leaves: Tensor (dtype, shape and
    ``requires_grad`` kept), numpy arrays and scalars of tapegrad's dtypes, int, float, str (numpy strings come
    back as str), bool, None; dict keys may be str, int, float, bool, None or tuples of these. dict, OrderedDict
    and Counter keep their type; tensors that appear several times come back as one tensor.

    tapegrad never pickles: a whole ``nn.Module``, an optimizer or any other object is refused with a TypeError
    that says to save its ``state_dict()``. PyTorch's other arguments (``pickle_module``, ``pickle_protocol``,
    ``_use_new_zipfile_serialization``) are accepted and change nothing: the format is always the same.

    >>> import io, tapegrad as tg
    >>> buf = io.BytesIO()
    >>> tg.save({"w": tg.ones(2), "step": 3}, buf)
    >>> _ = buf.seek(0)
    >>> tg.load(buf)
    {'w': tensor([1., 1.]), 'step': 3}
    """
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    index = json.dumps({"magic": MAGIC, "version": VERSION, "arrays": encoder.specs, "root": root},
                       separators=(",", ":")).encode()
    if isinstance(f, (str, bytes, os.PathLike)):
        _save_atomically(os.fsdecode(f), lambda fh, _: _write_archive(fh, index, encoder.arrays))
    elif hasattr(f, "write"):
        _write_archive(f, index, encoder.arrays)
    else:
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")


class _Encoder:
    """Turns an object into a JSON-able tree; tensors and arrays become references to a list of arrays."""

    def __init__(self):
        self.arrays = []  # also keeps every array alive, so the ids in array_ids are not reused
        self.specs = []
        self.array_ids = {}
        self.tensor_ids = {}
        self.open = set()  # containers on the current path, to refuse reference cycles

    def add_array(self, arr, where):
        key = id(arr)
        if key in self.array_ids:
            return self.array_ids[key]
        if _allowed_dtype(arr.dtype) is None:
            raise TypeError(f"save: cannot save an array of dtype {_describe_dtype(arr.dtype)} at {where}; a "
                            f"checkpoint holds only tapegrad's dtypes ({_ALLOWED_NAMES})")
        n = len(self.arrays)
        self.arrays.append(arr)
        self.specs.append({"dtype": arr.dtype.str, "shape": list(arr.shape)})
        self.array_ids[key] = n
        return n

    def encode(self, x, where):
        if x is None or type(x) in (bool, int, float, str):
            return x
        if isinstance(x, Tensor):
            key = id(x)
            if key not in self.tensor_ids:
                self.tensor_ids[key] = len(self.tensor_ids)
            return {"$": "tensor", "array": self.add_array(x.detach().numpy(), where), "id": self.tensor_ids[key],
                    "requires_grad": bool(x.requires_grad)}
        if isinstance(x, np.ndarray):
            return {"$": "ndarray", "array": self.add_array(x, where)}
        if isinstance(x, np.str_):  # a str: a checkpoint holds no string arrays
            return str(x)
        if isinstance(x, np.generic):
            return {"$": "numpy_scalar", "array": self.add_array(np.asarray(x), where)}
        if isinstance(x, bool):
            return bool(x)
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return float(x)
        if isinstance(x, str):
            return str(x)
        if isinstance(x, (dict, list, tuple)):
            if id(x) in self.open:
                raise ValueError(f"save: the object contains a reference cycle at {where}")
            self._check_depth(len(self.open) + 1, where)
            self.open.add(id(x))
            try:
                if isinstance(x, dict):
                    kind = _DICTS.get(type(x), "dict")
                    items = [[self.encode_key(k, where), self.encode(v, f"{where}[{k!r}]")]
                             for k, v in x.items()]
                    return {"$": kind, "items": items}
                kind = "tuple" if isinstance(x, tuple) else "list"
                return {"$": kind, "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(x)]}
            finally:
                self.open.discard(id(x))
        if callable(getattr(x, "state_dict", None)):
            what = ("model" if callable(getattr(x, "parameters", None)) else
                    "optimizer" if hasattr(x, "param_groups") else "obj")
            raise TypeError(f"save: cannot save a whole {type(x).__name__} at {where}: tapegrad never pickles "
                            f"objects. Save its state instead: tapegrad.save({what}.state_dict(), f), and restore "
                            f"it into a new {type(x).__name__} with {what}.load_state_dict(tapegrad.load(f))")
        raise TypeError(f"save: cannot save an object of type {type(x).__name__} at {where}; supported are "
                        "Tensor, numpy arrays and scalars, dict, OrderedDict, Counter, list, tuple, int, "
                        "float, str, bool and None (tapegrad never pickles)")

    def encode_key(self, k, where, depth=0):
        if isinstance(k, (np.integer, np.floating, np.bool_)):
            k = k.item()
        if k is None or isinstance(k, (bool, int, float, str)):
            return self.encode(k, where)
        if isinstance(k, tuple):
            self._check_depth(len(self.open) + depth + 1, where)
            return {"$": "tuple", "items": [self.encode_key(v, where, depth + 1) for v in k]}
        raise TypeError(f"save: cannot save a dict key of type {type(k).__name__} ({k!r}) in {where}; keys "
                        "may be str, int, float, bool, None or tuples of these")


    @staticmethod
    def _check_depth(depth, where):
        # load refuses an index nesting deeper than MAX_NESTING JSON levels; a container is at most 3 of them
        if depth > _MAX_CONTAINERS:
            raise ValueError(f"save: the object nests more than {_MAX_CONTAINERS} containers deep at "
                             f"{where[:200]}...; a checkpoint's structure may nest at most {_MAX_CONTAINERS} "
                             "dicts, lists or tuples")


def _write_archive(fh, index, arrays):
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_member(_INDEX), index)
        for n, arr in enumerate(arrays):
            with zf.open(_member(_ARRAY.format(n)), "w", force_zip64=arr.nbytes > 2**30) as out:
                np.lib.format.write_array(out, arr, allow_pickle=False)


def _member(name):
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _save_atomically(path, write):
    """Call ``write(fh, tmp_path)`` on a new temporary file beside ``path``, flush it to disk, then rename it over
    ``path``. First remove the temporaries that killed writers (no longer alive) left for this path.

    The temporary is ``.<name>.tapegrad-<host>-<pid>-<8 hex digits>.tmp`` (docs/checkpoints.md), so a later save
    can tell whose it is: ``<host>`` is this machine's name (and, on Linux, its pid namespace), ``<pid>`` the
    writer's process id.
    """
    path = os.path.realpath(path)  # through a symlink, as writing the file would
    directory, name = os.path.split(path)
    _remove_dead_temporaries(directory, name)
    tmp = os.path.join(directory, f"{_temp_prefix(name)}{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh, tmp)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # overwriting keeps the old file's mode
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible everywhere, and not needed for correctness
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


_TEMP_REST = re.compile(r"(?P<host>[A-Za-z0-9._]+)-(?P<pid>[0-9]{1,10})-[0-9a-f]{8}\.tmp")


def _temp_prefix(name):
    return f".{name[:120]}.tapegrad-"  # names stay within the usual 255-byte limit


def _host_tag():
    """This machine's name, made safe for a file name, and on Linux the pid namespace, in which pids are unique."""
    host = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:40] or "host"
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # 'pid:[4026531836]'
    except OSError:
        return host
    return f"{host}_{''.join(c for c in namespace if c.isdigit())}"


def _remove_dead_temporaries(directory, name):
    """Remove the temporaries of saves to ``name`` whose writer, on this host, is no longer alive.

    Only on POSIX, where ``os.kill(pid, 0)`` asks whether a process exists without touching it. A temporary of
    another host, or of a live process (a recycled pid included), is left alone.
    """
    if os.name != "posix":
        return
    prefix, me = _temp_prefix(name), _host_tag()
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return
    for entry in names:
        match = _TEMP_REST.fullmatch(entry[len(prefix):]) if entry.startswith(prefix) else None
        if match is None or match["host"] != me or _alive(int(match["pid"])):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:  # removed by another writer meanwhile, or not ours to remove
            pass


def _alive(pid):
    if pid <= 0:
        return True  # never signal a process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists but belongs to someone else, or cannot be asked: keep its file
    return True


# ---------------------------------------------------------------------- load
class _CorruptCheckpoint(Exception):
    """Raised inside load; reported as "load: FILE is truncated or corrupted: ..." """

    verdict = "is truncated or corrupted"


class _RefusedCheckpoint(_CorruptCheckpoint):
    """A well-formed member that a checkpoint may not hold (a dtype tapegrad lacks, a compressed member ...)."""

    verdict = "is refused"


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None): read what :func:`save`
    wrote.

    ``f`` is a path or a binary file object. Nothing is ever unpickled, whatever ``weights_only`` says, so
    ``weights_only`` and ``**pickle_load_args`` change nothing (an explicit ``pickle_module`` with
    ``weights_only=True`` is refused, as in PyTorch). ``map_location`` may be None, ``'cpu'``, a ``device``, a
    dict of locations (``{'cuda:0': 'cpu'}``) or a function ``(tensor, 'cpu')`` returning the tensor to use (or
    None); tapegrad runs on the CPU only, so another device is a RuntimeError. ``mmap=True`` (a path only) maps
    the arrays from the file, copy on write, instead of reading them; their checksums are still verified. A path
    ending in ``.safetensors`` is read with :func:`tapegrad.safetensors.load_file`, as PyTorch does.

    A file that is truncated, corrupted, foreign or hostile raises :class:`CheckpointError` (a RuntimeError)
    naming the file and the problem (docs/checkpoints.md).

    >>> import io, tapegrad as tg
    >>> buf = io.BytesIO()
    >>> tg.save([tg.tensor([1, 2]), (1.5, None)], buf)
    >>> _ = buf.seek(0)
    >>> tg.load(buf)
    [tensor([1, 2]), (1.5, None)]
    """
    if weights_only and pickle_module is not None:
        raise RuntimeError("load: Can not safely load weights when explicit pickle_module is specified")
    if isinstance(f, (str, bytes, os.PathLike)) and os.fsdecode(f).endswith(".safetensors"):
        return SUFFIX_LOADERS[".safetensors"](os.fsdecode(f), map_location)
    relocate = _map_location(map_location)
    if isinstance(f, (str, bytes, os.PathLike)):
        name = os.fsdecode(f)
        with open(name, "rb") as fh:
            return _load_from(fh, name, relocate, name if mmap else None)
    if not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
    if mmap:
        raise ValueError("load: f must be a file path in order to use the mmap argument")
    name = str(getattr(f, "name", "<file object>"))
    if not (getattr(f, "seekable", lambda: False)()):
        f = io.BytesIO(f.read())
    return _load_from(f, name, relocate)


# Readers of other formats by file suffix: tapegrad.safetensors registers ".safetensors" (it is above this module).
SUFFIX_LOADERS: dict[str, Callable] = {}  # suffix -> loader(path, map_location)


def _load_from(fh, name, relocate, mmap_path=None):
    start = fh.tell()
    head = fh.read(4)
    fh.seek(start)
    if not head:
        raise CheckpointError(f"load: {name} is empty (0 bytes); it is not a tapegrad checkpoint")
    try:
        with zipfile.ZipFile(fh) as zf:
            root, arrays = _read_archive(zf, fh, name, mmap_path)
    except zipfile.BadZipFile as e:
        if head == b"PK\x03\x04":
            raise CheckpointError(f"load: {name} is truncated or corrupted: {e}") from None
        raise CheckpointError(f"load: {name} is not a tapegrad checkpoint: it is not a zip archive (it starts "
                              f"with {head!r}); was it written by tapegrad.save?") from None
    except _CorruptCheckpoint as e:
        raise CheckpointError(f"load: {name} {e.verdict}: {e}") from None
    except (EOFError, zlib.error, struct.error, ValueError, OverflowError, KeyError, IndexError, OSError,
            NotImplementedError, zipfile.LargeZipFile) as e:
        # what zipfile raises for a damaged archive: a bad header, an unknown compression method or zip version,
        # a file name that is not UTF-8, a read past the end...
        raise CheckpointError(f"load: {name} is truncated or corrupted: {type(e).__name__}: {e}") from None
    try:
        return _Decoder(arrays, relocate).decode(root)
    except _CorruptCheckpoint as e:
        raise CheckpointError(f"load: {name} is corrupted: {e}") from None


def _read_archive(zf, fh, name, mmap_path):
    data_starts = _check_members(zf, fh)
    names = set(zf.namelist())
    if _INDEX not in names:
        hint = (" (it looks like a PyTorch checkpoint, which cannot be read without unpickling)"
                if any(n.endswith("data.pkl") for n in names) else "")
        raise CheckpointError(f"load: {name} is a zip archive but not a tapegrad checkpoint: it has no {_INDEX}"
                              f"{hint}")
    index = _parse_index(zf.read(_INDEX))
    if not isinstance(index, dict) or index.get("magic") != MAGIC:
        raise CheckpointError(f"load: {name} is not a tapegrad checkpoint: its index has no magic {MAGIC!r}")
    version = index.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"load: {name} has checkpoint format version {version!r}; this tapegrad reads "
                              f"versions up to {VERSION} (upgrade tapegrad)")
    specs = index.get("arrays")
    if not isinstance(specs, list):
        raise _CorruptCheckpoint("its index has no list of arrays")
    return index.get("root"), [_read_array(fh, zf, n, spec, data_starts, mmap_path) for n, spec in enumerate(specs)]


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header (30 bytes)
_UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, compressed patched data, strong encryption
_METHODS = {zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}


def _check_members(zf, fh):
    """Refuse what tapegrad never writes before reading any member: duplicate names, compressed or encrypted
    members, members whose local header names another, and members whose bytes are not wholly inside the
    archive or overlap another's.

    After this every read is bounded by the file's own size, whatever the archive declares. Returns each
    member's data offset in the file.
    """
    infos = zf.infolist()
    seen = set()
    for info in infos:
        if info.filename in seen:
            raise _RefusedCheckpoint(f"it has two members named {info.filename} (readers could disagree about "
                                     "which one the file holds)")
        seen.add(info.filename)
        if info.compress_type != zipfile.ZIP_STORED:
            method = _METHODS.get(info.compress_type, "unknown")
            raise _RefusedCheckpoint(f"member {info.filename} is compressed (method {info.compress_type}, "
                                     f"{method}); tapegrad writes only stored members")
        if info.flag_bits & _UNSUPPORTED_FLAGS:
            raise _RefusedCheckpoint(f"member {info.filename} is encrypted (flags {info.flag_bits:#06x}); tapegrad "
                                     "writes only plain stored members")
        if info.compress_size != info.file_size:
            raise _CorruptCheckpoint(f"stored member {info.filename} has {info.compress_size} bytes but declares "
                                     f"{info.file_size} once extracted")
    spans, starts = [], {}
    for info in infos:
        fh.seek(info.header_offset)
        header = fh.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise _CorruptCheckpoint(f"member {info.filename} has no local header at offset {info.header_offset}")
        fields = _LOCAL_HEADER.unpack(header)
        local_name = fh.read(fields[-2])
        try:
            local_name = local_name.decode("utf-8" if fields[3] & 0x800 else "cp437")
        except UnicodeDecodeError:
            pass
        if local_name != info.orig_filename:
            raise _CorruptCheckpoint(f"member {info.filename} is named {local_name!r} in its local header")
        starts[info.filename] = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
        end = starts[info.filename] + info.compress_size
        if end > zf.start_dir:
            raise _CorruptCheckpoint(f"member {info.filename} runs past the end of the archive's data ({end} > "
                                     f"{zf.start_dir} bytes)")
        spans.append((info.header_offset, end, info.filename))
    spans.sort()
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:]):
        if begin < end:
            raise _CorruptCheckpoint(f"members {first} and {second} overlap")
    return starts


def _parse_index(raw):
    """The index's JSON, refused before parsing when it nests deeper than MAX_NESTING (no RecursionError)."""
    depth = _json_depth(raw)
    if depth > MAX_NESTING:
        raise _RefusedCheckpoint(f"its index {_INDEX} nests {depth} levels deep; checkpoints nest at most "
                                 f"{MAX_NESTING}")
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, too many digits, duplicate keys
        raise _CorruptCheckpoint(f"its index {_INDEX} is not valid JSON ({e})") from None


def _json_depth(raw, chunk=1 << 20):
    """The deepest nesting of [ and { outside strings: vectorized, linear time, no recursion, bounded memory."""
    best = depth = 0
    odd_backslashes = in_string = 0  # carried from one chunk to the next
    for start in range(0, len(raw), chunk):
        a = np.frombuffer(raw, np.uint8, count=min(chunk, len(raw) - start), offset=start)
        positions = np.arange(a.size)
        last_other = np.maximum.accumulate(np.where(a == 0x5C, -1, positions))
        run = positions - last_other + odd_backslashes * (last_other < 0)  # backslashes ending here
        escaped = np.empty(a.size, bool)  # a character is escaped when an odd run of backslashes precedes it
        escaped[0] = odd_backslashes
        escaped[1:] = run[:-1] % 2 == 1
        quotes = np.cumsum((a == 0x22) & ~escaped) + in_string
        step = ((a == 0x5B) | (a == 0x7B)).astype(np.int64) - ((a == 0x5D) | (a == 0x7D))
        levels = np.cumsum(step * (quotes % 2 == 0)) + depth
        best = max(best, int(levels.max()))
        depth, in_string, odd_backslashes = int(levels[-1]), int(quotes[-1] % 2), int(run[-1] % 2)
    return best


def _unique_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError(f"duplicate key in a JSON object ({sorted(k for k, _ in pairs)[:5]}...)")
    return obj


_MAX_NPY_HEADER = 10000  # numpy's own bound on a .npy header (tapegrad writes 128 bytes)
_NPY_PREFIX = (1 << 16) + 16  # a .npy header is parsed from at most this many first bytes of its member
_CHUNK = 1 << 26  # reads and checksums go in pieces of at most 64 MiB


def _read_array(fh, zf, n, spec, starts, mmap_path=None):
    """Read array member ``n`` straight from the file into a new array, after checking its .npy header (dtype,
    shape, declared size equal to the stored size) and before allocating anything; then its CRC-32.

    With ``mmap_path`` the array is mapped from the file (copy on write) instead of read; its CRC-32 is still
    computed, over the mapped pages.
    """
    member = _ARRAY.format(n)
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise _CorruptCheckpoint(f"array member {member} is missing") from None
    start = starts[member]
    fh.seek(start)
    prefix = fh.read(min(info.file_size, _NPY_PREFIX))
    head = io.BytesIO(prefix)
    dtype, shape, fortran = _read_npy_header(head, member)
    header_size = head.tell()
    data_size = info.file_size - header_size
    nbytes = dtype.itemsize * _product(shape)  # Python ints: no overflow
    if nbytes != data_size:
        raise _CorruptCheckpoint(f"array member {member} declares {dtype.str} {list(shape)} ({nbytes:,} bytes) "
                                 f"but stores {data_size:,} bytes of data")
    if not isinstance(spec, dict) or dtype.str != spec.get("dtype") or list(shape) != spec.get("shape"):
        raise _CorruptCheckpoint(f"array member {member} holds {dtype.str} {list(shape)} but the index says "
                                 f"{spec!r}")
    order = "F" if fortran else "C"
    if mmap_path is not None and nbytes:
        arr = np.asarray(np.memmap(mmap_path, dtype, "c", start + header_size, shape, order))
    else:
        arr = np.empty(shape, dtype, order=order)
        _read_into(fh, start + header_size, _bytes_of(arr), member)
    crc = zlib.crc32(prefix[:header_size])
    data = _bytes_of(arr)
    for at in range(0, nbytes, _CHUNK):
        crc = zlib.crc32(data[at:at + _CHUNK], crc)
    if crc != info.CRC:
        raise _CorruptCheckpoint(f"Bad CRC-32 for file {member!r}")
    return arr


def _bytes_of(arr):
    """The array's bytes in file order (C order, or Fortran order for a Fortran array), as a writable view."""
    return memoryview((arr.T if arr.flags.f_contiguous and not arr.flags.c_contiguous else arr).reshape(-1)
                      .view(np.uint8))


def _read_into(fh, offset, buffer, member):
    fh.seek(offset)
    done, total = 0, len(buffer)
    readinto = getattr(fh, "readinto", None)
    while done < total:
        if readinto is not None:
            got = readinto(buffer[done:done + _CHUNK])
        else:
            piece = fh.read(min(_CHUNK, total - done))
            buffer[done:done + len(piece)] = piece
            got = len(piece)
        if not got:
            raise _CorruptCheckpoint(f"array member {member} ends after {done:,} of {total:,} bytes")
        done += got


def _read_npy_header(fp, member):
    """(dtype, shape, fortran_order) from a .npy header, refusing dtypes and shapes a checkpoint may not hold."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, max_header_size=_MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, max_header_size=_MAX_NPY_HEADER)
        else:
            raise _CorruptCheckpoint(f"array member {member} has .npy format version {version}; tapegrad writes "
                                     "1.0 (2.0 is also read)")
    except _CorruptCheckpoint:
        raise
    except Exception as e:  # noqa: BLE001
        # numpy parses the (at most 64 KiB) header text with ast.literal_eval, and old headers with tokenize: a
        # crafted header can raise ValueError, SyntaxError, RecursionError, tokenize.TokenError, ...
        raise _CorruptCheckpoint(f"array member {member} has an invalid .npy header "
                                 f"({type(e).__name__}: {str(e)[:200]})") from None
    if _allowed_dtype(dtype) is None:
        raise _RefusedCheckpoint(f"array member {member} has dtype {_describe_dtype(dtype)}; a checkpoint holds "
                                 f"only tapegrad's dtypes ({_ALLOWED_NAMES})")
    if not all(type(d) is int and d >= 0 for d in shape):
        raise _CorruptCheckpoint(f"array member {member} declares the shape {shape!r}; dimensions must be "
                                 "non-negative integers")
    if dtype.itemsize * _product(d for d in shape if d) > np.iinfo(np.intp).max:  # numpy's own limit
        raise _CorruptCheckpoint(f"array member {member} declares the shape {shape!r}, larger than any array "
                                 "can be")
    return dtype, shape, fortran


def _product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class _Decoder:
    def __init__(self, arrays, relocate):
        self.arrays = arrays
        self.relocate = relocate
        self.tensors = {}

    def array(self, node):
        k = node.get("array")
        if not isinstance(k, int) or not 0 <= k < len(self.arrays):
            raise _CorruptCheckpoint(f"reference to array {k!r}, but there are {len(self.arrays)} arrays")
        return self.arrays[k]

    def decode(self, node):
        if node is None or type(node) in (bool, int, float, str):
            return node
        kind = node.get("$") if isinstance(node, dict) else None
        if not isinstance(kind, str):
            raise _CorruptCheckpoint(f"unexpected node {str(node)[:80]!r} in the index")
        if kind == "tensor":
            key = node.get("id")
            if not isinstance(key, int):
                raise _CorruptCheckpoint(f"a tensor node has id {key!r}, not an int")
            t = self.tensors.get(key)
            if t is None:
                arr = self.array(node)
                if not arr.dtype.isnative:  # written on a machine of the other byte order
                    arr = arr.astype(arr.dtype.newbyteorder("="))
                t = from_numpy(arr)
                if node.get("requires_grad") and t._data.dtype.kind == "f":
                    t.requires_grad = True
                if self.relocate is not None:
                    moved = self.relocate(t, "cpu")
                    t = moved if isinstance(moved, Tensor) else t
                self.tensors[key] = t
            return t
        if kind == "ndarray":
            return self.array(node)
        if kind == "numpy_scalar":
            arr = self.array(node)
            if arr.ndim:
                raise _CorruptCheckpoint(f"a numpy scalar refers to an array of shape {list(arr.shape)}")
            return arr[()]
        if kind not in ("list", "tuple") and kind not in _DICT_TYPES:
            raise _CorruptCheckpoint(f"unknown node type {kind!r} in the index")
        items = node.get("items")
        if not isinstance(items, list):
            raise _CorruptCheckpoint(f"a {kind!r} node has no list of items")
        if kind == "list":
            return [self.decode(v) for v in items]
        if kind == "tuple":
            return tuple(self.decode(v) for v in items)
        out = _DICT_TYPES[kind]()
        for pair in items:
            if not isinstance(pair, list) or len(pair) != 2:
                raise _CorruptCheckpoint(f"a {kind} item is not a (key, value) pair")
            key = self.decode(pair[0])
            try:
                hash(key)
            except TypeError:
                raise _CorruptCheckpoint(f"a {kind} key {str(key)[:80]} is not hashable") from None
            out[key] = self.decode(pair[1])
        return out


def _map_location(map_location):
    """A function applied to each loaded tensor, or None; any location must be the CPU.

    As in PyTorch: a dict maps the location a tensor was saved at (always 'cpu' here) to the one to use; a
    callable gets ``(tensor, 'cpu')`` and returns the tensor to use, or None for the default.
    """
    if map_location is None:
        return None
    if isinstance(map_location, dict):
        _check_location(map_location.get("cpu", "cpu"))
        return None
    if isinstance(map_location, (str, bytes, device)) or isinstance(getattr(map_location, "type", None), str):
        _check_location(map_location)  # a device, ours or another library's (torch.device('cpu'))
        return None
    if callable(map_location):
        def relocate(t, location):  # noqa: E306
            moved = map_location(t, location)
            if moved is None:
                return t
            if not isinstance(moved, Tensor):
                raise TypeError(f"load: map_location returned a {type(moved).__name__}; it must return a tensor "
                                "or None")
            return moved
        return relocate
    raise TypeError(f"load: map_location must be a str, device, dict or callable, got "
                    f"{type(map_location).__name__}")


def _check_location(loc):
    where = loc.decode() if isinstance(loc, bytes) else loc if isinstance(loc, str) else str(loc.type)
    if where.split(":")[0] != "cpu":
        raise RuntimeError(f"load: map_location {where!r} is not available; tapegrad runs on the CPU only")


# ---------------------------------------------------------------------- safe globals (PyTorch's API)
_safe_globals: set[Callable | tuple[Callable, str]] = set()


def add_safe_globals(safe_globals):
    """add_safe_globals(safe_globals): accepted for PyTorch's API; not needed, because nothing is unpickled.

    PyTorch's ``weights_only`` unpickler calls only the globals on this list; tapegrad's checkpoints hold no
    pickles, so the list is kept (``get_safe_globals``) but never consulted.

    >>> import tapegrad as tg
    >>> tg.serialization.add_safe_globals([dict])
    >>> tg.serialization.get_safe_globals()
    [<class 'dict'>]
    >>> tg.serialization.clear_safe_globals()
    """
    global _safe_globals
    _safe_globals = _safe_globals.union(set(safe_globals))


def get_safe_globals():
    """get_safe_globals() -> list: the globals given to ``add_safe_globals`` (never used: nothing is unpickled)."""
    return list(_safe_globals)


def clear_safe_globals():
    """clear_safe_globals(): empty the list of safe globals."""
    global _safe_globals
    _safe_globals = set()


class safe_globals:
    """safe_globals(safe_globals): context manager that adds globals for its duration, as PyTorch's does; not
    needed, because nothing is unpickled.

    >>> import tapegrad as tg
    >>> with tg.serialization.safe_globals([dict]):
    ...     tg.serialization.get_safe_globals()
    [<class 'dict'>]
    >>> tg.serialization.get_safe_globals()
    []
    """

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        add_safe_globals(self.safe_globals)

    def __exit__(self, exc_type, exc_value, traceback):
        global _safe_globals
        _safe_globals = _safe_globals - set(self.safe_globals)
