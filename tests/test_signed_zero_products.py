"""The signs of zero of the products (matmul, mm, bmm, dot, einsum, conv2d): PyTorch's sums start from +0.0, but
a product of one term computed by BLAS's gemm (inner size 1, both outer sizes 2 or more) keeps the product's
sign, and einsum multiplies without summing where every subscript to contract has size 1. Compared with PyTorch
on operands made of -0.0, +0.0 and signed values; the values themselves are checked by the op's own tests."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg

VALUES = [-0.0, 0.0, 1.5, -2.0]


def signs(t):
    a = t.detach().numpy()
    return np.signbit(a), a == 0


def arrays(shape, seed):
    return np.random.default_rng(seed).choice(VALUES, size=shape)


# Where PyTorch's signs of zero come from MKL's gemm (conv2d's native kernels), they depend on the CPU's kernel: the
# values are compared everywhere, the signs on the reference CPU (and the reference's signs are pinned below)
SIGNS_ON_THE_REFERENCE_CPU = pytest.mark.parametrize(
    "signs", [False, pytest.param(True, marks=pytest.mark.reference_cpu)], ids=["values", "signs"])


def compare(torch, program, shapes, seed, dtype="float64", grads=(False,), signs=True):
    """``program(lib, *tensors)`` in both libraries: equal values and (if ``signs``) signs of zero."""
    data = [arrays(s, seed + i) for i, s in enumerate(shapes)]
    for rg in grads:
        ours = program(tg, *[tg.tensor(a, dtype=getattr(tg, dtype), requires_grad=rg) for a in data])
        theirs = program(torch, *[torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=rg) for a in data])
        a, b = ours.detach().numpy(), theirs.detach().numpy()
        np.testing.assert_array_equal(a, b)
        if signs:
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b), err_msg=f"requires_grad={rg}")


# ---------------------------------------------------------------------- without PyTorch: the rules themselves
def test_a_one_term_gemm_keeps_the_products_signs():
    a = tg.tensor([[3.0], [-0.0]], dtype=tg.float64)
    b = tg.tensor([[1.0, 1.0]], dtype=tg.float64)
    for out in (tg.mm(a, b), a @ b, tg.einsum("ij,jk->ik", a, b)):
        assert np.signbit(out.numpy()).tolist() == [[False, False], [True, True]]


def test_a_row_or_a_column_and_sums_of_several_terms_start_from_plus_zero():
    z = tg.full((1, 1), -0.0)
    assert not np.signbit((z @ tg.ones(1, 3)).numpy()).any()  # gemv: one row
    assert not np.signbit(tg.mm(tg.full((3, 2), -0.0), tg.ones(2, 2)).numpy()).any()
    assert not np.signbit(tg.dot(tg.tensor([-0.0]), tg.tensor([1.0])).numpy())
    assert not np.signbit(tg.bmm(tg.full((2, 3, 1), -0.0), tg.ones(2, 1, 2)).numpy()).any()
    assert not np.signbit(tg.einsum("ij->i", tg.full((2, 1), -0.0)).numpy()).any()


def test_conv2d_of_one_channel_by_a_1x1_kernel_keeps_the_products_signs():
    x = tg.full((1, 1, 3, 3), -0.0, dtype=tg.float64)
    assert np.signbit(tg.nn.functional.conv2d(x, tg.ones(2, 1, 1, 1, dtype=tg.float64)).numpy()).all()
    assert not np.signbit(tg.nn.functional.conv2d(x, tg.ones(2, 1, 2, 2, dtype=tg.float64)).numpy()).any()


# ---------------------------------------------------------------------- against PyTorch
SHAPES = st.sampled_from([1, 2, 3])


@given(m=SHAPES, n=SHAPES, batch=st.sampled_from([(), (1,), (2,), (2, 1)]), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float32", "float64"]))
@example(m=3, n=2, batch=(), seed=0, dtype="float64")
@example(m=1, n=1, batch=(2,), seed=0, dtype="float32")
@settings(max_examples=25)
def test_matmul_forms_of_inner_size_one_match_pytorch(m, n, batch, seed, dtype):
    torch = pytest.importorskip("torch")
    grads = (False, True)
    compare(torch, lambda lib, a, b: lib.matmul(a, b), [batch + (m, 1), (1, n)], seed, dtype, grads)
    compare(torch, lambda lib, a, b: lib.matmul(a, b), [(m, 1), batch + (1, n)], seed, dtype, grads)
    compare(torch, lambda lib, a, b: lib.matmul(a, b), [batch + (m, 1), batch + (1, n)], seed, dtype, grads)
    compare(torch, lambda lib, a, b: lib.mm(a, b), [(m, 1), (1, n)], seed, dtype)
    compare(torch, lambda lib, a, b: lib.bmm(a, b), [(2, m, 1), (2, 1, n)], seed, dtype)
    compare(torch, lambda lib, a, b: lib.mv(a, b), [(m, 1), (1,)], seed, dtype)
    compare(torch, lambda lib, a, b: lib.matmul(a, b), [(1,), (1, n)], seed, dtype)
    compare(torch, lambda lib, a, b: lib.dot(a, b), [(1,), (1,)], seed, dtype)



def test_inner_of_last_size_one_keeps_other_s_signs_only():
    """PyTorch's inner (tensordot) sums ``input``'s contracted dim of size 1 away (from +0.0) before its gemm:
    the result's zeros are (input + 0.0) * other, where both outer sizes are 2 or more."""
    a = tg.tensor([[1.0], [-0.0], [-0.0]], dtype=tg.float64)
    b = tg.tensor([[-0.0], [2.0]], dtype=tg.float64)
    out = tg.inner(a, b).numpy()
    assert np.signbit(out).tolist() == [[True, False], [True, False], [True, False]]
    # -0.0 in input is summed to +0.0 first: b's row [-0.0] times a gives (+0.0) * a
    assert np.signbit(tg.inner(b, a).numpy()).tolist() == [[False, True, True], [False, True, True]]
    assert not np.signbit(tg.inner(a[:1], b).numpy()).any()  # a row: gemv sums from +0.0


@given(sa=st.sampled_from([(1,), (2,), (3,), (2, 2), (1, 3)]), sb=st.sampled_from([(1,), (2,), (3,), (2, 1)]),
       seed=st.integers(0, 2**16), dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(sa=(2,), sb=(2,), seed=0, dtype="float64")
@example(sa=(3,), sb=(2,), seed=2, dtype="float32")
@settings(max_examples=25)
def test_inner_of_last_size_one_matches_pytorch(sa, sb, seed, dtype):
    torch = pytest.importorskip("torch")
    compare(torch, lambda lib, a, b: lib.inner(a, b), [sa + (1,), sb + (1,)], seed, dtype, (False, True))
    compare(torch, lambda lib, a, b: a.inner(b), [sa + (1,), sb + (1,)], seed, dtype)


EQUATIONS = [("ij,jk->ik", "ijk"), ("i,i->", "i"), ("i->", "i"), ("ij->", "ij"), ("bij,bjk->bik", "bijk"),
             ("i,j->ij", "ij"), ("...i,...i->...", "bi"), ("ij,j", "ij"), ("ij,ij->ij", "ij"), ("ij->ji", "ij"),
             ("ii->i", "i"), ("ij,kj->ik", "ijk")]


@given(eq=st.sampled_from(EQUATIONS), sizes=st.lists(st.sampled_from([1, 1, 2, 3]), min_size=4, max_size=4),
       seed=st.integers(0, 2**16), dtype=st.sampled_from(["float16", "float32", "float64"]))
@example(eq=("ij,jk->ik", "ijk"), sizes=[3, 1, 2, 1], seed=0, dtype="float64")
@example(eq=("i,i->", "i"), sizes=[1, 1, 1, 1], seed=1, dtype="float32")
@settings(max_examples=40)
def test_einsum_signs_of_zero_match_pytorch(eq, sizes, seed, dtype):
    torch = pytest.importorskip("torch")
    equation, letters = eq
    size = dict(zip("bijk", sizes, strict=True))
    terms = equation.split("->")[0].split(",")
    shapes = [tuple(size[c] for c in t.replace("...", "b")) for t in terms]
    compare(torch, lambda lib, *ops: lib.einsum(equation, *ops), shapes, seed, dtype)


@given(n=st.sampled_from([0, 1, 2]), groups=st.sampled_from([1, 2]), per_group=st.sampled_from([1, 2, 3]),
       hw=st.tuples(st.integers(1, 3), st.integers(1, 3)), bias=st.booleans(), stride=st.sampled_from([1, 2]),
       padding=st.sampled_from([0, 1]), kernel=st.sampled_from([1, 1, 2]), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float32", "float64"]), dilation=st.sampled_from([1, 1, 2]))
@example(n=1, groups=1, per_group=2, hw=(3, 3), bias=False, stride=1, padding=0, kernel=1, seed=0,
         dtype="float64", dilation=1)
@example(n=1, groups=1, per_group=3, hw=(1, 1), bias=True, stride=1, padding=0, kernel=1, seed=3,
         dtype="float32", dilation=1)
@example(n=2, groups=2, per_group=2, hw=(2, 3), bias=False, stride=1, padding=0, kernel=1, seed=5,
         dtype="float64", dilation=2)
@settings(max_examples=40)
@SIGNS_ON_THE_REFERENCE_CPU
def test_conv2d_signs_of_zero_match_pytorch(n, groups, per_group, hw, bias, stride, padding, kernel, seed, dtype,
                                            dilation, signs):
    torch = pytest.importorskip("torch")
    shapes = [(n, groups) + hw, (groups * per_group, 1, kernel, kernel)] + ([(groups * per_group,)] if bias else [])
    span = dilation * (kernel - 1) + 1
    if hw[0] + 2 * padding < span or hw[1] + 2 * padding < span:
        return

    def program(lib, x, w, *b):
        return lib.nn.functional.conv2d(x, w, b[0] if b else None, stride=stride, padding=padding, groups=groups,
                                        dilation=dilation)

    compare(torch, program, shapes, seed, dtype, signs=signs)


def test_conv2d_signs_of_zero_are_the_reference_machines():
    """Pinned on every CPU: the reference machine's MKL (Intel, AVX-512 FP16) sums a float64 1x1 convolution with a
    bias from +0.0 (an AMD EPYC's adds the product to the bias: -0.0 + -0.0 = -0.0 in the last channel), and so
    one 2x2 tap of -0.0 products onto a -0.0 bias, which gives +0.0 in float32 and float64 (an AMD EPYC's -0.0)."""
    x, w = tg.tensor([[[[0.0]]]], dtype=tg.float64), tg.tensor([[[[-2.0]]], [[[0.0]]], [[[-0.0]]]], dtype=tg.float64)
    out = tg.nn.functional.conv2d(x, w, tg.tensor([-2.0, -0.0, -0.0], dtype=tg.float64)).numpy().ravel()
    assert out.tolist() == [-2.0, 0.0, 0.0] and np.signbit(out).tolist() == [True, False, False]
    for dtype in (tg.float32, tg.float64):
        x = tg.tensor([[[[-2.0, 1.5], [-0.0, -2.0]]]], dtype=dtype)
        w = tg.tensor([[[[0.0, -0.0], [0.0, 0.0]]]], dtype=dtype)
        out = tg.nn.functional.conv2d(x, w, tg.tensor([-0.0], dtype=dtype)).numpy()
        assert out.item() == 0 and not np.signbit(out.item())


DEPTHWISE_VALUES = [-0.0, -0.0, 0.0, 1.5, -2.0]


@given(n=st.sampled_from([1, 2]), groups=st.sampled_from([2, 3, 4]), hw=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)), stride=st.sampled_from([1, 2]),
       padding=st.sampled_from([0, 1, "same"]), dilation=st.sampled_from([1, 2]), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float32", "float64"]))
@example(n=1, groups=2, hw=(2, 2), kernel=(2, 2), stride=1, padding="same", dilation=1, seed=0, dtype="float32")
@example(n=1, groups=2, hw=(3, 3), kernel=(1, 1), stride=1, padding=0, dilation=1, seed=0, dtype="float32")
@example(n=1, groups=2, hw=(1, 2), kernel=(2, 2), stride=1, padding=1, dilation=1, seed=27340, dtype="float64")
@settings(max_examples=40)
def test_depthwise_conv2d_with_a_bias_sums_from_the_bias(n, groups, hw, kernel, stride, padding, dilation, seed,
                                                         dtype):
    """PyTorch's depthwise kernels start from the bias: -0.0 where the bias and every product summed are -0.0
    (float32: the taps inside the input, a padding='same' with more padding after being input padded with +0.0;
    float64: the padding's zeros too)."""
    torch = pytest.importorskip("torch")
    if padding == "same" and (stride != 1 or dilation != 1):
        return  # (float32, a padding of 2 or more next to an input of 1 or 2: another kernel, KNOWN signed-zero-sums)
    ext = [dilation * (k - 1) + 1 for k in kernel]
    if padding != "same" and any(h + 2 * padding < e for h, e in zip(hw, ext, strict=True)):
        return
    rng = np.random.default_rng(seed)
    data = [rng.choice(DEPTHWISE_VALUES, size=s) for s in ((n, groups) + hw, (groups, 1) + kernel, (groups,))]

    def program(lib, x, w, b):
        return lib.nn.functional.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's note on 'same' with an even kernel
        ours = program(tg, *[tg.tensor(a, dtype=getattr(tg, dtype)) for a in data]).numpy()
        theirs = program(torch, *[torch.tensor(a, dtype=getattr(torch, dtype)) for a in data]).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


def test_float32_depthwise_conv2d_with_a_negative_zero_bias_keeps_it():
    x, w = tg.full((1, 2, 2, 2), -0.0), tg.full((2, 1, 1, 1), 2.0)
    assert np.signbit(tg.nn.functional.conv2d(x, w, tg.full((2,), -0.0), groups=2).numpy()).all()
    # float64 sums the padding's zeros too: +0.0 * 2.0 in the border pixels
    x64, w64 = x.double(), tg.full((2, 1, 2, 2), 2.0, dtype=tg.float64)
    out = tg.nn.functional.conv2d(x64, w64, tg.full((2,), -0.0, dtype=tg.float64), padding=1, groups=2).numpy()
    assert np.signbit(out[0, 0]).tolist() == [[False, False, False], [False, True, False], [False, False, False]]
    assert not np.signbit(tg.nn.functional.conv2d(x, w, tg.full((2,), 0.0), groups=2).numpy()).any()
    assert not np.signbit(tg.nn.functional.conv2d(x, w, None, groups=2).numpy()).any()  # no bias: from +0.0


@given(n=st.sampled_from([1, 2]), groups=st.sampled_from([1, 2]), per_group=st.sampled_from([1, 2]),
       out_per_group=st.sampled_from([1, 2]), hw=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       kernel=st.tuples(st.integers(1, 2), st.integers(1, 2)), stride=st.sampled_from([1, 2]),
       padding=st.sampled_from([0, 1]), dilation=st.sampled_from([1, 2]), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float32", "float64"]))
@example(n=1, groups=1, per_group=2, out_per_group=2, hw=(2, 2), kernel=(2, 2), stride=1, padding=1, dilation=1,
         seed=0, dtype="float64")
@example(n=2, groups=2, per_group=2, out_per_group=1, hw=(3, 2), kernel=(1, 2), stride=1, padding=1, dilation=2,
         seed=1, dtype="float64")
@example(n=1, groups=1, per_group=2, out_per_group=1, hw=(2, 3), kernel=(2, 1), stride=1, padding=1, dilation=1,
         seed=2, dtype="float32")
@settings(max_examples=40)
@SIGNS_ON_THE_REFERENCE_CPU
def test_conv2d_with_a_bias_sums_from_the_bias_in_the_native_kernels(n, groups, per_group, out_per_group, hw, kernel,
                                                                     stride, padding, dilation, seed, dtype, signs):
    """PyTorch's native kernels (float64; float32 of one image, one group, one output channel) copy the bias into
    the output and add the products, the padding's +0.0 ones included: -0.0 where all of them are -0.0 (tapegrad
    summed from +0.0)."""
    torch = pytest.importorskip("torch")
    if any(h + 2 * padding < dilation * (k - 1) + 1 for h, k in zip(hw, kernel, strict=True)):
        return
    rng = np.random.default_rng(seed)
    shapes = ((n, groups * per_group) + hw, (groups * out_per_group, per_group) + kernel, (groups * out_per_group,))
    data = [rng.choice(DEPTHWISE_VALUES, size=s) for s in shapes]

    def program(lib, x, w, b):
        return lib.nn.functional.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)

    ours = program(tg, *[tg.tensor(a, dtype=getattr(tg, dtype)) for a in data]).numpy()
    theirs = program(torch, *[torch.tensor(a, dtype=getattr(torch, dtype)) for a in data]).numpy()
    np.testing.assert_array_equal(ours, theirs)
    if signs:
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


def test_float64_conv2d_with_a_negative_zero_bias_sums_from_it():
    x, w = tg.full((1, 2, 2, 2), -0.0, dtype=tg.float64), tg.full((1, 2, 2, 2), 2.0, dtype=tg.float64)
    out = tg.nn.functional.conv2d(x, w, tg.full((1,), -0.0, dtype=tg.float64), padding=1).numpy()
    assert np.signbit(out[0, 0]).tolist() == [[False, False, False], [False, True, False], [False, False, False]]
    assert not np.signbit(tg.nn.functional.conv2d(x, w, tg.full((1,), -0.0, dtype=tg.float64)).numpy()).any()


@given(n=st.sampled_from([1, 2]), groups=st.sampled_from([2, 3]), hw=st.tuples(st.integers(1, 4), st.integers(1, 14)),
       kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 4), st.integers(0, 4)), dilation=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**16))
@example(n=1, groups=2, hw=(1, 1), kernel=(5, 5), stride=(1, 1), padding=(2, 2), dilation=1, seed=0)
@example(n=1, groups=2, hw=(1, 1), kernel=(3, 3), stride=(3, 3), padding=(2, 2), dilation=1, seed=1)
@example(n=1, groups=2, hw=(3, 13), kernel=(3, 5), stride=(1, 2), padding=(1, 4), dilation=1, seed=2)
@settings(max_examples=60)
def test_float32_depthwise_conv2d_sums_from_the_bias_only_in_onednns_jit_kernel(n, groups, hw, kernel, stride,
                                                                                padding, dilation, seed):
    """oneDNN's jit depthwise kernel starts from the bias; where its init_conf refuses the shape (a padding, or an
    end padding past the output's full blocks of min(6, OW) columns, wider than that block), PyTorch gets oneDNN's
    gemm convolution, which sums from +0.0 (KNOWN signed-zero-sums: tapegrad kept the bias's -0.0 there)."""
    torch = pytest.importorskip("torch")
    if any(h + 2 * p < dilation * (k - 1) + 1 for h, k, p in zip(hw, kernel, padding, strict=True)):
        return
    rng = np.random.default_rng(seed)
    shapes = ((n, groups) + hw, (groups, 1) + kernel, (groups,))
    data = [rng.choice([-0.0, -0.0, -0.0, 0.0, 1.5, -2.0], size=s) for s in shapes]

    def program(lib, x, w, b):
        return lib.nn.functional.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)

    ours = program(tg, *[tg.tensor(a, dtype=tg.float32) for a in data]).numpy()
    theirs = program(torch, *[torch.tensor(a, dtype=torch.float32) for a in data]).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


def test_float32_depthwise_conv2d_beside_a_small_input_sums_from_positive_zero():
    """The KNOWN signed-zero-sums repro: a 5x5 kernel with padding 2 over a 1x1 input is oneDNN's gemm kernel."""
    x, w, b = tg.full((1, 2, 1, 1), -0.0), tg.full((2, 1, 5, 5), 1.0), tg.full((2,), -0.0)
    assert not np.signbit(tg.nn.functional.conv2d(x, w, b, padding=2, groups=2).numpy()).any()
    w3 = tg.full((2, 1, 3, 3), 1.0)
    assert np.signbit(tg.nn.functional.conv2d(x, w3, b, padding=1, groups=2).numpy()).all()  # the jit kernel
