// Every model fixture under ../shared/fixtures/<family>/<case>/ (made by the reference modeling
// code; found on disk, see modelFixtures) through the WebGPU path, padded as the reference ran it
// and packed with no padding: rel L2 < 1e-4 on every output the fixture has, NaN/Inf fail.
// [B, T, ...] outputs are compared on real tokens only (padded rows are meaningless). A fixture
// whose architecture is not registered fails, unless its family is in NOT_YET_SUPPORTED, whose
// fixtures must then be refused (so the list stays true).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, type LoadedCheckpoint } from '../src/checkpoint';
import { CheckpointError } from '../src/errors';
import type { EncoderModel } from '../src/models/types';
import { folderSource } from '../src/sources/folder';
import { Runner, type ForwardResult, type OutputName } from '../src/runner';
import type { SafetensorsFile } from '../src/safetensors';
import { parseSafetensors } from '../src/safetensors';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { compareArrays } from './compare';
import { fixtureOutputs, fixtureRequest, modelFixtures, realRows, type ModelFixture } from './fixtures';
import { testGPU } from './gpu-context';

function check(caseName: string, name: string, got: Float32Array, ref: Float32Array, report: string[]): void {
  expect(got.length, `${name} length`).toBe(ref.length);
  const nonFinite = got.findIndex((v) => !Number.isFinite(v));
  expect(nonFinite, `${name}: non-finite value at ${nonFinite}`).toBe(-1);
  const stats = compareArrays(got, ref, { atol: 0, rtol: 0, label: name });
  report.push(`${caseName} ${name}: rel L2 ${stats.relL2.toExponential(2)}, max abs ${stats.maxAbs.toExponential(2)} (max|ref| ${stats.maxRef.toFixed(3)})`);
  expect(stats.relL2, `${name} relative L2 error\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
}

const fixtures = modelFixtures();

it('finds the model fixtures', () => {
  expect(fixtures.length).toBeGreaterThan(20);
});

describe.each(fixtures.filter((f) => f.notYetSupported).map((f): [string, ModelFixture] => [f.id, f]))('fixture %s (family NOT_YET_SUPPORTED)', (_, fixture) => {
  it('is refused with a CheckpointError until its architecture lands (then delete its family from NOT_YET_SUPPORTED)', async () => {
    let loaded: LoadedCheckpoint | null = null;
    try {
      loaded = await loadCheckpoint(folderSource(fixture.dir));
    } catch (error) {
      expect(error, String(error)).toBeInstanceOf(CheckpointError);
      return;
    }
    loaded.close();
    expect.fail(`${fixture.id} loads now (as ${loaded.architecture.name}): delete "${fixture.family}" from NOT_YET_SUPPORTED in test/fixtures.ts`);
  });
});

describe.each(fixtures.filter((f) => !f.notYetSupported).map((f): [string, ModelFixture] => [f.id, f]))('fixture %s', (caseName, fixture) => {
  let runner: Runner;
  let loaded: LoadedCheckpoint;
  let expected: SafetensorsFile;
  beforeAll(async () => {
    const { device } = await testGPU();
    loaded = await loadCheckpoint(folderSource(fixture.dir));
    const model: EncoderModel = await loaded.architecture.createModel(device, loaded.config, loaded.weights);
    runner = new Runner(model);
    const file = path.join(fixture.dir, 'expected.safetensors');
    expected = parseSafetensors(new Uint8Array(await readFile(file)), file);
  });
  afterAll(() => {
    runner?.destroy();
    runner?.model.destroy();
  });

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
    const request = fixtureRequest(expected, runner.model.sequenceInputs);
    const wanted = fixtureOutputs(expected, loaded.sentenceTransformers);
    const result = await runner.forward({ ...request, outputs: wanted.map(([, o]) => o) });
    compareAll(result, wanted, request.attentionMask, false);
  });

  it('packed sequences (no padding): the same outputs', async () => {
    const { batch, seqLen, inputIds, attentionMask, tokenTypeIds, sequenceInputs } = fixtureRequest(expected, runner.model.sequenceInputs);
    const sequences: number[][] = [];
    const typeIds: number[][] = [];
    for (let b = 0; b < batch; b++) {
      const row = Array.from(attentionMask.subarray(b * seqLen, (b + 1) * seqLen));
      const length = row.lastIndexOf(1) + 1;
      expect(row.slice(0, length).every((m) => m === 1), 'right-padded fixture').toBe(true);
      sequences.push(Array.from(inputIds.subarray(b * seqLen, b * seqLen + length)));
      typeIds.push(tokenTypeIds ? Array.from(tokenTypeIds.subarray(b * seqLen, b * seqLen + length)) : new Array(length).fill(0));
    }
    const wanted = fixtureOutputs(expected, loaded.sentenceTransformers);
    const result = await runner.forwardPacked({ sequences, typeIds: tokenTypeIds ? typeIds : undefined, outputs: wanted.map(([, o]) => o), sequenceInputs });
    compareAll(result, wanted, attentionMask, true);
  });
});
