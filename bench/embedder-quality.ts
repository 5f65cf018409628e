// Embedding quality of the bundled checkpoints, side by side in one run, on text no model trained on:
//  - retrieval on the 2000 WordNet synsets held out of training (bench/data/wordnet-heldout.json,
//    written by scripts/train-embedder/train.py): each definition is a query, the synsets' lemmas
//    (joined with ", ") are the 2000 candidates; recall@1, recall@10 and MRR of the right one;
//  - WordNet triplets from the same held-out synsets: anchor = a definition, paraphrase = its lemmas
//    when they share no word with it, distractor = another held-out synset's lemmas that share a
//    word with it; the fraction where the paraphrase is closer;
//  - hand-written sentence triplets (anchor; a paraphrase sharing no word with it; a distractor
//    sharing words but not meaning; bench/data/sentence-triplets.json, both rules checked here): a dev
//    set the training script also scores, and a test set written before the shipped model was trained
//    and scored only here.
// Models: weights/wordnet-mini ('bundled', trained on WordNet), weights/neobert-mini ('bundled-mlm',
// random weights) with its mean pooling + normalisation, and a TF-IDF baseline (lowercased words,
// sublinear tf, smooth idf over the evaluated texts, cosine).
// --also DIR adds another model folder (an earlier checkpoint, say) to the same run.
//   node scripts/build.mjs --run bench/embedder-quality.ts [--json FILE] [--also DIR]...
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Encoder } from '../src/encoder';
import { createGPU } from '../src/gpu';
import { folderSource } from '../src/sources/folder';

interface Synset {
  id: string;
  pos: string;
  lemmas: string[];
  definition: string;
}

type Triplet = [anchor: string, paraphrase: string, distractor: string];
// dev: written before the first training run and used since to choose between runs; test: written
// before the second run and never used to choose anything (bench/data/sentence-triplets.json)
const TRIPLETS = JSON.parse(readFileSync('bench/data/sentence-triplets.json', 'utf8')) as Record<'dev' | 'test', { triplets: Triplet[] }>;
const SENTENCE_SETS = { dev: TRIPLETS.dev.triplets, test: TRIPLETS.test.triplets };
const SENTENCE_TRIPLETS = [...SENTENCE_SETS.dev, ...SENTENCE_SETS.test];

const words = (t: string) => t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
const STOP = new Set('a an the of to in on at for by with from and or is are was were be as that this it its into upon'.split(' '));
const contentWords = (t: string) => new Set(words(t).filter((w) => !STOP.has(w)));
const shares = (a: Set<string>, b: Set<string>) => [...a].some((w) => b.has(w));

for (const [a, p, d] of SENTENCE_TRIPLETS) {
  const wa = new Set(words(a));
  if (words(p).some((w) => wa.has(w))) throw new Error(`triplet "${a}": the paraphrase "${p}" shares a word with it`);
  if (!shares(contentWords(d), contentWords(a))) throw new Error(`triplet "${a}": the distractor "${d}" shares no content word with it`);
}

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const also = args.flatMap((a, i) => (a === '--also' && args[i + 1] ? [args[i + 1]] : []));
const data = JSON.parse(readFileSync('bench/data/wordnet-heldout.json', 'utf8')) as { synsets: Synset[] };
const synsets = data.synsets;
const queries = synsets.map((s) => s.definition);
const candidates = synsets.map((s) => s.lemmas.join(', '));

// WordNet triplets: the paraphrase (lemmas) shares no word with the definition; the distractor,
// the first other held-out synset (in id order) whose lemmas share a content word with it.
const wordnetTriplets: [number, number, number][] = [];
synsets.forEach((s, i) => {
  const def = contentWords(s.definition);
  if (shares(new Set(words(candidates[i])), new Set(words(s.definition)))) return;
  const j = synsets.findIndex((o, k) => k !== i && shares(contentWords(candidates[k]), def));
  if (j >= 0) wordnetTriplets.push([i, i, j]);
});

/** A dense embedding, or a sparse one (column -> weight) for TF-IDF. */
type Vec = Float32Array | Map<number, number>;
type Embedder = (texts: string[]) => Promise<Vec[]>;

function tfidf(corpus: string[]): Embedder {
  const df = new Map<string, number>();
  for (const t of corpus) for (const w of new Set(words(t))) df.set(w, (df.get(w) ?? 0) + 1);
  const column = new Map([...df.keys()].map((w, i) => [w, i]));
  const idf = (w: string) => Math.log((1 + corpus.length) / (1 + (df.get(w) ?? 0))) + 1;
  return async (texts) =>
    texts.map((t) => {
      const tf = new Map<string, number>();
      for (const w of words(t)) tf.set(w, (tf.get(w) ?? 0) + 1);
      const v = new Map<number, number>();
      for (const [w, n] of tf) if (column.has(w)) v.set(column.get(w)!, (1 + Math.log(n)) * idf(w));
      const norm = Math.hypot(...v.values()) || 1;
      for (const [k, x] of v) v.set(k, x / norm);
      return v;
    });
}

function dot(a: Vec, b: Vec): number {
  if (a instanceof Map && b instanceof Map) {
    const [small, large] = a.size <= b.size ? [a, b] : [b, a];
    let s = 0;
    for (const [k, x] of small) s += x * (large.get(k) ?? 0);
    return s;
  }
  const x = a as Float32Array;
  const y = b as Float32Array;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

async function evaluate(name: string, embed: Embedder) {
  const started = performance.now();
  const q = await embed(queries);
  const c = await embed(candidates);
  let r1 = 0;
  let r10 = 0;
  let mrr = 0;
  q.forEach((qv, i) => {
    const right = dot(qv, c[i]);
    let rank = 1;
    for (let k = 0; k < c.length; k++) if (k !== i && dot(qv, c[k]) > right) rank++;
    if (rank === 1) r1++;
    if (rank <= 10) r10++;
    mrr += 1 / rank;
  });
  const wn = wordnetTriplets.filter(([a, p, d]) => dot(q[a], c[p]) > dot(q[a], c[d])).length;
  const flat = SENTENCE_TRIPLETS.flat();
  const s = await embed(flat);
  const sentence = SENTENCE_TRIPLETS.map((_, t) => dot(s[3 * t], s[3 * t + 1]) > dot(s[3 * t], s[3 * t + 2]));
  const nDev = SENTENCE_SETS.dev.length;
  const closer = (xs: boolean[]) => xs.filter(Boolean).length;
  const n = queries.length;
  const result = {
    model: name,
    retrieval: { queries: n, candidates: c.length, recallAt1: r1 / n, recallAt10: r10 / n, mrr: mrr / n },
    wordnetTriplets: { count: wordnetTriplets.length, paraphraseCloser: wn },
    sentenceTriplets: {
      dev: { count: nDev, paraphraseCloser: closer(sentence.slice(0, nDev)), perTriplet: sentence.slice(0, nDev) },
      test: { count: SENTENCE_SETS.test.length, paraphraseCloser: closer(sentence.slice(nDev)), perTriplet: sentence.slice(nDev) },
    },
    seconds: (performance.now() - started) / 1000,
  };
  console.log(
    `${name.padEnd(44)} R@1 ${(result.retrieval.recallAt1 * 100).toFixed(1).padStart(5)}%  R@10 ${(result.retrieval.recallAt10 * 100).toFixed(1).padStart(5)}%  ` +
      `MRR ${result.retrieval.mrr.toFixed(3)}  WordNet triplets ${wn}/${wordnetTriplets.length}  sentence triplets dev ${result.sentenceTriplets.dev.paraphraseCloser}/${nDev} test ${result.sentenceTriplets.test.paraphraseCloser}/${SENTENCE_SETS.test.length}`,
  );
  return result;
}

const gpu = await createGPU();
const results = [];
let adapter = '';
for (const [name, source] of [
  ['weights/wordnet-mini (bundled, trained)', 'weights/wordnet-mini'],
  ...also.map((dir) => [dir, dir]),
  ['weights/neobert-mini (bundled-mlm, random)', 'weights/neobert-mini'],
]) {
  // the folders 'bundled' and 'bundled-mlm' load, from the repository (this script runs bundled elsewhere)
  const model = await Encoder.load(folderSource(path.resolve(source)), { gpu });
  const a = model.info().adapter;
  adapter = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ');
  if (results.length === 0) console.log(`[adapter] ${adapter}`);
  results.push(await evaluate(name, (texts) => model.embed(texts, { batchSize: 64 })));
  await model.dispose();
}
results.push(await evaluate('TF-IDF (words of the evaluated texts)', tfidf([...queries, ...candidates, ...SENTENCE_TRIPLETS.flat()])));
gpu.destroy();

if (jsonOut) {
  const out = { date: new Date().toISOString(), adapter, heldOut: 'bench/data/wordnet-heldout.json', results };
  writeFileSync(jsonOut + '.tmp', JSON.stringify(out, null, 1) + '\n');
  renameSync(jsonOut + '.tmp', jsonOut);
  console.log(`wrote ${path.relative(process.cwd(), jsonOut)}`);
}
process.exit(0);
