import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ffnWidthFor, NEOBERT_BASE_CONFIG_JSON, parseNeoBERTConfig as parseConfig } from '../src/models/neobert';
import { CheckpointError } from '../src/errors';
import { FIXTURES_DIR, fixtureCases } from './fixtures';

function fixtureConfigJson(fixture: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, fixture, 'config.json'), 'utf8'));
}

function expectConfigError(json: unknown, message: RegExp): void {
  const parse = () => parseConfig(json, 'test/config.json');
  expect(parse).toThrow(CheckpointError);
  expect(parse).toThrow(message);
}

describe('parseConfig', () => {
  it('reads the released NeoBERT config', () => {
    expect(parseConfig(NEOBERT_BASE_CONFIG_JSON, 'base')).toEqual({
      modelType: 'neobert',
      typeVocabSize: 0,
      hiddenSize: 768,
      numLayers: 28,
      numHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      ffnWidth: 2048,
      vocabSize: 30522,
      maxLength: 4096,
      normEps: 1e-5,
      padTokenId: 0,
      ropeTheta: 10000,
      numLabels: null,
      id2label: null,
      architectures: ['NeoBERTLMHead'],
    });
  });

  it('computes the FFN width the way the reference code does', () => {
    expect(ffnWidthFor(3072)).toBe(2048);
    expect(ffnWidthFor(256)).toBe(176); // int(512/3) = 170, rounded up to a multiple of 8
    expect(ffnWidthFor(96)).toBe(64);
    expect(ffnWidthFor(384)).toBe(256);
  });

  it('reads every fixture config', () => {
    const expectations: Record<string, Partial<ReturnType<typeof parseConfig>>> = {
      'odd-base-f32': { hiddenSize: 96, numHeads: 3, headDim: 32, ffnWidth: 176, numLabels: null, architectures: ['NeoBERT'] },
      'small-cls-f32': { hiddenSize: 128, numHeads: 2, headDim: 64, ffnWidth: 256, numLayers: 3, numLabels: 3 },
      'tiny-long-f32': { hiddenSize: 64, headDim: 16, ffnWidth: 64, vocabSize: 2048 },
      'tiny-mlm-bf16': { hiddenSize: 64, headDim: 16, ffnWidth: 64, vocabSize: 2048 },
      'tiny-mlm-f16': { hiddenSize: 64, headDim: 16, ffnWidth: 64, vocabSize: 2048 },
      'tiny-mlm-f32': { hiddenSize: 64, headDim: 16, ffnWidth: 64, vocabSize: 30522, numLabels: null },
    };
    expect(fixtureCases()).toEqual(Object.keys(expectations).sort());
    for (const [fixture, expected] of Object.entries(expectations)) {
      const config = parseConfig(fixtureConfigJson(fixture), `${fixture}/config.json`);
      expect(config, fixture).toMatchObject({ ...expected, normEps: 1e-5, maxLength: 4096, padTokenId: 0, ropeTheta: 10000 });
    }
  });

  it('takes the label count from num_labels, else id2label, else the Hugging Face default of 2', () => {
    const classifier = { ...NEOBERT_BASE_CONFIG_JSON, architectures: ['NeoBERTForSequenceClassification'] };
    expect(parseConfig({ ...classifier, num_labels: 5 }, 'c').numLabels).toBe(5);
    expect(parseConfig({ ...classifier, id2label: { 0: 'neg', 1: 'neu', 2: 'pos' } }, 'c').numLabels).toBe(3);
    expect(parseConfig({ ...classifier, id2label: { 1: 'pos', 0: 'neg' } }, 'c').id2label).toEqual(['neg', 'pos']);
    expect(parseConfig({ ...classifier, num_labels: 5 }, 'c').id2label).toBeNull();
    expect(parseConfig({ ...NEOBERT_BASE_CONFIG_JSON, id2label: { 0: 'a' } }, 'c').id2label).toBeNull();
    expect(parseConfig(classifier, 'c').numLabels).toBe(2);
    expect(parseConfig({ ...NEOBERT_BASE_CONFIG_JSON, num_labels: 5 }, 'c').numLabels).toBeNull();
  });

  it('accepts a config without dim_head, pad_token_id or architectures', () => {
    const { dim_head, pad_token_id, architectures, ...rest } = NEOBERT_BASE_CONFIG_JSON;
    expect(parseConfig(rest, 'c')).toMatchObject({ headDim: 64, padTokenId: 0, architectures: [] });
  });

  it('rejects inconsistent or missing values, naming the field and the source', () => {
    const base = NEOBERT_BASE_CONFIG_JSON;
    expectConfigError({ ...base, hidden_size: 100, num_attention_heads: 3, dim_head: undefined }, /test\/config\.json: hidden_size=100 is not divisible by num_attention_heads=3/);
    expectConfigError({ ...base, dim_head: 32 }, /test\/config\.json: dim_head=32 does not match hidden_size\/num_attention_heads=64/);
    expectConfigError({ ...base, hidden_size: 6, num_attention_heads: 2, dim_head: undefined }, /head dim 3 .* is odd; RoPE rotates channel pairs/);
    expectConfigError({ ...base, hidden_size: 12, num_attention_heads: 2, dim_head: undefined }, /head dim 6 .* is not a multiple of 4/);
    expectConfigError({ ...base, hidden_size: undefined }, /test\/config\.json: hidden_size is missing/);
    expectConfigError({ ...base, vocab_size: 0 }, /vocab_size must be an integer >= 1, got 0/);
    expectConfigError({ ...base, num_hidden_layers: 2.5 }, /num_hidden_layers must be an integer >= 1, got 2\.5/);
    expectConfigError({ ...base, intermediate_size: '3072' }, /intermediate_size must be an integer >= 1, got "3072"/);
    expectConfigError({ ...base, intermediate_size: 1 }, /intermediate_size=1 gives an FFN width of 0/);
    expectConfigError({ ...base, max_length: 0 }, /max_length must be an integer >= 1, got 0/);
    expectConfigError({ ...base, norm_eps: 0 }, /norm_eps must be a number > 0, got 0/);
    expectConfigError({ ...base, norm_eps: undefined }, /norm_eps is missing/);
    expectConfigError({ ...base, pad_token_id: 30522 }, /pad_token_id must be an integer in \[0, vocab_size=30522\)/);
    expectConfigError({ ...base, model_type: 'bert' }, /model_type is "bert", expected "neobert"/);
    expectConfigError({ ...base, architectures: 'NeoBERT' }, /architectures must be an array of strings/);
    expectConfigError([1, 2], /test\/config\.json: expected a JSON object/);
    const classifier = { ...base, architectures: ['NeoBERTForSequenceClassification'] };
    expectConfigError({ ...classifier, num_labels: 2, id2label: { 0: 'a', 1: 'b', 2: 'c' } }, /num_labels=2 disagrees with id2label, which has 3 entries/);
    expectConfigError({ ...classifier, num_labels: 0 }, /num_labels must be an integer >= 1, got 0/);
    expectConfigError({ ...classifier, id2label: {} }, /id2label is empty/);
    expectConfigError({ ...classifier, id2label: { 0: 'a', 5: 'b' } }, /id2label key "5" is not a class index in \[0, 2\)/);
    expectConfigError({ ...classifier, id2label: { 0: 'a', 1: 7 } }, /id2label\[1\] must be a string, got 7/);
  });
});
