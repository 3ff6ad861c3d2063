"""torch.utils.checkpoint: the plain call's values and gradients, PyTorch's argument checks and its reentrant
variant's rule for inputs that need no gradient."""

import contextlib
import doctest
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.utils.checkpoint as ckpt
from tapegrad.utils.checkpoint import checkpoint, checkpoint_sequential


def _model(seed=0):
    tg.manual_seed(seed)
    return tg.nn.Sequential(tg.nn.Linear(3, 5), tg.nn.Tanh(), tg.nn.Linear(5, 4), tg.nn.GELU(), tg.nn.Linear(4, 2))


def _grads(model):
    return [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_values_and_gradients_are_the_plain_calls(use_reentrant, seed):
    model = _model(seed)
    x = tg.randn(6, 3, requires_grad=True)
    plain = model(x)
    plain.square().sum().backward()
    expected, expected_x = _grads(model), x.grad.numpy().copy()
    model.zero_grad()
    x.grad = None
    out = checkpoint(model, x, use_reentrant=use_reentrant)
    assert tg.equal(out, plain)
    out.square().sum().backward()
    for got, want in zip(_grads(model), expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x.grad.numpy(), expected_x)


@pytest.mark.parametrize("segments", [1, 2, 3, 5])
def test_checkpoint_sequential_is_running_in_order(segments):
    model = _model()
    x = tg.randn(4, 3, requires_grad=True)
    plain = model(x)
    out = checkpoint_sequential(model, segments, x, use_reentrant=False)
    assert tg.equal(out, plain)
    out.sum().backward()
    got = _grads(model)
    model.zero_grad()
    plain.sum().backward()
    for a, b in zip(got, _grads(model)):
        np.testing.assert_array_equal(a, b)
    assert tg.equal(checkpoint_sequential(list(model.children()), 2, x, use_reentrant=True), plain)


def test_reentrant_with_no_input_needing_grad_gives_no_gradient():
    model = _model()
    x = tg.randn(2, 3)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        out = checkpoint(model, x, use_reentrant=True)
    assert not out.requires_grad and tg.equal(out, model(x))
    out = checkpoint(model, x, use_reentrant=False)  # the non-reentrant variant reaches the parameters
    assert out.requires_grad
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_arguments_are_checked_as_pytorch():
    model = _model()
    x = tg.randn(2, 3, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(model, x)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint_sequential(model, 2, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, use_reentrant=True, scale=2.0)
    assert tg.equal(checkpoint(lambda t, scale: t * scale, x, use_reentrant=False, scale=2.0), x * 2.0)
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(model, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="determinism_check should be one of \\['default', 'none'\\], but got x"):
        checkpoint(model, x, use_reentrant=False, determinism_check="x")
    with pytest.raises(ValueError, match="Unexpected keyword arguments: extra"):
        checkpoint_sequential(model, 2, x, use_reentrant=False, extra=1)
    checkpoint(model, x, use_reentrant=True, preserve_rng_state=False)


def test_context_fn_wraps_the_forward():
    entered = []

    @contextlib.contextmanager
    def marking(label):
        entered.append(label)
        yield

    x = tg.randn(2, 3, requires_grad=True)
    checkpoint(lambda t: t * 2, x, use_reentrant=False, context_fn=lambda: (marking("forward"), marking("again")))
    assert entered == ["forward"]
    assert isinstance(ckpt.noop_context_fn()[0], contextlib.nullcontext)


def test_doctests():
    assert doctest.testmod(ckpt, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as torch_checkpoint

    model = _model(3)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4), torch.nn.GELU(),
                                 torch.nn.Linear(4, 2))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    data = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    for use_reentrant in (True, False):
        x, tx = tg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        out, tout = checkpoint(model, x, use_reentrant=use_reentrant), torch_checkpoint(theirs, tx,
                                                                                          use_reentrant=use_reentrant)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-6)
        out.square().sum().backward()
        tout.square().sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
        for p, tp in zip(model.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)
        model.zero_grad()
        theirs.zero_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not torch_checkpoint(theirs, torch.tensor(data), use_reentrant=True).requires_grad
        assert not checkpoint(model, tg.tensor(data), use_reentrant=True).requires_grad
