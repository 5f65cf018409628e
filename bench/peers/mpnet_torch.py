#!/usr/bin/python3
"""MPNet encoder (model_type mpnet) in PyTorch, written from ../shared/fixtures/mpnet/README.md, for
the benchmark peers (commands: see torch_common.py; `verify` runs fixtures/mpnet).

  mpnet_torch.py verify
  mpnet_torch.py export --model DIR --out FILE.onnx [--verify-fixtures DIR ...]

The math, each point checked by the fixtures:
  * positions fairseq style with the padding index 1 hard-coded: pos = 1 + running count of ids != 1
    for real tokens, 1 for pads; x = LayerNorm(word[id] + position[pos]) (eps = layer_norm_eps);
    no token types;
  * one relative position bias table encoder.relative_attention_bias [32, H], added (unscaled) to
    every layer's logits: B[h, i, j] = table[bucket(j - i), h], T5's bidirectional bucket with 32
    buckets and max_distance 128 (the log in float32, as the reference), on the plain indices 0..T-1;
  * post-LN layers: h = attention.LayerNorm(o(attn(x)) + x); x = output.LayerNorm(W2 gelu(W1 h) + h),
    q, k, v, o Linears with biases, scores = q k^T / sqrt(d) + B + (1 - m) finfo.min;
  * heads for the fixtures' extra outputs: pooler tanh(dense(x[:, 0])); MLM
    decoder(layer_norm(gelu(dense(h)))) + lm_head.bias with the decoder tied to the word embeddings;
    classification out_proj(tanh(dense(h[:, 0]))); sentence_embedding = normalize(masked mean).
Tensor names are the Hub ones (MPNetModel), with or without the `mpnet.` task-model prefix.
"""
import math

import torch
from torch import nn

from torch_common import Arch, as_torch, load_state, main

# sentence-transformers/all-mpnet-base-v2's config.json (the fields the module reads).
BASE_CONFIG = {
    "architectures": ["MPNetForMaskedLM"],
    "model_type": "mpnet",
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "vocab_size": 30527,
    "max_position_embeddings": 514,
    "layer_norm_eps": 1e-05,
    "pad_token_id": 1,
    "relative_attention_num_buckets": 32,
}

PAD = 1  # MPNetEmbeddings' padding_idx, hard-coded in the reference


def activation(name):
    if name == "gelu":
        return lambda x: nn.functional.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return nn.functional.relu
    if name in ("silu", "swish"):
        return nn.functional.silu
    raise ValueError(f"hidden_act {name!r} is not supported here")


def relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
    """T5's bidirectional bucket of (key index - query index), as modeling_mpnet.py computes it."""
    ret = 0
    n = -relative_position
    num_buckets //= 2
    ret = ret + (n < 0).to(torch.long) * num_buckets
    n = torch.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(is_small, n, large)


class Group(nn.Module):
    """A named container, so parameter names are the Hub's."""


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, I, eps = c["hidden_size"], c["intermediate_size"], c.get("layer_norm_eps", 1e-12)
        self.attention = Group()
        self.attention.attn = Group()
        for n in ("q", "k", "v", "o"):
            setattr(self.attention.attn, n, nn.Linear(C, C))
        self.attention.LayerNorm = nn.LayerNorm(C, eps=eps)
        self.intermediate = Group()
        self.intermediate.dense = nn.Linear(C, I)
        self.output = Group()
        self.output.dense = nn.Linear(I, C)
        self.output.LayerNorm = nn.LayerNorm(C, eps=eps)
        self.heads = c["num_attention_heads"]
        self.act = activation(c.get("hidden_act", "gelu"))

    def forward(self, x, position_bias, mask_bias):
        b, l, c = x.shape
        h = self.heads
        d = c // h
        a = self.attention.attn
        q, k, v = (t.view(b, l, h, d).transpose(1, 2) for t in (a.q(x), a.k(x), a.v(x)))  # (B, H, L, D)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        scores = scores + position_bias
        scores = scores + mask_bias
        o = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, l, c)
        x = self.attention.LayerNorm(a.o(o) + x)
        return self.output.LayerNorm(self.output.dense(self.act(self.intermediate.dense(x))) + x)


class MPNet(nn.Module):
    """MPNetModel without the pooler: forward(input_ids, attention_mask) -> last_hidden_state."""

    def __init__(self, config):
        super().__init__()
        self.config = c = dict(config)
        C = c["hidden_size"]
        self.embeddings = Group()
        self.embeddings.word_embeddings = nn.Embedding(c["vocab_size"], C)
        self.embeddings.position_embeddings = nn.Embedding(c["max_position_embeddings"], C)
        self.embeddings.LayerNorm = nn.LayerNorm(C, eps=c.get("layer_norm_eps", 1e-12))
        self.encoder = Group()
        self.encoder.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.encoder.relative_attention_bias = nn.Embedding(c.get("relative_attention_num_buckets", 32), c["num_attention_heads"])

    def forward(self, input_ids, attention_mask):
        real = input_ids.ne(PAD).int()
        positions = (torch.cumsum(real, dim=1).type_as(real) * real).long() + PAD
        x = self.embeddings.word_embeddings(input_ids) + self.embeddings.position_embeddings(positions)
        x = self.embeddings.LayerNorm(x)
        l = input_ids.shape[1]
        idx = torch.arange(l, dtype=torch.long, device=input_ids.device)
        buckets = relative_position_bucket(idx[None, :] - idx[:, None])  # [query i, key j]: bucket(j - i)
        position_bias = self.encoder.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (1, H, L, L)
        minimum = torch.finfo(x.dtype).min
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * minimum
        for layer in self.encoder.layer:
            x = layer(x, position_bias, mask_bias)
        return x


def find_prefix(tensors):
    key = next((k for k in tensors if k.endswith("embeddings.word_embeddings.weight")), None)
    if key is None:
        raise KeyError("checkpoint has no embeddings.word_embeddings.weight (with or without a prefix)")
    return key[: -len("embeddings.word_embeddings.weight")]


class MPNetArch(Arch):
    name = "mpnet"
    fixtures = ("mpnet",)
    onnx_inputs = ("input_ids", "attention_mask")
    configs = {"base": BASE_CONFIG}

    def config_label(self, name):
        return "all-mpnet-base-v2 config (12 x 768)"

    def from_checkpoint(self, config, tensors):
        model = MPNet(config)
        prefix = find_prefix(tensors)
        load_state(model, tensors, lambda n: prefix + n)
        heads = {"eps": config.get("layer_norm_eps", 1e-12), "word": model.embeddings.word_embeddings.weight.detach()}
        for n in ("pooler.dense.weight", "pooler.dense.bias"):
            if prefix + n in tensors:
                heads[n] = as_torch(tensors[prefix + n])
        for n in ("lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias", "lm_head.bias", "lm_head.decoder.weight",
                  "classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"):
            if n in tensors:
                heads[n] = as_torch(tensors[n])
        return model.eval(), heads

    def expected_outputs(self, model, heads, last, ids, mask, types):
        out = {}
        if "pooler.dense.weight" in heads:
            out["pooler_output"] = torch.tanh(nn.functional.linear(last[:, 0], heads["pooler.dense.weight"], heads["pooler.dense.bias"]))
        if "lm_head.dense.weight" in heads:
            h = nn.functional.gelu(nn.functional.linear(last, heads["lm_head.dense.weight"], heads["lm_head.dense.bias"]))
            h = nn.functional.layer_norm(h, (h.shape[-1],), heads["lm_head.layer_norm.weight"], heads["lm_head.layer_norm.bias"], heads["eps"])
            out["logits"] = nn.functional.linear(h, heads.get("lm_head.decoder.weight", heads["word"])) + heads["lm_head.bias"]
        elif "classifier.out_proj.weight" in heads:
            h = torch.tanh(nn.functional.linear(last[:, 0], heads["classifier.dense.weight"], heads["classifier.dense.bias"]))
            out["logits"] = nn.functional.linear(h, heads["classifier.out_proj.weight"], heads["classifier.out_proj.bias"])
        m = mask.unsqueeze(-1).to(last.dtype)
        mean = (last * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        out["sentence_embedding"] = nn.functional.normalize(mean, p=2, dim=1)
        return out

    def random(self, config, seed=1):
        torch.manual_seed(seed)
        model = MPNet(config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "LayerNorm" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif "embeddings" in name or "relative_attention_bias" in name:
                    p.uniform_(-1, 1)
                elif p.dim() == 2:
                    p.uniform_(-1 / math.sqrt(p.shape[1]), 1 / math.sqrt(p.shape[1]))
                else:
                    p.uniform_(-0.1, 0.1)
        return model.eval()


ARCH = MPNetArch()

if __name__ == "__main__":
    main(ARCH, __doc__)
