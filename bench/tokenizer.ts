// Tokenizer throughput (a benchmark, not a test: test/tokenizer.test.ts checks what the batch
// computes). A 1000-sentence batch through bert-base-uncased's vocab.txt (WordPiece), timed after
// a warm-up; prints texts, tokens, the median of the repeats and tokens/s. Figures depend on the
// machine and its load: quote them with the machine, side by side with another run.
//   node scripts/build.mjs --run bench/tokenizer.ts [--repeats 5]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EncoderTokenizer } from '../src/tokenizer';

const shared = process.env.NEOBERT_SHARED_DIR ?? path.resolve('../shared');
const repeats = process.argv.includes('--repeats') ? Number(process.argv[process.argv.indexOf('--repeats') + 1]) : 5;
const tok = EncoderTokenizer.fromVocabTxt(readFileSync(path.join(shared, 'fixtures', 'tokenizer', 'vocab.txt'), 'utf8'));
const words = 'the quick brown fox jumps over lazy dog unaffable embeddings tokenization NeoBERT runs in browser at tokens'.split(' ');
const texts = Array.from({ length: 1000 }, (_, i) => Array.from({ length: 20 + (i % 30) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ') + '.');
tok.encodeBatch(texts.slice(0, 50)); // warm up
const times: number[] = [];
let tokens = 0;
for (let r = 0; r < repeats; r++) {
  const t0 = performance.now();
  const b = tok.encodeBatch(texts);
  times.push(performance.now() - t0);
  tokens = b.lengths.reduce((a, x) => a + x, 0);
}
times.sort((a, b) => a - b);
const ms = times[Math.floor(times.length / 2)];
console.log(`[tokenizer] ${texts.length} texts, ${tokens} tokens: median ${ms.toFixed(1)} ms of ${repeats} = ${Math.round(tokens / (ms / 1000))} tokens/s`);
