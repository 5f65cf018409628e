// Locations of the shared read-only fixtures (../shared beside the repo, or $NEOBERT_SHARED_DIR),
// resolved relative to this file so tests run from any cwd. Missing fixtures are a failure with
// a clear message, never a silent skip.
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
