"""tapegrad.get_num_threads/set_num_threads and the inter-op pair, as PyTorch's."""

import pytest

import tapegrad as tg


@pytest.fixture
def restore_threads():
    intra, inter = tg.get_num_threads(), tg.get_num_interop_threads()
    yield
    tg.set_num_threads(intra)
    tg.set_num_interop_threads(inter)


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("name", ["num_threads", "num_interop_threads"])
def test_set_and_get_thread_counts(name):
    setter, getter = getattr(tg, "set_" + name), getattr(tg, "get_" + name)
    assert getter() >= 1
    setter(3)
    assert getter() == 3
    for bad, error in [(0, "expects a positive integer"), (-1, "expects a positive integer"),
                       (2.5, "expects an int, but got float"), (True, "expects an int, but got bool")]:
        with pytest.raises(RuntimeError, match=f"set_{name} {error}"):
            setter(bad)
    assert getter() == 3


@pytest.mark.usefixtures("restore_threads")
def test_set_num_threads_limits_numpys_blas_with_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    tg.set_num_threads(1)
    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("name", ["num_threads", "num_interop_threads"])
def test_thread_counts_match_pytorchs_errors(name):
    torch = pytest.importorskip("torch")
    for bad in (0, -2, 1.5):
        messages = []
        for lib in (tg, torch):
            with pytest.raises(RuntimeError) as info:
                getattr(lib, "set_" + name)(bad)
            messages.append(str(info.value).split("\n")[0])
        assert messages[0] == messages[1]


def test_doctests():
    import doctest

    from tapegrad import _threads

    result = doctest.testmod(_threads)
    assert result.attempted and result.failed == 0
