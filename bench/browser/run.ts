// Browser bench driver: serves bench/browser/ with Vite on 127.0.0.1, opens it in headless
// Chromium (playwright-core, Debian's /usr/bin/chromium: WebGPU on SwiftShader here), and runs our
// engine, onnxruntime-web's WebGPU EP and gpu.js in that one page on the page's adapter.
//   npm run bench:browser -- [--quick] [--json FILE] [--model DIR | --config base] [--seq ...]
//        [--batch ...] [--repeats N] [--warmup N] [--peers ort-webgpu,ort-wasm,gpujs]
//        [--max-tokens N] [--profile none|first|all] [--no-matmul] [--no-save] [--chromium PATH]
// Writes bench/results/<adapter>-browser-<date>.json and .svg (unless --no-save).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { renderChart } from '../chart';
import { ensureOnnx, type OnnxExport } from '../run/onnx';
import { summary, type BenchResult } from '../run/report';
import type { BrowserBenchOptions } from './main';

const root = process.cwd();
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    model: { type: 'string' },
    config: { type: 'string' },
    seq: { type: 'string' },
    batch: { type: 'string' },
    repeats: { type: 'string' },
    warmup: { type: 'string' },
    peers: { type: 'string', default: 'ort-webgpu,gpujs' },
    'max-tokens': { type: 'string', default: '8192' },
    'point-budget-s': { type: 'string' },
    'call-timeout-s': { type: 'string' },
    profile: { type: 'string' },
    'no-matmul': { type: 'boolean', default: false },
    'no-save': { type: 'boolean', default: false },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'out-dir': { type: 'string', default: 'bench/results' },
  },
});
const quick = values.quick!;
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const list = (s: string | undefined, d: number[]) => (s ? s.split(',').map(Number) : d);
const isBase = values.config === 'base';
if (values.config && !isBase) throw new Error(`--config: only "base" is known, got ${values.config}`);
const modelDir = path.resolve(values.model ?? 'weights/neobert-mini');
const peers = values.peers!.split(',').filter(Boolean);
const notes: string[] = [];

const seqs = list(values.seq, quick ? [16, 128, 512] : [16, 128, 512, 2048, 4096]);
const batches = list(values.batch, quick ? [8] : [1, 8, 32]);
const maxTokens = Number(values['max-tokens']);
const all = seqs.flatMap((seq) => batches.map((batch) => ({ seq, batch })));
const points = all.filter((p) => p.seq * p.batch <= maxTokens);
if (points.length < all.length) notes.push(`points over --max-tokens ${maxTokens} skipped: ${all.filter((p) => !points.includes(p)).map((p) => `${p.seq}x${p.batch}`).join(', ')}`);

let onnx: OnnxExport | null = null;
let onnxProblem = '';
if (peers.some((p) => p.startsWith('ort-'))) {
  try {
    onnx = ensureOnnx(root, values.python!, isBase ? { base: true } : { dir: modelDir }, console.log);
  } catch (e) {
    onnxProblem = (e as Error).message;
    notes.push(`onnxruntime-web: ${onnxProblem}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const server = await createServer({
  configFile: false,
  root,
  logLevel: 'warn',
  // A missing checkpoint file (modules.json, tokenizer_config.json) must be a 404, not index.html.
  appType: 'mpa',
  server: { host: '127.0.0.1', port, strictPort: true, fs: { allow: [root, modelDir, path.dirname(onnx?.file ?? root)] }, hmr: false },
  // onnxruntime-web finds its .wasm next to its own module; keep it out of the dep optimizer.
  optimizeDeps: { exclude: ['onnxruntime-web'], include: ['gpu.js'] },
});
await server.listen();
const base = `http://127.0.0.1:${port}`;
console.log(`vite: serving ${root} at ${base}  [${elapsed()}]`);

const browser = await chromium.launch({
  executablePath: values.chromium,
  headless: true,
  args: [
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--enable-webgpu-developer-features', // unquantised timestamp queries for the per-kernel profile
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
let result: BenchResult;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(0);
  page.on('console', (m) => {
    const t = m.text();
    if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${t}`);
    else console.log(`[page] ${t}`);
  });
  page.on('pageerror', (e) => console.log(`[page exception] ${e.message}`));
  await page.goto(`${base}/bench/browser/index.html`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 180_000 });
  const options: BrowserBenchOptions = {
    model: isBase ? null : `${base}/@fs${modelDir}/`,
    modelLabel: isBase ? 'NeoBERT base config (28 x 768), random weights' : path.relative(root, modelDir) || modelDir,
    onnxUrl: onnx ? `${base}/@fs${onnx.file}` : null,
    points,
    warmup: Number(values.warmup ?? 2),
    repeats: Number(values.repeats ?? (quick ? 3 : 5)),
    pointBudgetMs: Number(values['point-budget-s'] ?? (quick ? 60 : 180)) * 1000,
    callTimeoutMs: Number(values['call-timeout-s'] ?? 600) * 1000,
    peers,
    profile: (values.profile ?? (quick ? 'first' : 'all')) as BrowserBenchOptions['profile'],
    matmul: !values['no-matmul'],
    quick,
    notes,
  };
  result = await page.evaluate((o) => (window as unknown as { neobertBench: { run(o: unknown): Promise<BenchResult> } }).neobertBench.run(o), options);
  result.host = { ...result.host, chromium: browser.version(), machine: `${os.cpus().length} x ${os.cpus()[0]?.model}`, loadavg: os.loadavg() };
  for (const [name, p] of Object.entries(result.peers)) {
    if (name.startsWith('onnxruntime-web') && onnx && p.status === 'ran') p.onnxVerification = onnx.meta.verification ? 'PyTorch module matched every fixture (rel L2 < 1e-4) before export' : 'not verified';
    if (name.startsWith('onnxruntime-web') && p.status === 'failed' && onnxProblem) p.detail = onnxProblem;
  }
} finally {
  await browser.close();
  await server.close();
}

console.log(`\n${summary(result)}\n`);
const slug = `${result.adapterInfo.vendor || 'unknown'}-${(/llvmpipe|swiftshader/i.exec(result.adapterInfo.description)?.[0] ?? result.adapterInfo.architecture) || 'gpu'}`
  .toLowerCase()
  .replace(/[^a-z0-9.-]+/g, '-');
const writeAtomic = (file: string, text: string) => {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
};
if (!values['no-save']) {
  const out = path.join(values['out-dir']!, `${slug}-browser-${result.date.slice(0, 10)}`);
  writeAtomic(`${out}.json`, `${JSON.stringify(result, null, 1)}\n`);
  writeAtomic(`${out}.svg`, renderChart([result]));
  console.log(`wrote ${out}.json and ${out}.svg`);
}
if (values.json) {
  writeAtomic(values.json, `${JSON.stringify(result, null, 1)}\n`);
  console.log(`wrote ${values.json}`);
}
console.log(`done in ${elapsed()}`);
process.exit(0);
