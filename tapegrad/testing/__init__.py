"""Testing helpers shipped to users: Hypothesis strategies for tensors and a finite-difference gradient check.

    from hypothesis import given
    from tapegrad.testing import arrays, assert_gradients

    @given(arrays(shape=(3, 4)))
    def test_tanh(x):
        assert_gradients(lambda t: t.tanh(), x)

Needs ``hypothesis`` for the strategies (``pip install tapegrad[test]``); the assertions need only numpy.
"""

from .gradients import assert_forward, assert_gradients

__all__ = ["assert_forward", "assert_gradients", "arrays", "shapes", "broadcastable_shapes", "tensors",
           "valid_dims", "index_arrays", "boolean_masks", "dims_and_shape"]


def __getattr__(name):
    if name in ("arrays", "shapes", "broadcastable_shapes", "tensors", "valid_dims", "index_arrays",
                "boolean_masks", "dims_and_shape"):
        from . import strategies

        return getattr(strategies, name)
    raise AttributeError(name)
