"""Whole PyTorch programs run unchanged on tapegrad (issue 13): the scripts in tests/programs/ are written for
PyTorch (``import torch``, ``from torch.utils.data.dataloader import DataLoader``); here every ``torch`` import
they make resolves to tapegrad, and the test checks what the program computed: the loss went down, the
checkpoint came back equal, the event file holds what was logged.

With PyTorch installed, the programs that need no extra also run under PyTorch itself, so they stay real
PyTorch programs and their deterministic results (counts, one-hot rows) agree.
"""

import contextlib
import importlib
import importlib.abc
import importlib.util
import math
import pathlib
import runpy
import sys
import warnings

import pytest

import tapegrad

PROGRAMS = pathlib.Path(__file__).parent / "programs"


class _TorchIsTapegrad(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``torch`` and ``torch.X`` to ``tapegrad`` and ``tapegrad.X`` (the same module objects)."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module("tapegrad" + spec.name[len("torch"):])
        self._specs = getattr(self, "_specs", {})
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # the import system stamped the torch-named spec on tapegrad's module: give it its own back
        for spec in self._specs.values():
            if spec is not None and spec.name == module.__name__:
                module.__spec__ = spec


@contextlib.contextmanager
def torch_is_tapegrad():
    """``import torch ...`` inside the block gives tapegrad; any real torch modules are put back after."""
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "torch" or k.startswith("torch.")}
    finder = _TorchIsTapegrad()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


@contextlib.contextmanager
def global_state_kept():
    """Programs set process-wide state (TF32 flags, the seed): put it back for the tests that run after."""
    cudnn, matmul = tapegrad.backends.cudnn, tapegrad.backends.cuda.matmul
    flags = {k: getattr(cudnn, k) for k in ("enabled", "benchmark", "deterministic", "allow_tf32")}
    reduced = {k: getattr(matmul, k) for k in ("allow_fp16_reduced_precision_reduction",
                                               "allow_bf16_reduced_precision_reduction")}
    precision, rng = tapegrad.get_float32_matmul_precision(), tapegrad.get_rng_state()
    try:
        yield
    finally:
        for k, v in flags.items():
            setattr(cudnn, k, v)
        for k, v in reduced.items():
            setattr(matmul, k, v)
        tapegrad.set_float32_matmul_precision(precision)
        tapegrad.set_rng_state(rng)


def run_program(name, monkeypatch, tmp_path, **env):
    """Run tests/programs/<name>.py as __main__ on tapegrad; its globals."""
    monkeypatch.delenv("RANK", raising=False)  # not under torchrun: the DDP branches stay off
    monkeypatch.setenv("PROGRAM_OUT_DIR", str(tmp_path / "out"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with torch_is_tapegrad(), global_state_kept(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pin_memory.*")  # PyTorch's CPU warning, as PyTorch
        return runpy.run_path(str(PROGRAMS / f"{name}.py"), run_name="__main__")


def run_on_pytorch(name, monkeypatch, tmp_path, **env):
    torch = pytest.importorskip("torch")
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("PROGRAM_OUT_DIR", str(tmp_path / "torch_out"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    precision, tf32, rng = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32, torch.get_rng_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return runpy.run_path(str(PROGRAMS / f"{name}.py"), run_name="__main__")
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.backends.cudnn.allow_tf32 = tf32
        torch.set_rng_state(rng)


def test_the_alias_gives_tapegrads_own_modules():
    with torch_is_tapegrad():
        import torch.nn.functional as F
        import torch.utils.data.sampler as sampler
        from torch.nn.modules.loss import _Loss

        assert F is tapegrad.nn.functional and sampler is tapegrad.utils.data.sampler
        assert _Loss is tapegrad.nn.loss._Loss
    assert tapegrad.nn.functional.__spec__.name == "tapegrad.nn.functional"
    assert "torch.nn.functional" not in sys.modules or sys.modules["torch.nn.functional"] is not F


def test_gpt_training_script(monkeypatch, tmp_path):
    """nanoGPT's train.py, small: configure_optimizers, AdamW(fused=False), GradScaler, nullcontext, compile,
    TF32 flags, an `if ddp:` setup with RANK unset, a checkpoint resumed with '_orig_mod.' stripped."""
    g = run_program("gpt_train", monkeypatch, tmp_path)
    assert g["ddp"] is False and g["master_process"] is True
    assert isinstance(g["model"], tapegrad._dynamo.eval_frame.OptimizedModule)
    assert tapegrad.backends.cuda.matmul.allow_tf32 is False  # the program's TF32 flags were put back
    # weight-decay groups by module type: Linear weights decay; biases, norms, embeddings (and the tied head) don't
    decay, no_decay = g["optimizer"].param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    n_layer = g["n_layer"]
    assert len(decay["params"]) == 4 * n_layer and len(no_decay["params"]) == 2 + 8 * n_layer + 2
    assert g["loss_before"] > math.log(g["vocab_size"]) - 0.2  # starts near chance
    assert g["loss_after"] < g["loss_before"] / 2, (g["loss_before"], g["loss_after"])
    # the checkpoint: keys saved from the compiled model's raw module, resumed equal
    assert g["iter_num"] == g["max_iters"] and g["best_val_loss"] == g["loss_after"]
    assert g["same_logits"] is True
    resumed, trained = g["resumed"].state_dict(), g["unoptimized_model"].state_dict()
    assert resumed.keys() == trained.keys()
    assert all(tapegrad.equal(resumed[k], trained[k]) for k in trained)
    assert g["resumed_optimizer"].state_dict()["state"].keys() == g["optimizer"].state_dict()["state"].keys()
    error = g["whole_model_error"]
    assert isinstance(error, TypeError) and "state_dict()" in str(error), error
    assert not (tmp_path / "out" / "model.pt").exists()


def test_infinite_sampler_trainer(monkeypatch, tmp_path):
    """minGPT's Trainer: RandomSampler(replacement=True, num_samples=int(1e10)) is lazy, the loop trains."""
    g = run_program("infinite_sampler", monkeypatch, tmp_path)
    assert g["num_samples"] == 10 ** 10
    losses = g["losses"]
    assert len(losses) == g["trainer"].max_iters == g["trainer"].iter_num
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    assert last < first / 10, (first, last)
    assert not g["trainer"].scaler.is_enabled()


def test_makemore_bigram(monkeypatch, tmp_path):
    """Counts by tensor indexing, sampling with a Generator, one-hot rows by x[range(n), y] = 1, and a network
    trained by hand whose loss goes below the smoothed counts' toward the counts' maximum likelihood."""
    g = run_program("makemore_bigram", monkeypatch, tmp_path)
    N, xs = g["N"], g["xs"]
    assert N.dtype == tapegrad.int32 and int(N.sum()) == g["num"] == len(xs)
    assert g["same_one_hot"] is True
    assert all(set(s) <= set(g["chars"]) for s in g["samples"])
    losses = g["net_losses"]
    assert losses[-1] < losses[10] < losses[0]
    assert g["mle_nll"] - 1e-4 < losses[-1] < g["count_nll"], (g["mle_nll"], losses[-1], g["count_nll"])


def test_mnist_example(monkeypatch, tmp_path):
    """pytorch/examples' mnist/main.py: torch.accelerator picks the CPU, Adadelta with StepLR, a state_dict saved
    and loaded back with weights_only=True."""
    g = run_program("mnist_cnn", monkeypatch, tmp_path)
    assert g["use_accel"] is False and g["device"] == tapegrad.device("cpu")
    assert g["lrs"] == pytest.approx([1.0, 0.7, 0.49])
    assert g["test_loss"] < g["test_loss_before"] / 4 and g["accuracy"] > 0.9, (g["test_loss"], g["accuracy"])
    model, reloaded = g["model"].state_dict(), g["reloaded"].state_dict()
    assert model.keys() == reloaded.keys() and all(tapegrad.equal(model[k], reloaded[k]) for k in model)


def test_tensorboard_logging(monkeypatch, tmp_path):
    pytest.importorskip("tensorboardX", reason="SummaryWriter needs tensorboardX: pip install tapegrad[tensorboard]")
    from tensorboardX.proto.event_pb2 import Event

    import tapegrad.utils.tensorboard  # noqa: F401  (imported before the alias, so tensorboardX sees no torch)

    g = run_program("tensorboard_logging", monkeypatch, tmp_path)
    assert g["accuracy"] > 0.8

    def scalars(directory):
        out = {}
        for path in sorted(pathlib.Path(directory).glob("events.out.tfevents.*")):
            data, pos = path.read_bytes(), 0
            while pos < len(data):
                length = int.from_bytes(data[pos:pos + 8], "little")
                event = Event.FromString(data[pos + 12:pos + 12 + length])
                pos += 16 + length
                for v in event.summary.value if event.HasField("summary") else ():
                    out.setdefault(v.tag, []).append((event.step, v.simple_value if v.HasField("simple_value")
                                                      else None))
        return out

    logged = scalars(tmp_path / "out")
    assert [step for step, _ in logged["Loss/train"]] == [step for step, _ in g["logged"]]
    assert [v for _, v in logged["Loss/train"]] == pytest.approx([v for _, v in g["logged"]], rel=1e-6)
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= logged.keys()  # the histograms
    runs = {p.name for p in (tmp_path / "out").iterdir() if p.is_dir()}
    assert runs == {"metrics_accuracy", "metrics_loss"}  # add_scalars: one run per tag, as PyTorch
    assert [s for s, _ in scalars(tmp_path / "out" / "metrics_accuracy")["metrics"]] == list(range(6))


# ---- the same programs under PyTorch: they are real PyTorch programs ----

def test_makemore_bigram_on_pytorch(monkeypatch, tmp_path):
    theirs = run_on_pytorch("makemore_bigram", monkeypatch, tmp_path)
    ours = run_program("makemore_bigram", monkeypatch, tmp_path)
    assert theirs["same_one_hot"] is True and ours["same_one_hot"] is True
    assert (ours["N"].numpy() == theirs["N"].numpy()).all()
    assert ours["count_nll"] == pytest.approx(theirs["count_nll"], rel=1e-6)
    assert ours["mle_nll"] == pytest.approx(theirs["mle_nll"], rel=1e-6)


def test_gpt_and_trainer_run_on_pytorch(monkeypatch, tmp_path):
    g = run_on_pytorch("gpt_train", monkeypatch, tmp_path, PROGRAM_COMPILE="0")
    assert g["loss_after"] < g["loss_before"] / 2 and g["same_logits"] is True
    assert g["whole_model_error"] is None  # PyTorch pickles the module; tapegrad refuses (README)
    g = run_on_pytorch("infinite_sampler", monkeypatch, tmp_path)
    assert g["num_samples"] == 10 ** 10 and len(g["losses"]) == 150
    assert sum(g["losses"][-20:]) < sum(g["losses"][:20]) / 10


def test_mnist_example_on_pytorch(monkeypatch, tmp_path):
    g = run_on_pytorch("mnist_cnn", monkeypatch, tmp_path)
    assert g["use_accel"] is False and g["lrs"] == pytest.approx([1.0, 0.7, 0.49])
    assert g["test_loss"] < g["test_loss_before"] / 4 and g["accuracy"] > 0.9
