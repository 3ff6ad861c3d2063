"""W7, a GPT training step: a character-level transformer as nanoGPT writes it.

4 layers, 4 heads, 128 dims, block 64, batch 16, vocabulary 65 (nanoGPT's Shakespeare-char sizes, shrunk):
token and position embeddings, pre-norm blocks (LayerNorm, causal self-attention through
``F.scaled_dot_product_attention(is_causal=True)``, LayerNorm, MLP 4x with tanh-GELU), a final LayerNorm and a
tied output head; cross-entropy, AdamW (lr 1e-3, weight decay 0.1 on matrices only, minGPT's groups), float32.
No numpy reference (writing a transformer's backward by hand is not the point): tapegrad against PyTorch eager,
the same code on the same weights and batches; their losses must agree before anything is timed.
"""

import itertools
import math

import numpy as np
from harness import Outcome, compare_runs, interleave, ratio_target, timing_rows

NAME = "W7"
TITLE = "GPT step 4 layers x 4 heads x 128 dims, block 64, batch 16, vocab 65, AdamW"
SIZES = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65)


def model_for(n_layer, n_head, n_embd, block_size, vocab_size):
    """A builder of the GPT in PyTorch; ``torch`` is tapegrad or torch."""

    def build(torch):
        nn, F = torch.nn, torch.nn.functional

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.ln_1 = nn.LayerNorm(n_embd)
                self.c_attn = nn.Linear(n_embd, 3 * n_embd)
                self.c_proj = nn.Linear(n_embd, n_embd)
                self.ln_2 = nn.LayerNorm(n_embd)
                self.c_fc = nn.Linear(n_embd, 4 * n_embd)
                self.mlp_proj = nn.Linear(4 * n_embd, n_embd)

            def forward(self, x):
                B, T, C = x.shape
                q, k, v = self.c_attn(self.ln_1(x)).split(n_embd, dim=2)
                q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
                return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

        class GPT(nn.Module):
            def __init__(self):
                super().__init__()
                self.wte = nn.Embedding(vocab_size, n_embd)
                self.wpe = nn.Embedding(block_size, n_embd)
                self.h = nn.ModuleList([Block() for _ in range(n_layer)])
                self.ln_f = nn.LayerNorm(n_embd)
                self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
                self.wte.weight = self.lm_head.weight  # weight tying

            def forward(self, idx):
                T = idx.shape[1]
                x = self.wte(idx) + self.wpe(torch.arange(T))
                for block in self.h:
                    x = block(x)
                return self.lm_head(self.ln_f(x))

        return GPT()

    return build


def problem(n_layer, n_head, n_embd, block_size, vocab_size, batch=16, n_batches=4, seed=0):
    """GPT-2's initialization (normal 0.02, residual projections 0.02/sqrt(2 n_layer), zero biases) as arrays in
    parameters() order, and batches of (inputs, next-token targets)."""
    rng = np.random.default_rng(seed)
    shapes = [("wte", (vocab_size, n_embd)), ("wpe", (block_size, n_embd))]
    for _ in range(n_layer):
        shapes += [("ln", (n_embd,)), ("lnb", (n_embd,)), ("w", (3 * n_embd, n_embd)), ("b", (3 * n_embd,)),
                   ("proj", (n_embd, n_embd)), ("b", (n_embd,)), ("ln", (n_embd,)), ("lnb", (n_embd,)),
                   ("w", (4 * n_embd, n_embd)), ("b", (4 * n_embd,)), ("proj", (n_embd, 4 * n_embd)),
                   ("b", (n_embd,))]
    shapes += [("ln", (n_embd,)), ("lnb", (n_embd,))]
    std = {"wte": 0.02, "wpe": 0.02, "w": 0.02, "proj": 0.02 / math.sqrt(2 * n_layer)}
    params = []
    for kind, shape in shapes:
        if kind == "ln":
            params.append(np.ones(shape, np.float32))
        elif kind in ("lnb", "b"):
            params.append(np.zeros(shape, np.float32))
        else:
            params.append((rng.standard_normal(shape) * std[kind]).astype(np.float32))
    text = rng.integers(0, vocab_size, 20_000)
    batches = []
    for _ in range(n_batches):
        starts = rng.integers(0, len(text) - block_size - 1, batch)
        x = np.stack([text[s:s + block_size] for s in starts])
        y = np.stack([text[s + 1:s + block_size + 1] for s in starts])
        batches.append((x, y))
    return params, batches


def trainer(torch, sizes, params, batches, lr=1e-3, weight_decay=0.1):
    """One AdamW step per call on the GPT built in ``torch``; returns (step, parameter copies)."""
    model = model_for(**sizes)(torch)
    mine = list(model.parameters())
    if [tuple(p.shape) for p in mine] != [a.shape for a in params]:
        raise ValueError(f"parameter shapes {[tuple(p.shape) for p in mine]} do not match "
                         f"{[a.shape for a in params]}")
    with torch.no_grad():
        for p, a in zip(mine, params):
            p.copy_(torch.from_numpy(a.copy()))
    decay = [p for p in mine if p.dim() >= 2]
    no_decay = [p for p in mine if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
    data = itertools.cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches])
    vocab = sizes["vocab_size"]

    def step():
        x, y = next(data)
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, vocab), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step, lambda: [p.detach().numpy().copy() for p in mine]


def check(libs, sizes=SIZES, batch=16, steps=3, rtol=2e-4, param_rtol=2e-2):
    """The same steps in tapegrad and PyTorch from the same weights: losses and parameters must agree."""
    params, batches = problem(**sizes, batch=batch)
    runs = {}
    for name in ("pytorch", "tapegrad"):
        step, current = trainer(libs[name], sizes, params, batches)
        p0 = current()
        losses = [step().item() for _ in range(steps)]
        runs[name] = (losses, p0, current())
    return compare_runs(NAME, runs, "pytorch", rtol, param_rtol)


def run(libs, settings):
    out = Outcome()
    if libs.get("pytorch") is None:
        params, batches = problem(**SIZES)
        step, _ = trainer(libs["tapegrad"], SIZES, params, batches)
        samples = interleave({"tapegrad": step}, settings)
        out.rows = timing_rows(NAME, samples)
        out.targets.append(ratio_target(NAME, samples, "tapegrad", "pytorch", 1.0, "PyTorch"))
        return out
    out.failures = check(libs)
    if out.failures:
        from training import failed_target

        out.targets.append(failed_target(NAME, "<= 1x PyTorch"))
        return out
    params, batches = problem(**SIZES)
    steps = {name: trainer(libs[name], SIZES, params, batches)[0] for name in ("tapegrad", "pytorch")}
    samples = interleave(steps, settings)
    out.rows = timing_rows(NAME, samples)
    out.targets.append(ratio_target(NAME, samples, "tapegrad", "pytorch", 1.0, "PyTorch"))
    return out
