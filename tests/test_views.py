"""Writes through views (issue 9): every op PyTorch documents as a view shares memory with its base, and an
in-place write through the view or through the base is seen by all of them, in both grad modes, with
PyTorch's gradients (CopySlices / AsStridedBackward0).

The generated programs: a base (a plain tensor, or a tensor computed from a leaf that requires grad), a chain
of view ops, then one in-place write (copy_, mul_, add_, setitem, fill_, zero_, clamp_) into one of them, with
a value that requires grad or not, under grad mode or no_grad. Each program is checked

- against an explicit reference that uses no view and no in-place op: the positions of each view's elements in
  the base (the same chain of numpy ops on ``arange``), the write computed out of place on those positions
  (numpy for values; tapegrad's gather and scatter for gradients);
- against PyTorch running the same program (when PyTorch is installed).
"""

import contextlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg

MULTI = ("split", "chunk", "unbind")  # the ops whose outputs PyTorch forbids writing into under grad mode


# ---------------------------------------------------------------------- view ops, in both libraries and numpy
def apply_step(t, name, p):
    """The view op ``name`` with parameters ``p`` on a tensor (tapegrad's or PyTorch's: the same API)."""
    if name == "view":
        return t.view(*p["shape"])
    if name == "reshape":
        return t.reshape(p["shape"])
    if name == "flatten":
        return t.flatten(*p["dims"])
    if name == "unflatten":
        return t.unflatten(p["dim"], p["sizes"])
    if name == "view_as":
        return t.view_as(t.new_zeros(p["shape"]))
    if name == "transpose":
        return t.transpose(*p["dims"])
    if name == "swapaxes":
        return t.swapaxes(*p["dims"])
    if name == "t":
        return t.t()
    if name == "T":
        return t.T
    if name == "mT":
        return t.mT
    if name == "adjoint":
        return t.adjoint()
    if name == "permute":
        return t.permute(*p["perm"])
    if name == "movedim":
        return t.movedim(p["src"], p["dst"])
    if name == "narrow":
        return t.narrow(p["dim"], p["start"], p["length"])
    if name == "select":
        return t.select(p["dim"], p["index"])
    if name == "squeeze":
        return t.squeeze() if p["dim"] is None else t.squeeze(p["dim"])
    if name == "unsqueeze":
        return t.unsqueeze(p["dim"])
    if name == "diagonal":
        return t.diagonal(p["offset"], *p["dims"])
    if name == "expand":
        return t.expand(*p["shape"])
    if name == "broadcast_to":
        return t.broadcast_to(p["shape"])
    if name == "unfold":
        return t.unfold(p["dim"], p["size"], p["step"])
    if name == "split":
        return t.split(p["size"], p["dim"])[p["piece"]]
    if name == "chunk":
        return t.chunk(p["chunks"], p["dim"])[p["piece"]]
    if name == "unbind":
        return t.unbind(p["dim"])[p["piece"]]
    if name == "tensor_split":
        return t.tensor_split(p["sections"], p["dim"])[p["piece"]]
    if name == "getitem":
        return t[p["key"]]
    raise AssertionError(name)


def np_step(a, name, p):
    """The same op on a numpy array (applied to ``arange``: each element's position in the base)."""
    if name in ("view", "reshape", "view_as"):
        return a.reshape(p["shape"])
    if name == "flatten":
        s, e = (d % max(a.ndim, 1) for d in p["dims"])
        return a.reshape(1) if a.ndim == 0 else a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1:])
    if name == "unflatten":
        d = p["dim"] % a.ndim
        return a.reshape(a.shape[:d] + tuple(p["sizes"]) + a.shape[d + 1:])
    if name in ("transpose", "swapaxes"):
        return np.swapaxes(a, *p["dims"]) if a.ndim else a
    if name in ("t", "T"):
        return a.T
    if name in ("mT", "adjoint"):
        return np.swapaxes(a, -1, -2)
    if name == "permute":
        return np.transpose(a, p["perm"])
    if name == "movedim":
        return np.moveaxis(a, p["src"], p["dst"])
    if name == "narrow":
        return _along(a, p["dim"], slice(p["start"], p["start"] + p["length"]))
    if name == "select":
        return _along(a, p["dim"], p["index"])
    if name == "squeeze":
        if p["dim"] is None:
            return np.squeeze(a)
        return np.squeeze(a, p["dim"]) if a.ndim and a.shape[p["dim"]] == 1 else a
    if name == "unsqueeze":
        return np.expand_dims(a, p["dim"])
    if name == "diagonal":
        return np.diagonal(a, p["offset"], *p["dims"])
    if name in ("expand", "broadcast_to"):
        return np.broadcast_to(a, p["shape"])
    if name == "unfold":
        if a.ndim == 0:
            return a.reshape(1)[:p["size"]]
        d = p["dim"] % a.ndim
        w = np.lib.stride_tricks.sliding_window_view(a, p["size"], axis=d)
        return _along(w, d, slice(None, None, p["step"]))
    if name in ("split", "chunk", "tensor_split"):
        d, n = p["dim"], a.shape[p["dim"]]
        if name == "tensor_split":
            return np.array_split(a, p["sections"], axis=d)[p["piece"]]
        size = p["size"] if name == "split" else -(-n // p["chunks"])
        return _along(a, d, slice(p["piece"] * size, (p["piece"] + 1) * size))
    if name == "unbind":
        return _along(a, p["dim"], p["piece"])
    if name == "getitem":
        return a[p["key"]]
    raise AssertionError(name)


def _along(a, d, key):
    """``a[key]`` along dim ``d`` (a numpy view, with the strides the tensor's view has)."""
    return a[(slice(None),) * (d % a.ndim) + (key,)]


def _viewable(a, shape):
    try:
        a.reshape(shape, copy=False)
        return True
    except ValueError:
        return False


@st.composite
def view_steps(draw, a):
    """One view op that applies to ``a`` (positions), with its parameters; never one whose elements overlap."""
    n, shape = a.ndim, a.shape
    options = ["unsqueeze", "expand", "broadcast_to", "unfold", "getitem"]
    if _viewable(a, (-1,)):
        options += ["view", "reshape", "flatten"]
    if n >= 1:
        options += ["transpose", "swapaxes", "permute", "movedim", "narrow", "select", "squeeze", "split", "chunk",
                    "unbind", "tensor_split", "view_as", "unflatten"]
    if n <= 2:
        options.append("t")
    if n == 2:
        options.append("T")
    if n >= 2:
        options += ["mT", "adjoint", "diagonal"]
    name = draw(st.sampled_from(options))
    dim = lambda: draw(st.integers(-n, n - 1))  # noqa: E731
    if name in ("view", "reshape"):
        return name, {"shape": (-1,) if name == "view" else (a.size,)}
    if name == "flatten":
        return name, {"dims": (0, -1)}
    if name == "view_as":
        return name, {"shape": (a.size,)} if _viewable(a, (a.size,)) else {"shape": shape}
    if name == "unflatten":
        d = dim()
        k = draw(st.sampled_from([k for k in range(1, shape[d] + 1) if shape[d] % k == 0] or [1]))
        return name, {"dim": d, "sizes": (k, shape[d] // k) if shape[d] else (1, 0)}
    if name in ("transpose", "swapaxes"):
        return name, {"dims": (dim(), dim())}
    if name == "permute":
        return name, {"perm": tuple(draw(st.permutations(range(n))))}
    if name == "movedim":
        return name, {"src": dim(), "dst": dim()}
    if name == "narrow":
        d = dim()
        start = draw(st.integers(0, shape[d]))
        return name, {"dim": d, "start": start, "length": draw(st.integers(0, shape[d] - start))}
    if name == "select":
        d = dim()
        if not shape[d]:
            return "narrow", {"dim": d, "start": 0, "length": 0}
        return name, {"dim": d, "index": draw(st.integers(-shape[d], shape[d] - 1))}
    if name == "squeeze":
        return name, {"dim": draw(st.none() | st.integers(-n, n - 1))}
    if name == "unsqueeze":
        return name, {"dim": draw(st.integers(-n - 1, n))}
    if name == "diagonal":
        d1, d2 = draw(st.permutations(range(n)))[:2]
        return name, {"offset": draw(st.integers(-2, 2)), "dims": (d1, d2)}
    if name in ("expand", "broadcast_to"):  # new leading dims of size 1 (or 0): nothing shared
        return name, {"shape": (draw(st.sampled_from([1, 1, 0])),) + shape}
    if name == "unfold":
        d = dim() if n else 0
        m = shape[d] if n else 1
        size = draw(st.integers(0, m))
        return name, {"dim": d, "size": size, "step": draw(st.integers(max(size, 1), max(size, 1) + 2))}
    if name in ("split", "chunk", "unbind", "tensor_split"):
        d = dim()
        m = shape[d]
        if name == "unbind":
            if not m:
                return "narrow", {"dim": d, "start": 0, "length": 0}
            return name, {"dim": d, "piece": draw(st.integers(0, m - 1))}
        if name == "split":
            size = draw(st.integers(1, max(m, 1)))
            return name, {"dim": d, "size": size, "piece": draw(st.integers(0, max(-(-m // size), 1) - 1))}
        k = draw(st.integers(1, 4))
        pieces = k if name == "tensor_split" or not m else len(range(0, m, -(-m // k)))
        return name, {"dim": d, "piece": draw(st.integers(0, pieces - 1)),
                      **({"sections": k} if name == "tensor_split" else {"chunks": k})}
    if name == "getitem":
        if not n:
            return name, {"key": ...}
        return name, {"key": draw(st.sampled_from([slice(1, None), (Ellipsis, slice(None, None, 2)), 0
                                                   if shape[0] else slice(0)]))}
    return name, {}


WRITES = ("copy_", "mul_", "add_", "setitem", "setitem_row", "fill_", "fill_tensor", "zero_", "clamp_")


@dataclass
class Program:
    base: np.ndarray
    base_grad: bool                    # base = leaf * 1.0 with a leaf that requires grad (else a plain tensor)
    steps: list                        # [(name, params)]: views[k + 1] = step k of views[k]
    target: int                        # the write goes into views[target] (0: the base)
    write: str
    value: np.ndarray | float | None
    value_grad: bool
    no_grad: bool
    weights: list = field(default_factory=list)  # the loss: sum of (weights[k] * views[k]).sum()
    lo_hi: tuple = (-0.5, 0.5)

    def positions(self):
        a = np.arange(self.base.size).reshape(self.base.shape)
        out = [a]
        for name, p in self.steps:
            out.append(np_step(out[-1], name, p))
        return out

    def multi_output_target(self):
        return any(name in MULTI for name, _ in self.steps[:self.target])

    def multi_output_anywhere(self):
        return any(name in MULTI for name, _ in self.steps)


@st.composite
def programs(draw, write_to=None, mode=None):
    shape = tuple(draw(st.lists(st.integers(0, 4) if draw(st.booleans()) else st.integers(1, 4), max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    base = _normal(rng, shape)
    a = np.arange(base.size).reshape(shape)
    steps = []
    for _ in range(draw(st.integers(0 if write_to != "view" else 1, 3))):
        name, p = draw(view_steps(a))
        a = np_step(a, name, p)
        steps.append((name, p))
    if write_to == "base":
        target = 0
    elif write_to == "view":
        target = len(steps)
    else:
        target = draw(st.integers(0, len(steps)))
    tshape = np_positions_shape(base, steps, target)
    write = draw(st.sampled_from(WRITES))
    if write == "setitem_row" and not (tshape and tshape[0]):
        write = "setitem"
    if write == "setitem_row":
        value_shape = tshape[1:]
    elif write == "fill_tensor":
        value_shape = ()
    else:  # the target's shape, or one that broadcasts to it
        value_shape = draw(st.sampled_from([tshape, tshape[-1:], ()]))
    value = None if write in ("zero_", "clamp_", "fill_") else _normal(rng, value_shape)
    if write == "fill_":
        value = float(_normal(rng, ()))
    weights = [_normal(rng, np_positions_shape(base, steps, k)) for k in range(len(steps) + 1)]
    return Program(base, draw(st.booleans()), steps, target, write, value,
                   value is not None and not isinstance(value, float) and draw(st.booleans()),
                   draw(st.booleans()) if mode is None else mode == "no_grad", weights)


def _normal(rng, shape):
    return np.asarray(np.round(np.asarray(rng.standard_normal(shape), dtype=np.float64), 2))


def np_positions_shape(base, steps, k):
    a = np.arange(base.size).reshape(base.shape)
    for name, p in steps[:k]:
        a = np_step(a, name, p)
    return a.shape


# ---------------------------------------------------------------------- running a program
def _write(L, t, write, value, lo_hi):
    if write == "copy_":
        t.copy_(value)
    elif write == "mul_":
        t.mul_(value)
    elif write == "add_":
        t.add_(value)
    elif write == "setitem":
        t[...] = value
    elif write == "setitem_row":
        t[0] = value
    elif write in ("fill_", "fill_tensor"):
        t.fill_(value)
    elif write == "zero_":
        t.zero_()
    elif write == "clamp_":
        t.clamp_(*lo_hi)
    else:
        raise AssertionError(write)


def run(L, prog):
    """The program in library ``L``: (values of every view and the base, leaf grad, value grad), or the error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation of .T on other than 2-d tensors
        leaf = L.tensor(prog.base, dtype=L.float64, requires_grad=prog.base_grad)
        base = leaf * 1.0 if prog.base_grad else leaf
        views = [base]
        for name, p in prog.steps:
            views.append(apply_step(views[-1], name, p))
        value = prog.value
        if isinstance(value, np.ndarray):
            value = L.tensor(value, dtype=L.float64, requires_grad=prog.value_grad)
        try:
            with L.no_grad() if prog.no_grad else contextlib.nullcontext():
                _write(L, views[prog.target], prog.write, value, prog.lo_hi)
        except RuntimeError as e:
            return "write", e
        values = [v.detach().numpy().copy() for v in views]
        try:
            terms = [(v * L.tensor(w, dtype=L.float64)).sum() for v, w in zip(views, prog.weights)]
            loss = sum(terms[1:], terms[0])
            if loss.requires_grad:
                loss.backward()
        except RuntimeError as e:
            return "backward", e
    grad = lambda t: None if not isinstance(t, L.Tensor) or t.grad is None else t.grad.numpy()  # noqa: E731
    return values, (grad(leaf) if prog.base_grad else None), grad(value)


def expected_error(prog):
    """The error PyTorch's rules give for this program (None: it runs)."""
    recorded = not prog.no_grad and (prog.base_grad or prog.value_grad)
    if recorded and prog.multi_output_target():
        return "multiple views"
    return None


def reference(prog):
    """Values from numpy on the views' positions, gradients from out-of-place tapegrad ops (gather, scatter)."""
    pos = prog.positions()
    where = pos[prog.target]
    old = prog.base.reshape(-1)[where]
    value = prog.value
    lo, hi = prog.lo_hi
    new = {"copy_": lambda v: np.broadcast_to(value, v.shape), "mul_": lambda v: v * value,
           "add_": lambda v: v + value, "setitem": lambda v: np.broadcast_to(value, v.shape),
           "setitem_row": lambda v: np.concatenate([np.broadcast_to(value, v[:1].shape), v[1:]]),
           "fill_": lambda v: np.full_like(v, value), "fill_tensor": lambda v: np.broadcast_to(value, v.shape),
           "zero_": np.zeros_like, "clamp_": lambda v: np.clip(v, lo, hi)}[prog.write](old)
    flat = prog.base.reshape(-1).copy()
    flat[where] = new
    values = [flat[p] for p in pos]

    # gradients: the same loss, written without views or in-place ops
    leaf = tg.tensor(prog.base.reshape(-1), dtype=tg.float64, requires_grad=prog.base_grad)
    v = tg.tensor(value, dtype=tg.float64, requires_grad=prog.value_grad) if isinstance(value, np.ndarray) else value
    flat_t = leaf * 1.0
    if not prog.no_grad:
        idx = tg.tensor(where.astype(np.int64))
        old_t = flat_t[idx]
        new_t = {"copy_": lambda o: v.expand(o.shape) * 1.0, "mul_": lambda o: o * v, "add_": lambda o: o + v,
                 "setitem": lambda o: v.expand(o.shape) * 1.0, "fill_": lambda o: o * 0.0 + v,
                 "setitem_row": lambda o: tg.cat([v.expand(o[:1].shape), o[1:]]),
                 "fill_tensor": lambda o: v.expand(o.shape) * 1.0, "zero_": lambda o: o * 0.0,
                 "clamp_": lambda o: o.clamp(lo, hi)}[prog.write](old_t)
        flat_t = flat_t.scatter(0, idx.reshape(-1), new_t.reshape(-1))
    terms = [(flat_t[tg.tensor(p.astype(np.int64))] * tg.tensor(w, dtype=tg.float64)).sum()
             for p, w in zip(pos, prog.weights)]
    loss = sum(terms[1:], terms[0])
    if loss.requires_grad:
        loss.backward()
    grad = lambda t: None if not isinstance(t, tg.Tensor) or t.grad is None else t.grad.numpy()  # noqa: E731
    leaf_grad = grad(leaf)
    return values, (None if leaf_grad is None else leaf_grad.reshape(prog.base.shape)), grad(v)


def _same(got, want, what):
    if want is None or got is None:
        assert got is None and want is None, f"{what}: {got} against {want}"
        return
    assert got.shape == want.shape, f"{what}: shape {got.shape} against {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=what)


def check_against_reference(prog):
    got = run(tg, prog)
    error = expected_error(prog)
    if error is not None:
        assert got[0] == "write" and error in str(got[1]), f"expected an error ({error}), got {got}"
        return
    assert got[0] not in ("write", "backward"), f"{got[0]} raised {got[1]!r}"
    values, leaf_grad, value_grad = reference(prog)
    for k, (g, w) in enumerate(zip(got[0], values)):
        _same(g, w, f"values of view {k}")
    _same(got[1], leaf_grad, "leaf gradient")
    _same(got[2], value_grad, "value gradient")


PINS = [  # (base, base_grad, steps, target, write, value, value_grad, no_grad)
    # the examples: buf does not require grad, the value does
    (np.zeros((2, 3)), False, [("t", {})], 1, "copy_", np.arange(6.0).reshape(3, 2), True, False),
    (np.zeros((2, 3)), False, [("view", {"shape": (-1,)}), ("getitem", {"key": slice(None, 3)})], 2, "setitem",
     np.array([1.0, 2.0, 3.0]), True, False),
    (np.ones((4, 2)), False, [("narrow", {"dim": 0, "start": 1, "length": 2})], 1, "mul_", np.array(3.0), True,
     False),
    # a write to the base seen through existing views
    (np.arange(12.0).reshape(3, 4), True, [("getitem", {"key": slice(1, None)}), ("t", {})], 0, "mul_",
     np.array([1.0, 2.0, 3.0, 4.0]), True, False),
    (np.arange(12.0).reshape(3, 4), False, [("diagonal", {"offset": 1, "dims": (0, 1)})], 0, "add_",
     np.array(1.0), True, True),
    # diagonal views are writable
    (np.arange(9.0).reshape(3, 3), False, [("diagonal", {"offset": 0, "dims": (0, 1)})], 1, "fill_", 1.0, False,
     False),
    (np.arange(9.0).reshape(3, 3), True, [("diagonal", {"offset": 0, "dims": (0, 1)})], 1, "add_", np.array(1.0),
     False, False),
    (np.arange(24.0).reshape(2, 3, 4), True, [("diagonal", {"offset": -1, "dims": (2, 1)})], 1, "mul_",
     np.array([2.0, 3.0, 4.0]), True, False),
    # writes into split/unbind outputs: refused under grad mode, allowed under no_grad
    (np.ones((2, 3)), True, [("unbind", {"dim": 0, "piece": 0})], 1, "mul_", np.array(2.0), False, False),
    (np.ones((2, 3)), False, [("split", {"dim": 1, "size": 2, "piece": 1})], 1, "copy_", np.ones(1), True, False),
    (np.ones((4, 3)), True, [("chunk", {"dim": 0, "chunks": 2, "piece": 1}), ("t", {})], 2, "zero_", None, False,
     False),
    (np.ones((2, 3)), True, [("unbind", {"dim": 0, "piece": 0})], 1, "mul_", np.array(2.0), False, True),
    # tensor_split's pieces are plain slices: writable
    (np.ones((5, 2)), True, [("tensor_split", {"dim": 0, "sections": 2, "piece": 1})], 1, "mul_", np.array(2.0),
     True, False),
    # unfold with windows that do not overlap, 0-d views, empty views
    (np.arange(6.0), True, [("unfold", {"dim": 0, "size": 2, "step": 3})], 1, "mul_", np.array([2.0, 3.0]), True,
     False),
    (np.arange(3.0), True, [("select", {"dim": 0, "index": -1})], 1, "copy_", np.array(5.0), True, False),
    (np.zeros((0, 3)), True, [("t", {})], 1, "add_", np.ones(0), True, False),
    (np.ones(3), False, [("expand", {"shape": (1, 3)})], 1, "add_", np.ones(3), True, False),
]


def _pinned(base, base_grad, steps, target, write, value, value_grad, no_grad):
    shapes = [np_positions_shape(base, steps, k) for k in range(len(steps) + 1)]
    rng = np.random.default_rng(len(steps) * 7 + target)
    return Program(base, base_grad, steps, target, write, value, value_grad, no_grad,
                   [_normal(rng, s) for s in shapes])


# ---------------------------------------------------------------------- the properties
@pytest.mark.parametrize("pin", range(len(PINS)))
def test_pinned_writes_match_the_reference(pin):
    check_against_reference(_pinned(*PINS[pin]))


@given(programs(write_to="view"))
def test_writes_through_a_chain_of_views_reach_the_base(prog):
    check_against_reference(prog)


@given(programs(write_to="base"))
def test_writes_to_the_base_are_seen_through_existing_views(prog):
    check_against_reference(prog)


@given(programs())
def test_writes_anywhere_in_a_chain_in_both_grad_modes(prog):
    check_against_reference(prog)


def check_against_pytorch(torch, prog):
    got, want = run(tg, prog), run(torch, prog)
    if want[0] in ("write", "backward"):
        if got[0] == want[0]:
            return
        # PyTorch refuses to use a view of split/unbind after its base (or another view) was written; tapegrad
        # computes it (the reference test checks the values and gradients)
        assert want[0] == "backward" and "multiple views" in str(want[1]) and prog.multi_output_anywhere(), \
            f"PyTorch raised {want[1]!r}, tapegrad gave {got}"
        return
    assert got[0] not in ("write", "backward"), f"tapegrad raised {got[1]!r} where PyTorch computes"
    for k, (g, w) in enumerate(zip(got[0], want[0])):
        _same(g, w, f"values of view {k}")
    _same(got[1], want[1], "leaf gradient")
    _same(got[2], want[2], "value gradient")


@pytest.mark.parametrize("pin", range(len(PINS)))
def test_pinned_writes_match_pytorch(pin):
    torch = pytest.importorskip("torch")
    check_against_pytorch(torch, _pinned(*PINS[pin]))


@given(programs())
def test_writes_through_views_match_pytorch(prog):
    torch = pytest.importorskip("torch")
    check_against_pytorch(torch, prog)


# ---------------------------------------------------------------------- which ops are views, which copy
VIEW_OPS = {  # PyTorch's documented views (docs/source/tensor_view.rst), on a (2, 3, 4) tensor x
    "view": lambda x: x.view(6, 4),
    "view_as": lambda x: x.view_as(tg.zeros(4, 6)),
    "reshape": lambda x: x.reshape(4, 6),
    "reshape_as": lambda x: x.reshape_as(tg.zeros(24)),
    "flatten": lambda x: x.flatten(1),
    "unflatten": lambda x: x.unflatten(2, (2, 2)),
    "transpose": lambda x: x.transpose(0, 2),
    "swapaxes": lambda x: x.swapaxes(0, 1),
    "swapdims": lambda x: x.swapdims(1, 2),
    "t": lambda x: x[0].t(),
    "T": lambda x: x[0].T,
    "mT": lambda x: x.mT,
    "mH": lambda x: x.mH,
    "H": lambda x: x[0].H,
    "adjoint": lambda x: x.adjoint(),
    "permute": lambda x: x.permute(2, 0, 1),
    "movedim": lambda x: x.movedim(0, -1),
    "moveaxis": lambda x: x.moveaxis(0, -1),
    "narrow": lambda x: x.narrow(2, 1, 2),
    "select": lambda x: x.select(1, 2),
    "squeeze": lambda x: x[:1].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "diagonal": lambda x: x.diagonal(0, 1, 2),
    "expand": lambda x: x[:, :1].expand(2, 3, 4),
    "expand_as": lambda x: x[:, :1].expand_as(x),
    "broadcast_to": lambda x: x.broadcast_to((2, 2, 3, 4)),
    "broadcast_to_unit": lambda x: x.broadcast_to((1, 2, 3, 4)),
    "unfold": lambda x: x.unfold(2, 2, 1),
    "unfold_apart": lambda x: x.unfold(2, 2, 2),
    "split": lambda x: x.split(2, 2)[1],
    "chunk": lambda x: x.chunk(2, 1)[1],
    "unbind": lambda x: x.unbind(2)[3],
    "tensor_split": lambda x: x.tensor_split(3, 2)[2],
    "contiguous": lambda x: x.contiguous(),  # itself when contiguous
    "detach": lambda x: x.detach(),
    "view_dtype": lambda x: x.view(tg.int64),
}
COPY_OPS = {  # ops PyTorch documents as returning new memory
    "reshape_strided": lambda x: x.transpose(0, 1).reshape(-1),
    "flatten_strided": lambda x: x.transpose(0, 1).flatten(),
    "contiguous_strided": lambda x: x.transpose(0, 1).contiguous(),
    "cat": lambda x: tg.cat([x, x]),
    "cat_one": lambda x: tg.cat([x]),
    "stack": lambda x: tg.stack([x]),
    "hstack": lambda x: tg.hstack([x]),
    "vstack": lambda x: tg.vstack([x]),
    "repeat": lambda x: x.repeat(1, 1, 1),
    "tile": lambda x: x.tile((1,)),
    "flip": lambda x: x.flip(0),
    "fliplr": lambda x: x.fliplr(),
    "flipud": lambda x: x.flipud(),
    "roll": lambda x: x.roll(0, 0),
    "tril": lambda x: x.tril(5),
    "triu": lambda x: x.triu(-5),
    "diag": lambda x: tg.diag(x[0]),
    "clone": lambda x: x.clone(),
}


@pytest.mark.parametrize("name", sorted(VIEW_OPS))
def test_view_ops_share_memory_and_writes_reach_the_base(name):
    x = tg.arange(1.0, 25.0, dtype=tg.float64).reshape(2, 3, 4)
    v = VIEW_OPS[name](x)
    assert np.shares_memory(v.numpy(), x.numpy()), f"{name} copied"
    if name in ("expand", "expand_as", "broadcast_to", "unfold"):
        return  # several elements in one memory location: read-only (test_views_whose_elements_share_memory...)
    v.zero_()
    assert (x.numpy() == 0).sum() == v.numel()  # each element of the view is one element of the base
    # the base's version moved: a recorded op that saved the base refuses to backward
    w = tg.arange(1.0, 25.0, dtype=tg.float64, requires_grad=True).reshape(2, 3, 4)
    y = w * w
    VIEW_OPS[name](w.detach()).zero_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


@pytest.mark.parametrize("name", sorted(COPY_OPS))
def test_copy_ops_do_not_share_memory(name):
    x = tg.arange(24.0, dtype=tg.float64).reshape(2, 3, 4)
    c = COPY_OPS[name](x)
    assert not np.shares_memory(c.numpy(), x.numpy()), f"{name} returned a view"
    with tg.no_grad():
        c.fill_(-1.0)
    np.testing.assert_array_equal(x.numpy(), np.arange(24.0).reshape(2, 3, 4))


def test_flatten_and_contiguous_return_the_tensor_itself_when_nothing_changes():
    x = tg.zeros(2, 3, requires_grad=True)
    v = tg.zeros(3)
    assert x.flatten(1) is x and x.flatten(0, 0) is x and x.flatten(-1, 1) is x  # as PyTorch's
    assert v.flatten() is v and x.contiguous() is x
    s = tg.tensor(2.0)
    assert s.flatten() is not s and s.flatten().shape == (1,)


@pytest.mark.parametrize("make, op", [
    (lambda: tg.zeros(3).expand(2, 3), "expand"),
    (lambda: tg.zeros(3, 1).expand_as(tg.zeros(3, 2)), "expand"),
    (lambda: tg.broadcast_to(tg.zeros(3), (2, 3)), "broadcast_to"),
    (lambda: tg.broadcast_tensors(tg.zeros(3), tg.zeros(2, 1))[0], "broadcast_to"),
    (lambda: tg.arange(5.0).unfold(0, 3, 1), "unfold"),
    (lambda: tg.zeros(3).expand(2, 3).t(), "expand"),
])
def test_views_whose_elements_share_memory_refuse_writes_naming_the_op(make, op):
    for write in (lambda t: t.add_(1), lambda t: t.copy_(tg.ones(t.shape)), lambda t: t.mul_(2),
                  lambda t: t.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match=f"read-only view .*{op}"):
            write(make())
        w = tg.ones(make().shape, requires_grad=True)
        with pytest.raises(RuntimeError, match=f"read-only view .*{op}"):
            make().copy_(w)


def test_expand_without_shared_elements_is_writable_as_in_pytorch():
    x = tg.zeros(3)
    x.expand(1, 3).add_(1)
    x.broadcast_to((1, 1, 3))[0, 0, 1:].add_(1)
    tg.zeros(0, 3).expand(2, 0, 3).add_(1)  # no element at all
    assert x.tolist() == [1.0, 2.0, 2.0]


def test_writes_into_split_chunk_unbind_outputs_are_refused_under_grad_mode_as_in_pytorch():
    x = tg.ones(4, 3, requires_grad=True) * 1
    pieces = {"UnbindBackward0": x.unbind(0)[1], "SplitBackward0": x.split(2)[1], "SplitBackward0 ": x.chunk(2)[0],
              "SplitWithSizesBackward0": x.split([1, 3])[1]}
    for node, p in pieces.items():
        k = 0 if node == "SplitBackward0 " else 1
        for write in (lambda t: t.mul_(2), lambda t: t.zero_(), lambda t: t.fill_(1.0), lambda t: t.copy_(t * 2),
                      lambda t: t.__setitem__(0, 5.0), lambda t: t.t().add_(1), lambda t: t[:1].clamp_(0, 1)):
            with pytest.raises(RuntimeError, match=rf"output {k} of {node.strip()} is a view and is being modified "
                                                   "in place.*returns multiple views"):
                write(p)
    # a plain tensor's pieces: refused when the value requires grad, allowed when nothing requires grad
    buf = tg.zeros(2, 3)
    with pytest.raises(RuntimeError, match="output 0 of UnbindBackward0.*multiple views"):
        buf.unbind(0)[0].copy_(tg.ones(3, requires_grad=True))
    buf.unbind(0)[0].add_(1)
    buf.split(1, 1)[2].fill_(5)
    with tg.no_grad():
        x.unbind(0)[3].mul_(3)  # under no_grad PyTorch allows it too
    assert buf.tolist() == [[1.0, 1.0, 5.0], [0.0, 0.0, 5.0]] and x[3].tolist() == [3.0, 3.0, 3.0]
    # tensor_split's pieces are slices (SliceBackward0): writable, as in PyTorch
    y = tg.ones(4, 3, requires_grad=True) * 1
    y.tensor_split(2)[1].mul_(2)
    y.sum().backward()


def test_writes_through_views_of_a_leaf_that_requires_grad():
    w = tg.ones(2, 3, requires_grad=True)
    for view in (lambda t: t.t(), lambda t: t.diagonal(), lambda t: t.view(-1), lambda t: t.narrow(1, 0, 2),
                 lambda t: t.unfold(1, 1, 1), lambda t: t.unsqueeze(0)):
        with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
            view(w).mul_(2)
        with tg.no_grad():
            view(w).mul_(2)  # an optimizer's update: allowed
    assert w.tolist() == [[64.0, 32.0, 16.0], [32.0, 64.0, 16.0]]


# A view keeps what it was made with (PyTorch's view metadata): its requires_grad and its base. check_inplace refuses a
# write into a view that requires grad whose base is a leaf now, whatever the base's requires_grad became since.
VIEWS_OF_LEAVES_MADE_EARLIER = [
    "v1 = v0.mH; v0.detach_(); v1.sin_()",
    "v1 = v0[:1]; v0.requires_grad_(False); v1.sin_()",
    "v1 = v0[:1]; v0.requires_grad_(False); v1.add_(torch.ones(3, requires_grad=True))",
    "v1 = v0[:1][0]; v0.detach_(); v1.sin_()",
    "v1 = v0[:1]; v0.detach_(); v0.requires_grad_(); v1.sin_()",
    "v1 = v0[:1]; v0.detach_(); v1.t_()",
    "a = v0 * 1; v1 = a[:1]; a.detach_(); v1.sin_()",  # (a base that became a leaf)
]
# and the grad mode it was made in (CreationMeta::NO_GRAD_MODE, which its views inherit): a write with an operand that
# requires grad is refused, whatever the base requires now
VIEWS_MADE_UNDER_NO_GRAD = [
    ("with torch.no_grad(): v1 = v0[:1]\nv0.detach_(); v1.add_(torch.ones(3, requires_grad=True))", True),
    ("a = torch.zeros(2, 3)\nwith torch.no_grad(): v1 = a[:1]\nv1.add_(torch.ones(3, requires_grad=True))", True),
    ("a = torch.zeros(2, 3)\nwith torch.no_grad(): v1 = a[:1]\nv1[0].mul_(torch.ones(3, requires_grad=True))", True),
    ("a = torch.zeros(2, 3)\nwith torch.no_grad(): v1 = a[:1]\nv1[0] = torch.ones(3, requires_grad=True)", True),
    ("a = torch.zeros(2, 3)\nwith torch.no_grad(): v1 = a[:1]\nv1.add_(torch.ones(3))", False),
    ("a = torch.zeros(2, 3)\nwith torch.no_grad(): v1 = a.detach()\nv1.add_(torch.ones(3, requires_grad=True))",
     False),
    ("a = torch.zeros(2, 3, dtype=torch.int64)\nwith torch.no_grad(): v1 = a[:1]\nv1.add_(1)", False),
]


def _write_into_earlier_view(torch, code):
    try:
        exec(code, {"torch": torch, "v0": torch.zeros(2, 3, requires_grad=True)})
    except RuntimeError as error:
        return "view of a leaf" in str(error)
    return False


@pytest.mark.parametrize("code", VIEWS_OF_LEAVES_MADE_EARLIER)
def test_a_view_made_before_its_base_stopped_requiring_grad_is_refused_as_pytorch(code):
    assert _write_into_earlier_view(tg, code)
    torch = pytest.importorskip("torch")
    assert _write_into_earlier_view(torch, code)


def _write_into_no_grad_view(torch, code):
    try:
        exec(code, {"torch": torch, "v0": torch.zeros(2, 3, requires_grad=True)})
    except RuntimeError as error:
        assert "created in no_grad mode" in str(error)
        return True
    return False


@pytest.mark.parametrize("code, refused", VIEWS_MADE_UNDER_NO_GRAD)
def test_a_view_made_under_no_grad_keeps_its_mode_as_pytorch(code, refused):
    assert _write_into_no_grad_view(tg, code) is refused
    torch = pytest.importorskip("torch")
    assert _write_into_no_grad_view(torch, code) is refused


def test_view_as_a_dtype_shares_memory_and_versions_without_a_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    bits = y.view(tg.int32)
    assert not bits.requires_grad and bits.grad_fn is None and not y.view(tg.float32).requires_grad
    z = y * y
    with tg.no_grad():
        bits.zero_()
    assert y.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


def test_diagonal_views_are_writable_as_in_pytorch():
    x = tg.arange(9.0).reshape(3, 3)
    x.diagonal().fill_(1)
    x.diagonal(1).add_(10)
    x.diagonal(-1)[0] = -1.0
    assert x.tolist() == [[1.0, 11.0, 2.0], [-1.0, 1.0, 15.0], [6.0, 7.0, 1.0]]
    w = tg.arange(9.0, requires_grad=True)
    y = w.reshape(3, 3) * 1
    y.diagonal().mul_(y.diagonal(1).sum())
    (y * tg.arange(9.0).reshape(3, 3)).sum().backward()
    # y[i][i] = w[4i] * (w[1] + w[5]); everything else is w itself
    s = 1.0 + 5.0
    want = np.arange(9.0)
    want[[0, 4, 8]] *= s
    want[[1, 5]] += (0 * 0 + 4 * 4 + 8 * 8)
    np.testing.assert_allclose(w.grad.numpy(), want)


NO_GRAD_VIEWS = [lambda t: t[0], lambda t: t.t(), lambda t: t.view(-1), lambda t: t.diagonal(),
                 lambda t: t.narrow(1, 1, 2), lambda t: t.unsqueeze(0), lambda t: t.expand(1, 2, 3),
                 lambda t: t.unfold(1, 2, 2)]


@pytest.mark.parametrize("k", range(len(NO_GRAD_VIEWS)))
def test_a_view_taken_under_no_grad_is_not_written_under_grad_mode(k):
    # Its graph does not lead to its base, so the gradient of the values it overwrites would be silently lost:
    # PyTorch refuses ("A view was created in no_grad mode and is being modified inplace with grad mode
    # enabled"), and so does tapegrad.
    x = tg.ones(2, 3, requires_grad=True)
    y = x * 1
    with tg.no_grad():
        v = NO_GRAD_VIEWS[k](y)
    w = tg.ones(v.shape, requires_grad=True)
    for write in (lambda: v.mul_(w), lambda: v.copy_(w), lambda: v.add_(w), lambda: v.fill_(w.sum())):
        with pytest.raises(RuntimeError, match="a view was created in no_grad mode and is being modified in place"):
            write()
    v.add_(1)  # nothing requires grad in this write: a plain write, as PyTorch
    with tg.no_grad():
        v.mul_(w)  # both under no_grad: not tracked
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


@pytest.mark.parametrize("k", range(len(NO_GRAD_VIEWS)))
def test_a_view_taken_under_no_grad_written_under_grad_mode_matches_pytorch(k):
    torch = pytest.importorskip("torch")
    for L in (torch, tg):
        y = L.ones(2, 3, requires_grad=True) * 1
        with L.no_grad():
            v = NO_GRAD_VIEWS[k](y)
        with pytest.raises(RuntimeError, match="(?i)a view was created in no_grad mode and is being modified"):
            v.mul_(L.ones(v.shape, requires_grad=True))


@given(st.lists(st.floats(-4, 4, allow_nan=False, width=32), min_size=1, max_size=5),
       st.sampled_from(["copy_", "add_", "sub_"]), st.floats(-2, 2, allow_nan=False, width=32))
def test_write_into_a_detached_alias_of_a_leaf_keeps_the_leafs_gradient(values, name, scale):
    """``v2 = v1.detach(); v2.copy_(v1)``: v2 becomes a node over the leaf v1 itself (PyTorch's shared version
    counter), so the gradient reaches v1.grad; it was silently None when the write routed it to a copy of v1."""
    v1 = tg.tensor(values, dtype=tg.float64, requires_grad=True)
    v2 = v1.detach()
    getattr(v2, name)(v1)
    assert v2.requires_grad and v2.grad_fn is not None
    (v2 * scale).sum().backward()
    d = {"copy_": 1.0, "add_": 1.0, "sub_": -1.0}[name]  # d(new v2)/d(v1) with v2's old values held constant
    np.testing.assert_allclose(v1.grad.numpy(), np.full(len(values), d * scale))


def test_copy_into_a_detached_alias_of_a_leaf_as_pytorch():
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (tg, torch):
        v1 = lib.tensor([2.0, -1.0], dtype=lib.float64, requires_grad=True)
        v2 = v1.detach()
        v2.copy_(v1)
        (v2 * 0.75).sum().backward()
        grads.append(v1.grad.numpy())
    np.testing.assert_array_equal(*grads)


# ---------------------------------------------------------------------- CopySlices of a non-finite gradient
@pytest.mark.parametrize("g", [float("inf"), float("-inf"), float("nan")])
def test_a_write_through_a_view_gives_the_overwritten_places_zero_also_for_inf_gradients(g):
    x = tg.tensor([0.05, -0.7], requires_grad=True)
    y = x * 1
    y[-1] = 3.0
    y.backward(tg.tensor([1.0, g]))
    assert x.grad.tolist() == [1.0, 0.0]  # CopySlices selects (0 * inf would be nan): the var_mean grad-nan class
    torch = pytest.importorskip("torch")
    xt = torch.tensor([0.05, -0.7], requires_grad=True)
    yt = xt * 1
    yt[-1] = 3.0
    yt.backward(torch.tensor([1.0, g]))
    assert xt.grad.tolist() == [1.0, 0.0]


_EMPTY_BROADCAST_WRITES = {
    "atan_": lambda lib, a: a.atan_(),
    "add_": lambda lib, a: a.add_(1),
    "clamp_": lambda lib, a: a.clamp_(0, 1),
    "copy_": lambda lib, a: a.copy_(lib.ones(2)),
    "setitem": lambda lib, a: a.__setitem__(Ellipsis, 3.0),
    "setitem-slice": lambda lib, a: a.__setitem__(slice(0, 0), lib.ones(2)),
    "setitem-mask": lambda lib, a: a.__setitem__(a > 0, 3.0),
}


@pytest.mark.parametrize("write", sorted(_EMPTY_BROADCAST_WRITES))
@given(shape=st.sampled_from([(0, 3, 2), (0, 2), (3, 0, 2)]))
@example(shape=(0, 1, 2))
def test_an_empty_view_of_broadcast_memory_takes_in_place_writes(write, shape):
    """An empty view of an expanded tensor has no element that shares memory with another: PyTorch's overlap
    check passes and nothing is written (numpy marks it read-only all the same)."""
    base = tg.tensor([1.0, 2.0])
    a = base.broadcast_to(shape) if shape[-1] == 2 else base[:1].broadcast_to(shape)
    version = a._version
    _EMPTY_BROADCAST_WRITES[write](tg, a)
    assert a.shape == shape and base.tolist() == [1.0, 2.0] and a._version > version
    if write == "setitem-mask":  # a non-empty one: PyTorch's masked_fill_ writes the shared memory (and warns)
        with pytest.warns(UserWarning, match="masked_fill_ on expanded tensors is deprecated"):
            _EMPTY_BROADCAST_WRITES[write](tg, base.broadcast_to((2, 2)))
        assert base.tolist() == [3.0, 3.0]
        return
    if write == "setitem-slice":  # an empty slice of a non-empty one: nothing to write, as PyTorch
        _EMPTY_BROADCAST_WRITES[write](tg, base.broadcast_to((2, 2)))
        assert base.tolist() == [1.0, 2.0]
        return
    with pytest.raises(RuntimeError, match="read-only view"):  # a non-empty one is refused, as before
        _EMPTY_BROADCAST_WRITES[write](tg, base.broadcast_to((2, 2)))


@pytest.mark.parametrize("write", sorted(_EMPTY_BROADCAST_WRITES))
def test_an_empty_view_of_broadcast_memory_as_pytorch(write):
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        a = lib.tensor([[1.0, 2.0]]).broadcast_to((0, 3, 2))
        _EMPTY_BROADCAST_WRITES[write](lib, a)
        assert tuple(a.shape) == (0, 3, 2)


_EXPANDED_GRAD_WRITES = {
    "setitem-row": lambda lib, a, v: a.__setitem__(0, v),
    "row-mul_": lambda lib, a, v: a[0].mul_(v),
    "setitem-index": lambda lib, a, v: a.__setitem__(lib.tensor([0]), v.sum()),
    "masked_fill_": lambda lib, a, v: a.masked_fill_(lib.tensor([True, False]), v.sum()),
}


@pytest.mark.parametrize("write", sorted(_EXPANDED_GRAD_WRITES))
def test_writes_into_an_expanded_view_under_grad_mode_as_pytorch(write):
    """Under grad mode, a write through a row of an expanded view of a tensor that requires grad reaches the
    base (CopySlices) with PyTorch's gradients; an index_put_/masked_fill_ into the expanded view itself is
    refused, as PyTorch's (its CopySlices cannot copy the gradient into a view whose elements share memory)."""
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        v = lib.tensor([3.0, 4.0], requires_grad=True)
        a = (x * 1).expand(3, 2)
        try:
            _EXPANDED_GRAD_WRITES[write](lib, a, v)
            (a * lib.arange(6.0).reshape(3, 2)).sum().backward()
        except RuntimeError:
            return "RuntimeError"
        return a.tolist(), x.grad.tolist(), v.grad.tolist()

    got = run(tg)
    assert (got == "RuntimeError") == (write in ("setitem-index", "masked_fill_"))  # (the base requires grad)
    if write == "row-mul_":
        assert got[1] == [18.0, 36.0]  # every row is x * v: (0 + 2 + 4) * 3, (1 + 3 + 5) * 4
    torch = pytest.importorskip("torch")
    assert got == run(torch)


# index_put_-like writes of a value that requires grad into an expanded tensor that does not: (lib, a, v, rows,
# mask) -> the write; ``v`` has one element per row, one per True of the mask, or one (the fills)
_EXPANDED_VALUE_WRITES = {
    "setitem-rows": lambda lib, a, v, rows, mask: a.__setitem__(lib.tensor(rows), v[:, None].expand(-1, 2)),
    "setitem-mask": lambda lib, a, v, rows, mask: a.__setitem__(lib.tensor(mask), v),
    "index_put_": lambda lib, a, v, rows, mask: a.index_put_((lib.tensor(rows), lib.tensor([0] * len(rows))), v),
    "index_put_-accumulate": lambda lib, a, v, rows, mask: a.index_put_(
        (lib.tensor(rows), lib.tensor([1] * len(rows))), v, accumulate=True),
    "masked_fill_": lambda lib, a, v, rows, mask: a.masked_fill_(lib.tensor(mask), v[0]),
    "index_fill_": lambda lib, a, v, rows, mask: a.index_fill_(1, lib.tensor([0]), v[0]),
}


def _value_for(write, rows, mask):
    n = {"setitem-mask": int(np.sum(mask)), "masked_fill_": 1, "index_fill_": 1}.get(write, len(rows))
    return [5.0 + 2 * i for i in range(n)]


def _expanded_value_write(lib, write, v, rows, mask, grad=True):
    """Write ``v`` (a list) into ``tensor([1., 2.]).expand(3, 2)``; returns the memory after the write, the
    value's gradient of ``sum(a * arange(6).reshape(3, 2))`` and the base's ``requires_grad`` (with ``grad``),
    or the memory alone (without: the plain write, outside autograd)."""
    base = lib.tensor([1.0, 2.0], dtype=lib.float64)
    a = base.expand(3, 2)
    value = lib.tensor(v, dtype=lib.float64, requires_grad=grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _EXPANDED_VALUE_WRITES[write](lib, a, value, rows, mask)
    if not grad:
        return base.tolist()
    (a * lib.arange(6.0, dtype=lib.float64).reshape(3, 2)).sum().backward()
    return base.tolist(), value.grad.tolist(), base.requires_grad


_MASKS = st.lists(st.lists(st.booleans(), min_size=2, max_size=2), min_size=3, max_size=3).filter(
    lambda m: any(map(any, m)))


@pytest.mark.parametrize("write", sorted(_EXPANDED_VALUE_WRITES))
@given(rows=st.lists(st.integers(0, 2), min_size=1, max_size=5), mask=_MASKS)
@example(rows=[0, 1, 2], mask=[[True, False]] * 3)
@example(rows=[2, 0, 2, 1], mask=[[True, True], [False, True], [True, False]])
def test_a_value_written_into_an_expanded_tensor_gets_each_locations_last_writers_gradient(write, rows, mask):
    """Several elements of an expanded tensor are one memory location: an index_put_, masked_fill_, index_fill_
    or setitem of a value that requires grad writes them in the op's order (the last write stays, as PyTorch's
    kernels), and under grad mode the write is recorded with the gradient of what stayed. The write is linear in
    the value, so the gradient is exactly what a unit step of each element of the value changes (float64).
    PyTorch's gradient counts the overwritten writes too (a KNOWN pytorch-bug of the differential test)."""
    v = _value_for(write, rows, mask)
    memory, grad, requires_grad = _expanded_value_write(tg, write, v, rows, mask)
    assert requires_grad  # the base is now a node over the value (CopySlices)
    assert memory == _expanded_value_write(tg, write, v, rows, mask, grad=False)  # the plain write's memory
    weights = np.arange(6.0).reshape(3, 2).sum(axis=0)  # the gradient reaching each memory location

    def f(values):
        return float(np.dot(_expanded_value_write(tg, write, values, rows, mask, grad=False), weights))

    steps = [f([x + (i == j) for j, x in enumerate(v)]) - f(v) for i in range(len(v))]
    assert grad == steps


@pytest.mark.parametrize("write", sorted(_EXPANDED_VALUE_WRITES))
@pytest.mark.parametrize("rows", [[0, 1, 2], [2, 0, 1], [1], [2, 2]])
def test_a_value_written_into_an_expanded_tensor_as_pytorch(write, rows):
    """The memory after the write and the base's requires_grad are PyTorch's; so is the value's gradient where
    each location is written once (one row, one element of the mask) or every write counts (accumulate)."""
    torch = pytest.importorskip("torch")
    mask = [[i == rows[0] and j == 0 for j in range(2)] for i in range(3)] if len(rows) == 1 else \
        [[i in rows, False] for i in range(3)]
    v = _value_for(write, rows, mask)
    got = _expanded_value_write(tg, write, v, rows, mask)
    expected = _expanded_value_write(torch, write, v, rows, mask)
    assert got[0] == expected[0] and got[2] == expected[2]
    writes = {"setitem-mask": np.sum(mask), "masked_fill_": np.sum(mask), "index_fill_": 3}.get(write, len(rows))
    if write == "index_put_-accumulate" or writes == 1:
        assert got[1] == expected[1]
    else:  # PyTorch's CopySlices hands a location's gradient to each of its writes
        assert got[1] != expected[1]


# in-place writes of a value that requires grad into an integer output of split/chunk/unbind: (lib, piece, w)
_INT_PIECE_WRITES = {
    "eq_": lambda lib, p, w: p.eq_(w[:1]),
    "add_": lambda lib, p, w: p.add_(w[:1]),
    "masked_fill_": lambda lib, p, w: p.masked_fill_(lib.ones(p.shape, dtype=lib.bool), w[0]),
    "index_fill_": lambda lib, p, w: p.index_fill_(0, lib.tensor([0]), w[0]),
    "fill_": lambda lib, p, w: p.fill_(w[0]),
    "setitem-0d": lambda lib, p, w: p.__setitem__(0, w[0]),
    "setitem-mask": lambda lib, p, w: p.__setitem__(lib.ones(p.shape, dtype=lib.bool), w[0]),
    "copy_": lambda lib, p, w: p.copy_(w[:1]),
    "setitem-1d": lambda lib, p, w: p.__setitem__(0, w[:1]),
}
_PIECES = {
    "split": lambda lib, x: x.split(1, -1)[0],
    "chunk": lambda lib, x: x.chunk(2, -1)[1],
    "unbind": lambda lib, x: x.unbind(1)[0],
}


def _int_piece_write(lib, write, piece, dtype):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    p = _PIECES[piece](lib, lib.tensor([[1, 0], [3, 4]], dtype=getattr(lib, dtype)))
    try:
        _INT_PIECE_WRITES[write](lib, p, w)
    except RuntimeError as e:
        return "multiple views" if "multiple views" in str(e) else "RuntimeError"
    return "written"


@pytest.mark.parametrize("write", sorted(_INT_PIECE_WRITES))
@given(piece=st.sampled_from(sorted(_PIECES)), dtype=st.sampled_from(["int64", "int32", "bool"]))
def test_an_integer_output_of_split_refuses_writes_of_values_that_require_grad(write, piece, dtype):
    """PyTorch's check_inplace refuses an in-place op on an output of split/chunk/unbind under grad mode when an
    operand requires grad, whatever the output's dtype (an integer view never requires grad itself); copy_ (and
    setitem's copy_: a value of the view's shape, or with dims) first asks whether the output's dtype is
    differentiable, and writes."""
    got = _int_piece_write(tg, write, piece, dtype)
    if write in ("copy_", "setitem-1d") or write == "setitem-0d" and piece == "unbind":  # (unbind's p[0] is 0-d)
        assert got == "written"
    elif write in ("eq_", "masked_fill_", "index_fill_", "fill_", "setitem-0d", "setitem-mask"):
        assert got == "multiple views"
    else:
        assert got != "written"
    with tg.no_grad():  # outside grad mode nothing is refused for this reason
        assert _int_piece_write(tg, write, piece, dtype) in ("written", "RuntimeError")


@pytest.mark.parametrize("write", sorted(_INT_PIECE_WRITES))
@pytest.mark.parametrize("piece", sorted(_PIECES))
def test_an_integer_output_of_split_takes_writes_as_pytorch(write, piece):
    torch = pytest.importorskip("torch")
    got, want = _int_piece_write(tg, write, piece, "int64"), _int_piece_write(torch, write, piece, "int64")
    assert (got == "written") == (want == "written")
    if want == "multiple views" and write != "add_":  # (add_'s cast error comes first here: also a RuntimeError)
        assert got == want


_VIEW_INPLACE = {"unsqueeze_": (-1,), "squeeze_": (), "t_": (), "transpose_": (0, 1), "swapdims_": (1, 0),
                 "swapaxes_": (0, 1)}


@pytest.mark.parametrize("name", sorted(_VIEW_INPLACE))
@given(leaf_view=st.booleans(), n=st.integers(1, 3))
def test_an_inplace_view_op_under_no_grad_rebases_a_view_on_its_base(name, leaf_view, n):
    """unsqueeze_/squeeze_/t_/transpose_ under no_grad on a view that requires grad: PyTorch makes the view's node
    AsStridedBackward0 over its base, so the gradient of its new layout reaches the base's elements (the old node,
    DiagonalBackward0 here, would get a gradient of the wrong shape)."""
    x = tg.tensor(np.arange(1.0, 1 + n * n).reshape(1, n, n), requires_grad=True)
    v = x[0:1, 0] if leaf_view else (x * 1).diagonal(dim1=1, dim2=2)  # (1, n)
    with tg.no_grad():
        getattr(v, name)(*_VIEW_INPLACE[name])
    assert v.grad_fn.name() == "AsStridedBackward0"
    w = tg.arange(1.0, 1 + v.numel()).reshape(v.shape)
    (v * w).sum().backward()
    want = np.zeros((1, n, n))
    order = np.arange(1.0, n + 1)  # v's elements keep their order whatever the layout (one row of n)
    if leaf_view:
        want[0, 0, :] = order
    else:
        want[0, np.arange(n), np.arange(n)] = order
    np.testing.assert_array_equal(x.grad.numpy(), want)


@pytest.mark.parametrize("name", sorted(_VIEW_INPLACE))
def test_an_inplace_view_op_under_no_grad_as_pytorch(name):
    torch = pytest.importorskip("torch")
    got = []
    for lib in (tg, torch):
        x = lib.tensor([[[1.0, 2.0], [3.0, 4.0]]], requires_grad=True)
        v = (x * 1).diagonal(dim1=1, dim2=2)
        with lib.no_grad():
            getattr(v, name)(*_VIEW_INPLACE[name])
        (v * lib.arange(1.0, 3.0).reshape(v.shape)).sum().backward()
        got.append((tuple(v.shape), x.grad.tolist(), v.grad_fn.name()))
    assert got[0] == got[1]


_NODE_RESHAPES = {"unsqueeze_0": lambda t: t.unsqueeze_(0), "unsqueeze_-1": lambda t: t.unsqueeze_(-1),
                  "unsqueeze_twice": lambda t: t.unsqueeze_(0).unsqueeze_(0), "t_": lambda t: t.t_(),
                  "transpose_": lambda t: t.transpose_(0, -1), "there_and_back": lambda t: t.unsqueeze_(1).squeeze_(1),
                  "squeeze_": lambda t: t.squeeze_(), "as_strided_": lambda t: t.as_strided_((t.numel(),), (1,))}


@given(name=st.sampled_from(sorted(_NODE_RESHAPES)),
       shape=st.sampled_from([(2, 3), (3, 3), (1, 2), (2,), (2, 1), (1, 1, 3)]), before=st.booleans())
@example(name="unsqueeze_-1", shape=(2,), before=False)  # median(1)'s values, unsqueeze_(-2)'d: a numpy error
def test_a_node_reshaped_in_place_under_no_grad_keeps_its_recorded_shape(name, shape, before):
    """As PyTorch's engine, which checks each gradient against the shape a node was recorded with
    (InputMetadata): a gradient of the new shape is summed back to it where that shape expands to the gradient's
    (leading 1s: ``unsqueeze_(0)``), and refused where it does not (``t_`` of a non-square tensor); a use made
    before the change brings a gradient of the recorded shape."""
    x = tg.tensor(np.arange(1.0, 1 + math.prod(shape)).reshape(shape), requires_grad=True)
    y = x * 2
    early = (y * 3).sum() if before else 0  # a use of y in its recorded shape
    with tg.no_grad():
        _NODE_RESHAPES[name](y)
    new = tuple(y.shape)
    w = tg.arange(1.0, 1 + y.numel()).reshape(new)
    loss = (y * w).sum() + early
    lead = len(new) - len(shape)
    fits = new == shape or (lead >= 0 and new[:lead] == (1,) * lead and new[lead:] == shape)
    if not fits:
        with pytest.raises(RuntimeError, match="expected shape compatible with"):
            loss.backward()
        return
    loss.backward()
    want = 2 * w.numpy().reshape(shape) + (6 if before else 0)
    np.testing.assert_array_equal(x.grad.numpy(), want)


@pytest.mark.parametrize("name", sorted(_NODE_RESHAPES))
def test_a_node_reshaped_in_place_under_no_grad_as_pytorch(name):
    torch = pytest.importorskip("torch")
    got = []
    for lib in (tg, torch):
        x = lib.tensor([[-2.5], [-0.25]], requires_grad=True)
        values = x.median(1)[0]  # (MedianBackward1 reads no output)
        y = x * lib.tensor([[1.0, 2.0, 3.0]])
        with lib.no_grad():
            _NODE_RESHAPES[name](values)
            _NODE_RESHAPES[name](y)
        try:
            ((values * lib.arange(1.0, 1 + values.numel()).reshape(values.shape)).sum()).backward()
            (y * lib.arange(1.0, 1 + y.numel()).reshape(y.shape)).sum().backward()
            got.append(x.grad.tolist())
        except RuntimeError as e:
            got.append("compatible with" in str(e))
    assert got[0] == got[1]


@pytest.mark.parametrize("write", ["atan_", "add_", "clamp_", "setitem-mask"])
@given(shape=st.sampled_from([(0, 3, 2), (0, 2), (3, 0, 2)]))
def test_an_empty_view_of_broadcast_memory_takes_recorded_writes(write, shape):
    """Under grad mode (the view requires grad) an in-place op on an empty view of broadcast memory writes nothing
    and records the write, as PyTorch (numpy's read-only array was written into, and failed)."""
    x = tg.zeros(2, requires_grad=True)
    a = (x * 1).broadcast_to(shape) if shape[-1] == 2 else (x * 1)[:1].broadcast_to(shape)
    _EMPTY_BROADCAST_WRITES[write](tg, a)
    assert a.shape == shape and a.requires_grad
    (a.sum() + x.sum()).backward()
    assert x.grad.tolist() == [1.0, 1.0]


TRIANGLE_OF_SHARED_MEMORY = [  # (method, diagonal, base, PyTorch 2.13's base after the write into base.expand(3, 3))
    ("tril_", 0, [1.0, 2.0, 3.0], [1.0, 0.0, 0.0]), ("tril_", -1, [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]),
    ("tril_", 1, [1.0, 2.0, 3.0], [1.0, 2.0, 0.0]), ("triu_", 0, [1.0, 2.0, 3.0], [0.0, 0.0, 3.0]),
    ("triu_", -1, [1.0, 2.0, 3.0], [0.0, 2.0, 3.0]), ("triu_", -2, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
    ("tril_", 0, [[1.0], [2.0], [3.0]], [[0.0], [0.0], [3.0]]),
    ("tril_", 5, [[1.0], [2.0], [3.0]], [[1.0], [2.0], [3.0]]),
]


@pytest.mark.parametrize("name, k, base, want", TRIANGLE_OF_SHARED_MEMORY)
def test_tril_triu_in_place_of_shared_memory_zero_each_location_a_zeroed_element_shares(name, k, base, want):
    """(seed 1390596) tril_/triu_ of an expanded tensor: PyTorch writes 0 at each element outside the band and
    leaves the others, so every memory location a zeroed element shares becomes 0 (tapegrad refused)."""
    b = tg.tensor(base)
    getattr(b.expand(3, 3), name)(k)
    assert b.tolist() == want
    torch = pytest.importorskip("torch")
    c = torch.tensor(base)
    getattr(c.expand(3, 3), name)(k)
    assert c.tolist() == want


@pytest.mark.parametrize("alias", [lambda p: p.detach(), lambda p: p.view(-1), lambda p: p[0]])
def test_a_parameter_whose_aliases_died_is_written_as_one_that_never_had_any(alias):
    """``p.detach()`` once (to log it) must not leave ``p`` on the slow, alias-tracking path of every later write
    and backward: the first write finds the alias dead and forgets it. A live alias still shares the version."""
    p = tg.ones(2, 3, requires_grad=True)
    a = alias(p)
    del a
    with tg.no_grad():
        p -= 0.5
    assert p._extra is None and p.tolist() == [[0.5] * 3] * 2
    live = alias(p)
    with tg.no_grad():
        p.mul_(2.0)
    assert p._extra is not None and live._version == p._version and live.flatten()[0].item() == 1.0
