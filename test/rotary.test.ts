// The host-side pieces of the rotary embedders (NomicBERT, GTE) on the CPU: RoPE frequencies
// rounded as torch rounds them (plain, GTE's fixed NTK, NomicBERT's dynamic-NTK base), the GLU
// row layouts, MLP width rounding, and config errors that name the field.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint, memorySource } from '../src/checkpoint';
import { CheckpointError } from '../src/errors';
import { architectureFor } from '../src/models/index';
import { gteInverseFrequencies, parseGteConfig } from '../src/models/gte';
import { parseNomicBertConfig, roundUpTo } from '../src/models/nomic-bert';
import { dynamicNtkBase, ntkInverseFrequencies, ropeInverseFrequencies, ropeTable, ropeTableFromFrequencies } from '../src/tables';
import { interleaveGateUp, stackRows, swapHalves } from '../src/weight-layout';
import { expectClose } from './compare';
import { ENCODER_FIXTURES_DIR, readEncoderExpected } from './fixtures';

const f = Math.fround;

describe('RoPE frequencies', () => {
  it('ropeInverseFrequencies: 1 / f32(base) ** f32(2j / d) in f32, as torch with a Python-float base', () => {
    for (const [d, base] of [
      [16, 1000],
      [64, 4443.178361881149], // nomic-v15-ntk's dynamic base: not an f32 value
      [32, 500000],
    ]) {
      const expected = Float32Array.from({ length: d / 2 }, (_, j) => f(1 / f(Math.pow(f(base), f(f(2 * j) / f(d))))));
      expectClose(ropeInverseFrequencies(d, base), expected, { atol: 0, rtol: 0, label: `inv_freq d=${d} base=${base}` });
    }
  });

  it('ropeTableFromFrequencies with plain frequencies is ropeTable (integer thetas)', () => {
    for (const [d, theta] of [
      [16, 1000],
      [32, 160000],
    ]) {
      expectClose(ropeTableFromFrequencies(777, ropeInverseFrequencies(d, theta)), ropeTable(777, d, theta), { atol: 0, rtol: 0, label: `d=${d}` });
    }
  });

  it("GTE's fixed NTK: inv_freq = 1 / (theta * f)^(2j/d) / f^(2/d), the same at every length; factor 1 or null is plain", () => {
    const d = 16;
    const [theta, factor] = [500000, 2];
    const divisor = f(factor ** (2 / d));
    const expected = Float32Array.from({ length: d / 2 }, (_, j) => f(f(1 / f(Math.pow(f(theta * factor), f((2 * j) / d)))) / divisor));
    expectClose(ntkInverseFrequencies(d, theta, factor), expected, { atol: 0, rtol: 0, label: 'ntk' });
    const config = { headDim: d, ropeTheta: theta, maxPositionEmbeddings: 8192 };
    expect(gteInverseFrequencies({ ...config, ntkFactor: factor })).toEqual(expected);
    expect(gteInverseFrequencies({ ...config, ntkFactor: 1 })).toEqual(ropeInverseFrequencies(d, theta));
    expect(gteInverseFrequencies({ ...config, ntkFactor: null })).toEqual(ropeInverseFrequencies(d, theta));
    // Not the model card's "rope_base * 2" reading: the extra / f^(2/d) moves every pair but the first.
    const baseTimesTwo = ropeInverseFrequencies(d, theta * factor);
    expect(expected[0]).toBe(f(baseTimesTwo[0] / divisor));
    expect(Math.abs(expected[3] - baseTimesTwo[3]) / baseTimesTwo[3]).toBeGreaterThan(0.05);
  });

  it("NomicBERT's dynamic NTK base: base x ((f T / M) - (f - 1))^(d / (d - 2)) only when T > M and f is set", async () => {
    // The reference's own figure: nomic-v15-ntk-f32 ran T = 300 > max_trained_positions 128, f = 2, d = 16.
    const rope = JSON.parse((await readEncoderExpected('nomic-bert/nomic-v15-ntk-f32')).metadata.rope);
    expect(rope).toMatchObject({ T: 300, scaled: true, max_trained_positions: 128, rotary_scaling_factor: 2 });
    expect(dynamicNtkBase(1000, 2, 300, 128, 16)).toBeCloseTo(rope.base, 9);
    expect(dynamicNtkBase(1000, 2, 128, 128, 16)).toBe(1000); // strictly greater only
    expect(dynamicNtkBase(1000, null, 9000, 2048, 64)).toBe(1000); // v1.5 as configured: plain at any length
    const inactive = JSON.parse((await readEncoderExpected('nomic-bert/nomic-v1-st-f32')).metadata.rope);
    expect(dynamicNtkBase(1000, inactive.rotary_scaling_factor, inactive.T, inactive.max_trained_positions, 16)).toBe(inactive.base);
  });
});

describe('GLU layouts', () => {
  it("NomicBERT's fc12 (gated) and fc11, and GTE's up_gate_proj [up; gate], reach the GLU epilogue activated half first", () => {
    // K = 2 columns, F = 2 rows per half.
    const fc11 = Float32Array.of(1, 1, 2, 2);
    const fc12 = Float32Array.of(10, 10, 20, 20);
    expect([...interleaveGateUp(stackRows(fc12, fc11), 2)]).toEqual([10, 10, 1, 1, 20, 20, 2, 2]);
    const upGate = Float32Array.of(1, 1, 2, 2, 10, 10, 20, 20); // rows up 0, up 1, gate 0, gate 1
    expect([...swapHalves(upGate)]).toEqual([10, 10, 20, 20, 1, 1, 2, 2]);
    expect([...interleaveGateUp(swapHalves(upGate), 2)]).toEqual([10, 10, 1, 1, 20, 20, 2, 2]);
    expect(() => swapHalves(Float32Array.of(1, 2, 3))).toThrow(/halves/);
  });

  it('the NomicBERT MLP width is n_inner (default int(8C/3)) rounded up to a multiple of 256', () => {
    expect(roundUpTo(100, 256)).toBe(256);
    expect(roundUpTo(3072, 256)).toBe(3072);
    const base = { model_type: 'nomic_bert', n_embd: 768, n_layer: 1, n_head: 12, vocab_size: 30522, pad_vocab_size_multiple: 64 };
    expect(parseNomicBertConfig({ ...base, n_inner: 100 }, 'c').intermediateSize).toBe(256);
    expect(parseNomicBertConfig({ ...base, n_inner: null }, 'c').intermediateSize).toBe(2048); // int(8 * 768 / 3) = 2048
    expect(parseNomicBertConfig(base, 'c').vocabSize).toBe(30528); // the padded vocabulary rows
  });
});

describe('config errors name the field; unsupported options are typed errors', () => {
  const nomic = { model_type: 'nomic_bert', n_embd: 64, n_layer: 2, n_head: 4, n_inner: 256, vocab_size: 1024, activation_function: 'swiglu' };
  const gte = { model_type: 'new', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, vocab_size: 1024 };
  const nomicCases: [Record<string, unknown>, RegExp][] = [
    [{ rotary_emb_fraction: 0.5 }, /rotary_emb_fraction=0\.5 is not supported/],
    [{ prenorm: true }, /prenorm=true is not supported/],
    [{ use_rms_norm: true }, /use_rms_norm=true is not supported/],
    [{ activation_function: 'gelu' }, /activation_function "gelu" is not supported/],
    [{ num_heads_kv: 1 }, /num_heads_kv=1 is not supported/],
    [{ rotary_emb_scale_base: 512 }, /rotary_emb_scale_base=512 \(xPos\) is not supported/],
    [{ rotary_scaling_factor: 'two' }, /rotary_scaling_factor must be null or a number/],
    [{ n_embd: undefined }, /n_embd is missing/],
    [{ n_head: 5 }, /n_embd=64 is not divisible by n_head=5/],
  ];
  it.each(nomicCases)('nomic_bert %j', (change, message) => {
    const error = (() => {
      try {
        parseNomicBertConfig({ ...nomic, ...change }, 'x/config.json');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/^x\/config\.json: /);
    expect((error as Error).message).toMatch(message);
  });
  const gteCases: [Record<string, unknown>, RegExp][] = [
    [{ rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling\.type "linear" is not supported/],
    [{ rope_scaling: { type: 'ntk', factor: 2, mixed_b: 0.5 } }, /rope_scaling\.mixed_b=0\.5 \(mixed NTK\) is not supported/],
    [{ rope_scaling: { type: 'ntk', factor: 0.5 } }, /rope_scaling\.factor must be a number >= 1, got 0\.5/],
    [{ layer_norm_type: 'group_norm' }, /layer_norm_type is "group_norm"; supported: "layer_norm", "rms_norm"/],
    [{ position_embedding_type: 'absolute' }, /position_embedding_type "absolute" is not supported/],
    [{ hidden_act: 'relu' }, /hidden_act is "relu"; supported/],
    [{ pack_qkv: 'yes' }, /pack_qkv must be true or false/],
    [{ intermediate_size: undefined }, /intermediate_size is missing/],
  ];
  it.each(gteCases)('new (GTE) %j', (change, message) => {
    expect(() => parseGteConfig({ ...gte, ...change }, 'x/config.json')).toThrow(CheckpointError);
    expect(() => parseGteConfig({ ...gte, ...change }, 'x/config.json')).toThrow(message);
  });

  it('configs without model_type or auto_map are recognised by their class names', () => {
    expect(architectureFor({ architectures: ['NomicBertModel'] }, 'c').name).toBe('NomicBERT');
    expect(architectureFor({ architectures: ['NewForSequenceClassification'] }, 'c').name).toBe('GTE');
    const { auto_map: _, ...gteNoAutoMap } = { ...gte, auto_map: { AutoModel: 'Alibaba-NLP/new-impl--modeling.NewModel' } };
    expect(architectureFor(gteNoAutoMap, 'c').name).toBe('GTE');
  });

  it('GTE with type_vocab_size 1 accepts any token type id and reads it as 0 (the reference zeroes them)', () => {
    expect(parseGteConfig({ ...gte, type_vocab_size: 1 }, 'c')).toMatchObject({ typeVocabSize: 1, zeroesTokenTypes: true });
    expect(parseGteConfig({ ...gte, type_vocab_size: 2 }, 'c').zeroesTokenTypes).toBeUndefined();
    expect(parseGteConfig({ ...gte, type_vocab_size: 0 }, 'c').typeVocabSize).toBe(0);
  });
});

describe('checkpoint tensors: errors name the tensor, both shapes and the config fields', () => {
  const files = (name: string) => {
    const dir = path.join(ENCODER_FIXTURES_DIR, name);
    return Object.fromEntries(['config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]));
  };
  const withConfig = (name: string, change: Record<string, unknown>) => {
    const f = files(name);
    const config = JSON.parse(new TextDecoder().decode(f['config.json']));
    return memorySource({ ...f, 'config.json': JSON.stringify({ ...config, ...change }) }, `memory:${name}`);
  };

  it('NomicBERT: fc11 rows against n_inner rounded up to 256', async () => {
    const error = await loadCheckpoint(withConfig('nomic-bert/nomic-v1-st-f32', { n_inner: 300 })).catch((e) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/tensor encoder\.layers\.0\.mlp\.fc11\.weight has shape \[256,64\], expected \[512,64\] \(from config\.json n_inner=300 rounded up to a multiple of 256: 512, n_embd=64\)/);
  });

  it('GTE: rms_norm expects no attn_ln bias and names the layer count; a missing q_proj is named', async () => {
    const rms = await loadCheckpoint(withConfig('gte/gte-en-v15-ntk-f32', { num_hidden_layers: 1 })).catch((e) => e);
    expect(rms).toBeInstanceOf(CheckpointError);
    expect(rms.message).toMatch(/has tensor encoder\.layer\.1\.attn_ln\.weight, more layers than config\.json num_hidden_layers=1/);
    const unpacked = await loadCheckpoint(withConfig('gte/gte-en-v15-ntk-f32', { pack_qkv: false })).catch((e) => e);
    expect(unpacked.message).toMatch(/tensor encoder\.layer\.0\.attention\.q_proj\.weight is missing/);
  });
});
