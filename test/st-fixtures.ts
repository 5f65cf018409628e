// The sentence-transformers fixtures (../shared/fixtures/sentence-transformers/*, made by
// sentence-transformers 6.0.0's own code): their runs (texts.json) and the checks the README
// sets: float outputs rel L2 < 1e-4 per row; integers exact except one unit (one bit) where the
// float sits within 1e-5 of a rounding boundary; rank order exact. Shared by the library and
// CLI tests.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { parseSafetensors, type SafetensorsFile } from '../src/safetensors';
import type { EmbedOptions, Precision } from '../src/encoder';
import { compareArrays } from './compare';
import { ENCODER_FIXTURES_DIR } from './fixtures';

export const ST_FIXTURES_DIR = path.join(ENCODER_FIXTURES_DIR, 'sentence-transformers');

export interface StRun {
  name: string;
  call: 'encode' | 'predict' | 'rank';
  args?: Record<string, unknown>;
  cli: string[] | null;
  output?: string;
  prompt_used?: string | null;
  prompt_length?: number | null;
  shape: number[];
  dtype?: string;
  query?: string;
  documents?: string[];
  pairs?: [string, string][];
  apply_softmax?: boolean;
  order?: number[];
  num_labels?: number;
  labels?: string[];
  rank?: string;
}

export interface StCase {
  name: string;
  dir: string;
  kind: 'st' | 'ce';
  texts: string[];
  runs: StRun[];
  expected: SafetensorsFile;
}

export function stCaseNames(): string[] {
  return readdirSync(ST_FIXTURES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

export function readStCase(name: string): StCase {
  const dir = path.join(ST_FIXTURES_DIR, name);
  const texts = JSON.parse(readFileSync(path.join(dir, 'texts.json'), 'utf8'));
  const file = path.join(dir, 'expected.safetensors');
  return { name, dir, kind: texts.kind, texts: texts.texts ?? [], runs: texts.runs, expected: parseSafetensors(new Uint8Array(readFileSync(file)), file) };
}

/** encode()'s keyword arguments as EmbedOptions. */
export function embedOptionsOf(args: Record<string, unknown> = {}): EmbedOptions {
  const options: EmbedOptions = {};
  for (const [key, value] of Object.entries(args)) {
    if (key === 'prompt') options.prompt = value as string;
    else if (key === 'prompt_name') options.promptName = value as string;
    else if (key === 'truncate_dim') options.truncateDim = value as number;
    else if (key === 'normalize_embeddings') options.normalize = value as boolean;
    else if (key === 'precision') options.precision = value as Precision;
    else throw new Error(`texts.json: encode argument ${key} is not mapped`);
  }
  return options;
}

/** Float rows [n, d] against the reference: rel L2 < 1e-4 on every row, finite. */
export function expectRowsClose(got: ArrayLike<number>, ref: Float32Array, rows: number, label: string): number {
  expect(got.length, `${label} size`).toBe(ref.length);
  expect(Array.from(got).every(Number.isFinite), `${label}: finite`).toBe(true);
  const d = ref.length / rows;
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    const g = Array.from(got).slice(r * d, (r + 1) * d);
    const stats = compareArrays(g, ref.subarray(r * d, (r + 1) * d), { atol: 0, rtol: 0, label: `${label} row ${r}` });
    worst = Math.max(worst, stats.relL2);
    expect(stats.relL2, `${label} row ${r}\n${stats.lines.join('\n')}`).toBeLessThan(1e-4);
  }
  return worst;
}

/**
 * Quantized rows against the reference: equal, except one unit (one bit for binary) where the
 * reference's float sits within 1e-5 of a rounding boundary. Returns how many were excused.
 */
export function expectQuantizedEqual(got: ArrayLike<number>, expected: SafetensorsFile, run: StRun, label: string): number {
  const ref = expected.toInt32(`${run.name}.embedding`);
  const floats = expected.toFloat32(`${run.name}.sentence_embedding_float`);
  const precision = run.args!.precision as string;
  expect(got.length, `${label} size`).toBe(ref.length);
  const [rows] = run.shape;
  const width = ref.length / rows;
  const dims = floats.length / rows;
  let excused = 0;
  const bad: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    if (got[i] === ref[i]) continue;
    const r = Math.floor(i / width);
    const c = i % width;
    let nearEdge = false;
    if (precision === 'binary' || precision === 'ubinary') {
      // Which bits differ, and is each one's float within 1e-5 of 0?
      const diff = ((got[i] as number) ^ ref[i]) & 0xff;
      nearEdge = [0, 1, 2, 3, 4, 5, 6, 7].filter((b) => diff & (0x80 >> b)).length === 1 &&
        [0, 1, 2, 3, 4, 5, 6, 7].every((b) => !(diff & (0x80 >> b)) || Math.abs(floats[r * dims + c * 8 + b]) <= 1e-5);
    } else {
      const ranges = expected.toFloat32(`${run.name}.ranges`);
      const min = ranges[c];
      const step = (ranges[dims + c] - min) / 255 || 1;
      const v = (floats[r * dims + c] - min) / step;
      nearEdge = Math.abs((got[i] as number) - ref[i]) === 1 && Math.abs(v - Math.round(v)) * step <= 1e-5;
    }
    if (nearEdge) excused++;
    else bad.push(`[${r}, ${c}] got ${got[i]}, expected ${ref[i]}`);
  }
  expect(bad, `${label}: quantized values differ\n${bad.slice(0, 8).join('\n')}`).toEqual([]);
  return excused;
}

/** The CLI flags of a run, with --model. */
export function cliArgs(c: StCase, run: StRun): string[] {
  return [...run.cli!, '--model', c.dir];
}
