#!/usr/bin/python3
"""BERT / RoBERTa / XLM-RoBERTa encoders in PyTorch, written from ../shared/fixtures/ENCODERS.md, for
the benchmark peers (commands: see torch_common.py; `verify` runs fixtures/bert, roberta and
xlm-roberta).

  bert_torch.py verify
  bert_torch.py export --model DIR --out FILE.onnx [--verify-fixtures DIR ...]
  bert_torch.py serve  (--model DIR | --config minilm) [--threads N]

The math, each point checked by the fixtures:
  * embeddings: word[id] + position[pos] + token_type[type], then LayerNorm (eps = layer_norm_eps);
    BERT positions 0..L-1; RoBERTa / XLM-R (fairseq) pos = pad + 1 + running count of non-pad ids,
    pads get pad (so real tokens use rows 2...);
  * post-LN layers: x = LN(x + Wo attn(x)); x = LN(x + W2 act(W1 x)); q, k, v separate Linears
    with biases, heads = hidden / num_attention_heads, softmax(q k^T / sqrt(D)) with padded keys
    masked (finfo.min, as HF does: no NaN on rows with no valid key);
  * hidden_act: gelu = exact erf GELU, gelu_new / gelu_pytorch_tanh = tanh approximation, relu, silu;
  * pooler (when the checkpoint has one): tanh(dense(x[:, 0])).
Tensor names are the Hub ones (BertModel / RobertaModel / XLMRobertaModel), with or without the
`bert.` / `roberta.` task-model prefix, LayerNorm `.weight/.bias` or legacy `.gamma/.beta`.
"""
import math

import torch
from torch import nn

from torch_common import Arch, as_torch, load_state, main

# sentence-transformers/all-MiniLM-L6-v2's config.json (the fields the module reads).
MINILM_CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "hidden_act": "gelu",
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
}


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


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        v, p, t, eps = c["vocab_size"], c["max_position_embeddings"], c.get("type_vocab_size", 2), c.get("layer_norm_eps", 1e-12)
        h = c["hidden_size"]
        self.word_embeddings = nn.Embedding(v, h)
        self.position_embeddings = nn.Embedding(p, h)
        self.token_type_embeddings = nn.Embedding(t, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.fairseq = c.get("model_type") in ("roberta", "xlm-roberta", "camembert")
        self.pad = c.get("pad_token_id", 0)

    def forward(self, ids, types):
        if self.fairseq:
            real = (ids != self.pad).to(torch.int64)
            pos = torch.cumsum(real, dim=1) * real + self.pad
        else:
            pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0).expand_as(ids)
        x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)


class AttentionOutput(nn.Module):
    def __init__(self, h, eps):
        super().__init__()
        self.dense = nn.Linear(h, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class Attention(nn.Module):
    def __init__(self, h, eps):
        super().__init__()
        self.self = SelfAttention(h)
        self.output = AttentionOutput(h, eps)


class Dense(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)


class Output(nn.Module):
    def __init__(self, i, h, eps):
        super().__init__()
        self.dense = nn.Linear(i, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i, eps = c["hidden_size"], c["intermediate_size"], c.get("layer_norm_eps", 1e-12)
        self.heads = c["num_attention_heads"]
        self.attention = Attention(h, eps)
        self.intermediate = Dense(h, i)
        self.output = Output(i, h, eps)
        self.act = activation(c.get("hidden_act", "gelu"))

    def forward(self, x, key_bias):
        b, l, c = x.shape
        h = self.heads
        d = c // h
        s = self.attention.self
        q, k, v = (lin(x).view(b, l, h, d).transpose(1, 2) for lin in (s.query, s.key, s.value))
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)) + key_bias
        o = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, l, c)
        x = self.attention.output.LayerNorm(x + self.attention.output.dense(o))
        y = self.output.dense(self.act(self.intermediate.dense(x)))
        return self.output.LayerNorm(x + y)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])


class Bert(nn.Module):
    """BertModel / RobertaModel / XLMRobertaModel without the pooler: forward -> last_hidden_state."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        if config["hidden_size"] % config["num_attention_heads"]:
            raise ValueError("hidden_size is not divisible by num_attention_heads")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"position_embedding_type {config['position_embedding_type']!r} is not supported")
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings(input_ids, token_type_ids)
        # (B, 1, 1, L): 0 for tokens, finfo.min for padded keys (HF's extended attention mask).
        key_bias = torch.zeros_like(attention_mask, dtype=x.dtype).masked_fill(attention_mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, key_bias)
        return x


def encoder_prefix(tensors):
    key = next((k for k in tensors if k.endswith("embeddings.word_embeddings.weight")), None)
    if key is None:
        raise KeyError("checkpoint has no embeddings.word_embeddings.weight (with or without a prefix)")
    return key[: -len("embeddings.word_embeddings.weight")]


def hub_key(tensors, prefix, name):
    key = prefix + name
    if key not in tensors and ".LayerNorm." in name:  # older files: LayerNorm.gamma / .beta
        legacy = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        if legacy in tensors:
            return legacy
    return key


class BertArch(Arch):
    name = "bert"
    fixtures = ("bert", "roberta", "xlm-roberta")
    onnx_inputs = ("input_ids", "attention_mask", "token_type_ids")
    configs = {"minilm": MINILM_CONFIG}

    def config_label(self, name):
        return "all-MiniLM-L6-v2 config (6 x 384)"

    def from_checkpoint(self, config, tensors):
        model = Bert(config)
        prefix = encoder_prefix(tensors)
        load_state(model, tensors, lambda n: hub_key(tensors, prefix, n))
        heads = {}
        for n in ("pooler.dense.weight", "pooler.dense.bias"):
            if prefix + n in tensors:
                heads[n] = as_torch(tensors[prefix + n])
        return model.eval(), heads

    def random(self, config, seed=1):
        torch.manual_seed(seed)
        model = Bert(config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "LayerNorm" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif "embeddings" in name:
                    p.uniform_(-1, 1)
                elif p.dim() == 2:
                    p.uniform_(-1 / math.sqrt(p.shape[1]), 1 / math.sqrt(p.shape[1]))
                else:
                    p.uniform_(-0.1, 0.1)
        return model.eval()

    def expected_outputs(self, model, heads, last, ids, mask, types):
        if "pooler.dense.weight" in heads:
            return {"pooler_output": torch.tanh(last[:, 0] @ heads["pooler.dense.weight"].T + heads["pooler.dense.bias"])}
        return {}


ARCH = BertArch()

if __name__ == "__main__":
    main(ARCH, __doc__)
