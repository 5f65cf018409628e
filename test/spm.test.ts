// SentencePiece spm.model (src/tokenizer/spm.ts) against Debian's spm_encode (test/data/spm/README.md):
// exact ids on hard strings for a DeBERTa-style model (nmt_nfkc charsmap, [PAD] [CLS] [SEP] [UNK])
// and a byte-fallback model with user-defined symbols; EncoderTokenizer.fromFiles on spm.model alone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../src/errors';
import { EncoderTokenizer } from '../src/tokenizer';
import { parseSpmModel, SpmUnigram, SPM_PIECE_TYPE } from '../src/tokenizer/spm';

const dir = new URL('./data/spm/', import.meta.url);
const bytes = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const cases = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as {
  texts: string[];
  [model: string]: { ids: number[][]; pieces: string[][] } | string[] | string;
};

describe.each(['deberta-like', 'bytefallback'])('%s.model', (name) => {
  const model = parseSpmModel(bytes(`${name}.model`), `${name}.model`);
  const spm = new SpmUnigram(model);
  const expected = cases[name] as { ids: number[][]; pieces: string[][] };

  it('reads the pieces, their types and the normalizer flags', () => {
    expect(model.pieces.length).toBe(name === 'deberta-like' ? 1500 : 1200);
    expect(model.normalizer.addDummyPrefix && model.normalizer.removeExtraWhitespaces && model.normalizer.escapeWhitespaces).toBe(true);
    if (name === 'deberta-like') {
      expect(model.pieces.slice(0, 4).map((p) => [p.piece, p.type])).toEqual([
        ['[PAD]', SPM_PIECE_TYPE.control],
        ['[CLS]', SPM_PIECE_TYPE.control],
        ['[SEP]', SPM_PIECE_TYPE.control],
        ['[UNK]', SPM_PIECE_TYPE.unknown],
      ]);
      expect(model.normalizer.name).toBe('nmt_nfkc');
      expect(model.byteFallback).toBe(false);
    } else {
      expect(model.byteFallback).toBe(true);
      expect(model.pieces.filter((p) => p.type === SPM_PIECE_TYPE.byte).length).toBe(256);
      expect(model.pieces.filter((p) => p.type === SPM_PIECE_TYPE.userDefined).map((p) => p.piece)).toEqual(['<url>', 'WebGPU']);
      expect(model.normalizer.name).toBe('identity');
    }
  });

  it.each(cases.texts.map((t, i) => [i, JSON.stringify(t).slice(0, 50)] as const))('case %i %s: the ids of spm_encode', (i) => {
    const ids = spm.encode(cases.texts[i]);
    expect(ids.map((id) => model.pieces[id].piece), 'pieces').toEqual(
      // spm_encode prints a merged run of unknown characters as one piece; its id is the unknown piece's
      expected.ids[i].map((id, k) => (id === model.unkId ? model.pieces[id].piece : expected.pieces[i][k])),
    );
    expect(ids).toEqual(expected.ids[i]);
  });
});

describe('EncoderTokenizer from spm.model alone (no tokenizer.json)', () => {
  const config = JSON.stringify({ do_lower_case: false, bos_token: '[CLS]', eos_token: '[SEP]', unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' });
  const tok = EncoderTokenizer.fromFiles({ spmModel: bytes('deberta-like.model'), tokenizerConfig: config });
  const expected = cases['deberta-like'] as { ids: number[][] };

  it('gives [CLS] spm_encode ids [SEP], pairs typed 0 / 1, [MASK] after the pieces', () => {
    cases.texts.forEach((text, i) => {
      if (/\[(CLS|SEP|MASK|UNK|PAD)\]/.test(text)) return; // specials written in the text are matched whole (below)
      expect(tok.encode(text), JSON.stringify(text)).toEqual([1, ...expected.ids[i], 2]);
    });
    expect([tok.clsId, tok.sepId, tok.padId, tok.unkId, tok.maskId]).toEqual([1, 2, 0, 3, 1500]);
    expect(tok.vocabSize).toBe(1501);
    const pair = tok.encodePair(cases.texts[0], cases.texts[1]);
    expect(pair.ids).toEqual([1, ...expected.ids[0], 2, ...expected.ids[1], 2]);
    expect(pair.typeIds).toEqual([0, ...expected.ids[0].map(() => 0), 0, ...expected.ids[1].map(() => 1), 1]);
    expect(tok.pairTypeIds).toBe(true);
  });

  it('matches special tokens written in the text whole, as DebertaV2Tokenizer does', () => {
    const ids = tok.encode('a [MASK] b [SEP]');
    expect(ids.filter((id) => id === 1500).length).toBe(1);
    expect(ids.slice(-2)).toEqual([2, 2]);
  });

  it('takes [MASK] from added_tokens.json, and decodes', () => {
    const other = EncoderTokenizer.fromFiles({ spmModel: bytes('deberta-like.model'), tokenizerConfig: config, addedTokensJson: '{"[MASK]": 1600}' });
    expect(other.maskId).toBe(1600);
    expect(tok.decode(tok.encode('Hello world'), { skipSpecial: true })).toBe('Hello world');
  });

  it('refuses what is not a SentencePiece Unigram model', () => {
    expect(() => EncoderTokenizer.fromFiles({ spmModel: new Uint8Array([1, 2, 3]) })).toThrow(CheckpointError);
    expect(() => EncoderTokenizer.fromFiles({ spmModel: new TextEncoder().encode('{"model": {}}') })).toThrow(/not a SentencePiece model|no pieces/);
  });
});

describe('a checkpoint folder with spm.model and no tokenizer.json', () => {
  it('readTokenizerFiles reads spm.model (and added_tokens.json), and the tokenizer built from them gives spm_encode ids', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { readTokenizerFiles } = await import('../src/checkpoint');
    const { folderSource } = await import('../src/sources/folder');
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'spm-'));
    try {
      await writeFile(path.join(tmp, 'spm.model'), bytes('deberta-like.model'));
      await writeFile(path.join(tmp, 'added_tokens.json'), '{"[MASK]": 1500}');
      await writeFile(path.join(tmp, 'tokenizer_config.json'), JSON.stringify({ cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }));
      const files = await readTokenizerFiles(folderSource(tmp));
      expect(files.tokenizerJson).toBeNull();
      expect(files.spmModel?.length).toBe(bytes('deberta-like.model').length);
      const tok = EncoderTokenizer.fromFiles(files);
      const expected = cases['deberta-like'] as { ids: number[][] };
      expect(tok.encode(cases.texts[9])).toEqual([1, ...expected.ids[9], 2]);
      expect(tok.maskId).toBe(1500);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
