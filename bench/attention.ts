// The attention lab: ms and GFLOP/s of the production AttentionKernel strategies ('tiled',
// 'tiled-f16math' (f16 q/k/v, shader-f16), 'subgroup' with the device's lanes, and 'subgroup4', the
// 4-lane kernel SwiftShader gets, when the device's lanes are 8), every candidate of
// kernels/dev/attention_variants.ts, and any extra WGSL files with the same bindings, on the
// bundled mini model's and real NeoBERT's head shapes.
//   node scripts/build.mjs --run bench/attention.ts [--shapes 4x16,12x64] [--lengths 128,512,2048]
//        [--batch 8] [--repeats 5] [--budget-s 20] [--variants a.wgsl,b.wgsl] [--only tiled,subgroup,a]
//        [--json FILE]
// Shapes: H heads x D head dim; every point is `batch` full-length sequences of L tokens (a padded
// batch with no padding), flops = 4 * L * L * D * H * batch (q k^T and p v, 2 flops per MAC).
// Each candidate is first checked against attentionRef at odd shapes, always (no switch skips it;
// f16-operand kernels against the reference fed the same f16-rounded q, k, v). Timing: timestamp queries
// around one compute pass of `inner` identical dispatches (wall time around onSubmittedWorkDone
// when the adapter has none), after a warm-up; candidates are interleaved within each repeat
// (others share this CPU) and the median is reported. A point whose slowest candidate would take
// more than --budget-s seconds per repeat (predicted from the previous length, L^2 scaling) runs
// with batch 1, and is skipped if that is still over budget.
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { createGPU, createBufferFrom, readBuffer } from '../src/gpu';
import {
  AttentionKernel,
  type Dispatch,
} from '../src/kernels';
import { matmulSubgroupsUsable } from '../src/capabilities';
import { attentionRef, type SequenceRange } from '../src/reference';
import { encodeF16, f16ToF32 } from '../src/dtype';
import { ATTENTION_VARIANTS } from '../kernels/dev/attention_variants';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: '4x16,12x64' },
    lengths: { type: 'string', default: '128,512,2048' },
    batch: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '5' },
    'target-ms': { type: 'string', default: '200' },
    'budget-s': { type: 'string', default: '20' },
    variants: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});

const gpu = await createGPU();
const device = gpu.device;
device.addEventListener('uncapturederror', (e) => {
  console.error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  process.exit(1);
});
const adapterName = `${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`;
const lanes = AttentionKernel.subgroupLanes(device);
console.log(`adapter: ${adapterName}; subgroups usable ${matmulSubgroupsUsable(device)} (attention lanes ${lanes}), timestamps ${gpu.hasTimestamps}`);

interface Buffers {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  /** q, k, v as f16 halves (for f16-operand kernels). */
  qh: GPUBuffer;
  kh: GPUBuffer;
  vh: GPUBuffer;
  mask: GPUBuffer;
  tiles: GPUBuffer;
  out: GPUBuffer;
}
interface Candidate {
  id: string;
  what: string;
  /** Reads the f16 copies of q, k, v. */
  f16Operands?: boolean;
  /** Largest head dim it runs; shapes beyond it are not timed for it. */
  maxHeadDim?: number;
  /** A dispatch of attention over the buffers (q, k, v [H, N, D]; tiles [maxTiles, 4]). */
  createDispatch(H: number, D: number, N: number, maxTiles: number, b: Buffers): Promise<Dispatch>;
}

const candidates: Candidate[] = [];
const strategies: { id: string; strategy: 'tiled' | 'subgroup'; lanes?: 4 | 8; arithmetic?: 'f16' }[] = [{ id: 'tiled', strategy: 'tiled' }];
if (device.features.has('shader-f16')) strategies.push({ id: 'tiled-f16math', strategy: 'tiled', arithmetic: 'f16' });
if (lanes > 0) strategies.push({ id: 'subgroup', strategy: 'subgroup' });
if (lanes === 8) strategies.push({ id: 'subgroup4', strategy: 'subgroup', lanes: 4 });
for (const { id, strategy, lanes, arithmetic } of strategies) {
  const kernels = new Map<string, AttentionKernel>();
  const f16 = arithmetic === 'f16';
  candidates.push({
    id,
    what: `production AttentionKernel, strategy ${strategy}${lanes ? `, ${lanes} lanes` : ''}${f16 ? ', f16 arithmetic (f16 q/k/v)' : ''}`,
    f16Operands: f16,
    maxHeadDim: strategy === 'subgroup' ? AttentionKernel.SUBGROUP_MAX_HEAD_DIM : undefined,
    async createDispatch(H, D, N, maxTiles, b) {
      const key = `${H}x${D}`;
      if (!kernels.has(key)) kernels.set(key, await AttentionKernel.create(device, H, D, { strategy, lanes, arithmetic }));
      const t = (label: string, buffer: GPUBuffer, shape: number[]) => ({ label, buffer, shape });
      const qkv = [H, N, D];
      const [q, k, v] = f16 ? [b.qh, b.kh, b.vh] : [b.q, b.k, b.v];
      return kernels.get(key)!.createDispatch(id, t('q', q, qkv), t('k', k, qkv), t('v', v, qkv), t('mask', b.mask, [N]), t('tiles', b.tiles, [maxTiles, 4]), t('out', b.out, [N, H * D]));
    },
  });
}

// Extra WGSL files with attention.wgsl's bindings and overrides (HEAD_DIM, NUM_HEADS).
const layout = device.createBindGroupLayout({
  entries: ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'].map(
    (type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: type as GPUBufferBindingType } }),
  ),
});
const extra = [
  ...ATTENTION_VARIANTS.filter((v) => {
    const missing = (v.requires ?? []).filter((f) => !device.features.has(f));
    if (missing.length) console.log(`skip ${v.id}: device lacks ${missing.join(', ')}`);
    return missing.length === 0;
  }).map((v) => ({ id: v.id, what: `kernels/dev: ${v.what}`, code: v.code, constants: v.constants ?? {}, maxHeadDim: v.maxHeadDim })),
  ...(values.variants?.split(',') ?? []).map((file) => ({ id: path.basename(file, '.wgsl'), what: `variant ${file}`, code: readFileSync(file, 'utf8'), constants: {}, maxHeadDim: undefined })),
];
for (const { id, what, code, constants, maxHeadDim } of extra) {
  const module = device.createShaderModule({ label: id, code });
  const pipelines = new Map<string, GPUComputePipeline>();
  candidates.push({
    id,
    what,
    maxHeadDim,
    async createDispatch(H, D, N, maxTiles, b) {
      const key = `${H}x${D}`;
      if (!pipelines.has(key)) {
        pipelines.set(
          key,
          await device.createComputePipelineAsync({
            label: id,
            layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
            compute: { module, entryPoint: 'main', constants: { ...constants, HEAD_DIM: D, NUM_HEADS: H } },
          }),
        );
      }
      const pipeline = pipelines.get(key)!;
      const params = new ArrayBuffer(16);
      new DataView(params).setUint32(0, N, true);
      new DataView(params).setFloat32(4, 1 / Math.sqrt(D), true);
      new DataView(params).setUint32(8, AttentionKernel.WINDOW_GLOBAL, true); // global attention
      const uniform = createBufferFrom(device, `${id}.params`, new Uint32Array(params), GPUBufferUsage.UNIFORM);
      const bindGroup = device.createBindGroup({
        layout,
        entries: [uniform, b.q, b.k, b.v, b.mask, b.tiles, b.out].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      return {
        label: id,
        encode(pass) {
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bindGroup);
          pass.dispatchWorkgroups(maxTiles, H);
        },
      };
    },
  });
}

const only = values.only?.split(',');
if (only) candidates.splice(0, candidates.length, ...candidates.filter((c) => only.includes(c.id)));
if (candidates.length === 0) throw new Error('no candidate selected');

function random(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return a;
}

const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
function setup(H: number, D: number, lengths: number[], mask: Uint32Array) {
  let start = 0;
  const sequences: SequenceRange[] = lengths.map((length) => ({ start: (start += length) - length, length }));
  const N = mask.length;
  const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
  const data = { q: random(H * N * D, 1, 2), k: random(H * N * D, 2, 2), v: random(H * N * D, 3, 1) };
  const buffers: Buffers = {
    q: createBufferFrom(device, 'q', data.q, storage),
    k: createBufferFrom(device, 'k', data.k, storage),
    v: createBufferFrom(device, 'v', data.v, storage),
    qh: createBufferFrom(device, 'qh', encodeF16(data.q), storage),
    kh: createBufferFrom(device, 'kh', encodeF16(data.k), storage),
    vh: createBufferFrom(device, 'vh', encodeF16(data.v), storage),
    mask: createBufferFrom(device, 'mask', mask, storage),
    tiles: createBufferFrom(device, 'tiles', AttentionKernel.tileTable(sequences, maxTiles), storage),
    out: device.createBuffer({ size: N * H * D * 4, usage: storage }),
  };
  const destroy = () => Object.values(buffers).forEach((b) => b.destroy());
  return { sequences, N, maxTiles, data, buffers, destroy };
}

// ---- correctness at odd shapes (always) ------------------------------------------------------
{
  for (const [H, D, lengths, holes] of [
    [2, 16, [57, 1, 20], true],
    [3, 64, [130, 9], false],
    [1, 32, [300], true],
  ] as [number, number, number[], boolean][]) {
    const N = lengths.reduce((a, b) => a + b, 0);
    const mask = Uint32Array.from({ length: N }, (_, i) => (holes && i % 5 === 3 ? 0 : 1));
    const s = setup(H, D, lengths, mask);
    const ref32 = attentionRef(s.data.q, s.data.k, s.data.v, mask, s.sequences, H, D);
    const round = (a: Float32Array) => Float32Array.from(encodeF16(a), f16ToF32);
    const ref16 = candidates.some((c) => c.f16Operands) ? attentionRef(round(s.data.q), round(s.data.k), round(s.data.v), mask, s.sequences, H, D) : ref32;
    for (const c of candidates) {
      if (c.maxHeadDim !== undefined && D > c.maxHeadDim) continue;
      const ref = c.f16Operands ? ref16 : ref32;
      const d = await c.createDispatch(H, D, s.N, s.maxTiles, s.buffers);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      d.encode(pass);
      pass.end();
      device.queue.submit([enc.finish()]);
      const got = new Float32Array(await readBuffer(device, s.buffers.out));
      let worst = 0;
      for (let i = 0; i < ref.length; i++) {
        const err = Math.abs(got[i] - ref[i]) / (1e-5 + 1e-4 * Math.abs(ref[i]));
        worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
      }
      if (!(worst <= 1)) throw new Error(`${c.id} is wrong at H=${H} D=${D} lengths ${lengths}: worst error ${worst.toFixed(1)}x the tolerance`);
    }
    s.destroy();
  }
  console.log(`checked against attentionRef at odd shapes: ${candidates.map((c) => c.id).join(', ')}`);
}

// ---- timing ------------------------------------------------------------------------------------
const querySet = gpu.hasTimestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
const resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });

/** Milliseconds per dispatch of `inner` back-to-back dispatches in one pass. */
async function time(d: Dispatch, inner: number): Promise<number> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  for (let i = 0; i < inner; i++) d.encode(pass);
  pass.end();
  if (querySet) enc.resolveQuerySet(querySet, 0, 2, resolve, 0);
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  if (!querySet) {
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / inner;
  }
  const [begin, end] = new BigUint64Array(await readBuffer(device, resolve));
  return Number(end - begin) / 1e6 / inner;
}

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const repeats = Number(values.repeats);
const targetMs = Number(values['target-ms']);
const budgetMs = Number(values['budget-s']) * 1000;
const batch = Number(values.batch);
interface Row {
  H: number;
  D: number;
  L: number;
  batch: number;
  ms: Record<string, number>;
  samples: Record<string, number[]>;
}
const rows: Row[] = [];
/** The JSON so far: after every point (a run stopped by a time limit keeps its points) and at the end. */
function writeJson(): void {
  if (!values.json) return;
  const tmp = `${values.json}.tmp`;
  writeFileSync(tmp, JSON.stringify({ adapter: gpu.adapter, timing: querySet ? 'timestamp' : 'wall', repeats, candidates: candidates.map(({ id, what }) => ({ id, what })), results: rows }, null, 2));
  renameSync(tmp, values.json);
}
for (const shape of values.shapes!.split(',')) {
  const [H, D] = shape.split('x').map(Number);
  let previous: { L: number; B: number; ms: number } | null = null; // slowest candidate at the last length
  for (const L of values.lengths!.split(',').map(Number)) {
    const predict = (B: number) => (previous ? (previous.ms * (L / previous.L) ** 2 * B) / previous.B : 0);
    const B = predict(batch) <= budgetMs ? batch : predict(1) <= budgetMs ? 1 : 0;
    if (B === 0) {
      console.log(`H=${H} D=${D} L=${L}: skipped (predicted ${(predict(1) / 1000).toFixed(0)} s per dispatch at batch 1, over --budget-s)`);
      continue;
    }
    const s = setup(H, D, Array(B).fill(L), new Uint32Array(B * L).fill(1));
    const ds = await Promise.all(candidates.map((c) => c.createDispatch(H, D, s.N, s.maxTiles, s.buffers)));
    // Warm-up (pipeline JIT, caches) and an estimate that sizes `inner` to about targetMs.
    const inner = [];
    for (const d of ds) inner.push(Math.max(1, Math.min(32, Math.round(targetMs / (await time(d, 1))))));
    const samples = ds.map(() => [] as number[]);
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < ds.length; i++) samples[i].push(await time(ds[i], inner[i]));
    }
    const row: Row = { H, D, L, batch: B, ms: {}, samples: {} };
    candidates.forEach((c, i) => {
      row.ms[c.id] = median(samples[i]);
      row.samples[c.id] = samples[i];
    });
    rows.push(row);
    writeJson();
    previous = { L, B, ms: Math.max(...Object.values(row.ms)) };
    const flop = 4 * L * L * D * H * B;
    console.log(
      [`H=${H} D=${D} L=${L} B=${B}`.padEnd(24), ...candidates.map((c) => `${c.id} ${row.ms[c.id].toFixed(1)} ms ${(flop / row.ms[c.id] / 1e6).toFixed(2)} GFLOP/s`)].join('  '),
    );
    s.destroy();
  }
}

// ---- summary -----------------------------------------------------------------------------------
const base = candidates[0].id;
console.log(`\n${adapterName}: ms and GFLOP/s (median of ${repeats}; ratio = time of ${base} / time), ${querySet ? 'timestamp queries' : 'wall time'}`);
console.log(['H x D'.padEnd(7), 'L'.padStart(5), 'B'.padStart(2), ...candidates.map((c) => c.id.padStart(30))].join(' '));
for (const r of rows) {
  const flop = 4 * r.L * r.L * r.D * r.H * r.batch;
  console.log(
    [
      `${r.H}x${r.D}`.padEnd(7),
      String(r.L).padStart(5),
      String(r.batch).padStart(2),
      ...candidates.map((c) => `${r.ms[c.id].toFixed(1)} ms ${(flop / r.ms[c.id] / 1e6).toFixed(2)} GF/s (${(r.ms[base] / r.ms[c.id]).toFixed(2)}x)`.padStart(30)),
    ].join(' '),
  );
}
for (const c of candidates) console.log(`  ${c.id}: ${c.what}`);

writeJson();
gpu.destroy();
process.exit(0);
