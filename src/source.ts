// What NeoBERT.load accepts, turned into a CheckpointSource. Browser-safe: the Node helpers
// (folders, the bundled checkpoint's path) are reached by a dynamic import that bundlers leave
// alone, and only when running under Node. This file stays in src/ (not src/sources/): that
// relative specifier ('./node/index.js') must name the Node entry both from src/ and from dist/.
import { filesSource } from './sources/files';
import type { CheckpointSource, NamedBlob } from './sources/types';
import { urlSource } from './sources/url';
import { CheckpointError } from './errors';

/**
 * Pass this to NeoBERT.load for the bundled embedder: weights/wordnet-mini, a small BERT sentence
 * embedder trained on WordNet (see its README.md), the offline default.
 */
export const BUNDLED_MODEL = 'bundled';

/**
 * Pass this to NeoBERT.load for the bundled MLM checkpoint: weights/neobert-mini, NeoBERT with an MLM
 * head, untrained (random weights, real vocabulary): it exercises fill-mask and the NeoBERT path.
 */
export const BUNDLED_MLM_MODEL = 'bundled-mlm';

/**
 * Where the page serves the bundled checkpoints, relative to the document's base URL (Vite serves
 * the repository's weights/ folders there, and copies them into the demo build).
 */
export const BUNDLED_MODEL_PATH = 'weights/wordnet-mini/';
export const BUNDLED_MLM_MODEL_PATH = 'weights/neobert-mini/';

/** The page-relative folder of a bundled source name, or null for any other source. */
export function bundledModelPath(source: string): string | null {
  return source === BUNDLED_MODEL ? BUNDLED_MODEL_PATH : source === BUNDLED_MLM_MODEL ? BUNDLED_MLM_MODEL_PATH : null;
}

/**
 * A checkpoint to load:
 * - `'bundled'` (BUNDLED_MODEL): the small embedder shipped with the package (weights/wordnet-mini);
 * - `'bundled-mlm'` (BUNDLED_MLM_MODEL): the untrained NeoBERT MLM checkpoint shipped with it (weights/neobert-mini);
 * - a Hub model id (`'sentence-transformers/all-MiniLM-L6-v2'`, at `revision`, default main);
 * - a Hub-style folder URL (`https://huggingface.co/<repo>/resolve/main/`), absolute or, in a
 *   browser, relative to the page (write relative folders as `./models/x/`, or they read as Hub ids);
 * - in Node, a local folder (or its model.safetensors);
 * - the `File`s of an `<input type=file multiple>` (a FileList or an array);
 * - any CheckpointSource (urlSource, filesSource, memorySource, folderSource).
 */
export type ModelSource = string | URL | CheckpointSource | Iterable<NamedBlob> | ArrayLike<NamedBlob>;

export interface ResolveOptions {
  /** Cache Storage bucket for downloads (see urlSource); false turns caching off. */
  cache?: string | false;
  /** Branch, tag or commit of a Hub model id (default 'main'). */
  revision?: string;
}

/** Where Hub model ids are downloaded from. */
export const HUB_ENDPOINT = 'https://huggingface.co';

// "owner/name" as the Hub spells repository ids (no leading ./ or /, no trailing slash).
const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Whether a string looks like a Hub model id ("sentence-transformers/all-MiniLM-L6-v2"). */
export function isHubModelId(source: string): boolean {
  return HUB_ID.test(source) && !source.includes('..');
}

/**
 * The Hub-style folder URL of a model id at a revision, as transformers.js resolves it:
 * https://huggingface.co/<id>/resolve/<revision>/ (a revision with "/" is URL-encoded, e.g. refs/pr/1).
 */
export function hubModelUrl(id: string, revision = 'main'): string {
  if (!isHubModelId(id)) throw new CheckpointError(`${JSON.stringify(id)} is not a Hub model id (expected "owner/name")`);
  if (typeof revision !== 'string' || revision === '') throw new CheckpointError(`revision must be a non-empty string, got ${JSON.stringify(revision)}`);
  return `${HUB_ENDPOINT}/${id}/resolve/${encodeURIComponent(revision)}/`;
}

export function isNodeRuntime(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string' && typeof (globalThis as { document?: unknown }).document === 'undefined';
}

/** The page's base URL (document.baseURI; in a worker its own location). */
export function baseHref(): string | undefined {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  return g.document?.baseURI ?? g.location?.href;
}

type NodeEntry = typeof import('./node/index');

async function nodeEntry(): Promise<NodeEntry> {
  // A variable specifier: bundlers do not follow it, so no node: import reaches a browser bundle.
  const specifier = './node/index.js';
  try {
    return (await import(/* @vite-ignore */ specifier)) as NodeEntry;
  } catch (error) {
    throw new CheckpointError(
      `cannot load the Node helpers for paths (${(error as Error).message}); import { folderSource } from 'neobert-webgpu/node' and pass folderSource(dir)`,
    );
  }
}

export function isCheckpointSource(x: unknown): x is CheckpointSource {
  const s = x as Partial<CheckpointSource> | null;
  return typeof s === 'object' && s !== null && typeof s.readBytes === 'function' && typeof s.readText === 'function';
}

function isBlobList(x: unknown): x is Iterable<NamedBlob> | ArrayLike<NamedBlob> {
  if (typeof x !== 'object' || x === null) return false;
  const items = Symbol.iterator in x ? [...(x as Iterable<unknown>)] : Array.from(x as ArrayLike<unknown>);
  return items.every((f) => typeof (f as NamedBlob)?.name === 'string' && typeof (f as NamedBlob)?.arrayBuffer === 'function');
}

/** A URL for a string in a browser: absolute, or relative to the page. */
function browserUrl(location: string): string {
  try {
    return new URL(location, baseHref()).href;
  } catch {
    throw new CheckpointError(`${location}: not a URL (in a browser, load a Hub-style URL, '${BUNDLED_MODEL}', or Files)`);
  }
}

export async function resolveSource(source: ModelSource, options: ResolveOptions = {}): Promise<CheckpointSource> {
  const cache = options.cache;
  if (source instanceof URL) source = source.href;
  if (typeof source === 'string') {
    if (source === '') throw new CheckpointError('empty model source: pass a folder URL, a path (Node), Files, or "bundled"');
    if (/^https?:\/\//i.test(source)) return urlSource(source, { cache });
    if (isNodeRuntime()) {
      const node = await nodeEntry();
      // A local folder of that name wins over the Hub, as in transformers.
      if (isHubModelId(source) && !(await node.pathExists(source))) return urlSource(hubModelUrl(source, options.revision), { cache });
      return node.sourceFor(source === BUNDLED_MODEL ? node.BUNDLED_MODEL_DIR : source === BUNDLED_MLM_MODEL ? node.BUNDLED_MLM_MODEL_DIR : source);
    }
    if (isHubModelId(source)) return urlSource(hubModelUrl(source, options.revision), { cache });
    return urlSource(browserUrl(bundledModelPath(source) ?? source), { cache });
  }
  if (isCheckpointSource(source)) return source;
  if (isBlobList(source)) {
    const files = Symbol.iterator in source ? [...source] : Array.from(source);
    if (files.length === 0) throw new CheckpointError('no files selected: pick config.json, model.safetensors and vocab.txt or tokenizer.json');
    return filesSource(files);
  }
  throw new CheckpointError(`unsupported model source ${Object.prototype.toString.call(source)}: pass a URL, a path (Node), Files, "bundled" or a CheckpointSource`);
}
