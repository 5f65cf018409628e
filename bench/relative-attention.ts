// Relative-position attention next to plain attention: what MPNet's bucketed bias (inside the
// attention kernels, REL_BIAS) and DeBERTa's disentangled attention (relative_scores: c2p / p2c for
// 2 x 256 relative rows, then attention_disentangled (tiled or subgroup) gathering both per pair) cost, one sequence of
// L tokens, head dim 64, R = 512 relative rows (DeBERTa-v3), for each strategy the device runs.
// Every candidate is first checked against its CPU reference (src/reference.ts) at L = 333; the
// check cannot be switched off. Timing: timestamp queries around one compute pass (wall time around
// onSubmittedWorkDone without them), after a warm-up; candidates interleaved per repeat, median.
//   node scripts/build.mjs --run bench/relative-attention.ts [--lengths 512,2048] [--heads 2] [--repeats 3] [--json FILE]
// (Cost is linear in the head count: the default 2 heads keep the tiled kernels' 2048-token points
// within a minute on lavapipe; per-head figures scale to DeBERTa-v3-base's 12.)
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { createBufferFrom, createGPU, readBuffer } from '../src/gpu';
import { AttentionKernel, DisentangledAttentionKernel, RelativeScoresKernel, type Dispatch, type GPUTensor } from '../src/kernels';
import { attentionRef, disentangledAttentionRef } from '../src/reference';
import { debertaBucketTable, relativeRowWindow } from '../src/tables';

const { values } = parseArgs({
  options: {
    lengths: { type: 'string', default: '512,2048' },
    heads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const H = Number(values.heads);
const D = 64;
const repeats = Number(values.repeats);
const gpu = await createGPU();
const device = gpu.device;
device.addEventListener('uncapturederror', (e) => {
  console.error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  process.exit(1);
});
const adapter = `${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`;
console.log(`adapter: ${adapter}; timestamps ${gpu.hasTimestamps}; ${H} heads of ${D}`);

function random(n: number, seed: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return a;
}
const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
const tensor = (label: string, data: Float32Array | Uint32Array, shape: number[]): GPUTensor => ({ label, shape, buffer: createBufferFrom(device, label, data, storage) });

const { table, span } = debertaBucketTable(256, 512);
const R = 2 * span;
const scale = 1 / Math.sqrt(3 * D);
const mpnetTable = random(32 * H, 9, 3);

function setup(L: number) {
  const host = { q: random(H * L * D, 1), k: random(H * L * D, 2), v: random(H * L * D, 3), relProj: random(2 * H * R * D, 4) };
  const tiles = AttentionKernel.maxTiles(L, 1);
  return {
    host,
    q: tensor('q', host.q, [H, L, D]),
    k: tensor('k', host.k, [H, L, D]),
    v: tensor('v', host.v, [H, L, D]),
    relProj: tensor('relProj', host.relProj, [2, H, R, D]),
    rel: tensor('rel', new Float32Array(2 * H * L * R), [2, H, L, R]),
    buckets: tensor('buckets', table, [table.length]),
    rows: tensor('rows', relativeRowWindow(table, span, L), [4]),
    bias: tensor('mpnet_bias', mpnetTable, [32, H]),
    mask: tensor('mask', new Uint32Array(L).fill(1), [L]),
    tiles: tensor('tiles', AttentionKernel.tileTable([{ start: 0, length: L }], tiles), [tiles, 4]),
    out: tensor('out', new Float32Array(L * H * D), [L, H * D]),
  };
}
type Setup = ReturnType<typeof setup>;

interface Candidate {
  name: string;
  dispatches(b: Setup): Dispatch[];
  reference(b: Setup, L: number): Float32Array;
}
const lanes = AttentionKernel.subgroupLanes(device);
const strategies: ('tiled' | 'subgroup')[] = lanes > 0 ? ['tiled', 'subgroup'] : ['tiled'];
const candidates: Candidate[] = [];
const seq = (L: number) => [{ start: 0, length: L }];
for (const strategy of strategies) {
  const plain = await AttentionKernel.create(device, H, D, { strategy });
  const biased = await AttentionKernel.create(device, H, D, { strategy, relativeBias: true });
  candidates.push({
    name: `plain ${strategy}`,
    dispatches: (b) => [plain.createDispatch('plain', b.q, b.k, b.v, b.mask, b.tiles, b.out)],
    reference: (b, L) => attentionRef(b.host.q, b.host.k, b.host.v, new Uint32Array(L).fill(1), seq(L), H, D),
  });
  candidates.push({
    name: `mpnet ${strategy}`,
    dispatches: (b) => [biased.createDispatch('mpnet', b.q, b.k, b.v, b.mask, b.tiles, b.out, { relativeBias: b.bias })],
    reference: (b, L) => attentionRef(b.host.q, b.host.k, b.host.v, new Uint32Array(L).fill(1), seq(L), H, D, { relativeBias: mpnetTable }),
  });
}
const debertaRef = (b: Setup, L: number) => disentangledAttentionRef(b.host.q, b.host.k, b.host.v, b.host.relProj, new Uint32Array(L).fill(1), seq(L), H, D, { bucketSize: 256, maxPosition: 512, scale });
for (const strategy of strategies) {
  const scores = await RelativeScoresKernel.create(device, H, D, { strategy });
  const disentangled = await DisentangledAttentionKernel.create(device, H, D, { strategy });
  candidates.push({
    name: `deberta ${strategy}`,
    dispatches: (b) => [scores.createDispatch('c2p_p2c', b.q, b.k, b.relProj, b.rel, b.rows), disentangled.createDispatch('disentangled', b.q, b.k, b.v, b.mask, b.tiles, b.rel, b.buckets, b.out, scale)],
    reference: debertaRef,
  });
  candidates.push({ name: `deberta ${strategy}: relative_scores only`, dispatches: (b) => [scores.createDispatch('c2p_p2c', b.q, b.k, b.relProj, b.rel, b.rows)], reference: () => new Float32Array(0) });
}

const querySet = gpu.hasTimestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
const resolve = querySet && device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
async function time(ds: Dispatch[]): Promise<number> {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  for (const d of ds) d.encode(pass);
  pass.end();
  if (querySet && resolve) encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
  const t0 = performance.now();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  const wall = performance.now() - t0;
  if (!resolve) return wall;
  const ns = new BigInt64Array(await readBuffer(device, resolve, 16));
  return Number(ns[1] - ns[0]) / 1e6;
}

// Correctness first, every candidate with an output.
{
  const L = 333;
  const b = setup(L);
  for (const c of candidates) {
    const ref = c.reference(b, L);
    if (ref.length === 0) continue;
    await time(c.dispatches(b));
    const got = new Float32Array(await readBuffer(device, b.out.buffer, L * H * D * 4));
    const bad = ref.findIndex((r, i) => !(Math.abs(got[i] - r) <= 1e-5 + 1e-4 * Math.abs(r)));
    if (bad >= 0) throw new Error(`${c.name}: element ${bad} is ${got[bad]}, reference ${ref[bad]}`);
  }
  console.log(`checked against the CPU references at L=${L}: ${candidates.map((c) => c.name).join('; ')}`);
}

const rows: { candidate: string; tokens: number; ms: number; msPerHead: number }[] = [];
for (const L of values.lengths.split(',').map(Number)) {
  const b = setup(L);
  const ds = candidates.map((c) => c.dispatches(b));
  for (const d of ds) await time(d);
  const samples = candidates.map(() => [] as number[]);
  for (let r = 0; r < repeats; r++) for (const [i, d] of ds.entries()) samples[i].push(await time(d));
  const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const line: string[] = [];
  candidates.forEach((c, i) => {
    const ms = median(samples[i]);
    rows.push({ candidate: c.name, tokens: L, ms, msPerHead: ms / H });
    line.push(`${c.name} ${ms.toFixed(1)} ms`);
  });
  const ms = (name: string) => rows.find((r) => r.tokens === L && r.candidate === name)?.ms;
  const ratios = strategies.map((s) => `deberta / plain ${s} ${(ms(`deberta ${s}`)! / ms(`plain ${s}`)!).toFixed(2)}x, mpnet / plain ${s} ${(ms(`mpnet ${s}`)! / ms(`plain ${s}`)!).toFixed(2)}x`);
  console.log(`L=${L}: ${line.join(', ')}\n  ${ratios.join('; ')}`);
  for (const t of Object.values(b)) if (t && typeof t === 'object' && 'buffer' in t) (t as GPUTensor).buffer.destroy();
}
if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: gpu.adapter, heads: H, headDim: D, relativeRows: R, timing: querySet ? 'timestamp' : 'wall', repeats, rows }, null, 2));
