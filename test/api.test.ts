// The library API as users call it (NeoBERT.load / embed / embedMatrix / fillMask / classify /
// dispose, and NeoBERTWorker over a MessageChannel), on one shared GPU device. Checks results
// against the fixtures' reference outputs where they exist, and against each other elsewhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadCheckpoint, memorySource, urlSource, type Progress } from '../src/checkpoint';
import { CheckpointError } from '../src/errors';
import { createGPU } from '../src/gpu';
import { pipelineStats } from '../src/kernels';
import { InputError } from '../src/errors';
import { DeviceLostError, ModelDisposedError, NeoBERT, type RunTimings } from '../src/encoder';
import { BUNDLED_MLM_MODEL_DIR } from '../src/node/index';
import { TokenLimitError } from '../src/tokenizer';
import { NeoBERTWorker, type WorkerEndpoint } from '../src/worker-client';
import { serveNeoBERT } from '../src/worker';
import type { SafetensorsFile } from '../src/safetensors';
import { FIXTURES_DIR, TOKENIZER_FIXTURES_DIR, readExpected } from './fixtures';
import { testGPU } from './gpu-context';

const TINY = path.join(FIXTURES_DIR, 'tiny-mlm-f32');
const SMALL_CLS = path.join(FIXTURES_DIR, 'small-cls-f32');

const TEXTS = [
  'The cat sat on the mat.',
  'GPUs accelerate neural network inference, and WebGPU brings compute shaders to the browser.',
  'Hi',
  'Stock markets fell sharply on Monday after the announcement.',
  'A dog is playing in the park with a red ball while children watch.',
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/** Rows of a fixture's input, each cut to its real tokens. */
function fixtureRows(expected: SafetensorsFile): number[][] {
  const [batch, seqLen] = expected.entry('input_ids').shape;
  const ids = expected.toInt32('input_ids');
  const mask = expected.toInt32('attention_mask');
  return Array.from({ length: batch }, (_, b) => {
    const n = mask.subarray(b * seqLen, (b + 1) * seqLen).reduce((s, x) => s + x, 0);
    return Array.from(ids.subarray(b * seqLen, b * seqLen + n));
  });
}

function softmax(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const e = Array.from(logits, (x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

let bundled: NeoBERT;
let tiny: NeoBERT;
let cls: NeoBERT;

beforeAll(async () => {
  const gpu = await testGPU();
  [bundled, tiny, cls] = await Promise.all([
    NeoBERT.load('bundled-mlm', { gpu }),
    NeoBERT.load(TINY, { gpu }),
    NeoBERT.load(SMALL_CLS, { gpu }),
  ]);
});

afterAll(async () => {
  await Promise.all([bundled?.dispose(), tiny?.dispose(), cls?.dispose()]);
});

describe('load', () => {
  it('takes "bundled-mlm", a folder path, and reports the checkpoint', () => {
    expect(bundled.info().label).toBe(BUNDLED_MLM_MODEL_DIR);
    expect(bundled.info()).toMatchObject({ head: 'mlm', tokenizer: 'tokenizer.json', labels: null });
    expect(tiny.info()).toMatchObject({ head: 'mlm', tokenizer: 'vocab.txt' });
    expect(cls.info()).toMatchObject({ head: 'classification', tokenizer: null, labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'] });
  });

  it('shares a GPUDevice given as `device` and leaves it alive on dispose', async () => {
    const { device } = await testGPU();
    const compiled = pipelineStats(device).created;
    const shared = await NeoBERT.load(TINY, { device });
    // The same checkpoint is already loaded on this device (beforeAll): its pipelines are reused.
    expect(pipelineStats(device).created).toBe(compiled);
    expect(shared.info().adapter.features).toEqual([...device.features].sort());
    const [a] = await shared.embed(['shared device']);
    const [b] = await tiny.embed(['shared device']);
    expect(maxAbsDiff(a, b)).toBe(0);
    await shared.dispose();
    expect((await tiny.embed(['the device is still alive']))[0]).toHaveLength(64);
  });

  it('compiles each pipeline once per device: a second model, and a reload after dispose, create none', async () => {
    const gpu = await createGPU(); // a fresh device: nothing compiled on it yet
    try {
      expect(pipelineStats(gpu.device)).toEqual({ created: 0, reused: 0 });
      const first = await NeoBERT.load(TINY, { gpu });
      const { created } = pipelineStats(gpu.device);
      expect(created).toBeGreaterThan(0);
      const second = await NeoBERT.load(TINY, { gpu });
      expect(pipelineStats(gpu.device).created).toBe(created);
      expect(pipelineStats(gpu.device).reused).toBeGreaterThanOrEqual(created);
      const [a] = await first.embed(['one pipeline per device']);
      await first.dispose(); // must not take pipelines from the model still using them
      const [b] = await second.embed(['one pipeline per device']);
      expect(maxAbsDiff(a, b)).toBe(0);
      await second.dispose();
      const reloaded = await NeoBERT.load(TINY, { gpu });
      const [c] = await reloaded.embed(['one pipeline per device']);
      expect(maxAbsDiff(a, c)).toBe(0);
      expect(pipelineStats(gpu.device).created).toBe(created);
      await reloaded.dispose();
    } finally {
      gpu.destroy();
    }
  });

  it('rejects unknown dtypes, devices and sources clearly', async () => {
    await expect(NeoBERT.load('bundled', { dtype: 'q8' as 'f32' })).rejects.toThrow(/dtype "q8" is not supported; use "f32" \(default\) or "f16"/);
    await expect(NeoBERT.load('bundled', { device: 'wasm' as 'webgpu' })).rejects.toThrow(/device "wasm" is not supported: this engine runs on WebGPU only/);
    await expect(NeoBERT.load('/no/such/checkpoint')).rejects.toThrow(CheckpointError);
    await expect(NeoBERT.load(42 as unknown as string)).rejects.toThrow(/unsupported model source/);
  });
});

describe('embed', () => {
  let singles: Float32Array[];
  beforeAll(async () => {
    singles = [];
    for (const text of TEXTS) singles.push((await bundled.embed([text]))[0]);
  });

  it('returns one vector per text in input order; batching and padding do not change a vector (1e-5)', async () => {
    const together = await bundled.embed(TEXTS);
    const inSmallBatches = await bundled.embed(TEXTS, { batchSize: 2 });
    expect(together).toHaveLength(TEXTS.length);
    TEXTS.forEach((_, i) => {
      expect(together[i]).toHaveLength(64);
      expect(maxAbsDiff(together[i], singles[i]), `text ${i} in one batch`).toBeLessThan(1e-5);
      expect(maxAbsDiff(inSmallBatches[i], singles[i]), `text ${i} in batches of 2`).toBeLessThan(1e-5);
    });
    // The vectors differ from each other, so a permutation could not pass the check above.
    expect(maxAbsDiff(singles[0], singles[1])).toBeGreaterThan(1e-3);
  });

  it('a packed batch (one long text among short ones, no padding) gives the same vectors too', async () => {
    const long = 'a long text about many things, '.repeat(8);
    const texts = [TEXTS[2], long, TEXTS[0], 'ok', TEXTS[3]];
    let timings: RunTimings | undefined;
    const packed = await bundled.embed(texts, { onTimings: (t) => (timings = t) });
    // Packed rows are the real tokens rounded up to the plan capacity (128), not 5 x the longest.
    expect(timings!.computedTokens).toBe(128);
    for (const [i, text] of texts.entries()) {
      const [alone] = await bundled.embed([text]);
      expect(maxAbsDiff(packed[i], alone), `text ${i}`).toBeLessThan(1e-5);
    }
  });

  it('embedMatrix is the same vectors as one [n, C] row-major matrix', async () => {
    const m = await bundled.embedMatrix(TEXTS, { pooling: 'mean', normalize: true });
    const rows = await bundled.embed(TEXTS, { pooling: 'mean', normalize: true });
    expect([m.rows, m.cols, m.data.length]).toEqual([TEXTS.length, 64, TEXTS.length * 64]);
    rows.forEach((row, i) => expect(maxAbsDiff(m.data.subarray(i * 64, (i + 1) * 64), row)).toBe(0));
  });

  it('normalize gives unit vectors in the direction of the raw ones; cls and mean pooling differ', async () => {
    for (const pooling of ['cls', 'mean'] as const) {
      const raw = await bundled.embed(TEXTS, { pooling });
      const unit = await bundled.embed(TEXTS, { pooling, normalize: true });
      unit.forEach((u, i) => {
        expect(Math.abs(norm(u) - 1)).toBeLessThan(1e-5);
        const n = norm(raw[i]);
        expect(maxAbsDiff(u, raw[i].map((x) => x / n))).toBeLessThan(1e-5);
      });
    }
    const [c] = await bundled.embed([TEXTS[1]], { pooling: 'cls' });
    const [m] = await bundled.embed([TEXTS[1]], { pooling: 'mean' });
    expect(maxAbsDiff(c, m)).toBeGreaterThan(1e-2);
  });

  it('token id inputs give the same vectors as the texts they encode', async () => {
    const ids = TEXTS.map((t) => bundled.tokenizer.encode(t));
    const fromIds = await bundled.embed(ids);
    fromIds.forEach((v, i) => expect(maxAbsDiff(v, singles[i])).toBeLessThan(1e-5));
    const typed = await bundled.embed([Int32Array.from(ids[0])]);
    expect(maxAbsDiff(typed[0], singles[0])).toBeLessThan(1e-5);
  });

  it('truncates texts over maxLength by default, and refuses them with truncation: false', async () => {
    const long = 'one two three four five six seven eight nine ten';
    const ids = bundled.tokenizer.encode(long);
    const cut = [...ids.slice(0, 7), bundled.tokenizer.sepId];
    const [truncated] = await bundled.embed([long], { maxLength: 8 });
    const [expected] = await bundled.embed([cut]);
    expect(maxAbsDiff(truncated, expected)).toBeLessThan(1e-5);
    const error = await bundled.embed(['short', long], { maxLength: 8, truncation: false }).catch((e) => e);
    expect(error).toBeInstanceOf(TokenLimitError);
    expect(error.message).toMatch(/text 1 has 12 tokens, over the limit of 8/);
    await expect(bundled.embed([long], { maxLength: 5000 })).rejects.toThrow(/maxLength 5000 is over the model limit of 4096/);
    await expect(bundled.embed([new Array(4097).fill(1000)])).rejects.toThrow(/input 0 has 4097 token ids, over the limit of 4096/);
  });

  it('rejects empty and malformed input with a clear error', async () => {
    await expect(bundled.embed([])).rejects.toThrow(InputError);
    await expect(bundled.embed([])).rejects.toThrow(/embed: expected a non-empty array of texts or token id arrays, got an empty array/);
    await expect(bundled.embed('text' as unknown as string[])).rejects.toThrow(/expected a non-empty array .* got string/);
    await expect(bundled.embed(['text', [101, 102]] as unknown as string[])).rejects.toThrow(/input 0 is a string; pass only texts, only text pairs, or only token id arrays/);
    await expect(bundled.embed([[101, 99999, 102]])).rejects.toThrow(/input 0 token 1 = 99999 is not a token id in \[0, 30522\)/);
    await expect(bundled.embed([[]])).rejects.toThrow(/input 0 has no token ids/);
    await expect(bundled.embed(TEXTS, { pooling: 'max' as 'cls' })).rejects.toThrow(/pooling must be "cls" or "mean", got "max"/);
    await expect(bundled.embed(TEXTS, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    await expect(cls.embed(['text'])).rejects.toThrow(/has no tokenizer files \(tokenizer\.json, vocab\.txt, vocab\.json \+ merges\.txt\): pass token ids instead of text/);
    // The empty string is a valid text: [CLS] [SEP].
    expect((await bundled.embed(['']))[0]).toHaveLength(64);
  });

  it('reports per-stage timings and batch progress', async () => {
    let timings: RunTimings | undefined;
    const batches: [number, number][] = [];
    await bundled.embed(TEXTS, { batchSize: 2, onTimings: (t) => (timings = t), onBatch: (done, total) => batches.push([done, total]) });
    const tokens = TEXTS.reduce((s, t) => s + bundled.tokenizer.encode(t).length, 0);
    expect(batches).toEqual([[2, 5], [4, 5], [5, 5]]);
    expect(timings).toMatchObject({ sequences: 5, tokens, batches: 3 });
    expect(timings!.computedTokens).toBeGreaterThanOrEqual(tokens);
    expect(timings!.gpuMs).toBeGreaterThan(0);
    expect(timings!.totalMs).toBeGreaterThanOrEqual(timings!.tokenizeMs + timings!.gpuMs + timings!.readbackMs - 1e-6);
    expect(timings!.tokensPerSecond).toBeCloseTo((tokens * 1000) / timings!.totalMs, 6);
  });

  it('concurrent calls (Promise.all) give the same results as sequential calls', async () => {
    const calls = [
      () => bundled.embed(TEXTS),
      () => bundled.embed(TEXTS.slice(1, 4), { pooling: 'mean', normalize: true, batchSize: 1 }),
      () => bundled.embed([TEXTS[4], TEXTS[2]], { pooling: 'mean' }),
      () => bundled.embedMatrix(TEXTS.slice().reverse(), { batchSize: 3 }).then((m) => [m.data]),
    ];
    const sequential: Float32Array[][] = [];
    for (const call of calls) sequential.push(await call());
    const concurrent = await Promise.all(calls.map((call) => call()));
    concurrent.forEach((vectors, c) => vectors.forEach((v, i) => expect(maxAbsDiff(v, sequential[c][i]), `call ${c} vector ${i}`).toBe(0)));
  });
});

describe('fillMask', () => {
  it('top-1 at each position of a fixture row is the argmax of the reference logits, with its softmax probability', async () => {
    const expected = await readExpected('tiny-mlm-f32');
    const [, seqLen, V] = expected.entry('logits').shape;
    const logits = expected.toFloat32('logits');
    const rows = fixtureRows(expected);
    for (const [b, row] of rows.entries()) {
      const positions = [0, 1, Math.floor(row.length / 2), row.length - 1];
      const predictions = await tiny.fillMask(row, { positions, topK: 3 });
      expect(predictions).toHaveLength(positions.length);
      positions.forEach((p, k) => {
        const ref = logits.subarray((b * seqLen + p) * V, (b * seqLen + p + 1) * V);
        const probs = softmax(ref);
        const argmax = probs.indexOf(Math.max(...probs));
        expect(predictions[k][0].id, `row ${b} position ${p}`).toBe(argmax);
        expect(Math.abs(predictions[k][0].score - probs[argmax])).toBeLessThan(1e-4);
        expect(predictions[k][0].token).toBe(tiny.tokenizer.idToToken(argmax));
      });
    }
  });

  it('on the bundled model: top-k per [MASK], best first, agreeing with the raw logits', async () => {
    const text = 'the cat sat on the [MASK] and looked at the [MASK].';
    const predictions = await bundled.fillMask(text, { topK: 4 });
    expect(predictions).toHaveLength(2);
    const ids = bundled.tokenizer.encode(text);
    const { logits } = await bundled.forward({ inputIds: ids, attentionMask: ids.map(() => 1), batch: 1, seqLen: ids.length, outputs: ['logits'] });
    const maskPositions = ids.flatMap((id, i) => (id === bundled.tokenizer.maskId ? [i] : []));
    predictions.forEach((list, k) => {
      expect(list).toHaveLength(4);
      for (let i = 1; i < list.length; i++) expect(list[i].score).toBeLessThanOrEqual(list[i - 1].score);
      const V = bundled.config.vocabSize;
      const row = logits!.subarray(maskPositions[k] * V, (maskPositions[k] + 1) * V);
      expect(list[0].id).toBe(softmax(row).reduce((best, p, i, all) => (p > all[best] ? i : best), 0));
      expect(list[0].sequence).toContain(list[0].token.replace(/^##/, ''));
      expect(list[0].sequence).toContain('[MASK]'); // the other mask stays
      expect(list.reduce((s, p) => s + p.score, 0)).toBeLessThanOrEqual(1 + 1e-6);
    });
  });

  it('errors: no [MASK], no MLM head, bad topK or position', async () => {
    await expect(bundled.fillMask('no mask here')).rejects.toThrow(/fillMask: the input has no \[MASK\] token/);
    await expect(cls.fillMask([101, 103, 102])).rejects.toThrow(/fillMask needs an MLM head; .* has a classification head/);
    await expect(bundled.fillMask('a [MASK]', { topK: 0 })).rejects.toThrow(/topK must be a positive integer/);
    await expect(bundled.fillMask('a [MASK]', { positions: [9] })).rejects.toThrow(/position 9 is outside the 4 tokens/);
  });
});

describe('classify', () => {
  it('label probabilities match the softmax of the reference logits (small-cls-f32, token ids)', async () => {
    const expected = await readExpected('small-cls-f32');
    const refLogits = expected.toFloat32('logits');
    const results = await cls.classify(fixtureRows(expected));
    expect(results).toHaveLength(2);
    results.forEach((scores, b) => {
      const ref = Array.from(refLogits.subarray(b * 3, b * 3 + 3));
      const probs = softmax(ref);
      expect(scores.map((s) => s.id)).toEqual([0, 1, 2].sort((x, y) => probs[y] - probs[x]));
      for (const s of scores) {
        expect(s.label).toBe(`LABEL_${s.id}`);
        expect(Math.abs(s.score - probs[s.id])).toBeLessThan(1e-4);
        expect(Math.abs(s.logit - ref[s.id])).toBeLessThan(1e-3);
      }
    });
    const top1 = await cls.classify(fixtureRows(expected), { topK: 1 });
    expect(top1.map((r) => r.length)).toEqual([1, 1]);
  });

  it('names labels from config id2label and tokenizes text with a tokenizer given at load', async () => {
    const files = Object.fromEntries(
      await Promise.all(['config.json', 'model.safetensors'].map(async (f) => [f, new Uint8Array(await readFile(path.join(SMALL_CLS, f)))] as const)),
    );
    const config = JSON.parse(new TextDecoder().decode(files['config.json']));
    files['config.json'] = new TextEncoder().encode(JSON.stringify({ ...config, id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' } }));
    const vocabTxt = await readFile(path.join(TOKENIZER_FIXTURES_DIR, 'vocab.txt'), 'utf8');
    const named = await NeoBERT.load(memorySource(files, 'small-cls-named'), { gpu: await testGPU(), tokenizer: { vocabTxt } });
    try {
      expect(named.info()).toMatchObject({ labels: ['negative', 'neutral', 'positive'], tokenizer: 'given' });
      const [fromText] = await named.classify(['a b c']); // ids 1037..1039: inside this model's 2048-word vocabulary
      const [fromIds] = await named.classify([[101, 1037, 1038, 1039, 102]]);
      expect(fromText.map((s) => s.label).sort()).toEqual(['negative', 'neutral', 'positive']);
      fromText.forEach((s, i) => expect(Math.abs(s.score - fromIds[i].score)).toBeLessThan(1e-6));
      await expect(named.classify(['a cat'])).rejects.toThrow(/classify: text 0 has the token "cat" \(id 4937\), outside this model's vocabulary of 2048/);
    } finally {
      await named.dispose();
    }
  });

  it('needs a classification head', async () => {
    await expect(bundled.classify(['text'])).rejects.toThrow(/classify needs a sequence classification head .* has an MLM head/);
  });
});

describe('lifecycle', () => {
  it('dispose waits for the call in flight, frees the model, and later calls throw ModelDisposedError', async () => {
    const model = await NeoBERT.load(TINY, { gpu: await testGPU() });
    const inFlight = model.embed(['still runs']);
    const disposed = model.dispose();
    expect((await inFlight)[0]).toHaveLength(64);
    await disposed;
    expect(model.isDisposed).toBe(true);
    const error = await model.embed(['x']).catch((e) => e);
    expect(error).toBeInstanceOf(ModelDisposedError);
    expect(error.message).toBe('this model was disposed; load it again');
    await expect(model.fillMask('a [MASK]')).rejects.toThrow(ModelDisposedError);
    await model.dispose(); // twice is harmless
  });

  it('a lost device is reported on the next call, and a new load works afterwards', async () => {
    const gpu = await createGPU();
    const model = await NeoBERT.load(TINY, { gpu });
    const [before] = await model.embed(['device lost test']);
    gpu.device.destroy();
    await gpu.lost;
    const error = await model.embed(['device lost test']).catch((e) => e);
    expect(error).toBeInstanceOf(DeviceLostError);
    expect(error.message).toMatch(/the GPU device was lost \(destroyed.*\); load the model again/);
    await model.dispose();
    const again = await NeoBERT.load(TINY); // its own new device
    try {
      const [after] = await again.embed(['device lost test']);
      expect(maxAbsDiff(after, before)).toBeLessThan(1e-5);
    } finally {
      await again.dispose();
    }
  });
});

describe('download cache (Cache Storage, keyed by URL)', () => {
  it('a second load reads every file from the cache, not the network', async () => {
    const store = new Map<string, Response>();
    // Like the real Cache Storage, entries match without the URL's fragment.
    const key = (url: string) => url.split('#')[0];
    const fakeCache = {
      match: async (url: string) => store.get(key(url))?.clone(),
      put: async (url: string, response: Response) => void store.set(key(url), new Response(await response.arrayBuffer(), { headers: response.headers })),
      delete: async (url: string) => store.delete(key(url)),
    };
    const g = globalThis as { caches?: unknown };
    const saved = g.caches;
    g.caches = { open: async () => fakeCache, delete: async () => true };
    const requested: string[] = [];
    const fetchFixture = async (url: string | URL | Request) => {
      const name = String(url).split('/').pop()!;
      requested.push(name);
      try {
        return new Response(new Uint8Array(await readFile(path.join(TINY, name))));
      } catch {
        return new Response('not found', { status: 404 });
      }
    };
    try {
      const base = 'https://example.test/tiny/';
      const first = await loadCheckpoint(urlSource(base, { fetch: fetchFixture as typeof fetch }));
      expect(requested.filter((n) => n === 'model.safetensors')).toHaveLength(1);
      requested.length = 0;
      const progress: Progress[] = [];
      const second = await loadCheckpoint(urlSource(base, { fetch: fetchFixture as typeof fetch }), { onProgress: (p) => progress.push(p) });
      expect(requested).not.toContain('model.safetensors');
      expect(requested).not.toContain('config.json');
      expect(progress.filter((p) => p.file === 'model.safetensors').every((p) => p.cached)).toBe(true);
      expect(second.parameterCount).toBe(first.parameterCount);
      // cache: false always downloads.
      requested.length = 0;
      await loadCheckpoint(urlSource(base, { fetch: fetchFixture as typeof fetch, cache: false }));
      expect(requested).toContain('model.safetensors');
    } finally {
      g.caches = saved;
    }
  });
});

describe('NeoBERTWorker (worker protocol over a MessageChannel)', () => {
  let channel: MessageChannel;
  let remote: NeoBERTWorker;
  beforeAll(async () => {
    channel = new MessageChannel();
    serveNeoBERT(channel.port1 as unknown as WorkerEndpoint, { gpu: await testGPU() });
    const progress: Progress[] = [];
    remote = await NeoBERTWorker.load('bundled-mlm', { worker: channel.port2 as unknown as WorkerEndpoint, onProgress: (p) => progress.push(p) });
    expect(progress.some((p) => p.file === 'model.safetensors' && p.loaded === p.total)).toBe(true);
  });
  afterAll(() => {
    channel?.port1.close();
    channel?.port2.close();
  });

  it('has the same methods and results as NeoBERT, with timings and batch progress', async () => {
    expect(remote.info()).toMatchObject({ head: 'mlm', label: BUNDLED_MLM_MODEL_DIR });
    let timings: RunTimings | undefined;
    const batches: number[] = [];
    const [viaWorker, direct] = await Promise.all([
      remote.embed(TEXTS, { pooling: 'mean', normalize: true, batchSize: 2, onTimings: (t) => (timings = t), onBatch: (d) => batches.push(d) }),
      bundled.embed(TEXTS, { pooling: 'mean', normalize: true }),
    ]);
    viaWorker.forEach((v, i) => expect(maxAbsDiff(v, direct[i])).toBeLessThan(1e-5));
    expect(timings?.sequences).toBe(5);
    expect(batches).toEqual([2, 4, 5]);
    const [fill] = await remote.fillMask('the cat sat on the [MASK].', { topK: 2 });
    const [fillDirect] = await bundled.fillMask('the cat sat on the [MASK].', { topK: 2 });
    expect(fill.map((p) => p.id)).toEqual(fillDirect.map((p) => p.id));
  });

  it('queues concurrent calls like NeoBERT does', async () => {
    const sequential: Float32Array[] = [];
    for (const t of TEXTS) sequential.push((await remote.embed([t, TEXTS[0]]))[0]);
    const concurrent = await Promise.all(TEXTS.map(async (t) => (await remote.embed([t, TEXTS[0]]))[0]));
    concurrent.forEach((v, i) => expect(maxAbsDiff(v, sequential[i])).toBe(0));
  });

  it('rebuilds errors as the same classes, and refuses calls after dispose', async () => {
    const empty = await remote.embed([]).catch((e) => e);
    expect(empty).toBeInstanceOf(InputError);
    expect(empty.message).toMatch(/expected a non-empty array/);
    const limit = await remote.embed(['one two three four'], { maxLength: 4, truncation: false }).catch((e) => e);
    expect(limit).toBeInstanceOf(TokenLimitError);
    expect(limit.message).toMatch(/text 0 has 6 tokens, over the limit of 4/);
    await remote.dispose();
    await expect(remote.embed(['x'])).rejects.toThrow(ModelDisposedError);
  });
});
