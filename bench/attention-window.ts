// Local (sliding-window) vs global attention: ModernBERT-base's head shape (12 heads x 64) at
// 1024 / 4096 / 8192 tokens in one sequence, window 128 (|i - j| <= 64) vs none, for each
// attention strategy the device runs. A local layer must cost O(L x window), not O(L^2): the
// key tiles outside a query tile's window are never loaded. Checked first against attentionRef.
//   node scripts/build.mjs --run bench/attention-window.ts [--lengths 1024,4096,8192] [--repeats 3] [--only tiled,subgroup8] [--json FILE]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { createBufferFrom, createGPU, readBuffer } from '../src/gpu';
import { AttentionKernel, type Dispatch } from '../src/kernels';
import { attentionRef } from '../src/reference';

const { values } = parseArgs({
  options: {
    lengths: { type: 'string', default: '1024,4096,8192' },
    heads: { type: 'string', default: '12' },
    'head-dim': { type: 'string', default: '64' },
    window: { type: 'string', default: '64' },
    repeats: { type: 'string', default: '3' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});
const H = Number(values.heads);
const D = Number(values['head-dim']);
const W = Number(values.window);
const repeats = Number(values.repeats);
const gpu = await createGPU();
const device = gpu.device;
const adapter = `${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`;
console.log(`adapter: ${adapter}; timestamps ${gpu.hasTimestamps}`);

const strategies: { name: string; create: () => Promise<AttentionKernel> }[] = [{ name: 'tiled', create: () => AttentionKernel.create(device, H, D, { strategy: 'tiled' }) }];
if (AttentionKernel.subgroupLanes(device) > 0 && D <= AttentionKernel.SUBGROUP_MAX_HEAD_DIM) {
  strategies.push({ name: `subgroup${AttentionKernel.subgroupLanes(device)}`, create: () => AttentionKernel.create(device, H, D, { strategy: 'subgroup' }) });
}

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}
const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
const tensor = (label: string, data: Float32Array | Uint32Array, shape: number[]) => ({ label, shape, buffer: createBufferFrom(device, label, data, storage) });

function setup(L: number) {
  const q = random(H * L * D, 1);
  const k = random(H * L * D, 2);
  const v = random(H * L * D, 3);
  const tilesCount = AttentionKernel.maxTiles(L, 1);
  return {
    host: { q, k, v },
    q: tensor('q', q, [H, L, D]),
    k: tensor('k', k, [H, L, D]),
    v: tensor('v', v, [H, L, D]),
    mask: tensor('mask', new Uint32Array(L).fill(1), [L]),
    tiles: tensor('tiles', AttentionKernel.tileTable([{ start: 0, length: L }], tilesCount), [tilesCount, 4]),
    out: tensor('out', new Float32Array(L * H * D), [L, H * D]),
  };
}

const querySet = gpu.hasTimestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
const resolve = querySet && device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
async function time(d: Dispatch): Promise<number> {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  d.encode(pass);
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

if (values.only) {
  const keep = new Set(values.only.split(','));
  strategies.splice(0, strategies.length, ...strategies.filter((s) => keep.has(s.name)));
}

// Correctness first: a short sequence, both modes, every strategy, against the CPU reference.
{
  const L = 333;
  const b = setup(L);
  for (const s of strategies) {
    const kernel = await s.create();
    for (const window of [undefined, W]) {
      await time(kernel.createDispatch('check', b.q, b.k, b.v, b.mask, b.tiles, b.out, window === undefined ? {} : { window }));
      const got = new Float32Array(await readBuffer(device, b.out.buffer, L * H * D * 4));
      const ref = attentionRef(b.host.q, b.host.k, b.host.v, new Uint32Array(L).fill(1), [{ start: 0, length: L }], H, D, window === undefined ? {} : { window });
      // |got - ref| <= atol + rtol |ref|, NaN/Inf fail: the check cannot be switched off.
      const bad = ref.findIndex((r, i) => !(Math.abs(got[i] - r) <= 1e-5 + 1e-4 * Math.abs(r)));
      if (bad >= 0) throw new Error(`${s.name} window ${window}: element ${bad} is ${got[bad]}, reference ${ref[bad]}`);
    }
  }
  console.log(`checked against attentionRef at L=${L} (global and window ${W}) for ${strategies.map((s) => s.name).join(', ')}`);
}

const rows: { strategy: string; tokens: number; globalMs: number; localMs: number; ratio: number }[] = [];
for (const L of values.lengths.split(',').map(Number)) {
  const b = setup(L);
  for (const s of strategies) {
    const kernel = await s.create();
    const global = kernel.createDispatch('global', b.q, b.k, b.v, b.mask, b.tiles, b.out);
    const local = kernel.createDispatch('local', b.q, b.k, b.v, b.mask, b.tiles, b.out, { window: W });
    await time(global);
    await time(local);
    const g: number[] = [];
    const l: number[] = [];
    for (let r = 0; r < repeats; r++) {
      g.push(await time(global));
      l.push(await time(local));
    }
    const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const row = { strategy: s.name, tokens: L, globalMs: median(g), localMs: median(l), ratio: median(g) / median(l) };
    rows.push(row);
    console.log(`${s.name} L=${L}: global ${row.globalMs.toFixed(1)} ms, local (window ${2 * W}) ${row.localMs.toFixed(1)} ms, global/local ${row.ratio.toFixed(1)}x`);
  }
  for (const t of [b.q, b.k, b.v, b.mask, b.tiles, b.out]) t.buffer.destroy();
}
if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: gpu.adapter, heads: H, headDim: D, halfWindow: W, timing: querySet ? 'timestamp' : 'wall', repeats, rows }, null, 2));
