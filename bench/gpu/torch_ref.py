#!/usr/bin/env python3
"""PyTorch's reference NeoBERT (bench/peers/neobert_torch.py, the model checked against every
fixture) timed at the same shapes as bench/forward.ts, for bench/gpu/run.sh.

  torch_ref.py --grid 128x8,128x1,512x8 [--device cuda|cpu] [--dtype float16|float32]
               [--layers 28 --hidden 768 --heads 12 --intermediate 3072 --vocab 30522]
               [--repeats 5] [--budget-s 20] [--matmul 128,1024] [--json FILE]

Random weights (neobert_torch.ARCH.random), eval mode, torch.inference_mode; on CUDA each time
is CUDA events around one forward after a warm-up, on CPU wall time. The encoder output
(last_hidden_state) stays on the device, as ours stays on the GPU until it reads pooled rows back.
--matmul M,...: x @ W^T GFLOP/s on the layer shapes (qkv, wo, w12, w3) at those token counts, in
the chosen dtype, and in float32 with TF32 off (the arithmetic our f32 kernel does).
Exit 0 with results; 2 when the asked-for device is missing (run.sh records it as skipped).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))

import torch  # noqa: E402

import neobert_torch  # noqa: E402


def timer(device):
    if device == "cuda":
        def run(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end)
    else:
        def run(fn):
            t = time.perf_counter()
            fn()
            return (time.perf_counter() - t) * 1000
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", required=True, help="seqxbatch,...")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    p.add_argument("--layers", type=int, default=28)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--intermediate", type=int, default=3072)
    p.add_argument("--vocab", type=int, default=30522)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=20)
    p.add_argument("--matmul", default="")
    p.add_argument("--json")
    args = p.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"ok": False, "error": "torch.cuda.is_available() is False", "torch": torch.__version__}))
        sys.exit(2)
    dtype = getattr(torch, args.dtype)
    config = dict(neobert_torch.BASE_CONFIG)
    config.update(
        num_hidden_layers=args.layers,
        hidden_size=args.hidden,
        num_attention_heads=args.heads,
        dim_head=args.hidden // args.heads,
        intermediate_size=args.intermediate,
        vocab_size=args.vocab,
    )
    t0 = time.perf_counter()
    # .to(dtype) casts the RoPE buffers too, so q * cos stays in dtype.
    model = neobert_torch.ARCH.random(config).to(device=args.device, dtype=dtype)
    load_ms = (time.perf_counter() - t0) * 1000
    time_it = timer(args.device)
    c, layers = args.hidden, args.layers
    f = neobert_torch.ffn_width(args.intermediate)
    results, errors = [], []
    for point in args.grid.split(","):
        seq, batch = (int(v) for v in point.lower().split("x"))
        g = torch.Generator().manual_seed(seq * 1000 + batch)
        ids = torch.randint(0, args.vocab, (batch, seq), generator=g).to(args.device)
        mask = torch.ones(batch, seq, dtype=torch.int64, device=args.device)
        try:
            with torch.inference_mode():
                first = time_it(lambda: model(ids, mask))
                out = model(ids, mask)
                finite = bool(torch.isfinite(out).all())
                times, started = [], time.perf_counter()
                for i in range(args.repeats):
                    times.append(time_it(lambda: model(ids, mask)))
                    if i >= 1 and time.perf_counter() - started > args.budget_s:
                        break
        except Exception as e:  # out of memory at a big point: record it, go on
            errors.append({"seq": seq, "batch": batch, "message": f"{type(e).__name__}: {e}"[:500]})
            print(f"pytorch {args.device} {seq}x{batch}: FAILED {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
            if args.device == "cuda":
                torch.cuda.empty_cache()
            continue
        times.sort()
        median = times[len(times) // 2]
        flops = 2 * batch * seq * layers * (4 * c * c + 3 * f * c) + 4 * batch * seq * seq * c * layers
        r = {
            "seq": seq,
            "batch": batch,
            "msPerBatch": median,
            "tokensPerSecond": batch * seq / median * 1000,
            "gflops": flops / median / 1e6,
            "times": times,
            "firstCallMs": first,
            "finite": finite,
        }
        results.append(r)
        print(f"pytorch {args.device} {args.dtype} {seq}x{batch}: {median:.2f} ms, {r['tokensPerSecond']:.0f} tokens/s, {r['gflops']:.0f} GFLOP/s", file=sys.stderr)

    matmul = []
    if args.matmul:
        shapes = {"qkv": (3 * c, c), "wo": (c, c), "w12": (2 * f, c), "w3": (c, f)}
        for m in (int(v) for v in args.matmul.split(",")):
            for name, (n, k) in shapes.items():
                for mdtype in [dtype] + ([torch.float32] if dtype != torch.float32 else []):
                    if args.device == "cuda":
                        torch.backends.cuda.matmul.allow_tf32 = False
                    x = torch.rand(m, k, device=args.device, dtype=mdtype) - 0.5
                    w = torch.rand(n, k, device=args.device, dtype=mdtype) - 0.5
                    with torch.inference_mode():
                        time_it(lambda: x @ w.T)
                        inner = 20 if args.device == "cuda" else 2

                        def many():
                            for _ in range(inner):
                                x @ w.T

                        samples = sorted(time_it(many) / inner for _ in range(5))
                    ms = samples[len(samples) // 2]
                    matmul.append({"shape": f"{name}@{m}", "M": m, "N": n, "K": k, "dtype": str(mdtype).replace("torch.", ""), "msPerCall": ms, "gflops": 2 * m * n * k / ms / 1e6})
        for row in matmul:
            print(f"pytorch matmul {row['shape']} {row['dtype']}: {row['gflops']:.0f} GFLOP/s", file=sys.stderr)

    out = {
        "ok": True,
        "engine": "pytorch",
        "torch": torch.__version__,
        "device": args.device,
        "deviceName": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "dtype": args.dtype,
        "config": config,
        "loadMs": load_ms,
        "results": results,
        "matmul": matmul,
        "errors": errors,
    }
    text = json.dumps(out)
    if args.json:
        with open(args.json + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(args.json + ".tmp", args.json)
    print(json.dumps({k: v for k, v in out.items() if k not in ("results", "matmul")}))


if __name__ == "__main__":
    main()
