"""makemore's bigram model, written for PyTorch: counts indexed with tensors, sampling with a Generator, then
the same model as a one-layer network trained by hand (W.data += -lr * W.grad), whose loss approaches the
counting model's. One-hot rows are built by assignment with a Python range and a tensor (x[range(n), y] = v).
"""
import torch
import torch.nn.functional as F

words = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn", "abigail", "emily",
         "ella", "liam", "noah", "oliver", "elijah", "james", "william", "lucas", "henry", "theodore", "jack"] * 3
chars = sorted(set("".join(words)))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi["."] = 0
itos = {i: s for s, i in stoi.items()}
V = len(stoi)

N = torch.zeros((V, V), dtype=torch.int32)
xs, ys = [], []
for w in words:
    chs = ["."] + list(w) + ["."]
    for ch1, ch2 in zip(chs, chs[1:]):
        ix1, ix2 = stoi[ch1], stoi[ch2]
        N[ix1, ix2] += 1
        xs.append(ix1)
        ys.append(ix2)
xs, ys = torch.tensor(xs), torch.tensor(ys)
num = xs.nelement()

P_mle = N.float() / N.sum(1, keepdims=True)
mle_nll = -P_mle[xs, ys].log().mean().item()  # the best any bigram model can do on these words
P = (N + 1).float()
P /= P.sum(1, keepdims=True)
count_nll = -P[xs, ys].log().mean().item()

g = torch.Generator().manual_seed(2147483647)
samples = []
for _ in range(5):
    out, ix = [], 0
    while True:
        ix = torch.multinomial(P[ix], num_samples=1, replacement=True, generator=g).item()
        if ix == 0:
            break
        out.append(itos[ix])
    samples.append("".join(out))

xenc = torch.zeros(num, V)
xenc[range(num), xs] = 1.0
same_one_hot = torch.equal(xenc, F.one_hot(xs, num_classes=V).float())

g = torch.Generator().manual_seed(2147483647)
W = torch.randn((V, V), generator=g, requires_grad=True)
net_losses = []
for _ in range(60):
    logits = xenc @ W
    counts = logits.exp()
    probs = counts / counts.sum(1, keepdims=True)
    loss = -probs[torch.arange(num), ys].log().mean() + 0.001 * (W ** 2).mean()
    net_losses.append(loss.item())
    W.grad = None
    loss.backward()
    W.data += -50 * W.grad
