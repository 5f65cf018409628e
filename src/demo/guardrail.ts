// The guardrail panel: a sequence classifier (a prompt-injection detector: the DeBERTa-v3 ones in
// GUARDRAILS, a ModernBERT one, or any BERT-family classifier) in its own worker. guard() gives each query the probability of the
// block labels and blocks at or above the threshold. Changing the threshold or the block labels
// re-decides the queries already shown from their label probabilities, without running the model.
import type { GuardDecision, LabelScore } from '../index';
import { CLASSIFIERS, GUARDRAILS } from './catalog';
import { PanelModel } from './panel-model';
import { $, el, lines, modelFacts, ms, showFacts, withData } from './ui';

const section = () => $('guard-section');

interface Checked {
  text: string;
  labels: LabelScore[];
  /** Worker time of its guard() call (tokenize + GPU + readback). */
  workerMs: number;
  /** Page round trip of its guard() call. */
  roundTripMs: number;
}

/** Single queries, newest first, and the last batch. */
let checked: Checked[] = [];
let batch: { texts: string[]; labels: LabelScore[][]; workerMs: number; roundTripMs: number } | null = null;
let labelNames: string[] = [];

export const guardrail = new PanelModel('guard-', {
  stateTarget: section(),
  taskButtons: () => [$<HTMLButtonElement>('guard-check'), $<HTMLButtonElement>('guard-run-batch')],
  onUnload: () => {
    checked = [];
    batch = null;
    render();
  },
  onLoaded: (_model, info, name) => {
    labelNames = info.labels ?? [];
    showFacts(
      $('guard-facts'),
      modelFacts(info, name, [['Labels', labelNames.length ? labelNames.map((l, i) => `${i}: ${l}`).join(', ') : 'none: this checkpoint has no classification head']]),
    );
    // Default block label: label 1 of a two-label classifier (e.g. SAFE / INJECTION); others must choose.
    $('guard-block-labels').replaceChildren(
      ...labelNames.map((label, i) => {
        const box = document.createElement('input');
        Object.assign(box, { type: 'checkbox', value: String(i), checked: labelNames.length === 2 && i === 1, id: `guard-block-${i}` });
        box.addEventListener('change', render);
        return el('label', { className: 'check', htmlFor: box.id }, box, ` ${i}: ${label}`);
      }),
    );
    $('guard-block-hint').textContent =
      labelNames.length === 0 ? 'This checkpoint has no classification head: load a sequence classifier.' : labelNames.length === 2 ? 'Default: label 1.' : 'Tick the labels that mean "block".';
  },
});

/** The threshold as typed in the number box (the slider snaps to its steps). */
function threshold(): number {
  const typed = Number($<HTMLInputElement>('guard-threshold-value').value);
  return Number.isFinite(typed) ? Math.max(0, Math.min(1, typed)) : Number($<HTMLInputElement>('guard-threshold').value);
}

function blockIds(): number[] {
  return [...document.querySelectorAll<HTMLInputElement>('#guard-block-labels input:checked')].map((box) => Number(box.value));
}

/** guard()'s decision rule, for re-deciding shown queries when the settings change. */
function decide(labels: LabelScore[], block: number[], at: number): Pick<GuardDecision, 'decision' | 'score' | 'label'> {
  const score = labels.filter((s) => block.includes(s.id)).reduce((sum, s) => sum + s.score, 0);
  return { decision: score >= at ? 'block' : 'allow', score, label: labels[0].label };
}

/** Worker time, and the page's round trip under it. */
const latencyCell = (c: Checked) => el('td', { className: 'num' }, `${ms(c.workerMs)} ms`, el('span', { className: 'muted', textContent: `${ms(c.roundTripMs)} ms round trip` }));

function decisionRow(text: string, labels: LabelScore[], latency: HTMLElement | null): HTMLTableRowElement {
  const d = decide(labels, blockIds(), threshold());
  return withData(
    el(
      'tr',
      { className: d.decision },
      el('td', {}, el('span', { className: `decision ${d.decision}`, textContent: d.decision })),
      el('td', { className: 'num', textContent: d.score.toFixed(3) }),
      el('td', { textContent: d.label }),
      ...(latency === null ? [] : [latency]),
      el('td', { className: 'text', textContent: text }),
    ),
    { decision: d.decision, score: String(d.score), label: d.label, text },
  );
}

function head(...names: string[]): HTMLTableSectionElement {
  return el('thead', {}, el('tr', {}, ...names.map((n) => el('th', { scope: 'col', textContent: n }))));
}

function render(): void {
  $('guard-checks').replaceChildren(
    ...(checked.length
      ? [head('Decision', 'P(block)', 'Top label', 'Latency', 'Query'), el('tbody', {}, ...checked.map((c) => decisionRow(c.text, c.labels, latencyCell(c))))]
      : []),
  );
  if (!batch) {
    $('guard-rows').replaceChildren();
    $('guard-counts').textContent = '';
    return;
  }
  const rows = batch.texts.map((text, i) => decisionRow(text, batch!.labels[i], null));
  const blocked = rows.filter((r) => r.dataset.decision === 'block').length;
  $('guard-rows').replaceChildren(head('Decision', 'P(block)', 'Top label', 'Query'), el('tbody', {}, ...rows));
  const counts = $('guard-counts');
  counts.dataset.allow = String(rows.length - blocked);
  counts.dataset.block = String(blocked);
  counts.replaceChildren(
    el('span', { className: 'decision allow', textContent: `${rows.length - blocked} allow` }),
    ' ',
    el('span', { className: 'decision block', textContent: `${blocked} block` }),
    ` of ${rows.length} queries · ${ms(batch.workerMs / rows.length)} ms per query in the worker (${ms(batch.workerMs)} ms for the batch, ${ms(batch.roundTripMs)} ms round trip)`,
  );
}

/** Runs guard() on texts with the panel's settings; returns the label probabilities and times. */
async function runGuard(texts: string[], label: string): Promise<{ labels: LabelScore[][]; workerMs: number; roundTripMs: number } | null> {
  let result: { labels: LabelScore[][]; workerMs: number; roundTripMs: number } | null = null;
  await guardrail.run('guard-timings', section(), async (model, timed) => {
    const blockLabels = blockIds();
    if (blockLabels.length === 0) throw new Error('Choose at least one block label.');
    const onTimings = timed(label);
    let workerMs = 0;
    const started = performance.now();
    const decisions = await model.guard(texts, {
      threshold: threshold(),
      blockLabels,
      onTimings: (t) => {
        workerMs = t.totalMs;
        onTimings(t);
      },
    });
    result = { labels: decisions.map((d) => d.labels), workerMs, roundTripMs: performance.now() - started };
  });
  return result;
}

async function check(): Promise<void> {
  const text = $<HTMLInputElement>('guard-query').value.trim();
  if (!text) return guardrail.showError('Type a query.');
  const result = await runGuard([text], 'query');
  if (!result) return;
  checked = [{ text, labels: result.labels[0], workerMs: result.workerMs, roundTripMs: result.roundTripMs }, ...checked].slice(0, 20);
  render();
}

async function runBatch(): Promise<void> {
  const texts = lines('guard-batch');
  if (texts.length === 0) return guardrail.showError('Write the queries, one per line.');
  const result = await runGuard(texts, `batch of ${texts.length} queries`);
  if (!result) return;
  batch = { texts, ...result };
  render();
}

export function initGuardrail(): void {
  guardrail.init([...GUARDRAILS, ...CLASSIFIERS]);
  const slider = $<HTMLInputElement>('guard-threshold');
  const number = $<HTMLInputElement>('guard-threshold-value');
  slider.addEventListener('input', () => {
    number.value = slider.value;
    render();
  });
  number.addEventListener('input', () => {
    slider.value = String(threshold());
    render();
  });
  $('guard-check').addEventListener('click', check);
  $('guard-query').addEventListener('keydown', (e) => e.key === 'Enter' && check());
  $('guard-run-batch').addEventListener('click', runBatch);
}
