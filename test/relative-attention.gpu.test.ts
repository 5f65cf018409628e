// Relative-position attention against the CPU reference (src/reference.ts) at odd shapes (1, 57,
// 1001), padded and packed: MPNet's bucketed bias inside every attention strategy (tiled, subgroup
// 8 and 4 lanes, f16 operands); DeBERTa's relative_scores and disentangled attention. Each test names the strategy it checks; a strategy this adapter
// cannot run must be refused clearly (checked and reported), never skipped.
import { beforeAll, describe, expect, it } from 'vitest';
import { AttentionKernel, DisentangledAttentionKernel, RelativeScoresKernel, type GPUTensor } from '../src/kernels';
import { decodeToFloat32, encodeF16 } from '../src/dtype';
import { createBufferFrom } from '../src/gpu';
import { attentionRef, debertaLogBucket, disentangledAttentionRef, mpnetRelativeBucket, relativeScoresRef, type SequenceRange } from '../src/reference';
import { debertaBucketTable, relativeRowWindow } from '../src/tables';
import { compareArrays, expectClose, randomArray } from './compare';
import { emptyTensor, readTensor, reportAdapter, runDispatches, tensorFrom, testGPU } from './gpu-context';

let device: GPUDevice;
beforeAll(async () => {
  device = (await testGPU()).device;
});

function packedSequences(lengths: number[]): SequenceRange[] {
  let start = 0;
  return lengths.map((length) => {
    const s = { start, length };
    start += length;
    return s;
  });
}

function paddedMask(lengths: number[], seqLen: number): Uint32Array {
  const mask = new Uint32Array(lengths.length * seqLen);
  lengths.forEach((len, b) => mask.fill(1, b * seqLen, b * seqLen + len));
  return mask;
}

const roundF16 = (a: Float32Array) => decodeToFloat32(new Uint8Array(encodeF16(a).buffer), 'F16');
const halves = (a: Float32Array, label: string, shape: number[]): GPUTensor => ({
  label,
  shape,
  buffer: createBufferFrom(device, label, encodeF16(a), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC),
});

describe('MPNet relative bucket (reference)', () => {
  it('is the README table: 0-7 exact, 8-11, 12-15, 16-22, 23-31, 32-45, 46-63, 64-90, >= 91; +16 for keys after the query', () => {
    const starts = [8, 12, 16, 23, 32, 46, 64, 91];
    for (let n = 0; n < 5000; n++) {
      const expected = n < 8 ? n : 7 + starts.filter((s) => n >= s).length;
      expect(mpnetRelativeBucket(n), `n = ${n}`).toBe(expected);
      if (n > 0) expect(mpnetRelativeBucket(-n), `n = -${n}`).toBe(expected + 16);
    }
  });
});

type Variant = { strategy: 'tiled' | 'subgroup'; lanes?: 4 | 8; arithmetic?: 'f16' };
const VARIANTS: [string, Variant][] = [
  ['tiled', { strategy: 'tiled' }],
  ['subgroup', { strategy: 'subgroup' }],
  ['subgroup 4 lanes', { strategy: 'subgroup', lanes: 4 }],
  ['f16 arithmetic', { strategy: 'tiled', arithmetic: 'f16' }],
];

/** The kernel, or null (after checking the refusal) where the adapter cannot run the variant. */
async function createKernel(H: number, D: number, v: Variant): Promise<AttentionKernel | null> {
  const options = { ...v, relativeBias: true };
  if (v.arithmetic === 'f16' && !device.features.has('shader-f16')) {
    await expect(AttentionKernel.create(device, H, D, options)).rejects.toThrow(/needs the 'shader-f16' feature/);
    reportAdapter('attention+relbias: no shader-f16 on this adapter (refusal checked); the f16 variant ran nothing else');
    return null;
  }
  const usable = AttentionKernel.subgroupLanes(device);
  if (v.strategy === 'subgroup' && (usable === 0 || (v.lanes ?? usable) > usable)) {
    await expect(AttentionKernel.create(device, H, D, options)).rejects.toThrow(/use strategy 'tiled'/);
    reportAdapter(`attention+relbias: this adapter cannot run the ${v.lanes ?? 8}-lane subgroup kernel (refusal checked)`);
    return null;
  }
  const kernel = await AttentionKernel.create(device, H, D, options);
  expect(kernel.name).toContain('+relbias');
  expect(kernel.strategy).toBe(v.strategy);
  return kernel;
}

describe.each(VARIANTS)('attention + MPNet relative bias, %s', (_, variant) => {
  // One kernel per variant (MPNet's head dim 64): compiling is most of the cost on lavapipe.
  const H = 2;
  const D = 64;
  let kernel: AttentionKernel | null | undefined;
  async function check(lengths: number[], mask: Uint32Array, label: string, seed = 1) {
    if (kernel === undefined) kernel = await createKernel(H, D, variant);
    if (!kernel) return;
    const sequences = packedSequences(lengths);
    const N = mask.length;
    let q = randomArray(H * N * D, 11 + seed, 2);
    let k = randomArray(H * N * D, 12 + seed, 2);
    let v = randomArray(H * N * D, 13 + seed);
    const table = randomArray(40 * H, 14 + seed, 3); // 40 rows: only the first 32 are ever read
    const shape = [H, N, D];
    const f16 = variant.arithmetic === 'f16';
    const operand = (a: Float32Array, n: string) => (f16 ? halves(a, n, shape) : tensorFrom(device, n, a, shape));
    const out = emptyTensor(device, 'out', [N, H * D]);
    const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
    const tiles = tensorFrom(device, 'tiles', AttentionKernel.tileTable(sequences, maxTiles), [maxTiles, 4]);
    const tableTensor = tensorFrom(device, 'rel_bias', table, [40, H]);
    await runDispatches(device, [
      kernel.createDispatch('t', operand(q, 'q'), operand(k, 'k'), operand(v, 'v'), tensorFrom(device, 'mask', mask, [N]), tiles, out, { relativeBias: tableTensor }),
    ]);
    const got = await readTensor(device, out);
    if (f16) [q, k, v] = [roundF16(q), roundF16(k), roundF16(v)];
    const ref = attentionRef(q, k, v, mask, sequences, H, D, { relativeBias: table });
    expectClose(got, ref, { atol: 1e-5, rtol: 1e-4, label: `${label}-${variant.strategy}${variant.lanes ?? ''}${f16 ? '-f16' : ''}` });
    // The bias matters: the reference without it is far away.
    if (Math.max(...lengths) > 1) expect(compareArrays(ref, attentionRef(q, k, v, mask, sequences, H, D)).relL2).toBeGreaterThan(1e-2);
  }

  it.each([
    // B, L, valid lengths per (right-padded) sequence
    [1, 1, [1]],
    [3, 57, [1, 57, 20]],
    [1, 1001, [1001]], // every bucket, saturated ones included
  ])('padded B=%i L=%i lengths %j (H=2, D=64)', async (B, L, lengths) => {
    await check(Array(B).fill(L), paddedMask(lengths as number[], L), 'relbias');
  });

  it('packed sequences 1, 17, 300, 16 (positions restart per sequence) and a mask with holes', async () => {
    const lengths = [1, 17, 300, 16];
    await check(lengths, new Uint32Array(lengths.reduce((a, b) => a + b, 0)).fill(1), 'relbias-packed');
    await check([40], Uint32Array.from({ length: 40 }, (_, i) => (i % 3 === 1 ? 0 : 1)), 'relbias-holes', 2);
  });
});

describe('attention + MPNet relative bias: host checks', () => {
  it('needs the table exactly when compiled in, shaped [>= 32, H]', async () => {
    const plain = await AttentionKernel.create(device, 2, 16, { strategy: 'tiled' });
    const biased = await AttentionKernel.create(device, 2, 16, { strategy: 'tiled', relativeBias: true });
    expect(plain.name).toBe('attention');
    const t = (n: string, shape: number[]) => emptyTensor(device, n, shape);
    const args = [t('q', [2, 8, 16]), t('k', [2, 8, 16]), t('v', [2, 8, 16]), t('m', [8]), t('tiles', [2, 4]), t('o', [8, 32])] as const;
    expect(() => plain.createDispatch('t', ...args, { relativeBias: t('b', [32, 2]) })).toThrow(/given but not compiled in/);
    expect(() => biased.createDispatch('t', ...args)).toThrow(/relative bias table missing/);
    expect(() => biased.createDispatch('t', ...args, { relativeBias: t('b', [16, 2]) })).toThrow(/expected \[>= 32, 2\]/);
    expect(() => biased.createDispatch('t', ...args, { relativeBias: t('b', [32, 3]) })).toThrow(/expected \[>= 32, 2\]/);
    expect(() => biased.createDispatch('t', ...args, { relativeBias: t('b', [32, 2]) })).not.toThrow();
  });
});

// The relative terms matter end to end: a model whose relative table is zeroed (a kernel that
// ignored it would compute exactly that) is far from the reference, the real one within 1e-4.
describe.each([
  ['mpnet/mpnet-base-pooler-f32', 'relativeBias'],
  ['deberta-v2/deberta-v3-base-f32', 'relativeEmbeddings'],
  ['deberta-v2/deberta-v3-long-600-f32', 'relativeEmbeddings'],
])('fixture %s with %s zeroed', (caseName, field) => {
  it('moves last_hidden_state by more than 5% (rel L2) while the real table matches', async () => {
    const { loadCheckpoint } = await import('../src/checkpoint');
    const { folderSource } = await import('../src/sources/folder');
    const { Runner } = await import('../src/runner');
    const { ENCODER_FIXTURES_DIR, readEncoderExpected } = await import('./fixtures');
    const path = await import('node:path');
    const loaded = await loadCheckpoint(folderSource(path.join(ENCODER_FIXTURES_DIR, caseName)));
    const expected = await readEncoderExpected(caseName);
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const mask = expected.toInt32('attention_mask');
    const realRows = (a: Float32Array, C: number) => Float32Array.from(Array.from(mask).flatMap((m, i) => (m ? Array.from(a.subarray(i * C, (i + 1) * C)) : [])));
    const ref = expected.toFloat32('last_hidden_state');
    const C = expected.entry('last_hidden_state').shape[2];
    const run = async (weights: unknown) => {
      const model = await loaded.architecture.createModel(device, loaded.config, weights);
      const runner = new Runner(model);
      try {
        const r = await runner.forward({ inputIds: expected.toInt32('input_ids'), attentionMask: mask, batch, seqLen, outputs: ['lastHiddenState'] });
        return compareArrays(realRows(r.lastHiddenState!, C), realRows(ref, C)).relL2;
      } finally {
        runner.destroy();
        model.destroy();
      }
    };
    const w = loaded.weights as Record<string, unknown>;
    const zeroed = Object.create(w, { [field]: { value: new Float32Array((w[field] as Float32Array).length) } });
    expect(await run(w)).toBeLessThan(1e-4);
    expect(await run(zeroed)).toBeGreaterThan(0.05);
  });
});

describe('DeBERTa log buckets (reference)', () => {
  it('gives the README values for 256 buckets / 512 positions, sign kept', () => {
    const cases: [number, number][] = [[0, 0], [1, 1], [128, 128], [129, 129], [140, 137], [200, 169], [300, 207], [400, 233], [511, 255], [512, 256], [600, 270], [1100, 326]];
    for (const [d, b] of cases) {
      expect(debertaLogBucket(d, 256, 512), `d = ${d}`).toBe(b);
      expect(debertaLogBucket(-d, 256, 512), `d = -${d}`).toBe(-b);
    }
  });
  it('bucket table: min(|b|, span) up to saturation (256/512: 513 entries; 16/64: from distance 64)', () => {
    const big = debertaBucketTable(256, 512);
    expect(big.span).toBe(256);
    expect(big.table.length).toBe(513); // |b(512)| = 256 is the first at the span
    expect(big.table[140]).toBe(137);
    const small = debertaBucketTable(16, 64);
    expect(small.span).toBe(16);
    expect(small.table[small.table.length - 1]).toBe(16);
    expect(small.table.length - 1).toBe(64);
    expect(Array.from(small.table.subarray(0, 9))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe.each([
  ['tiled', undefined],
  ['subgroup', undefined],
  ['subgroup', 4],
] as const)('relative_scores (c2p = q Kr^T, p2c = k Qr^T), %s %s', (strategy, lanes) => {
  it.each([
    [1, 16, 1, 2],
    [3, 32, 57, 32],
    [2, 64, 1001, 512],
    [1, 64, 17, 30],
  ])('H=%i D=%i N=%i R=%i; and only the rows of a window', async (H, D, N, R) => {
    const usable = AttentionKernel.subgroupLanes(device);
    if (strategy === 'subgroup' && (usable === 0 || (lanes ?? usable) > usable)) {
      await expect(RelativeScoresKernel.create(device, H, D, { strategy, lanes })).rejects.toThrow(/use strategy 'tiled'/);
      reportAdapter(`relative_scores: this adapter cannot run the ${lanes ?? 8}-lane subgroup kernel (refusal checked)`);
      return;
    }
    const kernel = await RelativeScoresKernel.create(device, H, D, { strategy, lanes });
    expect(kernel.strategy).toBe(strategy);
    const q = randomArray(H * N * D, 31);
    const k = randomArray(H * N * D, 32);
    const rel = randomArray(2 * H * R * D, 33);
    const run = async (first: number, end: number) => {
      const out = emptyTensor(device, 'out', [2, H, N, R]); // zeros
      await runDispatches(device, [
        kernel.createDispatch('t', tensorFrom(device, 'q', q, [H, N, D]), tensorFrom(device, 'k', k, [H, N, D]), tensorFrom(device, 'rel', rel, [2, H, R, D]), out, tensorFrom(device, 'rows', Uint32Array.from([first, end, 0, 0]), [4])),
      ]);
      return readTensor(device, out);
    };
    const ref = relativeScoresRef(q, k, rel, H, D);
    expectClose(await run(0, R), ref, { atol: 1e-5, rtol: 1e-4, label: 'relative_scores' });
    // A window [first, end): those rows as the reference; a workgroup wholly outside writes nothing.
    const [first, end] = [Math.floor(R / 3), Math.max(Math.floor(R / 3) + 1, R - 20)];
    const got = await run(first, end);
    const inWindow = (e: number) => e % R >= first && e % R < end;
    expectClose(got.filter((_, e) => inWindow(e)), ref.filter((_, e) => inWindow(e)), { atol: 1e-5, rtol: 1e-4, label: 'relative_scores-window' });
    const tile = strategy === 'tiled' ? RelativeScoresKernel.TILE : 1; // the subgroup kernel writes exactly the window
    const untouched = (e: number) => e % R < Math.floor(first / tile) * tile || e % R >= Math.ceil(end / tile) * tile;
    expect(got.filter((_, e) => untouched(e)).every((x) => x === 0)).toBe(true);
  });

  it('the window covers every row a sequence reaches (relativeRowWindow)', () => {
    for (const [buckets, max] of [[256, 512], [16, 64]]) {
      const { table, span } = debertaBucketTable(buckets, max);
      for (const L of [1, 2, 17, 100, 129, 600, 5000]) {
        const [first, end] = relativeRowWindow(table, span, L);
        let lo = Infinity;
        let hi = -Infinity;
        for (let d = -(L - 1); d <= L - 1; d++) {
          const idx = Math.min(Math.max(debertaLogBucket(d, buckets, max) + span, 0), 2 * span - 1);
          lo = Math.min(lo, idx);
          hi = Math.max(hi, idx);
        }
        expect([first, end], `buckets ${buckets}, L ${L}`).toEqual([lo, hi + 1]);
      }
    }
  });
});

describe.each([
  ['tiled', undefined],
  ['subgroup', undefined],
  ['subgroup', 4],
] as const)('attention_disentangled (DeBERTa), %s %s', (strategy, lanes) => {
  const H = 2;
  const D = 64;
  let kernels: { scores: RelativeScoresKernel; attention: DisentangledAttentionKernel } | null | undefined;
  async function check(lengths: number[], mask: Uint32Array, bucketSize: number, maxPosition: number, label: string) {
    if (kernels === undefined) {
      const usable = AttentionKernel.subgroupLanes(device);
      if (strategy === 'subgroup' && (usable === 0 || (lanes ?? usable) > usable)) {
        await expect(DisentangledAttentionKernel.create(device, H, D, { strategy, lanes })).rejects.toThrow(/use strategy 'tiled'/);
        reportAdapter(`attention_disentangled: this adapter cannot run the ${lanes ?? 8}-lane subgroup kernel (refusal checked)`);
        kernels = null;
      } else {
        const attention = await DisentangledAttentionKernel.create(device, H, D, { strategy, lanes });
        expect(attention.strategy).toBe(strategy);
        kernels = { scores: await RelativeScoresKernel.create(device, H, D), attention };
      }
    }
    if (!kernels) return;
    const sequences = packedSequences(lengths);
    const N = mask.length;
    const q = randomArray(H * N * D, 41, 1);
    const k = randomArray(H * N * D, 42, 1);
    const v = randomArray(H * N * D, 43);
    const { table, span } = debertaBucketTable(bucketSize, maxPosition);
    const R = 2 * span;
    const relProj = randomArray(2 * H * R * D, 44, 1);
    const scale = 1 / Math.sqrt(3 * D);
    const rel = emptyTensor(device, 'rel', [2, H, N, R]);
    const out = emptyTensor(device, 'out', [N, H * D]);
    const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
    const tiles = tensorFrom(device, 'tiles', AttentionKernel.tileTable(sequences, maxTiles), [maxTiles, 4]);
    const qt = tensorFrom(device, 'q', q, [H, N, D]);
    const kt = tensorFrom(device, 'k', k, [H, N, D]);
    await runDispatches(device, [
      // Only the rows the longest sequence reaches: the rest of rel stays zero, which the reference would notice.
      kernels.scores.createDispatch('scores', qt, kt, tensorFrom(device, 'relProj', relProj, [2, H, R, D]), rel, tensorFrom(device, 'rows', relativeRowWindow(table, span, Math.max(...lengths)), [4])),
      kernels.attention.createDispatch('attention', qt, kt, tensorFrom(device, 'v', v, [H, N, D]), tensorFrom(device, 'mask', mask, [N]), tiles, rel, tensorFrom(device, 'buckets', table, [table.length]), out, scale),
    ]);
    const ref = disentangledAttentionRef(q, k, v, relProj, mask, sequences, H, D, { bucketSize, maxPosition, scale });
    expectClose(await readTensor(device, out), ref, { atol: 1e-5, rtol: 1e-4, label });
    if (Math.max(...lengths) > 1) {
      // Each position term matters, and p2c at the paper's index (delta(j, i)) is a different answer.
      const zeroRows = (w: number) => {
        const r = relProj.slice();
        r.fill(0, w * H * R * D, (w + 1) * H * R * D);
        return r;
      };
      for (const w of [0, 1]) expect(compareArrays(ref, disentangledAttentionRef(q, k, v, zeroRows(w), mask, sequences, H, D, { bucketSize, maxPosition, scale })).relL2).toBeGreaterThan(1e-3);
    }
  }

  it.each([
    // B, L, valid lengths, buckets, max position
    [1, 1, [1], 256, 512],
    [3, 57, [1, 57, 20], 256, 512],
    [2, 100, [100, 9], 16, 64], // clamped from distance 64 (both sides of the lopsided clamp)
    [1, 1001, [1001], 256, 512], // past the table: rows 0 and 511
  ])('padded B=%i L=%i lengths %j, buckets %i / %i', async (B, L, lengths, buckets, maxPosition) => {
    await check(Array(B).fill(L), paddedMask(lengths as number[], L), buckets, maxPosition, `disentangled-${L}`);
  });

  it('packed sequences 1, 17, 300, 16 and a mask with holes', async () => {
    const lengths = [1, 17, 300, 16];
    await check(lengths, new Uint32Array(lengths.reduce((a, b) => a + b, 0)).fill(1), 256, 512, 'disentangled-packed');
    await check([40], Uint32Array.from({ length: 40 }, (_, i) => (i % 3 === 1 ? 0 : 1)), 16, 64, 'disentangled-holes');
  });
});
