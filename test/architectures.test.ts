// config.json parsing (no GPU): the model_type registry over every registered architecture and
// every model fixture, then the fields BERT and ModernBERT read, both ModernBERT config formats,
// and errors naming the field.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../src/errors';
import { ARCHITECTURES, architectureFor, parseConfig, supportedModelTypes } from '../src/models/index';
import { parseBertConfig } from '../src/models/bert';
import { parseModernBertConfig } from '../src/models/modernbert';
import { ENCODER_FIXTURES_DIR, modelFixtures } from './fixtures';

const config = (fixture: string) => JSON.parse(readFileSync(path.join(ENCODER_FIXTURES_DIR, fixture, 'config.json'), 'utf8'));

describe('model_type registry', () => {
  it('maps every registered model_type (and old configs by class name) to its file', () => {
    // Every architecture file's model types map back to it, once each.
    for (const a of ARCHITECTURES) for (const t of a.modelTypes) expect(architectureFor({ model_type: t }, 'c')).toBe(a);
    expect(new Set(supportedModelTypes()).size).toBe(supportedModelTypes().length);
    expect(architectureFor({ architectures: ['ModernBertForMaskedLM'] }, 'c').name).toBe('ModernBERT');
    expect(architectureFor({ architectures: ['BertModel'] }, 'c').name).toBe('BERT');
    expect(architectureFor({}, 'c').name).toBe('NeoBERT');
    expect(() => architectureFor({ model_type: 'gpt2' }, 'x/config.json')).toThrow(CheckpointError);
    const listed = supportedModelTypes().join(', ');
    expect(() => architectureFor({ architectures: ['T5Model'] }, 'x/config.json')).toThrow(`has no model_type (architectures ["T5Model"]), which this engine does not run; supported model_type values: ${listed}`);
  });

  it.each(modelFixtures().filter((f) => !f.notYetSupported).map((f): [string, string] => [f.id, f.dir]))('%s: config.json parses to its architecture, which lists its layer matmuls', (_, dir) => {
    const json = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const architecture = architectureFor(json, 'c');
    const config = architecture.parseConfig(json, 'c');
    expect(architecture.modelTypes).toContain(config.modelType);
    const matmuls = architecture.layerMatmuls(config);
    expect(matmuls.length).toBeGreaterThan(0);
    for (const m of matmuls) expect(Number.isInteger(m.N) && Number.isInteger(m.K) && m.N > 0 && m.K > 0, JSON.stringify(m)).toBe(true);
  });
});

describe('BERT / RoBERTa / XLM-R configs', () => {
  it('RoBERTa positions start at pad + 1, so max tokens = max_position_embeddings - 2', () => {
    const c = parseBertConfig(config('roberta/roberta-base-pooler-f32'), 'c');
    expect(c).toMatchObject({ flavour: 'roberta', padTokenId: 1, maxPositionEmbeddings: 514, maxLength: 512, typeVocabSize: 1, layerNormEps: 1e-5 });
    const b = parseBertConfig(config('bert/bert-base-pooler-f32'), 'c');
    expect(b).toMatchObject({ flavour: 'bert', padTokenId: 0, maxLength: 512, typeVocabSize: 2, layerNormEps: 1e-12, activation: 'gelu' });
    expect(parseBertConfig(config('bert/bert-mlm-3heads-f32'), 'c').activation).toBe('gelu_tanh');
    expect(parseBertConfig(config('xlm-roberta/xlmr-base-nopool-f16'), 'c').activation).toBe('relu');
    expect(parseConfig(config('xlm-roberta/xlmr-reranker-f32'), 'c')).toMatchObject({ numLabels: 1, modelType: 'xlm-roberta' });
  });

  it('names a bad field', () => {
    const base = config('bert/bert-base-pooler-f32');
    expect(() => parseBertConfig({ ...base, hidden_size: 66 }, 'b/config.json')).toThrow(/b\/config\.json: hidden_size=66 is not divisible by num_attention_heads=4/);
    expect(() => parseBertConfig({ ...base, layer_norm_eps: -1 }, 'b/config.json')).toThrow(/layer_norm_eps must be a number > 0, got -1/);
    expect(() => parseBertConfig({ ...base, type_vocab_size: 0 }, 'b/config.json')).toThrow(/type_vocab_size must be an integer >= 1, got 0/);
  });
});

describe('ModernBERT configs', () => {
  it('reads global_attn_every_n_layers + *_rope_theta', () => {
    const c = parseModernBertConfig(config('modernbert/modernbert-base-f32'), 'c');
    expect(c).toMatchObject({ globalLayers: [true, false, false, true], globalRopeTheta: 160000, localRopeTheta: 10000, localAttention: 16, normBias: false, classifierPooling: 'cls' });
  });

  it('reads the newer layer_types + rope_parameters to the same config', () => {
    const old = config('modernbert/modernbert-base-f32');
    const { global_attn_every_n_layers: _g, global_rope_theta: _gt, local_rope_theta: _lt, ...rest } = old;
    const newer = {
      ...rest,
      layer_types: ['full_attention', 'sliding_attention', 'sliding_attention', 'full_attention'],
      rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 160000 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } },
    };
    expect(parseModernBertConfig(newer, 'c')).toEqual(parseModernBertConfig(old, 'c'));
  });

  it('names a bad field', () => {
    const base = config('modernbert/modernbert-base-f32');
    expect(() => parseModernBertConfig({ ...base, layer_types: ['full_attention'] }, 'm/config.json')).toThrow(/layer_types must list "full_attention" or "sliding_attention" for each of the 4 layers/);
    expect(() => parseModernBertConfig({ ...base, classifier_pooling: 'max' }, 'm/config.json')).toThrow(/classifier_pooling is "max"; supported: "cls", "mean"/);
    expect(() => parseModernBertConfig({ ...base, rope_parameters: { full_attention: { rope_type: 'yarn' } } }, 'm/config.json')).toThrow(/rope_type "yarn" is not supported/);
  });
});
