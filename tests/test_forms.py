"""tapegrad/ops/forms.py: torch.* function forms of in-place methods, in-place methods of existing ops, and
introspection (strides, offsets, byte sizes, predicates, apply_/map_/map2_, sum_to_size)."""

import doctest

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import forms
from tapegrad.testing import assert_gradients


@pytest.mark.parametrize("name", [n for n in forms._ONE_TENSOR if n.endswith("_")])
def test_function_forms_equal_the_methods(name):
    x = tg.tensor([0.25, 0.5, 0.75])
    want = getattr(x.clone(), name)()
    assert getattr(tg, name)(x) is x
    np.testing.assert_array_equal(x.numpy(), want.numpy())


def test_function_forms_with_arguments():
    x = tg.tensor([3.0, -1.0])
    assert tg.clamp_(x, -0.5, 0.5) is x and x.tolist() == [0.5, -0.5]
    assert tg.fill_(x, 2.0).tolist() == [2.0, 2.0]
    tg.index_put_(x, (tg.tensor([0]),), tg.tensor(7.0))
    assert x.tolist() == [7.0, 2.0]
    assert tg.detach(x) is not x and tg.ldexp_(tg.tensor([1.0]), tg.tensor([3])).tolist() == [8.0]
    with pytest.raises(TypeError, match="exp_"):
        tg.exp_([1.0])


def test_inplace_methods_of_existing_ops_and_their_gradients():
    base = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = base * 1
    y.cumsum_(1)
    y.tril_()
    (y * tg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert base.grad.tolist() == [[1.0, 0.0], [7.0, 4.0]]
    assert_gradients(lambda a: (a * 1).cumprod_(0).triu_(), np.array([[1.5, 2.0], [-1.0, 0.5]]))
    x = tg.tensor([1.0, 2.0, 3.0])
    x.greater_(2)
    assert x.tolist() == [0.0, 0.0, 1.0]
    assert tg.tensor([1.0, 2.0]).less_equal_(1).tolist() == [1.0, 0.0]


def test_introspection_matches_pytorch():
    torch = pytest.importorskip("torch")
    for make in (lambda m: m.arange(24.0).reshape(2, 3, 4)[:, 1:, ::2], lambda m: m.arange(6).reshape(2, 3).t(),
                 lambda m: m.ones(3, dtype=m.uint8), lambda m: m.tensor(5.0)):
        t, g = make(torch), make(tg)
        assert g.stride() == t.stride() and g.storage_offset() == t.storage_offset()
        assert g.nbytes == t.nbytes and g.itemsize == t.itemsize and g.dim_order() == t.dim_order()
        for name in ("is_signed", "is_complex", "is_inference", "get_device", "is_cpu", "is_cuda", "is_sparse",
                     "is_quantized", "is_meta"):
            want = getattr(t, name)
            assert (getattr(g, name)() if callable(want) else getattr(g, name)) == \
                   (want() if callable(want) else want), name
        for d in range(-g.ndim, g.ndim):
            assert g.stride(d) == t.stride(d)
    assert tg.tensor([True]).is_signed() is False and tg.is_nonzero(tg.tensor([2])) is True
    for bad in ([], [1.0, 2.0]):
        with pytest.raises(RuntimeError) as want:
            torch.is_nonzero(torch.tensor(bad))
        with pytest.raises(RuntimeError, match=str(want.value)):
            tg.is_nonzero(tg.tensor(bad))


def test_data_ptr_and_is_set_to():
    x = tg.arange(6.0)
    assert x[2:].data_ptr() - x.data_ptr() == 2 * x.element_size() and x[2:].storage_offset() == 2
    assert x.is_set_to(x.detach()) and not x.is_set_to(x.clone()) and not x.is_set_to(x[1:])
    assert x.layout is tg.strided and repr(tg.strided) == "tapegrad.strided"
    assert isinstance(tg.float32, tg.dtype) and tg.is_same_size(x, tg.zeros(6))


def test_apply_map_and_map2():
    assert tg.tensor([1, 2]).apply_(lambda v: v * 2.7).tolist() == [2, 5]  # cast back to the dtype, as PyTorch
    assert tg.tensor([[1.0], [2.0]]).map_(tg.tensor([10.0]), lambda a, b: a + b).tolist() == [[11.0], [12.0]]
    assert tg.zeros(2).map2_(tg.tensor([1.0, 2.0]), tg.tensor(3.0), lambda a, b, c: b * c).tolist() == [3.0, 6.0]
    with pytest.raises(RuntimeError, match="apply_"):
        tg.ones(2, requires_grad=True).apply_(abs)
    with pytest.raises(RuntimeError, match="map_"):
        tg.ones(2).map_(tg.ones(3), max)


def test_sum_to_size():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert tg.tensor(x).sum_to_size(3, 1).tolist() == x.sum(axis=(0, 2))[:, None].tolist()
    assert tg.tensor(x).sum_to_size((1, 1, 4)).shape == (1, 1, 4)
    assert_gradients(lambda a: a.sum_to_size(1, 4), x)
    with pytest.raises(RuntimeError, match="sum_to_size"):
        tg.tensor(x).sum_to_size(2, 4)


@pytest.mark.parametrize("shape, size", [((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 3)), ((2, 3), (2, 1)),
                                         ((0, 1, 4), (4,)), ((4, 2, 3), (1, 3)), ((2, 3), ())])
def test_sum_to_size_is_pytorchs_sum_to(shape, size):
    # one keepdim sum over the leading and the size-1 dims, then a view without the leading dims: the result is a
    # view of that sum where there are leading dims (detach_ refuses it, as PyTorch's)
    x = tg.ones(shape, requires_grad=True) * 1
    out = x.sum_to_size(size) if size else x.sum_to_size(())
    lead = len(shape) - len(size) if size else 0
    assert (out._base is not None) == (lead > 0) and tuple(out.shape) == size
    torch = pytest.importorskip("torch")
    t = torch.ones(shape, requires_grad=True) * 1
    want = t.sum_to_size(size) if size else t.sum_to_size(())
    assert out.grad_fn.name() == want.grad_fn.name() and (want._base is not None) == (lead > 0)
    assert out.stride() == want.stride()


def test_docstring_examples_run():
    result = doctest.testmod(forms, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 100


def test_quantized_api_and_module_load_match_pytorch():
    torch = pytest.importorskip("torch")
    for make in (lambda m: m.tensor([1.0, 2.0]), lambda m: m.tensor([1, 2])):
        t, g = make(torch), make(tg)
        # an unquantized tensor comes back as float32 (itself if it is float32), as PyTorch's
        assert (tg.dequantize(g) is g) == (g.dtype == tg.float32)
        assert g.dequantize().tolist() == t.dequantize().tolist() and g.dequantize().dtype == tg.float32
        assert str(t.dequantize().dtype) == "torch.float32"
        for name in ("int_repr", "q_scale", "q_zero_point", "q_per_channel_axis", "q_per_channel_scales",
                     "q_per_channel_zero_points", "qscheme"):
            with pytest.raises(NotImplementedError):
                getattr(t, name)()
            with pytest.raises(NotImplementedError, match=name):
                getattr(g, name)()
    p, q = tg.zeros(2), tg.ones(2)
    out = p.module_load(q)
    assert out is not p and out is not q and p.tolist() == [1.0, 1.0]
    assert tg.zeros(1).module_load(q, assign=True).tolist() == [1.0, 1.0]
    m = tg.zeros(2)
    assert tg.addmv_(m, tg.eye(2), tg.tensor([1.0, 2.0])) is m and m.tolist() == [1.0, 2.0]


def test_sampling_in_place():
    tg.manual_seed(0)
    n = 4000
    e = tg.empty(n, dtype=tg.float64).exponential_(2.0).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.05
    g = tg.empty(n).geometric_(0.25).numpy()
    assert g.min() >= 1 and np.all(g == np.round(g)) and abs(g.mean() - 4.0) < 0.3
    ln = tg.empty(n, dtype=tg.float64).log_normal_(0.0, 0.5).numpy()
    assert ln.min() > 0 and abs(np.median(np.log(ln))) < 0.05
    c = tg.empty(n, dtype=tg.float64).cauchy_(1.0, 0.1).numpy()
    assert abs(np.median(c) - 1.0) < 0.02
    r = tg.empty(n).random_(3, 6).numpy()
    assert set(np.unique(r)) == {3.0, 4.0, 5.0}
    assert set(np.unique(tg.zeros(n, dtype=tg.int64).random_(2).numpy())) == {0, 1}
    assert tg.zeros(n, dtype=tg.int8).random_().numpy().min() >= 0
    tg.manual_seed(1)
    a = tg.empty(5).exponential_()
    tg.manual_seed(1)
    assert tg.empty(5).exponential_().tolist() == a.tolist()
    for call, match in [(lambda: tg.empty(2).exponential_(0.0), "exponential_"),
                        (lambda: tg.empty(2).geometric_(1.5), "geometric_"),
                        (lambda: tg.empty(2).random_(5, 5), "random_"),
                        (lambda: tg.empty(2, dtype=tg.int64).cauchy_(), "cauchy_"),
                        (lambda: tg.ones(2, requires_grad=True).log_normal_(), "log_normal_: a leaf")]:
        with pytest.raises(RuntimeError, match=match):
            call()


RANDOM_FILLS = {"exponential_": (lambda t: t.exponential_(), "ExponentialBackward0"),
                "cauchy_": (lambda t: t.cauchy_(), "CauchyBackward0"),
                "log_normal_": (lambda t: t.log_normal_(), "LogNormalBackward0"),
                "geometric_": (lambda t: t.geometric_(0.5), "GeometricBackward0"),
                "random_(from, to)": (lambda t: t.random_(1, 3), "RandomBackward0"),
                "random_(to)": (lambda t: t.random_(3), "RandomBackward1"),
                "random_()": (lambda t: t.random_(), "RandomBackward2")}


@pytest.mark.parametrize("name", sorted(RANDOM_FILLS))
def test_random_fills_under_grad_mode_are_in_place_ops_as_pytorch(name):
    """PyTorch's random fills are in-place ops with a zero gradient: a non-leaf (or a view of one) takes them under
    grad mode, recording their node; a leaf that requires grad, a view of one and an output of split refuse them
    (they refused any tensor that requires grad)."""
    fill, node = RANDOM_FILLS[name]
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    fill(y[0])
    assert y.grad_fn.name() == "torch::autograd::CopySlices" and y[1].tolist() == [3.0, 4.0]
    (y * tg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [3.0, 4.0]]
    z = x * 1
    assert fill(z).grad_fn.name() == node
    for refused, match in ((x, "a leaf tensor"), (x[0], "a view of a leaf"), ((x * 1).split(1)[0], "multiple")):
        with pytest.raises(RuntimeError, match=match):
            fill(refused)
    with tg.no_grad():
        fill(x)  # (as optimizers' initializers do)


# ---------------------------------------------------------------------- refusals PyTorch makes (issue 9)
def test_sum_to_size_requires_a_size():
    with pytest.raises(TypeError, match="sum_to_size"):
        tg.ones(2).sum_to_size()
    assert tg.ones(2).sum_to_size(()).item() == 2.0 and tg.ones(2).sum_to_size([]).shape == ()


@pytest.mark.parametrize("name", ["cumsum_", "cumprod_"])
@pytest.mark.parametrize("dt, other", [("float16", "float32"), ("int32", "int64"), ("float64", "float32")])
def test_inplace_scan_refuses_another_dtype(name, dt, other):
    x = tg.ones(2, dtype=getattr(tg, dt))
    with pytest.raises(RuntimeError, match=f"{name}.*Bad in-place call"):
        getattr(x, name)(0, dtype=getattr(tg, other))
    assert x.tolist() == [1, 1]  # untouched
    assert getattr(x, name)(0, dtype=getattr(tg, dt)).tolist() == ([1, 2] if name == "cumsum_" else [1, 1])


def test_random_fills_refuse_what_pytorch_refuses():
    with pytest.raises(NotImplementedError, match="geometric_"):
        tg.tensor([True]).geometric_(0.5)
    for x, args in ((tg.tensor([True]), (0, 300)), (tg.tensor([1], dtype=tg.uint8), (300,)),
                    (tg.tensor([1], dtype=tg.int8), (-129, 2)), (tg.tensor([1.0], dtype=tg.float16), (0, 2 ** 20)),
                    (tg.tensor([True]), (-1, 1))):
        with pytest.raises(RuntimeError, match="random_: .* out of bounds"):
            x.random_(*args)
    assert tg.zeros(4, dtype=tg.uint8).random_(0, 256).dtype == tg.uint8
    assert set(tg.zeros(50, dtype=tg.bool).random_(0, 2).tolist()) <= {False, True}
    assert tg.tensor([True]).random_(1).tolist() == [False]
    assert tg.ones(3, dtype=tg.float16).random_(0, 65505).dtype == tg.float16


def test_refusals_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [lambda m: m.ones(2).sum_to_size(),
             lambda m: m.ones(2, dtype=m.float16).cumsum_(0, dtype=m.float32),
             lambda m: m.ones(2, dtype=m.int32).cumprod_(0, dtype=m.int64),
             lambda m: m.tensor([True]).geometric_(0.5),
             lambda m: m.tensor([True]).random_(0, 300),
             lambda m: m.tensor([1], dtype=m.uint8).random_(256 + 44),
             lambda m: m.tensor([1], dtype=m.int8).random_(-129, 2),
             lambda m: m.tensor([1.0], dtype=m.float16).random_(0, 2 ** 20)]
    for case in cases:
        for m in (torch, tg):
            with pytest.raises((TypeError, RuntimeError, NotImplementedError)):
                case(m)
    assert torch.ones(2).sum_to_size(()).item() == tg.ones(2).sum_to_size(()).item()


def _layouts(lib):
    """Tensors of many layouts in ``lib``: contiguous, permuted, sliced, expanded (stride 0), with size-1 dims."""
    import itertools
    out = []
    for shape in [(4,), (2, 3), (3, 2, 4), (2, 3, 4, 5), (1, 3, 1, 2), (2, 1, 3)]:
        x = lib.zeros(shape)
        out += [x, x.transpose(0, -1), x[..., ::2]]
        out += [x.permute(*p) for p in itertools.permutations(range(len(shape)))]
        if len(shape) < 4:
            out.append(x.expand(2, *shape))
        if len(shape) >= 2:
            out.append(x.unsqueeze(1).expand(shape[0], 3, *shape[1:]))
    v = lib.tensor([5, 3, 3, 4], dtype=lib.uint8)
    out += list(lib.meshgrid(v, v, indexing="ij"))
    return out


def _dim_orders(lib):
    rows = []
    for t in _layouts(lib):
        row = [tuple(t.shape), tuple(t.stride())]
        for check in (False, True):
            try:
                row.append(t.dim_order(ambiguity_check=check))
            except RuntimeError:
                row.append("RuntimeError")
        rows.append(row)
    return rows


def test_dim_order_follows_pytorchs_comparison():
    """PyTorch's insertion sort: a stride of 0 (an expanded dim, meshgrid's outputs) says nothing about the order,
    so (4, 4) with strides (0, 1) is (0, 1), not (1, 0) as a plain sort by stride gives; ties order by size."""
    a, b = tg.tensor([5, 3, 3, 4]), tg.tensor([1, 2])
    assert tg.meshgrid(a, a, indexing="ij")[0].dim_order() == (0, 1)
    assert tg.meshgrid(a, b, indexing="xy")[1].dim_order() == (0, 1)
    assert tg.zeros(2, 3, 4).permute(2, 0, 1).dim_order() == (1, 2, 0)
    with pytest.raises(RuntimeError, match="unique dim order"):
        tg.zeros(1, 2).dim_order(ambiguity_check=True)
    torch = pytest.importorskip("torch")
    assert _dim_orders(tg) == _dim_orders(torch)
