// The rerank panel: a cross-encoder (a one-label sequence classifier on [query, document] pairs,
// e.g. ms-marco MiniLM or bge-reranker) in its own worker, so the embedder stays loaded. Scores
// are sigmoid(logit), as sentence-transformers' CrossEncoder gives them.
import { RERANKERS } from './catalog';
import { lastSearchResults } from './embedder';
import { PanelModel } from './panel-model';
import { $, bar, el, lines, modelFacts, ms, showFacts, withData } from './ui';

const section = () => $('rerank-section');

export const reranker = new PanelModel('rerank-', {
  stateTarget: section(),
  taskButtons: () => [$<HTMLButtonElement>('rerank')],
  onLoaded: (_model, info, name) => {
    const extra: [string, string][] = [];
    if (info.head !== 'classification') extra.push(['Note', 'this checkpoint has no classification head, so it cannot rerank']);
    else if ((info.labels?.length ?? 0) > 1) extra.push(['Score', `softmax probability of the last label (${info.labels!.at(-1)})`]);
    showFacts($('rerank-facts'), modelFacts(info, name, extra));
  },
});

async function rerank(): Promise<void> {
  await reranker.run('rerank-timings', section(), async (model, timed) => {
    const query = $<HTMLInputElement>('rerank-query').value.trim();
    const documents = lines('rerank-docs');
    if (!query) throw new Error('Type a query.');
    if (documents.length === 0) throw new Error('Write the documents to rank, one per line.');
    let workerMs = 0;
    const onTimings = timed(`${documents.length} [query, document] pairs`);
    const started = performance.now();
    const ranked = await model.rank(query, documents, {
      onTimings: (t) => {
        workerMs = t.totalMs;
        onTimings(t);
      },
    });
    const roundTrip = performance.now() - started;
    $('rerank-results').replaceChildren(
      ...ranked.map((r) =>
        withData(
          el(
            'li',
            {},
            el('span', { className: 'score', textContent: r.score.toFixed(3) }),
            documents[r.index],
            el('span', { className: 'muted', textContent: ` (logit ${r.logit.toFixed(2)})` }),
            bar(r.score),
          ),
          { index: String(r.index), score: String(r.score), logit: String(r.logit), text: documents[r.index] },
        ),
      ),
    );
    $('rerank-summary').textContent = `${documents.length} documents ranked in ${ms(workerMs)} ms in the worker, ${ms(roundTrip)} ms round trip.`;
  });
}

export function initRerank(): void {
  reranker.init(RERANKERS);
  $('rerank').addEventListener('click', rerank);
  $('rerank-query').addEventListener('keydown', (e) => e.key === 'Enter' && rerank());
  $('rerank-use-corpus').addEventListener('click', () => {
    $<HTMLTextAreaElement>('rerank-docs').value = lines('corpus').join('\n');
    $<HTMLInputElement>('rerank-query').value = $<HTMLInputElement>('query').value;
  });
  $('rerank-use-results').addEventListener('click', () => {
    if (lastSearchResults.length === 0) {
      reranker.showError('Run a semantic search first: its results, best first, become the documents.');
      return;
    }
    $<HTMLTextAreaElement>('rerank-docs').value = lastSearchResults.join('\n');
    $<HTMLInputElement>('rerank-query').value = $<HTMLInputElement>('query').value;
  });
}
