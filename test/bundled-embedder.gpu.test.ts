// The bundled embedder (weights/wordnet-mini, what 'bundled' loads) against the PyTorch forward
// that trained it (scripts/train-embedder/train.py, the stored F16 weights upcast to f32):
// test/fixtures/wordnet-mini/expected.safetensors holds that forward's ids, mask and outputs,
// texts.json the training script's WordPiece ids for fixed texts. The engine runs the model it
// ships exactly: rel L2 < 1e-4 on every output, padded (Runner.forward) and through embed().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, type LoadedCheckpoint } from '../src/checkpoint';
import { NeoBERT } from '../src/encoder';
import { BUNDLED_MODEL_DIR } from '../src/node/index';
import { folderSource } from '../src/sources/folder';
import { Runner, type OutputName } from '../src/runner';
import { parseSafetensors, type SafetensorsFile } from '../src/safetensors';
import { compareArrays } from './compare';
import { testGPU } from './gpu-context';

const FIXTURE = fileURLToPath(new URL('./fixtures/wordnet-mini/', import.meta.url));

let model: NeoBERT;
let loaded: LoadedCheckpoint;
let runner: Runner;
let expected: SafetensorsFile;
let texts: { texts: string[]; input_ids: number[][] };

beforeAll(async () => {
  const gpu = await testGPU();
  model = await NeoBERT.load('bundled', { gpu });
  loaded = await loadCheckpoint(folderSource(BUNDLED_MODEL_DIR));
  runner = new Runner(await loaded.architecture.createModel(gpu.device, loaded.config, loaded.weights));
  const file = path.join(FIXTURE, 'expected.safetensors');
  expected = parseSafetensors(new Uint8Array(await readFile(file)), file);
  texts = JSON.parse(await readFile(path.join(FIXTURE, 'texts.json'), 'utf8'));
});

afterAll(async () => {
  runner?.destroy();
  runner?.model.destroy();
  await model?.dispose();
});

function relL2(name: string, got: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(got.length, `${name} length`).toBe(ref.length);
  const bad = Array.from(got).findIndex((v) => !Number.isFinite(v));
  expect(bad, `${name}: non-finite value at ${bad}`).toBe(-1);
  const stats = compareArrays(got, ref, { atol: 0, rtol: 0, label: name });
  console.log(`[wordnet-mini] ${name}: rel L2 ${stats.relL2.toExponential(2)}, max abs ${stats.maxAbs.toExponential(2)}`);
  expect(stats.relL2, `${name} relative L2 error\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
  return stats.relL2;
}

/** Rows of a [B, T, X] tensor whose mask is 1, concatenated. */
function realRows(data: Float32Array, mask: Int32Array, width: number): Float32Array {
  const out: number[] = [];
  mask.forEach((m, i) => {
    if (m === 1) for (let j = 0; j < width; j++) out.push(data[i * width + j]);
  });
  return Float32Array.from(out);
}

describe('bundled embedder (weights/wordnet-mini)', () => {
  it('is what "bundled" loads: a BERT sentence embedder, mean pooling + Normalize, no MLM head', () => {
    expect(model.info().label).toBe(BUNDLED_MODEL_DIR);
    expect(path.basename(BUNDLED_MODEL_DIR)).toBe('wordnet-mini');
    expect(model.info()).toMatchObject({ head: 'none', tokenizer: 'vocab.txt' });
    expect(loaded.config.modelType).toBe('bert');
    expect(model.embeddingDefaults()).toEqual({ pooling: 'mean', normalize: true });
  });

  it("tokenizes every text to the training script's WordPiece ids", () => {
    expect(texts.texts.length).toBeGreaterThan(100);
    const mismatches = texts.texts.flatMap((t, i) => {
      const got = model.tokenizer.encode(t);
      return JSON.stringify(got) === JSON.stringify(texts.input_ids[i]) ? [] : [`${JSON.stringify(t)}: ${JSON.stringify(got)} vs ${JSON.stringify(texts.input_ids[i])}`];
    });
    expect(mismatches).toEqual([]);
    // the fixture's rows are the first texts, right-padded
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const ids = expected.toInt32('input_ids');
    for (let b = 0; b < batch; b++) {
      const row = texts.input_ids[b];
      expect(Array.from(ids.subarray(b * seqLen, b * seqLen + row.length))).toEqual(row);
    }
  });

  it('padded batch: last_hidden_state, pooled_mean and sentence_embedding match PyTorch (rel L2 < 1e-4)', async () => {
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const inputIds = expected.toInt32('input_ids');
    const attentionMask = expected.toInt32('attention_mask');
    const outputs: OutputName[] = ['lastHiddenState', 'pooledMean', 'pooledMeanNormalized'];
    const result = await runner.forward({ inputIds, attentionMask, batch, seqLen, outputs });
    const C = loaded.config.hiddenSize;
    relL2('last_hidden_state', realRows(result.lastHiddenState!, attentionMask, C), realRows(expected.toFloat32('last_hidden_state'), attentionMask, C));
    relL2('pooled_mean', result.pooledMean!, expected.toFloat32('pooled_mean'));
    relL2('sentence_embedding', result.pooledMeanNormalized!, expected.toFloat32('sentence_embedding'));
  });

  it('embed() on the texts (packed, the API path) gives the sentence embeddings', async () => {
    const [batch] = expected.entry('input_ids').shape;
    const rows = await model.embed(texts.texts.slice(0, batch));
    const flat = new Float32Array(rows.flatMap((r) => Array.from(r)));
    relL2('embed() vs sentence_embedding', flat, expected.toFloat32('sentence_embedding'));
  });
});
