// Task LoRA strategies for jina-embeddings-v3 (C 1024, I 4096, 24 layers, 5 tasks, rank 4,
// vocabulary 250002): GPU time of one encoder layer's four adapted Linears (Wqkv, out_proj, fc1,
// fc2) at M tokens, with the production matmul kernels of this device, two ways:
//   merged    per-task merged weights W + s B_t A_t (what "merge at load and cache" runs): exactly
//             the unadapted layer's matmuls with their fused epilogues (bias, gelu, residual);
//   low-rank  the engine's path (src/models/lora.ts): per Linear z = x A_all^T (M x T R), the
//             plain matmul (fc1 without its gelu), then kernels/lora.wgsl adds each row's own
//             task's z_t (s B_t)^T and the activation, so one batch can mix tasks;
// and the memory each needs, computed from the real checkpoint's shapes.
// Both are first checked against each other on a mixed-task batch (every row of the low-rank
// result equals its task's merged matmul within 1e-5 rel L2): a wrong path gets no figure.
//   node scripts/build.mjs --run bench/lora.ts [--m 64,128] [--repeats 5] [--dtype f32|f16] [--json FILE]
// Timing: wall time around one submit of `inner` repetitions of the dispatches and
// onSubmittedWorkDone, after a warm-up; the two strategies alternate within each repeat (others
// share this CPU) and medians are reported.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { createGPU, createBufferFrom, createStorageBuffer, readBuffer } from '../src/gpu';
import { LoraKernel, MatmulKernel, type Dispatch, type GPUTensor } from '../src/kernels';
import { loraLinearDispatches, loraLinearLayout } from '../src/models/lora';
import { mergeLoraRef } from '../src/reference';
import { encodeF16 } from '../src/dtype';

const { values } = parseArgs({
  options: {
    m: { type: 'string', default: '64,128' },
    repeats: { type: 'string', default: '5' },
    dtype: { type: 'string', default: 'f32' },
    hidden: { type: 'string', default: '1024' },
    intermediate: { type: 'string', default: '4096' },
    json: { type: 'string' },
  },
});
const C = Number(values.hidden);
const I = Number(values.intermediate);
const [T, R, L, V] = [5, 4, 24, 250002];
const dtype = values.dtype as 'f32' | 'f16';
const repeats = Number(values.repeats);

const gpu = await createGPU();
const device = gpu.device;
device.addEventListener('uncapturederror', (e) => {
  console.error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  process.exit(1);
});
console.log(`adapter: ${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`);

let seed = 7;
const random = (n: number, scale: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = ((seed / 2 ** 32) * 2 - 1) * scale;
  }
  return a;
};
const tensor = (label: string, data: Float32Array | Uint32Array, shape: number[]): GPUTensor => ({
  label,
  shape,
  buffer: createBufferFrom(device, label, data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC),
});
const weight = (label: string, data: Float32Array, shape: number[]): GPUTensor =>
  dtype === 'f16' ? { label, shape, buffer: createBufferFrom(device, label, encodeF16(data)) } : tensor(label, data, shape);
const empty = (label: string, shape: number[]): GPUTensor => ({ label, shape, buffer: createStorageBuffer(device, label, shape.reduce((a, b) => a * b, 1) * 4) });

const m = { weightDtype: dtype };
const k = {
  bias: await MatmulKernel.create(device, { ...m, bias: true }),
  biasResidual: await MatmulKernel.create(device, { ...m, bias: true, residual: true }),
  biasGelu: await MatmulKernel.create(device, { ...m, bias: true, activation: 'gelu' }),
  down: await MatmulKernel.create(device, {}),
  lora: await LoraKernel.create(device),
  loraGelu: await LoraKernel.create(device, { activation: 'gelu' }),
};
console.log(`matmul strategy ${k.bias.strategy}, weights ${dtype}`);

// One layer's Linears: name, out N, in K, epilogue.
const linears = [
  { name: 'Wqkv', N: 3 * C, K: C, kind: 'bias' as const },
  { name: 'out_proj', N: C, K: C, kind: 'residual' as const },
  { name: 'fc1', N: I, K: C, kind: 'gelu' as const },
  { name: 'fc2', N: C, K: I, kind: 'residual' as const },
];
const weights = linears.map((l) => {
  const w = random(l.N * l.K, 0.03);
  const a = random(T * R * l.K, 0.03);
  const b = random(T * l.N * R, 0.03);
  const layout = loraLinearLayout(a, b, { tasks: T, rank: R, rows: l.N, cols: l.K }, 0.25);
  return {
    ...l,
    host: { w, a, b },
    gpu: { weight: weight(`${l.name}.w`, w, [l.N, l.K]), bias: tensor(`${l.name}.b`, random(l.N, 0.1), [l.N]), down: tensor(`${l.name}.A`, layout.down, [T * R, l.K]), up: tensor(`${l.name}.B`, layout.up, [T, l.N, R]) },
  };
});

function plans(M: number) {
  const x = { C: tensor('x', random(M * C, 1), [M, C]), I: tensor('h', random(M * I, 1), [M, I]) };
  const residual = tensor('res', random(M * C, 1), [M, C]);
  const tasks = tensor('tasks', Uint32Array.from({ length: M }, (_, i) => i % T), [M]);
  const z = empty('z', [M, T * R]);
  const outs = weights.map((w) => ({ merged: empty(`${w.name}.merged`, [M, w.N]), lowRank: empty(`${w.name}.lowrank`, [M, w.N]) }));
  const merged: Dispatch[] = [];
  const lowRank: Dispatch[] = [];
  weights.forEach((w, i) => {
    const input = w.K === C ? x.C : x.I;
    const res = w.kind === 'residual' ? residual : undefined;
    const kernel = w.kind === 'gelu' ? k.biasGelu : w.kind === 'residual' ? k.biasResidual : k.bias;
    // merged: a task's merged W is the same kernel on a same-sized weight (timing uses W itself)
    merged.push(kernel.createDispatch(w.name, input, w.gpu.weight, outs[i].merged, { bias: w.gpu.bias, ...(res ? { residual: res } : {}) }));
    const base = w.kind === 'residual' ? k.biasResidual : k.bias;
    lowRank.push(...loraLinearDispatches({ down: k.down, base, lora: w.kind === 'gelu' ? k.loraGelu : k.lora }, w.name, input, w.gpu, z, tasks, outs[i].lowRank, res));
  });
  return { x, residual, tasks, outs, merged, lowRank };
}

async function run(dispatches: Dispatch[], inner: number): Promise<number> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let r = 0; r < inner; r++) for (const d of dispatches) d.encode(pass);
  pass.end();
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / inner;
}

/** The check: low-rank rows = each row's task through its merged weight (f32 weights only). */
async function check(M: number): Promise<number> {
  const p = plans(M);
  await run(p.lowRank, 1);
  let worst = 0;
  const xs = { C: new Float32Array(await readBuffer(device, p.x.C.buffer, M * C * 4)), I: new Float32Array(await readBuffer(device, p.x.I.buffer, M * I * 4)) };
  for (const [i, w] of weights.entries()) {
    if (w.kind !== 'bias') continue; // Wqkv: no epilogue beyond the bias keeps the check short
    const got = new Float32Array(await readBuffer(device, p.outs[i].lowRank.buffer, M * w.N * 4));
    const bias = new Float32Array(await readBuffer(device, w.gpu.bias.buffer, w.N * 4));
    let num = 0;
    let den = 0;
    for (let t = 0; t < T; t++) {
      const merged = mergeLoraRef(w.host.w, w.host.a, w.host.b, t, { N: w.N, K: w.K, R }, 0.25);
      for (let row = t; row < Math.min(M, t + T * 2); row += T) {
        for (let n = 0; n < w.N; n++) {
          let acc = bias[n];
          for (let kk = 0; kk < w.K; kk++) acc += xs.C[row * w.K + kk] * merged[n * w.K + kk];
          num += (got[row * w.N + n] - acc) ** 2;
          den += acc * acc;
        }
      }
    }
    worst = Math.max(worst, Math.sqrt(num / den));
  }
  return worst;
}

const tolerance = dtype === 'f16' ? 1e-2 : 1e-5;
const err = await check(17);
if (!(err < tolerance)) throw new Error(`low-rank path disagrees with the merged weights: rel L2 ${err}`);
console.log(`check: low-rank rows = their task's merged Wqkv, rel L2 ${err.toExponential(2)} (17 rows, 5 tasks)`);

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const results: Record<string, unknown>[] = [];
for (const M of values.m.split(',').map(Number)) {
  const p = plans(M);
  await run(p.merged, 1);
  await run(p.lowRank, 1);
  const loraOnly = p.lowRank.filter((d) => d.label.includes('.lora_'));
  const times = { merged: [] as number[], lowRank: [] as number[], loraOnly: [] as number[] };
  for (let r = 0; r < repeats; r++) {
    times.merged.push(await run(p.merged, 2));
    times.lowRank.push(await run(p.lowRank, 2));
    times.loraOnly.push(await run(loraOnly, 2));
  }
  const row = { M, mergedMs: median(times.merged), lowRankMs: median(times.lowRank), loraDispatchesMs: median(times.loraOnly), samples: times };
  results.push(row);
  console.log(
    `M ${M}: one layer's 4 Linears, merged ${row.mergedMs.toFixed(1)} ms, low-rank ${row.lowRankMs.toFixed(1)} ms ` +
      `(x${(row.lowRankMs / row.mergedMs).toFixed(3)}); the 8 LoRA dispatches alone ${row.loraDispatchesMs.toFixed(2)} ms (${((100 * row.loraDispatchesMs) / row.mergedMs).toFixed(1)} % of the layer's Linears)`,
  );
}

// Memory, from the real checkpoint's shapes (bytes on the GPU; f16 = dtype 'f16' matmul weights).
const perLayer = { weights: 3 * C * C + C * C + I * C + C * I, loraA: T * R * (C + C + C + I), loraB: T * R * (3 * C + C + I + C) };
const linearParams = L * perLayer.weights + C * C; // + pooler
const embeddingParams = V * C;
const loraParams = L * (perLayer.loraA + perLayer.loraB) + T * R * (C + C) + T * R * V + T * R * C + T * C; // layers + pooler + word (A gathered, B) + token-type rows
const GB = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
const memory = {
  baseLinearsF16: linearParams * 2,
  baseLinearsF32: linearParams * 4,
  wordEmbeddingF32: embeddingParams * 4,
  lowRankAdaptersF32: loraParams * 4,
  mergedPerTaskLinearsF16: linearParams * 2,
  mergedPerTaskEmbeddingF32: embeddingParams * 4,
};
console.log(`\nmemory (real jina-embeddings-v3 shapes, ${L} layers, C ${C}, I ${I}, V ${V}, ${T} tasks, rank ${R}):`);
console.log(`  base: linears ${GB(memory.baseLinearsF16)} (f16) / ${GB(memory.baseLinearsF32)} (f32), word embeddings ${GB(memory.wordEmbeddingF32)} (f32)`);
console.log(`  low-rank: every adapter of every task ${GB(memory.lowRankAdaptersF32)} (f32), ${((100 * memory.lowRankAdaptersF32) / (memory.baseLinearsF16 + memory.wordEmbeddingF32)).toFixed(1)} % of the f16 model`);
console.log(
  `  merged per task: ${GB(memory.mergedPerTaskLinearsF16)} (f16 linears) + ${GB(memory.mergedPerTaskEmbeddingF32)} (f32 word table) each; ` +
    `all ${T} tasks cached ${GB(T * (memory.mergedPerTaskLinearsF16 + memory.mergedPerTaskEmbeddingF32))}`,
);
if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), adapter: gpu.adapter, strategy: k.bias.strategy, dtype, C, I, T, R, results, memory }, null, 2));
gpu.destroy();
