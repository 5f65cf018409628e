// Whole-model test: every fixture in ../shared/fixtures/neobert through the WebGPU path against
// the reference PyTorch outputs (expected.safetensors), on whatever adapter is present.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import { folderSource } from '../src/node/folder-source';
import { NeoBERTModel } from '../src/model';
import { Runner, type OutputName } from '../src/runner';
import type { SafetensorsFile } from '../src/safetensors';
import { compareArrays } from './compare';
import { FIXTURES_DIR, fixtureCases, readExpected } from './fixtures';
import { testGPU } from './gpu-context';

const OUTPUTS: [string, OutputName][] = [
  ['last_hidden_state', 'lastHiddenState'],
  ['pooled_cls', 'pooledCls'],
  ['pooled_mean', 'pooledMean'],
  ['logits', 'logits'],
];

describe.each(fixtureCases())('fixture %s', (caseName) => {
  let runner: Runner;
  let expected: SafetensorsFile;
  beforeAll(async () => {
    const { device } = await testGPU();
    const checkpoint = await loadCheckpoint(folderSource(path.join(FIXTURES_DIR, caseName)));
    runner = new Runner(await NeoBERTModel.create(device, checkpoint.config, checkpoint.weights));
    expected = await readExpected(caseName);
  });
  afterAll(() => {
    runner?.destroy();
    runner?.model.destroy();
  });

  it('matches the reference: rel L2 < 1e-4, max abs < 1e-3 * max|ref|, no NaN/Inf', async () => {
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const wanted = OUTPUTS.filter(([name]) => expected.has(name));
    const result = await runner.forward({
      inputIds: expected.toInt32('input_ids'),
      attentionMask: expected.toInt32('attention_mask'),
      batch,
      seqLen,
      outputs: wanted.map(([, output]) => output),
    });
    const report: string[] = [];
    for (const [name, output] of wanted) {
      const ref = expected.toFloat32(name);
      const got = result[output]!;
      expect(got.length, `${name} length`).toBe(ref.length);
      const stats = compareArrays(got, ref, { atol: 0, rtol: 0, label: name });
      const nonFinite = got.findIndex((v) => !Number.isFinite(v));
      report.push(`${caseName} ${name}: rel L2 ${stats.relL2.toExponential(2)}, max abs ${stats.maxAbs.toExponential(2)} (max|ref| ${stats.maxRef.toFixed(3)})`);
      expect(nonFinite, `${name}: non-finite value at ${nonFinite}`).toBe(-1);
      expect(stats.relL2, `${name} relative L2 error\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
      expect(stats.maxAbs, `${name} max abs error\n${stats.lines.join('\n')}`).toBeLessThan(1e-3 * stats.maxRef);
    }
    console.log(report.join('\n'));
  });
});

describe('a 4096-token sequence (max_length) on the bundled checkpoint', () => {
  // ~70 s on an idle 2-core machine, mostly the CPU reference's 4096 x 4096 attention.
  it('matches the CPU reference and stays finite', { timeout: 600_000 }, async () => {
    const { BUNDLED_MODEL_DIR } = await import('../src/node/index');
    const { referenceForward } = await import('../src/reference');
    const { device } = await testGPU();
    const checkpoint = await loadCheckpoint(folderSource(BUNDLED_MODEL_DIR));
    const model = await NeoBERTModel.create(device, checkpoint.config, checkpoint.weights);
    const runner = new Runner(model);
    const L = checkpoint.config.maxLength;
    const inputIds = Int32Array.from({ length: L }, (_, i) => (i === 0 ? 101 : i === L - 1 ? 102 : 1000 + ((i * 7919) % 28000)));
    const attentionMask = new Int32Array(L).fill(1);
    const got = await runner.forward({ inputIds, attentionMask, batch: 1, seqLen: L, outputs: ['lastHiddenState', 'pooledMean'] });
    const ref = referenceForward(checkpoint.config, checkpoint.weights, inputIds, attentionMask, 1, L);
    for (const [name, g, r] of [
      ['last_hidden_state', got.lastHiddenState!, ref.lastHiddenState],
      ['pooled_mean', got.pooledMean!, ref.pooledMean],
    ] as const) {
      const stats = compareArrays(g, r, { atol: 0, rtol: 0, label: name });
      expect(g.every(Number.isFinite), `${name} finite`).toBe(true);
      expect(stats.relL2, `${name}\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
    }
    runner.destroy();
    model.destroy();
  });
});

describe.each(fixtureCases())('fixture %s with f16 matmul weights', (caseName) => {
  let runner: Runner;
  let expected: SafetensorsFile;
  beforeAll(async () => {
    const { device } = await testGPU();
    const checkpoint = await loadCheckpoint(folderSource(path.join(FIXTURES_DIR, caseName)));
    runner = new Runner(await NeoBERTModel.create(device, checkpoint.config, checkpoint.weights, { dtype: 'f16' }));
    expected = await readExpected(caseName);
  });
  afterAll(() => {
    runner?.destroy();
    runner?.model.destroy();
  });

  it('matches the reference: rel L2 < 1e-2, no NaN/Inf', async () => {
    expect(runner.model.dtype).toBe('f16');
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const wanted = OUTPUTS.filter(([name]) => expected.has(name));
    const result = await runner.forward({
      inputIds: expected.toInt32('input_ids'),
      attentionMask: expected.toInt32('attention_mask'),
      batch,
      seqLen,
      outputs: wanted.map(([, output]) => output),
    });
    const report: string[] = [];
    for (const [name, output] of wanted) {
      const ref = expected.toFloat32(name);
      const got = result[output]!;
      expect(got.length, `${name} length`).toBe(ref.length);
      const stats = compareArrays(got, ref, { atol: 0, rtol: 0, label: name });
      const nonFinite = got.findIndex((v) => !Number.isFinite(v));
      report.push(`${caseName} (f16) ${name}: rel L2 ${stats.relL2.toExponential(2)}, max abs ${stats.maxAbs.toExponential(2)} (max|ref| ${stats.maxRef.toFixed(3)})`);
      expect(nonFinite, `${name}: non-finite value at ${nonFinite}`).toBe(-1);
      expect(stats.relL2, `${name} relative L2 error\n${stats.lines.join('\n')}`).toBeLessThan(1e-2);
    }
    console.log(report.join('\n'));
  });
});

describe('dtype f16 on a device without shader-f16', () => {
  it('is refused with a clear error before any upload', async () => {
    const gpu = await testGPU();
    const adapter = await gpu.instance!.requestAdapter();
    const plain = await adapter!.requestDevice(); // no optional features
    const checkpoint = await loadCheckpoint(folderSource(path.join(FIXTURES_DIR, fixtureCases()[0])));
    await expect(NeoBERTModel.create(plain, checkpoint.config, checkpoint.weights, { dtype: 'f16' })).rejects.toThrow(
      /dtype 'f16' needs the WebGPU feature 'shader-f16'.*use dtype 'f32'/,
    );
    plain.destroy();
  });
});
