// Last step of bench/gpu/run.sh: one result file from the steps' outputs, in bench/results' format
// (schema neobert-bench/1, so bench/chart.ts draws it and bench/chart-cli.ts can overlay it), with
// what only this script measures under `gpu`: every step's status, the adapter, the test subset,
// attention, PyTorch (CUDA) figures and ours / PyTorch per point.
//   node report.mjs --steps DIR --out-dir DIR [--tag local-quick]
// DIR holds steps.json (run.sh's status per step) and each step's JSON (adapter, check, forward,
// matmul, attention, torch); a missing or broken file is recorded, never fatal.
// Writes OUT/<adapter-slug>[-tag]-<date>.json and .svg; prints both paths.
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderChart } from '../chart';
import { computeTargets, type BenchResult } from '../run/report';
import type { PointResult } from '../run/grid';
import type { MatmulResult } from '../run/matmul';

const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    'out-dir': { type: 'string' },
    tag: { type: 'string', default: '' },
    date: { type: 'string' },
  },
});
const dir = values.steps!;
const outDir = values['out-dir']!;
/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;
const problems: string[] = [];
function load(name: string): Json | null {
  const file = path.join(dir, `${name}.json`);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    problems.push(`${name}.json: ${(e as Error).message}`);
    return null;
  }
}

const steps: { name: string; status: string; seconds: number; detail?: string }[] = load('steps') ?? [];
const adapter = load('adapter');
const check = load('check');
const forward = load('forward');
const matmul = load('matmul');
const attention = load('attention');
const torch = load('torch');

const a = adapter?.adapter ?? forward?.adapter ?? check?.adapter ?? { vendor: 'unknown', architecture: '', device: '', description: '', features: [], slug: 'unknown' };
const adapterText = `${a.vendor} / ${a.architecture} (${a.description})`;
/** nvidia-h200 from "NVIDIA H200"; the adapter's own slug for CPU adapters and unnamed GPUs. */
function slugOf(): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '');
  const description = clean(a.description ?? '');
  if (adapter?.cpu === false && description && description.length <= 40) {
    return description.startsWith(clean(a.vendor ?? '')) ? description : `${clean(a.vendor ?? 'gpu')}-${description}`;
  }
  return a.slug ?? clean(`${a.vendor}-${a.architecture}`);
}
const date = values.date ?? new Date().toISOString().slice(0, 10);
const base = `${slugOf()}${values.tag ? `-${values.tag}` : ''}-${date}`;

const spread = (times: number[]) => {
  const s = [...times].sort((x, y) => x - y);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  const median = s[Math.floor(s.length / 2)];
  return { median, min: s[0], max: s[s.length - 1], p25: q(0.25), p75: q(0.75), relIqr: (q(0.75) - q(0.25)) / median, n: s.length };
};

// ---- forward: ours per dtype, PyTorch per point --------------------------------------------------
const results: PointResult[] = [];
const errors: BenchResult['errors'] = [];
for (const point of forward?.points ?? []) {
  if (point.error) errors.push({ engine: 'neobert-webgpu', backend: 'webgpu', seq: point.seq, batch: point.batch, message: point.error });
  for (const run of point.runs ?? []) {
    results.push({
      engine: run.dtype === 'f16' ? 'neobert-webgpu f16 weights' : 'neobert-webgpu',
      backend: 'webgpu',
      device: adapterText,
      seq: point.seq,
      batch: point.batch,
      tokensPerSecond: run.tokensPerSecond,
      msPerBatch: run.msPerBatch,
      spread: spread(run.times),
      firstCallMs: run.firstMs,
      repeats: run.times.length,
      dtype: run.dtype,
      matmulStrategy: run.matmulStrategy ?? adapter?.defaults?.matmul ?? 'default',
      gflops: run.gflops,
    });
  }
}
for (const r of torch?.results ?? []) {
  results.push({
    engine: 'pytorch',
    backend: `${torch.device}-${torch.dtype}`,
    device: torch.deviceName,
    seq: r.seq,
    batch: r.batch,
    tokensPerSecond: r.tokensPerSecond,
    msPerBatch: r.msPerBatch,
    spread: spread(r.times),
    firstCallMs: r.firstCallMs,
    repeats: r.times.length,
    gflops: r.gflops,
  });
}
for (const e of torch?.errors ?? []) errors.push({ engine: 'pytorch', backend: `${torch.device}-${torch.dtype}`, seq: e.seq, batch: e.batch, message: e.message });

// ---- matmul: ours per variant, PyTorch per dtype ---------------------------------------------------
// "K x N" of the model's layers (from the forward step's config; NeoBERT base otherwise), so our
// rows and PyTorch's (torch_ref.py names them the same way) share shape names.
const cfg = forward?.config ?? { hiddenSize: 768, ffnWidth: 2048, vocabSize: 30522 };
const LAYER: Record<string, string> = {
  [`${cfg.hiddenSize}x${3 * cfg.hiddenSize}`]: 'qkv',
  [`${cfg.hiddenSize}x${cfg.hiddenSize}`]: 'wo',
  [`${cfg.hiddenSize}x${2 * cfg.ffnWidth}`]: 'w12',
  [`${cfg.ffnWidth}x${cfg.hiddenSize}`]: 'w3',
  [`${cfg.hiddenSize}x${cfg.vocabSize}`]: 'head',
};
const matmulRows: MatmulResult[] = (matmul?.results ?? []).map((r: Json) => {
  const layer = LAYER[`${r.K}x${r.N}`];
  return {
    engine: 'neobert-webgpu',
    variant: r.variant,
    shape: layer ? `${layer}@${r.M}` : `${r.M}x${r.K}->${r.N}`,
    M: r.M,
    N: r.N,
    K: r.K,
    msPerCall: r.ms,
    gflops: r.gflops,
    spread: spread(r.samples),
    firstCallMs: NaN,
  };
});
// Ours first: the production kernel the model uses here, then the others (computeTargets' convention).
const defaultVariant = `prod-${adapter?.defaults?.matmul ?? 'tiled'}`;
matmulRows.sort((x, y) => Number(y.variant === defaultVariant) - Number(x.variant === defaultVariant));
for (const r of torch?.matmul ?? []) {
  matmulRows.push({ engine: 'pytorch', variant: `${torch.device}-${r.dtype}`, shape: r.shape, M: r.M, N: r.N, K: r.K, msPerCall: r.msPerCall, gflops: r.gflops, spread: spread([r.msPerCall]), firstCallMs: NaN });
}

// ---- ours / PyTorch per point ----------------------------------------------------------------------
const vsTorch = (torch?.results ?? []).map((t: Json) => {
  const ours = results.filter((r) => r.engine.startsWith('neobert-webgpu') && r.seq === t.seq && r.batch === t.batch);
  const best = ours.reduce<PointResult | null>((b, r) => (!b || r.tokensPerSecond > b.tokensPerSecond ? r : b), null);
  return { seq: t.seq, batch: t.batch, torch: t.tokensPerSecond, ours: best?.tokensPerSecond, oursEngine: best?.engine, ratio: best ? best.tokensPerSecond / t.tokensPerSecond : undefined };
});

const notes = [
  'bench/gpu/run.sh: full-size NeoBERT (random weights) forward; every run reads pooled rows back, PyTorch keeps its output on the device.',
  ...steps.filter((s) => s.status !== 'ok').map((s) => `step ${s.name}: ${s.status}${s.detail ? ` (${s.detail})` : ''}`),
  ...vsTorch.filter((v: Json) => v.ratio !== undefined).map((v: Json) => `ours (${v.oursEngine}) / PyTorch ${torch.device} ${torch.dtype} at ${v.seq} x ${v.batch}: ${v.ratio.toFixed(3)}`),
  ...problems,
];
const targets = computeTargets(results, matmulRows.filter((m) => m.engine === 'neobert-webgpu'), adapterText);
targets.vsOrtWebgpu = []; // no onnxruntime-web on the GPU machine

const result: BenchResult & { gpu: Json } = {
  schema: 'neobert-bench/1',
  date,
  runtime: 'node',
  adapter: adapterText,
  adapterInfo: a,
  host: { platform: process.platform, arch: process.arch, node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, hostname: os.hostname() },
  model: {
    label: forward?.config ? `NeoBERT ${forward.config.numLayers} x ${forward.config.hiddenSize} (FFN ${forward.config.ffnWidth}), random weights` : 'NeoBERT, random weights',
    config: forward?.config ?? null,
    parameters: forward?.parameters ?? null,
  },
  options: { script: 'bench/gpu/run.sh', tag: values.tag || null },
  load: Object.fromEntries((forward?.runs ?? []).map((r: Json) => [`neobert-webgpu/${r.name}`, { loadMs: r.loadMs }])),
  results,
  matmul: matmulRows,
  targets,
  peers: {
    'pytorch/cuda': torch?.ok
      ? { status: 'ran', detail: `torch ${torch.torch}, ${torch.deviceName}, ${torch.dtype}`, device: torch.deviceName }
      : { status: steps.find((s) => s.name === 'torch')?.status === 'failed' ? 'failed' : 'skipped', detail: steps.find((s) => s.name === 'torch')?.detail ?? 'not run' },
  },
  errors,
  notes,
  gpu: {
    steps,
    adapter,
    check: check && { complete: check.complete ?? true, passed: check.passed, failed: check.failed, facts: check.facts, checks: check.checks },
    attention: attention && { timing: attention.timing, candidates: attention.candidates, results: attention.results },
    matmulTiming: matmul?.timing ?? null,
    torch: torch && { torch: torch.torch, device: torch.device, deviceName: torch.deviceName, dtype: torch.dtype, loadMs: torch.loadMs, errors: torch.errors },
    vsTorch,
  },
};

mkdirSync(outDir, { recursive: true });
const jsonFile = path.join(outDir, `${base}.json`);
const svgFile = path.join(outDir, `${base}.svg`);
writeFileSync(`${jsonFile}.tmp`, JSON.stringify(result, null, 1));
renameSync(`${jsonFile}.tmp`, jsonFile);
let svg: string;
try {
  svg = renderChart([result]);
} catch (e) {
  svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="10" y="25">chart failed: ${(e as Error).message.replace(/[<&>]/g, '')}</text></svg>`;
}
writeFileSync(`${svgFile}.tmp`, svg);
renameSync(`${svgFile}.tmp`, svgFile);

// ---- summary -------------------------------------------------------------------------------------
console.log(`adapter: ${adapterText}`);
for (const s of steps) console.log(`step ${s.name.padEnd(10)} ${s.status.padEnd(8)} ${s.seconds.toFixed(0).padStart(4)} s${s.detail ? `  ${s.detail}` : ''}`);
if (check) console.log(`checks: ${check.passed} passed, ${check.failed} failed`);
for (const r of results) console.log(`${r.engine} (${r.backend}) ${r.seq} x ${r.batch}: ${r.msPerBatch.toFixed(2)} ms, ${r.tokensPerSecond.toFixed(0)} tokens/s`);
for (const v of vsTorch) if (v.ratio !== undefined) console.log(`ours / pytorch at ${v.seq} x ${v.batch}: ${v.ratio.toFixed(3)}`);
console.log(`wrote ${jsonFile}`);
console.log(`wrote ${svgFile}`);
