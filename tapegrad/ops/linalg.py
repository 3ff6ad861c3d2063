"""Linear algebra: matrix products and einsum.

Each op is declared beside its gradient rule. The rules compute only the gradients the engine asks for (its
``need`` mask), and the engine sums broadcast batch dimensions back, so ``g @ b.mT`` is the whole rule of a
batched product. Node names are PyTorch's: a product is named after the last op PyTorch's own implementation
runs for those shapes (``matmul`` of two matrices is ``MmBackward0``, of batches ``UnsafeViewBackward0``).
Shape errors name the op and both shapes: ``matmul: cannot multiply (2, 3) by (4, 5): inner sizes 3 and 4
differ``.
"""

from __future__ import annotations

import collections
import functools
import math
import string
from collections.abc import Callable

import numpy as np

from .. import dtypes
from ..autograd.declare import Tensor, cast, op, operands, record, wrap

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", "einsum"]


def _inner_error(op_name, a, b, ka, kb):
    return ValueError(f"{op_name}: cannot multiply {tuple(a.shape)} by {tuple(b.shape)}: inner sizes {ka} and "
                      f"{kb} differ")


def _check_same_dtype(op_name, input, other):
    """PyTorch's matrix products do not promote dtypes: two tensors of different dtypes are an error.

    (Other operands, such as the numpy constants of gradient rules, are converted and promoted as before.)
    """
    if isinstance(input, Tensor) and isinstance(other, Tensor) and input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{op_name}: expected both operands to have the same dtype, got {input._data.dtype} "
                           f"and {other._data.dtype} (matrix products do not promote, as in PyTorch); cast one "
                           f"with .to({input._data.dtype}) or .to({other._data.dtype})")


def _check_not_bool(op_name, a, b):
    """PyTorch's matrix products are not implemented for bool (numpy's would be a logical product)."""
    if a.dtype.kind == "b" or b.dtype.kind == "b":
        raise NotImplementedError(f"{op_name}: not implemented for bool tensors (got {a.dtype} and {b.dtype}, "
                                  f"shapes {tuple(a.shape)} and {tuple(b.shape)}), as in PyTorch; cast them with "
                                  ".long() or .float()")


def _rank_error(op_name, want, a, b):
    return ValueError(f"{op_name}: expected {want}, got shapes {tuple(a.shape)} and {tuple(b.shape)}")


def _mm_rule(xp, need, g, out, a, b):
    """out = a @ b for operands of at least 2 dims (broadcast batch dims are summed back by the engine)."""
    return (g @ b.mT if need[0] else None, a.mT @ g if need[1] else None)


def _dot_rule(xp, need, g, out, a, b):
    return (g * b if need[0] else None, g * a if need[1] else None)


def _mv_rule(xp, need, g, out, a, b):
    """out = a @ b for a matrix or a batch of matrices a (..., m, k) and a vector b (k,)."""
    n = math.prod(g.shape)
    return (xp.expand_dims(g, -1) * b if need[0] else None,
            a.reshape((n, b.shape[0])).mT @ g.reshape((n,)) if need[1] else None)


def _vm_rule(xp, need, g, out, a, b):
    """out = a @ b for a vector a (k,) and a matrix or a batch of matrices b (..., k, n): a acts as (1, k)."""
    k = a.shape[0]
    return ((b @ xp.expand_dims(g, -1)).reshape(tuple(g.shape[:-1]) + (k,)) if need[0] else None,
            a.reshape((k, 1)) * xp.expand_dims(g, -2) if need[1] else None)


# ---------------------------------------------------------------------- signs of zero
# A sum of products starts from +0.0 in PyTorch's kernels and in numpy's, so a zero entry is +0.0, except where
# PyTorch's kernel does not sum: a matrix product with one term (inner size 1) is computed by BLAS's gemm as the
# product itself, keeping its sign, when both outer sizes are at least 2 (gemv, for a row or a column, sums
# from +0.0), in float32 and float64 (float16 has its own summing kernel); numpy's BLAS gives +0.0 there. The
# repair runs only for an inner size of 1, and rewrites the zero entries only.
def _gemm_one_term(out, ad, bd, rows, cols):
    """``out`` = ``ad @ bd`` with inner size 1, as PyTorch's gemm of ``rows`` x ``cols`` gives it: the exact
    products (their signs of zero) where both sizes are at least 2."""
    if (rows > 1 and cols > 1 and out.dtype.itemsize >= 4 and out.dtype.kind == "f"
            and np.count_nonzero(out) != out.size):
        zero = out == 0
        out[zero] = np.broadcast_to(ad * bd, out.shape)[zero]
    return out


def _matmul_name(a, b):
    """PyTorch's node name for matmul(a, b): the last op its implementation runs for these operands."""
    da, db = a.ndim, b.ndim
    if da <= 2 and db <= 2:
        return _SMALL_PRODUCTS[da, db]
    ashape = a.shape
    if da == db == 3 and ashape[0] == 1 != b.shape[0] and a.requires_grad:
        da, ashape = 2, ashape[1:]  # PyTorch squeezes a's batch of one, then folds as below
    if da == 2 and a.requires_grad:
        # folded as (b.mT @ a.mT).mT, then made contiguous: a copy unless that transpose is contiguous already
        # (a row or a column, or an empty result), which is then the result, a view (see _folded_transpose)
        m, n = ashape[0], b.shape[-1]
        return "TransposeBackward0" if m <= 1 or n <= 1 or 0 in b.shape[:-2] else "CloneBackward0"
    return "UnsafeViewBackward0"


_SMALL_PRODUCTS = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4",
                   (2, 2): "MmBackward0"}


# ---------------------------------------------------------------------- matmul
@op(methods=("matmul", "__matmul__"))
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """matmul(input, other): the matrix product with numpy's rules: 1-D, 2-D, batched and broadcast-batched.

    >>> import tapegrad as tg
    >>> tg.matmul(tg.ones(2, 3), tg.ones(3)).shape
    tapegrad.Size([2])
    """
    if input.__class__ is Tensor and other.__class__ is Tensor:  # two matrices of one float dtype: a layer's
        ad, bd = input._data, other._data
        if ad.ndim == 2 and bd.ndim == 2 and ad.dtype is bd.dtype and ad.dtype.kind == "f":
            k = ad.shape[1]  # (each read of .shape builds a tuple)
            if k != bd.shape[0]:
                raise _inner_error("matmul", ad, bd, k, bd.shape[0])
            out = ad @ bd
            if k == 1:
                out = _gemm_one_term(out, ad, bd, ad.shape[0], bd.shape[1])
            return record(out, (input, other), _mm_rule, "MmBackward0")
    _check_same_dtype("matmul", input, other)
    a, b = operands("matmul", input, other)
    ad, bd = a._data, b._data
    nda, ndb = ad.ndim, bd.ndim
    if nda == 0 or ndb == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes {tuple(ad.shape)} "
                         f"and {tuple(bd.shape)}")
    ka = ad.shape[-1]
    kb = bd.shape[-2] if ndb > 1 else bd.shape[0]
    if ka != kb:
        raise _inner_error("matmul", ad, bd, ka, kb)
    _check_not_bool("matmul", ad, bd)
    if nda == ndb == 3 and bd.shape[0] == 1 != ad.shape[0] and b.requires_grad and not (
            ad.shape[0] == 1 and a.requires_grad):
        # PyTorch squeezes b's batch of one when b requires grad (_matmul_impl), then folds a into one matrix
        # product below (gemm's signs of zero: one term keeps its product's sign)
        b = b.squeeze(0)
        bd, ndb = b._data, 2
    if ndb == 2 and nda > 2:
        # (..., m, k) @ (k, n) as one (N, k) @ (k, n) product: one BLAS call, and b's gradient is one product
        # too (no per-batch (k, n) gradients for the engine to sum).
        # NOTE: sizes spelled out, not -1: numpy cannot infer a size next to a 0 (empty operands)
        m, n = math.prod(ad.shape[:-1]), bd.shape[1]
        out = (ad.reshape(m, ka) @ bd).reshape(ad.shape[:-1] + (n,))
        if ka == 1:
            out = _gemm_one_term(out, ad, bd, m, n)
        return record(out, (a, b), _folded_rule(m, ka, n), _matmul_name(a, b))
    if ndb > 2 and a.requires_grad and (nda <= 2 or nda == 3 and ad.shape[0] == 1 != bd.shape[0]) \
            and _fold_copies(bd):
        # NOTE: PyTorch folds a vector or matrix that requires grad times a batch as (b.mT @ a.mT).mT with b.mT
        # reshaped to one matrix (LinearAlgebra.cpp, _matmul_impl / should_fold): where that reshape is a copy,
        # the copy is what its backward saves, so a later in-place write into b neither reaches nor stops the
        # backward. The same copy here (b's gradient flows through it)
        b = b.clone()
        bd = b._data
    try:
        out = np.matmul(ad, bd)
    except ValueError:
        raise ValueError(f"matmul: cannot broadcast the batch dimensions of {tuple(ad.shape)} and "
                         f"{tuple(bd.shape)}") from None
    if nda == 1:
        return record(out, (a, b), _dot_rule if ndb == 1 else _vm_rule, _matmul_name(a, b))
    if ka == 1 and ndb > 1:
        out = _matmul_one_term(out, a, ad, bd)
    name = _matmul_name(a, b)
    if name == "TransposeBackward0":
        return _folded_transpose(out, a, b)
    return record(out, (a, b), _mv_rule if ndb == 1 else _mm_rule, name)


def _folded_transpose(out, a, b):
    """PyTorch's result of a matrix that requires grad times a batch where the folded product's transpose is
    contiguous (see _matmul_name): that transpose itself, a view of the product (node UnsafeViewBackward0), so
    detach_() refuses it, as PyTorch's "Can't detach views in-place"."""
    base = record(np.ascontiguousarray(np.swapaxes(out, -1, -2)), (a, b), _transposed_mm_rule, "UnsafeViewBackward0")
    return base.mT


def _transposed_mm_rule(xp, need, g, out, a, b):
    """out = (a @ b).mT."""
    return _mm_rule(xp, need, g.mT, None, a, b)


def _fold_copies(bd):
    """Whether PyTorch's fold of a batch ``bd`` (``b.mT.reshape(-1, k)``) copies it: not a view."""
    if not bd.size:
        return False
    folded = np.swapaxes(bd, -1, -2).reshape(-1, bd.shape[-2])
    return not np.may_share_memory(folded, bd)


def _matmul_one_term(out, a, ad, bd):
    """The signs of zero of matmul with inner size 1 where PyTorch computes it by one gemm: two matrices, or a
    matrix (or a batch of one) that requires grad times a batch (folded as (b^T a^T)^T, see _matmul_name)."""
    if ad.ndim == 2 and bd.ndim == 2:
        return _gemm_one_term(out, ad, bd, ad.shape[0], bd.shape[1])
    if a.requires_grad and (ad.ndim == 2 or ad.ndim == bd.ndim == 3 and ad.shape[0] == 1 != bd.shape[0]):
        return _gemm_one_term(out, ad, bd, math.prod(bd.shape[:-2]) * bd.shape[-1], ad.shape[-2])
    return out


def _folded_rule(m, k, n):
    """out = a @ b computed as (m, k) @ (k, n), a's leading dims flattened to m."""
    def folded_matmul_rule(xp, need, g, out, a, b):
        ga = g @ b.mT if need[0] else None  # NOTE: measured faster than one (m, n) @ (n, k) product
        gb = a.reshape((m, k)).mT @ g.reshape((m, n)) if need[1] else None
        return ga, gb

    return folded_matmul_rule


@op(methods=("__rmatmul__",), xp_name=False)
def __rmatmul__(self: Tensor, other) -> Tensor:
    """__rmatmul__(self, other): ``other @ self`` for a numpy array on the left."""
    return matmul(other, self)


@op
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """mm(input, mat2): the product of two 2-D matrices, (n, m) @ (m, p) -> (n, p); no broadcasting.

    >>> import tapegrad as tg
    >>> tg.mm(tg.ones(2, 3), tg.ones(3, 4)).shape
    tapegrad.Size([2, 4])
    """
    _check_same_dtype("mm", input, mat2)
    a, b = operands("mm", input, mat2)
    ad, bd = a._data, b._data
    if ad.ndim != 2 or bd.ndim != 2:
        raise _rank_error("mm", "two 2-D matrices", ad, bd)
    if ad.shape[1] != bd.shape[0]:
        raise _inner_error("mm", ad, bd, ad.shape[1], bd.shape[0])
    _check_not_bool("mm", ad, bd)
    out = ad @ bd
    if ad.shape[1] == 1:
        out = _gemm_one_term(out, ad, bd, ad.shape[0], bd.shape[1])
    return record(out, (a, b), _mm_rule, "MmBackward0")


@op
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """bmm(input, mat2): batched matrix product, (b, n, m) @ (b, m, p) -> (b, n, p); equal batch sizes.

    >>> import tapegrad as tg
    >>> tg.bmm(tg.ones(5, 2, 3), tg.ones(5, 3, 4)).shape
    tapegrad.Size([5, 2, 4])
    """
    _check_same_dtype("bmm", input, mat2)
    a, b = operands("bmm", input, mat2)
    ad, bd = a._data, b._data
    if ad.ndim != 3 or bd.ndim != 3:
        raise _rank_error("bmm", "two 3-D batches of matrices", ad, bd)
    if ad.shape[0] != bd.shape[0]:
        raise ValueError(f"bmm: cannot multiply {tuple(ad.shape)} by {tuple(bd.shape)}: batch sizes "
                         f"{ad.shape[0]} and {bd.shape[0]} differ")
    if ad.shape[2] != bd.shape[1]:
        raise _inner_error("bmm", ad, bd, ad.shape[2], bd.shape[1])
    _check_not_bool("bmm", ad, bd)
    return record(np.matmul(ad, bd), (a, b), _mm_rule, "BmmBackward0")


@op
def mv(input: Tensor, vec: Tensor) -> Tensor:
    """mv(input, vec): matrix times vector, (n, m) @ (m,) -> (n,).

    >>> import tapegrad as tg
    >>> tg.mv(tg.ones(2, 3), tg.ones(3))
    tensor([3., 3.])
    """
    if input.ndim != 2 or vec.ndim != 1:
        raise _rank_error("mv", "a 2-D matrix and a 1-D vector", input, vec)
    if input.shape[1] != vec.shape[0]:
        raise _inner_error("mv", input, vec, input.shape[1], vec.shape[0])
    _check_same_dtype("mv", input, vec)
    a, b = operands("mv", input, vec)
    _check_not_bool("mv", a._data, b._data)
    return record(a._data @ b._data, (a, b), _mv_rule, "MvBackward0")


# ---------------------------------------------------------------------- vector products
@op
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """dot(input, tensor): the dot product of two 1-D tensors of equal length (a 0-d tensor).

    >>> import tapegrad as tg
    >>> tg.dot(tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0]))
    tensor(11.)
    """
    _check_same_dtype("dot", input, tensor)
    a, b = operands("dot", input, tensor)
    ad, bd = a._data, b._data
    if ad.ndim != 1 or bd.ndim != 1:
        raise _rank_error("dot", "two 1-D tensors", ad, bd)
    if ad.shape[0] != bd.shape[0]:
        raise ValueError(f"dot: cannot multiply {tuple(ad.shape)} by {tuple(bd.shape)}: sizes {ad.shape[0]} "
                         f"and {bd.shape[0]} differ")
    _check_not_bool("dot", ad, bd)
    out = np.asarray(np.dot(ad, bd))
    if ad.shape[0] == 1 and out == 0:
        out = out + 0.0 if out.dtype.kind == "f" else out  # numpy's one-term dot keeps -0.0; PyTorch sums from +0
    return record(out, (a, b), _dot_rule, "DotBackward0")


@op(methods=("outer", "ger"))
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """outer(input, vec2): the outer product of two 1-D tensors, (n,) and (m,) -> (n, m). Alias: ger.

    >>> import tapegrad as tg
    >>> tg.outer(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 10.0]))
    tensor([[ 1., 10.],
            [ 2., 20.]])
    """
    a, b = operands("outer", input, vec2)
    ad, bd = a._data, b._data
    if ad.ndim != 1 or bd.ndim != 1:
        raise _rank_error("outer", "two 1-D tensors", ad, bd)
    return record(np.multiply.outer(ad, bd), (a, b), _outer_rule, "MulBackward0")


def _outer_rule(xp, need, g, out, a, b):
    return (g @ b if need[0] else None, a @ g if need[1] else None)


ger = outer


@op
def inner(input: Tensor, other: Tensor) -> Tensor:
    """inner(input, other): sums of products over the last dimension of both; a scalar operand multiplies.

    The result has shape ``input.shape[:-1] + other.shape[:-1]``.

    >>> import tapegrad as tg
    >>> tg.inner(tg.ones(2, 3), tg.ones(4, 3)).shape
    tapegrad.Size([2, 4])
    """
    if isinstance(input, Tensor) and isinstance(other, Tensor) and (input.ndim == 0 or other.ndim == 0):
        return input * other  # as PyTorch: a product, promoted (MulBackward0)
    _check_same_dtype("inner", input, other)
    a, b = operands("inner", input, other)
    ad, bd = a._data, b._data
    if ad.ndim == 0 or bd.ndim == 0:
        return a * b
    k, kb = ad.shape[-1], bd.shape[-1]
    if k != kb:
        raise ValueError(f"inner: cannot multiply {tuple(ad.shape)} by {tuple(bd.shape)}: last sizes {k} and "
                         f"{kb} differ")
    _check_not_bool("inner", ad, bd)
    m, n = math.prod(ad.shape[:-1]), math.prod(bd.shape[:-1])
    if k == 1:
        # PyTorch's inner is tensordot, which sums a contracted dim of size 1 of `other` away in `input` (from
        # +0.0: -0.0 becomes +0.0; aten/src/ATen/native/Linear.cpp) and then calls mm: `other`'s gradient reads
        # that sum, a new tensor, so a write into `input` after the forward leaves the backward as it was
        a = a.sum(-1, keepdim=True, dtype=a.dtype)
        ad = a._data
    out = ad.reshape(m, k) @ bd.reshape(n, k).T
    if k == 1 and m > 1 and n > 1:
        out = _gemm_one_term(out, ad.reshape(m, 1), bd.reshape(1, n), m, n)  # a one-term gemm
    # PyTorch's tensordot reshapes its mm product to the result's shape: the result is a view of the product
    # (ViewBackward0 over MmBackward0, in no_grad too), so detach_() refuses it
    product = record(out, (a, b), _inner_rule(m, n, k), "MmBackward0")
    return product.view(tuple(ad.shape[:-1] + bd.shape[:-1]))


def _inner_rule(m, n, k):
    """out = a (m, k) @ b (n, k)^T, with a's and b's leading dims flattened to m and n."""
    def inner_rule(xp, need, g, out, a, b):
        g = g.reshape((m, n))
        return ((g @ b.reshape((n, k))).reshape(tuple(a.shape)) if need[0] else None,
                (g.mT @ a.reshape((m, k))).reshape(tuple(b.shape)) if need[1] else None)

    return inner_rule


# ---------------------------------------------------------------------- einsum
_LABELS = string.ascii_uppercase + string.ascii_lowercase  # sublist integers 0-51, as numpy and PyTorch


@op(methods=())
def einsum(*args, optimize=None) -> Tensor:
    """einsum(equation, *operands): Einstein summation, with gradients for every operand.

    Any equation numpy accepts: repeated subscripts (diagonals, traces), ``...`` broadcasting, implicit output
    (the ``...`` dims, then the subscripts seen once, in alphabetical order), size-1 dims broadcasting, and
    numpy's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. As PyTorch, ``...`` dims missing from an
    explicit output are summed. ``optimize`` (a tapegrad extra) is numpy's contraction-order option; by
    default it is used for more than two operands or large ones.

    Dtypes are PyTorch's, which follow its left-to-right contraction steps: a sum over a subscript of integer
    or bool values gives int64 (``einsum('i->', int32)`` is int64), a contraction of two operands needs one
    dtype and not bool, and an elementwise product of operands promotes (``einsum('i,j->ij', f32, f64)`` is
    float64); where PyTorch refuses, so does einsum.

    >>> import tapegrad as tg
    >>> tg.einsum("ij,jk->ik", tg.ones(2, 3), tg.ones(3, 4)).shape
    tapegrad.Size([2, 4])
    >>> tg.einsum("ii", tg.eye(3))
    tensor(3.)
    """
    if not args:
        raise TypeError("einsum: missing the equation and the operands")
    if isinstance(args[0], str):
        equation, ops = args[0], args[1:]
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = tuple(ops[0])
    else:
        equation, ops = _sublist_equation(args)
    tensors = _einsum_operands(ops)
    arrays = [t._data for t in tensors]
    terms, out_labels = _parse_einsum(equation, tuple(a.ndim for a in arrays))
    try:
        dtype = _einsum_dtype(terms, out_labels, tuple(tuple(n != 1 for n in a.shape) for a in arrays),
                              tuple(a.dtype for a in arrays))
    except (RuntimeError, NotImplementedError) as e:
        size_error = _einsum_size_error(equation, terms, arrays, None)
        raise (size_error or type(e)(f"einsum: {equation!r} {e}")) from None
    if any(a.dtype != dtype for a in arrays):
        tensors = [cast(t, dtype) for t in tensors]
        arrays = [t._data for t in tensors]
    spec = ",".join(terms) + "->" + out_labels
    if optimize is None:
        optimize = _worth_optimizing(terms, [a.shape for a in arrays])
    try:
        out = np.einsum(spec, *arrays, optimize=optimize)
    except ValueError as e:
        raise _einsum_size_error(equation, terms, arrays, e) from None
    if out.dtype.kind == "f" and np.count_nonzero(out) != out.size:
        out = _einsum_signed_zeros(out, terms, out_labels, arrays)
    einsum_rule: Callable  # the rule protocol of one input, or of several
    if len(tensors) == 1:
        def einsum_rule(xp, g, out, x):
            return _einsum_grad(xp, 0, terms, out_labels, g, (x,))
    else:
        def einsum_rule(xp, need, g, out, *ops):
            return tuple(_einsum_grad(xp, k, terms, out_labels, g, ops) if needed else None
                         for k, needed in enumerate(need))

    result = record(np.asarray(out), tuple(tensors), einsum_rule, _einsum_name(terms, out_labels))
    if len(tensors) > 1 and set("".join(terms)) - set(out_labels):
        # PyTorch's einsum of several operands that sums a subscript ends with a view of its batched product
        # (sumproduct_pair), so its result is a view, which detach_() refuses; without a sum (an outer or
        # elementwise product) it is a new tensor
        return result.view(tuple(result.shape))
    return result


def _einsum_signed_zeros(out, terms, out_labels, arrays):
    """The signs of the zero entries of ``out`` as PyTorch's einsum gives them (only its zero entries change).

    PyTorch drops the subscripts of size 1 to contract (they broadcast), sums a subscript that one operand
    alone has in that operand, and contracts the subscripts two operands share by a batched matrix product;
    sums start from +0.0. So a zero is +0.0 after a sum, and otherwise the product of the (summed) operands,
    with its sign. Equations of one or two operands without a repeated subscript in one operand (a diagonal)
    are repaired; the others keep numpy's zeros."""
    contracted = set("".join(terms)) - set(out_labels)
    if len(terms) == 1 and not contracted or len(terms) > 2 or any(len(set(t)) != len(t) for t in terms[1:]):
        return out  # a permutation or a diagonal (maybe a view of the operand) keeps its signs
    out = np.array(out)  # a new array (numpy's einsum gives a scalar for a 0-d result)
    zero = out == 0
    if len(terms) == 1:
        out[zero] = 0.0
        return out
    if len(set(terms[0])) != len(terms[0]):
        return out
    sizes = [dict(zip(t, a.shape, strict=True)) for t, a in zip(terms, arrays, strict=True)]
    if any(sizes[0].get(c, 1) != 1 and sizes[1].get(c, 1) != 1 for c in contracted):
        out[zero] = 0.0  # a matrix product sums
        return out
    signs, kept = [], []
    for term, size, a in zip(terms, sizes, arrays, strict=True):
        drop = tuple(i for i, c in enumerate(term) if c in contracted and size[c] == 1)
        a = a[tuple(0 if i in drop else slice(None) for i in range(a.ndim))]
        term = "".join(c for i, c in enumerate(term) if i not in drop)
        summed = tuple(i for i, c in enumerate(term) if c in contracted)
        if summed:  # a sum from +0.0: its zeros are +0.0
            a = a.sum(axis=summed) + 0.0
            term = "".join(c for i, c in enumerate(term) if i not in summed)
        signs.append(np.copysign(np.ones((), out.dtype), a))
        kept.append(term)
    sign = np.broadcast_to(np.einsum(",".join(kept) + "->" + out_labels, *signs), out.shape)
    out[zero] = np.copysign(np.zeros((), out.dtype), sign[zero])
    return out


def _einsum_operands(ops):
    """The operands as tensors (numpy arrays, the constants of gradient rules, are wrapped)."""
    if not ops:
        raise ValueError("einsum: at least one operand is needed")
    tensors = []
    for i, t in enumerate(ops):
        if isinstance(t, np.ndarray):
            t = wrap(t)
        elif not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} must be a Tensor, got {type(t).__name__}")
        tensors.append(t)
    return tensors


@functools.lru_cache(maxsize=1024)
def _einsum_dtype(terms, out_labels, wide, dts):
    """The dtype of PyTorch's einsum of operands of dtypes ``dts`` (``wide``: which of their dims are not 1).

    PyTorch contracts the operands left to right, and its steps decide the dtype: a subscript to contract that
    only one of the two operands has (with a size other than 1), and no later operand, is summed in it first
    (a sum makes integers and bools int64); a pair that shares subscripts to contract is multiplied by a
    batched matrix product (which wants one dtype, not bool), a pair that does not by an elementwise product
    (which promotes); one operand's contraction is a sum. Raises PyTorch's refusals (the message goes on the
    equation)."""
    contracted = sorted(set("".join(terms)) - set(out_labels))
    live = [frozenset(c for c, w in zip(term, dims, strict=True) if w) for term, dims in zip(terms, wide,
                                                                                            strict=True)]
    counts = {c: sum(c in labels for labels in live) for c in contracted}
    ops = collections.deque(zip(live, dts, strict=True))
    while len(ops) > 1:
        (la, da), (lb, db) = ops.popleft(), ops.popleft()
        summed, in_a, in_b = set(), set(), set()
        for c in contracted:
            if c in la and c in lb:
                counts[c] -= 1
                if counts[c] == 1:
                    summed.add(c)
                    counts[c] = 0
            elif counts[c] == 1 and (c in la or c in lb):
                (in_a if c in la else in_b).add(c)
                counts[c] = 0
        if in_a:
            la, da = la - in_a, _sum_dtype(da)
        if in_b:
            lb, db = lb - in_b, _sum_dtype(db)
        if not summed:
            dt = dtypes.promote(np.empty((0,), da), np.empty((0,), db))
        elif da.kind == "b":  # PyTorch dispatches on the first operand's dtype, then compares the second's
            raise NotImplementedError("contracts bool operands, which PyTorch does not implement (a batched "
                                      "matrix product of bools); cast them with .long() or .float()")
        elif da != db:
            raise RuntimeError(f"contracts operands of dtypes {da} and {db}, which PyTorch refuses: its batched "
                               "matrix product does not promote (and summing a subscript found in one operand "
                               "only makes integers int64 first); cast the operands to one dtype")
        else:
            dt = da
        ops.appendleft(((la | lb) - summed, dt))
    dt = ops[0][1]
    return _sum_dtype(dt) if len(terms) == 1 and contracted else dt


def _sum_dtype(dt):
    return np.dtype(np.int64) if dt.kind in "biu" else dt


def _einsum_name(terms, out_labels):
    """PyTorch's node name for einsum: a sum over the contracted subscripts of one operand, a view of the
    last product when several are contracted, else a permutation of one operand or a product of several."""
    contracted = bool(set("".join(terms)) - set(out_labels))
    if len(terms) == 1:
        return "SumBackward1" if contracted else "PermuteBackward0"
    return "ViewBackward0" if contracted else "MulBackward0"


def _worth_optimizing(terms, shapes):
    """numpy's optimized einsum (contraction order, BLAS) pays for its planning cost (~30 us) only for more
    than two operands or a contraction of more than ~32k multiply-adds."""
    if len(terms) != 2:
        return len(terms) > 2
    sizes = {}
    for term, shape in zip(terms, shapes, strict=True):
        for c, n in zip(term, shape, strict=True):
            sizes[c] = n if n != 1 else sizes.get(c, 1)
    return math.prod(sizes.values()) >= 1 << 15


def _sublist_equation(args):
    """numpy's ``einsum(op0, sublist0, op1, sublist1, ..., [sublist_out])`` as an equation and operands."""
    args = list(args)
    out = args.pop() if len(args) % 2 else None

    def letters(sublist):
        for s in sublist:
            if s is not Ellipsis and not (isinstance(s, int) and 0 <= s < len(_LABELS)):
                raise ValueError(f"einsum: sublists hold integers 0 to 51 and Ellipsis, got {sublist!r}")
        return "".join("..." if s is Ellipsis else _LABELS[s] for s in sublist)

    equation = ",".join(letters(s) for s in args[1::2])
    if out is not None:
        equation += "->" + letters(out)
    return equation, args[0::2]


@functools.lru_cache(maxsize=1024)
def _parse_einsum(equation, ndims):
    """(the operands' subscripts, the output's), with ``...`` spelled out as fresh letters, for operands of
    ``ndims`` dimensions. Raises ValueError for a malformed equation."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    if "->" in rhs:
        raise ValueError(f"einsum: the equation {equation!r} has more than one '->'")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operand term(s) but "
                         f"{len(ndims)} operand(s) were given")
    for term in terms + ([rhs] if arrow else []):
        bare = term.replace("...", "", 1)
        for c in bare:
            if c not in _LABELS:
                raise ValueError(f"einsum: invalid subscript {c!r} in {equation!r}: subscripts are letters "
                                 "a-z and A-Z, plus one '...' per operand")
    spans = []
    for i, (term, nd) in enumerate(zip(terms, ndims, strict=True)):
        named = len(term.replace("...", ""))
        if "..." in term:
            if named > nd:
                raise ValueError(f"einsum: operand {i} has {nd} dimension(s) but its subscripts {term!r} "
                                 f"name {named}")
            spans.append(nd - named)
        else:
            if named != nd:
                raise ValueError(f"einsum: operand {i} has {nd} dimension(s) but its subscripts {term!r} "
                                 f"name {named} (and there is no '...')")
            spans.append(0)
    used = set(eq)
    fresh = [c for c in _LABELS if c not in used]
    n_ell = max(spans)
    if n_ell > len(fresh):
        raise ValueError(f"einsum: too many dimensions for the 52 subscript letters in {equation!r}")
    ell = "".join(fresh[:n_ell])  # '...' dims align from the right, as in broadcasting
    explicit = tuple(term.replace("...", ell[n_ell - s:]) for term, s in zip(terms, spans, strict=True))
    if arrow:
        out = rhs.replace("...", ell)
        seen = set("".join(explicit))
        for c in out:
            if out.count(c) > 1:
                raise ValueError(f"einsum: output subscript {c!r} appears more than once in {equation!r}")
            if c not in seen:
                raise ValueError(f"einsum: output subscript {c!r} does not appear in any operand of "
                                 f"{equation!r}")
    else:
        counts = collections.Counter(lhs.replace("...", "").replace(",", ""))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    return explicit, out


def _einsum_size_error(equation, terms, arrays, error):
    seen = {}
    for i, (term, a) in enumerate(zip(terms, arrays, strict=True)):
        for c, n in zip(term, a.shape, strict=True):
            if c in seen:
                j, m = seen[c]
                if n != m and (j == i or 1 not in (n, m)):
                    where = "'...' dimension" if c not in equation else f"subscript {c!r}"
                    return ValueError(f"einsum: {where} has size {m} in operand {j} (shape "
                                      f"{tuple(arrays[j].shape)}) but size {n} in operand {i} (shape "
                                      f"{tuple(a.shape)}) in {equation!r}")
            if c not in seen or seen[c][1] == 1:
                seen[c] = (i, n)
    if error is None:
        return None
    return ValueError(f"einsum: {equation!r} failed on shapes {[tuple(a.shape) for a in arrays]}: {error}")


def _einsum_grad(xp, k, terms, out_labels, g, ops):
    """The gradient for operand ``k``: another einsum, of ``g`` with the other operands, into k's subscripts.

    A subscript repeated in operand k (a diagonal) is renamed and tied to the first by an identity matrix,
    so the gradient lands on the diagonal. A subscript found only in operand k (summed there alone) is absent
    from the other terms: the gradient is constant along it, so it is broadcast. Size-1 dims are fitted last.
    """
    term, shape = terms[k], tuple(ops[k].shape)
    others = [j for j in range(len(ops)) if j != k]
    used = set(out_labels).union(*terms)
    fresh = (c for c in _LABELS if c not in used)
    target, ties, eyes = [], [], []
    for i, c in enumerate(term):
        if c in term[:i]:
            f = next(fresh)
            ties.append(c + f)
            eyes.append(np.eye(shape[i], dtype=g.dtype))
            target.append(f)
        else:
            target.append(c)
    available = set(out_labels).union(*(terms[j] for j in others), *ties)
    kept = "".join(c for c in target if c in available)
    lhs = [out_labels] + [terms[j] for j in others] + ties
    inputs = [g] + [ops[j] for j in others] + eyes
    optimize = _worth_optimizing(lhs, [tuple(t.shape) for t in inputs])
    with np.errstate(invalid="ignore"):
        grad = xp.einsum(",".join(lhs) + "->" + kept, *inputs, optimize=optimize)
    if ties:
        # NOTE: off the diagonal the identity's zeros multiply g (inf * 0 = nan, -g * 0 = -0.0); PyTorch's
        # diagonal backward writes g into zeros, so those entries are exactly +0.0.
        diagonal = np.ones((1,) * len(kept), dtype=bool)
        for tie, eye in zip(ties, eyes, strict=True):
            where = [1] * len(kept)
            where[kept.index(tie[0])] = where[kept.index(tie[1])] = eye.shape[0]
            diagonal = diagonal & (eye != 0).reshape(where)
        grad = xp.where(diagonal, grad, 0)
    if len(kept) < len(target):
        sizes = iter(grad.shape)
        grad = grad.reshape(tuple(next(sizes) if c in available else 1 for c in target))
    return _fit(xp, grad, shape)


def _fit(xp, grad, shape):
    """``grad`` summed over dims where the operand has size 1, then broadcast where it has size 1 itself."""
    gshape = tuple(grad.shape)
    if gshape == shape:
        return grad
    axes = tuple(i for i, (n, s) in enumerate(zip(gshape, shape, strict=True)) if s == 1 and n != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad if tuple(grad.shape) == shape else xp.broadcast_to(grad, shape)
