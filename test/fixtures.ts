// Locations of the shared read-only fixtures (../shared beside the repo, or $NEOBERT_SHARED_DIR),
// resolved relative to this file so tests run from any cwd. Missing fixtures are a failure with
// a clear message, never a silent skip.
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OutputName } from '../src/runner';
import { parseSafetensors, type SafetensorsFile } from '../src/safetensors';

const SHARED_DIR = process.env.NEOBERT_SHARED_DIR ?? fileURLToPath(new URL('../../shared/', import.meta.url));
if (!existsSync(path.join(SHARED_DIR, 'fixtures'))) {
  throw new Error(`fixtures not found under ${SHARED_DIR}: clone the repo beside shared/ or set NEOBERT_SHARED_DIR`);
}

export const FIXTURES_DIR = path.join(SHARED_DIR, 'fixtures', 'neobert') + path.sep;
export const TOKENIZER_FIXTURES_DIR = path.join(SHARED_DIR, 'fixtures', 'tokenizer') + path.sep;

/** Names of the model fixture cases (folders under FIXTURES_DIR), sorted. */
export function fixtureCases(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** A fixture's expected.safetensors: input_ids, attention_mask and the reference outputs. */
export async function readExpected(caseName: string): Promise<SafetensorsFile> {
  const file = path.join(FIXTURES_DIR, caseName, 'expected.safetensors');
  return parseSafetensors(new Uint8Array(await readFile(file)), file);
}

/** The BERT-family fixtures (../shared/fixtures/ENCODERS.md): `<arch>/<case>` folders. */
export const ENCODER_FIXTURES_DIR = path.join(SHARED_DIR, 'fixtures') + path.sep;

/** `<arch>/<case>` names of the encoder fixtures of the given architecture folders, sorted. */
export function encoderFixtureCases(archs: string[]): string[] {
  return archs.flatMap((arch) =>
    readdirSync(path.join(ENCODER_FIXTURES_DIR, arch), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${arch}/${entry.name}`)
      .sort(),
  );
}

export async function readEncoderExpected(caseName: string): Promise<SafetensorsFile> {
  const file = path.join(ENCODER_FIXTURES_DIR, caseName, 'expected.safetensors');
  return parseSafetensors(new Uint8Array(await readFile(file)), file);
}

// ---------------------------------------------------------------------------------------------
// Every model fixture, found on disk: ../shared/fixtures/<family>/<case>/ with config.json and
// expected.safetensors. The fixture tests iterate these (and the registry), so adding an
// architecture needs no test edit: its fixtures are found, and must pass once it is registered.

/** Fixture families that are not model folders. */
const NON_MODEL_FAMILIES: ReadonlySet<string> = new Set(['tokenizers', 'tokenizer', 'sentence-transformers']);

/**
 * Model families whose fixtures exist but whose architecture is not registered yet: their fixtures
 * must be REFUSED (a CheckpointError), and the test fails once one loads, so this list stays true.
 * Delete a family here in the change that registers its architecture.
 */
export const NOT_YET_SUPPORTED: readonly string[] = ['nomic-bert', 'gte', 'jina-xlm-roberta', 'distilbert', 'electra'];

export interface ModelFixture {
  /** `<family>/<case>`, e.g. "bert/bert-base-pooler-f32". */
  id: string;
  family: string;
  dir: string;
  /** Whether its family is in NOT_YET_SUPPORTED. */
  notYetSupported: boolean;
}

/**
 * Every model fixture folder (config.json + expected.safetensors), sorted by id. $FIXTURE_FAMILIES
 * (comma-separated) narrows it to some families, for a quicker local run.
 */
export function modelFixtures(): ModelFixture[] {
  const only = process.env.FIXTURE_FAMILIES?.split(',');
  return readdirSync(ENCODER_FIXTURES_DIR, { withFileTypes: true })
    .filter((f) => f.isDirectory() && !NON_MODEL_FAMILIES.has(f.name) && (!only || only.includes(f.name)))
    .flatMap((f) =>
      readdirSync(path.join(ENCODER_FIXTURES_DIR, f.name), { withFileTypes: true })
        .filter((c) => c.isDirectory())
        .map((c) => ({ family: f.name, dir: path.join(ENCODER_FIXTURES_DIR, f.name, c.name), id: `${f.name}/${c.name}` })),
    )
    .filter((c) => existsSync(path.join(c.dir, 'config.json')) && existsSync(path.join(c.dir, 'expected.safetensors')))
    .map((c) => ({ ...c, notYetSupported: NOT_YET_SUPPORTED.includes(c.family) }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Fixture output name -> runner output (sentence_embedding: the folder's pooling, then its Normalize), for those the fixture has. */
export function fixtureOutputs(expected: SafetensorsFile, sentenceTransformers: { pooling: string; normalize: boolean } | null): [string, OutputName][] {
  const all: [string, OutputName][] = [
    ['last_hidden_state', 'lastHiddenState'],
    ['pooled_cls', 'pooledCls'],
    ['pooled_mean', 'pooledMean'],
    ['pooler_output', 'poolerOutput'],
    ['logits', 'logits'],
  ];
  const st = sentenceTransformers;
  if (st) all.push(['sentence_embedding', `${st.pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${st.normalize ? 'Normalized' : ''}` as OutputName]);
  return all.filter(([name]) => expected.has(name));
}

/** The request a fixture's expected.safetensors describes: ids, mask, token types, per-sequence inputs the model reads. */
export function fixtureRequest(expected: SafetensorsFile, sequenceInputNames: readonly string[] = []) {
  const [batch, seqLen] = expected.entry('input_ids').shape;
  const sequenceInputs: Record<string, Int32Array> = {};
  for (const name of sequenceInputNames) if (expected.has(name)) sequenceInputs[name] = expected.toInt32(name);
  return {
    batch,
    seqLen,
    inputIds: expected.toInt32('input_ids'),
    attentionMask: expected.toInt32('attention_mask'),
    tokenTypeIds: expected.has('token_type_ids') ? expected.toInt32('token_type_ids') : undefined,
    sequenceInputs,
  };
}

/** Rows of a [B, T, X] tensor whose mask is 1, concatenated. */
export function realRows(data: Float32Array, mask: Int32Array, width: number): Float32Array {
  const out = new Float32Array(mask.reduce((n, m) => n + (m === 1 ? 1 : 0), 0) * width);
  let r = 0;
  mask.forEach((m, i) => {
    if (m === 1) out.set(data.subarray(i * width, (i + 1) * width), r++ * width);
  });
  return out;
}
