// The embedding model and its panels: semantic search, the similarity heatmap, fill-mask and
// (for classification checkpoints) classify. Pooling and normalisation are the model's own
// (a sentence-transformers folder's Pooling module, else the engine's default), unless the pooling
// selector overrides them; scores are cosine similarities (embeddings L2-normalised).
import { BUNDLED_MLM_MODEL, BUNDLED_MODEL, type EmbedOptions, type ModelInfo, type EncoderWorker } from '../index';
import { EMBEDDERS, known } from './catalog';
import { PanelModel } from './panel-model';
import { $, badge, bar, el, lines, modelFacts, showFacts, withData, type FactRow, type Timed } from './ui';

export const BUNDLED_NAME = 'wordnet-mini (bundled)';
export const BUNDLED_MLM_NAME = 'neobert-mini (bundled, untrained)';

const taskButtons = () => ['search', 'compare', 'fill', 'classify'].map((id) => $<HTMLButtonElement>(id));

/** Corpus embeddings, reused while the corpus, options and model stay the same. */
let corpusCache: { key: string; data: Float32Array; rows: number; cols: number } | null = null;
/** Options for the query (and heatmap sentences) and for corpus texts: prompts of the loaded model. */
let prompts: { query: EmbedOptions; passage: EmbedOptions } = { query: {}, passage: {} };

export const embedder = new PanelModel('', {
  stateTarget: document.body,
  taskButtons,
  extraLoadButtons: () => [$<HTMLButtonElement>('load-bundled'), $<HTMLButtonElement>('load-bundled-mlm')],
  onUnload: () => {
    corpusCache = null;
  },
  onLoaded: (model, info, name) => {
    // For the curious (and the browser test): the loaded model, in the devtools console.
    (window as unknown as { neobert?: EncoderWorker }).neobert = model;
    prompts = promptsFor(info, embedder.loadedFrom);
    const st = info.sentenceTransformers;
    const defaultPooling: string = st?.pooling ? st.pooling.modes.join(' + ') : 'cls';
    $<HTMLOptionElement>('pooling-default').textContent = `model default: ${defaultPooling}${st ? ' (sentence-transformers config)' : ''}`;
    // Matryoshka dimensions: all, then halves down to 8 (each renormalised, as normalize after truncate_dim).
    const width = st?.dimension ?? info.config.hiddenSize;
    const dims: number[] = [];
    for (let d = Math.floor(width / 2); d >= 8 && Number.isInteger(d); d = d / 2) dims.push(d);
    $<HTMLOptionElement>('dims-default').textContent = st?.truncateDim ? `model default: ${st.truncateDim} (truncate_dim)` : `all ${width}`;
    $('dims').replaceChildren($('dims-default'), ...dims.map((d) => el('option', { value: String(d), textContent: String(d) })));
    $<HTMLSelectElement>('dims').value = '';
    $('index-size').textContent = '';
    const { adapter } = info;
    const has = (f: string) => adapter.features.includes(f);
    const extra: FactRow[] = [
      ['Embeddings', `${defaultPooling} pooling${st ? ` from its sentence-transformers config${st.normalize ? ', normalised' : ''}` : ' (no sentence-transformers config)'}`],
    ];
    const shown = [prompts.query, prompts.passage].map(promptText);
    if (shown.some(Boolean)) extra.push(['Prompts', `query ${JSON.stringify(shown[0])}, corpus ${JSON.stringify(shown[1])}`]);
    extra.push(
      ['Adapter', [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' · ') || 'unknown'],
      ['Features', badge('shader-f16', has('shader-f16')), badge('subgroups', has('subgroups')), badge('timestamp-query', has('timestamp-query'))],
    );
    showFacts($('facts'), modelFacts(info, name, extra));
    $('bundled-note').hidden = embedder.loadedFrom !== BUNDLED_MODEL;
    $('untrained').hidden = embedder.loadedFrom !== BUNDLED_MLM_MODEL;
    const canFill = info.head === 'mlm' && info.tokenizer !== null;
    $('fill-unavailable').hidden = canFill;
    $('fill-unavailable').textContent =
      info.head !== 'mlm' ? 'This checkpoint has no MLM head, so it cannot fill in [MASK] (the untrained MLM checkpoint above has one).' : 'This checkpoint has no tokenizer, so it cannot read text.';
    $('fill-controls').hidden = !canFill;
    $('classify-section').hidden = info.head !== 'classification' || info.tokenizer === null;
  },
});

/** The prompts to put before queries and corpus texts: the folder's named ones, else the catalog's. */
function promptsFor(info: ModelInfo, from: string | null): { query: EmbedOptions; passage: EmbedOptions } {
  const named = info.sentenceTransformers?.prompts ?? {};
  // e5 / bge name them query / passage; nomic-embed search_query / search_document.
  const query = ['query', 'search_query'].find((k) => k in named);
  if (query) {
    const passage = ['passage', 'document', 'corpus', 'search_document'].find((k) => k in named);
    return { query: { promptName: query }, passage: passage ? { promptName: passage } : {} };
  }
  const entry = from ? known(from) : undefined;
  if (entry?.prompts) return { query: { prompt: entry.prompts.query }, passage: { prompt: entry.prompts.passage } };
  return { query: {}, passage: {} };
}

function promptText(options: EmbedOptions): string {
  if (options.prompt !== undefined) return options.prompt;
  if (options.promptName !== undefined) return embedder.model?.info().sentenceTransformers?.prompts[options.promptName] ?? '';
  return '';
}

/** The pooling override and Matryoshka dimensions, or nothing (the model's defaults). Always normalised: scores are cosines. */
function embedOptions(): EmbedOptions & { precision?: 'float32' } {
  const pooling = $<HTMLSelectElement>('pooling').value;
  const dims = $<HTMLSelectElement>('dims').value;
  return { ...(pooling === 'cls' || pooling === 'mean' ? { pooling } : {}), ...(dims ? { truncateDim: Number(dims) } : {}), normalize: true };
}

/** The size of the corpus as float32 vectors and as a binary index (precision 'ubinary': 1 bit per dimension). */
function indexSize(texts: number, dims: number): string {
  const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);
  return `Index of ${texts} texts x ${dims} dimensions: ${kib(texts * dims * 4)} as float32, ${kib(texts * Math.ceil(dims / 8))} as a binary index (precision "ubinary", 32x smaller).`;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[ai * n + k] * b[bi * n + k];
  return s;
}

const task = (section: string, body: (model: EncoderWorker, timed: Timed) => Promise<void>) =>
  embedder.run(`${section}-timings`, $(`${section}-section`), body);

/** The texts of the last search, best first (the rerank panel can take them). */
export let lastSearchResults: string[] = [];

async function search(): Promise<void> {
  await task('search', async (model, timed) => {
    const corpus = lines('corpus');
    const query = $<HTMLInputElement>('query').value.trim();
    if (corpus.length === 0) throw new Error('The corpus is empty: write one text per line.');
    if (!query) throw new Error('Type a query.');
    const options = embedOptions();
    const key = `${JSON.stringify(options)}\n${corpus.join('\n')}`;
    if (corpusCache?.key !== key) {
      const m = await model.embedMatrix(corpus, { ...options, ...prompts.passage, precision: 'float32', onTimings: timed(`corpus (${corpus.length} texts, embedded once)`) });
      corpusCache = { key, ...m };
    }
    const q = await model.embedMatrix([query], { ...options, ...prompts.query, precision: 'float32', onTimings: timed('query') });
    const { data, cols } = corpusCache;
    const ranked = corpus.map((text, i) => ({ text, score: dot(data, i, q.data, 0, cols) })).sort((a, b) => b.score - a.score);
    lastSearchResults = ranked.map((r) => r.text);
    $('index-size').textContent = indexSize(corpus.length, cols);
    $('results').replaceChildren(
      ...ranked.map(({ text, score }) =>
        withData(el('li', {}, el('span', { className: 'score', textContent: score.toFixed(3) }), text, bar(score)), { score: String(score), text }),
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
  await task('similarity', async (model, timed) => {
    const sentences = lines('sentences').slice(0, 8);
    if (sentences.length < 2) throw new Error('Write at least two sentences, one per line.');
    // Symmetric similarity: every sentence as a query (e5's advice for its prompts).
    const { data, rows, cols } = await model.embedMatrix(sentences, { ...embedOptions(), ...prompts.query, precision: 'float32', onTimings: timed(`${sentences.length} sentences`) });
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
  await task('fill', async (model, timed) => {
    const text = $<HTMLInputElement>('masked').value;
    const predictions = await model.fillMask(text, { topK: 5, onTimings: timed('fill-mask') });
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
                  bar(p.score),
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
  await task('classify', async (model, timed) => {
    const [scores] = await model.classify([$<HTMLInputElement>('to-classify').value], { onTimings: timed('classify') });
    $('classify-results').replaceChildren(
      ...scores.map((s) => el('li', {}, el('span', { className: 'score', textContent: `${(s.score * 100).toFixed(1)}%` }), s.label, bar(s.score))),
    );
  });
}

export function initEmbedder(): void {
  embedder.init(EMBEDDERS);
  $('load-bundled').addEventListener('click', () => embedder.load(BUNDLED_MODEL, BUNDLED_NAME));
  $('load-bundled-mlm').addEventListener('click', () => embedder.load(BUNDLED_MLM_MODEL, BUNDLED_MLM_NAME));
  $('search').addEventListener('click', search);
  $('query').addEventListener('keydown', (e) => e.key === 'Enter' && search());
  $('pooling').addEventListener('change', () => (corpusCache = null));
  $('dims').addEventListener('change', () => (corpusCache = null));
  $('compare').addEventListener('click', compare);
  $('fill').addEventListener('click', fill);
  $('masked').addEventListener('keydown', (e) => e.key === 'Enter' && fill());
  $('classify').addEventListener('click', classify);
}
