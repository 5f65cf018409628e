// The benchmark harness (Node, Dawn): our engine and its peers on this machine, in one run.
//   npm run bench -- [--quick] [--json FILE] [--arch neobert|bert-minilm|modernbert-base]
//        [--model DIR | --config base] [--seq 16,128,...]
//        [--batch 1,8,...] [--repeats N] [--warmup N] [--peers ort-webgpu,ort-wasm,pytorch,gpujs]
//        [--max-tokens N] [--point-budget-s S] [--profile none|first|all] [--no-save]
//        [--dtype f32|f16] [--matmul-strategy tiled|subgroup] [--ort-v8-flags "..."] [--ort-tick-ms N]
// Prints the adapter, then per (seq, batch): tokens/s and ms per batch (median, spread over the
// timed repeats after warm-up) for every engine, interleaved; our first-call time, GPU memory
// (sum of buffer sizes: weights + plan + staging) and per-kernel GPU time (timestamp queries);
// a matmul microbenchmark against gpu.js; and the target ratios. Writes
// bench/results/<adapter>-<date>.json and .svg (unless --no-save) and --json FILE.
// --arch bert-minilm / modernbert-base: random weights of all-MiniLM-L6-v2's / ModernBERT-base's
// dimensions, written once as a Hub folder that our engine (through the architecture registry)
// and the PyTorch / ONNX peers all load, so outputs compare; --model DIR runs any checkpoint whose
// model_type the engine knows. See bench/README.md for the peers and how each one is run.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createGPU, type GPUContext } from '../src/gpu';
import { sourceFor } from '../src/node';
import { renderChart } from './chart';
import { bundle, OrtChild, TorchChild } from './run/children';
import { runGrid, type BenchEngine } from './run/grid';
import { ensureOnnx, pythonProblem, torchModelArgs, torchPeerFor, type OnnxExport } from './run/onnx';
import { layerShapesFor, runMatmulBench, type MatmulShape } from './run/matmul';
import { ensureRandomCheckpoint, RANDOM_PRESETS } from './run/random-checkpoint';
import { OursEngine, type ModelSpec } from './run/ours';
import { computeTargets, summary, type BenchResult } from './run/report';
import type { GpujsModule } from './peers/gpujs-matmul';

const root = process.cwd();
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    arch: { type: 'string', default: 'neobert' },
    model: { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean', default: false },
    seq: { type: 'string' },
    batch: { type: 'string' },
    repeats: { type: 'string' },
    warmup: { type: 'string' },
    peers: { type: 'string', default: 'ort-webgpu,ort-wasm,pytorch,gpujs' },
    'max-tokens': { type: 'string' },
    'point-budget-s': { type: 'string' },
    'call-timeout-s': { type: 'string' },
    profile: { type: 'string' },
    'no-save': { type: 'boolean', default: false },
    'no-matmul': { type: 'boolean', default: false },
    dtype: { type: 'string' },
    'matmul-strategy': { type: 'string' },
    'ort-v8-flags': { type: 'string', default: '' },
    'ort-tick-ms': { type: 'string', default: '0' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'out-dir': { type: 'string', default: 'bench/results' },
  },
});
if (values.help) {
  console.log(
    [
      'npm run bench -- [options]   (see bench/README.md)',
      '  --arch neobert | bert-minilm | modernbert-base   model (default neobert: --model DIR or weights/neobert-mini, --config base)',
      `      ${Object.entries(RANDOM_PRESETS).map(([k, v]) => `${k}: ${v.label}`).join('\n      ')}`,
      '  --quick   small grid for a software adapter; --seq, --batch, --max-tokens, --repeats, --warmup, --point-budget-s',
      '  --peers ort-webgpu,ort-wasm,pytorch,gpujs   --profile none|first|all   --no-matmul --no-save --json FILE',
      '  --dtype f32|f16 --matmul-strategy tiled|subgroup --python PATH --ort-v8-flags "..." --ort-tick-ms N',
    ].join('\n'),
  );
  process.exit(0);
}
const quick = values.quick!;
const arch = values.arch!;
if (arch !== 'neobert' && !RANDOM_PRESETS[arch]) throw new Error(`--arch: neobert, ${Object.keys(RANDOM_PRESETS).join(', ')}; got ${arch}`);
if (arch !== 'neobert' && (values.model || values.config)) throw new Error(`--arch ${arch} builds its own random checkpoint: leave out --model / --config`);
const list = (s: string | undefined, d: number[]) => (s ? s.split(',').map(Number) : d);
const peers = new Set(values.peers!.split(',').filter(Boolean));
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const log = (line: string) => console.log(line);
const notes: string[] = [];

// ---------------------------------------------------------------------------------- adapter
const gpu: GPUContext = await createGPU();
const a = gpu.adapter;
const adapterText = `${a.vendor} / ${a.architecture} (${a.description})`;
const cpuAdapter = /llvmpipe|lavapipe|swiftshader|software/i.test(`${a.vendor} ${a.architecture} ${a.description}`);
log(`adapter: ${adapterText}${cpuAdapter ? '  [software adapter: WebGPU runs on this CPU]' : ''}`);
log(`features: ${a.features.join(', ')}; timestamps ${gpu.hasTimestamps ? 'yes' : 'no'}`);
const host = { platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, loadavg: os.loadavg() };
log(`host: ${host.cpus} x ${host.cpuModel}, load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')} (others share this machine: engines are interleaved)`);

// ---------------------------------------------------------------------------------- model
const isBase = values.config === 'base';
if (values.config && !isBase) throw new Error(`--config: only "base" is known, got ${values.config}`);
// A random preset (--arch bert-minilm / modernbert-base) is a checkpoint folder written once.
const preset = arch === 'neobert' ? null : RANDOM_PRESETS[arch];
const modelDir = preset ? ensureRandomCheckpoint(root, arch, log) : path.resolve(values.model ?? 'weights/neobert-mini');
const spec: ModelSpec = isBase
  ? { kind: 'base', label: 'NeoBERT base config (28 x 768), random weights' }
  : { kind: 'checkpoint', source: await sourceFor(modelDir), label: preset ? preset.label : path.relative(root, modelDir) || modelDir };
/** Random weights every engine builds for itself (only --config base): outputs do not compare. */
const ownRandomWeights = isBase;
/** Large models with random weights: small points only on a software adapter. */
const isLarge = isBase || arch === 'modernbert-base';
const engineOptions: Record<string, unknown> = {};
if (values.dtype) engineOptions.dtype = values.dtype;
if (values['matmul-strategy']) engineOptions.matmulStrategy = values['matmul-strategy'];
const ours = await OursEngine.load(gpu, spec, engineOptions);
const cfg = ours.description.config;
const ffnText = (c: typeof cfg) => {
  const x = c as typeof cfg & { ffnWidth?: number; intermediateSize?: number };
  return x.ffnWidth !== undefined ? `FFN ${x.ffnWidth}` : `intermediate ${x.intermediateSize}`;
};
log(
  `model: ${spec.label} (${cfg.modelType}): ${cfg.numLayers} layers x ${cfg.hiddenSize}, ${cfg.numHeads} heads, ${ffnText(cfg)}, vocab ${cfg.vocabSize}, ` +
    `${(ours.description.parameters / 1e6).toFixed(1)} M params; engine options ${JSON.stringify(ours.description.engineOptions)}`,
);
log(`ours: load ${ours.loadMs.toFixed(0)} ms (read+parse ${ours.readMs.toFixed(0)}, upload+compile ${ours.createMs.toFixed(0)})`);

// ---------------------------------------------------------------------------------- grid
// ModernBERT-base: seq 128 / 512 / 2048 x batch 8 and 8192 x 1 on a GPU (--max-tokens 16384 drops
// 8192 x 8); on a software adapter 128 x 8 and 512 x 8 (4096 tokens: a 150 M-parameter model).
const modern = arch === 'modernbert-base';
const seqs = list(values.seq, modern ? (quick ? [128, 512] : [128, 512, 2048, 8192]) : quick ? [16, 128, 512] : [16, 128, 512, 2048, 4096]);
const batches = list(values.batch, modern ? (quick ? [8] : [1, 8]) : quick ? [8] : [1, 8, 32]);
const defaultMaxTokens = modern ? (cpuAdapter ? 4096 : 16384) : isBase ? (cpuAdapter ? 1024 : 131072) : cpuAdapter ? 32768 : 262144;
const maxTokens = Number(values['max-tokens'] ?? defaultMaxTokens);
const points = seqs.flatMap((seq) => batches.map((batch) => ({ seq, batch }))).filter((p) => p.seq <= cfg.maxLength);
const skippedPoints = points.filter((p) => p.seq * p.batch > maxTokens);
const gridPoints = points.filter((p) => p.seq * p.batch <= maxTokens);
if (skippedPoints.length) notes.push(`points over --max-tokens ${maxTokens} skipped: ${skippedPoints.map((p) => `${p.seq}x${p.batch}`).join(', ')}`);
const repeats = Number(values.repeats ?? (quick ? 3 : 7));
// --quick: the first call is the only warm-up (it is never timed); otherwise one more.
const warmup = Number(values.warmup ?? (quick ? 1 : 2));
const pointBudgetMs = Number(values['point-budget-s'] ?? (quick ? 20 : 120)) * 1000;
// One ModernBERT-base forward at 512 x 8 takes minutes on a software adapter.
const callTimeoutMs = Number(values['call-timeout-s'] ?? (quick && !(isLarge && cpuAdapter) ? 90 : 900)) * 1000;
const profileMode = values.profile ?? (quick ? 'first' : 'all');

// ---------------------------------------------------------------------------------- peers
const peerInfo: BenchResult['peers'] = {};
const load: BenchResult['load'] = { 'neobert-webgpu/webgpu': { loadMs: ours.loadMs, readMs: ours.readMs, createMs: ours.createMs } };
const python = values.python!;
const torchPeer = torchPeerFor(cfg.modelType);
const torchScript = path.join(root, torchPeer.script);

const pyProblem = peers.has('pytorch') || peers.has('ort-webgpu') || peers.has('ort-wasm') ? pythonProblem(python) : null;
const onnxModel = isBase ? ({ base: true } as const) : { dir: modelDir };

const engines: BenchEngine[] = [];
let current: { seq: number; batch: number; ids: Int32Array; mask: Int32Array } = { seq: 0, batch: 0, ids: new Int32Array(), mask: new Int32Array() };
const oursEngine: BenchEngine = {
  engine: 'neobert-webgpu',
  backend: 'webgpu',
  device: adapterText,
  async setInputs(seq, batch, ids, mask) {
    current = { seq, batch, ids, mask };
  },
  run: () => ours.run(current.seq, current.batch, current.ids, current.mask),
  output: () => ours.output(current.seq, current.batch, current.ids, current.mask),
};
engines.push(oursEngine);

const children: { stop(): void }[] = [];
process.on('exit', () => children.forEach((c) => c.stop()));
let onnx: OnnxExport | null = null;
if (peers.has('ort-webgpu') || peers.has('ort-wasm')) {
  try {
    onnx = ensureOnnx(root, python, onnxModel, log, torchPeer);
  } catch (e) {
    for (const p of ['ort-webgpu', 'ort-wasm']) if (peers.has(p)) peerInfo[`onnxruntime-web/${p.slice(4)}`] = { status: 'failed', detail: (e as Error).message };
  }
}
const ortScript = onnx ? await bundle(root, 'bench/peers/ort-node.ts', 'ort-node') : '';
for (const backend of ['webgpu', 'wasm'] as const) {
  const name = `onnxruntime-web/${backend}`;
  if (!peers.has(`ort-${backend}`)) {
    peerInfo[name] = { status: 'skipped', detail: 'not in --peers' };
    continue;
  }
  if (!onnx) continue;
  const execArgv = backend === 'webgpu' ? values['ort-v8-flags']!.split(' ').filter(Boolean) : [];
  const t = performance.now();
  try {
    const startOpts = {
      execArgv,
      timeoutMs: quick && !isLarge ? 120_000 : 600_000,
      threads: backend === 'wasm' ? os.cpus().length : undefined,
      tickMs: Number(values['ort-tick-ms']) || undefined,
    };
    let child: OrtChild;
    let probeCrash: string | null = null;
    try {
      child = await OrtChild.start(ortScript, backend, onnx.file, startOpts);
    } catch (e) {
      // The as-shipped probe (no shim) can take the child down: Dawn's writeBuffer segfaults on some
      // shared-memory views instead of rejecting them (seen with the BERT export). Once more without it.
      if (backend !== 'webgpu' || !/SIGSEGV|SIGBUS|SIGABRT/.test((e as Error).message)) throw e;
      probeCrash = (e as Error).message;
      log(`${name}: child crashed during the as-shipped probe (${probeCrash}); again with the shim only`);
      child = await OrtChild.start(ortScript, backend, onnx.file, { ...startOpts, skipProbe: true });
    }
    children.push(child);
    const r = child.ready;
    if (probeCrash) r.withoutShim = `the ORT child crashed (${probeCrash}) during the as-shipped probe (session + a 1 x 8 run without the shim)`;
    const adapter = r.adapter as { vendor: string; architecture: string; description: string } | null;
    const device = backend === 'webgpu' ? (adapter ? `${adapter.vendor} / ${adapter.architecture} (${adapter.description})` : 'unknown adapter') : `CPU (wasm SIMD, ${String(r.threads)} threads)`;
    load[name] = { loadMs: r.loadMs as number, processStartMs: performance.now() - t };
    peerInfo[name] = {
      status: 'ran',
      detail: backend === 'webgpu' ? `Node child (V8 flags [${execArgv.join(' ')}]) with the shared-view writeBuffer shim` : `Node child, ort.node wasm build`,
      device,
      ortVersion: r.ortVersion,
      onnx: path.relative(root, onnx.file),
      onnxVerification: onnx.meta.verification ? 'PyTorch module matched every fixture (rel L2 < 1e-4) before export' : 'not verified',
      ...(backend === 'webgpu' ? { withoutShim: r.withoutShim, shim: r.shim, v8Flags: execArgv } : { threads: r.threads }),
    };
    log(`${name}: session ${(r.loadMs as number).toFixed(0)} ms on ${device}${backend === 'webgpu' ? `; as shipped: "${String(r.withoutShim)}"` : ''}`);
    engines.push({
      engine: 'onnxruntime-web',
      backend,
      device,
      setInputs: (seq, batch, ids) => child.setInputs(seq, batch, ids),
      run: (timeoutMs) => child.run(timeoutMs),
      output: () => child.output(),
    });
  } catch (e) {
    peerInfo[name] = { status: 'failed', detail: (e as Error).message };
    log(`${name}: FAILED: ${(e as Error).message}`);
  }
}

let torch: TorchChild | null = null;
if (peers.has('pytorch')) {
  if (pyProblem) peerInfo['pytorch/cpu'] = { status: 'failed', detail: pyProblem };
  else {
    try {
      torch = await TorchChild.start(python, torchScript, torchModelArgs(onnxModel), { threads: os.cpus().length, timeoutMs: 120_000 });
      children.push(torch);
      const r = torch.ready;
      const device = `CPU (PyTorch ${String(r.torch)}, ${String(r.threads)} threads)`;
      load['pytorch/cpu'] = { loadMs: r.loadMs as number };
      peerInfo['pytorch/cpu'] = { status: 'ran', detail: `${torchPeer.script} serve (reference module, float32, inference_mode)`, device, blas: r.blas };
      const blas = r.blas as { BLAS_INFO?: string; libblas?: string[] } | undefined;
      if (blas?.BLAS_INFO === 'generic' && blas.libblas?.some((l) => /\/blas\/libblas/.test(l))) {
        notes.push(`PyTorch CPU figures use the reference Netlib BLAS (${blas.libblas.join(', ')}; torch BLAS_INFO=generic): an optimised BLAS would be several times faster`);
      }
      log(`pytorch: ${device}, model built in ${(r.loadMs as number).toFixed(0)} ms`);
      const t = torch;
      engines.push({ engine: 'pytorch', backend: 'cpu', device, setInputs: (seq, batch, ids) => t.setInputs(seq, batch, ids), run: () => t.run(), output: () => t.output() });
    } catch (e) {
      peerInfo['pytorch/cpu'] = { status: 'failed', detail: (e as Error).message };
    }
  }
} else peerInfo['pytorch/cpu'] = { status: 'skipped', detail: 'not in --peers' };

// ---------------------------------------------------------------------------------- sweep
log(`\nsweep: ${gridPoints.map((p) => `${p.seq}x${p.batch}`).join(', ')}; warm-up ${warmup} (incl. the first call), up to ${repeats} timed repeats per engine, interleaved  [${elapsed()}]`);
let profiled = false;
const grid = await runGrid(engines, {
  points: gridPoints,
  vocabSize: cfg.vocabSize,
  warmup,
  repeats,
  minRepeats: Math.min(3, repeats),
  pointBudgetMs,
  callTimeoutMs,
  // Random weights differ per engine (each builds its own), so outputs compare only for checkpoints.
  checkOutputs: !ownRandomWeights,
  log,
  async afterPoint(seq, batch, ids, mask) {
    const extra: Record<string, unknown> = {};
    try {
      extra.memory = ours.memory(seq, batch);
    } catch (e) {
      notes.push(`memory figure at ${seq}x${batch}: ${(e as Error).message}`);
      return extra;
    }
    const wantProfile = profileMode === 'all' || (profileMode === 'first' && !profiled && (seq === 128 || gridPoints.every((p) => p.seq !== 128)));
    if (wantProfile && ours.canProfile) {
      extra.profile = await ours.profile(seq, batch, ids, mask);
      profiled = true;
    }
    return extra;
  },
});
if (!ours.canProfile) notes.push('per-kernel profile: this adapter has no timestamp-query feature');

// ---------------------------------------------------------------------------------- matmul
let matmul: BenchResult['matmul'] = [];
const torchMatmul: Record<string, number> = {};
if (!values['no-matmul']) {
  log(`\nmatmul: ours vs gpu.js (same shapes and data), PyTorch CPU for scale  [${elapsed()}]`);
  // The model's own matmuls (NeoBERT: qkv, wo, w12, w3) at every token count of the sweep, so
  // gpu.js gets a measured per-point figure; plus NeoBERT-base shapes for a matmul that fills the device.
  const tokenCounts = [...new Set(gridPoints.map((p) => p.seq * p.batch))].filter((m) => m <= (isBase || (isLarge && cpuAdapter) ? 1024 : 16384)).sort((x, y) => x - y);
  const shapes: MatmulShape[] = tokenCounts.flatMap((m) => layerShapesFor(cfg, m).map((s) => ({ ...s, name: `${s.name}@${m}` })));
  if (!isBase) shapes.push({ name: 'base.qkv@128', M: 128, N: 2304, K: 768 });
  if (!quick) shapes.push({ name: 'base.w12@512', M: 512, N: 4096, K: 768 }, { name: 'square@512', M: 512, N: 512, K: 512 });
  let gpujs: GpujsModule | null = null;
  if (peers.has('gpujs')) {
    try {
      // gpu.js's webgpu mode uses navigator.gpu: give it the Dawn instance our device came from.
      Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpu.instance }, configurable: true, writable: true });
      gpujs = createRequire(import.meta.url)('gpu.js') as GpujsModule;
    } catch (e) {
      peerInfo['gpu.js/webgpu'] = { status: 'failed', detail: `cannot load gpu.js: ${(e as Error).message}` };
    }
  } else peerInfo['gpu.js/webgpu'] = { status: 'skipped', detail: 'not in --peers' };
  const kernels = await import('../src/kernels');
  const strategyOf = (kernels as unknown as { matmulStrategy?: (d: GPUDevice) => string }).matmulStrategy;
  const defaultStrategy = strategyOf?.(gpu.device);
  const strategies = defaultStrategy === 'subgroup' ? ['subgroup', 'tiled'] : [undefined];
  const mm = await runMatmulBench(gpu, { shapes, repeats: quick ? 3 : 5, targetMs: quick ? 30 : 60, strategies, gpujs, log });
  matmul = mm.results;
  for (const [k, v] of Object.entries(mm.errors)) {
    if (k === 'gpu.js') peerInfo['gpu.js/webgpu'] = { status: 'failed', detail: v };
    else notes.push(`matmul ${k}: ${v}`);
  }
  if (gpujs && !peerInfo['gpu.js/webgpu']) {
    const mode = matmul.find((m) => m.engine === 'gpu.js')?.variant;
    peerInfo['gpu.js/webgpu'] = { status: mode === 'webgpu' ? 'ran' : 'failed', detail: `gpu.js ${createRequire(import.meta.url)('gpu.js/package.json').version} in mode ${mode} on ${adapterText} (navigator.gpu = the same Dawn instance)`, device: adapterText };
  }
  if (torch) {
    for (const s of shapes) {
      const ms = await torch.matmul(s.M, s.N, s.K, 5);
      const med = [...ms].sort((x, y) => x - y)[Math.floor(ms.length / 2)];
      torchMatmul[s.name] = (2 * s.M * s.N * s.K) / med / 1e6;
      log(`  matmul ${s.name} pytorch/cpu: ${med.toFixed(2)} ms, ${torchMatmul[s.name].toFixed(2)} GFLOP/s`);
    }
  }
}

// ---------------------------------------------------------------------------------- report
const results = grid.results;
const targets = computeTargets(results, matmul, adapterText, torchMatmul);
const date = new Date().toISOString();
const result: BenchResult = {
  schema: 'neobert-bench/1',
  date,
  runtime: 'node',
  adapter: adapterText,
  adapterInfo: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, features: a.features },
  host,
  model: { label: spec.label, ...(preset ? { arch, dir: path.relative(root, modelDir) } : {}), config: cfg, parameters: ours.description.parameters, weights: ours.description.weights, engineOptions: ours.description.engineOptions },
  options: { quick, ...(arch !== 'neobert' ? { arch } : {}), seqs, batches, warmup, repeats, pointBudgetMs, maxTokens, peers: [...peers], profile: profileMode },
  load,
  results,
  matmul,
  targets,
  peers: peerInfo,
  errors: grid.errors,
  notes,
};
if (torchMatmul && Object.keys(torchMatmul).length) (result as unknown as Record<string, unknown>).pytorchMatmulGflops = torchMatmul;
addGpujsEntries(result);

console.log(`\n${summary(result)}\n`);
const slug = `${a.vendor || 'unknown'}-${(/llvmpipe|swiftshader/i.exec(a.description)?.[0] ?? a.architecture) || 'gpu'}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
const writeAtomic = (file: string, text: string) => {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
};
if (!values['no-save']) {
  // --arch runs get their own file name, so they never overwrite a NeoBERT run of the same day.
  const base = path.join(values['out-dir']!, `${slug}${arch !== 'neobert' ? `-${arch}` : ''}-${date.slice(0, 10)}`);
  writeAtomic(`${base}.json`, `${JSON.stringify(result, null, 1)}\n`);
  writeAtomic(`${base}.svg`, renderChart([result]));
  log(`wrote ${base}.json and ${base}.svg`);
}
if (values.json) {
  writeAtomic(values.json, `${JSON.stringify(result, null, 1)}\n`);
  log(`wrote ${values.json}`);
}
log(`done in ${elapsed()}`);
ours.destroy();
for (const c of children) c.stop();
gpu.destroy();
setTimeout(() => process.exit(0), 200);

/** gpu.js rows in `results`: the model's matmuls of one forward at each point, run by gpu.js. */
function addGpujsEntries(r: BenchResult): void {
  for (const p of gridPoints) {
    const m = p.seq * p.batch;
    const names = layerShapesFor(cfg, m).map((s) => `${s.name}@${m}`);
    const layer = r.matmul.filter((x) => x.engine === 'gpu.js' && names.includes(x.shape) && x.M === m);
    if (layer.length !== 4) continue;
    const ms = layer.reduce((s, x) => s + x.msPerCall, 0) * cfg.numLayers;
    r.results.push({
      engine: 'gpu.js',
      backend: 'webgpu',
      device: adapterText,
      seq: p.seq,
      batch: p.batch,
      tokensPerSecond: m / (ms / 1000),
      msPerBatch: ms,
      spread: { median: ms, min: ms, max: ms, p25: ms, p75: ms, relIqr: 0, n: 0 },
      firstCallMs: layer.reduce((s, x) => s + x.firstCallMs, 0),
      repeats: Math.min(...layer.map((x) => x.spread.n)),
      kind: `matmul-only: the four matmuls of each layer (${layerShapesFor(cfg, m).map((s) => s.name).join(', ')}) at M = seq x batch, medians summed, x layers; no attention, norms or readback`,
    });
  }
  if (r.results.some((x) => x.engine === 'gpu.js')) {
    r.notes.push('gpu.js rows in results are its matmuls alone (gpu.js cannot express attention or reductions across threads); the measured figures are in matmul[]');
  }
}
