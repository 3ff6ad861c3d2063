"""nn.Module, Parameter and the containers: registration, traversal, state dicts, modes, dtypes, hooks, repr."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn


class Affine(nn.Module):
    """A small module written only with core ops (no nn.functional), for testing the Module machinery."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.w = nn.Parameter(tg.tensor(np.arange(n_in * n_out, dtype=np.float32).reshape(n_out, n_in) / 10))
        self.b = nn.Parameter(tg.zeros(n_out))
        self.register_buffer("calls", tg.zeros((), dtype=tg.int64))
        self.register_buffer("scratch", tg.zeros(2), persistent=False)

    def forward(self, x):
        return x @ self.w.T + self.b


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Affine(2, 3)
        self.second = Affine(3, 1)

    def forward(self, x):
        return self.second(self.first(x))


# ---------------------------------------------------------------------- Parameter
def test_parameter_is_a_leaf_tensor_sharing_the_data():
    t = tg.ones(3)
    p = nn.Parameter(t)
    assert isinstance(p, tg.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    t._data[0] = 5
    assert p[0].item() == 5  # shares the array, as PyTorch's does
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,) and nn.Parameter().dtype == tg.float32
    assert not hasattr(p, "__dict__")  # __slots__ = ()


def test_parameter_repr_matches_pytorch():
    assert repr(nn.Parameter(tg.ones(2))) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert repr(nn.Parameter(tg.ones(2), requires_grad=False)) == "Parameter containing:\ntensor([1., 1.])"


def test_parameter_of_integers_must_not_require_grad():
    with pytest.raises(RuntimeError, match="Parameter: only Tensors of floating point dtype.*int64"):
        nn.Parameter(tg.tensor([1, 2]))
    assert nn.Parameter(tg.tensor([1, 2]), requires_grad=False).dtype == tg.int64


def test_parameter_of_a_graph_node_is_a_fresh_leaf():
    x = tg.ones(2, requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.is_leaf and p.requires_grad
    (p * p).sum().backward()
    assert x.grad is None and p.grad.tolist() == [4.0, 4.0]


def test_parameter_ops_give_plain_tensors_and_gradients():
    p = nn.Parameter(tg.tensor([1.0, 2.0]))
    y = p * 3
    assert type(y) is tg.Tensor and y.requires_grad
    y.sum().backward()
    assert p.grad.tolist() == [3.0, 3.0]


def test_parameter_deepcopy_and_pickle_keep_type_values_and_flag():
    p = nn.Parameter(tg.tensor([1.0, 2.0]))
    p.grad = tg.tensor([0.5, 0.5])
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert isinstance(q, nn.Parameter) and q.requires_grad and q.tolist() == [1.0, 2.0]
        assert q.grad.tolist() == [0.5, 0.5]
        assert not np.shares_memory(q._data, p._data)
    frozen = copy.deepcopy(nn.Parameter(tg.ones(1), requires_grad=False))
    assert not frozen.requires_grad


# ---------------------------------------------------------------------- registration
def test_assignment_registers_parameters_buffers_and_submodules():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["first.w", "first.b", "second.w", "second.b"]
    assert [n for n, _ in net.named_buffers()] == ["first.calls", "first.scratch", "second.calls",
                                                    "second.scratch"]
    assert [n for n, _ in net.named_children()] == ["first", "second"]
    assert [n for n, _ in net.named_modules()] == ["", "first", "second"]
    assert list(net.children()) == [net.first, net.second]
    assert list(net.modules()) == [net, net.first, net.second]
    assert [n for n, _ in net.named_parameters(prefix="model")] == ["model.first.w", "model.first.b",
                                                                    "model.second.w", "model.second.b"]
    assert list(net.parameters(recurse=False)) == []
    assert len(list(net.first.parameters(recurse=False))) == 2
    assert net.get_submodule("first") is net.first and net.get_parameter("second.b") is net.second.b
    assert net.get_buffer("first.calls") is net.first.calls
    with pytest.raises(AttributeError, match="Net has no attribute `third`"):
        net.get_submodule("third")


def test_registered_values_are_plain_attributes_for_fast_access():
    m = Affine(2, 3)
    assert m.__dict__["w"] is m._parameters["w"] is m.w
    assert m.__dict__["calls"] is m._buffers["calls"]
    net = Net()
    assert net.__dict__["first"] is net._modules["first"]


def test_shared_parameters_and_modules_are_listed_once():
    a = Affine(2, 2)
    seq = nn.Sequential(a, nn.Sequential(a))
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3
    m = nn.Module()
    m.x = nn.Parameter(tg.ones(1))
    m.y = m.x  # the same Parameter under two names
    assert len(list(m.parameters())) == 1
    assert [n for n, _ in m.named_parameters(remove_duplicate=False)] == ["x", "y"]


def test_reassignment_moves_between_registries_and_none_keeps_the_slot():
    m = nn.Module()
    m.register_buffer("t", tg.zeros(2))
    m.t = nn.Parameter(tg.ones(2))
    assert "t" in m._parameters and "t" not in m._buffers
    m.t = None
    assert m.t is None and "t" in m._parameters and list(m.parameters()) == []
    with pytest.raises(TypeError, match="cannot assign 'tapegrad.nn.linear.Linear' as parameter 't'"):
        m.t = nn.Linear(1, 1)  # as in PyTorch: a parameter slot takes only a Parameter or None
    del m.t
    m.t = nn.Linear(1, 1)
    assert "t" in m._modules and "t" not in m._parameters
    m.plain = 3
    m.plain = nn.Parameter(tg.ones(1))  # a plain attribute can become a parameter
    assert m._parameters["plain"] is m.plain
    m.register_buffer("buf", tg.zeros(1))
    m.buf = tg.ones(1)  # a tensor assigned to a buffer's name updates the buffer
    assert m._buffers["buf"].tolist() == [1.0]


def test_delattr_unregisters():
    m = Affine(2, 2)
    del m.w
    del m.calls
    assert [n for n, _ in m.named_parameters()] == ["b"]
    assert "calls" not in m.state_dict()
    with pytest.raises(AttributeError, match="'Affine' object has no attribute 'w'"):
        m.w


def test_registration_errors_name_the_problem():
    m = nn.Module()
    m.p = nn.Parameter(tg.ones(1))
    with pytest.raises(TypeError, match=r"cannot assign 'tapegrad.FloatTensor' as parameter 'p' "
                                        r"\(tapegrad.nn.Parameter or None expected\)"):
        m.p = tg.ones(1)
    with pytest.raises(TypeError, match="cannot assign 'tapegrad.FloatTensor' object to parameter 'q'"):
        m.register_parameter("q", tg.ones(1))
    with pytest.raises(KeyError, match=r'parameter name can\\\'t contain "\."'):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="be empty string"):
        m.register_buffer("", None)
    with pytest.raises(TypeError, match="buffer name should be a string. Got int"):
        m.register_buffer(1, None)
    with pytest.raises(KeyError, match="attribute 'p' already exists"):
        m.register_buffer("p", tg.ones(1))
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        m.register_parameter("forward", None)
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'b'"):
        m.register_buffer("b", [1.0])
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'r'"):
        x = nn.Parameter(tg.ones(1))
        y = nn.Parameter(tg.ones(1))
        y._backward, y._parents = (lambda *a: a), (x,)  # a graph node dressed as a Parameter
        m.register_parameter("r", y)
    m.sub = nn.Identity()
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("x", 3)


def test_assigning_before_init_is_an_attribute_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tg.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Bad()


def test_missing_forward_and_unknown_attribute():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward"'):
        nn.Module()(1)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        nn.Module().nope


# ---------------------------------------------------------------------- calling and hooks
def test_call_runs_forward_and_gradients_reach_parameters():
    net = Net()
    x = tg.tensor([[1.0, 2.0]])
    y = net(x)
    w1, b1, w2, b2 = (p._data for p in net.parameters())
    np.testing.assert_allclose(y._data, (x._data @ w1.T + b1) @ w2.T + b2, rtol=1e-6)
    y.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())


def test_forward_pre_hook_and_forward_hook_replace_inputs_and_outputs():
    m = nn.Identity()
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    h2 = m.register_forward_hook(lambda mod, args, out: seen.append((args[0].item(), out.item())))
    h3 = m.register_forward_hook(lambda mod, args, out: out * 10)
    assert m(tg.tensor(1.0)).item() == 20.0
    assert seen == [(2.0, 2.0)]
    h1.remove()
    h3.remove()
    assert m(tg.tensor(1.0)).item() == 1.0
    h2.remove()
    assert not m._forward_hooks and not m._forward_pre_hooks


def test_hooks_with_kwargs_prepend_and_single_value_returns():
    class Scale(nn.Module):
        def forward(self, x, *, factor=1.0):
            return x * factor

    m = Scale()
    order = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: order.append("second"))
    m.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["factor"], with_kwargs=True)
    assert m(tg.tensor(2.0)).item() == 9.0
    assert order == ["first", "second"]
    single = nn.Identity()
    single.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # a non-tuple return is wrapped
    assert single(tg.tensor(2.0)).item() == 4.0
    bad = nn.Identity()
    bad.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        bad(tg.tensor(1.0))


def test_hook_handle_is_a_context_manager():
    m = nn.Identity()
    with m.register_forward_hook(lambda mod, args, out: out * 2):
        assert m(tg.tensor(1.0)).item() == 2.0
    assert m(tg.tensor(1.0)).item() == 1.0


# ---------------------------------------------------------------------- modes, gradients, apply
def test_train_and_eval_switch_every_submodule():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.ReLU()))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net[1].train()
    assert not net.training and net[1].training and net[1][0].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")


def test_zero_grad_to_none_or_zeros():
    net = Net()
    net(tg.ones(1, 2)).sum().backward()
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    assert all(p.grad is g and not p.grad._data.any() for p, g in zip(net.parameters(), grads, strict=True))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_freezes_and_apply_visits_children_first():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == ["Affine", "Affine", "Net"]


def test_to_double_float_and_device():
    net = Net()
    net(tg.ones(1, 2)).sum().backward()
    assert net.to(tg.float64) is net
    assert all(p.dtype == tg.float64 and p.grad.dtype == tg.float64 for p in net.parameters())
    assert net.first.calls.dtype == tg.int64  # integer buffers keep their dtype
    assert net.first.scratch.dtype == tg.float64
    assert net(tg.ones(1, 2, dtype=tg.float64)).dtype == tg.float64
    net.float()
    assert all(p.dtype == tg.float32 for p in net.parameters())
    net.double()
    assert net.first.w.dtype == tg.float64
    assert net.to("cpu") is net and net.cpu() is net and net.to(tg.device("cpu"), dtype=tg.float32) is net
    assert net.first.w.dtype == tg.float32
    net.to(tg.zeros(1, dtype=tg.float64))
    assert net.first.w.dtype == tg.float64
    with pytest.raises(TypeError, match="only accepts floating point dtypes, but got desired dtype=int64"):
        net.to(tg.int64)
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        net.to("cuda")


def test_cast_bumps_versions_so_stale_graphs_refuse_backward():
    m = Affine(2, 1)
    y = m(tg.ones(1, 2, requires_grad=True))  # the input's gradient reads the weight's value
    m.double()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# ---------------------------------------------------------------------- state dicts
def test_state_dict_is_ordered_detached_and_shares_memory():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["first.w", "first.b", "first.calls", "second.w", "second.b", "second.calls"]
    assert all(type(v) is tg.Tensor and not v.requires_grad for v in sd.values())
    assert np.shares_memory(sd["first.w"]._data, net.first.w._data)
    kept = net.state_dict(keep_vars=True)
    assert kept["first.w"] is net.first.w
    assert list(net.state_dict(prefix="m.")) == ["m." + k for k in sd]


def test_batchnorm_state_dict_holds_running_stats_and_count():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert bn.state_dict()["num_batches_tracked"].dtype == tg.int64
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_state_dict_round_trip_copies_values_in_place():
    src, dst = Net(), Net()
    for p in src.parameters():
        p._data[...] = np.random.default_rng(0).standard_normal(p.shape)
    src.first.calls._data[...] = 7
    before = {id(p) for p in dst.parameters()}
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert {id(p) for p in dst.parameters()} == before  # same Parameter objects, new values
    for (n, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a._data, b._data, err_msg=n)
        assert not np.shares_memory(a._data, b._data)
    x = tg.ones(1, 2)
    np.testing.assert_array_equal(src(x)._data, dst(x)._data)


def test_load_state_dict_casts_to_the_model_dtype_and_accepts_arrays():
    m = Affine(2, 1)
    m.load_state_dict({"w": np.array([[1.0, 2.0]]), "b": tg.tensor([3.0], dtype=tg.float64), "calls": tg.tensor(4)})
    assert m.w.dtype == tg.float32 and m.w.tolist() == [[1.0, 2.0]] and m.b.tolist() == [3.0]
    assert m.calls.item() == 4


def test_load_state_dict_does_not_record_and_invalidates_old_graphs():
    m = Affine(2, 1)
    y = m(tg.ones(1, 2, requires_grad=True))  # the input's gradient reads the weight's value
    m.load_state_dict(Affine(2, 1).state_dict())
    assert m.w.is_leaf and m.w.requires_grad
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    m = Affine(2, 1)
    y = m(tg.ones(1, 2))  # no gradient reads the parameters' values: the backward computes, as PyTorch's
    m.load_state_dict(Affine(2, 1).state_dict())
    y.sum().backward()
    assert m.w.grad.tolist() == [[1.0, 1.0]] and m.b.grad.tolist() == [1.0]


def test_strict_load_names_every_missing_unexpected_and_mismatched_key():
    net = Net()
    sd = net.state_dict()
    del sd["first.b"]
    del sd["second.calls"]
    sd["first.extra"] = tg.ones(1)
    sd["third.w"] = tg.ones(1)
    sd["second.w"] = tg.ones(5, 5)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    assert str(info.value) == (
        "Error(s) in loading state_dict for Net:\n"
        '\tMissing key(s) in state_dict: "first.b", "second.calls". \n'
        '\tUnexpected key(s) in state_dict: "third.w", "first.extra". \n'
        "\tsize mismatch for second.w: copying a param with shape tapegrad.Size([5, 5]) from checkpoint, "
        "the shape in current model is tapegrad.Size([1, 3]).")


def test_non_strict_load_returns_the_keys_but_still_rejects_shape_mismatches():
    net = Net()
    sd = net.state_dict()
    del sd["first.b"]
    sd["extra"] = tg.ones(1)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["first.b"] and result.unexpected_keys == ["extra"]
    assert result == (["first.b"], ["extra"])
    assert repr(result) == "_IncompatibleKeys(missing_keys=['first.b'], unexpected_keys=['extra'])"
    sd["first.w"] = tg.ones(1)
    with pytest.raises(RuntimeError, match="size mismatch for first.w"):
        net.load_state_dict(sd, strict=False)
    with pytest.raises(RuntimeError, match='While copying the parameter named "first.w", expected a Tensor'):
        net.load_state_dict({**net.state_dict(), "first.w": [1.0]})
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        net.load_state_dict([1, 2])


def test_missing_keys_namedtuple_repr():
    net = Net()
    sd = net.state_dict()
    del sd["first.b"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "first.b"'):
        net.load_state_dict(sd)


def test_load_with_assign_replaces_the_tensors():
    m = Affine(2, 1)
    new_w = tg.tensor([[5.0, 6.0]])
    m.load_state_dict({"w": new_w, "b": tg.zeros(1), "calls": tg.tensor(0)}, assign=True)
    assert isinstance(m.w, nn.Parameter) and m.w.requires_grad and np.shares_memory(m.w._data, new_w._data)
    assert list(m.parameters())[0] is m.w


def test_batchnorm_loads_a_state_dict_without_the_batch_count():
    bn = nn.BatchNorm1d(2)
    bn.num_batches_tracked._data[...] = 5
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    bn.load_state_dict(sd)
    assert bn.num_batches_tracked.item() == 0


def test_module_deepcopy_and_pickle():
    net = Net()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]
        assert all(isinstance(p, nn.Parameter) for p in clone.parameters())
        assert clone.first.w is clone.first._parameters["w"]
        assert not np.shares_memory(clone.first.w._data, net.first.w._data)
        x = tg.ones(1, 2)
        np.testing.assert_array_equal(clone(x)._data, net(x)._data)


# ---------------------------------------------------------------------- repr
def test_nested_repr_matches_pytorch():
    net = nn.Sequential(nn.Sequential(nn.Linear(1, 1)), nn.ReLU())
    assert repr(net) == ("Sequential(\n"
                         "  (0): Sequential(\n"
                         "    (0): Linear(in_features=1, out_features=1, bias=True)\n"
                         "  )\n"
                         "  (1): ReLU()\n"
                         ")")
    assert repr(nn.Sequential()) == "Sequential()"
    assert repr(Net()) == "Net(\n  (first): Affine()\n  (second): Affine()\n)"


def test_extra_repr_with_children_and_multiple_lines():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def extra_repr(self):
            return "width=2\ndepth=1"

    assert repr(Block()) == ("Block(\n  width=2\n  depth=1\n"
                             "  (fc): Linear(in_features=2, out_features=2, bias=True)\n)")


# ---------------------------------------------------------------------- containers
def test_sequential_forms_indexing_slicing_and_editing():
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[0] is a and seq[-1] is c
    sliced = seq[1:]
    assert isinstance(sliced, nn.Sequential) and list(sliced) == [b, c] and list(sliced._modules) == ["1", "2"]
    named = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert list(named._modules) == ["fc", "act"] and named.fc is a and named[1] is b
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    seq.insert(1, b)
    assert list(seq) [:3] == [a, b, c]
    seq.insert(-1, nn.Identity())
    assert isinstance(seq[3], nn.Identity) and isinstance(seq[4], nn.Sigmoid)
    seq[0] = nn.Linear(2, 2)
    assert seq[0] is not a
    assert len(seq + nn.Sequential(nn.ReLU())) == 6
    with pytest.raises(IndexError, match="Sequential: index 9 is out of range for a container of length 5"):
        seq[9]
    x = tg.ones(3, 2)
    two = nn.Sequential(a, b)
    np.testing.assert_array_equal(two(x)._data, b(a(x))._data)


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    assert len(layers) == 2 and len(list(layers.parameters())) == 4
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear", "ReLU", "Tanh"]
    assert list(layers._modules) == ["0", "1", "2", "3", "4"]
    assert isinstance(layers[-1], nn.Tanh) and isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert isinstance(layers[0], nn.Linear) and list(layers._modules) == ["0", "1", "2", "3"]
    layers += [nn.Sigmoid()]
    assert len(layers) == 5
    assert isinstance(layers.pop(), nn.Sigmoid) and len(layers) == 4
    with pytest.raises(TypeError, match="should be called with an iterable"):
        layers.extend(nn.ReLU())
    with pytest.raises(IndexError, match="ModuleList: index 7"):
        layers[7]


def test_module_list_repr_compresses_repeats_like_pytorch():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)])
    assert repr(layers) == ("ModuleList(\n"
                            "  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
                            "  (2): ReLU()\n"
                            "  (3): Linear(in_features=2, out_features=2, bias=True)\n"
                            ")")
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.ReLU()})
    assert list(d) == ["a", "b"] and list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    d["c"] = nn.Tanh()
    d.update([("e", nn.Identity())])
    assert list(d.keys()) == ["a", "b", "c", "e"]
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    del d["c"]
    assert [k for k, _ in d.items()] == ["a", "e"] and len(list(d.values())) == 2
    assert repr(nn.ModuleDict({"a": nn.ReLU()})) == "ModuleDict(\n  (a): ReLU()\n)"
    with pytest.raises(KeyError, match="no module named 'zz'"):
        d["zz"]
    with pytest.raises(ValueError, match="element #0 should be a \\(name, module\\) pair"):
        d.update([nn.ReLU()])
    d.clear()
    assert len(d) == 0


def test_parameter_list_and_dict_register_and_print_like_pytorch():
    pl = nn.ParameterList([nn.Parameter(tg.ones(2, 3)), nn.Parameter(tg.ones(2, dtype=tg.float64))])
    assert len(pl) == 2 and [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pl.append(tg.zeros(1))  # a plain tensor becomes a Parameter
    assert isinstance(pl[2], nn.Parameter) and pl[2].requires_grad and len(list(pl.parameters())) == 3
    assert repr(nn.ParameterList(list(pl)[:2])) == (
        "ParameterList(\n"
        "    (0): Parameter containing: [tapegrad.float32 of size 2x3]\n"
        "    (1): Parameter containing: [tapegrad.float64 of size 2]\n"
        ")")
    pd = nn.ParameterDict({"a": nn.Parameter(tg.ones(2))})
    pd["b"] = tg.zeros(3)
    assert list(pd) == ["a", "b"] and "b" in pd and isinstance(pd["b"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["a", "b"]
    assert repr(nn.ParameterDict({"a": nn.Parameter(tg.ones(2))})) == (
        "ParameterDict(  (a): Parameter containing: [tapegrad.FloatTensor of size 2])")
    del pd["a"]
    assert list(pd.keys()) == ["b"] and len(pd) == 1
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl(1)


def test_reprs_match_installed_pytorch():
    torch = pytest.importorskip("torch")
    pairs = [
        (nn.Sequential(nn.Linear(2, 4), nn.ReLU()), torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU())),
        (nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()]),
         torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Tanh()])),
        (nn.ModuleDict({"x": nn.Sigmoid()}), torch.nn.ModuleDict({"x": torch.nn.Sigmoid()})),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", ["parameter", "module", "container", "linear", "conv", "pooling", "norm",
                                  "activation", "dropout", "embedding", "flatten", "loss", "init", "utils"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    module = importlib.import_module(f"tapegrad.nn.{name}")
    assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
