// Runner behaviour beyond numerics: plan reuse, profiling, batch splitting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import { folderSource } from '../src/node/folder-source';
import { NeoBERTModel } from '../src/model';
import { Runner } from '../src/runner';
import { FIXTURES_DIR, readExpected } from './fixtures';
import { testGPU } from './gpu-context';

describe('runner', () => {
  let runner: Runner;
  let request: Parameters<Runner['forward']>[0];
  beforeAll(async () => {
    const { device } = await testGPU();
    const checkpoint = await loadCheckpoint(folderSource(path.join(FIXTURES_DIR, 'tiny-mlm-f16')));
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

  it('profiles every dispatch with timestamp queries, same result as forward', async () => {
    const plain = await runner.forward(request);
    const { result, timings } = await runner.profile(request);
    expect(result.pooledMean).toEqual(plain.pooledMean);
    const layers = runner.model.config.numLayers;
    expect(timings.length).toBeGreaterThanOrEqual(layers * 9 + 3);
    expect(timings[0].label).toBe('embedding');
    expect(timings.some((t) => t.label === 'layer0.attention')).toBe(true);
    for (const t of timings) expect(t.ms >= 0 && Number.isFinite(t.ms), `${t.label}: ${t.ms}`).toBe(true);
  });

  it('concurrent forwards are serialised and each gets its own result', async () => {
    const single = { ...request, batch: 1, inputIds: request.inputIds.slice(0, request.seqLen), attentionMask: request.attentionMask.slice(0, request.seqLen) };
    const [a, b, c] = await Promise.all([runner.forward(request), runner.forward(single), runner.forward(request)]);
    expect(a.pooledMean).toEqual(c.pooledMean);
    expect(b.pooledMean!.length).toBe(runner.model.config.hiddenSize);
    const C = runner.model.config.hiddenSize;
    for (let i = 0; i < C; i++) expect(Math.abs(b.pooledMean![i] - a.pooledMean![i])).toBeLessThan(1e-5);
  });
});
