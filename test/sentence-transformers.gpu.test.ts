// Every run of every sentence-transformers fixture (../shared/fixtures/sentence-transformers,
// texts.json) through the library: Encoder.embed as SentenceTransformer.encode (both 1_Pooling
// formats, the six modes and their concatenation, include_prompt, Dense, Normalize, prompts,
// truncateDim, precision), predict / rank as CrossEncoder's; plus the typed errors of bad folders
// and options. Tolerances as the fixtures' README: see test/st-fixtures.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { memorySource, type CheckpointSource } from '../src/checkpoint';
import { Encoder } from '../src/encoder';
import { CheckpointError, InputError } from '../src/errors';
import { folderSource } from '../src/sources/folder';
import { Runner } from '../src/runner';
import { serializeSafetensors } from '../src/safetensors';
import { quantizeEmbeddings } from '../src/api/postprocess';
import { testGPU } from './gpu-context';
import { embedOptionsOf, expectQuantizedEqual, expectRowsClose, readStCase, ST_FIXTURES_DIR, stCaseNames, type StCase } from './st-fixtures';

let gpu: Awaited<ReturnType<typeof testGPU>>;
beforeAll(async () => {
  gpu = await testGPU();
});

describe.each(stCaseNames())('%s', (name) => {
  const c: StCase = readStCase(name);
  let model: Encoder;
  beforeAll(async () => {
    model = await Encoder.load(folderSource(c.dir), { gpu });
  });
  afterAll(() => model?.dispose());

  it.each(c.runs.map((r) => [r.name, r] as const))('run %s matches sentence-transformers', async (_, run) => {
    const report: string[] = [];
    if (run.call === 'encode') {
      const options = embedOptionsOf(run.args);
      // The ids sentence-transformers fed the model: the prompt as ST resolves it, then the text.
      const prompt = model.resolvePrompt(options) ?? '';
      expect(prompt, 'prompt used').toBe(run.prompt_used ?? '');
      const ids = c.expected.toInt32(`${run.name}.input_ids`);
      const mask = c.expected.toInt32(`${run.name}.attention_mask`);
      const T = c.expected.entry(`${run.name}.input_ids`).shape[1];
      c.texts.forEach((text, b) => {
        const row = Array.from(ids.subarray(b * T, (b + 1) * T)).filter((_, t) => mask[b * T + t] === 1);
        expect(model.tokenizer.encode(prompt + text), `ids of text ${b}`).toEqual(row);
      });
      if (run.prompt_length) expect(model.tokenizer.encode(prompt).length - 1, 'prompt_length').toBe(run.prompt_length);
      const { data, rows, cols } = await model.embedMatrix(c.texts, options);
      expect([rows, cols]).toEqual(run.shape);
      if (run.dtype === 'float32') {
        const worst = expectRowsClose(data, c.expected.toFloat32(run.output!), rows, `${name} ${run.name}`);
        report.push(`worst row rel L2 ${worst.toExponential(2)}`);
      } else {
        expect(data).toBeInstanceOf(run.dtype === 'int8' ? Int8Array : Uint8Array);
        const excused = expectQuantizedEqual(data, c.expected, run, `${name} ${run.name}`);
        report.push(`${excused} value(s) one unit off at a rounding edge`);
      }
    } else if (run.call === 'predict') {
      const scores = await model.predict(run.pairs!, { applySoftmax: run.apply_softmax });
      const flat = Float32Array.from((scores as (number | number[])[]).flat());
      expect(run.shape.length === 1 ? scores.every((s) => typeof s === 'number') : scores.every(Array.isArray)).toBe(true);
      const worst = expectRowsClose(flat, c.expected.toFloat32(`${run.name}.scores`), run.shape[0], `${name} ${run.name}`);
      report.push(`worst row rel L2 ${worst.toExponential(2)}`);
      if (run.rank) await expect(model.rank(run.pairs![0][0], [run.pairs![0][1]])).rejects.toThrow(/rank\(\) only works for models with num_labels=1/);
    } else {
      const ranked = await model.rank(run.query!, run.documents!, { returnDocuments: true });
      expect(ranked.map((r) => r.index), 'rank order').toEqual(run.order);
      expect(ranked.map((r) => r.index)).toEqual(Array.from(c.expected.toInt32(`${run.name}.rank_order`)));
      const ref = c.expected.toFloat32(`${run.name}.scores`);
      const byIndex = Float32Array.from(run.documents!, (_, i) => ranked.find((r) => r.index === i)!.score);
      expectRowsClose(byIndex, ref, 1, `${name} ${run.name} scores`);
      ranked.forEach((r) => expect(r.document).toBe(run.documents![r.index]));
      const raw = await model.rank(run.query!, run.documents!, { rawScores: true });
      const logits = c.expected.toFloat32(`${run.name}.logits`);
      expectRowsClose(Float32Array.from(run.documents!, (_, i) => raw.find((r) => r.index === i)!.score), logits, 1, `${name} ${run.name} raw scores`);
    }
    console.log(`${name} ${run.name}: ${report.join(', ')}`);
  });
});

/** Every file of a fixture folder as a memory source, with changes (null deletes). */
function changed(name: string, changes: Record<string, Uint8Array | string | null>): CheckpointSource {
  const files: Record<string, Uint8Array | string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.name !== 'expected.safetensors') files[prefix + entry.name] = new Uint8Array(readFileSync(path.join(dir, entry.name)));
    }
  };
  walk(path.join(ST_FIXTURES_DIR, name), '');
  for (const [file, content] of Object.entries(changes)) {
    if (content === null) delete files[file];
    else files[file] = content;
  }
  return memorySource(files, `memory:${name}`);
}

const json = (name: string, file: string) => JSON.parse(readFileSync(path.join(ST_FIXTURES_DIR, name, file), 'utf8'));

describe('bad folders and options: typed errors naming file and field', () => {
  const loadError = (source: CheckpointSource) => Encoder.load(source, { gpu }).then(
    async (m) => {
      await m.dispose();
      return null;
    },
    (e) => e,
  );

  it('an unknown pooling mode (new and old formats)', async () => {
    let error = await loadError(changed('st-mean-new-format', { '1_Pooling/config.json': JSON.stringify({ embedding_dimension: 16, pooling_mode: 'median' }) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/1_Pooling\/config\.json: pooling_mode "median" is not a pooling mode \(one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken\)/);
    error = await loadError(changed('st-mean-old-format', { '1_Pooling/config.json': JSON.stringify({ word_embedding_dimension: 16, pooling_mode_median_tokens: true }) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/1_Pooling\/config\.json: pooling_mode_median_tokens is not a pooling mode/);
  });

  it('Dense shapes that do not chain, and a Dense width unlike its weights', async () => {
    const dense = json('st-dense-gemma', '3_Dense/config.json');
    let error = await loadError(changed('st-dense-gemma', { '3_Dense/config.json': JSON.stringify({ ...dense, in_features: 32 }) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/3_Dense\/config\.json: in_features is 32, but the module before it gives 48 values/);
    const pooling = { embedding_dimension: 16, pooling_mode: ['mean', 'max'] };
    error = await loadError(changed('st-dense-labse', { '1_Pooling/config.json': JSON.stringify(pooling) }));
    expect(error.message).toMatch(/2_Dense\/config\.json: in_features is 16, but the module before it gives 32 values \(2 pooling mode\(s\) x 16/);
    error = await loadError(changed('st-mean-new-format', { '1_Pooling/config.json': JSON.stringify({ embedding_dimension: 32, pooling_mode: 'mean' }) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/1_Pooling\/config\.json: embedding_dimension .* is 32, but the transformer's hidden_size is 16/);
  });

  it('a non-torch or unsupported activation path', async () => {
    const dense = json('st-dense-labse', '2_Dense/config.json');
    let error = await loadError(changed('st-dense-labse', { '2_Dense/config.json': JSON.stringify({ ...dense, activation_function: 'my_package.Swish' }) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/2_Dense\/config\.json: activation_function "my_package\.Swish" is not a torch path/);
    error = await loadError(changed('st-dense-labse', { '2_Dense/config.json': JSON.stringify({ ...dense, activation_function: 'torch.nn.modules.activation.Mish' }) }));
    expect(error.message).toMatch(/2_Dense\/config\.json: activation_function "torch\.nn\.modules\.activation\.Mish" is not supported/);
    const config = json('ce-identity-legacy', 'config.json');
    error = await loadError(changed('ce-identity-legacy', { 'config.json': JSON.stringify({ ...config, sbert_ce_default_activation_function: 'mine.Activation' }) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/config\.json sbert_ce_default_activation_function: "mine\.Activation" is not a torch path/);
  });

  it('Dense weights only as pickle, a module this engine does not apply, a bad truncate_dim', async () => {
    let error = await loadError(changed('st-dense-labse', { '2_Dense/model.safetensors': null, '2_Dense/pytorch_model.bin': new Uint8Array(8) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/2_Dense\/model\.safetensors: not found; this engine reads Dense weights from safetensors only/);
    const modules = json('st-mean-new-format', 'modules.json');
    modules.splice(2, 0, { idx: 2, name: '2', path: '2_LayerNorm', type: 'sentence_transformers.models.LayerNorm' });
    error = await loadError(changed('st-mean-new-format', { 'modules.json': JSON.stringify(modules) }));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/modules\.json: module 2 \(sentence_transformers\.models\.LayerNorm at "2_LayerNorm"\): this engine applies Transformer, Pooling, Dense and Normalize modules only/);
    const st = json('st-truncate-config', 'config_sentence_transformers.json');
    error = await loadError(changed('st-truncate-config', { 'config_sentence_transformers.json': JSON.stringify({ ...st, truncate_dim: 17 }) }));
    expect(error.message).toMatch(/config_sentence_transformers\.json: truncate_dim is 17, above the embedding width 16/);
    error = await loadError(changed('st-truncate-config', { 'config_sentence_transformers.json': JSON.stringify({ ...st, truncate_dim: 0 }) }));
    expect(error.message).toMatch(/config_sentence_transformers\.json: truncate_dim must be a positive integer, got 0/);
    const weights = serializeSafetensors({ 'linear.weight': { dtype: 'F32', shape: [16, 8], data: new Float32Array(128) } });
    error = await loadError(changed('st-dense-labse', { '2_Dense/model.safetensors': weights }));
    expect(error.message).toMatch(/2_Dense\/model\.safetensors: tensor linear\.weight has shape \[16,8\], expected \[16,16\]/);
  });

  it('truncateDim above the width or below 1, a bad precision, pooling that would skip modules', async () => {
    const model = await Encoder.load(folderSource(path.join(ST_FIXTURES_DIR, 'st-dense-gemma')), { gpu });
    try {
      await expect(model.embed(['a'], { truncateDim: 25 })).rejects.toThrow(InputError);
      await expect(model.embed(['a'], { truncateDim: 25 })).rejects.toThrow(/truncateDim 25 is above the embedding width 24/);
      await expect(model.embed(['a'], { truncateDim: 0 })).rejects.toThrow(/truncateDim must be a positive integer, got 0/);
      await expect(model.embed(['a'], { precision: 'int4' as 'int8' })).rejects.toThrow(/precision must be one of float32, int8, uint8, binary, ubinary/);
      await expect(model.embed(['a'], { pooling: 'mean' })).rejects.toThrow(/pooling "mean" would skip modules of this sentence-transformers folder \(Pooling mean, 2_Dense 16->48, 3_Dense 48->24, Normalize\)/);
      // encodeQuery / encodeDocument pick the query / document prompts.
      const [q] = await model.encodeQuery(['a cat']);
      const [qByName] = await model.embed(['a cat'], { promptName: 'query' });
      expect(Array.from(q)).toEqual(Array.from(qByName));
      const [d] = await model.encodeDocument(['a cat']);
      const [dByName] = await model.embed(['a cat'], { promptName: 'document' });
      expect(Array.from(d)).toEqual(Array.from(dByName));
      const [explicit] = await model.encodeQuery(['a cat'], { prompt: '' });
      const [plain] = await model.embed(['a cat']);
      expect(Array.from(explicit)).toEqual(Array.from(plain));
    } finally {
      await model.dispose();
    }
  });
});

describe('similarity follows similarity_fn_name', () => {
  it('cosine, dot, euclidean and manhattan as SentenceTransformer.similarity', async () => {
    const a = [Float32Array.from([3, 4]), Float32Array.from([1, 0])];
    const b = [Float32Array.from([0, 2])];
    const results: Record<string, number[][]> = {};
    for (const fn of ['cosine', 'dot', 'euclidean', 'manhattan']) {
      const st = json('st-pooling-cls', 'config_sentence_transformers.json');
      const model = await Encoder.load(changed('st-pooling-cls', { 'config_sentence_transformers.json': JSON.stringify({ ...st, similarity_fn_name: fn }) }), { gpu });
      results[fn] = model.similarity(a, b);
      expect(model.info().sentenceTransformers?.similarity).toBe(fn);
      await model.dispose();
    }
    expect(results.cosine[0][0]).toBeCloseTo(0.8, 12);
    expect(results.cosine[1][0]).toBeCloseTo(0, 12);
    expect(results.dot).toEqual([[8], [0]]);
    expect(results.euclidean[0][0]).toBeCloseTo(-Math.sqrt(13), 12);
    expect(results.manhattan).toEqual([[-5], [-3]]);
  });
});

describe('quantizeEmbeddings on the reference floats', () => {
  it('gives quantize_embeddings\' integers exactly (int8, uint8, binary, ubinary, truncated)', () => {
    const c = readStCase('st-matryoshka-precision');
    const quantized = c.runs.filter((r) => r.dtype !== 'float32');
    expect(quantized.length).toBe(6);
    for (const run of quantized) {
      const floats = c.expected.toFloat32(`${run.name}.sentence_embedding_float`);
      const rows = run.shape[0];
      const { data, cols } = quantizeEmbeddings(floats, rows, floats.length / rows, run.args!.precision as 'int8');
      expect(cols, run.name).toBe(run.shape[1]);
      expect(Array.from(data), run.name).toEqual(Array.from(c.expected.toInt32(`${run.name}.embedding`)));
    }
  });
});

describe('the sentence-transformers head runs inside the forward', () => {
  it('one submit per batch, its dispatches after the model\'s, the pooled matrix readable; no head, no sentenceEmbedding', async () => {
    const c = readStCase('st-dense-gemma');
    const model = await Encoder.load(folderSource(c.dir), { gpu });
    try {
      const before = model.runner.stats.forwards;
      await model.embed(c.texts, { batchSize: 64 });
      expect(model.runner.stats.forwards - before, 'GPU submits for one batch').toBe(1);
      const pooled = await model.runner.readIntermediate('st.pooled');
      expect(pooled.length % 16).toBe(0);
      const bare = new Runner(model.model);
      await expect(bare.forwardPacked({ sequences: [[101, 102]], outputs: ['sentenceEmbedding'] })).rejects.toThrow(/no sentence-transformers head/);
      await expect(model.runner.forwardPacked({ sequences: [[101, 102]], outputs: ['sentenceEmbedding'], excludeLeading: [1, 2] })).rejects.toThrow(/excludeLeading has 2 entries for 1 sequences/);
      bare.destroy();
    } finally {
      await model.dispose();
    }
  });
});
