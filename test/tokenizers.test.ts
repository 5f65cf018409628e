// EncoderTokenizer on the real Hub tokenizer files of ../shared/fixtures/tokenizers (MiniLM
// WordPiece, roberta-base and ModernBERT byte-level BPE), a hand-made Unigram (XLM-R style)
// tokenizer.json, pair templates and truncation, and malformed files.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOKENIZER_FIXTURES_DIR } from './fixtures';
import { CheckpointError, InputError } from '../src/errors';
import { EncoderTokenizer, NeoBERTTokenizer, TokenLimitError } from '../src/tokenizer';
import { Tokenizer } from '@huggingface/tokenizers';

const DIR = path.join(TOKENIZER_FIXTURES_DIR, '..', 'tokenizers');
if (!existsSync(DIR)) throw new Error(`tokenizer fixtures not found at ${DIR}`);

interface Case {
  text: string;
  text_pair?: string;
  tokens: string[];
  input_ids: number[];
  token_type_ids?: number[];
}

const read = (model: string, file: string) => readFileSync(path.join(DIR, model, file), 'utf8');
const casesOf = (model: string): Case[] => JSON.parse(read(model, 'cases.json'));

function checkCases(tok: EncoderTokenizer, cases: Case[], withTokens = true) {
  it.each(cases.map((c, i) => [i, JSON.stringify(c.text_pair === undefined ? c.text : [c.text, c.text_pair]).slice(0, 60), c] as const))(
    'case %i %s',
    (_i, _label, c) => {
      if (c.text_pair === undefined) {
        expect(tok.encode(c.text)).toEqual(c.input_ids);
        if (withTokens) expect(tok.tokenize(c.text, { addSpecial: true })).toEqual(c.tokens);
        const each = tok.encodeEach([c.text]);
        expect(each.ids[0]).toEqual(c.input_ids);
        expect(each.typeIds[0]).toEqual(c.input_ids.map(() => 0));
      } else {
        const pair = tok.encodePair(c.text, c.text_pair);
        expect(pair.ids).toEqual(c.input_ids);
        expect(pair.typeIds).toEqual(c.token_type_ids);
        const each = tok.encodeEach([[c.text, c.text_pair]]);
        expect(each.ids[0]).toEqual(c.input_ids);
        expect(each.typeIds[0]).toEqual(c.token_type_ids);
        expect(each.truncated).toEqual([false]);
      }
    },
  );
}

describe('MiniLM (BERT WordPiece)', () => {
  const cases = casesOf('minilm');
  it('has 44 texts + 3 pairs', () => {
    expect(cases.length).toBe(47);
    expect(cases.filter((c) => c.text_pair !== undefined).length).toBe(3);
  });
  const fromJson = EncoderTokenizer.fromFiles({
    tokenizerJson: read('minilm', 'tokenizer.json'),
    tokenizerConfig: read('minilm', 'tokenizer_config.json'),
    specialTokensMap: read('minilm', 'special_tokens_map.json'),
  });
  const fromVocab = EncoderTokenizer.fromFiles({
    vocabTxt: read('minilm', 'vocab.txt'),
    tokenizerConfig: read('minilm', 'tokenizer_config.json'),
    specialTokensMap: read('minilm', 'special_tokens_map.json'),
  });
  describe('tokenizer.json', () => checkCases(fromJson, cases));
  describe('vocab.txt', () => checkCases(fromVocab, cases));

  it('special tokens and template', () => {
    for (const tok of [fromJson, fromVocab]) {
      expect([tok.clsId, tok.sepId, tok.padId, tok.unkId, tok.maskId]).toEqual([101, 102, 0, 100, 103]);
      expect(tok.maskToken).toBe('[MASK]');
      expect(tok.vocabSize).toBe(30522);
      expect(tok.pairTypeIds).toBe(true);
      expect(tok.modelType).toBe('WordPiece');
      expect(tok.specialTokenCount()).toBe(2);
      expect(tok.specialTokenCount(true)).toBe(3);
    }
  });

  it("ignores the file's truncation (128) and padding (Fixed 128)", () => {
    const long = 'word '.repeat(300);
    expect(fromJson.encode(long).length).toBe(302);
    const b = fromJson.encodeBatch(['hello', 'hello world']);
    expect(b.seqLen).toBe(4);
  });

  it('do_lower_case false keeps case (vocab.txt)', () => {
    const cased = EncoderTokenizer.fromFiles({ vocabTxt: read('minilm', 'vocab.txt'), tokenizerConfig: '{"do_lower_case": false}' });
    expect(cased.tokenize('Hello')).not.toEqual(['hello']);
    expect(fromVocab.tokenize('Hello')).toEqual(['hello']);
  });

  it('lowercases a word-final capital sigma char by char (σ, as the Rust crate), not ς', () => {
    expect(fromJson.encode('ΟΔΟΣ')).toEqual(fromJson.encode('οδοσ'));
  });
});

describe('all-mpnet-base-v2 (MPNet WordPiece, <s> A </s>)', () => {
  const cases = casesOf('all-mpnet-base-v2');
  it('has 47 texts + 3 pairs', () => {
    expect(cases.length).toBe(50);
    expect(cases.filter((c) => c.text_pair !== undefined).length).toBe(3);
  });
  const files = { tokenizerConfig: read('all-mpnet-base-v2', 'tokenizer_config.json'), specialTokensMap: read('all-mpnet-base-v2', 'special_tokens_map.json') };
  const fromJson = EncoderTokenizer.fromFiles({ tokenizerJson: read('all-mpnet-base-v2', 'tokenizer.json'), ...files });
  const fromVocab = EncoderTokenizer.fromFiles({ vocabTxt: read('all-mpnet-base-v2', 'vocab.txt'), ...files });
  describe('tokenizer.json', () => checkCases(fromJson, cases));
  // vocab.txt alone is the slow MPNetTokenizer: the tokenizer.json's normalized added token <unk>
  // (id 3, matched after lowercasing) is not in it, so that one case is the tokenizer.json's only.
  describe('vocab.txt + tokenizer_config.json', () => checkCases(fromVocab, cases.filter((c) => !/<unk>/i.test(c.text))));

  it('[CLS], [SEP], [MASK] in a text are plain words; <mask> is the mask token (lstrip)', () => {
    for (const tok of [fromJson, fromVocab]) {
      expect(tok.tokenize('[CLS] [SEP] [MASK]')).toEqual(['[', 'cl', '##s', ']', '[', 'sep', ']', '[', 'mask', ']']);
      expect(tok.encode('a <mask> b')).toEqual([0, tok.encode('a')[1], 30526, tok.encode('b')[1], 2]);
      expect([tok.clsId, tok.sepId, tok.padId, tok.unkId, tok.maskId]).toEqual([0, 2, 1, 104, 30526]);
      expect(tok.maskToken).toBe('<mask>');
      expect(tok.pairTypeIds).toBe(false);
      expect(tok.encodePair('a', 'b').ids).toEqual([0, tok.encode('a')[1], 2, 2, tok.encode('b')[1], 2]);
    }
  });
});

describe('roberta-base (byte-level BPE)', () => {
  const cases = casesOf('roberta-base');
  it('has 44 texts + 3 pairs', () => expect(cases.length).toBe(47));
  const fromJson = EncoderTokenizer.fromFiles({ tokenizerJson: read('roberta-base', 'tokenizer.json') });
  const fromMerges = EncoderTokenizer.fromFiles({ vocabJson: read('roberta-base', 'vocab.json'), mergesTxt: read('roberta-base', 'merges.txt') });
  describe('tokenizer.json', () => checkCases(fromJson, cases));
  describe('vocab.json + merges.txt', () => checkCases(fromMerges, cases));

  it('special tokens and template', () => {
    for (const tok of [fromJson, fromMerges]) {
      expect([tok.clsId, tok.sepId, tok.padId, tok.unkId, tok.maskId]).toEqual([0, 2, 1, null, 50264]);
      expect(tok.maskToken).toBe('<mask>');
      expect(tok.vocabSize).toBe(50265);
      expect(tok.pairTypeIds).toBe(false);
      expect(tok.modelType).toBe('BPE');
      expect(tok.specialTokenCount(true)).toBe(4);
    }
  });

  it('U+0085 is whitespace and U+FEFF is not in the byte-level split (the library alone gets them wrong)', () => {
    const json = JSON.parse(read('roberta-base', 'tokenizer.json'));
    const lib = new Tokenizer({ ...json, post_processor: null }, {});
    for (const text of ['nel\u0085 \u0085line and bom \ufeffmark', 'a \u0085b', 'a \ufeffb']) {
      const c = cases.find((x) => x.text === text);
      const ours = fromJson.encode(text).slice(1, -1);
      if (c) expect(ours).toEqual(c.input_ids.slice(1, -1));
      expect(lib.encode(text, { add_special_tokens: false }).ids).not.toEqual(ours);
    }
    // " \u0085" is one whitespace run split before the letter: "Ġ" then the U+0085 bytes.
    expect(fromJson.tokenize('a \u0085b')).toEqual(['a', 'Ġ', 'Â', 'ħ', 'b']);
  });

  it('decodes', () => {
    expect(fromJson.decode(fromJson.encode('Hello world!'), { skipSpecial: true })).toBe('Hello world!');
  });
});

describe('ModernBERT (BPE, NFC, added runs of spaces)', () => {
  const cases = casesOf('modernbert-base');
  it('has 47 texts + 3 pairs', () => expect(cases.length).toBe(50));
  const tok = EncoderTokenizer.fromFiles({
    tokenizerJson: read('modernbert-base', 'tokenizer.json'),
    tokenizerConfig: read('modernbert-base', 'tokenizer_config.json'),
    specialTokensMap: read('modernbert-base', 'special_tokens_map.json'),
  });
  describe('tokenizer.json', () => checkCases(tok, cases));

  it('special tokens and template', () => {
    expect([tok.clsId, tok.sepId, tok.padId, tok.unkId, tok.maskId]).toEqual([50281, 50282, 50283, null, 50284]);
    expect(tok.maskToken).toBe('[MASK]');
    expect(tok.vocabSize).toBe(50368);
    expect(tok.pairTypeIds).toBe(false);
  });

  it('runs of spaces: 8 spaces one token, 30 = 24 + 6', () => {
    expect(tok.encode('a        b').slice(1, -1)).toEqual([66, 50270, 67]);
    const ids30 = tok.encode('a' + ' '.repeat(30) + 'b').slice(1, -1);
    expect(ids30.slice(1, 3)).toEqual([50254, 50272]);
  });
});

/** A small XLM-R style SentencePiece Unigram tokenizer.json. */
function unigramJson(): Record<string, unknown> {
  const vocab: [string, number][] = [
    ['<s>', 0],
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
    ['▁', -2],
    ['▁hello', -3],
    ['▁world', -3],
    ['▁wor', -5],
    ['ld', -5],
    ['▁hel', -1],
    ['lo', -1],
    ['h', -6],
    ['e', -6],
    ['l', -6],
    ['o', -6],
    ['w', -6],
    ['r', -6],
    ['d', -6],
    ['<mask>', 0],
  ];
  const special = (id: number, content: string, lstrip = false) => ({ id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<s>'), special(1, '<pad>'), special(2, '</s>'), special(3, '<unk>'), special(18, '<mask>', true)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always' },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true },
    decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always' },
    model: { type: 'Unigram', unk_id: 3, vocab },
  };
}

describe('Unigram (XLM-R style)', () => {
  const tok = EncoderTokenizer.fromTokenizerJson(unigramJson());
  it('best segmentation by score', () => {
    // "▁hello": ▁hel + lo (-2) beats ▁hello (-3); "▁world" (-3) beats ▁wor + ld (-10).
    expect(tok.tokenize('hello world')).toEqual(['▁hel', 'lo', '▁world']);
    expect(tok.encode('hello world')).toEqual([0, 9, 10, 6, 2]);
  });
  it('unknown pieces become <unk> (fused)', () => {
    expect(tok.encode('world xyz')).toEqual([0, 6, 4, 3, 2]);
  });
  it('<s> A </s></s> B </s>, all type ids 0, and <mask> lstrip', () => {
    expect(tok.encodePair('hello', 'world')).toEqual({ ids: [0, 9, 10, 2, 2, 6, 2], typeIds: [0, 0, 0, 0, 0, 0, 0] });
    expect(tok.encode('world  <mask>')).toEqual([0, 6, 18, 2]);
    expect([tok.clsId, tok.sepId, tok.padId, tok.unkId, tok.maskId]).toEqual([0, 2, 1, 3, 18]);
    expect(tok.pairTypeIds).toBe(false);
    expect(tok.modelType).toBe('Unigram');
  });
  it('decodes', () => {
    expect(tok.decode(tok.encode('hello world'), { skipSpecial: true })).toBe('hello world');
  });
  it('rejects a malformed Unigram vocabulary', () => {
    const j = unigramJson();
    (j.model as Record<string, unknown>).vocab = [['a', 'x']];
    expect(() => EncoderTokenizer.fromTokenizerJson(j, 'xlmr/tokenizer.json')).toThrow(CheckpointError);
    expect(() => EncoderTokenizer.fromTokenizerJson(j, 'xlmr/tokenizer.json')).toThrow(/xlmr\/tokenizer\.json: model\.vocab\[0\] is not \[piece, score\]/);
  });
});

describe('pairs and truncation', () => {
  const bert = EncoderTokenizer.fromFiles({ tokenizerJson: read('minilm', 'tokenizer.json') });
  const roberta = EncoderTokenizer.fromFiles({ tokenizerJson: read('roberta-base', 'tokenizer.json') });
  const words = (n: number, w = 'cat') => Array.from({ length: n }, () => w).join(' ');

  it('longest_first: the longer text loses tokens first', () => {
    // 3 + 10 body tokens, limit 12 = 3 specials + 9: keep 3 and 6.
    const r = bert.encodeEach([[words(3), words(10, 'dog')]], { maxLength: 12 });
    expect(r.truncated).toEqual([true]);
    const cat = bert.tokenToId('cat')!;
    const dog = bert.tokenToId('dog')!;
    expect(r.ids[0]).toEqual([101, cat, cat, cat, 102, ...Array(6).fill(dog), 102]);
    expect(r.typeIds[0]).toEqual([0, 0, 0, 0, 0, ...Array(7).fill(1)]);
  });

  it('longest_first: both cut to half when both are long (odd token to the longer)', () => {
    const r = bert.encodeEach([[words(8), words(6, 'dog')]], { maxLength: 3 + 7 });
    const cat = bert.tokenToId('cat')!;
    const dog = bert.tokenToId('dog')!;
    expect(r.ids[0]).toEqual([101, ...Array(4).fill(cat), 102, ...Array(3).fill(dog), 102]);
    // a tie: the second text keeps the odd token (Rust crate)
    const t = bert.encodeEach([[words(6), words(6, 'dog')]], { maxLength: 3 + 7 });
    expect(t.ids[0]).toEqual([101, ...Array(3).fill(cat), 102, ...Array(4).fill(dog), 102]);
  });

  it('RoBERTa pairs count 4 specials and keep type ids 0', () => {
    const r = roberta.encodeEach([[words(5), words(5)]], { maxLength: 10 });
    expect(r.ids[0].length).toBe(10);
    expect(r.ids[0].slice(0, 1)).toEqual([0]);
    expect(r.ids[0].filter((id) => id === 2).length).toBe(3);
    expect(r.typeIds[0]).toEqual(Array(10).fill(0));
  });

  it('mixed texts and pairs in one batch, padded with token type ids', () => {
    const b = bert.encodeBatch(['hello', ['hello', 'world']]);
    expect(b.seqLen).toBe(5);
    expect(Array.from(b.inputIds)).toEqual([101, 7592, 102, 0, 0, 101, 7592, 102, 2088, 102]);
    expect(Array.from(b.tokenTypeIds)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(Array.from(b.attentionMask)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('an empty second text is still a pair', () => {
    expect(bert.encodePair('hello', '')).toEqual({ ids: [101, 7592, 102, 102], typeIds: [0, 0, 0, 1] });
  });

  it('truncation false throws TokenLimitError for a pair', () => {
    expect(() => bert.encodeEach([['a b c', 'd e f']], { maxLength: 6, truncation: false })).toThrow(TokenLimitError);
  });

  it('limit below the pair specials is an InputError', () => {
    expect(() => roberta.encodeEach([['a b', 'c d']], { maxLength: 3 })).toThrow(InputError);
  });

  it('bad arguments are InputError', () => {
    expect(() => bert.encode(42 as unknown as string)).toThrow(InputError);
    expect(() => bert.encodePair('a', null as unknown as string)).toThrow(InputError);
    expect(() => bert.encodeEach([['a'] as unknown as [string, string]])).toThrow(InputError);
    expect(() => bert.encodeEach(['a'], { maxLength: 1 })).toThrow(InputError);
    expect(() => bert.encodeEach(['a'], { maxLength: 1e6 })).toThrow(InputError);
    expect(() => bert.encodeEach([])).toThrow(InputError);
    expect(() => EncoderTokenizer.fromFiles({ vocabTxt: read('minilm', 'vocab.txt') }, { maxLength: 1.5 })).toThrow(InputError);
  });
});

describe('malformed files are CheckpointError naming the file', () => {
  const robertaJson = JSON.parse(read('roberta-base', 'tokenizer.json'));
  const cases: [string, () => unknown, RegExp][] = [
    ['tokenizer.json not JSON', () => EncoderTokenizer.fromFiles({ tokenizerJson: '{oops' }), /tokenizer\.json: not valid JSON/],
    ['tokenizer.json an array', () => EncoderTokenizer.fromFiles({ tokenizerJson: '[]' }), /tokenizer\.json: expected a JSON object/],
    ['no model', () => EncoderTokenizer.fromFiles({ tokenizerJson: '{}' }), /tokenizer\.json: no "model" object/],
    [
      'bad merge',
      () => EncoderTokenizer.fromTokenizerJson({ ...robertaJson, model: { ...robertaJson.model, merges: ['a b', 'abc'] } }),
      /tokenizer\.json: model\.merges\[1\]/,
    ],
    [
      'bad post_processor',
      () => EncoderTokenizer.fromTokenizerJson({ ...robertaJson, post_processor: { type: 'RobertaProcessing', sep: ['</s>', 99999999], cls: ['<s>', 0] } }),
      /tokenizer\.json: post_processor names "<\/s>" with id 99999999/,
    ],
    [
      'unknown post_processor',
      () => EncoderTokenizer.fromTokenizerJson({ ...robertaJson, post_processor: { type: 'Foo' } }),
      /tokenizer\.json: post_processor type "Foo"/,
    ],
    [
      'bad added token',
      () => EncoderTokenizer.fromTokenizerJson({ ...robertaJson, added_tokens: [{ id: 'x', content: '<s>' }] }),
      /tokenizer\.json: added token "<s>" has invalid id "x"/,
    ],
    ['unknown pre_tokenizer', () => EncoderTokenizer.fromTokenizerJson({ ...robertaJson, pre_tokenizer: { type: 'Nope' } }), /tokenizer\.json: cannot build the tokenizer/],
    ['vocab.json not JSON', () => EncoderTokenizer.fromFiles({ vocabJson: 'nope', mergesTxt: 'a b' }), /vocab\.json: not valid JSON/],
    ['vocab.json bad id', () => EncoderTokenizer.fromFiles({ vocabJson: '{"a": -1}', mergesTxt: 'a b' }), /vocab\.json: token "a" has invalid id -1/],
    ['merges.txt bad line', () => EncoderTokenizer.fromFiles({ vocabJson: read('roberta-base', 'vocab.json'), mergesTxt: '#version: 0.2\nĠ t\nbad\n' }), /merges\.txt: line 3/],
    ['merges.txt missing', () => EncoderTokenizer.fromFiles({ vocabJson: '{"a": 0}' }), /merges\.txt is missing/],
    ['vocab.txt without [CLS]', () => EncoderTokenizer.fromFiles({ vocabTxt: '[PAD]\n[UNK]\n[SEP]\n[MASK]\n' }), /vocab\.txt: vocabulary lacks special token\(s\) \[CLS\]/],
    ['tokenizer_config.json not JSON', () => EncoderTokenizer.fromFiles({ vocabTxt: read('minilm', 'vocab.txt'), tokenizerConfig: '{' }), /tokenizer_config\.json: not valid JSON/],
    ['special_tokens_map.json bad entry', () => EncoderTokenizer.fromFiles({ vocabTxt: read('minilm', 'vocab.txt'), specialTokensMap: '{"mask_token": 3}' }), /special_tokens_map\.json: mask_token/],
    ['nothing', () => EncoderTokenizer.fromFiles({}), /no tokenizer files/],
  ];
  it.each(cases)('%s', (_name, load, message) => {
    let err: unknown;
    try {
      load();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('names', () => {
  it('NeoBERTTokenizer is the same class', () => {
    expect(NeoBERTTokenizer).toBe(EncoderTokenizer);
  });
});

describe('post_processor kinds', () => {
  const base = JSON.parse(read('minilm', 'tokenizer.json'));
  it('BertProcessing: type ids 0 then 1', () => {
    const tok = EncoderTokenizer.fromTokenizerJson({ ...base, post_processor: { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] } });
    expect(tok.encodePair('hello', 'world')).toEqual({ ids: [101, 7592, 102, 2088, 102], typeIds: [0, 0, 0, 1, 1] });
    expect(tok.pairTypeIds).toBe(true);
  });
  it('Sequence of ByteLevel and RobertaProcessing', () => {
    const pp = { type: 'Sequence', processors: [{ type: 'ByteLevel', trim_offsets: true }, { type: 'RobertaProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] }] };
    const tok = EncoderTokenizer.fromTokenizerJson({ ...base, post_processor: pp });
    expect(tok.encodePair('hello', 'world')).toEqual({ ids: [101, 7592, 102, 102, 2088, 102], typeIds: [0, 0, 0, 0, 0, 0] });
    expect(tok.pairTypeIds).toBe(false);
  });
  it('TemplateProcessing with its own type ids and a two-id special', () => {
    const pp = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: 'SEPSEP', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 2 } },
        { SpecialToken: { id: '[SEP]', type_id: 2 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] },
        SEPSEP: { id: 'SEPSEP', ids: [102, 102], tokens: ['[SEP]', '[SEP]'] },
      },
    };
    const tok = EncoderTokenizer.fromTokenizerJson({ ...base, post_processor: pp });
    expect(tok.encodePair('hello', 'world')).toEqual({ ids: [101, 7592, 102, 102, 2088, 102], typeIds: [0, 0, 0, 0, 2, 2] });
    expect(tok.specialTokenCount(true)).toBe(4);
  });
  it('no post_processor: [CLS] A [SEP] from the vocabulary', () => {
    const tok = EncoderTokenizer.fromTokenizerJson({ ...base, post_processor: null });
    expect(tok.encode('hello')).toEqual([101, 7592, 102]);
  });
  it('a template without a special on each side of the text is a CheckpointError', () => {
    const pp = { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }], pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }], special_tokens: {} };
    expect(() => EncoderTokenizer.fromTokenizerJson({ ...base, post_processor: pp })).toThrow(CheckpointError);
  });
});

describe('added tokens', () => {
  const base = JSON.parse(read('minilm', 'tokenizer.json'));
  const withAdded = (extra: object) => EncoderTokenizer.fromTokenizerJson({ ...base, added_tokens: [...base.added_tokens, extra] });
  it('rstrip swallows Unicode White_Space (U+0085 too) on the right', () => {
    const tok = withAdded({ id: 103, content: '[MASK]', single_word: false, lstrip: false, rstrip: true, normalized: false, special: true });
    expect(tok.encode('[MASK] \u0085 hello')).toEqual([101, 103, 7592, 102]);
  });
  it('lstrip does not swallow U+FEFF (not whitespace)', () => {
    const json = JSON.parse(read('roberta-base', 'tokenizer.json'));
    const tok = EncoderTokenizer.fromTokenizerJson(json);
    expect(tok.encode('a \ufeff<mask>')).not.toEqual(tok.encode('a <mask>'));
    expect(tok.encode('a \u0085 <mask>')).toEqual([0, 102, 50264, 2]);
  });
  it('single_word matches only a whole word', () => {
    const tok = withAdded({ id: 30522, content: 'xyz', single_word: true, lstrip: false, rstrip: false, normalized: false, special: false });
    expect(tok.encode('a xyz b')).toContain(30522);
    expect(tok.encode('axyzb')).not.toContain(30522);
    expect(tok.vocabSize).toBe(30523);
  });
});
