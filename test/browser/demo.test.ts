// The demo page in a real browser: Vite builds it, vite preview serves it on 127.0.0.1 (a free
// port), and playwright-core drives Debian's Chromium with WebGPU on SwiftShader. The page's
// search ranking, scores and fill-mask are checked against the Node (Dawn) path on the same
// checkpoint and texts; a reload must read the checkpoint from Cache Storage (the server counts
// requests); the page must work at phone width with no console errors. Screenshots go to
// test/artifacts/. A missing Chromium or WebGPU adapter is a FAILURE, never a skip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, preview, type Plugin, type PreviewServer } from 'vite';
import { NeoBERT } from '../../src/encoder';
import { testGPU } from '../gpu-context';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const SCORE_TOLERANCE = 1e-4;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Every request path the preview server receives, in order. */
const requests: string[] = [];
const countRequests: Plugin = {
  name: 'count-requests',
  configurePreviewServer(server) {
    server.middlewares.use((req, _res, next) => {
      requests.push((req.url ?? '').split('?')[0]);
      next();
    });
  },
};
const requestsFor = (file: string) => requests.filter((url) => url.endsWith(`/${file}`)).length;

let outDir: string;
let server: PreviewServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let baseUrl: string;
let node: NeoBERT;
const consoleProblems: string[] = [];

/** Waits until the page has loaded a model (or failed), failing with what the page says. */
async function waitUntilReady(p: Page): Promise<void> {
  await p.waitForFunction(() => ['ready', 'error', 'no-webgpu'].includes(document.body.dataset.state ?? ''), null, { timeout: 240_000 });
  const state = await p.evaluate(() => document.body.dataset.state);
  if (state !== 'ready') {
    const said = await p.evaluate(() => `${document.getElementById('status')?.textContent} ${document.getElementById('error')?.textContent}`);
    throw new Error(
      `the demo did not load the model (state "${state}"): ${said.trim()}. Chromium at ${CHROMIUM} must offer a WebGPU adapter ` +
        '(SwiftShader, with --enable-unsafe-webgpu --enable-features=Vulkan).',
    );
  }
}

/** Clicks a task button and waits for that section to finish one more run. */
async function runTask(p: Page, button: string, section: string): Promise<void> {
  const before = Number((await p.getAttribute(`#${section}`, 'data-done')) ?? 0);
  await p.click(`#${button}`);
  await p.waitForFunction(
    ([sel, n]) => Number(document.querySelector(sel as string)?.getAttribute('data-done') ?? 0) > (n as number) || document.getElementById('error')!.textContent !== '',
    [`#${section}`, before],
    { timeout: 120_000 },
  );
  const error = await p.textContent('#error');
  expect(error, `page error after ${button}`).toBe('');
}

function watchConsole(p: Page, label: string): void {
  p.on('console', (message) => {
    if (message.type() === 'error') consoleProblems.push(`${label} console.error: ${message.text()}`);
  });
  p.on('pageerror', (error) => consoleProblems.push(`${label} uncaught: ${error.message}`));
  p.on('crash', () => consoleProblems.push(`${label}: the page crashed`));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: run "sudo bash scripts/install-chromium.sh" (or set CHROMIUM_PATH). The browser test never skips.`);
  }
  await mkdir(ARTIFACTS, { recursive: true });
  // Built into a temporary folder, so parallel runs and `npx vite build` never share one.
  outDir = await mkdtemp(path.join(os.tmpdir(), 'neobert-demo-'));
  const configFile = path.join(ROOT, 'vite.config.ts');
  await build({ configFile, root: ROOT, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const port = await freePort();
  server = await preview({
    configFile,
    root: ROOT,
    logLevel: 'warn',
    plugins: [countRequests],
    build: { outDir },
    preview: { host: '127.0.0.1', port, strictPort: true },
  });
  baseUrl = `http://127.0.0.1:${port}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  // The longest main-thread task, to check the page stays responsive while the worker works.
  await context.addInitScript(() => {
    (window as unknown as { __longestTask: number }).__longestTask = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const w = window as unknown as { __longestTask: number };
        w.__longestTask = Math.max(w.__longestTask, entry.duration);
      }
    }).observe({ type: 'longtask', buffered: true });
  });
  page = await context.newPage();
  watchConsole(page, 'demo');
  node = await NeoBERT.load('bundled', { gpu: await testGPU() });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.httpServer.close(() => resolve()) : resolve()));
  await node?.dispose();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('demo page in Chromium (WebGPU on SwiftShader)', () => {
  it('loads the bundled checkpoint in a worker and shows the adapter and its features', async () => {
    const started = Date.now();
    await page.goto(baseUrl);
    await waitUntilReady(page);
    console.log(`[browser] bundled model ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const facts = await page.textContent('#facts');
    expect(facts).toMatch(/2 layers × 64 hidden/);
    // Which adapter and which optional features it has are adapter facts: reported. What must hold
    // on any adapter: one badge per optional feature, marked present exactly where the browser's
    // own adapter reports it.
    expect(facts).toMatch(/Adapter/);
    const names = ['shader-f16', 'subgroups', 'timestamp-query'];
    expect(await page.locator('#facts .badge').allTextContents()).toEqual(names);
    const present = await page.locator('#facts .badge.yes').allTextContents();
    const offered = await page.evaluate(async () => {
      const adapter = await (navigator as Navigator & { gpu: GPU }).gpu.requestAdapter({ powerPreference: 'high-performance' });
      return adapter ? [...adapter.features].map(String) : [];
    });
    console.log(`[adapter] browser: ${facts?.match(/Adapter.*?(?=Features|$)/)?.[0] ?? facts}; features shown ${present.join(', ') || 'none'}`);
    expect(present).toEqual(names.filter((f) => offered.includes(f)));
    expect(await page.isVisible('#untrained')).toBe(true);
    expect(requestsFor('model.safetensors')).toBe(1);
    const longest = await page.evaluate(() => (window as unknown as { __longestTask: number }).__longestTask);
    console.log(`[browser] longest main-thread task while loading: ${longest.toFixed(0)} ms`);
    expect(longest).toBeLessThan(2000);
  });

  it('ranks the corpus like the Node path: same order, scores within 1e-4', async () => {
    const query = 'a kitten sleeping on a rug';
    await page.fill('#query', query);
    await runTask(page, 'search', 'search-section');
    const shown = await page.$$eval('#results li', (items) => items.map((li) => ({ text: li.dataset.text!, score: Number(li.dataset.score) })));
    const corpus = (await page.inputValue('#corpus')).split('\n').map((s) => s.trim()).filter(Boolean);
    expect(shown).toHaveLength(corpus.length);

    const docs = await node.embedMatrix(corpus, { pooling: 'mean', normalize: true });
    const [q] = await node.embed([query], { pooling: 'mean', normalize: true });
    const nodeScore = new Map(corpus.map((text, i) => [text, q.reduce((s, v, k) => s + v * docs.data[i * docs.cols + k], 0)]));
    const nodeRanked = [...nodeScore.entries()].sort((a, b) => b[1] - a[1]);
    const report = shown.map((r, i) => `${i + 1}. page ${r.score.toFixed(6)} node ${nodeScore.get(r.text)?.toFixed(6)}  ${r.text}`);
    console.log(`[browser] ranking for "${query}":\n${report.join('\n')}`);
    shown.forEach((r, i) => {
      expect(nodeScore.has(r.text), r.text).toBe(true);
      expect(Math.abs(r.score - nodeScore.get(r.text)!), `score of "${r.text}"`).toBeLessThan(SCORE_TOLERANCE);
      if (i > 0) expect(r.score).toBeLessThanOrEqual(shown[i - 1].score);
      // Same order, except between scores the tolerance cannot tell apart.
      if (r.text !== nodeRanked[i][0]) expect(Math.abs(nodeScore.get(r.text)! - nodeRanked[i][1]), `rank ${i + 1}`).toBeLessThan(SCORE_TOLERANCE);
    });
    expect(await page.textContent('#search-timings')).toMatch(/tokenize [\d.]+ ms · GPU [\d.]+ ms · readback [\d.]+ ms .* tokens\/s/);
  });

  it('draws the similarity heatmap and fills a [MASK] like the Node path', async () => {
    await runTask(page, 'compare', 'similarity-section');
    const sentences = (await page.inputValue('#sentences')).split('\n').filter((s) => s.trim());
    const cells = await page.locator('#heatmap td').allTextContents();
    expect(cells).toHaveLength(sentences.length ** 2);
    sentences.forEach((_, i) => expect(cells[i * sentences.length + i]).toBe('1.00'));

    const masked = 'the cat sat on the [MASK].';
    await page.fill('#masked', masked);
    await runTask(page, 'fill', 'fill-section');
    const shown = await page.$$eval('#fill-results li', (items) => items.map((li) => ({ token: li.dataset.token!, score: Number(li.dataset.score) })));
    const [expected] = await node.fillMask(masked, { topK: 5 });
    expect(shown).toHaveLength(5);
    shown.forEach((p, i) => {
      expect(Math.abs(p.score - expected[i].score), `score ${i}`).toBeLessThan(SCORE_TOLERANCE);
      if (p.token !== expected[i].token) expect(Math.abs(expected[i].score - (expected.find((e) => e.token === p.token)?.score ?? -1))).toBeLessThan(SCORE_TOLERANCE);
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-desktop.png'), fullPage: true });
  });

  it('queues concurrent calls through the real worker: Promise.all gives the sequential results', async () => {
    const result = await page.evaluate(async () => {
      type Remote = { embed(texts: string[], options?: object): Promise<Float32Array[]> };
      const m = (window as unknown as { neobert: Remote }).neobert;
      const texts = ['first text', 'a somewhat longer second text for the batch', 'third', 'the fourth and final text'];
      const calls = [
        () => m.embed(texts),
        () => m.embed(texts.slice(1), { pooling: 'mean', normalize: true, batchSize: 1 }),
        () => m.embed([texts[3], texts[0]], { pooling: 'mean' }),
        () => m.embed(texts.slice().reverse(), { batchSize: 3 }),
      ];
      const sequential: Float32Array[][] = [];
      for (const call of calls) sequential.push(await call());
      const concurrent = await Promise.all(calls.map((call) => call()));
      let maxDiff = 0;
      concurrent.forEach((vectors, c) =>
        vectors.forEach((v, i) => v.forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - sequential[c][i][k]))))),
      );
      return { maxDiff, typed: concurrent.every((vs) => vs.every((v) => v instanceof Float32Array && v.length === 64)) };
    });
    expect(result).toEqual({ maxDiff: 0, typed: true });
  });

  it('fits a phone screen (390 px) without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, 'horizontal overflow in px').toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it('a reload reads the checkpoint from Cache Storage: no new request for model.safetensors', async () => {
    const before = requests.length;
    await page.reload();
    await waitUntilReady(page);
    const after = requests.slice(before);
    expect(after.filter((url) => url.includes('/weights/')), `checkpoint requests on reload: ${after.join(', ')}`).toEqual([]);
    expect(requestsFor('model.safetensors')).toBe(1);
    await runTask(page, 'search', 'search-section');
    expect(await page.locator('#results li').count()).toBeGreaterThan(0);
  });

  it('says in plain words when the browser has no WebGPU', async () => {
    const plain = await context.newPage();
    watchConsole(plain, 'no-webgpu page');
    await plain.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await plain.goto(baseUrl);
    await plain.waitForFunction(() => document.body.dataset.state === 'no-webgpu', null, { timeout: 30_000 });
    expect(await plain.textContent('#no-webgpu')).toMatch(/does not offer WebGPU.*Chrome or Edge 113 or newer/s);
    await plain.screenshot({ path: path.join(ARTIFACTS, 'demo-no-webgpu.png') });
    await plain.close();
  });

  it('logged no console errors', () => {
    expect(consoleProblems).toEqual([]);
  });
});
