// Forward plans as a resource: calls of random lengths reuse a few capacity-rounded plans
// (padded and packed alike), every plan and kernel frees what it creates, dispose() leaves
// nothing behind, and MLM logits computed for chosen rows (logitRows) equal those rows of the
// full logits, so fill-mask works at any length.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { InputError } from '../src/errors';
import { NeoBERT, type RunTimings } from '../src/encoder';
import { packedTokenCapacity } from '../src/runner';
import { ENCODER_FIXTURES_DIR, FIXTURES_DIR } from './fixtures';
import { testGPU } from './gpu-context';

/** A deterministic generator (mulberry32), so every run sees the same "random" calls. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const randomIds = (random: () => number, length: number) => Array.from({ length }, () => 5 + Math.floor(random() * 2000));

let bundled: NeoBERT;
beforeAll(async () => {
  bundled = await NeoBERT.load('bundled-mlm', { gpu: await testGPU() });
});
afterAll(async () => {
  await bundled?.dispose();
});

describe('plan reuse', () => {
  it('300 embed calls of random lengths (single queries and small batches) build at most one plan per capacity', async () => {
    const random = rng(1);
    const before = bundled.runner.stats.plansBuilt;
    const capacities = new Set<number>();
    for (let call = 0; call < 300; call++) {
      const batch = random() < 0.5 ? 1 : 1 + Math.floor(random() * 4);
      const inputs = Array.from({ length: batch }, () => randomIds(random, 1 + Math.floor(random() * 400)));
      capacities.add(packedTokenCapacity(inputs.reduce((s, ids) => s + ids.length, 0)));
      const out = await bundled.embed(inputs);
      expect(out).toHaveLength(batch);
    }
    const built = bundled.runner.stats.plansBuilt - before;
    expect(built).toBeGreaterThan(0);
    expect(built).toBeLessThanOrEqual(capacities.size);
  });

  it('padded forwards of random [B, L] shapes use capacity-rounded plans and give the rows of an exact run', async () => {
    const random = rng(2);
    const runner = bundled.runner;
    const before = runner.stats.plansBuilt;
    const capacities = new Set<number>();
    let reference: Float32Array | null = null;
    for (let call = 0; call < 60; call++) {
      const batch = 1 + Math.floor(random() * 3);
      const seqLen = 1 + Math.floor(random() * 200);
      capacities.add(packedTokenCapacity(batch * seqLen));
      const inputIds = randomIds(random, batch * seqLen);
      const attentionMask = Array.from({ length: batch * seqLen }, (_, i) => (i % seqLen < Math.max(1, seqLen - 3 * (Math.floor(i / seqLen) + 1)) ? 1 : 0));
      const out = await runner.forward({ inputIds, attentionMask, batch, seqLen, outputs: ['lastHiddenState', 'pooledMean'] });
      expect(out.lastHiddenState).toHaveLength(batch * seqLen * 64);
      expect(out.pooledMean).toHaveLength(batch * 64);
      if (call === 0) reference = out.lastHiddenState!;
    }
    expect(runner.stats.plansBuilt - before).toBeLessThanOrEqual(capacities.size);
    // The first shape again, now run on plans shared with other shapes: the same rows, bit for bit.
    const again = rng(2);
    const batch = 1 + Math.floor(again() * 3);
    const seqLen = 1 + Math.floor(again() * 200);
    const inputIds = randomIds(again, batch * seqLen);
    const attentionMask = Array.from({ length: batch * seqLen }, (_, i) => (i % seqLen < Math.max(1, seqLen - 3 * (Math.floor(i / seqLen) + 1)) ? 1 : 0));
    const out = await runner.forward({ inputIds, attentionMask, batch, seqLen, outputs: ['lastHiddenState'] });
    expect(out.lastHiddenState).toEqual(reference);
  });
});

describe('ownership: plans, kernels and dispose() free everything they create', () => {
  it('a model on a shared device leaves no live buffer and no plan after dispose()', async () => {
    const gpu = await testGPU();
    const device = gpu.device;
    const live = new Set<GPUBuffer>();
    const createBuffer = device.createBuffer;
    device.createBuffer = function (descriptor: GPUBufferDescriptor) {
      const buffer = createBuffer.call(device, descriptor);
      live.add(buffer);
      const destroy = buffer.destroy;
      buffer.destroy = function () {
        live.delete(buffer);
        return destroy.call(buffer);
      };
      return buffer;
    };
    let model: NeoBERT;
    try {
      model = await NeoBERT.load('bundled-mlm', { device });
      const random = rng(3);
      for (let call = 0; call < 40; call++) {
        const inputs = Array.from({ length: 1 + Math.floor(random() * 3) }, () => randomIds(random, 1 + Math.floor(random() * 300)));
        await model.embed(inputs);
        if (call % 10 === 0) await model.fillMask(`the ${'word '.repeat(call)}[MASK] is here`);
      }
      await model.forward({ inputIds: [101, 2000, 102], attentionMask: [1, 1, 1], batch: 1, seqLen: 3, outputs: ['logits', 'pooledCls'] });
    } finally {
      device.createBuffer = createBuffer;
    }
    const runner = model.runner;
    expect(runner.cachedPlans).toBeGreaterThan(0);
    expect(live.size).toBeGreaterThan(0);
    await model.dispose();
    expect(runner.cachedPlans).toBe(0);
    expect(runner.stats.plansDestroyed).toBe(runner.stats.plansBuilt);
    expect([...live].map((b) => b.label)).toEqual([]);
    expect(() => model.runner).toThrow(/disposed/);
  });
});

describe('logits for chosen rows (logitRows)', () => {
  it.each([
    ['neobert', path.join(FIXTURES_DIR, 'tiny-mlm-f32')],
    ['roberta', path.join(ENCODER_FIXTURES_DIR, 'roberta', 'roberta-mlm-3heads-f32')],
    ['bert', path.join(ENCODER_FIXTURES_DIR, 'bert', 'bert-mlm-3heads-f32')],
    ['modernbert', path.join(ENCODER_FIXTURES_DIR, 'modernbert', 'modernbert-mlm-3heads-f32')],
  ])('%s: equal those rows of the full logits, packed and padded, in the order asked', async (_, dir) => {
    const model = await NeoBERT.load(dir, { gpu: await testGPU() });
    try {
      const V = model.config.vocabSize;
      const random = rng(4);
      const sequences = [randomIds(random, 37), randomIds(random, 5), randomIds(random, 61)].map((ids) => ids.map((id) => id % V));
      const total = 37 + 5 + 61;
      const full = (await model.runner.forwardPacked({ sequences, outputs: ['logits'] })).logits!;
      const rows = [100, 0, 40, 41, 40, 102, 37];
      const some = (await model.runner.forwardPacked({ sequences, outputs: ['logits'], logitRows: rows })).logits!;
      expect(some).toHaveLength(rows.length * V);
      rows.forEach((r, j) => {
        const a = full.subarray(r * V, (r + 1) * V);
        const b = some.subarray(j * V, (j + 1) * V);
        let diff = 0;
        for (let i = 0; i < V; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
        expect(diff, `row ${r}`).toBeLessThan(1e-4);
      });
      // Padded: indices into the B*L grid.
      const seqLen = 61;
      const inputIds = sequences.flatMap((ids) => [...ids, ...new Array(seqLen - ids.length).fill(model.config.padTokenId)]);
      const attentionMask = sequences.flatMap((ids) => [...new Array(ids.length).fill(1), ...new Array(seqLen - ids.length).fill(0)]);
      const request = { inputIds, attentionMask, batch: 3, seqLen, outputs: ['logits' as const] };
      const paddedFull = (await model.runner.forward(request)).logits!;
      const paddedRows = [2 * seqLen + 60, 3, seqLen + 4];
      const paddedSome = (await model.runner.forward({ ...request, logitRows: paddedRows })).logits!;
      paddedRows.forEach((r, j) => {
        let diff = 0;
        for (let i = 0; i < V; i++) diff = Math.max(diff, Math.abs(paddedFull[r * V + i] - paddedSome[j * V + i]));
        expect(diff, `padded row ${r}`).toBeLessThan(1e-4);
      });
      await expect(model.runner.forwardPacked({ sequences, outputs: ['logits'], logitRows: [total] })).rejects.toThrow(InputError);
      await expect(model.runner.forwardPacked({ sequences, outputs: ['logits'], logitRows: [1.5] })).rejects.toThrow(/logitRows\[0\] = 1.5/);
      await expect(model.runner.forwardPacked({ sequences, outputs: ['pooledCls'], logitRows: [1] })).rejects.toThrow(InputError);
    } finally {
      await model.dispose();
    }
  });

  it('fillMask of a 4096-token text computes logits for its masks only, and matches the full logits on a short text', async () => {
    const text = `the [MASK] sat on the mat. ${'a long story about many things, '.repeat(900)} and the [MASK] ended.`;
    expect(bundled.tokenizer.encode(text).length).toBeGreaterThan(4096);
    let timings: RunTimings | undefined;
    const predictions = await bundled.fillMask(text, { topK: 3, onTimings: (t) => (timings = t) });
    expect(timings!.tokens).toBe(4096);
    expect(predictions).toHaveLength(1); // the second [MASK] was cut by truncation
    expect(predictions[0]).toHaveLength(3);
    for (const p of predictions[0]) expect(Number.isFinite(p.score) && p.score > 0).toBe(true);

    const short = 'the cat sat on the [MASK] today.';
    const shortIds = bundled.tokenizer.encode(short);
    const [fill] = await bundled.fillMask(short, { topK: 1 });
    const full = (await bundled.forward({ inputIds: shortIds, attentionMask: shortIds.map(() => 1), batch: 1, seqLen: shortIds.length, outputs: ['logits'] })).logits!;
    const V = bundled.config.vocabSize;
    const at = shortIds.indexOf(bundled.tokenizer.maskId!);
    const row = full.subarray(at * V, (at + 1) * V);
    expect(fill[0].id).toBe(row.indexOf(Math.max(...row)));
  });

  it('fillMask says when truncation cut every [MASK] away', async () => {
    const text = `${'many words before it, '.repeat(100)}the [MASK].`;
    await expect(bundled.fillMask(text, { maxLength: 32 })).rejects.toThrow(/every \[MASK\] of the text lies past the first 32 tokens/);
  });
});
