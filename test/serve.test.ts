// `neobert serve` end to end: dist/cli.js serve runs as a child process on 127.0.0.1 (port 0, the
// port read from its log line), ended by its pid. Clients no one here wrote (the official
// `openai` package, `@huggingface/inference`) get the embeddings `neobert embed` writes for the
// same texts, on a fixture and on the bundled model; a rerank through HTTP equals `neobert rank`.
// Then a bounded load of mixed good and bad requests (64 clients), typed 4xx for every bad body,
// a client that disconnects, a lost GPU device (503, then reloaded), and SIGTERM (finishes what
// it accepted, exits 0). No assertion is about time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { featureExtraction } from '@huggingface/inference';
import { ENCODER_FIXTURES_DIR } from './fixtures';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'cli.js');

interface Served {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  log: () => string;
}

/** Starts `neobert serve` on a free port of 127.0.0.1 and waits for its "serving ... on URL" line. */
function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const m = /neobert: serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve({ url: m[1], child, exited, log: () => stderr });
    });
    child.stdout!.resume();
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening:\n${stderr}`)));
  });
}

function runCli(args: string[], stdin: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, input: stdin, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

function relL2(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  let d = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    expect(Number.isFinite(got[i])).toBe(true);
    d += (got[i] - ref[i]) ** 2;
    n += ref[i] ** 2;
  }
  return Math.sqrt(d / Math.max(n, 1e-30));
}

function expectRows(got: ArrayLike<number>[], ref: number[][], label: string): void {
  expect(got.length, label).toBe(ref.length);
  got.forEach((row, i) => expect(relL2(row, ref[i]), `${label} row ${i}`).toBeLessThan(1e-5));
}

/** `neobert embed --normalize` on the texts: the reference rows. */
function referenceEmbeddings(model: string[], texts: string[]): number[][] {
  const r = runCli(['embed', ...model, '--normalize'], texts.join('\n') + '\n');
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l).embedding);
}

const TEXTS = [
  'the quick brown fox jumps over the lazy dog',
  'hello world',
  'a',
  'Paris is the capital and most populous city of France.',
  'WebGPU brings compute shaders to every browser and to Node through Dawn',
  'sentence embeddings map text to vectors whose dot product measures similarity',
  'short',
  'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen',
];

let tmp: string;
let embedDir: string;
let rankDir: string;

beforeAll(async () => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
  tmp = await mkdtemp(path.join(os.tmpdir(), 'neobert-serve-'));
  // A sentence-transformers MiniLM-shaped fixture (mean pooling + Normalize) with the real MiniLM tokenizer files.
  embedDir = path.join(tmp, 'minilm');
  await cp(path.join(ENCODER_FIXTURES_DIR, 'bert', 'bert-minilm-vocab-f16'), embedDir, { recursive: true, filter: (f) => !f.endsWith('expected.safetensors') });
  for (const f of ['tokenizer.json', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json']) await cp(path.join(ENCODER_FIXTURES_DIR, 'tokenizers', 'minilm', f), path.join(embedDir, f));
  // A one-label cross-encoder with the first 1024 bert-base-uncased vocabulary entries (its vocab size).
  rankDir = path.join(tmp, 'cross-encoder');
  await cp(path.join(ENCODER_FIXTURES_DIR, 'bert', 'bert-cross-encoder-f32'), rankDir, { recursive: true, filter: (f) => !f.endsWith('expected.safetensors') });
  const vocab = (await readFile(path.join(ENCODER_FIXTURES_DIR, 'tokenizers', 'minilm', 'vocab.txt'), 'utf8')).split('\n').slice(0, 1024).join('\n');
  await writeFile(path.join(rankDir, 'vocab.txt'), vocab + '\n');
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('real clients get the embeddings of `neobert embed`', () => {
  it.each([
    ['the MiniLM fixture', () => ['--model', embedDir]],
    ['the bundled model', () => []],
  ])('openai embeddings.create and @huggingface/inference featureExtraction on %s', async (_name, modelArgs) => {
    const ref = referenceEmbeddings(modelArgs(), TEXTS);
    const server = await serve(modelArgs());
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const response = await client.embeddings.create({ model: 'served', input: TEXTS }); // the client asks for base64 and decodes it
      expect(response.object).toBe('list');
      expect(response.data.map((d) => d.index)).toEqual(TEXTS.map((_, i) => i));
      expect(response.usage.prompt_tokens).toBeGreaterThan(TEXTS.length * 2);
      expectRows(response.data.map((d) => d.embedding), ref, 'openai');
      const floats = await client.embeddings.create({ model: 'served', input: TEXTS[0], encoding_format: 'float' });
      expectRows([floats.data[0].embedding], [ref[0]], 'openai float');
      const hf = (await featureExtraction({ endpointUrl: `${server.url}/embed`, inputs: TEXTS })) as number[][];
      expectRows(hf, ref, '@huggingface/inference');
      // Matryoshka: the first d values, normalised again.
      const d = Math.min(8, ref[0].length);
      const cut = await post(`${server.url}/embed`, { inputs: TEXTS[3], dimensions: d });
      const head = ref[3].slice(0, d);
      const norm = Math.hypot(...head);
      expectRows(cut.json, [head.map((x) => x / norm)], 'dimensions');
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});

describe('a cross-encoder behind --api-key', () => {
  it('POST /rerank equals `neobert rank`; 401 without the key; 424 for a route the model cannot serve', async () => {
    const query = 'what is the capital of france';
    const documents = ['paris is the capital', 'the cat sat on the mat', 'france is a country in europe', 'a b c'];
    const cli = runCli(['rank', '--model', rankDir, '--query', query], documents.join('\n') + '\n');
    expect(cli.code, cli.stderr).toBe(0);
    const ranked = cli.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const server = await serve(['--model', rankDir, '--api-key', 'sekret', '--cors-allow-origin', 'http://app.test']);
    try {
      const auth = { authorization: 'Bearer sekret' };
      expect((await post(`${server.url}/rerank`, { query, texts: documents })).status).toBe(401);
      expect((await fetch(`${server.url}/health`)).status).toBe(200); // health checks need no key
      const http = await post(`${server.url}/rerank`, { query, texts: documents, return_text: true }, auth);
      expect(http.status).toBe(200);
      expect(http.json.map((r: { index: number }) => r.index)).toEqual(ranked.map((r) => r.index));
      http.json.forEach((r: { index: number; score: number; text: string }, i: number) => {
        expect(Math.abs(r.score - ranked[i].score)).toBeLessThan(1e-6 + 1e-5 * ranked[i].score);
        expect(r.text).toBe(documents[r.index]);
      });
      const raw = await post(`${server.url}/rerank`, { query, texts: documents, raw_scores: true }, auth);
      raw.json.forEach((r: { index: number; score: number }, i: number) => expect(Math.abs(r.score - ranked[i].logit)).toBeLessThan(1e-5 * (1 + Math.abs(ranked[i].logit))));
      const predict = await post(`${server.url}/predict`, { inputs: [query, documents[0]] }, auth);
      expect(predict.status).toBe(200);
      expect(predict.json).toEqual([{ score: expect.any(Number), label: 'LABEL_0' }]);
      expect(Math.abs(predict.json[0].score - ranked.find((r) => r.index === 0).score)).toBeLessThan(1e-5);
      const embed = await post(`${server.url}/embed`, { inputs: 'x' }, auth);
      expect(embed.status).toBe(424);
      expect(embed.json).toEqual({ error: 'model is not an embedding model', error_type: 'backend' });
      // Pairs over the 128-token limit: cut on the right (default) or the left, longest text first.
      const chars = 'abcdefghijklmnopqrstuvwxyz0123456789'; // single characters: in the fixture's 1024-entry vocabulary
      const long = Array.from({ length: 200 }, (_, i) => chars[(i * i + 3 * i) % 36]).join(' ');
      expect((await post(`${server.url}/predict`, { inputs: [query, long] }, auth)).status).toBe(422);
      const right = await post(`${server.url}/predict`, { inputs: [[query, long]], truncate: true, raw_scores: true }, auth);
      const leftCut = await post(`${server.url}/predict`, { inputs: [[query, long]], truncate: true, truncation_direction: 'Left', raw_scores: true }, auth);
      expect([right.status, leftCut.status]).toEqual([200, 200]);
      expect(leftCut.json[0][0].score).not.toBe(right.json[0][0].score);
      // CORS: the allowed origin gets its headers and a preflight answer; another origin gets none.
      const preflight = await fetch(`${server.url}/rerank`, { method: 'OPTIONS', headers: { origin: 'http://app.test', 'access-control-request-method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://app.test');
      const other = await fetch(`${server.url}/health`, { headers: { origin: 'http://elsewhere.test' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const info = await (await fetch(`${server.url}/info`, { headers: auth })).json();
      expect(info.model_type).toEqual({ reranker: { id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } } });
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});

describe('robustness on the MiniLM fixture', () => {
  let server: Served;
  let ref: number[][];
  const LONG = Array.from({ length: 300 }, (_, i) => `word${i % 50}`).join(' '); // over the 256-token limit
  beforeAll(async () => {
    ref = referenceEmbeddings(['--model', embedDir], TEXTS);
    server = await serve(['--model', embedDir, '--max-batch-tokens', '2048'], { NEOBERT_SERVE_TEST_HOOKS: '1' });
  });
  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });

  it('bad bodies get typed 4xx answers naming what is wrong, and the server keeps serving', async () => {
    const url = `${server.url}/embed`;
    const cases: [unknown, number, string, RegExp][] = [
      ['{"inputs": ', 400, 'validation', /not valid JSON/],
      [{ inputs: 42 }, 422, 'validation', /`inputs` must be a string/],
      [{ inputs: 'a', normalize: 'no' }, 422, 'validation', /`normalize` must be true or false/],
      [{ inputs: [] }, 400, 'empty', /cannot be empty/],
      [{ inputs: Array(33).fill('a') }, 413, 'validation', /batch size 33 > maximum allowed batch size 32/],
      [{ inputs: LONG }, 422, 'validation', /must have less than 256 tokens/],
      [{ inputs: [[1, 2, 999999]] }, 422, 'validation', /not a token id of this model's vocabulary of 30522/],
      [{ inputs: 'a', prompt_name: 'query' }, 422, 'validation', /not a prompt of this model/],
      [{ inputs: 'a', dimensions: 100000 }, 422, 'validation', /`dimensions` must be at most/],
    ];
    for (const [body, status, type, message] of cases) {
      const r = await post(url, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(r.json.error_type).toBe(type);
      expect(r.json.error).toMatch(message);
    }
    const huge = await post(url, JSON.stringify({ inputs: 'x'.repeat(10 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.json.error).toMatch(/payload limit/);
    const manyTokens = Array.from({ length: 100_000 }, (_, i) => `w${i % 97}`).join(' ');
    const tooLong = await post(url, { inputs: manyTokens });
    expect(tooLong.status).toBe(422);
    const cut = await post(url, { inputs: manyTokens, truncate: true });
    expect(cut.status).toBe(200);
    const left = await post(url, { inputs: LONG, truncate: true, truncation_direction: 'Left' });
    expect(left.status).toBe(200);
    expect(relL2(left.json[0], cut.json[0])).toBeGreaterThan(1e-3); // another end of the text
    expect((await post(`${server.url}/nowhere`, {})).status).toBe(404);
    expect((await post(`${server.url}/rerank`, { query: 'q', texts: ['a'] })).status).toBe(424);
    const openaiError = await post(`${server.url}/v1/embeddings`, { input: 7 });
    expect(openaiError.status).toBe(422);
    expect(openaiError.json).toMatchObject({ code: 422, type: 'validation' });
    const ok = await post(url, { inputs: TEXTS });
    expect(ok.status).toBe(200);
    expectRows(ok.json, ref, 'after bad requests');
    const tokens = await post(`${server.url}/tokenize`, { inputs: 'hello world' });
    expect(tokens.json[0].map((t: { text: string; special: boolean }) => [t.text, t.special])).toEqual([
      ['[CLS]', true],
      ['hello', false],
      ['world', false],
      ['[SEP]', true],
    ]);
  });

  it('bounded load: 64 clients, 384 requests, a quarter of them bad: every good one right, every bad one a 4xx, no 5xx', async () => {
    const bad: [unknown, number][] = [
      ['not json', 400],
      [{ inputs: null }, 422],
      [{ inputs: [] }, 400],
      [{ inputs: LONG }, 422],
      [{ inputs: Array(40).fill('a') }, 413],
    ];
    const warm = await post(`${server.url}/embed`, { inputs: TEXTS });
    expect(warm.status).toBe(200);
    const rssBefore = await metric(server.url, 'process_resident_memory_bytes');
    const total = 384;
    let next = 0;
    const statuses: number[] = [];
    const wrong: string[] = [];
    const client = async () => {
      for (let i = next++; i < total; i = next++) {
        if (i % 4 === 3) {
          const [body, status] = bad[i % bad.length];
          const r = await post(`${server.url}/embed`, body);
          statuses.push(r.status);
          if (r.status !== status || typeof r.json?.error_type !== 'string') wrong.push(`request ${i}: ${r.status} ${JSON.stringify(r.json).slice(0, 100)}`);
        } else {
          const picks = [i % TEXTS.length, (i * 7 + 3) % TEXTS.length, (i * 5 + 1) % TEXTS.length].slice(0, 1 + (i % 3));
          const r = await post(`${server.url}/embed`, { inputs: picks.map((k) => TEXTS[k]) });
          statuses.push(r.status);
          if (r.status !== 200) wrong.push(`request ${i}: ${r.status} ${JSON.stringify(r.json).slice(0, 100)}`);
          else picks.forEach((k, j) => relL2(r.json[j], ref[k]) >= 1e-5 && wrong.push(`request ${i} row ${j}: not the embedding of text ${k}`));
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, client));
    expect(wrong).toEqual([]);
    expect(statuses).toHaveLength(total);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(server.child.exitCode).toBeNull();
    const rssAfter = await metric(server.url, 'process_resident_memory_bytes');
    // Stated bound: the load adds under 256 MiB of RSS (the plans of a few more capacities), and the process stays under 2 GiB.
    expect(rssAfter - rssBefore).toBeLessThan(256 * 2 ** 20);
    expect(rssAfter).toBeLessThan(2 * 2 ** 30);
    expect(await metric(server.url, 'te_batch_next_requests_count')).toBeGreaterThan(0);
    console.log(`load: RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB; mean requests per forward ${((await metric(server.url, 'te_batch_next_requests_sum')) / (await metric(server.url, 'te_batch_next_requests_count'))).toFixed(2)}`);
  });

  it('a client that disconnects mid-request costs only its own rows', async () => {
    const before = await metric(server.url, 'te_request_count{route="/embed"}');
    const abort = new AbortController();
    const big = fetch(`${server.url}/embed`, { method: 'POST', body: JSON.stringify({ inputs: Array(32).fill(LONG), truncate: true }), signal: abort.signal }).catch((e) => e);
    while ((await metric(server.url, 'te_request_count{route="/embed"}')) === before) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    expect(await big).toBeInstanceOf(Error);
    const others = await Promise.all(TEXTS.map((t) => post(`${server.url}/embed`, { inputs: t })));
    others.forEach((r, i) => {
      expect(r.status).toBe(200);
      expectRows(r.json, [ref[i]], `text ${i} beside a cancelled request`);
    });
  });

  it('a lost GPU device answers 503 and reloads the model', async () => {
    const lost = await post(`${server.url}/__test/lose-device`, {});
    expect(lost.json).toEqual({ lost: true, healthy: false });
    const during = await post(`${server.url}/embed`, { inputs: TEXTS });
    expect(during.status).toBe(503);
    expect(during.json.error_type).toBe('unhealthy');
    expect((await fetch(`${server.url}/health`)).status).toBe(503);
    await post(`${server.url}/__test/release-reload`, {});
    let polls = 0;
    while ((await fetch(`${server.url}/health`)).status !== 200 && polls++ < 1200) await new Promise((r) => setTimeout(r, 100));
    const after = await post(`${server.url}/embed`, { inputs: TEXTS });
    expect(after.status).toBe(200);
    expectRows(after.json, ref, 'after the reload');
    expect(await metric(server.url, 'te_model_reloads')).toBe(1);
  });

  it('SIGTERM: stops accepting, answers every request it accepted, exits 0', async () => {
    const before = await metric(server.url, 'te_request_count{route="/embed"}');
    const pending = TEXTS.map((t) => post(`${server.url}/embed`, { inputs: [t, t] }));
    while ((await metric(server.url, 'te_request_count{route="/embed"}')) < before + TEXTS.length) await new Promise((r) => setTimeout(r, 5));
    server.child.kill('SIGTERM');
    const answers = await Promise.all(pending);
    answers.forEach((r, i) => {
      expect(r.status).toBe(200);
      expectRows(r.json, [ref[i], ref[i]], `text ${i} accepted before SIGTERM`);
    });
    expect(await server.exited).toBe(0);
    expect(server.log()).toMatch(/SIGTERM: no new connections/);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });
});
