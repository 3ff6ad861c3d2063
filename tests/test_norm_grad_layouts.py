"""The normalizations' gradients do not depend on how the incoming gradient is laid out in memory.

PyTorch 2.13's CPU batch_norm backward silently gives a wrong input gradient when the gradient arriving at it is
channels-last contiguous and the input is not (a ``.T`` or ``permute`` after the norm); tapegrad's rules work on
the logical values, whatever the strides. Checked against float64 finite differences over random permutations.
"""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.autograd import gradcheck

F = tg.nn.functional


def _norm(kind):
    return {
        "batch": lambda x: F.batch_norm(x, None, None, training=True),
        "instance": lambda x: F.instance_norm(x),
        "layer": lambda x: F.layer_norm(x, x.shape[-2:]),
        "group": lambda x: F.group_norm(x, 1),
    }[kind]


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(["batch", "instance", "layer", "group"]),
       shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(2, 3), st.integers(1, 3)),
       perm=st.permutations(range(4)), seed=st.integers(0, 2 ** 16))
@example(kind="batch", shape=(1, 2, 3, 1), perm=[0, 2, 1, 3], seed=0)  # PyTorch 2.13's channels-last case
def test_norm_gradient_through_a_permuted_view(kind, shape, perm, seed):
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal(shape), dtype=tg.float64, requires_grad=True)
    w = tg.tensor(rng.standard_normal([shape[p] for p in perm]), dtype=tg.float64)
    norm = _norm(kind)
    assert gradcheck(lambda x: (norm(x).permute(*perm) * w).sum(), (x,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_batch_norm_channels_last_gradient_is_the_true_one():
    x = tg.tensor([[[[1.0], [0.0], [0.0]], [[-2.5], [-2.5], [1.5]]]], requires_grad=True)
    y = F.batch_norm(x, None, None, training=True)
    (y.permute(0, 2, 1, 3) * tg.arange(6.0).reshape(1, 3, 2, 1)).sum().backward()
    # the same gradient, arriving contiguous
    x2 = tg.tensor(x.detach().numpy(), requires_grad=True)
    F.batch_norm(x2, None, None, training=True).backward(tg.arange(6.0).reshape(1, 3, 2, 1).permute(0, 2, 1, 3)
                                                         .contiguous())
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy().ravel()[1:3], [-2.1212, 2.1214], atol=1e-3)
