"""PyTorch's order of dims in memory (a leaf: imports nothing).

``torch._prims_common.compute_elementwise_output_logical_to_physical_perm`` sorts the dims by a comparison that can
say "no preference" (a stride of 0, equal strides): an insertion sort, back to front, that stops at the first "keep",
so ties keep their place. ``dim_order`` and the layout kron's result takes both use it.
"""


def innermost_first(n, should_swap):
    """The dims 0..n-1 from the innermost in memory to the outermost, as PyTorch sorts them: ``should_swap(a, b)``
    is 1 where dim a goes inside b, -1 where it stays outside, 0 where it cannot tell."""
    perm = list(range(n))[::-1]
    for i in range(1, n):
        d1 = i
        for d0 in reversed(range(i)):
            order = should_swap(perm[d0], perm[d1])
            if order > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif order < 0:
                break
    return perm
