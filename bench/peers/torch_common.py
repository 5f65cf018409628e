"""What every PyTorch reference peer shares (bench/peers/<arch>_torch.py): the safetensors reader,
fixture verification, ONNX export, the standalone bench and the `serve` loop bench/run.ts drives.

An architecture module defines an `Arch` (see below) and calls `main(ARCH)`; the command line is the
same for all of them:

  <arch>_torch.py verify [--fixtures DIR ...]         every fixture, rel L2 < 1e-4 or exit 1
  <arch>_torch.py export (--model DIR | --config NAME) --out FILE.onnx [--verify-fixtures DIR ...]
  <arch>_torch.py bench  (--model DIR | --config NAME) --grid 128x8,512x8 [--warmup 1]
                         [--repeats 3] [--threads N] [--max-seconds S] [--json FILE]
  <arch>_torch.py serve  (--model DIR | --config NAME) [--threads N]
      JSON lines on stdin/stdout, for bench/run.ts to interleave PyTorch with the other engines:
      {"cmd":"inputs","seq":L,"batch":B,"ids":[...]} -> {"ok":true}
      {"cmd":"run"} -> {"ms":...}            one forward on the current inputs (inference_mode)
      {"cmd":"output"} -> {"data":[...]}     last_hidden_state of the current inputs, flattened
      {"cmd":"matmul","M":..,"N":..,"K":..,"repeats":R} -> {"ms":[...]}   x @ W^T, W [N, K]
      {"cmd":"quit"}

Models take (input_ids, attention_mask[, token_type_ids]) int64 [B, L] and return
last_hidden_state [B, L, C]; the ONNX export has exactly those inputs (Arch.onnx_inputs).
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

SHARED_DIR = os.environ.get("NEOBERT_SHARED_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared"))


class Arch:
    """One architecture's entry points (override in the arch module)."""

    name = "?"
    # Subfolders of <shared>/fixtures this module is checked against.
    fixtures = ()
    # ONNX input names, in the order the module's forward takes them.
    onnx_inputs = ("input_ids", "attention_mask")
    # Compare [B, T, ...] outputs on padded rows too (NeoBERT computes them alike).
    compare_padded_rows = False
    # --config NAME -> config.json dict, for random-weight runs.
    configs = {}

    def config_label(self, name):
        return f"{self.name} config {name}"

    def from_checkpoint(self, config, tensors):
        """(model in eval mode, heads: name -> tensor) from config.json and the checkpoint tensors."""
        raise NotImplementedError

    def random(self, config, seed=1):
        raise NotImplementedError

    def expected_outputs(self, model, heads, last, ids, mask, types):
        """Outputs beyond last_hidden_state / pooled_cls / pooled_mean the fixtures check."""
        return {}


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


def as_torch(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def load_state(module, tensors, key_of):
    """Fills every parameter/buffer of `module` from tensors[key_of(name)] (KeyError if absent)."""
    state = {}
    for name in module.state_dict():
        key = key_of(name)
        if key not in tensors:
            raise KeyError(f"checkpoint has no tensor {key} (for {name})")
        state[name] = as_torch(tensors[key])
    module.load_state_dict(state)


def build_model(arch, args):
    if args.config:
        return arch.random(arch.configs[args.config]), f"random weights, {arch.config_label(args.config)}"
    config, tensors = load_checkpoint(args.model)
    model, _ = arch.from_checkpoint(config, tensors)
    return model.eval(), args.model


def model_inputs(arch, ids, mask, types=None):
    """The forward's arguments in onnx_inputs order (token types default to zeros)."""
    extra = [types if types is not None else torch.zeros_like(ids)] if "token_type_ids" in arch.onnx_inputs else []
    return (ids, mask, *extra)


# ---------------------------------------------------------------------------------- verify
def rel_l2(got, want):
    got, want = np.asarray(got, np.float64).ravel(), np.asarray(want, np.float64).ravel()
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def verify_dir(arch, fixtures_dir, tolerance=1e-4, quiet=False):
    """Runs every case of one fixtures folder; returns {case: {output: relL2}} and whether all pass."""
    report, ok = {}, True
    for case in sorted(os.listdir(fixtures_dir)):
        case_dir = os.path.join(fixtures_dir, case)
        if not os.path.exists(os.path.join(case_dir, "expected.safetensors")):
            continue
        config, tensors = load_checkpoint(case_dir)
        expected = read_safetensors(os.path.join(case_dir, "expected.safetensors"))
        model, heads = arch.from_checkpoint(config, tensors)
        model.eval()
        ids = torch.from_numpy(expected["input_ids"].astype(np.int64))
        mask = torch.from_numpy(expected["attention_mask"].astype(np.int64))
        types = torch.from_numpy(expected["token_type_ids"].astype(np.int64)) if "token_type_ids" in expected else None
        with torch.no_grad():
            last = model(*model_inputs(arch, ids, mask, types))
            m = mask.unsqueeze(-1).float()
            got = {"last_hidden_state": last, "pooled_cls": last[:, 0], "pooled_mean": (last * m).sum(1) / m.sum(1)}
            got.update(arch.expected_outputs(model, heads, last, ids, mask, types))
        real = mask.numpy().astype(bool)
        errors = {}
        for name, value in got.items():
            if name not in expected:
                continue
            g, w = value.numpy(), expected[name]
            if not arch.compare_padded_rows and w.ndim >= 2 and w.shape[:2] == real.shape:
                g, w = g[real], w[real]  # [B, T, ...]: real tokens only (padded rows are meaningless)
            errors[name] = rel_l2(g, w)
            ok = ok and errors[name] < tolerance
        report[case] = errors
        if not quiet:
            worst = max(errors.values())
            print(f"{'ok ' if worst < tolerance else 'BAD'} {case}: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()), file=sys.stderr)
    return report, ok


def verify(arch, fixtures_dirs, tolerance=1e-4, quiet=False):
    report, ok = {}, True
    for d in fixtures_dirs:
        r, good = verify_dir(arch, d, tolerance, quiet)
        report.update({f"{os.path.basename(os.path.normpath(d))}/{k}": v for k, v in r.items()})
        ok = ok and good
    return report, ok


# ---------------------------------------------------------------------------------- export
def export(arch, args):
    verification = None
    if args.verify_fixtures:
        report, ok = verify(arch, args.verify_fixtures)
        if not ok:
            print(f"{arch.name}: the PyTorch module does not match the fixtures; not exporting", file=sys.stderr)
            sys.exit(1)
        verification = {"fixtures": args.verify_fixtures, "tolerance": 1e-4, "relL2": report}
    model, label = build_model(arch, args)
    ids = random_ids(model.config["vocab_size"], 2, 16, torch.Generator().manual_seed(1))
    mask = torch.ones(2, 16, dtype=torch.int64)
    inputs = model_inputs(arch, ids, mask)
    names = list(arch.onnx_inputs)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    dynamic = {n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(
            model,
            inputs,
            tmp,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=17,
            do_constant_folding=True,
        )
    os.replace(tmp, args.out)
    meta = {"model": label, "arch": arch.name, "inputs": names, "onnx": args.out, "opset": 17, "torch": torch.__version__, "verification": verification}
    with open(args.out + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({"onnx": args.out, "bytes": os.path.getsize(args.out), "verified": verification is not None}))


# ---------------------------------------------------------------------------------- bench
def random_ids(vocab, batch, seq, generator):
    if vocab > 1000:
        return torch.randint(1000, min(vocab, 21000), (batch, seq), generator=generator, dtype=torch.int64)
    return torch.randint(1, vocab, (batch, seq), generator=generator)


def bench(arch, args):
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, label = build_model(arch, args)
    load_ms = (time.perf_counter() - t0) * 1000
    vocab = model.config["vocab_size"]
    results = []
    for point in args.grid.split(","):
        seq, batch = (int(v) for v in point.lower().split("x"))
        g = torch.Generator().manual_seed(seq * 1000 + batch)
        ids = random_ids(vocab, batch, seq, g)
        inputs = model_inputs(arch, ids, torch.ones(batch, seq, dtype=torch.int64))
        times = []
        with torch.inference_mode():
            t = time.perf_counter()
            model(*inputs)
            first_ms = (time.perf_counter() - t) * 1000
            for _ in range(max(0, args.warmup - 1)):
                model(*inputs)
            started = time.perf_counter()
            for i in range(args.repeats):
                t = time.perf_counter()
                model(*inputs)
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


def serve(arch, args):
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, label = build_model(arch, args)
    load_ms = (time.perf_counter() - t0) * 1000
    out = sys.stdout
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "model": label, "loadMs": load_ms, "blas": blas_info()}), file=out, flush=True)
    inputs = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            m = json.loads(line)
            cmd = m["cmd"]
            if cmd == "inputs":
                ids = torch.tensor(m["ids"], dtype=torch.int64).view(m["batch"], m["seq"])
                inputs = model_inputs(arch, ids, torch.ones_like(ids))
                reply = {"ok": True}
            elif cmd == "run":
                with torch.inference_mode():
                    t = time.perf_counter()
                    model(*inputs)
                    reply = {"ms": (time.perf_counter() - t) * 1000}
            elif cmd == "output":
                with torch.inference_mode():
                    reply = {"data": model(*inputs).reshape(-1).tolist()}
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


# ---------------------------------------------------------------------------------- command line
def main(arch, doc=None):
    p = argparse.ArgumentParser(description=doc or __doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--fixtures", action="append", help=f"fixtures folder (repeatable); default {', '.join(arch.fixtures)} under <shared>/fixtures")
    for name in ("export", "bench", "serve"):
        s = sub.add_parser(name)
        g = s.add_mutually_exclusive_group(required=True)
        g.add_argument("--model")
        g.add_argument("--config", choices=sorted(arch.configs))
        if name == "export":
            s.add_argument("--out", required=True)
            s.add_argument("--verify-fixtures", action="append", help="fixtures folder (repeatable)")
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
        dirs = args.fixtures or [os.path.join(SHARED_DIR, "fixtures", f) for f in arch.fixtures]
        _, ok = verify(arch, [os.path.normpath(d) for d in dirs])
        sys.exit(0 if ok else 1)
    elif args.command == "export":
        export(arch, args)
    elif args.command == "serve":
        serve(arch, args)
    else:
        bench(arch, args)
