"""Collation (``torch.utils.data._utils.collate``): ``default_collate``, ``default_convert``, and ``collate`` with
its type registry ``default_collate_fn_map`` (add an entry to teach ``default_collate`` a type of your own).
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable

import numpy as np

from ...._tensor import Tensor
from ....creation import as_tensor, from_numpy, tensor
from ....dtypes import float64
from ....ops.shape import stack

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map", "collate_tensor_fn",
           "collate_numpy_array_fn", "collate_numpy_scalar_fn", "collate_float_fn", "collate_int_fn",
           "collate_str_fn"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                                  "lists; found {}")


def default_convert(data):
    """default_convert(data): numpy arrays and scalars to tensors, inside dicts, tuples and lists too.

    What DataLoader applies to each sample when ``batch_size=None`` (no batching). Tuples become lists, as in
    PyTorch; arrays of strings or objects are left as they are.

    >>> import numpy as np
    >>> default_convert({"x": np.zeros(2)})["x"].dtype
    dtype('float64')
    >>> default_convert((1, (2, 3)))
    [1, [2, 3]]
    """
    kind = type(data)
    if isinstance(data, Tensor):
        return data
    if kind.__module__ == "numpy" and kind.__name__ not in ("str_", "bytes_"):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return kind({key: default_convert(data[key]) for key in data})
        except TypeError:  # the mapping type cannot be built from a dict
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return kind(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # as PyTorch: tuples become lists
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return kind([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate(batch, *, collate_fn_map: dict[type | tuple[type, ...], Callable] | None = None):
    """collate(batch, *, collate_fn_map=None): collate a list of samples, looking each element type up in
    ``collate_fn_map`` (exact type first, then ``isinstance`` in insertion order) and recursing into mappings,
    namedtuples and sequences.

    >>> import tapegrad as tg
    >>> def as_sum(batch, *, collate_fn_map=None): return sum(batch)
    >>> collate([{"n": 1}, {"n": 2}], collate_fn_map={int: as_sum})
    {'n': 3}
    """
    elem = batch[0]
    kind = type(elem)
    if collate_fn_map is not None:
        if kind in collate_fn_map:
            return collate_fn_map[kind](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
                return clone
            return kind({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
        except TypeError:  # the mapping type cannot be built from a dict
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return kind(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = [len(b) for b in batch]
        if any(s != sizes[0] for s in sizes):
            raise RuntimeError(f"default_collate: each element in list of batch should be of equal size, "
                               f"got sizes {sizes}")
        transposed = list(zip(*batch, strict=True))
        if isinstance(elem, tuple):
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]  # as PyTorch
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                seq_clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    seq_clone[i] = collate(samples, collate_fn_map=collate_fn_map)
                return seq_clone
            return kind([collate(samples, collate_fn_map=collate_fn_map) for samples in transposed])
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    raise TypeError(default_collate_err_msg_format.format(kind))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """Tensors: stacked along a new first dimension (recorded, so differentiable, when one requires grad)."""
    try:
        arrays = [t.numpy() for t in batch]
    except AttributeError:
        bad = next(k for k, t in enumerate(batch) if not isinstance(t, Tensor))
        raise TypeError(f"default_collate: expected a batch of tensors (element 0 is one), but element {bad} is "
                        f"{type(batch[bad]).__name__}") from None
    except RuntimeError:  # numpy() refuses tensors that require grad: the recorded stack
        if not any(t.requires_grad for t in batch):
            raise
        _check_shapes([t.shape for t in batch])
        return stack(batch)
    try:
        out = np.stack(arrays)
    except ValueError:
        _check_shapes([a.shape for a in arrays])
        raise
    if out.dtype != arrays[0].dtype:  # mixed dtypes: PyTorch's promotion, not numpy's
        return stack(batch)
    return from_numpy(out)


def _check_shapes(shapes):
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                               f"{tuple(shapes[0])} at entry 0 and {tuple(s)} at entry {i}")


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    """Numpy arrays of numbers: as tensors, then collated as tensors."""
    elem = batch[0]
    if elem.dtype.kind not in "biuf":
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    """Numpy scalars: one tensor of their (common) dtype."""
    return as_tensor(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    """Python floats: a float64 tensor."""
    return tensor(batch, dtype=float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    """Python ints (and bools): ``tensor(batch)``: int64 (bool)."""
    return tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    """Strings and bytes: left as they are."""
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """default_collate(batch): stack a list of samples into a batch, as PyTorch does.

    Tensors and numpy arrays are stacked along a new first dimension; Python floats become a float64 tensor,
    ints an int64 tensor, numpy scalars keep their dtype; strings stay as they are; dicts, tuples and lists
    are collated field by field (tuples come back as lists).

    >>> import tapegrad as tg
    >>> default_collate([(tg.zeros(2), 1), (tg.ones(2), 2)])
    [tensor([[0., 0.],
            [1., 1.]]), tensor([1, 2])]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
