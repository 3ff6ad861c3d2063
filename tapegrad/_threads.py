"""PyTorch's thread counts: ``get_num_threads``/``set_num_threads`` and the inter-op pair.

tapegrad computes with numpy, whose only threads are its BLAS's (matrix products, solves). ``set_num_threads(n)``
gives the BLAS n threads through threadpoolctl when it is installed (``pip install tapegrad[threads]``), and
otherwise only records n: numpy's BLAS takes its thread count from the environment (``OMP_NUM_THREADS``) when it
loads. The count is also what the kernels that follow PyTorch's per-thread chunks of work read (``histogram``
sums each thread's part of the input in the input's dtype, then the parts), so their values follow the count as
PyTorch's do.

>>> import tapegrad as tg
>>> n = tg.get_num_threads()
>>> tg.set_num_threads(1); tg.get_num_threads()
1
>>> tg.set_num_threads(n)
"""

import importlib.util
import numbers
import os

__all__ = ["get_num_threads", "set_num_threads", "get_num_interop_threads", "set_num_interop_threads"]


def _default():
    """PyTorch's default: OMP_NUM_THREADS if it is a positive integer, else the CPUs this process may run on
    (PyTorch counts physical cores, which Python cannot see: on a machine with hyper-threads tapegrad's default
    is twice PyTorch's)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_intra_op = _default()
_inter_op = _intra_op


def _positive(op_name, n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise RuntimeError(f"{op_name} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{op_name} expects a positive integer")
    return int(n)


def get_num_threads() -> int:
    """get_num_threads() -> int: the number of threads of intra-op parallelism (see ``set_num_threads``)."""
    return _intra_op


def set_num_threads(n: int) -> None:
    """set_num_threads(n): use ``n`` threads for intra-op parallelism: numpy's BLAS gets n threads when
    threadpoolctl is installed (the ``threads`` extra), and the count is recorded either way."""
    global _intra_op
    _intra_op = _positive("set_num_threads", n)
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(_intra_op, user_api="blas")  # applied now (restored only by the limiter's own exit)


def get_num_interop_threads() -> int:
    """get_num_interop_threads() -> int: the number of threads of inter-op parallelism (recorded only: tapegrad
    runs ops one after another)."""
    return _inter_op


def set_num_interop_threads(n: int) -> None:
    """set_num_interop_threads(n): record ``n`` as the inter-op thread count (tapegrad runs ops one after
    another, so nothing else changes)."""
    global _inter_op
    _inter_op = _positive("set_num_interop_threads", n)
