// Demo page: NeoBERT in a Web Worker (NeoBERTWorker), so the page stays responsive while
// kernels compile and batches run. Loads the bundled checkpoint at once; the real NeoBERT from
// the Hub or picked files on request. Semantic search, a similarity heatmap, fill-mask and
// (for classification checkpoints) classify, each with per-stage timings.
import { BUNDLED_MODEL, NEOBERT_HUB_URL, NeoBERTWorker, type ModelInfo, type Progress, type RunTimings } from '../index';

type Model = Pick<NeoBERTWorker, 'embedMatrix' | 'fillMask' | 'classify' | 'info' | 'dispose'>;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const withData = <T extends HTMLElement>(node: T, data: Record<string, string>): T => {
  Object.assign(node.dataset, data);
  return node;
};

const status = $('status');
const errorBox = $('error');
const progress = $<HTMLProgressElement>('progress');
const taskButtons = ['search', 'compare', 'fill', 'classify'].map((id) => $<HTMLButtonElement>(id));
const loadButtons = [$<HTMLButtonElement>('load-bundled'), $<HTMLButtonElement>('load-hub')];
const filesInput = $<HTMLInputElement>('load-files');

let model: Model | null = null;
let busy = false;
/** Corpus embeddings, reused while the corpus, pooling and model stay the same. */
let corpusCache: { key: string; model: Model; data: Float32Array; rows: number; cols: number } | null = null;

function setState(state: 'loading' | 'ready' | 'error' | 'no-webgpu'): void {
  document.body.dataset.state = state;
}

function showError(error: unknown): void {
  errorBox.textContent = error instanceof Error ? error.message : String(error);
}

function setControls(): void {
  const ready = model !== null && !busy;
  for (const b of taskButtons) b.disabled = !ready;
  for (const b of loadButtons) b.disabled = busy;
  filesInput.disabled = busy;
  $('files-label').setAttribute('aria-disabled', String(busy));
}

const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

function timingLine(label: string, t: RunTimings): string {
  return (
    `${label}: tokenize ${ms(t.tokenizeMs)} ms · GPU ${ms(t.gpuMs)} ms · readback ${ms(t.readbackMs)} ms · total ${ms(t.totalMs)} ms · ` +
    `${t.tokens} tokens (${t.computedTokens} rows computed) in ${t.batches} batch${t.batches === 1 ? '' : 'es'} · ` +
    `${Math.round(t.tokensPerSecond).toLocaleString('en')} tokens/s`
  );
}

/** Collects the timings of each model call of a task, under a label. */
type Timed = (label: string) => (t: RunTimings) => void;

/** Runs a task with the buttons disabled, timing it from the page, and shows its errors. */
async function task(section: string, body: (timed: Timed) => Promise<void>): Promise<void> {
  if (!model || busy) return;
  busy = true;
  setControls();
  errorBox.textContent = '';
  const lines: string[] = [];
  const started = performance.now();
  try {
    await body((label) => (t) => lines.push(timingLine(label, t)));
    lines.push(`page round trip ${ms(performance.now() - started)} ms (worker messages and page work included)`);
    $(`${section}-timings`).textContent = lines.join('\n');
    const done = $(`${section}-section`);
    done.dataset.done = String(Number(done.dataset.done ?? 0) + 1);
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
    setControls();
  }
}

// ------------------------------------------------------------------------------------------------
// Loading

function describeProgress(p: Progress): string {
  const mb = (n: number) => (n / 1e6).toFixed(n < 1e7 ? 1 : 0);
  const what = p.cached ? 'Reading from cache' : 'Downloading';
  return `${what} ${p.file}: ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`;
}

function badge(name: string, present: boolean): HTMLElement {
  return el('span', { className: `badge ${present ? 'yes' : 'no'}`, textContent: name, title: present ? `${name}: available` : `${name}: not available` });
}

function showFacts(info: ModelInfo, name: string): void {
  const { adapter, config } = info;
  const facts = $('facts');
  const row = (term: string, ...value: (Node | string)[]) => [el('dt', { textContent: term }), el('dd', {}, ...value)];
  const has = (f: string) => adapter.features.includes(f);
  facts.replaceChildren(
    ...row('Model', `${name}: ${config.numLayers} layers × ${config.hiddenSize} hidden, ${(info.parameterCount / 1e6).toFixed(1)} M parameters (${Object.keys(info.dtypes).join('/')})`),
    ...row('Head', info.head === 'mlm' ? 'masked language model' : info.head === 'classification' ? `classification (${info.labels?.join(', ')})` : 'none (encoder only)'),
    ...row('Tokenizer', info.tokenizer ?? 'none'),
    ...row('Adapter', [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' · ') || 'unknown'),
    ...row('Features', badge('shader-f16', has('shader-f16')), badge('subgroups', has('subgroups')), badge('timestamp-query', has('timestamp-query'))),
  );
  facts.hidden = false;
}

async function load(source: string | File[], name: string): Promise<void> {
  if (busy) return;
  busy = true;
  setControls();
  setState('loading');
  errorBox.textContent = '';
  progress.hidden = false;
  progress.removeAttribute('value');
  status.textContent = `Loading ${name}…`;
  const previous = model;
  model = null;
  corpusCache = null;
  await previous?.dispose().catch(() => undefined);
  const started = performance.now();
  try {
    const loaded = await NeoBERTWorker.load(source, {
      onProgress: (p) => {
        status.textContent = describeProgress(p);
        if (p.total) {
          progress.max = p.total;
          progress.value = p.loaded;
        }
        if (p.file === 'model.safetensors' && p.total !== null && p.loaded === p.total) {
          status.textContent = `${describeProgress(p)}. Uploading weights and compiling GPU kernels…`;
        }
      },
    });
    model = loaded;
    // For the curious (and the browser test): the loaded model, in the devtools console.
    (window as unknown as { neobert?: NeoBERTWorker }).neobert = loaded;
    const info = loaded.info();
    showFacts(info, name);
    $('untrained').hidden = source !== BUNDLED_MODEL;
    const canFill = info.head === 'mlm' && info.tokenizer !== null;
    $('fill-unavailable').hidden = canFill;
    $('fill-unavailable').textContent =
      info.head !== 'mlm' ? 'This checkpoint has no MLM head, so it cannot fill in [MASK].' : 'This checkpoint has no tokenizer, so it cannot read text.';
    $('fill-controls').hidden = !canFill;
    $('classify-section').hidden = info.head !== 'classification' || info.tokenizer === null;
    status.textContent = `Loaded ${name} in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
    setState('ready');
  } catch (e) {
    showError(e);
    status.textContent = `Could not load ${name}.`;
    setState('error');
    if ((e as Error).name === 'GPUUnavailableError') noWebGPU((e as Error).message);
  } finally {
    progress.hidden = true;
    busy = false;
    setControls();
  }
}

// ------------------------------------------------------------------------------------------------
// Tasks

const lines = (id: string) =>
  $<HTMLTextAreaElement>(id)
    .value.split('\n')
    .map((s) => s.trim())
    .filter(Boolean);

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[ai * n + k] * b[bi * n + k];
  return s;
}

async function search(): Promise<void> {
  await task('search', async (timed) => {
    const corpus = lines('corpus');
    const query = $<HTMLInputElement>('query').value.trim();
    if (corpus.length === 0) throw new Error('The corpus is empty: write one text per line.');
    if (!query) throw new Error('Type a query.');
    const pooling = $<HTMLSelectElement>('pooling').value as 'cls' | 'mean';
    const key = `${pooling}\n${corpus.join('\n')}`;
    if (corpusCache?.key !== key || corpusCache.model !== model) {
      const m = await model!.embedMatrix(corpus, { pooling, normalize: true, onTimings: timed(`corpus (${corpus.length} texts, embedded once)`) });
      corpusCache = { key, model: model!, ...m };
    }
    const q = await model!.embedMatrix([query], { pooling, normalize: true, onTimings: timed('query') });
    const { data, cols } = corpusCache;
    const ranked = corpus.map((text, i) => ({ text, score: dot(data, i, q.data, 0, cols) })).sort((a, b) => b.score - a.score);
    $('results').replaceChildren(
      ...ranked.map(({ text, score }) =>
        withData(
          el(
            'li',
            {},
            el('span', { className: 'score', textContent: score.toFixed(3) }),
            text,
            Object.assign(el('span', { className: 'bar' }), { style: `width: ${Math.max(0, score) * 100}%` }),
          ),
          { score: String(score), text },
        ),
      ),
    );
  });
}

/** Light (dissimilar) to dark blue (similar). */
function heatColor(score: number): { background: string; color: string } {
  const s = Math.max(0, Math.min(1, score));
  return { background: `hsl(217, 75%, ${94 - 60 * s}%)`, color: s > 0.45 ? '#fff' : '#172554' };
}

async function compare(): Promise<void> {
  await task('similarity', async (timed) => {
    const sentences = lines('sentences').slice(0, 8);
    if (sentences.length < 2) throw new Error('Write at least two sentences, one per line.');
    const { data, rows, cols } = await model!.embedMatrix(sentences, {
      pooling: $<HTMLSelectElement>('pooling').value as 'cls' | 'mean',
      normalize: true,
      onTimings: timed(`${sentences.length} sentences`),
    });
    const header = el('tr', {}, el('th'), ...sentences.map((_, j) => el('th', { scope: 'col', textContent: String(j + 1) })));
    const body = sentences.map((s, i) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row', textContent: String(i + 1), title: s }),
        ...Array.from({ length: rows }, (_, j) => {
          const score = dot(data, i, data, j, cols);
          const cell = el('td', { textContent: score.toFixed(2), title: `${i + 1} vs ${j + 1}: ${score.toFixed(4)}` });
          Object.assign(cell.style, heatColor(score));
          return cell;
        }),
      ),
    );
    $('heatmap').replaceChildren(el('thead', {}, header), el('tbody', {}, ...body));
    $('legend').replaceChildren(...sentences.map((s) => el('li', { textContent: s })));
  });
}

async function fill(): Promise<void> {
  await task('fill', async (timed) => {
    const text = $<HTMLInputElement>('masked').value;
    const predictions = await model!.fillMask(text, { topK: 5, onTimings: timed('fill-mask') });
    $('fill-results').replaceChildren(
      ...predictions.map((list, k) =>
        el(
          'div',
          {},
          el('p', { className: 'muted', textContent: predictions.length > 1 ? `[MASK] ${k + 1}` : '' }),
          el(
            'ol',
            { className: 'ranked' },
            ...list.map((p) =>
              withData(
                el(
                  'li',
                  {},
                  el('span', { className: 'score', textContent: `${(p.score * 100).toFixed(1)}%` }),
                  el('strong', { textContent: p.token }),
                  p.sequence ? el('span', { className: 'muted', textContent: ` — ${p.sequence}` }) : '',
                  Object.assign(el('span', { className: 'bar' }), { style: `width: ${p.score * 100}%` }),
                ),
                { score: String(p.score), token: p.token },
              ),
            ),
          ),
        ),
      ),
    );
  });
}

async function classify(): Promise<void> {
  await task('classify', async (timed) => {
    const [scores] = await model!.classify([$<HTMLInputElement>('to-classify').value], { onTimings: timed('classify') });
    $('classify-results').replaceChildren(
      ...scores.map((s) =>
        el(
          'li',
          {},
          el('span', { className: 'score', textContent: `${(s.score * 100).toFixed(1)}%` }),
          s.label,
          Object.assign(el('span', { className: 'bar' }), { style: `width: ${s.score * 100}%` }),
        ),
      ),
    );
  });
}

// ------------------------------------------------------------------------------------------------

function noWebGPU(detail?: string): void {
  const ua = navigator.userAgent;
  const isFirefox = /firefox/i.test(ua);
  const isSafari = /safari/i.test(ua) && !/chrome|chromium|android/i.test(ua);
  $('no-webgpu-text').textContent =
    'This browser does not offer WebGPU, which the demo needs to run the model on your graphics card. ' +
    'Open this page in Chrome or Edge 113 or newer (Windows, macOS, ChromeOS; on Linux and Android Chrome 121+ ' +
    'with a supported GPU), or Safari 26 on macOS and iOS' +
    (isFirefox ? '; Firefox has WebGPU from version 141 on Windows, elsewhere behind a setting.' : isSafari ? '; older Safari versions need "WebGPU" turned on under Develop → Feature Flags.' : '.');
  if (detail) $('no-webgpu-text').textContent += ` (${detail})`;
  $('no-webgpu').hidden = false;
  status.textContent = 'WebGPU is not available.';
  setState('no-webgpu');
}

function main(): void {
  $('load-bundled').addEventListener('click', () => load(BUNDLED_MODEL, 'neobert-mini (bundled)'));
  $('load-hub').addEventListener('click', () => load(NEOBERT_HUB_URL, 'chandar-lab/NeoBERT'));
  filesInput.addEventListener('change', () => {
    const files = [...(filesInput.files ?? [])];
    filesInput.value = '';
    if (files.length) load(files, files.length === 1 ? files[0].name : `${files.length} files`);
  });
  $('search').addEventListener('click', search);
  $('query').addEventListener('keydown', (e) => e.key === 'Enter' && search());
  $('compare').addEventListener('click', compare);
  $('fill').addEventListener('click', fill);
  $('masked').addEventListener('keydown', (e) => e.key === 'Enter' && fill());
  $('classify').addEventListener('click', classify);

  if (!('gpu' in navigator) || !navigator.gpu) {
    noWebGPU();
    for (const b of loadButtons) b.disabled = true;
    return;
  }
  setControls();
  void load(BUNDLED_MODEL, 'neobert-mini (bundled)');
}

main();
