#!/usr/bin/python3
"""GTE v1.5 / multilingual encoder (model_type new, Alibaba-NLP/new-impl) in PyTorch, written from
../shared/fixtures/gte/README.md, for the benchmark peers (commands: see torch_common.py; `verify`
runs fixtures/gte).

  gte_torch.py verify
  gte_torch.py export --model DIR --out FILE.onnx [--verify-fixtures DIR ...]

The math, each point checked by the fixtures:
  * embeddings: word_embeddings[id] (+ token_type_embeddings[type] when type_vocab_size > 0; with
    one row every id reads row 0, as the reference zeroes them), then embeddings.LayerNorm (always
    a LayerNorm with bias);
  * post-norm layers: h = attn_ln(h + o_proj(attn(h))); h = mlp_ln(h + down_proj(act(gate) * up))
    with [up | gate] = up_gate_proj(h) (no bias); the norms are LayerNorm, or RMSNorm
    (x * rsqrt(mean(x^2) + eps) * w) for layer_norm_type rms_norm;
  * qkv_proj [3C, C] (or q/k/v_proj, pack_qkv false) rows [q | k | v] head-major, with biases;
    rotate-half RoPE, inv_freq = 1 / theta^(arange(0, d, 2) / d) in float32, or with rope_scaling
    {"type": "ntk", "factor": f}: 1 / (theta f)^(2j/d) / f^(2/d) at every length (fixed NTK);
  * padded keys get finfo(float32).min.
Tensor names are the Hub ones (NewModel), with or without the `new.` task-model prefix.
"""
import math

import torch
from torch import nn

from torch_common import Arch, load_state, main

# Alibaba-NLP/gte-base-en-v1.5's config.json (the fields the module reads): 12 x 768, 3072 inner.
BASE_CONFIG = {
    "architectures": ["NewModel"],
    "model_type": "new",
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "vocab_size": 30528,
    "max_position_embeddings": 8192,
    "type_vocab_size": 0,
    "layer_norm_eps": 1e-12,
    "layer_norm_type": "layer_norm",
    "pack_qkv": True,
    "pad_token_id": 0,
    "position_embedding_type": "rope",
    "rope_scaling": {"factor": 2.0, "type": "ntk"},
    "rope_theta": 500000,
}


def inv_freq(config, d):
    theta = config.get("rope_theta", 10000.0)
    scaling = config.get("rope_scaling") or {}
    f = scaling.get("factor")
    if f is not None and f > 1:
        inv = 1.0 / ((theta * f) ** (torch.arange(0, d, 2).float() / d))
        return inv / f ** (2 / d)
    return 1.0 / (theta ** (torch.arange(0, d, 2).float() / d))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class Group(nn.Module):
    """A named container, so parameter names are the Hub's."""


def act_fn(name):
    if name == "gelu":
        return lambda x: nn.functional.gelu(x)
    if name in ("silu", "swish"):
        return nn.functional.silu
    raise ValueError(f"hidden_act {name!r} is not supported here")


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, I, eps = c["hidden_size"], c["intermediate_size"], c.get("layer_norm_eps", 1e-12)
        norm = (lambda: RMSNorm(C, eps)) if c.get("layer_norm_type", "layer_norm") == "rms_norm" else (lambda: nn.LayerNorm(C, eps=eps))
        self.packed = c.get("pack_qkv", True)
        self.attention = Group()
        if self.packed:
            self.attention.qkv_proj = nn.Linear(C, 3 * C)
        else:
            self.attention.q_proj, self.attention.k_proj, self.attention.v_proj = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        self.attention.o_proj = nn.Linear(C, C)
        self.mlp = Group()
        self.mlp.up_gate_proj = nn.Linear(C, 2 * I, bias=False)
        self.mlp.down_proj = nn.Linear(I, C)
        self.attn_ln, self.mlp_ln = norm(), norm()
        self.heads, self.I = c["num_attention_heads"], I
        self.act = act_fn(c.get("hidden_act", "gelu"))

    def forward(self, x, cos, sin, bias):
        b, l, c = x.shape
        h = self.heads
        d = c // h
        a = self.attention
        q, k, v = a.qkv_proj(x).split(c, dim=-1) if self.packed else (a.q_proj(x), a.k_proj(x), a.v_proj(x))
        q, k, v = (t.view(b, l, h, d).transpose(1, 2) for t in (q, k, v))  # (B, H, L, D)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + bias
        o = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, l, c)
        x = self.attn_ln(x + a.o_proj(o))
        up, gate = self.mlp.up_gate_proj(x).split(self.I, dim=-1)
        return self.mlp_ln(x + self.mlp.down_proj(self.act(gate) * up))


class Gte(nn.Module):
    """NewModel: forward(input_ids, attention_mask, token_type_ids) -> last_hidden_state."""

    def __init__(self, config):
        super().__init__()
        self.config = c = dict(config)
        C = c["hidden_size"]
        self.d = C // c["num_attention_heads"]
        self.embeddings = Group()
        self.embeddings.word_embeddings = nn.Embedding(c["vocab_size"], C)
        self.types = c.get("type_vocab_size", 1)
        if self.types > 0:
            self.embeddings.token_type_embeddings = nn.Embedding(self.types, C)
        self.embeddings.LayerNorm = nn.LayerNorm(C, eps=c.get("layer_norm_eps", 1e-12))
        self.encoder = Group()
        self.encoder.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.register_buffer("inv_freq", inv_freq(c, self.d), persistent=False)
        f = (c.get("rope_scaling") or {}).get("factor") or 1
        self.register_buffer("cos", torch.empty(0), persistent=False)
        self.cache(int(c.get("max_position_embeddings", 2048) * f))

    def cache(self, length):
        angles = torch.arange(length, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        emb = torch.cat((angles, angles), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings.word_embeddings(input_ids)
        if self.types > 0:
            types = token_type_ids if self.types > 1 else torch.zeros_like(token_type_ids)
            x = x + self.embeddings.token_type_embeddings(types)
        x = self.embeddings.LayerNorm(x)
        l = input_ids.shape[1]
        if l > self.cos.shape[0]:  # the reference rebuilds its cache with the same frequencies
            self.cache(l)
        cos, sin = self.cos[:l].view(1, 1, l, self.d), self.sin[:l].view(1, 1, l, self.d)
        minimum = torch.finfo(x.dtype).min
        bias = torch.where((attention_mask != 0)[:, None, None, :], torch.zeros((), dtype=x.dtype), torch.full((), minimum, dtype=x.dtype))
        for layer in self.encoder.layer:
            x = layer(x, cos, sin, bias)
        return x


class GteArch(Arch):
    name = "new"
    fixtures = ("gte",)
    onnx_inputs = ("input_ids", "attention_mask", "token_type_ids")
    configs = {"base": BASE_CONFIG}

    def config_label(self, name):
        return "gte-base-en-v1.5 config (12 x 768)"

    def from_checkpoint(self, config, tensors):
        model = Gte(config)
        key = next((k for k in tensors if k.endswith("embeddings.word_embeddings.weight")), None)
        if key is None:
            raise KeyError("checkpoint has no embeddings.word_embeddings.weight (with or without a prefix)")
        prefix = key[: -len("embeddings.word_embeddings.weight")]
        load_state(model, tensors, lambda n: prefix + n)
        return model.eval(), {}

    def random(self, config, seed=1):
        torch.manual_seed(seed)
        model = Gte(config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "LayerNorm" in name or "_ln" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif "embeddings" in name:
                    p.uniform_(-1, 1)
                elif p.dim() == 2:
                    p.uniform_(-1 / math.sqrt(p.shape[1]), 1 / math.sqrt(p.shape[1]))
                else:
                    p.uniform_(-0.1, 0.1)
        return model.eval()


ARCH = GteArch()

if __name__ == "__main__":
    main(ARCH, __doc__)
