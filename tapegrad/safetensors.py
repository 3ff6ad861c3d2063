"""safetensors files for tapegrad, with ``safetensors.torch``'s API: the format for sharing weights.

    from tapegrad.safetensors import save_file, load_file, save_model, load_model

A ``.safetensors`` file is an 8-byte header length, a JSON header (each tensor's dtype, shape and byte range)
and the raw little-endian data: it holds no code, and PyTorch, JAX, Hugging Face and others read it. This module
reads and writes it through the ``safetensors`` package's numpy API (an optional extra:
``pip install tapegrad[safetensors]``). Tensors come back as tapegrad tensors that own their memory; only
tapegrad's dtypes are accepted (a tensor of another dtype, BF16 for instance, is refused naming it). Files are
written atomically (a temporary beside the target, flushed, then renamed), as :func:`tapegrad.save` does.

A state_dict written by PyTorch with ``safetensors.torch.save_file`` loads into the same tapegrad module, and
the reverse (tests/test_safetensors.py checks both, with the same outputs).
"""

import json
import os
import struct
from collections import defaultdict

import numpy as np

from . import dtypes
from ._optional import require
from ._tensor import Tensor, device
from .creation import from_numpy
from .serialization import SUFFIX_LOADERS, CheckpointError, _save_atomically

__all__ = ["save_file", "load_file", "save", "load", "save_model", "load_model"]

# safetensors' dtype codes of tapegrad's dtypes; a file's tensor of any other code is refused by name. bfloat16
# ("BF16") is one entry here once tapegrad has the dtype.
DTYPES = {"BOOL": dtypes.bool, "U8": dtypes.uint8, "I8": dtypes.int8, "I16": dtypes.int16, "I32": dtypes.int32,
          "I64": dtypes.int64, "F16": dtypes.float16, "F32": dtypes.float32, "F64": dtypes.float64}


def _package():
    require("safetensors.numpy", feature="tapegrad.safetensors (reading and writing .safetensors files)",
            extra="safetensors")
    import safetensors

    return safetensors


# ---------------------------------------------------------------------- save
def save(tensors, metadata=None):
    """save(tensors, metadata=None) -> bytes: a dict of tensors in the safetensors format.

    ``metadata`` is an optional dict of str to str stored in the header. Tensors must be contiguous and must not
    share memory (see :func:`save_model` for tied weights).

    >>> import tapegrad as tg
    >>> from tapegrad.safetensors import save, load
    >>> load(save({"w": tg.ones(2, 3)}))["w"].shape
    tapegrad.Size([2, 3])
    """
    arrays = _arrays_to_save(tensors, metadata)
    return _package().numpy.save(arrays, metadata=metadata)


def save_file(tensors, filename, metadata=None):
    """save_file(tensors, filename, metadata=None): write a dict of tensors to a ``.safetensors`` file, atomically.

    >>> import os, tempfile, tapegrad as tg
    >>> from tapegrad.safetensors import save_file, load_file
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> save_file({"w": tg.arange(3.0)}, path, metadata={"format": "pt"})
    >>> load_file(path)
    {'w': tensor([0., 1., 2.])}
    """
    arrays = _arrays_to_save(tensors, metadata)
    if not isinstance(filename, (str, bytes, os.PathLike)):
        raise TypeError(f"save_file: filename must be a path, got {type(filename).__name__}")
    package = _package()

    def write(fh, tmp):  # the library writes the temporary by its name; _save_atomically renames it
        package.numpy.save_file(arrays, tmp, metadata=metadata)
        fd = os.open(tmp, os.O_RDONLY)  # the library may have replaced the file: flush the one now at tmp
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    _save_atomically(os.fsdecode(filename), write)


def save_model(model, filename, metadata=None, force_contiguous=True):
    """save_model(model, filename, metadata=None, force_contiguous=True): save ``model.state_dict()``, keeping one
    name for each group of tensors that share memory (tied weights), as ``safetensors.torch.save_model`` does.

    Each name dropped is recorded in the metadata (``{dropped: kept}``) unless the caller's metadata already has
    it; :func:`load_model` restores the tie. ``force_contiguous`` packs non-contiguous tensors first.
    """
    state_dict = model.state_dict()
    for kept, dropped in _remove_duplicate_names(state_dict).items():
        for name in dropped:
            if metadata is None:
                metadata = {}
            if name not in metadata:
                metadata[name] = kept
            del state_dict[name]
    if force_contiguous:
        state_dict = {k: v.contiguous() for k, v in state_dict.items()}
    try:
        save_file(state_dict, filename, metadata=metadata)
    except ValueError as e:
        raise ValueError(f"{e} Or use save_model(..., force_contiguous=True), read the docs for potential "
                         "caveats.") from None


def _arrays_to_save(tensors, metadata):
    if not isinstance(tensors, dict):
        raise ValueError(f"save: expected a dict of [str, Tensor] but received {type(tensors)}")
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise ValueError(f"save: key {k!r} is a {type(k).__name__}; safetensors names tensors with str keys")
        if not isinstance(v, Tensor):
            raise ValueError(f"Key `{k}` is invalid, expected Tensor but received {type(v)}")
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in metadata.items()):
            raise TypeError(f"save: metadata must be a dict of str to str, got {metadata!r:.200}")
    failing = [names for names in _find_shared_tensors(tensors) if len(names) > 1]
    if failing:
        raise RuntimeError(f"Some tensors share memory, this will lead to duplicate memory on disk and potential "
                           f"differences when loading them again: {failing}. A potential way to correctly save "
                           "your model is to use `save_model`.")
    arrays = {}
    for k, v in tensors.items():
        arr = v.detach().numpy()
        if not arr.flags.c_contiguous:
            raise ValueError(f"You are trying to save a non contiguous tensor: `{k}` which is not allowed. It either "
                             "means you are trying to save tensors which are reference of each other in which case "
                             "it's recommended to save only the full tensors, and reslice at load time, or simply "
                             "call `.contiguous()` on your tensor to pack it before saving.")
        arrays[k] = arr
    return arrays


# ---------------------------------------------------------------------- tensors that share memory
def _storage(arr):
    base = arr
    while isinstance(base.base, np.ndarray):
        base = base.base
    return base


def _data_ptr(arr):
    return arr.__array_interface__["data"][0]


def _find_shared_tensors(state_dict):
    """Groups of names whose tensors overlap in memory (``safetensors.torch._find_shared_tensors``)."""
    groups = defaultdict(set)
    for k, v in state_dict.items():
        storage = _storage(v.detach().numpy())
        if storage.nbytes:
            groups[(_data_ptr(storage), storage.nbytes)].add(k)
    shared = []
    for names in groups.values():
        if len(names) < 2:
            shared.append(names)
            continue
        areas = sorted((*np.lib.array_utils.byte_bounds(state_dict[n].detach().numpy()), n) for n in names)
        _, last_stop, last_name = areas[0]
        shared.append({last_name})
        for start, stop, name in areas[1:]:
            if start >= last_stop:
                shared.append({name})
            else:
                shared[-1].add(name)
            last_stop = stop
    return shared


def _is_complete(t):
    arr = t.detach().numpy()
    storage = _storage(arr)
    return _data_ptr(arr) == _data_ptr(storage) and arr.nbytes == storage.nbytes


def _remove_duplicate_names(state_dict, *, preferred_names=None, discard_names=None):
    """{kept name: [names dropped]} for each group of tensors sharing memory
    (``safetensors.torch._remove_duplicate_names``)."""
    preferred_names = set(preferred_names or [])
    discard_names = set(discard_names or [])
    to_remove = defaultdict(list)
    for shared in _find_shared_tensors(state_dict):
        complete = {name for name in shared if _is_complete(state_dict[name])}
        if not complete:
            raise RuntimeError(f"Error while trying to find names to remove to save state dict, but found no "
                               f"suitable name to keep for saving amongst: {shared}. None is covering the entire "
                               "storage. Refusing to save/load the model since you could be storing much more "
                               "memory than needed.")
        keep = sorted(complete)[0]
        if complete - discard_names:
            keep = sorted(complete - discard_names)[0]
        if preferred_names & complete:
            keep = sorted(preferred_names & complete)[0]
        for name in sorted(shared):
            if name != keep:
                to_remove[keep].append(name)
    return to_remove


# ---------------------------------------------------------------------- load
def load(data):
    """load(data: bytes) -> dict: the tensors of a safetensors file's bytes, by name, in file order.

    >>> import tapegrad as tg
    >>> from tapegrad.safetensors import save, load
    >>> load(save({"b": tg.tensor([1, 2]), "a": tg.tensor(True)}))
    {'b': tensor([1, 2]), 'a': tensor(True)}
    """
    package = _package()
    try:
        flat = package.deserialize(data)
    except package.SafetensorError as e:
        raise CheckpointError(f"load: the data is not a valid safetensors file: {e}") from None
    (n,) = struct.unpack("<Q", data[:8])  # valid: deserialize checked it
    offsets = {k: v["data_offsets"][0] for k, v in json.loads(bytes(data[8:8 + n])).items() if k != "__metadata__"}
    out = {}
    for name, info in sorted(flat, key=lambda item: (offsets.get(item[0], 0), item[0])):
        dtype = _dtype(info["dtype"], name, "load", "the data")
        count = int(np.prod(info["shape"], dtype=object))
        if count * dtype.itemsize != len(info["data"]):
            raise CheckpointError(f"load: tensor {name!r} declares {info['dtype']} {info['shape']} but holds "
                                  f"{len(info['data'])} bytes")
        arr = np.frombuffer(info["data"], dtype.newbyteorder("<"), count).reshape(info["shape"])
        out[name] = _tensor(arr)
    return out


def load_file(filename, device="cpu", *, backend="mmap"):
    """load_file(filename, device='cpu') -> dict: the tensors of a ``.safetensors`` file, by name, in file order.

    Only the CPU is available; a tensor whose dtype tapegrad lacks is refused naming it, and a damaged file
    raises ``CheckpointError`` (a RuntimeError) naming the file.
    """
    package = _package()
    _check_device(device, "load_file")
    name = os.fsdecode(filename) if isinstance(filename, (str, bytes, os.PathLike)) else str(filename)
    options = {} if backend == "mmap" else {"backend": backend}
    try:
        with package.safe_open(filename, framework="np", **options) as f:
            for key in f.keys():
                _dtype(f.get_slice(key).get_dtype(), key, "load_file", name)
            arrays = f.get_tensors()
    except package.SafetensorError as e:
        raise CheckpointError(f"load_file: {name} is not a valid safetensors file: {e}") from None
    return {k: _tensor(arr) for k, arr in arrays.items()}


def load_model(model, filename, strict=True, device="cpu", *, backend="mmap"):
    """load_model(model, filename, strict=True, device='cpu') -> (missing, unexpected): load a file into
    ``model`` (as ``safetensors.torch.load_model``), restoring tied weights that :func:`save_model` saved once.

    ``missing`` (a set) are the model's names that the file did not set, ``unexpected`` (a list) the file's
    names the model does not have; with ``strict`` either is a RuntimeError. Shapes must match (RuntimeError
    naming each mismatch); values are cast to the parameters' dtypes, as ``load_state_dict`` does.
    """
    state_dict = load_file(filename, device=device, backend=backend)
    to_removes = _remove_duplicate_names(model.state_dict(), preferred_names=state_dict.keys())
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing, unexpected = set(missing), list(unexpected)
    for group in to_removes.values():
        for name in group:
            if name not in missing:
                unexpected.append(name)
            else:
                missing.remove(name)
    if strict and (missing or unexpected):
        error = f"Error(s) in loading state_dict for {type(model).__name__}:"
        if missing:
            error += "\n    Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in sorted(missing))
        if unexpected:
            error += "\n    Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in sorted(unexpected))
        raise RuntimeError(error)
    return missing, unexpected


def _dtype(code, name, op, where):
    dtype = DTYPES.get(code)
    if dtype is None:
        raise CheckpointError(f"{op}: tensor {name!r} in {where} has dtype {code}, which tapegrad does not have; "
                              f"it reads {', '.join(DTYPES)}")
    return dtype


def _tensor(arr):
    if not arr.dtype.isnative or not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
        if not arr.flags.writeable:
            arr = arr.copy()
    return from_numpy(arr)


def _check_device(device, op):
    where = device if isinstance(device, str) else getattr(device, "type", device)
    if not isinstance(where, str) or where.split(":")[0] != "cpu":
        raise RuntimeError(f"{op}: device {device!r} is not available; tapegrad runs on the CPU only")


def _load_path(path, map_location):
    """``tapegrad.load`` of a .safetensors path (as PyTorch's): load_file, on the device map_location names."""
    if isinstance(map_location, dict) or (callable(map_location) and not isinstance(map_location, (str, device))):
        kind = "dict" if isinstance(map_location, dict) else "callable"
        raise RuntimeError(f"Loading safetensors file with {kind} map_location is not supported. Use a device "
                           "string or device instead.")
    target = "cpu" if map_location is None else map_location
    return load_file(path, device=target.decode() if isinstance(target, bytes) else target)


SUFFIX_LOADERS[".safetensors"] = _load_path
