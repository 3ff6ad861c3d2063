"""A nanoGPT-shaped training loop with its infrastructure guards (TF32 flags, autocast context, GradScaler,
compile, unscale_ + clipping, the `_orig_mod.` checkpoint prefix, TensorBoard logging), run unchanged with
tapegrad and, when installed, with PyTorch: the same losses, weights and scaler states."""

import importlib.util
import warnings
from contextlib import nullcontext

import numpy as np
import pytest

import tapegrad as tg


def train(torch, dtype, log_dir=None, steps=6):
    """The loop as scripts write it; ``torch`` is whichever library runs it."""
    device_type = "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    ptdtype = {"float32": torch.float32, "float16": torch.float16}[dtype]
    ctx = nullcontext() if dtype == "float32" else torch.amp.autocast(device_type=device_type, dtype=ptdtype)
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((32, 8)).astype(np.float32))
    Y = torch.tensor(rng.integers(0, 4, 32))
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.tensor(np.random.default_rng(i).standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    cuda_scaler = torch.cuda.amp.GradScaler(enabled=(dtype == "float16"))  # warns, disabled: no CUDA
    assert not cuda_scaler.is_enabled()
    cpu_scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    model = torch.compile(model)
    writer = None
    if log_dir is not None:
        from tapegrad.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir)
    losses, scales = [], []
    for it in range(steps):
        with ctx:
            logits = model(X)
            loss = torch.nn.functional.cross_entropy(logits, Y)
        cpu_scaler.scale(cuda_scaler.scale(loss)).backward()  # the disabled scaler passes the loss through
        if it == 2:
            with torch.no_grad():
                next(model.parameters()).grad[0, 0] = float("inf")
        cpu_scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        cpu_scaler.step(optimizer)  # skipped on the planted inf
        cpu_scaler.update()
        cuda_scaler.update()  # a no-op
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        scales.append(cpu_scaler.get_scale())
        if writer is not None:
            writer.add_scalar("train/loss", loss, it)
            writer.add_scalars("scaler", {"scale": cpu_scaler.get_scale()}, it)
    if writer is not None:
        writer.close()
    checkpoint = {"model": model.state_dict(), "scaler": cpu_scaler.state_dict()}
    state_dict = checkpoint["model"]
    unwanted_prefix = "_orig_mod."
    for k in list(state_dict):
        if k.startswith(unwanted_prefix):
            state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
    return losses, scales, {k: v.detach().numpy().copy() for k, v in state_dict.items()}, checkpoint["scaler"]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_loop_runs_unchanged(dtype, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log_dir = tmp_path if importlib.util.find_spec("tensorboardX") else None
        losses, scales, weights, scaler_state = train(tg, dtype, log_dir=log_dir)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert scales == [2.0**10, 2.0**10, 2.0**9, 2.0**9, 2.0**9, 2.0**10]  # halved on the inf, grown after 3
    assert sorted(weights) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert scaler_state["scale"] == 2.0**10
    fresh = tg.nn.Sequential(tg.nn.Linear(8, 16), tg.nn.GELU(), tg.nn.Linear(16, 4))
    fresh.load_state_dict({k: tg.tensor(v) for k, v in weights.items()})


def test_loop_matches_pytorch():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = train(tg, "float32")
        theirs = train(torch, "float32")
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    assert ours[1] == theirs[1] and ours[3] == theirs[3]
    for k in ours[2]:
        np.testing.assert_allclose(ours[2][k], theirs[2][k], rtol=1e-4, atol=1e-6)
