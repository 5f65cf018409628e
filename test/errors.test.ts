// Bad input gives one clear error, never a crash or a partial output: corrupt safetensors inputs
// and failing forwards through the CLI (which writes files), bad batches and broken checkpoint
// folders through the library on one shared GPU device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CheckpointError } from '../src/errors';
import { InputError } from '../src/errors';
import { NeoBERT } from '../src/encoder';
import { folderSource } from '../src/sources/folder';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile, type SerializableTensor } from '../src/safetensors';
import { FIXTURES_DIR } from './fixtures';
import { testGPU } from './gpu-context';
import { buildDist, runCli as runCliWith, type CliResult } from './cli-harness';

/** The CLI with no stdin. */
const runCli = (args: string[]): Promise<CliResult> => runCliWith(args, null);

const TINY = path.join(FIXTURES_DIR, 'tiny-mlm-f32'); // vocab 30522, max_length 4096, 3 x 17 tokens
const SMALL_CLS = path.join(FIXTURES_DIR, 'small-cls-f32'); // 3 MB, 3 layers, classification head

/** A failed CLI run: exit 1, exactly one "neobert: ..." line matching `reason`, no stack trace. */
function expectCliFailure(result: CliResult, reason: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('neobert: '));
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(reason);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
}

async function readSafetensors(file: string): Promise<SafetensorsFile> {
  return parseSafetensors(new Uint8Array(await readFile(file)), file);
}

/** A safetensors file from a header object (or raw header text) and a data section. */
function rawSafetensors(header: object | string, dataBytes: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.fill(0x20, 8, 8 + padded);
  out.set(text, 8);
  return out;
}

function inputFile(ids: number[][], mask: number[][] = ids.map((row) => row.map(() => 1)), dtype: 'I64' | 'I32' = 'I64'): Uint8Array {
  const shape = [ids.length, ids[0]?.length ?? 0];
  return serializeSafetensors({
    input_ids: { dtype, shape, data: ids.flat() },
    attention_mask: { dtype, shape, data: mask.flat() },
  });
}

let tmp: string;
let caseNumber = 0;

/** A fresh folder holding only the input file, and an empty folder for the output. */
async function freshCase(input: Uint8Array): Promise<{ input: string; outDir: string; output: string }> {
  const dir = path.join(tmp, `case-${++caseNumber}`);
  const outDir = path.join(dir, 'out');
  await mkdir(outDir, { recursive: true });
  const file = path.join(dir, 'input.safetensors');
  await writeFile(file, input);
  return { input: file, outDir, output: path.join(outDir, 'out.safetensors') };
}

beforeAll(async () => {
  buildDist();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'neobert-errors-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('CLI forward: corrupt or incomplete input files', () => {
  // A valid 2 x 3 I64 input (48 + 48 data bytes); the cases below break it in one way each.
  const valid = () => inputFile([[1, 5, 2], [1, 7, 0]], [[1, 1, 1], [1, 1, 0]]);
  const dataStart = (bytes: Uint8Array) => 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const i64 = (begin: number, shape = [2, 3]) => ({ dtype: 'I64', shape, data_offsets: [begin, begin + shape[0] * shape[1] * 8] });

  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      'truncated in the middle of the data',
      () => {
        const bytes = valid();
        const start = dataStart(bytes);
        return bytes.slice(0, start + (bytes.byteLength - start) / 2 + 3);
      },
      /input\.safetensors: tensor "\w+" has data_offsets \[\d+, \d+\] past the end of the data section \(51 bytes\)/,
    ],
    [
      'header length pointing past EOF',
      () => {
        const bytes = valid();
        new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.byteLength), true);
        return bytes;
      },
      /input\.safetensors: header length \d+ runs past the end of the file/,
    ],
    ['bad JSON header', () => rawSafetensors('{"input_ids": {"dtype": "I64",', 96), /input\.safetensors: header is not valid JSON/],
    [
      'unknown dtype',
      () => rawSafetensors({ input_ids: { ...i64(0), dtype: 'Q4' }, attention_mask: i64(48) }, 96),
      /input\.safetensors: tensor "input_ids" has unknown dtype "Q4"/,
    ],
    [
      'overlapping offsets',
      () => rawSafetensors({ input_ids: i64(0), attention_mask: i64(40) }, 96),
      /input\.safetensors: tensor "attention_mask" bytes \[40, 88\) overlap tensor "input_ids" bytes \[0, 48\)/,
    ],
    [
      'out-of-range offsets',
      () => rawSafetensors({ input_ids: i64(0), attention_mask: i64(1_000_000) }, 96),
      /input\.safetensors: tensor "attention_mask" has data_offsets \[1000000, 1000048\] past the end of the data section \(96 bytes\)/,
    ],
    [
      'no attention_mask',
      () => serializeSafetensors({ input_ids: { dtype: 'I64', shape: [1, 3], data: [1, 5, 2] } }),
      /input\.safetensors: missing tensor "attention_mask"/,
    ],
  ];

  it.each(cases)('%s: exit 1, one clear line, no output file', async (_name, make, reason) => {
    const { input, outDir, output } = await freshCase(make());
    const result = await runCli(['forward', '--model', TINY, '--input', input, '--output', output]);
    expectCliFailure(result, reason);
    expect(await readdir(outDir)).toEqual([]);
  });
});

describe('CLI forward: failures after the model ran or loaded', () => {
  it('ids out of vocab range: exit 1 and an existing output file is left untouched', async () => {
    const { input, outDir, output } = await freshCase(inputFile([[1, 5, 2], [1, 999999, 2]]));
    const sentinel = 'sentinel: a previous result that must survive a failed run\n';
    await writeFile(output, sentinel);
    const result = await runCli(['forward', '--model', TINY, '--input', input, '--output', output]);
    expectCliFailure(result, /input_ids\[1\]\[1\] = 999999 is out of the vocabulary range \[0, 30522\)/);
    expect(await readFile(output, 'utf8')).toBe(sentinel);
    expect(await readdir(outDir)).toEqual(['out.safetensors']); // no temporary file beside it
  });

  it('output into a folder that does not exist: exit 1 naming the path, nothing created', async () => {
    const { input } = await freshCase(inputFile([[1, 5, 2]]));
    const missing = path.join(tmp, 'no-such-folder');
    const output = path.join(missing, 'out.safetensors');
    const result = await runCli(['forward', '--model', TINY, '--input', input, '--output', output]);
    expectCliFailure(result, new RegExp(`${output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: output folder .* does not exist`));
    expect(existsSync(missing)).toBe(false);
  });
});

describe('library forward: bad batches', () => {
  let model: NeoBERT;
  let limited: NeoBERT; // the tiny fixture with config max_length 16
  let expected: SafetensorsFile;

  beforeAll(async () => {
    const gpu = await testGPU();
    model = await NeoBERT.load(folderSource(TINY), { gpu });
    const dir = path.join(tmp, 'max-length-16');
    await mkdir(dir);
    const config = JSON.parse(await readFile(path.join(TINY, 'config.json'), 'utf8'));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, max_length: 16 }));
    for (const file of ['model.safetensors', 'vocab.txt']) await symlink(path.join(TINY, file), path.join(dir, file));
    limited = await NeoBERT.load(folderSource(dir), { gpu });
    expected = await readSafetensors(path.join(TINY, 'expected.safetensors'));
  });

  afterAll(() => {
    model?.dispose();
    limited?.dispose();
  });

  const forward = (m: NeoBERT, ids: ArrayLike<number>, mask: ArrayLike<number>, batch: number, seqLen: number) =>
    m.forward({ inputIds: ids, attentionMask: mask, batch, seqLen, outputs: ['lastHiddenState', 'pooledCls', 'logits'] });

  it('ids out of vocab range', async () => {
    await expect(forward(model, [1, 999999, 2], [1, 1, 1], 1, 3)).rejects.toThrow(
      /input_ids\[0\]\[1\] = 999999 is out of the vocabulary range \[0, 30522\)/,
    );
    await expect(forward(model, [1, -3, 2], [1, 1, 1], 1, 3)).rejects.toThrow(/input_ids\[0\]\[1\] = -3 is out of the vocabulary range/);
  });

  it('empty batch read from a [0, 5] input file', async () => {
    const tensors: Record<string, SerializableTensor> = {
      input_ids: { dtype: 'I64', shape: [0, 5], data: [] },
      attention_mask: { dtype: 'I64', shape: [0, 5], data: [] },
    };
    const empty = parseSafetensors(serializeSafetensors(tensors), 'empty.safetensors');
    const [batch, seqLen] = empty.entry('input_ids').shape;
    expect([batch, seqLen]).toEqual([0, 5]);
    const error = await forward(model, empty.toInt32('input_ids'), empty.toInt32('attention_mask'), batch, seqLen).catch((e) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(/empty batch: expected at least one sequence, got batch size 0/);
  });

  it('token count over the limit (config max_length 16): 16 tokens run, 17 fail', async () => {
    const ids = Array.from(expected.toInt32('input_ids').subarray(0, 17)); // first row: 17 real tokens
    const ok = await forward(limited, ids.slice(0, 16), new Array(16).fill(1), 1, 16);
    expect(ok.lastHiddenState).toHaveLength(16 * 64);
    await expect(forward(limited, ids, new Array(17).fill(1), 1, 17)).rejects.toThrow(
      /sequence length 17 is over the model's limit of 16 tokens/,
    );
    // The text path refuses too when truncation is off, and truncates to 16 when on.
    const long = 'word '.repeat(40);
    await expect(limited.embed([long], { truncation: false })).rejects.toThrow(/text 0 has 42 tokens, over the limit of 16/);
    expect((await limited.embed([long]))[0]).toHaveLength(64);
  });

  it('an all-zero attention mask row', async () => {
    await expect(forward(model, [1, 5, 2, 1, 6, 2], [1, 1, 1, 0, 0, 0], 2, 3)).rejects.toThrow(
      /sequence 1 has no tokens: its attention_mask is all zeros/,
    );
  });

  it('the model still runs correctly after the rejected batches', async () => {
    const [batch, seqLen] = expected.entry('input_ids').shape;
    const result = await forward(model, expected.toInt32('input_ids'), expected.toInt32('attention_mask'), batch, seqLen);
    const ref = expected.toFloat32('pooled_cls');
    const got = result.pooledCls!;
    const maxDiff = Math.max(...Array.from(got, (v, i) => Math.abs(v - ref[i])));
    expect(maxDiff).toBeLessThan(1e-3);
  });
});

describe('library load: broken checkpoint folders', () => {
  let weights: SafetensorsFile;

  beforeAll(async () => {
    weights = await readSafetensors(path.join(SMALL_CLS, 'model.safetensors'));
  });

  /** A copy of small-cls-f32 whose model.safetensors holds `tensors` instead. */
  async function folderWith(name: string, tensors: Record<string, SerializableTensor>): Promise<string> {
    const dir = path.join(tmp, name);
    await mkdir(dir);
    await copyFile(path.join(SMALL_CLS, 'config.json'), path.join(dir, 'config.json'));
    await writeFile(path.join(dir, 'model.safetensors'), serializeSafetensors(tensors));
    return dir;
  }

  function allTensors(): Record<string, SerializableTensor> {
    return Object.fromEntries(
      weights.names().map((name) => [name, { dtype: 'F32', shape: weights.entry(name).shape, data: weights.toFloat32(name) }]),
    );
  }

  async function loadError(dir: string): Promise<Error> {
    const gpu = await testGPU();
    const result = await NeoBERT.load(folderSource(dir), { gpu }).then(
      (m) => {
        m.dispose();
        return null;
      },
      (e: Error) => e,
    );
    expect(result, 'load should have failed').not.toBeNull();
    expect(result).toBeInstanceOf(CheckpointError);
    return result!;
  }

  it('a copy with every tensor loads (control)', async () => {
    const gpu = await testGPU();
    const m = await NeoBERT.load(folderSource(await folderWith('complete', allTensors())), { gpu });
    expect(m.info().head).toBe('classification');
    m.dispose();
  });

  it('missing tensor', async () => {
    const tensors = allTensors();
    delete tensors['model.transformer_encoder.1.ffn.w3.weight'];
    const error = await loadError(await folderWith('missing-tensor', tensors));
    expect(error.message).toMatch(/tensor model\.transformer_encoder\.1\.ffn\.w3\.weight is missing/);
  });

  it('wrong shape', async () => {
    const tensors = allTensors();
    const wo = weights.toFloat32('model.transformer_encoder.0.wo.weight');
    tensors['model.transformer_encoder.0.wo.weight'] = { dtype: 'F32', shape: [128, 64], data: wo.slice(0, 128 * 64) };
    const error = await loadError(await folderWith('wrong-shape', tensors));
    expect(error.message).toMatch(/model\.safetensors: tensor model\.transformer_encoder\.0\.wo\.weight has shape \[128,64\], expected \[128,128\]/);
  });

  it('missing config.json', async () => {
    const dir = path.join(tmp, 'no-config');
    await mkdir(dir);
    await symlink(path.join(SMALL_CLS, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const error = await loadError(dir);
    expect(error.message).toMatch(/no-config\/config\.json: not found \(a checkpoint needs its config\.json\)/);
  });

  it('a folder that does not exist', async () => {
    const error = await loadError(path.join(tmp, 'no-such-checkpoint'));
    expect(error.message).toMatch(/no-such-checkpoint: checkpoint folder does not exist/);
  });
});
