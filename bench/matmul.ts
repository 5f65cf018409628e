// The matmul lab: GFLOP/s of each kernel variant (kernels/dev/matmul_vN.wgsl, and the production
// MatmulKernel as prod-<strategy>[-f16]) on NeoBERT's shapes, y = x W^T with W [N, K] as stored.
//   node scripts/build.mjs --run bench/matmul.ts [--m 128,512,1024] [--variants v1,v6,prod]
//        [--shapes 768x2304,768x768,...] [--repeats 5] [--no-odd] [--json FILE]
// Shapes: M tokens x (K -> N) for the qkv, wo, w12, w3 and MLM-head projections, plus an odd
// 57 x 1001 x 60. Each variant is first checked against the CPU reference (matmulRef) at odd
// shapes, always (there is no switch to skip it): a wrong kernel gets no figure. Timing: timestamp queries around one compute pass of `inner` identical dispatches
// (wall time around onSubmittedWorkDone when the adapter has none), after a warm-up; variants are
// interleaved within each repeat (others share this CPU) and the median is reported.
import { parseArgs } from 'node:util';
import { writeFileSync, renameSync } from 'node:fs';
import { createGPU, createBufferFrom, readBuffer } from '../src/gpu';
import {
  MatmulKernel,
  type Dispatch,
  type MatmulStrategy,
} from '../src/kernels';
import { matmulStrategy, matmulSubgroupsUsable } from '../src/capabilities';
import { matmulRef } from '../src/reference';
import { encodeF16, f16ToF32 } from '../src/dtype';
import { MATMUL_VARIANTS, type MatmulVariant } from '../kernels/dev/matmul_variants';

const { values } = parseArgs({
  options: {
    m: { type: 'string', default: '128,512,1024' },
    shapes: { type: 'string', default: '768x2304,768x768,768x4096,2048x768,768x30522' },
    variants: { type: 'string' },
    repeats: { type: 'string', default: '5' },
    'target-ms': { type: 'string', default: '40' },
    'no-odd': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const gpu = await createGPU();
const device = gpu.device;
device.addEventListener('uncapturederror', (e) => {
  console.error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  process.exit(1);
});
console.log(`adapter: ${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description}); f16 ${gpu.hasF16}, timestamps ${gpu.hasTimestamps}`);

interface Candidate {
  id: string;
  what: string;
  weightDtype: 'f32' | 'f16';
  /** Whether the kernel rounds x to f16 too (f16 arithmetic): the reference then gets rounded x. */
  roundsX: boolean;
  /** A dispatch computing out = x w^T for this shape (buffers already hold the data). */
  createDispatch(M: number, N: number, K: number, x: GPUBuffer, w: GPUBuffer, out: GPUBuffer): Dispatch;
}

const wanted = values.variants?.split(',');
const candidates: Candidate[] = [];
const layout = device.createBindGroupLayout({
  entries: ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'].map((type, binding) => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: type as GPUBufferBindingType },
  })),
});
const placeholder = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });

function variantCandidate(v: MatmulVariant): Candidate {
  const module = device.createShaderModule({ label: v.id, code: v.code });
  const pipeline = device.createComputePipeline({
    label: v.id,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main', constants: v.constants ?? {} },
  });
  return {
    id: v.id,
    what: v.what,
    weightDtype: v.weightDtype ?? 'f32',
    roundsX: !!v.roundsX,
    createDispatch(M, N, K, x, w, out) {
      const params = createBufferFrom(device, `${v.id}.params`, new Uint32Array([M, N, K, 0]), GPUBufferUsage.UNIFORM);
      const bindGroup = device.createBindGroup({
        layout,
        entries: [params, x, w, placeholder, placeholder, out].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const groups = [Math.ceil(N / v.tileN), Math.ceil(M / v.tileM)];
      return {
        label: v.id,
        encode(pass) {
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bindGroup);
          pass.dispatchWorkgroups(groups[0], groups[1]);
        },
      };
    },
  };
}

for (const v of MATMUL_VARIANTS) {
  if (wanted && !wanted.includes(v.id)) continue;
  const missing = (v.requires ?? []).filter((f) => !device.features.has(f));
  if (missing.length) {
    console.log(`skip ${v.id}: device lacks ${missing.join(', ')}`);
    continue;
  }
  candidates.push(variantCandidate(v));
}
// Production kernels (src/kernels.ts): prod-<strategy>[-f16][-f16math]; "prod" selects every one that runs here.
const strategies: MatmulStrategy[] = matmulSubgroupsUsable(device) ? ['tiled', 'subgroup'] : ['tiled'];
const configs: { strategy: MatmulStrategy; weightDtype: 'f32' | 'f16'; arithmetic: 'f32' | 'f16' }[] = [];
for (const strategy of strategies) for (const weightDtype of ['f32', 'f16'] as const) configs.push({ strategy, weightDtype, arithmetic: 'f32' });
if (device.features.has('shader-f16')) configs.push({ strategy: 'tiled', weightDtype: 'f16', arithmetic: 'f16' });
for (const { strategy, weightDtype, arithmetic } of configs) {
  {
    const id = `prod-${strategy}${weightDtype === 'f16' ? '-f16' : ''}${arithmetic === 'f16' ? '-f16math' : ''}`;
    if (wanted && !wanted.includes(id) && !wanted.includes('prod')) continue;
    const kernel = await MatmulKernel.create(device, { strategy, weightDtype, arithmetic });
    candidates.push({
      id,
      what: `production MatmulKernel, strategy ${strategy}, ${weightDtype} weights, ${arithmetic} arithmetic${strategy === matmulStrategy(device) && arithmetic === 'f32' ? ' (default here)' : ''}`,
      weightDtype,
      roundsX: arithmetic === 'f16',
      createDispatch: (M, N, K, x, w, out) =>
        kernel.createDispatch(id, { label: 'x', shape: [M, K], buffer: x }, { label: 'w', shape: [N, K], buffer: w }, { label: 'out', shape: [M, N], buffer: out }),
    });
  }
}
if (candidates.length === 0) throw new Error('no variant selected');

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
function upload(data: Float32Array, dtype: 'f32' | 'f16'): GPUBuffer {
  return createBufferFrom(device, 'data', dtype === 'f16' ? encodeF16(data) : data, storage);
}

// ---- correctness at odd shapes (always) ------------------------------------------------------
{
  for (const [M, N, K] of [
    [1, 1, 4],
    [57, 1001, 60],
    [1001, 57, 1004],
    [130, 257, 36],
  ]) {
    const x = random(M * K, 1, 1);
    const w = random(N * K, 2, 0.1);
    const wF16 = Float32Array.from(encodeF16(w), f16ToF32);
    const xF16 = Float32Array.from(encodeF16(x), f16ToF32);
    const xb = upload(x, 'f32');
    for (const c of candidates) {
      const wb = upload(w, c.weightDtype);
      const out = device.createBuffer({ size: M * N * 4, usage: storage });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      c.createDispatch(M, N, K, xb, wb, out).encode(pass);
      pass.end();
      device.queue.submit([enc.finish()]);
      const got = new Float32Array(await readBuffer(device, out));
      const ref = matmulRef(c.roundsX ? xF16 : x, c.weightDtype === 'f16' ? wF16 : w, M, N, K);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) {
        const err = Math.abs(got[i] - ref[i]) / (1e-5 + 1e-4 * Math.abs(ref[i]));
        worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
      }
      if (!(worst <= 1)) throw new Error(`${c.id} is wrong at M=${M} N=${N} K=${K}: worst error ${worst.toFixed(1)}x the tolerance`);
      wb.destroy();
      out.destroy();
    }
    xb.destroy();
  }
  console.log(`checked against matmulRef at odd shapes: ${candidates.map((c) => c.id).join(', ')}`);
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

const shapes: [number, number, number][] = [];
for (const M of values.m!.split(',').map(Number)) {
  for (const kn of values.shapes!.split(',')) {
    const [K, N] = kn.split('x').map(Number);
    shapes.push([M, N, K]);
  }
}
if (!values['no-odd']) shapes.push([57, 1001, 60]);

const repeats = Number(values.repeats);
const targetMs = Number(values['target-ms']);
interface Row {
  variant: string;
  M: number;
  N: number;
  K: number;
  ms: number;
  minMs: number;
  gflops: number;
  samples: number[];
}
const rows: Row[] = [];
/** The JSON so far: after every shape (a run stopped by a time limit keeps its shapes) and at the end. */
function writeJson(): void {
  if (!values.json) return;
  const tmp = `${values.json}.tmp`;
  writeFileSync(
    tmp,
    JSON.stringify(
      { adapter: gpu.adapter, timing: querySet ? 'timestamp' : 'wall', repeats, variants: candidates.map(({ id, what, weightDtype, roundsX }) => ({ id, what, weightDtype, f16Operands: roundsX })), results: rows },
      null,
      2,
    ),
  );
  renameSync(tmp, values.json);
}
for (const [M, N, K] of shapes) {
  const x = upload(random(M * K, 3, 1), 'f32');
  const wData = random(N * K, 4, 0.05);
  const weights = new Map<string, GPUBuffer>();
  for (const dtype of new Set(candidates.map((c) => c.weightDtype))) weights.set(dtype, upload(wData, dtype));
  const out = device.createBuffer({ size: M * N * 4, usage: storage });
  const ds = candidates.map((c) => c.createDispatch(M, N, K, x, weights.get(c.weightDtype)!, out));
  // Warm-up (pipeline JIT, caches) and an estimate that sizes `inner` to about targetMs.
  const inner = await Promise.all(ds.map(async (d) => Math.max(1, Math.min(32, Math.round(targetMs / (await time(d, 1)))))));
  const samples = ds.map(() => [] as number[]);
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < ds.length; i++) samples[i].push(await time(ds[i], inner[i]));
  }
  const flop = 2 * M * N * K;
  const line = [`${M}x${K}->${N}`.padEnd(16)];
  candidates.forEach((c, i) => {
    const ms = median(samples[i]);
    rows.push({ variant: c.id, M, N, K, ms, minMs: Math.min(...samples[i]), gflops: flop / ms / 1e6, samples: samples[i] });
    line.push(`${c.id} ${(flop / ms / 1e6).toFixed(2).padStart(7)}`);
  });
  console.log(line.join('  '));
  writeJson();
  x.destroy();
  out.destroy();
  for (const b of weights.values()) b.destroy();
}

// ---- summary -----------------------------------------------------------------------------------
const base = candidates[0].id;
console.log(`\nGFLOP/s (median of ${repeats}; ratio to ${base}), ${querySet ? 'timestamp queries' : 'wall time'}`);
const header = ['shape (MxK->N)'.padEnd(16), ...candidates.map((c) => c.id.padStart(14))];
console.log(header.join(' '));
for (const [M, N, K] of shapes) {
  const get = (id: string) => rows.find((r) => r.variant === id && r.M === M && r.N === N && r.K === K)!;
  const b = get(base).gflops;
  console.log(
    [`${M}x${K}->${N}`.padEnd(16), ...candidates.map((c) => `${get(c.id).gflops.toFixed(2)} (${(get(c.id).gflops / b).toFixed(2)}x)`.padStart(14))].join(' '),
  );
}
const geo = (id: string) => Math.exp(rows.filter((r) => r.variant === id).reduce((s, r) => s + Math.log(r.gflops), 0) / shapes.length);
console.log(['geomean'.padEnd(16), ...candidates.map((c) => `${geo(c.id).toFixed(2)} (${(geo(c.id) / geo(base)).toFixed(2)}x)`.padStart(14))].join(' '));
for (const c of candidates) console.log(`  ${c.id}: ${c.what}`);

writeJson();
gpu.destroy();
process.exit(0);
