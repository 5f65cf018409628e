// Node-only entry: checkpoint sources from paths and URLs, crash-safe writes, the bundled model.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckpointSource } from '../sources/types';
import { urlSource } from '../sources/url';
import { CheckpointError } from '../errors';
import { folderSource } from '../sources/folder';

export { folderSource, writeFileAtomic } from '../sources/folder';

// The error classes, the very ones 'neobert-webgpu' exports (one shared module in dist/), so
// `instanceof` holds whichever entry point a caller imports them from.
export {
  EncoderError,
  NeoBERTError,
  CheckpointError,
  InputError,
  ModelDisposedError,
  DeviceLostError,
  GPUUnavailableError,
  GPUOutOfMemoryError,
  GPUValidationError,
  KernelShapeError,
  TokenLimitError,
} from '../errors';

/** weights/wordnet-mini of this package ('bundled': the embedder), found upwards from this module (src/node/, dist/, dist/node/). */
export const BUNDLED_MODEL_DIR = findBundledModel('wordnet-mini');
/** weights/neobert-mini of this package ('bundled-mlm': the untrained NeoBERT MLM checkpoint). */
export const BUNDLED_MLM_MODEL_DIR = findBundledModel('neobert-mini');

function findBundledModel(name: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'weights', name);
    if (existsSync(path.join(candidate, 'config.json'))) return candidate;
    dir = path.dirname(dir);
  }
  return path.join(dir, 'weights', name); // reported as missing when used
}

/**
 * A checkpoint source from what a user types: an http(s) Hub-style folder URL, a local folder,
 * or a local .safetensors file (its folder must hold config.json).
 */
export async function sourceFor(location: string): Promise<CheckpointSource> {
  if (/^https?:\/\//.test(location)) return urlSource(location.endsWith('/') ? location : `${location}/`);
  const info = await stat(location).catch(() => null);
  if (!info) throw new CheckpointError(`${location}: no such file or folder`);
  if (info.isDirectory()) return folderSource(location);
  if (location.endsWith('.safetensors') || location.endsWith('.json')) {
    const dir = path.dirname(location);
    const name = path.basename(location);
    if (name !== 'model.safetensors' && name !== 'model.safetensors.index.json') {
      throw new CheckpointError(`${location}: expected a checkpoint folder, or its model.safetensors / model.safetensors.index.json`);
    }
    return folderSource(dir);
  }
  throw new CheckpointError(`${location}: expected a checkpoint folder (config.json + model.safetensors) or a URL`);
}

/** Whether a local file or folder exists at `location` (a Hub id only goes to the network when none does). */
export async function pathExists(location: string): Promise<boolean> {
  return (await stat(location).catch(() => null)) !== null;
}
