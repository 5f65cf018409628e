// The built package (dist/) as a user imports it, in a plain Node process: one copy of every
// error class behind 'neobert-webgpu', 'neobert-webgpu/node' and 'neobert-webgpu/worker', and
// each error a user can meet is that class (instanceof from every entry point), naming the file,
// option or input at fault. Plus withErrorScope's typed GPU errors (src/gpu.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EncoderError, GPUOutOfMemoryError, GPUValidationError } from '../src/errors';
import { withErrorScope } from '../src/gpu';
import { deserializeError, serializeError } from '../src/worker-protocol';
import { testGPU } from './gpu-context';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Runs in a child `node` (no Vite, no vitest module graph): what a user of the package gets.
const SCRIPT = String.raw`
import { mkdtempSync, mkdirSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
const dist = (f) => import(pathToFileURL(path.join(process.env.ROOT, 'dist', f)).href);
const [lib, node, worker] = await Promise.all([dist('index.js'), dist('node/index.js'), dist('worker.js')]);
const NAMES = ['EncoderError', 'CheckpointError', 'InputError', 'ModelDisposedError', 'DeviceLostError', 'GPUUnavailableError', 'GPUOutOfMemoryError', 'GPUValidationError', 'KernelShapeError', 'TokenLimitError'];
const out = { same: NAMES.map((n) => [n, typeof lib[n] === 'function' && lib[n] === node[n] && lib[n] === worker[n]]), cases: [] };
// The first names stay as aliases of the architecture-neutral ones (the very same objects).
out.same.push(['NeoBERTError = EncoderError', lib.NeoBERTError === lib.EncoderError && node.NeoBERTError === lib.EncoderError && worker.NeoBERTError === lib.EncoderError]);
out.same.push(['NeoBERTWorker = EncoderWorker', typeof lib.EncoderWorker === 'function' && lib.NeoBERTWorker === lib.EncoderWorker]);
out.same.push(['serveNeoBERT = serveEncoder', typeof worker.serveEncoder === 'function' && worker.serveNeoBERT === worker.serveEncoder]);
async function check(label, f) {
  try {
    await f();
    out.cases.push({ label, thrown: false });
  } catch (e) {
    const of = (m) => NAMES.filter((n) => typeof m[n] === 'function' && e instanceof m[n]);
    out.cases.push({ label, thrown: true, name: e?.name, message: String(e?.message), lib: of(lib), node: of(node), worker: of(worker) });
  }
}
const bundled = path.join(process.env.ROOT, 'weights', 'neobert-mini');
const copy = (edit) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neobert-entry-'));
  cpSync(bundled, dir, { recursive: true });
  edit(dir);
  return dir;
};
await check('load /nonexistent', () => lib.NeoBERT.load('/nonexistent'));
await check('node sourceFor /nonexistent', () => node.sourceFor('/nonexistent'));
await check('malformed tokenizer.json', () => lib.NeoBERT.load(copy((d) => writeFileSync(path.join(d, 'tokenizer.json'), '{"model": 3'))));
await check('malformed vocab.txt', () => lib.NeoBERT.load(copy((d) => { rmSync(path.join(d, 'tokenizer.json')); writeFileSync(path.join(d, 'vocab.txt'), '[PAD]\n\n[CLS]\n'); })));
await check('config.json is a folder', () => lib.NeoBERT.load(copy((d) => { rmSync(path.join(d, 'config.json')); mkdirSync(path.join(d, 'config.json')); })));
const model = await lib.NeoBERT.load('bundled-mlm');
for (const v of [0, -1, 1e9, NaN, '16']) await check('maxLength ' + JSON.stringify(v) + ' ' + String(v), () => model.embed(['x'], { maxLength: v }));
await check('batchSize 0', () => model.embed(['x'], { batchSize: 0 }));
await check('pooling max', () => model.embed(['x'], { pooling: 'max' }));
await check('topK 0', () => model.fillMask('a [MASK]', { topK: 0 }));
await check('embed x, null', () => model.embed(['x', null]));
await check('fillMask truncated', () => model.fillMask('word '.repeat(5000) + '[MASK]'));
await check('token limit', () => model.embed(['one two three four'], { maxLength: 4, truncation: false }));
await model.dispose();
await check('disposed', () => model.embed(['x']));
// The worker protocol: serveEncoder (dist/worker.js) <-> EncoderWorker (dist/index.js).
const channel = new MessageChannel();
worker.serveEncoder(channel.port1);
await check('worker load /nonexistent', () => lib.EncoderWorker.load('/nonexistent', { worker: channel.port2 }));
const channel2 = new MessageChannel();
worker.serveEncoder(channel2.port1);
const remote = await lib.EncoderWorker.load('bundled-mlm', { worker: channel2.port2 });
await check('worker maxLength 0', () => remote.embed(['x'], { maxLength: 0 }));
await remote.dispose();
channel.port1.close(); channel.port2.close(); channel2.port1.close(); channel2.port2.close();
process.stdout.write(JSON.stringify(out));
process.exit(0);
`;

interface Case {
  label: string;
  thrown: boolean;
  name?: string;
  message?: string;
  lib?: string[];
  node?: string[];
  worker?: string[];
}

let result: { same: [string, boolean][]; cases: Case[] };

beforeAll(() => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ROOT }, timeout: 120_000 });
  if (run.status !== 0) throw new Error(`entry point script failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  result = JSON.parse(run.stdout);
});

function caseOf(label: string): Case {
  const c = result.cases.find((x) => x.label === label);
  if (!c) throw new Error(`no case ${label}`);
  expect(c.thrown, `${label} threw`).toBe(true);
  return c;
}

/** The error is `name` (and an EncoderError) by instanceof from all three entry points. */
function expectClass(label: string, name: string, message: RegExp): void {
  const c = caseOf(label);
  expect(c.name, `${label}: ${c.message}`).toBe(name);
  for (const entry of ['lib', 'node', 'worker'] as const) {
    expect(c[entry], `${label} instanceof via ${entry}`).toEqual(expect.arrayContaining(['EncoderError', name]));
  }
  expect(c.message).toMatch(message);
}

describe('dist/: one copy of every error class', () => {
  it('index.js, node/index.js and worker.js export the very same classes', () => {
    for (const [name, same] of result.same) expect(same, name).toBe(true);
  });

  it('checkpoint errors are CheckpointError naming the file', () => {
    expectClass('load /nonexistent', 'CheckpointError', /\/nonexistent: no such file or folder/);
    expectClass('node sourceFor /nonexistent', 'CheckpointError', /\/nonexistent/);
    expectClass('malformed tokenizer.json', 'CheckpointError', /neobert-entry-[^/]+\/tokenizer\.json: not valid JSON/);
    expectClass('malformed vocab.txt', 'CheckpointError', /neobert-entry-[^/]+\/vocab\.txt: line 2 is empty/);
    expectClass('config.json is a folder', 'CheckpointError', /neobert-entry-[^/]+\/config\.json: is a folder/);
  });

  it('bad option values are InputError naming the option and the value', () => {
    expectClass('maxLength 0 0', 'InputError', /maxLength 0 is too small/);
    expectClass('maxLength -1 -1', 'InputError', /maxLength -1 is too small/);
    expectClass('maxLength 1000000000 1000000000', 'InputError', /maxLength 1000000000 is over the model limit of 4096/);
    expectClass('maxLength null NaN', 'InputError', /maxLength must be an integer, got NaN/);
    expectClass('maxLength "16" 16', 'InputError', /maxLength must be an integer, got "16"/);
    expectClass('batchSize 0', 'InputError', /batchSize must be a positive integer, got 0/);
    expectClass('pooling max', 'InputError', /pooling must be "cls" or "mean", got "max"/);
    expectClass('topK 0', 'InputError', /topK must be a positive integer, got 0/);
  });

  it('bad inputs name the right input; a truncated [MASK] says so', () => {
    expectClass('embed x, null', 'InputError', /input 1 is null/);
    expectClass('fillMask truncated', 'InputError', /every \[MASK\] of the text lies past the first 4096 tokens/);
    expectClass('token limit', 'TokenLimitError', /text 0 has 6 tokens, over the limit of 4/);
    expectClass('disposed', 'ModelDisposedError', /disposed/);
  });

  it('errors through the worker protocol are rebuilt as the same classes', () => {
    expectClass('worker load /nonexistent', 'CheckpointError', /\/nonexistent/);
    expectClass('worker maxLength 0', 'InputError', /maxLength 0 is too small/);
  });
});

describe('GPU errors during upload or planning are typed', () => {
  it('a validation error becomes GPUValidationError naming what was being built', async () => {
    const { device } = await testGPU();
    const error = await withErrorScope(device, 'a test buffer', () =>
      device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE }),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(GPUValidationError);
    expect(error).toBeInstanceOf(EncoderError);
    expect(error.message).toMatch(/WebGPU rejected a test buffer .*try a smaller batchSize or maxLength/);
    // The device is fine afterwards.
    expect(await withErrorScope(device, 'a good buffer', () => device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }))).toBeTruthy();
  });

  it('out of memory becomes GPUOutOfMemoryError saying what did not fit and what to try, and crosses the worker protocol', async () => {
    const scopes: string[] = [];
    const device = {
      pushErrorScope: (f: string) => scopes.push(f),
      popErrorScope: async () => (scopes.pop() === 'out-of-memory' ? { message: 'Out of memory\nmore' } : null),
    } as unknown as GPUDevice;
    const error = await withErrorScope(device, 'uploading the f32 weights of big (1e9 parameters)', () => 1).catch((e) => e);
    expect(error).toBeInstanceOf(GPUOutOfMemoryError);
    expect(error.what).toBe('uploading the f32 weights of big (1e9 parameters)');
    expect(error.message).toMatch(/ran out of memory uploading the f32 weights of big .*\(Out of memory\); try dtype 'f16'.*smaller batchSize/);
    expect(scopes).toEqual([]);
    const rebuilt = deserializeError(serializeError(error));
    expect(rebuilt).toBeInstanceOf(GPUOutOfMemoryError);
    expect((rebuilt as GPUOutOfMemoryError).what).toBe(error.what);
  });

  it("an error the body throws wins, and the scopes are popped", async () => {
    const scopes: string[] = [];
    const device = { pushErrorScope: (f: string) => scopes.push(f), popErrorScope: async () => (scopes.pop(), { message: 'x' }) } as unknown as GPUDevice;
    await expect(withErrorScope(device, 'x', () => Promise.reject(new RangeError('mine')))).rejects.toThrow(RangeError);
    expect(scopes).toEqual([]);
  });
});
