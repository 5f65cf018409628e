import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TOKENIZER_FIXTURES_DIR } from './fixtures';
import { describe, expect, it } from 'vitest';
import {
  NeoBERTTokenizer,
  TokenLimitError,
  buildBertTokenizerJson,
  type EncodedBatch,
} from '../src/tokenizer';

const vocabTxt = readFileSync(path.join(TOKENIZER_FIXTURES_DIR, 'vocab.txt'), 'utf8');
const cases: { text: string; tokens: string[]; input_ids: number[] }[] = JSON.parse(
  readFileSync(path.join(TOKENIZER_FIXTURES_DIR, 'cases.json'), 'utf8'),
);
const vocabLines = vocabTxt.replace(/\n$/, '').split('\n');

const fromVocab = NeoBERTTokenizer.fromVocabTxt(vocabTxt);
const fromJson = NeoBERTTokenizer.fromTokenizerJson(JSON.stringify(buildBertTokenizerJson(vocabLines)));
const fromJsonObj = NeoBERTTokenizer.fromTokenizerJson(buildBertTokenizerJson(vocabLines));

function row(b: EncodedBatch, i: number, arr: Int32Array = b.inputIds): number[] {
  return Array.from(arr.subarray(i * b.seqLen, (i + 1) * b.seqLen));
}

/** A small valid vocab.txt: the five specials, then some words. */
function tinyVocab(extra: string[] = ['hello', 'world', 'a']): string[] {
  return ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...extra];
}

describe('fixture cases', () => {
  it('has all 16 cases', () => expect(cases.length).toBe(16));
  for (const [name, tok] of [
    ['vocab.txt', fromVocab],
    ['tokenizer.json (string)', fromJson],
    ['tokenizer.json (object)', fromJsonObj],
  ] as const) {
    describe(name, () => {
      it.each(cases.map((c, i) => [i, c] as const))('case %i', (_i, c) => {
        expect(tok.encode(c.text)).toEqual(c.input_ids);
        expect(tok.tokenize(c.text, { addSpecial: true })).toEqual(c.tokens);
        expect(tok.tokenize(c.text)).toEqual(c.tokens.slice(1, -1));
        expect(c.input_ids.map((id) => tok.idToToken(id))).toEqual(c.tokens);
        expect(c.tokens.map((t) => tok.tokenToId(t))).toEqual(c.input_ids);
      });
      it('whole fixture as one batch', () => {
        const b = tok.encodeBatch(cases.map((c) => c.text));
        expect(b.batch).toBe(cases.length);
        cases.forEach((c, i) => {
          expect(b.lengths[i]).toBe(c.input_ids.length);
          expect(row(b, i).slice(0, b.lengths[i])).toEqual(c.input_ids);
        });
      });
    });
  }
});

describe('special ids and properties', () => {
  it.each([
    ['vocab.txt', fromVocab],
    ['tokenizer.json', fromJson],
  ] as const)('%s', (_n, tok) => {
    expect(tok.vocabSize).toBe(30522);
    expect(tok.padId).toBe(0);
    expect(tok.unkId).toBe(100);
    expect(tok.clsId).toBe(101);
    expect(tok.sepId).toBe(102);
    expect(tok.maskId).toBe(103);
    expect(tok.maskToken).toBe('[MASK]');
    expect(tok.maxLength).toBe(4096);
    expect(tok.tokenToId('no-such-token')).toBeUndefined();
  });

  it('reads special ids from the tokenizer.json (not hard-coded)', () => {
    const lines = ['hello', 'world', '[MASK]', '[SEP]', '[CLS]', '[UNK]', '[PAD]'];
    const tok = NeoBERTTokenizer.fromTokenizerJson(buildBertTokenizerJson(lines));
    expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).toEqual([6, 5, 4, 3, 2]);
    expect(tok.encode('hello [MASK] world zzz')).toEqual([4, 0, 2, 1, 5, 3]);
    const b = tok.encodeBatch(['hello', 'hello world hello']);
    expect(row(b, 0)).toEqual([4, 0, 3, 6, 6]);
  });

  it('keeps written special tokens whole but not lower-cased look-alikes', () => {
    expect(fromVocab.tokenize('a [MASK] b [SEP] c')).toEqual(['a', '[MASK]', 'b', '[SEP]', 'c']);
    expect(fromVocab.tokenize('a [mask]')).toEqual(['a', '[', 'mask', ']']);
  });

  it('adds the specials as whole-match tokens when a tokenizer.json lists them only in the vocab', () => {
    const j = buildBertTokenizerJson(tinyVocab()) as Record<string, unknown>;
    const tok = NeoBERTTokenizer.fromTokenizerJson({ ...j, added_tokens: [] });
    expect(tok.encode('hello [MASK]')).toEqual([2, 5, 4, 3]);
  });
});

describe('encodeBatch', () => {
  const texts = ['hello world', 'Hello, World! The quick brown fox.', ''];
  const b = fromVocab.encodeBatch(texts);

  it('right-pads with padId and masks', () => {
    const ids = texts.map((t) => fromVocab.encode(t));
    expect(b.batch).toBe(3);
    expect(b.lengths).toEqual(ids.map((r) => r.length));
    expect(b.seqLen).toBe(Math.max(...b.lengths));
    expect(b.truncated).toEqual([false, false, false]);
    expect(b.inputIds).toBeInstanceOf(Int32Array);
    expect(b.attentionMask).toBeInstanceOf(Int32Array);
    expect(b.inputIds.length).toBe(b.batch * b.seqLen);
    expect(b.attentionMask.length).toBe(b.batch * b.seqLen);
    ids.forEach((r, i) => {
      const pad = b.seqLen - r.length;
      expect(row(b, i)).toEqual([...r, ...new Array(pad).fill(fromVocab.padId)]);
      expect(row(b, i, b.attentionMask)).toEqual([...new Array(r.length).fill(1), ...new Array(pad).fill(0)]);
    });
    expect(row(b, 2).slice(0, 2)).toEqual([101, 102]);
  });

  it('single text has no padding', () => {
    const s = fromVocab.encodeBatch(['hello world']);
    expect(s.seqLen).toBe(4);
    expect(Array.from(s.inputIds)).toEqual([101, 7592, 2088, 102]);
    expect(Array.from(s.attentionMask)).toEqual([1, 1, 1, 1]);
  });

  it('truncation keeps [CLS] ... [SEP] (HF behaviour)', () => {
    const long = 'the quick brown fox jumps over the lazy dog';
    const full = fromVocab.encode(long); // 11 tokens
    const t = fromVocab.encodeBatch([long, 'hello'], { maxLength: 6 });
    expect(t.seqLen).toBe(6);
    expect(t.lengths).toEqual([6, 3]);
    expect(t.truncated).toEqual([true, false]);
    expect(row(t, 0)).toEqual([...full.slice(0, 5), 102]);
    expect(row(t, 1)).toEqual([101, 7592, 102, 0, 0, 0]);
    expect(row(t, 0, t.attentionMask)).toEqual([1, 1, 1, 1, 1, 1]);
    // exactly at the limit: not truncated
    const e = fromVocab.encodeBatch([long], { maxLength: full.length });
    expect(e.truncated).toEqual([false]);
    expect(Array.from(e.inputIds)).toEqual(full);
    // maxLength 2: only the specials survive
    const two = fromVocab.encodeBatch([long], { maxLength: 2 });
    expect(Array.from(two.inputIds)).toEqual([101, 102]);
  });

  it('truncates to the factory maxLength by default', () => {
    const tok = NeoBERTTokenizer.fromVocabTxt(vocabTxt, 'vocab.txt', { maxLength: 8 });
    expect(tok.maxLength).toBe(8);
    const t = tok.encodeBatch(['a b c d e f g h i j k l']);
    expect(t.seqLen).toBe(8);
    expect(t.truncated).toEqual([true]);
    expect(Array.from(t.inputIds)).toEqual([101, ...fromVocab.encode('a b c d e f').slice(1, -1), 102]);
    // encode() never truncates
    expect(tok.encode('a b c d e f g h i j k l').length).toBe(14);
  });

  it('truncation: false throws TokenLimitError', () => {
    const texts2 = ['hello', 'one two three four five six seven'];
    let err: unknown;
    try {
      fromVocab.encodeBatch(texts2, { maxLength: 5, truncation: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenLimitError);
    expect(err).toBeInstanceOf(Error);
    const te = err as TokenLimitError;
    expect(te.index).toBe(1);
    expect(te.tokens).toBe(9);
    expect(te.limit).toBe(5);
    expect(te.message).toBe('text 1 has 9 tokens, over the limit of 5 (pass truncation to cut it)');
    // under the limit it works
    expect(fromVocab.encodeBatch(texts2, { maxLength: 9, truncation: false }).truncated).toEqual([false, false]);
  });

  it('TokenLimitError at the default 4096 limit', () => {
    const text = 'word '.repeat(5010);
    expect(() => fromVocab.encodeBatch([text], { truncation: false })).toThrow(
      'text 0 has 5012 tokens, over the limit of 4096 (pass truncation to cut it)',
    );
    const t = fromVocab.encodeBatch([text]);
    expect(t.seqLen).toBe(4096);
    expect(t.inputIds[0]).toBe(101);
    expect(t.inputIds[4095]).toBe(102);
    expect(t.inputIds[4094]).toBe(fromVocab.tokenToId('word'));
  });

  it('maxLength over the model limit is an error naming both', () => {
    expect(() => fromVocab.encodeBatch(['hello'], { maxLength: 8192 })).toThrow(/8192.*4096/);
    const small = NeoBERTTokenizer.fromVocabTxt(vocabTxt, 'vocab.txt', { maxLength: 512 });
    expect(() => small.encodeBatch(['hello'], { maxLength: 513 })).toThrow(/513.*512/);
  });

  it('maxLength < 2 or not an integer is an error', () => {
    expect(() => fromVocab.encodeBatch(['hello'], { maxLength: 1 })).toThrow(/at least 2/);
    expect(() => fromVocab.encodeBatch(['hello'], { maxLength: 0 })).toThrow(/at least 2/);
    expect(() => fromVocab.encodeBatch(['hello'], { maxLength: 3.5 })).toThrow(/integer/);
    expect(() => NeoBERTTokenizer.fromVocabTxt(vocabTxt, 'vocab.txt', { maxLength: 1 })).toThrow(/at least 2/);
  });

  it('empty batch throws', () => {
    expect(() => fromVocab.encodeBatch([])).toThrow(/empty batch/);
  });

  it('non-string entries throw naming the index', () => {
    expect(() => fromVocab.encodeBatch(['ok', 42 as unknown as string])).toThrow(/texts\[1\]/);
    expect(() => fromVocab.encodeBatch(['ok', 'ok', null as unknown as string])).toThrow(/texts\[2\].*null/);
  });
});

describe('vocab validation', () => {
  it('missing [CLS]', () => {
    const lines = tinyVocab().filter((t) => t !== '[CLS]');
    expect(() => NeoBERTTokenizer.fromVocabTxt(lines.join('\n'), 'my/vocab.txt')).toThrow(
      /my\/vocab\.txt.*\[CLS\]/,
    );
    expect(() => buildBertTokenizerJson(lines)).toThrow(/\[CLS\]/);
  });

  it('duplicates', () => {
    const lines = tinyVocab(['hello', 'world', 'hello']);
    expect(() => NeoBERTTokenizer.fromVocabTxt(lines.join('\n'), 'dup.txt')).toThrow(
      /dup\.txt: duplicate token "hello" on lines 6 and 8/,
    );
  });

  it('empty', () => {
    expect(() => NeoBERTTokenizer.fromVocabTxt('', 'empty.txt')).toThrow(/empty\.txt.*empty/);
    expect(() => NeoBERTTokenizer.fromVocabTxt('\n', 'empty.txt')).toThrow(/empty\.txt.*empty/);
  });

  it('empty line in the middle', () => {
    expect(() => NeoBERTTokenizer.fromVocabTxt([...tinyVocab(), '', 'x'].join('\n'), 'v.txt')).toThrow(
      /v\.txt: line 9 is empty/,
    );
  });

  it('accepts CRLF, a BOM and no final newline', () => {
    const lines = tinyVocab();
    const tok = NeoBERTTokenizer.fromVocabTxt('\ufeff' + lines.join('\r\n') + '\r\n');
    expect(tok.encode('hello world')).toEqual([2, 5, 6, 3]);
    expect(NeoBERTTokenizer.fromVocabTxt(lines.join('\n')).encode('hello x')).toEqual([2, 5, 1, 3]);
    expect(tok.vocabSize).toBe(8);
  });
});

describe('tokenizer.json validation', () => {
  const base = buildBertTokenizerJson(tinyVocab()) as Record<string, any>;

  it('is JSON-serialisable and round-trips', () => {
    const s = JSON.stringify(base);
    expect(JSON.parse(s).model.vocab).toEqual({ ...base.model.vocab });
    expect(JSON.parse(s).model.type).toBe('WordPiece');
    expect(NeoBERTTokenizer.fromTokenizerJson(s).encode('hello world')).toEqual([2, 5, 6, 3]);
  });

  it('rejects model types other than WordPiece, BPE and Unigram', () => {
    const wl = { ...base, model: { type: 'WordLevel', vocab: {}, unk_token: '[UNK]' } };
    expect(() => NeoBERTTokenizer.fromTokenizerJson(wl, 'x/tokenizer.json')).toThrow(
      /x\/tokenizer\.json: model type is "WordLevel"/,
    );
    // BPE is supported (RoBERTa, ModernBERT), but not with an empty vocabulary.
    const bpe = { ...base, model: { type: 'BPE', vocab: {}, merges: [] } };
    expect(() => NeoBERTTokenizer.fromTokenizerJson(bpe, 'x/tokenizer.json')).toThrow(/x\/tokenizer\.json: model\.vocab is missing or empty/);
  });

  it('rejects bad JSON and missing specials', () => {
    expect(() => NeoBERTTokenizer.fromTokenizerJson('{oops', 't.json')).toThrow(/t\.json: not valid JSON/);
    const vocab = { ...base.model.vocab };
    delete vocab['[MASK]'];
    const j = { ...base, added_tokens: base.added_tokens.filter((a: any) => a.content !== '[MASK]'), model: { ...base.model, vocab } };
    expect(() => NeoBERTTokenizer.fromTokenizerJson(j, 't.json')).toThrow(/t\.json.*\[MASK\]/);
  });

  it('rejects two tokens on one id', () => {
    const j = { ...base, model: { ...base.model, vocab: { ...base.model.vocab, other: 5 } } };
    expect(() => NeoBERTTokenizer.fromTokenizerJson(j, 't.json')).toThrow(/t\.json: id 5 is used by both/);
  });

  it('takes [CLS]/[SEP] ids from a BertProcessing post-processor', () => {
    const j = { ...base, post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] } };
    const tok = NeoBERTTokenizer.fromTokenizerJson(j);
    expect(tok.encode('hello')).toEqual([2, 5, 3]);
  });

  it('works without post_processor/decoder keys', () => {
    const { post_processor: _p, decoder: _d, ...rest } = base;
    const tok = NeoBERTTokenizer.fromTokenizerJson(rest);
    expect(tok.encode('hello world')).toEqual([2, 5, 6, 3]);
    expect(tok.decode([2, 5, 6, 3], { skipSpecial: true })).toBe('hello world');
  });
});

describe('fromFiles', () => {
  const json = JSON.stringify(buildBertTokenizerJson(tinyVocab(['hello', 'world'])));
  it('prefers tokenizer.json', () => {
    const tok = NeoBERTTokenizer.fromFiles({ vocabTxt, tokenizerJson: json });
    expect(tok.vocabSize).toBe(7);
  });
  it('falls back to vocab.txt', () => {
    const tok = NeoBERTTokenizer.fromFiles({ vocabTxt, tokenizerJson: null });
    expect(tok.vocabSize).toBe(30522);
    expect(tok.encode('hello world')).toEqual([101, 7592, 2088, 102]);
  });
  it('passes maxLength', () => {
    expect(NeoBERTTokenizer.fromFiles({ vocabTxt: null, tokenizerJson: json }, { maxLength: 128 }).maxLength).toBe(128);
  });
  it('errors clearly when neither is given', () => {
    expect(() => NeoBERTTokenizer.fromFiles({ vocabTxt: null, tokenizerJson: null })).toThrow(
      /tokenizer\.json or vocab\.txt/,
    );
  });
});

describe('decode', () => {
  it('round trips a simple sentence', () => {
    const text = 'the quick brown fox jumps over the lazy dog.';
    const ids = fromVocab.encode(text);
    expect(fromVocab.decode(ids, { skipSpecial: true })).toBe(text);
    expect(fromVocab.decode(ids)).toBe('[CLS] ' + text + ' [SEP]');
    expect(fromJson.decode(ids, { skipSpecial: true })).toBe(text);
  });

  it('joins word pieces and skips padding', () => {
    const b = fromVocab.encodeBatch(['tokenization of embeddings', 'a']);
    expect(fromVocab.decode(b.inputIds.subarray(b.seqLen, 2 * b.seqLen), { skipSpecial: true })).toBe('a');
    expect(fromVocab.decode(b.inputIds.subarray(0, b.seqLen), { skipSpecial: true })).toBe('tokenization of embeddings');
    expect(fromVocab.decode(fromVocab.encode('Hello, World!'), { skipSpecial: true })).toBe('hello, world!');
    expect(fromVocab.decode(fromVocab.encode('Paris is the [MASK] of France.'))).toBe(
      '[CLS] paris is the [MASK] of france. [SEP]',
    );
  });

  it('empty and invalid ids', () => {
    expect(fromVocab.decode([])).toBe('');
    expect(fromVocab.decode([101, 102], { skipSpecial: true })).toBe('');
    expect(() => fromVocab.decode([101, 30522])).toThrow(/ids\[1\] = 30522/);
    expect(() => fromVocab.decode([-1])).toThrow(RangeError);
  });
});

describe('a large batch', () => {
  // Tokens per second are a benchmark (bench/tokenizer.ts), not a test: this checks what the
  // batch computes and how much work it did.
  it('encodes a 1000-sentence batch exactly as each sentence alone, tokenizing each character once', () => {
    const words = 'the quick brown fox jumps over lazy dog unaffable embeddings tokenization NeoBERT runs in browser at tokens'.split(' ');
    const texts = Array.from({ length: 1000 }, (_, i) =>
      Array.from({ length: 20 + (i % 30) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ') + '.',
    );
    const before = fromVocab.stats.charactersTokenized;
    const b = fromVocab.encodeBatch(texts);
    expect(fromVocab.stats.charactersTokenized - before).toBe(texts.reduce((n, t) => n + t.length, 0));
    const tokens = b.lengths.reduce((a, x) => a + x, 0);
    expect(tokens).toBeGreaterThan(20000);
    for (const i of [0, 1, 499, 998, 999]) {
      expect(Array.from(b.inputIds.subarray(i * b.seqLen, i * b.seqLen + b.lengths[i])), `text ${i}`).toEqual(fromVocab.encode(texts[i]));
    }
  });
});
