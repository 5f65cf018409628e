// Locations of the shared read-only fixtures, resolved relative to this file so tests run from any cwd.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../../shared/fixtures/neobert/', import.meta.url));
export const TOKENIZER_FIXTURES_DIR = fileURLToPath(new URL('../../shared/fixtures/tokenizer/', import.meta.url));

/** Names of the model fixture cases (folders under FIXTURES_DIR), sorted. */
export function fixtureCases(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}
