#!/usr/bin/python3
"""NomicBERT encoder (model_type nomic_bert) in PyTorch, written from
../shared/fixtures/nomic-bert/README.md, for the benchmark peers (commands: see torch_common.py;
`verify` runs fixtures/nomic-bert).

  nomicbert_torch.py verify
  nomicbert_torch.py export --model DIR --out FILE.onnx [--verify-fixtures DIR ...]

The math, each point checked by the fixtures:
  * embeddings: word_embeddings[id] + token_type_embeddings[type] (zeros when not given), then
    emb_ln (LayerNorm, layer_norm_epsilon); the vocabulary has vocab_size rounded up to
    pad_vocab_size_multiple rows; no position table;
  * post-LN layers: h = norm1(h + out_proj(attn(h))); h = norm2(h + fc2(fc11(h) * silu(fc12(h))));
    biases only as qkv_proj_bias / mlp_fc1_bias / mlp_fc2_bias say; fc11/fc12 have n_inner rounded
    up to a multiple of 256 rows;
  * Wqkv [3C, C] rows [q; k; v] head-major; rotate-half RoPE over the head, base rotary_emb_base,
    inv_freq = 1 / base^(arange(0, d, 2) / d) in float32, angles float32(t) * inv_freq; with
    rotary_scaling_factor f and T > max_trained_positions M: base' = base * ((f T / M) - (f - 1))
    ^ (d / (d - 2)) for the whole batch (eager only: an ONNX export bakes the plain table);
  * padded keys get finfo(float32).min.
Tensor names are the Hub ones (NomicBertModel), with or without the `bert.` task-model prefix.
"""
import math

import torch
from torch import nn

from torch_common import Arch, load_state, main

# nomic-ai/nomic-embed-text-v1.5's config.json (the fields the module reads): 12 x 768, 3072 inner.
BASE_CONFIG = {
    "architectures": ["NomicBertModel"],
    "model_type": "nomic_bert",
    "activation_function": "swiglu",
    "n_embd": 768,
    "n_head": 12,
    "n_inner": 3072,
    "n_layer": 12,
    "n_positions": 8192,
    "vocab_size": 30528,
    "pad_vocab_size_multiple": 64,
    "type_vocab_size": 2,
    "layer_norm_epsilon": 1e-12,
    "qkv_proj_bias": False,
    "mlp_fc1_bias": False,
    "mlp_fc2_bias": False,
    "prenorm": False,
    "rotary_emb_base": 1000,
    "rotary_emb_fraction": 1.0,
    "rotary_emb_interleaved": False,
    "rotary_scaling_factor": None,
    "max_trained_positions": 2048,
}


def round_up(n, m):
    return (n + m - 1) // m * m


def inv_freq(dim, base):
    return 1.0 / (float(base) ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))


def rope(length, inv):
    angles = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]  # the f32 products of torch.outer
    emb = torch.cat((angles, angles), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Group(nn.Module):
    """A named container, so parameter names are the Hub's."""


class Block(nn.Module):
    def __init__(self, c, inner):
        super().__init__()
        C, eps = c["n_embd"], c.get("layer_norm_epsilon", 1e-5)
        self.attn = Group()
        self.attn.Wqkv = nn.Linear(C, 3 * C, bias=c.get("qkv_proj_bias", True))
        self.attn.out_proj = nn.Linear(C, C, bias=c.get("qkv_proj_bias", True))
        self.mlp = Group()
        self.mlp.fc11 = nn.Linear(C, inner, bias=c.get("mlp_fc1_bias", True))
        self.mlp.fc12 = nn.Linear(C, inner, bias=c.get("mlp_fc1_bias", True))
        self.mlp.fc2 = nn.Linear(inner, C, bias=c.get("mlp_fc2_bias", True))
        self.norm1 = nn.LayerNorm(C, eps=eps)
        self.norm2 = nn.LayerNorm(C, eps=eps)
        self.heads = c["n_head"]

    def forward(self, x, cos, sin, bias):
        b, l, c = x.shape
        h = self.heads
        d = c // h
        qkv = self.attn.Wqkv(x).view(b, l, 3, h, d)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # (B, H, L, D)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + bias
        o = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, l, c)
        x = self.norm1(x + self.attn.out_proj(o))
        y = self.mlp.fc2(self.mlp.fc11(x) * nn.functional.silu(self.mlp.fc12(x)))
        return self.norm2(x + y)


class NomicBert(nn.Module):
    """NomicBertModel: forward(input_ids, attention_mask, token_type_ids) -> last_hidden_state."""

    def __init__(self, config):
        super().__init__()
        self.config = c = dict(config)
        if c.get("activation_function", "swiglu") != "swiglu" or c.get("prenorm") or c.get("rotary_emb_fraction", 1.0) != 1.0:
            raise ValueError("only swiglu, post-norm, rotary_emb_fraction 1.0 NomicBERT configs are written here")
        C, H = c["n_embd"], c["n_head"]
        self.d = C // H
        c["vocab_size"] = round_up(c["vocab_size"], c.get("pad_vocab_size_multiple", 1))
        inner = round_up(c.get("n_inner") or int(8 * C / 3), 256)
        self.embeddings = Group()
        self.embeddings.word_embeddings = nn.Embedding(c["vocab_size"], C)
        self.types = c.get("type_vocab_size", 2)
        if self.types > 0:
            self.embeddings.token_type_embeddings = nn.Embedding(self.types, C)
        self.emb_ln = nn.LayerNorm(C, eps=c.get("layer_norm_epsilon", 1e-5))
        self.encoder = Group()
        self.encoder.layers = nn.ModuleList([Block(c, inner) for _ in range(c["n_layer"])])
        self.base = float(c.get("rotary_emb_base", 10000))
        self.factor = c.get("rotary_scaling_factor") or None
        self.trained = c.get("max_trained_positions", 2048)
        cos, sin = rope(c.get("n_positions", 2048), inv_freq(self.d, self.base))
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings.word_embeddings(input_ids)
        if self.types > 0:
            x = x + self.embeddings.token_type_embeddings(token_type_ids)
        x = self.emb_ln(x)
        l = input_ids.shape[1]
        if self.factor and l > self.trained:  # dynamic NTK: a Python branch (eager), base from the padded length
            d = self.d
            base = self.base * ((self.factor * l / self.trained) - (self.factor - 1)) ** (d / (d - 2))
            cos, sin = rope(l, inv_freq(d, base))
        else:
            cos, sin = self.cos[:l], self.sin[:l]
        cos, sin = cos.view(1, 1, l, self.d), sin.view(1, 1, l, self.d)
        minimum = torch.finfo(x.dtype).min
        bias = torch.where((attention_mask != 0)[:, None, None, :], torch.zeros((), dtype=x.dtype), torch.full((), minimum, dtype=x.dtype))
        for layer in self.encoder.layers:
            x = layer(x, cos, sin, bias)
        return x


class NomicBertArch(Arch):
    name = "nomic_bert"
    fixtures = ("nomic-bert",)
    onnx_inputs = ("input_ids", "attention_mask", "token_type_ids")
    configs = {"base": BASE_CONFIG}

    def config_label(self, name):
        return "nomic-embed-text-v1.5 config (12 x 768)"

    def from_checkpoint(self, config, tensors):
        model = NomicBert(config)
        key = next((k for k in tensors if k.endswith("embeddings.word_embeddings.weight")), None)
        if key is None:
            raise KeyError("checkpoint has no embeddings.word_embeddings.weight (with or without a prefix)")
        prefix = key[: -len("embeddings.word_embeddings.weight")]
        load_state(model, tensors, lambda n: prefix + n)
        return model.eval(), {}

    def random(self, config, seed=1):
        torch.manual_seed(seed)
        model = NomicBert(config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" in name or "emb_ln" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif "embeddings" in name:
                    p.uniform_(-1, 1)
                elif p.dim() == 2:
                    p.uniform_(-1 / math.sqrt(p.shape[1]), 1 / math.sqrt(p.shape[1]))
                else:
                    p.uniform_(-0.1, 0.1)
        return model.eval()


ARCH = NomicBertArch()

if __name__ == "__main__":
    main(ARCH, __doc__)
