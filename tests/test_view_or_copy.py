"""view/reshape deciding "view or copy" from the result's numpy base (node names, ``_is_view``, shared memory and
errors as PyTorch's over many layouts), and a tensor forgetting its aliases once they have all died."""

import gc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg


# ---------------------------------------------------------------------- view / reshape
def _layouts(T):
    """name -> a function making a tensor (requiring grad where it is a float) of that layout."""
    base = np.arange(24, dtype=np.float32)

    def leaf(n=24):
        return T.arange(float(n)).requires_grad_()

    return {
        "contiguous": lambda: leaf().reshape(2, 3, 4),
        "transposed": lambda: leaf().reshape(4, 6).t(),
        "sliced_rows": lambda: leaf().reshape(6, 4)[1:4],
        "sliced_cols": lambda: leaf().reshape(4, 6)[:, 1:4],
        "stepped": lambda: leaf()[::2],
        "expanded": lambda: leaf(3).reshape(3, 1).expand(3, 4),
        "expanded_row": lambda: leaf(4).expand(3, 4),
        "zero_size": lambda: T.zeros(0, 3, requires_grad=True) * 1,
        "zero_d": lambda: T.tensor(5.0, requires_grad=True) * 1,
        "size_one_t": lambda: leaf(6).reshape(6, 1).t(),
        "permuted": lambda: leaf().reshape(2, 3, 4).permute(2, 0, 1),
        "selected_col": lambda: leaf().reshape(4, 6)[:, 2],
        "diagonal": lambda: leaf(9).reshape(3, 3).diagonal(),
        "view_of_view": lambda: leaf().reshape(2, 12)[1].reshape(3, 4),
        "from_numpy_slice": lambda: T.from_numpy(base.reshape(4, 6)[1:3].copy()[:, :]).requires_grad_(),
        "from_numpy_view_t": lambda: T.from_numpy(base.copy().reshape(4, 6)[1:3]).requires_grad_().t(),
        "frombuffer": lambda: T.from_numpy(np.frombuffer(bytearray(base.tobytes()), dtype=np.float32)),
        "frombuffer_grad": lambda: T.from_numpy(
            np.frombuffer(bytearray(base.tobytes()), dtype=np.float32)).requires_grad_(),
        "channels_last": lambda: (leaf().reshape(1, 2, 3, 4) * 1).contiguous(memory_format=T.channels_last),
        "channels_last_leaf": lambda: leaf().reshape(1, 2, 3, 4).detach().contiguous(
            memory_format=T.channels_last).requires_grad_(),
        "product_of_transposed": lambda: leaf().reshape(4, 6).t() * 2,
        "as_strided": lambda: leaf().as_strided((3, 4), (1, 3)),
        "detached_view": lambda: leaf().reshape(4, 6)[1:3].detach(),
        "ints_transposed": lambda: T.arange(24).reshape(4, 6).t(),
    }


SHAPES = [(-1,), (2, -1), (-1, 2), (4, 3, 2), (1, -1), (-1, 1), (3, 1, -1), (), (1,), (0,), (0, 3), (1, 1, 1),
          (2, 0, 5)]
LAYOUTS = list(_layouts(tg))


def _describe(T, make, shape, op):
    """What ``x.<op>(shape)`` does: its error, or its node, view-ness, strides, and whether a write into the result
    shows in ``x`` (and the gradient reaching x's leaf)."""
    x = make()
    try:
        y = getattr(x, op)(*shape) if shape else getattr(x, op)(())
    except Exception as e:  # noqa: BLE001
        return ("error", type(e).__name__)
    name = None if y.grad_fn is None else y.grad_fn.name()
    grad = None
    if y.requires_grad and y.numel():
        (g,) = T.autograd.grad((y * T.arange(float(y.numel())).reshape(y.shape)).sum(), x, retain_graph=True)
        grad = g.tolist()
    shares = None
    if y.numel():
        before = x.detach().clone()
        with T.no_grad():
            y[(0,) * y.dim()] = -7
        shares = not bool((x.detach() == before).all())
    return ("ok", name, y._is_view(), tuple(y.shape), shares, grad)


@pytest.mark.parametrize("op", ["view", "reshape"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_view_and_reshape_match_pytorch(layout, op):
    torch = pytest.importorskip("torch")
    ours_layouts, their_layouts = _layouts(tg), _layouts(torch)
    for shape in SHAPES:
        ours = _describe(tg, ours_layouts[layout], shape, op)
        theirs = _describe(torch, their_layouts[layout], shape, op)
        assert ours == theirs, (shape, ours, theirs)


def test_view_results_share_memory_and_bases():
    x = tg.arange(24.0).reshape(4, 6).clone()
    v = x[1:3].view(12)
    assert v._is_view() and v._base is x
    v[0] = -1
    assert x[1, 0].item() == -1
    r = x.t().reshape(24)  # a copy: UnsafeViewBackward0, not a view
    assert not r._is_view()
    r[0] = 99
    assert x[0, 0].item() == 0
    with pytest.raises(RuntimeError, match="view"):
        x.t().view(24)
    # a non-owning array (its base is a bytearray): a view of it is a view
    f = tg.from_numpy(np.frombuffer(bytearray(np.arange(6, dtype=np.float32).tobytes()), dtype=np.float32))
    g = f.view(2, 3)
    assert g._is_view() and g._base is f
    g[1, 2] = 50
    assert f[5].item() == 50
    w = f.requires_grad_().reshape(3, 2)
    assert w.grad_fn.name() == "ViewBackward0"


@st.composite
def strided(draw):
    """A tensor whose layout is a random slicing/transposition of a contiguous block, and a target shape of the
    same size."""
    dims = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    base = tg.arange(float(np.prod(dims) * 2)).reshape(*dims[:-1], dims[-1] * 2)
    x = base[..., ::2] if draw(st.booleans()) else base[..., : dims[-1]]
    if len(dims) > 1 and draw(st.booleans()):
        x = x.transpose(0, -1)
    n = x.numel()
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    first = draw(st.sampled_from(divisors))
    return x, draw(st.sampled_from([(n,), (first, -1), (-1, first, 1), (1, n)]))


@given(strided())
def test_view_or_copy_is_numpys_answer(case):
    """reshape views exactly where numpy can without copying (shared memory), and view raises exactly there."""
    x, shape = case
    out = x.reshape(*shape)
    try:
        expected_view = True
        np.reshape(x.numpy(), shape, copy=False)
    except ValueError:
        expected_view = False
    assert np.shares_memory(out.numpy(), x.numpy()) == expected_view
    assert out._is_view() == expected_view
    if expected_view:
        v = x.view(*shape)
        assert np.shares_memory(v.numpy(), x.numpy())
    else:
        with pytest.raises(RuntimeError):
            x.view(*shape)


def test_reshape_node_names():
    x = tg.arange(24.0, requires_grad=True)
    assert x.reshape(4, 6).grad_fn.name() == "ViewBackward0"
    t = x.reshape(4, 6).t()
    assert t.reshape(2, 12).grad_fn.name() == "UnsafeViewBackward0"
    assert t.reshape(6, 1, 4).grad_fn.name() == "ReshapeAliasBackward0"
    assert x.reshape(4, 6)[1:3].reshape(12).grad_fn.name() == "ViewBackward0"
    assert x.reshape(4, 6)[:, 1:3].reshape(8).grad_fn.name() == "UnsafeViewBackward0"
    assert x.reshape(4, 6)[:, 1:3].reshape(4, 2, 1).grad_fn.name() == "ReshapeAliasBackward0"
    assert x[::2].view(3, 4).grad_fn.name() == "ViewBackward0"


# ---------------------------------------------------------------------- aliases that die (inplace.bump)
def _dead_alias_scenarios():
    def versions_of_live_alias(T):
        x = T.zeros(3)
        d1, d2 = x.detach(), x.detach()
        del d1
        gc.collect()
        with T.no_grad():
            x.add_(1)
        v = (x._version == d2._version, d2.tolist())
        d2.add_(1)  # a write through the live alias shows in x and moves x's version
        return v, x._version == d2._version, x.tolist()

    def alias_made_after_reset(T):
        x = T.zeros(3)
        d = x.detach()
        del d
        gc.collect()
        x.add_(1)
        x.add_(1)
        e = x.detach()
        e.mul_(3)
        return x.tolist(), x._version == e._version

    def stale_after_reset(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        d = x.detach()
        del d
        gc.collect()
        with T.no_grad():
            x.add_(1)
        y = x * x
        x.detach().add_(1)  # a new alias's write: y's saved x changed
        y.sum().backward()

    def stale_through_data(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        x.data.mul_(1)
        gc.collect()
        with T.no_grad():
            x.add_(1)
        y = x * x
        x.data.add_(1)  # PyTorch's .data does not share the version counter: no error
        y.sum().backward()
        return x.grad

    def hooks_kept(T):
        calls = []
        x = T.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: calls.append(g.tolist()))
        x.register_post_accumulate_grad_hook(lambda p: calls.append("post"))
        d = x.detach()
        del d
        gc.collect()
        with T.no_grad():
            x.mul_(2)
        (x * 3).sum().backward()
        return calls, x.grad

    def retains_grad_kept(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        d = y.detach()
        del d
        gc.collect()
        with T.no_grad():
            y.mul_(1)
        (y * 3).sum().backward()
        return y.grad, x.grad

    def detach_of_view(T):
        x = T.zeros(2, 3)
        v = x[0]
        d = v.detach()
        del d
        gc.collect()
        v.add_(1)  # v is a view: its writes still reach x (and its version moves with x)
        w = x[1]
        w.add_(2)
        return x.tolist(), v._version == x._version == w._version

    def view_survives_alias_death(T):
        x = T.zeros(4)
        d = x.detach()
        v = x[1:3]
        del d
        gc.collect()
        x.add_(1)
        v.mul_(5)
        return x.tolist(), v._version == x._version

    def data_setter(T):
        p = T.nn.Parameter(T.zeros(3))
        d = p.detach()
        del d
        gc.collect()
        with T.no_grad():
            p.add_(1)
        p.data = T.ones(3) * 7
        with T.no_grad():
            p.mul_(2)
        q = p.detach()
        q.add_(1)
        return p.tolist(), q.tolist(), p._version == q._version

    def optimizer_after_detach(T):
        p = T.nn.Parameter(T.tensor([1.0, 2.0]))
        opt = T.optim.SGD([p], lr=0.5, momentum=0.9)
        for _ in range(3):
            d = p.detach()  # (logged, then dropped)
            del d
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        return p

    return [versions_of_live_alias, alias_made_after_reset, stale_after_reset, stale_through_data, hooks_kept,
            retains_grad_kept, detach_of_view, view_survives_alias_death, data_setter, optimizer_after_detach]


DEAD_ALIAS = _dead_alias_scenarios()


def _outcome(fn, T):
    try:
        r = fn(T)
    except RuntimeError:
        return ("error",)

    def conv(v):
        if isinstance(v, (tuple, list)):
            return [conv(u) for u in v]
        if hasattr(v, "detach"):
            return v.detach().numpy().tolist()
        return v

    return ("ok", conv(r))


@pytest.mark.parametrize("scenario", DEAD_ALIAS, ids=lambda f: f.__name__)
def test_dead_aliases_match_pytorch(scenario):
    torch = pytest.importorskip("torch")
    assert _outcome(scenario, tg) == _outcome(scenario, torch)


def test_dead_aliases_values():
    by_name = {f.__name__: f for f in DEAD_ALIAS}
    assert by_name["versions_of_live_alias"](tg) == ((True, [1.0, 1.0, 1.0]), True, [2.0, 2.0, 2.0])
    assert by_name["alias_made_after_reset"](tg) == ([6.0, 6.0, 6.0], True)
    with pytest.raises(RuntimeError):
        by_name["stale_after_reset"](tg)
    calls, g = by_name["hooks_kept"](tg)
    assert calls == [[3.0, 3.0], "post"] and g.tolist() == [3.0, 3.0]
    yg, xg = by_name["retains_grad_kept"](tg)
    assert yg.tolist() == [3.0, 3.0] and xg.tolist() == [6.0, 6.0]
    assert by_name["detach_of_view"](tg) == ([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], True)
    assert by_name["view_survives_alias_death"](tg) == ([1.0, 5.0, 5.0, 1.0], True)
    assert by_name["data_setter"](tg) == ([15.0] * 3, [15.0] * 3, True)


def test_extra_reset_only_when_nothing_else_is_kept():
    x = tg.zeros(3)
    d = x.detach()
    del d
    gc.collect()
    x.add_(1)
    assert x._extra is None  # (the speed work's point: the fast paths again)
    y = tg.zeros(3, requires_grad=True)
    y.register_hook(lambda g: g)
    d = y.detach()
    del d
    gc.collect()
    with tg.no_grad():
        y.add_(1)
    assert y._extra is not None and "hooks" in y._extra
