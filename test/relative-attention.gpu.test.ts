// Relative-position attention against the CPU reference (src/reference.ts) at odd shapes (1, 57,
// 1001), padded and packed: MPNet's bucketed bias inside every attention strategy (tiled, subgroup
// 8 and 4 lanes, f16 operands). Each test names the strategy it checks; a strategy this adapter
// cannot run must be refused clearly (checked and reported), never skipped.
import { beforeAll, describe, expect, it } from 'vitest';
import { AttentionKernel, type GPUTensor } from '../src/kernels';
import { decodeToFloat32, encodeF16 } from '../src/dtype';
import { createBufferFrom } from '../src/gpu';
import { attentionRef, mpnetRelativeBucket, type SequenceRange } from '../src/reference';
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
describe.each([['mpnet/mpnet-base-pooler-f32', 'relativeBias']])('fixture %s with %s zeroed', (caseName, field) => {
  it('moves last_hidden_state by more than 5% (rel L2) while the real table matches', async () => {
    const { loadCheckpoint } = await import('../src/checkpoint');
    const { folderSource } = await import('../src/node/folder-source');
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
