import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, memorySource, urlSource, filesSource, type CheckpointSource } from '../src/checkpoint';
import type { NeoBERTConfig, NeoBERTWeights } from '../src/models/neobert';
import { f16ToF32, bf16ToF32 } from '../src/dtype';
import { CheckpointError } from '../src/errors';
import { folderSource, writeFileAtomic } from '../src/sources/folder';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile, type SerializableTensor } from '../src/safetensors';
import { FIXTURES_DIR, fixtureCases } from './fixtures';

const fixtureDir = (fixture: string) => join(FIXTURES_DIR, fixture);
const readFixture = (fixture: string, file: string) => new Uint8Array(readFileSync(join(fixtureDir(fixture), file)));
const fixtureModel = (fixture: string) => parseSafetensors(readFixture(fixture, 'model.safetensors'), 'model.safetensors');
const fixtureConfig = (fixture: string) => JSON.parse(readFileSync(join(fixtureDir(fixture), 'config.json'), 'utf8'));

async function expectCheckpointError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await promise.then(() => null, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(CheckpointError);
  expect((error as Error).message).toMatch(message);
}

/** Tensors of a parsed file, re-serializable with their stored bits (F16/BF16 as raw Uint16). */
function storedTensors(file: SafetensorsFile, names = file.names()): Record<string, SerializableTensor> {
  return Object.fromEntries(
    names.map((name) => {
      const { dtype, shape } = file.entry(name);
      const data = dtype === 'F32' ? file.toFloat32(name) : new Uint16Array(new Uint8Array(file.bytes(name)).buffer);
      return [name, { dtype: dtype as 'F32' | 'F16' | 'BF16', shape, data }];
    }),
  );
}

/** A memory copy of a fixture folder with some files replaced (null removes one). */
function modifiedFixture(fixture: string, changes: Record<string, Uint8Array | string | object | null>): CheckpointSource {
  const files: Record<string, Uint8Array | string> = {
    'config.json': JSON.stringify(fixtureConfig(fixture)),
    'model.safetensors': readFixture(fixture, 'model.safetensors'),
  };
  for (const [name, content] of Object.entries(changes)) {
    if (content === null) delete files[name];
    else files[name] = typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content);
  }
  return memorySource(files, `memory:${fixture}`);
}

/** The fixture's model.safetensors without some tensors. */
function withoutTensors(fixture: string, ...dropped: string[]): Uint8Array {
  const file = fixtureModel(fixture);
  return serializeSafetensors(storedTensors(file, file.names().filter((name) => !dropped.includes(name))));
}

/** Splits a fixture's tensors over two shards plus an index, as transformers' save_pretrained does. */
function shardedFixture(fixture: string): Record<string, Uint8Array | string> {
  const file = fixtureModel(fixture);
  const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const names = file.names();
  const halves = [names.filter((_, index) => index % 2 === 0), names.filter((_, index) => index % 2 === 1)];
  const weightMap = Object.fromEntries(halves.flatMap((half, shard) => half.map((name) => [name, shardNames[shard]])));
  return {
    'config.json': JSON.stringify(fixtureConfig(fixture)),
    'model.safetensors.index.json': JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
    [shardNames[0]]: serializeSafetensors(storedTensors(file, halves[0])),
    [shardNames[1]]: serializeSafetensors(storedTensors(file, halves[1])),
  };
}

function allArrays(weights: NeoBERTWeights): Float32Array[] {
  const { head } = weights;
  const headArrays =
    head.kind === 'mlm' ? [head.weight, head.bias]
    : head.kind === 'classification' ? [head.denseWeight, head.denseBias, head.weight, head.bias]
    : [];
  return [weights.embedding, weights.finalNorm, ...weights.layers.flatMap((layer) => Object.values(layer)), ...headArrays];
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((value, index) => Object.is(value, b[index]));
}

describe('loadCheckpoint over every fixture', () => {
  const expectations: Record<string, { head: string; dtype: string; prefix: string; vocab: boolean }> = {
    'odd-base-f32': { head: 'none', dtype: 'F32', prefix: '', vocab: false },
    'small-cls-f32': { head: 'classification', dtype: 'F32', prefix: 'model.', vocab: false },
    'tiny-long-f32': { head: 'mlm', dtype: 'F32', prefix: 'model.', vocab: false },
    'tiny-mlm-bf16': { head: 'mlm', dtype: 'BF16', prefix: 'model.', vocab: false },
    'tiny-mlm-f16': { head: 'mlm', dtype: 'F16', prefix: 'model.', vocab: false },
    'tiny-mlm-f32': { head: 'mlm', dtype: 'F32', prefix: 'model.', vocab: true },
  };

  it('knows every fixture case', () => {
    expect(fixtureCases()).toEqual(Object.keys(expectations).sort());
  });

  for (const [fixture, expected] of Object.entries(expectations)) {
    it(`loads ${fixture} from its folder`, async () => {
      const progress: { file: string; loaded: number; total: number | null }[] = [];
      const loaded = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(folderSource(fixtureDir(fixture)), { onProgress: (p) => progress.push(p) });
      const model = fixtureModel(fixture);
      const { config, weights } = loaded;
      const C = config.hiddenSize;
      const F = config.ffnWidth;

      expect(weights.head.kind).toBe(expected.head);
      expect(loaded.label).toBe(fixtureDir(fixture));
      expect(loaded.dtypes).toEqual({ [expected.dtype]: model.names().length });
      expect(model.has('model.encoder.weight')).toBe(expected.prefix === 'model.');
      // Every stored tensor is used, so the parameter count is the file's element count.
      const storedElements = model.names().reduce((total, name) => total + model.entry(name).shape.reduce((a, b) => a * b, 1), 0);
      expect(loaded.parameterCount).toBe(storedElements);

      expect(weights.layers).toHaveLength(config.numLayers);
      expect(weights.embedding.length).toBe(config.vocabSize * C);
      expect(weights.finalNorm.length).toBe(C);
      for (const layer of weights.layers) {
        expect(layer.qkv.length).toBe(3 * C * C);
        expect(layer.w12.length).toBe(2 * F * C);
        expect(layer.w3.length).toBe(C * F);
      }
      if (weights.head.kind === 'classification') {
        expect(config.numLabels).toBe(3);
        expect(weights.head.weight.length).toBe(3 * C);
        expect(weights.head.bias.length).toBe(3);
      }
      // Values match the stored bits, converted exactly.
      const decode = expected.dtype === 'F16' ? f16ToF32 : expected.dtype === 'BF16' ? bf16ToF32 : null;
      const qkvName = `${expected.prefix}transformer_encoder.1.qkv.weight`;
      if (decode) {
        const bits = new Uint16Array(new Uint8Array(model.bytes(qkvName)).buffer);
        expect(sameValues(weights.layers[1].qkv, Float32Array.from(bits, decode))).toBe(true);
      } else {
        expect(sameValues(weights.layers[1].qkv, model.toFloat32(qkvName))).toBe(true);
      }

      expect(loaded.tokenizerFiles.tokenizerJson).toBeNull();
      if (expected.vocab) expect(loaded.tokenizerFiles.vocabTxt?.split('\n')[101]).toBe('[CLS]');
      else expect(loaded.tokenizerFiles.vocabTxt).toBeNull();

      // Weights are read as they are used; close() ends the file's progress at its size.
      loaded.close();
      const size = readFixture(fixture, 'model.safetensors').byteLength;
      const weightProgress = progress.filter((p) => p.file === 'model.safetensors');
      expect(weightProgress[0]).toEqual({ file: 'model.safetensors', loaded: 0, total: size });
      expect(weightProgress.at(-1)).toEqual({ file: 'model.safetensors', loaded: size, total: size });
    });
  }
});

describe('sharded checkpoints', () => {
  for (const fixture of ['small-cls-f32', 'tiny-mlm-bf16']) {
    it(`loads ${fixture} split into two shards to identical weights`, async () => {
      const single = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(folderSource(fixtureDir(fixture)));
      const progressFiles = new Set<string>();
      const sharded = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(memorySource(shardedFixture(fixture), 'memory'), {
        onProgress: (p) => progressFiles.add(p.file),
      });
      expect(sharded.weights.head.kind).toBe(single.weights.head.kind);
      expect(sharded.dtypes).toEqual(single.dtypes);
      expect(sharded.parameterCount).toBe(single.parameterCount);
      const shardedArrays = allArrays(sharded.weights);
      const singleArrays = allArrays(single.weights);
      expect(shardedArrays).toHaveLength(singleArrays.length);
      shardedArrays.forEach((array, index) => expect(sameValues(array, singleArrays[index]), `array ${index}`).toBe(true));
      expect([...progressFiles].sort()).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    });
  }

  it('rejects an index that lists a missing shard', async () => {
    const files = shardedFixture('tiny-mlm-f16');
    delete files['model-00002-of-00002.safetensors'];
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(memorySource(files, 'memory')),
      /memory\/model\.safetensors\.index\.json: lists shard model-00002-of-00002\.safetensors, which is missing/,
    );
  });

  it('rejects an index that maps a tensor to a shard without it', async () => {
    const files = shardedFixture('tiny-mlm-f16');
    const index = JSON.parse(files['model.safetensors.index.json'] as string);
    index.weight_map['decoder.bias'] = 'model-00002-of-00002.safetensors';
    files['model.safetensors.index.json'] = JSON.stringify(index);
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(memorySource(files, 'memory')),
      /maps tensor decoder\.bias to model-00002-of-00002\.safetensors, which has no such tensor/,
    );
  });

  it('rejects an index without a weight_map', async () => {
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(memorySource({ 'config.json': JSON.stringify(fixtureConfig('tiny-mlm-f16')), 'model.safetensors.index.json': '{}' }, 'memory')),
      /model\.safetensors\.index\.json: weight_map is missing or not a JSON object/,
    );
  });

  it('names the shards when a tensor is missing from all of them', async () => {
    const files = shardedFixture('tiny-mlm-f16');
    const index = JSON.parse(files['model.safetensors.index.json'] as string);
    delete index.weight_map['model.layer_norm.weight'];
    files['model.safetensors.index.json'] = JSON.stringify(index);
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(memorySource(files, 'memory')),
      /memory\/model-00001-of-00002\.safetensors, memory\/model-00002-of-00002\.safetensors: tensor model\.layer_norm\.weight is missing/,
    );
  });
});

describe('checkpoint errors', () => {
  it('requires config.json', async () => {
    await expectCheckpointError(loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('tiny-mlm-f16', { 'config.json': null })), /memory:tiny-mlm-f16\/config\.json: not found/);
  });

  it('rejects config.json that is not JSON or is inconsistent', async () => {
    await expectCheckpointError(loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('tiny-mlm-f16', { 'config.json': '{ hidden' })), /config\.json: not valid JSON/);
    const inconsistent = { ...fixtureConfig('tiny-mlm-f16'), hidden_size: 100, num_attention_heads: 3, dim_head: undefined };
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('tiny-mlm-f16', { 'config.json': inconsistent })),
      /memory:tiny-mlm-f16\/config\.json: hidden_size=100 is not divisible by num_attention_heads=3/,
    );
  });

  it('requires a weights file', async () => {
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('tiny-mlm-f16', { 'model.safetensors': null })),
      /memory:tiny-mlm-f16: neither model\.safetensors nor model\.safetensors\.index\.json found/,
    );
  });

  it('rejects a truncated weights file, naming it', async () => {
    const bytes = readFixture('tiny-mlm-f16', 'model.safetensors');
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('tiny-mlm-f16', { 'model.safetensors': bytes.subarray(0, bytes.byteLength - 100) })),
      /memory:tiny-mlm-f16\/model\.safetensors: tensor "model\.transformer_encoder\.1\.wo\.weight" has data_offsets \[\d+, \d+\] past the end/,
    );
  });

  it('names a missing tensor', async () => {
    const source = modifiedFixture('tiny-mlm-f16', { 'model.safetensors': withoutTensors('tiny-mlm-f16', 'model.transformer_encoder.1.wo.weight') });
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(source),
      /memory:tiny-mlm-f16\/model\.safetensors: tensor model\.transformer_encoder\.1\.wo\.weight is missing \(config\.json num_hidden_layers=2\)/,
    );
  });

  it('reports a wrong shape with the config fields it comes from', async () => {
    const config = { ...fixtureConfig('tiny-mlm-f16'), vocab_size: 1000 };
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('tiny-mlm-f16', { 'config.json': config })),
      /model\.safetensors: tensor model\.encoder\.weight has shape \[2048,64\], expected \[1000,64\] \(from config\.json vocab_size=1000, hidden_size=64\)/,
    );
    const ffn = { ...fixtureConfig('tiny-mlm-f16'), intermediate_size: 128 };
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('tiny-mlm-f16', { 'config.json': ffn })),
      /tensor model\.transformer_encoder\.0\.ffn\.w12\.weight has shape \[128,64\], expected \[176,64\] \(from config\.json intermediate_size=128 \(FFN width 88\), hidden_size=64\)/,
    );
  });

  it('checks the classifier against num_labels', async () => {
    const config = { ...fixtureConfig('small-cls-f32'), num_labels: 4 };
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('small-cls-f32', { 'config.json': config })),
      /tensor classifier\.weight has shape \[3,128\], expected \[4,128\] \(from config\.json num_labels=4, hidden_size=128\)/,
    );
    const noClassifier = withoutTensors('small-cls-f32', 'classifier.weight', 'classifier.bias');
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('small-cls-f32', { 'model.safetensors': noClassifier })),
      /tensor classifier\.weight is missing/,
    );
    const notClassification = { ...fixtureConfig('small-cls-f32'), architectures: ['NeoBERT'] };
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('small-cls-f32', { 'config.json': notClassification })),
      /has classifier\.weight but config\.json architectures \["NeoBERT"\] do not include NeoBERTForSequenceClassification/,
    );
  });

  it('rejects a checkpoint with more layers than the config', async () => {
    const config = { ...fixtureConfig('odd-base-f32'), num_hidden_layers: 1 };
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('odd-base-f32', { 'config.json': config })),
      /has tensor transformer_encoder\.1\.qkv\.weight, more layers than config\.json num_hidden_layers=1/,
    );
  });

  it('rejects a checkpoint without a token embedding', async () => {
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('odd-base-f32', { 'model.safetensors': withoutTensors('odd-base-f32', 'encoder.weight') })),
      /no model\.encoder\.weight \/ encoder\.weight; is this a NeoBERT checkpoint\?/,
    );
  });

  it('rejects integer weights', async () => {
    const file = fixtureModel('odd-base-f32');
    const tensors = storedTensors(file);
    tensors['layer_norm.weight'] = { dtype: 'I32', shape: [96], data: new Int32Array(96) };
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(modifiedFixture('odd-base-f32', { 'model.safetensors': serializeSafetensors(tensors) })),
      /model\.safetensors: tensor layer_norm\.weight has dtype I32, expected a float dtype/,
    );
  });
});

describe('folderSource and writeFileAtomic', () => {
  const scratchDirs: string[] = [];
  afterAll(() => Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

  it('returns null for a missing file and an error for a missing folder', async () => {
    expect(await folderSource(fixtureDir('odd-base-f32')).readText('vocab.txt')).toBeNull();
    await expectCheckpointError(folderSource('/nonexistent/neobert').readText('config.json'), /\/nonexistent\/neobert: checkpoint folder does not exist/);
    await expectCheckpointError(
      loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(folderSource(join(FIXTURES_DIR, 'no-such-case'))),
      /no-such-case: checkpoint folder does not exist/,
    );
  });

  it('writes atomically, leaving no temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'neobert-atomic-'));
    scratchDirs.push(dir);
    const path = join(dir, 'out.bin');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, 'replaced');
    expect(await readFile(path, 'utf8')).toBe('replaced');
    expect(await readdir(dir)).toEqual(['out.bin']);
    await expectCheckpointError(writeFileAtomic(join(dir, 'missing', 'out.bin'), 'x'), /missing\/out\.bin: could not write the file/);
    expect(await readdir(dir)).toEqual(['out.bin']);
  });
});

describe('filesSource', () => {
  it('loads a checkpoint from picked files', async () => {
    const files = ['config.json', 'model.safetensors'].map((name) => new File([readFixture('tiny-mlm-f16', name)], name));
    const loaded = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(filesSource(files));
    expect(loaded.weights.head.kind).toBe('mlm');
    expect(loaded.label).toBe('selected files');
  });

  it('rejects two picked files with the same name', () => {
    const file = { name: 'config.json', arrayBuffer: async () => new ArrayBuffer(0) };
    expect(() => filesSource([file, file])).toThrow(/two files are named config\.json/);
  });
});

describe('urlSource', () => {
  const base = 'https://huggingface.co/chandar-lab/NeoBERT/resolve/main/';

  /** A streamed response delivering `bytes` in `chunkCount` pieces. */
  function streamedResponse(bytes: Uint8Array, chunkCount: number, headers: Record<string, string> = {}): Response {
    const chunkSize = Math.ceil(bytes.byteLength / chunkCount);
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(offset, offset + chunkSize));
        offset += chunkSize;
      },
    });
    return new Response(body, { status: 200, headers });
  }

  /** A fetch serving the files of a fixture folder, 404 for anything else. */
  function fixtureFetch(fixture: string, requested: string[] = []): typeof fetch {
    return async (input) => {
      const url = String(input);
      requested.push(url);
      expect(url.startsWith(base)).toBe(true);
      let bytes: Uint8Array;
      try {
        bytes = readFixture(fixture, url.slice(base.length));
      } catch {
        return new Response('Entry not found', { status: 404, statusText: 'Not Found' });
      }
      return streamedResponse(bytes, 4, { 'content-length': String(bytes.byteLength) });
    };
  }

  it('streams a body into a preallocated buffer and reports progress', async () => {
    const bytes = new Uint8Array(1000).map((_, index) => index % 251);
    const source = urlSource(base.slice(0, -1), async () => streamedResponse(bytes, 4, { 'content-length': '1000' }));
    const progress: { file: string; loaded: number; total: number | null }[] = [];
    const read = await source.readBytes('model.safetensors', (p) => progress.push(p));
    expect(read).toEqual(bytes);
    expect(progress.map((p) => p.loaded)).toEqual([0, 250, 500, 750, 1000]);
    expect(progress.every((p) => p.file === 'model.safetensors' && p.total === 1000)).toBe(true);
  });

  it('joins chunks when the length is unknown', async () => {
    const bytes = new Uint8Array(10).fill(7);
    const progress: (number | null)[] = [];
    const source = urlSource(base, async () => streamedResponse(bytes, 3));
    expect(await source.readBytes('x', (p) => progress.push(p.total))).toEqual(bytes);
    expect(progress).toEqual([null, null, null, null]);
    // Compressed transfer: content-length counts other bytes than the body yields.
    const gzip = urlSource(base, async () => streamedResponse(bytes, 2, { 'content-length': '4', 'content-encoding': 'gzip' }));
    expect(await gzip.readBytes('x')).toEqual(bytes);
  });

  it('returns null on 404 and fails clearly on other HTTP errors', async () => {
    const status = (code: number, text: string) => urlSource(base, async () => new Response('', { status: code, statusText: text }));
    expect(await status(404, 'Not Found').readBytes('model.safetensors')).toBeNull();
    expect(await status(404, 'Not Found').readText('vocab.txt')).toBeNull();
    await expectCheckpointError(status(500, 'Internal Server Error').readBytes('model.safetensors'), /resolve\/main\/model\.safetensors: HTTP 500 Internal Server Error/);
    await expectCheckpointError(status(401, 'Unauthorized').readText('config.json'), /config\.json: HTTP 401 Unauthorized \(the repository may be gated or private\)/);
    const offline = urlSource(base, async () => {
      throw new TypeError('fetch failed');
    });
    await expectCheckpointError(offline.readText('config.json'), /main\/config\.json: request failed \(fetch failed\)/);
  });

  it('reports a connection lost mid-download', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(6));
        controller.error(new TypeError('terminated'));
      },
    });
    const source = urlSource(base, async () => new Response(body, { headers: { 'content-length': '20' } }));
    await expectCheckpointError(source.readBytes('model.safetensors'), /model\.safetensors: download failed after \d+ bytes \(terminated\)/);
  });

  it('detects a truncated download', async () => {
    const source = urlSource(base, async () => streamedResponse(new Uint8Array(10), 2, { 'content-length': '20' }));
    await expectCheckpointError(source.readBytes('model.safetensors'), /model\.safetensors: download truncated, received 10 of 20 bytes/);
  });

  it('loads a whole checkpoint over HTTP', async () => {
    const requested: string[] = [];
    const progress: { file: string; loaded: number; total: number | null }[] = [];
    const loaded = await loadCheckpoint<NeoBERTConfig, NeoBERTWeights>(urlSource(base, fixtureFetch('tiny-mlm-f32', requested)), { onProgress: (p) => progress.push(p) });
    expect(loaded.weights.head.kind).toBe('mlm');
    expect(loaded.label).toBe(base);
    expect(loaded.tokenizerFiles.vocabTxt?.startsWith('[PAD]\n')).toBe(true);
    expect(requested.map((url) => url.slice(base.length))).toEqual([
      'config.json', 'modules.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json',
    ]);
    const size = readFixture('tiny-mlm-f32', 'model.safetensors').byteLength;
    expect(progress.at(-1)).toEqual({ file: 'model.safetensors', loaded: size, total: size });
    expect(progress).toHaveLength(5);
  });
});
