"""The linear-algebra functions at their edges: which outputs require grad and which inputs get a gradient (None
vs zeros), empty factors, signs of zero, singular and non-finite matrices. Each case runs the same program with
``torch`` bound to tapegrad and, when it is installed, to PyTorch, and compares everything."""

import numpy as np
import pytest

import tapegrad as tg

F64 = "float64"


def _lib_dtype(lib, name):
    return getattr(lib, name)


def run(lib, program, arrays, dtype=F64):
    """Run ``program(lib, *leaves)`` on leaves requiring grad made from ``arrays``; return (outputs, grads):
    each output's values, requires_grad and is_leaf, then each leaf's gradient after a weighted backward."""
    dt = _lib_dtype(lib, dtype)
    leaves = [lib.tensor(np.asarray(a, np.float64), dtype=dt, requires_grad=True) for a in arrays]
    outs = program(lib, *leaves)
    outs = outs if isinstance(outs, tuple) else (outs,)
    summary = [(o.detach().numpy().copy(), o.requires_grad, o.is_leaf) for o in outs]
    total = None
    for k, o in enumerate(outs):
        if o.requires_grad:
            term = (o * (k + 1.5)).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    return summary, [None if x.grad is None else x.grad.numpy().copy() for x in leaves]


def same(a, b):
    """Equal values, NaN places and signs of zero."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(b), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.signbit(a[a == 0]), np.signbit(b[b == 0]))


# (name, program, arrays, expected: list of (requires_grad, is_leaf) per output, expected grads: None or "zeros"
# or "nonzero" per leaf)
RG_CASES = [
    ("slogdet_sign_only", lambda lib, a: lib.slogdet(a)[0], [[[-2.2]]], [(True, False)], [None]),
    ("slogdet_both", lambda lib, a: tuple(lib.linalg.slogdet(a)), [[[-2.2, 1.0], [0.5, 3.0]]],
     [(True, False), (True, False)], ["nonzero"]),
    ("triangular_solve_copy_b_only", lambda lib, b, a: lib.triangular_solve(b, a.detach())[1],
     [[[1.0], [2.0]], [[2.0, 1.0], [0.0, 3.0]]], [(True, False)], ["zeros", None]),
    ("triangular_solve_copy_a", lambda lib, b, a: lib.triangular_solve(b, a)[1],
     [[[1.0], [2.0]], [[2.0, 1.0], [0.0, 3.0]]], [(True, False)], ["zeros", "nonzero"]),
    ("matrix_power_0", lambda lib, a: lib.matrix_power(a, 0), [[[2.0, 1.0], [0.5, 3.0]]], [(True, False)],
     ["zeros"]),
    ("linalg_matrix_power_0", lambda lib, a: lib.linalg.matrix_power(a, 0), [np.ones((2, 3, 3))],
     [(True, False)], ["zeros"]),
    ("orgqr_empty_k", lambda lib, a, t: lib.orgqr(a, t), [np.ones((3, 2)), np.zeros(0)], [(True, False)],
     [None, None]),
    ("orgqr_empty_matrix", lambda lib, a, t: lib.orgqr(a, t), [np.zeros((2, 0)), np.zeros(0)], [(True, False)],
     [None, None]),
    ("householder_empty_batch", lambda lib, a, t: lib.linalg.householder_product(a, t),
     [np.zeros((0, 2, 2)), np.zeros((0, 2))], [(True, False)], [None, None]),
    ("ormqr_empty_k", lambda lib, a, t, c: lib.ormqr(a, t, c), [np.zeros((1, 0)), np.zeros(0), [[0.5, 1.5]]],
     [(True, False)], [None, None, "nonzero"]),
    ("ormqr_empty_batch", lambda lib, a, t, c: lib.ormqr(a, t, c),
     [np.zeros((0, 2, 2)), np.zeros((0, 2)), np.zeros((0, 2, 2))], [(True, False)], [None, None, "zeros"]),
    ("ormqr_empty_right", lambda lib, a, t, c: lib.ormqr(a, t, c, left=False),
     [np.zeros((2, 0)), np.zeros(0), np.ones((3, 2))], [(True, False)], [None, None, "nonzero"]),
]


@pytest.mark.parametrize("case", RG_CASES, ids=lambda c: c[0])
def test_outputs_require_grad_and_gradients_are_pytorchs(case):
    _, program, arrays, flags, grads = case
    summary, got = run(tg, program, arrays)
    assert [(rg, lf) for _, rg, lf in summary] == flags
    for g, want in zip(got, grads, strict=True):
        if want is None:
            assert g is None
        else:
            assert g is not None and (not g.any()) == (want == "zeros")


def test_an_empty_ormqr_result_is_not_a_leaf_and_takes_in_place_ops():
    c = tg.tensor([[0.5, 1.5]], requires_grad=True)
    out = tg.ormqr(tg.zeros((1, 0)), tg.tensor([]), c)
    assert not out.is_leaf and out is not c
    out.mul_(2)  # allowed on a non-leaf
    out.sum().backward()
    np.testing.assert_array_equal(c.grad.numpy(), [[2.0, 2.0]])


@pytest.mark.parametrize("case", RG_CASES, ids=lambda c: c[0])
def test_requires_grad_cases_match_pytorch(case):
    torch = pytest.importorskip("torch")
    _, program, arrays, _, _ = case
    ours, our_grads = run(tg, program, arrays)
    theirs, their_grads = run(torch, program, arrays)
    assert len(ours) == len(theirs)
    for (v, rg, lf), (w, trg, tlf) in zip(ours, theirs, strict=True):
        same(v, w)
        assert (rg, lf) == (trg, tlf)
    for g, h in zip(our_grads, their_grads, strict=True):
        assert (g is None) == (h is None)
        if g is not None:
            same(g, h)
