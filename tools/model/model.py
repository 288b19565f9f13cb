"""A llama-architecture decoder as llama.cpp runs it: RMSNorm, rotary embeddings on adjacent pairs
(llama.cpp's "normal" RoPE, so no weight permutation at export), SwiGLU, tied embeddings."""
import math

import torch
from torch import nn
from torch.nn import functional as F


class Config:
    def __init__(self, vocab_size=4096, dim=128, layers=6, heads=4, hidden=384, context=128,
                 norm_eps=1e-5, rope_base=10000.0):
        self.vocab_size, self.dim, self.layers, self.heads = vocab_size, dim, layers, heads
        self.hidden, self.context, self.norm_eps, self.rope_base = hidden, context, norm_eps, rope_base

    def as_dict(self):
        return dict(self.__dict__)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(config: Config):
    head_dim = config.dim // config.heads
    inv = config.rope_base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(config.context, dtype=torch.float32), inv)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x, cos, sin):
    # x: (batch, heads, time, head_dim); pairs are (x[2i], x[2i+1]).
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return rotated.flatten(-2)


class Block(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        dim, hidden = config.dim, config.hidden
        self.heads = config.heads
        self.attn_norm = RMSNorm(dim, config.norm_eps)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.ffn_norm = RMSNorm(dim, config.norm_eps)
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x, cos, sin, mask):
        batch, time, dim = x.shape
        h = self.attn_norm(x)
        split = lambda t: t.view(batch, time, self.heads, dim // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        # Scaling q rather than the scores: the same product, on a tensor `time` times smaller.
        q = apply_rope(q, cos, sin) * (1.0 / math.sqrt(dim // self.heads))
        k = apply_rope(k, cos, sin)
        attn = F.softmax(torch.baddbmm(mask, q.flatten(0, 1), k.flatten(0, 1).transpose(-2, -1)), dim=-1)
        attn = (attn @ v.flatten(0, 1)).view(batch, self.heads, time, dim // self.heads)
        x = x + self.o(attn.transpose(1, 2).reshape(batch, time, dim))
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.dim)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        cos, sin = rope_tables(config)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((config.context, config.context), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        for name, param in self.named_parameters():
            if param.dim() == 2:
                # Residual projections scaled down with depth, as in GPT-2.
                std = 0.02 / math.sqrt(2 * config.layers) if name.endswith(("o.weight", "down.weight")) else 0.02
                nn.init.normal_(param, std=std)

    def forward(self, tokens):
        time = tokens.shape[1]
        mask = self.mask[:time, :time]
        x = self.embed(tokens)
        cos, sin = self.cos[:time], self.sin[:time]
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        return self.norm(x) @ self.embed.weight.T
