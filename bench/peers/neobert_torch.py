#!/usr/bin/python3
"""NeoBERT in PyTorch, written from ../shared/docs/neobert-spec.md, for the benchmark peers.

Needs only torch and numpy (Debian: python3-torch, python3-numpy; onnx export also uses
python3-onnx through torch). Works with torch 1.13 (no scaled_dot_product_attention, no
nn.RMSNorm: both written out here).

  neobert_torch.py verify [--fixtures DIR]          every fixture, rel L2 < 1e-4 or exit 1
  neobert_torch.py export (--model DIR | --config base) --out FILE.onnx [--verify-fixtures DIR]
  neobert_torch.py bench  (--model DIR | --config base) --grid 128x8,512x8 [...]
  neobert_torch.py serve  (--model DIR | --config base) [--threads N]
The commands, the serve protocol and the checkpoint reader are shared with the other
architectures' peers: see torch_common.py.

Spec points this module follows (each checked by the fixtures):
  * qkv rows are per-head interleaved: y.view(B, L, H, 3D) then chunk(3) gives q, k, v per head;
  * RoPE rotates adjacent pairs (2j, 2j+1), angle p * theta^(-2j/D) computed in f32 like
    torch.outer(arange, inv_freq); theta = 10000;
  * FFN width = 8 * ceil(int(2 * intermediate_size / 3) / 8); w12 rows [0, F) gate, [F, 2F) up;
  * RMSNorm v / sqrt(mean(v^2) + eps) * w with eps = config norm_eps;
  * attention: softmax(q k^T / sqrt(D)), keys with attention_mask == 0 at -inf, no causal mask.
"""
import math

import torch
from torch import nn

from torch_common import Arch, as_torch, main

ROPE_THETA = 10000.0

# The released NeoBERT config (chandar-lab/NeoBERT), for random-weight runs.
BASE_CONFIG = {
    "hidden_size": 768,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "dim_head": 64,
    "intermediate_size": 3072,
    "vocab_size": 30522,
    "max_length": 4096,
    "norm_eps": 1e-5,
    "pad_token_id": 0,
}


# ---------------------------------------------------------------------------------- model
def ffn_width(intermediate_size):
    return 8 * math.ceil(int(2 * intermediate_size / 3) / 8)


def rope_tables(max_length, head_dim):
    # f32 throughout, like the reference: inv_freq = 1 / theta^(arange(0, D, 2)/D), outer in f32.
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    angles = torch.outer(torch.arange(max_length).float(), inv_freq).float()  # (maxLen, D/2)
    return torch.cos(angles), torch.sin(angles)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class EncoderBlock(nn.Module):
    def __init__(self, c, h, d, f, eps):
        super().__init__()
        self.h, self.d, self.f = h, d, f
        self.attention_norm = RMSNorm(c, eps)
        self.qkv = nn.Linear(c, 3 * h * d, bias=False)
        self.wo = nn.Linear(h * d, c, bias=False)
        self.ffn_norm = RMSNorm(c, eps)
        self.w12 = nn.Linear(c, 2 * f, bias=False)
        self.w3 = nn.Linear(f, c, bias=False)

    def forward(self, x, cos, sin, key_bias):
        b, l, _ = x.shape
        h, d = self.h, self.d
        y = self.qkv(self.attention_norm(x)).view(b, l, h, 3 * d)
        q, k, v = y.chunk(3, dim=-1)  # per head: [q | k | v], each (B, L, H, D)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, L, D)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)) + key_bias
        o = torch.matmul(torch.softmax(scores, dim=-1), v)  # (B, H, L, D)
        x = x + self.wo(o.transpose(1, 2).reshape(b, l, h * d))
        u = self.w12(self.ffn_norm(x))
        gate, up = u[..., : self.f], u[..., self.f :]
        return x + self.w3(nn.functional.silu(gate) * up)


def rope(x, cos, sin):
    """Adjacent pairs (2j, 2j+1) of the last dim: a' = a cos - b sin, b' = a sin + b cos."""
    b, l, h, d = x.shape
    pairs = x.reshape(b, l, h, d // 2, 2)
    a, c = pairs[..., 0], pairs[..., 1]
    cs, sn = cos[:l].view(1, l, 1, d // 2), sin[:l].view(1, l, 1, d // 2)
    return torch.stack((a * cs - c * sn, a * sn + c * cs), dim=-1).reshape(b, l, h, d)


class NeoBERT(nn.Module):
    """Encoder; forward returns last_hidden_state (B, L, C). Heads are separate (see heads())."""

    def __init__(self, config):
        super().__init__()
        c = config["hidden_size"]
        h = config["num_attention_heads"]
        d = config.get("dim_head") or c // h
        if d * h != c:
            raise ValueError(f"dim_head {d} x heads {h} != hidden_size {c}")
        f = ffn_width(config["intermediate_size"])
        eps = config.get("norm_eps", 1e-6)
        self.config = config
        self.encoder = nn.Embedding(config["vocab_size"], c)
        self.transformer_encoder = nn.ModuleList(
            [EncoderBlock(c, h, d, f, eps) for _ in range(config["num_hidden_layers"])]
        )
        self.layer_norm = RMSNorm(c, eps)
        cos, sin = rope_tables(config.get("max_length", 4096), d)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, input_ids, attention_mask):
        x = self.encoder(input_ids)
        # (B, 1, 1, L): 0 for tokens, -inf for padded keys.
        key_bias = torch.zeros_like(attention_mask, dtype=x.dtype).masked_fill(attention_mask == 0, float("-inf"))
        key_bias = key_bias[:, None, None, :]
        for block in self.transformer_encoder:
            x = block(x, self.rope_cos, self.rope_sin, key_bias)
        return self.layer_norm(x)


class NeoBERTArch(Arch):
    name = "neobert"
    fixtures = ("neobert",)
    compare_padded_rows = True  # padded rows are computed alike (full attention, -inf keys)
    configs = {"base": BASE_CONFIG}

    def config_label(self, name):
        return "NeoBERT base config (28 x 768)"

    def from_checkpoint(self, config, tensors):
        """Loads checkpoint tensors (with or without the `model.` prefix); returns the head tensors too."""
        model = NeoBERT(config)
        prefix = "model." if any(k.startswith("model.") for k in tensors) else ""
        state = {}
        for name in model.state_dict():
            key = prefix + name.replace(".w12.", ".ffn.w12.").replace(".w3.", ".ffn.w3.")
            if key not in tensors:
                raise KeyError(f"checkpoint has no tensor {key}")
            state[name] = as_torch(tensors[key])
        model.load_state_dict(state)
        heads = ("decoder.weight", "decoder.bias", "dense.weight", "dense.bias", "classifier.weight", "classifier.bias")
        return model.eval(), {k: as_torch(tensors[k]) for k in heads if k in tensors}

    def random(self, config, seed=1):
        torch.manual_seed(seed)
        model = NeoBERT(config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("norm.weight"):
                    p.fill_(1.0)
                elif name == "encoder.weight":
                    p.uniform_(-1, 1)
                else:
                    p.uniform_(-1 / math.sqrt(p.shape[1]), 1 / math.sqrt(p.shape[1]))
        return model.eval()

    def expected_outputs(self, model, heads, last, ids, mask, types):
        if "decoder.weight" in heads:
            return {"logits": last @ heads["decoder.weight"].T + heads["decoder.bias"]}
        if "classifier.weight" in heads:
            dense = torch.tanh(last[:, 0] @ heads["dense.weight"].T + heads["dense.bias"])
            return {"logits": dense @ heads["classifier.weight"].T + heads["classifier.bias"]}
        return {}


ARCH = NeoBERTArch()

if __name__ == "__main__":
    main(ARCH, __doc__)
