// Demo page: loads the bundled checkpoint over HTTP (Hub-style folder URL) and ranks a small
// corpus against a query by cosine similarity of normalised mean-pooled embeddings.
import { NeoBERT, urlSource } from '../index';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const errorBox = $('error');
const button = $<HTMLButtonElement>('search');

function fail(message: string): void {
  errorBox.textContent = message;
  status.textContent = '';
}

async function main(): Promise<void> {
  if (!('gpu' in navigator)) {
    fail('This browser has no WebGPU. Use a recent Chrome or Edge (113+) on desktop, or Safari 26+.');
    return;
  }
  const started = performance.now();
  const model = await NeoBERT.load(urlSource(new URL('weights/neobert-mini/', document.baseURI).href), {
    onProgress: ({ file, loaded, total }) => {
      status.textContent = `Downloading ${file}: ${(loaded / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`;
    },
  });
  const { adapter, config } = model.info();
  status.textContent =
    `Loaded neobert-mini (${config.numLayers} x ${config.hiddenSize}) in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
    `on ${adapter.vendor} ${adapter.architecture}. Untrained weights: similarity is lexical, not semantic.`;
  button.disabled = false;

  button.addEventListener('click', async () => {
    button.disabled = true;
    errorBox.textContent = '';
    try {
      const corpus = $<HTMLTextAreaElement>('corpus').value.split('\n').map((s) => s.trim()).filter(Boolean);
      const query = $<HTMLInputElement>('query').value;
      const t0 = performance.now();
      const [q, ...docs] = await model.embed([query, ...corpus], { pooling: 'mean', normalize: true });
      const ranked = docs
        .map((d, i) => ({ text: corpus[i], score: d.reduce((s, v, j) => s + v * q[j], 0) }))
        .sort((a, b) => b.score - a.score);
      const list = $('results');
      list.replaceChildren(
        ...ranked.map(({ text, score }) => {
          const li = document.createElement('li');
          const span = document.createElement('span');
          span.className = 'score';
          span.textContent = score.toFixed(3);
          li.append(span, text);
          return li;
        }),
      );
      status.textContent = `Embedded ${corpus.length + 1} texts in ${(performance.now() - t0).toFixed(0)} ms.`;
    } catch (e) {
      fail((e as Error).message);
    } finally {
      button.disabled = false;
    }
  });
}

main().catch((e: Error) => fail(e.message));
