// Runner behaviour beyond numerics: plan reuse, profiling, batch splitting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import type { NeoBERTConfig, NeoBERTWeights } from '../src/models/neobert';
import { folderSource } from '../src/sources/folder';
import { NeoBERTModel } from '../src/models/neobert';
import { Runner } from '../src/runner';
import { FIXTURES_DIR, readExpected } from './fixtures';
import { reportAdapter, testGPU } from './gpu-context';

describe('runner', () => {
  let runner: Runner;
  let request: Parameters<Runner['forward']>[0];
  beforeAll(async () => {
    const { device } = await testGPU();
    const checkpoint = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(folderSource(path.join(FIXTURES_DIR, 'tiny-mlm-f16')));
    runner = new Runner(await NeoBERTModel.create(device, checkpoint.config, checkpoint.weights));
    const expected = await readExpected('tiny-mlm-f16');
    const [batch, seqLen] = expected.entry('input_ids').shape;
    request = { inputIds: expected.toInt32('input_ids'), attentionMask: expected.toInt32('attention_mask'), batch, seqLen, outputs: ['pooledMean'] };
  });
  afterAll(() => {
    runner.destroy();
    runner.model.destroy();
  });

  it('reuses the plan of a shape: a second forward builds nothing and gives identical output', async () => {
    const first = await runner.forward(request);
    const built = runner.stats.plansBuilt;
    const second = await runner.forward(request);
    expect(runner.stats.plansBuilt).toBe(built);
    expect(second.pooledMean).toEqual(first.pooledMean);
  });

  it('profiles every dispatch with timestamp queries, same result as forward (or says the adapter has none)', async () => {
    const plain = await runner.forward(request);
    if (!runner.model.device.features.has('timestamp-query')) {
      // An adapter fact: reported. What must hold everywhere: a clear error, and forward still works.
      await expect(runner.profile(request)).rejects.toThrow(/profiling needs the timestamp-query feature/);
      reportAdapter('runner: no timestamp-query on this device; checked that profile() says so');
      expect((await runner.forward(request)).pooledMean).toEqual(plain.pooledMean);
      return;
    }
    const { result, timings } = await runner.profile(request);
    expect(result.pooledMean).toEqual(plain.pooledMean);
    const layers = runner.model.config.numLayers;
    expect(timings.length).toBeGreaterThanOrEqual(layers * 6 + 3); // qkv, rope, attention, wo, w12, w3 per layer
    expect(timings[0].label).toBe('embedding');
    expect(timings.some((t) => t.label === 'layer0.attention')).toBe(true);
    for (const t of timings) expect(t.ms >= 0 && Number.isFinite(t.ms), `${t.label}: ${t.ms}`).toBe(true);
  });

  it('concurrent forwards are serialised and each gets its own result', async () => {
    const first = (a: ArrayLike<number>) => Array.from(a).slice(0, request.seqLen);
    const single = { ...request, batch: 1, inputIds: first(request.inputIds), attentionMask: first(request.attentionMask) };
    const [a, b, c] = await Promise.all([runner.forward(request), runner.forward(single), runner.forward(request)]);
    expect(a.pooledMean).toEqual(c.pooledMean);
    expect(b.pooledMean!.length).toBe(runner.model.config.hiddenSize);
    const C = runner.model.config.hiddenSize;
    for (let i = 0; i < C; i++) expect(Math.abs(b.pooledMean![i] - a.pooledMean![i])).toBeLessThan(1e-5);
  });

  it('packed forward (no padding) gives the per-sequence and per-token outputs of the padded forward', async () => {
    const { batch, seqLen } = request;
    const ids = Array.from(request.inputIds);
    const mask = Array.from(request.attentionMask);
    const sequences = Array.from({ length: batch }, (_, b) => ids.slice(b * seqLen, b * seqLen + mask.slice(b * seqLen, (b + 1) * seqLen).reduce((a, m) => a + m, 0)));
    const outputs = ['pooledCls', 'pooledMean', 'pooledMeanNormalized', 'lastHiddenState', 'logits'] as const;
    const padded = await runner.forward({ ...request, outputs: [...outputs] });
    const packed = await runner.forwardPacked({ sequences, outputs: [...outputs] });
    const C = runner.model.config.hiddenSize;
    const V = runner.model.config.vocabSize;
    for (const name of ['pooledCls', 'pooledMean', 'pooledMeanNormalized'] as const) {
      expect(packed[name]!.length).toBe(batch * C);
      for (let i = 0; i < batch * C; i++) expect(Math.abs(packed[name]![i] - padded[name]![i]), `${name}[${i}]`).toBeLessThan(1e-5);
    }
    // Token outputs: packed rows are the padded rows of the real tokens, in order.
    let row = 0;
    sequences.forEach((seq, b) => {
      for (let t = 0; t < seq.length; t++, row++) {
        for (const [name, width] of [['lastHiddenState', C], ['logits', V]] as const) {
          const got = packed[name]!.subarray(row * width, (row + 1) * width);
          const want = padded[name]!.subarray((b * seqLen + t) * width, (b * seqLen + t + 1) * width);
          let worst = 0;
          for (let i = 0; i < width; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
          expect(worst, `${name} sequence ${b} token ${t}`).toBeLessThan(1e-4);
        }
      }
    });
    expect(packed.lastHiddenState!.length).toBe(row * C);
  });

  it('a 512-token text batched with seven 16-token texts costs ~624 token rows, not 8 x 512', async () => {
    const long = Array.from({ length: 512 }, (_, i) => (i * 37) % 2000 + 5);
    const short = Array.from({ length: 7 }, (_, s) => Array.from({ length: 16 }, (_, i) => (s * 101 + i * 13) % 2000 + 5));
    const before = runner.stats.tokensComputed;
    const packed = await runner.forwardPacked({ sequences: [long, ...short], outputs: ['pooledMean'] });
    const computed = runner.stats.tokensComputed - before;
    expect(computed).toBeGreaterThanOrEqual(624);
    expect(computed).toBeLessThanOrEqual(640); // capacity rounding to a multiple of 128
    // Each packed sequence equals the same text run alone.
    const alone = await runner.forwardPacked({ sequences: [short[3]], outputs: ['pooledMean'] });
    const C = runner.model.config.hiddenSize;
    for (let i = 0; i < C; i++) expect(Math.abs(packed.pooledMean![4 * C + i] - alone.pooledMean![i])).toBeLessThan(1e-5);
  });

  it('rejects bad packed input clearly', async () => {
    await expect(runner.forwardPacked({ sequences: [], outputs: ['pooledCls'] })).rejects.toThrow(/empty batch/);
    await expect(runner.forwardPacked({ sequences: [[101], []], outputs: ['pooledCls'] })).rejects.toThrow(/sequence 1 is empty/);
    await expect(runner.forwardPacked({ sequences: [[101, 99999]], outputs: ['pooledCls'] })).rejects.toThrow(/sequence 0, token 1: id 99999 is out of the vocabulary/);
    const tooLong = new Array(runner.model.config.maxLength + 1).fill(5);
    await expect(runner.forwardPacked({ sequences: [tooLong], outputs: ['pooledCls'] })).rejects.toThrow(/over the model's limit/);
  });
});
