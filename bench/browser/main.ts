// The browser bench page: our engine, onnxruntime-web's WebGPU EP and gpu.js in one page, on the
// page's adapter (navigator.gpu), with the same sweep and interleaving as the Node harness.
// bench/browser/run.ts serves it with Vite and calls window.neobertBench.run(options).
import * as ort from 'onnxruntime-web/webgpu';
import * as gpujs from 'gpu.js';
import { createGPU } from '../../src/gpu';
import { urlSource } from '../../src/checkpoint';
import { OursEngine, type ModelSpec } from '../run/ours';
import { runGrid, type BenchEngine } from '../run/grid';
import { layerShapesFor, runMatmulBench, type MatmulShape } from '../run/matmul';
import { computeTargets, type BenchResult } from '../run/report';
import { createOrtEngine, type Ort } from '../peers/ort-engine';
import type { GpujsModule } from '../peers/gpujs-matmul';

export interface BrowserBenchOptions {
  model: string | null; // URL of a Hub-style folder, or null for the base config with random weights
  modelLabel: string;
  onnxUrl: string | null;
  points: { seq: number; batch: number }[];
  warmup: number;
  repeats: number;
  pointBudgetMs: number;
  callTimeoutMs: number;
  peers: string[];
  profile: 'none' | 'first' | 'all';
  matmul: boolean;
  quick: boolean;
  notes: string[];
}

const logEl = document.getElementById('log')!;
function log(line: string): void {
  console.log(line);
  logEl.textContent += `${line}\n`;
}

async function run(o: BrowserBenchOptions): Promise<BenchResult> {
  const gpu = await createGPU();
  const a = gpu.adapter;
  const adapterText = `${a.vendor} / ${a.architecture} (${a.description})`;
  log(`adapter: ${adapterText}; timestamps ${gpu.hasTimestamps ? 'yes' : 'no'}; crossOriginIsolated ${self.crossOriginIsolated}`);
  const spec: ModelSpec = o.model ? { kind: 'checkpoint', source: urlSource(o.model), label: o.modelLabel } : { kind: 'base', label: o.modelLabel };
  const ours = await OursEngine.load(gpu, spec);
  const cfg = ours.description.config;
  log(`ours: load ${ours.loadMs.toFixed(0)} ms (fetch+parse ${ours.readMs.toFixed(0)}, upload+compile ${ours.createMs.toFixed(0)})`);
  const peers: BenchResult['peers'] = {};
  const load: BenchResult['load'] = { 'neobert-webgpu/webgpu': { loadMs: ours.loadMs, readMs: ours.readMs, createMs: ours.createMs } };
  const notes = [...o.notes];

  let current = { seq: 0, batch: 0, ids: new Int32Array(), mask: new Int32Array() } as { seq: number; batch: number; ids: Int32Array; mask: Int32Array };
  const engines: BenchEngine[] = [
    {
      engine: 'neobert-webgpu',
      backend: 'webgpu',
      device: adapterText,
      async setInputs(seq, batch, ids, mask) {
        current = { seq, batch, ids, mask };
      },
      run: () => ours.run(current.seq, current.batch, current.ids, current.mask),
      output: () => ours.output(current.seq, current.batch, current.ids, current.mask),
    },
  ];

  const ortModule = ort as unknown as Ort;
  ortModule.env.wasm.wasmPaths = new URL('/node_modules/onnxruntime-web/dist/', location.href).href;
  ortModule.env.wasm.numThreads = 1;
  ortModule.env.logLevel = 'error';
  for (const backend of ['webgpu', 'wasm'] as const) {
    const name = `onnxruntime-web/${backend}`;
    if (!o.peers.includes(`ort-${backend}`)) {
      peers[name] = { status: 'skipped', detail: 'not in --peers' };
      continue;
    }
    if (!o.onnxUrl) {
      peers[name] = { status: 'failed', detail: 'no ONNX export (see the driver output)' };
      continue;
    }
    try {
      const bytes = new Uint8Array(await (await fetch(o.onnxUrl)).arrayBuffer());
      const engine = await createOrtEngine(ortModule, bytes, backend);
      const device =
        backend === 'webgpu'
          ? engine.adapter
            ? `${engine.adapter.vendor} / ${engine.adapter.architecture} (${engine.adapter.description})`
            : 'unknown adapter'
          : 'CPU (wasm SIMD, 1 thread)';
      load[name] = { loadMs: engine.loadMs };
      peers[name] = { status: 'ran', detail: `in the same page (onnxruntime-web ${ortModule.env.versions?.web ?? ''}, ${backend} EP)`, device };
      log(`${name}: session ${engine.loadMs.toFixed(0)} ms on ${device}`);
      engines.push({
        engine: 'onnxruntime-web',
        backend,
        device,
        async setInputs(seq, batch, ids) {
          engine.setInputs(seq, batch, ids);
        },
        run: () => engine.run(),
        output: () => engine.output(),
      });
    } catch (e) {
      peers[name] = { status: 'failed', detail: `${(e as Error).message ?? e}` };
      log(`${name}: FAILED: ${(e as Error).message ?? e}`);
    }
  }

  log(`sweep: ${o.points.map((p) => `${p.seq}x${p.batch}`).join(', ')}`);
  let profiled = false;
  const grid = await runGrid(engines, {
    points: o.points,
    vocabSize: cfg.vocabSize,
    warmup: o.warmup,
    repeats: o.repeats,
    minRepeats: Math.min(3, o.repeats),
    pointBudgetMs: o.pointBudgetMs,
    callTimeoutMs: o.callTimeoutMs,
    checkOutputs: o.model !== null,
    log,
    async afterPoint(seq, batch, ids, mask) {
      const extra: Record<string, unknown> = { memory: ours.memory(seq, batch) };
      const want = o.profile === 'all' || (o.profile === 'first' && !profiled && (seq === 128 || o.points.every((p) => p.seq !== 128)));
      if (want && ours.canProfile) {
        extra.profile = await ours.profile(seq, batch, ids, mask);
        profiled = true;
      }
      return extra;
    },
  });
  if (!ours.canProfile) notes.push('per-kernel profile: this adapter has no timestamp-query feature');

  let matmul: BenchResult['matmul'] = [];
  if (o.matmul) {
    log('matmul: ours vs gpu.js');
    const counts = [...new Set(o.points.map((p) => p.seq * p.batch))].filter((m) => m <= 4096).sort((x, y) => x - y);
    const shapes: MatmulShape[] = counts.flatMap((m) => layerShapesFor(cfg, m).map((s) => ({ ...s, name: `${s.name}@${m}` })));
    shapes.push({ name: 'base.qkv@128', M: 128, N: 2304, K: 768 });
    const gj = o.peers.includes('gpujs') ? (gpujs as unknown as GpujsModule) : null;
    if (!gj) peers['gpu.js/webgpu'] = { status: 'skipped', detail: 'not in --peers' };
    const mm = await runMatmulBench(gpu, { shapes, repeats: 3, targetMs: 30, gpujs: gj, log });
    matmul = mm.results;
    if (mm.errors['gpu.js']) peers['gpu.js/webgpu'] = { status: 'failed', detail: mm.errors['gpu.js'] };
    else if (gj) {
      const mode = matmul.find((m) => m.engine === 'gpu.js')?.variant;
      peers['gpu.js/webgpu'] = { status: mode === 'webgpu' ? 'ran' : 'failed', detail: `gpu.js browser build in mode ${mode}, same page`, device: adapterText };
    }
    for (const p of o.points) {
      const m = p.seq * p.batch;
      const names = layerShapesFor(cfg, m).map((s) => `${s.name}@${m}`);
      const layer = matmul.filter((x) => x.engine === 'gpu.js' && names.includes(x.shape) && x.M === m);
      if (layer.length !== 4) continue;
      const ms = layer.reduce((s, x) => s + x.msPerCall, 0) * cfg.numLayers;
      grid.results.push({
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
        kind: 'matmul-only: the four matmuls of each layer at M = seq x batch, medians summed, x layers',
      });
    }
  }

  const result: BenchResult = {
    schema: 'neobert-bench/1',
    date: new Date().toISOString(),
    runtime: 'browser',
    adapter: adapterText,
    adapterInfo: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, features: a.features },
    host: { userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency, crossOriginIsolated: self.crossOriginIsolated },
    model: { label: o.modelLabel, config: cfg, parameters: ours.description.parameters, weights: ours.description.weights, engineOptions: ours.description.engineOptions },
    options: { ...o, notes: undefined },
    load,
    results: grid.results,
    matmul,
    targets: computeTargets(grid.results, matmul, adapterText),
    peers,
    errors: grid.errors,
    notes,
  };
  ours.destroy();
  gpu.destroy();
  return result;
}

(window as unknown as { neobertBench: unknown }).neobertBench = { run };
document.body.dataset.state = 'ready';
