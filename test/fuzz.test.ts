// Fuzzers, deterministic and sized for CI: mutated safetensors checkpoints, mutated tokenizer
// files and random strings through every tokenizer. Each input either works or fails with one of
// the library's typed errors (never a TypeError, RangeError or a crash), and truncation of a long
// text (tokenized only as far as it can be kept) gives exactly the ids of the whole text, cut.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, memorySource } from '../src/checkpoint';
import { NeoBERTError } from '../src/errors';
import { parseSafetensors, serializeSafetensors, type SerializableTensor } from '../src/safetensors';
import { EncoderTokenizer } from '../src/tokenizer';
import { applyTemplate, longestFirst } from '../src/tokenizer/template';
import { buildBertTokenizerJson } from '../src/tokenizer/files';
import { TOKENIZER_FIXTURES_DIR } from './fixtures';

// Rounds per fuzzer: a quarter in the default suite (the same properties on fewer random cases,
// fixed seeds); the full counts with NEOBERT_TEST_SLOW=1 (`npm run test:slow`).
const SLOW = process.env.NEOBERT_TEST_SLOW === '1';
const CHECKPOINT_MUTATIONS = SLOW ? 2000 : 500;
const RANDOM_TEXTS = SLOW ? 2000 : 500;
const TOKENIZER_MUTATIONS = SLOW ? 300 : 100;

/** mulberry32: the same sequence on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `f`; an error must be one of ours. Returns the error's class name, or 'ok'. */
async function typedOrOk(f: () => unknown, what: () => string): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof NeoBERTError)) throw new Error(`${what()}: untyped ${(e as Error)?.name}: ${(e as Error)?.message}`);
    return e.name;
  }
}

describe(`safetensors checkpoint fuzzer (${CHECKPOINT_MUTATIONS} mutations)`, () => {
  // A tiny NeoBERT checkpoint (hidden 8, 1 layer, vocab 32, MLM head) in memory.
  const C = 8;
  const F = 16; // ffnWidthFor(24)
  const V = 32;
  const random = rng(11);
  const t = (shape: number[]): SerializableTensor => ({ dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() - 0.5) });
  const tensors: Record<string, SerializableTensor> = {
    'model.encoder.weight': t([V, C]),
    'model.transformer_encoder.0.attention_norm.weight': t([C]),
    'model.transformer_encoder.0.qkv.weight': t([3 * C, C]),
    'model.transformer_encoder.0.wo.weight': t([C, C]),
    'model.transformer_encoder.0.ffn_norm.weight': t([C]),
    'model.transformer_encoder.0.ffn.w12.weight': t([2 * F, C]),
    'model.transformer_encoder.0.ffn.w3.weight': t([C, F]),
    'model.layer_norm.weight': t([C]),
    'decoder.weight': t([V, C]),
    'decoder.bias': t([V]),
  };
  const file = serializeSafetensors(tensors);
  const config = JSON.stringify({
    architectures: ['NeoBERTLMHead'],
    model_type: 'neobert',
    hidden_size: C,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 24,
    vocab_size: V,
    max_length: 64,
    norm_eps: 1e-5,
  });
  const headerLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = new TextDecoder().decode(file.subarray(8, 8 + headerLength));

  /** One mutation of the file: bytes flipped (mostly in the header), cut, grown, or a header edit. */
  function mutate(r: () => number): Uint8Array {
    const bytes = file.slice();
    const kind = Math.floor(r() * 6);
    const at = (limit: number) => Math.floor(r() * limit);
    if (kind === 0) {
      for (let n = 1 + at(4); n > 0; n--) bytes[at(8 + headerLength)] = at(256);
      return bytes;
    }
    if (kind === 1) return bytes.slice(0, at(bytes.length));
    if (kind === 2) {
      const view = new DataView(bytes.buffer);
      view.setBigUint64(0, BigInt([0, 1, headerLength - 1, headerLength + 1, bytes.length, 2 ** 40][at(6)]), true);
      return bytes;
    }
    if (kind === 3) {
      const grown = new Uint8Array(bytes.length + 1 + at(64));
      grown.set(bytes);
      return grown;
    }
    // Header edits that keep it JSON-ish: numbers, dtypes, names and brackets swapped.
    const edits: [RegExp, string[]][] = [
      [/\d+/g, ['0', '-1', '1e9', '3.5', '99999999999', '', '"7"', 'null']],
      [/"F32"/g, ['"F16"', '"BF16"', '"I64"', '"F8"', '"f32"', '7', 'null']],
      [/"(model\.[^"]+|decoder\.[^"]+)"/g, ['"x"', '"__proto__"', '"__metadata__"', '"model.encoder.weight"', '""']],
      [/[[\]{}]/g, ['', '[', '{', '}', ']']],
    ];
    const [re, choices] = edits[at(edits.length)];
    const matches = [...header.matchAll(re)];
    const m = matches[at(matches.length)];
    const edited = header.slice(0, m.index!) + choices[at(choices.length)] + header.slice(m.index! + m[0].length);
    const headerBytes = new TextEncoder().encode(edited);
    const out = new Uint8Array(8 + headerBytes.length + (file.length - 8 - headerLength));
    new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    out.set(headerBytes, 8);
    out.set(file.subarray(8 + headerLength), 8 + headerBytes.length);
    return out;
  }

  it('the unmutated checkpoint loads', async () => {
    const loaded = await loadCheckpoint(memorySource({ 'config.json': config, 'model.safetensors': file }, 'tiny'));
    expect(loaded.config.hiddenSize).toBe(C);
  });

  it('every mutation loads or fails with a CheckpointError', async () => {
    const r = rng(12);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < CHECKPOINT_MUTATIONS; i++) {
      const bytes = mutate(r);
      const outcome = await typedOrOk(
        async () => {
          parseSafetensors(bytes, 'model.safetensors');
          await loadCheckpoint(memorySource({ 'config.json': config, 'model.safetensors': bytes }, 'mutant'));
        },
        () => `mutation ${i}`,
      );
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    expect(Object.keys(outcomes).every((k) => k === 'ok' || k === 'CheckpointError'), JSON.stringify(outcomes)).toBe(true);
    expect(outcomes.CheckpointError).toBeGreaterThan(CHECKPOINT_MUTATIONS / 2);
  });
});

describe(`tokenizer fuzzer (${RANDOM_TEXTS} strings over 4 tokenizers, and ${TOKENIZER_MUTATIONS} mutated tokenizer.json files)`, () => {
  const DIR = path.join(TOKENIZER_FIXTURES_DIR, '..', 'tokenizers');
  const read = (model: string, file: string) => readFileSync(path.join(DIR, model, file), 'utf8');
  const tokenizers: [string, EncoderTokenizer][] = [
    ['minilm (WordPiece, tokenizer.json)', EncoderTokenizer.fromFiles({ tokenizerJson: read('minilm', 'tokenizer.json') })],
    ['bert vocab.txt', EncoderTokenizer.fromFiles({ vocabTxt: readFileSync(path.join(TOKENIZER_FIXTURES_DIR, 'vocab.txt'), 'utf8') })],
    ['roberta-base (byte-level BPE)', EncoderTokenizer.fromFiles({ tokenizerJson: read('roberta-base', 'tokenizer.json') })],
    ['modernbert-base (byte-level BPE)', EncoderTokenizer.fromFiles({ tokenizerJson: read('modernbert-base', 'tokenizer.json') })],
  ];

  const PIECES = [
    'the', 'cat', 'Sat', 'ON', 'mat.', "don't", 'naïve', 'café', 'Ünïcödé', '日本語', '中文字', '한국어', 'Ελληνικά', 'русский',
    '😀', '👩‍👩‍👧', '🇫🇷', '\u200b', '\u00ad', '\ufeff', '\u0301', 'e\u0301', 'ﬁ', '㎏', 'ﷺ', '[MASK]', '<mask>', '[CLS]', '</s>',
    '[UNK]', '###', '...', '!!!', '$3.50', '1,000,000', 'https://example.com/a?b=c', 'a_b-c', '\t', '\u3000', '\u00a0', '\r\n',
    '\u0000', '\u0007', '\ud800', 'x'.repeat(150), 'supercalifragilisticexpialidocious',
  ];
  const SPACES = [' ', ' ', ' ', '  ', '\n', '\t', '\u00a0', '\u3000', ''];

  function randomText(r: () => number, words: number): string {
    let s = '';
    for (let i = 0; i < words; i++) s += PIECES[Math.floor(r() * PIECES.length)] + SPACES[Math.floor(r() * SPACES.length)];
    return s;
  }

  it('random texts: typed errors only, and truncation equals the whole text tokenized then cut', () => {
    const r = rng(21);
    let cut = 0;
    for (let i = 0; i < RANDOM_TEXTS; i++) {
      const [name, tok] = tokenizers[i % tokenizers.length];
      // Mostly long texts with small limits, so the tokenize-only-what-is-kept path runs.
      const limit = 2 + Math.floor(r() * 30);
      const text = randomText(r, r() < 0.7 ? 20 * limit + 100 + Math.floor(r() * 100) : Math.floor(r() * 30));
      const full = tok.encode(text);
      const { ids, truncated } = tok.encodeEach([text], { maxLength: limit });
      const expected = full.length > limit ? [...full.slice(0, limit - 1), full[full.length - 1]] : full;
      expect(ids[0], `${name}, text ${i} (${text.length} chars), maxLength ${limit}`).toEqual(expected);
      expect(truncated[0]).toBe(full.length > limit);
      if (text.length > 16 * (2 * limit + 16)) cut++;
      // Pairs: longest_first over the two whole texts' ids, then the template.
      if (i % 8 === 0) {
        const other = randomText(r, Math.floor(r() * 60));
        const pairLimit = limit + tok.specialTokenCount(true);
        const pair = tok.encodeEach([[text, other]], { maxLength: pairLimit });
        const a = tok.encodeBody(text);
        const b = tok.encodeBody(other);
        const budget = pairLimit - tok.specialTokenCount(true);
        const [n1, n2] = a.length + b.length > budget ? longestFirst(a.length, b.length, budget) : [a.length, b.length];
        const pieces = (tok as unknown as { template: { pair: Parameters<typeof applyTemplate>[0] } }).template.pair;
        expect(pair.ids[0], `${name}, pair ${i}`).toEqual(applyTemplate(pieces, a.slice(0, n1), b.slice(0, n2)).ids);
      }
    }
    expect(cut).toBeGreaterThan(RANDOM_TEXTS / 2);
  });

  it('a 20 MB single line is tokenized only as far as can be kept', () => {
    const [, tok] = tokenizers[2];
    const line = 'The quick brown fox jumps over the lazy dog, again and again. '.repeat(330_000);
    expect(line.length).toBeGreaterThan(20e6);
    const before = { ...tok.stats };
    const { ids, truncated } = tok.encodeEach([line], { maxLength: 512 });
    // Work done, not time: only a prefix of ~2 * 512 + 16 words (a few kB) was scanned and
    // tokenized; the whole line would take tens of seconds and gigabytes.
    const tokenized = tok.stats.charactersTokenized - before.charactersTokenized;
    const scanned = tok.stats.charactersScanned - before.charactersScanned;
    expect(tokenized).toBeGreaterThan(0);
    expect(tokenized).toBeLessThan(line.length / 1000);
    expect(scanned).toBeLessThan(line.length / 1000);
    expect(truncated).toEqual([true]);
    expect(ids[0]).toEqual(tok.encodeEach([line.slice(0, 200_000)], { maxLength: 512 }).ids[0]);
  });

  it('non-strings, bad options and mutated tokenizer.json files give typed errors', async () => {
    const [, tok] = tokenizers[0];
    for (const bad of [null, undefined, 3, {}, [], [1, 2], [null], [['a', 1]], [['a']], ['a', 7]]) {
      expect(await typedOrOk(() => tok.encodeEach(bad as never), () => `input ${JSON.stringify(bad)}`)).toBe('InputError');
    }
    for (const maxLength of [0, 1, -1, NaN, 1.5, '16', 1e9, null]) {
      expect(await typedOrOk(() => tok.encodeEach(['x'], { maxLength: maxLength as number }), () => `maxLength ${String(maxLength)}`)).toBe('InputError');
    }
    // A small WordPiece tokenizer.json (the first 2,000 bert-base-uncased entries) keeps each parse cheap.
    const vocabLines = readFileSync(path.join(TOKENIZER_FIXTURES_DIR, 'vocab.txt'), 'utf8').split('\n').slice(0, 2000);
    const json = structuredClone(buildBertTokenizerJson(vocabLines)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = rng(31);
    const outcomes: Record<string, number> = {};
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, at: (string | number)[], depth: number) => {
      if (depth > 3 || v === null || typeof v !== 'object') return;
      const keys = Array.isArray(v) ? v.slice(0, 4).map((_, i) => i) : Object.keys(v).slice(0, 12);
      for (const k of keys) {
        paths.push([...at, k]);
        walk((v as Record<string, unknown>)[k], [...at, k], depth + 1);
      }
    };
    walk(json, [], 0);
    const VALUES = [null, 0, -1, 'x', '', true, [], {}, [1, 2], { type: 'Nope' }, 1e9];
    for (let i = 0; i < TOKENIZER_MUTATIONS; i++) {
      const copy = structuredClone(json);
      const p = paths[Math.floor(r() * paths.length)];
      let parent = copy;
      for (const k of p.slice(0, -1)) parent = parent[k];
      if (r() < 0.3) delete parent[p[p.length - 1]];
      else parent[p[p.length - 1]] = VALUES[Math.floor(r() * VALUES.length)];
      const text = JSON.stringify(copy);
      const outcome = await typedOrOk(
        () => {
          const t = EncoderTokenizer.fromFiles({ tokenizerJson: text });
          t.encodeEach(['the naïve cat [MASK] 日本 😀', ['a pair', 'of texts']], { maxLength: 8 });
          t.encode('hello world');
        },
        () => `tokenizer.json with ${p.join('.')} changed`,
      );
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    expect(Object.keys(outcomes).every((k) => ['ok', 'CheckpointError', 'InputError'].includes(k)), JSON.stringify(outcomes)).toBe(true);
  });
});
