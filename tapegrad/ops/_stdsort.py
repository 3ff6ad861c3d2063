"""libstdc++'s ``std::sort`` and ``std::nth_element``, step for step, for the few PyTorch kernels whose result
depends on their exact order of moves: which of two equal-comparing values (0.0 and -0.0) a selection returns,
and where NaN lands in a sort whose comparator (``a < b``) is not a strict weak order with NaN.

PyTorch's CPU build uses GCC's libstdc++ (``bits/stl_algo.h``, ``bits/stl_heap.h``); these functions follow
its introsort (threshold 16, depth limit 2 floor(log2 n), median-of-three pivot moved to the front, unguarded
partition, heap sort when the depth runs out, final insertion sort) and its introselect (down to 3 elements,
then insertion sort). They run in Python, so callers use them only where the edge is present (a NaN in a
``mode`` row, a zero median with zeros of both signs), never on the common path.
"""

from __future__ import annotations

import math

_THRESHOLD = 16


def _lg(n):
    return n.bit_length() - 1


class _Seq:
    """A list ``a`` sorted in place with the strict comparison ``less`` (on the elements)."""

    def __init__(self, a, less):
        self.a = a
        self.less = less

    # ---- insertion sorts
    def unguarded_linear_insert(self, last):
        a, less = self.a, self.less
        val = a[last]
        nxt = last - 1
        # NOTE: libstdc++'s loop has no bound (the minimum is known to sit before it); with NaN that promise
        # can fail, so stop at the front instead of reading before the array
        while nxt >= 0 and less(val, a[nxt]):
            a[last] = a[nxt]
            last = nxt
            nxt -= 1
        a[last] = val

    def insertion_sort(self, first, last):
        a, less = self.a, self.less
        if first == last:
            return
        for i in range(first + 1, last):
            if less(a[i], a[first]):
                val = a[i]
                a[first + 1:i + 1] = a[first:i]
                a[first] = val
            else:
                self.unguarded_linear_insert(i)

    def final_insertion_sort(self, first, last):
        if last - first > _THRESHOLD:
            self.insertion_sort(first, first + _THRESHOLD)
            for i in range(first + _THRESHOLD, last):
                self.unguarded_linear_insert(i)
        else:
            self.insertion_sort(first, last)

    # ---- partition
    def move_median_to_first(self, result, x, y, z):
        a, less = self.a, self.less
        if less(a[x], a[y]):
            if less(a[y], a[z]):
                pick = y
            elif less(a[x], a[z]):
                pick = z
            else:
                pick = x
        elif less(a[x], a[z]):
            pick = x
        elif less(a[y], a[z]):
            pick = z
        else:
            pick = y
        a[result], a[pick] = a[pick], a[result]

    def unguarded_partition(self, first, last, pivot):
        a, less = self.a, self.less
        n = len(a)
        while True:
            while first < n and less(a[first], a[pivot]):
                first += 1
            last -= 1
            while last > 0 and less(a[pivot], a[last]):
                last -= 1
            if not first < last:
                return first
            a[first], a[last] = a[last], a[first]
            first += 1

    def unguarded_partition_pivot(self, first, last):
        mid = first + (last - first) // 2
        self.move_median_to_first(first, first + 1, mid, last - 1)
        return self.unguarded_partition(first + 1, last, first)

    # ---- heap
    def push_heap(self, first, hole, top, value):
        a, less = self.a, self.less
        parent = (hole - 1) // 2
        while hole > top and less(a[first + parent], value):
            a[first + hole] = a[first + parent]
            hole = parent
            parent = (hole - 1) // 2
        a[first + hole] = value

    def adjust_heap(self, first, hole, length, value):
        a, less = self.a, self.less
        top = hole
        child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if less(a[first + child], a[first + child - 1]):
                child -= 1
            a[first + hole] = a[first + child]
            hole = child
        if length & 1 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            a[first + hole] = a[first + child - 1]
            hole = child - 1
        self.push_heap(first, hole, top, value)

    def make_heap(self, first, last):
        length = last - first
        if length < 2:
            return
        parent = (length - 2) // 2
        while True:
            self.adjust_heap(first, parent, length, self.a[first + parent])
            if parent == 0:
                return
            parent -= 1

    def pop_heap(self, first, last, result):
        a = self.a
        value = a[result]
        a[result] = a[first]
        self.adjust_heap(first, 0, last - first, value)

    def heap_select(self, first, middle, last):
        self.make_heap(first, middle)
        for i in range(middle, last):
            if self.less(self.a[i], self.a[first]):
                self.pop_heap(first, middle, i)

    def partial_sort(self, first, middle, last):
        self.heap_select(first, middle, last)
        while middle - first > 1:
            middle -= 1
            self.pop_heap(first, middle, middle)

    # ---- the algorithms
    def introsort_loop(self, first, last, depth):
        while last - first > _THRESHOLD:
            if depth == 0:
                self.partial_sort(first, last, last)
                return
            depth -= 1
            cut = self.unguarded_partition_pivot(first, last)
            self.introsort_loop(cut, last, depth)
            last = cut

    def sort(self):
        n = len(self.a)
        if n:
            self.introsort_loop(0, n, _lg(n) * 2)
            self.final_insertion_sort(0, n)

    def nth_element(self, nth):
        first, last = 0, len(self.a)
        if first == last or nth == last:
            return
        depth = _lg(last) * 2
        while last - first > 3:
            if depth == 0:
                self.heap_select(first, nth + 1, last)
                self.a[first], self.a[nth] = self.a[nth], self.a[first]
                return
            depth -= 1
            cut = self.unguarded_partition_pivot(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self.insertion_sort(first, last)


def std_sort(items, less):
    """``items`` (a list) sorted as libstdc++'s ``std::sort(items, less)`` leaves it (a new list)."""
    s = _Seq(list(items), less)
    s.sort()
    return s.a


def std_nth_element(items, nth, less):
    """The element libstdc++'s ``std::nth_element(first, first + nth, last, less)`` puts at ``nth``."""
    s = _Seq(list(items), less)
    s.nth_element(nth)
    return s.a[nth]


def less_than(a, b):
    """C++'s ``a < b`` on floats (False with a NaN)."""
    return a < b


def nan_last_less(a, b):
    """PyTorch's nanmedian comparator: ``a < b || (isnan(b) && !isnan(a))``."""
    return a < b or (math.isnan(b) and not math.isnan(a))


def torch_quick_select(values, k):
    """The index (into ``values``, a list of floats) PyTorch's CPU kthvalue leaves at position ``k`` (0-based):
    its own quickselect, Sedgewick's partition with a median-of-three pivot, comparing with ``gt_or_nan`` (NaN
    above every number); which of equal values (0.0 and -0.0) lands at ``k`` is its order of swaps
    (aten/src/ATen/native/Sorting.cpp, quick_select_template and kthvalue_out_impl_cpu)."""
    arr = list(values)
    idx = list(range(len(arr)))

    def gt(x, y):  # gt_or_nan: (isnan(x) and not isnan(y)) or x > y
        return (x != x and y == y) or x > y

    def swap(i, j):
        arr[i], arr[j] = arr[j], arr[i]
        idx[i], idx[j] = idx[j], idx[i]

    lo, hi = 0, len(arr) - 1
    while True:
        if hi <= lo:
            return idx[k]
        if hi == lo + 1:
            if gt(arr[lo], arr[hi]):
                swap(lo, hi)
            return idx[k]
        swap((lo + hi) >> 1, lo + 1)
        if gt(arr[lo + 1], arr[hi]):
            swap(lo + 1, hi)
        if gt(arr[lo], arr[hi]):
            swap(lo, hi)
        if gt(arr[lo + 1], arr[lo]):
            swap(lo + 1, lo)
        i, j, piv = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while gt(piv, arr[i]):
                i += 1
            j -= 1
            while gt(arr[j], piv):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
