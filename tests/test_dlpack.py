"""DLPack: ``Tensor.__dlpack__``/``__dlpack_device__`` and ``tapegrad.from_dlpack``, zero-copy with numpy (and
with PyTorch when it is installed)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool"]


@given(st.sampled_from(DTYPES), st.lists(st.integers(0, 4), max_size=3), st.booleans())
def test_numpy_and_tapegrad_share_memory_both_ways(dtype, shape, transpose):
    a = np.asarray(np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)
    t = tg.from_numpy(a)
    if transpose and t.dim() >= 2:
        t = t.transpose(0, 1)  # a strided view exports its strides
    back = np.from_dlpack(t)
    assert back.dtype == t.dtype and back.shape == tuple(t.shape)
    np.testing.assert_array_equal(back, t.numpy())
    assert back.size == 0 or np.shares_memory(back, a)
    again = tg.from_dlpack(back)
    assert again.dtype == t.dtype and tuple(again.shape) == tuple(t.shape)
    assert again.numel() == 0 or np.shares_memory(again.numpy(), a)


def test_writes_show_on_the_other_side():
    t = tg.zeros(2, 3)
    a = np.from_dlpack(t)
    a[1, 2] = 5.0
    assert t[1, 2].item() == 5.0
    u = tg.from_dlpack(a)
    u.add_(1.0)
    assert a[0, 0] == 1.0 and t[0, 0].item() == 1.0


def test_device_and_errors():
    t = tg.ones(3)
    assert t.__dlpack_device__() == (1, 0)
    with pytest.raises(BufferError, match="Can't export tensors that require gradient, use tensor.detach()"):
        np.from_dlpack(tg.ones(2, requires_grad=True))
    np.from_dlpack(tg.ones(2, requires_grad=True).detach())
    with pytest.raises(BufferError, match=r"cannot export to device \(2, 0\)"):
        t.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError, match="stream must be None or an int"):
        t.__dlpack__(stream="s")
    with pytest.raises(TypeError, match="from_dlpack: expected an object with __dlpack__"):
        tg.from_dlpack([1, 2])

    class OnGPU:
        def __dlpack__(self, **kwargs):
            raise AssertionError("not asked")

        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(BufferError, match=r"lives on DLPack device \(2, 0\); tapegrad runs on the CPU"):
        tg.from_dlpack(OnGPU())


def test_a_read_only_view_is_exported_as_a_copy_or_flagged_read_only():
    t = tg.arange(3.0).expand(2, 3)  # a broadcast view: read-only memory
    np.testing.assert_array_equal(np.from_dlpack(t), [[0, 1, 2], [0, 1, 2]])
    legacy = np.from_dlpack(_Legacy(t))  # a consumer that only speaks DLPack 0.x gets a copy
    np.testing.assert_array_equal(legacy, [[0, 1, 2], [0, 1, 2]])


class _Legacy:
    def __init__(self, t):
        self.t = t

    def __dlpack__(self, **kwargs):
        return self.t.__dlpack__()

    def __dlpack_device__(self):
        return self.t.__dlpack_device__()


def test_matches_pytorch_zero_copy():
    torch = pytest.importorskip("torch")
    from torch.utils.dlpack import to_dlpack

    t = tg.arange(6.0).reshape(2, 3)
    x = torch.from_dlpack(t)
    assert x.dtype == torch.float32 and tuple(x.shape) == (2, 3)
    x[0, 0] = 9.0
    assert t[0, 0].item() == 9.0  # the same memory
    y = torch.arange(4.0, dtype=torch.float64)
    u = tg.from_dlpack(y)
    y[1] = 5.0
    assert u.dtype == tg.float64 and u.tolist() == [0.0, 5.0, 2.0, 3.0]
    v = tg.from_dlpack(to_dlpack(torch.ones(2, dtype=torch.float16)))  # a bare capsule
    assert v.dtype == tg.float16 and v.tolist() == [1.0, 1.0]
    w = tg.from_dlpack(torch.arange(6).reshape(2, 3).t())
    assert w.tolist() == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(BufferError, match="require gradient"):
        torch.from_dlpack(tg.ones(2, requires_grad=True))
    with pytest.raises(BufferError, match="require gradient"):  # PyTorch refuses the same way
        tg.from_dlpack(torch.ones(2, requires_grad=True))
