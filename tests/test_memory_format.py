"""tapegrad/memory_formats.py: PyTorch's memory formats (contiguous_format, preserve_format, channels_last,
channels_last_3d) at every entry point that takes one, with PyTorch's strides, results and errors, compared with
PyTorch when it is installed; and a channels-last CNN script that runs unchanged in both libraries."""

import pickle

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import memory_formats

FORMATS = ["contiguous_format", "preserve_format", "channels_last", "channels_last_3d"]


def _torch():
    return pytest.importorskip("torch")


def _reference_strides(shape, fmt):
    """The strides PyTorch's empty(shape, memory_format=fmt) gives, written out (c10's MemoryFormat.h)."""
    if fmt == "contiguous_format":
        return tuple(int(np.prod([max(n, 1) for n in shape[d + 1:]])) for d in range(len(shape)))
    inner_first = {"channels_last": (1, 3, 2, 0), "channels_last_3d": (1, 4, 3, 2, 0)}[fmt]
    out, step = [0] * len(shape), 1
    for d in inner_first:
        out[d], step = step, step * shape[d]
    return tuple(out)


# ---------------------------------------------------------------------- the type and its values
def test_the_four_formats_are_the_only_values_of_their_type():
    assert [repr(getattr(tg, f)) for f in FORMATS] == [f"tapegrad.{f}" for f in FORMATS]
    assert all(isinstance(getattr(tg, f), tg.memory_format) for f in FORMATS)
    assert len({getattr(tg, f) for f in FORMATS}) == 4
    assert pickle.loads(pickle.dumps(tg.channels_last)) is tg.channels_last
    with pytest.raises(TypeError, match="cannot create 'tapegrad.memory_format' instances"):
        tg.memory_format()


def test_the_type_and_values_are_pytorchs():
    torch = _torch()
    for f in FORMATS:
        assert repr(getattr(torch, f)) == f"torch.{f}" and isinstance(getattr(torch, f), torch.memory_format)
    with pytest.raises(TypeError, match="cannot create 'torch.memory_format' instances"):
        torch.memory_format()


# ---------------------------------------------------------------------- every entry point against PyTorch
LAYOUTS = {  # a tensor from arange(n).reshape(...), then a view
    "contiguous 4-d": ((2, 3, 4, 5), lambda x: x),
    "channels-last 4-d": ((2, 4, 5, 3), lambda x: x.permute(0, 3, 1, 2)),
    "transposed 4-d": ((2, 3, 4, 5), lambda x: x.transpose(2, 3)),
    "sliced channels-last": ((2, 4, 6, 3), lambda x: x.permute(0, 3, 1, 2)[:, :, :, ::2]),
    "expanded": ((1, 3, 1, 5), lambda x: x.expand(2, 3, 4, 5)),
    "N111": ((3, 1, 1, 1), lambda x: x),
    "N11W sliced": ((3, 1, 1, 4), lambda x: x[..., :1]),
    "NC11 channels-last": ((2, 1, 1, 3), lambda x: x.permute(0, 3, 1, 2)),
    "N1HW": ((2, 1, 3, 4), lambda x: x),
    "1C1W transposed": ((1, 4, 1, 3), lambda x: x.transpose(1, 3)),
    "empty 4-d": ((2, 0, 3, 4), lambda x: x),
    "contiguous 5-d": ((2, 3, 2, 2, 2), lambda x: x),
    "channels-last 5-d": ((2, 2, 2, 2, 3), lambda x: x.permute(0, 4, 1, 2, 3)),
    "3-d": ((2, 3, 4), lambda x: x),
    "2-d transposed": ((3, 4), lambda x: x.t()),
}


def _make(lib, layout, dtype="float32"):
    shape, view = LAYOUTS[layout]
    n = int(np.prod(shape))
    return view(lib.arange(n, dtype=getattr(lib, dtype)).reshape(shape))


def _outcome(fn, x):
    """What ``fn(x)`` does: its result's strides and values (and whether it is x itself), or the error."""
    try:
        y = fn(x)
    except (RuntimeError, TypeError) as e:
        return type(e).__name__, str(e).split(": ", 1)[-1] if "required rank" in str(e) else type(e).__name__
    if isinstance(y, bool):
        return "bool", y
    return "tensor", y is x, tuple(y.shape), tuple(y.stride()), str(y.dtype).split(".")[-1], y.tolist()


ENTRY_POINTS = {  # each given the library and a memory format; the like functions' values aside (random)
    "is_contiguous": lambda lib, f: lambda x: x.is_contiguous(memory_format=f),
    "contiguous": lambda lib, f: lambda x: x.contiguous(memory_format=f),
    "clone": lambda lib, f: lambda x: x.clone(memory_format=f),
    "to": lambda lib, f: lambda x: x.to(memory_format=f),
    "to float64": lambda lib, f: lambda x: x.to(lib.float64, memory_format=f),
    "to copy": lambda lib, f: lambda x: x.to(memory_format=f, copy=True),
    "empty_like": lambda lib, f: lambda x: lib.empty_like(x, memory_format=f).zero_(),
    "zeros_like": lambda lib, f: lambda x: lib.zeros_like(x, memory_format=f),
    "ones_like": lambda lib, f: lambda x: lib.ones_like(x, memory_format=f),
    "full_like": lambda lib, f: lambda x: lib.full_like(x, 7, memory_format=f),
    "rand_like": lambda lib, f: lambda x: lib.rand_like(x, memory_format=f).zero_(),
    "randn_like": lambda lib, f: lambda x: lib.randn_like(x, memory_format=f).zero_(),
    "randint_like": lambda lib, f: lambda x: lib.randint_like(x, 1, memory_format=f),
    "empty": lambda lib, f: lambda x: lib.empty(x.shape, memory_format=f).zero_(),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_point_gives_pytorchs_strides_values_and_errors(entry, layout, fmt):
    torch = _torch()
    ours = _outcome(ENTRY_POINTS[entry](tg, getattr(tg, fmt)), _make(tg, layout))
    theirs = _outcome(ENTRY_POINTS[entry](torch, getattr(torch, fmt)), _make(torch, layout))
    assert ours == theirs


@pytest.mark.parametrize("dtype", ["float64", "int64", "bool"])
def test_casts_and_likes_keep_the_dtype_in_every_format(dtype):
    x = _make(tg, "contiguous 4-d", "float64").to(getattr(tg, dtype))
    for fmt in ("contiguous_format", "channels_last"):
        f = getattr(tg, fmt)
        for y in (x.to(memory_format=f, copy=True), x.clone(memory_format=f), tg.zeros_like(x, memory_format=f)):
            assert y.dtype == x.dtype and y.stride() == _reference_strides(tuple(x.shape), fmt)


# ---------------------------------------------------------------------- any shape
RANKS = {"channels_last": 4, "channels_last_3d": 5}


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.sampled_from([0, 1, 1, 2, 3]), min_size=3, max_size=5).map(tuple),
       fmt=st.sampled_from(["contiguous_format", "channels_last", "channels_last_3d"]),
       perm_seed=st.integers(0, 2 ** 16))
@example(shape=(2, 0, 3, 1), fmt="channels_last", perm_seed=0)  # a size 0: the dims outside it get stride 0
@example(shape=(2, 3, 1, 1), fmt="channels_last", perm_seed=0)  # NC11: channels-last strides (3, 1, 3, 3)
def test_any_shape_is_laid_out_as_pytorch(shape, fmt, perm_seed):
    """empty, contiguous, clone and to give the strides c10 computes (size-1 and size-0 dims included), the
    values unchanged; the wrong rank raises PyTorch's error."""
    perm = tuple(np.random.default_rng(perm_seed).permutation(len(shape)))
    base = tg.arange(int(np.prod(shape)), dtype=tg.float32).reshape([shape[p] for p in perm])
    x = base.permute(*np.argsort(perm))
    f = getattr(tg, fmt)
    if fmt in RANKS and len(shape) != RANKS[fmt]:
        for make in (lambda: tg.empty(shape, memory_format=f), lambda: x.clone(memory_format=f),
                     lambda: tg.zeros_like(x, memory_format=f)):
            with pytest.raises(RuntimeError, match=f"required rank {RANKS[fmt]} tensor to use {fmt} format"):
                make()
        assert not x.is_contiguous(memory_format=f)
        return
    expected = _reference_strides(shape, fmt)
    assert tg.empty(shape, memory_format=f).stride() == expected
    for y in (x.clone(memory_format=f), x.contiguous(memory_format=f)):
        assert y.is_contiguous(memory_format=f) and y.tolist() == x.tolist()
    assert x.clone(memory_format=f).stride() == expected
    assert x.contiguous(memory_format=f).is_contiguous() == x.contiguous(memory_format=f).is_contiguous(
        memory_format=tg.contiguous_format)
    try:
        torch = __import__("torch")
    except ImportError:
        return
    tx = torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape([shape[p] for p in perm])
    tx = tx.permute(*[int(d) for d in np.argsort(perm)])
    tf = getattr(torch, fmt)
    assert torch.empty(shape, memory_format=tf).stride() == expected
    makers = [lambda lib, x, f: x.contiguous(memory_format=f), lambda lib, x, f: x.clone(memory_format=f),
              lambda lib, x, f: lib.empty_like(x, memory_format=f)]
    if x.stride() == tx.stride():  # (a view of an empty tensor shows contiguous strides here: README)
        makers += [lambda lib, x, f: x.to(memory_format=f), lambda lib, x, f: lib.zeros_like(x),
                   lambda lib, x, f: x.clone()]
    else:
        assert 0 in shape
    for make in makers:
        ours, theirs = make(tg, x, f), make(torch, tx, tf)
        assert (ours is x) == (theirs is tx)
        assert ours is x or ours.stride() == theirs.stride()
    for g in FORMATS:
        assert x.is_contiguous(memory_format=getattr(tg, g)) == tx.is_contiguous(memory_format=getattr(torch, g))


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.sampled_from([0, 1, 2, 3]), min_size=4, max_size=5).map(tuple),
       steps=st.lists(st.sampled_from([0, 1, 2, 3, 4, 6, 12, 24]), min_size=5, max_size=5))
@example(shape=(3, 1, 1, 1), steps=[1, 1, 1, 1, 0])  # N111 with equal strides: contiguous by default
def test_suggested_format_and_contiguity_of_any_strides_are_pytorchs(shape, steps):
    """is_contiguous(memory_format=) and suggest_memory_format (which ``to`` asks) over arbitrary strides."""
    torch = _torch()
    steps = steps[:len(shape)]
    t = torch.empty_strided(shape, steps)
    for f in FORMATS:
        assert memory_formats.is_contiguous(shape, steps, getattr(tg, f)) == t.is_contiguous(
            memory_format=getattr(torch, f))
    fmt = "channels_last" if len(shape) == 4 else "channels_last_3d"
    assert (memory_formats.suggest(shape, steps) is getattr(tg, fmt)) == (t.to(memory_format=getattr(torch, fmt))
                                                                           is t)


# ---------------------------------------------------------------------- errors
ERRORS = [
    (lambda lib: lib.empty(2, 3, 4, memory_format=lib.channels_last), RuntimeError,
     "required rank 4 tensor to use channels_last format"),
    (lambda lib: lib.empty(2, 3, 4, 5, memory_format=lib.channels_last_3d), RuntimeError,
     "required rank 5 tensor to use channels_last_3d format"),
    (lambda lib: lib.empty(2, 3, 4, 5, memory_format=lib.preserve_format), RuntimeError,
     "unsupported memory format Preserve"),
    (lambda lib: lib.zeros(2, 3, 4).contiguous(memory_format=lib.channels_last), RuntimeError,
     "required rank 4 tensor to use channels_last format"),
    (lambda lib: lib.zeros(2, 3, 4).to(memory_format=lib.channels_last), RuntimeError,
     "required rank 4 tensor to use channels_last format"),
    (lambda lib: lib.zeros(2, 3, 4).clone(memory_format=lib.channels_last_3d), RuntimeError,
     "required rank 5 tensor to use channels_last_3d format"),
    (lambda lib: lib.ones_like(lib.zeros(2, 3), memory_format=lib.channels_last), RuntimeError,
     "required rank 4 tensor to use channels_last format"),
    (lambda lib: lib.zeros(2, 3, 4, 5).transpose(0, 1).contiguous(memory_format=lib.preserve_format), RuntimeError,
     "preserve memory format is unsupported by the contiguous operator"),
    (lambda lib: lib.zeros(2, 3).contiguous(memory_format=None), TypeError, "must be .*memory_format, not NoneType"),
    (lambda lib: lib.zeros(2, 3).is_contiguous(memory_format=3), TypeError, "must be .*memory_format, not int"),
    (lambda lib: lib.zeros(2, 3).is_contiguous(lib.channels_last), TypeError, "positional argument"),
    (lambda lib: lib.zeros(2, 3).contiguous(lib.channels_last), TypeError, "positional argument"),
    (lambda lib: lib.nn.Conv3d(1, 2, 1).to(memory_format=lib.channels_last), RuntimeError,
     "required rank 4 tensor to use channels_last format"),
    (lambda lib: lib.nn.Conv2d(1, 2, 1).to(memory_format=lib.channels_last_3d), RuntimeError,
     "required rank 5 tensor to use channels_last_3d format"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_are_pytorchs(case):
    make, kind, message = ERRORS[case]
    with pytest.raises(kind, match=message):
        make(tg)
    torch = _torch()
    with pytest.raises(kind, match=message.replace("positional argument", "positional arguments? but")):
        make(torch)


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("entry, node", [("clone", "CloneBackward0"), ("contiguous", "CloneBackward0"),
                                         ("to", "ToCopyBackward0")])
def test_a_layout_change_records_pytorchs_node_and_the_gradient_flows(entry, node):
    x = tg.randn(2, 3, 4, 5, requires_grad=True)
    y = getattr(x, entry)(memory_format=tg.channels_last)
    assert y.grad_fn.name() == node and y.stride() == (60, 1, 15, 3)
    (y * tg.arange(120.0).reshape(2, 3, 4, 5)).sum().backward()
    assert x.grad.tolist() == tg.arange(120.0).reshape(2, 3, 4, 5).tolist()
    assert x.grad.stride() == x.stride()  # laid out as the leaf


def test_a_leafs_gradient_is_laid_out_as_the_leaf_as_pytorchs():
    """PyTorch's AccumulateGrad: a dense leaf's .grad takes its strides; another leaf's is row-major."""
    x = tg.randn(2, 3, 4, 5).contiguous(memory_format=tg.channels_last).requires_grad_()
    (x * 2).contiguous().sum().backward()
    assert x.grad.stride() == (60, 1, 15, 3)
    w = tg.randn(3, 4).t().detach().requires_grad_()
    (w * 1).contiguous().sum().backward()
    assert w.grad.stride() == (1, 4)
    torch = _torch()
    tw = torch.randn(3, 4).t().detach().requires_grad_()
    (tw * 1).contiguous().sum().backward()
    assert tw.grad.stride() == (1, 4)


# ---------------------------------------------------------------------- Module.to
def test_module_to_lays_out_4d_parameters_buffers_and_gradients_as_pytorch():
    results = []
    for lib in filter(None, (tg, _maybe_torch())):
        m = lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3), lib.nn.BatchNorm2d(4), lib.nn.Conv1d(2, 2, 1))
        m[0].weight.grad = lib.ones(4, 3, 3, 3)
        m.to(memory_format=lib.channels_last)
        results.append(([tuple(p.stride()) for p in m.parameters()], [tuple(b.stride()) for b in m.buffers()],
                        m[0].weight.grad.stride()))
        assert m[0].weight.grad.tolist() == lib.ones(4, 3, 3, 3).tolist()
    assert results[0][0][0] == (27, 1, 9, 3) and results[0][2] == (27, 1, 9, 3)
    assert all(r == results[0] for r in results)


def _maybe_torch():
    try:
        return __import__("torch")
    except ImportError:
        return None


# ---------------------------------------------------------------------- the layouts ops give
OPS = {
    "conv2d": lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1),
    "conv2d strided": lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2),
    "relu": lambda lib, x, w: lib.nn.functional.relu(x),
    "add scalar": lambda lib, x, w: x + 1,
    "mul": lambda lib, x, w: x * x,
    "batch_norm": lambda lib, x, w: lib.nn.functional.batch_norm(x, None, None, training=True),
    "max_pool2d": lambda lib, x, w: lib.nn.functional.max_pool2d(x, 2),
    "avg_pool2d": lambda lib, x, w: lib.nn.functional.avg_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda lib, x, w: lib.nn.functional.adaptive_avg_pool2d(x, 3),
    "global average": lambda lib, x, w: lib.nn.functional.adaptive_avg_pool2d(x, 1),
    "flatten of global average": lambda lib, x, w: lib.flatten(lib.nn.functional.adaptive_avg_pool2d(x, 1), 1),
    "max_pool2d indices": lambda lib, x, w: lib.nn.functional.max_pool2d(x, 2, return_indices=True)[1],
    "adaptive_max_pool2d": lambda lib, x, w: lib.nn.functional.adaptive_max_pool2d(x, 2),
    "conv_transpose2d": lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w[:3], stride=2),
    "dropout's layout": lambda lib, x, w: lib.nn.functional.dropout(x, 0.5) * 0,
    "group_norm": lambda lib, x, w: lib.nn.functional.group_norm(x, 3, lib.ones(3), lib.zeros(3)),
    "group_norm without affine": lambda lib, x, w: lib.nn.functional.group_norm(x, 1),
    "cat": lambda lib, x, w: lib.cat([x, x * 2], 1),
    "cat with a row-major tensor": lambda lib, x, w: lib.cat([x, x.contiguous()], 2),
}


@pytest.mark.parametrize("weight_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("input_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_after_a_channels_last_tensor_give_pytorchs_layout_and_values(name, input_layout, weight_layout):
    torch = _torch()
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    out = {}
    for lib in (tg, torch):
        fmt = {"contiguous": lib.contiguous_format, "channels_last": lib.channels_last}
        x = lib.tensor(xa, dtype=lib.float32).contiguous(memory_format=fmt[input_layout])
        w = lib.tensor(wa, dtype=lib.float32).contiguous(memory_format=fmt[weight_layout])
        y = OPS[name](lib, x, w)
        out[lib] = (y.stride(), y.detach().numpy())
    assert out[tg][0] == out[torch][0]
    np.testing.assert_allclose(out[tg][1], out[torch][1], rtol=1e-5, atol=1e-5)


OPS_3D = {
    "conv3d": lambda lib, x, w: lib.nn.functional.conv3d(x, w, padding=1),
    "conv_transpose3d": lambda lib, x, w: lib.nn.functional.conv_transpose3d(x, w.transpose(0, 1)),
    "max_pool3d": lambda lib, x, w: lib.nn.functional.max_pool3d(x, 2),
    "max_pool3d indices": lambda lib, x, w: lib.nn.functional.max_pool3d(x, 2, return_indices=True)[1],
    "avg_pool3d": lambda lib, x, w: lib.nn.functional.avg_pool3d(x, 2),  # (row-major in PyTorch too)
    "adaptive_avg_pool3d": lambda lib, x, w: lib.nn.functional.adaptive_avg_pool3d(x, 2),
    "adaptive_max_pool3d": lambda lib, x, w: lib.nn.functional.adaptive_max_pool3d(x, 2),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])  # (3-d convolutions keep the layout in float32 only)
@pytest.mark.parametrize("weight_layout", ["contiguous", "channels_last_3d"])
@pytest.mark.parametrize("input_layout", ["contiguous", "channels_last_3d"])
@pytest.mark.parametrize("name", sorted(OPS_3D))
def test_3d_ops_after_a_channels_last_3d_tensor_give_pytorchs_layout_and_values(name, input_layout, weight_layout,
                                                                                 dtype):
    torch = _torch()
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((2, 3, 4, 4, 4)), rng.standard_normal((2, 3, 3, 3, 3))
    out = {}
    for lib in (tg, torch):
        fmt = {"contiguous": lib.contiguous_format, "channels_last_3d": lib.channels_last_3d}
        x = lib.tensor(xa, dtype=getattr(lib, dtype)).contiguous(memory_format=fmt[input_layout])
        w = lib.tensor(wa, dtype=getattr(lib, dtype)).contiguous(memory_format=fmt[weight_layout])
        y = OPS_3D[name](lib, x, w)
        out[lib] = (y.stride(), y.numpy())
    assert out[tg][0] == out[torch][0]
    tolerance = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(out[tg][1], out[torch][1], rtol=tolerance, atol=tolerance)


# ---------------------------------------------------------------------- a script that runs unchanged
def _train_step(torch, state, images, labels):
    """A modern channels-last training step, written for PyTorch: ``torch`` is PyTorch or tapegrad."""
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(8, 5))
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.tensor(images).contiguous(memory_format=torch.channels_last)
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), torch.tensor(labels))
    loss.backward()
    grads = {name: (p.grad.numpy().copy(), p.grad.stride()) for name, p in model.named_parameters()}
    opt.step()
    after = nn.functional.cross_entropy(model(x), torch.tensor(labels))
    strides = [tuple(p.stride()) for p in model.parameters()]
    return loss.item(), after.item(), grads, strides


def test_a_channels_last_cnn_training_step_runs_unchanged_with_pytorchs_numbers():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 5, 4)
    reference = tg.nn.Sequential(tg.nn.Conv2d(3, 8, 3, padding=1), tg.nn.BatchNorm2d(8), tg.nn.ReLU(),
                                 tg.nn.Conv2d(8, 8, 3, stride=2), tg.nn.BatchNorm2d(8), tg.nn.ReLU(),
                                 tg.nn.AdaptiveAvgPool2d((1, 1)), tg.nn.Flatten(), tg.nn.Linear(8, 5))
    state = {k: v.numpy().copy() for k, v in reference.state_dict().items()}
    ours = _train_step(tg, state, images, labels)
    assert ours[1] < ours[0]
    torch = _torch()
    theirs = _train_step(torch, state, images, labels)
    np.testing.assert_allclose(ours[:2], theirs[:2], rtol=1e-5)
    for name, (grad, stride) in theirs[2].items():
        np.testing.assert_allclose(ours[2][name][0], grad, rtol=1e-4, atol=1e-6, err_msg=name)
        assert ours[2][name][1] == stride, name
    assert ours[3] == theirs[3]
