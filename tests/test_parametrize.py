"""nn/utils/parametrize.py (register_parametrization, weight_norm): values, gradients through the parametrization,
state_dict keys and values as PyTorch's (loaded both ways) when PyTorch is installed, removal, errors."""

import doctest

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn.utils import parametrize as P
from tapegrad.testing import assert_gradients


class Symmetric(tg.nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).mT


def test_docstring_examples():
    assert doctest.testmod(P, raise_on_error=False).failed == 0


def test_parametrized_tensor_is_recomputed_and_differentiable():
    m = P.register_parametrization(tg.nn.Linear(3, 3), "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear" and isinstance(m, tg.nn.Linear)
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight") and not P.is_parametrized(m, "bias")
    m(tg.ones(2, 3)).sum().backward()
    g = m.parametrizations.weight.original.grad.numpy()
    assert np.allclose(np.tril(g, -1), 0)  # the lower triangle does not reach the output
    other = tg.nn.Linear(3, 3)
    assert not hasattr(type(other), "weight") or not isinstance(type(other).__dict__.get("weight"), property)
    P.remove_parametrizations(m, "weight")
    assert type(m) is tg.nn.Linear and isinstance(m.weight, tg.nn.Parameter)
    assert np.allclose(m.weight.detach().numpy(), m.weight.detach().numpy().T)


def test_weight_norm_gradients_and_assignment():
    x = np.random.default_rng(0).standard_normal((4, 5))
    for dim in (0, 1, None):
        m = P.weight_norm(tg.nn.Linear(5, 3).double(), dim=dim)
        w0 = m.weight.detach().numpy().copy()
        v = m.parametrizations.weight.original1
        assert np.allclose(v.detach().numpy(), w0)
        assert_gradients(lambda g, v, dim=dim: tg.nn.functional.linear(tg.tensor(x), P._WeightNorm(dim)(g, v)),
                         m.parametrizations.weight.original0.detach().numpy(), v.detach().numpy())
        m.weight = tg.tensor(w0 * 2)
        np.testing.assert_allclose(m.weight.detach().numpy(), w0 * 2, rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
        P.register_parametrization(tg.nn.Linear(2, 2), "w", Symmetric())
    class FirstRow(tg.nn.Module):
        def forward(self, X):
            return X[:1]

    with pytest.raises(ValueError, match="changes weight's shape or dtype from \\(2, 3\\)"):
        P.register_parametrization(tg.nn.Linear(3, 2), "weight", FirstRow())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(tg.nn.Linear(2, 2), "weight")


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_pytorch_state_dict_both_ways(dim):
    torch = pytest.importorskip("torch")
    ours = P.weight_norm(tg.nn.Conv1d(2, 3, 2).double(), dim=dim)
    theirs = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(2, 3, 2).double(), dim=dim)
    sd = theirs.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
    ours.load_state_dict({k: tg.tensor(v.numpy()) for k, v in sd.items()})
    x = np.random.default_rng(1).standard_normal((2, 2, 5))
    y, ty = ours(tg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    for (k, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, err_msg=k)
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})


def test_pytorch_module_paths():
    import tapegrad.nn.utils.parametrizations as parametrizations
    import tapegrad.nn.utils.parametrize as parametrize

    assert tg.nn.utils.parametrize is parametrize and parametrizations.weight_norm is parametrize.weight_norm
    assert callable(parametrize.register_parametrization)
