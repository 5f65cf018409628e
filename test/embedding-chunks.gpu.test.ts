// Word-embedding tables over the device's storage-binding limit (XLM-R's 250002 x 768 f32 is
// 732 MiB, ModernBERT's 50368 x 768 is 148 MiB; the default limit is 128 MiB) are uploaded in
// row chunks and gathered by one dispatch per chunk. Forced here with small chunks at odd sizes.
import { beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingKernel } from '../src/kernels';
import { embeddingDispatches, uploadEmbeddingTable } from '../src/models/common';
import { embeddingRef } from '../src/reference';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';
import { folderSource } from '../src/sources/folder';
import { Runner } from '../src/runner';
import { parseSafetensors } from '../src/safetensors';
import { compareArrays, randomArray } from './compare';
import { ENCODER_FIXTURES_DIR } from './fixtures';
import { emptyTensor, readTensor, runDispatches, tensorFrom, testGPU } from './gpu-context';

let device: GPUDevice;
beforeAll(async () => {
  device = (await testGPU()).device;
});

describe('embedding gather from a table split into row chunks', () => {
  it.each([
    { vocab: 1, hidden: 4, tokens: 1, chunkRows: 1 },
    { vocab: 57, hidden: 12, tokens: 57, chunkRows: 7 },
    { vocab: 1001, hidden: 36, tokens: 333, chunkRows: 100 },
    { vocab: 1001, hidden: 36, tokens: 333, chunkRows: 1001 },
  ])('V=$vocab C=$hidden, $tokens tokens, $chunkRows rows per chunk: bit-exact, with positions and types', async ({ vocab, hidden, tokens, chunkRows }) => {
    const table = randomArray(vocab * hidden, 1);
    const positionTable = randomArray(64 * hidden, 2);
    const typeTable = randomArray(2 * hidden, 3);
    const ids = Uint32Array.from(randomArray(tokens, 4), (r) => Math.floor(((r + 1) / 2) * vocab) % vocab);
    ids[0] = vocab - 1; // the last row of the last chunk
    const positions = Uint32Array.from({ length: tokens }, (_, t) => t % 64);
    const typeIds = Uint32Array.from({ length: tokens }, (_, t) => t % 2);
    const kernel = await EmbeddingKernel.create(device, hidden, { positions: true, tokenTypes: true });
    const chunked = uploadEmbeddingTable(device, 'table', table, vocab, hidden, chunkRows);
    expect(chunked.chunks).toHaveLength(Math.ceil(vocab / chunkRows));
    const out = emptyTensor(device, 'out', [tokens, hidden]);
    const extra = {
      positions: tensorFrom(device, 'positions', positions, [tokens]),
      positionTable: tensorFrom(device, 'position_table', positionTable, [64, hidden]),
      typeIds: tensorFrom(device, 'type_ids', typeIds, [tokens]),
      typeTable: tensorFrom(device, 'type_table', typeTable, [2, hidden]),
    };
    await runDispatches(device, embeddingDispatches(kernel, 'embedding', tensorFrom(device, 'ids', ids, [tokens]), chunked, out, extra));
    const got = await readTensor(device, out);
    const ref = embeddingRef(ids, table, hidden, { positions, positionTable, typeIds, typeTable });
    expect(got.every(Number.isFinite)).toBe(true);
    expect(Array.from(got)).toEqual(Array.from(ref));
  });

  it('one chunk when the table fits the binding limit, several when it does not', () => {
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const hidden = 64;
    const rows = Math.floor(limit / (hidden * 4));
    console.log(`[embedding] binding limit ${limit} bytes: ${rows} rows of ${hidden} per chunk`);
    expect(uploadEmbeddingTable(device, 't', new Float32Array(8 * hidden), 8, hidden).chunks).toHaveLength(1);
  });
});

describe('models with their vocabulary tables in row chunks (maxChunkRows)', () => {
  // The device's default matmul kernel, the tiled one (GPUs), and the f16-arithmetic one where the
  // device has shader-f16 (its tolerance is f16's: rel L2 1e-2).
  const f16 = () => device.features.has('shader-f16');
  it.each([
    ['neobert', 'tiny-mlm-f32', {}],
    ['bert', 'bert-mlm-3heads-f32', {}],
    ['roberta', 'roberta-mlm-3heads-f32', {}],
    ['modernbert', 'modernbert-mlm-3heads-f32', {}],
    ['bert', 'bert-mlm-3heads-f32', { matmulStrategy: 'tiled' }],
    ['modernbert', 'modernbert-mlm-3heads-f32', { matmulStrategy: 'tiled', dtype: 'f16', arithmetic: 'f16' }],
  ] as const)('%s/%s %o: embeddings and MLM decoder in chunks of 333 rows match the reference', async (arch, name, options) => {
    const dir = path.join(ENCODER_FIXTURES_DIR, arch, name);
    const loaded = await loadCheckpoint(folderSource(dir));
    const half = 'arithmetic' in options;
    if (half && !f16()) console.log('[adapter] no shader-f16: the f16-arithmetic case runs with f32 arithmetic');
    const modelOptions = half && !f16() ? { maxChunkRows: 333, matmulStrategy: 'tiled' as const } : { maxChunkRows: 333, ...options };
    const model = await loaded.architecture.createModel(device, loaded.config, loaded.weights, modelOptions);
    const runner = new Runner(model);
    try {
      const expected = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'expected.safetensors'))), 'expected.safetensors');
      const [batch, seqLen] = expected.entry('input_ids').shape;
      const inputIds = expected.toInt32('input_ids');
      const attentionMask = expected.toInt32('attention_mask');
      const V = loaded.config.vocabSize;
      expect(Math.ceil(V / 333)).toBeGreaterThan(2);
      const out = await runner.forward({ inputIds, attentionMask, batch, seqLen, outputs: ['lastHiddenState', 'logits'] });
      // Real tokens only (padded rows are meaningless).
      const rows = (data: Float32Array, width: number) => Float32Array.from(Array.from(attentionMask).flatMap((m, i) => (m === 1 ? Array.from(data.subarray(i * width, (i + 1) * width)) : [])));
      for (const [key, output, width] of [['last_hidden_state', 'lastHiddenState', loaded.config.hiddenSize], ['logits', 'logits', V]] as const) {
        const got = rows(out[output]!, width);
        expect(got.every(Number.isFinite), `${key} finite`).toBe(true);
        const stats = compareArrays(got, rows(expected.toFloat32(key), width), { atol: 0, rtol: 0, label: key });
        expect(stats.relL2, `${name} ${key}\n${stats.lines.join('\n')}`).toBeLessThan(half && f16() ? 1e-2 : 1e-4);
      }
    } finally {
      runner.destroy();
      model.destroy();
    }
  });
});
