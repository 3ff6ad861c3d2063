"""A character-level GPT over names, written as nanoGPT's model.py and train.py.

Data: the census first names of the ``names`` package, loaded and split exactly as ``examples/lstm_lm.py`` does
(its ``read_names`` and ``Corpus`` are imported, not copied): distinct lower-cased names shuffled with a fixed seed,
one per line, 90 / 5 / 5% consecutive train / validation / test parts, 27 characters (26 letters and the newline
that ends a name). Model (nanoGPT's ``GPT``): token and position embeddings -> dropout -> pre-norm blocks
(LayerNorm, causal self-attention through ``F.scaled_dot_product_attention(is_causal=True)``, LayerNorm, MLP 4x
with GELU) -> LayerNorm -> linear head tied to the token embedding; GPT-2's initialization (normal 0.02, residual
projections 0.02 / sqrt(2 n_layer)). Training as nanoGPT's ``train.py``: random crops of ``block_size`` characters
of the training text, cross-entropy, AdamW with ``configure_optimizers``' weight-decay groups (tensors of 2 or more
dimensions decay, biases and LayerNorm weights do not), linear warmup and cosine decay of the learning rate,
gradient clipping at 1.0.

Every ``--eval-interval`` steps it prints the train and validation loss (all of the validation text, every
character predicted once) against the character unigram model's; at the end it prints names sampled with
``GPT.generate`` and writes two pictures to ``--out``: the learning curve (``char_gpt_curve.png``) and the
causal attention weights of one head on one validation sample (``char_gpt_attention.png``, softmax(q k^T / sqrt(d))
recomputed from that block's query and key projections; by default layer 2's head 3, which at the default sizes
and seed attends from every character to the newline that began its name).

Measured (the defaults: 4 layers x 4 heads x 64 dims, 202K parameters, block 32, batch 32, 800 steps, seed 0,
``OPENBLAS_NUM_THREADS=1``): validation loss 2.29 after 100 steps, 2.12 after 400 and 2.02 after 800 (perplexity
7.5), test loss 2.04 (perplexity 7.7), against the unigram model's 2.81 (perplexity 16.5); the two-layer LSTM of
``lstm_lm.py`` reaches test perplexity 6.7 in 8 epochs. All 10 samples are new names (corgara, flenie, jomice,
thodwa, clenerly, ...). 34 s in all on a quiet machine (about 0.04 s per step; 46 s of CPU on a busy one); on
a busy machine set ``OPENBLAS_NUM_THREADS=1``.

    python examples/char_gpt.py [--steps 800] [--n-layer 4] [--n-embd 64] [--seed 0] [--out out]
"""

import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from lstm_lm import Corpus, read_names  # noqa: E402  (the same corpus and split as the LSTM example)

import tapegrad as torch  # noqa: E402
import tapegrad.nn as nn  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402


# ---------------------------------------------------------------------- model (as nanoGPT's model.py)
class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout, bias):
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # query, key and value of all heads in one
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout

    def heads(self, x):
        """(B, T, C) -> query, key and value, each (B, n_head, T, C // n_head)."""
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        return tuple(t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.heads(x)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # the heads side by side again
        return self.resid_dropout(self.c_proj(y))

    def attention_weights(self, x):
        """The causal attention weights (B, n_head, T, T) that ``forward`` applies: softmax(q k^T / sqrt(d))
        with the future masked."""
        T = x.size(1)
        q, k, _ = self.heads(x)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        return F.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)


class MLP(nn.Module):
    def __init__(self, n_embd, dropout, bias):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU (the exact erf form is slower on numpy)
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout, bias):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """nanoGPT's GPT: ``transformer.wte/wpe/drop/h/ln_f`` and a ``lm_head`` (tied to ``wte`` unless
    ``tie_weights=False``)."""

    def __init__(self, vocab_size, block_size, n_layer=4, n_head=4, n_embd=64, dropout=0.0, bias=True,
                 tie_weights=True):
        super().__init__()
        self.block_size = block_size
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            wpe=nn.Embedding(block_size, n_embd),
            drop=nn.Dropout(dropout),
            h=nn.ModuleList([Block(n_embd, n_head, dropout, bias) for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(n_embd, bias=bias),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        if tie_weights:
            self.transformer.wte.weight = self.lm_head.weight  # https://paperswithcode.com/method/weight-tying
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if pn.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def get_num_params(self):
        """Parameters without the position embedding (as nanoGPT counts them)."""
        return sum(p.numel() for p in self.parameters()) - self.transformer.wpe.weight.numel()

    def embed(self, idx):
        t = idx.size(1)
        if t > self.block_size:
            raise ValueError(f"cannot forward a sequence of length {t}, the block size is only {self.block_size}")
        pos = torch.arange(0, t, dtype=torch.int64)
        return self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))

    def forward(self, idx, targets=None):
        x = self.embed(idx)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    @torch.no_grad()
    def attention(self, idx, layer):
        """The attention weights (B, n_head, T, T) of block ``layer`` on ``idx``."""
        x = self.embed(idx)
        for block in self.transformer.h[:layer]:
            x = block(x)
        block = self.transformer.h[layer]
        return block.attn.attention_weights(block.ln_1(x))

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        """AdamW over two groups: tensors of 2 or more dimensions (matrices, embeddings) decay, the rest
        (biases, LayerNorm weights) do not."""
        param_dict = {pn: p for pn, p in self.named_parameters() if p.requires_grad}
        decay_params = [p for p in param_dict.values() if p.dim() >= 2]
        nodecay_params = [p for p in param_dict.values() if p.dim() < 2]
        optim_groups = [{"params": decay_params, "weight_decay": weight_decay},
                        {"params": nodecay_params, "weight_decay": 0.0}]
        return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Continue ``idx`` (B, T) by ``max_new_tokens`` sampled characters, feeding the predictions back."""
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# ---------------------------------------------------------------------- training (as nanoGPT's train.py)
def get_batch(data, block_size, batch_size, generator):
    """``batch_size`` random crops of ``block_size`` characters and the same shifted by one."""
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i:i + block_size] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix.tolist()])
    return x, y


@torch.no_grad()
def evaluate(model, data, block_size, batch_size=64):
    """Mean cross-entropy over every character of ``data`` after the first (windows of ``block_size``)."""
    model.eval()
    starts = list(range(0, len(data) - 1, block_size))
    total, count = 0.0, 0
    for b in range(0, len(starts), batch_size):
        chunk = starts[b:b + batch_size]
        full = [s for s in chunk if s + block_size + 1 <= len(data)]
        if full:
            x = torch.stack([data[s:s + block_size] for s in full])
            y = torch.stack([data[s + 1:s + 1 + block_size] for s in full])
            _, loss = model(x, y)
            total += loss.item() * y.numel()
            count += y.numel()
        for s in chunk:  # the last, shorter window
            if s + block_size + 1 > len(data):
                x, y = data[s:len(data) - 1].unsqueeze(0), data[s + 1:].unsqueeze(0)
                _, loss = model(x, y)
                total += loss.item() * y.numel()
                count += y.numel()
    model.train()
    return total / count


def get_lr(it, learning_rate, warmup_iters, lr_decay_iters, min_lr):
    """Linear warmup, then cosine decay down to ``min_lr`` (nanoGPT's schedule)."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def sample_names(model, corpus, count=10, temperature=0.8, seed=0, max_length=20):
    """Names generated one character at a time from a newline on, each name ending at the next newline (a name
    longer than ``max_length`` is cut there)."""
    generator = torch.Generator().manual_seed(seed)
    newline = corpus.word2idx["\n"]
    model.eval()
    stream = [newline]
    pieces = []
    while len(pieces) < count + 2 and len(stream) < 4 * count * (max_length + 1):
        idx = torch.tensor([stream[-model.block_size:]], dtype=torch.int64)
        more = model.generate(idx, max_length + 1, temperature=temperature, generator=generator)
        stream += more[0, idx.size(1):].tolist()
        pieces = corpus.decode(stream).split("\n")
    model.train()
    return [name[:max_length] for name in pieces[1:-1]][:count]


def unigram_loss(train, valid, ntokens):
    """Cross-entropy (nats) of the character frequencies of ``train`` (add-one) on ``valid``'s characters."""
    counts = np.bincount(train.numpy(), minlength=ntokens) + 1
    probs = counts / counts.sum()
    return float(-np.log(probs[valid.numpy()[1:]]).mean())


def _save(fig, path):
    """Write a matplotlib figure atomically (a temporary file renamed over ``path``)."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    return path


def plot_curve(history, baseline, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["step"], history["train"], "o-", ms=3, label="train")
    ax.plot(history["step"], history["val"], "s--", ms=3, label="validation")
    ax.axhline(baseline, color="gray", ls=":", label=f"unigram model ({baseline:.2f})")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_attention(weights, chars, path, title):
    """A heatmap of one head's causal attention weights (T, T): row = query position, column = key."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["\u23ce" if c == "\n" else c for c in chars]  # the newline that ends a name drawn as a return sign
    fig, ax = plt.subplots(figsize=(6.5, 6))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("key (attended-to character)")
    ax.set_ylabel("query (predicting the next character)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def run(steps=800, n_layer=4, n_head=4, n_embd=64, block_size=32, batch_size=32, dropout=0.0,
        learning_rate=3e-3, min_lr=3e-4, warmup=50, weight_decay=0.1, grad_clip=1.0, eval_interval=100,
        tie_weights=True, seed=0, samples=10, attn_layer=None, attn_head=None, out="out", verbose=True):
    """Train and evaluate; returns ``{"steps", "train_loss", "val_loss", "unigram_loss", "test_loss", "samples",
    "novel", "curve", "attention", "seconds", "model"}`` (losses per evaluation, in nats per character)."""
    # the picture's default: layer 2, head 3 (at the default sizes and seed, the head that finds where the current
    # name began), or the last layer / head of a smaller model
    attn_layer = min(2, n_layer - 1) if attn_layer is None else attn_layer
    attn_head = min(3, n_head - 1) if attn_head is None else attn_head
    if not -n_layer <= attn_layer < n_layer or not 0 <= attn_head < n_head:
        raise ValueError(f"attention picture: layer {attn_layer} / head {attn_head} outside the model's "
                         f"{n_layer} layers x {n_head} heads")
    torch.manual_seed(seed)
    corpus = Corpus(read_names())
    ntokens = len(corpus.idx2word)
    model = GPT(ntokens, block_size, n_layer, n_head, n_embd, dropout, tie_weights=tie_weights)
    optimizer = model.configure_optimizers(weight_decay, learning_rate, (0.9, 0.99))
    baseline = unigram_loss(corpus.train, corpus.valid, ntokens)
    if verbose:
        decay, nodecay = (optimizer.param_groups[i]["params"] for i in (0, 1))
        print(f"{len(corpus.words):,} names: {len(corpus.train):,} training, {len(corpus.valid):,} validation, "
              f"{len(corpus.test):,} test characters; vocabulary {ntokens}")
        print(f"number of parameters: {model.get_num_params() / 1e3:.1f}K; decayed: {len(decay)} tensors, "
              f"{sum(p.numel() for p in decay):,} parameters; not decayed: {len(nodecay)} tensors, "
              f"{sum(p.numel() for p in nodecay):,} parameters")
        print(f"unigram baseline: validation loss {baseline:.4f}")
    generator = torch.Generator().manual_seed(seed)
    history = {"step": [], "train": [], "val": []}
    running, count = 0.0, 0
    start = time.perf_counter()
    model.train()
    for it in range(1, steps + 1):
        lr = get_lr(it - 1, learning_rate, warmup, steps, min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(corpus.train, block_size, batch_size, generator)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        running += loss.item()
        count += 1
        if it % eval_interval == 0 or it == steps:
            val = evaluate(model, corpus.valid, block_size)
            history["step"].append(it)
            history["train"].append(running / count)  # the mean training loss since the last evaluation
            history["val"].append(val)
            if verbose:
                print(f"step {it:5d}: train loss {running / count:.4f}, val loss {val:.4f} "
                      f"(unigram {baseline:.4f}), lr {lr:.2e}, {time.perf_counter() - start:.1f} s")
            running, count = 0.0, 0
    seconds = time.perf_counter() - start
    test = evaluate(model, corpus.test, block_size)
    sample = sample_names(model, corpus, samples, seed=seed) if samples else []
    novel = sum(w not in corpus.words for w in sample) / len(sample) if sample else None
    if verbose:
        print(f"test loss {test:.4f} (perplexity {math.exp(test):.2f}; unigram validation perplexity "
              f"{math.exp(baseline):.2f}); {seconds:.1f} s of training")
        if sample:
            print("samples:", ", ".join(sample))
            print(f"{novel:.0%} of the samples are not in the corpus")
    curve = attention = None
    if out:
        os.makedirs(out, exist_ok=True)
        curve = plot_curve(history, baseline, os.path.join(out, "char_gpt_curve.png"),
                           f"{n_layer}-layer GPT, characters of names")
        # one validation sample: the block that starts after the first newline of the validation text
        valid = corpus.valid.tolist()
        begin = valid.index(corpus.word2idx["\n"]) + 1
        idx = torch.tensor([valid[begin:begin + block_size]], dtype=torch.int64)
        layer = attn_layer % n_layer
        weights = model.attention(idx, layer)[0, attn_head].numpy()
        attention = plot_attention(weights, corpus.decode(idx[0].tolist()), os.path.join(out, "char_gpt_attention.png"),
                                   f"attention of layer {layer}, head {attn_head}")
        if verbose:
            print(f"pictures written to {curve} and {attention}")
    return {"steps": history["step"], "train_loss": history["train"], "val_loss": history["val"],
            "unigram_loss": baseline, "test_loss": test, "samples": sample, "novel": novel, "curve": curve,
            "attention": attention, "seconds": seconds, "model": model}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (after the warmup)")
    p.add_argument("--min-lr", type=float, default=3e-4, help="the learning rate at the end of the cosine decay")
    p.add_argument("--warmup", type=int, default=50, help="warmup steps")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0, help="0 turns clipping off")
    p.add_argument("--eval-interval", type=int, default=100)
    p.add_argument("--no-tie", action="store_true", help="a separate output matrix (not tied to the embedding)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=10, help="names sampled at the end")
    p.add_argument("--attn-layer", type=int, default=None,
                   help="the block whose attention is drawn (default 2, or the last of fewer)")
    p.add_argument("--attn-head", type=int, default=None, help="its head drawn (default 3, or the last of fewer)")
    p.add_argument("--out", default="out", help="folder for char_gpt_curve.png and char_gpt_attention.png")
    args = p.parse_args(argv)
    return run(args.steps, args.n_layer, args.n_head, args.n_embd, args.block_size, args.batch_size, args.dropout,
               args.lr, args.min_lr, args.warmup, args.weight_decay, args.grad_clip, args.eval_interval,
               not args.no_tie, args.seed, args.samples, args.attn_layer, args.attn_head, args.out)


if __name__ == "__main__":
    main()
