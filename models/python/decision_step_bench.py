#!/usr/bin/env python3
"""PyTorch reference timing of Counterpart's streaming decision step.

Same architecture, sizes and incremental generation as the Rust bench
`inference-core/benches/decision_step.rs`: a pre-LN encoder-decoder Transformer over token ids
(learned embeddings shared by A and B, rotary positions, GELU-tanh feed-forward), with ring-buffer
KV caches over a sliding context of N segments. One step = encode A's newest token (and append
the cross-attention keys/values of every decoder layer), run the decoder for B's next position,
sample from softmax with top-p, commit the label.

Weights are random: latency does not depend on their values.

Usage (one core, one thread, as the Rust figure):
    taskset -c 0 python3 models/python/decision_step_bench.py --lookahead 0
Needs: torch (CPU is enough).
"""

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):  # (1, 1, d) -> (1, h, 1, dh)
        return x.view(1, 1, self.h, self.dh).transpose(1, 2)

    def attend(self, q, keys, values):
        probs = torch.softmax(q @ keys.transpose(-1, -2), dim=-1)
        out = (probs @ values).transpose(1, 2).reshape(1, 1, self.h * self.dh)
        return self.o(out)


class Ring:
    """Last `n` keys/values of one attention; order-free since RoPE is relative."""

    def __init__(self, heads, n, dh):
        self.k = torch.zeros(1, heads, n, dh)
        self.v = torch.zeros(1, heads, n, dh)
        self.n, self.written = n, 0

    def push(self, k, v):
        slot = self.written % self.n
        self.k[:, :, slot] = k[:, :, 0]
        self.v[:, :, slot] = v[:, :, 0]
        self.written += 1

    def view(self):
        m = min(self.written, self.n)
        return self.k[:, :, :m], self.v[:, :, :m]


def rope(x, pos, inv_freq):
    ang = pos * inv_freq  # (dh/2,)
    cos, sin = torch.cos(ang), torch.sin(ang)
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class FFN(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.up, self.down = nn.Linear(d, f), nn.Linear(f, d)

    def forward(self, x):
        return self.down(F.gelu(self.up(x), approximate="tanh"))


class EncLayer(nn.Module):
    def __init__(self, d, h, f):
        super().__init__()
        self.n1, self.att, self.n2, self.ffn = nn.LayerNorm(d), Attention(d, h), nn.LayerNorm(d), FFN(d, f)


class DecLayer(nn.Module):
    def __init__(self, d, h, f):
        super().__init__()
        self.n1, self.att = nn.LayerNorm(d), Attention(d, h)
        self.n2, self.cross = nn.LayerNorm(d), Attention(d, h)
        self.n3, self.ffn = nn.LayerNorm(d), FFN(d, f)


class Decision(nn.Module):
    def __init__(self, k, d=256, h=4, enc=3, dec=3, f=1024, context=64, theta=10000.0):
        super().__init__()
        self.k, self.h, self.dh, self.n = k, h, d // h, context
        self.embed = nn.Embedding(k + 2, d)
        self.enc = nn.ModuleList(EncLayer(d, h, f) for _ in range(enc))
        self.enc_norm = nn.LayerNorm(d)
        self.dec = nn.ModuleList(DecLayer(d, h, f) for _ in range(dec))
        self.dec_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, k)
        self.inv_freq = theta ** (-torch.arange(0, self.dh, 2, dtype=torch.float64) / self.dh)

    def new_state(self):
        ring = lambda: Ring(self.h, self.n, self.dh)  # noqa: E731
        return {
            "enc": [ring() for _ in self.enc],
            "self": [ring() for _ in self.dec],
            "cross": [ring() for _ in self.dec],
        }

    def freqs(self, pos):
        return (pos * self.inv_freq).float()

    def encode(self, state, token, pos):
        inv = self.freqs(pos)
        x = self.embed(torch.tensor([[token]]))
        scale = 1.0 / math.sqrt(self.dh)
        for layer, ring in zip(self.enc, state["enc"]):
            y = layer.n1(x)
            a = layer.att
            q = rope(a.split(a.q(y)), 1.0, inv) * scale
            ring.push(rope(a.split(a.k(y)), 1.0, inv), a.split(a.v(y)))
            x = x + a.attend(q, *ring.view())
            x = x + layer.ffn(layer.n2(x))
        mem = self.enc_norm(x)
        for layer, ring in zip(self.dec, state["cross"]):
            c = layer.cross
            ring.push(rope(c.split(c.k(mem)), 1.0, inv), c.split(c.v(mem)))

    def decode(self, state, token, pos):
        inv = self.freqs(pos)
        x = self.embed(torch.tensor([[token]]))
        scale = 1.0 / math.sqrt(self.dh)
        for layer, sring, cring in zip(self.dec, state["self"], state["cross"]):
            y = layer.n1(x)
            a = layer.att
            q = rope(a.split(a.q(y)), 1.0, inv) * scale
            sring.push(rope(a.split(a.k(y)), 1.0, inv), a.split(a.v(y)))
            x = x + a.attend(q, *sring.view())
            y = layer.n2(x)
            c = layer.cross
            q = rope(c.split(c.q(y)), 1.0, inv) * scale
            x = x + c.attend(q, *cring.view())
            x = x + layer.ffn(layer.n3(x))
        return self.head(self.dec_norm(x)).view(-1)


def top_p_sample(logits, p, gen):
    probs = torch.softmax(logits, dim=-1)
    sorted_p, idx = torch.sort(probs, descending=True)
    cum = torch.cumsum(sorted_p, 0)
    keep = int(torch.searchsorted(cum, torch.tensor(p)).item()) + 1
    kept = sorted_p[:keep] / sorted_p[:keep].sum()
    return int(idx[torch.multinomial(kept, 1, generator=gen)].item())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--lookahead", type=int, default=0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(7)
    model = Decision(args.vocab).eval()
    state = model.new_state()
    guide_len, t, last, a = 0, 0, args.vocab, 0
    bos = args.vocab

    def step():
        nonlocal guide_len, t, last, a
        while guide_len < t + args.lookahead:
            a = (a * 31 + 17) % args.vocab
            model.encode(state, a, guide_len + 1)
            guide_len += 1
        b = top_p_sample(model.decode(state, last, t), 0.9, gen)
        last, t = b, t + 1

    with torch.inference_mode():
        model.encode(state, bos, 0)
        for _ in range(model.n + 8):
            step()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    times.sort()
    print(
        f"torch {torch.__version__} threads={args.threads} K={args.vocab} L={args.lookahead}: "
        f"step mean {1e3 * statistics.mean(times):.3f} ms, median {1e3 * times[len(times) // 2]:.3f} ms, "
        f"p95 {1e3 * times[int(0.95 * len(times))]:.3f} ms over {args.steps} steps"
    )


if __name__ == "__main__":
    main()
