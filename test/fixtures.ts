// Locations of the shared read-only fixtures (../shared beside the repo, or $NEOBERT_SHARED_DIR),
// resolved relative to this file so tests run from any cwd. Missing fixtures are a failure with
// a clear message, never a silent skip.
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runner, type OutputName } from '../src/runner';
import type { LoadedCheckpoint } from '../src/checkpoint';
import type { EncoderModel } from '../src/models/types';
import { SentenceTransformersHead } from '../src/sentence-head';
import type { EncoderConfig } from '../src/models/types';
import { truncateRows } from '../src/api/postprocess';
import { parseSafetensors, type SafetensorsFile } from '../src/safetensors';
import type { SentenceTransformersConfig } from '../src/sentence-transformers';

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
export const NOT_YET_SUPPORTED: readonly string[] = [];

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

/**
 * Fixture output name -> runner output, for those the fixture has, with the host step embed()
 * applies after it, if any. sentence_embedding: the folder's modules (SentenceTransformersHead),
 * else the checkpoint's own encode() (config.encode, jina); narrower than the hidden size, it is
 * a Matryoshka truncation: the rows cut to its width, then L2 (embed()'s truncateDim).
 */
export function fixtureOutputs(
  expected: SafetensorsFile,
  sentenceTransformers: SentenceTransformersConfig | null,
  config?: Pick<EncoderConfig, 'hiddenSize' | 'encode'>,
): [string, OutputName, ((got: Float32Array) => Float32Array)?][] {
  const all: [string, OutputName, ((got: Float32Array) => Float32Array)?][] = [
    ['last_hidden_state', 'lastHiddenState'],
    ['pooled_cls', 'pooledCls'],
    ['pooled_mean', 'pooledMean'],
    ['pooler_output', 'poolerOutput'],
    ['logits', 'logits'],
  ];
  if (expected.has('sentence_embedding')) {
    const [rows, dim] = expected.entry('sentence_embedding').shape;
    const C = config?.hiddenSize ?? dim;
    const own = config?.encode ?? null;
    if (sentenceTransformers?.pooling) {
      all.push(['sentence_embedding', 'sentenceEmbedding', dim < C ? (got) => truncateRows(got, rows, C, dim, true) : undefined]);
    } else if (own) {
      const pooled = own.pooling === 'cls' ? 'pooledCls' : 'pooledMean';
      if (dim < C) all.push(['sentence_embedding', pooled, (got) => truncateRows(got, rows, C, dim, own.normalize)]);
      else all.push(['sentence_embedding', `${pooled}${own.normalize ? 'Normalized' : ''}` as OutputName]);
    }
  }
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

/** Tensor names of a safetensors file, from its header alone (no data read). */
export function safetensorsNames(file: string): string[] {
  const fd = openSync(file, 'r');
  try {
    const size = Buffer.alloc(8);
    readSync(fd, size, 0, 8, 0);
    const header = Buffer.alloc(Number(size.readBigUInt64LE(0)));
    readSync(fd, header, 0, header.length, 8);
    return Object.keys(JSON.parse(header.toString('utf8'))).filter((n) => n !== '__metadata__');
  } finally {
    closeSync(fd);
  }
}

/** Inputs of a fixture's expected.safetensors (everything else is a reference output). */
export const FIXTURE_INPUTS: ReadonlySet<string> = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'adapter_mask']);

/** One fixture per registered family (the first with logits, else the first): the CLI's per-architecture checks. */
export function oneFixturePerFamily(): ModelFixture[] {
  const byFamily = new Map<string, ModelFixture[]>();
  for (const f of modelFixtures()) if (!f.notYetSupported) byFamily.set(f.family, [...(byFamily.get(f.family) ?? []), f]);
  return [...byFamily.values()].map((cases) => cases.find((c) => safetensorsNames(path.join(c.dir, 'expected.safetensors')).includes('logits')) ?? cases[0]);
}

/**
 * A Runner for a fixture's model with the folder's sentence-transformers modules when it has a
 * Pooling module (its sentence_embedding), else none. The caller destroys runner, head and model.
 */
export async function fixtureRunner(device: GPUDevice, model: EncoderModel, loaded: LoadedCheckpoint): Promise<Runner> {
  const st = loaded.sentenceTransformers;
  const head = st?.pooling ? await SentenceTransformersHead.create(device, st, loaded.sentenceTransformersDense, loaded.config.hiddenSize) : null;
  return new Runner(model, head);
}
