// Every BERT-family fixture (../shared/fixtures/{bert,roberta,xlm-roberta,modernbert}, made by Hugging Face
// transformers' own modeling code) through the WebGPU path, padded as the reference ran it and
// packed with no padding: rel L2 < 1e-4 on every output the fixture has, NaN/Inf fail.
// [B, T, ...] outputs are compared on real tokens only (padded rows are meaningless).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadCheckpoint, type LoadedCheckpoint } from '../src/checkpoint';
import type { EncoderModel } from '../src/models/types';
import { folderSource } from '../src/node/folder-source';
import { Runner, type ForwardResult, type OutputName } from '../src/runner';
import type { SafetensorsFile } from '../src/safetensors';
import { compareArrays } from './compare';
import { ENCODER_FIXTURES_DIR, encoderFixtureCases, readEncoderExpected } from './fixtures';
import { testGPU } from './gpu-context';

const ARCHS = (process.env.ENCODER_ARCHS ?? 'bert,roberta,xlm-roberta,modernbert,mpnet,deberta-v2').split(',');

/** Fixture output name -> runner output (sentence_embedding: the folder's pooling, then L2). */
function outputsFor(expected: SafetensorsFile, loaded: LoadedCheckpoint): [string, OutputName][] {
  const st = loaded.sentenceTransformers;
  const all: [string, OutputName][] = [
    ['last_hidden_state', 'lastHiddenState'],
    ['pooled_cls', 'pooledCls'],
    ['pooled_mean', 'pooledMean'],
    ['pooler_output', 'poolerOutput'],
    ['logits', 'logits'],
  ];
  if (st) all.push(['sentence_embedding', `${st.pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${st.normalize ? 'Normalized' : ''}` as OutputName]);
  return all.filter(([name]) => expected.has(name));
}

/** Rows of a [B, T, X] tensor whose mask is 1, concatenated. */
function realRows(data: Float32Array, mask: Int32Array, width: number): Float32Array {
  const out: number[] = [];
  mask.forEach((m, i) => {
    if (m === 1) for (let j = 0; j < width; j++) out.push(data[i * width + j]);
  });
  return Float32Array.from(out);
}

function check(caseName: string, name: string, got: Float32Array, ref: Float32Array, report: string[]): void {
  expect(got.length, `${name} length`).toBe(ref.length);
  const nonFinite = got.findIndex((v) => !Number.isFinite(v));
  expect(nonFinite, `${name}: non-finite value at ${nonFinite}`).toBe(-1);
  const stats = compareArrays(got, ref, { atol: 0, rtol: 0, label: name });
  report.push(`${caseName} ${name}: rel L2 ${stats.relL2.toExponential(2)}, max abs ${stats.maxAbs.toExponential(2)} (max|ref| ${stats.maxRef.toFixed(3)})`);
  expect(stats.relL2, `${name} relative L2 error\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
}

describe.each(encoderFixtureCases(ARCHS))('fixture %s', (caseName) => {
  let runner: Runner;
  let loaded: LoadedCheckpoint;
  let expected: SafetensorsFile;
  beforeAll(async () => {
    const { device } = await testGPU();
    loaded = await loadCheckpoint(folderSource(path.join(ENCODER_FIXTURES_DIR, caseName)));
    const model: EncoderModel = await loaded.architecture.createModel(device, loaded.config, loaded.weights);
    runner = new Runner(model);
    expected = await readEncoderExpected(caseName);
  });
  afterAll(() => {
    runner?.destroy();
    runner?.model.destroy();
  });

  const inputs = () => {
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const inputIds = expected.toInt32('input_ids');
    const attentionMask = expected.toInt32('attention_mask');
    const tokenTypeIds = expected.has('token_type_ids') ? expected.toInt32('token_type_ids') : undefined;
    return { batch, seqLen, inputIds, attentionMask, tokenTypeIds };
  };

  const compareAll = (result: ForwardResult, wanted: [string, OutputName][], mask: Int32Array, packed: boolean) => {
    const report: string[] = [];
    for (const [name, output] of wanted) {
      const shape = expected.entry(name).shape;
      let ref = expected.toFloat32(name);
      if (shape.length === 3) ref = realRows(ref, mask, shape[2]);
      let got = result[output]!;
      if (shape.length === 3 && !packed) got = realRows(got, mask, shape[2]);
      check(`${caseName}${packed ? ' (packed)' : ''}`, name, got, ref, report);
    }
    console.log(report.join('\n'));
  };

  it('padded batch: matches the reference on every output (rel L2 < 1e-4, no NaN/Inf)', async () => {
    const { batch, seqLen, inputIds, attentionMask, tokenTypeIds } = inputs();
    const wanted = outputsFor(expected, loaded);
    const result = await runner.forward({ inputIds, attentionMask, tokenTypeIds, batch, seqLen, outputs: wanted.map(([, o]) => o) });
    compareAll(result, wanted, attentionMask, false);
  });

  it('packed sequences (no padding): the same outputs', async () => {
    const { batch, seqLen, inputIds, attentionMask, tokenTypeIds } = inputs();
    const sequences: number[][] = [];
    const typeIds: number[][] = [];
    for (let b = 0; b < batch; b++) {
      const row = Array.from(attentionMask.subarray(b * seqLen, (b + 1) * seqLen));
      const length = row.lastIndexOf(1) + 1;
      expect(row.slice(0, length).every((m) => m === 1), 'right-padded fixture').toBe(true);
      sequences.push(Array.from(inputIds.subarray(b * seqLen, b * seqLen + length)));
      typeIds.push(tokenTypeIds ? Array.from(tokenTypeIds.subarray(b * seqLen, b * seqLen + length)) : new Array(length).fill(0));
    }
    const wanted = outputsFor(expected, loaded);
    const result = await runner.forwardPacked({ sequences, typeIds: tokenTypeIds ? typeIds : undefined, outputs: wanted.map(([, o]) => o) });
    compareAll(result, wanted, attentionMask, true);
  });
});
