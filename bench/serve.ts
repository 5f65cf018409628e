// `neobert serve` under load: tokens/s and p50 / p99 latency with dynamic batching vs the same
// load served one request at a time (--max-batch-requests 1: every forward is one request's
// text), at 1, 8 and 64 concurrent clients. At 1 client both servers do the same work (nothing
// to merge), so that point's ratio is the control: how far apart identical runs land here. Both servers run side by side (child processes of
// dist/cli.js on 127.0.0.1) and the rounds alternate between them, so background load hits both
// alike; quote the ratio of one run, with the adapter.
//   node scripts/build.mjs --run bench/serve.ts [--arch bert-minilm | --model DIR] [--requests 128] [--rounds 6] [--clients 1,8,64]
// Default: random weights of all-MiniLM-L6-v2's dimensions (BERT 6 x 384, bench/run/random-checkpoint.ts)
// with the real MiniLM tokenizer files from ../shared/fixtures/tokenizers/minilm; --model bundled
// for weights/neobert-mini.
// Each request is POST /v1/embeddings of one text (8 to 64 words, fixed seed), base64; tokens are
// the server's usage.prompt_tokens. Writes bench/results/<adapter>-serve-<model>-<date>.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureRandomCheckpoint } from './run/random-checkpoint';

const ROOT = process.cwd(); // run from the repository root (the bundle runs from node_modules/.run-*)
const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback);
let model = arg('model', '');
let modelName = model === '' ? arg('arch', 'bert-minilm') : path.basename(path.resolve(model));
if (model === 'bundled') {
  model = '';
  modelName = 'neobert-mini';
}
else if (model === '') {
  const arch = arg('arch', 'bert-minilm');
  model = ensureRandomCheckpoint(ROOT, arch, (line) => console.log(line));
  const tokenizerDir = path.resolve(ROOT, process.env.NEOBERT_SHARED_DIR ?? '../shared', 'fixtures', 'tokenizers', arch === 'bert-minilm' ? 'minilm' : 'modernbert-base');
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(path.join(tokenizerDir, f), path.join(model, f));
}
const requestsPerPoint = Number(arg('requests', '128')); // per server and round
const rounds = Number(arg('rounds', '6'));
const clientCounts = arg('clients', '1,8,64').split(',').map(Number);

// Texts: words from a small vocabulary, 8-64 words, from a fixed-seed generator.
const WORDS = 'the a of to and in is for on that with as by it at from this be are was an or which model text vector search query document token batch graph server device memory'.split(' ');
let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const TEXTS = Array.from({ length: 256 }, () => Array.from({ length: 8 + Math.floor(random() * 57) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' '));

interface Server {
  name: string;
  url: string;
  child: ChildProcess;
}

function start(name: string, extra: string[]): Promise<Server> {
  return new Promise((resolve, reject) => {
    const args = [path.join(ROOT, 'dist', 'cli.js'), 'serve', '--host', '127.0.0.1', '--port', '0', ...(model ? ['--model', model] : []), ...extra];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      const m = /serving .* on (http:\/\/[\d.:]+)/.exec(log);
      if (m) resolve({ name, url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`${name} server exited (${code}):\n${log}`)));
  });
}

interface Sample {
  ms: number;
  tokens: number;
}

/** `total` requests over `clients` concurrent loops; latency per request, tokens from usage. */
async function load(server: Server, clients: number, total: number, offset: number): Promise<{ samples: Sample[]; wallMs: number }> {
  let next = 0;
  const samples: Sample[] = [];
  const started = performance.now();
  const client = async () => {
    for (let i = next++; i < total; i = next++) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: TEXTS[(offset + i) % TEXTS.length], encoding_format: 'base64' }),
      });
      const body = (await res.json()) as { usage?: { prompt_tokens: number } };
      if (res.status !== 200 || !body.usage) throw new Error(`${server.name}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      samples.push({ ms: performance.now() - t0, tokens: body.usage.prompt_tokens });
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { samples, wallMs: performance.now() - started };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const servers = [await start('batched', []), await start('one-at-a-time', ['--max-batch-requests', '1'])];
try {
  const info = (await (await fetch(`${servers[0].url}/info`)).json()) as Record<string, unknown>;
  console.log(`adapter: ${info.adapter}; model ${info.model_id} (${info.architecture}); ${TEXTS.length} texts of 8-64 words`);
  for (const s of servers) await load(s, 8, 64, 0); // warm-up: plans of the capacities this load uses
  const points: Record<string, unknown>[] = [];
  const forwards = async () => {
    const text = await (await fetch(`${servers[0].url}/metrics`)).text();
    const read = (name: string) => Number(text.split('\n').find((l) => l.startsWith(name + ' '))?.split(' ')[1] ?? NaN);
    return { requests: read('te_batch_next_requests_sum'), forwards: read('te_batch_next_requests_count'), tokens: read('te_batch_next_tokens_sum') };
  };
  for (const clients of clientCounts) {
    const before = await forwards();
    const acc = new Map<string, { samples: Sample[]; wallMs: number }>();
    const roundRatios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // ABBA order: a drift in background load favours neither.
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      const perRound: Record<string, number> = {};
      for (const s of order) {
        const r = await load(s, clients, requestsPerPoint, round * requestsPerPoint);
        const a = acc.get(s.name) ?? { samples: [], wallMs: 0 };
        a.samples.push(...r.samples);
        a.wallMs += r.wallMs;
        acc.set(s.name, a);
        perRound[s.name] = r.samples.reduce((t, x) => t + x.tokens, 0) / r.wallMs;
      }
      roundRatios.push(perRound.batched / perRound['one-at-a-time']);
    }
    const after = await forwards();
    const n = after.forwards - before.forwards;
    const merged = { forwards: n, meanRequestsPerForward: (after.requests - before.requests) / n, meanTokensPerForward: (after.tokens - before.tokens) / n };
    const point: Record<string, unknown> = { clients, requests: requestsPerPoint * rounds, batchedForwards: merged, roundRatios, medianRoundRatio: [...roundRatios].sort((a, b) => a - b)[Math.floor((roundRatios.length - 1) / 2)] };
    for (const s of servers) {
      const { samples, wallMs } = acc.get(s.name)!;
      const ms = samples.map((x) => x.ms).sort((a, b) => a - b);
      const tokens = samples.reduce((a, x) => a + x.tokens, 0);
      point[s.name] = { tokensPerSecond: (tokens * 1000) / wallMs, requestsPerSecond: (samples.length * 1000) / wallMs, p50Ms: quantile(ms, 0.5), p99Ms: quantile(ms, 0.99), tokens, wallMs };
    }
    const b = point.batched as { tokensPerSecond: number; p50Ms: number; p99Ms: number };
    const o = point['one-at-a-time'] as { tokensPerSecond: number; p50Ms: number; p99Ms: number };
    point.ratio = b.tokensPerSecond / o.tokensPerSecond;
    console.log(
      `${String(clients).padStart(3)} clients: batched ${b.tokensPerSecond.toFixed(0)} tok/s (p50 ${b.p50Ms.toFixed(1)} ms, p99 ${b.p99Ms.toFixed(1)} ms) | one at a time ${o.tokensPerSecond.toFixed(0)} tok/s (p50 ${o.p50Ms.toFixed(1)} ms, p99 ${o.p99Ms.toFixed(1)} ms) | ratio ${(point.ratio as number).toFixed(2)}x, ${merged.meanRequestsPerForward.toFixed(1)} requests per batched forward (rounds ${roundRatios.map((r) => r.toFixed(2)).join(' ')})`,
    );
    points.push(point);
  }
  const metrics = await (await fetch(`${servers[0].url}/metrics`)).text();
  const value = (name: string) => Number(metrics.split('\n').find((l) => l.startsWith(name + ' '))?.split(' ')[1] ?? NaN);
  const result = {
    schema: 'neobert-bench-serve/1',
    date: new Date().toISOString(),
    adapter: info.adapter,
    adapterSlug: info.adapter_slug,
    model: info.model_id,
    architecture: info.architecture,
    options: { requestsPerPoint, rounds, clientCounts, maxBatchTokens: info.max_batch_tokens },
    batchedServer: { meanRequestsPerForward: value('te_batch_next_requests_sum') / value('te_batch_next_requests_count'), meanTokensPerForward: value('te_batch_next_tokens_sum') / value('te_batch_next_tokens_count') },
    points,
    host: { cpus: (await import('node:os')).cpus().length, loadavg: (await import('node:os')).loadavg() },
  };
  mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  const file = path.join(ROOT, 'bench', 'results', `${info.adapter_slug}-serve-${modelName}-${result.date.slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`mean requests per batched forward ${result.batchedServer.meanRequestsPerForward.toFixed(1)}; wrote ${path.relative(ROOT, file)}`);
} finally {
  for (const s of servers) s.child.kill('SIGTERM');
}
