"""The spatial layers (Conv1d/3d, ConvTranspose*, pooling 1d/3d, adaptive max, LP, unpooling, norms, resampling,
shuffles, Fold/Unfold, Bilinear, EmbeddingBag, Lazy modules): PyTorch's parameter names, shapes, initial
distributions and reprs, the same outputs and gradients as PyTorch's on the same state_dict (loaded both ways)
when PyTorch is installed, and errors."""

import doctest
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.nn import bilinear, embedding_bag, fold, instancenorm, lazy, upsampling


@pytest.mark.parametrize("module", [bilinear, embedding_bag, fold, instancenorm, lazy, upsampling],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    assert doctest.testmod(module, raise_on_error=False).failed == 0


def test_new_classes_in_shared_modules_have_working_examples():
    from tapegrad.nn import conv, norm, pooling

    for module in (conv, norm, pooling):
        assert doctest.testmod(module, raise_on_error=False).failed == 0


def test_parameter_shapes_and_initial_bounds_are_pytorchs():
    conv = nn.ConvTranspose2d(6, 4, (3, 2), groups=2)
    assert conv.weight.shape == (6, 2, 3, 2) and conv.bias.shape == (4,)
    bound = 1 / math.sqrt(2 * 3 * 2)
    assert float(conv.weight.abs().max()) <= bound and float(conv.bias.abs().max()) <= bound
    c3 = nn.Conv3d(4, 8, 3, groups=2)
    assert c3.weight.shape == (8, 2, 3, 3, 3)
    assert float(c3.bias.abs().max()) <= 1 / math.sqrt(2 * 27)
    bl = nn.Bilinear(5, 3, 2)
    assert bl.weight.shape == (2, 5, 3) and float(bl.weight.abs().max()) <= 1 / math.sqrt(5)
    assert nn.RMSNorm((2, 3)).weight.shape == (2, 3)
    inorm = nn.InstanceNorm2d(3)
    assert inorm.weight is None and inorm.running_mean is None
    bag = nn.EmbeddingBag(5, 2, padding_idx=1)
    assert bag.weight[1].abs().sum().item() == 0


def test_lazy_modules_become_their_class_with_the_same_draws():
    tg.manual_seed(3)
    lazy_fc = nn.LazyLinear(4)
    assert lazy_fc.has_uninitialized_params()
    y = lazy_fc(tg.ones(2, 6))
    assert type(lazy_fc) is nn.Linear and lazy_fc.weight.shape == (4, 6) and y.shape == (2, 4)
    tg.manual_seed(3)
    eager = nn.Linear(6, 4)
    np.testing.assert_array_equal(lazy_fc.weight.detach().numpy(), eager.weight.detach().numpy())
    conv = nn.LazyConvTranspose1d(3, 2, stride=2, bias=False)
    assert conv(tg.ones(3, 5)).shape == (3, 10)  # unbatched: in_channels from dim 0
    assert type(conv) is nn.ConvTranspose1d and conv.bias is None and conv.weight.shape == (3, 3, 2)
    bn = nn.LazyBatchNorm1d(momentum=0.5)
    bn(tg.randn(4, 3))
    assert type(bn) is nn.BatchNorm1d and bn.running_mean.shape == (3,) and bn.momentum == 0.5
    inorm = nn.LazyInstanceNorm2d(affine=True)
    inorm(tg.randn(2, 5, 3, 3))
    assert type(inorm) is nn.InstanceNorm2d and inorm.weight.shape == (5,)
    with pytest.raises(RuntimeError, match="LazyConv3d: expected a 4-D"):
        nn.LazyConv3d(2, 2)(tg.ones(1, 2, 3))


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="Conv1d: in_channels must be divisible by groups"):
        nn.Conv1d(3, 4, 2, groups=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(2, 2, 2, padding_mode="reflect")
    with pytest.raises(ValueError, match="ConvTranspose1d: requested an output size"):
        nn.ConvTranspose1d(1, 1, 3, stride=2)(tg.ones(1, 1, 4), output_size=[12])
    with pytest.raises(ValueError, match="InstanceNorm1d: expected 2D or 3D input"):
        nn.InstanceNorm1d(2)(tg.ones(2, 2, 2, 2))
    with pytest.raises(ValueError, match="BatchNorm3d: expected 5D input"):
        nn.BatchNorm3d(2)(tg.ones(2, 2, 2, 2))


# ---------------------------------------------------------------------- PyTorch
def _layers(m):
    """(label, constructor, input shapes) for the same layer in tapegrad and PyTorch (``m`` is either nn)."""
    return [
        ("Conv1d", lambda: m.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2), [(2, 4, 9)]),
        ("Conv1d same reflect", lambda: m.Conv1d(3, 2, 4, padding="same", padding_mode="reflect"), [(2, 3, 7)]),
        ("Conv3d", lambda: m.Conv3d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1), [(2, 2, 4, 5, 3)]),
        ("ConvTranspose1d", lambda: m.ConvTranspose1d(4, 2, 3, stride=2, padding=1, output_padding=1), [(2, 4, 5)]),
        ("ConvTranspose2d", lambda: m.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2, dilation=1),
         [(2, 4, 3, 3)]),
        ("ConvTranspose3d", lambda: m.ConvTranspose3d(2, 3, 2, stride=2, bias=False), [(1, 2, 2, 3, 2)]),
        ("MaxPool1d", lambda: m.MaxPool1d(3, 2, 1), [(2, 3, 8)]),
        ("MaxPool3d", lambda: m.MaxPool3d(2, ceil_mode=True), [(1, 2, 5, 4, 3)]),
        ("AvgPool1d", lambda: m.AvgPool1d(3, 2, 1, count_include_pad=False), [(2, 3, 8)]),
        ("AvgPool3d", lambda: m.AvgPool3d(2, 1), [(1, 2, 3, 4, 3)]),
        ("AdaptiveAvgPool1d", lambda: m.AdaptiveAvgPool1d(3), [(2, 3, 8)]),
        ("AdaptiveAvgPool3d", lambda: m.AdaptiveAvgPool3d((2, None, 3)), [(1, 2, 3, 4, 5)]),
        ("AdaptiveMaxPool1d", lambda: m.AdaptiveMaxPool1d(3), [(2, 3, 8)]),
        ("AdaptiveMaxPool2d", lambda: m.AdaptiveMaxPool2d((2, 3)), [(2, 3, 5, 7)]),
        ("AdaptiveMaxPool3d", lambda: m.AdaptiveMaxPool3d(2), [(1, 2, 3, 4, 5)]),
        ("LPPool1d", lambda: m.LPPool1d(2, 3, 2), [(2, 3, 8)]),
        ("LPPool2d", lambda: m.LPPool2d(1.5, 2), [(2, 3, 4, 6)]),
        ("LPPool3d", lambda: m.LPPool3d(3, 2), [(1, 2, 4, 4, 2)]),
        ("BatchNorm3d", lambda: m.BatchNorm3d(3), [(2, 3, 2, 3, 2)]),
        ("SyncBatchNorm", lambda: m.SyncBatchNorm(3), [(4, 3, 5)]),
        ("InstanceNorm1d", lambda: m.InstanceNorm1d(3, affine=True, track_running_stats=True), [(2, 3, 6)]),
        ("InstanceNorm2d unbatched", lambda: m.InstanceNorm2d(3), [(3, 4, 4)]),
        ("InstanceNorm3d", lambda: m.InstanceNorm3d(2, affine=True), [(2, 2, 3, 2, 3)]),
        ("RMSNorm", lambda: m.RMSNorm([3, 4], eps=1e-4), [(2, 3, 4)]),
        ("LocalResponseNorm", lambda: m.LocalResponseNorm(3), [(2, 5, 3, 3)]),
        ("Upsample", lambda: m.Upsample(scale_factor=2, mode="bilinear", align_corners=False), [(1, 2, 3, 4)]),
        ("UpsamplingNearest2d", lambda: m.UpsamplingNearest2d(size=(5, 7)), [(1, 2, 3, 4)]),
        ("UpsamplingBilinear2d", lambda: m.UpsamplingBilinear2d(scale_factor=3), [(1, 2, 3, 4)]),
        ("PixelShuffle", lambda: m.PixelShuffle(2), [(2, 8, 3, 3)]),
        ("PixelUnshuffle", lambda: m.PixelUnshuffle(2), [(2, 2, 4, 6)]),
        ("ChannelShuffle", lambda: m.ChannelShuffle(2), [(2, 4, 3, 3)]),
        ("Fold", lambda: m.Fold((4, 5), 2), [(2, 12, 12)]),
        ("Unfold", lambda: m.Unfold((2, 3), padding=1, stride=2), [(2, 3, 5, 5)]),
        ("Bilinear", lambda: m.Bilinear(3, 4, 5), [(6, 3), (6, 4)]),
    ]


LABELS = [label for label, _, _ in _layers(nn)]


@pytest.mark.parametrize("index", range(len(LABELS)), ids=LABELS)
def test_layers_match_pytorch_on_the_same_state_dict(index):
    torch = pytest.importorskip("torch")
    label, make, shapes = _layers(nn)[index]
    _, tmake, _ = _layers(torch.nn)[index]
    ours, theirs = make().double(), tmake().double()
    assert repr(ours) == repr(theirs)
    sd = theirs.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
    ours.load_state_dict({k: tg.tensor(v.numpy()) for k, v in sd.items()})
    rng = np.random.default_rng(index)
    xs = [rng.standard_normal(s) for s in shapes]
    if label.startswith("LPPool"):
        xs = [np.abs(x) + 0.1 for x in xs]
    ox = [tg.tensor(x, requires_grad=True) for x in xs]
    tx = [torch.tensor(x, requires_grad=True) for x in xs]
    y, ty = ours(*ox), theirs(*tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
    g = rng.standard_normal(ty.shape)
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    for a, t in zip(ox, tx):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    # and back: our state (running statistics included) loads into PyTorch's layer
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(v.numpy(), ours.state_dict()[k].numpy(), rtol=1e-12)


def test_embedding_bag_and_lazy_layers_match_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.EmbeddingBag(6, 3, mode="max", padding_idx=0), torch.nn.EmbeddingBag(6, 3, mode="max",
                                                                                            padding_idx=0)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: tg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    ids, off = [1, 0, 3, 5, 5, 2], [0, 1, 4]
    y, ty = ours(tg.tensor(ids), tg.tensor(off)), theirs(torch.tensor(ids), torch.tensor(off))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    for make in (lambda m: m.LazyLinear(3), lambda m: m.LazyConv2d(4, 3, padding=1),
                 lambda m: m.LazyConvTranspose3d(2, 2), lambda m: m.LazyBatchNorm2d(),
                 lambda m: m.LazyInstanceNorm1d(affine=True)):
        a, b = make(nn), make(torch.nn)
        shape = {"LazyLinear": (2, 5), "LazyConv2d": (2, 3, 4, 4), "LazyConvTranspose3d": (1, 2, 2, 2, 2),
                 "LazyBatchNorm2d": (4, 3, 2, 2), "LazyInstanceNorm1d": (2, 3, 4)}[type(a).__name__]
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        a(tg.tensor(x))
        b(torch.tensor(x))
        assert type(a).__name__ == type(b).__name__ and repr(a) == repr(b)
        assert [(k, tuple(v.shape)) for k, v in a.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in b.state_dict().items()]


def test_cross_map_lrn2d_values_are_pytorchs_and_its_gradient_the_true_one():
    from tapegrad.testing import assert_gradients

    x = np.random.default_rng(5).standard_normal((2, 7, 3, 2))
    assert_gradients(lambda x: nn.CrossMapLRN2d(3, 0.5, 0.6, 2.0)(x), x)
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D"):
        nn.CrossMapLRN2d(3)(tg.ones(2, 3, 4))
    torch = pytest.importorskip("torch")
    for size in (1, 2, 3, 5, 8):
        ours = nn.CrossMapLRN2d(size, 0.5, 0.6, 2.0)
        theirs = torch.nn.CrossMapLRN2d(size, 0.5, 0.6, 2.0)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12)
