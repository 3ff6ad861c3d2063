"""tapegrad.compile, torch._dynamo and torch.compiler: accepted, checked as PyTorch checks, run eagerly."""

import doctest

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _compile, _dynamo
from tapegrad._dynamo.eval_frame import OptimizedModule


class Net(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = tg.nn.Linear(3, 2)
        self.drop = tg.nn.Dropout(0.5)
        self.register_buffer("seen", tg.zeros(()))

    def forward(self, x):
        return self.drop(self.fc(x))

    def configure(self):
        return "configured"


def test_compiled_module_is_an_optimized_module_around_the_original():
    net = Net()
    compiled = tg.compile(net)
    assert isinstance(compiled, OptimizedModule) and isinstance(compiled, tg.nn.Module)
    assert type(compiled).__name__ == "OptimizedModule" and compiled._orig_mod is net
    assert list(compiled.state_dict()) == ["_orig_mod.seen", "_orig_mod.fc.weight", "_orig_mod.fc.bias"]
    assert [n for n, _ in compiled.named_parameters()] == ["_orig_mod.fc.weight", "_orig_mod.fc.bias"]
    assert compiled.fc is net.fc and compiled.configure() == "configured"
    assert all(a is b for a, b in zip(compiled.parameters(), net.parameters()))
    compiled.eval()
    assert not net.training and not net.drop.training and not compiled.training
    net.train()  # the wrapper mirrors the original, whichever is switched
    assert compiled.training
    compiled.lr = 0.5  # attributes are the original's
    assert net.lr == 0.5
    x = tg.randn(4, 3)
    net.eval()
    assert np.array_equal(compiled(x).detach().numpy(), net(x).detach().numpy())
    assert "OptimizedModule(\n  (_orig_mod): Net(" in repr(compiled)


def test_compiled_module_runs_the_originals_hooks_and_trains_the_same_parameters():
    net = tg.nn.Linear(2, 1)
    calls = []
    net.register_forward_hook(lambda m, args, out: calls.append(out.shape))
    compiled = tg.compile(net, mode="max-autotune", fullgraph=True, dynamic=False)
    opt = tg.optim.SGD(compiled.parameters(), lr=0.1)
    before = net.weight.detach().numpy().copy()
    compiled(tg.ones(5, 2)).sum().backward()
    opt.step()
    assert calls == [(5, 1)] and not np.array_equal(before, net.weight.detach().numpy())


def test_prefixed_state_dict_loads_as_pytorch_scripts_do():
    net = Net()
    sd = tg.compile(net).state_dict()
    unwanted_prefix = "_orig_mod."  # nanoGPT's loop
    for k in list(sd):
        if k.startswith(unwanted_prefix):
            sd[k[len(unwanted_prefix):]] = sd.pop(k)
    fresh = Net()
    assert str(fresh.load_state_dict(sd)) == "<All keys matched successfully>"
    compiled = tg.compile(Net())
    with pytest.raises(RuntimeError, match="Missing key"):
        compiled.load_state_dict(sd)  # a compiled model wants the prefix, as in PyTorch


def test_compile_a_function_and_the_decorator_forms():
    def f(x):
        """squares"""
        return x * x

    g = tg.compile(f)
    assert g is not f and g.__name__ == "f" and g.__doc__ == "squares" and g._torchdynamo_orig_callable is f
    assert g(tg.tensor([3.0])).tolist() == [9.0]

    @tg.compile
    def h(x):
        return x + 1

    @tg.compile(backend="eager", dynamic=True)
    def k(x):
        return x - 1

    assert h(tg.ones(1)).tolist() == [2.0] and k(tg.ones(1)).tolist() == [0.0]
    assert tg.compile(f, backend=lambda gm, example_inputs: gm)(tg.tensor([2.0])).tolist() == [4.0]


def test_disable_returns_the_model_itself():
    net = Net()
    assert tg.compile(net, disable=True) is net
    assert tg.compile(disable=True)(net) is net


def test_bad_arguments_raise_pytorchs_errors():
    f = lambda x: x  # noqa: E731
    with pytest.raises(RuntimeError, match="Either mode or options can be specified, but both can't"):
        tg.compile(f, mode="default", options={})
    with pytest.raises(RuntimeError, match="Unrecognized mode=bogus, should be one of: default, lite"):
        tg.compile(f, mode="bogus")
    with pytest.raises(_dynamo.InvalidBackend, match=r"Invalid backend: 'bogus', see `torch._dynamo.list_backends"):
        tg.compile(f, backend="bogus")
    with pytest.raises(AssertionError, match="A callable function is expected, but <class 'int'> is provided."):
        tg.compile(3)
    with pytest.raises(RuntimeError, match="Model can't be None"):
        tg.compile()(None)


def test_dynamo_config_declares_each_settings_type():
    config = tg._dynamo.config
    declared = vars(config)["__annotations__"]
    assert declared == {name: type(value) for name, value in config._DEFAULTS.items()}


def test_dynamo_and_compiler_names_scripts_touch():
    tg._dynamo.config.suppress_errors = True
    tg._dynamo.config.cache_size_limit = 64
    try:
        assert tg._dynamo.config.suppress_errors is True
        with pytest.raises(AttributeError, match="tapegrad._dynamo.config.suppress_errorz does not exist"):
            tg._dynamo.config.suppress_errorz = True
    finally:
        tg._dynamo.config.suppress_errors = False
        tg._dynamo.config.cache_size_limit = 8
    tg._dynamo.reset()
    assert not tg._dynamo.is_compiling() and not tg.compiler.is_compiling()
    assert "inductor" in tg._dynamo.list_backends() and tg.compiler.compile is tg.compile

    @tg.compiler.disable
    def f(x):
        return x

    @tg._dynamo.disable(recursive=False)
    def g(x):
        return x

    assert f(1) == 1 and g(2) == 2
    assert tg._dynamo.eval_frame.OptimizedModule is OptimizedModule


def test_compile_matches_pytorch():
    torch = pytest.importorskip("torch")
    # PyTorch's first compile turns distribution argument validation off for the whole process
    # (torch/_dynamo/eval_frame.py): put it back, or later comparisons of validate_args errors see it off
    validate = torch.distributions.Distribution._validate_args
    try:
        _compile_matches_pytorch(torch)
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)


def _compile_matches_pytorch(torch):
    for lib in (tg, torch):
        net = lib.nn.Sequential(lib.nn.Linear(2, 2))
        compiled = lib.compile(net)
        assert type(compiled).__name__ == "OptimizedModule"
        assert list(compiled.state_dict()) == ["_orig_mod.0.weight", "_orig_mod.0.bias"]
        assert lib.compile(net, disable=True) is net
        assert lib._dynamo.list_backends() == ["cudagraphs", "inductor", "openxla", "tvm"]
        assert lib._dynamo.config.suppress_errors is False


def test_doctests():
    for module in (_compile, _dynamo, _dynamo.eval_frame, tg.compiler):
        assert doctest.testmod(module).failed == 0
