// The task-LoRA kernel (kernels/lora.wgsl) against its CPU reference at odd shapes, and the whole
// low-rank path of an adapted Linear and Embedding (plain matmul / gather + z = x A_all^T + the
// per-row task term) against the merged weights W + s B_t A_t the reference builds, with mixed
// tasks in one batch: every row must get its own task's result.
import { beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingKernel, LoraKernel, MatmulKernel, type MatmulActivation, type MatmulStrategy } from '../src/kernels';
import { matmulSubgroupsUsable } from '../src/capabilities';
import { activationRef, embeddingRef, loraRef, matmulRef, mergeLoraRef } from '../src/reference';
import { loraEmbeddingLayout, loraLinearLayout } from '../src/models/lora';
import { compareArrays, randomArray } from './compare';
import { emptyTensor, readTensor, reportAdapter, runDispatches, tensorFrom, testGPU } from './gpu-context';

let device: GPUDevice;
beforeAll(async () => {
  device = (await testGPU()).device;
});

/** Row tasks cycling through 0..T-1 and T (= no task), so neighbours differ. */
function rowTasks(M: number, T: number): Uint32Array {
  return Uint32Array.from({ length: M }, (_, m) => (m * 3 + 1) % (T + 1));
}

function expectRel(got: Float32Array, ref: Float32Array, label: string, limit: number): void {
  expect(got.findIndex((v) => !Number.isFinite(v)), `${label}: non-finite value`).toBe(-1);
  const stats = compareArrays(got, ref, { atol: 1e-5, rtol: 1e-4, label });
  expect(stats.relL2, `${label}: rel L2\n${stats.lines.join('\n')}`).toBeLessThan(limit);
  expect(stats.mismatches, `${label}\n${stats.lines.join('\n')}`).toBe(0);
}

describe('lora kernel', () => {
  it.each([
    [1, 4, 'none'],
    [57, 4, 'gelu'],
    [1001, 4, 'none'],
    [57, 3, 'tanh'],
    [1001, 8, 'gelu_tanh'],
  ] as [number, number, MatmulActivation][])('%i rows, rank %i, act %s: matches loraRef', async (M, R, activation) => {
    const [T, N] = [5, 67];
    const zStride = T * R + 2; // a row stride wider than the tasks' columns
    const out0 = randomArray(M * N, 1);
    const z = randomArray(M * zStride, 2);
    const b = randomArray(T * N * R, 3, 0.5);
    const tasks = rowTasks(M, T);
    const kernel = await LoraKernel.create(device, { activation });
    const out = tensorFrom(device, 'out', out0, [M, N]);
    await runDispatches(device, [
      kernel.createDispatch('t', tensorFrom(device, 'z', z, [M, zStride]), tensorFrom(device, 'b', b, [T, N, R]), tensorFrom(device, 'tasks', tasks, [M]), out),
    ]);
    expectRel(await readTensor(device, out), loraRef(out0, z, zStride, b, tasks, { M, N, R, T }, activation), 'lora', 1e-6);
    kernel.destroy();
  });

  it('rejects mismatched shapes', async () => {
    const kernel = await LoraKernel.create(device);
    const out = emptyTensor(device, 'out', [7, 12]);
    const tasks = emptyTensor(device, 'tasks', [7]);
    expect(() => kernel.createDispatch('t', emptyTensor(device, 'z', [7, 19]), emptyTensor(device, 'b', [5, 12, 4]), tasks, out)).toThrow(/19 columns, fewer than 5 tasks x rank 4/);
    expect(() => kernel.createDispatch('t', emptyTensor(device, 'z', [7, 20]), emptyTensor(device, 'b', [5, 11, 4]), tasks, out)).toThrow(/b \(b\) has shape \[5,11,4\], expected \[5,12,4\]/);
    expect(() => kernel.createDispatch('t', emptyTensor(device, 'z', [6, 20]), emptyTensor(device, 'b', [5, 12, 4]), tasks, out)).toThrow(/z \(z\) has shape \[6,20\]/);
    await expect(LoraKernel.create(device, { activation: 'nope' as MatmulActivation })).rejects.toThrow(/unknown activation 'nope'/);
  });
});

describe('low-rank path of an adapted Linear = merged weights, per row', () => {
  const strategies: MatmulStrategy[] = ['tiled', 'subgroup'];
  it.each(
    strategies.flatMap((s) =>
      [
        [1, 'gelu', false],
        [57, 'none', true],
        [1001, 'tanh', false],
      ].map((c) => [s, ...c] as [MatmulStrategy, number, MatmulActivation, boolean]),
    ),
  )('%s matmul, %i rows, act %s, residual %s', async (strategy, M, activation, withResidual) => {
    if (strategy === 'subgroup' && !matmulSubgroupsUsable(device)) {
      reportAdapter('lora path: no usable subgroup matmul on this adapter, the tiled kernel is checked instead');
      strategy = 'tiled';
    }
    const [T, R, N, K, scale] = [5, 4, 67, 36, 0.25];
    const x = randomArray(M * K, 11);
    const w = randomArray(N * K, 12, 0.3);
    const bias = randomArray(N, 13, 0.1);
    const residual = randomArray(M * N, 14);
    const a = randomArray(T * R * K, 15, 0.3); // lora_A [T, R, K]
    const bB = randomArray(T * N * R, 16, 0.3); // lora_B [T, N, R]
    const tasks = rowTasks(M, T);
    const layout = loraLinearLayout(a, bB, { tasks: T, rank: R, rows: N, cols: K }, scale);
    const plain = await MatmulKernel.create(device, { strategy });
    const base = await MatmulKernel.create(device, { strategy, bias: true, residual: withResidual });
    const lora = await LoraKernel.create(device, { activation });
    const xT = tensorFrom(device, 'x', x, [M, K]);
    const z = emptyTensor(device, 'z', [M, T * R]);
    const out = emptyTensor(device, 'out', [M, N]);
    await runDispatches(device, [
      plain.createDispatch('down', xT, tensorFrom(device, 'a', layout.down, [T * R, K]), z),
      base.createDispatch('base', xT, tensorFrom(device, 'w', w, [N, K]), out, {
        bias: tensorFrom(device, 'bias', bias, [N]),
        ...(withResidual ? { residual: tensorFrom(device, 'res', residual, [M, N]) } : {}),
      }),
      lora.createDispatch('lora', z, tensorFrom(device, 'b', layout.up, [T, N, R]), tensorFrom(device, 'tasks', tasks, [M]), out),
    ]);
    // Reference: each row through its own task's merged weight (no task: W itself).
    const ref = new Float32Array(M * N);
    const merged = Array.from({ length: T }, (_, t) => mergeLoraRef(w, a, bB, t, { N, K, R }, scale));
    for (let m = 0; m < M; m++) {
      const wt = tasks[m] < T ? merged[tasks[m]] : w;
      const row = matmulRef(x.subarray(m * K, (m + 1) * K), wt, 1, N, K, { bias });
      for (let n = 0; n < N; n++) ref[m * N + n] = activationRef(activation, row[n]) + (withResidual ? residual[m * N + n] : 0);
    }
    expectRel(await readTensor(device, out), ref, `adapted linear (${plain.strategy})`, 1e-5);
    for (const k of [plain, base, lora]) k.destroy();
  });
});

describe('low-rank path of an adapted Embedding = merged table rows, per token', () => {
  it.each([1, 57, 1001])('%i tokens', async (tokens) => {
    const [T, R, V, C, scale] = [5, 3, 211, 68, 0.5];
    const table = randomArray(V * C, 21);
    const a = randomArray(T * V * R, 22, 0.5); // embedding lora_A [T, V, R]
    const bB = randomArray(T * R * C, 23, 0.5); // embedding lora_B [T, R, C]
    const ids = Uint32Array.from({ length: tokens }, (_, i) => (i * 37 + 5) % V);
    const tasks = rowTasks(tokens, T);
    const layout = loraEmbeddingLayout(a, bB, { tasks: T, rank: R, vocab: V, hidden: C }, scale);
    expect(layout.stride % 4).toBe(0);
    const gatherZ = await EmbeddingKernel.create(device, layout.stride);
    const gather = await EmbeddingKernel.create(device, C);
    const lora = await LoraKernel.create(device);
    const idsT = tensorFrom(device, 'ids', ids, [tokens]);
    const z = emptyTensor(device, 'z', [tokens, layout.stride]);
    const out = emptyTensor(device, 'out', [tokens, C]);
    await runDispatches(device, [
      gatherZ.createDispatch('z', idsT, tensorFrom(device, 'a', layout.down, [V, layout.stride]), z),
      gather.createDispatch('word', idsT, tensorFrom(device, 'table', table, [V, C]), out),
      lora.createDispatch('lora', z, tensorFrom(device, 'b', layout.up, [T, C, R]), tensorFrom(device, 'tasks', tasks, [tokens]), out),
    ]);
    // Reference: rows of W + s A_t @ B_t (the embedding's swapped roles), in float64.
    const ref = embeddingRef(ids, table, C);
    for (let i = 0; i < tokens; i++) {
      const t = tasks[i];
      if (t >= T) continue;
      for (let c = 0; c < C; c++) {
        let d = 0;
        for (let j = 0; j < R; j++) d += a[(t * V + ids[i]) * R + j] * bB[(t * R + j) * C + c];
        ref[i * C + c] += scale * d;
      }
    }
    expectRel(await readTensor(device, out), ref, 'adapted embedding', 1e-6);
    for (const k of [gatherZ, gather, lora]) k.destroy();
  });
});
