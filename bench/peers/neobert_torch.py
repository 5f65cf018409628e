#!/usr/bin/python3
"""NeoBERT in PyTorch, written from ../shared/docs/neobert-spec.md, for the benchmark peers.

Needs only torch and numpy (Debian: python3-torch, python3-numpy; onnx export also uses
python3-onnx through torch). Works with torch 1.13 (no scaled_dot_product_attention, no
nn.RMSNorm: both written out here).

  neobert_torch.py verify [--fixtures DIR]          every fixture, rel L2 < 1e-4 or exit 1
  neobert_torch.py export (--model DIR | --config base) --out FILE.onnx [--verify-fixtures DIR]
  neobert_torch.py bench  (--model DIR | --config base) --grid 128x8,512x8 [--warmup 1]
                          [--repeats 3] [--threads N] [--max-seconds S] [--json FILE]
  neobert_torch.py serve  (--model DIR | --config base) [--threads N]
      JSON lines on stdin/stdout, for bench/run.ts to interleave PyTorch with the other engines:
      {"cmd":"inputs","seq":L,"batch":B,"ids":[...]} -> {"ok":true}
      {"cmd":"run"} -> {"ms":...}            one forward on the current inputs (inference_mode)
      {"cmd":"output"} -> {"data":[...]}     last_hidden_state of the current inputs, flattened
      {"cmd":"matmul","M":..,"N":..,"K":..,"repeats":R} -> {"ms":[...]}   x @ W^T, W [N, K]
      {"cmd":"quit"}

Spec points this module follows (each checked by the fixtures):
  * qkv rows are per-head interleaved: y.view(B, L, H, 3D) then chunk(3) gives q, k, v per head;
  * RoPE rotates adjacent pairs (2j, 2j+1), angle p * theta^(-2j/D) computed in f32 like
    torch.outer(arange, inv_freq); theta = 10000;
  * FFN width = 8 * ceil(int(2 * intermediate_size / 3) / 8); w12 rows [0, F) gate, [F, 2F) up;
  * RMSNorm v / sqrt(mean(v^2) + eps) * w with eps = config norm_eps;
  * attention: softmax(q k^T / sqrt(D)), keys with attention_mask == 0 at -inf, no causal mask.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

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


# ---------------------------------------------------------------------------------- checkpoint
def read_safetensors(path):
    """name -> float32 numpy array (F32, F16 and BF16 upcast exactly; I64/I32 kept as ints)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        dtype, shape = info["dtype"], info["shape"]
        if dtype == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dtype == "I64":
            a = np.frombuffer(raw, dtype="<i8").copy()
        elif dtype == "I32":
            a = np.frombuffer(raw, dtype="<i4").copy()
        else:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {dtype}")
        out[name] = a.reshape(shape)
    return out


def load_checkpoint(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(model_dir, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        for shard in shards:
            tensors.update(read_safetensors(os.path.join(model_dir, shard)))
    else:
        tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    return config, tensors


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

    def load_tensors(self, tensors):
        """Loads checkpoint tensors (with or without the `model.` prefix); returns the head tensors."""
        prefix = "model." if any(k.startswith("model.") for k in tensors) else ""
        state = {}
        for name in self.state_dict():
            key = prefix + name.replace(".w12.", ".ffn.w12.").replace(".w3.", ".ffn.w3.")
            if key not in tensors:
                raise KeyError(f"checkpoint has no tensor {key}")
            state[name] = torch.from_numpy(np.ascontiguousarray(tensors[key], dtype=np.float32))
        self.load_state_dict(state)
        heads = ("decoder.weight", "decoder.bias", "dense.weight", "dense.bias", "classifier.weight", "classifier.bias")
        return {k: torch.from_numpy(np.ascontiguousarray(tensors[k], dtype=np.float32)) for k in heads if k in tensors}


def random_model(config, seed=1):
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


def build_model(args):
    if args.config == "base":
        return random_model(BASE_CONFIG), "random weights, NeoBERT base config (28 x 768)"
    config, tensors = load_checkpoint(args.model)
    model = NeoBERT(config)
    model.load_tensors(tensors)
    return model.eval(), args.model


# ---------------------------------------------------------------------------------- verify
def rel_l2(got, want):
    got, want = np.asarray(got, np.float64).ravel(), np.asarray(want, np.float64).ravel()
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def verify(fixtures_dir, tolerance=1e-4, quiet=False):
    """Runs every fixture; returns {case: {output: relL2}} and whether all are under tolerance."""
    report, ok = {}, True
    for case in sorted(os.listdir(fixtures_dir)):
        case_dir = os.path.join(fixtures_dir, case)
        if not os.path.exists(os.path.join(case_dir, "expected.safetensors")):
            continue
        config, tensors = load_checkpoint(case_dir)
        expected = read_safetensors(os.path.join(case_dir, "expected.safetensors"))
        model = NeoBERT(config)
        heads = model.load_tensors(tensors)
        model.eval()
        ids = torch.from_numpy(expected["input_ids"].astype(np.int64))
        mask = torch.from_numpy(expected["attention_mask"].astype(np.int64))
        with torch.no_grad():
            last = model(ids, mask)
            m = mask.unsqueeze(-1).float()
            got = {
                "last_hidden_state": last,
                "pooled_cls": last[:, 0],
                "pooled_mean": (last * m).sum(1) / m.sum(1),
            }
            if "decoder.weight" in heads:
                got["logits"] = last @ heads["decoder.weight"].T + heads["decoder.bias"]
            elif "classifier.weight" in heads:
                dense = torch.tanh(last[:, 0] @ heads["dense.weight"].T + heads["dense.bias"])
                got["logits"] = dense @ heads["classifier.weight"].T + heads["classifier.bias"]
        errors = {}
        for name in ("last_hidden_state", "pooled_cls", "pooled_mean", "logits"):
            if name not in expected:
                continue
            want = expected[name]
            errors[name] = rel_l2(got[name].numpy(), want)  # padded rows too: computed alike
            ok = ok and errors[name] < tolerance
        report[case] = errors
        if not quiet:
            worst = max(errors.values())
            print(f"{'ok ' if worst < tolerance else 'BAD'} {case}: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()), file=sys.stderr)
    return report, ok


# ---------------------------------------------------------------------------------- export
def export(args):
    verification = None
    if args.verify_fixtures:
        report, ok = verify(args.verify_fixtures)
        if not ok:
            print("neobert_torch: the PyTorch module does not match the fixtures; not exporting", file=sys.stderr)
            sys.exit(1)
        verification = {"fixtures": args.verify_fixtures, "tolerance": 1e-4, "relL2": report}
    model, label = build_model(args)
    ids = torch.randint(1000, 2000, (2, 16), dtype=torch.int64)
    mask = torch.ones(2, 16, dtype=torch.int64)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, mask),
            tmp,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "last_hidden_state": {0: "batch", 1: "seq"}},
            opset_version=17,
            do_constant_folding=True,
        )
    os.replace(tmp, args.out)
    meta = {"model": label, "onnx": args.out, "opset": 17, "torch": torch.__version__, "verification": verification}
    with open(args.out + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({"onnx": args.out, "bytes": os.path.getsize(args.out), "verified": verification is not None}))


# ---------------------------------------------------------------------------------- bench
def bench(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, label = build_model(args)
    load_ms = (time.perf_counter() - t0) * 1000
    vocab = model.config["vocab_size"]
    results = []
    for point in args.grid.split(","):
        seq, batch = (int(v) for v in point.lower().split("x"))
        g = torch.Generator().manual_seed(seq * 1000 + batch)
        ids = torch.randint(1000, min(vocab, 21000), (batch, seq), generator=g, dtype=torch.int64) if vocab > 1000 else torch.randint(1, vocab, (batch, seq), generator=g)
        mask = torch.ones(batch, seq, dtype=torch.int64)
        times = []
        with torch.inference_mode():
            t = time.perf_counter()
            model(ids, mask)
            first_ms = (time.perf_counter() - t) * 1000
            for _ in range(max(0, args.warmup - 1)):
                model(ids, mask)
            started = time.perf_counter()
            for i in range(args.repeats):
                t = time.perf_counter()
                model(ids, mask)
                times.append((time.perf_counter() - t) * 1000)
                if args.max_seconds and time.perf_counter() - started > args.max_seconds and len(times) >= 2:
                    break
        times.sort()
        median = times[len(times) // 2]
        r = {
            "engine": "pytorch",
            "backend": "cpu",
            "seq": seq,
            "batch": batch,
            "tokensPerSecond": batch * seq / median * 1000,
            "msPerBatch": median,
            "msMin": times[0],
            "msMax": times[-1],
            "repeats": len(times),
            "firstCallMs": first_ms,
        }
        results.append(r)
        print(f"pytorch {seq}x{batch}: {median:.1f} ms, {r['tokensPerSecond']:.0f} tokens/s", file=sys.stderr)
    out = {
        "engine": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "model": label,
        "loadMs": load_ms,
        "results": results,
    }
    text = json.dumps(out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    print(text)


# ---------------------------------------------------------------------------------- serve
def blas_info():
    """Which BLAS torch's matmuls use: Debian's python3-torch is built with BLAS_INFO=generic and
    calls the system libblas.so.3 (the reference Netlib BLAS unless OpenBLAS/BLIS is installed)."""
    config = torch.__config__.show()
    info = next((part.split("=", 1)[1] for part in config.replace(",", " ").split() if part.startswith("BLAS_INFO=")), "unknown")
    libs = []
    for candidate in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"):
        if os.path.exists(candidate):
            libs.append(os.path.realpath(candidate))
    return {"BLAS_INFO": info, "libblas": libs}


def serve(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, label = build_model(args)
    load_ms = (time.perf_counter() - t0) * 1000
    out = sys.stdout
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "model": label, "loadMs": load_ms, "blas": blas_info()}), file=out, flush=True)
    ids = mask = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            m = json.loads(line)
            cmd = m["cmd"]
            if cmd == "inputs":
                ids = torch.tensor(m["ids"], dtype=torch.int64).view(m["batch"], m["seq"])
                mask = torch.ones_like(ids)
                reply = {"ok": True}
            elif cmd == "run":
                with torch.inference_mode():
                    t = time.perf_counter()
                    model(ids, mask)
                    reply = {"ms": (time.perf_counter() - t) * 1000}
            elif cmd == "output":
                with torch.inference_mode():
                    reply = {"data": model(ids, mask).reshape(-1).tolist()}
            elif cmd == "matmul":
                g = torch.Generator().manual_seed(1)
                x = torch.rand(m["M"], m["K"], generator=g) - 0.5
                w = torch.rand(m["N"], m["K"], generator=g) - 0.5
                times = []
                with torch.inference_mode():
                    torch.matmul(x, w.T)
                    for _ in range(m.get("repeats", 3)):
                        t = time.perf_counter()
                        torch.matmul(x, w.T)
                        times.append((time.perf_counter() - t) * 1000)
                reply = {"ms": times}
            elif cmd == "quit":
                break
            else:
                reply = {"error": f"unknown command {cmd}"}
        except Exception as e:  # reported to the harness, which records it
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), file=out, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--fixtures", default=os.environ.get("NEOBERT_SHARED_DIR", os.path.join(os.path.dirname(__file__), "../../../shared")) + "/fixtures/neobert")
    for name in ("export", "bench", "serve"):
        s = sub.add_parser(name)
        g = s.add_mutually_exclusive_group(required=True)
        g.add_argument("--model")
        g.add_argument("--config", choices=["base"])
        if name == "export":
            s.add_argument("--out", required=True)
            s.add_argument("--verify-fixtures")
        elif name == "serve":
            s.add_argument("--threads", type=int, default=0)
        else:
            s.add_argument("--grid", required=True, help="seqxbatch,...")
            s.add_argument("--warmup", type=int, default=1)
            s.add_argument("--repeats", type=int, default=3)
            s.add_argument("--threads", type=int, default=0)
            s.add_argument("--max-seconds", type=float, default=0)
            s.add_argument("--json")
    args = p.parse_args()
    if args.command == "verify":
        _, ok = verify(os.path.normpath(args.fixtures))
        sys.exit(0 if ok else 1)
    elif args.command == "export":
        export(args)
    elif args.command == "serve":
        serve(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
