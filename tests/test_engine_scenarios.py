"""The engine's edge cases, around its fast paths (the common node's turn without the general checks, dicts keyed
by tensors, the ready list of (node, gradient) pairs, a leaf's accumulation): roots given twice, a tensor used twice
by one op, hooks and retained gradients, ``inputs=``, double backward, in-place writes, shared gradient arrays.
Each scenario runs on tapegrad and (when installed) on PyTorch, whose results are the specification; a few also
have their values written out, so they run without PyTorch."""

import numpy as np
import pytest

import tapegrad as tg

f32 = np.float32


def _np(v):
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return [_np(u) for u in v]
    if hasattr(v, "detach"):
        return v.detach().numpy().copy()
    return v


def _outcome(fn, T):
    """What ``fn(T)`` returns (as arrays), or the type of error it raises."""
    try:
        return ("ok", _np(fn(T)))
    except Exception as e:  # noqa: BLE001 (the error's kind is the outcome)
        return ("error", "RuntimeError" if isinstance(e, RuntimeError) else type(e).__name__)


# ---------------------------------------------------------------------- scenarios (T: tapegrad or torch)
def roots_twice(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    return T.autograd.grad([y, y], [x], [T.ones(2), T.full((2,), 2.0)])


def roots_twice_and_root_as_input(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    return T.autograd.grad([y, y], [x, y], [T.ones(2), T.full((2,), 2.0)])


def leaf_root_twice(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    return T.autograd.grad([x, x], [x], [T.ones(2), T.full((2,), 5.0)])


def scalar_root_three_times(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    s = (x * 3).sum()
    return T.autograd.grad([s, s, s], [x], [T.tensor(1.0), T.tensor(2.0), T.tensor(4.0)])


def root_twice_create_graph(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    s = (x * x).sum()
    (g,) = T.autograd.grad([s, s], [x], [T.tensor(1.0), T.tensor(2.0)], create_graph=True)
    return g, T.autograd.grad(g.sum(), x)


def root_twice_one_an_input_of_another(T):
    # (counted y's inputs once per listing of y, while the loop sends them once: x looked unused)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = (y * y).sum()
    return T.autograd.grad([y, z, y], [x, y], [T.ones(2), T.tensor(1.0), T.ones(2)])


def root_input_of_another_root(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = (y * y).sum()
    return T.autograd.grad([z, y], [x, y], [T.tensor(1.0), T.full((2,), 0.5)])


def root_input_of_another_root_listed_first(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * x * x + 1
    z = (y * x).sum()
    w = y * y
    return T.autograd.grad([y, w, z], [x], [T.full((2,), 0.5), T.ones(2), T.tensor(2.0)])


def used_twice_by_one_op(T):
    x = T.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    a = x.grad.clone()
    x.grad = None
    T.add(x, x).sum().backward()
    b = x.grad.clone()
    x.grad = None
    T.addcmul(x, x, x, value=0.5).sum().backward()
    return a, b, x.grad


def used_by_many(T):
    x = T.tensor([0.5, -1.5], requires_grad=True)
    y = x * 2
    z = y * y * y + y * y - y * 0.25 + T.where(y > 0, y, y * 3)
    z.sum().backward()
    return x.grad


class _Half:
    """A Function whose backward gives its first input no gradient (None)."""

    @staticmethod
    def make(T):
        class F(T.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                return a * 1 + b * 2

            @staticmethod
            def backward(ctx, g):
                return None, g * 2

        return F


def none_gradient_releases_parents(T):
    F = _Half.make(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3  # y receives None from F, but x still gets its other gradient, after y is released
    z = F.apply(y, x)
    (z.sum() + 0 * x.sum()).backward()
    return x.grad


def none_gradient_only_consumer(T):
    F = _Half.make(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([4.0, 5.0], requires_grad=True)
    y = x.exp() * w  # its only consumer sends None: nothing reaches x or w
    z = F.apply(y, w)
    z.sum().backward()
    return x.grad, w.grad


def none_gradient_two_nones(T):
    F = _Half.make(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = F.apply(y, x) + F.apply(y, x)
    (y.sum() * 0 + z.sum()).backward()
    return x.grad


def allow_unused_and_none(T):
    F = _Half.make(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    u = T.tensor([3.0], requires_grad=True)
    y = x * 3
    z = F.apply(y, x)
    return T.autograd.grad(z.sum(), [y, u, x], allow_unused=True)


def unused_input_is_an_error(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    u = T.tensor([3.0], requires_grad=True)
    return T.autograd.grad((x * 2).sum(), [x, u])


def second_backward_is_an_error(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    s = (x.exp() * x).sum()
    s.backward()
    s.backward()


def second_backward_through_shared_node_is_an_error(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp() * x
    y.sum().backward()
    (y * 2).sum().backward()


def retain_graph_twice(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * x * x
    s = y.sum()
    s.backward(retain_graph=True)
    s.backward(retain_graph=True)
    (y * 2).sum().backward()
    return x.grad


def hooks_values_and_counts(T):
    log = []
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: log.append(("x", g.tolist())))
    x.register_post_accumulate_grad_hook(lambda p: log.append(("post", p.grad.tolist())))
    y = x * 3
    y.register_hook(lambda g: log.append(("y", g.tolist())) or g * 2)
    y.retain_grad()
    z = y * y + y
    z.retain_grad()
    z.register_hook(lambda g: log.append(("z", g.tolist())))
    z.sum().backward()
    return sorted(log), x.grad, y.grad, z.grad


def hook_on_chain_order(T):
    log = []
    x = T.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a.exp()
    c = b * 3
    for name, t in (("x", x), ("a", a), ("b", b), ("c", c)):
        t.register_hook(lambda g, name=name: log.append(name))
    x.register_post_accumulate_grad_hook(lambda p: log.append("post"))
    c.sum().backward()
    return log


def leaf_hook_with_two_consumers(T):
    calls = []
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: calls.append(g.tolist()))
    (x * 2 + x * x).sum().backward()
    return calls, x.grad


def retain_grad_root_and_used_twice(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = (y * y + y.sin()).sum()
    z.retain_grad()
    z.backward()
    return x.grad, y.grad, z.grad


def double_backward(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x * x * x + (x * x + 1) * x
    (g,) = T.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = T.autograd.grad((g * g).sum(), x, create_graph=True)
    h.sum().backward()
    return g, h, x.grad


def backward_create_graph_then_grad(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    return g, T.autograd.grad(g.sum(), x)


def anomaly_mode_values(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    with T.autograd.detect_anomaly():
        y = x * x
        (y * y + y * y * y).sum().backward()
    return x.grad


def anomaly_mode_nan(T):
    x = T.tensor([0.0, 1.0], requires_grad=True)
    with T.autograd.detect_anomaly():
        y = x.sqrt() * 0  # sqrt's gradient at 0 is inf, times 0: nan
        y.sum().backward()


def stale_after_no_grad_write(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x * 2
    z = y * y
    with T.no_grad():
        y.add_(1)
    z.sum().backward()


def stale_after_no_grad_write_of_output(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x.exp()
    with T.no_grad():
        y.mul_(2)
    y.sum().backward()


def stale_leaf_write(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x * x
    with T.no_grad():
        x.add_(1)
    y.sum().backward()


def inplace_write_not_read(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x * 2
    z = y * 3  # reads no y
    y.mul_(2)
    (z + y).sum().backward()
    return x.grad


def inplace_chain_under_grad(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x + 0
    y.mul_(3)
    y.add_(x)
    w = y * 2
    w.exp_()
    w.sum().backward()
    return x.grad


def inplace_through_view(T):
    x = T.tensor([[0.5, -1.0], [2.0, 3.0]], requires_grad=True)
    y = x * 1
    v = y[0]
    v.mul_(4)
    (y * y).sum().backward()
    return x.grad


def reshaped_in_place_under_no_grad(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x * 2
    with T.no_grad():
        y.unsqueeze_(0)
    (y * 3).sum().backward()
    return x.grad


def reshaped_in_place_two_consumers(T):
    x = T.tensor([0.5, -1.0], requires_grad=True)
    y = x * 2
    a = y * 5
    with T.no_grad():
        y.unsqueeze_(0)
    b = y * 3
    (a.sum() + b.sum()).backward()
    return x.grad


def broadcast_and_dtypes(T):
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = T.tensor([[1.0], [2.0]], requires_grad=True)
    h = T.tensor([1.5, 2.5, 3.5], dtype=T.float64, requires_grad=True)
    y = x * b + x.double() * h + (x + b).half().float() + x
    y.sum().backward()
    return x.grad, b.grad, h.grad


def shared_gradient_array_copied(T):
    a = T.tensor([1.0, 2.0], requires_grad=True)
    b = T.tensor([3.0, 4.0], requires_grad=True)
    c = T.tensor([5.0, 6.0], requires_grad=True)
    (a + b - c).sum().backward()
    a.grad.add_(10)
    c.grad.mul_(3)
    return a.grad, b.grad, c.grad


def shared_gradient_from_view_rule(T):
    a = T.tensor([1.0, 2.0], requires_grad=True)
    b = T.tensor([3.0, 4.0], requires_grad=True)
    s = T.stack([a, b])  # the rule hands out views of one array
    (s * 1).sum().backward()
    a.grad.add_(1)
    return a.grad, b.grad


def grad_accumulates_after_summing_incoming(T):
    # PyTorch sums the gradients reaching x (2**-24 + 2**-24) and then adds them to .grad (1.0):
    # 1 + 2**-23. Adding them to .grad one by one would give 1 + 2**-24 + 2**-24 = 1 (ties to even).
    x = T.tensor([1.0], requires_grad=True)
    x.grad = T.tensor([1.0])
    c = 2.0 ** -24
    (x * c + x * c).sum().backward()
    return x.grad


def grad_accumulates_over_two_backwards(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    g1 = x.grad
    (x * x * x + x).sum().backward()
    return g1, x.grad, x.grad is g1


def backward_inputs_kwarg(T):
    # PyTorch's backward(inputs=) calls retain_grad() on a non-leaf input, so the second backward adds to y.grad
    # again (tapegrad's set y.grad once)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    z = (y * y).sum()
    z.backward(inputs=[x, y], retain_graph=True)
    z.backward(inputs=[w])
    return x.grad, w.grad, y.grad


def grad_of_intermediate_and_leaf(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + 1
    z = y * x
    return T.autograd.grad(z.sum(), [y, x, z])


def dynamic_hook_retains(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3

    def hook(g):
        y.retain_grad()  # (a hook that asks, while the backward runs)
        return g

    y.register_hook(hook)
    (y * y).sum().backward()
    return x.grad, y.grad


def leaf_shared_with_detach_alias(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    y = x * x
    d.mul_(1)  # a write through the alias after the op: PyTorch refuses the backward
    y.sum().backward()


SCENARIOS = [roots_twice, roots_twice_and_root_as_input, leaf_root_twice, scalar_root_three_times,
             root_twice_create_graph, root_twice_one_an_input_of_another, root_input_of_another_root,
             root_input_of_another_root_listed_first, used_twice_by_one_op, used_by_many,
             none_gradient_releases_parents, none_gradient_only_consumer, none_gradient_two_nones,
             allow_unused_and_none, unused_input_is_an_error, second_backward_is_an_error,
             second_backward_through_shared_node_is_an_error, retain_graph_twice, hooks_values_and_counts,
             hook_on_chain_order, leaf_hook_with_two_consumers, retain_grad_root_and_used_twice, double_backward,
             backward_create_graph_then_grad, anomaly_mode_values, anomaly_mode_nan, stale_after_no_grad_write,
             stale_after_no_grad_write_of_output, stale_leaf_write, inplace_write_not_read,
             inplace_chain_under_grad, inplace_through_view, reshaped_in_place_under_no_grad,
             reshaped_in_place_two_consumers, broadcast_and_dtypes, shared_gradient_array_copied,
             shared_gradient_from_view_rule, grad_accumulates_after_summing_incoming,
             grad_accumulates_over_two_backwards, backward_inputs_kwarg, grad_of_intermediate_and_leaf,
             dynamic_hook_retains, leaf_shared_with_detach_alias]


def _same(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    return a == b


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_engine_scenario_matches_pytorch(scenario):
    torch = pytest.importorskip("torch")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = _outcome(scenario, tg), _outcome(scenario, torch)
    assert _same(ours, theirs), (ours, theirs)


# ---------------------------------------------------------------------- the same, with the values written out
def test_roots_given_twice_are_summed():
    (g,) = roots_twice(tg)
    np.testing.assert_array_equal(g.numpy(), [9.0, 9.0])
    gx, gy = roots_twice_and_root_as_input(tg)
    np.testing.assert_array_equal(gx.numpy(), [9.0, 9.0])
    np.testing.assert_array_equal(gy.numpy(), [3.0, 3.0])
    (g,) = leaf_root_twice(tg)
    np.testing.assert_array_equal(g.numpy(), [6.0, 6.0])
    (g,) = scalar_root_three_times(tg)
    np.testing.assert_array_equal(g.numpy(), [21.0, 21.0])


def test_root_given_twice_with_create_graph():
    g, (h,) = root_twice_create_graph(tg)
    np.testing.assert_array_equal(g.detach().numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(h.numpy(), [6.0, 6.0])


def test_root_given_twice_and_an_input_of_another_root():
    # d/dx of 1*y + sum(y*y) + 1*y with y = 3x: 3 + 18x + 3; d/dy: 2 + 2y
    gx, gy = root_twice_one_an_input_of_another(tg)
    np.testing.assert_array_equal(gx.numpy(), [24.0, 42.0])
    np.testing.assert_array_equal(gy.numpy(), [8.0, 14.0])


def test_root_that_is_an_input_of_another_root():
    gx, gy = root_input_of_another_root(tg)
    np.testing.assert_array_equal(gx.numpy(), [19.5, 37.5])  # 3 * (2y + 0.5)
    np.testing.assert_array_equal(gy.numpy(), [6.5, 12.5])


def test_none_gradients_release_their_parents():
    np.testing.assert_array_equal(none_gradient_releases_parents(tg).numpy(), [2.0, 2.0])
    gx, gw = none_gradient_only_consumer(tg)
    assert gx is None
    np.testing.assert_array_equal(gw.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(none_gradient_two_nones(tg).numpy(), [4.0, 4.0])
    gy, gu, gx = allow_unused_and_none(tg)
    assert gy is None and gu is None
    np.testing.assert_array_equal(gx.numpy(), [2.0, 2.0])


def test_grad_sums_incoming_before_adding_to_dot_grad():
    g = grad_accumulates_after_summing_incoming(tg)
    assert g.numpy()[0] == f32(1 + 2.0 ** -23)


def test_shared_arrays_are_copied_for_each_leaf():
    a, b, c = shared_gradient_array_copied(tg)
    np.testing.assert_array_equal(a.numpy(), [11.0, 11.0])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(c.numpy(), [-3.0, -3.0])
    a, b = shared_gradient_from_view_rule(tg)
    np.testing.assert_array_equal(a.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])


def test_second_backward_errors_are_kept():
    for scenario in (second_backward_is_an_error, second_backward_through_shared_node_is_an_error,
                     stale_after_no_grad_write, stale_after_no_grad_write_of_output, stale_leaf_write,
                     leaf_shared_with_detach_alias):
        with pytest.raises(RuntimeError):
            scenario(tg)


def test_backward_trace_sees_every_node():
    from tapegrad.viz import BackwardTrace

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with BackwardTrace(names={"x": x}) as trace:
        (y * y + y).sum().backward()
    rules = [s.rule for s in trace.steps]
    assert rules.count("MulBackward0") == 2 and rules.count("AccumulateGrad") == 1
    assert rules.count("AddBackward0") == 1 and rules.count("SumBackward0") == 1
    np.testing.assert_array_equal(x.grad.numpy(), [21.0, 39.0])
    np.testing.assert_array_equal(trace.grad(x).value, x.grad.numpy()) if np.ndim(trace.grad(x).value) else None


# ---------------------------------------------------------------------- tensors as dict keys
def test_tensor_subclass_defining_eq_can_backward():
    """Python makes a class that defines __eq__ without __hash__ unhashable; PyTorch's engine never hashes the
    tensors of a graph, so such a subclass backpropagates (tapegrad's engine keys its dicts by tensors: such a
    subclass stays hashable by identity here, README)."""

    class P(tg.nn.Parameter):
        def __eq__(self, other):
            return tg.Tensor.__eq__(self, other)

    p = P(tg.ones(2))
    (p * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, 2.0])
    q = P(tg.ones(2))
    (g,) = tg.autograd.grad([(q * q).sum()], [q])
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0])


def test_hash_is_identity():
    a, b = tg.ones(2), tg.ones(2)
    assert hash(a) == hash(a) and hash(a) != hash(b)
    assert len({a, b, a}) == 2
    d = {a: 1}
    assert b not in d and d[a] == 1


# ---------------------------------------------------------------------- retained gradients (values written out)
def test_a_retained_gradient_accumulates_over_backwards_as_pytorchs():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert y.grad.tolist() == [12.0, 24.0]  # PyTorch's retain_grad hook adds later gradients (it was overwritten)


def test_a_retained_gradient_is_kept_by_grad_and_by_backward_inputs_too():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    y.retain_grad()
    z = (y * y).sum()
    tg.autograd.grad(z, [w], retain_graph=True)
    assert y.grad.tolist() == [6.0, 16.0]
    z.backward(inputs=[w], retain_graph=True)
    assert y.grad.tolist() == [12.0, 32.0] and x.grad is None
    y2 = x * w
    z2 = (y2 * y2).sum()
    z2.backward(inputs=[x, y2], retain_graph=True)  # a non-leaf input retains its gradient from then on
    assert y2.retains_grad and y2.grad.tolist() == [6.0, 16.0] and x.grad.tolist() == [18.0, 64.0]
    z2.backward(inputs=[w])
    assert y2.grad.tolist() == [12.0, 32.0] and w.grad.tolist() == [12.0, 64.0]  # (w: both backwards)
