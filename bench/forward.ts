// Times one forward of a NeoBERT config with random weights (no checkpoint download needed).
//   node scripts/build.mjs --run bench/forward.ts [--layers 28] [--hidden 768] [--heads 12]
//        [--intermediate 3072] [--batch 1] [--seq 128] [--repeats 5] [--dtype f32|f16|f32,f16]
//        [--matmul tiled|subgroup|tiled,subgroup] [--vocab N] [--budget-s S] [--json FILE]
// --seq and --batch take lists (128,512,4096 and 8,1): every seq x batch point runs on the same
// loaded models, largest first is not assumed; a point whose forward fails (out of memory, over a
// binding limit) is recorded in `points[].error` and the next one runs. --budget-s caps the timed
// repeats of one point (at least 2 run).
// Defaults are the released NeoBERT config (28 x 768, FFN 2048, 30522 vocab). Prints the adapter,
// load time (upload + pipeline compilation), first-call time, and the median/min/max of the
// following calls (each a full forward with readback of the pooled output). --dtype is the storage
// of the matmul weights (NeoBERTModel.create's dtype option); with a list, one model per dtype is
// loaded and their forwards are interleaved (others share this CPU), and the ratio is printed.
// --matmul picks the matmul kernel (default: the device's, see matmulStrategy); a list of both is
// crossed with the dtypes in the same way.
import { parseArgs } from 'node:util';
import { renameSync, writeFileSync } from 'node:fs';
import { parseNeoBERTConfig as parseConfig, NEOBERT_BASE_CONFIG_JSON, NeoBERTModel, type NeoBERTWeights } from '../src/models/neobert';
import { createGPU } from '../src/gpu';
import type { ModelDtype } from '../src/models/types';
import type { MatmulStrategy } from '../src/kernels';
import { Runner } from '../src/runner';

const { values } = parseArgs({
  options: {
    layers: { type: 'string' },
    hidden: { type: 'string' },
    heads: { type: 'string' },
    intermediate: { type: 'string' },
    batch: { type: 'string', default: '1' },
    seq: { type: 'string', default: '128' },
    repeats: { type: 'string', default: '5' },
    json: { type: 'string' },
    dtype: { type: 'string', default: 'f32' },
    matmul: { type: 'string' },
    vocab: { type: 'string' },
    'budget-s': { type: 'string', default: '0' },
  },
});
const base = NEOBERT_BASE_CONFIG_JSON;
const config = parseConfig(
  {
    ...base,
    num_hidden_layers: Number(values.layers ?? base.num_hidden_layers),
    hidden_size: Number(values.hidden ?? base.hidden_size),
    num_attention_heads: Number(values.heads ?? base.num_attention_heads),
    dim_head: undefined,
    intermediate_size: Number(values.intermediate ?? base.intermediate_size),
    vocab_size: Number(values.vocab ?? base.vocab_size),
  },
  'bench config',
);
const seqs = values.seq!.split(',').map(Number);
const batches = values.batch!.split(',').map(Number);
const points = seqs.flatMap((seqLen) => batches.map((batch) => ({ seqLen, batch })));
const [{ batch, seqLen }] = points;
const repeats = Number(values.repeats);
const budgetMs = Number(values['budget-s']) * 1000;

// Cheap deterministic fill (an LCG): the timing does not depend on the values, only on them
// being finite and of a realistic scale.
let seed = 1;
function random(n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = (seed / 4294967296 - 0.5) * 2 * scale;
  }
  return a;
}
const { hiddenSize: C, ffnWidth: F, vocabSize: V } = config;
const weights: NeoBERTWeights = {
  embedding: random(V * C, 1),
  layers: Array.from({ length: config.numLayers }, () => ({
    attentionNorm: new Float32Array(C).fill(1),
    qkv: random(3 * C * C, 1 / Math.sqrt(C)),
    wo: random(C * C, 1 / Math.sqrt(C)),
    ffnNorm: new Float32Array(C).fill(1),
    w12: random(2 * F * C, 1 / Math.sqrt(C)),
    w3: random(C * F, 1 / Math.sqrt(F)),
  })),
  finalNorm: new Float32Array(C).fill(1),
  head: { kind: 'none' },
};
const parameters = V * C + config.numLayers * (2 * C + 4 * C * C + 3 * F * C) + C;

const gpu = await createGPU();
console.log(`adapter: ${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`);
console.log(
  `config: ${config.numLayers} layers x ${C} hidden, ${config.numHeads} heads, FFN ${F}, ${(parameters / 1e6).toFixed(1)} M params; ` +
    `points (batch x tokens) ${points.map((p) => `${p.batch} x ${p.seqLen}`).join(', ')}`,
);

const dtypes = values.dtype!.split(',') as ModelDtype[];
const strategies = (values.matmul?.split(',') ?? [undefined]) as (MatmulStrategy | undefined)[];
const configs = strategies.flatMap((matmulStrategy) => dtypes.map((dtype) => ({ dtype, matmulStrategy })));
function requestFor(batch: number, seqLen: number) {
  const inputIds = Int32Array.from({ length: batch * seqLen }, (_, i) => (1000 + ((i * 7919) % 20000)) % V);
  const attentionMask = new Int32Array(batch * seqLen).fill(1);
  return { inputIds, attentionMask, batch, seqLen, outputs: ['pooledCls' as const] };
}
// Matmul FLOPs (2 per multiply-add): qkv, wo, w12, w3 per layer; attention adds 4*L*L*C per sequence.
const flopsOf = (batch: number, seqLen: number) =>
  2 * batch * seqLen * config.numLayers * (4 * C * C + 3 * F * C) + 4 * batch * seqLen * seqLen * C * config.numLayers;

const runs: { name: string; dtype: ModelDtype; matmulStrategy?: MatmulStrategy; model: NeoBERTModel; runner: Runner; loadMs: number }[] = [];
for (const { dtype, matmulStrategy } of configs) {
  const t = performance.now();
  const model = await NeoBERTModel.create(gpu.device, config, weights, { dtype, matmulStrategy });
  const name = `${dtype}${matmulStrategy ? `/${matmulStrategy}` : ''}`;
  await gpu.device.queue.onSubmittedWorkDone();
  const loadMs = performance.now() - t;
  console.log(`${name}: load (upload + compile) ${(loadMs / 1000).toFixed(2)} s`);
  runs.push({ name, dtype, matmulStrategy, model, runner: new Runner(model), loadMs });
}

interface PointRun {
  name: string;
  dtype: ModelDtype;
  matmulStrategy?: MatmulStrategy;
  loadMs: number;
  firstMs: number;
  msPerBatch: number;
  times: number[];
  tokensPerSecond: number;
  gflops: number;
}
const pointResults: { seq: number; batch: number; tokens: number; flops: number; runs: PointRun[]; error?: string }[] = [];
/** The JSON so far (after every point, atomically), so a run stopped by a time limit keeps its points. */
function writeJson(): void {
  if (!values.json) return;
  const results = pointResults.find((p) => p.runs.length)?.runs ?? [];
  // Top-level fields describe the first point's first run (the format before lists); `runs` has
  // every run of that point, `points` every point.
  const first = pointResults.find((p) => p.runs.length) ?? { batch, seq: seqLen };
  const loads = runs.map(({ name, dtype, matmulStrategy, loadMs }) => ({ name, dtype, matmulStrategy, loadMs }));
  writeFileSync(
    `${values.json}.tmp`,
    JSON.stringify({ adapter: gpu.adapter, config, parameters, batch: first.batch, seqLen: first.seq, ...results[0], runs: results, loads, points: pointResults }, null, 2),
  );
  renameSync(`${values.json}.tmp`, values.json);
}
for (const { batch, seqLen } of points) {
  const request = requestFor(batch, seqLen);
  const tokens = batch * seqLen;
  const flops = flopsOf(batch, seqLen);
  const firsts: number[] = [];
  const times = runs.map(() => [] as number[]);
  try {
    for (const run of runs) {
      const t = performance.now();
      const first = await run.runner.forward(request);
      firsts.push(performance.now() - t);
      if (!first.pooledCls!.every(Number.isFinite)) throw new Error(`${run.name} forward produced NaN/Inf at ${batch} x ${seqLen}`);
    }
    const started = performance.now();
    for (let i = 0; i < repeats; i++) {
      for (const [r, run] of runs.entries()) {
        const t = performance.now();
        await run.runner.forward(request);
        times[r].push(performance.now() - t);
      }
      if (budgetMs > 0 && i >= 1 && performance.now() - started > budgetMs) break;
    }
  } catch (e) {
    const error = `${(e as Error).name}: ${(e as Error).message}`;
    console.log(`batch ${batch} x ${seqLen}: FAILED ${error}`);
    pointResults.push({ seq: seqLen, batch, tokens, flops, runs: [], error });
    writeJson();
    continue;
  }
  const results = runs.map(({ name, dtype, matmulStrategy, loadMs }, r) => {
    const sorted = [...times[r]].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `batch ${batch} x ${seqLen} ${name}: first ${firsts[r].toFixed(0)} ms, median ${median.toFixed(1)} ms (min ${sorted[0].toFixed(1)}, max ${sorted[sorted.length - 1].toFixed(1)}, n=${sorted.length}); ` +
        `${((tokens / median) * 1000).toFixed(0)} tokens/s; ${(flops / median / 1e6).toFixed(2)} GFLOP/s`,
    );
    return { name, dtype, matmulStrategy, loadMs, firstMs: firsts[r], msPerBatch: median, times: times[r], tokensPerSecond: (tokens / median) * 1000, gflops: flops / median / 1e6 };
  });
  for (const r of results.slice(1)) console.log(`  ${r.name} vs ${results[0].name}: ${(results[0].msPerBatch / r.msPerBatch).toFixed(2)}x speed`);
  pointResults.push({ seq: seqLen, batch, tokens, flops, runs: results });
  writeJson();
}
writeJson();
for (const run of runs) {
  run.runner.destroy();
  run.model.destroy();
}
gpu.destroy();
process.exit(0);
