// The GPU test subset as one self-contained script, for machines without vitest (bundled by
// bench/gpu/build.mjs, run by bench/gpu/run.sh). The same checks as test/kernels.gpu.test.ts and
// test/{model,encoders}.gpu.test.ts, smaller: every kernel against its CPU reference
// (src/reference.ts) at odd shapes, with EVERY strategy named explicitly (matmul tiled / subgroup x
// f32 / f16 weights, attention tiled / subgroup 8 / subgroup 4); then one fixture per architecture
// through the whole model against transformers' outputs, with each matmul strategy.
// A strategy this adapter cannot run is not skipped: create() must refuse it with a message naming
// the fallback, and the check runs on the fallback ('tiled'); both are recorded.
//   node check.mjs [--fixtures DIR] [--json FILE] [--quick]
// Exit code 0 when every check passed, 1 otherwise; the JSON lists every check.
import { parseArgs } from 'node:util';
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createBufferFrom, createGPU, readBuffer, type GPUContext } from '../../src/gpu';
import { isCpuAdapter, matmulStrategy, matmulSubgroupsUsable } from '../../src/capabilities';
import {
  AttentionKernel,
  EmbeddingKernel,
  L2NormKernel,
  LayerNormKernel,
  MatmulKernel,
  PoolingKernel,
  RMSNormKernel,
  RopeQkvKernel,
  type Dispatch,
  type GPUTensor,
  type MatmulOptions,
  type MatmulStrategy,
} from '../../src/kernels';
import { foldNormGain, interleaveGateUp } from '../../src/weight-layout';
import { decodeToFloat32, encodeF16 } from '../../src/dtype';
import {
  attentionRef,
  embeddingRef,
  l2normRef,
  layerNormRef,
  matmulRef,
  poolingRef,
  rmsnormRef,
  ropeQkvRef,
  ropeTable,
  swigluRef,
  tokenPositions,
  type SequenceRange,
} from '../../src/reference';
import { loadCheckpoint } from '../../src/checkpoint';
import { folderSource } from '../../src/sources/folder';
import { parseSafetensors } from '../../src/safetensors';
import { Runner, type OutputName } from '../../src/runner';

const { values } = parseArgs({
  options: {
    fixtures: { type: 'string' },
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

interface Check {
  group: string;
  name: string;
  /** What was asked for, and what ran (differs where the adapter cannot run the strategy). */
  strategy?: string;
  ran?: string;
  ok: boolean;
  relL2?: number;
  maxAbs?: number;
  ms: number;
  detail?: string;
}
const checks: Check[] = [];
const facts: string[] = [];

function writeJson(done = false): void {
  if (!values.json) return;
  const failed = checks.filter((c) => !c.ok).length;
  const tmp = `${values.json}.tmp`;
  writeFileSync(tmp, JSON.stringify({ adapter: gpu?.adapter ?? null, facts, complete: done, passed: checks.length - failed, failed, checks }, null, 1));
  renameSync(tmp, values.json);
}

// ---- comparison (test/compare.ts without vitest) ------------------------------------------------
function compare(got: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number) {
  let bad = 0;
  let first = '';
  let maxAbs = 0;
  let sd = 0;
  let sr = 0;
  if (got.length !== ref.length) return { bad: 1, first: `length ${got.length}, expected ${ref.length}`, maxAbs: Infinity, relL2: Infinity };
  for (let i = 0; i < ref.length; i++) {
    const g = got[i];
    const r = ref[i];
    const d = Math.abs(g - r);
    if (!Number.isFinite(g) || !(d <= atol + rtol * Math.abs(r))) {
      if (!bad) first = `[${i}] got ${g}, expected ${r}`;
      bad++;
    }
    if (Number.isFinite(d)) maxAbs = Math.max(maxAbs, d);
    sd += (g - r) ** 2;
    sr += r * r;
  }
  return { bad, first, maxAbs, relL2: Math.sqrt(sd) / Math.max(Math.sqrt(sr), 1e-30) };
}

function randomArray(length: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

async function record(group: string, name: string, body: () => Promise<Omit<Check, 'group' | 'name' | 'ms'>>): Promise<void> {
  const t = performance.now();
  let check: Check;
  try {
    check = { group, name, ...(await body()), ms: 0 };
  } catch (e) {
    check = { group, name, ok: false, ms: 0, detail: `${(e as Error).name}: ${(e as Error).message}` };
  }
  check.ms = performance.now() - t;
  checks.push(check);
  writeJson(); // after every check: a run stopped by its time limit keeps what it checked
  const how = check.strategy ? ` [${check.strategy}${check.ran && check.ran !== check.strategy ? ` -> ran ${check.ran}` : ''}]` : '';
  const err = check.relL2 !== undefined ? ` rel L2 ${check.relL2.toExponential(2)}` : '';
  console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${group}: ${name}${how}${err} (${check.ms.toFixed(0)} ms)${check.detail ? ` ${check.detail}` : ''}`);
}

function closeness(got: Float32Array, ref: ArrayLike<number>, atol: number, rtol: number) {
  const c = compare(got, ref, atol, rtol);
  return { ok: c.bad === 0, relL2: c.relL2, maxAbs: c.maxAbs, detail: c.bad ? `${c.bad} of ${ref.length} out of tolerance, first ${c.first}` : undefined };
}

// ---- device helpers ------------------------------------------------------------------------------
const gpu: GPUContext = await createGPU();
const device = gpu.device;
let uncaptured = '';
device.addEventListener('uncapturederror', (e) => {
  uncaptured ||= (e as GPUUncapturedErrorEvent).error.message;
});
const info = device.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
facts.push(
  `adapter: ${gpu.adapter.vendor} / ${gpu.adapter.architecture} (${gpu.adapter.description})`,
  `kind: ${isCpuAdapter(device) ? 'CPU adapter' : 'GPU'}; features: ${gpu.adapter.features.join(', ')}`,
  `subgroups: ${device.features.has('subgroups' as GPUFeatureName) ? `${info.subgroupMinSize ?? '?'}..${info.subgroupMaxSize ?? '?'}` : 'none'}; ` +
    `default matmul '${matmulStrategy(device)}', attention '${AttentionKernel.defaultStrategy(device, 64)}' (lanes ${AttentionKernel.subgroupLanes(device)})`,
);
for (const f of facts) console.log(`[adapter] ${f}`);

const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
const tensor = (label: string, data: Float32Array | Uint32Array, shape: number[]): GPUTensor => ({ label, shape, buffer: createBufferFrom(device, label, data, usage) });
const empty = (label: string, shape: number[]): GPUTensor => ({
  label,
  shape,
  buffer: device.createBuffer({ label, size: Math.max(16, shape.reduce((a, b) => a * b, 1) * 4), usage: usage | GPUBufferUsage.COPY_DST }),
});
const weight = (label: string, w: Float32Array, shape: number[], dtype: 'f32' | 'f16'): GPUTensor =>
  dtype === 'f32' ? tensor(label, w, shape) : { label, shape, buffer: createBufferFrom(device, label, encodeF16(w), usage) };
const roundF16 = (w: Float32Array) => decodeToFloat32(new Uint8Array(encodeF16(w).buffer), 'F16');

async function run(dispatches: Dispatch[]): Promise<void> {
  device.pushErrorScope('validation');
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const d of dispatches) d.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`validation error: ${error.message}`);
  if (uncaptured) throw new Error(`uncaptured WebGPU error: ${uncaptured}`);
}
const read = async (t: GPUTensor) => new Float32Array(await readBuffer(device, t.buffer, t.shape.reduce((a, b) => a * b, 1) * 4));

/** The matmul kernel asked for, or (checked refusal) the tiled fallback. */
async function matmulKernel(options: MatmulOptions): Promise<{ kernel: MatmulKernel; ran: MatmulStrategy; detail?: string }> {
  if (options.strategy === 'subgroup' && !matmulSubgroupsUsable(device)) {
    const refused = await MatmulKernel.create(device, options).then(
      () => null,
      (e: Error) => e.message,
    );
    if (!refused || !/use strategy 'tiled'/.test(refused)) throw new Error(`subgroup matmul on an adapter that cannot run it: expected a refusal naming 'tiled', got ${refused ?? 'a kernel'}`);
    return { kernel: await MatmulKernel.create(device, { ...options, strategy: 'tiled' }), ran: 'tiled', detail: 'subgroup kernel refused as expected; ran the tiled fallback' };
  }
  const kernel = await MatmulKernel.create(device, options);
  return { kernel, ran: kernel.strategy };
}

async function attentionKernel(H: number, D: number, strategy: 'tiled' | 'subgroup', lanes?: 4 | 8) {
  const usable = AttentionKernel.subgroupLanes(device);
  if (strategy === 'subgroup' && (usable === 0 || (lanes ?? usable) > usable)) {
    const refused = await AttentionKernel.create(device, H, D, { strategy, lanes }).then(
      () => null,
      (e: Error) => e.message,
    );
    if (!refused || !/use strategy 'tiled'/.test(refused)) throw new Error(`subgroup attention on an adapter that cannot run it: expected a refusal, got ${refused ?? 'a kernel'}`);
    return { kernel: await AttentionKernel.create(device, H, D, { strategy: 'tiled' }), ran: 'tiled', detail: `${lanes ?? 8}-lane subgroup kernel refused as expected; ran the tiled fallback` };
  }
  const kernel = await AttentionKernel.create(device, H, D, { strategy, lanes });
  return { kernel, ran: kernel.strategy === 'subgroup' ? `subgroup${kernel.lanes}` : 'tiled' };
}

const packed = (lengths: number[]): SequenceRange[] => {
  let start = 0;
  return lengths.map((length) => ({ start: (start += length) - length, length }));
};

// ---- kernels ---------------------------------------------------------------------------------------
const quick = values.quick;
const MATMUL_SHAPES: [number, number, number][] = quick
  ? [
      [1, 1, 4],
      [57, 1001, 60],
    ]
  : [
      [1, 1, 4],
      [57, 1001, 60],
      [1001, 57, 1004],
      [130, 2304, 768],
    ];
for (const strategy of ['tiled', 'subgroup'] as const) {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const [M, N, K] of MATMUL_SHAPES) {
      await record('matmul', `${dtype} weights, M=${M} N=${N} K=${K}, bias + gelu + residual`, async () => {
        const x = randomArray(M * K, 4, 2);
        const w = randomArray(N * K, 5, 0.1);
        const bias = randomArray(N, 6);
        const residual = randomArray(M * N, 7);
        const { kernel, ran, detail } = await matmulKernel({ strategy, weightDtype: dtype, bias: true, activation: 'gelu', residual: true });
        const out = empty('out', [M, N]);
        await run([kernel.createDispatch('t', tensor('x', x, [M, K]), weight('w', w, [N, K], dtype), out, { bias: tensor('b', bias, [N]), residual: tensor('r', residual, [M, N]) })]);
        const held = dtype === 'f16' ? roundF16(w) : w;
        return { strategy, ran, ...closeness(await read(out), matmulRef(x, held, M, N, K, { bias, activation: 'gelu', residual }), 1e-5, 1e-4), ...(detail ? { detail } : {}) };
      });
    }
    await record('matmul', `${dtype} weights, rmsnorm prologue + swiglu epilogue, M=57 F=1001 K=60`, async () => {
      const [M, F, K, eps] = [57, 1001, 60, 1e-5];
      const x = randomArray(M * K, 21, 40);
      const gain = randomArray(K, 22, 2);
      const w12 = randomArray(2 * F * K, 24, 0.1);
      const { kernel, ran, detail } = await matmulKernel({ strategy, weightDtype: dtype, normRows: true, swiglu: true });
      const folded = foldNormGain(interleaveGateUp(w12, K), gain);
      const out = empty('out', [M, F]);
      await run([kernel.createDispatch('t', tensor('x', x, [M, K]), weight('w12', folded, [2 * F, K], dtype), out, { eps })]);
      const ref = swigluRef(matmulRef(rmsnormRef(x, gain, M, K, eps), w12, M, 2 * F, K), M, F);
      const got = await read(out);
      const c = compare(got, ref, 0, 0);
      const bound = dtype === 'f16' ? 2e-3 : 1e-5;
      return { strategy, ran, ok: c.relL2 < bound && got.every(Number.isFinite), relL2: c.relL2, maxAbs: c.maxAbs, detail: [detail, `rel L2 bound ${bound}`].filter(Boolean).join('; ') };
    });
  }
}

const ATTENTION_CASES: [number, number, number[], boolean, number | undefined][] = quick
  ? [
      [2, 32, [1, 57, 300], true, undefined],
      [2, 16, [130], false, 8],
    ]
  : [
      [2, 32, [1, 57, 300, 16], true, undefined],
      [12, 64, [1001], false, undefined],
      [2, 64, [1001, 3], true, 64],
      [1, 64, [4096], false, undefined],
    ];
const attentionRefs = new Map<string, Float32Array>();
for (const [strategy, lanes] of [
  ['tiled', undefined],
  ['subgroup', 8],
  ['subgroup', 4],
] as const) {
  for (const [H, D, lengths, holes, window] of ATTENTION_CASES) {
    const label = `${strategy}${lanes ?? ''}`;
    await record('attention', `H=${H} D=${D} packed lengths ${lengths.join(',')}${holes ? ', mask holes' : ''}${window !== undefined ? `, window ${window}` : ''}`, async () => {
      const N = lengths.reduce((a, b) => a + b, 0);
      const sequences = packed(lengths);
      const mask = Uint32Array.from({ length: N }, (_, i) => (holes && i % 5 === 3 ? 0 : 1));
      for (const s of sequences) mask[s.start] = 1; // every sequence keeps a token
      const q = randomArray(H * N * D, 11, 2);
      const k = randomArray(H * N * D, 12, 2);
      const v = randomArray(H * N * D, 13);
      const { kernel, ran, detail } = await attentionKernel(H, D, strategy, lanes);
      const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
      const out = empty('out', [N, H * D]);
      const shape = [H, N, D];
      await run([
        kernel.createDispatch('t', tensor('q', q, shape), tensor('k', k, shape), tensor('v', v, shape), tensor('mask', mask, [N]), tensor('tiles', AttentionKernel.tileTable(sequences, maxTiles), [maxTiles, 4]), out, window === undefined ? {} : { window }),
      ]);
      // The CPU reference (seconds at L = 4096) once per case, shared by the strategies.
      const key = `${H}x${D}:${lengths}:${holes}:${window}`;
      if (!attentionRefs.has(key)) attentionRefs.set(key, attentionRef(q, k, v, mask, sequences, H, D, { window }));
      return { strategy: label, ran, ...closeness(await read(out), attentionRefs.get(key)!, 1e-5, 1e-4), ...(detail ? { detail } : {}) };
    });
  }
}

await record('embedding', '57 tokens, vocab 1000 x 68', async () => {
  const [V, C, T] = [1000, 68, 57];
  const table = randomArray(V * C, 1);
  const ids = Uint32Array.from({ length: T }, (_, i) => (i * 7919) % V);
  const kernel = await EmbeddingKernel.create(device, C);
  const out = empty('out', [T, C]);
  await run([kernel.createDispatch('t', tensor('ids', ids, [T]), tensor('table', table, [V, C]), out)]);
  return closeness(await read(out), embeddingRef(ids, table, C), 0, 0);
});
for (const rowPerThread of [false, true]) {
  await record('rmsnorm', `rows 65 x 768, row per thread ${rowPerThread}`, async () => {
    const [R, C] = [65, 768];
    const x = randomArray(R * C, 2, 40);
    const w = randomArray(C, 3);
    const kernel = await RMSNormKernel.create(device, { rowPerThread });
    const out = empty('out', [R, C]);
    await run([kernel.createDispatch('t', tensor('x', x, [R, C]), tensor('w', w, [C]), out, 1e-5)]);
    return closeness(await read(out), rmsnormRef(x, w, R, C, 1e-5), 1e-5, 1e-4);
  });
  await record('layernorm', `rows 65 x 1001 with bias, row per thread ${rowPerThread}`, async () => {
    const [R, C] = [65, 1001];
    const offsets = randomArray(R, 41, 30);
    const x = Float32Array.from(randomArray(R * C, 40, 4), (v, i) => v + offsets[Math.floor(i / C)]);
    const w = randomArray(C, 42, 2);
    const b = randomArray(C, 43);
    const kernel = await LayerNormKernel.create(device, { rowPerThread, bias: true });
    const out = empty('out', [R, C]);
    await run([kernel.createDispatch('t', tensor('x', x, [R, C]), tensor('w', w, [C]), tensor('b', b, [C]), out, 1e-5)]);
    return closeness(await read(out), layerNormRef(x, w, b, R, C, 1e-5), 1e-5, 1e-4);
  });
}
await record('rope_qkv', 'packed 5, 300, 1; H=2 D=16', async () => {
  const [H, D] = [2, 16];
  const lengths = [5, 300, 1];
  const N = 306;
  const qkv = randomArray(N * 3 * H * D, 10, 3);
  const rope = ropeTable(4096, D, 10000);
  const positions = tokenPositions(packed(lengths), N);
  const kernel = await RopeQkvKernel.create(device, H, D);
  const [q, k, v] = ['q', 'k', 'v'].map((n) => empty(n, [H, N, D]));
  await run([kernel.createDispatch('t', tensor('qkv', qkv, [N, 3 * H * D]), tensor('rope', rope, [4096, D / 2, 2]), tensor('pos', positions, [N]), q, k, v)]);
  const ref = ropeQkvRef(qkv, rope, positions, H, D);
  const parts = [closeness(await read(q), ref.q, 1e-6, 1e-5), closeness(await read(k), ref.k, 1e-6, 1e-5), closeness(await read(v), ref.v, 0, 0)];
  return { ok: parts.every((p) => p.ok), relL2: Math.max(...parts.map((p) => p.relL2)), detail: parts.map((p) => p.detail).filter(Boolean).join('; ') || undefined };
});
await record('pooling + l2norm', 'padded B=3 L=57 C=60', async () => {
  const [B, L, C] = [3, 57, 60];
  const lengths = [57, 1, 30];
  const x = randomArray(B * L * C, 18, 5);
  const mask = new Uint32Array(B * L);
  lengths.forEach((n, b) => mask.fill(1, b * L, b * L + n));
  const sequences = packed(Array(B).fill(L));
  const pooling = await PoolingKernel.create(device);
  const l2 = await L2NormKernel.create(device);
  const cls = empty('cls', [B, C]);
  const mean = empty('mean', [B, C]);
  const unit = empty('unit', [B, C]);
  await run([
    pooling.createDispatch('p', tensor('x', x, [B * L, C]), tensor('mask', mask, [B * L]), tensor('seqs', PoolingKernel.sequenceTable(sequences, B), [B, 4]), cls, mean),
    l2.createDispatch('l2', mean, unit),
  ]);
  const ref = poolingRef(x, mask, sequences, C);
  const parts = [closeness(await read(cls), ref.cls, 0, 0), closeness(await read(mean), ref.mean, 1e-5, 1e-4), closeness(await read(unit), l2normRef(ref.mean, B, C), 1e-6, 1e-5)];
  return { ok: parts.every((p) => p.ok), relL2: Math.max(...parts.map((p) => p.relL2)), detail: parts.map((p) => p.detail).filter(Boolean).join('; ') || undefined };
});

// ---- one fixture per architecture, each matmul strategy ---------------------------------------------
const OUTPUTS: [string, OutputName][] = [
  ['last_hidden_state', 'lastHiddenState'],
  ['pooled_cls', 'pooledCls'],
  ['pooled_mean', 'pooledMean'],
  ['pooler_output', 'poolerOutput'],
  ['logits', 'logits'],
];
const fixturesDir = values.fixtures;
if (!fixturesDir || !existsSync(fixturesDir)) {
  await record('fixtures', 'fixture folder', async () => ({ ok: false, detail: `no fixtures at ${fixturesDir ?? '(none given: --fixtures DIR)'}` }));
} else {
  const cases = readdirSync(fixturesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((arch) =>
      readdirSync(path.join(fixturesDir, arch.name), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => `${arch.name}/${e.name}`),
    )
    .sort();
  for (const caseName of cases) {
    for (const strategy of ['tiled', 'subgroup'] as const) {
      await record('fixture', caseName, async () => {
        const dir = path.join(fixturesDir, caseName);
        const loaded = await loadCheckpoint(folderSource(dir));
        const expectedFile = path.join(dir, 'expected.safetensors');
        const expected = parseSafetensors(new Uint8Array(await readFile(expectedFile)), expectedFile);
        let ran: string = strategy;
        let detail: string | undefined;
        if (strategy === 'subgroup' && !matmulSubgroupsUsable(device)) {
          const refused = await loaded.architecture.createModel(device, loaded.config, loaded.weights, { matmulStrategy: 'subgroup' }).then(
            (m) => (m.destroy(), null),
            (e: Error) => e.message,
          );
          if (!refused) throw new Error('the model accepted the subgroup matmul on an adapter that cannot run it');
          ran = 'tiled';
          detail = 'subgroup matmul refused as expected; ran the tiled fallback';
        }
        const model = await loaded.architecture.createModel(device, loaded.config, loaded.weights, { matmulStrategy: ran as MatmulStrategy });
        const runner = new Runner(model);
        try {
          const [batch, seqLen] = expected.entry('input_ids').shape;
          const attentionMask = expected.toInt32('attention_mask');
          const wanted = OUTPUTS.filter(([name]) => expected.has(name));
          const result = await runner.forward({
            inputIds: expected.toInt32('input_ids'),
            attentionMask,
            tokenTypeIds: expected.has('token_type_ids') ? expected.toInt32('token_type_ids') : undefined,
            batch,
            seqLen,
            outputs: wanted.map(([, o]) => o),
          });
          let worst = 0;
          const lines: string[] = [];
          for (const [name, output] of wanted) {
            const shape = expected.entry(name).shape;
            let ref = expected.toFloat32(name);
            let got = result[output]!;
            if (shape.length === 3) {
              // [B, T, X]: real tokens only (padded rows are meaningless).
              const keep = (a: Float32Array) => Float32Array.from(a).filter((_, i) => attentionMask[Math.floor(i / shape[2])] === 1);
              ref = keep(ref);
              got = keep(got);
            }
            const c = compare(got, ref, 0, 0);
            if (!got.every(Number.isFinite)) lines.push(`${name}: non-finite values`);
            worst = Math.max(worst, c.relL2);
            lines.push(`${name} ${c.relL2.toExponential(1)}`);
          }
          const ok = worst < 1e-4 && !lines.some((l) => l.includes('non-finite'));
          return { strategy, ran, ok, relL2: worst, detail: [detail, lines.join(', ')].filter(Boolean).join('; ') };
        } finally {
          runner.destroy();
          model.destroy();
        }
      });
    }
  }
}

// ---- summary -----------------------------------------------------------------------------------------
const failed = checks.filter((c) => !c.ok);
const fallbacks = checks.filter((c) => c.ran && c.strategy && c.ran !== c.strategy);
console.log(`\n${checks.length - failed.length}/${checks.length} checks passed${fallbacks.length ? `; ${fallbacks.length} ran a fallback strategy (reported above)` : ''}`);
for (const c of failed) console.log(`FAILED ${c.group}: ${c.name} [${c.strategy ?? ''}] ${c.detail ?? ''}`);
writeJson(true);
gpu.destroy();
process.exit(failed.length ? 1 : 0);
