"""How ops are declared (``tapegrad/autograd/declare.py``): the plain writes of in-place methods.

An in-place method with a plain write (``inplace_method(name, op, write)``) computes straight into the tensor's
memory when there is nothing to record. It must give exactly the op's values (bits: signs of zero, NaN, inf), move
the versions of everything sharing the memory, and leave every case it does not handle to the door, which
records, refuses or explains as before.
"""

import inspect
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import Tensor

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-8, np.inf, -np.inf, np.nan, 1e30, -1e30]
FLOATS = (np.float16, np.float32, np.float64)


def _with_plain_write():
    return sorted(n for n in dir(Tensor) if getattr(getattr(Tensor, n, None), "write", None) is not None)


def _unary(name):
    return len(inspect.signature(getattr(Tensor, name).op).parameters) == 1


UNARY = [n for n in _with_plain_write() if _unary(n)]
NUMBERS = st.one_of(st.sampled_from([0, 1, -1, 0.0, -0.0, 0.5, -0.5, 2.0, 1e-3, np.inf, -np.inf, np.nan, 100]),
                    st.floats(-4, 4, width=32))


def _arguments(name, data, shape, dtype):
    """The other arguments of the in-place method ``name`` (every method with a plain write has a row here)."""
    if name in ("clamp_", "clip_"):
        low, high = data.draw(st.one_of(st.none(), NUMBERS)), data.draw(st.one_of(st.none(), NUMBERS))
        if low is None and high is None:
            low = 0.0
        return (low, high), {}
    if name == "lerp_":
        end_shape = data.draw(st.sampled_from([shape, shape[1:], (1,) * len(shape)]))
        return (tg.tensor(_array(data, end_shape, dtype)), data.draw(NUMBERS)), {}
    if name in ("addcmul_", "addcdiv_"):
        shapes = [shape, shape[1:], (1,) * len(shape)]
        first, second = (tg.tensor(_array(data, data.draw(st.sampled_from(shapes)), dtype)) for _ in range(2))
        return (first, second), {"value": data.draw(NUMBERS)}
    raise AssertionError(f"{name} has a plain write but no row in test_declare._arguments: add one")


def _array(data, shape, dtype):
    values = data.draw(st.lists(st.one_of(st.sampled_from(EDGES), st.floats(-3, 3)), min_size=int(np.prod(shape)),
                                max_size=int(np.prod(shape))))
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


def _same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True) \
        and np.array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("name", _with_plain_write())
@given(data=st.data())
def test_a_plain_write_gives_the_ops_values_and_moves_versions(name, data):
    dtype = data.draw(st.sampled_from(FLOATS))
    shape = data.draw(st.sampled_from([(3,), (2, 3), (2, 1, 3), (2, 20)]))  # (2, 20): numpy's vector loops
    x = _array(data, shape, dtype)
    args, kwargs = ((), {}) if _unary(name) else _arguments(name, data, shape, dtype)
    method = getattr(Tensor, name)
    with np.errstate(all="ignore"):
        try:
            want = method.op(tg.tensor(x.copy()), *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the in-place form must refuse the same way
            with pytest.raises(type(error)):
                method(tg.tensor(x.copy()), *args, **kwargs)
            return
        base = tg.tensor(x.copy(), requires_grad=True)  # a parameter, written under no_grad
        view = base.detach()[0]
        before = base._version
        with tg.no_grad():
            out = method(base, *args, **kwargs)
    assert out is base
    if want.dtype != base.dtype:
        return  # a result the tensor cannot take: the door refused above or cast (checked elsewhere)
    assert _same_bits(base.detach().numpy(), want.numpy()), (name, x, args)
    assert _same_bits(view.numpy(), want.numpy()[0])
    assert base._version > before and view._version == base._version


_DOOR_CASES = {"sqrt_": ((), {}), "clamp_": ((0.0, 1.0), {}), "clamp_min": ((), {"min": 0}),
               "lerp_": ((tg.zeros(3), 0.5), {}), "addcmul_": ((tg.ones(3), tg.ones(3)), {"value": 0.5}),
               "addcdiv_": ((tg.ones(3), tg.ones(3)), {"value": -0.5})}


@pytest.mark.parametrize("case", sorted(_DOOR_CASES))
def test_what_a_plain_write_does_not_handle_goes_through_the_door(case):
    name = "clamp_" if case == "clamp_min" else case
    args, kwargs = _DOOR_CASES[case]
    with tg.no_grad(), pytest.raises(RuntimeError, match="read-only"):  # expanded memory: numpy refuses the write
        getattr(tg.ones(3).expand(2, 3), name)(*args, **kwargs)
    for larger in ((2, 3), (1, 3)):  # a result larger than the tensor (numpy's copyto takes the second: PyTorch not)
        bigger = tuple(tg.ones(larger) if isinstance(a, tg.Tensor) else a for a in args)
        if bigger and isinstance(bigger[0], tg.Tensor):
            x = tg.ones(3)
            with tg.no_grad(), pytest.raises(RuntimeError, match=re.escape(str(larger))):
                getattr(x, name)(*bigger, **kwargs)
            assert x.tolist() == [1.0, 1.0, 1.0]  # nothing written
    args, kwargs = _DOOR_CASES[case]
    y = tg.ones(3, requires_grad=True) * 1  # a non-leaf under grad mode: recorded, as the op's node
    before = y.grad_fn
    getattr(y, name)(*args, **kwargs)
    assert y.grad_fn is not None and y.grad_fn is not before
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(tg.ones(3, requires_grad=True), name)(*args, **kwargs)


def test_unary_plain_writes_cover_the_unary_ops():
    """Every unary op declared with ``unary`` has its plain write (so ``p.sqrt_()`` in a loop costs a ufunc)."""
    assert {"sqrt_", "exp_", "tanh_", "sigmoid_", "neg_", "abs_", "relu_"} <= set(UNARY)


def test_integer_tensors_take_the_door():
    x = tg.tensor([4, 9])
    with pytest.raises(RuntimeError):
        x.sqrt_()  # int64 result of a float op: the door refuses, as PyTorch
    assert x.tolist() == [4, 9]


EDGE_CALLS = [("clamp_", (0.0, None)), ("clamp_", (-0.0, 0.0)), ("clamp_", (None, 0.0)), ("clamp_", (-1, 1)),
              ("clamp_", (1.0, -1.0)), ("clamp_", (-np.inf, np.inf)), ("clip_", (0, 0.5)),
              ("lerp_", ("end", 0.25)), ("lerp_", ("end", 0.5)), ("lerp_", ("end", -2)), ("lerp_", ("end", 1)),
              ("addcmul_", ("end", "end")), ("addcdiv_", ("end", "end"))]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("call", EDGE_CALLS + [(n, ()) for n in UNARY], ids=str)
def test_plain_writes_at_the_edges_in_numpys_vector_loops(dtype, call):
    """Every edge value at every position of arrays long enough for numpy's SIMD loops (which, unlike its scalar
    loop, give the second argument of a tie: ``maximum(-0.0, 0.0)`` is +0.0 there)."""
    name, args = call
    edges = np.array(EDGES * 8, dtype=np.float64)
    with np.errstate(all="ignore"):
        x = np.stack([np.roll(edges, k) for k in range(3)]).astype(dtype)
        args = tuple(tg.tensor(np.roll(x, 1)) if a == "end" else a for a in args)
        want = getattr(Tensor, name).op(tg.tensor(x.copy()), *args)
        got = tg.tensor(x.copy())
        with tg.no_grad():
            getattr(got, name)(*args)
    assert _same_bits(got.numpy(), want.numpy())


# Elementwise in-place ops and copy_ refuse an operand that partly overlaps the written tensor (PyTorch's
# TensorIterator: assert_no_partial_overlap, on the operands as given); the same memory, or memory PyTorch cannot
# tell (a view that is not dense), is written. (code on x = arange(4.) or, with "2d", arange(6.).view(2, 3); refused)
OVERLAPS = [
    ("x[:3].copy_(x[1:])", True), ("x[:2].copy_(x[2:])", False), ("x.add_(x[:1])", True), ("x.add_(x)", False),
    ("x[:3].add_(x[1:])", True), ("x[1:].mul_(x[:3])", True), ("2d x.add_(x.t().t())", False),
    ("2d x[0].add_(x[1])", False), ("2d x[:, :2].add_(x[:, 1:])", False), ("x.copy_(x)", False),
    ("x.copy_(x.view(4))", False), ("x[:3].lerp_(x[1:], 0.5)", True), ("x[:3].clamp_(x[1:], None)", True),
    ("x[:3].addcmul_(x[1:], x[1:])", True), ("x[:3].atan2_(x[1:])", True), ("x[::2].add_(x[1::2])", False),
    ("x[:3].copy_(x[1:].flip(0))", False), ("x.add_(x[:1].expand(4))", False), ("v = x[:3]; v -= x[1:]", True),
    ("v = x[1:]; v += x[:3]", True), ("x[:2].sub_(x[1:3], alpha=2)", True), ("x[1:].div_(x[:3].clone())", False),
    ("with torch.no_grad(): x[:3].copy_(x[1:])", True), ("y = x.requires_grad_() * 1; y[:3].add_(y[1:])", True),
    ("x.add_(x[0])", True), ("x[1:2].add_(x[1])", True), ("x.copy_(x[0])", True), ("v = x[0]; v.lerp_(v, -1.5)", False),
    # ops with rules of their own: masked_fill_ reads its value first, masked_scatter_ does not check its source,
    # setitem writes a 0-d value as a fill
    ("x.masked_fill_(x > 1, x[0])", False), ("x.reshape(2, 2).masked_scatter_(x.reshape(2, 2) > -1, x)", False),
    ("y = x.requires_grad_() * 1; w = y.dot(y); w[None] = w", False),
    # clamp_min_/clamp_max_ of a tensor bound are TensorIterator ops; bernoulli_ checks p expanded to the shape (a
    # stride of 0 cannot be told); nan_to_num_'s arguments are Scalars (a 0-d tensor there is a number)
    ("x.view(2, 2).t().clamp_max_(x.view(2, 2))", True), ("x[:3].clamp_min_(x[1:])", True),
    ("x.clamp_min_(min=x[0])", True), ("x[:3].clamp_max_(max=x[1:])", True), ("x[:3].bernoulli_(x[1:])", True),
    ("x[:3].bernoulli_(x[1:2])", False), ("x.bernoulli_(x[0])", False),
    ("x.nan_to_num_(x[0])", False),
    # a dim added by None: stride 0 here, PyTorch's unsqueeze stride there (README); the same memory in both
    ("2d v = x[-1, None]; v.clamp_max_(x[1:])", False), ("x[None].add_(x.view(1, 4))", False),
    ("x.view(1, 4).mul_(x[None])", False), ("x[None, 1:].add_(x[None, :3])", True),
]


def _overlap_outcome(torch, code):
    x = torch.arange(6.0).reshape(2, 3) if code.startswith("2d ") else torch.arange(4.0)
    try:
        exec(code.removeprefix("2d "), {"x": x, "torch": torch})
    except RuntimeError as error:
        assert "single memory location" in str(error)
        return True
    return False


@pytest.mark.parametrize("code, refused", OVERLAPS)
def test_in_place_ops_refuse_a_partly_overlapping_operand(code, refused):
    assert _overlap_outcome(tg, code) is refused


@pytest.mark.parametrize("code, refused", OVERLAPS)
def test_in_place_overlap_refusals_are_pytorchs(code, refused):
    torch = pytest.importorskip("torch")
    assert _overlap_outcome(torch, code) is refused


_IN_PLACE = sorted(n for n in dir(Tensor) if n.endswith("_") and not n.startswith("_") and n not in {
    "requires_grad_", "detach_", "resize_", "resize_as_", "as_strided_", "apply_", "map_", "map2_"})


_OVERLAPPING = {"transposed": lambda v: (v.t(), v), "shifted": lambda v: (v[:2], v[1:]),
                "0-d": lambda v: (v[1], v[1, 1]), "broadcast row": lambda v: (v[1:], v[:1])}


def _operand_overlap_outcome(torch, name, form, layout):
    """What ``w.<name>(...)`` does with ``o`` as its tensor operands, ``w`` and ``o`` views of one tensor that
    share memory (``layout``): "refused" for PyTorch's overlap error, "other" for any other error, else
    "written"."""
    w, v = _OVERLAPPING[layout](torch.arange(1.0, 10.0).reshape(3, 3) / 10)
    args, kwargs = {"one": ((v,), {}), "two": ((v, v), {}), "three": ((v, v, v), {}),
                    "min": ((), {"min": v}), "max": ((), {"max": v})}[form]
    try:
        getattr(w, name)(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 (any refusal: which one is the point)
        return "refused" if "single memory location" in str(error) else "other"
    return "written"


@pytest.mark.parametrize("form", ["one", "two", "three", "min", "max"])
@pytest.mark.parametrize("name", _IN_PLACE)
def test_every_in_place_method_refuses_overlapping_operands_as_pytorch(name, form):
    """Generated over every in-place method: a tensor operand that partly overlaps the tensor written is refused
    exactly where PyTorch refuses it (its TensorIterator's assert_no_partial_overlap and the ops that call it)."""
    torch = pytest.importorskip("torch")
    if not hasattr(torch.Tensor, name):
        pytest.skip(f"PyTorch has no {name}")
    for layout in _OVERLAPPING:
        if layout == "0-d" and (name in ("normal_", "uniform_") or name in ("add_", "sub_", "subtract_")
                                and form == "two"):
            continue  # (PyTorch reads these 0-d tensors as numbers: Scalar parameters, the deprecated add_(alpha, t))
        there = _operand_overlap_outcome(torch, name, form, layout)
        if there == "other":  # (PyTorch refuses the call's arguments first: tapegrad's order of checks may differ)
            continue
        assert _operand_overlap_outcome(tg, name, form, layout) == there, layout


@pytest.mark.parametrize("name", ["sqrt_", "clamp_", "lerp_", "addcmul_", "addcdiv_"])
def test_plain_writes_of_0d_tensors(name):
    args = {"sqrt_": (), "clamp_": (0.5, 1.0), "lerp_": (tg.tensor(3.0), 0.25),
            "addcmul_": (tg.tensor(3.0), tg.tensor(2.0)), "addcdiv_": (tg.tensor(3.0), tg.tensor(2.0))}[name]
    kwargs = {"value": 0.5} if name.startswith("addc") else {}
    want = getattr(Tensor, name).op(tg.tensor(2.0), *args, **kwargs)
    got = tg.tensor(2.0)
    with tg.no_grad():
        getattr(got, name)(*args, **kwargs)
    assert got.shape == () and got.item() == want.item()


@pytest.mark.parametrize("name", ["addcmul_", "addcdiv_"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shapes", [((2, 3), (1, 2, 3)), ((2, 1), (2, 3))])
def test_plain_writes_refuse_a_result_larger_than_the_tensor_writing_nothing(name, dtype, shapes):
    # addcmul_'s float32 write rounds straight into the tensor: a larger result must be refused before that
    shape, larger = shapes
    x = tg.ones(shape, dtype=getattr(tg, dtype))
    with tg.no_grad(), pytest.raises(RuntimeError, match=rf"{name}: the result of shape .* does not fit"):
        getattr(x, name)(tg.full(larger, 2.0, dtype=x.dtype), tg.full(larger, 2.0, dtype=x.dtype), value=0.5)
    assert x.tolist() == tg.ones(shape).tolist() and x._version == 0
