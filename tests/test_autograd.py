"""The engine itself: ordering, accumulation, grad modes, memory, versions, higher order, hooks, Functions."""

import gc
import threading
import weakref

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd import Function, GradcheckError, gradcheck
from tapegrad.autograd.engine import toposort
from tapegrad.testing import assert_gradients


# ---------------------------------------------------------------------- random DAGs with shared subexpressions
@st.composite
def programs(draw):
    """A random straight-line program over 2 inputs: each step combines two earlier values (reuse allowed)."""
    n = draw(st.integers(1, 8))
    steps = []
    for i in range(n):
        op = draw(st.sampled_from(["add", "sub", "mul", "tanh", "exp_small", "square", "div_safe"]))
        a = draw(st.integers(0, i + 1))
        b = draw(st.integers(0, i + 1))
        steps.append((op, a, b))
    return steps


def run_program(steps, x, y):
    vals = [x, y]
    for op, a, b in steps:
        u, v = vals[a], vals[b]
        if op == "add":
            r = u + v
        elif op == "sub":
            r = u - v
        elif op == "mul":
            r = u * v
        elif op == "tanh":
            r = u.tanh()
        elif op == "exp_small":
            r = (u.tanh()).exp()
        elif op == "square":
            r = u * u
        else:
            r = u / (v * v + 1.0)
        vals.append(r)
    return sum(v.sum() for v in vals[2:])


@given(programs(), st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3))]))
def test_random_dags_match_finite_differences(steps, shapes):
    rng = np.random.default_rng(len(steps))
    x, y = rng.uniform(-1, 1, shapes[0]), rng.uniform(-1, 1, shapes[1])
    assert_gradients(lambda a, b: run_program(steps, a, b), x, y)


def test_shared_subexpression_gradient_is_summed():
    x = tg.tensor(3.0, requires_grad=True)
    y = x * x
    z = y + y * y  # y used twice
    z.backward()
    # z = x^2 + x^4 -> 2x + 4x^3
    assert x.grad.item() == pytest.approx(2 * 3 + 4 * 27)


def test_two_backward_calls_accumulate_exactly_twice():
    w = tg.tensor([1.0, -2.0, 0.5], requires_grad=True)
    for _ in range(2):
        (w * w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2 * 3 * w.detach().numpy() ** 2)


def test_leaf_grads_do_not_share_memory():
    a = tg.ones(3, requires_grad=True)
    b = tg.ones(3, requires_grad=True)
    c = tg.ones(1, 3, requires_grad=True)
    (a + b + c.reshape(3)).sum().backward()
    a.grad.mul_(10)  # in place, as clip_grad_norm_ does
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(3))
    np.testing.assert_array_equal(c.grad.numpy(), np.ones((1, 3)))


def test_leaves_accumulated_when_complete_match_their_turn_in_the_loop():
    """The engine accumulates a leaf without hooks as soon as its last consumer has run; a leaf with a hook, and
    every leaf of a backward under anomaly mode or with ``inputs=``, takes its turn in the loop instead. Both give
    the same gradients, bit for bit: summed over the leaf's uses first, then added to an existing ``.grad``."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (3, 5), (5,))]

    def grads(mode):
        x, w, b = (tg.tensor(a, requires_grad=True) for a in arrays)
        w.grad = tg.ones(3, 5)  # accumulated into
        if mode == "hooks":
            for t in (x, w, b):
                t.register_hook(lambda g: None)
        y = (tg.tanh(x @ w + b) * (x.sum() + b.sum())).sum()  # x and b used twice
        if mode == "anomaly":
            with tg.autograd.detect_anomaly():
                y.backward()
        elif mode == "inputs":
            y.backward(inputs=[x, w, b])
        else:
            y.backward()
        return [t.grad.numpy() for t in (x, w, b)]

    want = grads("plain")
    for mode in ("hooks", "anomaly", "inputs"):
        for got, ref in zip(grads(mode), want):
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("dtype", [tg.float16, tg.float32, tg.float64])
def test_implicit_seed_is_one_of_the_outputs_shape_and_dtype(shape, dtype):
    x = tg.full(shape, 3.0, dtype=dtype, requires_grad=True)
    (x * 2).backward()
    assert x.grad.shape == x.shape and x.grad.dtype == dtype and x.grad.item() == 2
    x.grad = None
    x.backward()  # the seed itself becomes the leaf's gradient: its own array, written in place safely
    assert x.grad.shape == x.shape and x.grad.dtype == dtype and x.grad.item() == 1
    x.grad.mul_(5)
    x.backward()
    assert x.grad.item() == 6


def test_broadcast_gradients_are_reduced_by_the_engine():
    a = tg.randn(4, 1, 3, requires_grad=True)
    b = tg.randn(2, 1, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b.detach().numpy().sum(), (4, 1, 3)), rtol=1e-5)


def test_gradient_dtype_matches_input_dtype():
    a = tg.randn(3, requires_grad=True)  # float32
    b = tg.randn(3, dtype=tg.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == tg.float32 and b.grad.dtype == tg.float64


# ---------------------------------------------------------------------- grad modes
def test_nothing_is_recorded_under_no_grad():
    w = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        y = w * 2 + 1
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    assert y._parents == ()


def test_grad_mode_decorators_and_nesting():
    w = tg.ones(2, requires_grad=True)

    @tg.no_grad()
    def f():
        with tg.enable_grad():
            inner = (w * 2).requires_grad
        return (w * 2).requires_grad, inner

    assert f() == (False, True)

    @tg.no_grad
    def g():
        return (w * 2).requires_grad

    assert g() is False
    with tg.set_grad_enabled(False):
        assert not (w * 2).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []
    with tg.no_grad():
        t = threading.Thread(target=lambda: seen.append(tg.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


GRAD_MODES = {  # (decorator, grad mode inside the decorated function)
    "no_grad()": (lambda: tg.no_grad(), False),
    "no_grad": (lambda: tg.no_grad, False),
    "enable_grad()": (lambda: tg.enable_grad(), True),
    "enable_grad": (lambda: tg.enable_grad, True),
    "set_grad_enabled(False)": (lambda: tg.set_grad_enabled(False), False),
    "set_grad_enabled(True)": (lambda: tg.set_grad_enabled(True), True),
    "inference_mode()": (lambda: tg.inference_mode(), False),
    "inference_mode(False)": (lambda: tg.inference_mode(False), True),
}


@pytest.mark.parametrize("name", sorted(GRAD_MODES))
def test_grad_mode_decorators_hold_inside_a_generator_across_yields(name):
    decorator, inside = GRAD_MODES[name]
    w = tg.ones(2, requires_grad=True)

    @decorator()
    def steps(n):
        for _ in range(n):
            yield tg.is_grad_enabled(), (w * 2).requires_grad
        return "done"

    for outside in (True, False):
        with tg.set_grad_enabled(outside):
            gen = steps(3)
            assert tg.is_grad_enabled() is outside  # making the generator runs nothing
            seen = []
            for step in gen:
                seen.append(step)
                assert tg.is_grad_enabled() is outside  # the caller's mode between the yields
            assert seen == [(inside, inside)] * 3
        assert tg.is_grad_enabled()

    def caller():
        return (yield from steps(1))

    with pytest.raises(StopIteration) as stop:
        g = caller()
        next(g)
        next(g)
    assert stop.value.value == "done"  # the generator's return value comes through


@pytest.mark.parametrize("name", ["no_grad()", "enable_grad()", "set_grad_enabled(False)"])
def test_grad_mode_generator_send_throw_and_close_run_in_the_mode(name):
    decorator, inside = GRAD_MODES[name]
    log = []

    @decorator()
    def echo():
        try:
            received = yield tg.is_grad_enabled()
            while True:
                try:
                    received = yield (received, tg.is_grad_enabled())
                except ValueError as e:
                    received = f"caught {e}"
        finally:
            log.append(tg.is_grad_enabled())

    with tg.set_grad_enabled(not inside):
        gen = echo()
        assert next(gen) is inside
        assert gen.send("a") == ("a", inside)
        assert tg.is_grad_enabled() is not inside
        assert gen.throw(ValueError("x")) == ("caught x", inside)
        gen.close()
        assert log == [inside] and tg.is_grad_enabled() is not inside
    with pytest.raises(KeyError):
        gen = echo()
        next(gen)
        gen.throw(KeyError("not caught"))  # an exception the generator does not handle reaches the caller
    assert tg.is_grad_enabled()


def test_grad_mode_decorators_keep_the_function_and_warn_on_classes():
    @tg.no_grad()
    def f(x):
        """doc"""
        return (x * 2).requires_grad

    assert f.__name__ == "f" and f.__doc__ == "doc" and f(tg.ones(1, requires_grad=True)) is False

    class Probe:
        def __init__(self):
            self.recording = tg.is_grad_enabled()

    with pytest.warns(FutureWarning, match="no_grad: decorating classes is deprecated"):
        make = tg.no_grad()(Probe)  # as PyTorch 2.13: a warning, and construction runs in the mode
    assert make().recording is False and tg.is_grad_enabled()
    decorator = tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()  # a function call: it sets the mode at once, as PyTorch's
        decorator(lambda: None)
        assert tg.is_grad_enabled()  # ... and puts it back when it turns out to be decorating
    finally:
        tg.set_grad_enabled(True)


def test_inference_mode_false_records_as_pytorch():
    w = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        with tg.inference_mode(False):
            assert (w * 2).requires_grad
        assert not tg.is_grad_enabled()

    @tg.inference_mode(False)
    def f():
        return (w * 2).requires_grad

    with tg.no_grad():
        assert f() is True


def test_variable_is_the_tensor_detached_with_requires_grad():
    from tapegrad.autograd import Variable

    x = tg.tensor([1.0, 2.0])
    v = Variable(x, requires_grad=True)
    assert type(v) is tg.Tensor and v.requires_grad and v.is_leaf
    assert isinstance(v, Variable) and isinstance(x, Variable) and not isinstance([1.0], Variable)
    with tg.no_grad():
        v[0] = 5.0
    assert x[0].item() == 5.0  # shares memory, as detach() does
    (v * v).sum().backward()
    assert v.grad.tolist() == [10.0, 4.0]
    y = x * tg.ones(2, requires_grad=True)
    assert not Variable(y).requires_grad and Variable(y).is_leaf  # cut from the graph
    assert Variable().shape == (0,) and Variable().dtype == tg.float32
    with pytest.raises(TypeError, match="Variable: data has to be a tensor, but got list"):
        Variable([1.0, 2.0])
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        Variable(tg.tensor([1, 2]), requires_grad=True)
    with pytest.warns(UserWarning, match="Variable: volatile was removed and now has no effect"):
        assert not Variable(x, volatile=True).requires_grad
    with pytest.raises(ValueError, match="Variable: can't be volatile and require grad"), pytest.warns(UserWarning):
        Variable(x, requires_grad=True, volatile=True)


# ---------------------------------------------------------------------- memory
def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        w = tg.randn(8, 8, requires_grad=True)
        x = tg.randn(4, 8)
        h = (x @ w).tanh()
        ref = weakref.ref(h)
        loss = (h * h).mean()
        del h
        assert ref() is not None  # still used by loss's graph
        loss.backward()
        del loss
        assert ref() is None  # freed without the cyclic collector
    finally:
        gc.enable()


def test_training_loop_keeps_memory_flat_without_gc():
    import tracemalloc

    w = tg.randn(16, 16, requires_grad=True)
    x = tg.randn(32, 16)

    def step():
        loss = ((x @ w).tanh() ** 2).mean()
        loss.backward()
        with tg.no_grad():
            w.sub_(0.01 * w.grad)
        w.grad = None

    def live_tensors():
        return sum(isinstance(o, tg.Tensor) for o in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        for _ in range(100):
            step()
        base, tensors = tracemalloc.get_traced_memory()[0], live_tensors()
        for _ in range(1000):
            step()
        grown = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        assert live_tensors() == tensors
    finally:
        gc.enable()
    # One leaked (16, 16) gradient per step would be 1 MB; Python's free lists (tuples, floats) may hold a little.
    assert grown < 256 * 1024, f"memory grew by {grown} bytes over 1,000 steps"


# ---------------------------------------------------------------------- deep graphs
def test_deep_chain_backward_has_no_recursion_limit():
    x = tg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(200_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_toposort_puts_every_node_before_its_parents():
    x = tg.ones(2, requires_grad=True)
    a = x * 2
    b = a + x
    c = a * b
    order = toposort(c)
    pos = {id(t): i for i, t in enumerate(order)}
    for t in order:
        for p in t._parents:
            if p.requires_grad:
                assert pos[id(t)] < pos[id(p)]


# ---------------------------------------------------------------------- errors
def test_backward_on_non_scalar_needs_gradient():
    x = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(tg.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])


def test_backward_on_tensor_not_requiring_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(2).sum().backward()


def test_second_backward_needs_retain_graph():
    x = tg.tensor(2.0, requires_grad=True)
    y = (x * x).exp()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = (x * x).exp()
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.item() == pytest.approx(np.exp(4) * 4 * 3)


def test_inplace_change_of_saved_tensor_fails_backward():
    w = tg.ones(3, requires_grad=True)
    a = w * 2
    b = a * a  # saves a
    with tg.no_grad():
        a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*MulBackward"):
        b.sum().backward()


def test_version_check_still_fires_when_later_nodes_were_recorded_after_the_write():
    # The engine skips the version checks of a node when nothing was written since it was recorded; here the
    # last node was recorded after the write (so it skips them), and the node that saved `a` must still refuse.
    w = tg.ones(3, requires_grad=True)
    a = w * 2
    b = a * a  # saves a
    with tg.no_grad():
        a.add_(1)
    c = b * 3
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*MulBackward"):
        c.sum().backward()


def test_version_check_of_a_node_written_after_it_was_recorded():
    w = tg.ones(3, requires_grad=True)
    b = w.exp()  # its backward uses its own output
    with tg.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*ExpBackward"):
        b.sum().backward()


def test_writes_to_unrelated_tensors_do_not_fail_backward():
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).exp() * w
    other = tg.zeros(3)
    other.add_(1)  # moves the write clock: the engine checks versions, and finds nothing stale
    y.sum().backward()
    expected = np.exp(w.detach().numpy() ** 2) * (2 * w.detach().numpy() ** 2 + 1)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-6)


def test_inplace_on_non_leaf_rebases_history():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = w * 3
    y.mul_(2)  # y = 6 w
    y.add_(w)  # y = 7 w
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [7, 7])


def test_inplace_on_leaf_requiring_grad_only_under_no_grad():
    w = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.add_(1)
    with tg.no_grad():
        w.add_(1)
        w *= 2
    np.testing.assert_array_equal(w.detach().numpy(), [4, 4])


def test_inplace_ops_and_augmented_operators():
    x = tg.tensor([1.0, -2.0, 3.0])
    x += 1
    x -= tg.tensor([1.0, 1.0, 1.0])
    x *= 2
    x /= 4
    assert x.tolist() == [0.5, -1.0, 1.5]
    x.clamp_(-0.5, 1.0)
    assert x.tolist() == [0.5, -0.5, 1.0]
    x.zero_()
    assert x.tolist() == [0, 0, 0]
    x.fill_(7)
    x.copy_(tg.tensor([1.0, 2.0, 3.0]))
    assert x.tolist() == [1, 2, 3]
    i = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(0.5)
    with pytest.raises(RuntimeError, match="shape"):
        x.add_(tg.ones(2, 3))


def test_version_counter_moves_on_inplace_writes():
    x = tg.zeros(3)
    v0 = x._version
    x.add_(1)
    assert x._version > v0


# ---------------------------------------------------------------------- retain_grad and hooks
def test_retain_grad_keeps_non_leaf_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())
    h2 = x * 3
    (h2 * h2).sum().backward()
    assert h2.grad is None


def test_hook_can_replace_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    handle = x.register_hook(lambda g: g + 1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [21, 21])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


# ---------------------------------------------------------------------- higher order
def test_second_derivative_of_cube():
    x = tg.tensor(3.0, dtype=tg.float64, requires_grad=True)
    (dx,) = tg.autograd.grad(x**3, x, create_graph=True)
    (ddx,) = tg.autograd.grad(dx, x)
    assert dx.item() == pytest.approx(27) and ddx.item() == pytest.approx(18)
    assert x.grad is None  # grad() leaves .grad alone


def test_hessian_vector_product_matches_analytic_hessian():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    A = A + A.T
    At = tg.tensor(A)
    x = tg.tensor(rng.standard_normal(4), requires_grad=True)
    v = tg.tensor(rng.standard_normal(4))

    def f(x):  # 0.5 x^T A x + sum(x^3): Hessian A + diag(6x)
        return 0.5 * (x @ (At @ x)) + (x**3).sum()

    _, hv = tg.autograd.functional.hvp(f, x, v)
    H = A + np.diag(6 * x.detach().numpy())
    np.testing.assert_allclose(hv.numpy(), H @ v.numpy(), rtol=1e-10)


def test_hessian_of_tanh_network_matches_finite_differences():
    rng = np.random.default_rng(1)
    W = tg.tensor(rng.standard_normal((3, 3)))

    def f(x):
        return ((W @ x).tanh() * x).sum()

    x = tg.tensor(rng.standard_normal(3), requires_grad=True)
    H = tg.autograd.functional.hessian(f, x).numpy()
    eps = 1e-5
    num = np.zeros((3, 3))
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        xp = tg.tensor(x.detach().numpy() + e, requires_grad=True)
        xm = tg.tensor(x.detach().numpy() - e, requires_grad=True)
        (gp,) = tg.autograd.grad(f(xp), xp)
        (gm,) = tg.autograd.grad(f(xm), xm)
        num[:, i] = (gp.numpy() - gm.numpy()) / (2 * eps)
    np.testing.assert_allclose(H, num, atol=1e-6)


def test_backward_with_create_graph_records_the_backward_pass():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = (x**2).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (gg,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [2, 2])


def test_grad_allow_unused():
    x = tg.ones(2, requires_grad=True)
    z = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        tg.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = tg.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [2, 2]


def test_gradgradcheck_on_composite():
    x = tg.tensor(np.random.default_rng(2).uniform(0.5, 1.5, (2, 3)), requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda x: (x.exp() * x.tanh() / (x + 1)).sum(dim=1), (x,))


# ---------------------------------------------------------------------- custom Function
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


def test_custom_function_forward_backward_and_gradcheck():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 12])
    assert gradcheck(lambda x: Cube.apply(x).sum(), (x,))


def test_custom_function_saved_tensor_modified_in_place():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h)
    with tg.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


# ---------------------------------------------------------------------- gradcheck
def test_gradcheck_names_the_first_wrong_op():
    from tapegrad.autograd.declare import record

    def bad_sin(x):
        def backward(xp, g, out, x):
            return g * xp.sin(x)  # should be cos

        return record(np.sin(x._data), (x,), backward, "BadSinBackward0")

    x = tg.tensor([0.3, 0.7, 1.1], dtype=tg.float64, requires_grad=True)
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda x: bad_sin(x.exp() * 2).tanh().sum(), (x,))
    msg = str(err.value)
    assert "input 0" in msg and "BadSinBackward" in msg and "(3,)" in msg


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda x: x.sum(), (tg.ones(2, requires_grad=True),))
    assert gradcheck(lambda x: x.sum(), (tg.ones(2, dtype=tg.float64, requires_grad=True),))


# ---------------------------------------------------------------------- in place under grad mode
# An in-place op under grad mode makes the tensor a new node and keeps its earlier self (with the earlier values)
# as the op's input; ops recorded before the write keep using the earlier self. So backward is right whether or
# not those ops saved the values (PyTorch raises when they did; tapegrad has them and computes the gradient).


@pytest.mark.parametrize("write, expected", [
    (lambda y: y.add_(y), 4.0),            # y += y
    (lambda y: y.mul_(y), 8.0),            # d(4x^2)/dx at 1
    (lambda y: y.add_(y * 3), 8.0),        # the argument was computed from y before the write
    (lambda y: y.copy_(y * 3), 6.0),
    (lambda y: y.sub_(y.exp()), 2.0 - 2.0 * np.exp(2.0)),
])
def test_in_place_op_whose_argument_uses_the_tensor_itself(write, expected):
    x = tg.ones(2, dtype=tg.float64, requires_grad=True)
    y = x * 2
    write(y)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_ops_recorded_before_an_in_place_write_keep_the_earlier_values():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = x * 1
    a = y * y        # saves y = x
    y.mul_(3)
    b = y * y        # y = 3x
    y.add_(x)
    c = y * y        # y = 4x
    (a + b + c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (2 + 18 + 32) * x.detach().numpy())
    assert y.tolist() == [4.0, 8.0]


def test_residual_in_place_add_trains_every_parameter():
    tg.manual_seed(0)
    lin = tg.nn.Linear(4, 4)
    h = tg.randn(2, 4, requires_grad=True)
    z = lin(h)
    z += lin(z)
    z.sum().backward()
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    hn = h.detach().numpy()
    z1 = hn @ w.T + b
    ones = np.ones((2, 4))
    g_z1 = ones + ones @ w  # z = z1 + lin(z1)
    np.testing.assert_allclose(h.grad.numpy(), g_z1 @ w, rtol=1e-5)
    np.testing.assert_allclose(lin.weight.grad.numpy(), g_z1.T @ hn + ones.T @ z1, rtol=1e-5)


def test_in_place_write_under_grad_mode_differentiates_twice():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = x * 1
    a = y * y
    y.mul_(3)
    (g,) = tg.autograd.grad((a + y * y).sum(), x, create_graph=True)  # d(10 x^2) = 20 x
    np.testing.assert_allclose(g.detach().numpy(), [20.0, 40.0])
    (h,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [20.0, 20.0])


def test_gradcheck_through_in_place_writes():
    def f(x):
        y = x * 1
        a = y.sin()
        y.mul_(y)
        y[0] = y[1] * a[0]
        return (y * a).sum()

    assert tg.autograd.gradcheck(f, (tg.randn(3, dtype=tg.float64, requires_grad=True),))


def test_no_grad_write_after_a_grad_mode_write_still_makes_later_users_refuse():
    x = tg.ones(2, dtype=tg.float64, requires_grad=True)
    y = x * 2
    a = y * y          # uses the first y: its values are kept
    y.add_(1)
    b = y * y          # uses the second y, whose values the next line overwrites
    with tg.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*MulBackward"):
        b.sum().backward()
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8.0)


def test_in_place_on_an_indexed_view_writes_through_to_the_base():
    x = tg.ones(3, dtype=tg.float64, requires_grad=True)
    y = x * 1
    y[:2].mul_(3)
    assert y.tolist() == [3.0, 3.0, 1.0]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 1.0])

    x = tg.ones(3, dtype=tg.float64, requires_grad=True)
    y = x * 2
    y[:2] *= 3         # Python: t = y[:2]; t *= 3; y[:2] = t
    y[1:] = y[1:] * x[1:]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0, 4.0])


def test_in_place_on_a_view_of_a_tensor_that_does_not_require_grad_joins_the_graph():
    w = tg.ones(2, requires_grad=True)
    buf = tg.zeros(3)
    buf[:2].add_(w * 2)
    assert buf.tolist() == [2.0, 2.0, 0.0] and buf.requires_grad
    buf.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]


def test_in_place_on_other_views_under_grad_mode_writes_through_to_the_base():
    # PyTorch's numbers (CopySlices): the base sees the write, and its gradient goes through the written op
    x = tg.ones(2, 2, requires_grad=True)
    y = x * 1
    y.t().mul_(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert y.tolist() == [[1.0, 3.0], [2.0, 4.0]] and y.grad_fn.name() == "torch::autograd::CopySlices"
    (y * tg.tensor([[1.0, 10.0], [100.0, 1000.0]])).sum().backward()
    assert x.grad.tolist() == [[1.0, 30.0], [200.0, 4000.0]]
    with pytest.raises(RuntimeError, match="add_: a view of a leaf tensor that requires grad"):
        x.view(4).add_(1)  # as PyTorch
    with tg.no_grad():
        y.t().mul_(2)  # outside grad mode the write goes to the shared memory
    assert y.tolist() == [[2.0, 6.0], [4.0, 8.0]]


class _SinCos(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos(), (x > 0).long()

    @staticmethod
    def backward(ctx, g_sin, g_cos, g_sign):
        (x,) = ctx.saved_tensors
        assert g_sign is None  # integer outputs get no gradient
        return g_sin * x.cos() - g_cos * x.sin()


def test_custom_function_with_several_outputs():
    x = tg.tensor([[0.5, -1.0], [2.0, 0.1]], dtype=tg.float64, requires_grad=True)
    s, c, sign = _SinCos.apply(x)
    np.testing.assert_allclose(s.detach().numpy(), np.sin(x.detach().numpy()))
    assert sign.dtype == tg.int64 and not sign.requires_grad and s.shape == (2, 2)
    (3 * s + c * c).sum().backward(retain_graph=True)
    xn = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.cos(xn) - 2 * np.cos(xn) * np.sin(xn))
    x.grad = None
    s.sum().backward()  # an unused output's gradient is zeros, as PyTorch materializes it
    np.testing.assert_allclose(x.grad.numpy(), np.cos(xn))
    assert tg.autograd.gradcheck(lambda x: _SinCos.apply(x)[0] * _SinCos.apply(x)[1], (x,))
    assert tg.autograd.gradgradcheck(lambda x: _SinCos.apply(x)[1], (x,))
    with tg.no_grad():
        s, c, _ = _SinCos.apply(x)
    assert not s.requires_grad and s.is_leaf


def test_a_node_that_gets_no_gradient_still_releases_its_rebased_inputs():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    w = tg.tensor([5.0, 6.0], dtype=tg.float64, requires_grad=True)
    y = x * 1
    t = y * 3
    y.mul_(2)
    t.copy_(w)  # t no longer depends on y: the earlier t gets no gradient
    (t.sum() + y.sum()).backward()
    assert x.grad.tolist() == [2.0, 2.0] and w.grad.tolist() == [1.0, 1.0]


def test_in_place_writes_leave_no_reference_cycles():
    import gc
    import weakref

    gc.disable()
    try:
        x = tg.ones(4, requires_grad=True)
        y = x * 2
        y.add_(y * 3)      # the argument holds y
        y[:3].add_(1)      # a write through a view
        y[1:] = y[1:] * x[1:]
        y.sum().backward()
        ref = weakref.ref(y)
        del y
        assert ref() is None
    finally:
        gc.enable()


def test_a_view_sees_a_later_write_to_its_base_and_writes_through_it():
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1
    v = y[:2]
    y.mul_(3)
    assert v.tolist() == [3.0, 6.0] and v.grad_fn.name() == "AsStridedBackward0"  # as PyTorch
    v.add_(1)
    assert y.tolist() == [4.0, 7.0, 9.0, 12.0]
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0, 3.0]


def test_graph_and_toposort_are_the_same_after_backward_frees_them():
    from tapegrad.autograd.engine import toposort
    from tapegrad.viz import draw_graph

    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.ReLU(inplace=True), tg.nn.Linear(4, 2))
    loss = model(tg.randn(5, 3)).sum()
    before = (len(draw_graph(loss).edges), len(toposort(loss)))
    loss.backward()
    assert (len(draw_graph(loss).edges), len(toposort(loss))) == before


def test_many_in_place_updates_of_one_tensor_back_propagate_in_linear_time():
    # h += h * a, 4,000 times: each update's argument is rerouted at once, so the engine never walks a long
    # chain of earlier selves (the count of lookups is what matters; no clock is involved)
    a = tg.tensor(1.0001, dtype=tg.float64, requires_grad=True)
    h = a * 1
    for _ in range(4000):
        h += h * (a - 1)
    h.backward()
    n = 4000
    np.testing.assert_allclose(a.grad.item(), (n + 1) * a.item() ** n, rtol=1e-9)  # h = a^(n+1)


def test_writing_float_values_into_an_integer_buffer_does_not_make_it_require_grad():
    w = tg.ones(2, requires_grad=True)
    buf = tg.zeros(3, dtype=tg.int64)
    buf[:2] = w * 1.5
    assert buf.tolist() == [1, 1, 0] and not buf.requires_grad


class _Halves(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.float() * 2, x * 3

    @staticmethod
    def backward(ctx, g32, g64):
        assert g32.dtype == tg.float32 and g64.dtype == tg.float64  # each gradient in its output's dtype
        return g32.double() * 2 + g64 * 3


def test_custom_function_outputs_of_different_dtypes_get_gradients_in_their_own_dtype():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    a, b = _Halves.apply(x)
    assert a.dtype == tg.float32 and b.dtype == tg.float64
    (a.double() + b).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_a_no_grad_write_through_an_indexed_view_makes_users_of_the_base_refuse():
    x = tg.ones(3, requires_grad=True)
    y = x * 2
    z = y * y  # saves y
    with tg.no_grad():
        y[:2].mul_(10)
    assert y.tolist() == [20.0, 20.0, 2.0]
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*MulBackward"):
        z.sum().backward()


def test_post_accumulate_grad_hook_sees_the_accumulated_grad_once_per_backward():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * w).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0, 4.0], [5.0, 7.0]]
    handle.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.zeros(2).register_post_accumulate_grad_hook(lambda t: None)


@example(shape=(3,))
@given(shape=st.sampled_from([(3,), (2, 3), ()]))
def test_leaves_get_grads_that_share_no_memory(shape):
    # (a + b).backward(g): the incoming gradient is one owned array handed to both leaves; each .grad must own
    # its memory, so that writing into one (as an optimizer does) leaves the other alone
    a = tg.ones(shape, requires_grad=True)
    b = tg.ones(shape, requires_grad=True)
    (a + b).backward(tg.ones(shape))
    a.grad.add_(5)
    assert b.grad.tolist() == np.ones(shape).tolist()
    c = tg.ones(shape, requires_grad=True)
    (c * 1 + c).backward(tg.ones(shape))  # the same array twice for one leaf: summed, owned
    assert c.grad.tolist() == np.full(shape, 2.0).tolist()


# ---------------------------------------------------------------------- writes: classes the differential tests found
def test_an_op_without_a_gradient_may_write_into_a_leaf_that_requires_grad():
    x = tg.tensor([1.0, 0.0], requires_grad=True)
    x.logical_not_()  # PyTorch allows it: nothing to differentiate
    assert x.tolist() == [0.0, 1.0] and x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError, match="mul_: a leaf tensor that requires grad"):
        x.mul_(2)


NO_DERIVATIVE = {"logical_not_": lambda t: t.logical_not_(), "logical_and_": lambda t: t.logical_and_(t.flip(-1)),
                 "logical_or_": lambda t: t.logical_or_(t.flip(-1) * 0), "logical_xor_": lambda t: t.logical_xor_(t)}
WRITTEN = {"split output": lambda y: y.split(1)[0], "chunk output": lambda y: y.chunk(2)[1],
           "unbind output": lambda y: y.unbind(1)[0][None], "view": lambda y: y[0], "tensor": lambda y: y}


@pytest.mark.parametrize("op", sorted(NO_DERIVATIVE))
@pytest.mark.parametrize("written", sorted(WRITTEN))
@pytest.mark.parametrize("leaf", [False, True], ids=["non-leaf", "leaf"])
def test_an_op_without_a_derivative_is_a_plain_write_under_grad_mode(op, written, leaf):
    """PyTorch's logical_*_ have no derivative (none in derivatives.yaml): under grad mode too they write the values
    and move the version, nothing more. check_inplace does not run (an output of split, a view of a leaf: no
    refusal), and no node is recorded: the written tensor and its base keep requires_grad and their nodes, so the
    base's gradient ignores the write (it went through a CopySlices with a zero gradient, or raised). A written
    view's node is regenerated over its base (AsStridedBackward0), as PyTorch's version check does: the same
    gradient."""
    x = tg.tensor([[0.5, 0.0], [-2.0, 1.5]], requires_grad=True)
    y = x if leaf else x * 1
    t = WRITTEN[written](y)
    names = (y.grad_fn and y.grad_fn.name(), t.grad_fn and t.grad_fn.name())
    before = y.detach().clone()
    NO_DERIVATIVE[op](t)
    assert not bool((y.detach() == before).all()) or op == "logical_xor_" or written == "unbind output"
    if written == "view":
        names = (names[0], "AsStridedBackward0")
    assert t.requires_grad and (y.grad_fn and y.grad_fn.name(), t.grad_fn and t.grad_fn.name()) == names
    (y * tg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_an_op_without_a_derivative_moves_the_version():
    """The write still moves the version PyTorch shares between a base and its views: an op that saved the old
    values refuses to backward, as PyTorch's."""
    x = tg.tensor([[0.5, 0.0], [-2.0, 1.5]], requires_grad=True)
    y = x * 1
    z = y * y
    y.split(1)[1].logical_not_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


@pytest.mark.parametrize("name", ["eq_", "ne_", "lt_", "le_", "gt_", "ge_"])
def test_a_comparison_in_place_with_an_operand_that_requires_grad_is_a_node(name):
    """``a.le_(w)`` with ``w`` requiring grad: PyTorch's LeBackward1 (a zero gradient) makes ``a`` require grad,
    as ``w.le_(a)`` does; only the logical ops have no node."""
    a = tg.tensor([1.0, 2.0])
    w = tg.tensor([1.5, 1.5], requires_grad=True)
    getattr(a, name)(w)
    assert a.requires_grad and a.grad_fn.name() == name[:2].capitalize() + "Backward1"
    (a * 2).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0]


def test_ops_without_a_derivative_under_grad_mode_as_pytorch():
    torch = pytest.importorskip("torch")
    for op in NO_DERIVATIVE:
        for written in WRITTEN:
            for leaf in (False, True):
                got = []
                for m in (tg, torch):
                    x = m.tensor([[0.5, 0.0], [-2.0, 1.5]], requires_grad=True)
                    y = x if leaf else x * 1
                    t = WRITTEN[written](y)
                    NO_DERIVATIVE[op](t)
                    (y * m.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
                    got.append((y.tolist(), t.requires_grad, y.requires_grad, x.grad.tolist()))
                assert got[0] == got[1], (op, written, leaf)


def test_views_follow_their_base_when_it_starts_requiring_grad():
    x = tg.zeros(2, 2)
    v = x[0]
    x.requires_grad_()
    assert v.requires_grad and v.grad_fn.name() == "AsStridedBackward0"  # as PyTorch
    (v * 3).sum().backward()
    assert x.grad.tolist() == [[3.0, 3.0], [0.0, 0.0]]


@pytest.mark.parametrize("dtype", [tg.bool, tg.int64, tg.uint8])
def test_no_integer_tensor_requires_grad_after_a_write_of_a_value_that_does(dtype):
    x = tg.zeros(2, dtype=dtype)
    x.copy_(tg.tensor([2.0, 0.0], requires_grad=True))
    assert not x.requires_grad
    y = tg.zeros(2, dtype=dtype)
    y[0] = tg.tensor(1.0, requires_grad=True)
    assert not y.requires_grad


def test_a_saved_array_sharing_a_written_tensors_memory_refuses_backward():
    # w[0] * a[:, 0] keeps a view of a; a written under no_grad afterwards: PyTorch refuses, so does tapegrad
    a = tg.tensor([[1.0], [2.0]])
    w = tg.tensor([[3.0]], requires_grad=True)
    y = w[0] * a[:, 0]
    a.mul_(0.5)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_an_input_whose_value_the_rule_never_reads_may_be_written_before_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y + 1  # add's rule reads neither input
    with tg.no_grad():
        y.mul_(2)
    z.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]  # PyTorch's


def test_a_parameter_written_into_a_plain_tensor_is_recorded():
    # Parameter is a Tensor subclass: the in-place door must see that it requires grad
    w = tg.nn.Parameter(tg.tensor([2.0, 3.0]))
    buf = tg.zeros(2)
    buf.copy_(w)
    assert buf.requires_grad
    (buf * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


# ---------------------------------------------------------------------- a write after the forward: what is read
# PyTorch unpacks a saved tensor (and checks its version) only inside the formula of a gradient it computes, and
# saves sizes, not tensors, where a formula needs only a shape (tools/autograd/derivatives.yaml,
# torch/csrc/autograd/saved_variable.cpp): a later write into a value no needed formula reads is fine.
def _fn_layer_norm(tg_, x, w, b):
    return tg_.nn.functional.layer_norm(x, (3,), weight=w, bias=b)


def _fn_group_norm(tg_, x, w, b):
    return tg_.nn.functional.group_norm(x.reshape(2, 3, 1), 1, weight=w, bias=b)


WRITTEN_LATER = {  # name: (fn(lib, x, y, z) of a (2, 3) x and (3,) y, z; which of x, y, z require grad)
    "fmod": (lambda tg_, x, y, z: tg_.fmod(x, y), "x"),
    "remainder": (lambda tg_, x, y, z: tg_.remainder(x, y), "x"),
    "mul": (lambda tg_, x, y, z: x * y, "x"),
    "mul-number": (lambda tg_, x, y, z: x * 2, "x"),
    "div": (lambda tg_, x, y, z: x / y, "x"),
    "atan2": (lambda tg_, x, y, z: tg_.atan2(x, y), "x"),
    "reshape": (lambda tg_, x, y, z: x.reshape(3, 2), "x"),
    "expand": (lambda tg_, x, y, z: y.expand(2, 3), "y"),
    "sum": (lambda tg_, x, y, z: x.sum(0), "x"),
    "flip": (lambda tg_, x, y, z: x.flip(0), "x"),
    "layer_norm-weight": (_fn_layer_norm, "y"),
    "layer_norm-input": (_fn_layer_norm, "x"),
    "layer_norm-bias": (_fn_layer_norm, "z"),
    "group_norm-weight": (_fn_group_norm, "y"),
    "group_norm-input": (_fn_group_norm, "x"),
    "ne_": (lambda tg_, x, y, z: (x * 1).ne_(y), "xy"),  # NeBackward1's gradients are zeros: it reads no value
}


def _written_later(lib, name, written, values):
    """Run WRITTEN_LATER[name] in ``lib``, write ``written`` (one of x, y, z) in place under no_grad, backward:
    the gradients of the inputs that require grad, or the error's text."""
    fn, grads = WRITTEN_LATER[name]
    ts = {k: lib.tensor(v, dtype=lib.float64, requires_grad=k in grads) for k, v in zip("xyz", values)}
    out = fn(lib, ts["x"], ts["y"], ts["z"])
    with lib.no_grad():
        ts[written].mul_(-3).add_(1)
    try:
        (out * lib.arange(out.numel(), dtype=lib.float64).reshape(out.shape)).sum().backward()
    except RuntimeError as e:
        assert "modified by an in" in str(e)
        return "refused"
    return {k: ts[k].grad.detach().numpy() for k in grads}


_XYZ = st.tuples(*[st.lists(st.floats(-3, 3).filter(lambda v: abs(v) > 0.1), min_size=n, max_size=n)
                   for n in (6, 3, 3)]).map(lambda v: (np.reshape(v[0], (2, 3)), np.array(v[1]), np.array(v[2])))


# which written values make the backward refuse: "r" in both libraries (a needed formula reads the value);
# "k" in PyTorch only (its formula passes the tensor along unread, e.g. layer_norm's bias and weight, or reads a
# value that tapegrad keeps from the forward, e.g. the normalized input): tapegrad computes the forward's gradient
REFUSES = {
    "fmod": {}, "remainder": {}, "mul": {"y": "r"}, "mul-number": {}, "div": {"y": "r"},
    "atan2": {"x": "r", "y": "r"}, "reshape": {}, "expand": {}, "sum": {}, "flip": {},
    "layer_norm-weight": {"x": "k", "y": "k", "z": "k"}, "layer_norm-input": {"x": "k", "y": "k", "z": "k"},
    "layer_norm-bias": {"x": "k", "y": "k", "z": "k"}, "group_norm-weight": {"x": "k", "y": "k"},
    "group_norm-input": {"x": "k", "y": "k"}, "ne_": {},
}


@pytest.mark.parametrize("name", sorted(WRITTEN_LATER))
@pytest.mark.parametrize("written", ["x", "y", "z"])
@given(values=_XYZ)
@example(values=(np.arange(6.0).reshape(2, 3) - 2.5, np.array([0.5, -1.5, 2.0]), np.array([1.0, -2.0, 0.25])))
def test_a_value_written_after_the_forward_refuses_only_if_a_needed_gradient_reads_it(name, written, values):
    """The gradient is the one of the values at the forward, or the backward is refused, never where PyTorch
    computes: fmod's/remainder's input gradient never reads the divisor, a view's or a sum's only the shape, a
    norm's weight gradient never the bias."""
    fn, grads = WRITTEN_LATER[name]
    got = _written_later(tg, name, written, values)
    refuses = REFUSES[name].get(written)
    if refuses == "r":
        assert got == "refused"
        return
    if refuses == "k" and got == "refused":
        return
    ts = {k: tg.tensor(v, dtype=tg.float64, requires_grad=k in grads) for k, v in zip("xyz", values)}
    out = fn(tg, ts["x"], ts["y"], ts["z"])
    (out * tg.arange(out.numel(), dtype=tg.float64).reshape(out.shape)).sum().backward()
    assert got != "refused"
    for k in grads:
        np.testing.assert_allclose(got[k], ts[k].grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(WRITTEN_LATER))
@pytest.mark.parametrize("written", ["x", "y", "z"])
def test_a_value_written_after_the_forward_as_pytorch(name, written):
    torch = pytest.importorskip("torch")
    values = (np.arange(6.0).reshape(2, 3) - 2.5, np.array([0.5, -1.5, 2.0]), np.array([1.0, -2.0, 0.25]))
    got, want = _written_later(tg, name, written, values), _written_later(torch, name, written, values)
    assert (want == "refused") == (REFUSES[name].get(written) is not None)
    if want != "refused":
        assert got != "refused"
        for k in got:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)
