// The rotary embedders' behaviour beyond the fixture match (test/encoders.gpu.test.ts): NomicBERT's
// dynamic NTK makes a text's output depend on its batch's padded length T (as in the reference),
// with no state carried between calls; GTE's type_vocab_size 1 zeroes token types; the API on
// nomic's sentence-transformers prompts and on the multilingual reranker's head.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import { Encoder } from '../src/encoder';
import { folderSource } from '../src/sources/folder';
import { Runner } from '../src/runner';
import { compareArrays } from './compare';
import { ENCODER_FIXTURES_DIR, readEncoderExpected } from './fixtures';
import { testGPU } from './gpu-context';

const dir = (name: string) => path.join(ENCODER_FIXTURES_DIR, name);
const relL2 = (a: ArrayLike<number>, b: ArrayLike<number>) => compareArrays(a, b, { atol: 0, rtol: 0 }).relL2;

async function runnerFor(name: string): Promise<Runner> {
  const { device } = await testGPU();
  const loaded = await loadCheckpoint(folderSource(dir(name)));
  return new Runner(await loaded.architecture.createModel(device, loaded.config, loaded.weights));
}

describe('NomicBERT dynamic NTK (nomic-v15-ntk-f32: max_trained_positions 128, factor 2)', () => {
  let runner: Runner;
  let rows: number[][];
  let expectedMean: Float32Array;
  const C = 64;
  beforeAll(async () => {
    runner = await runnerFor('nomic-bert/nomic-v15-ntk-f32');
    const expected = await readEncoderExpected('nomic-bert/nomic-v15-ntk-f32');
    const [batch, T] = expected.entry('input_ids').shape;
    const ids = expected.toInt32('input_ids');
    const mask = expected.toInt32('attention_mask');
    rows = Array.from({ length: batch }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)).filter((_, t) => mask[b * T + t] === 1));
    expect(rows.map((r) => r.length)).toEqual([300, 9]);
    expectedMean = expected.toFloat32('pooled_mean');
  });
  afterAll(() => {
    runner?.destroy();
    runner?.model.destroy();
  });

  it("a short text's output depends on its batch's longest row (T = 300 > 128 rescales RoPE for the whole batch)", async () => {
    const inBatch = expectedMean.subarray(C, 2 * C); // the 9-token row of the T = 300 batch
    const alone = (await runner.forwardPacked({ sequences: [rows[1]], outputs: ['pooledMean'] })).pooledMean!; // T = 9: plain RoPE
    const distance = relL2(alone, inBatch);
    console.log(`[dynamic NTK] 9-token row alone vs in the T=300 batch: rel L2 ${distance.toExponential(2)} (the fixture README quotes 1.1e-1 for this row)`);
    expect(distance).toBeGreaterThan(1e-2);
    // The same row alone but padded to T = 300 is the batch's row again (padded path: T = seqLen).
    const T = 300;
    const inputIds = new Array(T).fill(0);
    rows[1].forEach((id, t) => (inputIds[t] = id));
    const attentionMask = inputIds.map((_, t) => (t < rows[1].length ? 1 : 0));
    const padded = (await runner.forward({ inputIds, attentionMask, batch: 1, seqLen: T, outputs: ['pooledMean'] })).pooledMean!;
    expect(relL2(padded, inBatch)).toBeLessThan(1e-5);
  });

  it('carries no state between calls: one plan rewrites its table when T crosses max_trained_positions and back', async () => {
    // Same plan capacity (256 tokens) for all three calls; T 120 (plain), 140 (scaled), 120 again.
    const filler = (n: number) => rows[0].slice(0, n);
    const call = (n: number) => runner.forwardPacked({ sequences: [rows[1], filler(n)], outputs: ['pooledMean'] });
    const plain = (await call(120)).pooledMean!.slice(0, C);
    const built = runner.stats.plansBuilt;
    const scaled = (await call(140)).pooledMean!.slice(0, C);
    const plainAgain = (await call(120)).pooledMean!.slice(0, C);
    expect(runner.stats.plansBuilt).toBe(built); // one plan served all three
    expect(relL2(scaled, plain)).toBeGreaterThan(1e-3);
    expect(Array.from(plainAgain)).toEqual(Array.from(plain));
    // And T <= 128 is plain RoPE: the 9-token row's output is the same with a 120-token or no batch mate.
    const alone = (await runner.forwardPacked({ sequences: [rows[1]], outputs: ['pooledMean'] })).pooledMean!;
    expect(relL2(plain, alone)).toBeLessThan(1e-5);
  });
});

describe('GTE type_vocab_size 1 (gte-mling-reranker-f32)', () => {
  it('token_type_ids are accepted and read as 0, as the reference zeroes them', async () => {
    const runner = await runnerFor('gte/gte-mling-reranker-f32');
    try {
      const expected = await readEncoderExpected('gte/gte-mling-reranker-f32');
      const [batch, seqLen] = expected.entry('input_ids').shape;
      const inputIds = expected.toInt32('input_ids');
      const attentionMask = expected.toInt32('attention_mask');
      const ones = new Int32Array(batch * seqLen).fill(1);
      const result = await runner.forward({ inputIds, attentionMask, tokenTypeIds: ones, batch, seqLen, outputs: ['logits'] });
      expect(relL2(result.logits!, expected.toFloat32('logits'))).toBeLessThan(1e-4);
    } finally {
      runner.destroy();
      runner.model.destroy();
    }
  });
});

describe('the API on the rotary embedders', () => {
  it("nomic-embed's search_query / search_document prompts are named prompts: embed(text, { promptName }) = the reference on the prefixed text", async () => {
    const { gpu } = { gpu: await testGPU() };
    const name = 'nomic-bert/nomic-v15-vocab-f16';
    const expected = await readEncoderExpected(name);
    const texts = JSON.parse(expected.metadata.texts) as string[];
    const model = await Encoder.load(folderSource(dir(name)), { gpu });
    try {
      expect(model.info().sentenceTransformers?.prompts).toMatchObject({ search_query: 'search_query: ', search_document: 'search_document: ' });
      expect(model.embeddingDefaults()).toEqual({ pooling: 'mean', normalize: true });
      const C = 32;
      const reference = expected.toFloat32('sentence_embedding');
      const strip = (t: string, p: string) => (expect(t.startsWith(p)).toBe(true), t.slice(p.length));
      const queries = await model.embedMatrix([strip(texts[0], 'search_query: '), strip(texts[1], 'search_query: ')], { promptName: 'search_query' });
      expect(relL2(queries.data, reference.subarray(0, 2 * C))).toBeLessThan(1e-4);
      const documents = await model.embedMatrix([strip(texts[2], 'search_document: ')], { promptName: 'search_document' });
      expect(relL2(documents.data, reference.subarray(2 * C, 3 * C))).toBeLessThan(1e-4);
      const all = await model.embedMatrix(texts);
      expect(relL2(all.data, reference)).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it('gte-multilingual-reranker: classify on the reference pairs (ids) gives its logits; a token classifier is no sequence classifier', async () => {
    const gpu = await testGPU();
    const expected = await readEncoderExpected('gte/gte-mling-reranker-f32');
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const ids = expected.toInt32('input_ids');
    const mask = expected.toInt32('attention_mask');
    const pairs = Array.from({ length: batch }, (_, b) => Array.from(ids.subarray(b * seqLen, (b + 1) * seqLen)).filter((_, t) => mask[b * seqLen + t] === 1));
    const model = await Encoder.load(folderSource(dir('gte/gte-mling-reranker-f32')), { gpu });
    try {
      expect(model.info().head).toBe('classification');
      const results = await model.classify(pairs);
      const logits = results.map((r) => r[0].logit);
      expect(relL2(logits, expected.toFloat32('logits'))).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
    const tokens = await Encoder.load(folderSource(dir('gte/gte-mling-tokcls-f16')), { gpu });
    try {
      expect(tokens.info().head).toBe('token-classification');
      await expect(tokens.classify([[0, 5, 2]])).rejects.toThrow(/needs a sequence classification head .* has a token classification head/);
    } finally {
      await tokens.dispose();
    }
  });
});
