"""A two-layer LSTM language model over names, written as PyTorch's word_language_model example.

Data: the first names of the US census lists that ship inside the ``names`` package on PyPI (``pip install
names``, or ``tapegrad[examples]``; nothing is downloaded at run time), the same offline corpus as the character
GPT example: 5,000-odd distinct names, lower-cased, shuffled with a fixed seed, one per line, split into
consecutive train / validation / test parts (90 / 5 / 5%). Tokens are characters (26 letters and the newline
that ends a name). Model (``RNNModel``, as the PyTorch example's): embedding -> dropout -> 2-layer LSTM (dropout
between the layers) -> dropout -> linear decoder, log-softmax and NLL loss; truncated back-propagation through
35 steps with the hidden state carried (detached) from batch to batch; ``clip_grad_norm_`` (0.25), then Adam
(lr 0.005) or, with ``--optimizer sgd``, the PyTorch example's plain SGD (``p.add_(p.grad, alpha=-lr)``, lr 20,
which learns characters much more slowly); the learning rate divided by 4 whenever the validation loss stops
improving.

It prints the train and validation perplexity after every epoch with names sampled from the model, then the
test perplexity, and writes the learning curve to ``out/lstm_lm_curve.png``.

Measured (the defaults: 2 x 256 LSTM, Adam, 8 epochs, seed 0): validation perplexity 9.61 after one epoch,
7.65 after three, 6.78 at its best (epoch 7) and 6.85 after eight; test perplexity 6.72 (a character unigram
model: 16.5 on validation); 8 of the last 10 sampled names are not in the corpus (karcee, mamisha, romicita,
odwanna, ...). About 0.09 s of CPU per training step (46 steps an epoch) with one BLAS thread; on a busy machine
set ``OPENBLAS_NUM_THREADS=1`` (two spinning BLAS threads made a step take 1.5-3 s of CPU there).

    python examples/lstm_lm.py [--epochs 8] [--nhid 256] [--out out]
"""

import argparse
import math
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tapegrad as torch  # noqa: E402
import tapegrad.nn as nn  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402


# ---------------------------------------------------------------------- data (as the example's data.py)
def read_names(seed=0):
    """The census first names of the ``names`` package: distinct, lower-cased, shuffled with ``seed``."""
    try:
        import names
    except ImportError as e:
        raise ImportError("lstm_lm reads its corpus from the 'names' package: pip install names "
                          "(or pip install tapegrad[examples])") from e
    folder = os.path.dirname(os.path.abspath(names.__file__))
    found = set()
    for file in ("dist.female.first", "dist.male.first"):
        with open(os.path.join(folder, file), encoding="ascii") as f:
            found.update(line.split()[0].lower() for line in f if line.strip())
    words = sorted(w for w in found if w.isalpha())
    random.Random(seed).shuffle(words)
    return words


class Corpus:
    """The names as character ids ('\\n' ends each name), split into consecutive train / valid / test parts
    (90 / 5 / 5%)."""

    def __init__(self, words):
        text = "".join(w + "\n" for w in words)
        self.idx2word = sorted(set(text))
        self.word2idx = {w: i for i, w in enumerate(self.idx2word)}
        ids = torch.tensor([self.word2idx[c] for c in text], dtype=torch.int64)
        n = len(ids)
        self.train, self.valid, self.test = ids[:int(0.9 * n)], ids[int(0.9 * n):int(0.95 * n)], ids[int(0.95 * n):]
        self.words = set(words)

    def decode(self, ids):
        return "".join(self.idx2word[i] for i in ids)


def batchify(data, bsz):
    """(tokens,) -> (tokens // bsz, bsz): each column a consecutive stretch of the text."""
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].reshape(-1)
    return data, target


# ---------------------------------------------------------------------- model (as the example's model.py)
class RNNModel(nn.Module):
    """Encoder, recurrent module and decoder, as PyTorch's word_language_model ``RNNModel``."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ("LSTM", "GRU"):
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def repackage_hidden(h):
    """Hidden states detached from their history (truncated back-propagation through time)."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


# ---------------------------------------------------------------------- training (as the example's main.py)
def evaluate(model, data_source, bptt, eval_batch_size, criterion):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i, bptt)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train_epoch(model, train_data, bptt, batch_size, lr, clip, criterion, optimizer=None):
    model.train()
    total_loss, tokens = 0.0, 0
    hidden = model.init_hidden(batch_size)
    for i in range(0, train_data.size(0) - 1, bptt):
        data, targets = get_batch(train_data, i, bptt)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        if optimizer is not None:
            optimizer.step()
        else:
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
        total_loss += loss.item() * len(targets)
        tokens += len(targets)
    return total_loss / tokens


def generate(model, corpus, count=10, temperature=0.8, seed=0, max_length=20):
    """Names sampled from the model one character at a time (as the example's generate.py), each started by
    the newline that ends the name before it."""
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    newline = corpus.word2idx["\n"]
    hidden = model.init_hidden(1)
    input = torch.tensor([[newline]], dtype=torch.int64)
    found, current = [], []
    with torch.no_grad():
        while len(found) < count:
            output, hidden = model(input, hidden)
            word_weights = output.squeeze().div(temperature).exp()
            word_idx = int(torch.multinomial(word_weights, 1, generator=generator)[0])
            input.fill_(word_idx)
            if word_idx == newline or len(current) == max_length:
                found.append(corpus.decode(current))
                current = []
            else:
                current.append(word_idx)
    return found


def run(epochs=8, model_type="LSTM", emsize=256, nhid=256, nlayers=2, lr=None, clip=0.25, batch_size=20,
        bptt=35, dropout=0.2, tied=False, seed=0, max_tokens=None, out="out", samples=10, verbose=True,
        optimizer="adam"):
    """Train and evaluate; returns ``{"train_ppl": [...], "valid_ppl": [...], "test_ppl", "unigram_ppl",
    "samples", "novel", "curve", "seconds"}``. ``max_tokens`` trains on the first tokens of the training part
    only; ``novel`` is the fraction of the last samples that are not names of the corpus."""
    torch.manual_seed(seed)
    corpus = Corpus(read_names())
    train_ids = corpus.train if max_tokens is None else corpus.train[:max_tokens]
    eval_batch_size = 10
    train_data = batchify(train_ids, batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)
    ntokens = len(corpus.idx2word)
    model = RNNModel(model_type, ntokens, emsize, nhid, nlayers, dropout, tied)
    criterion = nn.NLLLoss()
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if lr is None:
        lr = 0.005 if optimizer == "adam" else 20.0
    opt = torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam" else None
    counts = np.bincount(train_ids.numpy(), minlength=ntokens) + 1
    probs = counts / counts.sum()
    unigram = math.exp(-np.log(probs[corpus.valid.numpy()]).mean())
    if verbose:
        print(f"{len(corpus.words):,} names: {len(corpus.train):,} training, {len(corpus.valid):,} validation, "
              f"{len(corpus.test):,} test characters; vocabulary {ntokens}; unigram validation perplexity "
              f"{unigram:.2f}")
        print(model)
    history = {"loss": [], "val_loss": [], "train_ppl": [], "valid_ppl": []}
    best_val_loss = None
    start = time.perf_counter()
    sample = []
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        train_loss = train_epoch(model, train_data, bptt, batch_size, lr, clip, criterion, opt)
        val_loss = evaluate(model, val_data, bptt, eval_batch_size, criterion)
        history["loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["train_ppl"].append(math.exp(train_loss))
        history["valid_ppl"].append(math.exp(val_loss))
        if samples:
            sample = generate(model, corpus, samples, seed=seed)
        if verbose:
            print("-" * 89)
            print(f"| end of epoch {epoch:3d} | time: {time.perf_counter() - epoch_start:5.2f}s | lr {lr:g} | "
                  f"train ppl {math.exp(train_loss):8.2f} | valid loss {val_loss:5.2f} | "
                  f"valid ppl {math.exp(val_loss):8.2f}")
            print("-" * 89)
            if sample:
                print("samples:", ", ".join(sample))
        if best_val_loss is None or val_loss < best_val_loss:
            best_val_loss = val_loss
        else:
            lr /= 4.0  # anneal the learning rate when the validation loss stops improving
            for group in opt.param_groups if opt is not None else ():
                group["lr"] = lr
    test_loss = evaluate(model, test_data, bptt, eval_batch_size, criterion)
    seconds = time.perf_counter() - start
    curve = None
    if out:
        from tapegrad.viz import plot_history

        os.makedirs(out, exist_ok=True)
        curve = plot_history({"loss": history["loss"], "val_loss": history["val_loss"],
                              "perplexity": history["train_ppl"], "val_perplexity": history["valid_ppl"]},
                             os.path.join(out, "lstm_lm_curve.png"),
                             title=f"{nlayers}-layer {model_type} character model of names")
    novel = sum(w not in corpus.words for w in sample) / len(sample) if sample else None
    if verbose:
        print("=" * 89)
        print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f} | "
              f"{seconds:.1f} s")
        print("=" * 89)
        if novel is not None:
            print(f"{novel:.0%} of the last samples are not in the corpus")
        if curve:
            print(f"learning curve written to {curve}")
    return {"train_ppl": history["train_ppl"], "valid_ppl": history["valid_ppl"], "test_ppl": math.exp(test_loss),
            "unigram_ppl": unigram, "samples": sample, "novel": novel, "curve": curve, "seconds": seconds}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--model", default="LSTM", choices=("LSTM", "GRU", "RNN_TANH", "RNN_RELU"))
    p.add_argument("--emsize", type=int, default=256)
    p.add_argument("--nhid", type=int, default=256)
    p.add_argument("--nlayers", type=int, default=2)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--lr", type=float, default=None, help="default 0.005 (adam), 20 (sgd)")
    p.add_argument("--clip", type=float, default=0.25)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--tied", action="store_true", help="tie the decoder's weight to the embedding's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=None, help="train on the first N training characters only")
    p.add_argument("--samples", type=int, default=10, help="names sampled after every epoch")
    p.add_argument("--out", default="out", help="folder for lstm_lm_curve.png (default out)")
    args = p.parse_args(argv)
    return run(args.epochs, args.model, args.emsize, args.nhid, args.nlayers, args.lr, args.clip, args.batch_size,
               args.bptt, args.dropout, args.tied, args.seed, args.max_tokens, args.out, args.samples,
               optimizer=args.optimizer)


if __name__ == "__main__":
    main()
