// Small DOM and formatting helpers shared by the demo's panels.
import type { ModelInfo, Progress, RunTimings } from '../index';

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`demo: no element #${id}`);
  return node as T;
};

export const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

export const withData = <T extends HTMLElement>(node: T, data: Record<string, string>): T => {
  Object.assign(node.dataset, data);
  return node;
};

/** A thin bar under a result, as wide as its score (0..1). */
export const bar = (fraction: number) => Object.assign(el('span', { className: 'bar' }), { style: `width: ${Math.max(0, Math.min(1, fraction)) * 100}%` });

export const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

export function timingLine(label: string, t: RunTimings): string {
  return (
    `${label}: tokenize ${ms(t.tokenizeMs)} ms · GPU ${ms(t.gpuMs)} ms · readback ${ms(t.readbackMs)} ms · total ${ms(t.totalMs)} ms · ` +
    `${t.tokens} tokens (${t.computedTokens} rows computed) in ${t.batches} batch${t.batches === 1 ? '' : 'es'} · ` +
    `${Math.round(t.tokensPerSecond).toLocaleString('en')} tokens/s`
  );
}

export function describeProgress(p: Progress): string {
  const mb = (n: number) => (n / 1e6).toFixed(n < 1e7 ? 1 : 0);
  const what = p.cached ? 'Reading from cache' : 'Downloading';
  return `${what} ${p.file}: ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`;
}

/** The non-empty trimmed lines of a textarea. */
export const lines = (id: string) =>
  $<HTMLTextAreaElement>(id)
    .value.split('\n')
    .map((s) => s.trim())
    .filter(Boolean);

export function badge(name: string, present: boolean): HTMLElement {
  return el('span', { className: `badge ${present ? 'yes' : 'no'}`, textContent: name, title: present ? `${name}: available` : `${name}: not available` });
}

export type FactRow = [term: string, ...value: (Node | string)[]];

/** The facts every panel shows about its loaded model, then `extra` rows. */
export function modelFacts(info: ModelInfo, name: string, extra: FactRow[] = []): FactRow[] {
  const { config } = info;
  return [
    ['Model', `${name}: ${info.architecture}, ${config.numLayers} layers × ${config.hiddenSize} hidden, ${(info.parameterCount / 1e6).toFixed(1)} M parameters (${Object.keys(info.dtypes).join('/')})`],
    ['Head', info.head === 'mlm' ? 'masked language model' : info.head === 'classification' ? `classification (${info.labels?.join(', ')})` : info.head === 'token-classification' ? 'token classification' : 'none (encoder only)'],
    ['Tokenizer', info.tokenizer ?? 'none'],
    ...extra,
  ];
}

export function showFacts(list: HTMLElement, rows: FactRow[]): void {
  list.replaceChildren(...rows.flatMap(([term, ...value]) => [el('dt', { textContent: term }), el('dd', {}, ...value)]));
  list.hidden = false;
}

/** Collects the timings of each model call of a task, under a label. */
export type Timed = (label: string) => (t: RunTimings) => void;
