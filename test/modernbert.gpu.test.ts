// ModernBERT beyond the fixtures: a local layer sees only its window (a token changed far outside
// it leaves a distant position's output bit-identical, while a global layer sees the change), and
// one 8192-token sequence runs within default limits, padded and packed alike.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint, memorySource } from '../src/checkpoint';
import type { ModernBertConfig, ModernBertWeights } from '../src/models/modernbert';
import { Runner } from '../src/runner';
import { parseSafetensors, serializeSafetensors, type SerializableTensor } from '../src/safetensors';
import { compareArrays, randomArray } from './compare';
import { ENCODER_FIXTURES_DIR } from './fixtures';
import { testGPU } from './gpu-context';

const LONG = path.join(ENCODER_FIXTURES_DIR, 'modernbert', 'modernbert-long-f32');

/** modernbert-long-f32 cut to its first layer, run as a global or a local (sliding window) layer. */
async function oneLayerModel(device: GPUDevice, layerType: 'full_attention' | 'sliding_attention') {
  const config = JSON.parse(readFileSync(path.join(LONG, 'config.json'), 'utf8'));
  const file = parseSafetensors(new Uint8Array(readFileSync(path.join(LONG, 'model.safetensors'))), 'model.safetensors');
  const tensors: Record<string, SerializableTensor> = {};
  for (const name of file.names()) {
    if (/^layers\.[1-9]/.test(name)) continue;
    tensors[name] = { dtype: 'F32', shape: file.entry(name).shape, data: file.toFloat32(name) };
  }
  const source = memorySource(
    { 'config.json': JSON.stringify({ ...config, num_hidden_layers: 1, layer_types: [layerType] }), 'model.safetensors': serializeSafetensors(tensors) },
    `one ${layerType} layer`,
  );
  const loaded = await loadCheckpoint<ModernBertConfig, ModernBertWeights>(source);
  expect(loaded.config.globalLayers).toEqual([layerType === 'full_attention']);
  return new Runner(await loaded.architecture.createModel(device, loaded.config, loaded.weights));
}

let device: GPUDevice;
beforeAll(async () => {
  device = (await testGPU()).device;
});

describe('local attention at the model level (window 64: |i - j| <= 32)', () => {
  const L = 300;
  const C = 32;
  const ids = Array.from(randomArray(L, 7), (r) => 10 + Math.floor((r + 1) * 400));
  const changed = ids.slice();
  changed[5] = ids[5] === 11 ? 12 : 11; // one token far before position 200
  const rowsOf = (x: Float32Array, t: number) => x.subarray(t * C, (t + 1) * C);

  it('a local layer: position 200 is bit-identical, positions within 32 of the change are not', async () => {
    const runner = await oneLayerModel(device, 'sliding_attention');
    try {
      const a = (await runner.forwardPacked({ sequences: [ids], outputs: ['lastHiddenState'] })).lastHiddenState!;
      const b = (await runner.forwardPacked({ sequences: [changed], outputs: ['lastHiddenState'] })).lastHiddenState!;
      expect(Array.from(rowsOf(b, 200))).toEqual(Array.from(rowsOf(a, 200)));
      expect(Array.from(rowsOf(b, 5 + 33))).toEqual(Array.from(rowsOf(a, 5 + 33))); // just outside
      expect(compareArrays(rowsOf(b, 5 + 32), rowsOf(a, 5 + 32), { atol: 0, rtol: 0 }).maxAbs).toBeGreaterThan(0); // just inside
    } finally {
      runner.destroy();
      runner.model.destroy();
    }
  });

  it('a global layer: the same change reaches position 200', async () => {
    const runner = await oneLayerModel(device, 'full_attention');
    try {
      const a = (await runner.forwardPacked({ sequences: [ids], outputs: ['lastHiddenState'] })).lastHiddenState!;
      const b = (await runner.forwardPacked({ sequences: [changed], outputs: ['lastHiddenState'] })).lastHiddenState!;
      expect(compareArrays(rowsOf(b, 200), rowsOf(a, 200), { atol: 0, rtol: 0 }).maxAbs).toBeGreaterThan(1e-7);
    } finally {
      runner.destroy();
      runner.model.destroy();
    }
  });
});

describe('8192 tokens in one sequence (max_position_embeddings) on modernbert-base-vocab-f16', () => {
  it('runs padded and packed to the same finite outputs', { timeout: 600_000 }, async () => {
    const loaded = await loadCheckpoint<ModernBertConfig, ModernBertWeights>(
      (await import('../src/sources/folder')).folderSource(path.join(ENCODER_FIXTURES_DIR, 'modernbert', 'modernbert-base-vocab-f16')),
    );
    expect(loaded.config.maxLength).toBe(8192);
    const runner = new Runner(await loaded.architecture.createModel(device, loaded.config, loaded.weights));
    try {
      const L = 8192;
      const ids = Array.from(randomArray(L, 3), (r) => Math.floor(((r + 1) / 2) * 50000));
      const padded = await runner.forward({ inputIds: ids, attentionMask: ids.map(() => 1), batch: 1, seqLen: L, outputs: ['lastHiddenState', 'pooledMean'] });
      const packed = await runner.forwardPacked({ sequences: [ids], outputs: ['lastHiddenState', 'pooledMean'] });
      for (const name of ['lastHiddenState', 'pooledMean'] as const) {
        expect(padded[name]!.every(Number.isFinite), `${name} finite`).toBe(true);
        expect(compareArrays(packed[name]!, padded[name]!, { atol: 0, rtol: 0 }).relL2).toBeLessThan(1e-6);
      }
      await expect(runner.forward({ inputIds: [...ids, 5], attentionMask: [...ids, 5].map(() => 1), batch: 1, seqLen: L + 1, outputs: ['pooledCls'] })).rejects.toThrow(
        /sequence length 8193 is over the model's limit of 8192 tokens/,
      );
    } finally {
      runner.destroy();
      runner.model.destroy();
    }
  });
});
