"""The tape: how an op records its result as a node.

Op modules do not import this module directly: ``autograd/declare.py`` gathers what they need.

A gradient rule ("rule") takes the incoming gradient ``g``, the op's output ``out`` and its inputs, and returns
what flows back to the inputs:

- a rule of one input returns that input's gradient: ``lambda xp, g, out, x: g * out`` (exp);
- a rule of several inputs is told which of them need a gradient (``need``, a tuple of bools, as PyTorch's
  ``grad_input_mask``) and returns a tuple with None for the others:
  ``lambda xp, need, g, out, a, b: (g * b if need[0] else None, g * a if need[1] else None)`` (mul).

``xp`` is the namespace the rule computes with: numpy on arrays for a first-order backward, or tapegrad's ops
under numpy's names on tensors when ``create_graph=True`` (``autograd/xp.py``), so one rule serves every order.
The engine, not the rule, sums broadcast gradients back to the input's shape and casts them to its dtype.

A node's name is data: PyTorch's name for the rule (``ExpBackward0``), given where the op is declared.
"""

from __future__ import annotations

import traceback
import weakref
from collections.abc import Callable

import numpy as np

from .. import _state
from .._tensor import Tensor
from .anomaly import check_forward

__all__ = ["record", "node_name", "members"]

_new_object = object.__new__
_ndarray = np.ndarray
_grad = _state.grad
_clock = _state.clock
_anomaly = _state.anomaly


def record(array, inputs: tuple, rule: Callable, name: str) -> Tensor:
    """The result of an op: a node of the tape if grad mode is on and an input requires grad, else a leaf.

    ``array`` is the op's value, ``inputs`` the tensors it was computed from, ``rule`` its gradient rule (see the
    module docstring) and ``name`` PyTorch's name for the node (``"MulBackward0"``). A result whose array is a
    numpy view of its one input's (``x.t()``, ``x[0]``) is registered as a view of it (``autograd/inplace.py``).
    """
    if array.__class__ is not _ndarray:  # NOTE: numpy gives (read-only) scalars for 0-d results
        array = np.array(array)
    if _anomaly.enabled:
        return _record_watched(array, inputs, rule, name)
    t = _new_object(Tensor)
    t._data = array
    t.grad = None
    t._version = 0
    t._base = None
    t._extra = None
    if _grad.enabled:
        for p in inputs:
            if p._requires_grad:
                if array.dtype.kind != "f":  # NOTE: an integer or bool result never requires grad
                    break
                t._requires_grad = True
                t._parents = inputs
                t._backward = rule
                t._name = name
                t._stamp = _clock.now
                if array.base is not None and len(inputs) == 1 or array is inputs[0]._data:
                    _maybe_view(t, inputs[0])
                return t
    t._requires_grad = False
    t._parents = ()
    t._backward = None
    t._name = None
    t._stamp = 0
    if array.base is not None and len(inputs) == 1 or inputs and array is inputs[0]._data:
        _maybe_view(t, inputs[0])
    return t


def named(t: Tensor, name: str, inputs: tuple = ()) -> Tensor:
    """``t``, the result of an op written as a composition of other ops, recorded under PyTorch's node ``name``.

    Node names are data (``y.grad_fn.name()`` is PyTorch's), so an op PyTorch records as one node shows that
    node, not the composition's last one: the last node is renamed and keeps its rule, so gradients of every
    order stay the composition's. A result that is one of ``inputs`` (handed back untouched) or a view (whose
    node says how it aliases its base) keeps its node.
    """
    if t._backward is not None and t._base is None and not any(t is x for x in inputs):
        t._name = name
    return t


def _record_watched(array, inputs, rule, name):
    """``record`` under anomaly mode: the output is checked, and a node keeps the traceback of its forward."""
    _anomaly.enabled = False
    try:
        t = record(array, inputs, rule, name)
    finally:
        _anomaly.enabled = True
    check_forward(t, inputs, name)
    if t._backward is not None:
        t._extras()["trace"] = traceback.extract_stack()[:-3]
    return t


def _maybe_view(t, input):
    """Register ``t`` as a view of ``input``'s base if numpy says their arrays share memory."""
    array, data = t._data, input._data
    base = array if array.base is None else array.base  # numpy points every view at the array owning the memory
    if base is data or base is data.base:
        root = input if input._base is None else input._base
        t._base = root
        if root._extra is None:  # members(root), inlined for a tensor's first view (``emb.view(...)``)
            root._extra = {"aliases": [weakref.ref(t)]}
        else:
            members(root).append(weakref.ref(t))
        if input._extra is not None and "multi_output" in input._extra:  # a view of split's output is one too
            t._extras()["multi_output"] = "a view of " + input._extra["multi_output"].removeprefix("a view of ")
        if (not _grad.enabled or input._extra is not None and "no_grad_view" in input._extra) \
                and array.dtype.kind == "f":
            # PyTorch's CreationMeta::NO_GRAD_MODE, which a view keeps (and its views inherit): an in-place op
            # on it with an operand that requires grad is refused, whatever its base requires since
            if t._extra is None:  # (t._extras(), inlined: a view per inference step)
                t._extra = {"no_grad_view": True}
            else:
                t._extra["no_grad_view"] = True


def members(owner) -> list:
    """The weak references to the tensors that share ``owner``'s memory (its views and detached aliases)."""
    extra = owner._extra
    if extra is None:
        owner._extra = extra = {}
    refs = extra.get("aliases")
    if refs is None:
        extra["aliases"] = refs = []
    elif len(refs) >= 32 and len(refs) >= 2 * extra.get("aliases_kept", 0):
        refs[:] = [r for r in refs if r() is not None]  # drop dead views: amortized, the list at most doubles
        extra["aliases_kept"] = len(refs)
    return refs


def node_name(op: str) -> str:
    """PyTorch's node name for an op's rule: ``log_softmax`` -> ``LogSoftmaxBackward0``, ``log1p`` ->
    ``Log1PBackward0`` (PyTorch's codegen title-cases each word: a letter after a digit is capital too)."""
    return "".join(part.title() for part in op.strip("_").split("_")) + "Backward0"
