// Every WGSL kernel against its CPU reference (src/reference.ts) at odd shapes: 1, 57, 1001 and
// sizes that are not multiples of any tile. Runs on whatever adapter is present (lavapipe in CI):
// each test names the kernel strategy it checks; where the adapter cannot run that strategy (no
// subgroups, or too narrow), the test checks that asking for it fails clearly, REPORTS that
// ("[adapter] ..."), and runs the same check on the fallback kernel, so nothing is skipped.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionKernel,
  EmbeddingKernel,
  L2NormKernel,
  LayerNormKernel,
  MatmulKernel,
  PoolingKernel,
  RMSNormKernel,
  RopeQkvKernel,
  SentencePoolingKernel,
  SENTENCE_POOLING_MODES,
  type SentencePoolingMode,
  type GPUTensor,
  type MatmulActivation,
  type MatmulOptions,
  type MatmulStrategy,
} from '../src/kernels';
import { foldNormGain, interleaveGateUp, interleaveQkvHeads, permuteRotateHalf, interleaveGateUpBias } from '../src/weight-layout';
import { matmulStrategy, matmulSubgroupsUsable } from '../src/capabilities';
import { decodeToFloat32, encodeF16 } from '../src/dtype';
import { createBufferFrom, readBuffer } from '../src/gpu';
import {
  activationRef,
  attentionRef,
  embeddingRef,
  erfcRef,
  erfRef,
  gluRef,
  l2normRef,
  layerNormRef,
  matmulRef,
  poolingRef,
  rmsnormRef,
  sentencePoolingRef,
  ropeQkvRef,
  ropeRotateHalfRef,
  ropeTable,
  swigluRef,
  tokenPositions,
  type SequenceRange,
} from '../src/reference';
import { compareArrays, expectClose, randomArray } from './compare';
import { MATMUL_VARIANTS } from '../kernels/dev/matmul_variants';
import { ATTENTION_VARIANTS } from '../kernels/dev/attention_variants';
import { emptyTensor, readTensor, reportAdapter, runDispatches, tensorFrom, testGPU } from './gpu-context';

/** FNV-1a over an array's 32-bit words: a cache key for CPU references. */
function hashWords(a: Float32Array | Uint32Array): string {
  const words = new Uint32Array(a.buffer, a.byteOffset, a.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return `${a.length}:${(h >>> 0).toString(16)}`;
}

/**
 * attentionRef computed once per distinct input in this file: the same q, k, v and mask reach
 * every strategy (tiled, subgroup, 4 lanes, f16, kernels/dev), and the reference at L = 4096 is
 * most of a check's time. Callers must not modify the returned array.
 */
const attentionRefs = new Map<string, Float32Array>();
function cachedAttentionRef(...args: Parameters<typeof attentionRef>): Float32Array {
  const [q, k, v, mask, sequences, H, D, options] = args;
  const key = [hashWords(q), hashWords(k), hashWords(v), hashWords(Uint32Array.from(mask)), JSON.stringify(sequences), H, D, options?.window].join('|');
  let ref = attentionRefs.get(key);
  if (!ref) attentionRefs.set(key, (ref = attentionRef(...args)));
  return ref;
}

let device: GPUDevice;
beforeAll(async () => {
  device = (await testGPU()).device;
});

function randomIds(n: number, vocab: number, seed: number): Uint32Array {
  return Uint32Array.from(randomArray(n, seed), (r) => Math.floor(((r + 1) / 2) * vocab) % vocab);
}

/** Sequences back to back: lengths [3, 5] -> token ranges [0, 3) and [3, 8). */
function packedSequences(lengths: number[]): SequenceRange[] {
  let start = 0;
  return lengths.map((length) => {
    const range = { start, length };
    start += length;
    return range;
  });
}

/** Right-padded mask: sequence b keeps lengths[b] tokens. */
function paddedMask(lengths: number[], seqLen: number): Uint32Array {
  const mask = new Uint32Array(lengths.length * seqLen);
  lengths.forEach((len, b) => mask.fill(1, b * seqLen, b * seqLen + len));
  return mask;
}

describe('embedding', () => {
  it.each([1, 57, 1001])('gathers %i tokens', async (tokens) => {
    const [V, C] = [1000, 68];
    const table = randomArray(V * C, 1);
    const ids = randomIds(tokens, V, tokens);
    const kernel = await EmbeddingKernel.create(device, C);
    const out = emptyTensor(device, 'out', [tokens, C]);
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'ids', ids, [tokens]), tensorFrom(device, 'table', table, [V, C]), out)]);
    expectClose(await readTensor(device, out), embeddingRef(ids, table, C), { atol: 0, rtol: 0, label: 'embedding' });
  });

  it.each([
    [1, true, true],
    [57, true, true],
    [1001, true, true],
    [57, true, false],
    [57, false, true],
  ])('%i tokens, + positions %s, + token types %s (BERT / RoBERTa), bit-exact', async (tokens, withPositions, withTypes) => {
    const [V, P, T, C] = [1000, 514, 2, 68];
    const table = randomArray(V * C, 1);
    const positionTable = randomArray(P * C, 2, 0.5);
    const typeTable = randomArray(T * C, 3, 0.25);
    const ids = randomIds(tokens, V, tokens);
    // RoBERTa-style positions: padding_idx + 1 + index (the host computes them).
    const positions = Uint32Array.from({ length: tokens }, (_, t) => 2 + (t % 300));
    const typeIds = Uint32Array.from({ length: tokens }, (_, t) => (t % 7 < 3 ? 0 : 1));
    const kernel = await EmbeddingKernel.create(device, C, { positions: withPositions, tokenTypes: withTypes });
    const out = emptyTensor(device, 'out', [tokens, C]);
    const extra = {
      ...(withPositions ? { positions: tensorFrom(device, 'pos', positions, [tokens]), positionTable: tensorFrom(device, 'posTable', positionTable, [P, C]) } : {}),
      ...(withTypes ? { typeIds: tensorFrom(device, 'types', typeIds, [tokens]), typeTable: tensorFrom(device, 'typeTable', typeTable, [T, C]) } : {}),
    };
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'ids', ids, [tokens]), tensorFrom(device, 'table', table, [V, C]), out, extra)]);
    const ref = embeddingRef(ids, table, C, {
      ...(withPositions ? { positions, positionTable } : {}),
      ...(withTypes ? { typeIds, typeTable } : {}),
    });
    expectClose(await readTensor(device, out), ref, { atol: 0, rtol: 0, label: 'embedding+' });
  });

  it('embeddingRef adds in transformers order: (word + type) + position, in f32', () => {
    const ref = embeddingRef([0], Float32Array.of(1, 0, 0, 0), 4, {
      typeIds: [0],
      typeTable: Float32Array.of(2 ** -24, 0, 0, 0),
      positions: [0],
      positionTable: Float32Array.of(2 ** -24, 0, 0, 0),
    });
    expect(ref[0]).toBe(1); // (1 + 2^-24) rounds to 1, then + 2^-24 rounds to 1 again
  });

  it('rejects missing, unexpected or misshapen position / type tensors', async () => {
    const C = 8;
    const ids = emptyTensor(device, 'ids', [5]);
    const table = emptyTensor(device, 'table', [10, C]);
    const out = emptyTensor(device, 'out', [5, C]);
    const bert = await EmbeddingKernel.create(device, C, { positions: true, tokenTypes: true });
    expect(() => bert.createDispatch('t', ids, table, out)).toThrow(/position ids and table missing/);
    const pos = { positions: emptyTensor(device, 'pos', [5]), positionTable: emptyTensor(device, 'pt', [512, C]) };
    expect(() => bert.createDispatch('t', ids, table, out, pos)).toThrow(/type ids and table missing/);
    expect(() => bert.createDispatch('t', ids, table, out, { ...pos, typeIds: emptyTensor(device, 'ty', [4]), typeTable: emptyTensor(device, 'tt', [2, C]) })).toThrow(
      /type ids.*expected \[5\]/,
    );
    expect(() => bert.createDispatch('t', ids, table, out, { ...pos, typeIds: emptyTensor(device, 'ty', [5]), typeTable: emptyTensor(device, 'tt', [2, C + 4]) })).toThrow(
      /type table.*expected \[2,8\]/,
    );
    const neo = await EmbeddingKernel.create(device, C);
    expect(() => neo.createDispatch('t', ids, table, out, pos)).toThrow(/position ids and table given but not compiled in/);
  });
});

describe.each([false, true])('rmsnorm, row per thread: %s', (rowPerThread) => {
  it.each([
    [1, 64],
    [57, 768],
    [1001, 57],
    [65, 64], // one past the 64 rows of a row-per-thread workgroup
  ])('rows=%i cols=%i', async (rows, cols) => {
    const x = randomArray(rows * cols, 2, 40); // large values: the real model's residuals reach ~1300
    const w = randomArray(cols, 3);
    const kernel = await RMSNormKernel.create(device, { rowPerThread });
    expect(kernel.rowPerThread).toBe(rowPerThread);
    const out = emptyTensor(device, 'out', [rows, cols]);
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [rows, cols]), tensorFrom(device, 'w', w, [cols]), out, 1e-5)]);
    expectClose(await readTensor(device, out), rmsnormRef(x, w, rows, cols, 1e-5), { atol: 1e-5, rtol: 1e-4, label: 'rmsnorm' });
  });
});

describe.each([false, true])('layernorm, row per thread: %s', (rowPerThread) => {
  it.each([
    [1, 64, true, 1e-12],
    [57, 768, true, 1e-12],
    [1001, 57, false, 1e-5],
    [65, 1001, true, 1e-5], // one past the 64 rows of a row-per-thread workgroup
    [3, 1, true, 1e-5], // one column: x - mean = 0, out = bias
  ] as const)('rows=%i cols=%i bias=%s eps=%d', async (rows, cols, withBias, eps) => {
    // Rows with a large mean against their spread (BERT's residual stream has outlier channels):
    // what the two-pass variance is for.
    const noise = randomArray(rows * cols, 40, 4);
    const offsets = randomArray(rows, 41, 30);
    const x = Float32Array.from(noise, (v, i) => v + offsets[Math.floor(i / cols)]);
    const w = randomArray(cols, 42, 2);
    const b = withBias ? randomArray(cols, 43) : null;
    const kernel = await LayerNormKernel.create(device, { rowPerThread, bias: withBias });
    expect(kernel.rowPerThread).toBe(rowPerThread);
    const out = emptyTensor(device, 'out', [rows, cols]);
    await runDispatches(device, [
      kernel.createDispatch('t', tensorFrom(device, 'x', x, [rows, cols]), tensorFrom(device, 'w', w, [cols]), b && tensorFrom(device, 'b', b, [cols]), out, eps),
    ]);
    expectClose(await readTensor(device, out), layerNormRef(x, w, b, rows, cols, eps), { atol: 1e-5, rtol: 1e-4, label: 'layernorm' });
  });

  it('rejects a missing or unexpected bias, wrong shapes and aliasing', async () => {
    const kernel = await LayerNormKernel.create(device, { rowPerThread, bias: true });
    const x = emptyTensor(device, 'x', [3, 8]);
    const w = emptyTensor(device, 'w', [8]);
    expect(() => kernel.createDispatch('t', x, w, null, emptyTensor(device, 'o', [3, 8]), 1e-12)).toThrow(/bias missing/);
    expect(() => kernel.createDispatch('t', x, w, emptyTensor(device, 'b', [7]), emptyTensor(device, 'o', [3, 8]), 1e-12)).toThrow(/bias.*expected \[8\]/);
    expect(() => kernel.createDispatch('t', x, w, emptyTensor(device, 'b', [8]), x, 1e-12)).toThrow(/aliases/);
    const noBias = await LayerNormKernel.create(device, { rowPerThread });
    expect(() => noBias.createDispatch('t', x, w, emptyTensor(device, 'b', [8]), emptyTensor(device, 'o', [3, 8]), 1e-5)).toThrow(/bias given but not compiled in/);
  });
});

/** W rounded to f16 and back: what an f16-weight matmul multiplies by. */
function roundF16(w: Float32Array): Float32Array {
  return decodeToFloat32(new Uint8Array(encodeF16(w).buffer), 'F16');
}

/** A weight tensor in the storage a kernel reads: f32, or f16 halves (2 bytes each). */
function weightTensor(label: string, w: Float32Array, shape: number[], dtype: 'f32' | 'f16'): GPUTensor {
  if (dtype === 'f32') return tensorFrom(device, label, w, shape);
  return { label, shape, buffer: createBufferFrom(device, label, encodeF16(w), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC) };
}

/** Every (strategy, weight dtype) pair; 'subgroup' where the device cannot run it: see createMatmul. */
const MATMUL_CONFIGS: [MatmulStrategy, 'f32' | 'f16'][] = [
  ['tiled', 'f32'],
  ['tiled', 'f16'],
  ['subgroup', 'f32'],
  ['subgroup', 'f16'],
];

const reported = new Set<string>();
function reportOnce(message: string): void {
  if (!reported.has(message)) reportAdapter(message);
  reported.add(message);
}

/**
 * The matmul kernel of `options.strategy`. Where this device cannot run the subgroup kernel, asking
 * for it must fail with a message naming the fallback; that is checked, reported, and the tiled
 * kernel (what the model falls back to) is returned, so the caller's check still runs.
 */
async function createMatmul(options: MatmulOptions): Promise<MatmulKernel> {
  if (options.strategy === 'subgroup' && !matmulSubgroupsUsable(device)) {
    await expect(MatmulKernel.create(device, options)).rejects.toThrow(/subgroup kernel needs the 'subgroups' feature.*use strategy 'tiled'/);
    reportOnce("matmul: this adapter cannot run the 'subgroup' kernel (checked: create() says so); its tests ran on the 'tiled' fallback");
    const kernel = await MatmulKernel.create(device, { ...options, strategy: 'tiled' });
    expect(kernel.strategy).toBe('tiled');
    return kernel;
  }
  const kernel = await MatmulKernel.create(device, options);
  expect(kernel.strategy).toBe(options.strategy ?? matmulStrategy(device));
  return kernel;
}

/** A device stand-in for the strategy policy: features and adapterInfo only. */
function fakeDevice(info: Record<string, unknown>, subgroups = true): GPUDevice {
  return { features: new Set(subgroups ? ['subgroups'] : []), adapterInfo: info } as unknown as GPUDevice;
}
const LAVAPIPE = { vendor: 'mesa', architecture: 'llvmpipe', device: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)', subgroupMinSize: 8, subgroupMaxSize: 8 };
const SWIFTSHADER = { vendor: 'google', architecture: 'swiftshader', device: '0xc0de', description: 'SwiftShader Device (Subzero)' };
const NVIDIA = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', subgroupMinSize: 32, subgroupMaxSize: 32 };

describe('matmul', () => {
  it('defaults to the subgroup kernel on a CPU adapter with 8-wide subgroups, the tiled one elsewhere (policy, on stand-ins)', async () => {
    expect(matmulStrategy(fakeDevice(LAVAPIPE))).toBe('subgroup');
    expect(matmulStrategy(fakeDevice(LAVAPIPE, false))).toBe('tiled');
    expect(matmulStrategy(fakeDevice({ ...LAVAPIPE, subgroupMinSize: 4 }))).toBe('tiled');
    expect(matmulStrategy(fakeDevice({ ...SWIFTSHADER, subgroupMinSize: 4, subgroupMaxSize: 4 }))).toBe('tiled');
    expect(matmulStrategy(fakeDevice(NVIDIA))).toBe('tiled'); // can run it explicitly, does not default to it
    expect(matmulSubgroupsUsable(fakeDevice(NVIDIA))).toBe(true);
    // This device: whichever it is, create() without a strategy takes the policy's pick.
    reportAdapter(`matmul default on this adapter: '${matmulStrategy(device)}' (subgroup kernel usable: ${matmulSubgroupsUsable(device)})`);
    expect((await MatmulKernel.create(device)).strategy).toBe(matmulStrategy(device));
  });

  describe.each(MATMUL_CONFIGS)('%s kernel, %s weights', (strategy, weightDtype) => {
    it.each([
      [1, 1, 4],
      [57, 1001, 60],
      [1001, 57, 1004],
      [64, 64, 64],
      [130, 2304, 768],
    ])('M=%i N=%i K=%i', async (M, N, K) => {
      const x = randomArray(M * K, 4);
      const w = randomArray(N * K, 5, 0.1);
      const kernel = await createMatmul({ strategy, weightDtype });
      const out = emptyTensor(device, 'out', [M, N]);
      await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [M, K]), weightTensor('w', w, [N, K], weightDtype), out)]);
      const got = await readTensor(device, out);
      // Against the reference with the weights the kernel holds: only the summation order differs.
      const held = weightDtype === 'f16' ? roundF16(w) : w;
      expectClose(got, matmulRef(x, held, M, N, K), { atol: 1e-5, rtol: 1e-4, label: 'matmul' });
      if (weightDtype === 'f16') {
        // And the cost of f16 storage against the f32 weights: about 2^-11 relative per weight.
        const { relL2 } = compareArrays(got, matmulRef(x, w, M, N, K));
        expect(relL2).toBeLessThan(1e-3);
      }
    });

    it('bias + tanh + residual epilogues at 57 x 75 x 36', async () => {
      const [M, N, K] = [57, 75, 36];
      const x = randomArray(M * K, 6, 2);
      const w = randomArray(N * K, 7);
      const bias = randomArray(N, 8);
      const residual = randomArray(M * N, 9);
      const t = (label: string, d: Float32Array, s: number[]) => tensorFrom(device, label, d, s);
      const out = emptyTensor(device, 'out', [M, N]);
      const outTanh = emptyTensor(device, 'outTanh', [M, N]);
      const outRes = emptyTensor(device, 'outRes', [M, N]);
      const kernels = await Promise.all([
        createMatmul({ strategy, weightDtype, bias: true }),
        createMatmul({ strategy, weightDtype, bias: true, activation: 'tanh' }),
        createMatmul({ strategy, weightDtype, residual: true }),
      ]);
      const [withBias, withTanh, withResidual] = kernels;
      const X = t('x', x, [M, K]);
      const W = weightTensor('w', w, [N, K], weightDtype);
      const B = t('bias', bias, [N]);
      await runDispatches(device, [
        withBias.createDispatch('b', X, W, out, { bias: B }),
        withTanh.createDispatch('bt', X, W, outTanh, { bias: B }),
        withResidual.createDispatch('r', X, W, outRes, { residual: t('res', residual, [M, N]) }),
      ]);
      const held = weightDtype === 'f16' ? roundF16(w) : w;
      expectClose(await readTensor(device, out), matmulRef(x, held, M, N, K, { bias }), { label: 'bias' });
      expectClose(await readTensor(device, outTanh), matmulRef(x, held, M, N, K, { bias, activation: 'tanh' }), { label: 'tanh' });
      expectClose(await readTensor(device, outRes), matmulRef(x, held, M, N, K, { residual }), { label: 'residual' });
    });
  });

  it('rejects K not a multiple of 4, wrong shapes and aliasing', async () => {
    const kernel = await MatmulKernel.create(device);
    const x = emptyTensor(device, 'x57', [3, 57]);
    expect(() => kernel.createDispatch('t', x, emptyTensor(device, 'w', [5, 57]), emptyTensor(device, 'o', [3, 5]))).toThrow(/K = 57.*multiple of 4/);
    const x4 = emptyTensor(device, 'x', [3, 8]);
    expect(() => kernel.createDispatch('t', x4, emptyTensor(device, 'w', [5, 8]), emptyTensor(device, 'o', [3, 6]))).toThrow(/out.*shape \[3,6\], expected \[3,5\]/);
    const square = emptyTensor(device, 'sq', [8, 8]);
    expect(() => kernel.createDispatch('t', square, emptyTensor(device, 'w', [8, 8]), square)).toThrow(/aliases/);
    expect(() => kernel.createDispatch('t', x4, emptyTensor(device, 'w', [5, 8]), emptyTensor(device, 'o', [3, 5]), { bias: emptyTensor(device, 'b', [5]) })).toThrow(
      /bias given but not compiled in/,
    );
  });

  it('f16 weights: rejects an f32-sized or too small w buffer', async () => {
    const kernel = await MatmulKernel.create(device, { weightDtype: 'f16' });
    const x = emptyTensor(device, 'x', [3, 8]);
    const out = emptyTensor(device, 'o', [3, 5]);
    expect(() => kernel.createDispatch('t', x, emptyTensor(device, 'w32', [5, 8]), out)).toThrow(/f32-sized; this kernel reads f16 weights \(80 bytes\)/);
    expect(() => kernel.createDispatch('t', x, weightTensor('w', new Float32Array(5 * 8), [5, 4], 'f16'), out)).toThrow(/has shape \[5,4\], expected \[5,8\]/);
    const short = { label: 'short', shape: [5, 8], buffer: createBufferFrom(device, 'short', encodeF16(new Float32Array(16)), GPUBufferUsage.STORAGE) };
    expect(() => kernel.createDispatch('t', x, short, out)).toThrow(/holds 32 bytes, needs 80 \(f16\)/);
    expect(() => kernel.createDispatch('t', x, weightTensor('w', new Float32Array(5 * 8), [5, 8], 'f16'), out)).not.toThrow();
  });
});

describe('rope_qkv', () => {
  it.each([
    [[1], 1, 16],
    [[57, 57], 3, 32],
    [[1001], 2, 64],
    [[5, 300, 1], 2, 16], // packed sequences of different lengths
  ])('sequences %j H=%i D=%i', async (lengths, H, D) => {
    const sequences = packedSequences(lengths);
    const N = lengths.reduce((a, b) => a + b, 0);
    const qkv = randomArray(N * 3 * H * D, 10, 3);
    const maxLen = 4096;
    const rope = ropeTable(maxLen, D, 10000);
    const positions = tokenPositions(sequences, N);
    const kernel = await RopeQkvKernel.create(device, H, D);
    const [q, k, v] = ['q', 'k', 'v'].map((n) => emptyTensor(device, n, [H, N, D]));
    await runDispatches(device, [
      kernel.createDispatch('t', tensorFrom(device, 'qkv', qkv, [N, 3 * H * D]), tensorFrom(device, 'rope', rope, [maxLen, D / 2, 2]), tensorFrom(device, 'pos', positions, [N]), q, k, v),
    ]);
    const ref = ropeQkvRef(qkv, rope, positions, H, D);
    expectClose(await readTensor(device, q), ref.q, { atol: 1e-6, rtol: 1e-5, label: 'q' });
    expectClose(await readTensor(device, k), ref.k, { atol: 1e-6, rtol: 1e-5, label: 'k' });
    expectClose(await readTensor(device, v), ref.v, { atol: 0, rtol: 0, label: 'v' });
  });

  it.each([
    [[1], 1, 16],
    [[57, 57], 3, 32],
    [[1001], 2, 64],
  ])('split only (rope: false, BERT): sequences %j H=%i D=%i, exact copies', async (lengths, H, D) => {
    const N = lengths.reduce((a, b) => a + b, 0);
    const qkv = randomArray(N * 3 * H * D, 14, 3);
    const kernel = await RopeQkvKernel.create(device, H, D, { rope: false });
    expect([kernel.name, kernel.rope]).toEqual(['split_qkv', false]);
    const [q, k, v] = ['q', 'k', 'v'].map((n) => emptyTensor(device, n, [H, N, D]));
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'qkv', qkv, [N, 3 * H * D]), null, null, q, k, v)]);
    const ref = ropeQkvRef(qkv, null, new Uint32Array(N), H, D);
    for (const [name, got] of [['q', q], ['k', k], ['v', v]] as const) {
      expectClose(await readTensor(device, got), ref[name], { atol: 0, rtol: 0, label: `split-${name}` });
    }
  });

  it('rejects a missing rope table, or one given to a split-only kernel', async () => {
    const [H, D, N] = [2, 8, 5];
    const qkv = emptyTensor(device, 'qkv', [N, 3 * H * D]);
    const [q, k, v] = ['q', 'k', 'v'].map((n) => emptyTensor(device, n, [H, N, D]));
    const rope = emptyTensor(device, 'rope', [16, D / 2, 2]);
    const positions = emptyTensor(device, 'pos', [N]);
    const withRope = await RopeQkvKernel.create(device, H, D);
    expect(() => withRope.createDispatch('t', qkv, null, null, q, k, v)).toThrow(/rope table and positions are required/);
    const split = await RopeQkvKernel.create(device, H, D, { rope: false });
    expect(() => split.createDispatch('t', qkv, rope, positions, q, k, v)).toThrow(/given to a split-only kernel/);
    expect(() => split.createDispatch('t', emptyTensor(device, 'qkv', [N, 3 * H * D + 2]), null, null, q, k, v)).toThrow(/qkv.*expected \[5,48\]/);
  });
});

describe('qkv from separate q, k, v weights (interleaveQkvHeads), rotate-half RoPE (permuteRotateHalf)', () => {
  // The upload recipes a BERT / ModernBERT model uses, run through matmul, rope_qkv and attention
  // on the GPU, against transformers' math on the CPU (separate projections, rotate-half RoPE).
  it.each([
    ['ModernBERT: rotate-half RoPE', true],
    ['BERT: no RoPE', false],
  ] as const)('%s, packed sequences 1, 57, 130', async (_, rotary) => {
    const [H, D, K] = [2, 32, 64];
    const C = H * D;
    const lengths = [1, 57, 130];
    const sequences = packedSequences(lengths);
    const N = lengths.reduce((a, b) => a + b, 0);
    const positions = tokenPositions(sequences, N);
    const mask = new Uint32Array(N).fill(1);
    const x = randomArray(N * K, 60);
    const [wq, wk, wv] = [61, 62, 63].map((seed) => randomArray(C * K, seed, 0.3));
    const [bq, bk, bv] = [64, 65, 66].map((seed) => randomArray(C, seed, 0.5));
    const rope = ropeTable(256, D, 160000);
    // transformers: three projections, [N, H, D] -> [H, N, D], rotate-half on q and k.
    const headMajor = (y: Float32Array) => {
      const out = new Float32Array(H * N * D);
      for (let t = 0; t < N; t++) for (let h = 0; h < H; h++) out.set(y.subarray((t * H + h) * D, (t * H + h + 1) * D), (h * N + t) * D);
      return out;
    };
    let q: Float32Array = headMajor(matmulRef(x, wq, N, C, K, { bias: bq }));
    let k: Float32Array = headMajor(matmulRef(x, wk, N, C, K, { bias: bk }));
    const v = headMajor(matmulRef(x, wv, N, C, K, { bias: bv }));
    if (rotary) {
      q = ropeRotateHalfRef(q, rope, positions, H, D);
      k = ropeRotateHalfRef(k, rope, positions, H, D);
    }
    const expected = cachedAttentionRef(q, k, v, mask, sequences, H, D);
    // Ours: one fused projection with per-head interleaved (and, with RoPE, permuted) rows.
    const perm = (w: Float32Array, rows: number) => (rotary ? permuteRotateHalf(w, H, D, rows) : w);
    const wqkv = interleaveQkvHeads(perm(wq, K), perm(wk, K), wv, H, D, K);
    const bqkv = interleaveQkvHeads(perm(bq, 1), perm(bk, 1), bv, H, D, 1);
    const [matmul, split, attention] = await Promise.all([
      MatmulKernel.create(device, { bias: true }),
      RopeQkvKernel.create(device, H, D, { rope: rotary }),
      AttentionKernel.create(device, H, D),
    ]);
    const qkv = emptyTensor(device, 'qkv', [N, 3 * C]);
    const [gq, gk, gv] = ['q', 'k', 'v'].map((n) => emptyTensor(device, n, [H, N, D]));
    const out = emptyTensor(device, 'out', [N, C]);
    const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
    await runDispatches(device, [
      matmul.createDispatch('qkv', tensorFrom(device, 'x', x, [N, K]), tensorFrom(device, 'wqkv', wqkv, [3 * C, K]), qkv, { bias: tensorFrom(device, 'bqkv', bqkv, [3 * C]) }),
      rotary
        ? split.createDispatch('rope', qkv, tensorFrom(device, 'rope', rope, [256, D / 2, 2]), tensorFrom(device, 'pos', positions, [N]), gq, gk, gv)
        : split.createDispatch('split', qkv, null, null, gq, gk, gv),
      attention.createDispatch(
        'attention',
        gq,
        gk,
        gv,
        tensorFrom(device, 'mask', mask, [N]),
        tensorFrom(device, 'tiles', AttentionKernel.tileTable(sequences, maxTiles), [maxTiles, 4]),
        out,
      ),
    ]);
    expectClose(await readTensor(device, out), expected, { atol: 1e-5, rtol: 1e-4, label: 'qkv-recipe' });
  });
});

/**
 * The attention kernel of a strategy (and lanes). Every one runs on lavapipe (subgroups of 8; the
 * 4-lane kernel, SwiftShader's, runs on lanes 0..3 of them) and on GPUs with subgroups of 8 or more.
 * Where this device cannot run it, asking for it must fail with a message naming the fallback:
 * that is checked, reported, and the tiled kernel is returned so the caller's check still runs.
 */
async function createAttention(H: number, D: number, strategy: 'tiled' | 'subgroup', lanes?: 4 | 8): Promise<AttentionKernel> {
  const usable = AttentionKernel.subgroupLanes(device);
  if (strategy === 'subgroup' && (usable === 0 || (lanes ?? usable) > usable)) {
    await expect(AttentionKernel.create(device, H, D, { strategy, lanes })).rejects.toThrow(/subgroup kernel needs the 'subgroups' feature.*use strategy 'tiled'/);
    reportOnce(`attention: this adapter cannot run the ${lanes ?? 8}-lane 'subgroup' kernel (checked: create() says so); its tests ran on the 'tiled' fallback`);
    const kernel = await AttentionKernel.create(device, H, D, { strategy: 'tiled' });
    expect(kernel.strategy).toBe('tiled');
    return kernel;
  }
  const kernel = await AttentionKernel.create(device, H, D, { strategy, lanes });
  expect(kernel.strategy).toBe(strategy);
  if (strategy === 'subgroup') expect(kernel.lanes).toBe(lanes ?? usable);
  return kernel;
}

describe('attention', () => {
  describe.each([
    ['tiled', undefined],
    ['subgroup', undefined],
    ['subgroup', 4],
  ] as const)('%s %s', (strategy, lanes) => {
    async function check(H: number, D: number, lengths: number[], mask: Uint32Array, label: string, window?: number) {
      const sequences = packedSequences(lengths);
      const N = mask.length;
      const q = randomArray(H * N * D, 11, 2);
      const k = randomArray(H * N * D, 12, 2);
      const v = randomArray(H * N * D, 13);
      const kernel = await createAttention(H, D, strategy, lanes);
      const out = emptyTensor(device, 'out', [N, H * D]);
      const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
      const tiles = tensorFrom(device, 'tiles', AttentionKernel.tileTable(sequences, maxTiles), [maxTiles, 4]);
      const shape = [H, N, D];
      await runDispatches(device, [
        kernel.createDispatch(
          't',
          tensorFrom(device, 'q', q, shape),
          tensorFrom(device, 'k', k, shape),
          tensorFrom(device, 'v', v, shape),
          tensorFrom(device, 'mask', mask, [N]),
          tiles,
          out,
          window === undefined ? {} : { window },
        ),
      ]);
      expectClose(await readTensor(device, out), cachedAttentionRef(q, k, v, mask, sequences, H, D, { window }), {
        atol: 1e-5,
        rtol: 1e-4,
        label: `${label}-${strategy}${lanes ?? ''}`,
      });
    }

    it.each([
      // B, H, L, D, valid lengths per (right-padded) sequence
      [1, 1, 1, 16, [1]],
      [2, 3, 57, 32, [57, 20]],
      [3, 2, 65, 64, [1, 65, 33]],
      [1, 1, 1001, 64, [1001]],
      [1, 1, 4096, 64, [4000]], // the model's max_length: O(L) memory, padded tail
    ])('padded B=%i H=%i L=%i D=%i', async (B, H, L, D, lengths) => {
      await check(H, D, Array(B).fill(L), paddedMask(lengths as number[], L), 'attention');
    });

    it('packed sequences of lengths 1, 17, 300 and 16 with no padding', async () => {
      const lengths = [1, 17, 300, 16];
      await check(2, 32, lengths, new Uint32Array(lengths.reduce((a, b) => a + b, 0)).fill(1), 'attention-packed');
    });

    it('handles a mask with holes (not only right padding)', async () => {
      const L = 40;
      await check(2, 16, [L], Uint32Array.from({ length: L }, (_, i) => (i % 3 === 1 ? 0 : 1)), 'attention-holes');
    });

    it('handles a sequence whose first 8-key blocks are all masked', async () => {
      const L = 37;
      await check(1, 64, [L], Uint32Array.from({ length: L }, (_, i) => (i < 19 || i === 30 ? 0 : 1)), 'attention-masked-head');
    });

    // Sliding window: |i - j| <= w. Padded rows far past their sequence's last real token see no
    // unmasked key in their window: they must come out as zeros, never NaN.
    it.each([
      // B, H, L, D, valid lengths, w
      [1, 1, 1, 16, [1], 8],
      [2, 3, 57, 32, [57, 20], 8],
      [2, 3, 57, 32, [57, 20], 0],
      [2, 2, 57, 16, [57, 3], 1],
      [3, 2, 65, 64, [1, 65, 33], 64],
      [1, 1, 1001, 64, [1001], 64],
      [1, 2, 1001, 32, [990], 8],
      [1, 1, 4096, 64, [4000], 64], // O(L * w): cheap where global attention is not
    ])('sliding window: padded B=%i H=%i L=%i D=%i lengths %j, w=%i', async (B, H, L, D, lengths, w) => {
      await check(H, D, Array(B).fill(L), paddedMask(lengths as number[], L), 'attention-window', w);
    });

    it.each([1, 8, 64])('sliding window w=%i: packed sequences 1, 17, 300, 16, and a mask with holes', async (w) => {
      const lengths = [1, 17, 300, 16];
      await check(2, 32, lengths, new Uint32Array(lengths.reduce((a, b) => a + b, 0)).fill(1), 'attention-window-packed', w);
      await check(2, 16, [40], Uint32Array.from({ length: 40 }, (_, i) => (i % 3 === 1 ? 0 : 1)), 'attention-window-holes', w);
    });

    it('sliding window: keys beyond the window change nothing, and keys beyond a tile\'s reach are never read', async () => {
      const [H, D, L, w] = [1, 32, 1001, 8];
      const shape = [H, L, D];
      const q = randomArray(H * L * D, 70, 2);
      const k = randomArray(H * L * D, 71, 2);
      const v = randomArray(H * L * D, 72);
      const mask = new Uint32Array(L).fill(1);
      const far = 500;
      const kernel = await createAttention(H, D, strategy, lanes);
      const maxTiles = AttentionKernel.maxTiles(L, 1);
      const tiles = tensorFrom(device, 'tiles', AttentionKernel.tileTable([{ start: 0, length: L }], maxTiles), [maxTiles, 4]);
      const run = async (kk: Float32Array, vv: Float32Array) => {
        const out = emptyTensor(device, 'out', [L, H * D]);
        await runDispatches(device, [
          kernel.createDispatch('t', tensorFrom(device, 'q', q, shape), tensorFrom(device, 'k', kk, shape), tensorFrom(device, 'v', vv, shape), tensorFrom(device, 'mask', mask, [L]), tiles, out, { window: w }),
        ]);
        return readTensor(device, out);
      };
      const base = await run(k, v);
      expectClose(base, cachedAttentionRef(q, k, v, mask, [{ start: 0, length: L }], H, D, { window: w }), { label: 'window-base' });
      // Key `far` made huge: every query more than w away is bit-for-bit what it was.
      const big = (a: Float32Array, value: number) => {
        const b = a.slice();
        b.fill(value, far * D, (far + 1) * D);
        return b;
      };
      const changed = await run(big(k, 1e3), big(v, 1e3));
      const rows = (a: Float32Array, pick: (i: number) => boolean) => Float32Array.from(a).filter((_, e) => pick(Math.floor(e / D)));
      const outside = (i: number) => Math.abs(i - far) > w;
      expectClose(rows(changed, outside), rows(base, outside), { atol: 0, rtol: 0, label: 'outside-window' });
      expect(compareArrays(rows(changed, (i) => !outside(i)), rows(base, (i) => !outside(i))).maxAbs).toBeGreaterThan(1e-3);
      // Key `far` made NaN: a tile of 16 queries reads keys [first - w, last + w] only, so every
      // query more than w + 15 away never touches it (a read, even times probability 0, would be NaN).
      const poisoned = await run(big(k, NaN), big(v, NaN));
      const unreachable = (i: number) => Math.abs(i - far) > w + AttentionKernel.BLOCK_Q - 1;
      expectClose(rows(poisoned, unreachable), rows(base, unreachable), { atol: 0, rtol: 0, label: 'never-read' });
    });
  });

  it('rejects a window that is not a non-negative integer below the global sentinel', async () => {
    const kernel = await AttentionKernel.create(device, 1, 16);
    const t = (n: string, shape: number[]) => emptyTensor(device, n, shape);
    const args = [t('q', [1, 4, 16]), t('k', [1, 4, 16]), t('v', [1, 4, 16]), t('m', [4]), t('tiles', [2, 4]), t('o', [4, 16])] as const;
    for (const window of [-1, 1.5, NaN, AttentionKernel.WINDOW_GLOBAL]) {
      expect(() => kernel.createDispatch('t', ...args, { window })).toThrow(/window .* must be an integer/);
    }
    expect(() => kernel.createDispatch('t', ...args, { window: 0 })).not.toThrow();
  });

  it('defaults to the subgroup kernel on a CPU adapter with subgroups of 8 for head dims <= 64 (policy, on a stand-in)', () => {
    expect(AttentionKernel.subgroupLanes(fakeDevice(LAVAPIPE))).toBe(8);
    expect(AttentionKernel.defaultStrategy(fakeDevice(LAVAPIPE), 16)).toBe('subgroup');
    expect(AttentionKernel.defaultStrategy(fakeDevice(LAVAPIPE), 64)).toBe('subgroup');
    expect(AttentionKernel.defaultStrategy(fakeDevice(LAVAPIPE), 128)).toBe('tiled');
    expect(AttentionKernel.defaultStrategy(fakeDevice(LAVAPIPE, false), 64)).toBe('tiled');
  });

  it('this adapter: create() without a strategy takes the policy\'s pick (reported), head dims over 64 always tiled', async () => {
    for (const [H, D] of [
      [4, 16],
      [12, 64],
    ]) {
      const kernel = await AttentionKernel.create(device, H, D);
      expect(kernel.strategy).toBe(AttentionKernel.defaultStrategy(device, D));
      expect(kernel.lanes).toBe(kernel.strategy === 'subgroup' ? AttentionKernel.subgroupLanes(device) : 0);
    }
    reportAdapter(
      `attention default on this adapter: '${AttentionKernel.defaultStrategy(device, 64)}' at head dim 64, subgroup lanes ${AttentionKernel.subgroupLanes(device)}`,
    );
    expect(AttentionKernel.defaultStrategy(device, 128)).toBe('tiled');
  });

  it('picks 4 lanes on a CPU adapter whose subgroups are 4 wide (SwiftShader), none below 4', () => {
    const fake = fakeDevice;
    const swiftshader = SWIFTSHADER;
    expect(AttentionKernel.subgroupLanes(fake({ ...swiftshader, subgroupMinSize: 4, subgroupMaxSize: 4 }))).toBe(4);
    expect(AttentionKernel.subgroupLanes(fake(swiftshader))).toBe(4); // no subgroupMinSize reported
    expect(AttentionKernel.defaultStrategy(fake(swiftshader), 64)).toBe('subgroup');
    expect(AttentionKernel.subgroupLanes(fake(swiftshader, false))).toBe(0);
    expect(AttentionKernel.defaultStrategy(fake(swiftshader, false), 64)).toBe('tiled');
    expect(AttentionKernel.subgroupLanes(fake({ description: 'llvmpipe', subgroupMinSize: 2 }))).toBe(0);
    expect(AttentionKernel.subgroupLanes(fake({ description: 'Some GPU' }))).toBe(0);
    // A GPU with wide subgroups can run it explicitly but does not default to it.
    expect(AttentionKernel.subgroupLanes(fake({ vendor: 'nvidia', subgroupMinSize: 32 }))).toBe(8);
    expect(AttentionKernel.defaultStrategy(fake({ vendor: 'nvidia', subgroupMinSize: 32 }), 64)).toBe('tiled');
  });

  it('labels the subgroup pipelines by lanes and rejects other lane counts', async () => {
    await expect(AttentionKernel.create(device, 2, 16, { strategy: 'subgroup', lanes: 16 as 8 })).rejects.toThrow(/4 or 8 lanes, not 16/);
    const usable = AttentionKernel.subgroupLanes(device);
    if (usable >= 4) expect((await AttentionKernel.create(device, 2, 16, { strategy: 'subgroup', lanes: 4 })).name).toBe('attention.subgroup4');
    if (usable === 8) expect((await AttentionKernel.create(device, 2, 16, { strategy: 'subgroup', lanes: 8 })).name).toBe('attention.subgroup');
    if (usable > 0) expect((await AttentionKernel.create(device, 2, 16, { strategy: 'subgroup' })).name).toBe(usable === 4 ? 'attention.subgroup4' : 'attention.subgroup');
    else await expect(AttentionKernel.create(device, 2, 16, { strategy: 'subgroup' })).rejects.toThrow(/needs the 'subgroups' feature/);
    // The names on stand-ins don't need a device: the tiled kernel is plain 'attention' everywhere.
    expect((await AttentionKernel.create(device, 2, 16, { strategy: 'tiled' })).name).toBe('attention');
  });

  it('rejects head dims it cannot hold', async () => {
    // Workgroup memory is an adapter limit: head dim 256 needs more than any adapter seen offers
    // (lavapipe 32 KiB, SwiftShader 16 KiB, NVIDIA 48 KiB); where one would hold it, it must build.
    const bytes = AttentionKernel.workgroupBytes(256);
    if (bytes > device.limits.maxComputeWorkgroupStorageSize) {
      await expect(AttentionKernel.create(device, 1, 256)).rejects.toThrow(/head dim 256 needs \d+ bytes of workgroup memory/);
    } else {
      reportAdapter(`attention: this adapter's ${device.limits.maxComputeWorkgroupStorageSize} B of workgroup memory hold head dim 256 (${bytes} B)`);
      expect((await AttentionKernel.create(device, 1, 256)).strategy).toBe('tiled');
    }
    await expect(AttentionKernel.create(device, 1, 18)).rejects.toThrow(/multiple of 4/);
    await expect(AttentionKernel.create(device, 1, 18, { strategy: 'tiled' })).rejects.toThrow(/multiple of 4/);
    await expect(AttentionKernel.create(device, 1, 18, { strategy: 'subgroup' })).rejects.toThrow(/multiple of 4/);
    if (AttentionKernel.subgroupLanes(device) > 0) {
      await expect(AttentionKernel.create(device, 1, 128, { strategy: 'subgroup' })).rejects.toThrow(/subgroup kernel holds head dims up to 64, not 128/);
    } else {
      await expect(AttentionKernel.create(device, 1, 128, { strategy: 'subgroup' })).rejects.toThrow(/needs the 'subgroups' feature/);
    }
  });
});

/** silu(y[:, 2f]) * y[:, 2f + 1]: SwiGLU over gate/up-interleaved columns. */
function swigluPairsRef(y: Float32Array, M: number, F: number): Float32Array {
  const gateUp = new Float32Array(M * 2 * F); // back to [gate | up] halves for swigluRef
  for (let m = 0; m < M; m++) {
    for (let f = 0; f < F; f++) {
      gateUp[m * 2 * F + f] = y[m * 2 * F + 2 * f];
      gateUp[m * 2 * F + F + f] = y[m * 2 * F + 2 * f + 1];
    }
  }
  return swigluRef(gateUp, M, F);
}

describe('matmul with the rmsnorm prologue and the swiglu epilogue', () => {
  const eps = 1e-5;
  describe.each(MATMUL_CONFIGS)('%s kernel, %s weights', (strategy, weightDtype) => {
    it.each([
      [1, 1, 4],
      [57, 1001, 60],
      [130, 2048, 256],
    ])('M=%i F=%i K=%i: rmsnorm(x) w^T, and swiglu(rmsnorm(x) w12^T)', async (M, F, K) => {
      const x = randomArray(M * K, 21, 40); // large values: the real model's residuals reach ~1300
      const gain = randomArray(K, 22, 2);
      const w = randomArray(F * K, 23, 0.1); // F output columns for the plain prologue test
      const w12 = randomArray(2 * F * K, 24, 0.1); // rows [0, F) gate, [F, 2F) up
      const kernels = await Promise.all([
        createMatmul({ strategy, weightDtype, normRows: true }),
        createMatmul({ strategy, weightDtype, normRows: true, swiglu: true }),
      ]);
      const [norm, normSwiglu] = kernels;
      const wFolded = foldNormGain(w, gain);
      const w12Folded = foldNormGain(interleaveGateUp(w12, K), gain);
      const X = tensorFrom(device, 'x', x, [M, K]);
      const out = emptyTensor(device, 'out', [M, F]);
      const outSwiglu = emptyTensor(device, 'outSwiglu', [M, F]);
      await runDispatches(device, [
        norm.createDispatch('n', X, weightTensor('w', wFolded, [F, K], weightDtype), out, { eps }),
        normSwiglu.createDispatch('ns', X, weightTensor('w12', w12Folded, [2 * F, K], weightDtype), outSwiglu, { eps }),
      ]);
      const got = await readTensor(device, out);
      const gotSwiglu = await readTensor(device, outSwiglu);
      // Against the reference with the weights the kernel holds: only rounding order differs.
      const unit = rmsnormRef(x, new Float32Array(K).fill(1), M, K, eps);
      const held = (a: Float32Array) => (weightDtype === 'f16' ? roundF16(a) : a);
      expectClose(got, matmulRef(unit, held(wFolded), M, F, K), { atol: 1e-5, rtol: 1e-4, label: 'rmsnorm prologue' });
      expectClose(gotSwiglu, swigluPairsRef(matmulRef(unit, held(w12Folded), M, 2 * F, K), M, F), { atol: 1e-5, rtol: 1e-4, label: 'swiglu epilogue' });
      // And against the unfused ops of the model (rmsnorm, matmul, swiglu) with the original weights.
      const normed = rmsnormRef(x, gain, M, K, eps);
      const bound = weightDtype === 'f16' ? 2e-3 : 1e-5;
      expect(compareArrays(got, matmulRef(normed, w, M, F, K)).relL2).toBeLessThan(bound);
      expect(compareArrays(gotSwiglu, swigluRef(matmulRef(normed, w12, M, 2 * F, K), M, F)).relL2).toBeLessThan(bound);
    });
  });

  describe.each(MATMUL_CONFIGS)('%s kernel, %s weights: GLU with bias', (strategy, weightDtype) => {
    it.each([
      ['gelu', false, 1, 1, 4],
      ['gelu', true, 57, 1001, 60],
      ['gelu', false, 130, 96, 256],
      ['silu', true, 57, 75, 36],
    ] as const)('glu %s, rmsnorm prologue %s, M=%i F=%i K=%i', async (glu, normRows, M, F, K) => {
      const x = randomArray(M * K, 25, 2);
      const w12 = randomArray(2 * F * K, 26, 0.1); // rows [0, F) through act (ModernBERT's input), [F, 2F) the gate
      const b12 = randomArray(2 * F, 27);
      const kernel = await createMatmul({ strategy, weightDtype, glu, bias: true, normRows });
      expect(kernel.name).toContain(glu === 'gelu' ? '+geglu' : '+swiglu');
      const wi = interleaveGateUp(w12, K);
      const out = emptyTensor(device, 'out', [M, F]);
      await runDispatches(device, [
        kernel.createDispatch('t', tensorFrom(device, 'x', x, [M, K]), weightTensor('w12', wi, [2 * F, K], weightDtype), out, {
          bias: tensorFrom(device, 'b12', interleaveGateUpBias(b12), [2 * F]),
          ...(normRows ? { eps } : {}),
        }),
      ]);
      const xn = normRows ? rmsnormRef(x, new Float32Array(K).fill(1), M, K, eps) : x;
      const held = weightDtype === 'f16' ? roundF16(w12) : w12;
      // The unfused ops on the original (non-interleaved) halves: y = x w12^T + b, act(y[:, :F]) * y[:, F:].
      expectClose(await readTensor(device, out), gluRef(matmulRef(xn, held, M, 2 * F, K, { bias: b12 }), M, F, glu), { atol: 1e-5, rtol: 1e-4, label: `glu-${glu}` });
    });
  });

  it('interleaveGateUp / interleaveGateUpBias put row f of each half side by side', () => {
    expect([...interleaveGateUp(Float32Array.of(0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), 2)]).toEqual([0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5]);
    expect([...interleaveGateUpBias(Float32Array.of(0, 1, 2, 3, 4, 5))]).toEqual([0, 3, 1, 4, 2, 5]);
    expect(() => interleaveGateUpBias(Float32Array.of(0, 1, 2))).toThrow(/not 2F rows/);
  });

  it('rejects a swiglu weight with an odd row count, a missing eps and bad combinations', async () => {
    const swiglu = await MatmulKernel.create(device, { normRows: true, swiglu: true });
    const x = emptyTensor(device, 'x', [3, 8]);
    expect(() => swiglu.createDispatch('t', x, emptyTensor(device, 'w', [5, 8]), emptyTensor(device, 'o', [3, 2]), { eps })).toThrow(/5 rows.*even count/);
    expect(() => swiglu.createDispatch('t', x, emptyTensor(device, 'w', [6, 8]), emptyTensor(device, 'o', [3, 6]), { eps })).toThrow(/out.*expected \[3,3\]/);
    expect(() => swiglu.createDispatch('t', x, emptyTensor(device, 'w', [6, 8]), emptyTensor(device, 'o', [3, 3]))).toThrow(/eps missing/);
    const plain = await MatmulKernel.create(device);
    expect(() => plain.createDispatch('t', x, emptyTensor(device, 'w', [6, 8]), emptyTensor(device, 'o', [3, 6]), { eps })).toThrow(/eps given/);
    await expect(MatmulKernel.create(device, { swiglu: true, residual: true })).rejects.toThrow(/swiglu epilogue does not combine/);
    await expect(MatmulKernel.create(device, { glu: 'gelu', activation: 'gelu' })).rejects.toThrow(/geglu epilogue does not combine/);
    await expect(MatmulKernel.create(device, { glu: 'gelu', swiglu: true })).rejects.toThrow(/contradict/);
    await expect(MatmulKernel.create(device, { activation: 'elu' as MatmulActivation })).rejects.toThrow(/unknown activation 'elu'/);
    const geglu = await MatmulKernel.create(device, { glu: 'gelu', bias: true });
    expect(() => geglu.createDispatch('t', x, emptyTensor(device, 'w', [6, 8]), emptyTensor(device, 'o', [3, 3]), { bias: emptyTensor(device, 'b', [3]) })).toThrow(
      /bias.*expected \[6\]/,
    );
    expect(() => geglu.createDispatch('t', x, emptyTensor(device, 'w', [6, 8]), emptyTensor(device, 'o', [3, 3]), { bias: emptyTensor(device, 'b', [6]) })).not.toThrow();
  });
});

describe('matmul activations', () => {
  // act(v) for v on a grid: x row m = [v_m, 0, 0, 0], w = [[1, 0, 0, 0]], so y = v_m exactly.
  const grid = Float32Array.from({ length: 20 * 1024 * 4 + 1 }, (_, i) => (i - 40 * 1024) / 4096); // [-10, 10]
  const extremes = Float32Array.from([-1e4, -100, -50, -20, -12, -1e-30, 0, 1e-30, 12, 20, 50, 100, 1e4]);
  const values = Float32Array.from([...grid, ...extremes]);
  // Against float64 act of the same f32 input. gelu: the bar its erf must clear (abs + rel 2e-7).
  const tolerance: Record<Exclude<MatmulActivation, 'none'>, number> = { gelu: 2e-7, gelu_tanh: 1e-6, tanh: 1e-6, relu: 0, silu: 1e-6 };
  describe.each(['tiled', 'subgroup'] as const)('%s kernel', (strategy) => {
    it.each(Object.keys(tolerance) as Exclude<MatmulActivation, 'none'>[])('%s over [-10, 10] and extremes', async (activation) => {
      const M = values.length;
      const x = new Float32Array(M * 4);
      values.forEach((v, m) => (x[4 * m] = v));
      const kernel = await createMatmul({ strategy, activation });
      expect(kernel.name).toContain(`+${activation}`);
      const out = emptyTensor(device, 'out', [M, 1]);
      await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [M, 4]), tensorFrom(device, 'w', Float32Array.of(1, 0, 0, 0), [1, 4]), out)]);
      const ref = Float64Array.from(values, (v) => activationRef(activation, v));
      const tol = tolerance[activation];
      expectClose(await readTensor(device, out), ref, { atol: tol, rtol: tol, label: activation });
    });
  });

  it('the float64 gelu reference: erf and erfc at known values, gelu = x Phi(x)', () => {
    // Values from Python's math.erf / math.erfc.
    expect(erfRef(1)).toBeCloseTo(0.8427007929497149, 15);
    expect(erfRef(-0.5)).toBeCloseTo(-0.5204998778130465, 15);
    expect(erfRef(3)).toBeCloseTo(0.9999779095030014, 15);
    expect(erfcRef(3) / 2.209049699858544e-5).toBeCloseTo(1, 11);
    expect(erfcRef(6) / 2.1519736712498913e-17).toBeCloseTo(1, 11);
    expect(erfcRef(-2)).toBeCloseTo(1.9953222650189528, 15);
    expect(activationRef('gelu', Math.SQRT2)).toBeCloseTo(0.5 * Math.SQRT2 * (1 + 0.8427007929497149), 15);
    expect(activationRef('gelu', -6 * Math.SQRT2) / (-6 * Math.SQRT2 * 0.5 * 2.1519736712498913e-17)).toBeCloseTo(1, 11);
  });

  describe.each(MATMUL_CONFIGS)('%s kernel, %s weights', (strategy, weightDtype) => {
    it('every activation after bias, before residual, at 57 x 75 x 36', async () => {
      const [M, N, K] = [57, 75, 36];
      const x = randomArray(M * K, 30, 2);
      const w = randomArray(N * K, 31);
      const bias = randomArray(N, 32);
      const residual = randomArray(M * N, 33);
      const activations: MatmulActivation[] = ['gelu', 'gelu_tanh', 'relu', 'silu'];
      const kernels = await Promise.all(activations.map((activation) => createMatmul({ strategy, weightDtype, activation, bias: true, residual: true })));
      const X = tensorFrom(device, 'x', x, [M, K]);
      const W = weightTensor('w', w, [N, K], weightDtype);
      const B = tensorFrom(device, 'bias', bias, [N]);
      const R = tensorFrom(device, 'res', residual, [M, N]);
      const outs = activations.map((a) => emptyTensor(device, a, [M, N]));
      await runDispatches(device, kernels.map((k, i) => k.createDispatch(activations[i], X, W, outs[i], { bias: B, residual: R })));
      const held = weightDtype === 'f16' ? roundF16(w) : w;
      for (const [i, activation] of activations.entries()) {
        expectClose(await readTensor(device, outs[i]), matmulRef(x, held, M, N, K, { bias, activation, residual }), { label: activation });
      }
    });
  });
});

describe('pooling', () => {
  it.each([
    [1, 1, 64, [1]],
    [3, 57, 60, [57, 1, 30]],
    [2, 1001, 68, [1001, 500]],
  ])('padded B=%i L=%i C=%i', async (B, L, C, lengths) => {
    const x = randomArray(B * L * C, 18, 5);
    const mask = paddedMask(lengths as number[], L);
    const sequences = packedSequences(Array(B).fill(L));
    const kernel = await PoolingKernel.create(device);
    const cls = emptyTensor(device, 'cls', [B, C]);
    const mean = emptyTensor(device, 'mean', [B, C]);
    const table = tensorFrom(device, 'seqs', PoolingKernel.sequenceTable(sequences, B), [B, 4]);
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [B * L, C]), tensorFrom(device, 'mask', mask, [B * L]), table, cls, mean)]);
    const ref = poolingRef(x, mask, sequences, C);
    expectClose(await readTensor(device, cls), ref.cls, { atol: 0, rtol: 0, label: 'cls' });
    expectClose(await readTensor(device, mean), ref.mean, { atol: 1e-5, rtol: 1e-4, label: 'mean' });
  });

  it('packed sequences, table with unused rows', async () => {
    const lengths = [3, 1, 57];
    const N = 61;
    const C = 36;
    const x = randomArray(N * C, 20, 5);
    const mask = new Uint32Array(N).fill(1);
    const sequences = packedSequences(lengths);
    const capacity = 8;
    const kernel = await PoolingKernel.create(device);
    const cls = emptyTensor(device, 'cls', [capacity, C]);
    const mean = emptyTensor(device, 'mean', [capacity, C]);
    const table = tensorFrom(device, 'seqs', PoolingKernel.sequenceTable(sequences, capacity), [capacity, 4]);
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [N, C]), tensorFrom(device, 'mask', mask, [N]), table, cls, mean)]);
    const ref = poolingRef(x, mask, sequences, C);
    expectClose((await readTensor(device, mean)).subarray(0, 3 * C), ref.mean, { atol: 1e-5, rtol: 1e-4, label: 'mean' });
    expectClose((await readTensor(device, cls)).subarray(0, 3 * C), ref.cls, { atol: 0, rtol: 0, label: 'cls' });
  });
});

describe('sentence pooling (sentence-transformers modes)', () => {
  const modes = Object.keys(SENTENCE_POOLING_MODES) as SentencePoolingMode[];
  it.each([
    [1, 1, 64, [1], [0]],
    [3, 57, 60, [57, 1, 30], [3, 0, 29]],
    [2, 1001, 68, [1001, 500], [9, 0]],
  ])('padded B=%i L=%i C=%i, every mode concatenated, leading tokens excluded', async (B, L, C, lengths, excluded) => {
    const x = randomArray(B * L * C, 31, 5);
    const mask = paddedMask(lengths as number[], L);
    const sequences = packedSequences(Array(B).fill(L));
    const W = modes.length * C + 3; // odd width: the other columns stay untouched
    const out = emptyTensor(device, 'out', [B, W]);
    const table = tensorFrom(device, 'seqs', PoolingKernel.sequenceTable(sequences, B, excluded as number[]), [B, 4]);
    const xs = tensorFrom(device, 'x', x, [B * L, C]);
    const ms = tensorFrom(device, 'mask', mask, [B * L]);
    const kernels = await Promise.all(modes.map((m) => SentencePoolingKernel.create(device, m)));
    await runDispatches(device, kernels.map((k, i) => k.createDispatch(modes[i], xs, ms, table, out, i * C)));
    const got = await readTensor(device, out);
    for (const [i, mode] of modes.entries()) {
      const ref = sentencePoolingRef(x, mask, sequences, C, mode, excluded as number[]);
      const cols = new Float32Array(B * C);
      for (let b = 0; b < B; b++) cols.set(got.subarray(b * W + i * C, b * W + (i + 1) * C), b * C);
      const exact = mode === 'cls' || mode === 'max' || mode === 'lasttoken';
      expectClose(cols, ref, { atol: exact ? 0 : 1e-5, rtol: exact ? 0 : 1e-4, label: mode });
    }
    for (let b = 0; b < B; b++) expect(Array.from(got.subarray(b * W + modes.length * C, (b + 1) * W))).toEqual([0, 0, 0]);
  });

  it('packed sequences, table with unused rows', async () => {
    const lengths = [3, 1, 57];
    const N = 61;
    const C = 36;
    const x = randomArray(N * C, 32, 5);
    const mask = new Uint32Array(N).fill(1);
    const sequences = packedSequences(lengths);
    const excluded = [2, 0, 5];
    const table = tensorFrom(device, 'seqs', PoolingKernel.sequenceTable(sequences, 8, excluded), [8, 4]);
    for (const mode of modes) {
      const kernel = await SentencePoolingKernel.create(device, mode);
      const out = emptyTensor(device, 'out', [8, C]);
      await runDispatches(device, [kernel.createDispatch(mode, tensorFrom(device, 'x', x, [N, C]), tensorFrom(device, 'mask', mask, [N]), table, out)]);
      expectClose((await readTensor(device, out)).subarray(0, 3 * C), sentencePoolingRef(x, mask, sequences, C, mode, excluded), { atol: 1e-5, rtol: 1e-4, label: mode });
    }
  });

  it('rejects columns outside the output', async () => {
    const kernel = await SentencePoolingKernel.create(device, 'max');
    const table = tensorFrom(device, 'seqs', PoolingKernel.sequenceTable(packedSequences([4]), 8), [8, 4]);
    expect(() => kernel.createDispatch('t', emptyTensor(device, 'x', [4, 16]), emptyTensor(device, 'm', [4]), table, emptyTensor(device, 'o', [8, 24]), 16)).toThrow(/columns \[16, 32\) do not fit/);
  });
});

describe('l2norm', () => {
  it.each([
    [1, 4],
    [57, 1001],
    [1001, 57],
  ])('rows=%i cols=%i', async (rows, cols) => {
    const x = randomArray(rows * cols, 19, 100);
    const kernel = await L2NormKernel.create(device);
    const out = emptyTensor(device, 'out', [rows, cols]);
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [rows, cols]), out)]);
    expectClose(await readTensor(device, out), l2normRef(x, rows, cols), { atol: 1e-6, rtol: 1e-5, label: 'l2norm' });
  });

  it('maps a zero row to zeros, not NaN', async () => {
    const kernel = await L2NormKernel.create(device);
    const out = emptyTensor(device, 'out', [2, 8]);
    const x = new Float32Array(16);
    x[9] = 3;
    await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [2, 8]), out)]);
    expectClose(await readTensor(device, out), l2normRef(x, 2, 8), { atol: 0, rtol: 0, label: 'l2norm-zero' });
  });
});

// f16 arithmetic (kernels/matmul_f16.wgsl, kernels/attention_f16.wgsl, rope_qkv OUT_F16), forced
// here whatever the default: operands rounded to f16, exact products, f32 sums, softmax and
// epilogues. A device without shader-f16 must refuse clearly (then these tests check only that).
// Tolerances: against the reference fed the same f16-rounded operands only the summation order
// differs, so the f32 kernels' 1e-5 abs + 1e-4 rel holds; against the unrounded f32 operands the
// cost of rounding both operands (2^-11 relative each) is bounded by rel L2 < 1e-3. NaN/Inf fail.
describe('f16 arithmetic', () => {
  const hasF16 = () => device.features.has('shader-f16');
  const halves = (a: Float32Array, label: string, shape: number[]): GPUTensor => weightTensor(label, a, shape, 'f16');

  async function f16Matmul(options: MatmulOptions): Promise<MatmulKernel | null> {
    if (!hasF16()) {
      await expect(MatmulKernel.create(device, { ...options, arithmetic: 'f16' })).rejects.toThrow(/needs the 'shader-f16' feature/);
      return null;
    }
    const kernel = await MatmulKernel.create(device, { ...options, arithmetic: 'f16' });
    expect([kernel.arithmetic, kernel.strategy]).toEqual(['f16', 'tiled']);
    expect(kernel.name).toContain('.f16math');
    return kernel;
  }

  describe.each(['f16', 'f32'] as const)('matmul, %s weights', (weightDtype) => {
    it.each([
      [1, 1, 4],
      [57, 1001, 60],
      [1001, 57, 1004],
      [64, 64, 64],
      [130, 2304, 768],
    ])('M=%i N=%i K=%i', async (M, N, K) => {
      const x = randomArray(M * K, 4, 3);
      const w = randomArray(N * K, 5, 0.1);
      const kernel = await f16Matmul({ weightDtype });
      if (!kernel) return;
      const out = emptyTensor(device, 'out', [M, N]);
      await runDispatches(device, [kernel.createDispatch('t', tensorFrom(device, 'x', x, [M, K]), weightTensor('w', w, [N, K], weightDtype), out)]);
      const got = await readTensor(device, out);
      expectClose(got, matmulRef(roundF16(x), roundF16(w), M, N, K), { atol: 1e-5, rtol: 1e-4, label: 'matmul-f16math' });
      expect(compareArrays(got, matmulRef(x, w, M, N, K)).relL2).toBeLessThan(1e-3);
    });

    it('bias + tanh, gelu + residual epilogues at 57 x 75 x 36', async () => {
      const [M, N, K] = [57, 75, 36];
      const x = randomArray(M * K, 6, 2);
      const w = randomArray(N * K, 7);
      const bias = randomArray(N, 8);
      const residual = randomArray(M * N, 9);
      const kernels = await Promise.all([
        f16Matmul({ weightDtype, bias: true, activation: 'tanh' }),
        f16Matmul({ weightDtype, activation: 'gelu', residual: true }),
      ]);
      if (kernels.some((k) => !k)) return;
      const [tanhK, geluK] = kernels as MatmulKernel[];
      const X = tensorFrom(device, 'x', x, [M, K]);
      const W = weightTensor('w', w, [N, K], weightDtype);
      const outTanh = emptyTensor(device, 'outTanh', [M, N]);
      const outGelu = emptyTensor(device, 'outGelu', [M, N]);
      await runDispatches(device, [
        tanhK.createDispatch('bt', X, W, outTanh, { bias: tensorFrom(device, 'bias', bias, [N]) }),
        geluK.createDispatch('gr', X, W, outGelu, { residual: tensorFrom(device, 'res', residual, [M, N]) }),
      ]);
      const [xh, wh] = [roundF16(x), roundF16(w)];
      expectClose(await readTensor(device, outTanh), matmulRef(xh, wh, M, N, K, { bias, activation: 'tanh' }), { label: 'bias+tanh' });
      expectClose(await readTensor(device, outGelu), matmulRef(xh, wh, M, N, K, { activation: 'gelu', residual }), { label: 'gelu+residual' });
    });

    it.each([
      [1, 1, 4],
      [57, 1001, 60],
      [130, 2048, 256],
    ])('rmsnorm prologue (1/rms from the f32 row) + swiglu, and geglu + bias: M=%i F=%i K=%i', async (M, F, K) => {
      const eps = 1e-5;
      const x = randomArray(M * K, 21, 1300); // the residual stream's magnitude: x^2 sums overflow f16
      const gain = randomArray(K, 22, 2);
      const w12 = foldNormGain(interleaveGateUp(randomArray(2 * F * K, 24, 0.1), K), gain);
      const b12 = randomArray(2 * F, 27);
      const kernels = await Promise.all([
        f16Matmul({ weightDtype, normRows: true, swiglu: true }),
        f16Matmul({ weightDtype, glu: 'gelu', bias: true }),
      ]);
      if (kernels.some((k) => !k)) return;
      const [swiglu, geglu] = kernels as MatmulKernel[];
      const xg = randomArray(M * K, 25, 2); // GeGLU without the prologue: activation-sized inputs
      const W = weightTensor('w12', w12, [2 * F, K], weightDtype);
      const outSwiglu = emptyTensor(device, 'outSwiglu', [M, F]);
      const outGeglu = emptyTensor(device, 'outGeglu', [M, F]);
      await runDispatches(device, [
        swiglu.createDispatch('s', tensorFrom(device, 'x', x, [M, K]), W, outSwiglu, { eps }),
        geglu.createDispatch('g', tensorFrom(device, 'xg', xg, [M, K]), W, outGeglu, { bias: tensorFrom(device, 'b12', b12, [2 * F]) }),
      ]);
      // rmsnorm(x) W^T with the kernel's operands: (round(x) round(W)^T) scaled by 1/rms of the f32 row.
      const y = matmulRef(roundF16(x), roundF16(w12), M, 2 * F, K);
      for (let m = 0; m < M; m++) {
        let ss = 0;
        for (let k = 0; k < K; k++) ss += x[m * K + k] ** 2;
        const r = 1 / Math.sqrt(ss / K + eps);
        for (let n = 0; n < 2 * F; n++) y[m * 2 * F + n] *= r;
      }
      const gotSwiglu = await readTensor(device, outSwiglu);
      expectClose(gotSwiglu, swigluPairsRef(y, M, F), { atol: 1e-5, rtol: 1e-4, label: 'rmsnorm+swiglu-f16math' });
      const unit = rmsnormRef(x, new Float32Array(K).fill(1), M, K, eps);
      expect(compareArrays(gotSwiglu, swigluPairsRef(matmulRef(unit, w12, M, 2 * F, K), M, F)).relL2).toBeLessThan(2e-3);
      // GeGLU over the interleaved pairs, as the kernel's epilogue pairs columns (2f, 2f + 1).
      const yb = matmulRef(roundF16(xg), roundF16(w12), M, 2 * F, K, { bias: b12 });
      const geglu2 = new Float32Array(M * F);
      for (let m = 0; m < M; m++) for (let f = 0; f < F; f++) {
        const a = yb[m * 2 * F + 2 * f];
        geglu2[m * F + f] = activationRef('gelu', a) * yb[m * 2 * F + 2 * f + 1];
      }
      expectClose(await readTensor(device, outGeglu), geglu2, { atol: 1e-5, rtol: 1e-4, label: 'geglu-f16math' });
    });
  });

  it('refuses the subgroup strategy and names the kernel', async () => {
    if (!hasF16()) return;
    await expect(MatmulKernel.create(device, { arithmetic: 'f16', strategy: 'subgroup' })).rejects.toThrow(/strategy 'tiled' only/);
    await expect(AttentionKernel.create(device, 2, 16, { arithmetic: 'f16', strategy: 'subgroup' })).rejects.toThrow(/strategy 'tiled' only/);
    expect((await AttentionKernel.create(device, 2, 16, { arithmetic: 'f16' })).name).toBe('attention.f16math');
  });

  it.each([
    [[1], 1, 16, true],
    [[57, 57], 3, 32, true],
    [[1001], 2, 64, false],
  ])('rope_qkv writes f16 q, k, v: sequences %j H=%i D=%i rope %s', async (lengths, H, D, withRope) => {
    const sequences = packedSequences(lengths);
    const N = lengths.reduce((a, b) => a + b, 0);
    const qkv = randomArray(N * 3 * H * D, 10, 3);
    const maxLen = 2048;
    const rope = ropeTable(maxLen, D, 10000);
    const positions = tokenPositions(sequences, N);
    const kernel = await RopeQkvKernel.create(device, H, D, { rope: withRope, outputDtype: 'f16' });
    expect(kernel.name).toMatch(/_qkv\.f16$/);
    const outs = ['q', 'k', 'v'].map((n) => ({ label: n, shape: [H, N, D], buffer: device.createBuffer({ size: Math.max(16, H * N * D * 2), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }) }));
    await runDispatches(device, [
      kernel.createDispatch(
        't',
        tensorFrom(device, 'qkv', qkv, [N, 3 * H * D]),
        withRope ? tensorFrom(device, 'rope', rope, [maxLen, D / 2, 2]) : null,
        withRope ? tensorFrom(device, 'pos', positions, [N]) : null,
        outs[0], outs[1], outs[2],
      ),
    ]);
    const ref = ropeQkvRef(qkv, withRope ? rope : null, withRope ? positions : new Uint32Array(N), H, D);
    for (const [i, name] of (['q', 'k', 'v'] as const).entries()) {
      const got = decodeToFloat32(new Uint8Array(await readBuffer(device, outs[i].buffer, H * N * D * 2)), 'F16');
      // One f16 rounding of the f32 result: within half an f16 ulp (2^-11 relative), plus f32 slack.
      expectClose(got, ref[name], { atol: 1e-6, rtol: 2 ** -11 + 1e-5, label: `rope-f16-${name}` });
    }
    // An f32-sized check would accept these buffers; an f16 kernel needs only half: too small fails.
    const small = { label: 'small', shape: [H, N, D], buffer: device.createBuffer({ size: Math.max(16, H * N * D * 2 - 4), usage: GPUBufferUsage.STORAGE }) };
    if (H * N * D * 2 - 4 > 16) {
      expect(() => kernel.createDispatch('t', tensorFrom(device, 'qkv', qkv, [N, 3 * H * D]), withRope ? tensorFrom(device, 'rope', rope, [maxLen, D / 2, 2]) : null, withRope ? tensorFrom(device, 'pos', positions, [N]) : null, small, outs[1], outs[2])).toThrow(/needs \d+ \(f16\)/);
    }
  });

  describe('attention, f16 q/k/v', () => {
    async function check(H: number, D: number, lengths: number[], mask: Uint32Array, label: string, window?: number) {
      if (!hasF16()) {
        await expect(AttentionKernel.create(device, H, D, { arithmetic: 'f16' })).rejects.toThrow(/needs the 'shader-f16' feature/);
        return;
      }
      const sequences = packedSequences(lengths);
      const N = mask.length;
      const q = randomArray(H * N * D, 11, 2);
      const k = randomArray(H * N * D, 12, 2);
      const v = randomArray(H * N * D, 13);
      const kernel = await AttentionKernel.create(device, H, D, { arithmetic: 'f16' });
      expect([kernel.strategy, kernel.arithmetic]).toEqual(['tiled', 'f16']);
      const out = emptyTensor(device, 'out', [N, H * D]);
      const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
      const tiles = tensorFrom(device, 'tiles', AttentionKernel.tileTable(sequences, maxTiles), [maxTiles, 4]);
      const shape = [H, N, D];
      await runDispatches(device, [
        kernel.createDispatch('t', halves(q, 'q', shape), halves(k, 'k', shape), halves(v, 'v', shape), tensorFrom(device, 'mask', mask, [N]), tiles, out, window === undefined ? {} : { window }),
      ]);
      const got = await readTensor(device, out);
      expectClose(got, cachedAttentionRef(roundF16(q), roundF16(k), roundF16(v), mask, sequences, H, D, { window }), { atol: 1e-5, rtol: 1e-4, label });
      // Only rows of real queries (a fully masked window gives zeros in both): rel L2 against f32 operands.
      expect(compareArrays(got, cachedAttentionRef(q, k, v, mask, sequences, H, D, { window })).relL2).toBeLessThan(2e-3);
    }

    it.each([
      [1, 1, 1, 16, [1]],
      [2, 3, 57, 32, [57, 20]],
      [3, 2, 65, 64, [1, 65, 33]],
      [1, 1, 1001, 64, [1001]],
      [1, 2, 1001, 32, [990]], // (the 4096-token case runs for the f32 kernel above: 30 s on lavapipe)
    ])('padded B=%i H=%i L=%i D=%i', async (B, H, L, D, lengths) => {
      await check(H, D, Array(B).fill(L), paddedMask(lengths as number[], L), 'attention-f16math');
    });

    it('packed sequences 1, 17, 300, 16; a mask with holes; sliding windows 0, 8, 64', async () => {
      const lengths = [1, 17, 300, 16];
      const packed = new Uint32Array(lengths.reduce((a, b) => a + b, 0)).fill(1);
      await check(2, 32, lengths, packed, 'attention-f16math-packed');
      await check(2, 16, [40], Uint32Array.from({ length: 40 }, (_, i) => (i % 3 === 1 ? 0 : 1)), 'attention-f16math-holes');
      for (const w of [0, 8, 64]) {
        await check(2, 32, lengths, packed, `attention-f16math-window${w}`, w);
        await check(3, 32, Array(2).fill(57), paddedMask([57, 20], 57), `attention-f16math-padded-window${w}`, w);
      }
    });

    it('rejects f32-sized operands too small for halves, and an f16 buffer too small', async () => {
      if (!hasF16()) return;
      const kernel = await AttentionKernel.create(device, 1, 16, { arithmetic: 'f16' });
      const t = (n: string, shape: number[], bytes?: number) =>
        bytes === undefined ? emptyTensor(device, n, shape) : { label: n, shape, buffer: device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE }) };
      const ok = [t('q', [1, 8, 16], 256), t('k', [1, 8, 16], 256), t('v', [1, 8, 16], 256), t('m', [8]), t('tiles', [2, 4]), t('o', [8, 16])] as const;
      expect(() => kernel.createDispatch('t', ...ok)).not.toThrow();
      expect(() => kernel.createDispatch('t', t('q', [1, 8, 16], 128), ok[1], ok[2], ok[3], ok[4], ok[5])).toThrow(/holds 128 bytes, needs 256 \(f16\)/);
    });
  });
});

// The GPU candidates of the kernel labs (kernels/dev; bench/matmul.ts, bench/attention.ts), each
// forced here and checked against the CPU reference at odd shapes; production does not use them.
describe('kernels/dev GPU candidates', () => {
  function pipeline(code: string, bindings: GPUBufferBindingType[], constants: Record<string, number>) {
    const layout = device.createBindGroupLayout({
      entries: bindings.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
    });
    const p = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: device.createShaderModule({ code }), entryPoint: 'main', constants },
    });
    return (buffers: GPUBuffer[], groups: [number, number]) => ({
      encode(pass: GPUComputePassEncoder) {
        pass.setPipeline(p);
        pass.setBindGroup(0, device.createBindGroup({ layout, entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) }));
        pass.dispatchWorkgroups(groups[0], groups[1]);
      },
    });
  }
  const uniform = (words: ArrayBuffer) => createBufferFrom(device, 'params', new Uint8Array(words), GPUBufferUsage.UNIFORM);

  describe.each(MATMUL_VARIANTS.filter((v) => v.constants))('matmul %s', (v) => {
    it.each([
      [1, 1, 4, false],
      [57, 1001, 60, true],
      [1001, 57, 1004, false],
      [130, 257, 36, true],
    ])('M=%i N=%i K=%i, bias + tanh + residual %s', async (M, N, K, epilogue) => {
      const missing = (v.requires ?? []).filter((f) => !device.features.has(f));
      if (missing.length) return; // a feature this device lacks: bench/matmul.ts skips it the same way
      const x = randomArray(M * K, 31, 2);
      const w = randomArray(N * K, 32, 0.1);
      const bias = randomArray(N, 33);
      const residual = randomArray(M * N, 34);
      const run = pipeline(v.code, ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'], {
        ...v.constants,
        HAS_BIAS: Number(epilogue),
        HAS_RESIDUAL: Number(epilogue),
        ACTIVATION: epilogue ? 1 : 0,
      });
      const out = emptyTensor(device, 'out', [M, N]);
      const f16 = v.weightDtype === 'f16';
      await runDispatches(device, [
        run(
          [uniform(new Uint32Array([M, N, K, 0]).buffer), tensorFrom(device, 'x', x, [M, K]).buffer, weightTensor('w', w, [N, K], f16 ? 'f16' : 'f32').buffer, tensorFrom(device, 'b', bias, [N]).buffer, tensorFrom(device, 'r', residual, [M, N]).buffer, out.buffer],
          [Math.ceil(N / v.tileN), Math.ceil(M / v.tileM)],
        ),
      ]);
      const ref = matmulRef(v.roundsX ? roundF16(x) : x, f16 ? roundF16(w) : w, M, N, K, epilogue ? { bias, activation: 'tanh', residual } : {});
      expectClose(await readTensor(device, out), ref, { atol: 1e-5, rtol: 1e-4, label: v.id });
    });
  });

  describe.each(ATTENTION_VARIANTS)('attention $id', (v) => {
    it.each([
      // H, D, lengths (packed), mask holes, window
      [1, 16, [1], false, undefined],
      [3, 32, [57, 20], true, undefined],
      [2, 64, [1, 65, 33], false, undefined],
      [1, 64, [1001], true, undefined],
      [2, 128, [130], false, undefined],
      [2, 32, [1, 17, 300, 16], false, 8],
      [2, 16, [40], true, 0],
      [1, 64, [1001], false, 64],
    ] as const)('H=%i D=%i lengths %j holes %s window %s', async (H, D, lengths, holes, window) => {
      if ((v.requires ?? []).some((f) => !device.features.has(f))) return;
      const sequences = packedSequences([...lengths]);
      const N = lengths.reduce((a, b) => a + b, 0);
      const mask = Uint32Array.from({ length: N }, (_, i) => (holes && i % 5 === 3 ? 0 : 1));
      const q = randomArray(H * N * D, 41, 2);
      const k = randomArray(H * N * D, 42, 2);
      const vv = randomArray(H * N * D, 43);
      const maxTiles = AttentionKernel.maxTiles(N, lengths.length);
      const params = new ArrayBuffer(16);
      new DataView(params).setUint32(0, N, true);
      new DataView(params).setFloat32(4, 1 / Math.sqrt(D), true);
      new DataView(params).setUint32(8, window ?? AttentionKernel.WINDOW_GLOBAL, true);
      const run = pipeline(v.code, ['uniform', ...Array(5).fill('read-only-storage'), 'storage'], { ...v.constants, HEAD_DIM: D, NUM_HEADS: H });
      const out = emptyTensor(device, 'out', [N, H * D]);
      const shape = [H, N, D];
      await runDispatches(device, [
        run(
          [uniform(params), tensorFrom(device, 'q', q, shape).buffer, tensorFrom(device, 'k', k, shape).buffer, tensorFrom(device, 'v', vv, shape).buffer, tensorFrom(device, 'm', mask, [N]).buffer, tensorFrom(device, 't', AttentionKernel.tileTable(sequences, maxTiles), [maxTiles, 4]).buffer, out.buffer],
          [maxTiles, H],
        ),
      ]);
      expectClose(await readTensor(device, out), cachedAttentionRef(q, k, vv, mask, sequences, H, D, { window }), { atol: 1e-5, rtol: 1e-4, label: v.id });
    });
  });
});
