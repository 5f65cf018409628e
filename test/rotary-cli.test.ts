// `neobert forward` and `neobert tokenize` on every NomicBERT and GTE fixture (dist/cli.js as a
// child process): forward writes exactly the outputs the fixture's expected.safetensors holds
// (sentence_embedding and logits included, matryoshka_* aside: not a forward output), each within
// rel L2 1e-4 on real tokens; tokenize gives the fixture's ids for the folders with tokenizer files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseSafetensors, type SafetensorsFile } from '../src/safetensors';
import { compareArrays } from './compare';
import { ENCODER_FIXTURES_DIR, encoderFixtureCases } from './fixtures';
import { buildDist, runCli } from './cli-harness';

const read = async (file: string): Promise<SafetensorsFile> => parseSafetensors(new Uint8Array(await readFile(file)), file);

/** Rows of a [B, T, X] tensor whose attention mask is 1. */
function realRows(data: Float32Array, mask: Int32Array, width: number): Float32Array {
  return Float32Array.from(Array.from(mask).flatMap((m, i) => (m === 1 ? Array.from(data.subarray(i * width, (i + 1) * width)) : [])));
}

const INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids']);
let tmp: string;

beforeAll(async () => {
  buildDist();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'neobert-rotary-cli-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe.each(encoderFixtureCases(['nomic-bert', 'gte']))('%s', (caseName) => {
  const dir = path.join(ENCODER_FIXTURES_DIR, caseName);

  it('forward --input expected.safetensors writes every reference output within rel L2 1e-4', async () => {
    const out = path.join(tmp, `${caseName.replace('/', '-')}.safetensors`);
    const result = await runCli(['forward', '--model', dir, '--input', path.join(dir, 'expected.safetensors'), '--output', out]);
    expect(result.code, result.stderr).toBe(0);
    const expected = await read(path.join(dir, 'expected.safetensors'));
    const got = await read(out);
    const outputs = expected.names().filter((n) => !INPUTS.has(n) && !n.startsWith('matryoshka_'));
    expect(got.names().sort()).toEqual([...outputs].sort());
    const mask = expected.toInt32('attention_mask');
    const report: string[] = [];
    for (const name of outputs) {
      const shape = expected.entry(name).shape;
      expect(got.entry(name).shape, name).toEqual(shape);
      const [g, r] = shape.length === 3 ? [realRows(got.toFloat32(name), mask, shape[2]), realRows(expected.toFloat32(name), mask, shape[2])] : [got.toFloat32(name), expected.toFloat32(name)];
      expect(g.every(Number.isFinite), `${name} finite`).toBe(true);
      const rel = compareArrays(g, r, { atol: 0, rtol: 0 }).relL2;
      report.push(`${name} ${rel.toExponential(2)}`);
      expect(rel, `${caseName} ${name}`).toBeLessThan(1e-4);
    }
    console.log(`[cli forward] ${caseName}: ${report.join(', ')}`);
  });
});

// The folders that ship tokenizer files (nomic: bert-base-uncased's; gte-v1.5: gte-large-en-v1.5's).
const WITH_TOKENIZER = encoderFixtureCases(['nomic-bert', 'gte']).filter((c) => existsSync(path.join(ENCODER_FIXTURES_DIR, c, 'tokenizer.json')));

it('two fixture folders ship tokenizer files', () => expect(WITH_TOKENIZER).toEqual(['nomic-bert/nomic-v15-vocab-f16', 'gte/gte-en-v15-st-vocab-f32']));

describe.each(WITH_TOKENIZER)('%s', (caseName) => {
  const dir = path.join(ENCODER_FIXTURES_DIR, caseName);

  it('tokenize gives the reference ids of the metadata texts', async () => {
    const expected = await read(path.join(dir, 'expected.safetensors'));
    const texts = JSON.parse(expected.metadata.texts) as string[];
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const ids = expected.toInt32('input_ids');
    const mask = expected.toInt32('attention_mask');
    const rows = Array.from({ length: batch }, (_, b) => Array.from(ids.subarray(b * seqLen, (b + 1) * seqLen)).filter((_, t) => mask[b * seqLen + t] === 1));
    const result = await runCli(['tokenize', '--model', dir], texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(rows);
  });
});
