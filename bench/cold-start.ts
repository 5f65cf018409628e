// Cold start: time from Encoder.load() to the first embedding, and the pipelines compiled, for
// the bundled NeoBERT, all-MiniLM-L6-v2 dimensions and ModernBERT-base dimensions (random weights,
// bench/run/random-checkpoint.ts), in one run, three ways per model, interleaved:
//   no-cache    the per-device pipeline cache turned off (setPipelineCacheEnabled(false)): every
//               kernel creation compiles its own pipeline, as before the cache; a fresh device
//   no-cache-reload  the same, again on that device after dispose(): a second load before the
//               cache (whatever the implementation itself caches, Dawn does dedupe by content)
//   fresh       the cache on, a fresh device: each distinct pipeline compiled once
//   reload      the cache on, the same device as `fresh` after that model's dispose(): compiles nothing
// Times are wall clock on this machine (quote them side by side, with the adapter); the
// pipeline counts are exact (pipelineStats). Writes a JSON naming the adapter.
//   node scripts/build.mjs --run bench/cold-start.ts [--models neobert,bert-minilm,modernbert-base] [--rounds 1] [--json FILE]
import { parseArgs } from 'node:util';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Encoder } from '../src/encoder';
import { createGPU, type GPUContext } from '../src/gpu';
import { pipelineStats, setPipelineCacheEnabled } from '../src/kernels';
import { folderSource } from '../src/sources/folder';
import { ensureRandomCheckpoint, RANDOM_PRESETS } from './run/random-checkpoint';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'neobert,bert-minilm,modernbert-base' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const cwdRoot = process.cwd(); // the repo root (scripts/build.mjs --run runs from it)
const log = (s: string) => console.log(s);
const models = values.models!.split(',');
const rounds = Number(values.rounds);

function source(model: string): { dir: string; label: string } {
  if (model === 'neobert') return { dir: path.resolve(cwdRoot, 'weights/neobert-mini'), label: 'bundled NeoBERT (weights/neobert-mini: 2 x 64)' };
  return { dir: ensureRandomCheckpoint(cwdRoot, model, log), label: RANDOM_PRESETS[model].label };
}

// One short input as ids (the random checkpoints have no tokenizer): [CLS] a few tokens [SEP].
const IDS = [[101, 1996, 4937, 2938, 2006, 1996, 13523, 102]];

interface Point {
  model: string;
  mode: 'no-cache' | 'no-cache-reload' | 'fresh' | 'reload';
  round: number;
  loadMs: number;
  firstEmbedMs: number;
  totalMs: number;
  pipelinesCompiled: number;
  pipelinesReused: number;
}

async function coldStart(model: string, dir: string, gpu: GPUContext, mode: Point['mode'], round: number): Promise<Point> {
  setPipelineCacheEnabled(!mode.startsWith('no-cache'));
  const before = pipelineStats(gpu.device);
  const t0 = performance.now();
  const encoder = await Encoder.load(folderSource(dir), { gpu });
  const t1 = performance.now();
  const [embedding] = await encoder.embed(IDS);
  const t2 = performance.now();
  if (!embedding.every(Number.isFinite)) throw new Error(`${model} ${mode}: non-finite embedding`);
  const after = pipelineStats(gpu.device);
  await encoder.dispose();
  setPipelineCacheEnabled(true);
  const p: Point = {
    model,
    mode,
    round,
    loadMs: t1 - t0,
    firstEmbedMs: t2 - t1,
    totalMs: t2 - t0,
    pipelinesCompiled: after.created - before.created,
    pipelinesReused: after.reused - before.reused,
  };
  log(
    `${model.padEnd(16)} ${mode.padEnd(15)} load ${(p.loadMs / 1000).toFixed(2).padStart(7)} s  first embed ${(p.firstEmbedMs / 1000).toFixed(2).padStart(6)} s  ` +
      `total ${(p.totalMs / 1000).toFixed(2).padStart(7)} s  pipelines compiled ${String(p.pipelinesCompiled).padStart(3)}, reused ${p.pipelinesReused}`,
  );
  return p;
}

const points: Point[] = [];
let adapter = '';
let adapterSlug = '';
for (const model of models) {
  const { dir, label } = source(model);
  log(`\n${model}: ${label}`);
  for (let round = 0; round < rounds; round++) {
    // no-cache first on its own device, then fresh + reload on another: each mode its own device
    // (a device's pipelines could otherwise help the next mode).
    const plain = await createGPU();
    adapter ||= `${plain.adapter.vendor} / ${plain.adapter.architecture} (${plain.adapter.description})`;
    adapterSlug ||= plain.adapter.slug;
    points.push(await coldStart(model, dir, plain, 'no-cache', round));
    points.push(await coldStart(model, dir, plain, 'no-cache-reload', round));
    plain.destroy();
    const gpu = await createGPU();
    points.push(await coldStart(model, dir, gpu, 'fresh', round));
    points.push(await coldStart(model, dir, gpu, 'reload', round));
    gpu.destroy();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
log(`\nadapter: ${adapter}\nmodel            mode            total s  (x no-cache)  pipelines compiled`);
const summary = models.flatMap((model) =>
  (['no-cache', 'no-cache-reload', 'fresh', 'reload'] as const).map((mode) => {
    const ps = points.filter((p) => p.model === model && p.mode === mode);
    const base = median(points.filter((p) => p.model === model && p.mode === 'no-cache').map((p) => p.totalMs));
    const total = median(ps.map((p) => p.totalMs));
    const row = { model, mode, totalMs: total, ratioToNoCache: total / base, pipelinesCompiled: median(ps.map((p) => p.pipelinesCompiled)) };
    log(`${model.padEnd(16)} ${mode.padEnd(15)} ${(total / 1000).toFixed(2).padStart(7)}  (${row.ratioToNoCache.toFixed(2)}x)  ${String(row.pipelinesCompiled).padStart(5)}`);
    return row;
  }),
);
if (values.json) {
  const out = { schema: 'neobert-cold-start/1', date: new Date().toISOString(), adapter, adapterSlug, rounds, note: 'one process, modes interleaved per model; wall times on a shared machine', points, summary };
  writeFileSync(`${values.json}.tmp`, `${JSON.stringify(out, null, 1)}\n`);
  renameSync(`${values.json}.tmp`, values.json);
  log(`wrote ${values.json}`);
}
