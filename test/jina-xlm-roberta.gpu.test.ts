// jina-XLM-RoBERTa (../shared/fixtures/jina-xlm-roberta, made by jinaai/xlm-roberta-flash-implementation's
// own code) through the WebGPU path with each row's task from the fixture's adapter_mask: padded as
// the reference ran it and packed, rel L2 < 1e-4 on every output (sentence_embedding = encode():
// pooling, Matryoshka truncation, then L2), f16 arithmetic < 1e-2; a batch mixing tasks gives each
// row what it gets alone under its own task.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { loadCheckpoint, memorySource, type LoadedCheckpoint } from '../src/checkpoint';
import { CheckpointError, InputError, UnknownTaskError } from '../src/errors';
import { Encoder } from '../src/encoder';
import { deserializeError, serializeError } from '../src/worker-protocol';
import { folderSource } from '../src/sources/folder';
import { Runner, type ForwardResult, type OutputName } from '../src/runner';
import type { SafetensorsFile } from '../src/safetensors';
import type { JinaXlmRobertaConfig } from '../src/models/jina-xlm-roberta';
import { compareArrays } from './compare';
import { ENCODER_FIXTURES_DIR, encoderFixtureCases, readEncoderExpected } from './fixtures';
import { reportAdapter, testGPU } from './gpu-context';

const CASES = encoderFixtureCases(['jina-xlm-roberta']);

/** Rows of a [B, T, X] tensor whose mask is 1, concatenated. */
function realRows(data: Float32Array, mask: Int32Array, width: number): Float32Array {
  const out: number[] = [];
  mask.forEach((m, i) => {
    if (m === 1) for (let j = 0; j < width; j++) out.push(data[i * width + j]);
  });
  return Float32Array.from(out);
}

/** encode()'s sentence embedding from the pooled rows: keep `dim` values, then L2 (after truncating). */
function sentenceEmbedding(pooled: Float32Array, rows: number, C: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += pooled[r * C + j] ** 2;
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    for (let j = 0; j < dim; j++) out[r * dim + j] = pooled[r * C + j] * inv;
  }
  return out;
}

function relL2(caseName: string, name: string, got: Float32Array, ref: Float32Array, limit: number, report: string[]): number {
  expect(got.length, `${caseName} ${name} length`).toBe(ref.length);
  expect(got.findIndex((v) => !Number.isFinite(v)), `${caseName} ${name}: non-finite value`).toBe(-1);
  const stats = compareArrays(got, ref, { atol: 0, rtol: 0, label: name });
  report.push(`${caseName} ${name}: rel L2 ${stats.relL2.toExponential(2)}`);
  expect(stats.relL2, `${caseName} ${name} relative L2 error\n${stats.lines.join('\n')}`).toBeLessThan(limit);
  return stats.relL2;
}

interface Fixture {
  expected: SafetensorsFile;
  batch: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Int32Array;
  adapterMask: Int32Array | null;
  sequences: number[][];
}

function fixtureInputs(expected: SafetensorsFile): Fixture {
  const [batch, seqLen] = expected.entry('input_ids').shape;
  const inputIds = expected.toInt32('input_ids');
  const attentionMask = expected.toInt32('attention_mask');
  const sequences = Array.from({ length: batch }, (_, b) => {
    const length = Array.from(attentionMask.subarray(b * seqLen, (b + 1) * seqLen)).lastIndexOf(1) + 1;
    return Array.from(inputIds.subarray(b * seqLen, b * seqLen + length));
  });
  return { expected, batch, seqLen, inputIds, attentionMask, adapterMask: expected.has('adapter_mask') ? expected.toInt32('adapter_mask') : null, sequences };
}

const OUTPUTS: OutputName[] = ['lastHiddenState', 'pooledCls', 'pooledMean', 'poolerOutput'];

/** Every output of the fixture against `result` (padded: [B, T, C] rows of real tokens only). */
function compareAll(caseName: string, f: Fixture, loaded: LoadedCheckpoint, result: ForwardResult, packed: boolean, limit: number): number {
  const config = loaded.config as JinaXlmRobertaConfig;
  const C = config.hiddenSize;
  const report: string[] = [];
  let worst = 0;
  const pairs: [string, Float32Array][] = [
    ['last_hidden_state', packed ? result.lastHiddenState! : realRows(result.lastHiddenState!, f.attentionMask, C)],
    ['pooled_cls', result.pooledCls!],
    ['pooled_mean', result.pooledMean!],
    ['pooler_output', result.poolerOutput!],
  ];
  const dim = f.expected.entry('sentence_embedding').shape[1];
  const pooledForEncode = config.embPooler === 'cls' ? result.pooledCls! : result.pooledMean!;
  pairs.push(['sentence_embedding', sentenceEmbedding(pooledForEncode, f.batch, C, dim)]);
  for (const [name, got] of pairs) {
    let ref = f.expected.toFloat32(name);
    if (name === 'last_hidden_state') ref = realRows(ref, f.attentionMask, C);
    worst = Math.max(worst, relL2(`${caseName}${packed ? ' (packed)' : ''}`, name, got, ref, limit, report));
  }
  console.log(report.join('\n'));
  return worst;
}

describe.each(CASES)('fixture %s', (caseName) => {
  let loaded: LoadedCheckpoint;
  let runner: Runner;
  let f: Fixture;
  beforeAll(async () => {
    const { device } = await testGPU();
    loaded = await loadCheckpoint(folderSource(path.join(ENCODER_FIXTURES_DIR, caseName)));
    expect(loaded.architecture.name).toBe('jina-XLM-RoBERTa');
    runner = new Runner(await loaded.architecture.createModel(device, loaded.config, loaded.weights));
    f = fixtureInputs(await readEncoderExpected(caseName));
  });
  afterAll(() => {
    runner?.destroy();
    runner?.model.destroy();
  });

  const sequenceInputs = () => (f.adapterMask ? { adapter_mask: f.adapterMask } : undefined);

  it('padded batch, each row with its adapter_mask task: every output within rel L2 1e-4', async () => {
    const { batch, seqLen, inputIds, attentionMask } = f;
    const result = await runner.forward({ inputIds, attentionMask, batch, seqLen, outputs: OUTPUTS, sequenceInputs: sequenceInputs() });
    compareAll(caseName, f, loaded, result, false, 1e-4);
  });

  it('packed sequences: the same outputs', async () => {
    const result = await runner.forwardPacked({ sequences: f.sequences, outputs: OUTPUTS, sequenceInputs: sequenceInputs() });
    compareAll(caseName, f, loaded, result, true, 1e-4);
  });

  it('each row alone (under its own task, if any) = its row of the batch', async () => {
    const C = loaded.config.hiddenSize;
    const mixed = await runner.forwardPacked({ sequences: f.sequences, outputs: ['pooledMean'], sequenceInputs: sequenceInputs() });
    for (let b = 0; b < f.batch; b++) {
      const mask = f.adapterMask ? { adapter_mask: [f.adapterMask[b]] } : undefined;
      const alone = await runner.forwardPacked({ sequences: [f.sequences[b]], outputs: ['pooledMean'], sequenceInputs: mask });
      const stats = compareArrays(alone.pooledMean!, mixed.pooledMean!.subarray(b * C, (b + 1) * C), { atol: 0, rtol: 0 });
      expect(stats.relL2, `row ${b} (task ${f.adapterMask?.[b] ?? 'none'}) alone vs in the batch`).toBeLessThan(1e-6);
    }
  });
});

describe('bad input', () => {
  const dir = path.join(ENCODER_FIXTURES_DIR, 'jina-xlm-roberta', 'jina-lora-tasks-f32');
  const files = () => Object.fromEntries(['config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]));

  it('a LoRA tensor of the wrong rank names the tensor and both shapes', async () => {
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const source = memorySource({ ...files(), 'config.json': JSON.stringify({ ...config, lora_rank: 8 }) }, 'memory:jina-rank');
    const error = await loadCheckpoint(source).catch((e) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/tensor roberta\.embeddings\.word_embeddings\.parametrizations\.weight\.0\.lora_A has shape \[5,1000,4\], expected \[5,1000,8\] \(from config\.json lora_adaptations: 5 tasks, lora_rank=8/);
  });

  it('adapter_mask outside lora_adaptations is an InputError listing the tasks; a plain checkpoint takes none', async () => {
    const { device } = await testGPU();
    const loaded = await loadCheckpoint(folderSource(dir));
    const model = await loaded.architecture.createModel(device, loaded.config, loaded.weights);
    const runner = new Runner(model);
    try {
      const error = await runner.forwardPacked({ sequences: [[0, 5, 2], [0, 2]], outputs: ['pooledMean'], sequenceInputs: { adapter_mask: [1, 5] } }).catch((e) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(error.message).toMatch(/adapter_mask\[1\] = 5 is not a task index in \[0, 5\).*0 "retrieval\.query", 1 "retrieval\.passage"/);
      expect(model.sequenceInputs).toEqual(['adapter_mask']);
    } finally {
      runner.destroy();
      model.destroy();
    }
    const base = await loadCheckpoint(folderSource(path.join(ENCODER_FIXTURES_DIR, 'jina-xlm-roberta', 'jina-base-f32')));
    const baseModel = await base.architecture.createModel(device, base.config, base.weights);
    expect(baseModel.sequenceInputs).toEqual([]);
    baseModel.destroy();
  });

  it('position_embedding_type "rotary" with plain XLM-R tensors is a CheckpointError', async () => {
    const config = JSON.parse(readFileSync(path.join(ENCODER_FIXTURES_DIR, 'xlm-roberta', readdirSync(path.join(ENCODER_FIXTURES_DIR, 'xlm-roberta'))[0], 'config.json'), 'utf8'));
    const xlmr = path.join(ENCODER_FIXTURES_DIR, 'xlm-roberta', readdirSync(path.join(ENCODER_FIXTURES_DIR, 'xlm-roberta'))[0]);
    const source = memorySource({ 'config.json': JSON.stringify({ ...config, hidden_act: 'gelu', position_embedding_type: 'rotary' }), 'model.safetensors': new Uint8Array(readFileSync(path.join(xlmr, 'model.safetensors'))) }, 'memory:xlmr-rotary');
    await expect(loadCheckpoint(source)).rejects.toThrow(/position_embedding_type "rotary".*plain XLM-R \/ BERT checkpoint/);
  });
});

describe('embed() API: task adapters, Matryoshka truncation, mean pooling then L2', () => {
  it.each(CASES)('%s: embed(ids, { task }) per row = encode()\'s sentence_embedding', async (caseName) => {
    const gpu = await testGPU();
    const model = await Encoder.load(folderSource(path.join(ENCODER_FIXTURES_DIR, caseName)), { gpu });
    try {
      const f = fixtureInputs(await readEncoderExpected(caseName));
      const tasks: string[] | null = f.expected.metadata.tasks ? JSON.parse(f.expected.metadata.tasks) : null;
      const ref = f.expected.toFloat32('sentence_embedding');
      const dim = f.expected.entry('sentence_embedding').shape[1];
      // One call per task (the API's unit: one task per call), rows put back in fixture order.
      const got = new Float32Array(f.batch * dim);
      for (const task of new Set(tasks ?? [undefined])) {
        const rows = f.sequences.map((_, b) => b).filter((b) => (tasks ? tasks[b] === task : true));
        const out = await model.embed(rows.map((b) => f.sequences[b]), task ? { task } : {});
        rows.forEach((b, i) => {
          expect(out[i].length).toBe(dim);
          got.set(out[i], b * dim);
        });
      }
      relL2(caseName, 'embed() sentence_embedding', got, ref, 1e-4, []);
    } finally {
      await model.dispose();
    }
  });

  it('an unknown task lists the available ones; truncateDim must be a Matryoshka dimension; prompts come from task_instructions', async () => {
    const gpu = await testGPU();
    const model = await Encoder.load(folderSource(path.join(ENCODER_FIXTURES_DIR, 'jina-xlm-roberta', 'jina-lora-matryoshka-bf16')), { gpu });
    try {
      const error = await model.embed([[0, 5, 2]], { task: 'retrieval' }).catch((e) => e);
      expect(error).toBeInstanceOf(UnknownTaskError);
      expect(error).toBeInstanceOf(InputError);
      expect(error.message).toMatch(/task "retrieval" is not a task of this model \(its tasks: "retrieval\.query", "retrieval\.passage", "separation", "classification", "text-matching"\)/);
      expect(error.available).toEqual(['retrieval.query', 'retrieval.passage', 'separation', 'classification', 'text-matching']);
      const rebuilt = deserializeError(serializeError(error)); // as it crosses the worker protocol
      expect(rebuilt).toBeInstanceOf(UnknownTaskError);
      expect((rebuilt as UnknownTaskError).available).toEqual(error.available);
      await expect(model.embed([[0, 5, 2]], { truncateDim: 48 })).rejects.toThrow(/truncateDim 48 is not one of this model's matryoshka_dimensions \(32, 64\)/);
      const full = await model.embed([[0, 5, 2]], { task: 'text-matching', truncateDim: 64 });
      const cut = await model.embed([[0, 5, 2]], { task: 'text-matching' }); // config truncate_dim 32
      expect(full[0].length).toBe(64);
      expect(cut[0].length).toBe(32);
      const norm = Math.hypot(...full[0].subarray(0, 32));
      expectCloseArray(cut[0], Float32Array.from(full[0].subarray(0, 32), (v) => v / norm));
      expect(model.config.tasks?.prompts['retrieval.query']).toBe('Represent the query for retrieving evidence documents: ');
    } finally {
      await model.dispose();
    }
    const base = await Encoder.load(folderSource(path.join(ENCODER_FIXTURES_DIR, 'jina-xlm-roberta', 'jina-base-f32')), { gpu });
    try {
      await expect(base.embed([[0, 5, 2]], { task: 'retrieval.query' })).rejects.toThrow(/is not a task of this model \(it has no task adapters\)/);
    } finally {
      await base.dispose();
    }
  });
});

function expectCloseArray(got: Float32Array, ref: Float32Array): void {
  const stats = compareArrays(got, ref, { atol: 1e-6, rtol: 1e-5 });
  expect(stats.mismatches, stats.lines.join('\n')).toBe(0);
}

describe('f16 arithmetic forced: every fixture within rel L2 1e-2', () => {
  it.each(CASES)('%s', async (caseName) => {
    const { device } = await testGPU();
    if (!device.features.has('shader-f16')) {
      reportAdapter(`jina-xlm-roberta f16 arithmetic: no shader-f16 on this adapter, ${caseName} checked with f16 weights and f32 arithmetic`);
    }
    const arithmetic = device.features.has('shader-f16') ? 'f16' : 'f32';
    const loaded = await loadCheckpoint(folderSource(path.join(ENCODER_FIXTURES_DIR, caseName)));
    const model = await loaded.architecture.createModel(device, loaded.config, loaded.weights, { dtype: 'f16', arithmetic });
    const runner = new Runner(model);
    try {
      const f = fixtureInputs(await readEncoderExpected(caseName));
      const result = await runner.forwardPacked({ sequences: f.sequences, outputs: OUTPUTS, sequenceInputs: f.adapterMask ? { adapter_mask: f.adapterMask } : undefined });
      compareAll(`${caseName} f16`, f, loaded, result, true, 1e-2);
    } finally {
      runner.destroy();
      model.destroy();
    }
  });
});
