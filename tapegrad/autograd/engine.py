"""The engine: walk the tape back from an output, calling each node's backward rule once.

1. ``count_consumers`` counts, for each node reachable from the output, how many recorded ops use it.
2. A node is processed once all its consumers have sent it their gradients (Kahn's algorithm: iterative, so
   no recursion limit): it sums them, runs its hooks, and hands the sum to its rule, which returns the
   gradient of its input (one input) or one gradient per input, None where ``need`` said none was needed.
3. The engine, not the rule, reduces a gradient that was broadcast back to its parent's shape and casts it to
   the parent's dtype, so no rule can forget to; then it accumulates it for the parent.
4. Leaves accumulate into ``.grad``.

First-order backward runs the rules on numpy arrays. With ``create_graph=True`` the same rules run on tensors
with tapegrad's numpy-named namespace as ``xp``, so the backward pass is itself recorded.
"""

import dis
import math
import threading

import numpy as np

from .. import _state, memory_formats
from .._tensor import Tensor, wrap
from . import anomaly
from .inplace import bump, recorded_at
from .xp import numpy_xp, tensor_xp

_wrap = wrap
_grad = _state.grad
_ndarray, _add_reduce = np.ndarray, np.add.reduce  # (ndarray.sum is a Python function calling this)

# A backward without retain_graph frees a node by negating its stamp: -1 - stamp < 0 still tells when it was
# recorded (for parents_of), and any negative stamp means freed.


def _freed_error(t):
    return RuntimeError(f"backward: trying to backward through the graph a second time (through "
                        f"{t._name}); its buffers were freed by the first backward. Specify "
                        "retain_graph=True on the first call if you need to backward through the graph twice.")


def toposort(root):
    """The nodes that require grad reachable from ``root``, each after every node that uses it."""
    order = []
    seen = {id(root)}
    stack = [(root, iter(parents_of(root)))]
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if p._requires_grad and id(p) not in seen:
                seen.add(id(p))
                stack.append((p, iter(parents_of(p))))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def unbroadcast(xp, grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    if lead < 0:
        return None
    if gshape[lead:] == shape:  # only leading dims were added (a bias): one sum over them
        axis = 0 if lead == 1 else tuple(range(lead))
        return _add_reduce(grad, axis) if grad.__class__ is _ndarray else grad.sum(axis=axis)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
    if any(s != 1 and gshape[lead + i] != s for i, s in enumerate(shape)):
        return None
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape) if tuple(grad.shape) != tuple(shape) else grad


def count_consumers(roots):
    """For every node requiring grad below ``roots``: how many recorded uses of it there are.

    The engine processes a node once all its consumers have sent their gradients (Kahn's algorithm), so it needs
    no recursion and no separate sorted list.
    """
    deps = {}  # (keyed by the tensors themselves: their hash is their identity, computed in C)
    root_set = set(roots)
    stack = list(root_set)  # (a root listed twice is counted once: its inputs are its inputs once)
    push, now = stack.append, _state.clock.now
    while stack:
        node = stack.pop()
        parents = node._parents
        if parents and node._stamp != now:
            parents = parents_of(node)
        for p in parents:
            if p._requires_grad:
                if p in deps:
                    deps[p] += 1
                else:
                    deps[p] = 1
                    if p._parents and p not in root_set:  # (a leaf has no inputs to count)
                        push(p)
    return deps


class _Callbacks(threading.local):
    stack: list


_callbacks = _Callbacks()
_callbacks.stack = []


def queue_callback(fn) -> None:
    """queue_callback(fn): run ``fn()`` once the backward pass now running has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``; DistributedDataParallel waits for its buckets this way)."""
    stack = getattr(_callbacks, "stack", None)
    if not stack:
        raise RuntimeError("queue_callback: final callbacks can only be installed during a backward pass")
    stack[-1].append(fn)


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None, allow_unused=False):
    """Back-propagate ``root_grads`` from ``roots``.

    Without ``inputs``: accumulate into the ``.grad`` of the leaves (and of tensors that ``retain_grad()``).
    With ``inputs``: return their gradients instead (``tapegrad.autograd.grad``), leaving ``.grad`` untouched.
    """
    try:
        stack = _callbacks.stack  # one read of the thread-local: each costs about as much as a small op
    except AttributeError:  # a thread's first backward
        stack = _callbacks.stack = []
    callbacks: list = []
    stack.append(callbacks)
    try:
        found = _run_backward(roots, root_grads, retain_graph, create_graph, inputs, allow_unused)
        while callbacks:  # a callback may queue more
            callbacks.pop(0)()
        return found
    finally:
        stack.pop()


def _run_backward(roots, root_grads, retain_graph, create_graph, inputs, allow_unused):
    deps = count_consumers(roots)
    xp = tensor_xp if create_graph else numpy_xp
    want = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    found = [None] * (0 if inputs is None else len(inputs))

    grads = {}
    given = set()  # ids of arrays already handed to a leaf's .grad in this pass
    if len(roots) == 1:  # (loss.backward(): one root, which no node below it uses, as the graph is acyclic)
        ready = [(roots[0], root_grads[0])]  # (a node and its complete gradient)
    else:
        for r, g in zip(roots, root_grads):
            prev_g = grads.get(r)
            grads[r] = g if prev_g is None else prev_g + g  # (a root given twice: never in place)
        ready = [(r, grads.pop(r)) for r in dict.fromkeys(roots) if r not in deps]
    # This loop runs once per node: its lookups are bound to locals.
    pop, get, push, clock = grads.pop, grads.get, ready.append, _state.clock
    # None unless anomaly mode or an instrument (viz.BackwardTrace) watches this backward
    check = _observer() if _state.observers or _state.anomaly.enabled else None
    plain = want is None and check is None  # leaves accumulate as soon as complete (see below)
    first_order = plain and not create_graph
    t = None

    prev = _grad.enabled
    _grad.enabled = create_graph
    try:
        while ready:
            t, g = ready.pop()
            parents = t._parents
            stamp = t._stamp
            rule = t._backward
            if first_order and rule is not None and stamp == clock.now and t._extra is None:
                # NOTE: the common node (no hooks or other extras, nothing written since it was recorded, nothing
                # watching): none of the checks below applies
                out = t._data
            else:
                if parents and stamp != clock.now:  # written in place since t was recorded: which inputs did it use?
                    parents = parents_of(t)
                if g is not None:
                    extra = t._extra  # (rare things: hooks, retains_grad, a shape changed in place)
                    if extra is not None and "hooks" in extra:  # (a view's extras list its aliases)
                        g = _run_hooks(t, g, create_graph)
                        extra = t._extra  # (a hook may have asked to retain the gradient)
                    if want is not None and id(t) in want:
                        found[want[id(t)]] = g if create_graph else _wrap(g)
                    if rule is None:  # a leaf
                        if check:
                            check(t, g, ())
                        if want is None:
                            _accumulate_leaf(t, g, create_graph, given)
                        continue
                    if extra is not None and extra.get("retains_grad"):
                        _retain(t, g, create_graph)
                    if clock.now != stamp:  # (a freed node's stamp is negative)
                        if stamp < 0:
                            raise _freed_error(t)
                        _check_not_overwritten(t, parents, stamp)
                    out = t if create_graph else t._data
                    if extra is not None and "node_shape" in extra:  # reshaped in place under no_grad
                        g, out = _as_recorded(xp, t, g, out)
            if g is None:
                parent_grads = (None,) * len(parents)
            else:
                n = len(parents)
                if create_graph:
                    parent_grads = ((rule(xp, g, out, parents[0]),) if n == 1 else
                                    rule(xp, tuple([p._requires_grad for p in parents]), g, out, *parents))
                elif n == 2:
                    a, b = parents
                    parent_grads = rule(xp, (a._requires_grad, b._requires_grad), g, out, a._data, b._data)
                elif n == 1:
                    parent_grads = (rule(xp, g, out, parents[0]._data),)
                elif n == 3:  # addmm, addcmul, where, lerp, the norms: spelled out as n == 2 (no list building)
                    a, b, c = parents
                    parent_grads = rule(xp, (a._requires_grad, b._requires_grad, c._requires_grad), g, out,
                                        a._data, b._data, c._data)
                else:
                    parent_grads = rule(xp, tuple([p._requires_grad for p in parents]), g, out,
                                        *[p._data for p in parents])
                if check:
                    check(t, g, parent_grads)
                if not retain_graph:
                    t._stamp = -1 - stamp
            for p, pg in zip(parents, parent_grads):
                if not p._requires_grad:
                    continue
                if pg is not None:
                    data = p._data
                    if create_graph or pg.shape != data.shape or pg.dtype is not data.dtype:
                        pg = _conform(xp, pg, p, t, create_graph)
                left = deps[p] - 1
                if left:  # more of p's consumers to come: keep what this one sent
                    deps[p] = left
                    if pg is not None:
                        prev_g = get(p)
                        if prev_g is None:
                            grads[p] = pg
                        elif p._extra is None:  # (_sum, inlined: W1's leaves add up 10,000 gradients each)
                            grads[p] = prev_g + pg  # never in place: arrays may be shared
                        else:
                            grads[p] = _sum(xp, prev_g, pg, p, t, create_graph)
                    continue
                # p is complete: add what its other consumers (or the caller, for a root) sent, if any did
                prev_g = pop(p, None) if grads else None
                if prev_g is not None:
                    pg = prev_g if pg is None else _sum(xp, prev_g, pg, p, t, create_graph)
                if p._backward is None and p._extra is None and plain:
                    # NOTE: a leaf without hooks: what its turn in the loop would do, without the turn (the loop's
                    # checks are for nodes, hooks, inputs= and observers: none apply)
                    if pg is not None:
                        _accumulate_leaf(p, pg, create_graph, given)
                else:
                    push((p, pg))
    except Exception as e:
        if _state.anomaly.enabled and t is not None and t._backward is not None and hasattr(e, "add_note"):
            e.add_note(anomaly.forward_trace_note(t))
        raise
    finally:
        _grad.enabled = prev
    if inputs is not None:
        for k, f in enumerate(found):
            if f is None and not allow_unused:
                raise RuntimeError(f"grad: input {k} (shape {tuple(inputs[k].shape)}) was not used in the graph "
                                   "of the outputs; pass allow_unused=True to get None for it")
        return found
    return None


def _sum(xp, a, b, p, t, create_graph):
    """Two gradients sent to ``p`` (by ``t`` and an earlier consumer), added: never in place, arrays may be shared.
    (A node reshaped in place under no_grad conforms each to its recorded shape first: they may differ.)"""
    if p._extra is not None and "node_shape" in p._extra:
        a, b = _conform(xp, a, p, t, create_graph), _conform(xp, b, p, t, create_graph)
    return a + b


def _observer():
    """What watches each node of a backward (called with the node, its gradient and its inputs' gradients)."""
    watchers = list(_state.observers)
    if _state.anomaly.enabled:
        watchers.append(anomaly.check_backward)
    if not watchers:
        return None
    if len(watchers) == 1:
        return watchers[0]

    def observe(node, g, grads):
        for w in watchers:
            w(node, g, grads)

    return observe


def parents_of(node):
    """``node``'s inputs as they were when it was recorded.

    An input that an in-place op rebased afterwards (``y.add_(...)`` under grad mode makes ``y`` a new node and
    keeps its earlier self, with the earlier values, as the op's input) is replaced by the incarnation that
    ``node`` used: the latest whose rebase is not later than ``node``.
    """
    parents = node._parents
    stamp = recorded_at(node)
    resolved = None
    for i, p in enumerate(parents):
        if p._version <= stamp and (p._extra is None or "rebased" not in p._extra):  # (detach_ rebases, no write)
            continue
        used = p
        while used._extra is not None and "rebased" in used._extra and used._extra["rebased"][0] > stamp:
            used = used._extra["rebased"][1]
        if used is not p:
            resolved = resolved or list(parents)
            resolved[i] = used
    return parents if resolved is None else tuple(resolved)


def _check_not_overwritten(node, parents, stamp):
    """Refuse to backward through ``node`` if a value its rule reads (its output or an input) was overwritten in
    place (under ``no_grad``) after it was recorded. A value the rule never reads may change: PyTorch saves
    only what a formula needs, and so does this check (``rule_reads``).

    PyTorch unpacks (and checks) a saved value only inside the formula of a gradient it computes, and keeps
    sizes, not tensors, where a formula needs only a shape. So a written value that the code names is refused
    only if a trial run of the rule (``_first_read``), for the gradients this backward needs, reads more of it
    than its shape and dtype (which an in-place write cannot change). The trial runs only on this rare path."""
    values = (node, *parents)
    stale = []
    for k, t in enumerate(values):
        if t._version > stamp:
            if _holds(node._backward, t):
                raise RuntimeError(_stale_message(node, t))
            if rule_reads(node._backward, len(parents))[k]:
                stale.append(k)
    if stale:
        k = _first_read(node, parents, stale)
        if k is not None:
            raise RuntimeError(_stale_message(node, values[k]))


class _Read(Exception):
    """Raised by an ``_Unread`` stand-in when a rule reads its value."""


class _Unread:
    """Stands in for a value written since its node was recorded, in a trial run of the node's rule: it has the
    value's shape and dtype, and any other use of it (arithmetic, numpy, indexing, methods) marks it read."""

    __slots__ = ("shape", "dtype", "ndim", "size", "itemsize", "read")

    def __init__(self, a):
        self.shape, self.dtype, self.ndim, self.size, self.itemsize = a.shape, a.dtype, a.ndim, a.size, a.itemsize
        self.read = False

    def _touch(self, *args, **kwargs):
        self.read = True
        raise _Read

    def __getattr__(self, name):  # any attribute but the five above (methods, .T, .real, ...)
        self._touch()

    def __len__(self):
        if not self.shape:
            self._touch()
        return self.shape[0]

    def __array_function__(self, func, types, args, kwargs):
        # numpy functions of the shape and dtype alone (zeros_like: a gradient that is zeros, as PyTorch's
        # comparison nodes) read nothing; any other marks the value read
        if func in _SHAPE_ONLY and args and args[0] is self:
            return func(np.empty(self.shape, self.dtype), *args[1:], **kwargs)
        self._touch()


_SHAPE_ONLY = frozenset({np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.shape, np.ndim, np.size})
_UNREAD_USES = (("array", "array_ufunc", "getitem", "setitem", "iter", "bool", "float", "int",
                 "index", "complex", "contains", "neg", "pos", "abs", "invert", "lt", "le", "gt", "ge", "eq", "ne",
                 "hash", "format", "round", "trunc", "floor", "ceil", "iadd", "isub", "imul", "itruediv")
                + tuple(p + o for o in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and",
                                        "or", "xor", "lshift", "rshift", "divmod") for p in ("", "r")))
for _name in _UNREAD_USES:
    setattr(_Unread, f"__{_name}__", _Unread._touch)


def _first_read(node, parents, stale):
    """The first of ``stale`` (indices into (out, input 0, ...)) whose value ``node``'s rule reads when computing
    the gradients this backward needs, or None: the rule runs once on numpy arrays, with ``_Unread`` stand-ins for
    those values and zeros for the incoming gradient (a rule's control flow does not depend on its values). An
    error that no stand-in caused counts as a read of the first (refusing, as before the trial)."""
    arrays = [node._data] + [p._data for p in parents]
    standins = {k: _Unread(arrays[k]) for k in stale}
    args = [standins.get(k, a) for k, a in enumerate(arrays)]
    g = np.zeros(node._data.shape, node._data.dtype)
    rule = node._backward
    failed = False
    try:
        with np.errstate(all="ignore"):
            if len(parents) == 1:
                rule(numpy_xp, g, *args)
            else:
                rule(numpy_xp, tuple([p._requires_grad for p in parents]), g, *args)
    except Exception:
        failed = True
    for k in stale:
        if standins[k].read:
            return k
    return stale[0] if failed else None


def _holds(rule, t):
    """Whether ``rule`` captured an array that shares ``t``'s memory (a reshaped input saved by the forward)."""
    for cell in getattr(rule, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, np.ndarray) and np.may_share_memory(value, t._data):
            return True
    return False


_READS: dict = {}


def rule_reads(rule, n_inputs):
    """Which of (out, input 0, input 1, ...) ``rule`` reads, from its code (as PyTorch's code generator derives
    what a formula saves from the formula); everything, if the code cannot tell."""
    code = getattr(rule, "__code__", None)
    key = (code, n_inputs)
    if key not in _READS:
        _READS[key] = _reads(code, n_inputs, 2 if n_inputs == 1 else 3)
    return _READS[key]


def _reads(code, n_inputs, first):
    everything = (True,) * (n_inputs + 1)
    if code is None:
        return everything
    names = code.co_varnames[:code.co_argcount + (1 if code.co_flags & 0x04 else 0)]
    loaded = set(code.co_cellvars)  # a parameter captured by an inner function counts as read
    for ins in dis.get_instructions(code):
        if ins.opname.startswith("LOAD_FAST") or ins.opname in ("LOAD_DEREF", "LOAD_CLOSURE"):
            loaded.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    if len(names) < first + 1:
        return everything
    params = names[first:]
    if code.co_flags & 0x04:  # *inputs: reading it reads them all
        fixed, star = params[:-1], params[-1]
        reads = [p in loaded for p in fixed] + [star in loaded] * (n_inputs + 1 - len(fixed))
    else:
        reads = [p in loaded for p in params] + [True] * (n_inputs + 1 - len(params))
    return tuple(reads[:n_inputs + 1])


def _as_recorded(xp, t, g, out):
    """The gradient reaching ``t`` and ``t``'s value in the shape its node was recorded with, where ``t`` was
    reshaped in place under no_grad (``unsqueeze_``, ``t_``: ``apply_view``). As PyTorch's engine checks a gradient
    against the node's InputMetadata: summed back to that shape where it expands to the gradient's, refused
    where it does not."""
    shape = t._extra["node_shape"]
    reduced = unbroadcast(xp, g, shape)
    if reduced is None:
        raise RuntimeError(f"backward: {t._name} got a gradient of shape {tuple(g.shape)} but expected shape "
                           f"compatible with {list(shape)}, the shape it was recorded with (the tensor was reshaped "
                           f"in place to {tuple(t._data.shape)} under no_grad)")
    if out.shape != shape and math.prod(out.shape) == math.prod(shape):
        out = out.reshape(shape)
    return reduced, out


def _conform(xp, g, parent, node, create_graph):
    """Check and fix one gradient from ``node`` for ``parent``: reduce broadcasting, match dtype."""
    if create_graph:
        if not isinstance(g, Tensor):
            g = _wrap(np.asarray(g))
    elif not isinstance(g, np.ndarray):
        g = np.asarray(g)
    shape = parent._extra.get("node_shape", parent._data.shape) if parent._extra else parent._data.shape
    if g.shape != shape:
        reduced = unbroadcast(xp, g, shape)
        if reduced is None:  # (PyTorch's "returned an invalid gradient ... expected shape compatible with")
            raise RuntimeError(f"backward: {node._name} returned a gradient of shape "
                               f"{tuple(g.shape)} for an input of shape {tuple(shape)}: expected shape compatible "
                               f"with {list(shape)}")
        g = reduced
    dtype = parent._data.dtype
    if g.dtype != dtype:
        if create_graph:
            return g.type(dtype)
        with np.errstate(over="ignore"):  # (a float32 gradient of 1e5 is inf in float16, as PyTorch's cast, unwarned)
            g = g.astype(dtype)
    return g


def _accumulate_leaf(t, g, create_graph, given):
    """Add ``g`` to the leaf ``t``'s ``.grad``, then run its post-accumulate hooks."""
    grad = t.grad
    if create_graph:
        t.grad = g if grad is None else grad + g
    elif grad is None:
        flags = g.flags  # (each read of .flags makes an object)
        if not (flags.c_contiguous and t._data.flags.c_contiguous):
            g = memory_formats.obeying_layout(g, t._data)  # laid out as the leaf, as PyTorch's AccumulateGrad
            flags = g.flags
        # The leaf must own its gradient: optimizers and clip_grad_norm_ write into it in place, and a rule may
        # have handed the same array (or a view of it) to another input.
        k = id(g)
        if g.base is not None or not flags.writeable or k in given:
            g = g.copy()
            k = id(g)
        given.add(k)
        t.grad = _wrap(g)
    elif grad._requires_grad or grad._data.shape != g.shape:
        t.grad = grad + _wrap(g)
    else:
        grad._data += g
        bump(grad)
    if t._extra is not None:
        for hook in t._extra.get("post_accumulate_hooks", ()):
            hook(t)


def _retain(t, g, create_graph):
    """``t.retain_grad()``'s hook, as PyTorch's: the first gradient copied into ``t.grad``, later ones added to it (out
    of place), in every backward that computes t's gradient (``autograd.grad`` and ``backward(inputs=...)`` too)."""
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
    else:
        t.grad = _wrap(g.copy()) if t.grad is None else t.grad + _wrap(g)


def _run_hooks(t, g, create_graph):
    for hook in t._extra["hooks"]:
        result = hook(g if create_graph else _wrap(g))
        if result is not None:
            if not isinstance(result, Tensor):
                raise TypeError(f"hook: a tensor hook must return a Tensor or None, got {type(result).__name__}")
            if tuple(result.shape) != tuple(g.shape):
                raise RuntimeError(f"hook: the hook returned a gradient of shape {tuple(result.shape)} for a "
                                   f"tensor of shape {tuple(g.shape)}")
            g = result if create_graph else result._data
    return g


def _stale_message(node, changed):
    return (f"backward: one of the variables needed for gradient computation has been modified by an in-place "
            f"operation: the tensor of shape {tuple(changed._data.shape)} used by {node._name} "
            f"was changed after it was used. Hint: do the in-place change on a clone(), or after backward.")


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Tensor.backward(gradient=None, retain_graph=None, create_graph=False): accumulate d(tensor)/d(leaf).

    >>> import tapegrad as tg
    >>> w = tg.tensor([2.0, 3.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> w.grad
    tensor([4., 6.])
    """
    if not tensor._requires_grad:
        raise RuntimeError("backward: element 0 of tensors does not require grad and does not have a grad_fn "
                           "(no input of the computation had requires_grad=True, or it ran under no_grad)")
    seed = _seed_gradient("backward", tensor, gradient, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        # Only accumulate into the given tensors.
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        for t in inputs:
            if t._backward is not None:  # as PyTorch's: a non-leaf input keeps its gradients, now and later
                t.retain_grad()
        found = run_backward([tensor], [seed], retain_graph, create_graph, inputs, allow_unused=True)
        given = set()
        for t, g in zip(inputs, found):
            if g is not None and t._backward is None:
                _accumulate_leaf(t, g if create_graph else g._data, create_graph, given)
        return
    run_backward([tensor], [seed], retain_graph, create_graph)


def _seed_gradient(op, tensor, gradient, create_graph):
    if gradient is None:
        if tensor._data.size != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs; this output has "
                               f"shape {tuple(tensor.shape)}, so pass gradient= (a tensor of that shape)")
        data = tensor._data  # (np.ones_like is three Python functions; this one element is one C call)
        seed = np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
    else:
        seed = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if seed.shape != tensor._data.shape:
            raise RuntimeError(f"{op}: gradient has shape {tuple(seed.shape)} but the output has shape "
                               f"{tuple(tensor.shape)}")
        seed = seed.astype(tensor._data.dtype, copy=True)
        if create_graph and isinstance(gradient, Tensor):
            return gradient
    return _wrap(seed) if create_graph else seed


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False,
         materialize_grads=False):
    """grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False)

    The gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; ``.grad`` is not touched.

    >>> import tapegrad as tg
    >>> x = tg.tensor(3.0, requires_grad=True)
    >>> (dx,) = tg.autograd.grad(x ** 3, x, create_graph=True)
    >>> tg.autograd.grad(dx, x)[0]  # d2/dx2 x^3 = 6x
    tensor(18.)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    roots, seeds = [], []
    for k, (o, go) in enumerate(zip(outputs, grad_outputs)):
        if not o._requires_grad:
            raise RuntimeError(f"grad: output {k} does not require grad and has no grad_fn")
        roots.append(o)
        seeds.append(_seed_gradient("grad", o, go, create_graph))
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(roots, seeds, retain_graph, create_graph, inputs, allow_unused or materialize_grads)
    if materialize_grads:
        found = [f if f is not None else _wrap(np.zeros_like(t._data)) for f, t in zip(found, inputs)]
    return tuple(found)
