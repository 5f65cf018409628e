#!/usr/bin/python3
"""ModernBERT encoder in PyTorch, written from ../shared/fixtures/ENCODERS.md, for the benchmark
peers (commands: see torch_common.py; `verify` runs fixtures/modernbert).

  modernbert_torch.py verify
  modernbert_torch.py export --model DIR --out FILE.onnx [--verify-fixtures DIR ...]
  modernbert_torch.py serve  (--model DIR | --config base) [--threads N]

The math, each point checked by the fixtures:
  * embeddings: LN(tok_embeddings[id]); pre-LN layers x += Wo attn(attn_norm(x)),
    x += mlp(mlp_norm(x)); layer 0's attn_norm is the identity (no tensor); final_norm at the end;
    LayerNorm eps = norm_eps, biases only when norm_bias / attention_bias / mlp_bias;
  * Wqkv [3C, C] rows [q; k; v], each head-major; RoPE rotate-half (x1, x2 = halves of a head:
    x * cos + cat(-x2, x1) * sin), angles float32(position) * float32 inv_freq
    (1 / theta^(2i/D) in float32), theta = global_rope_theta in layers i % global_attn_every_n_layers
    == 0, local_rope_theta elsewhere;
  * local layers: keys limited to |i - j| <= local_attention // 2 (inclusive), on top of the
    padding mask (masked keys at finfo.min, so no row is ever all -inf);
  * MLP GeGLU: Wi [2I, C] output split (input, gate) -> Wo(act(input) * gate), act = hidden_activation
    (gelu = exact erf GELU).
Tensor names are the Hub ones (ModernBertModel), with or without the `model.` task-model prefix.
"""
import math

import torch
from torch import nn

from torch_common import Arch, load_state, main

# answerdotai/ModernBERT-base's config.json (the fields the module reads).
BASE_CONFIG = {
    "architectures": ["ModernBertForMaskedLM"],
    "model_type": "modernbert",
    "hidden_size": 768,
    "num_hidden_layers": 22,
    "num_attention_heads": 12,
    "intermediate_size": 1152,
    "hidden_activation": "gelu",
    "vocab_size": 50368,
    "max_position_embeddings": 8192,
    "global_attn_every_n_layers": 3,
    "local_attention": 128,
    "global_rope_theta": 160000.0,
    "local_rope_theta": 10000.0,
    "norm_eps": 1e-5,
    "norm_bias": False,
    "attention_bias": False,
    "mlp_bias": False,
    "pad_token_id": 50283,
}


def act_fn(name):
    if name == "gelu":
        return lambda x: nn.functional.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: nn.functional.gelu(x, approximate="tanh")
    if name in ("silu", "swish"):
        return nn.functional.silu
    if name == "relu":
        return nn.functional.relu
    raise ValueError(f"hidden_activation {name!r} is not supported here")


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (torch 1.13's nn.LayerNorm always has one)."""

    def __init__(self, dim, eps, bias):
        super().__init__()
        self.eps, self.dim = eps, dim
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x):
        return nn.functional.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)


class Embeddings(nn.Module):
    def __init__(self, c, eps, norm_bias):
        super().__init__()
        self.tok_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.norm = LayerNorm(c["hidden_size"], eps, norm_bias)


class Attn(nn.Module):
    def __init__(self, c, bias):
        super().__init__()
        h = c["hidden_size"]
        self.Wqkv = nn.Linear(h, 3 * h, bias=bias)
        self.Wo = nn.Linear(h, h, bias=bias)


class Mlp(nn.Module):
    def __init__(self, c, bias):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.Wi = nn.Linear(h, 2 * i, bias=bias)
        self.Wo = nn.Linear(i, h, bias=bias)


def rope_table(max_len, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))  # float32
    angles = torch.outer(torch.arange(max_len).float(), inv_freq).float()  # (L, D/2)
    emb = torch.cat((angles, angles), dim=-1)  # (L, D)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Layer(nn.Module):
    def __init__(self, c, index, eps):
        super().__init__()
        every = c.get("global_attn_every_n_layers", 1)
        self.is_global = index % every == 0
        self.heads = c["num_attention_heads"]
        self.half_window = c.get("local_attention", 128) // 2
        norm_bias = c.get("norm_bias", False)
        self.attn_norm = LayerNorm(c["hidden_size"], eps, norm_bias) if index != 0 else None
        self.attn = Attn(c, c.get("attention_bias", False))
        self.mlp_norm = LayerNorm(c["hidden_size"], eps, norm_bias)
        self.mlp = Mlp(c, c.get("mlp_bias", False))
        self.act = act_fn(c.get("hidden_activation", "gelu"))

    def forward(self, x, rope, global_bias, local_bias):
        b, l, c = x.shape
        h = self.heads
        d = c // h
        cos, sin = rope
        cos, sin = cos[:l].view(1, 1, l, d), sin[:l].view(1, 1, l, d)
        y = self.attn_norm(x) if self.attn_norm is not None else x
        qkv = self.attn.Wqkv(y).view(b, l, 3, h, d)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # (B, H, L, D)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)) + (global_bias if self.is_global else local_bias)
        o = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, l, c)
        x = x + self.attn.Wo(o)
        u = self.mlp.Wi(self.mlp_norm(x))
        inp, gate = u.chunk(2, dim=-1)
        return x + self.mlp.Wo(self.act(inp) * gate)


class ModernBert(nn.Module):
    """ModernBertModel: forward(input_ids, attention_mask) -> last_hidden_state."""

    def __init__(self, config):
        super().__init__()
        self.config = c = config
        if c["hidden_size"] % c["num_attention_heads"]:
            raise ValueError("hidden_size is not divisible by num_attention_heads")
        eps, norm_bias = c.get("norm_eps", 1e-5), c.get("norm_bias", False)
        d = c["hidden_size"] // c["num_attention_heads"]
        self.embeddings = Embeddings(c, eps, norm_bias)
        self.layers = nn.ModuleList([Layer(c, i, eps) for i in range(c["num_hidden_layers"])])
        self.final_norm = LayerNorm(c["hidden_size"], eps, norm_bias)
        max_len = c.get("max_position_embeddings", 8192)
        gc, gs = rope_table(max_len, d, c.get("global_rope_theta", 160000.0))
        lc, ls = rope_table(max_len, d, c.get("local_rope_theta", 10000.0))
        for n, t in (("global_cos", gc), ("global_sin", gs), ("local_cos", lc), ("local_sin", ls)):
            self.register_buffer(n, t, persistent=False)
        self.half_window = c.get("local_attention", 128) // 2

    def forward(self, input_ids, attention_mask):
        x = self.embeddings.norm(self.embeddings.tok_embeddings(input_ids))
        l = input_ids.shape[1]
        minimum = torch.finfo(x.dtype).min
        keys = (attention_mask != 0)[:, None, None, :]  # (B, 1, 1, L)
        pos = torch.arange(l, device=input_ids.device)
        window = (pos[:, None] - pos[None, :]).abs() <= self.half_window  # (L, L)
        zero = torch.zeros((), dtype=x.dtype)
        global_bias = torch.where(keys, zero, torch.full((), minimum, dtype=x.dtype))
        local_bias = torch.where(keys & window[None, None], zero, torch.full((), minimum, dtype=x.dtype))
        g, lo = (self.global_cos, self.global_sin), (self.local_cos, self.local_sin)
        for layer in self.layers:
            x = layer(x, g if layer.is_global else lo, global_bias, local_bias)
        return self.final_norm(x)


class ModernBertArch(Arch):
    name = "modernbert"
    fixtures = ("modernbert",)
    configs = {"base": BASE_CONFIG}

    def config_label(self, name):
        return "ModernBERT-base config (22 x 768)"

    def from_checkpoint(self, config, tensors):
        model = ModernBert(config)
        key = next((k for k in tensors if k.endswith("embeddings.tok_embeddings.weight")), None)
        if key is None:
            raise KeyError("checkpoint has no embeddings.tok_embeddings.weight (with or without a prefix)")
        prefix = key[: -len("embeddings.tok_embeddings.weight")]
        load_state(model, tensors, lambda n: prefix + n)
        return model.eval(), {}

    def random(self, config, seed=1):
        torch.manual_seed(seed)
        model = ModernBert(config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif "embeddings" in name:
                    p.uniform_(-1, 1)
                elif p.dim() == 2:
                    p.uniform_(-1 / math.sqrt(p.shape[1]), 1 / math.sqrt(p.shape[1]))
                else:
                    p.uniform_(-0.1, 0.1)
        return model.eval()


ARCH = ModernBertArch()

if __name__ == "__main__":
    main(ARCH, __doc__)
